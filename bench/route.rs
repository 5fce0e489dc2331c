//! Route lookup cost on tables of 10, 1,000 and 10,000 routes, for a static hit, a
//! `{param}` hit, a greedy `{proxy+}` hit, a backtracking hit and a miss. The same requests run
//! against both tables, so the figures show whether cost grows with the number of routes (it
//! should not: literal children are hashed once a node has more than a handful, so the step
//! from 10 routes, where they are scanned, to 1,000 is a constant hashing cost, and 1,000 to
//! 10,000 costs nothing more).
//!
//! Run: `cargo bench --bench route`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tollgate::route::{Method, Router, RouterBuilder};

/// The ten routes both tables share; every benchmarked request targets one of these.
const BASE: [(&str, Method); 10] = [
    ("/", Method::Get),
    ("/pets", Method::Get),
    ("/pets", Method::Post),
    ("/pets/{petId}", Method::Get),
    ("/pets/{petId}/toys", Method::Get),
    ("/users/{userId}/orders/{orderId}", Method::Get),
    ("/files/{proxy+}", Method::Get),
    ("/part1", Method::Get),
    ("/part1/hardcoded-value", Method::Get),
    ("/{param+}", Method::Options),
];

fn table(extra: usize) -> Router<usize> {
    let mut b = RouterBuilder::new();
    for (i, (path, m)) in BASE.iter().enumerate() {
        b.insert(path, *m, i).unwrap();
    }
    // Spread the extra routes over root literals, a wide second level and variables, the way a
    // large API looks: many services, each with a collection and an item.
    for i in 0..extra / 3 {
        let n = BASE.len() + i * 3;
        b.insert(&format!("/svc{i}"), Method::Get, n).unwrap();
        b.insert(&format!("/svc{i}/{{id}}"), Method::Get, n + 1)
            .unwrap();
        b.insert(&format!("/pets/kind{i}"), Method::Get, n + 2)
            .unwrap();
    }
    b.build()
}

fn lookups(c: &mut Criterion) {
    let cases: [(&str, Method, &[u8]); 6] = [
        ("static", Method::Get, b"/pets"),
        ("param", Method::Get, b"/pets/12345"),
        ("two_params", Method::Get, b"/users/u-42/orders/o-7"),
        ("greedy", Method::Get, b"/files/2024/reports/q1.pdf"),
        ("backtrack", Method::Options, b"/part1/random-value"),
        ("miss", Method::Get, b"/nothing/here"),
    ];
    let mut group = c.benchmark_group("route_lookup");
    for routes in [10usize, 1_000, 10_000] {
        let router = table(routes - BASE.len());
        for (name, method, path) in cases {
            // Check the case does what its name says before timing it.
            let found = router.at(method, path).map(|m| m.resource);
            assert_eq!(found.is_some(), name != "miss", "{name}: {found:?}");
            group.bench_with_input(BenchmarkId::new(name, routes), &path, |bench, path| {
                bench.iter(|| router.at(method, black_box(path)).map(|m| *m.value))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, lookups);
criterion_main!(benches);
