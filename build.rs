//! Records the git commit for `rinit --version` (`rinit version X.Y.Z -
//! git.<hash>`, the form `docker info` parses). Outside a checkout the hash
//! reads `unknown`.
use std::process::Command;

fn main() {
    let hash = Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=RINIT_GIT_HASH={hash}");
    // The target triple, for tests/docker.rs to build the release binary of
    // the same target as the binary under test.
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=RINIT_TARGET={target}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
