//! Parcels or sectors: polygons with an id, a text attribute or two and their indices.

use std::hash::{Hash, Hasher};

use polars::prelude::*;
use predio_engine::{ParcelLayer, SectorLayer, Table, Value};

use crate::coord::TileCoord;
use crate::geom::{TileFrame, BUFFER, UNITS_PER_PIXEL};
use crate::mvt::TagValue;

use super::attributes::*;
use super::features::*;
use super::fields::*;
use super::{Selection, TileProvider, TileSourceError};

/// Parcels or sectors: polygons with an id, a text attribute or two and their indices.
pub struct PolygonLayer {
    pub(super) name: &'static str,
    pub(super) description: &'static str,
    pub(super) id_field: &'static str,
    pub(super) features: Features,
    /// Text attributes besides the id (`sector_id` of a parcel, `name` of a sector).
    pub(super) texts: Vec<(&'static str, TextColumn)>,
    pub(super) table: IndexTable,
    /// Source attributes carried as they are (`serve --parcel-attributes`).
    pub(super) attributes: Vec<SourceAttribute>,
    /// Each feature's saved segment (`predio segments --save`) and the segments' words.
    pub(super) segments: Option<(Vec<Option<u32>>, Vec<String>)>,
    pub(super) min_zoom: u8,
    /// Below this zoom the smallest feature kept doubles in area at each zoom out (parcel tiles
    /// stay light where lots are a few pixels).
    pub(super) full_detail_zoom: u8,
    /// Whether no two features share an id and no other text of the layer is an id (see
    /// [`PolygonLayer::unique_ids`]).
    pub(super) unique_ids: std::sync::OnceLock<bool>,
}

impl PolygonLayer {
    /// The `parcels` layer: parcel id, sector id and [`PARCEL_FIELDS`] from the parcels' indices
    /// table (`None` before `predio compute`). From zoom 13, where urban lots reach a few pixels;
    /// lots under 1 px² are dropped from z15, under 2 px² at z14, 4 px² at z13.
    ///
    /// # Errors
    /// A table without the expected columns.
    pub fn parcels(layer: &ParcelLayer, indices: Option<Table>) -> Result<Self, TileSourceError> {
        Ok(Self {
            name: "parcels",
            description: "cadastral parcels with their indices",
            id_field: "parcel_id",
            features: Features::new(
                layer
                    .parcels
                    .iter()
                    .map(|p| (p.id.as_str().to_owned(), &p.geometry)),
            ),
            texts: vec![(
                "sector_id",
                TextColumn::new(
                    layer
                        .parcels
                        .iter()
                        .map(|p| p.sector_id.as_ref().map(|s| s.as_str().to_owned())),
                ),
            )],
            table: IndexTable::new("parcels", indices, "parcel_id", PARCEL_FIELDS)?,
            attributes: Vec::new(),
            segments: None,
            min_zoom: 13,
            full_detail_zoom: 15,
            unique_ids: std::sync::OnceLock::new(),
        })
    }

    /// The `sectors` layer: sector id and name and [`SECTOR_FIELDS`].
    ///
    /// # Errors
    /// A table without the expected columns.
    pub fn sectors(layer: &SectorLayer, indices: Option<Table>) -> Result<Self, TileSourceError> {
        Ok(Self {
            name: "sectors",
            description: "sectors (barrios, districts) with backlog, overdue and compliance",
            id_field: "sector_id",
            features: Features::new(
                layer
                    .sectors
                    .iter()
                    .map(|s| (s.id.as_str().to_owned(), &s.geometry)),
            ),
            texts: vec![(
                "name",
                TextColumn::new(layer.sectors.iter().map(|s| Some(s.name.clone()))),
            )],
            table: IndexTable::new("sectors", indices, "sector_id", SECTOR_FIELDS)?,
            attributes: Vec::new(),
            segments: None,
            min_zoom: 0,
            full_detail_zoom: 0,
            unique_ids: std::sync::OnceLock::new(),
        })
    }

    /// Adds the parcels' source attributes `names` (an assessor table's land use, value, year
    /// built joined by `import parcel-table`, or the cadastre's own columns) to every feature, as
    /// typed tags: numbers as numbers, text as text, empty values left out.
    ///
    /// # Errors
    /// A name that is not an attribute of `layer`, or that clashes with a field of the layer.
    pub fn with_attributes(
        mut self,
        layer: &ParcelLayer,
        names: &[String],
    ) -> Result<Self, TileSourceError> {
        for name in names {
            let at = layer
                .fields
                .iter()
                .position(|f| &f.name == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = layer.fields.iter().map(|f| f.name.as_str()).collect();
                    TileSourceError::Filter(format!(
                        "parcel attribute {name:?} is not in the cadastre (it has: {})",
                        known.join(", ")
                    ))
                })?;
            if self.fields().iter().any(|(n, _, _)| n == name) {
                return Err(TileSourceError::Filter(format!(
                    "parcel attribute {name:?} has the name of a field of the parcels layer"
                )));
            }
            let attribute = SourceAttribute::new(
                name.clone(),
                layer.parcels.iter().map(|p| p.attributes.get(at)),
            );
            self.attributes.push(attribute);
        }
        Ok(self)
    }

    /// Adds the saved segments (a table of the layer's id, `segment`, `description`): every
    /// tile's features then carry `segment` and `segment_desc`.
    ///
    /// # Errors
    /// A table without those columns.
    pub fn with_segments(mut self, table: Option<Table>) -> Result<Self, TileSourceError> {
        let Some(table) = table else {
            return Ok(self);
        };
        let df = table.frame();
        let err = table_error(self.name);
        let ids = df
            .column(self.id_field)
            .map_err(&err)?
            .str()
            .map_err(&err)?;
        let segment = df
            .column("segment")
            .map_err(&err)?
            .cast(&DataType::UInt32)
            .map_err(&err)?;
        let segment = segment.u32().map_err(&err)?;
        let words = df
            .column("description")
            .map_err(&err)?
            .str()
            .map_err(&err)?;
        let mut of_feature = vec![None; self.features.ids.len()];
        let mut descriptions: Vec<String> = Vec::new();
        for ((id, s), w) in ids.iter().zip(segment.iter()).zip(words.iter()) {
            let (Some(id), Some(s)) = (id, s) else {
                continue;
            };
            if let Some(&i) = self.features.index.get(id) {
                of_feature[i as usize] = Some(s);
            }
            let s = s as usize;
            if descriptions.len() <= s {
                descriptions.resize(s + 1, String::new());
            }
            if let Some(w) = w {
                descriptions[s] = w.to_owned();
            }
        }
        self.segments = Some((of_feature, descriptions));
        Ok(self)
    }

    /// Whether the features' ids are unique and no other text a tile of the layer carries
    /// (a sector id or name, a source attribute, a segment's words) equals one: each id is then
    /// a value of its own in any tile and is written without being looked up (hashing every
    /// id of a parcel tile to find it new was a tenth of the tagging). Worked out on the first
    /// tile, when the layer has all its attributes.
    fn unique_ids(&self) -> bool {
        *self.unique_ids.get_or_init(|| {
            let index = &self.features.index;
            let not_id = |t: &str| !index.contains_key(t);
            index.len() == self.features.ids.len()
                && self.texts.iter().all(|(_, v)| v.distinct().all(not_id))
                && self.attributes.iter().all(|a| a.texts().all(not_id))
                && self
                    .segments
                    .as_ref()
                    .is_none_or(|(_, words)| words.iter().all(|w| not_id(w)))
        })
    }

    /// Windows, categories and departments of the layer's indices table.
    pub fn filters(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        (
            self.table.windows.clone(),
            self.table.categories.iter().cloned().collect(),
            self.table.departments.iter().cloned().collect(),
        )
    }
}

impl TileProvider for PolygonLayer {
    fn name(&self) -> &str {
        self.name
    }

    fn description(&self) -> &str {
        self.description
    }

    fn fields(&self) -> Vec<(String, FieldKind, String)> {
        let mut v = vec![(self.id_field.to_owned(), FieldKind::Text, "id".to_owned())];
        v.extend(
            self.texts
                .iter()
                .map(|(n, _)| ((*n).to_owned(), FieldKind::Text, (*n).replace('_', " "))),
        );
        v.extend(self.attributes.iter().map(|a| {
            (
                a.name.clone(),
                a.kind(),
                "attribute of the cadastre".to_owned(),
            )
        }));
        if self.segments.is_some() {
            v.push((
                "segment".to_owned(),
                FieldKind::Count,
                "segment of the saved segmentation (0 is the largest)".to_owned(),
            ));
            v.push((
                "segment_desc".to_owned(),
                FieldKind::Text,
                "the segment in words: the indices it stands out on".to_owned(),
            ));
        }
        if self.table.df.is_some() {
            v.extend(
                self.table
                    .fields
                    .iter()
                    .map(|f| (f.name.to_owned(), f.kind, f.description.to_owned())),
            );
        }
        v
    }

    fn zoom_range(&self) -> (u8, u8) {
        (self.min_zoom, crate::MAX_ZOOM)
    }

    fn bounds(&self) -> Option<[f64; 4]> {
        self.features.lonlat_bounds()
    }

    fn check(&self, filter: &Selection) -> Result<(), TileSourceError> {
        self.table.check(filter)
    }

    fn tile(
        &self,
        tile: TileCoord,
        filter: &Selection,
    ) -> Result<Option<Vec<u8>>, TileSourceError> {
        if tile.z() < self.min_zoom {
            self.check(filter)?;
            return Ok(None);
        }
        let frame = TileFrame::new(tile);
        let ids = self.features.within(frame.bounds(BUFFER));
        let attrs = if self.table.df.is_some() {
            Some(self.table.attributes(
                filter,
                None,
                &self.features.index,
                self.features.ids.len(),
            )?)
        } else {
            self.check(filter)?;
            None
        };
        let pixel = i64::from(UNITS_PER_PIXEL * UNITS_PER_PIXEL);
        let min_area = pixel << self.full_detail_zoom.saturating_sub(tile.z()).min(8);
        // The keys, by slot: the id, the texts, the source attributes, the segment, the
        // index fields. A name appears once among those a tile uses: `with_attributes` refuses
        // a field's name (the segment's too, once `with_segments` has added it, as `serve` does
        // first), and a slot no feature uses is never written.
        let mut keys: Vec<&str> = vec![self.id_field];
        keys.extend(self.texts.iter().map(|(name, _)| *name));
        keys.extend(self.attributes.iter().map(|a| a.name.as_str()));
        let segment = keys.len();
        keys.extend(["segment", "segment_desc"]);
        let fields = keys.len();
        keys.extend(self.table.fields.iter().map(|f| f.name));
        let attributes = 1 + self.texts.len();
        let unique_ids = self.unique_ids();
        Ok(encode_layer(
            self.name,
            keys,
            &self.features,
            &ids,
            &frame,
            min_area,
            |i, f| {
                let i = i as usize;
                let id = self.features.ids.get(i);
                if unique_ids {
                    f.tag_unique_text(0, id);
                } else {
                    f.tag(0, TagValue::Text(id));
                }
                for (slot, (_, values)) in self.texts.iter().enumerate() {
                    if let Some(v) = values.get(i) {
                        f.tag(1 + slot, TagValue::Text(v));
                    }
                }
                for (slot, a) in self.attributes.iter().enumerate() {
                    if let Some(v) = a.tag(i) {
                        f.tag(attributes + slot, v);
                    }
                }
                if let Some((labels, words)) = &self.segments {
                    if let Some(s) = labels[i] {
                        f.tag(segment, TagValue::UInt(u64::from(s)));
                        f.tag(segment + 1, TagValue::Text(&words[s as usize]));
                    }
                }
                if let Some(a) = &attrs {
                    index_tags(f, fields, self.table.fields, a, a.rows[i]);
                }
            },
        ))
    }

    fn values(&self, field: &str, filter: &Selection) -> Result<Vec<f64>, TileSourceError> {
        if self.table.df.is_none() {
            return Ok(Vec::new());
        }
        let a =
            self.table
                .attributes(filter, None, &self.features.index, self.features.ids.len())?;
        Ok(a.values(self.table.fields, field))
    }

    fn rank(
        &self,
        id: &str,
        field: &str,
        filter: &Selection,
    ) -> Result<Option<(f64, usize, usize)>, TileSourceError> {
        let (Some(&at), Some(_)) = (self.features.index.get(id), self.table.df.as_ref()) else {
            return Ok(None);
        };
        let a =
            self.table
                .attributes(filter, None, &self.features.index, self.features.ids.len())?;
        let Some(v) = a.value_at(self.table.fields, field, at as usize) else {
            return Ok(None);
        };
        let all = a.values(self.table.fields, field);
        let above = all.iter().filter(|x| **x > v).count();
        Ok(Some((v, above + 1, all.len())))
    }

    fn has_feature(&self, id: &str) -> bool {
        self.features.index.contains_key(id)
    }

    fn fingerprints(&self) -> Vec<(String, u64, [f64; 4])> {
        let n = self.features.ids.len();
        let rows = self.table.row_hashes(&self.features.index, n);
        (0..n)
            .map(|i| {
                let mut h = std::hash::DefaultHasher::new();
                self.features.geometry_hash(i, &mut h);
                for (_, v) in &self.texts {
                    // As the `Option<String>` hashed.
                    v.get(i).hash(&mut h);
                }
                for a in &self.attributes {
                    a.hash_value(i, &mut h);
                }
                if let Some((labels, words)) = &self.segments {
                    labels[i].hash(&mut h);
                    labels[i].map(|s| &words[s as usize]).hash(&mut h);
                }
                rows[i].hash(&mut h);
                (
                    self.features.ids.get(i).to_owned(),
                    h.finish(),
                    self.features.bounds[i],
                )
            })
            .collect()
    }
}

/// One source attribute of every feature, typed for its tag.
pub(super) struct SourceAttribute {
    name: String,
    values: AttributeValues,
}

enum AttributeValues {
    Text(TextColumn),
    Number(Vec<Option<f64>>),
    Integer(Vec<Option<i64>>),
}

impl SourceAttribute {
    /// The attribute from each feature's value (`None`: the feature has no such value).
    fn new<'a>(name: String, values: impl Iterator<Item = Option<&'a Value>>) -> Self {
        let values: Vec<Option<&Value>> = values
            .map(|v| v.filter(|v| !matches!(v, Value::Null)))
            .collect();
        let all = |f: fn(&Value) -> bool| values.iter().flatten().all(|v| f(v));
        let values = if all(|v| matches!(v, Value::Int(_) | Value::Long(_) | Value::Bool(_))) {
            AttributeValues::Integer(
                values
                    .iter()
                    .map(|v| match v {
                        Some(Value::Int(i)) => Some(i64::from(*i)),
                        Some(Value::Long(i)) => Some(*i),
                        Some(Value::Bool(b)) => Some(i64::from(*b)),
                        _ => None,
                    })
                    .collect(),
            )
        } else if all(|v| matches!(v, Value::Int(_) | Value::Long(_) | Value::Double(_))) {
            AttributeValues::Number(
                values
                    .iter()
                    .map(|v| match v {
                        Some(Value::Int(i)) => Some(f64::from(*i)),
                        // values of a parcel attribute are far below 2^53
                        #[allow(clippy::cast_precision_loss)]
                        Some(Value::Long(i)) => Some(*i as f64),
                        Some(Value::Double(d)) if d.is_finite() => Some(*d),
                        _ => None,
                    })
                    .collect(),
            )
        } else {
            AttributeValues::Text(TextColumn::new(values.iter().map(|v| {
                v.and_then(|v| match v {
                    Value::String(s) if s.trim().is_empty() => None,
                    Value::String(s) => Some(s.clone()),
                    other => Some(other.to_json().to_string()),
                })
            })))
        };
        Self { name, values }
    }

    fn kind(&self) -> FieldKind {
        match self.values {
            AttributeValues::Text(_) => FieldKind::Text,
            AttributeValues::Number(_) | AttributeValues::Integer(_) => FieldKind::Number,
        }
    }

    fn tag(&self, i: usize) -> Option<TagValue<'_>> {
        match &self.values {
            AttributeValues::Text(v) => v.get(i).map(TagValue::Text),
            AttributeValues::Number(v) => v[i].map(TagValue::Double),
            AttributeValues::Integer(v) => v[i].map(TagValue::SInt),
        }
    }

    /// The texts among the values.
    fn texts(&self) -> impl Iterator<Item = &str> {
        let column = match &self.values {
            AttributeValues::Text(v) => Some(v),
            _ => None,
        };
        column.into_iter().flat_map(TextColumn::distinct)
    }

    fn hash_value(&self, i: usize, h: &mut impl Hasher) {
        match &self.values {
            // As the `Option<String>` hashed.
            AttributeValues::Text(v) => v.get(i).hash(h),
            AttributeValues::Number(v) => v[i].map(f64::to_bits).hash(h),
            AttributeValues::Integer(v) => v[i].hash(h),
        }
    }
}
