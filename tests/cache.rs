//! The stage response cache through the real gateway and a real backend (aws-behavior §8,
//! docs/caching.md). Every request carries an `x-n` header that is never a cache key; the
//! backend's `/echo` sends it back, so a body shows which request reached the backend: a hit
//! repeats an earlier `x-n`, a miss shows its own.

use std::process::Command;
use std::time::Duration;

use crate::support::{Backend, Gateway, Resp, driver_args, request, temp_dir};

const KEY: &str = "cachekeycachekeycachekey";

fn proxy(backend: &Backend, method: &str, path: &str, keys: &[&str]) -> String {
    let keys = keys
        .iter()
        .map(|k| format!("\"{k}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: {method}
              uri: "http://{addr}{path}"
              cacheKeyParameters: [{keys}]"#,
        addr = backend.addr()
    )
}

/// One API with a cached stage `dev` (and `small`, with a 64 KiB budget per core).
fn config(backend: &Backend) -> String {
    let b = backend;
    let item_keys = [
        "method.request.path.id",
        "method.request.querystring.type",
        "method.request.header.X-Lang",
    ];
    format!(
        r#"
throttle: {{ burstLimit: 100000, rateLimit: 100000 }}
usage_plans:
  - id: plan
    apiStages: [{{ apiId: c, stage: dev, throttle: {{ "/keyed/GET": {{ burstLimit: 3, rateLimit: 0.001 }} }} }}]
api_keys:
  - {{ id: k, value: {KEY}, usagePlanIds: [plan] }}
apis:
  - name: c
    id: c
    openapi:
      openapi: "3.0.1"
      info: {{ title: c, version: "1" }}
      components:
        securitySchemes:
          api_key: {{ type: apiKey, name: x-api-key, in: header }}
      paths:
        /items/{{id}}:
          get:{items_get}
          post:{items_post}
        /shared/{{id}}:
          get:{shared}
        /short:
          get:{short}
        /nocache:
          get:{nocache}
        /posted:
          post:{posted}
        /status/{{code}}:
          get:{status}
        /fail:
          get:{fail}
        /warn:
          get:{warn}
        /silent:
          get:{silent}
        /open:
          get:{open}
        /keyed:
          get:
            security: [{{ api_key: [] }}]{keyed}
        /fill:
          get:{fill}
    stages:
      - name: dev
        cache: {{ cacheClusterEnabled: true, cacheClusterSize: "0.5" }}
        method_settings:
          "short/GET": {{ cacheTtlInSeconds: 1 }}
          "nocache/GET": {{ cachingEnabled: false }}
          "posted/POST": {{ cachingEnabled: true }}
          "fail/GET": {{ unauthorizedCacheControlHeaderStrategy: FAIL_WITH_403 }}
          "warn/GET": {{ unauthorizedCacheControlHeaderStrategy: SUCCEED_WITH_RESPONSE_HEADER }}
          "silent/GET": {{ unauthorizedCacheControlHeaderStrategy: SUCCEED_WITHOUT_RESPONSE_HEADER }}
          "open/GET": {{ requireAuthorizationForCacheControl: false }}
      - name: small
        cache: {{ cacheClusterEnabled: true, perCoreBytes: 65536 }}
      - name: off
admin:
  address: 127.0.0.1:0
"#,
        items_get = proxy(b, "GET", "/echo/items/{id}", &item_keys),
        items_post = proxy(b, "POST", "/echo/items/{id}", &item_keys),
        shared = proxy(b, "GET", "/echo/shared/{id}", &[]),
        short = proxy(b, "GET", "/echo/short", &[]),
        nocache = proxy(b, "GET", "/echo/nocache", &[]),
        posted = proxy(b, "POST", "/echo/posted", &[]),
        status = proxy(b, "GET", "/status/{code}", &["method.request.path.code"]),
        fail = proxy(b, "GET", "/echo/fail", &[]),
        warn = proxy(b, "GET", "/echo/warn", &[]),
        silent = proxy(b, "GET", "/echo/silent", &[]),
        open = proxy(b, "GET", "/echo/open", &[]),
        keyed = proxy(b, "GET", "/echo/keyed", &[]),
        fill = proxy(b, "GET", "/echo/fill", &["method.request.querystring.i"]),
    )
}

/// The `x-n` value the backend saw for the request whose answer this is.
fn n_of(r: &Resp) -> String {
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    let headers = body["headers"].as_array().expect("echo headers");
    headers
        .iter()
        .find(|h| h[0].as_str().is_some_and(|k| k.eq_ignore_ascii_case("x-n")))
        .and_then(|h| h[1].as_str())
        .unwrap_or("")
        .to_string()
}

fn send(gw: &Gateway, method: &str, path: &str, n: usize, extra: &[(&str, &str)]) -> Resp {
    let n = n.to_string();
    let mut headers = vec![("x-n", n.as_str())];
    headers.extend_from_slice(extra);
    request(method, &gw.url(path), &headers, None)
}

fn get_n(gw: &Gateway, path: &str, n: usize) -> String {
    n_of(&send(gw, "GET", path, n, &[]))
}

fn admin(gw: &Gateway) -> String {
    gw.admin()
}

/// `(CacheHitCount, CacheMissCount)` of one method of stage dev.
fn counts(gw: &Gateway, resource: &str, method: &str) -> (u64, u64) {
    let stats = crate::support::get(&format!("{}/cache/stats?apiId=c&stage=dev", admin(gw)));
    assert_eq!(stats.status, 200, "{}", stats.body);
    let v = stats.json();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["resourcePath"] == resource && i["httpMethod"] == method)
        .map_or((0, 0), |i| {
            (
                i["CacheHitCount"].as_u64().unwrap(),
                i["CacheMissCount"].as_u64().unwrap(),
            )
        })
}

fn start(backend: &Backend, args: &[&str]) -> Gateway {
    Gateway::start_yaml(&config(backend), args)
}

/// N requests, one backend call; the hit carries fresh per-request headers.
fn hit_and_miss(args: &[&str]) {
    let backend = Backend::start();
    let gw = start(&backend, args);
    let first = send(&gw, "GET", "/dev/items/1", 0, &[]);
    assert_eq!(n_of(&first), "0");
    let mut ids = vec![first.header("x-amzn-RequestId").unwrap().to_string()];
    for n in 1..6 {
        let r = send(&gw, "GET", "/dev/items/1", n, &[]);
        assert_eq!(n_of(&r), "0", "request {n} was served from the cache");
        assert_eq!(r.body, first.body);
        assert_eq!(r.header("content-length"), first.header("content-length"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.header("date").is_some());
        assert_eq!(r.header("x-amz-apigw-id").map(str::len), Some(16));
        ids.push(r.header("x-amzn-RequestId").unwrap().to_string());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "every answer has its own request id");
    assert_eq!(counts(&gw, "/items/{id}", "GET"), (5, 1));
    // The uncached stage of the same API calls the backend every time.
    assert_eq!(get_n(&gw, "/off/items/1", 7), "7");
    assert_eq!(get_n(&gw, "/off/items/1", 8), "8");
    assert_eq!(gw.stop().code(), Some(0));
}

#[test]
fn repeated_get_calls_the_backend_once() {
    hit_and_miss(&[]);
}

#[test]
fn repeated_get_calls_the_backend_once_on_epoll() {
    if driver_args().is_empty() {
        hit_and_miss(&["--driver", "legacy"]);
    } else {
        hit_and_miss(&[]);
    }
}

/// Raw bytes of a hit and of the miss before it differ only in the per-request values.
#[test]
fn hit_bytes_match_the_miss_but_for_date_and_ids() {
    let backend = Backend::start();
    let gw = start(&backend, &[]);
    let raw = |gw: &Gateway| {
        crate::support::raw_exchange(
            gw.addr,
            b"GET /dev/items/9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(5),
        )
    };
    let normalise = |bytes: Vec<u8>| -> Vec<String> {
        String::from_utf8(bytes)
            .unwrap()
            .split("\r\n")
            .map(|l| {
                let name = l.split(':').next().unwrap_or("");
                if ["date", "x-amzn-requestid", "x-amz-apigw-id"]
                    .iter()
                    .any(|n| name.eq_ignore_ascii_case(n))
                {
                    format!("{name}: *")
                } else {
                    l.to_string()
                }
            })
            .collect()
    };
    let miss = normalise(raw(&gw));
    let hit = normalise(raw(&gw));
    assert_eq!(miss, hit);
    assert!(miss[0].starts_with("HTTP/1.1 200 OK"), "{miss:?}");
    assert!(miss.contains(&"Connection: close".to_string()), "{miss:?}");
    assert_eq!(counts(&gw, "/items/{id}", "GET"), (1, 1));
}

#[test]
fn entries_expire_after_their_ttl() {
    // The test clock moves the cache's time: no sleeping, and the bounds are exact.
    let backend = Backend::start();
    let gw = start(&backend, &["--test-clock"]);
    assert_eq!(get_n(&gw, "/dev/short", 0), "0");
    assert_eq!(get_n(&gw, "/dev/short", 1), "0", "within the 1 s TTL");
    gw.advance_clock(2);
    assert_eq!(
        get_n(&gw, "/dev/short", 2),
        "2",
        "expired: the backend is called"
    );
    assert_eq!(
        get_n(&gw, "/dev/short", 3),
        "2",
        "and the new answer is cached"
    );
    // The stage default (300 s) holds for the other methods: a hit at 299 s, a miss past 300.
    assert_eq!(get_n(&gw, "/dev/items/5", 4), "4");
    gw.advance_clock(299);
    assert_eq!(get_n(&gw, "/dev/items/5", 5), "4", "299 s into a 300 s TTL");
    gw.advance_clock(2);
    assert_eq!(
        get_n(&gw, "/dev/items/5", 6),
        "6",
        "past the stage's 300 s TTL"
    );
    assert_eq!(counts(&gw, "/items/{id}", "GET"), (1, 2));
}

#[test]
fn declared_parameters_vary_the_key_and_others_do_not() {
    let backend = Backend::start();
    let gw = start(&backend, &[]);
    let lang = |l: &'static str| [("X-Lang", l)];
    let r = |path: &str, n: usize, h: &[(&str, &str)]| n_of(&send(&gw, "GET", path, n, h));
    assert_eq!(r("/dev/items/1?type=a", 0, &lang("en")), "0");
    // Undeclared query parameters and headers share the entry.
    assert_eq!(r("/dev/items/1?type=a&other=z", 1, &lang("en")), "0");
    assert_eq!(
        r(
            "/dev/items/1?type=a",
            2,
            &[("X-Lang", "en"), ("X-Other", "1")]
        ),
        "0"
    );
    // Each declared parameter splits it: path, query string, header (name case-insensitive).
    assert_eq!(r("/dev/items/2?type=a", 3, &lang("en")), "3");
    assert_eq!(r("/dev/items/1?type=b", 4, &lang("en")), "4");
    assert_eq!(r("/dev/items/1?type=a", 5, &lang("fr")), "5");
    assert_eq!(r("/dev/items/1?type=a", 6, &[("x-lang", "fr")]), "5");
    // Absent and empty values are different keys.
    assert_eq!(r("/dev/items/1", 7, &[]), "7");
    assert_eq!(r("/dev/items/1?type=", 8, &[]), "8");
    assert_eq!(r("/dev/items/1", 9, &[]), "7");
    // An undeclared path parameter does not vary the key: /shared/2 gets /shared/1's answer.
    let one = send(&gw, "GET", "/dev/shared/1", 10, &[]);
    let two = send(&gw, "GET", "/dev/shared/2", 11, &[]);
    assert_eq!(n_of(&two), "10");
    assert_eq!(two.json()["path"], "/echo/shared/1");
    assert_eq!(one.body, two.body);
}

#[test]
fn method_settings_and_http_methods() {
    let backend = Backend::start();
    let gw = start(&backend, &[]);
    // cachingEnabled: false on nocache/GET.
    assert_eq!(get_n(&gw, "/dev/nocache", 0), "0");
    assert_eq!(get_n(&gw, "/dev/nocache", 1), "1");
    assert_eq!(
        counts(&gw, "/nocache", "GET"),
        (0, 0),
        "not cached: not counted"
    );
    // POST is not cached by the stage setting alone...
    assert_eq!(n_of(&send(&gw, "POST", "/dev/items/1", 2, &[])), "2");
    assert_eq!(n_of(&send(&gw, "POST", "/dev/items/1", 3, &[])), "3");
    // ...but is with its own method setting, apart from GET entries of other paths.
    assert_eq!(n_of(&send(&gw, "POST", "/dev/posted", 4, &[])), "4");
    assert_eq!(n_of(&send(&gw, "POST", "/dev/posted", 5, &[])), "4");
    assert_eq!(counts(&gw, "/posted", "POST"), (1, 1));
}

#[test]
fn error_responses_are_not_cached() {
    let backend = Backend::start();
    let gw = start(&backend, &[]);
    for _ in 0..3 {
        let r = request("GET", &gw.url("/dev/status/500"), &[], None);
        assert_eq!(r.status, 500);
        let r = request("GET", &gw.url("/dev/status/404"), &[], None);
        assert_eq!(r.status, 404);
    }
    assert_eq!(counts(&gw, "/status/{code}", "GET"), (0, 6));
    // A 2xx of the same method is.
    for _ in 0..3 {
        assert_eq!(
            request("GET", &gw.url("/dev/status/201"), &[], None).status,
            201
        );
    }
    assert_eq!(counts(&gw, "/status/{code}", "GET"), (2, 7));
}

const MAX_AGE_0: (&str, &str) = ("Cache-Control", "max-age=0");

#[test]
fn cache_control_max_age_0_under_each_strategy() {
    let backend = Backend::start();
    let gw = start(&backend, &[]);
    // requireAuthorizationForCacheControl: false: anyone may refresh the entry.
    assert_eq!(get_n(&gw, "/dev/open", 0), "0");
    let r = send(&gw, "GET", "/dev/open", 1, &[MAX_AGE_0]);
    assert_eq!(n_of(&r), "1");
    assert_eq!(r.header("warning"), None);
    assert_eq!(get_n(&gw, "/dev/open", 2), "1", "the entry was replaced");
    assert_eq!(
        counts(&gw, "/open", "GET"),
        (1, 2),
        "a refresh counts as a miss"
    );

    // FAIL_WITH_403: refused, the entry stays.
    assert_eq!(get_n(&gw, "/dev/fail", 0), "0");
    let r = send(
        &gw,
        "GET",
        "/dev/fail",
        1,
        &[("cache-control", "no-store, MAX-AGE=0")],
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        r#"{"Message":"User is not authorized to access this resource"}"#
    );
    assert_eq!(r.header("x-amzn-ErrorType"), Some("AccessDeniedException"));
    assert_eq!(get_n(&gw, "/dev/fail", 2), "0");
    // Other directives are not an invalidation.
    assert_eq!(
        n_of(&send(
            &gw,
            "GET",
            "/dev/fail",
            3,
            &[("Cache-Control", "no-cache")]
        )),
        "0"
    );

    // SUCCEED_WITH_RESPONSE_HEADER (the default): served from the cache, with a warning.
    let warning = "199 - \"Cache-Control header ignored: not authorized to invalidate the cache\"";
    let r = send(&gw, "GET", "/dev/warn", 0, &[MAX_AGE_0]);
    assert_eq!(
        (n_of(&r).as_str(), r.header("warning")),
        ("0", Some(warning))
    );
    let r = send(&gw, "GET", "/dev/warn", 1, &[MAX_AGE_0]);
    assert_eq!(
        (n_of(&r).as_str(), r.header("warning")),
        ("0", Some(warning))
    );
    let r = send(&gw, "GET", "/dev/warn", 2, &[]);
    assert_eq!(
        (n_of(&r).as_str(), r.header("warning")),
        ("0", None),
        "the warning is not stored"
    );
    // The default strategy also applies where nothing is set (items/GET).
    assert_eq!(get_n(&gw, "/dev/items/3", 0), "0");
    let r = send(&gw, "GET", "/dev/items/3", 1, &[MAX_AGE_0]);
    assert_eq!(
        (n_of(&r).as_str(), r.header("warning")),
        ("0", Some(warning))
    );

    // SUCCEED_WITHOUT_RESPONSE_HEADER: ignored silently.
    assert_eq!(get_n(&gw, "/dev/silent", 0), "0");
    let r = send(&gw, "GET", "/dev/silent", 1, &[MAX_AGE_0]);
    assert_eq!((n_of(&r).as_str(), r.header("warning")), ("0", None));
}

/// LIMIT runs before CACHE: a hit still needs a valid key and takes a token.
#[test]
fn api_keys_and_throttles_apply_to_hits() {
    let backend = Backend::start();
    let gw = start(&backend, &[]);
    let key = ("x-api-key", KEY);
    assert_eq!(n_of(&send(&gw, "GET", "/dev/keyed", 0, &[key])), "0");
    assert_eq!(send(&gw, "GET", "/dev/keyed", 1, &[]).status, 403);
    assert_eq!(n_of(&send(&gw, "GET", "/dev/keyed", 2, &[key])), "0");
    assert_eq!(n_of(&send(&gw, "GET", "/dev/keyed", 3, &[key])), "0");
    // The plan's method throttle has a burst of 3 and no refill to speak of.
    let r = send(&gw, "GET", "/dev/keyed", 4, &[key]);
    assert_eq!(
        (r.status, r.body.as_str()),
        (429, r#"{"message":"Too Many Requests"}"#)
    );
    assert_eq!(counts(&gw, "/keyed", "GET"), (2, 1));
}

#[test]
fn flush_reaches_every_worker() {
    let backend = Backend::start();
    let gw = start(&backend, &["--workers", "2"]);
    let admin = admin(&gw);
    // Many connections, so both workers' caches hold the entry (SO_REUSEPORT spreads them).
    let fill = |base: usize| -> Vec<String> {
        let handles: Vec<_> = (0..24)
            .map(|i| {
                let url = gw.url("/dev/items/1");
                std::thread::spawn(move || {
                    let n = (base + i).to_string();
                    n_of(&request("GET", &url, &[("x-n", &n)], None))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    };
    let core_entries = || -> Vec<u64> {
        let stats = crate::support::get(&format!("{admin}/cache/stats?apiId=c&stage=dev")).json();
        assert_eq!(
            (stats["workers"].as_u64(), stats["answered"].as_u64()),
            (Some(2), Some(2))
        );
        let cores = stats["stages"][0]["cores"].as_array().unwrap().clone();
        cores
            .iter()
            .map(|c| c["entries"].as_u64().unwrap())
            .collect()
    };
    // Until both cores hold the entry (bounded: the kernel hashes each new connection).
    let mut before = Vec::new();
    for round in 0..5 {
        before.extend(fill(round * 100));
        if core_entries() == [1, 1] {
            break;
        }
    }
    assert_eq!(core_entries(), [1, 1], "both workers cache the entry");
    // Every answer now comes from one of the two caches.
    for n in fill(500) {
        assert!(before.contains(&n), "{n} should have been a hit");
    }
    let r = request(
        "POST",
        &format!("{admin}/cache/flush?apiId=c&stage=dev"),
        &[],
        None,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        r.json(),
        serde_json::json!({"apiId": "c", "stage": "dev", "workers": 2, "flushed": 2})
    );
    assert_eq!(core_entries(), [0, 0]);
    // No answer after the flush comes from before it.
    let after = fill(1000);
    for n in &after {
        assert!(!before.contains(n), "{n} was cached before the flush");
    }
    // Unknown or uncached stages.
    let post = |q: &str| request("POST", &format!("{admin}/cache/flush?{q}"), &[], None);
    assert_eq!(post("apiId=c&stage=nope").status, 404);
    assert_eq!(post("apiId=nope&stage=dev").status, 404);
    assert_eq!(post("apiId=c&stage=off").status, 400);
    assert_eq!(post("apiId=c").status, 400);
}

#[test]
fn byte_budget_holds_under_a_tenfold_fill() {
    let backend = Backend::start();
    let gw = start(&backend, &[]);
    const BUDGET: u64 = 65536;
    // ~2.3 KB answers (the echoed padding) under 300 keys: over 10x the 64 KiB budget.
    let pad = "p".repeat(2000);
    let mut stored = 0u64;
    for i in 0..300 {
        let r = request(
            "GET",
            &gw.url(&format!("/small/fill?i={i}")),
            &[("x-pad", &pad)],
            None,
        );
        assert_eq!(r.status, 200);
        stored += r.body.len() as u64;
    }
    assert!(stored > 10 * BUDGET, "filled {stored} bytes");
    let stats = crate::support::get(&format!("{}/cache/stats?stage=small", admin(&gw))).json();
    let core = &stats["stages"][0]["cores"][0];
    let (entries, bytes) = (
        core["entries"].as_u64().unwrap(),
        core["accountedBytes"].as_u64().unwrap(),
    );
    assert_eq!(core["budgetBytes"], BUDGET);
    assert!(bytes <= BUDGET, "{stats}");
    assert!((5..=28).contains(&entries), "{stats}");
    assert!(
        core["evictions"].as_u64().unwrap() >= 300 - entries,
        "{stats}"
    );
    // The newest key is still cached, the first one is long gone.
    let hit = request("GET", &gw.url("/small/fill?i=299"), &[("x-n", "new")], None);
    assert_eq!(n_of(&hit), "");
    let gone = request("GET", &gw.url("/small/fill?i=0"), &[("x-n", "new")], None);
    assert_eq!(n_of(&gone), "new");
}

#[test]
fn validate_warns_about_path_parameters_that_are_not_cache_keys() {
    let backend = Backend::start();
    let dir = temp_dir("cache-validate");
    let file = dir.join("gateway.yaml");
    std::fs::write(&file, config(&backend)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(
            "GET /shared/{id} is cached (stage dev, small) but path parameter(s) `id` are not cache keys"
        ),
        "{text}"
    );
    assert!(
        text.contains("add method.request.path.id to cacheKeyParameters"),
        "{text}"
    );
    // items/{id} declares its path parameter; status/{code} too.
    assert!(!text.contains("/items/{id} is cached"), "{text}");
    assert!(!text.contains("/status/{code} is cached"), "{text}");

    // A bad key parameter is refused as AWS refuses it.
    let bad = config(&backend).replace("method.request.path.code", "method.request.body.code");
    std::fs::write(&file, bad).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("cacheKeyParameters/0: Invalid cache key parameter specified"),
        "{text}"
    );
}
