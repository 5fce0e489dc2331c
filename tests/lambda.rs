//! Lambda integrations through the real gateway and real functions: the official Python
//! runtime interface client (`awslambdaric`) runs `tests/lambda/app.py` under Tollgate's
//! local function host. Every `proxy-event/` REST case and errors 012–017, 025–027 of the
//! conformance corpus, plus timeouts, crashes, init errors, concurrency, cold starts and
//! queue overflow.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Gateway, raw_conn, root};

const FN_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function";

fn uri(function: &str) -> String {
    format!(
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FN_ARN}:{function}/invocations"
    )
}

/// A function entry running `app.HANDLER` with awslambdaric.
fn function(name: &str, handler: &str, extra: &str) -> String {
    let dir = root().join("tests/lambda");
    format!(
        "  - name: {name}\n    command: python3 -m awslambdaric {handler}\n    cwd: {}\n{extra}",
        dir.display()
    )
}

fn proxy_method(function: &str, http_method: &str) -> String {
    format!(
        "          x-amazon-apigateway-any-method:\n            x-amazon-apigateway-integration:\n              type: aws_proxy\n              httpMethod: {http_method}\n              uri: \"{}\"\n",
        uri(function)
    )
}

/// Status, headers in order, body.
type Raw = (u16, Vec<(String, String)>, Vec<u8>);

/// One raw HTTP/1.1 exchange with exact header casing and order; returns status, headers
/// (in order) and body.
fn raw(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Raw {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("content-length") {
            continue;
        }
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or(b"");
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut s = raw_conn(addr);
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no complete response");
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status: u16 = lines.next().unwrap()[9..12].parse().unwrap();
        let hs: Vec<(String, String)> = lines
            .filter_map(|l| {
                l.split_once(": ")
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            })
            .collect();
        let len: usize = hs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        if buf.len() >= end + 4 + len {
            return (status, hs, buf[end + 4..end + 4 + len].to_vec());
        }
    }
}

fn case_headers(v: &Value) -> Vec<(String, String)> {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|h| {
                (
                    h[0].as_str().unwrap().to_string(),
                    h[1].as_str().unwrap().to_string(),
                )
            })
            .collect(),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect(),
        _ => Vec::new(),
    }
}

fn cases(dir: &str) -> Vec<Value> {
    let d = root().join("tests/conformance").join(dir);
    let mut paths: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

/// `"<any>"` matches any value; objects must have exactly the expected keys.
fn compare(expected: &Value, actual: &Value, at: &str) {
    match (expected, actual) {
        (Value::String(s), _) if s == "<any>" => {}
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                let av = a
                    .get(k)
                    .unwrap_or_else(|| panic!("{at}: missing {k} in {actual}"));
                compare(v, av, &format!("{at}.{k}"));
            }
            for k in a.keys() {
                assert!(e.contains_key(k), "{at}: unexpected key {k} in {actual}");
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            assert_eq!(e.len(), a.len(), "{at}: {actual}");
            for (i, (x, y)) in e.iter().zip(a).enumerate() {
                compare(x, y, &format!("{at}[{i}]"));
            }
        }
        (e, a) => assert_eq!(e, a, "{at}"),
    }
}

fn drop_edge_headers(event: &mut Value, edge: &[Value]) {
    for key in ["headers", "multiValueHeaders"] {
        if let Some(map) = event.get_mut(key).and_then(Value::as_object_mut) {
            map.retain(|k, _| {
                !edge
                    .iter()
                    .any(|e| e.as_str().unwrap().eq_ignore_ascii_case(k))
            });
        }
    }
}

/// proxy-event 001–012: the event a real function receives, through the real gateway.
#[test]
fn proxy_events_match_aws() {
    let config = |stage: &str, paths: &str| {
        format!(
            "functions:\n{}apis:\n  - name: ev\n    openapi:\n      openapi: \"3.0.1\"\n      info: {{ title: ev, version: \"1\" }}\n      paths:\n{paths}    stages:\n      - name: {stage}\n",
            function("echo", "app.echo", "")
        )
    };
    let proxy = format!(
        "        /{{proxy+}}:\n{}        /hardcoded:\n{}",
        proxy_method("echo", "POST"),
        proxy_method("echo", "POST")
    );
    let mapped = format!(
        "        /{{pathVariable}}:\n{}              requestParameters:\n                integration.request.header.headerVar: method.request.header.foobar\n                integration.request.querystring.testQs: method.request.querystring.testQueryString\n",
        proxy_method("echo", "POST")
    );
    let gw_stage = Gateway::start_yaml(&config("stage", &proxy), &[]);
    let gw_test = Gateway::start_yaml(&config("test", &mapped), &[]);
    let mut checked = 0;
    for case in cases("proxy-event") {
        if case["kind"] != "event" || case["api"]["type"] != "REST" {
            continue;
        }
        let id = case["id"].as_str().unwrap();
        let gw = if case["api"]["stage"] == "test" {
            &gw_test
        } else {
            &gw_stage
        };
        let req = &case["request"];
        let target = match req["raw_query"].as_str() {
            Some(q) => format!("{}?{q}", req["raw_path"].as_str().unwrap()),
            None => req["raw_path"].as_str().unwrap().to_string(),
        };
        let (status, _, body) = raw(
            gw.addr,
            req["method"].as_str().unwrap(),
            &target,
            &case_headers(&req["headers"]),
            req["body"].as_str().map(str::as_bytes),
        );
        assert_eq!(status, 200, "{id}: {}", String::from_utf8_lossy(&body));
        let mut event: Value = serde_json::from_slice(&body).unwrap();
        let mut expected = case["expected_event"].clone();
        let edge = case["edge_headers_ignored"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        drop_edge_headers(&mut event, &edge);
        drop_edge_headers(&mut expected, &edge);
        compare(&expected, &event, id);
        checked += 1;
    }
    assert_eq!(checked, 12);
}

/// proxy-event 014–032 and errors 012–016: a real function returns the case's result.
#[test]
fn proxy_results_match_aws() {
    let config = |binary: &str| {
        format!(
            "functions:\n{}apis:\n  - name: res\n    openapi:\n      openapi: \"3.0.1\"\n      info: {{ title: res, version: \"1\" }}\n      x-amazon-apigateway-binary-media-types: [{binary}]\n      paths:\n        /{{proxy+}}:\n{}        /get-method:\n{}    stages:\n      - name: test\n      - name: test2\n",
            function("result", "app.result", ""),
            proxy_method("result", "POST"),
            proxy_method("result", "GET")
        )
    };
    let plain = Gateway::start_yaml(&config(""), &[]);
    let binary = Gateway::start_yaml(&config("\"image/png\", \"*/test\""), &[]);
    let mut checked = 0;
    let mut all = cases("proxy-event");
    all.extend(cases("errors"));
    for case in all {
        let id = case["id"].as_str().unwrap();
        let api = case
            .get("api")
            .or_else(|| case.get("configuration"))
            .unwrap();
        let is_result = case["kind"] == "lambda-response" && api["type"] == "REST";
        let is_error = ["012", "013", "014", "015", "016", "017"]
            .iter()
            .any(|p| id.starts_with(p))
            && case.get("scenario").is_some();
        if !is_result && !is_error {
            continue;
        }
        let req = &case["request"];
        let has_binary = api["binaryMediaTypes"]
            .as_array()
            .is_some_and(|a| !a.is_empty());
        let gw = if has_binary { &binary } else { &plain };
        let mut path = req["raw_path"].as_str().unwrap().to_string();
        if is_error && id.starts_with("017") {
            path = "/test/get-method".into();
        }
        // The function returns the JSON the client sends (`app.result`).
        let body = match (req["body"].as_str(), case.get("lambda_result")) {
            (Some(b), _) => Some(b.to_string()),
            (None, Some(r)) if !r.as_str().is_some_and(|s| s.starts_with('<')) => {
                Some(r.to_string())
            }
            _ => None,
        };
        let (status, headers, got) = raw(
            gw.addr,
            "POST",
            &path,
            &case_headers(&req["headers"]),
            body.as_deref().map(str::as_bytes),
        );
        let expected = case
            .get("expected_response")
            .or_else(|| case.get("expected"))
            .unwrap();
        assert_eq!(
            u64::from(status),
            expected["status"].as_u64().unwrap(),
            "{id}: {}",
            String::from_utf8_lossy(&got)
        );
        match (expected["body"].as_str(), expected["body_base64"].as_str()) {
            (Some(b), _) if expected.get("body_compare").is_some_and(|c| c == "json") => {
                assert_eq!(
                    serde_json::from_slice::<Value>(&got).unwrap(),
                    serde_json::from_str::<Value>(b).unwrap(),
                    "{id}"
                );
                // The 5XX body's exact bytes (36, space after the colon; aws-behavior §4.2).
                assert_eq!(got, b"{\"message\": \"Internal server error\"}", "{id}");
            }
            (Some(b), _) => assert_eq!(String::from_utf8_lossy(&got), b, "{id}"),
            (None, Some(b64)) => {
                use base64::Engine as _;
                assert_eq!(
                    got,
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap(),
                    "{id}"
                );
            }
            _ => {}
        }
        for (name, value) in expected["headers"].as_object().into_iter().flatten() {
            let values: Vec<&str> = headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect();
            assert_eq!(
                values.join(", "),
                value.as_str().unwrap(),
                "{id}: header {name} in {headers:?}"
            );
            if name == "tesT-Multi" {
                assert!(
                    headers.iter().any(|(k, _)| k == "tesT-Multi"),
                    "{id}: spelling"
                );
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 19 + 6);
}

/// errors 025–027 and a templated custom integration: selection by `errorMessage`.
#[test]
fn custom_integration_selects_by_error_message() {
    let dir = root().join("tests/lambda");
    let yaml = format!(
        r#"
functions:
{}
{}
apis:
  - name: custom
    openapi:
      openapi: "3.0.1"
      info: {{ title: custom, version: "1" }}
      paths:
        /{{statusCode}}:
          get:
            x-amazon-apigateway-integration:
              type: aws
              httpMethod: POST
              uri: "{}"
              requestTemplates:
                application/json: '{{"statusCode": "$input.params(''statusCode'')"}}'
              responses:
                default: {{ statusCode: "200" }}
                ".*four hundred.*": {{ statusCode: "405" }}
                ".+": {{ statusCode: "502" }}
                "200": {{ statusCode: "504" }}
        /templated/{{name}}:
          post:
            x-amazon-apigateway-integration:
              type: aws
              httpMethod: POST
              uri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/${{stageVariables.fn}}/invocations"
              requestTemplates:
                application/json: '{{"name": "$input.params(''name'')", "n": $input.json(''$.n'')}}'
              responses:
                default:
                  statusCode: "200"
                  responseTemplates:
                    application/json: '{{"echo": "$input.path(''$.got.name'')", "fn": "$input.path(''$.fn'')", "n": $input.path(''$.got.n'')}}'
    stages:
      - name: dev
        variables: {{ fn: custom }}
"#,
        function("select", "app.select", "").trim_end(),
        function("custom", "app.custom", "").trim_end(),
        uri("select"),
    );
    let _ = dir;
    let gw = Gateway::start_yaml(&yaml, &[]);
    for case in cases("errors") {
        let id = case["id"].as_str().unwrap();
        if !["025", "026", "027"].iter().any(|p| id.starts_with(p)) {
            continue;
        }
        let path = case["request"]["raw_path"].as_str().unwrap();
        let (status, _, body) = raw(gw.addr, "GET", path, &[], None);
        let expected = &case["expected"];
        assert_eq!(
            u64::from(status),
            expected["status"].as_u64().unwrap(),
            "{id}"
        );
        let mut got: Value = serde_json::from_slice(&body).unwrap();
        let mut want: Value = serde_json::from_str(expected["body"].as_str().unwrap()).unwrap();
        for p in expected["ignore_json_paths"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let key = p.as_str().unwrap().trim_start_matches("$.");
            assert!(got.get(key).is_some(), "{id}: {key} present");
            got.as_object_mut().unwrap().remove(key);
            want.as_object_mut().unwrap().remove(key);
        }
        assert_eq!(got, want, "{id}");
    }
    let (status, _, body) = raw(
        gw.addr,
        "POST",
        "/dev/templated/ada",
        &[("Content-Type".into(), "application/json".into())],
        Some(br#"{"n": 7}"#),
    );
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8_lossy(&body),
        r#"{"echo": "ada", "fn": "custom", "n": 7}"#
    );
}

fn host_api(functions: &str, paths: &[(&str, &str)]) -> String {
    let mut p = String::new();
    for (path, f) in paths {
        p.push_str(&format!("        {path}:\n{}", proxy_method(f, "POST")));
    }
    format!(
        "functions:\n{functions}apis:\n  - name: host\n    openapi:\n      openapi: \"3.0.1\"\n      info: {{ title: host, version: \"1\" }}\n      paths:\n{p}    stages:\n      - name: dev\n"
    )
}

/// Timeout kills the process (answered as Lambda's `Sandbox.Timedout`, a 502 through a
/// proxy integration); the next call gets a new process. A crash fails its invocation and
/// the function restarts. An init error is printed with the function's name.
#[test]
fn timeout_crash_and_init_error() {
    let functions = format!(
        "{}{}{}",
        function("slow", "app.pid", "    timeout_ms: 1000\n"),
        function("crash", "app.crash", ""),
        function("broken", "broken_init.handler", ""),
    );
    let gw = Gateway::start_yaml(
        &host_api(
            &functions,
            &[
                ("/slow", "slow"),
                ("/crash", "crash"),
                ("/broken", "broken"),
            ],
        ),
        &[],
    );
    let (s, _, b) = raw(gw.addr, "GET", "/dev/slow", &[], None);
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let first: Value = serde_json::from_slice(&b).unwrap();
    let t0 = Instant::now();
    let (s, _, b) = raw(gw.addr, "GET", "/dev/slow?sleep=5", &[], None);
    let took = t0.elapsed();
    assert_eq!(
        (s, b.as_slice()),
        (502, &b"{\"message\": \"Internal server error\"}"[..])
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "timed out after {took:?}"
    );
    let (s, _, b) = raw(gw.addr, "GET", "/dev/slow", &[], None);
    assert_eq!(s, 200);
    let after: Value = serde_json::from_slice(&b).unwrap();
    assert_ne!(
        first["pid"], after["pid"],
        "the timed-out process was replaced"
    );

    let (s, _, b) = raw(gw.addr, "GET", "/dev/crash", &[], None);
    assert_eq!(
        (s, b.as_slice()),
        (502, &b"{\"message\": \"Internal server error\"}"[..])
    );
    let (s, _, _) = raw(gw.addr, "GET", "/dev/crash", &[], None);
    assert_eq!(s, 502, "a crashed function restarts and runs again");

    let (s, _, _) = raw(gw.addr, "GET", "/dev/broken", &[], None);
    assert_eq!(s, 502);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        seen.extend(gw.output());
        if seen.iter().any(|l| {
            l.contains("function `broken` failed to initialise") && l.contains("cannot initialise")
        }) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no init error report in {seen:?}");
}

/// N parallel requests run in N processes (cold starts), later ones reuse warm processes;
/// past concurrency + queue the host throttles and the gateway answers 502.
#[test]
fn concurrency_cold_start_and_queue_overflow() {
    let functions = format!(
        "{}{}",
        function("par", "app.pid", "    concurrency: 3\n"),
        function("tight", "app.pid", "    concurrency: 1\n    max_queue: 1\n"),
    );
    let gw = Gateway::start_yaml(
        &host_api(&functions, &[("/par", "par"), ("/tight", "tight")]),
        &[],
    );
    let addr = gw.addr;
    let run = |path: &'static str, n: usize| {
        let handles: Vec<_> = (0..n)
            .map(|_| std::thread::spawn(move || raw(addr, "GET", path, &[], None)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    };
    let pids = |rs: &[Raw]| {
        let mut p: Vec<i64> = rs
            .iter()
            .map(|(s, _, b)| {
                assert_eq!(*s, 200, "{}", String::from_utf8_lossy(b));
                serde_json::from_slice::<Value>(b).unwrap()["pid"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        p.sort();
        p.dedup();
        p
    };
    let first = pids(&run("/dev/par?sleep=1", 3));
    assert_eq!(first.len(), 3, "3 parallel requests → 3 processes");
    let warm = pids(&run("/dev/par?sleep=0.3", 3));
    assert!(
        warm.iter().all(|p| first.contains(p)),
        "warm processes are reused: {first:?} {warm:?}"
    );

    let results = run("/dev/tight?sleep=1.5", 4);
    let ok = results.iter().filter(|(s, _, _)| *s == 200).count();
    let throttled = results.iter().filter(|(s, _, _)| *s == 502).count();
    assert_eq!(
        (ok, throttled),
        (2, 2),
        "1 running + 1 queued succeed, the rest are throttled"
    );
}
