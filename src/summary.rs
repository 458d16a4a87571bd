//! The one line that sums up a shutdown (rinit(1) SHUTDOWN), built from
//! what the shutdown's actions report they reached (`reach`), and from
//! nothing else. Pure: formatting and bookkeeping only.

use crate::procs::PidSet;
use std::fmt;
use std::time::Duration;

/// How SIGTERM reached the processes other than the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Termed {
    /// These many, one by one, as listed; `missed`: outside a namespace,
    /// some `stat` could not be read, and the descendants below it were
    /// not found.
    Listed { count: usize, missed: bool },
    /// Every process, through kill(-1), uncounted (a count would cost a
    /// look at `/proc`: see `Reach::term_others`).
    Everyone,
    /// Nobody yet: kill(-1) would hit the living program with a SIGTERM
    /// that it was not to get (`-r` turned it into something else). The
    /// machine asks again once the program has gone.
    Deferred,
    /// Nobody: rinit cannot find them (not PID 1, no `/proc`).
    Unreachable,
}

/// A process as the summary names it: its pid, and its name (None: its
/// `stat` could not be read, shown as "name unknown", never as a name a
/// process could have chosen).
pub type Named = (i32, Option<String>);

/// What one SIGKILL round reached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Killed {
    /// The processes listed and SIGKILLed: pid and name.
    pub listed: Vec<Named>,
    /// kill(-1) found processes that no listing named.
    pub unlisted: bool,
    /// rinit cannot find all that is left (not PID 1, without `/proc`, or
    /// with `stat` files it could not read).
    pub unreachable: bool,
    /// kill(-1) reached something while rinit had a zombie child, which it
    /// reaches too: whether a live process was there is told by the deaths
    /// reaped after it ([`Summary::reaped_killed`]).
    pub unsure: bool,
}

/// At info level when everyone left in time, as a warning when anything
/// needed SIGKILL or was left behind (the case the line exists for, so it
/// must show at the default level).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The program got the shutdown's SIGTERM from rinit.
    pub program_termed: bool,
    /// The others' SIGTERM, once sent.
    pub others: Option<Termed>,
    /// Processes that needed SIGKILL, each named once however many rounds
    /// a fork storm takes: pid and name.
    pub killed: Vec<Named>,
    /// SIGKILL through kill(-1) reached processes no listing named.
    pub killed_unlisted: bool,
    /// A kill(-1) that may have reached only a zombie: a SIGKILL death
    /// reaped from then on settles it.
    pub killed_unsure: bool,
    /// Processes still there when rinit gave up waiting: pid and name.
    pub left: Vec<Named>,
    /// More may have been left than `left` names (its look is bounded).
    pub left_more: bool,
    /// Descendants that rinit could not find were left behind.
    pub unreached: bool,
    pub took: Duration,
}

impl Summary {
    /// The others' SIGTERM; a round over several turns reports each turn's
    /// share, which add up.
    pub fn termed(&mut self, others: Termed) {
        self.unreached |= matches!(others, Termed::Listed { missed: true, .. });
        self.others = Some(match (self.others, others) {
            (Some(Termed::Listed { count: a, missed: x }), Termed::Listed { count: b, missed: y }) => {
                Termed::Listed { count: a + b, missed: x || y }
            }
            (_, others) => others,
        });
    }

    pub fn killed(&mut self, round: Killed) {
        let mut named: PidSet<i32> = self.killed.iter().map(|(pid, _)| *pid).collect();
        for (pid, name) in round.listed {
            if named.insert(pid) {
                self.killed.push((pid, name));
            }
        }
        self.killed_unlisted |= round.unlisted;
        self.killed_unsure |= round.unsure;
        self.unreached |= round.unreachable;
    }

    /// A process other than the program was reaped, killed by SIGKILL:
    /// after a kill(-1) that was unsure of whom it reached, somebody was
    /// there, unless it is one a round named (a repeated kill(-1) beside a
    /// zombie is unsure too, while the first round's named victims are
    /// still being reaped: a review saw "and others" with all 300 named).
    /// The processes the kill(-1) ended are all rinit's to reap as PID 1:
    /// their parents die with them.
    pub fn reaped_killed(&mut self, pid: i32) {
        // Settled once is settled: no look through the names after that.
        if self.killed_unsure && !self.killed_unlisted && !self.killed.iter().any(|(named, _)| *named == pid) {
            self.killed_unlisted = true;
        }
    }

    /// Everyone left in time: nothing needed SIGKILL, nothing was left.
    pub fn is_clean(&self) -> bool {
        self.killed.is_empty() && !self.killed_unlisted && self.left.is_empty() && !self.left_more && !self.unreached && self.others != Some(Termed::Unreachable)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "es" };
        // At most ten names: a fork storm must not make one line of 20,000.
        let list = |v: &[Named]| {
            let one = |(pid, name): &Named| crate::procs::Shown(*pid, name.as_ref()).to_string();
            let mut s = v.iter().take(10).map(one).collect::<Vec<_>>().join(", ");
            if v.len() > 10 {
                s.push_str(&format!(" and {} more", v.len() - 10));
            }
            s
        };
        f.write_str("shutdown: ")?;
        if self.others == Some(Termed::Everyone) {
            f.write_str("every process got SIGTERM through kill(-1), ")?;
        } else {
            let others = match self.others {
                Some(Termed::Listed { count, .. }) => count,
                _ => 0,
            };
            let n = usize::from(self.program_termed) + others;
            write!(f, "{n} process{} got SIGTERM, ", plural(n))?;
        }
        if self.killed.is_empty() && self.killed_unlisted {
            f.write_str("the rest got SIGKILL through kill(-1)")?;
        } else {
            write!(f, "{} needed SIGKILL", self.killed.len())?;
            if !self.killed.is_empty() {
                write!(f, " ({})", list(&self.killed))?;
            }
            // Named, and more that no listing named in time.
            if !self.killed.is_empty() && self.killed_unlisted {
                f.write_str(" and others through kill(-1)")?;
            }
        }
        match (self.left.is_empty(), self.left_more) {
            (false, more) => {
                let at_least = if more { "at least " } else { "" };
                write!(f, ", {at_least}{} still running when rinit gave up ({})", self.left.len(), list(&self.left))?;
            }
            (true, true) => f.write_str(", processes were still running when rinit gave up (not named in time)")?,
            (true, false) => {}
        }
        if self.unreached {
            f.write_str(", descendants that rinit could not find were left running")?;
        }
        if self.others == Some(Termed::Unreachable) {
            f.write_str(", the other processes could not be found to get SIGTERM (no /proc of this namespace)")?;
        }
        // Integer arithmetic: float formatting would add ~15 KB to the binary.
        let ms = self.took.as_millis();
        write!(f, ", took {}.{:03}s", ms / 1000, ms % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_kill_all_beside_a_zombie_counts_once_a_sigkill_death_is_reaped() {
        let mut s = Summary { took: ms(1_000), ..Summary::default() };
        s.others = Some(Termed::Everyone);
        s.killed(Killed { unsure: true, ..Killed::default() });
        assert!(s.is_clean(), "a zombie alone: nobody needed SIGKILL");
        assert!(s.to_string().contains(", 0 needed SIGKILL,"), "{s}");
        s.reaped_killed(40);
        assert!(!s.is_clean());
        assert!(s.to_string().contains("the rest got SIGKILL through kill(-1)"), "{s}");
        // A SIGKILL death with no unsure kill(-1) before it changes nothing.
        let mut s = Summary::default();
        s.reaped_killed(40);
        assert!(s.is_clean());
        // Nor does the death of one a round named.
        let mut s = Summary::default();
        s.killed(Killed { listed: vec![(12, Some("sleep".into()))], ..Killed::default() });
        s.killed(Killed { unsure: true, ..Killed::default() });
        s.reaped_killed(12);
        assert!(!s.killed_unlisted, "{s}");
        assert!(s.to_string().contains("1 needed SIGKILL (pid 12 'sleep'),"), "{s}");
    }

    #[test]
    fn a_name_that_could_not_be_read_is_said_so_outside_the_quotes() {
        // Review 13: it was '?', which a process may call itself.
        let mut s = Summary { program_termed: true, took: ms(1_000), ..Summary::default() };
        s.killed(Killed { listed: vec![(2, Some("?".into())), (3, None)], ..Killed::default() });
        assert_eq!(
            s.to_string(),
            "shutdown: 1 process got SIGTERM, 2 needed SIGKILL (pid 2 '?', pid 3 (name unknown)), took 1.000s"
        );
    }

    #[test]
    fn summary_line() {
        let mut s = Summary { program_termed: true, took: ms(1_234), ..Summary::default() };
        s.termed(Termed::Listed { count: 2, missed: false });
        s.killed(Killed { listed: vec![(12, Some("sleep".into())), (13, Some("trap".into()))], ..Killed::default() });
        assert_eq!(
            s.to_string(),
            "shutdown: 3 processes got SIGTERM, 2 needed SIGKILL (pid 12 'sleep', pid 13 'trap'), took 1.234s"
        );
        let s = Summary { program_termed: true, took: ms(2), ..Summary::default() };
        assert_eq!(s.to_string(), "shutdown: 1 process got SIGTERM, 0 needed SIGKILL, took 0.002s");
        assert!(s.is_clean());
        let mut s = Summary { program_termed: true, took: ms(9_000), ..Summary::default() };
        s.termed(Termed::Listed { count: 1, missed: true });
        s.killed(Killed { unlisted: true, ..Killed::default() });
        s.left = vec![(40, Some("\u{fffd}x".into()))];
        assert_eq!(
            s.to_string(),
            "shutdown: 2 processes got SIGTERM, the rest got SIGKILL through kill(-1), 1 still running when rinit gave up (pid 40 '\u{fffd}x'), descendants that rinit could not find were left running, took 9.000s"
        );
        assert!(!s.is_clean());
        let mut k = Summary::default();
        k.killed(Killed { unlisted: true, ..Killed::default() });
        assert!(!k.is_clean());
        let mut s = Summary { program_termed: true, took: ms(8_001), ..Summary::default() };
        s.termed(Termed::Everyone);
        s.killed(Killed { listed: (1..=12).map(|p| (p, Some("sleep".to_string()))).collect(), ..Killed::default() });
        assert_eq!(
            s.to_string(),
            "shutdown: every process got SIGTERM through kill(-1), 12 needed SIGKILL (pid 1 'sleep', pid 2 'sleep', pid 3 'sleep', pid 4 'sleep', pid 5 'sleep', pid 6 'sleep', pid 7 'sleep', pid 8 'sleep', pid 9 'sleep', pid 10 'sleep' and 2 more), took 8.001s"
        );
    }

    #[test]
    fn a_process_killed_in_several_rounds_is_named_once() {
        let mut s = Summary::default();
        s.killed(Killed { listed: vec![(5, Some("a".into()))], ..Killed::default() });
        s.killed(Killed { listed: vec![(5, Some("a".into())), (6, Some("b".into()))], ..Killed::default() });
        assert_eq!(s.killed, vec![(5, Some("a".to_string())), (6, Some("b".to_string()))]);
    }

    #[test]
    fn a_program_that_could_not_be_signalled_except_by_sigkill_counts() {
        // Not PID 1 and no /proc: the program alone, SIGKILLed at the grace.
        let mut s = Summary { program_termed: true, ..Summary::default() };
        s.termed(Termed::Unreachable);
        s.killed(Killed { listed: vec![(7, Some("sleep".into()))], unreachable: true, ..Killed::default() });
        assert!(!s.is_clean());
        assert!(s.to_string().contains("1 process got SIGTERM, 1 needed SIGKILL (pid 7 'sleep')"), "{s}");
    }
}
