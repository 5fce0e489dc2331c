//! The spine of a request: one function, [`handle`], calls every stage in order:
//! resolve the API and stage → route → limit → cache → integrate (request mapping, backend
//! call, response mapping) → respond. A failure at any stage becomes a gateway response ([`Reject`]).
//!
//! Everything here runs on one core: the per-core [`Worker`] holds that core's snapshot
//! handle, backend pool and response cache; nothing is locked.

mod cache;
mod http;
mod lambda;
mod map;
mod proxy;
mod resolve;
mod respond;
pub mod test_invoke;
pub mod trace;

pub mod gateway_response;

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::sync::Arc;

pub use cache::WorkerCache;
pub use gateway_response::Reject;
pub use map::{media_type, query_last, url_decode};

use self::http::*;
use self::lambda::*;
use self::map::*;
use self::proxy::*;
use self::resolve::*;
use self::respond::*;

use crate::config::{Api, MethodConf, Published, Snapshot, Stage};
use crate::http::request::Request;
use crate::http::response::{
    content_length, date, extended_request_id, header, hex_into, random_u64, request_id,
    status_line,
};
use crate::http::{name_eq, trim_ows};
use crate::integration::http::{Origin, split_url};
use crate::integration::upstream::{BackendResponse, Pool, Sink, StreamFraming, UpstreamError};
use crate::integration::{
    Integration, IntegrationResponse, IntegrationType, ParamLocation, ParamSource, Passthrough,
    ResponseSource, TemplateEntry,
};
use crate::route::{Method, Params};
use crate::template::{ContextValues, Identity, Overrides, RenderState, RequestData};
use monoio::io::AsyncWriteRentExt;
use monoio::net::TcpStream;

/// What the connection does after a response that was streamed.
pub(super) enum Flow {
    /// Go on with the next request (keep-alive permitting).
    Continue,
    /// Close: a streamed response could not be completed.
    Close,
}

/// Proxy integrations have no templates, hence no overrides.
static NO_OVERRIDES: Overrides = Overrides {
    request_headers: Vec::new(),
    request_path: Vec::new(),
    request_querystring: Vec::new(),
    response_status: None,
    response_headers: Vec::new(),
};

/// One core's data-plane state.
#[derive(Debug)]
pub struct Worker {
    published: Arc<Published>,
    generation: Cell<u64>,
    snapshot: RefCell<Arc<Snapshot>>,
    /// Backend connections of this core.
    pub pool: Pool,
    /// This core's stage response caches (docs/caching.md).
    pub cache: WorkerCache,
}

impl Worker {
    /// A worker reading snapshots from `published`, alone in its process and without cache
    /// commands (tests and tools).
    pub fn new(published: Arc<Published>) -> Self {
        Worker::with_cache(published, None, 1)
    }

    /// A worker that is one of `workers` cores, taking cache commands (flush, scrape) from
    /// `commands`.
    pub fn with_cache(
        published: Arc<Published>,
        commands: Option<crossbeam_channel::Receiver<crate::cache::CacheCommand>>,
        workers: usize,
    ) -> Self {
        let (generation, snapshot) = published.load();
        let s = &snapshot.server;
        let pool = Pool::new(s.max_idle_backend_connections, s.connect_timeout);
        let cache = WorkerCache::new(&snapshot, commands, workers);
        Worker {
            published,
            generation: Cell::new(generation),
            snapshot: RefCell::new(snapshot),
            pool,
            cache,
        }
    }

    /// The snapshot to serve the next request with: one atomic load, and a lock only when a
    /// reload published a new one.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        if self.published.generation() != self.generation.get() {
            let (g, s) = self.published.load();
            self.generation.set(g);
            let old = self.snapshot.replace(s.clone());
            self.cache.reconfigure(Some(&old), &s);
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
    /// `Some` only for `tollgate test-invoke`: the stages log into it (trace.rs).
    pub trace: Option<Box<trace::Trace>>,
}

/// What one request resolved to.
struct Target<'s, 'p> {
    api: &'s Api,
    stage: &'s Stage,
    method: &'s MethodConf,
    params: Params<'s, 'p>,
    /// The stage's index in `api.stages`.
    stage_index: usize,
    /// The method's index in `api.methods`.
    method_index: usize,
    /// The method's id in the limiter.
    limit_id: crate::limit::MethodId,
    /// `$context.identity.apiKey`: the key, when the method required one.
    api_key: Option<&'p str>,
    /// `$context.identity.apiKeyId`.
    api_key_id: Option<&'s str>,
    /// The request path after the stage or base path (the event's `path`).
    stage_path: &'p str,
    /// `x-amzn-RequestId` / `$context.requestId`.
    request_id: [u8; 36],
    /// `x-amz-apigw-id` / `$context.extendedRequestId`.
    extended_id: [u8; 16],
}

impl Target<'_, '_> {
    fn request_id(&self) -> &str {
        std::str::from_utf8(&self.request_id).unwrap_or("")
    }
    fn extended_id(&self) -> &str {
        std::str::from_utf8(&self.extended_id).unwrap_or("")
    }
}

/// Handles one request, writing the whole response into `out`. Returns `false` when the
/// connection must close after this response.
pub async fn handle(
    worker: &Worker,
    req: &Request<'_>,
    keep_alive: bool,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
    client: Option<&mut monoio::net::TcpStream>,
) -> bool {
    let snapshot = worker.snapshot();
    let head = req.method == "HEAD";
    let mut target = match resolve(&snapshot, req) {
        Ok(t) => t,
        Err(r) => {
            if let Some(tr) = scratch.trace.as_deref_mut() {
                tr.reject(r);
            }
            gateway_response::write(r, keep_alive, head, out);
            return keep_alive;
        }
    };
    if let Some(tr) = scratch.trace.as_deref_mut() {
        tr.method_request(req, &target);
    }
    // LIMIT: API key, usage plan, token buckets and quota, in one call (src/limit/).
    let limiter = &snapshot.limiter;
    let key = if target.method.api_key_required {
        req.header("x-api-key")
    } else {
        None
    };
    match limiter.check(target.limit_id, key, limiter.now()) {
        Ok(admission) => {
            if let Some(index) = admission.key {
                target.api_key = key.and_then(|k| std::str::from_utf8(k).ok());
                target.api_key_id = limiter.key_id(index);
            }
        }
        Err(rejection) => {
            let r = match rejection {
                crate::limit::Rejection::Throttled => Reject::Throttled,
                crate::limit::Rejection::QuotaExceeded => Reject::QuotaExceeded,
                crate::limit::Rejection::InvalidApiKey => Reject::InvalidApiKey,
            };
            if let Some(tr) = scratch.trace.as_deref_mut() {
                tr.reject(r);
            }
            gateway_response::write(r, keep_alive, head, out);
            return keep_alive;
        }
    }
    // VALIDATE: required parameters, then the body against its model (src/validate/). Before
    // the cache, so an invalid request is refused whatever a valid one stored.
    if let Some(validator) = &target.method.validator {
        let checked = validator.check(req, &target.params);
        if let Some(tr) = scratch.trace.as_deref_mut() {
            tr.validation(req, &checked);
        }
        if let Err(invalid) = checked {
            let (r, detail) = match &invalid {
                crate::validate::Invalid::Parameters(names) => {
                    (Reject::BadRequestParameters, Some(names.as_str()))
                }
                crate::validate::Invalid::Body => (Reject::BadRequestBody, None),
            };
            if let Some(tr) = scratch.trace.as_deref_mut() {
                tr.reject_detail(r, detail);
            }
            gateway_response::write_detail(r, detail, keep_alive, head, out);
            return keep_alive;
        }
    }
    // CACHE: a hit is answered here, after LIMIT; a miss is stored once the integration answers.
    let pending = match cache::lookup(worker, req, &target, keep_alive, out) {
        Ok(cache::Step::Answered) => return keep_alive,
        Ok(cache::Step::Miss(p)) => Some(p),
        Ok(cache::Step::Bypass) => None,
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
                let idle = snapshot.server.idle_timeout;
                match http_proxy(worker, req, &target, keep_alive, scratch, out, client, idle).await
                {
                    Ok(Flow::Continue) => Ok(()),
                    // A streamed response broke after its head was sent: only closing is left.
                    Ok(Flow::Close) => return false,
                    Err(r) => Err(r),
                }
            }
            IntegrationType::Http => http(worker, req, &target, keep_alive, scratch, out).await,
            IntegrationType::Mock => mock(req, &target, keep_alive, scratch, out),
            IntegrationType::AwsProxy => {
                lambda_proxy(
                    worker,
                    &snapshot.lambda,
                    req,
                    &target,
                    keep_alive,
                    scratch,
                    out,
                )
                .await
            }
            IntegrationType::Aws => {
                lambda_custom(
                    worker,
                    &snapshot.lambda,
                    req,
                    &target,
                    keep_alive,
                    scratch,
                    out,
                )
                .await
            }
        }
    };
    match (result, pending) {
        (Err(r), _) => {
            if let Some(tr) = scratch.trace.as_deref_mut() {
                tr.reject(r);
            }
            gateway_response::write(r, keep_alive, head, out);
        }
        (Ok(()), Some(p)) => cache::store(worker, &target, p, out),
        (Ok(()), None) => {}
    }
    keep_alive
}
