# A grandchild that its own parent (the program's shell) reaps is OOM-killed:
# rinit never reaps it, yet reports the kill when it happens. Then a plain
# SIGKILL of an orphan that rinit reaps must not be blamed on the OOM killer.
. /scenarios/lib.sh
memory_cgroup oom-grandchild 32M
in_cgroup oom-grandchild $NS rinit -- sh -c "
    ( $ALLOCATE )
    echo \"program: subshell status \$?\"
    ( sleep 1000 & echo \$! > /tmp/orphan )
    kill -KILL \$(cat /tmp/orphan)
    echo \"program: killed orphan \$(cat /tmp/orphan)\"
    exit 0"
echo "after: rinit exit $?"
echo "after: oom_kill $(oom_kills oom-grandchild)"
