#!/bin/sh
# Entrypoint of the PostgreSQL scenario: starts Debian's cluster (data in
# /var/lib/postgresql, a volume in the tests) with `pg_ctl start`, waits
# until it accepts connections, then runs the main program ("$@") in its
# place. The server's log goes to the container's stdout (`docker logs`).
# It listens on its unix socket only: no TCP address at all.
set -eu
version=$(ls /usr/lib/postgresql)
install -d -o postgres -g postgres /run/postgresql
setpriv --reuid=postgres --regid=postgres --init-groups \
    "/usr/lib/postgresql/$version/bin/pg_ctl" -D "/etc/postgresql/$version/main" \
    -o "-c listen_addresses=''" -w -t 60 start
echo "with-postgres: PostgreSQL is up; running $*"
exec "$@"
