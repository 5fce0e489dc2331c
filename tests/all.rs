//! The one integration-test binary. Every test starts real processes (the gateway binary,
//! a Python backend) on loopback ephemeral ports and talks to them over real sockets with a
//! real HTTP client or raw bytes. Set TOLLGATE_TEST_DRIVER=legacy to run it all on epoll.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// Harness: gateway/backend processes, clients, bounded waits.
mod support;

// Routing: AWS precedence, stages, custom domains, the 403 for no match.
mod routing;

// Integrations: HTTP_PROXY, HTTP, MOCK, mappings, stage variables, backend failures.
mod integrations;

// HTTPS backends: trusted CA, keep-alive reuse, certificate failures, insecureSkipVerification.
mod tls;
