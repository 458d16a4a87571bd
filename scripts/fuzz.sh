#!/usr/bin/env bash
# Fuzzes rinit's command-line parser (fuzz/fuzz_targets/cli.rs) with
# cargo-fuzz and libFuzzer for a bounded time. Not run by CI.
#
#   scripts/fuzz.sh            # 60 seconds
#   scripts/fuzz.sh 600        # ten minutes
#
# cargo-fuzz needs a nightly compiler (-Zsanitizer). It uses the nightly
# toolchain when rustup has one, and otherwise the stable one with
# RUSTC_BOOTSTRAP=1, which unlocks the nightly flags on a stable compiler.
# A crash leaves its input in fuzz/artifacts/cli/; replay it with
#   cargo fuzz run cli fuzz/artifacts/cli/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"

command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz

toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
# The host's own target: sanitizers and libFuzzer are built for glibc.
# cargo-fuzz passes its flags in RUSTFLAGS, which replaces the static
# (crt-static) rustflags .cargo/config.toml gives the host target.
host="$(rustc -vV | sed -n 's/^host: //p')"

mkdir -p fuzz/corpus/cli
# Run from the fuzz/ crate so that its own [workspace] applies.
cd fuzz
exec cargo "${toolchain[@]}" fuzz run --fuzz-dir . --target "$host" cli corpus/cli seeds/cli -- \
    -max_total_time="$seconds" -max_len=256 -timeout=5 -print_final_stats=1
