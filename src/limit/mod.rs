//! LIMIT: throttling, API keys, usage plans and quotas on atomic token buckets.
//!
//! This is the only state the cores share (every other cache and pool is per core), so it is
//! built from atomics only: no lock is taken and nothing allocates on the request path.
//!
//! * [`bucket`]: one token bucket in one `AtomicU64`, and all-or-nothing admission over several.
//! * [`sharded`]: per-(key, method) bucket states created on first use, lock-free.
//! * [`quota`]: UTC quota periods, atomic counters, the redb store and its flush thread.
//! * [`keys`]: the API key table (constant-time compare) and the AWS key CSV import.
//! * [`config`]: the serde shapes the gateway config embeds.
//!
//! [`Limiter`] is built once per config snapshot, shared by every core through an `Arc`, and the
//! pipeline calls [`Limiter::check`] once per request. The buckets a request meets, in AWS's order
//! of application (DG: api-gateway-request-throttling, "first limit that rejects wins"):
//!
//! 1. usage plan, per key and method (`apiStages[].throttle["/pets/GET"]`), if the method
//!    requires an API key;
//! 2. usage plan, per key (`throttle`), if the method requires an API key;
//! 3. the stage's method throttle (`methodSettings["pets/GET"]`, else `methodSettings["*/*"]`):
//!    one bucket per method, the `*/*` entry giving the parameters of methods without their own;
//! 4. the gateway-wide bucket (AWS's account level, 10,000 rps / burst 5,000 by default).
//!
//! A token is taken from every bucket or from none ([`bucket::acquire_all`]); the quota is
//! counted last, and a quota refusal gives the tokens back too, so a refused request consumes
//! nothing anywhere. Requests to methods without `apiKeyRequired` "will not contribute to throttle
//! or quota limits" of usage plans (aws-behavior §9.1), so they meet only buckets 3 and 4.
//!
//! One call means the key is checked before any bucket: a request with a bad key is refused 403
//! without touching the stage and account buckets, where AWS would have counted it against them
//! (its throttling stage runs before authorization, aws-behavior §1.1). The difference only shows
//! under a flood of bad keys.

pub mod bucket;
pub mod config;
pub mod keys;
pub mod quota;
pub mod sharded;

use std::collections::HashMap;
use std::sync::Arc;

use bucket::{BucketRef, MAX_BUCKETS_PER_REQUEST, Rate, TokenBucket, acquire_all};
use config::{LimitsConfig, QuotaPeriod, QuotaSettings, ThrottleSettings};
use keys::KeyTable;
use quota::{QuotaCounter, QuotaRegistry, SECS_PER_DAY, period_of_day};
use sharded::LazyStates;

/// Most days one usage report covers (AWS keeps 90 days of usage).
pub const MAX_USAGE_DAYS: u64 = 90;

/// Why a request is refused; each maps to one AWS gateway response type (aws-behavior §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// `THROTTLED`: 429 `{"message":"Too Many Requests"}`, `TooManyRequestsException`.
    Throttled,
    /// `QUOTA_EXCEEDED`: 429 `{"message":"Limit Exceeded"}`, `LimitExceededException`.
    QuotaExceeded,
    /// `INVALID_API_KEY`: 403 `{"message":"Forbidden"}`, `ForbiddenException`.
    InvalidApiKey,
}

/// An admitted request's identity, for `$context.identity.apiKey` / `apiKeyId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// The index of the API key used, if the method required one ([`Limiter::key_id`]).
    pub key: Option<u32>,
}

/// A method's index in the list given to [`Limiter::build`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MethodId(pub u32);

/// One method the gateway serves, as the limiter needs to know it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MethodKey {
    /// The REST API's id.
    pub api_id: String,
    /// The stage name.
    pub stage: String,
    /// The resource path as in the OpenAPI export (`/pets/{id}`).
    pub resource_path: String,
    /// `GET`, `POST`, …, or `ANY`.
    pub http_method: String,
    /// `apiKeyRequired` on the method.
    pub api_key_required: bool,
}

/// The time of one request, read once: monotonic for buckets, wall clock for quota periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Nanoseconds since the limiter's epoch (monotonic, `quanta`).
    pub mono_ns: u64,
    /// Seconds since the Unix epoch, UTC.
    pub unix_secs: u64,
}

/// A problem in the limits config, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitConfigError {
    /// Where: `usagePlans[c7y23b].quota`, `apiKeys[k1]`, …
    pub location: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl std::fmt::Display for LimitConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

#[derive(Debug)]
struct MethodLimits {
    /// Index into `stages`.
    stage: u32,
    api_key_required: bool,
    /// The stage's throttle for this method, if the stage sets one.
    bucket: Option<TokenBucket>,
    /// Plans covering this method's stage that throttle it per key: (plan index, rate).
    plan_rates: Vec<(u32, Rate)>,
}

#[derive(Debug)]
struct Plan {
    id: String,
    quota: Option<QuotaSettings>,
    /// The initial period (where `offset` applies), for the plan's period kind.
    initial_period: u64,
    throttle: Option<Rate>,
    throttle_settings: Option<ThrottleSettings>,
}

/// A key's membership in a plan: its per-key bucket and quota counter.
#[derive(Debug)]
struct Membership {
    plan: u32,
    key: u32,
    bucket: Option<TokenBucket>,
    counter: Arc<QuotaCounter>,
}

/// Every limit of one config snapshot. Build with [`Limiter::build`]; share with `Arc`.
#[derive(Debug)]
pub struct Limiter {
    clock: quanta::Clock,
    epoch: quanta::Instant,
    account: TokenBucket,
    methods: Vec<MethodLimits>,
    method_names: Vec<MethodKey>,
    plans: Vec<Plan>,
    keys: KeyTable,
    /// Per key: (stage index, membership index), at most one per stage.
    key_stages: Vec<Vec<(u32, u32)>>,
    memberships: Vec<Membership>,
    /// Per-(membership, method) buckets, made on first use.
    lazy: LazyStates,
    registry: Arc<QuotaRegistry>,
}

/// A method as (resource path, HTTP method).
type PathMethod = (String, String);

/// `resourcePath/METHOD` as AWS writes it in `methodSettings` (`pets/GET`, `~1pets/GET`) or in a
/// plan's stage throttle (`/pets/GET`, root `//GET`), as (`/pets`, `GET`).
fn split_method_path(key: &str) -> Option<(String, String)> {
    let (path, method) = key.rsplit_once('/')?;
    let path = path.replace("~1", "/");
    let path = path.trim_start_matches('/');
    Some((format!("/{path}"), method.to_string()))
}

fn check_throttle(t: &ThrottleSettings, location: String, errors: &mut Vec<LimitConfigError>) {
    if !t.rate_limit.is_finite() || t.rate_limit < 0.0 {
        errors.push(LimitConfigError {
            location,
            message: format!(
                "rateLimit must be a number of requests per second, 0 or more (got {})",
                t.rate_limit
            ),
        });
    }
}

fn rate_of(t: &ThrottleSettings) -> Rate {
    Rate::new(t.rate_limit, t.burst_limit)
}

impl Limiter {
    /// Builds the limiter for `methods` (a [`MethodId`] is an index into this slice).
    ///
    /// `previous` is the limiter being replaced by a reload: buckets that still exist (same
    /// account, same method, same plan and key) keep their levels, and quota counters live in
    /// `registry`, which the caller keeps for the whole process. Every config problem is reported.
    pub fn build(
        cfg: &LimitsConfig,
        methods: &[MethodKey],
        registry: Arc<QuotaRegistry>,
        previous: Option<&Limiter>,
    ) -> Result<Limiter, Vec<LimitConfigError>> {
        let clock = previous.map_or_else(quanta::Clock::new, |p| p.clock.clone());
        Self::build_with_clock(cfg, methods, registry, previous, clock)
    }

    /// [`Limiter::build`] with a given clock (tests use `quanta::Clock::mock()`).
    pub fn build_with_clock(
        cfg: &LimitsConfig,
        methods: &[MethodKey],
        registry: Arc<QuotaRegistry>,
        previous: Option<&Limiter>,
        clock: quanta::Clock,
    ) -> Result<Limiter, Vec<LimitConfigError>> {
        let mut errors = Vec::new();
        let epoch = previous.map_or_else(|| clock.now(), |p| p.epoch);
        let today = quota::today_utc();

        check_throttle(&cfg.account, "account".into(), &mut errors);
        let account = match previous {
            Some(p) => TokenBucket::with_level_of(rate_of(&cfg.account), &p.account),
            None => TokenBucket::new(rate_of(&cfg.account)),
        };

        // Stages, in order of first appearance among the methods.
        let mut stage_index: HashMap<(&str, &str), u32> = HashMap::new();
        for m in methods {
            let n = stage_index.len() as u32;
            stage_index.entry((&m.api_id, &m.stage)).or_insert(n);
        }

        // Stage method throttles: (api, stage) → (path, METHOD) or "*/*" → settings.
        let mut stage_settings: HashMap<(&str, &str), HashMap<PathMethod, ThrottleSettings>> =
            HashMap::new();
        let mut stage_defaults: HashMap<(&str, &str), ThrottleSettings> = HashMap::new();
        for s in &cfg.stages {
            for (k, t) in &s.method_settings {
                let location = format!("stages[{}/{}].methodSettings[{k}]", s.api_id, s.stage);
                check_throttle(t, location.clone(), &mut errors);
                if k == "*/*" {
                    stage_defaults.insert((&s.api_id, &s.stage), *t);
                } else if let Some(pm) = split_method_path(k) {
                    stage_settings
                        .entry((&s.api_id, &s.stage))
                        .or_default()
                        .insert(pm, *t);
                } else {
                    errors.push(LimitConfigError {
                        location,
                        message: "write the key as resourcePath/HTTPMETHOD, e.g. pets/GET, or */*"
                            .into(),
                    });
                }
            }
        }

        // Plans.
        let mut plan_index: HashMap<&str, u32> = HashMap::new();
        let mut plans = Vec::new();
        // (stage index, plan index) → method-path → settings
        let mut plan_method_settings: HashMap<(u32, u32), HashMap<PathMethod, Rate>> =
            HashMap::new();
        let mut plan_stages: Vec<Vec<u32>> = Vec::new();
        for p in &cfg.usage_plans {
            let at = format!("usagePlans[{}]", p.id);
            if plan_index.contains_key(p.id.as_str()) {
                errors.push(LimitConfigError {
                    location: at.clone(),
                    message: "two usage plans have this id; give each its own".into(),
                });
                continue;
            }
            let idx = plans.len() as u32;
            plan_index.insert(&p.id, idx);
            if let Some(t) = &p.throttle {
                check_throttle(t, format!("{at}.throttle"), &mut errors);
            }
            if let Some(q) = &p.quota
                && q.offset >= q.limit
                && q.limit > 0
            {
                errors.push(LimitConfigError {
                    location: format!("{at}.quota"),
                    message: format!(
                        "offset ({}) must be smaller than limit ({})",
                        q.offset, q.limit
                    ),
                });
            }
            let mut stages = Vec::new();
            for s in &p.api_stages {
                // A plan may name a stage no method of this gateway serves: nothing to limit.
                let Some(&si) = stage_index.get(&(s.api_id.as_str(), s.stage.as_str())) else {
                    continue;
                };
                stages.push(si);
                for (k, t) in &s.throttle {
                    let location =
                        format!("{at}.apiStages[{}:{}].throttle[{k}]", s.api_id, s.stage);
                    check_throttle(t, location.clone(), &mut errors);
                    match split_method_path(k) {
                        Some(pm) => {
                            plan_method_settings
                                .entry((si, idx))
                                .or_default()
                                .insert(pm, rate_of(t));
                        }
                        None => errors.push(LimitConfigError {
                            location,
                            message: "write the key as /resourcePath/HTTPMETHOD, e.g. /pets/GET"
                                .into(),
                        }),
                    }
                }
            }
            plan_stages.push(stages);
            let initial_period = p.quota.map_or(0, |q| {
                registry.first_period(&p.id, q.period, period_of_day(q.period, today))
            });
            plans.push(Plan {
                id: p.id.clone(),
                quota: p.quota,
                initial_period,
                throttle: p.throttle.as_ref().map(rate_of),
                throttle_settings: p.throttle,
            });
        }

        // Methods.
        let prev_methods: HashMap<(&str, &str, &str, &str), &MethodLimits> = previous
            .map(|p| {
                p.method_names
                    .iter()
                    .zip(&p.methods)
                    .map(|(k, m)| {
                        (
                            (
                                k.api_id.as_str(),
                                k.stage.as_str(),
                                k.resource_path.as_str(),
                                k.http_method.as_str(),
                            ),
                            m,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut method_limits = Vec::with_capacity(methods.len());
        for m in methods {
            let key = (m.api_id.as_str(), m.stage.as_str());
            let si = stage_index.get(&key).copied().unwrap_or(0);
            let pm = (m.resource_path.clone(), m.http_method.clone());
            let settings = stage_settings
                .get(&key)
                .and_then(|s| s.get(&pm))
                .or_else(|| stage_defaults.get(&key));
            let prev = prev_methods
                .get(&(
                    m.api_id.as_str(),
                    m.stage.as_str(),
                    m.resource_path.as_str(),
                    m.http_method.as_str(),
                ))
                .and_then(|p| p.bucket.as_ref());
            let bucket = settings.map(|t| match prev {
                Some(p) => TokenBucket::with_level_of(rate_of(t), p),
                None => TokenBucket::new(rate_of(t)),
            });
            let plan_rates = plan_method_settings
                .iter()
                .filter(|((s, _), _)| *s == si)
                .filter_map(|((_, plan), rates)| rates.get(&pm).map(|r| (*plan, *r)))
                .collect();
            method_limits.push(MethodLimits {
                stage: si,
                api_key_required: m.api_key_required,
                bucket,
                plan_rates,
            });
        }

        // Keys and memberships.
        let keys = match KeyTable::build(&cfg.api_keys) {
            Ok(k) => k,
            Err(key_errors) => {
                errors.extend(key_errors.into_iter().map(|e| LimitConfigError {
                    location: format!("apiKeys[{}]", e.id),
                    message: e.message,
                }));
                KeyTable::default()
            }
        };
        let prev_members: HashMap<(&str, &str), &Membership> = previous
            .map(|p| {
                p.memberships
                    .iter()
                    .filter_map(|m| {
                        let plan = p.plans.get(m.plan as usize)?;
                        let key = p.keys.entry(m.key)?;
                        Some(((plan.id.as_str(), key.id.as_str()), m))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut key_stages = vec![Vec::new(); keys.len()];
        let mut memberships = Vec::new();
        for k in &cfg.api_keys {
            let Some(ki) = keys.index_of_id(&k.id) else {
                continue;
            };
            for plan_id in &k.usage_plan_ids {
                let Some(&pi) = plan_index.get(plan_id.as_str()) else {
                    errors.push(LimitConfigError {
                        location: format!("apiKeys[{}].usagePlanIds", k.id),
                        message: format!("Invalid Usage Plan ID specified: {plan_id}"),
                    });
                    continue;
                };
                let plan = &plans[pi as usize];
                let mi = memberships.len() as u32;
                let mut clash = false;
                for &si in &plan_stages[pi as usize] {
                    let stages = &mut key_stages[ki as usize];
                    if let Some(&(_, other)) = stages.iter().find(|(s, _)| *s == si) {
                        let other_plan = memberships
                            .get(other as usize)
                            .and_then(|m: &Membership| plans.get(m.plan as usize))
                            .map_or("?", |p| p.id.as_str());
                        errors.push(LimitConfigError {
                            location: format!("apiKeys[{}].usagePlanIds", k.id),
                            message: format!(
                                "plans {other_plan} and {plan_id} both cover one API stage; a key may be in only one usage plan per API stage"
                            ),
                        });
                        clash = true;
                    } else {
                        stages.push((si, mi));
                    }
                }
                if clash {
                    continue;
                }
                let prev = prev_members.get(&(plan_id.as_str(), k.id.as_str()));
                let bucket = plan
                    .throttle
                    .map(|r| match prev.and_then(|p| p.bucket.as_ref()) {
                        Some(p) => TokenBucket::with_level_of(r, p),
                        None => TokenBucket::new(r),
                    });
                let period = plan.quota.map_or(QuotaPeriod::Day, |q| q.period);
                memberships.push(Membership {
                    plan: pi,
                    key: ki,
                    bucket,
                    counter: registry.counter(plan_id, &k.id, period),
                });
            }
        }

        // Per-(membership, method) buckets: room for every pair that has a rate.
        let expected: usize = method_limits
            .iter()
            .map(|m| m.plan_rates.len())
            .sum::<usize>()
            .saturating_mul(keys.len().max(1));
        let lazy = LazyStates::with_capacity(expected);
        if let Some(p) = previous {
            let new_member: HashMap<(&str, &str), u32> = memberships
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    Some((
                        (
                            plans.get(m.plan as usize)?.id.as_str(),
                            keys.entry(m.key)?.id.as_str(),
                        ),
                        i as u32,
                    ))
                })
                .collect();
            let new_method: HashMap<&MethodKey, u32> = methods
                .iter()
                .enumerate()
                .map(|(i, m)| (m, i as u32))
                .collect();
            for (id, level) in p.lazy.claimed() {
                let (old_m, old_method) = ((id >> 32) as usize, (id & 0xffff_ffff) as usize);
                let Some(om) = p.memberships.get(old_m) else {
                    continue;
                };
                let (Some(plan), Some(key), Some(mk)) = (
                    p.plans.get(om.plan as usize),
                    p.keys.entry(om.key),
                    p.method_names.get(old_method),
                ) else {
                    continue;
                };
                if let (Some(&nm), Some(&nmeth)) = (
                    new_member.get(&(plan.id.as_str(), key.id.as_str())),
                    new_method.get(mk),
                ) && let Some(state) = lazy.get_or_claim(lazy_id(nm, nmeth))
                {
                    state.store(level, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }

        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Limiter {
            clock,
            epoch,
            account,
            methods: method_limits,
            method_names: methods.to_vec(),
            plans,
            keys,
            key_stages,
            memberships,
            lazy,
            registry,
        })
    }

    /// The time now, for [`Limiter::check`]. Read it once per request.
    #[inline]
    #[must_use]
    pub fn now(&self) -> Now {
        let mono_ns = self
            .clock
            .now()
            .saturating_duration_since(self.epoch)
            .as_nanos() as u64
            + crate::clock::skew_ns();
        let unix_secs = crate::clock::unix_secs();
        Now { mono_ns, unix_secs }
    }

    /// Admits or refuses one request to `method`, with the API key it presented (the
    /// `x-api-key` header, or the authorizer's `usageIdentifierKey`), if any.
    #[inline]
    pub fn check(
        &self,
        method: MethodId,
        api_key: Option<&[u8]>,
        now: Now,
    ) -> Result<Admission, Rejection> {
        let Some(m) = self.methods.get(method.0 as usize) else {
            // A method the limiter was not told about meets only the gateway-wide bucket.
            return if self.account.try_acquire(now.mono_ns) {
                Ok(Admission { key: None })
            } else {
                Err(Rejection::Throttled)
            };
        };

        let mut membership = None;
        if m.api_key_required {
            let key = api_key.ok_or(Rejection::InvalidApiKey)?;
            let ki = self.keys.find(key).ok_or(Rejection::InvalidApiKey)?;
            let entry = self.keys.entry(ki).ok_or(Rejection::InvalidApiKey)?;
            if !entry.enabled {
                return Err(Rejection::InvalidApiKey);
            }
            let stages = self
                .key_stages
                .get(ki as usize)
                .ok_or(Rejection::InvalidApiKey)?;
            let &(_, mi) = stages
                .iter()
                .find(|(s, _)| *s == m.stage)
                .ok_or(Rejection::InvalidApiKey)?;
            membership = Some((
                mi,
                self.memberships
                    .get(mi as usize)
                    .ok_or(Rejection::InvalidApiKey)?,
            ));
        }

        // At most MAX_BUCKETS_PER_REQUEST entries are written below: one per numbered bucket in
        // the module doc. Unused tail entries are never read.
        let account: BucketRef<'_> = (self.account.rate(), self.account.state());
        let mut refs = [account; MAX_BUCKETS_PER_REQUEST];
        let mut n = 0;
        if let Some((mi, ms)) = membership {
            if let Some(&(_, rate)) = m.plan_rates.iter().find(|(p, _)| *p == ms.plan)
                && let Some(state) = self.lazy.get_or_claim(lazy_id(mi, method.0))
            {
                refs[n] = (rate, state);
                n += 1;
            }
            if let Some(b) = &ms.bucket {
                refs[n] = (b.rate(), b.state());
                n += 1;
            }
        }
        if let Some(b) = &m.bucket {
            refs[n] = (b.rate(), b.state());
            n += 1;
        }
        refs[n] = account;
        n += 1;
        let refs = &refs[..n];
        if acquire_all(refs, now.mono_ns).is_err() {
            return Err(Rejection::Throttled);
        }

        let Some((_, ms)) = membership else {
            return Ok(Admission { key: None });
        };
        let plan = self.plans.get(ms.plan as usize);
        let (period, limit) = match plan.and_then(|p| p.quota.map(|q| (p, q))) {
            Some((p, q)) => {
                let period = period_of_day(q.period, now.unix_secs / SECS_PER_DAY);
                let limit = if period == p.initial_period {
                    q.limit - q.offset.min(q.limit)
                } else {
                    q.limit
                };
                (period, limit)
            }
            // No quota: still count the request, for usage reports.
            None => (now.unix_secs / SECS_PER_DAY, u64::MAX),
        };
        if !ms.counter.try_take(period, limit) {
            for (rate, state) in refs {
                rate.refund(state);
            }
            return Err(Rejection::QuotaExceeded);
        }
        Ok(Admission { key: Some(ms.key) })
    }

    /// The id of the key at `index` (`$context.identity.apiKeyId`).
    #[must_use]
    pub fn key_id(&self, index: u32) -> Option<&str> {
        self.keys.entry(index).map(|e| e.id.as_str())
    }

    /// The quota registry this limiter counts into.
    #[must_use]
    pub fn registry(&self) -> &Arc<QuotaRegistry> {
        &self.registry
    }

    /// Usage of one plan per key per day, shaped like API Gateway's `GetUsage` response:
    /// `{"usagePlanId", "startDate", "endDate", "items": {keyId: [[used, remaining], …]}}` with
    /// one pair per day. `remaining` is what the key had left in that day's quota period at the
    /// end of the day (the plan's limit if it has no quota). `None` for an unknown plan or a bad
    /// or over-long range.
    #[must_use]
    pub fn usage(
        &self,
        plan_id: &str,
        start: &str,
        end: &str,
        now: Now,
    ) -> Option<serde_json::Value> {
        let from = quota::parse_date(start)?;
        let to = quota::parse_date(end)?;
        if to < from || to - from >= MAX_USAGE_DAYS {
            return None;
        }
        let (pi, plan) = self
            .plans
            .iter()
            .enumerate()
            .find(|(_, p)| p.id == plan_id)?;
        let today = now.unix_secs / SECS_PER_DAY;
        let mut items = serde_json::Map::new();
        for m in self.memberships.iter().filter(|m| m.plan as usize == pi) {
            let Some(key) = self.keys.entry(m.key) else {
                continue;
            };
            // Read from the start of the first period so `remaining` is right on day one.
            let first = plan.quota.map_or(from, |q| {
                quota::first_day_of_period(q.period, period_of_day(q.period, from))
            });
            let days = self.registry.days(plan_id, &key.id, first, to, today);
            let mut used_in_period = 0u64;
            let mut current_period = None;
            let mut rows = Vec::new();
            for (day, used) in days {
                let (remaining, in_range) = match plan.quota {
                    Some(q) => {
                        let p = period_of_day(q.period, day);
                        if current_period != Some(p) {
                            current_period = Some(p);
                            used_in_period = 0;
                        }
                        used_in_period += used;
                        let limit = if p == plan.initial_period {
                            q.limit - q.offset.min(q.limit)
                        } else {
                            q.limit
                        };
                        (limit.saturating_sub(used_in_period), day >= from)
                    }
                    None => (0, day >= from),
                };
                if in_range {
                    rows.push(serde_json::json!([used, remaining]));
                }
            }
            items.insert(key.id.clone(), serde_json::Value::Array(rows));
        }
        Some(serde_json::json!({
            "usagePlanId": plan.id,
            "startDate": quota::format_date(from),
            "endDate": quota::format_date(to),
            "items": items,
        }))
    }

    /// The ids of every usage plan.
    pub fn plan_ids(&self) -> impl Iterator<Item = &str> {
        self.plans.iter().map(|p| p.id.as_str())
    }

    /// The throttle of plan `plan_id`, for log lines such as AWS's `Limit: 5.00 Burst: 10`.
    #[must_use]
    pub fn plan_throttle(&self, plan_id: &str) -> Option<ThrottleSettings> {
        self.plans
            .iter()
            .find(|p| p.id == plan_id)
            .and_then(|p| p.throttle_settings)
    }

    /// Per-(key, method) buckets that could not be made because their table was full.
    #[must_use]
    pub fn lazy_overflows(&self) -> u64 {
        self.lazy.overflowed()
    }
}

/// The lazy-table id of a (membership, method) pair.
#[inline]
fn lazy_id(membership: u32, method: u32) -> u64 {
    (u64::from(membership) << 32) | u64::from(method)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::config::*;
    use super::*;
    use std::collections::BTreeMap;

    const KEY_A: &str = "apikeyAAAAabcdefghij0123456789";
    const KEY_B: &str = "apikeyBBBBabcdefghij0123456789";
    const KEY_OFF: &str = "apikeyOFFFabcdefghij0123456789";
    const SEC: u64 = 1_000_000_000;
    /// 2024-05-15 (a Wednesday) 12:00 UTC.
    const NOON: u64 = 19_858 * SECS_PER_DAY + 43_200;

    fn t(rate: f64, burst: u64) -> ThrottleSettings {
        ThrottleSettings {
            rate_limit: rate,
            burst_limit: burst,
        }
    }

    fn method(path: &str, verb: &str, key: bool) -> MethodKey {
        MethodKey {
            api_id: "a1".into(),
            stage: "dev".into(),
            resource_path: path.into(),
            http_method: verb.into(),
            api_key_required: key,
        }
    }

    fn methods() -> Vec<MethodKey> {
        vec![
            method("/pets", "GET", true),  // 0
            method("/pets", "POST", true), // 1
            method("/open", "GET", false), // 2
            MethodKey {
                stage: "prod".into(),
                ..method("/pets", "GET", true)
            }, // 3: a stage no plan of key B covers
        ]
    }

    fn key(id: &str, value: &str, enabled: bool, plans: &[&str]) -> ApiKeyConfig {
        ApiKeyConfig {
            id: id.into(),
            value: Some(value.into()),
            enabled,
            usage_plan_ids: plans.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        }
    }

    fn cfg() -> LimitsConfig {
        LimitsConfig {
            account: t(1000.0, 100),
            stages: vec![StageThrottleConfig {
                api_id: "a1".into(),
                stage: "dev".into(),
                method_settings: BTreeMap::from([
                    ("*/*".into(), t(100.0, 50)),
                    ("~1open/GET".into(), t(1.0, 3)),
                ]),
            }],
            usage_plans: vec![
                UsagePlanConfig {
                    id: "gold".into(),
                    api_stages: vec![ApiStageConfig {
                        api_id: "a1".into(),
                        stage: "dev".into(),
                        throttle: BTreeMap::from([("/pets/POST".into(), t(1.0, 1))]),
                    }],
                    throttle: Some(t(10.0, 5)),
                    quota: Some(QuotaSettings {
                        limit: 8,
                        offset: 0,
                        period: QuotaPeriod::Day,
                    }),
                    ..Default::default()
                },
                UsagePlanConfig {
                    id: "prod".into(),
                    api_stages: vec![ApiStageConfig {
                        api_id: "a1".into(),
                        stage: "prod".into(),
                        throttle: BTreeMap::new(),
                    }],
                    ..Default::default()
                },
            ],
            api_keys: vec![
                key("ka", KEY_A, true, &["gold", "prod"]),
                key("kb", KEY_B, true, &["gold"]),
                key("koff", KEY_OFF, false, &["gold"]),
            ],
        }
    }

    fn build(cfg: &LimitsConfig, prev: Option<&Limiter>) -> Limiter {
        let registry = prev.map_or_else(QuotaRegistry::in_memory, |p| p.registry().clone());
        Limiter::build(cfg, &methods(), registry, prev).unwrap()
    }

    fn at(mono_ns: u64) -> Now {
        Now {
            mono_ns,
            unix_secs: NOON,
        }
    }

    #[test]
    fn api_key_rules() {
        let l = build(&cfg(), None);
        let now = at(SEC);
        let get = MethodId(0);
        assert_eq!(l.check(get, None, now), Err(Rejection::InvalidApiKey));
        assert_eq!(
            l.check(get, Some(b"nope"), now),
            Err(Rejection::InvalidApiKey)
        );
        assert_eq!(
            l.check(get, Some(KEY_OFF.as_bytes()), now),
            Err(Rejection::InvalidApiKey)
        );
        // Key B is in no plan covering a1/prod.
        assert_eq!(
            l.check(MethodId(3), Some(KEY_B.as_bytes()), now),
            Err(Rejection::InvalidApiKey)
        );
        let ok = l.check(get, Some(KEY_A.as_bytes()), now).unwrap();
        assert_eq!(ok.key.and_then(|k| l.key_id(k)), Some("ka"));
        assert_eq!(
            l.check(MethodId(3), Some(KEY_A.as_bytes()), now)
                .unwrap()
                .key,
            ok.key
        );
        // A method without apiKeyRequired ignores the key entirely.
        assert_eq!(l.check(MethodId(2), None, now), Ok(Admission { key: None }));
    }

    #[test]
    fn plan_key_throttle_then_refusal_consumes_nothing() {
        let l = build(&cfg(), None);
        let now = at(SEC);
        // gold: burst 5 per key.
        for _ in 0..5 {
            assert!(l.check(MethodId(0), Some(KEY_A.as_bytes()), now).is_ok());
        }
        let account_before = l.account.available(now.mono_ns);
        let stage_before = l.methods[0].bucket.as_ref().unwrap().available(now.mono_ns);
        for _ in 0..20 {
            assert_eq!(
                l.check(MethodId(0), Some(KEY_A.as_bytes()), now),
                Err(Rejection::Throttled)
            );
        }
        assert_eq!(l.account.available(now.mono_ns), account_before);
        assert_eq!(
            l.methods[0].bucket.as_ref().unwrap().available(now.mono_ns),
            stage_before
        );
        // Key B has its own bucket.
        assert!(l.check(MethodId(0), Some(KEY_B.as_bytes()), now).is_ok());
        // After 100 ms key A has one token again (10 rps).
        assert!(
            l.check(MethodId(0), Some(KEY_A.as_bytes()), at(SEC + SEC / 10))
                .is_ok()
        );
    }

    #[test]
    fn plan_method_throttle_is_per_key() {
        let l = build(&cfg(), None);
        let now = at(SEC);
        assert!(l.check(MethodId(1), Some(KEY_A.as_bytes()), now).is_ok());
        assert_eq!(
            l.check(MethodId(1), Some(KEY_A.as_bytes()), now),
            Err(Rejection::Throttled)
        );
        assert!(l.check(MethodId(1), Some(KEY_B.as_bytes()), now).is_ok());
        // GET is not throttled per method: key A still has 4 of its plan burst left
        // (the refused POST gave its plan token back).
        for _ in 0..4 {
            assert!(l.check(MethodId(0), Some(KEY_A.as_bytes()), now).is_ok());
        }
        assert!(l.check(MethodId(0), Some(KEY_A.as_bytes()), now).is_err());
    }

    #[test]
    fn stage_method_override_and_account() {
        let l = build(&cfg(), None);
        let now = at(SEC);
        // ~1open/GET: burst 3.
        for _ in 0..3 {
            assert!(l.check(MethodId(2), None, now).is_ok());
        }
        assert_eq!(l.check(MethodId(2), None, now), Err(Rejection::Throttled));
        assert_eq!(l.account.available(now.mono_ns), 97);
        // An unknown method id meets only the account bucket.
        assert!(l.check(MethodId(99), None, now).is_ok());
        assert_eq!(l.account.available(now.mono_ns), 96);
    }

    #[test]
    fn quota_exceeded_refunds_buckets() {
        let mut c = cfg();
        c.usage_plans[0].throttle = Some(t(1000.0, 1000));
        let l = build(&c, None);
        let now = at(SEC);
        for _ in 0..8 {
            assert!(l.check(MethodId(0), Some(KEY_A.as_bytes()), now).is_ok());
        }
        let account = l.account.available(now.mono_ns);
        assert_eq!(
            l.check(MethodId(0), Some(KEY_A.as_bytes()), now),
            Err(Rejection::QuotaExceeded)
        );
        assert_eq!(l.account.available(now.mono_ns), account);
        // Quota is per key, and resets at the next UTC midnight.
        assert!(l.check(MethodId(0), Some(KEY_B.as_bytes()), now).is_ok());
        let tomorrow = Now {
            mono_ns: 2 * SEC,
            unix_secs: NOON + 12 * 3600,
        };
        assert!(
            l.check(MethodId(0), Some(KEY_A.as_bytes()), tomorrow)
                .is_ok()
        );
    }

    #[test]
    fn offset_applies_in_initial_period_only() {
        let mut c = cfg();
        c.usage_plans[0].throttle = None;
        c.usage_plans[0].quota = Some(QuotaSettings {
            limit: 3,
            offset: 2,
            period: QuotaPeriod::Week,
        });
        let l = build(&c, None);
        // The initial period is this week (the registry saw the plan now).
        let now = Now {
            mono_ns: SEC,
            unix_secs: quota::today_utc() * SECS_PER_DAY,
        };
        assert!(l.check(MethodId(0), Some(KEY_A.as_bytes()), now).is_ok());
        assert_eq!(
            l.check(MethodId(0), Some(KEY_A.as_bytes()), now),
            Err(Rejection::QuotaExceeded)
        );
        let next_week = Now {
            mono_ns: SEC,
            unix_secs: now.unix_secs + 7 * SECS_PER_DAY,
        };
        for _ in 0..3 {
            assert!(
                l.check(MethodId(0), Some(KEY_A.as_bytes()), next_week)
                    .is_ok()
            );
        }
        assert!(
            l.check(MethodId(0), Some(KEY_A.as_bytes()), next_week)
                .is_err()
        );
    }

    #[test]
    fn reload_keeps_levels_and_counters() {
        let mut c = cfg();
        c.usage_plans[0].throttle = Some(t(0.0, 4));
        let old = build(&c, None);
        let now = at(SEC);
        for _ in 0..3 {
            assert!(old.check(MethodId(0), Some(KEY_A.as_bytes()), now).is_ok());
        }
        assert!(old.check(MethodId(1), Some(KEY_A.as_bytes()), now).is_ok());
        for _ in 0..2 {
            assert!(old.check(MethodId(2), None, now).is_ok());
        }
        // Reload: key B removed, a new key added, plans unchanged.
        let mut c2 = c.clone();
        c2.api_keys.retain(|k| k.id != "kb");
        c2.api_keys
            .push(key("kc", "apikeyCCCCabcdefghij0123456789", true, &["gold"]));
        let new = build(&c2, Some(&old));
        // Key A had used 4 of gold's 4 tokens (3 GET + 1 POST) and 4 of 8 quota.
        assert_eq!(
            new.check(MethodId(0), Some(KEY_A.as_bytes()), now),
            Err(Rejection::Throttled)
        );
        // POST's per-method bucket kept its level too (rate 1, burst 1, spent).
        let post = new.methods[1].plan_rates[0].1;
        let mi = new.key_stages[0].iter().find(|(s, _)| *s == 0).unwrap().1;
        assert_eq!(
            post.available(new.lazy.get(lazy_id(mi, 1)).unwrap(), now.mono_ns),
            0
        );
        // The open method had 3 - 2 = 1 token left.
        assert!(new.check(MethodId(2), None, now).is_ok());
        assert_eq!(new.check(MethodId(2), None, now), Err(Rejection::Throttled));
        assert_eq!(new.account.available(now.mono_ns), 100 - 7);
        // Key B is gone, key C is fresh.
        assert_eq!(
            new.check(MethodId(0), Some(KEY_B.as_bytes()), now),
            Err(Rejection::InvalidApiKey)
        );
        assert!(
            new.check(MethodId(0), Some(b"apikeyCCCCabcdefghij0123456789"), now)
                .is_ok()
        );
        let m = &new.memberships[new.key_stages[0][0].1 as usize];
        assert_eq!(
            m.counter
                .used_in(period_of_day(QuotaPeriod::Day, NOON / SECS_PER_DAY)),
            4
        );
    }

    #[test]
    fn usage_report_is_getusage_shaped() {
        let l = build(&cfg(), None);
        let day = NOON / SECS_PER_DAY;
        for _ in 0..3 {
            assert!(
                l.check(MethodId(0), Some(KEY_A.as_bytes()), at(SEC))
                    .is_ok()
            );
        }
        l.registry().flush(day).unwrap();
        assert!(
            l.check(MethodId(0), Some(KEY_A.as_bytes()), at(SEC))
                .is_ok()
        );
        let report = l
            .usage("gold", "2024-05-14", "2024-05-15", at(SEC))
            .unwrap();
        assert_eq!(
            report.to_string(),
            r#"{"usagePlanId":"gold","startDate":"2024-05-14","endDate":"2024-05-15","items":{"ka":[[0,8],[4,4]],"kb":[[0,8],[0,8]],"koff":[[0,8],[0,8]]}}"#
        );
        assert!(
            l.usage("nope", "2024-05-14", "2024-05-15", at(SEC))
                .is_none()
        );
        assert!(
            l.usage("gold", "2024-05-15", "2024-05-14", at(SEC))
                .is_none()
        );
        assert!(
            l.usage("gold", "2024-01-01", "2024-12-31", at(SEC))
                .is_none()
        );
    }

    #[test]
    fn config_errors_are_all_reported() {
        let mut c = cfg();
        c.account.rate_limit = f64::NAN;
        c.usage_plans[1].api_stages[0].stage = "dev".into(); // ka: gold and prod both cover dev
        c.api_keys
            .push(key("kx", "apikeyXXXXabcdefghij0123456789", true, &["nope"]));
        c.usage_plans[0].quota = Some(QuotaSettings {
            limit: 5,
            offset: 5,
            period: QuotaPeriod::Month,
        });
        let errs = Limiter::build(&c, &methods(), QuotaRegistry::in_memory(), None).unwrap_err();
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 4, "{text:#?}");
        assert!(text[0].starts_with("account: rateLimit"));
        assert_eq!(
            text[1],
            "usagePlans[gold].quota: offset (5) must be smaller than limit (5)"
        );
        assert!(text[2].starts_with("apiKeys[ka].usagePlanIds: plans gold and prod"));
        assert_eq!(
            text[3],
            "apiKeys[kx].usagePlanIds: Invalid Usage Plan ID specified: nope"
        );
    }

    #[test]
    fn method_path_keys() {
        let pm = |k| split_method_path(k).unwrap();
        assert_eq!(pm("pets/GET"), ("/pets".into(), "GET".into()));
        assert_eq!(
            pm("~1pets~1{id}/DELETE"),
            ("/pets/{id}".into(), "DELETE".into())
        );
        assert_eq!(pm("/pets/GET"), ("/pets".into(), "GET".into()));
        assert_eq!(pm("//GET"), ("/".into(), "GET".into()));
        assert_eq!(pm("/GET"), ("/".into(), "GET".into()));
        assert!(split_method_path("GET").is_none());
    }
}
