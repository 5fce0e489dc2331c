//! Bucket states created on first use, in a lock-free append-only table sharded by key hash.
//!
//! Usage-plan method throttles are per API key *and* per method (DG:
//! api-gateway-api-usage-plans: "per-method throttling limits" inside a plan apply to each key).
//! Keys × methods can be large while few pairs are ever used, so these buckets are made the first
//! time a pair is seen instead of at load.
//!
//! **Why this shape.** A slot is two words: a tag (the pair's id + 1; 0 = empty) and the bucket's
//! state word. The bucket's parameters are not stored: they are a pure function of the pair, known
//! from the config, so a slot needs no initialisation beyond zeroed memory ("zero = full bucket",
//! see [`super::bucket`]). Claiming a slot is one CAS of the tag from 0, and a claimed slot never
//! changes owner, so readers need no lock, no epoch reclamation and no `unsafe`, and nothing on
//! the request path allocates: every slot is allocated at load. Shards (chosen by the key's hash)
//! are padded to a cache line so that two cores claiming in two shards never share a line of
//! their headers.
//!
//! The table is sized at load for every pair that can exist (at most [`MAX_LAZY_SLOTS`]); when a
//! huge config would need more, a full table answers "no bucket" and the pair runs without its
//! per-method key throttle (still under the plan's key throttle), counted in `overflowed`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bound on slots in one table (16 bytes each: 16 MiB at most).
pub const MAX_LAZY_SLOTS: usize = 1 << 20;

/// Shards per table; a power of two so the shard is picked with a mask.
const SHARDS: usize = 64;

/// One slot: which pair owns it, and that pair's bucket state.
#[derive(Debug, Default)]
struct Slot {
    tag: AtomicU64,
    state: AtomicU64,
}

/// A shard's slots, on its own cache line(s).
#[derive(Debug)]
#[repr(align(128))]
struct Shard {
    slots: Box<[Slot]>,
}

/// An append-only map from a `u64` pair id to one bucket state word.
#[derive(Debug)]
pub struct LazyStates {
    shards: Box<[Shard]>,
    /// Slots per shard minus one (slots per shard is a power of two).
    mask: usize,
    overflowed: AtomicU64,
}

impl LazyStates {
    /// A table with room for at least `expected` pairs (capped at [`MAX_LAZY_SLOTS`]).
    #[must_use]
    pub fn with_capacity(expected: usize) -> LazyStates {
        // Twice the expected count keeps linear probes short; at least 2 slots per shard.
        let total = expected
            .saturating_mul(2)
            .clamp(SHARDS * 2, MAX_LAZY_SLOTS)
            .next_power_of_two();
        let per_shard = total / SHARDS;
        let shards = (0..SHARDS)
            .map(|_| Shard {
                slots: (0..per_shard).map(|_| Slot::default()).collect(),
            })
            .collect();
        LazyStates {
            shards,
            mask: per_shard - 1,
            overflowed: AtomicU64::new(0),
        }
    }

    /// The state word for `id`, claiming a fresh (full-bucket) slot on first use. `None` only
    /// when the shard is full.
    #[inline]
    pub fn get_or_claim(&self, id: u64) -> Option<&AtomicU64> {
        let tag = id.wrapping_add(1).max(1);
        let hash = mix(id);
        let shard = &self.shards[(hash as usize) & (SHARDS - 1)];
        let start = (hash >> 32) as usize;
        // Bounded by the shard's size: each slot is looked at once.
        for step in 0..=self.mask {
            let slot = &shard.slots[(start + step) & self.mask];
            let seen = slot.tag.load(Ordering::Acquire);
            if seen == tag {
                return Some(&slot.state);
            }
            if seen == 0 {
                match slot
                    .tag
                    .compare_exchange(0, tag, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => return Some(&slot.state),
                    // Another thread claimed it first, maybe for the same pair.
                    Err(winner) if winner == tag => return Some(&slot.state),
                    Err(_) => {}
                }
            }
        }
        self.overflowed.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// The state word for `id` if it was ever claimed.
    #[must_use]
    pub fn get(&self, id: u64) -> Option<&AtomicU64> {
        let tag = id.wrapping_add(1).max(1);
        let hash = mix(id);
        let shard = &self.shards[(hash as usize) & (SHARDS - 1)];
        let start = (hash >> 32) as usize;
        for step in 0..=self.mask {
            let slot = &shard.slots[(start + step) & self.mask];
            match slot.tag.load(Ordering::Acquire) {
                0 => return None,
                seen if seen == tag => return Some(&slot.state),
                _ => {}
            }
        }
        None
    }

    /// Every claimed pair and its state, for carrying levels over a reload.
    pub fn claimed(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.shards
            .iter()
            .flat_map(|s| s.slots.iter())
            .filter_map(|slot| {
                let tag = slot.tag.load(Ordering::Acquire);
                (tag != 0).then(|| (tag - 1, slot.state.load(Ordering::Relaxed)))
            })
    }

    /// Lookups that found their shard full.
    #[must_use]
    pub fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }
}

/// A 64-bit finaliser (splitmix64): ids are small dense integers, so spread them over shards.
#[inline]
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn claims_once_and_finds_again() {
        let t = LazyStates::with_capacity(10);
        assert!(t.get(42).is_none());
        t.get_or_claim(42).unwrap().store(7, Ordering::Relaxed);
        assert_eq!(t.get(42).unwrap().load(Ordering::Relaxed), 7);
        assert_eq!(t.get_or_claim(42).unwrap().load(Ordering::Relaxed), 7);
        assert_eq!(t.get_or_claim(43).unwrap().load(Ordering::Relaxed), 0);
        let mut claimed: Vec<_> = t.claimed().collect();
        claimed.sort_unstable();
        assert_eq!(claimed, vec![(42, 7), (43, 0)]);
    }

    #[test]
    fn full_table_answers_none() {
        let t = LazyStates::with_capacity(0);
        let slots = SHARDS * 2;
        let mut got = 0;
        for id in 0..(slots as u64 * 4) {
            if t.get_or_claim(id).is_some() {
                got += 1;
            }
        }
        assert_eq!(got, slots);
        assert!(t.overflowed() > 0);
    }

    #[test]
    fn concurrent_claims_agree() {
        let t = Arc::new(LazyStates::with_capacity(1000));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for id in 0..1000u64 {
                        t.get_or_claim(id).unwrap().fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        // Each pair got exactly one slot, which all four threads incremented.
        assert_eq!(t.claimed().count(), 1000);
        assert!(t.claimed().all(|(_, v)| v == 4));
    }
}
