#!/usr/bin/env bash
# Incremental build times (docs/benchmarks.md, "Build times"): `cargo xtask build-times`, which
# adds one line to each file named (default: the server's router and retrieval's entry point),
# times `cargo build`, and restores the file.
#
#   bash scripts/bench_build.sh [FILE...]
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo xtask build-times "$@"
