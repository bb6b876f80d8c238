//! `/reports.{json,csv,geojson}` (auditor): the open reports behind a number — those of a
//! sector, a parcel or the whole city under the window, category or department and stages
//! asked for, oldest first, with their age in business days, stage and deadline as `predio
//! compute` found them at its as-of time (`indices-reports.parquet`). JSON is paged; CSV and
//! GeoJSON hold every row of the filter, for download. Never a personal field: ids, categories,
//! places, times and verdicts only.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::Uri;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use predio_engine::indices::{days_before, Window};
use serde_json::{json, Value};

use super::error::{bad_request, ApiError};
use super::state::{Served, Shared};
use super::tiles::json_response;

/// One open report, as listed.
#[derive(Debug, Clone)]
pub(crate) struct Open {
    id: String,
    category: Option<String>,
    department: Option<String>,
    sector_id: Option<String>,
    parcel_id: Option<String>,
    created: DateTime<Utc>,
    age_bd: Option<i64>,
    stage: Option<String>,
    due_date: Option<String>,
    past_due_bd: Option<i64>,
    point: Option<(f64, f64)>,
}

/// The columns of a row, in order (CSV header and JSON keys).
const COLUMNS: [&str; 10] = [
    "id",
    "category",
    "department",
    "sector_id",
    "parcel_id",
    "created_at",
    "age_bd",
    "stage",
    "due_date",
    "past_due_bd",
];

/// The stages an open report can be in.
const STAGES: [&str; 4] = ["on_time", "warning", "alert", "overdue"];

impl Open {
    fn values(&self) -> [Value; 10] {
        let text = |s: &Option<String>| s.as_ref().map_or(Value::Null, |s| json!(s));
        [
            json!(self.id),
            text(&self.category),
            text(&self.department),
            text(&self.sector_id),
            text(&self.parcel_id),
            json!(self.created.to_rfc3339_opts(SecondsFormat::Secs, true)),
            self.age_bd.map_or(Value::Null, |v| json!(v)),
            text(&self.stage),
            text(&self.due_date),
            self.past_due_bd.map_or(Value::Null, |v| json!(v)),
        ]
    }
}

/// The version's open reports, oldest first, listed on first use.
fn backlog_of(state: &Shared, served: &Served) -> Result<Arc<Vec<Open>>, ApiError> {
    if let Some(Ok(listed)) = served.backlog.get() {
        return Ok(Arc::clone(listed));
    }
    let listed = Arc::new(read_backlog(state, served)?);
    Ok(Arc::clone(
        served
            .backlog
            .get_or_init(|| Ok(listed))
            .as_ref()
            .map_err(|e: &String| ApiError::internal(e))?,
    ))
}

/// The open reports listed, from the facts the area statistics read (one read of the
/// reports per version).
fn read_backlog(state: &Shared, served: &Served) -> Result<Vec<Open>, ApiError> {
    let data = super::area::area_data_of(state, served)?;
    let c = data.columns();
    let text = |v: Option<&str>| v.map(str::to_owned);
    let mut open: Vec<Open> = data
        .open
        .iter()
        .filter_map(|o| {
            let i = o.at;
            Some(Open {
                id: c.id(i).to_owned(),
                category: text(c.category(i)),
                department: text(c.department(i)),
                sector_id: text(c.sector_id(i)),
                parcel_id: text(c.parcel_id(i)),
                created: DateTime::from_timestamp_millis(c.created_ms()[i])?,
                age_bd: o.age_bd,
                stage: o.stage.clone(),
                due_date: o.due_date.clone(),
                past_due_bd: o.past_due_bd,
                point: c.lon_lat(i),
            })
        })
        .collect();
    // oldest first, then by id
    open.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
    Ok(open)
}

/// What a request selects.
struct Filter {
    sector: Option<String>,
    parcel: Option<String>,
    after: Option<DateTime<Utc>>,
    category: Option<String>,
    department: Option<String>,
    stages: Vec<String>,
}

impl Filter {
    fn of(
        q: &HashMap<String, String>,
        served: &Served,
        zone: chrono_tz::Tz,
    ) -> Result<Self, ApiError> {
        let given = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
        let (sector, parcel) = (given("sector_id"), given("parcel_id"));
        if sector.is_some() && parcel.is_some() {
            return Err(bad_request("sector_id= or parcel_id=, not both"));
        }
        let (category, department) = served.chosen(q)?;
        let after = match given("window") {
            None => None,
            Some(w) => {
                let window: Window = w
                    .parse()
                    .map_err(|e: String| bad_request(format!("window={w:?}: {e}")))?;
                let as_of = served
                    .manifest
                    .indices
                    .as_ref()
                    .map(|m| m.as_of)
                    .ok_or_else(|| bad_request("no indices: run predio compute"))?;
                window.days.map(|d| days_before(as_of, d, zone))
            }
        };
        let stages: Vec<String> = match given("stage") {
            None => STAGES.map(str::to_owned).to_vec(),
            Some(s) => s.split(',').map(|x| x.trim().to_owned()).collect(),
        };
        if let Some(bad) = stages.iter().find(|s| !STAGES.contains(&s.as_str())) {
            return Err(bad_request(format!("stage={bad:?}: {}", STAGES.join(", "))));
        }
        Ok(Filter {
            sector,
            parcel,
            after,
            category,
            department,
            stages,
        })
    }

    fn keeps(&self, r: &Open) -> bool {
        let same = |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
        same(&self.sector, &r.sector_id)
            && same(&self.parcel, &r.parcel_id)
            && same(&self.category, &r.category)
            && same(&self.department, &r.department)
            && self.after.is_none_or(|a| r.created > a)
            && r.stage.as_ref().is_some_and(|s| self.stages.contains(s))
    }
}

/// `/reports.{json,csv,geojson}`.
pub(super) async fn reports(
    State(state): State<Shared>,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let format = match uri.path() {
        "/reports.json" => "json",
        "/reports.csv" => "csv",
        "/reports.geojson" => "geojson",
        other => return Err(ApiError(StatusCode::NOT_FOUND, format!("no {other}"))),
    };
    let page: usize = parse_in(&q, "page", 1, 1..=1_000_000)?;
    let page_size: usize = parse_in(&q, "page_size", 100, 1..=1000)?;
    let served = state.current.load_full();
    let zone = served.manifest.zone().0;
    let filter = Filter::of(&q, &served, zone)?;
    let st = Arc::clone(&state);
    let rows = tokio::task::spawn_blocking(move || {
        backlog_of(&st, &served).map(|all| {
            all.iter()
                .filter(|r| filter.keeps(r))
                .cloned()
                .collect::<Vec<Open>>()
        })
    })
    .await
    .map_err(ApiError::internal)??;
    match format {
        "json" => {
            let total = rows.len();
            let items: Vec<Value> = rows
                .iter()
                .skip((page - 1) * page_size)
                .take(page_size)
                .map(|r| {
                    Value::Object(
                        COLUMNS
                            .iter()
                            .map(|c| (*c).to_owned())
                            .zip(r.values())
                            .collect(),
                    )
                })
                .collect();
            Ok(json_response(json!({
                "total": total, "page": page, "page_size": page_size, "reports": items
            })))
        }
        "csv" => {
            let text = crate::commands::table::csv_text(
                &COLUMNS,
                rows.iter().map(|r| {
                    r.values()
                        .iter()
                        .map(|v| match v {
                            Value::String(s) => s.clone(),
                            Value::Null => String::new(),
                            v => v.to_string(),
                        })
                        .collect()
                }),
            )
            .map_err(ApiError::internal)?;
            Ok(download(
                text,
                "text/csv; charset=utf-8",
                "reportes-pendientes.csv",
            ))
        }
        _ => {
            let features: Vec<Value> = rows
                .iter()
                .map(|r| {
                    let props: serde_json::Map<String, Value> =
                        COLUMNS.iter().map(|c| (*c).to_owned()).zip(r.values()).collect();
                    json!({
                        "type": "Feature",
                        "geometry": r.point.map(|(x, y)| json!({"type": "Point", "coordinates": [x, y]})),
                        "properties": props,
                    })
                })
                .collect();
            let text = json!({"type": "FeatureCollection", "features": features}).to_string();
            Ok(download(
                text,
                "application/geo+json",
                "reportes-pendientes.geojson",
            ))
        }
    }
}

/// A query parameter as a number in `range`, or `default` when absent.
fn parse_in(
    q: &HashMap<String, String>,
    name: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, ApiError> {
    match q.get(name).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v.parse().ok().filter(|n| range.contains(n)).ok_or_else(|| {
            bad_request(format!(
                "{name}={v:?}: {} to {}",
                range.start(),
                range.end()
            ))
        }),
    }
}

/// A file to save: its type and name.
fn download(body: String, kind: &'static str, name: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}
