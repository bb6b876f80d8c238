//! The attributes of a layer's features under a filter, drawn from its indices table once per
//! filter, and the encoding of features with their attributes into an MVT layer.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use polars::prelude::*;
use predio_engine::indices::{select, Dimension};
use predio_engine::Table;

use crate::geom::{Cutter, TileFrame, TilePolygons};
use crate::mvt::{Feature, LayerWriter, TagValue};

use super::features::*;
use super::fields::*;
use super::{Selection, TileSourceError};

/// One filter's attributes: the row of each feature and the field values of the rows.
pub(super) struct Attributes {
    /// Row of each feature, `u32::MAX` where the filter has none.
    pub(super) rows: Vec<u32>,
    /// The number of fields.
    width: usize,
    /// The fields' values row by row (a row's fields side by side: a feature's tags are read
    /// from one place rather than from a column each), NaN where missing.
    values: Vec<f64>,
}

impl Attributes {
    /// The value of field `col` in `row`, if there is one.
    pub(super) fn get(&self, col: usize, row: u32) -> Option<f64> {
        let v = self.values[row as usize * self.width + col];
        (!v.is_nan()).then_some(v)
    }

    /// The fields of `row`, NaN where missing.
    fn row(&self, row: u32) -> &[f64] {
        let at = row as usize * self.width;
        &self.values[at..at + self.width]
    }

    /// The value of `field` of the feature at `feature`, if it has a row and a value there.
    pub(super) fn value_at(
        &self,
        fields: &[FieldSpec],
        field: &str,
        feature: usize,
    ) -> Option<f64> {
        let col = fields.iter().position(|f| f.name == field)?;
        let row = *self.rows.get(feature)?;
        (row != u32::MAX).then(|| self.get(col, row)).flatten()
    }

    /// The defined values of `field` of the features that have a row.
    pub(super) fn values(&self, fields: &[FieldSpec], field: &str) -> Vec<f64> {
        let Some(col) = fields.iter().position(|f| f.name == field) else {
            return Vec::new();
        };
        self.rows
            .iter()
            .filter(|&&r| r != u32::MAX)
            .filter_map(|&r| self.get(col, r))
            .collect()
    }
}

/// An indices table and the attributes drawn from it, per filter.
pub(super) struct IndexTable {
    pub(super) layer: &'static str,
    pub(super) df: Option<Table>,
    pub(super) key: &'static str,
    pub(super) fields: &'static [FieldSpec],
    pub(super) windows: Vec<String>,
    pub(super) categories: BTreeSet<String>,
    pub(super) departments: BTreeSet<String>,
    pub(super) cache: Mutex<HashMap<AttributesKey, Arc<Attributes>>>,
}

/// A filter and, for the heat layer, an H3 resolution.
pub(super) type AttributesKey = (Selection, Option<u8>);

pub(super) fn table_error(layer: &str) -> impl Fn(PolarsError) -> TileSourceError + '_ {
    move |e| TileSourceError::Table {
        layer: layer.to_owned(),
        message: e.to_string(),
    }
}

impl IndexTable {
    pub(super) fn new(
        layer: &'static str,
        df: Option<Table>,
        key: &'static str,
        fields: &'static [FieldSpec],
    ) -> Result<Self, TileSourceError> {
        // Only the columns tiles read are kept: the feature, where each row belongs and the
        // layer's fields (the parcel table's other indices took half of a served catalog's
        // memory).
        let df = match df {
            Some(t) => {
                let frame = t.frame();
                let wanted: Vec<&str> = [key, "window", "dimension", "value", "res"]
                    .into_iter()
                    .chain(fields.iter().map(|f| f.name))
                    .filter(|c| frame.column(c).is_ok())
                    .collect();
                let kept = frame.select(wanted).map_err(table_error(layer))?;
                Some(Table::from_frame(kept))
            }
            None => None,
        };
        let mut windows = Vec::new();
        let mut categories = BTreeSet::new();
        let mut departments = BTreeSet::new();
        if let Some(df) = df.as_ref().map(Table::frame) {
            let err = table_error(layer);
            let w = df.column("window").map_err(&err)?.str().map_err(&err)?;
            let d = df.column("dimension").map_err(&err)?.str().map_err(&err)?;
            let v = df.column("value").map_err(&err)?.str().map_err(&err)?;
            for ((w, d), v) in w.iter().zip(d.iter()).zip(v.iter()) {
                if let Some(w) = w {
                    if !windows.iter().any(|x| x == w) {
                        windows.push(w.to_owned());
                    }
                }
                match (d, v) {
                    (Some("category"), Some(v)) => {
                        categories.insert(v.to_owned());
                    }
                    (Some("department"), Some(v)) => {
                        departments.insert(v.to_owned());
                    }
                    _ => {}
                }
            }
        }
        Ok(Self {
            layer,
            df,
            key,
            fields,
            windows,
            categories,
            departments,
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub(super) fn check(&self, filter: &Selection) -> Result<(), TileSourceError> {
        if self.df.is_none() {
            return Ok(());
        }
        if !self.windows.contains(&filter.window) {
            return Err(TileSourceError::Filter(format!(
                "unknown window {:?}; the indices have {}",
                filter.window,
                self.windows.join(", ")
            )));
        }
        let (known, value) = match &filter.dimension {
            Dimension::All => return Ok(()),
            Dimension::Category(v) => (&self.categories, v),
            Dimension::Department(v) => (&self.departments, v),
        };
        let d = filter.dimension.name();
        let Some(v) = value else {
            return Err(TileSourceError::Filter(format!(
                "a tile shows all reports or one {d}: give its value"
            )));
        };
        if !known.contains(v) {
            return Err(TileSourceError::Filter(format!(
                "unknown {d} {v:?}; the indices have {} of them",
                known.len()
            )));
        }
        Ok(())
    }

    /// The attributes of `filter` (and H3 resolution) for features numbered by `index`.
    pub(super) fn attributes(
        &self,
        filter: &Selection,
        res: Option<u8>,
        index: &HashMap<String, u32>,
        n: usize,
    ) -> Result<Arc<Attributes>, TileSourceError> {
        let key = (filter.clone(), res);
        if let Some(a) = self.cache.lock().map_err(|_| self.poisoned())?.get(&key) {
            return Ok(Arc::clone(a));
        }
        self.check(filter)?;
        let mut rows = vec![u32::MAX; n];
        let width = self.fields.len();
        let mut values = Vec::new();
        if let Some(df) = &self.df {
            let err = table_error(self.layer);
            let sel = select(df, &filter.at_res(res)).map_err(|e| TileSourceError::Table {
                layer: self.layer.to_owned(),
                message: e.to_string(),
            })?;
            let sel = sel.frame();
            let keys = sel.column(self.key).map_err(&err)?.str().map_err(&err)?;
            for (row, k) in keys.iter().enumerate() {
                if let Some(&i) = k.and_then(|k| index.get(k)) {
                    rows[i as usize] = row as u32;
                }
            }
            values = vec![f64::NAN; sel.height() * width];
            for (col, spec) in self.fields.iter().enumerate() {
                let Ok(c) = sel.column(spec.name) else {
                    continue;
                };
                let c = c.cast(&DataType::Float64).map_err(&err)?;
                let at = values.iter_mut().skip(col).step_by(width);
                for (out, v) in at.zip(c.f64().map_err(&err)?.iter()) {
                    if let Some(v) = v.filter(|v| v.is_finite()) {
                        *out = v;
                    }
                }
            }
        }
        let a = Arc::new(Attributes {
            rows,
            width,
            values,
        });
        self.cache
            .lock()
            .map_err(|_| self.poisoned())?
            .insert(key, Arc::clone(&a));
        Ok(a)
    }

    pub(super) fn poisoned(&self) -> TileSourceError {
        TileSourceError::Table {
            layer: self.layer.to_owned(),
            message: "attribute cache poisoned by a panic".into(),
        }
    }

    /// Per feature of `index`, a hash over every row of the table that names it (every window
    /// and dimension), of the fields tiles show.
    pub(super) fn row_hashes(&self, index: &HashMap<String, u32>, n: usize) -> Vec<u64> {
        let mut out = vec![0u64; n];
        let Some(df) = self.df.as_ref().map(Table::frame) else {
            return out;
        };
        let Ok(keys) = df.column(self.key).and_then(|c| c.str().cloned()) else {
            return out;
        };
        let text = |name: &str| df.column(name).and_then(|c| c.str().cloned()).ok();
        let (w, d, v) = (text("window"), text("dimension"), text("value"));
        let res = df
            .column("res")
            .and_then(|c| c.cast(&DataType::Float64))
            .ok();
        let cols: Vec<Option<Float64Chunked>> = self
            .fields
            .iter()
            .map(|f| {
                df.column(f.name)
                    .and_then(|c| c.cast(&DataType::Float64))
                    .and_then(|c| c.f64().cloned())
                    .ok()
            })
            .collect();
        for (row, k) in keys.iter().enumerate() {
            let Some(&i) = k.and_then(|k| index.get(k)) else {
                continue;
            };
            let mut h = std::hash::DefaultHasher::new();
            for t in [&w, &d, &v].into_iter().flatten() {
                t.get(row).hash(&mut h);
            }
            if let Some(r) = res.as_ref().and_then(|r| r.f64().ok()) {
                r.get(row).map(f64::to_bits).hash(&mut h);
            }
            for c in cols.iter().flatten() {
                c.get(row).map(f64::to_bits).hash(&mut h);
            }
            out[i as usize] = out[i as usize].wrapping_add(h.finish());
        }
        out
    }
}

/// Writes the features `ids` of `features` into a new MVT layer `name` whose tags use `keys`,
/// cut into `frame`; `tags` adds each feature's attributes (by slot in `keys`). `None` when
/// none is left after cutting.
pub(super) fn encode_layer<'a>(
    name: &'a str,
    keys: Vec<&'a str>,
    features: &Features,
    ids: &[u32],
    frame: &TileFrame,
    min_area: i64,
    mut tags: impl FnMut(u32, &mut Feature<'_, 'a>),
) -> Option<Vec<u8>> {
    let mut layer = LayerWriter::new(name, keys, ids.len());
    let mut cutter = Cutter::default();
    let mut cut = TilePolygons::default();
    for &i in ids {
        cutter.cut(&features.geometries[i as usize], frame, min_area, &mut cut);
        if cut.is_empty() {
            continue;
        }
        let mut f = layer.feature(u64::from(i));
        for (ring, exterior, area2) in cut.rings() {
            f.ring_of_area(ring, exterior, area2);
        }
        tags(i, &mut f);
        f.end();
    }
    layer.finish()
}

/// Writes the index fields of `row` (counts default to 0 where the filter has no row), the
/// first field's key at slot `first`.
pub(super) fn index_tags(
    f: &mut Feature<'_, '_>,
    first: usize,
    fields: &[FieldSpec],
    attrs: &Attributes,
    row: u32,
) {
    if row == u32::MAX {
        // No row: the counts are 0, the numbers absent.
        for (slot, spec) in fields.iter().enumerate() {
            if spec.kind == FieldKind::Count {
                f.tag(first + slot, TagValue::UInt(0));
            }
        }
        return;
    }
    for (slot, (spec, &v)) in fields.iter().zip(attrs.row(row)).enumerate() {
        match spec.kind {
            FieldKind::Count => {
                let v = if v.is_nan() { 0.0 } else { v };
                f.tag(first + slot, TagValue::UInt(v as u64));
            }
            FieldKind::Number if !v.is_nan() => f.tag(first + slot, TagValue::Double(v)),
            _ => {}
        }
    }
}
