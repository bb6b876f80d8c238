//! The role each endpoint needs, and the route group a path is counted under in the metrics.

use crate::commands::Role;

/// What a municipality opened to callers without a key (`serve --public-…`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Openness {
    /// The parcel layer (`--public-parcels`).
    pub parcels: bool,
    /// Open311's `requests`, coarsened (`--public-requests`).
    pub requests: bool,
}

/// The role a layer needs.
pub(super) fn required_for_layer(layer: &str, open: Openness) -> Role {
    if layer == "parcels" && !open.parcels {
        Role::Planner
    } else {
        Role::Public
    }
}

/// The role a request needs: the one table of who sees what.
pub(crate) fn required_role(path: &str, query: Option<&str>, open: Openness) -> Role {
    // judged as the router and the handlers read it: `/tiles/parcel%73/…` is the parcels
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let path = decoded.as_ref();
    if path == "/metrics" || path.starts_with("/admin/") {
        return Role::Admin;
    }
    if path.starts_with("/open311/v2/requests") {
        // GeoReport v2 reads without a key where the municipality opens it; the handler then
        // answers a caller below auditor with the public, coarsened requests
        return if open.requests {
            Role::Public
        } else {
            Role::Auditor
        };
    }
    if path.starts_with("/audit/") || path.starts_with("/reports.") {
        return Role::Auditor;
    }
    if path == "/plan" || path.starts_with("/area/") {
        return Role::Planner;
    }
    let layer = if let Some(rest) = path.strip_prefix("/tiles/") {
        rest.split('/')
            .next()
            .map(|l| l.strip_suffix(".json").unwrap_or(l).to_owned())
    } else if path == "/series" {
        // a parcel's series is the parcel layer's; a sector's and the city's are public
        params(query, "level")
            .iter()
            .any(|l| l == "parcel")
            .then(|| "parcels".to_owned())
    } else if path == "/legend.json" || path == "/rank.json" {
        let layers = params(query, "layer");
        // a repeated key: the strictest of its values
        Some(
            if layers.is_empty() || layers.iter().any(|l| l == "parcels") {
                "parcels".to_owned()
            } else {
                layers[0].clone()
            },
        )
    } else {
        None
    };
    layer.map_or(Role::Public, |l| required_for_layer(&l, open))
}

/// Every value of `name` in a query string, decoded as the handlers decode them (`%6C` is `l`,
/// `+` a space): what a handler reads is what the guard judges, whichever one it takes.
fn params(query: Option<&str>, name: &str) -> Vec<String> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k) == name).then(|| decode(v))
        })
        .collect()
}

/// The route group of a path, for the metrics.
pub(super) fn route_of(path: &str) -> &'static str {
    match path {
        "/" | "/app.js" | "/app.css" | "/messages.json" | "/favicon.ico" => "viewer",
        "/health" => "health",
        "/metrics" => "metrics",
        "/meta.json" | "/style.json" | "/legend.json" | "/rank.json" => "style",
        p if p.starts_with("/vendor/") => "viewer",
        p if p.starts_with("/tiles/") && p.ends_with(".json") && p.matches('/').count() == 2 => {
            "tilejson"
        }
        p if p.starts_with("/tiles/") => "tiles",
        p if p.starts_with("/open311/") => "open311",
        p if p.starts_with("/admin/") => "admin",
        p if p.starts_with("/audit/") => "audit",
        "/plan" => "plan",
        "/series" => "series",
        "/search" => "search",
        "/area/stats" => "area",
        "/reports.json" | "/reports.csv" | "/reports.geojson" => "reports",
        _ => "other",
    }
}
