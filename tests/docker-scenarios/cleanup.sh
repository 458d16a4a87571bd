#!/bin/sh
# cleanup.sh DIR: the program starts a `setsid` daemon and a background job.
# Each one, on SIGTERM, writes its file into DIR (a bind-mounted volume) and
# exits. The program itself exits on SIGTERM. Under rinit both files appear
# after `docker stop`; under tini (docker-init) neither does: tini exits as
# soon as the program is gone, and the kernel SIGKILLs the rest.
out=${1:-/out}
setsid sh -c "trap 'echo cleaned > $out/daemon-cleaned; exit 0' TERM
    echo daemon-ready; while :; do sleep 1000 & wait; done" &
sh -c "trap 'echo cleaned > $out/job-cleaned; exit 0' TERM
    echo job-ready; while :; do sleep 1000 & wait; done" &
echo program-ready
wait
