//! INTEGRATE, `HTTP` (non-proxy) and `MOCK`: request templates and mapped parameters in,
//! integration response selection out (aws-behavior §3, §6.3, §6.5).

use super::*;

/// `HTTP` (non-proxy): mapped parameters only, body through a template or passed through,
/// integration response chosen by the backend status.
pub(super) async fn http(
    worker: &Worker,
    req: &Request<'_>,
    t: &Target<'_, '_>,
    keep_alive: bool,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Result<(), Reject> {
    let integration = &t.method.integration;
    let template = select_request_template(integration, req)?;
    let input = MappingInput::new(req, t);
    let mut state = RenderState::new();
    let mut body = std::mem::take(&mut scratch.body);
    body.clear();
    let content_type = match template {
        Some(tpl) => {
            input.render(req, t, &tpl.template, None, &mut state, &mut body)?;
            Some(tpl.content_type.as_str())
        }
        None => {
            body.extend_from_slice(req.body);
            None
        }
    };
    let overrides = state.overrides();
    let mut url = std::mem::take(&mut scratch.url);
    backend_url(req, t, &overrides, &mut url)?;
    let mut has_query = url.contains('?');
    append_mapped_query(req, t, &overrides, &mut has_query, &mut url);
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
    let set_by_mapping = |name: &str| {
        integration
            .request_parameters
            .iter()
            .any(|m| m.location == ParamLocation::Header && name_eq(&m.name, name))
            || overrides
                .request_headers
                .iter()
                .any(|(n, _)| name_eq(n, name))
    };
    // AWS sends these when nothing maps them (aws-behavior §6.2, AWS-validated).
    if !set_by_mapping("accept") {
        header(&mut r, "Accept", b"application/json");
    }
    if !set_by_mapping("user-agent") {
        r.extend_from_slice(b"User-Agent: AmazonAPIGateway_");
        r.extend_from_slice(t.api.id.as_bytes());
        r.extend_from_slice(b"\r\n");
    }
    header(&mut r, "X-Amzn-Apigateway-Api-Id", t.api.id.as_bytes());
    header(&mut r, "X-Amzn-Trace-Id", TraceId::new().as_bytes());
    if !set_by_mapping("content-type") && !matches!(req.method, "GET" | "HEAD" | "OPTIONS") {
        match (content_type, req.header("content-type")) {
            (Some(ct), _) => header(&mut r, "Content-Type", ct.as_bytes()),
            (None, Some(ct)) => header(&mut r, "Content-Type", ct),
            (None, None) => {}
        }
    }
    write_mapped_headers(req, t, &overrides, &mut r);
    content_length(&mut r, body.len());
    r.extend_from_slice(b"\r\n");
    r.extend_from_slice(&body);
    scratch.body = body;
    scratch.url = url;
    if let Some(tr) = scratch.trace.as_deref_mut() {
        tr.endpoint_request(&scratch.url, &r);
    }
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
    if let Some(tr) = scratch.trace.as_deref_mut() {
        tr.endpoint_response(&res, &scratch.backend);
    }
    res.map_err(upstream_reject)?;
    let status = scratch.backend.status;
    let mut b = itoa::Buffer::new();
    let selected = integration
        .select_response(b.format(status))
        .ok_or(Reject::ApiConfiguration)?;
    let backend = &scratch.backend;
    let headers: Vec<(&str, &str)> = backend
        .header_iter()
        .filter_map(|(n, v)| Some((n, std::str::from_utf8(v).ok()?)))
        .collect();
    let response = crate::template::IntegrationResponse {
        status,
        headers: &headers,
        body: backend.body(),
    };
    write_integration_response(
        req,
        t,
        &input,
        &mut state,
        selected,
        Some(backend),
        &response,
        keep_alive,
        out,
    )
}

/// `MOCK`: the request template's `statusCode` selects the integration response
/// (DG: how-to-mock-integration); the response template renders the body.
pub(super) fn mock(
    req: &Request<'_>,
    t: &Target<'_, '_>,
    keep_alive: bool,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Result<(), Reject> {
    let integration = &t.method.integration;
    let template = select_request_template(integration, req)?;
    let input = MappingInput::new(req, t);
    let mut state = RenderState::new();
    let mut rendered = Vec::new();
    let status = match template {
        Some(tpl) => {
            input.render(req, t, &tpl.template, None, &mut state, &mut rendered)?;
            crate::template::mock_status_code(&rendered).ok_or(Reject::ApiConfiguration)?
        }
        // Passthrough: the body itself must name the status.
        None => crate::template::mock_status_code(req.body).unwrap_or(200),
    };
    if let Some(tr) = scratch.trace.as_deref_mut() {
        tr.mock(
            if template.is_some() {
                &rendered
            } else {
                req.body
            },
            status,
        );
    }
    let mut b = itoa::Buffer::new();
    let selected = integration
        .select_response(b.format(status))
        .ok_or(Reject::ApiConfiguration)?;
    let response = crate::template::IntegrationResponse {
        status,
        headers: &[],
        body: b"",
    };
    write_integration_response(
        req, t, &input, &mut state, selected, None, &response, keep_alive, out,
    )
}
