//! Cost of signing one Lambda Invoke request with SigV4 (what every Lambda call adds).
//!
//! Run: `cargo bench --bench sigv4`. `sign_invoke/*` is the request path (signing key from
//! the per-core cache); `derive_key_uncached` signs with a new secret each time, so it shows
//! what the once-a-day derivation costs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tollgate::integration::lambda::credentials::Credentials;
use tollgate::integration::lambda::sigv4::{Request, sign_invoke};

const PATH: &str = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn/invocations";

fn creds(secret: String) -> Credentials {
    Credentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: secret,
        session_token: Some("IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQD".repeat(10)),
    }
}

fn bench(c: &mut Criterion) {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let cr = creds("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into());
    let mut out = Vec::with_capacity(1024);
    let mut group = c.benchmark_group("sign_invoke");
    for size in [0usize, 1024, 16 * 1024] {
        let payload = vec![b'x'; size];
        let req = Request {
            method: "POST",
            host: "lambda.us-east-1.amazonaws.com",
            path: PATH,
            query: &[("Qualifier", "prod")],
            headers: &[("X-Amz-Invocation-Type", "RequestResponse")],
            payload: &payload,
        };
        group.bench_with_input(BenchmarkId::from_parameter(size), &req, |b, req| {
            b.iter(|| {
                out.clear();
                sign_invoke(&cr, "us-east-1", black_box(req), now, &mut out).unwrap();
                black_box(out.len())
            })
        });
    }
    group.finish();

    let req = Request {
        method: "POST",
        host: "lambda.us-east-1.amazonaws.com",
        path: PATH,
        query: &[],
        headers: &[],
        payload: b"{}",
    };
    let mut n = 0u64;
    c.bench_function("derive_key_uncached", |b| {
        b.iter(|| {
            n += 1;
            let cr = creds(format!("secret{n}"));
            out.clear();
            sign_invoke(&cr, "us-east-1", &req, SystemTime::now(), &mut out).unwrap();
            black_box(out.len())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
