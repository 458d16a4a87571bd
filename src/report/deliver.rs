//! The shell of the exit report: reads the cgroup figures (only now, at
//! exit: nothing of the report is read before), prints the line, writes the
//! file. Writing the file never changes rinit's exit status, and the line
//! comes first so that a failed write cannot lose it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use log::warn;

use super::Report;
use crate::status::Ended;

/// What the user asked for (`--report`, `--report-file`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub line: bool,
    pub file: Option<PathBuf>,
    /// Where the cgroup filesystems are mounted (`/sys/fs/cgroup`).
    pub cgroup_root: PathBuf,
    /// The program's name for the report (argv\[0\]).
    pub program: Vec<u8>,
}

/// What the loop knows at exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    pub ran: Duration,
    /// The most processes rinit listed in /proc (0: never listed).
    pub seen: usize,
    pub ended: Option<Ended>,
    pub status: i32,
    pub oom_exit: bool,
}

/// Reads the figures, prints the line if asked, writes the file if asked.
/// Out of line, and the report made apart from the reading: inlined in
/// `Supervisor::log_end`, the report's locals (1.6 KB) stayed in its frame
/// under the summary's logging and under every file the figures are read
/// from (PID 1 may have about 4 KiB of stack: rinit(1) LIMITS).
#[inline(never)]
pub fn deliver(wanted: &Wanted, proc_root: &Path, exit: Exit) {
    let figures = crate::cgroup::usage(proc_root, &wanted.cgroup_root);
    present(wanted, figures, exit);
}

#[inline(never)]
fn present(wanted: &Wanted, figures: super::Figures, exit: Exit) {
    let report = Report::new(figures, exit.seen, exit.ran, wanted.program.clone(), exit.ended, exit.status, exit.oom_exit);
    if wanted.line {
        // Whatever the log level: the user asked for it. A failed write
        // (stderr closed) is not worth a panic in PID 1.
        let _ = writeln!(std::io::stderr(), "[rinit] {}", report.line());
    }
    if let Some(path) = &wanted.file
        && let Err(e) = std::fs::write(path, format!("{}\n", report.json()))
    {
        warn!("cannot write the report to {}: {e}", crate::escape::path(path));
    }
}
