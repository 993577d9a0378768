#!/usr/bin/env bash
# Incremental build times (docs/benchmarks.md, "Build times"): a one-line change in one file,
# then `cargo build` (the dev profile, the edit-compile loop), for each file named.
#
#   bash scripts/bench_build.sh [FILE...]
#
# Default files: the server's router and retrieval's entry point. Each file gets one line added
# (a hidden constant, which changes the crate's interface as most real edits do), is built, and
# is restored. A warm build runs first so that only the change is timed.
set -euo pipefail
cd "$(dirname "$0")/.."
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=()
  for f in crates/server/src/lib.rs crates/query/src/retrieve/mod.rs; do
    [ -f "$f" ] && files+=("$f")
  done
fi
cargo build --quiet
for f in "${files[@]}"; do
  cp "$f" "$f.bench-build"
  trap 'mv "$f.bench-build" "$f"' EXIT
  printf '\n/// Build probe.\n#[doc(hidden)]\npub const BENCH_BUILD_PROBE: u64 = %s;\n' "$(date +%s%N)" >>"$f"
  start=$(date +%s.%N)
  cargo build --quiet
  end=$(date +%s.%N)
  mv "$f.bench-build" "$f"
  trap - EXIT
  awk -v f="$f" -v a="$start" -v b="$end" 'BEGIN { printf "%-45s %6.1f s\n", f, b - a }'
done
cargo build --quiet
