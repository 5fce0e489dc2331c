//! The one integration-test binary. Every test starts real processes on loopback
//! ephemeral ports and talks to them over real sockets.
//!
//! Modules:
