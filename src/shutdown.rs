//! The shutdown sequence of SPEC §5 as a pure state machine.
//!
//! Events go in — a signal received, a round of reaping, time passing — each
//! with the current time; actions come out — forward a signal to the program,
//! SIGTERM (and SIGCONT) every other process, SIGKILL everything, exit. The
//! machine never reads a clock or calls the kernel, so the tests drive it
//! with a fake clock. Times are offsets from any fixed origin.
//!
//! Shutdown starts at T, when SIGTERM is received or the program ends by
//! itself. With grace G: every other process gets SIGTERM as soon as the
//! program has ended and at the latest at T+G/2; at T+G whatever is left gets
//! SIGKILL; rinit exits as soon as nothing is left to wait for.

use std::fmt;
use std::time::Duration;

use crate::signals::RewriteMap;
use crate::status;

/// After the SIGKILL at T+G, how often to send it again while processes
/// remain: a fork storm can create processes after the first one.
pub const REKILL_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// rinit received this signal (before rewriting).
    Signal(i32),
    /// A round of reaping: the program's exit status if it was among the
    /// reaped (already mapped by `status::exit_code`), and whether rinit has
    /// no child left at all.
    Reaped { program: Option<i32>, all_gone: bool },
    /// Time passed; nothing else happened.
    Tick,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this signal to the program (or its process group under `-g`).
    Forward(i32),
    /// SIGTERM then SIGCONT to every process but rinit and the program; also
    /// skipping the program's process group when it already has its signal.
    TermOthers { skip_program_group: bool },
    /// SIGKILL to everything still alive but rinit.
    KillAll,
    /// Exit rinit with this status.
    Exit(i32),
}

#[derive(Clone, Debug)]
pub struct Machine {
    grace: Duration,
    rewrite: RewriteMap,
    process_group: bool,
    /// T: when shutdown started.
    started: Option<Duration>,
    /// The program's exit status, once it has ended.
    program: Option<i32>,
    /// SIGTERM (or what it is rewritten to) reached the program's group.
    group_signalled: bool,
    others_termed: bool,
    last_kill: Option<Duration>,
    exited: bool,
}

impl Machine {
    pub fn new(grace: Duration, rewrite: RewriteMap, process_group: bool) -> Machine {
        Machine {
            grace,
            rewrite,
            process_group,
            started: None,
            program: None,
            group_signalled: false,
            others_termed: false,
            last_kill: None,
            exited: false,
        }
    }

    /// When shutdown started, if it has.
    pub fn started(&self) -> Option<Duration> {
        self.started
    }

    /// Feeds one event that happened at `now`; returns what to do, in order.
    pub fn handle(&mut self, event: Event, now: Duration) -> Vec<Action> {
        let mut actions = Vec::new();
        self.handle_into(event, now, &mut actions);
        actions
    }

    /// [`Machine::handle`] appending to `actions`, so that the loop can
    /// reuse one buffer instead of allocating for every signal.
    pub fn handle_into(&mut self, event: Event, now: Duration, actions: &mut Vec<Action>) {
        if self.exited {
            return;
        }
        match event {
            Event::Signal(sig) => self.on_signal(sig, now, actions),
            Event::Reaped { program, all_gone } => {
                if let Some(code) = program
                    && self.program.is_none()
                {
                    self.program = Some(code);
                    self.started.get_or_insert(now);
                }
                if all_gone {
                    // No child at all means the program is gone too; without
                    // its status (something else reaped it) waiting longer
                    // would only hang the container.
                    self.exited = true;
                    actions.push(Action::Exit(self.program.unwrap_or(status::STATUS_LOST)));
                    return;
                }
            }
            Event::Tick => {}
        }
        self.step(now, actions);
    }

    fn on_signal(&mut self, sig: i32, now: Duration, actions: &mut Vec<Action>) {
        if sig == libc::SIGCHLD {
            return; // reaping is the caller's, on every turn
        }
        let is_term = sig == libc::SIGTERM;
        // With no grace the program is SIGKILLed at once: forwarding SIGTERM
        // first would only make its exit status a race.
        let kill_now = is_term && self.grace.is_zero();
        if self.program.is_none()
            && !kill_now
            && let Some(to) = self.rewrite.apply(sig)
        {
            actions.push(Action::Forward(to));
            if is_term && self.process_group {
                self.group_signalled = true;
            }
        }
        if is_term && self.started.is_none() {
            self.started = Some(now);
        }
    }

    fn step(&mut self, now: Duration, actions: &mut Vec<Action>) {
        let Some(t) = self.started else { return };
        if !self.grace.is_zero()
            && !self.others_termed
            && (self.program.is_some() || now >= t + self.grace / 2)
        {
            self.others_termed = true;
            actions.push(Action::TermOthers {
                skip_program_group: self.group_signalled,
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
        let term = (!self.others_termed && !self.grace.is_zero()).then(|| t + self.grace / 2);
        Some(term.map_or(kill, |term| term.min(kill)))
    }
}

/// The one info line that sums up a shutdown (SPEC §5.5).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Processes that got SIGTERM from rinit, the program included.
    pub termed: usize,
    /// Processes that needed SIGKILL: pid and name.
    pub killed: Vec<(i32, String)>,
    /// Whether SIGKILL went out through kill(-1) without a list.
    pub killed_unlisted: bool,
    pub took: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "es" };
        write!(
            f,
            "shutdown: {} process{} got SIGTERM, ",
            self.termed,
            plural(self.termed)
        )?;
        if self.killed.is_empty() && self.killed_unlisted {
            f.write_str("the rest got SIGKILL through kill(-1)")?;
        } else {
            write!(f, "{} needed SIGKILL", self.killed.len())?;
            if !self.killed.is_empty() {
                let list: Vec<String> = self
                    .killed
                    .iter()
                    .map(|(pid, name)| format!("pid {pid} '{name}'"))
                    .collect();
                write!(f, " ({})", list.join(", "))?;
            }
        }
        // Integer arithmetic: float formatting would add ~15 KB to the binary.
        let ms = self.took.as_millis();
        write!(f, ", took {}.{:03}s", ms / 1000, ms % 1000)
    }
}

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
        Event::Reaped { program, all_gone }
    }

    const TERM_OTHERS: Action = Action::TermOthers { skip_program_group: false };

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
        assert_eq!(m.handle(Event::Signal(TERM), ms(100)), vec![Action::Forward(TERM)]);
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
        assert_eq!(m.handle(Event::Signal(TERM), ms(1)), vec![Action::Forward(libc::SIGQUIT)]);
        assert_eq!(m.started(), Some(ms(1)));
    }

    #[test]
    fn process_group_that_got_sigterm_is_skipped() {
        let mut m = Machine::new(ms(1_000), RewriteMap::default(), true);
        m.handle(Event::Signal(TERM), ms(0));
        assert_eq!(
            m.handle(reaped(Some(143), false), ms(5)),
            vec![Action::TermOthers { skip_program_group: true }]
        );
        // Exiting by itself, the group has had nothing: it is not skipped.
        let mut m = Machine::new(ms(1_000), RewriteMap::default(), true);
        assert_eq!(m.handle(reaped(Some(0), false), ms(5)), vec![TERM_OTHERS]);
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
        assert_eq!(m.started(), Some(ms(0)));
    }

    #[test]
    fn summary_line() {
        let s = Summary {
            termed: 3,
            killed: vec![(12, "sleep".into()), (13, "trap".into())],
            killed_unlisted: false,
            took: ms(1_234),
        };
        assert_eq!(
            s.to_string(),
            "shutdown: 3 processes got SIGTERM, 2 needed SIGKILL (pid 12 'sleep', pid 13 'trap'), took 1.234s"
        );
        let s = Summary { termed: 1, took: ms(2), ..Summary::default() };
        assert_eq!(s.to_string(), "shutdown: 1 process got SIGTERM, 0 needed SIGKILL, took 0.002s");
    }
}
