//! `GET /audit/sectors.{json,csv}`: unresolved reports by sector against the legal deadlines,
//! for auditors — per sector, received, answered on time and late, pending, overdue by age
//! bucket, the oldest open report's age and the compliance rate, from the version's sector
//! indices (`predio compute`).

use std::collections::HashMap;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use predio_engine::indices::{self, Level, Selection};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::state::Shared;
use crate::commands::table::{csv_text, pick_window};
use predio_engine::audit::{rows, Row, OVERDUE_BUCKETS};

fn bad(m: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, m.into())
}

/// `/audit/sectors.json|csv?window=&category=|department=&as_of=`.
pub(super) async fn sectors(
    State(state): State<Shared>,
    UrlPath(file): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let csv = match file.as_str() {
        "sectors.json" => false,
        "sectors.csv" => true,
        _ => {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("no /audit/{file}: sectors.json or sectors.csv"),
            ))
        }
    };
    let served = state.current.load_full();
    let st = state.clone();
    tokio::task::spawn_blocking(move || table(&st, &served.manifest, &q, csv))
        .await
        .map_err(ApiError::internal)?
}

fn table(
    state: &Shared,
    manifest: &predio_engine::Manifest,
    q: &HashMap<String, String>,
    csv: bool,
) -> Result<Response, ApiError> {
    let internal = |e: String| ApiError::internal(e);
    let meta = manifest.indices.as_ref().ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            "this version has no indices: run predio compute".into(),
        )
    })?;
    // `compute --as-of DAY` counts up to the end of DAY (the next local midnight in the
    // catalog's time zone)
    let local = meta.as_of.with_timezone(&manifest.zone().0).naive_local();
    let computed = if local.time() == chrono::NaiveTime::MIN {
        local.date().pred_opt().unwrap_or_default()
    } else {
        local.date()
    }
    .to_string();
    if let Some(a) = q.get("as_of").filter(|a| !a.is_empty()) {
        let day = chrono::NaiveDate::parse_from_str(a, "%Y-%m-%d")
            .map_err(|_| bad(format!("as_of={a:?}: a date, YYYY-MM-DD")))?;
        if day.to_string() != computed {
            return Err(bad(format!(
                "the indices are as of {computed}; for {day} run `predio compute --as-of {day}`"
            )));
        }
    }
    let window = pick_window(meta, q.get("window").map(String::as_str))
        .map_err(|e| bad(format!("{e:#}")))?;
    let dimension = super::tiles::dimension_of(q)?;
    let df = state
        .catalog
        .indices(manifest, Level::Sector)
        .map_err(|e| internal(e.to_string()))?
        .ok_or_else(|| internal("the sector table is missing".into()))?;
    let rows_df = indices::select(
        &df,
        &Selection {
            window: window.clone(),
            dimension: dimension.clone(),
            res: None,
        },
    )
    .map_err(|e| internal(e.to_string()))?;
    if rows_df.is_empty() {
        return Err(bad(format!(
            "no sector rows for {} {}",
            dimension.name(),
            dimension.value().unwrap_or("")
        )));
    }
    let names: HashMap<String, String> = state
        .catalog
        .sectors(manifest)
        .map_err(|e| internal(e.to_string()))?
        .map(|l| {
            l.sectors
                .into_iter()
                .map(|s| (s.id.as_str().to_owned(), s.name))
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for (id, r) in rows(&rows_df).map_err(|e| internal(format!("{e:#}")))? {
        let Some(id) = id else { continue };
        let name = names.get(&id).cloned().unwrap_or_default();
        out.push(sector_json(id, name, &r));
    }
    out.sort_by(|a, b| a["sector_id"].as_str().cmp(&b["sector_id"].as_str()));
    if !csv {
        let mut r = axum::Json(json!({
            "as_of": computed,
            "window": window,
            "dimension": dimension.name(),
            "value": dimension.value(),
            "sectors": out,
        }))
        .into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return Ok(r);
    }
    csv_response(&out)
}

/// One sector's row of the audit table, as JSON.
fn sector_json(id: String, name: String, r: &Row) -> Value {
    let mut m = Map::new();
    m.insert("sector_id".into(), json!(id));
    m.insert("name".into(), json!(name));
    m.insert("received".into(), json!(r.received));
    m.insert("answered".into(), json!(r.answered));
    m.insert("answered_on_time".into(), json!(r.on_time));
    m.insert("answered_late".into(), json!(r.late()));
    m.insert("open".into(), json!(r.pending));
    m.insert("overdue".into(), json!(r.overdue));
    for (b, n) in OVERDUE_BUCKETS.iter().zip(r.overdue_by_age) {
        m.insert((*b).into(), json!(n));
    }
    m.insert("oldest_open_bd".into(), json!(r.oldest_open_bd));
    m.insert("compliance".into(), json!(r.compliance()));
    Value::Object(m)
}

/// The audit table as CSV, its columns in the JSON rows' order.
fn csv_response(out: &[Value]) -> Result<Response, ApiError> {
    let mut head = vec![
        "sector_id",
        "name",
        "received",
        "answered",
        "answered_on_time",
        "answered_late",
        "open",
        "overdue",
    ];
    head.extend(OVERDUE_BUCKETS);
    head.extend(["oldest_open_bd", "compliance"]);
    let text = csv_text(
        &head,
        out.iter().map(|row| {
            head.iter()
                .map(|h| match &row[*h] {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    v => v.to_string(),
                })
                .collect()
        }),
    )
    .map_err(ApiError::internal)?;
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(r)
}
