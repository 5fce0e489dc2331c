//! CACHE: the stage response cache on the request path (DG:api-gateway-caching,
//! aws-behavior §8, docs/caching.md). It runs after LIMIT, so API keys, throttles and quotas
//! apply to a hit as to any request; a hit skips the integration (request mapping, backend
//! or Lambda call, response mapping).
//!
//! [`lookup`] decides per request: not cached ([`Step::Bypass`]), answered from the cache
//! ([`Step::Answered`]), or a miss to [`store`] once the integration has written its
//! response. Entries hold the response as written, minus the headers every response gets
//! fresh (`Date`, `Connection`, `x-amzn-RequestId`, `x-amz-apigw-id`), which a hit writes in
//! the same place, so a hit and a miss differ only in those values.
//!
//! Who "may invalidate" with `Cache-Control: max-age=0`: AWS asks IAM for
//! `execute-api:InvalidateCache`. Tollgate has no IAM yet, so nobody holds that permission:
//! a client invalidates only where `requireAuthorizationForCacheControl` is false; elsewhere
//! `unauthorizedCacheControlHeaderStrategy` applies.

use std::cell::RefCell;

use crossbeam_channel::Receiver;

use super::*;
use crate::cache::{
    CacheCommand, CacheDecision, CachedResponse, CoreCache, KeyBuilder, KeyParamSource,
    MAX_CACHED_BODY_BYTES, MetricKey, OwnedCacheKey, StoreRequest,
    UNAUTHORIZED_CACHE_CONTROL_WARNING, decide,
};

/// No caller holds `execute-api:InvalidateCache` until IAM authorization exists (module docs).
const CALLER_MAY_INVALIDATE: bool = false;

/// What `decide` needs to see when some `Cache-Control` line asks for `max-age=0`.
const MAX_AGE_ZERO: &[u8] = b"max-age=0";

/// The four per-request headers `common_headers` writes, in order; `Date` has a fixed width.
const DATE_LINE_LEN: usize = "Date: ".len() + 29 + 2;

/// One core's cache state, owned by its [`Worker`].
#[derive(Debug)]
pub struct WorkerCache {
    core: RefCell<CoreCache>,
    keys: RefCell<KeyBuilder>,
    /// Reused to assemble an entry before it is copied into its own allocation.
    entry: RefCell<Vec<u8>>,
    commands: Option<Receiver<CacheCommand>>,
    /// Worker cores in this process: a stage's budget is split between them.
    workers: usize,
    clock: quanta::Clock,
    epoch: quanta::Instant,
}

impl WorkerCache {
    /// This core's cache, configured for `snapshot`, taking commands from `commands`.
    pub fn new(
        snapshot: &Snapshot,
        commands: Option<Receiver<CacheCommand>>,
        workers: usize,
    ) -> Self {
        let core = CoreCache::new();
        let keys = core.key_builder();
        let clock = quanta::Clock::new();
        let epoch = clock.now();
        let cache = WorkerCache {
            core: RefCell::new(core),
            keys: RefCell::new(keys),
            entry: RefCell::new(Vec::new()),
            commands,
            workers: workers.max(1),
            clock,
            epoch,
        };
        cache.reconfigure(None, snapshot);
        cache
    }

    /// Follows a reload: stages keep their entries only if the same stage keeps the same id
    /// and budget ([`CoreCache::configure`] empties resized ones, as AWS does).
    pub fn reconfigure(&self, old: Option<&Snapshot>, new: &Snapshot) {
        let mut core = self.core.borrow_mut();
        core.configure(&new.cache_budgets(self.workers));
        if let Some(old) = old {
            for stage in &new.cache_stages {
                let same = old
                    .cache_stages
                    .get(stage.id as usize)
                    .is_some_and(|o| o.identity == stage.identity);
                if !same {
                    core.apply(CacheCommand::Flush { stage: stage.id });
                }
            }
        }
    }

    /// Applies waiting flush and scrape commands (bounded per call); returns how many ran.
    pub fn drain_commands(&self) -> usize {
        match &self.commands {
            Some(rx) => self.core.borrow_mut().drain_commands(rx),
            None => 0,
        }
    }

    /// Monotonic nanoseconds since this worker started, the cache's clock.
    fn now(&self) -> u64 {
        self.clock
            .now()
            .saturating_duration_since(self.epoch)
            .as_nanos() as u64
            + crate::clock::skew_ns()
    }
}

/// A cacheable request whose response must be stored after the integration.
pub(super) struct Pending {
    key: OwnedCacheKey,
    stage: u32,
    ttl_nanos: u64,
    now: u64,
    /// `SUCCEED_WITH_RESPONSE_HEADER` ignored the client's `max-age=0`: say so.
    warn: bool,
    /// Where this response starts in `out` (earlier pipelined responses precede it).
    start: usize,
}

/// What the cache did with a request.
pub(super) enum Step {
    /// The method is not cached for this request.
    Bypass,
    /// A hit: the response is written.
    Answered,
    /// Call the integration, then [`store`].
    Miss(Pending),
}

/// The CACHE stage: looks the request up, answering a hit into `out`.
pub(super) fn lookup(
    worker: &Worker,
    req: &Request<'_>,
    t: &Target<'_, '_>,
    keep_alive: bool,
    out: &mut Vec<u8>,
) -> Result<Step, Reject> {
    let (Some(stage), Some(policy)) =
        (t.stage.cache_id, t.stage.cache_policies.get(t.method_index))
    else {
        return Ok(Step::Bypass);
    };
    if !policy.applies_to(req.method.as_bytes()) {
        return Ok(Step::Bypass);
    }
    let cache = &worker.cache;
    cache.drain_commands();
    // RFC 9110 §5.3: several Cache-Control lines form one list; any may carry max-age=0.
    let asks = req.headers.iter().any(|h| {
        name_eq(h.name, "cache-control") && crate::cache::control::requests_invalidation(h.value)
    });
    let decision = decide(
        asks.then_some(MAX_AGE_ZERO),
        policy.require_authorization,
        CALLER_MAY_INVALIDATE,
        policy.unauthorized_strategy,
    );
    let metric = MetricKey {
        stage,
        method: t.method_index as u32,
    };
    let now = cache.now();
    let mut keys = cache.keys.borrow_mut();
    build_key(&mut keys, req, t);
    let key = keys.key();
    let mut core = cache.core.borrow_mut();
    let warn = match decision {
        CacheDecision::Reject403 => return Err(Reject::CacheInvalidationDenied),
        CacheDecision::Refresh => {
            core.count_miss(metric);
            false
        }
        CacheDecision::UseCache | CacheDecision::UseCacheWithWarning => {
            let warn = decision == CacheDecision::UseCacheWithWarning;
            if let Some(hit) = core.lookup(stage, metric, &key, now) {
                write_hit(&hit, req, t, keep_alive, warn, out);
                return Ok(Step::Answered);
            }
            warn
        }
    };
    Ok(Step::Miss(Pending {
        key: key.to_owned_key(),
        stage,
        ttl_nanos: policy.ttl_nanos(),
        now,
        warn,
        start: out.len(),
    }))
}

/// The key: partition 0 (no canary yet), the namespace, the request's method (an `ANY`
/// method caches each method apart), then each declared parameter's value in order.
fn build_key(keys: &mut KeyBuilder, req: &Request<'_>, t: &Target<'_, '_>) {
    let spec = &t.method.cache_key;
    keys.start(0, &spec.namespace, req.method.as_bytes());
    for p in &spec.params {
        match p.source {
            KeyParamSource::Path => keys.param(t.params.get(&p.name)),
            KeyParamSource::QueryString => {
                let v = query_last(req.query, &p.name);
                keys.param(v.as_deref().map(str::as_bytes))
            }
            // The last line, as `method.request.header.X` mappings read it.
            KeyParamSource::Header => keys.param(
                req.headers
                    .iter()
                    .rev()
                    .find(|h| name_eq(h.name, &p.name))
                    .map(|h| h.value),
            ),
        };
    }
}

/// Writes a cached response with this request's `Date`, `Connection` and ids where the miss
/// had them: before the last header line (`Content-Length`).
fn write_hit(
    hit: &CachedResponse,
    req: &Request<'_>,
    t: &Target<'_, '_>,
    keep_alive: bool,
    warn: bool,
    out: &mut Vec<u8>,
) {
    let head = hit.head();
    let split = last_line_start(head);
    out.extend_from_slice(&head[..split]);
    common_headers(t, keep_alive, out);
    if warn {
        out.extend_from_slice(UNAUTHORIZED_CACHE_CONTROL_WARNING);
    }
    out.extend_from_slice(&head[split..]);
    if req.method != "HEAD" {
        out.extend_from_slice(hit.body());
    }
}

/// Where the last header line of a stored head (`...\r\nContent-Length: n\r\n\r\n`) starts.
fn last_line_start(head: &[u8]) -> usize {
    let before_blank = head.len().saturating_sub(4);
    memchr::memmem::rfind(&head[..before_blank], b"\r\n").map_or(0, |i| i + 2)
}

/// Stores the response the integration just wrote at `out[p.start..]` (the cache keeps only
/// 2xx up to 1 MiB), and adds the warning header when `max-age=0` was ignored.
pub(super) fn store(worker: &Worker, t: &Target<'_, '_>, p: Pending, out: &mut Vec<u8>) {
    let written = out.get(p.start..).unwrap_or(&[]);
    let Some(parts) = split_response(written, &t.request_id, &t.extended_id) else {
        return;
    };
    // Not copied only to be refused (the store refuses bodies over 1 MiB, AWS's limit).
    if written.len() - parts.body_start > MAX_CACHED_BODY_BYTES {
        return;
    }
    let response = &out[p.start..];
    let mut entry = worker.cache.entry.borrow_mut();
    entry.clear();
    entry.extend_from_slice(&response[..parts.common_start]);
    entry.extend_from_slice(&response[parts.common_end..parts.body_start]);
    let body_start = entry.len();
    entry.extend_from_slice(&response[parts.body_start..]);
    worker.cache.core.borrow_mut().store(
        p.stage,
        &p.key.as_key(),
        StoreRequest {
            status: parts.status,
            bytes: &entry,
            body_start,
            ttl_nanos: p.ttl_nanos,
        },
        p.now,
    );
    if p.warn {
        let at = p.start + parts.common_end;
        out.splice(at..at, UNAUTHORIZED_CACHE_CONTROL_WARNING.iter().copied());
    }
}

/// Offsets within one written response.
struct Parts {
    status: u16,
    /// The `Date` line of the per-request block.
    common_start: usize,
    /// Just after the `x-amz-apigw-id` line.
    common_end: usize,
    body_start: usize,
}

/// Finds the status, the per-request header block and the body of a response written by an
/// integration; `None` when it does not have the expected shape (then it is not stored).
fn split_response(response: &[u8], request_id: &[u8], extended_id: &[u8]) -> Option<Parts> {
    let status = std::str::from_utf8(response.get(9..12)?)
        .ok()?
        .parse()
        .ok()?;
    let body_start = memchr::memmem::find(response, b"\r\n\r\n")? + 4;
    let head = &response[..body_start];
    // The request id is random per request, so this block is the one common_headers wrote.
    let mut ids = Vec::with_capacity(80);
    ids.extend_from_slice(b"\r\nx-amzn-RequestId: ");
    ids.extend_from_slice(request_id);
    ids.extend_from_slice(b"\r\nx-amz-apigw-id: ");
    ids.extend_from_slice(extended_id);
    ids.extend_from_slice(b"\r\n");
    let ids_at = memchr::memmem::find(head, &ids)?;
    let common_end = ids_at + ids.len();
    // Before the ids: `Date: <29 bytes>\r\nConnection: keep-alive|close`.
    let connection_start = memchr::memmem::rfind(&head[..ids_at], b"\r\n")? + 2;
    let common_start = connection_start.checked_sub(DATE_LINE_LEN)?;
    let shape_ok = head[common_start..].starts_with(b"Date: ")
        && head[connection_start..].starts_with(b"Connection: ")
        // One line (Content-Length) between the block and the blank line, as write_hit expects.
        && memchr::memmem::find_iter(&head[common_end..], b"\r\n").count() == 2;
    shape_ok.then_some(Parts {
        status,
        common_start,
        common_end,
        body_start,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const ID: &[u8; 36] = b"11111111-2222-3333-4444-555555555555";
    const EXT: &[u8; 16] = b"AbCdEfGhIjKlMnO=";

    fn response(connection: &str, extra_tail: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
             Date: Thu, 01 Jan 1970 00:00:00 GMT\r\nConnection: {connection}\r\n\
             x-amzn-RequestId: {}\r\nx-amz-apigw-id: {}\r\n{extra_tail}\
             Content-Length: 2\r\n\r\nok",
            std::str::from_utf8(ID).unwrap(),
            std::str::from_utf8(EXT).unwrap()
        )
        .into_bytes()
    }

    #[test]
    fn finds_the_per_request_block_and_the_body() {
        for connection in ["keep-alive", "close"] {
            let r = response(connection, "");
            let p = split_response(&r, ID, EXT).unwrap();
            assert_eq!(p.status, 200);
            assert_eq!(&r[p.body_start..], b"ok");
            let stored = [&r[..p.common_start], &r[p.common_end..]].concat();
            assert_eq!(
                stored,
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\nok"
            );
            // A hit puts the fresh block back before the last header line.
            let head = &stored[..stored.len() - 2];
            let split = last_line_start(head);
            assert_eq!(&head[split..], b"Content-Length: 2\r\n\r\n");
            let rebuilt = [
                &head[..split],
                &r[p.common_start..p.common_end],
                &head[split..],
                b"ok",
            ]
            .concat();
            assert_eq!(rebuilt, r);
        }
    }

    #[test]
    fn other_shapes_are_not_stored() {
        let other_id = b"99999999-2222-3333-4444-555555555555";
        assert!(split_response(&response("close", ""), other_id, EXT).is_none());
        // Two lines after the block: a hit could not put it back in the same place.
        assert!(split_response(&response("close", "X-Late: 1\r\n"), ID, EXT).is_none());
        assert!(split_response(b"HTTP/1.1 200 OK\r\n", ID, EXT).is_none());
        assert!(split_response(b"", ID, EXT).is_none());
    }
}
