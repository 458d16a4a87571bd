//! Who to signal at shutdown, read from `/proc`.
//!
//! As PID 1 that is every process of the namespace but rinit; otherwise only
//! rinit's descendants, so a subreaper never touches a process outside its own
//! tree. `/proc` is trusted only after checking that it shows rinit's own PID
//! namespace (a container can have the host's `/proc` mounted, or none).
//!
//! `/proc` is opened once at start-up and kept open ([`ProcDir`]): a process
//! that has used up its file descriptors by the time of the shutdown can
//! still list every pid, and reading one `stat` file needs just one more
//! descriptor for a moment. Names are kept as bytes: `comm` is whatever the
//! program set, not necessarily UTF-8, and a process must never be left out
//! of the shutdown because of its name.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Instant;

use log::{debug, warn};

use crate::{fd, signals};

// The mount API's constants (linux/mount.h), which libc does not have for
// every target.
const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const MOUNT_ATTR_RDONLY: libc::c_uint = 0x1;
const MOUNT_ATTR_NOSUID: libc::c_uint = 0x2;
const MOUNT_ATTR_NODEV: libc::c_uint = 0x4;
const MOUNT_ATTR_NOEXEC: libc::c_uint = 0x8;

/// `PF_KTHREAD` in the flags field of `/proc/PID/stat`: kernel threads show
/// up in the initial PID namespace (rinit as a VM's PID 1) and take no
/// signals, so they are nobody to wait for.
const PF_KTHREAD: u64 = 0x0020_0000;

/// A process name as the kernel keeps it (`comm`, at most 15 bytes for a
/// user process), stored inline so a listing allocates nothing per process.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Name {
    bytes: [u8; 16],
    len: u8,
}

impl Name {
    pub fn new(raw: &[u8]) -> Name {
        let mut bytes = [0; 16];
        let len = raw.len().min(bytes.len());
        if let (Some(dst), Some(src)) = (bytes.get_mut(..len), raw.get(..len)) {
            dst.copy_from_slice(src);
        }
        Name { bytes, len: u8::try_from(len).unwrap_or(0) }
    }

    /// The name of a process whose `stat` could not be read.
    pub fn unknown() -> Name {
        Name::new(b"?")
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

/// Shown escaped (rinit(1) DIAGNOSTICS): a process chooses its own name,
/// and one with a newline in it must not start a log line of its own.
impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::escape::Escaped(self.as_bytes()).fmt(f)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// Hashing with fixed keys, for the sets and maps of pids: std's default
/// asks the kernel for random keys when the first one is made (getrandom,
/// else /dev/urandom) and panics when it gets none, so that PID 1 died of
/// SIGILL at its first shutdown round under a seccomp filter that refuses
/// getrandom with no /dev (a review). The keys are pids, which the kernel
/// hands out: nothing to guard against.
pub type Fixed = BuildHasherDefault<std::collections::hash_map::DefaultHasher>;
/// A set of pids (or pid and start time) hashed with [`Fixed`] keys.
pub type PidSet<T> = HashSet<T, Fixed>;
/// A map keyed by pids hashed with [`Fixed`] keys.
pub type PidMap<K, V> = HashMap<K, V, Fixed>;

/// One process: the fields of `/proc/PID/stat` that rinit needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub name: Name,
    /// State letter; `Z` for a zombie, which no signal will move, `T` for a
    /// stopped process, which needs SIGCONT to act on a SIGTERM; `?` when
    /// the `stat` file could not be read.
    pub state: u8,
    /// Start time in clock ticks since boot: with the pid, it tells one
    /// process from a later one that reuses the pid.
    pub start: u64,
    /// Its threads (field 20), the exited leader's among them until the
    /// process is reaped; 0 when not known.
    pub threads: u32,
    /// Whether the fields above came from `stat` (false: only the pid and,
    /// through getpgid, the group are known).
    pub known: bool,
}

/// A process as rinit's log and its summary name it: "pid N 'name'", or
/// "pid N (name unknown)" where its `stat` could not be read (rinit(1)
/// SHUTDOWN; '?' would pass for a name a process chose). The one place
/// that says how.
pub struct Shown<'a, N: fmt::Display>(pub i32, pub Option<&'a N>);

impl<N: fmt::Display> fmt::Display for Shown<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(name) => write!(f, "pid {} '{name}'", self.0),
            None => write!(f, "pid {} (name unknown)", self.0),
        }
    }
}

impl Proc {
    /// How the log names it.
    pub fn shown(&self) -> Shown<'_, Name> {
        Shown(self.pid, self.known.then_some(&self.name))
    }

    /// Whether `now`, the same pid read again, is still this process and
    /// alive: the same start time (not a later process that took the pid),
    /// and no zombie (which has gone as far as signals go).
    pub fn lives_on_as(&self, now: &Proc) -> bool {
        now.start == self.start && !now.is_zombie()
    }

    /// A zombie: gone as far as signals go, waiting for its parent to reap
    /// it. `Z` with other threads still running is not one: the state is
    /// the leader's, whose thread exited (`pthread_exit` in `main`), and the
    /// process lives on in the others, takes signals and must be stopped
    /// (a review found it never signalled and left running, unsaid).
    pub fn is_zombie(&self) -> bool {
        self.state == b'Z' && self.threads <= 1
    }

    /// Whether the listing shows it stopped, so that a signal pending for
    /// it waits for a SIGCONT: `T` (by a signal) or `t` (under a tracer,
    /// which the SIGTERM round sends SIGCONT too, outside a group left
    /// out); in doubt (`stat` unreadable) yes, as for the program: a SIGCONT
    /// too many does less harm than a process left stopped until SIGKILL.
    /// A process living on past its leader is in doubt too: the state is
    /// the leader's, not the others'.
    pub fn is_stopped(&self) -> bool {
        matches!(self.state, b'T' | b't') || !self.known || (self.state == b'Z' && !self.is_zombie())
    }
}

/// How a process is ending, from the far end of its `stat` line. Kept out
/// of [`Proc`] and parsed only where asked (the OOM report): a shutdown
/// listing of thousands of processes neither stores it nor parses that far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ending {
    /// The pending signals (field 31, `signal`): bit N-1 for signal N.
    pub pending: u64,
    /// The wait status once the process is exiting or a zombie (field 52,
    /// `exit_code`, the last; Linux 3.5 on), 0 before.
    pub exit_code: u32,
}

/// Parses `/proc/PID/stat`. Returns the process and whether it is a kernel
/// thread.
pub fn parse_stat(text: &[u8]) -> Option<(Proc, bool)> {
    parse_stat_head(text).map(|(proc, kthread, _)| (proc, kthread))
}

/// Parses `/proc/PID/stat` to its end: the process and how it is ending
/// (fields the kernel does not give, as before 3.5, read as 0).
pub fn parse_stat_ending(text: &[u8]) -> Option<(Proc, Ending)> {
    let (proc, _, mut rest) = parse_stat_head(text)?;
    // `rest` stands after the start time, field 22.
    let pending = rest.nth(8).and_then(number).unwrap_or(0);
    let exit_code = rest.nth(20).and_then(number).unwrap_or(0);
    Some((proc, Ending { pending, exit_code }))
}

/// The fields of a `stat` line up to the start time, whether it is a
/// kernel thread, and the fields after that. The name is in parentheses and
/// may itself hold spaces, parentheses and bytes that are not UTF-8, so the
/// fields after it are found from the last `)`.
fn parse_stat_head(text: &[u8]) -> Option<(Proc, bool, impl Iterator<Item = &[u8]>)> {
    let open = text.iter().position(|&b| b == b'(')?;
    let close = text.iter().rposition(|&b| b == b')')?;
    let pid = number(text.get(..open)?)?;
    let name = Name::new(text.get(open + 1..close)?);
    // After the name: state ppid pgrp session tty_nr tpgid flags ... and the
    // start time as field 22 of the line (the 20th after the name).
    let mut rest = text.get(close + 1..)?.split(|&b| b == b' ').filter(|f| !f.is_empty());
    let state = *rest.next()?.first()?;
    let ppid = number(rest.next()?)?;
    let pgid = number(rest.next()?)?;
    let flags: u64 = number(rest.nth(3)?)?;
    let threads = number(rest.nth(10)?)?;
    let start = number(rest.nth(1)?)?;
    let proc = Proc { pid, ppid, pgid, name, state, start, threads, known: true };
    Some((proc, flags & PF_KTHREAD != 0, rest))
}

fn number<T: std::str::FromStr>(field: &[u8]) -> Option<T> {
    std::str::from_utf8(field).ok()?.trim().parse().ok()
}

/// A listing of `/proc`, kept between shutdown turns so that listing again
/// reuses its memory.
#[derive(Debug, Default)]
pub struct Listing {
    pub procs: Vec<Proc>,
    /// Every `stat` file was read (false when some could not be, e.g. for
    /// lack of file descriptors: those processes are in `procs` unknown).
    pub complete: bool,
    /// The listing stopped at its time limit (`ProcDir::list_until`).
    pub cut: bool,
}

/// `/proc`, opened once and kept open for the shutdown.
pub struct ProcDir {
    fd: OwnedFd,
    /// getdents64's buffer, made with the descriptor, not at the first
    /// shutdown: it is an allocation, and the shutdown may come when memory
    /// is short.
    entries: Vec<u8>,
    /// The buffer `PID/stat` is read into, made with the descriptor like
    /// `entries`. On the stack it was 2 KB under the shutdown's and the OOM
    /// watch's deepest calls, and PID 1 may have only about 4 KiB of stack
    /// (rinit(1) LIMITS). Taken out for a read and put back after it.
    stat_buf: Cell<Vec<u8>>,
    /// A descriptor held for `read_stat` (`keep_spare`), given up when an
    /// open finds none left.
    spare: Cell<Option<OwnedFd>>,
    /// `signal_exact` has said so once already.
    said_no_pidfd: Cell<bool>,
    said_unchecked: Cell<bool>,
}

/// The directory entries one getdents64 call may return (as musl's
/// readdir buffer).
const ENTRIES_BUF: usize = 2048;

/// A stat line is a few hundred bytes, and at most about 1,100 (52 numbers
/// of up to 20 digits and a 15-byte name): it fits.
const STAT_BUF: usize = 2048;

impl From<OwnedFd> for ProcDir {
    fn from(fd: OwnedFd) -> ProcDir {
        ProcDir {
            fd,
            entries: vec![0; ENTRIES_BUF],
            stat_buf: Cell::new(vec![0; STAT_BUF]),
            spare: Cell::new(None),
            said_no_pidfd: Cell::new(false),
            said_unchecked: Cell::new(false),
        }
    }
}

impl ProcDir {
    /// Opens `path` (close-on-exec: the program must not inherit it).
    /// The directory stream is made now, not at the first shutdown: it is
    /// an allocation, and the shutdown may come when memory is short.
    pub fn open(path: &Path) -> io::Result<ProcDir> {
        // openat, not Dir::open: musl's open (under Dir::open) adds an
        // fcntl(F_SETFD) for kernels older than O_CLOEXEC, and this is on
        // rinit's start-up path. Not nix's openat either: its path buffer
        // is 1 KB of stack (and this is on the OOM watch's path too).
        let path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: a NUL-terminated path; openat returns a new descriptor or -1.
        let fd = unsafe { libc::openat(libc::AT_FDCWD, path.as_ptr(), flags) };
        Ok(ProcDir::from(crate::fd::from_syscall(libc::c_long::from(fd))?))
    }

    /// A `/proc` of rinit's own PID namespace that is mounted nowhere: a
    /// new proc instance made with the mount API (fsopen, fsmount, Linux
    /// 5.2+) and never attached to any path, so that no other process sees
    /// it and it keeps no filesystem busy; it goes with its last descriptor.
    /// For the one setup where `/proc` shows another namespace (`unshare
    /// -pf` without `--mount-proc`, the host's `/proc` in a sandbox). Needs
    /// CAP_SYS_ADMIN over the mount namespace: EPERM in an unprivileged
    /// container, whose `/proc` is its own anyway.
    pub fn private() -> io::Result<ProcDir> {
        // SAFETY: fsopen takes a NUL-terminated name and flags.
        let fs = fd::from_syscall(unsafe { libc::syscall(libc::SYS_fsopen, c"proc".as_ptr(), FSOPEN_CLOEXEC) })?;
        // SAFETY: FSCONFIG_CMD_CREATE takes no key, value or aux.
        let rc = unsafe {
            libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), FSCONFIG_CMD_CREATE, std::ptr::null::<u8>(), std::ptr::null::<u8>(), 0)
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        // SAFETY: fsmount takes the fs context, flags and attributes.
        let mnt = fd::from_syscall(unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) })?;
        // The mount's own descriptor is O_PATH, which cannot be listed: a
        // directory opened below it keeps the mount alive by itself.
        // libc's openat: nix's puts a 1 KB path buffer on the stack.
        // SAFETY: a descriptor of ours and a NUL-terminated path.
        let dir = unsafe { libc::openat(mnt.as_raw_fd(), c".".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        Ok(ProcDir::from(crate::fd::from_syscall(libc::c_long::from(dir))?))
    }

    /// Holds one descriptor back for reading `stat` files. Not PID 1, the
    /// shutdown finds rinit's descendants through their parents, one `stat`
    /// (one short-lived descriptor) each: with none left (a low
    /// RLIMIT_NOFILE, or the program lowering rinit's) it would find none,
    /// and give them neither SIGTERM nor SIGKILL. Taken before the
    /// signalfd, which gives way when both do not fit (rinit then waits
    /// with sigtimedwait). Without room even for this, nothing is held.
    pub fn keep_spare(&mut self) {
        // SAFETY: F_DUPFD_CLOEXEC duplicates a descriptor of ours.
        let dup = unsafe { libc::fcntl(self.fd(), libc::F_DUPFD_CLOEXEC, 0) };
        self.spare.set(fd::from_syscall(libc::c_long::from(dup)).ok());
    }

    /// Whether this `/proc` shows the PID namespace rinit lives in: there,
    /// `self` is a link to rinit's own pid.
    pub fn shows_own_namespace(&self, own_pid: i32) -> bool {
        let mut buf = [0u8; 32];
        // SAFETY: the path is a NUL-terminated literal and `buf` is valid
        // for its length; readlinkat needs no new descriptor.
        let n = unsafe {
            libc::readlinkat(self.fd(), c"self".as_ptr(), buf.as_mut_ptr().cast(), buf.len())
        };
        let Ok(n) = usize::try_from(n) else { return false };
        buf.get(..n).and_then(number::<i32>) == Some(own_pid)
    }

    /// The descriptor's number.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Lists every process but kernel threads into `out`. Processes that
    /// vanish while it reads are left out; a pid whose `stat` cannot be read
    /// for another reason (EMFILE) is kept, unknown.
    pub fn list(&mut self, out: &mut Listing) -> io::Result<()> {
        self.list_until(out, None)
    }

    /// [`ProcDir::list`], stopped at `until` if it comes first (then
    /// `out.cut`): for a listing that only names what a deadline's signal
    /// reaches, which must not hold that signal up.
    pub fn list_until(&mut self, out: &mut Listing, until: Option<Instant>) -> io::Result<()> {
        out.procs.clear();
        out.complete = true;
        out.cut = self.list_on(out, 0, until)?.is_some();
        Ok(())
    }

    /// Lists on from the directory offset `from` (0: the top), appending to
    /// `out`, until the end (`None`) or until `until` (`Some`: the offset
    /// where the next call goes on, as telldir gives it): one listing spread
    /// over several turns of the loop. Resuming costs nothing: starting from
    /// the top again would make getdents walk every pid already done (a
    /// dentry each), which at thousands took longer than a turn's share.
    /// `/proc` lists pids in rising order; a process forked behind the
    /// cursor is missed, as by a listing made in one go.
    pub fn list_on(&mut self, out: &mut Listing, from: i64, until: Option<Instant>) -> io::Result<Option<i64>> {
        let fd = self.fd.as_raw_fd();
        // SAFETY: lseek on a descriptor this owns; a directory's offset is
        // one that getdents returned (or 0).
        if unsafe { libc::lseek(fd, from, libc::SEEK_SET) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut at = from;
        // At least one pid a call, however late: a listing always moves on.
        let mut read_one = false;
        loop {
            // SAFETY: the buffer is valid for its length.
            let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, self.entries.as_mut_ptr(), self.entries.len()) };
            let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
            if n == 0 {
                return Ok(None);
            }
            let mut batch = self.entries.get(..n).unwrap_or_default();
            while let Some((next, name, rest)) = dirent(batch) {
                batch = rest;
                if let Some(pid) = pid_of(name) {
                    if read_one && until.is_some_and(|t| Instant::now() >= t) {
                        return Ok(Some(at));
                    }
                    read_one = true;
                    match self.read_stat(pid) {
                        Ok(Some((proc, false))) => out.procs.push(proc),
                        Ok(Some((_, true))) => {} // a kernel thread
                        Ok(None) => {}            // gone, or a pid reused mid-read
                        Err(_) => {
                            out.complete = false;
                            out.procs.push(unknown(pid));
                        }
                    }
                }
                at = next;
            }
        }
    }

    /// Whether kernel threads are listed: only in the initial PID namespace
    /// (rinit as a VM's PID 1), where pid 2 is kthreadd.
    pub fn shows_kernel_threads(&self) -> bool {
        matches!(self.read_stat(2), Ok(Some((_, true))))
    }

    /// One process, read again now: `None` once it has gone.
    pub fn stat(&self, pid: i32) -> Option<Proc> {
        self.read_stat(pid).ok().flatten().map(|(p, _)| p)
    }

    /// One process and how it is ending, read now: `None` once it has gone.
    pub fn stat_ending(&self, pid: i32) -> Option<(Proc, Ending)> {
        self.read_stat_with(pid, parse_stat_ending).ok().flatten()
    }

    /// Sends `sig` to exactly the process `p` describes, never to a later
    /// one that took over its pid after the listing: through a pidfd, whose
    /// process is checked against the listing's start time; that takes two
    /// descriptors at once (the pidfd and the `stat` file). Without a pidfd
    /// (Linux before 5.3, or no descriptor to spare) the start time is
    /// checked just before a plain kill(), which leaves a window of a few
    /// microseconds for a reuse: said once, at debug level, since it is the
    /// best the kernel offers then. A check that cannot be made at all
    /// (no descriptor even for `stat`) is a warning, once: the process is
    /// signalled by pid alone.
    pub fn signal_exact(&self, p: &Proc, sig: i32) -> io::Result<()> {
        let pidfd = match signals::pidfd_open(p.pid) {
            Ok(pidfd) => Some(pidfd),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Err(e),
            Err(e) => {
                if !self.said_no_pidfd.replace(true) {
                    debug!("no pidfd ({e}): a reused pid is told by its start time just before kill()");
                }
                None
            }
        };
        if p.known {
            match self.read_stat(p.pid) {
                // Another process has the pid now, or the listed one is a
                // zombie (a round's known descendants may have died since
                // they were listed): it has gone.
                Ok(Some((now, _))) if !p.lives_on_as(&now) => return Err(io::Error::from_raw_os_error(libc::ESRCH)),
                Ok(Some(_)) => {}
                Ok(None) => return Err(io::Error::from_raw_os_error(libc::ESRCH)),
                Err(e) => {
                    if !self.said_unchecked.replace(true) {
                        warn!("cannot check pid {} before signalling it ({e}): processes are signalled by pid alone", p.pid);
                    }
                }
            }
        }
        match pidfd {
            Some(pidfd) => signals::pidfd_send(&pidfd, sig),
            None => signals::send(p.pid, sig),
        }
    }

}

/// A process whose `stat` could not be read: getpgid needs no descriptor,
/// so the group (for `-g`) is still known.
fn unknown(pid: i32) -> Proc {
    // SAFETY: getpgid has no memory-safety preconditions.
    let pgid = unsafe { libc::getpgid(pid) };
    Proc { pid, ppid: 0, pgid, name: Name::unknown(), state: b'?', start: 0, threads: 0, known: false }
}

fn pid_of(name: &[u8]) -> Option<i32> {
    if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    number(name)
}

/// The first entry of a getdents64 batch (struct linux_dirent64: inode u64,
/// offset of the next entry i64, record length u16, type u8, name NUL-ended):
/// the offset to go on from after it, its name, and the rest of the batch.
fn dirent(batch: &[u8]) -> Option<(i64, &[u8], &[u8])> {
    let next = i64::from_ne_bytes(batch.get(8..16)?.try_into().ok()?);
    let len = usize::from(u16::from_ne_bytes(batch.get(16..18)?.try_into().ok()?));
    let name = batch.get(19..len)?;
    let name = name.split(|&b| b == 0).next().unwrap_or_default();
    Some((next, name, batch.get(len..)?))
}

impl ProcDir {
    /// Reads `PID/stat`: the process and whether it is a kernel thread.
    /// `Ok(None)`: the process has gone.
    fn read_stat(&self, pid: i32) -> io::Result<Option<(Proc, bool)>> {
        self.read_stat_with(pid, parse_stat)
    }

    /// Reads `PID/stat` into the directory's own buffer, and parses it with
    /// `parse`.
    fn read_stat_with<T>(&self, pid: i32, parse: impl Fn(&[u8]) -> Option<(Proc, T)>) -> io::Result<Option<(Proc, T)>> {
        let mut buf = self.stat_buf.take();
        // Short only if a read were under way already, which nothing here
        // starts (no read calls back into this directory).
        if buf.len() < STAT_BUF {
            buf = vec![0; STAT_BUF];
        }
        let mut read = read_stat_into(self.fd(), pid, &mut buf, &parse);
        if read.as_ref().is_err_and(|e| e.raw_os_error() == Some(libc::EMFILE)) && self.spare.take().is_some() {
            // The held descriptor closed (dropped): its number is the one
            // this and every later `stat` opens.
            debug!("out of file descriptors: the one held for reading /proc is used");
            read = read_stat_into(self.fd(), pid, &mut buf, &parse);
        }
        self.stat_buf.set(buf);
        read
    }
}

/// Reads `PID/stat` below the open `/proc` into `buf` with one short-lived
/// descriptor and no allocation, and parses it with `parse`. `Ok(None)`:
/// the process has gone.
fn read_stat_into<T>(
    dir: RawFd,
    pid: i32,
    buf: &mut [u8],
    parse: &impl Fn(&[u8]) -> Option<(Proc, T)>,
) -> io::Result<Option<(Proc, T)>> {
    let mut path = [0u8; 24];
    let mut w = &mut path[..];
    // "PID/stat\0" fits: a pid has at most 10 digits.
    io::Write::write_fmt(&mut w, format_args!("{pid}/stat\0"))?;
    // SAFETY: `path` holds a NUL-terminated string; openat returns a new
    // descriptor or -1.
    let fd = unsafe { libc::openat(dir, path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::ENOENT | libc::ESRCH) => Ok(None),
            _ => Err(err),
        };
    }
    // The line fits the buffer (STAT_BUF). The file is one line, so it has
    // been read to its end once the text ends in a newline (the first read,
    // always, as the kernel makes the line in one go) or a read returns 0:
    // no second read to find the end.
    let mut n = 0;
    let ok = loop {
        let Some(rest) = buf.get_mut(n..).filter(|r| !r.is_empty()) else { break true };
        // SAFETY: `rest` is valid for its length; `fd` is ours.
        let got = unsafe { libc::read(fd, rest.as_mut_ptr().cast(), rest.len()) };
        match usize::try_from(got) {
            Ok(0) => break true,
            Ok(got) => n += got,
            Err(_) if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break false,
        }
        if buf.get(..n).is_some_and(|t| t.ends_with(b"\n")) {
            break true;
        }
    };
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
    if !ok {
        // ESRCH: the process went between open and read. Anything else is
        // as good as gone for a listing: there is nothing to read.
        return Ok(None);
    }
    Ok(buf.get(..n).and_then(parse).filter(|(p, _)| p.pid == pid))
}

/// Now, in the unit of a process's start time in `/proc/PID/stat`: clock
/// ticks since boot (CLOCK_BOOTTIME, CLK_TCK a second).
pub fn boot_ticks() -> u64 {
    // SAFETY: timespec is plain data; clock_gettime fills it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a valid clock id and out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100).max(1);
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(hz).saturating_add(nanos / (1_000_000_000 / hz).max(1))
}

/// Whom a shutdown signal goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope {
    /// rinit's own pid.
    pub own_pid: i32,
    /// true when rinit is PID 1 of its namespace: every process is in scope.
    /// Otherwise only rinit's descendants are.
    pub whole_namespace: bool,
}

/// The processes to signal, from a listing: never rinit itself, never a
/// zombie, never a pid in `exclude`, never a member of a process group in
/// `exclude_groups`. Outside a namespace only descendants, which need every
/// parent link: unknown processes are then left out.
pub fn targets(all: &[Proc], scope: Scope, exclude: &[i32], exclude_groups: &[i32]) -> Vec<Proc> {
    in_scope(all, scope, exclude).filter(|p| !exclude_groups.contains(&p.pgid)).copied().collect()
}

/// The processes that [`targets`] leaves out for their group alone (one in
/// `groups`, which has had its signal already) and that the listing shows
/// stopped: that signal waits for a SIGCONT.
pub fn stopped_in_groups(all: &[Proc], scope: Scope, exclude: &[i32], groups: &[i32]) -> Vec<Proc> {
    if groups.is_empty() {
        return Vec::new();
    }
    in_scope(all, scope, exclude).filter(|p| groups.contains(&p.pgid) && p.is_stopped()).copied().collect()
}

/// Never rinit itself, never a zombie, never a pid in `exclude`; outside a
/// namespace only descendants.
fn in_scope<'a>(all: &'a [Proc], scope: Scope, exclude: &'a [i32]) -> impl Iterator<Item = &'a Proc> {
    let descendants = (!scope.whole_namespace).then(|| descendants(all, scope.own_pid));
    all.iter()
        .filter(move |p| p.pid != scope.own_pid)
        .filter(move |p| descendants.as_ref().is_none_or(|d| d.contains(&p.pid)))
        .filter(|p| !p.is_zombie())
        .filter(|p| !exclude.contains(&p.pid))
}

/// Every pid below `root` in the parent links.
///
/// A listing is not atomic: a process read with parent P, whose P then
/// exits and whose pid a new descendant takes, would look like that
/// descendant's child. A child never starts before its parent (an orphan is
/// adopted by an ancestor, which started earlier still), so a link to a
/// parent that started later is such a stale one, and is not followed.
pub fn descendants(all: &[Proc], root: i32) -> PidSet<i32> {
    let known = || all.iter().filter(|p| p.known);
    let started: PidMap<i32, u64> = known().map(|p| (p.pid, p.start)).collect();
    let mut children: PidMap<i32, Vec<i32>> = PidMap::default();
    for p in known() {
        if started.get(&p.ppid).is_none_or(|&parent| parent <= p.start) {
            children.entry(p.ppid).or_default().push(p.pid);
        }
    }
    let mut found = PidSet::default();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        for &child in children.get(&pid).map_or(&[][..], Vec::as_slice) {
            // A pid seen twice would mean a cycle in a racy listing; skip it.
            if child != root && found.insert(child) {
                todo.push(child);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, ppid: i32, pgid: i32, name: &str) -> Proc {
        Proc { pid, ppid, pgid, name: Name::new(name.as_bytes()), state: b'S', start: 0, threads: 1, known: true }
    }

    fn stat_line(pid: i32, name: &[u8], state: char, ppid: i32, flags: u64) -> Vec<u8> {
        let mut line = format!("{pid} (").into_bytes();
        line.extend_from_slice(name);
        line.extend_from_slice(
            format!(") {state} {ppid} {pid} {pid} 0 -1 {flags} 100 0 0 0 5 6 0 0 20 0 1 0 4242 1000 200 18446744073709551615\n")
                .as_bytes(),
        );
        line
    }

    #[test]
    fn parses_stat_lines_even_with_odd_names() {
        let (got, kthread) = parse_stat(&stat_line(42, b"my (odd) name", 'S', 1, 4194560)).unwrap();
        assert_eq!((got.pid, got.ppid, got.pgid, got.state, got.start), (42, 1, 42, b'S', 4242));
        assert_eq!(got.name.as_bytes(), b"my (odd) name");
        assert!(!kthread);
        let (z, _) = parse_stat(&stat_line(7, b"sh", 'Z', 1, 0)).unwrap();
        assert_eq!(z.state, b'Z');
        assert_eq!(parse_stat(b"garbage"), None);
        assert_eq!(parse_stat(b"1 (x) S"), None);
        assert_eq!(parse_stat(b""), None);
    }

    #[test]
    fn names_that_are_not_utf8_parse_and_print_escaped() {
        let (got, _) = parse_stat(&stat_line(9, b"\xffsl\xfep", 'S', 1, 0)).unwrap();
        assert_eq!(got.name.as_bytes(), b"\xffsl\xfep");
        assert_eq!(got.name.to_string(), "\\xffsl\\xfep");
    }

    #[test]
    fn names_cannot_forge_log_lines() {
        // Issue 19 item 6: a process wrote "x\n[rinit] all ok" to its comm,
        // which the kernel keeps as its first 15 bytes.
        let name = Name::new(b"x\n[rinit] all o");
        assert_eq!(name.to_string(), "x\\n[rinit] all o");
    }

    #[test]
    fn the_ending_comes_from_the_far_end_of_the_line() {
        // The 52 fields of Linux 3.5 on, with `signal` (31) and `exit_code`
        // (52) set; a name with parentheses and spaces.
        let mut fields = vec!["0".to_string(); 50];
        fields[0] = "Z".into();
        fields[28] = (1u64 << 8).to_string();
        fields[49] = "9".into();
        let line = format!("7 (a) b) {}\n", fields.join(" "));
        let (got, ending) = parse_stat_ending(line.as_bytes()).unwrap();
        assert_eq!((got.pid, got.state, got.name.as_bytes()), (7, b'Z', &b"a) b"[..]));
        assert_eq!(ending, Ending { pending: 1 << 8, exit_code: 9 });
        assert_eq!(parse_stat(line.as_bytes()).map(|(p, _)| p), Some(got));
        // A shorter line (an older kernel): nothing pending, no exit yet.
        let (_, ending) = parse_stat_ending(&stat_line(8, b"sh", 'S', 1, 0)).unwrap();
        assert_eq!(ending, Ending::default());
        assert_eq!(parse_stat_ending(b"1 (x) S"), None);
    }

    #[test]
    fn kernel_threads_are_recognised() {
        let (_, kthread) = parse_stat(&stat_line(2, b"kthreadd", 'S', 0, 0x208040)).unwrap();
        assert!(kthread);
    }

    #[test]
    fn long_names_are_cut_to_the_kernels_length() {
        assert_eq!(Name::new(b"0123456789abcdefXYZ").as_bytes(), b"0123456789abcdef");
    }

    #[test]
    fn a_process_is_shown_by_name_or_said_to_have_none_read() {
        assert_eq!(p(7, 1, 7, "a\nb").shown().to_string(), "pid 7 'a\\nb'");
        assert_eq!(unknown_for_test(8).shown().to_string(), "pid 8 (name unknown)");
    }

    fn unknown_for_test(pid: i32) -> Proc {
        Proc { known: false, ..p(pid, 0, pid, "?") }
    }

    #[test]
    fn whole_namespace_is_everyone_but_rinit_and_the_excluded() {
        let all = vec![p(1, 0, 1, "rinit"), p(2, 1, 2, "prog"), p(3, 2, 2, "job"), p(4, 0, 4, "exec'd")];
        let scope = Scope { own_pid: 1, whole_namespace: true };
        let pids = |v: Vec<Proc>| v.into_iter().map(|p| p.pid).collect::<Vec<_>>();
        assert_eq!(pids(targets(&all, scope, &[], &[])), vec![2, 3, 4]);
        assert_eq!(pids(targets(&all, scope, &[2], &[])), vec![3, 4]);
        assert_eq!(pids(targets(&all, scope, &[2], &[2])), vec![4]);
    }

    #[test]
    fn the_stopped_of_a_group_left_out_are_found_and_no_one_else() {
        let state = |state, proc: Proc| Proc { state, ..proc };
        let all = vec![
            p(1, 0, 1, "rinit"),
            state(b'T', p(2, 1, 2, "prog")),
            state(b'T', p(3, 2, 2, "stopped")),
            state(b't', p(4, 2, 2, "traced")),
            p(5, 2, 2, "running"),
            state(b'Z', p(6, 2, 2, "zombie")),
            Proc { known: false, ..p(7, 0, 2, "?") },
            state(b'T', p(8, 1, 8, "other group")),
        ];
        let scope = Scope { own_pid: 1, whole_namespace: true };
        let pids = |v: Vec<Proc>| v.into_iter().map(|p| p.pid).collect::<Vec<_>>();
        // The living program (excluded) never; a stopped process of another
        // group is a target, continued with its own SIGTERM.
        assert_eq!(pids(stopped_in_groups(&all, scope, &[2], &[2])), vec![3, 4, 7]);
        assert_eq!(pids(stopped_in_groups(&all, scope, &[], &[2])), vec![2, 3, 4, 7]);
        assert_eq!(pids(stopped_in_groups(&all, scope, &[2], &[])), Vec::<i32>::new());
        assert_eq!(pids(targets(&all, scope, &[2], &[2])), vec![8]);
        // Outside a namespace, descendants only (7's parent link is unknown).
        let sub = Scope { own_pid: 1, whole_namespace: false };
        assert_eq!(pids(stopped_in_groups(&all, sub, &[2], &[2])), vec![3, 4]);
    }

    #[test]
    fn a_stranger_whose_parents_pid_a_descendant_took_is_not_a_descendant() {
        // The stranger (300) was listed with parent 250; 250 exited and a
        // new child of the program took its pid, later in the same listing.
        let at = |pid, ppid, start| Proc { start, ..p(pid, ppid, pid, "x") };
        let all = vec![at(100, 1, 5), at(101, 100, 6), at(300, 250, 10), at(250, 101, 20), at(251, 250, 21)];
        let mut got: Vec<i32> = descendants(&all, 100).into_iter().collect();
        got.sort_unstable();
        assert_eq!(got, vec![101, 250, 251], "the stranger 300 started before its 'parent'");
    }

    #[test]
    fn outside_a_namespace_only_descendants() {
        let all = vec![
            p(1, 0, 1, "init"),
            p(50, 1, 50, "shell"),
            p(100, 50, 100, "rinit"),
            p(101, 100, 101, "prog"),
            p(102, 101, 101, "child"),
            p(103, 102, 103, "grandchild"),
            p(200, 1, 200, "stranger"),
            p(201, 200, 200, "stranger-child"),
        ];
        let scope = Scope { own_pid: 100, whole_namespace: false };
        let mut got: Vec<i32> = targets(&all, scope, &[], &[]).into_iter().map(|p| p.pid).collect();
        got.sort_unstable();
        assert_eq!(got, vec![101, 102, 103]);
        let got: Vec<i32> = targets(&all, scope, &[101], &[101]).into_iter().map(|p| p.pid).collect();
        assert_eq!(got, vec![103]);
    }

    #[test]
    fn unknown_processes_are_targets_only_in_a_whole_namespace() {
        let mut all = vec![p(1, 0, 1, "rinit"), p(2, 1, 2, "prog")];
        all.push(Proc { known: false, ..p(3, 0, 3, "?") });
        let whole = Scope { own_pid: 1, whole_namespace: true };
        assert_eq!(targets(&all, whole, &[], &[]).len(), 2);
        let sub = Scope { own_pid: 1, whole_namespace: false };
        let got: Vec<i32> = targets(&all, sub, &[], &[]).into_iter().map(|p| p.pid).collect();
        assert_eq!(got, vec![2], "an unknown parent link is no proof of descent");
    }

    #[test]
    fn a_process_living_on_past_its_leader_is_no_zombie() {
        // `pthread_exit` in main: /proc shows the leader's Z, and field 20
        // counts it and the thread still running.
        let line = stat_line(7, b"zl", 'Z', 1, 0);
        let (dead, _) = parse_stat(&line).unwrap();
        assert_eq!((dead.state, dead.threads), (b'Z', 1));
        assert!(dead.is_zombie() && !dead.is_stopped());
        let text = String::from_utf8(line).unwrap().replacen(" 20 0 1 0 4242 ", " 20 0 2 0 4242 ", 1);
        let (living, _) = parse_stat(text.as_bytes()).unwrap();
        assert_eq!((living.threads, living.start), (2, 4242));
        assert!(!living.is_zombie(), "its other thread runs on");
        assert!(living.is_stopped(), "in doubt: the state is the exited leader's");
        assert!(dead.lives_on_as(&living) && !living.lives_on_as(&dead));
        let all = [p(1, 0, 1, "rinit"), living, dead];
        let whole = Scope { own_pid: 1, whole_namespace: true };
        let got: Vec<i32> = targets(&all, whole, &[], &[]).into_iter().map(|p| p.pid).collect();
        assert_eq!(got, [7], "the living one is a target, the zombie is not");
    }

    #[test]
    fn zombies_and_cycles_are_harmless() {
        let mut all = vec![p(10, 5, 10, "rinit"), p(11, 10, 11, "a"), p(12, 11, 12, "b"), p(13, 12, 13, "c")];
        all[2].state = b'Z';
        // A racy listing where a pid appears to be its own ancestor.
        all.push(p(11, 13, 11, "a-again"));
        let scope = Scope { own_pid: 10, whole_namespace: false };
        let got: Vec<i32> = targets(&all, scope, &[], &[]).into_iter().map(|p| p.pid).collect();
        assert!(got.contains(&11) && got.contains(&13) && !got.contains(&12) && !got.contains(&10));
    }

    #[test]
    fn reads_this_machines_proc() {
        let me = std::process::id() as i32;
        let mut dir = ProcDir::open(Path::new("/proc")).unwrap();
        let mut listing = Listing::default();
        dir.list(&mut listing).unwrap();
        assert!(listing.complete);
        assert!(listing.procs.iter().any(|p| p.pid == me && p.known));
        // Listing again (the directory rewinds) finds the same process.
        dir.list(&mut listing).unwrap();
        assert!(listing.procs.iter().any(|p| p.pid == me));
        assert_ne!(dir.stat(me).unwrap().name.as_bytes(), b"?");
        assert!(dir.stat(-5).is_none());
        assert!(ProcDir::open(Path::new("/nonexistent")).is_err());
    }

    #[test]
    fn a_listing_spread_over_many_calls_finds_what_one_listing_finds() {
        // Children that outlive both listings, so that both see them.
        let kids: Vec<std::process::Child> =
            (0..50).map(|_| std::process::Command::new("sleep").arg("100").spawn().unwrap()).collect();
        let mut dir = ProcDir::open(Path::new("/proc")).unwrap();
        let mut whole = Listing::default();
        dir.list(&mut whole).unwrap();
        // A time limit already past: one pid a call, each going on from the
        // offset the last one returned.
        let mut spread = Listing { complete: true, ..Listing::default() };
        let (mut at, mut calls) = (0, 0);
        while let Some(next) = dir.list_on(&mut spread, at, Some(Instant::now())).unwrap() {
            at = next;
            calls += 1;
        }
        let pids = |l: &Listing| l.procs.iter().map(|p| p.pid).collect::<HashSet<_>>();
        for kid in &kids {
            let pid = kid.id() as i32;
            assert!(pids(&whole).contains(&pid) && pids(&spread).contains(&pid), "pid {pid}");
        }
        assert!(calls + 1 >= spread.procs.len(), "{calls} calls for {} processes", spread.procs.len());
        let mut sorted: Vec<i32> = spread.procs.iter().map(|p| p.pid).collect();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), spread.procs.len(), "no pid listed twice");
        for mut kid in kids {
            kid.kill().unwrap();
            kid.wait().unwrap();
        }
    }

    #[test]
    fn a_pid_taken_over_by_another_process_is_not_signalled() {
        // A child that waits for a signal; the listing said it started at
        // another time, as a process that had its pid before would have.
        let mut child = std::process::Command::new("sleep").arg("1000").spawn().unwrap();
        let pid = child.id() as i32;
        let dir = ProcDir::open(Path::new("/proc")).unwrap();
        let now = dir.stat(pid).unwrap();
        let earlier = Proc { start: now.start.wrapping_sub(1), ..now };
        let err = dir.signal_exact(&earlier, libc::SIGTERM).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
        assert!(child.try_wait().unwrap().is_none(), "the other process was hit");
        // The right start time reaches it.
        dir.signal_exact(&now, libc::SIGTERM).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGTERM));
    }

    #[test]
    fn a_child_killed_and_unreaped_shows_its_exit_status() {
        let mut child = std::process::Command::new("sleep").arg("1000").spawn().unwrap();
        let pid = child.id() as i32;
        let dir = ProcDir::open(Path::new("/proc")).unwrap();
        assert_eq!(dir.stat_ending(pid).unwrap().1, Ending::default());
        child.kill().unwrap();
        // Unreaped, it stays a zombie with its wait status in `exit_code`.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while dir.stat(pid).unwrap().state != b'Z' {
            assert!(std::time::Instant::now() < deadline, "no zombie");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let (_, ending) = dir.stat_ending(pid).unwrap();
        assert_eq!(ending.exit_code & 0x7f, libc::SIGKILL as u32);
        child.wait().unwrap();
    }

    #[test]
    fn own_namespace_check() {
        let me = std::process::id() as i32;
        let dir = ProcDir::open(Path::new("/proc")).unwrap();
        assert!(dir.shows_own_namespace(me));
        assert!(!dir.shows_own_namespace(me + 1));
    }
}
