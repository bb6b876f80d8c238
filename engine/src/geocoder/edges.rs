//! The edge index of parcels with many vertices.
//!
//! A real cadastre has a few polygons of thousands of vertices whose envelopes cover most of
//! the city: road rights-of-way, rivers, rail, public domain (Cambridge's four ROAD polygons
//! have 4,248 to 18,604 vertices). Listed in every grid cell of their envelope and tested edge by
//! edge, they cost every point of the city tens of thousands of edge tests. Instead, such a
//! parcel is cut along the geocoder's grid: per cell of its envelope, the edges that come near
//! the cell, and how a point of the cell stands against the edges beyond it. A point then only
//! looks at the edges of its own cell (for the nearest search, of the cells near it), and a
//! cell wholly inside or wholly outside answers without any edge test.
//!
//! The answer is the even-odd ray cast of [`ParcelGrid::position`](super::grid::ParcelGrid),
//! split exactly: for a point of cell (c, r), an edge whose x-range lies left of the cell never
//! crosses the ray towards +x; one wholly right of it crosses when it straddles the point's y
//! (`lo <= y < hi`), which does not depend on x; the rest, the cell's *local* edges, get the full
//! test (crossing, or the point on the edge). The crossings of the right-hand edges are a step
//! function of y: their `lo` and `hi` values toggle it, values equal in pairs (two edges meeting
//! at a vertex) cancel, values below the cell's row always count (`base`), values above never
//! do, and the few left (`breaks`) are compared with y. Which edges lie left, right or local is
//! decided in the grid's own cell coordinates, with the same arithmetic that assigns a point to
//! its cell, so no rounding can put an edge on the wrong side of a point of the cell.
//!
//! In the spirit of GEOS's IndexedPointInAreaLocator and tg's y-stripes, narrowed to the cell.

use geo::coordinate_position::CoordPos;

use super::grid::ParcelGrid;

/// A parcel gets an edge index from this many vertices, when its envelope spans several cells.
pub(super) const BIG_VERTICES: usize = 48;

/// A big parcel in one grid cell.
#[derive(Clone, Copy, Debug)]
pub(super) struct BigCell {
    /// The parcel.
    pub(super) parcel: u32,
    /// The cell, row by row.
    pub(super) cell: u32,
    /// Its local edges: `EdgeIndex::edges[edges.0..edges.1]`.
    edges: (u32, u32),
    /// The y values where the right-hand crossings change: `EdgeIndex::breaks[..]`, ascending.
    breaks: (u32, u32),
    /// The parity of the right-hand crossings below the cell's row.
    base: bool,
}

/// The big parcels' cells, their local edges and breaks.
#[derive(Default)]
pub(super) struct EdgeIndex {
    pub(super) cells: Vec<BigCell>,
    /// Per local edge, the position of its first vertex in the grid's coordinate array (the
    /// edge runs to the next one).
    edges: Vec<u32>,
    breaks: Vec<f64>,
}

/// What one edge does to a point's ray towards +x.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Miss,
    Cross,
    OnEdge,
}

/// The ray-cast step of edge a–b for point (x, y): crossings of a ray towards +x (the side of
/// the edge taken from the sign of a cross product), or the point on the edge or its first
/// vertex. An edge with a NaN end (between two rings) misses.
#[inline]
fn step([ax, ay]: [f64; 2], [bx, by]: [f64; 2], x: f64, y: f64) -> Step {
    if (ay > y) != (by > y) {
        let cross = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
        if cross.is_nan() {
            Step::Miss
        } else if cross == 0.0 {
            Step::OnEdge
        } else if (cross > 0.0) == (by > ay) {
            Step::Cross
        } else {
            Step::Miss
        }
    } else if (ay == y && by == y && x >= ax.min(bx) && x <= ax.max(bx)) || (ax == x && ay == y) {
        Step::OnEdge
    } else {
        Step::Miss
    }
}

/// The ray test over `edges`, from the parity `inside` of the crossings already counted:
/// inside, outside, or on the boundary at the first edge the point lies on.
#[inline]
pub(super) fn ray_position(
    mut inside: bool,
    edges: impl Iterator<Item = ([f64; 2], [f64; 2])>,
    x: f64,
    y: f64,
) -> CoordPos {
    for (a, b) in edges {
        match step(a, b, x, y) {
            Step::Cross => inside = !inside,
            Step::OnEdge => return CoordPos::OnBoundary,
            Step::Miss => {}
        }
    }
    if inside {
        CoordPos::Inside
    } else {
        CoordPos::Outside
    }
}

impl EdgeIndex {
    /// The local edges of big cell `k`, as positions of their first vertex.
    pub(super) fn edges_of(&self, k: usize) -> &[u32] {
        let (a, b) = self.cells[k].edges;
        &self.edges[a as usize..b as usize]
    }

    /// The parity of the crossings of the edges right of big cell `k` by a ray at height `y`.
    pub(super) fn right_parity(&self, k: usize, y: f64) -> bool {
        let c = &self.cells[k];
        let breaks = &self.breaks[c.breaks.0 as usize..c.breaks.1 as usize];
        c.base ^ (breaks.iter().take_while(|&&b| b <= y).count() % 2 == 1)
    }

    /// Cuts parcel `i` (its run of the grid's coordinates) along the grid, over the cells
    /// `cols × rows` of its envelope, adding a [`BigCell`] for every cell its boundary comes
    /// near or that lies wholly inside it; cells wholly outside get none.
    pub(super) fn add(
        &mut self,
        grid: &ParcelGrid,
        i: usize,
        (cx0, cy0, cx1, cy1): (usize, usize, usize, usize),
    ) {
        let (s, e) = grid.start[i];
        let coords = &grid.coords;
        let fx = |x: f64| (x - grid.origin[0]) / grid.cell[0];
        let fy = |y: f64| (y - grid.origin[1]) / grid.cell[1];
        // Per row of the envelope, its edges with their (unclamped) local columns.
        let rows = cy1 - cy0 + 1;
        let mut by_row: Vec<Vec<(i64, i64, u32)>> = vec![Vec::new(); rows];
        for j in s as usize..(e as usize).saturating_sub(1) {
            let ([ax, ay], [bx, by]) = (coords[j], coords[j + 1]);
            if ax.is_nan() || bx.is_nan() {
                continue;
            }
            // Local to column c when fx(min x) <= c + 1 and fx(max x) >= c; rows alike.
            let c_lo = fx(ax.min(bx)).ceil() as i64 - 1;
            let c_hi = fx(ax.max(bx)).floor() as i64;
            let r_lo = (fy(ay.min(by)).ceil() as i64 - 1).max(cy0 as i64);
            let r_hi = (fy(ay.max(by)).floor() as i64).min(cy1 as i64);
            for r in r_lo..=r_hi {
                by_row[(r - cy0 as i64) as usize].push((c_lo, c_hi, j as u32));
            }
        }
        let mut local: Vec<(i64, u32)> = Vec::new();
        let mut toggles: Vec<f64> = Vec::new();
        for (dr, row) in by_row.iter_mut().enumerate() {
            let r = (cy0 + dr) as f64;
            // Right-hand edges join as the sweep moves left: by their first local column.
            row.sort_unstable_by_key(|&(c_lo, ..)| std::cmp::Reverse(c_lo));
            local.clear();
            for &(c_lo, c_hi, j) in row.iter() {
                for c in c_lo.max(cx0 as i64)..=c_hi.min(cx1 as i64) {
                    local.push((c, j));
                }
            }
            local.sort_unstable();
            toggles.clear();
            let mut base = false;
            let (mut next_right, mut next_local) = (0, local.len());
            for c in (cx0..=cx1).rev() {
                let c = c as i64;
                while next_right < row.len() && row[next_right].0 > c {
                    let j = row[next_right].2 as usize;
                    for v in [coords[j][1], coords[j + 1][1]] {
                        let f = fy(v);
                        if f < r {
                            base = !base;
                        } else if f <= r + 1.0 {
                            toggle(&mut toggles, v);
                        }
                    }
                    next_right += 1;
                }
                let first = local[..next_local].partition_point(|&(lc, _)| lc < c);
                let edges = &local[first..next_local];
                next_local = first;
                if edges.is_empty() && toggles.is_empty() && !base {
                    continue; // wholly outside
                }
                let edge_start = self.edges.len() as u32;
                self.edges.extend(edges.iter().map(|&(_, j)| j));
                let break_start = self.breaks.len() as u32;
                self.breaks.extend_from_slice(&toggles);
                self.cells.push(BigCell {
                    parcel: i as u32,
                    cell: ((cy0 + dr) * grid.nx + c as usize) as u32,
                    edges: (edge_start, self.edges.len() as u32),
                    breaks: (break_start, self.breaks.len() as u32),
                    base,
                });
            }
        }
    }

    /// Bytes held by the index.
    pub(super) fn heap_bytes(&self) -> usize {
        self.cells.len() * std::mem::size_of::<BigCell>()
            + self.edges.len() * 4
            + self.breaks.len() * 8
    }
}

/// Adds `v` to a sorted set, or takes it out when it is there: values met twice cancel.
fn toggle(set: &mut Vec<f64>, v: f64) {
    match set.binary_search_by(|x| x.total_cmp(&v)) {
        Ok(k) => {
            set.remove(k);
        }
        Err(k) => set.insert(k, v),
    }
}
