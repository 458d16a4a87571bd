#!/usr/bin/env bash
# Builds the static rinit for every architecture it ships for, checks that
# each is statically linked, and puts them with their sums into dist/:
#
#     dist/rinit-amd64 rinit-arm64 rinit-armhf rinit-i386 rinit-riscv64
#     dist/rinit-ppc64le rinit-s390x SHA256SUMS
#
# (Debian's architecture names, as tini's release files use.) Each binary is
# scripts/build.sh's small build for its target: aarch64 and i686 link with
# Rust's own lld against the prebuilt musl std; armv7, riscv64, ppc64le and
# s390x rebuild std and link with zig (installed from PyPI under target/zig by
# scripts/zig-setup.sh on first use). Then, where a Docker engine answers,
# the FROM-scratch image to copy from, for every architecture
# (scripts/copy-image.sh). Slow (std is built seven times): not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# Debian architecture name, Rust target triple, how to run it here (qemu-user
# from Debian's qemu-user-static, which scripts/setup.sh installs).
arches=(
    "amd64 x86_64-unknown-linux-musl"
    "arm64 aarch64-unknown-linux-musl qemu-aarch64-static"
    "armhf armv7-unknown-linux-musleabihf qemu-arm-static"
    "i386 i686-unknown-linux-musl"
    "riscv64 riscv64gc-unknown-linux-musl qemu-riscv64-static"
    "ppc64le powerpc64le-unknown-linux-musl qemu-ppc64le-static"
    "s390x s390x-unknown-linux-musl qemu-s390x-static"
)

rm -rf dist
mkdir -p dist
for pair in "${arches[@]}"; do
    read -r arch triple qemu <<<"$pair"
    echo "release.sh: $arch ($triple)" >&2
    scripts/build.sh --target "$triple"
    cp "target/$triple/release/rinit" "dist/rinit-$arch"
    kind=$(file -b "dist/rinit-$arch")
    case "$kind" in
        *"statically linked"*) ;;
        *) echo "release.sh: dist/rinit-$arch is not statically linked: $kind" >&2; exit 1 ;;
    esac
    # A smoke run, not a test suite: it starts, forks, execs and reports the
    # program's status (scripts/test.sh tests amd64, i386, arm64 and armhf).
    version=$(${qemu:-} "dist/rinit-$arch" --version)
    set +e
    ${qemu:-} "dist/rinit-$arch" -q -- /bin/sh -c 'exit 3'
    code=$?
    set -e
    if [ "${version%% - *}" != "rinit version $(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml)" ] || [ "$code" != 3 ]; then
        echo "release.sh: dist/rinit-$arch does not run: '$version', exit $code (want 3)" >&2
        exit 1
    fi
    echo "release.sh: dist/rinit-$arch: $(stat -c %s "dist/rinit-$arch") bytes, runs (${qemu:-natively}), $kind" >&2
done
(cd dist && sha256sum rinit-* > SHA256SUMS)
cat dist/SHA256SUMS

if docker version >/dev/null 2>&1; then
    for pair in "${arches[@]}"; do
        read -r arch _ <<<"$pair"
        scripts/copy-image.sh "dist/rinit-$arch" "$arch"
    done
else
    echo "release.sh: no Docker engine answers: no images built" >&2
fi
