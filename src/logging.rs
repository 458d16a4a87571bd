//! Logging: stderr only (stdout belongs to the program), every line prefixed
//! `[rinit]`, through `log` and `env_logger`.

use std::io::Write;

use log::LevelFilter;

/// tini's verbosity numbering to a level: 0 errors, 1 warnings, 2 info,
/// 3 debug, 4 and up trace.
pub fn level(verbosity: u32) -> LevelFilter {
    match verbosity {
        0 => LevelFilter::Error,
        1 => LevelFilter::Warn,
        2 => LevelFilter::Info,
        3 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    }
}

/// Installs the logger. `filter` (RINIT_LOG) wins over the verbosity.
/// Out of line, like `cli::parse`.
#[inline(never)]
pub fn init(verbosity: u32, filter: Option<&str>) {
    let mut builder = env_logger::Builder::new();
    builder
        // The message's own arguments written straight in: `writeln!` with
        // `{}` formatted them one `fmt::write` deeper (PID 1 may have about
        // 4 KiB of stack: rinit(1) LIMITS).
        .format(|buf, record| {
            buf.write_all(b"[rinit] ")?;
            buf.write_fmt(*record.args())?;
            buf.write_all(b"\n")
        })
        .target(env_logger::Target::Stderr)
        .filter_level(level(verbosity));
    if let Some(f) = filter {
        builder.parse_filters(f);
    }
    // Fails only when a logger is already installed; the first one stays.
    let _ = builder.try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_levels() {
        assert_eq!(level(0), LevelFilter::Error);
        assert_eq!(level(1), LevelFilter::Warn);
        assert_eq!(level(2), LevelFilter::Info);
        assert_eq!(level(3), LevelFilter::Debug);
        assert_eq!(level(4), LevelFilter::Trace);
        assert_eq!(level(99), LevelFilter::Trace);
    }
}
