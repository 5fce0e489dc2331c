//! The Lambda **Invoke API** client side: the HTTP/1.1 request the gateway sends
//! (`POST /2015-03-31/functions/{FunctionName}/invocations`) and how the answer is read
//! (Lambda API reference: Invoke).
//!
//! The same request goes to AWS's regional endpoint (signed: the SigV4 part of this module
//! tree) or to Tollgate's own local function host (unsigned), always through the worker's
//! per-core [`crate::integration::upstream::Pool`], so the request path never blocks.

use std::time::SystemTime;

use super::credentials::Credentials;
use crate::http::response::{content_length, header};
use crate::integration::http::Origin;

/// Where Invoke API calls go.
#[derive(Debug, Clone)]
pub struct InvokeEndpoint {
    /// Scheme, host and port of the endpoint.
    pub origin: Origin,
    /// The region, for the signature's scope.
    pub region: String,
    /// `None`: send unsigned (the local function host).
    pub credentials: Option<std::sync::Arc<Credentials>>,
}

/// `X-Amz-Invocation-Type` (Lambda API reference: Invoke).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationType {
    /// Synchronous: wait for the function's result (what API Gateway uses by default).
    RequestResponse,
    /// Asynchronous: Lambda queues the event and answers 202 at once.
    Event,
    /// Validate parameters and permissions only; answers 204.
    DryRun,
}

impl InvocationType {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            InvocationType::RequestResponse => "RequestResponse",
            InvocationType::Event => "Event",
            InvocationType::DryRun => "DryRun",
        }
    }

    /// Parses a header value (case-sensitive, as Lambda is).
    pub fn parse(v: &str) -> Option<InvocationType> {
        match v {
            "RequestResponse" => Some(InvocationType::RequestResponse),
            "Event" => Some(InvocationType::Event),
            "DryRun" => Some(InvocationType::DryRun),
            _ => None,
        }
    }
}

/// The path of an Invoke call, the function name percent-encoded as one path segment (an
/// ARN's `:` included, as the AWS SDKs send it).
pub fn write_invoke_path(function: &str, qualifier: Option<&str>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"/2015-03-31/functions/");
    encode_segment(function, out);
    out.extend_from_slice(b"/invocations");
    if let Some(q) = qualifier {
        out.extend_from_slice(b"?Qualifier=");
        encode_segment(q, out);
    }
}

/// RFC 3986 unreserved characters pass; everything else is `%XX` (SigV4's canonical URI
/// encoding, so the signed path and the sent path are the same bytes).
fn encode_segment(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
    }
}

/// Writes a complete HTTP/1.1 Invoke request into `out` (cleared first). Unsigned when
/// `ep.credentials` is `None`; otherwise signed with SigV4 at `now` (`X-Amz-Date`,
/// `X-Amz-Security-Token`, `Authorization`), exactly as botocore signs Lambda calls.
pub fn write_invoke_request(
    ep: &InvokeEndpoint,
    function: &str,
    qualifier: Option<&str>,
    invocation_type: InvocationType,
    payload: &[u8],
    now: SystemTime,
    out: &mut Vec<u8>,
) -> Result<(), super::sigv4::SignError> {
    out.clear();
    out.extend_from_slice(b"POST ");
    let path_start = out.len();
    write_invoke_path(function, None, out);
    let path_end = out.len();
    if let Some(q) = qualifier {
        out.extend_from_slice(b"?Qualifier=");
        encode_segment(q, out);
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    header(out, "Host", ep.origin.host_header.as_bytes());
    let kind = invocation_type.as_str();
    header(out, "X-Amz-Invocation-Type", kind.as_bytes());
    header(out, "Content-Type", b"application/json");
    if let Some(c) = &ep.credentials {
        // The path bytes are ASCII (percent-encoded above); copy them out to sign.
        let path = String::from_utf8_lossy(&out[path_start..path_end]).into_owned();
        let query: Vec<(&str, &str)> = qualifier.map(|q| ("Qualifier", q)).into_iter().collect();
        let headers = [
            ("x-amz-invocation-type", kind),
            ("content-type", "application/json"),
        ];
        let req = super::sigv4::Request {
            method: "POST",
            host: &ep.origin.host_header,
            path: &path,
            query: &query,
            headers: &headers,
            payload,
        };
        super::sigv4::sign_invoke(c, &ep.region, &req, now, out)?;
    }
    content_length(out, payload.len());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(payload);
    Ok(())
}

/// What an Invoke answer means for the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeOutcome<'a> {
    /// The function returned: its result (200), or nothing for `Event` (202) / `DryRun` (204).
    Success(&'a [u8]),
    /// The function failed (`X-Amz-Function-Error: Unhandled|Handled`); `payload` is the
    /// error object (`errorMessage`, `errorType`, ...).
    FunctionError {
        /// The `X-Amz-Function-Error` value.
        kind: &'a str,
        /// The error object.
        payload: &'a [u8],
    },
    /// 429 `TooManyRequestsException`: concurrency or queue exhausted.
    Throttled,
    /// Any other Lambda service error (403 permission, 404 no function, 5XX).
    ServiceError {
        /// The status Lambda answered with.
        status: u16,
        /// Its error body.
        body: &'a [u8],
    },
}

/// Classifies an Invoke answer by status and `X-Amz-Function-Error`
/// (Lambda API reference: Invoke, "Response Syntax" and "Errors").
pub fn classify<'a>(
    status: u16,
    function_error: Option<&'a [u8]>,
    body: &'a [u8],
) -> InvokeOutcome<'a> {
    match status {
        200..=299 => match function_error {
            Some(kind) => InvokeOutcome::FunctionError {
                kind: std::str::from_utf8(kind).unwrap_or("Unhandled"),
                payload: body,
            },
            None => InvokeOutcome::Success(body),
        },
        429 => InvokeOutcome::Throttled,
        _ => InvokeOutcome::ServiceError { status, body },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn local() -> InvokeEndpoint {
        InvokeEndpoint {
            origin: Origin {
                https: false,
                host: "127.0.0.1".into(),
                port: 9001,
                host_header: "127.0.0.1:9001".into(),
                ip: "127.0.0.1".parse().ok(),
            },
            region: "us-east-1".into(),
            credentials: None,
        }
    }

    #[test]
    fn unsigned_request_bytes() {
        let mut out = Vec::new();
        write_invoke_request(
            &local(),
            "arn:aws:lambda:us-east-1:123456789012:function:hello",
            Some("live"),
            InvocationType::RequestResponse,
            b"{}",
            SystemTime::UNIX_EPOCH,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST /2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Ahello/invocations?Qualifier=live HTTP/1.1\r\n\
             Host: 127.0.0.1:9001\r\nX-Amz-Invocation-Type: RequestResponse\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
    }

    #[test]
    fn outcomes() {
        assert_eq!(classify(200, None, b"1"), InvokeOutcome::Success(b"1"));
        assert_eq!(classify(202, None, b""), InvokeOutcome::Success(b""));
        assert_eq!(
            classify(200, Some(b"Unhandled"), b"{}"),
            InvokeOutcome::FunctionError {
                kind: "Unhandled",
                payload: b"{}"
            }
        );
        assert_eq!(classify(429, None, b"x"), InvokeOutcome::Throttled);
        assert_eq!(
            classify(404, None, b"nf"),
            InvokeOutcome::ServiceError {
                status: 404,
                body: b"nf"
            }
        );
        assert_eq!(InvocationType::parse("Event"), Some(InvocationType::Event));
        assert_eq!(InvocationType::parse("event"), None);
    }
}
