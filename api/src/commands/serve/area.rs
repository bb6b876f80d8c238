//! `POST /area/stats?[window=][&category=|&department=]` (planner): the panel's numbers for an
//! area of one's own — a GeoJSON polygon drawn on the map (EPSG:4326) — over the reports whose
//! points fall in it: received, open, overdue, answered on time, compliance, median resolution
//! and the monthly series, as `predio compute` counts them at its as-of time (the same facts,
//! `indices-reports.parquet`, and the same monthly rules, `predio_engine::indices::series`).
//!
//! The polygon is refused with a 400 saying why when it is not a valid Polygon or MultiPolygon,
//! has more than [`MAX_VERTICES`] vertices or covers more than [`MAX_AREA_KM2`] km².

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use geo::{BoundingRect, Contains, GeodesicArea, MultiPolygon, Point, Validation};
use predio_engine::indices::series::monthly_for;
use predio_engine::indices::{days_before, IndexConfig, Level, Window};
use predio_engine::ReportColumns;
use serde_json::{json, Value};

use super::error::{bad_request, ApiError};
use super::state::{Served, Shared};
use super::tiles::json_response;

/// The most vertices a drawn area may have.
pub(crate) const MAX_VERTICES: usize = 10_000;
/// The largest area, km².
pub(crate) const MAX_AREA_KM2: f64 = 2_500.0;

/// What the area statistics read of a version: the reports and their facts at the as-of time.
pub(crate) struct AreaData {
    columns: ReportColumns,
    /// Per report (in `columns`' order): closed, on time, overdue, resolution in business
    /// days; `None` for a report the indices left out (created after the as-of time).
    facts: Vec<Option<Facts>>,
    cfg: IndexConfig,
    as_of: DateTime<Utc>,
    zone: chrono_tz::Tz,
    /// The reports open at the as-of time, in `columns`' order, with their stage and deadline
    /// (what `/reports.*` lists).
    pub(crate) open: Vec<OpenFacts>,
}

/// What an open report's listing adds to its facts.
pub(crate) struct OpenFacts {
    /// Its position in the reports' columns.
    pub(crate) at: usize,
    pub(crate) stage: Option<String>,
    pub(crate) due_date: Option<String>,
    pub(crate) age_bd: Option<i64>,
    pub(crate) past_due_bd: Option<i64>,
}

impl AreaData {
    /// The reports' columns.
    pub(crate) fn columns(&self) -> &ReportColumns {
        &self.columns
    }
}

#[derive(Clone, Copy)]
struct Facts {
    closed: bool,
    on_time: Option<bool>,
    overdue: bool,
    res_bd: Option<f64>,
}

fn read_area_data(state: &Shared, served: &Served) -> Result<AreaData, String> {
    let e = |e: predio_engine::Error| e.to_string();
    let m = &served.manifest;
    let as_of = m
        .indices
        .as_ref()
        .map(|i| i.as_of)
        .ok_or_else(String::new)?;
    let table = state
        .catalog
        .indices(m, Level::Report)
        .map_err(e)?
        .ok_or_else(String::new)?;
    let columns = state
        .catalog
        .report_columns(m)
        .map_err(e)?
        .ok_or_else(String::new)?;
    let (cfg, _, _) = crate::commands::audit::rules_of(m, None, None).map_err(|e| e.to_string())?;
    let at: HashMap<&str, usize> = (0..columns.len()).map(|i| (columns.id(i), i)).collect();
    let texts = |c: &str| table.texts(c).map_err(e);
    let (id, closed, on_time, stage) = (
        texts("id")?,
        texts("closed")?,
        texts("on_time")?,
        texts("stage")?,
    );
    let res_bd = table.numbers("resolution_bd").map_err(e)?;
    let due = texts("due_date")?;
    let (age, past) = (
        table.numbers("age_bd").map_err(e)?,
        table.numbers("past_due_bd").map_err(e)?,
    );
    // whole business days, stored as numbers
    #[allow(clippy::cast_possible_truncation)]
    let whole = |v: Option<f64>| v.map(|v| v as i64);
    let mut facts = vec![None; columns.len()];
    let mut open = Vec::new();
    for r in 0..table.len() {
        let Some(&i) = id[r].as_deref().and_then(|x| at.get(x)) else {
            continue;
        };
        let f = Facts {
            closed: closed[r].as_deref() == Some("true"),
            on_time: on_time[r].as_deref().map(|v| v == "true"),
            overdue: stage[r].as_deref() == Some("overdue"),
            res_bd: res_bd[r],
        };
        if !f.closed {
            open.push(OpenFacts {
                at: i,
                stage: stage[r].clone(),
                due_date: due[r].clone(),
                age_bd: whole(age[r]),
                past_due_bd: whole(past[r]),
            });
        }
        facts[i] = Some(f);
    }
    open.sort_by_key(|o| o.at);
    drop(at);
    Ok(AreaData {
        columns,
        facts,
        cfg,
        as_of,
        zone: m.zone().0,
        open,
    })
}

pub(super) fn area_data_of(state: &Shared, served: &Served) -> Result<Arc<AreaData>, ApiError> {
    served
        .area
        .get_or_init(|| read_area_data(state, served).map(Arc::new))
        .clone()
        .map_err(|e| {
            if e.is_empty() {
                ApiError(
                    StatusCode::NOT_FOUND,
                    "this version has no indices: run predio compute".into(),
                )
            } else {
                ApiError::internal(e)
            }
        })
}

/// The drawn area from a GeoJSON Polygon or MultiPolygon (or a Feature holding one), checked.
fn area_of(body: &[u8]) -> Result<MultiPolygon<f64>, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| bad_request(format!("the body is not JSON: {e}")))?;
    let g = if v["type"] == "Feature" {
        &v["geometry"]
    } else {
        &v
    };
    let ring = |r: &Value| -> Result<geo::LineString<f64>, ApiError> {
        let pts = r
            .as_array()
            .ok_or_else(|| bad_request("a ring is not an array"))?;
        pts.iter()
            .map(|p| {
                let (x, y) = (p[0].as_f64(), p[1].as_f64());
                match (x, y) {
                    (Some(x), Some(y))
                        if (-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y) =>
                    {
                        Ok(geo::Coord { x, y })
                    }
                    _ => Err(bad_request(format!(
                        "{p}: a position is [longitude, latitude] in degrees (EPSG:4326)"
                    ))),
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(geo::LineString)
    };
    let polygon = |p: &Value| -> Result<geo::Polygon<f64>, ApiError> {
        let rings = p
            .as_array()
            .ok_or_else(|| bad_request("a polygon is an array of rings"))?;
        let mut rings = rings.iter().map(ring);
        let outer = rings
            .next()
            .ok_or_else(|| bad_request("a polygon without a ring"))??;
        Ok(geo::Polygon::new(outer, rings.collect::<Result<_, _>>()?))
    };
    let coords = &g["coordinates"];
    let vertices = |c: &Value, depth: usize| -> usize {
        fn count(c: &Value, depth: usize) -> usize {
            match c.as_array() {
                Some(a) if depth > 0 => a.iter().map(|x| count(x, depth - 1)).sum(),
                Some(_) => 1,
                None => 0,
            }
        }
        count(c, depth)
    };
    let n = match g["type"].as_str() {
        Some("Polygon") => vertices(coords, 2),
        Some("MultiPolygon") => vertices(coords, 3),
        other => {
            return Err(bad_request(format!(
                "a Polygon or MultiPolygon (GeoJSON, EPSG:4326), not {}",
                other.unwrap_or("an unknown type")
            )))
        }
    };
    if n > MAX_VERTICES {
        return Err(bad_request(format!(
            "the area has {n} vertices; at most {MAX_VERTICES}"
        )));
    }
    let area = match g["type"].as_str() {
        Some("Polygon") => MultiPolygon(vec![polygon(coords)?]),
        _ => MultiPolygon(
            coords
                .as_array()
                .ok_or_else(|| bad_request("a MultiPolygon is an array of polygons"))?
                .iter()
                .map(polygon)
                .collect::<Result<_, _>>()?,
        ),
    };
    // exteriors counter-clockwise: a clockwise ring's geodesic area is the rest of the Earth
    let area = geo::orient::Orient::orient(&area, geo::orient::Direction::Default);
    if area.0.is_empty() || area.0.iter().any(|p| p.exterior().0.len() < 4) {
        return Err(bad_request("a ring needs at least 4 positions (closed)"));
    }
    if let Err(e) = area.check_validation() {
        return Err(bad_request(format!("the area is not a valid polygon: {e}")));
    }
    let km2 = area.geodesic_area_unsigned() / 1e6;
    if km2 > MAX_AREA_KM2 {
        return Err(bad_request(format!(
            "the area covers {km2:.0} km²; at most {MAX_AREA_KM2:.0}"
        )));
    }
    Ok(area)
}

/// The median of `v` (sorted here), `None` when empty.
fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// `POST /area/stats`.
pub(super) async fn stats(
    State(state): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let area = area_of(&body)?;
    let given = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
    let served = state.current.load_full();
    let (category, department) = served.chosen(&q)?;
    let window = given("window").unwrap_or_else(|| served.default_window.clone());
    let parsed: Window = window
        .parse()
        .map_err(|e: String| bad_request(format!("window={window:?}: {e}")))?;
    let st = Arc::clone(&state);
    let answer = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let data = area_data_of(&st, &served)?;
        let c = &data.columns;
        let after = parsed
            .days
            .map(|d| days_before(data.as_of, d, data.zone).timestamp_millis());
        let Some(bbox) = area.bounding_rect() else {
            return Err(bad_request("an empty area"));
        };
        let mut inside: Vec<usize> = Vec::new();
        for i in 0..c.len() {
            let Some((x, y)) = c.lon_lat(i) else { continue };
            if x < bbox.min().x || x > bbox.max().x || y < bbox.min().y || y > bbox.max().y {
                continue;
            }
            let same = |want: &Option<String>, have: Option<&str>| {
                want.as_deref().is_none_or(|w| Some(w) == have)
            };
            if same(&category, c.category(i))
                && same(&department, c.department(i))
                && area.contains(&Point::new(x, y))
            {
                inside.push(i);
            }
        }
        let (mut received, mut open, mut overdue, mut answered, mut on_time) =
            (0u32, 0u32, 0u32, 0u32, 0u32);
        let mut res: Vec<f64> = Vec::new();
        for &i in &inside {
            let Some(f) = data.facts[i] else { continue };
            if after.is_some_and(|a| c.created_ms()[i] <= a) {
                continue;
            }
            received += 1;
            if !f.closed {
                open += 1;
                overdue += u32::from(f.overdue);
            }
            if let Some(t) = f.on_time {
                answered += 1;
                on_time += u32::from(t);
            }
            if let Some(r) = f.res_bd {
                res.push(r);
            }
        }
        let months = months_json(&data, &inside);
        Ok(json!({
            "as_of": data.as_of.to_rfc3339(),
            "window": window,
            "category": category,
            "department": department,
            "area_km2": area.geodesic_area_unsigned() / 1e6,
            "received": received,
            "open": open,
            "overdue": overdue,
            "answered": answered,
            "answered_on_time": on_time,
            "compliance": (answered > 0).then(|| f64::from(on_time) / f64::from(answered)),
            "resolution_median_bd": median(&mut res),
            "months": months,
        }))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(json_response(answer))
}

/// The monthly series of the reports at `rows`, as `/series` writes months.
fn months_json(data: &AreaData, rows: &[usize]) -> Vec<Value> {
    monthly_for(&data.columns, rows, data.as_of, data.zone, &data.cfg)
        .into_iter()
        .map(|m| {
            let [received, closed, answered, on_time, open, overdue] = m.counts;
            json!({
                "month": m.month, "received": received, "closed": closed,
                "answered": answered, "answered_on_time": on_time,
                "compliance": (answered > 0).then(|| f64::from(on_time) / f64::from(answered)),
                "open": open, "overdue": overdue,
            })
        })
        .collect()
}

/// A parcel's monthly series under a dimension (`all`, `category`, `department`) and value.
pub(super) fn parcel_months(
    state: &Shared,
    served: &Served,
    parcel: &str,
    dimension: &str,
    value: &str,
) -> Result<Vec<Value>, ApiError> {
    let data = area_data_of(state, served)?;
    let c = &data.columns;
    let rows: Vec<usize> = (0..c.len())
        .filter(|&i| c.parcel_id(i) == Some(parcel))
        .filter(|&i| match dimension {
            "category" => c.category(i) == Some(value),
            "department" => c.department(i) == Some(value),
            _ => true,
        })
        .collect();
    Ok(months_json(&data, &rows))
}
