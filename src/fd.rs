//! Descriptors from raw system calls.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The descriptor a raw `libc::syscall` returned, owned (closed on drop), or
/// the call's error. `syscall` returns a `c_long`: i64 on 64-bit targets,
/// i32 on 32-bit ones; it is converted through the `RawFd` alias, so that
/// the conversion that does nothing on i686 is no `useless_conversion`
/// there.
pub fn from_syscall(ret: libc::c_long) -> io::Result<OwnedFd> {
    match RawFd::try_from(ret) {
        // SAFETY: the kernel just made this descriptor; nothing else owns it.
        Ok(fd) if fd >= 0 => Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
        _ => Err(io::Error::last_os_error()),
    }
}
