# --pids-max in a non-root cgroup that has the pids controller: rinit sets
# that cgroup's pids.max and puts it back at exit; a lower limit is kept, and
# a value someone else set while rinit ran is not overwritten.
. /scenarios/lib.sh
enable pids
mkdir "$CG/ctr"
run() {
    in_cgroup ctr $NS rinit --pids-max 40 -- sh -c "echo \"program: pids.max \$(cat $CG/ctr/pids.max)\"; $1"
}
echo 100 > "$CG/ctr/pids.max"
echo "case: higher limit there"
run "exit 0"
echo "after: pids.max $(cat $CG/ctr/pids.max)"
echo 20 > "$CG/ctr/pids.max"
echo "case: lower limit there"
run "exit 0"
echo "after: pids.max $(cat $CG/ctr/pids.max)"
echo 100 > "$CG/ctr/pids.max"
echo "case: changed while rinit runs"
run "echo 30 > $CG/ctr/pids.max"
echo "after: pids.max $(cat $CG/ctr/pids.max)"
