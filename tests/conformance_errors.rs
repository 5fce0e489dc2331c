//! The error cases of the conformance corpus (tests/conformance/errors/, recorded against
//! AWS; copied with their `source` fields) that need routing, API keys and HTTP/MOCK
//! integrations, replayed byte for byte over a raw socket against the real gateway with a
//! real backend. Each case's API is rebuilt here from its `configuration` summary. The
//! Lambda cases (012–017, 025–027) run in `lambda.rs` with real functions; 020–023 (headers
//! AWS lets you map onto a Lambda integration request but then refuses) and the
//! request-validator cases (005–011) run here.

use std::io::Write;
use std::time::Duration;

use serde_json::Value as J;

use crate::support::{Backend, Gateway, raw_conn, read_until_quiet, root};

const KEY: &str = "conformancekey0123456789";

fn mock() -> &'static str {
    r#"
            x-amazon-apigateway-integration:
              type: mock
              requestTemplates: { application/json: '{"statusCode": 200}' }
              responses:
                default:
                  statusCode: "200"
                  responseTemplates: { application/json: '{"statusCode": 200, "message": "exists"}' }"#
}

/// The gateway config for one case, from its `configuration` summary.
fn config(id: &str, backend: &Backend) -> Option<String> {
    let b = backend.addr();
    let api = |stage: &str, paths: &str, extra: &str| {
        format!(
            "{extra}\napis:\n  - name: conf\n    id: conf\n    openapi:\n      openapi: \"3.0.1\"\n      info: {{ title: conf, version: \"1\" }}\n      components:\n        securitySchemes:\n          api_key: {{ type: apiKey, name: x-api-key, in: header }}\n      paths:\n{paths}\n    stages:\n      - name: {stage}\n"
        )
    };
    let keyed = |enabled: bool| {
        api(
            "dev",
            &format!(
                "        /test:\n          get:\n            security: [{{ api_key: [] }}]{}",
                mock()
            ),
            &format!(
                "usage_plans:\n  - id: plan\n    apiStages: [{{ apiId: conf, stage: dev }}]\n    throttle: {{ rateLimit: 2, burstLimit: 1 }}\n    quota: {{ limit: 10, period: DAY }}\napi_keys:\n  - {{ id: k, value: {KEY}, enabled: {enabled}, usagePlanIds: [plan] }}\n"
            ),
        )
    };
    let mapped = |path: &str, kind: &str, header: &str, value: &str| {
        api(
            "test",
            &format!(
                "        /{path}:\n          get:\n            x-amazon-apigateway-integration:\n              type: {kind}\n              httpMethod: POST\n              uri: \"http://{b}/echo\"\n              requestParameters:\n                integration.request.header.{header}: \"'{value}'\"\n              responses:\n                default:\n                  statusCode: \"200\""
            ),
            "",
        )
    };
    // AWS and AWS_PROXY (Lambda) integrations with a mapped header AWS refuses at call time:
    // the Invoke endpoint is the test backend, which the gateway must never reach.
    let lambda_mapped = |path: &str, kind: &str, header: &str, value: &str| {
        api(
            "test",
            &format!(
                "        /{path}:\n          get:\n            x-amazon-apigateway-integration:\n              type: {kind}\n              httpMethod: POST\n              uri: \"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:f/invocations\"\n              requestParameters:\n                integration.request.header.{header}: \"'{value}'\"\n              responses:\n                default:\n                  statusCode: \"200\""
            ),
            &format!("lambda:\n  endpoint: \"http://{b}\"\n  region: us-east-1\n"),
        )
    };
    // Request validators (005-011): a validator checking parameters and body, the case's
    // required parameters and models. The integrations are never reached.
    let validated = |paths: &str, schemas: &str| {
        format!(
            "lambda:\n  endpoint: \"http://{b}\"\napis:\n  - name: conf\n    id: conf\n    openapi:\n      openapi: \"3.0.1\"\n      info: {{ title: conf, version: \"1\" }}\n      x-amazon-apigateway-request-validators:\n        all: {{ validateRequestBody: true, validateRequestParameters: true }}\n      x-amazon-apigateway-request-validator: all\n      components:\n        schemas:\n{schemas}\n      paths:\n{paths}\n    stages:\n      - name: local\n"
        )
    };
    let lambda_proxy = "            x-amazon-apigateway-integration:\n              type: aws_proxy\n              httpMethod: POST\n              uri: \"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:f/invocations\"\n";
    let json_body = |model: &str| {
        format!(
            "            requestBody:\n              content:\n                application/json:\n                  schema: {{ $ref: \"#/components/schemas/{model}\" }}\n"
        )
    };
    let required = |names: &[(&str, &str)]| {
        let mut s = String::from("            parameters:\n");
        for (loc, name) in names {
            s.push_str(&format!("              - {{ name: {name}, in: {loc}, required: true, schema: {{ type: string }} }}\n"));
        }
        s
    };
    let test_schema = "          testSchema:\n            $schema: \"http://json-schema.org/draft-04/schema#\"\n            title: testSchema\n            type: object\n            properties: { a: { type: number }, b: { type: number } }\n            required: [a, b]\n";
    // 007 alone changes POST's required path parameter to `issuer`, absent from the path.
    let nested = |post_path_param: &str| {
        validated(
            &format!(
                "        /nested/{{test}}:\n          get:\n{}{}{}          post:\n{}{}{}",
                required(&[
                    ("path", "test"),
                    ("query", "qs1"),
                    ("header", "x-header-param")
                ]),
                json_body("testSchema"),
                lambda_proxy,
                required(&[
                    ("path", post_path_param),
                    ("query", "qs1"),
                    ("header", "x-header-param")
                ]),
                json_body("testSchema"),
                lambda_proxy
            ),
            test_schema,
        )
    };
    let greedy = |kind: &str| {
        api(
            "test",
            &format!(
                "        /{{map+}}:\n          post:\n            x-amazon-apigateway-integration:\n              type: {kind}\n              httpMethod: POST\n              uri: \"http://{b}/{{map}}\"\n              requestParameters:\n                integration.request.path.map: method.request.path.map\n              responses:\n                default:\n                  statusCode: \"200\"\n                  responseTemplates:\n                    application/json: \"$input.json('$')\""
            ),
            "",
        )
    };
    Some(match id {
        "001" | "002" => api(
            "dev",
            &format!("        /existing:\n          get:{}", mock()),
            "",
        ),
        "003" => keyed(true),
        "004" => keyed(false),
        "005" | "006" | "008" | "009" => nested("test"),
        "007" => nested("issuer"),
        "010" => validated(
            &format!(
                "        /path:\n          post:\n{}{}",
                json_body("testSchemaList"),
                mock()
            ),
            &format!(
                "{test_schema}          testSchemaList:\n            type: array\n            items: {{ $ref: \"https://apigateway.amazonaws.com/restapis/conf/models/testSchema\" }}\n"
            ),
        ),
        "011" => validated(
            &format!(
                "        /path:\n          post:\n{}{}",
                json_body("TestModel"),
                mock()
            ),
            "          StatusModel:\n            type: object\n            properties: { Status: { type: string }, Order: { type: integer } }\n            required: [Status, Order]\n          TestModel:\n            type: object\n            properties:\n              status:\n                oneOf:\n                  - { type: \"null\" }\n                  - { $ref: \"https://apigateway.amazonaws.com/restapis/conf/models/StatusModel\" }\n            required: [status]\n",
        ),
        "018" => mapped("content-length", "http", "Content-Length", "0"),
        "019" => mapped(
            "transfer-encoding",
            "http_proxy",
            "Transfer-Encoding",
            "deflate",
        ),
        "020" => lambda_mapped(
            "authorization",
            "aws",
            "Authorization",
            "request_params_authorization",
        ),
        "021" => lambda_mapped("connection", "aws_proxy", "Connection", "keep-alive"),
        "022" => lambda_mapped("expect", "aws", "Expect", "200-ok"),
        "023" => lambda_mapped("te", "aws_proxy", "TE", "gzip"),
        "024" => format!(
            "apis:\n  - name: conf\n    openapi:\n      openapi: \"3.0.1\"\n      info: {{ title: conf, version: \"1\" }}\n      paths:\n        /path1:\n          get:\n            x-amazon-apigateway-integration:\n              type: http_proxy\n              httpMethod: POST\n              uri: \"http://${{stageVariables.TestHost}}/${{stageVariables.testPath}}?${{stageVariables.querystring}}\"\n    stages:\n      - name: v1\n        variables: {{ TestHost: '{b}', testPath: test-path, querystring: 'qs_key=qs_value' }}\n      - name: v2\n"
        ),
        "028" => greedy("http"),
        "029" => greedy("http_proxy"),
        _ => return None,
    })
}

/// Sends the case's request exactly (header names as written) and reads the whole answer.
fn send(gw: &Gateway, req: &J) -> (u16, Vec<(String, String)>, String) {
    let mut s = raw_conn(gw.addr);
    let target = match req["raw_query"].as_str() {
        Some(q) => format!("{}?{q}", req["raw_path"].as_str().unwrap()),
        None => req["raw_path"].as_str().unwrap().to_string(),
    };
    let mut raw = format!(
        "{} {target} HTTP/1.1\r\nHost: conformance.test\r\n",
        req["method"].as_str().unwrap(),
    );
    let mut chunked = false;
    let mut has_connection = false;
    for (k, v) in req["headers"].as_object().into_iter().flatten() {
        let v = v.as_str().unwrap().replace("<the key value>", KEY);
        chunked |= k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked");
        has_connection |= k.eq_ignore_ascii_case("connection");
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has_connection {
        raw.push_str("Connection: close\r\n");
    }
    let body = req["body"].as_str().unwrap_or("");
    if chunked {
        // A chunked request with no body is the zero-length chunk.
        raw.push_str("\r\n0\r\n\r\n");
    } else {
        if !body.is_empty() {
            raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        raw.push_str("\r\n");
        raw.push_str(body);
    }
    s.write_all(raw.as_bytes()).unwrap();
    let bytes = read_until_quiet(&mut s, Duration::from_secs(10));
    let text = String::from_utf8_lossy(&bytes).into_owned();
    // Skip an interim 100 Continue (the case sends Expect: 100-continue).
    let text = match text.strip_prefix("HTTP/1.1 100 Continue\r\n\r\n") {
        Some(rest) => rest.to_string(),
        None => text,
    };
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

#[test]
fn conformance_error_cases() {
    let backend = Backend::start();
    let mut files: Vec<_> = std::fs::read_dir(root().join("tests/conformance/errors"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut ran = Vec::new();
    let mut failures = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let Some(yaml) = config(&name[..3], &backend) else {
            continue;
        };
        let case: J = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let gw = Gateway::start_yaml(&yaml, &[]);
        let (status, headers, body) = send(&gw, &case["request"]);
        let want = &case["expected"];
        let mut problems = Vec::new();
        if u64::from(status) != want["status"].as_u64().unwrap() {
            problems.push(format!("status {status}, expected {}", want["status"]));
        }
        for (k, v) in want["headers"].as_object().into_iter().flatten() {
            let got = headers
                .iter()
                .find(|(hk, _)| hk.eq_ignore_ascii_case(k))
                .map(|(_, hv)| hv.as_str());
            if got != v.as_str() {
                problems.push(format!("header {k}: {got:?}, expected {v}"));
            }
        }
        if let Some(expected) = want["body"].as_str() {
            let ok = match want["body_compare"].as_str() {
                Some("json") => {
                    serde_json::from_str::<J>(&body).ok()
                        == serde_json::from_str::<J>(expected).ok()
                }
                _ => body == expected,
            };
            if !ok {
                problems.push(format!("body {body:?}, expected {expected:?}"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{name} ({}):\n  {}",
                case["source"].as_str().unwrap_or(""),
                problems.join("\n  ")
            ));
        }
        ran.push(name);
    }
    assert_eq!(ran.len(), 20, "cases run: {ran:?}");
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        ran.len(),
        failures.join("\n")
    );
}
