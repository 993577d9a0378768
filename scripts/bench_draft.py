#!/usr/bin/env python3
"""Time to the draft and to the model's first token, as a kiosk visitor feels them
(docs/benchmarks.md, "First words").

Starts `rag serve` on loopback with MODEL (a GGUF; random-weight test files are allowed here)
over an index of corpora/ built with the default embedder, asks each golden question of
tests/golden/questions*.jsonl (the first N of each file) over `/v1/ask` with `"stream": true`,
and times, from the moment the request is sent: the `draft` event (the sources' own sentences,
quoted), the first `token` event (the model's first words), and the `done` event. The model
writes at most 8 tokens: only the first one is measured. Prints one line per question and the
medians, and writes the records as JSON to target/bench-draft/results.json.

Usage: bench_draft.py MODEL [N]   (N: questions per golden file, default 5)
"""

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "bench-draft"
RAG = ROOT / "target" / "release" / "rag"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(port, question):
    """Times of draft, first token and done (seconds from sending), and the done payload."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    body = json.dumps({"question": question, "stream": True, "max_tokens": 8})
    t0 = time.perf_counter()
    conn.request("POST", "/v1/ask", body, {"content-type": "application/json", "accept": "text/event-stream"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise SystemExit(f"{question!r}: HTTP {resp.status} {resp.read()[:300]!r}")
    seen = {}
    done = None
    name, data = "message", []
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.decode("utf-8").rstrip("\n")
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
        elif line == "":
            if data:
                seen.setdefault(name, time.perf_counter() - t0)
                if name == "done":
                    done = json.loads("\n".join(data))
            name, data = "message", []
    conn.close()
    return seen.get("draft"), seen.get("token"), seen.get("done"), done


def main():
    model = Path(sys.argv[1]).resolve()
    per_file = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    OUT.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, RAG_INDEX=str(OUT / "index"), RAG_ALLOW_TEST_MODEL="1")
    if not (OUT / "index" / "manifest.json").exists():
        subprocess.run([str(RAG), "ingest", "corpora", "--json"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    port = free_port()
    server = subprocess.Popen([str(RAG), "serve", "--addr", f"127.0.0.1:{port}", "--model", str(model)],
                              cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise SystemExit("the server did not become ready")
            time.sleep(0.5)
        questions = []
        for f in sorted((ROOT / "tests" / "golden").glob("questions*.jsonl")):
            lines = [json.loads(l) for l in f.read_text(encoding="utf-8").splitlines() if l.strip()]
            questions += [q["question"] for q in lines[:per_file]]
        ask(port, questions[0])  # warm-up: the model's system-prompt state, page cache
        records = []
        for q in questions:
            draft, token, end, done = ask(port, q)
            g = (done or {}).get("generation") or {}
            r = {"question": q, "draft_s": draft, "first_token_s": token, "done_s": end,
                 "mode": (done or {}).get("mode"), "prompt_tokens": g.get("prompt_tokens"),
                 "sources": len((done or {}).get("sources") or []),
                 "server_draft_ms": ((done or {}).get("timings_ms") or {}).get("draft")}
            records.append(r)
            fmt = lambda x: "-" if x is None else f"{x:.2f}s"
            print(f"draft {fmt(draft)}  first token {fmt(token)}  prompt {r['prompt_tokens']} tokens, "
                  f"{r['sources']} sources  {q}", flush=True)
        (OUT / "results.json").write_text(json.dumps(records, ensure_ascii=False, indent=1))
        drafts = [r["draft_s"] for r in records if r["draft_s"] is not None]
        tokens = [r["first_token_s"] for r in records if r["first_token_s"] is not None]
        prompts = [r["prompt_tokens"] for r in records if r["prompt_tokens"]]
        print(f"{len(records)} questions: draft in {len(drafts)}, median {statistics.median(drafts):.3f}s, "
              f"max {max(drafts):.3f}s; first model token median {statistics.median(tokens):.2f}s, "
              f"max {max(tokens):.2f}s; prompt tokens median {statistics.median(prompts):.0f}")
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
