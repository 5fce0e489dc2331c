//! The REST API Lambda proxy event, payload format 1.0, exactly as API Gateway builds it
//! (aws-behavior §4.1; DG: set-up-lambda-proxy-integrations, "Input format of a Lambda
//! function for proxy integration"; conformance `proxy-event/` 001–012).
//!
//! The event is written as JSON text straight into a reused buffer: no `serde_json::Value`
//! tree and no per-header allocation on the request path. Headers and query parameters are
//! grouped with bounded quadratic scans (at most [`crate::http::MAX_HEADERS`] headers), which
//! beats a hash map at these sizes.

use std::borrow::Cow;

use base64::Engine as _;

use crate::http::name_eq;

/// Headers API Gateway never shows a proxy event (AWS-validated: `Connection`,
/// `Content-Length`; the rest are hidden from every mapping, aws-behavior §3.9 / vtl 050).
const HIDDEN_HEADERS: [&str; 12] = [
    "connection",
    "content-length",
    "content-md5",
    "expect",
    "max-forwards",
    "proxy-authenticate",
    "server",
    "te",
    "transfer-encoding",
    "trailer",
    "upgrade",
    "www-authenticate",
];

/// Header names API Gateway re-cases in the event (AWS-validated: `aUThorization` →
/// `Authorization`, `user-Agent` → `User-Agent`; conformance proxy-event 010, 012).
const CANONICAL_NAMES: [&str; 2] = ["Authorization", "User-Agent"];

/// `$context` values that go into `requestContext`.
#[derive(Debug, Clone, Default)]
pub struct EventContext<'a> {
    /// `accountId`.
    pub account_id: &'a str,
    /// `apiId`.
    pub api_id: &'a str,
    /// `deploymentId`.
    pub deployment_id: &'a str,
    /// `domainName` (the Host header).
    pub domain_name: &'a str,
    /// `extendedRequestId`.
    pub extended_request_id: &'a str,
    /// `requestId`.
    pub request_id: &'a str,
    /// `requestTime` (CLF format).
    pub request_time: &'a str,
    /// `requestTimeEpoch` (ms).
    pub request_time_epoch: i64,
    /// `resourceId`.
    pub resource_id: &'a str,
    /// `stage`.
    pub stage: &'a str,
    /// `identity.sourceIp`.
    pub source_ip: &'a str,
}

/// The method request, borrowed, as the event builder reads it.
#[derive(Debug, Clone)]
pub struct EventRequest<'a> {
    /// `httpMethod`.
    pub method: &'a str,
    /// `resource` / `requestContext.resourcePath`: the resource template (`/{proxy+}`).
    pub resource_path: &'a str,
    /// The path after the stage, raw (not percent-decoded).
    pub path: &'a str,
    /// The whole request path with the stage (`requestContext.path`).
    pub full_path: &'a str,
    /// The raw query string.
    pub query: Option<&'a str>,
    /// Header lines in the order received.
    pub headers: &'a [httparse::Header<'a>],
    /// Path parameters captured by the route.
    pub path_params: &'a [(&'a str, &'a str)],
    /// The stage's variables.
    pub stage_variables: &'a [(String, String)],
    /// The body.
    pub body: &'a [u8],
    /// Whether the request's Content-Type is one of the API's `binaryMediaTypes`: the body
    /// then goes base64-encoded with `isBase64Encoded: true` (aws-behavior §4.1).
    pub body_base64: bool,
    /// `requestContext` values.
    pub context: EventContext<'a>,
}

/// Writes the event as JSON into `out` (appending).
pub fn write_event(e: &EventRequest<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"resource\":");
    json_str(e.resource_path, out);
    out.extend_from_slice(b",\"path\":");
    json_str(&event_path(e.path), out);
    out.extend_from_slice(b",\"httpMethod\":");
    json_str(e.method, out);
    write_headers(e.headers, out);
    write_query(e.query, out);
    out.extend_from_slice(b",\"pathParameters\":");
    // A trailing slash stays in `path` but not in the parameter, and empty segments right
    // after the stage are dropped (AWS-validated, proxy-event 002, 005, 007).
    write_pairs(
        e.path_params.iter().map(|(k, v)| {
            (
                *k,
                v.trim_start_matches('/')
                    .strip_suffix('/')
                    .unwrap_or(v.trim_start_matches('/')),
            )
        }),
        out,
    );
    out.extend_from_slice(b",\"stageVariables\":");
    write_pairs(
        e.stage_variables
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
        out,
    );
    write_request_context(e, out);
    out.extend_from_slice(b",\"body\":");
    if e.body.is_empty() {
        out.extend_from_slice(b"null");
    } else if e.body_base64 {
        out.push(b'"');
        let start = out.len();
        let len = base64::encoded_len(e.body.len(), true).unwrap_or(0);
        out.resize(start + len, 0);
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(e.body, &mut out[start..])
            .unwrap_or(0);
        out.truncate(start + n);
        out.push(b'"');
    } else {
        json_str(&String::from_utf8_lossy(e.body), out);
    }
    out.extend_from_slice(b",\"isBase64Encoded\":");
    out.extend_from_slice(if e.body_base64 && !e.body.is_empty() {
        b"true"
    } else {
        b"false"
    });
    out.push(b'}');
}

/// `path`: the path after the stage, with the empty segments right after the stage
/// collapsed (`/stage//x` → `/x`) but inner ones kept (AWS-validated, proxy-event 003, 005).
fn event_path(path: &str) -> Cow<'_, str> {
    let trimmed = path.trim_start_matches('/');
    if trimmed.len() + 1 == path.len() {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(format!("/{trimmed}"))
    }
}

fn visible(name: &str) -> bool {
    !HIDDEN_HEADERS.iter().any(|h| name_eq(h, name))
}

fn canonical(name: &str) -> &str {
    CANONICAL_NAMES
        .iter()
        .find(|c| name_eq(c, name))
        .copied()
        .unwrap_or(name)
}

/// `headers` (last value per name) and `multiValueHeaders` (all values, in order), names
/// grouped case-insensitively under the first spelling seen; both `null` without headers.
fn write_headers(headers: &[httparse::Header<'_>], out: &mut Vec<u8>) {
    let firsts = || {
        headers.iter().enumerate().filter(|(i, h)| {
            visible(h.name) && !headers[..*i].iter().any(|p| name_eq(p.name, h.name))
        })
    };
    for multi in [false, true] {
        out.extend_from_slice(if multi {
            b",\"multiValueHeaders\":"
        } else {
            b",\"headers\":"
        });
        if firsts().next().is_none() {
            out.extend_from_slice(b"null");
            continue;
        }
        out.push(b'{');
        for (n, (i, h)) in firsts().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            json_str(canonical(h.name), out);
            out.push(b':');
            let mut same = headers[i..].iter().filter(|x| name_eq(x.name, h.name));
            if multi {
                out.push(b'[');
                for (k, v) in same.enumerate() {
                    if k > 0 {
                        out.push(b',');
                    }
                    json_str(&String::from_utf8_lossy(v.value), out);
                }
                out.push(b']');
            } else if let Some(last) = same.next_back() {
                json_str(&String::from_utf8_lossy(last.value), out);
            }
        }
        out.push(b'}');
    }
}

/// Query parameters decoded (`+` → space, `%XX`), last value wins in
/// `queryStringParameters`, all values in `multiValueQueryStringParameters`; both `null`
/// without a query (AWS-validated, proxy-event 009, 010).
fn write_query(query: Option<&str>, out: &mut Vec<u8>) {
    let pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = query
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (url_decode(k), url_decode(v))
        })
        .collect();
    for multi in [false, true] {
        out.extend_from_slice(if multi {
            b",\"multiValueQueryStringParameters\":"
        } else {
            b",\"queryStringParameters\":"
        });
        if pairs.is_empty() {
            out.extend_from_slice(b"null");
            continue;
        }
        out.push(b'{');
        let mut n = 0;
        for (i, (k, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(p, _)| p == k) {
                continue;
            }
            if n > 0 {
                out.push(b',');
            }
            n += 1;
            json_str(k, out);
            out.push(b':');
            let mut same = pairs[i..].iter().filter(|(p, _)| p == k);
            if multi {
                out.push(b'[');
                for (j, (_, v)) in same.enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    json_str(v, out);
                }
                out.push(b']');
            } else if let Some((_, v)) = same.next_back() {
                json_str(v, out);
            }
        }
        out.push(b'}');
    }
}

/// A JSON object of strings, or `null` when empty (aws-behavior §4.1).
fn write_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>, out: &mut Vec<u8>) {
    let mut n = 0;
    for (k, v) in pairs {
        out.push(if n == 0 { b'{' } else { b',' });
        n += 1;
        json_str(k, out);
        out.push(b':');
        json_str(v, out);
    }
    if n == 0 {
        out.extend_from_slice(b"null");
    } else {
        out.push(b'}');
    }
}

fn write_request_context(e: &EventRequest<'_>, out: &mut Vec<u8>) {
    let c = &e.context;
    let field = |name: &str, value: &str, out: &mut Vec<u8>| {
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        json_str(value, out);
        out.push(b',');
    };
    out.extend_from_slice(b",\"requestContext\":{");
    field("accountId", c.account_id, out);
    field("apiId", c.api_id, out);
    field("deploymentId", c.deployment_id, out);
    field("domainName", c.domain_name, out);
    let prefix = c.domain_name.split('.').next().unwrap_or("");
    field("domainPrefix", prefix, out);
    field("extendedRequestId", c.extended_request_id, out);
    field("httpMethod", e.method, out);
    out.extend_from_slice(
        b"\"identity\":{\"accessKey\":null,\"accountId\":null,\"caller\":null,\
          \"cognitoAuthenticationProvider\":null,\"cognitoAuthenticationType\":null,\
          \"cognitoIdentityId\":null,\"cognitoIdentityPoolId\":null,\"principalOrgId\":null,",
    );
    field("sourceIp", c.source_ip, out);
    out.extend_from_slice(b"\"user\":null,\"userAgent\":");
    match e
        .headers
        .iter()
        .rev()
        .find(|h| name_eq(h.name, "user-agent"))
    {
        Some(h) => json_str(&String::from_utf8_lossy(h.value), out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"userArn\":null},");
    // Empty segments before the stage are dropped here too (AWS-validated, proxy-event 004).
    field("path", &event_path(e.full_path), out);
    field("protocol", "HTTP/1.1", out);
    field("requestId", c.request_id, out);
    field("requestTime", c.request_time, out);
    out.extend_from_slice(b"\"requestTimeEpoch\":");
    out.extend_from_slice(itoa::Buffer::new().format(c.request_time_epoch).as_bytes());
    out.push(b',');
    field("resourceId", c.resource_id, out);
    field("resourcePath", e.resource_path, out);
    out.extend_from_slice(b"\"stage\":");
    json_str(c.stage, out);
    out.push(b'}');
}

/// Decodes a query component (`+` → space, `%XX`); malformed escapes stay as written.
pub fn url_decode(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Writes `s` as a JSON string (RFC 8259 §7).
pub fn json_str(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Every `kind: event` REST case of the conformance corpus, built in-process.
    #[test]
    fn conformance_event_cases() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/proxy-event");
        let mut checked = 0;
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let case: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            if case["kind"] != "event" || case["api"]["type"] != "REST" {
                continue;
            }
            let actual = build(&case);
            let expected = &case["expected_event"];
            compare(expected, &actual, &case["id"].to_string());
            checked += 1;
        }
        assert_eq!(checked, 12);
    }

    /// Builds the event for a case the way the pipeline does (route capture simulated).
    fn build(case: &Value) -> Value {
        let req = &case["request"];
        let stage = case["api"]["stage"].as_str().unwrap();
        let raw_path = req["raw_path"].as_str().unwrap();
        let after_stage = &raw_path.trim_start_matches('/')[stage.len()..];
        let hardcoded = after_stage.trim_matches('/') == "hardcoded";
        let resource = if hardcoded {
            "/hardcoded"
        } else {
            case["api"]["resources"][0]["path"].as_str().unwrap()
        };
        let names: Vec<String> = req["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h[0].as_str().unwrap().to_string())
            .collect();
        let values: Vec<String> = req["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h[1].as_str().unwrap().to_string())
            .collect();
        let mut headers: Vec<httparse::Header<'_>> = names
            .iter()
            .zip(&values)
            .map(|(n, v)| httparse::Header {
                name: n,
                value: v.as_bytes(),
            })
            .collect();
        headers.insert(
            0,
            httparse::Header {
                name: "Host",
                value: b"abc.execute-api.us-east-1.amazonaws.com",
            },
        );
        let param_name = resource
            .trim_start_matches("/{")
            .trim_end_matches('}')
            .trim_end_matches('+');
        let value = after_stage.trim_start_matches('/');
        let params = [(param_name, value)];
        let params: &[(&str, &str)] = if hardcoded { &[] } else { &params };
        let body = req["body"].as_str().unwrap_or("");
        let e = EventRequest {
            method: req["method"].as_str().unwrap(),
            resource_path: resource,
            path: after_stage,
            full_path: raw_path,
            query: req["raw_query"].as_str(),
            headers: &headers,
            path_params: params,
            stage_variables: &[],
            body: body.as_bytes(),
            body_base64: false,
            context: EventContext {
                account_id: "123456789012",
                api_id: "abc",
                domain_name: "abc.execute-api.us-east-1.amazonaws.com",
                stage,
                request_time_epoch: 1,
                ..EventContext::default()
            },
        };
        let mut out = Vec::new();
        write_event(&e, &mut out);
        serde_json::from_slice(&out)
            .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&out)))
    }

    /// `"<any>"` matches any present value; everything else must be equal, with no
    /// extra keys in objects.
    pub(crate) fn compare(expected: &Value, actual: &Value, at: &str) {
        match (expected, actual) {
            (Value::String(s), _) if s == "<any>" => {}
            (Value::Object(e), Value::Object(a)) => {
                for (k, v) in e {
                    let av = a
                        .get(k)
                        .unwrap_or_else(|| panic!("{at}: missing {k} in {actual}"));
                    compare(v, av, &format!("{at}.{k}"));
                }
                for k in a.keys() {
                    assert!(e.contains_key(k), "{at}: unexpected key {k}");
                }
            }
            (Value::Array(e), Value::Array(a)) => {
                assert_eq!(e.len(), a.len(), "{at}");
                for (i, (x, y)) in e.iter().zip(a).enumerate() {
                    compare(x, y, &format!("{at}[{i}]"));
                }
            }
            (e, a) => assert_eq!(e, a, "{at}"),
        }
    }

    #[test]
    fn path_and_json_details() {
        assert_eq!(event_path("//x//y"), "/x//y");
        assert_eq!(event_path("/x/"), "/x/");
        let mut o = Vec::new();
        json_str("a\"\\\n\u{1}é", &mut o);
        assert_eq!(o, "\"a\\\"\\\\\\n\\u0001é\"".as_bytes());
        assert_eq!(url_decode("a+b%2B%zz%4"), "a b+%zz%4");
    }

    #[test]
    fn binary_body_and_empty_maps() {
        let headers = [httparse::Header {
            name: "Content-Type",
            value: b"image/png",
        }];
        let e = EventRequest {
            method: "POST",
            resource_path: "/up",
            path: "/up",
            full_path: "/dev/up",
            query: Some(""),
            headers: &headers,
            path_params: &[],
            stage_variables: &[("v".into(), "1".into())],
            body: &[0, 255, 1],
            body_base64: true,
            context: EventContext::default(),
        };
        let mut out = Vec::new();
        write_event(&e, &mut out);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["body"], "AP8B");
        assert_eq!(v["isBase64Encoded"], true);
        assert_eq!(v["queryStringParameters"], Value::Null);
        assert_eq!(v["pathParameters"], Value::Null);
        assert_eq!(v["stageVariables"]["v"], "1");
        assert_eq!(v["requestContext"]["identity"]["userAgent"], Value::Null);
    }
}
