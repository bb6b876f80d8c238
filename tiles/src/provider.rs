//! Tile sources behind one trait: predio's own generators for parcels, sectors and H3 heat, and
//! (later) tile archives or a PostGIS source through the same [`TileProvider`] interface, so a
//! change in a foreign source's API stays in its own module.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use fast_mvt::{MvtGeomType, MvtLayerBuilder, MvtValueRef};
use geo::MultiPolygon;
use polars::prelude::*;
use predio_engine::indices::{cell_polygon, select, Selection};
use predio_engine::{ParcelLayer, SectorLayer};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use crate::coord::TileCoord;
use crate::geom::{self, Cutter, TileFrame, TilePolygons, BUFFER, UNITS_PER_PIXEL};

mod hotspots;

pub use hotspots::HotspotLayer;

/// Why a tile could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TileSourceError {
    /// The query names a window, category or department the data does not have.
    #[error("{0}")]
    Filter(String),
    /// The indices table could not be read as expected.
    #[error("indices table of layer {layer}: {message}")]
    Table {
        /// Layer name.
        layer: String,
        /// What went wrong.
        message: String,
    },
    /// An external source (archive, database) failed.
    #[error("source {layer}: {message}")]
    Source {
        /// Layer name.
        layer: String,
        /// What went wrong.
        message: String,
    },
    /// The encoder refused a geometry or tag.
    #[error("MVT encoding of layer {layer}: {message}")]
    Encode {
        /// Layer name.
        layer: String,
        /// What went wrong.
        message: String,
    },
}

/// Which rows of the indices a tile shows: a window, and all reports or one category or
/// department. Part of every cache key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileFilter {
    /// Window label (`90d`).
    pub window: String,
    /// `None` for all reports, or `("category" | "department", value)`.
    pub dimension: Option<(String, String)>,
}

impl TileFilter {
    /// All reports in `window`.
    pub fn window(window: impl Into<String>) -> Self {
        Self {
            window: window.into(),
            dimension: None,
        }
    }

    fn selection(&self, res: Option<u8>) -> Selection {
        Selection {
            window: self.window.clone(),
            dimension: self
                .dimension
                .as_ref()
                .map_or_else(|| "all".to_owned(), |(d, _)| d.clone()),
            value: self.dimension.as_ref().map(|(_, v)| v.clone()),
            res,
        }
    }
}

/// How a field of a tile layer is typed in TileJSON and encoded in MVT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Unsigned count; 0 where the filter has no row for the feature.
    Count,
    /// Real number; absent where undefined (a rate with no denominator).
    Number,
    /// Text.
    Text,
}

/// A field of a tile layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// Attribute name (the indices table's column for index fields).
    pub name: &'static str,
    /// Type.
    pub kind: FieldKind,
    /// What it holds (TileJSON's field description).
    pub description: &'static str,
}

const fn count(name: &'static str, description: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        kind: FieldKind::Count,
        description,
    }
}

const fn number(name: &'static str, description: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        kind: FieldKind::Number,
        description,
    }
}

const RECEIVED: FieldSpec = count("received", "reports received in the window");
const OPEN: FieldSpec = count("open", "reports open at the as-of time");
const OVERDUE: FieldSpec = count("overdue", "open reports past their deadline");
const COMPLIANCE: FieldSpec = number(
    "compliance",
    "share of answered reports answered by their deadline (0-1)",
);
const DENSITY: FieldSpec = number("density_km2", "reports received per km²");
const ATTENTION: FieldSpec = number("attention", "attention index 0-100");
const TREND: FieldSpec = number("trend", "change against the previous window (ratio - 1)");
const MEDIAN_BD: FieldSpec = number(
    "resolution_median_bd",
    "median resolution time, business days",
);

/// Index fields of the `parcels` layer.
pub const PARCEL_FIELDS: &[FieldSpec] = &[
    RECEIVED,
    OPEN,
    OVERDUE,
    COMPLIANCE,
    MEDIAN_BD,
    count(
        "recurrent",
        "reports repeating a category on the parcel within the recurrence days",
    ),
    TREND,
    DENSITY,
    ATTENTION,
];

/// Index fields of the `sectors` layer.
pub const SECTOR_FIELDS: &[FieldSpec] = &[
    RECEIVED,
    OPEN,
    OVERDUE,
    count("overdue_0_5", "overdue by 0-5 business days"),
    count("overdue_6_10", "overdue by 6-10 business days"),
    count("overdue_11_20", "overdue by 11-20 business days"),
    count("overdue_over_20", "overdue by more than 20 business days"),
    number(
        "oldest_open_bd",
        "age of the oldest open report, business days",
    ),
    count(
        "answered",
        "reports answered (resolved, rejected, duplicate)",
    ),
    count("answered_on_time", "reports answered by their deadline"),
    COMPLIANCE,
    MEDIAN_BD,
    number("resolution_p90_bd", "p90 resolution time, business days"),
    TREND,
    DENSITY,
    number("per_1000", "reports per 1,000 inhabitants"),
    ATTENTION,
];

/// Index fields of the `heat` layer.
pub const HEAT_FIELDS: &[FieldSpec] = &[RECEIVED, OPEN, OVERDUE, DENSITY];

/// Where a layer's features changed between two versions: the bounds (normalised Web
/// Mercator) of every feature whose geometry or tile attributes differ, or everything.
#[derive(Debug, Clone, PartialEq)]
pub enum Changed {
    /// Nothing the layer's tiles show changed.
    Nothing,
    /// These bounds, old and new.
    Bounds(Vec<[f64; 4]>),
    /// Too much to list: every tile.
    Everything,
}

/// A source of vector tiles.
pub trait TileProvider: Send + Sync {
    /// Layer name, as in URLs and in the MVT layer.
    fn name(&self) -> &str;
    /// One line for TileJSON.
    fn description(&self) -> &str;
    /// The attributes of its features with their types.
    fn fields(&self) -> Vec<(String, FieldKind, String)>;
    /// Zooms at which it has features.
    fn zoom_range(&self) -> (u8, u8);
    /// Extent `[west, south, east, north]`, degrees.
    fn bounds(&self) -> Option<[f64; 4]>;
    /// Checks that the filter names rows the data has.
    ///
    /// # Errors
    /// [`TileSourceError::Filter`] naming what is unknown and what exists.
    fn check(&self, filter: &TileFilter) -> Result<(), TileSourceError>;
    /// The encoded MVT tile (one layer), or `None` when no feature falls in it.
    ///
    /// # Errors
    /// A refused filter, an unreadable table or an encoding error.
    fn tile(
        &self,
        tile: TileCoord,
        filter: &TileFilter,
    ) -> Result<Option<Vec<u8>>, TileSourceError>;
    /// Per feature: an id, a hash of what its tiles show, and its bounds (normalised Web
    /// Mercator) — what [`changes`] compares across versions.
    fn fingerprints(&self) -> Vec<(String, u64, [f64; 4])>;
    /// The values of an index field under `filter` (one per feature that has one; for the heat
    /// layer, at its coarsest resolution), for legends.
    ///
    /// # Errors
    /// A refused filter or an unreadable table.
    fn values(&self, _field: &str, _filter: &TileFilter) -> Result<Vec<f64>, TileSourceError> {
        Ok(Vec::new())
    }
    /// How far beyond a feature's bounds a change can show, metres on the ground (heat cells
    /// are chosen one hexagon beyond the tile).
    fn reach_m(&self) -> f64 {
        0.0
    }
    /// TileJSON `vector_layers` for a source whose tiles hold other layers than one named after
    /// it (an archive); `None` for our layers, described by [`TileProvider::fields`].
    fn tilejson_layers(&self) -> Option<serde_json::Value> {
        None
    }
}

/// What changed in a layer between two versions of it.
pub fn changes(old: &dyn TileProvider, new: &dyn TileProvider) -> Changed {
    let before: HashMap<String, (u64, [f64; 4])> = old
        .fingerprints()
        .into_iter()
        .map(|(id, h, b)| (id, (h, b)))
        .collect();
    let after = new.fingerprints();
    let total = before.len().max(after.len()).max(1);
    let mut bounds = Vec::new();
    let mut seen = 0usize;
    for (id, h, b) in &after {
        match before.get(id) {
            Some((h0, b0)) => {
                seen += 1;
                if h0 != h {
                    bounds.push(*b0);
                    bounds.push(*b);
                }
            }
            None => bounds.push(*b),
        }
    }
    if seen < before.len() {
        let ids: std::collections::HashSet<&str> =
            after.iter().map(|(id, ..)| id.as_str()).collect();
        bounds.extend(
            before
                .iter()
                .filter(|(id, _)| !ids.contains(id.as_str()))
                .map(|(_, (_, b))| *b),
        );
    }
    if bounds.is_empty() {
        Changed::Nothing
    } else if bounds.len() > total / 2 {
        Changed::Everything
    } else {
        Changed::Bounds(bounds)
    }
}

type Entry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// Polygons in normalised Web Mercator with an R-tree over their bounds.
struct Features {
    ids: Vec<String>,
    index: HashMap<String, u32>,
    geometries: Vec<MultiPolygon<f64>>,
    bounds: Vec<[f64; 4]>,
    tree: RTree<Entry>,
}

impl Features {
    fn new<'a>(items: impl Iterator<Item = (String, &'a MultiPolygon<f64>)>) -> Self {
        let mut ids = Vec::new();
        let mut geometries = Vec::new();
        let mut bounds = Vec::new();
        for (id, g) in items {
            let m = geom::to_mercator(g);
            bounds.push(geom::bounds(&m));
            geometries.push(m);
            ids.push(id);
        }
        let tree = RTree::bulk_load(
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
        let index = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i as u32))
            .collect();
        Self {
            ids,
            index,
            geometries,
            bounds,
            tree,
        }
    }

    /// Features whose bounds meet `b`, in layer order (so tiles are byte-for-byte stable).
    fn within(&self, b: [f64; 4]) -> Vec<u32> {
        let env = AABB::from_corners([b[0], b[1]], [b[2], b[3]]);
        let mut v: Vec<u32> = self
            .tree
            .locate_in_envelope_intersecting(&env)
            .map(|e| e.data)
            .collect();
        v.sort_unstable();
        v
    }

    fn lonlat_bounds(&self) -> Option<[f64; 4]> {
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

    fn geometry_hash(&self, i: usize, h: &mut impl Hasher) {
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

/// One filter's attributes: the row of each feature and the field values of the rows.
struct Attributes {
    /// Row of each feature, `u32::MAX` where the filter has none.
    rows: Vec<u32>,
    /// Per field, per row.
    columns: Vec<Vec<Option<f64>>>,
}

impl Attributes {
    /// The defined values of `field` of the features that have a row.
    fn values(&self, fields: &[FieldSpec], field: &str) -> Vec<f64> {
        let Some(col) = fields.iter().position(|f| f.name == field) else {
            return Vec::new();
        };
        self.rows
            .iter()
            .filter(|&&r| r != u32::MAX)
            .filter_map(|&r| self.columns[col][r as usize])
            .collect()
    }
}

/// An indices table and the attributes drawn from it, per filter.
struct IndexTable {
    layer: &'static str,
    df: Option<DataFrame>,
    key: &'static str,
    fields: &'static [FieldSpec],
    windows: Vec<String>,
    categories: BTreeSet<String>,
    departments: BTreeSet<String>,
    cache: Mutex<HashMap<AttributesKey, Arc<Attributes>>>,
}

/// A filter and, for the heat layer, an H3 resolution.
type AttributesKey = (TileFilter, Option<u8>);

fn table_error(layer: &str) -> impl Fn(PolarsError) -> TileSourceError + '_ {
    move |e| TileSourceError::Table {
        layer: layer.to_owned(),
        message: e.to_string(),
    }
}

impl IndexTable {
    fn new(
        layer: &'static str,
        df: Option<DataFrame>,
        key: &'static str,
        fields: &'static [FieldSpec],
    ) -> Result<Self, TileSourceError> {
        let mut windows = Vec::new();
        let mut categories = BTreeSet::new();
        let mut departments = BTreeSet::new();
        if let Some(df) = &df {
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

    fn check(&self, filter: &TileFilter) -> Result<(), TileSourceError> {
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
        if let Some((d, v)) = &filter.dimension {
            let known = match d.as_str() {
                "category" => &self.categories,
                "department" => &self.departments,
                other => {
                    return Err(TileSourceError::Filter(format!(
                        "unknown dimension {other:?}: use category or department"
                    )))
                }
            };
            if !known.contains(v) {
                return Err(TileSourceError::Filter(format!(
                    "unknown {d} {v:?}; the indices have {} of them",
                    known.len()
                )));
            }
        }
        Ok(())
    }

    /// The attributes of `filter` (and H3 resolution) for features numbered by `index`.
    fn attributes(
        &self,
        filter: &TileFilter,
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
        let mut columns = vec![Vec::new(); self.fields.len()];
        if let Some(df) = &self.df {
            let err = table_error(self.layer);
            let sel = select(df, &filter.selection(res)).map_err(&err)?;
            let keys = sel.column(self.key).map_err(&err)?.str().map_err(&err)?;
            for (row, k) in keys.iter().enumerate() {
                if let Some(&i) = k.and_then(|k| index.get(k)) {
                    rows[i as usize] = row as u32;
                }
            }
            for (spec, out) in self.fields.iter().zip(columns.iter_mut()) {
                let Ok(c) = sel.column(spec.name) else {
                    *out = vec![None; sel.height()];
                    continue;
                };
                let c = c.cast(&DataType::Float64).map_err(&err)?;
                *out = c
                    .f64()
                    .map_err(&err)?
                    .iter()
                    .map(|v| v.filter(|v| v.is_finite()))
                    .collect();
            }
        }
        let a = Arc::new(Attributes { rows, columns });
        self.cache
            .lock()
            .map_err(|_| self.poisoned())?
            .insert(key, Arc::clone(&a));
        Ok(a)
    }

    fn poisoned(&self) -> TileSourceError {
        TileSourceError::Table {
            layer: self.layer.to_owned(),
            message: "attribute cache poisoned by a panic".into(),
        }
    }

    /// Per feature of `index`, a hash over every row of the table that names it (every window
    /// and dimension), of the fields tiles show.
    fn row_hashes(&self, index: &HashMap<String, u32>, n: usize) -> Vec<u64> {
        let mut out = vec![0u64; n];
        let Some(df) = &self.df else { return out };
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

fn encode_error(layer: &str) -> impl Fn(fast_mvt::MvtError) -> TileSourceError + '_ {
    move |e| TileSourceError::Encode {
        layer: layer.to_owned(),
        message: e.to_string(),
    }
}

/// Writes the features `ids` of `features` into a new MVT layer, cut into `frame`; `tags` adds
/// each feature's attributes. `None` when none is left after cutting.
fn encode_layer(
    name: &str,
    features: &Features,
    ids: &[u32],
    frame: &TileFrame,
    min_area: i64,
    mut tags: impl FnMut(u32, &mut fast_mvt::MvtFeatureBuilder) -> Result<(), fast_mvt::MvtError>,
) -> Result<Option<Vec<u8>>, TileSourceError> {
    let err = encode_error(name);
    let mut layer = MvtLayerBuilder::new(name).map_err(&err)?;
    let mut cutter = Cutter::default();
    let mut cut = TilePolygons::default();
    for &i in ids {
        cutter.cut(&features.geometries[i as usize], frame, min_area, &mut cut);
        if cut.is_empty() {
            continue;
        }
        let mut f = layer.feature_of(MvtGeomType::Polygon);
        f.id(Some(u64::from(i)));
        for (ring, exterior) in &cut.rings {
            f.ring(ring.iter().copied(), *exterior).map_err(&err)?;
        }
        tags(i, &mut f).map_err(&err)?;
        layer = f.end();
    }
    Ok((layer.num_features() > 0).then(|| layer.encode()))
}

/// Writes the index fields of `row` (counts default to 0 where the filter has no row).
fn index_tags(
    f: &mut fast_mvt::MvtFeatureBuilder,
    fields: &[FieldSpec],
    attrs: &Attributes,
    row: u32,
) -> Result<(), fast_mvt::MvtError> {
    for (spec, col) in fields.iter().zip(&attrs.columns) {
        let v = if row == u32::MAX {
            None
        } else {
            col[row as usize]
        };
        match (spec.kind, v) {
            (FieldKind::Count, v) => {
                f.tag_ref(spec.name, MvtValueRef::UInt(v.unwrap_or(0.0) as u64))?;
            }
            (FieldKind::Number, Some(v)) => {
                f.tag_ref(spec.name, MvtValueRef::Double(v))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Parcels or sectors: polygons with an id, a text attribute or two and their indices.
pub struct PolygonLayer {
    name: &'static str,
    description: &'static str,
    id_field: &'static str,
    features: Features,
    /// Text attributes besides the id (`sector_id` of a parcel, `name` of a sector).
    texts: Vec<(&'static str, Vec<Option<String>>)>,
    table: IndexTable,
    /// Each feature's saved segment (`predio segments --save`) and the segments' words.
    segments: Option<(Vec<Option<u32>>, Vec<String>)>,
    min_zoom: u8,
    /// Below this zoom the smallest feature kept doubles in area at each zoom out (parcel tiles
    /// stay light where lots are a few pixels).
    full_detail_zoom: u8,
}

impl PolygonLayer {
    /// The `parcels` layer: parcel id, sector id and [`PARCEL_FIELDS`] from the parcels' indices
    /// table (`None` before `predio compute`). From zoom 13, where urban lots reach a few pixels;
    /// lots under 1 px² are dropped from z15, under 2 px² at z14, 4 px² at z13.
    ///
    /// # Errors
    /// A table without the expected columns.
    pub fn parcels(
        layer: &ParcelLayer,
        indices: Option<DataFrame>,
    ) -> Result<Self, TileSourceError> {
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
                layer
                    .parcels
                    .iter()
                    .map(|p| p.sector_id.as_ref().map(|s| s.as_str().to_owned()))
                    .collect(),
            )],
            table: IndexTable::new("parcels", indices, "parcel_id", PARCEL_FIELDS)?,
            segments: None,
            min_zoom: 13,
            full_detail_zoom: 15,
        })
    }

    /// The `sectors` layer: sector id and name and [`SECTOR_FIELDS`].
    ///
    /// # Errors
    /// A table without the expected columns.
    pub fn sectors(
        layer: &SectorLayer,
        indices: Option<DataFrame>,
    ) -> Result<Self, TileSourceError> {
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
                layer.sectors.iter().map(|s| Some(s.name.clone())).collect(),
            )],
            table: IndexTable::new("sectors", indices, "sector_id", SECTOR_FIELDS)?,
            segments: None,
            min_zoom: 0,
            full_detail_zoom: 0,
        })
    }

    /// Adds the saved segments (a table of the layer's id, `segment`, `description`): every
    /// tile's features then carry `segment` and `segment_desc`.
    ///
    /// # Errors
    /// A table without those columns.
    pub fn with_segments(mut self, table: Option<DataFrame>) -> Result<Self, TileSourceError> {
        let Some(df) = table else {
            return Ok(self);
        };
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
        if self.segments.is_some() {
            v.push((
                "segment".to_owned(),
                FieldKind::Count,
                "segment saved by `predio segments --save` (0 is the largest)".to_owned(),
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

    fn check(&self, filter: &TileFilter) -> Result<(), TileSourceError> {
        self.table.check(filter)
    }

    fn tile(
        &self,
        tile: TileCoord,
        filter: &TileFilter,
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
        encode_layer(self.name, &self.features, &ids, &frame, min_area, |i, f| {
            f.tag_ref(
                self.id_field,
                MvtValueRef::String(&self.features.ids[i as usize]),
            )?;
            for (name, values) in &self.texts {
                if let Some(v) = &values[i as usize] {
                    f.tag_ref(name, MvtValueRef::String(v))?;
                }
            }
            if let Some((labels, words)) = &self.segments {
                if let Some(s) = labels[i as usize] {
                    f.tag_ref("segment", MvtValueRef::UInt(u64::from(s)))?;
                    f.tag_ref("segment_desc", MvtValueRef::String(&words[s as usize]))?;
                }
            }
            if let Some(a) = &attrs {
                index_tags(f, self.table.fields, a, a.rows[i as usize])?;
            }
            Ok(())
        })
    }

    fn values(&self, field: &str, filter: &TileFilter) -> Result<Vec<f64>, TileSourceError> {
        if self.table.df.is_none() {
            return Ok(Vec::new());
        }
        let a =
            self.table
                .attributes(filter, None, &self.features.index, self.features.ids.len())?;
        Ok(a.values(self.table.fields, field))
    }

    fn fingerprints(&self) -> Vec<(String, u64, [f64; 4])> {
        let n = self.features.ids.len();
        let rows = self.table.row_hashes(&self.features.index, n);
        (0..n)
            .map(|i| {
                let mut h = std::hash::DefaultHasher::new();
                self.features.geometry_hash(i, &mut h);
                for (_, v) in &self.texts {
                    v[i].hash(&mut h);
                }
                if let Some((labels, words)) = &self.segments {
                    labels[i].hash(&mut h);
                    labels[i].map(|s| &words[s as usize]).hash(&mut h);
                }
                rows[i].hash(&mut h);
                (
                    self.features.ids[i].clone(),
                    h.finish(),
                    self.features.bounds[i],
                )
            })
            .collect()
    }
}

/// H3 hexagons coloured by reports, the resolution chosen by zoom among those computed; cells
/// with fewer than `min_reports` reports in the filter are left out (k-anonymity).
pub struct HeatLayer {
    /// Per computed resolution, its cells (shared with the [`HotspotLayer`]).
    levels: Arc<Vec<(u8, Features)>>,
    /// The cell table and its attributes per filter (shared with the [`HotspotLayer`]).
    table: Arc<IndexTable>,
    min_reports: u32,
}

impl HeatLayer {
    /// The `heat` layer from the H3 indices table; cells under `min_reports` are suppressed.
    ///
    /// # Errors
    /// A table without `res`/`cell` columns.
    pub fn new(indices: DataFrame, min_reports: u32) -> Result<Self, TileSourceError> {
        let err = table_error("heat");
        let res = indices
            .column("res")
            .map_err(&err)?
            .cast(&DataType::Int32)
            .map_err(&err)?;
        let res = res.i32().map_err(&err)?;
        let cells = indices.column("cell").map_err(&err)?.str().map_err(&err)?;
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

    /// The resolution drawn at `tile`: the finest computed one whose hexagons are at least 6
    /// pixels across there, else the coarsest.
    pub fn resolution(&self, tile: TileCoord) -> Option<u8> {
        resolution_at(&self.levels, tile)
    }

    /// The `hotspots` layer over the same cells: Gi* of `received` with neighbours within
    /// `ring` steps, hot or cold where the Benjamini–Hochberg q-value is under `alpha`.
    ///
    /// # Errors
    /// A table without the expected columns.
    pub fn hotspots(&self, ring: u32, alpha: f64) -> Result<HotspotLayer, TileSourceError> {
        HotspotLayer::new(
            Arc::clone(&self.levels),
            Arc::clone(&self.table),
            ring,
            alpha,
        )
    }
}

/// The finest computed H3 resolution whose hexagons are at least 6 pixels across at `tile`,
/// else the coarsest.
fn resolution_at(levels: &[(u8, Features)], tile: TileCoord) -> Option<u8> {
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
fn level_at(levels: &[(u8, Features)], tile: TileCoord) -> Option<(u8, &Features)> {
    let res = resolution_at(levels, tile)?;
    levels.iter().find(|(r, _)| *r == res).map(|(r, f)| (*r, f))
}

/// The H3 cells of a tile, grown by two hexagon edges so that a cell whose centre lies outside
/// still shows its edge.
fn cells_near(features: &Features, frame: &TileFrame, res: u8) -> Vec<u32> {
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

    fn check(&self, filter: &TileFilter) -> Result<(), TileSourceError> {
        self.table.check(filter)
    }

    fn tile(
        &self,
        tile: TileCoord,
        filter: &TileFilter,
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
                    && attrs.columns[received][row as usize].unwrap_or(0.0)
                        >= f64::from(self.min_reports)
            })
            .collect();
        encode_layer("heat", features, &ids, &frame, 1, |i, f| {
            f.tag_ref("cell", MvtValueRef::String(&features.ids[i as usize]))?;
            f.tag_ref("res", MvtValueRef::UInt(u64::from(res)))?;
            index_tags(f, HEAT_FIELDS, &attrs, attrs.rows[i as usize])
        })
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

    fn values(&self, field: &str, filter: &TileFilter) -> Result<Vec<f64>, TileSourceError> {
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
