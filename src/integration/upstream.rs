//! The backend side: a hand-written HTTP/1.1 client over per-core keep-alive pools.
//!
//! Each worker owns one [`Pool`]; nothing here is shared between cores. A request is sent
//! on an idle pooled connection when there is one; a pooled connection that turns out to be
//! closed before any byte of the response arrives is retried once on a fresh connection (the
//! backend closed it while idle, which is not the request's fault).
//!
//! `https://` backends take the same path with a [`TlsConn`] in place of the `TcpStream`
//! (see [`super::tls`]); the exchange is generic over [`BackendConn`], so the plain path is
//! compiled on its own and pays nothing for TLS. Idle TLS connections are pooled under
//! (address, server name, TLS setting), so a session is only reused for the name it verified.

use std::cell::RefCell;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ahash::AHashMap;
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use rustls::ClientConfig;

use super::http::Origin;
use super::tls::{TlsClient, TlsConn, TlsKey, per_core_config, server_name};
use crate::http::framing::{ChunkScan, ChunkTracker, decode_chunked, parse_decimal, scan_chunked};
use crate::http::{MAX_BACKEND_RESPONSE_BYTES, MAX_HEADERS, name_eq, trim_ows};

/// Read size for backend responses.
const READ_CHUNK: usize = 16 * 1024;
/// How long a resolved host name is reused before it is looked up again.
const DNS_TTL: Duration = Duration::from_secs(60);
/// TLS settings a core keeps a session cache for; a reload makes new ones, and past this the
/// old ones (and their idle connections) are dropped.
const MAX_TLS_SETTINGS_PER_CORE: usize = 8;

/// Why a backend exchange failed; each maps to an AWS gateway response.
#[derive(Debug)]
pub enum UpstreamError {
    /// The host name did not resolve or the address is unusable.
    Resolve,
    /// The connection could not be made: refused, unreachable, connect timeout, or the
    /// backend's certificate did not verify (AWS answers both with 500).
    Connect(io::Error),
    /// The whole exchange took longer than the integration timeout.
    Timeout,
    /// The backend sent something that is not a valid HTTP/1.1 response, or closed early.
    Broken(&'static str),
}

/// A backend response, read whole. Header positions index into `buf`.
#[derive(Debug, Default)]
pub struct BackendResponse {
    /// The raw bytes read (head and, unless chunked, the body).
    pub buf: Vec<u8>,
    /// The status code.
    pub status: u16,
    /// Header (name start, name end, value start, value end) offsets into `buf`.
    pub headers: Vec<(u32, u32, u32, u32)>,
    /// Body location in `buf` when length-delimited.
    body_range: (usize, usize),
    /// Decoded body when the response was chunked.
    chunked_body: Option<Vec<u8>>,
    /// The body went straight to a [`Sink`] as it arrived (nothing to write afterwards).
    pub streamed: bool,
}

impl BackendResponse {
    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        match &self.chunked_body {
            Some(b) => b,
            None => &self.buf[self.body_range.0..self.body_range.1],
        }
    }

    /// Header lines as (name, value), in order.
    pub fn header_iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|&(ns, ne, vs, ve)| {
            let bytes = &self.buf[ns as usize..ne as usize];
            // SAFETY: these offsets were taken from `httparse::Header::name`, a `&str` that
            // httparse validated as an ASCII token in this same buffer, and `buf` is not
            // modified between parsing and reading (re-validating cost ~50 instructions a header).
            let name = unsafe { std::str::from_utf8_unchecked(bytes) };
            (name, &self.buf[vs as usize..ve as usize])
        })
    }

    /// The first value of a header, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.header_iter()
            .find(|(n, _)| name_eq(n, name))
            .map(|(_, v)| v)
    }
}

/// Where one exchange goes: the address and, for `https://`, the TLS name and setting.
#[derive(Debug)]
pub struct Endpoint<'a> {
    /// The backend address.
    pub addr: SocketAddr,
    tls: Option<(TlsKey, &'a TlsClient)>,
}

impl Endpoint<'_> {
    /// A plain-HTTP endpoint.
    pub fn plain(addr: SocketAddr) -> Self {
        Endpoint { addr, tls: None }
    }

    /// Whether the exchange uses TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

/// One worker's backend connections and resolved names.
#[derive(Debug)]
pub struct Pool {
    idle: RefCell<AHashMap<SocketAddr, Vec<TcpStream>>>,
    idle_tls: RefCell<AHashMap<TlsKey, Vec<TlsConn>>>,
    /// This core's copy of each TLS setting, holding its own session cache.
    tls_configs: RefCell<AHashMap<u64, Arc<ClientConfig>>>,
    dns: RefCell<AHashMap<String, (SocketAddr, Instant)>>,
    max_idle: usize,
    connect_timeout: Duration,
}

impl Pool {
    /// An empty pool.
    pub fn new(max_idle: usize, connect_timeout: Duration) -> Self {
        Pool {
            idle: RefCell::default(),
            idle_tls: RefCell::default(),
            tls_configs: RefCell::default(),
            dns: RefCell::default(),
            max_idle,
            connect_timeout,
        }
    }

    /// Resolves an origin into an [`Endpoint`]. An `https` origin needs the integration's
    /// TLS setting (`None` only in snapshots built without one: a configuration error).
    pub fn endpoint<'a>(
        &self,
        origin: &Origin,
        tls: Option<&'a TlsClient>,
    ) -> Result<Endpoint<'a>, UpstreamError> {
        let addr = match origin.ip {
            Some(ip) => SocketAddr::new(ip, origin.port),
            None => self.resolve(&origin.host, origin.port)?,
        };
        if !origin.https {
            return Ok(Endpoint::plain(addr));
        }
        let client = tls.ok_or(UpstreamError::Resolve)?;
        let key = TlsKey {
            addr,
            name: server_name(&origin.host)?,
            client: client.id,
        };
        Ok(Endpoint {
            addr,
            tls: Some((key, client)),
        })
    }

    /// Resolves `host:port`. IP literals never block; names are looked up with the system
    /// resolver once per [`DNS_TTL`] and cached per core.
    pub fn resolve(&self, host: &str, port: u16) -> Result<SocketAddr, UpstreamError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
            return Ok(SocketAddr::new(ip, port));
        }
        let key = format!("{host}:{port}");
        if let Some((addr, at)) = self.dns.borrow().get(&key) {
            if at.elapsed() < DNS_TTL {
                return Ok(*addr);
            }
        }
        let addr = key
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or(UpstreamError::Resolve)?;
        self.dns.borrow_mut().insert(key, (addr, Instant::now()));
        Ok(addr)
    }

    fn take_idle(&self, addr: SocketAddr) -> Option<TcpStream> {
        self.idle.borrow_mut().get_mut(&addr).and_then(Vec::pop)
    }

    fn put_idle(&self, addr: SocketAddr, conn: TcpStream) {
        let mut idle = self.idle.borrow_mut();
        let list = idle.entry(addr).or_default();
        if list.len() < self.max_idle {
            list.push(conn);
        }
    }

    fn take_idle_tls(&self, key: &TlsKey) -> Option<TlsConn> {
        self.idle_tls.borrow_mut().get_mut(key).and_then(Vec::pop)
    }

    fn put_idle_tls(&self, key: &TlsKey, conn: TlsConn) {
        let mut idle = self.idle_tls.borrow_mut();
        match idle.get_mut(key) {
            Some(list) if list.len() < self.max_idle => list.push(conn),
            Some(_) => {}
            None if self.max_idle > 0 => {
                idle.insert(key.clone(), vec![conn]);
            }
            None => {}
        }
    }

    /// This core's copy of a TLS setting (made on first use, then reused).
    fn core_config(&self, client: &TlsClient) -> Arc<ClientConfig> {
        let mut configs = self.tls_configs.borrow_mut();
        if let Some(c) = configs.get(&client.id) {
            return c.clone();
        }
        if configs.len() >= MAX_TLS_SETTINGS_PER_CORE {
            configs.clear();
            self.idle_tls.borrow_mut().clear();
        }
        let c = per_core_config(&client.config);
        configs.insert(client.id, c.clone());
        c
    }

    async fn connect(&self, addr: SocketAddr) -> Result<TcpStream, UpstreamError> {
        match monoio::time::timeout(self.connect_timeout, TcpStream::connect_addr(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                Ok(s)
            }
            Ok(Err(e)) => Err(UpstreamError::Connect(e)),
            Err(_) => Err(UpstreamError::Connect(io::Error::new(
                io::ErrorKind::TimedOut,
                "connect timed out",
            ))),
        }
    }

    /// Sends `request` (a complete HTTP/1.1 request) to `to` and reads the whole response,
    /// within `timeout` (connect and TLS handshake included). `head_request` says the response
    /// has no body whatever its headers say. Returns the request buffer for reuse.
    pub async fn exchange(
        &self,
        to: Endpoint<'_>,
        request: Vec<u8>,
        head_request: bool,
        timeout: Duration,
        resp: &mut BackendResponse,
    ) -> (Result<(), UpstreamError>, Vec<u8>) {
        self.exchange_with(
            to,
            request,
            head_request,
            timeout,
            resp,
            None::<&mut NoSink>,
        )
        .await
    }

    /// [`Pool::exchange`], streaming the body to `sink` as it arrives when it is chunked or at
    /// least [`STREAM_THRESHOLD`] long (`resp.streamed` then says so); smaller bodies are read
    /// whole as usual.
    pub async fn exchange_streaming<S: Sink>(
        &self,
        to: Endpoint<'_>,
        request: Vec<u8>,
        head_request: bool,
        timeout: Duration,
        resp: &mut BackendResponse,
        sink: &mut S,
    ) -> (Result<(), UpstreamError>, Vec<u8>) {
        self.exchange_with(to, request, head_request, timeout, resp, Some(sink))
            .await
    }

    async fn exchange_with<S: Sink>(
        &self,
        to: Endpoint<'_>,
        request: Vec<u8>,
        head_request: bool,
        timeout: Duration,
        resp: &mut BackendResponse,
        sink: Option<&mut S>,
    ) -> (Result<(), UpstreamError>, Vec<u8>) {
        resp.streamed = false;
        match to.tls {
            None => {
                self.exchange_via(&to.addr, request, head_request, timeout, resp, sink)
                    .await
            }
            Some((key, client)) => {
                let dial = TlsDial { key, client };
                self.exchange_via(&dial, request, head_request, timeout, resp, sink)
                    .await
            }
        }
    }

    async fn exchange_via<D: Dial, S: Sink>(
        &self,
        dial: &D,
        request: Vec<u8>,
        head_request: bool,
        timeout: Duration,
        resp: &mut BackendResponse,
        mut sink: Option<&mut S>,
    ) -> (Result<(), UpstreamError>, Vec<u8>) {
        let deadline = Instant::now() + timeout;
        let mut request = request;
        let mut attempt = 0;
        loop {
            let (conn, reused) = match dial.take(self) {
                Some(c) => (c, true),
                None => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match monoio::time::timeout(left, dial.open(self)).await {
                        Ok(Ok(c)) => (c, false),
                        Ok(Err(e)) => return (Err(e), request),
                        Err(_) => return (Err(UpstreamError::Timeout), request),
                    }
                }
            };
            let left = deadline.saturating_duration_since(Instant::now());
            let fut = exchange_on(conn, request, head_request, resp, sink.as_deref_mut());
            match monoio::time::timeout(left, fut).await {
                Err(_) => return (Err(UpstreamError::Timeout), Vec::new()),
                Ok((outcome, conn, req)) => {
                    request = req;
                    match outcome {
                        Ok(keep) => {
                            if keep {
                                dial.put(self, conn);
                            }
                            return (Ok(()), request);
                        }
                        Err(Exchange::ClosedBeforeResponse) if reused && attempt == 0 => {
                            attempt += 1;
                            continue;
                        }
                        Err(Exchange::ClosedBeforeResponse) => {
                            return (
                                Err(UpstreamError::Broken("connection closed before a response")),
                                request,
                            );
                        }
                        Err(Exchange::Broken(why)) => {
                            return (Err(UpstreamError::Broken(why)), request);
                        }
                    }
                }
            }
        }
    }
}

/// How an exchange gets its connection: idle from the pool, or newly opened.
trait Dial {
    type Conn: BackendConn;
    fn take(&self, pool: &Pool) -> Option<Self::Conn>;
    fn put(&self, pool: &Pool, conn: Self::Conn);
    async fn open(&self, pool: &Pool) -> Result<Self::Conn, UpstreamError>;
}

/// Plain HTTP: a TCP connection to the address.
impl Dial for SocketAddr {
    type Conn = TcpStream;

    fn take(&self, pool: &Pool) -> Option<TcpStream> {
        pool.take_idle(*self)
    }

    fn put(&self, pool: &Pool, conn: TcpStream) {
        pool.put_idle(*self, conn);
    }

    async fn open(&self, pool: &Pool) -> Result<TcpStream, UpstreamError> {
        pool.connect(*self).await
    }
}

/// HTTPS: a TCP connection, then the handshake with this core's copy of the setting.
struct TlsDial<'a> {
    key: TlsKey,
    client: &'a TlsClient,
}

impl Dial for TlsDial<'_> {
    type Conn = TlsConn;

    fn take(&self, pool: &Pool) -> Option<TlsConn> {
        pool.take_idle_tls(&self.key)
    }

    fn put(&self, pool: &Pool, conn: TlsConn) {
        pool.put_idle_tls(&self.key, conn);
    }

    async fn open(&self, pool: &Pool) -> Result<TlsConn, UpstreamError> {
        let tcp = pool.connect(self.key.addr).await?;
        let config = pool.core_config(self.client);
        TlsConn::handshake(tcp, config, self.key.name.clone()).await
    }
}

/// The two operations an exchange needs from a backend connection.
pub(crate) trait BackendConn {
    /// Writes the whole request; returns its buffer.
    async fn send(&mut self, request: Vec<u8>) -> (io::Result<()>, Vec<u8>);
    /// Appends what one read yields to `buf`; returns bytes appended (0 = end of stream).
    async fn recv(&mut self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>);
}

impl BackendConn for TcpStream {
    #[inline]
    async fn send(&mut self, request: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        let (res, request) = self.write_all(request).await;
        (res.map(|_| ()), request)
    }

    #[inline]
    async fn recv(&mut self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        read_more(self, buf, READ_CHUNK).await
    }
}

enum Exchange {
    ClosedBeforeResponse,
    Broken(&'static str),
}

/// Receives a backend response as it arrives (HTTP_PROXY streaming).
#[allow(async_fn_in_trait)] // used generically on one core; no Send bound wanted
pub trait Sink {
    /// The head is complete (`resp` has the status and headers): write the response head.
    async fn head(&mut self, resp: &BackendResponse, framing: StreamFraming) -> io::Result<()>;
    /// The next body bytes, framed as on the wire (chunk framing passed through).
    async fn body(&mut self, bytes: &[u8]) -> io::Result<()>;
}

/// The sink of exchanges that never stream.
#[derive(Debug)]
pub struct NoSink;

impl Sink for NoSink {
    async fn head(&mut self, _: &BackendResponse, _: StreamFraming) -> io::Result<()> {
        Err(io::Error::other(
            "streaming is not enabled for this exchange",
        ))
    }
    async fn body(&mut self, _: &[u8]) -> io::Result<()> {
        Err(io::Error::other(
            "streaming is not enabled for this exchange",
        ))
    }
}

/// Forwards the body to `sink` as it arrives, until its framing says it ended. `buf` holds the
/// head and the first body bytes; it is reused for every later read (bounded memory).
async fn stream_body<C: BackendConn, S: Sink>(
    conn: &mut C,
    buf: Vec<u8>,
    head_len: usize,
    framing: StreamFraming,
    keep_alive: bool,
    sink: &mut S,
    resp: &mut BackendResponse,
) -> (Result<bool, Exchange>, Vec<u8>) {
    resp.streamed = true;
    // The head's header offsets index into `resp.buf`.
    resp.buf = buf;
    if sink.head(resp, framing).await.is_err() {
        return (
            Err(Exchange::Broken("client went away")),
            std::mem::take(&mut resp.buf),
        );
    }
    let mut buf = std::mem::take(&mut resp.buf);
    let mut tracker = ChunkTracker::default();
    let mut left = match framing {
        StreamFraming::Length(n) => n,
        StreamFraming::Chunked => usize::MAX,
    };
    let mut start = head_len;
    loop {
        let data = &buf[start..];
        let (take, done) = match framing {
            StreamFraming::Length(_) => {
                let take = data.len().min(left);
                left -= take;
                (take, left == 0)
            }
            StreamFraming::Chunked => match tracker.feed(data) {
                Ok(Some(end)) => (end, true),
                Ok(None) => (data.len(), false),
                Err(_) => return (Err(Exchange::Broken("bad chunked body from backend")), buf),
            },
        };
        if take > 0 && sink.body(&data[..take]).await.is_err() {
            return (Err(Exchange::Broken("client went away")), buf);
        }
        if done {
            // Bytes past the end would be a second response we never asked for.
            return (Ok(keep_alive && start + take == buf.len()), buf);
        }
        buf.clear();
        start = 0;
        let (res, b) = conn.recv(buf).await;
        buf = b;
        match res {
            Ok(0) | Err(_) => {
                return (
                    Err(Exchange::Broken(
                        "backend closed the connection mid-response",
                    )),
                    buf,
                );
            }
            Ok(_) => {}
        }
    }
}

/// Appends to `buf` with one read; returns bytes read (0 = end of stream).
pub async fn read_more<S: AsyncReadRent>(
    stream: &mut S,
    mut buf: Vec<u8>,
    reserve: usize,
) -> (io::Result<usize>, Vec<u8>) {
    if buf.capacity() - buf.len() < reserve {
        buf.reserve(reserve);
    }
    let len = buf.len();
    let cap = buf.capacity();
    let (res, slice) = stream.read(buf.slice_mut(len..cap)).await;
    (res, slice.into_inner())
}

async fn exchange_on<C: BackendConn, S: Sink>(
    mut conn: C,
    request: Vec<u8>,
    head_request: bool,
    resp: &mut BackendResponse,
    mut sink: Option<&mut S>,
) -> (Result<bool, Exchange>, C, Vec<u8>) {
    let (res, request) = conn.send(request).await;
    if res.is_err() {
        return (Err(Exchange::ClosedBeforeResponse), conn, request);
    }
    let mut buf = std::mem::take(&mut resp.buf);
    buf.clear();
    let outcome = loop {
        let (res, b) = conn.recv(buf).await;
        buf = b;
        match res {
            Ok(0) if buf.is_empty() => break Err(Exchange::ClosedBeforeResponse),
            Err(_) if buf.is_empty() => break Err(Exchange::ClosedBeforeResponse),
            Ok(0) => {
                // End of stream: complete only for a close-delimited body.
                break match parse_response(&buf, head_request, true, resp) {
                    Ok(Some(_)) => Ok(false),
                    Ok(None) => Err(Exchange::Broken(
                        "backend closed the connection mid-response",
                    )),
                    Err(e) => Err(Exchange::Broken(e)),
                };
            }
            Err(_) => break Err(Exchange::Broken("read error from backend")),
            Ok(_) => match parse_or_stream(&buf, head_request, false, sink.is_some(), resp) {
                Ok(Parsed::Done(keep)) => break Ok(keep),
                Ok(Parsed::More) if buf.len() > MAX_BACKEND_RESPONSE_BYTES + 64 * 1024 => {
                    break Err(Exchange::Broken("backend response too large"));
                }
                Ok(Parsed::More) => continue,
                Ok(Parsed::Stream {
                    framing,
                    keep_alive,
                    head_len,
                }) => {
                    let Some(sink) = sink.as_deref_mut() else {
                        break Err(Exchange::Broken("no sink to stream to"));
                    };
                    let (outcome, b) =
                        stream_body(&mut conn, buf, head_len, framing, keep_alive, sink, resp)
                            .await;
                    buf = b;
                    break outcome;
                }
                Err(e) => break Err(Exchange::Broken(e)),
            },
        }
    };
    resp.buf = buf;
    (outcome, conn, request)
}

/// How a streamed body is framed on the wire (forwarded as received).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFraming {
    /// Chunked transfer coding, passed through chunk by chunk.
    Chunked,
    /// `Content-Length` bytes.
    Length(usize),
}

/// Bodies at least this long are streamed to the client as they arrive rather than read whole.
pub const STREAM_THRESHOLD: usize = 64 * 1024;

/// What [`parse_response`] found.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    /// More bytes are needed.
    More,
    /// The whole response is in the buffer; keep-alive or not.
    Done(bool),
    /// The head is complete and the body should stream (chunked, or at least
    /// [`STREAM_THRESHOLD`] long); it starts at `head_len`.
    Stream {
        framing: StreamFraming,
        keep_alive: bool,
        head_len: usize,
    },
}

/// Parses a complete response in `buf` into `resp`. `Ok(None)`: more bytes needed.
/// `Ok(Some(keep_alive))`: complete. `eof`: the backend closed the connection.
fn parse_response(
    buf: &[u8],
    head_request: bool,
    eof: bool,
    resp: &mut BackendResponse,
) -> Result<Option<bool>, &'static str> {
    match parse_or_stream(buf, head_request, eof, false, resp)? {
        Parsed::More => Ok(None),
        Parsed::Done(keep) => Ok(Some(keep)),
        Parsed::Stream { .. } => Err("unexpected stream"),
    }
}

/// [`parse_response`], or, when `may_stream`, the decision to stream the body.
fn parse_or_stream(
    buf: &[u8],
    head_request: bool,
    eof: bool,
    may_stream: bool,
    resp: &mut BackendResponse,
) -> Result<Parsed, &'static str> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Response::new(&mut headers);
    let head_len = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(Parsed::More),
        Err(_) => return Err("malformed response head"),
    };
    let status = r.code.ok_or("missing status")?;
    if (100..200).contains(&status) {
        // Interim responses (100 Continue) are skipped: we never send Expect, so this is rare.
        return Err("unexpected interim response");
    }
    let http11 = r.version == Some(1);
    let mut keep_alive = http11;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let base = buf.as_ptr() as usize;
    resp.headers.clear();
    for h in r.headers.iter() {
        let ns = h.name.as_ptr() as usize - base;
        let vs = h.value.as_ptr() as usize - base;
        resp.headers.push((
            ns as u32,
            (ns + h.name.len()) as u32,
            vs as u32,
            (vs + h.value.len()) as u32,
        ));
        if name_eq(h.name, "content-length") {
            let n = parse_decimal(trim_ows(h.value)).ok_or("bad Content-Length from backend")?;
            if length.is_some_and(|l| l != n) {
                return Err("conflicting Content-Length from backend");
            }
            length = Some(n);
        } else if name_eq(h.name, "transfer-encoding") {
            chunked = h
                .value
                .rsplit(|b| *b == b',')
                .next()
                .map(trim_ows)
                .is_some_and(|v| v.eq_ignore_ascii_case(b"chunked"));
            if !chunked {
                keep_alive = false;
            }
        } else if name_eq(h.name, "connection") {
            for t in h.value.split(|b| *b == b',') {
                let t = trim_ows(t);
                if t.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if t.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    resp.status = status;
    resp.chunked_body = None;
    let no_body = head_request || status == 204 || status == 304;
    if no_body {
        resp.body_range = (head_len, head_len);
        return Ok(Parsed::Done(keep_alive));
    }
    if may_stream {
        let framing = match length {
            _ if chunked => Some(StreamFraming::Chunked),
            Some(n) if n >= STREAM_THRESHOLD => Some(StreamFraming::Length(n)),
            _ => None,
        };
        if let Some(framing) = framing {
            resp.body_range = (head_len, head_len);
            return Ok(Parsed::Stream {
                framing,
                keep_alive,
                head_len,
            });
        }
    }
    if chunked {
        return match scan_chunked(&buf[head_len..], MAX_BACKEND_RESPONSE_BYTES) {
            Ok(ChunkScan::Partial) => Ok(Parsed::More),
            Ok(ChunkScan::Complete { data_len, .. }) => {
                let mut body = Vec::with_capacity(data_len);
                decode_chunked(&buf[head_len..], &mut body)
                    .map_err(|_| "bad chunked body from backend")?;
                resp.chunked_body = Some(body);
                resp.body_range = (head_len, head_len);
                Ok(Parsed::Done(keep_alive))
            }
            Err(_) => Err("bad chunked body from backend"),
        };
    }
    match length {
        Some(n) if n > MAX_BACKEND_RESPONSE_BYTES => Err("backend response too large"),
        Some(n) if buf.len() - head_len >= n => {
            resp.body_range = (head_len, head_len + n);
            Ok(Parsed::Done(keep_alive))
        }
        Some(_) => Ok(Parsed::More),
        None if eof => {
            resp.body_range = (head_len, buf.len());
            Ok(Parsed::Done(false))
        }
        None => Ok(Parsed::More),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_length_and_chunked() {
        let mut r = BackendResponse::default();
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello";
        assert_eq!(parse_response(raw, false, false, &mut r), Ok(Some(true)));
        r.buf = raw.to_vec();
        assert_eq!(r.body(), b"hello");
        assert_eq!(r.header("x"), Some(&b"y"[..]));
        assert_eq!(
            parse_response(&raw[..raw.len() - 1], false, false, &mut r),
            Ok(None)
        );
        let raw =
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw, false, false, &mut r), Ok(Some(true)));
        assert_eq!(r.body(), b"abc");
        assert_eq!(r.status, 201);
        let raw = b"HTTP/1.0 200 OK\r\n\r\nuntil close";
        assert_eq!(parse_response(raw, false, false, &mut r), Ok(None));
        assert_eq!(parse_response(raw, false, true, &mut r), Ok(Some(false)));
        assert!(parse_response(b"garbage\r\n\r\n", false, false, &mut r).is_err());
    }
}
