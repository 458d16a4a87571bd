//! The book with a fake clock and made-up reads: each transition, and the
//! reads each event asks for (a read the book does not ask for is a system
//! call rinit does not make).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
use super::*;

const MS: Duration = Duration::from_millis(1);

/// What the fake shell reads when asked, and what it was asked for.
#[derive(Default)]
struct World {
    queued: bool,
    count: u64,
    memory_back: bool,
    dying: Vec<(i32, String)>,
    asked: Vec<&'static str>,
}

impl World {
    /// Feeds `event` at `now` and answers every step, as `OomWatch::on` does.
    fn on(&mut self, book: &mut Book, event: OomEvent, now: Duration) -> Told {
        self.asked.clear();
        let mut step = book.handle(Input::Event(event), now);
        for _ in 0..8 {
            let input = match step {
                Step::Drain => {
                    self.asked.push("drain");
                    Input::Drained(std::mem::take(&mut self.queued))
                }
                Step::ReadCount => {
                    self.asked.push("count");
                    Input::Count(Some(self.count))
                }
                Step::ReadMemory => {
                    self.asked.push("memory");
                    Input::MemoryBack(self.memory_back)
                }
                Step::LookForDying => {
                    self.asked.push("proc");
                    Input::Dying(self.dying.clone())
                }
                Step::Done(told) => return told,
            };
            step = book.handle(input, now);
        }
        panic!("{event:?} did not finish");
    }
}

fn java() -> Vec<(i32, String)> {
    vec![(7, "java".to_string())]
}

fn victim(pid: i32, name: &str, so_far: u64) -> Report {
    Report::Victim { pid, name: name.to_string(), so_far }
}

fn told(kills: u64, quiet: bool, reports: Vec<Report>) -> Told {
    Told { kills, quiet, reports }
}

#[test]
fn idle_events_read_only_the_count_and_tell_nothing() {
    let mut b = Book::new(4, true);
    let mut w = World { count: 4, ..World::default() };
    assert_eq!(b.timeout(Duration::ZERO), None, "idle: no timer");
    assert_eq!(w.on(&mut b, OomEvent::BeforeReap, Duration::ZERO), told(0, true, vec![]));
    assert_eq!(w.asked, ["count"], "one pread before each reap, nothing else");
    assert_eq!(w.on(&mut b, OomEvent::Timeout, Duration::ZERO), told(0, true, vec![]));
    assert!(w.asked.is_empty(), "a timeout of someone else's reads nothing");
    assert_eq!(w.on(&mut b, OomEvent::Reaped(3), Duration::ZERO), told(0, true, vec![]));
    assert!(w.asked.is_empty());
    assert_eq!(w.on(&mut b, OomEvent::Exit, Duration::ZERO), told(0, true, vec![]), "no kill, no exit line");
}

#[test]
fn a_rise_settles_once_the_memory_is_back_and_the_victim_is_named_at_its_reap() {
    let mut b = Book::new(0, false);
    let mut w = World { count: 1, dying: java(), ..World::default() };
    assert_eq!(w.on(&mut b, OomEvent::BeforeReap, Duration::ZERO), told(0, false, vec![]));
    assert_eq!(w.asked, ["count", "memory"], "/proc is not looked at while the memory is full");
    assert_eq!(b.timeout(Duration::ZERO), Some(RECHECK_EVERY), "memory read every millisecond");
    assert_eq!(w.on(&mut b, OomEvent::Timeout, MS), told(0, false, vec![]));
    assert_eq!(w.asked, ["memory"]);
    w.memory_back = true;
    assert_eq!(w.on(&mut b, OomEvent::Timeout, MS * 2), told(1, false, vec![]), "found: a victim waits for its reap");
    assert_eq!(w.asked, ["memory", "proc"]);
    assert_eq!(b.timeout(MS * 2), None);
    assert_eq!(w.on(&mut b, OomEvent::Reaped(8), MS * 3), told(0, false, vec![]), "not a victim");
    assert_eq!(w.on(&mut b, OomEvent::Reaped(7), MS * 3), told(0, true, vec![victim(7, "java", 1)]));
    assert_eq!(w.on(&mut b, OomEvent::Reaped(7), MS * 3), told(0, true, vec![]), "reported once");
}

#[test]
fn a_rise_settles_by_timeout_when_the_memory_stays_full() {
    let mut b = Book::new(0, false);
    let mut w = World { count: 2, ..World::default() };
    w.on(&mut b, OomEvent::BeforeReap, Duration::ZERO);
    assert_eq!(b.timeout(SETTLE - MS), Some(RECHECK_EVERY));
    assert_eq!(w.on(&mut b, OomEvent::Timeout, SETTLE - MS), told(0, false, vec![]));
    assert_eq!(b.timeout(SETTLE - MS / 2), Some(MS / 2), "never past the settling time");
    assert_eq!(w.on(&mut b, OomEvent::Timeout, SETTLE), told(2, true, vec![Report::Unnamed { kills: 2, so_far: 2 }]));
    assert_eq!(w.asked, ["proc"], "settled without waiting for the memory");
    assert_eq!(b.timeout(SETTLE), None);
}

#[test]
fn v1_rechecks_a_notice_until_the_count_rises_or_the_rechecks_run_out() {
    let mut b = Book::new(0, true);
    let mut w = World::default();
    assert_eq!(w.on(&mut b, OomEvent::Notice, Duration::ZERO), told(0, false, vec![]), "a notice being checked");
    assert_eq!(w.asked, ["drain", "count"]);
    assert_eq!(b.timeout(Duration::ZERO), Some(RECHECK_EVERY));
    assert!(b.polls(), "v1 never pauses");
    w.on(&mut b, OomEvent::Timeout, MS);
    assert_eq!(w.asked, ["count"]);
    w.count = 1;
    w.memory_back = true;
    assert_eq!(w.on(&mut b, OomEvent::Timeout, MS * 2), told(1, true, vec![Report::Unnamed { kills: 1, so_far: 1 }]));
    assert_eq!(b.timeout(MS * 2), None, "the rise ends the rechecks");
    w.on(&mut b, OomEvent::Notice, MS * 3);
    for i in 0..RECHECKS {
        assert_eq!(b.timeout(MS * 3), Some(RECHECK_EVERY), "recheck {i}");
        w.on(&mut b, OomEvent::Timeout, MS * 3);
    }
    assert_eq!(b.timeout(MS * 3), None, "they run out");
    assert!(w.on(&mut b, OomEvent::AskKernelReaps, MS * 3).quiet);
}

#[test]
fn v2_notices_without_a_kill_pause_the_polling_for_quiet() {
    let mut b = Book::new(5, false);
    let mut w = World { count: 5, ..World::default() };
    assert_eq!(w.on(&mut b, OomEvent::Notice, Duration::ZERO), told(0, true, vec![]));
    assert!(!b.polls());
    assert_eq!(b.timeout(Duration::ZERO), Some(QUIET), "one wake-up at the pause's end, no rechecks");
    assert_eq!(w.on(&mut b, OomEvent::Timeout, QUIET / 2), told(0, true, vec![]), "someone else's timeout");
    assert!(w.asked.is_empty() && !b.polls());
    w.queued = true;
    w.on(&mut b, OomEvent::Timeout, QUIET);
    assert_eq!(w.asked, ["drain", "count"], "the notices of the pause drained, the count read");
    assert_eq!((b.polls(), b.timeout(QUIET)), (false, Some(QUIET)), "they kept coming: one more pause");
    w.on(&mut b, OomEvent::Timeout, QUIET * 2);
    assert_eq!((b.polls(), b.timeout(QUIET * 2)), (true, None), "none came: polled again, no timer");
}

#[test]
fn v2_a_kill_in_a_pause_is_counted_at_its_end_or_at_a_reap() {
    let mut b = Book::new(0, false);
    let mut w = World { memory_back: true, ..World::default() };
    w.on(&mut b, OomEvent::Notice, Duration::ZERO);
    w.count = 1;
    w.queued = true;
    assert_eq!(w.on(&mut b, OomEvent::Timeout, QUIET), told(1, true, vec![Report::Unnamed { kills: 1, so_far: 1 }]));
    w.on(&mut b, OomEvent::Notice, QUIET * 3);
    assert!(!b.polls());
    w.count = 2;
    w.dying = java();
    assert_eq!(w.on(&mut b, OomEvent::BeforeReap, QUIET * 3 + MS), told(1, false, vec![]), "found at once");
    assert_eq!(w.on(&mut b, OomEvent::Reaped(7), QUIET * 3 + MS), told(0, true, vec![victim(7, "java", 2)]));
}

#[test]
fn rinits_own_kills_settle_what_is_counted_then_name_no_one() {
    let mut b = Book::new(0, false);
    let mut w = World { count: 1, dying: java(), ..World::default() };
    assert_eq!(w.on(&mut b, OomEvent::OwnKills, Duration::ZERO), told(1, false, vec![]), "counted before: named");
    assert_eq!(w.asked, ["count", "proc"], "settled at once, full memory or not");
    assert_eq!(w.on(&mut b, OomEvent::Reaped(7), MS), told(0, true, vec![victim(7, "java", 1)]));
    w.dying = vec![(8, "sleep".to_string())];
    w.count = 2;
    w.memory_back = true;
    assert_eq!(w.on(&mut b, OomEvent::BeforeReap, MS), told(1, true, vec![Report::Unnamed { kills: 1, so_far: 2 }]));
    assert_eq!(w.asked, ["count", "memory"], "/proc is not looked at: a dying child is rinit's doing");
    assert_eq!(w.on(&mut b, OomEvent::Reaped(8), MS), told(0, true, vec![]));
}

#[test]
fn kernel_reaps_are_asked_for_then_every_kill_is_unnamed() {
    let mut b = Book::new(0, false);
    let mut w = World { count: 1, dying: java(), ..World::default() };
    assert!(!w.on(&mut b, OomEvent::AskKernelReaps, Duration::ZERO).quiet, "a kill not yet looked at");
    assert_eq!(w.asked, ["count"], "asking settles nothing");
    w.memory_back = true;
    w.on(&mut b, OomEvent::BeforeReap, MS);
    assert!(!w.on(&mut b, OomEvent::AskKernelReaps, MS).quiet, "a victim waiting for its reap");
    w.on(&mut b, OomEvent::Reaped(7), MS);
    assert!(w.on(&mut b, OomEvent::AskKernelReaps, MS).quiet);
    assert_eq!(w.on(&mut b, OomEvent::KernelReaps, MS), told(0, true, vec![]));
    assert!(w.asked.is_empty());
    w.count = 2;
    w.dying = vec![(9, "b".to_string())];
    assert_eq!(w.on(&mut b, OomEvent::BeforeReap, MS * 2), told(1, true, vec![Report::Unnamed { kills: 1, so_far: 2 }]));
    assert_eq!(w.on(&mut b, OomEvent::Reaped(9), MS * 2), told(0, true, vec![]));
}

#[test]
fn more_children_dying_than_kills_names_none() {
    let mut b = Book::new(0, false);
    let mut w = World { count: 1, memory_back: true, ..World::default() };
    w.dying = vec![(7, "a".to_string()), (8, "b".to_string())];
    assert_eq!(w.on(&mut b, OomEvent::BeforeReap, Duration::ZERO), told(1, true, vec![Report::Unnamed { kills: 1, so_far: 1 }]));
    assert_eq!(w.on(&mut b, OomEvent::Reaped(7), MS), told(0, true, vec![]));
    assert_eq!(w.on(&mut b, OomEvent::Reaped(8), MS), told(0, true, vec![]));
}

#[test]
fn a_victim_already_found_is_not_counted_twice() {
    let mut b = Book::new(0, false);
    let mut w = World { count: 1, memory_back: true, dying: java(), ..World::default() };
    w.on(&mut b, OomEvent::BeforeReap, Duration::ZERO);
    // Still dying at the next kill: the new kill is someone else's.
    w.count = 2;
    assert_eq!(w.on(&mut b, OomEvent::BeforeReap, MS), told(1, false, vec![Report::Unnamed { kills: 1, so_far: 2 }]));
    assert_eq!(w.on(&mut b, OomEvent::Reaped(7), MS), told(0, true, vec![victim(7, "java", 2)]));
}

#[test]
fn exit_settles_what_is_left_and_gives_the_total_and_kills_are_told_once() {
    let mut b = Book::new(10, false);
    let mut w = World { count: 11, memory_back: true, ..World::default() };
    assert_eq!(w.on(&mut b, OomEvent::BeforeReap, Duration::ZERO).kills, 1);
    assert_eq!(w.on(&mut b, OomEvent::BeforeReap, MS).kills, 0, "told once");
    w.count = 13;
    w.memory_back = false;
    assert_eq!(w.on(&mut b, OomEvent::BeforeReap, MS).kills, 0, "counted, not accounted for: the memory is full");
    assert_eq!(
        w.on(&mut b, OomEvent::Exit, MS * 2),
        told(2, true, vec![Report::Unnamed { kills: 2, so_far: 3 }, Report::Total(3)])
    );
}

#[test]
fn an_unreadable_count_is_no_rise() {
    let mut b = Book::new(3, false);
    assert_eq!(b.handle(Input::Event(OomEvent::BeforeReap), Duration::ZERO), Step::ReadCount);
    assert_eq!(b.handle(Input::Count(None), Duration::ZERO), Step::Done(told(0, true, vec![])));
    assert_eq!(b.handle(Input::Event(OomEvent::BeforeReap), Duration::ZERO), Step::ReadCount);
    assert_eq!(b.handle(Input::Count(Some(2)), Duration::ZERO), Step::Done(told(0, true, vec![])), "a count that fell");
}
