#!/usr/bin/env bash
# Builds llama.cpp's own `llama-bench` and `llama-quantize` against the llama.cpp that
# llama-cpp-sys-2 vendors (the crate version in Cargo.lock), with the options its build script
# uses for rag: Release, static, OpenMP on, GGML_NATIVE off, no curl.
#
# The crate ships llama.cpp's library sources (ggml/, src/, common/) but only the READMEs of the
# tools. The two tool front ends (tools/llama-bench/*.cpp, tools/quantize/*.cpp, ~130 KB of
# llama.cpp's own code) are taken from the llama.cpp that the PyPI sdist of llama-cpp-python
# 0.3.36 vendors (sha256 pinned below), and compiled into a copy of the crate's tree: every
# kernel, graph and quantizer that runs is the crate's. See docs/benchmarks.md.
# Output: target/llama-tools/bin/{llama-bench,llama-quantize}. Idempotent; ~6 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/target/llama-tools
say() { printf 'build_llama_tools: %s\n' "$*" >&2; }
if [ -x "$out/bin/llama-bench" ] && [ -x "$out/bin/llama-quantize" ]; then
  say "already built in $out/bin"
  exit 0
fi
sdist=llama_cpp_python-0.3.36.tar.gz
sdist_sha=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
manifest=$(cargo metadata --format-version 1 --locked | python3 -c '
import json, sys
meta = json.load(sys.stdin)
print(next(p["manifest_path"] for p in meta["packages"] if p["name"] == "llama-cpp-sys-2"))')
crate_src="$(dirname "$manifest")/llama.cpp"
[ -f "$crate_src/CMakeLists.txt" ] || { say "no llama.cpp sources at $crate_src"; exit 1; }
mkdir -p "$out/download"
if ! echo "$sdist_sha  $out/download/$sdist" | sha256sum -c --quiet 2>/dev/null; then
  say "fetching $sdist from PyPI (tool front ends only)"
  py=python3
  [ -x .venv/bin/python ] && py=.venv/bin/python
  "$py" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
    --no-build-isolation -d "$out/download" llama-cpp-python==0.3.36 2>/dev/null \
    || "$py" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
    -d "$out/download" llama-cpp-python==0.3.36
  echo "$sdist_sha  $out/download/$sdist" | sha256sum -c --quiet
fi
rm -rf "$out/src"
cp -r "$crate_src" "$out/src"
chmod -R u+w "$out/src"
tar xzf "$out/download/$sdist" -C "$out/download" \
  llama_cpp_python-0.3.36/vendor/llama.cpp/tools/llama-bench \
  llama_cpp_python-0.3.36/vendor/llama.cpp/tools/quantize
for t in llama-bench quantize; do
  rm -rf "$out/src/tools/$t"
  cp -r "$out/download/llama_cpp_python-0.3.36/vendor/llama.cpp/tools/$t" "$out/src/tools/$t"
done
cat > "$out/src/tools/CMakeLists.txt" <<'CM'
find_package(Threads REQUIRED)
llama_add_compile_flags()
add_subdirectory(llama-bench)
add_subdirectory(quantize)
CM
say "configuring ($crate_src + the two tool front ends)"
cmake -S "$out/src" -B "$out/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DGGML_NATIVE=OFF -DGGML_OPENMP=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
  -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_APP=OFF >/dev/null
cmake --build "$out/build" -j "$(nproc)" --target llama-bench llama-quantize
mkdir -p "$out/bin"
cp "$out/build/bin/llama-bench" "$out/build/bin/llama-quantize" "$out/bin/"
say "built $out/bin/llama-bench and $out/bin/llama-quantize"
