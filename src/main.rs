//! The `handoff` binary: a thin wrapper over [`handoff::cli`].

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    handoff::cli::run(handoff::cli::Cli::parse()).await
}
