//! The OOM-kill report: every kill by the kernel's OOM killer in rinit's
//! memory cgroup, reported when it happens, with the victim's name when it
//! is one of rinit's own children, and never with a wrong one.
//!
//! The count is the memory cgroup's `oom_kill` (v1 `memory.oom_control`, v2
//! `memory.events`), kept open and read with one `pread`. The kernel says
//! when to read it (`notify`): the loop polls that descriptor beside the
//! signals. The loop tells the watch each event with one call,
//! [`OomWatch::on`] (a notice, a timeout, a reap, rinit's own SIGKILLs, the
//! kernel taking over the reaping, the exit); the bookkeeping is the pure
//! [`book::Book`], and this shell does the reads it asks for.
//!
//! rinit lives in the cgroup that is out of memory, so while the victim
//! still holds its memory anything rinit makes the kernel allocate (opening
//! a file, a log line into a pipe) can set off another OOM kill, of rinit or
//! its parent (seen in tests/cgroup.rs: unshare killed 11 ms after the
//! victim). A `pread` of a file kept open reuses the kernel's buffer and
//! allocates nothing, so that is all rinit does at first: on a rise of the
//! count it reads the cgroup's anonymous memory the same way, every
//! millisecond, until it is clearly below the limit, i.e. the victim has
//! given its memory back (it is exiting by then, or dead), or until `book::SETTLE`
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

use super::locate::{Place, Version, locate_with};
use super::notify::Notify;
use super::{keyed, keyed_bytes, open_in, read};

/// How long the look for dying children may take.
const LOOK_WITHIN: Duration = Duration::from_millis(20);

mod book;
use book::{Book, Input, Report, Step};
pub use book::{OomEvent, Told};

/// Memory use this far below the limit means the victim's memory is back.
const MARGIN: u64 = 1 << 20;

/// Watches the memory cgroup's OOM kills: the shell around [`Book`], which
/// does the reads the book asks for.
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
    /// The counting cgroup's `memory.stat` and limit (`memory.max`, v1
    /// `memory.limit_in_bytes`), kept open like the count.
    usage: Option<fs::File>,
    /// Where `memory_back` reads `usage` (4 KiB, zeroed at set-up).
    stat_buf: Vec<u8>,
    cap: Option<fs::File>,
    book: Book,
}

#[derive(Debug)]
enum LimitFrom {
    /// v1 memory cgroup dir: memory.stat has the limit in force, ancestors included.
    V1(PathBuf),
    /// v2: the memory cgroup and its visible ancestors; the smallest memory.max wins.
    V2(Vec<PathBuf>),
}

impl LimitFrom {
    /// The cgroup whose files the watch keeps open.
    fn counting_dir(&self) -> Option<&Path> {
        match self {
            LimitFrom::V1(dir) => Some(dir),
            LimitFrom::V2(dirs) => dirs.first().map(PathBuf::as_path),
        }
    }
}

impl OomWatch {
    /// Starts watching rinit's memory cgroup, if it can be found and the
    /// kernel can notify (None otherwise, said at debug level: a host
    /// without the memory controller, or too few file descriptors).
    pub fn start(proc_root: &Path, cgroup_root: &Path) -> Option<OomWatch> {
        // The buffer the two /proc files are read into becomes the
        // watch's memory.stat page: one allocation for both.
        let mut text = Vec::new();
        match locate_with(proc_root, cgroup_root, "memory", &mut text) {
            Ok((place, read)) => watch_at(place, proc_root, text, read),
            Err(e) => {
                debug!("no OOM report: {e}");
                None
            }
        }
    }

    /// The descriptor to poll: readable when the count may have changed
    /// (None during a pause, `book::QUIET`).
    pub fn fd(&self) -> Option<std::os::fd::RawFd> {
        self.notify.as_ref().filter(|_| self.book.polls()).map(Notify::fd)
    }

    /// How long after `now` the loop may sleep before an
    /// [`OomEvent::Timeout`] is due (None: as long as it likes; so whenever
    /// no OOM kill is under way).
    #[cfg(test)]
    pub fn timeout(&self, now: Duration) -> Option<Duration> {
        self.timeout_with(|| now)
    }

    /// [`OomWatch::timeout`] with the time asked for only if a timer runs.
    pub fn timeout_with(&self, now: impl Fn() -> Duration) -> Option<Duration> {
        self.book.timeout_with(now)
    }

    /// What happened at `now` (the loop's clock): the one entry of the
    /// watch. Logs the reports; says what the loop needs to know.
    pub fn on(&mut self, event: OomEvent, now: Duration) -> Told {
        let (told, lines) = self.step(event, now);
        for line in &lines {
            warn!("{line}");
        }
        told
    }

    /// `on` without the logging: what to tell, and the lines to log.
    fn step(&mut self, event: OomEvent, now: Duration) -> (Told, Vec<String>) {
        let mut step = self.book.handle(Input::Event(event), now);
        // Each answer moves the book to a later step of the event (drain,
        // count, memory, /proc): a handful at most.
        for _ in 0..8 {
            let input = match step {
                Step::Drain => Input::Drained(self.notify.as_ref().is_some_and(Notify::drain)),
                Step::ReadCount => Input::Count(self.current()),
                Step::ReadMemory => Input::MemoryBack(self.memory_back()),
                Step::LookForDying => Input::Dying(self.dying_children()),
                Step::Done(mut told) => {
                    let lines = told.reports.drain(..).map(|r| self.line(r)).collect();
                    return (told, lines);
                }
            };
            step = self.book.handle(input, now);
        }
        debug!("the OOM watch's book did not finish {event:?}");
        (Told::default(), Vec::new())
    }

    fn line(&self, report: Report) -> String {
        match report {
            Report::Victim { pid, name, so_far } => {
                format!("'{name}' (pid {pid}) was killed by the kernel OOM killer ({})", self.details(so_far))
            }
            Report::Unnamed { kills, so_far } => {
                let who = if kills == 1 { "a process".to_string() } else { format!("{kills} processes") };
                let were = if kills == 1 { "was" } else { "were" };
                format!("{who} in the container {were} killed by the kernel OOM killer ({})", self.details(so_far))
            }
            Report::Total(kills) => {
                let s = if kills == 1 { "" } else { "es" };
                format!("the kernel OOM killer killed {kills} process{s} in the container while rinit ran")
            }
        }
    }

    /// Whether the cgroup's memory use is clearly below its limit, read
    /// without allocating. Unknown use or limit: not safe (`book::SETTLE` decides).
    ///
    /// What counts is anonymous memory (`memory.stat`: v1 `total_rss`, v2
    /// `anon`): the page cache is reclaimed before anything is OOM-killed,
    /// and it can keep the cgroup's plain usage at its limit long after the
    /// victim has gone.
    fn memory_back(&mut self) -> bool {
        use std::os::unix::fs::FileExt;
        // The page for memory.stat is the watch's own, made (and touched) at
        // set-up: on the stack it made this frame 4 KiB, past what PID 1 has
        // under a 16 KiB stack limit (a core dump showed `on` at the limit).
        let stat = &mut self.stat_buf;
        let mut cap = [0u8; 32];
        let (Some(stat_file), Some(cap_file)) = (&self.usage, &self.cap) else { return false };
        let (Ok(n), Ok(m)) = (stat_file.read_at(stat, 0), cap_file.read_at(&mut cap, 0)) else {
            return false;
        };
        let key = match self.version {
            Version::V1 => "total_rss",
            Version::V2 => "anon",
        };
        let Some(anon) = stat.get(..n).and_then(|t| keyed_bytes(t, key)) else { return false };
        // No limit of its own: the OOM was an ancestor's or the machine's.
        let cap = cap.get(..m).map(String::from_utf8_lossy).unwrap_or_default();
        parse_limit(&cap).is_none_or(|cap| anon.saturating_add(MARGIN) < cap)
    }

    /// rinit's children dying of SIGKILL now, with their names; none when
    /// `/proc` does not show rinit's own PID namespace.
    fn dying_children(&self) -> Vec<(i32, String)> {
        // Opened for this look only, by path: a /proc mounted since start-up
        // is the one seen, and the watch keeps no descriptor for it.
        let dir = match ProcDir::open(&self.proc_root) {
            Ok(dir) => dir,
            Err(e) => {
                debug!("cannot open {}: {e}: OOM victims go unnamed", crate::escape::path(&self.proc_root));
                return Vec::new();
            }
        };
        if !dir.shows_own_namespace(nix::unistd::getpid().as_raw()) {
            debug!("{} shows another PID namespace: OOM victims go unnamed", crate::escape::path(&self.proc_root));
            return Vec::new();
        }
        // CONFIG_PROC_CHILDREN: the children of rinit's one thread.
        let Ok(children) = read(&self.proc_root.join("thread-self").join("children")) else {
            debug!("no {}/thread-self/children: OOM victims go unnamed", crate::escape::path(&self.proc_root));
            return Vec::new();
        };
        dying_of(&dir, &children)
    }

    fn details(&self, so_far: u64) -> String {
        let limit = match self.limit_in_force() {
            Some(bytes) => format!("memory limit {}", human_bytes(bytes)),
            None => "no memory limit".to_string(),
        };
        let s = if so_far == 1 { "" } else { "s" };
        format!("{limit}, {so_far} OOM kill{s} so far")
    }

    fn current(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 512];
        let n = self.file.read_at(&mut buf, 0).ok()?;
        keyed_bytes(buf.get(..n)?, "oom_kill")
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

/// Those of `children` (pids, as `/proc/PID/task/TID/children` lists them)
/// that are dying of SIGKILL, with their names.
///
/// Out of line: inlined, its locals made `OomWatch::on`'s frame larger
/// under `ProcDir::open` (the `stat` page, 2 KB, was on the stack here then;
/// it is `ProcDir`'s own now). PID 1 may have about 4 KiB of stack in all
/// (rinit(1) LIMITS).
#[inline(never)]
fn dying_of(dir: &ProcDir, children: &str) -> Vec<(i32, String)> {
    // Bounded like the shutdown's listings: thousands of children (an
    // orphan flood) must not keep the loop from its signals. A look cut
    // short names nobody: a victim unseen could be a child not read.
    let until = Instant::now() + LOOK_WITHIN;
    let mut dying = Vec::new();
    for pid in children.split_whitespace().filter_map(|pid| pid.parse::<i32>().ok()) {
        if Instant::now() >= until {
            debug!("too many children to look at in time: OOM victims go unnamed");
            return Vec::new();
        }
        if let Some((child, ending)) = dir.stat_ending(pid)
            && dying_of_sigkill(&ending)
        {
            dying.push((child.pid, child.name.to_string()));
        }
    }
    dying
}

/// Whether a process is dying of SIGKILL: SIGKILL pending, or its exit
/// under way or done with that status.
fn dying_of_sigkill(ending: &Ending) -> bool {
    let pending = ending.pending & (1 << (libc::SIGKILL - 1)) != 0;
    let exited = ending.exit_code & 0x7f == libc::SIGKILL as u32;
    pending || exited
}

/// The OOM watch of the memory cgroup at `place`, if its counter is readable.
/// `page` is any buffer: it becomes the memory.stat page. `read`: the two
/// files `locate_with` read, still open (`close_both`). Out of line, so
/// that `locate_with`'s locals and these are never on the stack together.
#[inline(never)]
fn watch_at(place: Place, proc_root: &Path, mut page: Vec<u8>, read: [fs::File; 2]) -> Option<OomWatch> {
    let version = place.version;
    let (counter, cap) = match version {
        Version::V1 => ("memory.oom_control", "memory.limit_in_bytes"),
        Version::V2 => ("memory.events", "memory.max"),
    };
    let limit = match version {
        Version::V1 => LimitFrom::V1(place.dir),
        Version::V2 => {
            // Without the memory controller here (a leaf made for the pids
            // limit, say) the nearest ancestor that has it does the counting.
            let visible: Vec<PathBuf> = place
                .dir
                .ancestors()
                .take_while(|d| d.starts_with(place.mount_point()))
                .map(Path::to_path_buf)
                .collect();
            let from = visible.iter().position(|d| d.join(counter).exists())?;
            LimitFrom::V2(visible.get(from..).unwrap_or_default().to_vec())
        }
    };
    // The cgroup that counts: its files are opened by name there, with no
    // path made for each (std opens files close-on-exec, and so does `open_in`).
    let dir = limit.counting_dir()?;
    // v1's registration file first, so that it is closed (once written)
    // before the watch's last two files take their numbers: see
    // `close_both` for why no more than two descriptors besides the
    // watch's own are open at any time.
    let control = (version == Version::V1).then(|| open_in(dir, "cgroup.event_control", super::WRITE_FLAGS));
    let file = match open_in(dir, counter, libc::O_RDONLY) {
        Ok(f) => f,
        Err(e) => {
            debug!("no OOM report: cannot read {}/{counter}: {e}", crate::escape::path(dir));
            return None;
        }
    };
    let notify = match control {
        Some(control) => Notify::eventfd(dir, &file, control),
        None => Notify::inotify(&dir.join(counter)),
    };
    let usage = open_in(dir, "memory.stat", libc::O_RDONLY);
    let cap = open_in(dir, cap, libc::O_RDONLY);
    // Any of the watch's descriptors refused for want of one: the watch
    // gives up, as when it could not have two more besides its own (see
    // `close_both`). Another error leaves that one file out.
    let short = notify.as_ref().is_err_and(|e| e.no_descriptor)
        || [&usage, &cap].into_iter().any(|f| f.as_ref().is_err_and(super::no_descriptor));
    if short {
        debug!("no OOM report: too few file descriptors left (RLIMIT_NOFILE)");
        return None;
    }
    let (usage, cap) = (usage.ok(), cap.ok());
    let notify = match notify {
        Ok(n) => Some(n),
        Err(e) => {
            debug!("OOM kills noticed only when a child of rinit's dies: {}", e.why);
            None
        }
    };
    // Zeroed, which touches its pages now. The allocation is the one
    // locate read into (at least a page); `resize` would zero it a byte at
    // a time (24,000 instructions), `write_bytes` is a memset.
    const PAGE: usize = 4096;
    page.clear();
    page.reserve_exact(PAGE);
    page.shrink_to(PAGE);
    // SAFETY: the capacity is at least PAGE (reserved above), and the
    // first PAGE bytes are initialised (zeroed) before the length says so.
    unsafe {
        std::ptr::write_bytes(page.as_mut_ptr(), 0, PAGE);
        page.set_len(PAGE);
    }
    let mut watch = OomWatch {
        file,
        notify,
        version,
        limit,
        proc_root: proc_root.to_path_buf(),
        usage,
        stat_buf: page,
        cap,
        book: Book::new(0, version == Version::V1),
    };
    let Some(count) = watch.current() else {
        debug!("no OOM report: no oom_kill count in {}/{counter}", crate::escape::path(watch.limit.counting_dir()?));
        return None;
    };
    watch.book = Book::new(count, version == Version::V1);
    // The first read of each kept-open file makes the kernel allocate its
    // buffer (two pages for memory.stat), which must not happen in the
    // middle of an OOM kill: that set off a second kill, of unshare, in
    // tests/cgroup.rs. Later reads reuse the buffers. The kernel makes the
    // whole text whatever the size of the read, so a few bytes do, and
    // nothing is parsed (that was 25,000 instructions at every start).
    for file in [&watch.usage, &watch.cap].into_iter().flatten() {
        first_read(file);
    }
    // Likewise a stack page touched for the first time during an OOM kill
    // is an anonymous page to charge, and in the VM tests rinit itself was
    // killed for one: the stack the OOM path needs is touched now.
    prefault_stack();
    close_both(read);
    debug!("watching {}/{counter} for OOM kills", crate::escape::path(watch.limit.counting_dir()?));
    Some(watch)
}

/// Reads the start of `file`, for the kernel to make its buffer now.
fn first_read(file: &fs::File) {
    use std::os::unix::fs::FileExt;
    let mut some = [0u8; 64];
    // What is read does not matter, nor whether it could be: `memory_back`
    // reads it again when it matters.
    let _ = file.read_at(&mut some, 0);
}

/// The stack the OOM path (`OomWatch::on` for a notice, a timeout or a reap, up to
/// the look at /proc) may need below the set-up's frame, and far more than
/// it does need.
const OOM_STACK: usize = 64 << 10;

/// Stack left untouched below the limit: the kernel checks the limit per
/// page, and the top of the stack is known only to a page.
const STACK_MARGIN: usize = 8 << 10;

/// Touches up to `OOM_STACK` of stack below this frame, so that the OOM
/// path's stack pages are already there when the memory is not; never past
/// what RLIMIT_STACK allows (a page beyond the limit is a SIGSEGV, which as
/// PID 1 ends the container: issue 19 item 7, `prlimit --stack=16384`).
/// Under a small limit less is touched, and a page of it may then be
/// faulted in during an OOM kill (rinit(1) CGROUPS).
fn prefault_stack() {
    let here = 0u8;
    let sp = std::ptr::addr_of!(here) as usize;
    let room = crate::stack::room_below(sp).saturating_sub(STACK_MARGIN).min(OOM_STACK);
    touch_stack(room / TOUCH_FRAME);
}

/// The stack frame of one step of `touch_stack`: under a page, so that one
/// write a frame touches every page.
const TOUCH_FRAME: usize = 2048;

/// Touches `frames` frames of `TOUCH_FRAME` bytes below the caller's: one
/// byte of each is written (writing them whole would cost an instruction a
/// few bytes, at every start).
#[inline(never)]
fn touch_stack(frames: usize) {
    if frames == 0 {
        return;
    }
    let mut frame = std::mem::MaybeUninit::<[u8; TOUCH_FRAME - 64]>::uninit();
    // SAFETY: one byte written inside this frame's own array.
    unsafe { std::ptr::write_volatile(frame.as_mut_ptr().cast::<u8>(), 0) };
    touch_stack(frames - 1);
    // Keeps the frame alive across the call: no tail call, no reuse.
    std::hint::black_box(&mut frame);
}

/// Closes the two files `locate_with` read (mountinfo, then the cgroup
/// file), kept open until now to prove what the shutdown needs: two
/// descriptors for a moment (a subreaper's pidfd and the `stat` file that
/// checks it; the listing one), which the watch must leave it rather than
/// take (issue 20: a pipe made and closed to prove them was three system
/// calls at every start, and the two files' closes two more).
///
/// Why they prove it: they are closed only once every descriptor the watch
/// keeps is open, so their two numbers, below RLIMIT_NOFILE since they were
/// given out, are free after the watch's set-up, and nothing of the watch
/// takes them. At most two descriptors besides the watch's are open at any
/// time (these two; the v1 registration file is closed before the watch's
/// last two files are opened), so the watch sets up exactly when its own
/// descriptors and two more can be had, as with the pipe: an open refused
/// for want of a descriptor ends it (`watch_at`).
///
/// Next to each other unless a descriptor sat between them (an inherited
/// one): then, or on a kernel without close_range (before 5.9), one close
/// each.
fn close_both(read: [fs::File; 2]) {
    use std::os::fd::IntoRawFd;
    let [a, b] = read.map(IntoRawFd::into_raw_fd);
    // SAFETY: closes the two descriptors just taken out of their files, and
    // only them (a range of two adjacent numbers).
    if b != a + 1 || unsafe { libc::syscall(libc::SYS_close_range, a, b, 0) } != 0 {
        // SAFETY: as above, one at a time.
        unsafe {
            libc::close(a);
            libc::close(b);
        }
    }
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
mod tests;
