//! The local function host (see host.rs).
