//! Issue 5: rinit inside a real Docker engine, beside the docker-init (tini)
//! that `docker run --init` uses.
//!
//! The image is Dockerfile.test (`FROM scratch`: the static release rinit,
//! Debian's static busybox, the scenarios of tests/docker-scenarios), built
//! once per test process by scripts/docker-image.sh under a tag holding the
//! process id, and removed when the process exits. Every container has a
//! unique name and is removed by a guard. Tests synchronise on `docker logs`
//! lines, on files of a bind-mounted volume and on `docker exec` returning,
//! never on sleeps. Where no Docker engine answers, one line says so and the
//! tests return early.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::{drain, skip, wait_exit, wait_until};

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// "Should happen promptly": only something broken waits it out.
const PATIENCE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------- commands

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Out {
    fn all(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }
}

/// Runs a command to its end, killing it after `timeout` (then `code` is None
/// and stderr says so).
fn run_within(cmd: &mut Command, timeout: Duration) -> Out {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let finished = wait_exit(child.id(), timeout);
    if !finished {
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    let elapsed = started.elapsed();
    let stdout = stdout.recv_timeout(PATIENCE).unwrap_or_default();
    let mut stderr = stderr.recv_timeout(PATIENCE).unwrap_or_default();
    if !finished {
        stderr.push_str(&format!("\n(killed after {timeout:?}: {cmd:?})"));
    }
    Out {
        code: if finished { status.code() } else { None },
        stdout,
        stderr,
        elapsed,
    }
}

fn docker<I, S>(args: I) -> Out
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    run_within(Command::new("docker").args(args), PATIENCE)
}

// ------------------------------------------------------------- engine, image

/// Writes one line straight to fd 2, past the test harness's capture.
fn visible(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn engine_answers() -> bool {
    static ANSWERS: OnceLock<bool> = OnceLock::new();
    *ANSWERS.get_or_init(|| {
        // `docker` itself may be missing: then there is no engine either.
        let out = match Command::new("docker")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            Ok(_) => run_within(
                Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]),
                Duration::from_secs(30),
            ),
            Err(e) => Out {
                code: None,
                stdout: String::new(),
                stderr: format!("no docker command: {e}"),
                elapsed: Duration::ZERO,
            },
        };
        let ok = out.code == Some(0) && !out.stdout.trim().is_empty();
        if !ok {
            let why = out
                .stderr
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no answer")
                .trim()
                .to_string();
            visible(&format!(
                "tests/docker.rs: SKIPPED, no Docker engine answers ({why})"
            ));
        }
        ok
    })
}

/// The newest modification time among the files the binary is built from.
fn newest_source() -> Option<std::time::SystemTime> {
    fn walk(dir: &Path, newest: &mut Option<std::time::SystemTime>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, newest);
            } else if let Ok(t) = entry.metadata().and_then(|m| m.modified()) {
                *newest = (*newest).max(Some(t));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut newest = None;
    walk(&root.join("src"), &mut newest);
    for f in ["Cargo.toml", "Cargo.lock", "build.rs", "LICENSE"] {
        if let Ok(t) = std::fs::metadata(root.join(f)).and_then(|m| m.modified()) {
            newest = newest.max(Some(t));
        }
    }
    newest
}

/// The release rinit (what ships, and what the image holds), built with
/// `cargo build --release` if it is missing or older than its sources.
fn release_rinit() -> PathBuf {
    static RELEASE: OnceLock<PathBuf> = OnceLock::new();
    RELEASE
        .get_or_init(|| {
            // CARGO_BIN_EXE_rinit is .../<target>/debug/rinit.
            let debug = Path::new(env!("CARGO_BIN_EXE_rinit"));
            let release = debug
                .parent()
                .unwrap()
                .parent()
                .unwrap()
                .join("release")
                .join("rinit");
            let built = std::fs::metadata(&release).and_then(|m| m.modified()).ok();
            if built.is_none() || built < newest_source() {
                // The shipped build where the repository has its script
                // (same path); plain `cargo build --release` otherwise.
                let root = Path::new(env!("CARGO_MANIFEST_DIR"));
                let script = root.join("scripts/build.sh");
                let mut cmd = if script.is_file() {
                    Command::new(script)
                } else {
                    let mut c =
                        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
                    c.args(["build", "--release"]);
                    c
                };
                cmd.current_dir(root);
                let out = run_within(&mut cmd, Duration::from_secs(900));
                assert_eq!(
                    out.code,
                    Some(0),
                    "building the release rinit failed:\n{}",
                    out.all()
                );
            }
            assert!(
                release.is_file(),
                "no release binary at {}",
                release.display()
            );
            release
        })
        .clone()
}

static IMAGE_TAG: OnceLock<String> = OnceLock::new();

extern "C" fn remove_image() {
    if let Some(tag) = IMAGE_TAG.get() {
        let _ = Command::new("docker")
            .args(["rmi", "-f", tag])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn pid_alive(pid: &str) -> bool {
    Path::new("/proc").join(pid).exists()
}

/// Removes what a killed earlier run (whose process is gone) left behind.
fn remove_leftovers() {
    let out = docker([
        "ps",
        "-a",
        "--filter",
        "label=rinit-test-pid",
        "--format",
        "{{.Names}} {{.Label \"rinit-test-pid\"}}",
    ]);
    for line in out.stdout.lines() {
        if let Some((name, pid)) = line.split_once(' ')
            && !pid_alive(pid)
        {
            docker(["rm", "-f", name]);
        }
    }
    let out = docker([
        "images",
        "rinit-test",
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ]);
    for image in out.stdout.lines() {
        if let Some(pid) = image.strip_prefix("rinit-test:pid-")
            && !pid_alive(pid)
        {
            docker(["rmi", "-f", image]);
        }
    }
}

/// The test image's tag, built on first use; None (after one visible line)
/// where no engine answers.
fn image() -> Option<&'static str> {
    static BUILT: OnceLock<Result<String, String>> = OnceLock::new();
    if !engine_answers() {
        skip("no Docker engine answers");
        return None;
    }
    let built = BUILT.get_or_init(|| {
        remove_leftovers();
        let tag = format!("rinit-test:pid-{}", std::process::id());
        let rinit = release_rinit();
        // Registered before the build, so a half-built image goes too.
        if IMAGE_TAG.set(tag.clone()).is_ok() {
            // SAFETY: remove_image is a plain extern "C" fn with no arguments.
            unsafe { libc::atexit(remove_image) };
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/docker-image.sh");
        let out = run_within(
            Command::new(script).arg(&tag).env("RINIT_BIN", &rinit),
            Duration::from_secs(300),
        );
        if out.code == Some(0) {
            Ok(tag)
        } else {
            Err(format!("scripts/docker-image.sh failed:\n{}", out.all()))
        }
    });
    match built {
        Ok(tag) => Some(tag.as_str()),
        Err(e) => panic!("{e}"),
    }
}

// ---------------------------------------------------------------- containers

/// A uniquely named container, removed (`docker rm -f`) on drop.
struct Container {
    name: String,
}

impl Container {
    fn named(tag: &str) -> Container {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "rinit-test-{}-{}-{}",
            std::process::id(),
            tag,
            N.fetch_add(1, Ordering::SeqCst)
        );
        Container { name }
    }

    /// `docker run` arguments that name and label the container.
    fn run_args(&self, detach: bool) -> Vec<String> {
        let mut a = vec!["run".to_string()];
        if detach {
            a.push("-d".into());
        }
        a.extend([
            "--name".into(),
            self.name.clone(),
            "--label".into(),
            format!("rinit-test-pid={}", std::process::id()),
        ]);
        a
    }

    /// `docker run -d` with `args` between the name and the image-and-command
    /// part `rest`; panics if it does not start.
    fn start(&self, opts: &[&str], rest: &[&str]) {
        let mut a = self.run_args(true);
        a.extend(opts.iter().map(|s| s.to_string()));
        a.extend(rest.iter().map(|s| s.to_string()));
        let out = docker(&a);
        assert_eq!(
            out.code,
            Some(0),
            "docker {a:?} did not start:\n{}",
            out.all()
        );
    }

    /// `docker run` in the foreground: its exit status is the container's.
    fn run(&self, opts: &[&str], rest: &[&str]) -> Out {
        let mut a = self.run_args(false);
        a.extend(opts.iter().map(|s| s.to_string()));
        a.extend(rest.iter().map(|s| s.to_string()));
        docker(&a)
    }

    fn logs(&self) -> Logs {
        Logs::follow(&self.name)
    }

    /// `docker stop -t 10` (Docker's own default), timed.
    fn stop(&self) -> Out {
        let out = docker(["stop", "-t", "10", &self.name]);
        assert_eq!(out.code, Some(0), "docker stop:\n{}", out.all());
        out
    }

    fn exit_code(&self) -> i32 {
        let out = docker(["wait", &self.name]);
        assert_eq!(out.code, Some(0), "docker wait:\n{}", out.all());
        out.stdout
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("docker wait said {:?}", out.stdout))
    }

    fn inspect(&self, format: &str) -> String {
        let out = docker(["inspect", "-f", format, &self.name]);
        assert_eq!(out.code, Some(0), "docker inspect:\n{}", out.all());
        out.stdout.trim().to_string()
    }

    fn exec(&self, cmd: &[&str]) -> Out {
        let mut a = vec!["exec", self.name.as_str()];
        a.extend(cmd);
        docker(a)
    }

    /// PID 1's command line, NULs as spaces.
    fn pid1_cmdline(&self) -> String {
        let out = self.exec(&["cat", "/proc/1/cmdline"]);
        assert_eq!(
            out.code,
            Some(0),
            "docker exec cat /proc/1/cmdline:\n{}",
            out.all()
        );
        out.stdout.trim_end_matches('\0').replace('\0', " ")
    }

    fn all_logs(&self) -> String {
        let out = docker(["logs", &self.name]);
        format!("{}{}", out.stdout, out.stderr)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `docker logs -f`, line by line (stdout and stderr together).
struct Logs {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Logs {
    fn follow(name: &str) -> Logs {
        let mut child = Command::new("docker")
            .args(["logs", "-f", name])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        for r in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            thread::spawn(move || {
                for line in BufReader::new(r).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Logs {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Blocks until the container has logged `want` (a whole line).
    fn wait_for(&mut self, want: &str) {
        if self.seen.iter().any(|l| l == want) {
            return;
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line == want;
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(e) => panic!(
                    "no log line {want:?} ({e:?}); logged so far: {:?}",
                    self.seen
                ),
            }
        }
    }
}

impl Drop for Logs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory to bind-mount at /out, removed on drop.
struct Volume(PathBuf);

impl Volume {
    fn new(tag: &str) -> Volume {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rinit-docker-{}-{}-{}",
            std::process::id(),
            tag,
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Volume(dir)
    }

    fn mount(&self) -> String {
        format!("{}:/out", self.0.display())
    }

    fn read(&self, file: &str) -> Option<String> {
        std::fs::read_to_string(self.0.join(file)).ok()
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// -------------------------------------------------------------------- tests

#[test]
fn exit_codes_pass_through_docker_run() {
    let Some(img) = image() else { return };
    for (script, want) in [
        ("exit 0", 0),
        ("exit 7", 7),
        ("exit 255", 255),
        ("kill -TERM $$", 143),
        ("kill -KILL $$", 137),
    ] {
        let c = Container::named("exit");
        let out = c.run(&["--rm"], &[img, "sh", "-c", script]);
        assert_eq!(
            out.code,
            Some(want),
            "sh -c '{script}' under rinit in docker:\n{}",
            out.all()
        );
    }
    let c = Container::named("exit");
    let out = c.run(&["--rm"], &[img, "/no/such/program"]);
    assert_eq!(out.code, Some(127), "{}", out.all());
    assert!(
        out.stderr
            .contains("rinit: cannot run '/no/such/program': No such file or directory"),
        "{}",
        out.all()
    );
    // Options of rinit itself, given through --entrypoint.
    let c = Container::named("exit");
    let out = c.run(
        &["--rm", "--entrypoint", "/rinit"],
        &[img, "-e", "7", "--", "sh", "-c", "exit 7"],
    );
    assert_eq!(out.code, Some(0), "-e 7 remaps 7 to 0:\n{}", out.all());
}

#[test]
fn docker_stop_returns_at_once_with_143_when_the_program_exits_on_sigterm() {
    let Some(img) = image() else { return };
    let c = Container::named("stop");
    c.start(&[], &[img, "/tests/term-exits.sh"]);
    c.logs().wait_for("ready");
    let stop = c.stop();
    assert_eq!(c.exit_code(), 143, "logs:\n{}", c.all_logs());
    assert!(
        stop.elapsed < Duration::from_secs(1),
        "docker stop took {:?}",
        stop.elapsed
    );
}

/// How the cleanup scenario is started.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Launch {
    /// The image's ENTRYPOINT: `/rinit -- /tests/cleanup.sh`.
    Rinit,
    /// `docker run --init`: Docker's own docker-init (tini).
    DockerInit,
    /// tini-static bind-mounted at /sbin/docker-init and run the way dockerd
    /// runs its init, where the daemon has no docker-init.
    TiniMounted,
    /// The release rinit bind-mounted read-only at /sbin/docker-init and run
    /// as `/sbin/docker-init -- CMD`, exactly how dockerd runs its init.
    RinitAsDockerInit,
}

struct Cleanup {
    code: i32,
    stop: Duration,
    daemon: Option<String>,
    job: Option<String>,
    pid1: String,
    logs: String,
}

/// Starts cleanup.sh (a setsid daemon and a background job that write a file
/// to /out on SIGTERM), waits until all three have said they are ready, and
/// `docker stop`s it.
fn cleanup_scenario(img: &str, init: Launch) -> Cleanup {
    let vol = Volume::new("cleanup");
    let mount = vol.mount();
    let rinit = release_rinit();
    let rinit_mount = format!("{}:/sbin/docker-init:ro", rinit.display());
    let tini_mount = "/usr/bin/tini-static:/sbin/docker-init:ro".to_string();
    let mut opts: Vec<&str> = vec!["-v", &mount];
    let mut rest: Vec<&str> = vec![];
    match init {
        Launch::Rinit => rest.push(img),
        Launch::DockerInit => {
            // docker-init -- ENTRYPOINT CMD: the script is the entrypoint.
            opts.extend(["--init", "--entrypoint", "/tests/cleanup.sh"]);
            rest.push(img);
        }
        Launch::TiniMounted | Launch::RinitAsDockerInit => {
            let m = if init == Launch::TiniMounted {
                &tini_mount
            } else {
                &rinit_mount
            };
            opts.extend(["-v", m, "--entrypoint", "/sbin/docker-init"]);
            rest.extend([img, "--"]);
        }
    }
    if init != Launch::DockerInit {
        rest.push("/tests/cleanup.sh");
    }
    rest.push("/out");
    let c = Container::named("cleanup");
    c.start(&opts, &rest);
    let mut logs = c.logs();
    for line in ["program-ready", "daemon-ready", "job-ready"] {
        logs.wait_for(line);
    }
    let pid1 = c.pid1_cmdline();
    let stop = c.stop();
    Cleanup {
        code: c.exit_code(),
        stop: stop.elapsed,
        daemon: vol.read("daemon-cleaned"),
        job: vol.read("job-cleaned"),
        pid1,
        logs: c.all_logs(),
    }
}

#[test]
fn docker_stop_lets_a_setsid_daemon_and_a_background_job_clean_up() {
    let Some(img) = image() else { return };
    let r = cleanup_scenario(img, Launch::Rinit);
    assert_eq!(r.pid1, "/rinit -- /tests/cleanup.sh /out");
    assert_eq!(
        r.code, 143,
        "the program died of SIGTERM; logs:\n{}",
        r.logs
    );
    assert_eq!(
        r.daemon.as_deref(),
        Some("cleaned\n"),
        "the setsid daemon's cleanup file; logs:\n{}",
        r.logs
    );
    assert_eq!(
        r.job.as_deref(),
        Some("cleaned\n"),
        "the background job's cleanup file; logs:\n{}",
        r.logs
    );
    // They were signalled when the program exited, not at grace/2 (5 s).
    assert!(
        r.stop < Duration::from_secs(3),
        "docker stop took {:?}",
        r.stop
    );
}

#[test]
fn docker_run_init_loses_the_cleanup_that_rinit_keeps() {
    let Some(img) = image() else { return };
    // Does the daemon have its docker-init? If not, run tini-static the way
    // dockerd would.
    let probe = Container::named("probe");
    let out = probe.run(
        &["--rm", "--init", "--entrypoint", "/bin/cat"],
        &[img, "/proc/1/cmdline"],
    );
    let init = if out.code == Some(0) && out.stdout.starts_with("/sbin/docker-init\0--\0") {
        Launch::DockerInit
    } else {
        visible(&format!(
            "tests/docker.rs: `docker run --init` does not work here ({}), so tini-static is bind-mounted at /sbin/docker-init",
            out.stderr.lines().next().unwrap_or("").trim()
        ));
        assert!(
            Path::new("/usr/bin/tini-static").is_file(),
            "no /usr/bin/tini-static: install tini (scripts/setup.sh)"
        );
        Launch::TiniMounted
    };
    let r = cleanup_scenario(img, init);
    assert_eq!(
        r.pid1, "/sbin/docker-init -- /tests/cleanup.sh /out",
        "{init:?}"
    );
    assert_eq!(r.code, 143, "logs:\n{}", r.logs);
    // tini exits as soon as the program has: the kernel SIGKILLs the daemon
    // and the job before either can clean up.
    assert_eq!(
        r.daemon, None,
        "under docker-init the daemon was not expected to clean up"
    );
    assert_eq!(
        r.job, None,
        "under docker-init the background job was not expected to clean up"
    );
}

#[test]
fn rinit_as_docker_init_behaves_the_same() {
    let Some(img) = image() else { return };
    let r = cleanup_scenario(img, Launch::RinitAsDockerInit);
    assert_eq!(r.pid1, "/sbin/docker-init -- /tests/cleanup.sh /out");
    assert_eq!(r.code, 143, "logs:\n{}", r.logs);
    assert_eq!(r.daemon.as_deref(), Some("cleaned\n"), "logs:\n{}", r.logs);
    assert_eq!(r.job.as_deref(), Some("cleaned\n"), "logs:\n{}", r.logs);
    assert!(
        r.stop < Duration::from_secs(3),
        "docker stop took {:?}",
        r.stop
    );

    let rinit = release_rinit();
    let mount = format!("{}:/sbin/docker-init:ro", rinit.display());
    for (script, want) in [("exit 3", 3), ("kill -TERM $$", 143)] {
        let c = Container::named("as-init");
        let out = c.run(
            &["--rm", "-v", &mount, "--entrypoint", "/sbin/docker-init"],
            &[img, "--", "sh", "-c", script],
        );
        assert_eq!(out.code, Some(want), "{script}:\n{}", out.all());
    }
}

#[test]
fn with_grace_1s_a_program_that_ignores_sigterm_is_killed_at_about_1s() {
    let Some(img) = image() else { return };
    let c = Container::named("grace");
    c.start(&["-e", "RINIT_GRACE=1s"], &[img, "/tests/ignore-term.sh"]);
    c.logs().wait_for("ready");
    let stop = c.stop();
    assert_eq!(c.exit_code(), 137, "logs:\n{}", c.all_logs());
    // Docker's own SIGKILL would come at 10 s.
    assert!(
        stop.elapsed >= Duration::from_millis(800) && stop.elapsed <= Duration::from_secs(3),
        "docker stop took {:?}, expected about 1 s",
        stop.elapsed
    );
}

/// Zombies in the container, as `ps` inside it shows them.
fn zombies(c: &Container) -> Vec<String> {
    let out = c.exec(&["ps", "-o", "stat,pid,ppid,comm"]);
    assert_eq!(out.code, Some(0), "docker exec ps:\n{}", out.all());
    out.stdout
        .lines()
        .skip(1)
        .filter(|l| l.trim_start().starts_with('Z'))
        .map(str::to_string)
        .collect()
}

#[test]
fn no_zombies_after_an_orphan_storm() {
    let Some(img) = image() else { return };
    const N: &str = "100";

    // Control: with `sleep` as PID 1 nobody reaps, and ps shows every orphan
    // of the storm as a zombie; so an empty list below means something.
    let control = Container::named("storm-control");
    control.start(&["--entrypoint", "/bin/sleep"], &[img, "1000"]);
    let out = control.exec(&["/tests/orphan-storm.sh", N]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(zombies(&control).len(), 100, "the control's zombies");

    // rinit: orphans of the program, then orphans of a `docker exec`.
    let c = Container::named("storm");
    c.start(
        &[],
        &[
            img,
            "sh",
            "-c",
            &format!("/tests/orphan-storm.sh {N}; echo program-storm-over; exec sleep 1000"),
        ],
    );
    c.logs().wait_for("program-storm-over");
    let out = c.exec(&["/tests/orphan-storm.sh", N]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    // Every orphan has exited (the storm's pipe closed); rinit reaps on each
    // SIGCHLD, so a zombie may only be caught in the instant before that.
    // One that stays is a bug.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let z = zombies(&c);
        if z.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "zombies stay under rinit: {z:?}");
    }
    assert_eq!(c.pid1_cmdline().split(' ').next(), Some("/rinit"));
}

#[test]
fn pids_max_fails_clearly_in_an_unprivileged_container() {
    let Some(img) = image() else { return };
    let c = Container::named("pids-ro");
    let out = c.run(
        &["--rm", "--entrypoint", "/rinit"],
        &[
            img,
            "--pids-max",
            "10",
            "--",
            "sh",
            "-c",
            "echo program-started",
        ],
    );
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(
        !out.stdout.contains("program-started"),
        "nothing may start:\n{}",
        out.all()
    );
    assert!(
        out.stderr.contains("/sys/fs/cgroup"),
        "the message names the path:\n{}",
        out.all()
    );
    assert!(
        out.stderr.contains("--pids-limit"),
        "the message suggests docker run --pids-limit:\n{}",
        out.all()
    );
}

#[test]
fn pids_max_limits_forks_where_the_cgroup_filesystem_is_writable() {
    let Some(img) = image() else { return };
    // --privileged where the engine allows it; otherwise (the daemon lacks
    // capabilities to grant) a writable bind mount of the host's cgroups.
    let probe = Container::named("pids-probe");
    let out = probe.run(&["--rm", "--privileged"], &[img, "true"]);
    let writable: Vec<&str> = if out.code == Some(0) {
        vec!["--privileged"]
    } else {
        visible(&format!(
            "tests/docker.rs: --privileged does not start here ({}); using a writable cgroup mount instead",
            out.stderr.lines().next().unwrap_or("").trim()
        ));
        vec![
            "--cgroupns",
            "host",
            "-v",
            "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        ]
    };

    // Control: without the limit, all 30 processes start.
    let c = Container::named("pids-control");
    let out = c.run(&writable, &[img, "/tests/fork-many.sh", "30"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(out.stdout.contains("all started"), "{}", out.all());

    let c = Container::named("pids");
    let mut opts = writable.clone();
    opts.extend(["-e", "RINIT_PIDS_MAX=10"]);
    let out = c.run(&opts, &[img, "/tests/fork-many.sh", "30"]);
    assert!(
        !out.stdout.contains("all started"),
        "pids.max 10 let 30 processes start:\n{}",
        out.all()
    );
    assert!(
        out.stderr.contains("can't fork"),
        "a fork fails inside the container:\n{}",
        out.all()
    );
    let started: u32 = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("started "))
        .filter_map(|n| n.parse().ok())
        .max()
        .unwrap_or(0);
    assert!(started < 10, "{started} sleeps started under pids.max 10");
    // The shell exits 2 when it cannot fork; rinit passes that on, having
    // shut down the sleeps that did start.
    assert_eq!(out.code, Some(2), "{}", out.all());
}

#[test]
fn an_oom_kill_is_reported_in_docker_logs() {
    let Some(img) = image() else { return };
    let c = Container::named("oom");
    // dd's 64 MiB buffer, filled from /dev/zero, cannot fit under 32 MiB
    // (no swap either).
    c.start(
        &["--memory", "32m", "--memory-swap", "32m"],
        &[
            img,
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            "bs=64M",
            "count=1",
        ],
    );
    let code = c.exit_code();
    let logs = c.all_logs();
    assert_eq!(
        c.inspect("{{.State.OOMKilled}}"),
        "true",
        "Docker saw no OOM kill; logs:\n{logs}"
    );
    assert_eq!(code, 137, "logs:\n{logs}");
    assert!(
        logs.contains("[rinit] 'dd' (pid ")
            && logs.contains("was killed by the kernel OOM killer (memory limit 32 MiB)"),
        "rinit's OOM report in docker logs:\n{logs}"
    );
}

#[test]
fn a_docker_exec_process_gets_sigterm_and_cleans_up_on_docker_stop() {
    let Some(img) = image() else { return };
    let vol = Volume::new("exec");
    let mount = vol.mount();
    let c = Container::named("exec");
    c.start(&["-v", &mount], &[img, "/tests/term-exits.sh"]);
    c.logs().wait_for("ready");
    // Started by the engine, not by rinit: its parent is outside the
    // container, so rinit gets no SIGCHLD for it and it is no child of rinit.
    let out = docker([
        "exec",
        "-d",
        &c.name,
        "sh",
        "-c",
        "trap 'echo cleaned > /out/exec-cleaned; exit 0' TERM; echo ready > /out/exec-ready; while :; do sleep 1000 & wait; done",
    ]);
    assert_eq!(out.code, Some(0), "docker exec -d:\n{}", out.all());
    assert!(wait_until(PATIENCE, || vol.read("exec-ready").is_some()), "the exec'd shell never started");
    c.stop();
    assert_eq!(c.exit_code(), 143, "logs:\n{}", c.all_logs());
    assert_eq!(
        vol.read("exec-cleaned").as_deref(),
        Some("cleaned\n"),
        "the exec'd shell's cleanup; logs:\n{}",
        c.all_logs()
    );
}

#[test]
fn docker_stop_at_its_default_timeout_shows_rinits_sigkill_summary() {
    let Some(img) = image() else { return };
    // The default grace (8 s) and the default log level (warnings): the
    // program ignores SIGTERM, so rinit, not the engine at 10 s, SIGKILLs
    // it and says so in `docker logs`.
    let c = Container::named("summary");
    c.start(&[], &[img, "/tests/ignore-term.sh"]);
    c.logs().wait_for("ready");
    c.stop();
    assert_eq!(c.exit_code(), 137, "logs:\n{}", c.all_logs());
    let logs = c.all_logs();
    let line = logs
        .lines()
        .find(|l| l.starts_with("[rinit] shutdown: "))
        .unwrap_or_else(|| panic!("no summary in docker logs:\n{logs}"));
    assert!(line.contains("1 needed SIGKILL (pid ") && line.contains("'sleep')"), "{line}");
    let took = line.rsplit_once("took ").and_then(|(_, t)| t.trim_end_matches('s').parse::<f64>().ok());
    // Not before the 8 s grace; and the line exists at all only because it
    // came before the engine's SIGKILL at 10 s.
    assert!(took.is_some_and(|t| t >= 8.0), "SIGKILL at the 8 s grace: {line}");
}
