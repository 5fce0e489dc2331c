//! Per-thread spare buffers for rendering: a parsed body's tape and text here, and the
//! helpers the VM's workspace (`vm::Workspace`: its stack, slots, `#foreach` item lists)
//! uses to keep its buffers.
//!
//! Why: a render of a doc template made about six allocations, and with mimalloc's aligned
//! entry point about a tenth of a short render went to allocating and freeing them. The
//! gateway renders on one thread per core, so each thread keeps a few spares of each
//! buffer ([`MAX_SPARES`]: a body and a `parseJson` document, or nested `#foreach` loops,
//! are out at once): a render takes one (or an empty one) and gives it back cleared when
//! done. Nothing is shared between threads, and a buffer that grew past [`MAX_KEPT_BYTES`]
//! is freed rather than kept, so one huge body does not pin memory for the life of the
//! thread.

use std::cell::RefCell;
use std::thread::LocalKey;

/// Largest buffer (capacity in bytes) kept for the next render.
pub const MAX_KEPT_BYTES: usize = 256 * 1024;
/// Most spares of one kind a thread keeps.
pub const MAX_SPARES: usize = 4;

/// A buffer that can be emptied and reused.
pub trait Buffer: Default + 'static {
    fn capacity_bytes(&self) -> usize;
    fn is_empty(&self) -> bool;
    fn clear(&mut self);
}

impl<T: 'static> Buffer for Vec<T> {
    fn capacity_bytes(&self) -> usize {
        self.capacity().saturating_mul(size_of::<T>())
    }
    fn is_empty(&self) -> bool {
        Vec::is_empty(self)
    }
    fn clear(&mut self) {
        Vec::clear(self);
    }
}

impl Buffer for String {
    fn capacity_bytes(&self) -> usize {
        self.capacity()
    }
    fn is_empty(&self) -> bool {
        String::is_empty(self)
    }
    fn clear(&mut self) {
        String::clear(self);
    }
}

/// A thread's spare buffers of one kind (at most [`MAX_SPARES`]).
pub type Spare<B> = LocalKey<RefCell<Vec<B>>>;

/// One of the thread's spare buffers, or a new empty one when all are out.
#[inline]
pub fn take<B: Buffer>(spare: &'static Spare<B>) -> B {
    spare
        .try_with(|c| c.try_borrow_mut().ok().and_then(|mut s| s.pop()))
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// `b` emptied to be kept, or a new empty buffer in its place when it grew past
/// [`MAX_KEPT_BYTES`].
#[inline]
pub fn emptied<B: Buffer>(mut b: B) -> B {
    empty(&mut b);
    b
}

/// [`emptied`] in place, for a buffer that stays where it is.
#[inline]
pub fn empty<B: Buffer>(b: &mut B) {
    if b.capacity_bytes() > MAX_KEPT_BYTES {
        *b = B::default();
    } else if !b.is_empty() {
        // Most buffers are already empty; clearing a list of values is a call even then.
        b.clear();
    }
}

/// Clears `b` and keeps it as a spare, unless it is too large, the thread already keeps
/// [`MAX_SPARES`] (or the thread is exiting).
#[inline]
pub fn give<B: Buffer>(spare: &'static Spare<B>, mut b: B) {
    let bytes = b.capacity_bytes();
    if bytes == 0 || bytes > MAX_KEPT_BYTES {
        return;
    }
    b.clear();
    let _ = spare.try_with(|c| {
        if let Ok(mut s) = c.try_borrow_mut()
            && s.len() < MAX_SPARES
        {
            s.push(b);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static SPARE: RefCell<Vec<Vec<u64>>> = const { RefCell::new(Vec::new()) };
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
        // A take while every spare is out gets a fresh, unallocated one.
        assert_eq!(take(&SPARE).capacity(), 0);
        give(&SPARE, again);
        give(&SPARE, Vec::with_capacity(MAX_KEPT_BYTES));
        assert_eq!(take(&SPARE).capacity(), cap);
        assert_eq!(take(&SPARE).capacity(), 0);
    }

    #[test]
    fn a_few_spares_are_kept_and_no_more() {
        for n in 1..=MAX_SPARES + 2 {
            give(&SPARE, Vec::with_capacity(n));
        }
        let kept: Vec<_> = (0..MAX_SPARES + 1)
            .map(|_| take(&SPARE).capacity())
            .collect();
        assert_eq!(kept.iter().filter(|&&c| c > 0).count(), MAX_SPARES);
        assert_eq!(kept[MAX_SPARES], 0);
    }
}
