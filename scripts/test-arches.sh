#!/usr/bin/env bash
# The test passes beyond the main one (issue 13), run by scripts/test.sh,
# which counts their `test result:` lines in its closing line:
#
# 1. the packagers' build: plain `cargo build --release` for the host's gnu
#    target (static glibc, .cargo/config.toml), with the integration tests
#    run against it (RINIT_BIN);
# 2. i686: clippy (a 32-bit c_long and usize lint differently from the
#    host's), then the whole suite, natively;
# 3. aarch64 and armv7: scripts/build.sh's shipped binary, with the
#    integration tests run against it under qemu-user (binfmt_misc, set up by
#    scripts/setup.sh); the tests qemu-user cannot run are skipped by the one
#    list in tests/common/mod.rs (QEMU_USER_CANNOT). One test at a time:
#    emulation is slower, and two heavy tests side by side can outlast the
#    tests' patience on a loaded machine.
#
# Only on x86_64 hosts (i686 runs natively there). Exits non-zero if any
# pass failed, after running them all.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "$(uname -m)" != x86_64 ]; then
    echo "test-arches.sh: the other architectures are tested from x86_64 hosts only"
    exit 0
fi
native=x86_64-unknown-linux-musl
threads=${RINIT_TEST_THREADS:-2}
# Every integration test file that runs the binary under test (RINIT_BIN);
# not docker.rs, servers.rs and ship.rs (they build images and packages from
# the release binary of the tests' own target), not vm.rs (an x86_64 VM boots
# around the binary: the main run covers it), nor the ones that run no rinit
# binary at all.
integration=()
for f in tests/*.rs; do
    name=$(basename "$f" .rs)
    case "$name" in docker | servers | vm | properties | toolchain | ship) ;; *) integration+=(--test "$name") ;; esac
done
status=0

echo "test-arches.sh: plain cargo build --release (static glibc)"
if cargo build --release; then
    RINIT_BIN=$PWD/target/release/rinit cargo test --no-fail-fast --target "$native" "${integration[@]}" -- --test-threads="$threads" || status=1
else
    status=1
fi

echo "test-arches.sh: i686, clippy"
if ! cargo clippy --target i686-unknown-linux-musl --all-targets -- -D warnings; then
    # Named here: the closing line of scripts/test.sh counts tests only.
    echo "test-arches.sh: i686 clippy failed"
    status=1
fi

echo "test-arches.sh: i686, the whole suite"
cargo test --no-fail-fast --target i686-unknown-linux-musl -- --test-threads="$threads" || status=1

for t in aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf; do
    echo "test-arches.sh: $t under qemu-user"
    if ! scripts/build.sh --target "$t"; then
        status=1
        continue
    fi
    bin=$PWD/target/$t/release/rinit
    tests=("${integration[@]}")
    # Without a binfmt_misc registration only tests/arch.rs runs, and skips.
    "$bin" --version >/dev/null 2>&1 || tests=(--test arch)
    RINIT_BIN=$bin cargo test --no-fail-fast --target "$native" "${tests[@]}" -- --test-threads=1 || status=1
done
exit "$status"
