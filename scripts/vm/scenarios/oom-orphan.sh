# An orphan that rinit reaps is OOM-killed: named, with its pid. The program
# waits, without allocating, for the end of the pipe the orphan holds, then
# exits normally.
. /scenarios/lib.sh
memory_cgroup oom-orphan 32M
in_cgroup oom-orphan $NS rinit -- sh -c "( ($ALLOCATE) & echo \"program: orphan pid \$!\" >&2 ) | read -r _; exit 0"
echo "after: rinit exit $?"
echo "after: oom_kill $(oom_kills oom-orphan)"
# Who the kernel killed in this scenario, and who set it off (-c: the next
# scenario shows only its own); for the diagnosis of a failure.
dmesg -c | grep -E "invoked oom-killer|Killed process" | sed "s/^/kernel: /"
