#!/usr/bin/env bash
# Set up, then run every check CI runs: formatting, clippy with warnings as errors, all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# llama.cpp's own llama-server, for the remote-model tests (about 5 minutes on 2 cores, once).
TARGETS=llama-server bash scripts/build_llama_tools.sh
cargo fmt --all --check
cargo clippy --release --workspace --all-targets -- -D warnings
cargo test --release --workspace
# The Debian package installed and used in a clean debootstrapped Debian root (about 5 minutes;
# needs root for debootstrap and chroot).
if [ "$(id -u)" -eq 0 ]; then
  bash scripts/test_deb.sh
else
  echo "test: scripts/test_deb.sh not run: it needs root (debootstrap, chroot)" >&2
fi
