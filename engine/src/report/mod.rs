//! Citizen reports: the normalised model every source maps to, its columns (what the indices
//! read) and its frame (the public schema as the store writes it).
//!
//! Public columns only: the reporter's name, e-mail, phone and the free-text description never
//! enter [`Report`]; importers keep them apart ([`PrivateFields`]) and write them only when asked.

pub(crate) mod columns;
pub(crate) mod frame;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{CellId, ParcelId, ReportId, SectorId};

/// How a report was matched to its parcel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The point lies inside (or on the boundary of) the parcel.
    Inside,
    /// The point lies in no parcel; this is the nearest within the tolerance.
    Nearest,
    /// No point: the report's parcel reference (finca, número predial, map-lot) equals the
    /// parcel's, once normalised.
    ParcelRef,
    /// No point: its address equals one of the parcel's (street and number, or a number inside
    /// the parcel's range).
    Address,
    /// No point: the same street, and the nearest known number on the same side within the
    /// allowed distance in numbers.
    AddressNear,
    /// No point: a street name within the edit distance allowed, then as `address` or
    /// `address_near`.
    AddressFuzzy,
    /// No parcel within the tolerance (or no location and no match by reference or address).
    None,
}

impl MatchKind {
    /// Whether the parcel was found without a point (by reference or address).
    pub fn is_derived(self) -> bool {
        matches!(
            self,
            MatchKind::ParcelRef
                | MatchKind::Address
                | MatchKind::AddressNear
                | MatchKind::AddressFuzzy
        )
    }
}

/// Normalised status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Received, not yet acted on.
    Open,
    /// Acknowledged or assigned, not finished.
    InProgress,
    /// Closed: the work was done (or closed without fixing: see [`StatusType`]).
    Resolved,
    /// Closed as not the municipality's, not valid or not actionable.
    Rejected,
    /// Closed as a duplicate of another report.
    Duplicate,
}

/// The kind of the source's own status label, so "closed but not fixed" stays distinguishable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusType {
    /// Not closed.
    Open,
    /// Closed with the problem fixed.
    ClosedFixed,
    /// Closed without fixing it.
    ClosedNotFixed,
}

macro_rules! text_enum {
    ($t:ty { $($v:ident => $s:literal),+ $(,)? }) => {
        impl $t {
            /// Every value, in the order of their declaration.
            pub const ALL: &'static [Self] = &[$(Self::$v),+];

            /// The value's name as stored.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),+ }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok(Self::$v),)+
                    other => Err(format!("unknown {}: {other:?}", stringify!($t))),
                }
            }
        }
    };
}

text_enum!(Status { Open => "open", InProgress => "in_progress", Resolved => "resolved", Rejected => "rejected", Duplicate => "duplicate" });
text_enum!(StatusType { Open => "open", ClosedFixed => "closed_fixed", ClosedNotFixed => "closed_not_fixed" });
text_enum!(Location { Located => "located", Missing => "missing", DefaultPoint => "default_point", Derived => "derived" });
text_enum!(MatchKind { Inside => "inside", Nearest => "nearest", ParcelRef => "parcel_ref", Address => "address", AddressNear => "address_near", AddressFuzzy => "address_fuzzy", None => "none" });

impl Status {
    /// The label type a status has when the source says nothing more.
    pub fn default_type(self) -> StatusType {
        match self {
            Status::Open | Status::InProgress => StatusType::Open,
            Status::Resolved => StatusType::ClosedFixed,
            Status::Rejected | Status::Duplicate => StatusType::ClosedNotFixed,
        }
    }

    /// Whether the report is closed.
    pub fn is_closed(self) -> bool {
        !matches!(self, Status::Open | Status::InProgress)
    }
}

/// Whether the report has a usable location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// A real point.
    Located,
    /// No coordinates.
    Missing,
    /// The system's default point (e.g. Boston's city hall), not where the problem is.
    DefaultPoint,
    /// No point of its own: the interior point of the parcel its reference or address matched.
    /// Not a GPS fix; counted in H3 cells and heat.
    Derived,
}

impl Location {
    /// Whether the report has a point to place it by (its own, or its parcel's).
    pub fn has_point(self) -> bool {
        matches!(self, Location::Located | Location::Derived)
    }
}

/// One change of status in a report's history.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    /// When.
    pub at: DateTime<Utc>,
    /// New normalised status.
    pub status: Status,
    /// The source's label.
    pub label: String,
}

/// A citizen report, normalised, with its geocoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The source's id (unique per catalog).
    pub id: ReportId,
    /// Source format (`csv`, `open311`, `fixmystreet`, `vector`).
    pub source: String,
    /// Category / service name.
    pub category: Option<String>,
    /// Department / agency responsible.
    pub department: Option<String>,
    /// Channel (app, phone, counter...).
    pub channel: Option<String>,
    /// Normalised status.
    pub status: Status,
    /// The source's status label, as written.
    pub status_label: String,
    /// The label's kind.
    pub status_type: StatusType,
    /// When it was received (UTC).
    pub created_at: DateTime<Utc>,
    /// When it was first acknowledged.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// When it was last reopened.
    pub reopened_at: Option<DateTime<Utc>>,
    /// The source's own deadline (Open311 `expected_datetime`, Boston `TARGET_DT`).
    pub deadline_at: Option<DateTime<Utc>>,
    /// The source's own on-time verdict, where it has one (Boston `OnTime_Status`).
    pub source_on_time: Option<bool>,
    /// The source's time zone (IANA name) its local times were read in.
    pub source_tz: String,
    /// Longitude (WGS 84), when located.
    pub lon: Option<f64>,
    /// Latitude (WGS 84), when located.
    pub lat: Option<f64>,
    /// Whether the point is usable.
    pub location: Location,
    /// Parcel, after geocoding.
    pub parcel_id: Option<ParcelId>,
    /// Sector, after geocoding.
    pub sector_id: Option<SectorId>,
    /// How the parcel was matched.
    pub match_kind: MatchKind,
    /// Distance to the parcel, m.
    pub distance_m: Option<f64>,
    /// How sure a match by reference or address is, 0–1 (1: exact); none for a point.
    pub match_score: Option<f64>,
    /// H3 cell of the point at the catalog's resolution.
    pub h3: Option<CellId>,
    /// Status history (may be empty).
    pub history: Vec<StatusChange>,
    /// The source's own ward or district (Open311 `ward`, FixMyStreet `Ward`).
    pub source_area: Option<String>,
    /// The report this one follows on from or duplicates (Open311 `parent_service_request_id`).
    pub parent_id: Option<String>,
    /// The address as the source wrote it, to locate a report without a point. Never in a
    /// public table: it can be a home (kept with the personal fields under `--keep-private`).
    pub address: Option<String>,
    /// The parcel's own reference as the source wrote it (finca, número predial, padrón,
    /// map-lot), to locate a report without a point. Kept as `address` is.
    pub parcel_ref: Option<String>,
}

/// Personal data of a report, kept out of every public table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrivateFields {
    /// Report id.
    pub id: ReportId,
    /// Values by column name (name, email, phone, description...).
    pub values: Vec<(String, String)>,
}

impl Report {
    /// A report with its id, source, status and creation time; no location, no other time, no
    /// history, not geocoded. The rest is filled field by field.
    pub fn new(
        id: impl Into<ReportId>,
        source: impl Into<String>,
        status: Status,
        status_label: impl Into<String>,
        created_at: DateTime<Utc>,
    ) -> Report {
        Report {
            id: id.into(),
            source: source.into(),
            category: None,
            department: None,
            channel: None,
            status,
            status_label: status_label.into(),
            status_type: status.default_type(),
            created_at,
            acknowledged_at: None,
            closed_at: None,
            reopened_at: None,
            deadline_at: None,
            source_on_time: None,
            source_tz: "UTC".into(),
            lon: None,
            lat: None,
            location: Location::Missing,
            parcel_id: None,
            sector_id: None,
            match_kind: MatchKind::None,
            distance_m: None,
            match_score: None,
            h3: None,
            history: Vec::new(),
            source_area: None,
            parent_id: None,
            address: None,
            parcel_ref: None,
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "report {} ({})", self.id, self.status)
    }
}

/// Merges a newer export into the stored reports by id: new ids are added, known ids are
/// replaced by the newer row (status changes land, nothing is duplicated). Order: stored reports
/// first, in their order, then the new ones in source order.
///
/// Returns the merged reports and the counts added, updated and unchanged (a known id whose
/// newer row says the same as the stored one, where it was located aside).
pub fn upsert(existing: Vec<Report>, incoming: Vec<Report>) -> (Vec<Report>, Upserted) {
    let mut index: std::collections::HashMap<ReportId, usize> = existing
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.clone(), i))
        .collect();
    let mut merged = existing;
    let mut counts = Upserted::default();
    for r in incoming {
        match index.get(&r.id) {
            Some(&i) => {
                if same_source(&merged[i], &r) {
                    counts.unchanged += 1;
                } else {
                    counts.updated += 1;
                }
                merged[i] = r;
            }
            None => {
                index.insert(r.id.clone(), merged.len());
                merged.push(r);
                counts.added += 1;
            }
        }
    }
    (merged, counts)
}

/// What an [`upsert`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Upserted {
    /// New ids.
    pub added: usize,
    /// Known ids whose row changed.
    pub updated: usize,
    /// Known ids whose row is the same.
    pub unchanged: usize,
}

/// Whether two rows of a report say the same, where the stored one was located aside (the
/// parcel, sector, match, distance and cell geocoding gave it, and the point a reference or an
/// address gave a report without one; the address and reference themselves are not stored).
fn same_source(stored: &Report, newer: &Report) -> bool {
    let derived = stored.location == Location::Derived && newer.location == Location::Missing;
    let located = Report {
        parcel_id: stored.parcel_id.clone(),
        sector_id: stored.sector_id.clone(),
        match_kind: stored.match_kind,
        distance_m: stored.distance_m,
        match_score: stored.match_score,
        h3: stored.h3,
        address: stored.address.clone(),
        parcel_ref: stored.parcel_ref.clone(),
        location: if derived {
            stored.location
        } else {
            newer.location
        },
        lon: if derived { stored.lon } else { newer.lon },
        lat: if derived { stored.lat } else { newer.lat },
        ..newer.clone()
    };
    &located == stored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upsert_counts_new_changed_and_unchanged_rows_geocoding_aside() {
        let t = chrono::DateTime::from_timestamp(1_750_000_000, 0).expect("a time");
        let report = |id: &str| Report::new(ReportId::new(id), "csv", Status::Open, "Abierto", t);
        let mut stored = vec![report("a"), report("b")];
        // Stored, they were located; read again, not yet.
        stored[0].parcel_id = Some(ParcelId::new("P1"));
        stored[0].match_kind = MatchKind::Inside;
        let mut closed = report("b");
        closed.status = Status::Resolved;
        let (merged, counts) = upsert(stored, vec![report("a"), closed, report("c")]);
        assert_eq!(
            counts,
            Upserted {
                added: 1,
                updated: 1,
                unchanged: 1
            }
        );
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[1].status, Status::Resolved);
    }
}
