//! INTEGRATE, `HTTP_PROXY`: forward the request and pass the backend's answer back
//! (aws-behavior §6.2, §6.4).

use super::*;

/// `HTTP_PROXY`: forward the request (path, query, headers, body) and pass the answer back.
pub(super) async fn http_proxy(
    worker: &Worker,
    req: &Request<'_>,
    t: &Target<'_, '_>,
    keep_alive: bool,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Result<(), Reject> {
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
    let (origin, path_and_query) = split_url(&url).map_err(|_| Reject::ApiConfiguration)?;
    if origin.https {
        scratch.url = url;
        return Err(Reject::IntegrationFailure);
    }
    let addr = worker
        .pool
        .resolve(&origin.host, origin.port)
        .map_err(|_| Reject::ApiConfiguration)?;
    let method = integration.http_method.as_deref().unwrap_or(req.method);
    let mut r = std::mem::take(&mut scratch.backend_request);
    r.clear();
    r.extend_from_slice(method.as_bytes());
    r.push(b' ');
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
    let ip = req.client.ip().to_string();
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
    let (res, buf) = worker
        .pool
        .exchange(
            addr,
            r,
            head_request,
            integration.timeout,
            &mut scratch.backend,
        )
        .await;
    scratch.backend_request = buf;
    if let Some(tr) = scratch.trace.as_deref_mut() {
        tr.endpoint_response(&res, &scratch.backend);
    }
    res.map_err(upstream_reject)?;
    let b = &scratch.backend;
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
            // AWS renames these instead of passing them (aws-behavior §6.4, AWS-validated).
            out.extend_from_slice(b"x-amzn-Remapped-");
            header(out, name, value);
            continue;
        }
        header(out, name, value);
    }
    common_headers(t, keep_alive, out);
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
    Ok(())
}
