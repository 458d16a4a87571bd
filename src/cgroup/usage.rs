//! The figures of the exit report (rinit(1) CGROUPS, `--report`), read once,
//! at exit, from the cgroups rinit is in (found as everywhere else, `locate`):
//!
//! - CPU: v2 `cpu.stat` (`usage_usec`, `user_usec`, `system_usec`); v1
//!   `cpuacct.usage` (nanoseconds) and `cpuacct.stat` (`user`, `system`, in
//!   USER_HZ ticks);
//! - memory: v2 `memory.peak` (kernels from 5.19), v1
//!   `memory.max_usage_in_bytes`; both count the page cache. The limit:
//!   v1 `hierarchical_memory_limit` of `memory.stat` (ancestors included),
//!   else `memory.limit_in_bytes`; v2 the smallest `memory.max` of the
//!   memory cgroup and its visible ancestors. The OOM kills: `oom_kill` of
//!   v1 `memory.oom_control`, v2 `memory.events`;
//! - processes: `pids.peak` (v1 and v2, where the kernel has it).
//!
//! On v2 a controller's files are in the nearest cgroup, from rinit's own
//! upwards, that has the controller (a leaf made for `--pids-max` may not).
//! Whatever cannot be read stays None: the report says "unknown".

use std::path::{Path, PathBuf};

use log::debug;

use super::locate::{Place, Version, find_place, read_both};
use super::oom::{limited, parse_limit};
use super::{keyed, read};
use crate::report::{Cpu, Figures, Limit};

/// Reads every figure the cgroups give.
pub fn usage(proc_root: &Path, cgroup_root: &Path) -> Figures {
    // Read once for the three controllers, as bytes, as the OOM watch
    // reads them (`read_both`).
    let mut text = Vec::new();
    // The two files are closed at once: nothing is read from them again.
    let (mountinfo, own) = match read_both(proc_root, &mut text) {
        Ok((both, _files)) => both,
        Err(e) => {
            debug!("exit report without cgroup figures: {e}");
            return Figures::default();
        }
    };
    let place = |controller: &str| match find_place(mountinfo, own, cgroup_root, controller) {
        Ok(p) if is_machines_root(&p) => {
            debug!("exit report: no {controller} figures: {} is the machine's root cgroup, no container's", crate::escape::path(&p.dir));
            None
        }
        Ok(p) => Some(p),
        Err(e) => {
            debug!("exit report: {e}");
            None
        }
    };
    let mut figures = Figures::default();
    if let Some(p) = place("cpuacct") {
        figures.cpu = cpu_at(&p);
    }
    if let Some(p) = place("memory") {
        memory_at(&p, &mut figures);
    }
    if let Some(p) = place("pids") {
        let dir = match p.version {
            Version::V1 => Some(p.dir.clone()),
            Version::V2 => nearest_with(&p, "pids.current").first().cloned(),
        };
        figures.pids_peak = dir.and_then(|d| number(&d.join("pids.peak")));
    }
    figures
}

/// Whether the cgroup is a hierarchy's real root (rinit on a host, in no
/// container's cgroup), whose figures are the whole machine's since boot:
/// v1 has `cgroup.sane_behavior` there only, v2 `cgroup.type` everywhere but
/// there. A container's cgroup namespace root is not one.
fn is_machines_root(place: &Place) -> bool {
    match place.version {
        Version::V1 => place.dir.join("cgroup.sane_behavior").exists(),
        Version::V2 => !place.dir.join("cgroup.type").exists(),
    }
}

fn cpu_at(place: &Place) -> Option<Cpu> {
    match place.version {
        Version::V1 => {
            let usage = read(&place.dir.join("cpuacct.usage")).ok()?;
            let stat = read(&place.dir.join("cpuacct.stat")).ok().unwrap_or_default();
            // SAFETY: sysconf has no preconditions (musl answers from a constant).
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
            v1_cpu(&usage, &stat, u64::try_from(hz).unwrap_or(0))
        }
        // cpu.stat is there in every v2 cgroup, the cpu controller on or not.
        Version::V2 => v2_cpu(&read(&place.dir.join("cpu.stat")).ok()?),
    }
}

/// `cpuacct.usage` (ns) and `cpuacct.stat` (`user N`, `system N`, ticks of
/// `hz` a second).
fn v1_cpu(usage: &str, stat: &str, hz: u64) -> Option<Cpu> {
    let total_ns: u64 = usage.trim().parse().ok()?;
    let ticks = |key| keyed(stat, key).filter(|_| hz > 0).map(|t| t.saturating_mul(1_000_000) / hz);
    Some(Cpu { total_usec: total_ns / 1000, user_usec: ticks("user"), system_usec: ticks("system") })
}

fn v2_cpu(stat: &str) -> Option<Cpu> {
    Some(Cpu {
        total_usec: keyed(stat, "usage_usec")?,
        user_usec: keyed(stat, "user_usec"),
        system_usec: keyed(stat, "system_usec"),
    })
}

fn memory_at(place: &Place, figures: &mut Figures) {
    match place.version {
        Version::V1 => {
            let dir = &place.dir;
            figures.version = Some("v1");
            figures.memory_peak = number(&dir.join("memory.max_usage_in_bytes"));
            figures.oom_kills = read(&dir.join("memory.oom_control")).ok().and_then(|t| keyed(&t, "oom_kill"));
            let stat = read(&dir.join("memory.stat")).ok();
            let from_stat = stat.and_then(|s| keyed(&s, "hierarchical_memory_limit"));
            let bytes = from_stat.or_else(|| number(&dir.join("memory.limit_in_bytes")));
            figures.memory_limit = match bytes {
                None => Limit::Unknown,
                Some(b) => limited(b).map_or(Limit::Unlimited, Limit::Bytes),
            };
        }
        Version::V2 => {
            let dirs = nearest_with(place, "memory.current");
            let Some(dir) = dirs.first() else {
                debug!("exit report: no cgroup with the memory controller above {}", crate::escape::path(&place.dir));
                return;
            };
            figures.version = Some("v2");
            figures.memory_peak = number(&dir.join("memory.peak"));
            figures.oom_kills = read(&dir.join("memory.events")).ok().and_then(|t| keyed(&t, "oom_kill"));
            figures.memory_limit = v2_limit(dirs.iter().map(|d| read(&d.join("memory.max")).ok()));
        }
    }
}

/// The smallest of the `memory.max` files of a cgroup and its ancestors
/// (None: unreadable). Unknown only if none could be read.
fn v2_limit(files: impl Iterator<Item = Option<String>>) -> Limit {
    let mut limit = Limit::Unknown;
    for text in files.flatten() {
        limit = match (parse_limit(&text), limit) {
            (Some(b), Limit::Bytes(old)) => Limit::Bytes(b.min(old)),
            (Some(b), _) => Limit::Bytes(b),
            (None, Limit::Unknown) if text.trim() == "max" => Limit::Unlimited,
            (None, other) => other,
        };
    }
    limit
}

/// rinit's v2 cgroup and its visible ancestors, from the nearest one that
/// has `file` (its controller) upwards; empty if none has.
fn nearest_with(place: &Place, file: &str) -> Vec<PathBuf> {
    let visible: Vec<PathBuf> =
        place.dir.ancestors().take_while(|d| d.starts_with(place.mount_point())).map(Path::to_path_buf).collect();
    match visible.iter().position(|d| d.join(file).exists()) {
        Some(from) => visible.get(from..).unwrap_or_default().to_vec(),
        None => Vec::new(),
    }
}

fn number(path: &Path) -> Option<u64> {
    read(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::super::fake::*;
    use super::*;

    const V1_CPUACCT: MountSpec = ("/", "cpuacct", "cgroup", "rw", "rw,cpuacct");

    #[test]
    fn v1_figures_from_each_hierarchy() {
        let f = Fake::new(&[V1_CPUACCT, V1_MEMORY, V1_PIDS], "8:pids:/job\n4:memory:/mem/job\n2:cpuacct:/job\n");
        put_all(&f, &[
            ("cpuacct/job/cpuacct.usage", "1020500123\n"),
            ("cpuacct/job/cpuacct.stat", "user 99\nsystem 3\n"),
            ("memory/mem/job/memory.max_usage_in_bytes", "69402624\n"),
            ("memory/mem/job/memory.stat", "cache 0\nhierarchical_memory_limit 268435456\n"),
            ("memory/mem/job/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
            ("pids/job/pids.peak", "23\n"),
        ]);
        let u = usage(&f.proc_root(), &f.cgroup_root());
        let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap();
        assert_eq!(
            u.cpu,
            Some(Cpu { total_usec: 1_020_500, user_usec: Some(99 * 1_000_000 / hz), system_usec: Some(3 * 1_000_000 / hz) })
        );
        assert_eq!(u.memory_peak, Some(69_402_624));
        assert_eq!(u.memory_limit, Limit::Bytes(256 << 20));
        assert_eq!((u.oom_kills, u.pids_peak, u.version), (Some(2), Some(23), Some("v1")));
    }

    #[test]
    fn a_cgroup_named_with_bytes_that_are_not_utf8_gives_its_figures() {
        // A review found every figure "unknown" for `rv\xff`: the two /proc
        // files were decoded lossily, and `rv\u{fffd}` is not there.
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let put = |f: &Fake, dir: &[u8], file: &str, text: &str| {
            let dir = f.cgroup_root().join(OsStr::from_bytes(dir));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(file), text).unwrap();
        };
        let f = Fake::new(&[V1_CPUACCT, V1_MEMORY, V1_PIDS], "");
        std::fs::write(f.proc_root().join("self/cgroup"), b"8:pids:/rv\xff\n4:memory:/rv\xff\n2:cpuacct:/rv\xff\n").unwrap();
        put(&f, b"cpuacct/rv\xff", "cpuacct.usage", "2000\n");
        put(&f, b"memory/rv\xff", "memory.max_usage_in_bytes", "4096\n");
        put(&f, b"memory/rv\xff", "memory.limit_in_bytes", "8192\n");
        put(&f, b"pids/rv\xff", "pids.peak", "3\n");
        let u = usage(&f.proc_root(), &f.cgroup_root());
        assert_eq!(u.cpu.map(|c| c.total_usec), Some(2));
        assert_eq!((u.memory_peak, u.memory_limit, u.pids_peak), (Some(4096), Limit::Bytes(8192), Some(3)));
        // v2, where the controllers' files are looked for upwards too.
        let g = Fake::new(&[V2], "");
        std::fs::write(g.proc_root().join("self/cgroup"), b"0::/p\xfe/rv\xff\n").unwrap();
        put(&g, b"p\xfe/rv\xff", "cgroup.type", "domain\n");
        put(&g, b"p\xfe/rv\xff", "cpu.stat", "usage_usec 7\n");
        put(&g, b"p\xfe", "memory.current", "1\n");
        put(&g, b"p\xfe", "memory.peak", "5\n");
        let u = usage(&g.proc_root(), &g.cgroup_root());
        assert_eq!((u.cpu.map(|c| c.total_usec), u.memory_peak), (Some(7), Some(5)));
    }

    #[test]
    fn v1_without_files_is_unknown_and_no_limit_is_unlimited() {
        // The pids root has no pids.peak; no cpuacct hierarchy at all.
        let f = Fake::new(&[V1_MEMORY, V1_PIDS], "8:pids:/\n4:memory:/job\n");
        f.put("memory/job/memory.limit_in_bytes", "9223372036854771712\n");
        let u = usage(&f.proc_root(), &f.cgroup_root());
        assert_eq!((u.cpu, u.memory_peak, u.oom_kills, u.pids_peak), (None, None, None, None));
        assert_eq!(u.memory_limit, Limit::Unlimited);
        let g = Fake::new(&[V1_MEMORY], "4:memory:/job\n");
        fs_dir(&g, "memory/job");
        assert_eq!(usage(&g.proc_root(), &g.cgroup_root()).memory_limit, Limit::Unknown);
    }

    /// Writes each control file of `files` (path below the cgroup root, text).
    fn put_all(f: &Fake, files: &[(&str, &str)]) {
        for (rel, text) in files {
            f.put(rel, text);
        }
    }

    fn fs_dir(f: &Fake, rel: &str) {
        std::fs::create_dir_all(f.cg(rel)).unwrap();
    }

    #[test]
    fn v2_climbs_to_the_cgroups_that_have_the_controllers() {
        // rinit in a leaf made for --pids-max, memory counted by the parent.
        let f = Fake::new(&[V2], "0::/pod/ctr/rinit-1-0\n");
        put_all(&f, &[
            ("pod/ctr/rinit-1-0/cgroup.type", "domain\n"),
            ("pod/ctr/rinit-1-0/cpu.stat", "usage_usec 1500000\nuser_usec 1400000\nsystem_usec 100000\nnr_periods 0\n"),
            ("pod/ctr/rinit-1-0/pids.current", "3\n"),
            ("pod/ctr/rinit-1-0/pids.peak", "25\n"),
            ("pod/ctr/memory.current", "100\n"),
            ("pod/ctr/memory.peak", "70000000\n"),
            ("pod/ctr/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"),
            ("pod/ctr/memory.max", "max\n"),
            ("pod/memory.max", "268435456\n"),
            ("memory.max", "536870912\n"),
        ]);
        let u = usage(&f.proc_root(), &f.cgroup_root());
        assert_eq!(u.cpu, Some(Cpu { total_usec: 1_500_000, user_usec: Some(1_400_000), system_usec: Some(100_000) }));
        assert_eq!((u.memory_peak, u.oom_kills, u.pids_peak), (Some(70_000_000), Some(1), Some(25)));
        assert_eq!(u.memory_limit, Limit::Bytes(256 << 20));
        assert_eq!(u.version, Some("v2"));
    }

    #[test]
    fn v2_without_memory_peak_or_controllers() {
        // An older kernel (no memory.peak), no pids controller anywhere.
        let f = Fake::new(&[V2], "0::/ctr\n");
        put_all(&f, &[
            ("ctr/cgroup.type", "domain\n"),
            ("ctr/cpu.stat", "usage_usec 42\n"),
            ("ctr/memory.current", "100\n"),
            ("ctr/memory.max", "max\n"),
        ]);
        let u = usage(&f.proc_root(), &f.cgroup_root());
        assert_eq!(u.cpu, Some(Cpu { total_usec: 42, user_usec: None, system_usec: None }));
        assert_eq!((u.memory_peak, u.pids_peak, u.oom_kills), (None, None, None));
        assert_eq!(u.memory_limit, Limit::Unlimited);
        let g = Fake::new(&[V2], "0::/ctr\n");
        fs_dir(&g, "ctr");
        let u = usage(&g.proc_root(), &g.cgroup_root());
        assert_eq!((u.cpu, u.version, u.memory_limit), (None, None, Limit::Unknown));
    }

    #[test]
    fn the_machines_root_cgroup_gives_no_figures() {
        // rinit on a host: its cgroups are the hierarchies' roots, whose
        // files count the whole machine since boot.
        let f = Fake::new(&[V1_CPUACCT, V1_MEMORY], "4:memory:/\n2:cpuacct:/\n");
        put_all(&f, &[
            ("cpuacct/cgroup.sane_behavior", "0\n"),
            ("cpuacct/cpuacct.usage", "2894162000000\n"),
            ("memory/cgroup.sane_behavior", "0\n"),
            ("memory/memory.max_usage_in_bytes", "9000000000\n"),
        ]);
        let u = usage(&f.proc_root(), &f.cgroup_root());
        assert_eq!((u.cpu, u.memory_peak), (None, None));
        let g = Fake::new(&[V2], "0::/\n");
        g.put("cpu.stat", "usage_usec 2894162000000\n");
        assert_eq!(usage(&g.proc_root(), &g.cgroup_root()).cpu, None);
        // A container's cgroup namespace root is its own (cgroup.type there).
        g.put("cgroup.type", "domain\n");
        assert!(usage(&g.proc_root(), &g.cgroup_root()).cpu.is_some());
    }

    #[test]
    fn no_cgroup_filesystem_gives_no_figures() {
        let f = Fake::new(&[], "0::/\n");
        assert_eq!(usage(&f.proc_root(), &f.cgroup_root()), Figures::default());
        let g = Fake::new(&[V2], "0::/\n");
        std::fs::remove_file(g.proc_root().join("self/mountinfo")).unwrap_or_default();
        assert_eq!(usage(&g.proc_root(), &g.cgroup_root()), Figures::default());
    }

    #[test]
    fn v1_cpu_parsing() {
        assert_eq!(v1_cpu("2000\n", "", 100), Some(Cpu { total_usec: 2, user_usec: None, system_usec: None }));
        assert_eq!(v1_cpu("junk", "user 1\nsystem 1\n", 100), None);
        assert_eq!(v1_cpu("0", "user 250\nsystem 0\n", 100).unwrap().user_usec, Some(2_500_000));
        assert_eq!(v1_cpu("0", "user 250\n", 0).unwrap().user_usec, None, "no tick rate, no split");
    }
}
