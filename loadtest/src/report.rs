//! Counting and reporting: per-thread statistics, merged once at the end, printed for people
//! and written as JSON for scripts (`bench/compare.sh` reads it).
//!
//! Each runtime thread owns its own [`Stats`] (no sharing while the load runs); latencies go to
//! HdrHistograms in nanoseconds with 3 significant digits, which keeps p99.9 exact to 0.1 %
//! at a fixed few hundred KiB per histogram.

use crate::client::Failure;
use hdrhistogram::Histogram;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// Highest latency the histograms hold (longer values are clamped): one minute, in ns.
const MAX_LATENCY_NS: u64 = 60_000_000_000;
/// Significant digits kept by the histograms.
const SIGFIGS: u8 = 3;
/// Below this share of the target rate an open-loop run is reported as not achieved.
pub const RATE_ACHIEVED_FRACTION: f64 = 0.98;

/// Errors by kind; a request counts in exactly one of ok, non-2xx or one error kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Errors {
    pub connect: u64,
    pub timeout: u64,
    pub io: u64,
    pub closed: u64,
    pub protocol: u64,
}

impl Errors {
    pub fn total(&self) -> u64 {
        self.connect + self.timeout + self.io + self.closed + self.protocol
    }
}

/// What one thread measured (and, after [`Stats::merge`], the whole run).
#[derive(Debug, Clone)]
pub struct Stats {
    /// Closed loop: from write to last byte. Open loop: from the *intended* send time to the
    /// last byte (corrected for coordinated omission).
    pub latency: Histogram<u64>,
    /// Open loop only: from the actual write to the last byte (uncorrected service time).
    pub service: Histogram<u64>,
    /// Open loop only: how late each request was written relative to its schedule.
    pub send_lag: Histogram<u64>,
    pub ok: u64,
    pub non_2xx: u64,
    pub errors: Errors,
    pub body_bytes: u64,
    pub by_status: BTreeMap<u16, u64>,
    /// The first error seen, verbatim, to make a failing run explainable.
    pub first_error: Option<String>,
    /// Connections opened (the initial ones plus reconnects).
    pub connects: u64,
    /// Nanoseconds from the start of measurement to the last counted response.
    pub last_done_ns: u64,
}

fn histogram() -> Result<Histogram<u64>, hdrhistogram::CreationError> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, SIGFIGS)
}

impl Stats {
    /// Empty statistics.
    pub fn new() -> Result<Self, hdrhistogram::CreationError> {
        Ok(Self {
            latency: histogram()?,
            service: histogram()?,
            send_lag: histogram()?,
            ok: 0,
            non_2xx: 0,
            errors: Errors::default(),
            body_bytes: 0,
            by_status: BTreeMap::new(),
            first_error: None,
            connects: 0,
            last_done_ns: 0,
        })
    }
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
}

impl Stats {
    /// Count one response.
    pub fn response(&mut self, status: u16, body_len: u64, latency: Duration, done_ns: u64) {
        if (200..300).contains(&status) {
            self.ok += 1;
        } else {
            self.non_2xx += 1;
        }
        *self.by_status.entry(status).or_insert(0) += 1;
        self.body_bytes += body_len;
        self.latency.saturating_record(ns(latency));
        self.last_done_ns = self.last_done_ns.max(done_ns);
    }

    /// Open loop: the uncorrected service time and the send lag of the response just counted.
    pub fn open_loop_extra(&mut self, service: Duration, lag: Duration) {
        self.service.saturating_record(ns(service));
        self.send_lag.saturating_record(ns(lag));
    }

    /// Count one failed request (or connection attempt).
    pub fn failure(&mut self, f: &Failure) {
        match f {
            Failure::Connect(_) => self.errors.connect += 1,
            Failure::Timeout => self.errors.timeout += 1,
            Failure::Io(_) => self.errors.io += 1,
            Failure::Closed => self.errors.closed += 1,
            Failure::Protocol(_) | Failure::Unsolicited => self.errors.protocol += 1,
        }
        if self.first_error.is_none() {
            self.first_error = Some(f.to_string());
        }
    }

    /// Fold another thread's numbers into these.
    pub fn merge(&mut self, o: &Stats) {
        // add() fails only when bounds differ; all histograms here share the same bounds.
        let _ = self.latency.add(&o.latency);
        let _ = self.service.add(&o.service);
        let _ = self.send_lag.add(&o.send_lag);
        self.ok += o.ok;
        self.non_2xx += o.non_2xx;
        self.errors.connect += o.errors.connect;
        self.errors.timeout += o.errors.timeout;
        self.errors.io += o.errors.io;
        self.errors.closed += o.errors.closed;
        self.errors.protocol += o.errors.protocol;
        self.body_bytes += o.body_bytes;
        for (k, v) in &o.by_status {
            *self.by_status.entry(*k).or_insert(0) += v;
        }
        if self.first_error.is_none() {
            self.first_error.clone_from(&o.first_error);
        }
        self.connects += o.connects;
        self.last_done_ns = self.last_done_ns.max(o.last_done_ns);
    }

    pub fn responses(&self) -> u64 {
        self.ok + self.non_2xx
    }
}

/// Describes the run, for the report header and the JSON.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub scenario: String,
    pub mode: &'static str,
    pub driver: &'static str,
    pub method: String,
    pub url: String,
    pub connections: usize,
    pub threads: usize,
    pub target_rate: Option<u64>,
    pub requests: Option<u64>,
    pub warmup: Duration,
    /// The measurement window actually used (the full duration, or for `--requests` the time
    /// until the last response).
    pub elapsed: Duration,
}

/// Percentiles in microseconds, with one decimal.
fn us(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    (h.value_at_quantile(q) as f64 / 100.0).round() / 10.0
}

fn latency_json(h: &Histogram<u64>) -> serde_json::Value {
    json!({
        "p50": us(h, 0.50), "p90": us(h, 0.90), "p99": us(h, 0.99), "p99_9": us(h, 0.999),
        "max": if h.is_empty() { 0.0 } else { (h.max() as f64 / 100.0).round() / 10.0 },
        "mean": (h.mean() / 100.0).round() / 10.0,
        "count": h.len(),
    })
}

/// Requests per second over the measurement window.
pub fn rps(s: &Stats, info: &RunInfo) -> f64 {
    let secs = info.elapsed.as_secs_f64();
    if secs > 0.0 {
        s.responses() as f64 / secs
    } else {
        0.0
    }
}

/// Whether an open-loop run reached its target rate.
pub fn rate_achieved(s: &Stats, info: &RunInfo) -> Option<bool> {
    info.target_rate
        .map(|r| rps(s, info) >= r as f64 * RATE_ACHIEVED_FRACTION)
}

/// The JSON result document.
pub fn to_json(s: &Stats, info: &RunInfo) -> serde_json::Value {
    let status: serde_json::Map<String, serde_json::Value> = s
        .by_status
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let mut doc = json!({
        "scenario": info.scenario,
        "mode": info.mode,
        "driver": info.driver,
        "method": info.method,
        "url": info.url,
        "connections": info.connections,
        "threads": info.threads,
        "warmup_s": info.warmup.as_secs_f64(),
        "elapsed_s": info.elapsed.as_secs_f64(),
        "requests": s.responses() + s.errors.total() - s.errors.connect,
        "responses": s.responses(),
        "ok": s.ok,
        "non_2xx": s.non_2xx,
        "errors": s.errors.total(),
        "error_kinds": {
            "connect": s.errors.connect, "timeout": s.errors.timeout, "io": s.errors.io,
            "closed": s.errors.closed, "protocol": s.errors.protocol,
        },
        "first_error": s.first_error,
        "status": status,
        "connects": s.connects,
        "body_bytes": s.body_bytes,
        "rps": (rps(s, info) * 10.0).round() / 10.0,
        "latency_us": latency_json(&s.latency),
    });
    if let Some(obj) = doc.as_object_mut() {
        if let Some(n) = info.requests {
            obj.insert("requests_target".into(), json!(n));
        }
        if let Some(r) = info.target_rate {
            obj.insert("target_rate".into(), json!(r));
            obj.insert("rate_achieved".into(), json!(rate_achieved(s, info)));
            obj.insert("service_time_us".into(), latency_json(&s.service));
            obj.insert("send_lag_us".into(), latency_json(&s.send_lag));
        }
    }
    doc
}

/// The human-readable summary.
pub fn to_text(s: &Stats, info: &RunInfo) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let rate = info
        .target_rate
        .map_or(String::new(), |r| format!(" at {r} req/s"));
    let _ = writeln!(
        o,
        "tollgate-load: {} ({}{rate}), {} connections on {} thread(s), {} driver",
        info.scenario, info.mode, info.connections, info.threads, info.driver
    );
    let _ = writeln!(
        o,
        "  {} {}  measured {:.2} s after {:.2} s warm-up",
        info.method,
        info.url,
        info.elapsed.as_secs_f64(),
        info.warmup.as_secs_f64()
    );
    let _ = writeln!(
        o,
        "  responses {}  (2xx {}, non-2xx {})  errors {}  (connect {}, timeout {}, io {}, closed {}, protocol {})",
        s.responses(),
        s.ok,
        s.non_2xx,
        s.errors.total(),
        s.errors.connect,
        s.errors.timeout,
        s.errors.io,
        s.errors.closed,
        s.errors.protocol
    );
    if let Some(e) = &s.first_error {
        let _ = writeln!(o, "  first error: {e}");
    }
    let _ = writeln!(o, "  requests/s {:.1}", rps(s, info));
    if let Some(n) = info.requests {
        let finished = s.responses() + s.errors.total();
        if finished < n {
            let _ = writeln!(
                o,
                "  WARNING: only {finished} of {n} requests finished before the time cap"
            );
        }
    }
    let line = |name: &str, h: &Histogram<u64>| {
        format!(
            "  {name:<12} p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  (us)\n",
            us(h, 0.5),
            us(h, 0.9),
            us(h, 0.99),
            us(h, 0.999),
            if h.is_empty() {
                0.0
            } else {
                h.max() as f64 / 1000.0
            }
        )
    };
    if let Some(r) = info.target_rate {
        o.push_str(&line("latency*", &s.latency));
        o.push_str(&line("service", &s.service));
        o.push_str(&line("send lag", &s.send_lag));
        o.push_str(
            "  (* from each request's intended send time: corrected for coordinated omission)\n",
        );
        let achieved = rps(s, info);
        if rate_achieved(s, info) == Some(false) {
            let _ = writeln!(
                o,
                "  WARNING: target rate NOT achieved: {achieved:.1} of {r} req/s ({:.1} %)",
                100.0 * achieved / r as f64
            );
        }
    } else {
        o.push_str(&line("latency", &s.latency));
    }
    o
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn info(rate: Option<u64>) -> RunInfo {
        RunInfo {
            scenario: "t".into(),
            mode: "closed-loop",
            driver: "io_uring",
            method: "GET".into(),
            url: "http://127.0.0.1:1/".into(),
            connections: 1,
            threads: 1,
            target_rate: rate,
            requests: None,
            warmup: Duration::ZERO,
            elapsed: Duration::from_secs(2),
        }
    }

    #[test]
    fn counts_merge_and_percentiles() {
        let mut a = Stats::new().unwrap();
        let mut b = Stats::new().unwrap();
        for i in 1..=100u64 {
            a.response(200, 11, Duration::from_micros(i), i);
        }
        b.response(503, 0, Duration::from_micros(1000), 5);
        b.failure(&Failure::Timeout);
        b.failure(&Failure::Protocol(crate::response::ParseError::Chunk));
        a.merge(&b);
        assert_eq!((a.ok, a.non_2xx, a.errors.total()), (100, 1, 2));
        assert_eq!(a.by_status.get(&503), Some(&1));
        assert_eq!(a.body_bytes, 1100);
        assert_eq!(
            a.first_error.as_deref(),
            Some("timeout waiting for the response")
        );
        let j = to_json(&a, &info(None));
        assert_eq!(j["rps"], json!(50.5));
        assert_eq!(j["latency_us"]["p50"], json!(51.0));
        assert_eq!(j["latency_us"]["p99"], json!(100.0));
        assert_eq!(j["error_kinds"]["protocol"], json!(1));
        assert_eq!(j["requests"], json!(103));
    }

    #[test]
    fn rate_shortfall_is_reported() {
        let mut s = Stats::new().unwrap();
        for _ in 0..100 {
            s.response(200, 0, Duration::from_micros(10), 1);
        }
        // 100 responses in 2 s = 50 req/s
        assert_eq!(rate_achieved(&s, &info(Some(50))), Some(true));
        assert_eq!(rate_achieved(&s, &info(Some(100))), Some(false));
        assert!(to_text(&s, &info(Some(100))).contains("target rate NOT achieved: 50.0 of 100"));
        assert!(!to_text(&s, &info(Some(50))).contains("NOT achieved"));
    }
}
