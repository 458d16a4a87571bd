//! The running loop (rinit(1) SIGNALS and SHUTDOWN): reap, feed the shutdown machine, carry out
//! what it asks, sleep until the next signal or deadline. This is the shell
//! around `shutdown::Machine`: every system call of the loop is here.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};

use crate::cgroup::OomWatch;
use crate::procs::{self, Listing, ProcDir, Proc, Scope};
use crate::report;
use crate::shutdown::{self, Action, Event, Machine, Summary, TermedVia};
use crate::signals;
use crate::wait::{Waiter, Woken};
use crate::status::{self, Ended};

/// How many listings the SIGTERM to everyone else may take: each one after
/// the first catches processes forked while the previous one was signalled.
const TERM_PASSES: usize = 3;

pub struct Supervisor {
    program: i32,
    /// The program's exit status once reaped (`None` while it runs).
    program_code: Option<i32>,
    process_group: bool,
    remap_exit: Vec<u8>,
    warn_on_reap: bool,
    scope: Scope,
    /// `/proc`, for messages.
    proc_root: PathBuf,
    /// `/proc`, opened at start-up (None if it could not be).
    proc_dir: Option<ProcDir>,
    /// The last listing of `/proc`, its memory reused.
    listing: Listing,
    /// `/proc` shows rinit's own namespace and can be used to find processes;
    /// checked the first time shutdown needs it, not on the start-up path.
    proc_usable: Option<bool>,
    /// `/proc` lists kernel threads (the initial PID namespace): checked
    /// once, when shutdown first needs it.
    kernel_threads: Option<bool>,
    /// SIGTERM for everyone waits for the program's end (kill(-1) without
    /// a listing would hit the program too).
    term_deferred: bool,
    /// The kernel reaps rinit's children (`signals::reap_automatically`),
    /// and rinit only looks, paced, whether any is left.
    self_reaping: bool,
    /// Look for children on the next turn without waiting for a SIGCHLD.
    look_now: bool,
    machine: Machine,
    clock: Instant,
    summary: Summary,
    waiter: Waiter,
    oom: Option<OomWatch>,
    /// The cgroup root where the OOM watch is to be set up, until it is.
    oom_watch_at: Option<PathBuf>,
    /// Issue 23: `--oom-exit`; the exit report (`--report`, `--report-file`),
    /// how the program ended and the most processes listed, for the report.
    oom_exit: bool,
    report: Option<report::Wanted>,
    program_end: Option<Ended>,
    most_seen: usize,
}

/// How long after start the OOM watch is set up: finding the memory cgroup
/// (mountinfo) and opening its files costs rinit more than the rest of its
/// start together, and done at once it competes with the program's own
/// start; a program that is gone by then needs no watch. An OOM kill in
/// that first moment is counted in the watch's baseline and not reported.
const OOM_WATCH_AFTER: Duration = Duration::from_millis(3);

pub struct Settings {
    pub program: i32,
    pub own_pid: i32,
    pub process_group: bool,
    pub remap_exit: Vec<u8>,
    pub warn_on_reap: bool,
    pub proc_root: PathBuf,
    pub proc_dir: Option<ProcDir>,
    pub machine: Machine,
    pub waiter: Waiter,
    /// The cgroup root, if the OOM watch can be set up (the waiter can watch
    /// a descriptor).
    pub oom_watch_at: Option<PathBuf>,
    /// Issue 23: `--oom-exit`, and the exit report if asked for.
    pub oom_exit: bool,
    pub report: Option<report::Wanted>,
}

impl Supervisor {
    pub fn new(s: Settings) -> Supervisor {
        let whole_namespace = s.own_pid == 1;
        Supervisor {
            program: s.program,
            program_code: None,
            process_group: s.process_group,
            remap_exit: s.remap_exit,
            warn_on_reap: s.warn_on_reap,
            scope: Scope { own_pid: s.own_pid, whole_namespace },
            proc_root: s.proc_root,
            proc_dir: s.proc_dir,
            listing: Listing::default(),
            proc_usable: None,
            kernel_threads: None,
            term_deferred: false,
            self_reaping: false,
            look_now: false,
            machine: s.machine,
            clock: Instant::now(),
            summary: Summary::default(),
            waiter: s.waiter,
            oom: None,
            oom_watch_at: s.oom_watch_at,
            oom_exit: s.oom_exit,
            report: s.report,
            program_end: None,
            most_seen: 0,
        }
    }

    /// Runs until the machine says exit; returns rinit's exit status.
    pub fn run(mut self) -> i32 {
        // One buffer for the machine's actions, reused on every turn.
        let mut actions = Vec::with_capacity(4);
        // Whether this turn may have a child to reap: the first turn, a
        // SIGCHLD, a timeout, an OOM notice, or a look asked for
        // (`look_now`). A turn woken by a signal to forward does not look:
        // a SIGCHLD queued with it stays pending and gets a turn of its own
        // (the signalfd hands out one signal per read), which keeps a wait4
        // off the path of every forwarded signal.
        let mut maybe_child = true;
        loop {
            self.start_oom_watch_when_due();
            maybe_child |= std::mem::take(&mut self.look_now);
            // Whether the last look found no child at all, and how long it took.
            let mut all_gone = false;
            let mut look = Duration::ZERO;
            if maybe_child {
                if let Some(oom) = self.oom.as_mut() {
                    oom.before_reap();
                }
                let started = self.clock.elapsed();
                let (program, gone) = self.reap();
                let now = self.clock.elapsed();
                look = now.saturating_sub(started);
                all_gone = gone;
                if program.is_some() && self.term_deferred {
                    self.term_deferred = false;
                    self.term_by_kill_all();
                }
                // As PID 1, no child left is not yet an empty namespace:
                // processes that came in from outside are no children of rinit.
                let others_left = all_gone && self.scope.whole_namespace && self.others_left();
                actions.clear();
                self.machine.handle_into(Event::Reaped { program, all_gone, others_left }, now, &mut actions);
                if let Some(code) = self.apply_all(&actions, None) {
                    return code;
                }
                if self.look_now {
                    continue;
                }
            }
            // Issue 23 (--oom-exit): a kill that the OOM watch accounted for
            // on this turn (before_reap, or on_event/on_timeout/kill_all on
            // the last) starts the shutdown, before the loop sleeps.
            if self.oom_exit && self.oom.as_mut().is_some_and(|oom| oom.take_reported() > 0) {
                warn!("--oom-exit: an OOM kill in the container; shutting down, exit status {}", shutdown::OOM_EXIT_STATUS);
                actions.clear();
                self.machine.handle_into(Event::OomKill, self.clock.elapsed(), &mut actions);
                if let Some(code) = self.apply_all(&actions, Some(libc::SIGTERM)) {
                    return code;
                }
            }
            // Asleep until a signal or an OOM notice comes; a timeout only
            // while a shutdown deadline is pending or an OOM kill under way.
            let until_deadline = || self.machine.deadline().map(|d| d.saturating_sub(self.clock.elapsed()));
            if self.self_reaping && maybe_child && !all_gone {
                // Every child that exits meanwhile still queues a SIGCHLD:
                // the wait below returns at once, and the next turn looks.
                // Signals to forward have nobody left to go to.
                std::thread::sleep(shutdown::reap_pause(look, until_deadline()));
            }
            // Taken after the pause, so that the pause does not make a
            // deadline late.
            let deadline = until_deadline();
            let recheck = self.oom.as_ref().and_then(OomWatch::timeout);
            let watch_due = self.oom_watch_at.as_ref().map(|_| OOM_WATCH_AFTER.saturating_sub(self.clock.elapsed()));
            let timeout = [deadline, recheck, watch_due].into_iter().flatten().min();
            let woken = self.waiter.wait(timeout, self.oom.as_ref().and_then(OomWatch::fd));
            // An OOM notice looks too: the descriptor wins the poll over a
            // pending SIGCHLD, and a stream of notices must not keep rinit
            // from reaping.
            maybe_child =
                matches!(woken, Ok(Woken::Signal(libc::SIGCHLD) | Woken::Nothing | Woken::Descriptor) | Err(_));
            match woken {
                Ok(Woken::Signal(sig)) => {
                    let now = self.clock.elapsed();
                    actions.clear();
                    self.machine.handle_into(Event::Signal(sig), now, &mut actions);
                    if let Some(code) = self.apply_all(&actions, Some(sig)) {
                        return code;
                    }
                }
                Ok(Woken::Descriptor) => {
                    if let Some(oom) = self.oom.as_mut() {
                        oom.on_event();
                    }
                }
                Ok(Woken::Nothing) => {
                    if let Some(oom) = self.oom.as_mut() {
                        oom.on_timeout();
                    }
                }
                Err(e) => {
                    // The wait fails only on bad arguments; say so, and
                    // avoid spinning on it.
                    error!("waiting for signals failed: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }

    /// Sets the OOM watch up once `OOM_WATCH_AFTER` has passed, unless the
    /// program has already gone.
    fn start_oom_watch_when_due(&mut self) {
        if self.oom_watch_at.is_none() || self.clock.elapsed() < OOM_WATCH_AFTER && self.program_code.is_none() {
            return;
        }
        if let Some(root) = self.oom_watch_at.take()
            && self.program_code.is_none()
        {
            self.oom = OomWatch::start(&self.proc_root, &root);
            if self.oom_exit && self.oom.is_none() {
                warn!("--oom-exit: no OOM kill can be noticed here (no memory cgroup with an oom_kill count, or too few file descriptors; -vvv says which)");
            }
        }
    }

    fn apply_all(&mut self, actions: &[Action], received: Option<i32>) -> Option<i32> {
        for &action in actions {
            match action {
                Action::Forward(sig) => self.forward(sig, received),
                Action::Continue => self.continue_program(),
                Action::TermOthers { skip_program_group } => self.term_others(skip_program_group),
                Action::KillAll => {
                    self.kill_all();
                    // Not PID 1 and no usable /proc: rinit's other children
                    // cannot be found, so they cannot be killed, and waiting
                    // for them would never end. They stay with rinit's parent
                    // or the next subreaper.
                    if let (Some(false), false, Some(code)) =
                        (self.proc_usable, self.scope.whole_namespace, self.program_code)
                    {
                        warn!("the program has exited; leaving its remaining descendants, which rinit cannot find without a /proc of this namespace");
                        self.summary.unreached = true;
                        return Some(self.finish(code));
                    }
                }
                Action::GiveUp(code) => {
                    self.note_left();
                    return Some(self.finish(code));
                }
                Action::Exit(code) => {
                    if self.program_code.is_none() {
                        error!(
                            "the program's exit status was lost (something else reaped pid {}); exiting with {code}",
                            self.program
                        );
                    }
                    return Some(self.finish(code));
                }
            }
        }
        None
    }

    /// Logs the shutdown summary; returns the exit status to leave with.
    fn finish(&mut self, mut code: i32) -> i32 {
        if let Some(t) = self.machine.started() {
            self.summary.took = self.clock.elapsed().saturating_sub(t);
        }
        let mut forced = self.machine.status_forced();
        if let Some(oom) = self.oom.as_mut() {
            oom.finish();
            // Issue 23: a kill first accounted for now, as rinit exits (the
            // program ended before the watch had looked at it), counts too.
            if self.oom_exit && oom.take_reported() > 0 && !forced {
                warn!("--oom-exit: an OOM kill in the container; exit status {}", shutdown::OOM_EXIT_STATUS);
                code = shutdown::OOM_EXIT_STATUS;
                forced = true;
            }
        }
        // The line that names the processes that had to be SIGKILLed is the
        // one users need: it shows at the default level (warnings).
        if self.summary.is_clean() {
            info!("{}", self.summary);
        } else {
            warn!("{}", self.summary);
        }
        // Issue 23: the exit report, read now and only now.
        if let Some(wanted) = &self.report {
            let exit = report::Exit {
                ran: self.clock.elapsed(),
                seen: self.most_seen,
                ended: self.program_end,
                status: code,
                oom_exit: forced,
            };
            report::deliver(wanted, &self.proc_root, exit);
        }
        code
    }

    /// Lists `/proc` into `self.listing`; false when it cannot be read.
    fn list(&mut self) -> bool {
        if !self.proc_usable() {
            return false;
        }
        let Some(dir) = self.proc_dir.as_mut() else { return false };
        match dir.list(&mut self.listing) {
            Ok(()) => {
                // Issue 23: the exit report's peak where there is no pids.peak.
                self.most_seen = self.most_seen.max(self.listing.procs.len());
                if !self.listing.complete {
                    debug!("some of {} could not be read (too few file descriptors?): those processes are signalled by pid, unnamed", self.proc_root.display());
                }
                true
            }
            Err(e) => {
                warn!("cannot list {}: {e}", self.proc_root.display());
                false
            }
        }
    }

    /// The processes in scope now, from a fresh listing (None: `/proc`
    /// cannot be read).
    fn targets(&mut self, exclude: &[i32], exclude_groups: &[i32]) -> Option<Vec<Proc>> {
        if !self.list() {
            return None;
        }
        if !self.scope.whole_namespace && !self.listing.complete {
            // A descendant is found through its parent links, which an
            // unreadable stat hides.
            self.summary.unreached = true;
        }
        Some(procs::targets(&self.listing.procs, self.scope, exclude, exclude_groups))
    }

    /// As PID 1 with no child left: does anything else still live in the
    /// namespace (processes from `docker exec`, `nsenter`)?
    fn others_left(&mut self) -> bool {
        // kill(-1, 0) from PID 1 reaches every process of the namespace but
        // rinit; ESRCH means there is none, with no descriptor needed.
        if let Err(e) = signals::send(-1, 0)
            && e.raw_os_error() == Some(libc::ESRCH)
        {
            return false;
        }
        // Something is there. A kernel thread (rinit as a VM's PID 1 sees
        // them) is nobody to wait for: there, the listing decides. Elsewhere
        // this is all it takes, which matters since it runs every
        // OTHERS_POLL while such processes clean up. (A zombie of theirs
        // counts until its parent outside reaps it, promptly.)
        if !self.sees_kernel_threads() {
            return true;
        }
        match self.targets(&[], &[]) {
            Some(left) => !left.is_empty(),
            None => true,
        }
    }

    /// Whether `/proc` lists kernel threads (checked once).
    fn sees_kernel_threads(&mut self) -> bool {
        let dir = self.proc_dir.as_ref();
        *self.kernel_threads.get_or_insert_with(|| dir.is_some_and(ProcDir::shows_kernel_threads))
    }

    /// Names, in the summary, what is still running when rinit gives up.
    fn note_left(&mut self) {
        match self.targets(&[], &[]) {
            Some(left) => {
                self.summary.left = left.iter().map(|p| (p.pid, p.name.to_string())).collect();
            }
            None => self.summary.unreached = true,
        }
    }

    /// Sends a shutdown signal to one listed process. As PID 1 a plain
    /// kill(): every process of the namespace is a target, so a pid reused
    /// since the listing still belongs to one. Outside a namespace through a
    /// pidfd, so that a pid reused by a stranger is never hit.
    fn send(&self, p: &Proc, sig: i32) -> std::io::Result<()> {
        match (&self.proc_dir, self.scope.whole_namespace) {
            (Some(dir), false) => dir.signal_exact(p, sig),
            _ => signals::send(p.pid, sig),
        }
    }

    /// Whether `/proc` can be trusted to list this namespace's processes
    /// (checked once, with a warning when it cannot).
    fn proc_usable(&mut self) -> bool {
        if let Some(usable) = self.proc_usable {
            return usable;
        }
        let own = self.scope.own_pid;
        let mut usable = self.proc_dir.as_ref().is_some_and(|dir| dir.shows_own_namespace(own));
        if !usable {
            // A /proc of this namespace mounted after rinit started (by the
            // program, in a VM or a sandbox) hides the directory kept open
            // at start-up: look at the path once more.
            if let Ok(dir) = ProcDir::open(&self.proc_root)
                && dir.shows_own_namespace(own)
            {
                self.proc_dir = Some(dir);
                usable = true;
            }
        }
        if !usable {
            if self.scope.whole_namespace {
                warn!(
                    "{} does not show this PID namespace: every process gets its shutdown signals through kill(-1)",
                    self.proc_root.display()
                );
            } else {
                warn!(
                    "{} does not show this PID namespace: only the program can be signalled at shutdown; mount a /proc of this namespace to reach its descendants",
                    self.proc_root.display()
                );
            }
        }
        self.proc_usable = Some(usable);
        usable
    }

    fn program_target(&self) -> i32 {
        if self.process_group { -self.program } else { self.program }
    }

    fn forward(&mut self, sig: i32, received: Option<i32>) {
        let target = self.program_target();
        match signals::send(target, sig) {
            Ok(()) => {
                debug!("forwarded {} to {}", signals::name(sig), describe_target(target));
                if received == Some(libc::SIGTERM) && sig == libc::SIGTERM && self.summary.termed == 0 {
                    self.summary.termed = 1;
                }
            }
            // Already gone: its exit is about to be reaped.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            Err(e) => warn!("cannot forward {} to {}: {e}", signals::name(sig), describe_target(target)),
        }
    }

    /// SIGCONT for a stopped program right after the SIGTERM that starts
    /// shutdown, so that it can act on it. Only if it is stopped: a running
    /// program (tini never sends one) may have a SIGCONT handler. Under -g,
    /// where a forwarded SIGTSTP stops the whole group, to the group.
    fn continue_program(&mut self) {
        let stopped = self.process_group || program_is_stopped(self.program);
        if stopped {
            let _ = signals::send(self.program_target(), libc::SIGCONT);
            debug!("sent SIGCONT to {}", describe_target(self.program_target()));
        }
    }

    fn term_others(&mut self, skip_program_group: bool) {
        if self.term_everyone(skip_program_group) {
            return;
        }
        let groups = [self.program];
        let groups: &[i32] = if skip_program_group { &groups } else { &[] };
        let Some(targets) = self.targets(&[self.program], groups) else {
            if self.scope.whole_namespace {
                if self.program_code.is_none() {
                    // kill(-1) would give the program a second SIGTERM (or
                    // one that -r turned into something else): wait until it
                    // has gone (see `reap`).
                    self.term_deferred = true;
                    return;
                }
                self.term_by_kill_all();
            }
            return;
        };
        // Processes forked between the listing and their parent's SIGTERM
        // would be missed: list again until a pass finds nobody new (a few
        // passes at most; stragglers still get SIGKILL at the grace).
        let mut seen: HashSet<(i32, u64)> = HashSet::new();
        let mut targets = targets;
        for _ in 0..TERM_PASSES {
            let mut new = 0;
            for p in &targets {
                if !seen.insert((p.pid, p.start)) {
                    continue;
                }
                new += 1;
                // SIGCONT after SIGTERM: a stopped process must run to handle it.
                if self.send(p, libc::SIGTERM).is_ok() {
                    let _ = self.send(p, libc::SIGCONT);
                    self.summary.termed += 1;
                    debug!("sent SIGTERM to pid {} '{}'", p.pid, p.name);
                }
            }
            if new == 0 {
                break;
            }
            match self.targets(&[self.program], groups) {
                Some(next) => targets = next,
                None => break,
            }
        }
    }

    /// kill(-1) from PID 1 reaches every process of the namespace: the way
    /// when /proc cannot be read.
    fn term_by_kill_all(&mut self) {
        let _ = signals::send(-1, libc::SIGTERM);
        let _ = signals::send(-1, libc::SIGCONT);
        self.summary.termed_via = TermedVia::ListingAndKillAll;
        info!("sent SIGTERM to every process through kill(-1)");
    }

    /// The quick way to SIGTERM everyone as PID 1: once the program has
    /// gone (and, under -g, its group has not had its SIGTERM already),
    /// nobody in the namespace must be spared, so two kill(-1) calls reach
    /// every process — thousands of them — without one look at `/proc`.
    /// Not even its directory is read for a count: every `/proc/PID` entry
    /// looked up leaves a dentry that the kernel must drop when that
    /// process is reaped, which made those reaps several times dearer
    /// (BENCHMARKS.md, shutdown at scale). Returns false where this does not
    /// apply, and the caller goes through the listing.
    fn term_everyone(&mut self, skip_program_group: bool) -> bool {
        if !self.scope.whole_namespace || skip_program_group || self.program_code.is_none() || !self.proc_usable() {
            return false;
        }
        // Kernel threads (rinit as a VM's PID 1) would be counted: list.
        if self.sees_kernel_threads() {
            return false;
        }
        // From here on rinit only waits for the namespace to empty: its
        // children may reap themselves, in parallel, instead of queueing for
        // rinit's wait4 — unless -w wants each reap logged, or an OOM kill
        // is under way whose victim rinit must reap to name it (a kill from
        // now on is reported unnamed). Set before the kill(-1) calls, so
        // that every exit they cause is a self-reaping one; the kernel drops
        // a SIGCHLD that was pending when the flag was set (SIGCHLD at
        // SIG_DFL is "ignored"), so the loop looks for children at once
        // instead of waiting for one (`look_now`).
        if !self.warn_on_reap && self.oom.as_mut().is_none_or(OomWatch::may_leave_reaps_to_the_kernel) {
            match signals::reap_automatically() {
                Ok(()) => {
                    self.self_reaping = true;
                    self.look_now = true;
                    if let Some(oom) = self.oom.as_mut() {
                        oom.reaps_left_to_the_kernel();
                    }
                }
                Err(e) => debug!("children cannot reap themselves ({e}): rinit reaps them"),
            }
        }
        // SIGCONT after SIGTERM: a stopped process must run to handle it.
        let _ = signals::send(-1, libc::SIGTERM);
        let _ = signals::send(-1, libc::SIGCONT);
        self.summary.termed_via = TermedVia::KillAll;
        debug!("sent SIGTERM to every process through kill(-1)");
        true
    }

    fn kill_all(&mut self) {
        // rinit's own SIGKILLs must not be taken for OOM kills.
        if let Some(oom) = self.oom.as_mut() {
            oom.before_own_kills();
        }
        let listed = self.targets(&[], &[]);
        if let Some(targets) = &listed {
            // Named once, however many rounds a fork storm takes.
            let mut named: HashSet<i32> = self.summary.killed.iter().map(|(pid, _)| *pid).collect();
            for p in targets {
                if named.insert(p.pid) {
                    self.summary.killed.push((p.pid, p.name.to_string()));
                }
                if !self.scope.whole_namespace {
                    let _ = self.send(p, libc::SIGKILL);
                }
            }
        }
        if self.scope.whole_namespace {
            // From PID 1, kill(-1) reaches every process of the namespace at
            // once, including any forked since the listing.
            // A zombie of rinit's, which the listing leaves out, takes
            // kill(-1) too: asked for just before it, and only when the
            // listing found nobody (the one case where it matters).
            let listed_nobody = listed.as_ref().is_some_and(Vec::is_empty);
            let zombie = listed_nobody && has_zombie_child();
            let reached = signals::send(-1, libc::SIGKILL).is_ok();
            // kill(-1) fails with ESRCH when it finds nobody. Success after
            // a listing that found nobody, with no zombie of rinit's to
            // account for it, means processes escaped the listing (a fork
            // storm's children, forked behind getdents' cursor once pids
            // wrap): they got SIGKILL, and the summary must not say that
            // nobody needed it. Kernel threads, seen by rinit as a VM's
            // PID 1, take kill(-1) too: there the listing alone counts.
            let escaped = reached && listed_nobody && !zombie && !self.sees_kernel_threads();
            if listed.is_none() || escaped {
                self.summary.killed_unlisted = true;
            }
        } else if listed.is_none() && self.program_code.is_none() {
            let _ = signals::send(self.program_target(), libc::SIGKILL);
        }
    }

    /// Reaps every child that has ended. Returns the program's exit status if
    /// it was among them, and whether rinit has no child left at all.
    fn reap(&mut self) -> (Option<i32>, bool) {
        let mut program = None;
        loop {
            let mut raw = 0;
            // __WALL: also children that exit with a signal other than SIGCHLD.
            // SAFETY: `raw` is a valid out pointer.
            let pid = unsafe { libc::waitpid(-1, &mut raw, libc::WNOHANG | libc::__WALL) };
            if pid == 0 {
                return (program, false);
            }
            if pid < 0 {
                match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::ECHILD) => return (program, true),
                    Some(libc::EINTR) => continue,
                    _ => {
                        error!("waitpid failed: {}", std::io::Error::last_os_error());
                        return (program, false);
                    }
                }
            }
            let ended = if libc::WIFEXITED(raw) {
                Ended::Exited(libc::WEXITSTATUS(raw))
            } else if libc::WIFSIGNALED(raw) {
                Ended::Signaled(libc::WTERMSIG(raw))
            } else {
                continue; // stopped or continued: not an end
            };
            if let Some(oom) = self.oom.as_mut() {
                oom.reaped(pid);
            }
            if pid == self.program {
                let code = status::exit_code(ended, &self.remap_exit);
                debug!("program (pid {pid}) {}; exit status {code}", describe_end(ended));
                program = Some(code);
                self.program_code = Some(code);
                self.program_end = Some(ended);
            } else if self.warn_on_reap {
                warn!("reaped pid {pid}, which {}", describe_end(ended));
            }
        }
    }
}

/// Whether a child of rinit's has ended and waits to be reaped, asked
/// without reaping it.
fn has_zombie_child() -> bool {
    peek_child(libc::P_ALL, 0, libc::WEXITED | libc::__WALL).is_ok_and(|pid| pid != 0)
}

/// Whether the program is stopped, asked without reading `/proc`: a stop
/// that nobody has collected with WUNTRACED (rinit never does) stays
/// visible to waitid(WSTOPPED | WNOWAIT) until the program runs again. In
/// doubt (waitid failed), yes: a SIGCONT too many does no harm.
fn program_is_stopped(pid: i32) -> bool {
    let Ok(id) = libc::id_t::try_from(pid) else { return true };
    peek_child(libc::P_PID, id, libc::WSTOPPED).map_or(true, |found| found == pid)
}

/// waitid(`which`, `id`, `flags` | WNOHANG | WNOWAIT): the pid of a child in
/// the state `flags` asks for, or 0 if none is, leaving it as it is.
fn peek_child(which: libc::idtype_t, id: libc::id_t, flags: libc::c_int) -> std::io::Result<i32> {
    // SAFETY: siginfo_t is plain data; zeroed means "no child" to waitid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid out pointer; WNOWAIT leaves the child's state.
    let rc = unsafe { libc::waitid(which, id, &mut info, flags | libc::WNOHANG | libc::WNOWAIT) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: waitid filled the SIGCHLD fields (or left them zero).
    Ok(unsafe { info.si_pid() })
}

fn describe_target(target: i32) -> String {
    if target < 0 {
        format!("process group {}", -target)
    } else {
        format!("pid {target}")
    }
}

fn describe_end(ended: Ended) -> String {
    match ended {
        Ended::Exited(c) => format!("exited with {c}"),
        Ended::Signaled(s) => format!("was killed by {}", signals::name(s)),
    }
}
