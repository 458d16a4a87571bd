#!/usr/bin/env bash
# Benchmarks rinit side by side with every peer installed (tini-static, tini,
# dumb-init, catatonit) in one run on this machine, and prints one markdown
# report: the machine and its load, a table of figures, and issue 6's targets
# as ratios to tini. Needs root (new PID namespaces). Takes a few minutes.
# The report is also saved to target/bench/latest.md; BENCHMARKS.md holds the
# latest published one. Knobs: see the top of benches/compare.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
native="$(uname -m)-unknown-linux-musl"
scripts/build.sh --target "$native"
mkdir -p target/bench
# Measure a copy of the shipped binary. The bench itself is built in its own
# target directory: `cargo bench` in the default one would rebuild
# target/<triple>/release/rinit as a plain (larger) build over the shipped one.
cp "target/$native/release/rinit" target/bench/rinit
export RINIT_BIN="${RINIT_BIN:-$PWD/target/bench/rinit}"
CARGO_TARGET_DIR=target/bench/build cargo bench --bench compare | tee target/bench/latest.md
