#!/usr/bin/env bash
# Builds the Docker test image (Dockerfile.test) from a clean checkout:
# stages a build context in a temporary directory with the static rinit,
# Debian's static busybox and its applet links, and the scenario scripts of
# tests/docker-scenarios, then runs `docker build`.
#
#     scripts/docker-image.sh [TAG]      # default tag: rinit-test:latest
#
# RINIT_BIN names the rinit binary to put in; by default the shipped build
# for this machine's architecture, made here (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-rinit-test:latest}
busybox=/bin/busybox
applets=(sh sleep ps kill cat touch echo setsid ls dd head mkfifo rm test true false wc grep)

if [ -z "${RINIT_BIN:-}" ]; then
    native="$(uname -m)-unknown-linux-musl"
    scripts/build.sh --target "$native"
    RINIT_BIN=target/$native/release/rinit
fi
[ -x "$RINIT_BIN" ] || { echo "docker-image.sh: no rinit binary at $RINIT_BIN" >&2; exit 1; }
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
    echo "docker-image.sh: $busybox is not a static busybox; install busybox-static (scripts/setup.sh)" >&2
    exit 1
fi

ctx=$(mktemp -d "${TMPDIR:-/tmp}/rinit-docker-ctx.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
root=$ctx/rootfs
mkdir -p "$root/bin" "$root/tests" "$root/tmp" "$root/out"
chmod 1777 "$root/tmp"
cp "$RINIT_BIN" "$root/rinit"
cp "$busybox" "$root/bin/busybox"
for a in "${applets[@]}"; do
    ln -s busybox "$root/bin/$a"
done
cp tests/docker-scenarios/*.sh "$root/tests/"
chmod 755 "$root/rinit" "$root"/tests/*.sh
cp Dockerfile.test "$ctx/Dockerfile"

# The legacy builder needs no buildx plugin and no registry.
DOCKER_BUILDKIT=0 docker build --quiet --label rinit-test=1 -t "$tag" "$ctx" >/dev/null
echo "$tag"
