#!/usr/bin/env bash
# The Debian package on a clean Debian (issue 20; docs/install.md):
#   1. builds the package (scripts/build_deb.sh);
#   2. makes a minimal bookworm root with debootstrap (kept in target/deb-test/base.tar.zst for
#      the next run; REBASE=1 makes it again);
#   3. installs the package there with apt, which brings its dependencies, and checks what the
#      maintainer scripts made: the rag user, /var/lib/rag, /etc/rag/env with a token;
#   4. as the rag user with the packaged settings (RAG_CONFIG=/etc/rag/rag.toml): ingests the
#      packaged sample corpus and answers a question with citations;
#   5. as root from /, with no rag settings at all: `rag doctor` finds ONNX Runtime and the
#      embedder in /usr/lib/rag, and the index goes to ~/.local/share/rag;
#   6. `systemd-analyze verify` on the packaged units, inside that root.
# Needs root (debootstrap, chroot) and Debian's package registry. About 5 minutes, plus
# cargo-deb's build the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'test_deb: %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { say "needs root (debootstrap and chroot)"; exit 1; }
missing=()
for p in debootstrap zstd; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
deb=$(bash scripts/build_deb.sh)
say "package: $deb ($(du -h "$deb" | cut -f1))"
work=$PWD/target/deb-test
base=$work/base.tar.zst
mkdir -p "$work"
if [ "${REBASE:-0}" = 1 ] || [ ! -f "$base" ]; then
  say "debootstrap bookworm (minbase)"
  rm -rf "$work/base"
  debootstrap --variant=minbase bookworm "$work/base" http://deb.debian.org/debian \
    >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  tar -C "$work/base" -cf - . | zstd -q -T0 -o "$base.tmp" && mv "$base.tmp" "$base"
  rm -rf "$work/base"
fi
root=$work/root
rm -rf "$root"
mkdir -p "$root"
zstd -dc "$base" | tar -C "$root" -xf -
cp "$deb" "$root/tmp/rag.deb"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
cleanup() { umount -R "$root/dev" 2>/dev/null || true; umount "$root/proc" 2>/dev/null || true; }
trap cleanup EXIT
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }

say "apt install ./rag.deb"
in_root apt-get update -qq
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  /tmp/rag.deb systemd >"$work/apt.log" 2>&1 || { tail -30 "$work/apt.log" >&2; exit 1; }
in_root id rag >/dev/null
[ "$(in_root stat -c '%U %a' /var/lib/rag)" = "rag 750" ] || { say "/var/lib/rag is not rag's"; exit 1; }
in_root grep -Eq '^RAG_TOKENS=[0-9a-f]{48}$' /etc/rag/env || { say "/etc/rag/env has no token"; exit 1; }
[ "$(in_root stat -c '%U:%G %a' /etc/rag/env)" = "root:rag 640" ] || { say "/etc/rag/env is readable by others"; exit 1; }

say "ingest and ask as the rag user with /etc/rag/rag.toml"
as_rag() { in_root setpriv --reuid=rag --regid=rag --init-groups env RAG_CONFIG=/etc/rag/rag.toml HOME=/var/lib/rag "$@"; }
( cd / && as_rag /usr/bin/rag ingest --json /usr/share/doc/rag/corpora >"$work/ingest.json" )
answer=$(as_rag /usr/bin/rag ask --json --extractive "Where can visitors park and how much does it cost?")
echo "$answer" > "$work/answer.json"
grep -q '"citations": \[' "$work/answer.json" && grep -q 'parking-and-transport.md' "$work/answer.json" \
  || { say "no cited answer: $answer"; exit 1; }
[ -f "$root/var/lib/rag/index/manifest.json" ] || { say "the index is not in /var/lib/rag/index"; exit 1; }

say "rag doctor from / with no settings"
doctor=$(in_root sh -c 'cd / && /usr/bin/rag doctor --json' || true)
echo "$doctor" > "$work/doctor.json"
grep -q '"kind": "install"' "$work/doctor.json" || { say "not found as installed: $doctor"; exit 1; }
grep -q '"/root/.local/share/rag/index"' "$work/doctor.json" || { say "index not in the data folder"; exit 1; }
grep -q '"what": "ONNX Runtime library",' "$work/doctor.json"
python3 - "$work/doctor.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
# OCR is optional (the package only recommends Tesseract, installed here without recommends).
bad = [c for c in r["checks"] if not c["ok"] and c["what"] not in ("GGUF model", "OCR (Tesseract)")]
if bad:
    sys.exit(f"test_deb: doctor found problems: {bad}")
PY

say "systemd-analyze verify"
in_root systemd-analyze verify /lib/systemd/system/rag.service /lib/systemd/system/rag-kiosk.service \
  /lib/systemd/system/rag-kiosk.socket 2>&1 | tee "$work/verify.log" >&2
if grep -v '^$' "$work/verify.log" | grep -q .; then say "systemd-analyze verify complained"; exit 1; fi
say "ok: installed, ingested and answered in a clean Debian root; units verify"
