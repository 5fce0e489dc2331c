//! The control plane: load → check → compile → publish. Never on the request path.
//!
//! * [`load`]: read YAML/JSON files, with line and column on syntax errors.
//! * [`gateway`]: the raw shapes of the gateway config file.
//! * [`compile`]: OpenAPI + extensions → compiled APIs, collecting every problem.
//! * [`validators`]: request validators and models → [`crate::validate::RequestValidator`].
//! * [`snapshot`]: the immutable [`Snapshot`] workers read, and how a new one is published.
//! * [`error`]: [`ConfigError`]: file, place, problem and fix.

pub mod cache;
pub mod compile;
pub mod error;
pub mod gateway;
pub mod load;
pub mod snapshot;
pub mod validators;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::Arc;

use serde_json::Value;

use crate::limit::config::{LimitsConfig, StageThrottleConfig, ThrottleSettings};
use crate::limit::quota::QuotaRegistry;
use crate::limit::{Limiter, MethodKey};

use crate::integration::tls::BackendTls;
pub use error::{ConfigError, Problems, Severity};
pub use snapshot::{
    Api, Domain, LambdaSettings, Mapping, MethodConf, Published, ServerSettings, Snapshot, Stage,
};

/// The default listening address when neither the config nor `--listen` names one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Command-line settings that override the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Vec<SocketAddr>,
    /// `--workers`.
    pub workers: Option<usize>,
    /// `--stage` (default `dev` for a bare OpenAPI document).
    pub stage: Option<String>,
    /// `--stage-var k=v`, applied to the `--stage` stage, or to every stage without `--stage`.
    pub stage_vars: Vec<(String, String)>,
}

/// A loaded configuration and the warnings found while loading it.
#[derive(Debug)]
pub struct Loaded {
    /// The compiled snapshot.
    pub snapshot: Snapshot,
    /// Problems that did not stop the load.
    pub warnings: Problems,
}

/// What a load shares with the running gateway.
#[derive(Debug, Clone)]
pub struct LoadEnv {
    /// Quota counters, kept for the whole process (persisted under `--state-dir`).
    pub registry: Arc<QuotaRegistry>,
    /// The snapshot being replaced by a reload: its bucket levels carry over.
    pub previous: Option<Arc<Snapshot>>,
}

impl LoadEnv {
    /// Counters in memory only, nothing to carry over (`validate`, tests).
    pub fn in_memory() -> Self {
        LoadEnv {
            registry: QuotaRegistry::in_memory(),
            previous: None,
        }
    }
}

/// Loads a gateway config or a bare OpenAPI document with in-memory quota counters.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Loaded, Problems> {
    load_with(path, overrides, &LoadEnv::in_memory())
}

/// Loads a gateway config or a bare OpenAPI document. On failure, every problem found.
pub fn load_with(path: &Path, overrides: &Overrides, env: &LoadEnv) -> Result<Loaded, Problems> {
    let mut problems = Problems::default();
    let text = load::read_text(path).map_err(|e| Problems(vec![e]))?;
    let value = load::parse_value(path, &text).map_err(|e| Problems(vec![e]))?;
    let is_openapi = value.get("openapi").is_some() || value.get("swagger").is_some();
    let file: gateway::GatewayFile = if is_openapi {
        let title = value
            .pointer("/info/title")
            .and_then(Value::as_str)
            .unwrap_or("api")
            .to_string();
        gateway::GatewayFile {
            apis: vec![gateway::ApiConf {
                name: title,
                id: None,
                openapi: Value::String(path.display().to_string()),
                stages: Vec::new(),
            }],
            ..Default::default()
        }
    } else if load::looks_like_json(path, &text) {
        serde_json::from_value(value.clone()).map_err(|e| {
            Problems(vec![
                ConfigError::new(path, "", format!("invalid gateway config: {e}"))
                    .hint("see docs/configuration.md for the file's shape"),
            ])
        })?
    } else {
        serde_saphyr::from_str(&text).map_err(|e| Problems(vec![load::yaml_error(path, &e)]))?
    };
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let snapshot = compile_file(
        path,
        &base_dir,
        file,
        is_openapi.then_some(value),
        overrides,
        env,
        &mut problems,
    );
    if problems.has_errors() {
        return Err(problems);
    }
    match snapshot {
        Some(snapshot) => Ok(Loaded {
            snapshot,
            warnings: problems,
        }),
        None => Err(problems),
    }
}

fn compile_file(
    path: &Path,
    base_dir: &Path,
    mut file: gateway::GatewayFile,
    inline_doc: Option<Value>,
    overrides: &Overrides,
    env: &LoadEnv,
    problems: &mut Problems,
) -> Option<Snapshot> {
    let mut listeners = overrides.listen.clone();
    if listeners.is_empty() {
        for (i, l) in file.listeners.iter().enumerate() {
            match l.address.parse::<SocketAddr>() {
                Ok(a) => listeners.push(a),
                Err(_) => problems.push(
                    ConfigError::new(
                        path,
                        format!("/listeners/{i}/address"),
                        format!("`{}` is not an IP:PORT address", l.address),
                    )
                    .hint("write e.g. 127.0.0.1:8080 or 0.0.0.0:443"),
                ),
            }
        }
    }
    if listeners.is_empty() {
        listeners.extend(DEFAULT_LISTEN.parse::<SocketAddr>().ok());
    }
    if file.apis.is_empty() {
        problems.push(
            ConfigError::new(path, "/apis", "no APIs are configured")
                .hint("add an entry under `apis:` with an `openapi:` file"),
        );
    }
    // Built once per load and shared read-only by every core (aws-behavior §6.1 tlsConfig).
    let backend_ca_file = file
        .server
        .backend_ca_file
        .as_ref()
        .map(|p| base_dir.join(p));
    let backend_tls = match BackendTls::from_ca_file(backend_ca_file.as_deref()) {
        Ok(t) => Some(t),
        Err(msg) => {
            problems.push(
                ConfigError::new(
                    path,
                    "/server/backend_ca_file",
                    format!(
                        "cannot use `{}` as backend CAs: {msg}",
                        backend_ca_file
                            .as_deref()
                            .map_or(String::new(), |p| p.display().to_string())
                    ),
                )
                .hint("give a PEM file of CA certificates; the path is relative to this file"),
            );
            None
        }
    };
    let mut apis: Vec<Api> = Vec::new();
    for (i, api) in std::mem::take(&mut file.apis).into_iter().enumerate() {
        let loc = format!("/apis/{i}");
        if apis.iter().any(|a| a.name == api.name) {
            problems.push(
                ConfigError::new(path, &loc, format!("two APIs are named `{}`", api.name))
                    .hint("give each API a unique name"),
            );
            continue;
        }
        let (doc_file, doc) = match (&inline_doc, &api.openapi) {
            (Some(doc), _) => (path.to_path_buf(), doc.clone()),
            (None, Value::String(rel)) => {
                let p = base_dir.join(rel);
                let text = match load::read_text(&p) {
                    Ok(t) => t,
                    Err(e) => {
                        problems.push(
                            ConfigError::new(
                                path,
                                format!("{loc}/openapi"),
                                format!("cannot load `{rel}`: {}", e.message),
                            )
                            .hint("the path is relative to the gateway config file"),
                        );
                        continue;
                    }
                };
                match load::parse_value(&p, &text) {
                    Ok(v) => (p, v),
                    Err(e) => {
                        problems.push(e);
                        continue;
                    }
                }
            }
            (None, v @ Value::Object(_)) => (path.to_path_buf(), v.clone()),
            (None, _) => {
                problems.push(ConfigError::new(
                    path,
                    format!("{loc}/openapi"),
                    "`openapi` must be a file path or an inline document",
                ));
                continue;
            }
        };
        let stages = build_stages(path, &loc, &api.stages, overrides, problems);
        let id = api.id.clone().unwrap_or_else(|| api.name.clone());
        if let Some(mut compiled) =
            compile::compile_api(&doc_file, &doc, id, api.name.clone(), stages, problems)
        {
            if let Some(tls) = &backend_tls {
                for m in &mut compiled.methods {
                    let skip = m.integration.insecure_skip_verification;
                    m.integration.tls = Some(tls.for_integration(skip));
                }
            }
            apis.push(compiled);
        }
    }
    let mut domains = Vec::new();
    for (i, d) in file.domains.iter().enumerate() {
        let mut mappings = Vec::new();
        for (j, m) in d.mappings.iter().enumerate() {
            let loc = format!("/domains/{i}/mappings/{j}");
            let Some(api) = apis.iter().position(|a| a.name == m.api) else {
                problems.push(
                    ConfigError::new(path, &loc, format!("no API is named `{}`", m.api)).hint(
                        format!(
                            "use one of: {}",
                            apis.iter()
                                .map(|a| a.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ),
                );
                continue;
            };
            let Some(stage) = apis[api].stages.iter().position(|s| s.name == m.stage) else {
                problems.push(ConfigError::new(
                    path,
                    &loc,
                    format!("API `{}` has no stage `{}`", m.api, m.stage),
                ));
                continue;
            };
            let base_path = m.base_path.trim_matches('/').to_string();
            if mappings.iter().any(|x: &Mapping| x.base_path == base_path) {
                problems.push(ConfigError::new(
                    path,
                    &loc,
                    format!("base path `{base_path}` is mapped twice on `{}`", d.name),
                ));
                continue;
            }
            mappings.push(Mapping {
                base_path,
                api,
                stage,
            });
        }
        mappings.sort_by_key(|m| std::cmp::Reverse(m.base_path.len()));
        domains.push(Domain {
            host: d.name.to_ascii_lowercase(),
            mappings,
        });
    }
    let cache_stages = cache::assign_ids(path, &mut apis, problems);
    let limiter = build_limiter(path, base_dir, &file, &mut apis, env, problems)?;
    let admin = match &file.admin {
        Some(a) => match a.address.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                problems.push(
                    ConfigError::new(
                        path,
                        "/admin/address",
                        format!("`{}` is not an IP:PORT address", a.address),
                    )
                    .hint("write e.g. 127.0.0.1:9901 (keep the admin endpoint on loopback)"),
                );
                None
            }
        },
        None => None,
    };
    let lambda = lambda_settings(path, base_dir, &file.lambda, &file.functions, problems);
    let s = &file.server;
    let ms = Duration::from_millis;
    Some(Snapshot {
        listeners,
        workers: overrides.workers.or(file.workers),
        server: ServerSettings {
            header_timeout: ms(s.header_timeout_ms.max(1)),
            body_timeout: ms(s.body_timeout_ms.max(1)),
            idle_timeout: ms(s.idle_timeout_ms.max(1)),
            shutdown_timeout: ms(s.shutdown_timeout_ms),
            connect_timeout: ms(s.connect_timeout_ms.max(1)),
            max_idle_backend_connections: s.max_idle_backend_connections,
            backend_ca_file,
        },
        apis,
        domains,
        source: PathBuf::from(path),
        limiter: Arc::new(limiter),
        admin,
        lambda,
        cache_stages,
    })
}

/// Compiles throttles, usage plans and API keys into the [`Limiter`], giving every
/// (API, stage, method) its id. Bucket levels carry over from `env.previous`.
fn build_limiter(
    path: &Path,
    base_dir: &Path,
    file: &gateway::GatewayFile,
    apis: &mut [Api],
    env: &LoadEnv,
    problems: &mut Problems,
) -> Option<Limiter> {
    let mut methods = Vec::new();
    let mut stages = Vec::new();
    for api in apis.iter_mut() {
        api.limit_base = methods.len() as u32;
        for stage in &api.stages {
            for m in &api.methods {
                methods.push(MethodKey {
                    api_id: api.id.clone(),
                    stage: stage.name.clone(),
                    resource_path: m.resource_path.clone(),
                    http_method: m.http_method.clone(),
                    api_key_required: m.api_key_required,
                });
            }
            let mut method_settings = std::collections::BTreeMap::new();
            for (key, ms) in &stage.method_settings {
                match (ms.throttling_rate_limit, ms.throttling_burst_limit) {
                    (Some(rate_limit), Some(burst_limit)) => {
                        method_settings.insert(
                            key.clone(),
                            ThrottleSettings {
                                burst_limit,
                                rate_limit,
                            },
                        );
                    }
                    (None, None) => {}
                    _ => problems.push(
                        ConfigError::new(
                            path,
                            format!(
                                "/apis/{}/stages/{}/method_settings/{}",
                                api.name,
                                stage.name,
                                error::pointer_token(key)
                            ),
                            "a throttle needs both throttlingRateLimit and throttlingBurstLimit",
                        )
                        .hint("set both, e.g. throttlingRateLimit: 100, throttlingBurstLimit: 50"),
                    ),
                }
            }
            if !method_settings.is_empty() {
                stages.push(StageThrottleConfig {
                    api_id: api.id.clone(),
                    stage: stage.name.clone(),
                    method_settings,
                });
            }
        }
    }
    let mut api_keys = file.api_keys.clone();
    for (i, rel) in file.api_key_files.iter().enumerate() {
        let p = base_dir.join(rel);
        let text = match load::read_text(&p) {
            Ok(t) => t,
            Err(e) => {
                problems.push(ConfigError::new(path, format!("/api_key_files/{i}"), format!("cannot load `{rel}`: {}", e.message))
                    .hint("the path is relative to the gateway config file; `tollgate keys import` writes one"));
                continue;
            }
        };
        match serde_saphyr::from_str::<Vec<crate::limit::config::ApiKeyConfig>>(&text) {
            Ok(keys) => api_keys.extend(keys),
            Err(e) => problems.push(load::yaml_error(&p, &e)),
        }
    }
    let cfg = LimitsConfig {
        account: file.throttle.unwrap_or(LimitsConfig::default().account),
        stages,
        usage_plans: file.usage_plans.clone(),
        api_keys,
    };
    let previous = env.previous.as_ref().map(|s| s.limiter.as_ref());
    match Limiter::build(&cfg, &methods, env.registry.clone(), previous) {
        Ok(l) => Some(l),
        Err(errors) => {
            for e in errors {
                problems
                    .push(ConfigError::new(path, e.location, e.message).hint("see docs/limits.md"));
            }
            None
        }
    }
}

/// Hard limits of the local function host, as Lambda's own (DG Lambda: gettingstarted-limits):
/// timeout 1 s to 900 s, memory 128 MB to 10240 MB.
const FUNCTION_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 1_000..=900_000;
const FUNCTION_MEMORY_MB: std::ops::RangeInclusive<u32> = 128..=10_240;
/// Processes per local function at most.
const MAX_FUNCTION_CONCURRENCY: usize = 256;

fn lambda_settings(
    path: &Path,
    base_dir: &Path,
    conf: &gateway::LambdaConf,
    functions: &[gateway::FunctionConf],
    problems: &mut Problems,
) -> LambdaSettings {
    let region = conf.region.clone().unwrap_or_else(|| "us-east-1".into());
    let account_id = conf
        .account_id
        .clone()
        .unwrap_or_else(|| "123456789012".into());
    let endpoint = conf.endpoint.as_ref().and_then(|e| {
        match crate::integration::http::split_url(e) {
            Ok((origin, _)) => Some(origin),
            Err(msg) => {
                problems.push(
                    ConfigError::new(path, "/lambda/endpoint", format!("invalid endpoint `{e}`: {msg}"))
                        .hint("write e.g. http://127.0.0.1:9001 or https://lambda.us-east-1.amazonaws.com"),
                );
                None
            }
        }
    });
    let mut specs: Vec<crate::integration::lambda::host::FunctionSpec> = Vec::new();
    for (i, f) in functions.iter().enumerate() {
        let loc = format!("/functions/{i}");
        let mut ok = true;
        let mut bad = |field: &str, msg: String, hint: &str| {
            problems
                .push(ConfigError::new(path, format!("{loc}/{field}"), msg).hint(hint.to_string()));
            ok = false;
        };
        if f.name.is_empty()
            || f.name.len() > 64
            || !f
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            bad(
                "name",
                format!("invalid function name `{}`", f.name),
                "Lambda names use letters, digits, hyphens and underscores, at most 64 characters",
            );
        }
        if specs.iter().any(|s| s.name == f.name) {
            bad(
                "name",
                format!("two functions are named `{}`", f.name),
                "give each function a unique name",
            );
        }
        if f.command.trim().is_empty() {
            bad(
                "command",
                "the command is empty".into(),
                "e.g. `python3 -m awslambdaric app.handler`",
            );
        }
        if !(1..=MAX_FUNCTION_CONCURRENCY).contains(&f.concurrency) {
            bad(
                "concurrency",
                format!("concurrency {} is out of range", f.concurrency),
                "use 1 to 256",
            );
        }
        if !FUNCTION_TIMEOUT_MS.contains(&f.timeout_ms) {
            bad(
                "timeout_ms",
                format!("timeout_ms {} is out of range", f.timeout_ms),
                "Lambda allows 1000 to 900000",
            );
        }
        if !FUNCTION_MEMORY_MB.contains(&f.memory_mb) {
            bad(
                "memory_mb",
                format!("memory_mb {} is out of range", f.memory_mb),
                "Lambda allows 128 to 10240",
            );
        }
        let mut environment = Vec::new();
        for (k, v) in &f.environment {
            match v {
                Value::String(s) => environment.push((k.clone(), s.clone())),
                Value::Number(n) => environment.push((k.clone(), n.to_string())),
                Value::Bool(b) => environment.push((k.clone(), b.to_string())),
                _ => bad(
                    &format!("environment/{}", error::pointer_token(k)),
                    "an environment value must be a string".into(),
                    "quote the value",
                ),
            }
        }
        let cwd = f.cwd.as_ref().map(|c| base_dir.join(c));
        if let Some(c) = &cwd {
            if !c.is_dir() {
                bad(
                    "cwd",
                    format!("`{}` is not a directory", c.display()),
                    "the path is relative to the gateway config file",
                );
            }
        }
        if ok {
            specs.push(crate::integration::lambda::host::FunctionSpec {
                name: f.name.clone(),
                command: f.command.clone(),
                cwd,
                concurrency: f.concurrency,
                timeout: Duration::from_millis(f.timeout_ms),
                memory_mb: f.memory_mb,
                max_queue: f.max_queue,
                environment,
                region: region.clone(),
                account_id: account_id.clone(),
            });
        }
    }
    // Credentials are read once, at load (environment, then the shared files), and only
    // matter for calls that leave the local host.
    let credentials = match crate::integration::lambda::credentials::resolve() {
        Ok((c, _source)) => Some(Arc::new(c)),
        Err(_) => None,
    };
    LambdaSettings {
        endpoint,
        region,
        account_id,
        functions: specs,
        credentials,
    }
}

fn build_stages(
    path: &Path,
    loc: &str,
    confs: &[gateway::StageConf],
    overrides: &Overrides,
    problems: &mut Problems,
) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    for (i, s) in confs.iter().enumerate() {
        let sloc = format!("{loc}/stages/{i}");
        if s.name.is_empty()
            || s.name.len() > 128
            || !s
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            problems.push(ConfigError::new(path, &sloc, format!("invalid stage name `{}`", s.name))
                .hint("stage names use letters, digits, hyphens and underscores, at most 128 characters"));
            continue;
        }
        let mut variables = Vec::new();
        for (k, v) in &s.variables {
            let value = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    problems.push(ConfigError::new(
                        path,
                        format!("{sloc}/variables/{}", error::pointer_token(k)),
                        "a stage variable must be a string",
                    ));
                    continue;
                }
            };
            variables.push((k.clone(), value));
        }
        stages.push(Stage {
            name: s.name.clone(),
            variables,
            method_settings: s.method_settings.clone(),
            cache: s.cache.clone(),
            cache_id: None,
            cache_policies: Vec::new(),
        });
        if let Some(stage) = stages.last() {
            cache::check_stage(path, &sloc, stage, problems);
        }
    }
    if stages.is_empty() && confs.is_empty() {
        stages.push(Stage {
            name: overrides.stage.clone().unwrap_or_else(|| "dev".into()),
            variables: Vec::new(),
            method_settings: Default::default(),
            cache: None,
            cache_id: None,
            cache_policies: Vec::new(),
        });
    }
    for stage in &mut stages {
        if overrides.stage.as_ref().is_some_and(|s| *s != stage.name) {
            continue;
        }
        for (k, v) in &overrides.stage_vars {
            match stage.variables.iter_mut().find(|(n, _)| n == k) {
                Some(slot) => slot.1 = v.clone(),
                None => stage.variables.push((k.clone(), v.clone())),
            }
        }
    }
    for stage in &stages {
        // A JSON pointer indexes the `stages` list; the implicit stage has no entry of its own.
        let sloc = match confs.iter().position(|c| c.name == stage.name) {
            Some(i) => format!("{loc}/stages/{i}"),
            None => format!("{loc}/stages"),
        };
        for (k, v) in &stage.variables {
            let vloc = format!("{sloc}/variables/{}", error::pointer_token(k));
            if k.is_empty()
                || k.len() > 64
                || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                problems.push(
                    ConfigError::new(path, &vloc, format!("invalid stage variable name `{k}`"))
                        .hint("names use letters, digits and underscores, at most 64 characters"),
                );
            }
            if v.len() > 512
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~:/?#&=,".contains(&b))
            {
                problems.push(
                    ConfigError::new(
                        path,
                        &vloc,
                        format!("invalid value `{v}` for stage variable `{k}`"),
                    )
                    .hint("AWS allows [A-Za-z0-9-._~:/?#&=,], at most 512 characters"),
                );
            }
        }
    }
    stages
}
