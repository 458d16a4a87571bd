# An orphan that rinit reaps is OOM-killed: named, with its pid. The program
# waits, without allocating, for the end of the pipe the orphan holds, then
# exits normally.
. /scenarios/lib.sh
memory_cgroup oom-orphan 32M
in_cgroup "$MEMCG" $NS rinit -- sh -c "( ($ALLOCATE) & echo \"program: orphan pid \$!\" >&2 ) | read -r _; exit 0"
echo "after: rinit exit $?"
oom_after "$MEMCG"
