//! The gateway's own cost of a Lambda proxy call, without the function: building the
//! payload 1.0 event for a typical browser-like request (8 headers, 3 query parameters, a
//! path parameter, a small JSON body) and parsing a typical proxy result (status, 3 headers,
//! a 200-byte body).
//!
//! Run: `cargo bench --bench lambda`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate::integration::lambda::event::{EventContext, EventRequest, write_event};
use tollgate::integration::lambda::result::parse_proxy_result;

fn bench(c: &mut Criterion) {
    let headers = [
        httparse::Header {
            name: "Host",
            value: b"abc123.execute-api.us-east-1.amazonaws.com",
        },
        httparse::Header {
            name: "User-Agent",
            value: b"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0",
        },
        httparse::Header {
            name: "Accept",
            value: b"application/json",
        },
        httparse::Header {
            name: "Accept-Encoding",
            value: b"gzip, deflate, br",
        },
        httparse::Header {
            name: "Accept-Language",
            value: b"en-GB,en;q=0.5",
        },
        httparse::Header {
            name: "Content-Type",
            value: b"application/json",
        },
        httparse::Header {
            name: "Content-Length",
            value: b"27",
        },
        httparse::Header {
            name: "Authorization",
            value: b"Bearer eyJhbGciOiJIUzI1NiJ9.e30.x",
        },
    ];
    let params = [("proxy", "users/42/orders")];
    let e = EventRequest {
        method: "POST",
        resource_path: "/{proxy+}",
        path: "/users/42/orders",
        full_path: "/prod/users/42/orders",
        query: Some("page=2&sort=desc&filter=open+orders"),
        headers: &headers,
        path_params: &params,
        stage_variables: &[],
        body: br#"{"item": "book", "qty": 2}"#,
        body_base64: false,
        context: EventContext {
            account_id: "123456789012",
            api_id: "abc123",
            deployment_id: "d1e2f3",
            domain_name: "abc123.execute-api.us-east-1.amazonaws.com",
            extended_request_id: "L4RWlaIHCwGdiw3=",
            request_id: "546e21bf-bd88-4521-9b8f-0d0c672c69b5",
            request_time: "22/Nov/2026:02:01:52 +0000",
            request_time_epoch: 1_795_312_912_434,
            resource_id: "uq8xw1",
            stage: "prod",
            source_ip: "203.0.113.9",
        },
    };
    let mut out = Vec::with_capacity(4096);
    c.bench_function("lambda/write_event", |b| {
        b.iter(|| {
            out.clear();
            write_event(black_box(&e), &mut out);
            black_box(out.len())
        })
    });
    let result = format!(
        r#"{{"statusCode": 200, "headers": {{"Content-Type": "application/json", "Cache-Control": "no-store", "X-Request-Id": "abc"}}, "body": "{}"}}"#,
        "x".repeat(200)
    );
    c.bench_function("lambda/parse_proxy_result", |b| {
        b.iter(|| black_box(parse_proxy_result(black_box(result.as_bytes()), false).unwrap()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
