//! Polygons in normalised Web Mercator with an R-tree over their bounds: what every layer
//! cuts its tiles from.

use std::collections::HashMap;
use std::hash::Hasher;

use geo::MultiPolygon;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{
    Envelope as _, ParentNode, RStarInsertionStrategy, RTree, RTreeNode, RTreeObject as _,
    RTreeParams, AABB,
};

use crate::coord::TileCoord;
use crate::geom::{self, TileFrame, BUFFER};

pub(super) type Entry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// Nodes of up to 16 children (rstar's default is 6): a tile's query visits fewer nodes, each a
/// run of bounds side by side. A cold z15 parcel tile spent a tenth of its time walking the
/// default tree for its candidates.
pub(super) struct Wide;

impl RTreeParams for Wide {
    const MIN_SIZE: usize = 6;
    const MAX_SIZE: usize = 16;
    const REINSERTION_COUNT: usize = 4;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

/// The features' ids, one after the other in one buffer: a tile reads the ids of features
/// near each other in the layer, which here lie near each other in memory (a `Vec<String>`
/// scattered them over the heap, and reading each was a cache miss: half of the time spent
/// tagging a cold parcel tile).
#[derive(Debug, Default)]
pub(super) struct Names {
    text: String,
    /// Where each id ends in `text`.
    ends: Vec<usize>,
}

impl Names {
    fn push(&mut self, name: &str) {
        self.text.push_str(name);
        self.ends.push(self.text.len());
    }

    /// The `i`-th id.
    pub(super) fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.get(i))
    }
}

impl std::hash::Hash for Names {
    /// As the `Vec<&str>` of the ids hashes.
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.len().hash(h);
        for s in self.iter() {
            s.hash(h);
        }
    }
}

/// A text (or none) per feature, each distinct text stored once, one after the other: a tile
/// reads the texts of its features from a short list that stays in cache. A `String` per
/// feature scattered them over the heap, and loading each parcel's sector id was a cache miss
/// (a tenth of the time of a cold parcel tile).
#[derive(Debug, Default)]
pub(super) struct TextColumn {
    /// Each feature's text in `texts`; [`TextColumn::NONE`] for none.
    codes: Vec<u32>,
    texts: Names,
}

impl TextColumn {
    const NONE: u32 = u32::MAX;

    pub(super) fn new(values: impl Iterator<Item = Option<String>>) -> Self {
        let mut seen: HashMap<String, u32> = HashMap::new();
        let mut texts = Names::default();
        let codes = values
            .map(|v| match v {
                None => Self::NONE,
                Some(v) => *seen.entry(v).or_insert_with_key(|v| {
                    texts.push(v);
                    texts.len() as u32 - 1
                }),
            })
            .collect();
        Self { codes, texts }
    }

    /// The text of feature `i`.
    pub(super) fn get(&self, i: usize) -> Option<&str> {
        let code = self.codes[i];
        (code != Self::NONE).then(|| self.texts.get(code as usize))
    }

    /// The distinct texts.
    pub(super) fn distinct(&self) -> impl Iterator<Item = &str> {
        self.texts.iter()
    }
}

/// Polygons in normalised Web Mercator with an R-tree over their bounds.
pub(super) struct Features {
    pub(super) ids: Names,
    pub(super) index: HashMap<String, u32>,
    pub(super) geometries: Vec<MultiPolygon<f64>>,
    pub(super) bounds: Vec<[f64; 4]>,
    pub(super) tree: RTree<Entry, Wide>,
}

impl Features {
    pub(super) fn new<'a>(items: impl Iterator<Item = (String, &'a MultiPolygon<f64>)>) -> Self {
        let mut ids = Names::default();
        let mut index = HashMap::new();
        let mut geometries = Vec::new();
        let mut bounds = Vec::new();
        for (id, g) in items {
            let m = geom::to_mercator(g);
            bounds.push(geom::bounds(&m));
            geometries.push(m);
            ids.push(&id);
            // A repeated id names its last feature.
            index.insert(id, ids.len() as u32 - 1);
        }
        let tree = RTree::bulk_load_with_params(
            bounds
                .iter()
                .enumerate()
                .filter(|(_, b)| b[0] <= b[2])
                .map(|(i, b)| {
                    GeomWithData::new(
                        Rectangle::from_corners([b[0], b[1]], [b[2], b[3]]),
                        i as u32,
                    )
                })
                .collect(),
        );
        Self {
            ids,
            index,
            geometries,
            bounds,
            tree,
        }
    }

    /// Features whose bounds meet `b`, in layer order (so tiles are byte-for-byte stable).
    pub(super) fn within(&self, b: [f64; 4]) -> Vec<u32> {
        let env = AABB::from_corners([b[0], b[1]], [b[2], b[3]]);
        let mut v = Vec::new();
        collect(self.tree.root(), &env, &mut v);
        in_layer_order(v)
    }

    pub(super) fn lonlat_bounds(&self) -> Option<[f64; 4]> {
        let mut b = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for x in &self.bounds {
            b = [
                b[0].min(x[0]),
                b[1].min(x[1]),
                b[2].max(x[2]),
                b[3].max(x[3]),
            ];
        }
        (b[0] <= b[2]).then(|| {
            let sw = geom::lonlat(geo::Coord { x: b[0], y: b[3] });
            let ne = geom::lonlat(geo::Coord { x: b[2], y: b[1] });
            [sw.x, sw.y, ne.x, ne.y]
        })
    }

    pub(super) fn geometry_hash(&self, i: usize, h: &mut impl Hasher) {
        for p in &self.geometries[i].0 {
            for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                for c in &r.0 {
                    h.write_u64(c.x.to_bits());
                    h.write_u64(c.y.to_bits());
                }
            }
        }
    }
}

/// The entries under `node` whose bounds meet `env`, by a walk of the tree's nodes (rstar's
/// query iterator kept its own stack and selection function and took twice the time).
fn collect(node: &ParentNode<Entry>, env: &AABB<[f64; 2]>, out: &mut Vec<u32>) {
    for child in node.children() {
        match child {
            RTreeNode::Leaf(e) => {
                if env.intersects(&e.envelope()) {
                    out.push(e.data);
                }
            }
            RTreeNode::Parent(p) => {
                if env.intersects(&p.envelope()) {
                    collect(p, env, out);
                }
            }
        }
    }
}

/// Feature numbers in layer order: by the engine's radix sort, where a comparison sort of a
/// tile's few thousand candidates took a few percent of the tile; a short list by comparison.
fn in_layer_order(mut v: Vec<u32>) -> Vec<u32> {
    if v.len() < 64 {
        v.sort_unstable();
        return v;
    }
    predio_engine::radix_sort_by_key(v, |&i| u64::from(i))
}

/// The finest computed H3 resolution whose hexagons are at least 6 pixels across at `tile`,
/// else the coarsest.
pub(super) fn resolution_at(levels: &[(u8, Features)], tile: TileCoord) -> Option<u8> {
    let [_, s, _, n] = tile.bounds_lonlat();
    let lat = ((s + n) / 2.0).to_radians();
    let metres_per_pixel = 40_075_016.686 * lat.cos() / (256.0 * f64::from(1u32 << tile.z()));
    let edge_px =
        |r: u8| h3o::Resolution::try_from(r).map_or(0.0, |r| r.edge_length_m() / metres_per_pixel);
    let fine = levels
        .iter()
        .rev()
        .map(|(r, _)| *r)
        .find(|&r| edge_px(r) >= 6.0);
    fine.or_else(|| levels.first().map(|(r, _)| *r))
}

/// The resolution drawn at `tile` ([`resolution_at`]) with its cells.
pub(super) fn level_at(levels: &[(u8, Features)], tile: TileCoord) -> Option<(u8, &Features)> {
    let res = resolution_at(levels, tile)?;
    levels.iter().find(|(r, _)| *r == res).map(|(r, f)| (*r, f))
}

/// The H3 cells of a tile, grown by two hexagon edges so that a cell whose centre lies outside
/// still shows its edge.
pub(super) fn cells_near(features: &Features, frame: &TileFrame, res: u8) -> Vec<u32> {
    let hex =
        h3o::Resolution::try_from(res).map_or(0.0, |r| 2.0 * r.edge_length_m()) / 40_075_016.686;
    let [a, b, c, d] = frame.bounds(BUFFER);
    let lat_scale = 1.0
        / geom::lonlat(geo::Coord {
            x: a,
            y: (b + d) / 2.0,
        })
        .y
        .to_radians()
        .cos();
    let grow = hex * lat_scale;
    features.within([a - grow, b - grow, c + grow, d + grow])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ids_sort_as_sort_unstable_does(v in prop::collection::vec(0..5_000_000_u32, 0..3000)) {
            let mut expected = v.clone();
            expected.sort_unstable();
            prop_assert_eq!(in_layer_order(v), expected);
        }

        #[test]
        fn the_walk_finds_what_the_query_iterator_finds(
            boxes in prop::collection::vec((0.0..1.0_f64, 0.0..1.0_f64, 0.0..0.05_f64, 0.0..0.05_f64), 0..400),
            q in (0.0..1.0_f64, 0.0..1.0_f64, 0.0..0.3_f64, 0.0..0.3_f64),
        ) {
            let entries: Vec<Entry> = boxes
                .iter()
                .enumerate()
                .map(|(i, &(x, y, w, h))| {
                    GeomWithData::new(Rectangle::from_corners([x, y], [x + w, y + h]), i as u32)
                })
                .collect();
            let tree: RTree<Entry, Wide> = RTree::bulk_load_with_params(entries);
            let env = AABB::from_corners([q.0, q.1], [q.0 + q.2, q.1 + q.3]);
            let mut expected: Vec<u32> =
                tree.locate_in_envelope_intersecting(&env).map(|e| e.data).collect();
            expected.sort_unstable();
            let mut found = Vec::new();
            collect(tree.root(), &env, &mut found);
            prop_assert_eq!(in_layer_order(found), expected);
        }
    }
}
