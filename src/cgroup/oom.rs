//! The OOM-kill report: the memory cgroup's `oom_kill` count (v1
//! `memory.oom_control`, v2 `memory.events`) and the limit in force.

use std::fs;
use std::path::{Path, PathBuf};

use log::debug;

use super::locate::{Place, Version, locate};
use super::{keyed, read};

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
        Some(self.limit_text())
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

    fn limit_text(&self) -> String {
        match self.limit_in_force() {
            Some(bytes) => format!("memory limit {}", human_bytes(bytes)),
            None => "no memory limit".to_string(),
        }
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

/// Starts watching for OOM kills, if rinit's memory cgroup can be found.
pub fn oom_watch(proc_root: &Path, cgroup_root: &Path) -> Option<OomWatch> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::super::fake::*;
    use super::*;

    fn watch(f: &Fake) -> Option<OomWatch> {
        oom_watch(&f.proc_root(), &f.cgroup_root())
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
    }

    #[test]
    fn oom_v1_reports_rises_of_the_counter_once() {
        let f = Fake::new(&[V1_MEMORY], "4:memory:/job\n");
        f.put("memory/job/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
        f.put("memory/job/memory.stat", "cache 0\nhierarchical_memory_limit 134217728\n");
        let mut w = watch(&f).unwrap();
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
    fn oom_v1_limit_falls_back_to_limit_in_bytes() {
        let f = Fake::new(&[V1_MEMORY], "4:memory:/job\n");
        f.put("memory/job/memory.oom_control", "oom_kill 0\n");
        f.put("memory/job/memory.limit_in_bytes", "33554432\n");
        let mut w = watch(&f).unwrap();
        f.put("memory/job/memory.oom_control", "oom_kill 1\n");
        assert_eq!(w.oom_killed().as_deref(), Some("memory limit 32 MiB"));
    }

    #[test]
    fn oom_v2_climbs_to_the_memory_cgroup_and_takes_the_smallest_limit() {
        let f = Fake::new(&[("/kube", "", "cgroup2", "rw", "rw")], "0::/kube/pod/ctr/rinit-1-0\n");
        fs::create_dir_all(f.cg("pod/ctr/rinit-1-0")).unwrap();
        f.put("pod/ctr/memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
        f.put("pod/ctr/memory.max", "max\n");
        f.put("pod/memory.max", "268435456\n");
        f.put("memory.max", "536870912\n");
        let mut w = watch(&f).unwrap();
        assert_eq!(w.oom_killed(), None);
        f.put("pod/ctr/memory.events", "oom 2\noom_kill 2\n");
        assert_eq!(w.oom_killed().as_deref(), Some("memory limit 256 MiB"));
    }

    #[test]
    fn oom_v2_in_a_cgroup_namespace() {
        // `0::/`, the mount shows rinit's own cgroup.
        let f = Fake::new(&[("/", "", "cgroup2", "rw", "rw")], "0::/\n");
        f.put("memory.events", "oom_kill 5\n");
        f.put("memory.max", "268435456\n");
        let mut w = watch(&f).unwrap();
        assert_eq!(w.oom_killed(), None);
        f.put("memory.events", "oom_kill 6\n");
        assert_eq!(w.oom_killed().as_deref(), Some("memory limit 256 MiB"));
    }

    #[test]
    fn a_container_mount_root_is_translated() {
        // Docker v1 without a cgroup namespace: /proc/self/cgroup says
        // /docker/abc, the mount shows it at <root>/memory. A cgroup of that
        // name below the mount must not be used.
        let f = Fake::new(&[("/docker/abc", "memory", "cgroup", "rw", "rw,memory")], "4:memory:/docker/abc\n");
        f.put("memory/docker/abc/memory.oom_control", "oom_kill 9\n");
        f.put("memory/memory.oom_control", "oom_kill 1\n");
        let mut w = watch(&f).unwrap();
        f.put("memory/docker/abc/memory.oom_control", "oom_kill 10\n");
        assert_eq!(w.oom_killed(), None, "watched the wrong cgroup");
        f.put("memory/memory.oom_control", "oom_kill 2\n");
        assert!(w.oom_killed().is_some());
    }

    #[test]
    fn no_memory_controller_means_no_watch() {
        let f = Fake::new(&[V1_PIDS], "8:pids:/\n");
        assert!(watch(&f).is_none());
        let g = Fake::new(&[V2], "0::/\n");
        assert!(watch(&g).is_none(), "the v2 root counts no OOM kills");
    }
}
