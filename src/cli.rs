//! The command line and environment turned into an immutable [`Config`].
//! Pure: no system calls, no printing; errors are values whose text tells
//! the user what to change.
//!
//! Every option is declared once, in [`OPTIONS`]: its names, its value, its
//! environment variables, its help line and what it does. The parser, the
//! `--help` text, [`ENV_VARS`] and the man-page test (tests/manual.rs) are all
//! driven from that table.

use std::ffi::{OsStr, OsString};
use std::time::Duration;

use crate::escape::Quoted;
use crate::signals::{self, RewriteMap};

/// Default grace period: 8 s, below Docker's and Podman's 10 s stop timeout,
/// so that rinit's own SIGKILL and its shutdown summary come before the
/// engine's SIGKILL ends the container.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(8);

/// The kernel's PID_MAX_LIMIT: no cgroup can usefully allow more.
pub const PIDS_MAX_LIMIT: u64 = 4_194_304;

/// Verbosity levels, tini's numbering: 0 errors only, 1 warnings (default),
/// 2 info, 3 debug, 4 and up trace.
pub const DEFAULT_VERBOSITY: u32 = 1;

/// The one variable that belongs to no option: an env_logger filter.
pub const LOG_VAR: &str = "RINIT_LOG";

// Built once, at start-up, and moved out at once: boxing the Config would
// buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Run(Config),
    Help,
    Version,
    License,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The program and its arguments; never empty.
    pub program: Vec<OsString>,
    /// `-s` or `RINIT_SUBREAPER=1`: Some(true); `RINIT_SUBREAPER=0`:
    /// Some(false); None: rinit decides (a subreaper when not PID 1).
    pub subreaper: Option<bool>,
    pub process_group: bool,
    pub pdeathsig: Option<i32>,
    /// Exit statuses that become 0 (`-e`).
    pub remap_exit: Vec<u8>,
    pub rewrite: RewriteMap,
    /// Signals that start the shutdown besides SIGTERM (`--stop-signal`).
    pub stop_signals: Vec<i32>,
    pub grace: Duration,
    /// How long after a stop signal arrived it is passed on (`--term-delay`).
    pub term_delay: Duration,
    pub pids_max: Option<u64>,
    pub verbosity: u32,
    /// `RINIT_LOG`: an env_logger filter that wins over the verbosity.
    pub log_filter: Option<String>,
    pub warn_on_reap: bool,
    /// Issue 23 (rinit(1) CGROUPS): `--oom-exit`, `--report`, `--report-file`.
    pub oom_exit: bool,
    pub report: bool,
    pub report_file: Option<std::path::PathBuf>,
    /// Socket activation: `LISTEN_FDS`, with `LISTEN_PID`.
    pub listen: Option<Listen>,
}

/// Socket activation's variables (rinit(1) SOCKET ACTIVATION).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listen {
    /// `LISTEN_FDS`: how many descriptors from 3 on are passed.
    pub fds: u32,
    /// `LISTEN_PID`: the process they are meant for; None when unset.
    pub pid: Option<i32>,
}

impl Listen {
    /// Whether the descriptors were passed to the process `pid`: as in
    /// sd_listen_fds(3), those meant for another process (a variable that
    /// leaked through a shell, say) are none of rinit's business.
    pub fn meant_for(&self, pid: i32) -> bool {
        self.pid.is_none_or(|p| p == pid)
    }
}

/// A usage error: exit status 2, nothing started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn usage<T>(msg: impl Into<String>) -> Result<T, UsageError> {
    Err(UsageError(msg.into()))
}

/// How an option's environment variables are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FromEnv {
    /// No variable.
    None,
    /// `env[0]` is a strict `RINIT_*` boolean; `env[1]`, tini's, counts when
    /// present whatever its value. Either one set is the flag given; a
    /// false `RINIT_*` one is the flag's value [`OFF`].
    Flag,
    /// `env[0]` holds the option's value, read by the option's own parser;
    /// the option wins when both are given.
    Value,
    /// `env[0]` holds a list of the option's values, separated by commas or
    /// blanks, each read as if the option were given once for it; the
    /// option given even once wins over the whole list.
    List,
    /// `env[0]` is a verbosity number; `env[1]`, tini's, is read like its
    /// `atoi`. `-v` and `-q` win.
    Verbosity,
}

/// One command-line option, declared once.
pub struct OptionSpec {
    pub short: Option<char>,
    pub long: &'static str,
    /// The value's placeholder (`SIG`, `DUR`...), or None for a flag.
    pub value: Option<&'static str>,
    /// Environment variables that set the same thing, most specific first.
    pub env: &'static [&'static str],
    pub from_env: FromEnv,
    /// The line `--help` prints.
    pub help: &'static str,
    /// Applies the option (and its value) to the draft; `Some(command)` for
    /// the options that end parsing (help, version, licence).
    apply: fn(&mut Draft, &str) -> Result<Option<Command>, String>,
}

/// The configuration while it is being built: the command line first, then
/// the environment for what the command line left alone.
struct Draft {
    config: Config,
    /// Long names of the options given on the command line.
    given: Vec<&'static str>,
    verbose: u32,
    quiet: bool,
}

impl Draft {
    /// Every default, nothing given yet.
    fn new() -> Draft {
        Draft {
            config: Config {
                program: Vec::new(),
                subreaper: None,
                process_group: false,
                pdeathsig: None,
                remap_exit: Vec::new(),
                rewrite: RewriteMap::default(),
                stop_signals: Vec::new(),
                grace: DEFAULT_GRACE,
                term_delay: Duration::ZERO,
                pids_max: None,
                verbosity: DEFAULT_VERBOSITY,
                log_filter: None,
                warn_on_reap: false,
                listen: None,
                oom_exit: false,
                report: false,
                report_file: None,
            },
            given: Vec::new(),
            verbose: 0,
            quiet: false,
        }
    }
}

/// The value a flag's apply gets from a `RINIT_*` variable that says no
/// (`RINIT_SUBREAPER=0`): an explicit off, which only `-s` tells from unset.
pub const OFF: &str = "off";

/// Every option, in `--help` order.
pub const OPTIONS: [OptionSpec; 18] = [
    OptionSpec {
        short: Some('s'),
        long: "subreaper",
        value: None,
        env: &["RINIT_SUBREAPER", "TINI_SUBREAPER"],
        from_env: FromEnv::Flag,
        help: "be a child subreaper (the default when not PID 1)",
        apply: |d, v| {
            d.config.subreaper = Some(v != OFF);
            Ok(None)
        },
    },
    OptionSpec {
        short: Some('g'),
        long: "process-group",
        value: None,
        env: &["RINIT_KILL_PROCESS_GROUP", "TINI_KILL_PROCESS_GROUP"],
        from_env: FromEnv::Flag,
        help: "forward signals to PROGRAM's process group",
        apply: |d, v| {
            d.config.process_group = v != OFF;
            Ok(None)
        },
    },
    OptionSpec {
        short: Some('p'),
        long: "pdeathsig",
        value: Some("SIG"),
        env: &["RINIT_PDEATHSIG"],
        from_env: FromEnv::Value,
        help: "signal rinit gets when its parent dies",
        apply: |d, v| {
            d.config.pdeathsig = Some(signals::parse(v)?);
            Ok(None)
        },
    },
    OptionSpec {
        short: Some('e'),
        long: "remap-exit",
        value: Some("CODE"),
        env: &["RINIT_REMAP_EXIT"],
        from_env: FromEnv::List,
        help: "exit status CODE of PROGRAM becomes 0 (repeatable)",
        apply: |d, v| {
            d.config.remap_exit.push(parse_exit_code(v)?);
            Ok(None)
        },
    },
    OptionSpec {
        short: Some('r'),
        long: "rewrite",
        value: Some("FROM:TO"),
        env: &["RINIT_REWRITE"],
        from_env: FromEnv::List,
        help: "forward a received FROM as TO; TO 0 drops it (repeatable)",
        apply: |d, v| {
            let (from, to) = parse_rewrite(v)?;
            d.config.rewrite.insert(from, to);
            Ok(None)
        },
    },
    OptionSpec {
        short: None,
        long: "stop-signal",
        value: Some("SIG"),
        env: &["RINIT_STOP_SIGNALS"],
        from_env: FromEnv::List,
        help: "a received SIG starts the shutdown, as SIGTERM does (repeatable)",
        apply: |d, v| {
            d.config.stop_signals.push(parse_receivable(v, "be a stop signal")?);
            Ok(None)
        },
    },
    OptionSpec {
        short: Some('t'),
        long: "grace",
        value: Some("DUR"),
        env: &["RINIT_GRACE"],
        from_env: FromEnv::Value,
        help: "grace period before SIGKILL (default 8s)",
        apply: |d, v| {
            d.config.grace = parse_duration(v)?;
            Ok(None)
        },
    },
    OptionSpec {
        short: None,
        long: "term-delay",
        value: Some("DUR"),
        env: &["RINIT_TERM_DELAY"],
        from_env: FromEnv::Value,
        help: "pass a stop signal on DUR after it came (within the grace)",
        apply: |d, v| {
            d.config.term_delay = parse_duration(v)?;
            Ok(None)
        },
    },
    OptionSpec {
        short: None,
        long: "pids-max",
        value: Some("N"),
        env: &["RINIT_PIDS_MAX"],
        from_env: FromEnv::Value,
        help: "at most N processes (cgroup pids.max)",
        apply: |d, v| {
            d.config.pids_max = Some(parse_pids_max(v)?);
            Ok(None)
        },
    },
    // Issue 23: acting on an OOM kill, and the exit report (rinit(1) CGROUPS).
    OptionSpec {
        short: None,
        long: "oom-exit",
        value: None,
        env: &["RINIT_OOM_EXIT"],
        from_env: FromEnv::Flag,
        help: "shut down and exit 137 after an OOM kill",
        apply: |d, v| {
            d.config.oom_exit = v != OFF;
            Ok(None)
        },
    },
    OptionSpec {
        short: None,
        long: "report",
        value: None,
        env: &["RINIT_REPORT"],
        from_env: FromEnv::Flag,
        help: "one line at exit: CPU, memory, processes",
        apply: |d, v| {
            d.config.report = v != OFF;
            Ok(None)
        },
    },
    OptionSpec {
        short: None,
        long: "report-file",
        value: Some("PATH"),
        env: &["RINIT_REPORT_FILE"],
        from_env: FromEnv::Value,
        help: "the exit report as JSON into PATH",
        apply: |d, v| {
            if v.is_empty() {
                return Err("the path is empty".to_string());
            }
            d.config.report_file = Some(std::path::PathBuf::from(v));
            Ok(None)
        },
    },
    OptionSpec {
        short: Some('v'),
        long: "verbose",
        value: None,
        env: &["RINIT_VERBOSITY", "TINI_VERBOSITY"],
        from_env: FromEnv::Verbosity,
        help: "more logging (repeatable)",
        apply: |d, _| {
            d.verbose = d.verbose.saturating_add(1);
            Ok(None)
        },
    },
    OptionSpec {
        short: Some('q'),
        long: "quiet",
        value: None,
        env: &[],
        from_env: FromEnv::None,
        help: "errors only",
        apply: |d, _| {
            d.quiet = true;
            Ok(None)
        },
    },
    OptionSpec {
        short: Some('w'),
        long: "warn-on-reap",
        value: None,
        env: &["RINIT_WARN_ON_REAP"],
        from_env: FromEnv::Flag,
        help: "warn for every reaped process that is not PROGRAM",
        apply: |d, v| {
            d.config.warn_on_reap = v != OFF;
            Ok(None)
        },
    },
    OptionSpec {
        short: Some('l'),
        long: "license",
        value: None,
        env: &[],
        from_env: FromEnv::None,
        help: "print the licence",
        apply: |_, _| Ok(Some(Command::License)),
    },
    OptionSpec {
        short: Some('h'),
        long: "help",
        value: None,
        env: &[],
        from_env: FromEnv::None,
        help: "print this help",
        apply: |_, _| Ok(Some(Command::Help)),
    },
    OptionSpec {
        short: Some('V'),
        long: "version",
        value: None,
        env: &[],
        from_env: FromEnv::None,
        help: "print the version",
        apply: |_, _| Ok(Some(Command::Version)),
    },
];

/// The socket-activation variable (rinit(1) SOCKET ACTIVATION): how many
/// descriptors from 3 on are passed to the program.
pub const LISTEN_FDS_VAR: &str = "LISTEN_FDS";

/// The pid socket activation meant the descriptors for.
pub const LISTEN_PID_VAR: &str = "LISTEN_PID";

/// The variables that belong to no option.
const OTHER_VARS: [&str; 3] = [LOG_VAR, LISTEN_FDS_VAR, LISTEN_PID_VAR];

/// Every environment variable rinit reads: the options' and [`OTHER_VARS`].
pub const ENV_VARS: [&str; 20] = env_vars();

/// Flattens the table's variables at compile time; a wrong length is a
/// build error, not a run-time one.
#[allow(clippy::indexing_slicing)]
const fn env_vars() -> [&'static str; 20] {
    let mut out = [LOG_VAR; 20];
    let mut n = 0;
    while n < OTHER_VARS.len() {
        out[n] = OTHER_VARS[n];
        n += 1;
    }
    let mut i = 0;
    while i < OPTIONS.len() {
        let mut j = 0;
        while j < OPTIONS[i].env.len() {
            out[n] = OPTIONS[i].env[j];
            n += 1;
            j += 1;
        }
        i += 1;
    }
    out
}

impl OptionSpec {
    /// `-t, --grace DUR` or `    --pids-max N`, as `--help` shows it.
    pub fn synopsis(&self) -> String {
        let short = self.short.map_or_else(|| "    ".to_string(), |c| format!("-{c}, "));
        let value = self.value.map(|v| format!(" {v}")).unwrap_or_default();
        format!("{short}--{}{value}", self.long)
    }

    fn run(&self, draft: &mut Draft, value: &str, named: &str) -> Result<Option<Command>, UsageError> {
        (self.apply)(draft, value).map_err(|e| UsageError(format!("{named}: {e}")))
    }
}

/// Parses `args` (without argv\[0\]) and the environment, read through
/// `env`, into a [`Command`]. The arguments are borrowed (rinit's own
/// point into its argv, with no copy of each made at start-up). Out of
/// line, like `logging::init`: inlined in rinit's `configure`, the two made
/// one 2.4 KB frame.
#[inline(never)]
pub fn parse(
    args: &[&OsStr],
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Command, UsageError> {
    let mut draft = Draft::new();
    let mut rest = args.iter().copied();
    let mut program = Vec::new();
    while let Some(arg) = rest.next() {
        let bytes = arg.as_encoded_bytes();
        if bytes == b"--" {
            program.extend(rest.by_ref().map(OsStr::to_os_string));
            break;
        }
        if !bytes.starts_with(b"-") || bytes == b"-" {
            // The first non-option starts the program: `rinit cmd -x` runs `cmd -x`.
            program.push(arg.to_os_string());
            program.extend(rest.by_ref().map(OsStr::to_os_string));
            break;
        }
        let Some(text) = arg.to_str() else {
            return usage(format!("option {} is not valid UTF-8", Quoted(arg.as_encoded_bytes())));
        };
        let done = if let Some(long) = text.strip_prefix("--") {
            parse_long(long, &mut rest, &mut draft)?
        } else {
            parse_short_cluster(text.get(1..).unwrap_or_default(), &mut rest, &mut draft)?
        };
        if let Some(command) = done {
            return Ok(command);
        }
    }
    if program.is_empty() {
        return usage("no program given: rinit [OPTION]... [--] PROGRAM [ARG]...");
    }
    draft.config.program = program;
    merge_env(draft, env).map(Command::Run)
}

#[inline(never)]
fn parse_long<'a>(
    long: &str,
    rest: &mut impl Iterator<Item = &'a OsStr>,
    draft: &mut Draft,
) -> Result<Option<Command>, UsageError> {
    let (name, attached) = match long.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (long, None),
    };
    let Some(opt) = OPTIONS.iter().find(|o| o.long == name) else {
        return usage(format!("unknown option {}", Quoted(format!("--{name}").as_bytes())));
    };
    let value = match (opt.value.is_some(), attached) {
        (true, Some(v)) => v.to_string(),
        (true, None) => next_value(rest, &format!("--{name}"))?,
        (false, Some(_)) => return usage(format!("option {} takes no value", Quoted(format!("--{name}").as_bytes()))),
        (false, None) => String::new(),
    };
    draft.given.push(opt.long);
    opt.run(draft, &value, &format!("--{name}"))
}

#[inline(never)]
fn parse_short_cluster<'a>(
    cluster: &str,
    rest: &mut impl Iterator<Item = &'a OsStr>,
    draft: &mut Draft,
) -> Result<Option<Command>, UsageError> {
    for (i, c) in cluster.char_indices() {
        let Some(opt) = OPTIONS.iter().find(|o| o.short == Some(c)) else {
            return usage(format!("unknown option {}", Quoted(format!("-{c}").as_bytes())));
        };
        draft.given.push(opt.long);
        // Messages name the option by its long name, whichever was typed.
        let named = format!("--{}", opt.long);
        if opt.value.is_some() {
            // `-e143` or `-e 143`; the value ends the cluster.
            let attached = cluster.get(i + c.len_utf8()..).unwrap_or_default();
            let value = if attached.is_empty() {
                next_value(rest, &named)?
            } else {
                attached.to_string()
            };
            return opt.run(draft, &value, &named);
        }
        if let Some(command) = opt.run(draft, "", &named)? {
            return Ok(Some(command));
        }
    }
    Ok(None)
}

fn next_value<'a>(
    rest: &mut impl Iterator<Item = &'a OsStr>,
    flag: &str,
) -> Result<String, UsageError> {
    match rest.next() {
        None => usage(format!("option {} needs a value", Quoted(flag.as_bytes()))),
        Some(v) => v
            .to_str()
            .map(str::to_string)
            .ok_or_else(|| UsageError(format!("{flag}: value is not valid UTF-8"))),
    }
}

/// Reads a variable as UTF-8; a present but undecodable value is an error.
fn env_str(env: &dyn Fn(&str) -> Option<OsString>, name: &str) -> Result<Option<String>, UsageError> {
    match env(name) {
        None => Ok(None),
        Some(v) => v
            .into_string()
            .map(Some)
            .map_err(|_| UsageError(format!("{name}: value is not valid UTF-8"))),
    }
}

/// Adds the environment to what the command line gave. Every variable is
/// validated even when an option overrides it, so a bad value in an image's
/// environment is found at once, not on the day the option is dropped.
/// Out of line, like the options' parsing: inlined in `parse`, the two made
/// one 2 KB frame.
#[inline(never)]
fn merge_env(mut draft: Draft, env: &dyn Fn(&str) -> Option<OsString>) -> Result<Config, UsageError> {
    let mut env_verbosity = None;
    for opt in &OPTIONS {
        let given = draft.given.contains(&opt.long);
        let (rinit_var, tini_var) = (opt.env.first().copied(), opt.env.get(1).copied());
        let rinit_value = match rinit_var {
            Some(name) => env_str(env, name)?.map(|v| (name, v)),
            None => None,
        };
        match opt.from_env {
            FromEnv::None => {}
            // `RINIT_*` booleans are strict; `TINI_*` ones count when
            // present, as in tini. RINIT_* is more specific and wins.
            FromEnv::Flag => {
                let set = match &rinit_value {
                    Some((name, v)) => parse_bool(v).map_err(|e| UsageError(format!("{name}: {e}")))?,
                    None => tini_var.and_then(env).is_some(),
                };
                if set {
                    opt.run(&mut draft, "", opt.long)?;
                } else if rinit_value.is_some() && !given {
                    // An explicit no: `RINIT_SUBREAPER=0` is not "unset".
                    opt.run(&mut draft, OFF, opt.long)?;
                }
            }
            FromEnv::Value | FromEnv::List => {
                if let Some((name, v)) = rinit_value {
                    // Applied to a blank draft when the option was given:
                    // checked, not used.
                    let mut scratch;
                    let target = if given {
                        scratch = Draft::new();
                        &mut scratch
                    } else {
                        &mut draft
                    };
                    if opt.from_env == FromEnv::List {
                        for item in v.split(|c: char| c == ',' || c.is_whitespace()).filter(|i| !i.is_empty()) {
                            opt.run(target, item, name)?;
                        }
                    } else {
                        opt.run(target, &v, name)?;
                    }
                }
            }
            FromEnv::Verbosity => {
                env_verbosity = match rinit_value {
                    Some((name, v)) => Some(v.trim().parse::<u32>().map_err(|_| {
                        UsageError(format!("{name}: {} is not a number (0 errors only, 1 warnings, 2 info, 3 debug, 4 trace)", Quoted(v.as_bytes())))
                    })?),
                    // tini reads its variable with atoi: junk counts as 0.
                    None => tini_var.and_then(env).map(|v| atoi(&v.to_string_lossy())),
                };
            }
        }
    }
    let mut config = draft.config;
    config.log_filter = env_str(env, LOG_VAR)?.filter(|f| !f.trim().is_empty());
    // A filter env_logger cannot read is a usage error, not its warning:
    // the warning repeated the value raw (a newline printed a line that
    // passed for rinit's, rinit(1) DIAGNOSTICS), and it is printed with
    // `eprintln!`, which panics, so that PID 1 died of SIGILL, when stderr
    // cannot be written (a review).
    if let Some(f) = &config.log_filter
        && !(f.bytes().all(|b| (b' '..=b'~').contains(&b)) && is_log_filter(f))
    {
        return usage(format!(
            "{LOG_VAR}: {} is not an env_logger filter (for example debug, or rinit=trace)",
            Quoted(f.as_bytes())
        ));
    }
    // Read whether or not LISTEN_FDS is set; checked only when it is.
    let listen_pid = env_str(env, LISTEN_PID_VAR)?;
    config.listen = match env_str(env, LISTEN_FDS_VAR)? {
        Some(v) => Some(Listen {
            fds: parse_listen_fds(&v).map_err(|e| UsageError(format!("{LISTEN_FDS_VAR}: {e}")))?,
            pid: match listen_pid {
                Some(p) => Some(p.trim().parse::<i32>().ok().filter(|&n| n > 0).ok_or_else(|| {
                    UsageError(format!("{LISTEN_PID_VAR}: {} is not a process id (socket activation sets it, with LISTEN_FDS)", Quoted(p.as_bytes())))
                })?),
                None => None,
            },
        }),
        None => None,
    };
    // rinit(1) SHUTDOWN: the delay is part of the grace, so at least the
    // SIGKILL at the grace must come after the stop signal is passed on.
    if !config.term_delay.is_zero() && config.term_delay >= config.grace {
        return usage(format!(
            "--term-delay {} (RINIT_TERM_DELAY) is not shorter than the grace period {} (--grace, RINIT_GRACE): the delay is counted inside the grace; give a shorter delay or a longer grace",
            format_duration(config.term_delay),
            format_duration(config.grace)
        ));
    }
    // -q wins over -v, in any order; both win over the variables.
    config.verbosity = if draft.quiet {
        0
    } else if draft.verbose > 0 {
        DEFAULT_VERBOSITY.saturating_add(draft.verbose)
    } else {
        env_verbosity.unwrap_or(DEFAULT_VERBOSITY)
    };
    Ok(config)
}

fn atoi(text: &str) -> u32 {
    let digits: String = text
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or(if digits.is_empty() { 0 } else { u32::MAX })
}

pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{} is not a boolean (use 1/true/yes/on or 0/false/no/off)", Quoted(text.as_bytes()))),
    }
}

pub fn parse_exit_code(text: &str) -> Result<u8, String> {
    text.trim()
        .parse::<u8>()
        .map_err(|_| format!("{} is not an exit status (0-255)", Quoted(text.as_bytes())))
}

/// A signal rinit can receive as one to forward: not SIGKILL, SIGSTOP
/// (nobody can catch them) or SIGCHLD (rinit's own); `what` completes
/// "cannot ..." in the message.
fn parse_receivable(text: &str, what: &str) -> Result<i32, String> {
    let sig = signals::parse(text)?;
    if [libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD].contains(&sig) {
        return Err(format!(
            "{} cannot {what}: rinit never receives it as a signal to forward",
            signals::name(sig)
        ));
    }
    Ok(sig)
}

/// `FROM:TO`, each a signal; TO may be 0 to drop FROM.
pub fn parse_rewrite(text: &str) -> Result<(i32, i32), String> {
    let Some((from, to)) = text.split_once(':') else {
        return Err(format!("{} is not FROM:TO (for example TERM:QUIT, or USR1:0 to drop USR1)", Quoted(text.as_bytes())));
    };
    let from = parse_receivable(from, "be rewritten")?;
    let to = if to.trim() == "0" { 0 } else { signals::parse(to)? };
    Ok((from, to))
}

/// Whether env_logger reads `spec` without a warning: env_filter's grammar
/// (2.1, without its regex feature), `ITEM,ITEM.../TEXT`, at most one `/`,
/// each item `LEVEL`, `NAME`, `NAME=` or `NAME=LEVEL`.
pub fn is_log_filter(spec: &str) -> bool {
    let mut parts = spec.split('/');
    let directives = parts.next().unwrap_or_default();
    if parts.nth(1).is_some() {
        return false;
    }
    directives.split(',').map(str::trim).filter(|item| !item.is_empty()).all(|item| {
        let mut sides = item.split('=');
        match (sides.next(), sides.next().map(str::trim), sides.next()) {
            (Some(_), None | Some(""), None) => true,
            (Some(_), Some(level), None) => level.parse::<log::LevelFilter>().is_ok(),
            _ => false,
        }
    })
}

/// The longest duration rinit takes (365 days), in nanoseconds.
const YEAR_NANOS: u128 = 365 * 24 * 3600 * 1_000_000_000;

/// `5s`, `500ms`, `2m`, `1h`, or a bare number of seconds (`2`, `0.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{} is not a duration (use 10s, 500ms, 2m, or a number of seconds)", Quoted(text.as_bytes()));
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let nanos_per_unit: u128 = match unit.trim() {
        "" | "s" | "sec" => 1_000_000_000,
        "ms" => 1_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return Err(bad()),
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && frac.is_empty())
        || !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        || frac.len() > 9
    {
        return Err(bad());
    }
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
    let frac_nanos: u128 = if frac.is_empty() {
        0
    } else {
        let scale = 10u128.pow(9 - u32::try_from(frac.len()).map_err(|_| bad())?);
        frac.parse::<u128>().map_err(|_| bad())? * scale
    };
    // whole units plus the fraction, in nanoseconds.
    let total = whole
        .checked_mul(nanos_per_unit)
        .and_then(|w| w.checked_add(frac_nanos * nanos_per_unit / 1_000_000_000))
        .ok_or_else(bad)?;
    // A year at most, to the nanosecond: `31536000.000000001` is longer.
    if total > YEAR_NANOS {
        return Err(format!("{} is longer than a year", Quoted(text.as_bytes())));
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| bad())?;
    let nanos = u32::try_from(total % 1_000_000_000).map_err(|_| bad())?;
    Ok(Duration::new(secs, nanos))
}

/// Prints a duration so that [`parse_duration`] reads it back exactly.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos.is_multiple_of(1_000_000_000) {
        format!("{}s", d.as_secs())
    } else if nanos.is_multiple_of(1_000_000) {
        format!("{}ms", nanos / 1_000_000)
    } else {
        format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
    }
}

pub fn parse_pids_max(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if (2..=PIDS_MAX_LIMIT).contains(&n) => Ok(n),
        Ok(_) => Err(format!(
            "{} is out of range: at least 2 (rinit and the program), at most {PIDS_MAX_LIMIT}",
            Quoted(text.as_bytes())
        )),
        Err(_) => Err(format!("{} is not a number of processes", Quoted(text.as_bytes()))),
    }
}

/// The most descriptors `LISTEN_FDS` may pass: the kernel's default
/// fs.nr_open, above any descriptor limit a container gets.
pub const MAX_LISTEN_FDS: u32 = 1 << 20;

/// `LISTEN_FDS`, as systemd sets it: a count of descriptors from 3 on.
pub fn parse_listen_fds(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        // At most the kernel's default nr_open: no process holds more.
        Ok(n) if n <= MAX_LISTEN_FDS => Ok(n),
        _ => Err(format!("{} is not a number of descriptors (socket activation sets it, with LISTEN_PID)", Quoted(text.as_bytes()))),
    }
}

/// The `--help` text: one line per row of [`OPTIONS`].
pub fn help_text() -> String {
    let options: String = OPTIONS
        .iter()
        .map(|o| {
            let line = format!("  {:<23}  {}", o.synopsis(), o.help);
            if o.env.is_empty() {
                format!("{line}\n")
            } else {
                format!("{line:<70} [{}]\n", o.env.join(", "))
            }
        })
        .collect();
    format!(
        "\
rinit {version} - a tiny init for containers

Usage: rinit [OPTION]... [--] PROGRAM [ARG]...

Runs PROGRAM, forwards every signal to it, reaps every zombie, and on SIGTERM
or a --stop-signal (or when PROGRAM exits) sends SIGTERM to every process left,
waits the grace period, then SIGKILLs what remains. Options end at -- or at
PROGRAM. A variable in [ ] sets the same as its option (which wins); a list
in one is separated by commas; RINIT_SUBREAPER=0 turns the subreaper off.

{options}
Signals: TERM, SIGTERM, 15, RTMIN+3. Durations: 5s, 500ms, 2m, 2, 0.5.
Booleans: 1/true/yes/on, 0/false/no/off. {LOG_VAR} takes an env_logger filter.
Exit status: PROGRAM's, 128+N if a signal N killed it, 127 not found,
126 not executable, 2 bad usage, 1 set-up failed, 137 after an OOM kill
under --oom-exit.
Full reference: man rinit (doc/rinit.1).
",
        version = env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn os<'a>(args: &[&'a str]) -> Vec<&'a OsStr> {
        args.iter().map(|a| OsStr::new(*a)).collect()
    }

    fn parse_with(args: &[&str], vars: &[(&str, &str)]) -> Result<Command, UsageError> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        parse(&os(args), &|k| map.get(k).cloned())
    }

    fn config(args: &[&str], vars: &[(&str, &str)]) -> Config {
        match parse_with(args, vars) {
            Ok(Command::Run(c)) => c,
            other => panic!("{args:?} {vars:?}: {other:?}"),
        }
    }

    fn error(args: &[&str], vars: &[(&str, &str)]) -> String {
        match parse_with(args, vars) {
            Err(UsageError(e)) => e,
            other => panic!("{args:?} {vars:?} should fail: {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let c = config(&["prog"], &[]);
        assert_eq!(c.program, os(&["prog"]));
        assert!(c.subreaper.is_none() && !c.process_group && !c.warn_on_reap);
        assert!(c.stop_signals.is_empty());
        assert_eq!(c.term_delay, Duration::ZERO);
        assert_eq!(c.listen, None);
        assert_eq!(c.pdeathsig, None);
        assert!(c.remap_exit.is_empty());
        assert_eq!(c.rewrite, RewriteMap::default());
        assert_eq!(c.grace, Duration::from_secs(8));
        assert_eq!(c.pids_max, None);
        assert_eq!(c.verbosity, 1);
        assert_eq!(c.log_filter, None);
    }

    #[test]
    fn options_end_at_the_first_non_option() {
        let c = config(&["-s", "cmd", "-x", "--grace", "1"], &[]);
        assert_eq!(c.program, os(&["cmd", "-x", "--grace", "1"]));
        assert_eq!(c.subreaper, Some(true));
        assert_eq!(c.grace, DEFAULT_GRACE);
    }

    #[test]
    fn double_dash_ends_options() {
        let c = config(&["-g", "--", "-s", "x"], &[]);
        assert_eq!(c.program, os(&["-s", "x"]));
        assert!(c.process_group && c.subreaper.is_none());
        let c = config(&["--", "--"], &[]);
        assert_eq!(c.program, os(&["--"]));
    }

    #[test]
    fn a_lone_dash_is_a_program() {
        assert_eq!(config(&["-"], &[]).program, os(&["-"]));
    }

    #[test]
    fn short_options_combine_and_take_values_attached_or_apart() {
        let c = config(&["-sgw", "-e143", "-e", "2", "-vvq", "x"], &[]);
        assert!(c.subreaper == Some(true) && c.process_group && c.warn_on_reap);
        assert_eq!(c.remap_exit, vec![143, 2]);
        assert_eq!(c.verbosity, 0, "-q wins over -v");
        let c = config(&["-sgt5", "x"], &[]);
        assert_eq!(c.grace, Duration::from_secs(5));
        let c = config(&["-gp", "KILL", "x"], &[]);
        assert_eq!(c.pdeathsig, Some(9));
        let c = config(&["-rTERM:QUIT", "-r", "USR1:0", "x"], &[]);
        assert_eq!(c.rewrite.apply(15), Some(3));
        assert_eq!(c.rewrite.apply(10), None);
    }

    #[test]
    fn long_options_take_equals_or_separate_values() {
        let c = config(
            &[
                "--subreaper",
                "--process-group",
                "--pdeathsig=TERM",
                "--remap-exit",
                "143",
                "--rewrite=INT:TERM",
                "--stop-signal",
                "QUIT",
                "--stop-signal=INT",
                "--grace",
                "500ms",
                "--term-delay=100ms",
                "--pids-max=40",
                "--verbose",
                "--verbose",
                "--warn-on-reap",
                "x",
            ],
            &[],
        );
        assert!(c.subreaper == Some(true) && c.process_group && c.warn_on_reap);
        assert_eq!(c.pdeathsig, Some(15));
        assert_eq!(c.remap_exit, vec![143]);
        assert_eq!(c.rewrite.apply(2), Some(15));
        assert_eq!(c.grace, Duration::from_millis(500));
        assert_eq!(c.stop_signals, vec![libc::SIGQUIT, libc::SIGINT]);
        assert_eq!(c.term_delay, Duration::from_millis(100));
        assert_eq!(c.pids_max, Some(40));
        assert_eq!(c.verbosity, 3);
        assert_eq!(config(&["--quiet", "x"], &[]).verbosity, 0);
        // A value that looks like an option is still the value.
        assert_eq!(config(&["--grace", "2", "x"], &[]).grace, Duration::from_secs(2));
    }

    #[test]
    fn help_version_and_license() {
        assert_eq!(parse_with(&["-h"], &[]), Ok(Command::Help));
        assert_eq!(parse_with(&["--help", "x"], &[]), Ok(Command::Help));
        assert_eq!(parse_with(&["-V"], &[]), Ok(Command::Version));
        assert_eq!(parse_with(&["--version"], &[]), Ok(Command::Version));
        assert_eq!(parse_with(&["-l"], &[]), Ok(Command::License));
        assert_eq!(parse_with(&["-sh"], &[]), Ok(Command::Help));
        assert_eq!(parse_with(&["--license"], &[]), Ok(Command::License));
        // After the program, -h belongs to the program.
        assert_eq!(config(&["x", "-h"], &[]).program, os(&["x", "-h"]));
    }

    #[test]
    fn bad_command_lines() {
        assert!(error(&[], &[]).contains("no program"));
        assert!(error(&["-s"], &[]).contains("no program"));
        assert!(error(&["-x", "p"], &[]).contains("unknown option '-x'"));
        assert!(error(&["--bogus", "p"], &[]).contains("unknown option '--bogus'"));
        assert!(error(&["-e"], &[]).contains("needs a value"));
        assert!(error(&["--grace"], &[]).contains("needs a value"));
        assert!(error(&["--subreaper=1", "p"], &[]).contains("takes no value"));
        assert!(error(&["-e", "256", "p"], &[]).contains("0-255"));
        assert!(error(&["-e", "-1", "p"], &[]).contains("0-255"));
        assert!(error(&["-p", "FOO", "p"], &[]).contains("not a signal"));
        assert!(error(&["-r", "TERM", "p"], &[]).contains("FROM:TO"));
        assert!(error(&["-r", "KILL:TERM", "p"], &[]).contains("cannot be rewritten"));
        assert!(error(&["-r", "CHLD:TERM", "p"], &[]).contains("cannot be rewritten"));
        assert!(error(&["-r", "TERM:BOGUS", "p"], &[]).contains("not a signal"));
        assert!(error(&["-t", "soon", "p"], &[]).contains("not a duration"));
        assert!(error(&["--pids-max", "lots", "p"], &[]).contains("not a number"));
        assert!(error(&["--pids-max", "1", "p"], &[]).contains("at least 2"));
        // The option is named in the message.
        assert!(error(&["--grace=x", "p"], &[]).starts_with("--grace:"));
        assert!(error(&["--stop-signal", "KILL", "p"], &[]).contains("cannot be a stop signal"));
        assert!(error(&["--stop-signal", "NOPE", "p"], &[]).contains("not a signal"));
        assert!(error(&["--term-delay", "soon", "p"], &[]).starts_with("--term-delay:"));
    }

    #[test]
    fn the_term_delay_must_be_shorter_than_the_grace() {
        assert_eq!(config(&["--term-delay", "7.9s", "x"], &[]).term_delay, Duration::from_millis(7_900));
        assert!(error(&["--term-delay", "8s", "x"], &[]).contains("not shorter than the grace period 8s"));
        assert!(error(&["-t", "2", "--term-delay", "3", "x"], &[]).contains("--term-delay 3s"));
        assert!(error(&["x"], &[("RINIT_TERM_DELAY", "1"), ("RINIT_GRACE", "1")]).contains("RINIT_TERM_DELAY"));
        // No delay is no delay, whatever the grace.
        assert_eq!(config(&["-t", "0", "--term-delay", "0", "x"], &[]).grace, Duration::ZERO);
    }

    #[test]
    fn environment_variables() {
        let c = config(
            &["x"],
            &[
                ("RINIT_SUBREAPER", "yes"),
                ("RINIT_KILL_PROCESS_GROUP", "on"),
                ("RINIT_GRACE", "3s"),
                ("RINIT_PIDS_MAX", "100"),
                ("RINIT_VERBOSITY", "3"),
                ("RINIT_LOG", "debug"),
            ],
        );
        assert!(c.subreaper == Some(true) && c.process_group);
        assert_eq!(c.grace, Duration::from_secs(3));
        assert_eq!(c.pids_max, Some(100));
        assert_eq!(c.verbosity, 3);
        assert_eq!(c.log_filter.as_deref(), Some("debug"));
        let c = config(&["x"], &[("RINIT_SUBREAPER", "false"), ("RINIT_KILL_PROCESS_GROUP", "0")]);
        assert!(c.subreaper == Some(false) && !c.process_group);
    }

    #[test]
    fn every_option_with_a_value_or_a_flag_has_its_variable() {
        let c = config(
            &["x"],
            &[
                ("RINIT_REWRITE", "TERM:QUIT, USR1:0,,HUP:INT"),
                ("RINIT_REMAP_EXIT", "143,2 7"),
                ("RINIT_PDEATHSIG", "KILL"),
                ("RINIT_WARN_ON_REAP", "yes"),
                ("RINIT_STOP_SIGNALS", "QUIT,SIGINT"),
                ("RINIT_TERM_DELAY", "2s"),
                ("LISTEN_FDS", "2"),
                ("LISTEN_PID", "1"),
            ],
        );
        assert_eq!(c.rewrite.apply(libc::SIGTERM), Some(libc::SIGQUIT));
        assert_eq!(c.rewrite.apply(libc::SIGUSR1), None);
        assert_eq!(c.rewrite.apply(libc::SIGHUP), Some(libc::SIGINT));
        assert_eq!(c.remap_exit, vec![143, 2, 7]);
        assert_eq!(c.pdeathsig, Some(libc::SIGKILL));
        assert!(c.warn_on_reap);
        assert_eq!(c.stop_signals, vec![libc::SIGQUIT, libc::SIGINT]);
        assert_eq!(c.term_delay, Duration::from_secs(2));
        assert_eq!(c.listen, Some(Listen { fds: 2, pid: Some(1) }));
        assert!(c.listen.is_some_and(|l| l.meant_for(1) && !l.meant_for(7)));
        let unset = config(&["x"], &[("LISTEN_FDS", "1")]).listen;
        assert!(unset.is_some_and(|l| l.pid.is_none() && l.meant_for(7)));
        // LISTEN_PID alone means nothing, and is not checked.
        assert_eq!(config(&["x"], &[("LISTEN_PID", "junk")]).listen, None);
        // An empty list is no list.
        assert!(config(&["x"], &[("RINIT_REMAP_EXIT", "")]).remap_exit.is_empty());
        assert!(!config(&["x"], &[("RINIT_WARN_ON_REAP", "0")]).warn_on_reap);
    }

    #[test]
    fn tini_variables_count_when_present_whatever_their_value() {
        for v in ["", "0", "no", "anything"] {
            let c = config(&["x"], &[("TINI_SUBREAPER", v), ("TINI_KILL_PROCESS_GROUP", v)]);
            assert!(c.subreaper == Some(true) && c.process_group, "{v:?}");
        }
        // RINIT_* is more specific and wins.
        let c = config(&["x"], &[("TINI_SUBREAPER", ""), ("RINIT_SUBREAPER", "off")]);
        assert_eq!(c.subreaper, Some(false));
        assert_eq!(config(&["x"], &[("TINI_VERBOSITY", "2")]).verbosity, 2);
        assert_eq!(config(&["x"], &[("TINI_VERBOSITY", "junk")]).verbosity, 0);
        assert_eq!(
            config(&["x"], &[("TINI_VERBOSITY", "3"), ("RINIT_VERBOSITY", "1")]).verbosity,
            1
        );
    }

    #[test]
    fn options_win_over_variables() {
        let c = config(&["-t", "1", "--pids-max", "9", "x"], &[("RINIT_GRACE", "5"), ("RINIT_PIDS_MAX", "50")]);
        assert_eq!(c.grace, Duration::from_secs(1));
        assert_eq!(c.pids_max, Some(9));
        assert_eq!(config(&["-q", "x"], &[("RINIT_VERBOSITY", "4")]).verbosity, 0);
        assert_eq!(config(&["-v", "x"], &[("RINIT_VERBOSITY", "0")]).verbosity, 2);
        // One -r or -e replaces the whole list, as one -t replaces RINIT_GRACE.
        let c = config(
            &["-r", "INT:HUP", "-e", "3", "--stop-signal", "USR2", "x"],
            &[("RINIT_REWRITE", "TERM:QUIT"), ("RINIT_REMAP_EXIT", "143"), ("RINIT_STOP_SIGNALS", "QUIT")],
        );
        assert_eq!(c.rewrite.apply(libc::SIGTERM), Some(libc::SIGTERM));
        assert_eq!(c.rewrite.apply(libc::SIGINT), Some(libc::SIGHUP));
        assert_eq!(c.remap_exit, vec![3]);
        assert_eq!(c.stop_signals, vec![libc::SIGUSR2]);
        let c = config(&["-p", "TERM", "-w", "x"], &[("RINIT_PDEATHSIG", "KILL"), ("RINIT_WARN_ON_REAP", "0")]);
        assert_eq!(c.pdeathsig, Some(libc::SIGTERM));
        assert!(c.warn_on_reap, "-w wins over RINIT_WARN_ON_REAP=0");
        assert_eq!(config(&["-s", "x"], &[("RINIT_SUBREAPER", "0")]).subreaper, Some(true));
    }

    #[test]
    fn bad_environment_values() {
        assert!(error(&["x"], &[("RINIT_SUBREAPER", "maybe")]).starts_with("RINIT_SUBREAPER:"));
        assert!(error(&["x"], &[("RINIT_KILL_PROCESS_GROUP", "2")]).starts_with("RINIT_KILL_PROCESS_GROUP:"));
        assert!(error(&["x"], &[("RINIT_GRACE", "-1s")]).starts_with("RINIT_GRACE:"));
        assert!(error(&["x"], &[("RINIT_PIDS_MAX", "lots")]).starts_with("RINIT_PIDS_MAX:"));
        assert!(error(&["x"], &[("RINIT_VERBOSITY", "loud")]).starts_with("RINIT_VERBOSITY:"));
        // Validated even when an option overrides it.
        assert!(error(&["-t", "1", "x"], &[("RINIT_GRACE", "soon")]).starts_with("RINIT_GRACE:"));
        assert!(error(&["-r", "INT:HUP", "x"], &[("RINIT_REWRITE", "TERM:QUIT,TERM")]).starts_with("RINIT_REWRITE: 'TERM' is not FROM:TO"));
        assert!(error(&["x"], &[("RINIT_REMAP_EXIT", "143,256")]).starts_with("RINIT_REMAP_EXIT: '256'"));
        assert!(error(&["x"], &[("RINIT_PDEATHSIG", "DIE")]).starts_with("RINIT_PDEATHSIG:"));
        assert!(error(&["x"], &[("RINIT_WARN_ON_REAP", "loud")]).starts_with("RINIT_WARN_ON_REAP:"));
        assert!(error(&["x"], &[("RINIT_STOP_SIGNALS", "QUIT,CHLD")]).contains("SIGCHLD cannot be a stop signal"));
        assert!(error(&["x"], &[("RINIT_TERM_DELAY", "-1")]).starts_with("RINIT_TERM_DELAY:"));
        for bad in ["", "x", "-1", "1048577"] {
            assert!(error(&["x"], &[("LISTEN_FDS", bad)]).starts_with("LISTEN_FDS:"), "{bad:?}");
        }
        for bad in ["", "x", "0", "-3"] {
            assert!(error(&["x"], &[("LISTEN_FDS", "1"), ("LISTEN_PID", bad)]).starts_with("LISTEN_PID:"), "{bad:?}");
        }
    }

    #[test]
    fn env_vars_lists_every_variable_parse_reads() {
        let read = std::cell::RefCell::new(Vec::new());
        let _ = parse(&os(&["x"]), &|k| {
            read.borrow_mut().push(k.to_string());
            None
        });
        let mut read = read.into_inner();
        read.sort();
        read.dedup();
        let mut listed: Vec<String> = ENV_VARS.iter().map(|v| v.to_string()).collect();
        listed.sort();
        assert_eq!(read, listed);
    }

    #[test]
    fn every_option_is_named_once_and_helped() {
        for (i, o) in OPTIONS.iter().enumerate() {
            assert!(!o.help.is_empty(), "{}", o.long);
            for other in OPTIONS.iter().skip(i + 1) {
                assert_ne!(o.long, other.long);
                assert!(o.short.is_none() || o.short != other.short, "{}", o.long);
            }
            // A row that reads variables names them, and only then.
            assert_eq!(o.env.is_empty(), o.from_env == FromEnv::None, "{}", o.long);
            assert!(help_text().contains(&format!("{}  ", o.synopsis())), "{}", o.long);
        }
    }

    #[test]
    fn help_gives_the_default_grace() {
        let grace = OPTIONS.iter().find(|o| o.long == "grace").map(|o| o.help).unwrap_or_default();
        assert!(grace.contains(&format!("(default {})", format_duration(DEFAULT_GRACE))), "{grace}");
    }

    #[test]
    fn oom_exit_and_the_report_from_options_and_variables() {
        let c = config(&["x"], &[]);
        assert!(!c.oom_exit && !c.report && c.report_file.is_none(), "off by default");
        let c = config(&["--oom-exit", "--report", "--report-file", "/out/r.json", "x"], &[]);
        assert!(c.oom_exit && c.report);
        assert_eq!(c.report_file.as_deref(), Some(std::path::Path::new("/out/r.json")));
        let c = config(&["x"], &[("RINIT_OOM_EXIT", "1"), ("RINIT_REPORT", "yes"), ("RINIT_REPORT_FILE", "r.json")]);
        assert!(c.oom_exit && c.report);
        assert_eq!(c.report_file.as_deref(), Some(std::path::Path::new("r.json")));
        let c = config(&["--report-file=a", "x"], &[("RINIT_REPORT_FILE", "b"), ("RINIT_OOM_EXIT", "off")]);
        assert_eq!(c.report_file.as_deref(), Some(std::path::Path::new("a")), "the option wins");
        assert!(!c.oom_exit);
        assert!(error(&["--report-file=", "x"], &[]).starts_with("--report-file: the path is empty"));
        assert!(error(&["x"], &[("RINIT_REPORT", "maybe")]).starts_with("RINIT_REPORT:"));
        assert!(error(&["--report=1", "x"], &[]).contains("takes no value"));
    }

    #[test]
    fn a_flag_variable_set_false_is_the_default_but_for_the_subreaper() {
        // A flag's apply gets OFF from a false RINIT_* variable: every flag
        // must read it, or `RINIT_X=0` would turn X on.
        let default = config(&["x"], &[]);
        for o in OPTIONS.iter().filter(|o| o.from_env == FromEnv::Flag) {
            let mut c = config(&["x"], &[(o.env[0], "0")]);
            if o.long == "subreaper" {
                assert_eq!(c.subreaper, Some(false), "explicit off");
                c.subreaper = None;
            }
            assert_eq!(c, default, "{}=0", o.env[0]);
        }
    }

    #[test]
    fn booleans() {
        for t in ["1", "true", "YES", "On", " on "] {
            assert_eq!(parse_bool(t), Ok(true), "{t}");
        }
        for f in ["0", "false", "No", "OFF"] {
            assert_eq!(parse_bool(f), Ok(false), "{f}");
        }
        for bad in ["", "2", "y", "enable"] {
            assert!(parse_bool(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        let d = |s| parse_duration(s);
        assert_eq!(d("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(d("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(d("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(d("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(d("2"), Ok(Duration::from_secs(2)));
        assert_eq!(d("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(d("1.25s"), Ok(Duration::from_millis(1250)));
        assert_eq!(d(".5"), Ok(Duration::from_millis(500)));
        assert_eq!(d("0"), Ok(Duration::ZERO));
        assert_eq!(d("0.1m"), Ok(Duration::from_secs(6)));
        for bad in ["", "s", "-1", "1x", "1.2.3", "1e3", "inf", "NaN", "1 s s", "99999999999999999999999", "0.0000000001"] {
            assert!(d(bad).is_err(), "{bad}");
        }
        assert!(d("400d").is_err());
        assert!(d("9000h").unwrap_err().contains("longer than a year"));
        // A year to the nanosecond, and not one more.
        assert_eq!(d("31536000"), Ok(Duration::from_secs(31_536_000)));
        assert_eq!(d("8760h"), Ok(Duration::from_secs(31_536_000)));
        assert!(d("31536000.000000001").unwrap_err().contains("longer than a year"));
    }

    #[test]
    fn log_filters_are_read_as_env_filter_reads_them() {
        for good in ["debug", "rinit=trace", "rinit::supervise=debug,warn", "rinit=", "a , b=INFO/text", "off", "x::y", "/x"] {
            assert!(is_log_filter(good), "{good}");
        }
        for bad in ["a=b=c", "debug/x/y", "rinit=loud", "a=1x", "x=y=z"] {
            assert!(!is_log_filter(bad), "{bad}");
        }
    }

    #[test]
    fn durations_print_and_parse_back() {
        for d in [Duration::ZERO, Duration::from_millis(1), Duration::from_millis(1500), Duration::from_secs(10), Duration::new(3, 7)] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{d:?}");
        }
    }

    #[test]
    fn exit_codes_and_pids() {
        assert_eq!(parse_exit_code("0"), Ok(0));
        assert_eq!(parse_exit_code("255"), Ok(255));
        assert_eq!(parse_pids_max("4194304"), Ok(4_194_304));
        assert!(parse_pids_max("4194305").is_err());
        assert!(parse_pids_max("0").is_err());
    }

    #[test]
    fn program_arguments_need_not_be_utf8() {
        use std::os::unix::ffi::OsStringExt;
        let raw = OsString::from_vec(vec![b'a', 0xff]);
        let args = [OsString::from("prog"), raw.clone()];
        match parse(&[args[0].as_os_str(), &args[1]], &|_| None) {
            Ok(Command::Run(c)) => assert_eq!(c.program[1], raw),
            other => panic!("{other:?}"),
        }
        let bad_opt = [OsString::from_vec(vec![b'-', 0xff]), OsString::from("p")];
        assert!(parse(&[bad_opt[0].as_os_str(), &bad_opt[1]], &|_| None).is_err());
    }
}
