#!/usr/bin/env bash
# Builds the shipped rinit: static (musl), size-minded profile, and std itself
# rebuilt with panic=immediate-abort.
#
# Why rebuild std: the prebuilt std carries the panic message machinery and a
# DWARF backtrace symbolizer (gimli, addr2line, miniz_oxide, libunwind: about
# 220 KB of a 490 KB binary) that PID 1 never wants: rinit must not panic at
# all, and if it ever did, printing a backtrace would not save the container.
# `-Z build-std` needs the rust-src component and, on a stable toolchain,
# RUSTC_BOOTSTRAP=1 (scripts/setup.sh installs rust-src).
#
# `cargo build --release` alone still works and gives a correct, larger
# binary at the same path.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
# RUSTFLAGS replaces the rustflags of .cargo/config.toml, so it repeats them.
export RUSTFLAGS="${RUSTFLAGS:-} -C relocation-model=static -Zunstable-options -Cpanic=immediate-abort"
cargo build --release -Z build-std=std,panic_abort "$@"
