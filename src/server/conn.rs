//! One client connection: read → parse → [`pipeline::handle`] → write, with keep-alive,
//! pipelining (responses in request order, written together), `Expect: 100-continue`,
//! and timeouts so a slow client holds only its own connection.

use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::io::AsyncWriteRentExt;
use monoio::net::TcpStream;

use super::worker::{ConnClock, Shared};
use crate::http::framing::{
    BodyFraming, ChunkScan, FramingError, decode_chunked, head_info, scan_chunked,
};
use crate::http::request::{Request, split_target};
use crate::http::{MAX_BODY_BYTES, MAX_HEAD_BYTES, MAX_HEADERS};
use crate::integration::upstream::read_more;
use crate::pipeline::{self, Reject, Scratch, Worker, gateway_response};

/// Initial read buffer; grows only for large bodies.
const READ_BUF: usize = 16 * 1024;

/// What the parser needs before it can go on.
enum Need {
    /// Nothing buffered: waiting for the next request (idle timeout).
    NextRequest,
    /// Part of a head is buffered (header timeout, from its first byte).
    Head,
    /// The head is complete; the body is not (body timeout between reads).
    Body,
}

/// This connection's requests counted in [`Shared::in_flight`] from parsing until their
/// response is written: the shutdown drain must wait for the bytes to reach the client, not
/// only for the pipeline (a 4 MB response to a slow reader was cut short at SIGTERM).
struct InFlight<'a> {
    shared: &'a Shared,
    counted: usize,
}

impl InFlight<'_> {
    fn start(&mut self) {
        self.counted += 1;
        self.shared.in_flight.set(self.shared.in_flight.get() + 1);
    }

    fn written(&mut self) {
        self.shared
            .in_flight
            .set(self.shared.in_flight.get().saturating_sub(self.counted));
        self.counted = 0;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.written();
    }
}

/// Serves one connection until it closes, errs, times out or the worker drains.
pub async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    worker: Rc<Worker>,
    shared: Rc<Shared>,
) {
    let _ = stream.set_nodelay(true);
    let settings = worker.snapshot().server.clone();
    let mut buf: Vec<u8> = Vec::with_capacity(READ_BUF);
    let mut out: Vec<u8> = Vec::with_capacity(READ_BUF);
    let mut dechunked: Vec<u8> = Vec::new();
    let mut scratch = Scratch::default();
    let mut head_started: Option<Instant> = None;
    let peer_ip = peer.ip().to_string();
    let clock = Rc::new(ConnClock {
        fd: std::os::fd::AsRawFd::as_raw_fd(&stream),
        deadline: std::cell::Cell::new(None),
    });
    shared.clocks.borrow_mut().push(Rc::downgrade(&clock));
    let mut in_flight = InFlight {
        shared: &shared,
        counted: 0,
    };
    loop {
        let mut start = 0;
        let mut close = false;
        let mut need = Need::NextRequest;
        let mut send_continue = false;
        while start < buf.len() {
            let mut headers: [MaybeUninit<httparse::Header<'_>>; MAX_HEADERS] =
                [const { MaybeUninit::uninit() }; MAX_HEADERS];
            let mut parsed = httparse::Request::new(&mut []);
            let head_len = match parsed.parse_with_uninit_headers(&buf[start..], &mut headers) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => {
                    if buf.len() - start > MAX_HEAD_BYTES {
                        gateway_response::write(Reject::HeadersTooLarge, false, false, &mut out);
                        close = true;
                    } else {
                        need = Need::Head;
                    }
                    break;
                }
                Err(httparse::Error::TooManyHeaders) => {
                    gateway_response::write(Reject::HeadersTooLarge, false, false, &mut out);
                    close = true;
                    break;
                }
                Err(_) => {
                    gateway_response::write(Reject::BadRequest, false, false, &mut out);
                    close = true;
                    break;
                }
            };
            if head_len > MAX_HEAD_BYTES {
                gateway_response::write(Reject::HeadersTooLarge, false, false, &mut out);
                close = true;
                break;
            }
            let http11 = parsed.version == Some(1);
            let info = match head_info(parsed.headers, http11) {
                Ok(i) => i,
                Err(_) => {
                    gateway_response::write(Reject::BadRequest, false, false, &mut out);
                    close = true;
                    break;
                }
            };
            let body_start = start + head_len;
            let (body, consumed): (&[u8], usize) = match info.framing {
                BodyFraming::Empty => (&[], head_len),
                BodyFraming::Length(n) if n > MAX_BODY_BYTES => {
                    gateway_response::write(Reject::RequestTooLarge, false, false, &mut out);
                    close = true;
                    break;
                }
                BodyFraming::Length(n) => {
                    if buf.len() - body_start < n {
                        need = Need::Body;
                        send_continue = info.expect_continue && buf.len() == body_start;
                        let wanted = body_start + n;
                        if buf.capacity() < wanted {
                            buf.reserve(wanted - buf.len());
                        }
                        break;
                    }
                    (&buf[body_start..body_start + n], head_len + n)
                }
                BodyFraming::Chunked => match scan_chunked(&buf[body_start..], MAX_BODY_BYTES) {
                    Ok(ChunkScan::Partial) => {
                        need = Need::Body;
                        send_continue = info.expect_continue && buf.len() == body_start;
                        break;
                    }
                    Ok(ChunkScan::Complete { consumed, data_len }) => {
                        dechunked.clear();
                        dechunked.reserve(data_len);
                        if decode_chunked(&buf[body_start..body_start + consumed], &mut dechunked)
                            .is_err()
                        {
                            gateway_response::write(Reject::BadRequest, false, false, &mut out);
                            close = true;
                            break;
                        }
                        (&dechunked[..], head_len + consumed)
                    }
                    Err(FramingError::TooLarge) => {
                        gateway_response::write(Reject::RequestTooLarge, false, false, &mut out);
                        close = true;
                        break;
                    }
                    Err(_) => {
                        gateway_response::write(Reject::BadRequest, false, false, &mut out);
                        close = true;
                        break;
                    }
                },
            };
            let (Some(method), Some(target)) = (parsed.method, parsed.path) else {
                gateway_response::write(Reject::BadRequest, false, false, &mut out);
                close = true;
                break;
            };
            let (path, query) = split_target(target);
            if !path.starts_with('/') {
                gateway_response::write(Reject::BadRequest, false, false, &mut out);
                close = true;
                break;
            }
            let keep_alive = info.keep_alive && !shared.draining.get();
            let request = Request {
                method,
                path,
                query,
                headers: parsed.headers,
                body,
                http11,
                client: peer,
                client_ip: &peer_ip,
            };
            in_flight.start();
            let keep = pipeline::handle(
                &worker,
                &request,
                keep_alive,
                &mut scratch,
                &mut out,
                Some(&mut stream),
            )
            .await;
            start += consumed;
            head_started = None;
            if !keep {
                close = true;
                break;
            }
        }
        if start > 0 {
            buf.copy_within(start.., 0);
            buf.truncate(buf.len() - start);
        }
        if send_continue {
            out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        if !out.is_empty() {
            let (res, o) = {
                clock
                    .deadline
                    .set(Some(Instant::now() + settings.idle_timeout));
                let r = stream.write_all(out).await;
                clock.deadline.set(None);
                r
            };
            out = o;
            out.clear();
            in_flight.written();
            if res.is_err() {
                return;
            }
        }
        if close || (shared.draining.get() && buf.is_empty()) {
            return;
        }
        let wait = match need {
            Need::NextRequest if buf.is_empty() => settings.idle_timeout,
            Need::NextRequest | Need::Head => {
                let started = *head_started.get_or_insert_with(Instant::now);
                settings.header_timeout.saturating_sub(started.elapsed())
            }
            Need::Body => settings.body_timeout,
        };
        if wait == Duration::ZERO {
            return;
        }
        clock.deadline.set(Some(Instant::now() + wait));
        let (res, b) = read_more(&mut stream, buf, READ_BUF).await;
        clock.deadline.set(None);
        buf = b;
        match res {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if head_started.is_none() {
                    head_started = Some(Instant::now());
                }
            }
        }
    }
}
