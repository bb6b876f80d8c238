//! A version's reports indexed for the request-level endpoints (Open311's `requests`): newest
//! first, by id, and the services (categories) with their codes and groups.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use predio_engine::{interior_point, Location, ParcelId, ParcelLayer, Report, ReportId};

use crate::cli::PublicLocation;

/// An Open311 service: `(code, name, group)`.
pub(crate) type Service = (String, String, String);

/// A version's reports, ready for Open311.
pub(crate) struct Requests {
    /// Newest first.
    pub(super) reports: Vec<Report>,
    pub(super) by_id: HashMap<ReportId, usize>,
    /// `(code, name, group)`, by name.
    pub(super) services: Vec<Service>,
    pub(super) code_of: HashMap<String, String>,
    pub(super) newest: Option<DateTime<Utc>>,
    /// Each report's public point `(lat, lon)`, coarsened (empty unless requests are public);
    /// `None` for a report without a real point or parcel.
    pub(super) coarse: Vec<Option<(f64, f64)>>,
}

/// The services of `reports` (their categories), by name: `(code, name, group)`, the group
/// being the department that handles most of the category; and each name's code.
pub(super) fn services(reports: &[Report]) -> (Vec<Service>, HashMap<String, String>) {
    services_of_pairs(
        reports
            .iter()
            .map(|r| (service_name(r), r.department.as_deref())),
    )
}

/// [`services`] from the reports' columns (what `services.json` reads: no report whole).
pub(super) fn services_of_columns(
    reports: &predio_engine::ReportColumns,
) -> (Vec<Service>, HashMap<String, String>) {
    services_of_pairs((0..reports.len()).map(|i| {
        (
            reports.category(i).unwrap_or(NO_CATEGORY),
            reports.department(i),
        )
    }))
}

/// The services of `(category, department)` pairs.
fn services_of_pairs<'a>(
    pairs: impl Iterator<Item = (&'a str, Option<&'a str>)>,
) -> (Vec<Service>, HashMap<String, String>) {
    let mut groups: BTreeMap<String, HashMap<String, usize>> = BTreeMap::new();
    for (name, department) in pairs {
        let g = groups.entry(name.to_owned()).or_default();
        if let Some(d) = department {
            *g.entry(d.to_owned()).or_default() += 1;
        }
    }
    let mut used: HashMap<String, usize> = HashMap::new();
    let mut services = Vec::new();
    let mut code_of = HashMap::new();
    for (name, depts) in groups {
        let base = slug(&name);
        let n = used.entry(base.clone()).or_default();
        *n += 1;
        let code = if *n == 1 { base } else { format!("{base}-{n}") };
        let group = depts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(d, _)| d)
            .unwrap_or_default();
        code_of.insert(name.clone(), code.clone());
        services.push((code, name, group));
    }
    (services, code_of)
}

impl Requests {
    pub(super) fn new(mut reports: Vec<Report>) -> Self {
        reports.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        let by_id = reports
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        let (services, code_of) = services(&reports);
        let newest = reports.first().map(|r| r.created_at);
        Self {
            reports,
            by_id,
            services,
            code_of,
            newest,
            coarse: Vec::new(),
        }
    }

    /// Places each report where the public may see it (`--public-location`): its parcel's
    /// interior point, or the centre of its H3 cell.
    pub(super) fn coarsen(mut self, how: PublicLocation, parcels: Option<&ParcelLayer>) -> Self {
        let mut points: HashMap<&ParcelId, Option<(f64, f64)>> = HashMap::new();
        let wanted: std::collections::HashSet<&ParcelId> = if how == PublicLocation::Parcel {
            self.reports
                .iter()
                .filter_map(|r| r.parcel_id.as_ref())
                .collect()
        } else {
            Default::default()
        };
        for p in parcels.map(|l| l.parcels.as_slice()).unwrap_or_default() {
            if wanted.contains(&p.id) {
                let point = interior_point(&p.geometry).map(|q| (q.y(), q.x()));
                points.insert(&p.id, point);
            }
        }
        let res = how.resolution();
        let coarse = self
            .reports
            .iter()
            .map(|r| {
                let parcel = r
                    .parcel_id
                    .as_ref()
                    .and_then(|id| points.get(id).copied().flatten());
                parcel.or_else(|| match (r.lat, r.lon, r.location) {
                    (Some(lat), Some(lon), Location::Located) => {
                        let cell = h3o::LatLng::new(lat, lon).ok()?.to_cell(res);
                        let c = h3o::LatLng::from(cell);
                        Some((c.lat(), c.lng()))
                    }
                    _ => None,
                })
            })
            .collect();
        self.coarse = coarse;
        self
    }
}

/// The service of a report without a category.
const NO_CATEGORY: &str = "Sin categoría";

pub(super) fn service_name(r: &Report) -> &str {
    r.category.as_deref().unwrap_or(NO_CATEGORY)
}

/// A service code from a category name: lowercase ASCII letters and digits joined by '-'.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = match c {
            'á' | 'à' | 'ä' | 'â' | 'Á' => 'a',
            'é' | 'è' | 'ë' | 'ê' | 'É' => 'e',
            'í' | 'ì' | 'ï' | 'î' | 'Í' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' | 'Ó' => 'o',
            'ú' | 'ù' | 'ü' | 'û' | 'Ú' => 'u',
            'ñ' | 'Ñ' => 'n',
            'ç' => 'c',
            c => c.to_ascii_lowercase(),
        };
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() {
        "other".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_codes_are_ascii_slugs() {
        assert_eq!(slug("Alumbrado público"), "alumbrado-publico");
        assert_eq!(slug("  Baches & huecos!! "), "baches-huecos");
        assert_eq!(slug("¿?"), "other");
    }
}
