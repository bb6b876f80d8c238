//! The geocoder: which parcel and sector a report's point falls in.
//!
//! A uniform grid over the parcels' envelopes (about one parcel per cell, stored as flat
//! arrays) gives the candidates; an exact point-in-polygon test on the parcels' rings, flattened
//! into one coordinate array, picks the parcel. Points on a boundary shared by several parcels
//! go to the first of them in catalog order, so the answer is deterministic. A point in no
//! parcel — citizens often drop the pin on the street in front of the house — goes to the
//! nearest parcel within a tolerance measured in metres on the ground, not in degrees. The
//! sector comes from the parcel, or from the sector polygons when no parcel is near.
//!
//! [`geocode_reports`] locates a batch in grid-cell order (neighbouring points reuse the parcels
//! and the H3 cell already at hand) and writes the results back in blocks of reports.

mod batch;
mod cells;
mod edges;
mod grid;
#[cfg(test)]
mod tests;

use geo::coordinate_position::CoordPos;
use geo::Point;

use crate::model::{ParcelLayer, SectorId, SectorLayer};
use crate::report::MatchKind;
use crate::sector_index::SectorIndex;

pub use batch::{geocode_reports, MatchCounts};
#[cfg(test)]
pub(crate) use cells::pentagon_centre;
pub(crate) use cells::CellCache;
use grid::{segment_origin_d2, ParcelGrid};

/// Where a point landed.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// Index of the parcel in the [`ParcelLayer`], if any.
    pub parcel: Option<usize>,
    /// The sector: the parcel's, else the sector polygon holding the point.
    pub sector: Option<SectorId>,
    /// How the parcel was found.
    pub kind: MatchKind,
    /// Distance to the parcel in metres (0 inside).
    pub distance_m: Option<f64>,
}

/// A [`Match`] as [`geocode_reports`] keeps a million of them: 32 bytes, the sector borrowed,
/// with the point's H3 cell.
#[derive(Clone, Copy)]
struct Placed<'a> {
    /// Index of the parcel, `u32::MAX` for none.
    parcel: u32,
    kind: MatchKind,
    /// NaN for none.
    distance_m: f64,
    sector: Option<&'a SectorId>,
    /// 0 (no valid cell) for none.
    h3: u64,
}

impl Placed<'_> {
    const NONE: Placed<'static> = Placed {
        parcel: u32::MAX,
        kind: MatchKind::None,
        distance_m: f64::NAN,
        sector: None,
        h3: 0,
    };

    fn parcel(&self) -> Option<usize> {
        (self.parcel != u32::MAX).then_some(self.parcel as usize)
    }

    fn distance_m(&self) -> Option<f64> {
        (!self.distance_m.is_nan()).then_some(self.distance_m)
    }
}

/// Metres per degree of longitude and of latitude at a latitude on the WGS 84 ellipsoid (from
/// its radii of curvature there): the nearest search's flat frame about a point, which over
/// 25 m departs from a conformal projection's distances by well under a millimetre.
fn metres_per_degree(lat: f64) -> (f64, f64) {
    const A: f64 = 6_378_137.0;
    const E2: f64 = 6.694_379_990_141_3e-3;
    let (sin, cos) = lat.to_radians().sin_cos();
    let w2 = 1.0 - E2 * sin * sin;
    let w = w2.sqrt();
    let prime_vertical = A / w;
    let meridian = A * (1.0 - E2) / (w2 * w);
    let per_radian = std::f64::consts::PI / 180.0;
    (
        prime_vertical * cos.max(1e-6) * per_radian,
        meridian * per_radian,
    )
}

/// Geocodes points against a catalog version's parcels and sectors.
pub struct Geocoder<'a> {
    parcels: &'a ParcelLayer,
    grid: ParcelGrid,
    sectors: Option<SectorIndex<'a>>,
    tolerance_m: f64,
}

impl<'a> Geocoder<'a> {
    /// Default tolerance for `nearest` matches: a pin on the street in front of the house.
    pub const DEFAULT_TOLERANCE_M: f64 = 25.0;

    /// Builds the grid over the parcels.
    pub fn new(
        parcels: &'a ParcelLayer,
        sectors: Option<&'a SectorLayer>,
        tolerance_m: f64,
    ) -> Self {
        let grid = ParcelGrid::new(parcels);
        tracing::debug!(
            cells = grid.big.cells.len(),
            bytes = grid.big.heap_bytes(),
            "geocoder: edge index of the parcels with many vertices"
        );
        Self {
            parcels,
            grid,
            sectors: sectors.map(SectorIndex::new),
            tolerance_m,
        }
    }

    /// A geocoder whose grid gives an edge index to parcels of `big_vertices` or more.
    #[cfg(test)]
    fn with_big_vertices(parcels: &'a ParcelLayer, big_vertices: usize) -> Self {
        Self {
            parcels,
            grid: ParcelGrid::with_big_vertices(parcels, big_vertices),
            sectors: None,
            tolerance_m: Self::DEFAULT_TOLERANCE_M,
        }
    }

    /// The tolerance in metres.
    pub fn tolerance_m(&self) -> f64 {
        self.tolerance_m
    }

    /// Locates a point given in longitude/latitude degrees.
    pub fn locate(&self, lon: f64, lat: f64) -> Match {
        let p = self.place(lon, lat, &mut Vec::new());
        Match {
            parcel: p.parcel(),
            sector: p.sector.cloned(),
            kind: p.kind,
            distance_m: p.distance_m(),
        }
    }

    /// [`Geocoder::locate`], compactly, with a buffer for the nearest search kept between
    /// calls.
    fn place(&self, lon: f64, lat: f64, scratch: &mut Vec<u32>) -> Placed<'a> {
        let point = Point::new(lon, lat);
        let (parcel, kind, distance_m) = match self.inside(point) {
            Some(i) => (Some(i), MatchKind::Inside, 0.0),
            None => match self.nearest(point, scratch) {
                Some((i, d)) => (Some(i), MatchKind::Nearest, d),
                None => (None, MatchKind::None, f64::NAN),
            },
        };
        let sector = match parcel {
            Some(i) => self.parcels.parcels[i].sector_id.as_ref(),
            None => self.sectors.as_ref().and_then(|s| s.sector_at(point)),
        };
        Placed {
            parcel: parcel.map_or(u32::MAX, |i| i as u32),
            kind,
            distance_m,
            sector,
            h3: 0,
        }
    }

    fn inside(&self, point: Point<f64>) -> Option<usize> {
        let (x, y) = (point.x(), point.y());
        let g = &self.grid;
        let (rx, ry) = (x - g.origin[0], y - g.origin[1]);
        let mut boundary: Option<usize> = None;
        // candidates come in layer order: the first inside wins, as does the first boundary
        for item in g.cell_items(x, y) {
            if !item.may_hold(rx, ry) {
                continue;
            }
            let (i, position) = match item.big() {
                Some(k) => (g.big.cells[k].parcel as usize, g.position_big(k, x, y)),
                None => (item.parcel as usize, g.position(item.parcel as usize, x, y)),
            };
            match position {
                CoordPos::Inside => return Some(i),
                CoordPos::OnBoundary => {
                    boundary.get_or_insert(i);
                }
                CoordPos::Outside => {}
            }
        }
        boundary
    }

    /// The nearest parcel within the tolerance, for a point in no parcel: the distance to each
    /// candidate's rings in local metres (equirectangular about the point, exact to well under a
    /// centimetre over 25 m), without copying geometries. Cells are visited in rings about the
    /// point's cell, nearest first, until a ring lies farther than the best so far; candidates
    /// whose envelope is already farther are skipped. `seen` (kept between calls) holds the
    /// candidates measured, as a parcel is listed in every cell its envelope meets.
    fn nearest(&self, point: Point<f64>, seen: &mut Vec<u32>) -> Option<(usize, f64)> {
        let (lon, lat) = (point.x(), point.y());
        let (sx, sy) = metres_per_degree(lat);
        let (dx, dy) = (self.tolerance_m / sx, self.tolerance_m / sy);
        let limit2 = self.tolerance_m * self.tolerance_m;
        let g = &self.grid;
        let (bx0, by0, bx1, by1) = g.span([lon - dx, lat - dy, lon + dx, lat + dy])?;
        let (rx, ry) = (lon - g.origin[0], lat - g.origin[1]);
        // the point's cell, clamped into the box's cells
        let px = ((rx / g.cell[0]).max(0.0) as usize).clamp(bx0, bx1);
        let py = ((ry / g.cell[1]).max(0.0) as usize).clamp(by0, by1);
        let reach = (px - bx0).max(bx1 - px).max(py - by0).max(by1 - py);
        seen.clear();
        let mut best: Option<(usize, f64)> = None;
        for r in 0..=reach {
            let bound = best.map_or(limit2, |b| b.1);
            if r > 0 {
                // ring r lies outside the block of the rings before it
                let (l, b) = (px as f64 - (r - 1) as f64, py as f64 - (r - 1) as f64);
                let (rt, t) = (px as f64 + r as f64, py as f64 + r as f64);
                let gap = ((rx - l * g.cell[0]) * sx)
                    .min((rt * g.cell[0] - rx) * sx)
                    .min((ry - b * g.cell[1]) * sy)
                    .min((t * g.cell[1] - ry) * sy);
                if gap > 0.0 && gap * gap > bound {
                    break;
                }
            }
            let (y0, y1) = (py.saturating_sub(r).max(by0), (py + r).min(by1));
            let (x0, x1) = (px.saturating_sub(r).max(bx0), (px + r).min(bx1));
            for cy in y0..=y1 {
                let edge_row = cy + r == py || cy == py + r;
                for cx in x0..=x1 {
                    if !edge_row && cx + r != px && cx != px + r {
                        continue;
                    }
                    for item in g.items_of(cy * g.nx + cx) {
                        let bound = best.map_or(limit2, |b| b.1);
                        let e = item.env.map(f64::from);
                        let ex = (e[0] - rx).max(rx - e[2]).max(0.0) * sx;
                        let ey = (e[1] - ry).max(ry - e[3]).max(0.0) * sy;
                        if ex * ex + ey * ey > bound {
                            continue;
                        }
                        // Edges wholly beyond the bound on one side are passed over; NaN
                        // separates rings, and `min` passes over the NaN of those edges.
                        let r = bound.sqrt();
                        let (rx, ry) = (r / sx, r / sy);
                        let beyond =
                            |a: f64, b: f64, r: f64| (a > r && b > r) || (a < -r && b < -r);
                        let d2 = |[ax, ay]: [f64; 2], [bx, by]: [f64; 2]| {
                            if beyond(ax - lon, bx - lon, rx) || beyond(ay - lat, by - lat, ry) {
                                return f64::INFINITY;
                            }
                            let a = ((ax - lon) * sx, (ay - lat) * sy);
                            let b = ((bx - lon) * sx, (by - lat) * sy);
                            segment_origin_d2(a, b)
                        };
                        // A big parcel is measured in each cell, on the edges near that cell
                        // (the nearest of its edges is near a cell the search visits); any
                        // other, once, on all its rings.
                        let (i, d2) = match item.big() {
                            Some(k) => (
                                g.big.cells[k].parcel as usize,
                                g.big
                                    .edges_of(k)
                                    .iter()
                                    .map(|&j| d2(g.coords[j as usize], g.coords[j as usize + 1]))
                                    .fold(f64::INFINITY, f64::min),
                            ),
                            None if seen.contains(&item.parcel) => continue,
                            None => {
                                seen.push(item.parcel);
                                let i = item.parcel as usize;
                                let d2 = g
                                    .coords_of(i)
                                    .windows(2)
                                    .map(|w| d2(w[0], w[1]))
                                    .fold(f64::INFINITY, f64::min);
                                (i, d2)
                            }
                        };
                        // a tie keeps the first in layer order
                        if d2 <= bound && best.is_none_or(|b| d2 < b.1 || (d2 == b.1 && i < b.0)) {
                            best = Some((i, d2));
                        }
                    }
                }
            }
        }
        best.map(|(i, d2)| (i, d2.sqrt()))
    }
}
