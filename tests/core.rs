//! rinit(1) OPTIONS, START and SIGNALS against the real binary, as PID 1 of a new PID namespace unless
//! a test is about running outside one. Programs report through fd 3 (see
//! tests/common); nothing here waits on a sleep.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
use common::*;

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

/// Signals whose default action ends the process (the core-dumping ones
/// included: `ulimit -c 0` keeps them from writing a core).
const TERMINATING: [i32; 23] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 24, 25, 26, 27, 29, 30, 31,
];

#[test]
fn every_exit_code_passes_through() {
    // One namespace per code would take minutes; the codes are independent,
    // so run them a batch at a time.
    for batch in (0..=255).collect::<Vec<i32>>().chunks(32) {
        let runs: Vec<(i32, Pid1)> = batch
            .iter()
            .map(|&c| (c, Pid1::start(&[], &format!("exit {c}"))))
            .collect();
        for (c, r) in runs {
            let end = r.wait();
            assert_eq!(end.code, Some(c), "exit {c}: stderr {}", end.stderr);
        }
    }
}

#[test]
fn a_signal_death_is_128_plus_the_signal() {
    if common::skip_under_qemu() {
        return;
    }
    let sigs: Vec<i32> = TERMINATING.iter().copied().chain(34..=64).collect();
    for batch in sigs.chunks(16) {
        let runs: Vec<(i32, Pid1)> = batch
            .iter()
            .map(|&s| (s, Pid1::start(&[], &format!("ulimit -c 0; kill -{s} $$; exit 99"))))
            .collect();
        for (s, r) in runs {
            let end = r.wait();
            assert_eq!(end.code, Some(128 + s), "signal {s}: stderr {}", end.stderr);
        }
    }
}

#[test]
fn program_not_found_is_127_with_its_name() {
    if common::skip_under_qemu() {
        return;
    }
    let (code, out, err) = run_plain(["-s", "--", "no-such-program-xyz", "arg"]);
    assert_eq!(code, Some(127));
    assert_eq!(out, "");
    assert!(
        err.contains("rinit: cannot run 'no-such-program-xyz': No such file or directory"),
        "{err}"
    );
    let (code, _, err) = run_plain(["-s", "/nonexistent/dir/prog"]);
    assert_eq!(code, Some(127));
    assert!(err.contains("'/nonexistent/dir/prog'"), "{err}");
    // The name escaped as every name rinit logs (rinit(1) DIAGNOSTICS): a
    // newline in it prints no line of its own (a review forged a
    // "[rinit] shutdown:" line this way).
    let (code, _, err) = run_plain(["-s", "--", "/no/such\n[rinit] shutdown: all ok\x1b"]);
    assert_eq!(code, Some(127));
    assert_eq!(err, "rinit: cannot run '/no/such\\n[rinit] shutdown: all ok\\x1b': No such file or directory\n");
}

#[test]
fn program_not_executable_is_126_with_the_reason() {
    if common::skip_under_qemu() {
        return;
    }
    let dir = temp_dir("noexec");
    let file = dir.join("script");
    std::fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    let (code, _, err) = run_plain(["-s", "--", &p(&file)]);
    assert_eq!(code, Some(126));
    assert!(err.contains(&format!("cannot run '{}': Permission denied", p(&file))), "{err}");
    let (code, _, err) = run_plain(["-s", "--", &p(&dir)]);
    assert_eq!(code, Some(126), "a directory: {err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn program_runs_as_pid_2_in_its_own_group_and_directory_with_rinit_in_root() {
    if common::skip_under_qemu() {
        return;
    }
    let dir = temp_dir("cwd");
    let mut cmd_and_lines = pid1_command(
        &[],
        r#"set -- $(cat /proc/self/stat | sed 's/.*) //'); echo "pid $$ ppid $PPID pgid $3" >&3
           echo "cwd $(pwd)" >&3; echo "rinit-cwd $(readlink /proc/1/cwd)" >&3
           echo "env $RINIT_TEST_VAR" >&3"#,
    );
    cmd_and_lines.0.current_dir(&dir).env("RINIT_TEST_VAR", "kept");
    let (cmd, lines) = cmd_and_lines;
    let mut r = Pid1::spawn(cmd, lines);
    // `cat` is a child of the program, so the third stat field after the
    // name is the program's process group, seen from a child.
    let first = r.lines.next();
    assert!(first.starts_with("pid 2 ppid 1 pgid 2"), "{first}");
    r.lines.expect(&format!("cwd {}", p(&dir)));
    r.lines.expect("rinit-cwd /");
    r.lines.expect("env kept");
    assert_eq!(r.wait().code, Some(0));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Waits until the program's line says it is ready.
fn ready(r: &mut Pid1) {
    r.lines.expect("ready");
}

#[test]
fn signals_reach_the_program() {
    // bash: dash has no names for real-time signals.
    let script = r#"
        for s in HUP INT QUIT USR1 USR2 WINCH RTMIN+3; do trap "echo $s >&3" $s; done
        trap 'echo TERM >&3; exit 0' TERM
        echo ready >&3
        while :; do sleep 100 & wait $!; kill $! 2>/dev/null; done"#;
    let mut r = Pid1::launch(namespaced(&[], &["bash", "-c", script]));
    ready(&mut r);
    for (sig, name) in [
        (libc::SIGHUP, "HUP"),
        (libc::SIGINT, "INT"),
        (libc::SIGQUIT, "QUIT"),
        (libc::SIGUSR1, "USR1"),
        (libc::SIGUSR2, "USR2"),
        (libc::SIGWINCH, "WINCH"),
        (34 + 3, "RTMIN+3"),
        (libc::SIGTERM, "TERM"),
    ] {
        r.signal(sig);
        r.lines.expect(name);
    }
    let end = r.wait();
    assert_eq!(end.code, Some(0), "{}", end.stderr);
}

#[test]
fn every_sigterm_is_forwarded_not_only_the_first() {
    // The first SIGTERM starts the shutdown; a second (a user's second
    // `docker kill -s TERM`, tini forwards every one) must reach the program
    // too, and before the grace runs out.
    let script = r#"
        n=0; trap 'n=$((n+1)); echo "TERM $n" >&3; [ $n = 2 ] && exit 5' TERM
        echo ready >&3
        while :; do sleep 100 & wait $!; kill $! 2>/dev/null; done"#;
    // A short grace: a `sleep` forked just before the program exits can
    // still run the shell's inherited trap when kill(-1)'s SIGTERM comes,
    // and go on to exec; it then lives until the SIGKILL (seen 2 in 25).
    let mut r = Pid1::start(&["-t", "2s"], script);
    ready(&mut r);
    r.signal(libc::SIGTERM);
    r.lines.expect("TERM 1");
    r.signal(libc::SIGTERM);
    r.lines.expect("TERM 2");
    assert_eq!(r.wait().code, Some(5));
}

#[test]
fn synchronous_signals_sent_to_rinit_are_not_forwarded_and_do_not_end_it() {
    if common::skip_under_qemu() {
        return;
    }
    // rinit(1) SIGNALS: SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP and
    // SIGSYS are not blocked and not forwarded (as tini); sent to PID 1 by
    // kill the kernel drops them. Each is followed by SIGUSR2 (12): were one
    // blocked and forwarded, the program would see it first (pending
    // signals are read lowest number first, and all but SIGSYS are lower),
    // or rinit would die of it.
    let script = r#"
        for s in SEGV BUS FPE ILL ABRT TRAP SYS; do trap "echo $s >&3" $s; done
        trap 'echo USR2 >&3' USR2; trap 'exit 4' TERM
        echo ready >&3
        while :; do sleep 100 & wait $!; kill $! 2>/dev/null; done"#;
    let mut r = Pid1::start(&[], script);
    ready(&mut r);
    for sig in [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL, libc::SIGABRT, libc::SIGTRAP, libc::SIGSYS] {
        r.signal(sig);
        r.signal(libc::SIGUSR2);
        assert_eq!(r.lines.next(), "USR2", "after signal {sig}");
    }
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_within(PATIENCE).code, Some(4));
    // SIGSYS (31) would have come after its SIGUSR2.
    assert_eq!(r.lines.next_within(Duration::from_secs(1)), None);
}

/// The program for the counting test: blocks two real-time signals, says
/// ready, waits for the marker (RTMIN+10), then counts how many RTMIN+3 are
/// queued for it. Real-time signals queue one instance per kill(), so a
/// signal forwarded twice, or not at all, shows in the count every time.
const COUNT_QUEUED: &str = r#"
import os, signal
rt3, rt10 = 34 + 3, 34 + 10
signal.pthread_sigmask(signal.SIG_BLOCK, [rt3, rt10])
out = os.fdopen(3, "w", buffering=1)
out.write("ready\n")
signal.sigwait([rt10])
n = 0
while signal.sigtimedwait([rt3], 0) is not None:
    n += 1
extra = 0
while signal.sigtimedwait([rt10], 0) is not None:
    extra += 1
out.write(f"rt3 {n} markers {1 + extra}\n")
"#;

#[test]
fn each_signal_is_forwarded_exactly_once() {
    if Command::new("python3").args(["-c", ""]).status().map(|s| !s.success()).unwrap_or(true) {
        skip("no python3 to count queued real-time signals");
        return;
    }
    let mut r = Pid1::launch(namespaced(&[], &["python3", "-c", COUNT_QUEUED]));
    ready(&mut r);
    // Five of one real-time signal, then the marker: the signalfd hands the
    // lower number out first, and each kill() queues before the next, so
    // every RTMIN+3 rinit forwards is queued before the marker arrives.
    for _ in 0..5 {
        r.signal(34 + 3);
    }
    r.signal(34 + 10);
    r.lines.expect("rt3 5 markers 1");
    assert_eq!(r.wait().code, Some(0));
}

#[test]
fn process_group_option_reaches_a_background_job() {
    let script = r#"
        sh -c 'trap "echo job USR1 >&3; exit 0" USR1; trap "echo job USR2 >&3; exit 0" USR2; echo job-ready > "$0"; while :; do sleep 100 & wait $!; done' "$FIFO" &
        job=$!
        read x < "$FIFO"
        trap 'echo prog USR1 >&3; PASS_ON wait $job; exit 0' USR1
        echo ready >&3
        while :; do sleep 100 & wait $!; done"#;
    // With -g the program only waits for the job, which must get USR1 from
    // rinit itself (a USR2 from the program could overtake it under
    // emulation); without, the program passes USR2 on.
    for (args, want, pass_on) in [(&["-g"][..], "job USR1", ""), (&[][..], "job USR2", "kill -USR2 $job;")] {
        let script = script.replace("PASS_ON", pass_on);
        let dir = temp_dir("pgrp");
        let fifo = dir.join("fifo");
        assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let (mut cmd, lines) = pid1_command(args, &script);
        cmd.env("FIFO", &fifo);
        let mut r = Pid1::spawn(cmd, lines);
        ready(&mut r);
        r.signal(libc::SIGUSR1);
        // With -g the whole group gets USR1 and the job sees it first; without,
        // only the program does, and it passes USR2 on.
        let mut got = vec![r.lines.next(), r.lines.next()];
        got.sort();
        let mut expected = vec!["prog USR1".to_string(), want.to_string()];
        expected.sort();
        assert_eq!(got, expected, "args {args:?}");
        assert_eq!(r.wait().code, Some(0));
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// -g: a signal forwarded right after the fork reaches the program's group
/// even before the child has made it (src/spawn.rs: under -g the parent
/// makes the group too). strace holds every setpgid for a second on entry:
/// rinit gets to its wait only once its own setpgid has made the group, and
/// a SIGUSR1 sent then reaches the program, which dies of it. Without the
/// parent's setpgid rinit would wait at once, its kill(-pgid) would find no
/// group (ESRCH: the signal is lost), and the program would sleep on.
#[test]
fn under_g_a_signal_forwarded_at_once_reaches_the_group_made_by_rinit() {
    if common::skip_under_qemu() {
        return;
    }
    if Command::new("strace").arg("-V").output().is_err() {
        skip("strace is not installed (scripts/setup.sh installs it)");
        return;
    }
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=setpgid", "-e", "inject=setpgid:delay_enter=1s", "unshare"]);
    cmd.args(unshare_args()).arg(rinit()).args(["-g", "--", "sh", "-c", "exec sleep 1000"]);
    let r = Pid1::launch(cmd);
    // strace's child is unshare (after a test child or two of strace's
    // own), whose child is rinit.
    let child_named = |pid: i32, name: &str| -> i32 {
        let path = format!("/proc/{pid}/task/{pid}/children");
        let mut child = None;
        let found = wait_until(PATIENCE, || {
            let children = std::fs::read_to_string(&path).unwrap_or_default();
            child = children.split_whitespace().map(|c| c.parse::<i32>().unwrap()).find(|c| {
                std::fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|comm| comm.trim_end() == name)
            });
            child.is_some()
        });
        assert!(found, "no child {name} of {pid}");
        child.unwrap()
    };
    let rinit_pid = child_named(child_named(r.child.id() as i32, "unshare"), "rinit");
    // Its first wait for signals (ppoll; a read of the signalfd would do
    // too), which comes only after the fork.
    let waits = [libc::SYS_ppoll, libc::SYS_read].map(|n| n.to_string());
    let waiting = wait_until(PATIENCE, || {
        let call = std::fs::read_to_string(format!("/proc/{rinit_pid}/syscall")).unwrap_or_default();
        call.split_whitespace().next().is_some_and(|n| waits.iter().any(|w| w == n))
    });
    assert!(waiting, "rinit never waited for signals");
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(rinit_pid, libc::SIGUSR1) }, 0);
    let end = r.wait();
    assert_eq!(end.code, Some(128 + libc::SIGUSR1), "{}", end.stderr);
}

#[test]
fn rewrite_changes_and_drops_signals() {
    let script = r#"
        trap 'echo USR2 >&3' USR2; trap 'echo USR1 >&3' USR1; trap 'echo HUP >&3' HUP; trap 'echo INT >&3' INT
        trap 'echo QUIT >&3; exit 0' QUIT
        echo ready >&3
        while :; do sleep 100 & wait $!; done"#;
    let mut r = Pid1::start(&["-r", "USR1:USR2", "--rewrite=HUP:0", "-r", "TERM:QUIT"], script);
    ready(&mut r);
    r.signal(libc::SIGUSR1);
    r.lines.expect("USR2");
    r.signal(libc::SIGHUP); // dropped: the next line must be INT's
    r.signal(libc::SIGINT);
    r.lines.expect("INT");
    r.signal(libc::SIGTERM);
    r.lines.expect("QUIT");
    assert_eq!(r.wait().code, Some(0));
}

#[test]
fn remap_exit_turns_codes_into_zero() {
    assert_eq!(Pid1::start(&["-e", "3"], "exit 3").wait().code, Some(0));
    assert_eq!(Pid1::start(&["-e3", "-e", "4"], "exit 4").wait().code, Some(0));
    assert_eq!(Pid1::start(&["-e", "3"], "exit 5").wait().code, Some(5));
    let mut r = Pid1::start(&["-e", "143"], "echo ready >&3; exec sleep 100");
    ready(&mut r);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait().code, Some(0), "143 (SIGTERM) remapped");
}

#[test]
fn pdeathsig_ends_rinit_when_its_parent_dies() {
    if common::skip_under_qemu() {
        return;
    }
    // parent sh -> rinit -p TERM -> sleep. Killing the parent makes the
    // kernel send TERM to rinit, which forwards it; then fd 3 closes as
    // everyone holding it is gone.
    let script = format!(
        "{} -s -p TERM -- sh -c 'echo ready >&3; exec sleep 1000' & echo parent >&3; wait",
        p(&rinit())
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]);
    let (cmd, lines) = attach_pipe(&mut cmd);
    let mut r = Pid1::spawn(cmd, lines);
    let mut got = vec![r.lines.next(), r.lines.next()];
    got.sort();
    assert_eq!(got, ["parent", "ready"]);
    r.child.kill().unwrap();
    r.lines.expect_eof();
}

#[test]
fn pdeathsig_kill_kills_rinit() {
    let script = format!(
        "{} -p KILL -- sh -c 'echo program $$ >&3; exec sleep 1000 3>&-' & echo rinit $! >&3; wait",
        p(&rinit())
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]);
    let (cmd, lines) = attach_pipe(&mut cmd);
    let mut r = Pid1::spawn(cmd, lines);
    let mut got = [r.lines.next(), r.lines.next()];
    got.sort();
    let pid = |line: &str| line.split_whitespace().nth(1).unwrap().parse::<i32>().unwrap();
    let (program_pid, rinit_pid) = (pid(&got[0]), pid(&got[1]));
    // The program closed its fd 3, so EOF means rinit itself is gone.
    r.child.kill().unwrap();
    r.lines.expect_eof();
    // Dead: gone, or a zombie waiting for the machine's init to reap it.
    // (Its descriptors close a moment before it turns into a zombie.)
    let dead = wait_until(PATIENCE, || matches!(state_of(rinit_pid as u32), None | Some('Z')));
    assert!(dead, "rinit still alive: {:?}", state_of(rinit_pid as u32));
    // The orphaned program is left to the machine's init; end it.
    // SAFETY: plain kill of the pid the program reported.
    unsafe { libc::kill(program_pid, libc::SIGKILL) };
}

#[test]
fn subreaper_adopts_and_reaps_orphans_outside_a_namespace() {
    if common::skip_under_qemu() {
        return;
    }
    // The orphan waits until it has been re-parented, reports its pid and
    // new parent, and exits. It is gone from /proc only once someone reaps it.
    let script = r#"
        echo "rinit $PPID" >&3
        f=$(mktemp -u); mkfifo "$f"
        # The subshell outlives the orphan's start (it waits on the fifo), so
        # the orphan's $PPID is the subshell, and a new parent means adoption.
        (sh -c 'echo started > "$1"; while :; do set -- "$1" $(sed "s/.*) //" /proc/$$/stat); [ "$3" != "$PPID" ] && break; done; echo "orphan $$ parent $3" >&3' x "$f" & read x < "$f")
        rm "$f"
        read x; exit 0"#;
    // rinit(1) OPTIONS -s: with -s, and by default when not PID 1.
    for args in [&["-s"][..], &[][..]] {
    let mut r = Pid1::launch_with_stdin(direct(args, &["sh", "-c", script]));
    let rinit_line = r.lines.next();
    assert_eq!(rinit_line, format!("rinit {}", r.child.id()));
    let report = r.lines.next();
    let words: Vec<&str> = report.split_whitespace().collect();
    assert_eq!(words.len(), 4, "{report}");
    assert_eq!(words[3], r.child.id().to_string(), "orphan adopted by rinit ({args:?}): {report}");
    let orphan: u32 = words[1].parse().unwrap();
    assert!(wait_until(PATIENCE, || is_gone(orphan)), "orphan {orphan} not reaped: state {:?}", state_of(orphan));
    r.close_stdin();
    let end = r.wait();
    assert_eq!(end.code, Some(0));
    assert!(!end.stderr.contains("not running as PID 1"), "{}", end.stderr);
    }
}

#[test]
fn warns_when_neither_pid_1_nor_subreaper() {
    let out = Command::new(rinit()).arg("true").env("RINIT_SUBREAPER", "0").output().unwrap();
    let (code, err) = (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert_eq!(code, Some(0));
    let warning: Vec<&str> = err.lines().filter(|l| l.contains("not running as PID 1")).collect();
    assert_eq!(warning.len(), 1, "{err}");
    assert!(warning[0].starts_with("[rinit] ") && warning[0].contains("-s"), "{err}");
    let (_, _, err) = run_plain(["-s", "true"]);
    assert!(!err.contains("not running as PID 1"), "{err}");
    let out = Command::new(rinit()).args(["-q", "true"]).env("RINIT_SUBREAPER", "0").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "-q: errors only");
}

#[test]
fn terminal_program_reads_stdin_and_gets_ctrl_c() {
    let pty = Pty::open();
    let master = pty.master;
    let script = r#"
        trap 'echo INT >&3' INT; trap 'echo USR1 >&3' USR1
        echo ready >&3
        read line; echo "read $line" >&3
        while :; do sleep 100 & wait $!; kill $! 2>/dev/null; done"#;
    let mut cmd = namespaced(&[], &["sh", "-c", script]);
    // The slave is the controlling terminal, as a container runtime does.
    pty.attach(&mut cmd);
    // The pre_exec dup2s replace the harness's stdio with the terminal.
    let mut r = Pid1::launch(cmd);
    ready(&mut r);
    // SAFETY: valid buffers.
    unsafe { libc::write(master, b"hello\n".as_ptr().cast(), 6) };
    r.lines.expect("read hello");
    // ^C: the terminal sends SIGINT to its foreground group, the program's.
    // SAFETY: valid buffer.
    unsafe { libc::write(master, b"\x03".as_ptr().cast(), 1) };
    r.lines.expect("INT");
    // rinit is not in the foreground group, so it got no SIGINT to forward:
    // had it, a second INT line would come before the USR1 one.
    r.signal(libc::SIGUSR1);
    r.lines.expect("USR1");
    r.signal(libc::SIGTERM);
    let end = r.wait();
    assert_eq!(end.code, Some(143));
}

#[test]
fn a_burst_of_10000_signals_neither_wedges_nor_crashes_rinit() {
    let script = r#"
        trap ':' USR1 USR2 HUP 40; trap 'echo alive >&3' WINCH; trap 'exit 9' TERM
        echo ready >&3
        while :; do sleep 100 & wait $!; kill $! 2>/dev/null; done"#;
    let mut r = Pid1::start(&[], script);
    ready(&mut r);
    let pid = r.rinit_pid();
    for i in 0..10_000 {
        let sig = [libc::SIGUSR1, libc::SIGUSR2, libc::SIGHUP, 40][i % 4];
        // SAFETY: plain kill.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    }
    // Standard signals coalesce while pending, so the program sees fewer
    // than were sent; what matters is that rinit still forwards the next one.
    r.signal(libc::SIGWINCH);
    r.lines.expect("alive");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait().code, Some(9));
}

/// Counts, from inside the namespace, zombies and processes other than
/// rinit and the program; loops until both are zero or a bound is hit, then
/// reports the last counts.
const COUNT_LEFTOVERS: &str = r#"
    left() { z=0; o=0
        for f in /proc/[0-9]*/stat; do
            read -r l < "$f" 2>/dev/null || continue
            set -- ${l##*) }
            case "$1" in Z) z=$((z+1));; esac
            [ "$2" = 1 ] && [ "${f#/proc/}" != "$$/stat" ] && o=$((o+1))
        done; }
    i=0; while [ $i -lt 20000 ]; do left; [ $z = 0 ] && [ $o = 0 ] && break; i=$((i+1)); done
    echo "zombies $z others $o" >&3"#;

#[test]
fn a_thousand_orphans_leave_no_zombie() {
    let script = format!(
        r#"i=0; while [ $i -lt 1000 ]; do (/bin/true &); i=$((i+1)); done
           {COUNT_LEFTOVERS}"#
    );
    let mut r = Pid1::start(&[], &script);
    r.lines.expect("zombies 0 others 0");
    assert_eq!(r.wait().code, Some(0));
}

/// A zombie rinit inherits (a child of the process that exec'd it, ended
/// before the exec) sends no SIGCHLD that rinit could see: only the first
/// turn's look for children finds it (src/reap.rs: a wait for any child
/// first, the program's only once one has been reaped). The program spins
/// until it has gone, so a zombie left for a later step is a timeout here.
#[test]
fn a_zombie_inherited_at_start_is_reaped_at_once() {
    // perl, not a shell: every shell reaps its children on SIGCHLD, so
    // none would still be a zombie at its exec.
    if Command::new("perl").arg("-e").arg("1").status().is_err() {
        skip("perl is not installed");
        return;
    }
    let made = r#"my $z = fork // die "fork: $!"; exit 3 if $z == 0;
        until (do { open(my $f, "<", "/proc/$z/stat") or die "$z: $!"; <$f> } =~ /^\d+ \(.*\) Z /) {}
        $ENV{Z} = $z; exec @ARGV or die "exec: $!""#;
    let mut cmd = Command::new("unshare");
    cmd.args(unshare_args()).args(["perl", "-e", made]).arg(rinit());
    cmd.args(["-w", "--", "sh", "-c", "while [ -e /proc/$Z ]; do :; done; echo reaped $Z >&3"]);
    let mut r = Pid1::launch(cmd);
    let line = r.lines.next();
    let zombie = line.strip_prefix("reaped ").unwrap_or_else(|| panic!("{line}"));
    let end = r.wait();
    assert_eq!(end.code, Some(0), "{}", end.stderr);
    assert!(end.stderr.contains(&format!("reaped pid {zombie}, which exited with 3")), "{}", end.stderr);
}

#[test]
fn exit_status_is_right_while_hundreds_of_orphans_exit_at_the_same_moment() {
    // 300 orphans block reading a fifo; the program holds its write end and
    // exits with 42, which releases them all at the instant it exits.
    let script = r#"
        f=$(mktemp -u); mkfifo "$f"
        i=0; while [ $i -lt 300 ]; do (exec cat "$f" > /dev/null &); i=$((i+1)); done
        exec 4>"$f"; rm "$f"
        echo ready >&3
        exit 42"#;
    for _ in 0..3 {
        let mut r = Pid1::start(&[], script);
        ready(&mut r);
        let end = r.wait();
        assert_eq!(end.code, Some(42), "{}", end.stderr);
    }
}

/// Lines the program reports: its blocked and ignored sets, and its fds.
const REPORT_SIGNALS_AND_FDS: &str = r#"
    grep -E '^Sig(Blk|Ign)' /proc/self/status | tr -s '\t ' ' ' >&3
    echo fds $(ls /proc/self/fd | sort -n | tr '\n' ' ') >&3"#;

/// Runs `cmd` (whose program is `sh -c REPORT_SIGNALS_AND_FDS`) with
/// `setup` applied in the child before exec; returns the three report lines.
fn report(mut cmd: Command, setup: fn()) -> Vec<String> {
    // SAFETY: `setup` only calls sigaction/sigprocmask, which are
    // async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            setup();
            Ok(())
        });
    }
    let mut r = Pid1::launch(cmd);
    let lines = vec![r.lines.next(), r.lines.next(), r.lines.next()];
    assert_eq!(r.wait().code, Some(0));
    lines
}

fn plain_sh() -> Command {
    let mut sh = Command::new("sh");
    sh.args(["-c", REPORT_SIGNALS_AND_FDS]);
    sh
}

#[test]
fn program_sees_the_signal_state_and_descriptors_rinit_was_given() {
    if common::skip_under_qemu() {
        return;
    }
    // What the program sees through rinit must be what it sees without it:
    // rinit blocks everything for itself but adds nothing to the program's
    // mask, ignored set or descriptors.
    fn nothing() {}
    let through_rinit = report(namespaced(&[], &["sh", "-c", REPORT_SIGNALS_AND_FDS]), nothing);
    let without = report(plain_sh(), nothing);
    assert_eq!(through_rinit, without);
    assert_eq!(through_rinit[0], "SigBlk: 0000000000000000");
    assert!(through_rinit[2].starts_with("fds 0 1 2 3 "), "{}", through_rinit[2]);

    // A parent that ignores SIGUSR1 and blocks SIGUSR2 (and SIGPIPE, which
    // Rust's runtime would otherwise have set to SIG_IGN in rinit itself).
    fn ignore_usr1_block_usr2() {
        // SAFETY: plain signal calls in the forked child.
        unsafe {
            libc::signal(libc::SIGUSR1, libc::SIG_IGN);
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR2);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        }
    }
    let through_rinit = report(namespaced(&[], &["sh", "-c", REPORT_SIGNALS_AND_FDS]), ignore_usr1_block_usr2);
    let without = report(plain_sh(), ignore_usr1_block_usr2);
    assert_eq!(through_rinit, without);
    assert_eq!(through_rinit[0], "SigBlk: 0000000000000800", "USR2 (12) blocked");
    let ign = u64::from_str_radix(through_rinit[1].trim_start_matches("SigIgn: "), 16).unwrap();
    assert_eq!(ign & (1 << 9), 1 << 9, "USR1 (10) ignored");
    assert_eq!(ign & (1 << 12), 0, "SIGPIPE (13) not ignored");
}

#[test]
fn stdio_passes_through_untouched() {
    let mut r = Pid1::launch_with_stdin(namespaced(&[], &["sh", "-c", "cat; echo to-stderr >&2; echo done >&3"]));
    {
        use std::io::Write;
        let stdin = r.stdin.as_mut().unwrap();
        stdin.write_all(b"line one\nline two\n\x00binary\xff\n").unwrap();
    }
    r.close_stdin();
    r.lines.expect("done");
    let end = r.wait();
    assert_eq!(end.code, Some(0));
    assert_eq!(end.stdout.as_bytes(), "line one\nline two\n\u{0}binary\u{fffd}\n".as_bytes());
    assert_eq!(end.stderr, "to-stderr\n");
}

#[test]
fn bad_usage_exits_2_with_a_message_and_starts_nothing() {
    let dir = temp_dir("usage");
    let marker = dir.join("started");
    let touch = format!("touch {}", p(&marker));
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (vec!["--bogus"], vec![], "unknown option '--bogus'"),
        (vec!["-Z"], vec![], "unknown option '-Z'"),
        (vec!["-t", "soon"], vec![], "--grace: 'soon' is not a duration"),
        (vec!["-p", "NOPE"], vec![], "--pdeathsig: 'NOPE' is not a signal"),
        (vec!["-e", "300"], vec![], "--remap-exit: '300' is not an exit status"),
        (vec!["-r", "TERM"], vec![], "--rewrite: 'TERM' is not FROM:TO"),
        (vec!["--pids-max", "lots"], vec![], "--pids-max: 'lots' is not a number"),
        (vec![], vec![("RINIT_SUBREAPER", "maybe")], "RINIT_SUBREAPER: 'maybe' is not a boolean"),
        (vec![], vec![("RINIT_GRACE", "forever")], "RINIT_GRACE: 'forever' is not a duration"),
        (vec![], vec![("RINIT_PIDS_MAX", "-3")], "RINIT_PIDS_MAX:"),
        (vec![], vec![("RINIT_VERBOSITY", "loud")], "RINIT_VERBOSITY:"),
    ];
    for (args, env, want) in cases {
        let out = Command::new(rinit())
            .args(&args)
            .args(["--", "sh", "-c", &touch])
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {err}");
        assert!(err.starts_with(&format!("rinit: {want}")), "{args:?} {env:?}: {err}");
        assert!(err.contains("Try 'rinit --help'"), "{err}");
        assert_eq!(err.lines().count(), 2, "{err}");
        assert!(out.stdout.is_empty());
        assert!(!marker.exists(), "{args:?}: the program was started");
    }
    let (code, _, err) = run_plain(Vec::<&str>::new());
    assert_eq!(code, Some(2));
    assert!(err.contains("no program given"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn help_version_and_license_go_to_stdout() {
    let (code, out, err) = run_plain(["--help"]);
    assert_eq!((code, err.as_str()), (Some(0), ""));
    for opt in ["--subreaper", "--process-group", "--pdeathsig", "--remap-exit", "--rewrite", "--grace", "--pids-max", "--verbose", "--quiet", "--warn-on-reap", "--license", "--help", "--version"] {
        assert!(out.contains(opt), "help lacks {opt}");
    }
    let (code, out, _) = run_plain(["-V"]);
    assert_eq!(code, Some(0));
    let line = out.trim_end();
    let rest = line.strip_prefix("rinit version ").expect(line);
    let (version, git) = rest.split_once(" - git.").expect(line);
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    assert!(!git.is_empty() && !git.contains(' '), "{line}");
    let (code, out, _) = run_plain(["-l"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("MIT License"), "{out}");
}

#[test]
fn logging_goes_to_stderr_with_the_prefix_and_follows_the_level() {
    let quiet = Pid1::start(&[], "exit 0").wait();
    assert_eq!(quiet.stderr, "", "default level is warnings: nothing to say");
    let verbose = Pid1::start(&["-vv"], "exit 0").wait();
    assert!(!verbose.stderr.is_empty());
    assert!(verbose.stderr.lines().all(|l| l.starts_with("[rinit] ")), "{}", verbose.stderr);
    assert!(verbose.stderr.contains("shutdown: "), "info line: {}", verbose.stderr);
    assert!(verbose.stderr.contains("exit status 0"), "debug line: {}", verbose.stderr);
    // RINIT_LOG wins over -v.
    let mut cmd = namespaced(&["-vv"], &["sh", "-c", "exit 0"]);
    cmd.env("RINIT_LOG", "error");
    let filtered = Pid1::launch(cmd).wait();
    assert_eq!(filtered.stderr, "");
    let mut cmd = namespaced(&[], &["sh", "-c", "exit 0"]);
    cmd.env("RINIT_VERBOSITY", "2");
    assert!(Pid1::launch(cmd).wait().stderr.contains("shutdown: "));
    let mut cmd = namespaced(&[], &["sh", "-c", "exit 0"]);
    cmd.env("TINI_VERBOSITY", "3");
    assert!(Pid1::launch(cmd).wait().stderr.contains("exit status 0"));
}

#[test]
fn idle_rinit_sleeps_without_a_timeout() {
    if common::skip_under_qemu() {
        return;
    }
    let mut r = Pid1::start(&[], "echo ready >&3; exec sleep 1000");
    ready(&mut r);
    let pid = r.rinit_pid();
    // /proc/PID/task/TID/syscall: the number of the call a task is blocked
    // in, then its arguments. Where the OOM watch's doorbell thread runs
    // (x86_64 and aarch64, src/doorbell.rs), the main thread sleeps in a
    // read of its signalfd (8 records, 0x400 bytes) and the thread in
    // ppoll(…, 1, NULL, …) on the watch's descriptor; elsewhere (i686) the
    // main thread sleeps in ppoll(…, 2, NULL, …) over both. Either way no
    // task has a timeout: asleep until a signal comes, no timer ticking.
    let (read, ppoll) = (libc::SYS_read.to_string(), libc::SYS_ppoll.to_string());
    let bell = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));
    let idle_call = |tid: &str, text: &str| -> bool {
        let f: Vec<&str> = text.split_whitespace().collect();
        let is = |call: &str, i: usize, v: &str| f.first() == Some(&call) && f.get(i) == Some(&v);
        if tid == pid.to_string() {
            // A read too where no OOM watch runs: nothing but the signalfd.
            is(&read, 3, "0x400") || !bell && is(&ppoll, 2, "0x2") && is(&ppoll, 3, "0x0")
        } else {
            is(&ppoll, 2, "0x1") && is(&ppoll, 3, "0x0")
        }
    };
    let tasks = || -> Vec<(String, String, u64)> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
            let tid = entry.unwrap().file_name().into_string().unwrap();
            let call = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/syscall")).unwrap_or_default();
            let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap_or_default();
            let switches = status
                .lines()
                .filter(|l| l.contains("ctxt_switches"))
                .map(|l| l.split_whitespace().last().unwrap().parse::<u64>().unwrap())
                .sum();
            all.push((tid, call, switches));
        }
        all.sort();
        all
    };
    let mut last = Vec::new();
    let idle = wait_until(PATIENCE, || {
        last = tasks();
        !last.is_empty() && last.iter().all(|(tid, call, _)| idle_call(tid, call))
    });
    assert!(idle, "rinit's tasks are not all asleep without a timeout (bell: {bell}): {last:?}");
    // Still there, still with no wake-up since: same calls, same
    // context-switch counts.
    assert_eq!(tasks(), last);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait().code, Some(143));
}

#[test]
fn the_binary_is_statically_linked() {
    // The tests run a debug build of the same target and flags as the
    // shipped one (scripts/test.sh passes the musl target), or the shipped
    // binary of another architecture (RINIT_BIN).
    let out = Command::new("file").arg(rinit()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("statically linked"), "{text}");
    assert!(!text.contains("interpreter"), "{text}");
}

#[test]
fn an_ignored_sigchld_from_the_parent_does_not_hide_the_programs_status() {
    if common::skip_under_qemu() {
        return;
    }
    // With SIGCHLD at SIG_IGN the kernel would reap the program itself and
    // discard its status; rinit takes SIGCHLD back to SIG_DFL for itself and
    // hands the program the SIG_IGN it inherited.
    fn with_sigchld_ignored(program: &[&str]) -> Ended {
        let mut cmd = direct(&["-s"], program);
        // SAFETY: signal() is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGCHLD, libc::SIG_IGN);
                Ok(())
            });
        }
        Pid1::launch(cmd).wait()
    }
    let end = with_sigchld_ignored(&["sh", "-c", "exit 3"]);
    assert_eq!(end.code, Some(3), "{}", end.stderr);
    // grep itself, not a shell (shells reset SIGCHLD for their own use).
    let end = with_sigchld_ignored(&["grep", "SigIgn", "/proc/self/status"]);
    assert_eq!(end.code, Some(0), "{}", end.stderr);
    let line = end.stdout.trim();
    let ign = u64::from_str_radix(line.trim_start_matches("SigIgn:").trim(), 16).unwrap();
    assert_eq!(ign & (1 << 16), 1 << 16, "SIGCHLD (17) ignored in the program: {line}");
}

#[test]
fn a_subreaper_without_its_own_proc_still_exits_after_the_grace() {
    if common::skip_under_qemu() {
        return;
    }
    // rinit is pid 2 of a namespace whose /proc is the host's, in a user
    // namespace where it cannot mount a proc instance of its own: it cannot
    // find the orphan it adopted, so after the grace it leaves it behind
    // instead of waiting forever (the namespace's PID 1 then takes it down).
    // (As root without the user namespace it lists a private instance:
    // tests/loop.rs.)
    let mut cmd = unshare_keeping_host_proc();
    if is_root() {
        cmd.args(["--user", "--map-root-user"]);
    }
    let script = format!(
        "{} -v -s -t 1 -- sh -c '(exec sleep 1000 3>&-) & echo ready >&3; exit 4'; echo \"rinit $?\" >&3",
        p(&rinit())
    );
    cmd.args(["sh", "-c", &script]);
    let mut r = Pid1::launch(cmd);
    r.lines.expect("ready");
    r.lines.expect("rinit 4");
    let end = r.wait();
    assert!(end.stderr.contains("does not show this PID namespace"), "{}", end.stderr);
    assert!(end.stderr.contains("leaving its remaining descendants"), "{}", end.stderr);
    assert!(end.stderr.contains("[rinit] shutdown: "), "the summary line: {}", end.stderr);
}

/// rinit as PID 1 with a listening socket on fd 3, LISTEN_FDS=1 and
/// `listen_pid`. The program reports what fd 3 is and whether LISTEN_PID is
/// its own pid (not always 2: under qemu-user the emulator's thread takes it), closes the socket, then says whether PID 1 (rinit) still holds it.
/// `listen_pid` "$$": rinit is not PID 1 but started by a shell that sets
/// LISTEN_PID to its own pid, which rinit keeps through the exec.
fn socket_activated(listen_pid: &str) -> Vec<String> {
    let dir = temp_dir("listen");
    let listener = std::os::unix::net::UnixListener::bind(dir.join("sock")).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
    let script = r#"s=$(readlink /proc/$$/fd/3); echo "socket ${s%%:*}"
        if [ "$LISTEN_PID" = $$ ]; then echo "listen_pid own"; else echo "listen_pid $LISTEN_PID"; fi
        exec 3>&-
        for f in /proc/$PPID/fd/*; do [ "$(readlink "$f")" = "$s" ] && echo "rinit holds $s"; done
        echo done"#;
    let mut cmd = if listen_pid == "$$" {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", r#"LISTEN_PID=$$ exec "$RINIT" -- sh -c "$SCRIPT""#]).env("RINIT", rinit()).env("SCRIPT", script);
        cmd
    } else {
        let mut cmd = namespaced(&[], &["sh", "-c", script]);
        cmd.env("LISTEN_PID", listen_pid);
        cmd
    };
    cmd.env("LISTEN_FDS", "1");
    // SAFETY: dup2 and fcntl are async-signal-safe; fd 3 ends up without
    // CLOEXEC, so unshare and rinit inherit it.
    unsafe {
        cmd.pre_exec(move || {
            // The listener may be fd 3 already: then only its CLOEXEC goes.
            let rc = if fd == 3 { libc::fcntl(3, libc::F_SETFD, 0) } else { libc::dup2(fd, 3) };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    drop(listener);
    let _ = std::fs::remove_dir_all(dir);
    stdout.lines().map(|l| l.split(':').next().unwrap_or_default().to_string()).collect()
}

#[test]
fn socket_activation_gives_the_program_its_listen_pid_and_rinit_closes_its_copy() {
    // rinit(1) SOCKET ACTIVATION: LISTEN_PID is rinit's pid, as systemd and
    // runc set it. The program finds its own pid there, and once it has
    // closed the socket, none of rinit's descriptors is it.
    assert_eq!(socket_activated("1"), ["socket socket", "listen_pid own", "done"]);
    // Not PID 1: rinit knows its own pid all the same (src/main.rs
    // `own_pid`, musl's cached thread id).
    assert_eq!(socket_activated("$$"), ["socket socket", "listen_pid own", "done"]);
    // Meant for another process: rinit touches neither the variables nor
    // the descriptor.
    assert_eq!(socket_activated("77"), ["socket socket", "listen_pid 77", "rinit holds socket", "done"]);
}
