#!/usr/bin/env bash
# Builds the static rinit for every architecture it ships for, checks that
# each is statically linked and runs, and puts into dist/ what a release
# ships (scripts/package.sh):
#
#     dist/rinit-DEBIAN         one binary per architecture, by Debian's name
#                               (rinit-amd64 rinit-arm64 rinit-armhf rinit-i386
#                               rinit-riscv64 rinit-ppc64el rinit-s390x), as
#                               tini's release files are named
#     dist/rinit-386 rinit-armv7 rinit-ppc64le
#                               the same files by the name a Dockerfile computes,
#                               rinit-${TARGETARCH}${TARGETVARIANT}
#     dist/rinit_VERSION-1_DEBIAN.deb   the Debian packages
#     dist/rinit-image.tar      one OCI image index for the seven platforms
#     dist/SHA256SUMS
#
# The architectures and their names are scripts/arches.sh's table. Each
# binary is scripts/build.sh's small build for its target: aarch64 and i686
# link with Rust's own lld against the prebuilt musl std; armv7, riscv64,
# ppc64le and s390x rebuild std and link with zig (installed from PyPI under
# target/zig by scripts/zig-setup.sh on first use). Then, where a Docker
# engine answers, the FROM-scratch image to copy from, for every architecture
# (scripts/copy-image.sh, tagged rinit:DEBIAN). Slow (std is built seven
# times): not run by CI; .github/workflows/release.yml runs it on a version
# tag.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# shellcheck source=scripts/arches.sh
. scripts/arches.sh

rm -rf dist
mkdir -p dist
for row in "${RINIT_ARCHES[@]}"; do
    read -r arch _ <<<"$row"
    rinit_row "$arch"
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
scripts/package.sh dist >/dev/null
cat dist/SHA256SUMS

if docker version >/dev/null 2>&1; then
    for row in "${RINIT_ARCHES[@]}"; do
        read -r arch _ <<<"$row"
        scripts/copy-image.sh "dist/rinit-$arch" "$arch"
    done
else
    echo "release.sh: no Docker engine answers: no images built" >&2
fi
