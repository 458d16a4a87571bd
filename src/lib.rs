//! rinit: a tiny init for containers.
//!
//! The crate is a functional core with a thin shell around the system calls:
//! `cli`, `signals::parse`, `shutdown` and `status` are pure and unit-tested;
//! `spawn`, `procs`, `cgroup` and the `signals` mask/receive functions talk to
//! the kernel; `main.rs` wires them together.

pub mod arena;
pub mod cgroup;
pub mod cli;
pub mod doorbell;
pub mod escape;
pub mod fd;
pub mod logging;
pub mod procs;
pub mod reach;
pub mod reap;
pub mod report;
pub mod supervise;
pub mod shutdown;
pub mod signals;
pub mod spawn;
pub mod stack;
pub mod status;
pub mod summary;
pub mod wait;
