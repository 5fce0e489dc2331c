//! INTEGRATE, `HTTP_PROXY`: forward the request and pass the backend's answer back
//! (aws-behavior §6.2, §6.4).

use super::*;

/// `HTTP_PROXY`: forward the request (path, query, headers, body) and pass the answer back.
#[allow(clippy::too_many_arguments)]
pub(super) async fn http_proxy(
    worker: &Worker,
    req: &Request<'_>,
    t: &Target<'_, '_>,
    keep_alive: bool,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
    client: Option<&mut TcpStream>,
    idle_timeout: std::time::Duration,
) -> Result<Flow, Reject> {
    let integration = &t.method.integration;
    let mut url = std::mem::take(&mut scratch.url);
    backend_url(req, t, &NO_OVERRIDES, &mut url)?;
    let mut has_query = url.contains('?');
    if let Some(q) = req.query.filter(|q| !q.is_empty()) {
        url.push(if has_query { '&' } else { '?' });
        url.push_str(q);
        has_query = true;
    }
    append_mapped_query(req, t, &NO_OVERRIDES, &mut has_query, &mut url);
    let (origin, path_and_query) = backend_origin(integration, t, &url)?;
    let addr = worker
        .pool
        .endpoint(&origin, integration.tls.as_ref())
        .map_err(|_| Reject::ApiConfiguration)?;
    let method = integration.http_method.as_deref().unwrap_or(req.method);
    let mut r = std::mem::take(&mut scratch.backend_request);
    r.clear();
    r.extend_from_slice(method.as_bytes());
    r.push(b' ');
    if !path_and_query.starts_with('/') {
        r.push(b'/');
    }
    r.extend_from_slice(path_and_query.as_bytes());
    r.extend_from_slice(b" HTTP/1.1\r\n");
    header(&mut r, "Host", origin.host_header.as_bytes());
    let mapped = |name: &str| {
        integration
            .request_parameters
            .iter()
            .any(|m| m.location == ParamLocation::Header && name_eq(&m.name, name))
    };
    let mut xff: Option<&[u8]> = None;
    for h in req.headers {
        if is_hop_by_hop(h.name) || name_eq(h.name, "via") || mapped(h.name) {
            continue;
        }
        if name_eq(h.name, "x-forwarded-for") {
            xff = Some(h.value);
            continue;
        }
        header(&mut r, h.name, h.value);
    }
    write_mapped_headers(req, t, &NO_OVERRIDES, &mut r);
    let ip = req.client_ip;
    match xff {
        Some(prev) => {
            let mut v = trim_ows(prev).to_vec();
            v.extend_from_slice(b", ");
            v.extend_from_slice(ip.as_bytes());
            header(&mut r, "X-Forwarded-For", &v);
        }
        None => header(&mut r, "X-Forwarded-For", ip.as_bytes()),
    }
    header(&mut r, "X-Amzn-Apigateway-Api-Id", t.api.id.as_bytes());
    if !req.body.is_empty() || !matches!(method, "GET" | "HEAD" | "OPTIONS" | "DELETE") {
        content_length(&mut r, req.body.len());
    }
    r.extend_from_slice(b"\r\n");
    r.extend_from_slice(req.body);
    scratch.url = url;
    if let Some(tr) = scratch.trace.as_deref_mut() {
        tr.endpoint_request(&scratch.url, &r);
    }
    let head_request = method == "HEAD";
    // With a client socket, large and chunked bodies stream; without one (test-invoke) every
    // response is read whole.
    let mut sink = client.map(|client| ClientSink {
        client,
        out: &mut *out,
        t,
        keep_alive,
        idle_timeout,
        started: false,
    });
    let (res, buf) = match sink.as_mut() {
        Some(sink) => {
            worker
                .pool
                .exchange_streaming(
                    addr,
                    r,
                    head_request,
                    integration.timeout,
                    &mut scratch.backend,
                    sink,
                )
                .await
        }
        None => {
            worker
                .pool
                .exchange(
                    addr,
                    r,
                    head_request,
                    integration.timeout,
                    &mut scratch.backend,
                )
                .await
        }
    };
    let started = sink.as_ref().is_some_and(|s| s.started);
    scratch.backend_request = buf;
    if let Some(tr) = scratch.trace.as_deref_mut() {
        tr.endpoint_response(&res, &scratch.backend);
    }
    if started {
        // The head is on the wire: a failure now can only end the connection.
        return if res.is_ok() {
            Ok(Flow::Continue)
        } else {
            Ok(Flow::Close)
        };
    }
    res.map_err(upstream_reject)?;
    let b = &scratch.backend;
    let backend_length = write_proxy_head(b, t, keep_alive, out);
    let body = b.body();
    if req.method == "HEAD" {
        match backend_length {
            Some(v) => header(out, "Content-Length", v),
            None => content_length(out, 0),
        }
        out.extend_from_slice(b"\r\n");
    } else {
        content_length(out, body.len());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
    }
    Ok(Flow::Continue)
}

/// Status line and headers of a proxied response, without the framing header and the final
/// CRLF: the backend's headers, with `Connection`, `Content-Length`, `Date` and `Server`
/// renamed `x-amzn-Remapped-*` as AWS does (aws-behavior §6.4, AWS-validated), then ours.
/// Returns the backend's `Content-Length` value.
fn write_proxy_head<'b>(
    b: &'b BackendResponse,
    t: &Target<'_, '_>,
    keep_alive: bool,
    out: &mut Vec<u8>,
) -> Option<&'b [u8]> {
    status_line(out, b.status);
    let mut backend_length: Option<&[u8]> = None;
    for (name, value) in b.header_iter() {
        if name_eq(name, "transfer-encoding") || name_eq(name, "keep-alive") {
            continue;
        }
        if name_eq(name, "connection")
            || name_eq(name, "content-length")
            || name_eq(name, "date")
            || name_eq(name, "server")
        {
            if name_eq(name, "content-length") {
                backend_length = Some(value);
            }
            out.extend_from_slice(b"x-amzn-Remapped-");
            header(out, name, value);
            continue;
        }
        header(out, name, value);
    }
    common_headers(t, keep_alive, out);
    backend_length
}

/// Streams a large or chunked backend body to the client as it arrives: the head first
/// (after any earlier pipelined responses still in `out`), then each piece as read, framed as
/// the backend framed it (chunked stays chunked; a length stays a length).
struct ClientSink<'a, 't> {
    client: &'a mut TcpStream,
    out: &'a mut Vec<u8>,
    t: &'a Target<'t, 't>,
    keep_alive: bool,
    idle_timeout: std::time::Duration,
    started: bool,
}

impl ClientSink<'_, '_> {
    async fn flush(&mut self) -> std::io::Result<()> {
        let pending = std::mem::take(self.out);
        let (res, mut buf) =
            match monoio::time::timeout(self.idle_timeout, self.client.write_all(pending)).await {
                Ok(r) => r,
                Err(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "client stopped reading",
                    ));
                }
            };
        buf.clear();
        *self.out = buf;
        res.map(|_| ())
    }
}

impl Sink for ClientSink<'_, '_> {
    async fn head(
        &mut self,
        resp: &BackendResponse,
        framing: StreamFraming,
    ) -> std::io::Result<()> {
        self.started = true;
        write_proxy_head(resp, self.t, self.keep_alive, self.out);
        match framing {
            StreamFraming::Chunked => header(self.out, "Transfer-Encoding", b"chunked"),
            StreamFraming::Length(n) => content_length(self.out, n),
        }
        self.out.extend_from_slice(b"\r\n");
        Ok(())
    }

    async fn body(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.extend_from_slice(bytes);
        self.flush().await
    }
}
