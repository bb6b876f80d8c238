//! Open311 GeoReport v2, read side, under `/open311/v2/`: `discovery`, `services`, `requests`
//! and `requests/{id}`, each as `.json` or `.xml`. Requests carry the parcel and sector they
//! were geocoded to as extension fields. Personal fields and free text are never stored, so
//! `description`, `address` and `status_notes` are never sent.
//!
//! Where `serve --public-requests` opens `requests` to callers without a key, such a caller
//! gets each request without its parcel, distance or match, its point coarsened to its parcel's
//! interior point or an H3 cell centre (`--public-location`, stated in discovery).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::params::RequestQuery;
use axum::extract::{Extension, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use predio_engine::{Location, Report, Status};
use serde_json::{json, Map, Value};

use super::guard::Caller;
use super::requests::{service_name, Requests};
use super::state::{Served, Shared};
use super::tiles::base_url;
use crate::commands::Role;

/// The specification's URL, as discovery names it.
const SPEC: &str = "http://wiki.open311.org/GeoReport_v2";

/// Loads (once per version) the reports of the served version.
fn requests_of(state: &Shared, served: &Served) -> Result<Arc<Requests>, Open311Error> {
    served
        .open311
        .get_or_init(|| {
            let reports = state
                .catalog
                .reports(&served.manifest)
                .map_err(|e| e.to_string())?
                .unwrap_or_default();
            let mut requests = Requests::new(reports);
            if let Some(how) = state.public_location {
                let parcels = state
                    .catalog
                    .parcels(&served.manifest)
                    .map_err(|e| e.to_string())?;
                requests = requests.coarsen(how, parcels.as_ref());
            }
            Ok(Arc::new(requests))
        })
        .clone()
        .map_err(|e| Open311Error(StatusCode::INTERNAL_SERVER_ERROR, e))
}

/// The services of a version: those of its requests where they are read, else found from its
/// reports' category and department columns (no report read whole, nothing kept but them).
fn services_of(
    state: &Shared,
    served: &Served,
) -> Result<Arc<Vec<super::requests::Service>>, Open311Error> {
    if let Some(Ok(requests)) = served.open311.get() {
        return Ok(Arc::new(requests.services.clone()));
    }
    served
        .services
        .get_or_init(|| {
            let services = match state
                .catalog
                .report_columns(&served.manifest)
                .map_err(|e| e.to_string())?
            {
                Some(columns) => super::requests::services_of_columns(&columns).0,
                None => Vec::new(),
            };
            Ok(Arc::new(services))
        })
        .clone()
        .map_err(|e| Open311Error(StatusCode::INTERNAL_SERVER_ERROR, e))
}

/// An Open311 error: `[{"code": 400, "description": "..."}]`, or its XML.
pub(super) struct Open311Error(StatusCode, String);

fn bad(message: impl Into<String>) -> Open311Error {
    Open311Error(StatusCode::BAD_REQUEST, message.into())
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Json,
    Xml,
}

fn format_of(file: &str) -> Option<(&str, Format)> {
    let (stem, ext) = file.rsplit_once('.')?;
    match ext {
        "json" => Some((stem, Format::Json)),
        "xml" => Some((stem, Format::Xml)),
        _ => None,
    }
}

fn error_response(mut e: Open311Error, f: Format) -> Response {
    let code = e.0.as_u16();
    // As `ApiError`: an internal cause is logged under a request id, never sent.
    if !super::error::message_is_public(e.0) {
        let id = super::error::log_internal(e.0, &e.1);
        e.1 = format!("internal error (request id {id})");
    }
    let mut r = match f {
        Format::Json => axum::Json(json!([{ "code": code, "description": e.1 }])).into_response(),
        Format::Xml => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<errors><error><code>{code}</code>\
                 <description>{}</description></error></errors>",
                super::super::escape_markup(&e.1)
            );
            xml_response(body)
        }
    };
    *r.status_mut() = e.0;
    r
}

fn xml_response(body: String) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    r
}

/// A JSON array of objects as Open311 XML: `<root><item><k>v</k>...</item>...</root>`.
fn to_xml(root: &str, item: &str, rows: &[Value]) -> String {
    let mut out = format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<{root}>");
    for row in rows {
        let _ = write!(out, "<{item}>");
        if let Value::Object(m) = row {
            for (k, v) in m {
                write_xml_value(&mut out, k, v);
            }
        }
        let _ = write!(out, "</{item}>");
    }
    let _ = write!(out, "</{root}>");
    out
}

fn write_xml_value(out: &mut String, k: &str, v: &Value) {
    match v {
        Value::Null => {
            let _ = write!(out, "<{k}/>");
        }
        Value::String(s) => {
            let _ = write!(out, "<{k}>{}</{k}>", super::super::escape_markup(s));
        }
        Value::Array(items) => {
            // discovery's formats: <formats><format>...</format></formats>
            let inner = k.strip_suffix('s').unwrap_or(k);
            let _ = write!(out, "<{k}>");
            for i in items {
                write_xml_value(out, inner, i);
            }
            let _ = write!(out, "</{k}>");
        }
        Value::Object(m) => {
            let _ = write!(out, "<{k}>");
            for (k2, v2) in m {
                write_xml_value(out, k2, v2);
            }
            let _ = write!(out, "</{k}>");
        }
        other => {
            let _ = write!(out, "<{k}>{other}</{k}>");
        }
    }
}

fn answer(rows: Vec<Value>, root: &str, item: &str, f: Format) -> Response {
    match f {
        Format::Json => axum::Json(Value::Array(rows)).into_response(),
        Format::Xml => xml_response(to_xml(root, item, &rows)),
    }
}

fn w3c(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One service request as the caller may see it: the auditor's view, or the public one.
fn request_of(i: usize, reqs: &Requests, public: bool) -> Value {
    if public {
        public_request_json(i, reqs)
    } else {
        request_json(&reqs.reports[i], reqs)
    }
}

/// The fields every caller sees: ids, service, dates, statuses and sector.
fn common_fields(r: &Report, reqs: &Requests) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("service_request_id".into(), json!(r.id));
    let closed = matches!(
        r.status,
        Status::Resolved | Status::Rejected | Status::Duplicate
    );
    m.insert(
        "status".into(),
        json!(if closed { "closed" } else { "open" }),
    );
    let name = service_name(r);
    m.insert("service_name".into(), json!(name));
    m.insert(
        "service_code".into(),
        json!(reqs.code_of.get(name).cloned().unwrap_or_default()),
    );
    if let Some(d) = &r.department {
        m.insert("agency_responsible".into(), json!(d));
    }
    m.insert("requested_datetime".into(), json!(w3c(r.created_at)));
    let updated = [r.acknowledged_at, r.closed_at, r.reopened_at]
        .into_iter()
        .flatten()
        .chain(r.history.iter().map(|h| h.at))
        .chain(std::iter::once(r.created_at))
        .max()
        .unwrap_or(r.created_at);
    m.insert("updated_datetime".into(), json!(w3c(updated)));
    if let Some(t) = r.deadline_at {
        m.insert("expected_datetime".into(), json!(w3c(t)));
    }
    m.insert(
        "sector_id".into(),
        json!(r.sector_id.as_ref().map(|s| s.as_str().to_owned())),
    );
    m.insert("predio_status".into(), json!(r.status.as_str()));
    m.insert("status_type".into(), json!(r.status_type.as_str()));
    if let Some(t) = r.acknowledged_at {
        m.insert("acknowledged_datetime".into(), json!(w3c(t)));
    }
    if let Some(t) = r.closed_at {
        m.insert("closed_datetime".into(), json!(w3c(t)));
    }
    if let Some(p) = &r.parent_id {
        m.insert("parent_service_request_id".into(), json!(p));
    }
    m
}

/// One service request, as the specification's example lays it out, plus predio's extensions.
fn request_json(r: &Report, reqs: &Requests) -> Value {
    let mut m = common_fields(r, reqs);
    // a system's default point (the town hall) is not where the problem is
    if let (Some(lat), Some(lon), Location::Located) = (r.lat, r.lon, r.location) {
        m.insert("lat".into(), json!(lat));
        m.insert("long".into(), json!(lon));
    }
    m.insert("location".into(), json!(r.location.as_str()));
    // extensions
    m.insert(
        "parcel_id".into(),
        json!(r.parcel_id.as_ref().map(|p| p.as_str().to_owned())),
    );
    m.insert("match".into(), json!(r.match_kind.as_str()));
    m.insert("distance_m".into(), json!(r.distance_m));
    Value::Object(m)
}

/// One service request for a caller without an auditor key: the common fields and the
/// coarsened point, never the parcel, the distance to it or the true point.
fn public_request_json(i: usize, reqs: &Requests) -> Value {
    let mut m = common_fields(&reqs.reports[i], reqs);
    if let Some((lat, lon)) = reqs.coarse.get(i).copied().flatten() {
        // six decimals (~0.1 m): the precision of a placed point, not of a GPS fix
        let round = |v: f64| (v * 1e6).round() / 1e6;
        m.insert("lat".into(), json!(round(lat)));
        m.insert("long".into(), json!(round(lon)));
    }
    Value::Object(m)
}

/// Metres between two WGS 84 points (haversine).
fn metres(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * a.sqrt().asin()
}

/// The requests a `requests` query selects (positions in `reqs`), newest first, and the page
/// asked for. A public caller's `near` search measures from the coarsened points, and it may
/// not search by parcel.
fn select(
    reqs: &Requests,
    q: &HashMap<String, String>,
    zone: chrono_tz::Tz,
    public: bool,
) -> Result<Vec<usize>, Open311Error> {
    // Dates given as days are local days of the catalog's time zone.
    let q = RequestQuery::parse_in(q, zone).map_err(bad)?;
    if public && q.parcel.is_some() {
        return Err(Open311Error(
            StatusCode::FORBIDDEN,
            "parcel= needs an auditor key: public requests are not told by parcel".into(),
        ));
    }
    if let Some(ids) = &q.ids {
        return Ok(ids
            .iter()
            .filter_map(|id| reqs.by_id.get(id.as_str()).copied())
            .collect());
    }
    // neither date: the 90 days up to the newest report (the specification's default window,
    // anchored on the data so that an archive is not empty)
    let (start, end) = match (q.start, q.end) {
        (None, None) => (reqs.newest.map(|n| n - Duration::days(90)), None),
        other => other,
    };
    let picked = reqs.reports.iter().enumerate().filter(|(i, r)| {
        let closed = matches!(
            r.status,
            Status::Resolved | Status::Rejected | Status::Duplicate
        );
        q.codes.as_ref().is_none_or(|c| {
            reqs.code_of
                .get(service_name(r))
                .is_some_and(|code| c.contains(code))
        }) && q.statuses.as_ref().is_none_or(|s| {
            s.iter()
                .any(|x| x == if closed { "closed" } else { "open" })
        }) && start.is_none_or(|s| r.created_at >= s)
            && end.is_none_or(|e| r.created_at <= e)
            && q.near.is_none_or(|(lat, lon, radius)| {
                let point = if public {
                    reqs.coarse.get(*i).copied().flatten()
                } else {
                    match (r.lat, r.lon, r.location) {
                        (Some(a), Some(b), Location::Located) => Some((a, b)),
                        _ => None,
                    }
                };
                point.is_some_and(|(a, b)| metres(lat, lon, a, b) <= radius)
            })
            && q.sector
                .as_ref()
                .is_none_or(|s| r.sector_id.as_ref().is_some_and(|x| x.as_str() == s))
            && q.parcel
                .as_ref()
                .is_none_or(|p| r.parcel_id.as_ref().is_some_and(|x| x.as_str() == p))
    });
    Ok(picked
        .map(|(i, _)| i)
        .skip((q.page - 1) * q.page_size)
        .take(q.page_size)
        .collect())
}

/// `/open311/v2/{discovery|services|requests}.{json|xml}`.
pub(super) async fn root(
    State(state): State<Shared>,
    UrlPath(file): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Response {
    let public = caller.role < Role::Auditor;
    let Some((what, f)) = format_of(&file) else {
        return super::ApiError(
            StatusCode::NOT_FOUND,
            format!("no {file}: Open311 answers in .json or .xml"),
        )
        .into_response();
    };
    let served = state.current.load_full();
    let base = base_url(&headers);
    let result = match what {
        "discovery" => Ok(discovery(&base, &served, state.public_location, f)),
        "services" => {
            let st = Arc::clone(&state);
            let sv = Arc::clone(&served);
            run_blocking(move || {
                let services = services_of(&st, &sv)?;
                let rows: Vec<Value> = services
                    .iter()
                    .map(|(code, name, group)| {
                        json!({
                            "service_code": code, "service_name": name,
                            "description": format!("Reports of {name}"),
                            "metadata": false, "type": "realtime", "keywords": "",
                            "group": group,
                        })
                    })
                    .collect();
                Ok(answer(rows, "services", "service", f))
            })
            .await
        }
        "requests" => {
            let st = Arc::clone(&state);
            let sv = Arc::clone(&served);
            run_blocking(move || {
                let reqs = requests_of(&st, &sv)?;
                let rows: Vec<Value> = select(&reqs, &q, sv.manifest.zone().0, public)?
                    .into_iter()
                    .map(|i| request_of(i, &reqs, public))
                    .collect();
                Ok(answer(rows, "service_requests", "request", f))
            })
            .await
        }
        _ => Err(Open311Error(
            StatusCode::NOT_FOUND,
            format!("no {file}: discovery, services or requests"),
        )),
    };
    result.unwrap_or_else(|e| error_response(e, f))
}

/// `/open311/v2/requests/{id}.{json|xml}`: an array of one request (the specification).
pub(super) async fn one(
    State(state): State<Shared>,
    UrlPath(file): UrlPath<String>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let public = caller.role < Role::Auditor;
    let Some((id, f)) = format_of(&file) else {
        return super::ApiError(
            StatusCode::NOT_FOUND,
            format!("no {file}: Open311 answers in .json or .xml"),
        )
        .into_response();
    };
    let id = id.to_owned();
    let served = state.current.load_full();
    let st = Arc::clone(&state);
    run_blocking(move || {
        let reqs = requests_of(&st, &served)?;
        let i = *reqs
            .by_id
            .get(id.as_str())
            .ok_or_else(|| Open311Error(StatusCode::NOT_FOUND, format!("no request {id:?}")))?;
        Ok(answer(
            vec![request_of(i, &reqs, public)],
            "service_requests",
            "request",
            f,
        ))
    })
    .await
    .unwrap_or_else(|e| error_response(e, f))
}

async fn run_blocking(
    f: impl FnOnce() -> Result<Response, Open311Error> + Send + 'static,
) -> Result<Response, Open311Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Open311Error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

fn discovery(
    base: &str,
    served: &Served,
    public: Option<crate::cli::PublicLocation>,
    f: Format,
) -> Response {
    let changeset = served
        .manifest
        .created_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut d = json!({
        "changeset": changeset,
        "contact": "The municipality's service desk",
        "key_service": "predio keys add --role auditor (an administrator gives keys)",
        "endpoints": [{
            "specification": SPEC,
            "url": format!("{base}/open311/v2"),
            "changeset": changeset,
            "type": "production",
            "formats": ["application/json", "text/xml"],
        }],
    });
    // what a caller without a key gets of `requests`
    d["public_requests"] = match public {
        Some(how) => json!(format!(
            "open without a key: no parcel, distance or personal field; each point is {}",
            how.describe()
        )),
        None => json!("closed: requests need an auditor key"),
    };
    match f {
        Format::Json => axum::Json(d).into_response(),
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<discovery>");
            if let Value::Object(m) = &d {
                for (k, v) in m {
                    if k == "endpoints" {
                        out += "<endpoints>";
                        for e in v.as_array().into_iter().flatten() {
                            write_xml_value(&mut out, "endpoint", e);
                        }
                        out += "</endpoints>";
                    } else {
                        write_xml_value(&mut out, k, v);
                    }
                }
            }
            out += "</discovery>";
            xml_response(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_is_escaped_and_nested() {
        let rows = vec![json!({"a": "x < y & \"z\"", "n": 3, "none": null})];
        assert_eq!(
            to_xml("rs", "r", &rows),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rs><r><a>x &lt; y &amp; &quot;z&quot;</a>\
             <n>3</n><none/></r></rs>"
        );
        assert!((metres(0.0, 0.0, 0.0, 1.0) - 111_195.0).abs() < 10.0);
    }
}
