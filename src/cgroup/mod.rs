//! cgroups (rinit(1) CGROUPS): the `--pids-max` limit and the OOM-kill report.
//!
//! - `locate`: the one way rinit finds its cgroup in a hierarchy
//!   (`/proc/self/cgroup` and `/proc/self/mountinfo`);
//! - `pids`: `--pids-max`, and undoing it at exit;
//! - `oom`: every OOM kill in rinit's memory cgroup, reported as it happens;
//!   `notify`: the kernel's notice that the count may have changed;
//! - `usage`: the figures of the exit report (`--report`), read at exit.
//!
//! Both roots (`/proc`, `/sys/fs/cgroup`) are parameters so that the unit
//! tests run everything over fake trees; the parsing is pure.

mod locate;
mod notify;
mod oom;
mod pids;
mod usage;

#[cfg(test)]
mod fake;

pub use oom::{OomEvent, OomWatch, Told};
pub use pids::{PidsLimit, limit_pids};
pub use usage::usage;
pub(crate) use oom::human_bytes;

use std::fs;
use std::path::Path;

#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Opens `path` read-only and close-on-exec with one system call: musl's
/// `open` (under `std::fs::File::open`) adds an `fcntl(F_SETFD)` after every
/// open for kernels older than O_CLOEXEC, and these opens are on rinit's
/// start-up path.
fn open(path: &Path) -> std::io::Result<fs::File> {
    open_with(path, libc::O_RDONLY)
}

/// How `fs::write` opens (a control file: the cgroup's OOM registration;
/// the unit tests' fake cgroups make it).
const WRITE_FLAGS: libc::c_int = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC;

fn open_with(path: &Path, flags: libc::c_int) -> std::io::Result<fs::File> {
    open_at(path.as_os_str().as_encoded_bytes(), b"", flags)
}

/// `open` of `name` in `dir`, the path made where `open` makes it: no
/// `PathBuf` to allocate (and `Path::join` costs a thousand instructions).
fn open_in(dir: &Path, name: &str, flags: libc::c_int) -> std::io::Result<fs::File> {
    open_at(dir.as_os_str().as_encoded_bytes(), name.as_bytes(), flags)
}

/// Opens `dir` + `/` + `name` (or `dir` alone when `name` is empty).
fn open_at(dir: &[u8], name: &[u8], flags: libc::c_int) -> std::io::Result<fs::File> {
    // The C string is made on the stack when the path fits, as it always
    // does here: an allocation costs more than the system call's set-up.
    let mut buf = [0u8; 256];
    let mut heap = Vec::new();
    let parts: [&[u8]; 3] = if name.is_empty() { [dir, b"", b""] } else { [dir, b"/", name] };
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let path: &mut [u8] = match buf.get_mut(..=len) {
        Some(path) => path,
        None => {
            heap.resize(len + 1, 0);
            &mut heap
        }
    };
    let mut at = 0;
    for part in parts {
        if let Some(dst) = path.get_mut(at..at + part.len()) {
            dst.copy_from_slice(part);
        }
        at += part.len();
    }
    let c_path = std::ffi::CStr::from_bytes_until_nul(path)
        .ok()
        .filter(|c| c.count_bytes() == len)
        .ok_or(std::io::ErrorKind::InvalidInput)?;
    // SAFETY: a valid C string; openat returns a new descriptor or -1.
    let fd = unsafe {
        libc::syscall(libc::SYS_openat, libc::AT_FDCWD, c_path.as_ptr(), flags | libc::O_CLOEXEC, 0o666 as libc::c_uint)
    };
    crate::fd::from_syscall(fd).map(fs::File::from)
}

/// Appends the whole of `name` in `dir` to `text` (as `read` reads), and
/// hands the file back still open: the OOM watch closes the two files
/// `locate` reads together with its own (oom.rs `close_both`).
fn read_into(dir: &Path, name: &str, text: &mut Vec<u8>) -> Result<fs::File, String> {
    let why = |e: std::io::Error| format!("cannot read {}: {e}", crate::escape::path(&dir.join(name)));
    let file = open_in(dir, name, libc::O_RDONLY).map_err(why)?;
    read_to_end(&file, text).map_err(why)?;
    Ok(file)
}

/// Whether an open failed for want of a descriptor (RLIMIT_NOFILE, or the
/// system's table full).
fn no_descriptor(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Reads a whole `/proc` or cgroup file, to its end: read returns 0 there
/// and nowhere else. They report a size of 0 (so `fs::read` would start
/// with 32-byte reads after an fstat and an lseek), and many are seq_files,
/// which give at most about a page per read (`/proc/self/mountinfo` with
/// many mounts, `/proc/thread-self/children` with a few hundred children):
/// a short read is not the end. The text is read straight into its buffer,
/// which grows by a page only when a read has filled it. For files of
/// numbers and words: whatever is not UTF-8 is replaced, so the files that
/// name paths (`/proc/self/mountinfo`, `/proc/self/cgroup`) are read as
/// bytes instead (`locate::read_both`).
fn read(path: &Path) -> Result<String, String> {
    let why = |e: std::io::Error| format!("cannot read {}: {e}", crate::escape::path(path));
    let file = open(path).map_err(why)?;
    let mut text = Vec::new();
    read_to_end(&file, &mut text).map_err(why)?;
    Ok(String::from_utf8(text).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Appends what is left of `file` to `text` until read returns 0, each
/// read straight into the spare capacity (nothing zeroed, nothing copied).
/// The buffer grows only when less than `MIN_SPARE` of it is left (a seq_file
/// gives what fits, and the rest at the next read): at start-up mountinfo
/// and the cgroup file then share the one page that becomes the OOM watch's
/// (issue 20: growing it at half a page full, then shrinking it back for the
/// watch, cost two reallocations, an mmap and a munmap each).
fn read_to_end(file: &fs::File, text: &mut Vec<u8>) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    const PAGE: usize = 4096;
    const MIN_SPARE: usize = 512;
    loop {
        if text.capacity() - text.len() < MIN_SPARE {
            text.reserve(PAGE);
        }
        let spare = text.spare_capacity_mut();
        // SAFETY: read writes at most `spare.len()` bytes into the spare
        // capacity, and says how many.
        let got = unsafe { libc::read(file.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
        match usize::try_from(got) {
            Ok(0) => return Ok(()),
            // SAFETY: the first `n` bytes of the spare capacity were just
            // written by read (n <= spare.len()).
            Ok(n) => unsafe { text.set_len(text.len() + n) },
            Err(_) => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// Eight bytes of ones: `ONES * b` is a word of eight `b`s.
const ONES: u64 = u64::from_le_bytes([1; 8]);

/// A high bit in each byte of `word` that is 0, and in no other: each
/// byte's low seven bits added to 0x7f carry into its high bit unless they
/// are all 0, and never into the next byte.
#[inline(always)]
fn exact_zero_bytes(word: u64) -> u64 {
    const LOWS: u64 = u64::from_le_bytes([0x7f; 8]);
    !((word & LOWS).wrapping_add(LOWS) | word | LOWS)
}

/// Where the first `byte` in `text` is: mountinfo and /proc/self/cgroup
/// are read to every newline, and mount points found, at every start
/// (issue 20). A byte loop costs about 7 instructions a byte at opt-level
/// z, and musl's `memchr` about 2.5 with 50 or so of set-up on each call,
/// too many for fields a few bytes long. On x86_64, sixteen bytes at a
/// time with SSE2, which every x86_64 has (0.5 instructions a byte: 3,000
/// fewer at a start on a Docker container's files); elsewhere, and for
/// the last few bytes, eight at a time in a word (1.4).
fn find_byte(text: &[u8], byte: u8) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
        // SAFETY (here and below): the intrinsics need SSE2, which this
        // build targets (the cfg above; x86_64's baseline has it).
        let pattern = unsafe { _mm_set1_epi8(i8::from_ne_bytes([byte])) };
        let mut blocks = text.chunks_exact(16);
        let mut at = 0;
        for block in &mut blocks {
            // SAFETY: SSE2, and `block` is 16 bytes of `text`; the load
            // needs no alignment.
            let block = unsafe { _mm_loadu_si128(block.as_ptr().cast::<__m128i>()) };
            // Bit i set: byte i of the block is `byte`.
            let hits = unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(block, pattern)) };
            if hits != 0 {
                return Some(at + hits.trailing_zeros() as usize);
            }
            at += 16;
        }
        find_byte_in_words(blocks.remainder(), byte).map(|i| at + i)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    find_byte_in_words(text, byte)
}

/// `find_byte`, eight bytes at a time.
fn find_byte_in_words(text: &[u8], byte: u8) -> Option<usize> {
    let pattern = ONES * u64::from(byte);
    first_of(text, |word| zero_bytes(word ^ pattern), |b| b == byte)
}

/// A high bit in each byte of `word` that is 0, and maybe in some bytes
/// after such a byte (the borrow carries on through a 1): the lowest one,
/// the first byte in little-endian order, is always right.
#[inline(always)]
fn zero_bytes(word: u64) -> u64 {
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    word.wrapping_sub(ONES) & !word & HIGHS
}

/// The first byte of `text` that `is_it` says is wanted: `found` gives the
/// wanted bytes of eight at a time (as `zero_bytes` does), `is_it` checks
/// the last few one by one.
#[inline(always)]
fn first_of(text: &[u8], found: impl Fn(u64) -> u64, is_it: impl Fn(u8) -> bool) -> Option<usize> {
    let mut words = text.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let hits = found(u64::from_le_bytes(word.try_into().unwrap_or_default()));
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words.remainder().iter().position(|&b| is_it(b)).map(|i| at + i)
}

/// Writes a cgroup control file (one `write`, as the kernel wants).
fn write(path: &Path, value: &str) -> Result<(), String> {
    fs::write(path, value).map_err(|e| format!("cannot write '{value}' to {}: {e}", crate::escape::path(path)))
}

fn has_word(text: &str, word: &str) -> bool {
    text.split_whitespace().any(|w| w == word)
}

/// The value of `key` in a flat keyed file (`oom_kill 3`).
fn keyed(text: &str, key: &str) -> Option<u64> {
    keyed_bytes(text.as_bytes(), key)
}

/// `keyed` of the bytes as read. Read on every look at the OOM count: each
/// line's end found eight bytes at a time, the key compared only on a line
/// that starts as it does, and a plain number read without a `str`
/// (issue 20: 750 instructions a look for a file of three lines).
fn keyed_bytes(text: &[u8], key: &str) -> Option<u64> {
    let key = key.as_bytes();
    let mut at = 0;
    while at <= text.len() {
        let rest = text.get(at..).unwrap_or_default();
        let end = at + find_byte(rest, b'\n').unwrap_or(rest.len());
        let line = text.get(at..end).unwrap_or_default();
        if line.first() == key.first()
            && line.get(key.len()) == Some(&b' ')
            && line.get(..key.len()) == Some(key)
            && let Some(n) = number(line.get(key.len() + 1..).unwrap_or_default())
        {
            return Some(n);
        }
        at = end + 1;
    }
    None
}

/// A count as a flat keyed file writes it: digits, read as they are; any
/// other text as `str::parse` reads it once trimmed.
fn number(value: &[u8]) -> Option<u64> {
    if (1..=19).contains(&value.len()) && value.iter().all(u8::is_ascii_digit) {
        return Some(value.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0')));
    }
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn reads_keyed_files() {
        assert_eq!(keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"), Some(3));
        assert_eq!(keyed("low 0\nhigh 0\n", "oom_kill"), None);
        assert_eq!(keyed("oom_kill_disable 0\noom 2\n", "oom"), Some(2), "a key that starts another is not it");
        assert_eq!(keyed("oom_kill x\noom_kill 4\r\n", "oom_kill"), Some(4), "the first line with a number");
        assert_eq!(keyed("oom_kill 18446744073709551615", "oom_kill"), Some(u64::MAX), "no newline, 20 digits");
        assert_eq!(keyed("oom_kill 18446744073709551616\noom_kill +7\n", "oom_kill"), Some(7), "too large; a sign");
        assert_eq!(keyed("oom_kill 9999999999999999999\n", "oom_kill"), Some(9_999_999_999_999_999_999));
        assert_eq!(keyed("oom_kill\noom_kill \n", "oom_kill"), None);
        assert!(has_word("cpu pids\n", "pids"));
        assert!(!has_word("cpu pidsx\n", "pids"));
    }

    #[test]
    fn finds_a_byte_wherever_it_is() {
        // Every position in and past the first words, the bytes around it
        // chosen to trip a careless word trick (0x80 and the byte + 1).
        // Past two of SSE2's blocks of 16 and a word of 8 into the rest.
        for len in 0..72 {
            for at in 0..=len {
                let mut text = vec![b'/'; len];
                for (i, b) in text.iter_mut().enumerate() {
                    *b = [b'/', 0x80, b' ' + 1, 0xff, 0][i % 5];
                }
                if let Some(b) = text.get_mut(at) {
                    *b = b' ';
                }
                let want = text.iter().position(|&b| b == b' ');
                assert_eq!(find_byte(&text, b' '), want, "len {len}, at {at}: {text:?}");
                // Two of them: the first one counts.
                if at + 3 < len {
                    text[at + 3] = b' ';
                    assert_eq!(find_byte(&text, b' '), want, "len {len}, at {at}");
                }
            }
        }
        assert_eq!(find_byte(b"abc\n", b'\n'), Some(3));
        assert_eq!(find_byte(b"\0\0\0\0\0\0\0\0\0", 0), Some(0));
    }

    #[test]
    fn finds_zero_bytes_exactly() {
        // Every byte value at every place, among bytes that trip the
        // cheaper trick's borrow (1 after a 0) and its high bits (0x80).
        for at in 0..8 {
            for b in 0..=255u8 {
                let mut bytes = [1u8, 0x80, 1, 0, 1, 0xff, 0, 1];
                bytes[at] = b;
                let want = bytes.iter().enumerate().fold(0u64, |m, (i, &x)| if x == 0 { m | 0x80 << (8 * i) } else { m });
                assert_eq!(exact_zero_bytes(u64::from_le_bytes(bytes)), want, "{bytes:?}");
            }
        }
    }

    #[test]
    fn reads_a_seq_file_past_its_first_page() {
        // /proc/thread-self/children gives about a page per read: children
        // are started until their list is 6,000 bytes long. Before issue 19,
        // `read` stopped at the first short read and missed the children
        // listed after the first page.
        let mut children = Vec::new();
        let mut length = 0;
        while length < 6000 {
            let child = std::process::Command::new("sleep").arg("1000").spawn().unwrap();
            length += child.id().to_string().len() + 1;
            children.push(child);
        }
        let listed = read(Path::new("/proc/thread-self/children"));
        for child in &mut children {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        let listed = listed.unwrap();
        assert!(listed.len() > 4096, "the list is longer than a page: {} bytes", listed.len());
        let pids: std::collections::HashSet<u32> = listed.split_whitespace().map(|p| p.parse().unwrap()).collect();
        for child in &children {
            assert!(pids.contains(&child.id()), "child {} missing from a list of {}", child.id(), pids.len());
        }
    }
}
