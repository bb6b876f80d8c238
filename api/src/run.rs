//! The entry point both binaries share: parse the command line (clap), install logging
//! (tracing, driven by `RUST_LOG`), run one command against the catalog, and say its error.

use std::process::ExitCode;

use clap::Parser;

use crate::formats::Formats;
use crate::{cli, commands, malloc};

/// Runs `predio` with its arguments, the commands of other formats where `formats` says.
pub fn main(formats: Formats) -> ExitCode {
    let cli = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if cli.verbose { "info" } else { "warn" })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let batch = !matches!(cli.command, cli::Command::Serve(_));
    if batch {
        malloc::batch_options();
    }
    match commands::run(cli, formats) {
        // The process ends here without its teardown (see `end_batch`).
        Ok(()) if batch => malloc::end_batch(),
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
        Some(Error::NoTimeZone { .. }) => {
            " (give it with --timezone ZONE, e.g. America/Costa_Rica)"
        }
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
        for (var, _, value) in super::malloc::BATCH_OPTIONS {
            let value = value.to_string();
            let line = help
                .lines()
                .find(|l| l.trim_start().starts_with(var))
                .unwrap_or_else(|| panic!("--help does not name {var}"));
            assert!(
                line.split_whitespace().any(|w| w == value.as_str()),
                "--help gives another default for {var} than {value}: {line}"
            );
        }
    }
}
