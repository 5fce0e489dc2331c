//! INTEGRATE, Lambda: `AWS_PROXY` (event → invoke → proxy result) and Lambda `AWS`
//! (request template → invoke → integration response selected by `errorMessage`),
//! aws-behavior §4.1, §4.2, §4.6, §6.3.
//!
//! The invoke goes over the worker's own pool to the Invoke API: the local function host
//! on loopback for functions in `functions:`, else the configured or regional endpoint.

use super::*;
use crate::config::LambdaSettings;
use crate::integration::http::Origin;
use crate::integration::lambda::event::{EventContext, EventRequest, write_event};
use crate::integration::lambda::invoke::{
    InvocationType, InvokeEndpoint, InvokeOutcome, classify, write_invoke_request,
};
use crate::integration::lambda::result::{error_message, parse_proxy_result};
use crate::integration::lambda::{ResolvedFunction, host, is_binary};

/// `AWS_PROXY`: the request as a payload 1.0 event; the result by AWS's proxy rules.
pub(super) async fn lambda_proxy(
    worker: &Worker,
    lambda: &LambdaSettings,
    req: &Request<'_>,
    t: &Target<'_, '_>,
    keep_alive: bool,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Result<(), Reject> {
    // Lambda's Invoke is a POST; any other integration method fails every call with 500
    // (AWS-validated, errors/017).
    if t.method
        .integration
        .http_method
        .as_deref()
        .is_some_and(|m| m != "POST")
    {
        return Err(Reject::ApiConfiguration);
    }
    let mut payload = std::mem::take(&mut scratch.body);
    payload.clear();
    build_event(lambda, req, t, &mut payload);
    let res = invoke(
        worker,
        lambda,
        t,
        InvocationType::RequestResponse,
        &payload,
        scratch,
    )
    .await;
    scratch.body = payload;
    res?;
    let b = &scratch.backend;
    let outcome = classify(b.status, b.header("x-amz-function-error"), b.body());
    let result = match outcome {
        InvokeOutcome::Success(p) => p,
        // A function error, even a handled one, is a 502 for a proxy integration
        // (aws-behavior §4.2, AWS-validated errors/016).
        InvokeOutcome::FunctionError { .. } | InvokeOutcome::Throttled => {
            return Err(Reject::BadLambdaResponse);
        }
        InvokeOutcome::ServiceError { status, .. } => return Err(service_error(status)),
    };
    let binary = is_binary(&t.api.binary_media_types, req.header("accept"));
    let r = parse_proxy_result(result, binary).map_err(|_| Reject::BadLambdaResponse)?;
    status_line(out, r.status);
    for (name, values) in &r.headers {
        // Framing is the gateway's own business.
        if name_eq(name, "content-length")
            || name_eq(name, "transfer-encoding")
            || name_eq(name, "connection")
        {
            continue;
        }
        for v in values {
            header(out, name, v.as_bytes());
        }
    }
    if !r.has_header("content-type") {
        header(out, "Content-Type", b"application/json");
    }
    common_headers(t, keep_alive, out);
    content_length(out, r.body.len());
    out.extend_from_slice(b"\r\n");
    if req.method != "HEAD" {
        out.extend_from_slice(&r.body);
    }
    Ok(())
}

/// Lambda `AWS` (custom): the request template's output is the payload; the result (or the
/// error object) is the integration response body, selected by `errorMessage`.
pub(super) async fn lambda_custom(
    worker: &Worker,
    lambda: &LambdaSettings,
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
    let mut payload = std::mem::take(&mut scratch.body);
    payload.clear();
    match template {
        Some(tpl) => input.render(req, t, &tpl.template, None, &mut state, &mut payload)?,
        None => payload.extend_from_slice(req.body),
    }
    // `integration.request.header.X-Amz-Invocation-Type: 'Event'` makes the call
    // asynchronous (DG: set-up-lambda-integration-async).
    let kind = integration
        .request_parameters
        .iter()
        .find(|m| m.location == ParamLocation::Header && name_eq(&m.name, "x-amz-invocation-type"))
        .and_then(|m| source_value(&m.source, req, t))
        .and_then(|v| InvocationType::parse(&v))
        .unwrap_or(InvocationType::RequestResponse);
    let res = invoke(worker, lambda, t, kind, &payload, scratch).await;
    scratch.body = payload;
    res?;
    let b = &scratch.backend;
    let (selection, body): (String, &[u8]) =
        match classify(b.status, b.header("x-amz-function-error"), b.body()) {
            InvokeOutcome::Success(p) => (String::new(), p),
            InvokeOutcome::FunctionError { payload, .. } => (error_message(payload), payload),
            InvokeOutcome::Throttled => return Err(Reject::BadLambdaResponse),
            InvokeOutcome::ServiceError { status, .. } => return Err(service_error(status)),
        };
    let selected = integration
        .select_response(&selection)
        .ok_or(Reject::ApiConfiguration)?;
    let response = crate::template::IntegrationResponse {
        status: 200,
        headers: &[],
        body,
    };
    write_integration_response(
        req, t, &input, &mut state, selected, None, &response, keep_alive, out,
    )
}

/// Lambda service errors: permission and missing-function problems are configuration
/// errors (500); the rest are 502 (aws-behavior §4.2).
fn service_error(status: u16) -> Reject {
    match status {
        403 | 404 => Reject::ApiConfiguration,
        _ => Reject::BadLambdaResponse,
    }
}

/// Resolves the function and its endpoint, sends the Invoke call and reads the answer
/// into `scratch.backend`.
async fn invoke(
    worker: &Worker,
    lambda: &LambdaSettings,
    t: &Target<'_, '_>,
    kind: InvocationType,
    payload: &[u8],
    scratch: &mut Scratch,
) -> Result<(), Reject> {
    let integration = &t.method.integration;
    let fref = integration
        .lambda
        .as_ref()
        .ok_or(Reject::ApiConfiguration)?;
    let f: ResolvedFunction = fref
        .resolve(|n| t.stage.variable(n))
        .ok_or(Reject::ApiConfiguration)?;
    let region = f.region.clone().unwrap_or_else(|| fref.region.clone());
    let endpoint = if lambda.is_local(&f.name) {
        let addr = host::local_addr().ok_or(Reject::ApiConfiguration)?;
        InvokeEndpoint {
            origin: Origin {
                https: false,
                host: addr.ip().to_string(),
                port: addr.port(),
                host_header: addr.to_string(),
                ip: Some(addr.ip()),
            },
            region,
            credentials: None,
        }
    } else {
        let origin = match &lambda.endpoint {
            Some(o) => o.clone(),
            None => {
                let host = format!("lambda.{region}.amazonaws.com");
                Origin {
                    https: true,
                    host_header: host.clone(),
                    host,
                    port: 443,
                    ip: None,
                }
            }
        };
        InvokeEndpoint {
            origin,
            region,
            credentials: lambda.credentials.clone(),
        }
    };
    // AWS's regional endpoint is https: the same rustls client as HTTP integrations.
    let addr = worker
        .pool
        .endpoint(&endpoint.origin, integration.tls.as_ref())
        .map_err(|_| Reject::ApiConfiguration)?;
    let mut r = std::mem::take(&mut scratch.backend_request);
    let function = if lambda.is_local(&f.name) {
        f.name.as_str()
    } else {
        f.full.as_str()
    };
    // A signing failure (a header over the signer's limits) is a configuration fault: 500.
    write_invoke_request(
        &endpoint,
        function,
        f.qualifier.as_deref(),
        kind,
        payload,
        std::time::SystemTime::now(),
        &mut r,
    )
    .map_err(|_| Reject::ApiConfiguration)?;
    let (res, buf) = worker
        .pool
        .exchange(addr, r, false, integration.timeout, &mut scratch.backend)
        .await;
    scratch.backend_request = buf;
    res.map_err(upstream_reject)
}

/// Builds the proxy event for this request into `out`.
fn build_event(lambda: &LambdaSettings, req: &Request<'_>, t: &Target<'_, '_>, out: &mut Vec<u8>) {
    let params: Vec<(&str, &str)> = t
        .params
        .iter()
        .filter_map(|(k, v)| Some((k, std::str::from_utf8(v).ok()?)))
        .collect();
    let request_time = RequestTime::now();
    let resource_id = short_id(t.method.resource_path.as_bytes(), t.api.id.as_bytes());
    let deployment_id = short_id(t.stage.name.as_bytes(), t.api.id.as_bytes());
    let source_ip = req.client.ip().to_string();
    let e = EventRequest {
        method: req.method,
        resource_path: &t.method.resource_path,
        path: if t.stage_path.is_empty() {
            "/"
        } else {
            t.stage_path
        },
        full_path: req.path,
        query: req.query,
        headers: req.headers,
        path_params: &params,
        stage_variables: &t.stage.variables,
        body: req.body,
        body_base64: is_binary(&t.api.binary_media_types, req.header("content-type")),
        context: EventContext {
            account_id: &lambda.account_id,
            api_id: &t.api.id,
            deployment_id: &deployment_id,
            domain_name: req.header_str("host").unwrap_or(""),
            extended_request_id: t.extended_id(),
            request_id: t.request_id(),
            request_time: request_time.as_str(),
            request_time_epoch: request_time.epoch_ms,
            resource_id: &resource_id,
            stage: &t.stage.name,
            source_ip: &source_ip,
        },
    };
    write_event(&e, out);
}

/// A stable 6-character id in AWS's style (`resourceId`, `deploymentId`): FNV-1a of the
/// inputs in base 36.
fn short_id(a: &[u8], b: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in a.iter().chain(b"/").chain(b) {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..6)
        .map(|i| ALPHABET[((h >> (i * 6)) % 36) as usize] as char)
        .collect()
}
