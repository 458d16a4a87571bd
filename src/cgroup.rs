//! cgroups (rinit(1) CGROUPS): the `--pids-max` limit and the OOM-kill report.
//!
//! rinit finds its own cgroups the way the kernel describes them:
//! `/proc/self/cgroup` says which cgroup it is in, per hierarchy, and
//! `/proc/self/mountinfo` says where each hierarchy is mounted and which part
//! of it the mount shows (a container sees `/docker/<id>` as its mount root).
//! Both roots (`/proc`, `/sys/fs/cgroup`) are parameters so that the unit
//! tests run everything over fake trees; the parsing is pure.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use log::{debug, info, warn};

#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------
// Pure parsing

/// One line of `/proc/self/cgroup`: `ID:CONTROLLERS:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Membership {
    /// The v2 line is `0::PATH`.
    v2: bool,
    controllers: Vec<String>,
    path: String,
}

fn parse_memberships(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, ':');
            let id = fields.next()?;
            let controllers = fields.next()?;
            let path = fields.next()?;
            Some(Membership {
                v2: id == "0" && controllers.is_empty(),
                controllers: words(controllers, ','),
                path: path.to_string(),
            })
        })
        .collect()
}

/// A cgroup filesystem from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    /// The cgroup that the mount shows at its mount point.
    root: String,
    point: PathBuf,
    v2: bool,
    read_only: bool,
    /// v1: the super options, which name the hierarchy's controllers.
    options: Vec<String>,
}

/// The cgroup mounts among the lines of mountinfo:
/// `ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER`.
fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_mount).collect()
}

fn parse_mount(line: &str) -> Option<Mount> {
    // Spaces inside fields are escaped as \040, so " - " only separates.
    let (left, right) = line.split_once(" - ")?;
    let mut left = left.split(' ');
    let root = unescape(left.nth(3)?);
    let point = PathBuf::from(unescape(left.next()?));
    let read_only = left.next()?.split(',').any(|o| o == "ro");
    let mut right = right.split(' ');
    let v2 = match right.next()? {
        "cgroup" => false,
        "cgroup2" => true,
        _ => return None,
    };
    let options = words(right.nth(1).unwrap_or(""), ',');
    // Read-only either for this mount or for the whole filesystem.
    let read_only = read_only || options.iter().any(|o| o == "ro");
    Some(Mount { root, point, v2, read_only, options })
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\134` for `\`).
fn unescape(field: &str) -> String {
    let mut out = Vec::with_capacity(field.len());
    let mut bytes = field.bytes();
    while let Some(b) = bytes.next() {
        let code = (b == b'\\')
            .then(|| bytes.clone().take(3).collect::<Vec<u8>>())
            .filter(|d| d.len() == 3 && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .and_then(|d| u8::from_str_radix(&String::from_utf8_lossy(&d), 8).ok());
        match code {
            Some(c) => {
                out.push(c);
                bytes.nth(2);
            }
            None => out.push(b),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn words(text: &str, sep: char) -> Vec<String> {
    text.split(sep).filter(|w| !w.is_empty()).map(str::to_string).collect()
}

fn has_word(text: &str, word: &str) -> bool {
    text.split_whitespace().any(|w| w == word)
}

/// Where the cgroup `path` is under `mount`, or None if the mount does not
/// show it (its root is elsewhere in the hierarchy).
fn translate(mount: &Mount, path: &str) -> Option<PathBuf> {
    let rest = if mount.root == "/" { path } else { path.strip_prefix(mount.root.as_str())? };
    // Root `/docker/ab` must not match `/docker/abc`.
    if !rest.is_empty() && !rest.starts_with('/') {
        return None;
    }
    let rel = rest.trim_start_matches('/');
    // Outside a cgroup namespace's root the kernel shows `/../x`.
    if rel.split('/').any(|c| c == "..") {
        return None;
    }
    Some(if rel.is_empty() { mount.point.clone() } else { mount.point.join(rel) })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// rinit's cgroup in the hierarchy that holds a controller.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Place {
    version: Version,
    dir: PathBuf,
    /// Where the hierarchy is mounted: nothing above it is visible.
    mount_point: PathBuf,
    read_only: bool,
}

/// Finds rinit's cgroup for `controller`: the v1 hierarchy that has it if
/// there is one (a controller belongs to one hierarchy only), else the v2
/// one, whose controllers the caller checks in `cgroup.controllers`.
/// Only mounts under `cgroup_root` count.
fn find_place(mountinfo: &str, own: &str, cgroup_root: &Path, controller: &str) -> Result<Place, String> {
    let mounts: Vec<Mount> = parse_mounts(mountinfo).into_iter().filter(|m| m.point.starts_with(cgroup_root)).collect();
    if mounts.is_empty() {
        return Err(format!("no cgroup filesystem is mounted at {}", cgroup_root.display()));
    }
    let memberships = parse_memberships(own);
    let is_v1 = |m: &Mount| !m.v2 && m.options.iter().any(|o| o == controller);
    let version = if mounts.iter().any(is_v1) {
        Version::V1
    } else if mounts.iter().any(|m| m.v2) {
        Version::V2
    } else {
        return Err(format!(
            "no cgroup hierarchy with the {controller} controller is mounted at {}",
            cgroup_root.display()
        ));
    };
    let wanted = |m: &Mount| match version {
        Version::V1 => is_v1(m),
        Version::V2 => m.v2,
    };
    let own_path = memberships
        .iter()
        .find(|m| match version {
            Version::V1 => !m.v2 && m.controllers.iter().any(|c| c == controller),
            Version::V2 => m.v2,
        })
        .map(|m| m.path.as_str());
    let Some(own_path) = own_path else {
        return Err(format!("/proc/self/cgroup names no cgroup with the {controller} controller"));
    };
    mounts
        .iter()
        .filter(|m| wanted(m))
        .find_map(|m| {
            translate(m, own_path).map(|dir| Place {
                version,
                dir,
                mount_point: m.point.clone(),
                read_only: m.read_only,
            })
        })
        .ok_or_else(|| {
            format!(
                "rinit's cgroup {own_path} is not visible under the {controller} hierarchy mounted at {}",
                cgroup_root.display()
            )
        })
}

/// A memory limit as users write it: `128 MiB`, `1.5 GiB`.
fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 4] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if n >= size {
            // One decimal, rounded, in integers (float formatting would add
            // ~15 KB to the binary).
            let tenths = (u128::from(n) * 10 + u128::from(size) / 2) / u128::from(size);
            return if tenths % 10 == 0 {
                format!("{} {unit}", tenths / 10)
            } else {
                format!("{}.{} {unit}", tenths / 10, tenths % 10)
            };
        }
    }
    format!("{n} bytes")
}

/// A memory limit file's value: None for unlimited (`max` on v2; v1 shows
/// its "no limit" as a number near 2^63, rounded to the page size).
fn parse_limit(text: &str) -> Option<u64> {
    let text = text.trim();
    if text == "max" {
        return None;
    }
    text.parse::<u64>().ok().and_then(limited)
}

/// None for v1's "no limit", a number near 2^63 (no machine has 4 EiB).
fn limited(bytes: u64) -> Option<u64> {
    (bytes < 1 << 62).then_some(bytes)
}

/// The value of `key` in a flat keyed file (`oom_kill 3`).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

// ---------------------------------------------------------------------------
// I/O

fn read(path: &Path) -> Result<String, String> {
    use std::io::Read;
    // /proc and cgroup files report a size of 0, for which `fs::read` starts
    // with 32-byte reads; a page-sized buffer takes them in one read (this is
    // on rinit's start-up path).
    let mut buf = Vec::with_capacity(4096);
    fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut buf))
        .map(|_| String::from_utf8_lossy(&buf).into_owned())
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Writes a cgroup control file (one `write`, as the kernel wants).
fn write(path: &Path, value: &str) -> Result<(), String> {
    fs::write(path, value).map_err(|e| format!("cannot write '{value}' to {}: {e}", path.display()))
}

fn locate(proc_root: &Path, cgroup_root: &Path, controller: &str) -> Result<Place, String> {
    let self_dir = proc_root.join("self");
    let mountinfo = read(&self_dir.join("mountinfo"))?;
    let own = read(&self_dir.join("cgroup"))?;
    find_place(&mountinfo, &own, cgroup_root, controller)
}

/// A pids limit in force; `release` undoes what rinit changed.
#[derive(Debug)]
pub struct PidsLimit {
    undo: Undo,
}

#[derive(Debug)]
enum Undo {
    /// rinit set the pids.max of the cgroup it was in: put the old value back.
    Restore { file: PathBuf, old: String },
    /// rinit made a leaf cgroup and moved into it.
    Leaf { parent: PathBuf, leaf: PathBuf },
}

impl PidsLimit {
    /// Called when every other process is gone, just before rinit exits.
    pub fn release(self) {
        match self.undo {
            Undo::Restore { file, old } => {
                if let Err(e) = write(&file, old.trim()) {
                    warn!("cannot restore pids.max: {e}");
                }
            }
            Undo::Leaf { parent, leaf } => {
                // A cgroup with a member cannot be removed, and rinit is its
                // last member: it moves back where it came from first.
                if let Err(e) = write(&parent.join("cgroup.procs"), "0") {
                    warn!("cannot leave the cgroup {}: {e}", leaf.display());
                    return;
                }
                match fs::remove_dir(&leaf) {
                    Ok(()) => debug!("removed the cgroup {}", leaf.display()),
                    Err(e) => warn!("cannot remove the cgroup {}: {e}", leaf.display()),
                }
            }
        }
    }
}

/// Puts rinit (and so all it starts) in a cgroup whose pids.max is `max`.
pub fn limit_pids(proc_root: &Path, cgroup_root: &Path, max: u64) -> Result<PidsLimit, Error> {
    apply_pids_max(proc_root, cgroup_root, max).map_err(|why| {
        Error(format!(
            "--pids-max {max}: {why}; rinit cannot limit processes here, so set the limit from outside the container instead: docker run --pids-limit {max} (podman run --pids-limit {max})"
        ))
    })
}

fn apply_pids_max(proc_root: &Path, cgroup_root: &Path, max: u64) -> Result<PidsLimit, String> {
    let place = locate(proc_root, cgroup_root, "pids")?;
    if place.read_only {
        // As in an unprivileged Docker container: every write would fail with EROFS.
        return Err(format!("the cgroup filesystem at {} is mounted read-only", place.mount_point.display()));
    }
    let max = max.to_string();
    let own = place.dir.join("pids.max");
    if own.exists() {
        // rinit's own cgroup (the container's, typically) has the controller:
        // limit it directly, so the limit covers the whole container.
        let old = read(&own)?;
        write(&own, &max)?;
        info!("pids.max {max} set in {}", place.dir.display());
        return Ok(PidsLimit { undo: Undo::Restore { file: own, old } });
    }
    // No pids.max here: this is a root cgroup (v1 and v2 roots have none),
    // or v2 without the controller, which only the parent could enable. A
    // v2 root may hold processes and enable controllers for its children at
    // once (the no-internal-process rule spares it), so at a root a leaf
    // below rinit's cgroup is the way, on either version.
    if place.version == Version::V2 {
        let available = read(&place.dir.join("cgroup.controllers"))?;
        if !has_word(&available, "pids") {
            return Err(format!(
                "no pids controller in {} (cgroup.controllers: {})",
                place.dir.display(),
                available.trim()
            ));
        }
        // v2 children get a controller only when the parent enables it.
        let subtree = place.dir.join("cgroup.subtree_control");
        if !has_word(&read(&subtree)?, "pids") {
            write(&subtree, "+pids")?;
        }
    }
    let leaf = make_leaf(&place.dir)?;
    // The limit goes on before rinit moves in, so nothing escapes it.
    let setup = write(&leaf.join("pids.max"), &max).and_then(|()| {
        // "0" is the writing process, whatever PID namespace it is in.
        write(&leaf.join("cgroup.procs"), "0")
    });
    if let Err(e) = setup {
        let _ = fs::remove_dir(&leaf);
        return Err(e);
    }
    info!("pids.max {max} set in {}, a cgroup made for rinit", leaf.display());
    Ok(PidsLimit { undo: Undo::Leaf { parent: place.dir, leaf } })
}

/// Creates a new cgroup below `parent`. Several rinits can share a parent
/// (each PID 1 of its own namespace, so the pid alone does not tell them
/// apart), hence the clock in the name, and a retry if it is taken.
fn make_leaf(parent: &Path) -> Result<PathBuf, String> {
    let pid = std::process::id();
    let mut last = String::new();
    for _ in 0..10 {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let leaf = parent.join(format!("rinit-{pid}-{nanos:08x}"));
        match fs::create_dir(&leaf) {
            Ok(()) => return Ok(leaf),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = e.to_string(),
            Err(e) => return Err(format!("cannot create the cgroup {}: {e}", leaf.display())),
        }
    }
    Err(format!("cannot create a cgroup in {}: {last}", parent.display()))
}

// ---------------------------------------------------------------------------
// OOM report

/// Watches the memory cgroup's oom_kill counter.
#[derive(Debug)]
pub struct OomWatch {
    /// `memory.oom_control` (v1) or `memory.events` (v2), both with a line
    /// `oom_kill N`, kept open (close-on-exec) so that a check is one `pread`
    /// from offset 0, which makes the kernel write the file afresh.
    file: fs::File,
    limit: LimitFrom,
    count: u64,
}

#[derive(Debug)]
enum LimitFrom {
    /// v1 memory cgroup dir: memory.stat has the limit in force, ancestors included.
    V1(PathBuf),
    /// v2: the memory cgroup and its visible ancestors; the smallest memory.max wins.
    V2(Vec<PathBuf>),
}

impl OomWatch {
    /// Called after reaping a process killed by SIGKILL: `Some(limit text)`
    /// when the OOM counter went up since the last call.
    pub fn oom_killed(&mut self) -> Option<String> {
        let now = self.current()?;
        if now <= self.count {
            return None;
        }
        // One kill explains one victim: two OOM victims reaped in a row are
        // both reported.
        self.count += 1;
        Some(match self.limit_in_force() {
            Some(bytes) => format!("memory limit {}", human_bytes(bytes)),
            None => "no memory limit".to_string(),
        })
    }

    /// Takes the counter as it is now as the new baseline: kills so far that
    /// no reaped process explained are not blamed on a later SIGKILL.
    pub fn resync(&mut self) {
        if let Some(now) = self.current() {
            self.count = now;
        }
    }

    /// Whether the counter has gone up since the last report: then a
    /// process that dies of SIGKILL now is worth naming. One system call.
    pub fn pending(&self) -> bool {
        self.current().is_some_and(|now| now > self.count)
    }

    fn current(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 512];
        let n = self.file.read_at(&mut buf, 0).ok()?;
        keyed(&String::from_utf8_lossy(buf.get(..n)?), "oom_kill")
    }

    fn limit_in_force(&self) -> Option<u64> {
        match &self.limit {
            LimitFrom::V1(dir) => read(&dir.join("memory.stat"))
                .ok()
                .and_then(|stat| keyed(&stat, "hierarchical_memory_limit"))
                .or_else(|| read(&dir.join("memory.limit_in_bytes")).ok()?.trim().parse().ok())
                .and_then(limited),
            LimitFrom::V2(dirs) => {
                dirs.iter().filter_map(|d| read(&d.join("memory.max")).ok()).filter_map(|t| parse_limit(&t)).min()
            }
        }
    }
}

/// rinit's cgroup for `controller` in the usual layout, found without
/// mountinfo: reading /proc/self/mountinfo is the costliest thing rinit does
/// at start (about 0.3 ms in a fresh mount namespace, more than the rest of
/// its start-up together), and the OOM watch is set up on every start. The
/// guess is a v1 hierarchy at `<root>/<controller>` or v2 at `<root>`, mounted
/// at the hierarchy's root or at rinit's own cgroup (a cgroup namespace). It
/// counts only if that cgroup's `cgroup.procs` lists rinit itself; anything
/// else (a container that sees `/docker/<id>` as its mount root, say) goes to
/// the mountinfo path.
fn guess_place(proc_root: &Path, cgroup_root: &Path, controller: &str) -> Option<Place> {
    let memberships = parse_memberships(&read(&proc_root.join("self").join("cgroup")).ok()?);
    let v1 = memberships
        .iter()
        .find(|m| !m.v2 && m.controllers.iter().any(|c| c == controller));
    let (version, path, mount_point) = match v1 {
        Some(m) => (Version::V1, &m.path, cgroup_root.join(controller)),
        None => (Version::V2, &memberships.iter().find(|m| m.v2)?.path, cgroup_root.to_path_buf()),
    };
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|c| c == "..") {
        return None;
    }
    let dir = if rel.is_empty() { mount_point.clone() } else { mount_point.join(rel) };
    // cgroup.procs shows pids as rinit's own PID namespace sees them.
    let me = std::process::id().to_string();
    let listed = read(&dir.join("cgroup.procs")).ok()?.lines().any(|l| l.trim() == me);
    listed.then_some(Place { version, dir, mount_point, read_only: false })
}

/// Starts watching for OOM kills, if rinit's memory cgroup can be found.
pub fn oom_watch(proc_root: &Path, cgroup_root: &Path) -> Option<OomWatch> {
    if let Some(watch) = guess_place(proc_root, cgroup_root, "memory").and_then(watch_at) {
        return Some(watch);
    }
    match locate(proc_root, cgroup_root, "memory") {
        Ok(place) => watch_at(place),
        Err(e) => {
            debug!("no OOM report: {e}");
            None
        }
    }
}

/// The OOM watch of the memory cgroup at `place`, if its counter is readable.
fn watch_at(place: Place) -> Option<OomWatch> {
    let (counter, limit) = match place.version {
        Version::V1 => (place.dir.join("memory.oom_control"), LimitFrom::V1(place.dir)),
        Version::V2 => {
            // Without the memory controller here (a leaf made for the pids
            // limit, say) the nearest ancestor that has it does the counting.
            let visible: Vec<PathBuf> = place
                .dir
                .ancestors()
                .take_while(|d| d.starts_with(&place.mount_point))
                .map(Path::to_path_buf)
                .collect();
            let from = visible.iter().position(|d| d.join("memory.events").exists())?;
            let dirs = visible.get(from..).unwrap_or_default().to_vec();
            (dirs.first()?.join("memory.events"), LimitFrom::V2(dirs))
        }
    };
    // std opens files close-on-exec.
    let file = match fs::File::open(&counter) {
        Ok(f) => f,
        Err(e) => {
            debug!("no OOM report: cannot read {}: {e}", counter.display());
            return None;
        }
    };
    let mut watch = OomWatch { file, limit, count: 0 };
    let Some(count) = watch.current() else {
        debug!("no OOM report: no oom_kill count in {}", counter.display());
        return None;
    };
    watch.count = count;
    debug!("watching {} for OOM kills", counter.display());
    Some(watch)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake machine: `<dir>/proc/self/{cgroup,mountinfo}` and cgroup
    /// directories below `<dir>/sys/fs/cgroup`.
    struct Fake {
        dir: PathBuf,
    }

    impl Fake {
        /// `mounts`: (mount root, mount point below the cgroup root, fstype,
        /// mount options, super options).
        fn new(mounts: &[(&str, &str, &str, &str, &str)], own: &str) -> Fake {
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "rinit-cgroup-unit-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(dir.join("proc/self")).unwrap();
            let fake = Fake { dir };
            let mut info = String::from("22 1 0:21 / /proc rw,nosuid shared:5 - proc proc rw\n");
            for (i, (root, point, fstype, opts, sup)) in mounts.iter().enumerate() {
                let point = fake.cg(point);
                fs::create_dir_all(&point).unwrap();
                info.push_str(&format!(
                    "{} 23 0:{} {root} {} {opts} shared:9 - {fstype} {fstype} {sup}\n",
                    30 + i,
                    30 + i,
                    point.display()
                ));
            }
            fs::write(fake.dir.join("proc/self/mountinfo"), info).unwrap();
            fs::write(fake.dir.join("proc/self/cgroup"), own).unwrap();
            fake
        }

        fn proc_root(&self) -> PathBuf {
            self.dir.join("proc")
        }

        fn cgroup_root(&self) -> PathBuf {
            self.dir.join("sys/fs/cgroup")
        }

        /// A path below the cgroup root.
        fn cg(&self, rel: &str) -> PathBuf {
            let root = self.cgroup_root();
            if rel.is_empty() { root } else { root.join(rel) }
        }

        /// Writes a control file, creating its cgroup directory.
        fn put(&self, rel: &str, text: &str) {
            let path = self.cg(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }

        fn get(&self, rel: &str) -> String {
            fs::read_to_string(self.cg(rel)).unwrap()
        }

        fn limit(&self, max: u64) -> Result<PidsLimit, Error> {
            limit_pids(&self.proc_root(), &self.cgroup_root(), max)
        }

        /// The one `rinit-*` directory below `rel`, if any.
        fn leaves(&self, rel: &str) -> Vec<PathBuf> {
            fs::read_dir(self.cg(rel))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("rinit-"))
                .collect()
        }
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    const V1_PIDS: (&str, &str, &str, &str, &str) = ("/", "pids", "cgroup", "rw,nosuid", "rw,pids");
    const V2: (&str, &str, &str, &str, &str) = ("/", "", "cgroup2", "rw,nosuid", "rw,nsdelegate");

    /// What the kernel does on rmdir of a cgroup: its control files go with it.
    fn kernel_rmdir_files(leaf: &Path) {
        for f in fs::read_dir(leaf).unwrap() {
            fs::remove_file(f.unwrap().path()).unwrap();
        }
    }

    #[test]
    fn parses_proc_self_cgroup() {
        let m = parse_memberships("12:pids:/docker/abc\n4:cpu,cpuacct:/x\n1:name=systemd:/s\n0::/a:b\n");
        assert_eq!(m.len(), 4);
        assert_eq!(m[0], Membership { v2: false, controllers: vec!["pids".into()], path: "/docker/abc".into() });
        assert_eq!(m[1].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(m[3], Membership { v2: true, controllers: vec![], path: "/a:b".into() });
    }

    #[test]
    fn parses_cgroup_mounts_from_mountinfo() {
        let text = "\
25 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
39 31 0:36 /docker/abc /sys/fs/cgroup/pids ro,nosuid,relatime shared:15 master:3 - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/my\\040dir rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";
        let m = parse_mounts(text);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0],
            Mount {
                root: "/docker/abc".into(),
                point: "/sys/fs/cgroup/pids".into(),
                v2: false,
                read_only: true,
                options: vec!["rw".into(), "pids".into()],
            }
        );
        assert_eq!(m[1].point, PathBuf::from("/sys/fs/cgroup/my dir"));
        assert!(m[1].v2 && !m[1].read_only);
        assert_eq!(unescape("a\\134b\\0"), "a\\b\\0");
    }

    #[test]
    fn translates_the_mount_root() {
        let mount = |root: &str| Mount {
            root: root.into(),
            point: "/sys/fs/cgroup/pids".into(),
            v2: false,
            read_only: false,
            options: vec![],
        };
        let at = |p: &str| Some(PathBuf::from(p));
        assert_eq!(translate(&mount("/"), "/"), at("/sys/fs/cgroup/pids"));
        assert_eq!(translate(&mount("/"), "/a/b"), at("/sys/fs/cgroup/pids/a/b"));
        // In a container the mount shows /docker/<id> and nothing above.
        assert_eq!(translate(&mount("/docker/ab"), "/docker/ab"), at("/sys/fs/cgroup/pids"));
        assert_eq!(translate(&mount("/docker/ab"), "/docker/ab/x"), at("/sys/fs/cgroup/pids/x"));
        assert_eq!(translate(&mount("/docker/ab"), "/docker/abc"), None);
        assert_eq!(translate(&mount("/docker/ab"), "/other"), None);
        assert_eq!(translate(&mount("/"), "/../x"), None);
    }

    #[test]
    fn formats_limits() {
        assert_eq!(human_bytes(128 << 20), "128 MiB");
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
        assert_eq!(human_bytes(2 << 40), "2 TiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(100), "100 bytes");
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("33554432\n"), Some(32 << 20));
        assert_eq!(parse_limit("9223372036854771712"), None);
        assert_eq!(keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"), Some(3));
        assert_eq!(keyed("low 0\nhigh 0\n", "oom_kill"), None);
    }

    #[test]
    fn v1_own_cgroup_with_pids_max_is_set_and_restored() {
        // A container: the mount shows /docker/abc, rinit is in a child of it.
        let f = Fake::new(&[("/docker/abc", "pids", "cgroup", "rw", "rw,pids")], "8:pids:/docker/abc/sub\n");
        f.put("pids/sub/pids.max", "max\n");
        let limit = f.limit(40).unwrap();
        assert_eq!(f.get("pids/sub/pids.max"), "40");
        assert!(f.leaves("pids/sub").is_empty());
        limit.release();
        assert_eq!(f.get("pids/sub/pids.max"), "max");
    }

    #[test]
    fn v1_root_cgroup_gets_a_leaf_which_release_removes() {
        let f = Fake::new(&[V1_PIDS], "9:name=systemd:/\n8:pids:/\n0::/\n");
        f.put("pids/cgroup.procs", "1\n");
        let limit = f.limit(40).unwrap();
        let leaves = f.leaves("pids");
        assert_eq!(leaves.len(), 1, "one leaf");
        let leaf = &leaves[0];
        assert_eq!(fs::read_to_string(leaf.join("pids.max")).unwrap(), "40");
        assert_eq!(fs::read_to_string(leaf.join("cgroup.procs")).unwrap(), "0", "rinit moved in");
        kernel_rmdir_files(leaf);
        limit.release();
        assert_eq!(f.get("pids/cgroup.procs"), "0", "rinit moved back out");
        assert!(!leaf.exists(), "leaf removed");
    }

    #[test]
    fn v2_nested_cgroup_with_pids_max_is_set() {
        let f = Fake::new(&[V2], "0::/system.slice/app.service\n");
        f.put("system.slice/app.service/pids.max", "100\n");
        let limit = f.limit(7).unwrap();
        assert_eq!(f.get("system.slice/app.service/pids.max"), "7");
        limit.release();
        assert_eq!(f.get("system.slice/app.service/pids.max"), "100");
    }

    #[test]
    fn v2_root_enables_pids_and_makes_a_leaf() {
        let f = Fake::new(&[V2], "0::/\n");
        f.put("cgroup.controllers", "cpu memory pids\n");
        f.put("cgroup.subtree_control", "memory\n");
        f.put("cgroup.procs", "");
        let limit = f.limit(40).unwrap();
        assert_eq!(f.get("cgroup.subtree_control"), "+pids");
        let leaves = f.leaves("");
        assert_eq!(leaves.len(), 1);
        assert_eq!(fs::read_to_string(leaves[0].join("pids.max")).unwrap(), "40");
        assert_eq!(fs::read_to_string(leaves[0].join("cgroup.procs")).unwrap(), "0");
        kernel_rmdir_files(&leaves[0]);
        limit.release();
        assert!(!leaves[0].exists());
        assert_eq!(f.get("cgroup.procs"), "0");
    }

    #[test]
    fn v2_root_with_pids_enabled_leaves_subtree_control_alone() {
        let f = Fake::new(&[V2], "0::/\n");
        f.put("cgroup.controllers", "cpu pids\n");
        f.put("cgroup.subtree_control", "cpu pids\n");
        let _limit = f.limit(40).unwrap();
        assert_eq!(f.get("cgroup.subtree_control"), "cpu pids\n");
        assert_eq!(f.leaves("").len(), 1);
    }

    #[test]
    fn v2_without_pids_controller_is_a_clear_error() {
        let f = Fake::new(&[V2], "0::/ctr\n");
        f.put("ctr/cgroup.controllers", "cpu memory\n");
        let e = f.limit(40).unwrap_err().0;
        let dir = f.cg("ctr");
        assert!(e.contains(&format!("no pids controller in {}", dir.display())), "{e}");
        assert!(e.contains("cgroup.controllers: cpu memory"), "{e}");
        assert!(e.contains("docker run --pids-limit 40"), "{e}");
        assert!(f.leaves("ctr").is_empty());
    }

    #[test]
    fn hybrid_host_without_pids_anywhere_is_an_error() {
        // This machine's layout, minus the pids hierarchy: v1 memory, and a
        // unified hierarchy with hugetlb only.
        let f = Fake::new(
            &[("/", "memory", "cgroup", "rw", "rw,memory"), ("/", "unified", "cgroup2", "rw", "rw")],
            "4:memory:/x\n0::/\n",
        );
        f.put("unified/cgroup.controllers", "hugetlb\n");
        let e = f.limit(40).unwrap_err().0;
        assert!(e.contains(&format!("no pids controller in {}", f.cg("unified").display())), "{e}");
    }

    #[test]
    fn no_cgroup_filesystem_is_an_error() {
        let f = Fake::new(&[], "0::/\n");
        let e = f.limit(40).unwrap_err().0;
        assert!(e.contains(&format!("no cgroup filesystem is mounted at {}", f.cgroup_root().display())), "{e}");
        assert!(e.contains("docker run --pids-limit 40"), "{e}");
    }

    #[test]
    fn v1_without_pids_hierarchy_is_an_error() {
        let f = Fake::new(&[("/", "memory", "cgroup", "rw", "rw,memory")], "4:memory:/\n");
        let e = f.limit(40).unwrap_err().0;
        assert!(e.contains("no cgroup hierarchy with the pids controller is mounted at"), "{e}");
    }

    #[test]
    fn read_only_cgroup_filesystem_is_an_error_and_writes_nothing() {
        // As in an unprivileged Docker container.
        let f = Fake::new(&[("/docker/abc", "pids", "cgroup", "ro,nosuid", "rw,pids")], "8:pids:/docker/abc\n");
        f.put("pids/pids.max", "max\n");
        let e = f.limit(40).unwrap_err().0;
        assert!(
            e.contains(&format!("the cgroup filesystem at {} is mounted read-only", f.cg("pids").display())),
            "{e}"
        );
        assert!(e.contains("docker run --pids-limit 40"), "{e}");
        assert_eq!(f.get("pids/pids.max"), "max\n");
    }

    #[test]
    fn failed_write_names_the_file() {
        let f = Fake::new(&[V1_PIDS], "8:pids:/\n");
        // A leaf cannot be made where the cgroup's directory is missing.
        fs::remove_dir(f.cg("pids")).unwrap();
        let e = f.limit(40).unwrap_err().0;
        assert!(e.contains(&format!("cannot create the cgroup {}/rinit-", f.cg("pids").display())), "{e}");
        assert!(e.contains("No such file or directory"), "{e}");
    }

    #[test]
    fn own_cgroup_outside_the_mount_is_an_error() {
        let f = Fake::new(&[("/docker/abc", "pids", "cgroup", "rw", "rw,pids")], "8:pids:/elsewhere\n");
        let e = f.limit(40).unwrap_err().0;
        assert!(e.contains("rinit's cgroup /elsewhere is not visible under the pids hierarchy"), "{e}");
    }

    #[test]
    fn unreadable_proc_is_an_error() {
        let f = Fake::new(&[V1_PIDS], "8:pids:/\n");
        let e = limit_pids(&f.dir.join("no-proc"), &f.cgroup_root(), 40).unwrap_err().0;
        assert!(e.contains("cannot read"), "{e}");
        assert!(e.contains("no-proc/self/mountinfo"), "{e}");
    }

    #[test]
    fn oom_v1_reports_rises_of_the_counter_once() {
        let f = Fake::new(&[("/", "memory", "cgroup", "rw", "rw,memory")], "4:memory:/job\n");
        f.put("memory/job/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
        f.put("memory/job/memory.stat", "cache 0\nhierarchical_memory_limit 134217728\n");
        let mut w = oom_watch(&f.proc_root(), &f.cgroup_root()).unwrap();
        assert!(!w.pending());
        assert_eq!(w.oom_killed(), None, "a plain SIGKILL");
        f.put("memory/job/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
        assert!(w.pending(), "the open counter file shows the rise");
        assert_eq!(w.oom_killed().as_deref(), Some("memory limit 128 MiB"));
        assert!(!w.pending());
        assert_eq!(w.oom_killed(), None, "counted once");
        f.put("memory/job/memory.oom_control", "oom_kill 4\n");
        f.put("memory/job/memory.stat", "hierarchical_memory_limit 9223372036854771712\n");
        assert_eq!(w.oom_killed().as_deref(), Some("no memory limit"));
        // Two kills, two victims reaped: both reported, then no more.
        f.put("memory/job/memory.oom_control", "oom_kill 6\n");
        assert!(w.oom_killed().is_some());
        assert!(w.oom_killed().is_some());
        assert_eq!(w.oom_killed(), None);
        // A kill no reaped process explained is forgotten at a resync (before
        // rinit's own SIGKILLs), so it is not blamed on a later SIGKILL.
        f.put("memory/job/memory.oom_control", "oom_kill 7\n");
        w.resync();
        assert!(!w.pending());
        assert_eq!(w.oom_killed(), None);
    }

    #[test]
    fn oom_v2_climbs_to_the_memory_cgroup_and_takes_the_smallest_limit() {
        let f = Fake::new(&[("/kube", "", "cgroup2", "rw", "rw")], "0::/kube/pod/ctr/rinit-1-0\n");
        fs::create_dir_all(f.cg("pod/ctr/rinit-1-0")).unwrap();
        f.put("pod/ctr/memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
        f.put("pod/ctr/memory.max", "max\n");
        f.put("pod/memory.max", "268435456\n");
        f.put("memory.max", "536870912\n");
        let mut w = oom_watch(&f.proc_root(), &f.cgroup_root()).unwrap();
        assert_eq!(w.oom_killed(), None);
        f.put("pod/ctr/memory.events", "oom 2\noom_kill 2\n");
        assert_eq!(w.oom_killed().as_deref(), Some("memory limit 256 MiB"));
    }

    #[test]
    fn oom_watch_finds_the_usual_layout_without_mountinfo() {
        // v1 at <root>/memory: found through /proc/self/cgroup and
        // cgroup.procs alone, even with mountinfo unreadable.
        let f = Fake::new(&[("/", "memory", "cgroup", "rw", "rw,memory")], "4:memory:/job\n");
        f.put("memory/job/memory.oom_control", "oom_kill 0\n");
        f.put("memory/job/memory.limit_in_bytes", "33554432\n");
        f.put("memory/job/cgroup.procs", &format!("7\n{}\n", std::process::id()));
        fs::write(f.proc_root().join("self/mountinfo"), "garbage\n").unwrap();
        let mut w = oom_watch(&f.proc_root(), &f.cgroup_root()).unwrap();
        f.put("memory/job/memory.oom_control", "oom_kill 1\n");
        assert_eq!(w.oom_killed().as_deref(), Some("memory limit 32 MiB"));
        // v2 in a cgroup namespace: `0::/`, the mount is rinit's own cgroup.
        let f = Fake::new(&[("/", "", "cgroup2", "rw", "rw")], "0::/\n");
        f.put("memory.events", "oom_kill 5\n");
        f.put("memory.max", "268435456\n");
        f.put("cgroup.procs", &format!("{}\n", std::process::id()));
        fs::write(f.proc_root().join("self/mountinfo"), "").unwrap();
        let mut w = oom_watch(&f.proc_root(), &f.cgroup_root()).unwrap();
        assert_eq!(w.oom_killed(), None);
        f.put("memory.events", "oom_kill 6\n");
        assert_eq!(w.oom_killed().as_deref(), Some("memory limit 256 MiB"));
    }

    #[test]
    fn a_guess_that_does_not_list_rinit_falls_back_to_mountinfo() {
        // Docker v1 without a cgroup namespace: /proc/self/cgroup says
        // /docker/abc, the mount shows it at <root>/memory. A cgroup of that
        // name below the mount that does not hold rinit must not be used.
        let f = Fake::new(&[("/docker/abc", "memory", "cgroup", "rw", "rw,memory")], "4:memory:/docker/abc\n");
        f.put("memory/docker/abc/memory.oom_control", "oom_kill 9\n");
        f.put("memory/docker/abc/cgroup.procs", "12345678\n");
        f.put("memory/memory.oom_control", "oom_kill 1\n");
        let mut w = oom_watch(&f.proc_root(), &f.cgroup_root()).unwrap();
        f.put("memory/docker/abc/memory.oom_control", "oom_kill 10\n");
        assert_eq!(w.oom_killed(), None, "watched the wrong cgroup");
        f.put("memory/memory.oom_control", "oom_kill 2\n");
        assert!(w.oom_killed().is_some());
    }

    #[test]
    fn no_memory_controller_means_no_watch() {
        let f = Fake::new(&[V1_PIDS], "8:pids:/\n");
        assert!(oom_watch(&f.proc_root(), &f.cgroup_root()).is_none());
        let g = Fake::new(&[V2], "0::/\n");
        assert!(oom_watch(&g.proc_root(), &g.cgroup_root()).is_none(), "the v2 root counts no OOM kills");
    }
}
