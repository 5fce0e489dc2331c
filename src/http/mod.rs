//! The HTTP/1.1 wire: zero-copy request parsing over the connection's read buffer, body
//! framing with its request-smuggling rules, and response writing.
//!
//! Parsing never calls pipeline code and never allocates for the head: the method, target
//! and headers are slices of the read buffer (`httparse`).

pub mod framing;
pub mod request;
pub mod response;

/// Request line plus header section, in bytes. AWS allows 10,240 bytes of headers and a
/// 10,240-character URL (DG: limits), so twice that holds every request AWS would accept.
pub const MAX_HEAD_BYTES: usize = 20 * 1024;

/// Header lines per request. Past this we answer 431, as for an oversized header section.
pub const MAX_HEADERS: usize = 100;

/// Request payload limit: 10 MB, above which AWS answers 413 (DG: limits).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Response payload limit for what we read from a backend (AWS: 10 MB integration payload).
pub const MAX_BACKEND_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

/// Case-insensitive ASCII comparison of a header name.
#[inline]
pub fn name_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().eq_ignore_ascii_case(b.as_bytes())
}

/// Trims optional whitespace (RFC 9110 §5.6.3 OWS) around a header value.
#[inline]
pub fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| *b != b' ' && *b != b'\t')
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| *b != b' ' && *b != b'\t')
        .map_or(start, |e| e + 1);
    &v[start..end]
}
