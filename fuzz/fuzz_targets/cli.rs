//! The command line and environment, from raw bytes: `rinit::cli::parse`
//! must answer every input with a command or a usage error, never a panic.
//!
//! Input layout: words separated by NUL (as the kernel hands argv over).
//! Words that start with `\x01` are environment values instead, given in
//! turn to the variables rinit reads.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;
use rinit::cli::{self, Command};

const VARS: [&str; cli::ENV_VARS.len()] = cli::ENV_VARS;

fuzz_target!(|data: &[u8]| {
    let mut args = Vec::new();
    let mut env: Vec<(&str, OsString)> = Vec::new();
    for word in data.split(|&b| b == 0) {
        match word.split_first() {
            Some((1, value)) if env.len() < VARS.len() => {
                let name = VARS.get(env.len()).copied().unwrap_or("RINIT_LOG");
                env.push((name, OsString::from_vec(value.to_vec())));
            }
            _ => args.push(OsString::from_vec(word.to_vec())),
        }
    }
    let lookup = |name: &str| env.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
    let borrowed: Vec<&std::ffi::OsStr> = args.iter().map(OsString::as_os_str).collect();
    match cli::parse(&borrowed, &lookup) {
        Ok(Command::Run(config)) => {
            assert!(!config.program.is_empty());
            assert!(args.ends_with(&config.program));
            // What the parser accepted prints and parses back.
            assert_eq!(cli::parse_duration(&cli::format_duration(config.grace)), Ok(config.grace));
            if let Some(sig) = config.pdeathsig {
                assert_eq!(rinit::signals::parse(&rinit::signals::name(sig)), Ok(sig));
            }
        }
        Ok(_) => {}
        Err(e) => assert!(!e.0.is_empty()),
    }
});
