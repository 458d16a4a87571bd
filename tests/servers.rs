//! Issue 12: real servers in real containers. Debian's redis-server,
//! postgresql and nginx run under rinit and, with the same image, under
//! `docker run --init` (the engine's docker-init, which is tini), and are
//! stopped with `docker stop` at Docker's default timeout (10 s). Each
//! scenario asserts what rinit keeps and what tini loses, so a rinit that
//! stops shutting the whole container down gracefully fails here.
//!
//! The image is built once per test process by scripts/server-image.sh: a
//! root filesystem made by mmdebstrap from the machine's Debian mirror
//! (cached under target/server-rootfs/), `docker import`ed, with rinit as the
//! ENTRYPOINT and tests/server-scenarios at /scenarios. It is removed when
//! the process exits; containers and volumes by their guards.
//!
//! No traffic leaves a container: they run with `--network none`, and every
//! client talks to its server on that container's own loopback (127.0.0.1)
//! or unix socket. Tests wait on `docker logs` lines, on `docker exec`
//! returning and on a file's size, each with a deadline; never on sleeps.
//! Where no Docker engine answers or the package archive cannot be reached,
//! the tests skip (one line each, counted as skipped by scripts/test.sh).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::docker::{Container, NamedVolume, NoImage, Out, PATIENCE, Volume, image_once};
use common::wait_until;

use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

/// The image's tag, built on first use; None (after one visible line) where
/// it cannot be built here. The first build of the root filesystem (about
/// 3 to 4 minutes) happens inside this bound.
fn image() -> Option<&'static str> {
    static BUILT: OnceLock<Result<String, NoImage>> = OnceLock::new();
    image_once(
        &BUILT,
        "server-image.sh",
        "rinit-servers",
        Duration::from_secs(1200),
    )
}

/// nginx in the foreground on 127.0.0.1:8080 (tests/server-scenarios).
const NGINX: [&str; 3] = ["nginx", "-c", "/scenarios/nginx.conf"];

/// Which init is PID 1.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Init {
    /// The image's ENTRYPOINT: `/rinit COMMAND...`.
    Rinit,
    /// `docker run --init --entrypoint COMMAND`: `/sbin/docker-init --
    /// COMMAND...`.
    Tini,
}

/// Starts `command` in a detached container under `init`, with no network
/// and the extra `opts`; checks that PID 1 is the init asked for.
fn start_under(init: Init, c: &Container, img: &str, opts: &[&str], command: &[&str]) {
    let mut all: Vec<&str> = vec!["--network", "none"];
    all.extend(opts);
    let mut rest = vec![img];
    match init {
        Init::Rinit => rest.extend(command),
        Init::Tini => {
            all.extend(["--init", "--entrypoint", command[0]]);
            rest.extend(&command[1..]);
        }
    }
    c.start(&all, &rest);
    let want = match init {
        Init::Rinit => "/rinit ",
        Init::Tini => "/sbin/docker-init -- ",
    };
    let pid1 = c.pid1_cmdline();
    assert!(pid1.starts_with(want), "{init:?}: PID 1 is {pid1:?}");
}

/// `docker exec` that must succeed; its stdout, trimmed.
fn exec_ok(c: &Container, cmd: &[&str]) -> String {
    let out = c.exec(cmd);
    assert_eq!(out.code, Some(0), "docker exec {cmd:?}:\n{}", out.all());
    out.stdout.trim().to_string()
}

// ------------------------------------------- a server beside the main program

/// A server that an entrypoint script starts before it runs the main
/// program (nginx), with its data on a volume.
struct Beside {
    tag: &'static str,
    /// The script: starts the server, then execs its arguments.
    script: &'static str,
    /// The line the script logs once the server answers.
    up: &'static str,
    /// Where the server keeps its data: the volume's mount point.
    data: &'static str,
}

/// The container after a restart on the stopped one's volume.
struct Restarted {
    /// `docker logs` of the stopped container.
    logs: String,
    /// Declared before the volume: dropped (removed) first.
    after: Container,
    _volume: NamedVolume,
}

/// Runs `server.script nginx ...` under `init`, calls `before` once the
/// server is up, `docker stop`s the container, and starts `again` under
/// rinit on the same volume; returns once that has logged `again_up`.
fn stop_and_restart(
    img: &str,
    init: Init,
    server: &Beside,
    before: impl FnOnce(&Container),
    again: &[&str],
    again_up: &str,
) -> Restarted {
    let volume = NamedVolume::create(server.tag);
    let data = volume.at(server.data);
    let c = Container::named(server.tag);
    let mut command = vec![server.script];
    command.extend(NGINX);
    start_under(init, &c, img, &["-v", &data], &command);
    c.logs().wait_for_part(server.up);
    before(&c);
    c.stop();
    let logs = c.all_logs();

    let after = Container::named(&format!("{}-after", server.tag));
    start_under(Init::Rinit, &after, img, &["-v", &data], again);
    after.logs().wait_for_part(again_up);
    Restarted {
        logs,
        after,
        _volume: volume,
    }
}

// -------------------------------------------------------------------- Redis

const REDIS_KEY: &str = "visits";
const REDIS_VALUE: &str = "42";

struct RedisRun {
    /// The value of the key after a restart on the same volume.
    after_restart: String,
    /// `docker logs` of the stopped container.
    logs: String,
}

/// with-redis.sh starts `redis-server --daemonize yes` (data on a volume),
/// then runs nginx as the main program. A key is written, the container
/// `docker stop`ped, and a fresh Redis on the same volume asked for it.
fn redis_scenario(img: &str, init: Init) -> RedisRun {
    let redis = Beside {
        tag: "redis",
        script: "/scenarios/with-redis.sh",
        up: "with-redis: Redis is up",
        data: "/var/lib/redis",
    };
    let set = |c: &Container| {
        let set = [
            "redis-cli",
            "-h",
            "127.0.0.1",
            "SET",
            REDIS_KEY,
            REDIS_VALUE,
        ];
        assert_eq!(exec_ok(c, &set), "OK");
    };
    let again = ["redis-server", "--bind", "127.0.0.1", "--dir", redis.data];
    let r = stop_and_restart(
        img,
        init,
        &redis,
        set,
        &again,
        "Ready to accept connections",
    );
    let get = ["redis-cli", "-h", "127.0.0.1", "GET", REDIS_KEY];
    RedisRun {
        after_restart: exec_ok(&r.after, &get),
        logs: r.logs,
    }
}

#[test]
fn redis_started_by_the_entrypoint_saves_its_data_on_docker_stop_under_rinit() {
    let Some(img) = image() else { return };
    let r = redis_scenario(img, Init::Rinit);
    assert_eq!(
        r.after_restart, REDIS_VALUE,
        "the key is lost; logs of the stopped container:\n{}",
        r.logs
    );
    assert!(
        r.logs.contains("DB saved on disk"),
        "Redis's final save is in its log:\n{}",
        r.logs
    );
}

#[test]
fn redis_started_by_the_entrypoint_loses_its_data_under_docker_run_init() {
    let Some(img) = image() else { return };
    let r = redis_scenario(img, Init::Tini);
    // tini exits as soon as nginx has, and the kernel SIGKILLs Redis before
    // it can save (no save point is due: the defaults want 1 change in an
    // hour, 100 in 5 minutes or 10000 in a minute).
    assert_eq!(
        r.after_restart, "",
        "under tini the key was not expected to survive; logs:\n{}",
        r.logs
    );
    assert!(!r.logs.contains("DB saved on disk"), "logs:\n{}", r.logs);
}

// --------------------------------------------------------------- PostgreSQL

const UNCLEAN: &str = "database system was not properly shut down";

struct PostgresRun {
    /// `docker logs` of the stopped container.
    logs: String,
    /// `docker logs` of the next start on the same volume, once it is up.
    restart_logs: String,
    /// The committed row, read after the restart.
    row: String,
}

/// with-postgres.sh starts Debian's cluster with `pg_ctl start` (data on a
/// volume), then runs nginx as the main program. A row is committed, the
/// container `docker stop`ped, and the cluster started again on the volume.
fn postgres_scenario(img: &str, init: Init) -> PostgresRun {
    let pg = Beside {
        tag: "pg",
        script: "/scenarios/with-postgres.sh",
        up: "with-postgres: PostgreSQL is up",
        data: "/var/lib/postgresql",
    };
    // Peer authentication on the socket: psql runs as the postgres user.
    let psql = |c: &Container, sql: &str| {
        let cmd = [
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-X",
            "-h",
            "/run/postgresql",
        ];
        exec_ok(c, &[&cmd[..], &["-Atc", sql]].concat())
    };
    let commit = |c: &Container| {
        psql(c, "CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')");
    };
    let again = [pg.script, "sleep", "infinity"];
    let r = stop_and_restart(img, init, &pg, commit, &again, pg.up);
    PostgresRun {
        restart_logs: r.after.all_logs(),
        row: psql(&r.after, "SELECT v FROM t"),
        logs: r.logs,
    }
}

#[test]
fn postgres_started_with_pg_ctl_shuts_down_cleanly_on_docker_stop_under_rinit() {
    let Some(img) = image() else { return };
    let r = postgres_scenario(img, Init::Rinit);
    assert!(
        r.logs.contains("database system is shut down"),
        "PostgreSQL's clean shutdown is in its log:\n{}",
        r.logs
    );
    assert!(
        !r.restart_logs.contains(UNCLEAN) && !r.restart_logs.contains("recovery"),
        "the next start needed crash recovery:\n{}",
        r.restart_logs
    );
    assert_eq!(r.row, "kept");
}

#[test]
fn postgres_started_with_pg_ctl_needs_crash_recovery_under_docker_run_init() {
    let Some(img) = image() else { return };
    let r = postgres_scenario(img, Init::Tini);
    // The kernel SIGKILLed PostgreSQL when tini exited: the next start
    // replays the WAL. The committed row survives that (it was in the WAL).
    assert!(
        !r.logs.contains("database system is shut down"),
        "logs:\n{}",
        r.logs
    );
    assert!(
        r.restart_logs.contains(UNCLEAN),
        "under tini the next start was expected to recover:\n{}",
        r.restart_logs
    );
    assert_eq!(r.row, "kept");
}

// -------------------------------------------------------------------- nginx

/// The file a throttled client downloads while the container is stopped:
/// about 2 s at the client's 1 MiB/s, where tini's SIGTERM cuts it after
/// what the kernel's socket buffers hold (some 100 KiB seen here).
const BIG: u64 = 2 << 20;

struct Download {
    /// Bytes the client had when `docker stop` began.
    at_stop: u64,
    /// curl's `-w` line (`SIZE HTTP-CODE`) and exit status.
    client: Out,
    /// `docker logs` of the nginx container.
    logs: String,
}

/// nginx is the program; a client in a container of its own that shares
/// nginx's network namespace (so 127.0.0.1 is nginx's loopback) downloads
/// BIG at 1 MiB/s, and the nginx container is `docker stop`ped once the
/// first bytes have arrived. The client is outside nginx's PID namespace,
/// as a real client is: a `docker exec`ed one would die with the container.
fn nginx_download(img: &str, init: Init) -> Download {
    let c = Container::named("nginx");
    match init {
        // -r TERM:QUIT: nginx's graceful stop. -t 10s: at half the grace
        // rinit SIGTERMs every other process, nginx's workers included,
        // which cuts their requests; the grace is given so that this test
        // does not depend on rinit's default.
        Init::Rinit => {
            let mut command = vec!["-t", "10s", "-r", "TERM:QUIT"];
            command.extend(NGINX);
            start_under(init, &c, img, &[], &command);
        }
        Init::Tini => start_under(init, &c, img, &[], &NGINX),
    }
    c.logs().wait_for_part("start worker process");
    let fill = format!("head -c {BIG} /dev/zero > /scenarios/www/big");
    exec_ok(&c, &["sh", "-c", &fill]);

    let out = Volume::new("nginx");
    let file = out.0.join("big");
    let client = Container::named("curl");
    let network = format!("container:{}", c.name);
    let mount = out.mount();
    thread::scope(|s| {
        let download = s.spawn(|| {
            client.run(
                &[
                    "--rm",
                    "--network",
                    &network,
                    "-v",
                    &mount,
                    "--entrypoint",
                    "curl",
                ],
                &[
                    img,
                    "-sS",
                    "--limit-rate",
                    "1M",
                    "-o",
                    "/out/big",
                    "-w",
                    "%{size_download} %{http_code}",
                    "http://127.0.0.1:8080/big",
                ],
            )
        });
        let size = || std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        assert!(
            wait_until(PATIENCE, || size() > 0),
            "the download never started"
        );
        let at_stop = size();
        c.stop();
        let client = download.join().unwrap();
        Download {
            at_stop,
            client,
            logs: c.all_logs(),
        }
    })
}

#[test]
fn nginx_with_term_as_quit_finishes_an_inflight_download_on_docker_stop_under_rinit() {
    let Some(img) = image() else { return };
    let d = nginx_download(img, Init::Rinit);
    assert!(
        d.at_stop < BIG,
        "the download was over before the stop: nothing was tested"
    );
    assert_eq!(
        (d.client.code, d.client.stdout.as_str()),
        (Some(0), format!("{BIG} 200").as_str()),
        "the download was cut:\n{}\nnginx:\n{}",
        d.client.all(),
        d.logs
    );
    assert!(
        d.logs.contains("signal 3 (SIGQUIT) received"),
        "nginx got QUIT (graceful), not TERM:\n{}",
        d.logs
    );
}

#[test]
fn nginx_cuts_an_inflight_download_on_docker_stop_under_docker_run_init() {
    let Some(img) = image() else { return };
    let d = nginx_download(img, Init::Tini);
    // tini forwards TERM, nginx's fast stop: the connection is closed with
    // the rest of the file unsent.
    let got: u64 = d
        .client
        .stdout
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        d.client.code != Some(0) && got < BIG,
        "under tini the download was expected to be cut:\n{}\nnginx:\n{}",
        d.client.all(),
        d.logs
    );
    assert!(
        d.logs.contains("signal 15 (SIGTERM) received"),
        "{}",
        d.logs
    );
}

// ---------------------------------------------------------------------- OOM

#[test]
fn redis_killed_by_the_oom_killer_is_named_in_docker_logs() {
    let Some(img) = image() else { return };
    let c = Container::named("oom");
    start_under(
        Init::Rinit,
        &c,
        img,
        &["--memory", "64m", "--memory-swap", "64m"],
        &[
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--enable-debug-command",
            "local",
        ],
    );
    c.logs().wait_for_part("Ready to accept connections");
    // One zeroed 256 MiB value: far past the limit at once. (A slow climb,
    // many small keys, had the kernel reclaim file pages for minutes here
    // before it chose a victim.) redis-cli loses its server: no status.
    let _ = c.exec(&[
        "redis-cli",
        "-h",
        "127.0.0.1",
        "DEBUG",
        "POPULATE",
        "1",
        "big",
        "268435456",
    ]);
    let logs = c.logs_after_oom_kill();
    // The stable parts of rinit's report: who, and that the OOM killer did it.
    let report = logs
        .lines()
        .find(|l| l.starts_with("[rinit]") && l.contains("OOM killer"));
    assert!(
        report.is_some_and(|l| l.contains("'redis-server'")),
        "rinit's OOM report naming redis-server in docker logs:\n{logs}"
    );
}
