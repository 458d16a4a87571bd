//! The exit report of rinit(1) CGROUPS (`--report`, `--report-file`): what
//! the container used, as one line and as one JSON object. Pure: the figures
//! come in (`cgroup::usage` reads them at exit, `deliver` writes), text comes
//! out. A figure that could not be had is `unknown` in the line and `null` in
//! the JSON, never 0.
//!
//! JSON is written by hand (no serde: the runtime dependencies are fixed);
//! every number is an integer (float formatting would add ~15 KB to the
//! binary), every string is escaped.

mod deliver;

pub use deliver::{Exit, Wanted, deliver};

use std::fmt::Write;
use std::time::Duration;

use crate::signals;
use crate::status::Ended;

/// What the cgroup files say, read at exit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// The cgroup version the memory figures come from (`v1`, `v2`).
    pub version: Option<&'static str>,
    pub cpu: Option<Cpu>,
    /// Peak memory use in bytes, page cache included (the kernel counts it
    /// in both versions' peaks): v2 `memory.peak`, v1
    /// `memory.max_usage_in_bytes`.
    pub memory_peak: Option<u64>,
    pub memory_limit: Limit,
    /// v2 or v1 `pids.peak`.
    pub pids_peak: Option<u64>,
    /// The memory cgroup's `oom_kill` count.
    pub oom_kills: Option<u64>,
}

/// CPU time in microseconds: the total, and the split where the kernel
/// gives one (v2 `cpu.stat`; v1 `cpuacct.stat`, in USER_HZ ticks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cpu {
    pub total_usec: u64,
    pub user_usec: Option<u64>,
    pub system_usec: Option<u64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Limit {
    /// No limit file could be read.
    #[default]
    Unknown,
    /// `max` (v2), or v1's "no limit" (a number near 2^63).
    Unlimited,
    Bytes(u64),
}

/// Where the peak number of processes comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidsFrom {
    /// The kernel's `pids.peak`.
    Kernel,
    /// The most processes rinit listed in `/proc` during the shutdown: a
    /// lower bound, when there is no `pids.peak`.
    Seen,
}

/// Everything the report says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// How long rinit ran, from the program's start to rinit's exit.
    pub ran: Duration,
    pub figures: Figures,
    pub pids_peak: Option<(u64, PidsFrom)>,
    /// The program's name (argv\[0\], as given to rinit), as bytes: the
    /// line shows it escaped as every name rinit logs is (rinit(1)
    /// DIAGNOSTICS), the JSON as UTF-8, invalid bytes replaced.
    pub program: Vec<u8>,
    /// How the program ended; None if its status was lost.
    pub ended: Option<Ended>,
    /// rinit's own exit status.
    pub exit_status: i32,
    /// The status was forced by an OOM kill (`--oom-exit`).
    pub oom_exit: bool,
}

impl Report {
    /// The figures and what the shell knows; `seen` is the most processes
    /// rinit listed (0: it never listed any), used when there is no
    /// `pids.peak`.
    pub fn new(figures: Figures, seen: usize, ran: Duration, program: Vec<u8>, ended: Option<Ended>, exit_status: i32, oom_exit: bool) -> Report {
        let seen = u64::try_from(seen).ok().filter(|n| *n > 0);
        let pids_peak = match figures.pids_peak {
            Some(n) => Some((n, PidsFrom::Kernel)),
            None => seen.map(|n| (n, PidsFrom::Seen)),
        };
        Report { ran, figures, pids_peak, program, ended, exit_status, oom_exit }
    }

    /// The line on stderr (after `[rinit] `). Out of line, like `json`:
    /// inlined together, their formatting made a 1.6 KB frame (PID 1 may
    /// have about 4 KiB of stack: rinit(1) LIMITS).
    #[inline(never)]
    pub fn line(&self) -> String {
        let mut s = format!("report: ran {}", seconds(self.ran.as_micros()));
        match self.figures.cpu {
            Some(cpu) => {
                let _ = write!(s, ", CPU {}", seconds(u128::from(cpu.total_usec)));
                if let (Some(user), Some(system)) = (cpu.user_usec, cpu.system_usec) {
                    let _ = write!(s, " (user {}, system {})", seconds(u128::from(user)), seconds(u128::from(system)));
                }
            }
            None => s.push_str(", CPU unknown"),
        }
        let peak = self.figures.memory_peak.map_or_else(|| "unknown".to_string(), crate::cgroup::human_bytes);
        let limit = match self.figures.memory_limit {
            Limit::Unknown => "limit unknown".to_string(),
            Limit::Unlimited => "no limit".to_string(),
            Limit::Bytes(n) => format!("limit {}", crate::cgroup::human_bytes(n)),
        };
        let _ = write!(s, ", memory peak {peak} ({limit}, page cache included)");
        match self.pids_peak {
            Some((n, PidsFrom::Kernel)) => {
                let _ = write!(s, ", processes peak {n}");
            }
            Some((n, PidsFrom::Seen)) => {
                let _ = write!(s, ", processes peak at least {n} (no pids.peak; the most rinit listed)");
            }
            None => s.push_str(", processes peak unknown"),
        }
        match self.figures.oom_kills {
            Some(n) => {
                let _ = write!(s, ", OOM kills {n}");
            }
            None => s.push_str(", OOM kills unknown"),
        }
        let _ = write!(s, ", program {} {}", crate::escape::Quoted(&self.program), ending(self.ended));
        let _ = write!(s, ", exit status {}", self.exit_status);
        if self.oom_exit {
            s.push_str(" (--oom-exit)");
        }
        s
    }

    /// The JSON object, on one line.
    #[inline(never)]
    pub fn json(&self) -> String {
        let f = &self.figures;
        let cpu = f.cpu;
        let (limit, limited) = match f.memory_limit {
            Limit::Unknown => (None, None),
            Limit::Unlimited => (None, Some(false)),
            Limit::Bytes(n) => (Some(n), Some(true)),
        };
        let (code, signal) = match self.ended {
            Some(Ended::Exited(c)) => (Some(c), None),
            Some(Ended::Signaled(s)) => (None, Some(signals::name(s))),
            None => (None, None),
        };
        let ended = match self.ended {
            Some(Ended::Exited(_)) => "exited",
            Some(Ended::Signaled(_)) => "killed",
            None => "lost",
        };
        let pids_from = self.pids_peak.map(|(_, from)| match from {
            PidsFrom::Kernel => "pids.peak",
            PidsFrom::Seen => "rinit",
        });
        // Field by field into one string: an array of the 18 made a 1.4 KB
        // frame (PID 1 may have about 4 KiB of stack: rinit(1) LIMITS).
        let mut s = String::from("{");
        field(&mut s, "ran_usec", self.ran.as_micros().to_string());
        field(&mut s, "cpu_usec", number(cpu.map(|c| c.total_usec)));
        field(&mut s, "cpu_user_usec", number(cpu.and_then(|c| c.user_usec)));
        field(&mut s, "cpu_system_usec", number(cpu.and_then(|c| c.system_usec)));
        field(&mut s, "memory_peak_bytes", number(f.memory_peak));
        field(&mut s, "memory_limit_bytes", number(limit));
        field(&mut s, "memory_limited", limited.map_or_else(|| "null".to_string(), |b| b.to_string()));
        field(&mut s, "memory_includes_page_cache", "true".to_string());
        field(&mut s, "pids_peak", number(self.pids_peak.map(|(n, _)| n)));
        field(&mut s, "pids_peak_from", text(pids_from));
        field(&mut s, "oom_kills", number(f.oom_kills));
        field(&mut s, "cgroup", text(f.version));
        field(&mut s, "program", string(&String::from_utf8_lossy(&self.program)));
        field(&mut s, "program_ended", string(ended));
        field(&mut s, "program_exit_code", number(code));
        field(&mut s, "program_signal", text(signal.as_deref()));
        field(&mut s, "exit_status", self.exit_status.to_string());
        field(&mut s, "oom_exit", self.oom_exit.to_string());
        s.push('}');
        s
    }
}

/// One `"key":value` of the JSON object, after a comma if not the first.
fn field(s: &mut String, key: &str, value: String) {
    if s.len() > 1 {
        s.push(',');
    }
    s.push_str(&string(key));
    s.push(':');
    s.push_str(&value);
}

/// How the program ended, in words.
fn ending(ended: Option<Ended>) -> String {
    match ended {
        Some(Ended::Exited(c)) => format!("exited with {c}"),
        Some(Ended::Signaled(s)) => format!("was killed by {}", signals::name(s)),
        None => "ended with its status lost".to_string(),
    }
}

/// Microseconds as seconds with three decimals, in integers.
fn seconds(usec: u128) -> String {
    let ms = usec / 1000;
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

fn number<T: ToString>(n: Option<T>) -> String {
    n.map_or_else(|| "null".to_string(), |n| n.to_string())
}

fn text(s: Option<&str>) -> String {
    s.map_or_else(|| "null".to_string(), string)
}

/// A JSON string: `"` and `\` escaped, control characters as `\u00XX`
/// (RFC 8259 section 7). Everything else is valid UTF-8 already.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    fn full() -> Report {
        let figures = Figures {
            version: Some("v1"),
            cpu: Some(Cpu { total_usec: 1_020_500, user_usec: Some(990_000), system_usec: Some(30_000) }),
            memory_peak: Some(69_402_624),
            memory_limit: Limit::Bytes(256 << 20),
            pids_peak: Some(23),
            oom_kills: Some(0),
        };
        Report::new(figures, 0, Duration::from_millis(2_345), b"sh".to_vec(), Some(Ended::Exited(0)), 0, false)
    }

    #[test]
    fn the_line_gives_every_figure() {
        assert_eq!(
            full().line(),
            "report: ran 2.345s, CPU 1.020s (user 0.990s, system 0.030s), memory peak 66.2 MiB (limit 256 MiB, page cache included), processes peak 23, OOM kills 0, program 'sh' exited with 0, exit status 0"
        );
    }

    #[test]
    fn the_json_gives_the_same_figures() {
        assert_eq!(
            full().json(),
            r#"{"ran_usec":2345000,"cpu_usec":1020500,"cpu_user_usec":990000,"cpu_system_usec":30000,"memory_peak_bytes":69402624,"memory_limit_bytes":268435456,"memory_limited":true,"memory_includes_page_cache":true,"pids_peak":23,"pids_peak_from":"pids.peak","oom_kills":0,"cgroup":"v1","program":"sh","program_ended":"exited","program_exit_code":0,"program_signal":null,"exit_status":0,"oom_exit":false}"#
        );
    }

    #[test]
    fn what_cannot_be_had_is_unknown_or_null_never_0() {
        let r = Report::new(Figures::default(), 0, Duration::from_micros(1_500), b"a\"b\\c\n\xff\x1b'".to_vec(), None, 1, false);
        assert_eq!(
            r.line(),
            "report: ran 0.001s, CPU unknown, memory peak unknown (limit unknown, page cache included), processes peak unknown, OOM kills unknown, program 'a\"b\\\\c\\n\\xff\\x1b\\'' ended with its status lost, exit status 1"
        );
        let json = r.json();
        for key in ["cpu_usec", "cpu_user_usec", "cpu_system_usec", "memory_peak_bytes", "memory_limit_bytes", "memory_limited", "pids_peak", "pids_peak_from", "oom_kills", "cgroup", "program_exit_code", "program_signal"] {
            assert!(json.contains(&format!("\"{key}\":null")), "{key}: {json}");
        }
        assert!(json.contains("\"program\":\"a\\\"b\\\\c\\n\u{fffd}\\u001b'\""), "{json}");
        assert!(json.contains(r#""program_ended":"lost""#), "{json}");
        assert!(!json.contains(":0,") && !json.contains(":0}"), "no 0 stands in for a missing figure: {json}");
    }

    #[test]
    fn cpu_without_a_split_no_limit_and_processes_rinit_saw() {
        let figures = Figures {
            cpu: Some(Cpu { total_usec: 5_000, user_usec: None, system_usec: None }),
            memory_peak: Some(1 << 20),
            memory_limit: Limit::Unlimited,
            oom_kills: Some(2),
            version: Some("v2"),
            pids_peak: None,
        };
        let r = Report::new(figures, 7, Duration::from_secs(1), b"java".to_vec(), Some(Ended::Signaled(libc::SIGKILL)), 137, true);
        assert_eq!(
            r.line(),
            "report: ran 1.000s, CPU 0.005s, memory peak 1 MiB (no limit, page cache included), processes peak at least 7 (no pids.peak; the most rinit listed), OOM kills 2, program 'java' was killed by SIGKILL, exit status 137 (--oom-exit)"
        );
        let json = r.json();
        for part in [r#""memory_limit_bytes":null,"memory_limited":false"#, r#""pids_peak":7,"pids_peak_from":"rinit""#, r#""program_signal":"SIGKILL""#, r#""oom_exit":true"#, r#""cpu_user_usec":null"#] {
            assert!(json.contains(part), "{part}: {json}");
        }
    }

    #[test]
    fn json_strings_escape_control_characters() {
        assert_eq!(string("a\u{1}b\u{7f}\t\u{e9}"), "\"a\\u0001b\\u007f\\t\u{e9}\"");
        assert_eq!(string(""), "\"\"");
    }
}
