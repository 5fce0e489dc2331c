//! Usage-plan quotas: UTC period math, one atomic counter per (plan, key), and their persistence.
//!
//! **Periods** (API: QuotaSettings; `period` is `DAY`, `WEEK` or `MONTH`). AWS does not document
//! where a period starts, so we take UTC calendar boundaries (aws-behavior §9.3): a day starts at
//! 00:00 UTC, a month on the 1st at 00:00 UTC, and a week on **Sunday** 00:00 UTC. Sunday because
//! the older API reference described `offset` as "the day that a time period starts. For example,
//! with a time period of WEEK, an offset of 0 starts on Sunday" (aws-sdk-apigateway 1.73
//! QuotaSettings), the only AWS text that names a week start.
//!
//! **Offset.** The current API reference and CloudFormation define `offset` as "the number of
//! requests subtracted from the given limit in the initial time period" (a plan started mid-month
//! gets a smaller first month). The initial period is the one in which this gateway first saw the
//! plan with that period kind; it is recorded in the store, so a restart does not start it again.
//!
//! **Counters.** One `AtomicU64` per (plan, key, period kind) packs the period index (high 24
//! bits) with the requests used in it (low 40 bits), so "new period → reset" and "count one" are a
//! single compare-and-swap and a quota is exact under contention.
//!
//! **Persistence** (redb, one file `quota.redb` under `--state-dir`). Requests only touch atomics;
//! a flush thread (every [`DEFAULT_FLUSH_INTERVAL`] and at shutdown) writes, in one transaction,
//! each changed counter's *absolute* value and each changed day's *absolute* usage. Writing
//! absolutes makes a flush idempotent: a retried or repeated flush never double-counts. A crash
//! loses at most the requests counted since the last successful flush (so a quota can be exceeded
//! after a crash by at most what was admitted in one flush interval); a clean shutdown loses
//! nothing. Requests are attributed to the UTC day of the flush that writes them, so usage near
//! midnight can land on the next day by at most one flush interval.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redb::{Database, ReadableTable, TableDefinition};

use super::bucket::MAX_CAS_RETRIES;
use super::config::QuotaPeriod;

/// Seconds in a UTC day (no leap seconds in Unix time).
pub const SECS_PER_DAY: u64 = 86_400;
/// How often the flush thread writes counters by default.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Days of per-day usage kept for GetUsage (AWS keeps usage for 90 days).
pub const USAGE_RETENTION_DAYS: u64 = 90;
/// Bits of the packed counter holding the request count.
const USED_BITS: u32 = 40;
const USED_MASK: u64 = (1 << USED_BITS) - 1;
/// Largest period index that fits the packed counter's high bits.
const MAX_PERIOD: u64 = (1 << (64 - USED_BITS)) - 1;
/// The store's file name inside the state directory.
pub const STORE_FILE: &str = "quota.redb";

/// Days from 1969-12-28 (a Sunday) to 1970-01-01 (a Thursday).
const DAYS_SUNDAY_BEFORE_EPOCH: u64 = 4;

/// (plan id, key id, period) → packed counter.
const COUNTERS: TableDefinition<(&str, &str, &str), u64> = TableDefinition::new("counters");
/// (plan id, key id, UTC day number) → requests that day.
const DAYS: TableDefinition<(&str, &str, u64), u64> = TableDefinition::new("days");
/// (plan id, period) → index of the plan's initial period.
const FIRST_PERIODS: TableDefinition<(&str, &str), u64> = TableDefinition::new("first_periods");

/// A civil date (proleptic Gregorian, UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    /// Year.
    pub year: i64,
    /// Month, 1 to 12.
    pub month: u32,
    /// Day of month, 1 to 31.
    pub day: u32,
}

/// The civil date of day `days` since 1970-01-01 (H. Hinnant, "chrono-Compatible Low-Level Date
/// Algorithms", `civil_from_days`).
#[must_use]
pub fn civil_from_days(days: u64) -> Date {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Date { year, month, day }
}

/// Days since 1970-01-01 of a civil date (Hinnant's `days_from_civil`); `None` before 1970.
#[must_use]
pub fn days_from_civil(date: Date) -> Option<u64> {
    let y = date.year - i64::from(date.month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(date.month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(date.day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    u64::try_from(era * 146_097 + doe - 719_468).ok()
}

/// Parses `YYYY-MM-DD` (GetUsage's `startDate`/`endDate`) into a day number.
#[must_use]
pub fn parse_date(s: &str) -> Option<u64> {
    let mut parts = s.splitn(3, '-');
    let year = parts.next()?.parse().ok()?;
    let month = parts.next()?.parse().ok()?;
    let day = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let n = days_from_civil(Date { year, month, day })?;
    // Reject 2024-02-31 and the like: it must round-trip.
    (civil_from_days(n) == Date { year, month, day }).then_some(n)
}

/// `YYYY-MM-DD` for a day number.
#[must_use]
pub fn format_date(days: u64) -> String {
    let d = civil_from_days(days);
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// The index of the period containing UTC day `day`: days, Sunday-weeks or months since 1970.
#[inline]
#[must_use]
pub fn period_of_day(period: QuotaPeriod, day: u64) -> u64 {
    match period {
        QuotaPeriod::Day => day,
        QuotaPeriod::Week => (day + DAYS_SUNDAY_BEFORE_EPOCH) / 7,
        QuotaPeriod::Month => {
            let d = civil_from_days(day);
            (d.year - 1970) as u64 * 12 + u64::from(d.month - 1)
        }
    }
}

/// The first UTC day of period `index`.
#[must_use]
pub fn first_day_of_period(period: QuotaPeriod, index: u64) -> u64 {
    match period {
        QuotaPeriod::Day => index,
        QuotaPeriod::Week => (index * 7).saturating_sub(DAYS_SUNDAY_BEFORE_EPOCH),
        QuotaPeriod::Month => days_from_civil(Date {
            year: 1970 + (index / 12) as i64,
            month: (index % 12) as u32 + 1,
            day: 1,
        })
        .unwrap_or(0),
    }
}

fn period_name(p: QuotaPeriod) -> &'static str {
    match p {
        QuotaPeriod::Day => "DAY",
        QuotaPeriod::Week => "WEEK",
        QuotaPeriod::Month => "MONTH",
    }
}

#[inline]
fn pack(period: u64, used: u64) -> u64 {
    (period.min(MAX_PERIOD) << USED_BITS) | used.min(USED_MASK)
}

#[inline]
fn unpack(word: u64) -> (u64, u64) {
    (word >> USED_BITS, word & USED_MASK)
}

/// One (plan, key, period kind)'s quota counter.
#[derive(Debug, Default)]
pub struct QuotaCounter {
    /// Packed (period index, used in it).
    state: AtomicU64,
    /// Requests counted since the last flush, for per-day usage.
    unflushed: AtomicU64,
}

impl QuotaCounter {
    /// Counts one request in period `period` if fewer than `limit` were counted in it.
    #[inline]
    pub fn try_take(&self, period: u64, limit: u64) -> bool {
        let period = period.min(MAX_PERIOD);
        let mut current = self.state.load(Ordering::Relaxed);
        for _ in 0..MAX_CAS_RETRIES {
            let (stored, used) = unpack(current);
            // A thread whose clock read is a little older than another's must not reset the
            // newer period's count: the later period wins.
            let (at, used) = if stored >= period {
                (stored, used)
            } else {
                (period, 0)
            };
            if used >= limit.min(USED_MASK) {
                return false;
            }
            match self.state.compare_exchange_weak(
                current,
                pack(at, used + 1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.unflushed.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                Err(seen) => current = seen,
            }
        }
        false
    }

    /// Requests counted in period `period` (0 if the counter is in another period).
    #[must_use]
    pub fn used_in(&self, period: u64) -> u64 {
        let (stored, used) = unpack(self.state.load(Ordering::Relaxed));
        if stored == period { used } else { 0 }
    }
}

/// Why the store failed.
#[derive(Debug)]
pub struct StoreError(String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "quota store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

fn store_err(context: &str) -> impl FnOnce(redb::Error) -> StoreError + '_ {
    move |e| StoreError(format!("{context}: {e}"))
}

/// Counters and per-day usage of every (plan, key), shared by every limiter built during the
/// process's life so that reloads keep them. Locked only by the control plane (build, flush,
/// usage reports); the request path holds `Arc<QuotaCounter>`s directly.
#[derive(Debug)]
pub struct QuotaRegistry {
    inner: Mutex<Inner>,
    /// `None` in memory, or after [`QuotaRegistry::close`].
    db: Mutex<Option<Database>>,
}

type CounterKey = (String, String, QuotaPeriod);

#[derive(Debug, Default)]
struct Inner {
    counters: HashMap<CounterKey, Arc<QuotaCounter>>,
    /// Counters whose absolute value must be written at the next flush.
    dirty_counters: BTreeSet<CounterKey>,
    first_periods: HashMap<(String, QuotaPeriod), u64>,
    dirty_first: BTreeSet<(String, QuotaPeriod)>,
    /// (plan, key, day) → requests.
    days: BTreeMap<(String, String, u64), u64>,
    dirty_days: BTreeSet<(String, String, u64)>,
}

/// What one flush wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushStats {
    /// Counters written.
    pub counters: usize,
    /// Day rows written.
    pub days: usize,
}

impl QuotaRegistry {
    /// A registry that keeps everything in memory (no `--state-dir`).
    #[must_use]
    pub fn in_memory() -> Arc<QuotaRegistry> {
        Arc::new(QuotaRegistry {
            inner: Mutex::new(Inner::default()),
            db: Mutex::new(None),
        })
    }

    /// Opens (or creates) `state_dir/quota.redb` and loads what it holds.
    pub fn open(state_dir: &Path) -> Result<Arc<QuotaRegistry>, StoreError> {
        std::fs::create_dir_all(state_dir)
            .map_err(|e| StoreError(format!("cannot create {}: {e}", state_dir.display())))?;
        let path = state_dir.join(STORE_FILE);
        let db = Database::create(&path)
            .map_err(|e| StoreError(format!("cannot open {}: {e}", path.display())))?;
        let mut inner = Inner::default();
        {
            let txn = db.begin_write().map_err(|e| store_err("begin")(e.into()))?;
            // Opening in a write transaction creates missing tables on first start.
            {
                let counters = txn
                    .open_table(COUNTERS)
                    .map_err(|e| store_err("counters")(e.into()))?;
                for row in counters
                    .iter()
                    .map_err(|e| store_err("counters")(e.into()))?
                {
                    let (k, v) = row.map_err(|e| store_err("counters")(e.into()))?;
                    let (plan, key, period) = k.value();
                    if let Some(p) = parse_period(period) {
                        let c = QuotaCounter {
                            state: AtomicU64::new(v.value()),
                            unflushed: AtomicU64::new(0),
                        };
                        inner
                            .counters
                            .insert((plan.to_string(), key.to_string(), p), Arc::new(c));
                    }
                }
                let days = txn
                    .open_table(DAYS)
                    .map_err(|e| store_err("days")(e.into()))?;
                for row in days.iter().map_err(|e| store_err("days")(e.into()))? {
                    let (k, v) = row.map_err(|e| store_err("days")(e.into()))?;
                    let (plan, key, day) = k.value();
                    inner
                        .days
                        .insert((plan.to_string(), key.to_string(), day), v.value());
                }
                let firsts = txn
                    .open_table(FIRST_PERIODS)
                    .map_err(|e| store_err("first periods")(e.into()))?;
                for row in firsts
                    .iter()
                    .map_err(|e| store_err("first periods")(e.into()))?
                {
                    let (k, v) = row.map_err(|e| store_err("first periods")(e.into()))?;
                    let (plan, period) = k.value();
                    if let Some(p) = parse_period(period) {
                        inner.first_periods.insert((plan.to_string(), p), v.value());
                    }
                }
            }
            txn.commit().map_err(|e| store_err("commit")(e.into()))?;
        }
        Ok(Arc::new(QuotaRegistry {
            inner: Mutex::new(inner),
            db: Mutex::new(Some(db)),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the maps half-updated in a way that
        // matters more than losing the process's counts, so carry on with the data.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The counter for (plan, key, period kind), created empty on first use.
    pub fn counter(&self, plan: &str, key: &str, period: QuotaPeriod) -> Arc<QuotaCounter> {
        self.lock()
            .counters
            .entry((plan.to_string(), key.to_string(), period))
            .or_default()
            .clone()
    }

    /// The plan's initial period for `period` kind, recording `current` if it has none yet.
    pub fn first_period(&self, plan: &str, period: QuotaPeriod, current: u64) -> u64 {
        let mut inner = self.lock();
        let key = (plan.to_string(), period);
        if let Some(&p) = inner.first_periods.get(&key) {
            return p;
        }
        inner.first_periods.insert(key.clone(), current);
        inner.dirty_first.insert(key);
        current
    }

    /// Requests per day for (plan, key), days `from..=to`, counting what is not flushed yet
    /// as today's (`today`).
    #[must_use]
    pub fn days(&self, plan: &str, key: &str, from: u64, to: u64, today: u64) -> Vec<(u64, u64)> {
        let inner = self.lock();
        let pending: u64 = inner
            .counters
            .iter()
            .filter(|((p, k, _), _)| p == plan && k == key)
            .map(|(_, c)| c.unflushed.load(Ordering::Relaxed))
            .sum();
        (from..=to)
            .map(|day| {
                let stored = inner
                    .days
                    .get(&(plan.to_string(), key.to_string(), day))
                    .copied()
                    .unwrap_or(0);
                let extra = if day == today { pending } else { 0 };
                (day, stored + extra)
            })
            .collect()
    }

    /// Flushes once more and closes the store cleanly (at shutdown; later flushes only
    /// update memory). A store that is not closed is repaired, slowly, at the next open.
    pub fn close(&self) -> Result<(), StoreError> {
        let result = self.flush(today_utc()).map(|_| ());
        let mut db = match self.db.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        db.take();
        result
    }

    /// Moves counted requests into per-day usage (attributed to UTC day `today`) and writes
    /// every changed value to the store in one transaction.
    pub fn flush(&self, today: u64) -> Result<FlushStats, StoreError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        for ((plan, key, period), counter) in &inner.counters {
            let delta = counter.unflushed.swap(0, Ordering::Relaxed);
            if delta == 0 {
                continue;
            }
            inner
                .dirty_counters
                .insert((plan.clone(), key.clone(), *period));
            // Each request is counted by exactly one counter (the plan's current period kind),
            // so adding every counter's delta to the (plan, key) day row counts it once.
            let day_key = (plan.clone(), key.clone(), today);
            *inner.days.entry(day_key.clone()).or_default() += delta;
            inner.dirty_days.insert(day_key);
        }
        // Keep USAGE_RETENTION_DAYS of history in memory; the store keeps what it was given.
        let oldest = today.saturating_sub(USAGE_RETENTION_DAYS);
        inner.days.retain(|(_, _, day), _| *day >= oldest);
        // Counters are never dropped from memory: one no limiter holds now (a plan removed by a
        // reload, or loaded before the first build) must still be there if it comes back.

        let stats = FlushStats {
            counters: inner.dirty_counters.len(),
            days: inner.dirty_days.len(),
        };
        let db_guard = match self.db.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(db) = db_guard.as_ref() else {
            inner.dirty_counters.clear();
            inner.dirty_days.clear();
            inner.dirty_first.clear();
            return Ok(stats);
        };
        if stats == FlushStats::default() && inner.dirty_first.is_empty() {
            return Ok(stats);
        }
        let txn = db.begin_write().map_err(|e| store_err("begin")(e.into()))?;
        {
            let mut counters = txn
                .open_table(COUNTERS)
                .map_err(|e| store_err("counters")(e.into()))?;
            for k in &inner.dirty_counters {
                let value = inner
                    .counters
                    .get(k)
                    .map_or(0, |c| c.state.load(Ordering::Relaxed));
                counters
                    .insert((k.0.as_str(), k.1.as_str(), period_name(k.2)), value)
                    .map_err(|e| store_err("counters")(e.into()))?;
            }
            let mut days = txn
                .open_table(DAYS)
                .map_err(|e| store_err("days")(e.into()))?;
            for k in &inner.dirty_days {
                let value = inner.days.get(k).copied().unwrap_or(0);
                days.insert((k.0.as_str(), k.1.as_str(), k.2), value)
                    .map_err(|e| store_err("days")(e.into()))?;
            }
            let mut firsts = txn
                .open_table(FIRST_PERIODS)
                .map_err(|e| store_err("first periods")(e.into()))?;
            for k in &inner.dirty_first {
                if let Some(&v) = inner.first_periods.get(k) {
                    firsts
                        .insert((k.0.as_str(), period_name(k.1)), v)
                        .map_err(|e| store_err("first periods")(e.into()))?;
                }
            }
        }
        txn.commit().map_err(|e| store_err("commit")(e.into()))?;
        // Only a committed write clears the dirty sets: a failed flush is retried in full.
        inner.dirty_counters.clear();
        inner.dirty_days.clear();
        inner.dirty_first.clear();
        Ok(stats)
    }
}

fn parse_period(s: &str) -> Option<QuotaPeriod> {
    match s {
        "DAY" => Some(QuotaPeriod::Day),
        "WEEK" => Some(QuotaPeriod::Week),
        "MONTH" => Some(QuotaPeriod::Month),
        _ => None,
    }
}

/// Today's UTC day number from the system clock (and the test clock's skew).
#[must_use]
pub fn today_utc() -> u64 {
    crate::clock::unix_secs() / SECS_PER_DAY
}

/// The background thread that flushes a registry every interval and once more when stopped.
#[derive(Debug)]
pub struct Flusher {
    stop: crossbeam_channel::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Flusher {
    /// Starts flushing `registry` every `interval`. Failed flushes are reported to `on_error`
    /// (the dirty values stay and the next flush retries them).
    pub fn spawn(
        registry: Arc<QuotaRegistry>,
        interval: Duration,
        on_error: impl Fn(&StoreError) + Send + 'static,
    ) -> std::io::Result<Flusher> {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name("tollgate-quota-flush".into())
            .spawn(move || {
                loop {
                    let done = !matches!(
                        stopped.recv_timeout(interval),
                        Err(crossbeam_channel::RecvTimeoutError::Timeout)
                    );
                    if let Err(e) = registry.flush(today_utc()) {
                        on_error(&e);
                    }
                    if done {
                        return;
                    }
                }
            })?;
        Ok(Flusher {
            stop,
            thread: Some(thread),
        })
    }

    /// Flushes one last time and waits for the thread (call at shutdown).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.try_send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn day(s: &str) -> u64 {
        parse_date(s).unwrap()
    }

    #[test]
    fn civil_round_trip() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(day("2000-03-01"), 11_017);
        assert_eq!(format_date(day("2024-02-29")), "2024-02-29");
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("1969-12-31"), None);
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_date("x"), None);
        for n in (0..40_000).step_by(7) {
            assert_eq!(parse_date(&format_date(n)), Some(n));
        }
    }

    #[test]
    fn day_boundaries_are_utc_midnight() {
        let d = day("2024-03-10");
        let secs = d * SECS_PER_DAY;
        assert_eq!(
            period_of_day(QuotaPeriod::Day, (secs - 1) / SECS_PER_DAY),
            d - 1
        );
        assert_eq!(period_of_day(QuotaPeriod::Day, secs / SECS_PER_DAY), d);
    }

    #[test]
    fn weeks_start_on_sunday() {
        // 2024-03-09 is a Saturday, 2024-03-10 a Sunday, 2024-03-16 the next Saturday.
        let sat = period_of_day(QuotaPeriod::Week, day("2024-03-09"));
        let sun = period_of_day(QuotaPeriod::Week, day("2024-03-10"));
        assert_eq!(sun, sat + 1);
        assert_eq!(period_of_day(QuotaPeriod::Week, day("2024-03-16")), sun);
        assert_eq!(period_of_day(QuotaPeriod::Week, day("2024-03-17")), sun + 1);
        assert_eq!(
            first_day_of_period(QuotaPeriod::Week, sun),
            day("2024-03-10")
        );
        // 1970-01-01 (Thursday) is in week 0, which began on 1969-12-28.
        assert_eq!(period_of_day(QuotaPeriod::Week, 0), 0);
        assert_eq!(period_of_day(QuotaPeriod::Week, 3), 1); // Sunday 1970-01-04
    }

    #[test]
    fn months_are_calendar_months() {
        let feb = period_of_day(QuotaPeriod::Month, day("2024-02-29"));
        assert_eq!(period_of_day(QuotaPeriod::Month, day("2024-02-01")), feb);
        assert_eq!(
            period_of_day(QuotaPeriod::Month, day("2024-03-01")),
            feb + 1
        );
        assert_eq!(
            period_of_day(QuotaPeriod::Month, day("2024-01-31")),
            feb - 1
        );
        assert_eq!(
            first_day_of_period(QuotaPeriod::Month, feb),
            day("2024-02-01")
        );
        assert_eq!(
            period_of_day(QuotaPeriod::Month, day("2025-01-01")),
            period_of_day(QuotaPeriod::Month, day("2024-12-31")) + 1
        );
    }

    #[test]
    fn counter_resets_each_period() {
        let c = QuotaCounter::default();
        assert!(c.try_take(100, 2));
        assert!(c.try_take(100, 2));
        assert!(!c.try_take(100, 2));
        assert!(c.try_take(101, 2));
        assert_eq!(c.used_in(101), 1);
        // A late thread still in period 100 does not reset period 101.
        assert!(c.try_take(100, 2));
        assert!(!c.try_take(100, 2));
        assert_eq!(c.used_in(101), 2);
        assert_eq!(c.unflushed.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn counter_exact_under_contention() {
        let c = Arc::new(QuotaCounter::default());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || (0..10_000).filter(|_| c.try_take(7, 1234)).count())
            })
            .collect();
        let admitted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(admitted, 1234);
    }

    #[test]
    fn persistence_round_trip() {
        let dir = std::env::temp_dir().join(format!("tollgate-quota-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let today = day("2024-05-05");
        {
            let reg = QuotaRegistry::open(&dir).unwrap();
            let c = reg.counter("plan", "key", QuotaPeriod::Month);
            for _ in 0..7 {
                assert!(c.try_take(period_of_day(QuotaPeriod::Month, today), 10));
            }
            assert_eq!(reg.first_period("plan", QuotaPeriod::Month, 653), 653);
            assert_eq!(
                reg.flush(today).unwrap(),
                FlushStats {
                    counters: 1,
                    days: 1
                }
            );
            // A second flush with nothing new writes nothing and counts nothing twice.
            assert_eq!(reg.flush(today).unwrap(), FlushStats::default());
            assert!(c.try_take(period_of_day(QuotaPeriod::Month, today), 10));
            reg.flush(today + 1).unwrap();
        }
        let reg = QuotaRegistry::open(&dir).unwrap();
        let c = reg.counter("plan", "key", QuotaPeriod::Month);
        assert_eq!(c.used_in(period_of_day(QuotaPeriod::Month, today)), 8);
        assert_eq!(reg.first_period("plan", QuotaPeriod::Month, 999), 653);
        assert_eq!(
            reg.days("plan", "key", today, today + 1, today + 1),
            vec![(today, 7), (today + 1, 1)]
        );
        // Two more allowed this month, then refused: the restart did not reset the quota.
        let p = period_of_day(QuotaPeriod::Month, today);
        assert!(c.try_take(p, 10));
        assert!(c.try_take(p, 10));
        assert!(!c.try_take(p, 10));
        drop(reg);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn flusher_writes_on_stop() {
        let dir = std::env::temp_dir().join(format!("tollgate-flush-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let reg = QuotaRegistry::open(&dir).unwrap();
            let c = reg.counter("p", "k", QuotaPeriod::Day);
            assert!(c.try_take(period_of_day(QuotaPeriod::Day, today_utc()), 5));
            let f = Flusher::spawn(reg.clone(), Duration::from_secs(3600), |_| {}).unwrap();
            f.stop();
        }
        let reg = QuotaRegistry::open(&dir).unwrap();
        let c = reg.counter("p", "k", QuotaPeriod::Day);
        assert_eq!(c.used_in(period_of_day(QuotaPeriod::Day, today_utc())), 1);
        drop(reg);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
