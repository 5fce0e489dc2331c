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
    let (src, dst) = (b.as_ptr(), v.as_mut_ptr());
    // SAFETY: `n <= 32` bytes fit the spare capacity checked above, every read is within
    // `b`, and `b` cannot overlap `v`'s spare capacity. Two blocks of `w` bytes each
    // (`w <= n <= 2w`), the second ending where `b` ends, together cover `b`.
    unsafe {
        let dst = dst.add(len);
        match n {
            16.. => two::<16>(src, dst, n),
            8.. => two::<8>(src, dst, n),
            4.. => two::<4>(src, dst, n),
            // Not a loop: LLVM turns a byte loop into a `memcpy` call.
            2.. => two::<2>(src, dst, n),
            1 => *dst = *src,
            _ => {}
        }
        v.set_len(len + n);
    }
}

/// Copies `n` bytes (`W <= n <= 2W`) as two blocks of `W`, the second ending at `n`. The
/// width is a constant parameter, so each copy is one fixed-size move wherever the
/// compiler does or does not inline this (a width passed as a value became a `memcpy`
/// call where it stopped inlining).
///
/// # Safety
/// `src` has `n` readable bytes, `dst` room for `n`, and they do not overlap.
#[inline(always)]
unsafe fn two<const W: usize>(src: *const u8, dst: *mut u8, n: usize) {
    // SAFETY: both blocks lie within the first `n` bytes of each buffer (the caller's
    // contract), as `W <= n`.
    unsafe {
        std::ptr::copy_nonoverlapping(src, dst, W);
        std::ptr::copy_nonoverlapping(src.add(n - W), dst.add(n - W), W);
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
