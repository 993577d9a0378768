#!/usr/bin/env bash
# Crash harness, benchmark size: kills `rag ingest --prune` with SIGKILL at random moments
# (and aborts it at each commit step through RAG_CRASH_AT) over TRIALS trials (default 50),
# checking after each that the three stores agree document by document, nothing is doubled
# and `rag ask` works. Same code as the test suite's 3-trial run (tests/ingest.rs).
#
# Usage: bash scripts/bench_crash.sh [TRIALS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-50}
seed=${2:-$(date +%s)}
echo "crash harness: $trials trials, seed $seed"
RAG_CRASH_TRIALS=$trials RAG_CRASH_SEED=$seed \
  cargo test --release --test e2e sigkill_during_ingest -- --nocapture 2>&1 \
  | grep -E "^crash trial|^crash trials|test result|panicked"
