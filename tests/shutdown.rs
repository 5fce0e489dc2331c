//! Graceful shutdown through the real binary: SIGTERM stops accepting at once, lets a request
//! in flight finish with its complete response, and exits 0; idle keep-alive connections do
//! not hold the exit back.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{Backend, Gateway, closed_within, raw_conn};

/// How long SIGTERM may take to end a gateway that has nothing in flight.
const PROMPT_EXIT: Duration = Duration::from_secs(3);

fn gateway(backend: &Backend) -> Gateway {
    let yaml = format!(
        r#"
server: {{ shutdown_timeout_ms: 5000 }}
apis:
  - name: slow
    openapi:
      openapi: "3.0.1"
      info: {{ title: slow, version: "1" }}
      paths:
        /echo:
          post:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: POST
              uri: "http://{addr}/echo"
        /delay/{{ms}}:
          get:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: GET
              uri: "http://{addr}/delay/{{ms}}"
              requestParameters: {{ integration.request.path.ms: method.request.path.ms }}
    stages:
      - name: dev
"#,
        addr = backend.addr()
    );
    Gateway::start_yaml(&yaml, &[])
}

/// Waits (bounded) until the gateway prints that shutdown began.
fn wait_for_shutdown_line(gw: &Gateway) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        seen.extend(gw.output());
        if seen.iter().any(|l| l.contains("shutting down")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("no shutdown line within 5 s: {seen:?}");
}

/// Reads the whole response: the head, then Content-Length bytes (bounded).
fn read_response(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .map_or(0, |v| v.trim().parse().unwrap());
            if raw.len() >= end + 4 + len {
                return String::from_utf8_lossy(&raw).to_string();
            }
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    panic!("incomplete response: {:?}", String::from_utf8_lossy(&raw));
}

fn connect_refused(addr: SocketAddr) -> bool {
    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
        // A connection the kernel completed but nobody will serve must at least be closed.
        Ok(mut s) => {
            let _ = s.write_all(b"GET /dev/delay/1 HTTP/1.1\r\nHost: t\r\n\r\n");
            closed_within(&mut s, Duration::from_secs(2)) && {
                let mut b = [0u8; 1];
                !matches!(s.read(&mut b), Ok(n) if n > 0)
            }
        }
    }
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_refuses_new_connections() {
    let backend = Backend::start();
    let gw = gateway(&backend);
    let addr = gw.addr;
    let mut s = raw_conn(addr);
    s.write_all(b"GET /dev/delay/700 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let client = std::thread::spawn(move || {
        let t0 = Instant::now();
        let r = read_response(&mut s);
        (
            r,
            t0.elapsed(),
            closed_within(&mut s, Duration::from_secs(3)),
        )
    });
    // Let the request reach the backend, then ask the gateway to stop.
    std::thread::sleep(Duration::from_millis(200));
    gw.signal("TERM");
    wait_for_shutdown_line(&gw);
    assert!(
        connect_refused(addr),
        "a new connection was accepted after shutdown began"
    );
    let (response, took, closed) = client.join().unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.ends_with("\r\n\r\n{\"delayed\": 700}"),
        "{response}"
    );
    assert!(
        response.contains("\r\nContent-Length: 16\r\n"),
        "{response}"
    );
    // The request was admitted with keep-alive; the drain closes the connection after it.
    assert!(
        closed,
        "the connection stays open after the drained response"
    );
    assert!(
        took >= Duration::from_millis(400),
        "answered before the backend did: {took:?}"
    );
    let t0 = Instant::now();
    let status = gw.stop();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(t0.elapsed() < PROMPT_EXIT, "exit took {:?}", t0.elapsed());
}

#[test]
fn sigterm_with_an_idle_keep_alive_connection_exits_promptly() {
    let backend = Backend::start();
    let gw = gateway(&backend);
    let mut s = raw_conn(gw.addr);
    s.write_all(b"GET /dev/delay/1 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s);
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    assert!(r.contains("\r\nConnection: keep-alive\r\n"), "{r}");
    // The connection now sits idle (idle timeout 60 s) when SIGTERM arrives.
    let t0 = Instant::now();
    let status = gw.stop();
    let took = t0.elapsed();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        took < PROMPT_EXIT,
        "an idle connection held the exit back for {took:?}"
    );
    assert!(
        closed_within(&mut s, Duration::from_secs(2)),
        "the idle connection was not closed"
    );
}

/// A response still being written to a client that reads slowly is part of the work in
/// flight: the drain waits for the write, not only for the backend.
#[test]
fn sigterm_waits_for_a_response_still_being_written() {
    let backend = Backend::start();
    let gw = gateway(&backend);
    let body = "z".repeat(4 * 1024 * 1024);
    let mut s = raw_conn(gw.addr);
    write!(
        s,
        "POST /dev/echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body.as_bytes()).unwrap();
    // Not reading yet: the 4 MB echo fills the socket buffers and the gateway's write waits.
    std::thread::sleep(Duration::from_millis(700));
    gw.signal("TERM");
    wait_for_shutdown_line(&gw);
    std::thread::sleep(Duration::from_millis(300));
    let r = read_response(&mut s);
    assert!(
        r.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        &r[..r.len().min(200)]
    );
    let json_start = r.find("\r\n\r\n").unwrap() + 4;
    let echo: serde_json::Value = serde_json::from_str(&r[json_start..]).unwrap();
    assert_eq!(echo["body"].as_str().map(str::len), Some(body.len()));
    assert_eq!(gw.stop().code(), Some(0));
}
