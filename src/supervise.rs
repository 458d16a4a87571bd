//! The running loop (rinit(1) SIGNALS and SHUTDOWN): wait, turn
//! what woke rinit into one event, feed it to the shutdown machine, carry
//! out what the machine asks. This is the shell around `shutdown::Machine`;
//! the system calls are in the parts it holds: `Waiter` (the one place to
//! sleep), `Reaper` (wait4, bounded), `Reach` (who the shutdown's signals
//! reach, and how) and `OomWatch`. docs/design.md states what holds at the
//! top of every turn.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};

use crate::cgroup::{OomEvent, OomWatch};
use crate::reach::{Reach, Reached};
use crate::reap::{self, Reaped, Reaper};
use crate::report;
use crate::shutdown::{self, Action, Event, Machine};
use crate::signals;
use crate::status::Ended;
use crate::summary::{Killed, Summary, Termed};
use crate::wait::{Waiter, Woken};

pub struct Supervisor {
    program: i32,
    /// The program's exit status once reaped (`None` while it runs).
    program_code: Option<i32>,
    process_group: bool,
    /// rinit is PID 1 of its namespace: an empty namespace, not just no
    /// child left, ends the shutdown.
    whole_namespace: bool,
    machine: Machine,
    clock: Instant,
    waiter: Waiter,
    reaper: Reaper,
    reach: Reach,
    summary: Summary,
    oom: Option<OomWatch>,
    /// Issue 23: kills the OOM watch accounted for since the loop last
    /// looked (`oom_kill_to_tell`).
    oom_kills: u64,
    /// The cgroup root where the OOM watch is to be set up, until it is.
    oom_watch_at: Option<PathBuf>,
    proc_root: PathBuf,
    /// Issue 23: `--oom-exit`, and the exit report if asked for.
    oom_exit: bool,
    report: Option<report::Wanted>,
}

/// How long after start the OOM watch is set up: finding the memory cgroup
/// (mountinfo) and opening its files costs rinit more than the rest of its
/// start together, and done at once it competes with the program's own
/// start; a program that is gone by then needs no watch. An OOM kill in
/// that first moment is counted in the watch's baseline and not reported.
const OOM_WATCH_AFTER: Duration = Duration::from_millis(3);

pub struct Settings {
    pub program: i32,
    pub process_group: bool,
    pub whole_namespace: bool,
    pub proc_root: PathBuf,
    pub machine: Machine,
    pub waiter: Waiter,
    pub reaper: Reaper,
    pub reach: Reach,
    /// The cgroup root, if the OOM watch can be set up (the waiter can watch
    /// a descriptor).
    pub oom_watch_at: Option<PathBuf>,
    /// Issue 23: `--oom-exit`, and the exit report if asked for.
    pub oom_exit: bool,
    pub report: Option<report::Wanted>,
}

impl Supervisor {
    pub fn new(s: Settings) -> Supervisor {
        if s.oom_exit && s.oom_watch_at.is_none() {
            // No descriptor for the signalfd, and so none for the watch.
            warn!("--oom-exit: no OOM kill can be noticed here (no file descriptor left for rinit's signalfd: RLIMIT_NOFILE)");
        }
        Supervisor {
            program: s.program,
            program_code: None,
            process_group: s.process_group,
            whole_namespace: s.whole_namespace,
            machine: s.machine,
            clock: Instant::now(),
            waiter: s.waiter,
            reaper: s.reaper,
            reach: s.reach,
            summary: Summary::default(),
            oom: None,
            oom_kills: 0,
            oom_watch_at: s.oom_watch_at,
            proc_root: s.proc_root,
            oom_exit: s.oom_exit,
            report: s.report,
        }
    }

    /// Runs until the machine says exit; returns rinit's exit status.
    #[inline(never)]
    pub fn run(&mut self) -> i32 {
        // One buffer for the machine's actions, reused on every turn.
        let mut actions = Vec::with_capacity(4);
        // The first turn looks for children: the program may be gone already.
        let mut event = self.reap();
        loop {
            actions.clear();
            // One time for the whole turn, read only if the machine asks.
            let (clock, at) = (self.clock, std::cell::OnceCell::new());
            self.machine.handle_into(event, || *at.get_or_init(|| clock.elapsed()), &mut actions);
            let mut told = None;
            for i in 0..=actions.len() {
                // The actions, then a slice of the round of signals under
                // way, which an action of this turn or an earlier one
                // started (the shutdown's listings go on a slice a turn).
                let after = match actions.get(i) {
                    Some(&action) => self.carry_out(action),
                    None => self.reach_further(),
                };
                match after {
                    After::Exit(code) => return self.finish(code),
                    After::Tell(event) => told = Some(event),
                    After::Go => {}
                }
            }
            event = match told {
                Some(event) => event,
                // Issue 23: a kill the OOM watch accounted for on this turn.
                None if self.oom_kill_to_tell() => Event::OomKill,
                None => self.next_event(),
            };
        }
    }

    /// Issue 23 (`--oom-exit`): whether the OOM watch has accounted for a
    /// kill since the last look, said once.
    fn oom_kill_to_tell(&mut self) -> bool {
        if !self.oom_exit || std::mem::take(&mut self.oom_kills) == 0 {
            return false;
        }
        warn!("--oom-exit: an OOM kill in the container; shutting down, exit status {}", shutdown::OOM_EXIT_STATUS);
        true
    }

    /// Sleeps until something happens and says what, as one event. Out of
    /// line, like `carry_out`.
    #[inline(never)]
    fn next_event(&mut self) -> Event {
        loop {
            self.start_oom_watch_when_due();
            let (timeout, for_the_watch_alone) = self.timeout();
            let woken = self.waiter.wait(timeout, self.oom.as_ref().and_then(OomWatch::fd));
            if for_the_watch_alone && matches!(woken, Ok(Woken::Nothing)) {
                // Nothing else was due by then: setting the watch up (at the
                // top) is all this wake-up is for, and looking for children
                // would be two wait4 at every start for nothing (a child's
                // exit wakes rinit through its SIGCHLD).
                continue;
            }
            return self.woken(woken);
        }
    }

    /// What a wake-up says, as one event.
    fn woken(&mut self, woken: std::io::Result<Woken>) -> Event {
        match woken {
            // A turn woken by a signal to forward does not look for
            // children: a SIGCHLD queued with it stays pending and gets a
            // turn of its own (the signalfd hands out one signal per read,
            // lowest number first), which keeps a wait4 off the path of
            // every forwarded signal.
            Ok(Woken::Signal(libc::SIGCHLD)) => self.reap(),
            Ok(Woken::Signal(sig)) => Event::Signal(sig),
            Ok(Woken::Descriptor) => {
                self.tell_oom(OomEvent::Notice);
                // A notice looks for children too: the descriptor wins the
                // poll over a pending SIGCHLD, and a stream of notices must
                // not keep rinit from reaping.
                self.reap()
            }
            Ok(Woken::Nothing) => {
                self.tell_oom(OomEvent::Timeout);
                // A timeout looks for children too: the reaper's step may be
                // due, and the machine's look for processes from outside
                // (its poll, while rinit has no child left) is answered by a
                // step alone, which says whether any is left. (A Tick there
                // kept the poll's deadline in the past: a zero timeout spun
                // until the give-up, under -w, -g or kill(-1) alone.)
                self.reap()
            }
            Err(e) => {
                // The wait fails only on bad arguments; say so, avoid
                // spinning on it, and still look for children: a loop that
                // cannot wait must not stop reaping.
                error!("waiting for signals failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
                self.reap()
            }
        }
    }

    /// How long the next wait may sleep: until the machine's deadline, the
    /// OOM watch's recheck or set-up, the reaper's next step or the next
    /// slice of a round of signals, whichever
    /// is first; None (idle: no timer at all) when none is pending. And
    /// whether it is the OOM watch's set-up alone (nothing else due by then).
    fn timeout(&self) -> (Option<Duration>, bool) {
        // The clock is read only if something is due: idle, nothing is,
        // and a forwarded signal's turn ends without a clock read (issue 20).
        let at = std::cell::OnceCell::new();
        let now = || *at.get_or_init(|| self.clock.elapsed());
        let deadline = self.machine.deadline().map(|d| d.saturating_sub(now()));
        let recheck = self.oom.as_ref().and_then(|oom| oom.timeout_with(now));
        let watch_due = self.oom_watch_at.as_ref().map(|_| OOM_WATCH_AFTER.saturating_sub(now()));
        // A round of signals under way goes on at once.
        let round = self.reach.busy().then_some(Duration::ZERO);
        let others = earliest(earliest(deadline, recheck), earliest(self.reaper.due_in(now), round));
        match (watch_due, others) {
            (Some(watch), Some(other)) if other <= watch => (Some(other), false),
            (Some(watch), _) => (Some(watch), true),
            (None, other) => (other, false),
        }
    }

    /// One bounded step of reaping, as the machine's event.
    fn reap(&mut self) -> Event {
        self.tell_oom(OomEvent::BeforeReap);
        let (oom, clock, summary, the_program) = (&mut self.oom, self.clock, &mut self.summary, self.program);
        let Reaped { program, all_gone } = self.reaper.step(self.clock, |pid, ended| {
            // A victim's kill was accounted for when it was found: the
            // report is all there is to this event.
            if let Some(oom) = oom.as_mut() {
                oom.on(OomEvent::Reaped(pid), clock.elapsed());
            }
            if pid != the_program && ended == Ended::Signaled(libc::SIGKILL) {
                summary.reaped_killed(pid);
            }
        });
        if program.is_some() {
            self.program_code = program;
        }
        // As PID 1, no child left is not yet an empty namespace: processes
        // that came in from outside are no children of rinit.
        let others_left = all_gone && self.whole_namespace && self.reach.others_left();
        Event::Reaped { program, all_gone, others_left }
    }

    /// Carries out one action. Out of line, like `finish`: inlined, their
    /// locals made `run`'s frame, under every call of the loop, larger.
    #[inline(never)]
    fn carry_out(&mut self, action: Action) -> After {
        let program_alive = self.program_code.is_none();
        match action {
            Action::Forward(sig) => self.forward(sig),
            Action::Continue => self.continue_program(),
            Action::TermOthers { skip_program_group, continue_stopped_in_group } => {
                if self.reach.terms_everyone(program_alive, skip_program_group) {
                    self.leave_reaping_to_the_kernel();
                }
                match self.reach.term_others(program_alive, skip_program_group, continue_stopped_in_group) {
                    Some(Termed::Deferred) => return After::Tell(Event::TermDeferred),
                    Some(termed) => self.summary.termed(termed),
                    // A round, carried on a slice a turn (`reach_further`).
                    None => {}
                }
            }
            Action::KillAll => {
                // rinit's own SIGKILLs must not be taken for OOM kills.
                self.tell_oom(OomEvent::OwnKills);
                let killed = self.reach.kill_all(program_alive);
                return self.killed(killed);
            }
            Action::GiveUp(code) => {
                match self.reach.left() {
                    Some((left, more)) => (self.summary.left, self.summary.left_more) = (left, more),
                    None => self.summary.unreached = true,
                }
                return After::Exit(code);
            }
            Action::Exit(code) => {
                if self.program_code.is_none() {
                    error!(
                        "the program's exit status was lost (something else reaped pid {}); exiting with {code}",
                        self.program
                    );
                }
                return After::Exit(code);
            }
        }
        After::Go
    }

    /// Takes a SIGKILL round's report into the summary.
    fn killed(&mut self, killed: Killed) -> After {
        let unreachable = killed.unreachable;
        self.summary.killed(killed);
        // Not PID 1 and no usable /proc: rinit's other children cannot be
        // found, so waiting for them would never end. They stay with
        // rinit's parent or the next subreaper.
        if let (true, false, Some(code)) = (unreachable, self.whole_namespace, self.program_code) {
            warn!(
                "the program has exited; leaving its remaining descendants, which rinit cannot find (no /proc of this namespace, or no file descriptor left to read one: RLIMIT_NOFILE)"
            );
            return After::Exit(code);
        }
        After::Go
    }

    /// One slice of the round of signals under way, if any (an action
    /// starts it; the loop carries it on once a turn, between its waits).
    /// Out of line, like `carry_out`.
    #[inline(never)]
    fn reach_further(&mut self) -> After {
        match self.reach.further() {
            Some(Reached::Termed(termed)) => self.summary.termed(termed),
            Some(Reached::Killed(killed)) => return self.killed(killed),
            None => {}
        }
        After::Go
    }

    /// From the kill(-1) that SIGTERMs everyone on, rinit only waits for
    /// the namespace to empty: its children may reap themselves, in
    /// parallel, instead of queueing for rinit's wait4 — unless an OOM kill
    /// is under way whose victim rinit must reap to name it (a kill from
    /// now on is reported unnamed), or `-w` wants each reap logged.
    fn leave_reaping_to_the_kernel(&mut self) {
        if !self.tell_oom(OomEvent::AskKernelReaps) {
            return;
        }
        if self.reaper.leave_to_kernel(self.clock.elapsed()) {
            // Each exit still queues a SIGCHLD; the reaper's pace decides
            // when to look instead.
            self.waiter.stop_waking_on(libc::SIGCHLD);
            self.tell_oom(OomEvent::KernelReaps);
        }
    }

    /// Tells the OOM watch what happened; keeps the kills it accounted for
    /// for `--oom-exit`. Whether no OOM kill is under way (true without a
    /// watch).
    fn tell_oom(&mut self, event: OomEvent) -> bool {
        let Some(oom) = self.oom.as_mut() else { return true };
        let told = oom.on(event, self.clock.elapsed());
        self.oom_kills += told.kills;
        told.quiet
    }

    /// Sets the OOM watch up once `OOM_WATCH_AFTER` has passed, unless the
    /// program has already gone.
    ///
    /// Out of line, like `log_end` (each runs once): inlined, their locals
    /// made `run`'s frame, which is above every call of the loop, larger
    /// (PID 1 may have about 8 KiB of stack in all: rinit(1) CGROUPS).
    #[inline(never)]
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

    /// Logs the shutdown summary; returns the exit status to leave with.
    #[inline(never)]
    fn finish(&mut self, mut code: i32) -> i32 {
        if let Some(t) = self.machine.started() {
            self.summary.took = self.clock.elapsed().saturating_sub(t);
        }
        let mut forced = self.machine.status_forced();
        self.tell_oom(OomEvent::Exit);
        // Issue 23: a kill first accounted for now, as rinit exits (the
        // program ended before the watch had looked at it), counts too.
        if self.oom_exit && self.oom_kills > 0 && !forced {
            warn!("--oom-exit: an OOM kill in the container; exit status {}", shutdown::OOM_EXIT_STATUS);
            code = shutdown::OOM_EXIT_STATUS;
            forced = true;
        }
        self.log_end(code, forced);
        code
    }

    /// The shutdown summary and the exit report. Out of line: their
    /// formatting (1.5 KB of locals) stays off the stack under the OOM
    /// watch's last look, which `finish` makes first.
    #[inline(never)]
    fn log_end(&self, code: i32, forced: bool) {
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
                seen: self.reach.most_listed(),
                ended: self.reaper.program_end(),
                status: code,
                oom_exit: forced,
            };
            report::deliver(wanted, &self.proc_root, exit);
        }
    }

    fn program_target(&self) -> i32 {
        if self.process_group { -self.program } else { self.program }
    }

    fn forward(&mut self, sig: i32) {
        let target = self.program_target();
        match signals::send(target, sig) {
            Ok(()) => {
                debug!("forwarded {} to {}", signals::name(sig), describe_target(target));
                // The program counts as having had the shutdown's SIGTERM
                // once the machine has started the shutdown.
                self.summary.program_termed |= sig == libc::SIGTERM && self.machine.started().is_some();
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
        if reap::program_is_stopped(self.program) {
            let _ = signals::send(self.program_target(), libc::SIGCONT);
            debug!("sent SIGCONT to {}", describe_target(self.program_target()));
        }
    }
}

/// What the loop does once an action is carried out.
enum After {
    /// The next action, or the next wait.
    Go,
    /// Exit with this status.
    Exit(i32),
    /// Tell the machine this before the next wait.
    Tell(Event),
}

/// The sooner of two times, if either is set (a plain match: the generic
/// `flatten().min()` over an array cost 350 instructions a turn at `opt-level = "z"`).
fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

fn describe_target(target: i32) -> String {
    if target < 0 {
        format!("process group {}", -target)
    } else {
        format!("pid {target}")
    }
}
