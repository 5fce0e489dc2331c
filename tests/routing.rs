//! Routing through the real gateway: AWS precedence (static > {param} > {proxy+}, with
//! backtracking, method-aware), ANY, stages, custom domains and base paths, and AWS's
//! 403 `Missing Authentication Token` for every miss (aws-behavior §2.3).

use crate::support::{Gateway, get, request};

/// A MOCK method whose response body names its resource, so a test sees which one matched.
fn mock(name: &str) -> String {
    format!(
        r#"
            x-amazon-apigateway-integration:
              type: mock
              requestTemplates: {{ application/json: '{{"statusCode": 200}}' }}
              responses:
                default:
                  statusCode: "200"
                  responseTemplates: {{ application/json: '{{"matched": "{name}"}}' }}"#
    )
}

fn gateway() -> Gateway {
    let yaml = format!(
        r#"
apis:
  - name: routes
    openapi:
      openapi: "3.0.1"
      info: {{ title: routes, version: "1" }}
      paths:
        /:
          get:{root}
        /part1:
          get:{p1}
        /part1/hardcoded-value:
          get:{p1h}
        /{{param+}}:
          get:{greedy}
          options:{greedy_opt}
        /test:
          post:{test_post}
        /test/any:
          x-amazon-apigateway-any-method:{test_any}
          delete:{test_delete}
        /pets/{{petId}}:
          get:{pet}
        /pets/{{petId}}/toys:
          get:{toys}
    stages:
      - name: dev
      - name: prod
domains:
  - name: api.example.test
    mappings:
      - base_path: ""
        api: routes
        stage: prod
      - base_path: v1/orders
        api: routes
        stage: dev
"#,
        root = mock("/"),
        p1 = mock("/part1"),
        p1h = mock("/part1/hardcoded-value"),
        greedy = mock("/{param+} GET"),
        greedy_opt = mock("/{param+} OPTIONS"),
        test_post = mock("/test POST"),
        test_any = mock("/test/any ANY"),
        test_delete = mock("/test/any DELETE"),
        pet = mock("/pets/{petId}"),
        toys = mock("/pets/{petId}/toys"),
    );
    Gateway::start_yaml(&yaml, &[])
}

fn matched(gw: &Gateway, method: &str, path: &str) -> String {
    let r = request(method, &gw.url(path), &[], None);
    assert_eq!(r.status, 200, "{method} {path}: {}", r.body);
    r.json()["matched"].as_str().unwrap().to_string()
}

fn assert_missing_token(gw: &Gateway, method: &str, path: &str) {
    let r = request(method, &gw.url(path), &[], None);
    assert_eq!(r.status, 403, "{method} {path}");
    assert_eq!(r.body, r#"{"message":"Missing Authentication Token"}"#);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("MissingAuthenticationTokenException")
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[test]
fn aws_precedence_with_backtracking() {
    let gw = gateway();
    // The AWS-validated example (aws-behavior §2.3 rule 4).
    assert_eq!(matched(&gw, "GET", "/dev/part1"), "/part1");
    assert_eq!(
        matched(&gw, "GET", "/dev/part1/hardcoded-value"),
        "/part1/hardcoded-value"
    );
    assert_eq!(
        matched(&gw, "GET", "/dev/part1/random-value"),
        "/{param+} GET"
    );
    assert_eq!(matched(&gw, "GET", "/dev/"), "/");
    assert_eq!(matched(&gw, "GET", "/dev"), "/");
    assert_eq!(matched(&gw, "GET", "/dev/pets/42"), "/pets/{petId}");
    assert_eq!(
        matched(&gw, "GET", "/dev/pets/42/toys"),
        "/pets/{petId}/toys"
    );
    assert_eq!(matched(&gw, "GET", "/dev/pets/42/toys/x"), "/{param+} GET");
}

#[test]
fn method_aware_matching_and_any() {
    let gw = gateway();
    // Rule 5: /test has only POST, so OPTIONS /test goes to the greedy resource's OPTIONS.
    assert_eq!(matched(&gw, "OPTIONS", "/dev/test"), "/{param+} OPTIONS");
    assert_eq!(matched(&gw, "POST", "/dev/test"), "/test POST");
    assert_eq!(matched(&gw, "GET", "/dev/test/any"), "/test/any ANY");
    assert_eq!(matched(&gw, "OPTIONS", "/dev/test/any"), "/test/any ANY");
    // Rule 6: a specific method beats ANY on the same resource.
    assert_eq!(matched(&gw, "DELETE", "/dev/test/any"), "/test/any DELETE");
}

#[test]
fn trailing_and_double_slashes() {
    let gw = gateway();
    assert_eq!(matched(&gw, "GET", "/dev/part1/"), "/part1");
    assert_eq!(matched(&gw, "GET", "/dev//part1"), "/part1");
    assert_eq!(matched(&gw, "GET", "//dev/part1"), "/part1");
    assert_eq!(
        matched(&gw, "GET", "/dev/pets/a%2Bb@c/toys"),
        "/pets/{petId}/toys"
    );
}

#[test]
fn misses_are_403_missing_authentication_token() {
    let gw = gateway();
    // conformance errors/001 and /002: unknown path, and a known path with an undefined method.
    assert_missing_token(&gw, "POST", "/dev/pets/1");
    assert_missing_token(&gw, "PUT", "/dev/part1");
    assert_missing_token(&gw, "PATCH", "/dev/test");
    assert_missing_token(&gw, "PUT", "/dev/no/such/thing");
    // A miss on /test's own methods still backtracks to the greedy GET.
    assert_eq!(matched(&gw, "GET", "/dev/test"), "/{param+} GET");
    // GET does not serve HEAD on AWS.
    let r = request("HEAD", &gw.url("/dev/part1"), &[], None);
    assert_eq!(r.status, 403);
    assert_eq!(r.body, "");
}

#[test]
fn unknown_stage_is_403_forbidden() {
    let gw = gateway();
    let r = get(&gw.url("/nostage/part1"));
    assert_eq!(r.status, 403);
    assert_eq!(r.body, r#"{"message":"Forbidden"}"#);
    let r = get(&gw.url("/"));
    assert_eq!(r.status, 403);
}

#[test]
fn custom_domain_base_paths() {
    let gw = gateway();
    let host = [("Host", "api.example.test")];
    let r = request("GET", &gw.url("/part1"), &host, None);
    assert_eq!(
        r.json()["matched"],
        "/part1",
        "empty base path serves the stage at /"
    );
    let r = request("GET", &gw.url("/v1/orders/pets/7"), &host, None);
    assert_eq!(
        r.json()["matched"],
        "/pets/{petId}",
        "longest base path wins"
    );
    let r = request("GET", &gw.url("/"), &host, None);
    assert_eq!(r.json()["matched"], "/");
    // On another host the default endpoint applies: /{stage}/...
    let r = request(
        "GET",
        &gw.url("/prod/part1"),
        &[("Host", "other.test")],
        None,
    );
    assert_eq!(r.json()["matched"], "/part1");
}

#[test]
fn startup_banner_lists_routes() {
    let gw = gateway();
    let banner = gw.banner.join("\n");
    assert!(banner.contains("stage dev at /dev"), "{banner}");
    assert!(banner.contains("/pets/{petId}/toys"), "{banner}");
    assert!(banner.contains("api.example.test:/v1/orders"), "{banner}");
}
