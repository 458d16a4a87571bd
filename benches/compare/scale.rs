//! Shutdown at scale (issue 14): SIGTERM to an init whose program has N
//! children in its process group, timed to the init's exit.
//!
//! The program is the `group` helper: it forks N children into its own
//! process group, each of which sleeps in pause() with SIGTERM's default
//! action (so SIGTERM ends it), or, in the trapping variant, one child in
//! `trap_every` catches SIGTERM and exits 50 ms after it. The helper reports
//! ready once every child is running and then dies of SIGTERM itself. Each
//! init runs as a user would run it by default (`INIT -- PROG`): rinit
//! forwards SIGTERM to the program, then TERMs everyone else; dumb-init TERMs
//! the program's process group; tini and catatonit TERM the program only and
//! exit with it, after which the kernel SIGKILLs the rest of the namespace.
//! In every case the init's exit is reported to its parent only once the
//! whole namespace is gone, so the same end point is timed for all.

use std::ffi::c_int;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{
    Init, Launch, close, cpu_secs, helper_args, kill, loadavg, median, order, pipe, read_byte, status_field,
    wait_blocking, write_byte,
};

/// How long a trapping child takes to exit after its SIGTERM.
const TRAP_DELAY: Duration = Duration::from_millis(50);
/// Children forked between two readiness checks (as the `orphans` helper).
const BATCH: usize = 512;
/// Processes left free for the rest of the machine when checking that N fit.
const SPARE_PIDS: usize = 1000;
/// An init that has not exited this long after SIGTERM is SIGKILLed and the
/// run counted as a failure (rinit's default grace is 10 s).
const GIVE_UP: Duration = Duration::from_secs(60);

/// What the scale test measures: `ns` and whether the trapping variant runs.
pub struct Settings {
    pub ns: Vec<usize>,
    pub runs: usize,
    /// One child in `trap_every` traps SIGTERM in the second variant; 0: no
    /// second variant.
    pub trap_every: usize,
}

impl Settings {
    pub fn from_env() -> Settings {
        Settings {
            ns: super::env_list("BENCH_SCALE_N", "1000,5000,20000"),
            runs: super::env_num("BENCH_SCALE_RUNS", 5),
            trap_every: super::env_num("BENCH_SCALE_TRAP", 100),
        }
    }

    fn variants(&self) -> Vec<usize> {
        if self.trap_every > 0 { vec![0, self.trap_every] } else { vec![0] }
    }
}

/// One (variant, N) cell for one init.
#[derive(Clone, Default)]
pub struct Cell {
    /// Median seconds from kill(init, SIGTERM) to the init's exit; NaN if
    /// no run succeeded.
    pub secs: f64,
    /// Median seconds of CPU the init used over that time, user + kernel,
    /// including the kernel's teardown of the namespace when the init exits
    /// first (it runs in the init's context).
    pub cpu: f64,
    /// The init's VmHWM (KiB) just before SIGTERM, and the last value read
    /// before its exit (sampled every millisecond while it shuts down); the
    /// largest over the runs.
    pub hwm_before: Option<u64>,
    pub hwm_peak: Option<u64>,
}

/// Results: `cells[variant][n][init]`.
pub struct Results {
    pub variants: Vec<usize>,
    pub ns: Vec<usize>,
    pub cells: Vec<Vec<Vec<Cell>>>,
    pub failures: Vec<Vec<String>>,
    pub load: Vec<String>,
    pub took: Duration,
}

// ---------------------------------------------------------------------------
// The helper program

/// `compare __helper group N TRAP_EVERY REPORT_FD`.
pub fn helper(args: &[String]) -> ! {
    let num =
        |i: usize| args.get(i).and_then(|a| a.parse::<usize>().ok()).expect("helper group: N TRAP_EVERY FD");
    group(num(1), num(2), num(3) as c_int)
}

fn group(n: usize, trap_every: usize, report: c_int) -> ! {
    // SAFETY: plain signal-mask and disposition calls on valid sets; setpgid
    // may fail (EPERM for a session leader, as under dumb-init, which
    // already made the helper a group leader) and that is fine.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
        libc::sigprocmask(libc::SIG_UNBLOCK, &term_set(), std::ptr::null_mut());
        libc::setpgid(0, 0);
    }
    let (ready_r, ready_w) = pipe();
    let mut made = 0;
    while made < n {
        let batch = BATCH.min(n - made);
        for i in made..made + batch {
            let traps = trap_every > 0 && i % trap_every == trap_every - 1;
            // SAFETY: single-threaded; the child makes system calls only.
            match unsafe { libc::fork() } {
                0 => child(traps, ready_w),
                c if c > 0 => {}
                _ => {
                    eprintln!("helper group: fork {i} of {n} failed: {}", std::io::Error::last_os_error());
                    std::process::exit(1);
                }
            }
        }
        // One byte from every child of the batch: it runs, with its signal
        // set-up done.
        let mut got = 0;
        let mut buf = [0u8; BATCH];
        while got < batch {
            // SAFETY: reading into a valid buffer of its length.
            let r = unsafe { libc::read(ready_r, buf.as_mut_ptr().cast(), batch - got) };
            assert!(
                r > 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR),
                "helper group: ready pipe"
            );
            got += usize::try_from(r).unwrap_or(0);
        }
        made += batch;
    }
    write_byte(report, b'R');
    // Dies of the SIGTERM its init sends.
    super::sleep_forever()
}

fn term_set() -> libc::sigset_t {
    // SAFETY: initialising a sigset_t in place.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}

fn child(traps: bool, ready: c_int) -> ! {
    if traps {
        // Blocked before the ready byte, so a SIGTERM can only be taken by
        // sigwaitinfo below.
        // SAFETY: a valid set; no old mask wanted.
        unsafe { libc::sigprocmask(libc::SIG_BLOCK, &term_set(), std::ptr::null_mut()) };
    }
    write_byte(ready, b'r');
    if !traps {
        super::sleep_forever()
    }
    // SAFETY: a valid set; no siginfo wanted.
    while unsafe { libc::sigwaitinfo(&term_set(), std::ptr::null_mut()) } < 0 {}
    let ts = libc::timespec { tv_sec: 0, tv_nsec: TRAP_DELAY.as_nanos() as libc::c_long };
    // SAFETY: nanosleep with a valid timespec; SIGCONT, the only other signal
    // the inits send, has no handler, so it does not cut the sleep short.
    unsafe {
        libc::nanosleep(&ts, std::ptr::null_mut());
        libc::_exit(0)
    }
}

// ---------------------------------------------------------------------------
// The measurement

/// Whether `n` more processes fit under the kernel's limits next to what
/// already runs on the machine.
fn capacity(n: usize) -> Result<(), String> {
    let read = |p: &str| std::fs::read_to_string(p).ok().and_then(|t| t.trim().parse::<usize>().ok());
    let pid_max = read("/proc/sys/kernel/pid_max").unwrap_or(usize::MAX);
    let threads_max = read("/proc/sys/kernel/threads-max").unwrap_or(usize::MAX);
    // The fourth field of loadavg: runnable/total scheduling entities.
    let now = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().nth(3)?.split_once('/')?.1.parse::<usize>().ok())
        .unwrap_or(0);
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: valid out pointer.
    unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut lim) };
    // Root is exempt from RLIMIT_NPROC (CAP_SYS_RESOURCE), so it is only
    // reported. Pids are the tighter limit: each process of the new
    // namespace also takes a pid of this one.
    let room = pid_max.min(threads_max).saturating_sub(now + SPARE_PIDS);
    if n + 2 > room {
        return Err(format!(
            "N = {n} does not fit: pid_max {pid_max}, threads-max {threads_max}, {now} tasks running, \
             {SPARE_PIDS} kept spare (RLIMIT_NPROC {})",
            lim.rlim_cur
        ));
    }
    Ok(())
}

/// What one run measured.
struct Run {
    secs: f64,
    cpu: f64,
    hwm_before: Option<u64>,
    hwm_peak: Option<u64>,
}

/// Waits until `pid` has exited, leaving it a zombie (so that its
/// `/proc/PID/schedstat` can still be read).
fn wait_exited(pid: c_int) {
    loop {
        // SAFETY: a zeroed siginfo_t is a valid out buffer.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid out pointer; WNOWAIT leaves the child unreaped.
        let rc =
            unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if rc == 0 {
            return;
        }
        assert!(
            std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR),
            "waitid: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// One run: from SIGTERM to the init's exit.
fn once(init: &Init, n: usize, trap_every: usize, null: c_int) -> Result<Run, String> {
    let (rep_r, rep_w) = pipe();
    let l = Launch::new(
        Some(init),
        &helper_args("group", &[n.to_string(), trap_every.to_string(), rep_w.to_string()]),
        &[rep_w],
    );
    let pid = l.start(null);
    close(rep_w);
    let ready = read_byte(rep_r, Duration::from_secs(120));
    close(rep_r);
    if ready != Some(b'R') {
        kill(pid, libc::SIGKILL);
        wait_blocking(pid);
        return Err(format!("N = {n}: the program never became ready ({ready:?})"));
    }
    let hwm_before = status_field(pid, "VmHWM");
    let cpu0 = cpu_secs(pid);
    let done = AtomicBool::new(false);
    let peak = AtomicU64::new(0);
    let gave_up = AtomicBool::new(false);
    let secs = std::thread::scope(|s| {
        // The sampler: VmHWM every millisecond until the exit (a zombie has
        // none), and SIGKILL if the init hangs. The init stays unreaped, so
        // its pid cannot be reused while this runs.
        s.spawn(|| {
            let t0 = Instant::now();
            while !done.load(Ordering::Relaxed) {
                if let Some(h) = status_field(pid, "VmHWM") {
                    peak.fetch_max(h, Ordering::Relaxed);
                }
                if t0.elapsed() > GIVE_UP && !gave_up.swap(true, Ordering::Relaxed) {
                    kill(pid, libc::SIGKILL);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let t0 = Instant::now();
        kill(pid, libc::SIGTERM);
        wait_exited(pid);
        let secs = t0.elapsed().as_secs_f64();
        done.store(true, Ordering::Relaxed);
        secs
    });
    // The zombie still shows its CPU time.
    let cpu = cpu_secs(pid) - cpu0;
    wait_blocking(pid);
    if gave_up.load(Ordering::Relaxed) {
        return Err(format!("N = {n}: no exit within {} s of SIGTERM", GIVE_UP.as_secs()));
    }
    let peak = peak.load(Ordering::Relaxed);
    Ok(Run { secs, cpu, hwm_before, hwm_peak: (peak > 0).then_some(peak) })
}

pub fn bench(inits: &[Init], null: c_int, settings: &Settings) -> Results {
    let started = Instant::now();
    let variants = settings.variants();
    let mut failures = vec![Vec::new(); inits.len()];
    let mut load = Vec::new();
    let mut cells = vec![vec![vec![Cell::default(); inits.len()]; settings.ns.len()]; variants.len()];
    for (ni, &n) in settings.ns.iter().enumerate() {
        if let Err(e) = capacity(n) {
            for f in &mut failures {
                f.push(e.clone());
            }
            // Shown as "?", not as 0 ms.
            for c in cells.iter_mut().flat_map(|v| v[ni].iter_mut()) {
                c.secs = f64::NAN;
                c.cpu = f64::NAN;
            }
            continue;
        }
        load.push(format!("{} before N = {n}", loadavg()));
        for (vi, &trap) in variants.iter().enumerate() {
            eprintln!("compare: shutdown at scale, N = {n}{} ({} rounds)…", trap_label(trap), settings.runs);
            let mut times = vec![Vec::with_capacity(settings.runs); inits.len()];
            let mut cpu = vec![Vec::with_capacity(settings.runs); inits.len()];
            for round in 0..settings.runs {
                for k in order(inits.len(), round) {
                    match once(&inits[k], n, trap, null) {
                        Ok(run) => {
                            times[k].push(run.secs);
                            cpu[k].push(run.cpu);
                            let c = &mut cells[vi][ni][k];
                            c.hwm_before = c.hwm_before.max(run.hwm_before);
                            c.hwm_peak = c.hwm_peak.max(run.hwm_peak);
                        }
                        Err(e) => failures[k].push(format!("shutdown at scale{}: {e}", trap_label(trap))),
                    }
                }
            }
            for k in 0..inits.len() {
                cells[vi][ni][k].secs = median(&mut times[k]);
                cells[vi][ni][k].cpu = median(&mut cpu[k]);
            }
        }
    }
    load.push(format!("{} after it", loadavg()));
    Results { variants, ns: settings.ns.clone(), cells, failures, load, took: started.elapsed() }
}

fn trap_label(trap: usize) -> String {
    if trap == 0 { String::new() } else { format!(", 1 in {trap} trapping SIGTERM") }
}

// ---------------------------------------------------------------------------
// The report

/// The inits measured here: all but the dynamic tini when tini-static is
/// there (the same code; one 20,000-process round costs seconds per init).
pub fn pick(inits: &[Init]) -> Vec<Init> {
    let has_static = inits.iter().any(|i| i.name == "tini-static");
    inits.iter().filter(|i| !(has_static && i.name == "tini")).cloned().collect()
}

/// The peer the issue-14 ratios are taken against.
fn reference(inits: &[Init]) -> Option<usize> {
    inits.iter().position(|i| i.name == "dumb-init")
}

fn ms(secs: f64) -> String {
    if secs.is_nan() { "?".into() } else { format!("{:.1}", secs * 1e3) }
}

/// (largest N, second largest N, t(largest)/t(second largest)) for init `k`:
/// t(20000)/t(5000) with the default N.
fn growth(r: &Results, vi: usize, k: usize) -> Option<(usize, usize, f64)> {
    let m = r.ns.len();
    if m < 2 {
        return None;
    }
    let (a, b) = (m - 2, m - 1);
    Some((r.ns[b], r.ns[a], r.cells[vi][b][k].secs / r.cells[vi][a][k].secs))
}

fn variant_label(trap: usize) -> String {
    if trap == 0 { "all die on SIGTERM".into() } else { format!("1 in {trap} traps, exits 50 ms later") }
}

/// One table: a row per (variant, N) of `value` for every init, with the
/// ratio of rinit to dumb-init, and the growth rows when `growth_rows`.
fn table(
    s: &mut String,
    inits: &[Init],
    r: &Results,
    what: &str,
    value: fn(&Cell) -> f64,
    growth_rows: bool,
) {
    let dumb = reference(inits);
    let mut header = String::from("| N | variant |");
    let mut sep = String::from("|--:|---|");
    for i in inits {
        let _ = write!(header, " {} {what} |", i.name);
        sep.push_str("--:|");
    }
    if dumb.is_some() {
        header.push_str(" rinit / dumb-init |");
        sep.push_str("--:|");
    }
    let _ = writeln!(s, "{header}\n{sep}");
    for (vi, &trap) in r.variants.iter().enumerate() {
        let variant = variant_label(trap);
        for (ni, n) in r.ns.iter().enumerate() {
            let cells = &r.cells[vi][ni];
            let mut row = format!("| {n} | {variant} |");
            for c in cells {
                let _ = write!(row, " {} |", ms(value(c)));
            }
            if let Some(d) = dumb {
                let _ = write!(row, " {:.2} |", value(&cells[0]) / value(&cells[d]));
            }
            let _ = writeln!(s, "{row}");
        }
        if growth_rows && let Some((hi, lo, _)) = growth(r, vi, 0) {
            let mut row = format!("| t({hi})/t({lo}) | {variant} |");
            for k in 0..inits.len() {
                let _ = write!(row, " {:.2} |", growth(r, vi, k).map_or(f64::NAN, |g| g.2));
            }
            if dumb.is_some() {
                row.push_str(" |");
            }
            let _ = writeln!(s, "{row}");
        }
    }
}

/// Over both variants at the largest N: (largest VmHWM before SIGTERM,
/// largest peak) of init `k`.
fn hwm(r: &Results, k: usize) -> (Option<u64>, Option<u64>) {
    let Some(ni) = r.ns.len().checked_sub(1) else {
        return (None, None);
    };
    let cells = || r.cells.iter().map(move |v| &v[ni][k]);
    (cells().filter_map(|c| c.hwm_before).max(), cells().filter_map(|c| c.hwm_peak).max())
}

#[allow(clippy::too_many_lines)]
pub fn report(inits: &[Init], r: &Results, runs: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n### Shutdown at scale (issue 14)\n\nFrom SIGTERM to the init's exit:\n");
    table(&mut s, inits, r, "(ms)", |c| c.secs, true);
    let _ = writeln!(s, "\nCPU the init used over that time, user + kernel:\n");
    table(&mut s, inits, r, "CPU (ms)", |c| c.cpu, false);
    if let Some(&n) = r.ns.last() {
        let _ = writeln!(s, "\nVmHWM of the init at N = {n} (KiB), before SIGTERM → peak:\n");
        let _ = writeln!(
            s,
            "| {} |\n|{}",
            inits.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(" | "),
            "--:|".repeat(inits.len())
        );
        let cells: Vec<String> = (0..inits.len())
            .map(|k| {
                let (b, p) = hwm(r, k);
                format!("{} → {}", super::fmt_opt(b), super::fmt_opt(p))
            })
            .collect();
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
    let dumb = reference(inits);
    let _ = writeln!(
        s,
        "\nMedians of {runs} rounds, the inits interleaved in rotating order; load average {}; {:.0} s in all. \
         Time: kill(init, SIGTERM) to the init's exit (waitid), which the kernel reports only once the whole namespace is gone. \
         CPU: the init's /proc/PID/schedstat before SIGTERM and as a zombie, before it is reaped. \
         The program forks N children in its own process group (in batches of {BATCH}, each reporting that it runs), \
         each asleep in pause() with SIGTERM's default action, or trapping SIGTERM and exiting 50 ms after it; \
         it dies of SIGTERM itself. Every init as a user runs it by default (`INIT -- PROG`): rinit TERMs the program, \
         then every other process; dumb-init TERMs the program's process group; tini and catatonit TERM the program \
         and exit with it, and the kernel SIGKILLs the rest (so their trapping children never get their 50 ms). \
         VmHWM: /proc/PID/status of the init just before SIGTERM and sampled every millisecond until its exit \
         (the last value read; largest over the runs of both variants). \
         Targets (issue 20): without trappers, rinit's median at most 1.1× dumb-init's; with trappers, at most \
         50 ms (the trappers' delay, which dumb-init never waits for) + 1.1× dumb-init's median without trappers at the same N; \
         the ratio column of a trapping row is rinit over that bound.",
        r.load.join(", "),
        r.took.as_secs_f64()
    );
    if let Some(d) = dumb {
        let _ = writeln!(s, "\n### Targets of issue 14 (rinit against dumb-init, same run)\n");
        let _ = writeln!(s, "| target | rinit | dumb-init | ratio | met |\n|---|--:|--:|--:|:-:|");
        // The variant without trappers: the trapping rows' reference too.
        let plain = r.variants.iter().position(|&t| t == 0);
        for (vi, &trap) in r.variants.iter().enumerate() {
            let label = if trap == 0 { String::new() } else { format!(", 1 in {trap} trapping") };
            for (ni, n) in r.ns.iter().enumerate() {
                let a = r.cells[vi][ni][0].secs;
                if trap == 0 {
                    let b = r.cells[vi][ni][d].secs;
                    let q = a / b;
                    let _ = writeln!(
                        s,
                        "| shutdown of {n} ≤ 1.1× | {} ms | {} ms | {q:.2} | {} |",
                        ms(a),
                        ms(b),
                        super::yes(q <= 1.1)
                    );
                } else if let Some(p) = plain {
                    // Issue 20: dumb-init leaves the trapping processes to
                    // the kernel's SIGKILL, rinit gives them their 50 ms,
                    // so the bound is those 50 ms plus 1.1x dumb-init's row
                    // without trappers at the same N.
                    let b = r.cells[p][ni][d].secs;
                    let bound = TRAP_DELAY.as_secs_f64() + 1.1 * b;
                    let _ = writeln!(
                        s,
                        "| shutdown of {n}{label} ≤ 50 ms + 1.1× dumb-init without trappers | {} ms | {} ms (bound {} ms) | {:.2} | {} |",
                        ms(a),
                        ms(b),
                        ms(bound),
                        a / bound,
                        super::yes(a <= bound)
                    );
                }
            }
            if let (Some((hi, lo, g)), Some((_, _, gd))) = (growth(r, vi, 0), growth(r, vi, d)) {
                let _ = writeln!(
                    s,
                    "| t({hi})/t({lo}){label} ≤ 4.5 | {g:.2} | {gd:.2} | | {} |",
                    super::yes(g <= 4.5)
                );
            }
        }
        if let Some(&n) = r.ns.last() {
            let (a, b) = (hwm(r, 0).1, hwm(r, d).1);
            let _ = writeln!(
                s,
                "| peak RSS during the {n}-process shutdown < 1 MiB | {} KiB | {} KiB | | {} |",
                super::fmt_opt(a),
                super::fmt_opt(b),
                super::yes(a.is_some_and(|v| v < 1024))
            );
        }
    }
    let failures: Vec<String> = inits
        .iter()
        .zip(&r.failures)
        .flat_map(|(i, f)| f.iter().map(move |m| format!("- {}: {m}", i.name)))
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(s, "\n### Failures (shutdown at scale)\n\n{}", failures.join("\n"));
    }
    s
}
