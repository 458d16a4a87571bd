//! The OOM watch's bookkeeping as a pure state: one event in at a time,
//! with the time; the book asks for what it needs read (the notice drained,
//! the count, whether the memory is back, rinit's dying children), one
//! [`Step`] at a time, and ends each event with what the loop is to be told
//! and the report lines to log. It never reads a clock or a file, so the
//! tests drive it with a fake clock and made-up reads. The shell that does
//! the reads is [`super::OomWatch`]; why the reads come in this order (the
//! count first, /proc only once the memory is back) is in its module
//! comment.

use std::time::Duration;

/// v1 signals an OOM before the OOM killer has picked and counted its
/// victim: the count is read again this often, this many times, after an
/// event that showed no rise yet (only then: idle rinit never wakes).
pub const RECHECK_EVERY: Duration = Duration::from_millis(1);
pub const RECHECKS: u16 = 500;

/// How long after a rise of the count the victims are looked for at the
/// latest: by then the OOM killer's victim has given its memory back.
pub const SETTLE: Duration = Duration::from_millis(1000);

/// v2 (issue 19 item 10): `memory.events` changes on every `max` and
/// `high` event too, up to 100 times a second while the page cache presses
/// on the limit (buffered writes), with no OOM kill. After a notice that
/// shows no rise of the count the descriptor is not polled for this long;
/// then the notices queued meanwhile are drained and the count read once
/// (so a kill in the pause is reported at most this much later), and the
/// pause goes on while notices keep coming. A victim that is rinit's child
/// is still counted at once: every reap reads the count first.
pub const QUIET: Duration = Duration::from_secs(1);

/// What happened, as the loop tells the watch: one entry per event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OomEvent {
    /// The kernel signalled the descriptor: the count may have risen.
    Notice,
    /// A wait ended with no signal or notice: a recheck, the look for the
    /// victims or the end of a pause may be due.
    Timeout,
    /// rinit is about to reap: a rise the notice has not brought yet is
    /// accounted for, and the victims looked for if the memory is back,
    /// while a dead one is still unreaped.
    BeforeReap,
    /// rinit reaped this pid: reported if it was a victim.
    Reaped(i32),
    /// rinit is about to SIGKILL what is left: the kills counted so far are
    /// accounted for, and from now on a child dying of SIGKILL is rinit's
    /// doing.
    OwnKills,
    /// rinit would let its children reap themselves: [`Told::quiet`] says
    /// whether it may (no kill under way whose victim rinit must reap to
    /// name it).
    AskKernelReaps,
    /// rinit's children reap themselves from now on: a kill is reported at
    /// once, unnamed, as its victim may be reaped unseen.
    KernelReaps,
    /// rinit exits: what is unreported, then the count of all kills.
    Exit,
}

/// What the book asks the shell to do next for the event under way.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Read what the kernel has queued on the descriptor; answer
    /// [`Input::Drained`].
    Drain,
    /// Read the `oom_kill` count; answer [`Input::Count`].
    ReadCount,
    /// Read whether the cgroup's anonymous memory is clearly below its
    /// limit; answer [`Input::MemoryBack`].
    ReadMemory,
    /// List rinit's children dying of SIGKILL; answer [`Input::Dying`].
    LookForDying,
    /// The event is handled.
    Done(Told),
}

/// What the shell feeds the book: the event, then what each step read.
#[derive(Debug)]
pub enum Input {
    Event(OomEvent),
    /// Whether anything was queued.
    Drained(bool),
    /// The count, None if it could not be read.
    Count(Option<u64>),
    MemoryBack(bool),
    /// rinit's children dying of SIGKILL, with their names.
    Dying(Vec<(i32, String)>),
}

/// The end of an event: what the loop needs, and what to log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Told {
    /// Kills accounted for (reported, or their victims found) during this
    /// event: issue 23's `--oom-exit` starts the shutdown on them.
    pub kills: u64,
    /// No kill is under way: counted and not yet looked at, a victim
    /// waiting for its reap, or (v1) a notice whose count has not risen yet.
    pub quiet: bool,
    pub reports: Vec<Report>,
}

/// A line to log, at warning level; `so_far` is the count of all kills.
#[derive(Debug, PartialEq, Eq)]
pub enum Report {
    /// A child of rinit's that was OOM-killed, reaped now.
    Victim { pid: i32, name: String, so_far: u64 },
    /// Kills that no child of rinit's explains.
    Unnamed { kills: u64, so_far: u64 },
    /// At exit: the kills while rinit ran (only if there were any).
    Total(u64),
}

#[derive(Debug)]
pub struct Book {
    /// v1 signals before the kill is counted (rechecks); v2 after, and on
    /// other events too (pauses).
    v1: bool,
    /// The count as last read.
    seen: u64,
    /// Kills since the watch started.
    total: u64,
    /// Kills counted whose victims have not been looked for yet, and when
    /// they will be at the latest.
    unsettled: u64,
    due: Option<Duration>,
    /// rinit's children that were dying of SIGKILL when the count rose, with
    /// their names: reported as OOM victims when rinit reaps them.
    victims: Vec<(i32, String)>,
    /// v1: reads of the count left after an event that showed no rise.
    rechecks: u16,
    /// v2: the descriptor is not polled until then (`QUIET`).
    paused_until: Option<Duration>,
    /// Whether a child dying of SIGKILL may be named as a victim: not once
    /// rinit has sent its own SIGKILLs (a dying child is no evidence then),
    /// nor once its children reap themselves (a victim would never be
    /// reaped by rinit, so never reported).
    names_victims: bool,
    /// The event under way, the kills being settled, and what it has to
    /// tell so far.
    event: Option<OomEvent>,
    settling: u64,
    told: Told,
}

impl Book {
    /// A book that starts from the count `seen` (kills before are not
    /// reported).
    pub fn new(seen: u64, v1: bool) -> Book {
        Book {
            v1,
            seen,
            total: 0,
            unsettled: 0,
            due: None,
            victims: Vec::new(),
            rechecks: 0,
            paused_until: None,
            names_victims: true,
            event: None,
            settling: 0,
            told: Told::default(),
        }
    }

    /// Whether the descriptor is to be polled now (not during a pause).
    pub fn polls(&self) -> bool {
        self.paused_until.is_none()
    }

    /// How long after `now` a [`OomEvent::Timeout`] is due (None: no timer,
    /// whenever no OOM kill is under way and no pause runs).
    #[cfg(test)]
    pub fn timeout(&self, now: Duration) -> Option<Duration> {
        self.timeout_with(|| now)
    }

    /// [`Book::timeout`] with the time asked for only if a timer runs (the
    /// loop's idle turns read no clock).
    pub fn timeout_with(&self, now: impl Fn() -> Duration) -> Option<Duration> {
        let settle = self.due.map(|due| due.saturating_sub(now()).min(RECHECK_EVERY));
        let recheck = (self.rechecks > 0).then_some(RECHECK_EVERY);
        let pause = self.paused_until.map(|until| until.saturating_sub(now()));
        [settle, recheck, pause].into_iter().flatten().min()
    }

    /// Feeds the event or what the last step read; says what to do next.
    pub fn handle(&mut self, input: Input, now: Duration) -> Step {
        match input {
            Input::Event(event) => {
                self.event = Some(event);
                self.told = Told::default();
                self.begin(event, now)
            }
            Input::Drained(queued) => {
                if self.event == Some(OomEvent::Timeout) {
                    // The end of a pause: it goes on while notices come.
                    self.paused_until = queued.then(|| now.saturating_add(QUIET));
                }
                Step::ReadCount
            }
            Input::Count(count) => {
                let rose = self.note(count, now);
                self.counted(rose, now)
            }
            Input::MemoryBack(true) => self.settle(),
            Input::MemoryBack(false) => self.done(),
            Input::Dying(dying) => self.found(dying),
        }
    }

    fn begin(&mut self, event: OomEvent, now: Duration) -> Step {
        match event {
            OomEvent::Notice => Step::Drain,
            OomEvent::Timeout => {
                if self.paused_until.is_some_and(|until| now >= until) {
                    return Step::Drain;
                }
                if self.rechecks > 0 {
                    self.rechecks -= 1;
                    return Step::ReadCount;
                }
                self.counted(false, now)
            }
            OomEvent::Reaped(pid) => {
                if let Some(i) = self.victims.iter().position(|(v, _)| *v == pid) {
                    let (pid, name) = self.victims.swap_remove(i);
                    self.told.reports.push(Report::Victim { pid, name, so_far: self.total });
                }
                self.done()
            }
            OomEvent::KernelReaps => {
                self.names_victims = false;
                self.done()
            }
            OomEvent::BeforeReap | OomEvent::OwnKills | OomEvent::AskKernelReaps | OomEvent::Exit => Step::ReadCount,
        }
    }

    /// Notes a rise of the count; whether it rose.
    fn note(&mut self, count: Option<u64>, now: Duration) -> bool {
        let Some(count) = count.filter(|&c| c > self.seen) else { return false };
        self.unsettled += count - self.seen;
        self.total += count - self.seen;
        self.seen = count;
        if self.due.is_none() {
            self.due = Some(now.saturating_add(SETTLE));
        }
        true
    }

    /// After the count was read (or, on a timeout, not needed): what the
    /// event does with the kills counted.
    fn counted(&mut self, rose: bool, now: Duration) -> Step {
        match self.event {
            Some(OomEvent::Notice) if !rose && self.unsettled == 0 => {
                if self.v1 {
                    self.rechecks = RECHECKS;
                } else {
                    self.paused_until = Some(now.saturating_add(QUIET));
                }
                self.done()
            }
            Some(OomEvent::Timeout) => {
                if rose {
                    self.rechecks = 0;
                }
                if self.due.is_some_and(|due| now >= due) { self.settle() } else { self.settle_if_safe() }
            }
            Some(OomEvent::OwnKills | OomEvent::Exit) => self.settle(),
            Some(OomEvent::AskKernelReaps) => self.done(),
            _ => self.settle_if_safe(),
        }
    }

    fn settle_if_safe(&mut self) -> Step {
        if self.unsettled > 0 { Step::ReadMemory } else { self.done() }
    }

    /// The victims are to be looked for now.
    fn settle(&mut self) -> Step {
        self.settling = std::mem::take(&mut self.unsettled);
        self.due = None;
        if self.settling == 0 {
            return self.done();
        }
        self.told.kills += self.settling;
        if self.names_victims { Step::LookForDying } else { self.found(Vec::new()) }
    }

    /// The children dying of SIGKILL become the victims, unless more are
    /// dying than kills were counted; the rest of the kills are reported.
    fn found(&mut self, mut dying: Vec<(i32, String)>) -> Step {
        let kills = std::mem::take(&mut self.settling);
        dying.retain(|(pid, _)| !self.victims.iter().any(|(v, _)| v == pid));
        let unnamed = match u64::try_from(dying.len()) {
            Ok(n) if n <= kills => {
                self.victims.extend(dying);
                kills - n
            }
            // More children dying of SIGKILL than kills: some were killed
            // by someone else, and nothing tells which.
            _ => kills,
        };
        if unnamed > 0 {
            self.told.reports.push(Report::Unnamed { kills: unnamed, so_far: self.total });
        }
        self.done()
    }

    /// The event's end, with what it has to tell.
    fn done(&mut self) -> Step {
        match self.event.take() {
            Some(OomEvent::OwnKills) => self.names_victims = false,
            Some(OomEvent::Exit) if self.total > 0 => self.told.reports.push(Report::Total(self.total)),
            _ => {}
        }
        self.told.quiet = self.unsettled == 0 && self.victims.is_empty() && self.rechecks == 0;
        Step::Done(std::mem::take(&mut self.told))
    }
}

#[cfg(test)]
#[path = "book_tests.rs"]
mod tests;
