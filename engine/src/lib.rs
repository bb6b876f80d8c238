//! The core of predio: the domain model of a municipality's cadastre (parcels and the sectors
//! they are grouped in), the catalog that stores it as immutable versions, and the spatial
//! operations every other crate builds on.
//!
//! This crate knows nothing of HTTP, GDAL or the command line. Readers of foreign formats live
//! in `predio-importers`; tiles in `predio-tiles`; the binary in `predio` (the `api` crate).
//!
//! Geometry is stored in EPSG:4326 (longitude, latitude), areas are geodesic in m².

mod calendar;
mod catalog;
mod error;
mod export;
mod geocoder;
pub mod hotspots;
pub mod indices;
mod layer_file;
mod model;
mod parquet_write;
pub mod plan;
mod radix;
mod report;
mod report_columns;
mod report_store;
mod reports;
mod sector_index;
pub mod segments;

pub use calendar::Calendar;
pub use catalog::{
    segments_file, Catalog, CatalogStore, Change, DirCatalog, FileEntry, IndicesWriter, LayerKind,
    LayerMeta, Manifest, ReportImport, ReportsMeta, SourceInfo, Staged, VersionId, CATALOG_FORMAT,
    PRIVATE_FILE,
};
pub use error::{Error, Result};
pub use export::{export_reports, export_row, write_file_atomically, ExportFormat, EXPORT_COLUMNS};
pub use geocoder::{geocode_reports, Geocoder, Match, MatchCounts, MatchKind};
pub use layer_file::{
    read_parcel_keys, read_parcels, read_sectors, write_parcels, write_sectors, RESERVED_COLUMNS,
};
pub use model::{
    Bbox, Field, FieldType, Parcel, ParcelId, ParcelKey, ParcelLayer, Sector, SectorId,
    SectorLayer, Value,
};
pub use report::{ImportReport, Issue, IssueAction};
pub use report_columns::ReportColumns;
pub use report_store::{read_reports, reports_frame, write_reports};
pub use reports::{upsert, Location, PrivateFields, Report, Status, StatusChange, StatusType};
pub use sector_index::SectorIndex;

/// The version of predio that wrote a catalog version (recorded in each manifest).
pub const PREDIO_VERSION: &str = env!("CARGO_PKG_VERSION");
