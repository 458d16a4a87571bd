//! cgroups (SPEC §6): the `--pids-max` limit and the OOM-kill report.
//! PLACEHOLDER interface, to be implemented (issue 4).

use std::path::Path;

#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A pids limit in force; `release` undoes what rinit created.
#[derive(Debug)]
pub struct PidsLimit;

impl PidsLimit {
    pub fn release(self) {}
}

/// Puts rinit (and so all it starts) in a cgroup whose pids.max is `max`.
pub fn limit_pids(_proc_root: &Path, _cgroup_root: &Path, max: u64) -> Result<PidsLimit, Error> {
    Err(Error(format!("--pids-max {max}: not implemented yet")))
}

/// Watches the memory cgroup's oom_kill counter.
#[derive(Debug)]
pub struct OomWatch;

impl OomWatch {
    /// Called after reaping a process killed by SIGKILL: `Some(limit text)`
    /// when the OOM counter went up since the last call.
    pub fn oom_killed(&mut self) -> Option<String> {
        None
    }
}

pub fn oom_watch(_proc_root: &Path, _cgroup_root: &Path) -> Option<OomWatch> {
    None
}
