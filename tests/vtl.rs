//! VTL conformance: every recorded AWS case in `tests/conformance/vtl/`.
//!
//! `kind: single` cases run through the real binary (`tollgate render`), honouring
//! `compare` (exact/json/none), `ignore_json_paths`, `decode_json_string_fields`,
//! `must_contain`, `expected_overrides` and `"<any>"`. `kind: pipeline` cases run
//! in-process: request template → MOCK or echo backend → response template, carrying
//! the `RenderState` between the two as the gateway does.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as J;
use tollgate::template::playground::OwnedRequest;
use tollgate::template::{IntegrationResponse, RenderState, Template, mock_status_code};

fn case_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/vtl")
}

fn cases(kind: &str) -> Vec<(String, J)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(case_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let case: J = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            if case["kind"] == kind {
                out.push((
                    path.file_name().unwrap().to_string_lossy().into_owned(),
                    case,
                ));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The request description `tollgate render` reads, built from a case.
fn request_json(case: &J) -> J {
    let mut req = case["request"].clone();
    req["stage_variables"] = case.get("stage_variables").cloned().unwrap_or(J::Null);
    req["context"] = case.get("context").cloned().unwrap_or(J::Null);
    if let Some(r) = case.get("integration_response") {
        req["integration_response"] = r.clone();
    }
    req
}

/// Splits `$.a.b` into keys.
fn path_keys(p: &str) -> Vec<&str> {
    p.trim_start_matches('$')
        .split('.')
        .filter(|s| !s.is_empty())
        .collect()
}

fn get_mut<'a>(v: &'a mut J, keys: &[&str]) -> Option<&'a mut J> {
    keys.iter().try_fold(v, |v, k| v.get_mut(*k))
}

/// Drops `"<any>"` members of `expected` (after checking `actual` has them) and the
/// ignored paths from both sides.
fn strip_any(expected: &mut J, actual: &mut J, at: &str, problems: &mut Vec<String>) {
    if let (J::Object(e), J::Object(a)) = (&mut *expected, &mut *actual) {
        let keys: Vec<String> = e.keys().cloned().collect();
        for k in keys {
            if e[&k] == "<any>" {
                if a.remove(&k).is_none() {
                    problems.push(format!("{at}.{k} missing"));
                }
                e.remove(&k);
            } else if let Some(av) = a.get_mut(&k) {
                strip_any(e.get_mut(&k).unwrap(), av, &format!("{at}.{k}"), problems);
            }
        }
    }
}

fn check_json(case: &J, actual_text: &str, problems: &mut Vec<String>) {
    let mut actual: J = match serde_json::from_str(actual_text) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("output is not JSON ({e}): {actual_text:?}"));
            return;
        }
    };
    let mut expected: J = serde_json::from_str(case["expected"].as_str().unwrap()).unwrap();
    for p in case
        .get("decode_json_string_fields")
        .and_then(J::as_array)
        .into_iter()
        .flatten()
    {
        let keys = path_keys(p.as_str().unwrap());
        match get_mut(&mut actual, &keys) {
            Some(v) => match v.as_str().map(serde_json::from_str::<J>) {
                Some(Ok(parsed)) => *v = parsed,
                _ => problems.push(format!("{p} is not a JSON string: {v}")),
            },
            None => problems.push(format!("{p} missing")),
        }
    }
    for p in case
        .get("ignore_json_paths")
        .and_then(J::as_array)
        .into_iter()
        .flatten()
    {
        let keys = path_keys(p.as_str().unwrap());
        let (last, parent) = keys.split_last().unwrap();
        match get_mut(&mut actual, parent)
            .and_then(|o| o.as_object_mut())
            .and_then(|o| o.remove(*last))
        {
            Some(_) => {}
            None => problems.push(format!("ignored path {p} missing from output")),
        }
        if let Some(o) = get_mut(&mut expected, parent).and_then(|o| o.as_object_mut()) {
            o.remove(*last);
        }
    }
    strip_any(&mut expected, &mut actual, "$", problems);
    if expected != actual {
        problems.push(format!(
            "JSON differs\n  expected: {expected}\n  actual:   {actual}"
        ));
    }
}

fn check_overrides(case: &J, stderr: &str, problems: &mut Vec<String>) {
    let Some(want) = case.get("expected_overrides") else {
        return;
    };
    let got: J = stderr
        .lines()
        .find_map(|l| {
            serde_json::from_str::<J>(l)
                .ok()
                .filter(|v| v.get("overrides").is_some())
        })
        .map(|v| v["overrides"].clone())
        .unwrap_or(J::Null);
    if let Some(status) = want.get("status") {
        if got["status"] != *status {
            problems.push(format!(
                "override status: expected {status}, got {}",
                got["status"]
            ));
        }
    }
    if let Some(h) = want.get("request_header") {
        if got["request_header"] != *h {
            problems.push(format!(
                "request header overrides: expected {h}, got {}",
                got["request_header"]
            ));
        }
    }
}

#[test]
fn vtl_single_cases_through_tollgate_render() {
    let dir = std::env::temp_dir().join(format!("tollgate-vtl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let all = cases("single");
    assert!(
        all.len() >= 40,
        "expected the single-template cases, found {}",
        all.len()
    );
    let mut failures = Vec::new();
    for (name, case) in &all {
        let tpl = dir.join(format!("{name}.vtl"));
        let req = dir.join(format!("{name}.request.json"));
        std::fs::write(&tpl, case["template"].as_str().unwrap()).unwrap();
        std::fs::write(&req, request_json(case).to_string()).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .arg("render")
            .arg(&tpl)
            .arg("--request")
            .arg(&req)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let mut problems = Vec::new();
        if !out.status.success() {
            problems.push(format!("exit {:?}: {stderr}", out.status.code()));
        } else {
            match case["compare"].as_str().unwrap() {
                "exact" => {
                    if stdout != case["expected"].as_str().unwrap() {
                        problems.push(format!(
                            "expected {:?}\n  actual   {stdout:?}",
                            case["expected"].as_str().unwrap()
                        ));
                    }
                }
                "json" => check_json(case, &stdout, &mut problems),
                "none" => {}
                other => problems.push(format!("unknown compare {other}")),
            }
            for s in case
                .get("must_contain")
                .and_then(J::as_array)
                .into_iter()
                .flatten()
            {
                if !stdout.contains(s.as_str().unwrap()) {
                    problems.push(format!("output lacks {s}: {stdout:?}"));
                }
            }
            check_overrides(case, &stderr, &mut problems);
        }
        if !problems.is_empty() {
            failures.push(format!("{name}:\n  {}", problems.join("\n  ")));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

/// `render --bench-ms` (what `bench/templates-vs-peers.sh` reads) renders in timed slices
/// and prints the whole-budget rate, the count and the median slice's rate, all positive
/// and consistent with each other.
#[test]
fn render_bench_mode_prints_the_whole_and_median_slice_rates() {
    let dir = std::env::temp_dir().join(format!("tollgate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_, case) = cases("single")
        .into_iter()
        .find(|(n, _)| n.starts_with("055-"))
        .expect("case 055");
    let (tpl, req) = (dir.join("t.vtl"), dir.join("r.json"));
    std::fs::write(&tpl, case["template"].as_str().unwrap()).unwrap();
    std::fs::write(&req, request_json(&case).to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["render", "--bench-ms", "200", "--request"])
        .arg(&req)
        .arg(&tpl)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{out:?}");
    let line = String::from_utf8(out.stdout).unwrap();
    let kv: std::collections::HashMap<&str, f64> = line
        .split_whitespace()
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k, v.parse::<f64>().unwrap()))
        .collect();
    let keys = [
        "renders_per_sec",
        "renders",
        "seconds",
        "median_slice_per_sec",
    ];
    assert_eq!(kv.len(), keys.len(), "{line:?}");
    for k in keys {
        assert!(kv.get(k).is_some_and(|v| *v > 0.0), "{k} in {line:?}");
    }
    // Ten slices of 20 ms: the budget is spent (and not much more), in whole batches of
    // 64 renders, and the whole-budget rate is the count over the time.
    let (n, secs) = (kv["renders"], kv["seconds"]);
    assert!((0.2..2.0).contains(&secs), "{line:?}");
    assert_eq!(n % 64.0, 0.0, "{line:?}");
    let whole = kv["renders_per_sec"];
    assert!((whole - n / secs).abs() <= 0.01 * whole + 1.0, "{line:?}");
}

/// Runs one pipeline case in-process; returns (status, response headers, body).
fn run_pipeline(case: &J) -> (u16, Vec<(String, String)>, String) {
    let mut owned = OwnedRequest::from_json(&request_json(case));
    let mut state = RenderState::new();
    let req_t = Template::compile(case["request_template"].as_str().unwrap()).unwrap();
    let mut out = Vec::new();
    owned
        .with_data(|d, _| req_t.render(d, None, &mut state, &mut out))
        .unwrap();
    let (status, backend_body) = match case["integration"]["type"].as_str().unwrap() {
        // MOCK: the request template's statusCode selects the integration response; no body.
        "MOCK" => (mock_status_code(&out).unwrap_or(500), Vec::new()),
        // Echo backend: returns the integration request body with 200.
        _ => (200, out.clone()),
    };
    let mut body = backend_body.clone();
    if let Some(rt) = case["response_template"].as_str() {
        let t = Template::compile(rt).unwrap();
        owned.set_response(status, backend_body);
        body.clear();
        owned
            .with_data(|d, r| {
                let r: IntegrationResponse<'_> = *r.unwrap();
                t.render(d, Some(&r), &mut state, &mut body)
            })
            .unwrap();
    }
    let ov = state.overrides();
    (
        ov.response_status.unwrap_or(status),
        ov.response_headers,
        String::from_utf8(body).unwrap(),
    )
}

#[test]
fn vtl_pipeline_cases_in_process() {
    let all = cases("pipeline");
    assert!(
        all.len() >= 20,
        "expected the pipeline cases, found {}",
        all.len()
    );
    let mut failures = Vec::new();
    for (name, case) in &all {
        let (status, headers, body) = run_pipeline(case);
        let want = &case["expected"];
        let mut problems = Vec::new();
        if let Some(s) = want.get("status").and_then(J::as_u64) {
            if u64::from(status) != s {
                problems.push(format!("status {status}, expected {s}"));
            }
        }
        for (k, v) in want
            .get("headers")
            .and_then(J::as_object)
            .into_iter()
            .flatten()
        {
            if !headers
                .iter()
                .any(|(hk, hv)| hk.eq_ignore_ascii_case(k) && v == hv.as_str())
            {
                problems.push(format!("header {k}: {v} missing from {headers:?}"));
            }
        }
        let expected_body = want["body"].as_str().unwrap();
        match case["compare"].as_str().unwrap() {
            "json" => {
                let a: Result<J, _> = serde_json::from_str(&body);
                let e: J = serde_json::from_str(expected_body).unwrap();
                if a.as_ref().ok() != Some(&e) {
                    problems.push(format!("body {body:?}, expected JSON {e}"));
                }
            }
            _ => {
                if body != expected_body {
                    problems.push(format!("body {body:?}, expected {expected_body:?}"));
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{name}:\n  {}", problems.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

/// Every prefix of every conformance template either fails to compile with a located
/// error or renders: truncated input never panics or hangs.
#[test]
fn truncated_templates_never_panic() {
    let mut sources = Vec::new();
    for (_, case) in cases("single").into_iter().chain(cases("pipeline")) {
        for key in ["template", "request_template", "response_template"] {
            if let Some(s) = case.get(key).and_then(J::as_str) {
                sources.push(s.to_owned());
            }
        }
    }
    let owned = OwnedRequest::from_json(
        &serde_json::json!({"body": "{\"a\": [1, 2]}", "query": {"q": ["1", "2"]}}),
    );
    let mut compiled = 0;
    for src in &sources {
        for end in (0..=src.len()).filter(|&i| src.is_char_boundary(i)) {
            match Template::compile(&src[..end]) {
                Ok(t) => {
                    compiled += 1;
                    let mut out = Vec::new();
                    let mut state = RenderState::new();
                    let _ = owned.with_data(|d, _| t.render(d, None, &mut state, &mut out));
                }
                Err(e) => assert!(
                    e.line >= 1 || e.kind != tollgate::template::ErrorKind::Syntax,
                    "unlocated: {e}"
                ),
            }
        }
    }
    assert!(compiled > 1000, "only {compiled} prefixes compiled");
}
