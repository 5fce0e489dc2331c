//! The command line: `serve`, `validate`, `render`, `test-invoke` (argument shapes only; each command
//! calls into the module that does the work).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, LoadEnv, Overrides, Published, Severity};
use crate::limit::quota::{DEFAULT_FLUSH_INTERVAL, Flusher, QuotaRegistry};
use crate::server::{self, Driver, ServeOptions};

#[derive(Parser, Debug)]
#[command(
    name = "tollgate",
    version,
    about = "A self-hosted AWS API Gateway: serves API Gateway OpenAPI exports"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum DriverArg {
    /// io_uring, falling back to epoll where the kernel or seccomp refuses io_uring.
    Auto,
    /// epoll only.
    Legacy,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve a gateway config or an OpenAPI export (at /{stage}/{path}).
    Serve {
        /// A gateway config (YAML) or an OpenAPI 3 / Swagger 2 document (JSON or YAML).
        file: PathBuf,
        /// Address to listen on (repeatable); overrides the config's listeners.
        #[arg(long)]
        listen: Vec<SocketAddr>,
        /// The stage to serve an OpenAPI document as (default dev); with a gateway config,
        /// the stage that --stage-var applies to.
        #[arg(long)]
        stage: Option<String>,
        /// A stage variable, `name=value` (repeatable).
        #[arg(long = "stage-var", value_parser = parse_kv)]
        stage_var: Vec<(String, String)>,
        /// Worker threads (default: the number of cores available).
        #[arg(long)]
        workers: Option<usize>,
        /// The io driver.
        #[arg(long, value_enum, default_value = "auto")]
        driver: DriverArg,
        /// Where quota counters persist across restarts.
        #[arg(long, default_value = "./state")]
        state_dir: PathBuf,
        /// For tests only: let the admin endpoint move time forward
        /// (`POST /test/clock?advance=SECONDS`) for throttles, quotas and cache TTLs.
        #[arg(long, hide = true)]
        test_clock: bool,
    },
    /// Check a gateway config or OpenAPI document; print every problem with its location.
    Validate {
        /// The file to check.
        file: PathBuf,
    },
    /// API keys: `tollgate keys import FILE.csv --out keys.yaml`.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Usage of an API key per day, AWS GetUsage-shaped (reads --state-dir; while the gateway
    /// runs, ask its admin endpoint: GET /usage?usagePlanId=..&keyId=..&startDate=..&endDate=..).
    Usage {
        /// The gateway config that defines the usage plans and keys.
        config: PathBuf,
        /// The API key's id.
        #[arg(long)]
        key: String,
        /// First day, YYYY-MM-DD (UTC).
        #[arg(long)]
        from: String,
        /// Last day, YYYY-MM-DD (UTC).
        #[arg(long)]
        to: String,
        /// Where the gateway keeps its quota counters.
        #[arg(long, default_value = "./state")]
        state_dir: PathBuf,
    },
    /// Render one mapping template against a request description.
    Render {
        /// The template file.
        template: PathBuf,
        /// The request description (JSON).
        #[arg(long)]
        request: PathBuf,
        /// Instead of printing the output, render repeatedly for this many milliseconds and
        /// print the rate over them and the median rate of their ten equal slices (used by
        /// bench/templates-vs-peers.sh).
        #[arg(long, value_name = "MS")]
        bench_ms: Option<u64>,
    },
    /// Run one request through the whole pipeline in-process (like AWS TestInvokeMethod)
    /// and print the endpoint request, the backend's answer, the method response, AWS's
    /// execution log and the time spent in each stage.
    TestInvoke {
        /// A gateway config (YAML) or an OpenAPI document.
        file: PathBuf,
        /// The HTTP method.
        #[arg(long, default_value = "GET")]
        method: String,
        /// The path below the stage, with an optional query string (`/pets/1?x=y`).
        #[arg(long)]
        path: String,
        /// A request header, `Name: value` (repeatable).
        #[arg(short = 'H', long = "header", value_parser = parse_header)]
        header: Vec<(String, String)>,
        /// The request body.
        #[arg(short = 'd', long = "data")]
        data: Option<String>,
        /// The stage (default: the API's first stage).
        #[arg(long)]
        stage: Option<String>,
        /// A stage variable, `name=value` (repeatable).
        #[arg(long = "stage-var", value_parser = parse_kv)]
        stage_var: Vec<(String, String)>,
    },
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}` is not `Name: value`"))?;
    let name = name.trim();
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid || value.bytes().any(|b| b == b'\r' || b == b'\n') {
        return Err(format!("`{s}` is not a valid header line"));
    }
    Ok((name.to_string(), value.trim().to_string()))
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Convert an API key file in AWS's CSV format (Name,Key,Description,Enabled,UsagePlanIds)
    /// into a keys file for `api_key_files:`; keys are stored as SHA-256 only.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Where to write the YAML keys file (stdout when absent).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not name=value"))
}

/// Parses the command line and runs the command.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            file,
            listen,
            stage,
            stage_var,
            workers,
            driver,
            state_dir,
            test_clock,
        } => {
            if test_clock {
                crate::clock::enable_test_clock();
                crate::warn!(
                    "tollgate: test clock on: POST /test/clock?advance=SECONDS moves time"
                );
            }
            // Before any thread exists: every thread must inherit the blocked shutdown signals
            // (see server::shutdown), or one could take SIGTERM's default action.
            server::shutdown::block();
            let registry = match QuotaRegistry::open(&state_dir) {
                Ok(r) => r,
                Err(e) => {
                    crate::warn!(
                        "tollgate: not started: cannot open the quota store in {}: {e}",
                        state_dir.display()
                    );
                    crate::warn!(
                        "  hint: pass --state-dir DIR with a writable directory that no other tollgate uses"
                    );
                    return Ok(ExitCode::from(1));
                }
            };
            let env = LoadEnv {
                registry: registry.clone(),
                previous: None,
            };
            let overrides = Overrides {
                listen,
                workers,
                stage,
                stage_vars: stage_var,
            };
            let loaded = match config::load_with(&file, &overrides, &env) {
                Ok(l) => l,
                Err(problems) => {
                    crate::warn!("{problems}");
                    crate::warn!(
                        "tollgate: not started: fix the errors above (`tollgate validate {}` lists them)",
                        file.display()
                    );
                    return Ok(ExitCode::from(1));
                }
            };
            for w in &loaded.warnings.0 {
                crate::warn!("{w}");
            }
            let workers = loaded
                .snapshot
                .workers
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let driver = match driver {
                DriverArg::Auto => Driver::Auto,
                DriverArg::Legacy => {
                    // SAFETY: no other thread exists yet; monoio reads this when each runtime is built.
                    unsafe { std::env::set_var("MONOIO_FORCE_LEGACY_DRIVER", "1") };
                    Driver::Legacy
                }
            };
            let published = Arc::new(Published::new(loaded.snapshot));
            // Quota counters are written off the request path, every second and at shutdown.
            let registry_for_close = registry.clone();
            let flusher = Flusher::spawn(registry.clone(), DEFAULT_FLUSH_INTERVAL, |e| {
                crate::warn!("tollgate: quota store: {e} (will retry)");
            })?;
            let result = server::serve(
                published,
                ServeOptions {
                    workers,
                    driver,
                    config_path: file,
                    overrides,
                    registry,
                },
            );
            flusher.stop();
            if let Err(e) = registry_for_close.close() {
                crate::warn!("tollgate: quota store: final flush failed: {e}");
            }
            result.context("serve")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { file } => match config::load(&file, &Overrides::default()) {
            Ok(loaded) => {
                for w in &loaded.warnings.0 {
                    crate::say!("{w}");
                }
                let s = &loaded.snapshot;
                let routes: usize = s.apis.iter().map(|a| a.methods.len()).sum();
                crate::say!(
                    "{}: OK ({} API(s), {} method(s))",
                    file.display(),
                    s.apis.len(),
                    routes
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(problems) => {
                crate::say!("{problems}");
                let n = problems
                    .0
                    .iter()
                    .filter(|p| p.severity == Severity::Error)
                    .count();
                crate::say!("{}: {n} error(s)", file.display());
                Ok(ExitCode::from(1))
            }
        },
        Command::Keys {
            command: KeysCommand::Import { file, out },
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            match crate::limit::keys::import_csv(&text) {
                Ok(keys) => {
                    let yaml = keys_yaml(&keys);
                    match out {
                        Some(path) => {
                            std::fs::write(&path, yaml)
                                .with_context(|| format!("cannot write {}", path.display()))?;
                            crate::say!(
                                "{}: {} key(s) written to {}",
                                file.display(),
                                keys.len(),
                                path.display()
                            );
                        }
                        None => crate::say!("{yaml}"),
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => {
                    for e in &errors {
                        crate::warn!("error: {}: line {}: {}", file.display(), e.line, e.message);
                    }
                    crate::warn!(
                        "{}: {} bad row(s); nothing imported",
                        file.display(),
                        errors.len()
                    );
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Usage {
            config: file,
            key,
            from,
            to,
            state_dir,
        } => {
            let registry = QuotaRegistry::open(&state_dir)
                .map_err(|e| anyhow::anyhow!("cannot open the quota store in {}: {e} (a running gateway holds it: ask its admin endpoint instead)", state_dir.display()))?;
            let env = LoadEnv {
                registry,
                previous: None,
            };
            let loaded = match config::load_with(&file, &Overrides::default(), &env) {
                Ok(l) => l,
                Err(problems) => {
                    crate::warn!("{problems}");
                    return Ok(ExitCode::from(1));
                }
            };
            let limiter = &loaded.snapshot.limiter;
            let mut found = false;
            for plan in limiter.plan_ids() {
                if let Some(mut usage) = limiter.usage(plan, &from, &to, limiter.now()) {
                    let Some(items) = usage.get_mut("items").and_then(|i| i.as_object_mut()) else {
                        continue;
                    };
                    items.retain(|k, _| *k == key);
                    if !items.is_empty() {
                        found = true;
                        crate::say!("{usage}");
                    }
                }
            }
            if !found {
                crate::warn!(
                    "no usage plan has key `{key}` (or the dates are not YYYY-MM-DD within 90 days)"
                );
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Render {
            template,
            request,
            bench_ms,
        } => crate::template::playground::run(&template, &request, bench_ms),
        Command::TestInvoke {
            file,
            method,
            path,
            header,
            data,
            stage,
            stage_var,
        } => {
            let overrides = Overrides {
                stage: stage.clone(),
                stage_vars: stage_var,
                ..Overrides::default()
            };
            let loaded = match config::load(&file, &overrides) {
                Ok(l) => l,
                Err(problems) => {
                    crate::warn!("{problems}");
                    return Ok(ExitCode::from(1));
                }
            };
            let invocation = crate::pipeline::test_invoke::Invocation {
                method: method.to_ascii_uppercase(),
                path,
                headers: header,
                body: data.map(String::into_bytes).unwrap_or_default(),
                stage,
            };
            let outcome = crate::pipeline::test_invoke::invoke(loaded.snapshot, &invocation)
                .context("test-invoke")?;
            let report = outcome.report();
            {
                use std::io::Write as _;
                let _ = std::io::stdout().write_all(report.as_bytes());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The YAML keys file `api_key_files:` reads (a list of `api_keys` entries).
fn keys_yaml(keys: &[crate::limit::config::ApiKeyConfig]) -> String {
    let mut out = String::from(
        "# API keys imported by `tollgate keys import`; values are stored as SHA-256 only.\n",
    );
    for k in keys {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
        out.push_str(&format!("- id: {}\n  name: {}\n", q(&k.id), q(&k.name)));
        if !k.description.is_empty() {
            out.push_str(&format!("  description: {}\n", q(&k.description)));
        }
        if let Some(v) = &k.value_sha256 {
            out.push_str(&format!("  valueSha256: {}\n", q(v)));
        }
        if let Some(v) = &k.value {
            out.push_str(&format!("  value: {}\n", q(v)));
        }
        out.push_str(&format!("  enabled: {}\n", k.enabled));
        let plans: Vec<String> = k.usage_plan_ids.iter().map(|p| q(p)).collect();
        out.push_str(&format!("  usagePlanIds: [{}]\n", plans.join(", ")));
    }
    out
}
