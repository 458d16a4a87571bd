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
scripts/build.sh
mkdir -p target/bench
cargo bench --bench compare | tee target/bench/latest.md
