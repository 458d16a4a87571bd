//! Issue 13: the binary under test runs here at all. scripts/test-arches.sh
//! runs the integration tests against the aarch64 and armv7 binaries
//! (`RINIT_BIN`), which the kernel hands to qemu-user through binfmt_misc;
//! where nothing is registered for them, only this test runs, and skips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::process::Command;

#[test]
fn the_binary_under_test_runs_here() {
    let out = Command::new(common::rinit()).arg("--version").output();
    if common::is_emulated() && out.as_ref().is_err_and(|e| e.raw_os_error() == Some(libc::ENOEXEC)) {
        common::skip("the kernel cannot run this architecture: no qemu-user binfmt_misc registration (scripts/setup.sh makes one)");
        return;
    }
    let out = out.unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("rinit version "), "{text}");
}
