//! The one integration-test binary. Every test starts real processes on loopback
//! ephemeral ports and talks to them over real sockets.
//!
//! Modules:
//! * `vtl`: mapping-template conformance cases (`tollgate render` and in-process pipelines).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod vtl;
