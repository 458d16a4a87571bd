#!/bin/sh
# Entrypoint of the PostgreSQL scenario: starts Debian's cluster (data in
# /var/lib/postgresql, a volume in the tests) with `pg_ctl start`, waits
# until it accepts connections, then runs the main program ("$@") in its
# place. The server's log goes to the container's stdout (`docker logs`).
# It listens on its unix socket only: no TCP address at all.
set -eu
. /scenarios/lib.sh
version=$(ls /usr/lib/postgresql)
install -d -o postgres -g postgres /run/postgresql
setpriv --reuid=postgres --regid=postgres --init-groups \
    "/usr/lib/postgresql/$version/bin/pg_ctl" -D "/etc/postgresql/$version/main" \
    -o "-c listen_addresses=''" -w -t 60 start
# After an unclean stop pg_ctl -w can return while the server still
# recovers (the killed server's postmaster.pid, with the same pid in a new
# container, already reads "ready"): wait until it accepts connections,
# at most 60 s.
wait_for 60 "with-postgres: not accepting connections" setpriv --reuid=postgres --regid=postgres \
    --init-groups "/usr/lib/postgresql/$version/bin/pg_isready" -q -h /run/postgresql
echo "with-postgres: PostgreSQL is up; running $*"
exec "$@"
