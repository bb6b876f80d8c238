//! The parcels' grid: a uniform grid over their envelopes (about one parcel per cell, flat
//! arrays) with their rings flattened into one coordinate array; the exact point-in-polygon
//! test and the nearest-parcel search run on it.

use geo::coordinate_position::CoordPos;
use geo::BoundingRect;

use super::edges::{ray_position, EdgeIndex, BIG_VERTICES};
use crate::model::ParcelLayer;

/// The parcels flattened for point queries: each parcel's rings as one run of a coordinate
/// array (rings separated by a NaN point; runs in the order of the parcels' first grid cells),
/// and a uniform grid (compressed rows) listing, per
/// cell, the parcels whose envelope meets it, in layer order, each with its envelope.
pub(super) struct ParcelGrid {
    pub(super) coords: Vec<[f64; 2]>,
    /// Per parcel, its run `coords[start..end]`.
    pub(super) start: Vec<(u32, u32)>,
    pub(super) origin: [f64; 2],
    pub(super) cell: [f64; 2],
    pub(super) nx: usize,
    pub(super) ny: usize,
    pub(super) cell_start: Vec<u32>,
    pub(super) items: Vec<Item>,
    /// The parcels with many vertices, cut along the grid.
    pub(super) big: EdgeIndex,
}

/// A parcel listed in a grid cell, with its envelope relative to the grid's origin in `f32`
/// rounded outwards (so that testing a point against it never rejects a parcel that holds it;
/// and next to the index, so that the test costs no other read).
#[derive(Clone, Copy)]
pub(super) struct Item {
    /// The parcel, or for a parcel with an edge index [`BIG`] plus its cell's position in
    /// [`EdgeIndex::cells`].
    pub(super) parcel: u32,
    /// `[min x, min y, max x, max y]`.
    pub(super) env: [f32; 4],
}

/// The flag of an [`Item`] that is a big parcel's cell.
pub(super) const BIG: u32 = 1 << 31;

impl Item {
    /// The big parcel's cell this item stands for, if it is one.
    pub(super) fn big(&self) -> Option<usize> {
        (self.parcel & BIG != 0).then_some((self.parcel & !BIG) as usize)
    }

    /// Whether the envelope holds a point given relative to the grid's origin.
    pub(super) fn may_hold(&self, rx: f64, ry: f64) -> bool {
        let e = self.env;
        rx >= f64::from(e[0])
            && rx <= f64::from(e[2])
            && ry >= f64::from(e[1])
            && ry <= f64::from(e[3])
    }
}

impl ParcelGrid {
    pub(super) fn new(layer: &ParcelLayer) -> Self {
        Self::with_big_vertices(layer, BIG_VERTICES)
    }

    /// The grid, with an edge index for the parcels of `big_vertices` vertices or more.
    pub(super) fn with_big_vertices(layer: &ParcelLayer, big_vertices: usize) -> Self {
        let (env, all) = envelopes(layer);
        let n = env.len();
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
            big: EdgeIndex::default(),
        };
        grid.lay_out_rings(layer, &env);
        let big = grid.index_big_parcels(&env, big_vertices);
        grid.fill_cells(&env, &big);
        grid
    }

    /// Cuts the parcels with many vertices along the grid; per parcel, its range of
    /// [`EdgeIndex::cells`] (none for the others).
    fn index_big_parcels(
        &mut self,
        env: &[[f64; 4]],
        big_vertices: usize,
    ) -> Vec<Option<(u32, u32)>> {
        let mut index = std::mem::take(&mut self.big);
        let ranges = env
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let (a, b) = self.start[i];
                let span = self.span(*e)?;
                let cells = (span.2 - span.0 + 1) * (span.3 - span.1 + 1);
                if ((b - a) as usize) < big_vertices || cells < 4 {
                    return None;
                }
                let first = index.cells.len() as u32;
                index.add(self, i, span);
                Some((first, index.cells.len() as u32))
            })
            .collect();
        self.big = index;
        ranges
    }

    /// Lays the parcels' rings out in one coordinate array, in the order of each parcel's first
    /// cell (row by row), as points are located: the parcels of one row of cells lie together.
    fn lay_out_rings(&mut self, layer: &ParcelLayer, env: &[[f64; 4]]) {
        let (n, nx) = (env.len(), self.nx);
        let grid = &*self;
        let mut coords = Vec::new();
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
        self.coords = coords;
        self.start = run;
    }

    /// Lists each parcel in every cell its envelope touches (a big parcel in the cells of its
    /// edge index): two passes, a count per cell, then the parcels in layer order.
    fn fill_cells(&mut self, env: &[[f64; 4]], big: &[Option<(u32, u32)>]) {
        let (nx, ny) = (self.nx, self.ny);
        let grid = self;
        for (e, big) in env.iter().zip(big) {
            if let Some((a, b)) = big {
                for k in *a..*b {
                    grid.cell_start[grid.big.cells[k as usize].cell as usize + 1] += 1;
                }
            } else if let Some((x0, y0, x1, y1)) = grid.span(*e) {
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
            let item = Item {
                parcel: i as u32,
                env: [
                    down(e[0] - ox),
                    down(e[1] - oy),
                    up(e[2] - ox),
                    up(e[3] - oy),
                ],
            };
            if let Some((a, b)) = big[i] {
                for k in a..b {
                    let slot = &mut next[grid.big.cells[k as usize].cell as usize];
                    grid.items[*slot as usize] = Item {
                        parcel: BIG | k,
                        ..item
                    };
                    *slot += 1;
                }
            } else if let Some((x0, y0, x1, y1)) = grid.span(*e) {
                for cy in y0..=y1 {
                    for cx in x0..=x1 {
                        let slot = &mut next[cy * nx + cx];
                        grid.items[*slot as usize] = item;
                        *slot += 1;
                    }
                }
            }
        }
    }

    /// The cells a box meets, clamped to the grid; `None` for an empty box or one outside.
    pub(super) fn span(&self, e: [f64; 4]) -> Option<(usize, usize, usize, usize)> {
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
    pub(super) fn cell_key(&self, x: f64, y: f64) -> u32 {
        self.span([x, y, x, y])
            .map_or(u32::MAX, |(cx, cy, ..)| (cy * self.nx + cx) as u32)
    }

    /// The parcels listed in the cell of a point (none outside the grid).
    pub(super) fn cell_items(&self, x: f64, y: f64) -> &[Item] {
        match self.span([x, y, x, y]) {
            Some((cx, cy, ..)) => self.items_of(cy * self.nx + cx),
            None => &[],
        }
    }

    /// The parcels listed in cell `c`, in layer order.
    pub(super) fn items_of(&self, c: usize) -> &[Item] {
        &self.items[self.cell_start[c] as usize..self.cell_start[c + 1] as usize]
    }

    /// The rings of parcel `i`, one after the other, separated by a NaN point.
    pub(super) fn coords_of(&self, i: usize) -> &[[f64; 2]] {
        let (a, b) = self.start[i];
        &self.coords[a as usize..b as usize]
    }

    /// Inside, on the boundary or outside parcel `i`: crossings of a ray towards +x over all
    /// its rings (even-odd, right for valid polygons with holes and multipolygons), with the
    /// side of each edge taken from the sign of a cross product; a point on an edge or a vertex
    /// is on the boundary.
    pub(super) fn position(&self, i: usize, x: f64, y: f64) -> CoordPos {
        let edges = self.coords_of(i).windows(2).map(|w| (w[0], w[1]));
        ray_position(false, edges, x, y)
    }

    /// [`ParcelGrid::position`] for a point of the cell of big cell `k`: the crossings right of
    /// the cell from its breaks, its local edges tested one by one.
    pub(super) fn position_big(&self, k: usize, x: f64, y: f64) -> CoordPos {
        let edges = self.big.edges_of(k).iter().map(|&j| {
            let j = j as usize;
            (self.coords[j], self.coords[j + 1])
        });
        ray_position(self.big.right_parity(k, y), edges, x, y)
    }
}

/// Each parcel's envelope `[min x, min y, max x, max y]` (inverted for an empty geometry) and
/// the envelope of them all (zero when there is none).
fn envelopes(layer: &ParcelLayer) -> (Vec<[f64; 4]>, [f64; 4]) {
    let n = layer.parcels.len();
    let mut env = Vec::with_capacity(n);
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
    (env, all)
}

/// Squared distance from the origin to the segment a–b.
pub(super) fn segment_origin_d2(a: (f64, f64), b: (f64, f64)) -> f64 {
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
