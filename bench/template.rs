//! Renders the AWS developer-guide templates of the conformance corpus (cases 052-069)
//! with their recorded inputs, plus compile time for the largest, so changes to the VM
//! show up as numbers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use serde_json::Value as J;
use tollgate::template::playground::OwnedRequest;
use tollgate::template::{RenderState, Template};

fn doc_cases() -> Vec<(String, J)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/vtl");
    let mut out: Vec<(String, J)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let name = p.file_stem()?.to_string_lossy().into_owned();
            let n: u32 = name.get(..3)?.parse().ok()?;
            if !(52..=69).contains(&n) {
                return None;
            }
            let case: J = serde_json::from_str(&std::fs::read_to_string(&p).ok()?).ok()?;
            (case["kind"] == "single").then_some((name, case))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    for (name, case) in doc_cases() {
        let t = Template::compile(case["template"].as_str().unwrap()).unwrap();
        let mut req = case["request"].clone();
        req["stage_variables"] = case["stage_variables"].clone();
        req["context"] = case["context"].clone();
        if let Some(r) = case.get("integration_response") {
            req["integration_response"] = r.clone();
        }
        let owned = OwnedRequest::from_json(&req);
        let mut out = Vec::with_capacity(4096);
        group.bench_function(&name, |b| {
            b.iter(|| {
                out.clear();
                let mut state = RenderState::new();
                owned
                    .with_data(|d, r| t.render(d, r, &mut state, &mut out))
                    .unwrap();
                black_box(out.len())
            })
        });
    }
    group.finish();
    let src = doc_cases()
        .into_iter()
        .map(|(_, c)| c["template"].as_str().unwrap().to_owned())
        .max_by_key(String::len)
        .unwrap();
    c.bench_function("compile/largest-doc-template", |b| {
        b.iter(|| Template::compile(black_box(&src)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
