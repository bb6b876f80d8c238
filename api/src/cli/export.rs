//! The arguments of `export` (reports, indices, tiles).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::analysis::DimensionArgs;

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
    /// Export the geocoded reports and every index table as GeoParquet 1.1 datasets for
    /// national analysis (Spark with or without Sedona, SedonaDB, DuckDB, BigQuery), one file
    /// per partition, `OUT/DATASET/municipality=SLUG/h3_4=CELL/part-0.parquet` (the datasets
    /// `reports`, `indices_sector`, `indices_parcel`, `indices_h3`): Hive-style by municipality
    /// and H3 cell of resolution 4,
    /// rows in order of their fine H3 cell, WKB geometry in longitude/latitude with the `bbox`
    /// covering column. A municipality's partitions are replaced whole; others are kept.
    Geoparquet(ExportGeoparquet),
}

/// `predio export geoparquet`.
#[derive(Debug, Args)]
pub struct ExportGeoparquet {
    /// The dataset folder (created; other municipalities' partitions in it are kept).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Export every computed catalog under DIR, each folder DIR/SLUG a municipality (instead
    /// of the `--data` catalog).
    #[arg(long, value_name = "DIR")]
    pub catalogs: Option<PathBuf>,
    /// The `--data` catalog's municipality (lower-case letters, digits, '-' and '_'; default:
    /// the name of its folder).
    #[arg(long, value_name = "SLUG", conflicts_with = "catalogs")]
    pub municipality: Option<String>,
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
    /// Parcel attributes the parcel tiles carry beside the indices (as `serve
    /// --parcel-attributes`).
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub parcel_attributes: Vec<String>,
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
