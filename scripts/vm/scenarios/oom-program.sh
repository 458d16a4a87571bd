# The program itself is OOM-killed: named, with the limit.
. /scenarios/lib.sh
memory_cgroup oom-program 32M
in_cgroup "$MEMCG" $NS rinit -- sh -c "$ALLOCATE"
echo "after: rinit exit $?"
oom_after "$MEMCG"
