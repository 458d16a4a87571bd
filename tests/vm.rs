//! rinit(1) CGROUPS on a real cgroup-v2-only kernel: QEMU (TCG, no KVM needed) boots
//! Debian's cloud kernel from a busybox initramfs that holds the static rinit
//! and the scenarios of scripts/vm/scenarios, with only cgroup2 mounted (the
//! layout of Docker Desktop, Debian 12, Ubuntu 22.04+, RHEL 9). This
//! machine's own cgroups are v1, so this is where v2 is proven.
//!
//! scripts/vm/fetch.sh fetches the kernel and QEMU into target/vm (once; the
//! tests skip, saying why, when it cannot), scripts/vm/run.sh boots. A boot
//! takes seconds, so one boot runs several scenarios one after the other,
//! each in its own cgroups, and each test reads its own scenario's part of
//! the console log. rinit as the VM's own PID 1 gets a boot of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
use common::json::{json_field, json_number, just_below};
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The kernel and QEMU, or why they cannot be had here.
fn cache() -> Result<PathBuf, String> {
    static CACHE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            if Command::new("busybox").arg("true").status().map(|s| !s.success()).unwrap_or(true) {
                return Err("no busybox to build the initramfs from (scripts/setup.sh installs busybox-static)".into());
            }
            let out = Command::new(repo().join("scripts/vm/fetch.sh"))
                .arg(repo().join("target/vm"))
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run scripts/vm/fetch.sh: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "scripts/vm/fetch.sh could not fetch the kernel and QEMU: {}",
                    String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
                ));
            }
            Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
        .clone()
}

/// One boot's console log, without carriage returns.
struct Boot {
    log: String,
}

/// What became of a boot; kept, so that a failed boot fails each of its
/// tests once rather than booting again for each.
enum Outcome {
    Booted(Boot),
    Failed(String),
    /// Why no VM can run here.
    Unavailable(String),
}

impl Outcome {
    /// Boots with `what` on the kernel command line (`scenarios=a,b` or
    /// `pid1=NAME`).
    fn of(what: &str) -> Outcome {
        let cache = match cache() {
            Ok(c) => c,
            Err(reason) => return Outcome::Unavailable(reason),
        };
        let out = Command::new(repo().join("scripts/vm/run.sh"))
            .arg(&cache)
            .arg(rinit())
            .arg(what)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stdout).replace('\r', "");
        if !out.status.success() {
            return Outcome::Failed(format!(
                "the VM ({what}) failed: {}\nstderr: {}\nconsole:\n{log}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        if !log.contains("=== booted") {
            return Outcome::Failed(format!("the VM ({what}) never ran /init; console:\n{log}"));
        }
        Outcome::Booted(Boot { log })
    }

    /// The boot, or None (the test returns) after a skip; panics if it failed.
    fn boot(&self) -> Option<&Boot> {
        match self {
            Outcome::Booted(b) => Some(b),
            Outcome::Failed(why) => panic!("{why}"),
            Outcome::Unavailable(reason) => {
                skip(reason);
                None
            }
        }
    }
}

impl Boot {
    /// What scenario `name` printed, up to and including its status line.
    fn scenario(&self, name: &str) -> String {
        let begin = format!("=== begin {name}\n");
        let start = self.log.find(&begin).unwrap_or_else(|| panic!("scenario {name} never started; console:\n{}", self.log));
        let rest = &self.log[start + begin.len()..];
        let end = format!("=== end {name} status=");
        let stop = rest.find(&end).unwrap_or_else(|| panic!("scenario {name} never ended; console:\n{}", self.log));
        let status_line = rest[stop..].lines().next().unwrap_or("");
        format!("{}{status_line}\n", &rest[..stop])
    }
}

/// The boot in which /init runs the scenarios one after the other. The
/// order matters only for pids-root-leaf, which checks that nothing enabled
/// +pids before it.
fn shell_boot() -> Option<&'static Boot> {
    static BOOT: OnceLock<Outcome> = OnceLock::new();
    BOOT.get_or_init(|| Outcome::of("scenarios=pids-root-leaf,pids-nested,oom-program,oom-orphan,oom-grandchild,report,cache-at-limit"))
        .boot()
}

/// A scenario's output from the shell boot, checked to have finished.
fn scenario(name: &str) -> Option<String> {
    let out = shell_boot()?.scenario(name);
    assert!(out.ends_with(&format!("=== end {name} status=0\n")), "scenario {name} failed:\n{out}");
    Some(out)
}

fn has_line(out: &str, line: &str) -> bool {
    out.lines().any(|l| l == line)
}

/// The value after `prefix` on the first line that starts with it.
fn after<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{out}"))
}

#[test]
fn pids_max_at_the_v2_root_makes_a_leaf_enables_pids_and_removes_it() {
    let Some(out) = scenario("pids-root-leaf") else { return };
    assert!(has_line(&out, "before: subtree_control ''"), "{out}");
    let cg = after(&out, "program: cgroup ");
    let leaf = cg.strip_prefix("/sys/fs/cgroup/rinit-").unwrap_or_else(|| panic!("a leaf of the root: {out}"));
    assert!(leaf.split_once('-').is_some(), "{out}");
    assert!(has_line(&out, "program: pids.max 12"), "{out}");
    let current: u32 = after(&out, "program: pids.current ").parse().unwrap();
    assert!(current <= 12, "never more than 12 processes in the leaf: {out}");
    let refused: u32 = after(&out, "program: pids.events max ").parse().unwrap();
    assert!(refused >= 1, "the kernel refused forks: {out}");
    assert!(has_line(&out, "after: rinit exit 0"), "{out}");
    assert!(has_line(&out, "after: subtree_control 'pids'"), "rinit enabled +pids: {out}");
    // Its own leaf and the stale one are gone.
    assert!(has_line(&out, "after: leaves ''"), "{out}");
}

#[test]
fn pids_max_in_a_v2_cgroup_is_set_kept_when_lower_and_restored_only_if_unchanged() {
    let Some(out) = scenario("pids-nested") else { return };
    let cases: Vec<&str> = out.split("case: ").skip(1).collect();
    assert_eq!(cases.len(), 3, "{out}");
    assert!(cases[0].contains("program: pids.max 40\n") && cases[0].contains("after: pids.max 100\n"), "{out}");
    assert!(cases[1].contains("program: pids.max 20\n") && cases[1].contains("after: pids.max 20\n"), "{out}");
    assert!(cases[1].contains("is already 20, at most the 40 of --pids-max: kept as it is"), "{out}");
    assert!(cases[2].contains("program: pids.max 40\n") && cases[2].contains("after: pids.max 30\n"), "{out}");
}

#[test]
fn oom_killed_program_is_reported_on_v2() {
    let Some(out) = scenario("oom-program") else { return };
    assert!(
        out.contains("[rinit] 'sh' (pid 2) was killed by the kernel OOM killer (memory limit 32 MiB"),
        "{out}"
    );
    assert!(has_line(&out, "after: rinit exit 137"), "{out}");
    assert!(has_line(&out, "after: oom_kill 1"), "{out}");
}

#[test]
fn oom_killed_orphan_is_reported_on_v2() {
    let Some(out) = scenario("oom-orphan") else { return };
    let orphan = after(&out, "program: orphan pid ");
    let want = format!("[rinit] 'sh' (pid {orphan}) was killed by the kernel OOM killer (memory limit 32 MiB");
    assert!(out.contains(&want), "want {want:?} in:\n{out}");
    assert!(has_line(&out, "after: rinit exit 0"), "{out}");
}

#[test]
fn pids_max_and_graceful_shutdown_with_rinit_as_the_vms_pid_1() {
    static BOOT: OnceLock<Outcome> = OnceLock::new();
    let Some(boot) = BOOT.get_or_init(|| Outcome::of("pid1=pid1")).boot() else { return };
    let log = &boot.log;
    let program = after(log, "program: pid ");
    let (_pid, rest) = program.split_once(" cgroup /sys/fs/cgroup/rinit-").unwrap_or_else(|| panic!("{log}"));
    assert!(rest.ends_with(" pids.max 40"), "the program runs in rinit's leaf: {log}");
    assert!(log.contains("program: daemon ready, exiting 3\n"), "{log}");
    assert!(log.contains("daemon: got SIGTERM\n"), "the daemon was stopped gracefully: {log}");
    assert!(log.contains("[rinit] shutdown: "), "{log}");
    // rinit exited with the program's status: the kernel shows it as PID 1's.
    assert!(log.contains("Attempted to kill init! exitcode=0x00000300"), "{log}");
}

#[test]
fn oom_killed_grandchild_is_reported_when_it_happens() {
    // The program's shell reaps its OOM-killed subshell: rinit never reaps
    // the victim. On the main of 2026-11-25 (f3d1edc) nothing was said.
    let Some(out) = scenario("oom-grandchild") else { return };
    assert!(has_line(&out, "program: subshell status 137"), "{out}");
    assert!(
        out.contains(
            "[rinit] a process in the container was killed by the kernel OOM killer (memory limit 32 MiB, 1 OOM kill so far)"
        ),
        "{out}"
    );
    assert!(out.contains("[rinit] the kernel OOM killer killed 1 process in the container"), "{out}");
    assert!(has_line(&out, "after: oom_kill 1"), "{out}");
}

#[test]
fn plain_sigkill_after_a_grandchilds_oom_kill_is_not_blamed_on_the_oom_killer() {
    // On the main of 2026-11-25 the grandchild's kill stayed "pending" and
    // the orphan that `kill -KILL` ended was reported as OOM-killed.
    let Some(out) = scenario("oom-grandchild") else { return };
    let orphan = after(&out, "program: killed orphan ");
    assert!(!out.contains(&format!("'sleep' (pid {orphan}) was killed")), "{out}");
    assert_eq!(out.matches("killed by the kernel OOM killer").count(), 1, "one kill, one report: {out}");
    assert!(has_line(&out, "after: rinit exit 0"), "{out}");
}

#[test]
fn the_exit_report_gives_what_the_v2_cgroups_own_files_say() {
    // Issue 23, the host test's program (tests/cgroup.rs) in a v2 cgroup
    // with memory, pids and (always there) cpu.stat.
    let Some(out) = scenario("report") else { return };
    assert!(has_line(&out, "after: rinit exit 0"), "{out}");
    let json = after(&out, "after: json ");
    let file = |key: &str| -> u64 { after(&out, &format!("after: {key} ")).parse().unwrap_or_else(|_| panic!("{key}: {out}")) };
    // Under TCG rinit's own exit and unshare's take longer: 100 ms.
    just_below("cpu.stat usage_usec", json_number(json, "cpu_usec"), file("usage_usec"), 100_000);
    just_below("cpu.stat user_usec", json_number(json, "cpu_user_usec"), file("user_usec"), 100_000);
    just_below("cpu.stat system_usec", json_number(json, "cpu_system_usec"), file("system_usec"), 100_000);
    assert!(json_number(json, "cpu_user_usec") >= 1_000_000, "1 s of utime burnt: {json}");
    just_below("memory.peak", json_number(json, "memory_peak_bytes"), file("memory.peak"), 1 << 20);
    assert!(json_number(json, "memory_peak_bytes") >= 64 << 20, "64 MiB touched: {json}");
    assert_eq!(json_number(json, "memory_limit_bytes"), file("memory.max"));
    assert_eq!(json_number(json, "pids_peak"), file("pids.peak"));
    assert!(file("pids.peak") >= 22, "{out}");
    assert_eq!(json_number(json, "oom_kills"), file("memory.events oom_kill"));
    for (key, want) in [("cgroup", "\"v2\""), ("pids_peak_from", "\"pids.peak\""), ("memory_limited", "true"), ("program_exit_code", "0"), ("exit_status", "0")] {
        assert_eq!(json_field(json, key), want, "{key} in {json}");
    }
    assert!(out.contains("[rinit] report: ran "), "the line: {out}");
    assert!(out.contains("(limit 256 MiB, page cache included)"), "{out}");
}

#[test]
fn buffered_writes_at_the_memory_limit_wake_rinit_at_most_once_a_second() {
    // Issue 19 item 10: the page cache at memory.max makes the kernel count
    // `max` events and rewrite memory.events, which rinit watches, many
    // times a second, with no OOM kill. On 68f164e rinit woke for every
    // other one: 359 wake-ups for 701 events in 12.7 s (12 in 12.2 s now).
    let Some(out) = scenario("cache-at-limit") else { return };
    assert!(has_line(&out, "after: rinit exit 0"), "{out}");
    assert!(has_line(&out, "after: OOM kills 0"), "{out}");
    assert!(has_line(&out, "program: idle wakeups 0 in 3 s"), "idle stays idle: {out}");
    let writes = after(&out, "program: writes wakeups ");
    let words: Vec<&str> = writes.split_whitespace().collect();
    let (wakeups, events): (u64, u64) = (words[0].parse().unwrap(), words[3].parse().unwrap());
    let (from, to): (f64, f64) = (words[5].parse().unwrap(), words[7].parse().unwrap());
    assert!(events >= 50, "the writes pressed on the limit (max events): {out}");
    // Once a second, plus the notice that starts the first pause and the
    // look that ends the last; and a third more: the count is of voluntary
    // context switches, and rinit lives in the cgroup at its limit, so a
    // page it touches can put it to sleep in reclaim without any wake-up
    // of its loop (CI saw 16 in 12.0 s; per event, before the fix, it was
    // 359 in 12.7 s).
    let allowed = ((to - from).ceil() * 4.0 / 3.0).ceil() as u64 + 2;
    eprintln!("cache-at-limit: {wakeups} wake-ups for {events} max events in {:.1} s", to - from);
    assert!(wakeups <= allowed, "{wakeups} wake-ups for {events} max events in {:.1} s (at most {allowed}): {out}", to - from);
}
