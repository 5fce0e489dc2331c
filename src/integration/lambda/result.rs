//! The function's proxy result → the client response, by API Gateway's rules
//! (aws-behavior §4.2; DG: set-up-lambda-proxy-integrations, "Output format of a Lambda
//! function for proxy integration"; conformance `proxy-event/` 014–032, `errors/` 012–016).
//!
//! AWS-validated rules: only `statusCode`, `headers`, `multiValueHeaders`, `body`,
//! `isBase64Encoded` may appear; a missing `statusCode` is 200 and a numeric string is
//! accepted; header values that are booleans or numbers are stringified; `headers` and
//! `multiValueHeaders` of the same name are merged (multi-value spelling and values first);
//! a base64 body is decoded only when the request's `Accept` selects a binary media type.
//! Anything else is a malformed result: 502 `{"message": "Internal server error"}`.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

/// The statuses a proxy result may set (RFC 9110 §15: three digits, 1XX–5XX).
const STATUS_RANGE: std::ops::RangeInclusive<u64> = 100..=599;

/// Why a result is malformed (`Execution failed due to configuration error: Malformed
/// Lambda proxy response`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Not a JSON object (a bare string, `null`, invalid JSON, an unknown member...).
    NotAProxyResult,
    /// `statusCode` is not a number or numeric string in range.
    BadStatus,
    /// A `headers` value is an object or list, or a `multiValueHeaders` entry is not a list.
    BadHeaders,
    /// `body` is not a string.
    BadBody,
    /// `isBase64Encoded` with a body that is not base64.
    BadBase64,
}

/// The response a proxy result describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyResponse {
    /// The status.
    pub status: u16,
    /// Headers in order, each name once with its values (one header line per value).
    pub headers: Vec<(String, Vec<String>)>,
    /// The body bytes (decoded from base64 when AWS would).
    pub body: Vec<u8>,
}

impl ProxyResponse {
    /// Whether the function set a header (case-insensitive).
    pub fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResult {
    #[serde(rename = "statusCode", default)]
    status_code: Option<Value>,
    #[serde(default)]
    headers: Option<serde_json::Map<String, Value>>,
    #[serde(rename = "multiValueHeaders", default)]
    multi_value_headers: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(rename = "isBase64Encoded", default)]
    is_base64_encoded: Option<Value>,
}

/// A header value as text: strings as they are, booleans and numbers stringified
/// (AWS-validated: `true` → `true`), `null` skipped.
fn scalar(v: &Value) -> Result<Option<String>, Malformed> {
    match v {
        Value::String(s) => Ok(Some(s.clone())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Null => Ok(None),
        _ => Err(Malformed::BadHeaders),
    }
}

/// Parses a proxy result. `binary_accept`: whether the request's `Accept` matches the
/// API's `binaryMediaTypes` ([`super::is_binary`]), the one case a base64 body is decoded.
pub fn parse_proxy_result(payload: &[u8], binary_accept: bool) -> Result<ProxyResponse, Malformed> {
    let raw: RawResult = serde_json::from_slice(payload).map_err(|_| Malformed::NotAProxyResult)?;
    let status = match &raw.status_code {
        None | Some(Value::Null) => 200,
        Some(Value::Number(n)) => n.as_u64().ok_or(Malformed::BadStatus)?,
        Some(Value::String(s)) => s.trim().parse::<u64>().map_err(|_| Malformed::BadStatus)?,
        Some(_) => return Err(Malformed::BadStatus),
    };
    if !STATUS_RANGE.contains(&status) {
        return Err(Malformed::BadStatus);
    }
    let mut headers: Vec<(String, Vec<String>)> = Vec::new();
    for (name, v) in raw.multi_value_headers.iter().flatten() {
        let Value::Array(items) = v else {
            if v.is_null() {
                continue;
            }
            return Err(Malformed::BadHeaders);
        };
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            values.extend(scalar(item)?);
        }
        push_values(&mut headers, name, values);
    }
    for (name, v) in raw.headers.iter().flatten() {
        if let Some(value) = scalar(v)? {
            push_values(&mut headers, name, vec![value]);
        }
    }
    let base64 = match raw.is_base64_encoded {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(Malformed::NotAProxyResult),
    };
    let body = match raw.body {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if base64 && binary_accept => {
            base64::engine::general_purpose::STANDARD
                .decode(s.as_bytes())
                .map_err(|_| Malformed::BadBase64)?
        }
        Some(Value::String(s)) => s.into_bytes(),
        Some(_) => return Err(Malformed::BadBody),
    };
    Ok(ProxyResponse {
        status: status as u16,
        headers,
        body,
    })
}

/// Merges values under an existing name (case-insensitive, first spelling kept).
fn push_values(headers: &mut Vec<(String, Vec<String>)>, name: &str, values: Vec<String>) {
    // A name or value that could split the response head is dropped, never written.
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    {
        return;
    }
    let values = values
        .into_iter()
        .filter(|v| !v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0));
    match headers
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some((_, existing)) => existing.extend(values),
        None => headers.push((name.to_string(), values.collect())),
    }
}

/// The `errorMessage` of a function error object, the selection value of a Lambda custom
/// integration (aws-behavior §6.3). Empty when there is none.
pub fn error_message(payload: &[u8]) -> String {
    #[derive(Deserialize)]
    struct E {
        #[serde(rename = "errorMessage")]
        error_message: Option<Value>,
    }
    match serde_json::from_slice::<E>(payload) {
        Ok(E {
            error_message: Some(Value::String(s)),
        }) => s,
        Ok(E {
            error_message: Some(v),
        }) if !v.is_null() => v.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Every REST `lambda-response` case and errors 012–015, in-process.
    #[test]
    fn conformance_result_cases() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
        let mut checked = 0;
        for dir in ["proxy-event", "errors"] {
            let mut entries: Vec<_> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            entries.sort();
            for path in entries {
                let case: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                let id = case["id"].as_str().unwrap().to_string();
                let api = case
                    .get("api")
                    .or_else(|| case.get("configuration"))
                    .unwrap();
                if api["type"] == "HTTP" || api["payload_format"] == "2.0" {
                    continue;
                }
                let Some(result) = case.get("lambda_result") else {
                    continue;
                };
                if result.as_str().is_some_and(|s| s.starts_with("<unhandled")) {
                    continue;
                }
                let types: Vec<String> = api["binaryMediaTypes"]
                    .as_array()
                    .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default();
                let accept = case["request"]["headers"].as_array().and_then(|hs| {
                    hs.iter()
                        .find(|h| h[0] == "Accept")
                        .map(|h| h[1].as_str().unwrap().to_string())
                });
                let binary = super::super::is_binary(&types, accept.as_deref().map(str::as_bytes));
                let payload = serde_json::to_vec(result).unwrap();
                let parsed = parse_proxy_result(&payload, binary);
                let expected = case
                    .get("expected_response")
                    .or_else(|| case.get("expected"))
                    .unwrap();
                let status = expected["status"].as_u64().unwrap() as u16;
                match parsed {
                    Err(_) => assert_eq!(status, 502, "{id}"),
                    Ok(r) => {
                        assert_eq!(r.status, status, "{id}");
                        match (expected["body"].as_str(), expected["body_base64"].as_str()) {
                            (Some(b), _) => assert_eq!(String::from_utf8_lossy(&r.body), b, "{id}"),
                            (None, Some(b64)) => assert_eq!(
                                r.body,
                                base64::engine::general_purpose::STANDARD
                                    .decode(b64)
                                    .unwrap(),
                                "{id}"
                            ),
                            _ => {}
                        }
                        for (name, value) in expected["headers"].as_object().into_iter().flatten() {
                            let value = value.as_str().unwrap();
                            if name.eq_ignore_ascii_case("content-type") && !r.has_header(name) {
                                assert_eq!(value, "application/json", "{id}");
                                continue;
                            }
                            if name.eq_ignore_ascii_case("content-length") {
                                assert_eq!(value, r.body.len().to_string(), "{id}");
                                continue;
                            }
                            let (got_name, got) = r
                                .headers
                                .iter()
                                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                                .unwrap_or_else(|| panic!("{id}: no header {name}"));
                            assert_eq!(got.join(", "), value, "{id}");
                            if name == "tesT-Multi" {
                                assert_eq!(
                                    got_name, "tesT-Multi",
                                    "{id}: multiValueHeaders spelling wins"
                                );
                            }
                        }
                    }
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 19 + 4);
    }

    #[test]
    fn malformed_kinds() {
        assert_eq!(
            parse_proxy_result(b"null", false),
            Err(Malformed::NotAProxyResult)
        );
        assert_eq!(
            parse_proxy_result(b"{", false),
            Err(Malformed::NotAProxyResult)
        );
        assert_eq!(
            parse_proxy_result(br#"{"statusCode":99}"#, false),
            Err(Malformed::BadStatus)
        );
        assert_eq!(
            parse_proxy_result(br#"{"statusCode":200.5}"#, false),
            Err(Malformed::BadStatus)
        );
        assert_eq!(
            parse_proxy_result(br#"{"body":{}}"#, false),
            Err(Malformed::BadBody)
        );
        assert_eq!(
            parse_proxy_result(br#"{"body":"@@","isBase64Encoded":true}"#, true),
            Err(Malformed::BadBase64)
        );
        assert_eq!(
            parse_proxy_result(br#"{"headers":{"a":{"b":1}}}"#, false),
            Err(Malformed::BadHeaders)
        );
        let r = parse_proxy_result(
            br#"{"headers":{"x":"a\r\nb","ok":1,"bad name":"v"}}"#,
            false,
        )
        .unwrap();
        assert_eq!(
            r.headers,
            vec![
                ("x".to_string(), vec![]),
                ("ok".to_string(), vec!["1".to_string()])
            ]
        );
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            error_message(br#"{"errorMessage":"boom","errorType":"E"}"#),
            "boom"
        );
        assert_eq!(error_message(br#"{"errorMessage":7}"#), "7");
        assert_eq!(error_message(b"\"Pass\""), "");
        assert_eq!(error_message(b"garbage"), "");
    }
}
