//! The data plane's time source, and the test clock.
//!
//! Throttle buckets and cache TTLs run on monotonic `quanta` time; quota periods (UTC days,
//! weeks, months) on the wall clock. Both add one process-wide **skew** that is zero in
//! production and only moves when the gateway was started with `--test-clock` and its admin
//! endpoint is asked to (`POST /test/clock?advance=SECONDS`). That lets the end-to-end tests
//! cross a quota period or a cache TTL without sleeping for a day, through the real binary.
//!
//! Reading the skew is one relaxed atomic load per "now": the cost of a test seam on the
//! request path, measured as noise next to the clock read itself.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Seconds added to every clock reading (test clock only).
static SKEW_SECS: AtomicU64 = AtomicU64::new(0);
/// Whether `--test-clock` allowed the skew to move.
static TEST_CLOCK: AtomicBool = AtomicBool::new(false);

/// The skew, in nanoseconds, to add to a monotonic reading.
#[inline]
#[must_use]
pub fn skew_ns() -> u64 {
    SKEW_SECS
        .load(Ordering::Relaxed)
        .saturating_mul(1_000_000_000)
}

/// Seconds since the Unix epoch (UTC), skew included.
#[inline]
#[must_use]
pub fn unix_secs() -> u64 {
    let real = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    real.saturating_add(SKEW_SECS.load(Ordering::Relaxed))
}

/// Lets [`advance`] move time (`serve --test-clock`). Never on in production.
pub fn enable_test_clock() {
    TEST_CLOCK.store(true, Ordering::Relaxed);
}

/// Whether the test clock is on.
#[must_use]
pub fn test_clock_enabled() -> bool {
    TEST_CLOCK.load(Ordering::Relaxed)
}

/// Moves every clock forward by `secs` (never back: buckets and TTLs assume monotonic time).
/// Returns the total skew, or `None` when the test clock is off.
pub fn advance(secs: u64) -> Option<u64> {
    if !test_clock_enabled() {
        return None;
    }
    let before = SKEW_SECS.fetch_add(secs, Ordering::Relaxed);
    Some(before.saturating_add(secs))
}
