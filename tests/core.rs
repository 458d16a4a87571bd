//! SPEC §1–4 against the real binary as PID 1 of a new PID namespace.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
use common::*;

#[test]
fn exit_code_passes_through() {
    let r = Pid1::start(&[], "echo ready >&3; exit 7");
    let mut r = r;
    r.lines.expect("ready");
    let end = r.wait();
    assert_eq!(end.code, Some(7), "stderr: {}", end.stderr);
}

#[test]
fn program_is_pid_2_and_rinit_pid_1() {
    let mut r = Pid1::start(&[], "echo \"$$ $PPID\" >&3");
    assert_eq!(r.lines.next(), "2 1");
    assert_eq!(r.wait().code, Some(0));
}
