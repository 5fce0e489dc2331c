//! Plain serde shapes for a stage's cache settings and its per-method overrides, and the
//! resolution of both into one [`MethodCachePolicy`] per method at config load.
//!
//! The field names are AWS's own (`Stage.cacheClusterEnabled`, `Stage.cacheClusterSize`,
//! `MethodSetting.cachingEnabled`, ...), so a stage exported from AWS reads unchanged. The
//! lead embeds these types in the gateway config; nothing here runs on the request path.
//! Sources: DG:api-gateway-caching, API:Stage, API:MethodSetting.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Default cache TTL in seconds (DG:api-gateway-caching: "The default TTL value for API
/// caching is 300 seconds").
pub const DEFAULT_TTL_SECONDS: u32 = 300;

/// Largest TTL AWS accepts (DG:api-gateway-caching: "The maximum TTL value is 3600 seconds").
pub const MAX_TTL_SECONDS: u32 = 3600;

/// The `methodSettings` key that applies to every method of the stage (API:MethodSetting).
pub const ALL_METHODS_KEY: &str = "*/*";

/// One gibibyte; the AWS cache cluster sizes are quoted in GB of cache memory.
const GIB: u64 = 1 << 30;

/// The cache capacities AWS offers (`Stage.cacheClusterSize`, a string enum of GB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CacheClusterSize {
    /// `"0.5"` GB, the AWS default size.
    #[default]
    #[serde(rename = "0.5")]
    Gb0_5,
    /// `"1.6"` GB.
    #[serde(rename = "1.6")]
    Gb1_6,
    /// `"6.1"` GB.
    #[serde(rename = "6.1")]
    Gb6_1,
    /// `"13.5"` GB.
    #[serde(rename = "13.5")]
    Gb13_5,
    /// `"28.4"` GB.
    #[serde(rename = "28.4")]
    Gb28_4,
    /// `"58.2"` GB.
    #[serde(rename = "58.2")]
    Gb58_2,
    /// `"118"` GB.
    #[serde(rename = "118")]
    Gb118,
    /// `"237"` GB.
    #[serde(rename = "237")]
    Gb237,
}

impl CacheClusterSize {
    /// The capacity in bytes (GB read as GiB, since these are memory sizes).
    #[must_use]
    pub const fn bytes(self) -> u64 {
        let tenths_of_gib: u64 = match self {
            Self::Gb0_5 => 5,
            Self::Gb1_6 => 16,
            Self::Gb6_1 => 61,
            Self::Gb13_5 => 135,
            Self::Gb28_4 => 284,
            Self::Gb58_2 => 582,
            Self::Gb118 => 1180,
            Self::Gb237 => 2370,
        };
        tenths_of_gib * GIB / 10
    }
}

/// How to answer `Cache-Control: max-age=0` from a caller that may not invalidate
/// (`MethodSetting.unauthorizedCacheControlHeaderStrategy`, DG:api-gateway-caching
/// "Invalidate an API Gateway cache entry").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UnauthorizedCacheControlHeaderStrategy {
    /// "Fail the request with 403 status code".
    #[serde(rename = "FAIL_WITH_403")]
    FailWith403,
    /// "Ignore cache control header; Add a warning in response header" (the AWS default).
    #[default]
    SucceedWithResponseHeader,
    /// "Ignore cache control header".
    SucceedWithoutResponseHeader,
}

/// The stage-level cache settings (API:Stage), plus Tollgate's per-core budget override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageCacheSettings {
    /// `cacheClusterEnabled`: without it no method of the stage is cached.
    #[serde(default)]
    pub cache_cluster_enabled: bool,
    /// `cacheClusterSize`: the stage's whole capacity, split evenly across the worker cores.
    #[serde(default)]
    pub cache_cluster_size: CacheClusterSize,
    /// The stage's default TTL, overridden per method by `cacheTtlInSeconds`. 0 disables.
    #[serde(default = "default_ttl")]
    pub cache_ttl_in_seconds: u32,
    /// Tollgate only: bytes per worker core, instead of `cacheClusterSize ÷ workers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_core_bytes: Option<u64>,
}

impl Default for StageCacheSettings {
    fn default() -> Self {
        Self {
            cache_cluster_enabled: false,
            cache_cluster_size: CacheClusterSize::default(),
            cache_ttl_in_seconds: DEFAULT_TTL_SECONDS,
            per_core_bytes: None,
        }
    }
}

fn default_ttl() -> u32 {
    DEFAULT_TTL_SECONDS
}

impl StageCacheSettings {
    /// The byte budget of one core's cache for this stage: the override if set, else the
    /// cluster size divided by the number of workers (at least one).
    #[must_use]
    pub fn per_core_budget(&self, workers: usize) -> u64 {
        match self.per_core_bytes {
            Some(bytes) => bytes,
            None => self.cache_cluster_size.bytes() / (workers.max(1) as u64),
        }
    }
}

/// The cache fields of one `methodSettings` entry (API:MethodSetting). `None` inherits:
/// `path/METHOD` from `path/*`, that from `*/*`, that from the stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodCacheSetting {
    /// `cachingEnabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caching_enabled: Option<bool>,
    /// `cacheTtlInSeconds`, 0 to 3600; 0 disables caching for the method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_ttl_in_seconds: Option<u32>,
    /// `cacheDataEncrypted`: accepted for compatibility; entries live only in process memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_data_encrypted: Option<bool>,
    /// `requireAuthorizationForCacheControl` (AWS default `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_authorization_for_cache_control: Option<bool>,
    /// `unauthorizedCacheControlHeaderStrategy` (AWS default `SUCCEED_WITH_RESPONSE_HEADER`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unauthorized_cache_control_header_strategy: Option<UnauthorizedCacheControlHeaderStrategy>,
}

/// `methodSettings`: keyed by `*/*` or `<resource path without leading slash>/<METHOD>`
/// (AWS-validated: the patch path `/test/GET/...` creates key `test/GET`).
pub type MethodSettings = BTreeMap<String, MethodCacheSetting>;

/// Everything the request path needs to know about caching one method, resolved at load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodCachePolicy {
    /// GET requests are cached (stage or `*/*` or method-level enablement).
    pub cache_get: bool,
    /// Other HTTP methods are cached: only when the method's own setting enables it, since
    /// "only GET methods are cached" at stage level (DG:api-gateway-caching).
    pub cache_other: bool,
    /// Entry lifetime in seconds, 1 to 3600.
    pub ttl_seconds: u32,
    /// `requireAuthorizationForCacheControl`.
    pub require_authorization: bool,
    /// `unauthorizedCacheControlHeaderStrategy`.
    pub unauthorized_strategy: UnauthorizedCacheControlHeaderStrategy,
}

impl MethodCachePolicy {
    /// A policy that never caches.
    pub const DISABLED: Self = Self {
        cache_get: false,
        cache_other: false,
        ttl_seconds: 0,
        require_authorization: true,
        unauthorized_strategy: UnauthorizedCacheControlHeaderStrategy::SucceedWithResponseHeader,
    };

    /// Whether a request with this HTTP method uses the cache at all.
    #[must_use]
    pub fn applies_to(&self, request_method: &[u8]) -> bool {
        if request_method == b"GET" {
            self.cache_get
        } else {
            self.cache_other
        }
    }

    /// The TTL in nanoseconds, the unit of the cache's injected clock.
    #[must_use]
    pub fn ttl_nanos(&self) -> u64 {
        u64::from(self.ttl_seconds) * 1_000_000_000
    }
}

/// The `methodSettings` key AWS uses for one method: `pets/{id}/GET` for `/pets/{id}` GET.
#[must_use]
pub fn method_settings_key(resource_path: &str, http_method: &str) -> String {
    format!("{}/{}", resource_path.trim_start_matches('/'), http_method)
}

/// Resolves the cache policy of one method. `http_method` is the method as configured
/// (`GET`, `POST`, ..., or `ANY`). Precedence: `path/METHOD`, then `path/*`, then `*/*`,
/// then the stage; a disabled cluster disables everything.
#[must_use]
pub fn resolve_method_policy(
    stage: &StageCacheSettings,
    settings: &MethodSettings,
    resource_path: &str,
    http_method: &str,
) -> MethodCachePolicy {
    if !stage.cache_cluster_enabled {
        return MethodCachePolicy::DISABLED;
    }
    let exact = settings.get(&method_settings_key(resource_path, http_method));
    let path_any = settings.get(&method_settings_key(resource_path, "*"));
    let all = settings.get(ALL_METHODS_KEY);
    let specific = [exact, path_any];
    let chain = [exact, path_any, all];

    let ttl_seconds = chain
        .iter()
        .flatten()
        .find_map(|s| s.cache_ttl_in_seconds)
        .unwrap_or(stage.cache_ttl_in_seconds)
        .min(MAX_TTL_SECONDS);
    let require_authorization = chain
        .iter()
        .flatten()
        .find_map(|s| s.require_authorization_for_cache_control)
        .unwrap_or(true);
    let unauthorized_strategy = chain
        .iter()
        .flatten()
        .find_map(|s| s.unauthorized_cache_control_header_strategy)
        .unwrap_or_default();

    // A method's own setting decides for every HTTP method; the stage-wide ones only for GET.
    let own = specific.iter().flatten().find_map(|s| s.caching_enabled);
    let stage_wide = all.and_then(|s| s.caching_enabled).unwrap_or(true);
    let ttl_allows = ttl_seconds > 0;
    let cache_get = ttl_allows && own.unwrap_or(stage_wide);
    let cache_other = ttl_allows && own.unwrap_or(false);

    MethodCachePolicy {
        cache_get,
        cache_other,
        ttl_seconds,
        require_authorization,
        unauthorized_strategy,
    }
}

/// A cache setting AWS would refuse: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfigError {
    /// Where: a `methodSettings` key, `cacheTtlInSeconds`, or the offending key parameter.
    pub location: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for CacheConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl std::error::Error for CacheConfigError {}

/// Methods a `methodSettings` key may name (plus `*`).
const HTTP_METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

/// Checks the stage and its method settings, reporting every problem at once.
pub fn check_settings(
    stage: &StageCacheSettings,
    settings: &MethodSettings,
) -> Result<(), Vec<CacheConfigError>> {
    let mut errors = Vec::new();
    let ttl_error = |location: String, ttl: u32| CacheConfigError {
        location,
        message: format!("cacheTtlInSeconds is {ttl}; it must be between 0 and {MAX_TTL_SECONDS}"),
    };
    if stage.cache_ttl_in_seconds > MAX_TTL_SECONDS {
        errors.push(ttl_error(
            "stage cacheTtlInSeconds".to_owned(),
            stage.cache_ttl_in_seconds,
        ));
    }
    if stage.per_core_bytes == Some(0) {
        errors.push(CacheConfigError {
            location: "stage perCoreBytes".to_owned(),
            message: "must be positive; omit it to split cacheClusterSize across cores".to_owned(),
        });
    }
    for (key, setting) in settings {
        if key != ALL_METHODS_KEY {
            let method = key.rsplit_once('/').map(|(_, m)| m);
            if !method.is_some_and(|m| m == "*" || HTTP_METHODS.contains(&m)) {
                errors.push(CacheConfigError {
                    location: format!("methodSettings \"{key}\""),
                    message: "key must be */* or <resource path without leading slash>/<METHOD>, \
                              for example pets/GET"
                        .to_owned(),
                });
            }
        }
        if let Some(ttl) = setting
            .cache_ttl_in_seconds
            .filter(|t| *t > MAX_TTL_SECONDS)
        {
            errors.push(ttl_error(
                format!("methodSettings \"{key}\" cacheTtlInSeconds"),
                ttl,
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn enabled_stage() -> StageCacheSettings {
        StageCacheSettings {
            cache_cluster_enabled: true,
            ..StageCacheSettings::default()
        }
    }

    fn settings(json: &str) -> MethodSettings {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn stage_defaults_cache_get_only_for_300_seconds() {
        let p = resolve_method_policy(&enabled_stage(), &MethodSettings::new(), "/pets", "GET");
        assert!(p.cache_get);
        assert!(!p.cache_other);
        assert_eq!(p.ttl_seconds, 300);
        assert!(p.require_authorization);
        assert_eq!(
            p.unauthorized_strategy,
            UnauthorizedCacheControlHeaderStrategy::SucceedWithResponseHeader
        );
        assert!(p.applies_to(b"GET"));
        assert!(!p.applies_to(b"POST"));
    }

    #[test]
    fn disabled_cluster_caches_nothing_even_with_method_setting() {
        let s = settings(r#"{"pets/POST":{"cachingEnabled":true}}"#);
        let p = resolve_method_policy(&StageCacheSettings::default(), &s, "/pets", "POST");
        assert_eq!(p, MethodCachePolicy::DISABLED);
    }

    #[test]
    fn non_get_needs_its_own_method_setting() {
        let s = settings(r#"{"*/*":{"cachingEnabled":true},"pets/POST":{"cachingEnabled":true}}"#);
        let stage = enabled_stage();
        let post_pets = resolve_method_policy(&stage, &s, "/pets", "POST");
        assert!(post_pets.applies_to(b"POST"));
        let post_toys = resolve_method_policy(&stage, &s, "/toys", "POST");
        assert!(!post_toys.applies_to(b"POST"), "*/* must not enable POST");
        let put_pets = resolve_method_policy(&stage, &s, "/pets", "PUT");
        assert!(!put_pets.applies_to(b"PUT"));
    }

    #[test]
    fn specific_setting_beats_all_methods_setting() {
        let s = settings(
            r#"{"*/*":{"cachingEnabled":false,"cacheTtlInSeconds":60,
                        "unauthorizedCacheControlHeaderStrategy":"FAIL_WITH_403"},
                "pets/GET":{"cachingEnabled":true,"cacheTtlInSeconds":1200}}"#,
        );
        let stage = enabled_stage();
        let pets = resolve_method_policy(&stage, &s, "/pets", "GET");
        assert!(pets.cache_get);
        assert_eq!(pets.ttl_seconds, 1200);
        // Fields the specific setting leaves out come from */*.
        assert_eq!(
            pets.unauthorized_strategy,
            UnauthorizedCacheControlHeaderStrategy::FailWith403
        );
        let toys = resolve_method_policy(&stage, &s, "/toys", "GET");
        assert!(
            !toys.cache_get,
            "*/* cachingEnabled=false disables the rest"
        );
        assert_eq!(toys.ttl_seconds, 60);
    }

    #[test]
    fn nested_paths_and_path_wildcard_resolve() {
        let s = settings(
            r#"{"pets/{id}/*":{"cacheTtlInSeconds":10},"pets/{id}/GET":{"cachingEnabled":false}}"#,
        );
        let p = resolve_method_policy(&enabled_stage(), &s, "/pets/{id}", "GET");
        assert!(!p.cache_get);
        assert_eq!(p.ttl_seconds, 10);
        assert_eq!(method_settings_key("/pets/{id}", "GET"), "pets/{id}/GET");
    }

    #[test]
    fn ttl_zero_disables() {
        let s = settings(r#"{"pets/GET":{"cachingEnabled":true,"cacheTtlInSeconds":0}}"#);
        let p = resolve_method_policy(&enabled_stage(), &s, "/pets", "GET");
        assert!(!p.cache_get);
        let stage = StageCacheSettings {
            cache_ttl_in_seconds: 0,
            ..enabled_stage()
        };
        assert!(!resolve_method_policy(&stage, &MethodSettings::new(), "/x", "GET").cache_get);
    }

    #[test]
    fn stage_settings_parse_aws_names_and_sizes() {
        let stage: StageCacheSettings =
            serde_json::from_str(r#"{"cacheClusterEnabled":true,"cacheClusterSize":"6.1"}"#)
                .unwrap();
        assert_eq!(stage.cache_cluster_size, CacheClusterSize::Gb6_1);
        assert_eq!(stage.cache_ttl_in_seconds, 300);
        assert_eq!(CacheClusterSize::Gb0_5.bytes(), 512 * 1024 * 1024);
        assert_eq!(
            stage.per_core_budget(2),
            CacheClusterSize::Gb6_1.bytes() / 2
        );
        let over = StageCacheSettings {
            per_core_bytes: Some(4096),
            ..stage
        };
        assert_eq!(over.per_core_budget(8), 4096);
        assert!(serde_json::from_str::<StageCacheSettings>(r#"{"cacheClusterSize":"2"}"#).is_err());
    }

    #[test]
    fn yaml_sizes_read_as_strings_or_numbers() {
        for (yaml, want) in [
            ("cacheClusterSize: 0.5", CacheClusterSize::Gb0_5),
            ("cacheClusterSize: \"118\"", CacheClusterSize::Gb118),
            ("cacheClusterSize: 237", CacheClusterSize::Gb237),
        ] {
            let s: StageCacheSettings = serde_saphyr::from_str(yaml).unwrap();
            assert_eq!(s.cache_cluster_size, want, "{yaml}");
        }
        assert!(serde_saphyr::from_str::<StageCacheSettings>("cacheClusterSize: 1").is_err());
    }

    #[test]
    fn check_reports_every_problem() {
        let stage = StageCacheSettings {
            cache_ttl_in_seconds: 4000,
            ..enabled_stage()
        };
        let s = settings(
            r#"{"pets":{"cacheTtlInSeconds":3601},"pets/GET":{"cacheTtlInSeconds":3600}}"#,
        );
        let errors = check_settings(&stage, &s).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "stage cacheTtlInSeconds: cacheTtlInSeconds is 4000; it must be between 0 and 3600",
                "methodSettings \"pets\": key must be */* or <resource path without leading slash>/<METHOD>, for example pets/GET",
                "methodSettings \"pets\" cacheTtlInSeconds: cacheTtlInSeconds is 3601; it must be between 0 and 3600",
            ]
        );
        assert!(check_settings(&enabled_stage(), &settings(r#"{"*/*":{},"a/b/POST":{}}"#)).is_ok());
    }
}
