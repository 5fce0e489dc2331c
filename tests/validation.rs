//! Request validators through the real gateway (aws-behavior §10): what passes, what is
//! refused with which message, blank values, per-operation overrides of the API's default
//! validator, models by content type, Swagger 2 body parameters. The conformance cases
//! 005-011 run in `conformance_errors.rs`.

use crate::support::{Gateway, request};

fn openapi3() -> &'static str {
    r##"
apis:
  - name: v
    openapi:
      openapi: "3.0.1"
      info: { title: v, version: "1" }
      x-amazon-apigateway-request-validators:
        all: { validateRequestBody: true, validateRequestParameters: true }
        params-only: { validateRequestBody: false, validateRequestParameters: true }
        none: { validateRequestBody: false, validateRequestParameters: false }
      x-amazon-apigateway-request-validator: all
      components:
        schemas:
          Pet:
            type: object
            properties:
              name: { type: string, minLength: 1 }
              price: { type: number, minimum: 0 }
              tags: { type: array, items: { $ref: "#/components/schemas/Tag" } }
            required: [name]
          Tag:
            type: object
            properties: { label: { type: string } }
            required: [label]
      paths:
        /pets/{id}:
          post:
            parameters:
              - { name: id, in: path, required: true, schema: { type: string } }
              - { name: X-Tenant, in: header, required: true, schema: { type: string } }
              - { name: dryRun, in: query, required: true, schema: { type: string } }
              - { name: optional, in: query, required: false, schema: { type: string } }
            requestBody:
              content:
                application/json: { schema: { $ref: "#/components/schemas/Pet" } }
                text/csv: { schema: { type: string } }
            x-amazon-apigateway-integration: &mock
              type: mock
              requestTemplates:
                application/json: '{"statusCode": 200}'
                text/csv: '{"statusCode": 200}'
              responses:
                default:
                  statusCode: "200"
                  responseTemplates: { application/json: '{"ok": true}' }
          put:
            x-amazon-apigateway-request-validator: params-only
            parameters:
              - { name: X-Tenant, in: header, required: true, schema: { type: string } }
            requestBody:
              content:
                application/json: { schema: { $ref: "#/components/schemas/Pet" } }
            x-amazon-apigateway-integration: *mock
          delete:
            x-amazon-apigateway-request-validator: none
            parameters:
              - { name: X-Tenant, in: header, required: true, schema: { type: string } }
            x-amazon-apigateway-integration: *mock
    stages:
      - name: dev
"##
}

const GOOD: &str = r#"{"name": "Rex", "price": 10, "tags": [{"label": "dog"}]}"#;

fn post(gw: &Gateway, target: &str, headers: &[(&str, &str)], body: Option<&str>) -> (u16, String) {
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    let r = request("POST", &gw.url(target), &h, body);
    (r.status, r.body)
}

const MISSING_ALL: &str =
    r#"{"message": "Missing required request parameters: [X-Tenant, dryRun]"}"#;
const BAD_BODY: &str = r#"{"message": "Invalid request body"}"#;

#[test]
fn parameters_then_body_with_aws_messages() {
    let gw = Gateway::start_yaml(openapi3(), &[]);
    let tenant = [("X-Tenant", "acme")];
    // Valid: reaches the integration.
    assert_eq!(
        post(&gw, "/dev/pets/1?dryRun=1", &tenant, Some(GOOD)),
        (200, r#"{"ok": true}"#.into())
    );
    // Every missing parameter is listed, headers before query strings; parameters are
    // checked before the body.
    assert_eq!(
        post(&gw, "/dev/pets/1", &[], Some("not json")),
        (400, MISSING_ALL.into())
    );
    // Blank values count as missing: `?dryRun=` and a header of spaces.
    assert_eq!(
        post(
            &gw,
            "/dev/pets/1?dryRun=",
            &[("X-Tenant", "  ")],
            Some(GOOD)
        ),
        (400, MISSING_ALL.into())
    );
    // The query string is decoded before the lookup; the last value wins.
    assert_eq!(
        post(&gw, "/dev/pets/1?dry%52un=&dryRun=yes", &tenant, Some(GOOD)).0,
        200
    );
    // Bodies: not JSON, missing a required property, a wrong type deep in a referenced model,
    // and an empty body (validated as {}).
    for body in [
        Some("{oops"),
        Some(r#"{"price": 1}"#),
        Some(r#"{"name": "R", "tags": [{}]}"#),
        None,
    ] {
        assert_eq!(
            post(&gw, "/dev/pets/1?dryRun=1", &tenant, body),
            (400, BAD_BODY.into()),
            "{body:?}"
        );
    }
    let r = request(
        "POST",
        &gw.url("/dev/pets/1?dryRun=1"),
        &[("Content-Type", "application/json")],
        Some("{}"),
    );
    assert_eq!(r.header("x-amzn-ErrorType"), Some("BadRequestException"));
}

#[test]
fn models_by_content_type_and_per_method_validators() {
    let gw = Gateway::start_yaml(openapi3(), &[]);
    let tenant = ("X-Tenant", "acme");
    // text/csv has its own model (a string): a CSV body is not JSON, so it fails it.
    let r = request(
        "POST",
        &gw.url("/dev/pets/1?dryRun=1"),
        &[tenant, ("Content-Type", "text/csv")],
        Some("a,b"),
    );
    assert_eq!((r.status, r.body.as_str()), (400, BAD_BODY));
    // A JSON string satisfies it.
    let r = request(
        "POST",
        &gw.url("/dev/pets/1?dryRun=1"),
        &[tenant, ("Content-Type", "text/csv")],
        Some(r#""a,b""#),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // A content type without a model falls back to the application/json model.
    let r = request(
        "POST",
        &gw.url("/dev/pets/1?dryRun=1"),
        &[tenant, ("Content-Type", "application/xml")],
        Some("<pet/>"),
    );
    assert_eq!((r.status, r.body.as_str()), (400, BAD_BODY));
    // PUT overrides the API's default with params-only: a bad body passes, a missing header not.
    let r = request(
        "PUT",
        &gw.url("/dev/pets/1"),
        &[tenant, ("Content-Type", "application/json")],
        Some("{oops"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = request("PUT", &gw.url("/dev/pets/1"), &[], Some(GOOD));
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"message": "Missing required request parameters: [X-Tenant]"}"#
        )
    );
    // DELETE's validator checks nothing.
    assert_eq!(
        request("DELETE", &gw.url("/dev/pets/1"), &[], None).status,
        200
    );
}

#[test]
fn swagger2_body_parameters_and_consumes() {
    let yaml = r##"
apis:
  - name: s
    openapi:
      swagger: "2.0"
      info: { title: s, version: "1" }
      consumes: [application/json]
      x-amazon-apigateway-request-validators:
        body: { validateRequestBody: true, validateRequestParameters: false }
      definitions:
        Order:
          type: object
          properties: { qty: { type: integer, minimum: 1 } }
          required: [qty]
      paths:
        /orders:
          post:
            x-amazon-apigateway-request-validator: body
            parameters:
              - { name: X-Req, in: header, required: true, type: string }
              - { name: order, in: body, required: true, schema: { $ref: "#/definitions/Order" } }
            x-amazon-apigateway-integration:
              type: mock
              requestTemplates: { application/json: '{"statusCode": 200}' }
              responses: { default: { statusCode: "200" } }
    stages:
      - name: dev
"##;
    let gw = Gateway::start_yaml(yaml, &[]);
    let ct = ("Content-Type", "application/json");
    // Parameters are not validated by this validator: the missing X-Req header passes.
    assert_eq!(
        request("POST", &gw.url("/dev/orders"), &[ct], Some(r#"{"qty": 2}"#)).status,
        200
    );
    let r = request("POST", &gw.url("/dev/orders"), &[ct], Some(r#"{"qty": 0}"#));
    assert_eq!((r.status, r.body.as_str()), (400, BAD_BODY));
}

#[test]
fn validation_runs_before_the_cache() {
    // A cached GET whose cache key ignores the required header: a valid request fills the
    // entry, and a request without the header is still refused rather than served from it.
    let backend = crate::support::Backend::start();
    let yaml = format!(
        r##"
apis:
  - name: c
    openapi:
      openapi: "3.0.1"
      info: {{ title: c, version: "1" }}
      x-amazon-apigateway-request-validators:
        params: {{ validateRequestBody: false, validateRequestParameters: true }}
      x-amazon-apigateway-request-validator: params
      paths:
        /items:
          get:
            parameters:
              - {{ name: X-Tenant, in: header, required: true, schema: {{ type: string }} }}
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: GET
              uri: "http://{}/items"
    stages:
      - name: dev
        cache: {{ cacheClusterEnabled: true, cacheClusterSize: "0.5", cacheTtlInSeconds: 300 }}
        method_settings:
          "*/*": {{ cachingEnabled: true }}
"##,
        backend.addr()
    );
    let gw = Gateway::start_yaml(&yaml, &[]);
    let url = gw.url("/dev/items");
    // The backend echoes the request's headers: the second answer is the first one's (a hit).
    let first = request("GET", &url, &[("X-Tenant", "a")], None);
    let second = request("GET", &url, &[("X-Tenant", "b")], None);
    assert_eq!((first.status, second.status), (200, 200));
    assert!(first.body.contains(r#""a""#), "{}", first.body);
    assert_eq!(second.body, first.body, "the second GET is a cache hit");
    let r = request("GET", &url, &[], None);
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"message": "Missing required request parameters: [X-Tenant]"}"#
        )
    );
}
