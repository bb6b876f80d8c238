//! Tile sources behind one trait: predio's own generators for parcels, sectors and H3 heat, and
//! (later) tile archives or a PostGIS source through the same [`TileProvider`] interface, so a
//! change in a foreign source's API stays in its own module.

use std::collections::HashMap;

use predio_engine::indices::Selection;

use crate::coord::TileCoord;

mod attributes;
mod features;
mod fields;
mod heat;
mod hotspots;
mod polygons;

pub use fields::{FieldKind, FieldSpec, HEAT_FIELDS, PARCEL_FIELDS, SECTOR_FIELDS};
pub use heat::HeatLayer;
pub use hotspots::HotspotLayer;
pub use polygons::PolygonLayer;

/// Why a tile could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TileSourceError {
    /// The query names a window, category or department the data does not have.
    #[error("{0}")]
    Filter(String),
    /// The indices table could not be read as expected.
    #[error("indices table of layer {layer}: {message}")]
    Table {
        /// Layer name.
        layer: String,
        /// What went wrong.
        message: String,
    },
    /// An external source (archive, database) failed.
    #[error("source {layer}: {message}")]
    Source {
        /// Layer name.
        layer: String,
        /// What went wrong.
        message: String,
    },
}

/// Where a layer's features changed between two versions: the bounds (normalised Web
/// Mercator) of every feature whose geometry or tile attributes differ, or everything.
#[derive(Debug, Clone, PartialEq)]
pub enum Changed {
    /// Nothing the layer's tiles show changed.
    Nothing,
    /// These bounds, old and new.
    Bounds(Vec<[f64; 4]>),
    /// Too much to list: every tile.
    Everything,
}

/// A source of vector tiles.
pub trait TileProvider: Send + Sync {
    /// Layer name, as in URLs and in the MVT layer.
    fn name(&self) -> &str;
    /// One line for TileJSON.
    fn description(&self) -> &str;
    /// The attributes of its features with their types.
    fn fields(&self) -> Vec<(String, FieldKind, String)>;
    /// Zooms at which it has features.
    fn zoom_range(&self) -> (u8, u8);
    /// Extent `[west, south, east, north]`, degrees.
    fn bounds(&self) -> Option<[f64; 4]>;
    /// Checks that the filter names rows the data has.
    ///
    /// # Errors
    /// [`TileSourceError::Filter`] naming what is unknown and what exists.
    fn check(&self, filter: &Selection) -> Result<(), TileSourceError>;
    /// The encoded MVT tile (one layer), or `None` when no feature falls in it.
    ///
    /// # Errors
    /// A refused filter, an unreadable table or an encoding error.
    fn tile(&self, tile: TileCoord, filter: &Selection)
        -> Result<Option<Vec<u8>>, TileSourceError>;
    /// Per feature: an id, a hash of what its tiles show, and its bounds (normalised Web
    /// Mercator) — what [`changes`] compares across versions.
    fn fingerprints(&self) -> Vec<(String, u64, [f64; 4])>;
    /// Whether the layer has a feature of this id (layers without ids: never).
    fn has_feature(&self, _id: &str) -> bool {
        false
    }
    /// The values of an index field under `filter` (one per feature that has one; for the heat
    /// layer, at its coarsest resolution), for legends.
    ///
    /// # Errors
    /// A refused filter or an unreadable table.
    fn values(&self, _field: &str, _filter: &Selection) -> Result<Vec<f64>, TileSourceError> {
        Ok(Vec::new())
    }
    /// Where the feature `id` stands among the layer's features by `field` under `filter`:
    /// its value, its rank (1: the highest) and how many features have a value; `None` for a
    /// feature without one, or a layer without ids.
    ///
    /// # Errors
    /// A refused filter or an unreadable table.
    fn rank(
        &self,
        _id: &str,
        _field: &str,
        _filter: &Selection,
    ) -> Result<Option<(f64, usize, usize)>, TileSourceError> {
        Ok(None)
    }
    /// How far beyond a feature's bounds a change can show, metres on the ground (heat cells
    /// are chosen one hexagon beyond the tile).
    fn reach_m(&self) -> f64 {
        0.0
    }
    /// TileJSON `vector_layers` for a source whose tiles hold other layers than one named after
    /// it (an archive); `None` for our layers, described by [`TileProvider::fields`].
    fn tilejson_layers(&self) -> Option<serde_json::Value> {
        None
    }
}

/// What changed in a layer between two versions of it.
pub fn changes(old: &dyn TileProvider, new: &dyn TileProvider) -> Changed {
    let before: HashMap<String, (u64, [f64; 4])> = old
        .fingerprints()
        .into_iter()
        .map(|(id, h, b)| (id, (h, b)))
        .collect();
    let after = new.fingerprints();
    let total = before.len().max(after.len()).max(1);
    let mut bounds = Vec::new();
    let mut seen = 0usize;
    for (id, h, b) in &after {
        match before.get(id) {
            Some((h0, b0)) => {
                seen += 1;
                if h0 != h {
                    bounds.push(*b0);
                    bounds.push(*b);
                }
            }
            None => bounds.push(*b),
        }
    }
    if seen < before.len() {
        let ids: std::collections::HashSet<&str> =
            after.iter().map(|(id, ..)| id.as_str()).collect();
        bounds.extend(
            before
                .iter()
                .filter(|(id, _)| !ids.contains(id.as_str()))
                .map(|(_, (_, b))| *b),
        );
    }
    if bounds.is_empty() {
        Changed::Nothing
    } else if bounds.len() > total / 2 {
        Changed::Everything
    } else {
        Changed::Bounds(bounds)
    }
}
