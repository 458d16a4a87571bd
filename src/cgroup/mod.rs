//! cgroups (rinit(1) CGROUPS): the `--pids-max` limit and the OOM-kill report.
//!
//! - `locate`: the one way rinit finds its cgroup in a hierarchy
//!   (`/proc/self/cgroup` and `/proc/self/mountinfo`);
//! - `pids`: `--pids-max`, and undoing it at exit;
//! - `oom`: every OOM kill in rinit's memory cgroup, reported as it happens;
//!   `notify`: the kernel's notice that the count may have changed.
//!
//! Both roots (`/proc`, `/sys/fs/cgroup`) are parameters so that the unit
//! tests run everything over fake trees; the parsing is pure.

mod locate;
mod notify;
mod oom;
mod pids;

#[cfg(test)]
mod fake;

pub use oom::OomWatch;
pub use pids::{PidsLimit, limit_pids};

use std::fs;
use std::path::Path;

#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

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

fn has_word(text: &str, word: &str) -> bool {
    text.split_whitespace().any(|w| w == word)
}

/// The value of `key` in a flat keyed file (`oom_kill 3`).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn reads_keyed_files() {
        assert_eq!(keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"), Some(3));
        assert_eq!(keyed("low 0\nhigh 0\n", "oom_kill"), None);
        assert!(has_word("cpu pids\n", "pids"));
        assert!(!has_word("cpu pidsx\n", "pids"));
    }
}
