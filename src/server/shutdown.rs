//! Signals: SIGTERM/SIGINT stop accepting, let workers drain requests in flight (bounded
//! by `server.shutdown_timeout_ms`) and exit 0; SIGHUP reloads the configuration.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::ServeOptions;
use crate::config::{self, Published};

/// Blocks until SIGTERM or SIGINT; reloads on SIGHUP. On shutdown, sets the flag and shuts
/// the listening sockets down so every pending accept returns at once.
pub fn wait_for_signals(
    published: &Arc<Published>,
    opts: &ServeOptions,
    shutdown: &Arc<AtomicBool>,
    listener_fds: &[i32],
) -> anyhow::Result<()> {
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    for sig in signals.forever() {
        if sig == SIGHUP {
            match config::load(&opts.config_path, &opts.overrides) {
                Ok(loaded) => {
                    published.publish(loaded.snapshot);
                    println!(
                        "tollgate: configuration reloaded from {}",
                        opts.config_path.display()
                    );
                }
                Err(problems) => eprintln!(
                    "tollgate: reload refused, still serving the previous configuration:\n{problems}"
                ),
            }
            continue;
        }
        println!("tollgate: shutting down (finishing requests in flight)");
        shutdown.store(true, Ordering::Release);
        for fd in listener_fds {
            // SAFETY: the descriptors belong to listeners that live until the workers exit;
            // shutdown(2) only wakes their pending accepts, it does not close them.
            unsafe {
                libc::shutdown(*fd, libc::SHUT_RDWR);
            }
        }
        break;
    }
    Ok(())
}
