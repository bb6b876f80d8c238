//! Tile math for predio's vector tiles: XYZ tile coordinates in Web Mercator (EPSG:3857), their
//! bounds in longitude/latitude, and the tiles covering a point or a bounding box.
//!
//! The MVT encoder, heat tiles and tile archives build on these types.

mod coord;

pub use coord::{TileCoord, TileError, MAX_LAT, MAX_ZOOM};
