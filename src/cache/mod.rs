//! The per-core stage response cache (REST APIs, DG:api-gateway-caching; spec §8).
//!
//! Each worker core owns one [`CoreCache`]: a [`StageCache`] per cached stage, holding
//! ready-to-write response bytes under S3-FIFO eviction within the stage's per-core byte
//! budget (`cacheClusterSize ÷ workers`). Nothing is shared between cores and nothing is
//! locked; the control plane reaches the cores through [`CacheCommand`]s.
//!
//! How the pipeline uses it, per request, for a method whose [`MethodCachePolicy`]
//! [`applies_to`](MethodCachePolicy::applies_to) the request method:
//! 1. [`decide`] on the `Cache-Control` header: [`CacheDecision::Reject403`] answers 403;
//!    [`CacheDecision::Refresh`] skips step 3.
//! 2. Build the key with the core's [`KeyBuilder`] from the partition, `cacheNamespace`,
//!    method and declared `cacheKeyParameters` values.
//! 3. [`CoreCache::lookup`]: a hit is written as is (counted as `CacheHitCount`).
//! 4. On a miss, keep [`CacheKey::to_owned_key`], call the integration, then
//!    [`CoreCache::store`] the response (only 2xx, body up to 1 MiB, are kept).
//!
//! Module map: [`config`] (serde settings, per-method resolution), [`key`] (key bytes and
//! hash), [`store`] (S3-FIFO), [`control`] (`Cache-Control` decision), [`command`]
//! (flush/reload/scrape), [`stats`] (hit/miss counters).

pub mod command;
pub mod config;
pub mod control;
pub mod key;
pub mod stats;
pub mod store;

#[cfg(test)]
mod alloc_probe;

pub use command::{CacheBroadcast, CacheCommand, StageBudget, channels};
pub use config::{MethodCachePolicy, MethodSettings, StageCacheSettings, resolve_method_policy};
pub use control::{CacheDecision, UNAUTHORIZED_CACHE_CONTROL_WARNING, decide};
pub use key::{CacheKey, KeyBuilder, KeyParam, KeyParamSource, OwnedCacheKey};
pub use stats::{CacheCounters, CounterSnapshot, HitMiss, MetricKey};
pub use store::{CachedResponse, InsertOutcome, MAX_CACHED_BODY_BYTES, StageCache, StoreRequest};

use crossbeam_channel::Receiver;

/// Highest stage id a core keeps a cache for; stage ids index a plain array.
pub const MAX_STAGES: usize = 4096;

/// Commands applied per [`CoreCache::drain_commands`] call, so a burst of commands cannot
/// hold up the requests waiting behind it.
pub const MAX_COMMANDS_PER_DRAIN: usize = 16;

/// One core's caches, counters and hash seeds.
#[derive(Debug)]
pub struct CoreCache {
    stages: Vec<Option<StageCache>>,
    counters: CacheCounters,
    hasher: ahash::RandomState,
}

impl Default for CoreCache {
    fn default() -> Self {
        Self::new()
    }
}

impl CoreCache {
    /// An empty cache with fresh random hash seeds (so key hashes cannot be predicted
    /// from outside the process).
    #[must_use]
    pub fn new() -> Self {
        Self::with_hasher(ahash::RandomState::new())
    }

    /// An empty cache with the given hash seeds (tests and benches).
    #[must_use]
    pub fn with_hasher(hasher: ahash::RandomState) -> Self {
        Self {
            stages: Vec::new(),
            counters: CacheCounters::default(),
            hasher,
        }
    }

    /// A key builder hashing with this core's seeds.
    #[must_use]
    pub fn key_builder(&self) -> KeyBuilder {
        KeyBuilder::new(self.hasher.clone())
    }

    /// Makes exactly `stages` cached (see [`CacheCommand::Configure`]).
    pub fn configure(&mut self, stages: &[StageBudget]) {
        let mut next: Vec<Option<StageCache>> = Vec::new();
        for budget in stages.iter().filter(|b| (b.stage as usize) < MAX_STAGES) {
            let i = budget.stage as usize;
            if next.len() <= i {
                next.resize_with(i + 1, || None);
            }
            let kept = self
                .stages
                .get_mut(i)
                .and_then(Option::take)
                .filter(|old| old.budget() == budget.bytes);
            next[i] = Some(kept.unwrap_or_else(|| StageCache::new(budget.bytes)));
        }
        self.stages = next;
    }

    /// The cache of one stage, if it is cached.
    pub fn stage_mut(&mut self, stage: u32) -> Option<&mut StageCache> {
        self.stages.get_mut(stage as usize).and_then(Option::as_mut)
    }

    /// Looks the key up in the stage's cache, counting a hit or a miss for `metric`.
    pub fn lookup(
        &mut self,
        stage: u32,
        metric: MetricKey,
        key: &CacheKey<'_>,
        now: u64,
    ) -> Option<CachedResponse> {
        let cache = self
            .stages
            .get_mut(stage as usize)
            .and_then(Option::as_mut)?;
        let found = cache.get(key, now);
        if found.is_some() {
            self.counters.hit(metric);
        } else {
            self.counters.miss(metric);
        }
        found
    }

    /// Counts a miss without a lookup (a [`CacheDecision::Refresh`] request).
    pub fn count_miss(&mut self, metric: MetricKey) {
        self.counters.miss(metric);
    }

    /// Stores an integration response; `None` when the stage is not cached on this core.
    pub fn store(
        &mut self,
        stage: u32,
        key: &CacheKey<'_>,
        response: StoreRequest<'_>,
        now: u64,
    ) -> Option<InsertOutcome> {
        Some(self.stage_mut(stage)?.insert(key, response, now))
    }

    /// This core's counters.
    #[must_use]
    pub fn counters(&self) -> &CacheCounters {
        &self.counters
    }

    /// Applies one command.
    pub fn apply(&mut self, command: CacheCommand) {
        match command {
            CacheCommand::Flush { stage } => {
                if let Some(cache) = self.stage_mut(stage) {
                    cache.flush();
                }
            }
            CacheCommand::FlushAll => self.stages.iter_mut().flatten().for_each(StageCache::flush),
            CacheCommand::Configure { stages } => self.configure(&stages),
            CacheCommand::Scrape { reply } => {
                let mut copy = self.counters.snapshot();
                copy.stores = (self.stages.iter().enumerate())
                    .filter_map(|(i, s)| Some((i as u32, s.as_ref()?.stats())))
                    .collect();
                // The scraper may have given up waiting; nothing to do then.
                let _ = reply.try_send(copy);
            }
        }
    }

    /// Applies the commands waiting on this worker's channel, at most
    /// [`MAX_COMMANDS_PER_DRAIN`]; returns how many ran. Call between requests.
    pub fn drain_commands(&mut self, commands: &Receiver<CacheCommand>) -> usize {
        let mut applied = 0;
        while applied < MAX_COMMANDS_PER_DRAIN {
            let Ok(command) = commands.try_recv() else {
                break;
            };
            self.apply(command);
            applied += 1;
        }
        applied
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::config::{MethodCacheSetting, UnauthorizedCacheControlHeaderStrategy};
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    const SEC: u64 = 1_000_000_000;
    const PETS: MetricKey = MetricKey {
        stage: 0,
        method: 1,
    };

    fn ok(body: &[u8]) -> StoreRequest<'_> {
        StoreRequest {
            status: 200,
            bytes: body,
            body_start: 0,
            ttl_nanos: 300 * SEC,
        }
    }

    fn core_with_stages(ids: &[u32]) -> CoreCache {
        let mut core = CoreCache::with_hasher(ahash::RandomState::with_seeds(1, 1, 1, 1));
        let budgets: Vec<StageBudget> = ids
            .iter()
            .map(|&stage| StageBudget {
                stage,
                bytes: 1 << 20,
            })
            .collect();
        core.configure(&budgets);
        core
    }

    /// The request flow of the module docs, with declared and undeclared parameters.
    #[test]
    fn undeclared_parameters_share_an_entry_declared_ones_split_it() {
        let mut core = core_with_stages(&[0]);
        let mut b = core.key_builder();
        let declared = [KeyParam::parse("method.request.querystring.type").unwrap()];
        // Requests: (type, department, path id); only `type` is declared.
        let mut run =
            |core: &mut CoreCache, ty: &str, _department: &str, _id: &str, body: &[u8]| {
                b.start(0, b"res-users", b"GET");
                for p in &declared {
                    assert_eq!(p.source, KeyParamSource::QueryString);
                    b.param(Some(ty.as_bytes()));
                }
                let key = b.key().to_owned_key();
                match core.lookup(0, PETS, &key.as_key(), SEC) {
                    Some(hit) => hit.bytes,
                    None => {
                        core.store(0, &key.as_key(), ok(body), SEC);
                        bytes::Bytes::copy_from_slice(body)
                    }
                }
            };
        assert_eq!(
            &run(&mut core, "admin", "A", "1", b"admins-A")[..],
            b"admins-A"
        );
        // department and the path id are not declared: same entry.
        assert_eq!(
            &run(&mut core, "admin", "B", "2", b"admins-B")[..],
            b"admins-A"
        );
        assert_eq!(
            &run(&mut core, "regular", "A", "1", b"regulars")[..],
            b"regulars"
        );
        assert_eq!(core.counters().get(PETS), HitMiss { hits: 1, misses: 2 });
    }

    #[test]
    fn flush_command_reaches_every_core() {
        let (control, receivers) = channels(3);
        let mut cores: Vec<CoreCache> = (0..3).map(|_| core_with_stages(&[0, 1])).collect();
        for core in &mut cores {
            let mut b = core.key_builder();
            for stage in [0, 1] {
                b.start(0, b"r", b"GET");
                core.store(stage, &b.key(), ok(b"x"), 0).unwrap();
            }
        }
        assert_eq!(control.flush_stage(0), 3);
        for (core, rx) in cores.iter_mut().zip(&receivers) {
            assert_eq!(core.drain_commands(rx), 1);
            assert_eq!(core.drain_commands(rx), 0);
            assert!(core.stage_mut(0).unwrap().is_empty());
            assert_eq!(
                core.stage_mut(1).unwrap().len(),
                1,
                "other stages keep their entries"
            );
        }
        control.send(&CacheCommand::FlushAll);
        for (core, rx) in cores.iter_mut().zip(&receivers) {
            core.drain_commands(rx);
            assert!(core.stage_mut(1).unwrap().is_empty());
        }
    }

    #[test]
    fn drain_is_bounded_per_call() {
        let (control, receivers) = channels(1);
        let mut core = core_with_stages(&[0]);
        for _ in 0..(MAX_COMMANDS_PER_DRAIN + 5) {
            control.flush_stage(0);
        }
        assert_eq!(core.drain_commands(&receivers[0]), MAX_COMMANDS_PER_DRAIN);
        assert_eq!(core.drain_commands(&receivers[0]), 5);
    }

    #[test]
    fn dropped_worker_is_reported_not_waited_for() {
        let (control, mut receivers) = channels(2);
        receivers.pop();
        assert_eq!(control.flush_stage(0), 1);
    }

    #[test]
    fn configure_keeps_unchanged_stages_and_resets_resized_ones() {
        let mut core = core_with_stages(&[0, 2]);
        let mut b = core.key_builder();
        b.start(0, b"r", b"GET");
        for stage in [0, 2] {
            core.store(stage, &b.key(), ok(b"x"), 0).unwrap();
        }
        let (control, receivers) = channels(1);
        let stages: Arc<[StageBudget]> = Arc::from(vec![
            StageBudget {
                stage: 0,
                bytes: 1 << 20,
            },
            StageBudget {
                stage: 2,
                bytes: 2 << 20,
            },
            StageBudget {
                stage: 3,
                bytes: 1 << 20,
            },
            StageBudget {
                stage: MAX_STAGES as u32,
                bytes: 1 << 20,
            },
        ]);
        control.send(&CacheCommand::Configure { stages });
        core.drain_commands(&receivers[0]);
        assert_eq!(
            core.stage_mut(0).unwrap().len(),
            1,
            "same budget: entries kept"
        );
        assert!(core.stage_mut(2).unwrap().is_empty(), "resized: emptied");
        assert_eq!(core.stage_mut(2).unwrap().budget(), 2 << 20);
        assert!(core.stage_mut(3).is_some());
        assert!(core.stage_mut(1).is_none());
        assert!(
            core.stage_mut(MAX_STAGES as u32).is_none(),
            "out-of-range ids ignored"
        );
        assert_eq!(core.store(1, &b.key(), ok(b"x"), 0), None);
        assert_eq!(core.lookup(1, PETS, &b.key(), 0), None);
        assert_eq!(
            core.counters().get(PETS),
            HitMiss::default(),
            "uncached stage counts nothing"
        );
    }

    #[test]
    fn scrape_merges_every_core() {
        let (control, receivers) = channels(2);
        let handles: Vec<_> = receivers
            .into_iter()
            .enumerate()
            .map(|(i, rx)| {
                std::thread::spawn(move || {
                    let mut core = core_with_stages(&[0]);
                    let mut b = core.key_builder();
                    b.start(0, b"r", b"GET");
                    core.lookup(0, PETS, &b.key(), 0);
                    core.store(0, &b.key(), ok(b"x"), 0);
                    for _ in 0..=i {
                        core.lookup(0, PETS, &b.key(), 1);
                    }
                    // Poll between "requests" until the scrape arrives.
                    for _ in 0..1000 {
                        if core.drain_commands(&rx) > 0 {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                })
            })
            .collect();
        let total = control.scrape(Duration::from_secs(5));
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(total.counts[&PETS], HitMiss { hits: 3, misses: 2 });
    }

    /// Policy + decision + cache together: POST is not cached unless its method enables it,
    /// and an authorized `max-age=0` replaces the entry.
    #[test]
    fn policy_decision_and_refresh_flow() {
        let stage = StageCacheSettings {
            cache_cluster_enabled: true,
            ..StageCacheSettings::default()
        };
        let mut settings = MethodSettings::new();
        let post = resolve_method_policy(&stage, &settings, "/pets", "POST");
        assert!(!post.applies_to(b"POST"));
        settings.insert(
            "pets/POST".into(),
            MethodCacheSetting {
                caching_enabled: Some(true),
                ..MethodCacheSetting::default()
            },
        );
        assert!(resolve_method_policy(&stage, &settings, "/pets", "POST").applies_to(b"POST"));

        let policy = resolve_method_policy(&stage, &settings, "/pets", "GET");
        let mut core = core_with_stages(&[0]);
        let mut b = core.key_builder();
        b.start(0, b"pets", b"GET");
        let key = b.key().to_owned_key();
        let ttl = policy.ttl_nanos();
        core.store(
            0,
            &key.as_key(),
            StoreRequest {
                ttl_nanos: ttl,
                ..ok(b"v1")
            },
            0,
        );

        let strategy = UnauthorizedCacheControlHeaderStrategy::FailWith403;
        let d = decide(
            Some(b"max-age=0"),
            policy.require_authorization,
            true,
            strategy,
        );
        assert_eq!(d, CacheDecision::Refresh);
        core.count_miss(PETS);
        core.store(
            0,
            &key.as_key(),
            StoreRequest {
                ttl_nanos: ttl,
                ..ok(b"v2")
            },
            SEC,
        );
        assert_eq!(
            &core.lookup(0, PETS, &key.as_key(), 2 * SEC).unwrap().bytes[..],
            b"v2"
        );
        assert_eq!(
            decide(
                Some(b"max-age=0"),
                policy.require_authorization,
                false,
                strategy
            ),
            CacheDecision::Reject403
        );
        // The entry lives 300 s from its store at 1 s.
        assert!(core.lookup(0, PETS, &key.as_key(), 301 * SEC - 1).is_some());
        assert!(core.lookup(0, PETS, &key.as_key(), 301 * SEC).is_none());
    }
}
