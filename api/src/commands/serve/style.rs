//! The map's style and legends: `/style.json` (MapLibre), `/legend.json` (class breaks and
//! colours of a layer's field) and `/meta.json` (what the viewer's pickers offer).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use predio_engine::indices::Selection;
use predio_tiles::{kind_name, FieldKind, TileProvider};
use serde_json::{json, Value};

use super::error::{bad_request, ApiError};
use super::state::{Served, Shared};
use super::tiles::{base_url, filter_of, filter_query, json_response};

/// Sequential ramps, low to high; `compliance` is the other way round (low is bad).
pub(super) const RAMP: [&str; 5] = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];
pub(super) const NONE: &str = "#e8e8e8";
/// Gi* hot and cold spots.
pub(super) const HOT: &str = "#d7301f";
pub(super) const COLD: &str = "#2b8cbe";

/// A legend: class breaks from the quantiles of the field's values, and their colours.
pub(super) fn legend_of(values: &mut [f64], field: &str) -> Value {
    values.sort_by(f64::total_cmp);
    let positive: Vec<f64> = values.iter().copied().filter(|v| *v > 0.0).collect();
    let mut stops: Vec<f64> = Vec::new();
    if !positive.is_empty() {
        for q in [0.0, 0.25, 0.5, 0.75, 0.95] {
            let i = ((positive.len() - 1) as f64 * q).round() as usize;
            let v = positive[i];
            let v = if v >= 10.0 {
                v.round()
            } else {
                (v * 100.0).round() / 100.0
            };
            if stops.last().is_none_or(|l| v > *l) {
                stops.push(v);
            }
        }
    }
    let mut colours: Vec<&str> = RAMP.to_vec();
    if field == "compliance" {
        colours.reverse();
    }
    colours.truncate(stops.len());
    json!({ "field": field, "none": NONE, "stops": stops, "colors": colours })
}

/// A MapLibre `step` expression of a legend.
pub(super) fn paint_of(legend: &Value) -> Value {
    let field = legend["field"].as_str().unwrap_or("received");
    let mut e = vec![
        json!("step"),
        json!(["coalesce", ["get", field], -1]),
        json!(NONE),
    ];
    let stops = legend["stops"].as_array().cloned().unwrap_or_default();
    let colours = legend["colors"].as_array().cloned().unwrap_or_default();
    for (s, c) in stops.into_iter().zip(colours) {
        e.push(s);
        e.push(c);
    }
    if e.len() == 3 {
        return json!(NONE);
    }
    Value::Array(e)
}

/// The default field each layer is coloured by.
pub(super) fn default_field(layer: &str) -> &'static str {
    match layer {
        "sectors" => "overdue",
        "heat" => "density_km2",
        _ => "received",
    }
}

pub(super) fn legend_for(
    served: &Served,
    layer: &str,
    field: &str,
    filter: &Selection,
) -> Result<Value, ApiError> {
    let p = served
        .layers
        .get(layer)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no layer {layer:?}")))?;
    if !p
        .fields()
        .iter()
        .any(|(n, k, _)| n == field && *k != FieldKind::Text)
    {
        return Err(bad_request(format!(
            "layer {layer} has no index field {field:?}"
        )));
    }
    let mut values = p.values(field, filter)?;
    let mut l = legend_of(&mut values, field);
    l["layer"] = json!(layer);
    Ok(l)
}

/// `/legend.json?layer=parcels&field=received&window=...`.
pub(super) async fn legend(
    State(state): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let served = state.current.load_full();
    let layer = q.get("layer").map_or("parcels", String::as_str);
    let field = q
        .get("field")
        .map_or_else(|| default_field(layer), String::as_str);
    let filter = filter_of(&q, &served)?;
    let mut l = legend_for(&served, layer, field, &filter)?;
    l["paint"] = paint_of(&l);
    Ok(json_response(l))
}

/// The base map's layers beneath everything (`serve --basemap`), by Protomaps' layer names;
/// an archive without them draws nothing.
fn basemap_layers() -> Vec<Value> {
    let layer = |id: &str, kind: &str, paint: Value| {
        json!({
            "id": format!("basemap-{id}"), "type": kind, "source": "basemap",
            "source-layer": id, "paint": paint
        })
    };
    vec![
        layer("earth", "fill", json!({ "fill-color": "#efece4" })),
        layer(
            "landuse",
            "fill",
            json!({ "fill-color": "#e3e8d6", "fill-opacity": 0.7 }),
        ),
        layer("water", "fill", json!({ "fill-color": "#b9d3e6" })),
        layer("buildings", "fill", json!({ "fill-color": "#dcd8cf" })),
        layer(
            "roads",
            "line",
            json!({ "line-color": "#ffffff", "line-width": 1.5 }),
        ),
    ]
}

/// `/rank.json?layer=sectors&id=&field=[&window=&category=|&department=]`: where a feature
/// stands among the layer's by an index under the filter (1: the highest).
pub(super) async fn rank(
    State(state): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let served = state.current.load_full();
    // parcels unless said, as the legend (and the guard) read it
    let name = q.get("layer").map_or("parcels", String::as_str);
    let layer = served
        .layers
        .get(name)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no layer {name:?}")))?;
    let field = q
        .get("field")
        .map_or_else(|| default_field(name), String::as_str);
    if !layer.fields().iter().any(|(n, ..)| n == field) {
        return Err(bad_request(format!(
            "field={field:?}: not a field of {name}"
        )));
    }
    let id = q.get("id").map_or("", String::as_str);
    if !layer.has_feature(id) {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no {name} feature {id:?}"),
        ));
    }
    let filter = filter_of(&q, &served)?;
    let answer = layer.rank(id, field, &filter)?;
    Ok(json_response(json!({
        "layer": name, "id": id, "field": field,
        "value": answer.map(|a| a.0), "rank": answer.map(|a| a.1), "of": answer.map(|a| a.2),
    })))
}

/// `/style.json`: a MapLibre style over the three layers (no base map: it works offline).
pub(super) async fn style(
    State(state): State<Shared>,
    Extension(caller): Extension<super::guard::Caller>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let served = state.current.load_full();
    let seen: BTreeMap<&str, &Arc<dyn TileProvider>> = served
        .layers
        .iter()
        .filter(|(n, _)| state.guard.sees_layer(caller.role, n))
        .map(|(n, p)| (n.as_str(), p))
        .collect();
    let filter = filter_of(&q, &served)?;
    let base = base_url(&headers);
    let mut sources = serde_json::Map::new();
    let mut legends = serde_json::Map::new();
    for (name, p) in &seen {
        p.check(&filter)?;
        sources.insert(
            (*name).to_owned(),
            json!({ "type": "vector", "url": format!("{base}/tiles/{name}.json?{}", filter_query(&filter)) }),
        );
        if p.fields().iter().any(|(n, ..)| n == default_field(name)) {
            legends.insert(
                (*name).to_owned(),
                legend_for(&served, name, default_field(name), &filter)?,
            );
        }
    }
    let paint = |layer: &str| legends.get(layer).map_or(json!(NONE), paint_of);
    let mut layers = vec![json!({
        "id": "background", "type": "background", "paint": { "background-color": "#f4f1ea" }
    })];
    if seen.contains_key("basemap") {
        layers.extend(basemap_layers());
    }
    if seen.contains_key("sectors") {
        layers.push(json!({
            "id": "sectors-fill", "type": "fill", "source": "sectors", "source-layer": "sectors",
            "paint": { "fill-color": paint("sectors"), "fill-opacity": 0.55 }
        }));
    }
    if seen.contains_key("heat") {
        layers.push(json!({
            "id": "heat-fill", "type": "fill", "source": "heat", "source-layer": "heat",
            "layout": { "visibility": "none" },
            "paint": { "fill-color": paint("heat"), "fill-opacity": 0.75, "fill-outline-color": "rgba(255,255,255,0.4)" }
        }));
    }
    if seen.contains_key("hotspots") {
        layers.push(json!({
            "id": "hotspots-fill", "type": "fill", "source": "hotspots", "source-layer": "hotspots",
            "layout": { "visibility": "none" },
            "paint": {
                "fill-color": ["match", ["get", "class"], "hot", HOT, "cold", COLD, NONE],
                "fill-opacity": 0.75, "fill-outline-color": "rgba(255,255,255,0.6)"
            }
        }));
    }
    if seen.contains_key("parcels") {
        layers.push(json!({
            "id": "parcels-fill", "type": "fill", "source": "parcels", "source-layer": "parcels",
            "minzoom": 13,
            "layout": { "visibility": "none" },
            "paint": { "fill-color": paint("parcels"), "fill-opacity": 0.85 }
        }));
        layers.push(json!({
            "id": "parcels-line", "type": "line", "source": "parcels", "source-layer": "parcels",
            "minzoom": 15,
            "layout": { "visibility": "none" },
            "paint": { "line-color": "#7a7a7a", "line-width": 0.4 }
        }));
    }
    if seen.contains_key("sectors") {
        layers.push(json!({
            "id": "sectors-line", "type": "line", "source": "sectors", "source-layer": "sectors",
            "paint": { "line-color": "#3b3b3b", "line-width": 1.2 }
        }));
    }
    let font = label_layers(&state, &seen, &base, &mut sources, &mut layers);
    let center = served.bounds.map_or(json!([0.0, 0.0]), |[w, s, e, n]| {
        json!([(w + e) / 2.0, (s + n) / 2.0])
    });
    let mut style = json!({
        "version": 8,
        "name": "predio",
        "metadata": {
            "predio:version": served.manifest.version.to_string(),
            "predio:filter": { "window": filter.window, "dimension": filter.dimension.pair() },
            "predio:legend": legends,
        },
        "center": center,
        "zoom": 13,
        "sources": sources,
        "layers": layers,
    });
    if font.is_some() {
        style["glyphs"] = json!(format!("{base}/fonts/{{fontstack}}/{{range}}.pbf"));
    }
    Ok(json_response(style))
}

/// `/meta.json`: what the viewer's pickers offer.
pub(super) async fn meta(
    State(state): State<Shared>,
    Extension(caller): Extension<super::guard::Caller>,
) -> Response {
    let served = state.current.load_full();
    let layers: Vec<Value> = served
        .layers
        .iter()
        .filter(|(n, _)| state.guard.sees_layer(caller.role, n))
        .map(|(name, p)| {
            let (minzoom, maxzoom) = p.zoom_range();
            json!({
                "name": name,
                "description": p.description(),
                "minzoom": minzoom,
                "maxzoom": maxzoom,
                "default_field": default_field(name),
                "fields": p.fields().into_iter().map(|(n, k, d)| json!({
                    "name": n, "type": kind_name(k), "description": d
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json_response(json!({
        "version": served.manifest.version.to_string(),
        "role": caller.role.as_str(),
        "as_of": served.manifest.indices.as_ref().map(|i| i.as_of.to_rfc3339()),
        // the rules in force: the default legal deadline, the categories with their own, holidays
        "rules": served.manifest.indices.as_ref().map(|i| json!({
            "deadline_days": i.default_rule.days,
            "category_rules": i.category_rules,
            "holidays": i.holidays,
        })),
        "windows": served.windows,
        "default_window": served.default_window,
        "categories": served.categories,
        "departments": served.departments,
        "bounds": served.bounds,
        "layers": layers,
    }))
}

/// `/labels/sectors.geojson`: each sector's label point (its interior point), id and name.
pub(super) async fn sector_labels(State(state): State<Shared>) -> Response {
    let served = state.current.load_full();
    json_response(served.sector_labels.clone())
}

/// The labels' layers (sector names, parcel ids at high zoom) and the sector label points'
/// source, where the server has fonts; the font the style names, if any.
fn label_layers(
    state: &Shared,
    seen: &BTreeMap<&str, &Arc<dyn TileProvider>>,
    base: &str,
    sources: &mut serde_json::Map<String, Value>,
    layers: &mut Vec<Value>,
) -> Option<String> {
    let font = state.glyphs.as_ref().and_then(|g| {
        let names = g.names();
        names
            .iter()
            .find(|n| n.ends_with("Bold"))
            .or_else(|| names.first())
            .cloned()
    });
    if let Some(font) = &font {
        let regular = state
            .glyphs
            .as_ref()
            .and_then(|g| g.names().iter().find(|n| !n.ends_with("Bold")).cloned())
            .unwrap_or_else(|| font.clone());
        if seen.contains_key("parcels") {
            layers.push(json!({
                "id": "parcels-labels", "type": "symbol", "source": "parcels", "source-layer": "parcels",
                "minzoom": 17,
                "layout": {
                    "visibility": "none", "text-field": ["get", "parcel_id"], "text-font": [regular],
                    "text-size": 10
                },
                "paint": { "text-color": "#333", "text-halo-color": "#fff", "text-halo-width": 1 }
            }));
        }
        if seen.contains_key("sectors") {
            sources.insert(
                "sector-labels".to_owned(),
                json!({ "type": "geojson", "data": format!("{base}/labels/sectors.geojson") }),
            );
            layers.push(json!({
                "id": "sectors-labels", "type": "symbol", "source": "sector-labels",
                "layout": {
                    "text-field": ["coalesce", ["get", "name"], ["get", "sector_id"]],
                    "text-font": [font], "text-size": 13, "text-max-width": 8
                },
                "paint": { "text-color": "#1a1a1a", "text-halo-color": "#fff", "text-halo-width": 1.5 }
            }));
        }
    }
    font
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legends_break_at_quantiles_and_skip_zeros() {
        let mut v: Vec<f64> = (0..=100).map(f64::from).collect();
        v.extend([0.0; 50]);
        let l = legend_of(&mut v, "received");
        assert_eq!(l["stops"], json!([1.0, 26.0, 51.0, 75.0, 95.0]));
        assert_eq!(l["colors"].as_array().map(Vec::len), Some(5));
        let l = legend_of(&mut [0.5, 0.5, 0.9], "compliance");
        assert_eq!(l["stops"], json!([0.5, 0.9]));
        assert_eq!(
            l["colors"][0],
            json!("#bd0026"),
            "low compliance is the red end"
        );
        let p = paint_of(&l);
        assert_eq!(p[0], json!("step"));
        assert_eq!(legend_of(&mut [], "received")["stops"], json!([]));
    }
}
