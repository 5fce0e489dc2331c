//! The local function host.
