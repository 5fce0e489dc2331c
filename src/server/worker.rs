//! One core: a monoio runtime, this core's `SO_REUSEPORT` listeners, its backend pool and
//! response cache (inside [`Worker`]) and its connections. Nothing here is shared with other
//! cores; cache commands arrive on this core's own channel.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio::net::TcpListener;

use super::conn;
use super::shutdown::Flags;
use crate::config::Published;
use crate::pipeline::Worker;

/// How often an idle worker looks at the shutdown flag and its cache commands.
const SHUTDOWN_POLL: Duration = Duration::from_millis(20);

/// This worker's end of the cache command channels (docs/caching.md).
#[derive(Debug)]
pub struct CacheLink {
    /// Flush and scrape commands for this core.
    pub commands: crossbeam_channel::Receiver<crate::cache::CacheCommand>,
    /// Worker cores in the process: each stage's cache budget is split between them.
    pub workers: usize,
}

/// Per-core connection bookkeeping, shared by this core's tasks only.
#[derive(Debug, Default)]
pub struct Shared {
    /// Requests being handled right now.
    pub in_flight: Cell<usize>,
    /// Set once shutdown begins: finish what is in flight, take nothing new.
    pub draining: Cell<bool>,
    /// Every live connection's deadline, swept by [`sweep_deadlines`].
    pub clocks: RefCell<Vec<Weak<ConnClock>>>,
}

/// A connection's current deadline for reading or writing its client, if it is waiting on
/// the client at all. One sweep per [`SWEEP_INTERVAL`] per worker enforces every deadline,
/// instead of a timer-wheel entry per read and per write (about 580 instructions each,
/// measured with callgrind).
#[derive(Debug)]
pub struct ConnClock {
    /// The client socket.
    pub fd: i32,
    /// When to give up on the client; `None` while the connection is not waiting on it.
    pub deadline: Cell<Option<Instant>>,
}

/// How often client deadlines are checked: timeouts fire up to this much late.
pub const SWEEP_INTERVAL: Duration = Duration::from_millis(100);

/// Shuts down (SHUT_RDWR) the socket of every connection past its deadline, which ends its
/// pending read or write; forgets connections that are gone.
fn sweep_deadlines(shared: &Shared) {
    let now = Instant::now();
    shared
        .clocks
        .borrow_mut()
        .retain(|weak| match weak.upgrade() {
            None => false,
            Some(clock) => {
                if clock.deadline.get().is_some_and(|d| d <= now) {
                    clock.deadline.set(None);
                    // SAFETY: the descriptor belongs to a live connection (we hold its clock, which
                    // the connection task owns together with the socket); shutdown(2) does not close it.
                    unsafe {
                        libc::shutdown(clock.fd, libc::SHUT_RDWR);
                    }
                }
                true
            }
        });
}

/// Runs one worker until shutdown, then drains requests in flight for at most
/// `shutdown_timeout`.
pub fn run(
    index: usize,
    listeners: Vec<std::net::TcpListener>,
    published: Arc<Published>,
    flags: Arc<Flags>,
    cache: CacheLink,
) -> std::io::Result<()> {
    // COOP_TASKRUN + SINGLE_ISSUER (+ DEFER_TASKRUN): completions are processed when this
    // thread enters the kernel anyway, not by interrupting it; only this thread submits.
    // Older kernels refuse the flags: then the ring is built without them.
    let tuned = || {
        let mut urb = io_uring::IoUring::builder();
        urb.setup_coop_taskrun()
            .setup_single_issuer()
            .setup_defer_taskrun();
        urb
    };
    let mut rt = match monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .with_entries(1024)
        .uring_builder(tuned())
        .build()
    {
        Ok(rt) => rt,
        Err(_) => monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
            .enable_timer()
            .with_entries(1024)
            .build()?,
    };
    rt.block_on(async move {
        let worker = Rc::new(Worker::with_cache(
            published,
            Some(cache.commands),
            cache.workers,
        ));
        let shared = Rc::new(Shared::default());
        let shutdown_timeout = worker.snapshot().server.shutdown_timeout;
        let fds: Vec<i32> = listeners
            .iter()
            .map(std::os::fd::AsRawFd::as_raw_fd)
            .collect();
        for std_listener in listeners {
            let listener = match TcpListener::from_std(std_listener) {
                Ok(l) => l,
                Err(e) => {
                    crate::warn!("tollgate: worker {index}: cannot use listener: {e}");
                    continue;
                }
            };
            let (worker, shared, flags) = (worker.clone(), shared.clone(), flags.clone());
            monoio::spawn(async move {
                loop {
                    match listener.accept().await {
                        Ok((stream, peer)) => {
                            if flags.shutting_down() {
                                break;
                            }
                            monoio::spawn(conn::serve(
                                stream,
                                peer,
                                worker.clone(),
                                shared.clone(),
                            ));
                        }
                        Err(e) => {
                            if flags.shutting_down() {
                                break;
                            }
                            // Out of descriptors or a transient error: back off instead of spinning.
                            crate::warn!("tollgate: worker {index}: accept: {e}");
                            monoio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
            });
        }
        {
            let shared = shared.clone();
            monoio::spawn(async move {
                loop {
                    monoio::time::sleep(SWEEP_INTERVAL).await;
                    sweep_deadlines(&shared);
                }
            });
        }
        while !flags.shutting_down() {
            monoio::time::sleep(SHUTDOWN_POLL).await;
            flags.poll();
            // An idle core still answers flushes and scrapes (busy ones also drain per request).
            worker.cache.drain_commands();
        }
        for fd in fds {
            super::shutdown::stop_listening(fd);
        }
        shared.draining.set(true);
        let deadline = Instant::now() + shutdown_timeout;
        while shared.in_flight.get() > 0 && Instant::now() < deadline {
            monoio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    Ok(())
}
