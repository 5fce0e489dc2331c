//! The command line: `serve`, `validate`, `render` (argument shapes only; each command
//! calls into the module that does the work).

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "tollgate", version, about = "A self-hosted AWS API Gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Render one mapping template against a request description.
    Render {
        /// The template file.
        template: PathBuf,
        /// The request description (JSON).
        #[arg(long)]
        request: PathBuf,
    },
}

/// Parses the command line and runs the command.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Render { template, request } => {
            crate::template::playground::run(&template, &request)
        }
    }
}
