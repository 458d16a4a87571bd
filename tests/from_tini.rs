//! Every difference from tini that rinit(1) COMING FROM TINI lists, pinned
//! one test each against the real binary, so that changing any of them is a
//! visible decision. Where tini is installed (scripts/setup.sh installs
//! Debian's), each test also runs tini the same way and checks that the
//! difference is still there: the list stays true for the tini users meet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
use common::*;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// `binary ARGS` with none of the variables either init reads.
fn run(binary: impl Into<PathBuf>, args: &[&str]) -> Output {
    let mut cmd = Command::new(binary.into());
    for v in rinit::cli::ENV_VARS {
        cmd.env_remove(v);
    }
    cmd.args(args).stdin(Stdio::null()).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// tini, where installed; otherwise the test says it is skipped (the rinit
/// half has run by then) and returns.
fn tini() -> Option<PathBuf> {
    match Command::new("tini").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(_) => Some(PathBuf::from("tini")),
        Err(_) => {
            skip("tini is not installed: the rinit half ran, the comparison did not (scripts/setup.sh installs tini)");
            None
        }
    }
}

#[test]
fn usage_errors_exit_2_where_tini_exits_1() {
    let out = run(rinit(), &["--no-such-option", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with("rinit: unknown option '--no-such-option'\n"));
    let Some(tini) = tini() else { return };
    assert_eq!(run(tini, &["--no-such-option", "true"]).status.code(), Some(1));
}

#[test]
fn options_end_at_the_first_non_option_where_tini_takes_them_all() {
    if common::skip_under_qemu() {
        return;
    }
    // `echo -v`: rinit runs it as typed.
    let out = run(rinit(), &["-s", "echo", "-v"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "-v\n");
    // tini's getopt took -v for itself: echo printed an empty line (and
    // tini, now at info level, its own lines on stdout after it).
    let Some(tini) = tini() else { return };
    let out = text(&run(tini, &["-s", "echo", "-v"]).stdout);
    assert_eq!(out.lines().next(), Some(""), "{out}");
    assert!(!out.contains("-v"), "{out}");
}

#[test]
fn license_prints_rinits_own() {
    let out = run(rinit(), &["-l"]);
    assert_eq!(out.status.code(), Some(0));
    let licence = text(&out.stdout);
    assert_eq!(licence, std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/LICENSE")).unwrap());
    assert!(licence.starts_with("MIT License") && licence.contains("The rinit authors"), "{licence}");
    let Some(tini) = tini() else { return };
    assert!(text(&run(tini, &["-l"]).stdout).contains("Thomas Orozco"));
}

#[test]
fn version_reads_rinit_version_with_the_git_hash() {
    let out = run(rinit(), &["--version"]);
    let version = text(&out.stdout);
    let want = format!("rinit version {} - git.", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&want) && version.ends_with('\n') && version.lines().count() == 1, "{version}");
    let Some(tini) = tini() else { return };
    assert!(text(&run(tini, &["--version"]).stdout).starts_with("tini version "));
}

#[test]
fn log_lines_are_worded_rinits_way() {
    if common::skip_under_qemu() {
        return;
    }
    // -w, as PID 1: the orphan `(exit 3)` is rinit's to reap. It inherits
    // an ignored SIGTERM, so that the shutdown's kill(-1) cannot end it
    // first if it is still starting when the program has gone.
    let end = Pid1::start(&["-w"], "trap '' TERM; (exit 3) & exec sleep 0").wait();
    assert_eq!(end.code, Some(0));
    let reaped: Vec<&str> = end.stderr.lines().filter(|l| l.contains("reaped")).collect();
    assert_eq!(reaped.len(), 1, "{}", end.stderr);
    assert!(reaped[0].starts_with("[rinit] reaped pid ") && reaped[0].ends_with(", which exited with 3"), "{}", reaped[0]);

    // Not PID 1, rinit is a subreaper unless told not to (tini only with
    // -s): nothing to warn about.
    let out = run(rinit(), &["true"]);
    assert_eq!((out.status.code(), text(&out.stderr).as_str()), (Some(0), ""));
    // Not PID 1, not a subreaper (RINIT_SUBREAPER=0): one line, naming -s.
    let out = Command::new(rinit()).arg("true").env("RINIT_SUBREAPER", "0").stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let warning = text(&out.stderr);
    assert_eq!(warning.lines().count(), 1, "{warning}");
    assert!(warning.starts_with("[rinit] not running as PID 1 and not a subreaper: ") && warning.contains("use -s"), "{warning}");

    // Verbosity 3 (debug): rinit's own words for the program's end.
    let end = Pid1::start(&["-vv"], "exit 5").wait();
    assert_eq!(end.code, Some(5));
    assert!(end.stderr.lines().any(|l| l == "[rinit] program (pid 2) exited with 5; exit status 5"), "{}", end.stderr);
    assert!(end.stderr.lines().all(|l| l.starts_with("[rinit] ")), "{}", end.stderr);

    let Some(tini) = tini() else { return };
    let out = run(tini, &["true"]);
    let tini_warning = text(&out.stderr);
    assert!(tini_warning.starts_with("[WARN  tini (") && tini_warning.lines().count() == 3, "{tini_warning}");
}

/// A daemon that reports on fd 3 when it is up and when it gets SIGTERM,
/// and a program that exits as soon as the daemon is up.
fn daemon_then_exit(dir: &std::path::Path) -> String {
    // The program waits on a fifo that the daemon writes once its trap is
    // set and its sleep has exec'd (a child still between fork and exec
    // would run the inherited trap instead of dying: tests/shutdown.rs).
    let fifo = p(&dir.join("up"));
    format!(
        r#"mkfifo {fifo}; (trap 'echo cleaned-up >&3; exit 0' TERM; sleep 1000 & s=$!
         while [ "$(cat /proc/$s/comm 2>/dev/null)" != sleep ]; do :; done
         echo up >&3; echo > {fifo}; wait $s) &
         read ready < {fifo}"#
    )
}

#[test]
fn other_processes_are_shut_down_gracefully_not_left_to_the_kernel() {
    let dir = temp_dir("from-tini");
    let mut r = Pid1::start(&[], &daemon_then_exit(&dir));
    r.lines.expect("up");
    // The program has exited; rinit SIGTERMs the daemon, which cleans up.
    r.lines.expect("cleaned-up");
    let end = r.wait();
    assert_eq!(end.code, Some(0));
    assert!(!end.stderr.contains("SIGKILL") || end.stderr.contains("0 needed SIGKILL"), "{}", end.stderr);

    let Some(tini) = tini() else { return };
    let dir = temp_dir("from-tini-tini");
    let mut cmd = Command::new("unshare");
    cmd.args(unshare_args()).arg(tini).args(["--", "sh", "-c", &daemon_then_exit(&dir)]);
    let mut r = Pid1::launch(cmd);
    r.lines.expect("up");
    // tini exits with the program; the kernel SIGKILLs the daemon: fd 3
    // closes without a word from it.
    r.lines.expect_eof();
    assert_eq!(r.wait().code, Some(0));
}
