//! cgroups (rinit(1) CGROUPS): the `--pids-max` limit and the OOM-kill report.
//!
//! - `locate`: the one way rinit finds its cgroup in a hierarchy
//!   (`/proc/self/cgroup` and `/proc/self/mountinfo`);
//! - `pids`: `--pids-max`, and undoing it at exit;
//! - `oom`: every OOM kill in rinit's memory cgroup, reported as it happens;
//!   `notify`: the kernel's notice that the count may have changed;
//! - `usage`: the figures of the exit report (`--report`), read at exit.
//!
//! Both roots (`/proc`, `/sys/fs/cgroup`) are parameters so that the unit
//! tests run everything over fake trees; the parsing is pure.

mod locate;
mod notify;
mod oom;
mod pids;
mod usage;

#[cfg(test)]
mod fake;

pub use oom::{OomEvent, OomWatch, Told};
pub use pids::{PidsLimit, limit_pids};
pub use usage::usage;
pub(crate) use oom::human_bytes;

use std::fs;
use std::path::Path;

#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Opens `path` read-only and close-on-exec with one system call: musl's
/// `open` (under `std::fs::File::open`) adds an `fcntl(F_SETFD)` after every
/// open for kernels older than O_CLOEXEC, and these opens are on rinit's
/// start-up path.
fn open(path: &Path) -> std::io::Result<fs::File> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: a valid C string; openat returns a new descriptor or -1.
    let fd = unsafe {
        libc::syscall(libc::SYS_openat, libc::AT_FDCWD, c_path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC)
    };
    crate::fd::from_syscall(fd).map(fs::File::from)
}

/// Reads a whole `/proc` or cgroup file. They report a size of 0 (so
/// `fs::read` would start with 32-byte reads after an fstat and an lseek)
/// and are generated per read: a page-sized read on the stack takes them in
/// one go, and a short read means the end.
fn read(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let why = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let mut file = open(path).map_err(why)?;
    let mut buf = [0u8; 8192];
    let mut text = Vec::new();
    loop {
        let n = match file.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(why(e)),
        };
        text.extend_from_slice(buf.get(..n).unwrap_or_default());
        if n < buf.len() {
            return Ok(String::from_utf8_lossy(&text).into_owned());
        }
    }
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
