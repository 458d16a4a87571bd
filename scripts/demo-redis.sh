#!/usr/bin/env bash
# The Redis scenario of tests/servers.rs, shown side by side: an entrypoint
# script starts redis-server --daemonize yes (data on a volume), then runs
# nginx as the main program; a key is written and the container stopped with
# `docker stop` (Docker's default 10 s). Once under `docker run --init`
# (tini), once under rinit; then a fresh Redis on each volume is asked for
# the key. Everything runs with --network none: redis-cli talks to Redis on
# the container's own loopback.
#
#     scripts/demo-redis.sh        # scripts/demo.sh runs it after its own part
set -euo pipefail
cd "$(dirname "$0")/.."

if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    echo "(no Docker engine answers here: the Redis side-by-side is skipped)"
    exit 0
fi
tag=rinit-demo-servers:pid-$$
names=()
cleanup() {
    for n in "${names[@]}"; do docker rm -f "$n" >/dev/null 2>&1 || true; done
    for n in "${names[@]}"; do docker volume rm -f "$n" >/dev/null 2>&1 || true; done
    docker rmi -f "$tag" >/dev/null 2>&1 || true
}
trap cleanup EXIT
status=0
RINIT_BIN=target/$(uname -m)-unknown-linux-musl/release/rinit scripts/server-image.sh "$tag" >/dev/null 2>/tmp/rinit-demo-image.$$ || status=$?
if [ "$status" -ne 0 ]; then
    tail -n 5 "/tmp/rinit-demo-image.$$"
    rm -f "/tmp/rinit-demo-image.$$"
    [ "$status" -eq 3 ] && { echo "(the Redis side-by-side is skipped)"; exit 0; }
    exit "$status"
fi
rm -f "/tmp/rinit-demo-image.$$"

# Waits (at most 60 s) until container $1 has logged a line matching $2.
wait_log() {
    local deadline=$((SECONDS + 60))
    until docker logs "$1" 2>&1 | grep -q -- "$2"; do
        [ "$SECONDS" -lt "$deadline" ] || { echo "no '$2' in the logs of $1" >&2; return 1; }
        sleep 0.1
    done
}

# Redis's own words when it stops, without its pid and timestamp prefix.
last_words() {
    docker logs "$1" 2>&1 \
        | { grep -E '^[0-9]+:.*(SIGTERM|Saving|DB saved|bye bye)' || true; } \
        | sed -E 's/^[0-9]+:(signal-handler \([0-9]+\)|[A-Z] [0-9]+ [A-Za-z]+ [0-9]+ [0-9:.]+ [-.*#]) //; s/^/     /'
}

# run_redis ID TITLE DOCKER-RUN-ARGUMENTS...: the scenario under one init.
run_redis() {
    local id=$1 title=$2; shift 2
    local c=rinit-demo-$$-$id vol=rinit-demo-$$-$id
    names+=("$c" "$c-after")
    docker volume create "$vol" >/dev/null
    docker run -d --name "$c" --network none -v "$vol:/var/lib/redis" "$@" >/dev/null
    wait_log "$c" 'with-redis: Redis is up'
    echo "-- $title. PID 1: $(docker exec "$c" cat /proc/1/cmdline | tr '\0' ' ')"
    echo "   redis-cli SET visits 42 -> $(docker exec "$c" redis-cli -h 127.0.0.1 SET visits 42)"
    local t0 t1
    t0=$(date +%s%N)
    docker stop "$c" >/dev/null
    t1=$(date +%s%N)
    printf '   docker stop: %d ms. What Redis said on its way out:\n' $(((t1 - t0) / 1000000))
    local words
    words=$(last_words "$c")
    echo "${words:-     (nothing: the kernel SIGKILLed it the moment PID 1 exited)}"
    docker run -d --name "$c-after" --network none -v "$vol:/var/lib/redis" "$tag" \
        redis-server --bind 127.0.0.1 --dir /var/lib/redis >/dev/null
    wait_log "$c-after" 'Ready to accept connections'
    local got
    got=$(docker exec "$c-after" redis-cli -h 127.0.0.1 GET visits)
    if [ -n "$got" ]; then
        echo "   restarted on the same volume: GET visits -> \"$got\"   KEPT"
    else
        echo "   restarted on the same volume: GET visits -> (nil)   LOST"
    fi
}

echo
echo "== Redis started in the background by the entrypoint script, nginx as the main program =="
run_redis tini "docker run --init (tini)" --init --entrypoint /scenarios/with-redis.sh "$tag" nginx -c /scenarios/nginx.conf
run_redis rinit "rinit" "$tag" /scenarios/with-redis.sh nginx -c /scenarios/nginx.conf
