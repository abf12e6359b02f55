//! The `handoff` binary: a thin wrapper over [`handoff::cli`].

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    handoff::cli::run(handoff::cli::Cli::parse()).await
}
