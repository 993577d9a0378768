#!/usr/bin/env bash
# Generation speed against llama.cpp's own llama-bench (docs/benchmarks.md, "Generation").
#   1. builds llama-bench and llama-quantize (scripts/build_llama_tools.sh)
#   2. writes a random-weight GGUF with Qwen3.5 shapes (SHAPE=0.8b, 2b or 4b; 0.8b by default)
#      and the real Qwen 3.5 vocabulary (F16; make_gguf.py --vocab qwen) and quantizes it
#      with llama-quantize to Q4_K_M and Q8_0 (QUANTS)
#   3. ingests corpora/ into target/bench-generate/index (for the time-to-first-token question)
#   4. per file: a STREAM-style copy (scripts/stream_copy.c, same threads) for the machine's
#      memory bandwidth, then `rag bench`: rag and llama-bench alternating, same threads and
#      batches, both generating after the prompt (llama-bench's tg at -d <prompt>); decode is
#      compared with the bandwidth ceiling (bandwidth / bytes read per token)
# ROUNDS and REPS (2 and 3) set how many alternating rounds and repetitions each engine runs.
# Results: target/bench-generate/<shape>-<quant>.json. 0.8b: ~3 GB disk, ~15 min on 2 cores;
# 4b: ~12 GB disk and about an hour.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/bench-generate
models=target/bench-models
threads=${THREADS:-$(nproc)}
question=${QUESTION:-"What are the visiting hours on the general wards?"}
mkdir -p "$out" "$models"
bash scripts/build_llama_tools.sh
cargo build --release --quiet
shape=${SHAPE:-0.8b}
cc -O3 -march=native -fopenmp scripts/stream_copy.c -o target/stream_copy
f16=$models/rag-bench-qwen35-$shape-qwenvocab-f16.gguf
[ -f "$f16" ] || .venv/bin/python scripts/make_gguf.py "$f16" --shape "$shape" --vocab qwen --type f16
for q in ${QUANTS:-Q4_K_M Q8_0}; do
  file=$models/rag-bench-qwen35-$shape-qwenvocab-$q.gguf
  [ -f "$file" ] || target/llama-tools/bin/llama-quantize "$f16" "$file" "$q" "$threads" >/dev/null 2>&1
done
export RAG_INDEX=$out/index
[ -f "$out/index/manifest.json" ] || target/release/rag ingest corpora --json >/dev/null
for q in ${QUANTS:-Q4_K_M Q8_0}; do
  file=$models/rag-bench-qwen35-$shape-qwenvocab-$q.gguf
  result=$out/$shape-$q.json
  echo "bench_generate: $file" >&2
  OMP_NUM_THREADS=$threads target/stream_copy > "$out/$shape-$q.stream.json"
  ask=()
  # Time to first token of the 20-chunk question (slow: see docs/benchmarks.md) on these only.
  case " ${TTFT_QUANTS-Q4_K_M} " in *" $q "*) ask=(--question "$question") ;; esac
  target/release/rag bench --model "$file" --threads "$threads" \
    --rounds "${ROUNDS:-2}" --reps "${REPS:-3}" \
    --llama-bench target/llama-tools/bin/llama-bench "${ask[@]}" --json > "$result"
  .venv/bin/python - "$result" "$out/$shape-$q.stream.json" "$file" <<'PY'
import json, sys
import gguf
r = json.load(open(sys.argv[1]))
stream = json.load(open(sys.argv[2]))
# Bytes read per generated token: every weight once, except the token embedding table when a
# separate output matrix exists (decode then reads one row of it).
tensors = {t.name: int(t.n_bytes) for t in gguf.GGUFReader(sys.argv[3]).tensors}
per_token = sum(tensors.values()) - (tensors.get("token_embd.weight", 0) if "output.weight" in tensors else 0)
ceiling = stream["copy_gbps"] * 1e9 / per_token
r["bandwidth"] = {"copy_gbps": stream["copy_gbps"], "read_gbps": stream["read_gbps"],
                  "bytes_per_token": per_token, "ceiling_tps": ceiling,
                  "rag_over_ceiling": r["rag"]["gen_tps"] / ceiling,
                  "llama_bench_over_ceiling": r["llama_bench"]["gen_tps"] / ceiling}
json.dump(r, open(sys.argv[1], "w"), indent=2)
t = r.get("first_token") or {}
b = r["bandwidth"]
print(f"{sys.argv[1]}: bandwidth {b['copy_gbps']:.1f} GB/s copy ({b['read_gbps']:.1f} read), {per_token/1e6:.0f} MB a token: "
      f"ceiling {ceiling:.1f} tok/s, rag {b['rag_over_ceiling']:.3f} and llama-bench {b['llama_bench_over_ceiling']:.3f} of it")
print(f"{sys.argv[1]}: prompt {r['rag']['prompt_tps']:.1f} vs {r['llama_bench']['prompt_tps']:.1f} tok/s (ratio {r['prompt_ratio']:.3f}), "
      f"generation after the prompt {r['rag']['gen_tps']:.2f} vs {r['llama_bench']['gen_tps']:.2f} tok/s (ratio {r['gen_ratio']:.3f}; "
      f"llama-bench from an empty cache {r['llama_bench_gen_empty_tps']:.2f}), "
      f"RSS {r['rss_bytes']/1e6:.0f} MB = {r['rss_over_gguf']:.2f} x GGUF, "
      + (f"first token {t['with_reuse_ms']:.0f} ms with / {t['without_reuse_ms']:.0f} ms without the saved prefix" if t else "no first-token run"))
PY
done
