#!/bin/sh
# fork-many.sh N: tries to start N sleeping processes, saying after each how
# many are running. Under a pids limit a fork fails ("can't fork") and the
# shell exits 2 before "all started".
i=0
while [ "$i" -lt "$1" ]; do
    sleep 1000 &
    i=$((i + 1))
    echo "started $i"
done
echo "all started"
