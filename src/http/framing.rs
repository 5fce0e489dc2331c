//! Request body framing (RFC 9112 §6) and the request-smuggling defences that go with it.
//!
//! The rules, as RFC 9112 §6.3 lists them, applied to requests:
//! 1. A `Transfer-Encoding` whose final coding is `chunked` means a chunked body.
//! 2. A request with both `Transfer-Encoding` and `Content-Length` "ought to be handled as an
//!    error" (§6.1); we reject it with 400 and close, as a front proxy must.
//! 3. A `Transfer-Encoding` that does not end in `chunked` cannot be framed: 400 and close.
//! 4. Several `Content-Length` values that differ, or one that is not a plain decimal number,
//!    are unrecoverable framing errors (§6.3 item 5): 400 and close.
//! 5. Otherwise `Content-Length` gives the length; without either header the body is empty.

use super::{name_eq, trim_ows};

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    Empty,
    /// Exactly this many bytes follow the head.
    Length(usize),
    /// Chunked transfer coding.
    Chunked,
}

/// Why a request could not be framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingError {
    /// Both `Content-Length` and `Transfer-Encoding`.
    LengthAndChunked,
    /// A `Content-Length` that is not a decimal number, or several that differ.
    BadContentLength,
    /// A transfer coding other than a final `chunked`.
    UnsupportedTransferEncoding,
    /// A malformed chunk size line or chunk terminator.
    BadChunk,
    /// The body is larger than [`super::MAX_BODY_BYTES`].
    TooLarge,
}

/// Facts about a request head that decide framing and connection handling.
#[derive(Debug, Clone, Copy)]
pub struct HeadInfo {
    /// How the body is delimited.
    pub framing: BodyFraming,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// `Expect: 100-continue` was sent.
    pub expect_continue: bool,
}

/// Reads the framing-relevant headers once.
pub fn head_info(headers: &[httparse::Header<'_>], http11: bool) -> Result<HeadInfo, FramingError> {
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut has_te = false;
    let mut keep_alive = http11;
    let mut expect_continue = false;
    for h in headers {
        let name = h.name;
        if name_eq(name, "content-length") {
            let v = trim_ows(h.value);
            let n = parse_decimal(v).ok_or(FramingError::BadContentLength)?;
            if content_length.is_some_and(|prev| prev != n) {
                return Err(FramingError::BadContentLength);
            }
            content_length = Some(n);
        } else if name_eq(name, "transfer-encoding") {
            has_te = true;
            // Only the final coding matters for framing; a later header line continues the
            // list (RFC 9110 §5.3), so the last line's last element decides.
            let v = h.value;
            let last = v.rsplit(|b| *b == b',').next().map(trim_ows).unwrap_or(b"");
            chunked = last.eq_ignore_ascii_case(b"chunked");
        } else if name_eq(name, "connection") {
            for token in h.value.split(|b| *b == b',') {
                let t = trim_ows(token);
                if t.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if t.eq_ignore_ascii_case(b"keep-alive") && !http11 {
                    keep_alive = true;
                }
            }
        } else if name_eq(name, "expect") {
            expect_continue = trim_ows(h.value).eq_ignore_ascii_case(b"100-continue");
        }
    }
    let framing = match (has_te, content_length) {
        (true, Some(_)) => return Err(FramingError::LengthAndChunked),
        (true, None) if chunked => BodyFraming::Chunked,
        (true, None) => return Err(FramingError::UnsupportedTransferEncoding),
        (false, Some(0)) | (false, None) => BodyFraming::Empty,
        (false, Some(n)) => BodyFraming::Length(n),
    };
    Ok(HeadInfo {
        framing,
        keep_alive,
        expect_continue,
    })
}

/// Parses a non-empty run of ASCII digits, refusing signs, spaces and overflow.
pub fn parse_decimal(v: &[u8]) -> Option<usize> {
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    let mut n: usize = 0;
    for b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(usize::from(b - b'0'))?;
    }
    Some(n)
}

/// Outcome of scanning a chunked body.
#[derive(Debug, PartialEq, Eq)]
pub enum ChunkScan {
    /// More bytes are needed.
    Partial,
    /// The body ends after `consumed` bytes (trailers included); `data_len` bytes of data.
    Complete {
        /// Bytes of the wire encoding, from the start of the body to the end of the trailers.
        consumed: usize,
        /// Bytes of decoded data.
        data_len: usize,
    },
}

/// Longest chunk-size line we accept (size, extensions and CRLF). Bounds the scan of a line.
const MAX_CHUNK_LINE: usize = 1024;

/// Scans a chunked body without copying: finds where it ends and how much data it holds.
/// Chunk data is skipped by its declared size, so a rescan after more bytes arrive costs
/// O(chunks), not O(bytes). `limit` bounds the decoded size.
pub fn scan_chunked(buf: &[u8], limit: usize) -> Result<ChunkScan, FramingError> {
    let mut pos = 0;
    let mut data_len: usize = 0;
    loop {
        let Some(line_end) = find_crlf(&buf[pos..], MAX_CHUNK_LINE)? else {
            return Ok(ChunkScan::Partial);
        };
        let line = &buf[pos..pos + line_end];
        let size = parse_chunk_size(line)?;
        pos += line_end + 2;
        if size == 0 {
            // Trailer section: header lines until an empty line.
            loop {
                let Some(end) = find_crlf(&buf[pos..], MAX_CHUNK_LINE)? else {
                    return Ok(ChunkScan::Partial);
                };
                pos += end + 2;
                if end == 0 {
                    return Ok(ChunkScan::Complete {
                        consumed: pos,
                        data_len,
                    });
                }
            }
        }
        data_len = data_len.checked_add(size).ok_or(FramingError::TooLarge)?;
        if data_len > limit {
            return Err(FramingError::TooLarge);
        }
        if buf.len() < pos + size + 2 {
            return Ok(ChunkScan::Partial);
        }
        if &buf[pos + size..pos + size + 2] != b"\r\n" {
            return Err(FramingError::BadChunk);
        }
        pos += size + 2;
    }
}

/// Copies the data of a chunked body that [`scan_chunked`] found complete into `out`.
pub fn decode_chunked(buf: &[u8], out: &mut Vec<u8>) -> Result<(), FramingError> {
    let mut pos = 0;
    loop {
        let end = find_crlf(&buf[pos..], MAX_CHUNK_LINE)?.ok_or(FramingError::BadChunk)?;
        let size = parse_chunk_size(&buf[pos..pos + end])?;
        pos += end + 2;
        if size == 0 {
            return Ok(());
        }
        let data = buf.get(pos..pos + size).ok_or(FramingError::BadChunk)?;
        out.extend_from_slice(data);
        pos += size + 2;
    }
}

/// Position of the next CRLF within `max` bytes; a bare LF or an over-long line is an error.
fn find_crlf(buf: &[u8], max: usize) -> Result<Option<usize>, FramingError> {
    let window = &buf[..buf.len().min(max)];
    match memchr::memchr(b'\n', window) {
        Some(0) => Err(FramingError::BadChunk),
        Some(i) if window[i - 1] == b'\r' => Ok(Some(i - 1)),
        Some(_) => Err(FramingError::BadChunk),
        None if buf.len() >= max => Err(FramingError::BadChunk),
        None => Ok(None),
    }
}

/// `chunk-size [ chunk-ext ]`: hex digits, then optionally `;ext`. Whitespace before the
/// extension is tolerated (RFC 9112 §7.1.1 BWS); anything else is refused.
fn parse_chunk_size(line: &[u8]) -> Result<usize, FramingError> {
    let mut size: usize = 0;
    let mut digits = 0;
    let mut rest = line;
    while let Some((&b, tail)) = rest.split_first() {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => break,
        };
        digits += 1;
        if digits > 16 {
            return Err(FramingError::BadChunk);
        }
        size = size * 16 + usize::from(d);
        rest = tail;
    }
    if digits == 0 {
        return Err(FramingError::BadChunk);
    }
    let rest = trim_ows(rest);
    if !rest.is_empty() && rest[0] != b';' {
        return Err(FramingError::BadChunk);
    }
    Ok(size)
}

/// Follows a chunked body as it streams through, byte run by byte run, to find where it
/// ends without buffering it (the proxy forwards the framing as received).
#[derive(Debug, Default)]
pub struct ChunkTracker {
    state: TrackState,
    size: usize,
    digits: usize,
    line: usize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum TrackState {
    #[default]
    Size,
    Extension,
    SizeLf,
    Data(usize),
    DataCr,
    DataLf,
    Trailer,
    TrailerLf,
    Done,
}

impl ChunkTracker {
    /// Feeds the next bytes; `Ok(Some(n))`: the body ends after `n` bytes of `data`.
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<usize>, FramingError> {
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            self.state = match self.state {
                TrackState::Size => match (b as char).to_digit(16) {
                    Some(v) => {
                        self.digits += 1;
                        if self.digits > 16 {
                            return Err(FramingError::BadChunk);
                        }
                        self.size = self.size * 16 + v as usize;
                        TrackState::Size
                    }
                    None if self.digits == 0 => return Err(FramingError::BadChunk),
                    None => match b {
                        b'\r' => TrackState::SizeLf,
                        b';' | b' ' | b'\t' => TrackState::Extension,
                        _ => return Err(FramingError::BadChunk),
                    },
                },
                TrackState::Extension => {
                    self.line += 1;
                    match b {
                        _ if self.line > MAX_CHUNK_LINE => return Err(FramingError::BadChunk),
                        b'\r' => TrackState::SizeLf,
                        b'\n' => return Err(FramingError::BadChunk),
                        _ => TrackState::Extension,
                    }
                }
                TrackState::SizeLf if b == b'\n' => {
                    let size = std::mem::take(&mut self.size);
                    self.digits = 0;
                    self.line = 0;
                    if size == 0 {
                        TrackState::Trailer
                    } else {
                        TrackState::Data(size)
                    }
                }
                TrackState::Data(n) => {
                    let take = n.min(data.len() - i);
                    i += take;
                    self.state = if take == n {
                        TrackState::DataCr
                    } else {
                        TrackState::Data(n - take)
                    };
                    continue;
                }
                TrackState::DataCr if b == b'\r' => TrackState::DataLf,
                TrackState::DataLf if b == b'\n' => TrackState::Size,
                TrackState::Trailer if b == b'\r' => TrackState::TrailerLf,
                TrackState::Trailer => {
                    self.line += 1;
                    if self.line > MAX_CHUNK_LINE || b == b'\n' {
                        return Err(FramingError::BadChunk);
                    }
                    TrackState::Trailer
                }
                TrackState::TrailerLf if b == b'\n' => {
                    if self.line == 0 {
                        self.state = TrackState::Done;
                        return Ok(Some(i + 1));
                    }
                    self.line = 0;
                    TrackState::Trailer
                }
                TrackState::Done => return Ok(Some(i)),
                _ => return Err(FramingError::BadChunk),
            };
            i += 1;
        }
        Ok(None)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hdrs<'a>(list: &'a [(&'a str, &'a str)]) -> Vec<httparse::Header<'a>> {
        list.iter()
            .map(|(n, v)| httparse::Header {
                name: n,
                value: v.as_bytes(),
            })
            .collect()
    }

    #[test]
    fn content_length_and_chunked_is_rejected() {
        let h = hdrs(&[("Content-Length", "5"), ("Transfer-Encoding", "chunked")]);
        assert_eq!(
            head_info(&h, true).unwrap_err(),
            FramingError::LengthAndChunked
        );
    }

    #[test]
    fn conflicting_lengths_are_rejected_equal_ones_accepted() {
        let h = hdrs(&[("Content-Length", "5"), ("content-length", "6")]);
        assert_eq!(
            head_info(&h, true).unwrap_err(),
            FramingError::BadContentLength
        );
        let h = hdrs(&[("Content-Length", "5"), ("content-length", "5")]);
        assert_eq!(head_info(&h, true).unwrap().framing, BodyFraming::Length(5));
        for bad in ["+5", "-1", "5 5", "0x10", "", "99999999999999999999"] {
            let list = [("Content-Length", bad)];
            let h = hdrs(&list);
            assert_eq!(
                head_info(&h, true).unwrap_err(),
                FramingError::BadContentLength,
                "{bad}"
            );
        }
    }

    #[test]
    fn transfer_encoding_must_end_in_chunked() {
        let h = hdrs(&[("Transfer-Encoding", "gzip")]);
        assert_eq!(
            head_info(&h, true).unwrap_err(),
            FramingError::UnsupportedTransferEncoding
        );
        let h = hdrs(&[("Transfer-Encoding", "gzip, chunked")]);
        assert_eq!(head_info(&h, true).unwrap().framing, BodyFraming::Chunked);
        let h = hdrs(&[("Transfer-Encoding", "chunked, gzip")]);
        assert_eq!(
            head_info(&h, true).unwrap_err(),
            FramingError::UnsupportedTransferEncoding
        );
    }

    #[test]
    fn keep_alive_defaults_by_version() {
        assert!(head_info(&[], true).unwrap().keep_alive);
        assert!(!head_info(&[], false).unwrap().keep_alive);
        let h = hdrs(&[("Connection", "Keep-Alive")]);
        assert!(head_info(&h, false).unwrap().keep_alive);
        let h = hdrs(&[("Connection", "foo, close")]);
        assert!(!head_info(&h, true).unwrap().keep_alive);
    }

    #[test]
    fn chunked_scan_and_decode() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let scan = scan_chunked(body, 100).unwrap();
        assert_eq!(
            scan,
            ChunkScan::Complete {
                consumed: body.len() - 4,
                data_len: 9
            }
        );
        let mut out = Vec::new();
        decode_chunked(body, &mut out).unwrap();
        assert_eq!(out, b"Wikipedia");
        for cut in 0..body.len() - 4 {
            assert_eq!(
                scan_chunked(&body[..cut], 100).unwrap(),
                ChunkScan::Partial,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn tracker_finds_the_end_at_every_split() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let end = body.len() - 4;
        for cut in 0..body.len() {
            let mut t = ChunkTracker::default();
            let first = t.feed(&body[..cut]).unwrap();
            let found = match first {
                Some(n) => n,
                None => cut + t.feed(&body[cut..]).unwrap().unwrap(),
            };
            assert_eq!(found, end, "cut {cut}");
        }
        let mut t = ChunkTracker::default();
        assert!(t.feed(b"zz\r\n").is_err());
        let mut t = ChunkTracker::default();
        assert!(t.feed(b"3\r\nabcX").is_err());
    }

    #[test]
    fn bad_chunks_are_rejected() {
        for bad in [
            &b"x\r\n"[..],
            b"4\r\nWikiXX",
            b"\r\n",
            b"4\nWiki\r\n0\r\n\r\n",
            b"11111111111111111\r\n",
        ] {
            assert!(
                scan_chunked(bad, 1 << 30).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            scan_chunked(b"ff\r\n", 10).unwrap_err(),
            FramingError::TooLarge
        );
    }
}
