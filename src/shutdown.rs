//! The shutdown sequence of rinit(1) SHUTDOWN as a pure state machine.
//!
//! Events go in — a signal received, a round of reaping, time passing — each
//! with the current time; actions come out — forward a signal to the program,
//! SIGTERM (and SIGCONT) every other process, SIGKILL everything, exit. The
//! machine never reads a clock or calls the kernel, so the tests drive it
//! with a fake clock. Times are offsets from any fixed origin.
//!
//! Shutdown starts at T, when a stop signal (SIGTERM, or one of
//! `--stop-signal`) is received or the program ends by itself. With grace G
//! and term delay D (zero unless `--term-delay`; always below G): at T+D the
//! program gets the stop signal (as rewritten) and a SIGCONT, so that a
//! stopped program can act on it; every other process gets SIGTERM as soon
//! as the program has ended and at the latest halfway from T+D to T+G (T+G/2
//! without a delay); at T+G whatever is left gets SIGKILL; rinit exits as
//! soon as nothing is left to wait for, and gives up waiting
//! [`GIVE_UP_AFTER`] past T+G. A second stop signal during the delay ends
//! it: the held one is passed on at once, then the second as usual.

use std::time::Duration;

use crate::signals::RewriteMap;
use crate::status;

/// After the SIGKILL at T+G, how often to send it again while processes
/// remain: a fork storm can create processes after the first one.
pub const REKILL_INTERVAL: Duration = Duration::from_millis(100);

/// While rinit has no child left but other processes of its namespace remain
/// (they came in through `docker exec` or `nsenter`, so their exits send it
/// no SIGCHLD), how often it looks whether they have gone. Only during a
/// shutdown: idle rinit never wakes up by itself.
pub const OTHERS_POLL: Duration = Duration::from_millis(10);

/// How long past T+G rinit keeps sending SIGKILL before it exits anyway: a
/// fork storm, or a process that cannot die (frozen, in uninterruptible
/// sleep), must not keep rinit from exiting. Short, so that T+G plus this
/// stays inside the engine's stop timeout (Docker's and Podman's 10 s with
/// the default 8 s grace).
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// rinit received this signal (before rewriting).
    Signal(i32),
    /// A round of reaping: the program's exit status if it was among the
    /// reaped (already mapped by `status::exit_code`), whether rinit has no
    /// child left at all, and — when it has none — whether other processes
    /// still live in its PID namespace (as PID 1: processes that came in
    /// from outside; always false when not PID 1).
    Reaped { program: Option<i32>, all_gone: bool, others_left: bool },
    /// The others' SIGTERM ([`Action::TermOthers`]) could not be sent
    /// without hitting the living program with a signal it was not to get
    /// (PID 1 with only kill(-1), and `-r` changed SIGTERM): ask again once
    /// the program has gone.
    TermDeferred,
    /// Time passed; nothing else happened.
    Tick,
    /// The OOM watch reported a kill by the kernel's OOM killer in the
    /// container, and `--oom-exit` is on (rinit(1) CGROUPS): shutdown starts
    /// as on SIGTERM, and rinit exits with [`OOM_EXIT_STATUS`] whatever the
    /// program's status.
    OomKill,
}

/// The exit status after an OOM kill under `--oom-exit`: 128+SIGKILL, what
/// Docker and Kubernetes already show for an OOM-killed container, so that
/// restart policies and alerts read it as such. Forced because the program,
/// stopped by rinit's SIGTERM, would otherwise exit 143 or 0 like after any
/// `docker stop` (rinit(1) EXIT STATUS).
pub const OOM_EXIT_STATUS: i32 = 128 + libc::SIGKILL;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this signal to the program (or its process group under `-g`).
    Forward(i32),
    /// SIGCONT to the program (its group under `-g`) if it is stopped, right
    /// after the SIGTERM that starts shutdown.
    Continue,
    /// SIGTERM then SIGCONT to every process but rinit and the program; also
    /// skipping the program's process group when it already has its signal
    /// (`-g`), and then, `continue_stopped_in_group`, sending SIGCONT to
    /// those of the group that are stopped: not after a stop signal, whose
    /// effect that would undo, as for [`Action::Continue`].
    TermOthers { skip_program_group: bool, continue_stopped_in_group: bool },
    /// SIGKILL to everything still alive but rinit.
    KillAll,
    /// Exit rinit with this status.
    Exit(i32),
    /// Exit rinit with this status although processes remain: the time
    /// past the grace is up. The shell names what is left.
    GiveUp(i32),
}

#[derive(Clone, Debug)]
pub struct Machine {
    grace: Duration,
    rewrite: RewriteMap,
    process_group: bool,
    /// Signals besides SIGTERM that start the shutdown.
    stop_signals: Vec<i32>,
    /// D: how long after T the stop signal is passed on.
    term_delay: Duration,
    /// The stop signal received at T, held until T+D.
    held: Option<i32>,
    /// T: when shutdown started.
    started: Option<Duration>,
    /// The program's exit status, once it has ended.
    program: Option<i32>,
    /// The program has gone, with its status or without (no child left).
    program_gone: bool,
    /// When to look again whether other processes remain: set while rinit
    /// has no child left but its namespace is not empty.
    poll_at: Option<Duration>,
    /// SIGTERM (or what it is rewritten to) reached the program's group.
    group_signalled: bool,
    /// That signal was followed by [`Action::Continue`] (no stop signal):
    /// the group's stopped members are to act on it too.
    group_continued: bool,
    others_termed: bool,
    /// The others' SIGTERM waits for the program's end (`Event::TermDeferred`).
    others_wait_for_program: bool,
    last_kill: Option<Duration>,
    /// When the first SIGKILL round had been carried out: the time of the
    /// first event after it (the shell carries an action out, a listing
    /// and all, before it waits for the next event).
    first_kill: Option<Duration>,
    exited: bool,
    /// The status to exit with whatever the program's (`--oom-exit`).
    forced: Option<i32>,
}

impl Machine {
    pub fn new(grace: Duration, rewrite: RewriteMap, process_group: bool) -> Machine {
        Machine {
            grace,
            rewrite,
            process_group,
            stop_signals: Vec::new(),
            term_delay: Duration::ZERO,
            held: None,
            started: None,
            program: None,
            program_gone: false,
            poll_at: None,
            group_signalled: false,
            group_continued: false,
            others_termed: false,
            others_wait_for_program: false,
            last_kill: None,
            first_kill: None,
            exited: false,
            forced: None,
        }
    }

    /// Signals that start the shutdown as SIGTERM does (`--stop-signal`).
    pub fn with_stop_signals(mut self, signals: &[i32]) -> Machine {
        self.stop_signals = signals.to_vec();
        self
    }

    /// Passes the stop signal on `delay` after it came (`--term-delay`); the
    /// caller keeps it below the grace (cli.rs makes that a usage error).
    pub fn with_term_delay(mut self, delay: Duration) -> Machine {
        self.term_delay = delay;
        self
    }

    /// When shutdown started, if it has.
    pub fn started(&self) -> Option<Duration> {
        self.started
    }

    /// Feeds one event that happened at `now`; returns what to do, in order.
    pub fn handle(&mut self, event: Event, now: Duration) -> Vec<Action> {
        let mut actions = Vec::new();
        self.handle_into(event, || now, &mut actions);
        actions
    }

    /// [`Machine::handle`] appending to `actions`, so that the loop can
    /// reuse one buffer instead of allocating for every signal. `now` is
    /// asked for only where the time matters (a signal forwarded while no
    /// shutdown runs needs none: issue 20, a clock read off the way of
    /// every forwarded signal); it must say the same on every call.
    pub fn handle_into(&mut self, event: Event, now: impl Fn() -> Duration, actions: &mut Vec<Action>) {
        if self.exited {
            return;
        }
        if self.last_kill.is_some() && self.first_kill.is_none() {
            self.first_kill = Some(now());
        }
        match event {
            Event::Signal(sig) => self.on_signal(sig, &now, actions),
            Event::Reaped { program, all_gone, others_left } => {
                if let Some(code) = program
                    && self.program.is_none()
                {
                    self.program = Some(code);
                    self.program_gone = true;
                    self.started.get_or_insert_with(&now);
                }
                self.poll_at = None;
                if all_gone {
                    // No child at all means the program is gone too; without
                    // its status (something else reaped it) waiting longer
                    // than the others need would only hang the container.
                    if !others_left {
                        self.exited = true;
                        actions.push(Action::Exit(self.code()));
                        return;
                    }
                    // Their exits send rinit no SIGCHLD: look again soon.
                    self.program_gone = true;
                    self.started.get_or_insert_with(&now);
                    self.poll_at = Some(now() + OTHERS_POLL);
                }
            }
            Event::TermDeferred => {
                self.others_termed = false;
                self.others_wait_for_program = true;
            }
            Event::Tick => {}
            Event::OomKill => {
                self.forced = Some(OOM_EXIT_STATUS);
                // Exactly what a SIGTERM from the engine does (forwarded
                // through -r, SIGCONT, T set once).
                self.on_signal(libc::SIGTERM, &now, actions);
            }
        }
        self.step(&now, actions);
    }

    /// SIGTERM, or one of `--stop-signal`.
    fn is_stop(&self, sig: i32) -> bool {
        sig == libc::SIGTERM || self.stop_signals.contains(&sig)
    }

    fn on_signal(&mut self, sig: i32, now: &impl Fn() -> Duration, actions: &mut Vec<Action>) {
        if sig == libc::SIGCHLD {
            return; // reaping is the caller's, on every turn
        }
        let is_stop = self.is_stop(sig);
        // With no grace the program is SIGKILLed at once: forwarding SIGTERM
        // first would only make its exit status a race.
        let kill_now = is_stop && self.grace.is_zero();
        let starts = is_stop && self.started.is_none();
        if starts {
            self.started = Some(now());
            if !self.term_delay.is_zero() {
                // Passed on at T+D by `step` (rinit(1) SHUTDOWN, --term-delay).
                self.held = Some(sig);
                return;
            }
        }
        // A second stop signal ends the delay: the held one goes first.
        if is_stop && let Some(held) = self.held.take() {
            self.pass_on(held, true, actions);
        }
        if !kill_now {
            self.pass_on(sig, starts, actions);
        }
    }

    /// Forwards a received signal as rewritten; `starts`: it is the stop
    /// signal that starts the shutdown for the program.
    fn pass_on(&mut self, sig: i32, starts: bool, actions: &mut Vec<Action>) {
        let Some(to) = self.rewrite.apply(sig).filter(|_| !self.program_gone) else { return };
        actions.push(Action::Forward(to));
        let continued = starts && !is_stop_signal(to);
        if continued {
            // Shutdown begins: a stopped program must run to act on its
            // signal, as every other process gets SIGCONT too. (Not when -r
            // turns it into a stop: that would undo it.)
            actions.push(Action::Continue);
        }
        if self.is_stop(sig) && self.process_group {
            self.group_signalled = true;
            self.group_continued |= continued;
        }
    }

    /// When the others get SIGTERM at the latest: halfway from the program's
    /// stop signal (T+D) to the SIGKILL (T+G), so never before the program.
    fn others_due(&self, t: Duration) -> Duration {
        t + self.term_delay + self.grace.saturating_sub(self.term_delay) / 2
    }

    fn step(&mut self, now: &impl Fn() -> Duration, actions: &mut Vec<Action>) {
        let Some(t) = self.started else { return };
        let now = now();
        // Never before the first SIGKILL round, however late the loop came
        // round to it (a turn held up by a long listing).
        if self.give_up_at(t).is_some_and(|at| now >= at) {
            self.exited = true;
            actions.push(Action::GiveUp(self.code()));
            return;
        }
        if self.program_gone {
            // Gone during the delay: nobody to pass the signal on to.
            self.held = None;
        }
        if now >= t + self.term_delay
            && let Some(held) = self.held.take()
        {
            self.pass_on(held, true, actions);
        }
        // Not once SIGKILL has gone out: a SIGTERM after it would only
        // reach corpses.
        if !self.grace.is_zero()
            && !self.others_termed
            && self.last_kill.is_none()
            && (self.program_gone || !self.others_wait_for_program && now >= self.others_due(t))
        {
            self.others_termed = true;
            actions.push(Action::TermOthers {
                skip_program_group: self.group_signalled,
                continue_stopped_in_group: self.group_signalled && self.group_continued,
            });
        }
        let kill_due = match self.last_kill {
            None => now >= t + self.grace,
            Some(last) => now >= last + REKILL_INTERVAL,
        };
        if kill_due {
            self.last_kill = Some(now);
            actions.push(Action::KillAll);
        }
    }

    /// When the machine next wants a `Tick`; `None` while nothing is pending
    /// (rinit then sleeps until a signal comes).
    pub fn deadline(&self) -> Option<Duration> {
        let t = self.started?;
        if self.exited {
            return None;
        }
        let kill = match self.last_kill {
            None => t + self.grace,
            Some(last) => last + REKILL_INTERVAL,
        };
        let term = (!self.others_termed && !self.others_wait_for_program && !self.grace.is_zero()).then(|| self.others_due(t));
        let held = self.held.map(|_| t + self.term_delay);
        let give_up = self.give_up_at(t).unwrap_or(t + self.grace + GIVE_UP_AFTER);
        Some([term, held, self.poll_at].into_iter().flatten().fold(kill.min(give_up), Duration::min))
    }

    /// When rinit gives up waiting: [`GIVE_UP_AFTER`] past the grace, and
    /// never before its first SIGKILL round has had a [`REKILL_INTERVAL`]
    /// to take effect (a turn held up by a long listing can send it late).
    /// None before that round.
    fn give_up_at(&self, t: Duration) -> Option<Duration> {
        self.first_kill.map(|first| (t + self.grace + GIVE_UP_AFTER).max(first + REKILL_INTERVAL))
    }

    /// The status to exit with: the program's, or the one that says it was
    /// lost.
    fn code(&self) -> i32 {
        self.forced.unwrap_or_else(|| self.program.unwrap_or(status::STATUS_LOST))
    }

    /// Whether the exit status is forced by an OOM kill (`--oom-exit`).
    pub fn status_forced(&self) -> bool {
        self.forced.is_some()
    }
}

/// Signals that stop a process: a SIGCONT right after one would undo it.
fn is_stop_signal(sig: i32) -> bool {
    matches!(sig, libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU)
}

#[cfg(test)]
mod oom_tests;

#[cfg(test)]
mod tests {
    use super::*;

    const TERM: i32 = libc::SIGTERM;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn machine(grace_ms: u64) -> Machine {
        Machine::new(ms(grace_ms), RewriteMap::default(), false)
    }

    fn reaped(program: Option<i32>, all_gone: bool) -> Event {
        Event::Reaped { program, all_gone, others_left: false }
    }

    /// No child left, but processes from outside remain in the namespace.
    fn only_others(program: Option<i32>) -> Event {
        Event::Reaped { program, all_gone: true, others_left: true }
    }

    const CONT: Action = Action::Continue;

    const TERM_OTHERS: Action = Action::TermOthers { skip_program_group: false, continue_stopped_in_group: false };

    #[test]
    fn idle_has_no_deadline_and_signals_are_forwarded() {
        let mut m = machine(10_000);
        assert_eq!(m.deadline(), None);
        assert_eq!(m.handle(Event::Signal(libc::SIGHUP), ms(5)), vec![Action::Forward(libc::SIGHUP)]);
        assert_eq!(m.handle(Event::Signal(libc::SIGCHLD), ms(6)), vec![]);
        assert_eq!(m.handle(Event::Tick, ms(7)), vec![]);
        assert_eq!(m.deadline(), None, "no timer while idle");
        assert_eq!(m.started(), None);
    }

    #[test]
    fn sigterm_when_everyone_complies() {
        let mut m = machine(10_000);
        assert_eq!(m.handle(Event::Signal(TERM), ms(100)), vec![Action::Forward(TERM), CONT]);
        assert_eq!(m.started(), Some(ms(100)));
        assert_eq!(m.deadline(), Some(ms(5_100)), "others by T+G/2");
        // The program exits: everyone else gets SIGTERM at once.
        assert_eq!(m.handle(reaped(Some(143), false), ms(150)), vec![TERM_OTHERS]);
        assert_eq!(m.deadline(), Some(ms(10_100)));
        // The last one goes: exit at once, not at the deadline.
        assert_eq!(m.handle(reaped(None, true), ms(160)), vec![Action::Exit(143)]);
        assert_eq!(m.deadline(), None);
        assert_eq!(m.handle(Event::Tick, ms(20_000)), vec![], "nothing after exit");
    }

    #[test]
    fn program_alone_exits_at_once() {
        let mut m = machine(10_000);
        assert_eq!(m.handle(reaped(Some(3), true), ms(10)), vec![Action::Exit(3)]);
    }

    #[test]
    fn program_exiting_by_itself_starts_shutdown_for_the_others() {
        let mut m = machine(2_000);
        assert_eq!(m.handle(reaped(Some(0), false), ms(500)), vec![TERM_OTHERS]);
        assert_eq!(m.started(), Some(ms(500)));
        assert_eq!(m.deadline(), Some(ms(2_500)));
        assert_eq!(m.handle(Event::Tick, ms(2_499)), vec![]);
        assert_eq!(m.handle(Event::Tick, ms(2_500)), vec![Action::KillAll]);
        assert_eq!(m.handle(reaped(None, true), ms(2_510)), vec![Action::Exit(0)]);
    }

    #[test]
    fn slow_program_others_get_sigterm_at_half_the_grace() {
        let mut m = machine(10_000);
        m.handle(Event::Signal(TERM), ms(0));
        assert_eq!(m.handle(Event::Tick, ms(4_999)), vec![]);
        assert_eq!(m.handle(Event::Tick, ms(5_000)), vec![TERM_OTHERS]);
        // Not twice, even when the program exits later.
        assert_eq!(m.handle(reaped(Some(143), false), ms(6_000)), vec![]);
        assert_eq!(m.handle(reaped(None, true), ms(6_001)), vec![Action::Exit(143)]);
    }

    #[test]
    fn program_ignoring_sigterm_is_killed_at_the_grace() {
        let mut m = machine(1_000);
        m.handle(Event::Signal(TERM), ms(0));
        assert_eq!(m.handle(Event::Tick, ms(500)), vec![TERM_OTHERS]);
        assert_eq!(m.deadline(), Some(ms(1_000)));
        assert_eq!(m.handle(Event::Tick, ms(1_000)), vec![Action::KillAll]);
        // Killed again while something is left (a fork storm).
        assert_eq!(m.deadline(), Some(ms(1_100)));
        assert_eq!(m.handle(Event::Tick, ms(1_050)), vec![]);
        assert_eq!(m.handle(Event::Tick, ms(1_100)), vec![Action::KillAll]);
        assert_eq!(m.handle(reaped(Some(137), true), ms(1_101)), vec![Action::Exit(137)]);
    }

    #[test]
    fn a_stopped_program_gets_sigcont_after_sigterm_once() {
        let mut m = machine(1_000);
        assert_eq!(m.handle(Event::Signal(TERM), ms(0)), vec![Action::Forward(TERM), CONT]);
        // A second SIGTERM is forwarded, without another SIGCONT.
        assert_eq!(m.handle(Event::Signal(TERM), ms(10)), vec![Action::Forward(TERM)]);
        // A dropped SIGTERM (-r TERM:0) sends nothing at all.
        let mut rw = RewriteMap::default();
        rw.insert(TERM, 0);
        let mut m = Machine::new(ms(1_000), rw, false);
        assert_eq!(m.handle(Event::Signal(TERM), ms(0)), vec![]);
        // Other signals never bring a SIGCONT.
        let mut m = machine(1_000);
        assert_eq!(m.handle(Event::Signal(libc::SIGTSTP), ms(0)), vec![Action::Forward(libc::SIGTSTP)]);
        // Nor does a SIGTERM rewritten into a stop signal (-r TERM:TSTP).
        let mut rw = RewriteMap::default();
        rw.insert(TERM, libc::SIGTSTP);
        let mut m = Machine::new(ms(1_000), rw, false);
        assert_eq!(m.handle(Event::Signal(TERM), ms(0)), vec![Action::Forward(libc::SIGTSTP)]);
    }

    #[test]
    fn processes_from_outside_get_sigterm_and_are_waited_for() {
        let mut m = machine(8_000);
        m.handle(Event::Signal(TERM), ms(0));
        // The program has gone and rinit has no child, but an exec'd shell
        // remains: it gets SIGTERM, and rinit looks again soon.
        assert_eq!(m.handle(only_others(Some(143)), ms(20)), vec![TERM_OTHERS]);
        assert_eq!(m.deadline(), Some(ms(20) + OTHERS_POLL));
        assert_eq!(m.handle(only_others(None), ms(30)), vec![]);
        assert_eq!(m.deadline(), Some(ms(30) + OTHERS_POLL));
        // It has gone: exit with the program's status.
        assert_eq!(m.handle(reaped(None, true), ms(40)), vec![Action::Exit(143)]);
    }

    #[test]
    fn processes_from_outside_count_when_the_program_exits_by_itself() {
        let mut m = machine(2_000);
        assert_eq!(m.handle(only_others(Some(0)), ms(100)), vec![TERM_OTHERS]);
        assert_eq!(m.started(), Some(ms(100)));
        // One that ignores SIGTERM is killed at the grace.
        assert_eq!(m.handle(only_others(None), ms(2_099)), vec![]);
        assert_eq!(m.handle(only_others(None), ms(2_100)), vec![Action::KillAll]);
        assert_eq!(m.handle(reaped(None, true), ms(2_105)), vec![Action::Exit(0)]);
    }

    #[test]
    fn no_poll_timer_while_children_remain_or_when_idle() {
        let mut m = machine(2_000);
        assert_eq!(m.handle(reaped(None, false), ms(1)), vec![]);
        assert_eq!(m.deadline(), None, "idle: no timer at all");
        m.handle(reaped(Some(0), false), ms(5));
        assert_eq!(m.deadline(), Some(ms(2_005)), "children send SIGCHLD: no polling");
    }

    #[test]
    fn gives_up_one_interval_past_the_grace() {
        let mut m = machine(1_000);
        m.handle(Event::Signal(TERM), ms(0));
        m.handle(reaped(Some(143), false), ms(10));
        assert_eq!(m.handle(Event::Tick, ms(1_000)), vec![Action::KillAll]);
        let mut now = ms(1_000);
        while now < ms(1_000) + GIVE_UP_AFTER {
            let next = m.deadline().unwrap();
            assert!(next > now && next <= ms(1_000) + GIVE_UP_AFTER, "{next:?}");
            now = next;
            let acts = m.handle(Event::Tick, now);
            if now < ms(1_000) + GIVE_UP_AFTER {
                assert_eq!(acts, vec![Action::KillAll], "at {now:?}");
            } else {
                assert_eq!(acts, vec![Action::GiveUp(143)]);
            }
        }
        assert_eq!(m.deadline(), None);
        assert_eq!(m.handle(Event::Tick, ms(9_000)), vec![]);
        // Without the program's status: the lost-status code.
        let mut m = machine(0);
        m.handle(Event::Signal(TERM), ms(0));
        // The loop's next event, after the SIGKILL round was carried out.
        m.handle(Event::Tick, ms(1));
        assert_eq!(m.handle(Event::Tick, GIVE_UP_AFTER), vec![Action::GiveUp(status::STATUS_LOST)]);
    }

    #[test]
    fn grace_zero_kills_at_once_without_forwarding() {
        let mut m = machine(0);
        assert_eq!(m.handle(Event::Signal(TERM), ms(7)), vec![Action::KillAll]);
        assert_eq!(m.handle(reaped(Some(137), true), ms(8)), vec![Action::Exit(137)]);
        let mut m = machine(0);
        assert_eq!(m.handle(reaped(Some(0), false), ms(7)), vec![Action::KillAll]);
        assert_eq!(m.handle(reaped(None, true), ms(9)), vec![Action::Exit(0)]);
    }

    #[test]
    fn rewrite_applies_to_the_program_but_sigterm_still_starts_shutdown() {
        let mut rw = RewriteMap::default();
        rw.insert(TERM, libc::SIGQUIT);
        rw.insert(libc::SIGUSR1, 0);
        let mut m = Machine::new(ms(1_000), rw, false);
        assert_eq!(m.handle(Event::Signal(libc::SIGUSR1), ms(0)), vec![]);
        assert_eq!(m.started(), None);
        assert_eq!(m.handle(Event::Signal(TERM), ms(1)), vec![Action::Forward(libc::SIGQUIT), CONT]);
        assert_eq!(m.started(), Some(ms(1)));
    }

    #[test]
    fn process_group_that_got_sigterm_is_skipped() {
        let mut m = Machine::new(ms(1_000), RewriteMap::default(), true);
        m.handle(Event::Signal(TERM), ms(0));
        assert_eq!(
            m.handle(reaped(Some(143), false), ms(5)),
            vec![Action::TermOthers { skip_program_group: true, continue_stopped_in_group: true }]
        );
        // Exiting by itself, the group has had nothing: it is not skipped.
        let mut m = Machine::new(ms(1_000), RewriteMap::default(), true);
        assert_eq!(m.handle(reaped(Some(0), false), ms(5)), vec![TERM_OTHERS]);
    }

    #[test]
    fn the_stopped_of_the_group_are_continued_unless_its_signal_was_a_stop() {
        let skip = |cont| Action::TermOthers { skip_program_group: true, continue_stopped_in_group: cont };
        // The program still runs at T+G/2: the others' round skips the group.
        let mut m = Machine::new(ms(1_000), RewriteMap::default(), true);
        assert_eq!(m.handle(Event::Signal(TERM), ms(0)), vec![Action::Forward(TERM), CONT]);
        assert_eq!(m.handle(Event::Tick, ms(500)), vec![skip(true)]);
        // -r TERM:TSTP stopped the group itself: no SIGCONT would undo it.
        let mut rw = RewriteMap::default();
        rw.insert(TERM, libc::SIGTSTP);
        let mut m = Machine::new(ms(1_000), rw, true);
        assert_eq!(m.handle(Event::Signal(TERM), ms(0)), vec![Action::Forward(libc::SIGTSTP)]);
        assert_eq!(m.handle(Event::Tick, ms(500)), vec![skip(false)]);
        // Held by --term-delay, the signal goes out at T+D as at T.
        let mut m = Machine::new(ms(1_000), RewriteMap::default(), true).with_term_delay(ms(200));
        m.handle(Event::Signal(TERM), ms(0));
        assert_eq!(m.handle(Event::Tick, ms(200)), vec![Action::Forward(TERM), CONT]);
        assert_eq!(m.handle(Event::Tick, ms(600)), vec![skip(true)]);
    }

    #[test]
    fn no_child_left_without_the_programs_status_still_exits() {
        let mut m = machine(1_000);
        m.handle(Event::Signal(TERM), ms(0));
        assert_eq!(m.handle(reaped(None, true), ms(5)), vec![Action::Exit(status::STATUS_LOST)]);
        assert_eq!(m.deadline(), None);
    }

    #[test]
    fn nothing_is_forwarded_once_the_program_has_ended() {
        let mut m = machine(1_000);
        m.handle(reaped(Some(1), false), ms(0));
        assert_eq!(m.handle(Event::Signal(libc::SIGINT), ms(1)), vec![]);
        assert_eq!(m.handle(Event::Signal(TERM), ms(2)), vec![]);
        assert_eq!(m.started(), Some(ms(0)), "a later SIGTERM does not move T");
    }

    #[test]
    fn a_second_sigterm_is_forwarded_but_keeps_t() {
        let mut m = machine(1_000);
        m.handle(Event::Signal(TERM), ms(0));
        assert_eq!(m.handle(Event::Signal(TERM), ms(300)), vec![Action::Forward(TERM)]);
        assert_eq!(m.handle(Event::Signal(TERM), ms(400)), vec![Action::Forward(TERM)], "one SIGCONT, at the start");
        assert_eq!(m.started(), Some(ms(0)));
    }

    const QUIT: i32 = libc::SIGQUIT;

    #[test]
    fn a_stop_signal_starts_the_shutdown_as_sigterm_does() {
        let mut m = machine(10_000).with_stop_signals(&[QUIT]);
        assert_eq!(m.handle(Event::Signal(QUIT), ms(100)), vec![Action::Forward(QUIT), CONT]);
        assert_eq!(m.started(), Some(ms(100)));
        assert_eq!(m.deadline(), Some(ms(5_100)), "others by T+G/2");
        assert_eq!(m.handle(Event::Tick, ms(5_100)), vec![TERM_OTHERS]);
        assert_eq!(m.handle(Event::Tick, ms(10_100)), vec![Action::KillAll]);
        // SIGTERM still is one, and the first one fixes T.
        assert_eq!(m.handle(Event::Signal(TERM), ms(10_101)), vec![Action::Forward(TERM)]);
        assert_eq!(m.started(), Some(ms(100)));
        // Without --stop-signal a QUIT is only forwarded: no shutdown, no timer.
        let mut m = machine(10_000);
        assert_eq!(m.handle(Event::Signal(QUIT), ms(100)), vec![Action::Forward(QUIT)]);
        assert_eq!((m.started(), m.deadline()), (None, None));
    }

    #[test]
    fn a_stop_signal_is_forwarded_as_rewritten_and_counts_for_the_group() {
        let mut rw = RewriteMap::default();
        rw.insert(QUIT, libc::SIGINT);
        let mut m = Machine::new(ms(1_000), rw, true).with_stop_signals(&[QUIT]);
        assert_eq!(m.handle(Event::Signal(QUIT), ms(0)), vec![Action::Forward(libc::SIGINT), CONT]);
        assert_eq!(
            m.handle(reaped(Some(130), false), ms(5)),
            vec![Action::TermOthers { skip_program_group: true, continue_stopped_in_group: true }]
        );
        // With no grace, a stop signal kills at once, as SIGTERM does.
        let mut m = machine(0).with_stop_signals(&[QUIT]);
        assert_eq!(m.handle(Event::Signal(QUIT), ms(7)), vec![Action::KillAll]);
    }

    fn delayed(grace_ms: u64, delay_ms: u64) -> Machine {
        machine(grace_ms).with_term_delay(ms(delay_ms))
    }

    #[test]
    fn the_term_delay_holds_the_stop_signal_inside_the_grace() {
        let mut m = delayed(10_000, 2_000);
        assert_eq!(m.handle(Event::Signal(TERM), ms(100)), vec![]);
        assert_eq!(m.started(), Some(ms(100)), "the grace counts from the arrival");
        assert_eq!(m.deadline(), Some(ms(2_100)), "woken for the delayed forward");
        // Other signals still pass during the delay.
        assert_eq!(m.handle(Event::Signal(libc::SIGUSR1), ms(500)), vec![Action::Forward(libc::SIGUSR1)]);
        assert_eq!(m.handle(Event::Tick, ms(2_099)), vec![]);
        assert_eq!(m.handle(Event::Tick, ms(2_100)), vec![Action::Forward(TERM), CONT]);
        // The others by halfway from the forward to the SIGKILL, never before the program.
        assert_eq!(m.deadline(), Some(ms(6_100)));
        assert_eq!(m.handle(Event::Tick, ms(6_099)), vec![]);
        assert_eq!(m.handle(Event::Tick, ms(6_100)), vec![TERM_OTHERS]);
        assert_eq!(m.deadline(), Some(ms(10_100)), "SIGKILL at T+G, the delay included");
        assert_eq!(m.handle(Event::Tick, ms(10_100)), vec![Action::KillAll]);
        assert_eq!(m.handle(reaped(Some(137), true), ms(10_101)), vec![Action::Exit(137)]);
    }

    #[test]
    fn a_second_stop_signal_during_the_delay_passes_it_on_at_once() {
        let mut m = delayed(10_000, 2_000).with_stop_signals(&[QUIT]);
        assert_eq!(m.handle(Event::Signal(QUIT), ms(0)), vec![]);
        assert_eq!(
            m.handle(Event::Signal(TERM), ms(300)),
            vec![Action::Forward(QUIT), CONT, Action::Forward(TERM)],
            "the held one first, then the second as without a delay"
        );
        assert_eq!(m.deadline(), Some(ms(6_000)), "no forward left to wait for");
        assert_eq!(m.handle(Event::Tick, ms(2_000)), vec![]);
        assert_eq!(m.handle(Event::Signal(TERM), ms(2_500)), vec![Action::Forward(TERM)]);
    }

    #[test]
    fn the_program_exiting_during_the_delay_shuts_the_rest_down_as_usual() {
        let mut m = delayed(10_000, 2_000);
        assert_eq!(m.handle(Event::Signal(TERM), ms(0)), vec![]);
        assert_eq!(m.handle(reaped(Some(0), false), ms(1_000)), vec![TERM_OTHERS]);
        assert_eq!(m.deadline(), Some(ms(10_000)), "no forward, the SIGKILL at T+G");
        assert_eq!(m.handle(Event::Tick, ms(2_000)), vec![]);
        assert_eq!(m.handle(reaped(None, true), ms(2_001)), vec![Action::Exit(0)]);
    }

    #[test]
    fn the_delayed_signal_is_rewritten_when_it_is_passed_on() {
        let mut rw = RewriteMap::default();
        rw.insert(TERM, QUIT);
        let mut m = Machine::new(ms(4_000), rw, false).with_term_delay(ms(1_000));
        assert_eq!(m.handle(Event::Signal(TERM), ms(0)), vec![]);
        assert_eq!(m.handle(Event::Tick, ms(1_000)), vec![Action::Forward(QUIT), CONT]);
        assert_eq!(m.deadline(), Some(ms(2_500)));
    }

    #[test]
    fn a_deferred_term_for_the_others_waits_for_the_program_not_the_half_grace() {
        let mut m = machine(1_000);
        m.handle(Event::Signal(TERM), ms(0));
        assert_eq!(m.handle(Event::Tick, ms(500)), vec![TERM_OTHERS], "due at G/2");
        // The shell could not send it without hitting the program.
        assert_eq!(m.handle(Event::TermDeferred, ms(500)), vec![]);
        assert_eq!(m.deadline(), Some(ms(1_000)), "no G/2 deadline again: the SIGKILL's");
        assert_eq!(m.handle(Event::Tick, ms(600)), vec![]);
        // The program goes: the others get their SIGTERM at once.
        assert_eq!(m.handle(reaped(Some(0), false), ms(700)), vec![TERM_OTHERS]);
        assert_eq!(m.handle(Event::Tick, ms(1_000)), vec![Action::KillAll]);
    }

    #[test]
    fn a_late_turn_sends_sigkill_before_it_gives_up() {
        // A turn held up past T+G+GIVE_UP_AFTER (a long listing) must still
        // SIGKILL first: giving up at once would leave everything running.
        let mut m = machine(1_000);
        m.handle(Event::Signal(TERM), ms(0));
        let late = ms(1_000) + GIVE_UP_AFTER + ms(600);
        assert_eq!(m.handle(Event::Tick, late), vec![TERM_OTHERS, Action::KillAll]);
        // The SIGKILL round, carried out by the next event (a listing may
        // take a while), gets its REKILL_INTERVAL before rinit gives up.
        let done = late + ms(300);
        assert_eq!(m.handle(Event::Tick, done), vec![Action::KillAll], "the next round is due");
        assert_eq!(m.deadline(), Some(done + REKILL_INTERVAL));
        assert_eq!(m.handle(reaped(Some(137), false), done + ms(1)), vec![]);
        assert_eq!(m.handle(Event::Tick, done + REKILL_INTERVAL), vec![Action::GiveUp(137)]);
    }
}
