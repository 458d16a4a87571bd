//! rinit side by side with tini, dumb-init and catatonit (issue 6).
//!
//! Run with `scripts/bench.sh` (or `cargo build --release && cargo bench
//! --bench compare`). It measures rinit and every peer it finds installed, in
//! one run on this machine, with the inits interleaved so that load from
//! other work hits them equally, and prints one markdown report: the machine,
//! a table of figures, and the targets of issue 6 as ratios to tini; then
//! the shutdown at scale (issue 14, `compare/scale.rs`): SIGTERM to the init
//! with N = 1,000, 5,000 and 20,000 processes in the program's group, as
//! ratios to dumb-init.
//!
//! Just one part: `BENCH_ONLY=scale scripts/bench.sh` (shutdown at scale
//! only, about 4 minutes), `BENCH_ONLY=main scripts/bench.sh` (everything
//! else), `BENCH_ONLY=counts scripts/bench.sh` (the exact start-up counts
//! only: instructions and system calls, in seconds) or
//! `BENCH_ONLY=forwarding scripts/bench.sh` (signal forwarding on one CPU
//! only, `BENCH_FORWARD_BLOCKS` blocks of `BENCH_SIGNAL_RUNS` rounds, each
//! block with fresh inits: for comparing candidate builds, `BENCH_EXTRA`).
//!
//! Every init runs as PID 1 of a new PID namespace with its own /proc, the
//! equivalent of `unshare --pid --fork --mount-proc INIT -- PROG`, done here
//! with one `clone(CLONE_NEWPID | CLONE_NEWNS)` so that the init is this
//! process's direct child and `waitpid` times its exit without a go-between.
//! The programs the inits start are this same binary in a helper mode
//! (`compare __helper MODE ...`), except for `/bin/true` in the start-up test.
//! The exact counts (start-up instructions under callgrind, also on a Docker
//! container's mountinfo, and start-up system calls under strace) run
//! `unshare` as a command instead, one run per init.
//!
//! This is a benchmark, not a test: it never runs under `cargo test`.
//! Environment knobs (all optional): `RINIT_BIN` (the rinit to measure),
//! `BENCH_STARTUP_RUNS`, `BENCH_SIGNAL_RUNS`, `BENCH_SHUTDOWN_RUNS`,
//! `BENCH_IDLE_SECS`, `BENCH_REAP_N` (comma-separated), `BENCH_REAP_REPS`,
//! `BENCH_SCALE_N` (comma-separated; default 1000,5000,20000),
//! `BENCH_SCALE_RUNS` (rounds, median taken; default 5), `BENCH_SCALE_TRAP`
//! (one child in this many traps SIGTERM in the second variant; default 100,
//! 0 for no second variant), `BENCH_ONLY` (`main`, `scale`, `counts` or
//! `forwarding`), `BENCH_FORWARD_BLOCKS` (default 5),
//! `BENCH_FORWARD_SETTLE_US` (a sleep before each forwarding measurement,
//! default 0).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss
)]

use std::ffi::{CString, c_int};
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

#[path = "compare/scale.rs"]
mod scale;

// ---------------------------------------------------------------------------
// The inits

#[derive(Clone)]
struct Init {
    name: String,
    path: PathBuf,
    /// Arguments between the init and the program.
    opts: &'static [&'static str],
}

fn find_inits() -> Vec<Init> {
    let rinit = std::env::var_os("RINIT_BIN").map_or_else(
        || {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"), PathBuf::from);
            // scripts/build.sh's binary for this machine's architecture.
            target.join(format!("{}-unknown-linux-musl/release/rinit", std::env::consts::ARCH))
        },
        PathBuf::from,
    );
    assert!(
        rinit.is_file(),
        "{} not found: run scripts/build.sh first (or set RINIT_BIN)",
        rinit.display()
    );
    let mut inits = vec![Init { name: "rinit".into(), path: rinit, opts: &["--"] }];
    for (name, opts) in [
        ("tini-static", &["--"][..]),
        ("tini", &["--"][..]),
        ("dumb-init", &["--"][..]),
        ("catatonit", &["--"][..]),
    ] {
        if let Some(path) = which(name) {
            inits.push(Init { name: name.into(), path, opts });
        } else {
            eprintln!("note: {name} not installed, left out (scripts/setup.sh installs it)");
        }
    }
    // Candidate builds to compare too, e.g. BENCH_EXTRA="rinit-small=/tmp/rinit-small".
    for spec in std::env::var("BENCH_EXTRA").unwrap_or_default().split(',').filter(|x| !x.is_empty()) {
        let (name, path) = spec.split_once('=').expect("BENCH_EXTRA: NAME=PATH[,NAME=PATH]");
        inits.push(Init { name: name.into(), path: PathBuf::from(path), opts: &["--"] });
    }
    inits
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/libexec/podman"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The tini every ratio is taken against: the static one when installed,
/// since rinit is static too.
fn reference(inits: &[Init]) -> Option<usize> {
    inits
        .iter()
        .position(|i| i.name == "tini-static")
        .or_else(|| inits.iter().position(|i| i.name == "tini"))
}

// ---------------------------------------------------------------------------
// Small system helpers

fn cstr(s: &[u8]) -> CString {
    CString::new(s).unwrap()
}

fn pipe() -> (c_int, c_int) {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    (fds[0], fds[1])
}

fn close(fd: c_int) {
    // SAFETY: closing an fd this program owns.
    unsafe { libc::close(fd) };
}

/// Waits until `fd` is readable; false on timeout.
fn wait_readable(fd: c_int, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    let ms = c_int::try_from(timeout.as_millis()).unwrap_or(c_int::MAX);
    loop {
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return n > 0;
        }
    }
}

/// Reads one byte, with a timeout; None on timeout or EOF.
fn read_byte(fd: c_int, timeout: Duration) -> Option<u8> {
    if !wait_readable(fd, timeout) {
        return None;
    }
    let mut b = 0u8;
    // SAFETY: reading one byte into a valid buffer.
    let n = unsafe { libc::read(fd, (&raw mut b).cast(), 1) };
    (n == 1).then_some(b)
}

fn write_byte(fd: c_int, b: u8) {
    // SAFETY: writing one byte from a valid buffer.
    unsafe { libc::write(fd, (&raw const b).cast(), 1) };
}

fn kill(pid: c_int, sig: c_int) -> bool {
    // SAFETY: kill has no memory preconditions.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// Waits for `pid` to end, up to `timeout`, then SIGKILLs it (which, for a
/// namespace's PID 1, takes the whole namespace down). Returns the wait
/// status and whether it ended by itself.
fn wait_exit(pid: c_int, timeout: Duration) -> (c_int, bool) {
    let deadline = Instant::now() + timeout;
    let mut status = 0;
    loop {
        // SAFETY: valid out pointer.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc == pid {
            return (status, true);
        }
        if Instant::now() > deadline {
            kill(pid, libc::SIGKILL);
            // SAFETY: valid out pointer.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            return (status, false);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Blocks until `pid` ends.
fn wait_blocking(pid: c_int) -> c_int {
    let mut status = 0;
    loop {
        // SAFETY: valid out pointer.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return status;
        }
        assert!(
            std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR),
            "waitpid: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// A command ready to start as PID 1 of a new PID namespace: everything the
/// child needs is allocated before the clone.
struct Launch {
    _args: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    /// fds the program must inherit (their close-on-exec flag is cleared in
    /// the child only).
    keep: Vec<c_int>,
}

impl Launch {
    fn new(init: Option<&Init>, program: &[Vec<u8>], keep: &[c_int]) -> Launch {
        let mut args = Vec::new();
        if let Some(init) = init {
            args.push(cstr(init.path.as_os_str().as_bytes()));
            args.extend(init.opts.iter().map(|o| cstr(o.as_bytes())));
        }
        args.extend(program.iter().map(|a| cstr(a)));
        let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        Launch { _args: args, argv, keep: keep.to_vec() }
    }

    /// Starts it; returns the init's pid (as this process sees it).
    fn start(&self, devnull: c_int) -> c_int {
        // SAFETY: a fork-like clone (no new stack, SIGCHLD on exit). The child
        // only makes async-signal-safe calls on data prepared above, then
        // execs or _exits.
        let pid = unsafe {
            libc::syscall(
                libc::SYS_clone,
                libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::SIGCHLD,
                0,
                0,
                0,
                0,
            )
        };
        assert!(pid >= 0, "clone(CLONE_NEWPID): {} (root needed)", std::io::Error::last_os_error());
        if pid == 0 {
            // SAFETY: see above; every pointer is valid and NUL-terminated.
            unsafe {
                let none = std::ptr::null::<libc::c_char>();
                // --mount-proc: a private mount tree with this namespace's /proc.
                if libc::mount(none, c"/".as_ptr(), none, libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()) != 0
                    || libc::mount(
                        c"proc".as_ptr(),
                        c"/proc".as_ptr(),
                        c"proc".as_ptr(),
                        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                        std::ptr::null(),
                    ) != 0
                {
                    libc::_exit(120);
                }
                libc::dup2(devnull, 0);
                libc::dup2(devnull, 1);
                libc::dup2(devnull, 2);
                for &fd in &self.keep {
                    libc::fcntl(fd, libc::F_SETFD, 0);
                }
                libc::execv(self.argv[0], self.argv.as_ptr());
                libc::_exit(127);
            }
        }
        pid as c_int
    }
}

fn devnull() -> c_int {
    // SAFETY: valid C string.
    let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    assert!(fd >= 0);
    fd
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { f64::midpoint(v[n / 2 - 1], v[n / 2]) }
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A comma-separated list of numbers.
fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect()
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The order of the inits in round `round`: rotated, so that no init always
/// runs right after the same other one.
fn order(k: usize, round: usize) -> impl Iterator<Item = usize> {
    (0..k).map(move |i| (i + round) % k)
}

// ---------------------------------------------------------------------------
// /proc readings

fn status_field(pid: c_int, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// voluntary + nonvoluntary context switches: how often it woke up, summed
/// over its threads (each task counts its own: rinit's OOM watch has a
/// thread of its own, src/doorbell.rs).
fn wakeups(pid: c_int) -> u64 {
    let tids: Vec<c_int> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    let of = |tid: c_int| {
        let field = |f: &str| -> u64 {
            let text = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap_or_default();
            text.lines()
                .find_map(|l| l.strip_prefix(f)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        field("voluntary_ctxt_switches") + field("nonvoluntary_ctxt_switches")
    };
    tids.into_iter().map(of).sum()
}

/// utime + stime, in clock ticks.
fn cpu_ticks(pid: c_int) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = text.rfind(')').map_or("", |i| &text[i + 1..]);
    let f: Vec<&str> = after.split_whitespace().collect();
    // After the name: state(0) ppid(1) ... utime(11) stime(12).
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

/// Time on CPU so far, user and kernel, in seconds (`/proc/PID/schedstat`,
/// nanoseconds; finer than the ticks of `/proc/PID/stat`).
fn cpu_secs(pid: c_int) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(f64::NAN, |ns| ns as f64 / 1e9)
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}

struct CpuSample {
    busy: u64,
    total: u64,
}

fn cpu_sample() -> CpuSample {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = text
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    CpuSample { busy: total - idle, total }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|r| r.trim_start_matches([' ', '\t', ':']).to_string()))
        .unwrap_or_else(|| "?".into())
}

fn nproc() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

// ---------------------------------------------------------------------------
// Binary size and static-ness

/// Whether the ELF file has no program interpreter (PT_INTERP), i.e. runs
/// without ld.so and shared libraries: static or static-pie.
fn is_static(path: &Path) -> Option<bool> {
    let b = std::fs::read(path).ok()?;
    if b.get(..4)? != b"\x7fELF" || *b.get(4)? != 2 {
        return None; // not a 64-bit ELF
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?));
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    let mut interp = false;
    for i in 0..phnum {
        if u32_at(phoff + i * phentsize)? == 3 {
            interp = true;
        }
    }
    Some(!interp)
}

// ---------------------------------------------------------------------------
// The measurements

#[derive(Default, Clone)]
struct Figures {
    size: u64,
    is_static: Option<bool>,
    startup_us: f64,
    overhead_us: f64,
    /// User-space instructions of `INIT -- /bin/sleep 0.2` as PID 1, counted
    /// by callgrind (None: valgrind missing or the count not found).
    instructions: Option<u64>,
    /// The same on a Docker container's mountinfo and cgroup files.
    instructions_docker: Option<u64>,
    /// System calls of the init itself from its execve to the wait that the
    /// program's exit ends (strace -f; the program's own calls not counted).
    syscalls: Option<usize>,
    rss_kib: Option<u64>,
    hwm_kib: Option<u64>,
    wakeups_per_s: f64,
    ticks_per_s: f64,
    forward_us: f64,
    /// The same with the sender, the init and the program on one CPU.
    forward_pinned_us: f64,
    shutdown_us: f64,
    /// (N, seconds) for each N measured.
    reap: Vec<(usize, f64)>,
    /// (N, seconds of CPU the init itself used, user + kernel) for each N.
    reap_cpu: Vec<(usize, f64)>,
    failures: Vec<String>,
}

fn helper_args(mode: &str, rest: &[String]) -> Vec<Vec<u8>> {
    let exe = std::env::current_exe().unwrap();
    let mut v = vec![exe.as_os_str().as_bytes().to_vec(), b"__helper".to_vec(), mode.as_bytes().to_vec()];
    v.extend(rest.iter().map(|s| s.as_bytes().to_vec()));
    v
}

/// `INIT -- /bin/true` against `/bin/true` alone, both as PID 1 of a new
/// namespace, from clone to waitpid; interleaved rounds.
fn bench_startup(inits: &[Init], figs: &mut [Figures], null: c_int, runs: usize) -> f64 {
    let prog = vec![b"/bin/true".to_vec()];
    // Index inits.len() is /bin/true alone.
    let launches: Vec<Launch> = inits
        .iter()
        .map(|i| Launch::new(Some(i), &prog, &[]))
        .chain(std::iter::once(Launch::new(None, &prog, &[])))
        .collect();
    let mut times = vec![Vec::with_capacity(runs); launches.len()];
    // Warm-up: page cache, first-exec costs.
    for l in &launches {
        for _ in 0..5 {
            let pid = l.start(null);
            wait_blocking(pid);
        }
    }
    for round in 0..runs {
        for k in order(launches.len(), round) {
            let t0 = Instant::now();
            let pid = launches[k].start(null);
            let status = wait_blocking(pid);
            let dt = micros(t0.elapsed());
            if status != 0 && k < inits.len() {
                let msg = format!("start-up: `{} -- /bin/true` exited with wait status {status:#x}", inits[k].name);
                if !figs[k].failures.contains(&msg) {
                    figs[k].failures.push(msg);
                }
            }
            times[k].push(dt);
        }
    }
    let baseline = median(&mut times[inits.len()]);
    for (k, f) in figs.iter_mut().enumerate() {
        f.startup_us = median(&mut times[k]);
        f.overhead_us = f.startup_us - baseline;
    }
    baseline
}

/// A Docker container's `/proc/self/mountinfo` and `/proc/self/cgroup`
/// (benches/compare/docker/), captured in one `docker run` of a FROM-scratch
/// image holding only Debian's static busybox, on this cgroup v1 host:
/// `docker run --rm IMG sh -c 'cat /proc/self/mountinfo; echo ====; cat
/// /proc/self/cgroup'`. Bind-mounted over PID 1's own files in the
/// namespace, they make the init see the container's mounts. Every cgroup
/// mount's root there is the container's own cgroup, so rinit then opens
/// `/sys/fs/cgroup/memory/memory.oom_control` and its neighbours, the files a
/// real container opens; here they are the host's root memory cgroup's,
/// which exist too (read, never written, except the eventfd registration
/// that closes with rinit).
fn docker_files() -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/compare/docker");
    (dir.join("mountinfo"), dir.join("cgroup"))
}

/// `unshare -pf --mount-proc [sh -c 'bind-mount the Docker files over
/// /proc/1/…; exec "$@"' sh] ARGV`: ARGV becomes PID 1 of the namespace
/// (the shell execs it, so the bind mounts are over its own /proc/1 files).
fn in_namespace(docker: bool) -> std::process::Command {
    let mut c = std::process::Command::new("unshare");
    c.args(["--pid", "--fork", "--mount-proc"]);
    if docker {
        let (mi, cg) = docker_files();
        c.args([
            "sh",
            "-c",
            "mount --bind \"$0\" /proc/1/mountinfo && mount --bind \"$1\" /proc/1/cgroup && shift && exec \"$@\"",
        ])
        .arg(mi)
        .arg(cg);
    }
    c.stdin(std::process::Stdio::null());
    c
}

/// Whether PID 1 of `in_namespace(true)` reads the captured mountinfo: the
/// bind mount could silently not apply (then the row would measure the host).
fn docker_files_apply() -> Result<(), String> {
    let (mi, _) = docker_files();
    let want = std::fs::read(&mi).map_err(|e| format!("{}: {e}", mi.display()))?;
    let out = in_namespace(true).args(["cat", "/proc/self/mountinfo"]).output().map_err(|e| format!("unshare: {e}"))?;
    if out.stdout == want {
        Ok(())
    } else {
        Err(format!("PID 1 does not see the bind-mounted mountinfo ({})", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// The start-up's user-space instructions (issue 20), exact, so one run
/// each: `unshare -pf --mount-proc valgrind --tool=callgrind INIT --
/// /bin/sleep 0.2` (0.2 s: rinit sets up its OOM watch 3 ms after start, which
/// takes longer under valgrind), callgrind's count for PID 1 (the program is
/// not traced). In this process's environment: every init scans it, so the
/// count grows with it. Once on this host's mountinfo, once on a Docker
/// container's (`docker_files`).
fn bench_instructions(inits: &[Init], figs: &mut [Figures]) {
    let dir = std::env::temp_dir().join(format!("rinit-bench-callgrind-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let docker_ok = docker_files_apply();
    for (init, f) in inits.iter().zip(figs.iter_mut()) {
        for docker in [false, true] {
            if docker && let Err(e) = &docker_ok {
                f.failures.push(format!("instructions on Docker's mountinfo: {e}"));
                continue;
            }
            let out = in_namespace(docker)
                .args(["valgrind", "--tool=callgrind"])
                .arg(format!("--callgrind-out-file={}/callgrind.%p", dir.display()))
                .arg(&init.path)
                .args(init.opts)
                .args(["/bin/sleep", "0.2"])
                .output();
            let Ok(out) = out else {
                f.failures.push("instructions: cannot run unshare/valgrind".to_string());
                continue;
            };
            let stderr = String::from_utf8_lossy(&out.stderr);
            let n = stderr.lines().find_map(|l| l.strip_prefix("==1== Collected : ")?.trim().parse().ok());
            if n.is_none() {
                f.failures.push("instructions: no callgrind count (is valgrind installed?)".to_string());
            }
            if docker {
                f.instructions_docker = n;
            } else {
                f.instructions = n;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Start-up system calls (issue 20), exact but for rare retries, so one
/// run each: `strace -f unshare -pf --mount-proc INIT -- /bin/sleep 0.2`,
/// counting the calls the init's process makes from its execve (included)
/// up to and including the wait it is in when the program exits: set-up,
/// the program's start (fork or clone, not what the child does before and
/// after its execve) and any later set-up (rinit's OOM watch, 3 ms in),
/// but not the reaping and exit that follow the program's end.
fn bench_syscalls(inits: &[Init], figs: &mut [Figures]) {
    let log = std::env::temp_dir().join(format!("rinit-bench-strace-{}", std::process::id()));
    for (init, f) in inits.iter().zip(figs.iter_mut()) {
        let out = std::process::Command::new("strace")
            .arg("-f")
            .arg("-o")
            .arg(&log)
            .args(["unshare", "--pid", "--fork", "--mount-proc"])
            .arg(&init.path)
            .args(init.opts)
            .args(["/bin/sleep", "0.2"])
            .stdin(std::process::Stdio::null())
            .output();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        f.syscalls = match out {
            Ok(o) if o.status.success() => count_startup_calls(&text, &init.path),
            _ => None,
        };
        if f.syscalls.is_none() {
            f.failures.push("system calls: no strace count (is strace installed?)".to_string());
        }
    }
    let _ = std::fs::remove_file(&log);
}

/// In `strace -f` output (lines `PID call(...)`), the calls of the process
/// that execs `init`, from that execve until the program (the next execve
/// of /bin/sleep) exits; a call strace splits into `<unfinished ...>` and
/// `<... resumed>` counts once.
fn count_startup_calls(text: &str, init: &Path) -> Option<usize> {
    let exec_of = |l: &str, path: &[u8]| {
        let (pid, rest) = l.split_once(' ')?;
        let rest = rest.trim_start().strip_prefix("execve(\"")?;
        rest.as_bytes().starts_with(path).then(|| pid.to_string())
    };
    let init_path = init.as_os_str().as_bytes();
    let mut lines = text.lines();
    let init_pid = lines.by_ref().find_map(|l| exec_of(l, init_path))?;
    let mut prog_pid = None;
    let mut n = 1; // the execve itself
    for l in lines {
        let (pid, rest) = l.split_once(' ')?;
        let rest = rest.trim_start();
        if prog_pid.is_none() {
            prog_pid = exec_of(l, b"/bin/sleep\"");
        }
        if Some(pid) == prog_pid.as_deref() && rest.starts_with("+++ exited") {
            return Some(n);
        }
        if pid == init_pid && !rest.starts_with("<...") && !rest.starts_with("+++") && !rest.starts_with("---") {
            n += 1;
        }
    }
    None
}

/// A running `INIT -- helper MODE`, with the pipe the helper reports on.
struct Running {
    pid: c_int,
    report: c_int,
}

fn start_helper(init: &Init, mode: &str, null: c_int) -> Running {
    let (r, w) = pipe();
    let l = Launch::new(Some(init), &helper_args(mode, &[w.to_string()]), &[w]);
    let pid = l.start(null);
    close(w);
    Running { pid, report: r }
}

fn stop(run: &Running) -> bool {
    kill(run.pid, libc::SIGTERM);
    let (_, clean) = wait_exit(run.pid, Duration::from_secs(15));
    close(run.report);
    clean
}

/// All inits at once, each running a helper that sleeps: resident memory,
/// then wake-ups and CPU ticks over `idle` seconds.
fn bench_idle(inits: &[Init], figs: &mut [Figures], null: c_int, idle: Duration) {
    let runs: Vec<Running> = inits.iter().map(|i| start_helper(i, "sleep", null)).collect();
    for (k, r) in runs.iter().enumerate() {
        if read_byte(r.report, Duration::from_secs(10)) != Some(b'R') {
            figs[k].failures.push("idle: the program never became ready".into());
        }
    }
    // Let every init settle into its wait.
    std::thread::sleep(Duration::from_millis(300));
    for (k, r) in runs.iter().enumerate() {
        figs[k].rss_kib = status_field(r.pid, "VmRSS");
        figs[k].hwm_kib = status_field(r.pid, "VmHWM");
    }
    let before: Vec<(u64, u64)> = runs.iter().map(|r| (wakeups(r.pid), cpu_ticks(r.pid))).collect();
    let t0 = Instant::now();
    std::thread::sleep(idle);
    let after: Vec<(u64, u64)> = runs.iter().map(|r| (wakeups(r.pid), cpu_ticks(r.pid))).collect();
    let secs = t0.elapsed().as_secs_f64();
    for k in 0..runs.len() {
        figs[k].wakeups_per_s = (after[k].0 - before[k].0) as f64 / secs;
        figs[k].ticks_per_s = (after[k].1 - before[k].1) as f64 / secs;
    }
    for (k, r) in runs.iter().enumerate() {
        if !stop(r) {
            figs[k].failures.push("idle: did not exit within 15 s of SIGTERM".into());
        }
    }
}

/// All inits at once, each running a helper whose SIGUSR1 handler writes a
/// byte to a pipe: from kill(init, SIGUSR1) to that byte being readable.
/// Twice: as the scheduler places them, then with this process (the
/// sender), every init and every program pinned to one CPU. Unpinned medians
/// are bimodal on a 2-CPU machine (whether the init and the program wake on
/// the sender's CPU or on another moves them by 20-40 µs, against the few
/// µs an init's own path costs); pinned, every init gets the same placement.
fn bench_forward(inits: &[Init], figs: &mut [Figures], null: c_int, runs: usize) {
    let unpinned = forward_medians(inits, figs, null, runs, "forwarding");
    let pinned = on_one_cpu(|| forward_medians(inits, figs, null, runs, "forwarding (pinned)"));
    for (k, f) in figs.iter_mut().enumerate() {
        f.forward_us = unpinned[k];
        f.forward_pinned_us = pinned.as_ref().map_or(f64::NAN, |p| p[k]);
    }
}

/// Runs `f` with this thread (and so every process it starts meanwhile,
/// which inherits the mask) on the first CPU it may use; None if the
/// affinity cannot be set.
fn on_one_cpu<T>(f: impl FnOnce() -> T) -> Option<T> {
    // SAFETY: cpu_set_t is plain data; the calls get valid pointers and sizes.
    unsafe {
        let mut old: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut old) != 0 {
            return None;
        }
        let cpu = (0..libc::CPU_SETSIZE as usize).find(|&c| libc::CPU_ISSET(c, &old))?;
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut one);
        if libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &one) != 0 {
            return None;
        }
        let out = f();
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &old);
        Some(out)
    }
}

/// One forwarding run, inits interleaved: each init's median in µs.
fn forward_medians(inits: &[Init], figs: &mut [Figures], null: c_int, runs: usize, what: &str) -> Vec<f64> {
    let procs: Vec<Running> = inits.iter().map(|i| start_helper(i, "usr1", null)).collect();
    let mut ok = vec![true; procs.len()];
    for (k, r) in procs.iter().enumerate() {
        if read_byte(r.report, Duration::from_secs(10)) != Some(b'R') {
            figs[k].failures.push(format!("{what}: the program never became ready"));
            ok[k] = false;
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    let settle = Duration::from_micros(env_num("BENCH_FORWARD_SETTLE_US", 0) as u64);
    let mut times = vec![Vec::with_capacity(runs); procs.len()];
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut ks: Vec<usize> = (0..procs.len()).collect();
    for round in 0..runs {
        // Shuffled, not rotated: a rotation keeps every init after the same
        // other one, and an init's work after its kill (back into its wait)
        // can fall into the next one's measurement (one CPU).
        for i in (1..ks.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            ks.swap(i, (seed % (i as u64 + 1)) as usize);
        }
        for &k in &ks {
            if !ok[k] {
                continue;
            }
            if !settle.is_zero() {
                // Every process's leftover work from the round before runs
                // before this one starts.
                std::thread::sleep(settle);
            }
            let t0 = Instant::now();
            kill(procs[k].pid, libc::SIGUSR1);
            if read_byte(procs[k].report, Duration::from_secs(2)) == Some(b'U') {
                times[k].push(micros(t0.elapsed()));
            } else {
                figs[k].failures.push(format!("{what}: SIGUSR1 not delivered in round {round}"));
                ok[k] = false;
            }
        }
    }
    procs
        .iter()
        .enumerate()
        .map(|(k, r)| {
            stop(r);
            median(&mut times[k])
        })
        .collect()
}

/// One init at a time (interleaved), each with a helper that SIGTERM ends at
/// once: from kill(init, SIGTERM) to waitpid returning.
fn bench_shutdown(inits: &[Init], figs: &mut [Figures], null: c_int, runs: usize) {
    let mut times = vec![Vec::with_capacity(runs); inits.len()];
    for round in 0..runs {
        for k in order(inits.len(), round) {
            let r = start_helper(&inits[k], "sleep", null);
            if read_byte(r.report, Duration::from_secs(10)) != Some(b'R') {
                figs[k].failures.push("shutdown: the program never became ready".into());
                stop(&r);
                continue;
            }
            let t0 = Instant::now();
            kill(r.pid, libc::SIGTERM);
            let (_, clean) = wait_exit(r.pid, Duration::from_secs(15));
            let dt = micros(t0.elapsed());
            close(r.report);
            if clean {
                times[k].push(dt);
            } else {
                figs[k].failures.push("shutdown: no exit within 15 s of SIGTERM".into());
            }
        }
    }
    for (k, f) in figs.iter_mut().enumerate() {
        f.shutdown_us = median(&mut times[k]);
    }
}

/// One run of the reaping test: the helper makes `n` orphans (grandchildren
/// reparented to PID 1) blocked on one pipe, then the pipe's write end is
/// closed so they all exit together; the helper reports once every one of
/// them has been reaped (kill(pid, 0) fails with ESRCH only after the reap).
fn reap_once(init: &Init, n: usize, null: c_int) -> Result<(f64, f64), String> {
    let (rel_r, rel_w) = pipe();
    let (rep_r, rep_w) = pipe();
    let l = Launch::new(
        Some(init),
        &helper_args("orphans", &[n.to_string(), rel_r.to_string(), rep_w.to_string()]),
        &[rel_r, rep_w],
    );
    let pid = l.start(null);
    close(rel_r);
    close(rep_w);
    let result = (|| {
        match read_byte(rep_r, Duration::from_secs(60)) {
            Some(b'R') => {}
            other => return Err(format!("reaping {n}: the program never became ready ({other:?})")),
        }
        let cpu0 = cpu_secs(pid);
        let t0 = Instant::now();
        close(rel_w);
        match read_byte(rep_r, Duration::from_secs(60)) {
            Some(b'D') => Ok((t0.elapsed().as_secs_f64(), cpu_secs(pid) - cpu0)),
            other => Err(format!("reaping {n}: not all reaped within 60 s ({other:?})")),
        }
    })();
    if result.is_err() {
        close(rel_w);
    }
    kill(pid, libc::SIGTERM);
    let (_, clean) = wait_exit(pid, Duration::from_secs(15));
    close(rep_r);
    if !clean && result.is_ok() {
        return Err(format!("reaping {n}: no exit within 15 s of SIGTERM"));
    }
    result
}

fn bench_reap(inits: &[Init], figs: &mut [Figures], null: c_int, ns: &[usize], reps: usize) {
    for &n in ns {
        let mut times = vec![Vec::with_capacity(reps); inits.len()];
        let mut cpu = vec![Vec::with_capacity(reps); inits.len()];
        for round in 0..reps {
            for k in order(inits.len(), round) {
                match reap_once(&inits[k], n, null) {
                    Ok((t, c)) => {
                        times[k].push(t);
                        cpu[k].push(c);
                    }
                    Err(e) => figs[k].failures.push(e),
                }
            }
        }
        // Best of the rounds: each round takes seconds of both CPUs, so
        // other work on the machine adds large one-sided noise.
        let best = |v: &[f64]| v.iter().copied().fold(f64::NAN, f64::min);
        for (k, f) in figs.iter_mut().enumerate() {
            f.reap.push((n, best(&times[k])));
            f.reap_cpu.push((n, best(&cpu[k])));
        }
    }
}

// ---------------------------------------------------------------------------
// The helper programs

static REPORT_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_usr1(_: c_int) {
    write_byte(REPORT_FD.load(Ordering::Relaxed), b'U');
}

fn arg_fd(args: &[String], i: usize) -> c_int {
    args.get(i).and_then(|a| a.parse().ok()).expect("helper: missing fd argument")
}

fn sleep_forever() -> ! {
    loop {
        // SAFETY: pause has no preconditions.
        unsafe { libc::pause() };
    }
}

fn helper(args: &[String]) -> ! {
    match args.first().map(String::as_str) {
        // Ready, then asleep until a signal ends it.
        Some("sleep") => {
            write_byte(arg_fd(args, 1), b'R');
            sleep_forever()
        }
        // A byte on every SIGUSR1.
        Some("usr1") => {
            let fd = arg_fd(args, 1);
            REPORT_FD.store(fd, Ordering::Relaxed);
            // SAFETY: installing a handler that only calls write(2).
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_usr1 as *const () as usize;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
            }
            write_byte(fd, b'R');
            sleep_forever()
        }
        Some("orphans") => orphans(
            args.get(1).and_then(|a| a.parse().ok()).expect("helper: N"),
            arg_fd(args, 2),
            arg_fd(args, 3),
        ),
        Some("group") => scale::helper(args),
        _ => {
            eprintln!("helper: unknown mode {args:?}");
            std::process::exit(2)
        }
    }
}

fn orphans(n: usize, release: c_int, report: c_int) -> ! {
    let (pids_r, pids_w) = pipe();
    let mut grandchildren: Vec<c_int> = Vec::with_capacity(n);
    const BATCH: usize = 512;
    let mut made = 0;
    while made < n {
        let batch = BATCH.min(n - made);
        for _ in 0..batch {
            // SAFETY: single-threaded; both children only make system calls.
            match unsafe { libc::fork() } {
                0 => unsafe {
                    match libc::fork() {
                        0 => {
                            // The orphan: wait for the release (EOF), exit.
                            let mut b = 0u8;
                            while libc::read(release, (&raw mut b).cast(), 1) < 0 {}
                            libc::_exit(0);
                        }
                        g if g > 0 => {
                            libc::write(pids_w, (&raw const g).cast(), 4);
                            libc::_exit(0);
                        }
                        _ => libc::_exit(1),
                    }
                },
                c if c > 0 => {}
                _ => {
                    eprintln!("helper: fork failed: {}", std::io::Error::last_os_error());
                    std::process::exit(1);
                }
            }
        }
        for _ in 0..batch {
            let mut g: c_int = 0;
            // SAFETY: reading 4 bytes into an int; pipe writes of 4 bytes are atomic.
            let got = unsafe { libc::read(pids_r, (&raw mut g).cast(), 4) };
            if got == 4 {
                grandchildren.push(g);
            }
            let mut st = 0;
            // SAFETY: reaping one of our own children.
            unsafe { libc::waitpid(-1, &mut st, 0) };
        }
        made += batch;
    }
    assert_eq!(grandchildren.len(), n, "helper: lost grandchildren");
    write_byte(report, b'R');
    // Released together with them.
    let mut b = 0u8;
    // SAFETY: reading one byte into a valid buffer.
    while unsafe { libc::read(release, (&raw mut b).cast(), 1) } < 0 {}
    for &g in &grandchildren {
        // A zombie still answers kill(pid, 0); only a reaped one gives ESRCH.
        while kill(g, 0) {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    write_byte(report, b'D');
    sleep_forever()
}

// ---------------------------------------------------------------------------
// The report

fn fmt_opt(v: Option<u64>) -> String {
    v.map_or_else(|| "?".into(), |x| x.to_string())
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        if a == 0.0 { 1.0 } else { f64::INFINITY }
    } else {
        a / b
    }
}

fn yes(ok: bool) -> &'static str {
    if ok { "**yes**" } else { "**NO**" }
}

#[allow(clippy::too_many_lines)]
fn report(inits: &[Init], figs: &[Figures], baseline_us: f64, machine: &str, settings: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{machine}\n\n{settings}\n");
    let ns: Vec<usize> = figs.first().map(|f| f.reap.iter().map(|r| r.0).collect()).unwrap_or_default();
    let mut header = String::from(
        "| init | binary (bytes) | static | start-up (µs) | start-up overhead (µs) | start-up instructions | on Docker's mountinfo | start-up system calls | VmRSS (KiB) | VmHWM (KiB) | idle wake-ups/s | idle CPU ticks/s | forwarding (µs) | forwarding, one CPU (µs) | shutdown (µs) |",
    );
    let mut sep = String::from("|---|--:|:-:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for n in &ns {
        let _ = write!(header, " reap {n} (ms) |");
        sep.push_str("--:|");
    }
    if ns.len() >= 2 {
        let _ = write!(header, " t({})/t({}) |", ns[ns.len() - 1], ns[0]);
        sep.push_str("--:|");
    }
    for n in &ns {
        let _ = write!(header, " init CPU, reap {n} (ms) |");
        sep.push_str("--:|");
    }
    let _ = writeln!(s, "{header}\n{sep}");
    let _ = writeln!(
        s,
        "| (/bin/true alone) | | | {baseline_us:.0} | 0 | | | | | | | | | | |{}",
        " |".repeat(2 * ns.len() + usize::from(ns.len() >= 2))
    );
    for (init, f) in inits.iter().zip(figs) {
        let stat = match f.is_static {
            Some(true) => "yes",
            Some(false) => "no",
            None => "?",
        };
        let mut row = format!(
            "| {} | {} | {stat} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.1} | {:.1} | {:.0} |",
            init.name,
            f.size,
            f.startup_us,
            f.overhead_us,
            fmt_opt(f.instructions),
            fmt_opt(f.instructions_docker),
            fmt_opt(f.syscalls.map(|n| n as u64)),
            fmt_opt(f.rss_kib),
            fmt_opt(f.hwm_kib),
            f.wakeups_per_s,
            f.ticks_per_s,
            f.forward_us,
            f.forward_pinned_us,
            f.shutdown_us
        );
        for (_, t) in &f.reap {
            let _ = write!(row, " {:.1} |", t * 1e3);
        }
        if f.reap.len() >= 2 {
            let _ = write!(row, " {:.2} |", f.reap[f.reap.len() - 1].1 / f.reap[0].1);
        }
        for (_, c) in &f.reap_cpu {
            let _ = write!(row, " {:.1} |", c * 1e3);
        }
        let _ = writeln!(s, "{row}");
    }
    let _ = writeln!(
        s,
        "\nMedians, except reaping: best of the rounds. Start-up: clone to waitpid of `INIT -- /bin/true`; overhead = that minus `/bin/true` alone. \
         Start-up instructions: callgrind's exact count for PID 1 of `unshare -pf --mount-proc valgrind --tool=callgrind INIT -- /bin/sleep 0.2`, in the bench's environment; \
         on Docker's mountinfo: the same with a Docker container's /proc/self/mountinfo and /proc/self/cgroup (benches/compare/docker/, captured from a FROM-scratch busybox container on this host) \
         bind-mounted over the namespace's /proc/1/mountinfo and /proc/1/cgroup before the exec of valgrind (checked: PID 1 reads them). \
         Start-up system calls: `strace -f unshare -pf --mount-proc INIT -- /bin/sleep 0.2`, the calls of the init's own process from its execve \
         up to and including the wait it is in when the program exits (the program's calls, and its child's before its execve, not counted). \
         Forwarding: kill(PID 1, SIGUSR1) to the program's handler writing to a pipe; one CPU: the same with the sender, the init and the program pinned to one CPU (sched_setaffinity, inherited). \
         Shutdown: kill(PID 1, SIGTERM) to waitpid, the program dying of SIGTERM at once. \
         Reaping: release of N orphans blocked on one pipe to the moment all N are reaped \
         (wall time: includes the orphans' own exits, the same work under every init); \
         init CPU: what the init itself spent on CPU, user + kernel, over that time."
    );

    if let Some(t) = reference(inits) {
        let r = &figs[0];
        let tini = &figs[t];
        let tname = &inits[t].name;
        let _ = writeln!(s, "\n### Targets (rinit against {tname}, same run)\n");
        let _ = writeln!(s, "| target | rinit | {tname} | ratio | met |\n|---|--:|--:|--:|:-:|");
        let size_ratio = ratio(r.size as f64, tini.size as f64);
        let _ = writeln!(
            s,
            "| binary ≤ 0.6× and static | {} B, static {} | {} B | {:.2} | {} |",
            r.size,
            fmt_bool(r.is_static),
            tini.size,
            size_ratio,
            yes(size_ratio <= 0.6 && r.is_static == Some(true))
        );
        let rss = |f: &Figures| f.rss_kib.unwrap_or(u64::MAX) as f64;
        let _ = writeln!(
            s,
            "| VmRSS ≤ 1.0× | {} KiB | {} KiB | {:.2} | {} |",
            fmt_opt(r.rss_kib),
            fmt_opt(tini.rss_kib),
            ratio(rss(r), rss(tini)),
            yes(rss(r) <= rss(tini))
        );
        let _ = writeln!(
            s,
            "| zero idle wake-ups (and CPU) | {:.2}/s, {:.2} ticks/s | {:.2}/s, {:.2} ticks/s | | {} |",
            r.wakeups_per_s,
            r.ticks_per_s,
            tini.wakeups_per_s,
            tini.ticks_per_s,
            yes(r.wakeups_per_s == 0.0 && r.ticks_per_s == 0.0)
        );
        let ins = |f: &Figures| f.instructions.map_or(f64::NAN, |n| n as f64);
        let ins_docker = |f: &Figures| f.instructions_docker.map_or(f64::NAN, |n| n as f64);
        let _ = writeln!(
            s,
            "| start-up instructions (callgrind, OOM watch set up) ≤ 1.0× | {} | {} | {:.2} | {} |",
            fmt_opt(r.instructions),
            fmt_opt(tini.instructions),
            ratio(ins(r), ins(tini)),
            yes(ins(r) <= ins(tini))
        );
        let _ = writeln!(
            s,
            "| start-up instructions on Docker's mountinfo ≤ 1.0× | {} | {} | {:.2} | {} |",
            fmt_opt(r.instructions_docker),
            fmt_opt(tini.instructions_docker),
            ratio(ins_docker(r), ins_docker(tini)),
            yes(ins_docker(r) <= ins_docker(tini))
        );
        let calls = |f: &Figures| f.syscalls.map_or(f64::NAN, |n| n as f64);
        let _ = writeln!(
            s,
            "| start-up system calls (strace) ≤ 1.0× | {} | {} | {:.2} | {} |",
            fmt_opt(r.syscalls.map(|n| n as u64)),
            fmt_opt(tini.syscalls.map(|n| n as u64)),
            ratio(calls(r), calls(tini)),
            yes(calls(r) <= calls(tini))
        );
        let _ = writeln!(
            s,
            "| (forwarding latency unpinned, not the target: placement decides it) | {:.1} µs | {:.1} µs | {:.3} | |",
            r.forward_us,
            tini.forward_us,
            ratio(r.forward_us, tini.forward_us)
        );
        for (what, a, b) in [
            ("start-up overhead ≤ 1.0×", r.overhead_us, tini.overhead_us),
            ("forwarding latency, one CPU ≤ 1.0×", r.forward_pinned_us, tini.forward_pinned_us),
            ("shutdown latency ≤ 1.0×", r.shutdown_us, tini.shutdown_us),
        ] {
            let q = ratio(a, b);
            let _ = writeln!(s, "| {what} | {a:.1} µs | {b:.1} µs | {q:.3} | {} |", yes(a <= b));
        }
        for ((n, a), (_, b)) in r.reap.iter().zip(&tini.reap) {
            let _ = writeln!(
                s,
                "| reaping {n} ≤ 1.0× | {:.1} ms | {:.1} ms | {:.2} | {} |",
                a * 1e3,
                b * 1e3,
                ratio(*a, *b),
                yes(a <= b)
            );
        }
        if r.reap.len() >= 2 {
            let (n0, a0) = r.reap[0];
            let (n1, a1) = r.reap[r.reap.len() - 1];
            let growth = a1 / a0;
            let linear = n1 as f64 / n0 as f64;
            let tg = tini.reap[tini.reap.len() - 1].1 / tini.reap[0].1;
            // Linear: grows no faster than N (with 25% slack for noise).
            let _ = writeln!(
                s,
                "| reaping linear in N: t({n1})/t({n0}) ≈ {linear:.0} | {growth:.2} | {tg:.2} | | {} |",
                yes(growth <= linear * 1.25)
            );
        }
    } else {
        let _ = writeln!(s, "\n(tini not installed: no ratios.)");
    }
    let failures: Vec<String> = inits
        .iter()
        .zip(figs)
        .flat_map(|(i, f)| f.failures.iter().map(move |m| format!("- {}: {m}", i.name)))
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(s, "\n### Failures\n\n{}", failures.join("\n"));
    }
    s
}

fn fmt_bool(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    }
}

/// `BENCH_ONLY=counts`: the exact counts alone, in a few seconds (for
/// trying a change to the start-up).
fn counts_only() {
    // SAFETY: no other thread runs yet.
    unsafe { std::env::remove_var("LD_LIBRARY_PATH") };
    let inits = find_inits();
    let mut figs = vec![Figures::default(); inits.len()];
    bench_instructions(&inits, &mut figs);
    bench_syscalls(&inits, &mut figs);
    println!("| init | start-up instructions | on Docker's mountinfo | start-up system calls |\n|---|--:|--:|--:|");
    for (i, f) in inits.iter().zip(&figs) {
        println!(
            "| {} | {} | {} | {} |",
            i.name,
            fmt_opt(f.instructions),
            fmt_opt(f.instructions_docker),
            fmt_opt(f.syscalls.map(|n| n as u64))
        );
    }
    for (i, f) in inits.iter().zip(&figs) {
        for m in &f.failures {
            println!("- {}: {m}", i.name);
        }
    }
}

/// `BENCH_ONLY=forwarding`: the pinned forwarding alone, in blocks of
/// interleaved rounds, each block's median per init and the median of those.
fn forwarding_only() {
    // SAFETY: no other thread runs yet.
    unsafe { std::env::remove_var("LD_LIBRARY_PATH") };
    let inits = find_inits();
    let runs = env_num("BENCH_SIGNAL_RUNS", 1000);
    let blocks = env_num("BENCH_FORWARD_BLOCKS", 5).max(1);
    let null = devnull();
    let mut figs = vec![Figures::default(); inits.len()];
    let load_before = loadavg();
    let mut per_block: Vec<Vec<f64>> = vec![Vec::new(); inits.len()];
    for b in 0..blocks {
        eprintln!("compare: forwarding on one CPU, block {}/{blocks} ({runs} rounds)…", b + 1);
        let Some(m) = on_one_cpu(|| forward_medians(&inits, &mut figs, null, runs, "forwarding (pinned)")) else {
            eprintln!("compare: cannot pin to one CPU");
            std::process::exit(1);
        };
        for (k, v) in m.into_iter().enumerate() {
            per_block[k].push(v);
        }
    }
    println!(
        "Load average {load_before} before, {} after; {blocks} blocks of {runs} interleaved rounds on one CPU.\n",
        loadavg()
    );
    println!("| init | median of block medians (µs) | block medians (µs) |\n|---|--:|---|");
    for (i, v) in inits.iter().zip(&mut per_block) {
        let list: Vec<String> = v.iter().map(|x| format!("{x:.1}")).collect();
        println!("| {} | {:.1} | {} |", i.name, median(v), list.join(", "));
    }
    for (i, f) in inits.iter().zip(&figs) {
        for m in &f.failures {
            println!("- {}: {m}", i.name);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("__helper") {
        helper(&args[1..]);
    }
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --benches` runs bench targets without `--bench`.
        println!("compare: a benchmark; run it with `scripts/bench.sh` or `cargo bench --bench compare`");
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("compare: needs root (new PID and mount namespaces, and mounting /proc)");
        std::process::exit(1);
    }
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let (run_main, run_scale) = match only.as_str() {
        "" => (true, true),
        "main" => (true, false),
        "scale" => (false, true),
        "counts" => {
            counts_only();
            return;
        }
        "forwarding" => {
            forwarding_only();
            return;
        }
        other => {
            eprintln!("compare: BENCH_ONLY={other:?}: expected `main`, `scale`, `counts` or `forwarding`");
            std::process::exit(2);
        }
    };
    // cargo sets LD_LIBRARY_PATH for the bench: every dynamically linked
    // init (tini, dumb-init) would then search its directories at start-up,
    // which no container's init does (87 system calls more for tini here).
    // SAFETY: no other thread runs yet.
    unsafe { std::env::remove_var("LD_LIBRARY_PATH") };
    let inits = find_inits();
    let startup_runs = env_num("BENCH_STARTUP_RUNS", 400);
    let signal_runs = env_num("BENCH_SIGNAL_RUNS", 1000);
    let shutdown_runs = env_num("BENCH_SHUTDOWN_RUNS", 150);
    let idle_secs = env_num("BENCH_IDLE_SECS", 5);
    let reap_reps = env_num("BENCH_REAP_REPS", 3);
    let reap_ns = env_list("BENCH_REAP_N", "5000,20000");
    let scale_settings = scale::Settings::from_env();

    let load_before = loadavg();
    let cpu0 = cpu_sample();
    let started = Instant::now();
    let null = devnull();
    let mut figs = vec![Figures::default(); inits.len()];
    for (i, f) in inits.iter().zip(&mut figs) {
        f.size = std::fs::metadata(&i.path).map_or(0, |m| m.len());
        f.is_static = is_static(&i.path);
    }
    let names: Vec<&str> = inits.iter().map(|i| i.name.as_str()).collect();
    let mut baseline = f64::NAN;
    let mut load_before_reap = String::new();
    if run_main {
        eprintln!("compare: {} — start-up ({startup_runs} rounds)…", names.join(", "));
        baseline = bench_startup(&inits, &mut figs, null, startup_runs);
        eprintln!("compare: start-up instructions (callgrind, one run each)…");
        bench_instructions(&inits, &mut figs);
        eprintln!("compare: start-up system calls (strace, one run each)…");
        bench_syscalls(&inits, &mut figs);
        eprintln!("compare: memory and idle cost ({idle_secs} s)…");
        bench_idle(&inits, &mut figs, null, Duration::from_secs(idle_secs as u64));
        eprintln!("compare: signal forwarding ({signal_runs} rounds, then as many on one CPU)…");
        bench_forward(&inits, &mut figs, null, signal_runs);
        eprintln!("compare: shutdown ({shutdown_runs} rounds)…");
        bench_shutdown(&inits, &mut figs, null, shutdown_runs);
        // Before the reaping test: its N runnable orphans inflate the load average.
        load_before_reap = loadavg();
        eprintln!("compare: reaping N = {reap_ns:?} ({reap_reps} rounds)…");
        bench_reap(&inits, &mut figs, null, &reap_ns, reap_reps);
    }
    let load_after_main = loadavg();
    // Last: its up to 20,000 processes per round weigh on the load average.
    let scale_inits = scale::pick(&inits);
    let scale = run_scale.then(|| scale::bench(&scale_inits, null, &scale_settings));
    let cpu1 = cpu_sample();
    let busy = ratio((cpu1.busy - cpu0.busy) as f64, (cpu1.total - cpu0.total) as f64);
    let took = started.elapsed().as_secs_f64();

    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let loads = if run_main {
        format!(
            "load average {load_before} before the run, {load_before_reap} before the reaping test, \
             {load_after_main} after it (its N runnable orphans count in the load average)"
        )
    } else {
        format!("load average {load_before} before the run")
    };
    let machine = format!(
        "Machine: {} CPUs ({}), Linux {}; {loads}; all CPUs {:.0}% busy during the run ({took:.0} s, this benchmark included). CLK_TCK {}.",
        nproc(),
        cpu_model(),
        kernel.trim(),
        busy * 100.0,
        clk_tck()
    );
    let version = std::process::Command::new(&inits[0].path)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut settings = format!("Measured: `{version}` ({}).", inits[0].path.display());
    if run_main {
        let _ = write!(
            settings,
            " Runs: start-up {startup_runs} rounds, forwarding {signal_runs} rounds, shutdown {shutdown_runs} rounds, \
             idle window {idle_secs} s, reaping best of {reap_reps} rounds per N; the inits interleaved in rotating order (forwarding: shuffled)."
        );
    }
    settings.push_str(
        " Every init is PID 1 of a new PID namespace with its own /proc (like `unshare --pid --fork --mount-proc`).",
    );
    if run_main {
        print!("{}", report(&inits, &figs, baseline, &machine, &settings));
    } else {
        println!("{machine}\n\n{settings}");
    }
    if let Some(r) = scale {
        print!("{}", scale::report(&scale_inits, &r, scale_settings.runs));
    }
}
