//! Starting the program (SPEC §3.4): its own process group, the terminal's
//! foreground, the signal mask rinit inherited, and exec errors reported as
//! 127/126 with the program's name.

use std::ffi::{CString, OsString};
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::unistd::{ForkResult, Pid};

use crate::signals::{self, Inherited};
use crate::status;

#[derive(Debug)]
pub enum SpawnError {
    /// An argument holds a NUL byte and cannot be passed to exec.
    Nul(String),
    /// fork() failed, e.g. EAGAIN under a pids limit.
    Fork(Errno),
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnError::Nul(arg) => write!(f, "argument '{arg}' contains a NUL byte"),
            SpawnError::Fork(e) => write!(
                f,
                "cannot start the program: fork failed: {} (is a process limit such as pids.max or ulimit -u reached?)",
                e.desc()
            ),
        }
    }
}

/// The exit status and message for an exec failure.
pub fn exec_failure(program: &str, err: Errno) -> (i32, String) {
    let code = if err == Errno::ENOENT {
        status::NOT_FOUND
    } else {
        status::NOT_EXECUTABLE
    };
    (code, format!("rinit: cannot run '{program}': {}\n", err.desc()))
}

/// Forks and execs the program; returns its pid. Exec failures happen in the
/// child, which reports them and exits 127 or 126, so they reach the caller
/// as the program's exit status like any other.
pub fn spawn(argv: &[OsString], inherited: Inherited) -> Result<Pid, SpawnError> {
    // Everything the child needs is allocated before the fork.
    let args: Vec<CString> = argv
        .iter()
        .map(|a| {
            CString::new(a.as_bytes()).map_err(|_| SpawnError::Nul(a.to_string_lossy().into_owned()))
        })
        .collect::<Result<_, _>>()?;
    let Some(file) = args.first() else {
        return Err(SpawnError::Nul(String::new()));
    };
    let name = file.to_string_lossy().into_owned();
    // rinit's own process group, before the child leaves it.
    let own_group = nix::unistd::getpgrp();

    // SAFETY: rinit is single-threaded, so the child may run any code; it
    // only makes system calls and then execs or exits.
    match unsafe { nix::unistd::fork() } {
        Err(e) => Err(SpawnError::Fork(e)),
        Ok(ForkResult::Parent { child }) => {
            // Also set the group from the parent, so that a signal forwarded
            // to the group right away cannot beat the child's own setpgid.
            // EACCES (the child has exec'd already) is fine.
            let _ = nix::unistd::setpgid(child, child);
            Ok(child)
        }
        Ok(ForkResult::Child) => {
            let err = in_child(file, &args, inherited, own_group);
            let (code, msg) = exec_failure(&name, err);
            // SAFETY: fd 2 may be closed; write then just fails.
            unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
            // _exit: no atexit handlers or buffered output of rinit's run twice.
            // SAFETY: always safe to call.
            unsafe { libc::_exit(code) }
        }
    }
}

/// The child's half: returns only if exec failed.
fn in_child(file: &CString, args: &[CString], inherited: Inherited, rinit_group: Pid) -> Errno {
    // Own process group: `-g` signals it, and a terminal's ^C goes to it.
    let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    // Give it the terminal's foreground so it can read stdin and gets ^C —
    // but only if the terminal was rinit's: `rinit -- prog &` from an
    // interactive shell must not steal it from the shell's foreground job.
    // SIGTTOU is still blocked here, so the hand-over works from the group
    // the child has just left. No terminal on stdin (ENOTTY), no controlling
    // terminal (ENXIO) or no stdin at all (EBADF) are the normal case in a
    // container.
    // SAFETY: fd 0 is only borrowed for the calls; a closed fd gives EBADF.
    let stdin = unsafe { BorrowedFd::borrow_raw(0) };
    let handed = match nix::unistd::tcgetpgrp(stdin) {
        Ok(foreground) if foreground == rinit_group => nix::unistd::tcsetpgrp(stdin, nix::unistd::getpid()),
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    match handed {
        Ok(()) | Err(Errno::ENOTTY | Errno::ENXIO | Errno::EBADF) => {}
        Err(e) => {
            let msg = format!("[rinit] cannot give the terminal to the program: {}\n", e.desc());
            // SAFETY: plain write to stderr.
            unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
        }
    }
    // The mask (and an ignored SIGCHLD) rinit inherited, so the program sees
    // what its parent meant it to. No other disposition needs restoring:
    // rinit changes none (no handler, no SIG_IGN, and no Rust runtime
    // start-up: see main.rs).
    if let Err(e) = signals::hand_back(inherited) {
        return Errno::from_raw(e.raw_os_error().unwrap_or(libc::EINVAL));
    }
    match nix::unistd::execvp(file, args) {
        Err(e) => e,
        Ok(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_failures_map_to_127_and_126() {
        let (code, msg) = exec_failure("nope", Errno::ENOENT);
        assert_eq!(code, 127);
        assert_eq!(msg, "rinit: cannot run 'nope': No such file or directory\n");
        let (code, msg) = exec_failure("/etc/passwd", Errno::EACCES);
        assert_eq!(code, 126);
        assert!(msg.contains("'/etc/passwd'") && msg.contains("Permission denied"), "{msg}");
        assert_eq!(exec_failure("x", Errno::ENOEXEC).0, 126);
    }
}
