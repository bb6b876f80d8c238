//! The `hotspots` layer: Getis–Ord Gi* of the reports received per H3 cell (engine::hotspots,
//! the statistic `predio hotspots` prints), computed once per filter and resolution, drawing
//! the cells that are hot or cold after the false-discovery-rate correction.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use predio_engine::hotspots::{study_area_hot_spots, SpotClass, StudyOptions};

use super::attributes::{encode_layer, IndexTable};
use super::features::{cells_near, level_at, Features};
use super::{FieldKind, Selection, TileProvider, TileSourceError};
use crate::coord::TileCoord;
use crate::geom::TileFrame;
use crate::mvt::TagValue;

/// One cell's statistic.
#[derive(Debug, Clone, Copy)]
struct Spot {
    z: f64,
    p: f64,
    q: f64,
    neighbours: u32,
    hot: bool,
}

/// Per feature of a resolution, its spot where it is hot or cold.
type Spots = Arc<Vec<Option<Spot>>>;

/// Hot and cold spots of the reports received, on the heat layer's hexagons.
pub struct HotspotLayer {
    levels: Arc<Vec<(u8, Features)>>,
    /// The heat layer's table: its attributes per filter are read once for both layers.
    table: Arc<IndexTable>,
    /// The column of `received`, the value Gi* is computed on.
    received: usize,
    /// Per resolution, the study area (`predio hotspots`'s: cells without reports count).
    study: HashMap<u8, Vec<h3o::CellIndex>>,
    options: StudyOptions,
    cache: Mutex<HashMap<(Selection, u8), Spots>>,
}

impl HotspotLayer {
    pub(super) fn new(
        levels: Arc<Vec<(u8, Features)>>,
        table: Arc<IndexTable>,
        study: HashMap<u8, Vec<h3o::CellIndex>>,
        options: StudyOptions,
    ) -> Result<Self, TileSourceError> {
        let received = table
            .fields
            .iter()
            .position(|f| f.name == "received")
            .ok_or_else(|| TileSourceError::Table {
                layer: "hotspots".into(),
                message: "the cell table has no received column".into(),
            })?;
        Ok(Self {
            levels,
            table,
            received,
            study,
            options,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Gi* of the study area at resolution `res` under `filter`, as `predio hotspots` computes
    /// it; kept for the cells with reports (the hexagons drawn) that are hot or cold.
    fn spots(
        &self,
        filter: &Selection,
        res: u8,
        features: &Features,
    ) -> Result<Spots, TileSourceError> {
        let key = (filter.clone(), res);
        let poisoned = || TileSourceError::Table {
            layer: "hotspots".into(),
            message: "cache poisoned by a panic".into(),
        };
        if let Some(s) = self.cache.lock().map_err(|_| poisoned())?.get(&key) {
            return Ok(Arc::clone(s));
        }
        let n = features.ids.len();
        let attrs = self
            .table
            .attributes(filter, Some(res), &features.index, n)?;
        let mut input = Vec::new();
        let mut of = Vec::new();
        for (i, &row) in attrs.rows.iter().enumerate() {
            if row == u32::MAX {
                continue;
            }
            let Some(v) = attrs.get(self.received, row) else {
                continue;
            };
            if let Ok(cell) = features.ids.get(i).parse::<h3o::CellIndex>() {
                input.push((cell, v));
                of.push(i);
            }
        }
        let feature_of: HashMap<h3o::CellIndex, usize> =
            input.iter().map(|(c, _)| *c).zip(of).collect();
        let study = self.study.get(&res).map_or(&[][..], Vec::as_slice);
        let mut spots = vec![None; n];
        for s in study_area_hot_spots(study, &input, &self.options) {
            let Some(&i) = feature_of.get(&s.cell) else {
                continue; // an empty cell of the study area: no hexagon to draw
            };
            if s.class != SpotClass::None {
                spots[i] = Some(Spot {
                    z: s.gi.z,
                    p: s.gi.p,
                    q: s.q_sim.unwrap_or(s.q),
                    neighbours: u32::try_from(s.neighbours).unwrap_or(u32::MAX),
                    hot: s.class == SpotClass::Hot,
                });
            }
        }
        let spots = Arc::new(spots);
        self.cache
            .lock()
            .map_err(|_| poisoned())?
            .insert(key, Arc::clone(&spots));
        Ok(spots)
    }
}

impl TileProvider for HotspotLayer {
    fn name(&self) -> &str {
        "hotspots"
    }

    fn description(&self) -> &str {
        "H3 cells that are hot or cold spots of reports received (Getis-Ord Gi* over the study area, permutation p-values, FDR-corrected)"
    }

    fn fields(&self) -> Vec<(String, FieldKind, String)> {
        [
            ("cell", FieldKind::Text, "H3 cell index"),
            ("res", FieldKind::Count, "H3 resolution"),
            ("class", FieldKind::Text, "hot or cold"),
            ("z", FieldKind::Number, "Gi* z-score"),
            ("p", FieldKind::Number, "two-sided normal p-value"),
            (
                "q",
                FieldKind::Number,
                "Benjamini-Hochberg q-value of the permutation p-values over the study area",
            ),
            (
                "neighbours",
                FieldKind::Count,
                "neighbouring cells with reports",
            ),
        ]
        .into_iter()
        .map(|(n, k, d)| (n.to_owned(), k, d.to_owned()))
        .collect()
    }

    fn zoom_range(&self) -> (u8, u8) {
        (0, crate::MAX_ZOOM)
    }

    fn bounds(&self) -> Option<[f64; 4]> {
        self.levels.first().and_then(|(_, f)| f.lonlat_bounds())
    }

    fn check(&self, filter: &Selection) -> Result<(), TileSourceError> {
        self.table.check(filter)
    }

    fn tile(
        &self,
        tile: TileCoord,
        filter: &Selection,
    ) -> Result<Option<Vec<u8>>, TileSourceError> {
        self.check(filter)?;
        let Some((res, features)) = level_at(&self.levels, tile) else {
            return Ok(None);
        };
        let spots = self.spots(filter, res, features)?;
        let frame = TileFrame::new(tile);
        let ids: Vec<u32> = cells_near(features, &frame, res)
            .into_iter()
            .filter(|&i| spots[i as usize].is_some())
            .collect();
        let keys = vec!["cell", "res", "class", "z", "p", "q", "neighbours"];
        Ok(encode_layer(
            "hotspots",
            keys,
            features,
            &ids,
            &frame,
            1,
            |i, f| {
                let Some(s) = spots[i as usize] else {
                    return;
                };
                f.tag(0, TagValue::Text(features.ids.get(i as usize)));
                f.tag(1, TagValue::UInt(u64::from(res)));
                f.tag(2, TagValue::Text(if s.hot { "hot" } else { "cold" }));
                f.tag(3, TagValue::Double(s.z));
                f.tag(4, TagValue::Double(s.p));
                f.tag(5, TagValue::Double(s.q));
                f.tag(6, TagValue::UInt(u64::from(s.neighbours)));
            },
        ))
    }

    /// One fingerprint for the whole layer: Gi* rests on the global mean and variance, so a
    /// change to any cell can move every cell's z-score.
    fn fingerprints(&self) -> Vec<(String, u64, [f64; 4])> {
        let mut h = std::hash::DefaultHasher::new();
        let mut bounds = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for (res, features) in self.levels.iter() {
            res.hash(&mut h);
            features.ids.hash(&mut h);
            self.table
                .row_hashes(&features.index, features.ids.len())
                .hash(&mut h);
            for b in &features.bounds {
                bounds = [
                    bounds[0].min(b[0]),
                    bounds[1].min(b[1]),
                    bounds[2].max(b[2]),
                    bounds[3].max(b[3]),
                ];
            }
        }
        let o = &self.options;
        (
            o.ring,
            o.alpha.to_bits(),
            o.permutations,
            o.seed,
            o.min_count.to_bits(),
        )
            .hash(&mut h);
        let mut study: Vec<(&u8, &Vec<h3o::CellIndex>)> = self.study.iter().collect();
        study.sort_unstable_by_key(|(r, _)| **r);
        study.hash(&mut h);
        vec![("all".to_owned(), h.finish(), bounds)]
    }
}
