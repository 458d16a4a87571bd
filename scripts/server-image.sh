#!/usr/bin/env bash
# Builds the real-server Docker image (Dockerfile.servers): the root
# filesystem of scripts/server-rootfs.sh (built once, then cached), imported
# with `docker import`, with the static rinit and tests/server-scenarios on
# top. Prints the tag.
#
#     scripts/server-image.sh [TAG]      # default tag: rinit-servers:latest
#
# RINIT_BIN names the rinit binary to put in; by default the release build,
# made here. Exit status 3: the Debian package archive cannot be reached, so
# there is no root filesystem (callers skip).
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-rinit-servers:latest}
base=${tag%%:*}-base:${tag#*:}
[ "$base" != "$tag" ] || base=$tag-base

if [ -z "${RINIT_BIN:-}" ]; then
    native="$(uname -m)-unknown-linux-musl"
    scripts/build.sh --target "$native" >&2
    RINIT_BIN=target/$native/release/rinit
fi
[ -x "$RINIT_BIN" ] || { echo "server-image.sh: no rinit binary at $RINIT_BIN" >&2; exit 1; }

status=0
rootfs=$(scripts/server-rootfs.sh) || status=$?
[ "$status" -eq 0 ] || exit "$status"

ctx=$(mktemp -d "${TMPDIR:-/tmp}/rinit-server-ctx.XXXXXX")
# The base tag only serves the build: the image keeps its layer.
trap 'rm -rf "$ctx"; docker rmi "$base" >/dev/null 2>&1 || true' EXIT
docker import --message "scripts/server-rootfs.sh $(basename "$rootfs" .tar)" "$rootfs" "$base" >/dev/null
mkdir -p "$ctx/scenarios/www"
cp "$RINIT_BIN" "$ctx/rinit"
chmod 755 "$ctx/rinit"
cp tests/server-scenarios/* "$ctx/scenarios/"
cp Dockerfile.servers "$ctx/Dockerfile"
# The legacy builder needs no buildx plugin and no registry.
DOCKER_BUILDKIT=0 docker build --quiet --label rinit-test=1 --build-arg "BASE=$base" -t "$tag" "$ctx" >/dev/null
echo "$tag"
