#!/usr/bin/env bash
# Runs every test: set-up, clippy (panics denied), unit and integration tests
# (rinit as PID 1 of new PID namespaces), and the Docker tests (skipped with a
# visible line where no Docker engine answers).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The tests run the static musl build of the shipped target (.cargo/config.toml
# forces no target: a plain build is for the host's gnu target).
native="$(uname -m)-unknown-linux-musl"
scripts/build.sh --target "$native"
cargo clippy --all-targets -- -D warnings
log=$(mktemp)
# Tests that cannot run here (tests/common/mod.rs `skip`) write a line here.
export RINIT_SKIP_LOG
RINIT_SKIP_LOG=$(mktemp)
trap 'rm -f "$log" "$RINIT_SKIP_LOG"' EXIT
set +e
# --no-fail-fast: one failing test file must not hide the others' results.
cargo test --no-fail-fast --target "$native" -- --test-threads="${RINIT_TEST_THREADS:-2}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# Issue 13: the packagers' plain build, i686, and aarch64 and armv7 under
# qemu-user (scripts/test-arches.sh); counted in the closing line too.
scripts/test-arches.sh 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
set -e
# Every skipped test, once more, where the closing line can be read with them.
sort "$RINIT_SKIP_LOG"
skipped=$(wc -l < "$RINIT_SKIP_LOG")
# One closing line over every test binary; cargo counts a skipped test as
# passed, so those are moved to the skipped count.
awk -v s="$skipped" '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p - s, f, s }' "$log"
exit "$status"
