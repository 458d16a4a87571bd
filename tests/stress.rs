//! Load and faults (issue 7): many orphans, a fork storm during shutdown, a
//! flood of signals, closed and broken pipes, closed standard descriptors,
//! inherited masks, reaping races, and rinit stopped and continued while it
//! works. Each test is bounded by the harness's timeouts.
//!
//! Where the shell is too slow, the program runs this test binary again as a
//! helper (`RINIT_STRESS_HELPER=... <this binary> --exact stress_helper`),
//! which forks with raw `fork`/`_exit`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
use common::*;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How to start the helper from a script, with `what` as its task.
fn helper(what: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    format!(
        "RINIT_STRESS_HELPER={what} '{}' --exact stress_helper --test-threads=1 >/dev/null 2>&1",
        exe.display()
    )
}

/// Not a test: the helper the scripts start. Returns at once otherwise.
#[test]
fn stress_helper() {
    let Ok(task) = std::env::var("RINIT_STRESS_HELPER") else { return };
    let (what, arg) = task.split_once(':').unwrap_or((&task, ""));
    match what {
        "orphans" => orphans(arg.parse().unwrap()),
        "storm" => storm(arg.parse().unwrap()),
        _ => panic!("unknown helper task {task}"),
    }
}

/// Makes `total` orphans in batches of 500: a batch parent forks 500
/// children that exit at once and exits itself without waiting, so its
/// children (alive or already zombies) fall to rinit.
fn orphans(total: usize) {
    const BATCH: usize = 500;
    let mut made = 0;
    while made < total {
        let n = BATCH.min(total - made);
        // SAFETY: the children only call fork and _exit.
        match unsafe { libc::fork() } {
            0 => {
                for _ in 0..n {
                    // SAFETY: as above.
                    if unsafe { libc::fork() } == 0 {
                        unsafe { libc::_exit(0) };
                    }
                }
                unsafe { libc::_exit(0) };
            }
            pid => {
                assert!(pid > 0, "fork: {}", std::io::Error::last_os_error());
                let mut status = 0;
                // SAFETY: valid out pointer.
                unsafe { libc::waitpid(pid, &mut status, 0) };
            }
        }
        made += n;
    }
}

/// A fork storm that ignores SIGTERM: `chains` processes each fork a
/// successor and exit, for ever, so every process is an orphan for an
/// instant and new pids appear all the time. Runs as an unused uid with
/// RLIMIT_NPROC 300, so that a rinit that stopped reaping could not exhaust
/// the machine's pids (fork then fails and is retried).
fn storm(chains: usize) {
    let uid = 300_000 + std::process::id() % 100_000;
    // SAFETY: plain system calls on this process.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        let lim = libc::rlimit { rlim_cur: 300, rlim_max: 300 };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NPROC, &lim), 0);
        assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
        assert_eq!(libc::setgid(uid), 0);
        assert_eq!(libc::setuid(uid), 0);
    }
    for _ in 0..chains {
        // SAFETY: the children only call fork, write and _exit.
        if unsafe { libc::fork() } == 0 {
            loop {
                match unsafe { libc::fork() } {
                    0 => continue,      // the successor carries on
                    -1 => continue,     // at the limit: try again
                    _ => unsafe { libc::_exit(0) },
                }
            }
        }
    }
    let msg = b"storm\n";
    // SAFETY: fd 3 is the test's pipe.
    unsafe { libc::write(3, msg.as_ptr().cast(), msg.len()) };
}

// ---------------------------------------------------------------------------

#[test]
fn twenty_thousand_orphans_are_all_reaped() {
    // -w: one warning per reaped process that is not the program, so the
    // count says exactly how many orphans rinit reaped.
    let script = format!(
        "{helper}\n\
         echo made >&3\n\
         zombies() {{ cat /proc/[0-9]*/stat 2>/dev/null | awk '$3 == \"Z\"' | wc -l; }}\n\
         while [ \"$(zombies)\" -gt 0 ]; do :; done\n\
         echo 'no zombie' >&3\n\
         exit 7",
        helper = helper("orphans:20000")
    );
    let mut r = Pid1::start(&["-w"], &script);
    r.lines.expect("made");
    // Reaped while the program still runs, not only when it exits.
    r.lines.expect("no zombie");
    let end = r.wait();
    assert_eq!(end.code, Some(7), "stderr tail: {}", tail(&end.stderr));
    let reaped = end.stderr.lines().filter(|l| l.starts_with("[rinit] reaped pid ") && l.ends_with(" exited with 0")).count();
    assert_eq!(reaped, 20_000, "stderr tail: {}", tail(&end.stderr));
    let other: Vec<&str> = end.stderr.lines().filter(|l| !l.starts_with("[rinit] reaped pid ")).collect();
    assert!(other.is_empty(), "{other:?}");
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

#[test]
fn fork_storm_during_shutdown_ends_by_the_grace() {
    if !is_root() {
        skip("the storm needs root to confine itself to an unused uid");
        return;
    }
    let script = format!("{}\necho ready >&3\nsleep 1000 & wait", helper("storm:2"));
    let mut r = Pid1::start(&["-v", "-t", "1"], &script);
    r.lines.expect("storm");
    r.lines.expect("ready");
    let mut pids_seen = std::collections::HashSet::new();
    // The storm runs: pids keep changing under rinit.
    let rinit = r.rinit_pid();
    let deadline = Instant::now() + PATIENCE;
    while pids_seen.len() < 50 && Instant::now() < deadline {
        let kids = std::fs::read_to_string(format!("/proc/{rinit}/task/{rinit}/children")).unwrap_or_default();
        pids_seen.extend(kids.split_whitespace().map(str::to_string));
    }
    assert!(pids_seen.len() >= 50, "no storm of orphans under rinit: {pids_seen:?}");
    let signalled = Instant::now();
    r.signal(libc::SIGTERM);
    let end = r.wait();
    let took = signalled.elapsed();
    // sh dies of the forwarded SIGTERM.
    assert_eq!(end.code, Some(143), "stderr: {}", end.stderr);
    // The grace is 1 s; "a bit" more on two shared cores.
    assert!(took < Duration::from_secs(6), "took {took:?}");
    let summary = end.stderr.lines().find(|l| l.starts_with("[rinit] shutdown: ")).unwrap_or_else(|| panic!("{}", end.stderr));
    assert!(!summary.contains(" 0 needed SIGKILL"), "the storm ignores SIGTERM: {summary}");
}

#[test]
fn a_hundred_thousand_signals_neither_wedge_nor_crash_rinit() {
    let script = "trap '' HUP USR1 WINCH ALRM URG 40 64\n\
                  trap 'echo usr2 >&3' USR2\n\
                  trap 'exit 42' TERM\n\
                  sleep 1000 & pid=$!\n\
                  echo ready >&3\n\
                  while :; do wait $pid; done";
    let mut r = Pid1::start(&[], script);
    r.lines.expect("ready");
    let rinit = r.rinit_pid();
    let kinds = [
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGWINCH,
        libc::SIGALRM,
        libc::SIGURG,
        libc::SIGCONT,
        libc::SIGCHLD,
        40,
        64,
    ];
    let mut sent = 0;
    for i in 0..100_000usize {
        let sig = kinds[i % kinds.len()];
        // SAFETY: kill has no memory-safety preconditions.
        if unsafe { libc::kill(rinit, sig) } == 0 {
            sent += 1;
        } else {
            // Real-time signals queue; a full queue says EAGAIN.
            let err = std::io::Error::last_os_error();
            assert_eq!(err.raw_os_error(), Some(libc::EAGAIN), "kill {sig}: {err}");
        }
    }
    assert!(sent > 50_000, "only {sent} signals went out");
    // Still forwarding, one at a time, afterwards.
    for _ in 0..3 {
        r.signal(libc::SIGUSR2);
        r.lines.expect("usr2");
    }
    r.signal(libc::SIGTERM);
    let end = r.wait();
    assert_eq!(end.code, Some(42), "stderr: {}", end.stderr);
    assert_eq!(end.stderr, "");
}

#[test]
fn program_that_closes_its_stdout_and_stderr() {
    let mut r = Pid1::start(&["-v"], "exec >&- 2>&-\necho closed >&3\nexit 3");
    r.lines.expect("closed");
    let end = r.wait();
    assert_eq!(end.code, Some(3), "stderr: {}", end.stderr);
}

/// Spawns `cmd` with stdout and stderr piped, for tests that close them.
fn spawn_piped(mut cmd: Command) -> std::process::Child {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

fn finish(child: &mut std::process::Child) -> Option<i32> {
    assert!(wait_exit(child.id(), PATIENCE), "rinit did not exit");
    child.wait().unwrap().code()
}

#[test]
fn program_killed_by_sigpipe_exits_141() {
    // `yes` writes to the test's stdout pipe until the test closes it: it
    // must die of SIGPIPE (rinit must not hand it an ignored SIGPIPE).
    let (cmd, mut lines) = pid1_command(&[], "echo ready >&3\nexec yes");
    let mut child = spawn_piped(cmd);
    lines.close_writer();
    lines.expect("ready");
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 4];
    out.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"y\ny\n");
    drop(out);
    assert_eq!(finish(&mut child), Some(128 + libc::SIGPIPE));
}

#[test]
fn rinit_logging_into_a_closed_stderr_does_not_signal_the_program() {
    // Debug logging writes a line for every forwarded signal. Once nobody
    // reads rinit's stderr those writes fail with EPIPE, and the kernel
    // raises SIGPIPE at rinit: that is rinit's own business, not a signal
    // for the program.
    let script = "trap 'echo usr1 >&3' USR1\n\
                  trap 'echo pipe >&3' PIPE\n\
                  trap 'exit 9' TERM\n\
                  sleep 1000 & pid=$!\n\
                  echo ready >&3\n\
                  while :; do wait $pid; done";
    let (cmd, mut lines) = pid1_command(&["-vv"], script);
    let mut child = spawn_piped(cmd);
    lines.close_writer();
    lines.expect("ready");
    drop(child.stderr.take());
    let unshare = child.id();
    let rinit = {
        let text = std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children")).unwrap();
        text.split_whitespace().next().unwrap().parse::<i32>().unwrap()
    };
    for _ in 0..3 {
        // SAFETY: kill has no memory-safety preconditions.
        assert_eq!(unsafe { libc::kill(rinit, libc::SIGUSR1) }, 0);
        lines.expect("usr1");
    }
    // A SIGPIPE that someone sends is still forwarded.
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(rinit, libc::SIGPIPE) }, 0);
    lines.expect("pipe");
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(rinit, libc::SIGTERM) }, 0);
    let mut rest = Vec::new();
    while let Some(line) = lines.next_within(PATIENCE) {
        rest.push(line);
    }
    assert_eq!(rest, Vec::<String>::new(), "the program got a SIGPIPE it was never sent");
    assert_eq!(finish(&mut child), Some(9));
}

/// Closes fds 0, 1 and 2 in the child just before exec.
fn close_std_fds(cmd: &mut Command) {
    // SAFETY: close is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            for fd in 0..=2 {
                libc::close(fd);
            }
            Ok(())
        });
    }
}

#[test]
fn rinit_started_with_stdin_stdout_stderr_closed() {
    if common::skip_under_qemu() {
        return;
    }
    // The program sees them closed (rinit's placeholders are close-on-exec),
    // fd 3 carries only the program's lines (no log line landed in it), and
    // rinit still forwards, reaps and exits with the program's status.
    let script = "for fd in 0 1 2; do\n\
                    if [ -e /proc/self/fd/$fd ]; then echo \"fd$fd open\" >&3; else echo \"fd$fd closed\" >&3; fi\n\
                  done\n\
                  trap 'exit 5' TERM\n\
                  sh -c 'exit 0' &\n\
                  sleep 1000 & pid=$!\n\
                  echo ready >&3\n\
                  while :; do wait $pid; done";
    let mut cmd = Command::new(rinit());
    cmd.args(["-s", "-vvv", "-w", "--", "sh", "-c", script]);
    let (mut cmd, lines) = attach_pipe(&mut cmd);
    close_std_fds(&mut cmd);
    let mut r = Pid1::spawn(cmd, lines);
    for fd in 0..=2 {
        r.lines.expect(&format!("fd{fd} closed"));
    }
    r.lines.expect("ready");
    // rinit is not in a namespace here: signal it directly.
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(r.child.id() as i32, libc::SIGTERM) }, 0);
    let end = r.wait();
    assert_eq!(end.code, Some(5));
    assert_eq!((end.stdout.as_str(), end.stderr.as_str()), ("", ""));
}

/// Blocks `block` and ignores `ignore` in the child just before exec, as a
/// parent of rinit might.
fn inherit_signals(cmd: &mut Command, block: &'static [i32], ignore: &'static [i32]) {
    // SAFETY: sigprocmask and signal are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &s in block {
                libc::sigaddset(&mut set, s);
            }
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            for &s in ignore {
                libc::signal(s, libc::SIG_IGN);
            }
            Ok(())
        });
    }
}

fn mask_lines(with_rinit: bool) -> (String, Option<i32>) {
    // The program execs grep, which reports the mask and ignored set it
    // was started with.
    let script = "exec grep -E '^Sig(Blk|Ign):' /proc/self/status >&3";
    let mut cmd = if with_rinit {
        let mut c = Command::new(rinit());
        c.args(["-s", "--"]);
        c
    } else {
        Command::new("env")
    };
    cmd.args(["sh", "-c", script]);
    let (mut cmd, lines) = attach_pipe(&mut cmd);
    inherit_signals(&mut cmd, &[libc::SIGUSR1, libc::SIGINT, 36, 64], &[libc::SIGHUP, libc::SIGUSR2, libc::SIGPIPE, 40]);
    let mut r = Pid1::spawn(cmd, lines);
    let text = format!("{}\n{}", r.lines.next(), r.lines.next());
    (text, r.wait().code)
}

#[test]
fn program_sees_exactly_the_inherited_mask_and_ignored_signals() {
    if common::skip_under_qemu() {
        return;
    }
    let (direct, _) = mask_lines(false);
    let (through_rinit, code) = mask_lines(true);
    assert_eq!(code, Some(0));
    assert_eq!(through_rinit, direct, "rinit changed the signal state it passes on");
    // And the state is really what the parent set, not an empty mask.
    let bits = |name: &str| {
        let line = through_rinit.lines().find(|l| l.starts_with(name)).unwrap();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    let bit = |s: i32| 1u64 << (s - 1);
    let blk = bits("SigBlk:");
    let ign = bits("SigIgn:");
    for s in [libc::SIGUSR1, libc::SIGINT, 36, 64] {
        assert!(blk & bit(s) != 0, "signal {s} not blocked: {blk:016x}");
    }
    for s in [libc::SIGHUP, libc::SIGUSR2, libc::SIGPIPE, 40] {
        assert!(ign & bit(s) != 0, "signal {s} not ignored: {ign:016x}");
    }
    assert_eq!(blk & bit(libc::SIGTERM), 0, "SIGTERM blocked in the program: {blk:016x}");
}

#[test]
fn inherited_ignored_and_blocked_signals_still_reach_rinit() {
    // Blocked or ignored in rinit's parent, SIGTERM and SIGHUP still reach
    // rinit (it waits for them with sigtimedwait), and it still shuts down.
    let script = "trap '' TERM\necho ready >&3\nwhile :; do sleep 1000 & wait $!; done";
    let (mut cmd, lines) = pid1_command(&["-t", "1", "-v"], script);
    inherit_signals(&mut cmd, &[libc::SIGHUP], &[libc::SIGTERM]);
    let mut r = Pid1::spawn(cmd, lines);
    r.lines.expect("ready");
    r.signal(libc::SIGHUP);
    r.signal(libc::SIGTERM);
    let end = r.wait();
    // The program ignores SIGTERM: SIGKILL at the grace.
    assert_eq!(end.code, Some(137), "stderr: {}", end.stderr);
    assert!(end.stderr.contains("[rinit] shutdown: "), "{}", end.stderr);
}

#[test]
fn children_racing_the_programs_exit_do_not_change_the_status() {
    // The program forks children that exit (or die) at once, and exits
    // itself at once: their ends race the program's in rinit's reaping.
    let script = "i=0\n\
                  while [ $i -lt 60 ]; do\n\
                    (exit 3) &\n\
                    sh -c 'kill -9 $$' &\n\
                    sh -c 'exit 130' &\n\
                    i=$((i+1))\n\
                  done\n\
                  exit 7";
    for round in 0..15 {
        let r = Pid1::start(&[], script);
        let end = r.wait();
        assert_eq!(end.code, Some(7), "round {round}: stderr {}", end.stderr);
    }
}

#[test]
fn stopped_and_continued_while_it_works() {
    // SIGSTOP/SIGCONT hammer rinit from outside while it forwards signals,
    // reaps and shuts down: every wait it makes is interrupted over and over.
    let script = "trap 'echo usr1 >&3' USR1\n\
                  trap 'exit 9' TERM\n\
                  (trap '' TERM; while :; do sleep 1; done) &\n\
                  sleep 1000 & pid=$!\n\
                  echo ready >&3\n\
                  while :; do wait $pid; (exit 1) & done";
    let mut r = Pid1::start(&["-t", "2", "-v"], script);
    r.lines.expect("ready");
    let rinit = r.rinit_pid();
    let stop = Arc::new(AtomicBool::new(false));
    let hammer = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(rinit, libc::SIGSTOP);
                    libc::kill(rinit, libc::SIGCONT);
                }
                n += 1;
            }
            n
        })
    };
    for _ in 0..200 {
        r.signal(libc::SIGUSR1);
        r.lines.expect("usr1");
    }
    let signalled = Instant::now();
    r.signal(libc::SIGTERM);
    // The shutdown too runs under the hammer: the TERM-ignoring loop needs
    // the SIGKILL at T+2s.
    let ended = wait_exit(r.child.id(), PATIENCE);
    stop.store(true, Ordering::Relaxed);
    let rounds = hammer.join().unwrap();
    assert!(ended, "rinit did not exit under SIGSTOP/SIGCONT");
    let took = signalled.elapsed();
    let end = r.wait();
    assert_eq!(end.code, Some(9), "stderr: {}", end.stderr);
    assert!(took < Duration::from_secs(8), "shutdown took {took:?}");
    assert!(took >= Duration::from_secs(2), "SIGKILL before the grace: {took:?}");
    assert!(rounds > 100, "the hammer hardly ran: {rounds}");
    assert!(!end.stderr.contains(" 0 needed SIGKILL"), "the TERM-ignoring loop needed SIGKILL: {}", end.stderr);
    assert!(end.stderr.contains("[rinit] shutdown: "), "{}", end.stderr);
}
