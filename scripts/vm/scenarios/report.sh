# The exit report (issue 23) against the v2 cgroup's own files: the program
# touches 64 MiB (dd's buffer), burns 1 s of its own CPU time (utime, field
# 14 of its stat), holds 20 more processes at once, and exits 0. The files
# are read after rinit has exited. Runs after the pids scenarios (it
# enables +pids).
. /scenarios/lib.sh
enable pids
memory_cgroup report 256M
known='dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null || exit 9
while :; do j=0; while [ $j -lt 500 ]; do j=$((j+1)); done; read -r s < /proc/$$/stat; set -- $s; [ "${14}" -lt 100 ] || break; done
pids=; i=0; while [ $i -lt 20 ]; do sleep 1000 & pids="$pids $!"; i=$((i+1)); done
kill $pids; wait; exit 0'
in_cgroup "$MEMCG" $NS rinit --report --report-file /tmp/report.json -- sh -c "$known"
echo "after: rinit exit $?"
echo "after: json $(cat /tmp/report.json)"
d="$CG/$MEMCG"
for key in usage_usec user_usec system_usec; do
    echo "after: $key $(sed -n "s/^$key //p" "$d/cpu.stat")"
done
echo "after: memory.peak $(cat "$d/memory.peak")"
echo "after: memory.max $(cat "$d/memory.max")"
echo "after: pids.peak $(cat "$d/pids.peak")"
echo "after: memory.events oom_kill $(sed -n 's/^oom_kill //p' "$d/memory.events")"
