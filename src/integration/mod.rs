//! INTEGRATE: the compiled integrations and the code that calls them.
//!
//! * [`http`]: `HTTP` and `HTTP_PROXY`: building the backend request, reading its answer.
//! * [`lambda`]: the Lambda Invoke API client: SigV4 signing and AWS credentials.
//! * [`upstream`]: the per-core keep-alive pools and the hand-written HTTP/1.1 client.
//! * [`lambda`]: `AWS_PROXY` and Lambda `AWS`: events, results, the Invoke API and the
//!   local function host.
//! * `MOCK` needs no backend: the pipeline renders its templates
//!   ([`crate::template::mock_status_code`] reads the status).
//! * [`tls`]: `https://` backends: trust settings built at load, rustls sessions per core.

pub mod http;
pub mod lambda;
pub mod tls;
pub mod upstream;

use std::time::Duration;

pub use http::UriTemplate;

/// `Integration.type` (DG: api-gateway-api-integration-types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationType {
    /// Non-proxy HTTP: mapped parameters, templates, integration responses.
    Http,
    /// HTTP proxy: the request and response pass through.
    HttpProxy,
    /// No backend; the request template picks the status.
    Mock,
    /// An AWS service (Lambda custom integration included).
    Aws,
    /// Lambda proxy.
    AwsProxy,
}

impl IntegrationType {
    /// The AWS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationType::Http => "HTTP",
            IntegrationType::HttpProxy => "HTTP_PROXY",
            IntegrationType::Mock => "MOCK",
            IntegrationType::Aws => "AWS",
            IntegrationType::AwsProxy => "AWS_PROXY",
        }
    }
}

/// `passthroughBehavior` (DG: integration-passthrough-behaviors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passthrough {
    /// Pass the body through when no template matches the Content-Type (the default).
    WhenNoMatch,
    /// Pass through only when no templates are defined; otherwise 415.
    WhenNoTemplates,
    /// Never pass through: 415 when no template matches.
    Never,
}

/// Where a mapped integration request parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamLocation {
    /// `integration.request.header.X`
    Header,
    /// `integration.request.querystring.X`
    QueryString,
    /// `integration.request.path.X`
    Path,
}

/// The value of a parameter mapping (DG: request-response-data-mappings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamSource {
    /// `method.request.path.X`
    Path(String),
    /// `method.request.querystring.X` (last value)
    QueryString(String),
    /// `method.request.multivaluequerystring.X`
    MultiQueryString(String),
    /// `method.request.header.X` (last value)
    Header(String),
    /// `method.request.multivalueheader.X` (comma-joined)
    MultiHeader(String),
    /// `method.request.body`
    Body,
    /// `method.request.body.JSONPath`
    BodyPath(String),
    /// `stageVariables.X`
    StageVariable(String),
    /// `context.X`
    Context(String),
    /// `'literal'`
    Literal(String),
}

/// One `requestParameters` entry.
#[derive(Debug, Clone)]
pub struct ParamMapping {
    /// Header, query string or path.
    pub location: ParamLocation,
    /// The integration request parameter's name.
    pub name: String,
    /// Where its value comes from.
    pub source: ParamSource,
}

/// The value of a method response header mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseSource {
    /// `integration.response.header.X`
    Header(String),
    /// `integration.response.multivalueheader.X`
    MultiHeader(String),
    /// `integration.response.body`
    Body,
    /// `integration.response.body.JSONPath`
    BodyPath(String),
    /// `stageVariables.X`
    StageVariable(String),
    /// `context.X`
    Context(String),
    /// `'literal'`
    Literal(String),
}

/// A mapping template for one content type, compiled at load.
#[derive(Debug, Clone)]
pub struct TemplateEntry {
    /// The media type it is selected by (lower case).
    pub content_type: String,
    /// The compiled template.
    pub template: crate::template::Template,
}

/// One integration response (`responses` entry of `x-amazon-apigateway-integration`).
#[derive(Debug)]
pub struct IntegrationResponse {
    /// The method response status it produces.
    pub status: u16,
    /// `selectionPattern`, anchored for Java's full-match semantics; `None` = default.
    pub pattern: Option<fancy_regex::Regex>,
    /// `method.response.header.X` ← source.
    pub parameters: Vec<(String, ResponseSource)>,
    /// Response templates by content type.
    pub templates: Vec<TemplateEntry>,
}

/// A compiled integration.
#[derive(Debug)]
pub struct Integration {
    /// The type.
    pub kind: IntegrationType,
    /// The backend method; `None` for `ANY` (the client's method).
    pub http_method: Option<String>,
    /// The URI template (HTTP types).
    pub uri: Option<UriTemplate>,
    /// `timeoutInMillis`.
    pub timeout: Duration,
    /// `requestParameters`.
    pub request_parameters: Vec<ParamMapping>,
    /// `requestTemplates`.
    pub request_templates: Vec<TemplateEntry>,
    /// `passthroughBehavior`.
    pub passthrough: Passthrough,
    /// Integration responses with a selection pattern, in selection order.
    pub responses: Vec<IntegrationResponse>,
    /// The response without a pattern, if any.
    pub default_response: Option<IntegrationResponse>,
    /// Whether a mapped header is one AWS refuses to map (the call then fails with 500).
    pub illegal_header_mapping: bool,
    /// Per stage (by index), the backend origin and the length of its rendered
    /// `scheme://authority` prefix, when known at load ([`UriTemplate::stage_origin`]).
    pub stage_origins: Vec<Option<(http::Origin, usize)>>,
    /// `tlsConfig.insecureSkipVerification` (API: TlsConfig): accept any backend certificate.
    pub insecure_skip_verification: bool,
    /// The TLS setting `https://` backends are called with, attached at load from the server
    /// settings and this integration's `tlsConfig`.
    pub tls: Option<tls::TlsClient>,
    /// The Lambda function of an `AWS`/`AWS_PROXY` integration.
    pub lambda: Option<lambda::FunctionRef>,
}

impl Integration {
    /// The integration response for a selection value (backend status code as a string,
    /// or a Lambda error message): the first whose pattern matches the whole value, else
    /// the default (DG: api-gateway-integration-settings-integration-response).
    pub fn select_response(&self, value: &str) -> Option<&IntegrationResponse> {
        self.responses
            .iter()
            .find(|r| {
                r.pattern
                    .as_ref()
                    .is_some_and(|p| p.is_match(value).unwrap_or(false))
            })
            .or(self.default_response.as_ref())
    }
}
