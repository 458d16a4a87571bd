//! The kernel's word that a memory cgroup's OOM count may have changed, as a
//! descriptor that `poll` can wait on beside the signals:
//! - v2: `memory.events` signals a change as a file modification, seen
//!   through inotify (IN_MODIFY), and changes on every `max`, `high` and
//!   `low` event too, not only on OOM kills (`oom::book::QUIET`);
//! - v1: an eventfd registered in `cgroup.event_control` for
//!   `memory.oom_control`, signalled when the cgroup (or an ancestor) runs
//!   out of memory. It fires before the OOM killer picks its victim, so the
//!   count is read again shortly after (`oom::book::RECHECKS`).

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// An inotify or eventfd descriptor, non-blocking and close-on-exec.
#[derive(Debug)]
pub(super) struct Notify {
    fd: OwnedFd,
}

impl Notify {
    /// v2: IN_MODIFY on `events` (`memory.events`).
    pub fn inotify(events: &Path) -> Result<Notify, Failed> {
        // SAFETY: plain system call; the result is checked.
        let raw = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        let fd = owned(raw).map_err(|e| Failed::new(format!("inotify_init1: {e}"), &e))?;
        let path = std::ffi::CString::new(events.as_os_str().as_encoded_bytes())
            .map_err(|_| Failed { why: format!("{} has a NUL byte", crate::escape::path(events)), no_descriptor: false })?;
        // SAFETY: `path` is a valid C string, `fd` an inotify descriptor.
        if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), libc::IN_MODIFY) } < 0 {
            let e = std::io::Error::last_os_error();
            return Err(Failed::new(format!("inotify_add_watch {}: {e}", crate::escape::path(events)), &e));
        }
        Ok(Notify { fd })
    }

    /// v1: an eventfd the kernel signals on OOM in `dir`, registered through
    /// `control` (`cgroup.event_control`, opened by the caller before
    /// `oom_control`: oom.rs `close_both`) with the open `memory.oom_control`.
    /// The kernel keeps what it needs: the control file is closed on return.
    pub fn eventfd(dir: &Path, oom_control: &fs::File, control: std::io::Result<fs::File>) -> Result<Notify, Failed> {
        let why = |e: std::io::Error| {
            Failed::new(format!("cannot register for OOM events in {}/cgroup.event_control: {e}", crate::escape::path(dir)), &e)
        };
        let mut control = control.map_err(why)?;
        // SAFETY: plain system call; the result is checked.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        let fd = owned(raw).map_err(|e| Failed::new(format!("eventfd: {e}"), &e))?;
        // "<event fd> <fd of memory.oom_control>", in one write as the
        // kernel wants it, made on the stack.
        let mut line = [0u8; 32];
        let mut w = &mut line[..];
        write!(w, "{} {}", fd.as_raw_fd(), oom_control.as_raw_fd()).map_err(why)?;
        let len = 32 - w.len();
        control.write_all(line.get(..len).unwrap_or_default()).map_err(why)?;
        Ok(Notify { fd })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Reads what the kernel has queued (inotify events or the eventfd's
    /// counter), so that poll sleeps again until the next change; whether
    /// anything was queued.
    pub fn drain(&self) -> bool {
        let mut buf = [0u8; 512];
        let mut queued = false;
        loop {
            // SAFETY: `buf` is valid for its length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return queued;
            }
            queued = true;
        }
    }
}

/// Why the kernel cannot notify, and whether it was for want of a
/// descriptor (then the watch gives up: oom.rs `close_both`).
#[derive(Debug)]
pub(super) struct Failed {
    pub why: String,
    pub no_descriptor: bool,
}

impl Failed {
    fn new(why: String, e: &std::io::Error) -> Failed {
        Failed { why, no_descriptor: super::no_descriptor(e) }
    }
}

fn owned(raw: RawFd) -> std::io::Result<OwnedFd> {
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}
