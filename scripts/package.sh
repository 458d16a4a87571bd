#!/usr/bin/env bash
# Turns the binaries in a directory into what a release ships, and lists it:
#
#     scripts/package.sh DIR       # DIR holds rinit-DEBIAN for some architectures
#
# For each architecture whose rinit-DEBIAN (scripts/arches.sh) is in DIR:
# its other file name (rinit-armv7 for rinit-armhf, rinit-386 for rinit-i386,
# rinit-ppc64le for rinit-ppc64el: what a Dockerfile computes from TARGETARCH
# and TARGETVARIANT), a hard link to the same file; its Debian package
# rinit_VERSION-1_DEBIAN.deb (scripts/deb.sh). Then one multi-platform image
# of them all, rinit-image.tar (scripts/image-index.sh), and SHA256SUMS of
# every file. scripts/release.sh runs this on dist/ with all seven; the tests
# (tests/ship.rs) on a directory with the native binary alone.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: scripts/package.sh DIR}
# shellcheck source=scripts/arches.sh
. scripts/arches.sh
rm -f "$dir"/*.deb "$dir/rinit-image.tar" "$dir/SHA256SUMS"
found=0
for row in "${RINIT_ARCHES[@]}"; do
    read -r debian _ <<<"$row"
    [ -f "$dir/rinit-$debian" ] || continue
    found=$((found + 1))
    for name in $(rinit_names "$debian"); do
        [ "$name" = "rinit-$debian" ] || ln -f "$dir/rinit-$debian" "$dir/$name"
    done
    scripts/deb.sh "$dir/rinit-$debian" "$debian" "$dir" >/dev/null
done
[ "$found" -gt 0 ] || { echo "package.sh: no rinit-ARCH binary in $dir" >&2; exit 1; }
scripts/image-index.sh "$dir" >/dev/null
(cd "$dir" && sha256sum rinit-* ./*.deb | sed 's| \./| |' > SHA256SUMS)
echo "package.sh: $dir: $found architectures" >&2
(cd "$dir" && ls -1 rinit-* ./*.deb SHA256SUMS | sed 's|^\./||')
