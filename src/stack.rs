//! The stack rinit has (rinit(1) LIMITS; issue 19 item 7). RLIMIT_STACK
//! counts what the kernel puts at the top of the stack before rinit runs:
//! the arguments, the environment, the auxiliary vector and, on x86_64, a
//! random offset of up to 8 KiB. Under `prlimit --stack=16384` with a few KB
//! of environment PID 1 may have 4 KiB of its own, and a page touched past
//! the limit is a SIGSEGV, which ends the container with no word. So rinit
//! looks before it does anything: enough room, or the soft limit raised
//! (the program gets the limit back as it was), or a message and exit 1.
//!
//! The core (`decide`, `Short`'s message) is pure; `check` and
//! `room_below` ask the kernel.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// The stack rinit needs below the frame `check` is called from. Its
/// deepest use, measured on x86_64 (the stack below the entry's stack
/// pointer painted under gdb; the lowest byte that changed by exit): 3.3 KB
/// for a plain run (the command line's parsing is the deepest), 3.4 KB with
/// an OOM kill reported or `--report-file`, 3.5 KB with `--pids-max`, 3.6
/// KB with `-vvvv` (env_logger's formatting of a line is 1.3 KB of it, and
/// musl's malloc, nesting its groups as the line's buffer first grows, up
/// to 0.6 KB); the forked child, before its exec, 2.9 KB (it searches
/// PATH in a buffer on the heap, `spawn::exec_searching`). About 1 KiB on
/// top for the paths not measured and other architectures' frames. The
/// debug build's frames are several times larger.
pub const NEEDED: usize = if cfg!(debug_assertions) { 64 << 10 } else { 4608 };

/// What the kernel's random offset of the stack may take at another start
/// (x86_64's `arch_align_stack`: up to 8 KiB), for the limit to suggest.
const RANDOM_OFFSET: u64 = 8 << 10;

/// Below this, the message is a fixed text: formatting one takes stack too.
const FORMATTING: usize = 1 << 10;

/// The stack limit rinit was started with, when it had to raise it: the
/// program gets it back before exec, so that it sees what it was given.
pub type Original = libc::rlimit;

/// Not enough stack, even with the soft limit raised to the hard one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Short {
    /// The soft limit, and the hard one (None: unlimited).
    pub soft: u64,
    pub hard: Option<u64>,
    /// Taken before rinit runs: top of the stack to rinit's frame.
    pub used: u64,
    /// What the limit leaves (the kernel counts whole pages).
    pub left: u64,
    pub needed: u64,
}

/// What to do about the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Enough,
    /// Raise the soft limit to this (at most the hard one).
    Raise(u64),
    Short(Short),
}

/// The core: `used` bytes of the stack taken, `needed` more wanted, under
/// the soft and hard limits (None: unlimited); pages of `page` bytes.
pub fn decide(soft: Option<u64>, hard: Option<u64>, used: u64, needed: u64, page: u64) -> Decision {
    let Some(soft) = soft else { return Decision::Enough };
    let page = page.max(1);
    // The kernel lets the stack grow while its size in pages is within the
    // limit: a limit that is no multiple of a page counts as the one below.
    let left = |limit: u64| (limit / page * page).saturating_sub(used);
    if left(soft) >= needed {
        return Decision::Enough;
    }
    let want = used.saturating_add(needed).div_ceil(page).saturating_mul(page);
    let raised = hard.map_or(want, |hard| want.min(hard));
    if raised > soft && left(raised) >= needed {
        return Decision::Raise(raised);
    }
    Decision::Short(Short { soft, hard, used, left: left(soft), needed })
}

impl Short {
    /// The message, written into `out`; the length written. No allocation
    /// and no `fmt`: there is little stack to do it with.
    pub fn message(&self, out: &mut [u8]) -> usize {
        let mut w = Writer { out, len: 0 };
        w.text(b"rinit: too little stack: the stack limit (RLIMIT_STACK, ulimit -s) is ");
        w.number(self.soft);
        match self.hard {
            Some(hard) if hard == self.soft => w.text(b" bytes, hard limit too"),
            Some(hard) => {
                w.text(b" bytes (hard limit ");
                w.number(hard);
                w.text(b")");
            }
            None => w.text(b" bytes"),
        }
        w.text(b"; the arguments, the environment and the kernel's random offset of the stack take ");
        w.number(self.used);
        w.text(b" before rinit runs, which leaves ");
        w.number(self.left);
        w.text(b", and rinit needs ");
        w.number(self.needed);
        w.text(b"; raise the limit to at least ");
        // Another start may lose up to 8 KiB more to the random offset.
        let suggest = self.used.saturating_add(self.needed).saturating_add(RANDOM_OFFSET).div_ceil(1024);
        w.number(suggest);
        w.text(b" KiB (prlimit --stack, docker run --ulimit stack=BYTES), or start rinit with a smaller environment\n");
        w.len
    }
}

/// Bytes into a fixed buffer, cut at its end.
struct Writer<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn text(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if let Some(slot) = self.out.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }

    fn number(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || i == 0 {
                break;
            }
        }
        self.text(digits.get(i..).unwrap_or_default());
    }
}

/// How `check` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checked {
    /// Room enough, or no limit, or no way to tell.
    Enough,
    /// Room enough with the soft limit raised: the limit to give the
    /// program back.
    Raised(Original),
    /// Not enough: said on stderr.
    Short,
}

/// The shell: looks at the room below the caller's frame, raises the soft
/// limit if that is enough, or says why rinit cannot run. Out of line and
/// small: it runs first, when the room is not yet known.
#[inline(never)]
pub fn check() -> Checked {
    let here = 0u8;
    let sp = std::ptr::addr_of!(here) as usize;
    let Some((limit, used)) = limit_and_use(sp) else { return Checked::Enough };
    let finite = |v: libc::rlim_t| (v != libc::RLIM_INFINITY).then_some(bytes(v));
    // SAFETY: getauxval reads the auxiliary vector; 0 if the entry is absent.
    let page = unsafe { libc::getauxval(libc::AT_PAGESZ) } as u64;
    let page = if page == 0 { 4096 } else { page };
    let needed = NEEDED as u64;
    match decide(finite(limit.rlim_cur), finite(limit.rlim_max), used as u64, needed, page) {
        Decision::Enough => Checked::Enough,
        Decision::Raise(soft) => {
            let raised = libc::rlimit { rlim_cur: to_rlim(soft), rlim_max: limit.rlim_max };
            // SAFETY: setrlimit reads the struct it is given.
            if unsafe { libc::setrlimit(libc::RLIMIT_STACK, &raised) } == 0 {
                remember(raised);
                return Checked::Raised(limit);
            }
            say_short(&short_at(limit, used, needed, page));
            Checked::Short
        }
        Decision::Short(short) => {
            say_short(&short);
            Checked::Short
        }
    }
}

fn short_at(limit: libc::rlimit, used: usize, needed: u64, page: u64) -> Short {
    let soft = bytes(limit.rlim_cur);
    let left = (soft / page * page).saturating_sub(used as u64);
    let hard = (limit.rlim_max != libc::RLIM_INFINITY).then_some(bytes(limit.rlim_max));
    Short { soft, hard, used: used as u64, left, needed }
}

/// Writes the message to stderr, or a fixed one if there is not even the
/// stack to format it. The choice is made before any buffer exists: with
/// the 512-byte one in this frame, the frame alone went past the limit the
/// fixed text is for (a review saw SIGSEGV at its first push).
#[inline(never)]
fn say_short(short: &Short) {
    crate::signals::block_write_signals();
    if short.left < FORMATTING as u64 {
        let text: &[u8] = b"rinit: too little stack left under the stack limit (RLIMIT_STACK, ulimit -s) to run at all; raise the limit\n";
        // SAFETY: a valid buffer; fd 2 may be closed, and then write fails.
        unsafe { libc::write(2, text.as_ptr().cast(), text.len()) };
        return;
    }
    say_formatted(short);
}

/// The full message, formatted into a buffer on the stack.
#[inline(never)]
fn say_formatted(short: &Short) {
    let mut buf = [0u8; 512];
    let n = short.message(&mut buf);
    // SAFETY: the first n bytes of buf are the message.
    unsafe { libc::write(2, buf.as_ptr().cast(), n) };
}

/// A limit in bytes: `rlim_t` is u64 on the targets rinit ships for, u32
/// on 32-bit glibc (a plain build there).
#[allow(clippy::unnecessary_cast)]
fn bytes(v: libc::rlim_t) -> u64 {
    v as u64
}

/// Back: a raised soft limit is at most the hard one, so it fits.
#[allow(clippy::unnecessary_cast)]
fn to_rlim(v: u64) -> libc::rlim_t {
    v as libc::rlim_t
}

/// How far the stack may grow below `sp`: RLIMIT_STACK's soft limit, less
/// what is in use above `sp`. `usize::MAX` without a limit; 0 when the top
/// of the stack is not known. For the main thread's stack, the one the
/// limit is for (a test's thread has a stack of its own).
pub fn room_below(sp: usize) -> usize {
    match limit_and_use(sp) {
        Some((limit, used)) if limit.rlim_cur != libc::RLIM_INFINITY => {
            usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX).saturating_sub(used)
        }
        Some(_) => usize::MAX,
        None => 0,
    }
}

/// RLIMIT_STACK as rinit has it, read once: nothing but `check`'s raise
/// changes rinit's own (the child puts the original back in itself), so
/// the OOM watch's `room_below` takes it from here instead of asking the
/// kernel again (a prlimit64 at every start, issue 20).
static KNOWN: AtomicBool = AtomicBool::new(false);
static SOFT: AtomicU64 = AtomicU64::new(0);
static HARD: AtomicU64 = AtomicU64::new(0);

fn remember(limit: libc::rlimit) {
    SOFT.store(bytes(limit.rlim_cur), Relaxed);
    HARD.store(bytes(limit.rlim_max), Relaxed);
    KNOWN.store(true, Relaxed);
}

fn stack_limit() -> Option<libc::rlimit> {
    if KNOWN.load(Relaxed) {
        return Some(libc::rlimit { rlim_cur: to_rlim(SOFT.load(Relaxed)), rlim_max: to_rlim(HARD.load(Relaxed)) });
    }
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut limit) } != 0 {
        return None;
    }
    remember(limit);
    Some(limit)
}

/// RLIMIT_STACK and the bytes in use from the top of the stack down to
/// `sp`. The top is found from the executable's file name (`AT_EXECFN`),
/// which the kernel copies first, a pointer's width below the top; None
/// when that is missing or makes no sense (above the limit: rinit could not
/// be running), and when there is no limit to read.
fn limit_and_use(sp: usize) -> Option<(libc::rlimit, usize)> {
    let limit = stack_limit()?;
    // SAFETY: getauxval reads the auxiliary vector; 0 if the entry is absent.
    let name = unsafe { libc::getauxval(libc::AT_EXECFN) } as usize;
    if name == 0 || name < sp {
        return None;
    }
    // SAFETY: AT_EXECFN points at the NUL-terminated name the kernel copied.
    let len = unsafe { std::ffi::CStr::from_ptr(name as *const std::ffi::c_char) }.count_bytes();
    let top = name.saturating_add(len + 1 + size_of::<usize>());
    let used = top - sp;
    let within = limit.rlim_cur == libc::RLIM_INFINITY || (used as u64) <= bytes(limit.rlim_cur);
    within.then_some((limit, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: u64 = 4096;

    #[test]
    fn enough_room_changes_nothing() {
        assert_eq!(decide(Some(16384), Some(16384), 4000, 6144, PAGE), Decision::Enough);
        assert_eq!(decide(None, None, 100_000, 6144, PAGE), Decision::Enough);
        assert_eq!(decide(Some(8 << 20), None, 10_000, 6144, PAGE), Decision::Enough);
    }

    #[test]
    fn the_kernel_counts_whole_pages() {
        // 16384 + 100 is four pages: 16384 - 10000 = 6384 left.
        assert_eq!(decide(Some(16484), Some(16484), 10_000, 6384, PAGE), Decision::Enough);
        assert!(matches!(decide(Some(16484), Some(16484), 10_000, 6385, PAGE), Decision::Short(_)));
    }

    #[test]
    fn the_soft_limit_is_raised_as_far_as_needed_and_no_further() {
        // 12000 + 6144 = 18144, rounded up to five pages.
        assert_eq!(decide(Some(16384), Some(1 << 20), 12_000, 6144, PAGE), Decision::Raise(20480));
        assert_eq!(decide(Some(16384), None, 12_000, 6144, PAGE), Decision::Raise(20480));
        // Never past the hard limit: a byte short of five pages is four.
        assert_eq!(decide(Some(16384), Some(20480), 12_000, 6144, PAGE), Decision::Raise(20480));
        assert!(matches!(decide(Some(16384), Some(20479), 12_000, 6144, PAGE), Decision::Short(_)));
    }

    #[test]
    fn short_even_at_the_hard_limit() {
        let d = decide(Some(16384), Some(16384), 12_000, 6144, PAGE);
        assert_eq!(d, Decision::Short(Short { soft: 16384, hard: Some(16384), used: 12_000, left: 4384, needed: 6144 }));
        // A hard limit a little above the soft one is no help either.
        assert!(matches!(decide(Some(16384), Some(17000), 12_000, 6144, PAGE), Decision::Short(_)));
    }

    #[test]
    fn the_message_says_the_figures_and_what_to_do() {
        let short = Short { soft: 16384, hard: Some(16384), used: 12_000, left: 4384, needed: 6144 };
        let mut buf = [0u8; 512];
        let n = short.message(&mut buf);
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(text.starts_with("rinit: too little stack: the stack limit (RLIMIT_STACK, ulimit -s) is 16384 bytes, hard limit too;"), "{text}");
        assert!(text.contains("take 12000 before rinit runs, which leaves 4384, and rinit needs 6144;"), "{text}");
        // 12000 + 6144 + 8192 = 26336 bytes: 26 KiB rounded up to 26.
        assert!(text.contains("raise the limit to at least 26 KiB (prlimit --stack"), "{text}");
        assert!(text.ends_with("smaller environment\n"), "{text}");
        let other = Short { hard: Some(1 << 20), ..short };
        let mut buf = [0u8; 512];
        let n = other.message(&mut buf);
        assert!(std::str::from_utf8(&buf[..n]).unwrap().contains("is 16384 bytes (hard limit 1048576);"));
    }

    #[test]
    fn a_short_buffer_cuts_the_message() {
        let short = Short { soft: 16384, hard: None, used: 1, left: 1, needed: 1 };
        let mut buf = [0u8; 10];
        assert_eq!(short.message(&mut buf), 10);
        assert_eq!(&buf, b"rinit: too");
    }

    #[test]
    fn numbers() {
        for n in [0, 7, 10, 4096, u64::MAX] {
            let mut buf = [0u8; 32];
            let mut w = Writer { out: &mut buf, len: 0 };
            w.number(n);
            let len = w.len;
            assert_eq!(std::str::from_utf8(&buf[..len]).unwrap(), n.to_string());
        }
    }
}
