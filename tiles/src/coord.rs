//! XYZ tile coordinates (the OSM / Google scheme: y grows southwards).

use std::f64::consts::PI;
use std::fmt;

/// Deepest zoom predio serves (a z22 tile is about 10 m across at the equator).
pub const MAX_ZOOM: u8 = 22;

/// Web Mercator's latitude limit, degrees.
pub const MAX_LAT: f64 = 85.051_128_779_806_59;

/// A tile coordinate that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// Zoom above [`MAX_ZOOM`].
    #[error("zoom {z} is above the maximum {MAX_ZOOM}")]
    Zoom {
        /// The zoom asked for.
        z: u8,
    },
    /// x or y outside 0..2^z.
    #[error("tile {x}/{y} does not exist at zoom {z} (0..{})", 1u64 << z)]
    OutOfRange {
        /// Zoom.
        z: u8,
        /// Column.
        x: u32,
        /// Row.
        y: u32,
    },
}

/// A valid tile: `z` ≤ [`MAX_ZOOM`], `x` and `y` in `0..2^z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileCoord {
    z: u8,
    x: u32,
    y: u32,
}

impl fmt::Display for TileCoord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

impl TileCoord {
    /// Validates a tile coordinate.
    ///
    /// # Errors
    /// [`TileError`] when the zoom is too deep or x/y fall outside the zoom's grid.
    pub fn new_checked(z: u8, x: u32, y: u32) -> Result<Self, TileError> {
        if z > MAX_ZOOM {
            return Err(TileError::Zoom { z });
        }
        let n = 1u64 << z;
        if u64::from(x) >= n || u64::from(y) >= n {
            return Err(TileError::OutOfRange { z, x, y });
        }
        Ok(Self { z, x, y })
    }

    /// Zoom.
    pub fn z(self) -> u8 {
        self.z
    }

    /// Column (west to east).
    pub fn x(self) -> u32 {
        self.x
    }

    /// Row (north to south).
    pub fn y(self) -> u32 {
        self.y
    }

    /// The tile containing a point (longitude, latitude in degrees) at zoom `z`; latitudes
    /// beyond Web Mercator's limit are clamped to it.
    ///
    /// # Errors
    /// [`TileError::Zoom`] for a zoom above [`MAX_ZOOM`].
    pub fn containing(z: u8, lon: f64, lat: f64) -> Result<Self, TileError> {
        if z > MAX_ZOOM {
            return Err(TileError::Zoom { z });
        }
        let n = f64::from(1u32 << z);
        let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
        let fx = (lon.clamp(-180.0, 180.0) + 180.0) / 360.0 * n;
        let fy = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0 * n;
        let max = (1u32 << z) - 1;
        let clamp = |v: f64| (v.floor().max(0.0) as u32).min(max);
        Ok(Self {
            z,
            x: clamp(fx),
            y: clamp(fy),
        })
    }

    /// Bounds as `[west, south, east, north]` in degrees.
    pub fn bounds_lonlat(self) -> [f64; 4] {
        let n = f64::from(1u32 << self.z);
        let lon = |x: f64| x / n * 360.0 - 180.0;
        let lat = |y: f64| (PI * (1.0 - 2.0 * y / n)).sinh().atan().to_degrees();
        let (x, y) = (f64::from(self.x), f64::from(self.y));
        [lon(x), lat(y + 1.0), lon(x + 1.0), lat(y)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn out_of_range_tiles_are_refused() {
        assert!(TileCoord::new_checked(0, 0, 0).is_ok());
        assert_eq!(
            TileCoord::new_checked(0, 1, 0),
            Err(TileError::OutOfRange { z: 0, x: 1, y: 0 })
        );
        assert_eq!(
            TileCoord::new_checked(23, 0, 0),
            Err(TileError::Zoom { z: 23 })
        );
        assert!(TileCoord::new_checked(22, (1 << 22) - 1, (1 << 22) - 1).is_ok());
    }

    #[test]
    fn world_tile_spans_web_mercator() {
        let [w, s, e, n] = TileCoord::new_checked(0, 0, 0).expect("z0").bounds_lonlat();
        assert_eq!((w, e), (-180.0, 180.0));
        assert!((n - MAX_LAT).abs() < 1e-9 && (s + MAX_LAT).abs() < 1e-9);
    }

    #[test]
    fn san_jose_at_z15() {
        // Reference: PROJ 9.1, `echo "9.9281 -84.0907" | cs2cs -d 3 EPSG:4326 EPSG:3857` gives
        // (-9360933.904, 1110763.528) m; with 2πR/2^15 m per tile (R = 6378137) and the
        // origin at (-πR, πR) that is column 8729.88, row 15475.77: tile (8729, 15475).
        let t = TileCoord::containing(15, -84.0907, 9.9281).expect("tile");
        assert_eq!((t.x(), t.y()), (8729, 15475));
    }

    proptest! {
        #[test]
        fn the_tile_containing_a_point_has_it_inside_its_bounds(
            z in 0u8..=MAX_ZOOM, lon in -179.999f64..179.999, lat in -85.0f64..85.0
        ) {
            let t = TileCoord::containing(z, lon, lat).expect("valid zoom");
            let [w, s, e, n] = t.bounds_lonlat();
            prop_assert!(w <= lon + 1e-9 && lon <= e + 1e-9, "{lon} not in {w}..{e}");
            prop_assert!(s <= lat + 1e-9 && lat <= n + 1e-9, "{lat} not in {s}..{n}");
            prop_assert!(TileCoord::new_checked(t.z(), t.x(), t.y()).is_ok());
        }
    }
}
