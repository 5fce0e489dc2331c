//! The command line: `serve`, `validate`, `render`, `test-invoke` (argument shapes only; each command
//! calls into the module that does the work).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, Overrides, Published, Severity};
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
    },
    /// Check a gateway config or OpenAPI document; print every problem with its location.
    Validate {
        /// The file to check.
        file: PathBuf,
    },
    /// Render one mapping template against a request description.
    Render {
        /// The template file.
        template: PathBuf,
        /// The request description (JSON).
        #[arg(long)]
        request: PathBuf,
        /// Instead of printing the output, render repeatedly for this many milliseconds and
        /// print the rate (used by bench/templates-vs-peers.sh).
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
        } => {
            let overrides = Overrides {
                listen,
                workers,
                stage,
                stage_vars: stage_var,
            };
            let loaded = match config::load(&file, &overrides) {
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
            server::serve(
                published,
                ServeOptions {
                    workers,
                    driver,
                    config_path: file,
                    overrides,
                },
            )
            .context("serve")?;
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
