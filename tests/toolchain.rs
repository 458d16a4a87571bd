//! Issue 13: `rust-version` in Cargo.toml is the oldest toolchain that
//! builds rinit. A plain `cargo build --release` with that toolchain (what a
//! packager runs) must give a static binary, and the toolchain just before
//! it must fail. scripts/setup.sh installs both toolchains with rustup; where
//! they cannot be installed the test says so and is counted as skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

/// `rust-version` from Cargo.toml, as (major, minor).
fn rust_version() -> (u32, u32) {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let value = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("Cargo.toml has a rust-version")
        .trim_matches('"');
    let mut parts = value.split('.').map(|p| p.parse::<u32>().unwrap());
    (parts.next().unwrap(), parts.next().unwrap())
}

/// `cargo +TOOLCHAIN build --release` for the host, in a target directory
/// of its own (so the main build is not rebuilt), plus extra arguments.
fn build_with(toolchain: &str, extra: &[&str]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Command::new("cargo")
        .arg(format!("+{toolchain}"))
        .args(["build", "--release", "--locked", "--target-dir"])
        .arg(root.join("target/toolchain").join(toolchain))
        .args(extra)
        .current_dir(root)
        // cargo test's own toolchain choice must not leak into the build.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .unwrap()
}

/// Whether rustup has `toolchain`; if not, the test is marked skipped.
fn have_toolchain(toolchain: &str) -> bool {
    let ok = Command::new("rustup")
        .args(["run", toolchain, "rustc", "--version"])
        .env("RUSTUP_AUTO_INSTALL", "0")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        common::skip(&format!("toolchain {toolchain} is not installed (scripts/setup.sh could not install it)"));
    }
    ok
}

#[test]
fn the_oldest_toolchain_in_rust_version_builds_a_static_rinit() {
    let (major, minor) = rust_version();
    let oldest = format!("{major}.{minor}");
    if !have_toolchain(&oldest) {
        return;
    }
    let out = build_with(&oldest, &[]);
    assert!(out.status.success(), "cargo +{oldest} build failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/toolchain").join(&oldest).join("release/rinit");
    let file = Command::new("file").arg(&bin).output().unwrap();
    let text = String::from_utf8_lossy(&file.stdout);
    assert!(text.contains("statically linked"), "{text}");
    let version = Command::new(&bin).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("rinit version "));
}

#[test]
fn the_toolchain_before_rust_version_cannot_build_rinit() {
    let (major, minor) = rust_version();
    let before = format!("{major}.{}", minor - 1);
    if !have_toolchain(&before) {
        return;
    }
    // Past cargo's own rust-version refusal: the compiler itself must fail.
    let out = build_with(&before, &["--ignore-rust-version"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "cargo +{before} built rinit: rust-version could be lower\n{stderr}");
    assert!(stderr.contains("error[E0658]"), "failed for another reason than an unstable feature:\n{stderr}");
}
