//! Reports from any CSV, read through a small TOML mapping: which column holds what, the time
//! zone and formats of its local times, the status vocabulary, the system's default point, and
//! which columns are personal (never read into the public tables).
//!
//! ```toml
//! [source]
//! timezone = "America/Costa_Rica"
//! datetime_formats = ["%Y-%m-%d %H:%M"]
//! [columns]
//! id = "id_reporte"
//! created_at = "fecha_creacion"
//! status = "estado"
//! lat = "latitud"
//! lon = "longitud"
//! [status]
//! "Abierto" = "open"
//! "Cerrado sin solución" = "resolved:closed_not_fixed"
//! [private]
//! columns = ["nombre", "correo"]
//! ```

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use predio_engine::{
    Bbox, ImportReport, Issue, IssueAction, LayerKind, Location, MatchKind, Report, Status,
    StatusChange, StatusType,
};
use serde::Deserialize;

use crate::error::{Error, Result};

/// A CSV mapping file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvMapping {
    /// How to read times and the file.
    pub source: SourceSection,
    /// Which column holds what.
    pub columns: Columns,
    /// The source's status labels → `open|in_progress|resolved|rejected|duplicate`, optionally
    /// `:open|closed_fixed|closed_not_fixed`. Matched ignoring case and surrounding spaces.
    pub status: HashMap<String, String>,
    /// On-time verdict labels → true/false (Boston `OnTime_Status`: `ONTIME`, `OVERDUE`).
    #[serde(default)]
    pub on_time: HashMap<String, bool>,
    /// Personal columns: never read.
    #[serde(default)]
    pub private: PrivateSection,
    /// Points that mean "no location" (a system's default, e.g. city hall).
    #[serde(default)]
    pub location: LocationSection,
}

/// `[source]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    /// IANA time zone of the local times (`America/New_York`).
    pub timezone: String,
    /// chrono formats tried in order (`%m/%d/%Y %I:%M:%S %p`); a bare date is midnight.
    pub datetime_formats: Vec<String>,
    /// Field delimiter (default `,`).
    #[serde(default)]
    pub delimiter: Option<char>,
}

/// `[columns]`: column names in the CSV header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    /// Report id.
    pub id: String,
    /// Creation time.
    pub created_at: String,
    /// Status label.
    pub status: String,
    /// Latitude (WGS 84).
    pub lat: String,
    /// Longitude (WGS 84).
    pub lon: String,
    /// First acknowledgement.
    pub acknowledged_at: Option<String>,
    /// Closing time.
    pub closed_at: Option<String>,
    /// The source's deadline.
    pub deadline_at: Option<String>,
    /// The source's on-time verdict.
    pub on_time: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Department / agency.
    pub department: Option<String>,
    /// Channel.
    pub channel: Option<String>,
}

/// `[private]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateSection {
    /// Columns with personal data or free text.
    #[serde(default)]
    pub columns: Vec<String>,
}

/// `[location]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationSection {
    /// `[lat, lon]` pairs meaning "unknown location".
    #[serde(default)]
    pub default_points: Vec<[f64; 2]>,
}

impl CsvMapping {
    /// Reads a mapping file.
    ///
    /// # Errors
    /// An unreadable file, invalid TOML, an unknown key, an unknown time zone or status.
    pub fn from_file(path: &Path) -> Result<CsvMapping> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Mapping {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let mapping: CsvMapping = toml::from_str(&text).map_err(|e| Error::Mapping {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        mapping.tz().map_err(|message| Error::Mapping {
            path: path.display().to_string(),
            message,
        })?;
        for v in mapping.status.values() {
            parse_status(v).map_err(|message| Error::Mapping {
                path: path.display().to_string(),
                message,
            })?;
        }
        Ok(mapping)
    }

    fn tz(&self) -> std::result::Result<Tz, String> {
        self.source
            .timezone
            .parse::<Tz>()
            .map_err(|e| format!("time zone {:?}: {e}", self.source.timezone))
    }
}

fn parse_status(v: &str) -> std::result::Result<(Status, StatusType), String> {
    let (s, t) = v.split_once(':').map_or((v, None), |(a, b)| (a, Some(b)));
    let status: Status = s.trim().parse()?;
    let kind = t
        .map(|t| t.trim().parse())
        .transpose()?
        .unwrap_or_else(|| status.default_type());
    Ok((status, kind))
}

/// Parses a local time in `tz` with the mapping's formats.
fn parse_time(
    text: &str,
    formats: &[String],
    tz: Tz,
) -> std::result::Result<DateTime<Utc>, String> {
    let text = text.trim();
    for f in formats {
        let naive = NaiveDateTime::parse_from_str(text, f).ok().or_else(|| {
            NaiveDate::parse_from_str(text, f)
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        });
        if let Some(n) = naive {
            // In the autumn fold the earlier instant is taken; a time in the spring gap is invalid.
            return tz
                .from_local_datetime(&n)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| format!("{text:?} does not exist in {tz}"));
        }
    }
    Err(format!("{text:?} matches none of the formats {formats:?}"))
}

/// Whether (lon, lat) lies within half a degree of the extent.
fn near(e: &Bbox, lon: f64, lat: f64) -> bool {
    const MARGIN: f64 = 0.5;
    lon >= e.west - MARGIN
        && lon <= e.east + MARGIN
        && lat >= e.south - MARGIN
        && lat <= e.north + MARGIN
}

/// What one CSV import produced.
#[derive(Debug, Default)]
pub struct ReportRows {
    /// Reports read (not yet geocoded).
    pub reports: Vec<Report>,
    /// Data rows in the file.
    pub read: usize,
    /// Rows refused or flagged, with line numbers.
    pub report: ImportReport,
}

/// Reads reports from a CSV file (optionally gzipped: `.gz`) with `mapping`.
///
/// # Errors
/// An unreadable file, or a header lacking a mapped column. Bad rows do not fail the import:
/// they are listed in the import report with their line number.
///
/// `extent` is the catalog's extent (lon/lat): a point outside it whose swapped coordinates
/// fall inside is refused as "latitude and longitude swapped".
pub fn read_csv_reports(
    path: &Path,
    mapping: &CsvMapping,
    extent: Option<Bbox>,
) -> Result<ReportRows> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|_| Error::NotFound {
        path: shown.clone(),
    })?;
    let input: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(mapping.source.delimiter.unwrap_or(',') as u8)
        .flexible(true)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, input));
    let headers = reader
        .headers()
        .map_err(|e| Error::Read {
            path: shown.clone(),
            feature: 0,
            message: e.to_string(),
        })?
        .clone();
    let col = |name: &str| -> Result<usize> {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| Error::NoSuchField {
                path: shown.clone(),
                layer: "CSV header".into(),
                field: name.to_owned(),
                available: headers.iter().collect::<Vec<_>>().join(", "),
            })
    };
    let opt = |name: &Option<String>| name.as_deref().map(col).transpose();
    let c = &mapping.columns;
    let (id, created, status, lat, lon) = (
        col(&c.id)?,
        col(&c.created_at)?,
        col(&c.status)?,
        col(&c.lat)?,
        col(&c.lon)?,
    );
    let (ack, closed, deadline, on_time) = (
        opt(&c.acknowledged_at)?,
        opt(&c.closed_at)?,
        opt(&c.deadline_at)?,
        opt(&c.on_time)?,
    );
    let (category, department, channel) =
        (opt(&c.category)?, opt(&c.department)?, opt(&c.channel)?);
    let tz = mapping.tz().map_err(|message| Error::Mapping {
        path: shown.clone(),
        message,
    })?;
    let statuses: HashMap<String, (Status, StatusType)> = mapping
        .status
        .iter()
        .filter_map(|(k, v)| Some((k.trim().to_lowercase(), parse_status(v).ok()?)))
        .collect();
    let verdicts: HashMap<String, bool> = mapping
        .on_time
        .iter()
        .map(|(k, v)| (k.trim().to_lowercase(), *v))
        .collect();
    let formats = &mapping.source.datetime_formats;

    let mut out = ReportRows::default();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                out.read += 1;
                let line = e.position().map_or(line, |p| p.line());
                out.report.issues.push(Issue {
                    layer: LayerKind::Reports,
                    feature: line,
                    id: None,
                    problem: format!("unreadable CSV row: {e}"),
                    action: IssueAction::Skipped,
                });
                continue;
            }
        }
        out.read += 1;
        let line = record.position().map_or(line, |p| p.line());
        let field = |i: usize| record.get(i).map(str::trim).filter(|s| !s.is_empty());
        let mut refuse = |id: Option<&str>, problem: String| {
            out.report.issues.push(Issue {
                layer: LayerKind::Reports,
                feature: line,
                id: id.map(str::to_owned),
                problem,
                action: IssueAction::Skipped,
            });
        };
        let Some(rid) = field(id) else {
            refuse(None, format!("no id in column {:?}", c.id));
            continue;
        };
        if let Some(first) = seen.get(rid) {
            refuse(
                Some(rid),
                format!("duplicate id within the file (first at line {first})"),
            );
            continue;
        }
        let time =
            |i: Option<usize>, name: &str| -> std::result::Result<Option<DateTime<Utc>>, String> {
                i.and_then(field)
                    .map(|t| parse_time(t, formats, tz).map_err(|e| format!("bad {name}: {e}")))
                    .transpose()
            };
        let created_at = match field(created)
            .ok_or_else(|| format!("no {:?}", c.created_at))
            .and_then(|t| parse_time(t, formats, tz).map_err(|e| format!("bad created_at: {e}")))
        {
            Ok(t) => t,
            Err(e) => {
                refuse(Some(rid), e);
                continue;
            }
        };
        let times = (
            time(ack, "acknowledged_at"),
            time(closed, "closed_at"),
            time(deadline, "deadline_at"),
        );
        let (acknowledged_at, closed_at, deadline_at) = match times {
            (Ok(a), Ok(b), Ok(c)) => (a, b, c),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                refuse(Some(rid), e);
                continue;
            }
        };
        let label = field(status).unwrap_or("");
        let Some(&(st, kind)) = statuses.get(&label.to_lowercase()) else {
            refuse(
                Some(rid),
                format!("unknown status {label:?} (not in the mapping's [status])"),
            );
            continue;
        };
        let coord = |i: usize| {
            field(i)
                .map(|v| v.parse::<f64>().map_err(|_| format!("not a number: {v:?}")))
                .transpose()
        };
        let (la, lo) = match (coord(lat), coord(lon)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                refuse(Some(rid), format!("bad coordinate: {e}"));
                continue;
            }
        };
        let (location, la, lo) = match (la, lo) {
            (Some(a), Some(o))
                if !(-90.0..=90.0).contains(&a) || !(-180.0..=180.0).contains(&o) =>
            {
                let hint = if (-90.0..=90.0).contains(&o) && (-180.0..=180.0).contains(&a) {
                    " (latitude and longitude swapped?)"
                } else {
                    ""
                };
                refuse(
                    Some(rid),
                    format!("coordinates out of range: lat {a}, long {o}{hint}"),
                );
                continue;
            }
            (Some(a), Some(o)) if extent.is_some_and(|e| !near(&e, o, a) && near(&e, a, o)) => {
                refuse(Some(rid), format!("latitude and longitude swapped? ({a}, {o}) lies outside the catalog's extent, ({o}, {a}) inside"));
                continue;
            }
            (Some(a), Some(o)) if a == 0.0 && o == 0.0 => (Location::Missing, None, None),
            (Some(a), Some(o))
                if mapping
                    .location
                    .default_points
                    .iter()
                    .any(|p| (p[0] - a).abs() < 1e-6 && (p[1] - o).abs() < 1e-6) =>
            {
                (Location::DefaultPoint, Some(a), Some(o))
            }
            (Some(a), Some(o)) => (Location::Located, Some(a), Some(o)),
            _ => (Location::Missing, None, None),
        };
        seen.insert(rid.to_owned(), line);
        match location {
            Location::Missing => out.report.issues.push(Issue {
                layer: LayerKind::Reports,
                feature: line,
                id: Some(rid.into()),
                problem: "unlocated: no coordinates".into(),
                action: IssueAction::Flagged,
            }),
            Location::DefaultPoint => out.report.issues.push(Issue {
                layer: LayerKind::Reports,
                feature: line,
                id: Some(rid.into()),
                problem: "unlocated: the system's default point, not the problem's location".into(),
                action: IssueAction::Flagged,
            }),
            Location::Located => {}
        }
        if closed_at.is_some_and(|c| c < created_at) {
            out.report.issues.push(Issue {
                layer: LayerKind::Reports,
                feature: line,
                id: Some(rid.into()),
                problem: "closed before it was created: excluded from resolution times".into(),
                action: IssueAction::Flagged,
            });
        }
        let mut history = vec![StatusChange {
            at: created_at,
            status: Status::Open,
            label: "received".into(),
        }];
        if let Some(a) = acknowledged_at {
            history.push(StatusChange {
                at: a,
                status: Status::InProgress,
                label: "acknowledged".into(),
            });
        }
        if let Some(cl) = closed_at.filter(|_| st.is_closed()) {
            history.push(StatusChange {
                at: cl,
                status: st,
                label: label.to_owned(),
            });
        }
        out.reports.push(Report {
            id: rid.to_owned(),
            source: "csv".into(),
            category: category.and_then(field).map(str::to_owned),
            department: department.and_then(field).map(str::to_owned),
            channel: channel.and_then(field).map(str::to_owned),
            status: st,
            status_label: label.to_owned(),
            status_type: kind,
            created_at,
            acknowledged_at,
            closed_at: closed_at.filter(|_| st.is_closed()),
            reopened_at: None,
            deadline_at,
            source_on_time: on_time
                .and_then(field)
                .and_then(|v| verdicts.get(&v.to_lowercase()).copied()),
            source_tz: mapping.source.timezone.clone(),
            lon: la.and(lo),
            lat: lo.and(la),
            location,
            parcel_id: None,
            sector_id: None,
            match_kind: MatchKind::None,
            distance_m: None,
            h3: None,
            history,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_dates_with_am_pm_in_new_york_become_utc() {
        let f = vec!["%m/%d/%Y %I:%M:%S %p".to_owned()];
        let t =
            parse_time("01/05/2015 12:40:41 PM", &f, chrono_tz::America::New_York).expect("parses");
        assert_eq!(t.to_rfc3339(), "2015-01-05T17:40:41+00:00");
        // Summer time: UTC-4.
        let t =
            parse_time("07/05/2015 12:00:00 AM", &f, chrono_tz::America::New_York).expect("parses");
        assert_eq!(t.to_rfc3339(), "2015-07-05T04:00:00+00:00");
        assert!(parse_time("2015-07-05", &f, chrono_tz::America::New_York).is_err());
    }

    #[test]
    fn status_values_carry_their_type() {
        assert_eq!(
            parse_status("resolved:closed_not_fixed"),
            Ok((Status::Resolved, StatusType::ClosedNotFixed))
        );
        assert_eq!(
            parse_status("rejected"),
            Ok((Status::Rejected, StatusType::ClosedNotFixed))
        );
        assert!(parse_status("fixed").is_err());
    }
}
