#!/usr/bin/env bash
# Builds the shipped rinit for one target: static (musl), size-minded profile,
# and std itself rebuilt with panic=immediate-abort.
#
#     scripts/build.sh [--target TRIPLE] [CARGO ARGS...]
#
# The target defaults to the host's architecture with musl
# (x86_64-unknown-linux-musl here); the binary is target/TRIPLE/release/rinit.
# scripts/release.sh runs this for every architecture rinit ships for.
#
# Why rebuild std: the prebuilt std carries the panic message machinery and a
# DWARF backtrace symbolizer (gimli, addr2line, miniz_oxide, libunwind: about
# 220 KB of a 490 KB binary) that PID 1 never wants: rinit must not panic at
# all, and if it ever did, printing a backtrace would not save the container.
# `-Z build-std` needs the rust-src component and, on a stable toolchain,
# RUSTC_BOOTSTRAP=1 (scripts/setup.sh installs rust-src). These are unstable
# flags: when a compiler (newer or older) refuses them, this script says so and
# builds the plain release instead (larger, same behaviour), unless the target
# has no prebuilt std (below), which then cannot be built at all.
#
# Targets with no prebuilt musl std reachable here (armv7, riscv64, ppc64le,
# s390x) always rebuild std, and link with zig's `cc` (scripts/zig-cc, zig
# from PyPI, installed under target/zig by scripts/zig-setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

target=""
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --target) target=${2:?--target needs a triple}; shift 2 ;;
        --target=*) target=${1#--target=}; shift ;;
        *) args+=("$1"); shift ;;
    esac
done
if [ -z "$target" ]; then
    target="$(uname -m)-unknown-linux-musl"
fi

# The rustflags of .cargo/config.toml, repeated: RUSTFLAGS replaces them.
flags="-C relocation-model=static"
zig_target=""
case "$target" in
    *-linux-gnu) flags="$flags -C target-feature=+crt-static" ;;
    armv7-unknown-linux-musleabihf) zig_target=arm-linux-musleabihf ;;
    riscv64gc-unknown-linux-musl) zig_target=riscv64-linux-musl ;;
    powerpc64le-unknown-linux-musl) zig_target=powerpc64le-linux-musl ;;
    s390x-unknown-linux-musl) zig_target=s390x-linux-musl ;;
esac
if [ -n "$zig_target" ]; then
    # zig brings musl's crt objects, libc.a and libunwind; the prebuilt ones
    # rustc would otherwise look for come only with a prebuilt std.
    RINIT_ZIG_PYTHON=$(scripts/zig-setup.sh)
    export RINIT_ZIG_PYTHON RINIT_ZIG_TARGET=$zig_target
    env_triple=$(echo "$target" | tr 'a-z-' 'A-Z_')
    export "CARGO_TARGET_${env_triple}_LINKER=$PWD/scripts/zig-cc"
    flags="$flags -C link-self-contained=no"
fi

small() {
    RUSTC_BOOTSTRAP=1 RUSTFLAGS="${RUSTFLAGS:-} $flags -Zunstable-options -Cpanic=immediate-abort" \
        cargo build --release --target "$target" -Z build-std=std,panic_abort "${args[@]}"
}

if small; then
    exit 0
fi
echo "scripts/build.sh: the small build (-Z build-std, -Cpanic=immediate-abort: unstable flags) failed for $target with $(rustc --version) (above)" >&2
if [ -n "$zig_target" ]; then
    echo "scripts/build.sh: $target has no prebuilt std, so there is no plain build to fall back to" >&2
    exit 1
fi
echo "scripts/build.sh: falling back to the plain build (larger binary, same behaviour)" >&2
cargo build --release --target "$target" "${args[@]}"
