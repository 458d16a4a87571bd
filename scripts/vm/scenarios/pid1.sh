# rinit as the VM's PID 1 (exec'd by /init), with --pids-max at the root
# cgroup. The program starts a daemon that says goodbye on SIGTERM, waits
# until it is ready, and exits 3: rinit must SIGTERM the daemon, wait for it,
# and exit 3 itself, which the kernel shows as exitcode=0x00000300.
mkfifo /tmp/ready
exec rinit -v --pids-max 40 -t 30 -- sh -c '
    cg=/sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup)
    echo "program: pid $$ cgroup $cg pids.max $(cat $cg/pids.max)"
    sh -c "trap \"echo daemon: got SIGTERM; exit 0\" TERM; sleep 1000 & echo ready > /tmp/ready; wait" &
    read -r _ < /tmp/ready
    echo "program: daemon ready, exiting 3"
    exit 3'
