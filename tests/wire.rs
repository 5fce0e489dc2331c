//! The HTTP/1.1 wire through the real gateway, in raw bytes over `std::net::TcpStream`:
//! keep-alive, pipelining, request body framing (Content-Length, chunked, `Expect:
//! 100-continue`), HEAD, the size limits (413, 431), the request-smuggling defences (RFC 9112
//! §6.1, §6.3: 400 and close), HTTP/1.0, the header and idle timeouts, and garbage input.
//!
//! Each case asserts the exact status line and, where the gateway itself answers, the exact
//! body of `src/pipeline/gateway_response.rs`. Every read is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{Backend, Gateway, closed_within, raw_conn, raw_exchange, statuses};

/// How long a test waits for bytes the gateway must send.
const WAIT: Duration = Duration::from_secs(10);

/// A MOCK method whose body names it, so a test can tell responses apart.
fn mock(name: &str) -> String {
    format!(
        r#"
            x-amazon-apigateway-integration:
              type: mock
              requestTemplates: {{ application/json: '{{"statusCode": 200}}' }}
              responses:
                default:
                  statusCode: "200"
                  responseTemplates: {{ application/json: '{{"mock": "{name}"}}' }}"#
    )
}

/// An HTTP_PROXY method to the backend (`uri` relative to it), forwarding every method.
fn proxy(backend: &Backend, uri: &str, params: &str) -> String {
    format!(
        r#"
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: ANY
              uri: "http://{addr}{uri}"{params}"#,
        addr = backend.addr()
    )
}

/// The wire-test API: three mocks, the backend's echo, chunked, status and delay endpoints.
fn config(backend: &Backend, server: &str) -> String {
    format!(
        r#"
server: {server}
apis:
  - name: wire
    openapi:
      openapi: "3.0.1"
      info: {{ title: wire, version: "1" }}
      paths:
        /a:
          get:{a}
          head:{a}
        /b:
          get:{b}
        /c:
          get:{c}
        /echo:
          x-amazon-apigateway-any-method:{echo}
        /chunked:
          get:{chunked}
        /slow-chunks:
          get:{slow}
        /big/{{n}}:
          get:{big}
        /status/{{code}}:
          x-amazon-apigateway-any-method:{status}
    stages:
      - name: dev
"#,
        a = mock("a"),
        b = mock("b"),
        c = mock("c"),
        echo = proxy(backend, "/echo", ""),
        chunked = proxy(backend, "/chunked", ""),
        slow = proxy(backend, "/slow-chunks", ""),
        big = proxy(
            backend,
            "/big/{n}",
            "\n              requestParameters: { integration.request.path.n: method.request.path.n }"
        ),
        status = proxy(
            backend,
            "/status/{code}",
            "\n              requestParameters: { integration.request.path.code: method.request.path.code }"
        ),
    )
}

fn start(backend: &Backend) -> Gateway {
    Gateway::start_yaml(&config(backend, "{}"), &[])
}

/// One response parsed from raw bytes.
#[derive(Debug)]
struct Raw {
    status_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body_str()))
    }
}

/// Parses one response at the start of `raw`; `None` while incomplete. `head` says the
/// response has no body whatever its Content-Length (a HEAD request, or a 1xx).
fn parse_one(raw: &[u8], head: bool) -> Option<(Raw, usize)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = std::str::from_utf8(&raw[..end - 4]).unwrap();
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap().to_string();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("bad header line {l:?}"));
            (k.to_string(), v.trim().to_string())
        })
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked && !head {
        // A streamed chunked body (the gateway passes a chunked backend's framing through).
        let mut at = end;
        let mut body = Vec::new();
        loop {
            let line_end = raw[at..].windows(2).position(|w| w == b"\r\n")? + at;
            let size = usize::from_str_radix(
                std::str::from_utf8(&raw[at..line_end])
                    .unwrap()
                    .split(';')
                    .next()
                    .unwrap()
                    .trim(),
                16,
            )
            .unwrap();
            at = line_end + 2;
            if size == 0 {
                if raw.len() < at + 2 {
                    return None;
                }
                assert_eq!(&raw[at..at + 2], b"\r\n", "trailers are not expected");
                return Some((
                    Raw {
                        status_line,
                        headers,
                        body,
                    },
                    at + 2,
                ));
            }
            if raw.len() < at + size + 2 {
                return None;
            }
            body.extend_from_slice(&raw[at..at + size]);
            at += size + 2;
        }
    }
    let interim = status_line.starts_with("HTTP/1.1 1");
    let len: usize = if head || interim {
        0
    } else {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or_else(|| panic!("no Content-Length: {status_line}"))
    };
    if raw.len() < end + len {
        return None;
    }
    Some((
        Raw {
            status_line,
            headers,
            body: raw[end..end + len].to_vec(),
        },
        end + len,
    ))
}

/// Reads until `n` complete responses arrived (bounded by [`WAIT`]); panics otherwise.
fn read_responses(s: &mut TcpStream, n: usize, head: bool) -> Vec<Raw> {
    read_sequence(s, &vec![head; n])
}

/// Reads one response per entry of `heads` (`true`: a response to HEAD, without a body).
fn read_sequence(s: &mut TcpStream, heads: &[bool]) -> Vec<Raw> {
    let n = heads.len();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let mut out = Vec::new();
        let mut at = 0;
        while out.len() < n {
            let Some((r, used)) = parse_one(&raw[at..], heads[out.len()]) else {
                break;
            };
            out.push(r);
            at += used;
        }
        if out.len() == n {
            assert_eq!(
                at,
                raw.len(),
                "bytes after the last response: {:?}",
                String::from_utf8_lossy(&raw[at..])
            );
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "wanted {n} responses, got: {:?}",
            String::from_utf8_lossy(&raw)
        );
        match s.read(&mut buf) {
            Ok(0) => panic!(
                "closed after {} of {n} responses: {:?}",
                out.len(),
                String::from_utf8_lossy(&raw)
            ),
            Ok(k) => raw.extend_from_slice(&buf[..k]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("read: {e}; so far {:?}", String::from_utf8_lossy(&raw)),
        }
    }
}

/// Sends `bytes` on a new connection and reads one response.
fn one(addr: SocketAddr, bytes: &[u8]) -> (Raw, TcpStream) {
    let mut s = raw_conn(addr);
    s.write_all(bytes).unwrap();
    let mut r = read_responses(&mut s, 1, false);
    (r.remove(0), s)
}

/// Asserts the gateway's 400 and that it closes the connection.
fn assert_bad_request_and_close(addr: SocketAddr, bytes: &[u8], case: &str) {
    let (r, mut s) = one(addr, bytes);
    assert_eq!(r.status_line, "HTTP/1.1 400 Bad Request", "{case}");
    assert_eq!(r.body_str(), r#"{"message":"Bad Request"}"#, "{case}");
    assert_eq!(r.header("Content-Type"), Some("application/json"), "{case}");
    assert_eq!(r.header("Connection"), Some("close"), "{case}");
    assert_eq!(
        r.header("x-amzn-RequestId").map(str::len),
        Some(36),
        "{case}"
    );
    assert!(
        closed_within(&mut s, Duration::from_secs(3)),
        "{case}: the connection stays open"
    );
}

/// The gateway still answers a good request (after abuse, or while a slow client waits).
fn assert_serves(addr: SocketAddr) {
    let (r, _) = one(addr, b"GET /dev/a HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    assert_eq!(r.body_str(), r#"{"mock": "a"}"#);
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let backend = Backend::start();
    let gw = start(&backend);
    let mut s = raw_conn(gw.addr);
    for (i, path) in ["/dev/a", "/dev/echo?i=1", "/dev/b", "/dev/echo?i=3"]
        .iter()
        .enumerate()
    {
        write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let r = read_responses(&mut s, 1, false).remove(0);
        assert_eq!(r.status_line, "HTTP/1.1 200 OK", "request {i}");
        assert_eq!(r.header("Connection"), Some("keep-alive"), "request {i}");
        match *path {
            "/dev/a" => assert_eq!(r.body_str(), r#"{"mock": "a"}"#),
            "/dev/b" => assert_eq!(r.body_str(), r#"{"mock": "b"}"#),
            _ => assert_eq!(r.json()["query"], format!("i={i}")),
        }
    }
    // `Connection: close` on the last request ends the connection after its response.
    s.write_all(b"GET /dev/c HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = read_responses(&mut s, 1, false).remove(0);
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(closed_within(&mut s, Duration::from_secs(3)));
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let backend = Backend::start();
    let gw = start(&backend);
    let mut s = raw_conn(gw.addr);
    // One write: a mock, a proxied request with a body, another mock.
    s.write_all(
        b"GET /dev/c HTTP/1.1\r\nHost: t\r\n\r\n\
          POST /dev/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nmid!\
          GET /dev/a HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let rs = read_responses(&mut s, 3, false);
    assert!(
        rs.iter().all(|r| r.status_line == "HTTP/1.1 200 OK"),
        "{rs:?}"
    );
    assert_eq!(rs[0].body_str(), r#"{"mock": "c"}"#);
    assert_eq!(rs[1].json()["body"], "mid!");
    assert_eq!(rs[1].json()["method"], "POST");
    assert_eq!(rs[2].body_str(), r#"{"mock": "a"}"#);
}

/// A pipelined batch stops where the connection must end: after a `Connection: close`
/// request, or at a request that cannot be framed; nothing after it is answered.
#[test]
fn pipelining_stops_at_close_and_at_a_bad_request() {
    let backend = Backend::start();
    let gw = start(&backend);
    for (case, tail) in [
        ("Connection: close", &b"GET /dev/b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"[..]),
        ("smuggling", b"POST /dev/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ] {
        let mut batch = b"GET /dev/a HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
        batch.extend_from_slice(tail);
        batch.extend_from_slice(b"GET /dev/c HTTP/1.1\r\nHost: t\r\n\r\n");
        let raw = raw_exchange(gw.addr, &batch, Duration::from_secs(3));
        let want = if case == "smuggling" { vec![200, 400] } else { vec![200, 200] };
        assert_eq!(statuses(&raw), want, "{case}: {}", String::from_utf8_lossy(&raw));
        assert!(!String::from_utf8_lossy(&raw).contains(r#"{"mock": "c"}"#), "{case}");
    }
}

#[test]
fn content_length_body_reaches_the_backend() {
    let backend = Backend::start();
    let gw = start(&backend);
    let body = "x".repeat(100_000);
    let mut req = format!(
        "PUT /dev/echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body.as_bytes());
    let (r, _) = one(gw.addr, &req);
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    let echo = r.json();
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["body"].as_str().map(str::len), Some(body.len()));
    assert_eq!(echo["body"], body.as_str());
}

/// The backend sees the de-chunked body with a Content-Length, never Transfer-Encoding.
#[test]
fn chunked_request_body_is_dechunked_for_the_backend() {
    let backend = Backend::start();
    let gw = start(&backend);
    let (r, _) = one(
        gw.addr,
        b"POST /dev/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          6\r\nhello \r\n5;ext=1\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n",
    );
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    let echo = r.json();
    assert_eq!(echo["body"], "hello world");
    let headers = echo["headers"].as_array().unwrap();
    let seen = |name: &str| {
        headers
            .iter()
            .find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
            .map(|h| h[1].as_str().unwrap().to_string())
    };
    assert_eq!(seen("content-length").as_deref(), Some("11"));
    assert_eq!(seen("transfer-encoding"), None);
}

#[test]
fn chunked_backend_response_streams_chunked() {
    // HTTP_PROXY streams a chunked backend body as it arrives, keeping its framing.
    let backend = Backend::start();
    let gw = start(&backend);
    let (r, _) = one(gw.addr, b"GET /dev/chunked HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(r.header("Content-Length"), None);
    assert_eq!(r.body_str(), "hello, chunked world");
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
}

/// RFC 9110 §10.1.1: the interim 100 comes before the client sends the body.
#[test]
fn expect_100_continue() {
    let backend = Backend::start();
    let gw = start(&backend);
    for framing in ["Content-Length: 5", "Transfer-Encoding: chunked"] {
        let mut s = raw_conn(gw.addr);
        write!(
            s,
            "POST /dev/echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n{framing}\r\n\r\n"
        )
        .unwrap();
        let interim = read_responses(&mut s, 1, false).remove(0);
        assert_eq!(interim.status_line, "HTTP/1.1 100 Continue", "{framing}");
        assert!(interim.headers.is_empty(), "{framing}: {interim:?}");
        let body: &[u8] = if framing.starts_with("Content") {
            b"hello"
        } else {
            b"5\r\nhello\r\n0\r\n\r\n"
        };
        s.write_all(body).unwrap();
        let r = read_responses(&mut s, 1, false).remove(0);
        assert_eq!(r.status_line, "HTTP/1.1 200 OK", "{framing}");
        assert_eq!(r.json()["body"], "hello", "{framing}");
    }
    // With the body already sent, no interim response: exactly one final response.
    let (r, _) = one(gw.addr, b"POST /dev/echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi");
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    assert_eq!(r.json()["body"], "hi");
}

/// HEAD: the same Content-Length as GET would have, and no body (RFC 9110 §9.3.2).
#[test]
fn head_has_no_body_and_the_get_length() {
    let backend = Backend::start();
    let gw = start(&backend);
    let mut s = raw_conn(gw.addr);
    for path in ["/dev/a", "/dev/status/201"] {
        write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let get = read_responses(&mut s, 1, false).remove(0);
        // A second request on the same connection proves no stray body bytes follow the HEAD.
        write!(
            s,
            "HEAD {path} HTTP/1.1\r\nHost: t\r\n\r\nGET /dev/b HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        .unwrap();
        let mut rs = read_sequence(&mut s, &[true, false]);
        let after = rs.remove(1);
        let head = rs.remove(0);
        assert_eq!(head.status_line, get.status_line, "{path}");
        assert!(!get.body.is_empty(), "{path}");
        assert_eq!(
            head.header("Content-Length"),
            Some(get.body.len().to_string().as_str()),
            "{path}"
        );
        assert_eq!(after.body_str(), r#"{"mock": "b"}"#, "{path}");
    }
}

/// AWS: payloads over 10 MB get 413 (DG: limits). Only the head is sent; the gateway answers
/// without waiting for the body and closes.
#[test]
fn body_over_10_mb_is_413_and_close() {
    let backend = Backend::start();
    let gw = start(&backend);
    for (framing, body) in [
        (
            format!("Content-Length: {}", 10 * 1024 * 1024 + 1),
            &b""[..],
        ),
        ("Transfer-Encoding: chunked".to_string(), &b"A00001\r\n"[..]),
    ] {
        let mut req =
            format!("POST /dev/echo HTTP/1.1\r\nHost: t\r\n{framing}\r\n\r\n").into_bytes();
        req.extend_from_slice(body);
        let (r, mut s) = one(gw.addr, &req);
        assert_eq!(
            r.status_line, "HTTP/1.1 413 Request Entity Too Large",
            "{framing}"
        );
        assert_eq!(
            r.body_str(),
            r#"{"message":"Request Too Long"}"#,
            "{framing}"
        );
        assert_eq!(r.header("Connection"), Some("close"), "{framing}");
        assert!(closed_within(&mut s, Duration::from_secs(3)), "{framing}");
    }
    // Exactly 10 MB is not over the limit: the head alone gets no answer yet.
    let mut s = raw_conn(gw.addr);
    write!(
        s,
        "POST /dev/echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        10 * 1024 * 1024
    )
    .unwrap();
    assert!(crate::support::read_until_quiet(&mut s, Duration::from_millis(300)).is_empty());
}

#[test]
fn oversized_header_section_is_431() {
    let backend = Backend::start();
    let gw = start(&backend);
    // One 25 KB header: over the 20 KB head limit (twice AWS's 10,240 bytes).
    let big = format!(
        "GET /dev/a HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "v".repeat(25 * 1024)
    );
    // Many headers that add up past the limit, each small.
    let mut many = String::from("GET /dev/a HTTP/1.1\r\nHost: t\r\n");
    for i in 0..90 {
        many.push_str(&format!("X-H{i}: {}\r\n", "v".repeat(300)));
    }
    many.push_str("\r\n");
    // Too many header lines (over MAX_HEADERS = 100), each tiny.
    let mut count = String::from("GET /dev/a HTTP/1.1\r\nHost: t\r\n");
    for i in 0..101 {
        count.push_str(&format!("X-{i}: 1\r\n"));
    }
    count.push_str("\r\n");
    for (case, req) in [
        ("one big header", big),
        ("big section", many),
        ("too many headers", count),
    ] {
        let (r, mut s) = one(gw.addr, req.as_bytes());
        assert_eq!(
            r.status_line, "HTTP/1.1 431 Request Header Fields Too Large",
            "{case}"
        );
        assert_eq!(
            r.body_str(),
            r#"{"message":"Request Header Fields Too Large"}"#,
            "{case}"
        );
        assert_eq!(r.header("Connection"), Some("close"), "{case}");
        assert!(closed_within(&mut s, Duration::from_secs(3)), "{case}");
    }
    // 100 headers in all (Host + 99) is within the limit.
    let mut ok = String::from("GET /dev/a HTTP/1.1\r\nHost: t\r\n");
    for i in 0..99 {
        ok.push_str(&format!("X-{i}: 1\r\n"));
    }
    ok.push_str("\r\n");
    let (r, _) = one(gw.addr, ok.as_bytes());
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
}

/// Request smuggling defences (RFC 9112 §6.1, §6.3, §5.2): each is 400 and a closed connection,
/// so no byte after the ambiguous head can be read as a second request.
#[test]
fn smuggling_attempts_are_400_and_close() {
    let backend = Backend::start();
    let gw = start(&backend);
    let cases: [(&str, &[u8]); 7] = [
        (
            "Content-Length with Transfer-Encoding",
            b"POST /dev/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
        ("two different Content-Lengths", b"POST /dev/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
        ("a Content-Length list", b"POST /dev/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 6\r\n\r\nhello!"),
        ("bad chunk size", b"POST /dev/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
        ("obs-fold header line", b"GET /dev/a HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n b\r\n\r\n"),
        ("Transfer-Encoding not chunked", b"POST /dev/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nhello"),
        ("chunked not last", b"POST /dev/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"),
    ];
    for (case, bytes) in cases {
        assert_bad_request_and_close(gw.addr, bytes, case);
    }
    // Two equal Content-Lengths are one length (RFC 9112 §6.3 item 5 allows it).
    let (r, _) = one(
        gw.addr,
        b"POST /dev/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
    );
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    assert_eq!(r.json()["body"], "ok");
}

#[test]
fn malformed_request_lines_are_400() {
    let backend = Backend::start();
    let gw = start(&backend);
    let cases: [(&str, &[u8]); 6] = [
        ("no version", b"GET /dev/a\r\nHost: t\r\n\r\n"),
        ("unknown version", b"GET /dev/a HTTP/2.0\r\nHost: t\r\n\r\n"),
        (
            "space in target",
            b"GET /dev/a b HTTP/1.1\r\nHost: t\r\n\r\n",
        ),
        ("not a method", b"G(T /dev/a HTTP/1.1\r\nHost: t\r\n\r\n"),
        (
            "target without slash",
            b"GET dev/a HTTP/1.1\r\nHost: t\r\n\r\n",
        ),
        (
            "header without colon",
            b"GET /dev/a HTTP/1.1\r\nHost t\r\n\r\n",
        ),
    ];
    for (case, bytes) in cases {
        assert_bad_request_and_close(gw.addr, bytes, case);
    }
}

/// HTTP/1.0 closes by default (RFC 9112 §9.3); `Connection: keep-alive` keeps it open.
#[test]
fn http10_without_keep_alive_closes_after_the_response() {
    let backend = Backend::start();
    let gw = start(&backend);
    let (r, mut s) = one(gw.addr, b"GET /dev/a HTTP/1.0\r\nHost: t\r\n\r\n");
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(r.body_str(), r#"{"mock": "a"}"#);
    assert!(closed_within(&mut s, Duration::from_secs(3)));

    let (r, mut s) = one(
        gw.addr,
        b"GET /dev/a HTTP/1.0\r\nHost: t\r\nConnection: keep-alive\r\n\r\n",
    );
    assert_eq!(r.header("Connection"), Some("keep-alive"));
    s.write_all(b"GET /dev/b HTTP/1.0\r\nHost: t\r\n\r\n")
        .unwrap();
    let r = read_responses(&mut s, 1, false).remove(0);
    assert_eq!(r.body_str(), r#"{"mock": "b"}"#);
    assert!(closed_within(&mut s, Duration::from_secs(3)));
}

/// A client that sends half a head holds only its own connection, for at most the header
/// timeout; the single worker keeps serving others meanwhile.
#[test]
fn slow_client_is_cut_off_and_others_are_served() {
    let backend = Backend::start();
    let gw = Gateway::start_yaml(&config(&backend, "{header_timeout_ms: 300}"), &[]);
    let mut slow = raw_conn(gw.addr);
    let t0 = Instant::now();
    slow.write_all(b"GET /dev/a HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    // While the slow head is pending, other clients get answers at once.
    for _ in 0..3 {
        let t = Instant::now();
        assert_serves(gw.addr);
        assert!(
            t.elapsed() < Duration::from_millis(250),
            "a slow client delays others: {:?}",
            t.elapsed()
        );
    }
    // The header timeout runs from the first byte, so trickling bytes does not extend it.
    std::thread::sleep(Duration::from_millis(100));
    let _ = slow.write_all(b"X-Trickle: 1\r\n");
    assert!(
        closed_within(&mut slow, Duration::from_secs(3)),
        "the slow connection stays open"
    );
    let held = t0.elapsed();
    assert!(
        held >= Duration::from_millis(250),
        "closed too early: {held:?}"
    );
    assert!(
        held < Duration::from_millis(2500),
        "closed too late: {held:?}"
    );
    assert_serves(gw.addr);
}

#[test]
fn idle_keep_alive_connection_is_closed() {
    let backend = Backend::start();
    let gw = Gateway::start_yaml(&config(&backend, "{idle_timeout_ms: 300}"), &[]);
    let (r, mut s) = one(gw.addr, b"GET /dev/a HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.header("Connection"), Some("keep-alive"));
    let t0 = Instant::now();
    assert!(
        closed_within(&mut s, Duration::from_secs(3)),
        "the idle connection stays open"
    );
    let idle = t0.elapsed();
    assert!(
        idle >= Duration::from_millis(200) && idle < Duration::from_millis(2500),
        "closed after {idle:?}"
    );
    // A connection that never sends anything is idle too.
    let mut silent = raw_conn(gw.addr);
    assert!(closed_within(&mut silent, Duration::from_secs(3)));
    assert_serves(gw.addr);
}

/// Random bytes (a fixed-seed xorshift, so a failure reproduces) never crash or wedge the
/// gateway: every connection ends in a 400, a 431, or a close, and good requests still work.
#[test]
fn garbage_never_crashes_the_server() {
    let backend = Backend::start();
    let gw = Gateway::start_yaml(&config(&backend, "{header_timeout_ms: 500}"), &[]);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..40 {
        let len = 1 + (next() % 4096) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Every other round starts like a request, so the garbage reaches the header parser.
        if round % 2 == 1 {
            let mut head = b"POST /dev/echo HTTP/1.1\r\n".to_vec();
            head.append(&mut bytes);
            bytes = head;
        }
        let raw = raw_exchange(gw.addr, &bytes, Duration::from_secs(2));
        let codes = statuses(&raw);
        assert!(
            codes.iter().all(|c| matches!(c, 400 | 413 | 431)),
            "round {round}: {codes:?}"
        );
        assert!(codes.len() <= 1, "round {round}: {codes:?}");
    }
    assert_serves(gw.addr);
    let output = gw.output();
    assert!(output.iter().all(|l| !l.contains("panicked")), "{output:?}");
}

/// HTTP_PROXY streams: the first chunk reaches the client while the backend is still
/// producing the rest, and a large length-delimited body keeps its Content-Length.
#[test]
fn proxied_bodies_stream_as_they_arrive() {
    let backend = Backend::start();
    let gw = start(&backend);
    let mut s = raw_conn(gw.addr);
    let t0 = Instant::now();
    s.write_all(b"GET /dev/slow-chunks HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(5).any(|w| w == b"first") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
    }
    let first_at = t0.elapsed();
    assert!(
        first_at < Duration::from_millis(450),
        "the first chunk took {first_at:?}: not streamed"
    );
    let rest = read_responses(&mut s, 0, false);
    assert!(rest.is_empty());
    // The connection stays usable: the whole first response is consumed, then another request.
    let mut all = got;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    while !all.ends_with(b"0\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the end of the chunked body");
        all.extend_from_slice(&buf[..n]);
    }
    let (r, _) = parse_one(&all, false).unwrap();
    assert_eq!(r.body_str(), "firstsecond");
    let (r, _) = one(gw.addr, b"GET /dev/big/300000 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.header("Content-Length"), Some("300000"));
    assert_eq!(r.body.len(), 300_000);
    assert!(r.body.iter().all(|b| *b == b'x'));
}
