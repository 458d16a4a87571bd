//! Where rinit's cgroup is, found one way only, as the kernel describes it:
//! `/proc/self/cgroup` says which cgroup rinit is in, per hierarchy, and
//! `/proc/self/mountinfo` says where each hierarchy is mounted and which part
//! of it the mount shows (a container sees `/docker/<id>` as its mount root).
//! The parsing is pure; `locate` is the one function that reads the files.

use std::path::{Path, PathBuf};

use super::read;

/// One line of `/proc/self/cgroup`: `ID:CONTROLLERS:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Membership {
    /// The v2 line is `0::PATH`.
    pub v2: bool,
    pub controllers: Vec<String>,
    pub path: String,
}

pub(super) fn parse_memberships(text: &str) -> Vec<Membership> {
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
pub(super) struct Mount {
    /// The cgroup that the mount shows at its mount point.
    pub root: String,
    pub point: PathBuf,
    pub v2: bool,
    pub read_only: bool,
    /// v1: the super options, which name the hierarchy's controllers.
    pub options: Vec<String>,
}

/// Every mount among the lines of mountinfo, cgroup or not, in mount order:
/// `ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER`.
/// `None` stands for a mount of another filesystem: it still hides what is
/// below its mount point.
fn parse_mounts(text: &str) -> Vec<(PathBuf, Option<Mount>)> {
    text.lines().filter_map(parse_mount).collect()
}

fn parse_mount(line: &str) -> Option<(PathBuf, Option<Mount>)> {
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
        _ => return Some((point, None)),
    };
    let options = words(right.nth(1).unwrap_or(""), ',');
    // Read-only either for this mount or for the whole filesystem.
    let read_only = read_only || options.iter().any(|o| o == "ro");
    Some((point.clone(), Some(Mount { root, point, v2, read_only, options })))
}

/// The cgroup mounts that a path resolves to: a later mount at the same
/// point, or at a directory above it, hides an earlier one (`docker run -v
/// /sys/fs/cgroup/pids:/sys/fs/cgroup/pids:rw` puts a writable mount on top
/// of the read-only one). mountinfo lists a namespace's mounts in the order
/// they were made.
pub(super) fn visible_cgroup_mounts(mountinfo: &str) -> Vec<Mount> {
    let all = parse_mounts(mountinfo);
    all.iter()
        .enumerate()
        .filter_map(|(i, (point, mount))| {
            // A mount over `/` itself does not hide anything: path lookup
            // starts at the process's root, not at what is mounted on it.
            let hidden = all
                .get(i + 1..)
                .unwrap_or_default()
                .iter()
                .any(|(later, _)| later != Path::new("/") && point.starts_with(later));
            if hidden { None } else { mount.clone() }
        })
        .collect()
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
pub(super) enum Version {
    V1,
    V2,
}

/// rinit's cgroup in the hierarchy that holds a controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Place {
    pub version: Version,
    pub dir: PathBuf,
    /// Where the hierarchy is mounted: nothing above it is visible.
    pub mount_point: PathBuf,
    pub read_only: bool,
}

/// Finds rinit's cgroup for `controller`: the v1 hierarchy that has it if
/// there is one (a controller belongs to one hierarchy only), else the v2
/// one, whose controllers the caller checks in `cgroup.controllers`.
/// Only mounts under `cgroup_root` count.
pub(super) fn find_place(mountinfo: &str, own: &str, cgroup_root: &Path, controller: &str) -> Result<Place, String> {
    let mounts: Vec<Mount> =
        visible_cgroup_mounts(mountinfo).into_iter().filter(|m| m.point.starts_with(cgroup_root)).collect();
    if mounts.is_empty() {
        return Err(format!("no cgroup filesystem is mounted at {}", cgroup_root.display()));
    }
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
    let memberships = parse_memberships(own);
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
        .filter(|m| match version {
            Version::V1 => is_v1(m),
            Version::V2 => m.v2,
        })
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

/// rinit's cgroup for `controller`, from the two files under `proc_root`.
pub(super) fn locate(proc_root: &Path, cgroup_root: &Path, controller: &str) -> Result<Place, String> {
    let self_dir = proc_root.join("self");
    let mountinfo = read(&self_dir.join("mountinfo"))?;
    let own = read(&self_dir.join("cgroup"))?;
    find_place(&mountinfo, &own, cgroup_root, controller)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

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
        let m = visible_cgroup_mounts(text);
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
    fn the_last_mount_at_a_mount_point_is_the_one_seen() {
        // `docker run -v /sys/fs/cgroup/pids:/sys/fs/cgroup/pids:rw`: a
        // writable bind mount on top of the read-only one. On the main of
        // 2026-11-25 the first (read-only) one was taken.
        let text = "\
39 31 0:36 / /sys/fs/cgroup/pids ro,nosuid - cgroup cgroup rw,pids
50 39 0:36 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
";
        let m = visible_cgroup_mounts(text);
        assert_eq!(m.len(), 1);
        assert!(!m[0].read_only, "the mount on top is writable: {m:?}");
        let place = find_place(text, "8:pids:/\n", Path::new("/sys/fs/cgroup"), "pids").unwrap();
        assert!(!place.read_only);
        // And the other way round: a read-only mount on top wins too.
        let text = "\
39 31 0:36 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
50 39 0:36 / /sys/fs/cgroup/pids ro,nosuid - cgroup cgroup rw,pids
";
        assert!(visible_cgroup_mounts(text)[0].read_only);
    }

    #[test]
    fn a_mount_above_hides_the_cgroup_mounts_below() {
        // A tmpfs mounted over /sys/fs/cgroup after the pids hierarchy hides
        // it; a hierarchy mounted afterwards below the tmpfs is seen.
        let text = "\
39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup rw - tmpfs tmpfs rw
41 40 0:38 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
42 1 0:39 / /sys/fs/cgroup-elsewhere rw - tmpfs tmpfs rw
";
        let m = visible_cgroup_mounts(text);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].point, PathBuf::from("/sys/fs/cgroup/memory"));
        let e = find_place(text, "8:pids:/\n4:memory:/\n", Path::new("/sys/fs/cgroup"), "pids").unwrap_err();
        assert!(e.contains("no cgroup hierarchy with the pids controller"), "{e}");
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
}
