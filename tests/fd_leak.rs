//! Descriptor leaks, counted in `/proc/PID/fd` of the real gateway process.
//!
//! (a) Backend connects that time out: the backend is a loopback listener whose accept
//! backlog is full (`listen(0)`, pre-filled, never accepting), so the kernel drops the
//! gateway's SYNs and every connect ends by `connect_timeout_ms`. A socket abandoned with its
//! connect still pending must be closed, not left to the kernel's SYN retries.
//! (b) Client connections opened and dropped quickly, idle, mid-head, mid-body or with a
//! response never read: each must be closed by the gateway, back to the baseline count.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use crate::support::{Gateway, raw_conn};

/// Descriptors the gateway may gain over a test without it being a leak (a lazily opened
/// file, a pooled backend connection).
const SLACK: usize = 4;

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Polls (bounded) until the count is at most `limit`; returns the last count seen.
fn settle(pid: u32, limit: usize, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let n = open_fds(pid);
        if n <= limit || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A loopback listener that never accepts, with its backlog already full.
fn stuck_backend() -> (Socket, Vec<TcpStream>, SocketAddr) {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    // Linux queues backlog + 1 connections; a few more attempts make sure the queue is full
    // (those just time out here).
    let fillers = (0..4)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok())
        .collect();
    (socket, fillers, addr)
}

fn gateway(yaml_backend: SocketAddr) -> Gateway {
    let yaml = format!(
        r#"
server: {{ connect_timeout_ms: 100 }}
apis:
  - name: fd
    openapi:
      openapi: "3.0.1"
      info: {{ title: fd, version: "1" }}
      paths:
        /stuck:
          get:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: GET
              uri: "http://{yaml_backend}/"
        /ok:
          get:
            x-amazon-apigateway-integration:
              type: mock
              requestTemplates: {{ application/json: '{{"statusCode": 200}}' }}
              responses:
                default: {{ statusCode: "200" }}
    stages:
      - name: dev
"#
    );
    Gateway::start_yaml(&yaml, &[])
}

/// One request on a fresh connection; the whole response (the gateway closes it).
fn exchange(addr: SocketAddr, path: &str) -> String {
    let mut s = raw_conn(addr);
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    String::from_utf8_lossy(&crate::support::read_until_quiet(
        &mut s,
        Duration::from_secs(5),
    ))
    .into_owned()
}

#[test]
fn backend_connect_timeouts_do_not_leak_descriptors() {
    let (_listener, _fillers, backend) = stuck_backend();
    let gw = gateway(backend);
    let pid = gw.pid();
    // Warm up once so lazily created descriptors are in the baseline.
    let first = exchange(gw.addr, "/dev/stuck");
    assert!(
        first.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{first}"
    );
    std::thread::sleep(Duration::from_millis(300));
    let baseline = open_fds(pid);
    let t0 = Instant::now();
    let workers: Vec<_> = (0..5)
        .map(|_| {
            let addr = gw.addr;
            std::thread::spawn(move || {
                (0..10)
                    .map(|_| exchange(addr, "/dev/stuck"))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for w in workers {
        for r in w.join().unwrap() {
            // AWS: an unreachable endpoint is a 500 configuration error (aws-behavior §6.2).
            assert!(
                r.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
                "{r}"
            );
            assert!(
                r.ends_with("\r\n\r\n{\"message\": \"Internal server error\"}"),
                "{r}"
            );
            assert!(
                r.contains("\r\nx-amzn-ErrorType: InternalServerErrorException\r\n"),
                "{r}"
            );
        }
    }
    let took = t0.elapsed();
    // 50 connects at 100 ms each, five at a time: about 1 s; far less means no timeout ran.
    assert!(
        took >= Duration::from_millis(900),
        "the connects did not wait for the timeout: {took:?}"
    );
    let after = settle(pid, baseline, Duration::from_secs(3));
    assert!(
        after <= baseline + SLACK,
        "descriptors grew from {baseline} to {after} over 50 connect timeouts"
    );
    assert!(exchange(gw.addr, "/dev/ok").starts_with("HTTP/1.1 200 OK\r\n"));
}

#[test]
fn dropped_client_connections_do_not_leak_descriptors() {
    let (_listener, _fillers, backend) = stuck_backend();
    let gw = gateway(backend);
    let pid = gw.pid();
    assert!(exchange(gw.addr, "/dev/ok").starts_with("HTTP/1.1 200 OK\r\n"));
    std::thread::sleep(Duration::from_millis(300));
    let baseline = open_fds(pid);
    let mut peak = 0;
    let mut open = Vec::new();
    for i in 0..200 {
        let Ok(mut s) = TcpStream::connect_timeout(&gw.addr, Duration::from_secs(2)) else {
            continue;
        };
        let _ = match i % 5 {
            // Connect and drop at once.
            0 => Ok(()),
            // Half a head.
            1 => s.write_all(b"GET /dev/ok HTTP/1.1\r\nHo"),
            // A head announcing a body that never comes.
            2 => s.write_all(b"POST /dev/ok HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc"),
            // A whole request whose response is never read.
            3 => s.write_all(b"GET /dev/ok HTTP/1.1\r\nHost: t\r\n\r\n"),
            // Reset instead of a clean close.
            _ => socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO)),
        };
        // Hold some for a moment so the gateway has many connections at once.
        open.push(s);
        if open.len() == 20 {
            // Wait (bounded) until the gateway has accepted most of them.
            let deadline = Instant::now() + Duration::from_secs(1);
            while open_fds(pid) < baseline + 15 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            peak = peak.max(open_fds(pid));
            open.clear();
        }
    }
    drop(open);
    assert!(
        peak >= baseline + 15,
        "the gateway never held the connections (peak {peak}, baseline {baseline})"
    );
    // Every one of them is closed by now from the client side, so the count must come back
    // to the baseline itself; the slack only absorbs a close still in progress.
    let after = settle(pid, baseline, Duration::from_secs(5));
    assert!(
        after <= baseline + SLACK,
        "descriptors: baseline {baseline}, peak {peak}, after {after}"
    );
    assert!(exchange(gw.addr, "/dev/ok").starts_with("HTTP/1.1 200 OK\r\n"));
}
