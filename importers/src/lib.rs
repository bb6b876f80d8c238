//! Readers of foreign formats for predio: cadastral parcels and sectors from any vector format
//! GDAL reads (Shapefile, GeoPackage, GeoJSON, TopoJSON, FlatGeobuf, GML, zipped shapefiles via
//! `/vsizip/`), reprojected with PROJ to EPSG:4326, validated and repaired; and the sample town
//! generator used by the demo, the tests and the benches.
//!
//! Only this crate links GDAL and PROJ. It hands the engine plain domain types
//! ([`predio_engine::ParcelLayer`], [`predio_engine::SectorLayer`]) inside a
//! [`predio_engine::Change`] ready to commit.

mod area;
mod cadastre;
mod crs;
mod error;
mod gdal_log;
mod geometry;
mod parcel_table;
mod progress;
mod reports;
mod rng;
mod sample;
mod vector;

pub use cadastre::{import_parcels, import_sectors, DuplicateIds, ParcelOptions, SectorOptions};
pub use crs::Crs;
pub use error::{Error, Result};
pub use parcel_table::{join_parcel_table, JoinSummary, TableJoin};
pub use progress::{NoProgress, Progress};
pub use reports::csv::{read_csv_reports, CsvMapping};
pub use reports::draft::{draft, draft_mapping, sample_file, Draft, Sample};
pub use reports::fixmystreet::read_fixmystreet;
pub use reports::open311::read_open311;
pub use reports::vector::read_vector_reports;
pub use reports::{ReadOptions, ReportRows, NO_TIME_ZONE};
pub use sample::{generate_sample, SampleOptions, SampleSummary, SAMPLE_EPSG};
pub use vector::VectorSource;
