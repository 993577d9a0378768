#!/usr/bin/env bash
# Timings for the end-to-end slice, printed as markdown rows for docs/benchmarks.md:
# ingest of corpora/ into a fresh index, and `rag ask` stage timings (retrieval, extractive answer,
# tiny-GGUF generation) averaged over the golden questions. Needs `bash scripts/setup.sh` and a
# release build. Usage: scripts/bench_slice.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
rag=./target/release/rag
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export RAG_INDEX="$work/index"

echo "| what | runs | mean | min | max |"
echo "|---|---|---|---|---|"
times=()
for _ in $(seq "$runs"); do
  rm -rf "$RAG_INDEX"
  start=$(date +%s%N)
  $rag ingest corpora >/dev/null
  end=$(date +%s%N)
  times+=("$(( (end - start) / 1000000 ))")
done
printf '%s\n' "${times[@]}" | awk -v runs="$runs" '{s+=$1; if(min==""||$1<min)min=$1; if($1>max)max=$1} END {printf "| `rag ingest corpora` (fresh index, whole process) | %d | %.0f ms | %.0f ms | %.0f ms |\n", runs, s/NR, min, max}'

start=$(date +%s%N)
$rag ingest corpora >/dev/null
end=$(date +%s%N)
echo "| \`rag ingest corpora\` again (all unchanged) | 1 | $(( (end - start) / 1000000 )) ms | | |"

questions=$(.venv/bin/python -c 'import json; [print(json.loads(l)["question"]) for l in open("tests/golden/questions.jsonl") if l.strip()]')
summarise() { # label, field; reads JSON answers on stdin, one per line
  .venv/bin/python -c '
import json, sys, statistics
label, field = sys.argv[1], sys.argv[2]
v = [json.loads(l)["timings_ms"][field] for l in sys.stdin if l.strip()]
print(f"| {label} | {len(v)} | {statistics.mean(v):.1f} ms | {min(v):.1f} ms | {max(v):.1f} ms |")
' "$1" "$2"
}
ext="$work/extractive.jsonl"; gen="$work/generated.jsonl"
# `rag ask` exits 3 on "not found": an answer like any other here.
answered() { "$@" || [ $? -eq 3 ]; }
while IFS= read -r q; do
  answered $rag ask --json --extractive "$q" | tr -d '\n' >> "$ext"; echo >> "$ext"
  RAG_ALLOW_TEST_MODEL=1 answered $rag ask --json --model tests/fixtures/tiny-qwen35.gguf "$q" | tr -d '\n' >> "$gen"; echo >> "$gen"
done <<< "$questions"
summarise "retrieval (hybrid, incl. query embedding), per question" retrieve < "$ext"
summarise "extractive answer, per question" generate < "$ext"
summarise "tiny random-weight GGUF: prompt + up to 512 generated tokens" generate < "$gen"
start=$(date +%s%N)
$rag ask --extractive "Where should visitors park their car?" >/dev/null
end=$(date +%s%N)
echo "| \`rag ask --extractive\` whole process (loads ONNX Runtime, embedder, index) | 1 | $(( (end - start) / 1000000 )) ms | | |"
