//! `predio`: spatial analytics and vector tiles for municipal citizen reports.
//!
//! This binary wires the library crates together: it parses the command line (clap), installs
//! logging (tracing, driven by `RUST_LOG`), and runs one command against the catalog.

mod cli;
mod commands;
mod progress;
mod role;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc returns the memory of a replaced catalog version to the system, where glibc's
/// arenas keep it: `benches/load.sh` measured resident memory +41 % across a version switch
/// with glibc's allocator, −7 % with mimalloc (and the blocking pool capped, serve.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's options for the batch commands (all but `serve`).
///
/// - `MIMALLOC_PURGE_DELAY=10000` (milliseconds). A batch command ends in seconds; returning
///   freed memory to the system in the middle of it only makes the next allocations fault
///   their pages in again, zeroed. On 1,000,000 reports `predio compute` took 35–70 thousand
///   page faults and 2–6 s of system time at mimalloc's default delay (1 s), 5 thousand faults
///   with it deferred past the command's end.
/// - `MIMALLOC_ALLOW_THP=0`: no transparent huge pages. mimalloc asks for them on its large
///   regions, and each first touch then zeroes 2 MiB. On the bench VM, which reports free
///   memory to its host (virtio-balloon free page reporting), those faults were 44 % of
///   `predio compute`'s samples and made a single run after idle 2–3 s slower; back-to-back
///   runs favour huge pages. The figures (A/B runs) are in the README's speed section; on a
///   machine without free page reporting, set `MIMALLOC_ALLOW_THP=1`.
///
/// `serve` keeps the defaults: it returns a replaced catalog version's memory.
const BATCH_MALLOC_OPTIONS: [(&str, &str); 2] = [
    ("MIMALLOC_PURGE_DELAY", "10000"),
    ("MIMALLOC_ALLOW_THP", "0"),
];

/// mimalloc reads its options from the environment as the process starts, before `main`, and
/// setting them later needs `unsafe`: a batch command re-executes itself once with
/// [`BATCH_MALLOC_OPTIONS`] set. An option already set (by the user, or by this) is kept; if
/// the re-execution fails, the command runs here with the defaults.
#[cfg(unix)]
fn batch_malloc_options(cli: &cli::Cli) {
    use std::os::unix::process::CommandExt;
    let unset: Vec<(&str, &str)> = BATCH_MALLOC_OPTIONS
        .into_iter()
        .filter(|(var, _)| std::env::var_os(var).is_none())
        .collect();
    if matches!(cli.command, cli::Command::Serve(_)) || unset.is_empty() {
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
        .envs(unset)
        .exec();
    tracing::debug!(%error, "could not re-execute with mimalloc's batch options set");
}

#[cfg(not(unix))]
fn batch_malloc_options(_: &cli::Cli) {}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if cli.verbose { "info" } else { "warn" })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    batch_malloc_options(&cli);
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
            let hint = flag_hint(&e);
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
            eprintln!("error: {message}{hint}");
            ExitCode::FAILURE
        }
    }
}

/// The command-line flag that answers a library error, said after it: the libraries say what is
/// wrong, and flag names belong to the command line.
fn flag_hint(e: &anyhow::Error) -> &'static str {
    use predio_importers::Error;
    let engine = e
        .chain()
        .find_map(|c| c.downcast_ref::<predio_engine::Error>());
    if let Some(predio_engine::Error::Period { .. }) = engine {
        return " (--period)";
    }
    match e.chain().find_map(|c| c.downcast_ref::<Error>()) {
        Some(Error::NoCrs { .. }) => " with --srs EPSG:N",
        Some(Error::DuplicateIds { .. }) => " (--on-duplicate-id suffix|skip)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_help_states_the_batch_allocator_defaults_in_force() {
        use clap::CommandFactory;
        let help = super::cli::Cli::command()
            .get_after_help()
            .map(ToString::to_string)
            .unwrap_or_default();
        for (var, value) in super::BATCH_MALLOC_OPTIONS {
            let line = help
                .lines()
                .find(|l| l.trim_start().starts_with(var))
                .unwrap_or_else(|| panic!("--help does not name {var}"));
            assert!(
                line.split_whitespace().any(|w| w == value),
                "--help gives another default for {var} than {value}: {line}"
            );
        }
    }
}
