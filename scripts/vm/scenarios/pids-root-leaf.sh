# --pids-max at the root cgroup: rinit enables +pids for the root's children,
# makes a leaf, moves in, and removes the leaf at exit; an empty leaf that a
# SIGKILLed rinit left behind goes first. Must run first in its boot: it
# checks that +pids was not enabled before.
. /scenarios/lib.sh
mkdir "$CG/rinit-77-0badcafe"
echo "before: subtree_control '$(cat $CG/cgroup.subtree_control)'"
$NS rinit --pids-max 12 -t 1 -- sh -c '
    cg=/sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup)
    echo "program: cgroup $cg"
    echo "program: pids.max $(cat $cg/pids.max)"
    # A refused fork ends the shell that tried it: a subshell tries.
    (i=0; while [ $i -lt 30 ]; do sleep 1000 & i=$((i+1)); done) 2>/dev/null
    echo "program: pids.current $(cat $cg/pids.current)"
    echo "program: pids.events $(cat $cg/pids.events)"
    exit 0'
echo "after: rinit exit $?"
echo "after: subtree_control '$(cat $CG/cgroup.subtree_control)'"
echo "after: leaves '$(cd $CG && ls -d rinit-* 2>/dev/null)'"
