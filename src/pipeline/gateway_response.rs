//! Gateway responses: the answers API Gateway itself gives when a request fails
//! (DG: supported-gateway-response-types), byte for byte where AWS's bytes are known.

use crate::http::response::{content_length, date, header, request_id, status_line};

/// A request stopped by the gateway, by AWS gateway response type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// `MISSING_AUTHENTICATION_TOKEN`: no resource or method matches (403).
    MissingAuthenticationToken,
    /// The stage in the path does not exist (403 Forbidden).
    UnknownStage,
    /// `UNSUPPORTED_MEDIA_TYPE` (415), from passthrough behaviour.
    UnsupportedMediaType,
    /// `API_CONFIGURATION_ERROR` (500): invalid endpoint, illegal header mapping, no
    /// integration response matches, unsupported integration.
    ApiConfiguration,
    /// A Lambda proxy result that is malformed, a function error, or a failed invoke (502,
    /// aws-behavior §4.2, AWS-validated body).
    BadLambdaResponse,
    /// `INTEGRATION_TIMEOUT` (504).
    IntegrationTimeout,
    /// `INTEGRATION_FAILURE` (504): a network error talking to the backend.
    IntegrationFailure,
    /// `REQUEST_TOO_LARGE` (413).
    RequestTooLarge,
    /// A malformed request (400), answered before any API is identified.
    BadRequest,
    /// Header section over the limit (431).
    HeadersTooLarge,
    /// `THROTTLED` (429): a token bucket is empty.
    Throttled,
    /// `QUOTA_EXCEEDED` (429): the usage plan's quota for the period is spent.
    QuotaExceeded,
    /// `INVALID_API_KEY` (403): missing, unknown or disabled key, or no plan for this stage.
    InvalidApiKey,
    /// `ACCESS_DENIED` (403) for `Cache-Control: max-age=0` from a caller who may not
    /// invalidate, under `FAIL_WITH_403` (docs/caching.md; the body is **unconfirmed**: AWS's
    /// implicit-deny wording, aws-behavior §12).
    CacheInvalidationDenied,
    /// `BAD_REQUEST_PARAMETERS` (400): required parameters are missing; the body names them
    /// ([`write_detail`]).
    BadRequestParameters,
    /// `BAD_REQUEST_BODY` (400): the body does not satisfy the method's model.
    BadRequestBody,
}

impl Reject {
    /// Status, body and `x-amzn-ErrorType`.
    ///
    /// AWS writes 5XX bodies with a space after the colon (`Content-Length: 36` for
    /// `{"message": "Internal server error"}`, AWS-validated) and the 403s compactly.
    pub fn parts(self) -> (u16, &'static str, Option<&'static str>) {
        match self {
            Reject::MissingAuthenticationToken => (
                403,
                r#"{"message":"Missing Authentication Token"}"#,
                Some("MissingAuthenticationTokenException"),
            ),
            Reject::UnknownStage => (
                403,
                r#"{"message":"Forbidden"}"#,
                Some("ForbiddenException"),
            ),
            Reject::UnsupportedMediaType => (
                415,
                r#"{"message": "Unsupported Media Type"}"#,
                Some("UnsupportedMediaTypeException"),
            ),
            Reject::ApiConfiguration => (
                500,
                r#"{"message": "Internal server error"}"#,
                Some("InternalServerErrorException"),
            ),
            Reject::BadLambdaResponse => (
                502,
                r#"{"message": "Internal server error"}"#,
                Some("InternalServerErrorException"),
            ),
            Reject::IntegrationTimeout => {
                (504, r#"{"message": "Endpoint request timed out"}"#, None)
            }
            Reject::IntegrationFailure => (
                504,
                r#"{"message": "Network error communicating with endpoint"}"#,
                Some("InternalServerErrorException"),
            ),
            Reject::RequestTooLarge => (413, r#"{"message":"Request Too Long"}"#, None),
            Reject::BadRequest => (400, r#"{"message":"Bad Request"}"#, None),
            Reject::Throttled => (
                429,
                r#"{"message":"Too Many Requests"}"#,
                Some("TooManyRequestsException"),
            ),
            Reject::QuotaExceeded => (
                429,
                r#"{"message":"Limit Exceeded"}"#,
                Some("LimitExceededException"),
            ),
            Reject::InvalidApiKey => (
                403,
                r#"{"message":"Forbidden"}"#,
                Some("ForbiddenException"),
            ),
            Reject::CacheInvalidationDenied => (
                403,
                r#"{"Message":"User is not authorized to access this resource"}"#,
                Some("AccessDeniedException"),
            ),
            Reject::BadRequestParameters => (
                400,
                r#"{"message": "Missing required request parameters: []"}"#,
                Some("BadRequestException"),
            ),
            Reject::BadRequestBody => (
                400,
                r#"{"message": "Invalid request body"}"#,
                Some("BadRequestException"),
            ),
            Reject::HeadersTooLarge => (
                431,
                r#"{"message":"Request Header Fields Too Large"}"#,
                None,
            ),
        }
    }

    /// The status code.
    pub fn status(self) -> u16 {
        self.parts().0
    }
}

/// The body of `reject`'s gateway response, with `detail` where AWS puts one.
pub fn body(reject: Reject, detail: Option<&str>) -> std::borrow::Cow<'static, str> {
    match (reject, detail) {
        (Reject::BadRequestParameters, Some(names)) => {
            let message = format!("Missing required request parameters: [{names}]");
            let quoted = serde_json::to_string(&message).unwrap_or_default();
            format!(r#"{{"message": {quoted}}}"#).into()
        }
        _ => reject.parts().1.into(),
    }
}

/// Writes the gateway response for `reject`.
pub fn write(reject: Reject, keep_alive: bool, head: bool, out: &mut Vec<u8>) {
    write_detail(reject, None, keep_alive, head, out);
}

/// Writes the gateway response for `reject`, with `detail` in its message where AWS puts one
/// (`BAD_REQUEST_PARAMETERS`: the missing names between the brackets).
pub fn write_detail(
    reject: Reject,
    detail: Option<&str>,
    keep_alive: bool,
    head: bool,
    out: &mut Vec<u8>,
) {
    let (status, _, error_type) = reject.parts();
    let body = body(reject, detail);
    status_line(out, status);
    date(out);
    header(out, "Content-Type", b"application/json");
    content_length(out, body.len());
    header(
        out,
        "Connection",
        if keep_alive { b"keep-alive" } else { b"close" },
    );
    header(out, "x-amzn-RequestId", &request_id());
    if let Some(t) = error_type {
        header(out, "x-amzn-ErrorType", t.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    if !head {
        out.extend_from_slice(body.as_bytes());
    }
}
