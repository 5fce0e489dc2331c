//! Probe: how long Tollgate's JSON tape parser (`template::json_doc::parse_str`, what
//! `$input.path`, `$input.json` and `$util.parseJson` parse with) takes over one body,
//! beside the fastest Rust JSON parsers parsing the same bytes: sonic-rs (a DOM, and a
//! validating skip of the whole document) and simd-json (simdjson's two stages, into
//! a fresh DOM and into reused buffers), with serde_json for scale. It answers whether
//! a parser we did not write could give the parse-bound templates (056, 057) the time
//! they lack for 20x velocityjs. Not part of the build: run it by hand, see
//! docs/benchmarks.md ("Nineteenth pass"):
//!
//! ```console
//! $ cd bench/probes/json_libs
//! $ cargo build --release
//! $ target/release/json_libs ../../../tests/conformance/vtl/056-doc-employee-output-mapping-template.json
//! $ target/release/json_libs ../../../tests/conformance/vtl/057-doc-util-parsejson-nested-index.json errorMessage
//! ```
//!
//! The body is the case's integration response body, or its request body; with a second
//! argument, the string value of that member of the body (the text `$util.parseJson`
//! reads). Each parser runs eleven slices of 20,000 parses, twice over; the median and
//! the fastest slice are printed. Built as the gateway is (fat LTO, one codegen unit,
//! the project's mimalloc allocator); `RUSTFLAGS="-C target-cpu=native"` lets simd-json
//! and sonic-rs use AVX2 where the machine has it.

use std::error::Error;
use std::hint::black_box;
use std::time::Instant;

#[global_allocator]
static ALLOC: tollgate::allocator::Allocator = tollgate::allocator::Allocator;

const SLICES: usize = 11;
const PARSES_PER_SLICE: u32 = 20_000;

/// Prints the median and fastest time per call of `f` over [`SLICES`] slices.
fn time(
    name: &str,
    mut f: impl FnMut() -> Result<(), Box<dyn Error>>,
) -> Result<(), Box<dyn Error>> {
    let mut slices = Vec::with_capacity(SLICES);
    for _ in 0..SLICES {
        let t = Instant::now();
        for _ in 0..PARSES_PER_SLICE {
            f()?;
        }
        slices.push(t.elapsed().as_nanos() as f64 / f64::from(PARSES_PER_SLICE));
    }
    slices.sort_by(f64::total_cmp);
    let (median, fastest) = (slices[SLICES / 2], slices[0]);
    println!("{name:32} median {median:7.1} ns   fastest {fastest:7.1} ns");
    Ok(())
}

fn body_of(case: &serde_json::Value, member: Option<&str>) -> Result<String, Box<dyn Error>> {
    let body = case["integration_response"]["body"]
        .as_str()
        .or(case["request"]["body"].as_str())
        .ok_or("the case has no integration response body and no request body")?;
    let Some(member) = member else {
        return Ok(body.to_string());
    };
    let outer: serde_json::Value = serde_json::from_str(body)?;
    Ok(outer[member]
        .as_str()
        .ok_or_else(|| format!("the body has no string member {member:?}"))?
        .to_string())
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: json_libs CASE.json [MEMBER]")?;
    let case: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let body = body_of(&case, args.next().as_deref())?;
    println!("{path}: body of {} bytes", body.len());
    let mut scratch = body.as_bytes().to_vec();
    let mut buffers = simd_json::Buffers::default();
    for _ in 0..2 {
        time("tollgate json_doc::parse_str", || {
            match tollgate::template::json_doc::parse_str(black_box(&body)) {
                tollgate::template::json_doc::Parsed::Value(v) => {
                    black_box(v);
                    Ok(())
                }
                // Either would time something else than the tape.
                _ => Err("tollgate: the body is invalid or not on the tape".into()),
            }
        })?;
        time("sonic_rs::Value", || {
            black_box(sonic_rs::from_str::<sonic_rs::Value>(black_box(&body))?);
            Ok(())
        })?;
        time("sonic_rs validating skip", || {
            black_box(sonic_rs::get(black_box(&body), &[] as &[&str])?);
            Ok(())
        })?;
        time("simd_json::BorrowedValue", || {
            let mut bytes = black_box(body.as_bytes()).to_vec();
            black_box(&simd_json::to_borrowed_value(&mut bytes)?);
            Ok(())
        })?;
        time("simd_json tape, reused buffers", || {
            scratch.copy_from_slice(black_box(body.as_bytes()));
            let tape =
                simd_json::Deserializer::from_slice_with_buffers(&mut scratch, &mut buffers)?;
            black_box(&tape);
            Ok(())
        })?;
        time("serde_json::Value", || {
            black_box(serde_json::from_str::<serde_json::Value>(black_box(&body))?);
            Ok(())
        })?;
    }
    Ok(())
}
