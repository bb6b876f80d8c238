//! H3 hexagons coloured by reports, the resolution chosen by zoom.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use geo::MultiPolygon;
use polars::prelude::*;
use predio_engine::hotspots::StudyOptions;
use predio_engine::indices::cell_polygon;
use predio_engine::Table;

use crate::coord::TileCoord;
use crate::geom::TileFrame;
use crate::mvt::TagValue;

use super::attributes::*;
use super::features::*;
use super::fields::*;
use super::hotspots::HotspotLayer;
use super::{Selection, TileProvider, TileSourceError};

/// H3 hexagons coloured by reports, the resolution chosen by zoom among those computed; cells
/// with fewer than `min_reports` reports in the filter are left out (k-anonymity).
pub struct HeatLayer {
    /// Per computed resolution, its cells (shared with the [`HotspotLayer`]).
    pub(super) levels: Arc<Vec<(u8, Features)>>,
    /// The cell table and its attributes per filter (shared with the [`HotspotLayer`]).
    pub(super) table: Arc<IndexTable>,
    pub(super) min_reports: u32,
}

impl HeatLayer {
    /// The `heat` layer from the H3 indices table; cells under `min_reports` are suppressed.
    ///
    /// # Errors
    /// A table without `res`/`cell` columns.
    pub fn new(indices: Table, min_reports: u32) -> Result<Self, TileSourceError> {
        let err = table_error("heat");
        let df = indices.frame();
        let res = df
            .column("res")
            .map_err(&err)?
            .cast(&DataType::Int32)
            .map_err(&err)?;
        let res = res.i32().map_err(&err)?;
        let cells = df.column("cell").map_err(&err)?.str().map_err(&err)?;
        let mut per_res: std::collections::BTreeMap<u8, BTreeSet<String>> = Default::default();
        for (r, c) in res.iter().zip(cells.iter()) {
            if let (Some(r), Some(c)) = (r, c) {
                if !c.is_empty() {
                    per_res.entry(r as u8).or_default().insert(c.to_owned());
                }
            }
        }
        let levels: Vec<(u8, Features)> = per_res
            .into_iter()
            .map(|(r, cells)| {
                let polys: Vec<(String, MultiPolygon<f64>)> = cells
                    .into_iter()
                    .filter_map(|c| cell_polygon(&c).map(|p| (c, p)))
                    .collect();
                (r, Features::new(polys.iter().map(|(c, p)| (c.clone(), p))))
            })
            .collect();
        Ok(Self {
            levels: Arc::new(levels),
            table: Arc::new(IndexTable::new("heat", Some(indices), "cell", HEAT_FIELDS)?),
            min_reports,
        })
    }

    /// The windows, categories and departments of the cell table: what a catalog of reports
    /// without a cadastre offers to filter by.
    pub fn filters(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        (
            self.table.windows.clone(),
            self.table.categories.iter().cloned().collect(),
            self.table.departments.iter().cloned().collect(),
        )
    }

    /// The resolution drawn at `tile`: the finest computed one whose hexagons are at least 6
    /// pixels across there, else the coarsest.
    pub fn resolution(&self, tile: TileCoord) -> Option<u8> {
        resolution_at(&self.levels, tile)
    }

    /// The resolutions of the layer's cells.
    pub fn resolutions(&self) -> Vec<u8> {
        self.levels.iter().map(|(r, _)| *r).collect()
    }

    /// The cells of resolution `res` that have a row.
    pub fn cells(&self, res: u8) -> Vec<h3o::CellIndex> {
        self.levels
            .iter()
            .filter(|(r, _)| *r == res)
            .flat_map(|(_, f)| f.ids.iter().filter_map(|id| id.parse().ok()))
            .collect()
    }

    /// The `hotspots` layer over the same cells: Gi* of `received` over the study area of each
    /// resolution (`study`), as `predio hotspots` computes it with `options`.
    ///
    /// # Errors
    /// A table without the expected columns.
    pub fn hotspots(
        &self,
        study: HashMap<u8, Vec<h3o::CellIndex>>,
        options: StudyOptions,
    ) -> Result<HotspotLayer, TileSourceError> {
        HotspotLayer::new(
            Arc::clone(&self.levels),
            Arc::clone(&self.table),
            study,
            options,
        )
    }
}

impl TileProvider for HeatLayer {
    fn name(&self) -> &str {
        "heat"
    }

    fn description(&self) -> &str {
        "H3 cells with their report counts and density; cells with few reports are left out"
    }

    fn fields(&self) -> Vec<(String, FieldKind, String)> {
        let mut v = vec![
            (
                "cell".to_owned(),
                FieldKind::Text,
                "H3 cell index".to_owned(),
            ),
            (
                "res".to_owned(),
                FieldKind::Count,
                "H3 resolution".to_owned(),
            ),
        ];
        v.extend(
            HEAT_FIELDS
                .iter()
                .map(|f| (f.name.to_owned(), f.kind, f.description.to_owned())),
        );
        v
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
        let attrs =
            self.table
                .attributes(filter, Some(res), &features.index, features.ids.len())?;
        let frame = TileFrame::new(tile);
        let received = HEAT_FIELDS
            .iter()
            .position(|f| f.name == "received")
            .unwrap_or(0);
        let ids: Vec<u32> = cells_near(features, &frame, res)
            .into_iter()
            .filter(|&i| {
                let row = attrs.rows[i as usize];
                row != u32::MAX
                    && attrs.get(received, row).unwrap_or(0.0) >= f64::from(self.min_reports)
            })
            .collect();
        let mut keys = vec!["cell", "res"];
        keys.extend(HEAT_FIELDS.iter().map(|f| f.name));
        Ok(encode_layer(
            "heat",
            keys,
            features,
            &ids,
            &frame,
            1,
            |i, f| {
                f.tag(0, TagValue::Text(features.ids.get(i as usize)));
                f.tag(1, TagValue::UInt(u64::from(res)));
                index_tags(f, 2, HEAT_FIELDS, &attrs, attrs.rows[i as usize]);
            },
        ))
    }

    fn fingerprints(&self) -> Vec<(String, u64, [f64; 4])> {
        let mut out = Vec::new();
        for (res, features) in self.levels.iter() {
            let rows = self.table.row_hashes(&features.index, features.ids.len());
            for ((id, hash), bounds) in features.ids.iter().zip(rows).zip(&features.bounds) {
                out.push((format!("{res}/{id}"), hash, *bounds));
            }
        }
        out
    }

    fn values(&self, field: &str, filter: &Selection) -> Result<Vec<f64>, TileSourceError> {
        let Some((res, features)) = self.levels.first() else {
            return Ok(Vec::new());
        };
        let a = self
            .table
            .attributes(filter, Some(*res), &features.index, features.ids.len())?;
        Ok(a.values(HEAT_FIELDS, field))
    }

    fn reach_m(&self) -> f64 {
        // A change in a cell can show in tiles up to one (coarsest) hexagon away.
        self.levels.first().map_or(0.0, |(r, _)| {
            h3o::Resolution::try_from(*r).map_or(0.0, |r| 2.0 * r.edge_length_m())
        })
    }
}
