//! Bytes from outside shown so that they cannot pass for anything rinit
//! says itself (rinit(1) DIAGNOSTICS): process names, which a process
//! chooses, and the values, paths and names a user gives or the system
//! holds (an option's value, `--report-file`'s path, a cgroup's path).
//! Pure: only formatting.

use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Bytes shown so that they cannot pass for anything rinit says itself:
/// printable ASCII as it is, `\\` for a backslash, `\n` and `\t`, and
/// every other byte (control characters, DEL, anything not ASCII) as
/// `\xNN`. Nothing is lost: the escaping can be undone, and two names never
/// show the same.
#[derive(Clone, Copy)]
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while !rest.is_empty() {
            // The printable run up to the next byte to escape, in one write.
            // The quote too: names are logged inside '...', and a name with
            // one in it could pass for two processes.
            let plain = rest.iter().position(|&b| !(b' '..=b'~').contains(&b) || b == b'\\' || b == b'\'').unwrap_or(rest.len());
            let (run, after) = rest.split_at_checked(plain).unwrap_or((rest, &[]));
            f.write_str(std::str::from_utf8(run).unwrap_or_default())?;
            let Some((&b, after)) = after.split_first() else { break };
            match b {
                b'\\' => f.write_str("\\\\")?,
                b'\'' => f.write_str("\\'")?,
                b'\n' => f.write_str("\\n")?,
                b'\t' => f.write_str("\\t")?,
                _ => write!(f, "\\x{b:02x}")?,
            }
            rest = after;
        }
        Ok(())
    }
}

/// A value in quotes, escaped: `'2s\n'` for "2s" and a newline. The quote
/// itself is escaped inside, so the value ends where the quotes say.
#[derive(Clone, Copy)]
pub struct Quoted<'a>(pub &'a [u8]);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", Escaped(self.0))
    }
}

/// A path, escaped: in place of `Path::display`, which writes a newline as
/// it is (and replaces bytes that are not UTF-8).
pub fn path(p: &Path) -> Escaped<'_> {
    Escaped(p.as_os_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_bytes_cannot_forge_a_line_and_nothing_is_lost() {
        let shown = |b: &[u8]| Escaped(b).to_string();
        assert_eq!(shown(b""), "");
        assert_eq!(shown(b"nginx: worker"), "nginx: worker");
        // A quote would end the name in '...': "x', pid 9 'y" was two.
        assert_eq!(shown(b"x', pid 9 'y"), "x\\', pid 9 \\'y");
        assert_eq!(shown(b"a\tb\\c\rd\x1b[2Je\x7f\x00"), "a\\tb\\\\c\\x0dd\\x1b[2Je\\x7f\\x00");
        // UTF-8 too is shown byte by byte: no character can pass for
        // another, nor reorder the line (U+202E).
        assert_eq!(shown("caf\u{e9}\u{202e}".as_bytes()), "caf\\xc3\\xa9\\xe2\\x80\\xae");
        // Every byte shown is printable ASCII, and no two names look alike.
        let all: Vec<u8> = (0..=255).collect();
        let s = shown(&all);
        assert!(s.bytes().all(|b| (b' '..=b'~').contains(&b)), "{s}");
        assert_ne!(shown(b"\\n"), shown(b"\n"));
        assert_ne!(shown(b"\\x41"), shown(b"A"));
    }

    #[test]
    fn values_and_paths_are_escaped_the_same_way() {
        assert_eq!(Quoted(b"2s\n[rinit] all ok").to_string(), "'2s\\n[rinit] all ok'");
        assert_eq!(Quoted(b"it's").to_string(), "'it\\'s'");
        assert_eq!(path(Path::new("/tmp/a\nb")).to_string(), "/tmp/a\\nb");
        let odd = std::ffi::OsStr::from_bytes(b"/tmp/\xff");
        assert_eq!(path(Path::new(odd)).to_string(), "/tmp/\\xff");
    }
}
