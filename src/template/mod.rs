//! Mapping templates: API Gateway's Velocity Template Language, compiled to bytecode.
//!
//! API Gateway runs Apache Velocity 1.7 with AWS variables (`$input`, `$util`,
//! `$context`, `$stageVariables`) and AWS rendering rules (null renders empty, maps as
//! `{k=v}`, JSON lists as compact JSON). Templates are compiled once at config load into
//! an immutable, `Send + Sync` [`Template`] shared by every core; rendering is a small VM
//! that writes into a caller-provided, reused `Vec<u8>`.
//!
//! Stages, one file each (minijinja's shape): [`lexer`] → [`parser`] → [`ast`] →
//! [`compile`] → [`bytecode`] → [`vm`], with [`value`] (runtime values), [`builtins`]
//! (AWS variables and Java methods), [`json_path`], [`error`] and [`scratch`] (per-thread
//! spare buffers).
//!
//! # How the gateway calls it
//!
//! ```ignore
//! // config load, once:
//! let t = Template::compile(source)?;                  // Result<Template, TemplateError>
//! // per request, on the core that owns the connection:
//! let req = RequestData { body, path_params, query, headers, stage_variables, context, .. };
//! let mut state = RenderState::new();                  // carries $context between templates
//! let mut out = Vec::new();                            // reused buffer
//! request_template.render(&req, None, &mut state, &mut out)?;
//! let ov = state.overrides();                          // requestOverride / responseOverride
//! // MOCK: status from the rendered request template
//! let status = mock_status_code(&out);
//! // ... integration ...
//! let resp = IntegrationResponse { status: 200, headers: &[], body: &backend_body };
//! out.clear();
//! response_template.render(&req, Some(&resp), &mut state, &mut out)?;
//! let ov = state.overrides();                          // responseOverride.status / header
//! ```
//!
//! `RenderState` holds `Rc` values and is therefore not `Send`: it lives on the core that
//! handles the request, which thread-per-core guarantees.
//!
//! # Limits (bounded by construction)
//!
//! [`MAX_TEMPLATE_BYTES`] (AWS: 300 KB), [`parser::MAX_DEPTH`] nesting,
//! [`MAX_FOREACH_ITERATIONS`] per `#foreach` (AWS: 1000; further items are skipped, as
//! Velocity's `directive.foreach.maxloops` does), [`MAX_FUEL`] instructions per render and
//! [`MAX_OUTPUT_BYTES`] of output (or of any string built while rendering).

pub mod ast;
pub mod builtins;
pub mod bytecode;
pub mod compile;
pub mod copy;
pub mod error;
pub mod json_doc;
pub mod json_path;
pub mod lexer;
pub mod parser;
pub mod playground;
pub mod scratch;
pub mod value;
pub mod vm;

pub use error::{ErrorKind, TemplateError};

use value::{MapKind, Value};

/// API Gateway's mapping template size limit (DG: limits, "Mapping template size 300 KB").
pub const MAX_TEMPLATE_BYTES: usize = 300 * 1024;
/// API Gateway's `#foreach` iteration limit (DG: limits); iterations past it are skipped.
pub const MAX_FOREACH_ITERATIONS: u32 = 1000;
/// Instructions one render may execute: enough for 1000 iterations of a 1000-instruction
/// loop body, and hostile templates (nested loops) still end within about a second.
pub const MAX_FUEL: u64 = 5_000_000;
/// Largest rendered output; API Gateway's payload limit is 10 MB.
pub const MAX_OUTPUT_BYTES: usize = 10 * 1024 * 1024;

/// A compiled mapping template. Immutable; share it between cores.
#[derive(Debug, Clone)]
pub struct Template {
    source: Box<str>,
    program: bytecode::Program,
}

impl Template {
    /// Parses and compiles `source`. Fails with a located [`TemplateError`].
    pub fn compile(source: &str) -> Result<Template, TemplateError> {
        if source.len() > MAX_TEMPLATE_BYTES {
            return Err(TemplateError::new(
                ErrorKind::TooLarge,
                format!(
                    "template is {} bytes; the limit is {MAX_TEMPLATE_BYTES}",
                    source.len()
                ),
            ));
        }
        let parsed = parser::parse(source)?;
        let program = compile::compile(&parsed.nodes, &parsed.macros, source)?;
        Ok(Template {
            source: source.into(),
            program,
        })
    }

    /// The template source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders into `out` (appending). `response` is `Some` for an integration-response
    /// template: `$input.body/json/path` then read the integration response body while
    /// `$input.params()` still reads the method request. `state` carries `$context`
    /// (and its overrides) from the request template to the response template.
    pub fn render(
        &self,
        request: &RequestData<'_>,
        response: Option<&IntegrationResponse<'_>>,
        state: &mut RenderState,
        out: &mut Vec<u8>,
    ) -> Result<(), TemplateError> {
        vm::run(&self.program, &self.source, request, response, state, out)
    }
}

/// The method request as the gateway has it, borrowed for the duration of a render.
/// Lists are ordered; names may repeat (multi-valued query strings and headers).
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestData<'a> {
    /// The method request body (empty when there is none).
    pub body: &'a [u8],
    pub path_params: &'a [(&'a str, &'a str)],
    /// Query parameters, already decoded.
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
    pub stage_variables: &'a [(&'a str, &'a str)],
    pub context: ContextValues<'a>,
}

/// The integration response a response template maps.
#[derive(Debug, Clone, Copy, Default)]
pub struct IntegrationResponse<'a> {
    pub status: u16,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// `$context` values the gateway supplies (aws-behavior.md §3.6). `None` renders empty.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContextValues<'a> {
    pub account_id: Option<&'a str>,
    pub api_id: Option<&'a str>,
    pub deployment_id: Option<&'a str>,
    pub domain_name: Option<&'a str>,
    pub domain_prefix: Option<&'a str>,
    pub extended_request_id: Option<&'a str>,
    pub http_method: Option<&'a str>,
    /// `/{stage}/{path}` as received.
    pub path: Option<&'a str>,
    pub protocol: Option<&'a str>,
    pub request_id: Option<&'a str>,
    /// CLF format, `04/Mar/2020:19:15:17 +0000`.
    pub request_time: Option<&'a str>,
    /// Epoch milliseconds.
    pub request_time_epoch: Option<i64>,
    pub resource_id: Option<&'a str>,
    pub resource_path: Option<&'a str>,
    pub stage: Option<&'a str>,
    /// `"true"`/`"false"` when the stage has canary settings; absent otherwise.
    pub is_canary_request: Option<&'a str>,
    pub identity: Identity<'a>,
    /// `$context.authorizer.*` (principalId, claims flattened as `claims.x` are not
    /// modelled; pass what the authorizer returned). Empty = no authorizer.
    pub authorizer: &'a [(&'a str, &'a str)],
}

/// `$context.identity.*`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity<'a> {
    pub account_id: Option<&'a str>,
    pub api_key: Option<&'a str>,
    pub api_key_id: Option<&'a str>,
    pub access_key: Option<&'a str>,
    pub caller: Option<&'a str>,
    pub cognito_authentication_provider: Option<&'a str>,
    pub cognito_authentication_type: Option<&'a str>,
    pub cognito_identity_id: Option<&'a str>,
    pub cognito_identity_pool_id: Option<&'a str>,
    pub principal_org_id: Option<&'a str>,
    pub source_ip: Option<&'a str>,
    pub user: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub user_arn: Option<&'a str>,
}

/// Per-request state shared by the request and response templates of one request:
/// the `$context` object with every mutation (`requestOverride`, `responseOverride`,
/// keys added with `#set($context.x = ...)`).
#[derive(Debug, Default)]
pub struct RenderState {
    pub(crate) context: Option<Value>,
    /// `$context.requestOverride` and `$context.responseOverride` while the map itself has
    /// not been built (they move into it when it is): setting an override is common and
    /// needs only these two small objects, not the 40-entry map.
    pub(crate) request_override: Option<Value>,
    pub(crate) response_override: Option<Value>,
    /// `$context.responseOverride.status` set while neither the `$context` map nor the
    /// override object was built (`vm`'s `SetResponseStatus`): setting the status is the
    /// common use of the object and needs neither. Moved into the object when it is built.
    pub(crate) pending_status: Option<Value>,
}

/// What the templates asked the gateway to change (aws-behavior.md §3.8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `$context.requestOverride.header.<name>`; a list value is a multi-value header.
    pub request_headers: Vec<(String, Vec<String>)>,
    pub request_path: Vec<(String, String)>,
    pub request_querystring: Vec<(String, String)>,
    /// `$context.responseOverride.status`, when it is an integer in 100..=599.
    pub response_status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
}

impl RenderState {
    pub fn new() -> Self {
        RenderState::default()
    }

    /// `$context.requestOverride` / `$context.responseOverride` (`name`) when the map has
    /// not been built: created on first use, then the same shared object.
    pub(crate) fn override_object(&mut self, name: &str) -> Option<Value> {
        if self.context.is_some() {
            return None;
        }
        Some(match name {
            "requestOverride" => self
                .request_override
                .get_or_insert_with(new_request_override)
                .clone(),
            "responseOverride" => {
                let pending = self.pending_status.take();
                self.response_override
                    .get_or_insert_with(|| new_response_override(pending))
                    .clone()
            }
            _ => return None,
        })
    }

    /// The override object to put in the `$context` map being built: the one built so far,
    /// or a new one if a status is pending.
    pub(crate) fn take_response_override(&mut self) -> Option<Value> {
        let pending = self.pending_status.take();
        self.response_override
            .take()
            .or_else(|| pending.map(|s| new_response_override(Some(s))))
    }

    /// The overrides set so far. Cheap when no template touched `$context`.
    pub fn overrides(&self) -> Overrides {
        let mut o = Overrides::default();
        let (req, resp) = match &self.context {
            Some(Value::Map(ctx)) => {
                let ctx = ctx.entries.borrow();
                (
                    ctx.get("requestOverride").cloned(),
                    ctx.get("responseOverride").cloned(),
                )
            }
            Some(_) => return o,
            None => (
                self.request_override.clone(),
                self.response_override.clone(),
            ),
        };
        let (req, resp) = (req.as_ref(), resp.as_ref());
        // Values may be JSON handles (`#set($context.x = $input.path(...))`): normalise.
        let sub = |parent: Option<&Value>, key: &str| -> Option<Value> {
            match parent.map(Value::norm).as_deref() {
                Some(Value::Map(m)) => m.entries.borrow().get(key).map(|v| v.norm().into_owned()),
                _ => None,
            }
        };
        let pairs = |v: Option<Value>| -> Vec<(String, Value)> {
            match v {
                Some(Value::Map(m)) => m
                    .entries
                    .borrow()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.norm().into_owned()))
                    .collect(),
                _ => Vec::new(),
            }
        };
        for (k, v) in pairs(sub(req, "header")) {
            let values = match &v {
                Value::List(l) => l
                    .items
                    .borrow()
                    .iter()
                    .map(|x| x.to_display().to_string())
                    .collect(),
                Value::Null => continue,
                other => vec![other.to_display().to_string()],
            };
            o.request_headers.push((k, values));
        }
        for (k, v) in pairs(sub(req, "path")) {
            if !v.is_null() {
                o.request_path.push((k, v.to_display().to_string()));
            }
        }
        for (k, v) in pairs(sub(req, "querystring")) {
            if !v.is_null() {
                o.request_querystring.push((k, v.to_display().to_string()));
            }
        }
        for (k, v) in pairs(sub(resp, "header")) {
            if !v.is_null() {
                o.response_headers.push((k, v.to_display().to_string()));
            }
        }
        // Status must be an integer in 100..=599, otherwise AWS ignores it (LS-impl note).
        // A pending status is only ever set while there is no object to hold it.
        let status = match &self.pending_status {
            Some(v) => Some(v.norm().into_owned()),
            None => sub(resp, "status"),
        };
        o.response_status = status
            .and_then(|v| v.as_i64())
            .and_then(|s| u16::try_from(s).ok())
            .filter(|s| (100..=599).contains(s));
        o
    }
}

/// The `statusCode` a MOCK integration's rendered request template selects
/// (`{"statusCode": 200}`, also the non-JSON `{statusCode: 200}` and `"200"`).
/// `None` when there is none (DG: how-to-mock-integration).
pub fn mock_status_code(rendered: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(rendered).ok()?;
    let at = text.find("statusCode")?;
    let rest = text[at + "statusCode".len()..]
        .trim_start_matches(['"', '\''])
        .trim_start();
    let rest = rest
        .strip_prefix(':')?
        .trim_start()
        .trim_start_matches(['"', '\'']);
    let digits: &str = &rest[..rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len())];
    digits.parse().ok()
}

/// The string-valued `$context` fields read straight from the request (see
/// [`context_field`]); templates compile `$context.<one of these>` to an index.
pub(crate) const CONTEXT_FIELDS: [&str; 15] = [
    "resourceId",
    "resourcePath",
    "httpMethod",
    "extendedRequestId",
    "requestTime",
    "path",
    "accountId",
    "protocol",
    "stage",
    "domainPrefix",
    "requestId",
    "domainName",
    "deploymentId",
    "apiId",
    "isCanaryRequest",
];

/// The `$context.identity` fields read straight from the request.
pub(crate) const IDENTITY_FIELDS: [&str; 14] = [
    "cognitoIdentityPoolId",
    "accountId",
    "cognitoIdentityId",
    "caller",
    "sourceIp",
    "principalOrgId",
    "accessKey",
    "cognitoAuthenticationType",
    "cognitoAuthenticationProvider",
    "userArn",
    "userAgent",
    "user",
    "apiKey",
    "apiKeyId",
];

/// Field `i` of [`CONTEXT_FIELDS`].
pub(crate) fn context_field_at<'a>(c: &ContextValues<'a>, i: u32) -> Option<&'a str> {
    match i {
        0 => c.resource_id,
        1 => c.resource_path,
        2 => c.http_method,
        3 => c.extended_request_id,
        4 => c.request_time,
        5 => c.path,
        6 => c.account_id,
        7 => c.protocol,
        8 => c.stage,
        9 => c.domain_prefix,
        10 => c.request_id,
        11 => c.domain_name,
        12 => c.deployment_id,
        13 => c.api_id,
        14 => c.is_canary_request,
        _ => None,
    }
}

/// Field `i` of [`IDENTITY_FIELDS`].
pub(crate) fn identity_field_at<'a>(id: &Identity<'a>, i: u32) -> Option<&'a str> {
    match i {
        0 => id.cognito_identity_pool_id,
        1 => id.account_id,
        2 => id.cognito_identity_id,
        3 => id.caller,
        4 => id.source_ip,
        5 => id.principal_org_id,
        6 => id.access_key,
        7 => id.cognito_authentication_type,
        8 => id.cognito_authentication_provider,
        9 => id.user_arn,
        10 => id.user_agent,
        11 => id.user,
        12 => id.api_key,
        13 => id.api_key_id,
        _ => None,
    }
}

/// A string-valued `$context` field read straight from the request, `Err` when `name`
/// is not one (the map must be built). Must agree with [`build_context`].
pub(crate) fn context_field<'a>(c: &ContextValues<'a>, name: &str) -> Result<Option<&'a str>, ()> {
    let i = CONTEXT_FIELDS.iter().position(|f| *f == name).ok_or(())?;
    Ok(context_field_at(c, i as u32))
}

/// A `$context.identity` field read straight from the request (see [`context_field`]).
pub(crate) fn identity_field<'a>(i: &Identity<'a>, name: &str) -> Result<Option<&'a str>, ()> {
    let at = IDENTITY_FIELDS.iter().position(|f| *f == name).ok_or(())?;
    Ok(identity_field_at(i, at as u32))
}

/// A fresh `$context.requestOverride`: `path`, `header` and `querystring` objects.
fn new_request_override() -> Value {
    let mut ro = value::Entries::default();
    for k in ["path", "header", "querystring"] {
        ro.insert(k.into(), Value::empty_map(MapKind::Opaque));
    }
    Value::new_map(ro, MapKind::Opaque)
}

/// A fresh `$context.responseOverride`: only `header` until a status is set (`status`,
/// one set before the object was built).
fn new_response_override(status: Option<Value>) -> Value {
    let mut rs = value::Entries::default();
    rs.insert("header".into(), Value::empty_map(MapKind::Opaque));
    if let Some(s) = status {
        rs.insert("status".into(), s);
    }
    Value::new_map(rs, MapKind::Opaque)
}

/// Builds the `$context` map for a request (aws-behavior.md §3.6 and conformance case
/// 051: 18 keys for a no-auth REST call; `identity`, `requestOverride` and
/// `responseOverride` are objects that render as ""; `responseOverride` has only
/// `header` until a status is set; `authorizer` is an empty map that is not a key).
pub(crate) fn build_context(
    c: &ContextValues<'_>,
    request_override: Option<Value>,
    response_override: Option<Value>,
) -> Value {
    use value::Entries;
    let s = |v: Option<&str>| v.map_or(Value::Null, Value::str);
    let mut e = Entries::default();
    let mut put = |k: &str, v: Value| {
        e.insert(k.into(), v);
    };
    put("resourceId", s(c.resource_id));
    put("resourcePath", s(c.resource_path));
    put("httpMethod", s(c.http_method));
    put("extendedRequestId", s(c.extended_request_id));
    put("requestTime", s(c.request_time));
    put("path", s(c.path));
    put("accountId", s(c.account_id));
    put("protocol", s(c.protocol));
    put(
        "requestOverride",
        request_override.unwrap_or_else(new_request_override),
    );
    put("stage", s(c.stage));
    put("domainPrefix", s(c.domain_prefix));
    put(
        "requestTimeEpoch",
        c.request_time_epoch.map_or(Value::Null, Value::Int),
    );
    put("requestId", s(c.request_id));
    let i = &c.identity;
    let mut id = Entries::default();
    for (k, v) in [
        ("cognitoIdentityPoolId", i.cognito_identity_pool_id),
        ("accountId", i.account_id),
        ("cognitoIdentityId", i.cognito_identity_id),
        ("caller", i.caller),
        ("sourceIp", i.source_ip),
        ("principalOrgId", i.principal_org_id),
        ("accessKey", i.access_key),
        ("cognitoAuthenticationType", i.cognito_authentication_type),
        (
            "cognitoAuthenticationProvider",
            i.cognito_authentication_provider,
        ),
        ("userArn", i.user_arn),
        ("userAgent", i.user_agent),
        ("user", i.user),
    ] {
        id.insert(k.into(), s(v));
    }
    // apiKey/apiKeyId appear only for API-key methods.
    if let Some(k) = i.api_key {
        id.insert("apiKey".into(), Value::str(k));
    }
    if let Some(k) = i.api_key_id {
        id.insert("apiKeyId".into(), Value::str(k));
    }
    put("identity", Value::new_map(id, MapKind::Opaque));
    put("domainName", s(c.domain_name));
    put("deploymentId", s(c.deployment_id));
    put(
        "responseOverride",
        response_override.unwrap_or_else(|| new_response_override(None)),
    );
    put("apiId", s(c.api_id));
    if let Some(v) = c.is_canary_request {
        put("isCanaryRequest", Value::str(v));
    }
    if !c.authorizer.is_empty() {
        let mut a = Entries::default();
        for (k, v) in c.authorizer {
            a.insert((*k).into(), Value::str(v));
        }
        put("authorizer", Value::new_map(a, MapKind::Plain));
    }
    Value::new_map(e, MapKind::Opaque)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Renders `src` with an empty request (also the `vm` tests' helper).
    pub(super) fn render(src: &str) -> Result<String, TemplateError> {
        let t = Template::compile(src)?;
        let mut out = Vec::new();
        t.render(
            &RequestData::default(),
            None,
            &mut RenderState::new(),
            &mut out,
        )?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn a_render_starts_with_no_variable_of_the_one_before() {
        // Each render of the thread works in the same slots; whatever one left set (its
        // variables, `$input` replaced, an error halfway) the next sees nothing of it.
        assert_eq!(
            render("#set($a = 1)#set($b = [1])#set($c = {})#set($input = 5)$a$b$c$input").unwrap(),
            "1[1]{}5"
        );
        assert_eq!(render("[$!a][$!b][$!c][$!d]").unwrap(), "[][][][]");
        assert!(render("#set($a = 2)#set($b = 'x')#set($r = [0..1000000])").is_err());
        assert_eq!(render("[$!a][$!b]").unwrap(), "[][]");
        assert_eq!(render("$input.path('$')").unwrap(), "{}");
    }

    #[test]
    fn velocity_whitespace_rules() {
        // Expected strings are velocity-1.7.jar's output for the same templates.
        assert_eq!(render("a\n  #set($x = 1)  \nb$x").unwrap(), "a\n  b1");
        assert_eq!(
            render("  #if(true)\n  a\n  #else  \n  b\n  #end\nz").unwrap(),
            "    a\n  z"
        );
        assert_eq!(
            render("#foreach($i in [1..2])\n  $i\n#end\n").unwrap(),
            "  1\n  2\n"
        );
        assert_eq!(
            render("## c\nx #* c *# y\n #* c *#\nz").unwrap(),
            "x  y\n \nz"
        );
        assert_eq!(render("#set($x=1)$x  #set($a=1)\nq").unwrap(), "1q");
        assert_eq!(
            render("#macro(m $a)\n[$a]\n#end\n#m(1)\nq\n#m(2) r").unwrap(),
            "[1]\nq\n[2]\n r"
        );
    }

    #[test]
    fn velocity_semantics() {
        assert_eq!(
            render("#set($x=7/2)$x #set($x=7.0/2)$x #set($x=1/0)$x").unwrap(),
            "33.53.5"
        );
        assert_eq!(
            render("#foreach($i in [1..5])#if($i == 3)#break#end$i#end").unwrap(),
            "12"
        );
        assert_eq!(
            render("#set($x = \"o\")#foreach($x in [\"a\",\"b\"])$x$velocityCount #end$x").unwrap(),
            "a1 b2 o"
        );
        assert_eq!(
            render("#if(1)a#end#if($u == \"\")b#end#if(!$u)c#end").unwrap(),
            "bc"
        );
        assert_eq!(
            // The `$a` after an escaped `#set` is an (undefined) reference: empty on AWS.
            render("\\$x \\#set($a=1) #set($z=3)\\$z \\\\$z").unwrap(),
            "\\$x #set(=1) $z \\3"
        );
        assert_eq!(render("a#stop b").unwrap(), "a");
        assert_eq!(
            render("#set($s=\"a-b-c\")$s.replaceAll(\"(\\w)-\", \"$1+\") $s.split(\"-\").size()")
                .unwrap(),
            "a+b+c 3"
        );
    }

    #[test]
    fn foreach_properties_read_the_loop_or_whatever_foreach_holds() {
        assert_eq!(
            render("#foreach($i in [7,8,9])$foreach.index$foreach.count$foreach.first$foreach.last$foreach.hasNext $velocityCount;#end").unwrap(),
            "01truefalsetrue 1;12falsefalsetrue 2;23falsetruefalse 3;"
        );
        // As conditions (`#if` tests the value's truth without a boolean first; an integer,
        // even 0, is true in Velocity).
        assert_eq!(
            render("#foreach($i in [1,2,3])$i#if($foreach.hasNext),#end#if(!$foreach.last && $foreach.first)!#end#if($foreach.index)?#end#end").unwrap(),
            "1,!?2,?3?"
        );
        // Outside a loop `$foreach` is undefined; set to a map, its keys are read by name.
        assert_eq!(render("[$foreach.index]").unwrap(), "[]");
        assert_eq!(
            render(
                "#set($foreach = {\"index\": \"x\", \"hasNext\": 5})$foreach.index $foreach.hasNext"
            )
            .unwrap(),
            "x 5"
        );
        // A bare `#if($foreach.<prop>)` is one instruction; it reads a map by name too.
        assert_eq!(
            render("#set($foreach = {\"hasNext\": false, \"first\": 1})#if($foreach.hasNext)a#elseif($foreach.first)b#end#if($foreach.last)c#else d#end").unwrap(),
            "b d"
        );
        assert_eq!(
            render("#foreach($a in [1,2])#foreach($b in [3])#end#if($foreach.hasNext)$a,#end#end#if($foreach.hasNext)!#end").unwrap(),
            "1,"
        );
    }

    #[test]
    fn text_references_and_loop_commas_compile_to_one_instruction_each() {
        use bytecode::Instr;
        let code = |src: &str| Template::compile(src).unwrap().program.code;
        let count = |code: &[Instr], f: fn(&Instr) -> bool| code.iter().filter(|i| f(i)).count();
        // The AWS loop idiom: text, a printed reference, text, then the comma.
        let src = "#set($r = {\"l\": [{\"id\": 1}, {\"id\": 2}]})#foreach($e in $r.l)\"$e.id\"#if($foreach.hasNext),#end#end";
        let c = code(src);
        assert_eq!(
            count(&c, |i| matches!(i, Instr::TextPath { emit: true, .. })),
            1
        );
        assert_eq!(count(&c, |i| matches!(i, Instr::Emit)), 0);
        assert_eq!(count(&c, |i| matches!(i, Instr::LoopPropText { .. })), 1);
        assert_eq!(count(&c, |i| matches!(i, Instr::UnlessLoopProp { .. })), 0);
        // The only jump left is the loop's way back.
        assert_eq!(count(&c, |i| matches!(i, Instr::Jump(_))), 1);
        assert_eq!(render(src).unwrap(), "\"1\",\"2\"");
        // With `#else`, or more than one piece of text, the test stays a jump.
        for (src, out) in [
            (
                "#foreach($i in [1,2])$i#if($foreach.hasNext),#else.#end#end",
                "1,2.",
            ),
            (
                "#foreach($i in [1,2])$i#if($foreach.hasNext),$i#end#end",
                "1,12",
            ),
        ] {
            let c = code(src);
            assert_eq!(
                count(&c, |i| matches!(i, Instr::LoopPropText { .. })),
                0,
                "{src}"
            );
            assert_eq!(render(src).unwrap(), out, "{src}");
        }
        // A reference kept as a value (here an argument) is not printed by its `TextPath`.
        let src = "#set($m = {\"a\": \"x\"})[$m.a.length()]";
        assert_eq!(
            count(&code(src), |i| matches!(
                i,
                Instr::TextPath { emit: true, .. }
            )),
            0
        );
        assert_eq!(render(src).unwrap(), "[1]");
    }

    #[test]
    fn text_and_reference_fused_only_where_nothing_jumps_between_them() {
        // A jump to the reference (the end of an `#if` whose `#else` ends in text) must not
        // also print that text.
        let m = "#set($m = {\"a\": {\"b\": 1}})";
        for (src, want) in [
            ("x$m.a.b", "x1"),
            ("#if(true)a#{else}b#end$m.a.b", "a1"),
            ("#if(false)a#{else}b#end$m.a.b", "b1"),
            ("#if(false)a#end$m.a.b", "1"),
            ("#foreach($i in [1,2])z$m.a.b#end", "z1z1"),
            (
                "#foreach($i in [1,2])#if($foreach.hasNext)y#end$m.a.b#end",
                "y11",
            ),
            ("#macro(p $v)[$v]#end#p($m.a.b)t$m.a.b", "[1]t1"),
        ] {
            assert_eq!(render(&format!("{m}{src}")).unwrap(), want, "{src}");
        }
    }

    #[test]
    fn text_of_every_length_is_copied_exactly() {
        // Short spans are copied as one fixed-size block from the padded source; only their
        // own bytes may be kept, at the end of the source too, and inside string captures.
        for n in [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 200] {
            let t: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            assert_eq!(render(&format!("{t}${{x}}{t}")).unwrap(), format!("{t}{t}"));
            assert_eq!(
                render(&format!("#set($s = \"{t}${{x}}{t}\")[$s]")).unwrap(),
                format!("[{t}{t}]")
            );
        }
    }

    fn render_body(src: &str, body: &str) -> String {
        let t = Template::compile(src).unwrap();
        let mut out = Vec::new();
        let req = RequestData {
            body: body.as_bytes(),
            ..RequestData::default()
        };
        t.render(&req, None, &mut RenderState::new(), &mut out)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn references_to_members_of_one_object_run_as_one_instruction() {
        use bytecode::Instr;
        let runs = |src: &str| {
            let code = Template::compile(src).unwrap().program.code;
            code.iter()
                .filter_map(|i| match i {
                    Instr::PathRun { count, .. } => Some(*count),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let set = "#set($r = $input.path('$'))";
        // Chains that differ only in their last name, one after another, with text
        // between them; a chain of another prefix (or slot) starts another run.
        assert_eq!(
            runs(&format!(
                "{set}\"$r.a.b.x\", \"$r.a.b.y\", $r.a.b.z|$r.a.c.x $r.a.c.y $r.a.b.x"
            )),
            [3, 2]
        );
        // One-name references make a run from four on.
        assert_eq!(
            runs("#foreach($e in $input.path('$'))[$e.a $e.b $e.c]#end"),
            Vec::<u32>::new()
        );
        assert_eq!(
            runs("#foreach($e in $input.path('$'))[$e.a $e.b $e.c $e.d]#end"),
            [4]
        );
        // A chain ending in an index is not part of a run.
        assert_eq!(runs(&format!("{set}[$r.a.x $r.a.y $r.a[0]]")), [2]);
    }

    #[test]
    fn a_run_prints_what_each_reference_prints_alone() {
        let body = r#"{"a": {"b": {"x": "1", "y": 2.50, "z": {"k": 1}, "n": null, "e": "q\"r",
            "l": [1, 2], "t": true}}, "s": "str",
            "l": [{"id": "p", "v": true, "w": -0}, {"id": "q"}, 7]}"#;
        let set = "#set($r = $input.path('$'))";
        // Every member kind, a missing member, a missing object, a string where the
        // object should be: each as the same reference renders on its own.
        for refs in [
            [
                "$r.a.b.x",
                "$r.a.b.y",
                "$r.a.b.z",
                "$r.a.b.n",
                "$r.a.b.e",
                "$r.a.b.none",
                "$r.a.b.l",
                "$r.a.b.t",
            ],
            [
                "$r.a.none.x",
                "$r.a.none.y",
                "$r.a.none.z",
                "$r.a.none.x",
                "$r.a.none.n",
                "$r.a.none.e",
                "$r.a.none.y",
                "$r.a.none.t",
            ],
            [
                "$r.s.x", "$r.s.y", "$r.s.z", "$r.s.x", "$r.s.n", "$r.s.e", "$r.s.y", "$r.s.t",
            ],
        ] {
            let alone: Vec<String> = refs
                .iter()
                .map(|r| render_body(&format!("{set}{r}"), body))
                .collect();
            let together = render_body(&format!("{set}{}", refs.join("|")), body);
            assert_eq!(together, alone.join("|"), "{refs:?}");
        }
        assert_eq!(
            render_body(
                &format!("{set}$r.a.b.x|$r.a.b.y|$r.a.b.z|$r.a.b.e|$r.a.b.l|$r.a.b.n|"),
                body
            ),
            "1|2.5|{k=1}|q\"r|[1,2]||"
        );
        // Items of a list, one lacking members, then one that is not an object; as the
        // same references render apart (an empty `#if` between each keeps them apart).
        let run = "#foreach($e in $input.path('$.l'))[$e.id,$e.v,$e.w,$e.id]#end";
        let apart = run.replace(",$", ",#if(true)#end$");
        assert_eq!(render_body(run, body), render_body(&apart, body));
        assert_eq!(render_body(run, body), "[p,true,-0.0,p][q,,,q][,,,]");
        // A document changed by a `put` before the run: the run reads the change.
        assert_eq!(
            render_body(
                &format!("{set}#set($d = $r.a.b.put('x', 'changed'))$r.a.b.x|$r.a.b.y|$r.a.b.x"),
                body
            ),
            "changed|2.5|changed"
        );
        // A map built by the template, not a document.
        assert_eq!(
            render("#set($m = {\"a\": {\"x\": 1, \"y\": [2]}})$m.a.x $m.a.y $m.a.z.").unwrap(),
            "1 [2] ."
        );
    }

    #[test]
    fn runs_and_references_that_share_a_prefix_resolve_it_once_and_correctly() {
        // A run's object is found through the chain cache: a run after a reference with the
        // same prefix resumes after it, and a reference after a run resumes after the run's
        // object. Loop items of other shapes (a missing object, a string, an object with
        // other keys) must not reuse what an earlier item resolved.
        let body = r#"{"l": [
            {"d": {"c": {"v": "c1", "n": "cn1"}, "r": {"v": "r1", "n": "rn1"}, "s": "s1"}},
            {"d": {"r": {"n": "rn2", "v": "r2"}, "c": {"v": "c2"}}},
            {"d": "text"},
            {"x": 1},
            {"d": {"c": {"v": 3, "n": [1]}, "r": {}, "s": {"k": 2}}}
        ]}"#;
        let run = "#foreach($e in $input.path('$.l'))[$e.d.c.v ($e.d.c.n) $e.d.r.v ($e.d.r.n) \
                   $e.d.s $e.d.c.v]#end";
        let apart = run.replace("$e.d", "#if(true)#end$e.d");
        assert_ne!(run, apart);
        assert_eq!(render_body(run, body), render_body(&apart, body));
        assert_eq!(
            render_body(run, body),
            "[c1 (cn1) r1 (rn1) s1 c1][c2 () r2 (rn2)  c2][ ()  ()  ][ ()  ()  ]\
             [3 ([1])  () {k=2} 3]"
        );
    }

    #[test]
    fn members_and_the_text_before_them_print_whole_at_every_length() {
        // A printed member goes out with the text before it in one write when the text
        // fits a block and the member is short; longer ones take the general writes. Each
        // length around those bounds, in a run of four and in a lone one-name reference.
        for text_len in [0, 1, 31, 63, 64, 65, 130] {
            for value_len in [0, 1, 31, 32, 33, 100] {
                let t = "~".repeat(text_len);
                let v = "v".repeat(value_len);
                let body = format!(r#"[{{"a": "{v}", "b": "{v}", "c": "{v}", "d": "{v}"}}]"#);
                let run =
                    format!("#foreach($e in $input.path('$')){t}$e.a{t}$e.b{t}$e.c{t}$e.d#end");
                assert_eq!(
                    render_body(&run, &body),
                    format!("{t}{v}").repeat(4),
                    "text {text_len}, value {value_len}"
                );
                let one = format!("#foreach($e in $input.path('$')){t}$e.a|#end");
                assert_eq!(render_body(&one, &body), format!("{t}{v}|"));
            }
        }
    }

    #[test]
    fn foreach_stops_after_the_aws_limit() {
        let out = render("#foreach($i in [1..5000])x#end").unwrap();
        assert_eq!(out.len(), MAX_FOREACH_ITERATIONS as usize);
    }

    #[test]
    fn hostile_templates_end() {
        // 1000^3 iterations: the fuel budget stops it.
        let e = render("#foreach($a in [1..1000])#foreach($b in [1..1000])#foreach($c in [1..1000])#end#end#end").unwrap_err();
        assert_eq!(e.kind, ErrorKind::FuelExhausted);
        // Doubling a string: the output cap stops it.
        let e =
            render("#set($s = \"xxxxxxxxxxxxxxxx\")#foreach($i in [1..40])#set($s = \"$s$s\")#end")
                .unwrap_err();
        assert_eq!(e.kind, ErrorKind::OutputTooLarge);
        // Strings built by a method call or by `+`, never printed: the same cap stops them.
        for grow in ["$s.replace(\"x\", \"xx\")", "$s + $s"] {
            let e = render(&format!(
                "#set($s = \"x\")#foreach($i in [1..40])#set($s = {grow})#end"
            ))
            .unwrap_err();
            assert_eq!(e.kind, ErrorKind::OutputTooLarge, "{grow}");
        }
        // Recursive macro: bounded expansion at compile time.
        let e = Template::compile("#macro(r)x#end#macro(r)#r()#end#r()").unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooDeep);
        let big = "x".repeat(MAX_TEMPLATE_BYTES + 1);
        assert_eq!(
            Template::compile(&big).unwrap_err().kind,
            ErrorKind::TooLarge
        );
    }

    #[test]
    fn context_overrides_carry_to_the_response_template() {
        let req_t = Template::compile("#set($context.requestOverride.header.h = [\"a\", \"b\"])#set($context.responseOverride.status = 444)#set($context.responseOverride.header.foo = \"bar\")#set($context.requestOverride.querystring[\"q\"] = \"v\")").unwrap();
        let resp_t = Template::compile(
            "$context.responseOverride.status $context.requestOverride.querystring.q",
        )
        .unwrap();
        let mut state = RenderState::new();
        let mut out = Vec::new();
        req_t
            .render(&RequestData::default(), None, &mut state, &mut out)
            .unwrap();
        let resp = IntegrationResponse {
            status: 200,
            headers: &[],
            body: b"",
        };
        resp_t
            .render(&RequestData::default(), Some(&resp), &mut state, &mut out)
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "444 v");
        let ov = state.overrides();
        assert_eq!(ov.response_status, Some(444));
        assert_eq!(
            ov.request_headers,
            vec![("h".to_owned(), vec!["a".to_owned(), "b".to_owned()])]
        );
        assert_eq!(
            ov.response_headers,
            vec![("foo".to_owned(), "bar".to_owned())]
        );
        assert_eq!(
            ov.request_querystring,
            vec![("q".to_owned(), "v".to_owned())]
        );
    }

    #[test]
    fn overrides_set_before_the_map_is_built_move_into_it() {
        let req = RequestData {
            context: ContextValues {
                stage: Some("prod"),
                ..ContextValues::default()
            },
            ..RequestData::default()
        };
        let t1 = Template::compile(concat!(
            "#set($context.responseOverride.status = 444)",
            "#set($context.requestOverride.header.h = 'a')",
            "[$context.responseOverride]",
        ))
        .unwrap();
        let mut state = RenderState::new();
        let mut out = Vec::new();
        t1.render(&req, None, &mut state, &mut out).unwrap();
        assert!(state.context.is_none());
        assert_eq!(state.overrides().response_status, Some(444));
        // Something that needs the whole map builds it around the same override objects.
        let t2 = Template::compile(concat!(
            "$context.keySet().size() $context.responseOverride.status ",
            "#set($context.responseOverride.header.x = 'y')",
            "$context.requestOverride.header.h"
        ))
        .unwrap();
        t2.render(&req, None, &mut state, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "[]18 444a");
        let ov = state.overrides();
        assert_eq!(ov.response_status, Some(444));
        assert_eq!(ov.response_headers, vec![("x".to_owned(), "y".to_owned())]);
        assert_eq!(
            ov.request_headers,
            vec![("h".to_owned(), vec!["a".to_owned()])]
        );
    }

    /// `#set($context.responseOverride.status = v)` keeps the status pending without the
    /// object (vm's `SetResponseStatus`); written another way (`$ro.status`) it goes through
    /// the object. Both must give the same output and overrides whatever comes before and
    /// after, in the same template or the next one.
    #[test]
    fn a_pending_response_status_behaves_like_one_set_on_the_object() {
        let body = br#"{"s": 402}"#;
        let req = RequestData {
            body,
            context: ContextValues {
                stage: Some("prod"),
                ..ContextValues::default()
            },
            ..RequestData::default()
        };
        let before = [
            "",
            "$context.responseOverride.header",
            "#set($context.stage2 = 'x')",
            "#set($context = {})",
            "#set($context.responseOverride.status = 300)",
            "#macro(m $context)#set($context.responseOverride.status = 1)#end#m({})",
        ];
        let values = ["400", "'401'", "$nothing", "$input.path('$.s')"];
        let after = [
            "",
            "$context.responseOverride.status",
            "$context.responseOverride.keySet()",
            "$context.keySet().size() $context.responseOverride.status",
            "#set($context.responseOverride.header.x = 'y')$context.responseOverride.keySet()",
            "#set($context.responseOverride.status = 500)",
            "#set($context.responseOverride.status = $nothing)$context.responseOverride.status",
            "$context.responseOverride.get('status')",
        ];
        let run = |first: &str, second: &str| {
            let mut state = RenderState::new();
            let mut out = Vec::new();
            for src in [first, second] {
                Template::compile(src)
                    .unwrap()
                    .render(&req, None, &mut state, &mut out)
                    .unwrap();
                out.push(b'|');
            }
            (String::from_utf8(out).unwrap(), state.overrides())
        };
        for b in before {
            for v in values {
                let fast = format!("{b}#set($context.responseOverride.status = {v})");
                let slow =
                    format!("{b}#set($ro = $context.responseOverride)#set($ro.status = {v})");
                for a in after {
                    // In the same template, and in the next one (the response template).
                    let same = (run(&format!("{fast}{a}"), a), run(&format!("{slow}{a}"), a));
                    assert_eq!(same.0, same.1, "{fast}{a}");
                    let next = (run(&fast, a), run(&slow, a));
                    assert_eq!(next.0, next.1, "{fast} | {a}");
                }
            }
        }
        // And the pending status is there at all.
        let (out, ov) = run(
            "#set($context.responseOverride.status = 400)",
            "$context.responseOverride.status",
        );
        assert_eq!((out.as_str(), ov.response_status), ("|400|", Some(400)));
    }

    #[test]
    fn context_fields_read_lazily_agree_with_the_map() {
        let req = RequestData {
            context: ContextValues {
                stage: Some("prod"),
                identity: Identity {
                    source_ip: Some("192.0.2.1"),
                    ..Identity::default()
                },
                ..ContextValues::default()
            },
            ..RequestData::default()
        };
        let t = Template::compile(concat!(
            "$context.stage|$context.identity.sourceIp|$context.identity.apiKey|",
            "[$context.identity]|$context.identity.empty|\n",
            "#set($s = \"${context.stage}-x\")$s|",
            "#set($context.stage = 'beta')#set($context.identity.sourceIp = 'ip2')",
            "$context.stage|$context.identity.sourceIp|$context.nope|$context.empty"
        ))
        .unwrap();
        let mut state = RenderState::new();
        let mut out = Vec::new();
        t.render(&req, None, &mut state, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "prod|192.0.2.1||[]|false|\nprod-x|beta|ip2||false"
        );
        // The response template sees the request template's changes.
        let t2 = Template::compile("$context.stage $context.identity.sourceIp").unwrap();
        let mut out = Vec::new();
        t2.render(&req, None, &mut state, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "beta ip2");
    }

    #[test]
    fn util_functions_resolved_at_compile_time_match_the_method_call() {
        let req = RequestData {
            body: br#"{"a": "it's \"q\"/\u00e9\t", "n": null, "o": {"k": "v'/"}, "l": [1, "x"]}"#,
            ..RequestData::default()
        };
        let run = |src: &str| {
            let t = Template::compile(src).unwrap();
            let mut out = Vec::new();
            t.render(&req, None, &mut RenderState::new(), &mut out)
                .unwrap();
            String::from_utf8(out).unwrap()
        };
        // `$u` is `$util` under another name, so `$u.f(..)` is the call by name.
        let cases = [
            "$util.escapeJavaScript($input.json('$.o'))",
            "$util.escapeJavaScript($input.json('$'))",
            "$util.escapeJavaScript($input.json('$.missing'))|",
            "$util.escapeJavaScript($input.json('$.n'))|",
            "$util.escapeJavaScript($input.path('$.a'))",
            "$util.escapeJavaScript($input.path('$.n'))|",
            "$util.escapeJavaScript($input.path('$.o'))",
            "$util.escapeJavaScript($input.path('$.l'))",
            "#set($s = \"<$util.escapeJavaScript($input.json('$.o'))>\")$s",
            "#set($e = $util.escapeJavaScript($input.json('$.o')))$e.length() $e",
            "$util.escapeJavaScript($input.json('$.o')).length()",
            "$util.escapeJavaScript($util.escapeJavaScript(\"'\"))",
            "$util.escapeJavaScript(\"\u{e9}\u{1F600}\u{1}\u{7f}/\")",
            "$util.escapeJavaScript(5) $util.escapeJavaScript(2.5) $util.escapeJavaScript(true)",
            "$util.escapeJavaScript()| $util.escapeJavaScript('a', 'b')",
            "$util.urlEncode('a b&c') $util.urlDecode('a+b%26c') $util.urlDecode('%zz')|",
            "$util.base64Encode('hi') $util.base64Decode('aGk=') $util.base64Decode('*')|",
            "$util.parseJson('{\"x\":[1]}').x[0] $util.parseJson('nope')|",
            "#foreach($k in ['a', 'o'])$util.escapeJavaScript($input.json(\"$.$k\"))#end",
        ];
        for e in cases {
            let direct = run(&format!("#set($u = $util){e}"));
            let by_name = run(&format!("#set($u = $util){}", e.replace("$util.", "$u.")));
            assert_eq!(direct, by_name, "{e}");
        }
        assert_eq!(
            run("$util.escapeJavaScript($input.json('$.o'))"),
            r#"{\"k\":\"v\'\/\"}"#
        );
        assert_eq!(
            run("$util.escapeJavaScript($input.path('$.a'))"),
            r#"it\'s \"q\"\/\u00E9\t"#
        );
        // Rebound `$util` (a macro argument, a loop variable, a variable): the call by name
        // on what it is at the time, here nothing that has the method; the builtin again
        // where the binding ends.
        assert_eq!(
            run(concat!(
                "#macro(m $util)[$util.escapeJavaScript(\"'\")]#end#m('x')",
                "[$util.escapeJavaScript(\"'\")]",
                "#foreach($util in [{\"a\": 1}])[$util.escapeJavaScript(\"'\")]#end",
                "[$util.escapeJavaScript(\"'\")]",
                "#set($util = {\"escapeJavaScript\": 1})",
                "[$util.escapeJavaScript(\"'\")][$util.escapeJavaScript($input.json('$.o'))]",
            )),
            r"[][\'][][\'][][]"
        );
        // Resolved at compile time only where nothing can rebind `$util`.
        let util_instrs = |src: &str| {
            let t = Template::compile(src).unwrap();
            (t.program.code.iter())
                .filter(|i| matches!(i, bytecode::Instr::Util { .. }))
                .count()
        };
        assert_eq!(
            util_instrs("$util.escapeJavaScript('a')$util.urlEncode('b')"),
            2
        );
        assert_eq!(util_instrs("$util.escapeJavaScript('a')#set($util = 1)"), 0);
        assert_eq!(
            util_instrs("#macro(m $util)#end#m(1)$util.escapeJavaScript('a')"),
            0
        );
        // A macro is expanded where it is called: one never called binds nothing.
        assert_eq!(
            util_instrs("#macro(m $util)#end$util.escapeJavaScript('a')"),
            1
        );
        assert_eq!(
            util_instrs("#foreach($util in [1])#end$util.urlEncode('b')"),
            0
        );
    }

    #[test]
    fn input_json_printed_from_the_tape_matches_the_general_path() {
        // `$input.json(P)` printed goes straight down the body's tape; once the document
        // is converted (here by a `remove` of an absent key, which changes nothing) it
        // goes through values. Both must print the same, for present, absent and null
        // members, indexes, non-definite paths and escaped output.
        let bodies = [
            r#"{"a": "x\"y\u00e9", "n": null, "o": {"k": [1, 2.50, {"z": true}], "e": {}}, "l": [1, "s", null, [], -0.0, 1e300]}"#,
            r#"{}"#,
            r#"{"only": 3}"#,
        ];
        let paths = [
            "$",
            "$.a",
            "$.n",
            "$.missing",
            "$.o",
            "$.o.k",
            "$.o.k[1]",
            "$.o.k[-1]",
            "$.o.k[-4]",
            "$.o.k[9]",
            "$.o.e",
            "$.l",
            "$.l[2]",
            "$.l[4]",
            "$.l[5]",
            "$.a.b",
            "$['o']['k'][0]",
            "$..k",
            "$.l[*]",
            "$.o.*",
            "$.only",
        ];
        let run = |body: &str, src: &str| render_body(src, body);
        let convert = "#set($r = $input.path('$'))#set($x = $r.remove('zz'))";
        for body in bodies {
            for p in paths {
                for wrap in [
                    "[$input.json('P')]",
                    "[$util.escapeJavaScript($input.json('P'))]",
                ] {
                    let e = wrap.replace('P', p);
                    let (tape, general) = (run(body, &e), run(body, &format!("{convert}{e}")));
                    assert_eq!(tape, general, "{e} over {body}");
                }
            }
        }
        let b = bodies[0];
        assert_eq!(
            run(b, "[$input.json('$.n')][$input.json('$.missing')]"),
            "[][]"
        );
        assert_eq!(run(b, "$input.json('$.o.k')"), r#"[1,2.5,{"z":true}]"#);
        assert_eq!(run(b, "$input.json('$.a')"), "\"x\\\"y\u{e9}\"");
        assert_eq!(
            run(b, "$util.escapeJavaScript($input.json('$.o.k[2]'))"),
            r#"{\"z\":true}"#
        );
    }

    #[test]
    fn escaped_output_is_held_to_the_output_cap() {
        // A string under the cap whose escaped form is over it (each `'` becomes `\'`),
        // printed by the two paths that escape straight into the output.
        let quotes = "'".repeat(MAX_OUTPUT_BYTES * 3 / 5);
        let body = format!(r#"{{"a": "{quotes}"}}"#);
        let req = RequestData {
            body: body.as_bytes(),
            ..RequestData::default()
        };
        for src in [
            "$util.escapeJavaScript($input.json('$.a'))",
            "$util.escapeJavaScript($input.path('$.a'))",
            "#set($s = \"<$util.escapeJavaScript($input.path('$.a'))>\")",
        ] {
            let t = Template::compile(src).unwrap();
            let mut out = Vec::new();
            let e = t
                .render(&req, None, &mut RenderState::new(), &mut out)
                .unwrap_err();
            assert_eq!(e.kind, ErrorKind::OutputTooLarge, "{src}");
        }
        // Unescaped, the same text fits.
        let t = Template::compile("$input.json('$.a')").unwrap();
        let mut out = Vec::new();
        t.render(&req, None, &mut RenderState::new(), &mut out)
            .unwrap();
        assert_eq!(out.len(), quotes.len() + 2);
    }

    #[test]
    fn json_containers_mutated_through_an_alias_stay_shared() {
        let req = RequestData {
            body: br#"{"a": {"b": [1, 2]}, "s": "x\u00e9"}"#,
            ..RequestData::default()
        };
        let t = Template::compile(concat!(
            "#set($r = $input.path('$'))#set($a = $r.a)",
            "$a.b.size() $r.s $r.s.length() #set($ok = $a.put('c', 'd'))#set($ok = $a.b.add(3))",
            "$input.json('$.a') $r.a.c $input.path('$.a.b')[2] $r $r.a.get('c')"
        ))
        .unwrap();
        let mut out = Vec::new();
        t.render(&req, None, &mut RenderState::new(), &mut out)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2 x\u{e9} 2{\"b\":[1,2,3],\"c\":\"d\"} d 3 {a={b=[1,2,3], c=d}, s=x\u{e9}} d"
        );
    }

    #[test]
    fn foreach_over_json_walks_the_container_as_it_was_when_the_loop_opened() {
        // Expected outputs are those of the item-list loop this replaced (`a040dfb`), which
        // copied the items when the loop opened.
        let req = RequestData {
            body: br#"{"a": {"x": 1, "y": [1, 2, {"z": 3}]}, "b": [10, "s", null, true, 2.50, {"k": "v"}, []], "c": {}, "d": []}"#,
            ..RequestData::default()
        };
        let cases = [
            (
                "#foreach($v in $r.b)$foreach.index:$v;$foreach.hasNext #end",
                "0:10;true 1:s;true 2:;true 3:true;true 4:2.5;true 5:{k=v};true 6:[];false ",
            ),
            // Items added while the loop runs are not visited.
            (
                "#foreach($v in $r.b)#if($foreach.index == 0)$r.b.add(9)#end$v,#end|$r.b",
                "true10,s,,true,2.5,{k=v},[],|[10,\"s\",null,true,2.5,{\"k\":\"v\"},[],9]",
            ),
            // A container converted before the loop is iterated as converted.
            (
                "#set($q = $r.a.put(\"n\", 5))#foreach($v in $r.a)$v;#end|#foreach($v in $r)$v;#end",
                "1;[1,2,{\"z\":3}];5;|{x=1, y=[1,2,{\"z\":3}], n=5};[10,\"s\",null,true,2.5,{\"k\":\"v\"},[]];{};[];",
            ),
            (
                "#foreach($v in $r.a.y)#foreach($w in $v)$w#end/#end",
                "//3/",
            ),
            (
                "#foreach($v in $r.c)x#end#foreach($v in $r.d)y#end#foreach($v in $r.b[5])$v#end",
                "v",
            ),
            (
                "#foreach($v in $r.b)#if($v == \"s\")#break#end$v #end after",
                "10  after",
            ),
            (
                "#foreach($v in $r.a)#set($r.a.x = 7)$v;#end",
                "1;[1,2,{\"z\":3}];",
            ),
        ];
        for (src, want) in cases {
            let t = Template::compile(&format!("#set($r = $input.path('$')){src}")).unwrap();
            let mut out = Vec::new();
            t.render(&req, None, &mut RenderState::new(), &mut out)
                .unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), want, "{src}");
        }
    }

    #[test]
    fn member_lookups_follow_each_item_and_each_body() {
        // The VM guesses where each `$e.x` is from the previous item and render; items of
        // other shapes, nested same-named keys and other bodies must not fool it.
        let t = Template::compile(
            "#foreach($e in $input.path('$'))$e.id/$e.inner.id/$e.long_member_name,#end",
        )
        .unwrap();
        let bodies: [&[u8]; 3] = [
            br#"[{"id": 1, "inner": {"id": 2}, "long_member_name": "a"},
                 {"inner": {"id": 3}, "long_member_name": "b", "id": 4},
                 {"x": {"id": 5}}, {"long_member_names": 6, "long_member_name": 7, "id": 8}]"#,
            br#"[{"long_member_name": "c", "id": 9}, {"id": {"id": 10}}]"#,
            br#"[{"id": 1, "inner": {"id": 2}, "long_member_name": "a"}]"#,
        ];
        let want = ["1/2/a,4/3/b,//,8//7,", "9//c,{id=10}//,", "1/2/a,"];
        for _ in 0..2 {
            for (body, want) in bodies.iter().zip(want) {
                let req = RequestData {
                    body,
                    ..RequestData::default()
                };
                let mut out = Vec::new();
                t.render(&req, None, &mut RenderState::new(), &mut out)
                    .unwrap();
                assert_eq!(String::from_utf8(out).unwrap(), want);
            }
        }
    }

    #[test]
    fn property_chains_resume_only_while_the_tape_is_unchanged() {
        let req = RequestData {
            body: br#"{"a": {"b": {"c": 1, "d": "two"}, "x": {"c": 3}}, "e": [{"c": 4}]}"#,
            ..RequestData::default()
        };
        let t = Template::compile(concat!(
            "#set($r = $input.path('$'))#set($b = $r.a)#set($s = $r.a.x)",
            "$r.a.b.c $r.a.b.d $r.a.x.c $b.b.c $s.c|$r.a.nope.c|$r.a.b.c $r.a.b.d.empty ",
            "$r.e.size()|",
            "#set($ok = $r.a.b.put('c', 9))$r.a.b.c $r.a.b.d $b.b.c $r.a.x.c",
        ))
        .unwrap();
        let mut out = Vec::new();
        t.render(&req, None, &mut RenderState::new(), &mut out)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1 two 3 1 3||1 false 1|9 two 9 3"
        );
    }

    #[test]
    fn constant_indexes_in_chains_agree_with_computed_ones() {
        // `$r.a[0]` resolves in the chain walk; `$r.a[$i0]` through `Index`. Both must give
        // the same (and the expected) text on arrays, objects, scalars, misses, converted
        // documents and values that are not JSON.
        let req = RequestData {
            body: br#"{"a": [{"b": [10, 20, {"c": "x"}]}, "s", [1, [2, 3]]],
                "o": {"0": "zero", "1": {"k": [5]}}, "n": null, "str": "abc"}"#,
            ..RequestData::default()
        };
        let literal = concat!(
            "#set($r = $input.path('$'))#set($m = {'k': [7, 8]})",
            "$r.a[0].b[1] $r.a[0].b[2].c $r.a[0].b[0] $r.a[1] $r.a[2][1][0] $r.a[2][1]|",
            "$r.a[9]|$r.a[9].b|$!r.a[3]|$r.o[0] $r.o[1].k[0]|$r.str[0]|$r.n[0]|",
            "$r.a[0].b $r.a[0].b.size() $m.k[1]|",
            "#set($ok = $r.a[0].b.add(30))$r.a[0].b[3] $r.a[0].b[1] $r.a[2][1][1]",
        );
        let want = r#"20 x 10 s 2 [2,3]||||zero 5|||[10,20,{"c":"x"}] 3 8|30 20 3"#;
        let mut computed = String::new();
        for i in 0..10 {
            computed.push_str(&format!("#set($i{i} = {i})"));
        }
        let mut rest = literal;
        while let Some(at) = rest.find('[') {
            let (head, tail) = rest.split_at(at + 1);
            computed.push_str(head);
            rest = tail;
            if let Some(d) = rest.strip_prefix(|c: char| c.is_ascii_digit())
                && d.starts_with(']')
            {
                computed.push_str(&format!("$i{}", &rest[..1]));
                rest = d;
            }
        }
        computed.push_str(rest);
        assert!(computed.contains("$r.a[$i0].b[$i1]"), "{computed}");
        for src in [literal, computed.as_str()] {
            let t = Template::compile(src).unwrap();
            let mut out = Vec::new();
            t.render(&req, None, &mut RenderState::new(), &mut out)
                .unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), want, "{src}");
        }
    }

    #[test]
    fn input_reads_response_body_but_request_params() {
        let t = Template::compile("$input.path('$.a') $input.params('p') $input.body").unwrap();
        let req = RequestData {
            body: br#"{"a":"req"}"#,
            path_params: &[("p", "P")],
            ..RequestData::default()
        };
        let resp = IntegrationResponse {
            status: 200,
            headers: &[],
            body: br#"{"a":"resp"}"#,
        };
        let mut out = Vec::new();
        t.render(&req, Some(&resp), &mut RenderState::new(), &mut out)
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#"resp P {"a":"resp"}"#);
    }

    #[test]
    fn template_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Template>();
    }

    #[test]
    fn mock_status_forms() {
        assert_eq!(mock_status_code(br#"{"statusCode": 200}"#), Some(200));
        assert_eq!(mock_status_code(b"{statusCode: 404}"), Some(404));
        assert_eq!(
            mock_status_code(b"{\n  \"statusCode\" : \"201\"\n}"),
            Some(201)
        );
        assert_eq!(mock_status_code(b"{}"), None);
    }
}
