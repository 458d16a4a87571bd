//! How the shutdown's signals reach the processes other than the program
//! (rinit(1) SHUTDOWN): decided once, the first time the shutdown needs it,
//! and then one method per action. Each method reports what it reached;
//! the summary is built from those reports and from nothing else.
//!
//! | rinit | `/proc` of its namespace | the others are reached by |
//! |---|---|---|
//! | PID 1 | yes | a listing, or kill(-1) once the program is gone |
//! | PID 1 | no | kill(-1) alone (it cannot spare the program) |
//! | not PID 1 | yes | its descendants, listed, each through a pidfd |
//! | not PID 1 | no | nothing: only the program is reached |
//!
//! "Of its namespace": the `/proc` kept open at start-up, that path opened
//! again (a `/proc` mounted since), or a private instance mounted nowhere
//! (`ProcDir::private`: `unshare -pf` without `--mount-proc`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use log::{debug, info, warn};

use crate::procs::{self, Fixed, Listing, PidMap, PidSet, Proc, ProcDir, Scope};
use crate::signals;
use crate::summary::{Killed, Named, Termed};

/// How many listings the SIGTERM to everyone else may take: each one after
/// the first catches processes forked while the previous one was signalled.
const TERM_PASSES: usize = 3;

/// A pass after the first starts only this soon after the first began: a
/// fork storm keeps every pass finding new processes, and each pass reads
/// every `stat` file, which must not keep the loop from its signals and
/// deadlines (stragglers get SIGKILL at the grace).
const TERM_PASSES_WITHIN: Duration = Duration::from_millis(50);

/// How long the SIGKILL round as PID 1 may spend naming its targets before
/// kill(-1) goes out: the rest are counted as "others through kill(-1)".
const KILL_LISTING_WITHIN: Duration = Duration::from_millis(20);

/// How long one turn's share of a round of signals may take: as a reaping
/// step, so that a signal or deadline waits at most one step.
const ROUND_SLICE: Duration = crate::reap::REAP_SLICE;

enum Way {
    /// PID 1 with a `/proc` of its namespace; `kernel_threads`: it lists
    /// kernel threads too (rinit as a VM's PID 1), which kill(-1) also
    /// reaches and which are nobody to wait for.
    Listing { proc: Lister, kernel_threads: bool },
    /// PID 1 without one.
    KillAll,
    /// Not PID 1, with one.
    Descendants { proc: Lister },
    /// Not PID 1, without one.
    ProgramOnly,
}

pub struct Reach {
    scope: Scope,
    program: i32,
    /// The program's name for the summary when no listing can name it.
    program_name: String,
    /// Whether a SIGTERM through kill(-1) may reach the living program:
    /// only when the SIGTERM it got at the start of the shutdown was one
    /// (no `-r` rule for SIGTERM), so that it gets the same signal again.
    program_takes_term: bool,
    proc_root: PathBuf,
    /// `/proc` as opened at start-up, until the way is decided.
    kept: Option<ProcDir>,
    way: Option<Way>,
    /// The signal round under way, if one has more to do.
    round: Option<Round>,
    /// Not PID 1: the descendants the last whole listing found, for the
    /// next SIGKILL round to hit first and for the give-up's names.
    known: Vec<Proc>,
}

/// A `/proc` of rinit's namespace and its last listing, whose memory the
/// next one reuses.
struct Lister {
    dir: ProcDir,
    listing: Listing,
    /// Issue 23: the most processes a listing found, for the exit report
    /// where there is no pids.peak.
    most: usize,
}

impl Reach {
    pub fn new(
        scope: Scope,
        program: i32,
        program_name: String,
        program_takes_term: bool,
        proc_root: PathBuf,
        kept: Option<ProcDir>,
    ) -> Reach {
        Reach { scope, program, program_name, program_takes_term, proc_root, kept, way: None, round: None, known: Vec::new() }
    }

    /// Issue 23: the most processes one listing of /proc found (rinit
    /// included; 0 if none was made), for the exit report.
    pub fn most_listed(&self) -> usize {
        match &self.way {
            Some(Way::Listing { proc, .. } | Way::Descendants { proc }) => proc.most,
            _ => 0,
        }
    }

    /// Whether the next SIGTERM to the others goes to every process through
    /// kill(-1) with no listing: as PID 1 once the program has gone (and,
    /// under `-g`, its group has not had its signal already). The loop lets
    /// rinit's children reap themselves from then on.
    pub fn terms_everyone(&mut self, program_alive: bool, skip_program_group: bool) -> bool {
        !program_alive && !skip_program_group && matches!(self.way(), Way::Listing { kernel_threads: false, .. })
    }

    /// SIGTERM, then SIGCONT (a stopped process must run to handle it), to
    /// every process in scope but rinit and the program (and the program's
    /// group when it already has its signal; `continue_stopped_in_group`:
    /// that signal was no stop signal, and those of the group that are
    /// stopped get SIGCONT, to act on it). `None`: a round was started,
    /// which [`Reach::further`] carries on and reports.
    pub fn term_others(&mut self, program_alive: bool, skip_program_group: bool, continue_stopped_in_group: bool) -> Option<Termed> {
        self.round = None;
        if self.terms_everyone(program_alive, skip_program_group) {
            // Two kill(-1) calls reach every process, thousands of them,
            // without one look at `/proc`: every `/proc/PID` entry looked up
            // leaves a dentry that the kernel must drop when that process
            // is reaped, which made those reaps several times dearer
            // (BENCHMARKS.md, shutdown at scale).
            term_by_kill_all(true);
            return Some(Termed::Everyone);
        }
        let program_takes_term = self.program_takes_term;
        let program = self.program;
        match self.way() {
            Way::Listing { .. } | Way::Descendants { .. } => {}
            Way::KillAll => {
                if program_alive && !program_takes_term {
                    return Some(Termed::Deferred);
                }
                // SIGCONT through kill(-1) would reach a running program
                // too, which gets none unless stopped (rinit(1) SHUTDOWN):
                // then stopped others stay stopped until the SIGKILL.
                let cont = !program_alive || crate::reap::program_is_stopped(program);
                term_by_kill_all(cont);
                return Some(Termed::Everyone);
            }
            Way::ProgramOnly => return Some(Termed::Unreachable),
        }
        let groups = if skip_program_group { vec![program] } else { Vec::new() };
        let mut round = Round::new(libc::SIGTERM, program_alive.then_some(program), groups, Vec::new());
        round.continue_stopped_in_groups = skip_program_group && continue_stopped_in_group;
        self.round = Some(round);
        None
    }

    /// SIGKILL to everything in scope but rinit, the program included. Not
    /// PID 1, the descendants are known only from a whole listing: the
    /// program gets its SIGKILL at once, the others from a round, which
    /// [`Reach::further`] carries on and reports.
    pub fn kill_all(&mut self, program_alive: bool) -> Killed {
        let scope = self.scope;
        let mut killed = Killed::default();
        if matches!(self.round, Some(Round { sig: libc::SIGKILL, .. })) {
            // The last SIGKILL round is still under way: it goes on.
            return killed;
        }
        self.round = None;
        let (program, program_name) = (self.program, self.program_name.clone());
        // The program is rinit's child, not yet reaped while it lives: its
        // pid is its own, so a plain kill() is exact.
        let kill_program = |killed: &mut Killed, name: String| {
            if program_alive && signals::send(program, libc::SIGKILL).is_ok() {
                killed.listed.push((program, Some(name)));
            }
        };
        // As PID 1 kill(-1) reaches the program too: alive (not a zombie
        // waiting to be reaped), it is named however little the listing had
        // time for (cut short, it may have found only rinit). Whether it is
        // a zombie is asked before the kill(-1): after it, the kill's own
        // victim looks like one (a review saw the program go unnamed).
        let program_ended = || crate::reap::peek_child(libc::P_PID, program.unsigned_abs(), libc::WEXITED).is_ok_and(|pid| pid == program);
        let known = self.known.clone();
        match self.way() {
            Way::Listing { proc, kernel_threads } => {
                let kernel_threads = *kernel_threads;
                // Names for the summary, read within KILL_LISTING_WITHIN:
                // kill(-1) below reaches everyone anyway, and a listing of
                // thousands of processes must not hold up the SIGKILL that
                // is due now.
                let listed = proc.list_until(scope, Instant::now() + KILL_LISTING_WITHIN);
                let cut = proc.listing.cut;
                if let Some(targets) = &listed {
                    killed.listed = named(targets, program, &program_name);
                }
                // kill(-1) from PID 1 reaches every process of the namespace
                // at once, including any forked since the listing. It fails
                // with ESRCH when it finds nobody; success after a listing
                // that found nobody, with no zombie of rinit's to account
                // for it (kill(-1) "reaches" those too: asked just before),
                // means processes escaped the listing (a fork storm's
                // children, forked behind getdents' cursor once pids wrap).
                // Kernel threads take kill(-1) too: there the listing alone
                // counts.
                let listed_nobody = listed.as_ref().is_some_and(Vec::is_empty);
                let zombie = listed_nobody && has_zombie_child();
                let partial = listed.is_none() || cut;
                let unnamed_program = partial && program_alive && !killed.listed.iter().any(|(pid, _)| *pid == program) && !program_ended();
                let reached = signals::send(-1, libc::SIGKILL).is_ok();
                let unlisted = reached && (partial || listed_nobody && !kernel_threads);
                (killed.unlisted, killed.unsure) = (unlisted && !zombie, unlisted && zombie);
                if reached && unnamed_program {
                    killed.listed.push((program, Some(program_name.clone())));
                }
            }
            Way::KillAll => {
                // Nothing is listed. With the program alive, "the rest"
                // is at least the program; otherwise kill(-1) may have
                // reached only a zombie of rinit's (a storm's processes exit
                // all the time), and the deaths reaped after it tell.
                let zombie = has_zombie_child();
                let reached = signals::send(-1, libc::SIGKILL).is_ok();
                let sure = program_alive || !zombie;
                (killed.unlisted, killed.unsure) = (reached && sure, reached && !sure);
            }
            Way::Descendants { proc } => {
                // The program first, then the descendants the last listing
                // found; a new listing then finds any others. The program is
                // named as that listing found it (its name since its exec),
                // as PID 1 names it, where there is one (review 12: argv[0]
                // here, the real name as PID 1). Its pid is still its own:
                // rinit has not reaped it.
                let listed = proc.listing.procs.iter().find(|p| p.pid == program);
                let listed = listed.and_then(|p| name_of(p, program, &program_name));
                kill_program(&mut killed, listed.unwrap_or(program_name));
                self.round = Some(Round::new(libc::SIGKILL, program_alive.then_some(program), Vec::new(), known));
            }
            Way::ProgramOnly => {
                killed.unreachable = true;
                kill_program(&mut killed, program_name);
            }
        }
        killed
    }

    /// Whether a round is under way: the next wait must not sleep.
    pub fn busy(&self) -> bool {
        self.round.is_some()
    }

    /// Carries the round under way one slice further (at most
    /// [`ROUND_SLICE`]); what that slice reached, if there is a round.
    pub fn further(&mut self) -> Option<Reached> {
        let mut round = self.round.take()?;
        let until = Instant::now() + ROUND_SLICE;
        // A round exists only once the way is decided, and only for these.
        let Some(Way::Listing { proc, .. } | Way::Descendants { proc }) = self.way.as_mut() else { return None };
        let (reached, done) = round.slice(proc, self.scope, until, &mut self.known);
        if !done {
            self.round = Some(round);
        }
        Some(reached)
    }

    /// As PID 1 with no child left: does anything else still live in the
    /// namespace (processes from `docker exec`, `nsenter`)? Asked every
    /// `shutdown::OTHERS_POLL` while they clean up, so it is cheap.
    pub fn others_left(&mut self) -> bool {
        // kill(-1, 0) from PID 1 reaches every process of the namespace but
        // rinit; ESRCH means there is none, with no descriptor needed.
        if let Err(e) = signals::send(-1, 0)
            && e.raw_os_error() == Some(libc::ESRCH)
        {
            return false;
        }
        // Something is there. A kernel thread is nobody to wait for: where
        // they are listed, the listing decides. (A zombie of theirs counts
        // until its parent outside reaps it, promptly.)
        let scope = self.scope;
        match self.way() {
            Way::Listing { proc, kernel_threads: true } => proc.list(scope, &[], &[]).is_none_or(|left| !left.is_empty()),
            _ => true,
        }
    }

    /// What is still running, named (None: rinit cannot list it), and
    /// whether there may be more than that: the look is bounded like the
    /// SIGKILL round's naming, since it holds up rinit's exit. Not PID 1,
    /// the descendants the last whole listing found, still there, and those
    /// a new listing finds in the time left: a fork storm's processes are
    /// all new since that listing (a review found rinit giving up silent,
    /// with 200 of them running).
    pub fn left(&mut self) -> Option<(Vec<Named>, bool)> {
        let scope = self.scope;
        let until = Instant::now() + KILL_LISTING_WITHIN;
        let (known, program) = (&self.known, self.program);
        let named = |left: &[Proc]| named(left, program, &self.program_name);
        match self.way.as_mut() {
            Some(Way::Listing { proc, .. }) => {
                let left = proc.list_until(scope, until)?;
                Some((named(&left), proc.listing.cut))
            }
            Some(Way::Descendants { proc }) => {
                let mut left = Vec::new();
                for p in known {
                    if Instant::now() >= until {
                        return Some((named(&left), true));
                    }
                    if let Some(now) = proc.dir.stat(p.pid).filter(|now| p.lives_on_as(now)) {
                        left.push(now);
                    }
                }
                // A listing cut short may have missed a parent, and so its
                // descendants: then there may be more.
                let Some(found) = proc.list_until(scope, until) else { return Some((named(&left), true)) };
                let more = proc.listing.cut || !proc.listing.complete;
                let named_already: PidSet<i32> = left.iter().map(|q| q.pid).collect();
                left.extend(found.into_iter().filter(|p| !named_already.contains(&p.pid)));
                Some((named(&left), more))
            }
            _ => None,
        }
    }

    /// The way, decided the first time it is asked for (with a warning
    /// when `/proc` cannot serve), so that a container that never shuts
    /// down never pays for it.
    fn way(&mut self) -> &mut Way {
        let way = match self.way.take() {
            Some(way) => way,
            None => self.decide(),
        };
        self.way.insert(way)
    }

    fn decide(&mut self) -> Way {
        let own = self.scope.own_pid;
        let shows_own = |dir: &ProcDir| dir.shows_own_namespace(own);
        // A /proc of this namespace mounted after rinit started (by the
        // program, in a VM or a sandbox) hides the directory kept open at
        // start-up: the path is looked at once more.
        let kept = self.kept.take();
        let reopened = || ProcDir::open(&self.proc_root).ok();
        let (found, opened) = match kept {
            Some(dir) if shows_own(&dir) => (Some(dir), true),
            kept => match reopened() {
                Some(dir) if shows_own(&dir) => (Some(dir), true),
                again => (None, kept.is_some() || again.is_some()),
            },
        };
        // Why `/proc` cannot serve, for every message below.
        let why = if opened { "does not show this PID namespace" } else { "cannot be opened" };
        let dir = found.or_else(|| match ProcDir::private() {
            Ok(dir) if shows_own(&dir) => {
                info!("{} {why}: rinit lists its own, private instance of proc", crate::escape::path(&self.proc_root));
                Some(dir)
            }
            Ok(_) => None,
            Err(e) => {
                debug!("no private proc instance: {e}");
                None
            }
        });
        let root = crate::escape::path(&self.proc_root);
        match (dir, self.scope.whole_namespace) {
            (Some(dir), true) => {
                let kernel_threads = dir.shows_kernel_threads();
                Way::Listing { proc: Lister { dir, listing: Listing::default(), most: 0 }, kernel_threads }
            }
            (Some(dir), false) => Way::Descendants { proc: Lister { dir, listing: Listing::default(), most: 0 } },
            (None, true) => {
                let how = if self.program_takes_term {
                    "at shutdown the others get SIGTERM through kill(-1), which reaches the program too: a running program gets a second SIGTERM at half the grace period"
                } else {
                    "at shutdown the others get SIGTERM through kill(-1) only once the program has gone, since the program's shutdown signal is not a plain SIGTERM (-r or --stop-signal)"
                };
                warn!("{root} {why} and no proc instance of rinit's own can be had: {how}");
                Way::KillAll
            }
            (None, false) => {
                warn!(
                    "{root} {why}: only the program can be signalled at shutdown; mount a /proc of this namespace to reach its descendants"
                );
                Way::ProgramOnly
            }
        }
    }
}

/// What one slice of a round reached, for the summary.
pub enum Reached {
    Termed(Termed),
    Killed(Killed),
}

/// One signal to the others, over as many turns of the loop as it takes,
/// a slice a turn: a listing of thousands of processes (or, not as PID 1,
/// of the host's) must not keep rinit from its signals and deadlines. As
/// PID 1 each process is signalled as soon as it is listed; outside a
/// namespace the descendants are known only once the whole listing is in
/// (parent links), and are signalled after it.
struct Round {
    /// SIGTERM (with SIGCONT) or SIGKILL.
    sig: i32,
    /// The program while it lives: it has its signal from the action
    /// itself (once reaped, its pid may be a new descendant's).
    exclude: Vec<i32>,
    /// Process groups left out (the program's, when it has its signal).
    groups: Vec<i32>,
    /// SIGTERM only: whether those of `groups` that are stopped get SIGCONT
    /// (their group's signal, pending for them, was no stop signal).
    continue_stopped_in_groups: bool,
    /// Those of `groups` found stopped, not yet sent SIGCONT.
    stopped: Vec<Proc>,
    /// Those of `groups` sent SIGCONT: once each, as the others.
    continued: PidSet<(i32, u64)>,
    pass: usize,
    /// Where this pass's listing goes on; None once it is complete.
    /// (A directory offset: 0 is the top.)
    cursor: Option<i64>,
    /// Found and not yet signalled.
    todo: Vec<Proc>,
    seen: PidSet<(i32, u64)>,
    new_in_pass: usize,
    /// SIGTERM only: when each process got it, in the clock ticks of its
    /// children's start times. A child that a later pass finds, started at
    /// or after its parent's SIGTERM, was forked by the parent's handler (a
    /// cleanup helper, `touch` in a trap) and is the parent's to end; a
    /// later pass that SIGTERMed it cut the cleanup short (seen in Docker:
    /// a daemon's trap never wrote its file).
    termed_at: PidMap<i32, u64>,
    started: Instant,
}

impl Round {
    /// `program`: the program while it lives, which has its signal from the
    /// action itself.
    fn new(sig: i32, program: Option<i32>, groups: Vec<i32>, mut todo: Vec<Proc>) -> Round {
        let seen = PidSet::with_capacity_and_hasher(todo.len(), Fixed::default());
        // Taken from the end: lowest pid first, as listed.
        todo.reverse();
        Round {
            sig,
            exclude: program.into_iter().collect(),
            groups,
            continue_stopped_in_groups: false,
            stopped: Vec::new(),
            continued: PidSet::default(),
            pass: 0,
            cursor: Some(0),
            todo,
            seen,
            new_in_pass: 0,
            termed_at: PidMap::default(),
            started: Instant::now(),
        }
    }

    /// Signals and lists on until `until`; what it reached, and whether the
    /// round is over. `known`: replaced by the targets of each whole listing
    /// outside a namespace.
    fn slice(&mut self, proc: &mut Lister, scope: Scope, until: Instant, known: &mut Vec<Proc>) -> (Reached, bool) {
        let mut reached = Killed::default();
        let mut count = 0;
        let mut missed = false;
        let done = loop {
            if Instant::now() >= until {
                break false;
            }
            if let Some(p) = self.todo.pop() {
                if self.signal(proc, scope, &p) {
                    count += 1;
                    if self.sig == libc::SIGKILL {
                        // The program is not in a round (it has its
                        // signal already): a name unread is unknown.
                        reached.listed.push((p.pid, p.known.then(|| p.name.to_string())));
                    }
                }
                continue;
            }
            if let Some(p) = self.stopped.pop() {
                self.continue_stopped(proc, scope, &p);
                continue;
            }
            if let Some(from) = self.cursor {
                if from == 0 {
                    proc.listing.procs.clear();
                    proc.listing.complete = true;
                }
                let listed_before = proc.listing.procs.len();
                match proc.dir.list_on(&mut proc.listing, from, Some(until)) {
                    Ok(next) => self.cursor = next,
                    Err(e) => {
                        warn!("cannot list /proc: {e}");
                        self.cursor = None;
                        missed |= !scope.whole_namespace;
                        break true;
                    }
                }
                // Not PID 1 the descendants are known only once the whole
                // listing is in.
                if scope.whole_namespace || self.cursor.is_none() {
                    proc.note_most(scope);
                }

                if scope.whole_namespace {
                    // Every process of the namespace is a target: each as
                    // soon as it is listed.
                    let tail = proc.listing.procs.get(listed_before..).unwrap_or_default();
                    self.todo = procs::targets(tail, scope, &self.exclude, &self.groups);
                    self.find_stopped(tail, scope);
                } else if self.cursor.is_none() {
                    self.todo = procs::targets(&proc.listing.procs, scope, &self.exclude, &self.groups);
                    known.clone_from(&self.todo);
                    self.find_stopped(&proc.listing.procs, scope);
                    missed |= proc.missed_descendants(scope);
                }
                if self.cursor.is_none() && !proc.listing.complete {
                    say_incomplete(scope);
                }
                // Signalled lowest pid first, as listed.
                self.todo.reverse();
                continue;
            }
            // This pass is over. Processes forked between the listing and
            // their parent's signal would be missed: list again until a
            // pass finds nobody new (a few passes at most, and only soon
            // after the first; stragglers still get SIGKILL at the grace).
            let again = self.new_in_pass > 0
                && self.pass + 1 < self.passes()
                && self.started.elapsed() < TERM_PASSES_WITHIN;
            if !again {
                break true;
            }
            self.pass += 1;
            self.new_in_pass = 0;
            self.cursor = Some(0);
        };
        let reached = if self.sig == libc::SIGTERM {
            Reached::Termed(Termed::Listed { count, missed })
        } else {
            reached.unreachable = missed;
            Reached::Killed(reached)
        };
        (reached, done)
    }

    /// Under `-g`, the members of the program's group that this listing
    /// shows stopped, when they are to get SIGCONT: the round leaves their
    /// group out, which has had its signal already (forwarded at the start
    /// of the shutdown), but stopped they cannot act on it, and would wait
    /// for the SIGKILL at the grace where any other process gets SIGCONT.
    /// The program itself is in `exclude` while it lives: a running program
    /// gets no SIGCONT (rinit(1) SHUTDOWN).
    fn find_stopped(&mut self, listed: &[Proc], scope: Scope) {
        if self.sig == libc::SIGTERM && self.continue_stopped_in_groups {
            self.stopped = procs::stopped_in_groups(listed, scope, &self.exclude, &self.groups);
            // Lowest pid first, as listed.
            self.stopped.reverse();
        }
    }

    /// SIGCONT to one member of a group left out, found stopped; once.
    /// Not counted: it had its signal with its group.
    fn continue_stopped(&mut self, proc: &Lister, scope: Scope, p: &Proc) {
        if self.continued.insert((p.pid, p.start)) && proc.send(scope, p, libc::SIGCONT).is_ok() {
            debug!("sent SIGCONT to {}, stopped in the program's process group, to act on the group's signal", p.shown());
        }
    }

    /// SIGKILL's round is one pass: the next comes `REKILL_INTERVAL` later.
    fn passes(&self) -> usize {
        if self.sig == libc::SIGTERM { TERM_PASSES } else { 1 }
    }

    /// The round's signal to one process found, once; whether it was sent.
    fn signal(&mut self, proc: &Lister, scope: Scope, p: &Proc) -> bool {
        if !self.seen.insert((p.pid, p.start)) {
            return false;
        }
        self.new_in_pass += 1;
        if self.sig != libc::SIGTERM {
            return proc.send(scope, p, self.sig).is_ok();
        }
        // Only in a later pass: everything in the first listing was there
        // before any SIGTERM (a start in the same tick as its parent's
        // SIGTERM says nothing more than that).
        if self.pass > 0 && p.known && self.termed_at.get(&p.ppid).is_some_and(|&at| p.start >= at) {
            return false;
        }
        let now = procs::boot_ticks();
        if proc.send(scope, p, libc::SIGTERM).is_err() {
            return false;
        }
        let _ = proc.send(scope, p, libc::SIGCONT);
        self.termed_at.insert(p.pid, now);
        debug!("sent SIGTERM to {}", p.shown());
        true
    }
}

/// kill(-1) from PID 1: every process of the namespace but rinit; `cont`:
/// SIGCONT after it, so that a stopped process can act on it.
fn term_by_kill_all(cont: bool) {
    let _ = signals::send(-1, libc::SIGTERM);
    if cont {
        let _ = signals::send(-1, libc::SIGCONT);
    }
    debug!("sent SIGTERM to every process through kill(-1)");
}

impl Lister {
    /// The processes in scope now, from a fresh listing (None: `/proc`
    /// cannot be read).
    fn list(&mut self, scope: Scope, exclude: &[i32], groups: &[i32]) -> Option<Vec<Proc>> {
        self.list_within(scope, exclude, groups, None)
    }

    /// A listing stopped at `until` (the processes found by then).
    fn list_until(&mut self, scope: Scope, until: Instant) -> Option<Vec<Proc>> {
        self.list_within(scope, &[], &[], Some(until))
    }

    fn list_within(&mut self, scope: Scope, exclude: &[i32], groups: &[i32], until: Option<Instant>) -> Option<Vec<Proc>> {
        if let Err(e) = self.dir.list_until(&mut self.listing, until) {
            warn!("cannot list /proc: {e}");
            return None;
        }
        self.note_most(scope);
        if !self.listing.complete {
            say_incomplete(scope);
        }
        Some(procs::targets(&self.listing.procs, scope, exclude, groups))
    }

    /// Issue 23: the exit report's fallback figure, the most processes a
    /// whole listing found: as PID 1 all of them (this namespace's), else
    /// rinit and its descendants, since the listing there is the host's
    /// /proc (review 12: "processes peak at least 20" for a tree of two).
    fn note_most(&mut self, scope: Scope) {
        let found = if scope.whole_namespace {
            self.listing.procs.len()
        } else {
            procs::descendants(&self.listing.procs, scope.own_pid).len() + 1
        };
        self.most = self.most.max(found);
    }

    /// Outside a namespace a descendant is found through its parent links,
    /// which an unreadable `stat` in the last listing hid.
    fn missed_descendants(&self, scope: Scope) -> bool {
        !scope.whole_namespace && !self.listing.complete
    }

    /// A shutdown signal to one listed process. As PID 1 a plain kill():
    /// every process of the namespace is a target, so a pid reused since
    /// the listing still belongs to one. Outside a namespace through a
    /// pidfd, so that a pid reused by a stranger is never hit.
    fn send(&self, scope: Scope, p: &Proc, sig: i32) -> std::io::Result<()> {
        if scope.whole_namespace { signals::send(p.pid, sig) } else { self.dir.signal_exact(p, sig) }
    }
}

/// A listing with `stat` files it could not read, said as what it means.
fn say_incomplete(scope: Scope) {
    if scope.whole_namespace {
        debug!("some of /proc could not be read (too few file descriptors?): those processes are signalled by pid, unnamed");
    } else {
        debug!("some of /proc could not be read (too few file descriptors?): their parents are unknown, so descendants among them are not found");
    }
}

/// The summary's names for `targets`: as listed, the program's by its
/// argv[0] where its `stat` could not be read (review 13: it was named '?'),
/// any other's unknown.
fn named(targets: &[Proc], program: i32, program_name: &str) -> Vec<Named> {
    targets.iter().map(|p| (p.pid, name_of(p, program, program_name))).collect()
}

/// One process's name for the summary (see [`named`]).
fn name_of(p: &Proc, program: i32, program_name: &str) -> Option<String> {
    if p.known {
        Some(p.name.to_string())
    } else {
        (p.pid == program).then(|| program_name.to_string())
    }
}

/// Whether a child of rinit's has ended and waits to be reaped, asked
/// without reaping it.
pub fn has_zombie_child() -> bool {
    crate::reap::peek_child(libc::P_ALL, 0, libc::WEXITED | libc::__WALL).is_ok_and(|pid| pid != 0)
}
