//! rinit(1) CGROUPS against the real binary: `--pids-max` on this machine's cgroup v1
//! pids hierarchy, its failures, and the OOM-kill report in a small v1 memory
//! cgroup. Needs root (cgroups are written) like the rest of the suite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, clippy::print_stderr)]

mod common;
use common::json::{json_field, json_number, just_below};
use common::*;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Prints the program's pids cgroup directory on fd 3 and keeps it in `$cg`.
const REPORT_CG: &str = r#"cg=/sys/fs/cgroup/pids$(sed -n 's/^[0-9]*:pids://p' /proc/self/cgroup); echo "$cg" >&3; "#;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The leaf that rinit made: below the pids root (this machine runs the
/// tests in the root pids cgroup, which has no pids.max of its own).
fn assert_is_leaf(cg: &str) {
    let name = Path::new(cg).file_name().unwrap().to_str().unwrap();
    assert!(
        Path::new(cg).parent() == Some(Path::new("/sys/fs/cgroup/pids")) && name.starts_with("rinit-"),
        "the program runs in a leaf that rinit made, not {cg}"
    );
}

#[test]
fn fork_bomb_stays_under_pids_max_and_rinit_still_shuts_down() {
    // A binary fork bomb, 255 processes deep at most so that a broken limit
    // cannot take the machine down. Its leaves wait forever; a refused fork
    // ends the shell that tried it ("Cannot fork"). The program waits, on
    // the cgroup's own files and with shell builtins only (no fork needed),
    // until the kernel has refused a fork, then reports the peak.
    let script = format!(
        r#"{REPORT_CG}
        read -r max < "$cg/pids.max"; echo "pids.max $max" >&3
        bomb() {{ [ "$1" -lt 7 ] || exec sleep 1000; bomb $(($1+1)) & bomb $(($1+1)) & wait; }}
        bomb 0 2>/dev/null &
        while read -r ev < "$cg/pids.events" && [ "$ev" = "max 0" ]; do :; done
        read -r peak < "$cg/pids.peak"
        echo "$ev" >&3; echo "peak $peak" >&3
        exit 0"#
    );
    // A short grace: shells forked after rinit's SIGTERM round miss it and
    // wait for the SIGKILL.
    let mut r = Pid1::start(&["--pids-max", "40", "-t", "1"], &script);
    let cg = r.lines.next();
    assert_is_leaf(&cg);
    r.lines.expect("pids.max 40");
    let refused = r.lines.next();
    let count: u64 = refused.strip_prefix("max ").expect("pids.events line").parse().unwrap();
    assert!(count >= 1, "the kernel refused forks: {refused}");
    let peak: u64 = r.lines.next().strip_prefix("peak ").unwrap().parse().unwrap();
    assert!((2..=40).contains(&peak), "never more than 40 processes, rinit included: peak {peak}");
    let end = r.wait();
    assert_eq!(end.code, Some(0), "the program's status; stderr: {}", end.stderr);
    assert!(!end.stderr.contains("error"), "stderr: {}", end.stderr);
    assert!(!Path::new(&cg).exists(), "rinit removed its leaf {cg}");
}

#[test]
fn pids_max_from_environment_covers_orphans_and_leaf_goes_after_sigterm() {
    if common::skip_under_qemu() {
        return;
    }
    // An orphan (double fork) is in the leaf too, and the leaf can still be
    // removed after the shutdown that a `docker stop` starts.
    let script = format!(
        r#"{REPORT_CG}
        (sleep 1000 & echo "orphan $(sed -n 's/^[0-9]*:pids://p' /proc/$!/cgroup)" >&3) 
        threads() {{ t=; while read -r k v; do [ "$k" = Threads: ] && t=$v; done < /proc/1/status; }}
        until threads; t1=$t; read -r n < "$cg/pids.current"; threads; [ "$t1" = "$t" ]; do :; done
        echo "current $n rinit $t" >&3
        exec sleep 1000"#
    );
    let (mut cmd, lines) = pid1_command(&[], &script);
    cmd.env("RINIT_PIDS_MAX", "10");
    let mut r = Pid1::spawn(cmd, lines);
    let cg = r.lines.next();
    assert_is_leaf(&cg);
    let leaf_path = cg.strip_prefix("/sys/fs/cgroup/pids").unwrap();
    assert_eq!(r.lines.next(), format!("orphan {leaf_path}"));
    assert_eq!(read(&PathBuf::from(&cg).join("pids.max")).trim(), "10");
    // rinit's tasks (two once the OOM watch's doorbell thread runs: rinit(1)
    // SIGNALS), the program, the orphan sleep.
    let line = r.lines.next();
    let (current, threads) = line
        .strip_prefix("current ")
        .and_then(|l| l.split_once(" rinit "))
        .map(|(n, t)| (n.parse::<u32>().unwrap(), t.parse::<u32>().unwrap()))
        .unwrap_or_else(|| panic!("line from the program: {line}"));
    assert!((1..=2).contains(&threads), "{line}");
    assert_eq!(current, threads + 2, "{line}");
    r.signal(libc::SIGTERM);
    let end = r.wait();
    assert_eq!(end.code, Some(143), "stderr: {}", end.stderr);
    assert!(!end.stderr.contains("cannot"), "stderr: {}", end.stderr);
    assert!(!Path::new(&cg).exists(), "rinit removed its leaf {cg}");
}

#[test]
fn bad_pids_max_exits_2_without_starting_the_program() {
    let dir = temp_dir("pids-lots");
    let marker = dir.join("started");
    let touch = format!("touch {}", p(&marker));
    let (code, _, stderr) = run_plain(["--pids-max", "lots", "--", "sh", "-c", &touch]);
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert!(stderr.contains("--pids-max") && stderr.contains("--help"), "stderr: {stderr}");
    let out = Command::new(rinit())
        .args(["--", "sh", "-c", &touch])
        .env("RINIT_PIDS_MAX", "lots")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("RINIT_PIDS_MAX"), "stderr: {stderr}");
    assert!(!marker.exists(), "the program was never started");
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs rinit `--pids-max 40` as PID 1 after `prepare` has changed the
/// cgroup mounts of a private mount namespace; the program would create a
/// marker file. Returns (exit code, stderr, whether the program ran).
fn pids_max_after(tag: &str, prepare: &str) -> (Option<i32>, String, bool) {
    let dir = temp_dir(tag);
    let marker = dir.join("started");
    let script = format!(r#"{prepare} && exec "$0" --pids-max 40 -- touch "$1""#);
    let out = Command::new("unshare")
        .arg("--mount")
        .args(unshare_args())
        .args(["sh", "-c", &script])
        .arg(rinit())
        .arg(&marker)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let ran = marker.exists();
    let _ = std::fs::remove_dir_all(dir);
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned(), ran)
}

#[test]
fn read_only_cgroup_fs_exits_1_before_starting_anything() {
    // What an unprivileged Docker container looks like.
    let (code, stderr, ran) = pids_max_after("pids-ro", "mount -o remount,bind,ro /sys/fs/cgroup/pids");
    assert_eq!(code, Some(1), "stderr: {stderr}");
    assert!(stderr.contains("the cgroup filesystem at /sys/fs/cgroup/pids is mounted read-only"), "stderr: {stderr}");
    assert!(stderr.contains("docker run --pids-limit 40"), "stderr: {stderr}");
    assert!(!ran, "the program was never started");
}

#[test]
fn writable_mount_over_a_read_only_one_is_used() {
    // `docker run -v /sys/fs/cgroup/pids:/sys/fs/cgroup/pids:rw` over the
    // read-only cgroup filesystem of an unprivileged container: paths resolve
    // to the mount on top. On the main of 2026-11-25 rinit took the first
    // mount at the mount point and refused with "mounted read-only".
    let prepare = r#"rw="$(dirname "$1")/rw" && mkdir "$rw" && mount --bind /sys/fs/cgroup/pids "$rw" && mount -o remount,bind,ro /sys/fs/cgroup/pids && mount --bind "$rw" /sys/fs/cgroup/pids"#;
    let (code, stderr, ran) = pids_max_after("pids-rw-over-ro", prepare);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert!(ran, "the program ran; stderr: {stderr}");
    assert!(!stderr.contains("read-only"), "stderr: {stderr}");
}

#[test]
fn the_pids_hierarchy_is_found_past_the_first_page_of_mountinfo() {
    // A pod with many volumes: 70 more mounts, and the pids hierarchy
    // mounted again after them, so that its line in /proc/self/mountinfo
    // (about 8 KB by then) comes after the first page, which is all that
    // one read of that seq_file gives. On 3d41bee rinit stopped at that
    // short read and said "no pids controller in /sys/fs/cgroup/unified".
    let prepare = r#"d="$(dirname "$1")" && umount /sys/fs/cgroup/pids && for i in $(seq 70); do mkdir "$d/m$i" && mount -t tmpfs -o size=4k "volume-$i" "$d/m$i" || exit; done && mount -t cgroup -o pids cgroup /sys/fs/cgroup/pids && [ "$(wc -c < /proc/self/mountinfo)" -gt 6000 ] && [ "$(grep -n ' /sys/fs/cgroup/pids ' /proc/self/mountinfo | cut -d: -f1)" -gt 70 ]"#;
    let (code, stderr, ran) = pids_max_after("pids-many-mounts", prepare);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert!(ran, "the program ran; stderr: {stderr}");
}

#[test]
fn missing_cgroup_fs_exits_1_before_starting_anything() {
    let (code, stderr, ran) = pids_max_after("pids-none", "umount -R /sys/fs/cgroup");
    assert_eq!(code, Some(1), "stderr: {stderr}");
    assert!(stderr.contains("no cgroup filesystem is mounted at /sys/fs/cgroup"), "stderr: {stderr}");
    assert!(stderr.contains("docker run --pids-limit 40"), "stderr: {stderr}");
    assert!(!ran, "the program was never started");
}

/// Shell code that waits until rinit (PID 1 of the namespace) holds the OOM
/// counter open: the watch is set up a few milliseconds after start.
const WATCHED: &str = "until ls -l /proc/1/fd | grep -q oom_control; do :; done";

/// WATCHED with readlink: `ls -l` itself dies of SIGSEGV now and then
/// under a 16 KiB stack.
const WATCHED_BY_READLINK: &str = "until readlink /proc/1/fd/* | grep -q oom_control; do :; done";

/// Shell code that makes itself the OOM killer's first choice, then doubles
/// a string until the kernel kills it (256 MiB at most, should no limit hold).
///
/// Nothing else in the cgroup may allocate while the victim is dying: the
/// cgroup is still full until the victim's memory is freed, so the kernel
/// would go out of memory again and kill the next biggest process, unshare
/// or rinit (oom_score_adj cannot protect them: lowering it takes
/// CAP_SYS_RESOURCE, which this machine does not give).
///
/// It starts once rinit's OOM watch is on (`WATCHED`).
const ALLOCATE: &str = "until ls -l /proc/1/fd | grep -q oom_control; do :; done; echo 1000 > /proc/self/oom_score_adj; i=0; x=1; while [ $i -lt 28 ]; do x=$x$x; i=$((i+1)); done";

/// A child of the test's own cgroup in the v1 hierarchy of `controller`,
/// removed on drop (by then every process in it has exited).
struct TestCgroup {
    dir: PathBuf,
}

impl TestCgroup {
    /// `tag` is part of the cgroup's name: any bytes but `/` and NUL.
    fn new(controller: &str, tag: impl AsRef<[u8]>) -> TestCgroup {
        static N: AtomicUsize = AtomicUsize::new(0);
        let own = read(Path::new("/proc/self/cgroup"));
        let marker = format!(":{controller}:");
        let own = own
            .lines()
            .find_map(|l| l.split_once(marker.as_str()).map(|(_, path)| path.to_string()))
            .unwrap_or_else(|| panic!("a v1 {controller} hierarchy"));
        let mut name = b"rinit-test-".to_vec();
        name.extend_from_slice(tag.as_ref());
        name.extend_from_slice(format!("-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)).as_bytes());
        let dir = Path::new("/sys/fs/cgroup").join(controller).join(own.trim_matches('/')).join(OsStr::from_bytes(&name));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        TestCgroup { dir }
    }

    /// A memory cgroup with a memory limit.
    fn memory(tag: impl AsRef<[u8]>, limit: u64) -> TestCgroup {
        let cg = TestCgroup::new("memory", tag);
        std::fs::write(cg.dir.join("memory.limit_in_bytes"), limit.to_string()).unwrap();
        // With swap, the limit must cover it too, or the program just swaps.
        let _ = std::fs::write(cg.dir.join("memory.memsw.limit_in_bytes"), limit.to_string());
        cg
    }

    /// rinit as PID 1 with the program `sh -c SCRIPT`, all inside this cgroup:
    /// a shell joins it and then execs `unshare ... rinit`.
    fn start(&self, rinit_args: &[&str], script: &str) -> Pid1 {
        self.start_with(rinit_args, script, "sh", None)
    }

    /// As `start`, with `arg0` as the script's `$0`, and rinit's stderr
    /// into the file `log` (the program finds it as `$LOG`) if given.
    fn start_with(&self, rinit_args: &[&str], script: &str, arg0: &str, log: Option<&Path>) -> Pid1 {
        start_in(&[self], rinit_args, script, arg0, log)
    }
}

/// rinit as PID 1 with the program `sh -c SCRIPT` (`$0` is `arg0`), all
/// inside every one of `cgroups` (one per hierarchy): a shell joins them and
/// then execs `unshare ... rinit`; rinit's stderr goes into `log` (the
/// program finds it as `$LOG`) if given.
fn start_in(cgroups: &[&TestCgroup], rinit_args: &[&str], script: &str, arg0: &str, log: Option<&Path>) -> Pid1 {
    let mut cmd = Command::new("sh");
    let join = r#"for d in $CGROUPS; do echo $$ > "$d/cgroup.procs" || exit 1; done && exec "$@""#;
    let wrapper = if log.is_some() { format!(r#"{join} 2>>"$LOG""#) } else { join.to_string() };
    if let Some(log) = log {
        cmd.env("LOG", log);
    }
    // Bytes, not `p`: a test cgroup's name need not be UTF-8.
    let dirs: Vec<&[u8]> = cgroups.iter().map(|c| c.dir.as_os_str().as_bytes()).collect();
    cmd.env("CGROUPS", OsStr::from_bytes(&dirs.join(&b' ')))
        .args(["-c", &wrapper, "sh"])
        .arg("unshare")
        .args(unshare_args())
        .arg(rinit())
        .args(rinit_args)
        .args(["--", "sh", "-c", script, arg0]);
    let (cmd, lines) = attach_pipe(&mut cmd);
    Pid1::spawn(cmd, lines)
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            eprintln!("cannot remove {}: {e}", self.dir.display());
        }
    }
}

/// Runs an OOM scenario in a fresh 32 MiB memory cgroup until the kernel
/// made exactly the one OOM kill the scenario is about, at most three times.
/// Now and then the kernel kills a second process (another one charging the
/// cgroup while the first victim's memory is still being taken back; it has
/// taken `unshare`, outside the namespace): that is the kernel's choice, not
/// rinit's, and leaves nothing to check, so the scenario runs again. The
/// third attempt is checked whatever happened. (Lowering the other
/// processes' oom_score_adj would need CAP_SYS_RESOURCE, which this machine
/// does not give.)
fn with_one_oom_kill<T>(tag: &str, run: impl Fn(&TestCgroup) -> T) -> (TestCgroup, T) {
    let mut attempt = 1;
    loop {
        let cg = TestCgroup::memory(format!("{tag}-{attempt}"), 32 << 20);
        let out = run(&cg);
        let control = read(&cg.dir.join("memory.oom_control"));
        if control.contains("oom_kill 1\n") || attempt == 3 {
            return (cg, out);
        }
        attempt += 1;
    }
}

#[test]
fn oom_killed_program_is_reported_with_the_limit() {
    if common::skip_under_qemu() {
        return;
    }
    let (cg, end) = with_one_oom_kill("oom", |cg| {
        let mut r = cg.start(&[], &format!("echo ready >&3; {ALLOCATE}"));
        r.lines.expect("ready");
        r.wait()
    });
    assert_eq!(end.code, Some(137), "stderr: {}", end.stderr);
    assert!(
        end.stderr.contains("[rinit] 'sh' (pid 2) was killed by the kernel OOM killer (memory limit 32 MiB, 1 OOM kill so far)"),
        "stderr: {}",
        end.stderr
    );
    let control = read(&cg.dir.join("memory.oom_control"));
    assert!(control.contains("oom_kill 1"), "the kernel counted one OOM kill: {control}");
}

#[test]
fn oom_killed_orphan_is_reported_by_name_and_pid() {
    // The allocating shell is orphaned (its parent exits at once), so rinit
    // reaps it. The program waits, without allocating, for the end of the
    // pipe the orphan holds: it closes when the orphan exits, after its
    // memory is freed. Then the program exits normally.
    let script = format!("( ({ALLOCATE}) & echo $! >&3 ) | read -r _; exit 0");
    let (_cg, (orphan, end)) = with_one_oom_kill("oom-orphan", |cg| {
        let mut r = cg.start(&[], &script);
        let orphan = r.lines.next();
        (orphan, r.wait())
    });
    assert_eq!(end.code, Some(0), "the program's own status; stderr: {}", end.stderr);
    let want = format!("[rinit] 'sh' (pid {orphan}) was killed by the kernel OOM killer (memory limit 32 MiB, 1 OOM kill so far)");
    assert!(end.stderr.contains(&want), "want {want:?} in stderr: {}", end.stderr);
}

#[test]
fn oom_killed_grandchild_is_reported_when_it_happens_and_a_later_sigkill_is_not_blamed() {
    // Issue 11 points 1 and 2, on this machine's v1 memory cgroup. The
    // program's shell reaps its OOM-killed subshell, so rinit never reaps the
    // victim; then an orphan that rinit reaps dies of a plain SIGKILL. On the
    // main of 2026-11-25 (f3d1edc) the kill went unreported and the orphan
    // was named as the OOM killer's victim.
    // The orphan is killed once rinit has reported the OOM kill (a kill in
    // the millisecond before that could be taken for the victim: README).
    let script = format!(
        "( {ALLOCATE} ); echo \"subshell $?\" >&3; until grep -q 'OOM killer' \"$LOG\"; do :; done; ( sleep 1000 & echo $! > \"$0\" ); kill -KILL $(cat \"$0\"); echo \"killed $(cat \"$0\")\" >&3; exit 0"
    );
    let dir = temp_dir("oom-grandchild");
    let orphan_file = dir.join("orphan");
    let log = dir.join("log");
    let (_cg, (subshell, orphan, mut end)) = with_one_oom_kill("oom-grandchild", |cg| {
        let _ = std::fs::remove_file(&log);
        let mut r = cg.start_with(&[], &script, &p(&orphan_file), Some(&log));
        // Not `expect`: a second OOM kill may end the run early (retried).
        let subshell = r.lines.next_within(PATIENCE);
        let orphan = r.lines.next_within(PATIENCE);
        (subshell, orphan, r.wait())
    });
    assert_eq!(subshell.as_deref(), Some("subshell 137"));
    assert_eq!(end.code, Some(0), "stderr: {}", end.stderr);
    end.stderr = read(&log);
    let report =
        "[rinit] a process in the container was killed by the kernel OOM killer (memory limit 32 MiB, 1 OOM kill so far)";
    assert!(end.stderr.contains(report), "stderr: {}", end.stderr);
    assert!(!end.stderr.contains("'sleep'"), "{orphan:?}: the plain SIGKILL is not blamed; stderr: {}", end.stderr);
    assert_eq!(end.stderr.matches("killed by the kernel OOM killer").count(), 1, "stderr: {}", end.stderr);
    assert!(
        end.stderr.contains("[rinit] the kernel OOM killer killed 1 process in the container while rinit ran"),
        "stderr: {}",
        end.stderr
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn plain_sigkill_is_not_reported_as_oom() {
    let cg = TestCgroup::memory("sigkill", 32 << 20);
    // The program waits until rinit (PID 1 here) holds the counter open: the
    // watch is set up a few milliseconds after start.
    let mut r = cg.start(&["-vvv"], &format!("{WATCHED}; echo ready >&3; kill -KILL $$"));
    r.lines.expect("ready");
    let end = r.wait();
    assert_eq!(end.code, Some(137), "stderr: {}", end.stderr);
    // The watch was on, on this cgroup's counter, and stayed quiet.
    let watching = format!("watching {}/memory.oom_control for OOM kills", cg.dir.display());
    assert!(end.stderr.contains(&watching), "stderr: {}", end.stderr);
    assert!(!end.stderr.contains("OOM killer"), "stderr: {}", end.stderr);
}

/// The pids.max of `cg` as the program saw it at start, and after rinit
/// has exited, with `--pids-max 40`. The program can change the limit.
fn pids_max_seen(cg: &TestCgroup, program_writes: Option<&str>) -> (String, String) {
    let write = program_writes.map_or(String::new(), |v| format!("echo {v} > \"$cg/pids.max\"; "));
    let script = format!(r#"{REPORT_CG}read -r max < "$cg/pids.max"; echo "$max" >&3; {write}exit 0"#);
    let mut r = cg.start(&["--pids-max", "40"], &script);
    let dir = r.lines.next();
    assert_eq!(Path::new(&dir), cg.dir, "rinit stays in its own cgroup, which has a pids.max");
    let seen = r.lines.next();
    let end = r.wait();
    assert_eq!(end.code, Some(0), "stderr: {}", end.stderr);
    (seen, read(&cg.dir.join("pids.max")).trim().to_string())
}

#[test]
fn a_lower_pids_max_already_in_force_is_kept() {
    // On the main of 2026-11-25 rinit raised it to 40 while it ran.
    let cg = TestCgroup::new("pids", "lower");
    std::fs::write(cg.dir.join("pids.max"), "20").unwrap();
    assert_eq!(pids_max_seen(&cg, None), ("20".to_string(), "20".to_string()));
}

#[test]
fn a_pids_max_changed_while_rinit_runs_is_not_restored() {
    // On the main of 2026-11-25 rinit wrote the old "max" back over the 30.
    let cg = TestCgroup::new("pids", "changed");
    assert_eq!(pids_max_seen(&cg, Some("30")), ("40".to_string(), "30".to_string()));
    // Unchanged, it is put back.
    std::fs::write(cg.dir.join("pids.max"), "max").unwrap();
    assert_eq!(pids_max_seen(&cg, None), ("40".to_string(), "max".to_string()));
}

#[test]
fn a_leaf_left_by_a_killed_rinit_is_removed() {
    // What a SIGKILLed rinit leaves: an empty `rinit-<pid>-<hex>` in the
    // root pids cgroup. On the main of 2026-11-25 it stayed for good.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let stale = PathBuf::from(format!("/sys/fs/cgroup/pids/rinit-{}-{nanos:08x}", std::process::id()));
    std::fs::create_dir(&stale).unwrap();
    let mut r = Pid1::start(&["--pids-max", "40"], &format!("{REPORT_CG}exit 0"));
    let cg = r.lines.next();
    assert_is_leaf(&cg);
    let end = r.wait();
    assert_eq!(end.code, Some(0), "stderr: {}", end.stderr);
    let gone = !stale.exists();
    let _ = std::fs::remove_dir(&stale);
    assert!(gone, "the stale leaf {} was removed; stderr: {}", stale.display(), end.stderr);
}

// ------------------------------------------------- issue 23: the exit report

fn keyed_file(path: &Path, key: &str) -> u64 {
    let text = read(path);
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {key} in {}: {text}", path.display()))
        .trim()
        .parse()
        .unwrap()
}

fn number_file(path: &Path) -> u64 {
    read(path).trim().parse().unwrap()
}

/// The program of known behaviour: touches 64 MiB (dd's buffer, filled from
/// /dev/zero), burns 1 s of its own CPU time (its utime, field 14 of its
/// stat, read with shell builtins), holds 20 more processes at once, and
/// exits 0.
const KNOWN: &str = r#"dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null || exit 9
while :; do j=0; while [ $j -lt 500 ]; do j=$((j+1)); done; read -r s < /proc/$$/stat; set -- $s; [ "${14}" -lt 100 ] || break; done
pids=; i=0; while [ $i -lt 20 ]; do sleep 1000 & pids="$pids $!"; i=$((i+1)); done
echo forked >&3
kill $pids; wait; exit 0"#;

#[test]
fn the_exit_report_gives_what_the_cgroups_own_files_say() {
    if common::skip_under_qemu() {
        return;
    }
    let memory = TestCgroup::memory("report", 256 << 20);
    let cpu = TestCgroup::new("cpuacct", "report");
    let pids = TestCgroup::new("pids", "report");
    let dir = temp_dir("report");
    let file = dir.join("report.json");
    let mut r = start_in(&[&memory, &cpu, &pids], &["--report", "--report-file", &p(&file)], KNOWN, "sh", None);
    r.lines.expect("forked");
    let end = r.wait();
    assert_eq!(end.code, Some(0), "stderr: {}", end.stderr);
    // Read once rinit has exited (only unshare is left, waiting), before the
    // guards remove the cgroups.
    let cpu_usec = number_file(&cpu.dir.join("cpuacct.usage")) / 1000;
    let tick_usec = 1_000_000 / 100; // USER_HZ, 100 on every Linux rinit runs on
    let user_usec = keyed_file(&cpu.dir.join("cpuacct.stat"), "user") * tick_usec;
    let system_usec = keyed_file(&cpu.dir.join("cpuacct.stat"), "system") * tick_usec;
    let mem_peak = number_file(&memory.dir.join("memory.max_usage_in_bytes"));
    let limit = keyed_file(&memory.dir.join("memory.stat"), "hierarchical_memory_limit");
    let pids_peak = number_file(&pids.dir.join("pids.peak"));
    let oom_kills = keyed_file(&memory.dir.join("memory.oom_control"), "oom_kill");
    let json = read(&file);
    eprintln!("report: {json}files: cpu {cpu_usec} user {user_usec} system {system_usec} memory peak {mem_peak} limit {limit} pids peak {pids_peak}");
    assert!(json.ends_with("}\n") && json.starts_with('{') && json.lines().count() == 1, "{json}");
    // CPU: what rinit read at its exit, and at most what rinit's own exit and
    // unshare's add after that (50 ms); the split to within 2 ticks.
    let r_cpu = json_number(&json, "cpu_usec");
    just_below("cpuacct.usage", r_cpu, cpu_usec, 50_000);
    assert!(r_cpu >= 1_000_000, "the program burnt 1 s of CPU: {r_cpu}");
    let r_user = json_number(&json, "cpu_user_usec");
    let r_system = json_number(&json, "cpu_system_usec");
    just_below("cpuacct.stat user", r_user, user_usec, 2 * tick_usec);
    just_below("cpuacct.stat system", r_system, system_usec, 2 * tick_usec);
    assert!(r_user + r_system >= 1_000_000 - 2 * tick_usec, "1 s burnt, by ticks: {json}");
    // Memory: nothing allocates after rinit's read; the peak is the file's
    // to within 1 MiB (unshare's exit), and holds the 64 MiB buffer.
    let r_mem = json_number(&json, "memory_peak_bytes");
    just_below("memory.max_usage_in_bytes", r_mem, mem_peak, 1 << 20);
    assert!(r_mem >= 64 << 20, "64 MiB touched: {r_mem}");
    assert_eq!(json_number(&json, "memory_limit_bytes"), limit);
    assert_eq!(json_field(&json, "memory_limited"), "true");
    // Processes: the kernel's peak, exactly; rinit, the shell, 20 sleeps.
    assert_eq!(json_number(&json, "pids_peak"), pids_peak);
    assert_eq!(json_field(&json, "pids_peak_from"), "\"pids.peak\"");
    assert!(pids_peak >= 22, "{pids_peak}");
    assert_eq!(json_number(&json, "oom_kills"), oom_kills);
    assert_eq!(oom_kills, 0);
    let ran = json_number(&json, "ran_usec");
    assert!(ran >= 1_000_000 && u128::from(ran) <= end.elapsed.as_micros(), "ran {ran} µs, the test saw {:?}", end.elapsed);
    for (key, want) in [("cgroup", "\"v1\""), ("program", "\"sh\""), ("program_ended", "\"exited\""), ("program_exit_code", "0"), ("program_signal", "null"), ("exit_status", "0"), ("oom_exit", "false")] {
        assert_eq!(json_field(&json, key), want, "{key} in {json}");
    }
    // The line says the same, once, on stderr.
    let line = end.stderr.lines().find(|l| l.starts_with("[rinit] report: ")).unwrap_or_else(|| panic!("no report line: {}", end.stderr));
    assert_eq!(end.stderr.matches("[rinit] report: ").count(), 1, "{}", end.stderr);
    let secs = |usec: u64| format!("{}.{:03}s", usec / 1_000_000, usec / 1000 % 1000);
    for part in [
        format!("report: ran {},", secs(ran)),
        format!(", CPU {} (user {}, system {}),", secs(r_cpu), secs(r_user), secs(r_system)),
        format!(" (limit {} MiB, page cache included),", limit >> 20),
        format!(", processes peak {pids_peak},"),
        ", OOM kills 0, program 'sh' exited with 0, exit status 0".to_string(),
    ] {
        assert!(line.contains(&part), "{part:?} in {line}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_exit_report_gives_the_figures_of_a_cgroup_whose_name_is_not_utf8() {
    // A cgroup's name may hold any byte but `/` and NUL. A review found
    // every figure "unknown" (null) for a name with \xff: the exit report
    // decoded /proc/self/mountinfo and /proc/self/cgroup lossily, and looked
    // for a cgroup named with U+FFFD, which is not there.
    let tag = b"report-\xff";
    let memory = TestCgroup::memory(tag, 256 << 20);
    let cpu = TestCgroup::new("cpuacct", tag);
    let pids = TestCgroup::new("pids", tag);
    let dir = temp_dir("report-not-utf8");
    let file = dir.join("report.json");
    // At least three processes at once (unshare, rinit, the shell and a
    // sleep), then exit 0. `--pids-max` for its line (-vv), which names the
    // pids cgroup; -vvv for the exit report's reasons, should a figure be
    // missing.
    let script = "sleep 1000 & kill $!; wait; exit 0";
    let r = start_in(&[&memory, &cpu, &pids], &["-vvv", "--pids-max", "64", "--report", "--report-file", &p(&file)], script, "sh", None);
    let end = r.wait();
    assert_eq!(end.code, Some(0), "stderr: {}", end.stderr);
    // Read once rinit has exited, before the guards remove the cgroups.
    let cpu_usec = number_file(&cpu.dir.join("cpuacct.usage")) / 1000;
    let mem_peak = number_file(&memory.dir.join("memory.max_usage_in_bytes"));
    let limit = keyed_file(&memory.dir.join("memory.stat"), "hierarchical_memory_limit");
    let pids_peak = number_file(&pids.dir.join("pids.peak"));
    let json = read(&file);
    eprintln!("report: {json}stderr: {}", end.stderr);
    for key in ["cpu_usec", "cpu_user_usec", "cpu_system_usec", "memory_peak_bytes", "memory_limit_bytes", "memory_limited", "pids_peak", "oom_kills"] {
        assert_ne!(json_field(&json, key), "null", "{key}: the cgroup's files are there to read: {json}");
    }
    // The figures are the cgroups' own, as in the test above.
    just_below("cpuacct.usage", json_number(&json, "cpu_usec"), cpu_usec, 50_000);
    just_below("memory.max_usage_in_bytes", json_number(&json, "memory_peak_bytes"), mem_peak, 1 << 20);
    assert_eq!(json_number(&json, "memory_limit_bytes"), limit);
    assert_eq!(json_number(&json, "pids_peak"), pids_peak);
    assert!(pids_peak >= 3, "{pids_peak}");
    assert_eq!(json_number(&json, "oom_kills"), 0);
    assert!(!end.stderr.contains("exit report:"), "nothing missing from the report: {}", end.stderr);
    // The path is shown escaped (rinit(1) DIAGNOSTICS): no raw byte, which
    // the test reads as U+FFFD.
    let shown = String::from_utf8_lossy(pids.dir.as_os_str().as_bytes()).replace('\u{fffd}', "\\xff");
    assert!(end.stderr.contains(&format!("[rinit] pids.max 64 set in {shown}\n")), "{shown} in {}", end.stderr);
    assert!(!end.stderr.contains('\u{fffd}'), "a raw byte on stderr: {}", end.stderr);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_report_file_that_cannot_be_written_is_a_warning_and_keeps_the_line_and_the_status() {
    let dir = temp_dir("report-unwritable");
    // A newline in the path is shown escaped (rinit(1) DIAGNOSTICS).
    let file = dir.join("no-such-dir\n[rinit] all ok/report.json");
    let r = Pid1::start(&["--report", "--report-file", &p(&file)], "exit 3");
    let end = r.wait();
    assert_eq!(end.code, Some(3), "the program's status; stderr: {}", end.stderr);
    let shown = p(&file).replace('\n', "\\n");
    assert!(end.stderr.contains(&format!("[rinit] cannot write the report to {shown}: No such file or directory")), "stderr: {}", end.stderr);
    assert!(!end.stderr.lines().any(|l| l.starts_with("[rinit] all ok")), "a forged line: {}", end.stderr);
    assert!(end.stderr.contains("[rinit] report: ran "), "the line is not lost: {}", end.stderr);
    assert!(end.stderr.contains(", program 'sh' exited with 3, exit status 3"), "stderr: {}", end.stderr);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn without_a_cgroup_filesystem_the_report_says_unknown_and_null_never_0() {
    let dir = temp_dir("report-no-cgroup");
    let file = dir.join("report.json");
    let out = Command::new("unshare")
        .arg("--mount")
        .args(unshare_args())
        .args(["sh", "-c", r#"umount -R /sys/fs/cgroup && exec "$0" --report --report-file "$1" -- sh -c 'kill -KILL $$'"#])
        .arg(rinit())
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(137), "stderr: {stderr}");
    assert!(
        stderr.contains("CPU unknown, memory peak unknown (limit unknown, page cache included), processes peak unknown, OOM kills unknown, program 'sh' was killed by SIGKILL, exit status 137"),
        "stderr: {stderr}"
    );
    let json = read(&file);
    for key in ["cpu_usec", "cpu_user_usec", "cpu_system_usec", "memory_peak_bytes", "memory_limit_bytes", "memory_limited", "pids_peak", "oom_kills", "cgroup"] {
        assert_eq!(json_field(&json, key), "null", "{key} in {json}");
    }
    assert_eq!(json_field(&json, "program_signal"), "\"SIGKILL\"");
    let _ = std::fs::remove_dir_all(dir);
}

/// Not PID 1, a listing is of the host's /proc: the report's fallback
/// figure counts rinit and its descendants, not every process of the
/// machine (review 12: "processes peak at least 20" for a tree of two).
/// The cgroup filesystem is unmounted (a mount namespace of its own), so
/// that no pids.peak can stand in for the listing.
#[test]
fn not_pid_1_the_listed_processes_peak_counts_rinit_and_its_descendants() {
    // The program ignores SIGTERM and sends rinit one: the listing at half
    // the grace finds rinit, the shell and its sleep.
    let program = r#"trap "" TERM; kill -TERM $PPID; sleep 5"#;
    let out = Command::new("unshare")
        .arg("--mount")
        .args(["sh", "-c", r#"umount -R /sys/fs/cgroup && exec "$0" --report -t 0.4s -- sh -c "$1""#])
        .arg(rinit())
        .arg(program)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(137), "stderr: {stderr}");
    let (_, after) = stderr.split_once("processes peak at least ").unwrap_or_else(|| panic!("no listed peak: {stderr}"));
    let listed: usize = after.split(' ').next().unwrap().parse().unwrap();
    assert!((2..=3).contains(&listed), "rinit, sh and sleep at most, not the host's processes: {stderr}");
}

// ------------------------------------------------- issue 23: --oom-exit

/// The program traps SIGTERM (and says so), starts a sibling that does the
/// same and a worker that the OOM killer takes (`ALLOCATE`), and keeps
/// running; both exit 0 on SIGTERM. `wait` returns at once on a trapped
/// signal (POSIX).
const OOM_WORKER: &str = r#"trap 'echo "program got SIGTERM" >&3; exit 0' TERM
( trap 'echo "sibling got SIGTERM" >&3; exit 0' TERM; sleep 1000 & wait $! ) &
( __ALLOCATE__ ) &
echo started >&3
sleep 1000 & wait $!; echo "program: wait ended without SIGTERM" >&3; exit 0"#;

#[test]
fn oom_exit_shuts_down_gracefully_after_a_workers_oom_kill_and_exits_137() {
    if common::skip_under_qemu() {
        return;
    }
    let script = OOM_WORKER.replace("__ALLOCATE__", ALLOCATE);
    let (cg, (lines, end)) = with_one_oom_kill("oom-exit", |cg| {
        let mut r = cg.start(&["--oom-exit", "--report", "-v"], &script);
        let mut lines = vec![r.lines.next()];
        // Everything the processes say until every fd 3 has closed.
        while let Some(l) = r.lines.next_within(PATIENCE) {
            lines.push(l);
        }
        (lines, r.wait())
    });
    assert_eq!(end.code, Some(137), "--oom-exit's status though the program exited 0; stderr: {}", end.stderr);
    assert_eq!(lines[0], "started");
    assert!(lines.contains(&"program got SIGTERM".to_string()), "{lines:?}; stderr: {}", end.stderr);
    assert!(lines.contains(&"sibling got SIGTERM".to_string()), "{lines:?}; stderr: {}", end.stderr);
    assert!(end.stderr.contains("[rinit] a process in the container was killed by the kernel OOM killer (memory limit 32 MiB, 1 OOM kill so far)"), "stderr: {}", end.stderr);
    assert!(end.stderr.contains("[rinit] --oom-exit: an OOM kill in the container; shutting down, exit status 137"), "stderr: {}", end.stderr);
    assert!(end.stderr.contains(" 0 needed SIGKILL"), "a graceful shutdown: {}", end.stderr);
    assert!(end.stderr.contains(", OOM kills 1, program 'sh' exited with 0, exit status 137 (--oom-exit)"), "stderr: {}", end.stderr);
    assert_eq!(keyed_file(&cg.dir.join("memory.oom_control"), "oom_kill"), 1);
}

/// Review 11: the OOM watch's thread (src/doorbell.rs) rang with a queued
/// real-time signal, which the kernel refuses once the uid's queue of
/// pending signals is full (RLIMIT_SIGPENDING, filled here by the program
/// itself): the kill was reported only when the program exited 5 s later,
/// and `--oom-exit` never started the shutdown. Its SIGCHLD needs no room.
#[test]
fn oom_exit_acts_at_once_while_the_queue_of_pending_signals_is_full() {
    if common::skip_under_qemu() {
        return;
    }
    if Command::new("python3").arg("-c").arg("import ctypes").status().map_or(true, |s| !s.success()) {
        skip("python3 with ctypes is not installed");
        return;
    }
    // Queues a blocked real-time signal to itself until the kernel refuses
    // one, says how many, and holds them.
    let fill = "import ctypes, os, resource, signal, sys, time\n\
        resource.setrlimit(resource.RLIMIT_SIGPENDING, (200, resource.getrlimit(resource.RLIMIT_SIGPENDING)[1]))\n\
        libc = ctypes.CDLL(None, use_errno=True); sig = signal.SIGRTMIN + 1\n\
        signal.pthread_sigmask(signal.SIG_BLOCK, {sig}); n = 0\n\
        while libc.sigqueue(os.getpid(), sig, ctypes.c_void_p(0)) == 0: n += 1\n\
        print(n, flush=True); time.sleep(30)";
    let script = format!(
        "prlimit --pid 1 --sigpending=200 || exit 9; python3 -c \"$(printf '{fill}')\" > \"$0.filled\" & until [ -s \"$0.filled\" ]; do :; done; echo \"filled $(cat \"$0.filled\")\" >&3; ( {ALLOCATE} ); echo \"subshell $?\" >&3; sleep 5; echo program-done >&3"
    );
    let dir = temp_dir("oom-queue-full");
    let arg0 = dir.join("p");
    let (_cg, (lines, end)) = with_one_oom_kill("oom-queue-full", |cg| {
        let _ = std::fs::remove_file(dir.join("p.filled"));
        let mut r = cg.start_with(&["--oom-exit"], &script, &p(&arg0), None);
        let mut lines = Vec::new();
        while let Some(l) = r.lines.next_within(PATIENCE) {
            lines.push(l);
        }
        (lines, r.wait())
    });
    assert!(lines.first().is_some_and(|l| l.starts_with("filled ")), "{lines:?}; stderr: {}", end.stderr);
    assert_eq!(end.code, Some(137), "{lines:?}; stderr: {}", end.stderr);
    assert!(end.stderr.contains("[rinit] --oom-exit: an OOM kill in the container; shutting down"), "stderr: {}", end.stderr);
    // The shutdown came at the kill, not when the program ended by itself.
    assert!(!lines.contains(&"program-done".to_string()), "{lines:?}; stderr: {}", end.stderr);
    let _ = std::fs::remove_dir_all(dir);
}

/// Review 11: with no descriptor left for the signalfd (0-2, the test's fd 3
/// and /proc fill a limit of 5), rinit waits with sigtimedwait and has no
/// OOM watch; `--oom-exit` said nothing of it, where rinit(1) promises a
/// warning wherever no OOM kill can be noticed.
#[test]
fn oom_exit_without_a_descriptor_for_the_watch_says_so() {
    if common::skip_under_qemu() {
        return;
    }
    let mut cmd = Command::new("unshare");
    cmd.args(unshare_args()).args(["prlimit", "--nofile=5:1024"]).arg(rinit()).args(["--oom-exit", "--", "true"]);
    let end = Pid1::launch(cmd).wait();
    assert_eq!(end.code, Some(0), "{}", end.stderr);
    assert!(end.stderr.contains("[rinit] --oom-exit: no OOM kill can be noticed here"), "{}", end.stderr);
}

#[test]
fn without_oom_exit_a_workers_oom_kill_changes_nothing() {
    if common::skip_under_qemu() {
        return;
    }
    let script = OOM_WORKER.replace("__ALLOCATE__", ALLOCATE);
    let dir = temp_dir("no-oom-exit");
    let log = dir.join("log");
    let (_cg, (reported, end)) = with_one_oom_kill("no-oom-exit", |cg| {
        let _ = std::fs::remove_file(&log);
        let mut r = cg.start_with(&[], &script, "sh", Some(&log));
        r.lines.expect("started");
        let reported = wait_until(PATIENCE, || std::fs::read_to_string(&log).is_ok_and(|l| l.contains("OOM killer")));
        // rinit and the program run on: only this SIGTERM ends them. Asked
        // without reaping (not try_wait): `r.wait()` below must still find
        // the child (CI: the second OOM kill took unshare, try_wait reaped
        // it, and the retry path's wait panicked on pidfd_open's ESRCH).
        let running = !wait_exit(r.child.id(), std::time::Duration::ZERO);
        // The child is the joining shell, exec'd into unshare: rinit is its child.
        let unshare = r.child.id();
        // The kernel's second OOM kill in the cgroup may take unshare
        // itself (seen in CI: task=unshare): then there is nothing to
        // signal, and `with_one_oom_kill` runs the scenario again.
        let children = std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children")).ok();
        let Some(rinit_pid) = children.as_deref().and_then(|c| c.split_whitespace().next()).map(|p| p.parse::<i32>().unwrap()) else {
            return ((reported, false, Vec::new()), r.wait());
        };
        // SAFETY: kill has no memory-safety preconditions.
        assert_eq!(unsafe { libc::kill(rinit_pid, libc::SIGTERM) }, 0);
        let mut got = Vec::new();
        while let Some(l) = r.lines.next_within(PATIENCE) {
            got.push(l);
        }
        ((reported, running, got), r.wait())
    });
    let (reported, running, got) = reported;
    let stderr = read(&log);
    assert!(reported && running, "reported {reported}, still running {running}; log: {stderr}");
    assert_eq!(end.code, Some(0), "the program's own status; log: {stderr}");
    assert!(got.contains(&"program got SIGTERM".to_string()), "{got:?}");
    assert!(!stderr.contains("--oom-exit"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_small_stack_limit_does_not_kill_pid_1() {
    // Issue 19 item 7: under `prlimit --stack=16384` (or 65536) rinit as
    // PID 1 died of SIGSEGV (exit 139) as it set up the OOM watch, which
    // touched 64 KiB of stack; tini runs the program and exits 7. The
    // program waits until the watch is set up, so that its set-up has run.
    if !Path::new("/sys/fs/cgroup/memory/memory.oom_control").exists() {
        skip("no cgroup v1 memory hierarchy here: the OOM watch, which touched the stack, is not set up");
        return;
    }
    if common::skip_under_qemu() {
        return;
    }
    // The shipped binary: what a stack limit meets in a container. The
    // debug build's frames are several times larger (its locate alone went
    // past 16 KiB on 3d41bee).
    let rinit = std::env::var_os("RINIT_BIN").map_or_else(common::docker::release_rinit, PathBuf::from);
    for limit in [16384, 65536] {
        let mut cmd = Command::new("prlimit");
        cmd.arg(format!("--stack={limit}")).arg("unshare").args(unshare_args()).arg(&rinit);
        cmd.args(["--", "sh", "-c", &format!("{WATCHED_BY_READLINK}; echo ran >&3; exit 7")]);
        // The limit covers the arguments and the environment too: cargo's
        // environment alone is several KB.
        cmd.env_clear().env("PATH", std::env::var_os("PATH").unwrap());
        let mut r = Pid1::launch(cmd);
        r.lines.expect("ran");
        let end = r.wait();
        assert_eq!(end.code, Some(7), "--stack={limit}: the program's status; stderr: {}", end.stderr);
    }
}

/// Why the stack tests that go near the limit skip a static glibc build.
const GLIBC_START: &str = "static glibc's own start-up, before rinit's first instruction, needs about 5 KiB of \
     stack (it reads /proc/self/exe into a 4 KiB buffer on the stack): under these limits it may die there, \
     where rinit cannot look first (the shipped musl binaries start in a few hundred bytes)";

/// rinit as PID 1 under `prlimit --stack=LIMIT` (soft[:hard]), with 3,500
/// bytes of arguments of its own (`-vvv...`: trace level, which the program
/// does not get, so that only rinit is short of stack; the limit lets
/// arguments and environment take a quarter of it, 4 KiB), the program
/// `sh -c SCRIPT` once the OOM watch is set up. Only rinit and the program
/// run under the limit.
fn under_a_stack_limit(rinit: &Path, limit: &str, script: &str) -> Ended {
    let verbose = format!("-{}", "v".repeat(3500));
    // prlimit execs rinit itself: unshare (dynamically linked) dies in
    // ld.so under the limit with these arguments.
    let mut cmd = Command::new("unshare");
    cmd.args(unshare_args()).arg("prlimit").arg(format!("--stack={limit}")).arg(rinit).arg(verbose);
    cmd.args(["--", "sh", "-c", &format!("{WATCHED_BY_READLINK}; {script}")]);
    cmd.env_clear().env("PATH", std::env::var_os("PATH").unwrap());
    Pid1::launch(cmd).wait()
}

/// The binary for the tests that go near the stack limit, or None where
/// they cannot run (said as skipped). Called first in the test.
fn near_the_stack_limit() -> Option<PathBuf> {
    if !Path::new("/sys/fs/cgroup/memory/memory.oom_control").exists() {
        skip("no cgroup v1 memory hierarchy here: the OOM watch, part of what rinit does, is not set up");
        return None;
    }
    if common::skip_under_qemu() {
        return None;
    }
    let rinit = std::env::var_os("RINIT_BIN").map_or_else(common::docker::release_rinit, PathBuf::from);
    if common::is_glibc(&rinit) {
        skip(GLIBC_START);
        return None;
    }
    Some(rinit)
}

/// Issue 19 item 7, the rest: the kernel's random offset of the stack (up
/// to 8 KiB on x86_64) comes out of the same 16 KiB as the 3.5 KB of
/// arguments, and leaves rinit from 4 to 12 KiB, a different amount at
/// every start. Every run ends with the program's status or with rinit's
/// message (rinit(1) LIMITS), never with rinit killed by SIGSEGV: on
/// de53de5, 8 runs of 40 were (unshare passes the signal on: no exit code).
#[test]
fn under_a_small_stack_limit_rinit_runs_or_says_why_and_never_dies() {
    let Some(rinit) = near_the_stack_limit() else { return };
    let (mut ran, mut refused) = (0, 0);
    for run in 1..=30 {
        let end = under_a_stack_limit(&rinit, "16384", "exit 7");
        match end.code {
            Some(7) => ran += 1,
            Some(1) if end.stderr.starts_with("rinit: too little stack: the stack limit (RLIMIT_STACK, ulimit -s) is 16384 bytes, hard limit too;") => {
                assert!(end.stderr.contains("and rinit needs "), "{}", end.stderr);
                refused += 1;
            }
            _ => panic!("run {run}: {:?}; stderr ends {:?}", end.status, tail(&end.stderr)),
        }
    }
    eprintln!("--stack=16384 and 3.5 KB of arguments: {ran} runs of 30 ran, {refused} were refused with the message");
    // Most starts have the room (8 in 9 when measured).
    assert!(ran >= 15, "{ran} of 30 ran");
}

/// A soft stack limit below the hard one: rinit raises its own soft limit
/// when it needs to, so every run goes (de53de5 died of SIGSEGV as above),
/// and the program is given the limit rinit was started with.
#[test]
fn a_soft_stack_limit_below_the_hard_one_is_raised_for_rinit_alone() {
    let Some(rinit) = near_the_stack_limit() else { return };
    for run in 1..=30 {
        let end = under_a_stack_limit(&rinit, "16384:1048576", r#"echo "$(ulimit -S -s) $(ulimit -H -s)"; exit 7"#);
        assert_eq!(end.code, Some(7), "run {run}: {:?}; stderr ends {:?}", end.status, tail(&end.stderr));
        assert_eq!(end.stdout.trim(), "16 1024", "run {run}: the program's limits (KiB), as rinit was given them");
    }
}

/// The program found through a 4 KB PATH, under a soft stack limit rinit
/// raises for itself: the child puts the limit back before its exec and
/// must not grow the stack past it after that. On 7acebd7 musl's execvp
/// copied PATH onto the stack there: the child died of SIGSEGV before its
/// exec in 10 to 22 runs of 30 (rinit then exits 139 for it). The program is
/// rinit itself (static, found by PATH): a shell, dynamically linked, dies
/// in ld.so under this limit with this environment on its own. rinit is
/// exec'd straight from this test's fork with the limit set there, not
/// through prlimit, which itself died of SIGSEGV under it once in CI (its
/// own start-up, with this environment, before it exec'd rinit); not PID 1,
/// which this path does not depend on.
#[test]
fn a_program_found_through_a_long_path_runs_under_a_raised_stack_limit() {
    use std::os::unix::process::CommandExt;
    let Some(rinit) = near_the_stack_limit() else { return };
    let dir = rinit.canonicalize().unwrap().parent().unwrap().to_path_buf();
    let absent: Vec<String> = (0..200).map(|i| format!("/nonexistent/dir{i:03}")).collect();
    let path = format!("{}:{}", absent.join(":"), dir.display());
    assert!(path.len() > 4000, "{}", path.len());
    let name = rinit.file_name().unwrap();
    for run in 1..=30 {
        let mut cmd = Command::new(&rinit);
        // No more environment than PATH: the program, which gets it too,
        // then has room for its own start (with 3 KB more, where the old
        // child died most often, the program itself died in its start-up
        // under the limit once in 100 runs: rinit(1) LIMITS).
        cmd.arg("--").arg(name).arg("--version").env_clear().env("PATH", &path);
        // SAFETY: setrlimit is async-signal-safe; the limit is this
        // forked child's, which execs rinit next (this test's threads run
        // on stacks of their own, which RLIMIT_STACK does not bound).
        unsafe {
            cmd.pre_exec(|| {
                let limit = libc::rlimit { rlim_cur: 16384, rlim_max: 1 << 20 };
                if libc::setrlimit(libc::RLIMIT_STACK, &limit) == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
            });
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.code() == Some(0) && stdout.starts_with("rinit version"),
            "run {run}: {:?}, stdout {stdout:?}; stderr ends {:?}",
            out.status,
            tail(&String::from_utf8_lossy(&out.stderr))
        );
    }
}

/// The last 600 bytes of rinit's stderr (at trace level it says a lot).
fn tail(text: &str) -> &str {
    let at = (text.len().saturating_sub(600)..text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    &text[at..]
}

/// The user-space instructions of rinit's start-up as PID 1 with the OOM
/// watch set up (issue 20), counted by callgrind: the same count on every
/// run whatever the machine is doing, so a bound with headroom is a test.
/// The count grows with /proc/self/mountinfo (about 1.6 instructions a
/// byte of lines elsewhere than the cgroup root, more for the cgroup
/// mounts' lines), so the bound does too. On 3d41bee: 649,562 here (1,750 bytes of
/// mountinfo), in a `locate` that parsed every mount into a `PathBuf` and
/// `String`s and compared each with every later one.
#[test]
fn start_up_instructions_with_the_oom_watch_stay_under_their_bound() {
    if !cfg!(target_arch = "x86_64") || std::env::var_os("RINIT_BIN").is_some() {
        skip("the bound is for the x86_64 binary (instruction counts differ by architecture)");
        return;
    }
    if Command::new("valgrind").arg("--version").output().is_err() {
        skip("valgrind is not installed (scripts/setup.sh installs it)");
        return;
    }
    if !Path::new("/sys/fs/cgroup/memory/memory.oom_control").exists() {
        skip("no cgroup v1 memory hierarchy here: no OOM watch to set up");
        return;
    }
    let rinit = common::docker::release_rinit();
    let dir = temp_dir("callgrind");
    // The program waits until the watch is set up, so that the count is
    // of the same path every time; the environment is the same too.
    let out = Command::new("unshare")
        .args(unshare_args())
        .args(["valgrind", "--tool=callgrind"])
        .arg(format!("--callgrind-out-file={}/callgrind.%p", dir.display()))
        .arg(&rinit)
        .args(["--", "sh", "-c", WATCHED_BY_READLINK])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // valgrind's summary of PID 1 (rinit; the program is not traced).
    let count: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("==1== Collected : "))
        .unwrap_or_else(|| panic!("no callgrind count for PID 1 in: {stderr}"))
        .trim()
        .parse()
        .unwrap();
    let mountinfo = std::fs::read("/proc/self/mountinfo").unwrap().len() as u64;
    // 47,621 measured here on branch `h-startup` with its allocator
    // (`arena`; 2,233 bytes of mountinfo, 13 of its 27 lines at or under
    // /sys/fs/cgroup), about 6.4 more a byte of other lines; 59,073 before
    // it (1,758 bytes: over this bound), 86,350 on branch `start` (1,695
    // bytes), 97,362 before that (1,750). 48,231 since (1,695 bytes): no
    // poll of fds 0-2, musl's fork wrapper and a second getrlimit gone.
    // 44,921 since (1,695 bytes): newlines found sixteen bytes at a time
    // with SSE2 (about 1.6 instructions a byte of mountinfo left), and the
    // environment's entries matched in place; the count varies by a few
    // hundred with the turns the loop takes before the watch's set-up.
    let bound = 40_000 + 4 * mountinfo;
    eprintln!("start-up: {count} instructions, bound {bound} ({mountinfo} bytes of mountinfo)");
    assert!(count <= bound, "{count} instructions at start-up, more than {bound} ({mountinfo} bytes of mountinfo)");
    let _ = std::fs::remove_dir_all(dir);
}

/// The system calls of rinit's start-up as PID 1 (issue 20), counted with
/// `strace -f`: rinit's own calls from its execve up to and including the
/// first ppoll without a timeout, its first blocking wait, once the OOM watch
/// is set up (the program's calls, before and after its execve, not
/// counted). The same calls on every run but for the scheduling of the
/// program against the 3 ms deferred watch (a wait4 more or less), so a
/// bound with headroom is a test. The peers, counted the same way by
/// benches/compare.rs: tini-static 20, tini 38, catatonit 21, dumb-init 65.
#[test]
fn start_up_system_calls_stay_under_their_bound() {
    if common::skip_under_qemu() {
        return;
    }
    if !cfg!(target_arch = "x86_64") || std::env::var_os("RINIT_BIN").is_some() {
        skip("the bound is for the x86_64 binary (system calls differ by architecture)");
        return;
    }
    if Command::new("strace").arg("-V").output().is_err() {
        skip("strace is not installed (scripts/setup.sh installs it)");
        return;
    }
    let rinit = common::docker::release_rinit();
    let dir = temp_dir("strace-start");
    let log = dir.join("log");
    // The program ends once PID 1 sleeps without a timeout: in a read of
    // its signalfd (0 on x86_64; 8 records, 0x400 bytes) once the OOM
    // watch's doorbell thread runs (src/doorbell.rs), or in ppoll(…, 2,
    // NULL, …) (271) without that thread: every run traces the whole
    // start-up, OOM watch included.
    let out = Command::new("strace")
        .arg("-f")
        .arg("-o")
        .arg(&log)
        .arg("unshare")
        .args(unshare_args())
        .arg(&rinit)
        .args([
            "--",
            "sh",
            "-c",
            "until read n a b c r </proc/1/syscall && { [ \"$n $c\" = '0 0x400' ] || [ \"$n $b $c\" = '271 0x2 0x0' ]; }; do :; done",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&log).unwrap();
    // Lines are `PID call(…` (or `PID <... call resumed>`, `PID +++ …`: a
    // call strace splits in two counts once).
    let rinit_exec = format!("execve(\"{}\"", rinit.display());
    let mut lines = text.lines().filter_map(|l| l.split_once(' ')).map(|(p, r)| (p, r.trim_start()));
    let pid = lines.by_ref().find(|(_, r)| r.starts_with(&rinit_exec)).map(|(p, _)| p).expect("rinit's execve");
    let mut calls = vec![rinit_exec.as_str()];
    let mut threaded = false;
    for (p, r) in lines {
        if p != pid || r.starts_with("<...") || r.starts_with("+++") || r.starts_with("---") {
            continue;
        }
        calls.push(r);
        threaded |= r.starts_with("clone(");
        if threaded && r.starts_with("read(") || r.starts_with("ppoll(") && r.contains("], 2, NULL,") {
            break;
        }
    }
    let slept = calls.last().is_some_and(|c| c.starts_with("read(") || c.starts_with("ppoll("));
    assert!(slept, "no wait without a timeout:\n{text}");
    // 50 measured here (cgroup v1, OOM watch on the memory cgroup); 55 on
    // 8be9c5e, before one poll replaced three F_GETFD, the watch's set-up
    // stopped looking for children (two wait4) and one pipe replaced two
    // dups (and close_range their two closes). One more since the stack
    // check (rinit(1) LIMITS): its getrlimit (prlimit64); 53 measured then,
    // 52 without it on the same run-up. 44 since the start-up arena
    // (src/arena.rs): no brk or mmap of mallocng's before the program runs.
    // 39 since: the fork through `_Fork` (musl's `fork` added two more
    // rt_sigprocmask), no getpgrp before it, no poll of fds 0-2 unless
    // /proc takes one of their numbers, RLIMIT_STACK read once. 32 since:
    // a reap step's first wait is for any child (the program's only once
    // one has been reaped), the parent's setpgid only under -g, rinit's pid
    // from musl's cached thread id (no getpid), and the OOM watch keeps the
    // two /proc files it read open until its own are, then closes them with
    // one close_range: they prove the shutdown's two spare descriptors,
    // where a pipe made and closed did (39 -> 32: two closes, the pipe and
    // its close_range gone, and a wait4, a setpgid and a getpid). One more
    // with the OOM watch's doorbell thread (its clone; the first ppoll
    // without a timeout became the read that ends the count).
    let bound = 36;
    let n = calls.len();
    eprintln!("start-up: {n} system calls, bound {bound}");
    assert!(n <= bound, "{n} system calls at start-up, more than {bound}:\n{}", calls.join("\n"));
    let _ = std::fs::remove_dir_all(dir);
}
