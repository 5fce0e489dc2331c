//! The gateway config file (YAML): raw serde shapes, as close to the file as possible.
//! Checking and compiling happen in [`super::compile`].

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::cache::config::{StageCacheSettings, UnauthorizedCacheControlHeaderStrategy};
use crate::limit::config::{ApiKeyConfig, ThrottleSettings, UsagePlanConfig};

/// The whole gateway config file.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GatewayFile {
    /// Where to listen; the `--listen` flag overrides.
    #[serde(default)]
    pub listeners: Vec<ListenerConf>,
    /// Worker threads (one per core by default); the `--workers` flag overrides.
    #[serde(default)]
    pub workers: Option<usize>,
    /// Connection limits and timeouts.
    #[serde(default)]
    pub server: ServerConf,
    /// The APIs served.
    #[serde(default)]
    pub apis: Vec<ApiConf>,
    /// Custom domain names with their base path mappings.
    #[serde(default)]
    pub domains: Vec<DomainConf>,
    /// The gateway-wide token bucket (AWS's account level; default 10,000 rps, burst 5,000).
    #[serde(default)]
    pub throttle: Option<ThrottleSettings>,
    /// Usage plans (AWS `UsagePlan` shape, camelCase inside).
    #[serde(default)]
    pub usage_plans: Vec<UsagePlanConfig>,
    /// API keys (AWS `ApiKey` shape, camelCase inside, with `usagePlanIds`).
    #[serde(default)]
    pub api_keys: Vec<ApiKeyConfig>,
    /// Files of API keys (a YAML list of `api_keys` entries), as `tollgate keys import` writes.
    #[serde(default)]
    pub api_key_files: Vec<String>,
    /// The admin endpoint (usage, cache flush, health); off unless set.
    #[serde(default)]
    pub admin: Option<ListenerConf>,
    /// Where Lambda integrations invoke functions that are not local.
    #[serde(default)]
    pub lambda: LambdaConf,
    /// Functions run by the local function host (docs/lambda.md).
    #[serde(default)]
    pub functions: Vec<FunctionConf>,
}

/// The Lambda Invoke API endpoint for functions not in `functions:`.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct LambdaConf {
    /// Invoke API base URL; default `https://lambda.{region}.amazonaws.com`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Default region (`us-east-1`); the integration URI's region wins for AWS calls.
    #[serde(default)]
    pub region: Option<String>,
    /// `requestContext.accountId` and the account in local function ARNs.
    #[serde(default)]
    pub account_id: Option<String>,
}

/// One function run by the local function host.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct FunctionConf {
    /// The function name, as the integration URI's function ARN ends.
    pub name: String,
    /// The command that starts one runtime process (run with `sh -c`), e.g.
    /// `python3 -m awslambdaric app.handler`.
    pub command: String,
    /// Working directory, relative to this file.
    #[serde(default)]
    pub cwd: Option<String>,
    /// Processes at most.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Function timeout in milliseconds (Lambda's default: 3 s).
    #[serde(default = "default_function_timeout")]
    pub timeout_ms: u64,
    /// Memory size reported to the function.
    #[serde(default = "default_memory")]
    pub memory_mb: u32,
    /// Invocations that may wait for a busy function before Lambda's 429.
    #[serde(default = "default_max_queue")]
    pub max_queue: usize,
    /// Environment variables for the function.
    #[serde(default)]
    pub environment: serde_json::Map<String, serde_json::Value>,
}

fn default_concurrency() -> usize {
    1
}
fn default_function_timeout() -> u64 {
    3_000
}
fn default_memory() -> u32 {
    128
}
fn default_max_queue() -> usize {
    16
}

/// One listening address.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConf {
    /// `IP:PORT`, e.g. `127.0.0.1:8080`.
    pub address: String,
}

/// Client-side limits and timeouts, in milliseconds.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConf {
    /// Time allowed from a request's first byte to the end of its header section.
    pub header_timeout_ms: u64,
    /// Time allowed between reads of a request body.
    pub body_timeout_ms: u64,
    /// How long a keep-alive connection may sit idle between requests.
    pub idle_timeout_ms: u64,
    /// How long a shutdown waits for requests in flight.
    pub shutdown_timeout_ms: u64,
    /// Timeout for connecting to a backend.
    pub connect_timeout_ms: u64,
    /// Idle backend connections kept per backend address, per core.
    pub max_idle_backend_connections: usize,
    /// A PEM file of CA certificates trusted for `https://` backends in addition to the
    /// Mozilla roots; relative to the config file.
    pub backend_ca_file: Option<String>,
}

impl Default for ServerConf {
    fn default() -> Self {
        ServerConf {
            header_timeout_ms: 30_000,
            body_timeout_ms: 30_000,
            idle_timeout_ms: 60_000,
            shutdown_timeout_ms: 10_000,
            connect_timeout_ms: 10_000,
            max_idle_backend_connections: 256,
            backend_ca_file: None,
        }
    }
}

/// One API: an OpenAPI document (a path, or inline) and its stages.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConf {
    /// A name for messages and domain mappings.
    pub name: String,
    /// The API id (`$context.apiId`); defaults to the name.
    #[serde(default)]
    pub id: Option<String>,
    /// Path of an OpenAPI 3 / Swagger 2 document (JSON or YAML), relative to this file,
    /// or the document itself inline.
    pub openapi: serde_json::Value,
    /// The stages; one stage named `dev` when empty.
    #[serde(default)]
    pub stages: Vec<StageConf>,
}

/// One stage of an API.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConf {
    /// The stage name: the first path segment on the default endpoint.
    pub name: String,
    /// Stage variables.
    #[serde(default)]
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// `methodSettings`: `resourcePath/httpMethod` (`pets/GET`, `*/*`) → settings.
    #[serde(default)]
    pub method_settings: BTreeMap<String, MethodSettingConf>,
    /// The stage cache (`cacheClusterEnabled`, `cacheClusterSize`, `cacheTtlInSeconds`).
    #[serde(default)]
    pub cache: Option<StageCacheSettings>,
}

/// One `MethodSetting`, with AWS's field names (API: MethodSetting).
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MethodSettingConf {
    /// Steady requests per second for this method's bucket.
    pub throttling_rate_limit: Option<f64>,
    /// Bucket size.
    pub throttling_burst_limit: Option<u64>,
    /// Cache this method's responses.
    pub caching_enabled: Option<bool>,
    /// TTL of cached responses (0 disables, at most 3600).
    pub cache_ttl_in_seconds: Option<u32>,
    /// Accepted for compatibility; entries are kept in process memory only.
    pub cache_data_encrypted: Option<bool>,
    /// Whether `Cache-Control: max-age=0` needs authorization.
    pub require_authorization_for_cache_control: Option<bool>,
    /// What an unauthorized `Cache-Control: max-age=0` gets.
    pub unauthorized_cache_control_header_strategy: Option<UnauthorizedCacheControlHeaderStrategy>,
}

/// A custom domain name and its API mappings (DG: rest-api-mappings).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainConf {
    /// The host name (`Host` header, port ignored); `*` matches any host.
    pub name: String,
    /// Base path mappings; the longest matching base path wins.
    pub mappings: Vec<MappingConf>,
}

/// One base path mapping: requests under `base_path` go to `api`'s `stage`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConf {
    /// The base path without slashes at either end; empty serves the stage at `/`.
    #[serde(default)]
    pub base_path: String,
    /// The API's name.
    pub api: String,
    /// The stage's name.
    pub stage: String,
}
