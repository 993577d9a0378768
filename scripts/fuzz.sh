#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_SECONDS each (default 600), seeded from corpora/ and
# tests/golden/, and prints the exec counts that docs/reliability.md records.
#
# Usage: bash scripts/fuzz.sh [TARGET...]      (default: all targets)
# Needs the nightly toolchain (cargo fuzz uses sanitizers) and `bash scripts/setup.sh` first
# (the chunker target reads the MiniLM tokenizer). Crashes land in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-600}
jobs=${FUZZ_JOBS:-1}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(load_html load_pdf load_docx load_jsonl load_text chunker)

seed() {  # seed <target> <files...>
  mkdir -p "fuzz/corpus/$1"
  shift_target=$1; shift
  for f in "$@"; do cp -f "$f" "fuzz/corpus/$shift_target/seed-$(basename "$f")"; done
}
seed load_html corpora/*.html
seed load_pdf corpora/*.pdf
seed load_docx corpora/*.docx
seed load_jsonl tests/golden/*.jsonl
printf '{"_id": "1", "title": "A title", "text": "Some text."}\n' > fuzz/corpus/load_jsonl/seed-beir.jsonl
seed load_text corpora/*.md corpora/*.txt corpora/*.html
mkdir -p fuzz/corpus/chunker
for f in corpora/*.md corpora/*.txt; do
  { printf '\x04'; cat "$f"; } > "fuzz/corpus/chunker/seed-$(basename "$f")"
done

cargo +nightly fuzz build --release "${targets[@]/#/}" 2>&1 | tail -3 || cargo +nightly fuzz build --release
mkdir -p fuzz/logs
for t in "${targets[@]}"; do
  echo "== $t: ${seconds}s"
  RAG_FUZZ_TOKENIZER_DIR="$PWD/models/all-MiniLM-L6-v2" \
    cargo +nightly fuzz run --release "$t" "fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -max_len=262144 \
      -jobs="$jobs" -workers="$jobs" -print_final_stats=1 2>&1 | tee "fuzz/logs/$t.log" | grep -E "^(stat::|Done|==|contained panic|SUMMARY|ERROR)" || true
done
echo
echo "target | execs | corpus | contained panics"
for t in "${targets[@]}"; do
  execs=$(grep -h "stat::number_of_executed_units" "fuzz/logs/$t.log" | awk '{s+=$2} END {print s+0}')
  units=$(ls "fuzz/corpus/$t" | wc -l)
  panics=$(grep -c "contained panic" "fuzz/logs/$t.log" || true)
  echo "$t | $execs | $units | $panics"
done
