//! Open311 GeoReport v2 service requests (`GET requests.json` / `requests.xml`), with the common
//! extensions (`extensions=true`): `extended_attributes` (Chicago's `ward`, `duplicate`,
//! `parent_service_request_id`, `channel`) and the `notes[]` status history
//! (`datetime`, `summary`, `type`: `opened`, `closed`, `reopened`, `activity`...).
//!
//! Real servers differ: statuses in any case (`Open`), local datetimes without a UTC offset
//! (San Francisco: `2012-05-22 17:14:32.637`, read in `--timezone`), `xsi:nil` elements,
//! `0.0, 0.0` for "no location". A service list or an endpoint directory is refused as such.

use std::collections::HashMap;
use std::path::Path;

use predio_engine::Status;
use quick_xml::events::Event;
use serde_json::Value as Json;

use super::{Coords, Normalizer, Raw, ReadOptions, ReportRows, Vocabulary};
use crate::error::{Error, Result};

/// Formats of local datetimes seen in GeoReport v2 servers that do not write W3C times.
const LOCAL_FORMATS: [&str; 3] = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d"];

/// The GeoReport v2 statuses (`open`, `closed`) and the values extended servers use.
const VOCABULARY: [(&str, &str); 10] = [
    ("open", "open"),
    ("opened", "open"),
    ("new", "open"),
    ("acknowledged", "in_progress"),
    ("in_progress", "in_progress"),
    ("in progress", "in_progress"),
    ("closed", "resolved"),
    ("resolved", "resolved"),
    ("rejected", "rejected"),
    ("duplicate", "duplicate"),
];

/// Personal fields a GeoReport v2 request may carry (POST fields echoed by some servers, and
/// the free-text description).
const PRIVATE: [&str; 6] = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "description",
    "device_id",
];

/// One request as read: its scalar fields as text, and its notes.
#[derive(Debug, Default)]
struct Request {
    number: u64,
    fields: HashMap<String, String>,
    notes: Vec<HashMap<String, String>>,
}

impl Request {
    fn get(&self, k: &str) -> Option<&str> {
        self.fields
            .get(k)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }
}

fn scalar(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn json_requests(path: &str, text: &str) -> Result<Vec<Request>> {
    let value: Json = serde_json::from_str(text).map_err(|e| Error::Format {
        path: path.into(),
        message: format!("not GeoReport v2 JSON or XML: invalid JSON: {e}"),
    })?;
    let items = match &value {
        Json::Array(items) => items,
        Json::Object(o) => match o.get("service_requests").or_else(|| o.get("requests")) {
            Some(Json::Array(items)) => items,
            _ => {
                return Err(not_requests(
                    path,
                    "a JSON object without a service_requests array (an endpoint directory?)",
                ))
            }
        },
        _ => return Err(not_requests(path, "neither a JSON array nor an object")),
    };
    if let Some(Json::Object(first)) = items.first() {
        if !first.contains_key("service_request_id") && first.contains_key("service_code") {
            return Err(not_requests(
                path,
                "a GeoReport v2 service list (GET services), not service requests",
            ));
        }
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut r = Request {
            number: i as u64 + 1,
            ..Default::default()
        };
        // Some servers wrap: [{"service_requests": [...]}] is not seen; a non-object is an error row.
        if let Json::Object(o) = item {
            for (k, v) in o {
                match (k.as_str(), v) {
                    ("extended_attributes", Json::Object(ext)) => {
                        for (k, v) in ext {
                            if k == "notes" {
                                push_json_notes(&mut r, v);
                            } else if let Some(s) = scalar(v) {
                                r.fields.entry(k.clone()).or_insert(s);
                            }
                        }
                    }
                    ("notes", v) => push_json_notes(&mut r, v),
                    (k, v) => {
                        if let Some(s) = scalar(v) {
                            r.fields.insert(k.to_owned(), s);
                        }
                    }
                }
            }
        }
        out.push(r);
    }
    Ok(out)
}

fn push_json_notes(r: &mut Request, v: &Json) {
    if let Json::Array(notes) = v {
        for n in notes {
            if let Json::Object(o) = n {
                r.notes.push(
                    o.iter()
                        .filter_map(|(k, v)| Some((k.clone(), scalar(v)?)))
                        .collect(),
                );
            }
        }
    }
}

fn not_requests(path: &str, what: &str) -> Error {
    Error::Format {
        path: path.into(),
        message: format!("not GeoReport v2 service requests: {what}"),
    }
}

fn xml_requests(path: &str, text: &str) -> Result<Vec<Request>> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut out = Vec::new();
    // Element names from the root down.
    let mut stack: Vec<String> = Vec::new();
    let mut current: Option<Request> = None;
    let mut note: Option<HashMap<String, String>> = None;
    let mut value = String::new();
    let line_of = |pos: u64| text[..(pos as usize).min(text.len())].matches('\n').count() + 1;
    loop {
        let pos = reader.buffer_position();
        let event = reader.read_event().map_err(|e| Error::Read {
            path: path.into(),
            feature: out.len() as u64,
            message: format!("invalid XML at line {}: {e}", line_of(pos)),
        })?;
        match event {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                match (stack.len(), name.as_str()) {
                    (0, "service_requests") => {}
                    (0, "services") => {
                        return Err(not_requests(
                            path,
                            "a GeoReport v2 service list (GET services), not service requests",
                        ))
                    }
                    (0, other) => {
                        return Err(not_requests(
                            path,
                            &format!("the XML root is <{other}>, not <service_requests>"),
                        ))
                    }
                    (1, "request") => {
                        current = Some(Request {
                            number: out.len() as u64 + 1,
                            ..Default::default()
                        });
                    }
                    (_, "note") => note = Some(HashMap::new()),
                    _ => {}
                }
                stack.push(name);
                value.clear();
            }
            Event::Empty(e) => {
                if stack.is_empty() {
                    return Err(not_requests(path, "an empty XML document"));
                }
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if let Some(r) = current.as_mut() {
                    r.fields.entry(name).or_default();
                }
            }
            Event::Text(t) => {
                let s = t.xml_content().map_err(|e| Error::Read {
                    path: path.into(),
                    feature: out.len() as u64,
                    message: format!("invalid XML text at line {}: {e}", line_of(pos)),
                })?;
                value.push_str(&s);
            }
            Event::CData(t) => value.push_str(&String::from_utf8_lossy(&t)),
            Event::GeneralRef(e) => {
                let name = String::from_utf8_lossy(&e).into_owned();
                value.push_str(match name.as_str() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "",
                });
            }
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                match name.as_str() {
                    "request" if stack.len() == 1 => {
                        if let Some(r) = current.take() {
                            out.push(r);
                        }
                    }
                    "note" => {
                        if let (Some(r), Some(n)) = (current.as_mut(), note.take()) {
                            r.notes.push(n);
                        }
                    }
                    _ => {
                        let v = std::mem::take(&mut value);
                        if let Some(n) = note.as_mut() {
                            n.insert(name, v);
                        } else if let Some(r) = current.as_mut() {
                            // A field of the request or of its extended_attributes.
                            if !v.is_empty() || !r.fields.contains_key(&name) {
                                r.fields.insert(name, v);
                            }
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(Error::Read {
            path: path.into(),
            feature: out.len() as u64,
            message: format!("the XML ends inside <{}> (truncated?)", stack.join("><")),
        });
    }
    Ok(out)
}

fn truthy(v: Option<&str>) -> bool {
    v.is_some_and(|v| !matches!(v.trim().to_lowercase().as_str(), "" | "false" | "0" | "no"))
}

/// The status a note's `type` records (`None`: an activity that changes no status).
fn note_status(kind: &str) -> Option<Status> {
    match kind.trim().to_lowercase().as_str() {
        "opened" | "reopened" | "open" => Some(Status::Open),
        "acknowledged" | "in_progress" => Some(Status::InProgress),
        "closed" | "resolved" => Some(Status::Resolved),
        _ => None,
    }
}

/// Reads GeoReport v2 service requests from a `.json` or `.xml` file (by content: a file
/// starting with `<` is XML).
///
/// # Errors
/// An unreadable or malformed file, a service list or endpoint directory instead of requests,
/// an unknown `--timezone`. Requests that cannot be read are listed with their number.
pub fn read_open311(path: &Path, options: ReadOptions) -> Result<ReportRows> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|_| Error::NotFound {
        path: shown.clone(),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| Error::Read {
        path: shown.clone(),
        feature: 0,
        message: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
    })?;
    let text = text.trim_start_matches('\u{feff}');
    let requests = match text.trim_start().chars().next() {
        None => {
            return Err(Error::EmptyLayer {
                path: shown,
                layer: "service requests".into(),
            })
        }
        Some('<') => xml_requests(&shown, text)?,
        Some(_) => json_requests(&shown, text)?,
    };
    if requests.is_empty() {
        return Err(Error::EmptyLayer {
            path: shown,
            layer: "service requests".into(),
        });
    }
    let mut n = Normalizer::with_zone(
        "open311",
        &LOCAL_FORMATS,
        Vocabulary::from_pairs(VOCABULARY),
        options,
    )
    .map_err(|message| Error::Format {
        path: shown.clone(),
        message,
    })?;
    for (field, name) in [
        ("id", "service_request_id"),
        ("created_at", "requested_datetime"),
        ("deadline_at", "expected_datetime"),
        ("status", "status"),
        ("lat", "lat"),
        ("lon", "long"),
    ] {
        n.names.insert(field, name.to_owned());
    }
    let mut first_zone_error = None;
    for r in &requests {
        n.out.read += 1;
        let status = r.get("status");
        let closed = status.is_some_and(|s| n.statuses.get(s).is_some_and(|(s, _)| s.is_closed()));
        // Chicago's extension: a closed request marked as a duplicate of a parent.
        let duplicate = closed && truthy(r.get("duplicate"));
        let history = history_of(r, duplicate);
        let before = n.out.report.issues.len();
        n.push(Raw {
            line: r.number,
            id: r.get("service_request_id"),
            created_at: r.get("requested_datetime"),
            // GeoReport v2 has no closing time: a closed request's updated_datetime is when
            // it last changed, which is its closing unless notes say otherwise.
            closed_at: if closed && r.notes.is_empty() {
                r.get("updated_datetime")
            } else {
                None
            },
            deadline_at: r.get("expected_datetime"),
            status,
            category: r.get("service_name").or_else(|| r.get("service_code")),
            department: r.get("agency_responsible"),
            channel: r.get("channel").or_else(|| r.get("source")),
            coords: Some(Coords::Text(r.get("lat"), r.get("long"))),
            history,
            private: PRIVATE
                .iter()
                .filter_map(|k| Some((*k, r.get(k)?)))
                .collect(),
            area: r.get("ward").or_else(|| r.get("district")),
            address: r.get("address_string").or_else(|| r.get("address")),
            parcel_ref: r.get("address_id"),
            parent_id: r.get("parent_service_request_id"),
            duplicate,
            ..Default::default()
        });
        if first_zone_error.is_none() {
            first_zone_error = n.out.report.issues[before..]
                .iter()
                .find(|i| i.problem.contains(super::NO_TIME_ZONE))
                .map(|i| i.problem.clone());
        }
    }
    // Local times without a zone fail every row alike: say it once, as the file's error.
    if n.out.reports.is_empty() {
        if let Some(message) = first_zone_error {
            return Err(Error::NoTimeZone {
                path: shown,
                message,
            });
        }
    }
    Ok(n.out)
}

/// A request's notes as its status history: each note's time, label and status; the agency's
/// first activity before any closing is its acknowledgement, and a duplicate's resolution is
/// its marking as a duplicate.
fn history_of(r: &Request, duplicate: bool) -> Vec<(&str, String, Option<Status>)> {
    let mut history: Vec<(&str, String, Option<Status>)> = r
        .notes
        .iter()
        .filter_map(|note| {
            let at = note
                .get("datetime")
                .map(String::as_str)
                .filter(|s| !s.trim().is_empty())?;
            let kind = note.get("type").map_or("", String::as_str);
            let label = note
                .get("summary")
                .filter(|s| !s.trim().is_empty())
                .map_or_else(|| kind.to_owned(), |s| s.trim().to_owned());
            Some((at, label, note_status(kind)))
        })
        .collect();
    // The agency's first activity before any closing is its acknowledgement.
    if let Some(first) = history
        .iter()
        .take_while(|h| h.2.is_none_or(|s| !s.is_closed()))
        .position(|h| h.2.is_none())
    {
        history[first].2 = Some(Status::InProgress);
    }
    if duplicate {
        for h in &mut history {
            if h.2 == Some(Status::Resolved) {
                h.2 = Some(Status::Duplicate);
            }
        }
    }
    history
}
