//! Reaping (rinit(1) DESCRIPTION, SHUTDOWN): one step per turn of the loop, bounded, so
//! that no flood of exits can keep a signal or a deadline waiting.
//!
//! Each `wait4` walks the kernel's list of rinit's children (about a
//! millisecond at 20,000 of them), and a flood of orphans exiting can
//! refill the zombies as fast as they are reaped: a step stops after
//! [`REAP_SLICE`] and the loop comes back at once, after a look at the
//! signals. Once the shutdown has sent everyone SIGTERM through kill(-1),
//! rinit's children may reap themselves ([`Reaper::leave_to_kernel`]) and
//! rinit only looks, paced, whether any is left.

use std::time::{Duration, Instant};

use log::{debug, error, warn};

use crate::signals;
use crate::status::{self, Ended};

/// The longest one step reaps before the loop looks at signals and
/// deadlines again.
pub const REAP_SLICE: Duration = Duration::from_millis(5);

/// What a step found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reaped {
    /// The program's exit status (mapped by `-e`), if it was reaped now.
    pub program: Option<i32>,
    /// rinit has no child left at all.
    pub all_gone: bool,
}

pub struct Reaper {
    program: i32,
    remap_exit: Vec<u8>,
    warn_on_reap: bool,
    by: By,
    /// Issue 23: how the program ended, for the exit report.
    program_end: Option<Ended>,
}

enum By {
    /// rinit reaps; `more`: the last step stopped at its bound with
    /// children perhaps still waiting.
    Rinit { more: bool },
    /// The kernel reaps (SA_NOCLDWAIT); rinit looks at `next` (an offset of
    /// the loop's clock) whether any child is left.
    Kernel { next: Duration },
}

impl Reaper {
    pub fn new(program: i32, remap_exit: Vec<u8>, warn_on_reap: bool) -> Reaper {
        Reaper { program, remap_exit, warn_on_reap, by: By::Rinit { more: false }, program_end: None }
    }

    /// How long until the next step is due, from `now`: None until a
    /// SIGCHLD says a child has ended; zero when the last step left work.
    pub fn due_in(&self, now: impl Fn() -> Duration) -> Option<Duration> {
        match self.by {
            By::Rinit { more } => more.then_some(Duration::ZERO),
            By::Kernel { next } => Some(next.saturating_sub(now())),
        }
    }

    /// Issue 23: how the program ended, once reaped (for the exit report).
    pub fn program_end(&self) -> Option<Ended> {
        self.program_end
    }

    /// Whether a SIGCHLD means work: not once the kernel reaps.
    pub fn wants_sigchld(&self) -> bool {
        matches!(self.by, By::Rinit { .. })
    }

    /// One step: reaps ended children for at most [`REAP_SLICE`] (or, once
    /// the kernel reaps, looks whether any is left), telling `on_reaped`
    /// each pid. `clock` is the loop's.
    pub fn step(&mut self, clock: Instant, mut on_reaped: impl FnMut(i32, Ended)) -> Reaped {
        let started = clock.elapsed();
        let mut program = None;
        // The program's end must be seen in the first step after it,
        // however many zombies queue before it (a flood's, or thousands
        // SIGKILLed at once), so that rinit never gives up without its
        // status. The first wait is for any child: if none has ended (0),
        // the program has not either, and the step ends with that one call
        // (issue 20: a wait for the program first was one wait4 more at
        // start and at every idle step). Once a child has been reaped, the
        // program is waited for by pid, which looks at that child alone,
        // before any other: however long the queue, it is seen now.
        let mut first = true;
        let (all_gone, more) = loop {
            match wait(-1) {
                Waited::Child(pid, raw) => self.reaped(pid, raw, &mut program, &mut on_reaped),
                Waited::Running => break (false, false),
                Waited::NoChild => break (true, false),
                Waited::Failed => break (false, false),
            }
            // The first reap is followed by the program's turn, with no
            // look at the clock: the two waits before the first look are
            // those the step always began with.
            if std::mem::take(&mut first) {
                if self.program_end.is_none()
                    && let Waited::Child(pid, raw) = wait(self.program)
                {
                    self.reaped(pid, raw, &mut program, &mut on_reaped);
                }
            } else if clock.elapsed().saturating_sub(started) >= REAP_SLICE {
                break (false, true);
            }
        };
        let now = clock.elapsed();
        self.by = match self.by {
            By::Rinit { .. } => By::Rinit { more },
            By::Kernel { .. } => By::Kernel { next: now + reap_pause(now.saturating_sub(started)) },
        };
        Reaped { program, all_gone }
    }

    /// One child reaped: the program's status noted, `-w`'s line logged.
    fn reaped(&mut self, pid: i32, raw: i32, program: &mut Option<i32>, on_reaped: &mut impl FnMut(i32, Ended)) {
        let Some(ended) = ending(raw) else { return };
        on_reaped(pid, ended);
        if pid == self.program {
            let code = status::exit_code(ended, &self.remap_exit);
            debug!("program (pid {pid}) {}; exit status {code}", describe_end(ended));
            *program = Some(code);
            self.program_end = Some(ended);
        } else if self.warn_on_reap {
            warn!("reaped pid {pid}, which {}", describe_end(ended));
        }
    }

    /// Lets the kernel reap rinit's children from now on, each in its own
    /// exit path on every CPU instead of one by one in rinit's `wait4`; not
    /// under `-w`, which wants each reap logged. Call before the kill(-1)
    /// that ends them, so that no exit is missed. The first look is due at
    /// once: the kernel drops a SIGCHLD that was pending when the flag was
    /// set. Whether the kernel reaps now.
    pub fn leave_to_kernel(&mut self, now: Duration) -> bool {
        if self.warn_on_reap || !self.wants_sigchld() {
            return !self.wants_sigchld();
        }
        match signals::reap_automatically() {
            Ok(()) => {
                self.by = By::Kernel { next: now };
                true
            }
            Err(e) => {
                debug!("children cannot reap themselves ({e}): rinit reaps them");
                false
            }
        }
    }
}

/// How many times as long as its last look for children rinit sleeps
/// before the next one while they reap themselves.
pub const REAP_PAUSE_FACTOR: u32 = 8;

/// The shortest and longest pause between two looks for children.
pub const REAP_PAUSE_MIN: Duration = Duration::from_micros(100);
pub const REAP_PAUSE_MAX: Duration = crate::shutdown::OTHERS_POLL;

/// How long rinit waits, once its children reap themselves, before it
/// looks again whether any is left. The look is a `wait4` that walks the
/// kernel's list of rinit's children: with 20,000 of them, each look costs
/// about a millisecond, and taking one for every SIGCHLD made rinit the
/// busiest process of the shutdown (BENCHMARKS.md, shutdown at scale).
/// Pausing `REAP_PAUSE_FACTOR` times as long as the last look took keeps
/// rinit's share of a CPU under an eighth while the others exit, and the
/// delay after the last exit short: the last looks, over a short list, are
/// quick. (The loop's wait never sleeps past the machine's deadline.)
pub fn reap_pause(last_look: Duration) -> Duration {
    last_look.saturating_mul(REAP_PAUSE_FACTOR).clamp(REAP_PAUSE_MIN, REAP_PAUSE_MAX)
}

enum Waited {
    /// This child, with its raw wait status.
    Child(i32, i32),
    /// Children, none ended.
    Running,
    /// No child at all (ECHILD).
    NoChild,
    Failed,
}

/// waitpid(`pid`, WNOHANG | __WALL): __WALL also takes children that exit
/// with a signal other than SIGCHLD.
fn wait(pid: i32) -> Waited {
    loop {
        let mut raw = 0;
        // SAFETY: `raw` is a valid out pointer.
        let got = unsafe { libc::waitpid(pid, &mut raw, libc::WNOHANG | libc::__WALL) };
        if got > 0 {
            return Waited::Child(got, raw);
        }
        if got == 0 {
            return Waited::Running;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::ECHILD) => return Waited::NoChild,
            Some(libc::EINTR) => continue,
            _ => {
                error!("waitpid failed: {}", std::io::Error::last_os_error());
                return Waited::Failed;
            }
        }
    }
}

/// How a raw wait status ended a child (None: stopped or continued).
fn ending(raw: i32) -> Option<Ended> {
    if libc::WIFEXITED(raw) {
        Some(Ended::Exited(libc::WEXITSTATUS(raw)))
    } else if libc::WIFSIGNALED(raw) {
        Some(Ended::Signaled(libc::WTERMSIG(raw)))
    } else {
        None
    }
}

/// Whether the program is stopped, asked without reading `/proc`: a stop
/// that nobody has collected with WUNTRACED (rinit never does) stays
/// visible to waitid(WSTOPPED | WNOWAIT) until the program runs again. In
/// doubt (waitid failed), yes: a SIGCONT too many does no harm. But ECHILD
/// is no doubt: the program has been reaped (it exited on the SIGTERM
/// before this look), and under -g its group, which may run on, is not to
/// be woken for it (rinit(1) -g; a review saw the whole group get SIGCONT).
pub fn program_is_stopped(pid: i32) -> bool {
    let Ok(id) = libc::id_t::try_from(pid) else { return true };
    match peek_child(libc::P_PID, id, libc::WSTOPPED) {
        Ok(found) => found == pid,
        Err(e) => e.raw_os_error() != Some(libc::ECHILD),
    }
}

/// waitid(`which`, `id`, `flags` | WNOHANG | WNOWAIT): the pid of a child in
/// the state `flags` asks for, or 0 if none is, leaving it as it is.
pub fn peek_child(which: libc::idtype_t, id: libc::id_t, flags: libc::c_int) -> std::io::Result<i32> {
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

pub fn describe_end(ended: Ended) -> String {
    match ended {
        Ended::Exited(c) => format!("exited with {c}"),
        Ended::Signaled(s) => format!("was killed by {}", signals::name(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reaped_program_is_not_stopped_a_stopped_one_is() {
        // SAFETY: the child only raises SIGSTOP or exits.
        let stopped = unsafe { libc::fork() };
        if stopped == 0 {
            // SAFETY: async-signal-safe calls only, in the forked child.
            unsafe {
                libc::raise(libc::SIGSTOP);
                libc::_exit(0);
            }
        }
        let mut raw = 0;
        // The stop, seen as program_is_stopped sees it (left uncollected).
        while peek_child(libc::P_PID, stopped.unsigned_abs(), libc::WSTOPPED).ok() != Some(stopped) {
            std::thread::yield_now();
        }
        assert!(program_is_stopped(stopped));
        // SAFETY: plain kill and waitpid of our own child, a valid pointer.
        unsafe {
            libc::kill(stopped, libc::SIGKILL);
            libc::waitpid(stopped, &mut raw, 0);
        }
        // Reaped: ECHILD, which is no doubt.
        assert!(!program_is_stopped(stopped));
    }

    #[test]
    fn reap_pause_is_a_multiple_of_the_last_look_within_bounds() {
        let us = Duration::from_micros;
        assert_eq!(reap_pause(us(500)), us(4_000));
        assert_eq!(reap_pause(us(1)), REAP_PAUSE_MIN);
        assert_eq!(reap_pause(Duration::ZERO), REAP_PAUSE_MIN);
        assert_eq!(reap_pause(Duration::from_millis(5)), REAP_PAUSE_MAX);
        assert_eq!(reap_pause(Duration::MAX), REAP_PAUSE_MAX);
    }
}
