#!/usr/bin/env bash
# Load on loopback (issue 6), results as JSON lines in target/bench-serve/results.jsonl:
#   1. /v1/search at 16 and 64 clients: requests/s, p50, p99 (no model loaded)
#   2. /v1/ask with the tiny test GGUF at 16 and 64 clients: only 200 or 503
#   3. a soak of /v1/ask at 16 clients for SOAK_SECONDS (300), server RSS sampled every 10 s
#   4. generation against llama.cpp's llama-server (scripts/build_llama_tools.sh) on the same
#      random-weight Qwen3.5-0.8B-shaped GGUF (scripts/bench_generate.sh makes it) and the same
#      chat messages (`rag prompt`): aggregate generated tokens/s at 1, 4 and 8 concurrent
#      requests, each server with as many slots as requests.
# Env: LOAD_SECONDS (20), SOAK_SECONDS (300), GEN_MODEL, GEN_TOKENS (64), PARTS (1 2 3 4).
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/bench-serve
mkdir -p "$out"
results=$out/results.jsonl
load_s=${LOAD_SECONDS:-20}
soak_s=${SOAK_SECONDS:-300}
gen_tokens=${GEN_TOKENS:-64}
model=${GEN_MODEL:-target/bench-models/rag-bench-qwen35-0.8b-qwenvocab-Q4_K_M.gguf}
parts=${PARTS:-1 2 3 4}
say() { printf 'bench_serve: %s\n' "$*" >&2; }

cargo build --release -q
cargo build --release -q -p xtask
loadgen=target/release/xtask
rag=target/release/rag

cat > "$out/rag.toml" <<TOML
index = "$PWD/$out/index"
[llm]
models_dir = "$PWD/$out/no-models"
allow_test_model = true
TOML
mkdir -p "$out/no-models"
[ -f "$out/index/manifest.json" ] || $rag --config "$out/rag.toml" ingest corpora >/dev/null

server_pid=""
stop_server() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; server_pid=""; }
trap stop_server EXIT
wait_ready() {
  for _ in $(seq 1 600); do
    curl -sf "http://$1/readyz" >/dev/null 2>&1 && return 0
    curl -sf "http://$1/health" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  say "server at $1 did not become ready"; exit 1
}
record() { python3 -c 'import json,sys; d=json.loads(sys.argv[2]); d["case"]=sys.argv[1]; print(json.dumps(d))' "$1" "$2" | tee -a "$results"; }

addr=127.0.0.1:18080
search='{"question": "Where should visitors park their car?", "top_k": 20}'
ask='{"question": "Which buses go to the hospital?", "max_tokens": 32}'

if [[ " $parts " == *" 1 "* ]]; then
  say "1. /v1/search (no model)"
  RUST_LOG=warn $rag --config "$out/rag.toml" serve --addr $addr 2>"$out/serve-search.log" & server_pid=$!
  wait_ready $addr
  for c in 16 64; do record "search" "$("$loadgen" load $addr /v1/search "$search" $c "$load_s")"; done
  stop_server
fi

if [[ " $parts " == *" 2 "* || " $parts " == *" 3 "* ]]; then
  RUST_LOG=warn $rag --config "$out/rag.toml" serve --addr $addr --model tests/fixtures/tiny-qwen35.gguf \
    2>"$out/serve-ask.log" & server_pid=$!
  wait_ready $addr
  if [[ " $parts " == *" 2 "* ]]; then
    say "2. /v1/ask with the tiny model"
    for c in 16 64; do record "ask-tiny" "$("$loadgen" load $addr /v1/ask "$ask" $c "$load_s")"; done
  fi
  if [[ " $parts " == *" 3 "* ]]; then
    say "3. soak: /v1/ask at 16 clients for ${soak_s}s, RSS every 10 s"
    "$loadgen" load $addr /v1/ask "$ask" 16 "$soak_s" > "$out/soak.json" &
    gen=$!
    rss=()
    while kill -0 $gen 2>/dev/null; do
      rss+=("$(ps -o rss= -p "$server_pid" | tr -d ' ')")
      sleep 10
    done
    wait $gen
    record "soak" "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["rss_kib"]=[int(x) for x in sys.argv[2:] if x]; print(json.dumps(d))' "$out/soak.json" "${rss[@]}")"
  fi
  stop_server
fi

if [[ " $parts " == *" 4 "* ]]; then
  [ -f "$model" ] || { say "no $model: run scripts/bench_generate.sh first"; exit 1; }
  [ -x target/llama-tools/bin/llama-server ] || bash scripts/build_llama_tools.sh
  say "4. generation vs llama-server on $(basename "$model"), $gen_tokens tokens per answer"
  # The same chat messages for both: rag's own prompt for 8 golden questions (1 source each),
  # and a 9th, outside the measured set, to warm both servers up (system prompt state).
  bodies=$out/chat-bodies.jsonl
  : > "$bodies"
  python3 - "$gen_tokens" <<'PY' > "$out/questions.txt"
import json
qs = [json.loads(l) for l in open("tests/golden/questions.jsonl")]
qs = [q["question"] for q in qs if not q.get("unanswerable")][:9]
print("\n".join(qs))
PY
  while IFS= read -r q; do
    msgs=$($rag --config "$out/rag.toml" prompt --top-k 1 "$q")
    python3 -c 'import json,sys; print(json.dumps({"question": sys.argv[1], "messages": json.loads(sys.argv[2])}))' "$q" "$msgs" >> "$out/prompts.jsonl.tmp"
  done < "$out/questions.txt"
  mv "$out/prompts.jsonl.tmp" "$out/prompts.jsonl"
  sampling='"temperature": 0.7, "top_p": 0.8, "top_k": 20, "min_p": 0.05, "presence_penalty": 1.5'
  # rag: the question (it retrieves and builds the same messages); llama-server: the messages.
  python3 - "$gen_tokens" "$out/prompts.jsonl" "$out/rag-bodies.jsonl" "$out/llama-bodies.jsonl" <<'PY'
import json, sys
n, src, rag_out, llama_out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
common = {"max_tokens": n, "temperature": 0.7, "top_p": 0.8, "presence_penalty": 1.5, "seed": 7}
with open(rag_out, "w") as r, open(llama_out, "w") as l:
    for line in open(src):
        p = json.loads(line)
        r.write(json.dumps({"messages": [{"role": "user", "content": p["question"]}], **common}) + "\n")
        l.write(json.dumps({"messages": p["messages"], "top_k": 20, "min_p": 0.05,
                            "chat_template_kwargs": {"enable_thinking": False}, **common}) + "\n")
PY
  for who in rag llama; do
    tail -n 1 "$out/$who-bodies.jsonl" > "$out/$who-warm.jsonl"
    head -n 8 "$out/$who-bodies.jsonl" > "$out/$who-bodies.tmp" && mv "$out/$who-bodies.tmp" "$out/$who-bodies.jsonl"
  done
  ctx=4096
  for n in 1 4 8; do
    per=$(( n == 1 ? 4 : 2 ))
    cat > "$out/rag-gen.toml" <<TOML
index = "$PWD/$out/index"
[retrieval]
top_k = 1
[llm]
context = $ctx
max_tokens = $gen_tokens
loop_repeats = 0
threads = 2
batch_threads = 2
allow_test_model = true
slots = $n
queue = 16
TOML
    RUST_LOG=warn $rag --config "$out/rag-gen.toml" serve --addr $addr --model "$model" 2>"$out/serve-gen-$n.log" & server_pid=$!
    wait_ready $addr
    "$loadgen" chat $addr "$out/rag-warm.jsonl" 1 1 >/dev/null   # warm-up: saves the system prompt state
    record "gen-rag-$n" "$("$loadgen" chat $addr "$out/rag-bodies.jsonl" $n $per)"
    stop_server
    target/llama-tools/bin/llama-server -m "$model" -np $n -c $((ctx * n)) -t 2 -tb 2 -b 512 -ub 512 \
      --host 127.0.0.1 --port ${addr##*:} --no-webui --no-kv-unified > "$out/llama-server-$n.log" 2>&1 & server_pid=$!
    wait_ready $addr
    "$loadgen" chat $addr "$out/llama-warm.jsonl" 1 1 >/dev/null
    record "gen-llama-server-$n" "$("$loadgen" chat $addr "$out/llama-bodies.jsonl" $n $per)"
    stop_server
  done
fi
say "results in $results"
