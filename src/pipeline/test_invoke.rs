//! `tollgate test-invoke`: one request through the whole pipeline in-process, like AWS's
//! TestInvokeMethod (API: TestInvokeMethod), with a [`Trace`] attached.
//!
//! There is no client socket: the request is built here and handed to [`handle`] on a
//! one-off monoio runtime with its own [`Worker`], so routing, mapping and the backend call
//! (a real one) are exactly the served path's. The method response is read back from the
//! bytes `handle` wrote.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use super::trace::{MAX_LOGGED_HEADERS, Stage, Trace, body_text, java_map};
use super::{Scratch, Worker, default_api, handle};
use crate::config::{Published, Snapshot};
use crate::http::request::{Request, split_target};

/// Headers a test invocation may carry (the served path allows as many per request).
pub const MAX_HEADERS: usize = 100;

/// The request to invoke: a resource path as on AWS (`/pets/1?x=y`), not a URL.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// The HTTP method.
    pub method: String,
    /// The path below the stage, with an optional query string.
    pub path: String,
    /// Header lines, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The stage; the API's first stage when `None`.
    pub stage: Option<String>,
}

/// What the invocation produced.
#[derive(Debug)]
pub struct Outcome {
    /// The method response status.
    pub status: u16,
    /// The method response headers, as written.
    pub headers: Vec<(String, String)>,
    /// The method response body.
    pub body: Vec<u8>,
    /// The execution log and the stage marks.
    pub trace: Trace,
    /// From the start of the pipeline to the written response.
    pub total: Duration,
}

/// Why an invocation could not run at all (a bad path or no API; a gateway error response
/// is an [`Outcome`], not this).
#[derive(Debug)]
pub enum InvokeError {
    /// The config has no API.
    NoApi,
    /// `--stage` names no stage of the API.
    NoStage(String),
    /// Too many headers.
    TooManyHeaders,
    /// The monoio runtime could not start.
    Runtime(std::io::Error),
    /// The pipeline wrote something that is not an HTTP response (a bug).
    BadResponse,
}

impl std::fmt::Display for InvokeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvokeError::NoApi => write!(f, "the config defines no API"),
            InvokeError::NoStage(s) => write!(f, "the API has no stage `{s}`"),
            InvokeError::TooManyHeaders => write!(f, "more than {MAX_HEADERS} headers"),
            InvokeError::Runtime(e) => write!(f, "cannot start the io runtime: {e}"),
            InvokeError::BadResponse => write!(f, "the pipeline wrote no valid HTTP response"),
        }
    }
}

impl std::error::Error for InvokeError {}

/// Runs `inv` through the pipeline of `snapshot`, calling real backends.
pub fn invoke(snapshot: Snapshot, inv: &Invocation) -> Result<Outcome, InvokeError> {
    if inv.headers.len() > MAX_HEADERS {
        return Err(InvokeError::TooManyHeaders);
    }
    let headers: Vec<httparse::Header<'_>> = inv
        .headers
        .iter()
        .map(|(n, v)| httparse::Header {
            name: n,
            value: v.as_bytes(),
        })
        .collect();
    // The same API choice as the default endpoint (x-apigw-api-id, Host, else the first).
    let client = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let probe = Request {
        method: &inv.method,
        path: "/",
        query: None,
        headers: &headers,
        body: &[],
        http11: true,
        client,
        client_ip: "127.0.0.1",
    };
    let api = default_api(&snapshot, &probe).ok_or(InvokeError::NoApi)?;
    let stage = match &inv.stage {
        Some(s) => api
            .stages
            .iter()
            .find(|st| st.name == *s)
            .ok_or_else(|| InvokeError::NoStage(s.clone()))?,
        None => api.stages.first().ok_or(InvokeError::NoApi)?,
    };
    let sep = if inv.path.starts_with('/') { "" } else { "/" };
    let target = format!("/{}{sep}{}", stage.name, inv.path);
    let (path, query) = split_target(&target);
    let req = Request {
        method: &inv.method,
        path,
        query,
        headers: &headers,
        body: &inv.body,
        http11: true,
        client,
        client_ip: "127.0.0.1",
    };
    let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .build()
        .map_err(InvokeError::Runtime)?;
    let published = Arc::new(Published::new(snapshot));
    let (out, traced) = rt.block_on(async {
        let worker = Worker::new(published);
        let mut scratch = Scratch {
            trace: Some(Box::new(Trace::new())),
            ..Scratch::default()
        };
        let mut out = Vec::new();
        handle(&worker, &req, true, &mut scratch, &mut out, None).await;
        (out, scratch.trace.take())
    });
    let mut trace = traced.map_or_else(Trace::new, |b| *b);
    if trace.marks.last().map(|m| m.0) == Some(Stage::Integration) {
        trace.mark(Stage::ResponseMapping);
    }
    let total = trace.elapsed();
    let mut hs = [httparse::EMPTY_HEADER; MAX_LOGGED_HEADERS];
    let mut parsed = httparse::Response::new(&mut hs);
    let n = match parsed.parse(&out) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return Err(InvokeError::BadResponse),
    };
    let status = parsed.code.ok_or(InvokeError::BadResponse)?;
    let headers = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect::<Vec<_>>();
    if trace.request_id.is_empty() {
        if let Some((_, v)) = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-amzn-RequestId"))
        {
            trace.request_id = v.clone();
        }
    }
    Ok(Outcome {
        status,
        headers,
        body: out[n..].to_vec(),
        trace,
        total,
    })
}

impl Outcome {
    /// The printed report: the method response, AWS's execution log, then the timings.
    pub fn report(&self) -> String {
        let mut s = String::new();
        let headers = java_map(self.headers.iter().cloned());
        let body = body_text(&self.body);
        let _ = writeln!(s, "Status: {}", self.status);
        let _ = writeln!(s, "Latency: {:.3} ms", self.total.as_secs_f64() * 1000.0);
        let _ = writeln!(s, "Response headers: {headers}");
        let _ = writeln!(s, "Response body: {body}");
        let _ = writeln!(s);
        let _ = writeln!(s, "Execution log for request {}", self.trace.request_id);
        for line in &self.trace.lines {
            let _ = writeln!(s, "{line}");
        }
        if !self.trace.rejected {
            let _ = writeln!(s, "Method response body after transformations: {body}");
            let _ = writeln!(s, "Method response headers: {headers}");
            let _ = writeln!(s, "Successfully completed execution");
        }
        let _ = writeln!(s, "Method completed with status: {}", self.status);
        let _ = writeln!(s);
        let _ = writeln!(s, "Timing per stage (microseconds):");
        let mut prev = Duration::ZERO;
        for (stage, at) in &self.trace.marks {
            let spent = at.saturating_sub(prev);
            let _ = writeln!(s, "  {:<17} {:>9}", stage.name(), spent.as_micros());
            prev = *at;
        }
        let _ = writeln!(s, "  {:<17} {:>9}", "total", self.total.as_micros());
        s
    }
}
