//! The command line: `predio [--data DIR] <command>`.

mod analysis;
mod export;
mod import;
mod serve;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use analysis::*;
pub use export::*;
pub use import::*;
pub use serve::*;

/// predio turns municipal citizen reports into geography: it imports the cadastre (parcels and
/// sectors) from any GDAL format, reprojects it to WGS 84, and keeps it in a versioned catalog.
#[derive(Debug, Parser)]
#[command(
    name = "predio",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = "Environment:\n  RUST_LOG               log filter (e.g. predio=debug)\n  MIMALLOC_PURGE_DELAY   batch commands default to 10000 ms (memory kept until they end)\n  MIMALLOC_ALLOW_THP     batch commands default to 0 (no transparent huge pages)\n  PREDIO_PARQUET_WRITER  polars: write the catalog's tables with Polars' own writer (a fallback)\n\nimport, sample and mapping draft run in predio-gdal (GDAL and PROJ linked), installed beside predio."
)]
pub struct Cli {
    /// The catalog's data directory (immutable versions and a CURRENT pointer).
    #[arg(
        long,
        global = true,
        env = "PREDIO_DATA",
        default_value = "./predio-data",
        value_name = "DIR"
    )]
    pub data: PathBuf,

    /// Log progress and decisions (same as RUST_LOG=info).
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// predio's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import a layer into a new catalog version.
    #[command(subcommand)]
    Import(Import),
    /// Re-geocode the current reports (after a new cadastre or with another tolerance).
    Geocode(GeocodeArgs),
    /// Show the current catalog version: counts, bbox, source CRS, invalid and repaired features.
    Info(InfoArgs),
    /// Export a layer of the current version.
    #[command(subcommand)]
    Export(Export),
    /// Compute the indices per parcel, sector and H3 cell into a new catalog version.
    ///
    /// For each time window (the reports created in its last N days up to --as-of, or `all`)
    /// and each level, by category, by department and overall: received, open backlog,
    /// resolved, rejected/duplicate, resolved-but-not-fixed, resolution time (hours and business
    /// days, median and p90), legal-deadline compliance in business days, open reports staged
    /// on-time / warning / alert / overdue, overdue age buckets, time to acknowledge and reopen
    /// rate (where the source has a history), recurrence, density per km² and per 1,000
    /// inhabitants, trend against the previous window, and the attention index (0-100).
    ///
    /// The tables are written into the new version as they are computed (the catalog stays
    /// locked for other writers meanwhile); the version becomes current only once all of them
    /// are written, and an interrupted or failed compute leaves the current version as it was.
    Compute(ComputeArgs),
    /// Print the indices of one sector as a table (metrics by window).
    Indices(IndicesArgs),
    /// Write the sample town (parcels and sectors as Shapefiles in EPSG:5367, reports as CSV).
    Sample(SampleArgs),
    /// Serve vector tiles, TileJSON, a MapLibre style and the map viewer over HTTP.
    ///
    /// Endpoints: `/` (viewer), `/tiles/{parcels|sectors|heat|hotspots}/{z}/{x}/{y}.mvt` (MVT 2.1, gzip
    /// when accepted, ETag, 204 when empty; `?window=90d&category=...` or `&department=...`),
    /// `/tiles/{layer}.json` (TileJSON 3.0.0), `/style.json`, `/legend.json`, `/meta.json`,
    /// `/health`. A new catalog version (an import or a compute) is picked up within
    /// --poll-ms without dropping requests; only the cached tiles it changed are evicted.
    Serve(ServeArgs),
    /// Write the public map as a static site for any static host or CDN: the viewer, one
    /// PMTiles archive per public layer and filter set, the style, legends, labels, glyphs and
    /// `meta.json`, exactly what `serve` answers a caller without a key (no parcels unless
    /// --public-parcels; heat cells under --min-heat-reports left out). The viewer reads the
    /// archives with the pmtiles package's MapLibre protocol; search, series, ranks and drawn
    /// areas need the server and are left out. Serve the folder with any web server
    /// (`python3 -m http.server -d DIR`). The folder is written beside and renamed over --out.
    Publish(PublishArgs),
    /// Hot and cold spots of the H3 cells: Getis-Ord Gi* (binary weights over the cell's
    /// grid_disk, itself included; the formulas of PySAL esda's G_Local(star=True)) over a
    /// fixed study area (the cells of the sectors, else of the parcels' or the reports' extent;
    /// cells without reports count as 0), permutation pseudo p-values (esda's p_sim) beside the
    /// normal ones, and the Benjamini-Hochberg false-discovery rate.
    Hotspots(HotspotsArgs),
    /// Segment sectors or parcels by their standardised indices: k-means++ with a fixed seed,
    /// k given or chosen by the mean silhouette within a range; each segment described by the
    /// indices its centroid stands out on.
    Segments(SegmentsArgs),
    /// Rank proactive actions (campaign, preventive maintenance, inspection) per sector and
    /// category by a score of the rise in reports, Gi* hot spots, backlog, recurrence and
    /// reports per inhabitant; each row states the numbers behind its score.
    Plan(PlanArgs),
    /// Write the printable accountability report of a period as one HTML file: per department
    /// and per sector, received, answered on time, answered late, pending at the end and
    /// compliance with the legal deadlines; a map of the sectors coloured by compliance and
    /// the worst sectors.
    ///
    /// The numbers are the sector indices of a window that is the period, counted as of its
    /// last day (`predio compute --as-of LAST --windows Nd` gives the same), with the deadline
    /// rules and holidays the current indices were computed with unless given.
    Audit(AuditArgs),
    /// Manage the API keys `predio serve` accepts (stored hashed in DATA/keys.toml).
    ///
    /// Roles: `public` (no key needed: aggregated layers), `planner` (also parcels),
    /// `auditor` (also report-level data: Open311 requests), `admin` (also /metrics and /admin).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Settings of the catalog, kept in its versions.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Mappings of a city's own report exports.
    #[command(subcommand)]
    Mapping(MappingCommand),
}

/// `predio mapping`.
#[derive(Debug, Subcommand)]
pub enum MappingCommand {
    /// Draft the mapping of a report export (CSV, .csv.gz, or a point layer GDAL reads) from
    /// its header and a sample of its rows: columns recognised by their names (Spanish,
    /// Portuguese, English; Open311 and FixMyStreet names) and their content (unique ids,
    /// dates with the format that reads them, latitudes and longitudes in range), the status
    /// values with a proposed normalisation, and the columns that look personal proposed as
    /// [private]. What it cannot decide is left commented, to complete; it reads no catalog.
    Draft(MappingDraft),
}

/// `predio mapping draft FILE`.
#[derive(Debug, Args)]
pub struct MappingDraft {
    /// The export: .csv, .csv.gz, or a layer GDAL reads (GeoJSON, GeoPackage, Shapefile...).
    pub file: PathBuf,
    /// Write the draft here (default: print it).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The IANA time zone of the file's local times, if known (else left to fill in).
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
    /// Rows sampled.
    #[arg(long, default_value_t = 50_000, value_name = "N")]
    pub rows: usize,
}

/// `predio config`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Set a setting in a new catalog version. `timezone ZONE` (an IANA name, e.g.
    /// America/Costa_Rica): every date given as a day (--as-of, audit periods, Open311
    /// start_date/end_date) is a local day of it, and a window of N days starts N local days
    /// before the as-of time. Unset, the time zone most reports were recorded in is used
    /// (`predio info` says which). Existing instants stay as they are.
    Set(ConfigSet),
}

/// `predio config set KEY VALUE`.
#[derive(Debug, Args)]
pub struct ConfigSet {
    /// The setting: `timezone`.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// `predio info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Print the manifest of the current version as JSON.
    #[arg(long)]
    pub json: bool,
    /// Re-read every file of the version and check it against the manifest's SHA-256.
    #[arg(long)]
    pub verify: bool,
}

/// `predio sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Folder to write parcels.shp, sectors.shp and reports.csv into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of parcels (the town grows to fit; 500,000 and more for benches).
    #[arg(long, default_value_t = 20_000)]
    pub parcels: usize,
    /// Number of reports (default: twice the parcels).
    #[arg(long)]
    pub reports: Option<usize>,
    /// Seed: the same seed gives the same town.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_parcels_takes_path_layer_id_field_and_srs() {
        let cli = Cli::try_parse_from([
            "predio",
            "--data",
            "/tmp/d",
            "import",
            "parcels",
            "x.shp",
            "--layer",
            "l",
            "--id-field",
            "ML",
            "--srs",
            "EPSG:2249",
        ])
        .expect("valid");
        assert_eq!(cli.data, PathBuf::from("/tmp/d"));
        let Command::Import(Import::Parcels(p)) = cli.command else {
            panic!("wrong command")
        };
        assert_eq!(p.source.path, "x.shp");
        assert_eq!(p.source.layer.as_deref(), Some("l"));
        assert_eq!(p.source.id_field.as_deref(), Some("ML"));
        assert_eq!(p.source.srs.as_deref(), Some("EPSG:2249"));
        assert_eq!(p.source.on_duplicate_id, OnDuplicate::Fail);
    }

    #[test]
    fn sample_defaults_and_missing_out_is_an_error() {
        let cli = Cli::try_parse_from(["predio", "sample", "--out", "t"]).expect("valid");
        let Command::Sample(s) = cli.command else {
            panic!("wrong command")
        };
        assert_eq!((s.parcels, s.seed, s.reports), (20_000, 42, None));
        assert!(Cli::try_parse_from(["predio", "sample"]).is_err());
        assert!(Cli::try_parse_from([
            "predio",
            "import",
            "parcels",
            "x",
            "--on-duplicate-id",
            "maybe"
        ])
        .is_err());
    }
}
