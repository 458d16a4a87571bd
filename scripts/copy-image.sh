#!/usr/bin/env bash
# Builds the image to copy rinit from (Dockerfile: FROM scratch, only /rinit)
# for one architecture, and prints its tag.
#
#     scripts/copy-image.sh BINARY ARCH [TAG]     # default tag: rinit:ARCH
#
# ARCH is a Debian architecture name (amd64 arm64 armhf i386 riscv64 ppc64el
# s390x), as in dist/rinit-ARCH (scripts/release.sh). The image records
# Docker's name for it (linux/arm/v7 for armhf, linux/386 for i386: the table
# of scripts/arches.sh), so that a `COPY --from=` in a build for that
# platform picks the right binary. (The one image for every platform is
# dist/rinit-image.tar, scripts/image-index.sh.)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: scripts/copy-image.sh BINARY ARCH [TAG]}
arch=${2:?usage: scripts/copy-image.sh BINARY ARCH [TAG]}
tag=${3:-rinit:$arch}
# shellcheck source=scripts/arches.sh
. scripts/arches.sh
platform=$(rinit_platform "$arch") || exit 2
[ -f "$bin" ] || { echo "copy-image.sh: no binary at $bin" >&2; exit 1; }
ctx=$(mktemp -d "${TMPDIR:-/tmp}/rinit-copy-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
install -m 755 "$bin" "$ctx/rinit"
cp Dockerfile "$ctx/Dockerfile"
# The legacy builder: no buildx plugin, no registry (FROM scratch).
DOCKER_BUILDKIT=0 docker build --quiet --platform "$platform" -t "$tag" "$ctx" >/dev/null
echo "$tag"
