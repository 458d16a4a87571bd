#!/bin/busybox sh
# /init of the VM tests' initramfs (busybox sh, PID 1 of a fresh kernel):
# mounts /proc, /sys and cgroup v2 alone at /sys/fs/cgroup, as on a host
# that runs cgroup v2 only, then either
#   - runs the scenarios named in $scenarios (comma-separated, from the
#     kernel command line) one after the other, each framed by
#     "=== begin NAME" and "=== end NAME status=N" lines on the console; or
#   - with $pid1=NAME, execs /scenarios/NAME.sh, which execs rinit: rinit is
#     then the VM's PID 1, and its exit status shows in the kernel's
#     "Attempted to kill init! exitcode=0x..." line.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
mount -t sysfs sysfs /sys
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmpfs /tmp
echo "=== booted, cgroup controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
if [ -n "$pid1" ]; then
    exec /bin/sh "/scenarios/$pid1.sh"
fi
for s in $(echo "$scenarios" | tr , ' '); do
    # An OOM scenario expects exactly one kill. Now and then the kernel
    # makes a second one (it once took unshare, outside the namespace, while
    # the victim's memory was still being freed), or none: that run proves
    # nothing either way, so it runs again in a fresh cgroup (the attempt is
    # part of its name, lib.sh), three times at most, as the host's OOM
    # tests do (tests/cgroup.rs, with_one_oom_kill). The discarded run is
    # shown, marked, before the one the tests read.
    export ATTEMPT=1
    while :; do
        # A hung scenario must not hang the boot: the others still report.
        timeout -s KILL 120 /bin/sh "/scenarios/$s.sh" </dev/null >/tmp/scenario.out 2>&1
        status=$?
        kills=$(sed -n 's/^after: oom_kill //p' /tmp/scenario.out)
        if [ -z "$kills" ] || [ "$kills" = 1 ] || [ "$ATTEMPT" -ge 3 ]; then
            break
        fi
        sed "s/^/retried $s (oom_kill $kills): /" /tmp/scenario.out
        ATTEMPT=$((ATTEMPT + 1))
    done
    echo "=== begin $s"
    cat /tmp/scenario.out
    echo "=== end $s status=$status"
done
echo "=== all done"
