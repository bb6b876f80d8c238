//! `/plan`: the ranked proactive actions of the current version (planner and above).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::{json, Value};

use predio_engine::plan::{plan_of, Plan};

use super::error::{bad_request, ApiError};
use super::state::Shared;
use super::tiles::json_response;

/// `/plan?top=10&window=90d&res=9`: the proactive plan (planner).
pub(super) async fn plan(
    State(state): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let top: usize = match q.get("top").filter(|t| !t.is_empty()) {
        None => 10,
        Some(t) => t
            .parse()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| bad_request(format!("top={t:?}: 1 to 1000")))?,
    };
    let res: u8 = match q.get("res").filter(|t| !t.is_empty()) {
        None => 9,
        Some(r) => r
            .parse()
            .map_err(|_| bad_request(format!("res={r:?}: an H3 resolution")))?,
    };
    let window = q.get("window").filter(|w| !w.is_empty()).cloned();
    let served = state.current.load_full();
    let st = Arc::clone(&state);
    let result = tokio::task::spawn_blocking(move || {
        plan_of(&*st.catalog, &served.manifest, window.as_deref(), res)
    })
    .await
    .map_err(ApiError::internal)?;
    let Plan {
        window,
        level,
        actions: ranked,
    } = result.map_err(|e| match e {
        // what the request asked for is not in this version: its window or resolution
        predio_engine::Error::NotComputed { .. } => bad_request(e.to_string()),
        e => ApiError::internal(e),
    })?;
    let rows: Vec<Value> = ranked
        .iter()
        .take(top)
        .enumerate()
        .map(|(i, a)| crate::commands::plan::action_json(i + 1, a, level))
        .collect();
    Ok(json_response(
        json!({ "window": window, "level": level.as_str(), "actions": rows }),
    ))
}
