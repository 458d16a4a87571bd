#!/usr/bin/env bash
# Installs what building and testing rinit needs on a fresh Debian machine:
# the musl target (the static binary), util-linux's unshare (PID namespaces
# for the tests), busybox-static (the FROM-scratch Docker test image), and the
# peers the tests and benchmarks compare against, and mandoc (the man-page
# lint). Idempotent and quick when
# everything is already there.
set -euo pipefail

need_apt=()
for pkg in util-linux busybox-static tini dumb-init catatonit musl-tools procps file strace mandoc; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
# mmdebstrap: the root filesystem of the real-server image (scripts/server-rootfs.sh).
dpkg-query -W -f='${Status}' mmdebstrap 2>/dev/null | grep -q "install ok installed" || need_apt+=(mmdebstrap)
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
