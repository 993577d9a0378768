#!/usr/bin/env bash
# Builds the Debian package target/debian/rag_<version>_amd64.deb with cargo-deb (installed
# into ~/.cargo/bin at a pinned version when missing): the release binary, ONNX Runtime and
# the exported embedders from scripts/setup.sh, the systemd units and /etc/rag/rag.toml
# (Cargo.toml, [package.metadata.deb]; docs/install.md). Prints the package's path.
set -euo pipefail
cd "$(dirname "$0")/.."
version=3.8.0
if ! cargo deb --version 2>/dev/null | grep -q "$version"; then
  echo "build_deb: installing cargo-deb $version" >&2
  cargo install --quiet --locked cargo-deb --version "$version"
fi
for f in runtime/onnxruntime/libonnxruntime.so models/multilingual-e5-small/model.onnx \
         models/all-MiniLM-L6-v2/model.onnx; do
  [ -e "$f" ] || { echo "build_deb: $f is missing: run scripts/setup.sh first" >&2; exit 1; }
done
cargo build --release --quiet
cargo deb --no-build --quiet 2>&1 >/dev/null | grep -v '^warning: .*license' >&2 || true
deb=$(ls -t target/debian/rag_*_amd64.deb | head -n 1)
echo "$deb"
