//! Docker helpers for the tests that run rinit inside a real Docker engine
//! (tests/docker.rs, tests/servers.rs): commands bounded in time, the engine
//! check, the release rinit, images built once per test process and removed
//! when it exits, and containers, volumes and `docker logs` followers that
//! clean up after themselves. Every name holds the test process's id, so a
//! later run removes what a killed one left behind.

use super::{drain, skip, wait_exit, wait_until};

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// "Should happen promptly": only something broken waits it out.
pub const PATIENCE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------- commands

pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Out {
    pub fn all(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }
}

/// Runs a command to its end, killing it after `timeout` (then `code` is None
/// and stderr says so).
pub fn run_within(cmd: &mut Command, timeout: Duration) -> Out {
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

pub fn docker<I, S>(args: I) -> Out
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    run_within(Command::new("docker").args(args), PATIENCE)
}

// ------------------------------------------------------------- engine, image

/// Writes one line straight to fd 2, past the test harness's capture.
pub fn visible(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

pub fn engine_answers() -> bool {
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
                "docker tests: SKIPPED, no Docker engine answers ({why})"
            ));
        }
        ok
    })
}

/// The newest modification time among the files the binary is built from.
pub fn newest_source() -> Option<std::time::SystemTime> {
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

/// The release rinit (what ships, and what the image holds), built if it is
/// missing or older than its sources: for the tests' target when they were
/// built with `--target` (scripts/test.sh), by scripts/build.sh, the shipped
/// build; without `--target`, by a plain `cargo build --release`.
pub fn release_rinit() -> PathBuf {
    static RELEASE: OnceLock<PathBuf> = OnceLock::new();
    RELEASE
        .get_or_init(|| {
            // CARGO_BIN_EXE_rinit is .../target/[TRIPLE/]debug/rinit.
            let debug = Path::new(env!("CARGO_BIN_EXE_rinit"));
            let outer = debug.parent().unwrap().parent().unwrap();
            let release = outer.join("release").join("rinit");
            let triple = env!("RINIT_TARGET");
            let cross = outer.file_name().is_some_and(|n| n == triple);
            let built = std::fs::metadata(&release).and_then(|m| m.modified()).ok();
            if built.is_none() || built < newest_source() {
                let root = Path::new(env!("CARGO_MANIFEST_DIR"));
                let mut cmd = if cross {
                    let mut c = Command::new(root.join("scripts/build.sh"));
                    c.args(["--target", triple]);
                    c
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

/// Images this process built, removed when it exits.
static IMAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());

extern "C" fn remove_images() {
    let tags = IMAGES.lock().map(|t| t.clone()).unwrap_or_default();
    for tag in tags {
        let _ = Command::new("docker")
            .args(["rmi", "-f", &tag])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn pid_alive(pid: &str) -> bool {
    Path::new("/proc").join(pid).exists()
}

/// Removes what a killed earlier run (whose process is gone) left behind:
/// its labelled containers and volumes, and its images in `repo`.
fn remove_leftovers(repo: &str) {
    let label = "{{.Label \"rinit-test-pid\"}}";
    // `container ls -a`: stopped ones too (volumes have no such flag).
    for (ls, name) in [
        (["container", "ls", "-a"].as_slice(), "{{.Names}}"),
        (["volume", "ls"].as_slice(), "{{.Name}}"),
    ] {
        let format = format!("{name} {label}");
        let mut args = ls.to_vec();
        args.extend(["--filter", "label=rinit-test-pid", "--format", &format]);
        let out = docker(&args);
        assert_eq!(out.code, Some(0), "docker {args:?}:\n{}", out.all());
        let kind = ls[0];
        for line in out.stdout.lines() {
            if let Some((name, pid)) = line.split_once(' ')
                && !pid_alive(pid)
            {
                docker([kind, "rm", "-f", name]);
            }
        }
    }
    let out = docker(["images", repo, "--format", "{{.Repository}}:{{.Tag}}"]);
    for image in out.stdout.lines() {
        // REPO:pid-PID, and REPO:pid-PID-NAME for the images one test makes.
        if let Some(pid) = image
            .strip_prefix(repo)
            .and_then(|t| t.strip_prefix(":pid-"))
            .and_then(|t| t.split('-').next())
            && !pid_alive(pid)
        {
            docker(["rmi", "-f", image]);
        }
    }
}

/// The exit status by which an image script says that something it needs
/// from outside (the package archive) cannot be reached here.
const UNREACHABLE: i32 = 3;

/// Why there is no image.
pub enum NoImage {
    /// Something the image needs cannot be reached here: the tests skip.
    Unreachable(String),
    Failed(String),
}

/// Builds an image with `scripts/SCRIPT TAG` (RINIT_BIN: the release rinit)
/// under the tag `REPO:pid-N`, removed when this process exits.
pub fn build_image(script: &str, repo: &str, timeout: Duration) -> Result<String, NoImage> {
    remove_leftovers(repo);
    let tag = format!("{repo}:pid-{}", std::process::id());
    let rinit = release_rinit();
    // Registered before the build, so a half-built image goes too.
    if let Ok(mut tags) = IMAGES.lock() {
        if tags.is_empty() {
            // SAFETY: remove_images is a plain extern "C" fn with no arguments.
            unsafe { libc::atexit(remove_images) };
        }
        tags.push(tag.clone());
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(script);
    let out = run_within(
        Command::new(path).arg(&tag).env("RINIT_BIN", &rinit),
        timeout,
    );
    match out.code {
        Some(0) => Ok(tag),
        Some(UNREACHABLE) => Err(NoImage::Unreachable(
            out.stderr.lines().last().unwrap_or("").trim().to_string(),
        )),
        _ => Err(NoImage::Failed(format!(
            "scripts/{script} failed:\n{}",
            out.all()
        ))),
    }
}

/// The tag of the image that `build_image` builds once per process into
/// `built`; None, after `skip`, where no engine answers or the script cannot
/// reach what it needs. Panics if the build failed.
pub fn image_once(
    built: &'static OnceLock<Result<String, NoImage>>,
    script: &str,
    repo: &str,
    timeout: Duration,
) -> Option<&'static str> {
    if !engine_answers() {
        skip("no Docker engine answers");
        return None;
    }
    match built.get_or_init(|| build_image(script, repo, timeout)) {
        Ok(tag) => Some(tag.as_str()),
        Err(NoImage::Unreachable(why)) => {
            skip(why);
            None
        }
        Err(NoImage::Failed(e)) => panic!("{e}"),
    }
}

// ---------------------------------------------------------------- containers

/// `rinit-test-PID-TAG-N`: unique among this process's containers and
/// volumes, and it names the process, for `remove_leftovers`.
fn unique_name(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "rinit-test-{}-{}-{}",
        std::process::id(),
        tag,
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A uniquely named container, removed (`docker rm -f`) on drop.
pub struct Container {
    pub name: String,
}

impl Container {
    pub fn named(tag: &str) -> Container {
        Container {
            name: unique_name(tag),
        }
    }

    /// `docker run` arguments that name and label the container.
    pub fn run_args(&self, detach: bool) -> Vec<String> {
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
    pub fn start(&self, opts: &[&str], rest: &[&str]) {
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
    pub fn run(&self, opts: &[&str], rest: &[&str]) -> Out {
        let mut a = self.run_args(false);
        a.extend(opts.iter().map(|s| s.to_string()));
        a.extend(rest.iter().map(|s| s.to_string()));
        docker(&a)
    }

    pub fn logs(&self) -> Logs {
        Logs::follow(&self.name)
    }

    /// `docker stop -t 10` (Docker's own default), timed.
    pub fn stop(&self) -> Out {
        let out = docker(["stop", "-t", "10", &self.name]);
        assert_eq!(out.code, Some(0), "docker stop:\n{}", out.all());
        out
    }

    pub fn exit_code(&self) -> i32 {
        let out = docker(["wait", &self.name]);
        assert_eq!(out.code, Some(0), "docker wait:\n{}", out.all());
        out.stdout
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("docker wait said {:?}", out.stdout))
    }

    /// Waits for the container's end and checks that Docker saw an OOM
    /// kill and that it exited with 137 (SIGKILL); its logs.
    pub fn logs_after_oom_kill(&self) -> String {
        let code = self.exit_code();
        let logs = self.all_logs();
        // dockerd may handle the kernel's OOM event after the exit (seen at a
        // load average of 1100): the flag turns true a moment later. At
        // times it never does (seen once in a CI run: the container had
        // exited and gone before dockerd looked); the kernel's own log then
        // says it, an `oom-kill:` line naming the container's cgroup, which
        // holds its id.
        let id = self.inspect("{{.Id}}");
        let kernel_says = || {
            let log = Command::new("dmesg").output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
            log.lines().any(|l| l.contains("oom-kill:") && l.contains("oom_memcg=") && l.contains(&id))
        };
        let flagged = wait_until(Duration::from_secs(10), || {
            self.inspect("{{.State.OOMKilled}}") == "true"
        }) || kernel_says();
        assert!(flagged, "neither Docker nor the kernel's log saw an OOM kill; logs:\n{logs}");
        assert_eq!(code, 137, "logs:\n{logs}");
        logs
    }

    pub fn inspect(&self, format: &str) -> String {
        let out = docker(["inspect", "-f", format, &self.name]);
        assert_eq!(out.code, Some(0), "docker inspect:\n{}", out.all());
        out.stdout.trim().to_string()
    }

    pub fn exec(&self, cmd: &[&str]) -> Out {
        let mut a = vec!["exec", self.name.as_str()];
        a.extend(cmd);
        docker(a)
    }

    /// PID 1's command line, NULs as spaces.
    pub fn pid1_cmdline(&self) -> String {
        let out = self.exec(&["cat", "/proc/1/cmdline"]);
        assert_eq!(
            out.code,
            Some(0),
            "docker exec cat /proc/1/cmdline:\n{}",
            out.all()
        );
        out.stdout.trim_end_matches('\0').replace('\0', " ")
    }

    pub fn all_logs(&self) -> String {
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
pub struct Logs {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Logs {
    pub fn follow(name: &str) -> Logs {
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
    pub fn wait_for(&mut self, want: &str) {
        self.wait_until(&format!("the line {want:?}"), |l| l == want);
    }

    /// Blocks until the container has logged a line that contains `part`.
    pub fn wait_for_part(&mut self, part: &str) {
        self.wait_until(&format!("a line with {part:?}"), |l| l.contains(part));
    }

    fn wait_until(&mut self, what: &str, matches: impl Fn(&str) -> bool) {
        if self.seen.iter().any(|l| matches(l)) {
            return;
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = matches(&line);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(e) => panic!(
                    "no log line: wanted {what} ({e:?}); logged so far: {:?}",
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
pub struct Volume(pub PathBuf);

impl Volume {
    pub fn new(tag: &str) -> Volume {
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

    pub fn mount(&self) -> String {
        format!("{}:/out", self.0.display())
    }

    pub fn read(&self, file: &str) -> Option<String> {
        std::fs::read_to_string(self.0.join(file)).ok()
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A named Docker volume, removed on drop (declare it before the containers
/// that use it: they are dropped first).
pub struct NamedVolume {
    pub name: String,
}

impl NamedVolume {
    pub fn create(tag: &str) -> NamedVolume {
        let name = unique_name(tag);
        let out = docker([
            "volume",
            "create",
            "--label",
            &format!("rinit-test-pid={}", std::process::id()),
            &name,
        ]);
        assert_eq!(out.code, Some(0), "docker volume create:\n{}", out.all());
        NamedVolume { name }
    }

    /// The `-v` argument that mounts it at `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}:{path}", self.name)
    }
}

impl Drop for NamedVolume {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
