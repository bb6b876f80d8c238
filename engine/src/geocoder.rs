//! The geocoder: which parcel and sector a report's point falls in.
//!
//! A uniform grid over the parcels' envelopes (about one parcel per cell, stored as flat
//! arrays) gives the candidates; an exact point-in-polygon test on the parcels' rings, flattened
//! into one coordinate array, picks the parcel. Points on a boundary shared by several parcels
//! go to the first of them in catalog order, so the answer is deterministic. A point in no
//! parcel — citizens often drop the pin on the street in front of the house — goes to the
//! nearest parcel within a tolerance measured in metres on the ground, not in degrees. The
//! sector comes from the parcel, or from the sector polygons when no parcel is near.

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
        let point = Point::new(lon, lat);
        let (parcel, kind, distance_m) = match self.inside(point) {
            Some(i) => (Some(i), MatchKind::Inside, Some(0.0)),
            None => match self.nearest(point) {
                Some((i, d)) => (Some(i), MatchKind::Nearest, Some(d)),
                None => (None, MatchKind::None, None),
            },
        };
        let sector = match parcel {
            Some(i) => self.parcels.parcels[i].sector_id.clone(),
            None => self
                .sectors
                .as_ref()
                .and_then(|s| s.sector_at(point).cloned()),
        };
        Match {
            parcel,
            sector,
            kind,
            distance_m,
        }
    }

    fn inside(&self, point: Point<f64>) -> Option<usize> {
        let (x, y) = (point.x(), point.y());
        let g = &self.grid;
        let mut boundary: Option<usize> = None;
        // candidates come in layer order: the first inside wins, as does the first boundary
        for &i in g.cell_items(x, y) {
            let i = i as usize;
            let e = g.env[i];
            if x < e[0] || x > e[2] || y < e[1] || y > e[3] {
                continue;
            }
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
    /// centimetre over 25 m), without copying geometries; candidates whose envelope is already
    /// farther than the best so far are skipped.
    fn nearest(&self, point: Point<f64>) -> Option<(usize, f64)> {
        let (lon, lat) = (point.x(), point.y());
        let k = lat.to_radians().cos().max(1e-6);
        let (sx, sy) = (M_PER_DEG_LON_EQUATOR * k, M_PER_DEG_LAT);
        let (dx, dy) = (self.tolerance_m / sx, self.tolerance_m / sy);
        let limit2 = self.tolerance_m * self.tolerance_m;
        let g = &self.grid;
        let candidates = g.items_in([lon - dx, lat - dy, lon + dx, lat + dy]);
        let mut best: Option<(usize, f64)> = None;
        for i in candidates {
            let i = i as usize;
            let bound = best.map_or(limit2, |b| b.1);
            let env = g.env[i];
            let ex = (env[0] - lon).max(lon - env[2]).max(0.0) * sx;
            let ey = (env[1] - lat).max(lat - env[3]).max(0.0) * sy;
            if ex * ex + ey * ey > bound {
                continue;
            }
            let mut d2 = f64::INFINITY;
            for ring in g.rings_of(i) {
                for w in ring.windows(2) {
                    let a = ((w[0][0] - lon) * sx, (w[0][1] - lat) * sy);
                    let b = ((w[1][0] - lon) * sx, (w[1][1] - lat) * sy);
                    d2 = d2.min(segment_origin_d2(a, b));
                }
            }
            // candidates come in layer order: a tie keeps the first
            if d2 <= bound && best.is_none_or(|b| d2 < b.1) {
                best = Some((i, d2));
            }
        }
        best.map(|(i, d2)| (i, d2.sqrt()))
    }
}

/// The parcels flattened for point queries: envelopes, rings as runs of one coordinate array,
/// and a uniform grid (compressed rows) listing, per cell, the parcels whose envelope meets it,
/// in layer order.
struct ParcelGrid {
    /// `[min x, min y, max x, max y]` per parcel (inverted for an empty one).
    env: Vec<[f64; 4]>,
    coords: Vec<[f64; 2]>,
    /// `(start, end)` of each ring in `coords` (closed rings).
    rings: Vec<(u32, u32)>,
    /// Per parcel, its rings: `rings[ring_start[i]..ring_start[i + 1]]`.
    ring_start: Vec<u32>,
    origin: [f64; 2],
    cell: [f64; 2],
    nx: usize,
    ny: usize,
    cell_start: Vec<u32>,
    items: Vec<u32>,
}

impl ParcelGrid {
    fn new(layer: &ParcelLayer) -> Self {
        let n = layer.parcels.len();
        let mut env = Vec::with_capacity(n);
        let mut coords = Vec::new();
        let mut rings = Vec::new();
        let mut ring_start = Vec::with_capacity(n + 1);
        let mut all = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for p in &layer.parcels {
            ring_start.push(rings.len() as u32);
            for polygon in &p.geometry {
                for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                    let start = coords.len() as u32;
                    coords.extend(ring.0.iter().map(|c| [c.x, c.y]));
                    rings.push((start, coords.len() as u32));
                }
            }
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
        ring_start.push(rings.len() as u32);
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
            env,
            coords,
            rings,
            ring_start,
            origin: [all[0], all[1]],
            cell,
            nx,
            ny,
            cell_start: vec![0; nx * ny + 1],
            items: Vec::new(),
        };
        // two passes: count per cell, then fill in layer order
        for e in &grid.env {
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
        grid.items = vec![0; grid.cell_start[nx * ny] as usize];
        for (i, e) in grid.env.iter().enumerate() {
            if let Some((x0, y0, x1, y1)) = grid.span(*e) {
                for cy in y0..=y1 {
                    for cx in x0..=x1 {
                        let slot = &mut next[cy * nx + cx];
                        grid.items[*slot as usize] = i as u32;
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
        let fx = |x: f64| ((x - self.origin[0]) / self.cell[0]).floor();
        let fy = |y: f64| ((y - self.origin[1]) / self.cell[1]).floor();
        let (x0, x1, y0, y1) = (fx(e[0]), fx(e[2]), fy(e[1]), fy(e[3]));
        let (mx, my) = ((self.nx - 1) as f64, (self.ny - 1) as f64);
        if x1 < 0.0 || y1 < 0.0 || x0 > mx || y0 > my {
            return None;
        }
        Some((
            x0.max(0.0) as usize,
            y0.max(0.0) as usize,
            x1.min(mx) as usize,
            y1.min(my) as usize,
        ))
    }

    /// A sort key that keeps points of one cell together (cells row by row; outside the grid,
    /// last).
    fn cell_key(&self, x: f64, y: f64) -> u32 {
        self.span([x, y, x, y])
            .map_or(u32::MAX, |(cx, cy, ..)| (cy * self.nx + cx) as u32)
    }

    /// The parcels listed in the cell of a point (none outside the grid).
    fn cell_items(&self, x: f64, y: f64) -> &[u32] {
        match self.span([x, y, x, y]) {
            Some((cx, cy, ..)) => {
                let c = cy * self.nx + cx;
                &self.items[self.cell_start[c] as usize..self.cell_start[c + 1] as usize]
            }
            None => &[],
        }
    }

    /// The parcels listed in the cells a box meets, each once, in layer order.
    fn items_in(&self, b: [f64; 4]) -> Vec<u32> {
        let Some((x0, y0, x1, y1)) = self.span(b) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for cy in y0..=y1 {
            let row = cy * self.nx;
            let (a, z) = (
                self.cell_start[row + x0] as usize,
                self.cell_start[row + x1 + 1] as usize,
            );
            out.extend_from_slice(&self.items[a..z]);
        }
        if y1 > y0 || x1 > x0 {
            out.sort_unstable();
            out.dedup();
        }
        out
    }

    fn rings_of(&self, i: usize) -> impl Iterator<Item = &[[f64; 2]]> {
        let (a, b) = (self.ring_start[i] as usize, self.ring_start[i + 1] as usize);
        self.rings[a..b]
            .iter()
            .map(|&(s, e)| &self.coords[s as usize..e as usize])
    }

    /// Inside, on the boundary or outside parcel `i`: crossings of a ray towards +x over all
    /// its rings (even-odd, right for valid polygons with holes and multipolygons), with the
    /// side of each edge taken from the sign of a cross product; a point on an edge or a vertex
    /// is on the boundary.
    fn position(&self, i: usize, x: f64, y: f64) -> CoordPos {
        let mut inside = false;
        for ring in self.rings_of(i) {
            for w in ring.windows(2) {
                let ([ax, ay], [bx, by]) = (w[0], w[1]);
                if (ay > y) != (by > y) {
                    let cross = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
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
        }
        if inside {
            CoordPos::Inside
        } else {
            CoordPos::Outside
        }
    }
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
    // cache; then written back in place.
    let mut order: Vec<(u32, u32)> = reports
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match (r.lon, r.lat, r.location) {
            (Some(lon), Some(lat), Location::Located) => {
                Some((geocoder.grid.cell_key(lon, lat), i as u32))
            }
            _ => None,
        })
        .collect();
    order.par_sort_unstable();
    let found: Vec<(Match, Option<u64>)> = order
        .par_iter()
        .with_min_len(1024)
        .map(|&(_, i)| {
            let r = &reports[i as usize];
            let (lon, lat) = (r.lon.unwrap_or_default(), r.lat.unwrap_or_default());
            let h3 = h3o::LatLng::new(lat, lon)
                .ok()
                .map(|ll| u64::from(ll.to_cell(h3_resolution)));
            (geocoder.locate(lon, lat), h3)
        })
        .collect();
    reports.par_iter_mut().with_min_len(1024).for_each(|r| {
        r.parcel_id = None;
        r.sector_id = None;
        r.match_kind = MatchKind::None;
        r.distance_m = None;
        r.h3 = None;
    });
    for (&(_, i), (m, h3)) in order.iter().zip(found) {
        let r = &mut reports[i as usize];
        r.parcel_id = m.parcel.map(|p| geocoder.parcels.parcels[p].id.clone());
        r.sector_id = m.sector;
        r.match_kind = m.kind;
        r.distance_m = m.distance_m;
        r.h3 = h3;
    }
    let mut counts = MatchCounts::default();
    for r in reports.iter() {
        match (r.location, r.match_kind) {
            (Location::Located, MatchKind::Inside) => counts.inside += 1,
            (Location::Located, MatchKind::Nearest) => counts.nearest += 1,
            (Location::Located, MatchKind::None) => counts.none += 1,
            _ => counts.unlocated += 1,
        }
        counts.in_sector += usize::from(r.sector_id.is_some());
    }
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
