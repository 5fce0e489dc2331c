//! The wire side of the local function host: a small blocking HTTP/1.1 server for the two
//! APIs it speaks on loopback, the **Lambda Runtime API** (to function processes;
//! DG Lambda: runtimes-api) and the **Invoke API** (to the gateway's workers).
//!
//! Blocking `std::net` with one thread per connection: this runs off the request path, its
//! peers are a handful of local processes and pooled gateway connections, and long polls on
//! `/invocation/next` are the norm. Every read is bounded in size; connections are bounded
//! in number by the host.

use std::io::{self, Read, Write};
use std::net::TcpStream;

/// Largest request head accepted.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Largest body accepted: Lambda's 6 MB synchronous payload limit, plus room for framing
/// (DG Lambda: gettingstarted-limits).
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024 + 64 * 1024;
/// Header lines accepted per request.
const MAX_HEADERS: usize = 64;
/// Runtime API version prefix.
pub const RUNTIME_PREFIX: &str = "/2018-06-01/runtime/";

/// One request read from a connection.
#[derive(Debug, Default)]
pub struct HttpRequest {
    /// Method token.
    pub method: String,
    /// Request target (path and query).
    pub target: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// The de-framed body.
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// First header value, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one request; `Ok(None)` on a clean end of stream between requests. `buf` keeps
/// bytes read past this request (pipelining) for the next call.
pub fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<HttpRequest>> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut chunk = [0u8; 16 * 1024];
    // Head: read until it parses; bounded by MAX_HEAD_BYTES.
    let (mut req, head_len) = loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(buf).map_err(|_| bad("malformed request"))? {
            httparse::Status::Complete(n) => {
                let req = HttpRequest {
                    method: parsed.method.unwrap_or("").to_string(),
                    target: parsed.path.unwrap_or("").to_string(),
                    headers: parsed
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_string(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect(),
                    body: Vec::new(),
                };
                break (req, n);
            }
            httparse::Status::Partial => {
                if buf.len() > MAX_HEAD_BYTES {
                    return Err(bad("request head too large"));
                }
                let n = stream.read(&mut chunk)?;
                if n == 0 {
                    return if buf.is_empty() {
                        Ok(None)
                    } else {
                        Err(bad("connection closed mid-request"))
                    };
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    };
    buf.drain(..head_len);
    if req
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        // curl (under the runtime interface clients) waits for this before a large body.
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        req.body = read_chunked(stream, buf, &mut chunk)?;
    } else {
        let len: usize = match req.header("content-length") {
            Some(v) => v.trim().parse().map_err(|_| bad("bad Content-Length"))?,
            None => 0,
        };
        if len > MAX_BODY_BYTES {
            return Err(bad("body too large"));
        }
        while buf.len() < len {
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(bad("connection closed mid-body"));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        req.body = buf.drain(..len).collect();
    }
    Ok(Some(req))
}

/// Decodes a chunked body (RFC 9112 §7.1), trailers skipped, size bounded.
fn read_chunked(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    chunk: &mut [u8],
) -> io::Result<Vec<u8>> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut body = Vec::new();
    let mut fill = |buf: &mut Vec<u8>, stream: &mut TcpStream| -> io::Result<()> {
        let n = stream.read(chunk)?;
        if n == 0 {
            return Err(bad("connection closed mid-chunk"));
        }
        buf.extend_from_slice(&chunk[..n]);
        Ok(())
    };
    loop {
        let line_end = loop {
            if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            if buf.len() > MAX_HEAD_BYTES {
                return Err(bad("chunk size line too long"));
            }
            fill(buf, stream)?;
        };
        let line = std::str::from_utf8(&buf[..line_end]).map_err(|_| bad("bad chunk size"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("bad chunk size"))?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailer section: lines until an empty one.
            loop {
                let end = loop {
                    if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                        break i;
                    }
                    if buf.len() > MAX_HEAD_BYTES {
                        return Err(bad("trailers too long"));
                    }
                    fill(buf, stream)?;
                };
                buf.drain(..end + 2);
                if end == 0 {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY_BYTES {
            return Err(bad("body too large"));
        }
        while buf.len() < size + 2 {
            fill(buf, stream)?;
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
}

/// Writes a whole response (always with Content-Length, keep-alive).
pub fn write_response(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<()> {
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(itoa::Buffer::new().format(status).as_bytes());
    out.push(b' ');
    out.extend_from_slice(crate::http::response::reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
    for (n, v) in headers {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: ");
    out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
    stream.write_all(&out)
}

/// A Runtime API call (DG Lambda: runtimes-api).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeCall<'a> {
    /// `GET /2018-06-01/runtime/invocation/next`.
    Next,
    /// `POST /2018-06-01/runtime/invocation/{id}/response`.
    Response(&'a str),
    /// `POST /2018-06-01/runtime/invocation/{id}/error`.
    Error(&'a str),
    /// `POST /2018-06-01/runtime/init/error`.
    InitError,
    /// Anything else.
    Unknown,
}

/// Routes a Runtime API request.
pub fn runtime_call<'a>(method: &str, target: &'a str) -> RuntimeCall<'a> {
    let path = target.split('?').next().unwrap_or("");
    let Some(rest) = path.strip_prefix(RUNTIME_PREFIX) else {
        return RuntimeCall::Unknown;
    };
    match (method, rest) {
        ("GET", "invocation/next") => RuntimeCall::Next,
        ("POST", "init/error") => RuntimeCall::InitError,
        ("POST", r) => match r.strip_prefix("invocation/") {
            Some(r) => match r.rsplit_once('/') {
                Some((id, "response")) if !id.is_empty() => RuntimeCall::Response(id),
                Some((id, "error")) if !id.is_empty() => RuntimeCall::Error(id),
                _ => RuntimeCall::Unknown,
            },
            None => RuntimeCall::Unknown,
        },
        _ => RuntimeCall::Unknown,
    }
}

/// An Invoke API call: `POST /2015-03-31/functions/{name}/invocations[?Qualifier=q]`, the
/// name percent-decoded. `None` for any other request.
pub fn invoke_call(method: &str, target: &str) -> Option<(String, Option<String>)> {
    if method != "POST" {
        return None;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let name = path
        .strip_prefix("/2015-03-31/functions/")?
        .strip_suffix("/invocations")?;
    let qualifier = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("Qualifier="))
        .map(|q| super::event::url_decode(q).into_owned());
    Some((percent_decode(name), qualifier))
}

fn percent_decode(s: &str) -> String {
    // `+` is literal in a path; only `%XX` is decoded.
    super::event::url_decode(&s.replace('+', "%2B")).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn routes() {
        assert_eq!(
            runtime_call("GET", "/2018-06-01/runtime/invocation/next"),
            RuntimeCall::Next
        );
        assert_eq!(
            runtime_call("POST", "/2018-06-01/runtime/invocation/abc-1/response"),
            RuntimeCall::Response("abc-1")
        );
        assert_eq!(
            runtime_call("POST", "/2018-06-01/runtime/invocation/abc/error"),
            RuntimeCall::Error("abc")
        );
        assert_eq!(
            runtime_call("POST", "/2018-06-01/runtime/init/error"),
            RuntimeCall::InitError
        );
        assert_eq!(
            runtime_call("POST", "/2018-06-01/runtime/invocation//error"),
            RuntimeCall::Unknown
        );
        assert_eq!(runtime_call("GET", "/x"), RuntimeCall::Unknown);
        assert_eq!(
            invoke_call(
                "POST",
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Ar%3A1%3Afunction%3Ahi/invocations?Qualifier=v1"
            ),
            Some(("arn:aws:lambda:r:1:function:hi".into(), Some("v1".into())))
        );
        assert_eq!(
            invoke_call("GET", "/2015-03-31/functions/x/invocations"),
            None
        );
    }

    #[test]
    fn reads_length_chunked_and_pipelined_requests() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(
                b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcPOST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n1;ext\r\nz\r\n0\r\n\r\n",
            )
            .unwrap();
            let mut s = String::new();
            c.read_to_string(&mut s).unwrap();
            s
        });
        let (mut s, _) = l.accept().unwrap();
        let mut buf = Vec::new();
        let a = read_request(&mut s, &mut buf).unwrap().unwrap();
        assert_eq!((a.target.as_str(), a.body.as_slice()), ("/a", &b"abc"[..]));
        let b = read_request(&mut s, &mut buf).unwrap().unwrap();
        assert_eq!((b.target.as_str(), b.body.as_slice()), ("/b", &b"xyz"[..]));
        write_response(&mut s, 202, &[("X", "1")], b"ok").unwrap();
        drop(s);
        assert_eq!(
            t.join().unwrap(),
            "HTTP/1.1 202 Accepted\r\nX: 1\r\nContent-Length: 2\r\n\r\nok"
        );
    }
}
