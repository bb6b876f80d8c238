//! The core of predio: the domain model of a municipality's cadastre (parcels and the sectors
//! they are grouped in), the catalog that stores it as immutable versions, and the spatial
//! operations every other crate builds on.
//!
//! This crate knows nothing of HTTP, GDAL or the command line. Readers of foreign formats live
//! in `predio-importers`; tiles in `predio-tiles`; the binary in `predio` (the `api` crate).
//!
//! Geometry is stored in EPSG:4326 (longitude, latitude), areas are geodesic in m².

//! The modules, bottom up (a module names only those above it in this list):
//! - `model`: parcels, sectors, their ids and attributes, the layer kinds;
//! - `report`: the citizen report, its statuses and match kinds, its columns and frame;
//! - `import_log`: what an import found wrong, feature by feature (`import-report.csv`);
//! - `calendar`, `radix`, `sector_index`, `geocoder`: business days, sorting, the spatial joins;
//! - `address`: reports without a point located by parcel reference or address;
//! - `format`: the file formats a version is made of (FlatGeobuf layers, the Parquet writer);
//! - `table`: a table of values per feature, as the store hands it out;
//! - `indices`: facts per report and their aggregates per parcel, sector and H3 cell;
//! - `export`: reports and tables written as CSV, GeoJSON, FlatGeobuf, Parquet;
//! - `store`: the catalog (its trait, the data directory, manifests, report tables);
//! - `compute`: the indices of the current version committed as a new one (a use case);
//! - `hotspots`, `segments`, `plan`, `audit`: the analyses over the stored indices.

pub mod address;
pub mod audit;
mod calendar;
mod compute;
mod error;
mod export;
mod format;
mod geocoder;
mod geoparquet;
pub mod hotspots;
mod import_log;
pub mod indices;
mod model;
pub mod plan;
mod radix;
mod report;
mod rng;
pub mod search;
mod sector_index;
pub mod segments;
mod store;
mod table;

pub use calendar::Calendar;
pub use compute::{compute_version, Cadastre, ComputeRequest, Computed};
pub use error::{Error, Result};
pub use export::{export_reports, export_row, write_file_atomically, ExportFormat, EXPORT_COLUMNS};
pub use format::layer_file::{
    read_parcel_keys, read_parcels, read_sectors, write_parcels, write_sectors, RESERVED_COLUMNS,
};
pub use geocoder::{geocode_reports, Geocoder, Match, MatchCounts};
pub use geoparquet::{
    export_geoparquet, valid_slug, Written, DATASETS, NULL_PARTITION, PARTITION_RES,
};
pub use import_log::{ImportReport, Issue, IssueAction};
pub use model::{
    Bbox, CellId, Field, FieldType, LayerKind, Parcel, ParcelId, ParcelKey, ParcelLayer, ReportId,
    Sector, SectorId, SectorLayer, Value,
};
pub use radix::sort_by_key as radix_sort_by_key;
pub use report::columns::ReportColumns;
pub use report::frame::reports_frame;
pub use report::{
    upsert, Location, MatchKind, PrivateFields, Report, Status, StatusChange, StatusType, Upserted,
};
pub use rng::SplitMix64;
pub use sector_index::{interior_point, SectorIndex};
pub use store::reports::{read_reports, write_reports};
pub use store::{
    segments_file, Catalog, CatalogStore, Change, DirCatalog, FileEntry, LayerMeta, Manifest,
    NewVersion, ReportImport, ReportsMeta, SourceInfo, Staged, VersionId, ZoneSource,
    CATALOG_FORMAT, PRIVATE_FILE,
};
pub use table::{Table, Values};

/// The version of predio that wrote a catalog version (recorded in each manifest).
pub const PREDIO_VERSION: &str = env!("CARGO_PKG_VERSION");
