//! ACCEPT: start one worker thread per core, each with its own monoio runtime and its own
//! `SO_REUSEPORT` listener; wait for signals; shut down gracefully.
//!
//! * [`worker`]: one core's runtime and accept loop.
//! * [`conn`]: one connection's read/parse/handle/write loop.
//! * [`shutdown`]: signals → stop accepting → drain → exit.

pub mod conn;
pub mod shutdown;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use socket2::{Domain, Protocol, Socket, Type};

use crate::config::{Overrides, Published};

/// Which io driver the workers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// io_uring when the kernel allows it, else epoll.
    Auto,
    /// Force monoio's legacy (epoll) driver, e.g. where seccomp blocks io_uring.
    Legacy,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Worker threads.
    pub workers: usize,
    /// The driver.
    pub driver: Driver,
    /// The config file (reloaded on SIGHUP) and the command-line overrides.
    pub config_path: std::path::PathBuf,
    /// Command-line overrides, re-applied on reload.
    pub overrides: Overrides,
    /// Quota counters, shared by every snapshot of this process.
    pub registry: Arc<crate::limit::quota::QuotaRegistry>,
}

/// Binds one listening socket with `SO_REUSEPORT`, so each worker can have its own and the
/// kernel spreads connections between them.
fn bind_reuseport(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}

/// The CPUs this process may run on, so pinning respects an outer `taskset`.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it for the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

fn pin_to(cpu: usize) {
    // SAFETY: as above; pins the calling thread only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        let _ = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Serves until SIGTERM/SIGINT, then drains and returns.
pub fn serve(published: Arc<Published>, opts: ServeOptions) -> anyhow::Result<()> {
    let (_, snapshot) = published.load();
    let workers = opts.workers.max(1);
    // Bind worker 0's sockets first so port 0 resolves to one port that every worker shares.
    let mut per_worker: Vec<Vec<std::net::TcpListener>> =
        (0..workers).map(|_| Vec::new()).collect();
    let mut bound = Vec::new();
    for addr in &snapshot.listeners {
        let first = bind_reuseport(*addr).with_context(|| format!("cannot listen on {addr}"))?;
        let actual = first.local_addr()?;
        per_worker[0].push(first);
        for list in per_worker.iter_mut().skip(1) {
            list.push(
                bind_reuseport(actual).with_context(|| format!("cannot listen on {actual}"))?,
            );
        }
        bound.push(actual);
    }
    let uring = opts.driver == Driver::Auto && monoio::utils::detect_uring();
    let driver = if uring { "io_uring" } else { "epoll (legacy)" };
    for addr in &bound {
        crate::say!("tollgate: listening on http://{addr} ({workers} worker(s), {driver} driver)");
    }
    if !snapshot.lambda.functions.is_empty() {
        let addr = crate::integration::lambda::host::start(snapshot.lambda.functions.clone())
            .context("cannot start the local function host")?;
        crate::say!(
            "tollgate: local function host on {addr} ({} function(s))",
            snapshot.lambda.functions.len()
        );
    }
    print_routes(&snapshot);
    // One command channel per worker: the admin endpoint flushes and scrapes every core's cache.
    let (cache_control, cache_commands) = crate::cache::channels(workers);
    if let Some(addr) = snapshot.admin {
        let bound = crate::admin::spawn(addr, published.clone(), cache_control)
            .with_context(|| format!("cannot start the admin endpoint on {addr}"))?;
        crate::say!("tollgate: admin endpoint on http://{bound}");
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    drop(snapshot);
    shutdown::block();
    let flags = Arc::new(shutdown::Flags::default());
    let cpus = allowed_cpus();
    let mut handles = Vec::new();
    for ((i, listeners), commands) in per_worker.into_iter().enumerate().zip(cache_commands) {
        let (published, flags) = (published.clone(), flags.clone());
        let cpu = (!cpus.is_empty()).then(|| cpus[i % cpus.len()]);
        let h = std::thread::Builder::new()
            .name(format!("tollgate-w{i}"))
            .spawn(move || {
                if let Some(c) = cpu {
                    pin_to(c);
                }
                let cache = worker::CacheLink { commands, workers };
                if let Err(e) = worker::run(i, listeners, published, flags, cache) {
                    crate::warn!("tollgate: worker {i} failed to start: {e}");
                }
            })?;
        handles.push(h);
    }
    shutdown::main_loop(&published, &opts, &flags);
    for h in handles {
        let _ = h.join();
    }
    crate::integration::lambda::host::stop();
    crate::say!("tollgate: stopped");
    Ok(())
}

/// Prints every route the gateway serves, by API and stage.
pub fn print_routes(snapshot: &crate::config::Snapshot) {
    for api in &snapshot.apis {
        for stage in &api.stages {
            let prefixes: Vec<String> = {
                let mut p = vec![format!("/{}", stage.name)];
                for d in &snapshot.domains {
                    for m in &d.mappings {
                        if snapshot.apis[m.api].name == api.name
                            && api.stages[m.stage].name == stage.name
                        {
                            p.push(format!("{}:/{}", d.host, m.base_path));
                        }
                    }
                }
                p
            };
            crate::say!(
                "tollgate: api {} (id {}) stage {} at {}",
                api.name,
                api.id,
                stage.name,
                prefixes.join(", ")
            );
            for m in &api.methods {
                crate::say!(
                    "  {:7} {:40} {}",
                    m.http_method,
                    m.resource_path,
                    m.integration.kind.as_str()
                );
            }
        }
    }
}
