//! A strict, incremental HTTP/1.1 response parser, written for the load generator alone.
//!
//! It deliberately shares no code with the gateway's request parser (which uses `httparse`):
//! the load generator is the gateway's first client, so an independent reading of the wire
//! catches framing bugs (wrong Content-Length, broken chunking, stray bytes) instead of
//! repeating them. It is strict where RFC 9112 lets a recipient be lenient: only CRLF line
//! ends, no obs-fold, no whitespace before a header colon, no Transfer-Encoding together with
//! Content-Length. Bodies are counted, never buffered, so the parser needs O(1) memory beyond
//! the head, and it can be fed any split of the byte stream (a response may arrive one byte at
//! a time, or several pipelined responses in one read).

use std::fmt;

/// Largest response head (status line + headers) accepted; bigger is reported as an error
/// instead of growing the read buffer without bound.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header fields accepted in one response head.
pub const MAX_HEADERS: usize = 128;
/// Most hex digits in a chunk size: 15 digits fit in a u64 without overflow.
const MAX_CHUNK_SIZE_DIGITS: u8 = 15;
/// Longest chunk extension accepted (RFC 9112 §7.1.1 sets no limit; we need one).
const MAX_CHUNK_EXT_BYTES: usize = 4096;
/// Largest trailer section accepted after the last chunk.
const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// Most interim (1xx) responses skipped before the final one.
const MAX_INTERIM_RESPONSES: u8 = 8;

/// What went wrong while reading a response; every variant is a protocol violation by the
/// server (or a response we refuse to guess about).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Status line is not `HTTP/1.x SP 3DIGIT SP reason CRLF`.
    StatusLine,
    /// A header line is malformed (bad name, space before colon, control byte, obs-fold).
    Header,
    /// A line ended in a bare LF or a CR not followed by LF.
    LineEnding,
    /// The head is larger than [`MAX_HEAD_BYTES`] or has more than [`MAX_HEADERS`] fields.
    HeadTooLarge,
    /// Content-Length is not a decimal number, or appears twice with different values.
    ContentLength,
    /// Both Transfer-Encoding and Content-Length (RFC 9112 §6.3 point 3: a smuggling sign).
    ConflictingFraming,
    /// Transfer-Encoding other than a final `chunked`.
    TransferEncoding,
    /// Malformed chunk size line, chunk terminator or trailer section.
    Chunk,
    /// The connection closed in the middle of a response.
    UnexpectedEof,
    /// More than [`MAX_INTERIM_RESPONSES`] 1xx responses in a row.
    TooManyInterim,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::StatusLine => "malformed status line",
            Self::Header => "malformed header line",
            Self::LineEnding => "line not ended by CRLF",
            Self::HeadTooLarge => "response head too large",
            Self::ContentLength => "invalid Content-Length",
            Self::ConflictingFraming => "both Transfer-Encoding and Content-Length",
            Self::TransferEncoding => "unsupported Transfer-Encoding",
            Self::Chunk => "malformed chunked body",
            Self::UnexpectedEof => "connection closed mid-response",
            Self::TooManyInterim => "too many 1xx responses",
        };
        f.write_str(s)
    }
}

impl std::error::Error for ParseError {}

/// The facts about one complete response that the load generator records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// Final status code (interim 1xx responses are skipped).
    pub status: u16,
    /// Body bytes after de-chunking.
    pub body_len: u64,
    /// Whether the connection may carry another request (no `Connection: close`, not HTTP/1.0
    /// without keep-alive, not a close-delimited body).
    pub keep_alive: bool,
}

/// Result of one [`ResponseParser::feed`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feed {
    /// Bytes of the input that belong to this response and may be dropped by the caller.
    /// Bytes after them are not looked at (they may start the next pipelined response).
    pub consumed: usize,
    /// The response, once its last byte has been consumed.
    pub done: Option<Response>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the whole head; `scanned` bytes are known to hold no `\r\n\r\n`.
    Head { scanned: usize },
    /// Content-Length body.
    Fixed { remaining: u64 },
    /// Hex digits of a chunk size.
    ChunkSize { size: u64, digits: u8 },
    /// Chunk extension after the size, up to CR.
    ChunkExt { size: u64, len: usize },
    /// LF after the chunk size line.
    ChunkSizeLf { size: u64 },
    /// Chunk data.
    ChunkData { remaining: u64 },
    /// CR after chunk data.
    ChunkDataCr,
    /// LF after chunk data.
    ChunkDataLf,
    /// Trailer section after the last chunk: `line` bytes on the current line.
    Trailer { line: usize, total: usize },
    /// LF ending a trailer line (or the section, when the line was empty).
    TrailerLf { line: usize, total: usize },
    /// Body delimited by connection close.
    UntilClose,
}

/// Parses one response at a time; call [`ResponseParser::reset`] (or make a new one) for the
/// next. `head_request` must be set when the request was HEAD: such a response has no body
/// whatever its headers say (RFC 9112 §6.3 point 1).
#[derive(Debug, Clone)]
pub struct ResponseParser {
    state: State,
    head_request: bool,
    status: u16,
    keep_alive: bool,
    body_len: u64,
    interim: u8,
    /// Some byte of the current response has been seen.
    started: bool,
}

/// How the body of a response is framed, from its head.
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

struct Head {
    status: u16,
    keep_alive: bool,
    framing: Framing,
}

impl ResponseParser {
    /// A parser for the response to a request; `head_request` is true for HEAD.
    pub fn new(head_request: bool) -> Self {
        Self {
            state: State::Head { scanned: 0 },
            head_request,
            status: 0,
            keep_alive: true,
            body_len: 0,
            interim: 0,
            started: false,
        }
    }

    /// Prepare for the next response on the same connection.
    pub fn reset(&mut self) {
        *self = Self::new(self.head_request);
    }

    /// Whether the parser has seen any part of a response yet (used to tell an idle close from
    /// a close in the middle of a response).
    pub fn is_idle(&self) -> bool {
        !self.started
    }

    /// Feed the bytes received so far and not yet consumed. The caller drops
    /// `Feed::consumed` bytes from the front and calls again with more data until
    /// `Feed::done` is set.
    pub fn feed(&mut self, buf: &[u8]) -> Result<Feed, ParseError> {
        let mut pos = 0usize;
        self.started |= !buf.is_empty();
        // Each turn either consumes input, changes state, or returns: the loop is bounded by
        // the input length plus the number of state changes per byte (at most two).
        loop {
            let rest = &buf[pos..];
            match self.state {
                State::Head { scanned } => {
                    let Some(end) = find_head_end(rest, scanned) else {
                        if rest.len() > MAX_HEAD_BYTES {
                            return Err(ParseError::HeadTooLarge);
                        }
                        // Keep the last 3 bytes in view: the terminator may straddle reads.
                        self.state = State::Head {
                            scanned: rest.len().saturating_sub(3),
                        };
                        return Ok(Feed {
                            consumed: pos,
                            done: None,
                        });
                    };
                    if end > MAX_HEAD_BYTES {
                        return Err(ParseError::HeadTooLarge);
                    }
                    let head = parse_head(&rest[..end])?;
                    pos += end;
                    if (100..200).contains(&head.status) {
                        // Interim response (RFC 9110 §15.2): skip it, the final one follows.
                        self.interim += 1;
                        if self.interim > MAX_INTERIM_RESPONSES {
                            return Err(ParseError::TooManyInterim);
                        }
                        self.state = State::Head { scanned: 0 };
                        continue;
                    }
                    self.status = head.status;
                    self.keep_alive = head.keep_alive;
                    // RFC 9112 §6.3 point 1: HEAD responses, 204 and 304 never have a body.
                    let framing = if self.head_request || head.status == 204 || head.status == 304 {
                        Framing::None
                    } else {
                        head.framing
                    };
                    match framing {
                        Framing::None | Framing::Length(0) => return Ok(self.finish(pos)),
                        Framing::Length(n) => self.state = State::Fixed { remaining: n },
                        Framing::Chunked => {
                            self.state = State::ChunkSize { size: 0, digits: 0 };
                        }
                        Framing::UntilClose => {
                            self.keep_alive = false;
                            self.state = State::UntilClose;
                        }
                    }
                }
                State::Fixed { remaining } => {
                    let take = take_len(remaining, rest.len());
                    pos += take;
                    self.body_len += take as u64;
                    let remaining = remaining - take as u64;
                    if remaining == 0 {
                        return Ok(self.finish(pos));
                    }
                    self.state = State::Fixed { remaining };
                    return Ok(Feed {
                        consumed: pos,
                        done: None,
                    });
                }
                State::ChunkData { remaining } => {
                    let take = take_len(remaining, rest.len());
                    pos += take;
                    self.body_len += take as u64;
                    let remaining = remaining - take as u64;
                    if remaining == 0 {
                        self.state = State::ChunkDataCr;
                        continue;
                    }
                    self.state = State::ChunkData { remaining };
                    return Ok(Feed {
                        consumed: pos,
                        done: None,
                    });
                }
                State::UntilClose => {
                    pos += rest.len();
                    self.body_len += rest.len() as u64;
                    return Ok(Feed {
                        consumed: pos,
                        done: None,
                    });
                }
                _ => {
                    let Some(&b) = rest.first() else {
                        return Ok(Feed {
                            consumed: pos,
                            done: None,
                        });
                    };
                    pos += 1;
                    if self.chunk_byte(b)? {
                        return Ok(self.finish(pos));
                    }
                }
            }
        }
    }

    /// The connection reached end of file. A close-delimited body ends here; anything else
    /// in progress is an error. Returns `Ok(None)` when no response had started.
    pub fn eof(&mut self) -> Result<Option<Response>, ParseError> {
        match self.state {
            State::UntilClose => Ok(self.finish(0).done),
            _ if self.is_idle() => Ok(None),
            _ => Err(ParseError::UnexpectedEof),
        }
    }

    fn finish(&mut self, consumed: usize) -> Feed {
        let done = Response {
            status: self.status,
            body_len: self.body_len,
            keep_alive: self.keep_alive,
        };
        self.reset();
        Feed {
            consumed,
            done: Some(done),
        }
    }

    /// One byte of chunk framing (RFC 9112 §7.1); returns true when the body is complete.
    fn chunk_byte(&mut self, b: u8) -> Result<bool, ParseError> {
        self.state = match self.state {
            State::ChunkSize { size, digits } => match b {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    if digits >= MAX_CHUNK_SIZE_DIGITS {
                        return Err(ParseError::Chunk);
                    }
                    let v = match b {
                        b'0'..=b'9' => b - b'0',
                        b'a'..=b'f' => b - b'a' + 10,
                        _ => b - b'A' + 10,
                    };
                    State::ChunkSize {
                        size: (size << 4) | u64::from(v),
                        digits: digits + 1,
                    }
                }
                b'\r' if digits > 0 => State::ChunkSizeLf { size },
                b'\n' => return Err(ParseError::LineEnding),
                // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
                b';' | b' ' | b'\t' if digits > 0 => State::ChunkExt { size, len: 1 },
                _ => return Err(ParseError::Chunk),
            },
            State::ChunkExt { size, len } => match b {
                b'\r' => State::ChunkSizeLf { size },
                b'\t' | b' '..=b'~' | 0x80..=0xff if len < MAX_CHUNK_EXT_BYTES => {
                    State::ChunkExt { size, len: len + 1 }
                }
                _ => return Err(ParseError::Chunk),
            },
            State::ChunkSizeLf { size } => match b {
                b'\n' if size == 0 => State::Trailer { line: 0, total: 0 },
                b'\n' => State::ChunkData { remaining: size },
                _ => return Err(ParseError::LineEnding),
            },
            State::ChunkDataCr => match b {
                b'\r' => State::ChunkDataLf,
                _ => return Err(ParseError::Chunk),
            },
            State::ChunkDataLf => match b {
                b'\n' => State::ChunkSize { size: 0, digits: 0 },
                _ => return Err(ParseError::LineEnding),
            },
            State::Trailer { line, total } => {
                if total >= MAX_TRAILER_BYTES {
                    return Err(ParseError::Chunk);
                }
                match b {
                    b'\r' => State::TrailerLf { line, total },
                    b'\n' => return Err(ParseError::LineEnding),
                    b'\t' | b' '..=b'~' | 0x80..=0xff => State::Trailer {
                        line: line + 1,
                        total: total + 1,
                    },
                    _ => return Err(ParseError::Chunk),
                }
            }
            State::TrailerLf { line, total } => match b {
                b'\n' if line == 0 => return Ok(true),
                b'\n' => State::Trailer {
                    line: 0,
                    total: total + 2,
                },
                _ => return Err(ParseError::LineEnding),
            },
            // The other states never reach here (feed handles them in bulk).
            other => other,
        };
        Ok(false)
    }
}

/// How many of `avail` bytes a body with `remaining` bytes left may take.
fn take_len(remaining: u64, avail: usize) -> usize {
    usize::try_from(remaining).map_or(avail, |r| r.min(avail))
}

/// Index just past the first `\r\n\r\n` in `buf`, searching from `from`.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.min(buf.len());
    buf[start..]
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| start + i + 4)
}

/// Parse a complete head (ending in `\r\n\r\n`).
fn parse_head(head: &[u8]) -> Result<Head, ParseError> {
    // Drop the final empty line; every remaining line must end in CRLF.
    let body = &head[..head.len() - 2];
    let mut lines = body.split_inclusive(|&b| b == b'\n');
    let status_line = lines.next().ok_or(ParseError::StatusLine)?;
    let status_line = strip_crlf(status_line)?;
    let (http11, status) = parse_status_line(status_line)?;

    // HTTP/1.1 defaults to persistent connections, HTTP/1.0 to close (RFC 9112 §9.3).
    let mut keep_alive = http11;
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding = false;
    let mut chunked_last = false;
    let mut count = 0usize;
    for line in lines {
        count += 1;
        if count > MAX_HEADERS {
            return Err(ParseError::HeadTooLarge);
        }
        let line = strip_crlf(line)?;
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(ParseError::Header)?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        // RFC 9112 §5.1: no whitespace between name and colon; §5.2: obs-fold (a line starting
        // with whitespace) is rejected — both fall out of requiring a non-empty token.
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(ParseError::Header);
        }
        if !value
            .iter()
            .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
        {
            return Err(ParseError::Header);
        }
        let value = trim_ows(value);
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_content_length(value)?;
            if content_length.is_some_and(|old| old != n) {
                return Err(ParseError::ContentLength);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encoding = true;
            // Only the last coding decides whether the body is chunked (RFC 9112 §6.3 point 4).
            let last = value.rsplit(|&b| b == b',').next().map(trim_ows);
            chunked_last = last.is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',').map(trim_ows) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && !http11 {
                    keep_alive = true;
                }
            }
        }
    }

    let framing = match (transfer_encoding, content_length) {
        (true, Some(_)) => return Err(ParseError::ConflictingFraming),
        (true, None) if chunked_last => Framing::Chunked,
        (true, None) => return Err(ParseError::TransferEncoding),
        (false, Some(n)) => Framing::Length(n),
        (false, None) => Framing::UntilClose,
    };
    Ok(Head {
        status,
        keep_alive,
        framing,
    })
}

/// `HTTP/1.1 200 OK` → (is 1.1, 200). Reason may be empty but the space before it may not
/// (RFC 9112 §4).
fn parse_status_line(line: &[u8]) -> Result<(bool, u16), ParseError> {
    if line.len() < 13 || line[12] != b' ' || line[8] != b' ' {
        return Err(ParseError::StatusLine);
    }
    let http11 = match &line[..8] {
        b"HTTP/1.1" => true,
        b"HTTP/1.0" => false,
        _ => return Err(ParseError::StatusLine),
    };
    let mut status = 0u16;
    for &d in &line[9..12] {
        if !d.is_ascii_digit() {
            return Err(ParseError::StatusLine);
        }
        status = status * 10 + u16::from(d - b'0');
    }
    if status < 100 {
        return Err(ParseError::StatusLine);
    }
    let reason = &line[13..];
    if !reason
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
    {
        return Err(ParseError::StatusLine);
    }
    Ok((http11, status))
}

/// A line from `split_inclusive('\n')` without its CRLF; a bare LF, a stray CR, or a missing
/// line end is an error.
fn strip_crlf(line: &[u8]) -> Result<&[u8], ParseError> {
    let l = line.strip_suffix(b"\r\n").ok_or(ParseError::LineEnding)?;
    if l.contains(&b'\r') || l.contains(&b'\n') {
        return Err(ParseError::LineEnding);
    }
    Ok(l)
}

/// RFC 9110 §8.6: `1*DIGIT`; a list of identical values is accepted as one value.
fn parse_content_length(value: &[u8]) -> Result<u64, ParseError> {
    let mut result: Option<u64> = None;
    for part in value.split(|&b| b == b',').map(trim_ows) {
        if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
            return Err(ParseError::ContentLength);
        }
        let n = part
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
        if result.is_some_and(|r| r != n) {
            return Err(ParseError::ContentLength);
        }
        result = Some(n);
    }
    result.ok_or(ParseError::ContentLength)
}

fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&b| b != b' ' && b != b'\t');
    let Some(start) = start else { return &[] };
    let end = v
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(v.len(), |e| e + 1);
    &v[start..end]
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Feed `stream` split into pieces of the given sizes (the last piece takes the rest),
    /// emulating a caller that keeps unconsumed bytes; returns every response and the bytes
    /// left over.
    fn run_split(
        stream: &[u8],
        cuts: &[usize],
        head_req: bool,
    ) -> Result<Vec<Response>, ParseError> {
        let mut p = ResponseParser::new(head_req);
        let mut pending: Vec<u8> = Vec::new();
        let mut out = Vec::new();
        let mut at = 0;
        let mut pieces: Vec<&[u8]> = Vec::new();
        for &c in cuts {
            let end = (at + c).min(stream.len());
            pieces.push(&stream[at..end]);
            at = end;
        }
        pieces.push(&stream[at..]);
        for piece in pieces {
            pending.extend_from_slice(piece);
            loop {
                let f = p.feed(&pending)?;
                pending.drain(..f.consumed);
                match f.done {
                    Some(r) => out.push(r),
                    None => break,
                }
            }
        }
        if let Some(r) = p.eof()? {
            out.push(r);
        }
        assert!(pending.is_empty(), "bytes left over: {pending:?}");
        Ok(out)
    }

    fn whole(stream: &[u8]) -> Result<Vec<Response>, ParseError> {
        run_split(stream, &[], false)
    }

    const CL: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}";
    const CHUNKED: &[u8] = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;name=val\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\n";

    fn ok(status: u16, body_len: u64, keep_alive: bool) -> Response {
        Response {
            status,
            body_len,
            keep_alive,
        }
    }

    #[test]
    fn content_length_body() {
        assert_eq!(whole(CL).unwrap(), vec![ok(200, 11, true)]);
    }

    #[test]
    fn chunked_body_with_extension_and_trailer() {
        assert_eq!(whole(CHUNKED).unwrap(), vec![ok(201, 23, true)]);
    }

    #[test]
    fn pipelined_responses_split_at_every_byte() {
        let mut stream = Vec::new();
        stream.extend_from_slice(CL);
        stream.extend_from_slice(CHUNKED);
        stream.extend_from_slice(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        );
        stream.extend_from_slice(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
        stream.extend_from_slice(
            b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nConnection: close\r\n\r\nabc",
        );
        let want = vec![
            ok(200, 11, true),
            ok(201, 23, true),
            ok(404, 0, true),
            ok(204, 0, true),
            ok(200, 3, false),
        ];
        assert_eq!(whole(&stream).unwrap(), want);
        for cut in 1..stream.len() {
            assert_eq!(
                run_split(&stream, &[cut], false).unwrap(),
                want,
                "cut at {cut}"
            );
        }
        // one byte at a time
        let ones = vec![1; stream.len()];
        assert_eq!(run_split(&stream, &ones, false).unwrap(), want);
    }

    #[test]
    fn close_delimited_body_ends_at_eof() {
        let s = b"HTTP/1.0 200 OK\r\n\r\nhello world";
        assert_eq!(whole(s).unwrap(), vec![ok(200, 11, false)]);
        for cut in 1..s.len() {
            assert_eq!(
                run_split(s, &[cut], false).unwrap(),
                vec![ok(200, 11, false)]
            );
        }
    }

    #[test]
    fn http10_keep_alive_and_head_request() {
        let s = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi";
        assert_eq!(whole(s).unwrap(), vec![ok(200, 2, true)]);
        // HEAD: Content-Length describes the would-be body; none follows.
        let s = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
        assert_eq!(run_split(s, &[], true).unwrap(), vec![ok(200, 0, true)]);
    }

    #[test]
    fn eof_mid_response_is_an_error() {
        for s in [
            &CL[..CL.len() - 1],
            &CL[..20],
            &CHUNKED[..CHUNKED.len() - 2],
        ] {
            assert_eq!(whole(s), Err(ParseError::UnexpectedEof));
        }
        let mut p = ResponseParser::new(false);
        assert_eq!(p.eof(), Ok(None));
    }

    #[test]
    fn rejects_malformed_input() {
        let cases: &[(&[u8], ParseError)] = &[
            (
                b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
                ParseError::LineEnding,
            ),
            (b"HTTP/2.0 200 OK\r\n\r\n", ParseError::StatusLine),
            (b"HTTP/1.1 20 OK\r\n\r\n", ParseError::StatusLine),
            (b"HTTP/1.1 200\r\n\r\n", ParseError::StatusLine),
            (b"HTTP/1.1 099 X\r\n\r\n", ParseError::StatusLine),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n",
                ParseError::Header,
            ),
            (
                b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
                ParseError::Header,
            ),
            (b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", ParseError::Header),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
                ParseError::ContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                ParseError::ContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                ParseError::ContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                ParseError::ConflictingFraming,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                ParseError::TransferEncoding,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZ\r\n",
                ParseError::Chunk,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
                ParseError::Chunk,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
                ParseError::Chunk,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\nab",
                ParseError::LineEnding,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n",
                ParseError::Chunk,
            ),
        ];
        for (input, want) in cases {
            let got = whole(input);
            assert_eq!(
                got.as_ref(),
                Err(want),
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn duplicate_identical_content_length_is_one_value() {
        let s = b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nhi";
        assert_eq!(whole(s).unwrap(), vec![ok(200, 2, true)]);
    }

    #[test]
    fn head_size_is_bounded() {
        let mut s = b"HTTP/1.1 200 OK\r\n".to_vec();
        s.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES + 10));
        let mut p = ResponseParser::new(false);
        assert_eq!(p.feed(&s), Err(ParseError::HeadTooLarge));
        let mut s = b"HTTP/1.1 200 OK\r\n".to_vec();
        for _ in 0..=MAX_HEADERS {
            s.extend_from_slice(b"X: y\r\n");
        }
        s.extend_from_slice(b"\r\n");
        assert_eq!(whole(&s), Err(ParseError::HeadTooLarge));
    }

    #[test]
    fn interim_responses_are_bounded() {
        let mut s = Vec::new();
        for _ in 0..=MAX_INTERIM_RESPONSES {
            s.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        s.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(whole(&s), Err(ParseError::TooManyInterim));
    }

    #[test]
    fn big_fixed_body_is_counted_without_buffering() {
        let mut p = ResponseParser::new(false);
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 5000000000\r\n\r\n";
        let f = p.feed(head).unwrap();
        assert_eq!(
            f,
            Feed {
                consumed: head.len(),
                done: None
            }
        );
        let chunk = vec![0u8; 1 << 20];
        let mut total = 0u64;
        let mut done = None;
        for _ in 0..5000 {
            let f = p.feed(&chunk).unwrap();
            total += f.consumed as u64;
            if f.done.is_some() {
                done = f.done;
                break;
            }
        }
        assert_eq!(total, 5_000_000_000);
        assert_eq!(done, Some(ok(200, 5_000_000_000, true)));
    }
}
