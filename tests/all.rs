//! The one integration-test binary. Every test starts real processes (the gateway binary,
//! a Python backend) on loopback ephemeral ports and talks to them over real sockets with a
//! real HTTP client or raw bytes. Set TOLLGATE_TEST_DRIVER=legacy to run it all on epoll.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// Harness: gateway/backend processes, clients, bounded waits.
mod support;

// Routing: AWS precedence, stages, custom domains, the 403 for no match.
mod routing;

// The conformance corpus error cases for routing, API keys and HTTP integrations (raw bytes).
mod conformance_errors;

// Integrations: HTTP_PROXY, HTTP, MOCK, mappings, stage variables, backend failures.
mod integrations;

// Wire: keep-alive, pipelining, body framing, limits, smuggling defences, timeouts, garbage.
mod wire;

// Shutdown: SIGTERM drains requests in flight, refuses new connections, exits 0 promptly.
mod shutdown;

// Config errors: `validate` and `serve` on broken files name the file, the place and the fix.
mod config_errors;

// Descriptor leaks: backend connect timeouts and dropped client connections, via /proc/PID/fd.
mod fd_leak;

// API keys, usage plans, throttles and quotas (with restart and reload).
mod limits;

// Request validators: required parameters, models by content type, per-method validators.
mod validation;

// The stage response cache: hits, TTLs, keys, method settings, invalidation, flush, budget.
mod cache;

// Mapping-template conformance cases (`tollgate render` and in-process pipelines).
mod vtl;

// The same conformance pipeline cases through the real gateway and a real echo backend.
mod pipeline_cases;

// HTTPS backends: trusted CA, keep-alive reuse, certificate failures, insecureSkipVerification.
mod tls;

// Lambda: proxy events and results, custom integrations, and the local function host
// (timeouts, crashes, init errors, concurrency, queue overflow) with real awslambdaric.
mod lambda;

// SigV4 for the Lambda Invoke API: byte-for-byte against botocore, and a signed round trip.
mod sigv4;

// `tollgate test-invoke`: MOCK and HTTP methods in-process, the printed execution log.
mod test_invoke;

// Differential test: generated templates against stock Apache Velocity 1.7 (needs a JDK).
mod velocity_diff;
