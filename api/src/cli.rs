//! The command line: `predio [--data DIR] <command>`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// predio turns municipal citizen reports into geography: it imports the cadastre (parcels and
/// sectors) from any GDAL format, reprojects it to WGS 84, and keeps it in a versioned catalog.
#[derive(Debug, Parser)]
#[command(
    name = "predio",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = "Environment:\n  RUST_LOG               log filter (e.g. predio=debug)\n  MIMALLOC_PURGE_DELAY   batch commands default to 10000 ms (memory kept until they end)\n  MIMALLOC_ALLOW_THP     batch commands default to 0 (no huge pages; see the README)"
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
    /// Hot and cold spots of the H3 cells: Getis-Ord Gi* (binary weights over the cell's
    /// grid_disk, itself included; the formulas of PySAL esda's G_Local(star=True)), two-sided
    /// normal p-values and the Benjamini-Hochberg false-discovery rate.
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
}

/// `predio plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Actions shown.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// Window (default: 90d when computed, else the first).
    #[arg(long, value_name = "W")]
    pub window: Option<String>,
    /// H3 resolution of the hot spots (one computed).
    #[arg(long, default_value_t = 9, value_name = "R")]
    pub res: u8,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write every ranked action here, with its sector's outline: .csv, .geojson,
    /// .parquet (GeoParquet) or .fgb, by the extension.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `predio audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The period, in whole UTC days: YYYY, YYYY-H1 or H2, YYYY-Q1 to Q4, YYYY-MM, or
    /// FIRST..LAST (dates, both included).
    #[arg(long, value_name = "PERIOD")]
    pub period: String,
    /// The HTML file written.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Deadline rules (default: those of the current indices).
    #[arg(long, value_name = "FILE")]
    pub deadlines: Option<PathBuf>,
    /// Holidays (default: those of the current indices).
    #[arg(long, value_name = "FILE")]
    pub holidays: Option<PathBuf>,
    /// Sectors in the table of the worst.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub worst: usize,
    /// Answered reports a sector needs to be ranked among the worst.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub min_answered: u32,
    /// The report's title (e.g. the municipality's name).
    #[arg(
        long,
        default_value = "Rendición de cuentas: solicitudes ciudadanas",
        value_name = "TEXT"
    )]
    pub title: String,
}

/// Levels that can be segmented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SegmentLevel {
    /// Sectors.
    Sector,
    /// Parcels.
    Parcel,
}

/// `predio segments`.
#[derive(Debug, Args)]
pub struct SegmentsArgs {
    /// What to segment.
    #[arg(long, value_enum, default_value = "sector")]
    pub level: SegmentLevel,
    /// Number of segments; default: the best mean silhouette from --k-min to --k-max.
    #[arg(long, value_name = "K")]
    pub k: Option<usize>,
    /// Smallest k tried.
    #[arg(long, default_value_t = 2, value_name = "K")]
    pub k_min: usize,
    /// Largest k tried.
    #[arg(long, default_value_t = 8, value_name = "K")]
    pub k_max: usize,
    /// Seed of k-means++ (same seed, same segments).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Window (default: the first computed).
    #[arg(long, value_name = "W")]
    pub window: Option<String>,
    /// Indices clustered on (numeric columns of the level's table), comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "received,open,overdue,compliance,resolution_median_bd,trend",
        value_name = "LIST"
    )]
    pub fields: Vec<String>,
    /// Also write each feature's segment (id, segment, description) here, with its outline:
    /// .csv, .geojson, .parquet (GeoParquet) or .fgb, by the extension.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Keep the segments in a new catalog version: the `sectors` or `parcels` tiles then carry
    /// `segment` and `segment_desc`. A new `predio compute` drops them (they describe the
    /// indices it replaces): save again after it.
    #[arg(long)]
    pub save: bool,
}

/// `predio hotspots`.
#[derive(Debug, Args)]
pub struct HotspotsArgs {
    /// H3 resolution (one computed by `predio compute --h3-res`).
    #[arg(long, default_value_t = 9, value_name = "R")]
    pub res: u8,
    /// Window (default: the first computed).
    #[arg(long, value_name = "W")]
    pub window: Option<String>,
    #[command(flatten)]
    pub dimension: DimensionArgs,
    /// The count or rate analysed (a numeric column of the cell table).
    #[arg(long, default_value = "received", value_name = "FIELD")]
    pub field: String,
    /// Neighbours: the study cells within this many steps (grid_disk).
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub ring: u32,
    /// False-discovery rate under which a cell is a hot or cold spot.
    #[arg(long, default_value_t = 0.05, value_name = "Q")]
    pub alpha: f64,
    /// Cells printed (the strongest hot spots first).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// Also write every cell (cell, res, value, neighbours, g, z, p, q, class) here, with its
    /// hexagon: .csv, .geojson, .parquet (GeoParquet) or .fgb, by the extension.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `predio keys`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key: printed once on stdout, stored only as its SHA-256.
    Add(KeysAdd),
    /// List the keys' names, roles and dates (never the keys).
    List {
        /// Key file (default DATA/keys.toml).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Remove a key by name.
    Remove {
        /// The key's name.
        name: String,
        /// Key file (default DATA/keys.toml).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

/// `predio keys add`.
#[derive(Debug, Args)]
pub struct KeysAdd {
    /// Who holds the key (unique in the file).
    #[arg(long)]
    pub name: String,
    /// What it may see.
    #[arg(long, value_enum)]
    pub role: crate::commands::Role,
    /// Key file (default DATA/keys.toml).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `predio serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub addr: std::net::SocketAddr,
    /// How often to look for a new catalog version, milliseconds.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub poll_ms: u64,
    /// Tile cache budget, MiB.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub cache_mib: u64,
    /// Heat cells with fewer reports than this are left out of the `heat` layer.
    #[arg(long, default_value_t = 3, value_name = "K")]
    pub min_heat_reports: u32,
    /// Folder holding MapLibre GL JS (`maplibre-gl.js`, `maplibre-gl.css`); default: the npm
    /// install made by `make web` in api/web/node_modules/maplibre-gl/dist.
    #[arg(long, env = "PREDIO_WEB_DIR", value_name = "DIR")]
    pub web_dir: Option<PathBuf>,
    /// Another tile layer served beside the catalog's, read with martin-core:
    /// `NAME=FILE.pmtiles`, `NAME=FILE.mbtiles`, `NAME=postgresql://USER:PASS@HOST/DB#SCHEMA.TABLE`
    /// (a PostGIS table: its geometry and scalar columns) or `…#SCHEMA.FUNCTION()` (a function
    /// of z, x, y returning an MVT). Served at /tiles/NAME/{z}/{x}/{y}.mvt and /tiles/NAME.json.
    /// Repeatable.
    #[arg(long = "source", value_name = "NAME=LOCATION")]
    pub sources: Vec<predio_tiles::SourceSpec>,
    /// API key file (see `predio keys`; default DATA/keys.toml, re-read when it changes).
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,
    /// Serve the parcel layer (parcels' indices) without a key; by default it needs `planner`.
    #[arg(long)]
    pub public_parcels: bool,
    /// Origins allowed by CORS (repeatable); default any (`*`), as public map tiles are.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Requests per second allowed to each client (its key, else its IP address), with bursts
    /// of 4 s worth; 0 = no limit. Over it: 429 with Retry-After.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub rate_limit: u32,
    /// A request not answered within this many seconds gets 503.
    #[arg(long, default_value_t = 30, value_name = "S")]
    pub timeout_s: u64,
}

/// `predio compute`.
#[derive(Debug, Args)]
pub struct ComputeArgs {
    /// Time windows: Nd (days), Nw (weeks) or `all`, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "30d,90d,365d",
        value_name = "LIST"
    )]
    pub windows: Vec<String>,
    /// H3 resolutions of the cell table, comma-separated (0-15).
    #[arg(long, value_delimiter = ',', default_value = "8,9,10", value_name = "LIST",
          value_parser = clap::value_parser!(u8).range(0..=15))]
    pub h3_res: Vec<u8>,
    /// Deadline rules (TOML or CSV): default 10 business days, per-category deadlines and
    /// warning/alert stages, recurrence interval, attention weights, holidays. See
    /// data-samples/rules/ and the README.
    #[arg(long, value_name = "FILE")]
    pub deadlines: Option<PathBuf>,
    /// Holidays (TOML `holidays = [...]` or CSV with the date first), added to the calendar.
    #[arg(long, value_name = "FILE")]
    pub holidays: Option<PathBuf>,
    /// Count as of this time: YYYY-MM-DD (the end of that day, UTC) or RFC 3339. Default: now.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
}

/// `predio indices`.
#[derive(Debug, Args)]
pub struct IndicesArgs {
    /// The sector's id or name (case-insensitive).
    #[arg(long, value_name = "NAME_OR_ID")]
    pub sector: String,
    /// All reports, or one category or department.
    #[command(flatten)]
    pub dimension: DimensionArgs,
}

/// Which reports' indices: all, one category or one department.
#[derive(Debug, Clone, Default, Args)]
pub struct DimensionArgs {
    /// Only this category's indices (default: all reports).
    #[arg(long, value_name = "C", conflicts_with = "department")]
    pub category: Option<String>,
    /// Only this department's indices.
    #[arg(long, value_name = "D")]
    pub department: Option<String>,
}

impl DimensionArgs {
    /// `("category" | "department", value)`, or `None` for all reports.
    pub fn pair(&self) -> Option<(String, String)> {
        match (&self.category, &self.department) {
            (Some(c), _) => Some(("category".into(), c.clone())),
            (None, Some(d)) => Some(("department".into(), d.clone())),
            (None, None) => None,
        }
    }
}

/// Layers that can be imported.
#[derive(Debug, Subcommand)]
pub enum Import {
    /// Import cadastral parcels (polygons) from any vector format GDAL reads.
    ///
    /// Geometries are reprojected to EPSG:4326, checked against OGC validity rules and repaired
    /// with GDAL MakeValid where needed; each parcel is assigned the sector that contains its
    /// interior point. Problems are listed in import-report.csv inside the new version.
    Parcels(ImportParcels),
    /// Import sectors (barrios, districts, secciones) and re-assign the current parcels to them.
    Sectors(ImportSectors),
    /// Import citizen reports and geocode them to parcels and sectors.
    ///
    /// Re-importing a newer export upserts by report id: status changes land, nothing is
    /// duplicated. Rows that cannot be read (bad date, unknown status, coordinates out of range,
    /// duplicate id) are listed with their line in import-report.csv; the rest import. Personal
    /// columns named in the mapping's [private] section are never read.
    Reports(ImportReports),
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Any CSV (or .csv.gz) with a TOML mapping file (--mapping).
    Csv,
    /// Open311 GeoReport v2 service requests, JSON or XML, with the `extensions=true`
    /// attributes and notes[] history. Local times without an offset need --timezone.
    Open311,
    /// FixMyStreet / Por Mi Barrio dashboard CSV export; --updates adds the updates export as
    /// the status history. Its times have no offset: give --timezone.
    Fixmystreet,
    /// A point layer of any format GDAL reads (GeoJSON, Shapefile, GeoPackage...), in any CRS,
    /// with a TOML mapping (--mapping) naming its attributes.
    Vector,
}

/// Layers that can be exported.
#[derive(Debug, Subcommand)]
pub enum Export {
    /// Export the geocoded reports: public columns plus parcel_id, sector_id, match,
    /// distance_m and h3. Personal fields are never exported.
    Reports(ExportReports),
    /// Export the indices of one level, window and dimension, one row per feature with its
    /// outline: CSV (no geometry), GeoJSON, GeoParquet (WKB, GeoParquet 1.0 metadata) or
    /// FlatGeobuf. Run `predio compute` first.
    Indices(ExportIndices),
    /// Export a whole tile pyramid (every layer in each tile, gzip MVT) to one PMTiles v3 or
    /// MBTiles 1.3 file, for static hosting, martin or GDAL's MBTiles driver.
    Tiles(ExportTiles),
}

/// Tile archive formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TileArchiveFormat {
    /// PMTiles v3 (one file read by HTTP range requests).
    Pmtiles,
    /// MBTiles 1.3 (SQLite).
    Mbtiles,
}

/// `predio export tiles`.
#[derive(Debug, Args)]
pub struct ExportTiles {
    /// Archive format.
    #[arg(long, value_enum)]
    pub format: TileArchiveFormat,
    /// First zoom.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=22))]
    pub minzoom: u8,
    /// Last zoom.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u8).range(0..=22))]
    pub maxzoom: u8,
    /// Output file (written beside, fsynced, then renamed over it).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Layers in each tile, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "sectors,parcels,heat",
        value_name = "LIST"
    )]
    pub layers: Vec<String>,
    /// Window of the indices (default: 90d, else the first computed).
    #[arg(long, value_name = "W")]
    pub window: Option<String>,
    /// All reports, or one category or department.
    #[command(flatten)]
    pub dimension: DimensionArgs,
    /// Heat cells with fewer reports than this are left out.
    #[arg(long, default_value_t = 3, value_name = "K")]
    pub min_heat_reports: u32,
}

/// Index levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IndexLevel {
    /// Per parcel.
    Parcel,
    /// Per sector.
    Sector,
    /// Per H3 cell.
    H3,
    /// Per report: its deadline (source or rule), verdict, stage, age and resolution times
    /// (CSV or Parquet; no personal fields).
    Report,
}

/// `predio export indices`.
#[derive(Debug, Args)]
pub struct ExportIndices {
    /// Which table.
    #[arg(long, value_enum)]
    pub level: IndexLevel,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Output file (written beside, fsynced, then renamed over it).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Window (default: the first computed).
    #[arg(long, value_name = "W")]
    pub window: Option<String>,
    /// All reports, or one category or department.
    #[command(flatten)]
    pub dimension: DimensionArgs,
    /// H3 resolution (h3 level; default: the first computed).
    #[arg(long, value_name = "RES")]
    pub res: Option<u8>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// CSV, times in RFC 3339 UTC.
    Csv,
    /// GeoJSON FeatureCollection (unlocated reports with a null geometry).
    Geojson,
    /// Parquet.
    Parquet,
    /// FlatGeobuf points (located reports only).
    Fgb,
}

/// `predio export reports`.
#[derive(Debug, Args)]
pub struct ExportReports {
    /// Output format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Output file (written beside, fsynced, then renamed over it).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Geocoding options.
#[derive(Debug, Args)]
pub struct GeocodeArgs {
    /// A report in no parcel goes to the nearest parcel within this distance (metres on the ground).
    #[arg(long, default_value_t = 25.0, value_name = "M")]
    pub tolerance_m: f64,
    /// H3 resolution of each report's cell (0-15).
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u8).range(0..=15))]
    pub h3_res: u8,
}

/// `predio import reports`.
#[derive(Debug, Args)]
pub struct ImportReports {
    /// The reports file.
    pub path: String,
    /// Its format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Csv)]
    pub format: ReportFormat,
    /// TOML mapping (csv, vector): columns, time zone, date formats, status vocabulary,
    /// defaults, private columns. See data-samples/mappings/.
    #[arg(long, value_name = "FILE", required_if_eq_any = [("format", "csv"), ("format", "vector")])]
    pub mapping: Option<PathBuf>,
    /// FixMyStreet updates export, read as the reports' status history.
    #[arg(long, value_name = "FILE")]
    pub updates: Option<PathBuf>,
    /// IANA time zone of local times without a UTC offset (overrides the mapping's).
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
    /// Layer of a vector source (default: the first).
    #[arg(long, value_name = "NAME")]
    pub layer: Option<String>,
    /// CRS of a vector source, overriding the file's (required when it has none, such as a
    /// shapefile without .prj).
    #[arg(long, value_name = "EPSG:N")]
    pub srs: Option<String>,
    /// Keep the personal fields (name, e-mail, phone, free text) in a separate private file of
    /// the catalog version, readable by its owner only, instead of dropping them. Public tables,
    /// tiles and exports never contain them.
    #[arg(long)]
    pub keep_private: bool,
    #[command(flatten)]
    pub geocode: GeocodeArgs,
}

/// Options shared by every vector import.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Shapefile, GeoPackage, GeoJSON, TopoJSON, FlatGeobuf, GML, a .zip with a shapefile, or
    /// any GDAL /vsi path.
    pub path: String,
    /// Layer to read (default: the first).
    #[arg(long, value_name = "NAME")]
    pub layer: Option<String>,
    /// CRS of the coordinates, overriding the source's (required when it has none, such as a
    /// shapefile without .prj). EPSG:N, WKT or a PROJ string.
    #[arg(long, value_name = "EPSG:N")]
    pub srs: Option<String>,
    /// Attribute holding the feature's id (default: the 1-based feature number).
    #[arg(long, value_name = "FIELD")]
    pub id_field: Option<String>,
    /// What to do when ids repeat: refuse the import, suffix repeats (~2, ~3) or skip them.
    #[arg(long, value_enum, default_value_t = OnDuplicate::Fail)]
    pub on_duplicate_id: OnDuplicate,
}

/// Policy for repeated ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnDuplicate {
    /// Refuse the import and list the duplicates.
    Fail,
    /// Keep all, renaming repeats id~2, id~3...
    Suffix,
    /// Keep the first of each id and report the others.
    Skip,
}

/// `predio import parcels`.
#[derive(Debug, Args)]
pub struct ImportParcels {
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `predio import sectors`.
#[derive(Debug, Args)]
pub struct ImportSectors {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Attribute with the sector's name (default: a field called name, nombre, nom, barrio...).
    #[arg(long, value_name = "FIELD")]
    pub name_field: Option<String>,
    /// Attribute with the number of inhabitants (for rates per 1,000 inhabitants).
    #[arg(long, value_name = "FIELD")]
    pub population_field: Option<String>,
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
