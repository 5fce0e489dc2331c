//! The global allocator: mimalloc, asked the cheapest way for each request.
//!
//! Why not `mimalloc::MiMalloc` as it is: it sends every allocation through
//! `mi_malloc_aligned`, whose fast path gives up whenever the free block at hand is not
//! aligned to the request (a hash table's 16-byte-aligned buffer from a bin of 8-byte
//! aligned blocks, say) and takes a generic path of a few hundred instructions: in a
//! template render that builds `$context.responseOverride` it was most of the
//! allocations' cost. Plain `mi_malloc` already returns blocks aligned to 16 bytes when
//! they are 16 bytes or more (mimalloc rounds small sizes to two words on 64-bit targets),
//! which is what nearly every Rust allocation asks, so those requests go there and only
//! larger alignments (or a block that somehow came back misaligned) use the aligned entry
//! points.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as ffi;

/// The alignment `mi_malloc` gives every block at least as large as it.
const MIN_ALIGN: usize = 16;

/// mimalloc as the global allocator (see the module docs).
pub struct Allocator;

/// Whether `mi_malloc` of `size` bytes is aligned enough for `align`.
#[inline]
fn plain(align: usize, size: usize) -> bool {
    align <= MIN_ALIGN && align <= size
}

#[inline]
fn aligned(p: *mut c_void, align: usize) -> bool {
    (p as usize) & (align - 1) == 0
}

/// A block for `layout` from `plain_fn` when its alignment suffices (see [`plain`]), else
/// from `aligned_fn`.
///
/// # Safety
/// `plain_fn` and `aligned_fn` are a mimalloc allocation function and its aligned twin.
#[inline(always)]
unsafe fn allocate(
    layout: Layout,
    plain_fn: unsafe extern "C" fn(usize) -> *mut c_void,
    aligned_fn: unsafe extern "C" fn(usize, usize) -> *mut c_void,
) -> *mut u8 {
    let (size, align) = (layout.size(), layout.align());
    if plain(align, size) {
        // SAFETY: a plain allocation; a null result (out of memory) is returned as is.
        let p = unsafe { plain_fn(size) };
        if aligned(p, align) {
            return p.cast();
        }
        // SAFETY: `p` came from mimalloc just now.
        unsafe { ffi::mi_free(p) };
    }
    // SAFETY: `align` is a power of two (a `Layout` guarantees it).
    unsafe { aligned_fn(size, align).cast() }
}

// SAFETY: every pointer returned comes from mimalloc, is aligned to the layout's alignment
// (checked, or asked of the aligned entry points), and is freed by `mi_free`, which takes
// blocks from any of mimalloc's allocation functions.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the pair allocates uninitialised blocks, plain and aligned.
        unsafe { allocate(layout, ffi::mi_malloc, ffi::mi_malloc_aligned) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the pair allocates zeroed blocks, plain and aligned.
        unsafe { allocate(layout, ffi::mi_zalloc, ffi::mi_zalloc_aligned) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator, so from mimalloc.
        unsafe { ffi::mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        if plain(align, new_size) {
            // SAFETY: `ptr` came from this allocator with `layout`.
            let p = unsafe { ffi::mi_realloc(ptr.cast(), new_size) };
            if aligned(p, align) {
                return p.cast();
            }
            // Misaligned (never seen; mimalloc's bins are two-word multiples): move the
            // contents, now in `p`, to an aligned block.
            // SAFETY: as in `alloc`.
            let q = unsafe { ffi::mi_malloc_aligned(new_size, align) };
            if !q.is_null() {
                // SAFETY: both blocks hold at least `new_size` bytes and are distinct.
                unsafe { std::ptr::copy_nonoverlapping(p.cast::<u8>(), q.cast::<u8>(), new_size) };
            }
            // SAFETY: `p` came from `mi_realloc` just now.
            unsafe { ffi::mi_free(p) };
            return q.cast();
        }
        // SAFETY: `ptr` came from this allocator; `align` is a power of two.
        unsafe { ffi::mi_realloc_aligned(ptr.cast(), new_size, align).cast() }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_size_and_alignment_comes_back_aligned_and_usable() {
        let a = Allocator;
        for align in [1usize, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [
                1usize, 3, 8, 12, 16, 24, 40, 48, 56, 100, 1000, 5000, 70_000,
            ] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero-sized layout; the block is written within its size
                // and freed with the same layout.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    p.write_bytes(0xab, size);
                    let z = a.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0);
                    assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0));
                    a.dealloc(z, layout);
                    let grown = size * 3 + 1;
                    let q = a.realloc(p, layout, grown);
                    assert_eq!(
                        q as usize % align,
                        0,
                        "realloc {size}->{grown} align {align}"
                    );
                    assert!(
                        std::slice::from_raw_parts(q, size)
                            .iter()
                            .all(|&b| b == 0xab)
                    );
                    a.dealloc(q, Layout::from_size_align(grown, align).unwrap());
                }
            }
        }
    }
}
