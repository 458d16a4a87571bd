//! Where the running loop sleeps: until a signal comes, the OOM watch's
//! descriptor turns readable, or a timeout passes, all in one place.
//!
//! Signals are read from a signalfd: no handler ever runs in PID 1 (the
//! signals stay blocked, as with `sigtimedwait`). Idle rinit sleeps in one
//! blocking `read` of it with no timeout, so it never wakes by itself, and a
//! signal to forward takes the shortest way there is (catatonit's). The OOM
//! watch's descriptor is watched by the doorbell's thread (`doorbell`), which
//! rings with a signal; where that thread cannot run, and whenever a timeout
//! is due, rinit waits in `ppoll` on the signalfd (and the descriptor, if
//! the thread does not watch it). When no descriptor is left for the
//! signalfd (a very low RLIMIT_NOFILE), rinit waits with `sigtimedwait` and
//! without the OOM watch.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use log::debug;

use crate::doorbell::Doorbell;
use crate::signals::{self, Mask};

/// What ended a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    Signal(i32),
    /// The watched descriptor is readable.
    Descriptor,
    /// The timeout passed, or the wait was interrupted.
    Nothing,
}

pub struct Waiter {
    /// The blocked signals as a descriptor; None: `sigtimedwait`.
    signalfd: Option<OwnedFd>,
    /// The signals that end a wait (the others stay pending).
    listen: Mask,
    /// Signals read from the signalfd and not handed out yet: one read
    /// takes every pending one, and `wait` hands them out one per call.
    queued: VecDeque<i32>,
    /// Room for the records one read takes (8), on the heap: PID 1 may run
    /// under a stack limit of 16 KiB.
    buf: Vec<libc::signalfd_siginfo>,
    /// rinit's pid, for `signals::raised_by_own_call`.
    own_pid: i32,
    /// The OOM watch's descriptor's thread, once there is a descriptor.
    bell: Option<Doorbell>,
    /// The doorbell could not be started: `ppoll` watches the descriptor.
    no_bell: bool,
}

impl Waiter {
    /// Call with every signal already blocked (`signals::take_over`);
    /// `own_pid` is rinit's pid.
    pub fn open(own_pid: i32) -> Waiter {
        let listen = Mask::blockable();
        let set = listen.as_sigset();
        // SAFETY: `set` is a valid sigset; -1 asks for a new descriptor.
        // Blocking: the idle sleep is a read. After a ppoll's POLLIN a read
        // cannot block: only this thread dequeues from it.
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) };
        let waiter = |signalfd, queued, buf| Waiter { signalfd, listen, queued, buf, own_pid, bell: None, no_bell: false };
        if fd < 0 {
            debug!("no signalfd ({}): waiting with sigtimedwait, without the OOM watch", io::Error::last_os_error());
            return waiter(None, VecDeque::new(), Vec::new());
        }
        // SAFETY: signalfd_siginfo is plain data; all-zero is a valid value.
        let buf = vec![unsafe { std::mem::zeroed::<libc::signalfd_siginfo>() }; 8];
        // SAFETY: a fresh descriptor that nothing else owns.
        let signalfd = Some(unsafe { OwnedFd::from_raw_fd(fd) });
        waiter(signalfd, VecDeque::with_capacity(8), buf)
    }

    /// From now on `sig` no longer ends a wait: it stays pending, unread.
    /// For SIGCHLD once the kernel reaps rinit's children, when each of
    /// thousands of exits would otherwise wake rinit for nothing.
    pub fn stop_waking_on(&mut self, sig: i32) {
        self.listen = self.listen.without(sig);
        if let Some(sfd) = &self.signalfd {
            let set = self.listen.as_sigset();
            // SAFETY: an existing signalfd takes a new mask in place.
            if unsafe { libc::signalfd(sfd.as_raw_fd(), &set, 0) } < 0 {
                debug!("cannot change the signalfd's mask: {}", io::Error::last_os_error());
            }
        }
    }

    /// Whether `wait` can watch a descriptor besides the signals.
    pub fn can_watch(&self) -> bool {
        self.signalfd.is_some()
    }

    /// Sleeps until a signal, `watch` readable, or `timeout` (None: no
    /// timeout). One signal at a time; the next wait returns at once if
    /// more are pending. A readable `watch` comes first, so that an OOM kill
    /// is accounted for before its victim's SIGCHLD is handled. `watch` is
    /// the OOM watch's descriptor, the same one every time (None while the
    /// watch pauses).
    pub fn wait(&mut self, timeout: Option<Duration>, watch: Option<RawFd>) -> io::Result<Woken> {
        if let Some(woken) = self.hand_out(watch) {
            return Ok(woken);
        }
        let woken = match &self.signalfd {
            None => self.wait_without_signalfd(timeout)?,
            Some(sfd) => {
                let fd = sfd.as_raw_fd();
                match self.bell_for(watch) {
                    // The idle sleep: one blocking read.
                    None if timeout.is_none() => self.read_signals(fd),
                    polled => self.poll(fd, timeout, polled)?,
                }
            }
        };
        // None: signals were read. Only ones rinit drops (or a ring while
        // the watch pauses): Nothing, and the loop looks round.
        Ok(woken.or_else(|| self.hand_out(watch)).unwrap_or(Woken::Nothing))
    }

    /// What was read and not handed out yet: a ring first (if the watch
    /// wants to hear; dropped while it pauses), then the signals in order
    /// (the ring's SIGCHLD among them: a reaping step).
    fn hand_out(&mut self, watch: Option<RawFd>) -> Option<Woken> {
        if self.bell.as_ref().is_some_and(Doorbell::take_ring) && watch.is_some() {
            return Some(Woken::Descriptor);
        }
        self.queued.pop_front().map(Woken::Signal)
    }

    /// The descriptor `ppoll` must watch itself: `watch`, unless the
    /// doorbell's thread watches it (started at the first `watch`; armed
    /// while the watch wants to hear, resting while it pauses).
    fn bell_for(&mut self, watch: Option<RawFd>) -> Option<RawFd> {
        if self.bell.is_none()
            && !self.no_bell
            && let Some(fd) = watch
        {
            self.bell = Doorbell::start(fd, self.own_pid);
            self.no_bell = self.bell.is_none();
        }
        match &self.bell {
            Some(bell) if bell.watching() => {
                if watch.is_some() { bell.arm() } else { bell.rest() }
                None
            }
            Some(bell) => watch.map(|_| bell.fd()),
            None => watch,
        }
    }

    /// `ppoll` on the signalfd and `polled`, with `timeout`; what woke it
    /// (None: signals read, handed out by `wait`).
    fn poll(&mut self, fd: RawFd, timeout: Option<Duration>, polled: Option<RawFd>) -> io::Result<Option<Woken>> {
        let mut fds = [
            libc::pollfd { fd, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: polled.unwrap_or(-1), events: libc::POLLIN, revents: 0 },
        ];
        let ts = timeout.map(|t| libc::timespec {
            // Both fields are 64-bit on x86_64 Linux; durations here are at
            // most a year (the grace limit), far inside the range.
            tv_sec: t.as_secs().min(i64::MAX as u64) as _,
            tv_nsec: t.subsec_nanos() as _,
        });
        let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // Only the descriptors there are: ppoll refuses more than the soft
        // RLIMIT_NOFILE (EINVAL), which a process of rinit's uid can lower.
        let nfds = if polled.is_some() { 2 } else { 1 };
        // SAFETY: `fds` and `ts` live across the call; a null sigmask keeps
        // the mask as it is (everything blocked).
        let n = unsafe { libc::ppoll(fds.as_mut_ptr(), nfds, ts_ptr, std::ptr::null()) };
        if n < 0 {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::EINTR) => Ok(Some(Woken::Nothing)),
                // A soft RLIMIT_NOFILE of 0 (or 1, with the watch): the same
                // signals and timeout through sigtimedwait, which takes no
                // descriptor (the watch is looked at on the next turn).
                Some(libc::EINVAL) => self.wait_without_signalfd(timeout),
                _ => Err(err),
            };
        }
        let [signals, watched] = fds;
        if watched.revents != 0 {
            return Ok(Some(Woken::Descriptor));
        }
        if signals.revents & libc::POLLIN != 0 {
            return Ok(self.read_signals(fd));
        }
        Ok(Some(Woken::Nothing))
    }

    /// Reads every pending signal there is room for in `buf` at once
    /// (blocking until there is one), lowest number first, into `queued`:
    /// a signal above SIGCHLD must not wait behind a SIGCHLD that a flood
    /// of exits raises again during every reaping step. None once something
    /// was read (handed out by `wait`).
    fn read_signals(&mut self, fd: RawFd) -> Option<Woken> {
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // Out of `self` for the read, so that `take` can borrow it (a move).
        let mut buf = std::mem::take(&mut self.buf);
        // SAFETY: `buf` is valid for its length in records of `size` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), std::mem::size_of_val(buf.as_slice())) };
        // EINTR (n < 0): a stop and continue; the kernel hands out whole records.
        let count = usize::try_from(n).map_or(0, |n| n / size);
        for info in buf.iter().take(count) {
            let sig = i32::try_from(info.ssi_signo).unwrap_or(0);
            let sender = i32::try_from(info.ssi_pid).unwrap_or(0);
            self.take(sig, info.ssi_code, sender);
        }
        self.buf = buf;
        (count == 0).then_some(Woken::Nothing)
    }

    /// What a received signal is: one rinit's own write raised (dropped:
    /// `signals::raised_by_own_call`), or one to hand out (`queued`). The
    /// one place both ways of reading signals sort them.
    fn take(&mut self, sig: i32, code: i32, sender: i32) {
        if !signals::raised_by_own_call(code, sender, self.own_pid) {
            self.queued.push_back(sig);
        }
    }

    /// `sigtimedwait`: where there is no signalfd (and so no watch), and
    /// when ppoll cannot be used (a soft RLIMIT_NOFILE of 0). None once a
    /// signal was taken (handed out by `wait`).
    fn wait_without_signalfd(&mut self, timeout: Option<Duration>) -> io::Result<Option<Woken>> {
        // sigtimedwait hands out the lowest pending signal first, and a
        // flood of exits keeps SIGCHLD (17) pending: any other signal is
        // asked for first, without waiting, so that none starves.
        let got = match signals::wait(self.listen.without(libc::SIGCHLD), Some(Duration::ZERO))? {
            Some(got) => Some(got),
            None => signals::wait(self.listen, timeout)?,
        };
        let Some((sig, code, sender)) = got else { return Ok(Some(Woken::Nothing)) };
        self.take(sig, code, sender);
        Ok(None)
    }
}
