#!/usr/bin/env bash
# The architectures rinit ships for, and the names of their files: one table
# that scripts/release.sh, scripts/package.sh and tests/ship.rs all read, so
# that what a Dockerfile computes and what dist/ holds cannot drift apart.
#
#     . scripts/arches.sh          # RINIT_ARCHES, rinit_names, rinit_platform
#     scripts/arches.sh            # the table, one architecture a line:
#                                  # DEBIAN PLATFORM TRIPLE QEMU NAME...
#
# Each binary is in dist/ under every name of its architecture:
# - rinit-DEBIAN, Debian's architecture name (rinit-armhf, rinit-i386), as
#   tini's release files are named, so that a tini recipe works with one word
#   changed;
# - rinit-${TARGETARCH}${TARGETVARIANT}, the name a multi-platform Dockerfile
#   computes from the build arguments BuildKit and buildah set (rinit-armv7,
#   rinit-386), with no `case` (examples/Dockerfile.fetch).
# Where the two are the same (amd64, arm64, riscv64, s390x) there is one
# file. Debian calls little-endian 64-bit PowerPC ppc64el (the packages'
# architecture), Docker ppc64le: dist/ has both names.

# Debian architecture, TARGETARCH, TARGETVARIANT (- for none), Rust target
# triple, qemu-user to run it on an x86_64 host (- for natively; Debian's
# qemu-user-static, which scripts/setup.sh installs).
RINIT_ARCHES=(
    "amd64 amd64 - x86_64-unknown-linux-musl -"
    "arm64 arm64 - aarch64-unknown-linux-musl qemu-aarch64-static"
    "armhf arm v7 armv7-unknown-linux-musleabihf qemu-arm-static"
    "i386 386 - i686-unknown-linux-musl -"
    "riscv64 riscv64 - riscv64gc-unknown-linux-musl qemu-riscv64-static"
    "ppc64el ppc64le - powerpc64le-unknown-linux-musl qemu-ppc64le-static"
    "s390x s390x - s390x-unknown-linux-musl qemu-s390x-static"
)

# rinit_row DEBIAN: sets debian targetarch variant triple qemu (- read as
# empty) from the table; fails for an architecture rinit does not ship for.
rinit_row() {
    local row
    for row in "${RINIT_ARCHES[@]}"; do
        read -r debian targetarch variant triple qemu <<<"$row"
        [ "$debian" = "$1" ] || continue
        [ "$variant" != - ] || variant=""
        [ "$qemu" != - ] || qemu=""
        return 0
    done
    echo "arches.sh: rinit does not ship for '$1' (scripts/arches.sh)" >&2
    return 1
}

# rinit_names DEBIAN: the file names of that architecture's binary, Debian's
# first.
rinit_names() {
    local debian targetarch variant triple qemu
    rinit_row "$1" || return 1
    echo "rinit-$debian"
    [ "$targetarch$variant" = "$debian" ] || echo "rinit-$targetarch$variant"
}

# rinit_platform DEBIAN: the OCI platform, as `--platform` takes it
# (linux/arm/v7, linux/386).
rinit_platform() {
    local debian targetarch variant triple qemu
    rinit_row "$1" || return 1
    echo "linux/$targetarch${variant:+/$variant}"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    for row in "${RINIT_ARCHES[@]}"; do
        read -r debian _ _ triple qemu <<<"$row"
        echo "$debian $(rinit_platform "$debian") $triple $qemu $(rinit_names "$debian" | tr '\n' ' ' | sed 's/ $//')"
    done
fi
