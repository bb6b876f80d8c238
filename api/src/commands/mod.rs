//! One module per command; each turns parsed arguments into calls of the library crates.

pub(crate) mod audit;
mod compute;
mod export;
mod export_tiles;
mod geocode;
mod hotspots;
mod import;
mod info;
mod keys;
mod plan;
mod sample;
mod segments;
mod serve;
mod table;

pub use keys::Role;
use predio_engine::DirCatalog;

use crate::cli::{Cli, Command, Export, Import};
use crate::formats::Formats;

/// Runs the parsed command; the commands of other formats where `formats` says.
pub fn run(cli: Cli, formats: Formats) -> anyhow::Result<()> {
    let catalog = DirCatalog::new(&cli.data);
    match cli.command {
        Command::Import(_) | Command::Sample(_) | Command::Mapping(_) => (formats.0)(cli),
        Command::Geocode(args) => geocode::regeocode(&catalog, &args),
        Command::Info(args) => info::run(&catalog, &args),
        Command::Export(Export::Reports(args)) => export::reports(&catalog, &args),
        Command::Export(Export::Indices(args)) => compute::export(&catalog, &args),
        Command::Export(Export::Tiles(args)) => export_tiles::run(&catalog, &args),
        Command::Export(Export::Geoparquet(args)) => export::geoparquet(&cli.data, &args),
        Command::Compute(args) => compute::run(&catalog, &args),
        Command::Indices(args) => compute::show(&catalog, &args),
        Command::Serve(args) => serve::run(catalog, &args),
        Command::Publish(args) => serve::publish::run(&cli.data, &args),
        Command::Hotspots(args) => hotspots::run(&catalog, &args),
        Command::Segments(args) => segments::run(&catalog, &args),
        Command::Plan(args) => plan::run(&catalog, &args),
        Command::Audit(args) => audit::run(&catalog, &args),
        Command::Keys(command) => keys::run(&cli.data, &command),
        Command::Config(crate::cli::ConfigCommand::Set(args)) => info::config_set(&catalog, &args),
    }
}

/// The commands of other formats run in this process, with GDAL and PROJ linked
/// (`predio-gdal`).
pub const LINKED: Formats = Formats(run_formats);

/// The commands of other formats, run in this process: [`LINKED`].
///
/// # Errors
/// The command's own; any other command is refused (`run` sends only these here).
fn run_formats(cli: Cli) -> anyhow::Result<()> {
    let catalog = DirCatalog::new(&cli.data);
    match cli.command {
        Command::Import(Import::Parcels(args)) => import::parcels(&catalog, &args),
        Command::Import(Import::Sectors(args)) => import::sectors(&catalog, &args),
        Command::Import(Import::Reports(args)) => geocode::import_reports(&catalog, &args),
        Command::Import(Import::ParcelTable(args)) => import::parcel_table(&catalog, &args),
        Command::Sample(args) => sample::run(&args),
        Command::Mapping(crate::cli::MappingCommand::Draft(args)) => mapping_draft(&args),
        _ => anyhow::bail!("not a command of other formats"),
    }
}

/// `predio mapping draft`: the draft printed, or written atomically to `--out`.
#[allow(clippy::print_stdout)] // the draft is this command's output
fn mapping_draft(args: &crate::cli::MappingDraft) -> anyhow::Result<()> {
    use anyhow::Context as _;
    if let Some(zone) = &args.timezone {
        zone.parse::<chrono_tz::Tz>()
            .map_err(|_| anyhow::anyhow!("--timezone {zone:?}: not an IANA time zone name"))?;
    }
    let text = predio_importers::draft_mapping(&args.file, args.timezone.as_deref(), args.rows)?;
    match &args.out {
        Some(out) => {
            predio_engine::write_file_atomically(out, text.as_bytes())
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "wrote the draft mapping of {} to {}",
                args.file.display(),
                out.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// `12345678` → `12,345,678`.
pub(crate) fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Text for XML or HTML: the five markup characters as entities, control characters other
/// than tab and line breaks dropped (XML 1.0 cannot carry them).
pub(crate) fn escape_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}
