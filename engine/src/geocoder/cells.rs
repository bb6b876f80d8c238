//! H3 cells of points that come in spatial order, reusing the last few cells' shapes.

use super::grid::segment_origin_d2;
use super::metres_per_degree;

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
    pub(super) res: h3o::Resolution,
    /// Recent cells.
    pub(super) recent: [Option<KnownCell>; 4],
    /// The slot the next new cell takes.
    pub(super) next: usize,
}

#[derive(Clone, Copy)]
pub(super) struct KnownCell {
    pub(super) cell: u64,
    /// Centre (lon, lat) and metres per degree of longitude and of latitude there.
    pub(super) centre: [f64; 2],
    pub(super) scale: (f64, f64),
    /// Squared radius of the inner disc (0: never reused).
    pub(super) r2: f64,
    /// Inward unit normals and offsets of the hexagon's edges, margin included: a point `p`
    /// (metres from the centre) is inside when `n · p >= c` for all six (none: disc only).
    pub(super) edges: Option<[[f64; 3]; 6]>,
}

impl KnownCell {
    pub(super) fn new(cell: h3o::CellIndex) -> Self {
        let centre = h3o::LatLng::from(cell);
        let (x0, y0) = (centre.lng(), centre.lat());
        let (kx, ky) = metres_per_degree(y0);
        let mut known = KnownCell {
            cell: u64::from(cell),
            centre: [x0, y0],
            scale: (kx, ky),
            r2: 0.0,
            edges: None,
        };
        if cell.resolution() < h3o::Resolution::Seven || y0.abs() > 80.0 {
            return known;
        }
        let v: Vec<(f64, f64)> = cell
            .boundary()
            .iter()
            .map(|p| ((p.lng() - x0) * kx, (p.lat() - y0) * ky))
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

    pub(super) fn holds(&self, lon: f64, lat: f64) -> bool {
        let [x0, y0] = self.centre;
        let (dx, dy) = ((lon - x0) * self.scale.0, (lat - y0) * self.scale.1);
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
    pub(super) fn reuse(&self, lon: f64, lat: f64) -> Option<u64> {
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
