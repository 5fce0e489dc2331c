//! The `kind: pipeline` mapping-template conformance cases (tests/conformance/vtl/, recorded
//! against AWS) through the real gateway: request template → MOCK or an HTTP integration to
//! a real echo backend (`/raw-echo` returns the integration request body with 200) →
//! response template, over real HTTP. The engine-only run of the same cases is in `vtl.rs`.

use serde_json::Value as J;

use crate::support::{Backend, Gateway, request, root};

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn config(case: &J, backend: &Backend) -> String {
    let req = &case["request"];
    let resource = req["resource"].as_str().unwrap();
    let method = req["method"].as_str().unwrap().to_ascii_lowercase();
    let integration = match case["integration"]["type"].as_str().unwrap() {
        "MOCK" => "type: mock".to_string(),
        _ => format!(
            "type: http\n              httpMethod: POST\n              uri: \"http://{}/raw-echo\"",
            backend.addr()
        ),
    };
    let response_templates = match case["response_template"].as_str() {
        Some(t) => format!(
            "\n                  responseTemplates:\n                    application/json: {}",
            yaml_str(t)
        ),
        None => String::new(),
    };
    let param = resource
        .split('/')
        .find_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')));
    let params = param.map_or(String::new(), |p| {
        format!("\n            parameters:\n              - {{ name: {p}, in: path, required: true, schema: {{ type: string }} }}")
    });
    format!(
        r#"
apis:
  - name: case
    openapi:
      openapi: "3.0.1"
      info: {{ title: case, version: "1" }}
      paths:
        {resource:?}:
          {method}:{params}
            x-amazon-apigateway-integration:
              {integration}
              requestTemplates:
                application/json: {rt}
              responses:
                default:
                  statusCode: "200"{response_templates}
    stages:
      - name: dev
"#,
        rt = yaml_str(case["request_template"].as_str().unwrap()),
    )
}

#[test]
fn vtl_pipeline_cases_through_the_gateway() {
    let dir = root().join("tests/conformance/vtl");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let backend = Backend::start();
    let mut ran = 0;
    let mut failures = Vec::new();
    for f in files {
        let case: J = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        if case["kind"] != "pipeline" {
            continue;
        }
        ran += 1;
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let gw = Gateway::start_yaml(&config(&case, &backend), &[]);
        let req = &case["request"];
        let mut url = gw.url(&format!("/dev{}", req["path"].as_str().unwrap()));
        if let Some(q) = req["raw_query"].as_str() {
            url.push('?');
            url.push_str(q);
        }
        let headers: Vec<(String, String)> = req["headers"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let header_refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = request(
            req["method"].as_str().unwrap(),
            &url,
            &header_refs,
            req["body"].as_str(),
        );
        let want = &case["expected"];
        let mut problems = Vec::new();
        if let Some(s) = want["status"].as_u64() {
            if u64::from(r.status) != s {
                problems.push(format!("status {}, expected {s}", r.status));
            }
        }
        for (k, v) in want["headers"].as_object().into_iter().flatten() {
            if r.header(k) != v.as_str() {
                problems.push(format!("header {k}: {:?}, expected {v}", r.header(k)));
            }
        }
        let expected = want["body"].as_str().unwrap();
        match case["compare"].as_str().unwrap() {
            "json" => {
                let a: Result<J, _> = serde_json::from_str(&r.body);
                let e: J = serde_json::from_str(expected).unwrap();
                if a.as_ref().ok() != Some(&e) {
                    problems.push(format!("body {:?}, expected JSON {e}", r.body));
                }
            }
            _ => {
                if r.body != expected {
                    problems.push(format!("body {:?}, expected {expected:?}", r.body));
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{name} ({}):\n  {}",
                case["source"].as_str().unwrap_or(""),
                problems.join("\n  ")
            ));
        }
    }
    assert!(ran >= 24, "expected the 24 pipeline cases, ran {ran}");
    assert!(
        failures.is_empty(),
        "{} of {ran} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
