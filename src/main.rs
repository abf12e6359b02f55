//! The `handoff` binary: a thin wrapper over [`handoff::cli`].

use std::process::ExitCode;

use clap::Parser;

/// Runs the command; a fatal error is printed as one line with its causes
/// (no backtrace, even with `RUST_BACKTRACE` set) and exits with 1.
#[tokio::main]
async fn main() -> ExitCode {
    match handoff::cli::run(handoff::cli::Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
