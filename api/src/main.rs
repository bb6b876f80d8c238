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

/// mimalloc's purge delay for the batch commands (all but `serve`), in milliseconds.
///
/// A batch command ends in seconds; returning freed memory to the system in the middle of it
/// only makes the next allocations fault their pages in again, zeroed (2 MiB at a time under
/// transparent huge pages). On 1,000,000 reports `predio compute` took 35–70 thousand page
/// faults and 2–6 s of system time at mimalloc's default delay (1 s), 5 thousand faults and
/// 1.6–2.4 s with it deferred past the command's end. `serve` keeps the default: it returns a
/// replaced catalog version's memory.
const BATCH_PURGE_DELAY_MS: &str = "10000";

/// mimalloc reads its options from the environment as the process starts, before `main`, and
/// setting them later needs `unsafe`: a batch command re-executes itself once with
/// `MIMALLOC_PURGE_DELAY` set. A delay already set (by the user, or by this) is kept; if the
/// re-execution fails, the command runs here with the default.
#[cfg(unix)]
fn defer_purging(cli: &cli::Cli) {
    use std::os::unix::process::CommandExt;
    const VAR: &str = "MIMALLOC_PURGE_DELAY";
    if matches!(cli.command, cli::Command::Serve(_)) || std::env::var_os(VAR).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
    let error = std::process::Command::new(&exe)
        .arg0(arg0)
        .args(args)
        .env(VAR, BATCH_PURGE_DELAY_MS)
        .exec();
    tracing::debug!(%error, "could not re-execute with {VAR} set");
}

#[cfg(not(unix))]
fn defer_purging(_: &cli::Cli) {}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if cli.verbose { "info" } else { "warn" })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    defer_purging(&cli);
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
