//! The admin endpoint: health, usage (AWS `GetUsage`-shaped) and, later, cache commands.
//!
//! Control plane only: a plain blocking thread on its own (loopback) listener, one request per
//! connection, bounded reads and timeouts. It reads the current snapshot like the workers do
//! and never touches a worker's memory.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::config::Published;

/// Largest admin request head read.
const MAX_REQUEST: usize = 16 * 1024;
/// Read and write timeout per admin connection.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts the admin thread on `addr`; returns the bound address.
pub fn spawn(addr: SocketAddr, published: Arc<Published>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new()
        .name("tollgate-admin".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if let Err(e) = serve(stream, &published) {
                    crate::warn!("tollgate: admin: {e}");
                }
            }
        })?;
    Ok(bound)
}

fn serve(mut stream: TcpStream, published: &Published) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let (method, target) = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => {
                break (
                    req.method.unwrap_or("").to_string(),
                    req.path.unwrap_or("/").to_string(),
                );
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_REQUEST => continue,
            _ => return respond(&mut stream, 400, r#"{"message":"Bad Request"}"#),
        }
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let param = |name: &str| {
        query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == name).then(|| crate::pipeline::url_decode(v).into_owned())
        })
    };
    match (method.as_str(), path) {
        ("GET", "/health") => respond(&mut stream, 200, r#"{"status":"ok"}"#),
        ("GET", "/usage") => {
            let (_, snapshot) = published.load();
            let (Some(plan), Some(start), Some(end)) =
                (param("usagePlanId"), param("startDate"), param("endDate"))
            else {
                return respond(
                    &mut stream,
                    400,
                    r#"{"message":"usagePlanId, startDate and endDate (YYYY-MM-DD) are required"}"#,
                );
            };
            let limiter = &snapshot.limiter;
            match limiter.usage(&plan, &start, &end, limiter.now()) {
                Some(mut usage) => {
                    if let Some(key) = param("keyId") {
                        if let Some(items) = usage.get_mut("items").and_then(|i| i.as_object_mut())
                        {
                            items.retain(|k, _| *k == key);
                        }
                    }
                    respond(&mut stream, 200, &usage.to_string())
                }
                None => respond(
                    &mut stream,
                    404,
                    r#"{"message":"Invalid Usage Plan ID specified, or a date range that is not YYYY-MM-DD within 90 days"}"#,
                ),
            }
        }
        _ => respond(&mut stream, 404, r#"{"message":"Not Found"}"#),
    }
}

fn respond(stream: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        crate::http::response::reason(status),
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())
}
