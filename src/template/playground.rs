//! `tollgate render`: render one template against a request description, as the gateway would.
//!
//! The request file is one JSON object (the conformance-case shape, a contract):
//! `method`, `path`, `resource`, `path_params`, `query` (values may be lists), `headers`,
//! `body` (string or null), `stage_variables`, `context` (overrides of `$context` fields,
//! nested `identity`), and optionally `integration_response` (`status`, `content_type`,
//! `body`), which makes it a response template.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::Value as J;

use super::{ContextValues, Identity, IntegrationResponse, RenderState, RequestData, Template};

/// Upper bound on `--bench-ms`, so a typo cannot keep a CI machine busy for hours.
pub const MAX_BENCH_MS: u64 = 60_000;

/// Renders between two looks at the clock in `--bench-ms` mode (a clock read per render
/// would be a visible part of a sub-microsecond render).
const BENCH_BATCH: u64 = 64;

/// Equal slices of the `--bench-ms` budget, each timed on its own (see `bench`).
const BENCH_SLICES: u32 = 10;

/// Renders `template` with the request described in `request` (the conformance-case shape),
/// printing exactly the rendered text to stdout. With `bench_ms`, renders repeatedly for
/// that long instead (each render as the gateway does it: a fresh [`RenderState`], the body
/// parsed again) and prints one line, `renders_per_sec=R renders=N seconds=S
/// median_slice_per_sec=M`, for `bench/templates-vs-peers.sh`.
pub fn run(template: &Path, request: &Path, bench_ms: Option<u64>) -> anyhow::Result<ExitCode> {
    let source = std::fs::read_to_string(template)
        .with_context(|| format!("reading {}", template.display()))?;
    let req_text = std::fs::read_to_string(request)
        .with_context(|| format!("reading {}", request.display()))?;
    let req: J = serde_json::from_str(&req_text)
        .with_context(|| format!("parsing {}", request.display()))?;
    let t = match Template::compile(&source) {
        Ok(t) => t,
        Err(e) => {
            crate::warn!("{}: {}", template.display(), e.with_caret());
            return Ok(ExitCode::FAILURE);
        }
    };
    let owned = OwnedRequest::from_json(&req);
    let mut out = Vec::new();
    if let Some(ms) = bench_ms {
        return bench(&t, &owned, ms.min(MAX_BENCH_MS), template);
    }
    let mut state = RenderState::new();
    let result = owned.with_data(|data, resp| t.render(data, resp, &mut state, &mut out));
    if let Err(e) = result {
        crate::warn!("{}: {}", template.display(), e.with_caret());
        return Ok(ExitCode::FAILURE);
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out)?;
    stdout.flush()?;
    // Overrides go to stderr as one JSON line so tests can check them without
    // disturbing the exact stdout.
    let ov = state.overrides();
    if ov != super::Overrides::default() {
        crate::warn!("{}", overrides_json(&ov));
    }
    Ok(ExitCode::SUCCESS)
}

/// The `--bench-ms` loop: render for `ms` milliseconds in [`BENCH_SLICES`] equal slices,
/// print the overall rate and the median of the slices' rates.
///
/// Why slices: on a shared machine a slow spell of a few hundred milliseconds moves a
/// whole-budget rate by tens of percent; the median slice is the rate the engine keeps
/// for most of the budget. The peer runners (`bench/peers/`) slice theirs the same way,
/// so a JIT's warm-up slice is left out of theirs as a slow spell is of ours.
fn bench(t: &Template, owned: &OwnedRequest, ms: u64, name: &Path) -> anyhow::Result<ExitCode> {
    let slice = std::time::Duration::from_millis(ms) / BENCH_SLICES;
    let mut out = Vec::with_capacity(4096);
    let mut rates = Vec::with_capacity(BENCH_SLICES as usize);
    let start = std::time::Instant::now();
    let mut renders: u64 = 0;
    // The borrowed request is what the gateway holds after parsing the HTTP request, so it
    // is built once; each render then does all of its own per-request work ($context,
    // body parse, params), like each peer render building its context objects.
    let result = owned.with_data(|d, r| {
        for _ in 0..BENCH_SLICES {
            let slice_start = std::time::Instant::now();
            let mut n: u64 = 0;
            // Bounded by the clock: the slices add up to at most `MAX_BENCH_MS`.
            while slice_start.elapsed() < slice {
                for _ in 0..BENCH_BATCH {
                    out.clear();
                    let mut state = RenderState::new();
                    t.render(d, r, &mut state, &mut out)?;
                    std::hint::black_box(out.len());
                }
                n += BENCH_BATCH;
            }
            rates.push(n as f64 / slice_start.elapsed().as_secs_f64());
            renders += n;
        }
        Ok::<(), super::TemplateError>(())
    });
    if let Err(e) = result {
        crate::warn!("{}: {}", name.display(), e.with_caret());
        return Ok(ExitCode::FAILURE);
    }
    let secs = start.elapsed().as_secs_f64();
    crate::say!(
        "renders_per_sec={:.0} renders={renders} seconds={secs:.3} median_slice_per_sec={:.0}",
        renders as f64 / secs,
        median(&mut rates)
    );
    Ok(ExitCode::SUCCESS)
}

/// The median of `xs` (the mean of the middle two for an even count); 0 for none.
fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => 0.0,
        n if n % 2 == 1 => xs.get(n / 2).copied().unwrap_or(0.0),
        n => {
            (xs.get(n / 2 - 1).copied().unwrap_or(0.0) + xs.get(n / 2).copied().unwrap_or(0.0))
                / 2.0
        }
    }
}

/// An integration response: status, headers, body.
pub type OwnedResponse = (u16, Vec<(String, String)>, Vec<u8>);

/// The request description, owned, from which borrowed [`RequestData`] is built.
#[derive(Debug, Default)]
pub struct OwnedRequest {
    pub body: Vec<u8>,
    pub path_params: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub stage_variables: Vec<(String, String)>,
    pub context: Vec<(String, String)>,
    pub identity: Vec<(String, String)>,
    pub authorizer: Vec<(String, String)>,
    pub response: Option<OwnedResponse>,
}

fn scalar(v: &J) -> Option<String> {
    match v {
        J::Null => None,
        J::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn pairs(v: Option<&J>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(J::Object(m)) = v {
        for (k, v) in m {
            match v {
                J::Array(items) => {
                    out.extend(items.iter().filter_map(scalar).map(|s| (k.clone(), s)))
                }
                other => out.extend(scalar(other).map(|s| (k.clone(), s))),
            }
        }
    }
    out
}

impl OwnedRequest {
    /// Reads the request-description JSON; unknown members are ignored.
    pub fn from_json(req: &J) -> OwnedRequest {
        let ctx = req.get("context");
        let mut context = pairs(ctx);
        context.retain(|(k, _)| k != "identity" && k != "authorizer");
        let response = req
            .get("integration_response")
            .filter(|r| r.is_object())
            .map(|r| {
                let status = r
                    .get("status")
                    .and_then(J::as_u64)
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(200);
                let mut headers = pairs(r.get("headers"));
                if let Some(ct) = r.get("content_type").and_then(J::as_str) {
                    headers.push(("Content-Type".to_owned(), ct.to_owned()));
                }
                let body = r
                    .get("body")
                    .and_then(J::as_str)
                    .unwrap_or("")
                    .as_bytes()
                    .to_vec();
                (status, headers, body)
            });
        let mut o = OwnedRequest {
            body: req
                .get("body")
                .and_then(J::as_str)
                .unwrap_or("")
                .as_bytes()
                .to_vec(),
            path_params: pairs(req.get("path_params")),
            query: pairs(req.get("query")),
            headers: pairs(req.get("headers")),
            stage_variables: pairs(req.get("stage_variables")),
            context,
            identity: pairs(ctx.and_then(|c| c.get("identity"))),
            authorizer: pairs(ctx.and_then(|c| c.get("authorizer"))),
            response,
        };
        // Defaults the gateway would fill from the request itself.
        let defaults = [
            ("httpMethod", req.get("method").and_then(scalar)),
            ("resourcePath", req.get("resource").and_then(scalar)),
            ("protocol", Some("HTTP/1.1".to_owned())),
        ];
        for (k, v) in defaults {
            if let Some(v) = v {
                if !o.context.iter().any(|(n, _)| n == k) {
                    o.context.push((k.to_owned(), v));
                }
            }
        }
        if !o.identity.iter().any(|(n, _)| n == "userAgent") {
            if let Some((_, ua)) = o
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
            {
                o.identity.push(("userAgent".to_owned(), ua.clone()));
            }
        }
        o
    }

    fn ctx(&self, k: &str) -> Option<&str> {
        self.context
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    fn id(&self, k: &str) -> Option<&str> {
        self.identity
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    /// Calls `f` with the borrowed [`RequestData`] (and integration response, if any)
    /// that [`Template::render`] takes.
    pub fn with_data<R>(
        &self,
        f: impl FnOnce(&RequestData<'_>, Option<&IntegrationResponse<'_>>) -> R,
    ) -> R {
        let (path_params, query, headers, stage_variables, authorizer) = (
            b(&self.path_params),
            b(&self.query),
            b(&self.headers),
            b(&self.stage_variables),
            b(&self.authorizer),
        );
        let resp_headers = self
            .response
            .as_ref()
            .map(|(_, h, _)| b(h))
            .unwrap_or_default();
        let data = RequestData {
            body: &self.body,
            path_params: &path_params,
            query: &query,
            headers: &headers,
            stage_variables: &stage_variables,
            context: ContextValues {
                account_id: self.ctx("accountId"),
                api_id: self.ctx("apiId"),
                deployment_id: self.ctx("deploymentId"),
                domain_name: self.ctx("domainName"),
                domain_prefix: self.ctx("domainPrefix"),
                extended_request_id: self.ctx("extendedRequestId"),
                http_method: self.ctx("httpMethod"),
                path: self.ctx("path"),
                protocol: self.ctx("protocol"),
                request_id: self.ctx("requestId"),
                request_time: self.ctx("requestTime"),
                request_time_epoch: self.ctx("requestTimeEpoch").and_then(|s| s.parse().ok()),
                resource_id: self.ctx("resourceId"),
                resource_path: self.ctx("resourcePath"),
                stage: self.ctx("stage"),
                is_canary_request: self.ctx("isCanaryRequest"),
                identity: Identity {
                    account_id: self.id("accountId"),
                    api_key: self.id("apiKey"),
                    api_key_id: self.id("apiKeyId"),
                    access_key: self.id("accessKey"),
                    caller: self.id("caller"),
                    cognito_authentication_provider: self.id("cognitoAuthenticationProvider"),
                    cognito_authentication_type: self.id("cognitoAuthenticationType"),
                    cognito_identity_id: self.id("cognitoIdentityId"),
                    cognito_identity_pool_id: self.id("cognitoIdentityPoolId"),
                    principal_org_id: self.id("principalOrgId"),
                    source_ip: self.id("sourceIp"),
                    user: self.id("user"),
                    user_agent: self.id("userAgent"),
                    user_arn: self.id("userArn"),
                },
                authorizer: &authorizer,
            },
        };
        let resp = self
            .response
            .as_ref()
            .map(|(status, _, body)| IntegrationResponse {
                status: *status,
                headers: &resp_headers,
                body,
            });
        f(&data, resp.as_ref())
    }

    /// Replaces the integration response (pipeline tests feed the backend's answer).
    pub fn set_response(&mut self, status: u16, body: Vec<u8>) {
        self.response = Some((status, Vec::new(), body));
    }
}

fn b(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The overrides as the one JSON line `tollgate render` prints to stderr.
pub fn overrides_json(ov: &super::Overrides) -> J {
    let obj = |v: &[(String, String)]| -> J {
        J::Object(
            v.iter()
                .map(|(k, v)| (k.clone(), J::from(v.clone())))
                .collect(),
        )
    };
    let headers: serde_json::Map<String, J> = ov
        .request_headers
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if v.len() == 1 {
                    J::from(v[0].clone())
                } else {
                    J::from(v.clone())
                },
            )
        })
        .collect();
    serde_json::json!({
        "overrides": {
            "status": ov.response_status,
            "request_header": headers,
            "request_path": obj(&ov.request_path),
            "request_querystring": obj(&ov.request_querystring),
            "response_header": obj(&ov.response_headers),
        }
    })
}
