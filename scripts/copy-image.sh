#!/usr/bin/env bash
# Builds the image to copy rinit from (Dockerfile: FROM scratch, only /rinit)
# for one architecture, and prints its tag.
#
#     scripts/copy-image.sh BINARY ARCH [TAG]     # default tag: rinit:ARCH
#
# ARCH is a Debian architecture name (amd64 arm64 armhf i386 riscv64 ppc64le
# s390x), as in dist/rinit-ARCH (scripts/release.sh). The image records
# Docker's name for it (linux/arm/v7 for armhf, linux/386 for i386), so that
# a `COPY --from=` in a build for that platform picks the right binary.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: scripts/copy-image.sh BINARY ARCH [TAG]}
arch=${2:?usage: scripts/copy-image.sh BINARY ARCH [TAG]}
tag=${3:-rinit:$arch}
case "$arch" in
    armhf) platform=linux/arm/v7 ;;
    i386) platform=linux/386 ;;
    amd64 | arm64 | riscv64 | ppc64le | s390x) platform=linux/$arch ;;
    *) echo "copy-image.sh: unknown architecture '$arch'" >&2; exit 2 ;;
esac
[ -f "$bin" ] || { echo "copy-image.sh: no binary at $bin" >&2; exit 1; }
ctx=$(mktemp -d "${TMPDIR:-/tmp}/rinit-copy-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
install -m 755 "$bin" "$ctx/rinit"
cp Dockerfile "$ctx/Dockerfile"
# The legacy builder: no buildx plugin, no registry (FROM scratch).
DOCKER_BUILDKIT=0 docker build --quiet --platform "$platform" -t "$tag" "$ctx" >/dev/null
echo "$tag"
