//! One token bucket, lock-free: a rate and a burst, with its whole state in one `AtomicU64`.
//!
//! API Gateway "throttles requests to your API using the token bucket algorithm, where a token
//! counts for a request": `rateLimit` is the steady refill rate in requests per second and
//! `burstLimit` the bucket's capacity (DG: api-gateway-request-throttling).
//!
//! The bucket is kept as a GCRA (generic cell rate algorithm), which is the same token bucket
//! written with one number instead of two. The state is the *theoretical arrival time* (TAT): the
//! instant, in nanoseconds since the limiter's epoch, at which the bucket would be full again.
//! With `T = 1 / rate` (the emission interval) and `B = burst`, a request at `now` is admitted when
//! `max(TAT, now) + T - now <= B × T`, and then `TAT := max(TAT, now) + T`. `TAT <= now` means a
//! full bucket, so the zero state is a full bucket: new or lazily created buckets need no
//! initialisation beyond zeroed memory.
//!
//! One word of state means one compare-and-swap per admission, with no window where the token
//! count and the refill time disagree (two atomics would need a lock or a double-width CAS).
//!
//! **Exactness.** Every admission advances TAT by exactly `T` under a successful CAS, so over any
//! interval `[t0, t1]` admissions number at most `B + rate × (t1 - t0)`, plus at most one per
//! thread: a thread that read the clock and was then descheduled before its CAS uses a stale `now`
//! that may lie before `t0`, so its admission is "dated" outside the interval.
//!
//! A rate of zero never refills (AWS lets a stage set `rateLimit: 0` to turn a method off once
//! its burst is spent). That case keeps a plain count of tokens taken in the same word.

use std::sync::atomic::{AtomicU64, Ordering};

/// Nanoseconds in a second, for converting `rateLimit` (requests per second).
const NANOS_PER_SEC: f64 = 1_000_000_000.0;

/// Longest emission interval kept as a refilling bucket: one token a year.
const MAX_INTERVAL_NS: u64 = 365 * 86_400 * 1_000_000_000;

/// How many times one admission retries its compare-and-swap before giving up and refusing.
/// Each failure means another thread admitted or refunded in between, so reaching this bound
/// needs that many admissions by others during one of ours; refusing then is the safe answer.
pub const MAX_CAS_RETRIES: u32 = 1024;

/// The fixed parameters of a bucket: its emission interval and burst tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Nanoseconds between two tokens; `0` means the bucket never refills.
    interval_ns: u64,
    /// `burst × interval_ns`: how far ahead of `now` TAT may run. For a non-refilling bucket, the
    /// burst itself.
    tolerance: u64,
}

impl Rate {
    /// A bucket refilled at `rate_per_sec` tokens per second holding at most `burst` tokens.
    ///
    /// A rate above one token per nanosecond is taken as one per nanosecond; a rate of zero, below
    /// zero or not a number never refills (config checks reject the last two before this).
    #[must_use]
    pub fn new(rate_per_sec: f64, burst: u64) -> Rate {
        if rate_per_sec.is_nan() || rate_per_sec <= 0.0 {
            return Rate {
                interval_ns: 0,
                tolerance: burst,
            };
        }
        // `as` saturates for floats: a tiny rate gives u64::MAX, a huge one gives 0, lifted to 1.
        let interval_ns = ((NANOS_PER_SEC / rate_per_sec).round() as u64).max(1);
        match burst.checked_mul(interval_ns) {
            Some(tolerance) if interval_ns <= MAX_INTERVAL_NS => Rate {
                interval_ns,
                tolerance,
            },
            // Refilling once in more than a year, or a full bucket in more than 584 years
            // (u64 nanoseconds), is no refill for any running process, and keeps the
            // arithmetic exact instead of saturating.
            _ => Rate {
                interval_ns: 0,
                tolerance: burst,
            },
        }
    }

    /// Nanoseconds between two tokens (`0` for a bucket that never refills).
    #[must_use]
    pub fn interval_ns(&self) -> u64 {
        self.interval_ns
    }

    /// Takes one token from `state` at time `now` (nanoseconds since the limiter's epoch).
    /// Returns `false`, changing nothing, when the bucket is empty.
    #[inline]
    pub fn try_acquire(&self, state: &AtomicU64, now: u64) -> bool {
        let mut current = state.load(Ordering::Relaxed);
        for _ in 0..MAX_CAS_RETRIES {
            let Some(next) = self.next_state(current, now) else {
                return false;
            };
            // Relaxed is enough: the bucket guards no other memory, only its own word.
            match state.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
        false
    }

    /// Gives back one token taken by [`Rate::try_acquire`], when a later bucket of the same request
    /// refused it. Exact: moving TAT back by one interval undoes one admission whatever happened
    /// in between (if the bucket had refilled past full meanwhile, TAT is already at or below
    /// `now`, and going lower is still "full").
    #[inline]
    pub fn refund(&self, state: &AtomicU64) {
        let step = if self.interval_ns == 0 {
            1
        } else {
            self.interval_ns
        };
        // fetch_update with a closure that always returns Some cannot fail; the loop inside
        // is bounded by contention like any CAS loop and has no early exit to get wrong.
        let _ = state.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tat| {
            Some(tat.saturating_sub(step))
        });
    }

    /// The state after admitting one request at `now`, or `None` if it must be refused.
    #[inline]
    fn next_state(&self, current: u64, now: u64) -> Option<u64> {
        if self.interval_ns == 0 {
            // Never refills: the word counts tokens taken.
            return (current < self.tolerance).then_some(current + 1);
        }
        let next = current.max(now).saturating_add(self.interval_ns);
        (next - now <= self.tolerance).then_some(next)
    }

    /// Tokens left at `now` (rounded down), for diagnostics and tests.
    #[must_use]
    pub fn available(&self, state: &AtomicU64, now: u64) -> u64 {
        let current = state.load(Ordering::Relaxed);
        if self.interval_ns == 0 {
            return self.tolerance.saturating_sub(current);
        }
        let debt = current.saturating_sub(now);
        self.tolerance.saturating_sub(debt) / self.interval_ns
    }
}

/// A [`Rate`] with its own state: the shape used for buckets that exist from load time on
/// (account, stage methods, per-key plan throttles).
#[derive(Debug)]
pub struct TokenBucket {
    rate: Rate,
    state: AtomicU64,
}

impl TokenBucket {
    /// A full bucket.
    #[must_use]
    pub fn new(rate: Rate) -> TokenBucket {
        TokenBucket {
            rate,
            state: AtomicU64::new(0),
        }
    }

    /// A bucket with `rate` that starts at the level held in `previous` (config reload keeps
    /// levels). Both must share the same epoch.
    #[must_use]
    pub fn with_level_of(rate: Rate, previous: &TokenBucket) -> TokenBucket {
        TokenBucket {
            rate,
            state: AtomicU64::new(previous.state.load(Ordering::Relaxed)),
        }
    }

    /// See [`Rate::try_acquire`].
    #[inline]
    pub fn try_acquire(&self, now: u64) -> bool {
        self.rate.try_acquire(&self.state, now)
    }

    /// See [`Rate::refund`].
    #[inline]
    pub fn refund(&self) {
        self.rate.refund(&self.state);
    }

    /// Tokens left at `now`.
    #[must_use]
    pub fn available(&self, now: u64) -> u64 {
        self.rate.available(&self.state, now)
    }

    /// The bucket's parameters.
    #[must_use]
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// The bucket's state word, for tables that keep parameters and state apart.
    pub(crate) fn state(&self) -> &AtomicU64 {
        &self.state
    }
}

/// A bucket taking part in one request's admission: parameters and the state word they act on.
pub type BucketRef<'a> = (Rate, &'a AtomicU64);

/// Most buckets one request can meet: usage-plan method, usage-plan key, stage method, account.
pub const MAX_BUCKETS_PER_REQUEST: usize = 4;

/// Takes one token from every bucket in `buckets`, in order, or from none of them.
///
/// Returns the index of the first bucket that refused, after giving back the tokens already
/// taken from the buckets before it, so a refused request consumes nothing anywhere.
///
/// **Why take-then-refund.** Checking every bucket first and then taking races (a bucket can empty
/// between the check and the take), and reserving "in advance" needs a second state per bucket.
/// Taking in order and refunding on refusal is exact in what it admits: a request is admitted only
/// if it held a token from every bucket at once. The cost is that, for the nanoseconds between a
/// take and its refund, a bucket looks one token emptier than it is, so a concurrent request may be
/// refused that would have been admitted: the error is only ever on the side of refusing, and is
/// at most one token per concurrent refused request.
#[inline]
pub fn acquire_all(buckets: &[BucketRef<'_>], now: u64) -> Result<(), usize> {
    for (i, (rate, state)) in buckets.iter().enumerate() {
        if !rate.try_acquire(state, now) {
            for (taken_rate, taken_state) in buckets.iter().take(i) {
                taken_rate.refund(taken_state);
            }
            return Err(i);
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn burst_then_steady_rate() {
        // 10 rps, burst 5: five at once, then one every 100 ms.
        let b = TokenBucket::new(Rate::new(10.0, 5));
        let t0 = 7 * SEC;
        for _ in 0..5 {
            assert!(b.try_acquire(t0));
        }
        assert!(!b.try_acquire(t0));
        assert!(!b.try_acquire(t0 + SEC / 10 - 1));
        assert!(b.try_acquire(t0 + SEC / 10));
        assert!(!b.try_acquire(t0 + SEC / 10));
        // Idle for a long time: the bucket fills to its burst, not beyond.
        let later = t0 + 100 * SEC;
        assert_eq!(b.available(later), 5);
        for _ in 0..5 {
            assert!(b.try_acquire(later));
        }
        assert!(!b.try_acquire(later));
    }

    #[test]
    fn fractional_rate() {
        // 0.5 rps, burst 1: one token every two seconds.
        let b = TokenBucket::new(Rate::new(0.5, 1));
        assert!(b.try_acquire(0));
        assert!(!b.try_acquire(SEC));
        assert!(!b.try_acquire(2 * SEC - 1));
        assert!(b.try_acquire(2 * SEC));
    }

    #[test]
    fn zero_burst_refuses_everything() {
        let b = TokenBucket::new(Rate::new(1000.0, 0));
        assert!(!b.try_acquire(0));
        assert!(!b.try_acquire(100 * SEC));
    }

    #[test]
    fn zero_rate_spends_burst_once() {
        let b = TokenBucket::new(Rate::new(0.0, 3));
        assert!(b.try_acquire(0));
        assert!(b.try_acquire(SEC));
        assert!(b.try_acquire(2 * SEC));
        assert!(!b.try_acquire(1000 * SEC));
        b.refund();
        assert!(b.try_acquire(1000 * SEC));
        assert!(!b.try_acquire(1000 * SEC));
    }

    #[test]
    fn refund_restores_exactly() {
        let b = TokenBucket::new(Rate::new(1.0, 2));
        assert!(b.try_acquire(SEC));
        assert!(b.try_acquire(SEC));
        assert!(!b.try_acquire(SEC));
        b.refund();
        assert!(b.try_acquire(SEC));
        assert!(!b.try_acquire(SEC));
    }

    #[test]
    fn refused_request_consumes_nothing_elsewhere() {
        let plan = TokenBucket::new(Rate::new(100.0, 10));
        let method = TokenBucket::new(Rate::new(1.0, 1));
        let account = TokenBucket::new(Rate::new(100.0, 10));
        let now = 5 * SEC;
        let set = [
            (plan.rate(), plan.state()),
            (method.rate(), method.state()),
            (account.rate(), account.state()),
        ];
        assert_eq!(acquire_all(&set, now), Ok(()));
        assert_eq!(plan.available(now), 9);
        // The method bucket is empty now: each refusal must leave plan and account untouched.
        for _ in 0..50 {
            assert_eq!(acquire_all(&set, now), Err(1));
        }
        assert_eq!(plan.available(now), 9);
        assert_eq!(account.available(now), 9);
        assert_eq!(method.available(now), 0);
    }

    #[test]
    fn huge_and_tiny_rates_do_not_overflow() {
        let fast = TokenBucket::new(Rate::new(1e18, u64::MAX));
        assert!(fast.try_acquire(u64::MAX - 1));
        let slow = TokenBucket::new(Rate::new(1e-30, 2));
        assert!(slow.try_acquire(0));
        assert!(slow.try_acquire(0));
        assert!(!slow.try_acquire(u64::MAX / 2));
    }

    /// Several threads hammer one bucket on the real clock; admissions must stay within
    /// `burst + rate × elapsed + threads`.
    #[test]
    fn contention_respects_bound() {
        const THREADS: u64 = 4;
        const RATE: f64 = 2000.0;
        const BURST: u64 = 50;
        let clock = quanta::Clock::new();
        let epoch = clock.now();
        let bucket = Arc::new(TokenBucket::new(Rate::new(RATE, BURST)));
        let stop = Arc::new(AtomicBool::new(false));
        let start_ns = clock.now().duration_since(epoch).as_nanos() as u64;
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (bucket, stop, clock) = (bucket.clone(), stop.clone(), clock.clone());
                std::thread::spawn(move || {
                    let mut admitted = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let now = clock.now().duration_since(epoch).as_nanos() as u64;
                        if bucket.try_acquire(now) {
                            admitted += 1;
                        }
                    }
                    admitted
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(150));
        stop.store(true, Ordering::Relaxed);
        let admitted: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        let end_ns = clock.now().duration_since(epoch).as_nanos() as u64;
        let elapsed = (end_ns - start_ns) as f64 / 1e9;
        let bound = BURST + (RATE * elapsed).ceil() as u64 + THREADS;
        assert!(admitted <= bound, "admitted {admitted} > bound {bound}");
        // And the bucket was really the limit, not the threads' speed.
        assert!(admitted >= BURST, "admitted only {admitted}");
    }
}
