//! The domain model: parcels, sectors and their attributes.

use std::fmt;
use std::sync::Arc;

use geo::{BoundingRect, MultiPolygon};
use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Shared text: a clone (every report placed on a parcel holds its parcel's id) is a
        /// reference count, not a copy.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps an identifier as read from the source.
            pub fn new(id: impl AsRef<str>) -> Self {
                Self(Arc::from(id.as_ref()))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self::new(id)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(Arc::from(id))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Self::new(String::deserialize(d)?))
            }
        }
    };
}

id_type!(
    /// Identifier of a parcel (predio, padrón, lot): unique within a catalog version.
    ParcelId
);
id_type!(
    /// Identifier of a sector (barrio, district, sección): unique within a catalog version.
    SectorId
);
id_type!(
    /// Identifier of a citizen report, as its source numbers it (a report is updated by it
    /// when a newer export is imported).
    ReportId
);

/// An H3 cell of any resolution: a valid [`h3o::CellIndex`], written as H3's hexadecimal
/// (`89283082803ffff`) and stored as its 64-bit index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellId(h3o::CellIndex);

impl CellId {
    /// The cell of a stored 64-bit index, or `None` when it is not a valid H3 cell.
    #[must_use]
    pub fn from_index(index: u64) -> Option<CellId> {
        h3o::CellIndex::try_from(index).ok().map(CellId)
    }

    /// The cell as h3o's type.
    #[must_use]
    pub fn cell(self) -> h3o::CellIndex {
        self.0
    }

    /// Its resolution (0–15).
    #[must_use]
    pub fn resolution(self) -> u8 {
        u8::from(self.0.resolution())
    }
}

impl From<h3o::CellIndex> for CellId {
    fn from(cell: h3o::CellIndex) -> Self {
        CellId(cell)
    }
}

impl From<CellId> for u64 {
    fn from(cell: CellId) -> Self {
        u64::from(cell.0)
    }
}

impl fmt::Display for CellId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for CellId {
    type Err = h3o::error::InvalidCellIndex;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(CellId)
    }
}

/// The type of a source attribute, kept through import and storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// true / false.
    Bool,
    /// 32-bit integer.
    Int,
    /// 64-bit integer.
    Long,
    /// 64-bit float.
    Double,
    /// UTF-8 text.
    String,
    /// A date or date-time, stored as ISO 8601 text.
    DateTime,
}

/// A named, typed source attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// The attribute name as in the source (UTF-8; Korean, Spanish, French names are kept).
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: FieldType,
}

impl Field {
    /// A field of the given name and type.
    pub fn new(name: impl Into<String>, kind: FieldType) -> Self {
        Self {
            name: name.into(),
            kind,
        }
    }
}

/// One attribute value. `Null` where the source had none.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 32-bit integer.
    Int(i32),
    /// A 64-bit integer.
    Long(i64),
    /// A float.
    Double(f64),
    /// Text; dates are ISO 8601 text.
    String(String),
}

impl Value {
    /// The value as JSON, for reports and exports.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Long(i) => (*i).into(),
            Value::Double(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::String(s) => s.clone().into(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Long(i) => write!(f, "{i}"),
            Value::Double(x) => write!(f, "{x}"),
            Value::String(s) => f.write_str(s),
        }
    }
}

/// A bounding box in longitude/latitude degrees: `[west, south, east, north]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(into = "[f64; 4]", from = "[f64; 4]")]
pub struct Bbox {
    /// Minimum longitude.
    pub west: f64,
    /// Minimum latitude.
    pub south: f64,
    /// Maximum longitude.
    pub east: f64,
    /// Maximum latitude.
    pub north: f64,
}

impl From<Bbox> for [f64; 4] {
    fn from(b: Bbox) -> Self {
        [b.west, b.south, b.east, b.north]
    }
}

impl From<[f64; 4]> for Bbox {
    fn from(a: [f64; 4]) -> Self {
        Bbox {
            west: a[0],
            south: a[1],
            east: a[2],
            north: a[3],
        }
    }
}

impl Bbox {
    /// The box around all the given geometries, or `None` when there are none.
    pub fn around<'a>(geoms: impl IntoIterator<Item = &'a MultiPolygon<f64>>) -> Option<Bbox> {
        geoms
            .into_iter()
            .filter_map(|g| g.bounding_rect())
            .fold(None, |acc, r| {
                let b = Bbox {
                    west: r.min().x,
                    south: r.min().y,
                    east: r.max().x,
                    north: r.max().y,
                };
                Some(match acc {
                    None => b,
                    Some(a) => Bbox {
                        west: a.west.min(b.west),
                        south: a.south.min(b.south),
                        east: a.east.max(b.east),
                        north: a.north.max(b.north),
                    },
                })
            })
    }
}

/// A cadastral parcel in EPSG:4326.
#[derive(Debug, Clone, PartialEq)]
pub struct Parcel {
    /// Unique id (from `--id-field`, or the 1-based feature number of the source).
    pub id: ParcelId,
    /// The sector containing the parcel's interior point, if any sector does.
    pub sector_id: Option<SectorId>,
    /// Geodesic area in m².
    pub area_m2: f64,
    /// Outline, exterior rings counter-clockwise (OGC orientation).
    pub geometry: MultiPolygon<f64>,
    /// Source attributes, in the order of [`ParcelLayer::fields`].
    pub attributes: Vec<Value>,
}

/// What the indices need of a parcel: its id and area (read without its outline).
#[derive(Debug, Clone, PartialEq)]
pub struct ParcelKey {
    /// Unique id.
    pub id: ParcelId,
    /// Geodesic area in m².
    pub area_m2: f64,
}

/// All parcels of a catalog version with the schema of their source attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParcelLayer {
    /// Source attribute schema.
    pub fields: Vec<Field>,
    /// The parcels.
    pub parcels: Vec<Parcel>,
}

/// A sector (barrio, district, municipio, sección) in EPSG:4326.
#[derive(Debug, Clone, PartialEq)]
pub struct Sector {
    /// Unique id.
    pub id: SectorId,
    /// Display name (from `--name-field`, else the id).
    pub name: String,
    /// Inhabitants, where the source has them (`--population-field`).
    pub population: Option<f64>,
    /// Geodesic area in m².
    pub area_m2: f64,
    /// Outline, exterior rings counter-clockwise.
    pub geometry: MultiPolygon<f64>,
    /// Source attributes, in the order of [`SectorLayer::fields`].
    pub attributes: Vec<Value>,
}

/// All sectors of a catalog version with the schema of their source attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SectorLayer {
    /// Source attribute schema.
    pub fields: Vec<Field>,
    /// The sectors.
    pub sectors: Vec<Sector>,
}

impl ParcelLayer {
    /// Bounding box of all parcels.
    pub fn bbox(&self) -> Option<Bbox> {
        Bbox::around(self.parcels.iter().map(|p| &p.geometry))
    }

    /// Sum of the parcels' geodesic areas, m².
    pub fn total_area_m2(&self) -> f64 {
        self.parcels.iter().map(|p| p.area_m2).sum()
    }
}

impl SectorLayer {
    /// Bounding box of all sectors.
    pub fn bbox(&self) -> Option<Bbox> {
        Bbox::around(self.sectors.iter().map(|s| &s.geometry))
    }
}

/// A stored layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    /// Cadastral parcels.
    Parcels,
    /// Sectors (barrios, districts) parcels are grouped in.
    Sectors,
    /// Citizen reports (rows of an import report; stored as Parquet, see `ReportsMeta`).
    Reports,
}

impl LayerKind {
    /// The layer's name: `parcels`, `sectors`.
    pub fn as_str(self) -> &'static str {
        match self {
            LayerKind::Parcels => "parcels",
            LayerKind::Sectors => "sectors",
            LayerKind::Reports => "reports",
        }
    }

    /// Its file name inside a version folder.
    pub fn file_name(self) -> &'static str {
        match self {
            LayerKind::Parcels => "parcels.fgb",
            LayerKind::Sectors => "sectors.fgb",
            LayerKind::Reports => "reports.parquet",
        }
    }
}

impl fmt::Display for LayerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
