//! Property tests of the pure parts (issue 7): the command-line, signal and
//! duration parsers never panic and print/parse round-trips; the shutdown
//! state machine, driven by a simulated container, never exits while a
//! process remains, always exits by the deadline plus reaping, never kills
//! early, and `procs::targets` never lists rinit itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::time::Duration;

use proptest::prelude::*;
use rinit::cli::{self, Command, Config};
use rinit::procs::{self, Proc, Scope};
use rinit::shutdown::{Action, Event, Machine, OTHERS_POLL, REKILL_INTERVAL};
use rinit::signals::{self, RewriteMap};
use rinit::status::{self, Ended};

const TERM: i32 = libc::SIGTERM;
const CHLD: i32 = libc::SIGCHLD;
const YEAR: u64 = 365 * 24 * 3600;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 512, ..ProptestConfig::default() }
}

// ---------------------------------------------------------------------------
// Command line: arbitrary input never panics.

/// Words that reach deep into the parser: every option in every spelling,
/// values near the edges, and junk.
fn word() -> impl Strategy<Value = Vec<u8>> {
    let known = prop::sample::select(vec![
        "-s", "-g", "-p", "-e", "-r", "-t", "-v", "-q", "-w", "-l", "-h", "-V", "--", "-", "-sg",
        "-sgt5", "-e143", "-vvq", "-rTERM:QUIT", "-pKILL", "--subreaper", "--process-group",
        "--pdeathsig", "--pdeathsig=TERM", "--remap-exit", "--remap-exit=256", "--rewrite",
        "--rewrite=USR1:0", "--rewrite=KILL:TERM", "--grace", "--grace=0.5", "--grace=",
        "--pids-max", "--pids-max=1", "--pids-max=4194305", "--verbose", "--quiet",
        "--warn-on-reap", "--license", "--help", "--version", "--subreaper=1", "--=", "---",
        "TERM", "RTMIN+3", "RTMAX-31", "RTMIN+2147483647", "RTMAX-2147483648", "SIGSIG", "0",
        "64", "65", "-1", "4294967296", "99999999999999999999999999999999999999999", "1.5",
        ".5", "0.0000000001", "9000h", "1e3", "10s", "500ms", "2m", "1h", "1 s", " ", "",
        "sh", "-é", "--é", "-tμ", "-eé",
    ])
    .prop_map(|s| s.as_bytes().to_vec());
    prop_oneof![
        3 => known,
        1 => prop::collection::vec(any::<u8>(), 0..12),
        1 => "[-a-zA-Z0-9=:+. ]{0,12}".prop_map(String::into_bytes),
    ]
}

fn env_var_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(rinit::cli::ENV_VARS.to_vec())
}

fn env_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec![
            "1", "0", "yes", "off", "maybe", "", " on ", "3", "99999999999999999999", "-1",
            "10s", "0.5", "junk", "debug", "rinit=trace,info",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..10),
    ]
}

fn os(bytes: Vec<u8>) -> OsString {
    OsString::from_vec(bytes)
}

fn run_parse(args: &[OsString], env: &HashMap<&'static str, OsString>) -> Result<Command, cli::UsageError> {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(OsString::as_os_str).collect();
    cli::parse(&args, &|k| env.get(k).cloned())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn cli_never_panics_and_results_are_sound(
        words in prop::collection::vec(word(), 0..8),
        vars in prop::collection::hash_map(env_var_name(), env_value(), 0..4),
    ) {
        let args: Vec<OsString> = words.into_iter().map(os).collect();
        let env: HashMap<&'static str, OsString> = vars.into_iter().map(|(k, v)| (k, os(v))).collect();
        match run_parse(&args, &env) {
            Ok(Command::Run(c)) => {
                // The program is a suffix of the arguments, never empty.
                prop_assert!(!c.program.is_empty());
                prop_assert!(args.ends_with(&c.program), "{:?} not a suffix of {:?}", c.program, args);
                prop_assert!(c.grace <= Duration::from_secs(YEAR));
                if let Some(sig) = c.pdeathsig {
                    prop_assert!((1..=signals::MAX_SIGNAL).contains(&sig));
                }
                if let Some(n) = c.pids_max {
                    prop_assert!((2..=cli::PIDS_MAX_LIMIT).contains(&n));
                }
                for &(from, to) in c.rewrite.rules() {
                    prop_assert!((1..=signals::MAX_SIGNAL).contains(&from));
                    prop_assert!(![libc::SIGKILL, libc::SIGSTOP, CHLD].contains(&from));
                    prop_assert!((0..=signals::MAX_SIGNAL).contains(&to));
                }
            }
            Ok(_) => {}
            // One line, unless the user's own text held a line break
            // (quoted back as typed).
            Err(e) => {
                let typed_newline = args.iter().chain(env.values()).any(|a| a.as_bytes().contains(&b'\n'));
                prop_assert!(!e.0.is_empty() && (typed_newline || !e.0.contains('\n')), "{:?}", e.0);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_as_argv_never_panic(
        args in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 0..6),
        vars in prop::collection::hash_map(env_var_name(), prop::collection::vec(any::<u8>(), 0..20), 0..9),
    ) {
        let args: Vec<OsString> = args.into_iter().map(os).collect();
        let env: HashMap<&'static str, OsString> = vars.into_iter().map(|(k, v)| (k, os(v))).collect();
        let _ = run_parse(&args, &env);
    }

    #[test]
    fn value_parsers_never_panic(text in "\\PC{0,24}", bytes in prop::collection::vec(any::<u8>(), 0..24)) {
        let lossy = String::from_utf8_lossy(&bytes).into_owned();
        for t in [text.as_str(), lossy.as_str()] {
            if let Ok(d) = cli::parse_duration(t) {
                prop_assert!(d <= Duration::from_secs(YEAR));
                prop_assert_eq!(cli::parse_duration(&cli::format_duration(d)), Ok(d));
            }
            if let Ok(sig) = signals::parse(t) {
                prop_assert!((1..=signals::MAX_SIGNAL).contains(&sig));
            }
            if let Ok(n) = cli::parse_pids_max(t) {
                prop_assert!((2..=cli::PIDS_MAX_LIMIT).contains(&n));
            }
            let _ = cli::parse_exit_code(t);
            let _ = cli::parse_bool(t);
            let _ = cli::parse_rewrite(t);
            let _ = procs::parse_stat(t.as_bytes());
        }
    }

    #[test]
    fn signal_shaped_text_never_panics(
        prefix in prop::sample::select(vec!["", "SIG", "sig", " "]),
        base in prop::sample::select(vec!["RTMIN", "RTMAX", "rtmin", "rtmax"]),
        sign in prop::sample::select(vec!["+", "-", "", "++"]),
        n in prop_oneof![0u64..70, any::<u64>(), Just(u64::from(u32::MAX)), Just(i32::MAX as u64), Just(i32::MAX as u64 - 33)],
    ) {
        let text = format!("{prefix}{base}{sign}{n}");
        if let Ok(sig) = signals::parse(&text) {
            prop_assert!((signals::RTMIN..=signals::MAX_SIGNAL).contains(&sig), "{text} -> {sig}");
        }
    }
}

// ---------------------------------------------------------------------------
// Round trips: print, parse back, get the same thing.

proptest! {
    #![proptest_config(config())]

    #[test]
    fn durations_round_trip(secs in 0..=YEAR, nanos in 0u32..1_000_000_000, whole in any::<bool>(), millis in any::<bool>()) {
        let nanos = if whole { 0 } else if millis { nanos / 1_000_000 * 1_000_000 } else { nanos };
        let secs = if secs == YEAR { YEAR } else { secs };
        let d = Duration::new(secs, if secs == YEAR { 0 } else { nanos });
        let text = cli::format_duration(d);
        prop_assert_eq!(cli::parse_duration(&text), Ok(d), "{}", text);
    }

    #[test]
    fn signal_names_round_trip(sig in 1..=signals::MAX_SIGNAL, lower in any::<bool>(), strip in any::<bool>(), pad in any::<bool>()) {
        let name = signals::name(sig);
        prop_assert_eq!(signals::parse(&name), Ok(sig), "{}", name);
        let mut spelled = if strip { name.strip_prefix("SIG").unwrap_or(&name).to_string() } else { name.clone() };
        if lower {
            spelled = spelled.to_lowercase();
        }
        if pad {
            spelled = format!(" {spelled}\t");
        }
        prop_assert_eq!(signals::parse(&spelled), Ok(sig), "{}", spelled);
        prop_assert_eq!(signals::parse(&sig.to_string()), Ok(sig));
    }

    #[test]
    fn exit_codes_stay_in_a_byte(code in any::<i32>(), sig in 1..=signals::MAX_SIGNAL, remap in prop::collection::vec(any::<u8>(), 0..4)) {
        for ended in [Ended::Exited(code), Ended::Signaled(sig)] {
            let c = status::exit_code(ended, &remap);
            prop_assert!((0..=255).contains(&c));
            let plain = status::exit_code(ended, &[]);
            prop_assert_eq!(c, if remap.iter().any(|r| i32::from(*r) == plain) { 0 } else { plain });
        }
    }

    #[test]
    fn stat_lines_round_trip(
        pid in 1..i32::MAX, ppid in 0..i32::MAX, pgid in 0..i32::MAX,
        // Any bytes but NUL: `comm` need not be UTF-8 and may hold parentheses.
        name in prop::collection::vec(1u8..=255, 0..16),
        state in prop::sample::select(vec![b'R', b'S', b'D', b'Z', b'T', b't', b'X', b'I']),
        start in any::<u64>(),
        threads in 1u32..5000,
        kthread in any::<bool>(),
    ) {
        let flags = if kthread { 0x0020_8040u64 } else { 0x0040_0100 };
        let mut line = format!("{pid} (").into_bytes();
        line.extend_from_slice(&name);
        line.extend_from_slice(format!(") {} {ppid} {pgid} {pgid} 0 -1 {flags} 100 0 0 0 1 2 0 0 20 0 {threads} 0 {start} 1000 200\n", state as char).as_bytes());
        let want = Proc { pid, ppid, pgid, name: procs::Name::new(&name), state, start, threads, known: true };
        prop_assert_eq!(procs::parse_stat(&line), Some((want, kthread)));
    }
}

/// One option occurrence of a valid command line, and its effect.
#[derive(Clone, Debug)]
enum Opt {
    Subreaper,
    Group,
    Pdeathsig(i32, u8),
    Remap(u8),
    Rewrite(i32, i32, u8),
    Grace(Duration, bool),
    PidsMax(u64),
    Verbose,
    Quiet,
    Warn,
}

/// A spelling of a signal that `signals::parse` accepts.
fn spell_signal(sig: i32, style: u8) -> String {
    match style % 4 {
        0 => sig.to_string(),
        1 => signals::name(sig),
        2 => signals::name(sig).to_lowercase(),
        _ => {
            let n = signals::name(sig);
            n.strip_prefix("SIG").map_or(n.clone(), str::to_string)
        }
    }
}

impl Opt {
    /// (short letter, long name, value).
    fn parts(&self) -> (char, &'static str, Option<String>) {
        match self {
            Opt::Subreaper => ('s', "subreaper", None),
            Opt::Group => ('g', "process-group", None),
            Opt::Pdeathsig(s, st) => ('p', "pdeathsig", Some(spell_signal(*s, *st))),
            Opt::Remap(c) => ('e', "remap-exit", Some(c.to_string())),
            Opt::Rewrite(f, t, st) => {
                let to = if *t == 0 { "0".to_string() } else { spell_signal(*t, st / 4) };
                ('r', "rewrite", Some(format!("{}:{to}", spell_signal(*f, *st))))
            }
            Opt::Grace(d, as_secs) => {
                let text = if *as_secs && d.subsec_nanos() == 0 { d.as_secs().to_string() } else { cli::format_duration(*d) };
                ('t', "grace", Some(text))
            }
            Opt::PidsMax(n) => ('\0', "pids-max", Some(n.to_string())),
            Opt::Verbose => ('v', "verbose", None),
            Opt::Quiet => ('q', "quiet", None),
            Opt::Warn => ('w', "warn-on-reap", None),
        }
    }
}

fn rewritable() -> impl Strategy<Value = i32> {
    (1..=signals::MAX_SIGNAL).prop_filter("never received as a signal to forward", |s| {
        ![libc::SIGKILL, libc::SIGSTOP, CHLD].contains(s)
    })
}

fn opt() -> impl Strategy<Value = Opt> {
    prop_oneof![
        Just(Opt::Subreaper),
        Just(Opt::Group),
        (1..=signals::MAX_SIGNAL, any::<u8>()).prop_map(|(s, st)| Opt::Pdeathsig(s, st)),
        any::<u8>().prop_map(Opt::Remap),
        (rewritable(), prop_oneof![Just(0), 1..=signals::MAX_SIGNAL], any::<u8>())
            .prop_map(|(f, t, st)| Opt::Rewrite(f, t, st)),
        (0..=YEAR, 0u32..1_000_000_000, any::<bool>())
            .prop_map(|(s, n, b)| Opt::Grace(if s == YEAR { Duration::from_secs(YEAR) } else { Duration::new(s, n) }, b)),
        (2..=cli::PIDS_MAX_LIMIT).prop_map(Opt::PidsMax),
        Just(Opt::Verbose),
        Just(Opt::Quiet),
        Just(Opt::Warn),
    ]
}

/// Renders options in mixed styles: `--long=v`, `--long v`, `-xv`, `-x v`,
/// and flags merged into the previous short cluster.
fn render(opts: &[(Opt, u8)], dashdash: bool, program: &[OsString]) -> Vec<OsString> {
    let mut out: Vec<String> = Vec::new();
    // Whether the last word is a short cluster that can take another flag.
    let mut open_cluster = false;
    for (o, style) in opts {
        let (short, long, value) = o.parts();
        let style = if short == '\0' { style % 2 } else { style % 5 };
        match (style, value) {
            (0, Some(v)) => {
                out.push(format!("--{long}={v}"));
                open_cluster = false;
            }
            (1, Some(v)) => {
                out.push(format!("--{long}"));
                out.push(v);
                open_cluster = false;
            }
            (0 | 1, None) => {
                out.push(format!("--{long}"));
                open_cluster = false;
            }
            (2, Some(v)) => {
                out.push(format!("-{short}{v}"));
                open_cluster = false;
            }
            (3, Some(v)) => {
                out.push(format!("-{short}"));
                out.push(v);
                open_cluster = false;
            }
            (_, Some(v)) => {
                // Joined to a cluster of flags: `-sgt5`.
                match out.last_mut().filter(|_| open_cluster) {
                    Some(last) => last.push_str(&format!("{short}{v}")),
                    None => out.push(format!("-{short}{v}")),
                }
                open_cluster = false;
            }
            (_, None) => {
                match out.last_mut().filter(|_| open_cluster && style == 4) {
                    Some(last) => last.push(short),
                    None => out.push(format!("-{short}")),
                }
                open_cluster = true;
            }
        }
    }
    let mut args: Vec<OsString> = out.into_iter().map(OsString::from).collect();
    let first = program[0].as_bytes();
    let needs_dashdash = first.starts_with(b"-") && first != b"-";
    if dashdash || needs_dashdash {
        args.push("--".into());
    }
    args.extend(program.iter().cloned());
    args
}

/// What the options mean, computed independently of the parser.
fn expected(opts: &[(Opt, u8)], program: &[OsString]) -> Config {
    let mut c = Config {
        program: program.to_vec(),
        subreaper: None,
        process_group: false,
        pdeathsig: None,
        remap_exit: Vec::new(),
        rewrite: RewriteMap::default(),
        stop_signals: Vec::new(),
        grace: cli::DEFAULT_GRACE,
        term_delay: Duration::ZERO,
        pids_max: None,
        verbosity: cli::DEFAULT_VERBOSITY,
        log_filter: None,
        warn_on_reap: false,
        oom_exit: false,
        report: false,
        report_file: None,
        listen: None,
    };
    let (mut verbose, mut quiet) = (0, false);
    for (o, _) in opts {
        match o {
            Opt::Subreaper => c.subreaper = Some(true),
            Opt::Group => c.process_group = true,
            Opt::Pdeathsig(s, _) => c.pdeathsig = Some(*s),
            Opt::Remap(code) => c.remap_exit.push(*code),
            Opt::Rewrite(f, t, _) => c.rewrite.insert(*f, *t),
            Opt::Grace(d, _) => c.grace = *d,
            Opt::PidsMax(n) => c.pids_max = Some(*n),
            Opt::Verbose => verbose += 1,
            Opt::Quiet => quiet = true,
            Opt::Warn => c.warn_on_reap = true,
        }
    }
    c.verbosity = if quiet { 0 } else { cli::DEFAULT_VERBOSITY + verbose };
    c
}

fn program() -> impl Strategy<Value = Vec<OsString>> {
    let first = prop_oneof![
        "[a-z/][a-z0-9/._-]{0,10}".prop_map(OsString::from),
        Just(OsString::from("-")),
        Just(OsString::from("--")),
        Just(OsString::from("-h")),
        Just(OsString::from("-x")),
        prop::collection::vec(1u8..=255, 1..8).prop_map(os),
    ];
    let rest = prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8).prop_map(os), 0..4);
    (first, rest).prop_map(|(f, mut r)| {
        r.insert(0, f);
        r
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn command_lines_round_trip(
        opts in prop::collection::vec((opt(), any::<u8>()), 0..10),
        dashdash in any::<bool>(),
        program in program(),
    ) {
        let args = render(&opts, dashdash, &program);
        let got = run_parse(&args, &HashMap::new());
        prop_assert_eq!(got, Ok(Command::Run(expected(&opts, &program))), "argv {:?}", args);
    }

    #[test]
    fn options_win_over_the_environment(
        grace in 0..=YEAR, env_grace in 0..=YEAR,
        pids in 2..=cli::PIDS_MAX_LIMIT, env_pids in 2..=cli::PIDS_MAX_LIMIT,
        env_bool in prop::sample::select(vec!["0", "1", "off", "on", "no", "yes", "false", "true"]),
    ) {
        let args: Vec<OsString> = ["-t", &grace.to_string(), "--pids-max", &pids.to_string(), "x"]
            .into_iter().map(OsString::from).collect();
        let mut env = HashMap::new();
        env.insert("RINIT_GRACE", OsString::from(env_grace.to_string()));
        env.insert("RINIT_PIDS_MAX", OsString::from(env_pids.to_string()));
        env.insert("RINIT_SUBREAPER", OsString::from(env_bool));
        let Ok(Command::Run(c)) = run_parse(&args, &env) else { panic!("valid input rejected") };
        prop_assert_eq!(c.grace, Duration::from_secs(grace));
        prop_assert_eq!(c.pids_max, Some(pids));
        prop_assert_eq!(c.subreaper, Some(cli::parse_bool(env_bool).unwrap()));
    }
}

// ---------------------------------------------------------------------------
// The shutdown machine, driven the way `supervise::Supervisor::run` drives it,
// against a simulated container.

/// Something that happens in the container while rinit sleeps.
#[derive(Clone, Debug)]
enum Happening {
    /// Someone sends rinit this signal (`docker stop`, `docker kill -s`).
    Signal(i32),
    /// The program exits by itself with this code.
    ProgramExits(u8),
    /// Some other process (by index, modulo the live ones) exits by itself.
    OtherExits(usize),
    /// A live process forks a child (which obeys SIGTERM or not).
    Fork(bool),
    /// A process that came in from outside (`docker exec`; by index, modulo
    /// the live ones) exits by itself: rinit gets no SIGCHLD for it.
    OutsiderExits(usize),
}

#[derive(Clone, Debug)]
struct Step {
    /// How long after the previous wake-up it happens, in ms.
    after_ms: u64,
    what: Happening,
    /// How late rinit's wake-up at a deadline is, in ms (a busy machine).
    lateness_ms: u64,
}

fn happening() -> impl Strategy<Value = Happening> {
    prop_oneof![
        3 => prop_oneof![
            Just(TERM), Just(CHLD), Just(libc::SIGINT), Just(libc::SIGHUP), Just(libc::SIGUSR1),
            Just(libc::SIGQUIT), Just(libc::SIGWINCH), Just(libc::SIGCONT), 1..=signals::MAX_SIGNAL,
        ].prop_map(Happening::Signal),
        1 => any::<u8>().prop_map(Happening::ProgramExits),
        2 => any::<usize>().prop_map(Happening::OtherExits),
        2 => any::<bool>().prop_map(Happening::Fork),
        1 => any::<usize>().prop_map(Happening::OutsiderExits),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (prop_oneof![0u64..5, 0u64..2_000, 0u64..30_000], happening(), prop_oneof![3 => Just(0u64), 1 => 0u64..50])
        .prop_map(|(after_ms, what, lateness_ms)| Step { after_ms, what, lateness_ms })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Life {
    Alive,
    /// Ended, not yet reaped; the status rinit will see.
    Zombie(i32),
    Reaped,
}

#[derive(Debug)]
struct Container {
    program: Life,
    /// Which signals the program dies of (the others it handles and lives on).
    program_fatal: Vec<i32>,
    /// Other processes: (life, obeys SIGTERM).
    others: Vec<(Life, bool)>,
    forks: usize,
    /// How many more SIGKILL rounds a fork racing the kill survives (a
    /// storm seen through a listing of /proc): rinit must kill again.
    kill_escapes: u32,
    /// Processes that came in from outside (alive, obeys SIGTERM): no
    /// children of rinit, reaped by their own parent outside.
    outsiders: Vec<(bool, bool)>,
}

impl Container {
    fn outsider_alive(&self) -> bool {
        self.outsiders.iter().any(|(alive, _)| *alive)
    }

    fn anyone_alive(&self) -> bool {
        self.program == Life::Alive || self.others.iter().any(|(l, _)| *l == Life::Alive)
    }

    fn has_zombies(&self) -> bool {
        matches!(self.program, Life::Zombie(_)) || self.others.iter().any(|(l, _)| matches!(l, Life::Zombie(_)))
    }

    fn deliver_to_program(&mut self, sig: i32) {
        if self.program == Life::Alive && (sig == libc::SIGKILL || self.program_fatal.contains(&sig)) {
            self.program = Life::Zombie(128 + sig);
        }
    }

    /// One round of reaping: (program's status if reaped now, nothing left).
    fn reap(&mut self) -> (Option<i32>, bool) {
        let mut program = None;
        if let Life::Zombie(code) = self.program {
            program = Some(code);
            self.program = Life::Reaped;
        }
        for (l, _) in &mut self.others {
            if matches!(l, Life::Zombie(_)) {
                *l = Life::Reaped;
            }
        }
        (program, !self.anyone_alive())
    }
}

/// Checks every action list against rinit(1) SHUTDOWN and carries it out in the
/// simulated container.
struct Checker {
    grace: Duration,
    rewrite: RewriteMap,
    /// `--stop-signal`s: with SIGTERM, the signals that start the shutdown.
    stop_signals: Vec<i32>,
    /// `--term-delay`: the stop signal reaches the program this long after T.
    delay: Duration,
    /// The stop signal received at T, while the delay holds it.
    held: Option<i32>,
    /// T as the test sees it: the first stop signal or the program's reaping.
    t: Option<Duration>,
    /// The program's status, once reaped (what rinit must exit with).
    program_status: Option<i32>,
    term_others_sent: usize,
    exited: Option<(Duration, i32)>,
    log: Vec<String>,
}

impl Checker {
    fn handle(&mut self, m: &mut Machine, c: &mut Container, event: Event, now: Duration) -> Result<(), TestCaseError> {
        let program_known_before = self.program_status.is_some();
        let t_before = self.t;
        let is_stop = |sig: i32| sig == TERM || self.stop_signals.contains(&sig);
        if let Event::Signal(sig) = event
            && is_stop(sig)
        {
            self.t.get_or_insert(now);
        }
        if let Event::Reaped { program: Some(code), .. } = event {
            self.program_status = Some(code);
            self.t.get_or_insert(now);
        }
        // What reaches the program, and whether a SIGCONT follows: the stop
        // signal that starts the shutdown is followed by one for a stopped
        // program, unless it was rewritten into a stop signal itself.
        let stop = [libc::SIGSTOP, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];
        let running = !program_known_before && !matches!(event, Event::Reaped { all_gone: true, .. } | Event::Reaped { program: Some(_), .. });
        let mut expect: Vec<i32> = Vec::new();
        let mut cont = false;
        let mut pass = |sig: i32, starts: bool, expect: &mut Vec<i32>| {
            if let Some(to) = self.rewrite.apply(sig).filter(|_| !program_known_before) {
                expect.push(to);
                cont |= starts && !stop.contains(&to);
            }
        };
        match event {
            Event::Signal(sig) if sig != CHLD => {
                let starts = is_stop(sig) && t_before.is_none();
                if starts && !self.delay.is_zero() {
                    self.held = Some(sig);
                } else {
                    // A second stop signal ends the delay: the held one first.
                    if is_stop(sig)
                        && let Some(held) = self.held.take()
                    {
                        pass(held, true, &mut expect);
                    }
                    // Not with no grace: SIGKILL comes at once instead.
                    if !(is_stop(sig) && self.grace.is_zero()) {
                        pass(sig, starts, &mut expect);
                    }
                }
            }
            // Not drawn by the simulation (OomKill, TermDeferred), or nothing to forward.
            _ => {}
        }
        // After any event (a signal's own forward first): the held stop
        // signal goes at T+D, and is dropped when the program has gone.
        if !running {
            self.held = None;
        } else if let (Some(held), Some(t)) = (self.held, self.t)
            && now >= t + self.delay
        {
            // rinit wakes for it (the deadline includes T+D): late by at
            // most a step's lateness, below 50 ms.
            prop_assert!(now <= t + self.delay + Duration::from_millis(50), "the held stop signal forwarded late, at {:?}\n{}", now, self.log.join("\n"));
            self.held = None;
            pass(held, true, &mut expect);
        }
        let actions = m.handle(event, now);
        self.log.push(format!("{now:?} {event:?} -> {actions:?}"));
        let ctx = || self.log.join("\n");
        prop_assert!(self.exited.is_none(), "acted after exiting\n{}", ctx());
        prop_assert_eq!(m.started(), self.t, "T\n{}", ctx());
        let all_gone = matches!(event, Event::Reaped { all_gone: true, others_left: false, .. });
        if all_gone && let Some(status) = self.program_status {
            // Nothing left to wait for: exit at once, not at the deadline.
            prop_assert_eq!(actions.last(), Some(&Action::Exit(status)), "{}", ctx());
        }
        // Forwarded exactly when the program still runs (and the signal is
        // not dropped or SIGCHLD, and not a stop signal with no grace), and
        // a held stop signal exactly at T+D.
        prop_assert_eq!(actions.contains(&Action::Continue), cont, "SIGCONT after the stop signal\n{}", ctx());
        let forwarded: Vec<i32> = actions.iter().filter_map(|a| match a { Action::Forward(s) => Some(*s), _ => None }).collect();
        prop_assert_eq!(forwarded, expect, "forwarding\n{}", ctx());
        if matches!(event, Event::Reaped { program: Some(_), all_gone: false, .. }) && self.term_others_sent == 0 && !self.grace.is_zero() {
            prop_assert!(actions.iter().any(|a| matches!(a, Action::TermOthers { .. })), "others not told as soon as the program ended\n{}", ctx());
        }
        for action in actions {
            match action {
                Action::Forward(sig) => {
                    prop_assert!(!program_known_before, "forwarded after the program ended\n{}", ctx());
                    c.deliver_to_program(sig);
                }
                Action::TermOthers { .. } => {
                    self.term_others_sent += 1;
                    prop_assert_eq!(self.term_others_sent, 1, "TermOthers twice\n{}", ctx());
                    let t = self.t.unwrap();
                    // Halfway from T+D to T+G at the latest (T+G/2 without a
                    // delay); the loop may wake up late by at most the
                    // lateness of a step, below 50 ms.
                    let due = t + self.delay + (self.grace - self.delay) / 2;
                    prop_assert!(now <= due + Duration::from_millis(50), "TermOthers late\n{}", ctx());
                    // Never before the program has its stop signal.
                    prop_assert!(self.held.is_none() || !running, "the others before the program\n{}", ctx());
                    for (l, obeys) in &mut c.others {
                        if *l == Life::Alive && *obeys {
                            *l = Life::Zombie(128 + TERM);
                        }
                    }
                    for (alive, obeys) in &mut c.outsiders {
                        if *obeys {
                            *alive = false;
                        }
                    }
                }
                Action::KillAll => {
                    let t = self.t.unwrap();
                    prop_assert!(now >= t + self.grace, "SIGKILL before T+G\n{}", ctx());
                    let storm = c.anyone_alive();
                    for (alive, _) in &mut c.outsiders {
                        *alive = false;
                    }
                    if c.program == Life::Alive {
                        c.program = Life::Zombie(128 + libc::SIGKILL);
                    }
                    for (l, _) in &mut c.others {
                        if *l == Life::Alive {
                            *l = Life::Zombie(128 + libc::SIGKILL);
                        }
                    }
                    if storm && c.kill_escapes > 0 {
                        // A child forked while the kill went round.
                        c.kill_escapes -= 1;
                        c.others.push((Life::Alive, false));
                    }
                }
                Action::Continue => {}
                Action::GiveUp(_) => {
                    // Every simulated process dies of SIGKILL within the few
                    // escapes a storm gets: giving up would be premature.
                    prop_assert!(false, "gave up although SIGKILL works\n{}", ctx());
                }
                Action::Exit(code) => {
                    prop_assert!(all_gone, "exited while a process it can wait for remains\n{}", ctx());
                    prop_assert_eq!(Some(code), self.program_status, "exit status\n{}", ctx());
                    prop_assert!(!c.anyone_alive(), "exited with processes alive\n{}", ctx());
                    prop_assert!(!c.outsider_alive(), "exited while a process from outside still cleans up\n{}", ctx());
                    self.exited = Some((now, code));
                }
            }
        }
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
fn simulate(
    grace: Duration,
    delay: Duration,
    stop_signals: Vec<i32>,
    rewrite: RewriteMap,
    group: bool,
    program_fatal: Vec<i32>,
    others: Vec<bool>,
    outsiders: Vec<bool>,
    steps: Vec<Step>,
    kill_escapes: u32,
) -> Result<(), TestCaseError> {
    let mut m = Machine::new(grace, rewrite.clone(), group).with_stop_signals(&stop_signals).with_term_delay(delay);
    let mut c = Container {
        program: Life::Alive,
        program_fatal,
        others: others.into_iter().map(|obeys| (Life::Alive, obeys)).collect(),
        forks: 0,
        kill_escapes,
        outsiders: outsiders.into_iter().map(|obeys| (true, obeys)).collect(),
    };
    // Each escape costs one more SIGKILL round, each wake-up up to 50 ms late.
    let late = Duration::from_millis(50);
    // A process from outside sends no SIGCHLD when it goes: rinit sees it
    // at its next look, one poll interval (and one late wake-up) later.
    let poll = if c.outsiders.is_empty() { Duration::ZERO } else { OTHERS_POLL + late };
    let slack = (REKILL_INTERVAL + late) * kill_escapes + late + poll;
    let mut k = Checker { grace, rewrite, stop_signals: stop_signals.clone(), delay, held: None, t: None, program_status: None, term_others_sent: 0, exited: None, log: Vec::new() };
    let mut now = Duration::ZERO;
    let mut steps = steps.into_iter().peekable();
    let mut final_term_sent = false;
    let mut turns = 0u32;
    loop {
        turns += 1;
        prop_assert!(turns < 110_000, "the loop never ends\n{}", k.log.join("\n"));
        // Top of the loop: reap, tell the machine.
        let (program, all_gone) = c.reap();
        // rinit as PID 1 looks for processes from outside only when it has
        // no child left.
        let others_left = all_gone && c.outsider_alive();
        k.handle(&mut m, &mut c, Event::Reaped { program, all_gone, others_left }, now)?;
        if k.exited.is_some() {
            break;
        }
        let deadline = m.deadline();
        match (k.t, deadline) {
            (None, d) => prop_assert_eq!(d, None, "a timer while idle"),
            (Some(_), None) => prop_assert!(false, "shutdown pending but no deadline: rinit would sleep forever\n{}", k.log.join("\n")),
            _ => {}
        }
        // A process that ended since the last reaping left a SIGCHLD
        // pending: sigtimedwait returns it at once.
        if c.has_zombies() {
            k.handle(&mut m, &mut c, Event::Signal(CHLD), now)?;
            continue;
        }
        // Sleep until the next happening or the deadline.
        let next = steps.peek().cloned();
        let next = match next {
            Some(s) => Some(s),
            // The script ran out: `docker stop`, so that shutdown happens.
            None if !final_term_sent && k.t.is_none() => {
                final_term_sent = true;
                Some(Step { after_ms: 1, what: Happening::Signal(TERM), lateness_ms: 0 })
            }
            None => None,
        };
        let wake_for_step = next.as_ref().map(|s| now + Duration::from_millis(s.after_ms));
        let wake_for_deadline = deadline.map(|d| d.max(now) + Duration::from_millis(next.as_ref().map_or(0, |s| s.lateness_ms)));
        let step_first = match (wake_for_step, wake_for_deadline) {
            (Some(ws), Some(wd)) => ws < wd,
            (Some(_), None) => true,
            (None, _) => false,
        };
        match (wake_for_step, wake_for_deadline) {
            (Some(ws), _) if step_first => {
                if steps.peek().is_some() {
                    steps.next();
                }
                now = ws;
                match next.unwrap().what {
                    Happening::Signal(sig) => k.handle(&mut m, &mut c, Event::Signal(sig), now)?,
                    Happening::ProgramExits(code) => {
                        if c.program == Life::Alive {
                            c.program = Life::Zombie(i32::from(code));
                        }
                        k.handle(&mut m, &mut c, Event::Signal(CHLD), now)?;
                    }
                    Happening::OtherExits(i) => {
                        let alive: Vec<usize> = (0..c.others.len()).filter(|&j| c.others[j].0 == Life::Alive).collect();
                        if !alive.is_empty() {
                            c.others[alive[i % alive.len()]].0 = Life::Zombie(0);
                        }
                        k.handle(&mut m, &mut c, Event::Signal(CHLD), now)?;
                    }
                    Happening::OutsiderExits(i) => {
                        let alive: Vec<usize> = (0..c.outsiders.len()).filter(|&j| c.outsiders[j].0).collect();
                        if !alive.is_empty() {
                            c.outsiders[alive[i % alive.len()]].0 = false;
                        }
                    }
                    Happening::Fork(obeys) => {
                        // A fork storm goes on during shutdown; only the
                        // living fork.
                        if c.anyone_alive() && c.forks < 500 {
                            c.forks += 1;
                            c.others.push((Life::Alive, obeys));
                        }
                    }
                }
            }
            (_, Some(wd)) => now = wd,
            _ => prop_assert!(false, "rinit asleep for ever with nothing to come\n{}", k.log.join("\n")),
        }
        if let (Some(t), None) = (k.t, k.exited) {
            // Always out by the deadline, plus one round of reaping (and
            // whatever lateness the busy machine adds).
            prop_assert!(now <= t + grace + slack + REKILL_INTERVAL,
                "still running at {:?}, T {:?} G {:?}\n{}", now, t, grace, k.log.join("\n"));
        }
    }
    let (at, _) = k.exited.unwrap();
    let t = k.t.unwrap();
    prop_assert!(at <= t + grace + slack, "exited at {:?}, T {:?}, G {:?}", at, t, grace);
    // Nothing more happens after exit.
    prop_assert_eq!(m.handle(Event::Tick, at + grace + Duration::from_secs(1)), vec![]);
    prop_assert_eq!(m.deadline(), None);
    Ok(())
}

fn grace() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        (1u64..100).prop_map(Duration::from_millis),
        (0u64..20_000).prop_map(Duration::from_millis),
        Just(cli::DEFAULT_GRACE),
        (0..=YEAR).prop_map(Duration::from_secs),
    ]
}

fn rewrite_map() -> impl Strategy<Value = RewriteMap> {
    prop::collection::vec((rewritable(), prop_oneof![Just(0), 1..=signals::MAX_SIGNAL]), 0..3).prop_map(|rules| {
        let mut m = RewriteMap::default();
        for (f, t) in rules {
            m.insert(f, t);
        }
        m
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn shutdown_machine_keeps_its_promises(
        grace in grace(),
        rewrite in rewrite_map(),
        group in any::<bool>(),
        program_fatal in prop::collection::vec(prop_oneof![Just(TERM), Just(libc::SIGINT), Just(libc::SIGQUIT), 1..=signals::MAX_SIGNAL], 0..4),
        others in prop::collection::vec(any::<bool>(), 0..6),
        outsiders in prop_oneof![2 => Just(vec![]), 1 => prop::collection::vec(any::<bool>(), 1..3)],
        steps in prop::collection::vec(step(), 0..40),
        kill_escapes in prop_oneof![3 => Just(0u32), 1 => 1u32..4],
        stop_signals in prop::collection::vec(prop_oneof![Just(libc::SIGQUIT), Just(libc::SIGINT), Just(libc::SIGUSR1)], 0..3),
        delay_percent in prop_oneof![1 => Just(0u32), 1 => 0u32..100],
    ) {
        // While only processes from outside are left, rinit looks every
        // OTHERS_POLL: simulating that over a grace of a year would take
        // billions of turns, so such runs keep the grace below a minute.
        let grace = if outsiders.is_empty() { grace } else { grace.min(Duration::from_secs(60)) };
        // --term-delay: below the grace, as cli.rs insists.
        let delay = grace * delay_percent / 100;
        simulate(grace, delay, stop_signals, rewrite, group, program_fatal, others, outsiders, steps, kill_escapes)?;
    }
}

// ---------------------------------------------------------------------------
// Whom shutdown signals: never rinit itself.

fn listing() -> impl Strategy<Value = (Vec<Proc>, i32)> {
    // Small pid space so that parents, groups and duplicates collide.
    let pid = 0i32..24;
    let state = prop::sample::select(vec![b'S', b'R', b'Z', b'T', b'D']);
    (prop::collection::vec((pid.clone(), pid.clone(), pid.clone(), state), 0..30), pid)
        .prop_map(|(rows, own)| {
            let procs = rows
                .into_iter()
                .map(|(pid, ppid, pgid, state)| Proc { pid, ppid, pgid, name: procs::Name::new(format!("p{pid}").as_bytes()), state, start: 0, threads: 1, known: true })
                .collect();
            (procs, own)
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn targets_never_include_rinit(
        (all, own_pid) in listing(),
        whole in any::<bool>(),
        exclude in prop::collection::vec(0i32..24, 0..3),
        groups in prop::collection::vec(0i32..24, 0..2),
    ) {
        let scope = Scope { own_pid, whole_namespace: whole };
        let got = procs::targets(&all, scope, &exclude, &groups);
        let below = procs::descendants(&all, own_pid);
        prop_assert!(!below.contains(&own_pid), "rinit is its own descendant");
        for p in &got {
            prop_assert_ne!(p.pid, own_pid, "rinit would signal itself");
            prop_assert!(all.contains(p), "a target not in the listing");
            prop_assert_ne!(p.state, b'Z');
            prop_assert!(!exclude.contains(&p.pid) && !groups.contains(&p.pgid));
            if !whole {
                prop_assert!(below.contains(&p.pid), "outside rinit's tree");
            }
        }
        // Every live, in-scope, not excluded process is a target.
        for p in &all {
            let in_scope = whole || below.contains(&p.pid);
            if p.pid != own_pid && in_scope && p.state != b'Z' && !exclude.contains(&p.pid) && !groups.contains(&p.pgid) {
                prop_assert!(got.contains(p), "{:?} left out", p);
            }
        }
    }
}

#[test]
fn own_process_is_never_a_target_on_this_machine() {
    // The real /proc of the test process, as a subreaper and as PID 1 would see it.
    let me = i32::try_from(std::process::id()).unwrap();
    let mut dir = procs::ProcDir::open(std::path::Path::new("/proc")).unwrap();
    let mut listing = procs::Listing::default();
    dir.list(&mut listing).unwrap();
    let all = listing.procs;
    assert!(all.iter().any(|p| p.pid == me), "the test process is listed");
    for whole in [true, false] {
        let got = procs::targets(&all, Scope { own_pid: me, whole_namespace: whole }, &[], &[]);
        assert!(got.iter().all(|p| p.pid != me));
    }
}
