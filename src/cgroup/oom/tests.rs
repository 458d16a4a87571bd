//! The shell over fake /proc and cgroup trees (`cgroup::fake`): what
//! it reads, and the lines it makes of the book's reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
use super::super::fake::*;
use super::book::{QUIET, RECHECK_EVERY, RECHECKS, SETTLE};
use super::*;

const T0: Duration = Duration::ZERO;

fn watch(f: &Fake) -> Option<OomWatch> {
    OomWatch::start(&f.proc_root(), &f.cgroup_root())
}

/// Reads the count before a reap and, the memory not back in these fakes,
/// settles once `SETTLE` has passed: the kills accounted for, and the
/// report of those no child explains.
fn account(w: &mut OomWatch) -> (u64, Option<String>) {
    let (before, mut lines) = w.step(OomEvent::BeforeReap, T0);
    let (settled, more) = w.step(OomEvent::Timeout, SETTLE);
    lines.extend(more);
    assert!(lines.len() <= 1, "{lines:?}");
    (before.kills + settled.kills, lines.pop())
}

/// rinit reaped `pid`: the line if it was a victim.
fn victim_report(w: &mut OomWatch, pid: i32) -> Option<String> {
    let (told, mut lines) = w.step(OomEvent::Reaped(pid), T0);
    assert_eq!(told.kills, 0, "a reap accounts for no kill");
    lines.pop()
}

/// Whether rinit may let its children reap themselves.
fn quiet(w: &mut OomWatch) -> bool {
    w.step(OomEvent::AskKernelReaps, T0).0.quiet
}

#[test]
fn formats_limits() {
    assert_eq!(human_bytes(128 << 20), "128 MiB");
    assert_eq!(human_bytes(3 << 29), "1.5 GiB");
    assert_eq!(human_bytes(2 << 40), "2 TiB");
    assert_eq!(human_bytes(1536), "1.5 KiB");
    assert_eq!(human_bytes(100), "100 bytes");
    assert_eq!(parse_limit("max\n"), None);
    assert_eq!(parse_limit("33554432\n"), Some(32 << 20));
    assert_eq!(parse_limit("9223372036854771712"), None);
}

/// A child of rinit in the fake /proc: its `stat` line with the
/// pending-signal mask (field 31) and exit code (field 52).
fn child(f: &Fake, pid: i32, name: &str, pending: u64, exit_code: u64) {
    let mut fields = vec!["0".to_string(); 50];
    fields[0] = "S".into();
    fields[28] = pending.to_string();
    fields[49] = exit_code.to_string();
    let dir = f.proc_root().join(pid.to_string());
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("stat"), format!("{pid} ({name}) {}\n", fields.join(" "))).unwrap();
    let list = f.proc_root().join("thread-self");
    fs::create_dir_all(&list).unwrap();
    let old = fs::read_to_string(list.join("children")).unwrap_or_default();
    fs::write(list.join("children"), format!("{old}{pid} ")).unwrap();
}

const SIGKILL_PENDING: u64 = 1 << 8;

fn v1_job(count: u64) -> Fake {
    let f = Fake::new(&[V1_MEMORY], "4:memory:/job\n");
    f.put("memory/job/memory.oom_control", &format!("oom_kill_disable 0\nunder_oom 0\noom_kill {count}\n"));
    f.put("memory/job/memory.stat", "cache 0\nhierarchical_memory_limit 134217728\n");
    f
}

fn kills(f: &Fake, count: u64) {
    f.put("memory/job/memory.oom_control", &format!("oom_kill {count}\n"));
}

#[test]
fn a_child_dying_of_sigkill_when_the_count_rises_is_named_when_reaped() {
    let f = v1_job(2);
    let mut w = watch(&f).unwrap();
    assert_eq!(account(&mut w), (0, None), "no rise: nothing to say");
    child(&f, 7, "java", SIGKILL_PENDING, 0);
    child(&f, 8, "sleep", 0, 0);
    kills(&f, 3);
    assert_eq!(account(&mut w), (1, None), "the victim is named when reaped, not before");
    assert_eq!(victim_report(&mut w, 8), None);
    assert_eq!(
        victim_report(&mut w, 7).as_deref(),
        Some("'java' (pid 7) was killed by the kernel OOM killer (memory limit 128 MiB, 1 OOM kill so far)")
    );
    assert_eq!(victim_report(&mut w, 7), None, "reported once");
}

#[test]
fn a_zombie_or_exiting_child_killed_by_sigkill_counts_too() {
    let f = v1_job(0);
    let mut w = watch(&f).unwrap();
    child(&f, 7, "a", 0, 9);
    child(&f, 9, "b", 0, 9 | 0x80);
    child(&f, 10, "c", 0, 15);
    child(&f, 11, "d", 0, 9 << 8);
    kills(&f, 2);
    assert_eq!(account(&mut w), (2, None));
    assert!(victim_report(&mut w, 7).is_some() && victim_report(&mut w, 9).is_some());
    assert!(victim_report(&mut w, 10).is_none() && victim_report(&mut w, 11).is_none(), "SIGTERM, exit 9");
}

#[test]
fn a_kill_no_child_explains_is_reported_at_once_and_blames_no_one_later() {
    // Issue 11 points 1-2: a grandchild that its own parent reaps.
    let f = v1_job(0);
    let mut w = watch(&f).unwrap();
    kills(&f, 1);
    assert_eq!(
        account(&mut w),
        (
            1,
            Some(
                "a process in the container was killed by the kernel OOM killer (memory limit 128 MiB, 1 OOM kill so far)"
                    .into()
            )
        )
    );
    // A plain SIGKILL afterwards: the count has not moved.
    child(&f, 12, "sleep", 0, 9);
    assert_eq!(account(&mut w), (0, None));
    assert_eq!(victim_report(&mut w, 12), None, "a plain SIGKILL is not blamed on the OOM killer");
    fs::write(f.proc_root().join("thread-self/children"), "").unwrap(); // reaped
    // Two at once, the limit gone.
    f.put("memory/job/memory.stat", "hierarchical_memory_limit 9223372036854771712\n");
    kills(&f, 3);
    assert_eq!(
        account(&mut w).1.as_deref(),
        Some("2 processes in the container were killed by the kernel OOM killer (no memory limit, 3 OOM kills so far)")
    );
}

#[test]
fn more_children_dying_than_kills_names_none() {
    let f = v1_job(0);
    let mut w = watch(&f).unwrap();
    child(&f, 7, "a", SIGKILL_PENDING, 0);
    child(&f, 8, "b", SIGKILL_PENDING, 0);
    kills(&f, 1);
    assert!(account(&mut w).1.unwrap().starts_with("a process in the container was killed"));
    assert_eq!(victim_report(&mut w, 7), None);
    assert_eq!(victim_report(&mut w, 8), None);
}

#[test]
fn children_reap_themselves_only_when_no_kill_is_under_way_and_then_no_one_is_named() {
    let f = v1_job(0);
    let mut w = watch(&f).unwrap();
    // A kill whose victim, a dying child, waits to be named at its reap.
    child(&f, 7, "a", SIGKILL_PENDING, 0);
    kills(&f, 1);
    assert!(!quiet(&mut w), "a kill not yet looked at");
    assert_eq!(w.step(OomEvent::Timeout, SETTLE).1, Vec::<String>::new());
    assert!(!quiet(&mut w), "a victim waiting for its reap");
    assert!(victim_report(&mut w, 7).is_some());
    fs::write(f.proc_root().join("thread-self/children"), "").unwrap();
    assert!(quiet(&mut w));
    // v1: a notice whose count has not risen yet.
    w.step(OomEvent::Notice, T0);
    assert!(!quiet(&mut w), "a notice still being checked");
    for _ in 0..RECHECKS {
        w.step(OomEvent::Timeout, T0);
    }
    assert!(quiet(&mut w));
    // Asking changes nothing: a dying child is still named (as under -w,
    // where rinit goes on reaping).
    child(&f, 9, "c", SIGKILL_PENDING, 0);
    kills(&f, 2);
    assert_eq!(account(&mut w).1, None);
    assert!(victim_report(&mut w, 9).is_some());
    fs::write(f.proc_root().join("thread-self/children"), "").unwrap();
    w.step(OomEvent::KernelReaps, T0);
    // From now on a victim may be reaped by the kernel: reported at once.
    child(&f, 8, "b", SIGKILL_PENDING, 0);
    kills(&f, 3);
    assert!(account(&mut w).1.unwrap().starts_with("a process in the container was killed"));
    assert_eq!(victim_report(&mut w, 8), None);
}

#[test]
fn after_rinits_own_sigkills_no_child_is_named() {
    let f = v1_job(0);
    let mut w = watch(&f).unwrap();
    w.step(OomEvent::OwnKills, T0);
    child(&f, 7, "a", SIGKILL_PENDING, 0);
    kills(&f, 1);
    assert!(account(&mut w).1.is_some());
    assert_eq!(victim_report(&mut w, 7), None);
}

#[test]
fn a_foreign_proc_names_no_one() {
    let f = v1_job(0);
    let mut w = watch(&f).unwrap();
    child(&f, 7, "a", SIGKILL_PENDING, 0);
    fs::remove_file(f.proc_root().join("self")).unwrap();
    std::os::unix::fs::symlink("4242424", f.proc_root().join("self")).unwrap();
    kills(&f, 1);
    assert!(account(&mut w).1.is_some());
    assert_eq!(victim_report(&mut w, 7), None);
}

#[test]
fn v1_rechecks_after_an_event_without_a_rise_then_settles_later() {
    let f = v1_job(0);
    let mut w = watch(&f).unwrap();
    assert_eq!(w.timeout(T0), None, "idle: no timer");
    w.step(OomEvent::Notice, T0);
    assert_eq!(w.timeout(T0), Some(RECHECK_EVERY), "v1 signals before the kill is counted");
    w.step(OomEvent::Timeout, T0);
    assert_eq!(w.timeout(T0), Some(RECHECK_EVERY));
    kills(&f, 1);
    let (told, _) = w.step(OomEvent::Timeout, T0);
    // The rise is noted; the victims are looked for once the memory is
    // back (no usage file in this fake: at the latest after SETTLE).
    assert_eq!((told.kills, told.quiet), (0, false));
    assert_eq!(w.timeout(T0), Some(RECHECK_EVERY));
    assert_eq!(w.step(OomEvent::Timeout, T0).0.kills, 0);
    let (told, lines) = w.step(OomEvent::Timeout, SETTLE);
    assert_eq!((told.kills, told.quiet, lines.len()), (1, true, 1));
    assert_eq!(w.timeout(SETTLE), None);
    // Rechecks run out when no kill follows.
    w.step(OomEvent::Notice, SETTLE);
    for _ in 0..RECHECKS {
        assert!(w.timeout(SETTLE).is_some());
        w.step(OomEvent::Timeout, SETTLE);
    }
    assert_eq!(w.timeout(SETTLE), None, "rechecks run out");
    assert!(w.fd().is_some(), "v1 never pauses");
    // The registration the kernel needs: "<eventfd> <oom_control fd>".
    let control = f.get("memory/job/cgroup.event_control");
    assert_eq!(control, format!("{} {}", w.fd().unwrap(), std::os::fd::AsRawFd::as_raw_fd(&w.file)));
}

#[test]
fn victims_are_looked_for_once_the_memory_is_back() {
    let f = v1_job(0);
    f.put("memory/job/memory.stat", "cache 20000000\nrss 3000\ntotal_cache 1000\ntotal_rss 33550000\n");
    f.put("memory/job/memory.limit_in_bytes", "33554432\n");
    let mut w = watch(&f).unwrap();
    child(&f, 7, "java", SIGKILL_PENDING, 0);
    kills(&f, 1);
    let told = w.step(OomEvent::BeforeReap, T0).0;
    assert_eq!((told.kills, told.quiet), (0, false), "still at the limit: wait");
    assert_eq!(victim_report(&mut w, 7), None, "not looked for yet");
    f.put("memory/job/memory.stat", "total_cache 33000000\ntotal_rss 1000000\n");
    let (told, lines) = w.step(OomEvent::Timeout, T0);
    assert_eq!((told.kills, lines), (1, vec![]), "the memory is back: the victim found");
    assert_eq!(w.timeout(T0), None);
    assert!(victim_report(&mut w, 7).unwrap().starts_with("'java' (pid 7) was killed"));
    fs::write(f.proc_root().join("thread-self/children"), "").unwrap();
    // No limit of its own (an ancestor's OOM): nothing to wait for.
    f.put("memory/job/memory.limit_in_bytes", "9223372036854771712\n");
    f.put("memory/job/memory.stat", "total_rss 33550000\n");
    kills(&f, 2);
    let (told, lines) = w.step(OomEvent::BeforeReap, T0);
    assert_eq!((told.kills, lines.len()), (1, 1));
}

/// A v2 cgroup (`0::/` in a cgroup namespace) with memory.events at `count`.
fn v2_job(count: u64) -> Fake {
    let f = Fake::new(&[("/", "", "cgroup2", "rw", "rw")], "0::/\n");
    v2_events(&f, 0, count);
    f.put("memory.max", "67108864\n");
    f
}

/// memory.events rewritten, as the kernel does on every event (inotify
/// sees it as a modification): `max` events, `count` OOM kills.
fn v2_events(f: &Fake, max: u64, count: u64) {
    f.put("memory.events", &format!("low 0\nhigh 0\nmax {max}\noom 0\noom_kill {count}\n"));
}

#[test]
fn v2_pauses_after_a_notice_without_a_kill_while_notices_keep_coming() {
    // Issue 19 item 10: the page cache at the limit rewrites memory.events
    // on every `max` event.
    let f = v2_job(0);
    let mut w = watch(&f).unwrap();
    let fd = w.fd();
    assert!(fd.is_some());
    v2_events(&f, 1, 0);
    w.step(OomEvent::Notice, T0);
    assert_eq!((w.fd(), w.timeout(T0)), (None, Some(QUIET)), "not polled for a while");
    v2_events(&f, 2, 0);
    assert_eq!(w.step(OomEvent::Timeout, QUIET).1, Vec::<String>::new());
    assert_eq!((w.fd(), w.timeout(QUIET)), (None, Some(QUIET)), "notices came meanwhile: the pause goes on");
    w.step(OomEvent::Timeout, QUIET * 2);
    assert_eq!((w.fd(), w.timeout(QUIET * 2)), (fd, None), "quiet again: polled, no timer");
    // A kill in a pause is read at its end, and reported.
    v2_events(&f, 3, 0);
    w.step(OomEvent::Notice, QUIET * 3);
    v2_events(&f, 4, 1);
    let told = w.step(OomEvent::Timeout, QUIET * 4).0;
    assert!(!told.quiet, "counted at the pause's end");
    let (told, lines) = w.step(OomEvent::Timeout, QUIET * 4 + SETTLE);
    assert_eq!(told.kills, 1);
    assert_eq!(lines, vec!["a process in the container was killed by the kernel OOM killer (memory limit 64 MiB, 1 OOM kill so far)".to_string()]);
}

#[test]
fn v2_counts_a_kill_at_a_reap_during_a_pause() {
    let f = v2_job(0);
    let mut w = watch(&f).unwrap();
    child(&f, 7, "dd", 0, 9);
    w.step(OomEvent::Notice, T0);
    v2_events(&f, 1, 1);
    assert_eq!(account(&mut w), (1, None));
    assert!(victim_report(&mut w, 7).unwrap().starts_with("'dd' (pid 7) was killed"));
}

#[test]
fn without_notification_kills_are_still_counted_and_named() {
    // A read-only v1 cgroup filesystem takes no registration (here:
    // cgroup.event_control cannot be written).
    let f = v1_job(0);
    fs::create_dir_all(f.cg("memory/job/cgroup.event_control")).unwrap();
    let mut w = watch(&f).unwrap();
    assert_eq!(w.fd(), None);
    child(&f, 7, "dd", 0, 9);
    kills(&f, 1);
    assert_eq!(account(&mut w), (1, None));
    assert!(victim_report(&mut w, 7).unwrap().starts_with("'dd' (pid 7) was killed"));
}

#[test]
fn oom_v1_limit_falls_back_to_limit_in_bytes() {
    let f = Fake::new(&[V1_MEMORY], "4:memory:/job\n");
    f.put("memory/job/memory.oom_control", "oom_kill 0\n");
    f.put("memory/job/memory.limit_in_bytes", "33554432\n");
    let mut w = watch(&f).unwrap();
    kills(&f, 1);
    assert!(account(&mut w).1.unwrap().contains("(memory limit 32 MiB, 1 OOM kill so far)"));
}

#[test]
fn oom_v2_climbs_to_the_memory_cgroup_and_takes_the_smallest_limit() {
    let f = Fake::new(&[("/kube", "", "cgroup2", "rw", "rw")], "0::/kube/pod/ctr/rinit-1-0\n");
    fs::create_dir_all(f.cg("pod/ctr/rinit-1-0")).unwrap();
    f.put("pod/ctr/memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
    f.put("pod/ctr/memory.max", "max\n");
    f.put("pod/memory.max", "268435456\n");
    f.put("memory.max", "536870912\n");
    let mut w = watch(&f).unwrap();
    assert_eq!(account(&mut w), (0, None));
    f.put("pod/ctr/memory.events", "oom 2\noom_kill 2\n");
    assert!(account(&mut w).1.unwrap().contains("(memory limit 256 MiB, 1 OOM kill so far)"));
}

#[test]
fn oom_v2_in_a_cgroup_namespace() {
    // `0::/`, the mount shows rinit's own cgroup.
    let f = Fake::new(&[("/", "", "cgroup2", "rw", "rw")], "0::/\n");
    f.put("memory.events", "oom_kill 5\n");
    f.put("memory.max", "268435456\n");
    let mut w = watch(&f).unwrap();
    assert_eq!(account(&mut w), (0, None));
    f.put("memory.events", "oom_kill 6\n");
    assert!(account(&mut w).1.unwrap().contains("(memory limit 256 MiB, 1 OOM kill so far)"));
}

#[test]
fn a_container_mount_root_is_translated() {
    // Docker v1 without a cgroup namespace: /proc/self/cgroup says
    // /docker/abc, the mount shows it at <root>/memory. A cgroup of that
    // name below the mount must not be used.
    let f = Fake::new(&[("/docker/abc", "memory", "cgroup", "rw", "rw,memory")], "4:memory:/docker/abc\n");
    f.put("memory/docker/abc/memory.oom_control", "oom_kill 9\n");
    f.put("memory/memory.oom_control", "oom_kill 1\n");
    let mut w = watch(&f).unwrap();
    f.put("memory/docker/abc/memory.oom_control", "oom_kill 10\n");
    assert_eq!(account(&mut w), (0, None), "watched the wrong cgroup");
    f.put("memory/memory.oom_control", "oom_kill 2\n");
    assert_eq!(account(&mut w).0, 1);
}

#[test]
fn every_kill_accounted_for_is_told_once_for_oom_exit() {
    let f = v1_job(0);
    let mut w = watch(&f).unwrap();
    child(&f, 7, "java", SIGKILL_PENDING, 0);
    kills(&f, 1);
    assert_eq!(w.step(OomEvent::BeforeReap, T0).0.kills, 0, "counted, not yet looked at: the memory may still be full");
    let (told, lines) = w.step(OomEvent::Timeout, SETTLE);
    assert_eq!((told.kills, lines), (1, vec![]), "a victim found counts as reported, named at its reap");
    assert_eq!(w.step(OomEvent::Timeout, SETTLE).0.kills, 0, "once");
    assert_eq!(w.step(OomEvent::BeforeReap, SETTLE).0.kills, 0, "once");
    kills(&f, 3);
    assert_eq!(account(&mut w).0, 2);
    // Counted first at exit (the program ended before the watch looked).
    kills(&f, 4);
    let (told, lines) = w.step(OomEvent::Exit, T0);
    assert_eq!(told.kills, 1);
    assert_eq!(lines.last().map(String::as_str), Some("the kernel OOM killer killed 4 processes in the container while rinit ran"));
}

#[test]
fn no_memory_controller_means_no_watch() {
    let f = Fake::new(&[V1_PIDS], "8:pids:/\n");
    assert!(watch(&f).is_none());
    let g = Fake::new(&[V2], "0::/\n");
    assert!(watch(&g).is_none(), "the v2 root counts no OOM kills");
}

