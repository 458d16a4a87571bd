#!/bin/sh
# Entrypoint of the Redis scenario: starts Redis as a daemon (--daemonize
# yes), the way many images start a helper service beside their main
# program, waits until it answers, then runs the main program ("$@") in its
# place. Redis keeps its RDB file in /var/lib/redis (a volume in the tests)
# and logs to PID 1's stdout, so its last words reach `docker logs`.
set -eu
. /scenarios/lib.sh
redis-server --daemonize yes --bind 127.0.0.1 --dir /var/lib/redis --logfile /proc/1/fd/1
wait_for 30 "with-redis: Redis did not answer" redis-cli -h 127.0.0.1 ping
echo "with-redis: Redis is up; running $*"
exec "$@"
