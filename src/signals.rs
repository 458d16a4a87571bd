//! Signals: names and numbers, the `-r` rewrite map, blocking, and receiving
//! them synchronously.
//!
//! The naming half is pure. The other half is the only place that touches the
//! signal mask: rinit never installs a handler, it blocks everything it can and
//! takes signals one at a time with `sigtimedwait`, so no asynchronous code
//! ever runs inside PID 1.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// The highest signal number on Linux (`SIGRTMAX` as the kernel sees it).
pub const MAX_SIGNAL: i32 = 64;

/// `SIGRTMIN` as users see it in `kill -l`, procps and glibc. musl's own
/// `SIGRTMIN()` says 35, so the number is fixed here instead of asked for:
/// `RTMIN+3` must mean the same signal to rinit as to the shell that sends it.
pub const RTMIN: i32 = 34;

/// Signals the kernel raises in the thread that faulted. Blocking them would
/// turn a fault in rinit into an endless loop (or an immediate kill), so they
/// stay unblocked, as rinit(1) START says.
pub const SYNCHRONOUS: [i32; 7] = [
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGABRT,
    libc::SIGTRAP,
    libc::SIGSYS,
];

/// Standard signals that `signal_hook`'s name table does not list.
const EXTRA_NAMES: [(i32, &str); 2] = [(libc::SIGSTKFLT, "SIGSTKFLT"), (libc::SIGPWR, "SIGPWR")];

/// The conventional name of a standard signal, e.g. `SIGTERM`.
fn standard_name(sig: i32) -> Option<&'static str> {
    signal_hook::low_level::signal_name(sig).or_else(|| {
        EXTRA_NAMES
            .iter()
            .find(|(n, _)| *n == sig)
            .map(|(_, name)| *name)
    })
}

/// A printable name: `SIGTERM`, `SIGRTMIN+3`, `SIGRTMAX`, or the number for
/// the two real-time signals below RTMIN that the C libraries keep for
/// themselves.
pub fn name(sig: i32) -> String {
    if let Some(n) = standard_name(sig) {
        return n.to_string();
    }
    match sig {
        MAX_SIGNAL => "SIGRTMAX".to_string(),
        RTMIN => "SIGRTMIN".to_string(),
        s if (RTMIN + 1..MAX_SIGNAL).contains(&s) => format!("SIGRTMIN+{}", s - RTMIN),
        s => s.to_string(),
    }
}

/// Parses a signal as users write it: `TERM`, `sigterm`, `SIGTERM`, `15`,
/// `RTMIN`, `RTMIN+3`, `SIGRTMAX-2`. Returns a number in 1..=64.
pub fn parse(text: &str) -> Result<i32, String> {
    let bad = || {
        format!(
            "{} is not a signal (use a name such as TERM or SIGUSR1, a number 1-{MAX_SIGNAL}, or RTMIN+N)",
            crate::escape::Quoted(text.as_bytes())
        )
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("a signal name or number is required".to_string());
    }
    if trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return match trimmed.parse::<i32>() {
            Ok(n) if (1..=MAX_SIGNAL).contains(&n) => Ok(n),
            _ => Err(bad()),
        };
    }
    let upper = trimmed.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(sig) = parse_realtime(bare) {
        return sig.ok_or_else(bad);
    }
    (1..32)
        .find(|&n| standard_name(n).is_some_and(|full| full.get(3..) == Some(bare)))
        .ok_or_else(bad)
}

/// `RTMIN`, `RTMIN+N`, `RTMAX`, `RTMAX-N`: `None` when the text is not of
/// that shape, `Some(None)` when it is but falls outside RTMIN..=RTMAX.
fn parse_realtime(bare: &str) -> Option<Option<i32>> {
    let (base, rest, sign) = if let Some(rest) = bare.strip_prefix("RTMIN") {
        (RTMIN, rest, 1)
    } else if let Some(rest) = bare.strip_prefix("RTMAX") {
        (MAX_SIGNAL, rest, -1)
    } else {
        return None;
    };
    let offset = if rest.is_empty() {
        0
    } else {
        let digits = match sign {
            1 => rest.strip_prefix('+'),
            _ => rest.strip_prefix('-'),
        };
        match digits {
            Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => {
                match d.parse::<i32>() {
                    Ok(n) => n,
                    Err(_) => return Some(None),
                }
            }
            _ => return Some(None),
        }
    };
    // `RTMIN+2147483647` must be an error, not an overflow.
    let Some(sig) = base.checked_add(sign * offset) else {
        return Some(None);
    };
    Some((RTMIN..=MAX_SIGNAL).contains(&sig).then_some(sig))
}

/// The `-r FROM:TO` table: what a received signal is forwarded as.
/// `TO` = 0 drops the signal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RewriteMap {
    rules: Vec<(i32, i32)>,
}

impl RewriteMap {
    /// Adds a rule; a later rule for the same signal replaces an earlier one,
    /// as a later option overrides an earlier one.
    pub fn insert(&mut self, from: i32, to: i32) {
        self.rules.retain(|(f, _)| *f != from);
        self.rules.push((from, to));
    }

    /// What to forward for a received signal, or `None` when it is dropped.
    pub fn apply(&self, sig: i32) -> Option<i32> {
        let to = self
            .rules
            .iter()
            .find(|(from, _)| *from == sig)
            .map_or(sig, |(_, to)| *to);
        (to != 0).then_some(to)
    }

    pub fn rules(&self) -> &[(i32, i32)] {
        &self.rules
    }
}

/// A raw signal set covering all 64 Linux signals. The C libraries refuse to
/// put their private real-time signals (32–34) into a `sigset_t`, and musl
/// strips them from the old mask it reports; rinit talks to the kernel
/// directly so that the mask it restores for the program is exactly the one
/// it inherited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mask(pub u64);

impl Mask {
    /// Every signal that can be blocked, less the synchronous ones.
    pub fn blockable() -> Mask {
        let mut bits = u64::MAX;
        for sig in SYNCHRONOUS
            .iter()
            .chain(&[libc::SIGKILL, libc::SIGSTOP])
        {
            bits &= !bit(*sig);
        }
        Mask(bits)
    }

    /// This set less `sig`.
    pub fn without(self, sig: i32) -> Mask {
        if (1..=MAX_SIGNAL).contains(&sig) { Mask(self.0 & !bit(sig)) } else { self }
    }

    pub fn contains(self, sig: i32) -> bool {
        (1..=MAX_SIGNAL).contains(&sig) && self.0 & bit(sig) != 0
    }

    pub(crate) fn as_sigset(self) -> libc::sigset_t {
        // SAFETY: sigset_t is plain data; an all-zero value is an empty set.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: on Linux the first 8 bytes of sigset_t hold signals 1..=64,
        // bit n-1 for signal n, which is the layout the kernel reads.
        unsafe { std::ptr::write_unaligned((&raw mut set).cast::<u64>(), self.0) };
        set
    }
}

fn bit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

/// `rt_sigprocmask` without the C library in between (see [`Mask`]).
fn sigprocmask(how: libc::c_int, set: Option<Mask>) -> io::Result<Mask> {
    let new = set.map(Mask::as_sigset);
    let new_ptr = new
        .as_ref()
        .map_or(std::ptr::null(), |s| s as *const libc::sigset_t);
    let mut old: u64 = 0;
    // SAFETY: both pointers are valid for 8 bytes, the size passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            how,
            new_ptr,
            &raw mut old,
            std::mem::size_of::<u64>(),
        )
    };
    if rc == 0 {
        Ok(Mask(old))
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Blocks every blockable signal and returns the mask rinit inherited, to be
/// restored in the program.
pub fn block_all() -> io::Result<Mask> {
    sigprocmask(libc::SIG_BLOCK, Some(Mask::blockable()))
}

/// The signal state rinit inherited and hands on to the program unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inherited {
    pub mask: Mask,
    /// The parent left SIGCHLD at SIG_IGN.
    pub sigchld_ignored: bool,
}

/// Takes over the signals: blocks every blockable one, and puts SIGCHLD back
/// to SIG_DFL if the parent left it ignored. With SIGCHLD at SIG_IGN the
/// kernel reaps children by itself and throws their exit statuses away, so
/// rinit would never learn the program's and could never exit with it.
pub fn take_over() -> io::Result<Inherited> {
    let mask = block_all()?;
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: SIG_DFL installs no handler, so nothing can run asynchronously.
    let old = unsafe { sigaction(Signal::SIGCHLD, &default) }.map_err(io::Error::from)?;
    Ok(Inherited { mask, sigchld_ignored: matches!(old.handler(), SigHandler::SigIgn) })
}

/// Blocks SIGPIPE and SIGXFSZ, for a message rinit writes before it has
/// blocked every signal (a usage error, `--help`, the stack's) or in the
/// child once the program's mask is back ("cannot run"): a stderr
/// pipe with no reader, or a file at RLIMIT_FSIZE, killed rinit with the
/// signal instead of letting it exit with its status (a review: 141 and
/// 153 for a usage error). Blocked, the write fails and rinit goes on to
/// exit. An 8-byte set on the stack: the stack's message may have little.
#[inline(never)]
pub fn block_write_signals() {
    let set: u64 = (1 << (libc::SIGPIPE - 1)) | (1 << (libc::SIGXFSZ - 1));
    // SAFETY: the set is valid for the 8 bytes passed; no old set asked.
    unsafe { libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_BLOCK, &raw const set, std::ptr::null_mut::<u64>(), 8usize) };
}

/// Gives the program the signal state rinit inherited. Called in the forked
/// child just before exec.
pub fn hand_back(inherited: Inherited) -> io::Result<()> {
    if inherited.sigchld_ignored {
        let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        // SAFETY: SIG_IGN installs no handler.
        unsafe { sigaction(Signal::SIGCHLD, &ignore) }.map_err(io::Error::from)?;
    }
    set_mask(inherited.mask)
}

/// Puts back a mask returned by [`block_all`]. Called in the forked child
/// just before exec, so it must not allocate.
pub fn set_mask(mask: Mask) -> io::Result<()> {
    sigprocmask(libc::SIG_SETMASK, Some(mask)).map(|_| ())
}

/// Waits for one of the blocked signals. `None` timeout sleeps until a signal
/// comes (idle rinit never wakes up by itself); `Ok(None)` means the timeout
/// passed or the wait was interrupted, and the caller simply loops. Gives
/// the signal, its code and its sender, as a signalfd record does.
pub fn wait(listen: Mask, timeout: Option<Duration>) -> io::Result<Option<(i32, i32, i32)>> {
    let set = listen.as_sigset();
    let ts = timeout.map(|t| libc::timespec {
        // Both fields are 64-bit on x86_64 Linux; durations here are at
        // most a year (the grace limit), far inside the range.
        tv_sec: t.as_secs().min(i64::MAX as u64) as _,
        tv_nsec: t.subsec_nanos() as _,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: siginfo_t is plain data; all-zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set`, `info` and `ts` live across the call. sigtimedwait
    // with a null timeout waits forever.
    let sig = unsafe { libc::sigtimedwait(&set, &mut info, ts_ptr) };
    if sig > 0 {
        // SAFETY: for a signal sent by a process, si_pid is the sender.
        return Ok(Some((sig, info.si_code, unsafe { info.si_pid() })));
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(None),
        _ => Err(err),
    }
}

/// Whether a received signal was raised by the kernel at rinit for a call
/// of rinit's own: SIGPIPE for a write to a pipe nobody reads any more (its
/// stderr, once the log reader has gone), SIGXFSZ for a write past
/// RLIMIT_FSIZE (its stderr a file at the limit). The kernel sends those as
/// from rinit itself (SI_USER, rinit's pid). They are no signals for the
/// program, whose default action for either is to die, and forwarding them
/// while each forward's log line raises another kept PID 1 busy for ever.
/// rinit's own signal to itself (`send_self`) is queued (SI_QUEUE) instead.
/// `own_pid` is rinit's pid, asked for once: a getpid per received signal
/// would be a system call on the path of every forwarded one.
pub fn raised_by_own_call(code: i32, sender: i32, own_pid: i32) -> bool {
    code == libc::SI_USER && sender == own_pid
}

/// Sends `sig` to rinit itself, as queued (SI_QUEUE), so that the loop
/// passes it on as any signal received (`raised_by_own_call` drops only
/// SI_USER ones from rinit).
pub fn send_self(sig: i32) -> io::Result<()> {
    // SAFETY: siginfo_t is plain data; the kernel reads signo, code, pid, uid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    info.si_signo = sig;
    info.si_code = libc::SI_QUEUE;
    let pid = nix::unistd::getpid().as_raw();
    // SAFETY: rt_sigqueueinfo takes a pid, a signal and a valid siginfo.
    if unsafe { libc::syscall(libc::SYS_rt_sigqueueinfo, pid, sig, &raw const info) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Lets the kernel reap rinit's children as they exit (SA_NOCLDWAIT),
/// each in its own exit path rather than one by one in rinit's `wait4`.
/// SIGCHLD stays at SIG_DFL, so it still comes through the signal queue (at
/// SIG_IGN it would not, and nothing would wake rinit). Their exit statuses
/// are lost: only for the shutdown's last phase, once the program's status
/// is known and nobody asked to see each reap (-w).
pub fn reap_automatically() -> io::Result<()> {
    let act = SigAction::new(SigHandler::SigDfl, SaFlags::SA_NOCLDWAIT, SigSet::empty());
    // SAFETY: SIG_DFL installs no handler, so nothing can run asynchronously.
    unsafe { sigaction(Signal::SIGCHLD, &act) }.map(|_| ()).map_err(io::Error::from)
}

/// `kill(2)` with any signal number, real-time ones included (nix's `Signal`
/// enum has only the standard ones). `pid` < 0 addresses a process group.
pub fn send(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A pidfd for `pid` (pidfd_open, Linux 5.3+): a handle on exactly the
/// process that has this pid now, which a later process reusing the pid can
/// never take over. Errors: ESRCH (gone), ENOSYS (older kernel), EMFILE.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor
    // (close-on-exec by definition) or -1.
    crate::fd::from_syscall(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })
}

/// pidfd_send_signal: `sig` to the process behind `pidfd`, and ESRCH if
/// that process has gone, whoever has its pid now.
pub fn pidfd_send(pidfd: &OwnedFd, sig: i32) -> io::Result<()> {
    // SAFETY: a valid pidfd, a signal number, no siginfo (NULL: as kill
    // would fill it), no flags.
    let rc = unsafe {
        libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), sig, std::ptr::null::<libc::siginfo_t>(), 0)
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_every_spelling() {
        for text in ["TERM", "term", "SIGTERM", "sigterm", "SigTerm", "15", " TERM "] {
            assert_eq!(parse(text), Ok(15), "{text}");
        }
        assert_eq!(parse("KILL"), Ok(9));
        assert_eq!(parse("USR1"), Ok(10));
        assert_eq!(parse("SIGWINCH"), Ok(28));
        assert_eq!(parse("PWR"), Ok(30));
        assert_eq!(parse("stkflt"), Ok(16));
        assert_eq!(parse("CHLD"), Ok(17));
    }

    #[test]
    fn realtime_signals() {
        assert_eq!(parse("RTMIN"), Ok(34));
        assert_eq!(parse("SIGRTMIN+3"), Ok(37));
        assert_eq!(parse("rtmin+30"), Ok(64));
        assert_eq!(parse("RTMAX"), Ok(64));
        assert_eq!(parse("RTMAX-2"), Ok(62));
        assert_eq!(parse("RTMAX-30"), Ok(34));
        for bad in ["RTMIN+31", "RTMAX-31", "RTMIN-1", "RTMAX+1", "RTMIN+", "RTMIN+x", "RTMIN3", "RTMIN+2147483647", "RTMAX-2147483648"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_in_range_only() {
        assert_eq!(parse("1"), Ok(1));
        assert_eq!(parse("64"), Ok(64));
        for bad in ["0", "65", "-1", "999999999999", "+5", "1.5"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_nonsense_with_a_hint() {
        for bad in ["", "SIG", "TERMX", "SIGSIGTERM", "IOT2", "sig term"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let err = parse("FOO").unwrap_err();
        assert!(err.contains("'FOO'") && err.contains("RTMIN+N"), "{err}");
    }

    #[test]
    fn every_signal_has_a_name_that_parses_back() {
        for sig in 1..=MAX_SIGNAL {
            let n = name(sig);
            assert_eq!(parse(&n), Ok(sig), "{sig} -> {n}");
        }
        assert_eq!(name(15), "SIGTERM");
        assert_eq!(name(37), "SIGRTMIN+3");
        assert_eq!(name(64), "SIGRTMAX");
        assert_eq!(name(32), "32");
    }

    #[test]
    fn rewrite_map_rewrites_drops_and_passes_through() {
        let mut map = RewriteMap::default();
        map.insert(15, 3);
        map.insert(10, 0);
        assert_eq!(map.apply(15), Some(3));
        assert_eq!(map.apply(10), None);
        assert_eq!(map.apply(2), Some(2));
        map.insert(15, 2);
        assert_eq!(map.apply(15), Some(2));
        assert_eq!(map.rules().len(), 2);
    }

    #[test]
    fn blockable_mask_leaves_synchronous_and_unblockable_signals() {
        let m = Mask::blockable();
        for sig in SYNCHRONOUS.iter().chain(&[9, 19]) {
            assert!(!m.contains(*sig), "{sig}");
        }
        for sig in [1, 2, 3, 10, 12, 15, 17, 28, 32, 33, 34, 64] {
            assert!(m.contains(sig), "{sig}");
        }
        assert!(!m.contains(0) && !m.contains(65));
    }
}
