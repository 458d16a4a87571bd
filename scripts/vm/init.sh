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
    echo "=== begin $s"
    # A hung scenario must not hang the boot: the others still report.
    timeout -s KILL 120 /bin/sh "/scenarios/$s.sh" </dev/null 2>&1
    echo "=== end $s status=$?"
done
echo "=== all done"
