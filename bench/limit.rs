//! Admission cost of one token bucket at 1 and 2 threads, and of a whole `Limiter::check`.
//!
//! Run: `cargo bench --bench limit`. The buckets are sized never to refuse, so every iteration
//! is a successful compare-and-swap (the common case on the request path).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate::limit::bucket::{Rate, TokenBucket};
use tollgate::limit::config::{
    ApiKeyConfig, ApiStageConfig, LimitsConfig, ThrottleSettings, UsagePlanConfig,
};
use tollgate::limit::quota::QuotaRegistry;
use tollgate::limit::{Limiter, MethodId, MethodKey};

fn wide_open() -> Rate {
    Rate::new(1e9, u64::MAX / 2_000_000_000)
}

/// `iters` admissions on each of `threads` threads hammering one bucket; returns the wall time,
/// so the figure is the time per admission as each thread sees it under contention.
fn contended(threads: usize, iters: u64) -> Duration {
    let bucket = Arc::new(TokenBucket::new(wide_open()));
    let clock = quanta::Clock::new();
    let epoch = clock.now();
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (bucket, barrier, clock) = (bucket.clone(), barrier.clone(), clock.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..iters {
                    let now = clock.now().duration_since(epoch).as_nanos() as u64;
                    black_box(bucket.try_acquire(now));
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    start.elapsed()
}

fn bucket(c: &mut Criterion) {
    let mut g = c.benchmark_group("bucket_admission");
    g.bench_function("1_thread", |b| {
        let bucket = TokenBucket::new(wide_open());
        let clock = quanta::Clock::new();
        let epoch = clock.now();
        b.iter(|| {
            let now = clock.now().duration_since(epoch).as_nanos() as u64;
            black_box(bucket.try_acquire(now))
        });
    });
    g.bench_function("2_threads", |b| b.iter_custom(|iters| contended(2, iters)));
    g.finish();
}

fn limiter(c: &mut Criterion) {
    let key = "apikeyAAAAabcdefghij0123456789";
    let open = ThrottleSettings {
        rate_limit: 1e9,
        burst_limit: 1_000_000_000,
    };
    let cfg = LimitsConfig {
        account: open,
        usage_plans: vec![UsagePlanConfig {
            id: "gold".into(),
            api_stages: vec![ApiStageConfig {
                api_id: "a1".into(),
                stage: "dev".into(),
                throttle: Default::default(),
            }],
            throttle: Some(open),
            ..Default::default()
        }],
        api_keys: vec![ApiKeyConfig {
            id: "ka".into(),
            value: Some(key.into()),
            enabled: true,
            usage_plan_ids: vec!["gold".into()],
            ..Default::default()
        }],
        ..Default::default()
    };
    let m = |k| MethodKey {
        api_id: "a1".into(),
        stage: "dev".into(),
        resource_path: "/pets".into(),
        http_method: "GET".into(),
        api_key_required: k,
    };
    let l = Limiter::build(&cfg, &[m(false), m(true)], QuotaRegistry::in_memory(), None).unwrap();
    let mut g = c.benchmark_group("limiter_check");
    g.bench_function("no_key", |b| {
        b.iter(|| black_box(l.check(MethodId(0), None, l.now())))
    });
    g.bench_function("api_key_plan", |b| {
        b.iter(|| black_box(l.check(MethodId(1), Some(key.as_bytes()), l.now())))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = bucket, limiter
}
criterion_main!(benches);
