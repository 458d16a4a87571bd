//! rinit's allocator: the first allocations come from a fixed block of
//! memory, handed out in order, and the rest from the C library's malloc.
//!
//! Why (issue 20): rinit makes about twenty allocations before its program
//! has been running a few milliseconds, and musl's mallocng takes about 400
//! instructions for each (a size class's first block sets up its group and
//! metadata), 9,000 of a start-up of 58,000. Here one takes a few dozen.
//!
//! The block is a stack: a free of the last block handed out, or a
//! `realloc` of it, takes it back or grows it in place (a `Vec` growing as
//! a file is read into it); any other free leaves its bytes unused. Once
//! the block is used up, every allocation goes to malloc, so what is lost
//! that way is bounded by the block's size, a few pages of `.bss` that only
//! take memory as they are touched. Nothing else changes: the memory is
//! the same kind (zeroed where asked, by `alloc_zeroed`'s memset, which
//! also touches its pages, as the OOM watch wants of its page).
//!
//! The top is an atomic changed only by compare-and-swap, so that the
//! allocator stays sound with more than one thread (rinit has one); a lost
//! race goes to malloc.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

pub struct Arena<const N: usize> {
    space: UnsafeCell<[u8; N]>,
    /// How many bytes from the start of `space` are handed out.
    top: AtomicUsize,
}

// SAFETY: `space` is only reached through blocks that `bump` hands out,
// each to one owner, and `top` is changed by compare-and-swap only.
unsafe impl<const N: usize> Sync for Arena<N> {}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Arena<N> {
    /// All zeros, so a `static` of it lies in `.bss`: no bytes in the file.
    pub const fn new() -> Self {
        Arena { space: UnsafeCell::new([0; N]), top: AtomicUsize::new(0) }
    }

    /// Where `ptr` lies in `space`, if it does.
    fn offset(&self, ptr: *mut u8) -> Option<usize> {
        let at = (ptr as usize).wrapping_sub(self.space.get() as usize);
        (at < N).then_some(at)
    }

    /// A block for `layout` at the top of `space`, or None if it does not
    /// fit (or another thread moved the top meanwhile).
    fn bump(&self, layout: Layout) -> Option<*mut u8> {
        let base = self.space.get() as usize;
        let top = self.top.load(Relaxed);
        // The alignment is a power of two: round the address up to it.
        let mask = layout.align() - 1;
        let start = (base.checked_add(top)?.checked_add(mask)? & !mask) - base;
        let end = start.checked_add(layout.size()).filter(|&end| end <= N)?;
        self.top.compare_exchange(top, end, Relaxed, Relaxed).ok()?;
        Some(self.space.get().cast::<u8>().wrapping_add(start))
    }

    /// Moves the top from `from` to `to` if it is still at `from`.
    fn move_top(&self, from: usize, to: usize) -> bool {
        self.top.compare_exchange(from, to, Relaxed, Relaxed).is_ok()
    }
}

// SAFETY: a block from `bump` lies inside `space`, aligned as asked and
// handed out to no one else until it is freed (the top only comes back down
// over a block its owner freed or resized); everything else is malloc's.
unsafe impl<const N: usize> GlobalAlloc for Arena<N> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout) {
            Some(ptr) => ptr,
            // SAFETY: the caller's layout, as given.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match self.offset(ptr) {
            // The last block handed out is taken back; any other is left.
            Some(at) => {
                self.move_top(at + layout.size(), at);
            }
            // SAFETY: a block of malloc's, as the caller got it.
            None => unsafe { System.dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(at) = self.offset(ptr) else {
            // SAFETY: a block of malloc's, as the caller got it.
            return unsafe { System.realloc(ptr, layout, new_size) };
        };
        // In place: the last block grows or shrinks with the top; any other
        // may shrink (its tail is left unused).
        let end = at + layout.size();
        if at.checked_add(new_size).is_some_and(|new_end| new_end <= N && self.move_top(end, new_end))
            || new_size <= layout.size()
        {
            return ptr;
        }
        // SAFETY: the caller's alignment, a size it says is valid with it.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a non-zero size (larger than the old one).
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for the old size (the new one is
            // larger) and distinct; the old one is then freed, once.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size());
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn hands_out_aligned_blocks_in_order_and_takes_back_the_last() {
        let arena = Box::new(Arena::<256>::new());
        unsafe {
            let a = arena.alloc(layout(3, 1));
            let b = arena.alloc(layout(8, 8));
            assert_eq!(arena.offset(a), Some(0));
            assert_eq!(b as usize % 8, 0);
            assert!(arena.offset(b).unwrap() >= 3);
            b.write_bytes(0xaa, 8);
            // Not the last: left where it is.
            arena.dealloc(a, layout(3, 1));
            let top = arena.top.load(Relaxed);
            assert_eq!(top, arena.offset(b).unwrap() + 8);
            // The last: taken back, and handed out again.
            arena.dealloc(b, layout(8, 8));
            assert!(arena.top.load(Relaxed) < top);
            let c = arena.alloc(layout(8, 8));
            assert_eq!(c, b);
            // A large alignment is honoured too.
            let d = arena.alloc(layout(1, 64));
            assert_eq!(d as usize % 64, 0);
            assert!(arena.offset(d).is_some());
        }
    }

    #[test]
    fn the_last_block_grows_in_place_and_others_move() {
        let arena = Box::new(Arena::<256>::new());
        unsafe {
            let a = arena.alloc(layout(16, 1));
            for i in 0..16 {
                a.add(i).write(i as u8);
            }
            let a2 = arena.realloc(a, layout(16, 1), 100);
            assert_eq!(a2, a, "the top block grows where it is");
            assert_eq!(arena.top.load(Relaxed), 100);
            let b = arena.alloc(layout(10, 1));
            // Not the top any more: it moves, with its bytes.
            let a3 = arena.realloc(a2, layout(100, 1), 120);
            assert_ne!(a3, a2);
            assert!(arena.offset(a3).unwrap() >= arena.offset(b).unwrap() + 10);
            assert_eq!(std::slice::from_raw_parts(a3, 16), (0..16).collect::<Vec<u8>>().as_slice());
            // Shrinking a block that is not the top leaves it in place.
            let b2 = arena.realloc(b, layout(10, 1), 4);
            assert_eq!(b2, b);
        }
    }

    #[test]
    fn what_does_not_fit_goes_to_malloc() {
        let arena = Box::new(Arena::<64>::new());
        unsafe {
            let a = arena.alloc(layout(40, 8));
            assert!(arena.offset(a).is_some());
            let b = arena.alloc(layout(40, 8));
            assert!(!b.is_null());
            assert_eq!(arena.offset(b), None, "past the end: malloc's");
            b.write_bytes(1, 40);
            // Grown past the end: copied out to malloc.
            a.write_bytes(7, 40);
            let a2 = arena.realloc(a, layout(40, 8), 1000);
            assert_eq!(arena.offset(a2), None);
            assert!(std::slice::from_raw_parts(a2, 40).iter().all(|&x| x == 7));
            // Freed to malloc, and the arena's top came back down.
            arena.dealloc(a2, layout(1000, 8));
            arena.dealloc(b, layout(40, 8));
            assert_eq!(arena.top.load(Relaxed), 0);
            let z = arena.alloc_zeroed(layout(64, 1));
            assert_eq!(arena.offset(z), Some(0));
            assert!(std::slice::from_raw_parts(z, 64).iter().all(|&x| x == 0), "zeroed even where reused");
        }
    }
}
