//! Citizen reports from foreign formats. Every format reads its rows into a [`Raw`] record of
//! text fields; one [`Normalizer`] turns those into [`Report`]s with the same rules for all:
//! times to UTC, status vocabulary, coordinates checked (range, swapped, default points),
//! duplicate ids within a file, history to acknowledged/closed/reopened times. Rows that cannot
//! be read are listed with their line (or feature) number; the rest import.

pub(crate) mod csv;
pub(crate) mod draft;
pub(crate) mod fixmystreet;
mod history;
pub(crate) mod open311;
mod text;
pub(crate) mod vector;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
pub(crate) use history::complete_history;
use predio_engine::{
    Bbox, ImportReport, Issue, IssueAction, LayerKind, Location, MatchKind, PrivateFields, Report,
    Status, StatusChange, StatusType,
};
pub(crate) use text::{next_record, open_text};

/// What one import of reports produced.
#[derive(Debug, Default)]
pub struct ReportRows {
    /// Reports read (not yet geocoded).
    pub reports: Vec<Report>,
    /// Rows (or features) in the source.
    pub read: usize,
    /// Rows refused or flagged, with line numbers.
    pub report: ImportReport,
    /// Personal fields of the imported reports, only when asked for (`--keep-private`).
    pub private: Vec<PrivateFields>,
}

/// Options every report reader takes.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// The catalog's extent (lon/lat): a point outside it whose swapped coordinates fall inside
    /// is refused as "latitude and longitude swapped".
    pub extent: Option<Bbox>,
    /// Keep personal fields in [`ReportRows::private`] instead of dropping them.
    pub keep_private: bool,
    /// IANA time zone for local times without a UTC offset (overrides a mapping's).
    pub timezone: Option<String>,
}

/// What a row's issue says of a local time read without the source's time zone: the command
/// line recognises it and names its option.
pub const NO_TIME_ZONE: &str =
    "is a local time without a UTC offset, and the source's time zone is not given";

/// Parses `open|in_progress|resolved|rejected|duplicate[:open|closed_fixed|closed_not_fixed]`.
pub(crate) fn parse_status(v: &str) -> std::result::Result<(Status, StatusType), String> {
    let (s, t) = v.split_once(':').map_or((v, None), |(a, b)| (a, Some(b)));
    let status: Status = s.trim().parse()?;
    let kind = t
        .map(|t| t.trim().parse())
        .transpose()?
        .unwrap_or_else(|| status.default_type());
    Ok((status, kind))
}

/// Parses an IANA time zone name.
pub(crate) fn parse_tz(name: &str) -> std::result::Result<Tz, String> {
    name.parse::<Tz>()
        .map_err(|e| format!("time zone {name:?}: {e}"))
}

/// How a source writes its times.
#[derive(Debug, Clone)]
pub(crate) struct Times {
    /// Zone of local times; `None`: only times with a UTC offset are accepted.
    pub tz: Option<Tz>,
    /// chrono formats of local times, tried after RFC 3339.
    pub formats: Vec<String>,
}

/// ISO 8601 shapes read without a format list: with an offset (`+0200`, `Z` is RFC 3339's)...
const ISO_WITH_OFFSET: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"];
/// ...and local times and dates, read in the source's zone (tried after the source's formats).
const ISO_LOCAL: [&str; 5] = [
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
];

impl Times {
    /// A time with a UTC offset (RFC 3339 / W3C, or ISO 8601 with `+hhmm`) is taken as is;
    /// otherwise the source's formats, then the ISO 8601 local shapes (`2025-03-01T10:00`,
    /// `2025-03-01 10:00:00`, `2025-03-01`), are tried and the local time read in the zone. In
    /// the autumn fold the earlier instant is taken; a local time in the spring gap is an
    /// error.
    pub fn parse(&self, text: &str) -> std::result::Result<DateTime<Utc>, String> {
        let text = text.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(t.with_timezone(&Utc));
        }
        for f in ISO_WITH_OFFSET {
            if let Ok(t) = DateTime::parse_from_str(text, f) {
                return Ok(t.with_timezone(&Utc));
            }
        }
        for f in self.formats.iter().map(String::as_str).chain(ISO_LOCAL) {
            let naive = NaiveDateTime::parse_from_str(text, f).ok().or_else(|| {
                NaiveDate::parse_from_str(text, f)
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            });
            if let Some(n) = naive {
                let Some(tz) = self.tz else {
                    return Err(format!("{text:?} {NO_TIME_ZONE}"));
                };
                return tz
                    .from_local_datetime(&n)
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
                    .ok_or_else(|| format!("{text:?} does not exist in {tz}"));
            }
        }
        Err(format!(
            "{text:?} is neither ISO 8601 / RFC 3339 nor any of the formats {:?}",
            self.formats
        ))
    }
}

/// Coordinates as the source gives them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Coords<'a> {
    /// Text fields (CSV, JSON, XML): latitude, longitude.
    Text(Option<&'a str>, Option<&'a str>),
    /// A geometry already reprojected to WGS 84: (lon, lat), or none.
    Point(Option<(f64, f64)>),
}

/// One row as read, before any check.
#[derive(Debug, Clone, Default)]
pub(crate) struct Raw<'a> {
    /// Line (CSV), feature number (GDAL) or element number (JSON/XML), 1-based.
    pub line: u64,
    pub id: Option<&'a str>,
    pub created_at: Option<&'a str>,
    pub acknowledged_at: Option<&'a str>,
    pub closed_at: Option<&'a str>,
    pub deadline_at: Option<&'a str>,
    pub status: Option<&'a str>,
    pub on_time: Option<&'a str>,
    pub category: Option<&'a str>,
    pub department: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub coords: Option<Coords<'a>>,
    /// Status changes the source records (Open311 notes): time text, label, normalised status
    /// (`None`: an activity that changes nothing).
    pub history: Vec<(&'a str, String, Option<Status>)>,
    /// Personal fields: column name, value.
    pub private: Vec<(&'a str, &'a str)>,
    /// The source's own ward / district.
    pub area: Option<&'a str>,
    /// The report this one follows on from or duplicates.
    pub parent_id: Option<&'a str>,
    /// The source marks a closed report as a duplicate (Open311 `duplicate`).
    pub duplicate: bool,
    /// The address as written (Open311 `address_string`, a mapping's `address`).
    pub address: Option<&'a str>,
    /// The parcel's reference as written (Open311 `address_id`, a mapping's `parcel_ref`).
    pub parcel_ref: Option<&'a str>,
}

/// The status vocabulary of a source: label (lower case, trimmed) → status and type.
#[derive(Debug, Clone, Default)]
pub(crate) struct Vocabulary(pub HashMap<String, (Status, StatusType)>);

impl Vocabulary {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            pairs
                .into_iter()
                .filter_map(|(k, v)| Some((k.trim().to_lowercase(), parse_status(v).ok()?)))
                .collect(),
        )
    }

    pub fn get(&self, label: &str) -> Option<(Status, StatusType)> {
        self.0.get(&label.trim().to_lowercase()).copied()
    }
}

/// The shared rules from [`Raw`] rows to reports.
pub(crate) struct Normalizer {
    pub source: &'static str,
    pub times: Times,
    pub tz_name: String,
    pub statuses: Vocabulary,
    pub verdicts: HashMap<String, bool>,
    pub default_points: Vec<[f64; 2]>,
    /// `[location] prefer_parcel_ref`: a report with a reference is placed by it.
    pub prefer_parcel_ref: bool,
    pub options: ReadOptions,
    /// Names of the source's columns, for messages.
    pub names: HashMap<&'static str, String>,
    seen: HashMap<String, u64>,
    pub out: ReportRows,
}

/// Whether (lon, lat) lies within half a degree of the extent.
fn near(e: &Bbox, lon: f64, lat: f64) -> bool {
    const MARGIN: f64 = 0.5;
    lon >= e.west - MARGIN
        && lon <= e.east + MARGIN
        && lat >= e.south - MARGIN
        && lat <= e.north + MARGIN
}

impl Normalizer {
    pub fn new(
        source: &'static str,
        times: Times,
        tz_name: String,
        statuses: Vocabulary,
        options: ReadOptions,
    ) -> Self {
        Self {
            source,
            times,
            tz_name,
            statuses,
            verdicts: HashMap::new(),
            default_points: Vec::new(),
            prefer_parcel_ref: false,
            options,
            names: HashMap::new(),
            seen: HashMap::new(),
            out: ReportRows::default(),
        }
    }

    /// The normaliser of a format with a fixed vocabulary whose times carry a UTC offset, or are
    /// local in `--timezone` (Open311, FixMyStreet; UTC recorded when none is given).
    pub fn with_zone(
        source: &'static str,
        formats: &[&str],
        statuses: Vocabulary,
        options: ReadOptions,
    ) -> std::result::Result<Self, String> {
        let tz = options.timezone.as_deref().map(parse_tz).transpose()?;
        let tz_name = options.timezone.clone().unwrap_or_else(|| "UTC".into());
        let times = Times {
            tz,
            formats: formats.iter().map(|s| (*s).to_owned()).collect(),
        };
        Ok(Self::new(source, times, tz_name, statuses, options))
    }

    fn name(&self, field: &'static str) -> String {
        self.names
            .get(field)
            .map_or_else(|| field.to_owned(), |n| format!("{n:?}"))
    }

    /// Records a row that could not be read at all.
    pub fn refuse(&mut self, line: u64, id: Option<&str>, problem: String) {
        self.out.report.issues.push(Issue {
            layer: LayerKind::Reports,
            feature: line,
            id: id.map(str::to_owned),
            problem,
            action: IssueAction::Skipped,
        });
    }

    fn flag(&mut self, line: u64, id: &str, problem: String) {
        self.out.report.issues.push(Issue {
            layer: LayerKind::Reports,
            feature: line,
            id: Some(id.to_owned()),
            problem,
            action: IssueAction::Flagged,
        });
    }

    fn time(
        &self,
        text: Option<&str>,
        field: &'static str,
    ) -> Result<Option<DateTime<Utc>>, String> {
        text.map(|t| {
            self.times
                .parse(t)
                .map_err(|e| format!("bad {field} ({}): {e}", self.name(field)))
        })
        .transpose()
    }

    fn point(&self, coords: Option<Coords<'_>>) -> Result<(Location, Option<(f64, f64)>), String> {
        let (la, lo) = match coords {
            None | Some(Coords::Point(None)) => return Ok((Location::Missing, None)),
            Some(Coords::Point(Some((lon, lat)))) => (Some(lat), Some(lon)),
            Some(Coords::Text(a, o)) => {
                let num = |v: Option<&str>, field: &'static str| {
                    v.map(|v| {
                        v.trim().parse::<f64>().map_err(|_| {
                            format!(
                                "bad coordinate: {} is not a number: {v:?}",
                                self.name(field)
                            )
                        })
                    })
                    .transpose()
                };
                (num(a, "lat")?, num(o, "lon")?)
            }
        };
        let (Some(a), Some(o)) = (la, lo) else {
            return Ok((Location::Missing, None));
        };
        if !a.is_finite()
            || !o.is_finite()
            || !(-90.0..=90.0).contains(&a)
            || !(-180.0..=180.0).contains(&o)
        {
            let hint = if (-90.0..=90.0).contains(&o) && (-180.0..=180.0).contains(&a) {
                " (latitude and longitude swapped?)"
            } else {
                ""
            };
            return Err(format!("coordinates out of range: lat {a}, long {o}{hint}"));
        }
        if self
            .options
            .extent
            .is_some_and(|e| !near(&e, o, a) && near(&e, a, o))
        {
            return Err(format!("latitude and longitude swapped? ({a}, {o}) lies outside the catalog's extent, ({o}, {a}) inside"));
        }
        if a == 0.0 && o == 0.0 {
            return Ok((Location::Missing, None));
        }
        if self
            .default_points
            .iter()
            .any(|p| (p[0] - a).abs() < 1e-6 && (p[1] - o).abs() < 1e-6)
        {
            return Ok((Location::DefaultPoint, Some((o, a))));
        }
        Ok((Location::Located, Some((o, a))))
    }

    /// Checks one row and adds its report, or lists why it cannot be read.
    pub fn push(&mut self, raw: Raw<'_>) {
        let line = raw.line;
        let Some(rid) = raw.id.map(str::trim).filter(|s| !s.is_empty()) else {
            let problem = format!("no id ({})", self.name("id"));
            self.refuse(line, None, problem);
            return;
        };
        if let Some(first) = self.seen.get(rid) {
            let problem = format!("duplicate id within the file (first at line {first})");
            self.refuse(line, Some(rid), problem);
            return;
        }
        match self.build(rid, &raw) {
            Ok(report) => {
                self.seen.insert(rid.to_owned(), line);
                // a report without a point but with a reference or an address is located (or
                // flagged with its reason) against the cadastre's after the import
                let by_address = report.address.is_some() || report.parcel_ref.is_some();
                match report.location {
                    Location::Missing if !by_address => {
                        self.flag(line, rid, "unlocated: no coordinates".into());
                    }
                    Location::DefaultPoint if !by_address => self.flag(
                        line,
                        rid,
                        "unlocated: the system's default point, not the problem's location".into(),
                    ),
                    _ => {}
                }
                if report.closed_at.is_some_and(|c| c < report.created_at) {
                    self.flag(
                        line,
                        rid,
                        "closed before it was created: excluded from resolution times".into(),
                    );
                }
                // the address and the reference are kept as personal fields (a home), under
                // these names, which `predio geocode` reads back to locate again
                let located_by = [("address", raw.address), ("parcel_ref", raw.parcel_ref)];
                let located_by = located_by.iter().filter_map(|(k, v)| Some((*k, (*v)?)));
                if self.options.keep_private && (!raw.private.is_empty() || by_address) {
                    self.out.private.push(PrivateFields {
                        id: rid.into(),
                        values: raw
                            .private
                            .iter()
                            .copied()
                            .chain(located_by)
                            .filter(|(_, v)| !v.trim().is_empty())
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect(),
                    });
                }
                self.out.reports.push(report);
            }
            Err(problem) => self.refuse(line, Some(rid), problem),
        }
    }

    fn build(&self, rid: &str, raw: &Raw<'_>) -> Result<Report, String> {
        let created_at = self
            .time(raw.created_at, "created_at")?
            .ok_or_else(|| format!("no creation time ({})", self.name("created_at")))?;
        let acknowledged_at = self.time(raw.acknowledged_at, "acknowledged_at")?;
        let closed_at = self.time(raw.closed_at, "closed_at")?;
        let deadline_at = self.time(raw.deadline_at, "deadline_at")?;
        let label = raw.status.map(str::trim).unwrap_or("");
        let (mut status, mut kind) = self.statuses.get(label).ok_or_else(|| {
            format!(
                "unknown status {label:?} ({}; known: {})",
                self.name("status"),
                known(&self.statuses)
            )
        })?;
        if raw.duplicate && status.is_closed() {
            (status, kind) = (Status::Duplicate, Status::Duplicate.default_type());
        }
        let by_reference = self.prefer_parcel_ref && text(raw.parcel_ref).is_some();
        let (location, point) = if by_reference {
            (Location::Missing, None)
        } else {
            self.point(raw.coords)?
        };
        let mut history = Vec::with_capacity(raw.history.len() + 3);
        for (at, note, st) in &raw.history {
            let at = self
                .times
                .parse(at)
                .map_err(|e| format!("bad time in the status history: {e}"))?;
            if let Some(st) = st {
                history.push(StatusChange {
                    at,
                    status: *st,
                    label: note.clone(),
                });
            }
        }
        let mut report = Report {
            id: rid.into(),
            source: self.source.into(),
            category: raw.category.map(str::to_owned),
            department: raw.department.map(str::to_owned),
            channel: raw.channel.map(str::to_owned),
            status,
            status_label: label.to_owned(),
            status_type: kind,
            created_at,
            acknowledged_at,
            closed_at: closed_at.filter(|_| status.is_closed()),
            reopened_at: None,
            deadline_at,
            source_on_time: raw
                .on_time
                .and_then(|v| self.verdicts.get(&v.trim().to_lowercase()).copied()),
            source_tz: self.tz_name.clone(),
            lon: point.map(|p| p.0),
            lat: point.map(|p| p.1),
            location,
            parcel_id: None,
            sector_id: None,
            match_kind: MatchKind::None,
            distance_m: None,
            match_score: None,
            h3: None,
            history,
            source_area: raw.area.map(str::to_owned),
            parent_id: raw.parent_id.map(str::to_owned),
            address: text(raw.address),
            parcel_ref: text(raw.parcel_ref),
        };
        complete_history(&mut report);
        Ok(report)
    }
}

/// A text field trimmed, `None` when empty.
fn text(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn known(v: &Vocabulary) -> String {
    let mut labels: Vec<&str> = v.0.keys().map(String::as_str).collect();
    labels.sort_unstable();
    labels.join(", ")
}

#[cfg(test)]
mod tests;
