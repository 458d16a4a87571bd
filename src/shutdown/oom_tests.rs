//! `Event::OomKill` (`--oom-exit`, rinit(1) CGROUPS) on a fake clock: the
//! shutdown starts as on SIGTERM, and the exit status is forced.

use super::*;

const TERM: i32 = libc::SIGTERM;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn reaped(program: Option<i32>, all_gone: bool) -> Event {
    Event::Reaped { program, all_gone, others_left: false }
}

#[test]
fn an_oom_kill_starts_the_shutdown_as_sigterm_does() {
    let mut by_oom = Machine::new(ms(2_000), RewriteMap::default(), false);
    let mut by_term = by_oom.clone();
    let oom = by_oom.handle(Event::OomKill, ms(100));
    assert_eq!(oom, vec![Action::Forward(TERM), Action::Continue]);
    assert_eq!(oom, by_term.handle(Event::Signal(TERM), ms(100)));
    assert_eq!(by_oom.started(), Some(ms(100)));
    assert_eq!(by_oom.deadline(), by_term.deadline(), "the same grace: others at T+G/2");
    // The rest of the sequence is the SIGTERM one: others at G/2, SIGKILL at G.
    assert_eq!(by_oom.handle(Event::Tick, ms(1_100)), vec![Action::TermOthers { skip_program_group: false, continue_stopped_in_group: false }]);
    assert_eq!(by_oom.handle(Event::Tick, ms(2_100)), vec![Action::KillAll]);
    assert!(by_oom.status_forced() && !by_term.status_forced());
}

#[test]
fn the_status_is_forced_even_when_the_program_then_exits_0() {
    let mut m = Machine::new(ms(8_000), RewriteMap::default(), false);
    m.handle(Event::OomKill, ms(0));
    assert_eq!(m.handle(reaped(Some(0), false), ms(30)), vec![Action::TermOthers { skip_program_group: false, continue_stopped_in_group: false }]);
    assert_eq!(m.handle(reaped(None, true), ms(40)), vec![Action::Exit(OOM_EXIT_STATUS)]);
    assert_eq!(OOM_EXIT_STATUS, 137);
    // And when it ends by the SIGTERM (143), or rinit gives up waiting.
    let mut m = Machine::new(ms(1_000), RewriteMap::default(), false);
    m.handle(Event::OomKill, ms(0));
    assert_eq!(m.handle(reaped(Some(143), true), ms(5)), vec![Action::Exit(137)]);
    let mut m = Machine::new(ms(1_000), RewriteMap::default(), false);
    m.handle(Event::OomKill, ms(0));
    assert!(m.handle(Event::Tick, ms(1_000)).contains(&Action::KillAll));
    m.handle(Event::Tick, ms(1_001));
    assert_eq!(m.handle(Event::Tick, ms(1_000) + GIVE_UP_AFTER), vec![Action::GiveUp(137)]);
}

#[test]
fn the_sigterm_goes_through_rewrite() {
    let mut rw = RewriteMap::default();
    rw.insert(TERM, libc::SIGQUIT);
    let mut m = Machine::new(ms(1_000), rw, false);
    assert_eq!(m.handle(Event::OomKill, ms(0)), vec![Action::Forward(libc::SIGQUIT), Action::Continue]);
    // -r TERM:0: nothing to the program, but the shutdown still runs.
    let mut rw = RewriteMap::default();
    rw.insert(TERM, 0);
    let mut m = Machine::new(ms(1_000), rw, false);
    assert_eq!(m.handle(Event::OomKill, ms(0)), vec![]);
    assert_eq!(m.started(), Some(ms(0)));
    assert_eq!(m.handle(Event::Tick, ms(500)), vec![Action::TermOthers { skip_program_group: false, continue_stopped_in_group: false }]);
}

#[test]
fn an_oom_kill_during_a_shutdown_keeps_t_and_still_forces_the_status() {
    let mut m = Machine::new(ms(1_000), RewriteMap::default(), false);
    m.handle(Event::Signal(TERM), ms(0));
    // A second SIGTERM to the program, as a second `docker stop` would give.
    assert_eq!(m.handle(Event::OomKill, ms(300)), vec![Action::Forward(TERM)]);
    assert_eq!(m.started(), Some(ms(0)));
    assert_eq!(m.handle(reaped(Some(143), true), ms(310)), vec![Action::Exit(137)]);
    // After the program has gone: nothing to forward, the status forced.
    let mut m = Machine::new(ms(1_000), RewriteMap::default(), false);
    m.handle(reaped(Some(0), false), ms(0));
    assert_eq!(m.handle(Event::OomKill, ms(10)), vec![]);
    assert_eq!(m.handle(reaped(None, true), ms(20)), vec![Action::Exit(137)]);
    // After the exit, nothing.
    assert_eq!(m.handle(Event::OomKill, ms(30)), vec![]);
}

#[test]
fn with_no_grace_an_oom_kill_kills_at_once() {
    let mut m = Machine::new(Duration::ZERO, RewriteMap::default(), false);
    assert_eq!(m.handle(Event::OomKill, ms(7)), vec![Action::KillAll]);
    assert_eq!(m.handle(reaped(Some(137), true), ms(8)), vec![Action::Exit(137)]);
}

#[test]
fn without_an_oom_kill_the_programs_status_stands() {
    let mut m = Machine::new(ms(1_000), RewriteMap::default(), false);
    m.handle(Event::Signal(TERM), ms(0));
    assert_eq!(m.handle(reaped(Some(0), true), ms(5)), vec![Action::Exit(0)]);
    assert!(!m.status_forced());
}
