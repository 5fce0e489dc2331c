//! Per-thread spare buffers for rendering: the VM's stack, `#foreach` item lists, and a
//! parsed body's tape and text.
//!
//! Why: a render of a doc template made about six allocations, and with mimalloc's aligned
//! entry point about a tenth of a short render went to allocating and freeing them. The
//! gateway renders on one thread per core, so each thread keeps one spare of each buffer:
//! a render takes it (or an empty one) and gives it back cleared when done. Nothing is
//! shared between threads, and a buffer that grew past [`MAX_KEPT_BYTES`] is freed rather
//! than kept, so one huge body does not pin memory for the life of the thread.

use std::cell::Cell;
use std::thread::LocalKey;

/// Largest buffer (capacity in bytes) kept for the next render.
pub const MAX_KEPT_BYTES: usize = 256 * 1024;

/// A buffer that can be emptied and reused.
pub trait Buffer: Default + 'static {
    fn capacity_bytes(&self) -> usize;
    fn clear(&mut self);
}

impl<T: 'static> Buffer for Vec<T> {
    fn capacity_bytes(&self) -> usize {
        self.capacity().saturating_mul(size_of::<T>())
    }
    fn clear(&mut self) {
        Vec::clear(self);
    }
}

impl Buffer for String {
    fn capacity_bytes(&self) -> usize {
        self.capacity()
    }
    fn clear(&mut self) {
        String::clear(self);
    }
}

/// One spare buffer per thread.
pub type Spare<B> = LocalKey<Cell<B>>;

/// The thread's spare buffer, or a new empty one (a nested render finds none).
#[inline]
pub fn take<B: Buffer>(spare: &'static Spare<B>) -> B {
    spare.try_with(Cell::take).unwrap_or_default()
}

/// Clears `b` and keeps it as the thread's spare, unless it is too large (or the thread is
/// exiting).
#[inline]
pub fn give<B: Buffer>(spare: &'static Spare<B>, mut b: B) {
    let bytes = b.capacity_bytes();
    if bytes == 0 || bytes > MAX_KEPT_BYTES {
        return;
    }
    b.clear();
    // The replaced spare (a nested render's buffer) is freed here.
    let _ = spare.try_with(|c| c.set(b));
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static SPARE: Cell<Vec<u64>> = const { Cell::new(Vec::new()) };
    }

    #[test]
    fn buffers_come_back_empty_and_large_ones_are_dropped() {
        let mut v = take(&SPARE);
        v.extend([1, 2, 3]);
        let cap = v.capacity();
        give(&SPARE, v);
        let again = take(&SPARE);
        assert!(again.is_empty());
        assert_eq!(again.capacity(), cap);
        // A nested take while the spare is out gets a fresh, unallocated one.
        assert_eq!(take(&SPARE).capacity(), 0);
        give(&SPARE, again);
        give(&SPARE, Vec::with_capacity(MAX_KEPT_BYTES));
        assert_eq!(take(&SPARE).capacity(), cap);
    }
}
