//! `/search?q=[&limit=10]`: sectors by name or id, parcels by id or address (for callers who
//! may see the parcel layer), H3 cells by index — what the viewer's search box flies to
//! (`predio_engine::search`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Extension, Query, State};
use axum::response::Response;
use predio_engine::search::SearchIndex;
use predio_engine::LayerKind;
use serde_json::json;

use super::error::{bad_request, ApiError};
use super::guard::Caller;
use super::state::{Served, Shared};
use super::tiles::json_response;

/// The longest query taken, in characters.
const MAX_QUERY: usize = 200;

/// The version's places, indexed on first use.
pub(super) fn index_of(state: &Shared, served: &Served) -> Result<Arc<SearchIndex>, ApiError> {
    served
        .search
        .get_or_init(|| {
            let sectors = state
                .catalog
                .sectors(&served.manifest)
                .map_err(|e| e.to_string())?;
            let parcels = state
                .catalog
                .parcels(&served.manifest)
                .map_err(|e| e.to_string())?;
            let fields = served
                .manifest
                .layers
                .get(&LayerKind::Parcels)
                .map(|m| m.address_fields.clone())
                .unwrap_or_default();
            Ok(Arc::new(SearchIndex::new(
                sectors.as_ref(),
                parcels.as_ref().map(|p| (p, fields.as_slice())),
            )))
        })
        .clone()
        .map_err(ApiError::internal)
}

/// `/search`: the best places for `q`, ranked.
pub(super) async fn search(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let query = q.get("q").map(|s| s.trim().to_owned()).unwrap_or_default();
    if query.is_empty() {
        return Err(bad_request(
            "q=: what to look for (a sector, a parcel, an address, an H3 cell)",
        ));
    }
    if query.chars().count() > MAX_QUERY {
        return Err(bad_request(format!("q= is over {MAX_QUERY} characters")));
    }
    let limit: usize = match q.get("limit").filter(|l| !l.is_empty()) {
        None => 10,
        Some(l) => l
            .parse()
            .ok()
            .filter(|n| (1..=50).contains(n))
            .ok_or_else(|| bad_request(format!("limit={l:?}: 1 to 50")))?,
    };
    let parcels = state.guard.sees_layer(caller.role, "parcels");
    // `kind=` narrows to one kind of place; asking for parcels without the key that sees
    // them is refused, as the parcel layer is
    let kind = q.get("kind").filter(|k| !k.is_empty()).cloned();
    match kind.as_deref() {
        None | Some("sector" | "cell") => {}
        Some("parcel") if parcels => {}
        Some("parcel") => {
            let status = if caller.role == crate::commands::Role::Public {
                axum::http::StatusCode::UNAUTHORIZED
            } else {
                axum::http::StatusCode::FORBIDDEN
            };
            return Err(ApiError(status, "parcels need a planner's key".into()));
        }
        Some(other) => {
            return Err(bad_request(format!(
                "kind={other:?}: sector, parcel or cell"
            )));
        }
    }
    let served = state.current.load_full();
    let st = Arc::clone(&state);
    let (hits, q) = tokio::task::spawn_blocking(move || {
        index_of(&st, &served).map(|ix| {
            // every kind, then narrowed: a narrowed search still takes the best of its kind
            let mut hits = ix.search(&query, parcels, if kind.is_some() { 50 } else { limit });
            if let Some(k) = &kind {
                hits.retain(|h| h.kind.as_str() == k);
                hits.truncate(limit);
            }
            (hits, query)
        })
    })
    .await
    .map_err(ApiError::internal)??;
    let results: Vec<serde_json::Value> = hits
        .iter()
        .map(|h| {
            json!({
                "kind": h.kind.as_str(),
                "id": h.id,
                "label": h.label,
                "bbox": h.bbox,
                "center": h.center,
            })
        })
        .collect();
    Ok(json_response(json!({ "query": q, "results": results })))
}
