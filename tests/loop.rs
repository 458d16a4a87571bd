//! The supervising loop under load and in odd setups (issue 19), with the
//! real binary: a zombie flood must not hold off a signal or the grace,
//! plain `unshare -pf` (the host's /proc) must not cost the others their
//! SIGTERM, a kill that only the program could get is still counted, and
//! `-g` sends SIGCONT only to a stopped program.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
use common::*;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The program of the flood test: 4,000 idle orphans (each `wait4` of
/// rinit's walks them all; the static busybox, the quickest to start),
/// then three loops that make orphan zombies as
/// fast as they can; it reports a SIGTERM on fd 3 and otherwise ignores it.
const FLOOD: &str = r#"
    open(my $out, ">&=3"); $out->autoflush(1);
    $SIG{TERM} = sub { print $out "TERM\n" };
    my $mid = fork;
    if (!$mid) { for (1..4000) { my $p = fork; if (defined $p && !$p) { exec "busybox", "sleep", "1000"; exit 1 } } exit 0 }
    waitpid($mid, 0);
    for (1..3) {
        next if fork;
        $SIG{TERM} = "DEFAULT";
        while (1) { my $p = fork; if (defined $p && !$p) { fork; exit 0 } waitpid($p, 0) if $p }
    }
    print $out "ready\n";
    sleep 1000 while 1;
"#;

#[test]
fn a_zombie_flood_holds_off_neither_a_signal_nor_the_grace() {
    if common::skip_under_qemu() {
        return;
    }
    // One CPU for everyone, as in the report: on 3d41bee the SIGTERM stayed
    // pending for 12.4 s while rinit reaped, and no SIGKILL came at the
    // grace. The bounds below are liveness bounds with wide headroom (the
    // aim is 50 ms), not timings: the figures are in BENCHMARKS.md.
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "1", "unshare"]).args(unshare_args()).arg(rinit()).args(["-t", "3s", "--", "perl", "-e", FLOOD]);
    let mut r = Pid1::launch(cmd);
    // 4,000 forks on one shared CPU: more than the usual patience under
    // load (a CI pass at a load average near 90 ran out of its 20 s).
    assert_eq!(r.lines.next_within(Duration::from_secs(90)).as_deref(), Some("ready"));
    // taskset execs unshare: rinit is its child.
    let rinit_pid = child_of(r.child.id() as i32);
    let sent = Instant::now();
    // SAFETY: plain kill.
    assert_eq!(unsafe { libc::kill(rinit_pid, libc::SIGTERM) }, 0);
    r.lines.expect("TERM");
    let forwarded = sent.elapsed();
    assert!(forwarded < Duration::from_secs(2), "SIGTERM reached the program {forwarded:?} after it was sent");
    let end = r.wait();
    let took = sent.elapsed();
    // The program ignores SIGTERM: SIGKILL at the 3 s grace, exit 137.
    assert_eq!(end.code, Some(137), "{}", end.stderr);
    // The grace (3 s) and give-up (1 s) bound it; reaping 4,000 zombies one
    // wait4 at a time on a shared CPU adds seconds (4.7 s seen beside two
    // busy loops on that CPU). On 3d41bee it did not end within 20 s.
    assert!(took < Duration::from_secs(12), "rinit exited {took:?} after SIGTERM with a grace of 3 s");
    assert!(summary(&end.stderr).contains("needed SIGKILL"), "{}", end.stderr);
}

/// A program that ignores SIGTERM (perl, one process: /proc/$! would name
/// a host process where /proc is the host's) with a child that reports
/// its SIGTERM on fd 3 and exits.
const IGNORES_TERM_WITH_A_CLEANER: &str = r#"
    open(my $out, ">&=3"); $out->autoflush(1);
    pipe(my $r, my $w);
    if (!fork) {
        $SIG{TERM} = sub { print $out "child TERM\n"; exit 0 };
        close $r; close $w;
        sleep 1000 while 1;
    }
    close $w; $SIG{TERM} = "IGNORE"; $SIG{QUIT} = "IGNORE";
    print $out "ready\n";
    sleep 1000 while 1;
"#;

/// rinit as PID 1 of `unshare` without `--mount-proc` (the host's /proc),
/// with `user`: also in a user namespace of its own but not a mount
/// namespace, where no proc instance can be mounted.
fn pid1_with_host_proc(user: bool, rinit_args: &[&str]) -> Pid1 {
    let mut cmd = unshare_keeping_host_proc();
    if user && is_root() {
        cmd.args(["--user", "--map-root-user"]);
    }
    cmd.arg(rinit()).args(rinit_args).args(["--", "perl", "-e", IGNORES_TERM_WITH_A_CLEANER]);
    let mut r = Pid1::launch(cmd);
    r.lines.expect("ready");
    r
}

#[test]
fn with_the_hosts_proc_the_others_get_sigterm_by_half_the_grace() {
    if common::skip_under_qemu() {
        return;
    }
    if !is_root() {
        skip("a private proc instance needs root: run as root");
        return;
    }
    // rinit lists a proc instance of its own, mounted nowhere: the child is
    // found and signalled like any listed process.
    let mut r = pid1_with_host_proc(false, &["-t", "2s"]);
    r.signal(libc::SIGTERM);
    r.lines.expect("child TERM");
    let end = r.wait();
    assert_eq!(end.code, Some(137), "{}", end.stderr);
    let line = summary(&end.stderr);
    assert!(line.contains("2 processes got SIGTERM, 1 needed SIGKILL (pid 2 'perl')"), "{line}");
}

#[test]
fn with_no_proc_of_its_own_at_all_the_others_get_sigterm_through_kill_all() {
    // No proc instance can be had: kill(-1) reaches everyone, the program
    // included, which takes a second SIGTERM (its first was one too).
    let mut r = pid1_with_host_proc(true, &["-t", "2s"]);
    r.signal(libc::SIGTERM);
    r.lines.expect("child TERM");
    let end = r.wait();
    assert_eq!(end.code, Some(137), "{}", end.stderr);
    assert!(end.stderr.contains("no proc instance of rinit's own can be had"), "{}", end.stderr);
    let line = summary(&end.stderr);
    assert!(
        line.contains("every process got SIGTERM through kill(-1), the rest got SIGKILL through kill(-1)"),
        "{line}"
    );
}

#[test]
fn with_no_proc_and_sigterm_rewritten_the_program_never_gets_a_raw_sigterm() {
    // -r TERM:QUIT: a kill(-1) SIGTERM would give the program the very
    // signal -r took away, so the others' waits for the program's end, and
    // here the program ignores QUIT: SIGKILL for everyone at the grace, and
    // the summary does not claim a SIGTERM that was never sent.
    let mut r = pid1_with_host_proc(true, &["-t", "1s", "-r", "TERM:QUIT"]);
    r.signal(libc::SIGTERM);
    let end = r.wait_within(PATIENCE);
    assert_eq!(end.code, Some(137), "{}", end.stderr);
    assert_eq!(r.lines.next_within(Duration::from_secs(5)), None, "the child got no SIGTERM");
    let line = summary(&end.stderr);
    assert!(line.contains("0 processes got SIGTERM, the rest got SIGKILL through kill(-1)"), "{line}");
}

#[test]
fn not_pid_1_without_proc_a_program_killed_at_the_grace_is_counted_and_warned_about() {
    // rinit is pid 2 of a namespace whose /proc is the host's, in a user
    // namespace where it cannot mount its own: only the program can be
    // reached. It ignores SIGTERM, so the grace SIGKILLs it: the summary
    // counts it and, at the default level, warns.
    let mut cmd = unshare_keeping_host_proc();
    if is_root() {
        cmd.args(["--user", "--map-root-user"]);
    }
    let script = format!("{} -t 1 -- sh -c 'trap \"\" TERM; echo ready >&3; exec sleep 1000'; echo \"rinit $?\" >&3", p(&rinit()));
    cmd.args(["sh", "-c", &script]);
    let mut r = Pid1::launch(cmd);
    r.lines.expect("ready");
    let rinit_pid = child_of(r.child.id() as i32);
    let rinit_pid = child_of(rinit_pid);
    // SAFETY: plain kill.
    assert_eq!(unsafe { libc::kill(rinit_pid, libc::SIGTERM) }, 0);
    r.lines.expect("rinit 137");
    let end = r.wait();
    let line = summary(&end.stderr);
    assert!(line.contains("1 process got SIGTERM, 1 needed SIGKILL (pid ") && line.contains("'sh')"), "{line}");
}

#[test]
fn process_group_mode_sends_no_sigcont_to_a_program_that_was_not_stopped() {
    let script = r#"
        trap 'echo CONT >&3' CONT
        trap 'echo TERM >&3' TERM
        trap 'echo USR1 >&3; exit 0' USR1
        echo ready >&3
        while :; do sleep 100 & wait $!; done"#;
    // A short grace: a `sleep` forked just as USR1 came lives on in the
    // program's group (which had its SIGTERM already), until the grace.
    let mut r = Pid1::start(&["-g", "-t", "2s"], script);
    r.lines.expect("ready");
    r.signal(libc::SIGTERM);
    r.lines.expect("TERM");
    // A SIGCONT sent with the SIGTERM would be reported before this.
    r.signal(libc::SIGUSR1);
    r.lines.expect("USR1");
    assert_eq!(r.wait().code, Some(0));
}

#[test]
fn a_signal_the_kernel_raises_at_rinit_for_its_own_write_is_not_forwarded() {
    // rinit's stderr is a file at RLIMIT_FSIZE: each log line's write fails
    // with EFBIG and the kernel raises SIGXFSZ at rinit, as sent by rinit.
    // On the reshaped loop before the fix that SIGXFSZ was forwarded (the
    // program's default action: die) and, under -vvv, each forward's own
    // log line raised the next one: PID 1 busy for ever.
    let dir = temp_dir("fsize");
    let log = dir.join("stderr");
    std::fs::write(&log, vec![b'x'; 4096]).unwrap();
    let script = r#"
        trap 'echo USR1 >&3' USR1; trap 'echo XFSZ >&3' XFSZ; trap 'echo TERM >&3; exit 3' TERM
        echo ready >&3
        while :; do sleep 100 & wait $!; kill $! 2>/dev/null; done"#;
    let inner = format!(
        "exec unshare {} prlimit --fsize=1024 {} -vvv -- sh -c '{}' 2>>{}",
        unshare_args().join(" "),
        p(&rinit()),
        script.replace('\'', "'\\''"),
        p(&log)
    );
    let mut r = Pid1::launch({
        let mut c = Command::new("sh");
        c.args(["-c", &inner]);
        c
    });
    r.lines.expect("ready");
    // sh execs unshare, which forks rinit: prlimit execs it, so it is PID 1.
    let rinit_pid = child_of(r.child.id() as i32);
    // SAFETY: plain kill.
    assert_eq!(unsafe { libc::kill(rinit_pid, libc::SIGUSR1) }, 0);
    r.lines.expect("USR1");
    // SAFETY: plain kill.
    assert_eq!(unsafe { libc::kill(rinit_pid, libc::SIGTERM) }, 0);
    r.lines.expect("TERM");
    let end = r.wait();
    assert_eq!(end.code, Some(3), "the program's own status");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn under_w_a_process_from_outside_is_looked_for_again_until_it_has_gone() {
    // As PID 1 with no child left but a process that came in through
    // nsenter, rinit looks again every few milliseconds whether it has gone.
    // Under -w (rinit reaps each child itself) the look's deadline was
    // answered by a tick that never looked: rinit spun on a zero timeout
    // until the give-up at T+G+1 s (a second review: 4.06 s with -t 3).
    let dir = temp_dir("outside");
    let [program, inside, release] = ["program", "inside", "release"].map(|f| dir.join(f));
    for f in [&program, &inside, &release] {
        assert!(Command::new("mkfifo").arg(f).status().unwrap().success());
    }
    let mut cmd = namespaced(&["-w", "-t", "60s"], &["sh", "-c", "echo ready >&3; read x < \"$FIFO\"; exit 4"]);
    cmd.env("FIFO", &program);
    let mut r = Pid1::launch(cmd);
    r.lines.expect("ready");
    let rinit_pid = r.rinit_pid();
    let program_pid = child_of(rinit_pid);
    let mut outsider = Command::new("nsenter")
        .args(["-t", &rinit_pid.to_string(), "-p", "-m", "--", "sh", "-c", "trap '' TERM; echo in > \"$IN\"; read y < \"$OUT\""])
        .env("IN", &inside)
        .env("OUT", &release)
        .spawn()
        .unwrap();
    assert_eq!(std::fs::read_to_string(&inside).unwrap(), "in\n");
    // The program ends; rinit has no child left, the outsider (which
    // ignores the shutdown's SIGTERM) is there.
    std::fs::write(&program, "go\n").unwrap();
    assert!(wait_until(PATIENCE, || is_gone(program_pid as u32)), "the program ended");
    let started = Instant::now();
    std::fs::write(&release, "go\n").unwrap();
    assert!(outsider.wait().unwrap().success());
    let end = r.wait();
    let took = started.elapsed();
    assert_eq!(end.code, Some(4), "{}", end.stderr);
    // A bound with room (the look is every 10 ms): the grace is 60 s.
    assert!(took < Duration::from_secs(5), "rinit exited {took:?} after the outsider went");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The program of the listing tests: $KIDS children asleep (they die of
/// SIGTERM), reported ready on fd 3; it ignores SIGTERM itself, so the
/// others get theirs from a listing at half the grace.
const MANY_CHILDREN: &str = r#"
    open(my $out, ">&=3"); $out->autoflush(1);
    $SIG{TERM} = "IGNORE";
    for (1..$ENV{KIDS}) { my $p = fork; if (defined $p && !$p) { $SIG{TERM} = "DEFAULT"; exec "busybox", "sleep", "1000"; exit 1 } }
    print $out "ready\n";
    sleep 1000 while 1;
"#;

/// strace attached to `pid` (its waits and opens only), until it exits;
/// the trace's lines.
fn trace_until_exit(pid: i32, r: Pid1, dir: &std::path::Path) -> (Ended, Vec<String>) {
    let trace = dir.join("trace");
    let mut strace = Command::new("strace")
        .arg("-o")
        .arg(&trace)
        .args(["-e", "trace=ppoll,rt_sigtimedwait,openat", "-p", &pid.to_string()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // strace says "Process N attached" on stderr once it traces.
    let mut attached = std::io::BufReader::new(strace.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut attached, &mut line).unwrap();
    assert!(line.contains("attached"), "{line}");
    // SAFETY: plain kill.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let end = r.wait();
    assert!(strace.wait().unwrap().success());
    (end, std::fs::read_to_string(&trace).unwrap().lines().map(String::from).collect())
}

/// The longest run of `stat` reads with no wait between them, and how many
/// waits came between the first and the last `stat` read.
fn stat_runs(trace: &[String]) -> (usize, usize) {
    let is_stat = |l: &String| l.starts_with("openat(") && l.contains("/stat\"");
    let is_wait = |l: &String| l.starts_with("ppoll(") || l.starts_with("rt_sigtimedwait(");
    let (Some(first), Some(last)) = (trace.iter().position(is_stat), trace.iter().rposition(is_stat)) else {
        return (0, 0);
    };
    let span = &trace[first..=last];
    let longest = span.split(is_wait).map(|run| run.iter().filter(|l| is_stat(l)).count()).max().unwrap_or(0);
    (longest, span.iter().filter(|l| is_wait(l)).count())
}

#[test]
fn the_sigterm_to_a_thousand_others_goes_out_between_waits() {
    // rinit(1) SHUTDOWN: listings of /proc go at most 5 ms at a time
    // between two looks at signals and deadlines. As PID 1 with the program
    // alive at half the grace, 1,000 others are listed and SIGTERMed: the
    // trace shows waits among the `stat` reads (before: one run of 1,000),
    // and the summary counts every process once over all the slices. The
    // round has the second half of an 8 s grace: strace stops rinit at each
    // of its system calls, and under CI's load 2,000 others had not all
    // had their SIGTERM within 2 s (1,031 had).
    if common::skip_under_qemu() {
        return;
    }
    let dir = temp_dir("round");
    let mut cmd = namespaced(&["-t", "8s"], &["perl", "-e", MANY_CHILDREN]);
    cmd.env("KIDS", "1000");
    let mut r = Pid1::launch(cmd);
    r.lines.expect("ready");
    let pid = r.rinit_pid();
    let (end, trace) = trace_until_exit(pid, r, &dir);
    assert_eq!(end.code, Some(137), "{}", end.stderr);
    let line = summary(&end.stderr);
    assert!(line.contains("1001 processes got SIGTERM, 1 needed SIGKILL (pid 2 'perl')"), "{line}");
    let (longest, waits) = stat_runs(&trace);
    // Fewer than all 1,001 in one run: how many fit in a 5 ms slice is the
    // machine's speed (735 and 793 on an idle 2-CPU VM under strace, fewer
    // than 500 under CI's load), a listing in one go is every one.
    assert!(waits >= 2 && longest < 1000, "longest run of stat reads {longest}, waits among them {waits}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn not_pid_1_the_listing_goes_out_between_waits_and_descendants_get_sigterm() {
    // Not PID 1 (pid 2 under a shell, a subreaper), rinit lists the whole
    // /proc it sees to find its descendants (on a host, the host's): that
    // listing too goes a slice at a time, and the descendants get
    // SIGTERM once it is in (500, fewer than as PID 1, and a 10 s grace:
    // under strace each of a pidfd signal's seven system calls is slow, and
    // in a CI pass at a load average of 176, 1,000 had their SIGTERM too
    // late in an 8 s grace to have died by its end). In a namespace of its
    // own so that nothing outlives a failed run.
    if common::skip_under_qemu() {
        return;
    }
    let dir = temp_dir("round-pid2");
    let script = format!("{} -s -t 10s -- perl -e \"$PROG\"; exit $?", p(&rinit()));
    let mut cmd = Command::new("unshare");
    cmd.args(unshare_args()).args(["sh", "-c", &script]);
    cmd.env("KIDS", "500").env("PROG", MANY_CHILDREN);
    let mut r = Pid1::launch(cmd);
    r.lines.expect("ready");
    // unshare forks the shell (PID 1), which forks rinit.
    let pid = child_of(child_of(r.child.id() as i32));
    let (end, trace) = trace_until_exit(pid, r, &dir);
    assert_eq!(end.code, Some(137), "{}", end.stderr);
    let line = summary(&end.stderr);
    assert!(line.contains("501 processes got SIGTERM, 1 needed SIGKILL (pid ") && line.contains("'perl')"), "{line}");
    let (longest, waits) = stat_runs(&trace);
    // Fewer than all 500 in one run (as above: the slice is 5 ms).
    assert!(waits >= 2 && longest < 500, "longest run of stat reads {longest}, waits among them {waits}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A fork bomb that ignores SIGTERM: every process forks for ever (at the
/// pids limit fork fails and is tried again).
const BOMB: &str = r#"$SIG{TERM} = "IGNORE"; while (1) { fork }"#;

#[test]
fn not_pid_1_what_a_fork_storm_leaves_running_is_said() {
    // rinit(1) SHUTDOWN: rinit gives up 1 s after the grace "with a warning
    // that names what is left". Not PID 1, a bomb on one CPU outlives the
    // SIGKILL rounds (each kill frees a pid another process forks into),
    // and every process of it is newer than the last whole listing: a
    // review saw rinit give up with 200 of them running and the summary
    // silent about them. rinit runs as pid 2 under a shell, capped by
    // --pids-max so that the bomb stays small; the shell counts what is
    // left once rinit has exited.
    if !Path::new("/sys/fs/cgroup/pids").exists() {
        skip("no cgroup v1 pids hierarchy here (--pids-max caps the bomb)");
        return;
    }
    if common::skip_under_qemu() {
        return;
    }
    let dir = temp_dir("bomb");
    let err = dir.join("stderr");
    let script = format!(
        "taskset -c 1 {} -v --pids-max 120 -t 1s -- perl -e \"$BOMB\" 2>\"$ERR\" & r=$!\n\
         until [ \"$(ls /proc | grep -c '^[0-9]')\" -ge 100 ]; do :; done\n\
         kill -TERM $r; wait $r; echo \"rinit $?\"\n\
         echo \"left $(ls /proc | grep -c '^[0-9]')\"",
        p(&rinit())
    );
    let out = Command::new("unshare").args(unshare_args()).args(["sh", "-c", &script]).env("BOMB", BOMB).env("ERR", &err).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = std::fs::read_to_string(&err).unwrap();
    assert!(stdout.contains("rinit 137"), "{stdout}{stderr}");
    // The shell, its `ls` and `grep` and their subshell: 4 are not the bomb.
    let left: usize = stdout.lines().find_map(|l| l.strip_prefix("left ")).unwrap().trim().parse().unwrap();
    let line = summary(&stderr);
    eprintln!("{} of the bomb left when rinit exited: {line}", left.saturating_sub(4));
    if left > 4 {
        assert!(line.contains("still running when rinit gave up"), "{} left, and the summary: {line}", left - 4);
    }
    std::fs::remove_dir_all(dir).unwrap();
}
