//! Tollgate: a self-hosted edge API gateway that serves AWS API Gateway exports.
//!
//! The modules follow the path of a request, in order:
//!
//! * [`server`]: ACCEPT. One monoio runtime per core, each with its own `SO_REUSEPORT`
//!   listener; connections, keep-alive, timeouts, graceful shutdown.
//! * [`http`]: PARSE and RESPOND. Zero-copy HTTP/1.1 parsing over the connection's read
//!   buffer, body framing (and its request-smuggling rules), response writing.
//! * [`route`]: ROUTE. Host, base path and stage, then the resource trie and the method.
//! * [`pipeline`]: the spine that calls every stage in order and turns failures into
//!   AWS gateway responses.
//! * [`limit`]: LIMIT. Atomic token buckets and quotas, the only state shared across cores.
//! * [`validate`]: VALIDATE. Request validators: required parameters, JSON Schema models.
//! * [`template`]: MAP and MAP BACK. VTL mapping templates compiled to bytecode.
//! * [`cache`]: the per-core stage response cache.
//! * [`integration`]: INTEGRATE. HTTP, HTTP_PROXY and MOCK integrations, and the
//!   per-core backend connection pools.
//! * [`config`]: the control plane. Load, check and compile configuration into the
//!   immutable [`config::Snapshot`] every worker reads.
//! * [`admin`]: the admin endpoint (health, usage), off the data plane.
//! * [`clock`]: the time source for the data plane.

pub mod admin;
pub mod allocator;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod integration;
pub mod limit;
pub mod pipeline;
pub mod route;
pub mod server;
pub mod template;
pub mod validate;

/// Prints a line on stdout, ignoring a closed pipe (`tollgate validate x | head -1`, or a
/// supervisor that closed our stdout): output is never worth a panic.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Like [`say!`], on stderr.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
