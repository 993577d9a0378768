#!/usr/bin/env bash
# Generation speed against llama.cpp's own llama-bench (docs/benchmarks.md, "Generation").
#   1. builds llama-bench and llama-quantize (scripts/build_llama_tools.sh)
#   2. writes a random-weight GGUF with the real Qwen3.5-0.8B shapes and the real Qwen 3.5
#      vocabulary (F16; make_gguf.py --vocab qwen, the 0.8b default) and quantizes it
#      with llama-quantize to Q4_K_M and Q8_0
#   3. ingests corpora/ into target/bench-generate/index (for the time-to-first-token question)
#   4. runs `rag bench` on each file: rag and llama-bench alternating, same threads and batches
# Results: target/bench-generate/<quant>.json. Needs ~3 GB disk; ~15 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/bench-generate
models=target/bench-models
threads=${THREADS:-$(nproc)}
question=${QUESTION:-"What are the visiting hours on the general wards?"}
mkdir -p "$out" "$models"
bash scripts/build_llama_tools.sh
cargo build --release --quiet
f16=$models/rag-bench-qwen35-0.8b-qwenvocab-f16.gguf
[ -f "$f16" ] || .venv/bin/python scripts/make_gguf.py "$f16" --shape 0.8b --type f16
for q in ${QUANTS:-Q4_K_M Q8_0}; do
  file=$models/rag-bench-qwen35-0.8b-qwenvocab-$q.gguf
  [ -f "$file" ] || target/llama-tools/bin/llama-quantize "$f16" "$file" "$q" "$threads" >/dev/null 2>&1
done
export RAG_INDEX=$out/index
[ -f "$out/index/manifest.json" ] || target/release/rag ingest corpora --json >/dev/null
for q in ${QUANTS:-Q4_K_M Q8_0}; do
  file=$models/rag-bench-qwen35-0.8b-qwenvocab-$q.gguf
  echo "bench_generate: $file" >&2
  ask=()
  # Time to first token of the 20-chunk question (slow: see docs/benchmarks.md) on these only.
  case " ${TTFT_QUANTS-Q4_K_M} " in *" $q "*) ask=(--question "$question") ;; esac
  target/release/rag bench --model "$file" --threads "$threads" \
    --llama-bench target/llama-tools/bin/llama-bench "${ask[@]}" --json > "$out/$q.json"
  python3 - "$out/$q.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r.get("first_token") or {}
print(f"{sys.argv[1]}: prompt {r['rag']['prompt_tps']:.1f} vs {r['llama_bench']['prompt_tps']:.1f} tok/s (ratio {r['prompt_ratio']:.3f}), "
      f"generation {r['rag']['gen_tps']:.2f} vs {r['llama_bench']['gen_tps']:.2f} tok/s (ratio {r['gen_ratio']:.3f}), "
      f"RSS {r['rss_bytes']/1e6:.0f} MB = {r['rss_over_gguf']:.2f} x GGUF, "
      + (f"first token {t['with_reuse_ms']:.0f} ms with / {t['without_reuse_ms']:.0f} ms without the saved prefix" if t else "no first-token run"))
PY
done
