#!/usr/bin/env bash
# Set up, build, ingest the bundled corpora/ and answer a sample question with citations.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release
./target/release/rag ingest corpora
./target/release/rag ask "${1:-Where can visitors park and how much does it cost?}"
