//! `CacheHitCount` / `CacheMissCount` per stage and method (DG:api-gateway-caching names the
//! two metrics). Each core counts in plain integers it alone touches; a scrape asks every
//! core for a copy (a [`super::CacheCommand::Scrape`]) and adds them up.

use std::collections::BTreeMap;

use super::store::StoreStats;

/// Which stage and method a count belongs to; the ids are the config compiler's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricKey {
    /// The stage.
    pub stage: u32,
    /// The method (resource and HTTP method) within the deployment.
    pub method: u32,
}

/// Hits and misses of one (stage, method).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HitMiss {
    /// `CacheHitCount`.
    pub hits: u64,
    /// `CacheMissCount`.
    pub misses: u64,
}

/// One core's counters.
#[derive(Debug, Clone, Default)]
pub struct CacheCounters {
    counts: ahash::AHashMap<MetricKey, HitMiss>,
}

/// Most (stage, method) pairs a core counts; past it new pairs are not counted, so a config
/// with a runaway number of methods cannot grow the map without end.
pub const MAX_COUNTED_METHODS: usize = 1 << 16;

impl CacheCounters {
    /// Counts a hit.
    pub fn hit(&mut self, key: MetricKey) {
        if let Some(c) = self.entry(key) {
            c.hits += 1;
        }
    }

    /// Counts a miss (an integration call made for a cacheable request).
    pub fn miss(&mut self, key: MetricKey) {
        if let Some(c) = self.entry(key) {
            c.misses += 1;
        }
    }

    fn entry(&mut self, key: MetricKey) -> Option<&mut HitMiss> {
        if self.counts.len() >= MAX_COUNTED_METHODS && !self.counts.contains_key(&key) {
            return None;
        }
        Some(self.counts.entry(key).or_default())
    }

    /// The counts of one pair.
    #[must_use]
    pub fn get(&self, key: MetricKey) -> HitMiss {
        self.counts.get(&key).copied().unwrap_or_default()
    }

    /// A copy for the scraper, in key order.
    #[must_use]
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            counts: self.counts.iter().map(|(k, v)| (*k, *v)).collect(),
            stores: Vec::new(),
        }
    }
}

/// Counters copied out of one core, or merged over all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Per (stage, method), in key order.
    pub counts: BTreeMap<MetricKey, HitMiss>,
    /// Per stage and core: entries and bytes held (one item per core that has the stage).
    pub stores: Vec<(u32, StoreStats)>,
}

impl CounterSnapshot {
    /// Adds another core's counts into this one.
    pub fn merge(&mut self, other: &CounterSnapshot) {
        for (key, add) in &other.counts {
            let c = self.counts.entry(*key).or_default();
            c.hits = c.hits.saturating_add(add.hits);
            c.misses = c.misses.saturating_add(add.misses);
        }
        self.stores.extend_from_slice(&other.stores);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_stage_and_method_and_merges() {
        let a = MetricKey {
            stage: 1,
            method: 7,
        };
        let b = MetricKey {
            stage: 2,
            method: 7,
        };
        let mut core0 = CacheCounters::default();
        let mut core1 = CacheCounters::default();
        core0.hit(a);
        core0.hit(a);
        core0.miss(a);
        core1.miss(b);
        core1.hit(a);
        assert_eq!(core0.get(a), HitMiss { hits: 2, misses: 1 });
        assert_eq!(core0.get(b), HitMiss::default());
        let mut total = CounterSnapshot::default();
        total.merge(&core0.snapshot());
        total.merge(&core1.snapshot());
        assert_eq!(total.counts[&a], HitMiss { hits: 3, misses: 1 });
        assert_eq!(total.counts[&b], HitMiss { hits: 0, misses: 1 });
        assert_eq!(total.counts.len(), 2);
    }

    #[test]
    fn number_of_counted_pairs_is_bounded() {
        let mut c = CacheCounters::default();
        for m in 0..(MAX_COUNTED_METHODS as u32 + 10) {
            c.hit(MetricKey {
                stage: 0,
                method: m,
            });
        }
        assert_eq!(c.snapshot().counts.len(), MAX_COUNTED_METHODS);
        // Pairs already counted keep counting.
        c.hit(MetricKey {
            stage: 0,
            method: 0,
        });
        assert_eq!(
            c.get(MetricKey {
                stage: 0,
                method: 0
            })
            .hits,
            2
        );
    }
}
