//! Compiling the stage cache settings (docs/caching.md): each method's cache key
//! (`cacheKeyParameters`, `cacheNamespace`), each stage's per-method policy, and the dense ids
//! the per-core caches index stages by. Control plane only; the request path reads the results
//! from the snapshot.
//!
//! AWS sources: DG:api-gateway-caching, API:Integration (`cacheKeyParameters`,
//! `cacheNamespace`), API:MethodSetting; aws-behavior §8.

use std::path::Path;

use serde_json::Value;

use super::error::{ConfigError, Problems, pointer_token};
use super::gateway::MethodSettingConf;
use super::snapshot::{Api, MethodConf, Stage};
use crate::cache::config::{MethodCacheSetting, MethodSettings, check_settings};
use crate::cache::{KeyParam, KeyParamSource, MAX_STAGES, StageBudget, resolve_method_policy};

/// `cacheKeyParameters` entries one method may declare. AWS documents no number; past this a
/// config is a mistake, and every entry costs a lookup per cached request.
const MAX_KEY_PARAMETERS: usize = 64;

/// How one method builds its cache key: `KeyBuilder::start(0, namespace, method)` then one
/// `param` per declared parameter, in declaration order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheKeySpec {
    /// `cacheNamespace`, or the resource path when none is set (AWS defaults to the resource
    /// id, which is one per resource path).
    pub namespace: Box<[u8]>,
    /// `cacheKeyParameters`, parsed.
    pub params: Vec<KeyParam>,
}

/// A stage with caching on, as the per-core caches and the admin endpoint see it.
#[derive(Debug, Clone)]
pub struct CachedStage {
    /// The dense id the per-core caches use ([`Stage::cache_id`]).
    pub id: u32,
    /// Index into [`super::Snapshot::apis`].
    pub api: usize,
    /// Index into that API's stages.
    pub stage: usize,
    /// `apiId/stageName`: a reload keeps a stage's entries only when the same stage keeps
    /// the same id and budget.
    pub identity: String,
    /// Bytes per core when `perCoreBytes` is set; else the cluster size, split at start.
    pub settings: crate::cache::StageCacheSettings,
}

impl CachedStage {
    /// This stage's budget on one of `workers` cores.
    pub fn budget(&self, workers: usize) -> StageBudget {
        StageBudget {
            stage: self.id,
            bytes: usize::try_from(self.settings.per_core_budget(workers)).unwrap_or(usize::MAX),
        }
    }
}

/// The cache fields of a stage's `methodSettings`, in the shape the resolver takes.
pub fn method_cache_settings(
    settings: &std::collections::BTreeMap<String, MethodSettingConf>,
) -> MethodSettings {
    settings
        .iter()
        .map(|(k, s)| {
            (
                k.clone(),
                MethodCacheSetting {
                    caching_enabled: s.caching_enabled,
                    cache_ttl_in_seconds: s.cache_ttl_in_seconds,
                    cache_data_encrypted: s.cache_data_encrypted,
                    require_authorization_for_cache_control: s
                        .require_authorization_for_cache_control,
                    unauthorized_cache_control_header_strategy: s
                        .unauthorized_cache_control_header_strategy,
                },
            )
        })
        .collect()
}

/// Checks a stage's cache settings (TTL range, `methodSettings` keys, `perCoreBytes`) as
/// AWS would refuse them; `sloc` is the stage's JSON pointer in the gateway file.
pub fn check_stage(file: &Path, sloc: &str, stage: &Stage, problems: &mut Problems) {
    let Some(settings) = &stage.cache else {
        return;
    };
    if let Err(errors) = check_settings(settings, &method_cache_settings(&stage.method_settings)) {
        for e in errors {
            problems.push(
                ConfigError::new(file, sloc, e.to_string())
                    .hint("see docs/caching.md for the cache settings and their ranges"),
            );
        }
    }
}

/// Reads `cacheKeyParameters` and `cacheNamespace` from an operation's
/// `x-amazon-apigateway-integration`; a bad entry is an error ("Invalid cache key parameter
/// specified", as AWS answers at deploy).
pub fn key_spec(
    file: &Path,
    oloc: &str,
    op: &Value,
    resource_path: &str,
    problems: &mut Problems,
) -> CacheKeySpec {
    let iloc = format!("{oloc}/x-amazon-apigateway-integration");
    let integration = op.get("x-amazon-apigateway-integration");
    let namespace = match integration.and_then(|i| i.get("cacheNamespace")) {
        None | Some(Value::Null) => resource_path.as_bytes().into(),
        Some(Value::String(s)) if !s.is_empty() => s.as_bytes().into(),
        Some(other) => {
            problems.push(
                ConfigError::new(
                    file,
                    format!("{iloc}/cacheNamespace"),
                    format!("cacheNamespace must be a non-empty string, not {other}"),
                )
                .hint("omit it to use the resource, or name a namespace shared by resources"),
            );
            resource_path.as_bytes().into()
        }
    };
    let mut params = Vec::new();
    let ploc = format!("{iloc}/cacheKeyParameters");
    match integration.and_then(|i| i.get("cacheKeyParameters")) {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) if list.len() > MAX_KEY_PARAMETERS => problems.push(
            ConfigError::new(
                file,
                &ploc,
                format!(
                    "{} cache key parameters; at most {MAX_KEY_PARAMETERS} are allowed",
                    list.len()
                ),
            )
            .hint("declare only the parameters that change the response"),
        ),
        Some(Value::Array(list)) => {
            for (i, entry) in list.iter().enumerate() {
                let parsed = entry
                    .as_str()
                    .ok_or_else(|| format!("{entry} is not a string"))
                    .and_then(|s| KeyParam::parse(s).map_err(|e| e.message));
                match parsed {
                    Ok(p) if params.contains(&p) => {}
                    Ok(p) => params.push(p),
                    Err(message) => {
                        problems.push(ConfigError::new(file, format!("{ploc}/{i}"), message))
                    }
                }
            }
        }
        Some(_) => problems.push(
            ConfigError::new(file, &ploc, "cacheKeyParameters must be a list")
                .hint("e.g. [method.request.path.id, method.request.querystring.type]"),
        ),
    }
    CacheKeySpec { namespace, params }
}

/// Resolves every stage's per-method policy (indexed like `methods`), and warns once per
/// method cached in some stage whose path parameters are not all cache keys: AWS then serves
/// one entry for every value (`GET /pets/1` answers `/pets/2` from the cache), which surprises
/// many users (aws-behavior §8, observed).
pub fn resolve_policies(
    file: &Path,
    stages: &mut [Stage],
    methods: &[MethodConf],
    olocs: &[String],
    problems: &mut Problems,
) {
    for stage in stages.iter_mut() {
        stage.cache_policies = match &stage.cache {
            Some(settings) => {
                let per_method = method_cache_settings(&stage.method_settings);
                methods
                    .iter()
                    .map(|m| {
                        resolve_method_policy(
                            settings,
                            &per_method,
                            &m.resource_path,
                            &m.http_method,
                        )
                    })
                    .collect()
            }
            None => Vec::new(),
        };
    }
    for (i, m) in methods.iter().enumerate() {
        let cached_in: Vec<&str> = stages
            .iter()
            .filter(|s| {
                s.cache_policies
                    .get(i)
                    .is_some_and(|p| p.cache_get || p.cache_other)
            })
            .map(|s| s.name.as_str())
            .collect();
        if cached_in.is_empty() {
            continue;
        }
        let missing: Vec<&str> = path_parameters(&m.resource_path)
            .filter(|name| {
                !m.cache_key
                    .params
                    .iter()
                    .any(|p| p.source == KeyParamSource::Path && &*p.name == *name)
            })
            .collect();
        if missing.is_empty() {
            continue;
        }
        let loc = olocs.get(i).map_or("", String::as_str);
        problems.push(
            ConfigError::new(
                file,
                format!("{loc}/x-amazon-apigateway-integration"),
                format!(
                    "{} {} is cached (stage {}) but path parameter(s) {} are not cache keys: \
                     every value shares one cached response",
                    m.http_method,
                    m.resource_path,
                    cached_in.join(", "),
                    missing
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .hint(format!(
                "add {} to cacheKeyParameters (see docs/caching.md)",
                missing
                    .iter()
                    .map(|n| format!("method.request.path.{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .warning(),
        );
    }
}

/// The names of a resource path's parameters: `{id}` and a greedy `{proxy+}` give `id`,
/// `proxy`.
fn path_parameters(resource_path: &str) -> impl Iterator<Item = &str> {
    resource_path.split('/').filter_map(|seg| {
        seg.strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .map(|s| s.trim_end_matches('+'))
    })
}

/// Gives every stage with caching on a dense id (in API and stage order) and lists them.
/// Stages past [`MAX_STAGES`] are served uncached, with a warning.
pub fn assign_ids(file: &Path, apis: &mut [Api], problems: &mut Problems) -> Vec<CachedStage> {
    let mut cached = Vec::new();
    for (a, api) in apis.iter_mut().enumerate() {
        for (s, stage) in api.stages.iter_mut().enumerate() {
            stage.cache_id = None;
            let Some(settings) = stage.cache.as_ref().filter(|c| c.cache_cluster_enabled) else {
                continue;
            };
            if cached.len() >= MAX_STAGES {
                problems.push(
                    ConfigError::new(
                        file,
                        format!(
                            "/apis/{}/stages/{}/cache",
                            pointer_token(&api.name),
                            pointer_token(&stage.name)
                        ),
                        format!("more than {MAX_STAGES} stages have caching on; this one is served uncached"),
                    )
                    .warning(),
                );
                continue;
            }
            let id = cached.len() as u32;
            stage.cache_id = Some(id);
            cached.push(CachedStage {
                id,
                api: a,
                stage: s,
                identity: format!("{}/{}", api.id, stage.name),
                settings: settings.clone(),
            });
        }
    }
    cached
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_are_named_without_braces_or_plus() {
        let names: Vec<&str> = path_parameters("/pets/{id}/toys/{rest+}").collect();
        assert_eq!(names, ["id", "rest"]);
        assert_eq!(path_parameters("/").count(), 0);
    }

    #[test]
    fn key_spec_reads_parameters_and_namespace() {
        let mut problems = Problems::default();
        let op: Value = serde_json::json!({"x-amazon-apigateway-integration": {
            "cacheKeyParameters": ["method.request.path.id", "method.request.header.Accept",
                                   "method.request.path.id"],
            "cacheNamespace": "shared"
        }});
        let spec = key_spec(
            Path::new("f"),
            "/paths/x/get",
            &op,
            "/pets/{id}",
            &mut problems,
        );
        assert!(problems.0.is_empty(), "{problems}");
        assert_eq!(&*spec.namespace, b"shared");
        assert_eq!(spec.params.len(), 2, "duplicates are dropped");
        assert_eq!(&*spec.params[1].name, "accept");

        let plain = key_spec(
            Path::new("f"),
            "/p",
            &serde_json::json!({}),
            "/a",
            &mut problems,
        );
        assert_eq!(&*plain.namespace, b"/a");
        assert!(plain.params.is_empty());
    }

    #[test]
    fn bad_key_parameters_are_errors_with_aws_message() {
        let mut problems = Problems::default();
        let op: Value = serde_json::json!({"x-amazon-apigateway-integration": {
            "cacheKeyParameters": ["method.request.body.x", 3]
        }});
        key_spec(Path::new("f"), "/paths/x/get", &op, "/x", &mut problems);
        let text = problems.to_string();
        assert_eq!(problems.0.len(), 2, "{text}");
        assert!(
            text.contains("/paths/x/get/x-amazon-apigateway-integration/cacheKeyParameters/0"),
            "{text}"
        );
        assert!(
            text.contains("Invalid cache key parameter specified"),
            "{text}"
        );
    }
}
