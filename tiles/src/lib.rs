//! Vector tiles for predio: XYZ tile math in Web Mercator (EPSG:3857), cutting polygons into
//! tiles (clip, snap-to-grid simplification that keeps shared edges, spec-clean rings), MVT 2.1
//! encoding (its own layer writer, `mvt.rs`), the `parcels`, `sectors` and `heat` layers behind the
//! [`TileProvider`] trait (with MBTiles, PMTiles and PostGIS sources read by martin-core), and the tile cache that evicts only what a new version changed.

mod archive;
mod cache;
mod coord;
pub mod geom;
mod glyphs;
mod martin;
mod mvt;
mod provider;

pub use archive::{
    kind_name, tiles_covering, vector_layers, write_archive, ArchiveError, ArchiveFormat,
    ArchiveStats,
};
pub use cache::{EncodedTile, TileCache, TileKey};
pub use coord::{TileCoord, TileError, MAX_LAT, MAX_ZOOM};
pub use glyphs::{GlyphError, Glyphs};
pub use martin::{open_all, ExternalLayer, OpenError, SourceLocation, SourceSpec};
pub use provider::{
    changes, Changed, FieldKind, FieldSpec, HeatLayer, HotspotLayer, PolygonLayer, TileProvider,
    TileSourceError, HEAT_FIELDS, PARCEL_FIELDS, SECTOR_FIELDS,
};
