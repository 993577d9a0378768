#!/usr/bin/env bash
# Builds llama.cpp's own `llama-bench`, `llama-quantize` and `llama-server` against the llama.cpp that
# llama-cpp-sys-2 vendors (the crate version in Cargo.lock), with the options its build script
# uses for rag: Release, static, OpenMP on, GGML_NATIVE off, no curl.
#
# The crate ships llama.cpp's library sources (ggml/, src/, common/) but only the READMEs of the
# tools. The tool front ends (tools/llama-bench, tools/quantize, tools/server with the
# multimodal helper tools/mtmd it links, tools/ui with no web UI built, scripts/ui-assets.cmake)
# are taken from the llama.cpp that the PyPI sdist of llama-cpp-python 0.3.36 vendors (sha256
# pinned below), and compiled into a copy of the crate's tree: every kernel, graph and
# quantizer that runs is the crate's. One line of the server's MCP code calls a common/ helper
# the crate's tree lacks (fs_open_ifstream, a std::ifstream on POSIX) and is patched to call
# std::ifstream. See docs/benchmarks.md.
# Output: target/llama-tools/bin/{llama-bench,llama-quantize,llama-server}. Idempotent;
# ~15 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/target/llama-tools
say() { printf 'build_llama_tools: %s\n' "$*" >&2; }
# TARGETS picks some of them (scripts/test.sh builds llama-server alone for the remote tests).
targets=${TARGETS:-llama-bench llama-quantize llama-server}
missing=0
for t in $targets; do [ -x "$out/bin/$t" ] || missing=1; done
if [ "$missing" = 0 ]; then
  say "already built in $out/bin: $targets"
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
if ! echo "$sdist_sha  $out/download/$sdist" | sha256sum -c --quiet >/dev/null 2>&1; then
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
vendored=llama_cpp_python-0.3.36/vendor/llama.cpp
tools=(llama-bench quantize server mtmd ui)
tar xzf "$out/download/$sdist" -C "$out/download" "${tools[@]/#/$vendored/tools/}" \
  "$vendored/scripts/ui-assets.cmake"
for t in "${tools[@]}"; do
  rm -rf "$out/src/tools/$t"
  cp -r "$out/download/$vendored/tools/$t" "$out/src/tools/$t"
done
mkdir -p "$out/src/scripts"
cp "$out/download/$vendored/scripts/ui-assets.cmake" "$out/src/scripts/"
sed -i 's/fs_open_ifstream(\(params.mcp_servers_config\), std::ios::in)/std::ifstream(\1, std::ios::in)/' \
  "$out/src/tools/server/server-mcp.cpp"
cat > "$out/src/tools/CMakeLists.txt" <<'CM'
find_package(Threads REQUIRED)
llama_add_compile_flags()
add_subdirectory(llama-bench)
add_subdirectory(quantize)
add_subdirectory(mtmd)
add_subdirectory(ui)
add_subdirectory(server)
CM
say "configuring ($crate_src + the two tool front ends)"
cmake -S "$out/src" -B "$out/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DGGML_NATIVE=OFF -DGGML_OPENMP=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
  -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_APP=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF >/dev/null
# shellcheck disable=SC2086
cmake --build "$out/build" -j "$(nproc)" --target $targets
mkdir -p "$out/bin"
for t in $targets; do cp "$out/build/bin/$t" "$out/bin/"; done
say "built $targets in $out/bin"
