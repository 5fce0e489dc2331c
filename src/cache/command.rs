//! Control-plane commands to the per-core caches: flush a stage (AWS `FlushStageCache`),
//! apply a reloaded config, copy the counters for a scrape.
//!
//! Each worker owns its cache outright, so the control plane never touches it: it sends a
//! command down the worker's own crossbeam channel, and the worker applies it between
//! requests ([`super::CoreCache::drain_commands`]). A flush therefore reaches every core
//! within one request's time on each.

use super::stats::CounterSnapshot;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Commands queued per worker before `send` reports the worker as not keeping up. Commands
/// come from operators and reloads, a few per minute at most.
pub const COMMAND_QUEUE_DEPTH: usize = 1024;

/// One stage's per-core budget, as a reload hands it to the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageBudget {
    /// The stage id (dense, from the config compiler).
    pub stage: u32,
    /// Bytes this core may hold for the stage ([`super::config::StageCacheSettings::per_core_budget`]).
    pub bytes: usize,
}

/// A command for one worker's cache.
#[derive(Debug, Clone)]
pub enum CacheCommand {
    /// Drop every entry of one stage (`FlushStageCache`).
    Flush {
        /// The stage id.
        stage: u32,
    },
    /// Drop every entry of every stage.
    FlushAll,
    /// A new config: exactly these stages are cached. Stages not listed are dropped; a stage
    /// whose budget changed starts empty, as AWS deletes all cached data when resizing
    /// (DG:api-gateway-caching); unchanged stages keep their entries.
    Configure {
        /// The cached stages and this core's budget for each.
        stages: Arc<[StageBudget]>,
    },
    /// Send a copy of this core's hit/miss counters and per-stage store sizes to `reply`.
    Scrape {
        /// Where the copy goes.
        reply: Sender<CounterSnapshot>,
    },
}

/// The control plane's handle: one sender per worker.
#[derive(Debug, Clone)]
pub struct CacheBroadcast {
    workers: Vec<Sender<CacheCommand>>,
}

/// Creates the channels for `workers` cores: the broadcast handle and, in worker order, the
/// receiver each worker polls.
#[must_use]
pub fn channels(workers: usize) -> (CacheBroadcast, Vec<Receiver<CacheCommand>>) {
    let (senders, receivers) = (0..workers)
        .map(|_| crossbeam_channel::bounded(COMMAND_QUEUE_DEPTH))
        .unzip();
    (CacheBroadcast { workers: senders }, receivers)
}

impl CacheBroadcast {
    /// Sends `command` to every worker; returns how many accepted it (a worker whose queue
    /// is full or who has exited is skipped, never waited for).
    pub fn send(&self, command: &CacheCommand) -> usize {
        self.workers
            .iter()
            .filter(|w| match w.try_send(command.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            })
            .count()
    }

    /// Flushes one stage on every core; returns how many cores were reached.
    pub fn flush_stage(&self, stage: u32) -> usize {
        self.send(&CacheCommand::Flush { stage })
    }

    /// Asks every core for its counters and merges what arrives within `timeout`.
    #[must_use]
    pub fn scrape(&self, timeout: Duration) -> CounterSnapshot {
        let (reply, answers) = crossbeam_channel::bounded(self.workers.len().max(1));
        let asked = self.send(&CacheCommand::Scrape { reply });
        let deadline = Instant::now() + timeout;
        let mut total = CounterSnapshot::default();
        for _ in 0..asked {
            match answers.recv_deadline(deadline) {
                Ok(part) => total.merge(&part),
                Err(_) => break,
            }
        }
        total
    }
}
