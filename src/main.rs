//! The `handoff` binary: a thin wrapper over [`handoff::cli`].

use std::process::ExitCode;

use clap::Parser;

// jemalloc, with a background thread that gives freed memory back to the
// system about a second after a heavy request (`.cargo/config.toml` sets
// its options at build time); glibc's malloc kept the peak for good. See
// docs/operations.md "Memory".
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
