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
//! tests return early. The Docker helpers are in tests/common/docker.rs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::docker::{
    Container, NoImage, PATIENCE, Volume, docker, image_once, release_rinit, run_within, visible,
};
use common::json::{json_field, json_number};
use common::wait_until;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The test image's tag, built on first use; None (after one visible line)
/// where no engine answers.
fn image() -> Option<&'static str> {
    static BUILT: OnceLock<Result<String, NoImage>> = OnceLock::new();
    image_once(
        &BUILT,
        "docker-image.sh",
        "rinit-test",
        Duration::from_secs(300),
    )
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
    let logs = c.logs_after_oom_kill();
    assert!(
        logs.contains("[rinit] 'dd' (pid ")
            && logs.contains("was killed by the kernel OOM killer (memory limit 32 MiB, 1 OOM kill so far)"),
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

// ------------------------------------------------------- the image to copy from

/// An image tag, removed (`docker rmi -f`) on drop.
struct ImageTag(String);

impl Drop for ImageTag {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rmi", "-f", &self.0])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `docker build --platform PLATFORM` of `dockerfile` with an otherwise
/// empty context.
fn build_from_dockerfile(tag: &str, platform: &str, dockerfile: &str) -> ImageTag {
    let ctx = Volume::new("ctx");
    std::fs::write(ctx.0.join("Dockerfile"), dockerfile).unwrap();
    let image = ImageTag(tag.to_string());
    let out = run_within(
        Command::new("docker")
            .args(["build", "--quiet", "--platform", platform, "-t", tag])
            .arg(&ctx.0)
            .env("DOCKER_BUILDKIT", "0"),
        Duration::from_secs(300),
    );
    assert_eq!(out.code, Some(0), "docker build {tag}:\n{}", out.all());
    image
}

#[test]
fn an_image_that_copies_rinit_from_the_copy_image_runs_it_as_pid_1() {
    let Some(test_img) = image() else { return };
    let pid = std::process::id();
    // The architecture of the binary under test: Debian's name (the
    // script's argument) and Docker's (what the image records).
    let (arch, platform) = match std::env::consts::ARCH {
        "x86" => ("i386", "386"),
        "aarch64" => ("arm64", "arm64"),
        _ => ("amd64", "amd64"),
    };
    // The image users copy from: FROM scratch, only /rinit (scripts/copy-image.sh).
    let copy_img = ImageTag(format!("rinit-test:pid-{pid}-copy"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/copy-image.sh");
    let out = run_within(
        Command::new(script)
            .arg(release_rinit())
            .arg(arch)
            .arg(&copy_img.0),
        Duration::from_secs(300),
    );
    assert_eq!(out.code, Some(0), "scripts/copy-image.sh:\n{}", out.all());
    let inspect = docker(["image", "inspect", "-f", "{{.Architecture}} {{len .RootFS.Layers}}", &copy_img.0]);
    assert_eq!(inspect.stdout.trim(), format!("{platform} 1"), "one layer, /rinit alone\n{}", inspect.all());

    // What a user writes: rinit copied from it, next to their own program
    // (busybox, taken from the test image: its /rinit is not copied).
    let app = build_from_dockerfile(
        &format!("rinit-test:pid-{pid}-app"),
        &format!("linux/{platform}"),
        &format!(
            "FROM scratch\nCOPY --from={} /rinit /rinit\nCOPY --from={test_img} /bin /bin\n\
             ENV PATH=/bin\nENTRYPOINT [\"/rinit\", \"--\"]\n",
            copy_img.0
        ),
    );
    let copied = docker(["run", "--rm", "--entrypoint", "/bin/ls", &app.0, "/"]);
    assert_eq!(copied.stdout.split_whitespace().collect::<Vec<_>>(), ["bin", "dev", "etc", "proc", "rinit", "sys"], "{}", copied.all());

    // The program's exit status passes through.
    let c = Container::named("copied-exit");
    let out = c.run(&["--rm"], &[&app.0, "sh", "-c", "exit 7"]);
    assert_eq!(out.code, Some(7), "{}", out.all());

    // rinit is PID 1 and forwards `docker stop`'s SIGTERM: the program's trap
    // runs and its own exit status (5, not 143) comes back.
    let c = Container::named("copied-stop");
    c.start(&[], &[&app.0, "sh", "-c", "trap 'echo got-term; exit 5' TERM; echo ready; sleep 1000 & wait"]);
    let mut logs = c.logs();
    logs.wait_for("ready");
    assert_eq!(c.pid1_cmdline(), "/rinit -- sh -c trap 'echo got-term; exit 5' TERM; echo ready; sleep 1000 & wait");
    c.stop();
    logs.wait_for("got-term");
    assert_eq!(c.exit_code(), 5, "logs:\n{}", c.all_logs());
}

// -------------------------------------- issue 23: the exit report, --oom-exit

#[test]
fn the_exit_report_is_in_docker_logs_and_its_json_in_a_volume() {
    let Some(img) = image() else { return };
    let vol = Volume::new("report");
    let mount = vol.mount();
    let c = Container::named("report");
    let out = c.run(
        &["-v", &mount, "--memory", "256m", "--memory-swap", "256m", "--pids-limit", "100", "--entrypoint", "/rinit"],
        &[img, "--report", "--report-file", "/out/report.json", "--", "sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; exit 4"],
    );
    assert_eq!(out.code, Some(4), "the program's status:\n{}", out.all());
    let logs = c.all_logs();
    let line = logs.lines().find(|l| l.starts_with("[rinit] report: ran ")).unwrap_or_else(|| panic!("no report line in docker logs:\n{logs}"));
    assert!(line.contains(" (limit 256 MiB, page cache included), processes peak "), "{line}");
    assert!(line.ends_with(", OOM kills 0, program 'sh' exited with 4, exit status 4"), "{line}");
    assert!(!line.contains("unknown"), "every figure is there in a container: {line}");
    let json = vol.read("report.json").unwrap_or_else(|| panic!("no /out/report.json; logs:\n{logs}"));
    assert!(json.starts_with('{') && json.ends_with("}\n"), "{json}");
    assert_eq!(json_number(&json, "memory_limit_bytes"), 256 << 20, "{json}");
    assert!(json_number(&json, "memory_peak_bytes") >= 64 << 20, "dd's 64 MiB buffer: {json}");
    assert!(json_number(&json, "pids_peak") >= 2, "{json}");
    assert!(json_number(&json, "cpu_usec") > 0, "{json}");
    for (key, want) in [("program_exit_code", "4"), ("exit_status", "4"), ("oom_kills", "0"), ("pids_peak_from", "\"pids.peak\"")] {
        assert_eq!(json_field(&json, key), want, "{key} in {json}");
    }
    // The line and the file say the same.
    assert!(line.contains(&format!(", processes peak {},", json_number(&json, "pids_peak"))), "{line}\n{json}");
}

#[test]
fn oom_exit_stops_the_container_with_137_after_a_workers_oom_kill_terming_the_others_first() {
    let Some(img) = image() else { return };
    let vol = Volume::new("oom-exit");
    let mount = vol.mount();
    let c = Container::named("oom-exit");
    c.start(
        &["-v", &mount, "--memory", "32m", "--memory-swap", "32m", "--entrypoint", "/rinit"],
        &[img, "--oom-exit", "--report", "--", "/tests/oom-worker.sh", "/out"],
    );
    // It stops on its own: no docker stop.
    let code = c.exit_code();
    let logs = c.all_logs();
    assert_eq!(code, 137, "--oom-exit's status (the program exited 0); logs:\n{logs}");
    assert!(logs.contains("was killed by the kernel OOM killer (memory limit 32 MiB, 1 OOM kill so far)"), "{logs}");
    assert!(logs.contains("[rinit] --oom-exit: an OOM kill in the container; shutting down, exit status 137"), "{logs}");
    assert_eq!(vol.read("program-termed").as_deref(), Some(""), "the program got SIGTERM; logs:\n{logs}");
    assert_eq!(vol.read("sibling-termed").as_deref(), Some(""), "the worker's sibling got SIGTERM; logs:\n{logs}");
    assert!(!logs.contains("no SIGTERM came"), "{logs}");
    assert!(logs.contains(", OOM kills 1, program '/tests/oom-worker.sh' exited with 0, exit status 137 (--oom-exit)"), "{logs}");
}

// ------------------------------------------- issue 21: engines and orchestrators

/// rinit bind-mounted at /sbin/docker-init and run as `docker-init -- CMD`,
/// the way dockerd runs its init for `docker run --init`: the environment
/// is the only way to give it options.
#[test]
fn rinit_as_docker_init_takes_its_rewrite_from_the_environment() {
    let Some(img) = image() else { return };
    let mount = format!("{}:/sbin/docker-init:ro", release_rinit().display());
    let c = Container::named("rewrite-env");
    c.start(
        &["-v", &mount, "--entrypoint", "/sbin/docker-init", "-e", "RINIT_REWRITE=TERM:QUIT"],
        &[img, "--", "sh", "-c", "trap 'echo got-quit; exit 3' QUIT; trap 'echo got-term; exit 4' TERM; echo ready; while :; do sleep 1000 & wait; done"],
    );
    let mut logs = c.logs();
    logs.wait_for("ready");
    assert_eq!(c.pid1_cmdline().split_whitespace().take(3).collect::<Vec<_>>(), ["/sbin/docker-init", "--", "sh"]);
    c.stop();
    assert_eq!(c.exit_code(), 3, "docker stop's SIGTERM reached the program as QUIT; logs:\n{}", c.all_logs());
    logs.wait_for("got-quit");
}

/// How one `docker stop` of the STOPSIGNAL SIGQUIT image went: whether the
/// background job began its cleanup and whether it finished it.
struct QuitStop {
    began: bool,
    finished: bool,
    logs: String,
}

/// An image with `STOPSIGNAL SIGQUIT` (nginx's, php-fpm's). The program
/// takes 9 s to exit after QUIT; a background job takes 3 s to clean up
/// after SIGTERM, writing /out/job-began first and /out/job-cleaned last.
/// The grace is 9 s (RINIT_GRACE), the engine's stop timeout 10 s.
fn quit_stop(img: &str, stop_signals: Option<&str>) -> QuitStop {
    let vol = Volume::new("quit");
    let mount = vol.mount();
    let mut opts = vec!["-v", &mount, "-e", "RINIT_GRACE=9s"];
    let var;
    if let Some(s) = stop_signals {
        var = format!("RINIT_STOP_SIGNALS={s}");
        opts.extend(["-e", &var]);
    }
    let c = Container::named("quit");
    c.start(
        &opts,
        &[
            img,
            "sh",
            "-c",
            "sh -c \"trap 'touch /out/job-began; sleep 3; touch /out/job-cleaned; exit 0' TERM; echo job-ready; while :; do sleep 1000 & wait; done\" &
             trap 'sleep 9; exit 0' QUIT; echo program-ready; while :; do sleep 1000 & wait; done",
        ],
    );
    let mut logs = c.logs();
    logs.wait_for("job-ready");
    logs.wait_for("program-ready");
    c.stop();
    QuitStop {
        began: vol.read("job-began").is_some(),
        finished: vol.read("job-cleaned").is_some(),
        logs: c.all_logs(),
    }
}

#[test]
fn a_stop_signal_other_than_sigterm_starts_the_shutdown_in_time() {
    let Some(img) = image() else { return };
    let quit = build_from_dockerfile(
        &format!("rinit-test:pid-{}-stopsignal", std::process::id()),
        &format!("linux/{}", docker(["version", "-f", "{{.Server.Arch}}"]).stdout.trim()),
        &format!("FROM {img}\nSTOPSIGNAL SIGQUIT\n"),
    );
    // Both at once: each waits out most of the engine's 10 s.
    let (without, with) = std::thread::scope(|s| {
        let without = s.spawn(|| quit_stop(&quit.0, None));
        let with = s.spawn(|| quit_stop(&quit.0, Some("QUIT")));
        (without.join().unwrap(), with.join().unwrap())
    });
    // Without: the QUIT is only forwarded; the job's SIGTERM waits for the
    // program's exit at 9 s, and the engine's SIGKILL at 10 s cuts its
    // cleanup short.
    assert!(without.began && !without.finished, "without --stop-signal (began {}, finished {}); logs:\n{}", without.began, without.finished, without.logs);
    // With RINIT_STOP_SIGNALS=QUIT the job gets SIGTERM by half the grace
    // (4.5 s) and is done long before either SIGKILL.
    assert!(with.finished, "with RINIT_STOP_SIGNALS=QUIT; logs:\n{}", with.logs);
}

/// `docker run --pid container:PAUSE` (what a pod's shareProcessNamespace
/// does): PID 1 is a pause process, rinit is not. The program leaves a
/// daemon behind (a double fork), which writes /out/daemon-cleaned on
/// SIGTERM. Returns whether it did after `docker stop`, and the logs.
fn under_a_pause_container(img: &str, vars: &[&str]) -> (bool, String) {
    let pause = Container::named("pause");
    pause.start(&["--entrypoint", "/bin/sleep"], &[img, "1000"]);
    let vol = Volume::new("pid2");
    let mount = vol.mount();
    let pid = format!("container:{}", pause.name);
    let mut opts = vec!["--pid", &pid, "-v", &mount];
    for v in vars {
        opts.extend(["-e", v]);
    }
    let c = Container::named("pid2");
    c.start(
        &opts,
        &[
            img,
            "sh",
            "-c",
            "(setsid sh -c \"trap 'touch /out/daemon-cleaned; exit 0' TERM; echo daemon-ready; while :; do sleep 1000 & wait; done\" &)
             echo program-ready; while :; do sleep 1000 & wait; done",
        ],
    );
    let mut logs = c.logs();
    logs.wait_for("daemon-ready");
    logs.wait_for("program-ready");
    assert_eq!(c.exec(&["cat", "/proc/1/comm"]).stdout.trim(), "sleep", "PID 1 is the pause container's");
    c.stop();
    (vol.read("daemon-cleaned").is_some(), c.all_logs())
}

#[test]
fn not_pid_1_rinit_adopts_what_the_program_leaves_behind_unless_told_not_to() {
    let Some(img) = image() else { return };
    let ((adopted, logs), (left, left_logs)) = std::thread::scope(|s| {
        let on = s.spawn(|| under_a_pause_container(img, &[]));
        let off = s.spawn(|| under_a_pause_container(img, &["RINIT_SUBREAPER=0"]));
        (on.join().unwrap(), off.join().unwrap())
    });
    assert!(adopted, "a subreaper by default: the daemon got SIGTERM and cleaned up; logs:\n{logs}");
    assert!(!left, "RINIT_SUBREAPER=0: the daemon was the pause process's, and got no SIGTERM; logs:\n{left_logs}");
    assert!(left_logs.contains("not running as PID 1 and not a subreaper"), "{left_logs}");
}
