//! `predio`: spatial analytics and vector tiles for municipal citizen reports.
//!
//! This binary wires the library crates together: it parses the command line (clap), installs
//! logging (tracing, driven by `RUST_LOG`), and runs one command against the catalog.

mod cli;
mod commands;
mod progress;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc returns the memory of a replaced catalog version to the system, where glibc's
/// arenas keep it: `benches/load.sh` measured resident memory +41 % across a version switch
/// with glibc's allocator, −7 % with mimalloc (and the blocking pool capped, serve.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if cli.verbose { "info" } else { "warn" })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // `predio indices ... | head`: the reader went away; not an error of ours.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            // The chain of causes, each once: some errors already say their cause.
            let mut message = String::new();
            for cause in e.chain().map(|c| c.to_string()) {
                if !message.ends_with(&cause) {
                    if !message.is_empty() {
                        message.push_str(": ");
                    }
                    message.push_str(&cause);
                }
            }
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
