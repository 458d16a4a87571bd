#!/bin/sh
# Issue 23, --oom-exit: a program that keeps running while its worker is
# OOM-killed. The program and a sibling of the worker each write a file to
# the volume $1 when SIGTERM reaches them, and exit 0. The worker (dd with
# a 64 MiB buffer, over a 32 MiB limit) is an orphan, so rinit reaps it:
# on a v1 host the container's cgroup filesystem is read-only, and rinit
# notices an OOM kill when a child of its own dies. It starts once rinit
# holds the OOM counter open (the watch is set up a few ms after start).
out=$1
trap 'touch "$out/program-termed"; exit 0' TERM
( trap 'touch "$out/sibling-termed"; exit 0' TERM; sleep 1000 & wait $! ) &
until ls -l /proc/1/fd | grep -q -e oom_control -e memory.events; do :; done
echo ready
( dd if=/dev/zero of=/dev/null bs=64M count=1 & )
sleep 1000 & wait $!
echo "program: no SIGTERM came"
