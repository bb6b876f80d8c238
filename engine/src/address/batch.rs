//! Reports without a point placed on the parcel their reference or address names, after the
//! geocoder placed those with one (coordinates win).

use std::collections::HashMap;

use crate::import_log::{Issue, IssueAction};
use crate::model::{CellId, LayerKind, ParcelLayer, Value};
use crate::report::{Location, MatchKind, Report};
use crate::sector_index::interior_point;

use super::book::{AddressBook, Found, How, Thresholds};

/// Where a parcel's addresses are: the parcel attributes holding them (several addresses of one
/// parcel, such as condominium units, are joined by [`ADDRESS_SEPARATOR`]), and the attribute
/// holding its reference (else its id).
#[derive(Debug, Clone, Default)]
pub struct AddressSource {
    /// Attributes holding addresses.
    pub address_fields: Vec<String>,
    /// The attribute holding the parcel's reference (map-lot, finca); `None`: the parcel id.
    pub ref_field: Option<String>,
}

/// What joins several addresses of one parcel in one attribute.
pub const ADDRESS_SEPARATOR: &str = " | ";

/// The book of a parcel layer, and each group's parcel: where one reference is shared by several
/// parcels (a lot drawn in pieces), the largest of them.
pub struct ParcelBook {
    /// The references and addresses.
    pub book: AddressBook,
    /// Group → the parcel (its position in the layer).
    pub parcel_of: Vec<usize>,
}

impl ParcelBook {
    /// Indexes `layer`'s references and addresses as `source` says.
    pub fn new(layer: &ParcelLayer, source: &AddressSource, thresholds: Thresholds) -> Self {
        let position = |name: &str| layer.fields.iter().position(|f| f.name == name);
        let ref_at = source.ref_field.as_deref().and_then(position);
        let address_at: Vec<usize> = source
            .address_fields
            .iter()
            .filter_map(|f| position(f))
            .collect();
        let text = |v: &Value| match v {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_json().to_string()),
        };
        // one group per reference: its largest parcel
        let mut group_of: HashMap<String, u32> = HashMap::new();
        let mut parcel_of: Vec<usize> = Vec::new();
        let mut groups: Vec<u32> = Vec::with_capacity(layer.parcels.len());
        for (i, p) in layer.parcels.iter().enumerate() {
            let reference = match ref_at {
                Some(k) => p.attributes.get(k).and_then(text),
                None => Some(p.id.as_str().to_owned()),
            }
            .unwrap_or_else(|| format!("\u{0}{i}"));
            let g = *group_of.entry(reference).or_insert_with(|| {
                parcel_of.push(i);
                (parcel_of.len() - 1) as u32
            });
            let best = &mut parcel_of[g as usize];
            if p.area_m2 > layer.parcels[*best].area_m2 {
                *best = i;
            }
            groups.push(g);
        }
        let mut book = AddressBook::new(thresholds);
        for (reference, &g) in &group_of {
            if !reference.starts_with('\u{0}') {
                book.add_ref(reference, g);
            }
        }
        for (p, &g) in layer.parcels.iter().zip(&groups) {
            for &k in &address_at {
                if let Some(Value::String(s)) = p.attributes.get(k) {
                    for a in s.split(ADDRESS_SEPARATOR) {
                        book.add_address(a, g);
                    }
                }
            }
        }
        book.finish();
        Self { book, parcel_of }
    }
}

/// Places every report that has no point of its own but a reference or an address: its parcel,
/// sector, match kind and score, its parcel's interior point (`location = derived`) and H3
/// cell. Reports placed this way before and carrying no reference or address now (read back
/// from the catalog) are not looked at ([`crate::geocode_reports`] keeps them). Returns the
/// counts by match kind of the reports it placed (the geocoder counted them unlocated), and one
/// flagged issue per report left unlocated, with its reason and best candidate.
pub fn locate_without_point(
    reports: &mut [Report],
    layer: &ParcelLayer,
    book: &ParcelBook,
    h3_resolution: h3o::Resolution,
) -> (crate::MatchCounts, Vec<Issue>) {
    let mut counts = crate::MatchCounts::default();
    let mut issues = Vec::new();
    let mut points: HashMap<usize, Option<(f64, f64)>> = HashMap::new();
    for (n, r) in reports.iter_mut().enumerate() {
        if r.location == Location::Located {
            continue;
        }
        if r.address.is_none() && r.parcel_ref.is_none() {
            continue;
        }
        let found = book
            .book
            .find(r.parcel_ref.as_deref(), r.address.as_deref());
        let placed = match found {
            Found::Match { group, how, score } => {
                let i = book.parcel_of[group as usize];
                let point = *points.entry(i).or_insert_with(|| {
                    interior_point(&layer.parcels[i].geometry).map(|p| (p.x(), p.y()))
                });
                point.map(|(lon, lat)| (i, how, score, lon, lat))
            }
            Found::Unmatched { reason, best } => {
                let best = best
                    .map(|(g, s)| {
                        let p = &layer.parcels[book.parcel_of[g as usize]];
                        format!("; best candidate parcel {} (score {s:.2})", p.id)
                    })
                    .unwrap_or_default();
                issues.push(Issue {
                    layer: LayerKind::Reports,
                    feature: n as u64 + 1,
                    id: Some(r.id.to_string()),
                    problem: format!("unlocated: {}{best}", reason.as_str()),
                    action: IssueAction::Flagged,
                });
                None
            }
        };
        match placed {
            Some((i, how, score, lon, lat)) => {
                let p = &layer.parcels[i];
                r.parcel_id = Some(p.id.clone());
                r.sector_id = p.sector_id.clone();
                r.match_kind = match how {
                    How::Ref => MatchKind::ParcelRef,
                    How::Address => MatchKind::Address,
                    How::Near => MatchKind::AddressNear,
                    How::Fuzzy => MatchKind::AddressFuzzy,
                };
                r.match_score = Some((score * 1000.0).round() / 1000.0);
                r.distance_m = None;
                r.location = Location::Derived;
                r.lon = Some(lon);
                r.lat = Some(lat);
                r.h3 = h3o::LatLng::new(lat, lon)
                    .ok()
                    .map(|c| CellId::from(c.to_cell(h3_resolution)));
                counts.count(r.match_kind);
                counts.in_sector += usize::from(r.sector_id.is_some());
            }
            None => {
                if r.location == Location::Derived {
                    // placed before, not any more (the cadastre changed)
                    r.location = Location::Missing;
                    r.lon = None;
                    r.lat = None;
                    r.h3 = None;
                }
                r.parcel_id = None;
                r.sector_id = None;
                r.match_kind = MatchKind::None;
                r.match_score = None;
            }
        }
    }
    (counts, issues)
}
