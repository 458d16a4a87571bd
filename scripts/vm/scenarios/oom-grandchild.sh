# A grandchild that its own parent (the program's shell) reaps is OOM-killed:
# rinit never reaps it, yet reports the kill when it happens. Then a plain
# SIGKILL of an orphan that rinit reaps must not be blamed on the OOM killer.
# rinit's log goes to a file, so that the orphan is killed once rinit has
# reported (a kill in the moment before could be taken for the victim:
# README); the log is shown at the end.
. /scenarios/lib.sh
memory_cgroup oom-grandchild 32M
in_cgroup "$MEMCG" $NS rinit -- sh -c "
    ( $ALLOCATE )
    echo \"program: subshell status \$?\"
    until grep -q 'OOM killer' /tmp/rinit.log; do :; done
    ( sleep 1000 & echo \$! > /tmp/orphan )
    kill -KILL \$(cat /tmp/orphan)
    echo \"program: killed orphan \$(cat /tmp/orphan)\"
    exit 0" 2>/tmp/rinit.log
echo "after: rinit exit $?"
cat /tmp/rinit.log
oom_after "$MEMCG"
