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
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(load_html load_pdf load_docx load_jsonl load_text load_table load_spreadsheet load_slides load_odt load_epub load_email load_rtf chunker)

seed() {  # seed <target> <files...>
  local target=$1; shift
  mkdir -p "fuzz/corpus/$target"
  for f in "$@"; do cp -f "$f" "fuzz/corpus/$target/seed-$(basename "$f")"; done
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

(cd fuzz && cargo +nightly fuzz build --release)
mkdir -p fuzz/logs
for t in "${targets[@]}"; do
  echo "== $t: ${seconds}s"
  # Targets without seed files of their format start from an empty corpus.
  mkdir -p "fuzz/corpus/$t"
  (cd fuzz && RAG_FUZZ_TOKENIZER_DIR="$PWD/../models/all-MiniLM-L6-v2" \
    cargo +nightly fuzz run --release "$t" "corpus/$t" -- \
      -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -max_len=262144 \
      -print_final_stats=1) > "fuzz/logs/$t.log" 2>&1 || echo "$t: exit $? (see fuzz/logs/$t.log)"
  grep -E "^(stat::number_of_executed_units|SUMMARY|ERROR)|contained panic" "fuzz/logs/$t.log" | head -20 || true
done
echo
echo "target | execs | corpus | contained panics"
for t in "${targets[@]}"; do
  execs=$(grep -h "stat::number_of_executed_units" "fuzz/logs/$t.log" | awk '{s+=$2} END {print s+0}')
  units=$(ls "fuzz/corpus/$t" | wc -l)
  panics=$(grep -c "contained panic" "fuzz/logs/$t.log" || true)
  echo "$t | $execs | $units | $panics"
done
