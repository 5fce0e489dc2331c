//! Running the load: one monoio runtime per thread, connections spread over them, and the two
//! ways of pacing requests.
//!
//! * Closed loop: each connection sends its next request when the previous response has
//!   arrived. Measures the throughput a server sustains at a fixed concurrency.
//! * Open loop: requests are scheduled at a fixed total rate, request `k` of connection `i` at
//!   `start + (i + k·C) / rate`. Latency is measured from that *intended* time, so a stalled
//!   server is charged for every request it delayed (coordinated omission, Gil Tene's
//!   "How NOT to measure latency"; the same correction as wrk2). The monoio timer has 1 ms
//!   granularity, so each send may be up to ~1 ms late: the report shows that "send lag" and the
//!   uncorrected service time beside the corrected latency.
//!
//! Everything is bounded by the run's end instant: every await is wrapped in a timeout that
//! never extends past it, so the run stops by itself even against a server that hangs.
//! Each runtime uses io_uring when the kernel allows it and falls back to the legacy (epoll)
//! driver otherwise (monoio's `FusionDriver`).

use crate::client::{Conn, Failure};
use crate::report::Stats;
use monoio::time::Instant;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Pause after a failed connect before the next attempt, so a refused port does not turn
/// into a busy loop.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(10);
/// io_uring submission queue entries per runtime; each connection has at most two
/// operations in flight (a write or a read, plus a timeout cancel).
const URING_ENTRIES: u32 = 4096;

/// Everything a connection needs to know; shared read-only by all threads.
#[derive(Debug)]
pub struct Plan {
    pub addr: SocketAddr,
    pub request: &'static [u8],
    pub head_request: bool,
    pub connections: usize,
    pub threads: usize,
    /// Open-loop total rate (requests per second); None = closed loop.
    pub rate: Option<u64>,
    /// When load starts (a little after the threads are spawned, so all start together).
    pub start: std::time::Instant,
    /// When counting starts (after the warm-up).
    pub measure_start: std::time::Instant,
    /// When everything stops.
    pub end: std::time::Instant,
    /// Requests left to send in `--requests` mode (claimed only after the warm-up).
    pub budget: Option<Arc<AtomicU64>>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
}

impl Plan {
    fn mono(t: std::time::Instant) -> Instant {
        Instant::from_std(t)
    }

    /// Take one request from the budget; false when it is spent. Unlimited without a budget.
    fn claim(&self) -> bool {
        match &self.budget {
            None => true,
            Some(b) => b
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }

    fn budget_spent(&self) -> bool {
        self.budget
            .as_ref()
            .is_some_and(|b| b.load(Ordering::Relaxed) == 0)
    }

    /// Nanoseconds since the start of measurement (0 before it).
    fn since_measure(&self, t: std::time::Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.measure_start).as_nanos())
            .unwrap_or(u64::MAX)
    }
}

/// Which I/O driver a runtime ended up with.
pub type DriverName = &'static str;

/// Run the connections `first, first + threads, ...` on the current thread; returns their
/// merged statistics.
pub fn run_thread(plan: Arc<Plan>, thread: usize) -> anyhow::Result<(Stats, DriverName)> {
    let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .with_entries(URING_ENTRIES)
        .enable_timer()
        .build()?;
    let driver = match &rt {
        monoio::FusionRuntime::Uring(_) => "io_uring",
        monoio::FusionRuntime::Legacy(_) => "legacy (epoll)",
    };
    let stats = Rc::new(RefCell::new(Stats::new()?));
    let s = stats.clone();
    rt.block_on(async move {
        let mut handles = Vec::new();
        for i in (thread..plan.connections).step_by(plan.threads.max(1)) {
            let (p, s) = (plan.clone(), s.clone());
            handles.push(monoio::spawn(async move {
                match p.rate {
                    None => closed_loop(&p, &s).await,
                    Some(rate) => open_loop(&p, &s, i, rate).await,
                }
            }));
        }
        for h in handles {
            h.await;
        }
    });
    let out = stats.borrow().clone();
    Ok((out, driver))
}

/// Connect, counting the attempt; on failure count it and back off (bounded by the end).
async fn connect(plan: &Plan, stats: &RefCell<Stats>, counting: bool) -> Option<Conn> {
    let end = Plan::mono(plan.end);
    let deadline = (Instant::now() + plan.connect_timeout).min(end);
    match Conn::connect(plan.addr, deadline, plan.head_request).await {
        Ok(c) => {
            stats.borrow_mut().connects += 1;
            Some(c)
        }
        Err(f) => {
            if counting && Instant::now() < end {
                stats.borrow_mut().failure(&f);
            }
            let wake = (Instant::now() + RECONNECT_BACKOFF).min(end);
            monoio::time::sleep_until(wake).await;
            None
        }
    }
}

/// The outcome of one bounded exchange.
enum Exchange {
    Done(crate::response::Response),
    Failed(Failure),
    /// The run ended while waiting: not counted.
    CutOff,
}

async fn exchange(plan: &Plan, conn: &mut Conn) -> Exchange {
    let end = Plan::mono(plan.end);
    let deadline = (Instant::now() + plan.read_timeout).min(end);
    match monoio::time::timeout_at(deadline, conn.exchange(plan.request)).await {
        Ok(Ok(r)) => Exchange::Done(r),
        Ok(Err(f)) => Exchange::Failed(f),
        Err(_) if deadline >= end => Exchange::CutOff,
        Err(_) => Exchange::Failed(Failure::Timeout),
    }
}

async fn closed_loop(plan: &Plan, stats: &RefCell<Stats>) {
    monoio::time::sleep_until(Plan::mono(plan.start)).await;
    let mut conn: Option<Conn> = None;
    // Bounded by plan.end: every iteration awaits something that ends by then, and the
    // loop exits once it has passed.
    while std::time::Instant::now() < plan.end {
        let counting = std::time::Instant::now() >= plan.measure_start;
        let mut c = match conn.take() {
            Some(c) => c,
            None => match connect(plan, stats, counting).await {
                Some(c) => c,
                None => continue,
            },
        };
        if counting && !plan.claim() {
            break;
        }
        let sent = std::time::Instant::now();
        let measured = sent >= plan.measure_start;
        match exchange(plan, &mut c).await {
            Exchange::Done(r) => {
                let done = std::time::Instant::now();
                if measured && done <= plan.end {
                    let mut s = stats.borrow_mut();
                    s.response(r.status, r.body_len, done - sent, plan.since_measure(done));
                }
                if r.keep_alive {
                    conn = Some(c);
                }
            }
            Exchange::Failed(f) => {
                if measured {
                    stats.borrow_mut().failure(&f);
                }
            }
            Exchange::CutOff => break,
        }
        if plan.budget_spent() {
            break;
        }
    }
}

/// Intended send time of request `k` of connection `i`: `start + (i + k·C) / rate`, computed
/// from the start every time so rounding never accumulates.
fn intended(plan: &Plan, i: usize, k: u64, rate: u64) -> Option<std::time::Instant> {
    let slot = (i as u128) + u128::from(k) * (plan.connections as u128);
    let nanos = slot.checked_mul(1_000_000_000)? / u128::from(rate.max(1));
    let nanos = u64::try_from(nanos).ok()?;
    plan.start.checked_add(Duration::from_nanos(nanos))
}

async fn open_loop(plan: &Plan, stats: &RefCell<Stats>, i: usize, rate: u64) {
    let mut conn: Option<Conn> = None;
    // Bounded: k grows every iteration and the loop ends once the schedule passes plan.end.
    for k in 0u64.. {
        let Some(due) = intended(plan, i, k, rate) else {
            break;
        };
        if due >= plan.end {
            break;
        }
        if std::time::Instant::now() < due {
            monoio::time::sleep_until(Plan::mono(due)).await;
        }
        let measured = due >= plan.measure_start;
        if measured && !plan.claim() {
            break;
        }
        let mut c = match conn.take() {
            Some(c) => c,
            None => match connect(plan, stats, measured).await {
                Some(c) => c,
                None => continue,
            },
        };
        let sent = std::time::Instant::now();
        match exchange(plan, &mut c).await {
            Exchange::Done(r) => {
                let done = std::time::Instant::now();
                if measured && done <= plan.end {
                    let mut s = stats.borrow_mut();
                    s.response(r.status, r.body_len, done - due, plan.since_measure(done));
                    s.open_loop_extra(done - sent, sent.saturating_duration_since(due));
                }
                if r.keep_alive {
                    conn = Some(c);
                }
            }
            Exchange::Failed(f) => {
                if measured {
                    stats.borrow_mut().failure(&f);
                }
            }
            Exchange::CutOff => break,
        }
        if plan.budget_spent() {
            break;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn plan(addr: SocketAddr, rate: Option<u64>, conns: usize, dur: Duration) -> Plan {
        let now = std::time::Instant::now();
        Plan {
            addr,
            request: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            head_request: false,
            connections: conns,
            threads: 1,
            rate,
            start: now,
            measure_start: now,
            end: now + dur,
            budget: None,
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
        }
    }

    /// A blocking test server on 127.0.0.1:0 that answers every request on every connection
    /// with `response`, reading requests by their blank line. Threads end when the client
    /// closes.
    fn server(response: &'static [u8]) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let mut pending = Vec::new();
                    loop {
                        let n = match s.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        pending.extend_from_slice(&buf[..n]);
                        while let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                            pending.drain(..i + 4);
                            if s.write_all(response).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn intended_times_interleave_connections() {
        let p = plan(
            "127.0.0.1:1".parse().unwrap(),
            Some(1000),
            4,
            Duration::from_secs(1),
        );
        let at = |i, k| intended(&p, i, k, 1000).unwrap() - p.start;
        assert_eq!(at(0, 0), Duration::ZERO);
        assert_eq!(at(1, 0), Duration::from_millis(1));
        assert_eq!(at(3, 0), Duration::from_millis(3));
        assert_eq!(at(0, 1), Duration::from_millis(4));
        assert_eq!(at(2, 250), Duration::from_millis(1002));
    }

    #[test]
    fn closed_loop_counts_responses_and_status() {
        let addr = server(b"HTTP/1.1 503 Busy\r\nContent-Length: 2\r\n\r\nno");
        let p = Arc::new(plan(addr, None, 2, Duration::from_millis(300)));
        let (s, _) = run_thread(p, 0).unwrap();
        assert!(s.non_2xx > 10, "{s:?}");
        assert_eq!(s.ok, 0);
        assert_eq!(s.errors.total(), 0, "{:?}", s.first_error);
        assert_eq!(s.body_bytes, 2 * s.non_2xx);
        assert_eq!(s.connects, 2);
    }

    #[test]
    fn requests_mode_sends_exactly_n() {
        let addr = server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        let mut p = plan(addr, None, 3, Duration::from_secs(10));
        p.budget = Some(Arc::new(AtomicU64::new(50)));
        let (s, _) = run_thread(Arc::new(p), 0).unwrap();
        assert_eq!(s.ok, 50);
    }

    #[test]
    fn open_loop_holds_the_rate() {
        let addr = server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        let p = Arc::new(plan(addr, Some(200), 2, Duration::from_millis(500)));
        let (s, _) = run_thread(p, 0).unwrap();
        // 200/s for 0.5 s = 100 scheduled; the last one may still be in flight at the end.
        assert!((99..=100).contains(&s.ok), "{}", s.ok);
        assert_eq!(s.service.len(), s.ok);
    }

    #[test]
    fn framing_errors_are_counted_and_reconnected() {
        // Content-Length says 1 but 2 bytes follow: the stray byte is a protocol error.
        let addr = server(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab");
        let p = Arc::new(plan(addr, None, 1, Duration::from_millis(200)));
        let (s, _) = run_thread(p, 0).unwrap();
        assert_eq!(s.ok, 0);
        assert!(s.errors.protocol > 1);
        assert!(s.connects >= s.errors.protocol);
        assert_eq!(
            s.first_error.as_deref(),
            Some("protocol: bytes after a complete response")
        );
    }

    #[test]
    fn hanging_server_times_out_and_run_ends_on_time() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        // accepts, never answers; keeps the sockets open until the test ends
        std::thread::spawn(move || {
            let mut keep = Vec::new();
            for s in l.incoming().take(8) {
                keep.push(s);
            }
            std::thread::sleep(Duration::from_secs(5));
        });
        let mut p = plan(addr, None, 1, Duration::from_millis(600));
        p.read_timeout = Duration::from_millis(200);
        let t = std::time::Instant::now();
        let (s, _) = run_thread(Arc::new(p), 0).unwrap();
        assert!(t.elapsed() < Duration::from_millis(1500));
        assert!((1..=3).contains(&s.errors.timeout), "{:?}", s.errors);
    }

    #[test]
    fn refused_connections_are_errors_not_a_spin() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let p = Arc::new(plan(addr, None, 1, Duration::from_millis(200)));
        let (s, _) = run_thread(p, 0).unwrap();
        // one attempt per RECONNECT_BACKOFF at most
        assert!((1..=25).contains(&s.errors.connect), "{:?}", s.errors);
    }
}
