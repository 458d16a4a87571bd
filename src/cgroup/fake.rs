//! A fake machine for the unit tests: `<dir>/proc/self/{cgroup,mountinfo}`
//! and cgroup directories below `<dir>/sys/fs/cgroup`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Fake {
    pub dir: PathBuf,
}

/// (mount root, mount point below the cgroup root, fstype, mount options,
/// super options).
pub type MountSpec<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

pub const V1_PIDS: MountSpec = ("/", "pids", "cgroup", "rw,nosuid", "rw,pids");
pub const V1_MEMORY: MountSpec = ("/", "memory", "cgroup", "rw", "rw,memory");
pub const V2: MountSpec = ("/", "", "cgroup2", "rw,nosuid", "rw,nsdelegate");

impl Fake {
    pub fn new(mounts: &[MountSpec], own: &str) -> Fake {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rinit-cgroup-unit-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        // `self` links to a directory named after this process, as in a
        // /proc of rinit's own PID namespace.
        let me = std::process::id().to_string();
        fs::create_dir_all(dir.join("proc").join(&me)).unwrap();
        std::os::unix::fs::symlink(&me, dir.join("proc/self")).unwrap();
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

    pub fn proc_root(&self) -> PathBuf {
        self.dir.join("proc")
    }

    pub fn cgroup_root(&self) -> PathBuf {
        self.dir.join("sys/fs/cgroup")
    }

    /// A path below the cgroup root.
    pub fn cg(&self, rel: &str) -> PathBuf {
        let root = self.cgroup_root();
        if rel.is_empty() { root } else { root.join(rel) }
    }

    /// Writes a control file, creating its cgroup directory.
    pub fn put(&self, rel: &str, text: &str) {
        let path = self.cg(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    pub fn get(&self, rel: &str) -> String {
        fs::read_to_string(self.cg(rel)).unwrap()
    }

    /// The `rinit-*` directories below `rel`.
    pub fn leaves(&self, rel: &str) -> Vec<PathBuf> {
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

/// What the kernel does on rmdir of a cgroup: its control files go with it.
pub fn kernel_rmdir_files(leaf: &Path) {
    for f in fs::read_dir(leaf).unwrap() {
        fs::remove_file(f.unwrap().path()).unwrap();
    }
}
