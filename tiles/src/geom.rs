//! Cutting polygons into a tile: Web Mercator, clipping to the buffered tile, snapping to the
//! tile grid, and the clean-up that keeps the MVT spec's invariants.
//!
//! Geometries are projected once, when a layer is loaded, to Web Mercator normalised to the unit
//! square (x east, y south: the whole world is the z0 tile). Cutting a tile is then a scale and a
//! shift, a Sutherland–Hodgman clip against the buffered tile (skipped for rings that lie inside
//! it, nearly all of them), a snap to the tile grid and the removal of repeated and collinear
//! vertices.
//!
//! Simplification is the snap itself, on a grid that coarsens at low zooms: the same vertex
//! always snaps to the same grid point, so two parcels that share an edge still share it after
//! simplification (no slivers or gaps between neighbours, which per-polygon Douglas–Peucker would
//! open). Rings and features smaller than a pixel are dropped.

use geo::{Coord, LineString, MultiPolygon, Polygon};

use crate::coord::{TileCoord, MAX_LAT};

/// Tile extent in MVT units.
pub const EXTENT: u32 = 4096;

/// MVT units per pixel of a 256-pixel tile.
pub const UNITS_PER_PIXEL: i32 = (EXTENT / 256) as i32;

/// Buffer around each tile, MVT units (4 pixels): strokes along tile edges join without seams.
pub const BUFFER: i32 = 64;

/// Web Mercator of a longitude/latitude, normalised to the unit square (x east, y south).
pub fn mercator(lon: f64, lat: f64) -> Coord<f64> {
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    Coord {
        x: (lon + 180.0) / 360.0,
        y: (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0,
    }
}

/// The inverse of [`mercator`]: longitude and latitude in degrees.
pub fn lonlat(m: Coord<f64>) -> Coord<f64> {
    Coord {
        x: m.x * 360.0 - 180.0,
        y: (std::f64::consts::PI * (1.0 - 2.0 * m.y))
            .sinh()
            .atan()
            .to_degrees(),
    }
}

/// A lon/lat multipolygon in normalised Web Mercator.
pub fn to_mercator(geometry: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    let ring = |r: &LineString<f64>| LineString(r.0.iter().map(|c| mercator(c.x, c.y)).collect());
    MultiPolygon(
        geometry
            .0
            .iter()
            .map(|p| Polygon::new(ring(p.exterior()), p.interiors().iter().map(ring).collect()))
            .collect(),
    )
}

/// Bounds `[min_x, min_y, max_x, max_y]` of a normalised Web Mercator geometry.
pub fn bounds(geometry: &MultiPolygon<f64>) -> [f64; 4] {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for c in geometry.0.iter().flat_map(|p| p.exterior().0.iter()) {
        b = [b[0].min(c.x), b[1].min(c.y), b[2].max(c.x), b[3].max(c.y)];
    }
    b
}

/// Where a tile lies in normalised Web Mercator and how its units map to it.
#[derive(Debug, Clone, Copy)]
pub struct TileFrame {
    x0: f64,
    y0: f64,
    /// MVT units per normalised unit: `EXTENT * 2^z`.
    scale: f64,
    /// Snap grid, MVT units.
    step: i32,
}

impl TileFrame {
    /// The frame of `tile`.
    pub fn new(tile: TileCoord) -> Self {
        let n = f64::from(1u32 << tile.z());
        // One unit up to z12, where parcels are a few pixels across; a quarter pixel below.
        let step = if tile.z() >= 12 {
            1
        } else {
            UNITS_PER_PIXEL / 4
        };
        Self {
            x0: f64::from(tile.x()) / n,
            y0: f64::from(tile.y()) / n,
            scale: f64::from(EXTENT) * n,
            step,
        }
    }

    /// The tile's bounds in normalised Web Mercator, grown by `buffer` MVT units on each side.
    pub fn bounds(&self, buffer: i32) -> [f64; 4] {
        let b = f64::from(buffer) / self.scale;
        let side = f64::from(EXTENT) / self.scale;
        [
            self.x0 - b,
            self.y0 - b,
            self.x0 + side + b,
            self.y0 + side + b,
        ]
    }

    /// Normalised Web Mercator → MVT units of this tile (not snapped).
    pub fn to_tile(&self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: (c.x - self.x0) * self.scale,
            y: (c.y - self.y0) * self.scale,
        }
    }

    /// MVT units of this tile → normalised Web Mercator.
    pub fn from_tile(&self, x: f64, y: f64) -> Coord<f64> {
        Coord {
            x: self.x0 + x / self.scale,
            y: self.y0 + y / self.scale,
        }
    }

    /// Size of one normalised Web Mercator unit in pixels of a 256-pixel tile.
    pub fn pixels_per_unit(&self) -> f64 {
        self.scale / f64::from(UNITS_PER_PIXEL)
    }
}

/// A ring in tile units, without its closing vertex.
pub type TileRing = Vec<Coord<i32>>;

/// One ring of a [`TilePolygons`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CutRing {
    /// Where its vertices end in [`TilePolygons::coords`].
    end: usize,
    exterior: bool,
    /// Twice its signed area, square MVT units (positive: clockwise on screen).
    area2: i64,
}

/// The rings of one feature cut into a tile, each with whether it is an exterior ring; every
/// exterior ring is followed by its holes, as MVT wants them.
///
/// The rings' vertices lie one after the other in one buffer that is reused from feature to
/// feature (a vector per ring was an allocation and a free per ring of a tile).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TilePolygons {
    coords: Vec<Coord<i32>>,
    cut: Vec<CutRing>,
    /// Sum of the exterior rings' areas less the holes', in square MVT units.
    pub area: i64,
}

impl TilePolygons {
    /// Whether nothing of the feature is left in the tile.
    pub fn is_empty(&self) -> bool {
        self.cut.is_empty()
    }

    /// The number of rings.
    pub fn len(&self) -> usize {
        self.cut.len()
    }

    /// The rings in order: vertices (without the closing one), whether it is an exterior ring,
    /// and twice its signed area in square MVT units (positive when it turns clockwise on
    /// screen, y down).
    pub fn rings(&self) -> impl Iterator<Item = (&[Coord<i32>], bool, i64)> {
        let mut start = 0;
        self.cut.iter().map(move |r| {
            let ring = &self.coords[start..r.end];
            start = r.end;
            (ring, r.exterior, r.area2)
        })
    }

    /// The `i`-th ring's vertices.
    pub fn ring(&self, i: usize) -> &[Coord<i32>] {
        let start = if i == 0 { 0 } else { self.cut[i - 1].end };
        &self.coords[start..self.cut[i].end]
    }

    /// Drops the rings from the `rings`-th on.
    fn truncate(&mut self, rings: usize) {
        self.cut.truncate(rings);
        self.coords.truncate(self.cut.last().map_or(0, |r| r.end));
    }
}

/// Reusable buffers for cutting.
#[derive(Debug, Default)]
pub struct Cutter {
    a: Vec<Coord<f64>>,
    b: Vec<Coord<f64>>,
}

impl Cutter {
    /// Cuts a normalised Web Mercator multipolygon into `frame`'s tile: clipped to the buffered
    /// tile, snapped, cleaned. Polygons whose area is below `min_area` square units are dropped
    /// (an exterior with its holes); a hole is dropped when it fits in a pixel.
    pub fn cut(
        &mut self,
        geometry: &MultiPolygon<f64>,
        frame: &TileFrame,
        min_area: i64,
        out: &mut TilePolygons,
    ) {
        out.coords.clear();
        out.cut.clear();
        out.area = 0;
        let lo = -f64::from(BUFFER);
        let hi = f64::from(EXTENT as i32 + BUFFER);
        for polygon in &geometry.0 {
            let start = out.cut.len();
            let Some(area2) = self.ring(polygon.exterior(), frame, lo, hi, true, out) else {
                continue;
            };
            let area = area2 / 2;
            if area.abs() < min_area.max(1) {
                out.truncate(start);
                continue;
            }
            let mut net = area.abs();
            for hole in polygon.interiors() {
                let at = out.cut.len();
                if let Some(area2) = self.ring(hole, frame, lo, hi, false, out) {
                    // A hole is dropped only when it fits in a pixel, so the outline moves by
                    // less than one.
                    if fits_in_pixel(out.ring(at)) {
                        out.truncate(at);
                    } else {
                        net -= (area2 / 2).abs();
                    }
                }
            }
            // A hole can cover all of the tile the polygon covers (a tile inside a lake).
            if net < min_area.max(1) {
                out.truncate(start);
            } else {
                out.area += net;
            }
        }
    }

    /// One ring: to tile units, clipped to `[lo, hi]²`, snapped and cleaned, added to `out`;
    /// gives twice its signed area (square units). Nothing is added, and `None` given, when
    /// nothing with an area is left.
    fn ring(
        &mut self,
        ring: &LineString<f64>,
        frame: &TileFrame,
        lo: f64,
        hi: f64,
        exterior: bool,
        out: &mut TilePolygons,
    ) -> Option<i64> {
        self.a.clear();
        let coords = ring.0.as_slice();
        // The closing vertex repeats the first one.
        let coords = match coords {
            [rest @ .., last] if coords.len() > 1 && Some(last) == coords.first() => rest,
            _ => coords,
        };
        let (mut min_x, mut min_y, mut max_x, mut max_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for &c in coords {
            let t = frame.to_tile(c);
            min_x = min_x.min(t.x);
            min_y = min_y.min(t.y);
            max_x = max_x.max(t.x);
            max_y = max_y.max(t.y);
            self.a.push(t);
        }
        if max_x < lo || max_y < lo || min_x > hi || min_y > hi {
            return None;
        }
        if min_x < lo || min_y < lo || max_x > hi || max_y > hi {
            clip(&mut self.a, &mut self.b, lo, hi);
        }
        let start = out.coords.len();
        if frame.step == 1 {
            clean_into(
                &mut out.coords,
                start,
                self.a.iter().map(|c| Coord {
                    x: round(c.x),
                    y: round(c.y),
                }),
            );
        } else {
            let step = f64::from(frame.step);
            clean_into(
                &mut out.coords,
                start,
                self.a.iter().map(|c| Coord {
                    x: round(c.x / step) * frame.step,
                    y: round(c.y / step) * frame.step,
                }),
            );
        }
        let cleaned = &out.coords[start..];
        let area2 = if cleaned.len() < 3 {
            0
        } else {
            signed_area2(cleaned)
        };
        // A ring whose area halves to 0 has none at this precision.
        if area2 / 2 == 0 {
            out.coords.truncate(start);
            return None;
        }
        out.cut.push(CutRing {
            end: out.coords.len(),
            exterior,
            area2,
        });
        Some(area2)
    }
}

/// `x.round() as i32` (halves away from zero) for `|x| < 2^31`, without libm's `round`: the
/// truncation and the fraction `x - trunc(x)` are exact in floating point.
fn round(x: f64) -> i32 {
    let t = x as i64;
    let fraction = x - t as f64;
    (t + i64::from(fraction >= 0.5) - i64::from(fraction <= -0.5)) as i32
}

fn fits_in_pixel(ring: &[Coord<i32>]) -> bool {
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (i32::MAX, i32::MAX, i32::MIN, i32::MIN);
    for c in ring {
        (min_x, min_y) = (min_x.min(c.x), min_y.min(c.y));
        (max_x, max_y) = (max_x.max(c.x), max_y.max(c.y));
    }
    max_x - min_x < UNITS_PER_PIXEL && max_y - min_y < UNITS_PER_PIXEL
}

/// Sutherland–Hodgman clip of a closed ring (no repeated closing vertex) against `[lo, hi]²`.
/// Concave rings can come out with edges running along the clip border; MVT renderers fill them
/// correctly, and the cleaning after the snap removes the zero-width parts.
fn clip(ring: &mut Vec<Coord<f64>>, scratch: &mut Vec<Coord<f64>>, lo: f64, hi: f64) {
    #[derive(Clone, Copy)]
    enum Edge {
        Left,
        Right,
        Top,
        Bottom,
    }
    let inside = |c: Coord<f64>, e: Edge| match e {
        Edge::Left => c.x >= lo,
        Edge::Right => c.x <= hi,
        Edge::Top => c.y >= lo,
        Edge::Bottom => c.y <= hi,
    };
    let cross = |a: Coord<f64>, b: Coord<f64>, e: Edge| {
        let (v, along_x) = match e {
            Edge::Left => (lo, true),
            Edge::Right => (hi, true),
            Edge::Top => (lo, false),
            Edge::Bottom => (hi, false),
        };
        if along_x {
            let t = (v - a.x) / (b.x - a.x);
            Coord {
                x: v,
                y: a.y + t * (b.y - a.y),
            }
        } else {
            let t = (v - a.y) / (b.y - a.y);
            Coord {
                x: a.x + t * (b.x - a.x),
                y: v,
            }
        }
    };
    for edge in [Edge::Left, Edge::Right, Edge::Top, Edge::Bottom] {
        scratch.clear();
        let Some(&last) = ring.last() else { return };
        let mut prev = last;
        for &cur in ring.iter() {
            match (inside(prev, edge), inside(cur, edge)) {
                (true, true) => scratch.push(cur),
                (true, false) => scratch.push(cross(prev, cur, edge)),
                (false, true) => {
                    scratch.push(cross(prev, cur, edge));
                    scratch.push(cur);
                }
                (false, false) => {}
            }
            prev = cur;
        }
        std::mem::swap(ring, scratch);
    }
}

/// Twice the signed area of a ring given without its closing vertex (positive when it turns
/// clockwise on screen, y down).
pub fn signed_area2(ring: &[Coord<i32>]) -> i64 {
    let Some(&last) = ring.last() else { return 0 };
    let mut prev = last;
    let mut area = 0;
    for &c in ring {
        area += i64::from(prev.x) * i64::from(c.y) - i64::from(c.x) * i64::from(prev.y);
        prev = c;
    }
    area
}

fn collinear(a: Coord<i32>, b: Coord<i32>, c: Coord<i32>) -> bool {
    let (abx, aby) = (i64::from(b.x - a.x), i64::from(b.y - a.y));
    let (acx, acy) = (i64::from(c.x - a.x), i64::from(c.y - a.y));
    abx * acy - aby * acx == 0
}

/// A ring without repeated vertices, collinear vertices or spikes (which would encode as zero
/// command deltas or zero-width slivers), and without its closing vertex.
pub fn clean_ring(coords: impl IntoIterator<Item = Coord<i32>>) -> TileRing {
    let mut out = Vec::new();
    clean_into(&mut out, 0, coords);
    out
}

/// [`clean_ring`] of `coords` appended to `out` after its first `start` vertices.
fn clean_into(
    out: &mut Vec<Coord<i32>>,
    start: usize,
    coords: impl IntoIterator<Item = Coord<i32>>,
) {
    for c in coords {
        if out.len() > start && out.last() == Some(&c) {
            continue;
        }
        out.push(c);
        loop {
            let n = out.len() - start;
            let end = out.len();
            if n >= 2 && out[end - 1] == out[end - 2] {
                out.pop();
            } else if n >= 3 && collinear(out[end - 3], out[end - 2], out[end - 1]) {
                out.remove(end - 2);
            } else {
                break;
            }
        }
    }
    // Where the ring closes on itself.
    loop {
        let n = out.len() - start;
        if n < 3 {
            break;
        }
        let end = out.len();
        let first = out[start];
        if out[end - 1] == first || collinear(out[end - 2], out[end - 1], first) {
            out.pop();
        } else if collinear(out[end - 1], first, out[start + 1]) {
            out.remove(start);
        } else {
            break;
        }
    }
}

#[cfg(test)]
mod tests;
