#!/bin/sh
# orphan-storm.sh N: leaves N orphans behind, each re-parented to PID 1 and
# exiting at once. The pipeline ends only when every orphan has exited (each
# holds the pipe's write end open until it exits); then it says so.
n=${1:-100}
i=0
while [ "$i" -lt "$n" ]; do
    (sleep 0.05 &)
    i=$((i + 1))
done | cat
echo storm-done
