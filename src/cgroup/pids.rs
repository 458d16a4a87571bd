//! `--pids-max N`: rinit and everything it starts in a cgroup whose
//! `pids.max` is at most N, and at exit only what rinit itself changed is
//! undone.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use log::{debug, info, warn};

use super::locate::{Version, locate};
use super::{Error, has_word, read, write};

/// A pids limit in force; `release` undoes what rinit changed.
#[derive(Debug)]
pub struct PidsLimit {
    undo: Undo,
}

#[derive(Debug)]
enum Undo {
    /// rinit set the pids.max of the cgroup it was in: put the old value
    /// back, if the file still holds what rinit wrote.
    Restore { file: PathBuf, old: String, wrote: String },
    /// rinit made a leaf cgroup and moved into it.
    Leaf { parent: PathBuf, leaf: PathBuf },
    /// A limit as low or lower was already there: rinit changed nothing.
    Nothing,
}

impl PidsLimit {
    /// Called when every other process is gone, just before rinit exits.
    pub fn release(self) {
        match self.undo {
            Undo::Restore { file, old, wrote } => restore(&file, old.trim(), &wrote),
            Undo::Leaf { parent, leaf } => {
                // A cgroup with a member cannot be removed, and rinit is its
                // last member: it moves back where it came from first.
                if let Err(e) = write(&parent.join("cgroup.procs"), "0") {
                    warn!("cannot leave the cgroup {}: {e}", crate::escape::path(&leaf));
                    return;
                }
                match fs::remove_dir(&leaf) {
                    Ok(()) => debug!("removed the cgroup {}", crate::escape::path(&leaf)),
                    Err(e) => warn!("cannot remove the cgroup {}: {e}", crate::escape::path(&leaf)),
                }
            }
            Undo::Nothing => {}
        }
    }
}

/// Puts back the pids.max that was there before rinit, unless someone else
/// has changed it since: their value is the one to keep.
fn restore(file: &Path, old: &str, wrote: &str) {
    match read(file) {
        Ok(now) if now.trim() == wrote => {
            if let Err(e) = write(file, old) {
                warn!("cannot restore pids.max: {e}");
            }
        }
        Ok(now) => info!(
            "{} is {} now, no longer the {wrote} rinit set: left as it is",
            crate::escape::path(file),
            now.trim()
        ),
        Err(e) => warn!("cannot restore pids.max: {e}"),
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

/// Its steps (`limit_own`, `remove_stale_leaves`, `enter_leaf`) out of
/// line: inlined, their paths and messages made one 0.9 KB frame under the
/// deepest of them (PID 1 may have about 4 KiB of stack: rinit(1) LIMITS).
fn apply_pids_max(proc_root: &Path, cgroup_root: &Path, max: u64) -> Result<PidsLimit, String> {
    let place = locate(proc_root, cgroup_root, "pids")?;
    if place.read_only {
        // As in an unprivileged Docker container: every write would fail with EROFS.
        return Err(format!("the cgroup filesystem at {} is mounted read-only", crate::escape::path(place.mount_point())));
    }
    let own = place.dir.join("pids.max");
    if own.exists() {
        // rinit's own cgroup (the container's, typically) has the controller:
        // limit it directly, so the limit covers the whole container.
        return limit_own(&own, max);
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
                crate::escape::path(&place.dir),
                available.trim()
            ));
        }
        // v2 children get a controller only when the parent enables it.
        let subtree = place.dir.join("cgroup.subtree_control");
        if !has_word(&read(&subtree)?, "pids") {
            write(&subtree, "+pids")?;
        }
    }
    remove_stale_leaves(&place.dir);
    let leaf = enter_leaf(&place.dir, &max.to_string())?;
    info!("pids.max {max} set in {}, a cgroup made for rinit", crate::escape::path(&leaf));
    Ok(PidsLimit { undo: Undo::Leaf { parent: place.dir, leaf } })
}

/// Sets the pids.max of the cgroup rinit is in, unless it already holds a
/// limit as low: a lower limit someone else set is never raised.
#[inline(never)]
fn limit_own(file: &Path, max: u64) -> Result<PidsLimit, String> {
    let old = read(file)?;
    if let Ok(current) = old.trim().parse::<u64>()
        && current <= max
    {
        warn!(
            "{} is already {current}, at most the {max} of --pids-max: kept as it is",
            crate::escape::path(file)
        );
        return Ok(PidsLimit { undo: Undo::Nothing });
    }
    let wrote = max.to_string();
    write(file, &wrote)?;
    info!("pids.max {max} set in {}", crate::escape::path(file.parent().unwrap_or(file)));
    Ok(PidsLimit { undo: Undo::Restore { file: file.to_path_buf(), old, wrote } })
}

/// Whether `name` is a leaf that rinit makes: `rinit-<pid>-<8 hex digits>`.
fn is_leaf_name(name: &str) -> bool {
    let Some((pid, hex)) = name.strip_prefix("rinit-").and_then(|rest| rest.split_once('-')) else {
        return false;
    };
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && hex.len() == 8
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Removes the leaves that a rinit killed by SIGKILL left behind in
/// `parent`. The kernel refuses to remove a cgroup that still has a process
/// (EBUSY), so a leaf in use by another rinit stays. One just made by
/// another rinit that has not moved in yet may go; that rinit makes a new
/// one (`enter_leaf`).
#[inline(never)]
fn remove_stale_leaves(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_str().is_some_and(is_leaf_name) {
            continue;
        }
        let path = entry.path();
        match fs::remove_dir(&path) {
            Ok(()) => info!("removed the empty cgroup {}, left behind by an earlier rinit", crate::escape::path(&path)),
            Err(e) => debug!("left the cgroup {} alone: {e}", crate::escape::path(&path)),
        }
    }
}

/// Makes a leaf below `parent`, sets its pids.max and moves rinit into it.
/// Another rinit's clean-up may remove the leaf between the mkdir and the
/// move (it is empty then): that shows as ENOENT, and a new leaf is made.
#[inline(never)]
fn enter_leaf(parent: &Path, max: &str) -> Result<PathBuf, String> {
    let mut tries = 0;
    loop {
        tries += 1;
        let leaf = make_leaf(parent)?;
        // The limit goes on before rinit moves in, so nothing escapes it.
        // "0" is the writing process, whatever PID namespace it is in.
        let setup = fs::write(leaf.join("pids.max"), max).map_err(|e| (e, "pids.max", max)).and_then(|()| {
            fs::write(leaf.join("cgroup.procs"), "0").map_err(|e| (e, "cgroup.procs", "0"))
        });
        match setup {
            Ok(()) => return Ok(leaf),
            Err((e, _, _)) if e.kind() == ErrorKind::NotFound && tries < 10 => {
                debug!("the cgroup {} went away before rinit moved in; making another", crate::escape::path(&leaf));
            }
            Err((e, file, value)) => {
                let _ = fs::remove_dir(&leaf);
                return Err(format!("cannot write '{value}' to {}: {e}", crate::escape::path(&leaf.join(file))));
            }
        }
    }
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
            Err(e) if e.kind() == ErrorKind::AlreadyExists => last = e.to_string(),
            Err(e) => return Err(format!("cannot create the cgroup {}: {e}", crate::escape::path(&leaf))),
        }
    }
    Err(format!("cannot create a cgroup in {}: {last}", crate::escape::path(parent)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::super::fake::*;
    use super::*;

    fn limit(f: &Fake, max: u64) -> Result<PidsLimit, Error> {
        limit_pids(&f.proc_root(), &f.cgroup_root(), max)
    }

    #[test]
    fn v1_own_cgroup_with_pids_max_is_set_and_restored() {
        // A container: the mount shows /docker/abc, rinit is in a child of it.
        let f = Fake::new(&[("/docker/abc", "pids", "cgroup", "rw", "rw,pids")], "8:pids:/docker/abc/sub\n");
        f.put("pids/sub/pids.max", "max\n");
        let l = limit(&f, 40).unwrap();
        assert_eq!(f.get("pids/sub/pids.max"), "40");
        assert!(f.leaves("pids/sub").is_empty());
        l.release();
        assert_eq!(f.get("pids/sub/pids.max"), "max");
    }

    #[test]
    fn a_lower_limit_already_there_is_kept() {
        // On the main of 2026-11-25 it was raised to 40, then put back at exit.
        let f = Fake::new(&[V2], "0::/ctr\n");
        f.put("ctr/pids.max", "20\n");
        let l = limit(&f, 40).unwrap();
        assert_eq!(f.get("ctr/pids.max"), "20\n", "never raised");
        l.release();
        assert_eq!(f.get("ctr/pids.max"), "20\n");
        // The same limit: nothing to change either.
        let l = limit(&f, 20).unwrap();
        assert_eq!(f.get("ctr/pids.max"), "20\n");
        l.release();
    }

    #[test]
    fn a_limit_changed_by_someone_else_is_not_restored() {
        // On the main of 2026-11-25 the old value was written back over theirs.
        let f = Fake::new(&[V2], "0::/ctr\n");
        f.put("ctr/pids.max", "100\n");
        let l = limit(&f, 40).unwrap();
        assert_eq!(f.get("ctr/pids.max"), "40");
        f.put("ctr/pids.max", "30\n");
        l.release();
        assert_eq!(f.get("ctr/pids.max"), "30\n", "their value stays");
    }

    #[test]
    fn v1_root_cgroup_gets_a_leaf_which_release_removes() {
        let f = Fake::new(&[V1_PIDS], "9:name=systemd:/\n8:pids:/\n0::/\n");
        f.put("pids/cgroup.procs", "1\n");
        let l = limit(&f, 40).unwrap();
        let leaves = f.leaves("pids");
        assert_eq!(leaves.len(), 1, "one leaf");
        let leaf = &leaves[0];
        assert_eq!(fs::read_to_string(leaf.join("pids.max")).unwrap(), "40");
        assert_eq!(fs::read_to_string(leaf.join("cgroup.procs")).unwrap(), "0", "rinit moved in");
        kernel_rmdir_files(leaf);
        l.release();
        assert_eq!(f.get("pids/cgroup.procs"), "0", "rinit moved back out");
        assert!(!leaf.exists(), "leaf removed");
    }

    #[test]
    fn stale_leaves_are_removed_and_leaves_in_use_kept() {
        // On the main of 2026-11-25 the stale leaf stayed for good.
        let f = Fake::new(&[V1_PIDS], "8:pids:/\n");
        fs::create_dir_all(f.cg("pids/rinit-77-0badcafe")).unwrap();
        // In use: the kernel refuses to remove it (here: it is not empty).
        f.put("pids/rinit-78-0000beef/cgroup.procs", "5\n");
        // Not rinit's: names it would never make.
        fs::create_dir_all(f.cg("pids/rinit-x-0badcafe")).unwrap();
        fs::create_dir_all(f.cg("pids/rinit-77-0badcafe0")).unwrap();
        let _l = limit(&f, 40).unwrap();
        assert!(!f.cg("pids/rinit-77-0badcafe").exists(), "the stale leaf is gone");
        assert!(f.cg("pids/rinit-78-0000beef").exists());
        assert!(f.cg("pids/rinit-x-0badcafe").exists());
        assert!(f.cg("pids/rinit-77-0badcafe0").exists());
        assert!(is_leaf_name("rinit-1-00000000") && !is_leaf_name("rinit--00000000"));
    }

    #[test]
    fn v2_nested_cgroup_with_pids_max_is_set() {
        let f = Fake::new(&[V2], "0::/system.slice/app.service\n");
        f.put("system.slice/app.service/pids.max", "100\n");
        let l = limit(&f, 7).unwrap();
        assert_eq!(f.get("system.slice/app.service/pids.max"), "7");
        l.release();
        assert_eq!(f.get("system.slice/app.service/pids.max"), "100");
    }

    #[test]
    fn v2_root_enables_pids_and_makes_a_leaf() {
        let f = Fake::new(&[V2], "0::/\n");
        f.put("cgroup.controllers", "cpu memory pids\n");
        f.put("cgroup.subtree_control", "memory\n");
        f.put("cgroup.procs", "");
        let l = limit(&f, 40).unwrap();
        assert_eq!(f.get("cgroup.subtree_control"), "+pids");
        let leaves = f.leaves("");
        assert_eq!(leaves.len(), 1);
        assert_eq!(fs::read_to_string(leaves[0].join("pids.max")).unwrap(), "40");
        assert_eq!(fs::read_to_string(leaves[0].join("cgroup.procs")).unwrap(), "0");
        kernel_rmdir_files(&leaves[0]);
        l.release();
        assert!(!leaves[0].exists());
        assert_eq!(f.get("cgroup.procs"), "0");
    }

    #[test]
    fn v2_root_with_pids_enabled_leaves_subtree_control_alone() {
        let f = Fake::new(&[V2], "0::/\n");
        f.put("cgroup.controllers", "cpu pids\n");
        f.put("cgroup.subtree_control", "cpu pids\n");
        let _l = limit(&f, 40).unwrap();
        assert_eq!(f.get("cgroup.subtree_control"), "cpu pids\n");
        assert_eq!(f.leaves("").len(), 1);
    }

    #[test]
    fn v2_without_pids_controller_is_a_clear_error() {
        let f = Fake::new(&[V2], "0::/ctr\n");
        f.put("ctr/cgroup.controllers", "cpu memory\n");
        let e = limit(&f, 40).unwrap_err().0;
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
        let f = Fake::new(&[V1_MEMORY, ("/", "unified", "cgroup2", "rw", "rw")], "4:memory:/x\n0::/\n");
        f.put("unified/cgroup.controllers", "hugetlb\n");
        let e = limit(&f, 40).unwrap_err().0;
        assert!(e.contains(&format!("no pids controller in {}", f.cg("unified").display())), "{e}");
    }

    #[test]
    fn no_cgroup_filesystem_is_an_error() {
        let f = Fake::new(&[], "0::/\n");
        let e = limit(&f, 40).unwrap_err().0;
        assert!(e.contains(&format!("no cgroup filesystem is mounted at {}", f.cgroup_root().display())), "{e}");
        assert!(e.contains("docker run --pids-limit 40"), "{e}");
    }

    #[test]
    fn v1_without_pids_hierarchy_is_an_error() {
        let f = Fake::new(&[V1_MEMORY], "4:memory:/\n");
        let e = limit(&f, 40).unwrap_err().0;
        assert!(e.contains("no cgroup hierarchy with the pids controller is mounted at"), "{e}");
    }

    #[test]
    fn read_only_cgroup_filesystem_is_an_error_and_writes_nothing() {
        // As in an unprivileged Docker container.
        let f = Fake::new(&[("/docker/abc", "pids", "cgroup", "ro,nosuid", "rw,pids")], "8:pids:/docker/abc\n");
        f.put("pids/pids.max", "max\n");
        let e = limit(&f, 40).unwrap_err().0;
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
        let e = limit(&f, 40).unwrap_err().0;
        assert!(e.contains(&format!("cannot create the cgroup {}/rinit-", f.cg("pids").display())), "{e}");
        assert!(e.contains("No such file or directory"), "{e}");
    }

    #[test]
    fn own_cgroup_outside_the_mount_is_an_error() {
        let f = Fake::new(&[("/docker/abc", "pids", "cgroup", "rw", "rw,pids")], "8:pids:/elsewhere\n");
        let e = limit(&f, 40).unwrap_err().0;
        assert!(e.contains("rinit's cgroup /elsewhere is not visible under the pids hierarchy"), "{e}");
        // The path shown escaped (rinit(1) DIAGNOSTICS): a review printed
        // an ESC and a CR of a cgroup's name raw here.
        let f = Fake::new(&[("/docker/abc", "pids", "cgroup", "rw", "rw,pids")], "8:pids:/rv\x1b[2Jx\rX\n");
        let e = limit(&f, 40).unwrap_err().0;
        assert!(e.contains("rinit's cgroup /rv\\x1b[2Jx\\x0dX is not visible"), "{e}");
    }

    #[test]
    fn unreadable_proc_is_an_error() {
        let f = Fake::new(&[V1_PIDS], "8:pids:/\n");
        let e = limit_pids(&f.dir.join("no-proc"), &f.cgroup_root(), 40).unwrap_err().0;
        assert!(e.contains("cannot read"), "{e}");
        assert!(e.contains("no-proc/self/mountinfo"), "{e}");
    }
}
