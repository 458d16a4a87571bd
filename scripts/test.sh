#!/usr/bin/env bash
# Runs every test: set-up, clippy (panics denied), unit and integration tests
# (rinit as PID 1 of new PID namespaces), and the Docker tests (skipped with a
# visible line where no Docker engine answers).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cargo clippy --all-targets -- -D warnings
cargo test -- --test-threads="${RINIT_TEST_THREADS:-2}"
