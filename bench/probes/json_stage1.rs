//! Probe: how long a simdjson-style first stage (a structural index) takes over one JSON
//! body, to judge whether a two-stage parser could beat `json_doc.rs`'s one-pass tape
//! builder on the bodies templates read. Not part of the build (`autobenches = false`);
//! run it by hand, see docs/benchmarks.md ("The eighteenth pass's code on another
//! machine"):
//!
//! ```console
//! $ rustc -O --edition 2021 bench/probes/json_stage1.rs -o /tmp/json_stage1
//! $ python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["integration_response"]["body"], end="")' \
//!     tests/conformance/vtl/056-doc-employee-output-mapping-template.json > /tmp/056.json
//! $ /tmp/json_stage1 /tmp/056.json
//! ```
//!
//! Per 64-byte block it classifies quotes, backslashes, the six structural bytes and
//! whitespace (SSE2: byte compares; AVX2, when the CPU has it: simdjson's nibble-table
//! lookup), drops escaped quotes (simdjson's odd-backslash-run rule), finds the bytes
//! inside strings (a prefix XOR of the quotes, by shifts: PCLMULQDQ is not in the x86-64
//! baseline), and writes the positions of structural bytes, opening quotes and scalar
//! starts to a `u32` list. A second stage would then build the tape from that list; this
//! probe times the first stage alone, as a lower bound on a two-stage parse.
#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;
use std::time::Instant;

#[derive(Default)]
struct Masks {
    quote: u64,
    backslash: u64,
    structural: u64,
    space: u64,
}

#[inline(always)]
unsafe fn eq(x: __m128i, c: u8) -> __m128i {
    _mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8))
}

#[inline(always)]
unsafe fn bits(v: __m128i) -> u64 {
    u64::from(_mm_movemask_epi8(v) as u32)
}

#[inline(always)]
unsafe fn classify_sse2(p: *const u8) -> Masks {
    let mut m = Masks::default();
    for k in 0..4 {
        let x = _mm_loadu_si128(p.add(16 * k).cast());
        let sh = 16 * k as u32;
        m.quote |= bits(eq(x, b'"')) << sh;
        m.backslash |= bits(eq(x, b'\\')) << sh;
        let brace = _mm_or_si128(eq(x, b'{'), eq(x, b'}'));
        let bracket = _mm_or_si128(eq(x, b'['), eq(x, b']'));
        let punct = _mm_or_si128(eq(x, b':'), eq(x, b','));
        m.structural |= bits(_mm_or_si128(_mm_or_si128(brace, bracket), punct)) << sh;
        let sp = _mm_or_si128(eq(x, b' '), eq(x, b'\n'));
        let tab = _mm_or_si128(eq(x, b'\t'), eq(x, b'\r'));
        m.space |= bits(_mm_or_si128(sp, tab)) << sh;
    }
    m
}

#[target_feature(enable = "avx2")]
unsafe fn classify_avx2(p: *const u8) -> Masks {
    // simdjson's tables: low nibble AND high nibble; bits 0-2 structural, 3-4 whitespace.
    let lo_t = _mm256_setr_epi8(
        16, 0, 0, 0, 0, 0, 0, 0, 0, 8, 12, 1, 2, 9, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 8, 12, 1, 2,
        9, 0, 0,
    );
    let hi_t = _mm256_setr_epi8(
        8, 0, 18, 4, 0, 1, 0, 1, 0, 0, 0, 3, 2, 1, 0, 0, 8, 0, 18, 4, 0, 1, 0, 1, 0, 0, 0, 3, 2, 1,
        0, 0,
    );
    let nibble = _mm256_set1_epi8(0x0f);
    let zero = _mm256_setzero_si256();
    let mut m = Masks::default();
    for k in 0..2 {
        let x = _mm256_loadu_si256(p.add(32 * k).cast());
        let sh = 32 * k as u32;
        let lo = _mm256_shuffle_epi8(lo_t, _mm256_and_si256(x, nibble));
        let hi = _mm256_shuffle_epi8(hi_t, _mm256_and_si256(_mm256_srli_epi32(x, 4), nibble));
        let v = _mm256_and_si256(lo, hi);
        let not = |c: __m256i| u64::from(!(_mm256_movemask_epi8(c) as u32));
        let is = |c: u8| {
            u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, _mm256_set1_epi8(c as i8))) as u32)
        };
        m.structural |= not(_mm256_cmpeq_epi8(
            _mm256_and_si256(v, _mm256_set1_epi8(7)),
            zero,
        )) << sh;
        m.space |= not(_mm256_cmpeq_epi8(
            _mm256_and_si256(v, _mm256_set1_epi8(0x18)),
            zero,
        )) << sh;
        m.quote |= is(b'"') << sh;
        m.backslash |= is(b'\\') << sh;
    }
    m
}

fn prefix_xor(mut x: u64) -> u64 {
    for s in [1, 2, 4, 8, 16, 32] {
        x ^= x << s;
    }
    x
}

const EVEN: u64 = 0x5555_5555_5555_5555;

/// The first stage over `buf[..n]` (`buf` has at least 64 readable bytes past `n`).
#[inline(always)]
unsafe fn stage1(buf: &[u8], n: usize, out: &mut Vec<u32>, classify: impl Fn(*const u8) -> Masks) {
    out.clear();
    out.reserve(n + 8);
    let dst = out.as_mut_ptr();
    let mut len = 0;
    let (mut prev_escaped, mut prev_in_string, mut prev_scalar) = (0u64, 0u64, 0u64);
    let mut base = 0;
    while base < n {
        let m = classify(buf.as_ptr().add(base));
        // Escaped bytes: those after an odd run of backslashes (simdjson's find_escaped).
        let bs = m.backslash & !prev_escaped;
        let follows = (bs << 1) | prev_escaped;
        let odd_starts = bs & !EVEN & !follows;
        let (even_seq, carry) = odd_starts.overflowing_add(bs);
        prev_escaped = u64::from(carry);
        let escaped = (EVEN ^ (even_seq << 1)) & follows;
        let quote = m.quote & !escaped;
        let in_string = prefix_xor(quote) ^ prev_in_string;
        prev_in_string = ((in_string as i64) >> 63) as u64;
        let scalar = !(m.structural | m.space | quote) & !in_string;
        let scalar_start = scalar & !((scalar << 1) | prev_scalar);
        prev_scalar = scalar >> 63;
        let mut b = (m.structural & !in_string) | (quote & in_string) | scalar_start;
        if n - base < 64 {
            b &= (1u64 << (n - base)) - 1;
        }
        // simdjson's flatten: four unconditional writes a step.
        let count = b.count_ones() as usize;
        let mut k = 0;
        while k < count {
            for j in 0..4 {
                *dst.add(len + k + j) = base as u32 + b.trailing_zeros();
                b &= b.wrapping_sub(1);
            }
            k += 4;
        }
        len += count;
        base += 64;
    }
    out.set_len(len);
}

unsafe fn stage1_sse2(buf: &[u8], n: usize, out: &mut Vec<u32>) {
    stage1(buf, n, out, |p| unsafe { classify_sse2(p) })
}

#[target_feature(enable = "avx2,popcnt,bmi1")]
unsafe fn stage1_avx2(buf: &[u8], n: usize, out: &mut Vec<u32>) {
    stage1(buf, n, out, |p| unsafe { classify_avx2(p) })
}

fn time(name: &str, buf: &[u8], n: usize, f: unsafe fn(&[u8], usize, &mut Vec<u32>)) -> Vec<u32> {
    let mut out = Vec::new();
    let mut runs = Vec::new();
    for _ in 0..5 {
        let iters = 1_000_000;
        let t = Instant::now();
        for _ in 0..iters {
            unsafe { f(std::hint::black_box(buf), n, &mut out) };
            std::hint::black_box(out.len());
        }
        runs.push(t.elapsed().as_nanos() as f64 / f64::from(iters));
    }
    runs.sort_by(f64::total_cmp);
    println!(
        "{name}: {:.1} ns per body (median of 5 runs of 1,000,000), {} positions",
        runs[2],
        out.len()
    );
    out
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: json_stage1 BODY.json");
    let mut buf = std::fs::read(&path).expect("reading the body");
    let n = buf.len();
    buf.extend_from_slice(&[0; 64]);
    println!("{path}: {n} bytes");
    let a = time("sse2", &buf, n, stage1_sse2);
    if is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("popcnt")
        && is_x86_feature_detected!("bmi1")
    {
        let b = time("avx2", &buf, n, stage1_avx2);
        assert_eq!(a, b, "the two classifiers disagree");
    }
}
