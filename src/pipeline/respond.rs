//! RESPOND: the method response written from the selected integration response, and the
//! headers every response carries.

use super::*;

/// Date, Connection and the request ids every response carries (without the final CRLF).
pub(super) fn common_headers(t: &Target<'_, '_>, keep_alive: bool, out: &mut Vec<u8>) {
    date(out);
    header(
        out,
        "Connection",
        if keep_alive { b"keep-alive" } else { b"close" },
    );
    header(out, "x-amzn-RequestId", &t.request_id);
    header(out, "x-amz-apigw-id", &t.extended_id);
}

pub(super) fn upstream_reject(e: UpstreamError) -> Reject {
    match e {
        UpstreamError::Timeout => Reject::IntegrationTimeout,
        UpstreamError::Resolve | UpstreamError::Connect(_) => Reject::ApiConfiguration,
        UpstreamError::Broken(_) => Reject::IntegrationFailure,
    }
}

/// Writes a non-proxy response: the selected integration response's status (or the
/// template's `$context.responseOverride.status`), mapped headers, override headers and the
/// templated or passed-through body.
#[allow(clippy::too_many_arguments)]
pub(super) fn write_integration_response(
    req: &Request<'_>,
    t: &Target<'_, '_>,
    input: &MappingInput<'_>,
    state: &mut RenderState,
    selected: &IntegrationResponse,
    backend: Option<&BackendResponse>,
    response: &crate::template::IntegrationResponse<'_>,
    keep_alive: bool,
    out: &mut Vec<u8>,
) -> Result<(), Reject> {
    let mut body = Vec::new();
    let template = select_response_template(selected, req);
    match template {
        Some(tpl) => input.render(req, t, &tpl.template, Some(response), state, &mut body)?,
        None => body.extend_from_slice(response.body),
    }
    let overrides = state.overrides();
    let status = overrides.response_status.unwrap_or(selected.status);
    status_line(out, status);
    let mut content_type_set = false;
    for (name, src) in &selected.parameters {
        if overrides
            .response_headers
            .iter()
            .any(|(n, _)| name_eq(n, name))
        {
            continue;
        }
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
            ResponseSource::Body => Some(Cow::Borrowed(response.body)),
            ResponseSource::BodyPath(p) => {
                serde_json::from_slice::<serde_json::Value>(response.body)
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
            content_type_set |= name_eq(name, "content-type");
            header(out, name, &v);
        }
    }
    for (name, value) in &overrides.response_headers {
        if value.bytes().any(|b| b == b'\r' || b == b'\n') || !valid_header_name(name) {
            continue;
        }
        content_type_set |= name_eq(name, "content-type");
        header(out, name, value.as_bytes());
    }
    if !content_type_set {
        // The selected template's media type, else API Gateway's default.
        let ct = template.map_or("application/json", |t| t.content_type.as_str());
        header(out, "Content-Type", ct.as_bytes());
    }
    common_headers(t, keep_alive, out);
    content_length(out, body.len());
    out.extend_from_slice(b"\r\n");
    if req.method != "HEAD" {
        out.extend_from_slice(&body);
    }
    Ok(())
}

/// An HTTP token (RFC 9110 §5.6.2), so a template cannot inject a malformed header name.
pub(super) fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
