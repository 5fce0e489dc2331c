//! OpenAPI (Swagger 2 / OpenAPI 3) with `x-amazon-apigateway-*` extensions → a compiled
//! [`Api`]. Every problem is collected with its JSON pointer, so one `tollgate validate`
//! run shows them all.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::error::{ConfigError, Problems, pointer_token};
use super::snapshot::{Api, MethodConf, Stage};
use crate::integration::{
    Integration, IntegrationResponse, IntegrationType, ParamLocation, ParamMapping, ParamSource,
    Passthrough, ResponseSource, TemplateEntry, UriTemplate,
};
use crate::route::{Method, RouterBuilder};

/// `timeoutInMillis` bounds and default (DG: limits): 50 ms to 29 s, default 29 s.
pub const MIN_TIMEOUT_MS: u64 = 50;
/// Upper bound of `timeoutInMillis`.
pub const MAX_TIMEOUT_MS: u64 = 29_000;

/// The HTTP methods an OpenAPI path item may hold, with AWS's ANY extension.
const OPERATIONS: [(&str, &str); 8] = [
    ("get", "GET"),
    ("put", "PUT"),
    ("post", "POST"),
    ("delete", "DELETE"),
    ("options", "OPTIONS"),
    ("head", "HEAD"),
    ("patch", "PATCH"),
    ("x-amazon-apigateway-any-method", "ANY"),
];

/// Compiles one OpenAPI document. `stages` are already built by the caller.
pub fn compile_api(
    file: &Path,
    doc: &Value,
    id: String,
    name: String,
    stages: Vec<Stage>,
    problems: &mut Problems,
) -> Option<Api> {
    let err = |loc: &str, msg: String| ConfigError::new(file, loc, msg);
    let Some(root) = doc.as_object() else {
        problems.push(err(
            "",
            "an OpenAPI document must be a JSON/YAML object".into(),
        ));
        return None;
    };
    if !root.contains_key("openapi") && !root.contains_key("swagger") {
        problems.push(
            err("", "this is not an OpenAPI document: it has neither `openapi` nor `swagger`".into())
                .hint("export the API from API Gateway as OpenAPI 3 or Swagger 2 (with API Gateway extensions)"),
        );
        return None;
    }
    let mut builder = RouterBuilder::new();
    let mut methods = Vec::new();
    let mut olocs = Vec::new();
    let api_key_schemes = api_key_schemes(root);
    let validators = super::validators::api_validators(file, root, problems);
    match root.get("paths") {
        Some(Value::Object(paths)) => {
            for (path, item) in paths {
                let ploc = format!("/paths/{}", pointer_token(path));
                let Some(item) = item.as_object() else {
                    problems.push(err(&ploc, "a path item must be an object".into()));
                    continue;
                };
                for (key, http_method) in OPERATIONS {
                    let Some(op) = item.get(key) else { continue };
                    let oloc = format!("{ploc}/{}", pointer_token(key));
                    let Some(route_method) = Method::from_config(http_method) else {
                        continue;
                    };
                    let Some(integration) = compile_operation(file, &oloc, op, problems) else {
                        continue;
                    };
                    let api_key_required = op
                        .get("security")
                        .and_then(Value::as_array)
                        .is_some_and(|reqs| {
                            reqs.iter()
                                .filter_map(Value::as_object)
                                .any(|r| r.keys().any(|k| api_key_schemes.contains(k)))
                        });
                    let index = methods.len() as u32;
                    if let Err(e) = builder.insert(path, route_method, index) {
                        problems.push(
                            err(&oloc, format!("cannot route {http_method} {path}: {e}"))
                                .hint("AWS resource paths use literal segments, `{name}` and a final `{name+}`"),
                        );
                        continue;
                    }
                    let cache_key = super::cache::key_spec(file, &oloc, op, path, problems);
                    let validator = op
                        .as_object()
                        .and_then(|op| validators.method(file, &oloc, root, item, op, problems));
                    methods.push(MethodConf {
                        resource_path: path.clone(),
                        http_method: http_method.to_string(),
                        api_key_required,
                        integration,
                        cache_key,
                        validator,
                    });
                    olocs.push(oloc);
                }
            }
        }
        Some(_) => problems.push(err("/paths", "`paths` must be an object".into())),
        None => problems.push(err("", "the document has no `paths`".into()).warning()),
    }
    let binary_media_types = strings(root.get("x-amazon-apigateway-binary-media-types"));
    // Backend origins per stage, resolved now so requests skip parsing them.
    for m in &mut methods {
        if let Some(uri) = &m.integration.uri {
            m.integration.stage_origins = stages
                .iter()
                .map(|st| uri.stage_origin(|n| st.variable(n)))
                .collect();
        }
    }
    let mut stages = stages;
    super::cache::resolve_policies(file, &mut stages, &methods, &olocs, problems);
    Some(Api {
        id,
        name,
        stages,
        router: builder.build(),
        methods,
        binary_media_types,
        limit_base: 0,
    })
}

/// The strings of a JSON array (other items skipped); empty when it is not one.
pub(super) fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Names of security schemes that are API keys (`x-api-key` header), in Swagger 2 or OAS 3.
fn api_key_schemes(root: &serde_json::Map<String, Value>) -> Vec<String> {
    let defs = root
        .get("securityDefinitions")
        .or_else(|| {
            root.get("components")
                .and_then(|c| c.get("securitySchemes"))
        })
        .and_then(Value::as_object);
    let Some(defs) = defs else { return Vec::new() };
    defs.iter()
        .filter(|(_, d)| {
            d.get("type").and_then(Value::as_str) == Some("apiKey")
                && d.get("x-amazon-apigateway-authtype").is_none()
                && d.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case("x-api-key"))
        })
        .map(|(k, _)| k.clone())
        .collect()
}

fn compile_operation(
    file: &Path,
    oloc: &str,
    op: &Value,
    problems: &mut Problems,
) -> Option<Integration> {
    let err = |loc: &str, msg: String| ConfigError::new(file, loc, msg);
    let Some(op) = op.as_object() else {
        problems.push(err(oloc, "an operation must be an object".into()));
        return None;
    };
    let iloc = format!("{oloc}/x-amazon-apigateway-integration");
    let Some(int) = op.get("x-amazon-apigateway-integration") else {
        problems.push(
            err(oloc, "the operation has no `x-amazon-apigateway-integration`; calls to it will fail with 500".into())
                .hint("export with API Gateway extensions, or add an integration (type mock, http, http_proxy)")
                .warning(),
        );
        return Some(Integration {
            kind: IntegrationType::Mock,
            http_method: None,
            uri: None,
            timeout: Duration::from_millis(MAX_TIMEOUT_MS),
            request_parameters: Vec::new(),
            request_templates: Vec::new(),
            passthrough: Passthrough::WhenNoMatch,
            responses: Vec::new(),
            default_response: None,
            illegal_header_mapping: false,
            stage_origins: Vec::new(),
            insecure_skip_verification: false,
            tls: None,
            lambda: None,
        });
    };
    let Some(int) = int.as_object() else {
        problems.push(err(
            &iloc,
            "`x-amazon-apigateway-integration` must be an object".into(),
        ));
        return None;
    };
    let kind = match int
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("http") => IntegrationType::Http,
        Some("http_proxy") => IntegrationType::HttpProxy,
        Some("mock") => IntegrationType::Mock,
        Some("aws") => IntegrationType::Aws,
        Some("aws_proxy") => IntegrationType::AwsProxy,
        Some(other) => {
            problems.push(
                err(
                    &format!("{iloc}/type"),
                    format!("unknown integration type `{other}`"),
                )
                .hint("use one of http, http_proxy, mock, aws, aws_proxy"),
            );
            return None;
        }
        None => {
            problems.push(
                err(&iloc, "the integration has no `type`".into())
                    .hint("add `type: http_proxy` (or http, mock, aws, aws_proxy)"),
            );
            return None;
        }
    };
    let mut ok = true;
    let http_method = match int.get("httpMethod").and_then(Value::as_str) {
        Some(m) if m.eq_ignore_ascii_case("ANY") => None,
        Some(m) => Some(m.to_ascii_uppercase()),
        None if matches!(kind, IntegrationType::Http | IntegrationType::HttpProxy) => {
            problems.push(
                err(&iloc, "an HTTP integration needs `httpMethod`".into())
                    .hint("AWS: `Enumeration value for HttpMethod must be non-empty`; use e.g. GET, POST or ANY"),
            );
            ok = false;
            None
        }
        None => None,
    };
    let uri = match (kind, int.get("uri")) {
        (IntegrationType::Http | IntegrationType::HttpProxy, Some(Value::String(u))) => {
            match UriTemplate::parse(u) {
                Ok(t) => Some(t),
                Err(msg) => {
                    problems.push(
                        err(&format!("{iloc}/uri"), format!("invalid HTTP endpoint `{u}`: {msg}"))
                            .hint("AWS: `Invalid HTTP endpoint specified for URI`; use http://host[:port]/path"),
                    );
                    ok = false;
                    None
                }
            }
        }
        (IntegrationType::Http | IntegrationType::HttpProxy, _) => {
            problems.push(
                err(&iloc, "an HTTP integration needs a `uri`".into())
                    .hint("add `uri: http://backend.example/path`"),
            );
            ok = false;
            None
        }
        (IntegrationType::Aws | IntegrationType::AwsProxy, _) => None,
        _ => None,
    };
    let lambda = match (kind, int.get("uri").and_then(Value::as_str)) {
        (IntegrationType::Aws | IntegrationType::AwsProxy, Some(u)) => {
            match crate::integration::lambda::FunctionRef::parse(u) {
                Ok(f) => Some(f),
                Err(msg) => {
                    // Other AWS service integrations load, but are not served yet.
                    problems.push(
                        err(&format!("{iloc}/uri"), format!("not a Lambda function URI: {msg}; calls will fail with 500"))
                            .hint("only Lambda integrations (arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{functionArn}/invocations) are served")
                            .warning(),
                    );
                    None
                }
            }
        }
        (IntegrationType::Aws | IntegrationType::AwsProxy, None) => {
            problems.push(
                err(&iloc, format!("an {} integration needs a `uri`", kind.as_str()))
                    .hint("add `uri: arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{functionArn}/invocations`"),
            );
            ok = false;
            None
        }
        _ => None,
    };
    let timeout_ms = match int.get("timeoutInMillis") {
        None => MAX_TIMEOUT_MS,
        Some(v) => match v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        {
            Some(ms) if (MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&ms) => ms,
            _ => {
                problems.push(
                    err(
                        &format!("{iloc}/timeoutInMillis"),
                        format!("timeoutInMillis {v} is out of range"),
                    )
                    .hint("use an integer between 50 and 29000"),
                );
                ok = false;
                MAX_TIMEOUT_MS
            }
        },
    };
    let passthrough = match int
        .get("passthroughBehavior")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("when_no_match") => Passthrough::WhenNoMatch,
        Some("when_no_templates") => Passthrough::WhenNoTemplates,
        Some("never") => Passthrough::Never,
        Some(other) => {
            problems.push(
                err(
                    &format!("{iloc}/passthroughBehavior"),
                    format!("unknown passthroughBehavior `{other}`"),
                )
                .hint("use when_no_match, when_no_templates or never"),
            );
            ok = false;
            Passthrough::WhenNoMatch
        }
    };
    let mut request_parameters = Vec::new();
    let mut illegal_header_mapping = false;
    if let Some(params) = int.get("requestParameters") {
        let ploc = format!("{iloc}/requestParameters");
        match params.as_object() {
            Some(map) => {
                for (target, source) in map {
                    let loc = format!("{ploc}/{}", pointer_token(target));
                    match parse_request_mapping(target, source) {
                        Ok(m) => {
                            if m.location == ParamLocation::Header
                                && is_illegal_mapped_header(kind, &m.name)
                            {
                                illegal_header_mapping = true;
                                problems.push(
                                    err(&loc, format!("mapping the `{}` header is refused by AWS: every call will fail with 500", m.name))
                                        .hint("remove this mapping")
                                        .warning(),
                                );
                            }
                            request_parameters.push(m)
                        }
                        Err(msg) => {
                            problems.push(err(&loc, msg).hint(
                                "targets are integration.request.{header|querystring|path}.NAME; sources are \
                                 method.request.{path|querystring|header|multivaluequerystring|multivalueheader}.NAME, \
                                 method.request.body, stageVariables.NAME, context.NAME or 'literal'",
                            ));
                            ok = false;
                        }
                    }
                }
            }
            None => {
                problems.push(err(&ploc, "`requestParameters` must be an object".into()));
                ok = false;
            }
        }
    }
    let insecure_skip_verification =
        tls_config(file, &iloc, int.get("tlsConfig"), problems, &mut ok);
    let request_templates = templates(
        file,
        &format!("{iloc}/requestTemplates"),
        int.get("requestTemplates"),
        problems,
        &mut ok,
    );
    let mut responses = Vec::new();
    let mut default_response = None;
    if let Some(resp) = int.get("responses") {
        let rloc = format!("{iloc}/responses");
        match resp.as_object() {
            Some(map) => {
                for (pattern, r) in map {
                    let loc = format!("{rloc}/{}", pointer_token(pattern));
                    let Some(ir) = compile_integration_response(file, &loc, pattern, r, problems)
                    else {
                        ok = false;
                        continue;
                    };
                    if ir.pattern.is_none() {
                        default_response = Some(ir);
                    } else {
                        responses.push(ir);
                    }
                }
            }
            None => {
                problems.push(err(&rloc, "`responses` must be an object".into()));
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    Some(Integration {
        kind,
        http_method,
        uri,
        timeout: Duration::from_millis(timeout_ms),
        request_parameters,
        request_templates,
        passthrough,
        responses,
        default_response,
        illegal_header_mapping,
        stage_origins: Vec::new(),
        insecure_skip_verification,
        tls: None,
        lambda,
    })
}

/// `tlsConfig` (API: TlsConfig): REST APIs know only `insecureSkipVerification`, which skips
/// the check of an `https://` backend's certificate. `serverNameToVerify` belongs to HTTP APIs'
/// private integrations and is ignored with a warning. Returns the skip flag.
fn tls_config(
    file: &Path,
    iloc: &str,
    value: Option<&Value>,
    problems: &mut Problems,
    ok: &mut bool,
) -> bool {
    let Some(value) = value else { return false };
    let loc = format!("{iloc}/tlsConfig");
    let Some(map) = value.as_object() else {
        problems.push(
            ConfigError::new(file, &loc, "`tlsConfig` must be an object")
                .hint("write `tlsConfig: { insecureSkipVerification: true }`"),
        );
        *ok = false;
        return false;
    };
    let mut skip = false;
    for (key, v) in map {
        let kloc = format!("{loc}/{}", pointer_token(key));
        match key.as_str() {
            "insecureSkipVerification" => match v {
                Value::Bool(b) => skip = *b,
                _ => {
                    problems.push(
                        ConfigError::new(
                            file,
                            &kloc,
                            format!("insecureSkipVerification must be true or false, not {v}"),
                        )
                        .hint("write `insecureSkipVerification: true`"),
                    );
                    *ok = false;
                }
            },
            _ => problems.push(
                ConfigError::new(
                    file,
                    &kloc,
                    format!("`tlsConfig.{key}` is not a REST API setting and is ignored"),
                )
                .hint("REST integrations support only `insecureSkipVerification`")
                .warning(),
            ),
        }
    }
    skip
}

/// Headers AWS lets you map but then fails every call with 500 (aws-behavior §3.9, AWS-validated).
fn is_illegal_mapped_header(kind: IntegrationType, name: &str) -> bool {
    const ALL: [&str; 4] = [
        "content-length",
        "transfer-encoding",
        "x-amzn-trace-id",
        "x-amzn-apigateway-api-id",
    ];
    const AWS: [&str; 5] = [
        "authorization",
        "connection",
        "expect",
        "proxy-authenticate",
        "te",
    ];
    let lower = name.to_ascii_lowercase();
    ALL.contains(&lower.as_str())
        || (matches!(kind, IntegrationType::Aws | IntegrationType::AwsProxy)
            && AWS.contains(&lower.as_str()))
}

fn templates(
    file: &Path,
    loc: &str,
    v: Option<&Value>,
    problems: &mut Problems,
    ok: &mut bool,
) -> Vec<TemplateEntry> {
    let Some(v) = v else { return Vec::new() };
    let Some(map) = v.as_object() else {
        problems.push(ConfigError::new(
            file,
            loc,
            "templates must be an object of content type → template text",
        ));
        *ok = false;
        return Vec::new();
    };
    let mut out = Vec::new();
    for (ct, t) in map {
        let tloc = format!("{loc}/{}", pointer_token(ct));
        let source = match t {
            Value::String(s) => s.as_str(),
            Value::Null => "",
            _ => {
                problems.push(ConfigError::new(file, &tloc, "a template must be a string"));
                *ok = false;
                continue;
            }
        };
        match crate::template::Template::compile(source) {
            Ok(template) => out.push(TemplateEntry {
                content_type: ct.to_ascii_lowercase(),
                template,
            }),
            Err(e) => {
                problems.push(
                    ConfigError::new(
                        file,
                        &tloc,
                        format!(
                            "the `{ct}` mapping template does not compile: line {}, column {}: {}",
                            e.line, e.column, e.message
                        ),
                    )
                    .hint(format!(
                        "fix the template (`tollgate render` shows the caret):\n{}",
                        e.with_caret()
                    )),
                );
                *ok = false;
            }
        }
    }
    out
}

fn compile_integration_response(
    file: &Path,
    loc: &str,
    key: &str,
    r: &Value,
    problems: &mut Problems,
) -> Option<IntegrationResponse> {
    let err = |l: &str, msg: String| ConfigError::new(file, l, msg);
    let Some(obj) = r.as_object() else {
        problems.push(err(loc, "an integration response must be an object".into()));
        return None;
    };
    let raw_status = obj.get("statusCode");
    let status = raw_status.and_then(|v| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    });
    let status = match status {
        Some(s) if (100..=599).contains(&s) => s as u16,
        _ => {
            let msg = match raw_status {
                Some(v) => format!("invalid statusCode {v}"),
                None => "the integration response has no statusCode".to_string(),
            };
            problems.push(
                err(&format!("{loc}/statusCode"), msg)
                    .hint("AWS: `Invalid Response status code specified`; use a status between 100 and 599, e.g. \"200\""),
            );
            return None;
        }
    };
    let pattern = if key == "default" || key.is_empty() {
        None
    } else {
        Some(key)
    };
    let pattern = match pattern {
        None => None,
        // Java's String.matches semantics: the whole value must match; `.` excludes newlines.
        Some(p) => match fancy_regex::Regex::new(&format!("^(?:{p})$")) {
            Ok(re) => Some(re),
            Err(e) => {
                // Positions are in the anchored `^(?:p)$`; report them in the pattern as written.
                let why = match e {
                    fancy_regex::Error::ParseError(at, kind) => {
                        format!("{kind} at position {}", at.saturating_sub(4).min(p.len()))
                    }
                    other => other.to_string(),
                };
                problems.push(
                    err(loc, format!("invalid selectionPattern `{p}`: {why}"))
                        .hint("use a Java regular expression"),
                );
                return None;
            }
        },
    };
    let mut parameters = Vec::new();
    if let Some(Value::Object(map)) = obj.get("responseParameters") {
        for (target, source) in map {
            let ploc = format!("{loc}/responseParameters/{}", pointer_token(target));
            let Some(name) = target.strip_prefix("method.response.header.") else {
                problems.push(
                    err(
                        &ploc,
                        format!("invalid response parameter target `{target}`"),
                    )
                    .hint("targets are method.response.header.NAME"),
                );
                return None;
            };
            let Some(src) = source.as_str() else {
                problems.push(err(
                    &ploc,
                    "a response parameter source must be a string".into(),
                ));
                return None;
            };
            match parse_response_source(src) {
                Some(s) => parameters.push((name.to_string(), s)),
                None => {
                    problems.push(err(&ploc, format!("invalid response parameter source `{src}`")).hint(
                        "sources are integration.response.header.NAME, integration.response.body[.JSONPath], \
                         stageVariables.NAME, context.NAME or 'literal'",
                    ));
                    return None;
                }
            }
        }
    }
    let mut ok = true;
    let templates = templates(
        file,
        &format!("{loc}/responseTemplates"),
        obj.get("responseTemplates"),
        problems,
        &mut ok,
    );
    if !ok {
        return None;
    }
    Some(IntegrationResponse {
        status,
        pattern,
        parameters,
        templates,
    })
}

/// `integration.request.header.X` = `method.request.querystring.Y` and friends.
fn parse_request_mapping(target: &str, source: &Value) -> Result<ParamMapping, String> {
    let (location, name) = if let Some(n) = target.strip_prefix("integration.request.header.") {
        (ParamLocation::Header, n)
    } else if let Some(n) = target.strip_prefix("integration.request.querystring.") {
        (ParamLocation::QueryString, n)
    } else if let Some(n) = target.strip_prefix("integration.request.path.") {
        (ParamLocation::Path, n)
    } else {
        return Err(format!("invalid mapping target `{target}`"));
    };
    if !valid_param_name(name) {
        return Err(format!(
            "invalid parameter name `{name}` (AWS allows [a-zA-Z0-9._$-])"
        ));
    }
    let Some(src) = source.as_str() else {
        return Err("a mapping source must be a string".into());
    };
    let source =
        parse_request_source(src).ok_or_else(|| format!("invalid mapping source `{src}`"))?;
    Ok(ParamMapping {
        location,
        name: name.to_string(),
        source,
    })
}

fn valid_param_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'$' | b'-'))
}

fn literal(src: &str) -> Option<String> {
    let s = src.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(s.to_string())
}

fn parse_request_source(src: &str) -> Option<ParamSource> {
    let src = src.trim();
    if let Some(l) = literal(src) {
        return Some(ParamSource::Literal(l));
    }
    let named = |prefix: &str| {
        src.strip_prefix(prefix)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
    };
    if let Some(n) = named("method.request.path.") {
        Some(ParamSource::Path(n))
    } else if let Some(n) = named("method.request.querystring.") {
        Some(ParamSource::QueryString(n))
    } else if let Some(n) = named("method.request.multivaluequerystring.") {
        Some(ParamSource::MultiQueryString(n))
    } else if let Some(n) = named("method.request.header.") {
        Some(ParamSource::Header(n))
    } else if let Some(n) = named("method.request.multivalueheader.") {
        Some(ParamSource::MultiHeader(n))
    } else if src == "method.request.body" {
        Some(ParamSource::Body)
    } else if let Some(n) = named("method.request.body.") {
        Some(ParamSource::BodyPath(n))
    } else if let Some(n) = named("stageVariables.") {
        Some(ParamSource::StageVariable(n))
    } else {
        named("context.").map(ParamSource::Context)
    }
}

fn parse_response_source(src: &str) -> Option<ResponseSource> {
    let src = src.trim();
    if let Some(l) = literal(src) {
        return Some(ResponseSource::Literal(l));
    }
    let named = |prefix: &str| {
        src.strip_prefix(prefix)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
    };
    if let Some(n) = named("integration.response.header.") {
        Some(ResponseSource::Header(n))
    } else if let Some(n) = named("integration.response.multivalueheader.") {
        Some(ResponseSource::MultiHeader(n))
    } else if src == "integration.response.body" {
        Some(ResponseSource::Body)
    } else if let Some(n) = named("integration.response.body.") {
        Some(ResponseSource::BodyPath(n))
    } else if let Some(n) = named("stageVariables.") {
        Some(ResponseSource::StageVariable(n))
    } else {
        named("context.").map(ResponseSource::Context)
    }
}
