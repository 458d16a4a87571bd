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

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use log::{debug, info, warn};

use crate::procs::{self, Listing, Proc, ProcDir, Scope};
use crate::signals;
use crate::summary::{Killed, Termed};

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
        Reach { scope, program, program_name, program_takes_term, proc_root, kept, way: None }
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
    /// group when it already has its signal).
    pub fn term_others(&mut self, program_alive: bool, skip_program_group: bool) -> Termed {
        if self.terms_everyone(program_alive, skip_program_group) {
            // Two kill(-1) calls reach every process, thousands of them,
            // without one look at `/proc`: every `/proc/PID` entry looked up
            // leaves a dentry that the kernel must drop when that process
            // is reaped, which made those reaps several times dearer
            // (BENCHMARKS.md, shutdown at scale).
            term_by_kill_all(true);
            return Termed::Everyone;
        }
        let program_takes_term = self.program_takes_term;
        let (program, scope) = (self.program, self.scope);
        let groups = [program];
        let groups: &[i32] = if skip_program_group { &groups } else { &[] };
        let proc = match self.way() {
            Way::Listing { proc, .. } | Way::Descendants { proc } => proc,
            Way::KillAll => {
                if program_alive && !program_takes_term {
                    return Termed::Deferred;
                }
                // SIGCONT through kill(-1) would reach a running program
                // too, which gets none unless stopped (rinit(1) SHUTDOWN):
                // then stopped others stay stopped until the SIGKILL.
                let cont = !program_alive || crate::reap::program_is_stopped(program);
                term_by_kill_all(cont);
                return Termed::Everyone;
            }
            Way::ProgramOnly => return Termed::Unreachable,
        };
        // Processes forked between the listing and their parent's SIGTERM
        // would be missed: list again until a pass finds nobody new (a few
        // passes at most; stragglers still get SIGKILL at the grace).
        let mut seen: HashSet<(i32, u64)> = HashSet::new();
        // When each process got its SIGTERM, in the clock ticks of its
        // children's start times: a child that a later pass finds, started
        // at or after its parent's SIGTERM, was forked by the parent's handler (a cleanup
        // helper, `touch` in a trap) and is the parent's to end; a later
        // pass that SIGTERMed it cut the cleanup short (seen in Docker: a
        // daemon's trap never wrote its file).
        let mut termed_at: HashMap<i32, u64> = HashMap::new();
        let (mut count, mut missed) = (0, false);
        let started = Instant::now();
        for pass in 0..TERM_PASSES {
            if count > 0 && started.elapsed() >= TERM_PASSES_WITHIN {
                break;
            }
            let Some(targets) = proc.list(scope, &[program], groups) else { break };
            missed |= proc.missed_descendants(scope);
            let mut new = 0;
            for p in &targets {
                if !seen.insert((p.pid, p.start)) {
                    continue;
                }
                new += 1;
                // Only in a later pass: everything in the first listing was
                // there before any SIGTERM (a start in the same tick as its
                // parent's SIGTERM says nothing more than that).
                if pass > 0 && p.known && termed_at.get(&p.ppid).is_some_and(|&at| p.start >= at) {
                    continue;
                }
                let now = procs::boot_ticks();
                if proc.send(scope, p, libc::SIGTERM).is_ok() {
                    let _ = proc.send(scope, p, libc::SIGCONT);
                    termed_at.insert(p.pid, now);
                    count += 1;
                    debug!("sent SIGTERM to pid {} '{}'", p.pid, p.name);
                }
            }
            if new == 0 {
                break;
            }
        }
        Termed::Listed { count, missed }
    }

    /// SIGKILL to everything in scope but rinit, the program included.
    pub fn kill_all(&mut self, program_alive: bool) -> Killed {
        let (program, scope) = (self.program, self.scope);
        let mut killed = Killed::default();
        let program_name = self.program_name.clone();
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
                    killed.listed = named(targets);
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
                let reached = signals::send(-1, libc::SIGKILL).is_ok();
                killed.unlisted = reached && (listed.is_none() || cut || listed_nobody && !zombie && !kernel_threads);
            }
            Way::KillAll => {
                let zombie = has_zombie_child();
                killed.unlisted = signals::send(-1, libc::SIGKILL).is_ok() && !zombie;
            }
            Way::Descendants { proc } => match proc.list(scope, &[], &[]) {
                Some(targets) => {
                    for p in &targets {
                        let _ = proc.send(scope, p, libc::SIGKILL);
                    }
                    killed.listed = named(&targets);
                    killed.unreachable = proc.missed_descendants(scope);
                }
                None => killed.unreachable = true,
            },
            Way::ProgramOnly => {
                killed.unreachable = true;
                if program_alive && signals::send(program, libc::SIGKILL).is_ok() {
                    killed.listed.push((program, program_name));
                }
            }
        }
        killed
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

    /// What is still running, named (None: rinit cannot list it).
    pub fn left(&mut self) -> Option<Vec<(i32, String)>> {
        let scope = self.scope;
        match self.way() {
            Way::Listing { proc, .. } | Way::Descendants { proc } => proc.list(scope, &[], &[]).map(|left| named(&left)),
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
                info!("{} {why}: rinit lists its own, private instance of proc", self.proc_root.display());
                Some(dir)
            }
            Ok(_) => None,
            Err(e) => {
                debug!("no private proc instance: {e}");
                None
            }
        });
        let root = self.proc_root.display();
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
        self.most = self.most.max(self.listing.procs.len());
        if !self.listing.complete {
            debug!("some of /proc could not be read (too few file descriptors?): those processes are signalled by pid, unnamed");
        }
        Some(procs::targets(&self.listing.procs, scope, exclude, groups))
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

fn named(targets: &[Proc]) -> Vec<(i32, String)> {
    targets.iter().map(|p| (p.pid, p.name.to_string())).collect()
}

/// Whether a child of rinit's has ended and waits to be reaped, asked
/// without reaping it.
pub fn has_zombie_child() -> bool {
    crate::reap::peek_child(libc::P_ALL, 0, libc::WEXITED | libc::__WALL).is_ok_and(|pid| pid != 0)
}
