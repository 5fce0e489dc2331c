//! Signals: SIGTERM/SIGINT stop accepting, let workers drain requests in flight (bounded
//! by `server.shutdown_timeout_ms`) and exit 0; SIGHUP reloads the configuration.
//!
//! The three signals are blocked in every thread and *polled* (`sigtimedwait` with a zero
//! timeout) on each thread's tick: the main thread every 50 ms, each worker every 20 ms.
//! Whichever thread runs first takes the signal, so shutdown never waits for one particular
//! thread to be scheduled. (With handlers, valgrind, which runs one thread at a time and does
//! not hand its lock over while a worker sits in `io_uring_enter`, never ran the main thread's
//! wake-up: the gateway could not be stopped under callgrind.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::ServeOptions;
use crate::config::{self, Published};

/// How often the main thread looks for signals, a reload request or the end of the workers.
const MAIN_TICK: Duration = Duration::from_millis(50);

const SIGNALS: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in SIGNALS {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Blocks the shutdown and reload signals in the calling thread; threads spawned afterwards
/// inherit the mask. Call before starting any thread.
pub fn block() {
    let set = signal_set();
    // SAFETY: changes only the calling thread's signal mask.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Flags the signals set.
#[derive(Debug, Default)]
pub struct Flags {
    /// SIGTERM or SIGINT arrived: stop accepting and drain.
    pub shutdown: AtomicBool,
    /// SIGHUP arrived: the main thread reloads the configuration.
    pub reload: AtomicBool,
}

impl Flags {
    /// Takes any pending signal (without waiting) and records it.
    pub fn poll(&self) {
        let set = signal_set();
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            // SAFETY: `set` and `zero` are valid for the call; a null siginfo is allowed.
            let sig = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) };
            match sig {
                libc::SIGTERM | libc::SIGINT => self.shutdown.store(true, Ordering::Release),
                libc::SIGHUP => self.reload.store(true, Ordering::Release),
                _ => return,
            }
        }
    }

    /// Whether shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }
}

/// Waits on the main thread until shutdown begins, reloading on SIGHUP meanwhile.
pub fn main_loop(published: &Arc<Published>, opts: &ServeOptions, flags: &Flags) {
    loop {
        flags.poll();
        if flags.shutting_down() {
            break;
        }
        if flags.reload.swap(false, Ordering::AcqRel) {
            let env = config::LoadEnv {
                registry: opts.registry.clone(),
                previous: Some(published.load().1),
            };
            match config::load_with(&opts.config_path, &opts.overrides, &env) {
                Ok(loaded) => {
                    published.publish(loaded.snapshot);
                    crate::say!(
                        "tollgate: configuration reloaded from {}",
                        opts.config_path.display()
                    );
                }
                Err(problems) => {
                    crate::warn!(
                        "tollgate: reload refused, still serving the previous configuration:\n{problems}"
                    )
                }
            }
        }
        std::thread::sleep(MAIN_TICK);
    }
    crate::say!("tollgate: shutting down (finishing requests in flight)");
}

/// Shuts a listening socket down so its pending accept returns at once (the accept is never
/// cancelled, so no accepted descriptor can be lost in flight).
pub fn stop_listening(fd: i32) {
    // SAFETY: the descriptor belongs to a listener that lives until its worker exits;
    // shutdown(2) only wakes pending accepts, it does not close the descriptor.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}
