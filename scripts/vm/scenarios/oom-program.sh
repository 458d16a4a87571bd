# The program itself is OOM-killed: named, with the limit.
. /scenarios/lib.sh
memory_cgroup oom-program 32M
in_cgroup oom-program $NS rinit -- sh -c "$ALLOCATE"
echo "after: rinit exit $?"
echo "after: oom_kill $(oom_kills oom-program)"
# Who the kernel killed in this scenario, and who set it off (-c: the next
# scenario shows only its own); for the diagnosis of a failure.
dmesg -c | grep -E "invoked oom-killer|Killed process" | sed "s/^/kernel: /"
