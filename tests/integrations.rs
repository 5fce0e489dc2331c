//! Integrations through the real gateway and a real backend process: HTTP_PROXY, HTTP
//! (non-proxy) and MOCK; requestParameters mappings; stage variables in URIs; and the AWS
//! answers when the backend is down, slow or broken (aws-behavior §6, conformance errors/).

use crate::support::{Backend, Gateway, get, request};

fn api(paths: &str, stage_vars: &str) -> String {
    format!(
        r#"
apis:
  - name: integ
    id: integ123
    openapi:
      openapi: "3.0.1"
      info: {{ title: integ, version: "1" }}
      paths:
{paths}
    stages:
      - name: dev
        variables: {{ {stage_vars} }}
      - name: empty
"#
    )
}

fn proxy_paths() -> &'static str {
    r#"
        /proxy/{proxy+}:
          x-amazon-apigateway-any-method:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: ANY
              uri: "http://${stageVariables.backend}/{proxy}"
              requestParameters:
                integration.request.path.proxy: method.request.path.proxy
                integration.request.header.X-Mapped-Literal: "'static-value'"
                integration.request.header.X-From-Query: method.request.querystring.who
                integration.request.header.X-Stage-Var: stageVariables.color
                integration.request.querystring.added: "'yes'"
        /users/{id}:
          get:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: POST
              uri: "http://${stageVariables.backend}/echo/user/{uid}"
              requestParameters:
                integration.request.path.uid: method.request.path.id
        /slow:
          get:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: GET
              uri: "http://${stageVariables.backend}/delay/1500"
              timeoutInMillis: 300
        /down:
          get:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: GET
              uri: "http://127.0.0.1:9/nothing-listens-here"
        /broken:
          get:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: GET
              uri: "http://${stageVariables.backend}/close-mid"
        /garbage:
          get:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: GET
              uri: "http://${stageVariables.backend}/garbage"
        /transfer-encoding:
          get:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: POST
              uri: "http://${stageVariables.backend}/echo"
              requestParameters:
                integration.request.header.Transfer-Encoding: "'deflate'"
        /path1:
          get:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: POST
              uri: "http://${stageVariables.TestHost}/${stageVariables.testPath}?${stageVariables.querystring}"
        /{map+}:
          post:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: POST
              uri: "http://${stageVariables.backend}/{map}"
              requestParameters:
                integration.request.path.map: method.request.path.map
        /headers:
          get:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: GET
              uri: "http://${stageVariables.backend}/headers"
"#
}

fn start(backend: &Backend) -> Gateway {
    let vars = format!(
        "backend: '{b}', color: blue, TestHost: '{b}', testPath: echo/test-path, querystring: 'qs_key=qs_value'",
        b = backend.addr()
    );
    Gateway::start_yaml(&api(proxy_paths(), &vars), &[])
}

fn header<'a>(echo: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .and_then(|h| h[1].as_str())
}

#[test]
fn http_proxy_forwards_path_query_headers_and_body() {
    let backend = Backend::start();
    let gw = start(&backend);
    let r = request(
        "PUT",
        &gw.url("/dev/proxy/echo/a%2Bb/c?who=alice&x=1&x=2"),
        &[
            ("X-Custom", "kept"),
            ("Content-Type", "text/plain"),
            ("X-Forwarded-For", "10.0.0.1"),
        ],
        Some("the body"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let echo = r.json();
    assert_eq!(echo["method"], "PUT");
    assert_eq!(
        echo["path"], "/echo/a%2Bb/c",
        "greedy value substituted raw"
    );
    assert_eq!(echo["query"], "who=alice&x=1&x=2&added=yes");
    assert_eq!(echo["body"], "the body");
    assert_eq!(header(&echo, "X-Custom"), Some("kept"));
    assert_eq!(header(&echo, "Content-Type"), Some("text/plain"));
    assert_eq!(header(&echo, "X-Mapped-Literal"), Some("static-value"));
    assert_eq!(header(&echo, "X-From-Query"), Some("alice"));
    assert_eq!(header(&echo, "X-Stage-Var"), Some("blue"));
    assert_eq!(
        header(&echo, "X-Forwarded-For"),
        Some("10.0.0.1, 127.0.0.1")
    );
    assert_eq!(header(&echo, "X-Amzn-Apigateway-Api-Id"), Some("integ123"));
    assert_eq!(header(&echo, "Host"), Some(backend.addr().as_str()));
    assert!(r.header("x-amzn-RequestId").is_some());
}

#[test]
fn http_proxy_uses_the_integration_method_and_mapped_path() {
    let backend = Backend::start();
    let gw = start(&backend);
    let r = get(&gw.url("/dev/users/42"));
    assert_eq!(r.status, 200);
    let echo = r.json();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/echo/user/42");
}

#[test]
fn http_proxy_passes_backend_status_and_remaps_reserved_headers() {
    let backend = Backend::start();
    let gw = start(&backend);
    // conformance errors/029: HTTP_PROXY passes a backend 400 through.
    let r = request("POST", &gw.url("/dev/status/400"), &[], None);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        serde_json::json!({"message": "", "status_code": 400})
    );
    // aws-behavior §6.4: Server and Date from the backend become x-amzn-Remapped-*.
    let r = get(&gw.url("/dev/headers"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-backend"), Some("yes"));
    assert_eq!(r.header("set-cookie"), Some("a=1"));
    assert!(
        r.header("x-amzn-Remapped-Server")
            .unwrap()
            .contains("Python")
    );
    assert!(r.header("x-amzn-Remapped-Date").is_some());
    assert!(r.header("x-amzn-Remapped-Content-Length").is_some());
}

#[test]
fn backend_down_is_500_and_timeout_is_504() {
    let backend = Backend::start();
    let gw = start(&backend);
    let r = get(&gw.url("/dev/down"));
    assert_eq!(r.status, 500);
    assert_eq!(r.body, r#"{"message": "Internal server error"}"#);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("InternalServerErrorException")
    );
    let started = std::time::Instant::now();
    let r = get(&gw.url("/dev/slow"));
    assert_eq!(r.status, 504);
    assert_eq!(r.body, r#"{"message": "Endpoint request timed out"}"#);
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1400),
        "timeoutInMillis 300 must cut the 1.5 s call"
    );
    // The gateway is still healthy afterwards.
    assert_eq!(get(&gw.url("/dev/users/1")).status, 200);
}

#[test]
fn broken_backend_responses_are_504_not_hangs() {
    let backend = Backend::start();
    let gw = start(&backend);
    for path in ["/dev/broken", "/dev/garbage"] {
        let r = get(&gw.url(path));
        assert_eq!(r.status, 504, "{path}: {}", r.body);
        assert_eq!(
            r.body,
            r#"{"message": "Network error communicating with endpoint"}"#
        );
    }
}

#[test]
fn illegal_header_mapping_is_500_conformance_019() {
    let backend = Backend::start();
    let gw = start(&backend);
    let r = get(&gw.url("/dev/transfer-encoding"));
    assert_eq!(r.status, 500);
    assert_eq!(r.body, r#"{"message": "Internal server error"}"#);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("InternalServerErrorException")
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[test]
fn stage_variables_in_uri_conformance_024() {
    let backend = Backend::start();
    let gw = start(&backend);
    let r = get(&gw.url("/dev/path1"));
    assert_eq!(r.status, 200, "{}", r.body);
    let echo = r.json();
    assert_eq!(echo["path"], "/echo/test-path");
    assert_eq!(echo["query"], "qs_key=qs_value");
    // Stage `empty` defines none of them: the URI has no host → 500.
    let r = get(&gw.url("/empty/path1"));
    assert_eq!(r.status, 500);
    assert_eq!(r.body, r#"{"message": "Internal server error"}"#);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("InternalServerErrorException")
    );
}

fn http_paths() -> &'static str {
    r#"
        /status/{code}:
          get:
            x-amazon-apigateway-integration:
              type: http
              httpMethod: GET
              uri: "http://${stageVariables.backend}/status/{code}"
              requestParameters:
                integration.request.path.code: method.request.path.code
              responses:
                "4\\d{2}":
                  statusCode: "400"
                  responseParameters:
                    method.response.header.X-Backend-Type: integration.response.header.Content-Type
                    method.response.header.X-Literal: "'lit'"
                default:
                  statusCode: "200"
        /echo:
          post:
            x-amazon-apigateway-integration:
              type: http
              httpMethod: POST
              uri: "http://${stageVariables.backend}/echo"
              requestParameters:
                integration.request.querystring.mapped: method.request.querystring.q
                integration.request.header.X-Mapped: method.request.header.X-In
              responses:
                default:
                  statusCode: "200"
        /never:
          post:
            x-amazon-apigateway-integration:
              type: http
              httpMethod: POST
              uri: "http://${stageVariables.backend}/echo"
              passthroughBehavior: never
              requestTemplates:
                application/xml: "<static/>"
              responses:
                default:
                  statusCode: "200"
        /no-match:
          get:
            x-amazon-apigateway-integration:
              type: http
              httpMethod: GET
              uri: "http://${stageVariables.backend}/status/404"
              responses:
                "2\\d{2}":
                  statusCode: "200"
        /c028/{map+}:
          post:
            x-amazon-apigateway-integration:
              type: http
              httpMethod: POST
              uri: "http://${stageVariables.backend}/{map}"
              requestParameters:
                integration.request.path.map: method.request.path.map
              responses:
                default:
                  statusCode: "200"
                  responseTemplates:
                    application/json: "$input.json('$')"
        /mock/{code}:
          get:
            x-amazon-apigateway-integration:
              type: mock
              requestTemplates:
                application/json: '{"statusCode": 404}'
              responses:
                "404":
                  statusCode: "404"
                  responseTemplates:
                    application/json: '{"message": "not here"}'
                default:
                  statusCode: "200"
"#
}

#[test]
fn http_integration_selects_responses_by_backend_status() {
    let backend = Backend::start();
    let gw = Gateway::start_yaml(
        &api(http_paths(), &format!("backend: '{}'", backend.addr())),
        &[],
    );
    // AWS-validated (aws-behavior §6.3): 404 matches 4\d{2} → 400; 201 → default 200.
    let r = get(&gw.url("/dev/status/404"));
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-backend-type"), Some("application/json"));
    assert_eq!(r.header("x-literal"), Some("lit"));
    assert_eq!(
        r.json()["status_code"],
        404,
        "no template: the backend body passes through"
    );
    let r = get(&gw.url("/dev/status/201"));
    assert_eq!(r.status, 200);
    // conformance errors/028: a backend 400 with only a default response becomes 200... here 400
    // matches 4\d{2}; with no matching pattern and no default, AWS answers 500.
    let r = get(&gw.url("/dev/no-match"));
    assert_eq!(r.status, 500);
    assert_eq!(r.body, r#"{"message": "Internal server error"}"#);
}

#[test]
fn http_integration_sends_only_mapped_parameters() {
    let backend = Backend::start();
    let gw = Gateway::start_yaml(
        &api(http_paths(), &format!("backend: '{}'", backend.addr())),
        &[],
    );
    let r = request(
        "POST",
        &gw.url("/dev/echo?q=hello+world&other=1"),
        &[
            ("X-In", "in-value"),
            ("X-Not-Mapped", "dropped"),
            ("Content-Type", "application/json"),
        ],
        Some(r#"{"a":1}"#),
    );
    assert_eq!(r.status, 200);
    let echo = r.json();
    assert_eq!(echo["query"], "mapped=hello+world");
    assert_eq!(echo["body"], r#"{"a":1}"#);
    assert_eq!(header(&echo, "X-Mapped"), Some("in-value"));
    assert_eq!(header(&echo, "X-Not-Mapped"), None);
    assert_eq!(header(&echo, "Accept"), Some("application/json"));
    assert_eq!(
        header(&echo, "User-Agent"),
        Some("AmazonAPIGateway_integ123")
    );
    assert!(
        header(&echo, "X-Amzn-Trace-Id")
            .unwrap()
            .starts_with("Root=1-")
    );
}

#[test]
fn passthrough_never_is_415() {
    let backend = Backend::start();
    let gw = Gateway::start_yaml(
        &api(http_paths(), &format!("backend: '{}'", backend.addr())),
        &[],
    );
    let r = request(
        "POST",
        &gw.url("/dev/never"),
        &[("Content-Type", "application/json")],
        Some("{}"),
    );
    assert_eq!(r.status, 415);
    assert_eq!(r.body, r#"{"message": "Unsupported Media Type"}"#);
    let r = request(
        "POST",
        &gw.url("/dev/never"),
        &[("Content-Type", "application/xml")],
        Some("<x/>"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["body"], "<static/>");
}

#[test]
fn mock_status_from_request_template() {
    let gw = Gateway::start_yaml(&api(http_paths(), "backend: '127.0.0.1:9'"), &[]);
    let r = get(&gw.url("/dev/mock/1"));
    assert_eq!(r.status, 404);
    assert_eq!(r.body, r#"{"message": "not here"}"#);
}

#[test]
fn bundled_petstore_example_serves() {
    let gw = Gateway::start_file(&crate::support::root().join("config/petstore.yaml"), &[]);
    let r = get(&gw.url("/dev/pets"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json().as_array().unwrap().len(), 3);
    let r = request("POST", &gw.url("/dev/pets"), &[], Some("{}"));
    assert_eq!(r.status, 201);
}

#[test]
fn http_backend_400_with_only_a_default_response_is_200_conformance_028() {
    let backend = Backend::start();
    let gw = Gateway::start_yaml(
        &api(http_paths(), &format!("backend: '{}'", backend.addr())),
        &[],
    );
    let r = request("POST", &gw.url("/dev/c028/status/400"), &[], None);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        serde_json::json!({"message": "", "status_code": 400})
    );
    assert_eq!(
        r.body, r#"{"status_code":400,"message":""}"#,
        "$input.json re-serialises compactly"
    );
}
