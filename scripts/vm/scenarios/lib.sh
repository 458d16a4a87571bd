# Sourced by the scenarios: what they share. Output lines that the tests
# (tests/vm.rs) look for start with a word and a colon: "program:", "after:".

CG=/sys/fs/cgroup

# Shell code that makes itself the OOM killer's first choice, then doubles a
# string until the kernel kills it (256 MiB at most, should no limit hold).
# Nothing else in the cgroup allocates while the victim dies. It starts once
# rinit (PID 1 of the namespace) holds memory.events open: the OOM watch is
# set up a few milliseconds after start.
ALLOCATE='until ls -l /proc/1/fd | grep -q memory.events; do :; done; echo 1000 > /proc/self/oom_score_adj; i=0; x=1; while [ $i -lt 28 ]; do x=$x$x; i=$((i+1)); done'

# Put before a command, makes it PID 1 of a new PID namespace with its own
# /proc, as the host tests do with util-linux's unshare (unquoted: $NS cmd).
NS="unshare -p -f --mount-proc"

# Runs a command inside the cgroup $CG/$1 (made if missing).
in_cgroup() {
    dir="$CG/$1"
    shift
    mkdir -p "$dir"
    sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$dir" "$@"
}

# Enables controllers for the root's children.
enable() {
    for c in "$@"; do echo "+$c" > "$CG/cgroup.subtree_control"; done
}

# A memory cgroup limited to $2, without swap, named $1 and the attempt
# (/init runs an OOM scenario again in a fresh cgroup when the kernel made
# a second OOM kill): its name is left in $MEMCG.
memory_cgroup() {
    MEMCG="$1-${ATTEMPT:-1}"
    enable memory
    mkdir -p "$CG/$MEMCG"
    echo "$2" > "$CG/$MEMCG/memory.max"
    echo 0 > "$CG/$MEMCG/memory.swap.max"
}

# After an OOM scenario: the oom_kill count of the memory cgroup $CG/$1, and
# who the kernel killed and who set it off (dmesg -c: the next scenario shows
# only its own), for the diagnosis of a failure.
oom_after() {
    echo "after: oom_kill $(sed -n 's/^oom_kill //p' "$CG/$1/memory.events")"
    dmesg -c | grep -E "invoked oom-killer|Killed process" | sed "s/^/kernel: /"
}
