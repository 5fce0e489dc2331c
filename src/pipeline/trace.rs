//! The per-request trace behind `tollgate test-invoke`: what the pipeline did to one
//! request, as AWS's execution log words it, and when each stage ended.
//!
//! The pipeline fills a trace only when [`Scratch::trace`](super::Scratch) is `Some`; every
//! hook is one `if let`, so a served request pays one branch per hook and nothing else.
//! Everything here (formatting, copying bodies) happens only in that traced case.
//!
//! Line wording follows the execution log of TestInvokeMethod (aws-behavior §1.1, from
//! LocalStack's AWS-validated snapshot `test_apigw_test_invoke_method_api`). Lines AWS has
//! no wording for (the endpoint request method, the MOCK status) are marked as ours in
//! docs/templates.md.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::{Reject, Target};
use crate::http::request::Request;
use crate::integration::upstream::{BackendResponse, UpstreamError};
use crate::validate::Invalid;

/// Bodies longer than this are cut in the log, as AWS cuts logged bodies (it keeps
/// 1 KB in CloudWatch; a local tool can afford more).
pub const MAX_LOGGED_BODY: usize = 64 * 1024;

/// Header lines shown per map; a pathological request cannot make the log unbounded.
pub const MAX_LOGGED_HEADERS: usize = 256;

/// The stages a trace times, in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// API, stage, resource and method found.
    Resolve,
    /// Parameter mappings and the request template applied; the endpoint request built.
    RequestMapping,
    /// The backend answered (or the MOCK status was chosen).
    Integration,
    /// The integration response selected, mapped and the method response written.
    ResponseMapping,
}

impl Stage {
    /// The name printed in the timing table.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Resolve => "resolve",
            Stage::RequestMapping => "request mapping",
            Stage::Integration => "integration",
            Stage::ResponseMapping => "response mapping",
        }
    }
}

/// One request's execution log and stage timings.
#[derive(Debug)]
pub struct Trace {
    start: Instant,
    /// When each stage ended, in order.
    pub marks: Vec<(Stage, Duration)>,
    /// Execution-log lines, in order.
    pub lines: Vec<String>,
    /// `x-amzn-RequestId` of the traced request, once resolved.
    pub request_id: String,
    /// A gateway response replaced the normal answer.
    pub rejected: bool,
    sent_at: Option<Instant>,
}

impl Default for Trace {
    fn default() -> Self {
        Trace::new()
    }
}

impl Trace {
    /// A trace whose clock starts now.
    pub fn new() -> Self {
        Trace {
            start: Instant::now(),
            marks: Vec::new(),
            lines: Vec::new(),
            request_id: String::new(),
            rejected: false,
            sent_at: None,
        }
    }

    /// Time since the trace started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Records the end of `stage`.
    pub fn mark(&mut self, stage: Stage) {
        let at = self.elapsed();
        self.marks.push((stage, at));
    }

    /// Appends a log line.
    pub fn line(&mut self, text: impl Into<String>) {
        self.lines.push(text.into());
    }

    /// After RESOLVE: the method request as AWS logs it.
    pub(super) fn method_request(&mut self, req: &Request<'_>, t: &Target<'_, '_>) {
        self.mark(Stage::Resolve);
        self.request_id = t.request_id().to_string();
        let id = t.request_id();
        self.line(format!("Starting execution for request: {id}"));
        self.line(format!(
            "HTTP Method: {}, Resource Path: {}",
            req.method, t.method.resource_path
        ));
        let path = java_map(
            t.params
                .iter()
                .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v).into_owned())),
        );
        self.line(format!("Method request path: {path}"));
        let query = java_map(req.query.into_iter().flat_map(|q| {
            q.split('&').filter(|kv| !kv.is_empty()).map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (
                    super::url_decode(k).into_owned(),
                    super::url_decode(v).into_owned(),
                )
            })
        }));
        self.line(format!("Method request query string: {query}"));
        let headers = java_map(
            req.headers
                .iter()
                .map(|h| (h.name.to_string(), lossy(h.value))),
        );
        self.line(format!("Method request headers: {headers}"));
        self.line(format!(
            "Method request body before transformations: {}",
            body_text(req.body)
        ));
    }

    /// Before the backend call: the endpoint request exactly as it goes on the wire.
    pub(super) fn endpoint_request(&mut self, url: &str, wire: &[u8]) {
        self.mark(Stage::RequestMapping);
        let mut headers = [httparse::EMPTY_HEADER; MAX_LOGGED_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        let (method, names, body) = match parsed.parse(wire) {
            Ok(httparse::Status::Complete(n)) => (
                parsed.method.unwrap_or(""),
                java_map(
                    parsed
                        .headers
                        .iter()
                        .map(|h| (h.name.to_string(), lossy(h.value))),
                ),
                &wire[n..],
            ),
            _ => ("", String::from("{}"), &wire[..0]),
        };
        self.line(format!("Endpoint request URI: {url}"));
        self.line(format!("Endpoint request method: {method}"));
        self.line(format!("Endpoint request headers: {names}"));
        self.line(format!(
            "Endpoint request body after transformations: {}",
            body_text(body)
        ));
        self.line(format!("Sending request to {url}"));
        self.sent_at = Some(Instant::now());
    }

    /// After the backend call: its answer, or why there is none.
    pub(super) fn endpoint_response(
        &mut self,
        result: &Result<(), UpstreamError>,
        backend: &BackendResponse,
    ) {
        self.mark(Stage::Integration);
        let latency = self.sent_at.map_or(0, |s| s.elapsed().as_millis());
        match result {
            Ok(()) => {
                self.line(format!(
                    "Received response. Status: {}, Integration latency: {latency} ms",
                    backend.status
                ));
                let headers = java_map(
                    backend
                        .header_iter()
                        .map(|(n, v)| (n.to_string(), lossy(v))),
                );
                self.line(format!("Endpoint response headers: {headers}"));
                self.line(format!(
                    "Endpoint response body before transformations: {}",
                    body_text(backend.body())
                ));
            }
            Err(UpstreamError::Timeout) => self.line("Execution failed due to a timeout error"),
            Err(e) => self.line(format!(
                "Execution failed due to configuration error: {}",
                upstream_text(e)
            )),
        }
    }

    /// MOCK: the rendered request template and the status it selected.
    pub(super) fn mock(&mut self, rendered: &[u8], status: u16) {
        self.mark(Stage::RequestMapping);
        self.line(format!(
            "Endpoint request body after transformations: {}",
            body_text(rendered)
        ));
        self.line(format!("MOCK integration: statusCode {status}"));
        self.mark(Stage::Integration);
    }

    /// A gateway response replaced the normal answer (AWS logs the type, then the body).
    /// AWS's execution-log lines for a request validator's verdict.
    pub(super) fn validation(&mut self, req: &Request<'_>, result: &Result<(), Invalid>) {
        let ct = super::media_type(req.header("content-type")).unwrap_or("application/json");
        match result {
            Ok(()) => self.line(format!(
                "Request validation succeeded for content type {ct}"
            )),
            Err(Invalid::Parameters(names)) => self.line(format!(
                "Request validation failed: Missing required request parameters: [{names}]"
            )),
            Err(Invalid::Body) => self.line(format!(
                "Request body does not match model schema for content type {ct}"
            )),
        }
    }

    pub(super) fn reject(&mut self, r: Reject) {
        self.reject_detail(r, None);
    }

    /// [`Trace::reject`] for a gateway response whose body carries a detail.
    pub(super) fn reject_detail(&mut self, r: Reject, detail: Option<&str>) {
        self.rejected = true;
        let status = r.status();
        let body = super::gateway_response::body(r, detail);
        self.line(format!(
            "Gateway response type: {} with status code: {status}",
            gateway_response_type(r)
        ));
        self.line(format!("Gateway response body: {body}"));
    }
}

/// The AWS gateway response type of a reject (DG: supported-gateway-response-types).
fn gateway_response_type(r: Reject) -> &'static str {
    match r {
        Reject::MissingAuthenticationToken => "MISSING_AUTHENTICATION_TOKEN",
        Reject::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
        Reject::ApiConfiguration => "API_CONFIGURATION_ERROR",
        Reject::IntegrationTimeout => "INTEGRATION_TIMEOUT",
        Reject::IntegrationFailure => "INTEGRATION_FAILURE",
        Reject::RequestTooLarge => "REQUEST_TOO_LARGE",
        Reject::Throttled => "THROTTLED",
        Reject::QuotaExceeded => "QUOTA_EXCEEDED",
        Reject::InvalidApiKey => "INVALID_API_KEY",
        Reject::CacheInvalidationDenied => "ACCESS_DENIED",
        Reject::BadRequestParameters => "BAD_REQUEST_PARAMETERS",
        Reject::BadRequestBody => "BAD_REQUEST_BODY",
        Reject::BadLambdaResponse => "DEFAULT_5XX",
        Reject::UnknownStage | Reject::BadRequest | Reject::HeadersTooLarge => "DEFAULT_4XX",
    }
}

fn upstream_text(e: &UpstreamError) -> String {
    match e {
        UpstreamError::Resolve => "Invalid endpoint address".to_string(),
        UpstreamError::Connect(io) => format!("Unable to connect to the endpoint: {io}"),
        UpstreamError::Timeout => "timeout".to_string(),
        UpstreamError::Broken(why) => format!("Invalid endpoint response: {why}"),
    }
}

/// Bytes as text, cut at [`MAX_LOGGED_BODY`] with AWS's `[TRUNCATED]` marker.
pub fn body_text(b: &[u8]) -> String {
    if b.len() > MAX_LOGGED_BODY {
        let mut s = String::from_utf8_lossy(&b[..MAX_LOGGED_BODY]).into_owned();
        s.push_str(" [TRUNCATED]");
        s
    } else {
        String::from_utf8_lossy(b).into_owned()
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `{k=v, k2=v2}`: how AWS's log prints a map (Java `Map.toString()`), bounded.
pub fn java_map(entries: impl Iterator<Item = (String, String)>) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in entries.take(MAX_LOGGED_HEADERS).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{k}={v}");
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_print_like_java() {
        let m = java_map(
            [("a", "1"), ("b", "x y")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        assert_eq!(m, "{a=1, b=x y}");
        assert_eq!(java_map(std::iter::empty()), "{}");
    }

    #[test]
    fn long_bodies_are_cut() {
        let big = vec![b'a'; MAX_LOGGED_BODY + 10];
        let s = body_text(&big);
        assert!(s.ends_with("a [TRUNCATED]"));
        assert_eq!(s.len(), MAX_LOGGED_BODY + " [TRUNCATED]".len());
        assert_eq!(body_text(b"{}"), "{}");
    }

    #[test]
    fn endpoint_request_is_read_back_from_the_wire() {
        let mut t = Trace::new();
        t.endpoint_request(
            "http://127.0.0.1:9/x?a=1",
            b"POST /x?a=1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nContent-Length: 2\r\n\r\nhi",
        );
        assert_eq!(
            t.lines,
            [
                "Endpoint request URI: http://127.0.0.1:9/x?a=1",
                "Endpoint request method: POST",
                "Endpoint request headers: {Host=127.0.0.1:9, Content-Length=2}",
                "Endpoint request body after transformations: hi",
                "Sending request to http://127.0.0.1:9/x?a=1",
            ]
        );
        assert_eq!(t.marks.len(), 1);
        assert_eq!(t.marks[0].0, Stage::RequestMapping);
    }
}
