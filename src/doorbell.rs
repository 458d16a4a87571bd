//! The OOM watch's descriptor as a signal (issue 20), so that rinit's idle
//! sleep is one blocking `read` of its signalfd, as catatonit's is.
//!
//! On one CPU everything rinit does between a forwarded signal's `kill` and
//! its next sleep delays the program (BENCHMARKS.md: a `ppoll` over the
//! signalfd and the watch's descriptor, then a `read`, cost about 1 µs on
//! every forwarded signal against one blocking `read`). cgroup v1's OOM
//! eventfd has no `O_ASYNC`, so it cannot raise a signal of its own. A
//! thread of rinit's sleeps in `ppoll` on the descriptor instead and, when
//! it turns readable, rings: a queued real-time signal to rinit's main
//! thread (`tgkill`: SI_TKILL from rinit's own pid, which no other process
//! can send), handed out by the signalfd like any other. It then sleeps on
//! a futex until the loop, which drains the descriptor, arms it again, so a
//! descriptor that stays readable rings once, not in a loop.
//!
//! The thread is a bare `clone` system call (CLONE_THREAD, no TLS of its
//! own; musl's `clone` refuses CLONE_THREAD) on a static stack, which the C
//! library does not know of: no `pthread_create`,
//! whose first call unblocks musl's internal signals (33 and 34, whose
//! default action would end rinit) and whose thread list would make musl's
//! `setrlimit` wait for an answer this thread never gives. It makes its
//! system calls itself (`sys`), so that it never writes `errno`, which it
//! shares with the main thread; it inherits rinit's mask (every signal it
//! can block), never allocates, and touches only the static state and its
//! stack. rinit forks its program before the thread exists and never again.
//! Where there is no `sys` (architectures other than x86_64 and aarch64),
//! or no room for a thread (pids.max, RLIMIT_NPROC), the loop polls the
//! descriptor itself beside the signalfd, as before.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};

/// The loop wants no ring (the OOM watch pauses): the thread sleeps.
const RESTING: u32 = 0;
/// The thread polls the descriptor and rings once it is readable.
const ARMED: u32 = 1;
/// The thread has rung and sleeps until the loop arms it again.
const RUNG: u32 = 2;
/// The thread has stopped (its poll failed): the loop polls the descriptor
/// itself again.
const GONE: u32 = 3;

/// What the thread and the loop share: one doorbell per process.
struct Shared {
    state: AtomicU32,
    /// The thread has rung since the loop last looked (`Doorbell::take_ring`).
    rang: AtomicBool,
    fd: AtomicI32,
    pid: AtomicI32,
}

static SHARED: Shared =
    Shared { state: AtomicU32::new(GONE), rang: AtomicBool::new(false), fd: AtomicI32::new(-1), pid: AtomicI32::new(0) };

/// Set by the first `start`: the stack is static, so there is never a
/// second thread, not even after the first has gone (it may still be on
/// its stack, making its last ring, when the loop sees GONE).
static STARTED: AtomicBool = AtomicBool::new(false);

/// The thread's stack, in .bss: only the pages it touches (its frames are
/// a few hundred bytes: no formatting, no allocation) count in rinit's RSS.
#[repr(C, align(16))]
struct Stack([u8; 8192]);
static mut STACK: Stack = Stack([0; 8192]);

/// The started doorbell (at most one: the thread's state is static).
pub struct Doorbell {
    fd: RawFd,
}

impl Doorbell {
    /// Starts the thread on `fd`, armed; None if it cannot be started, or
    /// was started before (one thread per process, ever). `fd`
    /// must stay open while rinit runs (the OOM watch's, which lives until
    /// rinit exits). `own_pid` is rinit's pid, its main thread's tid.
    pub fn start(fd: RawFd, own_pid: i32) -> Option<Doorbell> {
        if !sys::AVAILABLE || STARTED.swap(true, Ordering::AcqRel) {
            return None;
        }
        SHARED.fd.store(fd, Ordering::Relaxed);
        SHARED.pid.store(own_pid, Ordering::Relaxed);
        SHARED.state.store(ARMED, Ordering::Release);
        let flags = libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM;
        // SAFETY: the stack is static and used by this one thread alone
        // (`STARTED`: no other was ever made); its top, one past its end, is
        // 16-aligned. `ring_when_readable` touches only SHARED and its own
        // frames.
        let tid = unsafe {
            let top = (&raw mut STACK).cast::<u8>().add(std::mem::size_of::<Stack>());
            sys::clone_thread(flags, top, ring_when_readable)
        };
        if tid < 0 {
            SHARED.state.store(GONE, Ordering::Release);
            log::debug!(
                "no thread for the OOM watch ({}): rinit polls its descriptor beside the signalfd",
                std::io::Error::from_raw_os_error(-(tid as i32))
            );
            return None;
        }
        Some(Doorbell { fd })
    }

    /// The descriptor the thread watches.
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Whether the thread has rung since the last call (the SIGCHLD that
    /// woke the loop may have come with it, or from a child).
    pub fn take_ring(&self) -> bool {
        SHARED.rang.swap(false, Ordering::AcqRel)
    }

    /// Whether the thread still watches the descriptor.
    pub fn watching(&self) -> bool {
        SHARED.state.load(Ordering::Acquire) != GONE
    }

    /// The loop wants a ring once the descriptor is readable. A system call
    /// only when the thread sleeps (after a ring or a pause), never on the
    /// way of a forwarded signal.
    pub fn arm(&self) {
        // Armed already: a plain load, no locked instruction.
        if SHARED.state.load(Ordering::Acquire) == ARMED {
            return;
        }
        for from in [RUNG, RESTING] {
            if SHARED.state.compare_exchange(from, ARMED, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                sys::futex(&SHARED.state, libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, 1);
                return;
            }
        }
    }

    /// The loop wants no ring for now (the OOM watch pauses). A thread in
    /// its poll finds this when the poll returns, and sleeps.
    pub fn rest(&self) {
        let _ = SHARED.state.compare_exchange(ARMED, RESTING, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// The thread: poll while armed, ring, sleep until armed again. Returning
/// ends the thread (`sys::clone_thread` makes the exit call).
extern "C" fn ring_when_readable() {
    let (state, fd, pid) = (&SHARED.state, SHARED.fd.load(Ordering::Relaxed), SHARED.pid.load(Ordering::Relaxed));
    loop {
        let now = state.load(Ordering::Acquire);
        if now != ARMED {
            // Returns at once if the loop has armed it since the load.
            sys::futex(state, libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG, now);
            continue;
        }
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        let n = sys::poll(&mut pfd);
        if n == -(libc::EINTR as isize) {
            continue;
        }
        // A descriptor that fails (POLLERR, POLLNVAL) would ring for ever.
        if n < 0 || pfd.revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
            break;
        }
        if state.compare_exchange(ARMED, RUNG, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            ring(pid);
        }
    }
    state.store(GONE, Ordering::Release);
    // Wakes the loop, which then polls the descriptor itself.
    ring(pid);
}

/// The flag, then the SIGCHLD that wakes the loop to look at it. The
/// tgkill fails only if rinit has gone.
fn ring(pid: i32) {
    SHARED.rang.store(true, Ordering::Release);
    sys::tgkill(pid, libc::SIGCHLD);
}

/// The thread's system calls, made without the C library: its wrappers
/// write `errno`, which this thread shares with the main one.
mod sys {
    use std::sync::atomic::AtomicU32;

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    pub const AVAILABLE: bool = true;
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    pub const AVAILABLE: bool = false;

    /// `sig` to rinit's main thread (whose tid is rinit's pid).
    pub fn tgkill(pid: i32, sig: i32) {
        call(libc::SYS_tgkill, [pid as usize, pid as usize, sig as usize, 0, 0]);
    }

    /// ppoll on one descriptor, no timeout, the mask as it is.
    pub fn poll(pfd: &mut libc::pollfd) -> isize {
        call(libc::SYS_ppoll, [std::ptr::from_mut(pfd) as usize, 1, 0, 0, 8])
    }

    pub fn futex(word: &AtomicU32, op: libc::c_int, val: u32) {
        call(libc::SYS_futex, [word.as_ptr() as usize, op as usize, val as usize, 0, 0]);
    }

    /// A system call; its result, or minus the error number.
    #[cfg(target_arch = "x86_64")]
    fn call(nr: libc::c_long, [a, b, c, d, e]: [usize; 5]) -> isize {
        let ret: isize;
        // SAFETY: the callers pass valid pointers for these calls; the
        // kernel clobbers rcx and r11 and nothing else.
        unsafe {
            std::arch::asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a, in("rsi") b, in("rdx") c,
                in("r10") d, in("r8") e, lateout("rcx") _, lateout("r11") _, options(nostack));
        }
        ret
    }

    /// A new thread on `stack` (its top) that runs `f` and then exits; its
    /// tid, or minus the error number. In the child the clone returns 0 on
    /// the new stack with every other register as the parent had it, so
    /// `f` is still in its register: call it, then exit the thread alone.
    ///
    /// # Safety
    /// `stack` must be the 16-aligned top of memory no one else uses, and
    /// `f` must not return into anything, use thread-local storage or the
    /// C library (it shares the main thread's).
    #[cfg(target_arch = "x86_64")]
    pub unsafe fn clone_thread(flags: libc::c_int, stack: *mut u8, f: extern "C" fn()) -> isize {
        let ret: isize;
        // SAFETY: as the caller promises; the child never comes back here.
        unsafe {
            std::arch::asm!(
                "syscall",
                "test rax, rax",
                "jnz 2f",
                // The child: no frame above this one.
                "xor ebp, ebp",
                "call r9",
                "mov eax, {exit}",
                "xor edi, edi",
                "syscall",
                "ud2",
                "2:",
                exit = const libc::SYS_exit,
                // Not a register the kernel writes or a clone argument.
                in("r9") f,
                inlateout("rax") libc::SYS_clone as isize => ret,
                in("rdi") flags as usize,
                in("rsi") stack,
                in("rdx") 0usize,
                in("r10") 0usize,
                in("r8") 0usize,
                // Not late: no input may sit where the kernel writes.
                out("rcx") _,
                out("r11") _,
            );
        }
        ret
    }

    #[cfg(target_arch = "aarch64")]
    fn call(nr: libc::c_long, [a, b, c, d, e]: [usize; 5]) -> isize {
        let ret: isize;
        // SAFETY: as above; the kernel preserves every register but x0.
        unsafe {
            std::arch::asm!("svc 0", in("x8") nr, inlateout("x0") a as isize => ret, in("x1") b, in("x2") c,
                in("x3") d, in("x4") e, options(nostack));
        }
        ret
    }

    /// As on x86_64.
    ///
    /// # Safety
    /// As on x86_64.
    #[cfg(target_arch = "aarch64")]
    pub unsafe fn clone_thread(flags: libc::c_int, stack: *mut u8, f: extern "C" fn()) -> isize {
        let ret: isize;
        // SAFETY: as the caller promises; the child never comes back here.
        unsafe {
            std::arch::asm!(
                "svc 0",
                "cbnz x0, 2f",
                // The child: no frame above this one.
                "mov x29, xzr",
                "mov x30, xzr",
                "blr x9",
                "mov x8, {exit}",
                "mov x0, xzr",
                "svc 0",
                "udf 0",
                "2:",
                exit = const libc::SYS_exit,
                // Not a clone argument; the kernel preserves it.
                in("x9") f,
                in("x8") libc::SYS_clone,
                inlateout("x0") flags as usize as isize => ret,
                in("x1") stack,
                in("x2") 0usize,
                in("x3") 0usize,
                in("x4") 0usize,
            );
        }
        ret
    }

    /// Never called: `AVAILABLE` is false here.
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    fn call(_: libc::c_long, _: [usize; 5]) -> isize {
        -(libc::ENOSYS as isize)
    }

    /// Never called: `AVAILABLE` is false here.
    ///
    /// # Safety
    /// None needed: it does nothing.
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    pub unsafe fn clone_thread(_: libc::c_int, _: *mut u8, _: extern "C" fn()) -> isize {
        -(libc::ENOSYS as isize)
    }
}
