//! Cost of the per-core response cache: a hit (build the key, look up, clone the bytes) and
//! a miss followed by an insert into a full cache (so every insert also evicts).
//!
//! Run: `cargo bench --bench cache`. Keys carry one declared query parameter; responses are
//! 1 KiB, a typical JSON answer with its headers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use tollgate::cache::{CoreCache, MetricKey, StageBudget, StoreRequest};

const SEC: u64 = 1_000_000_000;
const BUDGET: usize = 64 << 20;
const RESPONSE_BYTES: usize = 1024;
const HOT_KEYS: usize = 10_000;
const METRIC: MetricKey = MetricKey {
    stage: 0,
    method: 0,
};

/// The response and where its body starts.
fn response() -> (Vec<u8>, usize) {
    const HEAD: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 952\r\n\r\n";
    let mut r = HEAD.to_vec();
    r.resize(RESPONSE_BYTES, b'x');
    (r, HEAD.len())
}

fn bench_cache(c: &mut Criterion) {
    let (resp, body_start) = response();
    let ids: Vec<String> = (0..HOT_KEYS).map(|i| format!("item-{i}")).collect();
    let mut core = CoreCache::new();
    core.configure(&[StageBudget {
        stage: 0,
        bytes: BUDGET,
    }]);
    let mut keys = core.key_builder();
    for id in &ids {
        keys.start(0, b"res-items", b"GET")
            .param(Some(id.as_bytes()));
        let req = StoreRequest {
            status: 200,
            bytes: &resp,
            body_start,
            ttl_nanos: 300 * SEC,
        };
        core.store(0, &keys.key(), req, 0).unwrap();
    }

    let mut i = 0usize;
    c.bench_function("cache_hit", |b| {
        b.iter(|| {
            i = (i + 1) % HOT_KEYS;
            keys.start(0, b"res-items", b"GET")
                .param(Some(ids[i].as_bytes()));
            let hit = core.lookup(0, METRIC, &keys.key(), SEC);
            black_box(hit.map(|h| h.bytes.len()))
        });
    });

    // Fill to the budget first so the measured inserts run at steady state, evicting.
    let mut n = 0u64;
    let mut miss_insert = || {
        n += 1;
        let id = n.to_le_bytes();
        keys.start(0, b"res-items", b"GET").param(Some(&id));
        let key = keys.key();
        if core.lookup(0, METRIC, &key, SEC).is_none() {
            let req = StoreRequest {
                status: 200,
                bytes: &resp,
                body_start,
                ttl_nanos: 300 * SEC,
            };
            black_box(core.store(0, &key, req, SEC));
        }
    };
    for _ in 0..(2 * BUDGET / RESPONSE_BYTES) {
        miss_insert();
    }
    c.bench_function("cache_miss_insert_evicting", |b| b.iter(&mut miss_insert));
}

criterion_group!(benches, bench_cache);
criterion_main!(benches);
