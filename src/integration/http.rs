//! `HTTP` and `HTTP_PROXY` integrations: the integration URI template and the backend
//! request built from it (DG: api-gateway-api-integration-types, setup-http-integrations).

/// One piece of an integration URI.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// `{name}`: the mapped `integration.request.path.name` value.
    Path(String),
    /// `${stageVariables.name}`.
    StageVariable(String),
}

/// Scheme, host and port of a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `https`.
    pub https: bool,
    /// Host name or IP literal (IPv6 with brackets).
    pub host: String,
    /// Port, defaulted from the scheme.
    pub port: u16,
    /// The `Host` header value.
    pub host_header: String,
    /// The address, when the host is an IP literal (parsed once, never resolved).
    pub ip: Option<std::net::IpAddr>,
}

/// A compiled integration URI such as `http://${stageVariables.host}/pets/{petId}`.
#[derive(Debug, Clone)]
pub struct UriTemplate {
    /// The URI as configured.
    pub raw: String,
    parts: Vec<Part>,
    /// The origin, when no placeholder touches it (known at load time).
    pub static_origin: Option<Origin>,
}

impl UriTemplate {
    /// Parses a URI template; the scheme must be http or https.
    pub fn parse(raw: &str) -> Result<UriTemplate, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = raw;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("${stageVariables.") {
                let end = after.find('}').ok_or("unterminated ${stageVariables...}")?;
                if !lit.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut lit)));
                }
                parts.push(Part::StageVariable(after[..end].to_string()));
                rest = &after[end + 1..];
            } else if let Some(after) = rest.strip_prefix('{') {
                let end = after.find('}').ok_or("unterminated {parameter}")?;
                let name = &after[..end];
                if name.is_empty()
                    || !name.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'$')
                    })
                {
                    return Err(format!("invalid path parameter `{{{name}}}`"));
                }
                if !lit.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut lit)));
                }
                parts.push(Part::Path(name.to_string()));
                rest = &after[end + 1..];
            } else {
                let mut chars = rest.chars();
                if let Some(c) = chars.next() {
                    lit.push(c);
                }
                rest = chars.as_str();
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Literal(lit));
        }
        let lower = raw.to_ascii_lowercase();
        if !lower.starts_with("http://") && !lower.starts_with("https://") {
            return Err("the scheme must be http:// or https://".into());
        }
        // The origin is static when the first placeholder comes after the authority.
        let scheme_len = if lower.starts_with("https://") { 8 } else { 7 };
        let first_placeholder = raw
            .find("${")
            .into_iter()
            .chain(raw.find('{'))
            .min()
            .unwrap_or(raw.len());
        let authority_end = raw[scheme_len..]
            .find(['/', '?'])
            .map_or(raw.len(), |i| i + scheme_len);
        let static_origin = if first_placeholder >= authority_end {
            let (origin, _) = split_url(&raw[..authority_end])?;
            Some(origin)
        } else {
            None
        };
        Ok(UriTemplate {
            raw: raw.to_string(),
            parts,
            static_origin,
        })
    }

    /// Writes the URI with placeholders filled in. Missing values render empty, as AWS does.
    pub fn render<'a>(
        &self,
        path_value: impl Fn(&str) -> Option<&'a str>,
        stage_variable: impl Fn(&str) -> Option<&'a str>,
        out: &mut String,
    ) {
        for p in &self.parts {
            match p {
                Part::Literal(s) => out.push_str(s),
                Part::Path(n) => out.push_str(path_value(n).unwrap_or("")),
                Part::StageVariable(n) => out.push_str(stage_variable(n).unwrap_or("")),
            }
        }
    }
}

impl UriTemplate {
    /// The origin and the length of the `scheme://authority` prefix this URI renders to for
    /// one stage, when the authority holds only literals and stage variables (the usual case):
    /// computed at load, so a request skips parsing and resolving it. `None` when a path
    /// parameter reaches into the authority, or the rendered origin is invalid.
    pub fn stage_origin<'a>(
        &self,
        stage_variable: impl Fn(&str) -> Option<&'a str>,
    ) -> Option<(Origin, usize)> {
        let mut s = String::new();
        // A control character marks where path parameters land; it cannot be in a valid host.
        self.render(|_| Some("\u{1}"), stage_variable, &mut s);
        let lower = s.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
        let scheme_len = if lower.starts_with("https://") {
            8
        } else if lower.starts_with("http://") {
            7
        } else {
            return None;
        };
        let end = s[scheme_len..]
            .find(['/', '?'])
            .map_or(s.len(), |i| i + scheme_len);
        if s[..end].contains('\u{1}') {
            return None;
        }
        let (origin, _) = split_url(&s[..end]).ok()?;
        Some((origin, end))
    }
}

/// Splits an absolute http(s) URL into its origin and the path-and-query (`/` if empty).
pub fn split_url(url: &str) -> Result<(Origin, &str), String> {
    let (https, rest) = if url.len() >= 8 && url[..8].eq_ignore_ascii_case("https://") {
        (true, &url[8..])
    } else if url.len() >= 7 && url[..7].eq_ignore_ascii_case("http://") {
        (false, &url[7..])
    } else {
        return Err("the scheme must be http:// or https://".into());
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let path = if end == rest.len() { "/" } else { &rest[end..] };
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if authority.is_empty() {
        return Err("the URI has no host".into());
    }
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(i) => {
                let port = authority[i + 1..].strip_prefix(':');
                (&authority[..=i], port)
            }
            None => return Err("unterminated IPv6 address".into()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("invalid port `{p}`"))?,
        None if https => 443,
        None => 80,
    };
    if host.is_empty()
        || !host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'[' | b']' | b':')
        })
    {
        return Err(format!("invalid host `{host}`"));
    }
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok();
    Ok((
        Origin {
            https,
            host: host.to_string(),
            port,
            host_header: authority.to_string(),
            ip,
        },
        path,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_params_and_stage_variables() {
        let t =
            UriTemplate::parse("http://${stageVariables.host}/pets/{petId}?q=${stageVariables.q}")
                .unwrap();
        assert!(t.static_origin.is_none());
        let mut out = String::new();
        t.render(
            |n| (n == "petId").then_some("7"),
            |n| if n == "host" { Some("h:81") } else { None },
            &mut out,
        );
        assert_eq!(out, "http://h:81/pets/7?q=");
        let (o, p) = split_url(&out).unwrap();
        assert_eq!((o.host.as_str(), o.port, p), ("h", 81, "/pets/7?q="));
        let t = UriTemplate::parse("https://example.com/{proxy}").unwrap();
        let o = t.static_origin.unwrap();
        assert_eq!(
            (o.https, o.port, o.host_header.as_str()),
            (true, 443, "example.com")
        );
    }

    #[test]
    fn bad_uris() {
        assert!(UriTemplate::parse("ftp://x").is_err());
        assert!(UriTemplate::parse("http://x/{a").is_err());
        assert!(split_url("http://").is_err());
        assert!(split_url("http://h:99999/").is_err());
        assert!(split_url("http:///path").is_err());
    }
}
