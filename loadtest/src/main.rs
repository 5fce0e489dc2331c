//! `tollgate-load`: the load generator used to benchmark Tollgate against its peers.
//!
//! A separate program from the gateway, with its own HTTP/1.1 code (`response.rs`), so that it
//! catches the gateway's wire bugs instead of sharing them. Closed-loop mode measures peak
//! throughput at a fixed concurrency; open-loop mode (`--rate`) measures latency at a fixed
//! request rate, corrected for coordinated omission. See `docs/loadtest.md`.
//!
//! ```text
//! tollgate-load --url http://127.0.0.1:18081/ -c 64 -d 10s --json out.json
//! tollgate-load --scenario loadtest/scenarios/proxy.json --target 127.0.0.1:18081 --rate 5000
//! ```

mod client;
mod report;
mod response;
mod run;
mod scenario;

use anyhow::{Context, bail};
use clap::Parser;
use scenario::ScenarioFile;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// Most connections accepted (each holds a socket and a 16 KiB buffer).
const MAX_CONNECTIONS: usize = 65_536;
/// Most runtime threads.
const MAX_THREADS: usize = 256;
/// Highest open-loop rate accepted.
const MAX_RATE: u64 = 10_000_000;
/// Largest request body accepted from the command line or a file.
const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;
/// Time cap for `--requests` runs when no `--duration` is given.
const REQUESTS_MODE_CAP: Duration = Duration::from_secs(60);
/// Delay between spawning the threads and the common start, so they all start together.
const START_DELAY: Duration = Duration::from_millis(50);
/// Extra time the main thread waits for runtime threads past the end before giving up.
const JOIN_GRACE: Duration = Duration::from_secs(10);

/// HTTP/1.1 load generator (closed or open loop) on monoio.
#[derive(Debug, Parser)]
#[command(name = "tollgate-load", version)]
struct Args {
    /// Scenario file (JSON, see loadtest/scenarios/); command-line options override it.
    #[arg(short, long)]
    scenario: Option<PathBuf>,
    /// URL to load, http://host:port/path (overrides the scenario's).
    #[arg(short, long)]
    url: Option<String>,
    /// Replace host:port of the URL, keeping its path (e.g. 127.0.0.1:18081).
    #[arg(long)]
    target: Option<String>,
    /// Request method.
    #[arg(short, long)]
    method: Option<String>,
    /// Extra request header "Name: value" (repeatable; added to the scenario's).
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// Request body; @FILE reads it from a file.
    #[arg(short, long)]
    body: Option<String>,
    /// Concurrent connections.
    #[arg(short, long)]
    connections: Option<usize>,
    /// Runtime threads (one monoio runtime each).
    #[arg(short, long)]
    threads: Option<usize>,
    /// Open loop at this many requests per second in total (default: closed loop).
    #[arg(short, long)]
    rate: Option<u64>,
    /// Measured duration (10s, 500ms, 2m). With --requests, the time cap.
    #[arg(short, long)]
    duration: Option<String>,
    /// Stop after this many measured requests.
    #[arg(short = 'n', long)]
    requests: Option<u64>,
    /// Warm-up before measuring (load is sent, not counted).
    #[arg(short, long)]
    warmup: Option<String>,
    /// Connect timeout.
    #[arg(long, default_value = "2s")]
    connect_timeout: String,
    /// Timeout for a whole response once the request is written.
    #[arg(long, default_value = "5s")]
    timeout: String,
    /// Write the result as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Exit with status 1 if any request failed or got a non-2xx response.
    #[arg(long)]
    strict: bool,
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tollgate-load: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let file = match &args.scenario {
        Some(p) => ScenarioFile::load(p)?,
        None => ScenarioFile::default(),
    };
    let url = args
        .url
        .clone()
        .or(file.url.clone())
        .context("no URL: give --url or a --scenario with a url")?;
    let mut target = scenario::parse_url(&url)?;
    if let Some(t) = &args.target {
        target = scenario::retarget(&target, t)?;
    }
    let method = args
        .method
        .clone()
        .or(file.method.clone())
        .unwrap_or_else(|| "GET".to_string());
    let mut headers = file.headers.clone();
    headers.extend(args.headers.iter().cloned());
    let body = match args.body.as_deref().or(file.body.as_deref()) {
        None => Vec::new(),
        Some(b) => match b.strip_prefix('@') {
            Some(path) => read_body(path)?,
            None => b.as_bytes().to_vec(),
        },
    };
    let request = scenario::build_request(&method, &target, &headers, &body)?;
    // Built once, used for every request for the whole (bounded) life of the process.
    let request: &'static [u8] = Box::leak(request.into_boxed_slice());

    let connections = args.connections.or(file.connections).unwrap_or(16);
    if connections == 0 || connections > MAX_CONNECTIONS {
        bail!("--connections must be 1..={MAX_CONNECTIONS}");
    }
    let threads = args.threads.or(file.threads).unwrap_or(1);
    if threads == 0 || threads > MAX_THREADS {
        bail!("--threads must be 1..={MAX_THREADS}");
    }
    let threads = threads.min(connections);
    // A rate from the file applies unless the command line asks for closed loop with rate 0.
    let rate = args.rate.or(file.rate).filter(|&r| r > 0);
    if rate.is_some_and(|r| r > MAX_RATE) {
        bail!("--rate must be at most {MAX_RATE}");
    }
    let duration = match args.duration.as_deref().or(file.duration.as_deref()) {
        Some(d) => scenario::parse_duration(d)?,
        None if args.requests.is_some() => REQUESTS_MODE_CAP,
        None => Duration::from_secs(10),
    };
    if duration.is_zero() {
        bail!("--duration must be positive");
    }
    let warmup = match args.warmup.as_deref().or(file.warmup.as_deref()) {
        Some(w) => scenario::parse_duration(w)?,
        None => Duration::ZERO,
    };
    if args.requests == Some(0) {
        bail!("--requests must be positive");
    }
    let connect_timeout = scenario::parse_duration(&args.connect_timeout)?;
    let read_timeout = scenario::parse_duration(&args.timeout)?;

    let start = std::time::Instant::now() + START_DELAY;
    let measure_start = start + warmup;
    let plan = Arc::new(run::Plan {
        addr: target.addr,
        request,
        head_request: method == "HEAD",
        connections,
        threads,
        rate,
        start,
        measure_start,
        end: measure_start + duration,
        budget: args.requests.map(|n| Arc::new(AtomicU64::new(n))),
        connect_timeout,
        read_timeout,
    });

    let mut handles = Vec::with_capacity(threads);
    for t in 0..threads {
        let p = plan.clone();
        handles.push(
            std::thread::Builder::new()
                .name(format!("load-{t}"))
                .spawn(move || run::run_thread(p, t))
                .context("spawning a runtime thread")?,
        );
    }
    let give_up = plan.end + JOIN_GRACE;
    let mut total = report::Stats::new()?;
    let mut driver = "";
    for h in handles {
        // Threads end by themselves at plan.end; this bound only guards against a bug.
        while !h.is_finished() {
            if std::time::Instant::now() > give_up {
                bail!("a runtime thread did not stop by the deadline");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let (s, d) = h
            .join()
            .map_err(|_| anyhow::anyhow!("a runtime thread panicked"))??;
        total.merge(&s);
        driver = d;
    }

    let elapsed = if args.requests.is_some() {
        Duration::from_nanos(total.last_done_ns)
    } else {
        duration
    };
    let info = report::RunInfo {
        scenario: file.name.clone().unwrap_or_else(|| "adhoc".to_string()),
        mode: if rate.is_some() {
            "open-loop"
        } else {
            "closed-loop"
        },
        driver,
        method,
        url: format!("http://{}{}", target.authority, target.path),
        connections,
        threads,
        target_rate: rate,
        requests: args.requests,
        warmup,
        elapsed,
    };
    print!("{}", report::to_text(&total, &info));
    if let Some(path) = &args.json {
        let doc = report::to_json(&total, &info);
        let text = serde_json::to_string_pretty(&doc)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    let failed = total.errors.total() > 0 || total.non_2xx > 0 || total.responses() == 0;
    Ok(if args.strict && failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn read_body(path: &str) -> anyhow::Result<Vec<u8>> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading body file {path}"))?;
    if meta.len() > MAX_BODY_BYTES {
        bail!("body file {path}: larger than {MAX_BODY_BYTES} bytes");
    }
    std::fs::read(path).with_context(|| format!("reading body file {path}"))
}
