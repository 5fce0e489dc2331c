//! One stage's response cache on one core: S3-FIFO eviction within a byte budget.
//!
//! Why S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction", SOSP 2023):
//! a one-off scan of new keys (a crawler, a cache-busting client) must not push out the hot
//! set, which LRU allows. New entries enter a small FIFO (10% of the bytes); an entry read
//! at least once while there moves to the main FIFO, the rest are dropped and remembered in
//! a ghost FIFO of hashes, so a quick return goes straight to main. Main evicts FIFO-order,
//! giving each entry one more lap per read (2-bit counter). Everything is plain arrays and
//! integers: no locks, no `Rc`, nothing shared with other cores.
//!
//! Memory: the budget covers each entry's single allocation (key and response together),
//! the per-entry bookkeeping, and the actual capacity of the slot array, the index and the
//! ghost, so the process footprint follows the configured size (tested by a 10x overfill
//! measured with a counting allocator).
//!
//! Time: every call takes `now` in nanoseconds from the caller's monotonic clock, so tests
//! (and the worker's coarse per-request clock) drive expiry.

use super::key::CacheKey;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::mem::size_of;

/// AWS does not cache responses over 1048576 bytes (DG:api-gateway-caching, §8).
pub const MAX_CACHED_BODY_BYTES: usize = 1_048_576;

/// The small FIFO's share of the budget, in percent (the paper's 10%).
const SMALL_QUEUE_PERCENT: usize = 10;
/// Reads remembered per entry; each buys one extra lap in the main FIFO.
const MAX_FREQ: u8 = 3;
/// The ghost remembers at least this many evicted hashes even when main is empty.
const MIN_GHOST_ENTRIES: usize = 64;
/// Bookkeeping per entry outside the slot array: the `bytes::Bytes` shared header that the
/// first hit allocates (24 bytes, rounded to an allocator size class).
const PER_ENTRY_HEAP_OVERHEAD: usize = 32;
/// Slot index meaning "none".
const NIL: u32 = u32::MAX;

/// What a hit hands back: the stored response bytes, ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedResponse {
    /// Status line, headers and body as stored.
    pub bytes: Bytes,
    /// Offset of the body in `bytes`, so the writer may add per-request headers
    /// (`x-amzn-RequestId`, `Date`) between head and body.
    pub body_start: usize,
}

impl CachedResponse {
    /// The stored head (everything before the body).
    #[must_use]
    pub fn head(&self) -> &[u8] {
        self.bytes.get(..self.body_start).unwrap_or(&[])
    }

    /// The stored body.
    #[must_use]
    pub fn body(&self) -> &[u8] {
        self.bytes.get(self.body_start..).unwrap_or(&[])
    }
}

/// A response offered for storage after the integration answered.
#[derive(Debug, Clone, Copy)]
pub struct StoreRequest<'a> {
    /// The integration response status; only 2xx is stored.
    pub status: u16,
    /// The response as it will be replayed (head and body).
    pub bytes: &'a [u8],
    /// Offset of the body in `bytes`.
    pub body_start: usize,
    /// Entry lifetime in nanoseconds; 0 stores nothing.
    pub ttl_nanos: u64,
}

/// What [`StageCache::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored (replacing any entry under the same hash).
    Stored,
    /// Not stored: the integration response was not 2xx.
    NotSuccessful,
    /// Not stored: body over [`MAX_CACHED_BODY_BYTES`], or `body_start` past the end.
    TooLarge,
    /// Not stored: the entry alone would not fit this core's budget.
    OverBudget,
    /// Not stored: TTL of zero.
    ZeroTtl,
}

/// Which queue a slot is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Queue {
    Small,
    Main,
    Free,
}

/// One entry, linked into its queue. `data` holds key then response in one allocation.
#[derive(Debug)]
struct Slot {
    hash: u64,
    data: Bytes,
    key_len: u32,
    body_start: u32,
    expires_at: u64,
    freq: u8,
    queue: Queue,
    prev: u32,
    next: u32,
}

impl Slot {
    const EMPTY: Self = Self {
        hash: 0,
        data: Bytes::new(),
        key_len: 0,
        body_start: 0,
        expires_at: 0,
        freq: 0,
        queue: Queue::Free,
        prev: NIL,
        next: NIL,
    };

    fn cost(&self) -> usize {
        self.data.len() + PER_ENTRY_HEAP_OVERHEAD
    }
}

/// A doubly linked FIFO threaded through the slot array: push at head, pop at tail.
#[derive(Debug, Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
    len: usize,
    bytes: usize,
}

impl List {
    const EMPTY: Self = Self {
        head: NIL,
        tail: NIL,
        len: 0,
        bytes: 0,
    };
}

/// The key hashes are already uniform 64-bit values: index by them as they are.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; fold anything else rather than panic.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashIndex<V> = HashMap<u64, V, BuildHasherDefault<PassThroughHasher>>;

/// Bytes a hash map of `(u64, V)` with this capacity holds: hashbrown keeps buckets at a
/// power of two with load factor 7/8, one control byte per bucket plus a 16-byte group.
fn map_bytes<V>(capacity: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = (capacity.saturating_mul(8) / 7).max(4).next_power_of_two();
    buckets * (size_of::<(u64, V)>() + 1) + 16
}

/// Counters for tests, benches and the admin endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Live entries.
    pub entries: usize,
    /// Bytes charged against the budget.
    pub accounted_bytes: usize,
    /// The budget.
    pub budget_bytes: usize,
    /// Entries evicted to make room (expired ones included).
    pub evictions: u64,
}

/// One stage's cache on one core.
#[derive(Debug)]
pub struct StageCache {
    budget: usize,
    index: HashIndex<u32>,
    slots: Vec<Slot>,
    free_head: u32,
    small: List,
    main: List,
    /// Hashes of entries dropped from the small FIFO, oldest first, with an insertion number
    /// so a stale copy (already removed from `ghost_index`) is skipped when popped.
    ghost: VecDeque<(u64, u64)>,
    ghost_index: HashIndex<u64>,
    ghost_seq: u64,
    evictions: u64,
}

impl StageCache {
    /// An empty cache holding at most `budget_bytes`.
    #[must_use]
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            budget: budget_bytes,
            index: HashIndex::default(),
            slots: Vec::new(),
            free_head: NIL,
            small: List::EMPTY,
            main: List::EMPTY,
            ghost: VecDeque::new(),
            ghost_index: HashIndex::default(),
            ghost_seq: 0,
            evictions: 0,
        }
    }

    /// The byte budget.
    #[must_use]
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Live entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.small.len + self.main.len
    }

    /// Whether the cache holds no entry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes charged against the budget: entries plus the capacity of every structure.
    #[must_use]
    pub fn accounted_bytes(&self) -> usize {
        self.small.bytes + self.main.bytes + self.structure_bytes()
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            entries: self.len(),
            accounted_bytes: self.accounted_bytes(),
            budget_bytes: self.budget,
            evictions: self.evictions,
        }
    }

    fn structure_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Slot>()
            + map_bytes::<u32>(self.index.capacity())
            + self.ghost.capacity() * size_of::<(u64, u64)>()
            + map_bytes::<u64>(self.ghost_index.capacity())
    }

    /// Looks a key up. A hit counts as a read for eviction; an expired entry is dropped.
    pub fn get(&mut self, key: &CacheKey<'_>, now: u64) -> Option<CachedResponse> {
        let idx = *self.index.get(&key.hash)?;
        let slot = self.slots.get_mut(idx as usize)?;
        let key_len = slot.key_len as usize;
        if slot.data.get(..key_len) != Some(key.bytes) {
            // Another key with the same 64-bit hash: a miss, never a false hit.
            return None;
        }
        if now >= slot.expires_at {
            self.remove_slot(idx);
            return None;
        }
        slot.freq = (slot.freq + 1).min(MAX_FREQ);
        Some(CachedResponse {
            bytes: slot.data.slice(key_len..),
            body_start: slot.body_start as usize,
        })
    }

    /// Drops the entry for this key, if any (a flush of one key).
    pub fn remove(&mut self, key: &CacheKey<'_>) -> bool {
        let Some(&idx) = self.index.get(&key.hash) else {
            return false;
        };
        let same = self
            .slots
            .get(idx as usize)
            .is_some_and(|s| s.data.get(..s.key_len as usize) == Some(key.bytes));
        if same {
            self.remove_slot(idx);
        }
        same
    }

    /// Stores a response under `key`, evicting as needed to stay within the budget.
    pub fn insert(
        &mut self,
        key: &CacheKey<'_>,
        response: StoreRequest<'_>,
        now: u64,
    ) -> InsertOutcome {
        if !(200..300).contains(&response.status) {
            return InsertOutcome::NotSuccessful;
        }
        if response.ttl_nanos == 0 {
            return InsertOutcome::ZeroTtl;
        }
        let body_len = response.bytes.len().checked_sub(response.body_start);
        if body_len.is_none_or(|n| n > MAX_CACHED_BODY_BYTES) {
            return InsertOutcome::TooLarge;
        }
        let (Ok(key_len), Ok(body_start)) = (
            u32::try_from(key.bytes.len()),
            u32::try_from(response.body_start),
        ) else {
            return InsertOutcome::TooLarge;
        };
        let data_len = key.bytes.len() + response.bytes.len();
        let cost = data_len + PER_ENTRY_HEAP_OVERHEAD;
        // The entry must fit beside the structures an otherwise empty cache needs.
        let minimum_structures = size_of::<Slot>() + map_bytes::<u32>(1);
        if cost + minimum_structures > self.budget {
            return InsertOutcome::OverBudget;
        }

        if let Some(&old) = self.index.get(&key.hash) {
            self.remove_slot(old);
        }
        let to_main = self.ghost_index.remove(&key.hash).is_some();

        // One exact-size allocation: a `Vec` with len == capacity becomes `Bytes` without
        // copying, and a response sliced from a big read buffer is not kept alive.
        let mut data = Vec::with_capacity(data_len);
        data.extend_from_slice(key.bytes);
        data.extend_from_slice(response.bytes);

        self.make_room(cost, now);
        let slot = Slot {
            hash: key.hash,
            data: Bytes::from(data),
            key_len,
            body_start,
            expires_at: now.saturating_add(response.ttl_nanos),
            freq: 0,
            queue: Queue::Free,
            prev: NIL,
            next: NIL,
        };
        let Some(idx) = self.alloc_slot(slot) else {
            return InsertOutcome::OverBudget;
        };
        self.link_head(idx, if to_main { Queue::Main } else { Queue::Small });
        self.index.insert(key.hash, idx);
        // Growing the slot array or index may itself have crossed the budget.
        self.make_room(0, now);
        InsertOutcome::Stored
    }

    /// Drops every entry and releases the memory (FlushStageCache).
    pub fn flush(&mut self) {
        let budget = self.budget;
        let evictions = self.evictions;
        *self = Self::new(budget);
        self.evictions = evictions;
    }

    /// Evicts until `extra` more bytes fit. Each round removes one entry (or the cache is
    /// empty), so at most `len() + 1` rounds run.
    fn make_room(&mut self, extra: usize, now: u64) {
        let mut rounds = self.len() + 1;
        while self.accounted_bytes() + extra > self.budget && rounds > 0 && !self.is_empty() {
            rounds -= 1;
            let small_target = self.budget / 100 * SMALL_QUEUE_PERCENT;
            if self.small.len > 0 && (self.small.bytes >= small_target || self.main.len == 0) {
                self.evict_small(now);
            } else {
                self.evict_main(now);
            }
        }
    }

    /// Pops small-FIFO tails: read ones move to main, the first unread one is dropped and
    /// its hash goes to the ghost. Bounded by the small FIFO's length.
    fn evict_small(&mut self, now: u64) {
        for _ in 0..self.small.len {
            let idx = self.small.tail;
            let Some(slot) = self.slots.get(idx as usize) else {
                return;
            };
            let (freq, hash, expired) = (slot.freq, slot.hash, slot.expires_at <= now);
            self.unlink(idx);
            if freq > 0 && !expired {
                self.link_head(idx, Queue::Main);
                continue;
            }
            self.remove_unlinked(idx);
            self.evictions += 1;
            if !expired {
                self.remember_ghost(hash);
            }
            return;
        }
        // Everything in small was read and moved on: make room from main instead.
        self.evict_main(now);
    }

    /// Pops main-FIFO tails: a read entry loses one read and goes round again, an unread or
    /// expired one is dropped. Each entry can go round at most `MAX_FREQ` times.
    fn evict_main(&mut self, now: u64) {
        let bound = self.main.len * (MAX_FREQ as usize + 1);
        for _ in 0..bound {
            let idx = self.main.tail;
            let Some(slot) = self.slots.get_mut(idx as usize) else {
                return;
            };
            if slot.freq > 0 && slot.expires_at > now {
                slot.freq -= 1;
                self.unlink(idx);
                self.link_head(idx, Queue::Main);
                continue;
            }
            self.unlink(idx);
            self.remove_unlinked(idx);
            self.evictions += 1;
            return;
        }
    }

    fn remember_ghost(&mut self, hash: u64) {
        let limit = self.main.len.max(MIN_GHOST_ENTRIES);
        // Each round pops one, so this ends; stale copies are skipped.
        while self.ghost.len() >= limit {
            if let Some((old, seq)) = self.ghost.pop_front() {
                if self.ghost_index.get(&old) == Some(&seq) {
                    self.ghost_index.remove(&old);
                }
            }
        }
        self.ghost_seq += 1;
        self.ghost.push_back((hash, self.ghost_seq));
        self.ghost_index.insert(hash, self.ghost_seq);
    }

    fn alloc_slot(&mut self, slot: Slot) -> Option<u32> {
        if self.free_head != NIL {
            let idx = self.free_head;
            let free = self.slots.get_mut(idx as usize)?;
            self.free_head = free.next;
            *free = slot;
            return Some(idx);
        }
        let idx = u32::try_from(self.slots.len()).ok().filter(|i| *i != NIL)?;
        self.slots.push(slot);
        Some(idx)
    }

    fn remove_slot(&mut self, idx: u32) {
        self.unlink(idx);
        self.remove_unlinked(idx);
    }

    /// Frees an unlinked slot: index entry, data, and back on the free list.
    fn remove_unlinked(&mut self, idx: u32) {
        let free_head = self.free_head;
        let Some(slot) = self.slots.get_mut(idx as usize) else {
            return;
        };
        if self.index.get(&slot.hash) == Some(&idx) {
            self.index.remove(&slot.hash);
        }
        *slot = Slot::EMPTY;
        slot.next = free_head;
        self.free_head = idx;
    }

    fn list_mut(&mut self, queue: Queue) -> Option<&mut List> {
        match queue {
            Queue::Small => Some(&mut self.small),
            Queue::Main => Some(&mut self.main),
            Queue::Free => None,
        }
    }

    fn link_head(&mut self, idx: u32, queue: Queue) {
        let Some(cost) = self.slots.get(idx as usize).map(Slot::cost) else {
            return;
        };
        let Some(list) = self.list_mut(queue) else {
            return;
        };
        let old_head = list.head;
        list.head = idx;
        if list.tail == NIL {
            list.tail = idx;
        }
        list.len += 1;
        list.bytes += cost;
        if let Some(h) = self.slots.get_mut(old_head as usize) {
            h.prev = idx;
        }
        if let Some(slot) = self.slots.get_mut(idx as usize) {
            slot.queue = queue;
            slot.prev = NIL;
            slot.next = old_head;
        }
    }

    fn unlink(&mut self, idx: u32) {
        let Some(slot) = self.slots.get_mut(idx as usize) else {
            return;
        };
        let (prev, next, queue, cost) = (slot.prev, slot.next, slot.queue, slot.cost());
        slot.prev = NIL;
        slot.next = NIL;
        slot.queue = Queue::Free;
        if let Some(p) = self.slots.get_mut(prev as usize) {
            p.next = next;
        }
        if let Some(n) = self.slots.get_mut(next as usize) {
            n.prev = prev;
        }
        let Some(list) = self.list_mut(queue) else {
            return;
        };
        if list.head == idx {
            list.head = next;
        }
        if list.tail == idx {
            list.tail = prev;
        }
        list.len -= 1;
        list.bytes -= cost;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::key::KeyBuilder;
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn builder() -> KeyBuilder {
        KeyBuilder::new(ahash::RandomState::with_seeds(9, 8, 7, 6))
    }

    fn ok(bytes: &[u8], ttl_secs: u64) -> StoreRequest<'_> {
        StoreRequest {
            status: 200,
            bytes,
            body_start: 0,
            ttl_nanos: ttl_secs * SEC,
        }
    }

    fn put(
        c: &mut StageCache,
        b: &mut KeyBuilder,
        id: &str,
        body: &[u8],
        now: u64,
    ) -> InsertOutcome {
        b.start(0, b"res", b"GET").param(Some(id.as_bytes()));
        c.insert(&b.key(), ok(body, 300), now)
    }

    fn hit(c: &mut StageCache, b: &mut KeyBuilder, id: &str, now: u64) -> Option<CachedResponse> {
        b.start(0, b"res", b"GET").param(Some(id.as_bytes()));
        c.get(&b.key(), now)
    }

    #[test]
    fn miss_then_hit_until_ttl_expires() {
        let mut c = StageCache::new(1 << 20);
        let mut b = builder();
        b.start(0, b"res", b"GET");
        assert_eq!(c.get(&b.key(), 0), None);
        let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
        let stored = c.insert(
            &b.key(),
            StoreRequest {
                status: 200,
                bytes: resp,
                body_start: resp.len() - 2,
                ttl_nanos: 10 * SEC,
            },
            SEC,
        );
        assert_eq!(stored, InsertOutcome::Stored);
        let h = c.get(&b.key(), 10 * SEC).unwrap();
        assert_eq!(&h.bytes[..], &resp[..]);
        assert_eq!(h.body(), b"hi");
        assert_eq!(h.head(), b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
        // Stored at 1 s with a 10 s TTL: live at 10.999 s, gone at 11 s.
        assert!(c.get(&b.key(), 11 * SEC - 1).is_some());
        assert_eq!(c.get(&b.key(), 11 * SEC), None);
        assert!(c.is_empty(), "an expired entry is dropped when found");
    }

    #[test]
    fn only_successful_small_responses_are_stored() {
        let mut c = StageCache::new(4 << 20);
        let mut b = builder();
        b.start(0, b"r", b"GET");
        let k = b.key().to_owned_key();
        let body = vec![b'x'; MAX_CACHED_BODY_BYTES];
        let mut req = ok(&body, 300);
        req.status = 500;
        assert_eq!(c.insert(&k.as_key(), req, 0), InsertOutcome::NotSuccessful);
        req.status = 302;
        assert_eq!(c.insert(&k.as_key(), req, 0), InsertOutcome::NotSuccessful);
        req.status = 200;
        req.ttl_nanos = 0;
        assert_eq!(c.insert(&k.as_key(), req, 0), InsertOutcome::ZeroTtl);
        let too_big = vec![b'x'; MAX_CACHED_BODY_BYTES + 1];
        assert_eq!(
            c.insert(&k.as_key(), ok(&too_big, 300), 0),
            InsertOutcome::TooLarge
        );
        // The limit is on the body: a head in front of a 1 MiB body is fine.
        let mut with_head = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        let head_len = with_head.len();
        with_head.extend_from_slice(&body);
        let req = StoreRequest {
            body_start: head_len,
            ..ok(&with_head, 300)
        };
        assert_eq!(c.insert(&k.as_key(), req, 0), InsertOutcome::Stored);
        assert_eq!(
            c.get(&k.as_key(), 1).unwrap().body().len(),
            MAX_CACHED_BODY_BYTES
        );
        let bad_offset = StoreRequest {
            body_start: 10,
            ..ok(b"short", 300)
        };
        assert_eq!(
            c.insert(&k.as_key(), bad_offset, 0),
            InsertOutcome::TooLarge
        );
        let mut tiny = StageCache::new(1000);
        assert_eq!(
            tiny.insert(&k.as_key(), ok(&[0; 2000], 300), 0),
            InsertOutcome::OverBudget
        );
    }

    #[test]
    fn hash_collision_is_a_miss_not_a_false_hit() {
        let mut c = StageCache::new(1 << 20);
        let real = CacheKey {
            bytes: b"key-a",
            hash: 42,
        };
        let other = CacheKey {
            bytes: b"key-b",
            hash: 42,
        };
        assert_eq!(c.insert(&real, ok(b"A", 300), 0), InsertOutcome::Stored);
        assert_eq!(c.get(&other, 1), None);
        assert_eq!(c.get(&real, 1).unwrap().bytes, Bytes::from_static(b"A"));
        // Storing the colliding key replaces the entry; the first key then misses.
        assert_eq!(c.insert(&other, ok(b"B", 300), 0), InsertOutcome::Stored);
        assert_eq!(c.get(&real, 1), None);
        assert_eq!(c.get(&other, 1).unwrap().bytes, Bytes::from_static(b"B"));
        assert_eq!(c.len(), 1);
        assert!(!c.remove(&real));
        assert!(c.remove(&other));
        assert!(c.is_empty());
    }

    #[test]
    fn replacing_a_key_keeps_one_entry() {
        let mut c = StageCache::new(1 << 20);
        let mut b = builder();
        assert_eq!(put(&mut c, &mut b, "1", b"old", 0), InsertOutcome::Stored);
        assert_eq!(put(&mut c, &mut b, "1", b"new", 0), InsertOutcome::Stored);
        assert_eq!(c.len(), 1);
        assert_eq!(
            hit(&mut c, &mut b, "1", 1).unwrap().bytes,
            Bytes::from_static(b"new")
        );
    }

    #[test]
    fn one_off_scan_does_not_evict_the_hot_set() {
        let body = [b'v'; 1000];
        let mut c = StageCache::new(200 * 1024);
        let mut b = builder();
        // A hot set well inside the budget, read a few times.
        let hot: Vec<String> = (0..50).map(|i| format!("hot{i}")).collect();
        for id in &hot {
            assert_eq!(put(&mut c, &mut b, id, &body, 0), InsertOutcome::Stored);
        }
        for _ in 0..2 {
            for id in &hot {
                assert!(hit(&mut c, &mut b, id, 1).is_some());
            }
        }
        // A scan of 10x the cache's size in keys seen once, with the hot set still in use.
        for i in 0..2000 {
            put(&mut c, &mut b, &format!("scan{i}"), &body, 2);
            if i % 100 == 0 {
                for id in &hot {
                    hit(&mut c, &mut b, id, 2);
                }
            }
        }
        let survivors = hot
            .iter()
            .filter(|id| hit(&mut c, &mut b, id, 3).is_some())
            .count();
        assert_eq!(
            survivors,
            hot.len(),
            "S3-FIFO keeps every hot entry through the scan"
        );
        assert!(c.accounted_bytes() <= c.budget());
    }

    #[test]
    fn scan_alone_cycles_through_small_queue() {
        // Without reads, scanned entries leave through the small FIFO and the cache keeps
        // working: the latest keys hit.
        let mut c = StageCache::new(64 * 1024);
        let mut b = builder();
        for i in 0..1000 {
            put(&mut c, &mut b, &format!("k{i}"), &[1; 500], 0);
        }
        assert!(hit(&mut c, &mut b, "k999", 1).is_some());
        assert!(hit(&mut c, &mut b, "k0", 1).is_none());
        assert!(c.stats().evictions > 800);
    }

    #[test]
    fn ghost_hit_goes_straight_to_main() {
        let mut c = StageCache::new(64 * 1024);
        let mut b = builder();
        put(&mut c, &mut b, "returning", &[1; 500], 0);
        // About 100 entries fit: 130 more push "returning" out, and it is still among the
        // last 64 hashes the ghost remembers.
        for i in 0..130 {
            put(&mut c, &mut b, &format!("k{i}"), &[1; 500], 0);
        }
        assert!(
            hit(&mut c, &mut b, "returning", 1).is_none(),
            "evicted to the ghost"
        );
        put(&mut c, &mut b, "returning", &[1; 500], 1);
        b.start(0, b"res", b"GET").param(Some(b"returning"));
        let idx = c.index[&b.key().hash];
        assert_eq!(c.slots[idx as usize].queue, Queue::Main);
    }

    #[test]
    fn expired_entries_go_first_under_pressure() {
        let mut c = StageCache::new(32 * 1024);
        let mut b = builder();
        b.start(0, b"res", b"GET").param(Some(b"short"));
        let short = b.key().to_owned_key();
        c.insert(&short.as_key(), ok(&[1; 500], 1), 0);
        c.get(&short.as_key(), 1);
        for i in 0..200 {
            put(&mut c, &mut b, &format!("k{i}"), &[1; 500], 2 * SEC);
        }
        assert_eq!(c.get(&short.as_key(), 2 * SEC), None);
    }

    #[test]
    fn flush_empties_and_releases() {
        let mut c = StageCache::new(1 << 20);
        let mut b = builder();
        for i in 0..100 {
            put(&mut c, &mut b, &i.to_string(), b"body", 0);
        }
        assert_eq!(c.len(), 100);
        c.flush();
        assert!(c.is_empty());
        assert_eq!(c.accounted_bytes(), 0);
        assert!(hit(&mut c, &mut b, "5", 1).is_none());
        assert_eq!(put(&mut c, &mut b, "5", b"again", 1), InsertOutcome::Stored);
        assert!(hit(&mut c, &mut b, "5", 2).is_some());
    }

    /// Fills 10x past the budget with mixed sizes, then checks both the accounting and the
    /// bytes this thread really holds on the heap (a counting allocator, see `alloc_probe`).
    #[test]
    fn budget_holds_under_tenfold_fill() {
        use super::super::alloc_probe::net_allocated_bytes;
        const BUDGET: usize = 2 << 20;
        let bodies: Vec<Vec<u8>> = [10usize, 200, 3000, 40_000]
            .iter()
            .map(|n| vec![7; *n])
            .collect();
        let mut b = builder();
        b.start(0, b"warm", b"GET").param(Some(&[0; 64]));
        let ids: Vec<String> = (0..20_000).map(|i| format!("id-{i}")).collect();

        let before = net_allocated_bytes();
        let mut c = StageCache::new(BUDGET);
        let mut inserted = 0usize;
        let mut i = 0usize;
        while inserted < 10 * BUDGET {
            let body = &bodies[i % bodies.len()];
            let id = &ids[i % ids.len()];
            assert_eq!(put(&mut c, &mut b, id, body, 0), InsertOutcome::Stored);
            // Hits allocate the shared header of `Bytes`: exercise them too.
            if i % 3 == 0 {
                drop(hit(&mut c, &mut b, id, 0));
            }
            inserted += body.len();
            i += 1;
            assert!(
                c.accounted_bytes() <= BUDGET,
                "accounted {} after {i} inserts",
                c.accounted_bytes()
            );
        }
        let actual = net_allocated_bytes() - before;
        let accounted = c.accounted_bytes();
        assert!(actual <= BUDGET as isize, "heap {actual} > budget {BUDGET}");
        // The accounting is neither wildly pessimistic nor optimistic.
        assert!(
            accounted as isize >= actual,
            "accounted {accounted} < heap {actual}"
        );
        assert!(
            accounted as isize - actual < (BUDGET / 10) as isize,
            "accounted {accounted}, heap {actual}"
        );
        assert!(accounted > BUDGET / 2, "budget is used: {accounted}");
        drop(c);
        assert_eq!(
            net_allocated_bytes() - before,
            0,
            "everything freed on drop"
        );
    }
}
