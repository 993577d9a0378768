#!/usr/bin/env bash
# Set up, then run every check CI runs: formatting, clippy with warnings as errors, all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --check
cargo clippy --release --all-targets -- -D warnings
cargo test --release
