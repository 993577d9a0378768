#!/usr/bin/env bash
# The image's smoke test, run inside the image's own root filesystem as its user, with no network
# (docker/build-local.sh runs it through podman mount + chroot in a namespace with only a
# loopback interface). Ingests the corpora copied to /tmp/smoke/corpora, answers a question in
# extractive mode with a citation, then starts `rag serve` and runs the image's HEALTHCHECK.
set -euo pipefail
say() { printf 'smoke: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
cd /app
interfaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')
say "$(rag --version) as $(id -un) (uid $(id -u)); network interfaces: $interfaces"
[ "$interfaces" = "lo " ] || fail "the smoke test must run with loopback only, not: $interfaces"
rag ingest /tmp/smoke/corpora
rag status
question="Where can visitors park and how much does it cost?"
answer=$(rag ask --extractive --json "$question")
printf '%s\n' "$answer" > /tmp/smoke/answer.json
grep -q '"mode": "extractive"' <<<"$answer" || fail "the answer is not extractive: $answer"
# The parking page answers it: the answer must cite it, and the citation must support the text.
grep -q '"answer": ".*2\.50.*\[1\]' <<<"$answer" \
  && grep -q '"path": "/tmp/smoke/corpora/parking-and-transport.md"' <<<"$answer" \
  && grep -q '"supported": true' <<<"$answer" \
  || fail "the answer does not cite the parking page: $answer"
rag ask --extractive "$question"
RAG_ADDR=127.0.0.1:${SMOKE_PORT:-8080} rag serve > /tmp/smoke/serve.log 2>&1 &
server=$!
for _ in $(seq 1 100); do
  if RAG_ADDR=127.0.0.1:${SMOKE_PORT:-8080} bash -c "$HEALTHCHECK_CMD"; then
    say "HEALTHCHECK passes: /readyz answers 200"
    kill -TERM "$server"
    wait "$server" || fail "rag serve exited with $? on SIGTERM"
    say "passed"
    exit 0
  fi
  kill -0 "$server" 2>/dev/null || { cat /tmp/smoke/serve.log >&2; fail "rag serve exited"; }
  sleep 0.2
done
cat /tmp/smoke/serve.log >&2
fail "the HEALTHCHECK never passed"
