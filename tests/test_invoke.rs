//! `tollgate test-invoke` through the real binary: a MOCK method, an HTTP method with
//! request and response templates to the real Python backend, and a request no route
//! matches. Asserts the printed execution-log lines (aws-behavior §1.1 wording).

use std::process::Command;

use crate::support::{Backend, temp_dir};

fn config(backend: &Backend) -> String {
    format!(
        r#"
apis:
  - name: inv
    id: inv123
    openapi:
      openapi: "3.0.1"
      info: {{ title: inv, version: "1" }}
      paths:
        /pets/{{id}}:
          get:
            x-amazon-apigateway-integration:
              type: mock
              requestTemplates:
                application/json: '{{"statusCode": #if($input.params(''id'') == "0")404#{{else}}200#end}}'
              responses:
                "404":
                  statusCode: "404"
                  responseTemplates:
                    application/json: '{{"message": "no pet $input.params(''id'')"}}'
                default:
                  statusCode: "200"
                  responseTemplates:
                    application/json: '{{"id": "$input.params(''id'')"}}'
          post:
            x-amazon-apigateway-integration:
              type: http
              httpMethod: POST
              uri: "http://{addr}/raw-echo"
              requestTemplates:
                application/json: '{{"petId": "$input.params(''id'')", "name": $input.json(''$.name'')}}'
              responses:
                default:
                  statusCode: "201"
                  responseTemplates:
                    application/json: '#set($b = $input.path(''$''))Pet $b.petId is $b.name ($stageVariables.color)'
    stages:
      - name: dev
        variables: {{ color: blue }}
      - name: prod
        variables: {{ color: red }}
"#,
        addr = backend.addr()
    )
}

/// Runs `tollgate test-invoke CONFIG ARGS...`; returns (exit code, stdout lines, stderr).
fn test_invoke(yaml: &str, args: &[&str]) -> (i32, Vec<String>, String) {
    let dir = temp_dir("invoke");
    let file = dir.join("gateway.yaml");
    std::fs::write(&file, yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("test-invoke")
        .arg(&file)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    (
        out.status.code().unwrap_or(-1),
        stdout.lines().map(str::to_string).collect(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The first line starting with `prefix`, or a panic that shows the whole output.
fn line<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line `{prefix}...` in:\n{}", lines.join("\n")))
}

/// Lines in the order they must appear.
fn assert_in_order(lines: &[String], expected: &[&str]) {
    let mut at = 0;
    for e in expected {
        match lines[at..].iter().position(|l| l == e) {
            Some(i) => at += i + 1,
            None => panic!("`{e}` missing or out of order in:\n{}", lines.join("\n")),
        }
    }
}

#[test]
fn test_invoke_mock_method() {
    let backend = Backend::start();
    let yaml = config(&backend);
    let (code, lines, err) = test_invoke(
        &yaml,
        &["--path", "/pets/0?verbose=yes", "-H", "X-Trace: abc"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(lines[0], "Status: 404");
    assert_in_order(
        &lines,
        &[
            r#"Response body: {"message": "no pet 0"}"#,
            "HTTP Method: GET, Resource Path: /pets/{id}",
            "Method request path: {id=0}",
            "Method request query string: {verbose=yes}",
            "Method request headers: {X-Trace=abc}",
            "Method request body before transformations: ",
            r#"Endpoint request body after transformations: {"statusCode": 404}"#,
            "MOCK integration: statusCode 404",
            r#"Method response body after transformations: {"message": "no pet 0"}"#,
            "Successfully completed execution",
            "Method completed with status: 404",
            "Timing per stage (microseconds):",
        ],
    );
    let id = line(&lines, "Execution log for request ")
        .trim_start_matches("Execution log for request ")
        .to_string();
    assert_eq!(id.len(), 36, "a UUID request id");
    assert!(line(&lines, "Response headers: ").contains(&format!("x-amzn-RequestId={id}")));
    for stage in [
        "resolve",
        "request mapping",
        "integration",
        "response mapping",
        "total",
    ] {
        let l = line(&lines, &format!("  {stage} "));
        let n: u64 = l[stage.len() + 2..].trim().parse().unwrap();
        assert!(n < 10_000_000, "{l}");
    }
}

#[test]
fn test_invoke_http_method_calls_the_real_backend() {
    let backend = Backend::start();
    let yaml = config(&backend);
    let (code, lines, err) = test_invoke(
        &yaml,
        &[
            "--method",
            "POST",
            "--path",
            "/pets/7",
            "--stage",
            "prod",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"name":"Rex"}"#,
        ],
    );
    assert_eq!(code, 0, "{err}");
    let url = format!("http://{}/raw-echo", backend.addr());
    let sent = r#"{"petId": "7", "name": "Rex"}"#;
    assert_eq!(lines[0], "Status: 201");
    assert_in_order(
        &lines,
        &[
            "Response body: Pet 7 is Rex (red)",
            "HTTP Method: POST, Resource Path: /pets/{id}",
            "Method request path: {id=7}",
            "Method request query string: {}",
            "Method request headers: {Content-Type=application/json}",
            r#"Method request body before transformations: {"name":"Rex"}"#,
            &format!("Endpoint request URI: {url}"),
            "Endpoint request method: POST",
            &format!("Endpoint request body after transformations: {sent}"),
            &format!("Sending request to {url}"),
        ],
    );
    let headers = line(&lines, "Endpoint request headers: ");
    let expected_start = format!(
        "Endpoint request headers: {{Host={}, Accept=application/json, User-Agent=AmazonAPIGateway_inv123, X-Amzn-Apigateway-Api-Id=inv123, X-Amzn-Trace-Id=Root=1-",
        backend.addr()
    );
    assert!(headers.starts_with(&expected_start), "{headers}");
    assert!(
        headers.ends_with(&format!(
            ", Content-Type=application/json, Content-Length={}}}",
            sent.len()
        )),
        "{headers}"
    );
    assert!(
        line(&lines, "Received response. ")
            .starts_with("Received response. Status: 200, Integration latency: ")
    );
    assert_in_order(
        &lines,
        &[
            &format!("Endpoint response body before transformations: {sent}"),
            "Method response body after transformations: Pet 7 is Rex (red)",
            "Successfully completed execution",
            "Method completed with status: 201",
        ],
    );
    assert!(line(&lines, "Endpoint response headers: {").contains("Content-Type=application/json"));
}

#[test]
fn test_invoke_reports_a_gateway_response() {
    let backend = Backend::start();
    let yaml = config(&backend);
    let (code, lines, err) = test_invoke(&yaml, &["--method", "DELETE", "--path", "/pets/1"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(lines[0], "Status: 403");
    assert_in_order(
        &lines,
        &[
            r#"Response body: {"message":"Missing Authentication Token"}"#,
            "Gateway response type: MISSING_AUTHENTICATION_TOKEN with status code: 403",
            r#"Gateway response body: {"message":"Missing Authentication Token"}"#,
            "Method completed with status: 403",
        ],
    );
    assert!(
        !lines
            .iter()
            .any(|l| l == "Successfully completed execution")
    );
    // An unknown stage is a usage error, not a request.
    let (code, _, err) = test_invoke(&yaml, &["--path", "/pets/1", "--stage", "nope"]);
    assert_ne!(code, 0);
    assert!(err.contains("no stage `nope`"), "{err}");
}

#[test]
fn test_invoke_logs_request_validation() {
    let yaml = r##"
apis:
  - name: v
    openapi:
      openapi: "3.0.1"
      info: { title: v, version: "1" }
      x-amazon-apigateway-request-validators:
        all: { validateRequestBody: true, validateRequestParameters: true }
      x-amazon-apigateway-request-validator: all
      paths:
        /pets:
          post:
            parameters:
              - { name: X-Tenant, in: header, required: true, schema: { type: string } }
            requestBody:
              content:
                application/json:
                  schema: { type: object, required: [name] }
            x-amazon-apigateway-integration:
              type: mock
              requestTemplates: { application/json: '{"statusCode": 200}' }
              responses: { default: { statusCode: "200" } }
    stages:
      - name: dev
"##;
    let (code, lines, err) = test_invoke(yaml, &["--method", "POST", "--path", "/pets"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(lines[0], "Status: 400");
    let missing = r#"{"message": "Missing required request parameters: [X-Tenant]"}"#;
    assert_in_order(
        &lines,
        &[
            "Request validation failed: Missing required request parameters: [X-Tenant]",
            "Gateway response type: BAD_REQUEST_PARAMETERS with status code: 400",
            &format!("Gateway response body: {missing}"),
            "Method completed with status: 400",
        ],
    );
    let args = [
        "--method",
        "POST",
        "--path",
        "/pets",
        "-H",
        "X-Tenant: a",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"name": "Rex"}"#,
    ];
    let (code, lines, err) = test_invoke(yaml, &args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(lines[0], "Status: 200");
    assert_in_order(
        &lines,
        &[
            "Request validation succeeded for content type application/json",
            "Method completed with status: 200",
        ],
    );
}
