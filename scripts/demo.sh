#!/usr/bin/env bash
# Builds the static rinit and shows it working as PID 1 of a new PID
# namespace: the program is PID 2, a background daemon gets SIGTERM and
# cleans up when the program exits, and rinit exits with the program's status.
# Then, where a Docker engine answers, scripts/demo-redis.sh: Redis in a real
# container under `docker run --init` (tini) and under rinit, side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
native="$(uname -m)-unknown-linux-musl"
scripts/build.sh --target "$native"
BIN=target/$native/release/rinit
file "$BIN"
ls -l "$BIN"
"$BIN" --version
userns=()
[ "$(id -u)" -eq 0 ] || userns=(--user --map-root-user)
set +e
unshare --pid --fork --mount-proc "${userns[@]}" "$BIN" -v -- sh -c '
    echo "program: I am pid $$, my parent is pid $PPID"
    sh -c "trap \"echo daemon: got SIGTERM, cleaning up; exit 0\" TERM; while :; do sleep 1; done" 2>/dev/null &
    sleep 0.2
    echo "program: exiting with 3, leaving the daemon behind"
    exit 3'
echo "rinit exited with $? (the program's status)"
set -e
scripts/demo-redis.sh
