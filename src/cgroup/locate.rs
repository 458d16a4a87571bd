//! Where rinit's cgroup is, found one way only, as the kernel describes it:
//! `/proc/self/cgroup` says which cgroup rinit is in, per hierarchy, and
//! `/proc/self/mountinfo` says where each hierarchy is mounted and which part
//! of it the mount shows (a container sees `/docker/<id>` as its mount root).
//! The parsing is pure; `locate` is the one function that reads the files.
//!
//! It runs at every start (the OOM watch), so it is written to be cheap
//! (issue 20: 564,070 instructions before, for 22 mounts): the fields are
//! borrowed from the text as it was read (still escaped; unescaped only
//! where a path is made of one, and only if it has an escape), mountinfo is
//! read in one pass, and hiding is checked against the few cgroup mounts
//! kept so far, not against every later mount.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::{lines, read};

/// One line of `/proc/self/cgroup`: `ID:CONTROLLERS:PATH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Membership<'a> {
    /// The v2 line is `0::PATH`.
    pub v2: bool,
    /// Comma-separated, as in the file.
    pub controllers: &'a str,
    pub path: &'a str,
}

pub(super) fn parse_memberships(text: &str) -> impl Iterator<Item = Membership<'_>> {
    lines(text).filter_map(|line| {
        let mut fields = line.splitn(3, ':');
        let id = fields.next()?;
        let controllers = fields.next()?;
        let path = fields.next()?;
        Some(Membership { v2: id == "0" && controllers.is_empty(), controllers, path })
    })
}

/// A cgroup filesystem from `/proc/self/mountinfo`, its fields as the file
/// has them (octal escapes and all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Mount<'a> {
    /// The cgroup that the mount shows at its mount point.
    pub root: &'a str,
    pub point: &'a str,
    pub v2: bool,
    pub read_only: bool,
    /// v1: the super options, which name the hierarchy's controllers.
    pub options: &'a str,
}

impl Mount<'_> {
    fn has_option(&self, option: &str) -> bool {
        has_item(self.options, option)
    }

    /// The mount point as a path.
    fn point(&self) -> PathBuf {
        PathBuf::from(unescape(self.point).into_owned())
    }
}

/// Whether the comma-separated `list` has `item` (a byte loop: no searcher).
fn has_item(list: &str, item: &str) -> bool {
    list.as_bytes().split(|&b| b == b',').any(|i| i == item.as_bytes())
}

/// Splits off the text up to the next space or the end of the line (the
/// newline stays): mountinfo escapes spaces inside fields as \040, so a
/// space only separates. A byte loop, as the fields are short; "" at the
/// end of a line.
fn field<'a>(rest: &mut &'a str) -> &'a str {
    let end = rest.bytes().position(|b| b == b' ' || b == b'\n').unwrap_or(rest.len());
    let (field, after) = rest.split_at_checked(end).unwrap_or((rest, ""));
    // Past the space, if it is one (a byte test: `strip_prefix(' ')` costs
    // as much as the field).
    *rest = if after.as_bytes().first() == Some(&b' ') { after.get(1..).unwrap_or_default() } else { after };
    field
}

/// Moves `rest` to the start of the next line.
fn next_line(rest: &mut &str) {
    let end = rest.bytes().position(|b| b == b'\n').map_or(rest.len(), |n| n + 1);
    *rest = rest.get(end..).unwrap_or_default();
}

/// The cgroup filesystem that a mountinfo line describes, from the `rest`
/// of the line after its root and mount point, or `None` for another
/// filesystem:
/// `ID PARENT MAJ:MIN ROOT POINT | OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER`.
fn cgroup_mount<'a>(root: &'a str, point: &'a str, rest: &mut &'a str) -> Option<Mount<'a>> {
    let mount_options = field(rest);
    // The optional fields (`shared:1`, `master:3`) end at `-`.
    loop {
        match field(rest) {
            "-" => break,
            "" => return None,
            _ => {}
        }
    }
    let v2 = match field(rest) {
        "cgroup" => false,
        "cgroup2" => true,
        _ => return None,
    };
    field(rest);
    let options = field(rest);
    // Read-only either for this mount or for the whole filesystem.
    let read_only = has_item(mount_options, "ro") || has_item(options, "ro");
    Some(Mount { root, point, v2, read_only, options })
}

/// The cgroup mounts under `root` that a path resolves to, in mount order:
/// a later mount at the same point, or at a directory above it, hides an
/// earlier one (`docker run -v /sys/fs/cgroup/pids:/sys/fs/cgroup/pids:rw`
/// puts a writable mount on top of the read-only one). mountinfo lists a
/// namespace's mounts in the order they were made, so one pass does: each
/// line drops the mounts kept so far that it hides, then is kept itself if
/// it is a cgroup mount under `root`. Only a mount at `root`, above it or
/// below it can hide one under it: any other line is read only up to its
/// mount point. Every byte is looked at once.
fn visible_mounts<'a>(mountinfo: &'a str, root: &[u8]) -> Vec<Mount<'a>> {
    let mut kept: Vec<Mount<'a>> = Vec::with_capacity(16);
    let mut rest = mountinfo;
    while !rest.is_empty() {
        let (_id, _parent, _dev) = (field(&mut rest), field(&mut rest), field(&mut rest));
        let (mount_root, point) = (field(&mut rest), field(&mut rest));
        if !point.is_empty() {
            let path = unescape(point);
            let under_root = is_within(path.as_bytes(), root);
            if under_root || is_within(root, path.as_bytes()) {
                // A mount over `/` itself does not hide anything: path
                // lookup starts at the process's root, not at what is
                // mounted on it.
                if point != "/" {
                    kept.retain(|m| !is_within(m.point.as_bytes(), point.as_bytes()));
                }
                if under_root && let Some(mount) = cgroup_mount(mount_root, point, &mut rest) {
                    kept.push(mount);
                }
            }
        }
        next_line(&mut rest);
    }
    kept
}

/// Every visible cgroup mount.
#[cfg(test)]
pub(super) fn visible_cgroup_mounts(mountinfo: &str) -> Vec<Mount<'_>> {
    visible_mounts(mountinfo, b"/")
}

/// Whether `path` is `dir` or below it, component by component (`/a/bc` is
/// not below `/a/b`). Both are absolute, without `.`, `..` or doubled or
/// trailing slashes, as in mountinfo.
fn is_within(path: &[u8], dir: &[u8]) -> bool {
    let dir = dir.strip_suffix(b"/").unwrap_or(dir);
    // The byte after `dir` first: it tells most siblings apart without
    // comparing the rest.
    matches!(path.get(dir.len()), None | Some(b'/')) && path.len() >= dir.len() && path.starts_with(dir)
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\134` for `\`);
/// borrowed when there are none, as nearly always.
fn unescape(field: &str) -> Cow<'_, str> {
    if !field.bytes().any(|b| b == b'\\') {
        return Cow::Borrowed(field);
    }
    let mut out = Vec::with_capacity(field.len());
    let mut rest = field.as_bytes();
    while let Some((&c, after)) = rest.split_first() {
        let octal = match after {
            [x, y, z, ..] if c == b'\\' && [x, y, z].iter().all(|d| (b'0'..=b'7').contains(*d)) => {
                u8::try_from(u32::from(x - b'0') << 6 | u32::from(y - b'0') << 3 | u32::from(z - b'0')).ok()
            }
            _ => None,
        };
        match octal {
            Some(byte) => {
                out.push(byte);
                rest = after.get(3..).unwrap_or_default();
            }
            None => {
                out.push(c);
                rest = after;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Where the cgroup `path` is under `mount`, or None if the mount does not
/// show it (its root is elsewhere in the hierarchy).
fn translate(mount: &Mount<'_>, path: &str) -> Option<PathBuf> {
    let root = unescape(mount.root);
    let rest = if root == "/" { path } else { path.strip_prefix(&*root)? };
    // Root `/docker/ab` must not match `/docker/abc`.
    if !rest.is_empty() && !rest.starts_with('/') {
        return None;
    }
    let rel = rest.trim_start_matches('/');
    // Outside a cgroup namespace's root the kernel shows `/../x`.
    if rel.split('/').any(|c| c == "..") {
        return None;
    }
    let point = mount.point();
    Some(if rel.is_empty() { point } else { point.join(rel) })
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
    let mounts = visible_mounts(mountinfo, cgroup_root.as_os_str().as_encoded_bytes());
    if mounts.is_empty() {
        return Err(format!("no cgroup filesystem is mounted at {}", cgroup_root.display()));
    }
    let is_v1 = |m: &Mount<'_>| !m.v2 && m.has_option(controller);
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
    let own_path = parse_memberships(own)
        .find(|m| match version {
            Version::V1 => !m.v2 && has_item(m.controllers, controller),
            Version::V2 => m.v2,
        })
        .map(|m| m.path);
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
            translate(m, own_path).map(|dir| Place { version, dir, mount_point: m.point(), read_only: m.read_only })
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
    // One path, its last part changed: each join would be an allocation.
    let mut path = proc_root.join("self/mountinfo");
    let mountinfo = read(&path)?;
    path.set_file_name("cgroup");
    let own = read(&path)?;
    find_place(&mountinfo, &own, cgroup_root, controller)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn parses_proc_self_cgroup() {
        let m: Vec<_> = parse_memberships("12:pids:/docker/abc\n4:cpu,cpuacct:/x\n1:name=systemd:/s\n0::/a:b\n").collect();
        assert_eq!(m.len(), 4);
        assert_eq!(m[0], Membership { v2: false, controllers: "pids", path: "/docker/abc" });
        assert!(has_item(m[1].controllers, "cpu") && has_item(m[1].controllers, "cpuacct"));
        assert!(!has_item(m[1].controllers, "cpuac"));
        assert_eq!(m[3], Membership { v2: true, controllers: "", path: "/a:b" });
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
            Mount { root: "/docker/abc", point: "/sys/fs/cgroup/pids", v2: false, read_only: true, options: "rw,pids" }
        );
        assert!(m[0].has_option("pids") && !m[0].has_option("pid"));
        assert_eq!(m[1].point(), PathBuf::from("/sys/fs/cgroup/my dir"));
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
        assert_eq!(m[0].point(), PathBuf::from("/sys/fs/cgroup/memory"));
        let e = find_place(text, "8:pids:/\n4:memory:/\n", Path::new("/sys/fs/cgroup"), "pids").unwrap_err();
        assert!(e.contains("no cgroup hierarchy with the pids controller"), "{e}");
    }

    #[test]
    fn translates_the_mount_root() {
        let mount = |root| Mount { root, point: "/sys/fs/cgroup/pids", v2: false, read_only: false, options: "" };
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
    fn hiding_is_by_whole_components_and_never_by_a_mount_over_the_root() {
        let text = "\
39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/pid rw - tmpfs tmpfs rw
41 31 0:38 / /sys/fs/cgroup/pidsx rw - tmpfs tmpfs rw
42 1 0:39 / / rw - overlay overlay rw
43 31 0:40 / /sys/fs/cgroup/my\\040dir rw - cgroup cgroup rw,memory
44 31 0:41 / /sys/fs/cgroup/my rw - tmpfs tmpfs rw
";
        let m = visible_cgroup_mounts(text);
        assert_eq!(m.iter().map(|m| m.point).collect::<Vec<_>>(), ["/sys/fs/cgroup/pids", "/sys/fs/cgroup/my\\040dir"]);
        // A mount at a directory above, /sys, hides both; one below does not.
        let hidden = format!("{text}45 1 0:42 / /sys rw - sysfs sysfs rw\n");
        assert!(visible_cgroup_mounts(&hidden).is_empty());
        let below = format!("{text}45 39 0:42 / /sys/fs/cgroup/pids/sub rw - tmpfs tmpfs rw\n");
        assert_eq!(visible_cgroup_mounts(&below).len(), 2);
        assert!(is_within(b"/a/b", b"/a") && is_within(b"/a", b"/a") && is_within(b"/a", b"/"));
        assert!(!is_within(b"/ab", b"/a") && !is_within(b"/a", b"/a/b"));
    }

    #[test]
    fn a_cgroup_root_and_mount_point_with_escapes_are_found() {
        let text = "41 31 0:38 /a\\040b /c\\040g/pids rw - cgroup cgroup rw,pids\n";
        let place = find_place(text, "8:pids:/a b/x\n", Path::new("/c g"), "pids").unwrap();
        assert_eq!(place.dir, PathBuf::from("/c g/pids/x"));
        assert_eq!(place.mount_point, PathBuf::from("/c g/pids"));
        assert_eq!(unescape("plain"), Cow::Borrowed("plain"));
        assert_eq!(unescape("\\777\\12\\"), "\\777\\12\\", "not escapes: kept as they are");
    }
}
