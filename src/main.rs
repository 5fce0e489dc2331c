//! The `tollgate` binary: parse the command line, run, map the outcome to an exit code.

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: tollgate::allocator::Allocator = tollgate::allocator::Allocator;

fn main() -> ExitCode {
    match tollgate::cli::run() {
        Ok(code) => code,
        Err(err) => {
            tollgate::warn!("tollgate: {err:#}");
            ExitCode::from(2)
        }
    }
}
