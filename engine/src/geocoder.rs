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

use geo::coordinate_position::CoordPos;
use geo::{BoundingRect, Point};
use serde::{Deserialize, Serialize};

use crate::model::{ParcelLayer, SectorId, SectorLayer};
use crate::sector_index::SectorIndex;

/// How a report was matched to its parcel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchKind {
    /// The point lies inside (or on the boundary of) the parcel.
    Inside,
    /// The point lies in no parcel; this is the nearest within the tolerance.
    Nearest,
    /// No parcel within the tolerance (or no location).
    None,
}

impl MatchKind {
    /// `inside`, `nearest`, `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Inside => "inside",
            MatchKind::Nearest => "nearest",
            MatchKind::None => "none",
        }
    }
}

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

/// Metres per degree of latitude (mean, WGS 84); longitude scales by cos(latitude).
const M_PER_DEG_LAT: f64 = 110_574.0;
const M_PER_DEG_LON_EQUATOR: f64 = 111_319.49;

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
        Self {
            parcels,
            grid: ParcelGrid::new(parcels),
            sectors: sectors.map(SectorIndex::new),
            tolerance_m,
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
            let i = item.parcel as usize;
            match g.position(i, x, y) {
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
        let k = lat.to_radians().cos().max(1e-6);
        let (sx, sy) = (M_PER_DEG_LON_EQUATOR * k, M_PER_DEG_LAT);
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
                        let i = item.parcel as usize;
                        let e = item.env.map(f64::from);
                        let ex = (e[0] - rx).max(rx - e[2]).max(0.0) * sx;
                        let ey = (e[1] - ry).max(ry - e[3]).max(0.0) * sy;
                        if ex * ex + ey * ey > bound || seen.contains(&item.parcel) {
                            continue;
                        }
                        seen.push(item.parcel);
                        // Edges wholly beyond the bound on one side are passed over; NaN
                        // separates rings, and `min` passes over the NaN of those edges.
                        let r = bound.sqrt();
                        let (rx, ry) = (r / sx, r / sy);
                        let beyond =
                            |a: f64, b: f64, r: f64| (a > r && b > r) || (a < -r && b < -r);
                        let d2 = g
                            .coords_of(i)
                            .windows(2)
                            .filter(|w| {
                                !beyond(w[0][0] - lon, w[1][0] - lon, rx)
                                    && !beyond(w[0][1] - lat, w[1][1] - lat, ry)
                            })
                            .map(|w| {
                                let a = ((w[0][0] - lon) * sx, (w[0][1] - lat) * sy);
                                let b = ((w[1][0] - lon) * sx, (w[1][1] - lat) * sy);
                                segment_origin_d2(a, b)
                            })
                            .fold(f64::INFINITY, f64::min);
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

/// The parcels flattened for point queries: each parcel's rings as one run of a coordinate
/// array (rings separated by a NaN point; runs in the order of the parcels' first grid cells),
/// and a uniform grid (compressed rows) listing, per
/// cell, the parcels whose envelope meets it, in layer order, each with its envelope.
struct ParcelGrid {
    coords: Vec<[f64; 2]>,
    /// Per parcel, its run `coords[start..end]`.
    start: Vec<(u32, u32)>,
    origin: [f64; 2],
    cell: [f64; 2],
    nx: usize,
    ny: usize,
    cell_start: Vec<u32>,
    items: Vec<Item>,
}

/// A parcel listed in a grid cell, with its envelope relative to the grid's origin in `f32`
/// rounded outwards (so that testing a point against it never rejects a parcel that holds it;
/// and next to the index, so that the test costs no other read).
#[derive(Clone, Copy)]
struct Item {
    parcel: u32,
    /// `[min x, min y, max x, max y]`.
    env: [f32; 4],
}

impl Item {
    /// Whether the envelope holds a point given relative to the grid's origin.
    fn may_hold(&self, rx: f64, ry: f64) -> bool {
        let e = self.env;
        rx >= f64::from(e[0])
            && rx <= f64::from(e[2])
            && ry >= f64::from(e[1])
            && ry <= f64::from(e[3])
    }
}

impl ParcelGrid {
    fn new(layer: &ParcelLayer) -> Self {
        let n = layer.parcels.len();
        let mut env = Vec::with_capacity(n);
        let mut coords = Vec::new();
        let mut all = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for p in &layer.parcels {
            let e = p.geometry.bounding_rect().map_or(
                [
                    f64::INFINITY,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::NEG_INFINITY,
                ],
                |r| [r.min().x, r.min().y, r.max().x, r.max().y],
            );
            if e[0] <= e[2] {
                all = [
                    all[0].min(e[0]),
                    all[1].min(e[1]),
                    all[2].max(e[2]),
                    all[3].max(e[3]),
                ];
            }
            env.push(e);
        }
        if all[0] > all[2] {
            all = [0.0, 0.0, 0.0, 0.0];
        }
        // about one parcel per cell, square cells in degrees
        let (w, h) = ((all[2] - all[0]).max(1e-9), (all[3] - all[1]).max(1e-9));
        let cells = (n.max(1) as f64).min(4_000_000.0);
        let side = (w * h / cells).sqrt();
        let nx = ((w / side).ceil() as usize).clamp(1, 1 << 14);
        let ny = ((h / side).ceil() as usize).clamp(1, 1 << 14);
        let cell = [w / nx as f64, h / ny as f64];
        let mut grid = Self {
            coords: Vec::new(),
            start: Vec::new(),
            origin: [all[0], all[1]],
            cell,
            nx,
            ny,
            cell_start: vec![0; nx * ny + 1],
            items: Vec::new(),
        };
        // The rings, laid out in the order of each parcel's first cell (row by row), as points
        // are located: the parcels of one row of cells lie together.
        let mut by_cell: Vec<(usize, usize)> = env
            .iter()
            .enumerate()
            .map(|(i, e)| (grid.span(*e).map_or(usize::MAX, |(x, y, ..)| y * nx + x), i))
            .collect();
        by_cell.sort_unstable();
        let mut run = vec![(0u32, 0u32); n];
        for &(_, i) in &by_cell {
            let first = coords.len();
            for polygon in &layer.parcels[i].geometry {
                for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                    if coords.len() > first {
                        coords.push([f64::NAN, f64::NAN]);
                    }
                    coords.extend(ring.0.iter().map(|c| [c.x, c.y]));
                }
            }
            run[i] = (first as u32, coords.len() as u32);
        }
        grid.coords = coords;
        grid.start = run;
        // two passes: count per cell, then fill in layer order
        for e in &env {
            if let Some((x0, y0, x1, y1)) = grid.span(*e) {
                for cy in y0..=y1 {
                    for cx in x0..=x1 {
                        grid.cell_start[cy * nx + cx + 1] += 1;
                    }
                }
            }
        }
        for c in 0..nx * ny {
            grid.cell_start[c + 1] += grid.cell_start[c];
        }
        let mut next: Vec<u32> = grid.cell_start[..nx * ny].to_vec();
        let none = Item {
            parcel: 0,
            env: [0.0; 4],
        };
        grid.items = vec![none; grid.cell_start[nx * ny] as usize];
        let [ox, oy] = grid.origin;
        let down = |v: f64| {
            let f = v as f32;
            if f64::from(f) > v {
                f.next_down()
            } else {
                f
            }
        };
        let up = |v: f64| {
            let f = v as f32;
            if f64::from(f) < v {
                f.next_up()
            } else {
                f
            }
        };
        for (i, e) in env.iter().enumerate() {
            if let Some((x0, y0, x1, y1)) = grid.span(*e) {
                let item = Item {
                    parcel: i as u32,
                    env: [
                        down(e[0] - ox),
                        down(e[1] - oy),
                        up(e[2] - ox),
                        up(e[3] - oy),
                    ],
                };
                for cy in y0..=y1 {
                    for cx in x0..=x1 {
                        let slot = &mut next[cy * nx + cx];
                        grid.items[*slot as usize] = item;
                        *slot += 1;
                    }
                }
            }
        }
        grid
    }

    /// The cells a box meets, clamped to the grid; `None` for an empty box or one outside.
    fn span(&self, e: [f64; 4]) -> Option<(usize, usize, usize, usize)> {
        if !(e[0] <= e[2] && e[1] <= e[3]) {
            return None;
        }
        // Cell coordinates, not floored: truncation of the clamped (non-negative) values below
        // is the floor, without a call to libm's.
        let fx = |x: f64| (x - self.origin[0]) / self.cell[0];
        let fy = |y: f64| (y - self.origin[1]) / self.cell[1];
        let (x0, x1, y0, y1) = (fx(e[0]), fx(e[2]), fy(e[1]), fy(e[3]));
        let (mx, my) = ((self.nx - 1) as f64, (self.ny - 1) as f64);
        // The grid is closed: a point on its east or north edge is in the last cell.
        if x1 < 0.0 || y1 < 0.0 || x0 > mx + 1.0 || y0 > my + 1.0 {
            return None;
        }
        Some((
            x0.clamp(0.0, mx) as usize,
            y0.clamp(0.0, my) as usize,
            x1.clamp(0.0, mx) as usize,
            y1.clamp(0.0, my) as usize,
        ))
    }

    /// A sort key that keeps points of one cell together (cells row by row; outside the grid,
    /// last).
    fn cell_key(&self, x: f64, y: f64) -> u32 {
        self.span([x, y, x, y])
            .map_or(u32::MAX, |(cx, cy, ..)| (cy * self.nx + cx) as u32)
    }

    /// The parcels listed in the cell of a point (none outside the grid).
    fn cell_items(&self, x: f64, y: f64) -> &[Item] {
        match self.span([x, y, x, y]) {
            Some((cx, cy, ..)) => self.items_of(cy * self.nx + cx),
            None => &[],
        }
    }

    /// The parcels listed in cell `c`, in layer order.
    fn items_of(&self, c: usize) -> &[Item] {
        &self.items[self.cell_start[c] as usize..self.cell_start[c + 1] as usize]
    }

    /// The rings of parcel `i`, one after the other, separated by a NaN point.
    fn coords_of(&self, i: usize) -> &[[f64; 2]] {
        let (a, b) = self.start[i];
        &self.coords[a as usize..b as usize]
    }

    /// Inside, on the boundary or outside parcel `i`: crossings of a ray towards +x over all
    /// its rings (even-odd, right for valid polygons with holes and multipolygons), with the
    /// side of each edge taken from the sign of a cross product; a point on an edge or a vertex
    /// is on the boundary.
    fn position(&self, i: usize, x: f64, y: f64) -> CoordPos {
        let mut inside = false;
        for w in self.coords_of(i).windows(2) {
            let ([ax, ay], [bx, by]) = (w[0], w[1]);
            // Comparisons with the NaN between rings are false: such an edge only comes here,
            // where its NaN cross product leaves it out.
            if (ay > y) != (by > y) {
                let cross = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
                if cross.is_nan() {
                    continue;
                }
                if cross == 0.0 {
                    return CoordPos::OnBoundary;
                }
                if (cross > 0.0) == (by > ay) {
                    inside = !inside;
                }
            } else if (ay == y && by == y && x >= ax.min(bx) && x <= ax.max(bx))
                || (ax == x && ay == y)
            {
                return CoordPos::OnBoundary;
            }
        }
        if inside {
            CoordPos::Inside
        } else {
            CoordPos::Outside
        }
    }
}

/// The centre of the first pentagon at resolution 9: tests of cells by a distortion vertex.
#[cfg(test)]
pub(crate) fn pentagon_centre() -> h3o::LatLng {
    h3o::LatLng::from(
        h3o::Resolution::Nine
            .pentagons()
            .next()
            .expect("a pentagon"),
    )
}

/// Squared distance from the origin to the segment a–b.
fn segment_origin_d2(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (vx, vy) = (b.0 - a.0, b.1 - a.1);
    let len2 = vx * vx + vy * vy;
    let t = if len2 > 0.0 {
        (-(a.0 * vx + a.1 * vy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (x, y) = (a.0 + t * vx, a.1 + t * vy);
    x * x + y * y
}

/// Counts of a geocoding run by match kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchCounts {
    /// Points inside a parcel.
    pub inside: usize,
    /// Points matched to the nearest parcel within the tolerance.
    pub nearest: usize,
    /// Located points with no parcel within the tolerance.
    pub none: usize,
    /// Reports without a usable location (missing or a default point).
    pub unlocated: usize,
    /// Located reports that fell in a sector (through their parcel, or directly).
    #[serde(default)]
    pub in_sector: usize,
}

/// The H3 cell of points that come in spatial order (as [`geocode_reports`] locates them):
/// the last few cells are kept with their shape, and a point inside one of them, clear of its
/// edges, gets that cell without the full computation. A few, not one: a run of neighbouring
/// points often straddles the edge between two or three cells.
///
/// A cell's shape is taken in a local equirectangular frame about its centre, in metres: the
/// disc inside its nearest straight edge, and for a convex hexagon (no distortion vertex) its
/// six edges as half-planes moved inwards by 1 % of the edge's length. Cell edges are
/// great-circle arcs, which in that frame bend from the straight edge by well under a
/// millimetre at the resolutions where shapes are used (7 and finer, edges of 1.4 km or less,
/// and within 80° of the equator), against that margin: a point the shape accepts is inside the
/// cell, and any other point is computed by h3o.
pub(crate) struct CellCache {
    res: h3o::Resolution,
    /// Recent cells.
    recent: [Option<KnownCell>; 4],
    /// The slot the next new cell takes.
    next: usize,
}

#[derive(Clone, Copy)]
struct KnownCell {
    cell: u64,
    /// Centre (lon, lat) and metres per degree of longitude there.
    centre: [f64; 2],
    kx: f64,
    /// Squared radius of the inner disc (0: never reused).
    r2: f64,
    /// Inward unit normals and offsets of the hexagon's edges, margin included: a point `p`
    /// (metres from the centre) is inside when `n · p >= c` for all six (none: disc only).
    edges: Option<[[f64; 3]; 6]>,
}

impl KnownCell {
    fn new(cell: h3o::CellIndex) -> Self {
        let centre = h3o::LatLng::from(cell);
        let (x0, y0) = (centre.lng(), centre.lat());
        let kx = M_PER_DEG_LON_EQUATOR * y0.to_radians().cos();
        let mut known = KnownCell {
            cell: u64::from(cell),
            centre: [x0, y0],
            kx,
            r2: 0.0,
            edges: None,
        };
        if cell.resolution() < h3o::Resolution::Seven || y0.abs() > 80.0 {
            return known;
        }
        let v: Vec<(f64, f64)> = cell
            .boundary()
            .iter()
            .map(|p| ((p.lng() - x0) * kx, (p.lat() - y0) * M_PER_DEG_LAT))
            .collect();
        let n = v.len();
        let d2 = (0..n)
            .map(|i| segment_origin_d2(v[i], v[(i + 1) % n]))
            .fold(f64::INFINITY, f64::min);
        let r = 0.98 * d2.sqrt();
        if !r.is_finite() {
            return known;
        }
        known.r2 = r * r;
        if n == 6 {
            // Counter-clockwise or not, every edge must turn the same way (convex).
            let turn = |i: usize| {
                let (a, b, c) = (v[i], v[(i + 1) % 6], v[(i + 2) % 6]);
                (b.0 - a.0) * (c.1 - b.1) - (b.1 - a.1) * (c.0 - b.0)
            };
            let sign = turn(0).signum();
            if (0..6).all(|i| turn(i).signum() == sign && sign != 0.0) {
                let mut edges = [[0.0; 3]; 6];
                for (i, e) in edges.iter_mut().enumerate() {
                    let (a, b) = (v[i], v[(i + 1) % 6]);
                    let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
                    // Left of a→b is inside for a counter-clockwise ring.
                    let (nx, ny) = (-(b.1 - a.1) * sign / len, (b.0 - a.0) * sign / len);
                    *e = [nx, ny, nx * a.0 + ny * a.1 + 0.01 * len];
                }
                known.edges = Some(edges);
            }
        }
        known
    }

    fn holds(&self, lon: f64, lat: f64) -> bool {
        let [x0, y0] = self.centre;
        let (dx, dy) = ((lon - x0) * self.kx, (lat - y0) * M_PER_DEG_LAT);
        dx * dx + dy * dy < self.r2
            || self
                .edges
                .is_some_and(|e| e.iter().all(|[nx, ny, c]| nx * dx + ny * dy >= *c))
    }
}

impl CellCache {
    pub(crate) fn new(res: h3o::Resolution) -> Self {
        Self {
            res,
            recent: [None; 4],
            next: 0,
        }
    }

    /// A recent cell, when the point lies in it clear of its edges.
    fn reuse(&self, lon: f64, lat: f64) -> Option<u64> {
        self.recent
            .iter()
            .flatten()
            .find(|k| k.holds(lon, lat))
            .map(|k| k.cell)
    }

    pub(crate) fn cell(&mut self, lon: f64, lat: f64) -> Option<u64> {
        if let Some(cell) = self.reuse(lon, lat) {
            return Some(cell);
        }
        let cell = h3o::LatLng::new(lat, lon).ok()?.to_cell(self.res);
        let id = u64::from(cell);
        if !self.recent.iter().flatten().any(|k| k.cell == id) {
            self.recent[self.next] = Some(KnownCell::new(cell));
            self.next = (self.next + 1) % self.recent.len();
        }
        Some(id)
    }
}

impl std::ops::Add for MatchCounts {
    type Output = MatchCounts;

    fn add(self, b: MatchCounts) -> MatchCounts {
        MatchCounts {
            inside: self.inside + b.inside,
            nearest: self.nearest + b.nearest,
            none: self.none + b.none,
            unlocated: self.unlocated + b.unlocated,
            in_sector: self.in_sector + b.in_sector,
        }
    }
}

/// Geocodes every located report in place (in parallel): parcel, sector, match kind, distance
/// and the H3 cell at `h3_resolution`. Unlocated reports get no parcel and match `none`.
pub fn geocode_reports(
    reports: &mut [crate::reports::Report],
    geocoder: &Geocoder<'_>,
    h3_resolution: h3o::Resolution,
) -> MatchCounts {
    use crate::reports::Location;
    use rayon::prelude::*;
    // Located in grid-cell order, so that neighbouring points reuse the parcels already in
    // cache (and the H3 cell of the point before); then written back in place.
    let started = std::time::Instant::now();
    let phase = |what: &str| {
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "geocode: {what}");
    };
    // With their coordinates, read once in report order: a random read of a report's point
    // in cell order would miss the cache nearly every time.
    let point = |r: &crate::reports::Report| match (r.lon, r.lat, r.location) {
        (Some(lon), Some(lat), Location::Located) => Some([lon, lat]),
        _ => None,
    };
    let order: Vec<(u32, u32, [f64; 2])> = reports
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            point(r).map(|[lon, lat]| (geocoder.grid.cell_key(lon, lat), i as u32, [lon, lat]))
        })
        .collect();
    let order = crate::radix::sort_by_key(order, |o| u64::from(o.0));
    phase("points in cell order");
    let found: Vec<Placed<'_>> = order
        .par_iter()
        .with_min_len(4096)
        .map_init(
            || (CellCache::new(h3_resolution), Vec::new()),
            |(cells, scratch), &(_, _, [lon, lat])| Placed {
                h3: cells.cell(lon, lat).unwrap_or(0),
                ..geocoder.place(lon, lat, scratch)
            },
        )
        .collect();
    phase("located");
    // Written back in blocks of reports: the results are first moved, in one pass, into the
    // block of their report, so that each block then writes to reports that lie together in
    // memory instead of one report anywhere per result.
    const BLOCK: usize = 4096;
    let blocks = reports.len().div_ceil(BLOCK);
    let mut block_start = vec![0usize; blocks + 1];
    for &(_, i, _) in &order {
        block_start[i as usize / BLOCK + 1] += 1;
    }
    for b in 0..blocks {
        block_start[b + 1] += block_start[b];
    }
    let mut next = block_start.clone();
    let mut by_block: Vec<(u32, Placed<'_>)> = vec![(0, Placed::NONE); order.len()];
    for (&(_, i, _), p) in order.iter().zip(&found) {
        let slot = &mut next[i as usize / BLOCK];
        by_block[*slot] = (i, *p);
        *slot += 1;
    }
    drop(found);
    phase("results by block");
    let parcels = &geocoder.parcels.parcels;
    let counts = reports
        .par_chunks_mut(BLOCK)
        .enumerate()
        .map(|(b, chunk)| {
            // Each report written once: the unlocated here, the located from their results.
            let mut c = MatchCounts::default();
            for r in chunk.iter_mut().filter(|r| point(r).is_none()) {
                r.parcel_id = None;
                r.sector_id = None;
                r.match_kind = MatchKind::None;
                r.distance_m = None;
                r.h3 = None;
                c.unlocated += 1;
            }
            for (i, p) in &by_block[block_start[b]..block_start[b + 1]] {
                let r = &mut chunk[*i as usize % BLOCK];
                r.parcel_id = p.parcel().map(|i| parcels[i].id.clone());
                r.sector_id = p.sector.cloned();
                r.match_kind = p.kind;
                r.distance_m = p.distance_m();
                r.h3 = (p.h3 != 0).then_some(p.h3);
                match p.kind {
                    MatchKind::Inside => c.inside += 1,
                    MatchKind::Nearest => c.nearest += 1,
                    MatchKind::None => c.none += 1,
                }
                c.in_sector += usize::from(p.sector.is_some());
            }
            c
        })
        .reduce(MatchCounts::default, |a, b| a + b);
    phase("written back");
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Parcel, ParcelId, Sector};
    use geo::{polygon, MultiPolygon};

    /// Two 0.001° squares side by side at the equator (about 111 m each).
    fn layer() -> ParcelLayer {
        let sq = |x0: f64| {
            MultiPolygon(vec![
                polygon![(x: x0, y: 0.0), (x: x0 + 0.001, y: 0.0), (x: x0 + 0.001, y: 0.001), (x: x0, y: 0.001), (x: x0, y: 0.0)],
            ])
        };
        ParcelLayer {
            fields: vec![],
            parcels: ["A", "B"]
                .iter()
                .enumerate()
                .map(|(i, id)| Parcel {
                    id: ParcelId::new(*id),
                    sector_id: Some(SectorId::new("S")),
                    area_m2: 0.0,
                    geometry: sq(i as f64 * 0.001),
                    attributes: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn inside_nearest_and_none() {
        let parcels = layer();
        let g = Geocoder::new(&parcels, None, 25.0);
        let m = g.locate(0.0015, 0.0005);
        assert_eq!(
            (m.parcel, m.kind, m.distance_m),
            (Some(1), MatchKind::Inside, Some(0.0))
        );
        assert_eq!(m.sector.as_ref().map(SectorId::as_str), Some("S"));
        // 0.0001° (about 11 m) south of parcel A.
        let m = g.locate(0.0005, -0.0001);
        assert_eq!((m.parcel, m.kind), (Some(0), MatchKind::Nearest));
        let d = m.distance_m.expect("distance");
        assert!((d - 11.06).abs() < 0.05, "{d}");
        // 0.0003° (about 33 m) away: beyond 25 m.
        let m = g.locate(0.0005, -0.0003);
        assert_eq!(
            (m.parcel, m.kind, m.distance_m),
            (None, MatchKind::None, None)
        );
    }

    #[test]
    fn shared_boundary_goes_to_the_first_parcel() {
        let parcels = layer();
        let g = Geocoder::new(&parcels, None, 25.0);
        assert_eq!(g.locate(0.001, 0.0005).parcel, Some(0));
        // The outer edges of the layer are boundaries too, the north-east corner included.
        for (x, y, p) in [
            (0.002, 0.0005, 1),
            (0.0015, 0.001, 1),
            (0.002, 0.001, 1),
            (0.0, 0.0, 0),
        ] {
            let m = g.locate(x, y);
            assert_eq!((m.parcel, m.kind), (Some(p), MatchKind::Inside), "{x} {y}");
        }
    }

    #[test]
    fn reused_h3_cells_equal_h3o() {
        // Walks of points in spatial order (as geocode_reports takes them) at several places:
        // Seoul, the equator, 60° N, Montevideo, by the antimeridian, at a pentagon and near
        // the 80° limit; steps of 3 to 60 m with jumps. Every cell must be h3o's own.
        let pentagon = pentagon_centre();
        let places = [
            (127.08, 37.51),
            (0.0, 0.0),
            (10.0, 60.0),
            (-56.19, -34.9),
            (179.999, -16.5),
            (pentagon.lng(), pentagon.lat()),
            (20.0, 79.99),
        ];
        // Steps from two Weyl sequences (fractional parts of multiples of irrationals): even,
        // deterministic, different in each axis.
        let mut k = 0u32;
        let mut next = || {
            k += 1;
            (f64::from(k)
                * if k.is_multiple_of(2) {
                    0.618_033_988_7
                } else {
                    0.414_213_562_4
                })
            .fract()
        };
        let mut reused = 0;
        for res in [5u8, 7, 8, 9, 10, 12, 15] {
            let res = h3o::Resolution::try_from(res).expect("res");
            for &(lon0, lat0) in &places {
                let mut cache = CellCache::new(res);
                let (mut lon, mut lat) = (lon0, lat0);
                for step in 0..4000 {
                    let jump = if step % 500 == 0 { 0.01 } else { 0.0006 };
                    lon += (next() - 0.5) * jump;
                    lat += (next() - 0.5) * jump * 0.5;
                    let direct = h3o::LatLng::new(lat, lon)
                        .ok()
                        .map(|ll| u64::from(ll.to_cell(res)));
                    reused += usize::from(cache.reuse(lon, lat).is_some());
                    assert_eq!(cache.cell(lon, lat), direct, "res {res} at {lon},{lat}");
                }
            }
        }
        // The disc does its work: at resolutions 7 to 9 (cells of 1.4 km to 170 m) most points
        // skip h3o.
        assert!(reused > 3 * 7 * 4000 / 2, "{reused}");
    }

    #[test]
    fn point_in_no_parcel_still_gets_its_sector() {
        let parcels = layer();
        let sectors = SectorLayer {
            fields: vec![],
            sectors: vec![Sector {
                id: SectorId::new("Z"),
                name: "Z".into(),
                population: None,
                area_m2: 0.0,
                geometry: MultiPolygon(vec![
                    polygon![(x: -1.0, y: -1.0), (x: 1.0, y: -1.0), (x: 1.0, y: 1.0), (x: -1.0, y: 1.0), (x: -1.0, y: -1.0)],
                ]),
                attributes: vec![],
            }],
        };
        let g = Geocoder::new(&parcels, Some(&sectors), 25.0);
        let m = g.locate(0.5, 0.5);
        assert_eq!(
            (m.kind, m.sector.as_ref().map(SectorId::as_str)),
            (MatchKind::None, Some("Z"))
        );
    }
}
