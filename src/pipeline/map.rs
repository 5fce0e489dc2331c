//! MAP: parameter mappings (`requestParameters`), the integration URI, template selection
//! and the method request as the template engine reads it. Helpers shared by the
//! integration stages.

use super::*;

/// Hop-by-hop headers (RFC 9110 §7.6.1) and the headers AWS drops from a proxied request.
pub(super) fn is_hop_by_hop(name: &str) -> bool {
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
pub(super) fn is_invisible_request_header(name: &str) -> bool {
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

pub(super) fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Form-encodes a query value (space → `+`), as API Gateway re-encodes mapped parameters.
pub(super) fn url_encode_into(s: &str, out: &mut String) {
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
pub fn query_last<'a>(query: Option<&'a str>, name: &str) -> Option<Cow<'a, str>> {
    query?.split('&').rev().find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (url_decode(k) == name).then(|| url_decode(v))
    })
}

/// The value of one `requestParameters` source (`None`: absent, so nothing is mapped).
pub(super) fn source_value<'a>(
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
pub(super) fn context_value(name: &str, req: &Request<'_>, t: &Target<'_, '_>) -> Option<String> {
    Some(match name {
        "apiId" => t.api.id.clone(),
        "stage" => t.stage.name.clone(),
        "httpMethod" => req.method.to_string(),
        "resourcePath" => t.method.resource_path.clone(),
        "path" => req.path.to_string(),
        "protocol" => "HTTP/1.1".to_string(),
        "identity.sourceIp" => req.client_ip.to_string(),
        "identity.userAgent" => req.header_str("user-agent")?.to_string(),
        "domainName" => req.header_str("host")?.to_string(),
        _ => return None,
    })
}

/// Renders the integration URI and resolves its origin.
pub(super) fn backend_url<'a>(
    req: &Request<'a>,
    t: &Target<'a, 'a>,
    overrides: &'a Overrides,
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
    // `$context.requestOverride.path.X` values are final (DG: override parameters).
    let mut values: Vec<(String, Cow<'a, str>)> = overrides
        .request_path
        .iter()
        .map(|(k, v)| (k.clone(), Cow::Borrowed(v.as_str())))
        .collect();
    for p in t.params.iter() {
        if values.iter().any(|(n, _)| n == p.0) {
            continue;
        }
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

/// Appends the mapped query parameters (`integration.request.querystring.*`), then the
/// template's `$context.requestOverride.querystring.*`, which replace mappings of the same name.
pub(super) fn append_mapped_query(
    req: &Request<'_>,
    t: &Target<'_, '_>,
    overrides: &Overrides,
    has_query: &mut bool,
    out: &mut String,
) {
    let mut push = |name: &str, value: &str, out: &mut String| {
        out.push(if *has_query { '&' } else { '?' });
        *has_query = true;
        url_encode_into(name, out);
        out.push('=');
        url_encode_into(value, out);
    };
    for m in &t.method.integration.request_parameters {
        if m.location != ParamLocation::QueryString
            || overrides
                .request_querystring
                .iter()
                .any(|(n, _)| *n == m.name)
        {
            continue;
        }
        if let Some(v) = source_value(&m.source, req, t) {
            push(&m.name, &v, out);
        }
    }
    for (name, value) in &overrides.request_querystring {
        push(name, value, out);
    }
}

/// Writes mapped headers, then `$context.requestOverride.header.*` (a list value becomes a
/// comma-joined multi-value header), overrides replacing mappings of the same name.
pub(super) fn write_mapped_headers(
    req: &Request<'_>,
    t: &Target<'_, '_>,
    overrides: &Overrides,
    out: &mut Vec<u8>,
) {
    // A value with CR or LF would split the header: drop it rather than inject.
    let safe = |v: &str| !v.bytes().any(|b| b == b'\r' || b == b'\n');
    for m in &t.method.integration.request_parameters {
        if m.location != ParamLocation::Header
            || overrides
                .request_headers
                .iter()
                .any(|(n, _)| name_eq(n, &m.name))
        {
            continue;
        }
        if let Some(v) = source_value(&m.source, req, t) {
            if safe(&v) {
                header(out, &m.name, v.as_bytes());
            }
        }
    }
    for (name, values) in &overrides.request_headers {
        let joined = values.join(",");
        if safe(&joined) && valid_header_name(name) {
            header(out, name, joined.as_bytes());
        }
    }
}

/// An `X-Amzn-Trace-Id` value, `Root=1-{8 hex: epoch seconds}-{24 hex: random}`, written
/// into a fixed buffer: `format!` here cost about 1,700 instructions per templated request.
pub(super) struct TraceId([u8; 40]);

impl TraceId {
    pub(super) fn new() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut b = *b"Root=1-00000000-000000000000000000000000";
        hex_into(&mut b[7..15], u64::from(secs as u32));
        hex_into(&mut b[16..32], random_u64());
        hex_into(&mut b[32..40], u64::from(random_u64() as u32));
        TraceId(b)
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The media type of a header value, without parameters or surrounding space (compare it
/// case-insensitively: config content types are stored lower-cased).
pub fn media_type(v: Option<&[u8]>) -> Option<&str> {
    let v = v?;
    // A byte scan: `str::split` with a char-set pattern cost ~700 instructions per request.
    let end = memchr::memchr2(b';', b',', v).unwrap_or(v.len());
    let t = std::str::from_utf8(trim_ows(&v[..end])).ok()?;
    (!t.is_empty()).then_some(t)
}

/// Request template selection by Content-Type with passthrough behaviour
/// (DG: integration-passthrough-behaviors). `Ok(None)`: pass the body through.
pub(super) fn select_request_template<'i>(
    integration: &'i Integration,
    req: &Request<'_>,
) -> Result<Option<&'i TemplateEntry>, Reject> {
    let ct = media_type(req.header("content-type")).unwrap_or("application/json");
    let templates = &integration.request_templates;
    if let Some(t) = templates
        .iter()
        .find(|t| t.content_type.eq_ignore_ascii_case(ct))
    {
        return Ok(Some(t));
    }
    match (integration.passthrough, templates.is_empty()) {
        (Passthrough::WhenNoMatch, _) | (Passthrough::WhenNoTemplates, true) => Ok(None),
        _ => Err(Reject::UnsupportedMediaType),
    }
}

/// Response template selection by the request's Accept (first media type), then
/// `application/json`, then the first defined (DG: request-response-data-mappings).
pub(super) fn select_response_template<'i>(
    r: &'i IntegrationResponse,
    req: &Request<'_>,
) -> Option<&'i TemplateEntry> {
    let accept = media_type(req.header("accept")).unwrap_or("application/json");
    r.templates
        .iter()
        .find(|t| t.content_type.eq_ignore_ascii_case(accept))
        .or_else(|| {
            r.templates
                .iter()
                .find(|t| t.content_type == "application/json")
        })
        .or_else(|| r.templates.first())
}

/// `$context.requestTime` (CLF, `04/Mar/2020:19:15:17 +0000`) and `requestTimeEpoch` (ms),
/// written into a fixed buffer: `format!` here cost about 2,600 instructions per request.
pub(super) struct RequestTime {
    text: [u8; 26],
    pub(super) epoch_ms: i64,
}

impl RequestTime {
    pub(super) fn now() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        RequestTime {
            text: crate::http::response::clf_date(now.as_secs()),
            epoch_ms: now.as_millis() as i64,
        }
    }

    pub(super) fn as_str(&self) -> &str {
        // `clf_date` writes only ASCII digits and letters.
        std::str::from_utf8(&self.text).unwrap_or("01/Jan/1970:00:00:00 +0000")
    }
}

/// The method request in the shape the template engine reads, built once per request and
/// only when a template runs (the plain proxy path never builds it).
pub(super) struct MappingInput<'a> {
    path_params: Vec<(&'a str, &'a str)>,
    query: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    headers: Vec<(&'a str, &'a str)>,
    stage_variables: Vec<(&'a str, &'a str)>,
    request_time: RequestTime,
    source_ip: String,
}

impl<'a> MappingInput<'a> {
    pub(super) fn new(req: &Request<'a>, t: &'a Target<'a, 'a>) -> Self {
        let query = req
            .query
            .filter(|q| !q.is_empty())
            .map(|q| {
                q.split('&')
                    .filter(|kv| !kv.is_empty())
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        (url_decode(k), url_decode(v))
                    })
                    .collect()
            })
            .unwrap_or_default();
        MappingInput {
            path_params: t
                .params
                .iter()
                .filter_map(|(k, v)| Some((k, std::str::from_utf8(v).ok()?)))
                .collect(),
            query,
            headers: req
                .headers
                .iter()
                .filter(|h| !is_invisible_request_header(h.name))
                .filter_map(|h| Some((h.name, std::str::from_utf8(h.value).ok()?)))
                .collect(),
            stage_variables: t
                .stage
                .variables
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            request_time: RequestTime::now(),
            source_ip: req.client_ip.to_string(),
        }
    }

    /// Renders `template`; `response` is set for integration-response templates.
    pub(super) fn render(
        &self,
        req: &Request<'_>,
        t: &Target<'_, '_>,
        template: &crate::template::Template,
        response: Option<&crate::template::IntegrationResponse<'_>>,
        state: &mut RenderState,
        out: &mut Vec<u8>,
    ) -> Result<(), Reject> {
        let query: Vec<(&str, &str)> = self
            .query
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        let host = req.header_str("host");
        let context = ContextValues {
            api_id: Some(&t.api.id),
            domain_name: host,
            domain_prefix: host.map(|h| h.split('.').next().unwrap_or(h)),
            extended_request_id: Some(t.extended_id()),
            http_method: Some(req.method),
            path: Some(req.path),
            protocol: Some("HTTP/1.1"),
            request_id: Some(t.request_id()),
            request_time: Some(self.request_time.as_str()),
            request_time_epoch: Some(self.request_time.epoch_ms),
            resource_path: Some(&t.method.resource_path),
            stage: Some(&t.stage.name),
            identity: Identity {
                api_key: t.api_key,
                api_key_id: t.api_key_id,
                source_ip: Some(&self.source_ip),
                user_agent: req.header_str("user-agent"),
                ..Identity::default()
            },
            ..ContextValues::default()
        };
        let data = RequestData {
            body: req.body,
            path_params: &self.path_params,
            query: &query,
            headers: &self.headers,
            stage_variables: &self.stage_variables,
            context,
        };
        // A template that fails at run time (fuel, output size) is a 500, as AWS answers
        // a mapping fault.
        template
            .render(&data, response, state, out)
            .map_err(|_| Reject::ApiConfiguration)
    }
}

/// The backend origin and request target for a rendered integration URL: the origin the
/// load precomputed for this stage when there is one (no parsing, no resolving), else parsed
/// from the URL (a path parameter in the host, rare).
pub(super) fn backend_origin<'i, 'u>(
    integration: &'i Integration,
    t: &Target<'_, '_>,
    url: &'u str,
) -> Result<(Cow<'i, Origin>, &'u str), Reject> {
    if let Some(Some((origin, prefix))) = integration.stage_origins.get(t.stage_index) {
        let rest = url.get(*prefix..).ok_or(Reject::ApiConfiguration)?;
        return Ok((Cow::Borrowed(origin), rest));
    }
    let (origin, rest) = split_url(url).map_err(|_| Reject::ApiConfiguration)?;
    Ok((Cow::Owned(origin), rest))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
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

    #[test]
    fn request_time_is_clf_and_agrees_with_the_epoch() {
        let t = RequestTime::now();
        let text = t.as_str();
        assert_eq!(text.len(), 26, "{text}");
        let secs = (t.epoch_ms / 1000) as u64;
        let (y, m, d) = crate::http::response::civil_from_days((secs / 86400) as i64);
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let rem = secs % 86400;
        let want = format!(
            "{d:02}/{}/{y}:{:02}:{:02}:{:02} +0000",
            months[m as usize - 1],
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        );
        assert_eq!(text, want);
    }

    #[test]
    fn trace_ids_are_root_1_epoch_random() {
        let a = TraceId::new();
        let b = TraceId::new();
        let text = std::str::from_utf8(a.as_bytes()).unwrap();
        assert_eq!(text.len(), 40);
        assert!(
            text.starts_with("Root=1-") && &text[15..16] == "-",
            "{text}"
        );
        assert!(
            text[7..15]
                .chars()
                .chain(text[16..].chars())
                .all(|c| c.is_ascii_hexdigit())
        );
        let secs = u64::from_str_radix(&text[7..15], 16).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(now.abs_diff(secs) < 5 || (now as u32 as u64).abs_diff(secs) < 5);
        assert_ne!(a.as_bytes(), b.as_bytes());
    }

    #[test]
    fn media_types_lose_parameters_not_case() {
        assert_eq!(
            media_type(Some(b" Application/JSON; charset=utf-8")),
            Some("Application/JSON")
        );
        assert_eq!(media_type(Some(b"text/html, */*")), Some("text/html"));
        assert_eq!(media_type(Some(b" ; x")), None);
        assert_eq!(media_type(None), None);
    }
}
