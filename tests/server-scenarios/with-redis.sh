#!/bin/sh
# Entrypoint of the Redis scenario: starts Redis as a daemon (--daemonize
# yes), the way many images start a helper service beside their main
# program, waits until it answers, then runs the main program ("$@") in its
# place. Redis keeps its RDB file in /var/lib/redis (a volume in the tests)
# and logs to PID 1's stdout, so its last words reach `docker logs`.
set -eu
redis-server --daemonize yes --bind 127.0.0.1 --dir /var/lib/redis --logfile /proc/1/fd/1
tries=0
until redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -le 300 ] || { echo "with-redis: Redis did not answer within 30 s" >&2; exit 1; }
    sleep 0.1
done
echo "with-redis: Redis is up; running $*"
exec "$@"
