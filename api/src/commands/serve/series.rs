//! `/series?level=&id=[&category=|&department=]`: the monthly series of a sector or the whole
//! city, as `predio compute` stored them (`predio_engine::indices::series`): per
//! month, received, closed, answered (on time), compliance, and open and overdue at the month's
//! end. Months without reports are written as zeros, from the city's first month to the as-of
//! month, so a chart's axis is the same for every feature.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use predio_engine::indices::series::COUNTS;
use serde_json::{json, Value};

use super::error::{bad_request, ApiError};
use super::state::{Served, Shared};
use super::tiles::json_response;

/// A series: level, feature id, dimension, value.
type SeriesKey = (String, String, String, String);

/// The stored series by feature and dimension value, each month's counts in [`COUNTS`]'
/// order.
pub(crate) struct Series {
    rows: HashMap<SeriesKey, BTreeMap<String, [i64; 6]>>,
    /// Every month of the city's series, first to last.
    months: Vec<String>,
}

impl Series {
    fn new(table: &predio_engine::Table) -> predio_engine::Result<Self> {
        let text = |c: &str| -> predio_engine::Result<Vec<String>> {
            Ok(table
                .texts(c)?
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect())
        };
        let (level, id, dimension, value, month) = (
            text("level")?,
            text("id")?,
            text("dimension")?,
            text("value")?,
            text("month")?,
        );
        let counts: Vec<Vec<Option<f64>>> = COUNTS
            .iter()
            .map(|c| table.numbers(c))
            .collect::<predio_engine::Result<_>>()?;
        let mut rows: HashMap<_, BTreeMap<String, [i64; 6]>> = HashMap::new();
        for i in 0..table.len() {
            let mut c = [0i64; 6];
            for (k, v) in counts.iter().enumerate() {
                // counts are whole numbers stored as integers
                #[allow(clippy::cast_possible_truncation)]
                let n = v[i].unwrap_or(0.0) as i64;
                c[k] = n;
            }
            rows.entry((
                level[i].clone(),
                id[i].clone(),
                dimension[i].clone(),
                value[i].clone(),
            ))
            .or_default()
            .insert(month[i].clone(), c);
        }
        let months = match (month.iter().min(), month.iter().max()) {
            (Some(first), Some(last)) => months_between(first, last),
            _ => Vec::new(),
        };
        Ok(Self { rows, months })
    }
}

/// `YYYY-MM` labels from `first` to `last`.
fn months_between(first: &str, last: &str) -> Vec<String> {
    let parse = |m: &str| -> Option<i32> {
        let (y, mo) = m.split_once('-')?;
        Some(y.parse::<i32>().ok()? * 12 + mo.parse::<i32>().ok()? - 1)
    };
    let (Some(a), Some(b)) = (parse(first), parse(last)) else {
        return Vec::new();
    };
    (a..=b)
        .map(predio_engine::indices::series::month_label)
        .collect()
}

/// The version's series, read on first use.
pub(super) fn series_of(state: &Shared, served: &Served) -> Result<Arc<Series>, ApiError> {
    served
        .series
        .get_or_init(|| {
            let table = state
                .catalog
                .series(&served.manifest)
                .map_err(|e| e.to_string())?
                .ok_or_else(String::new)?;
            Series::new(&table).map(Arc::new).map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| {
            if e.is_empty() {
                ApiError(
                    StatusCode::NOT_FOUND,
                    "this version has no monthly series: run predio compute".into(),
                )
            } else {
                ApiError::internal(e)
            }
        })
}

/// `/series`: one feature's monthly series under one filter.
pub(super) async fn series(
    State(state): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let level = q.get("level").map_or("sector", String::as_str);
    if !["city", "sector", "parcel"].contains(&level) {
        return Err(bad_request(format!(
            "level={level:?}: city, sector or parcel"
        )));
    }
    let id = q.get("id").cloned().unwrap_or_default();
    if level != "city" && id.is_empty() {
        return Err(bad_request(format!("level={level} needs id=")));
    }
    if id.len() > 200 {
        return Err(bad_request("id= longer than 200 characters"));
    }
    let served = state.current.load_full();
    let (dimension, value) = match served.chosen(&q)? {
        (Some(c), _) => ("category", c),
        (_, Some(d)) => ("department", d),
        _ => ("all", String::new()),
    };
    let known = |layer: &str| served.layers.get(layer).is_some_and(|l| l.has_feature(&id));
    match level {
        "sector" if !known("sectors") => {
            return Err(ApiError(StatusCode::NOT_FOUND, format!("no sector {id:?}")))
        }
        "parcel" if !known("parcels") => {
            return Err(ApiError(StatusCode::NOT_FOUND, format!("no parcel {id:?}")))
        }
        _ => {}
    }
    if level == "parcel" {
        // a parcel's series on request, from the reports' facts (few reports each: no table)
        let st = Arc::clone(&state);
        let (d, v) = (dimension, value.clone());
        let pid = id.clone();
        let months = tokio::task::spawn_blocking(move || {
            super::area::parcel_months(&st, &served, &pid, d, &v)
        })
        .await
        .map_err(ApiError::internal)??;
        let as_of = state
            .current
            .load()
            .manifest
            .indices
            .as_ref()
            .map(|i| i.as_of.to_rfc3339());
        return Ok(json_response(json!({
            "level": level, "id": id, "dimension": dimension, "value": value,
            "as_of": as_of, "months": months,
        })));
    }
    let s = series_of(&state, &served)?;
    let key = (
        level.to_owned(),
        id.clone(),
        dimension.to_owned(),
        value.clone(),
    );
    let empty = BTreeMap::new();
    let rows = s.rows.get(&key).unwrap_or(&empty);
    let months: Vec<Value> = s
        .months
        .iter()
        .map(|m| {
            let c = rows.get(m).copied().unwrap_or_default();
            let compliance = (c[2] > 0).then(|| c[3] as f64 / c[2] as f64);
            json!({
                "month": m,
                "received": c[0],
                "closed": c[1],
                "answered": c[2],
                "answered_on_time": c[3],
                "compliance": compliance,
                "open": c[4],
                "overdue": c[5],
            })
        })
        .collect();
    Ok(json_response(json!({
        "level": level,
        "id": id,
        "dimension": dimension,
        "value": value,
        "as_of": served.manifest.indices.as_ref().map(|i| i.as_of.to_rfc3339()),
        "months": months,
    })))
}
