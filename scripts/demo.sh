#!/usr/bin/env bash
# Set up, build, ingest the bundled corpora/ and answer a sample question with citations.
# With no GGUF in models/, it first tries `rag pull --profile auto` (the device profile's Qwen 3.5
# model from Hugging Face; RAG_PULL=0 skips it); offline, that fails at once and the answer
# quotes the sources instead (extractive).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release
if [ "${RAG_PULL:-1}" != 0 ] && [ -z "${RAG_MODEL:-}" ] && ! compgen -G "models/*.gguf" >/dev/null; then
  ./target/release/rag pull --profile auto \
    || echo "demo: no model pulled (offline?); answering from the sources' own sentences" >&2
fi
./target/release/rag ingest corpora
./target/release/rag ask "${1:-Where can visitors park and how much does it cost?}"
