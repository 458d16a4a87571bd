# Issue 19 item 10: buffered writes at memory.max, and no OOM kill. The page
# cache of a file on a real block-backed filesystem (ext2 on a loop device
# whose backing file, on /tmp, is filled before, outside the cgroup, so that
# only the page cache is charged to it) fills the 64 MiB limit again and
# again: the kernel counts `max` events and modifies memory.events each
# time, which is what rinit's inotify watch wakes on. The program counts
# rinit's wake-ups (voluntary context switches of /proc/1, rinit in its own
# PID namespace: each sleep in ppoll is one) over 3 idle seconds, then over
# 10 s of writes, with the uptime and the cgroup's `max` count before and
# after.
. /scenarios/lib.sh
if ! [ -e /dev/loop0 ]; then
    insmod /lib/loop.ko || { echo "program: no loop device (scripts/vm/fetch.sh puts loop.ko in the cache)"; exit 3; }
fi
dd if=/dev/zero of=/tmp/disk.img bs=1M count=200 2>/dev/null
losetup /dev/loop0 /tmp/disk.img
mke2fs -q /dev/loop0 >/dev/null 2>&1
mkdir -p /mnt
mount -t ext2 /dev/loop0 /mnt
memory_cgroup cache-at-limit 64M
export EVENTS="$CG/$MEMCG/memory.events"
in_cgroup "$MEMCG" $NS rinit -- sh -c '
    wakeups() { sed -n "s/^voluntary_ctxt_switches:[^0-9]*//p" /proc/1/status; }
    count() { sed -n "s/^$1 //p" "$EVENTS"; }
    uptime() { cut -d" " -f1 /proc/uptime; }
    until ls -l /proc/1/fd | grep -q memory.events; do :; done
    a=$(wakeups); sleep 3; b=$(wakeups)
    echo "program: idle wakeups $((b - a)) in 3 s"
    a=$(wakeups); m=$(count max); t=$(uptime)
    # 10 s of writes of 100 MiB each (under TCG one takes a few seconds).
    end=$(( ${t%.*} + 10 ))
    while [ "$(cut -d. -f1 /proc/uptime)" -lt $end ]; do timeout 30 dd if=/dev/zero of=/mnt/f bs=1M count=100 2>/dev/null || exit 4; done
    b=$(wakeups); n=$(count max); u=$(uptime)
    echo "program: writes wakeups $((b - a)) max events $((n - m)) from $t to $u"
    sleep 1; exit 0'
echo "after: rinit exit $?"
umount /mnt
losetup -d /dev/loop0
rm -f /tmp/disk.img
# Not oom_after's line: /init would run the scenario again for a count of 0.
echo "after: OOM kills $(sed -n 's/^oom_kill //p' "$EVENTS")"
