//! Short copies into output buffers.
//!
//! Most of what a render writes is a few to a few dozen bytes: a stretch of template text,
//! a member's value, a key with its quotes. A `memcpy` call for each cost more than the
//! copy itself, so these copy small pieces inline and leave longer ones to `memcpy`.

/// Appends `b` to `v`: up to 32 bytes inline, as two overlapping blocks; more with
/// `memcpy`.
#[inline(always)]
pub fn append(v: &mut Vec<u8>, b: &[u8]) {
    let n = b.len();
    if n > 32 || v.capacity() - v.len() < 32 {
        v.extend_from_slice(b);
        return;
    }
    let len = v.len();
    // SAFETY: `n <= 32` bytes fit the spare capacity checked above, and `b` cannot
    // overlap `v`'s spare capacity.
    unsafe {
        copy_short(b, v.as_mut_ptr().add(len));
        v.set_len(len + n);
    }
}

/// Copies `b` (at most 32 bytes) to `dst`.
///
/// # Safety
/// `dst` is valid for writes of `b.len()` bytes and does not overlap `b`.
#[inline(always)]
pub unsafe fn copy_short(b: &[u8], dst: *mut u8) {
    let (n, src) = (b.len(), b.as_ptr());
    debug_assert!(n <= 32);
    // SAFETY: every read is within `b` and every write within the `n` bytes at `dst` (the
    // caller's promise). Two blocks of `w` bytes each (`w <= n <= 2w`), the second ending
    // where `b` ends, together cover `b`.
    unsafe {
        let two = |w: usize| {
            std::ptr::copy_nonoverlapping(src, dst, w);
            std::ptr::copy_nonoverlapping(src.add(n - w), dst.add(n - w), w);
        };
        match n {
            16.. => two(16),
            8.. => two(8),
            4.. => two(4),
            // Not a byte loop: LLVM made the loop a `memcpy` call once `vm::run` grew.
            2.. => two(2),
            1 => *dst = *src,
            _ => {}
        }
    }
}

/// [`append`] for a `String`.
#[inline(always)]
pub fn append_str(s: &mut String, t: &str) {
    // SAFETY: all of `t` is appended, and `t` is a `str`, so `s` stays UTF-8.
    append(unsafe { s.as_mut_vec() }, t.as_bytes());
}

/// Appends `t` between double quotes (an unescaped JSON string as it was written).
#[inline(always)]
pub fn append_quoted(s: &mut String, t: &str) {
    s.reserve(t.len() + 2);
    // SAFETY: ASCII quotes around a whole `str` keep `s` UTF-8.
    let v = unsafe { s.as_mut_vec() };
    v.push(b'"');
    append(v, t.as_bytes());
    v.push(b'"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_length_is_copied_whole() {
        let src: Vec<u8> = (0..80u8).map(|i| b'a' + i % 26).collect();
        for n in 0..=src.len() {
            for spare in [0, 31, 32, 64] {
                let mut v = Vec::with_capacity(3 + spare);
                v.extend_from_slice(b"xyz");
                append(&mut v, &src[..n]);
                assert_eq!(&v[..3], b"xyz");
                assert_eq!(&v[3..], &src[..n], "n={n} spare={spare}");
            }
            let mut s = String::from("k");
            append_quoted(&mut s, std::str::from_utf8(&src[..n]).unwrap());
            assert_eq!(
                s,
                format!("k\"{}\"", std::str::from_utf8(&src[..n]).unwrap())
            );
        }
    }
}
