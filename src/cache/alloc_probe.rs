//! Test-only counting allocator: how many heap bytes the current thread holds, so the
//! budget test measures the cache's real footprint instead of trusting its own accounting.
//!
//! It wraps the system allocator for the library's unit-test binary only (`cfg(test)`), and
//! counts per thread, so tests running in parallel do not disturb each other.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    // Const-initialised and without a destructor: safe to touch from inside the allocator.
    static NET: Cell<isize> = const { Cell::new(0) };
}

fn add(delta: isize) {
    // `try_with` rather than `with`: never panic inside the allocator.
    let _ = NET.try_with(|n| n.set(n.get() + delta));
}

/// Requested bytes allocated minus bytes freed by this thread so far.
pub(crate) fn net_allocated_bytes() -> isize {
    NET.try_with(Cell::get).unwrap_or(0)
}

struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counter update neither allocates nor touches the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize);
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;
