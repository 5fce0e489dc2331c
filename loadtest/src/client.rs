//! One keep-alive client connection: connect, write a request, read exactly one response.
//!
//! The request bytes are built once and shared (`&'static [u8]`, leaked at start-up) so a
//! request costs one `write` and no copy. Reads go into one growable buffer per connection; the
//! parser consumes body bytes as they arrive, so the buffer only ever holds a response head.
//! The load generator does not pipeline, so any byte left after a complete response means the
//! server framed its response wrongly, and it is reported as such.

use crate::response::{MAX_HEAD_BYTES, ParseError, Response, ResponseParser};
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use monoio::time::Instant;
use std::fmt;
use std::net::SocketAddr;

/// Initial read buffer per connection; grows (bounded by the parser's head limit) only for
/// responses with very large heads.
const READ_BUF_BYTES: usize = 16 * 1024;
/// Ceiling for the read buffer: a head larger than this is rejected by the parser first.
const MAX_READ_BUF_BYTES: usize = MAX_HEAD_BYTES + READ_BUF_BYTES;

/// Why a request did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// TCP connect failed or timed out.
    Connect(String),
    /// No complete response within the read timeout.
    Timeout,
    /// A read or write failed (reset, broken pipe).
    Io(String),
    /// The server closed the connection before sending any byte of the response.
    Closed,
    /// The response violated HTTP/1.1.
    Protocol(ParseError),
    /// Bytes arrived after a complete response although nothing was pipelined.
    Unsolicited,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "connect: {e}"),
            Self::Timeout => f.write_str("timeout waiting for the response"),
            Self::Io(e) => write!(f, "i/o: {e}"),
            Self::Closed => f.write_str("connection closed before the response"),
            Self::Protocol(e) => write!(f, "protocol: {e}"),
            Self::Unsolicited => f.write_str("protocol: bytes after a complete response"),
        }
    }
}

/// An open connection with its read buffer and parser.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    parser: ResponseParser,
}

impl Conn {
    /// Connect with `TCP_NODELAY` (requests are single small writes; Nagle would only add
    /// delay), giving up at `deadline`.
    pub async fn connect(
        addr: SocketAddr,
        deadline: Instant,
        head_request: bool,
    ) -> Result<Self, Failure> {
        let stream = match monoio::time::timeout_at(deadline, TcpStream::connect_addr(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(Failure::Connect(e.to_string())),
            Err(_) => return Err(Failure::Connect("timed out".to_string())),
        };
        stream
            .set_nodelay(true)
            .map_err(|e| Failure::Connect(e.to_string()))?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(READ_BUF_BYTES),
            parser: ResponseParser::new(head_request),
        })
    }

    /// Send `request` and read its response. The caller bounds the call with a timeout; a
    /// cancelled exchange leaves the connection unusable, so the caller drops it.
    pub async fn exchange(&mut self, request: &'static [u8]) -> Result<Response, Failure> {
        let (res, _) = self.stream.write_all(request).await;
        res.map_err(|e| Failure::Io(e.to_string()))?;
        self.read_response().await
    }

    async fn read_response(&mut self) -> Result<Response, Failure> {
        // Bounded: every turn either completes, fails, or reads at least one byte; the buffer
        // never holds more than MAX_READ_BUF_BYTES, and the caller's timeout bounds the time.
        loop {
            if self.buf.len() == self.buf.capacity() {
                if self.buf.capacity() >= MAX_READ_BUF_BYTES {
                    return Err(Failure::Protocol(ParseError::HeadTooLarge));
                }
                self.buf.reserve(self.buf.capacity());
            }
            let buf = std::mem::take(&mut self.buf);
            let len = buf.len();
            let (res, slice) = self.stream.read(buf.slice_mut(len..)).await;
            self.buf = slice.into_inner();
            let n = res.map_err(|e| Failure::Io(e.to_string()))?;
            if n == 0 {
                return match self.parser.eof() {
                    Ok(Some(r)) => Ok(r),
                    Ok(None) if self.buf.is_empty() => Err(Failure::Closed),
                    Ok(None) => Err(Failure::Protocol(ParseError::UnexpectedEof)),
                    Err(e) => Err(Failure::Protocol(e)),
                };
            }
            let feed = self.parser.feed(&self.buf).map_err(Failure::Protocol)?;
            if feed.consumed == self.buf.len() {
                self.buf.clear();
            } else {
                self.buf.drain(..feed.consumed);
            }
            if let Some(r) = feed.done {
                if !self.buf.is_empty() {
                    return Err(Failure::Unsolicited);
                }
                return Ok(r);
            }
        }
    }
}
