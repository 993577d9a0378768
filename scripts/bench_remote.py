#!/usr/bin/env python3
"""Remote generation against llama.cpp's own llama-server (docs/benchmarks.md, "Remote models").

Run from the repository root: `.venv/bin/python scripts/bench_remote.py [ROUNDS]` (after
scripts/build_llama_tools.sh and scripts/bench_generate.sh have built llama-server and the
random-weight 0.8B-shaped Q4_K_M file).

1. Overhead: one llama-server (2 threads). For each of ROUNDS rounds, the same question twice:
   through `rag serve` with the server as its remote model (`timings_ms.generate`: the remote
   call as rag makes it, streaming, parsing, filters), and straight to the server with the exact
   messages `rag prompt` prints and the same sampling and seed (wall time of the streamed call).
   Both hit the server's prompt cache alike after the first call, which is not counted.
2. Pools: 8 questions, 4 at a time, through `rag serve` with one server (2 threads, 2 slots)
   and with two servers (1 thread and 2 slots each): generated tokens / wall time.
Prints JSON; random weights never stop early, so every answer is max_tokens long.
3. Failover: two servers (1 thread, 2 slots each); one is killed 8 s after 4 questions were
   sent, then 4 more are asked: every question must be answered (200), those streaming from the
   killed server with stop_reason backend_lost.
ONLY=overhead, ONLY=pool or ONLY=failover runs one part.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "target/bench-models/rag-bench-qwen35-0.8b-qwenvocab-Q4_K_M.gguf")
SERVER = os.path.join(ROOT, "target/llama-tools/bin/llama-server")
RAG = os.path.join(ROOT, "target/release/rag")
MAX_TOKENS = 64
SAMPLING = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "min_p": 0.05,
            "presence_penalty": 1.5, "seed": 42}
QUESTIONS = [
    "What are the visiting hours on the general wards?",
    "How much does it cost to park for a whole day?",
    "Which buses go to the hospital?",
    "Is the pharmacy open on Sunday?",
    "Can I bring flowers to the intensive care unit?",
    "Where do I pick up my test results?",
    "How do I get a copy of my medical records?",
    "Is there free wifi for patients?",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body, timeout=600):
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(req, timeout=timeout)


def start_llama_server(threads, slots):
    port = free_port()
    proc = subprocess.Popen(
        [SERVER, "-m", MODEL, "-t", str(threads), "-c", str(4096 * slots), "-np", str(slots),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if urllib.request.urlopen(url + "/health", timeout=1).status == 200:
                return proc, url + "/v1"
        except Exception:
            time.sleep(0.2)
    proc.kill()
    sys.exit("llama-server did not start")


def start_rag(workdir, urls):
    cfg = os.path.join(workdir, "rag.toml")
    sampling = "\n".join(f"{k} = {v}" for k, v in SAMPLING.items())
    with open(cfg, "w") as f:
        f.write(f'index = "{workdir}/index"\n[llm]\nmodels = ["remote:bench"]\n'
                f"max_tokens = {MAX_TOKENS}\n"
                f"[llm.remote.bench]\nurls = {json.dumps(urls)}\nmodel = \"bench\"\ncontext = 4096\n"
                f"[llm.sampling]\n{sampling}\n[serve.shed]\nenabled = false\n")
    if not os.path.exists(os.path.join(workdir, "index/manifest.json")):
        subprocess.run([RAG, "--config", cfg, "ingest", "corpora"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    proc = subprocess.Popen([RAG, "--config", cfg, "serve", "--addr", "127.0.0.1:0"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if line.startswith("rag: serving on http://"):
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, cfg, "http://" + line.split()[3].removeprefix("http://")
    sys.exit("rag serve did not start")


def rag_ask(base, question):
    try:
        with post(base + "/v1/ask", {"question": question}) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        message = f"rag answered HTTP {e.code}: {e.read().decode()}"
        print(message, file=sys.stderr)
        raise SystemExit(message)


def direct(url, messages):
    body = {"model": "bench", "messages": messages, "stream": True,
            "stream_options": {"include_usage": True}, "max_tokens": MAX_TOKENS,
            "chat_template_kwargs": {"enable_thinking": False}, **SAMPLING}
    t = time.perf_counter()
    tokens = 0
    with post(url + "/chat/completions", body) as r:
        for raw in r:
            line = raw.decode().strip()
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                chunk = json.loads(line[5:])
                if chunk.get("usage"):
                    tokens = chunk["usage"]["completion_tokens"]
    return (time.perf_counter() - t) * 1e3, tokens


def overhead(workdir, rounds):
    server, url = start_llama_server(2, 1)
    rag, cfg, base = start_rag(workdir, [url])
    try:
        q = QUESTIONS[0]
        messages = json.loads(subprocess.run([RAG, "--config", cfg, "prompt", q], cwd=ROOT,
                                             check=True, capture_output=True).stdout)
        rag_ask(base, q)  # warm: the server's prompt cache, both sides
        direct(url, messages)
        ours, theirs = [], []
        for _ in range(rounds):
            a = rag_ask(base, q)
            ours.append((a["timings_ms"]["generate"], a["generation"]["generated_tokens"]))
            theirs.append(direct(url, messages))
        rag_ms = sum(m for m, _ in ours) / len(ours)
        direct_ms = sum(m for m, _ in theirs) / len(theirs)
        return {"rounds": rounds, "rag_generate_ms": [m for m, _ in ours],
                "direct_ms": [m for m, _ in theirs],
                "tokens": [n for _, n in ours] + [n for _, n in theirs],
                "rag_mean_ms": rag_ms, "direct_mean_ms": direct_ms,
                "speed_ratio": direct_ms / rag_ms}
    finally:
        rag.kill()
        server.kill()


def pool(workdir, backends):
    threads = 2 // backends
    servers = [start_llama_server(threads, 2) for _ in range(backends)]
    rag, _, base = start_rag(workdir, [u for _, u in servers])
    try:
        rag_ask(base, "Where is the main entrance?")  # warm
        results = []
        lock = threading.Lock()
        todo = list(QUESTIONS)

        def worker():
            while True:
                with lock:
                    if not todo:
                        return
                    q = todo.pop(0)
                a = rag_ask(base, q)
                with lock:
                    results.append(a["generation"]["generated_tokens"] if a.get("generation") else 0)

        t = time.perf_counter()
        workers = [threading.Thread(target=worker) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        wall = time.perf_counter() - t
        return {"backends": backends, "threads_each": threads, "questions": len(results),
                "tokens": sum(results), "wall_s": wall, "tokens_per_s": sum(results) / wall}
    finally:
        rag.kill()
        for p, _ in servers:
            p.kill()


def failover(workdir):
    """Two servers; one is killed while 4 questions are in flight, then 4 more are asked."""
    servers = [start_llama_server(1, 2) for _ in range(2)]
    rag, _, base = start_rag(workdir, [u for _, u in servers])
    try:
        answers = []
        lock = threading.Lock()

        def ask(q):
            a = rag_ask(base, q)
            with lock:
                answers.append({"question": q, "stop_reason": a.get("stop_reason"),
                                "attempts": [t["failures"] for t in a["routing"]["attempts"]]})

        first = [threading.Thread(target=ask, args=(q,)) for q in QUESTIONS[:4]]
        for t in first:
            t.start()
        time.sleep(8)
        servers[0][0].kill()
        for t in first:
            t.join()
        later = [threading.Thread(target=ask, args=(q,)) for q in QUESTIONS[4:]]
        for t in later:
            t.start()
        for t in later:
            t.join()
        with urllib.request.urlopen(base + "/readyz") as r:
            ready = json.load(r)
        return {"answered": len(answers), "asked": len(QUESTIONS),
                "stop_reasons": [a["stop_reason"] for a in answers],
                "backends": ready["remote"][0]["backends"]}
    finally:
        rag.kill()
        for p, _ in servers:
            p.kill()


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    for path in (MODEL, SERVER, RAG):
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: run scripts/build_llama_tools.sh, "
                     "SHAPE=0.8b QUANTS=Q4_K_M scripts/bench_generate.sh and cargo build --release")
    os.makedirs(os.path.join(ROOT, "target/bench-remote"), exist_ok=True)
    workdir = os.path.join(ROOT, "target/bench-remote")
    only = os.environ.get("ONLY", "overhead pool failover")
    report = {}
    if "overhead" in only:
        report["overhead"] = overhead(workdir, rounds)
    if "pool" in only:
        report["pool"] = [pool(workdir, 1), pool(workdir, 2)]
    if "failover" in only:
        report["failover"] = failover(workdir)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
