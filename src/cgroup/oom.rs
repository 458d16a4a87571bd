//! The OOM-kill report: every kill by the kernel's OOM killer in rinit's
//! memory cgroup, reported when it happens, with the victim's name when it
//! is one of rinit's own children, and never with a wrong one.
//!
//! The count is the memory cgroup's `oom_kill` (v1 `memory.oom_control`, v2
//! `memory.events`), kept open and read with one `pread`. The kernel says
//! when to read it (`notify`): the loop polls that descriptor beside the
//! signals and calls [`OomWatch::on_event`].
//!
//! rinit lives in the cgroup that is out of memory, so while the victim
//! still holds its memory anything rinit makes the kernel allocate (opening
//! a file, a log line into a pipe) can set off another OOM kill, of rinit or
//! its parent (seen in tests/cgroup.rs: unshare killed 11 ms after the
//! victim). A `pread` of a file kept open reuses the kernel's buffer and
//! allocates nothing, so that is all rinit does at first: on a rise of the
//! count it reads the cgroup's anonymous memory the same way, every
//! millisecond, until it is clearly below the limit, i.e. the victim has
//! given its memory back (it is exiting by then, or dead), or until `SETTLE`
//! has passed. Only then does it look for the victims and report.
//!
//! Finding the victims: rinit looks at its own children. Those dying of
//! SIGKILL (pending, or exiting or a zombie with that status) are the
//! victims, named from `/proc` and reported when rinit reaps them (a child
//! that died is reaped only after this look); kills that no child of rinit
//! explains (a grandchild that its own parent reaps) are reported at once,
//! unnamed. If more children are dying of SIGKILL than
//! kills were counted, some were killed by someone else, and nothing tells
//! which: none is named. A process that dies of a plain SIGKILL later is
//! never blamed.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use log::{debug, warn};

use crate::procs::{Ending, ProcDir};

use super::locate::{Place, Version, locate};
use super::notify::Notify;
use super::{keyed, open, read};

/// v1 signals an OOM before the OOM killer has picked and counted its
/// victim: the count is read again this often, this many times, after an
/// event that showed no rise yet (only then: idle rinit never wakes).
const RECHECK_EVERY: Duration = Duration::from_millis(1);
const RECHECKS: u16 = 500;

/// Memory use this far below the limit means the victim's memory is back.
const MARGIN: u64 = 1 << 20;

/// How long after a rise of the count the victims are looked for at the
/// latest: by then the OOM killer's victim has given its memory back.
const SETTLE: Duration = Duration::from_millis(1000);

/// Watches the memory cgroup's OOM kills.
#[derive(Debug)]
pub struct OomWatch {
    /// `memory.oom_control` (v1) or `memory.events` (v2), both with a line
    /// `oom_kill N`, kept open (close-on-exec) so that a check is one `pread`
    /// from offset 0, which makes the kernel write the file afresh.
    file: fs::File,
    /// None where the kernel cannot be asked to notify: a read-only v1
    /// cgroup filesystem (an unprivileged Docker container on a v1 host)
    /// takes no `cgroup.event_control` registration. Kills are then noticed
    /// when a child of rinit's dies, and at exit.
    notify: Option<Notify>,
    version: Version,
    limit: LimitFrom,
    proc_root: PathBuf,
    /// The count as last read.
    seen: u64,
    /// Kills since rinit started.
    total: u64,
    /// Kills counted whose victims have not been looked for yet, and when
    /// they will be at the latest.
    unsettled: u64,
    due: Option<Instant>,
    /// rinit's children that were dying of SIGKILL when the count rose, with
    /// their names: reported as OOM victims when rinit reaps them.
    victims: Vec<(i32, String)>,
    /// v1: reads of the count left after an event that showed no rise.
    rechecks: u16,
    /// The counting cgroup's `memory.stat` and limit (`memory.max`, v1
    /// `memory.limit_in_bytes`), kept open like the count.
    usage: Option<fs::File>,
    cap: Option<fs::File>,
    /// Whether a child dying of SIGKILL may be named as a victim: not once
    /// rinit has sent its own SIGKILLs (a dying child is no evidence then),
    /// nor once its children reap themselves (the shutdown's last phase: a
    /// victim would never be reaped by rinit, so never reported).
    names_victims: bool,
    /// Issue 23 (`--oom-exit`): kills accounted for (`settled`) since the
    /// loop last asked, through `take_reported`.
    reported: u64,
}

#[derive(Debug)]
enum LimitFrom {
    /// v1 memory cgroup dir: memory.stat has the limit in force, ancestors included.
    V1(PathBuf),
    /// v2: the memory cgroup and its visible ancestors; the smallest memory.max wins.
    V2(Vec<PathBuf>),
}

impl OomWatch {
    /// Starts watching rinit's memory cgroup, if it can be found and the
    /// kernel can notify (None otherwise, said at debug level: a host
    /// without the memory controller, or too few file descriptors).
    pub fn start(proc_root: &Path, cgroup_root: &Path) -> Option<OomWatch> {
        match locate(proc_root, cgroup_root, "memory") {
            Ok(place) => watch_at(place, proc_root),
            Err(e) => {
                debug!("no OOM report: {e}");
                None
            }
        }
    }

    /// The descriptor to poll: readable when the count may have changed.
    pub fn fd(&self) -> Option<std::os::fd::RawFd> {
        self.notify.as_ref().map(Notify::fd)
    }

    /// The kernel signalled the descriptor: the count may have risen.
    pub fn on_event(&mut self) {
        if let Some(notify) = &self.notify {
            notify.drain();
        }
        if !self.count() && self.version == Version::V1 && self.unsettled == 0 {
            self.rechecks = RECHECKS;
        }
        self.settle_if_safe();
    }

    /// How long the loop may sleep before `on_timeout` is due (None: as
    /// long as it likes; so whenever no OOM kill is under way).
    pub fn timeout(&self) -> Option<Duration> {
        let settle = self.due.map(|due| due.saturating_duration_since(Instant::now()).min(RECHECK_EVERY));
        let recheck = (self.rechecks > 0).then_some(RECHECK_EVERY);
        settle.or(recheck)
    }

    /// A wait ended without a signal or a notice: a recheck may be due.
    pub fn on_timeout(&mut self) {
        if self.rechecks > 0 {
            self.rechecks -= 1;
            if self.count() {
                self.rechecks = 0;
            }
        }
        if self.due.is_some_and(|due| Instant::now() >= due) {
            self.settle();
        } else {
            self.settle_if_safe();
        }
    }

    /// Before reaping after a SIGCHLD: a rise the kernel's notice has not
    /// brought yet is accounted for, and the victims looked for if the
    /// memory is back, while a dead one is still unreaped.
    pub fn before_reap(&mut self) {
        self.count();
        self.settle_if_safe();
    }

    /// rinit reaped `pid`: reported if it was an OOM victim.
    pub fn reaped(&mut self, pid: i32) {
        if let Some(report) = self.victim_report(pid) {
            warn!("{report}");
        }
    }

    fn victim_report(&mut self, pid: i32) -> Option<String> {
        let i = self.victims.iter().position(|(v, _)| *v == pid)?;
        let (_, name) = self.victims.swap_remove(i);
        Some(format!("'{name}' (pid {pid}) was killed by the kernel OOM killer ({})", self.details()))
    }

    /// Called before rinit SIGKILLs what is left at the end of the grace:
    /// kills counted so far are accounted for, and from now on a child
    /// dying of SIGKILL is rinit's doing.
    pub fn before_own_kills(&mut self) {
        self.count();
        self.settle();
        self.names_victims = false;
    }

    /// Asked before rinit lets its children reap themselves (the shutdown,
    /// once everyone has had SIGTERM): not while an OOM kill is being
    /// accounted for — counted and not yet looked at, a victim waiting for
    /// its reap to be named, or (v1) a notice whose count has not risen yet
    /// — since rinit must reap the victim to name it.
    pub fn may_leave_reaps_to_the_kernel(&mut self) -> bool {
        self.count();
        self.unsettled == 0 && self.victims.is_empty() && self.rechecks == 0
    }

    /// rinit's children reap themselves from now on: every kill is reported
    /// at once, unnamed, as its victim may be reaped by the kernel unseen.
    pub fn reaps_left_to_the_kernel(&mut self) {
        self.names_victims = false;
    }

    /// Issue 23: how many kills were accounted for (reported, or their
    /// victims found) since the last call; the loop turns a rise into
    /// `Event::OomKill` under `--oom-exit`.
    pub fn take_reported(&mut self) -> u64 {
        std::mem::take(&mut self.reported)
    }

    /// Called as rinit exits: what is still unreported, then one line if the
    /// OOM killer struck at all.
    pub fn finish(&mut self) {
        self.count();
        self.settle();
        if self.total > 0 {
            let s = if self.total == 1 { "" } else { "es" };
            warn!("the kernel OOM killer killed {} process{s} in the container while rinit ran", self.total);
        }
    }

    /// Reads the count and notes a rise; allocates nothing (see the module
    /// comment). Whether it rose.
    fn count(&mut self) -> bool {
        let Some(now) = self.current() else { return false };
        if now <= self.seen {
            return false;
        }
        self.unsettled += now - self.seen;
        self.total += now - self.seen;
        self.seen = now;
        if self.due.is_none() {
            self.due = Instant::now().checked_add(SETTLE);
        }
        true
    }

    /// Whether the cgroup's memory use is clearly below its limit, read
    /// without allocating. Unknown use or limit: not safe (`SETTLE` decides).
    ///
    /// What counts is anonymous memory (`memory.stat`: v1 `total_rss`, v2
    /// `anon`): the page cache is reclaimed before anything is OOM-killed,
    /// and it can keep the cgroup's plain usage at its limit long after the
    /// victim has gone.
    fn memory_back(&self) -> bool {
        use std::os::unix::fs::FileExt;
        let mut stat = [0u8; 4096];
        let mut cap = [0u8; 32];
        let (Some(stat_file), Some(cap_file)) = (&self.usage, &self.cap) else { return false };
        let (Ok(n), Ok(m)) = (stat_file.read_at(&mut stat, 0), cap_file.read_at(&mut cap, 0)) else {
            return false;
        };
        let key = match self.version {
            Version::V1 => "total_rss",
            Version::V2 => "anon",
        };
        let Some(anon) = stat.get(..n).and_then(|t| keyed(&String::from_utf8_lossy(t), key)) else { return false };
        // No limit of its own: the OOM was an ancestor's or the machine's.
        let cap = cap.get(..m).map(String::from_utf8_lossy).unwrap_or_default();
        parse_limit(&cap).is_none_or(|cap| anon.saturating_add(MARGIN) < cap)
    }

    fn settle_if_safe(&mut self) {
        if self.unsettled > 0 && self.memory_back() {
            self.settle();
        }
    }

    /// Finds the victims among rinit's children and reports the kills none
    /// of them explains.
    fn settle(&mut self) {
        if let Some(report) = self.settled() {
            warn!("{report}");
        }
    }

    /// `settle` without the logging: the report of the kills that no child
    /// of rinit explains.
    fn settled(&mut self) -> Option<String> {
        let kills = std::mem::take(&mut self.unsettled);
        self.due = None;
        if kills == 0 {
            return None;
        }
        self.reported += kills;
        let mut dying = if self.names_victims { self.dying_children() } else { Vec::new() };
        dying.retain(|(pid, _)| !self.victims.iter().any(|(v, _)| v == pid));
        let unnamed = match u64::try_from(dying.len()) {
            Ok(n) if n <= kills => {
                self.victims.extend(dying);
                kills - n
            }
            // More children dying of SIGKILL than kills: some were killed
            // by someone else, and nothing tells which.
            _ => kills,
        };
        if unnamed == 0 {
            return None;
        }
        let who = if unnamed == 1 { "a process".to_string() } else { format!("{unnamed} processes") };
        let were = if unnamed == 1 { "was" } else { "were" };
        Some(format!("{who} in the container {were} killed by the kernel OOM killer ({})", self.details()))
    }

    /// rinit's children dying of SIGKILL now, with their names; none when
    /// `/proc` does not show rinit's own PID namespace.
    fn dying_children(&self) -> Vec<(i32, String)> {
        // Opened for this look only, by path: a /proc mounted since start-up
        // is the one seen, and the watch keeps no descriptor for it.
        let dir = match ProcDir::open(&self.proc_root) {
            Ok(dir) => dir,
            Err(e) => {
                debug!("cannot open {}: {e}: OOM victims go unnamed", self.proc_root.display());
                return Vec::new();
            }
        };
        if !dir.shows_own_namespace(nix::unistd::getpid().as_raw()) {
            debug!("{} shows another PID namespace: OOM victims go unnamed", self.proc_root.display());
            return Vec::new();
        }
        // CONFIG_PROC_CHILDREN: the children of rinit's one thread.
        let Ok(children) = read(&self.proc_root.join("thread-self").join("children")) else {
            debug!("no {}/thread-self/children: OOM victims go unnamed", self.proc_root.display());
            return Vec::new();
        };
        children
            .split_whitespace()
            .filter_map(|pid| pid.parse::<i32>().ok())
            .filter_map(|pid| dir.stat_ending(pid))
            .filter(|(_, ending)| dying_of_sigkill(ending))
            .map(|(child, _)| (child.pid, child.name.to_string()))
            .collect()
    }

    fn details(&self) -> String {
        let limit = match self.limit_in_force() {
            Some(bytes) => format!("memory limit {}", human_bytes(bytes)),
            None => "no memory limit".to_string(),
        };
        let s = if self.total == 1 { "" } else { "s" };
        format!("{limit}, {} OOM kill{s} so far", self.total)
    }

    fn current(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 512];
        let n = self.file.read_at(&mut buf, 0).ok()?;
        keyed(&String::from_utf8_lossy(buf.get(..n)?), "oom_kill")
    }

    fn limit_in_force(&self) -> Option<u64> {
        match &self.limit {
            LimitFrom::V1(dir) => read(&dir.join("memory.stat"))
                .ok()
                .and_then(|stat| keyed(&stat, "hierarchical_memory_limit"))
                .or_else(|| read(&dir.join("memory.limit_in_bytes")).ok()?.trim().parse().ok())
                .and_then(limited),
            LimitFrom::V2(dirs) => {
                dirs.iter().filter_map(|d| read(&d.join("memory.max")).ok()).filter_map(|t| parse_limit(&t)).min()
            }
        }
    }
}

/// Whether a process is dying of SIGKILL: SIGKILL pending, or its exit
/// under way or done with that status.
fn dying_of_sigkill(ending: &Ending) -> bool {
    let pending = ending.pending & (1 << (libc::SIGKILL - 1)) != 0;
    let exited = ending.exit_code & 0x7f == libc::SIGKILL as u32;
    pending || exited
}

/// The OOM watch of the memory cgroup at `place`, if its counter is readable.
fn watch_at(place: Place, proc_root: &Path) -> Option<OomWatch> {
    let (counter, limit) = match place.version {
        Version::V1 => (place.dir.join("memory.oom_control"), LimitFrom::V1(place.dir.clone())),
        Version::V2 => {
            // Without the memory controller here (a leaf made for the pids
            // limit, say) the nearest ancestor that has it does the counting.
            let visible: Vec<PathBuf> = place
                .dir
                .ancestors()
                .take_while(|d| d.starts_with(&place.mount_point))
                .map(Path::to_path_buf)
                .collect();
            let from = visible.iter().position(|d| d.join("memory.events").exists())?;
            let dirs = visible.get(from..).unwrap_or_default().to_vec();
            (dirs.first()?.join("memory.events"), LimitFrom::V2(dirs))
        }
    };
    // std opens files close-on-exec.
    let file = match open(&counter) {
        Ok(f) => f,
        Err(e) => {
            debug!("no OOM report: cannot read {}: {e}", counter.display());
            return None;
        }
    };
    let notify = match place.version {
        Version::V1 => Notify::eventfd(&place.dir, &file),
        Version::V2 => Notify::inotify(&counter),
    };
    let dir = counter.parent().unwrap_or(&place.dir);
    let cap = match place.version {
        Version::V1 => "memory.limit_in_bytes",
        Version::V2 => "memory.max",
    };
    let usage = open(&dir.join("memory.stat")).ok();
    let cap = open(&dir.join(cap)).ok();
    let notify = match notify {
        Ok(n) => Some(n),
        Err(e) => {
            debug!("OOM kills noticed only when a child of rinit's dies: {e}");
            None
        }
    };
    let mut watch = OomWatch {
        file,
        notify,
        version: place.version,
        limit,
        proc_root: proc_root.to_path_buf(),
        seen: 0,
        total: 0,
        unsettled: 0,
        due: None,
        victims: Vec::new(),
        rechecks: 0,
        usage,
        cap,
        names_victims: true,
        reported: 0,
    };
    let Some(count) = watch.current() else {
        debug!("no OOM report: no oom_kill count in {}", counter.display());
        return None;
    };
    watch.seen = count;
    // The first read of each kept-open file makes the kernel allocate its
    // buffer (two pages for memory.stat), which must not happen in the
    // middle of an OOM kill: that set off a second kill, of unshare, in
    // tests/cgroup.rs. Later reads reuse the buffers.
    watch.memory_back();
    // Likewise a stack page touched for the first time during an OOM kill
    // is an anonymous page to charge, and in the VM tests rinit itself was
    // killed for one: the stack the OOM path needs is touched now.
    prefault_stack();
    if !spare_descriptors() {
        // The shutdown needs two descriptors for a moment (a subreaper's
        // pidfd and the `stat` file that checks it; the listing one): the
        // watch gives its own back rather than take those.
        debug!("no OOM report: too few file descriptors left (RLIMIT_NOFILE)");
        return None;
    }
    debug!("watching {} for OOM kills", counter.display());
    Some(watch)
}

/// Touches 64 KiB of stack below this frame, far more than the OOM path
/// (`on_event`, `on_timeout`, `before_reap` up to the look at /proc) needs,
/// so that its stack pages are already there when the memory is not.
fn prefault_stack() {
    let mut pages = [0u8; 64 << 10];
    // Not optimised away: the array must really be written, page by page.
    std::hint::black_box(&mut pages);
}

/// Whether two more descriptors can be had now.
fn spare_descriptors() -> bool {
    // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor (the raw call: musl's
    // fcntl adds an F_SETFD).
    let dup = || crate::fd::from_syscall(unsafe { libc::syscall(libc::SYS_fcntl, 2, libc::F_DUPFD_CLOEXEC, 0) });
    // Both held at once, then dropped, and so closed.
    dup().and_then(|first| dup().map(|second| (first, second))).is_ok()
}

/// A memory limit as users write it: `128 MiB`, `1.5 GiB`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 4] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if n >= size {
            // One decimal, rounded, in integers (float formatting would add
            // ~15 KB to the binary).
            let tenths = (u128::from(n) * 10 + u128::from(size) / 2) / u128::from(size);
            return if tenths % 10 == 0 {
                format!("{} {unit}", tenths / 10)
            } else {
                format!("{}.{} {unit}", tenths / 10, tenths % 10)
            };
        }
    }
    format!("{n} bytes")
}

/// A memory limit file's value: None for unlimited (`max` on v2; v1 shows
/// its "no limit" as a number near 2^63, rounded to the page size).
pub(super) fn parse_limit(text: &str) -> Option<u64> {
    let text = text.trim();
    if text == "max" {
        return None;
    }
    text.parse::<u64>().ok().and_then(limited)
}

/// None for v1's "no limit", a number near 2^63 (no machine has 4 EiB).
pub(super) fn limited(bytes: u64) -> Option<u64> {
    (bytes < 1 << 62).then_some(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::super::fake::*;
    use super::*;

    fn watch(f: &Fake) -> Option<OomWatch> {
        OomWatch::start(&f.proc_root(), &f.cgroup_root())
    }

    /// Reads the count and settles at once: whether it rose, and the report
    /// of the kills no child explains.
    fn account(w: &mut OomWatch) -> (bool, Option<String>) {
        let rose = w.count();
        (rose, w.settled())
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
        assert_eq!(account(&mut w), (false, None), "no rise: nothing to say");
        child(&f, 7, "java", SIGKILL_PENDING, 0);
        child(&f, 8, "sleep", 0, 0);
        kills(&f, 3);
        assert_eq!(account(&mut w), (true, None), "the victim is named when reaped, not before");
        assert_eq!(w.victim_report(8), None);
        assert_eq!(
            w.victim_report(7).as_deref(),
            Some("'java' (pid 7) was killed by the kernel OOM killer (memory limit 128 MiB, 1 OOM kill so far)")
        );
        assert_eq!(w.victim_report(7), None, "reported once");
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
        assert_eq!(account(&mut w), (true, None));
        assert!(w.victim_report(7).is_some() && w.victim_report(9).is_some());
        assert!(w.victim_report(10).is_none() && w.victim_report(11).is_none(), "SIGTERM, exit 9");
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
                true,
                Some(
                    "a process in the container was killed by the kernel OOM killer (memory limit 128 MiB, 1 OOM kill so far)"
                        .into()
                )
            )
        );
        // A plain SIGKILL afterwards: the count has not moved.
        child(&f, 12, "sleep", 0, 9);
        assert_eq!(account(&mut w), (false, None));
        assert_eq!(w.victim_report(12), None, "a plain SIGKILL is not blamed on the OOM killer");
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
        assert_eq!(w.victim_report(7), None);
        assert_eq!(w.victim_report(8), None);
    }

    #[test]
    fn children_reap_themselves_only_when_no_kill_is_under_way_and_then_no_one_is_named() {
        let f = v1_job(0);
        let mut w = watch(&f).unwrap();
        // A kill whose victim, a dying child, waits to be named at its reap.
        child(&f, 7, "a", SIGKILL_PENDING, 0);
        kills(&f, 1);
        assert!(!w.may_leave_reaps_to_the_kernel(), "a kill not yet looked at");
        assert_eq!(w.settled(), None);
        assert!(!w.may_leave_reaps_to_the_kernel(), "a victim waiting for its reap");
        assert!(w.victim_report(7).is_some());
        fs::write(f.proc_root().join("thread-self/children"), "").unwrap();
        // v1: a notice whose count has not risen yet.
        w.rechecks = 3;
        assert!(!w.may_leave_reaps_to_the_kernel(), "a notice still being checked");
        w.rechecks = 0;
        assert!(w.may_leave_reaps_to_the_kernel());
        // Asking changes nothing: a dying child is still named (as under -w,
        // where rinit goes on reaping).
        child(&f, 9, "c", SIGKILL_PENDING, 0);
        kills(&f, 2);
        assert_eq!(account(&mut w).1, None);
        assert!(w.victim_report(9).is_some());
        fs::write(f.proc_root().join("thread-self/children"), "").unwrap();
        w.reaps_left_to_the_kernel();
        // From now on a victim may be reaped by the kernel: reported at once.
        child(&f, 8, "b", SIGKILL_PENDING, 0);
        kills(&f, 3);
        assert!(account(&mut w).1.unwrap().starts_with("a process in the container was killed"));
        assert_eq!(w.victim_report(8), None);
    }

    #[test]
    fn after_rinits_own_sigkills_no_child_is_named() {
        let f = v1_job(0);
        let mut w = watch(&f).unwrap();
        w.before_own_kills();
        child(&f, 7, "a", SIGKILL_PENDING, 0);
        kills(&f, 1);
        assert!(account(&mut w).1.is_some());
        assert_eq!(w.victim_report(7), None);
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
        assert_eq!(w.victim_report(7), None);
    }

    #[test]
    fn v1_rechecks_after_an_event_without_a_rise_then_settles_later() {
        let f = v1_job(0);
        let mut w = watch(&f).unwrap();
        assert_eq!(w.timeout(), None, "idle: no timer");
        w.on_event();
        assert_eq!(w.timeout(), Some(RECHECK_EVERY), "v1 signals before the kill is counted");
        w.on_timeout();
        assert_eq!(w.timeout(), Some(RECHECK_EVERY));
        kills(&f, 1);
        w.on_timeout();
        // The rise is noted; the victims are looked for once the memory is
        // back (no usage file in this fake: at the latest after SETTLE).
        assert_eq!(w.timeout(), Some(RECHECK_EVERY));
        w.on_timeout();
        assert_eq!(w.unsettled, 1);
        w.due = Some(Instant::now());
        w.on_timeout();
        assert_eq!((w.timeout(), w.unsettled, w.total), (None, 0, 1));
        // Rechecks run out when no kill follows.
        w.on_event();
        for _ in 0..RECHECKS {
            assert!(w.timeout().is_some());
            w.on_timeout();
        }
        assert_eq!(w.timeout(), None, "rechecks run out");
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
        w.before_reap();
        assert_eq!((w.unsettled, w.total), (1, 1), "still at the limit: wait");
        assert!(w.victims.is_empty());
        f.put("memory/job/memory.stat", "total_cache 33000000\ntotal_rss 1000000\n");
        w.on_timeout();
        assert_eq!(w.unsettled, 0);
        assert_eq!(w.victims, vec![(7, "java".to_string())]);
        assert_eq!(w.timeout(), None);
        // No limit of its own (an ancestor's OOM): nothing to wait for.
        f.put("memory/job/memory.limit_in_bytes", "9223372036854771712\n");
        f.put("memory/job/memory.stat", "total_rss 33550000\n");
        kills(&f, 2);
        w.before_reap();
        assert_eq!(w.unsettled, 0);
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
        w.due = None;
        assert_eq!(account(&mut w), (true, None));
        assert!(w.victim_report(7).unwrap().starts_with("'dd' (pid 7) was killed"));
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
        assert_eq!(account(&mut w), (false, None));
        f.put("pod/ctr/memory.events", "oom 2\noom_kill 2\n");
        assert!(account(&mut w).1.unwrap().contains("(memory limit 256 MiB, 1 OOM kill so far)"));
        w.on_event();
        assert_eq!(w.timeout(), None, "v2 signals after the count: no recheck");
    }

    #[test]
    fn oom_v2_in_a_cgroup_namespace() {
        // `0::/`, the mount shows rinit's own cgroup.
        let f = Fake::new(&[("/", "", "cgroup2", "rw", "rw")], "0::/\n");
        f.put("memory.events", "oom_kill 5\n");
        f.put("memory.max", "268435456\n");
        let mut w = watch(&f).unwrap();
        assert_eq!(account(&mut w), (false, None));
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
        assert_eq!(account(&mut w), (false, None), "watched the wrong cgroup");
        f.put("memory/memory.oom_control", "oom_kill 2\n");
        assert!(account(&mut w).0);
    }

    #[test]
    fn every_kill_accounted_for_is_taken_once_for_oom_exit() {
        let f = v1_job(0);
        let mut w = watch(&f).unwrap();
        assert_eq!(w.take_reported(), 0);
        child(&f, 7, "java", SIGKILL_PENDING, 0);
        kills(&f, 1);
        w.count();
        assert_eq!(w.take_reported(), 0, "counted, not yet looked at: the memory may still be full");
        assert_eq!(w.settled(), None, "named at its reap");
        assert_eq!(w.take_reported(), 1, "a victim found counts as reported");
        assert_eq!(w.take_reported(), 0, "once");
        kills(&f, 3);
        assert!(account(&mut w).1.is_some());
        assert_eq!(w.take_reported(), 2);
    }

    #[test]
    fn no_memory_controller_means_no_watch() {
        let f = Fake::new(&[V1_PIDS], "8:pids:/\n");
        assert!(watch(&f).is_none());
        let g = Fake::new(&[V2], "0::/\n");
        assert!(watch(&g).is_none(), "the v2 root counts no OOM kills");
    }
}
