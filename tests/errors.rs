//! Every error path of rinit(1) EXIT STATUS, triggered for real: the message says what
//! failed (and what to do), the exit status is the one the man page gives, and a
//! usage error starts nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
use common::*;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

/// Variables rinit reads; cleared so that the test's own environment cannot
/// change the outcome.
const RINIT_VARS: &[&str] = &rinit::cli::ENV_VARS;

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs rinit directly (not as PID 1) with `args` and `vars`.
fn run(args: &[&OsStr], vars: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(rinit());
    for v in RINIT_VARS {
        cmd.env_remove(v);
    }
    cmd.args(args).envs(vars.iter().copied()).stdin(Stdio::null());
    let out = cmd.output().unwrap();
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// A usage error: status 2, the problem on one line and the `--help` hint
/// on the next, nothing on stdout, and the program never ran.
fn assert_usage_error(args: &[&str], vars: &[(&str, &str)], problem: &str) {
    let dir = temp_dir("usage");
    let marker = dir.join("ran");
    let script = format!("touch {}", p(&marker));
    let mut full: Vec<&OsStr> = args.iter().map(|a| os(a)).collect();
    full.extend([os("--"), os("sh"), os("-c"), os(&script)]);
    let out = run(&full, vars);
    assert_eq!(out.code, Some(2), "{args:?} {vars:?}: stderr {:?}", out.stderr);
    assert_eq!(
        out.stderr,
        format!("rinit: {problem}\nTry 'rinit --help' for more information.\n"),
        "{args:?} {vars:?}"
    );
    assert_eq!(out.stdout, "");
    assert!(!marker.exists(), "{args:?} {vars:?}: the program ran despite the usage error");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_options_exit_2_and_start_nothing() {
    let cases: &[(&[&str], &str)] = &[
        (&["-x"], "unknown option '-x'"),
        (&["--bogus"], "unknown option '--bogus'"),
        (&["--subreaper=1"], "option '--subreaper' takes no value"),
        (&["--stop-signal", "KILL"], "--stop-signal: SIGKILL cannot be a stop signal: rinit never receives it as a signal to forward"),
        (
            &["-t", "2s", "--term-delay", "2s"],
            "--term-delay 2s (RINIT_TERM_DELAY) is not shorter than the grace period 2s (--grace, RINIT_GRACE): the delay is counted inside the grace; give a shorter delay or a longer grace",
        ),
        (&["-e", "256"], "--remap-exit: '256' is not an exit status (0-255)"),
        (&["--remap-exit=-1"], "--remap-exit: '-1' is not an exit status (0-255)"),
        (
            &["-p", "FOO"],
            "--pdeathsig: 'FOO' is not a signal (use a name such as TERM or SIGUSR1, a number 1-64, or RTMIN+N)",
        ),
        (
            &["-pRTMIN+2147483647"],
            "--pdeathsig: 'RTMIN+2147483647' is not a signal (use a name such as TERM or SIGUSR1, a number 1-64, or RTMIN+N)",
        ),
        (
            &["-r", "TERM"],
            "--rewrite: 'TERM' is not FROM:TO (for example TERM:QUIT, or USR1:0 to drop USR1)",
        ),
        (
            &["-r", "KILL:TERM"],
            "--rewrite: SIGKILL cannot be rewritten: rinit never receives it as a signal to forward",
        ),
        (
            &["-t", "soon"],
            "--grace: 'soon' is not a duration (use 10s, 500ms, 2m, or a number of seconds)",
        ),
        (&["--grace=400d"], "--grace: '400d' is not a duration (use 10s, 500ms, 2m, or a number of seconds)"),
        (&["-t", "9000h"], "--grace: '9000h' is longer than a year"),
        (&["-t", "31536000.000000001"], "--grace: '31536000.000000001' is longer than a year"),
        // What the user typed is shown escaped (rinit(1) DIAGNOSTICS): a
        // value or option with a newline cannot print a line of its own.
        (&["-t", "2s\n[rinit] all ok"], "--grace: '2s\\n[rinit] all ok' is not a duration (use 10s, 500ms, 2m, or a number of seconds)"),
        (&["-\x1b"], "unknown option '-\\x1b'"),
        (&["--it's\n"], "unknown option '--it\\'s\\n'"),
        // PR_SET_PDEATHSIG would fail on 65: it is caught here instead.
        (
            &["-p", "65"],
            "--pdeathsig: '65' is not a signal (use a name such as TERM or SIGUSR1, a number 1-64, or RTMIN+N)",
        ),
        (&["--pids-max", "lots"], "--pids-max: 'lots' is not a number of processes"),
        (
            &["--pids-max=1"],
            "--pids-max: '1' is out of range: at least 2 (rinit and the program), at most 4194304",
        ),
    ];
    for (args, problem) in cases {
        assert_usage_error(args, &[], problem);
    }
}

#[test]
fn bad_environment_values_exit_2_and_start_nothing() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "RINIT_SUBREAPER",
            "maybe",
            "RINIT_SUBREAPER: 'maybe' is not a boolean (use 1/true/yes/on or 0/false/no/off)",
        ),
        (
            "RINIT_KILL_PROCESS_GROUP",
            "2",
            "RINIT_KILL_PROCESS_GROUP: '2' is not a boolean (use 1/true/yes/on or 0/false/no/off)",
        ),
        (
            "RINIT_GRACE",
            "-1s",
            "RINIT_GRACE: '-1s' is not a duration (use 10s, 500ms, 2m, or a number of seconds)",
        ),
        ("RINIT_PIDS_MAX", "lots", "RINIT_PIDS_MAX: 'lots' is not a number of processes"),
        // Unreadable, even printable: env_logger's warning went through
        // eprintln!, and PID 1 died of SIGILL when stderr was full.
        ("RINIT_LOG", "a=b=c", "RINIT_LOG: 'a=b=c' is not an env_logger filter (for example debug, or rinit=trace)"),
        (
            "RINIT_LOG",
            "x=y=z\n[rinit] all ok",
            "RINIT_LOG: 'x=y=z\\n[rinit] all ok' is not an env_logger filter (for example debug, or rinit=trace)",
        ),
        ("RINIT_GRACE", "2s\n[rinit] all ok", "RINIT_GRACE: '2s\\n[rinit] all ok' is not a duration (use 10s, 500ms, 2m, or a number of seconds)"),
        (
            "RINIT_VERBOSITY",
            "loud",
            "RINIT_VERBOSITY: 'loud' is not a number (0 errors only, 1 warnings, 2 info, 3 debug, 4 trace)",
        ),
        (
            "RINIT_REWRITE",
            "TERM:QUIT,KILL:TERM",
            "RINIT_REWRITE: SIGKILL cannot be rewritten: rinit never receives it as a signal to forward",
        ),
        ("RINIT_REMAP_EXIT", "143 300", "RINIT_REMAP_EXIT: '300' is not an exit status (0-255)"),
        ("RINIT_PDEATHSIG", "DIE", "RINIT_PDEATHSIG: 'DIE' is not a signal (use a name such as TERM or SIGUSR1, a number 1-64, or RTMIN+N)"),
        (
            "RINIT_WARN_ON_REAP",
            "loud",
            "RINIT_WARN_ON_REAP: 'loud' is not a boolean (use 1/true/yes/on or 0/false/no/off)",
        ),
        (
            "RINIT_STOP_SIGNALS",
            "QUIT,STOP",
            "RINIT_STOP_SIGNALS: SIGSTOP cannot be a stop signal: rinit never receives it as a signal to forward",
        ),
        (
            "RINIT_TERM_DELAY",
            "soon",
            "RINIT_TERM_DELAY: 'soon' is not a duration (use 10s, 500ms, 2m, or a number of seconds)",
        ),
        (
            "RINIT_TERM_DELAY",
            "9s",
            "--term-delay 9s (RINIT_TERM_DELAY) is not shorter than the grace period 8s (--grace, RINIT_GRACE): the delay is counted inside the grace; give a shorter delay or a longer grace",
        ),
        (
            "LISTEN_FDS",
            "two",
            "LISTEN_FDS: 'two' is not a number of descriptors (socket activation sets it, with LISTEN_PID)",
        ),
    ];
    assert_usage_error(
        &[],
        &[("LISTEN_FDS", "1"), ("LISTEN_PID", "me")],
        "LISTEN_PID: 'me' is not a process id (socket activation sets it, with LISTEN_FDS)",
    );
    for (name, value, problem) in cases {
        assert_usage_error(&[], &[(name, value)], problem);
        // Checked even when an option would override the variable.
        if *name == "RINIT_GRACE" {
            assert_usage_error(&["-t", "1"], &[(name, value)], problem);
        }
        // A list is checked whole even when the option replaces it.
        if *name == "RINIT_REWRITE" {
            assert_usage_error(&["-r", "INT:HUP"], &[(name, value)], problem);
        }
    }
}

#[test]
fn no_program_exits_2() {
    for args in [&[][..], &["-s"][..], &["--"][..]] {
        let out = run(&args.iter().map(|a| os(a)).collect::<Vec<_>>(), &[]);
        assert_eq!(out.code, Some(2), "{args:?}");
        assert_eq!(
            out.stderr,
            "rinit: no program given: rinit [OPTION]... [--] PROGRAM [ARG]...\nTry 'rinit --help' for more information.\n"
        );
    }
}

#[test]
fn an_option_that_is_not_utf8_exits_2() {
    let bad = OsStr::from_bytes(b"-\xff");
    let out = run(&[bad, os("true")], &[]);
    assert_eq!(out.code, Some(2));
    // The byte itself, escaped, not a replacement character.
    assert!(out.stderr.starts_with("rinit: option '-\\xff' is not valid UTF-8\n"), "{}", out.stderr);
    // A value: named by the long option, as every value's error.
    let out = run(&[os("-t"), bad, os("true")], &[]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.starts_with("rinit: --grace: value is not valid UTF-8\n"), "{}", out.stderr);
}

/// Runs `rinit PROGRAM` as PID 1 of a new namespace: there rinit prints
/// nothing of its own, so stderr is exactly the error line.
fn run_as_pid1(program: &[&str]) -> Ended {
    let mut cmd = Command::new("unshare");
    cmd.args(unshare_args()).arg(rinit()).arg("--").args(program);
    for v in RINIT_VARS {
        cmd.env_remove(v);
    }
    let (cmd, lines) = attach_pipe(&mut cmd);
    Pid1::spawn(cmd, lines).wait()
}

#[test]
fn program_not_found_exits_127() {
    let end = run_as_pid1(&["/nonexistent/program", "arg"]);
    assert_eq!(end.code, Some(127));
    assert_eq!(end.stderr, "rinit: cannot run '/nonexistent/program': No such file or directory\n");
    // Looked up in PATH, and not there.
    let end = run_as_pid1(&["rinit-no-such-command-anywhere"]);
    assert_eq!(end.code, Some(127));
    assert_eq!(end.stderr, "rinit: cannot run 'rinit-no-such-command-anywhere': No such file or directory\n");
}

#[test]
fn program_not_executable_exits_126() {
    let dir = temp_dir("noexec");
    // A file without any execute bit: even root may not run it.
    let plain = dir.join("plain");
    std::fs::write(&plain, "#!/bin/sh\necho ran\n").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    // Executable but not a program the kernel knows how to start.
    let junk = dir.join("junk");
    std::fs::write(&junk, b"\x01\x02 not a program\n").unwrap();
    std::fs::set_permissions(&junk, std::fs::Permissions::from_mode(0o755)).unwrap();

    let cases = [
        (p(&plain), "Permission denied"),
        (p(&dir), "Permission denied"),
        (p(&junk), "Exec format error"),
    ];
    for (path, reason) in cases {
        let end = run_as_pid1(&[&path]);
        assert_eq!(end.code, Some(126), "{path}: {}", end.stderr);
        assert_eq!(end.stderr, format!("rinit: cannot run '{path}': {reason}\n"));
        assert_eq!(end.stdout, "");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A uid that no other process of this machine uses, so that RLIMIT_NPROC
/// counts rinit alone.
fn lonely_uid() -> u32 {
    300_000 + std::process::id() % 100_000
}

#[test]
fn fork_failure_exits_1_with_the_call_and_a_hint() {
    if common::skip_under_qemu() {
        return;
    }
    if !is_root() {
        skip("needs root to switch to an unused uid");
        return;
    }
    let dir = temp_dir("nofork");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let marker = dir.join("ran");
    let uid = lonely_uid().to_string();
    // rinit -s -- touch MARKER, as `uid`, with at most `nproc` processes.
    let run_limited = |nproc: &str| {
        Command::new("prlimit")
            .args([nproc, "setpriv", "--reuid", &uid, "--regid", &uid, "--clear-groups"])
            .arg(rinit())
            .args(["-s", "--", "touch"])
            .arg(&marker)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // RLIMIT_NPROC of 1 for a uid with no other process: rinit itself is
    // that one process, so its fork fails with EAGAIN.
    let out = run_limited("--nproc=1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(
        stderr,
        "rinit: cannot start the program: fork failed: Try again (is a process limit such as pids.max or ulimit -u reached?)\n"
    );
    assert!(!marker.exists(), "the program ran");
    // The same command with room for one more process works: the limit, not
    // the uid or the setup, made it fail.
    let out = run_limited("--nproc=2");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(marker.exists());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn not_pid1_without_subreaper_warns_once_naming_s() {
    if common::skip_under_qemu() {
        return;
    }
    // rinit(1) START: not PID 1, rinit is a subreaper unless told not to.
    let out = run(&[os("true")], &[]);
    assert_eq!((out.code, out.stderr.as_str()), (Some(0), ""));
    let out = run(&[os("true")], &[("RINIT_SUBREAPER", "0")]);
    assert_eq!(out.code, Some(0));
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{:?}", out.stderr);
    assert!(lines[0].starts_with("[rinit] not running as PID 1") && lines[0].contains("-s"), "{}", lines[0]);
    // With -s there is nothing to warn about.
    let out = run(&[os("-s"), os("true")], &[]);
    assert_eq!((out.code, out.stderr.as_str()), (Some(0), ""));
}

#[test]
fn exec_failure_outside_pid_1_is_the_only_message() {
    // Neither PID 1 nor a subreaper would earn a warning, but the program
    // cannot run, which ends rinit anyway: the error alone is printed.
    let out = run(&[os("rinit-no-such-command-anywhere")], &[]);
    assert_eq!(out.code, Some(127));
    assert_eq!(out.stderr, "rinit: cannot run 'rinit-no-such-command-anywhere': No such file or directory\n");
    let out = run(&[os("/")], &[]);
    assert_eq!(out.code, Some(126));
    assert_eq!(out.stderr, "rinit: cannot run '/': Permission denied\n");
}

/// rinit (and, PID 1, under unshare) with stderr `stderr` and SIGPIPE at
/// its default (the test harness ignores it, and a child would inherit
/// that): its exit status.
fn with_stderr(pid_1: bool, args: &[&str], vars: &[(&str, &str)], stderr: Stdio) -> std::process::ExitStatus {
    use std::os::unix::process::CommandExt;
    let mut cmd = if pid_1 {
        let mut c = Command::new("unshare");
        c.args(unshare_args()).arg(rinit());
        c
    } else {
        Command::new(rinit())
    };
    for v in RINIT_VARS {
        cmd.env_remove(v);
    }
    cmd.args(args).envs(vars.iter().copied()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
    // SAFETY: signal() is async-signal-safe; this is the forked child.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            Ok(())
        });
    }
    cmd.status().unwrap()
}

/// A stderr that cannot be written: a pipe whose reader has gone.
fn broken_pipe() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: pipe writes two descriptors into the array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the read end is this test's and is closed once.
    unsafe { libc::close(fds[0]) };
    // SAFETY: the write end is owned by the Stdio from here on.
    unsafe { <Stdio as std::os::fd::FromRawFd>::from_raw_fd(fds[1]) }
}

/// A review: a program that cannot be run, with stderr a pipe no one
/// reads, ended rinit with 141: the child's message after its mask was
/// handed back raised SIGPIPE. The status stays 127, PID 1 or not.
#[test]
fn a_program_that_cannot_run_exits_127_even_when_stderr_is_gone() {
    for pid_1 in [false, true] {
        let status = with_stderr(pid_1, &["--", "/rinit-no-such-program"], &[], broken_pipe());
        assert_eq!(status.code(), Some(127), "PID 1 {pid_1}: {status:?}");
    }
}

/// A review: not PID 1, a usage error written to a pipe no one reads
/// ended rinit with SIGPIPE (141) before it had blocked any signal; the
/// status is 2, as for every usage error.
#[test]
fn a_usage_error_exits_2_even_when_stderr_is_gone() {
    let status = with_stderr(false, &["--bogus"], &[], broken_pipe());
    assert_eq!(status.code(), Some(2), "{status:?}");
}

/// A review: env_logger's warning for a filter it cannot read goes
/// through `eprintln!`, which panics when stderr cannot be written, and
/// PID 1 died of SIGILL (132) with `RINIT_LOG=a=b=c 2>/dev/full`. Now a
/// usage error, 2, whatever stderr is.
#[test]
fn an_unreadable_log_filter_is_a_usage_error_even_when_stderr_is_full() {
    if !std::path::Path::new("/dev/full").exists() {
        skip("no /dev/full");
        return;
    }
    for pid_1 in [false, true] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let status = with_stderr(pid_1, &["--", "true"], &[("RINIT_LOG", "a=b=c")], Stdio::from(full));
        assert_eq!(status.code(), Some(2), "PID 1 {pid_1}: {status:?}");
    }
}

#[test]
fn an_option_after_double_dash_is_run_and_gets_a_hint() {
    // `docker run IMAGE -v sh` under ENTRYPOINT ["rinit", "--"].
    let end = run_as_pid1(&["-v", "sh"]);
    assert_eq!(end.code, Some(127));
    let lines: Vec<&str> = end.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", end.stderr);
    assert_eq!(lines[0], "rinit: cannot run '-v': No such file or directory");
    assert!(lines[1].starts_with("rinit: ") && lines[1].contains("rinit's own options go before '--'"), "{}", lines[1]);
}

#[test]
fn help_version_and_licence_exit_0_on_stdout() {
    let out = run(&[os("--help")], &[]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.contains("Usage: rinit [OPTION]... [--] PROGRAM [ARG]..."));
    assert_eq!(out.stderr, "");
    let out = run(&[os("-V")], &[]);
    assert_eq!(out.code, Some(0));
    let v = out.stdout.trim_end();
    let rest = v.strip_prefix(&format!("rinit version {} - git.", env!("CARGO_PKG_VERSION"))).unwrap_or_else(|| panic!("{v:?}"));
    assert!(!rest.is_empty() && !rest.contains(' '), "{v:?}");
    let out = run(&[os("-l")], &[]);
    assert_eq!(out.code, Some(0));
    assert!(!out.stdout.is_empty());
}

#[test]
fn help_with_stdout_closed_does_not_crash() {
    // println! would panic here (and a panic in PID 1 kills the container).
    for arg in ["--help", "--version", "--license"] {
        let out = Command::new(rinit())
            .arg(arg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .pre_exec_close_stdout()
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{arg}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{arg}");
    }
}

trait CloseStdout {
    fn pre_exec_close_stdout(&mut self) -> &mut Self;
}

impl CloseStdout for Command {
    fn pre_exec_close_stdout(&mut self) -> &mut Self {
        use std::os::unix::process::CommandExt;
        // SAFETY: close is async-signal-safe.
        unsafe {
            self.pre_exec(|| {
                libc::close(1);
                Ok(())
            })
        }
    }
}
