//! Finding a place by what a user types: a sector by its name or id, a parcel by its id or one
//! of its addresses, an H3 cell by its index (what the map viewer's search box asks
//! `/search` for).
//!
//! Matching is by words, accent- and case-insensitive: every word typed must begin a word of
//! the feature's id, name or address ("san jo" finds "Barrio San José", "7 av" finds "Av. 7
//! #12-30"). The words of every feature are kept sorted, so a query costs a binary search and a
//! scan of the features sharing its rarest-first word's prefix — not a pass over the cadastre.
//! Hits are ranked: the id typed exactly, then a name or address that begins with what was
//! typed, then the others; shorter names first, then by id.

use geo::BoundingRect;

use crate::address::ADDRESS_SEPARATOR;
use crate::model::{ParcelLayer, SectorLayer, Value};
use crate::sector_index::interior_point;

/// What a hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HitKind {
    /// A sector (barrio, district).
    Sector,
    /// A parcel.
    Parcel,
    /// An H3 cell.
    Cell,
}

impl HitKind {
    /// Its name in answers: `sector`, `parcel`, `cell`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            HitKind::Sector => "sector",
            HitKind::Parcel => "parcel",
            HitKind::Cell => "cell",
        }
    }
}

/// One place found.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// What it is.
    pub kind: HitKind,
    /// Its id (sector id, parcel id, H3 cell index).
    pub id: String,
    /// What to show: the sector's name, the parcel's address, the cell's index.
    pub label: String,
    /// Its bounds, EPSG:4326: west, south, east, north.
    pub bbox: [f64; 4],
    /// A point inside it, EPSG:4326 (lon, lat).
    pub center: [f64; 2],
}

/// One searchable feature.
#[derive(Debug)]
struct Entry {
    kind: HitKind,
    id: String,
    label: String,
    /// The id, folded.
    folded_id: String,
    /// The label, folded.
    folded_label: String,
    bbox: [f64; 4],
    center: [f64; 2],
}

/// The places of one catalog version, searchable by words.
#[derive(Debug, Default)]
pub struct SearchIndex {
    entries: Vec<Entry>,
    /// Every word of every entry (folded), with the entry, sorted.
    words: Vec<(Box<str>, u32)>,
}

/// The most places a query looks at: a word typed that begins a few hundred thousand words
/// (`calle`, `1`) is answered from the first of them, in the words' order.
const MAX_CANDIDATES: usize = 2_000;

/// The words of a folded text.
fn split_words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Lowercase, accents folded, split at anything but letters and digits.
fn words_of(s: &str) -> Vec<String> {
    crate::address::fold(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

impl SearchIndex {
    /// The sectors (by id and name) and, when given, the parcels (by id and the attributes
    /// `address_fields`, a parcel's several addresses split at [`ADDRESS_SEPARATOR`]).
    #[must_use]
    pub fn new(
        sectors: Option<&SectorLayer>,
        parcels: Option<(&ParcelLayer, &[String])>,
    ) -> SearchIndex {
        let mut index = SearchIndex::default();
        for s in sectors.iter().flat_map(|l| &l.sectors) {
            index.push(HitKind::Sector, s.id.as_str(), &s.name, &s.geometry);
        }
        if let Some((layer, fields)) = parcels {
            let at: Vec<usize> = fields
                .iter()
                .filter_map(|f| layer.fields.iter().position(|x| &x.name == f))
                .collect();
            for p in &layer.parcels {
                let addresses: Vec<&str> = at
                    .iter()
                    .filter_map(|&i| match p.attributes.get(i) {
                        Some(Value::String(s)) => Some(s.as_str()),
                        _ => None,
                    })
                    .flat_map(|s| s.split(ADDRESS_SEPARATOR))
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                let label = addresses.join(ADDRESS_SEPARATOR);
                index.push(HitKind::Parcel, p.id.as_str(), &label, &p.geometry);
            }
        }
        index.words.sort_unstable();
        index
    }

    fn push(&mut self, kind: HitKind, id: &str, label: &str, g: &geo::MultiPolygon<f64>) {
        let Some(rect) = g.bounding_rect() else {
            return;
        };
        let center = interior_point(g).map_or(rect.center(), |p| p.0);
        let n = self.entries.len() as u32;
        let mut words = words_of(id);
        words.extend(words_of(label));
        words.sort_unstable();
        words.dedup();
        self.words
            .extend(words.into_iter().map(|w| (w.into_boxed_str(), n)));
        self.entries.push(Entry {
            kind,
            id: id.to_owned(),
            label: label.to_owned(),
            folded_id: crate::address::fold(id),
            folded_label: crate::address::fold(label),
            bbox: [rect.min().x, rect.min().y, rect.max().x, rect.max().y],
            center: [center.x, center.y],
        });
    }

    /// Sectors and parcels held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The best `limit` places for `query`; parcels only when `parcels` (the caller may see
    /// them). An H3 cell index typed whole is a hit of its own.
    #[must_use]
    pub fn search(&self, query: &str, parcels: bool, limit: usize) -> Vec<Hit> {
        let mut hits = Vec::new();
        if let Ok(cell) = query.trim().parse::<h3o::CellIndex>() {
            hits.push(cell_hit(cell));
        }
        let typed = words_of(query);
        let Some(longest) = typed.iter().max_by_key(|w| w.len()) else {
            return hits;
        };
        let whole = crate::address::fold(query.trim());
        // the entries with a word that begins with the longest word typed (the rarest, most
        // likely), then checked for the others
        let from = self.words.partition_point(|(w, _)| **w < **longest);
        let mut found: Vec<(u8, usize, u32)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (w, e) in &self.words[from..] {
            if !w.starts_with(longest.as_str()) {
                break;
            }
            if seen.len() >= MAX_CANDIDATES {
                break; // a short query over a large cadastre: the first ones do
            }
            if !seen.insert(*e) {
                continue;
            }
            let entry = &self.entries[*e as usize];
            if entry.kind == HitKind::Parcel && !parcels {
                continue;
            }
            // the other words typed, against the entry's own (folded once, at indexing)
            let begins = |t: &String| {
                split_words(&entry.folded_id)
                    .chain(split_words(&entry.folded_label))
                    .any(|w| w.starts_with(t.as_str()))
            };
            if typed.len() > 1 && !typed.iter().all(begins) {
                continue;
            }
            let rank = if entry.folded_id == whole {
                0
            } else if entry.folded_label.starts_with(&whole) || entry.folded_id.starts_with(&whole)
            {
                1
            } else {
                2
            };
            found.push((rank, entry.label.len(), *e));
        }
        found.sort_unstable_by(|a, b| {
            (a.0, a.1, &self.entries[a.2 as usize].id).cmp(&(
                b.0,
                b.1,
                &self.entries[b.2 as usize].id,
            ))
        });
        hits.extend(found.into_iter().map(|(_, _, e)| {
            let x = &self.entries[e as usize];
            Hit {
                kind: x.kind,
                id: x.id.clone(),
                label: if x.label.is_empty() {
                    x.id.clone()
                } else {
                    x.label.clone()
                },
                bbox: x.bbox,
                center: x.center,
            }
        }));
        hits.truncate(limit);
        hits
    }
}

/// An H3 cell as a hit: its hexagon's bounds and centre.
fn cell_hit(cell: h3o::CellIndex) -> Hit {
    let boundary = cell.boundary();
    let (mut w, mut s, mut e, mut n) = (180f64, 90f64, -180f64, -90f64);
    for v in boundary.iter() {
        w = w.min(v.lng());
        e = e.max(v.lng());
        s = s.min(v.lat());
        n = n.max(v.lat());
    }
    let c = h3o::LatLng::from(cell);
    Hit {
        kind: HitKind::Cell,
        id: cell.to_string(),
        label: format!("H3 {cell} (res {})", u8::from(cell.resolution())),
        bbox: [w, s, e, n],
        center: [c.lng(), c.lat()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Field, FieldType, Parcel, ParcelId, Sector, SectorId};
    use geo::{polygon, MultiPolygon};

    fn square(x: f64, y: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![polygon![
            (x: x, y: y), (x: x + 0.001, y: y), (x: x + 0.001, y: y + 0.001), (x: x, y: y + 0.001)
        ]])
    }

    fn index() -> SearchIndex {
        let sectors = SectorLayer {
            fields: Vec::new(),
            sectors: ["Barrio San José", "San Rafael", "Josefina"]
                .iter()
                .enumerate()
                .map(|(i, name)| Sector {
                    id: SectorId::new(format!("S{}", i + 1)),
                    name: (*name).to_owned(),
                    population: None,
                    area_m2: 1.0,
                    geometry: square(i as f64, 0.0),
                    attributes: Vec::new(),
                })
                .collect(),
        };
        let parcels = ParcelLayer {
            fields: vec![Field::new("direccion", FieldType::String)],
            parcels: ["Avenida 7 # 12-30 | Calle 5 10", "Calle San José 4"]
                .iter()
                .enumerate()
                .map(|(i, a)| Parcel {
                    id: ParcelId::new(format!("1-00{i}")),
                    sector_id: None,
                    area_m2: 1.0,
                    geometry: square(i as f64, 1.0),
                    attributes: vec![Value::String((*a).to_owned())],
                })
                .collect(),
        };
        SearchIndex::new(
            Some(&sectors),
            Some((&parcels, &["direccion".to_owned()][..])),
        )
    }

    #[test]
    fn words_in_any_order_accents_and_case_aside_ranked() {
        let ix = index();
        let ids = |q: &str, parcels: bool| -> Vec<String> {
            ix.search(q, parcels, 10)
                .into_iter()
                .map(|h| h.id)
                .collect()
        };
        // "san jo": both sectors' and the parcel's words begin with them; the label that
        // begins with it first, then the shorter
        assert_eq!(ids("san jo", false), ["S1"]);
        assert_eq!(ids("SAN JOSE", true), ["S1", "1-001"]);
        assert_eq!(ids("josé", false), ["S3", "S1"], "Josefina begins with it");
        assert_eq!(
            ids("jos", false),
            ["S3", "S1"],
            "a name that begins with it first"
        );
        assert_eq!(ids("s2", false), ["S2"], "an id typed exactly");
        // parcels only for those who may see them; by id and by any of their addresses
        assert_eq!(ids("calle 5", true), ["1-000"]);
        assert!(ids("calle 5", false).is_empty());
        assert_eq!(ids("1-001", true)[0], "1-001");
        assert!(ids("", true).is_empty());
        assert!(ids("zzz", true).is_empty());
        // an H3 cell typed whole
        let hits = ix.search("8928308280fffff", false, 10);
        assert_eq!(hits[0].kind, HitKind::Cell);
        assert!(hits[0].bbox[0] < hits[0].center[0] && hits[0].center[0] < hits[0].bbox[2]);
    }
}
