//! The arguments of the commands that compute and analyse: `compute`, `indices`, `hotspots`,
//! `segments`, `plan`, `audit`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use predio_engine::indices::Dimension;

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
    /// Window (default: 90d where computed, as the viewer and the plan; else the first
    /// computed).
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
    /// Permutations for the pseudo p-values (esda's `p_sim`: conditional randomization), which
    /// decide; 0: the normal p-values decide.
    #[arg(long, default_value_t = 999, value_name = "N")]
    pub permutations: u32,
    /// Seed of the permutations.
    #[arg(long, default_value_t = 42, value_name = "S")]
    pub seed: u64,
    /// A cell is called hot only when it and its neighbours hold at least this much of the
    /// field (a handful of reports is never a hot spot).
    #[arg(long, default_value_t = 5.0, value_name = "N")]
    pub min_count: f64,
    /// Cells printed (the strongest hot spots first).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// Also write every cell of the study area (cell, res, value, neighbours, g, z, p, q, p_sim,
    /// q_sim, class, sector) here, with its hexagon: .csv, .geojson, .parquet (GeoParquet) or
    /// .fgb, by the extension.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
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
    /// Count as of this time: YYYY-MM-DD (the end of that local day in the catalog's time zone) or
    /// RFC 3339. Default: now.
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
    /// The category or department asked for, or all reports.
    pub fn dimension(&self) -> Dimension {
        match (&self.category, &self.department) {
            (Some(c), _) => Dimension::Category(Some(c.clone())),
            (None, Some(d)) => Dimension::Department(Some(d.clone())),
            (None, None) => Dimension::All,
        }
    }
}
