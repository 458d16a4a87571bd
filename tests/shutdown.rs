//! rinit(1) SHUTDOWN: the graceful shutdown, with the real binary. Timing bounds are
//! read from rinit's own summary line ("took N.NNNs", measured by rinit from
//! T) where they must be tight, so that a loaded test machine does not make
//! them flaky; the test's own clock only bounds them loosely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
use common::*;

use std::process::Command;
use std::time::{Duration, Instant};

/// A shell job that reports `NAME ready` on fd 3 (and to `$FIFO` if set, so
/// the program can wait for it), and on SIGTERM reports `NAME cleaned` and
/// exits 0. It is ready only once its `sleep` child has exec'd: a child still
/// between fork and exec runs the shell's inherited TERM trap instead of
/// dying, and would then need the SIGKILL at the grace.
fn cleaner(name: &str) -> String {
    format!(
        r#"sh -c 'trap "echo {name} cleaned >&3; exit 0" TERM; sleep 1000 & s=$!; while [ "$(cat /proc/$s/comm 2>/dev/null)" != sleep ]; do :; done; echo {name} ready >&3; [ -n "$FIFO" ] && echo x > "$FIFO"; wait $s'"#
    )
}

/// The shutdown summary line from rinit's stderr, and its "took" in seconds.
fn summary(stderr: &str) -> (String, f64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("[rinit] shutdown: "))
        .unwrap_or_else(|| panic!("no summary line in: {stderr}"))
        .to_string();
    let took = line
        .rsplit_once("took ")
        .and_then(|(_, t)| t.strip_suffix('s'))
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no time in: {line}"));
    (line, took)
}

fn with_fifo(mut cmd: Command) -> (Command, std::path::PathBuf) {
    let dir = temp_dir("fifo");
    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    cmd.env("FIFO", &fifo);
    (cmd, dir)
}

#[test]
fn a_setsid_daemon_cleans_up_on_sigterm_to_rinit() {
    let script = format!(
        "setsid {} &\n read x < \"$FIFO\"; echo ready >&3; exec sleep 1000",
        cleaner("daemon")
    );
    let (cmd, dir) = with_fifo(namespaced(&["-v"], &["sh", "-c", &script]));
    let mut r = Pid1::launch(cmd);
    r.lines.expect("daemon ready");
    r.lines.expect("ready");
    r.signal(libc::SIGTERM);
    r.lines.expect("daemon cleaned");
    let end = r.wait();
    assert_eq!(end.code, Some(143), "the program died of the forwarded SIGTERM");
    let (line, took) = summary(&end.stderr);
    assert!(line.contains("0 needed SIGKILL"), "{line}");
    assert!(took < 1.0, "everyone complied, so no waiting out the 8s grace: {line}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_background_job_cleans_up_when_the_program_exits_by_itself() {
    let script = format!("{} &\n read x < \"$FIFO\"; exit 5", cleaner("job"));
    let (cmd, dir) = with_fifo(namespaced(&["-v"], &["sh", "-c", &script]));
    let mut r = Pid1::launch(cmd);
    r.lines.expect("job ready");
    r.lines.expect("job cleaned");
    let end = r.wait();
    assert_eq!(end.code, Some(5), "the program's own status: {}", end.stderr);
    let (line, took) = summary(&end.stderr);
    // The program has gone and nobody is spared: one kill(-1) reaches all.
    assert!(line.contains("every process got SIGTERM through kill(-1), ") && line.contains("0 needed SIGKILL"), "{line}");
    assert!(took < 1.0, "{line}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_program_ignoring_sigterm_is_killed_at_the_grace() {
    if common::skip_under_qemu() {
        return;
    }
    // Everything ignores SIGTERM (the trap is inherited by sleep as SIG_IGN).
    let mut r = Pid1::start(&["-v", "-t", "1"], "trap '' TERM; echo ready >&3; exec sleep 1000");
    r.lines.expect("ready");
    let sent = Instant::now();
    r.signal(libc::SIGTERM);
    let end = r.wait();
    let outside = sent.elapsed();
    assert_eq!(end.code, Some(137), "{}", end.stderr);
    let (line, took) = summary(&end.stderr);
    // rinit's own clock: SIGKILL at T+1s, exit right after.
    assert!((1.0..1.1).contains(&took), "killed within 100 ms of the grace: {line}");
    assert!(line.contains("1 needed SIGKILL (pid 2 'sleep')"), "{line}");
    assert!(outside >= Duration::from_secs(1) && outside < Duration::from_secs(5), "{outside:?}");
}

#[test]
fn an_orphan_ignoring_sigterm_is_killed_at_the_grace() {
    let script = r#"(trap '' TERM; echo x > "$FIFO"; exec sleep 1000) &
        read x < "$FIFO"; echo ready >&3; exit 0"#;
    let (cmd, dir) = with_fifo(namespaced(&["-v", "-t", "1s"], &["sh", "-c", script]));
    let mut r = Pid1::launch(cmd);
    r.lines.expect("ready");
    let end = r.wait();
    assert_eq!(end.code, Some(0), "the program's status: {}", end.stderr);
    let (line, took) = summary(&end.stderr);
    assert!((1.0..1.1).contains(&took), "{line}");
    assert!(line.contains("every process got SIGTERM through kill(-1), 1 needed SIGKILL") && line.contains("'sleep'"), "{line}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn others_get_sigterm_by_half_the_grace_when_the_program_is_slow() {
    // The program takes SIGTERM but does not exit; the job must still get
    // its SIGTERM at T+G/2 = 1s, before the SIGKILL at T+G = 2s.
    let script = format!(
        "{} &\n read x < \"$FIFO\"; trap 'echo prog got TERM >&3' TERM; echo ready >&3\n while :; do sleep 100 & wait $!; done",
        cleaner("job")
    );
    let (cmd, dir) = with_fifo(namespaced(&["-vv", "-t", "2"], &["sh", "-c", &script]));
    let mut r = Pid1::launch(cmd);
    r.lines.expect("job ready");
    r.lines.expect("ready");
    let sent = Instant::now();
    r.signal(libc::SIGTERM);
    r.lines.expect("prog got TERM");
    r.lines.expect("job cleaned");
    let job_at = sent.elapsed();
    assert!(job_at >= Duration::from_millis(950), "not before T+G/2: {job_at:?}");
    assert!(job_at < Duration::from_millis(1900), "well before T+G: {job_at:?}");
    let end = r.wait();
    assert_eq!(end.code, Some(137), "the program never exited: SIGKILL at the grace");
    let (line, took) = summary(&end.stderr);
    assert!((2.0..2.1).contains(&took), "{line}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn rinit_exits_as_soon_as_the_last_process_is_gone() {
    // Three jobs that each take a moment to clean up; with an 8s grace
    // rinit must leave right after the last one, not at the deadline.
    let script = format!(
        // One read-write open for all three: a line written while no reader
        // has the fifo open would be lost, and O_RDWR never sees EOF.
        "{a} & {b} & {c} &\n exec 4<>\"$FIFO\"; read x <&4; read x <&4; read x <&4; exit 0",
        a = cleaner("a"),
        b = cleaner("b"),
        c = cleaner("c")
    );
    let (cmd, dir) = with_fifo(namespaced(&["-v"], &["sh", "-c", &script]));
    let mut r = Pid1::launch(cmd);
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(r.lines.next());
    }
    let last_line = Instant::now();
    seen.sort();
    assert_eq!(seen, ["a cleaned", "a ready", "b cleaned", "b ready", "c cleaned", "c ready"]);
    let end = r.wait();
    // From the last job's final words to rinit (and unshare) gone: a few
    // milliseconds, nothing like the 8 s grace. The bound leaves room for a
    // loaded test machine.
    let after_last = last_line.elapsed();
    assert!(after_last < Duration::from_millis(250), "{after_last:?}");
    assert_eq!(end.code, Some(0));
    let (line, took) = summary(&end.stderr);
    assert!(took < 0.5, "{line}");
    assert!(end.elapsed < Duration::from_secs(5), "{:?}", end.elapsed);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn grace_zero_kills_at_once() {
    let mut r = Pid1::start(&["-v", "-t", "0"], "trap 'exit 0' TERM; echo ready >&3; while :; do sleep 100 & wait $!; done");
    r.lines.expect("ready");
    r.signal(libc::SIGTERM);
    let end = r.wait();
    assert_eq!(end.code, Some(137), "SIGKILL, not the program's graceful exit 0");
    let (line, took) = summary(&end.stderr);
    assert!(took < 0.5, "{line}");
    assert!(line.contains("0 processes got SIGTERM"), "{line}");
}

#[test]
fn a_stopped_process_is_woken_by_sigcont_and_terminates() {
    // The job stops itself; it can only run its SIGTERM trap once continued.
    let script = format!(
        "{} &\n job=$!\n read x < \"$FIFO\"; kill -STOP $job\n\
         while :; do set -- $(sed 's/.*) //' /proc/$job/stat); [ \"$1\" = T ] && break; done\n\
         echo stopped >&3; exit 0",
        cleaner("job")
    );
    let (cmd, dir) = with_fifo(namespaced(&["-v"], &["sh", "-c", &script]));
    let mut r = Pid1::launch(cmd);
    r.lines.expect("job ready");
    r.lines.expect("stopped");
    r.lines.expect("job cleaned");
    let end = r.wait();
    assert_eq!(end.code, Some(0));
    let (line, took) = summary(&end.stderr);
    assert!(took < 1.0 && line.contains("0 needed SIGKILL"), "{line}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn as_a_subreaper_only_descendants_are_signalled() {
    if common::skip_under_qemu() {
        return;
    }
    // A process outside rinit's tree, started by the test itself (and
    // killed by the guard even when an assertion fails).
    struct Outsider(std::process::Child);
    impl Drop for Outsider {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut outsider = Outsider(Command::new("sleep").arg("1000").spawn().unwrap());
    let script = format!("{} &\n read x < \"$FIFO\"; exit 3", cleaner("job"));
    let (cmd, dir) = with_fifo(direct(&["-s", "-v", "-t", "2"], &["sh", "-c", &script]));
    let mut r = Pid1::launch(cmd);
    r.lines.expect("job ready");
    r.lines.expect("job cleaned");
    let end = r.wait();
    assert_eq!(end.code, Some(3), "{}", end.stderr);
    let (line, took) = summary(&end.stderr);
    // The job, and the sleep it was waiting on: nothing else.
    assert!(line.contains("2 processes got SIGTERM, 0 needed SIGKILL"), "{line}");
    assert!(took < 1.0, "{line}");
    assert_eq!(outsider.0.try_wait().unwrap(), None, "a process outside rinit's tree was signalled");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_subreaper_also_signals_adopted_orphans() {
    if common::skip_under_qemu() {
        return;
    }
    // The orphan says it is ready only once its sleep runs: a SIGTERM that
    // reached the forked shell before it exec'd sleep would be taken by the
    // shell's trap, and the sleep would wait out the grace (seen: 8 s).
    let script = r#"(trap 'echo orphan cleaned >&3; exit 0' TERM; sleep 100 & s=$!
        while [ "$(cat /proc/$s/comm 2>/dev/null)" != sleep ]; do :; done
        echo x > "$FIFO"; while :; do wait $s; sleep 100 & s=$!; done) &
        read x < "$FIFO"; exit 0"#;
    let (cmd, dir) = with_fifo(direct(&["-s", "-v"], &["sh", "-c", script]));
    let mut r = Pid1::launch(cmd);
    r.lines.expect("orphan cleaned");
    let end = r.wait();
    assert_eq!(end.code, Some(0));
    let (line, took) = summary(&end.stderr);
    assert!(line.contains("0 needed SIGKILL") && took < 1.0, "{line}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn with_a_proc_of_another_namespace_shutdown_still_works() {
    // unshare without --mount-proc: rinit is PID 1 but /proc is the host's.
    let mut cmd = unshare_keeping_host_proc();
    // /proc/$! would name a host process here, so the job is one perl
    // process with a TERM handler instead of `cleaner`'s shell and sleep.
    let job = r#"perl -e '
        open(my $out, ">&=3"); $out->autoflush(1);
        $SIG{TERM} = sub { print $out "job cleaned\n"; exit 0 };
        print $out "job ready\n";
        open(my $f, ">", $ENV{FIFO}); print $f "x\n"; close $f;
        sleep 1000 while 1'"#;
    let script = format!("{job} &\n read x < \"$FIFO\"; echo ready >&3; exec sleep 1000");
    cmd.arg(rinit()).args(["-v", "--", "sh", "-c", &script]);
    let (cmd, dir) = with_fifo(cmd);
    let mut r = Pid1::launch(cmd);
    r.lines.expect("job ready");
    r.lines.expect("ready");
    r.signal(libc::SIGTERM);
    r.lines.expect("job cleaned");
    let end = r.wait();
    assert_eq!(end.code, Some(143), "{}", end.stderr);
    assert!(end.stderr.contains("does not show this PID namespace"), "{}", end.stderr);
    let (line, took) = summary(&end.stderr);
    assert!(took < 1.0, "{line}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn process_group_mode_does_not_signal_the_group_twice() {
    // Under -g the job shares the program's group and gets the forwarded
    // SIGTERM. It counts its SIGTERMs without exiting; rinit must not send it
    // another one when the program exits (SIGKILL ends it at the grace).
    // The program exits only once the job has handled the forwarded
    // SIGTERM (FIFO2), so a second one from rinit could not merge with it.
    let script = r#"sh -c 'n=0; trap "n=\$((n+1)); echo term \$n >&3; [ \$n = 1 ] && echo x > \"\$FIFO2\"" TERM; echo x > "$FIFO"; while :; do sleep 100 & wait $!; done' &
        read x < "$FIFO"; trap 'read y < "$FIFO2"; exit 0' TERM; echo ready >&3; while :; do sleep 100 & wait $!; done"#;
    let (mut cmd, dir) = with_fifo(namespaced(&["-g", "-v", "-t", "1"], &["sh", "-c", script]));
    let fifo2 = dir.join("fifo2");
    assert!(Command::new("mkfifo").arg(&fifo2).status().unwrap().success());
    cmd.env("FIFO2", &fifo2);
    let mut r = Pid1::launch(cmd);
    r.lines.expect("ready");
    r.signal(libc::SIGTERM);
    r.lines.expect("term 1");
    // Everything holding fd 3 is gone (the job by SIGKILL) with no second line.
    r.lines.expect_eof();
    let end = r.wait();
    assert_eq!(end.code, Some(0));
    let (line, _) = summary(&end.stderr);
    assert!(line.contains("needed SIGKILL") && line.contains("'sh'"), "{line}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Under -g: a member of the program's group that the program stopped
/// (kill -STOP, the program itself running) reports its SIGCONT and SIGTERM
/// on fd 3. The forwarded SIGTERM is pending for it at T; the others' round
/// leaves the group out (it has its signal), and must still SIGCONT the
/// stopped member so that it acts on it, as every other process is
/// continued (rinit(1) SHUTDOWN). `program_waits`: the program lives on
/// until the member has gone (the round at T+G/2, the program excluded);
/// else it exits on SIGTERM (the round at its exit).
fn a_stopped_member_of_the_programs_group_is_continued(program_waits: bool) {
    let member = r#"sh -c 'trap "echo CONT >&3" CONT; trap "echo TERM >&3" TERM; sleep 1000 & s=$!; while [ "$(cat /proc/$s/comm 2>/dev/null)" != sleep ]; do :; done; echo x > "$FIFO"; wait $s' &"#;
    // Waiting: the first wait ends with the program's own SIGTERM trap, the
    // second waits for the member, which only a SIGCONT lets exit before
    // the grace. Exiting: only once the test has seen rinit done with the
    // SIGTERM's turn (FIFO2), where it asks whether the program is stopped:
    // a program that had gone by then counted as stopped there before
    // program_is_stopped took ECHILD for "not stopped", and its group's
    // SIGCONT would have hidden the round's; the test keeps that order.
    let end = if program_waits {
        "trap : TERM; echo stopped >&3; wait $job; wait $job; exit 0"
    } else {
        "trap 'echo termed >&3; read y < \"$FIFO2\"; exit 0' TERM; echo stopped >&3; wait $job"
    };
    let script = format!(
        "{member}\n job=$!\n read x < \"$FIFO\"; kill -STOP $job\n\
         while :; do set -- $(sed 's/.*) //' /proc/$job/stat); [ \"$1\" = T ] && break; done\n {end}"
    );
    let (mut cmd, dir) = with_fifo(namespaced(&["-g", "-v", "-t", "2s"], &["sh", "-c", &script]));
    let fifo2 = dir.join("fifo2");
    assert!(Command::new("mkfifo").arg(&fifo2).status().unwrap().success());
    cmd.env("FIFO2", &fifo2);
    let mut r = Pid1::launch(cmd);
    r.lines.expect("stopped");
    r.signal(libc::SIGTERM);
    if !program_waits {
        r.lines.expect("termed");
        // Asleep again in its wait: the turn of the SIGTERM is over.
        let rinit = r.rinit_pid() as u32;
        assert!(wait_until(PATIENCE, || state_of(rinit) == Some('S')), "rinit never waited again");
        std::fs::write(&fifo2, "x\n").unwrap();
    }
    // Everything holding fd 3 gone, the member's lines are all there.
    let mut got = Vec::new();
    while let Some(l) = r.lines.next_within(PATIENCE) {
        got.push(l);
    }
    let end = r.wait();
    let (line, took) = summary(&end.stderr);
    // Both were pending when it ran again: the shell runs their traps in
    // either order.
    got.sort();
    assert_eq!(got, ["CONT", "TERM"], "the stopped member's traps; {line}");
    assert_eq!(end.code, Some(0));
    // Nothing new is counted: the program alone, as under -g always.
    assert!(line.contains("1 process got SIGTERM, 0 needed SIGKILL") && took < 2.0, "{line}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn process_group_mode_continues_a_stopped_member_of_the_running_programs_group() {
    a_stopped_member_of_the_programs_group_is_continued(true);
}

#[test]
fn process_group_mode_continues_a_stopped_member_of_the_group_once_the_program_has_exited() {
    a_stopped_member_of_the_programs_group_is_continued(false);
}

#[test]
fn with_w_every_process_the_shutdown_ends_is_still_reaped_and_logged() {
    // Once the program has gone rinit lets its children reap themselves
    // (SA_NOCLDWAIT), which would throw their exit statuses away: not with
    // -w, which asks for one line per reap. Three orphans, ended by the
    // shutdown's kill(-1) SIGTERM, each named with its signal.
    let script = "for i in 1 2 3; do sleep 1000 & done; echo ready >&3; exit 4";
    let mut r = Pid1::start(&["-w"], script);
    r.lines.expect("ready");
    let end = r.wait();
    assert_eq!(end.code, Some(4));
    let reaped: Vec<&str> = end.stderr.lines().filter(|l| l.starts_with("[rinit] reaped pid ")).collect();
    assert_eq!(reaped.len(), 3, "{}", end.stderr);
    assert!(reaped.iter().all(|l| l.ends_with(", which was killed by SIGTERM")), "{}", end.stderr);
}

#[test]
fn once_everyone_has_had_sigterm_the_kernel_reaps_rinits_children_but_not_under_w() {
    // rinit(1) SHUTDOWN: after the kill(-1) SIGTERM rinit's children reap
    // themselves (SA_NOCLDWAIT), which keeps a shutdown of thousands from
    // keeping rinit busy; -w, which logs every reap, keeps rinit reaping.
    // Seen from outside: strace attached to rinit, its sigaction calls only.
    if common::skip_under_qemu() {
        return;
    }
    for (opts, self_reaping) in [(&["-v"][..], true), (&["-v", "-w"][..], false)] {
        let dir = temp_dir("self-reaping");
        let trace = dir.join("trace");
        let mut r = Pid1::start(opts, "trap 'exit 0' TERM; sleep 1000 & echo ready >&3; wait");
        r.lines.expect("ready");
        let mut strace = Command::new("strace")
            .arg("-o")
            .arg(&trace)
            .args(["-e", "trace=rt_sigaction", "-p", &r.rinit_pid().to_string()])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // strace says "Process N attached" on stderr once it traces.
        let mut attached = std::io::BufReader::new(strace.stderr.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut attached, &mut line).unwrap();
        assert!(line.contains("attached"), "{line}");
        r.signal(libc::SIGTERM);
        let end = r.wait();
        assert_eq!(end.code, Some(0), "{}", end.stderr);
        // strace ends with the traced rinit.
        assert!(strace.wait().unwrap().success());
        let trace = std::fs::read_to_string(&trace).unwrap();
        let set = trace.lines().any(|l| l.starts_with("rt_sigaction(SIGCHLD") && l.contains("SA_NOCLDWAIT"));
        assert_eq!(set, self_reaping, "{opts:?}: {trace}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn the_term_delay_holds_sigterm_while_other_signals_pass() {
    // rinit(1) OPTIONS --term-delay: SIGTERM comes first, then SIGUSR1; the
    // USR1 is forwarded at once, the TERM only after the delay, so the
    // program sees them in the other order. The delay (3 s) is long enough
    // for the USR1 to go through first on a loaded machine; the order is
    // the whole assertion.
    let script = r#"trap 'echo usr1 >&3' USR1
        trap 'echo term >&3; exit 0' TERM
        echo ready >&3
        while :; do sleep 1000 & wait $!; done"#;
    let mut r = Pid1::start(&["-v", "--term-delay", "3s", "-t", "30s"], script);
    r.lines.expect("ready");
    r.signal(libc::SIGTERM);
    r.signal(libc::SIGUSR1);
    r.lines.expect("usr1");
    r.lines.expect("term");
    let end = r.wait();
    assert_eq!(end.code, Some(0), "{}", end.stderr);
    let (line, _) = summary(&end.stderr);
    assert!(line.contains("0 needed SIGKILL"), "{line}");
}

#[test]
fn a_stop_signal_starts_the_shutdown_as_sigterm_does() {
    // rinit(1) OPTIONS --stop-signal: QUIT is forwarded as received (the
    // program only notes it), and it starts the shutdown: the job gets
    // SIGTERM by half the grace, the program SIGKILL at its end. Without
    // the option a QUIT starts nothing, and the job would never be told.
    let script = format!("{} &\n read x < \"$FIFO\"; trap 'echo quit >&3' QUIT; echo ready >&3; while :; do sleep 1000 & wait $!; done", cleaner("job"));
    let (cmd, dir) = with_fifo(namespaced(&["-v", "--stop-signal", "QUIT", "-t", "2s"], &["sh", "-c", &script]));
    let mut r = Pid1::launch(cmd);
    r.lines.expect("job ready");
    r.lines.expect("ready");
    r.signal(libc::SIGQUIT);
    r.lines.expect("quit");
    r.lines.expect("job cleaned");
    let end = r.wait();
    assert_eq!(end.code, Some(137), "the program took QUIT and lived on until the grace: {}", end.stderr);
    std::fs::remove_dir_all(dir).unwrap();
}
