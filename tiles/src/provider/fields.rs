//! The fields of the tile layers: their names (the indices' columns, `indices::schema`), MVT
//! types and TileJSON descriptions.

use predio_engine::indices::schema;

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

pub(super) const fn count(name: &'static str, description: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        kind: FieldKind::Count,
        description,
    }
}

pub(super) const fn number(name: &'static str, description: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        kind: FieldKind::Number,
        description,
    }
}

pub(super) const RECEIVED: FieldSpec = count(schema::RECEIVED, "reports received in the window");
pub(super) const OPEN: FieldSpec = count(schema::OPEN, "reports open at the as-of time");
pub(super) const OVERDUE: FieldSpec = count(schema::OVERDUE, "open reports past their deadline");
pub(super) const COMPLIANCE: FieldSpec = number(
    schema::COMPLIANCE,
    "share of answered reports answered by their deadline (0-1)",
);
pub(super) const DENSITY: FieldSpec = number(schema::DENSITY_KM2, "reports received per km²");
pub(super) const ATTENTION: FieldSpec = number(schema::ATTENTION, "attention index 0-100");
pub(super) const TREND: FieldSpec = number(
    schema::TREND,
    "change against the previous window (ratio - 1)",
);
pub(super) const MEDIAN_BD: FieldSpec = number(
    schema::RESOLUTION_MEDIAN_BD,
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
        schema::RECURRENT,
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
    count(schema::OVERDUE_0_5, "overdue by 0-5 business days"),
    count(schema::OVERDUE_6_10, "overdue by 6-10 business days"),
    count(schema::OVERDUE_11_20, "overdue by 11-20 business days"),
    count(
        schema::OVERDUE_OVER_20,
        "overdue by more than 20 business days",
    ),
    number(
        schema::OLDEST_OPEN_BD,
        "age of the oldest open report, business days",
    ),
    count(
        schema::ANSWERED,
        "reports answered (resolved, rejected, duplicate)",
    ),
    count(
        schema::ANSWERED_ON_TIME,
        "reports answered by their deadline",
    ),
    COMPLIANCE,
    MEDIAN_BD,
    number(
        schema::RESOLUTION_P90_BD,
        "p90 resolution time, business days",
    ),
    TREND,
    DENSITY,
    number(schema::PER_1000, "reports per 1,000 inhabitants"),
    ATTENTION,
];

/// Index fields of the `heat` layer.
pub const HEAT_FIELDS: &[FieldSpec] = &[RECEIVED, OPEN, OVERDUE, DENSITY];
