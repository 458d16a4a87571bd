#!/usr/bin/env bash
# Builds the multi-platform rinit image, without a registry, and prints its
# path:
#
#     scripts/image-index.sh DIR     # DIR/rinit-image.tar from DIR/rinit-DEBIAN
#
# One OCI image index (an oci-archive, tagged rinit:VERSION) with one image
# per architecture whose binary is in DIR (all seven after
# scripts/release.sh), each FROM scratch with only /rinit (the repository's
# Dockerfile) and recorded for its platform (linux/arm/v7 for armhf), so that
# `COPY --from=` in a build for any of them takes the right binary. Built with
# Debian's buildah in a storage of its own (removed after), so nothing is left
# in the machine's image store. To publish it:
#
#     skopeo copy --all oci-archive:dist/rinit-image.tar docker://REGISTRY/rinit:VERSION
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: scripts/image-index.sh DIR}
# shellcheck source=scripts/arches.sh
. scripts/arches.sh
command -v buildah >/dev/null || { echo "image-index.sh: no buildah; install it (scripts/setup.sh)" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml)
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

work=$(mktemp -d "${TMPDIR:-/tmp}/rinit-image.XXXXXX")
# vfs: works wherever buildah runs (no overlay or fuse needed), and these
# layers are one small file each.
store=(--root "$work/storage" --runroot "$work/run" --storage-driver vfs)
cleanup() {
    buildah "${store[@]}" rmi --all --force >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
list="rinit:$version"
buildah "${store[@]}" manifest create "$list" >/dev/null
platforms=()
for row in "${RINIT_ARCHES[@]}"; do
    read -r debian _ <<<"$row"
    [ -f "$dir/rinit-$debian" ] || continue
    platform=$(rinit_platform "$debian")
    ctx=$work/ctx-$debian
    mkdir -p "$ctx"
    install -m 755 "$dir/rinit-$debian" "$ctx/rinit"
    # FROM scratch with a COPY: nothing runs, so no emulation is needed for
    # a foreign platform. --timestamp: the same binaries give the same image.
    buildah "${store[@]}" build --quiet --platform "$platform" --timestamp "$epoch" \
        --manifest "$list" --file Dockerfile "$ctx" >/dev/null
    platforms+=("$platform")
done
[ "${#platforms[@]}" -gt 0 ] || { echo "image-index.sh: no rinit-ARCH binary in $dir" >&2; exit 1; }
archive=$dir/rinit-image.tar
rm -f "$archive"
buildah "${store[@]}" manifest push --quiet --all --format oci "$list" "oci-archive:$archive:$list" >/dev/null
echo "image-index.sh: $archive: $list for ${platforms[*]}" >&2
echo "$archive"
