//! Starting the program (rinit(1) START): its own process group, the terminal's
//! foreground, the signal mask rinit inherited, and exec errors reported as
//! 127/126 with the program's name.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::unistd::{ForkResult, Pid};

use crate::signals::{self, Inherited};
use crate::status;

#[derive(Debug)]
pub enum SpawnError {
    /// An argument holds a NUL byte and cannot be passed to exec.
    Nul(Vec<u8>),
    /// fork() failed, e.g. EAGAIN under a pids limit.
    Fork(Errno),
    /// pipe2() failed (no descriptor left).
    Pipe(Errno),
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnError::Nul(arg) => write!(f, "argument {} contains a NUL byte", crate::escape::Quoted(arg)),
            SpawnError::Fork(e) => write!(
                f,
                "cannot start the program: fork failed: {} (is a process limit such as pids.max or ulimit -u reached?)",
                e.desc()
            ),
            SpawnError::Pipe(e) => write!(
                f,
                "cannot start the program: pipe failed: {} (is the open-files limit, ulimit -n, too low?)",
                e.desc()
            ),
        }
    }
}

/// The exit status and message for an exec failure. A program name that
/// looks like an option is most often one of rinit's options given after
/// `--` (`docker run IMAGE -v sh` under `ENTRYPOINT ["rinit", "--"]`): the
/// message then says where rinit's options go.
pub fn exec_failure(program: &str, err: Errno) -> (i32, String) {
    let code = if err == Errno::ENOENT {
        status::NOT_FOUND
    } else {
        status::NOT_EXECUTABLE
    };
    let hint = if program.starts_with('-') {
        format!(
            "\nrinit: '{program}' came after '--', so it was taken as the program; rinit's own options go before '--' (rinit [OPTION]... -- PROGRAM [ARG]...) or in RINIT_* variables"
        )
    } else {
        String::new()
    };
    (code, format!("rinit: cannot run '{program}': {}{hint}\n", err.desc()))
}

/// The program, forked; `exec` is there when the caller asked to learn
/// whether its exec succeeded.
pub struct Spawned {
    pub pid: Pid,
    pub exec: Option<ExecWatch>,
}

/// The read end of a close-on-exec pipe whose write end only the child
/// holds: a successful exec closes it (EOF, nothing read); a failed exec
/// writes one byte before the child exits. The classic way for a parent to
/// tell "running" from "could not run" without waiting for the child.
pub struct ExecWatch(OwnedFd);

impl ExecWatch {
    /// Blocks until the child has exec'd (true) or has failed to (false).
    /// An unreadable pipe counts as exec'd: the caller then only warns more.
    pub fn program_started(self) -> bool {
        let mut byte = 0u8;
        loop {
            // SAFETY: reads at most one byte into `byte`.
            let n = unsafe { libc::read(self.0.as_raw_fd(), (&raw mut byte).cast(), 1) };
            if n >= 0 {
                return n == 0;
            }
            if Errno::last() != Errno::EINTR {
                return true;
            }
        }
    }
}

/// What the program gets besides its arguments.
#[derive(Clone, Copy, Debug)]
pub struct Start {
    pub inherited: Inherited,
    /// Give the caller an [`ExecWatch`].
    pub watch_exec: bool,
    /// `-g`: signals go to the program's group, which must then exist as
    /// soon as `spawn` returns.
    pub process_group: bool,
    /// Socket activation: set `LISTEN_PID` to the program's own pid.
    pub listen_pid: bool,
    /// The stack limit rinit was given, if it raised its own
    /// (rinit(1) LIMITS): the program gets it back.
    pub stack: Option<crate::stack::Original>,
}

/// Forks and execs the program. Exec failures happen in the child, which
/// reports them and exits 127 or 126, so they reach the caller as the
/// program's exit status like any other. With `watch_exec` the caller also
/// gets an [`ExecWatch`] (one pipe more before the fork; rinit asks for it
/// only when it has something to say once the program runs).
pub fn spawn(argv: &[OsString], start: Start) -> Result<Spawned, SpawnError> {
    let Start { inherited, watch_exec, process_group, listen_pid, stack } = start;
    // Everything the child needs is allocated before the fork.
    let args: Vec<CString> = argv
        .iter()
        .map(|a| {
            CString::new(a.as_bytes()).map_err(|_| SpawnError::Nul(a.as_bytes().to_vec()))
        })
        .collect::<Result<_, _>>()?;
    let Some(file) = args.first() else {
        return Err(SpawnError::Nul(Vec::new()));
    };
    // Escaped as every name rinit logs (rinit(1) DIAGNOSTICS): a program
    // path with a newline in it must not print a line of its own.
    let name = crate::escape::Escaped(file.as_bytes()).to_string();
    // Close-on-exec, so the program never sees it and exec itself closes it.
    let pipe = if watch_exec {
        Some(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(SpawnError::Pipe)?)
    } else {
        None
    };

    match fork() {
        Err(e) => Err(SpawnError::Fork(e)),
        Ok(ForkResult::Parent { child }) => {
            // Under -g, the group is also made from the parent, so that a
            // signal forwarded to the group right away cannot beat the
            // child's own setpgid (kill(-pgid) would find no such group).
            // EACCES (the child has exec'd already) is fine. Without -g
            // nothing of rinit's names the group, and the child's own
            // setpgid, before its exec, is all the program needs: one
            // system call less at every start (issue 20), as in tini.
            if process_group {
                let _ = nix::unistd::setpgid(child, child);
            }
            // The write end is dropped here: only the child holds it now.
            let exec = pipe.map(|(read, _write)| ExecWatch(read));
            Ok(Spawned { pid: child, exec })
        }
        Ok(ForkResult::Child) => {
            let exec_failed = pipe.as_ref().map(|(_, write)| write);
            child(file, &args, &name, Handed { inherited, listen_pid, stack }, exec_failed)
        }
    }
}

/// fork(2) through libc's `_Fork` (musl 1.2.3+, glibc 2.34+): the fork
/// and the child's own bookkeeping (its cached thread id, which musl's
/// `raise` and `abort` signal by), without `fork`'s `pthread_atfork`
/// handlers and its second mask swap: rinit has every signal it can block
/// blocked already (`signals::take_over`), one thread and no atfork
/// handler, so those were two `rt_sigprocmask` calls at every start for
/// nothing (issue 20). Not the bare clone system call: the child's cached
/// thread id would stay rinit's, and an abort in the child before its exec
/// (an allocation that fails) would send SIGABRT to rinit (a review). The
/// one `rt_sigprocmask` pair left at every start, all blocked and then set
/// back around the fork, is `_Fork`'s own (musl's `__block_all_sigs`),
/// and goes only with it: what it protects is musl's, not rinit's (the
/// child's bookkeeping above, before any handler could run in it).
fn fork() -> Result<ForkResult, Errno> {
    unsafe extern "C" {
        fn _Fork() -> libc::pid_t;
    }
    // SAFETY: rinit is single-threaded, so the child may run any code; it
    // only makes system calls and then execs or exits.
    match unsafe { _Fork() } {
        0 => Ok(ForkResult::Child),
        pid if pid > 0 => Ok(ForkResult::Parent { child: Pid::from_raw(pid) }),
        _ => Err(Errno::last()),
    }
}

/// What the child hands on or puts back before the exec.
struct Handed {
    inherited: Inherited,
    listen_pid: bool,
    stack: Option<crate::stack::Original>,
}

/// The forked child: execs the program, or reports why it cannot and exits.
/// Out of line: inlined, its locals (the messages) stayed in the parent's
/// frame under the fork and everything else of the start.
#[inline(never)]
fn child(file: &CString, args: &[CString], name: &str, handed: Handed, exec_failed: Option<&OwnedFd>) -> ! {
    let Handed { inherited, listen_pid, stack } = handed;
    if listen_pid {
        // sd_listen_fds(3) takes the descriptors only when LISTEN_PID
        // is its own pid; whoever set it meant rinit, which passes
        // them on (rinit(1) SOCKET ACTIVATION).
        // SAFETY: rinit is single-threaded: no other thread reads
        // the environment while it changes.
        unsafe { std::env::set_var("LISTEN_PID", nix::unistd::getpid().to_string()) };
    }
    let err = in_child(file, args, inherited, stack);
    // The program's mask is back by now: a stderr that is a pipe with no
    // reader (or a file at RLIMIT_FSIZE) would kill the child with SIGPIPE
    // (SIGXFSZ) at the message, and rinit would exit 141, not 127 or 126
    // (a review). Blocked, the write just fails.
    signals::block_write_signals();
    let (code, msg) = exec_failure(name, err);
    // SAFETY: fd 2 may be closed; write then just fails.
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
    if let Some(write) = exec_failed {
        // SAFETY: one byte from a valid buffer: "exec failed".
        unsafe { libc::write(write.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
    }
    // _exit: no atexit handlers or buffered output of rinit's run twice.
    // SAFETY: always safe to call.
    unsafe { libc::_exit(code) }
}

/// The child's half: returns only if exec failed.
fn in_child(file: &CString, args: &[CString], inherited: Inherited, stack: Option<crate::stack::Original>) -> Errno {
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
    // rinit's group is asked for only with a terminal there (in a container,
    // nearly never), and here, not in rinit: getpgid of the parent, rinit,
    // which never changes its own group (a getpgrp in rinit before the fork
    // was a system call at every start, issue 20).
    let handed = match nix::unistd::tcgetpgrp(stdin) {
        Ok(foreground) if nix::unistd::getpgid(Some(nix::unistd::getppid())) == Ok(foreground) => {
            nix::unistd::tcsetpgrp(stdin, nix::unistd::getpid())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    match handed {
        Ok(()) | Err(Errno::ENOTTY | Errno::ENXIO | Errno::EBADF) => {}
        Err(e) => {
            // Before the exec: a command-line message, like every other one here.
            let msg = format!("rinit: warning: cannot give the terminal to the program: {}\n", e.desc());
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
    if let Some(original) = stack {
        // The program gets the stack limit rinit was given (rinit(1)
        // LIMITS), as late as this: from here on only `exec_searching`
        // runs, whose buffers are on the heap (musl's execvp copies PATH
        // onto the stack). Its frames must fit in stack pages that are
        // already there: under the limit put back, the next page is a
        // SIGSEGV (with the raised limit barely above the old one, the
        // child died so in 6 runs of 30). So they are made first.
        map_stack_below();
        // Lowering a soft limit cannot fail; if it did, the program would
        // only have more stack than it was given.
        // SAFETY: setrlimit reads the struct it is given.
        unsafe { libc::setrlimit(libc::RLIMIT_STACK, &original) };
    }
    exec_searching(file, args)
}

/// Touches the stack `EXEC_DEPTH` below the caller's frame, under the
/// raised limit: the kernel extends the stack's mapping down to there, and
/// pages inside the mapping are never checked against the limit again.
/// `exec_searching` and musl's execv, called from the same frame, use less.
#[inline(never)]
fn map_stack_below() {
    let mut below = [0u8; EXEC_DEPTH];
    // SAFETY: a write into a local array; volatile so that it is made.
    unsafe { std::ptr::write_volatile(below.as_mut_ptr(), 1) };
    std::hint::black_box(&mut below);
}

/// More than `exec_searching` and its callees take below the frame they
/// are called from (execv, and musl's malloc for their two buffers: a
/// few hundred bytes on x86_64), and within `stack::NEEDED`.
const EXEC_DEPTH: usize = 1024;

/// Execs `file`: as it is if it holds a slash, else searched in PATH the
/// way musl's execvp does (rinit(1) START), but in a buffer on the heap.
/// The same in every build: glibc's execvp (a plain `cargo build` on a gnu
/// host) would also run a file the kernel refuses (ENOEXEC) through
/// /bin/sh instead of failing. Returns only if no exec succeeded.
fn exec_searching(file: &CString, args: &[CString]) -> Errno {
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let exec = |path: &[u8]| -> Errno {
        // SAFETY: `path` ends in NUL and `argv` is a NULL-terminated array
        // of NUL-terminated strings that outlive the call.
        unsafe { libc::execv(path.as_ptr().cast(), argv.as_ptr()) };
        Errno::last()
    };
    let name = file.as_bytes();
    if name.contains(&b'/') {
        return exec(file.as_bytes_with_nul());
    }
    // SAFETY: getenv reads the environment; nothing changes it any more.
    let path = unsafe { libc::getenv(c"PATH".as_ptr()) };
    let path = if path.is_null() {
        DEFAULT_PATH
    } else {
        // SAFETY: a non-null getenv result is a NUL-terminated string that
        // stays valid: the environment no longer changes.
        unsafe { std::ffi::CStr::from_ptr(path) }.to_bytes()
    };
    let mut search = Search::new(name);
    let mut candidate = Vec::new();
    for dir in path.split(|&b| b == b':') {
        if !search.candidate(dir, name, &mut candidate) {
            continue;
        }
        let err = exec(&candidate);
        if !search.goes_on_after(err) {
            return err;
        }
    }
    search.failed()
}

/// musl's PATH when the environment has none.
const DEFAULT_PATH: &[u8] = b"/usr/local/bin:/bin:/usr/bin";

/// The rules of a PATH search (musl's `__execvpe`), without the exec: the
/// pure half of `exec_searching`.
struct Search {
    /// Set at the start when the name cannot be found at all.
    refused: Option<Errno>,
    /// A candidate existed but could not be run: the search ends with
    /// EACCES rather than ENOENT.
    seen_eacces: bool,
}

impl Search {
    fn new(name: &[u8]) -> Search {
        let refused = if name.is_empty() {
            Some(Errno::ENOENT)
        } else if name.len() > NAME_MAX {
            Some(Errno::ENAMETOOLONG)
        } else {
            None
        };
        Search { refused, seen_eacces: false }
    }

    /// Writes `dir/name` (or `name` alone for an empty entry, which is the
    /// working directory) and a NUL into `out`; false when there is nothing
    /// to try: the name was refused, or the entry is longer than a path.
    fn candidate(&self, dir: &[u8], name: &[u8], out: &mut Vec<u8>) -> bool {
        if self.refused.is_some() || dir.len() >= PATH_MAX {
            return false;
        }
        out.clear();
        out.extend_from_slice(dir);
        if !dir.is_empty() {
            out.push(b'/');
        }
        out.extend_from_slice(name);
        out.push(0);
        true
    }

    /// After a failed exec: whether to try the next entry. Not there (or
    /// not a directory) goes on; not allowed goes on and is remembered;
    /// anything else (ENOEXEC, E2BIG, ...) is the answer.
    fn goes_on_after(&mut self, err: Errno) -> bool {
        match err {
            Errno::EACCES => {
                self.seen_eacces = true;
                true
            }
            Errno::ENOENT | Errno::ENOTDIR => true,
            _ => false,
        }
    }

    /// The error once every entry was tried.
    fn failed(&self) -> Errno {
        match self.refused {
            Some(e) => e,
            None if self.seen_eacces => Errno::EACCES,
            None => Errno::ENOENT,
        }
    }
}

/// A name longer than this is refused before the search (NAME_MAX).
const NAME_MAX: usize = 255;
/// An entry this long cannot make a path (PATH_MAX).
const PATH_MAX: usize = 4096;

/// Socket activation (rinit(1) SOCKET ACTIVATION): which of the `count`
/// descriptors from 3 on rinit holds. Asked before rinit opens any of its
/// own, so that every one found is one it was given.
pub fn passed_fds(count: u32) -> Vec<i32> {
    (3..3_i64.saturating_add(i64::from(count)))
        .filter_map(|fd| i32::try_from(fd).ok())
        // SAFETY: F_GETFD only queries the descriptor.
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1)
        .collect()
}

/// Closes rinit's copies of the passed descriptors once the program has its
/// own: a socket the program closes is then closed, and a peer sees it.
pub fn close_passed(fds: &[i32]) {
    for &fd in fds {
        // SAFETY: rinit never used these descriptors; closing them only
        // drops its references.
        unsafe { libc::close(fd) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The candidates a search tries, in order, with every exec failing
    /// with `err`; and the error it ends with.
    fn searched(path: &[u8], name: &[u8], err: Errno) -> (Vec<String>, Errno) {
        let mut search = Search::new(name);
        let mut tried = Vec::new();
        let mut out = Vec::new();
        for dir in path.split(|&b| b == b':') {
            if search.candidate(dir, name, &mut out) {
                assert_eq!(out.last(), Some(&0));
                tried.push(String::from_utf8_lossy(&out[..out.len() - 1]).into_owned());
                if !search.goes_on_after(err) {
                    return (tried, err);
                }
            }
        }
        (tried, search.failed())
    }

    #[test]
    fn a_path_search_tries_each_entry_in_order_as_musl_does() {
        let (tried, end) = searched(b"/a:/b/c::/d", b"sh", Errno::ENOENT);
        assert_eq!(tried, ["/a/sh", "/b/c/sh", "sh", "/d/sh"], "an empty entry is the working directory");
        assert_eq!(end, Errno::ENOENT);
        assert_eq!(searched(b"/a:/b", b"sh", Errno::ENOTDIR).1, Errno::ENOENT);
        // Not allowed goes on, and is the answer if nothing else runs.
        let (tried, end) = searched(b"/a:/b", b"sh", Errno::EACCES);
        assert_eq!((tried.len(), end), (2, Errno::EACCES));
        // Anything else stops the search at once.
        let (tried, end) = searched(b"/a:/b", b"sh", Errno::ENOEXEC);
        assert_eq!((tried, end), (vec!["/a/sh".to_string()], Errno::ENOEXEC));
    }

    #[test]
    fn a_path_search_refuses_empty_and_overlong_names_and_skips_overlong_entries() {
        assert_eq!(searched(b"/a", b"", Errno::ENOEXEC), (vec![], Errno::ENOENT));
        let long = vec![b'x'; 256];
        assert_eq!(searched(b"/a", &long, Errno::ENOEXEC), (vec![], Errno::ENAMETOOLONG));
        assert_eq!(searched(b"/a", &long[..255], Errno::ENOENT).0.len(), 1);
        let mut path = vec![b'/'; 4096];
        path.extend_from_slice(b":/b");
        assert_eq!(searched(&path, b"sh", Errno::ENOENT).0, ["/b/sh"]);
    }

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

    #[test]
    fn a_program_that_looks_like_an_option_gets_a_hint() {
        let (code, msg) = exec_failure("-v", Errno::ENOENT);
        assert_eq!(code, 127);
        let lines: Vec<&str> = msg.lines().collect();
        assert_eq!(lines.first(), Some(&"rinit: cannot run '-v': No such file or directory"));
        assert!(lines.get(1).is_some_and(|l| l.contains("before '--'")), "{msg}");
        assert_eq!(exec_failure("v", Errno::ENOENT).1.lines().count(), 1);
    }
}
