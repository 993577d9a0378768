#!/usr/bin/env bash
# Set up, then run every check CI runs: formatting, clippy with warnings as errors, all tests.
# Each step's time is printed at the end (docs/benchmarks.md, "Clean build and CI").
set -euo pipefail
cd "$(dirname "$0")/.."
times=()
step() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  times+=("$(printf '%-34s %5d s' "$name" $((SECONDS - start)))")
}
step "set-up" bash scripts/setup.sh
# llama.cpp's own llama-server, for the remote-model tests (about 5 minutes on 2 cores, once).
step "llama-server" env TARGETS=llama-server bash scripts/build_llama_tools.sh
step "fmt" cargo fmt --all --check
step "clippy (builds every crate)" cargo clippy --release --workspace --all-targets -- -D warnings
# The fast tier first (unit tests beside the code in every crate, and the xtask's), then the
# end-to-end tier (the rag binary's own tests run with it).
step "unit tests (build and run)" cargo test --release --workspace --exclude rag --lib --bins
step "end-to-end tests (build and run)" cargo test --release --bins --test e2e
# The Debian package installed and used in a clean debootstrapped Debian root (about 5 minutes;
# needs root for debootstrap and chroot).
if [ "$(id -u)" -eq 0 ]; then
  step "Debian package" bash scripts/test_deb.sh
else
  echo "test: scripts/test_deb.sh not run: it needs root (debootstrap, chroot)" >&2
fi
printf 'test: %s\n' "${times[@]}" >&2
