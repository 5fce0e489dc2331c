//! The spine of a request: one function, [`handle`], calls every stage in order:
//! resolve the API and stage → route → integrate (request mapping, backend call, response
//! mapping) → respond. A failure at any stage becomes a gateway response ([`Reject`]).
//!
//! Everything here runs on one core: the per-core [`Worker`] holds that core's snapshot
//! handle and backend pool; nothing is locked.

pub mod gateway_response;

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::sync::Arc;

pub use gateway_response::Reject;

use crate::config::{Api, MethodConf, Published, Snapshot, Stage};
use crate::http::request::Request;
use crate::http::response::{
    content_length, date, extended_request_id, header, random_u64, request_id, status_line,
};
use crate::http::{name_eq, trim_ows};
use crate::integration::http::split_url;
use crate::integration::mock::status_from_template_output;
use crate::integration::upstream::{BackendResponse, Pool, UpstreamError};
use crate::integration::{
    Integration, IntegrationResponse, IntegrationType, ParamLocation, ParamSource, Passthrough,
    ResponseSource, TemplateEntry,
};
use crate::route::{Method, Params};

/// One core's data-plane state.
#[derive(Debug)]
pub struct Worker {
    published: Arc<Published>,
    generation: Cell<u64>,
    snapshot: RefCell<Arc<Snapshot>>,
    /// Backend connections of this core.
    pub pool: Pool,
}

impl Worker {
    /// A worker reading snapshots from `published`.
    pub fn new(published: Arc<Published>) -> Self {
        let (generation, snapshot) = published.load();
        let s = &snapshot.server;
        let pool = Pool::new(s.max_idle_backend_connections, s.connect_timeout);
        Worker {
            published,
            generation: Cell::new(generation),
            snapshot: RefCell::new(snapshot),
            pool,
        }
    }

    /// The snapshot to serve the next request with: one atomic load, and a lock only when a
    /// reload published a new one.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        if self.published.generation() != self.generation.get() {
            let (g, s) = self.published.load();
            self.generation.set(g);
            *self.snapshot.borrow_mut() = s;
        }
        self.snapshot.borrow().clone()
    }
}

/// Buffers a connection reuses across its requests.
#[derive(Debug, Default)]
pub struct Scratch {
    backend_request: Vec<u8>,
    backend: BackendResponse,
    url: String,
    body: Vec<u8>,
}

/// What one request resolved to.
struct Target<'s, 'p> {
    api: &'s Api,
    stage: &'s Stage,
    method: &'s MethodConf,
    params: Params<'s, 'p>,
}

/// Handles one request, writing the whole response into `out`. Returns `false` when the
/// connection must close after this response.
pub async fn handle(
    worker: &Worker,
    req: &Request<'_>,
    keep_alive: bool,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> bool {
    let snapshot = worker.snapshot();
    let head = req.method == "HEAD";
    let target = match resolve(&snapshot, req) {
        Ok(t) => t,
        Err(r) => {
            gateway_response::write(r, keep_alive, head, out);
            return keep_alive;
        }
    };
    let integration = &target.method.integration;
    let result = if integration.illegal_header_mapping {
        Err(Reject::ApiConfiguration)
    } else {
        match integration.kind {
            IntegrationType::HttpProxy => {
                http_proxy(worker, req, &target, keep_alive, scratch, out).await
            }
            IntegrationType::Http => http(worker, req, &target, keep_alive, scratch, out).await,
            IntegrationType::Mock => mock(req, &target, keep_alive, out),
            IntegrationType::Aws | IntegrationType::AwsProxy => Err(Reject::ApiConfiguration),
        }
    };
    if let Err(r) = result {
        gateway_response::write(r, keep_alive, head, out);
    }
    keep_alive
}

/// Host → custom domain mapping, or the default endpoint's `/{stage}/...`; then the route.
fn resolve<'s, 'p>(snapshot: &'s Snapshot, req: &Request<'p>) -> Result<Target<'s, 'p>, Reject> {
    let host = req.host();
    let path = req.path;
    let mut chosen: Option<(&Api, &Stage, &'p str)> = None;
    let domain = snapshot
        .domains
        .iter()
        .find(|d| d.host.eq_ignore_ascii_case(host))
        .or_else(|| snapshot.domains.iter().find(|d| d.host == "*"));
    if let Some(domain) = domain {
        let trimmed = path.trim_start_matches('/');
        for m in &domain.mappings {
            let rest = if m.base_path.is_empty() {
                Some(path)
            } else {
                trimmed
                    .strip_prefix(m.base_path.as_str())
                    .filter(|r| r.is_empty() || r.starts_with('/'))
            };
            if let Some(rest) = rest {
                let api = &snapshot.apis[m.api];
                chosen = Some((api, &api.stages[m.stage], rest));
                break;
            }
        }
        if chosen.is_none() {
            return Err(Reject::UnknownStage);
        }
    }
    let (api, stage, rest) = match chosen {
        Some(c) => c,
        None => {
            let api = default_api(snapshot, req).ok_or(Reject::UnknownStage)?;
            let trimmed = path.trim_start_matches('/');
            let (stage_name, rest) = match trimmed.find('/') {
                Some(i) => (&trimmed[..i], &trimmed[i..]),
                None => (trimmed, ""),
            };
            let stage = api
                .stages
                .iter()
                .find(|s| s.name == stage_name)
                .ok_or(Reject::UnknownStage)?;
            (api, stage, rest)
        }
    };
    let method =
        Method::from_bytes(req.method.as_bytes()).ok_or(Reject::MissingAuthenticationToken)?;
    let route_path = if rest.is_empty() { "/" } else { rest };
    let m = api
        .router
        .at(method, route_path.as_bytes())
        .ok_or(Reject::MissingAuthenticationToken)?;
    let method_conf = &api.methods[*m.value as usize];
    Ok(Target {
        api,
        stage,
        method: method_conf,
        params: m.params,
    })
}

/// The API for the default endpoint: by `x-apigw-api-id`, by a `{apiId}.execute-api.` host,
/// else the first API.
fn default_api<'s>(snapshot: &'s Snapshot, req: &Request<'_>) -> Option<&'s Api> {
    if snapshot.apis.len() > 1 {
        if let Some(id) = req.header_str("x-apigw-api-id") {
            if let Some(api) = snapshot.apis.iter().find(|a| a.id == id) {
                return Some(api);
            }
        }
        let host = req.host();
        if let Some((first, _)) = host.split_once('.') {
            if let Some(api) = snapshot.apis.iter().find(|a| a.id == first) {
                return Some(api);
            }
        }
    }
    snapshot.apis.first()
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and the headers AWS drops from a proxied request.
fn is_hop_by_hop(name: &str) -> bool {
    const DROP: [&str; 10] = [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "expect",
    ];
    DROP.iter().any(|d| name_eq(name, d))
}

/// Headers AWS strips from every client request before any mapping (aws-behavior §6.2).
fn is_invisible_request_header(name: &str) -> bool {
    const HIDDEN: [&str; 12] = [
        "connection",
        "content-length",
        "content-md5",
        "expect",
        "max-forwards",
        "proxy-authenticate",
        "server",
        "te",
        "transfer-encoding",
        "trailer",
        "upgrade",
        "www-authenticate",
    ];
    HIDDEN.iter().any(|d| name_eq(name, d))
}

/// Decodes `application/x-www-form-urlencoded`-style query components (`+` → space).
pub fn url_decode(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Form-encodes a query value (space → `+`), as API Gateway re-encodes mapped parameters.
fn url_encode_into(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

/// Last value of a query parameter, decoded.
fn query_last<'a>(query: Option<&'a str>, name: &str) -> Option<Cow<'a, str>> {
    query?.split('&').rev().find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (url_decode(k) == name).then(|| url_decode(v))
    })
}

/// The value of one `requestParameters` source (`None`: absent, so nothing is mapped).
fn source_value<'a>(
    src: &'a ParamSource,
    req: &Request<'a>,
    t: &Target<'a, 'a>,
) -> Option<Cow<'a, str>> {
    match src {
        ParamSource::Path(n) => t
            .params
            .get(n)
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(Cow::Borrowed),
        ParamSource::QueryString(n) => query_last(req.query, n),
        ParamSource::MultiQueryString(n) => {
            let vals: Vec<Cow<'_, str>> = req
                .query?
                .split('&')
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (url_decode(k) == n.as_str()).then(|| url_decode(v))
                })
                .collect();
            (!vals.is_empty()).then(|| Cow::Owned(vals.join(",")))
        }
        ParamSource::Header(n) => req
            .headers
            .iter()
            .rev()
            .find(|h| name_eq(h.name, n) && !is_invisible_request_header(h.name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(Cow::Borrowed),
        ParamSource::MultiHeader(n) => {
            let vals: Vec<&str> = req
                .headers
                .iter()
                .filter(|h| name_eq(h.name, n) && !is_invisible_request_header(h.name))
                .filter_map(|h| std::str::from_utf8(h.value).ok())
                .collect();
            (!vals.is_empty()).then(|| Cow::Owned(vals.join(",")))
        }
        ParamSource::Body => std::str::from_utf8(req.body).ok().map(Cow::Borrowed),
        ParamSource::BodyPath(p) => {
            let v: serde_json::Value = serde_json::from_slice(req.body).ok()?;
            let ptr = format!("/{}", p.replace('.', "/"));
            match v.pointer(&ptr)? {
                serde_json::Value::String(s) => Some(Cow::Owned(s.clone())),
                other => Some(Cow::Owned(other.to_string())),
            }
        }
        ParamSource::StageVariable(n) => t.stage.variable(n).map(Cow::Borrowed),
        ParamSource::Context(n) => context_value(n, req, t).map(Cow::Owned),
        ParamSource::Literal(l) => Some(Cow::Borrowed(l.as_str())),
    }
}

/// The `$context` variables available to parameter mappings.
fn context_value(name: &str, req: &Request<'_>, t: &Target<'_, '_>) -> Option<String> {
    Some(match name {
        "apiId" => t.api.id.clone(),
        "stage" => t.stage.name.clone(),
        "httpMethod" => req.method.to_string(),
        "resourcePath" => t.method.resource_path.clone(),
        "path" => req.path.to_string(),
        "protocol" => "HTTP/1.1".to_string(),
        "identity.sourceIp" => req.client.ip().to_string(),
        "identity.userAgent" => req.header_str("user-agent")?.to_string(),
        "domainName" => req.header_str("host")?.to_string(),
        _ => return None,
    })
}

/// Renders the integration URI and resolves its origin.
fn backend_url<'a>(
    req: &Request<'a>,
    t: &Target<'a, 'a>,
    scratch_url: &mut String,
) -> Result<(), Reject> {
    let integration = &t.method.integration;
    let uri = integration.uri.as_ref().ok_or(Reject::ApiConfiguration)?;
    scratch_url.clear();
    let mapped_path = |name: &str| -> Option<Cow<'a, str>> {
        integration
            .request_parameters
            .iter()
            .find(|m| m.location == ParamLocation::Path && m.name == name)
            .map_or_else(
                || {
                    t.params
                        .get(name)
                        .and_then(|v| std::str::from_utf8(v).ok())
                        .map(Cow::Borrowed)
                },
                |m| source_value(&m.source, req, t),
            )
    };
    // Path values are owned only when a mapping computed them; collect first, then render.
    let mut values: Vec<(String, Cow<'a, str>)> = Vec::new();
    for p in t.params.iter() {
        if let Some(v) = mapped_path(p.0) {
            values.push((p.0.to_string(), v));
        }
    }
    for m in &integration.request_parameters {
        if m.location == ParamLocation::Path && !values.iter().any(|(n, _)| *n == m.name) {
            if let Some(v) = source_value(&m.source, req, t) {
                values.push((m.name.clone(), v));
            }
        }
    }
    uri.render(
        |n| values.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_ref()),
        |n| t.stage.variable(n),
        scratch_url,
    );
    Ok(())
}

/// Appends the mapped query parameters (`integration.request.querystring.*`).
fn append_mapped_query(
    req: &Request<'_>,
    t: &Target<'_, '_>,
    has_query: &mut bool,
    out: &mut String,
) {
    for m in &t.method.integration.request_parameters {
        if m.location != ParamLocation::QueryString {
            continue;
        }
        if let Some(v) = source_value(&m.source, req, t) {
            out.push(if *has_query { '&' } else { '?' });
            *has_query = true;
            url_encode_into(&m.name, out);
            out.push('=');
            url_encode_into(&v, out);
        }
    }
}

fn write_mapped_headers(req: &Request<'_>, t: &Target<'_, '_>, out: &mut Vec<u8>) {
    for m in &t.method.integration.request_parameters {
        if m.location != ParamLocation::Header {
            continue;
        }
        if let Some(v) = source_value(&m.source, req, t) {
            // A value with CR or LF would split the header: drop it rather than inject.
            if !v.bytes().any(|b| b == b'\r' || b == b'\n') {
                header(out, &m.name, v.as_bytes());
            }
        }
    }
}

fn trace_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "Root=1-{:08x}-{:016x}{:08x}",
        secs as u32,
        random_u64(),
        random_u64() as u32
    )
}

/// `HTTP_PROXY`: forward the request (path, query, headers, body) and pass the answer back.
async fn http_proxy(
    worker: &Worker,
    req: &Request<'_>,
    t: &Target<'_, '_>,
    keep_alive: bool,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Result<(), Reject> {
    let integration = &t.method.integration;
    let mut url = std::mem::take(&mut scratch.url);
    backend_url(req, t, &mut url)?;
    let mut has_query = url.contains('?');
    if let Some(q) = req.query.filter(|q| !q.is_empty()) {
        url.push(if has_query { '&' } else { '?' });
        url.push_str(q);
        has_query = true;
    }
    append_mapped_query(req, t, &mut has_query, &mut url);
    let (origin, path_and_query) = split_url(&url).map_err(|_| Reject::ApiConfiguration)?;
    let addr = worker
        .pool
        .endpoint(&origin, integration.tls.as_ref())
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
    write_mapped_headers(req, t, &mut r);
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
    common_headers(keep_alive, out);
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

/// Date, Connection and the request ids every response carries (without the final CRLF).
fn common_headers(keep_alive: bool, out: &mut Vec<u8>) {
    date(out);
    header(
        out,
        "Connection",
        if keep_alive { b"keep-alive" } else { b"close" },
    );
    header(out, "x-amzn-RequestId", &request_id());
    header(out, "x-amz-apigw-id", &extended_request_id());
}

fn upstream_reject(e: UpstreamError) -> Reject {
    match e {
        UpstreamError::Timeout => Reject::IntegrationTimeout,
        UpstreamError::Resolve | UpstreamError::Connect(_) => Reject::ApiConfiguration,
        UpstreamError::Broken(_) => Reject::IntegrationFailure,
    }
}

/// The media type of a header value, lower-cased, without parameters.
fn media_type(v: Option<&[u8]>) -> Option<String> {
    let v = std::str::from_utf8(v?).ok()?;
    let t = v.split([';', ',']).next()?.trim();
    (!t.is_empty()).then(|| t.to_ascii_lowercase())
}

/// Request template selection by Content-Type with passthrough behaviour
/// (DG: integration-passthrough-behaviors). `Ok(None)`: pass the body through.
fn select_request_template<'i>(
    integration: &'i Integration,
    req: &Request<'_>,
) -> Result<Option<&'i TemplateEntry>, Reject> {
    let ct = media_type(req.header("content-type")).unwrap_or_else(|| "application/json".into());
    let templates = &integration.request_templates;
    if let Some(t) = templates.iter().find(|t| t.content_type == ct) {
        return Ok(Some(t));
    }
    match (integration.passthrough, templates.is_empty()) {
        (Passthrough::WhenNoMatch, _) | (Passthrough::WhenNoTemplates, true) => Ok(None),
        _ => Err(Reject::UnsupportedMediaType),
    }
}

/// Response template selection by the request's Accept, then `application/json`, then the first.
fn select_response_template<'i>(
    r: &'i IntegrationResponse,
    req: &Request<'_>,
) -> Option<&'i TemplateEntry> {
    let accept = media_type(req.header("accept")).unwrap_or_else(|| "application/json".into());
    r.templates
        .iter()
        .find(|t| t.content_type == accept)
        .or_else(|| {
            r.templates
                .iter()
                .find(|t| t.content_type == "application/json")
        })
        .or_else(|| r.templates.first())
}

/// Renders a mapping template. Until the VTL engine is wired in, only templates without
/// references or directives render; others fail as a configuration error.
fn render_template(t: &TemplateEntry, out: &mut Vec<u8>) -> Result<(), Reject> {
    if t.source.contains(['$', '#']) {
        return Err(Reject::ApiConfiguration);
    }
    out.extend_from_slice(t.source.as_bytes());
    Ok(())
}

/// `HTTP` (non-proxy): mapped parameters only, body through a template or passed through,
/// integration response chosen by the backend status.
async fn http(
    worker: &Worker,
    req: &Request<'_>,
    t: &Target<'_, '_>,
    keep_alive: bool,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Result<(), Reject> {
    let integration = &t.method.integration;
    let template = select_request_template(integration, req)?;
    let mut body = std::mem::take(&mut scratch.body);
    body.clear();
    match template {
        Some(tpl) => render_template(tpl, &mut body)?,
        None => body.extend_from_slice(req.body),
    }
    let mut url = std::mem::take(&mut scratch.url);
    backend_url(req, t, &mut url)?;
    let mut has_query = url.contains('?');
    append_mapped_query(req, t, &mut has_query, &mut url);
    let (origin, path_and_query) = split_url(&url).map_err(|_| Reject::ApiConfiguration)?;
    let addr = worker
        .pool
        .endpoint(&origin, integration.tls.as_ref())
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
    // AWS sends these when nothing maps them (aws-behavior §6.2, AWS-validated).
    if !mapped("accept") {
        header(&mut r, "Accept", b"application/json");
    }
    if !mapped("user-agent") {
        r.extend_from_slice(b"User-Agent: AmazonAPIGateway_");
        r.extend_from_slice(t.api.id.as_bytes());
        r.extend_from_slice(b"\r\n");
    }
    header(&mut r, "X-Amzn-Apigateway-Api-Id", t.api.id.as_bytes());
    header(&mut r, "X-Amzn-Trace-Id", trace_id().as_bytes());
    if !mapped("content-type") && !matches!(req.method, "GET" | "HEAD" | "OPTIONS") {
        if let Some(ct) = req.header("content-type") {
            header(&mut r, "Content-Type", ct);
        }
    }
    write_mapped_headers(req, t, &mut r);
    content_length(&mut r, body.len());
    r.extend_from_slice(b"\r\n");
    r.extend_from_slice(&body);
    scratch.body = body;
    scratch.url = url;
    let (res, buf) = worker
        .pool
        .exchange(
            addr,
            r,
            method == "HEAD",
            integration.timeout,
            &mut scratch.backend,
        )
        .await;
    scratch.backend_request = buf;
    res.map_err(upstream_reject)?;
    let status = scratch.backend.status;
    let mut b = itoa::Buffer::new();
    let selected = integration
        .select_response(b.format(status))
        .ok_or(Reject::ApiConfiguration)?;
    let backend = &scratch.backend;
    write_integration_response(
        req,
        t,
        selected,
        Some(backend),
        backend.body(),
        keep_alive,
        out,
    )
}

/// `MOCK`: the request template's `statusCode` selects the integration response.
fn mock(
    req: &Request<'_>,
    t: &Target<'_, '_>,
    keep_alive: bool,
    out: &mut Vec<u8>,
) -> Result<(), Reject> {
    let integration = &t.method.integration;
    let template = select_request_template(integration, req)?;
    let mut rendered = Vec::new();
    let status = match template {
        Some(tpl) => {
            render_template(tpl, &mut rendered)?;
            let text = String::from_utf8_lossy(&rendered);
            status_from_template_output(&text).ok_or(Reject::ApiConfiguration)?
        }
        None => 200,
    };
    let mut b = itoa::Buffer::new();
    let selected = integration
        .select_response(b.format(status))
        .ok_or(Reject::ApiConfiguration)?;
    write_integration_response(req, t, selected, None, b"", keep_alive, out)
}

/// Writes a non-proxy response: the selected integration response's status, mapped headers
/// and (templated or passed-through) body.
fn write_integration_response(
    req: &Request<'_>,
    t: &Target<'_, '_>,
    selected: &IntegrationResponse,
    backend: Option<&BackendResponse>,
    backend_body: &[u8],
    keep_alive: bool,
    out: &mut Vec<u8>,
) -> Result<(), Reject> {
    let mut body = Vec::new();
    match select_response_template(selected, req) {
        Some(tpl) => render_template(tpl, &mut body)?,
        None => body.extend_from_slice(backend_body),
    }
    status_line(out, selected.status);
    let mut content_type_mapped = false;
    for (name, src) in &selected.parameters {
        let value: Option<Cow<'_, [u8]>> = match src {
            ResponseSource::Header(h) => backend.and_then(|b| b.header(h)).map(Cow::Borrowed),
            ResponseSource::MultiHeader(h) => backend.map(|b| {
                let vals: Vec<&[u8]> = b
                    .header_iter()
                    .filter(|(n, _)| name_eq(n, h))
                    .map(|(_, v)| v)
                    .collect();
                Cow::Owned(vals.join(&b","[..]))
            }),
            ResponseSource::Body => Some(Cow::Borrowed(backend_body)),
            ResponseSource::BodyPath(p) => {
                serde_json::from_slice::<serde_json::Value>(backend_body)
                    .ok()
                    .and_then(|v| {
                        let ptr = format!("/{}", p.replace('.', "/"));
                        v.pointer(&ptr).map(|x| match x {
                            serde_json::Value::String(s) => Cow::Owned(s.clone().into_bytes()),
                            other => Cow::Owned(other.to_string().into_bytes()),
                        })
                    })
            }
            ResponseSource::StageVariable(n) => {
                t.stage.variable(n).map(|v| Cow::Borrowed(v.as_bytes()))
            }
            ResponseSource::Context(n) => {
                context_value(n, req, t).map(|v| Cow::Owned(v.into_bytes()))
            }
            ResponseSource::Literal(l) => Some(Cow::Borrowed(l.as_bytes())),
        };
        if let Some(v) = value {
            if v.iter().any(|b| *b == b'\r' || *b == b'\n') {
                continue;
            }
            content_type_mapped |= name_eq(name, "content-type");
            header(out, name, &v);
        }
    }
    if !content_type_mapped {
        header(out, "Content-Type", b"application/json");
    }
    common_headers(keep_alive, out);
    content_length(out, body.len());
    out.extend_from_slice(b"\r\n");
    if req.method != "HEAD" {
        out.extend_from_slice(&body);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_decoding() {
        assert_eq!(url_decode("a+b%2Bc%3a"), "a b+c:");
        assert_eq!(url_decode("100%"), "100%");
        assert_eq!(url_decode("%zz"), "%zz");
        assert_eq!(query_last(Some("a=1&b=2&a=3"), "a").as_deref(), Some("3"));
        let mut s = String::new();
        url_encode_into("a b\"{:", &mut s);
        assert_eq!(s, "a+b%22%7B%3A");
    }
}
