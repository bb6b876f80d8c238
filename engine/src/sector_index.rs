//! Which sector a parcel belongs to: the sector containing the parcel's interior point, else
//! (a parcel on the edge of the sectors, its interior point outside them all) the sector it
//! overlaps most.

use geo::{Area, BooleanOps, BoundingRect, Contains, InteriorPoint, MultiPolygon, Point};
use rstar::{RTree, RTreeObject, AABB};

use crate::model::{SectorId, SectorLayer};

/// A geometry's envelope and its position in its layer, for the R-trees of this crate.
pub(crate) struct Entry {
    envelope: AABB<[f64; 2]>,
    pub(crate) index: usize,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// Bulk-loads an R-tree over the envelopes of `geometries`, keeping their positions.
pub(crate) fn envelope_tree<'g>(
    geometries: impl Iterator<Item = &'g MultiPolygon<f64>>,
) -> RTree<Entry> {
    let entries = geometries
        .enumerate()
        .filter_map(|(index, g)| {
            let r = g.bounding_rect()?;
            Some(Entry {
                envelope: AABB::from_corners(r.min().into(), r.max().into()),
                index,
            })
        })
        .collect();
    RTree::bulk_load(entries)
}

/// An R-tree over sector envelopes with exact point-in-polygon on the candidates.
pub struct SectorIndex<'a> {
    layer: &'a SectorLayer,
    tree: RTree<Entry>,
}

impl<'a> SectorIndex<'a> {
    /// Bulk-loads the index over `layer`.
    pub fn new(layer: &'a SectorLayer) -> Self {
        Self {
            layer,
            tree: envelope_tree(layer.sectors.iter().map(|s| &s.geometry)),
        }
    }

    /// The sector containing `point` (lon/lat). Where sectors overlap, the one first in the
    /// layer wins, so the answer is deterministic.
    pub fn sector_at(&self, point: Point<f64>) -> Option<&'a SectorId> {
        let p = [point.x(), point.y()];
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_point(p))
            .filter(|e| self.layer.sectors[e.index].geometry.contains(&point))
            .map(|e| e.index)
            .min()
            .map(|i| &self.layer.sectors[i].id)
    }

    /// The sector of a parcel: the one containing the parcel's interior point; when none does
    /// (a parcel partly outside every sector, on the edge of the municipality), the one it
    /// overlaps most (the first in the layer on a tie); none when it overlaps none.
    pub fn sector_of(&self, parcel: &MultiPolygon<f64>) -> Option<&'a SectorId> {
        if let Some(s) = self.sector_at(parcel.interior_point()?) {
            return Some(s);
        }
        let r = parcel.bounding_rect()?;
        let mut best: Option<(f64, usize)> = None;
        let mut candidates: Vec<usize> = self
            .tree
            .locate_in_envelope_intersecting(&AABB::from_corners(r.min().into(), r.max().into()))
            .map(|e| e.index)
            .collect();
        candidates.sort_unstable();
        for i in candidates {
            let area = self.layer.sectors[i]
                .geometry
                .intersection(parcel)
                .unsigned_area();
            if area > 0.0 && best.is_none_or(|(a, _)| area > a) {
                best = Some((area, i));
            }
        }
        best.map(|(_, i)| &self.layer.sectors[i].id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sector;
    use geo::{polygon, MultiPolygon};

    fn sector(id: &str, x0: f64, x1: f64) -> Sector {
        Sector {
            id: SectorId::new(id),
            name: id.into(),
            population: None,
            area_m2: 0.0,
            geometry: MultiPolygon(vec![
                polygon![(x: x0, y: 0.0), (x: x1, y: 0.0), (x: x1, y: 1.0), (x: x0, y: 1.0), (x: x0, y: 0.0)],
            ]),
            attributes: vec![],
        }
    }

    #[test]
    fn parcel_goes_to_the_sector_holding_its_interior_point() {
        let layer = SectorLayer {
            fields: vec![],
            sectors: vec![sector("W", 0.0, 1.0), sector("E", 1.0, 2.0)],
        };
        let index = SectorIndex::new(&layer);
        // A parcel straddling the boundary, mostly in E.
        let parcel = MultiPolygon(vec![
            polygon![(x: 0.9, y: 0.2), (x: 1.9, y: 0.2), (x: 1.9, y: 0.4), (x: 0.9, y: 0.4), (x: 0.9, y: 0.2)],
        ]);
        assert_eq!(index.sector_of(&parcel).map(SectorId::as_str), Some("E"));
        let outside = MultiPolygon(vec![
            polygon![(x: 5.0, y: 5.0), (x: 6.0, y: 5.0), (x: 6.0, y: 6.0), (x: 5.0, y: 5.0)],
        ]);
        assert_eq!(index.sector_of(&outside), None);
        // Mostly outside every sector, its interior point outside too: the sector it overlaps.
        let edge = MultiPolygon(vec![
            polygon![(x: 1.5, y: 0.9), (x: 1.7, y: 0.9), (x: 1.7, y: 3.0), (x: 1.5, y: 3.0), (x: 1.5, y: 0.9)],
        ]);
        assert!(index
            .sector_at(edge.interior_point().expect("a point"))
            .is_none());
        assert_eq!(index.sector_of(&edge).map(SectorId::as_str), Some("E"));
    }
}
