//! The command line and environment (SPEC §1) turned into an immutable
//! [`Config`]. Pure: no system calls, no printing; errors are values whose
//! text tells the user what to change.

use std::ffi::OsString;
use std::time::Duration;

use crate::signals::{self, RewriteMap};

/// Default grace period: below Docker's and Podman's 10 s stop timeout, so
/// that rinit's own SIGKILL, and the summary line that names what needed
/// it, come before the engine's SIGKILL of rinit.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(8);

/// The kernel's PID_MAX_LIMIT: no cgroup can usefully allow more.
pub const PIDS_MAX_LIMIT: u64 = 4_194_304;

/// Verbosity levels, tini's numbering: 0 errors only, 1 warnings (default),
/// 2 info, 3 debug, 4 and up trace.
pub const DEFAULT_VERBOSITY: u32 = 1;

/// Every environment variable rinit reads (SPEC §1).
pub const ENV_VARS: [&str; 9] = [
    "RINIT_SUBREAPER",
    "TINI_SUBREAPER",
    "RINIT_KILL_PROCESS_GROUP",
    "TINI_KILL_PROCESS_GROUP",
    "RINIT_GRACE",
    "RINIT_PIDS_MAX",
    "RINIT_VERBOSITY",
    "TINI_VERBOSITY",
    "RINIT_LOG",
];

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
    pub subreaper: bool,
    pub process_group: bool,
    pub pdeathsig: Option<i32>,
    /// Exit statuses that become 0 (`-e`).
    pub remap_exit: Vec<u8>,
    pub rewrite: RewriteMap,
    pub grace: Duration,
    pub pids_max: Option<u64>,
    pub verbosity: u32,
    /// `RINIT_LOG`: an env_logger filter that wins over the verbosity.
    pub log_filter: Option<String>,
    pub warn_on_reap: bool,
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

/// What an option takes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Opt {
    Subreaper,
    ProcessGroup,
    Pdeathsig,
    RemapExit,
    Rewrite,
    Grace,
    PidsMax,
    Verbose,
    Quiet,
    WarnOnReap,
    License,
    Help,
    Version,
}

/// (short, long, option). `--pids-max` has no short form.
const OPTIONS: [(Option<char>, &str, Opt); 13] = [
    (Some('s'), "subreaper", Opt::Subreaper),
    (Some('g'), "process-group", Opt::ProcessGroup),
    (Some('p'), "pdeathsig", Opt::Pdeathsig),
    (Some('e'), "remap-exit", Opt::RemapExit),
    (Some('r'), "rewrite", Opt::Rewrite),
    (Some('t'), "grace", Opt::Grace),
    (None, "pids-max", Opt::PidsMax),
    (Some('v'), "verbose", Opt::Verbose),
    (Some('q'), "quiet", Opt::Quiet),
    (Some('w'), "warn-on-reap", Opt::WarnOnReap),
    (Some('l'), "license", Opt::License),
    (Some('h'), "help", Opt::Help),
    (Some('V'), "version", Opt::Version),
];

impl Opt {
    fn takes_value(self) -> bool {
        matches!(
            self,
            Opt::Pdeathsig | Opt::RemapExit | Opt::Rewrite | Opt::Grace | Opt::PidsMax
        )
    }

    fn long(self) -> &'static str {
        OPTIONS
            .iter()
            .find(|(_, _, o)| *o == self)
            .map_or("?", |(_, long, _)| long)
    }
}

/// Options as given on the command line, before the environment is merged.
#[derive(Default)]
struct Given {
    subreaper: bool,
    process_group: bool,
    pdeathsig: Option<i32>,
    remap_exit: Vec<u8>,
    rewrite: RewriteMap,
    grace: Option<Duration>,
    pids_max: Option<u64>,
    verbose: u32,
    quiet: bool,
    warn_on_reap: bool,
}

impl Given {
    /// Applies one option. Returns `Some(command)` for the options that end
    /// parsing (help, version, licence).
    fn apply(&mut self, opt: Opt, value: Option<&str>) -> Result<Option<Command>, UsageError> {
        let flag = format!("--{}", opt.long());
        let value = || value.unwrap_or_default();
        let in_option = |e: String| UsageError(format!("{flag}: {e}"));
        match opt {
            Opt::Subreaper => self.subreaper = true,
            Opt::ProcessGroup => self.process_group = true,
            Opt::Pdeathsig => self.pdeathsig = Some(signals::parse(value()).map_err(in_option)?),
            Opt::RemapExit => self.remap_exit.push(parse_exit_code(value()).map_err(in_option)?),
            Opt::Rewrite => {
                let (from, to) = parse_rewrite(value()).map_err(in_option)?;
                self.rewrite.insert(from, to);
            }
            Opt::Grace => self.grace = Some(parse_duration(value()).map_err(in_option)?),
            Opt::PidsMax => self.pids_max = Some(parse_pids_max(value()).map_err(in_option)?),
            Opt::Verbose => self.verbose = self.verbose.saturating_add(1),
            Opt::Quiet => self.quiet = true,
            Opt::WarnOnReap => self.warn_on_reap = true,
            Opt::License => return Ok(Some(Command::License)),
            Opt::Help => return Ok(Some(Command::Help)),
            Opt::Version => return Ok(Some(Command::Version)),
        }
        Ok(None)
    }
}

/// Parses `args` (without argv\[0\]) and the environment, read through
/// `env`, into a [`Command`].
pub fn parse(
    args: &[OsString],
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Command, UsageError> {
    let mut given = Given::default();
    let mut rest = args.iter();
    let mut program = Vec::new();
    while let Some(arg) = rest.next() {
        let bytes = arg.as_encoded_bytes();
        if bytes == b"--" {
            program.extend(rest.by_ref().cloned());
            break;
        }
        if !bytes.starts_with(b"-") || bytes == b"-" {
            // The first non-option starts the program: `rinit cmd -x` runs `cmd -x`.
            program.push(arg.clone());
            program.extend(rest.by_ref().cloned());
            break;
        }
        let Some(text) = arg.to_str() else {
            return usage(format!(
                "option '{}' is not valid UTF-8",
                arg.to_string_lossy()
            ));
        };
        let done = if let Some(long) = text.strip_prefix("--") {
            parse_long(long, &mut rest, &mut given)?
        } else {
            parse_short_cluster(text.get(1..).unwrap_or_default(), &mut rest, &mut given)?
        };
        if let Some(command) = done {
            return Ok(command);
        }
    }
    if program.is_empty() {
        return usage("no program given: rinit [OPTION]... [--] PROGRAM [ARG]...");
    }
    merge_env(given, program, env).map(Command::Run)
}

fn parse_long<'a>(
    long: &str,
    rest: &mut impl Iterator<Item = &'a OsString>,
    given: &mut Given,
) -> Result<Option<Command>, UsageError> {
    let (name, attached) = match long.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (long, None),
    };
    let Some(&(_, _, opt)) = OPTIONS.iter().find(|(_, l, _)| *l == name) else {
        return usage(format!("unknown option '--{name}'"));
    };
    let value = match (opt.takes_value(), attached) {
        (true, Some(v)) => Some(v.to_string()),
        (true, None) => Some(next_value(rest, &format!("--{name}"))?),
        (false, Some(_)) => return usage(format!("option '--{name}' takes no value")),
        (false, None) => None,
    };
    given.apply(opt, value.as_deref())
}

fn parse_short_cluster<'a>(
    cluster: &str,
    rest: &mut impl Iterator<Item = &'a OsString>,
    given: &mut Given,
) -> Result<Option<Command>, UsageError> {
    for (i, c) in cluster.char_indices() {
        let Some(&(_, _, opt)) = OPTIONS.iter().find(|(s, _, _)| *s == Some(c)) else {
            return usage(format!("unknown option '-{c}'"));
        };
        if opt.takes_value() {
            // `-e143` or `-e 143`; the value ends the cluster.
            let attached = cluster.get(i + c.len_utf8()..).unwrap_or_default();
            let value = if attached.is_empty() {
                next_value(rest, &format!("-{c}"))?
            } else {
                attached.to_string()
            };
            return given.apply(opt, Some(&value));
        }
        if let Some(command) = given.apply(opt, None)? {
            return Ok(Some(command));
        }
    }
    Ok(None)
}

fn next_value<'a>(
    rest: &mut impl Iterator<Item = &'a OsString>,
    flag: &str,
) -> Result<String, UsageError> {
    match rest.next() {
        None => usage(format!("option '{flag}' needs a value")),
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

/// `RINIT_*` booleans are strict; `TINI_*` ones count when present, as in tini.
fn env_flag(
    env: &dyn Fn(&str) -> Option<OsString>,
    rinit_name: &str,
    tini_name: &str,
) -> Result<bool, UsageError> {
    if let Some(v) = env_str(env, rinit_name)? {
        return parse_bool(&v).map_err(|e| UsageError(format!("{rinit_name}: {e}")));
    }
    Ok(env(tini_name).is_some())
}

fn merge_env(
    given: Given,
    program: Vec<OsString>,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Config, UsageError> {
    // Every variable is validated even when an option overrides it, so a bad
    // value in an image's environment is found at once, not on the day the
    // option is dropped.
    let env_subreaper = env_flag(env, "RINIT_SUBREAPER", "TINI_SUBREAPER")?;
    let env_group = env_flag(env, "RINIT_KILL_PROCESS_GROUP", "TINI_KILL_PROCESS_GROUP")?;
    let env_grace = env_str(env, "RINIT_GRACE")?
        .map(|v| parse_duration(&v).map_err(|e| UsageError(format!("RINIT_GRACE: {e}"))))
        .transpose()?;
    let env_pids = env_str(env, "RINIT_PIDS_MAX")?
        .map(|v| parse_pids_max(&v).map_err(|e| UsageError(format!("RINIT_PIDS_MAX: {e}"))))
        .transpose()?;
    let env_verbosity = match env_str(env, "RINIT_VERBOSITY")? {
        Some(v) => Some(
            v.trim()
                .parse::<u32>()
                .map_err(|_| UsageError(format!("RINIT_VERBOSITY: '{v}' is not a number (0 errors only, 1 warnings, 2 info, 3 debug, 4 trace)")))?,
        ),
        // tini reads its variable with atoi: junk counts as 0.
        None => env("TINI_VERBOSITY").map(|v| atoi(&v.to_string_lossy())),
    };
    let log_filter = env_str(env, "RINIT_LOG")?.filter(|f| !f.trim().is_empty());

    let verbosity = if given.quiet {
        0
    } else if given.verbose > 0 {
        DEFAULT_VERBOSITY.saturating_add(given.verbose)
    } else {
        env_verbosity.unwrap_or(DEFAULT_VERBOSITY)
    };
    Ok(Config {
        program,
        subreaper: given.subreaper || env_subreaper,
        process_group: given.process_group || env_group,
        pdeathsig: given.pdeathsig,
        remap_exit: given.remap_exit,
        rewrite: given.rewrite,
        grace: given.grace.or(env_grace).unwrap_or(DEFAULT_GRACE),
        pids_max: given.pids_max.or(env_pids),
        verbosity,
        log_filter,
        warn_on_reap: given.warn_on_reap,
    })
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
        _ => Err(format!("'{text}' is not a boolean (use 1/true/yes/on or 0/false/no/off)")),
    }
}

pub fn parse_exit_code(text: &str) -> Result<u8, String> {
    text.trim()
        .parse::<u8>()
        .map_err(|_| format!("'{text}' is not an exit status (0-255)"))
}

/// `FROM:TO`, each a signal; TO may be 0 to drop FROM.
pub fn parse_rewrite(text: &str) -> Result<(i32, i32), String> {
    let Some((from, to)) = text.split_once(':') else {
        return Err(format!("'{text}' is not FROM:TO (for example TERM:QUIT, or USR1:0 to drop USR1)"));
    };
    let from = signals::parse(from)?;
    if [libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD].contains(&from) {
        return Err(format!(
            "{} cannot be rewritten: rinit never receives it as a signal to forward",
            signals::name(from)
        ));
    }
    let to = if to.trim() == "0" { 0 } else { signals::parse(to)? };
    Ok((from, to))
}

/// `5s`, `500ms`, `2m`, `1h`, or a bare number of seconds (`2`, `0.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("'{text}' is not a duration (use 10s, 500ms, 2m, or a number of seconds)");
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
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| bad())?;
    if secs > 365 * 24 * 3600 {
        return Err(format!("'{text}' is longer than a year"));
    }
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
            "'{text}' is out of range: at least 2 (rinit and the program), at most {PIDS_MAX_LIMIT}"
        )),
        Err(_) => Err(format!("'{text}' is not a number of processes")),
    }
}

pub fn help_text() -> String {
    format!(
        "\
rinit {version} - a tiny init for containers

Usage: rinit [OPTION]... [--] PROGRAM [ARG]...

Runs PROGRAM, forwards every signal to it, reaps every zombie, and on SIGTERM
(or when PROGRAM exits) sends SIGTERM to every process left, waits the grace
period, then SIGKILLs what remains. Options end at -- or at PROGRAM.

  -s, --subreaper          become a child subreaper (when not PID 1)   [RINIT_SUBREAPER, TINI_SUBREAPER]
  -g, --process-group      forward signals to PROGRAM's process group  [RINIT_KILL_PROCESS_GROUP, TINI_KILL_PROCESS_GROUP]
  -p, --pdeathsig SIG      signal rinit gets when its parent dies
  -e, --remap-exit CODE    exit status CODE of PROGRAM becomes 0 (repeatable)
  -r, --rewrite FROM:TO    forward a received FROM as TO; TO 0 drops it (repeatable)
  -t, --grace DUR          grace period before SIGKILL (default 8s)    [RINIT_GRACE]
      --pids-max N         at most N processes (cgroup pids.max)       [RINIT_PIDS_MAX]
  -v, --verbose            more logging (repeatable)                   [RINIT_VERBOSITY, TINI_VERBOSITY]
  -q, --quiet              errors only
  -w, --warn-on-reap       warn for every reaped process that is not PROGRAM
  -l, --license            print the licence
  -h, --help               print this help
  -V, --version            print the version

Signals: TERM, SIGTERM, 15, RTMIN+3. Durations: 5s, 500ms, 2m, 2, 0.5.
Booleans: 1/true/yes/on, 0/false/no/off. RINIT_LOG takes an env_logger filter.
Exit status: PROGRAM's, 128+N if a signal N killed it, 127 not found,
126 not executable, 2 bad usage, 1 set-up failed.
",
        version = env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
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
        assert!(!c.subreaper && !c.process_group && !c.warn_on_reap);
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
        assert!(c.subreaper);
        assert_eq!(c.grace, DEFAULT_GRACE);
    }

    #[test]
    fn double_dash_ends_options() {
        let c = config(&["-g", "--", "-s", "x"], &[]);
        assert_eq!(c.program, os(&["-s", "x"]));
        assert!(c.process_group && !c.subreaper);
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
        assert!(c.subreaper && c.process_group && c.warn_on_reap);
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
                "--grace",
                "500ms",
                "--pids-max=40",
                "--verbose",
                "--verbose",
                "--warn-on-reap",
                "x",
            ],
            &[],
        );
        assert!(c.subreaper && c.process_group && c.warn_on_reap);
        assert_eq!(c.pdeathsig, Some(15));
        assert_eq!(c.remap_exit, vec![143]);
        assert_eq!(c.rewrite.apply(2), Some(15));
        assert_eq!(c.grace, Duration::from_millis(500));
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
        assert!(c.subreaper && c.process_group);
        assert_eq!(c.grace, Duration::from_secs(3));
        assert_eq!(c.pids_max, Some(100));
        assert_eq!(c.verbosity, 3);
        assert_eq!(c.log_filter.as_deref(), Some("debug"));
        let c = config(&["x"], &[("RINIT_SUBREAPER", "false"), ("RINIT_KILL_PROCESS_GROUP", "0")]);
        assert!(!c.subreaper && !c.process_group);
    }

    #[test]
    fn tini_variables_count_when_present_whatever_their_value() {
        for v in ["", "0", "no", "anything"] {
            let c = config(&["x"], &[("TINI_SUBREAPER", v), ("TINI_KILL_PROCESS_GROUP", v)]);
            assert!(c.subreaper && c.process_group, "{v:?}");
        }
        // RINIT_* is more specific and wins.
        let c = config(&["x"], &[("TINI_SUBREAPER", ""), ("RINIT_SUBREAPER", "off")]);
        assert!(!c.subreaper);
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
        let args = vec![OsString::from("prog"), raw.clone()];
        match parse(&args, &|_| None) {
            Ok(Command::Run(c)) => assert_eq!(c.program[1], raw),
            other => panic!("{other:?}"),
        }
        let bad_opt = vec![OsString::from_vec(vec![b'-', 0xff]), OsString::from("p")];
        assert!(parse(&bad_opt, &|_| None).is_err());
    }
}
