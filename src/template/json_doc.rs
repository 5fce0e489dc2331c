//! A JSON body parsed once into a flat tape over its own text, for `$input.path`,
//! `$input.json` and `$util.parseJson`.
//!
//! Why: building an owned `serde_json::Value` and then an `IndexMap` tree of [`Value`]s was
//! about 60% of a render (docs/benchmarks.md). The tape is one `Vec` of small nodes (kind,
//! byte span, index of the node after the subtree); strings stay slices of the body until
//! they are printed, numbers are read once, and object members are found by a short linear
//! scan. Templates see a [`Value::Json`] handle (document + node) for strings, arrays and
//! objects; scalars become plain [`Value`]s when reached.
//!
//! The tape accepts exactly what `serde_json::from_slice` accepts (same recursion limit,
//! numbers and escaped strings are handed to serde_json itself), so `$input.path` on
//! invalid JSON stays `null`. Two rare shapes are left to the old owned conversion
//! ([`Parsed::Fallback`]): duplicate object keys (serde_json keeps the first position and
//! the last value) and escaped object keys.
//!
//! Containers are shared and mutable in Java (`$map.put`). The first mutating or
//! non-hot-path use of an array or object converts it into an ordinary `Rc<Map>`/`Rc<List>`
//! ([`Doc::materialize`]), registered per node in the document, so every alias and every
//! later path lookup sees that one converted container and its mutations.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use super::copy::{append_quoted, append_str};
use super::scratch;
use super::value::{Entries, MAX_RENDER_DEPTH, MapKind, Value, java_double, json_string};

/// A key's signature: its length and first bytes packed into a `u64`, so most members
/// are skipped with one comparison, and keys of up to [`SIG_BYTES`] bytes never need more.
const SIG_BYTES: usize = 6;

pub fn signature(key: &[u8]) -> u64 {
    let mut sig = (key.len() as u64) << 48;
    for (i, &c) in key.iter().take(SIG_BYTES).enumerate() {
        sig |= u64::from(c) << (8 * i);
    }
    sig
}

/// [`signature`] of a key of `len` bytes whose first eight bytes (or all of them, and
/// whatever follows) are `first8`, little-endian.
#[inline(always)]
fn signature_of(first8: u64, len: usize) -> u64 {
    // A table rather than a shift by a variable amount: fewer instructions per key.
    const MASKS: [u64; SIG_BYTES + 1] = {
        let mut m = [0; SIG_BYTES + 1];
        let mut i = 1;
        while i <= SIG_BYTES {
            m[i] = (1u64 << (8 * i)) - 1;
            i += 1;
        }
        m
    };
    (first8 & MASKS[len.min(SIG_BYTES)]) | ((len as u64) << 48)
}

// Eight bytes at a time (SWAR): strings and indentation are most of a JSON body.
const ONES: u64 = 0x0101_0101_0101_0101;

fn load8(b: &[u8], i: usize) -> Option<u64> {
    b.get(i..i.checked_add(8)?)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map(u64::from_le_bytes)
}

/// Whether `c` ends the fast scan of a string (a "string stop"): the closing quote, an
/// escape, or a control character serde_json rejects.
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
fn is_string_stop(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

/// Zero bytes after the body in the parser's copy of it (see [`Padded`]).
const PAD: usize = 32;
const PAD_TEXT: &str = match std::str::from_utf8(&[0; PAD]) {
    Ok(s) => s,
    Err(_) => "",
};

/// The body as the parser reads it: its `n` bytes, then [`PAD`] zero bytes.
///
/// Why: reading a byte or a 16-byte block is then one load, without a bounds check (the
/// checks were about a quarter of the parse's instructions). The zero bytes make this
/// safe: zero is neither whitespace, nor a digit, nor a byte any structure starts with,
/// and it ends a string scan (a control character), so every scan stops at the body's
/// end at the latest, and every position the parser reads at is at most `n`. Past a
/// stop the parser only steps over a byte it has just matched (a non-zero byte, so one
/// before `n`). A zero inside the body (invalid JSON anywhere) ends the scans the same
/// way and the document is rejected, as serde_json rejects it.
#[derive(Clone, Copy)]
struct Padded<'t> {
    b: &'t [u8],
    n: usize,
}

impl<'t> Padded<'t> {
    /// The body in `text`, followed by the zero bytes appended here (the only way to make
    /// one, so the zero bytes are always there).
    fn new(text: &'t mut String) -> Self {
        let n = text.len();
        text.push_str(PAD_TEXT);
        Padded {
            b: text.as_bytes(),
            n,
        }
    }

    /// The byte at `i`, which is at most `n` (see the type's invariant).
    #[inline(always)]
    fn at(self, i: usize) -> u8 {
        debug_assert!(i <= self.n);
        // SAFETY: `i <= n` (the invariant) and `n < n + PAD == b.len()`.
        unsafe { *self.b.get_unchecked(i) }
    }

    /// The two bytes at `i` (at most `n`), little-endian.
    #[inline(always)]
    fn pair(self, i: usize) -> u16 {
        u16::from_le_bytes(*self.block(i).first_chunk::<2>().unwrap_or(&[0; 2]))
    }

    /// The 16 bytes at `i`, which is at most `n`.
    #[inline(always)]
    fn block(self, i: usize) -> &'t [u8; 16] {
        debug_assert!(i <= self.n);
        // SAFETY: `i <= n` (the invariant) and `n + 16 <= n + PAD == b.len()`; `[u8; 16]`
        // has the alignment of `u8`.
        unsafe { &*self.b.as_ptr().add(i).cast::<[u8; 16]>() }
    }

    /// The string stops (see [`is_string_stop`]) among the [`WINDOW`] bytes at `i` (at most
    /// `n`), one bit per byte.
    #[inline(always)]
    fn stops(self, i: usize) -> u64 {
        debug_assert!(i <= self.n);
        // SAFETY: `i <= n` and `n + WINDOW <= n + PAD == b.len()`.
        let b = unsafe { &*self.b.as_ptr().add(i).cast::<[u8; WINDOW]>() };
        let (lo, hi) = b.split_at(16);
        let bits = |h: &[u8]| h.first_chunk::<16>().map_or(0, stop_bits16);
        u64::from(bits(lo)) | u64::from(bits(hi)) << 16
    }
}

/// Bytes of the body a [`Window`] covers.
const WINDOW: usize = 32;
// A window loaded at `n` (the last position a scan reaches) ends within the zero bytes.
const _: () = assert!(PAD >= WINDOW);

/// The string stops of [`WINDOW`] bytes of the body, found once and read by every string
/// of an object's member (or of an array's item) that starts in them.
///
/// Why: each string's end is where the next structure starts, so finding it is on the
/// path every later position waits for. With a block load per string, a key and then its
/// string value each waited for a load, compares and a mask move; within a window the
/// value (and often the next member) waits only for a shift and a bit scan of the mask
/// found for the key. Two blocks, not four: the first key of every small object loads a
/// window, and four blocks made small bodies slower than the chain saved.
#[derive(Clone, Copy)]
struct Window {
    base: usize,
    /// Bit `k`: the byte at `base + k` is a string stop.
    mask: u64,
}

impl Window {
    /// A window that holds no position: the first lookup loads one.
    const NONE: Window = Window {
        // `j - base` (wrapping) is then at least `WINDOW` for every `j`.
        base: usize::MAX - (WINDOW - 1),
        mask: 0,
    };

    /// Index of the first string stop at or after `j` (which is at most `n`): at most `n`,
    /// since the zero byte at `n` is a stop.
    #[inline(always)]
    fn stop(&mut self, p: Padded<'_>, mut j: usize) -> usize {
        loop {
            let off = j.wrapping_sub(self.base);
            if off < WINDOW {
                let rest = self.mask >> off;
                if rest != 0 {
                    return j + rest.trailing_zeros() as usize;
                }
                // No stop in the rest of the window, so the one at `n` (a zero byte) is
                // past it: the next window starts at most at `n`.
                j = self.base + WINDOW;
            }
            self.base = j;
            self.mask = p.stops(j);
        }
    }
}

/// The string stops (see [`is_string_stop`]) in `chunk`, one bit per byte.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn stop_bits16(chunk: &[u8; 16]) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_xor_si128,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics are available on
    // every x86_64 CPU; `chunk` is 16 readable bytes and the load is unaligned.
    unsafe {
        let x = _mm_loadu_si128(chunk.as_ptr().cast());
        let escape = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
        // The quote and the control characters in one unsigned compare: flipping bit 1
        // maps the quote (0x22) to 0x20 and the control characters (0x00-0x1f) among
        // themselves, while 0x20 and 0x21 go above 0x20; so `x ^ 2 <= 0x20` is exactly
        // "quote or control character".
        let y = _mm_xor_si128(x, _mm_set1_epi8(2));
        let quote_or_control = _mm_cmpeq_epi8(_mm_min_epu8(y, _mm_set1_epi8(0x20)), y);
        _mm_movemask_epi8(_mm_or_si128(quote_or_control, escape)) as u32
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn stop_bits16(chunk: &[u8; 16]) -> u32 {
    let mut bits = 0;
    for (k, &c) in chunk.iter().enumerate() {
        if is_string_stop(c) {
            bits |= 1 << k;
        }
    }
    bits
}

/// Spaces at the start of `chunk`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn spaces16(chunk: &[u8; 16]) -> usize {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    // SAFETY: as in `stop_bits16`.
    let spaces = unsafe {
        let x = _mm_loadu_si128(chunk.as_ptr().cast());
        _mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(b' ' as i8))) as u32
    };
    (!spaces).trailing_zeros() as usize
}

#[cfg(not(target_arch = "x86_64"))]
fn spaces16(chunk: &[u8; 16]) -> usize {
    let (lo, hi) = chunk.split_at(8);
    match spaces8(lo, 0).unwrap_or(0) {
        8 => 8 + spaces8(hi, 0).unwrap_or(0),
        n => n,
    }
}

/// Spaces at the start of the eight bytes at `b[i..]` (`None` when fewer are left).
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
fn spaces8(b: &[u8], i: usize) -> Option<usize> {
    let other = load8(b, i)? ^ (ONES * u64::from(b' '));
    Some(if other == 0 {
        8
    } else {
        (other.trailing_zeros() / 8) as usize
    })
}

/// Bit `k` set where byte `k` of `a` equals byte `k` of `b`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn eq_bits16(a: &[u8; 16], b: &[u8; 16]) -> u32 {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8};
    // SAFETY: as in `stop_bits16`.
    unsafe {
        let (x, y) = (
            _mm_loadu_si128(a.as_ptr().cast()),
            _mm_loadu_si128(b.as_ptr().cast()),
        );
        _mm_movemask_epi8(_mm_cmpeq_epi8(x, y)) as u32
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn eq_bits16(a: &[u8; 16], b: &[u8; 16]) -> u32 {
    (0..16)
        .filter(|&k| a[k] == b[k])
        .fold(0, |bits, k| bits | 1 << k)
}

/// The bytes from a comma to the next key's opening quote (`,\n    "`), as an object's
/// last two members were laid out, learned to guess the next: pretty-printed members
/// repeat their layout.
///
/// Why a copy of the bytes: checking a guess is then one compare of 16 bytes with a mask.
/// Checking a comma, a quote and whitespace between them, by class, took five times the
/// instructions, on the path of every member of a pretty-printed body.
#[derive(Clone, Copy)]
struct Layout {
    bytes: [u8; 16],
    /// Bit `k` set for each byte of the layout (`gap + 1` of them).
    mask: u32,
    /// Bytes from the comma to the quote.
    gap: usize,
}

impl Layout {
    /// A layout nothing matches: `0xff` is never in UTF-8 text (the body is a `str`), nor
    /// in the zero bytes after it.
    const NONE: Layout = Layout {
        bytes: [0xff; 16],
        mask: 1,
        gap: 0,
    };

    /// The layout from the comma at `comma` to the quote at `quote` (after it), if it fits
    /// in a block.
    fn learn(p: Padded<'_>, comma: usize, quote: usize) -> Layout {
        let len = quote - comma + 1;
        if len > 16 {
            return Layout::NONE;
        }
        Layout {
            bytes: *p.block(comma),
            mask: (1 << len) - 1,
            gap: len - 1,
        }
    }

    /// Whether the bytes at `i` (at most `n`) are this layout. A match lies within the
    /// body: its bytes are not zero, and the bytes after the body are.
    #[inline(always)]
    fn at(&self, p: Padded<'_>, i: usize) -> bool {
        eq_bits16(p.block(i), &self.bytes) & self.mask == self.mask
    }
}

/// The first byte at or after `i` that is not JSON whitespace.
#[inline(always)]
fn ws_at(p: Padded<'_>, i: usize) -> usize {
    if p.at(i) > b' ' {
        return i;
    }
    ws_run(p, i)
}

/// The position after the colon at `i` (and after whitespace): the case of `object`'s
/// colon without a space after it.
#[inline(never)]
fn after_colon(p: Padded<'_>, i: usize) -> usize {
    ws_at(p, i + 1)
}

/// Bit `c` set for the whitespace bytes other than the newline: space, tab, CR.
const BLANKS: u64 = (1 << b' ') | (1 << b'\t') | (1 << b'\r');

fn ws_run(p: Padded<'_>, mut i: usize) -> usize {
    // Tests, not a `match`: a `match` over the four bytes became a jump table (so did a
    // chain of `==`), and an indirect jump per whitespace byte is the hardest branch to
    // predict.
    loop {
        let c = p.at(i);
        if c == b'\n' {
            i += 1;
            // Indentation: a block of spaces at a time.
            loop {
                let n = spaces16(p.block(i));
                i += n;
                if n < 16 {
                    break;
                }
            }
        } else if c <= b' ' && (BLANKS >> c) & 1 != 0 {
            i += 1;
        } else {
            return i;
        }
    }
}

/// What each escape `\\c` of a JSON string decodes to, by `c`; 0 for `\\u` and the
/// invalid ones.
const UNESCAPE: [u8; 256] = {
    let mut t = [0; 256];
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[b'/' as usize] = b'/';
    t[b'b' as usize] = 0x08;
    t[b'f' as usize] = 0x0c;
    t[b'n' as usize] = b'\n';
    t[b'r' as usize] = b'\r';
    t[b't' as usize] = b'\t';
    t
};

/// Appends the value of the string whose text starts at `start` in the body, and whose
/// first escape is at `j`, to `out`. Returns the index of its closing quote, or of the
/// first stop it does not decode (a `\\u` or invalid escape, a raw control character, the
/// end of the body), after which what it appended is incomplete.
///
/// Why by hand: in JSON-in-JSON an escape comes every few bytes. With a capacity check, a
/// length update and a copy call per run, the bookkeeping cost more than the decoding.
/// Here the room is reserved once (the decoded string is never longer than the rest of
/// the body) and runs are copied in whole 16-byte stores, of which only the bytes before
/// the next stop are kept. The stops come from a [`Window`]: each escape's position is a
/// shift and a bit scan away from the one before, not a load.
fn decode_escaped(
    out: &mut String,
    p: Padded<'_>,
    start: usize,
    mut j: usize,
) -> Result<usize, usize> {
    // SAFETY: only body bytes before a string stop (an ASCII byte) and the ASCII bytes of
    // `UNESCAPE` are kept, and the body is a `str`, so `out` stays whole UTF-8 sequences.
    let v = unsafe { out.as_mut_vec() };
    // Each escape turns two body bytes into one and each run is copied as is, so `v`
    // never holds more than it held plus the body bytes read from `start`; a run's last
    // store writes at most 15 bytes past it.
    v.reserve(p.n - start + 16);
    let dst = v.as_mut_ptr();
    let mut len = v.len();
    let mut win = Window::NONE;
    // The run `run..j` is not copied yet; `j` is at a stop.
    let mut run = start;
    let end = loop {
        let mut k = run;
        while k < j {
            debug_assert!(len + (k - run) + 16 <= v.capacity());
            // SAFETY: within the reserved room (above); `k < j <= n`.
            unsafe {
                dst.add(len + (k - run))
                    .cast::<[u8; 16]>()
                    .write_unaligned(*p.block(k));
            }
            k += 16;
        }
        len += j - run;
        let c = p.at(j);
        if c != b'\\' {
            break if c == b'"' { Ok(j) } else { Err(j) };
        }
        let d = UNESCAPE[usize::from(p.at(j + 1))];
        if d == 0 {
            break Err(j);
        }
        debug_assert!(len < v.capacity());
        // SAFETY: within the reserved room (above).
        unsafe { dst.add(len).write(d) };
        len += 1;
        run = j + 2;
        j = win.stop(p, run);
    };
    // SAFETY: `len` bytes are initialized: what `v` held, then what was written above.
    unsafe { v.set_len(len) };
    end
}

/// [`Doc::key_eq`] of keys under eight bytes or over sixteen: the bytes after the
/// signature's, eight at a time.
#[inline(never)]
fn key_eq_long(text: &[u8], key: &[u8]) -> bool {
    if text.len() != key.len() {
        return false;
    }
    let mut i = SIG_BYTES;
    while let (Some(a), Some(b)) = (load8(text, i), load8(key, i)) {
        if a != b {
            return false;
        }
        i += 8;
    }
    // The tail: the last eight bytes again (overlapping) when there are eight.
    match key.len().checked_sub(8) {
        Some(last) => load8(text, last) == load8(key, last),
        None => text.get(i..) == key.get(i..),
    }
}

/// The value of the digit at `j`, if the byte there is one.
#[inline(always)]
fn digit_at(p: Padded<'_>, j: usize) -> Option<u64> {
    let d = p.at(j).wrapping_sub(b'0');
    (d <= 9).then_some(u64::from(d))
}

/// A byte that can continue a JSON number (digits, sign, point, exponent): a number read
/// in a fast path must not be followed by one, and `number` hands a run of them to
/// serde_json.
fn is_number_byte(c: u8) -> bool {
    matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
}

/// Powers of ten serde_json divides by (exact as `f64` up to 1e22).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// serde_json's recursion limit: the 128th nested container is an error.
const MAX_NESTING: u32 = 128;
/// Objects with at most this many members are checked for duplicate keys as each key
/// arrives; larger ones once more at their end, with a hash set.
const PAIRWISE_DUP_CHECK: usize = 16;
/// Longest integer literal read directly (more digits may overflow `i64`).
const MAX_FAST_DIGITS: usize = 18;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    True,
    False,
    Int,
    Float,
    /// A float whose text is what Java prints for it (see [`prints_as_written`]): printed
    /// from the text, which the parser checks while it reads the digits.
    PlainFloat,
    /// A string without escapes: `text[start..end]` is its value; `payload` is its
    /// [`signature`].
    Str,
    /// A string with escapes: its decoded value is `text[payload >> 32..payload as u32]`
    /// (decoded strings follow the body in [`Doc::text`]).
    EscStr,
    /// `payload` is the item count.
    Arr,
    /// `payload` is the member count; members are key node, value subtree, ...
    Obj,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    kind: Kind,
    start: u32,
    end: u32,
    /// Index of the first node after this subtree; for an object's key (always one node,
    /// so the value follows it), the index of the object instead: a member hint is checked
    /// with it ([`Doc::get_hinted`]).
    next: u32,
    payload: u64,
}

/// Converted containers by node. Keys are tape indexes, so a fixed-key hasher is enough
/// (and creating the empty table costs nothing, unlike a randomly seeded one).
type Converted = HashMap<u32, Value, std::hash::BuildHasherDefault<ahash::AHasher>>;

/// A parsed document. Immutable except for the table of converted containers.
#[derive(Debug)]
pub struct Doc {
    /// A copy of the body (values outlive the request's buffer), then the decoded values of
    /// strings with escapes, one after another (one buffer rather than a string each).
    /// `text` and `nodes` are per-thread spares ([`scratch`]), given back when the document
    /// is dropped, or kept in it when the whole document is kept ([`keep_doc`]).
    text: String,
    nodes: Vec<Node>,
    /// An empty buffer the parser decodes escaped strings into before they join `text`:
    /// kept with the document, so a document reused for the next parse has it at hand.
    decoded: String,
    materialized: RefCell<Converted>,
    /// Whether `materialized` has an entry: read on every lookup, so a flag rather than a
    /// `RefCell` borrow and a length.
    converted: Cell<bool>,
}

thread_local! {
    static NODES: RefCell<Vec<Vec<Node>>> = const { RefCell::new(Vec::new()) };
    static TEXT: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// The thread's documents, each parsed into again once nothing else holds it (see
    /// [`free_doc`]); at most [`scratch::MAX_SPARES`].
    static DOCS: RefCell<Vec<Rc<Doc>>> = const { RefCell::new(Vec::new()) };
}

impl Drop for Doc {
    fn drop(&mut self) {
        scratch::give(&NODES, std::mem::take(&mut self.nodes));
        scratch::give(&TEXT, std::mem::take(&mut self.text));
        scratch::give(&TEXT, std::mem::take(&mut self.decoded));
    }
}

/// A string, array or object inside a [`Doc`].
#[derive(Debug, Clone)]
pub struct JsonRef {
    pub doc: Rc<Doc>,
    pub node: u32,
}

/// The outcome of [`parse`].
pub enum Parsed {
    /// The document's root value.
    Value(Value),
    /// Not JSON (what serde_json rejects).
    Invalid,
    /// Valid JSON the tape does not model (duplicate or escaped keys): convert with serde_json.
    Fallback,
}

/// `text` as a `str`. Bodies are mostly ASCII, which is checked 16 bytes at a time;
/// anything else goes to `std::str::from_utf8` (whose fixed cost was a tenth of parsing a
/// 60-byte body).
fn utf8(text: &[u8]) -> Option<&str> {
    if is_ascii(text) {
        // SAFETY: every byte is below 0x80, and ASCII is UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(text) });
    }
    std::str::from_utf8(text).ok()
}

#[cfg(target_arch = "x86_64")]
fn is_ascii(b: &[u8]) -> bool {
    use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128};
    let load = |block: &[u8], at: usize| -> Option<__m128i> {
        let bytes: &[u8; 16] = block.get(at..at + 16)?.try_into().ok()?;
        // SAFETY: SSE2 is part of the x86_64 baseline; `bytes` is 16 readable bytes and
        // the load is unaligned.
        Some(unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) })
    };
    // SAFETY: SSE2 is part of the x86_64 baseline (register-only operations).
    let high = |v: __m128i| unsafe { _mm_movemask_epi8(v) != 0 };
    // SAFETY: as above.
    let or = |a: __m128i, b: __m128i| unsafe { _mm_or_si128(a, b) };
    // 64 bytes a round: four loads folded into one test.
    let mut rounds = b.chunks_exact(64);
    for r in &mut rounds {
        let (Some(w), Some(x), Some(y), Some(z)) =
            (load(r, 0), load(r, 16), load(r, 32), load(r, 48))
        else {
            return false;
        };
        if high(or(or(w, x), or(y, z))) {
            return false;
        }
    }
    let mut blocks = rounds.remainder().chunks_exact(16);
    for block in &mut blocks {
        if load(block, 0).is_none_or(high) {
            return false;
        }
    }
    let rest = blocks.remainder();
    match b.len().checked_sub(16) {
        // The last 16 bytes again, overlapping blocks already seen.
        Some(from) if !rest.is_empty() => load(b, from).is_some_and(|v| !high(v)),
        _ => rest.is_ascii(),
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn is_ascii(b: &[u8]) -> bool {
    b.is_ascii()
}

/// Parses `text` as one JSON document.
pub fn parse(text: &[u8]) -> Parsed {
    match utf8(text) {
        Some(s) => parse_str(s),
        None => Parsed::Invalid,
    }
}

/// [`parse`] of text already known to be UTF-8 (`$util.parseJson`'s argument).
pub fn parse_str(s: &str) -> Parsed {
    // The tape addresses the text (the body and at most as many decoded bytes) with u32
    // offsets; the gateway's body limit is far below.
    if s.len() > (u32::MAX / 2) as usize - PAD {
        return Parsed::Invalid;
    }
    let mut doc = free_doc();
    if Rc::get_mut(&mut doc).is_none() {
        // Not reached: `free_doc` hands out documents nothing else holds.
        doc = new_doc();
    }
    let Some(d) = Rc::get_mut(&mut doc) else {
        return Parsed::Invalid;
    };
    if d.nodes.capacity() == 0 {
        d.nodes = scratch::take(&NODES);
    }
    if d.text.capacity() == 0 {
        d.text = scratch::take(&TEXT);
    }
    d.nodes.reserve(s.len() / 6 + 4);
    let n = s.len();
    d.text.reserve(n + PAD);
    d.text.push_str(s);
    let mut b = Builder {
        p: Padded::new(&mut d.text),
        t: s,
        i: 0,
        nodes: std::mem::take(&mut d.nodes),
        decoded: std::mem::take(&mut d.decoded),
        fallback: false,
    };
    let ok = b.value(0).is_ok() && ws_at(b.p, b.i) == n;
    let (nodes, mut decoded, fallback) = (b.nodes, b.decoded, b.fallback);
    d.text.truncate(n);
    d.nodes = nodes;
    if ok && !fallback && !decoded.is_empty() {
        d.text.push_str(&decoded);
    }
    decoded.clear();
    d.decoded = decoded;
    let result = match (ok, fallback) {
        (true, false) => Parsed::Value(Doc::value(&doc, 0)),
        (true, true) => Parsed::Fallback,
        (false, _) => Parsed::Invalid,
    };
    keep_doc(doc);
    result
}

/// A document to parse into, held by nothing else: the thread's most recent one that
/// nothing holds any more (emptied here), or a new one.
///
/// Why documents are found free rather than handed back: a render that parsed a body gave
/// its documents back when it ended, and the hand-back (a thread-local, a list, each
/// document's reference count) was a sixth of the fixed cost of a short template's parse.
/// A reference count of one (the thread's own) says the same at the next parse.
fn free_doc() -> Rc<Doc> {
    let found = DOCS
        .try_with(|d| {
            let mut d = d.try_borrow_mut().ok()?;
            let k = d.iter().rposition(|doc| Rc::strong_count(doc) == 1)?;
            Some(d.swap_remove(k))
        })
        .ok()
        .flatten();
    let Some(mut doc) = found else {
        return new_doc();
    };
    // Emptied outside the thread's list: converted containers may hold other documents.
    if let Some(d) = Rc::get_mut(&mut doc) {
        d.nodes.clear();
        d.text.clear();
        if d.converted.get() {
            d.materialized.get_mut().clear();
            d.converted.set(false);
        }
    }
    doc
}

/// An empty document of its own.
fn new_doc() -> Rc<Doc> {
    Rc::new(Doc {
        text: String::new(),
        nodes: Vec::new(),
        decoded: String::new(),
        materialized: RefCell::new(Converted::default()),
        converted: Cell::new(false),
    })
}

/// Keeps `doc` (just parsed into) among the thread's documents, for a later parse once
/// nothing else holds it. Bounded: the oldest goes when there are
/// [`scratch::MAX_SPARES`], so documents that something keeps for good (a container that
/// holds its own document) do not fill the list; so does a document that grew past
/// [`scratch::MAX_KEPT_BYTES`].
fn keep_doc(doc: Rc<Doc>) {
    if doc.kept_bytes() > scratch::MAX_KEPT_BYTES {
        return;
    }
    let evicted = DOCS
        .try_with(|d| {
            let mut d = d.try_borrow_mut().ok()?;
            let old = (d.len() >= scratch::MAX_SPARES).then(|| d.remove(0));
            d.push(doc);
            old
        })
        .ok()
        .flatten();
    // Dropped with the list no longer borrowed: it may hold other documents.
    drop(evicted);
}

/// Parses `text` into a [`Value`], `None` when it is not JSON.
pub fn parse_value(text: &[u8]) -> Option<Value> {
    value_of(parse(text), text)
}

/// [`parse_value`] of a `str`.
pub fn parse_str_value(text: &str) -> Option<Value> {
    value_of(parse_str(text), text.as_bytes())
}

fn value_of(parsed: Parsed, text: &[u8]) -> Option<Value> {
    match parsed {
        Parsed::Value(v) => Some(v),
        Parsed::Invalid => None,
        Parsed::Fallback => serde_json::from_slice::<serde_json::Value>(text)
            .ok()
            .map(|v| Value::from_json(&v)),
    }
}

struct Builder<'t> {
    /// The body and the zero bytes after it: what the parser reads.
    p: Padded<'t>,
    /// The body (slices handed to serde_json).
    t: &'t str,
    i: usize,
    nodes: Vec<Node>,
    /// Decoded strings, one after another; they follow the body in [`Doc::text`].
    decoded: String,
    fallback: bool,
}

type R = Result<(), ()>;

impl Builder<'_> {
    #[inline(always)]
    fn push(&mut self, kind: Kind, start: usize, end: usize, payload: u64) -> usize {
        let at = self.nodes.len();
        self.nodes.push(Node {
            kind,
            start: start as u32,
            end: end as u32,
            next: at as u32 + 1,
            payload,
        });
        at
    }

    /// The value at or after `i` (after whitespace), returning the position after it.
    /// Inlined into the container loops, which keep the position in a local rather than in
    /// `self.i` (every node written to the tape made the compiler store and reload it):
    /// strings and small integers are read here; the rest go through `self.i`.
    #[inline(always)]
    fn value_at(&mut self, i: usize, depth: u32, win: &mut Window) -> Result<usize, ()> {
        let p = self.p;
        let i = ws_at(p, i);
        let c = p.at(i);
        if c == b'"' {
            let start = i + 1;
            let j = win.stop(p, start);
            match p.at(j) {
                b'"' => {}
                b'\\' => {
                    self.escaped_string(start, j, false)?;
                    return Ok(self.i);
                }
                // The end of the body, or a raw control character (serde_json rejects
                // those).
                _ => return Err(()),
            }
            self.push(Kind::Str, start, j, 0);
            return Ok(j + 1);
        }
        // A positive integer of at most `MAX_FAST_DIGITS` digits (most numbers in a
        // body), read without `number`'s cases; anything else is handed to it.
        if c.wrapping_sub(b'1') < 9 {
            let mut j = i;
            let mut n: u64 = 0;
            while let Some(d) = digit_at(p, j) {
                n = n.wrapping_mul(10).wrapping_add(d);
                j += 1;
            }
            if !is_number_byte(p.at(j)) && j - i <= MAX_FAST_DIGITS {
                self.push(Kind::Int, i, j, n);
                return Ok(j);
            }
            self.i = i;
            self.number()?;
            return Ok(self.i);
        }
        // A lone `0` (flags and counts), read without `number`'s cases.
        if c == b'0' && !is_number_byte(p.at(i + 1)) {
            self.push(Kind::Int, i, i + 1, 0);
            return Ok(i + 1);
        }
        self.i = i;
        // An object (most nested values that are not strings) calls `object` straight
        // away, not through `other_value`'s frame.
        if c == b'{' {
            self.object(depth)?;
        } else {
            self.other_value(depth)?;
        }
        Ok(self.i)
    }

    /// The value at or after `self.i` (the document's root).
    fn value(&mut self, depth: u32) -> R {
        let mut win = Window::NONE;
        self.i = self.value_at(self.i, depth, &mut win)?;
        Ok(())
    }

    /// A value at `self.i` that [`Self::value_at`] does not read inline: containers (the
    /// calls, and the recursion), literals and the numbers `number` reads.
    fn other_value(&mut self, depth: u32) -> R {
        // Tests in turn, not one `match`: a `match` over these bytes became a jump table, an
        // indirect jump whose target changes from one value to the next.
        let c = self.p.at(self.i);
        if c == b'{' {
            self.object(depth)
        } else if c == b'[' {
            self.array(depth)
        } else {
            self.scalar(c)
        }
    }

    /// A literal or a number that [`Self::value_at`] does not read inline, at `self.i`
    /// (whose byte is `c`).
    fn scalar(&mut self, c: u8) -> R {
        match c {
            b't' => self.literal(b"true", Kind::True),
            b'f' => self.literal(b"false", Kind::False),
            b'n' => self.literal(b"null", Kind::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(()),
        }
    }

    fn literal(&mut self, word: &[u8], kind: Kind) -> R {
        // A match is non-zero bytes, so it ends within the body.
        if self.p.block(self.i).get(..word.len()) != Some(word) {
            return Err(());
        }
        let end = self.i + word.len();
        self.push(kind, self.i, end, 0);
        self.i = end;
        Ok(())
    }

    fn number(&mut self) -> R {
        let (p, start) = (self.p, self.i);
        // One pass over `-?digits(.digits)?`, accumulating the digits.
        let negative = p.at(start) == b'-';
        let int_start = start + usize::from(negative);
        let mut j = int_start;
        let mut n: u64 = 0;
        let mut digit = |j: &mut usize| match digit_at(p, *j) {
            Some(d) => {
                n = n.wrapping_mul(10).wrapping_add(d);
                *j += 1;
                true
            }
            None => false,
        };
        while digit(&mut j) {}
        let int_len = j - int_start;
        let dot = p.at(j) == b'.';
        let mut frac_len = 0;
        if dot {
            j += 1;
            while digit(&mut j) {
                frac_len += 1;
            }
        }
        let continues = is_number_byte(p.at(j));
        let plain = !continues
            && int_len > 0
            && int_len + frac_len <= MAX_FAST_DIGITS
            && (int_len == 1 || p.at(int_start) != b'0');
        if plain && !dot && !(negative && n == 0) {
            self.i = j;
            let i = if negative { -(n as i64) } else { n as i64 };
            self.push(Kind::Int, start, j, i as u64);
            return Ok(());
        }
        // Clinger's fast path: with at most 2^53 in the digits, both `n as f64` and 10^frac
        // are exact and the one division is correctly rounded, as serde_json's result is.
        // Larger mantissas (up to 18 digits fit `n`) would round twice: serde_json reads them.
        if plain && frac_len > 0 && n <= 1 << 53 {
            // What serde_json's `f64_from_parts` computes: the digits, divided once.
            let f = n as f64 / *POW10.get(frac_len).ok_or(())?;
            self.i = j;
            // `prints_as_written` for a float, from what the loop above saw.
            let last_zero = frac_len > 1 && p.at(j - 1) == b'0';
            let as_written = !last_zero
                && if int_len == 1 && p.at(int_start) == b'0' {
                    let frac = int_start + 2;
                    let zeros = (0..3).take_while(|&z| p.at(frac + z) == b'0').count();
                    zeros < 3 && zeros < frac_len && frac_len - zeros <= 15
                } else {
                    int_len <= 7 && int_len + frac_len <= 15
                };
            let kind = if as_written {
                Kind::PlainFloat
            } else {
                Kind::Float
            };
            self.push(kind, start, j, (if negative { -f } else { f }).to_bits());
            return Ok(());
        }
        let mut j = start;
        while is_number_byte(p.at(j)) {
            j += 1;
        }
        self.i = j;
        let lit = self.t.get(start..j).ok_or(())?;
        // Everything else (fractions, exponents, `-0`, huge integers, malformed text)
        // goes through serde_json so the value and the accept/reject decision are its own.
        let n: serde_json::Number = serde_json::from_str(lit).map_err(|_| ())?;
        match n.as_i64() {
            Some(i) => self.push(Kind::Int, start, j, i as u64),
            None => self.push(Kind::Float, start, j, n.as_f64().unwrap_or(0.0).to_bits()),
        };
        Ok(())
    }

    /// An object's key at `i` (its opening quote), pushed with its object `me` and its
    /// [`signature`] (only keys carry one: only keys are compared), which it returns with
    /// the position after the key.
    #[inline(always)]
    fn key_at(&mut self, me: usize, i: usize, win: &mut Window) -> Result<(u64, usize), ()> {
        let p = self.p;
        let start = i + 1;
        let first8 = u64::from_le_bytes(*p.block(start).first_chunk::<8>().ok_or(())?);
        let j = win.stop(p, start);
        match p.at(j) {
            b'"' => {}
            b'\\' => {
                // The document goes to serde_json (`Parsed::Fallback`); the tape only has
                // to stay well formed until then.
                let at = self.nodes.len();
                self.escaped_string(start, j, true)?;
                if let Some(k) = self.nodes.get_mut(at) {
                    k.next = me as u32;
                }
                return Ok((0, self.i));
            }
            // The end of the body, or a raw control character (serde_json rejects those).
            _ => return Err(()),
        }
        let sig = signature_of(first8, j - start);
        self.nodes.push(Node {
            kind: Kind::Str,
            start: start as u32,
            end: j as u32,
            next: me as u32,
            payload: sig,
        });
        Ok((sig, j + 1))
    }

    /// The rest of a string from its first escape at `j`: decodes it onto the end of the
    /// decoded text while finding the closing quote (one pass: in JSON-in-JSON an escape
    /// comes every few bytes, and a second pass to decode cost more than the scan).
    #[inline(never)]
    fn escaped_string(&mut self, start: usize, j: usize, key: bool) -> R {
        let p = self.p;
        let from = self.decoded.len();
        let j = match decode_escaped(&mut self.decoded, p, start, j) {
            Ok(quote) => quote,
            // `\u` escapes (surrogate pairs and their errors) and invalid escapes:
            // serde_json decides.
            Err(at) if p.at(at) == b'\\' => return self.unicode_string(start, at, key, from),
            // The end of the body, or a raw control character (serde_json rejects those).
            Err(_) => return Err(()),
        };
        self.i = j + 1;
        if key {
            self.fallback = true;
        }
        self.push_decoded(start, j, from);
        Ok(())
    }

    /// The string node for body bytes `start..end` whose value is `decoded[from..]`.
    fn push_decoded(&mut self, start: usize, end: usize, from: usize) {
        let base = self.p.n as u64;
        let (from, to) = (base + from as u64, base + self.decoded.len() as u64);
        self.push(Kind::EscStr, start, end, (from << 32) | to);
    }

    /// A string with a `\u` (or invalid) escape at or after `j`: finds its closing quote and
    /// has serde_json decode it, replacing what [`Self::escaped_string`] decoded from `from`.
    #[cold]
    fn unicode_string(&mut self, start: usize, mut j: usize, key: bool, from: usize) -> R {
        // Byte by byte over the body alone (a rare path, and an escape may be its last
        // byte).
        let b = self.t.as_bytes();
        loop {
            match b.get(j) {
                Some(b'"') => break,
                Some(b'\\') => j += 2,
                Some(&c) if c >= 0x20 => j += 1,
                // End of text, or a raw control character (serde_json rejects those).
                _ => return Err(()),
            }
        }
        self.i = j + 1;
        if key {
            self.fallback = true;
        }
        self.decoded.truncate(from);
        let s =
            serde_json::from_str::<String>(self.t.get(start - 1..=j).ok_or(())?).map_err(|_| ())?;
        self.decoded.push_str(&s);
        self.push_decoded(start, j, from);
        Ok(())
    }

    #[inline(never)]
    fn array(&mut self, depth: u32) -> R {
        if depth + 1 >= MAX_NESTING {
            return Err(());
        }
        let p = self.p;
        let me = self.push(Kind::Arr, self.i, self.i, 0);
        let mut i = ws_at(p, self.i + 1);
        let mut count = 0u64;
        let mut win = Window::NONE;
        if p.at(i) == b']' {
            i += 1;
        } else {
            loop {
                // A list of objects (most lists in a body) calls `object` straight away,
                // not through `value_at`'s other cases and `other_value`.
                i = ws_at(p, i);
                if p.at(i) == b'{' {
                    self.i = i;
                    self.object(depth + 1)?;
                    i = self.i;
                } else {
                    i = self.value_at(i, depth + 1, &mut win)?;
                }
                count += 1;
                i = ws_at(p, i);
                match p.at(i) {
                    b',' => i += 1,
                    b']' => {
                        i += 1;
                        break;
                    }
                    _ => return Err(()),
                }
            }
        }
        self.i = i;
        self.close(me, count);
        Ok(())
    }

    #[inline(never)]
    fn object(&mut self, depth: u32) -> R {
        if depth + 1 >= MAX_NESTING {
            return Err(());
        }
        let p = self.p;
        let me = self.push(Kind::Obj, self.i, self.i, 0);
        let mut i = ws_at(p, self.i + 1);
        let mut count = 0u64;
        // One bit per key signature: a key is compared with the earlier ones only when its
        // bit was already set (a possible duplicate), so most objects need no pairwise pass.
        let mut bloom = 0u64;
        // How the last two members were laid out, and where the last comma the general path
        // found was (`usize::MAX`: none since the last guess).
        let mut layout = Layout::NONE;
        let mut comma = usize::MAX;
        let mut win = Window::NONE;
        if p.at(i) == b'}' {
            i += 1;
        } else {
            loop {
                i = ws_at(p, i);
                if p.at(i) != b'"' {
                    return Err(());
                }
                // Learned after a comma the general path found; a guess that held (below)
                // leaves the layout as it was.
                if comma != usize::MAX {
                    layout = Layout::learn(p, comma, i);
                }
                let key = self.nodes.len();
                let (sig, j) = self.key_at(me, i, &mut win)?;
                i = j;
                let h = sig.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58;
                if (bloom >> h) & 1 != 0 {
                    self.possible_duplicate(me, key, count);
                }
                bloom |= 1 << h;
                // `"key": value` (pretty-printed): the colon and the space in one compare.
                if p.pair(i) == u16::from_le_bytes(*b": ") {
                    i += 2;
                } else {
                    i = ws_at(p, i);
                    if p.at(i) != b':' {
                        return Err(());
                    }
                    // `"key":value` (compact), and `"key" : value`: the one space or none
                    // is stepped over here, so `value_at` finds no whitespace to skip.
                    // Branches (other layouts are out of line), not an addition of a
                    // comparison: the next position then does not wait for the load.
                    let after = p.at(i + 1);
                    i = if after == b' ' {
                        i + 2
                    } else if after > b' ' {
                        i + 1
                    } else {
                        after_colon(p, i)
                    };
                }
                i = self.value_at(i, depth + 1, &mut win)?;
                count += 1;
                // Pretty-printed members repeat their layout: a comma right after the value
                // and the next key as far after it as last time. Guessed, then checked:
                // the next position is `i + gap` whatever the bytes are (the check is a
                // branch the CPU predicts), where finding it byte by byte waits for each
                // load in turn.
                if layout.at(p, i) {
                    i += layout.gap;
                    comma = usize::MAX;
                    continue;
                }
                i = ws_at(p, i);
                match p.at(i) {
                    b',' => {
                        comma = i;
                        i += 1;
                    }
                    b'}' => {
                        i += 1;
                        break;
                    }
                    _ => return Err(()),
                }
            }
        }
        self.i = i;
        if count > PAIRWISE_DUP_CHECK as u64 && self.has_duplicate_keys(me) {
            self.fallback = true;
        }
        self.close(me, count);
        Ok(())
    }

    /// The key nodes of object node `obj` parsed so far (their values complete), up to
    /// node `until`, read off the tape.
    fn key_nodes(&self, obj: usize, until: usize) -> impl Iterator<Item = &Node> + '_ {
        // A key is followed by its value: both within `..until`.
        let nodes = self.nodes.get(..until).unwrap_or(&self.nodes);
        let mut at = obj + 1;
        std::iter::from_fn(move || {
            let (k, v) = (nodes.get(at)?, nodes.get(at + 1)?);
            at = (v.next as usize).max(at + 2);
            Some(k)
        })
    }

    fn key_text(&self, k: &Node) -> &[u8] {
        self.t
            .as_bytes()
            .get(k.start as usize..k.end as usize)
            .unwrap_or(&[])
    }

    /// Whether key node `key` of object node `obj` repeats an earlier key.
    fn is_duplicate_key(&self, obj: usize, key: usize) -> bool {
        let Some(k) = self.nodes.get(key) else {
            return false;
        };
        // Signatures first; texts only where they match.
        self.key_nodes(obj, key + 1)
            .any(|p| p.payload == k.payload && self.key_text(p) == self.key_text(k))
    }

    /// Key node `key` of object node `obj` (whose `count` keys before it are on the tape)
    /// has a signature bit an earlier key set: compares it with them (up to
    /// [`PAIRWISE_DUP_CHECK`]; a larger object is checked whole when it closes). Out of line
    /// and cold: the member loop keeps only the bloom test, in registers.
    #[cold]
    #[inline(never)]
    fn possible_duplicate(&mut self, obj: usize, key: usize, count: u64) {
        if count < PAIRWISE_DUP_CHECK as u64 && self.is_duplicate_key(obj, key) {
            self.fallback = true;
        }
    }

    /// Whether any two keys of object node `obj` are equal (objects too large for the
    /// check as keys arrive).
    ///
    /// Why sorted (by signature, then text), not a hash set: a set with a random seed
    /// hashed every key with SipHash, and a 20-key object took about 13,000 instructions to
    /// check, nearly four times its parse. Sorting puts equal keys side by side in O(n log n) whatever the
    /// keys are (comparing keys pairwise within a signature would be quadratic for keys of
    /// one length that start alike, which share one signature).
    fn has_duplicate_keys(&self, obj: usize) -> bool {
        // At most this many: each member is a key node and at least a value node.
        let count = self.nodes.len().saturating_sub(obj) / 2;
        // Signatures alone first (integers sort fast): most objects have no two alike, and
        // then no two keys are equal.
        let mut sigs = Vec::with_capacity(count);
        sigs.extend(self.key_nodes(obj, self.nodes.len()).map(|k| k.payload));
        sigs.sort_unstable();
        if !sigs.windows(2).any(|w| w.first() == w.get(1)) {
            return false;
        }
        let mut keys = Vec::with_capacity(count);
        keys.extend(
            self.key_nodes(obj, self.nodes.len())
                .map(|k| (k.payload, self.key_text(k))),
        );
        keys.sort_unstable();
        keys.windows(2).any(|w| w.first() == w.get(1))
    }

    fn close(&mut self, me: usize, count: u64) {
        let next = self.nodes.len() as u32;
        let end = self.i as u32;
        if let Some(n) = self.nodes.get_mut(me) {
            n.next = next;
            n.end = end;
            n.payload = count;
        }
    }
}

/// Whether Java prints number literal `b` (an integer, or a float when `float`) exactly as
/// written. Integers: no `-0` (it prints `0`). Floats: `int.frac` in Java's plain range
/// (1e-3 to 1e7), no trailing zero after the first fraction digit, at most 15 significant
/// digits: any two decimals of 15 digits are different doubles, so the shortest digits
/// that read back as this double are the written ones, which is what Java prints.
fn prints_as_written(b: &[u8], float: bool) -> bool {
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let (int, frac) = match digits.iter().position(|&c| c == b'.') {
        Some(p) => (&digits[..p], digits.get(p + 1..)),
        None => (digits, None),
    };
    let plain = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    if !plain(int) || (int.len() > 1 && int[0] == b'0') {
        return false;
    }
    match (float, frac) {
        (false, None) => !(digits.len() < b.len() && int == b"0"),
        (true, Some(frac)) => {
            if !plain(frac) || (frac.len() > 1 && frac.ends_with(b"0")) {
                return false;
            }
            if int == b"0" {
                let zeros = frac.iter().take_while(|&&c| c == b'0').count();
                zeros < 3 && zeros < frac.len() && frac.len() - zeros <= 15
            } else {
                int.len() <= 7 && int.len() + frac.len() <= 15
            }
        }
        _ => false,
    }
}

impl Doc {
    /// Bytes of buffer the document holds.
    fn kept_bytes(&self) -> usize {
        self.text.capacity() + self.decoded.capacity() + self.nodes.capacity() * size_of::<Node>()
    }

    fn node(&self, i: u32) -> Node {
        self.nodes.get(i as usize).copied().unwrap_or(Node {
            kind: Kind::Null,
            start: 0,
            end: 0,
            next: i.saturating_add(1),
            payload: 0,
        })
    }

    /// The template value of node `i`: scalars directly, strings and containers as handles
    /// (or the converted container, once there is one).
    pub fn value(doc: &Rc<Doc>, i: u32) -> Value {
        let n = doc.node(i);
        match n.kind {
            Kind::Null => Value::Null,
            Kind::True => Value::Bool(true),
            Kind::False => Value::Bool(false),
            Kind::Int => Value::Int(n.payload as i64),
            Kind::Float | Kind::PlainFloat => Value::Float(f64::from_bits(n.payload)),
            Kind::Str | Kind::EscStr => Value::Json(JsonRef {
                doc: doc.clone(),
                node: i,
            }),
            Kind::Arr | Kind::Obj => match doc.converted(i) {
                Some(v) => v,
                None => Value::Json(JsonRef {
                    doc: doc.clone(),
                    node: i,
                }),
            },
        }
    }

    /// The converted container for node `i`, if it has been converted.
    ///
    /// Inlined: it is asked for every container a render reads, and almost always of a
    /// document with nothing converted, where the call cost more than the answer.
    #[inline(always)]
    pub(crate) fn converted(&self, i: u32) -> Option<Value> {
        if !self.converted.get() {
            return None;
        }
        self.converted_entry(i)
    }

    #[inline(never)]
    fn converted_entry(&self, i: u32) -> Option<Value> {
        self.materialized.borrow().get(&i).cloned()
    }

    /// Node `n`'s text in the body: a string's (unescaped) value, a number as written.
    /// Without the two UTF-8 boundary checks of slicing a `str` (a fifth of writing a small
    /// body back as JSON): every node's span starts and ends at an ASCII byte of the body
    /// (a quote, a bracket, a digit or a literal's letter) or at its end.
    #[inline(always)]
    fn source(&self, n: &Node) -> Option<&str> {
        let b = self.source_bytes(n)?;
        debug_assert!(std::str::from_utf8(b).is_ok());
        // SAFETY: `text` is a `str` and the span's ends are at ASCII bytes or its end (see
        // above), so they are char boundaries and the bytes between are whole UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(b) })
    }

    /// The text of string node `n` (without escapes) with its quotes, as the body has
    /// it: a string's span starts after its opening quote and ends at its closing one.
    #[inline(always)]
    fn quoted_source(&self, n: &Node) -> Option<&str> {
        debug_assert!(n.kind == Kind::Str);
        let b = self
            .text
            .as_bytes()
            .get((n.start as usize).wrapping_sub(1)..n.end as usize + 1)?;
        debug_assert!(b.first() == Some(&b'"') && b.last() == Some(&b'"'));
        // SAFETY: as in `source`, and the two bytes added are ASCII quotes.
        Some(unsafe { std::str::from_utf8_unchecked(b) })
    }

    /// [`Self::source`] as bytes, without the two UTF-8 boundary checks of slicing a
    /// `str`: for text that goes to the output or is compared, where a node's span is
    /// whole (a JSON string's contents, or a number's ASCII).
    #[inline(always)]
    fn source_bytes(&self, n: &Node) -> Option<&[u8]> {
        self.text.as_bytes().get(n.start as usize..n.end as usize)
    }

    /// The string value of a string node.
    pub fn str(&self, i: u32) -> &str {
        self.str_of(&self.node(i))
    }

    fn str_of(&self, n: &Node) -> &str {
        match n.kind {
            Kind::Str => self.source(n).unwrap_or(""),
            Kind::EscStr => self
                .text
                .get((n.payload >> 32) as usize..n.payload as u32 as usize)
                .unwrap_or(""),
            _ => "",
        }
    }

    /// What a template prints for node `i`, read off the body without making a value: a
    /// string's value, a boolean, or a number's source text when that is exactly what Java
    /// prints for it (`249.99`, `42`); `None` for anything else (`1.50`, `1e3`, containers...).
    /// Bytes, for output: a string's span is read without the two UTF-8 boundary checks of
    /// slicing a `str` (the span is a whole JSON string, and the output only ever receives
    /// whole strings).
    #[inline]
    pub fn printed_bytes(&self, i: u32) -> Option<&[u8]> {
        let n = self.nodes.get(i as usize)?;
        // Most printed values are strings without escapes: their text, in place.
        if n.kind == Kind::Str {
            return self.source_bytes(n);
        }
        self.printed_other_bytes(n)
    }

    /// [`Self::printed_bytes`] of a node that is not a string without escapes.
    fn printed_other_bytes(&self, n: &Node) -> Option<&[u8]> {
        // Tests in turn rather than a `match` on the kind, which compiled to a jump table.
        // A non-negative integer's text is plain digits without a leading zero (JSON has
        // no other form for it), which is what Java prints; only `-0` needs a look. Number
        // text is ASCII: its bytes are read without the boundary checks of a `str` slice.
        if n.kind == Kind::Int {
            let t = self.source_bytes(n)?;
            if t.first() != Some(&b'-') {
                return Some(t);
            }
        } else if n.kind == Kind::True {
            return Some(b"true");
        } else if n.kind == Kind::False {
            return Some(b"false");
        } else if n.kind == Kind::PlainFloat {
            return self.source_bytes(n);
        }
        self.printed_text_rest(n).map(str::as_bytes)
    }

    /// What [`Self::printed_other_bytes`] leaves: strings (with escapes), negative integers
    /// (`-0` prints `0`), and `None` for null and containers. Out of line, so that function
    /// stays a few tests rather than a jump table.
    #[inline(never)]
    fn printed_text_rest(&self, n: &Node) -> Option<&str> {
        match n.kind {
            Kind::Str | Kind::EscStr => Some(self.str_of(n)),
            Kind::Int => {
                let t = self.source(n)?;
                prints_as_written(t.as_bytes(), false).then_some(t)
            }
            _ => None,
        }
    }

    /// Length of node `i`'s source text.
    pub fn text_len(&self, i: u32) -> usize {
        let n = self.node(i);
        n.end.saturating_sub(n.start) as usize
    }

    pub fn is_null(&self, i: u32) -> bool {
        self.node(i).kind == Kind::Null
    }

    pub fn is_str(&self, i: u32) -> bool {
        matches!(self.node(i).kind, Kind::Str | Kind::EscStr)
    }

    pub fn is_array(&self, i: u32) -> bool {
        self.node(i).kind == Kind::Arr
    }

    pub fn is_object(&self, i: u32) -> bool {
        self.node(i).kind == Kind::Obj
    }

    /// Item or member count of a container.
    pub fn len(&self, i: u32) -> usize {
        let n = self.node(i);
        match n.kind {
            Kind::Arr | Kind::Obj => n.payload as usize,
            _ => 0,
        }
    }

    /// Whether node `i` is an array or an object.
    pub fn is_container(&self, i: u32) -> bool {
        matches!(self.node(i).kind, Kind::Arr | Kind::Obj)
    }

    /// Iterating container `i` in place: from tape position `at` (first `i + 1`), the next
    /// item's node (of an object, the member's value) and the position after it; `None`
    /// past the last.
    #[inline]
    pub fn next_item(&self, i: u32, at: u32) -> Option<(u32, u32)> {
        let n = self.nodes.get(i as usize)?;
        let value = if n.kind == Kind::Obj { at + 1 } else { at };
        if value >= n.next {
            return None;
        }
        let after = self.nodes.get(value as usize)?.next.max(value + 1);
        Some((value, after))
    }

    /// The item nodes of an array.
    pub fn items(&self, i: u32) -> impl Iterator<Item = u32> + '_ {
        let arr = self.is_array(i);
        let mut at = i + 1;
        std::iter::from_fn(move || {
            let (value, next) = self.next_item(i, at).filter(|_| arr)?;
            at = next;
            Some(value)
        })
    }

    /// `(key node, value node)` of an object's members, in document order.
    pub fn members(&self, i: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        let obj = self.is_object(i);
        let mut at = i + 1;
        std::iter::from_fn(move || {
            let (value, next) = self.next_item(i, at).filter(|_| obj)?;
            at = next;
            // A member's key is the one node before its value.
            Some((value - 1, value))
        })
    }

    /// The value node of member `key` of an object.
    pub fn get(&self, obj: u32, key: &str) -> Option<u32> {
        self.get_sig(obj, key, signature(key.as_bytes()))
    }

    /// [`Doc::get`] with the key's [`signature`] computed beforehand (at compile time for
    /// the names a template spells out).
    pub fn get_sig(&self, obj: u32, key: &str, sig: u64) -> Option<u32> {
        let nodes = self.nodes.as_slice();
        let n = nodes.get(obj as usize)?;
        if n.kind != Kind::Obj {
            return None;
        }
        let end = (n.next as usize).min(nodes.len());
        let short = key.len() <= SIG_BYTES;
        let mut at = obj as usize + 1;
        // Bounded: `at` strictly increases up to the object's end.
        while at + 1 < end {
            let k = nodes.get(at)?;
            if k.payload == sig && (short || self.key_eq(k, key.as_bytes())) {
                return Some(at as u32 + 1);
            }
            at = (nodes.get(at + 1)?.next as usize).max(at + 2);
        }
        None
    }

    /// [`Self::get_sig`], trying first the member `*hint` nodes into the object (where the
    /// same lookup found its key in the previous object: the items of a list are mostly the
    /// same shape), and updating the hint. A hint is only a guess: the node must be a key
    /// of this very object and spell `key`.
    #[inline]
    pub fn get_hinted(&self, obj: u32, key: &str, sig: u64, hint: &mut u32) -> Option<u32> {
        if let Some(found) = self.at_hint(obj, key, sig, *hint) {
            return Some(found);
        }
        self.get_and_hint(obj, key, sig, hint)
    }

    /// [`Self::get_sig`], noting in `hint` where the key was found: the lookup
    /// [`Self::get_hinted`] falls back to once the hint did not hold.
    pub fn get_and_hint(&self, obj: u32, key: &str, sig: u64, hint: &mut u32) -> Option<u32> {
        let found = self.get_sig(obj, key, sig)?;
        *hint = found - 1 - obj;
        Some(found)
    }

    /// The value node of member `key` of object `obj` if the hint holds: the key node is
    /// `hint` nodes into the object ([`Self::get_hinted`] without its fallback).
    #[inline(always)]
    pub fn at_hint(&self, obj: u32, key: &str, sig: u64, hint: u32) -> Option<u32> {
        // No test of the hint against 0 ("none yet") nor of the node's kind: at or after
        // `obj`, the nodes whose `next` is `obj` are exactly `obj`'s keys (every other
        // node's `next` is past itself), and a key on a tape is always a `Str` (an escaped
        // key sends the document to serde_json). Hint 0 is `obj` itself, never a key.
        let at = obj as usize + hint as usize;
        if let Some(k) = self.nodes.get(at)
            && k.next == obj
            && k.payload == sig
            && (key.len() <= SIG_BYTES || self.key_eq(k, key.as_bytes()))
        {
            debug_assert!(k.kind == Kind::Str && hint != 0);
            return Some(at as u32 + 1);
        }
        None
    }

    /// Whether key node `k` (whose signature matched: same length and first bytes) spells
    /// `key`. Why inline, with keys of 8 to 16 bytes (most member names) in two overlapping
    /// eight-byte compares: a lookup whose hint holds is little more than this comparison,
    /// and as a call (spilling the caller's registers) it cost as much again.
    #[inline(always)]
    fn key_eq(&self, k: &Node, key: &[u8]) -> bool {
        let Some(text) = self.source_bytes(k) else {
            return false;
        };
        let word = |w: Option<&[u8; 8]>| w.map(|w| u64::from_le_bytes(*w));
        match (word(text.first_chunk()), word(text.last_chunk())) {
            (Some(a), Some(b)) if key.len() <= 16 => {
                text.len() == key.len()
                    && Some(a) == word(key.first_chunk())
                    && Some(b) == word(key.last_chunk())
            }
            _ => key_eq_long(text, key),
        }
    }

    /// Whether no container has been converted (mutable) yet: the tape alone then answers
    /// every lookup.
    pub fn unconverted(&self) -> bool {
        !self.converted.get()
    }

    /// The `index`th item node of an array.
    pub fn item(&self, arr: u32, index: usize) -> Option<u32> {
        self.items(arr).nth(index)
    }

    /// Converts node `i` into an ordinary shared container (or string), registering every
    /// converted container so that aliases and later lookups see the same one.
    pub fn materialize(doc: &Rc<Doc>, i: u32) -> Value {
        Self::materialize_depth(doc, i, 0)
    }

    fn materialize_depth(doc: &Rc<Doc>, i: u32, depth: u32) -> Value {
        if depth > MAX_RENDER_DEPTH {
            return Value::Null;
        }
        let n = doc.node(i);
        match n.kind {
            Kind::Str | Kind::EscStr => Value::str(doc.str(i)),
            Kind::Arr => {
                if let Some(v) = doc.converted(i) {
                    return v;
                }
                let items = doc
                    .items(i)
                    .map(|c| Self::materialize_depth(doc, c, depth + 1))
                    .collect();
                let v = Value::new_list(items, true);
                doc.materialized.borrow_mut().insert(i, v.clone());
                doc.converted.set(true);
                v
            }
            Kind::Obj => {
                if let Some(v) = doc.converted(i) {
                    return v;
                }
                let mut e = Entries::with_capacity_and_hasher(
                    n.payload as usize,
                    super::value::MapState::default(),
                );
                for (k, c) in doc.members(i) {
                    e.insert(
                        Rc::from(doc.str(k)),
                        Self::materialize_depth(doc, c, depth + 1),
                    );
                }
                let v = Value::new_map(e, MapKind::Plain);
                doc.materialized.borrow_mut().insert(i, v.clone());
                doc.converted.set(true);
                v
            }
            _ => Self::value(doc, i),
        }
    }

    /// A scalar node as JSON (a string with its quotes; `null` for anything else).
    #[inline(always)]
    fn write_json_scalar(&self, n: &Node, i: u32, out: &mut String) {
        // Tests in turn, not a `match` (a jump table: an indirect jump per node).
        if n.kind == Kind::Str {
            // An unescaped JSON string is already in the form `json_string` writes: its
            // text with the quotes around it, copied as one piece.
            match self.quoted_source(n) {
                Some(q) => append_str(out, q),
                None => append_quoted(out, self.source(n).unwrap_or("")),
            }
        } else if n.kind == Kind::Int {
            append_str(out, itoa::Buffer::new().format(n.payload as i64));
        } else {
            self.write_json_other(n, i, out);
        }
    }

    /// The scalars [`Self::write_json_scalar`] leaves out of line.
    fn write_json_other(&self, n: &Node, i: u32, out: &mut String) {
        match n.kind {
            Kind::True => out.push_str("true"),
            Kind::False => out.push_str("false"),
            Kind::PlainFloat => append_str(out, self.source(n).unwrap_or("")),
            Kind::Float => {
                let f = f64::from_bits(n.payload);
                if f.is_finite() {
                    java_double(f, out);
                } else {
                    out.push_str("null");
                }
            }
            Kind::EscStr => json_string(self.str(i), out),
            _ => out.push_str("null"),
        }
    }

    /// [`Self::write_json`] of a document nothing has converted: straight down the tape,
    /// each node read once, without a value per node. Returns the node after `i`'s
    /// subtree (always past `i`, so the loops over members end).
    fn write_json_tape(&self, i: u32, out: &mut String, depth: u32) -> u32 {
        let after = i.saturating_add(1);
        let Some(n) = self.nodes.get(i as usize) else {
            return after;
        };
        // Past the subtree: `after` for a scalar (its `next` is the node after it; a key's
        // is its object, before it).
        let end = n.next.max(after);
        if depth > MAX_RENDER_DEPTH {
            out.push_str("null");
            return end;
        }
        match n.kind {
            Kind::Arr => {
                out.push('[');
                let mut c = after;
                while c < end {
                    if c > after {
                        out.push(',');
                    }
                    c = self.write_json_item(c, out, depth + 1).max(c + 1);
                }
                out.push(']');
                end
            }
            Kind::Obj => {
                out.push('{');
                // Members are a key node (one node; its `next` is the object) and a value.
                let mut c = after;
                while c.saturating_add(1) < end {
                    if c > after {
                        out.push(',');
                    }
                    if let Some(k) = self.nodes.get(c as usize) {
                        self.write_json_scalar(k, c, out);
                    }
                    out.push(':');
                    c = self.write_json_item(c + 1, out, depth + 1).max(c + 2);
                }
                out.push('}');
                end
            }
            _ => {
                self.write_json_scalar(n, i, out);
                after
            }
        }
    }

    /// An item or member value of a container for [`Self::write_json_tape`]: a scalar
    /// (most of them) is written here, without a call per node.
    #[inline(always)]
    fn write_json_item(&self, i: u32, out: &mut String, depth: u32) -> u32 {
        // Past the depth limit everything is `null`, as in the tree: `write_json_tape`
        // writes it.
        if depth > MAX_RENDER_DEPTH {
            return self.write_json_tape(i, out, depth);
        }
        match self.nodes.get(i as usize) {
            Some(n) if !matches!(n.kind, Kind::Arr | Kind::Obj) => {
                self.write_json_scalar(n, i, out);
                i + 1
            }
            // An empty container (its subtree is itself), without the call.
            Some(n) if n.next == i + 1 => {
                out.push_str(if n.kind == Kind::Obj { "{}" } else { "[]" });
                i + 1
            }
            _ => self.write_json_tape(i, out, depth),
        }
    }

    /// [`Self::write_java`] of a document nothing has converted, like
    /// [`Self::write_json_tape`]; what each node prints is what its value's
    /// `Value::write_java` prints.
    fn write_java_tape(&self, i: u32, out: &mut String, nested: bool, depth: u32) -> u32 {
        let after = i.saturating_add(1);
        let Some(n) = self.nodes.get(i as usize) else {
            return after;
        };
        // Past the subtree: `after` for a scalar (its `next` is the node after it; a key's
        // is its object, before it).
        let end = n.next.max(after);
        if depth > MAX_RENDER_DEPTH {
            return end;
        }
        match n.kind {
            Kind::Null => {
                if nested {
                    out.push_str("null");
                }
                after
            }
            Kind::True => {
                out.push_str("true");
                after
            }
            Kind::False => {
                out.push_str("false");
                after
            }
            Kind::Int => {
                out.push_str(itoa::Buffer::new().format(n.payload as i64));
                after
            }
            Kind::Float => {
                java_double(f64::from_bits(n.payload), out);
                after
            }
            Kind::PlainFloat => {
                append_str(out, self.source(n).unwrap_or(""));
                after
            }
            Kind::Str | Kind::EscStr => {
                append_str(out, self.str(i));
                after
            }
            // A list from JSON prints as JSON.
            Kind::Arr => self.write_json_tape(i, out, depth),
            Kind::Obj => {
                out.push('{');
                let mut c = after;
                while c.saturating_add(1) < end {
                    if c > after {
                        out.push_str(", ");
                    }
                    append_str(out, self.str(c));
                    out.push('=');
                    c = self.write_java_tape(c + 1, out, true, depth + 1).max(c + 2);
                }
                out.push('}');
                end
            }
        }
    }

    pub fn write_json(doc: &Rc<Doc>, i: u32, out: &mut String, depth: u32) {
        if doc.unconverted() {
            doc.write_json_tape(i, out, depth);
            return;
        }
        if depth > MAX_RENDER_DEPTH {
            out.push_str("null");
            return;
        }
        let n = doc.node(i);
        match n.kind {
            Kind::Arr | Kind::Obj => {
                if let Some(v) = doc.converted(i) {
                    v.write_json(out, depth);
                    return;
                }
                if n.kind == Kind::Arr {
                    out.push('[');
                    for (k, c) in doc.items(i).enumerate() {
                        if k > 0 {
                            out.push(',');
                        }
                        Self::write_json(doc, c, out, depth + 1);
                    }
                    out.push(']');
                } else {
                    out.push('{');
                    for (k, (key, c)) in doc.members(i).enumerate() {
                        if k > 0 {
                            out.push(',');
                        }
                        Self::write_json(doc, key, out, depth + 1);
                        out.push(':');
                        Self::write_json(doc, c, out, depth + 1);
                    }
                    out.push('}');
                }
            }
            _ => doc.write_json_scalar(&n, i, out),
        }
    }

    /// Java `toString()` of node `i` as API Gateway renders it (see [`Value::write_display`]):
    /// strings raw, arrays as compact JSON, objects as `{k=v, ...}`.
    pub fn write_java(doc: &Rc<Doc>, i: u32, out: &mut String, nested: bool, depth: u32) {
        if doc.unconverted() {
            doc.write_java_tape(i, out, nested, depth);
            return;
        }
        if depth > MAX_RENDER_DEPTH {
            return;
        }
        let n = doc.node(i);
        match n.kind {
            Kind::Str | Kind::EscStr => out.push_str(doc.str(i)),
            Kind::Arr => Self::write_json(doc, i, out, depth),
            Kind::Obj => {
                if let Some(v) = doc.converted(i) {
                    v.write_java(out, nested, depth);
                    return;
                }
                out.push('{');
                for (k, (key, c)) in doc.members(i).enumerate() {
                    if k > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(doc.str(key));
                    out.push('=');
                    Self::value(doc, c).write_java(out, true, depth + 1);
                }
                out.push('}');
            }
            _ => Self::value(doc, i).write_java(out, nested, depth),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// A xorshift64 stream from a fixed seed: generated cases are the same on every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn json(text: &str) -> String {
        let v = parse_value(text.as_bytes()).unwrap();
        let mut s = String::new();
        v.write_json(&mut s, 0);
        s
    }

    fn java(text: &str) -> String {
        parse_value(text.as_bytes())
            .unwrap()
            .to_display()
            .to_string()
    }

    #[test]
    fn accepts_and_rejects_what_serde_json_does() {
        let cases = [
            "{}",
            "[]",
            " {\"a\" : [1, 2.5, -0, 1e3, true, false, null, \"x\\u00e9\\n\"]} ",
            "01",
            "[1,]",
            "{\"a\":1,}",
            "\"\u{1}\"",
            "\"\\ud800\"",
            "\"\\ud83d\\ude00\"",
            "1e400",
            "123456789012345678901234567890",
            "18446744073709551615",
            "-9223372036854775808",
            "[1 2]",
            "nul",
            "\"abc",
            "{\"a\" 1}",
            "-",
            "1.",
            "tru",
            "[\"a\\\"b\"]",
            "\"\\q\"",
            "[-0, 0.5, -0.50, 123456789012345678, -123456789012345678, 0]",
            "[1234567890123456789, 0e1, 1E+2, 2.5e-3, -0.0, 10, -10.25]",
            "00",
            "-01",
            "1.0e",
            "--1",
            "1-2",
            "0.",
            "[0-1]",
            "[1.2.3]",
            "-0",
            "\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"",
            "\"\\u00e9\\n\\ud83d\\ude00\"",
            "\"x\\\"",
            "\"\\\u{e9}\"",
            "\"\\ud800x\"",
            "\"\\\\\"",
            // Escapes before, across and after 16-byte blocks, and a raw control character
            // after an escape (scanned on the escaped-string path).
            "\"0123456789abcdef\\n0123456789abcdef\\\"xyz\"",
            "\"\\t0123456789abcdefghij\\\\\"",
            "\"0123456789abcde\\\"0123456789abcde\\u00e9\"",
            "\"a\\nb\u{1}c\"",
            "\"0123456789abcdef\\n0123456789\u{1f}abcdef\"",
            "\"0123456789abcdef\\n0123456789abcdef",
            "\"\\n",
            "{\"k\": \"v\\\"w\", \"j\": \"\\/\\/\"}",
            "\"0123456789abcdef\u{1f}x\"",
            "\"0123456\u{7}\"",
            "\"01234567\\\"89abcdefghij\"",
            "{\"long key with spaces\":\n        \"v\",\n\t \"k\" : [ ]\r\n}",
            "\"caf\u{e9} \u{1f600} \u{7f}\"",
            "[\"abcdefgh\", \"\", \"\\u00e9\"]",
            "[[],{}]",
            "{\"a\":{}}",
            " [ {} , [ ] ] ",
            "[[1,[2,{\"b\":[3]}]],4]",
            "{\"a\":[],}",
            "[,1]",
            "{,}",
            "{\"a\":1 \"b\":2}",
            "[1]]",
            "{\"a\":1}}",
            "[}",
            "{]",
            "{\"a\"}",
            "{\"a\":}",
            "{1:2}",
            "[1,{\"a\":[true,{\"b\":null}]},\"c\"]",
        ];
        for c in cases {
            agrees_with_serde_json(c.as_bytes());
        }
    }

    /// Requires our parse of `doc` to accept what serde_json accepts, and to give the same
    /// JSON and the same Java rendering (`toString()`, a map printed in a template).
    fn agrees_with_serde_json(doc: &[u8]) {
        let ours = parse_value(doc);
        let theirs = serde_json::from_slice::<serde_json::Value>(doc)
            .ok()
            .map(|v| Value::from_json(&v));
        let text = String::from_utf8_lossy(doc);
        assert_eq!(ours.is_some(), theirs.is_some(), "{text}");
        if let (Some(a), Some(b)) = (ours, theirs) {
            let (mut x, mut y) = (String::new(), String::new());
            a.write_json(&mut x, 0);
            b.write_json(&mut y, 0);
            assert_eq!(x, y, "{text}");
            assert_eq!(a.to_display(), b.to_display(), "{text}");
        }
    }

    /// Mutations of nested documents (bytes dropped, repeated or swapped for structural
    /// characters) are accepted and rejected as serde_json does, and read back the same.
    #[test]
    fn mutated_documents_agree_with_serde_json() {
        let seeds = [
            r#"{"a":[1,{"b":[],"c":{}},"x"],"d":{"e":[[2],[3,4]],"f":null},"g":-1.5}"#,
            r#"[{"id":1,"type":"dog","price":249.99},{"id":2,"type":"cat"},[],{}]"#,
            r#"{"k": [ true , false ] , "l" : { "m" : [ { } ] } }"#,
            "{\n  \"a\" : [ 1.50, 1e3, 0.0001, -0, 12.5 ],\n\t\"b\": \"x y\\n\u{e9}\" }",
            "[ \"\\u00e9 \\/\", {\"s\" : \" \\\" \"} , 7 ]",
            "{ \"\u{e9} k\" : [ 1, 2.5, \"a b\", -3 ],\n  \"c\" :\t{ \"d\": null } }",
            // Pretty-printed members in a repeated layout: the parser guesses where the
            // next key is from where the last one was; edits make the guess wrong.
            "{\n  \"a\": 1,\n  \"b\": \"x\",\n  \"c\": [1, 2],\n  \"d\": {\n    \"e\": null,\n    \"f\": true\n  },\n  \"g\": \"h\",\n  \"i\": 0\n}",
            "[\n  {\n    \"id\": 1,\n    \"type\": \"dog\",\n    \"price\": 249.99\n  },\n  {\n    \"id\": 2,\n    \"type\": \"cat\",\n    \"price\": 0.5\n  }\n]",
            // Empty containers, and ones with blanks inside.
            r#"{"a":{},"b":[],"c":[{},[]],"d":{ },"e":[ ],"f":[[[]]],"g":{"h":{}}}"#,
            // CRLF and tabs; and members indented too deep for a learned layout (16 bytes).
            "{\r\n\t\"a\": 1,\r\n\t\"b\": {\r\n\t\t\"c\": 2,\r\n\t\t\"d\": 3\r\n\t},\r\n\t\"e\": 4\r\n}",
            "{\"a\": {\n                \"b\": 1,\n                \"c\": 2,\n                \"d\": [3]\n}}",
        ];
        let alphabet = b"{}[],: \"0a-.e\\t";
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut next = |n: usize| rng.below(n);
        for round in 0..20_000 {
            let mut doc = seeds[round % seeds.len()].as_bytes().to_vec();
            for _ in 0..1 + next(3) {
                let at = next(doc.len());
                match next(3) {
                    0 => {
                        doc.remove(at);
                    }
                    1 => doc.insert(at, alphabet[next(alphabet.len())]),
                    _ => doc[at] = alphabet[next(alphabet.len())],
                }
                if doc.is_empty() {
                    break;
                }
            }
            agrees_with_serde_json(&doc);
        }
    }

    #[test]
    fn escaped_strings_agree_with_serde_json() {
        // JSON-in-JSON and the rest: runs of every length (across the 16-byte blocks the
        // decoder stores) between escapes of every kind, several strings per document
        // (decoded one after another), and the escapes serde_json has to decide.
        let escapes = [
            "\\\"",
            "\\\\",
            "\\/",
            "\\b",
            "\\f",
            "\\n",
            "\\r",
            "\\t",
            "\\u00e9",
            "\\ud83d\\ude00",
            "\\x",
            "\\u12",
            "\u{1}",
        ];
        let mut rng = Rng(0x5851_f42d_4c95_7f2d);
        for round in 0..3_000 {
            let mut strings = Vec::new();
            for _ in 0..1 + rng.below(3) {
                let mut s = String::new();
                for _ in 0..rng.below(6) {
                    for _ in 0..rng.below(40) {
                        s.push(if rng.below(8) == 0 { '\u{e9}' } else { 'a' });
                    }
                    // The rare ones (invalid escapes, a raw control character) less often.
                    let e = if rng.below(10) == 0 {
                        rng.below(escapes.len())
                    } else {
                        rng.below(escapes.len() - 3)
                    };
                    s.push_str(escapes[e]);
                }
                strings.push(format!("\"{s}\""));
            }
            let doc = if round % 2 == 0 {
                format!("[{}]", strings.join(", "))
            } else {
                let members: Vec<String> = strings
                    .iter()
                    .enumerate()
                    .map(|(k, s)| format!("\"k{k}\": {s}"))
                    .collect();
                format!("{{{}}}", members.join(",\n  "))
            };
            agrees_with_serde_json(doc.as_bytes());
        }
    }

    #[test]
    fn decimals_and_keys_agree_with_serde_json() {
        let mut cases: Vec<String> = [
            "249.99",
            "-0.0",
            "0.5",
            "-12.250",
            "123456789.123456789",
            "1234567890.12345678",
            "0.000001",
            "00.5",
            "1.5e3",
            "9007199254740993.5",
            "0.1",
            "-0.30000000000000004",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut rng = Rng(88172645463325252);
        for _ in 0..20_000 {
            let x = rng.next();
            let int = x % 10_000_000;
            let frac_len = (x >> 40) % 12 + 1;
            let frac = (x >> 8) % 10u64.pow(frac_len as u32);
            cases.push(format!("{int}.{frac:0w$}", w = frac_len as usize));
        }
        for c in &cases {
            let ours = parse_value(c.as_bytes());
            let theirs = serde_json::from_str::<serde_json::Value>(c)
                .ok()
                .map(|v| Value::from_json(&v));
            match (ours, theirs) {
                (Some(Value::Float(a)), Some(Value::Float(b))) => {
                    assert_eq!(a.to_bits(), b.to_bits(), "{c}")
                }
                (a, b) => assert_eq!(a.is_some(), b.is_some(), "{c}"),
            }
        }
        // Same length and first bytes (one signature) without being equal, then equal.
        let t = r#"{"abcdefgh": 1, "abcdefgi": 2, "a": 3, "b": 4, "c": 5}"#;
        assert!(matches!(parse(t.as_bytes()), Parsed::Value(_)));
        for n in [2, 9, 16, 17, 30] {
            let mut keys: Vec<String> = (0..n).map(|i| format!("\"key{i}\": {i}")).collect();
            assert!(matches!(
                parse(format!("{{{}}}", keys.join(",")).as_bytes()),
                Parsed::Value(_)
            ));
            keys.push(format!("\"key{}\": 0", n / 2));
            assert!(
                matches!(
                    parse(format!("{{{}}}", keys.join(",")).as_bytes()),
                    Parsed::Fallback
                ),
                "{n}"
            );
        }
    }

    #[test]
    fn documents_are_reused_only_once_nothing_holds_them() {
        let root = |v: &Option<Value>| match v {
            Some(Value::Json(j)) => Rc::as_ptr(&j.doc),
            _ => panic!("not a document"),
        };
        let held = parse_value(br#"{"a": "held"}"#);
        let held_doc = root(&held);
        // Still held: the next parse gets another document, and the held one is intact.
        let other = parse_value(br#"{"a": "other"}"#);
        assert_ne!(root(&other), held_doc);
        let other_doc = root(&other);
        drop(other);
        let again = parse_value(br#"{"b": [1, 2]}"#);
        assert_eq!(root(&again), other_doc, "a free document is reused");
        let mut printed = String::new();
        held.unwrap().write_display(&mut printed);
        assert_eq!(printed, "{a=held}");
        let mut printed = String::new();
        again.unwrap().write_display(&mut printed);
        assert_eq!(printed, "{b=[1,2]}");
    }

    #[test]
    fn a_reused_document_forgets_what_was_converted_in_it() {
        let first = parse_value(br#"{"a": {"b": 1}}"#);
        let Some(Value::Json(j)) = &first else {
            panic!("not a document");
        };
        let doc = Rc::as_ptr(&j.doc);
        // Converted in place, as `$map.put` on the root would.
        let converted = Doc::materialize(&j.doc, 0);
        assert!(!j.doc.unconverted());
        drop(converted);
        drop(first);
        let again = parse_value(br#"{"a": {"c": 2}}"#);
        let Some(Value::Json(j)) = &again else {
            panic!("not a document");
        };
        assert_eq!(Rc::as_ptr(&j.doc), doc, "the free document is reused");
        assert!(j.doc.unconverted(), "its converted containers are gone");
        let mut printed = String::new();
        if let Some(v) = &again {
            v.write_display(&mut printed);
        }
        assert_eq!(printed, "{a={c=2}}");
    }

    #[test]
    fn a_thread_keeps_a_bounded_number_of_documents() {
        // Held documents are never reused; the list stays bounded however many there are.
        let held: Vec<_> = (0..3 * scratch::MAX_SPARES)
            .map(|k| parse_value(format!(r#"{{"k": {k}}}"#).as_bytes()))
            .collect();
        assert!(DOCS.with(|d| d.borrow().len()) <= scratch::MAX_SPARES);
        for (k, v) in held.iter().enumerate() {
            let mut printed = String::new();
            if let Some(v) = v {
                v.write_display(&mut printed);
            }
            assert_eq!(printed, format!("{{k={k}}}"));
        }
    }

    #[test]
    fn the_ascii_check_agrees_with_std() {
        // Every length across the 64- and 16-byte rounds, with a non-ASCII byte (a valid
        // two-byte sequence, or an invalid byte) at every position.
        for len in 0..140 {
            let ascii = vec![b'a'; len];
            assert_eq!(utf8(&ascii), std::str::from_utf8(&ascii).ok(), "{len}");
            for at in 0..len {
                for bad in [&[0xc3u8, 0xa9][..], &[0xff][..]] {
                    let mut text = ascii.clone();
                    text.splice(at..at + 1, bad.iter().copied());
                    assert_eq!(utf8(&text), std::str::from_utf8(&text).ok(), "{len} {at}");
                }
            }
        }
    }

    #[test]
    fn every_byte_is_classed_as_a_string_stop_or_not() {
        for b in 0..=255u8 {
            let mut chunk = [b'a'; 16];
            chunk[b as usize % 16] = b;
            let want = if is_string_stop(b) { 1 << (b % 16) } else { 0 };
            assert_eq!(stop_bits16(&chunk), want, "{b:#04x}");
        }
    }

    #[test]
    fn block_scans_agree_with_bytewise_scans() {
        let alphabet = b"ab \"\\\n\t\x00\x01\x1f\x7f\x80\xe9 ";
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..5_000 {
            let text: Vec<u8> = (0..40)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            for i in 0..text.len() {
                let spaces = text[i..].iter().take_while(|&&c| c == b' ').count();
                if let Some(chunk) = text.get(i..i + 16) {
                    let chunk: &[u8; 16] = chunk.try_into().unwrap();
                    let stops = (0..16)
                        .filter(|&k| is_string_stop(chunk[k]))
                        .fold(0u32, |bits, k| bits | 1 << k);
                    assert_eq!(stop_bits16(chunk), stops, "{chunk:?}");
                    assert_eq!(spaces16(chunk), spaces.min(16));
                    let other: &[u8; 16] = text[(i * 7) % 24..][..16].try_into().unwrap();
                    let eq = (0..16)
                        .filter(|&k| chunk[k] == other[k])
                        .fold(0u32, |bits, k| bits | 1 << k);
                    assert_eq!(eq_bits16(chunk, other), eq);
                }
                match spaces8(&text, i) {
                    Some(n) => assert_eq!(n, spaces.min(8)),
                    None => assert!(i + 8 > text.len()),
                }
            }
        }
    }

    #[test]
    fn window_scans_agree_with_bytewise_scans() {
        // As the parser uses a window: lookups at rising positions, some within the window
        // found last, some just past it, some far after it. Sparse stops make most
        // lookups cross into the next window; dense ones keep them in one.
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..4_000 {
            let alphabet: &[char] = if round % 2 == 0 {
                &['a', 'b', ' ', 'é']
            } else {
                &['a', '"', '\\', '\n', ' ', 'é']
            };
            let len = rng.below(100);
            let body: String = (0..len)
                .map(|_| {
                    if rng.below(40) == 0 {
                        '"'
                    } else {
                        alphabet[rng.below(alphabet.len())]
                    }
                })
                .collect();
            let mut text = body.clone();
            let p = Padded::new(&mut text);
            let mut win = Window::NONE;
            let mut j = 0;
            while j <= body.len() {
                let want = body.as_bytes()[j..]
                    .iter()
                    .position(|&c| is_string_stop(c))
                    .map_or(body.len(), |k| j + k);
                assert_eq!(win.stop(p, j), want, "{body:?} at {j}");
                j = match rng.below(3) {
                    0 => want + 1,
                    1 => j + 1,
                    _ => j + 1 + rng.below(40),
                };
            }
        }
    }

    #[test]
    fn padded_scans_stop_at_the_end_of_the_body() {
        // Every scan run from every position of a body ends at or before its end: the
        // invariant that makes the unchecked reads safe (debug builds assert it too).
        for body in [
            "", "\"", "\"abc", "   ", "\n      ", "12345", "\"a\\", "tru",
        ] {
            let mut text = body.to_string();
            let p = Padded::new(&mut text);
            for i in 0..=body.len() {
                let mut win = Window::NONE;
                assert!(win.stop(p, i) <= body.len(), "{body:?} {i}");
                assert!(ws_at(p, i) <= body.len(), "{body:?} {i}");
            }
        }
        assert!(matches!(parse(b"\"a\\"), Parsed::Invalid));
        assert!(matches!(parse(b"[1,\"\\u00"), Parsed::Invalid));
        assert!(matches!(parse(b"1\0"), Parsed::Invalid));
        assert!(matches!(parse(b"\"\0\""), Parsed::Invalid));
    }

    #[test]
    fn keys_of_every_length_are_signed_as_lookups_sign_them() {
        // The parser signs a key from a 16-byte block (`signature_of`); lookups sign the
        // template's name bytewise (`signature`). Both sides, every length, both paths.
        for len in 0..40 {
            let key: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            let text = format!("{{\"{key}\": 1, \"{key}x\": 2}}");
            let Some(Value::Json(j)) = parse_value(text.as_bytes()) else {
                panic!("{text} did not parse");
            };
            let k = j.doc.node(j.node + 1);
            assert_eq!(k.payload, signature(key.as_bytes()), "{len}");
            let found = j.doc.get(j.node, &key).map(|v| j.doc.node(v).payload);
            assert_eq!(found, Some(1), "{len}");
        }
    }

    #[test]
    fn keys_that_share_a_signature_are_told_apart() {
        // Same length and first bytes (the signature), one byte apart anywhere after them:
        // the eight-byte compares of short keys and the loop of long ones must both see it.
        for len in SIG_BYTES + 1..=26 {
            let base: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            for at in SIG_BYTES..len {
                let other = |c: char| {
                    let mut k = base.clone().into_bytes();
                    k[at] = c as u8;
                    String::from_utf8(k).unwrap()
                };
                let (near, missing) = (other('_'), other('-'));
                let text = format!("{{\"{near}\": 1, \"{base}\": 2}}");
                let Some(Value::Json(j)) = parse_value(text.as_bytes()) else {
                    panic!("{text} did not parse");
                };
                let value = |key: &str| {
                    let sig = signature(key.as_bytes());
                    let mut hint = 1;
                    let hinted = j.doc.get_hinted(j.node, key, sig, &mut hint);
                    assert_eq!(hinted, j.doc.get(j.node, key), "{key}");
                    hinted.map(|v| j.doc.node(v).payload)
                };
                assert_eq!(value(&base), Some(2), "{len} {at}");
                assert_eq!(value(&near), Some(1), "{len} {at}");
                assert_eq!(value(&missing), None, "{len} {at}");
            }
        }
    }

    #[test]
    fn nesting_limit_matches_serde_json() {
        for depth in [126, 127, 128, 129] {
            let s = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            assert_eq!(
                parse_value(s.as_bytes()).is_some(),
                serde_json::from_str::<serde_json::Value>(&s).is_ok(),
                "{depth}"
            );
        }
    }

    #[test]
    fn numbers_printed_from_the_text_print_as_java_would() {
        let mut cases: Vec<String> = [
            "249.99",
            "0.99",
            "-0.0",
            "0.0",
            "-0",
            "0",
            "42",
            "-42",
            "5.0",
            "5.00",
            "1.50",
            "0.001",
            "0.0009",
            "0.0010",
            "1e3",
            "1.5E2",
            "9999999.5",
            "10000000.5",
            "123456789012345.6",
            "12345.6789012345",
            "1234.56789012345678",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "0.30000000000000004",
            "100",
            "1000000.0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..50_000 {
            let x = rng.next();
            let int = match x % 4 {
                0 => 0,
                1 => (x >> 3) % 100,
                2 => (x >> 5) % 100_000_000,
                _ => x >> 11,
            };
            let frac_len = (x >> 40) % 18;
            let frac = (x >> 8) % 10u64.pow(frac_len.min(17) as u32).max(1);
            let sign = if (x >> 60) & 1 == 1 { "-" } else { "" };
            cases.push(if frac_len == 0 {
                format!("{sign}{int}")
            } else {
                format!("{sign}{int}.{frac:0w$}", w = frac_len as usize)
            });
        }
        let mut fast = 0;
        for c in &cases {
            let text = format!("[{c}]");
            let Some(Value::Json(j)) = parse_value(text.as_bytes()) else {
                panic!("{text} did not parse");
            };
            let item = j.doc.item(j.node, 0).unwrap_or(0);
            // The parser's flag is the check on the text, for every float.
            let kind = j.doc.node(item).kind;
            if matches!(kind, Kind::Float | Kind::PlainFloat) {
                assert_eq!(
                    kind == Kind::PlainFloat,
                    prints_as_written(c.as_bytes(), true),
                    "{c}"
                );
            }
            let mut java = String::new();
            Doc::value(&j.doc, item).write_display(&mut java);
            if let Some(t) = j.doc.printed_bytes(item) {
                assert_eq!(t, java.as_bytes(), "{c}");
                fast += 1;
            }
        }
        // Most plain decimals take the fast path; the test would be empty otherwise.
        assert!(fast > cases.len() / 3, "{fast} of {}", cases.len());
    }

    #[test]
    fn renders_like_the_owned_tree() {
        assert_eq!(
            json("{\n \"a\" : [1, {\"b\": \"c\\/d\"}], \"n\": null, \"f\": 2.50}"),
            r#"{"a":[1,{"b":"c/d"}],"n":null,"f":2.5}"#
        );
        assert_eq!(
            java(r#"{"foo": [{"nested": "bar"}], "n": null, "x": 1.5, "o": {"k": "v"}}"#),
            r#"{foo=[{"nested":"bar"}], n=null, x=1.5, o={k=v}}"#
        );
        assert_eq!(java(r#""plain""#), "plain");
    }

    /// Near the rendering depth limit the tape writers cut off where the converted tree
    /// does (a body nested inside VTL maps starts deep).
    #[test]
    fn the_tape_writers_stop_at_the_depth_limit_like_the_tree() {
        let text = format!(
            "{}{}{}",
            r#"{"a":[1,"s",{"b":"#.repeat(6),
            // Empty containers are written without a call: cut off the same way.
            r#"[{},[],{"c":{}},null]"#,
            "}]}".repeat(6)
        );
        // Every start from where nothing is cut to where everything is.
        for start in std::iter::once(0).chain(MAX_RENDER_DEPTH - 22..=MAX_RENDER_DEPTH) {
            let Some(Value::Json(j)) = parse_value(text.as_bytes()) else {
                panic!("not a document");
            };
            let (mut tape_json, mut tape_java) = (String::new(), String::new());
            Doc::write_json(&j.doc, j.node, &mut tape_json, start);
            Doc::write_java(&j.doc, j.node, &mut tape_java, false, start);
            // Converting the root makes every writer take the tree's way.
            let tree = Doc::materialize(&j.doc, j.node);
            assert!(!j.doc.unconverted());
            let (mut tree_json, mut tree_java) = (String::new(), String::new());
            tree.write_json(&mut tree_json, start);
            tree.write_java(&mut tree_java, false, start);
            assert_eq!(tape_json, tree_json, "from depth {start}");
            assert_eq!(tape_java, tree_java, "from depth {start}");
        }
    }

    #[test]
    fn duplicate_and_escaped_keys_fall_back() {
        assert!(matches!(parse(br#"{"a":1,"a":2}"#), Parsed::Fallback));
        assert!(matches!(parse(br#"{"\u0061":1}"#), Parsed::Fallback));
        assert_eq!(json(r#"{"a":1,"b":2,"a":3}"#), r#"{"a":3,"b":2}"#);
        let many: Vec<String> = (0..40).map(|i| format!("\"k{}\":{i}", i % 39)).collect();
        assert!(matches!(
            parse(format!("{{{}}}", many.join(",")).as_bytes()),
            Parsed::Fallback
        ));
        // Larger objects are checked when they close: keys that share a signature (one
        // length, same first bytes) are told apart by their text, and a repeat is found
        // wherever it is.
        let object = |keys: &[String]| {
            let members: Vec<String> = keys.iter().map(|k| format!("\"{k}\": 1")).collect();
            format!("{{{}}}", members.join(", "))
        };
        let alike: Vec<String> = (0..300).map(|i| format!("field_{i:06}")).collect();
        assert!(matches!(parse(object(&alike).as_bytes()), Parsed::Value(_)));
        for at in [0, 17, 150, 298] {
            let mut repeated = alike.clone();
            repeated.push(alike[at].clone());
            assert!(
                matches!(parse(object(&repeated).as_bytes()), Parsed::Fallback),
                "repeat of key {at}"
            );
        }
    }

    #[test]
    fn lookups_and_conversion_share_one_container() {
        let Some(Value::Json(root)) = parse_value(br#"{"a": {"b": [1, 2]}, "s": "x"}"#) else {
            panic!("not a handle");
        };
        let a = root.doc.get(root.node, "a").unwrap();
        let b = root.doc.get(a, "b").unwrap();
        assert_eq!(root.doc.items(b).count(), 2);
        assert_eq!(root.doc.str(root.doc.get(root.node, "s").unwrap()), "x");
        let converted = Doc::materialize(&root.doc, a);
        let Value::Map(m) = &converted else {
            panic!("not a map")
        };
        m.entries.borrow_mut().insert("z".into(), Value::Int(9));
        // A later lookup through the document sees the converted, mutated map.
        let again = Doc::value(&root.doc, a);
        assert_eq!(&*again.to_display(), r#"{b=[1,2], z=9}"#);
        let mut s = String::new();
        Value::Json(root).write_json(&mut s, 0);
        assert_eq!(s, r#"{"a":{"b":[1,2],"z":9},"s":"x"}"#);
    }

    #[test]
    fn member_hints_are_only_guesses() {
        // Same-named keys nested at every depth, long keys that share a signature, and
        // items of different shapes: every hint, right or wrong, gives what a plain lookup
        // gives.
        let text = br#"[{"id": 1, "a": {"id": 2, "x": "id"}, "long_key_one": 3},
                        {"a": {"id": 4}, "id": 5, "long_key_two": 6, "long_key_one": 7},
                        {"x": {"a": 1}, "long_key_one": [{"id": 8}]}, {}, {"id": {"id": 9}}]"#;
        let Some(Value::Json(root)) = parse_value(text) else {
            panic!("not a handle");
        };
        let doc = &root.doc;
        let objects: Vec<u32> = (0..doc.nodes.len() as u32)
            .filter(|&i| doc.is_object(i))
            .collect();
        for key in ["id", "a", "x", "long_key_one", "long_key_two", "missing"] {
            let sig = signature(key.as_bytes());
            for &obj in &objects {
                let want = doc.get_sig(obj, key, sig);
                for guess in 0..doc.nodes.len() as u32 + 2 {
                    let mut hint = guess;
                    assert_eq!(
                        doc.get_hinted(obj, key, sig, &mut hint),
                        want,
                        "{key} {obj} {guess}"
                    );
                    if let Some(found) = want {
                        assert_eq!(obj + hint + 1, found);
                    }
                }
            }
        }
    }
}
