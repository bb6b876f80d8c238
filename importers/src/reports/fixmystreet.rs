//! FixMyStreet (and Por Mi Barrio, which runs it) dashboard exports: the reports CSV
//! (`Report ID, Title, Detail, User Name, Category, Subcategory, Created, Confirmed,
//! Acknowledged, Fixed, Closed, Status, Latitude, Longitude, Query, Ward, Easting, Northing,
//! Report URL, Device Type, Site Used, Reported As`) and, for the history, the updates CSV
//! (`Report ID, Update ID, Date, Status, Problem state, Text, User Name, Reported As`).
//!
//! FixMyStreet's states map to predio's statuses with their kind: `fixed*` are closed-fixed;
//! `closed`, `unable to fix` and `no further action` are closed-not-fixed; `not responsible`
//! and `internal referral` are rejected; `duplicate` is a duplicate.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use predio_engine::{Issue, IssueAction, LayerKind, Status};

use super::{next_record, open_text, Coords, Normalizer, Raw, ReadOptions, ReportRows, Vocabulary};
use crate::error::{Error, Result};

/// FixMyStreet's states (`FixMyStreet::DB::Result::Problem`), as the exports write them.
const STATES: [(&str, &str); 19] = [
    ("unconfirmed", "open"),
    ("confirmed", "open"),
    ("open", "open"),
    ("for triage", "open"),
    ("investigating", "in_progress"),
    ("in progress", "in_progress"),
    ("action scheduled", "in_progress"),
    ("planned", "in_progress"),
    ("fixed", "resolved:closed_fixed"),
    ("fixed - council", "resolved:closed_fixed"),
    ("fixed - user", "resolved:closed_fixed"),
    ("closed", "resolved:closed_not_fixed"),
    ("unable to fix", "resolved:closed_not_fixed"),
    ("no further action", "resolved:closed_not_fixed"),
    ("not responsible", "rejected"),
    ("internal referral", "rejected"),
    ("not councils responsibility", "rejected"),
    ("hidden", "rejected"),
    ("duplicate", "duplicate"),
];

/// Formats of the exports' local times (FixMyStreet writes them without an offset).
const FORMATS: [&str; 3] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d"];

/// Columns holding personal data or free text about people: read only for `--keep-private`.
const PRIVATE: [&str; 3] = ["User Name", "Detail", "Title"];

fn open_csv(path: &Path) -> Result<csv::Reader<Box<dyn Read>>> {
    Ok(csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(open_text(path)?))
}

/// Column positions by name; the required ones must be there.
fn columns(
    path: &Path,
    reader: &mut csv::Reader<Box<dyn Read>>,
    required: &[&str],
) -> Result<HashMap<String, usize>> {
    let shown = path.display().to_string();
    let headers = reader.headers().map_err(|e| Error::Read {
        path: shown.clone(),
        feature: 0,
        message: e.to_string(),
    })?;
    if headers.iter().all(|h| h.trim().is_empty()) {
        return Err(Error::EmptyLayer {
            path: shown,
            layer: "CSV".into(),
        });
    }
    let map: HashMap<String, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim().to_owned(), i))
        .collect();
    for r in required {
        if !map.contains_key(*r) {
            return Err(Error::NoSuchField {
                path: shown,
                layer: "FixMyStreet export header".into(),
                field: (*r).to_owned(),
                available: headers.iter().collect::<Vec<_>>().join(", "),
            });
        }
    }
    Ok(map)
}

type Updates = HashMap<String, Vec<(String, String, Status)>>;

/// Reads the updates export: per report id, (date, state label, status) of each update that
/// changed the state. Updates that cannot be read are flagged in `issues`.
fn read_updates(path: &Path, vocabulary: &Vocabulary, issues: &mut Vec<Issue>) -> Result<Updates> {
    let mut reader = open_csv(path)?;
    let cols = columns(path, &mut reader, &["Report ID", "Date", "Problem state"])?;
    let (id, date, state) = (cols["Report ID"], cols["Date"], cols["Problem state"]);
    let mut out = Updates::new();
    let mut record = csv::StringRecord::new();
    let shown = path.display().to_string();
    let mut flag = |line: u64, id: Option<&str>, problem: String| {
        issues.push(Issue {
            layer: LayerKind::Reports,
            feature: line,
            id: id.map(str::to_owned),
            problem: format!("{shown}: {problem}"),
            action: IssueAction::Skipped,
        });
    };
    while let Some(row) = next_record(&mut reader, &mut record) {
        let line = match row {
            Ok(line) => line,
            Err((line, problem)) => {
                flag(line, None, problem);
                continue;
            }
        };
        let field = |i: usize| record.get(i).map(str::trim).filter(|s| !s.is_empty());
        let (Some(rid), Some(at)) = (field(id), field(date)) else {
            flag(line, field(id), "update without report id or date".into());
            continue;
        };
        // An update that changed no state (a comment) is not a status change.
        let Some(label) = field(state) else { continue };
        let Some((status, _)) = vocabulary.get(label) else {
            flag(line, Some(rid), format!("unknown problem state {label:?}"));
            continue;
        };
        out.entry(rid.to_owned())
            .or_default()
            .push((at.to_owned(), label.to_owned(), status));
    }
    Ok(out)
}

/// Reads a FixMyStreet reports export, and its updates export when given, for the history.
///
/// # Errors
/// An unreadable file, a header lacking a needed column, an unknown time zone. Rows that
/// cannot be read are listed with their line.
pub fn read_fixmystreet(
    path: &Path,
    updates: Option<&Path>,
    options: ReadOptions,
) -> Result<ReportRows> {
    let shown = path.display().to_string();
    let vocabulary = Vocabulary::from_pairs(STATES);
    let mut reader = open_csv(path)?;
    let cols = columns(
        path,
        &mut reader,
        &["Report ID", "Created", "Status", "Latitude", "Longitude"],
    )?;
    let mut n =
        Normalizer::with_zone("fixmystreet", &FORMATS, vocabulary, options).map_err(|message| {
            Error::Format {
                path: shown.clone(),
                message,
            }
        })?;
    for (field, name) in [
        ("id", "Report ID"),
        ("created_at", "Created"),
        ("acknowledged_at", "Acknowledged"),
        ("closed_at", "Fixed/Closed"),
        ("status", "Status"),
        ("lat", "Latitude"),
        ("lon", "Longitude"),
    ] {
        n.names.insert(field, format!("column {name}"));
    }
    let mut updates = match updates {
        Some(u) => read_updates(u, &n.statuses, &mut n.out.report.issues)?,
        None => Updates::new(),
    };
    let col = |name: &str| cols.get(name).copied();
    let private: Vec<(usize, &str)> = PRIVATE
        .iter()
        .filter_map(|name| Some((col(name)?, *name)))
        .collect();
    let keep_private = n.options.keep_private;
    let mut record = csv::StringRecord::new();
    while let Some(row) = next_record(&mut reader, &mut record) {
        n.out.read += 1;
        let line = match row {
            Ok(line) => line,
            Err((line, problem)) => {
                n.refuse(line, None, problem);
                continue;
            }
        };
        let field = |name: &str| {
            col(name)
                .and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let id = field("Report ID");
        let history = id.and_then(|id| updates.remove(id)).unwrap_or_default();
        n.push(Raw {
            line,
            id,
            // "Confirmed" is when a report became public; "Created" when it was written.
            created_at: field("Created"),
            acknowledged_at: field("Acknowledged"),
            closed_at: field("Fixed").or_else(|| field("Closed")),
            status: field("Status"),
            category: field("Category"),
            department: None,
            channel: field("Device Type").or_else(|| field("Site Used")),
            coords: Some(Coords::Text(field("Latitude"), field("Longitude"))),
            history: history
                .iter()
                .map(|(at, label, st)| (at.as_str(), label.clone(), Some(*st)))
                .collect(),
            private: if keep_private {
                private
                    .iter()
                    .filter_map(|&(i, name)| Some((name, record.get(i)?)))
                    .collect()
            } else {
                Vec::new()
            },
            area: field("Ward"),
            ..Default::default()
        });
    }
    if n.out.read == 0 {
        return Err(Error::EmptyLayer {
            path: shown,
            layer: "CSV".into(),
        });
    }
    let mut orphans: Vec<&String> = updates.keys().collect();
    orphans.sort();
    for id in orphans {
        n.out.report.issues.push(Issue {
            layer: LayerKind::Reports,
            feature: 0,
            id: Some(id.clone()),
            problem: "updates for a report not in the reports export: ignored".into(),
            action: IssueAction::Flagged,
        });
    }
    Ok(n.out)
}
