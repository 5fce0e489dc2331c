//! The compiled configuration: one immutable [`Snapshot`] shared read-only by every worker.
//! A reload compiles a new one and publishes it; workers switch between requests.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cache::MethodCachePolicy;
use crate::cache::config::StageCacheSettings;
use crate::config::cache::{CacheKeySpec, CachedStage};
use crate::config::gateway::MethodSettingConf;
use crate::integration::Integration;
use crate::limit::Limiter;
use crate::route::Router;

/// Everything the data plane needs, compiled.
#[derive(Debug)]
pub struct Snapshot {
    /// Where to listen.
    pub listeners: Vec<SocketAddr>,
    /// Worker threads requested by the config (the CLI may override).
    pub workers: Option<usize>,
    /// Client-side limits and timeouts.
    pub server: ServerSettings,
    /// The APIs.
    pub apis: Vec<Api>,
    /// Custom domains, in config order.
    pub domains: Vec<Domain>,
    /// The file this was loaded from.
    pub source: PathBuf,
    /// Throttles, API keys, usage plans and quotas (shared by every core: atomics only).
    pub limiter: Arc<Limiter>,
    /// The admin endpoint's address, if enabled.
    pub admin: Option<SocketAddr>,
    /// Lambda endpoint and local functions.
    pub lambda: LambdaSettings,
    /// The stages with caching on, by cache id (docs/caching.md).
    pub cache_stages: Vec<CachedStage>,
}

impl Snapshot {
    /// Each cached stage's byte budget on one of `workers` cores.
    pub fn cache_budgets(&self, workers: usize) -> Vec<crate::cache::StageBudget> {
        self.cache_stages
            .iter()
            .map(|c| c.budget(workers))
            .collect()
    }
}

/// Where Lambda integrations go (docs/lambda.md).
#[derive(Debug, Clone, Default)]
pub struct LambdaSettings {
    /// An explicit Invoke API endpoint for non-local functions; `None` = AWS's regional one.
    pub endpoint: Option<crate::integration::http::Origin>,
    /// Default region.
    pub region: String,
    /// `requestContext.accountId`.
    pub account_id: String,
    /// Functions of the local function host.
    pub functions: Vec<crate::integration::lambda::host::FunctionSpec>,
    /// Credentials for AWS's endpoint, found at load as the AWS SDKs find them; `None` sends
    /// calls unsigned (a local Invoke-API server, or no credentials configured).
    pub credentials: Option<Arc<crate::integration::lambda::credentials::Credentials>>,
}

impl LambdaSettings {
    /// Whether the local host runs `name`.
    pub fn is_local(&self, name: &str) -> bool {
        self.functions.iter().any(|f| f.name == name)
    }
}

/// Timeouts and pool sizes.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// From a request's first byte to the end of its head.
    pub header_timeout: Duration,
    /// Between reads of a body.
    pub body_timeout: Duration,
    /// Idle keep-alive connections.
    pub idle_timeout: Duration,
    /// Bound on draining requests in flight at shutdown.
    pub shutdown_timeout: Duration,
    /// Backend connect timeout.
    pub connect_timeout: Duration,
    /// Idle backend connections kept per backend, per core.
    pub max_idle_backend_connections: usize,
    /// Extra CAs trusted for `https://` backends (resolved path), besides the Mozilla roots.
    /// Its certificates are compiled into each integration's [`crate::integration::tls::TlsClient`].
    pub backend_ca_file: Option<PathBuf>,
}

/// One REST API.
#[derive(Debug)]
pub struct Api {
    /// `$context.apiId`.
    pub id: String,
    /// The name used in domain mappings and messages.
    pub name: String,
    /// Its stages.
    pub stages: Vec<Stage>,
    /// Resource path + method → index into `methods`.
    pub router: Router<u32>,
    /// Every method of every resource.
    pub methods: Vec<MethodConf>,
    /// `x-amazon-apigateway-binary-media-types`.
    pub binary_media_types: Vec<String>,
    /// The limiter's id of (stage 0, method 0); a method's id is
    /// `limit_base + stage × methods.len() + method`.
    pub limit_base: u32,
}

impl Api {
    /// The limiter's id for a method of a stage.
    pub fn limit_id(&self, stage: usize, method: usize) -> crate::limit::MethodId {
        crate::limit::MethodId(self.limit_base + (stage * self.methods.len() + method) as u32)
    }
}

/// One stage.
#[derive(Debug)]
pub struct Stage {
    /// The stage name.
    pub name: String,
    /// Stage variables, in definition order.
    pub variables: Vec<(String, String)>,
    /// `methodSettings` as configured (throttling is compiled into the limiter).
    pub method_settings: std::collections::BTreeMap<String, MethodSettingConf>,
    /// The stage cache settings.
    pub cache: Option<StageCacheSettings>,
    /// The id of this stage's per-core caches, when caching is on.
    pub cache_id: Option<u32>,
    /// Per method (indexed like [`Api::methods`]): whether and how it is cached here; empty
    /// when the stage has no cache.
    pub cache_policies: Vec<MethodCachePolicy>,
}

impl Stage {
    /// A stage variable's value.
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.variables
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One method of one resource, compiled.
#[derive(Debug)]
pub struct MethodConf {
    /// The resource path template, e.g. `/pets/{petId}`.
    pub resource_path: String,
    /// The HTTP method as configured (`ANY` included).
    pub http_method: String,
    /// `security` names an API key scheme (enforced with usage plans).
    pub api_key_required: bool,
    /// The integration.
    pub integration: Integration,
    /// How its cache key is built (`cacheNamespace`, `cacheKeyParameters`).
    pub cache_key: CacheKeySpec,
    /// Its request validator (`x-amazon-apigateway-request-validator`), if one applies.
    pub validator: Option<crate::validate::RequestValidator>,
}

/// A custom domain with its base path mappings, longest first.
#[derive(Debug)]
pub struct Domain {
    /// Lower-cased host name, or `*`.
    pub host: String,
    /// Mappings sorted by descending base path length.
    pub mappings: Vec<Mapping>,
}

/// A base path mapped to an API stage.
#[derive(Debug)]
pub struct Mapping {
    /// Without leading or trailing slash; empty for the root mapping.
    pub base_path: String,
    /// Index into [`Snapshot::apis`].
    pub api: usize,
    /// Index into that API's stages.
    pub stage: usize,
}

/// The published snapshot: workers keep their own `Arc` and compare a generation number
/// between requests, so the request path reads one atomic and takes no lock.
#[derive(Debug)]
pub struct Published {
    generation: AtomicU64,
    current: Mutex<Arc<Snapshot>>,
}

impl Published {
    /// Publishes the first snapshot.
    pub fn new(s: Snapshot) -> Self {
        Published {
            generation: AtomicU64::new(0),
            current: Mutex::new(Arc::new(s)),
        }
    }

    /// The generation of the newest snapshot.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The newest snapshot and its generation (takes the lock: call only when the
    /// generation changed).
    pub fn load(&self) -> (u64, Arc<Snapshot>) {
        let guard = match self.current.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        (self.generation.load(Ordering::Acquire), guard.clone())
    }

    /// Replaces the snapshot; requests in flight finish on the one they hold.
    pub fn publish(&self, s: Snapshot) {
        let mut guard = match self.current.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(s);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}
