//! Test harness: runs the real rinit binary as PID 1 of a fresh PID namespace
//! (`unshare --pid --fork --mount-proc`, plus `--user --map-root-user` when
//! not root), and talks to the program through a pipe on fd 3 instead of
//! sleeping: the program writes a line when it is ready or when something
//! happened, and the test blocks on that line (with a timeout so that a
//! broken rinit fails the test instead of hanging it).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

pub mod docker;
pub mod json;

use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// A generous bound for "should happen promptly"; only a broken rinit waits it out.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The rinit binary under test: `RINIT_BIN` when set (scripts/test.sh runs
/// the integration tests again against the aarch64 and armv7 binaries, under
/// qemu-user through binfmt_misc), else the one cargo built with the tests.
pub fn rinit() -> PathBuf {
    let path = rinit_bin();
    if is_emulated()
        && let Some((test, _)) = QEMU_USER_CANNOT.iter().find(|(t, _)| Some(*t) == thread::current().name())
    {
        panic!("{test} is in QEMU_USER_CANNOT but runs anyway: it must start with `if common::skip_under_qemu() {{ return; }}`");
    }
    path
}

fn rinit_bin() -> PathBuf {
    std::env::var_os("RINIT_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_rinit")), PathBuf::from)
}

/// The tests that cannot pass under qemu-user, whatever rinit does, and why:
/// the emulator itself stands between rinit and the kernel there. Each of
/// them starts with `if common::skip_under_qemu() { return; }`, and under
/// emulation they are counted as skipped, never as passed. Natively (x86_64,
/// i686) every one of them runs.
pub const QEMU_USER_CANNOT: &[(&str, &str)] = &[
    ("a_subreaper_without_its_own_proc_still_exits_after_the_grace", NO_SUBREAPER),
    ("an_ignored_sigchld_from_the_parent_does_not_hide_the_programs_status", NO_SUBREAPER),
    ("pdeathsig_ends_rinit_when_its_parent_dies", NO_SUBREAPER),
    ("program_not_executable_is_126_with_the_reason", NO_SUBREAPER),
    ("program_not_found_is_127_with_its_name", NO_SUBREAPER),
    ("subreaper_adopts_and_reaps_orphans_outside_a_namespace", NO_SUBREAPER),
    ("not_pid1_without_subreaper_warns_once_naming_s", NO_SUBREAPER),
    ("a_subreaper_also_signals_adopted_orphans", NO_SUBREAPER),
    ("as_a_subreaper_only_descendants_are_signalled", NO_SUBREAPER),
    ("program_sees_exactly_the_inherited_mask_and_ignored_signals", NO_SUBREAPER),
    ("rinit_started_with_stdin_stdout_stderr_closed", NO_SUBREAPER),
    ("program_runs_as_pid_2_in_its_own_group_and_directory_with_rinit_in_root", OWN_THREAD),
    ("a_program_ignoring_sigterm_is_killed_at_the_grace", OWN_THREAD),
    ("a_small_stack_limit_does_not_kill_pid_1", HOST_STACK),
    ("under_a_small_stack_limit_rinit_runs_or_says_why_and_never_dies", HOST_STACK),
    ("a_soft_stack_limit_below_the_hard_one_is_raised_for_rinit_alone", HOST_STACK),
    ("a_program_found_through_a_long_path_runs_under_a_raised_stack_limit", HOST_STACK),
    ("oom_killed_program_is_reported_with_the_limit", OWN_THREAD),
    ("pids_max_from_environment_covers_orphans_and_leaf_goes_after_sigterm", OWN_THREAD),
    ("fork_failure_exits_1_with_the_call_and_a_hint", OWN_THREAD),
    ("a_signal_death_is_128_plus_the_signal", RT_SIGNALS),
    ("program_sees_the_signal_state_and_descriptors_rinit_was_given", RT_IGNORED),
    ("idle_rinit_sleeps_without_a_timeout", OWN_SYSCALL),
    ("under_g_a_signal_forwarded_at_once_reaches_the_group_made_by_rinit", OWN_SYSCALLS),
    ("a_subreaper_with_one_descriptor_to_spare_still_reaches_its_descendants", NO_SUBREAPER),
    ("a_proc_mounted_after_rinit_started_is_the_one_shutdown_reads", NO_SUBREAPER),
    ("a_subreaper_gives_up_one_second_past_the_grace_naming_what_is_left", NO_SUBREAPER),
    ("a_subreaper_reaches_and_waits_for_a_subtree_whose_name_is_not_utf8", NO_SUBREAPER),
    ("a_subreaper_reaches_a_process_that_lives_on_past_its_leader", NO_SUBREAPER),
    ("pid_1_reaches_a_process_that_lives_on_past_its_leader", OWN_THREAD),
    ("a_subreaper_signals_through_pidfds", NO_SUBREAPER),
    ("a_subreaper_names_the_program_it_sigkills_as_listed", NO_SUBREAPER),
    ("with_few_file_descriptors_every_process_still_gets_sigterm", OWN_FDS),
    ("a_program_whose_stat_cannot_be_read_is_named_by_its_argv0", OWN_FDS),
    ("oom_exit_without_a_descriptor_for_the_watch_says_so", OWN_FDS),
    ("oom_exit_acts_at_once_while_the_queue_of_pending_signals_is_full", OWN_THREAD),
    ("options_end_at_the_first_non_option_where_tini_takes_them_all", NO_SUBREAPER),
    ("log_lines_are_worded_rinits_way", OWN_THREAD),
    ("once_everyone_has_had_sigterm_the_kernel_reaps_rinits_children_but_not_under_w", OWN_SIGACTION),
    ("a_zombie_flood_holds_off_neither_a_signal_nor_the_grace", SLOW),
    ("with_the_hosts_proc_the_others_get_sigterm_by_half_the_grace", NO_MOUNT_API),
    ("the_exit_report_gives_what_the_cgroups_own_files_say", OWN_THREAD),
    ("oom_exit_shuts_down_gracefully_after_a_workers_oom_kill_and_exits_137", OWN_THREAD),
    ("without_oom_exit_a_workers_oom_kill_changes_nothing", OWN_THREAD),
    ("the_sigterm_to_a_thousand_others_goes_out_between_waits", SLOW),
    ("not_pid_1_what_a_fork_storm_leaves_running_is_said", SLOW),
    ("not_pid_1_the_listing_goes_out_between_waits_and_descendants_get_sigterm", NO_SUBREAPER),
    ("start_up_system_calls_stay_under_their_bound", OWN_SYSCALLS),
    ("a_shutdown_round_asks_the_kernel_for_no_random_keys", OWN_SYSCALLS),
    ("synchronous_signals_sent_to_rinit_are_not_forwarded_and_do_not_end_it", OWN_FAULTS),
];

// What qemu-user (Debian 12's qemu-user-static, 7.2) does not emulate, as
// seen running these tests against the aarch64 and armv7 binaries.
const NO_SUBREAPER: &str = "qemu-user refuses prctl(PR_SET_CHILD_SUBREAPER) with EINVAL, so `-s` cannot work";
const OWN_THREAD: &str = "qemu-user starts a thread of its own in rinit's process: it takes a pid \
     (the program is not pid 2) and counts in pids.current and RLIMIT_NPROC";
const HOST_STACK: &str = "qemu-user itself runs on the stack that RLIMIT_STACK limits, and needs more than 16 KiB of it";
const RT_SIGNALS: &str = "qemu-user keeps the first host real-time signals for itself and renumbers \
     the rest (a death by signal 34 reaches rinit as 32)";
const RT_IGNORED: &str = "qemu-user does not hand on a real-time signal that rinit's parent ignored";
const OWN_FDS: &str = "qemu-user needs file descriptors of its own: it cannot start rinit under a limit of 4 or 5";
const OWN_SIGACTION: &str = "qemu-user makes the host's sigaction calls itself, without SA_NOCLDWAIT: \
     strace sees the emulator's calls, and rinit reaps its children as before";
const SLOW: &str = "under qemu-user each of rinit's system calls costs many times more: the test's \
     liveness bounds are for a native rinit";
const NO_MOUNT_API: &str = "qemu-user does not pass on the mount API (fsopen, fsmount): rinit cannot make \
     a proc instance of its own there and takes its kill(-1) way";
const OWN_SYSCALLS: &str = "strace sees the emulator's own system calls beside the ones rinit makes";
const OWN_FAULTS: &str = "qemu-user takes SIGSEGV, SIGBUS and the other synchronous signals for the guest's \
     faults: after a kill() of SIGSEGV the emulated rinit sits in sigsuspend and forwards nothing more";
const OWN_SYSCALL: &str = "/proc/PID/syscall shows the emulator's own system call, not the one rinit made";

/// Whether `bin` is linked with glibc (the packagers' plain `cargo build
/// --release`, static glibc) rather than musl (the shipped binaries): its
/// strings name glibc's own variables (GLIBC_TUNABLES), musl's none.
pub fn is_glibc(bin: &Path) -> bool {
    std::fs::read(bin).is_ok_and(|b| b.windows(6).any(|w| w == b"GLIBC_"))
}

/// Whether the binary under test is for another architecture than the tests
/// (so the kernel runs it through qemu-user): the ELF machine fields differ.
pub fn is_emulated() -> bool {
    fn machine(path: &Path) -> Option<[u8; 2]> {
        let mut head = [0u8; 20];
        std::fs::File::open(path).ok()?.read_exact(&mut head).ok()?;
        Some([head[18], head[19]])
    }
    static EMULATED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *EMULATED.get_or_init(|| {
        let own = std::env::current_exe().ok().and_then(|p| machine(&p));
        own.is_some() && machine(&rinit_bin()) != own
    })
}

/// For the tests of [`QEMU_USER_CANNOT`]: under emulation, marks the test
/// skipped with the list's reason and returns true (the test returns).
pub fn skip_under_qemu() -> bool {
    if !is_emulated() {
        return false;
    }
    let current = thread::current();
    let test = current.name().unwrap_or("?");
    let Some((_, why)) = QEMU_USER_CANNOT.iter().find(|(t, _)| *t == test) else {
        panic!("{test} calls skip_under_qemu but is not in QEMU_USER_CANNOT (add it there with the reason)");
    };
    skip(&format!("qemu-user: {why}"));
    true
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `unshare` arguments that make the next command PID 1 of a new namespace
/// with its own /proc. `--kill-child`: if the test dies, rinit dies with it.
pub fn unshare_args() -> Vec<&'static str> {
    let mut a = vec!["--pid", "--fork", "--mount-proc", "--kill-child"];
    if !is_root() {
        a.extend(["--user", "--map-root-user"]);
    }
    a
}

/// `unshare` that makes the next command PID 1 of a new namespace but keeps
/// the host's /proc (no --mount-proc): a /proc of another namespace.
pub fn unshare_keeping_host_proc() -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(unshare_args().into_iter().filter(|a| *a != "--mount-proc"));
    cmd
}

/// A fresh, empty directory for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "rinit-test-{}-{}-{}",
        tag,
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The read end of the fd-3 pipe, read line by line with a timeout.
pub struct Lines {
    fd: OwnedFd,
    buf: Vec<u8>,
    /// The write end, held until the command is spawned and then closed, so
    /// that fd 3 reaches EOF once every process holding it has gone.
    writer: Option<std::io::PipeWriter>,
}

impl Lines {
    /// The next line, or panics after `timeout`.
    pub fn next_within(&mut self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                return Some(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no line from the program within {timeout:?}; got so far: {:?}", String::from_utf8_lossy(&self.buf));
            let mut pfd = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1);
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n <= 0 {
                continue;
            }
            let mut chunk = [0u8; 4096];
            // SAFETY: chunk is valid for its length.
            let got = unsafe { libc::read(self.fd.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
            if got == 0 {
                return None; // every writer has gone
            }
            if got > 0 {
                self.buf.extend_from_slice(&chunk[..got as usize]);
            }
        }
    }

    pub fn next(&mut self) -> String {
        self.next_within(PATIENCE).expect("the program closed fd 3 before writing a line")
    }

    /// Waits for a line equal to `want`, failing on anything else.
    pub fn expect(&mut self, want: &str) {
        let got = self.next();
        assert_eq!(got, want, "line from the program");
    }

    /// Closes the test's copy of the write end, as `Pid1::spawn` does; for
    /// tests that spawn the command themselves.
    pub fn close_writer(&mut self) {
        self.writer = None;
    }

    /// Waits for EOF: every process holding fd 3 (rinit included) has gone.
    pub fn expect_eof(&mut self) {
        let rest = self.next_within(PATIENCE);
        assert_eq!(rest, None, "expected fd 3 to close");
    }
}

/// rinit running (as PID 1 of a new namespace when started through
/// `unshare`, or directly), with the program writing lines to fd 3.
pub struct Pid1 {
    pub child: Child,
    pub lines: Lines,
    pub stdin: Option<std::process::ChildStdin>,
    stderr: Option<mpsc::Receiver<String>>,
    stdout: Option<mpsc::Receiver<String>>,
    started: Instant,
    /// The child is `unshare`, and rinit is its child.
    via_unshare: bool,
}

pub struct Ended {
    pub status: ExitStatus,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// From start to exit.
    pub elapsed: Duration,
}

/// `unshare ... rinit ARGS -- PROGRAM...`: rinit as PID 1 of a new namespace.
pub fn namespaced(rinit_args: &[&str], program: &[&str]) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(unshare_args()).arg(rinit()).args(rinit_args).arg("--").args(program);
    cmd
}

/// `rinit ARGS -- PROGRAM...` run directly, not as PID 1.
pub fn direct(rinit_args: &[&str], program: &[&str]) -> Command {
    let mut cmd = Command::new(rinit());
    cmd.args(rinit_args).arg("--").args(program);
    cmd
}

/// Builds the command: `unshare ... rinit ARGS -- sh -c SCRIPT`. fd 3 of the
/// program is the write end of the returned pipe.
pub fn pid1_command(rinit_args: &[&str], script: &str) -> (Command, Lines) {
    attach_pipe(&mut namespaced(rinit_args, &["sh", "-c", script]))
}

/// Gives the command an fd 3 that writes into the returned `Lines`.
pub fn attach_pipe(cmd: &mut Command) -> (Command, Lines) {
    let (reader, writer) = std::io::pipe().unwrap();
    let wfd = writer.as_raw_fd();
    // SAFETY: dup2 is async-signal-safe; the dup has no CLOEXEC flag, so the
    // program (and everything it starts) inherits fd 3.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(wfd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let c = std::mem::replace(cmd, Command::new("true"));
    (c, Lines { fd: reader.into(), buf: Vec::new(), writer: Some(writer) })
}

/// Reads `r` to its end on a thread; the text arrives on the channel.
pub fn drain<R: Read + Send + 'static>(mut r: R) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut s = Vec::new();
        let _ = r.read_to_end(&mut s);
        let _ = tx.send(String::from_utf8_lossy(&s).into_owned());
    });
    rx
}

impl Pid1 {
    pub fn start(rinit_args: &[&str], script: &str) -> Pid1 {
        let (cmd, lines) = pid1_command(rinit_args, script);
        Pid1::spawn(cmd, lines)
    }

    /// Starts `cmd` (from [`namespaced`] or [`direct`]) with fd 3 attached
    /// and stdin from /dev/null.
    pub fn launch(mut cmd: Command) -> Pid1 {
        let (cmd, lines) = attach_pipe(&mut cmd);
        Pid1::spawn(cmd, lines)
    }

    /// Like [`Pid1::launch`], with stdin a pipe in `self.stdin`.
    pub fn launch_with_stdin(mut cmd: Command) -> Pid1 {
        let (cmd, lines) = attach_pipe(&mut cmd);
        Pid1::spawn_stdio(cmd, lines, Stdio::piped())
    }

    pub fn spawn(cmd: Command, lines: Lines) -> Pid1 {
        Pid1::spawn_stdio(cmd, lines, Stdio::null())
    }

    fn spawn_stdio(mut cmd: Command, mut lines: Lines, stdin: Stdio) -> Pid1 {
        let via_unshare = cmd.get_program() == "unshare";
        cmd.stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn().expect("start the command");
        lines.writer = None;
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        let stdin = child.stdin.take();
        Pid1 { child, lines, stdin, stderr, stdout, started, via_unshare }
    }

    /// Closes the program's stdin pipe.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// rinit's pid as the test sees it: unshare's only child, or the child
    /// itself when started directly.
    pub fn rinit_pid(&self) -> i32 {
        if !self.via_unshare {
            return self.child.id() as i32;
        }
        let unshare = self.child.id();
        let path = format!("/proc/{unshare}/task/{unshare}/children");
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if let Some(pid) = text.split_whitespace().next() {
                return pid.parse().unwrap();
            }
            assert!(Instant::now() < deadline, "unshare never started rinit");
            thread::yield_now();
        }
    }

    /// Sends a signal to rinit from outside its namespace, as `docker stop` does.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill has no memory-safety preconditions.
        let rc = unsafe { libc::kill(self.rinit_pid(), sig) };
        assert_eq!(rc, 0, "kill rinit: {}", std::io::Error::last_os_error());
    }

    /// Waits for rinit to exit (bounded by `PATIENCE`).
    pub fn wait(mut self) -> Ended {
        self.wait_within(PATIENCE)
    }

    pub fn wait_within(&mut self, timeout: Duration) -> Ended {
        if !wait_exit(self.child.id(), timeout) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let err = self.stderr.take().and_then(|r| r.recv_timeout(Duration::from_secs(5)).ok());
            panic!("rinit did not exit within {timeout:?}; stderr: {err:?}");
        }
        let status = self.child.wait().unwrap();
        let elapsed = self.started.elapsed();
        let recv = |r: Option<mpsc::Receiver<String>>| {
            r.and_then(|r| r.recv_timeout(PATIENCE).ok()).unwrap_or_default()
        };
        Ended {
            code: status.code(),
            status,
            stdout: recv(self.stdout.take()),
            stderr: recv(self.stderr.take()),
            elapsed,
        }
    }
}

impl Drop for Pid1 {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Blocks until the child `pid` has exited (its pidfd turns readable), at
/// most `timeout`. Returns whether it exited; it is not reaped.
pub fn wait_exit(pid: u32, timeout: Duration) -> bool {
    // SAFETY: pidfd_open takes a pid and flags.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    assert!(fd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    let fd = fd as i32;
    let deadline = Instant::now() + timeout;
    let exited = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            break true;
        }
        if n == 0 || left.is_zero() {
            break false;
        }
    };
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    exited
}

/// Waits until `cond` holds, checking every millisecond, at most `timeout`.
/// For conditions no pipe can announce (a zombie reaped, a process stopped).
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Whether `pid` is gone from /proc: exited *and* reaped.
pub fn is_gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

/// The state letter of `pid` (`Z` zombie, `T` stopped...), if it exists.
pub fn state_of(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// Runs rinit (not in a namespace) with arguments, returning its exit code,
/// stdout and stderr.
pub fn run_plain<I, S>(args: I) -> (Option<i32>, String, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = Command::new(rinit()).args(args).stdin(Stdio::null()).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Path helper for scripts: a string path.
pub fn p(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

/// Marks the running test as skipped because something it needs is missing
/// here (Docker, a VM, an emulator): one visible line on stderr, and one line
/// in the file named by `RINIT_SKIP_LOG`, which `scripts/test.sh` counts as
/// skipped in its closing line (cargo itself counts the test as passed).
/// The caller returns right after, asserting nothing.
pub fn skip(reason: &str) {
    use std::io::Write;
    let current = thread::current();
    let test = current.name().unwrap_or("?");
    let line = format!("SKIPPED {test}: {reason}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Some(path) = std::env::var_os("RINIT_SKIP_LOG") {
        // O_APPEND: tests on several threads and in several binaries add
        // whole lines without clobbering each other.
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// A pseudo-terminal pair (master, slave), closed on drop.
pub struct Pty {
    pub master: libc::c_int,
    pub slave: libc::c_int,
}

impl Pty {
    pub fn open() -> Pty {
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: out pointers are valid; null name/termios/winsize are allowed.
        let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // Close-on-exec: a test running beside this one must not inherit
        // them (the RLIMIT_NOFILE test counts every descriptor).
        for fd in [master, slave] {
            // SAFETY: setting a flag on descriptors we own.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        Pty { master, slave }
    }

    /// Makes `cmd` the leader of a new session whose controlling terminal
    /// is the slave, with the slave as its stdin, stdout and stderr: what a
    /// container runtime (`docker run -t`) or a terminal emulator does.
    pub fn attach(&self, cmd: &mut Command) {
        let slave = self.slave;
        // SAFETY: setsid, ioctl and dup2 are async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                libc::ioctl(slave, libc::TIOCSCTTY, 0);
                libc::dup2(slave, 0);
                libc::dup2(slave, 1);
                libc::dup2(slave, 2);
                Ok(())
            });
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        // SAFETY: closing descriptors this struct owns.
        unsafe {
            libc::close(self.master);
            libc::close(self.slave);
        }
    }
}

/// The shutdown summary line from rinit's stderr.
pub fn summary(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| l.starts_with("[rinit] shutdown: "))
        .unwrap_or_else(|| panic!("no summary line in: {stderr}"))
        .to_string()
}

/// The first child of `pid`, as the test sees it.
pub fn child_of(pid: i32) -> i32 {
    let path = format!("/proc/{pid}/task/{pid}/children");
    let mut found = None;
    assert!(
        wait_until(PATIENCE, || {
            found = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| t.split_whitespace().next().and_then(|p| p.parse().ok()));
            found.is_some()
        }),
        "pid {pid} has no child"
    );
    found.unwrap()
}
