//! Where rinit's cgroup is, found one way only, as the kernel describes it:
//! `/proc/self/cgroup` says which cgroup rinit is in, per hierarchy, and
//! `/proc/self/mountinfo` says where each hierarchy is mounted and which part
//! of it the mount shows (a container sees `/docker/<id>` as its mount root).
//! The parsing is pure; `locate` is the one function that reads the files.
//!
//! It runs at every start (the OOM watch), so it is written to be cheap
//! (issue 20: 564,070 instructions on 3d41bee for 22 mounts, about 45,000
//! after a first round, now a few thousand): mountinfo is scanned as bytes,
//! a line at a time, with no allocation per field and no UTF-8 check; each
//! line is read only up to its mount point unless that is under or above
//! the cgroup root; hiding is checked against the few cgroup mounts kept so
//! far; the escaped text is compared as it is (see `escaped`), and
//! unescaped only where a path is made of it. The place's two paths are
//! one allocation.

use std::borrow::Cow;
use std::ffi::OsString;
use std::fs::File;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::{ONES, exact_zero_bytes, find_byte, read_into};

/// One line of `/proc/self/cgroup`: `ID:CONTROLLERS:PATH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Membership<'a> {
    /// The v2 line is `0::PATH`.
    pub v2: bool,
    /// Comma-separated, as in the file.
    pub controllers: &'a [u8],
    pub path: &'a [u8],
}

pub(super) fn parse_memberships(text: &[u8]) -> impl Iterator<Item = Membership<'_>> {
    lines(text).filter_map(|line| {
        let (id, rest) = split_once(line, b':')?;
        let (controllers, path) = split_once(rest, b':')?;
        Some(Membership { v2: id == b"0" && controllers.is_empty(), controllers, path })
    })
}

/// `text`'s lines, without their newlines (and an empty one after a last
/// newline, as `split` gives): the newlines found by `find_byte`, as in
/// mountinfo. A byte loop was 3,000 instructions at every start on a
/// Docker container's file, a path of 80 bytes a line (issue 20).
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        let Some(at) = find_byte(text, b'\n') else {
            rest = None;
            return Some(text);
        };
        rest = text.get(at + 1..);
        text.get(..at)
    })
}

/// `text` split at its first `sep`, which goes (a byte loop: no searcher).
fn split_once(text: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let at = text.iter().position(|&b| b == sep)?;
    let (before, after) = text.split_at_checked(at)?;
    Some((before, after.get(1..).unwrap_or_default()))
}

/// A cgroup filesystem from `/proc/self/mountinfo`, its fields as the file
/// has them (octal escapes and all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Mount<'a> {
    /// The cgroup that the mount shows at its mount point.
    pub root: &'a [u8],
    pub point: &'a [u8],
    pub v2: bool,
    pub read_only: bool,
    /// v1: the super options, which name the hierarchy's controllers.
    pub options: &'a [u8],
}

impl Mount<'_> {
    fn has_option(&self, option: &str) -> bool {
        has_item(self.options, option.as_bytes())
    }

    /// The mount point as a path.
    #[cfg(test)]
    fn point(&self) -> PathBuf {
        PathBuf::from(OsString::from_vec(unescape(self.point).into_owned()))
    }
}

/// Whether the comma-separated `list` has `item` (a byte loop: no searcher).
fn has_item(list: &[u8], item: &[u8]) -> bool {
    list.split(|&b| b == b',').any(|i| i == item)
}

/// Splits off the text up to the next space, or to the end of the line;
/// the space goes. mountinfo escapes spaces inside fields as \040, so a
/// space only separates. "" at the end of the line.
fn field<'a>(rest: &mut &'a [u8]) -> &'a [u8] {
    let line = *rest;
    let end = find_byte(line, b' ').unwrap_or(line.len());
    let (field, after) = line.split_at_checked(end).unwrap_or((line, &[]));
    *rest = after.get(1..).unwrap_or_default();
    field
}

/// The line's root (its fourth field) and what follows it. The short
/// fields before it (`ID PARENT MAJ:MIN`) and the root (nearly always `/`)
/// mostly lie in the line's first two words: their spaces are taken from a
/// mask of the word's spaces, where a byte loop costs about 7 instructions
/// a byte, or a search for each field's end more in set-up than it saves.
fn root_field(line: &[u8]) -> (&[u8], &[u8]) {
    const SPACES: u64 = ONES * b' ' as u64;
    let (mut seen, mut start) = (0, 0);
    let mut at = 0;
    while let Some(word) = word_at(line, at) {
        let mut spaces = exact_zero_bytes(word ^ SPACES);
        while spaces != 0 {
            let i = at + (spaces.trailing_zeros() / 8) as usize;
            seen += 1;
            if seen == 3 {
                start = i + 1;
            } else if seen == 4 {
                return (line.get(start..i).unwrap_or_default(), line.get(i + 1..).unwrap_or_default());
            }
            spaces &= spaces - 1;
        }
        at += 8;
    }
    (&[], &[])
}

/// Eight bytes of `text` from `at` as a word (the first in the low byte),
/// those past its end 0 (not a space); None past the end.
fn word_at(text: &[u8], at: usize) -> Option<u64> {
    if let Some(word) = text.get(at..at + 8) {
        return Some(u64::from_le_bytes(word.try_into().unwrap_or_default()));
    }
    let rest = text.get(at..).filter(|rest| !rest.is_empty())?;
    let mut word = [0; 8];
    word.iter_mut().zip(rest).for_each(|(w, &b)| *w = b);
    Some(u64::from_le_bytes(word))
}

/// `text` split at its last space: what is before it and the last field
/// (all of `text` when it has no space). mountinfo's last fields are short.
fn last_field(text: &[u8]) -> (&[u8], &[u8]) {
    match text.iter().rposition(|&b| b == b' ') {
        Some(at) => (text.get(..at).unwrap_or_default(), text.get(at + 1..).unwrap_or_default()),
        None => (&[], text),
    }
}

/// Which cgroup mounts `visible_mounts` keeps.
#[derive(Debug, Clone, Copy)]
enum Keep<'c> {
    /// Those that can hold a controller: the v1 ones that have it, and v2
    /// ones (whose controllers are in `cgroup.controllers`). At every start
    /// (the OOM watch) these are one or two of a dozen, and the others'
    /// read-only flags are never looked for.
    Controller(&'c [u8]),
    /// Every one (the tests, and the error that says which kind is missing).
    All,
}

/// The cgroup filesystem that a mountinfo line describes, from the `rest`
/// of the line after its root and mount point, or `None` for another
/// filesystem or one that `keep` leaves out:
/// `ID PARENT MAJ:MIN ROOT POINT | OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER`.
/// Read from the end: the three fields after the `-` are the line's last
/// (none of them has a space: the kernel escapes them), and the optional
/// fields before it vary in number.
fn cgroup_mount<'a>(root: &'a [u8], point: &'a [u8], rest: &'a [u8], keep: Keep<'_>) -> Option<Mount<'a>> {
    let (rest, options) = last_field(rest);
    let (rest, _source) = last_field(rest);
    let (rest, fstype) = last_field(rest);
    let v2 = match fstype {
        b"cgroup" => false,
        b"cgroup2" => true,
        _ => return None,
    };
    // `OPTIONS [OPTIONAL...] -`, the optional fields (`shared:1`,
    // `master:3`) up to the `-`.
    let (before, dash) = last_field(rest);
    if dash != b"-" || before.is_empty() {
        return None;
    }
    if let Keep::Controller(controller) = keep
        && !v2
        && !has_item(options, controller)
    {
        return None;
    }
    let mount_options = field(&mut { before });
    // Read-only either for this mount or for the whole filesystem.
    let read_only = has_item(mount_options, b"ro") || has_item(options, b"ro");
    Some(Mount { root, point, v2, read_only, options })
}

/// The cgroup mounts under `root` that a path resolves to, in mount order,
/// those that `keep` asks for: a later mount at the same point, or at a
/// directory above it, hides an earlier one (`docker run -v
/// /sys/fs/cgroup/pids:/sys/fs/cgroup/pids:rw` puts a writable mount on top
/// of the read-only one). mountinfo lists a namespace's mounts in the order
/// they were made, so one pass does: each line drops the mounts kept so far
/// that it hides, then is kept itself if it is a cgroup mount under `root`.
/// Only a mount at `root`, above it or below it can hide one under it: any
/// other line is read only up to its mount point (and searched for its
/// newline). A mount hides whatever is
/// under it whether it is kept or not, so leaving out the mounts `keep`
/// does not ask for changes nothing about the others.
///
/// The lines are compared as they are, escaped: the kernel escapes a few
/// bytes as `\ooo` (space, tab, newline, `\`, and `#` in newer kernels),
/// which leaves `/` alone and is a prefix code, so one escaped path is
/// within another exactly when the paths are. Only a `root` with one of
/// those bytes (never rinit's own) has each mount point unescaped first.
fn visible_mounts<'a>(mountinfo: &'a [u8], root: &[u8], keep: Keep<'_>) -> Vec<Mount<'a>> {
    let plain = !root.iter().any(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\\' | b'#'));
    let mut kept: Vec<Mount<'a>> = Vec::new();
    let mut text = mountinfo;
    while !text.is_empty() {
        let end = find_byte(text, b'\n').unwrap_or(text.len());
        let (line, after) = text.split_at_checked(end).unwrap_or((text, &[]));
        text = after.get(1..).unwrap_or_default();
        let (mount_root, mut rest) = root_field(line);
        // Most mount points are elsewhere (`/proc`, `/dev/shm`): the byte
        // after their first `/` differs from the root's, which tells them
        // apart without finding where they end (issue 20: about 150
        // instructions a line). Only a point that is `/` itself, or starts
        // as the root does, is read on.
        if plain
            && let (Some(b'/'), Some(&second)) = (rest.first(), rest.get(1))
            && second != b' '
            && root.get(1).is_some_and(|&r| r != second)
        {
            continue;
        }
        let point = field(&mut rest);
        // The empty line after the last newline, or a line cut short.
        if point.is_empty() {
            continue;
        }
        let (under_root, above_root) = if plain {
            (is_within(point, root), is_within(root, point))
        } else {
            let point = unescape(point);
            (is_within(&point, root), is_within(root, &point))
        };
        if !under_root && !above_root {
            continue;
        }
        // A mount over `/` itself does not hide anything: path lookup
        // starts at the process's root, not at what is mounted on it.
        if point != b"/" {
            kept.retain(|m| !is_within(m.point, point));
        }
        if under_root && let Some(mount) = cgroup_mount(mount_root, point, rest, keep) {
            kept.push(mount);
        }
    }
    kept
}

/// Every visible cgroup mount.
#[cfg(test)]
pub(super) fn visible_cgroup_mounts(mountinfo: &str) -> Vec<Mount<'_>> {
    visible_mounts(mountinfo.as_bytes(), b"/", Keep::All)
}

/// Whether `path` is `dir` or below it, component by component (`/a/bc` is
/// not below `/a/b`). Both are absolute, without `.`, `..` or doubled or
/// trailing slashes, as in mountinfo.
fn is_within(path: &[u8], dir: &[u8]) -> bool {
    let dir = dir.strip_suffix(b"/").unwrap_or(dir);
    // The byte after `dir` first: it tells most siblings apart without
    // comparing the rest.
    matches!(path.get(dir.len()), None | Some(b'/'))
        && path.len() >= dir.len()
        && path.iter().zip(dir).all(|(a, b)| a == b)
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\134` for `\`);
/// borrowed when there are none, as nearly always.
fn unescape(field: &[u8]) -> Cow<'_, [u8]> {
    if !field.contains(&b'\\') {
        return Cow::Borrowed(field);
    }
    let mut out = Vec::with_capacity(field.len());
    let mut rest = field;
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
    Cow::Owned(out)
}

/// Where the cgroup `path` is under `mount`: the mount point and the path
/// below it, as one path (the length of the mount point's part beside
/// it), or None if the mount does not show it (its root is elsewhere in
/// the hierarchy).
fn translate(mount: &Mount<'_>, path: &[u8]) -> Option<(PathBuf, usize)> {
    let root = unescape(mount.root);
    let rest = if *root == *b"/" { path } else { path.strip_prefix(&*root)? };
    // Root `/docker/ab` must not match `/docker/abc`.
    if !rest.is_empty() && rest.first() != Some(&b'/') {
        return None;
    }
    let first = rest.iter().position(|&b| b != b'/').unwrap_or(rest.len());
    let rel = rest.get(first..).unwrap_or_default();
    // Outside a cgroup namespace's root the kernel shows `/../x`.
    if rel.split(|&b| b == b'/').any(|c| c == b"..") {
        return None;
    }
    let point = unescape(mount.point);
    let mut dir = Vec::with_capacity(point.len() + 1 + rel.len());
    dir.extend_from_slice(&point);
    if !rel.is_empty() {
        if point.last() != Some(&b'/') {
            dir.push(b'/');
        }
        dir.extend_from_slice(rel);
    }
    Some((PathBuf::from(OsString::from_vec(dir)), point.len()))
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
    /// The length of the mount point, which starts `dir`.
    point_len: usize,
    pub read_only: bool,
}

impl Place {
    /// Where the hierarchy is mounted: nothing above it is visible.
    pub fn mount_point(&self) -> &Path {
        let dir = self.dir.as_os_str().as_encoded_bytes();
        let point = dir.get(..self.point_len).unwrap_or(dir);
        Path::new(std::ffi::OsStr::from_bytes(point))
    }
}

/// Finds rinit's cgroup for `controller`: the v1 hierarchy that has it if
/// there is one (a controller belongs to one hierarchy only), else the v2
/// one, whose controllers the caller checks in `cgroup.controllers`.
/// Only mounts under `cgroup_root` count. Both texts are bytes as the
/// kernel gave them (`read_both`).
pub(super) fn find_place(mountinfo: &[u8], own: &[u8], cgroup_root: &Path, controller: &str) -> Result<Place, String> {
    let root = cgroup_root.as_os_str().as_encoded_bytes();
    let mounts = visible_mounts(mountinfo, root, Keep::Controller(controller.as_bytes()));
    let is_v1 = |m: &Mount<'_>| !m.v2 && m.has_option(controller);
    let version = if mounts.iter().any(is_v1) {
        Version::V1
    } else if mounts.iter().any(|m| m.v2) {
        Version::V2
    } else if visible_mounts(mountinfo, root, Keep::All).is_empty() {
        // Read again, whole, only to say which of the two is missing.
        return Err(format!("no cgroup filesystem is mounted at {}", crate::escape::path(cgroup_root)));
    } else {
        return Err(format!(
            "no cgroup hierarchy with the {controller} controller is mounted at {}",
            crate::escape::path(cgroup_root)
        ));
    };
    let own_path = parse_memberships(own)
        .find(|m| match version {
            Version::V1 => !m.v2 && has_item(m.controllers, controller.as_bytes()),
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
        .filter_map(|m| {
            translate(m, own_path).map(|(dir, point_len)| Place { version, dir, point_len, read_only: m.read_only })
        })
        // A writable mount of the hierarchy before a read-only one (the
        // first of either, in mount order): `--pids-max` writes, and the
        // readers find the same files under either.
        .min_by_key(|place| place.read_only)
        .ok_or_else(|| {
            format!(
                "rinit's cgroup {} is not visible under the {controller} hierarchy mounted at {}",
                crate::escape::Escaped(own_path),
                crate::escape::path(cgroup_root)
            )
        })
}

/// rinit's cgroup for `controller`, from the two files under `proc_root`,
/// read into one buffer.
pub(super) fn locate(proc_root: &Path, cgroup_root: &Path, controller: &str) -> Result<Place, String> {
    let mut text = Vec::new();
    locate_with(proc_root, cgroup_root, controller, &mut text).map(|(place, _read)| place)
}

/// `locate`, reading into `text` (cleared first), whose allocation the
/// caller may use again; with the two files read, mountinfo and the
/// cgroup file, still open, in the order they were opened.
pub(super) fn locate_with(
    proc_root: &Path,
    cgroup_root: &Path,
    controller: &str,
    text: &mut Vec<u8>,
) -> Result<(Place, [File; 2]), String> {
    let ((mountinfo, own), files) = read_both(proc_root, text)?;
    find_place(mountinfo, own, cgroup_root, controller).map(|place| (place, files))
}

/// `self/mountinfo` and `self/cgroup` under `proc_root`, read whole into
/// `text` (cleared first), one after the other: the two texts, and the two
/// files, still open (the OOM watch closes them once its own files are open:
/// `oom::close_both`; other callers just drop them). Bytes, never decoded: a
/// cgroup's name may hold any byte but `/` and NUL, and a path decoded
/// lossily names a cgroup that is not there (the exit report's figures were
/// all "unknown" in a cgroup named with a `\xff`).
#[allow(clippy::type_complexity)]
pub(super) fn read_both<'t>(proc_root: &Path, text: &'t mut Vec<u8>) -> Result<((&'t [u8], &'t [u8]), [File; 2]), String> {
    text.clear();
    let mountinfo_file = read_into(proc_root, "self/mountinfo", text)?;
    let mountinfo_len = text.len();
    let cgroup_file = read_into(proc_root, "self/cgroup", text)?;
    let texts = text.split_at_checked(mountinfo_len).unwrap_or((text.as_slice(), &[]));
    Ok((texts, [mountinfo_file, cgroup_file]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn parses_proc_self_cgroup() {
        let m: Vec<_> =
            parse_memberships(b"12:pids:/docker/abc\n4:cpu,cpuacct:/x\n1:name=systemd:/s\n0::/a:b\n").collect();
        assert_eq!(m.len(), 4);
        assert_eq!(m[0], Membership { v2: false, controllers: b"pids", path: b"/docker/abc" });
        assert!(has_item(m[1].controllers, b"cpu") && has_item(m[1].controllers, b"cpuacct"));
        assert!(!has_item(m[1].controllers, b"cpuac"));
        assert_eq!(m[3], Membership { v2: true, controllers: b"", path: b"/a:b" });
    }

    #[test]
    fn lines_are_those_split_gives() {
        let long = format!("4:memory:/{}\n0::/{}", "d".repeat(79), "e".repeat(13));
        for text in [&b""[..], b"\n", b"a", b"a\n", b"\n\nb", b"12345678\n123456789\n", long.as_bytes()] {
            let split: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
            assert_eq!(lines(text).collect::<Vec<_>>(), split, "{:?}", String::from_utf8_lossy(text));
        }
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
                root: b"/docker/abc",
                point: b"/sys/fs/cgroup/pids",
                v2: false,
                read_only: true,
                options: b"rw,pids"
            }
        );
        assert!(m[0].has_option("pids") && !m[0].has_option("pid"));
        assert_eq!(m[1].point(), PathBuf::from("/sys/fs/cgroup/my dir"));
        assert!(m[1].v2 && !m[1].read_only);
        assert_eq!(*unescape(b"a\\134b\\0"), *b"a\\b\\0");
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
        let place = find_place(text.as_bytes(), b"8:pids:/\n", Path::new("/sys/fs/cgroup"), "pids").unwrap();
        assert!(!place.read_only);
        // And the other way round: a read-only mount on top wins too.
        let text = "\
39 31 0:36 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
50 39 0:36 / /sys/fs/cgroup/pids ro,nosuid - cgroup cgroup rw,pids
";
        assert!(visible_cgroup_mounts(text)[0].read_only);
    }

    #[test]
    fn a_writable_mount_of_the_hierarchy_is_taken_before_a_read_only_one() {
        // Two mounts of the pids hierarchy at two places, the read-only one
        // first: `--pids-max` needs the writable one, which a review found
        // passed over ("mounted read-only").
        let text = "\
39 31 0:36 / /sys/fs/cgroup/pids ro,nosuid - cgroup cgroup rw,pids
50 31 0:36 / /sys/fs/cgroup/pids-rw rw,nosuid - cgroup cgroup rw,pids
";
        assert_eq!(visible_cgroup_mounts(text).len(), 2);
        let place = find_place(text.as_bytes(), b"8:pids:/\n", Path::new("/sys/fs/cgroup"), "pids").unwrap();
        assert!(!place.read_only);
        assert_eq!(place.dir, PathBuf::from("/sys/fs/cgroup/pids-rw"));
        // Of two writable ones, the first.
        let text = text.replacen(" ro,", " rw,", 1);
        let place = find_place(text.as_bytes(), b"8:pids:/\n", Path::new("/sys/fs/cgroup"), "pids").unwrap();
        assert_eq!(place.dir, PathBuf::from("/sys/fs/cgroup/pids"));
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
        let e = find_place(text.as_bytes(), b"8:pids:/\n4:memory:/\n", Path::new("/sys/fs/cgroup"), "pids").unwrap_err();
        assert!(e.contains("no cgroup hierarchy with the pids controller"), "{e}");
    }

    #[test]
    fn a_long_mountinfo_is_read_to_its_end() {
        // 70 cgroup mounts at 19 points, lines of every length around the
        // eight-byte steps, escapes, optional fields, empty lines, lines cut
        // short, and a last line without its newline.
        let mut text = String::new();
        for i in 0..70 {
            let pad = "x".repeat(i % 19);
            let optional = ["", " shared:1", " shared:2 master:3"][i % 3];
            text += &format!("{i} 1 0:{i} /r{pad} /sys/fs/cgroup/a\\040b{pad} rw,relatime{optional} - cgroup cgroup rw,c{i}\n");
            if i % 10 == 0 {
                text += "\n7 1 0:7 / /sys/fs/cgroup/cut rw - cgroup\n8 1 0:8\n";
            }
        }
        text += "99 1 0:9 / /sys/fs/cgroup/last ro - cgroup2 cgroup2 rw";
        let mounts = visible_cgroup_mounts(&text);
        // Each point with the last of its mounts, and the last line's.
        assert_eq!(mounts.len(), 20, "{mounts:?}");
        let at = |pad: usize| PathBuf::from(format!("/sys/fs/cgroup/a b{}", "x".repeat(pad)));
        assert_eq!(mounts[18].point(), at(69 % 19));
        assert_eq!((mounts[18].root, mounts[18].options), (&b"/rxxxxxxxxxxxx"[..], &b"rw,c69"[..]));
        assert!(mounts.iter().all(|m| m.point() != Path::new("/sys/fs/cgroup/cut")), "no super options: not a mount");
        assert_eq!(mounts[19], Mount { root: b"/", point: b"/sys/fs/cgroup/last", v2: true, read_only: true, options: b"rw" });
        let place = find_place(text.as_bytes(), b"0::/\n", Path::new("/sys/fs/cgroup"), "memory").unwrap();
        assert_eq!(place.dir, PathBuf::from("/sys/fs/cgroup/last"));
    }

    #[test]
    fn the_root_is_the_fourth_field_wherever_the_words_end() {
        for pad in 0..20 {
            let id = "1".repeat(pad + 1);
            let line = format!("{id} 2 0:{pad} /r{} /p rest", "x".repeat(pad));
            let (root, rest) = root_field(line.as_bytes());
            assert_eq!(root, format!("/r{}", "x".repeat(pad)).as_bytes(), "{line}");
            assert_eq!(rest, b"/p rest");
        }
        assert_eq!(root_field(b"1 2 3 /"), (&b""[..], &b""[..]), "no space after the root: cut short");
        assert_eq!(root_field(b"1 2 3 / "), (&b"/"[..], &b""[..]));
    }

    #[test]
    fn translates_the_mount_root() {
        let mount = |root: &'static str| Mount {
            root: root.as_bytes(),
            point: b"/sys/fs/cgroup/pids",
            v2: false,
            read_only: false,
            options: b"",
        };
        let at = |p: &str| Some(PathBuf::from(p));
        let translate = |m: &Mount<'_>, p: &str| translate(m, p.as_bytes()).map(|(dir, _)| dir);
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
        assert_eq!(
            m.iter().map(|m| m.point).collect::<Vec<_>>(),
            [&b"/sys/fs/cgroup/pids"[..], b"/sys/fs/cgroup/my\\040dir"]
        );
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
        let place = find_place(text.as_bytes(), b"8:pids:/a b/x\n", Path::new("/c g"), "pids").unwrap();
        assert_eq!(place.dir, PathBuf::from("/c g/pids/x"));
        assert_eq!(place.mount_point(), Path::new("/c g/pids"));
        assert_eq!(unescape(b"plain"), Cow::Borrowed(b"plain"));
        assert_eq!(*unescape(b"\\777\\12\\"), *b"\\777\\12\\", "not escapes: kept as they are");
    }
}
