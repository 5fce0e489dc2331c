//! The spine of a request: one function, [`handle`], calls every stage in order:
//! resolve the API and stage → route → integrate (request mapping, backend call, response
//! mapping) → respond. A failure at any stage becomes a gateway response ([`Reject`]).
//!
//! Everything here runs on one core: the per-core [`Worker`] holds that core's snapshot
//! handle and backend pool; nothing is locked.

mod http;
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

pub use gateway_response::Reject;

use self::http::*;
use self::map::*;
use self::proxy::*;
use self::resolve::*;
use self::respond::*;

use crate::config::{Api, MethodConf, Published, Snapshot, Stage};
use crate::http::request::Request;
use crate::http::response::{
    content_length, date, extended_request_id, header, random_u64, request_id, status_line,
};
use crate::http::{name_eq, trim_ows};
use crate::integration::http::split_url;
use crate::integration::upstream::{BackendResponse, Pool, UpstreamError};
use crate::integration::{
    Integration, IntegrationResponse, IntegrationType, ParamLocation, ParamSource, Passthrough,
    ResponseSource, TemplateEntry,
};
use crate::route::{Method, Params};
use crate::template::{ContextValues, Identity, Overrides, RenderState, RequestData};

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
}

impl Worker {
    /// A worker reading snapshots from `published`.
    pub fn new(published: Arc<Published>) -> Self {
        let (generation, snapshot) = published.load();
        let s = &snapshot.server;
        let pool = Pool::new(s.max_idle_backend_connections, s.connect_timeout);
        Worker {
            published,
            generation: Cell::new(generation),
            snapshot: RefCell::new(snapshot),
            pool,
        }
    }

    /// The snapshot to serve the next request with: one atomic load, and a lock only when a
    /// reload published a new one.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        if self.published.generation() != self.generation.get() {
            let (g, s) = self.published.load();
            self.generation.set(g);
            *self.snapshot.borrow_mut() = s;
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
) -> bool {
    let snapshot = worker.snapshot();
    let head = req.method == "HEAD";
    let target = match resolve(&snapshot, req) {
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
    let integration = &target.method.integration;
    let result = if integration.illegal_header_mapping {
        Err(Reject::ApiConfiguration)
    } else {
        match integration.kind {
            IntegrationType::HttpProxy => {
                http_proxy(worker, req, &target, keep_alive, scratch, out).await
            }
            IntegrationType::Http => http(worker, req, &target, keep_alive, scratch, out).await,
            IntegrationType::Mock => mock(req, &target, keep_alive, scratch, out),
            IntegrationType::Aws | IntegrationType::AwsProxy => Err(Reject::ApiConfiguration),
        }
    };
    if let Err(r) = result {
        if let Some(tr) = scratch.trace.as_deref_mut() {
            tr.reject(r);
        }
        gateway_response::write(r, keep_alive, head, out);
    }
    keep_alive
}
