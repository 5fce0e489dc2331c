//! A parsed request: borrowed views into the connection's read buffer.

use std::net::SocketAddr;

use super::name_eq;

/// One client request, as the pipeline sees it. Everything is borrowed: the method, target
/// and headers from the read buffer, the body from the read buffer (Content-Length) or from
/// the connection's de-chunking buffer.
#[derive(Debug)]
pub struct Request<'b> {
    /// The method token, e.g. `GET`.
    pub method: &'b str,
    /// The path part of the request target (before `?`), raw: not percent-decoded.
    pub path: &'b str,
    /// The raw query string (after `?`, without `#...`), if any.
    pub query: Option<&'b str>,
    /// Header lines in the order received.
    pub headers: &'b [httparse::Header<'b>],
    /// The body bytes.
    pub body: &'b [u8],
    /// `true` for HTTP/1.1, `false` for HTTP/1.0.
    pub http11: bool,
    /// The client's address (the TCP peer).
    pub client: SocketAddr,
    /// The client's IP as text, formatted once per connection (X-Forwarded-For, sourceIp).
    pub client_ip: &'b str,
}

impl<'b> Request<'b> {
    /// First value of a header, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers
            .iter()
            .find(|h| name_eq(h.name, name))
            .map(|h| h.value)
    }

    /// First value of a header as UTF-8 text, if it is.
    pub fn header_str(&self, name: &str) -> Option<&'b str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The `Host` header without its port.
    pub fn host(&self) -> &'b str {
        let host = self.header_str("host").unwrap_or("");
        match host.rfind(':') {
            Some(i) if !host.ends_with(']') => &host[..i],
            _ => host,
        }
    }
}

/// Splits a request target into path and query. An absolute-form target
/// (`http://host/path`, RFC 9112 §3.2.2) is reduced to its path; a fragment is dropped.
pub fn split_target(target: &str) -> (&str, Option<&str>) {
    let mut t = target;
    if let Some(rest) = t
        .strip_prefix("http://")
        .or_else(|| t.strip_prefix("https://"))
    {
        t = rest.find('/').map_or("/", |i| &rest[i..]);
    }
    if let Some(i) = t.find('#') {
        t = &t[..i];
    }
    match t.find('?') {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(split_target("/a/b?x=1&y"), ("/a/b", Some("x=1&y")));
        assert_eq!(split_target("/a#frag"), ("/a", None));
        assert_eq!(split_target("http://h:1/p?q"), ("/p", Some("q")));
        assert_eq!(split_target("http://h"), ("/", None));
        assert_eq!(split_target("/?"), ("/", Some("")));
    }
}
