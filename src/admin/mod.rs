//! The admin endpoint: health, usage (AWS `GetUsage`-shaped), and the stage caches: flush a
//! stage (AWS `FlushStageCache`) and read `CacheHitCount`/`CacheMissCount`. With
//! `serve --test-clock`, also `POST /test/clock?advance=SECONDS` ([`crate::clock`]).
//!
//! Control plane only: a plain blocking thread on its own (loopback) listener, one request per
//! connection, bounded reads and timeouts. It reads the current snapshot like the workers do
//! and never touches a worker's memory: cache commands go down each worker's channel, and the
//! workers answer between requests.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::cache::{CacheBroadcast, CacheCommand, CounterSnapshot};
use crate::config::{Published, Snapshot};

/// Largest admin request head read.
const MAX_REQUEST: usize = 16 * 1024;
/// Read and write timeout per admin connection.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a cache command waits for the workers' answers (an idle worker looks at its
/// channel every 20 ms; a busy one between requests).
const WORKER_ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// Starts the admin thread on `addr`; returns the bound address.
pub fn spawn(
    addr: SocketAddr,
    published: Arc<Published>,
    cache: CacheBroadcast,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new()
        .name("tollgate-admin".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if let Err(e) = serve(stream, &published, &cache) {
                    crate::warn!("tollgate: admin: {e}");
                }
            }
        })?;
    Ok(bound)
}

fn serve(
    mut stream: TcpStream,
    published: &Published,
    cache: &CacheBroadcast,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let (method, target) = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => {
                break (
                    req.method.unwrap_or("").to_string(),
                    req.path.unwrap_or("/").to_string(),
                );
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_REQUEST => continue,
            _ => return respond(&mut stream, 400, r#"{"message":"Bad Request"}"#),
        }
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let param = |name: &str| {
        query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == name).then(|| crate::pipeline::url_decode(v).into_owned())
        })
    };
    match (method.as_str(), path) {
        ("GET", "/health") => respond(&mut stream, 200, r#"{"status":"ok"}"#),
        ("GET", "/usage") => {
            let (_, snapshot) = published.load();
            let (Some(plan), Some(start), Some(end)) =
                (param("usagePlanId"), param("startDate"), param("endDate"))
            else {
                return respond(
                    &mut stream,
                    400,
                    r#"{"message":"usagePlanId, startDate and endDate (YYYY-MM-DD) are required"}"#,
                );
            };
            let limiter = &snapshot.limiter;
            match limiter.usage(&plan, &start, &end, limiter.now()) {
                Some(mut usage) => {
                    if let Some(key) = param("keyId") {
                        if let Some(items) = usage.get_mut("items").and_then(|i| i.as_object_mut())
                        {
                            items.retain(|k, _| *k == key);
                        }
                    }
                    respond(&mut stream, 200, &usage.to_string())
                }
                None => respond(
                    &mut stream,
                    404,
                    r#"{"message":"Invalid Usage Plan ID specified, or a date range that is not YYYY-MM-DD within 90 days"}"#,
                ),
            }
        }
        ("POST", "/cache/flush") => {
            let (_, snapshot) = published.load();
            let (Some(api_id), Some(stage)) = (param("apiId"), param("stage")) else {
                return respond(
                    &mut stream,
                    400,
                    r#"{"message":"apiId and stage are required"}"#,
                );
            };
            let (status, body) = flush(&snapshot, cache, &api_id, &stage);
            respond(&mut stream, status, &body.to_string())
        }
        ("GET", "/cache/stats") => {
            let (_, snapshot) = published.load();
            let body = stats(
                &snapshot,
                cache,
                param("apiId").as_deref(),
                param("stage").as_deref(),
            );
            respond(&mut stream, 200, &body.to_string())
        }
        // The test clock (`serve --test-clock` only): moves throttles, quotas and cache TTLs
        // forward, so tests cross a quota period or a TTL without sleeping.
        ("POST", "/test/clock") if crate::clock::test_clock_enabled() => {
            match param("advance").and_then(|s| s.parse::<u64>().ok()) {
                Some(secs) => {
                    let skew = crate::clock::advance(secs).unwrap_or(0);
                    respond(&mut stream, 200, &format!(r#"{{"skewSeconds":{skew}}}"#))
                }
                None => respond(
                    &mut stream,
                    400,
                    r#"{"message":"advance=SECONDS (a whole number) is required"}"#,
                ),
            }
        }
        _ => respond(&mut stream, 404, r#"{"message":"Not Found"}"#),
    }
}

/// Asks every worker for its counters: (asked, answered, merged counts). Commands are applied
/// in order per worker, so an answer also proves that every earlier command (a flush) ran.
fn ask_workers(cache: &CacheBroadcast) -> (usize, usize, CounterSnapshot) {
    let (reply, answers) = crossbeam_channel::unbounded();
    let asked = cache.send(&CacheCommand::Scrape { reply });
    let deadline = std::time::Instant::now() + WORKER_ANSWER_TIMEOUT;
    let mut total = CounterSnapshot::default();
    let mut answered = 0;
    while answered < asked {
        match answers.recv_deadline(deadline) {
            Ok(part) => {
                total.merge(&part);
                answered += 1;
            }
            Err(_) => break,
        }
    }
    (asked, answered, total)
}

/// `POST /cache/flush?apiId=&stage=`: every core drops the stage's entries. Answers 202, as
/// `FlushStageCache` does, once the workers have applied it (or the wait ran out).
fn flush(
    snapshot: &Snapshot,
    cache: &CacheBroadcast,
    api_id: &str,
    stage: &str,
) -> (u16, serde_json::Value) {
    let Some(api) = snapshot.apis.iter().find(|a| a.id == api_id) else {
        return (
            404,
            serde_json::json!({"message": "Invalid API identifier specified"}),
        );
    };
    let Some(found) = api.stages.iter().find(|s| s.name == stage) else {
        return (
            404,
            serde_json::json!({"message": "Invalid Stage identifier specified"}),
        );
    };
    let Some(id) = found.cache_id else {
        return (
            400,
            serde_json::json!({"message": format!("stage {stage} of API {api_id} has no cache (cacheClusterEnabled is off)")}),
        );
    };
    let reached = cache.flush_stage(id);
    let (_, flushed, _) = ask_workers(cache);
    (
        202,
        serde_json::json!({"apiId": api_id, "stage": stage, "workers": reached, "flushed": flushed}),
    )
}

/// `GET /cache/stats[?apiId=&stage=]`: `CacheHitCount` and `CacheMissCount` per stage and
/// method, summed over the workers that answered.
fn stats(
    snapshot: &Snapshot,
    cache: &CacheBroadcast,
    api_id: Option<&str>,
    stage: Option<&str>,
) -> serde_json::Value {
    let (asked, answered, counts) = ask_workers(cache);
    let mut items = Vec::new();
    for (key, hm) in &counts.counts {
        let Some(cached) = snapshot.cache_stages.get(key.stage as usize) else {
            continue;
        };
        let Some(api) = snapshot.apis.get(cached.api) else {
            continue;
        };
        let (Some(st), Some(method)) = (
            api.stages.get(cached.stage),
            api.methods.get(key.method as usize),
        ) else {
            continue;
        };
        if api_id.is_some_and(|a| a != api.id) || stage.is_some_and(|s| s != st.name) {
            continue;
        }
        items.push(serde_json::json!({
            "apiId": api.id,
            "stage": st.name,
            "resourcePath": method.resource_path,
            "httpMethod": method.http_method,
            "CacheHitCount": hm.hits,
            "CacheMissCount": hm.misses,
        }));
    }
    let mut stages = Vec::new();
    for cached in &snapshot.cache_stages {
        let Some(api) = snapshot.apis.get(cached.api) else {
            continue;
        };
        let Some(st) = api.stages.get(cached.stage) else {
            continue;
        };
        if api_id.is_some_and(|a| a != api.id) || stage.is_some_and(|s| s != st.name) {
            continue;
        }
        let cores: Vec<serde_json::Value> = counts
            .stores
            .iter()
            .filter(|(id, _)| *id == cached.id)
            .map(|(_, s)| {
                serde_json::json!({
                    "entries": s.entries,
                    "accountedBytes": s.accounted_bytes,
                    "budgetBytes": s.budget_bytes,
                    "evictions": s.evictions,
                })
            })
            .collect();
        stages.push(serde_json::json!({"apiId": api.id, "stage": st.name, "cores": cores}));
    }
    serde_json::json!({"items": items, "stages": stages, "workers": asked, "answered": answered})
}

fn respond(stream: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        crate::http::response::reason(status),
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())
}
