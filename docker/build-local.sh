#!/usr/bin/env bash
# Builds the rag image on a machine with no Docker engine and no image registry, then smoke-tests
# it offline. Needs root and Debian's package registry:
#   1. installs podman and debootstrap (Debian packages) when they are missing;
#   2. makes the base image the Dockerfile names, debian:bookworm-slim, with debootstrap (a
#      minbase bookworm, trimmed like Debian's slim images) and `podman import`; once, unless
#      REBASE=1;
#   3. builds docker/Dockerfile with `podman build --isolation=chroot --pull=never` as IMAGE
#      (rag:latest), passing EMBEDDER (all) as a build argument; NO_CACHE=1 rebuilds every
#      layer, KIOSK_BROWSER=1 also builds the kiosk-browser target (rag-kiosk-browser:latest);
#   4. smoke-tests the image: a container is created (never run: `podman run` fails on rlimits
#      here), its root filesystem mounted, corpora/ copied in, and docker/smoke.sh run there
#      through chroot as the image's user with the image's environment, inside new network, mount
#      and PID namespaces that hold nothing but a loopback interface: ingest, an extractive answer
#      with citations, `rag serve` and the image's own HEALTHCHECK command. With KIOSK_BROWSER=1,
#      rag in kiosk mode and the kiosk browser's Chromium (headless) share one loopback-only
#      namespace, and Chromium must load the kiosk page.
# Prints the image's size and its layers. About 25 minutes the first time on 2 cores, mostly
# compiling; the dependency layer is cached for later builds.
set -euo pipefail
cd "$(dirname "$0")/.."
image=${IMAGE:-rag:latest}
embedder=${EMBEDDER:-all}
work=$PWD/target/docker
say() { printf 'build-local: %s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { say "run as root: podman build --isolation=chroot and debootstrap need it"; exit 1; }
missing=()
for p in podman debootstrap util-linux iproute2; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. The base image.
base=docker.io/library/debian:bookworm-slim
if [ "${REBASE:-0}" = 1 ] || ! podman image exists "$base"; then
  rootfs=$work/rootfs
  rm -rf "$rootfs"
  mkdir -p "$rootfs"
  say "debootstrap bookworm (minbase) into $rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$work.debootstrap.log" 2>&1 \
    || { tail -20 "$work.debootstrap.log" >&2; exit 1; }
  cat > "$rootfs/etc/apt/sources.list" <<'SOURCES'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
  # What Debian's slim images leave out: documentation, manual pages, other locales, caches.
  mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
  cat > "$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
SLIM
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/cache/apt/* \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/tmp/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  say "importing it as $base"
  tar -C "$rootfs" --numeric-owner -c . \
    | podman import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      - "$base" >/dev/null
  rm -rf "$rootfs"
fi

# 3. The image.
# Certificate authorities this machine trusts beyond Debian's (an HTTPS-inspecting proxy's, say)
# are handed to the build stages as the `extra_ca` secret.
secret=()
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$work"
  cat /usr/local/share/ca-certificates/*.crt > "$work/extra_ca.crt"
  secret=(--secret "id=extra_ca,src=$work/extra_ca.crt")
fi
say "building $image (EMBEDDER=$embedder)"
started=$(date +%s)
cache=()
[ "${NO_CACHE:-0}" = 1 ] && cache=(--no-cache)
# --format docker: the OCI format has no HEALTHCHECK.
podman build --isolation=chroot --pull=never --layers "${cache[@]}" --format docker -f docker/Dockerfile \
  --build-arg EMBEDDER="$embedder" "${secret[@]}" -t "$image" .
say "built in $(( $(date +%s) - started )) s"
if [ "${KIOSK_BROWSER:-0}" = 1 ]; then
  say "building the kiosk browser image rag-kiosk-browser:latest"
  podman build --isolation=chroot --pull=never --layers "${cache[@]}" --format docker -f docker/Dockerfile \
    --target kiosk-browser -t rag-kiosk-browser:latest .
  podman image inspect --format '{{.Config.Entrypoint}} {{.Config.User}}' rag-kiosk-browser:latest >&2
fi

# 4. The smoke test, offline.
ctr=$(podman create "$image")
mnt=$(podman mount "$ctr")
cleanup() { podman umount "$ctr" >/dev/null 2>&1 || true; podman rm -f "$ctr" >/dev/null 2>&1 || true; }
trap cleanup EXIT
user=$(podman image inspect --format '{{.Config.User}}' "$image")
healthcheck=$(podman image inspect --format '{{range $i, $a := .Config.Healthcheck.Test}}{{if eq $i 3}}{{$a}}{{end}}{{end}}' "$image")
[ -n "$healthcheck" ] || { say "the image has no HEALTHCHECK"; exit 1; }
mapfile -t envs < <(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$image" | sed '/^$/d')
mkdir -p "$mnt/tmp/smoke"
cp -r corpora "$mnt/tmp/smoke/corpora"
cp docker/smoke.sh "$mnt/tmp/smoke/smoke.sh"
uid=$(chroot "$mnt" id -u "$user")
gid=$(chroot "$mnt" id -g "$user")
chown -R "$uid:$gid" "$mnt/tmp/smoke"
# Runs a command in new network, mount and PID namespaces holding only a loopback interface
# (up), with the host's /dev bound into the image's root filesystem and its /proc mounted.
sealed() {
  unshare --net --mount --pid --fork --mount-proc="$mnt/proc" \
    bash -c 'ip link set lo up && mount --rbind /dev "$1/dev" && shift && exec "$@"' - "$mnt" "$@"
}
say "smoke test in $image as $user, no network"
sealed chroot --userspec="$uid:$gid" "$mnt" \
  env -i "${envs[@]}" HOME=/app HEALTHCHECK_CMD="$healthcheck" bash /tmp/smoke/smoke.sh

# The kiosk pair: rag in kiosk mode and the kiosk browser's Chromium (headless here, no display)
# share one network namespace with nothing but loopback; Chromium must load rag's kiosk page.
if [ "${KIOSK_BROWSER:-0}" = 1 ]; then
  bctr=$(podman create rag-kiosk-browser:latest)
  bmnt=$(podman mount "$bctr")
  trap 'cleanup; podman umount "$bctr" >/dev/null 2>&1; podman rm -f "$bctr" >/dev/null 2>&1' EXIT
  buid=$(chroot "$bmnt" id -u kiosk)
  bgid=$(chroot "$bmnt" id -g kiosk)
  say "kiosk check: Chromium from rag-kiosk-browser loads the kiosk page over the shared loopback"
  page=$(sealed bash -c '
    set -e
    mount --rbind /dev "$2/dev"; mount -t proc proc "$2/proc"
    mount -t tmpfs -o mode=1777 tmpfs "$2/tmp"
    chroot --userspec="$3:$4" "$1" env -i "${@:7}" RAG_ADDR=127.0.0.1:8080 \
      bash -c "cd /app && exec rag serve --kiosk" >/dev/null 2>&1 &
    for _ in $(seq 1 50); do bash -c "exec 3<>/dev/tcp/127.0.0.1/8080" 2>/dev/null && break; sleep 0.2; done
    chroot --userspec="$5:$6" "$2" env -i PATH=/usr/bin:/bin HOME=/tmp timeout 60 chromium --headless \
      --no-sandbox --disable-gpu --no-first-run --disable-background-networking --disable-component-update \
      --disable-sync --user-data-dir=/tmp/chromium --dump-dom http://127.0.0.1:8080/ 2>/dev/null
    kill %1' - "$mnt" "$bmnt" "$uid" "$gid" "$buid" "$bgid" "${envs[@]}")
  grep -q "<title>Ask the documents</title>" <<<"$page" || { say "the kiosk browser did not show the kiosk page"; exit 1; }
  say "kiosk check passed"
fi

size=$(podman image inspect --format '{{.Size}}' "$image")
say "smoke test passed; $image is $(( size / 1000000 )) MB. Layers:"
podman history --format '{{.Size}}\t{{.CreatedBy}}' "$image" | cut -c1-150 >&2
