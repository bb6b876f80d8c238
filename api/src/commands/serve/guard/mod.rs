//! What every request passes through: size limits, the API key and its role, the rate limit,
//! the time limit, JSON error bodies, the access log and the Prometheus metrics.

mod metrics;
mod rate_limit;
mod roles;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::ApiError;
use crate::commands::keys::{self, Keys};
use crate::commands::Role;
pub(crate) use metrics::Metrics;
use rate_limit::RateLimit;
use roles::{required_for_layer, route_of};
pub(crate) use roles::{required_role, Openness};

/// Longest request target accepted (path and query), bytes.
const MAX_URI: usize = 8 * 1024;
/// Most header bytes accepted (names and values).
const MAX_HEADERS: usize = 16 * 1024;
/// The largest body of a request: a drawn area (`POST /area/stats`, up to 10,000 vertices), or
/// anything else.
pub(super) const MAX_AREA_BODY: u64 = 1 << 20;
pub(super) const MAX_BODY: u64 = 64 * 1024;

/// The path a deployment of many serves a municipality under (`/m/<slug>`), set by its
/// dispatcher as a request extension; the guard turns it into the [`PREFIX_HEADER`] the
/// handlers build their addresses with (and drops that header when a client sent it).
#[derive(Debug, Clone)]
pub(crate) struct Prefix(pub String);

/// The header carrying [`Prefix`] to the handlers.
pub(crate) const PREFIX_HEADER: &str = "x-predio-prefix";

/// Who made a request, as the handlers see it.
#[derive(Debug, Clone)]
pub(super) struct Caller {
    /// Its role (`public` without a key).
    pub role: Role,
}

/// Keys, limits and counters of a server.
pub(super) struct Guard {
    keys: ArcSwap<Keys>,
    keys_path: PathBuf,
    keys_stamp: Mutex<Option<SystemTime>>,
    /// What callers without a key may see beyond the public layers.
    pub open: Openness,
    rate: Option<RateLimit>,
    timeout: Duration,
    pub metrics: Metrics,
    /// The municipality this server answers for in a deployment of many (`serve --catalogs`):
    /// a key made for others has no more than a caller without one here.
    scope: Option<String>,
}

impl Guard {
    pub fn new(
        keys_path: PathBuf,
        open: Openness,
        rate_per_s: u32,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let keys = keys::load(&keys_path)?;
        tracing::info!(keys = keys.len(), file = %keys_path.display(), "API keys");
        Ok(Self {
            keys: ArcSwap::from_pointee(keys),
            keys_stamp: Mutex::new(stamp(&keys_path)),
            keys_path,
            open,
            rate: (rate_per_s > 0).then(|| RateLimit::new(f64::from(rate_per_s))),
            timeout,
            metrics: Metrics::default(),
            scope: None,
        })
    }

    /// The same guard answering for the municipality `slug`.
    pub fn scoped(mut self, slug: &str) -> Self {
        self.scope = Some(slug.to_owned());
        self
    }

    /// Re-reads the key file when it changed (called by the server's watch loop).
    pub fn refresh_keys(&self) {
        let now = stamp(&self.keys_path);
        let Ok(mut last) = self.keys_stamp.lock() else {
            return;
        };
        if *last == now {
            return;
        }
        match keys::load(&self.keys_path) {
            Ok(k) => {
                tracing::info!(keys = k.len(), "API keys re-read");
                self.keys.store(std::sync::Arc::new(k));
                *last = now;
            }
            Err(e) => tracing::error!("API keys not re-read (the old ones stay): {e:#}"),
        }
    }

    /// Whether `role` may see `layer`.
    pub fn sees_layer(&self, role: Role, layer: &str) -> bool {
        role >= required_for_layer(layer, self.open)
    }
}

fn stamp(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The API key of a request: `X-API-Key`, `Authorization: Bearer`, or `api_key=` (Open311).
fn key_of(req: &Request) -> Option<String> {
    let h = req.headers();
    if let Some(k) = h.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(k.trim().to_owned());
    }
    if let Some(k) = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(k.trim().to_owned());
    }
    req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("api_key="))
            .map(str::to_owned)
    })
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    ApiError(status, message.into()).into_response()
}

/// A request over a size limit: its target, its headers, or the body it declares (a drawn
/// area's limit for `/area/stats`, the small one elsewhere).
fn oversized(req: &Request, path: &str) -> Option<Response> {
    let target = req.uri().path().len() + req.uri().query().map_or(0, |q| q.len() + 1);
    if target > MAX_URI {
        return Some(error(
            StatusCode::URI_TOO_LONG,
            format!("the request target is over {MAX_URI} bytes"),
        ));
    }
    let area = path == "/area/stats";
    let most = if area { MAX_AREA_BODY } else { MAX_BODY };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > most) {
        let what = if area {
            " (an area of at most 10,000 vertices)"
        } else {
            ""
        };
        return Some(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is {n} bytes; at most {most}{what}"),
        ));
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    (header_bytes > MAX_HEADERS).then(|| {
        error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the headers are over {MAX_HEADERS} bytes"),
        )
    })
}

/// The middleware.
pub(super) async fn guard(State(g): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = req.uri().path().to_owned();
    let route = route_of(&path);
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    let method = req.method().clone();
    let (resp, who) = 'answer: {
        if let Some(refused) = oversized(&req, &path) {
            break 'answer (refused, None);
        }
        let key = key_of(&req);
        let (name, role) = match &key {
            None => (None, Role::Public),
            Some(k) => match g.keys.load().check_in(k, g.scope.as_deref()) {
                Some((n, r)) => (Some(n.to_owned()), r),
                None => {
                    g.metrics.count_refused("unknown_key");
                    let mut r = error(StatusCode::UNAUTHORIZED, "unknown API key");
                    r.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Bearer realm=\"predio\""),
                    );
                    break 'answer (r, None);
                }
            },
        };
        if let Some(limit) = &g.rate {
            let who = name.clone().unwrap_or_else(|| client.clone());
            if let Err(wait) = limit.take(&who) {
                g.metrics.count_refused("rate_limited");
                let mut r = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("over the rate limit; retry in {} s", wait.as_secs().max(1)),
                );
                if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                break 'answer (r, name);
            }
        }
        let needed = required_role(&path, req.uri().query(), g.open);
        if role < needed {
            g.metrics.count_refused("role");
            let r = if key.is_none() {
                let mut r = error(
                    StatusCode::UNAUTHORIZED,
                    format!("{path} needs an API key with role {needed} or above"),
                );
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"predio\""),
                );
                r
            } else {
                error(
                    StatusCode::FORBIDDEN,
                    format!("{path} needs role {needed} or above; this key is {role}"),
                )
            };
            break 'answer (r, name);
        }
        let mut req = req;
        req.extensions_mut().insert(Caller { role });
        req.headers_mut().remove(PREFIX_HEADER);
        let prefix = req.extensions().get::<Prefix>().map(|p| p.0.clone());
        if let Some(v) = prefix.and_then(|p| HeaderValue::from_str(&p).ok()) {
            req.headers_mut().insert(PREFIX_HEADER, v);
        }
        let resp = match tokio::time::timeout(g.timeout, next.run(req)).await {
            Ok(r) => r,
            Err(_) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not answered within {} s", g.timeout.as_secs()),
            ),
        };
        (json_errors(resp).await, name)
    };
    let status = resp.status().as_u16();
    let secs = started.elapsed().as_secs_f64();
    let cache = resp
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    g.metrics.record(route, status, secs, cache.as_deref());
    tracing::info!(
        target: "predio::access",
        client = %client,
        method = %method,
        path = %path,
        status,
        ms = secs * 1e3,
        key = who.as_deref().unwrap_or("-"),
        "request"
    );
    resp
}

/// Gives every error a JSON body `{"error": ...}` (the framework's own rejections are text).
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let kind = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if kind.contains("json") || kind.contains("xml") {
        return resp;
    }
    let (_, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    error(status, message)
}

/// The answer to a panic in a handler (caught, never the process).
pub(super) fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    let mut r = Response::new(Body::from(json!({ "error": "internal error" }).to_string()));
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_table() {
        let r = |p: &str, q: Option<&str>, parcels| {
            required_role(
                p,
                q,
                Openness {
                    parcels,
                    requests: false,
                },
            )
        };
        assert_eq!(r("/tiles/sectors/1/0/0.mvt", None, false), Role::Public);
        assert_eq!(r("/tiles/parcels/1/0/0.mvt", None, false), Role::Planner);
        assert_eq!(r("/tiles/parcels/1/0/0.mvt", None, true), Role::Public);
        assert_eq!(r("/tiles/parcels.json", None, false), Role::Planner);
        assert_eq!(
            r("/legend.json", None, false),
            Role::Planner,
            "parcels is the default"
        );
        assert_eq!(r("/legend.json", Some("layer=heat"), false), Role::Public);
        assert_eq!(
            r("/rank.json", Some("layer=sectors&id=S1"), false),
            Role::Public
        );
        assert_eq!(r("/rank.json", Some("id=P1"), false), Role::Planner);
        assert_eq!(r("/open311/v2/requests.json", None, true), Role::Auditor);
        assert_eq!(r("/open311/v2/requests/R-1.xml", None, true), Role::Auditor);
        assert_eq!(r("/open311/v2/services.json", None, false), Role::Public);
        assert_eq!(r("/audit/sectors.csv", None, true), Role::Auditor);
        assert_eq!(r("/reports.csv", None, true), Role::Auditor);
        assert_eq!(r("/report%73.json", None, true), Role::Auditor);
        assert_eq!(r("/plan", None, true), Role::Planner);
        assert_eq!(r("/metrics", None, true), Role::Admin);
        assert_eq!(r("/admin/reload", None, true), Role::Admin);
        assert_eq!(r("/style.json", None, false), Role::Public);
        // encoded or repeated, a parcel request is still one
        assert_eq!(r("/tiles/parcel%73/1/0/0.mvt", None, false), Role::Planner);
        assert_eq!(
            r("/legend.json", Some("layer=parcel%73"), false),
            Role::Planner
        );
        assert_eq!(
            r("/legend.json", Some("layer=heat&layer=parcels"), false),
            Role::Planner
        );
        assert_eq!(
            r("/series", Some("level=sector&id=S1"), false),
            Role::Public
        );
        assert_eq!(
            r("/series", Some("level=parce%6C&id=P"), false),
            Role::Planner
        );
        assert_eq!(
            r("/series", Some("level=city&level=parcel"), false),
            Role::Planner
        );
        assert_eq!(r("/series", Some("level=parcel"), true), Role::Public);
        let open = Openness {
            parcels: false,
            requests: true,
        };
        for p in ["/open311/v2/requests.json", "/open311/v2/requests/R-1.xml"] {
            assert_eq!(required_role(p, None, open), Role::Public, "{p}");
        }
        assert_eq!(
            required_role("/audit/sectors.csv", None, open),
            Role::Auditor
        );
        assert_eq!(
            required_role("/tiles/parcels/1/0/0.mvt", None, open),
            Role::Planner
        );
    }

    #[test]
    fn buckets_refill_at_the_rate() {
        let l = RateLimit::new(10.0);
        for _ in 0..40 {
            assert!(l.take("a").is_ok());
        }
        let wait = l.take("a").expect_err("the burst is 4 s worth");
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert!(l.take("b").is_ok(), "per client");
        std::thread::sleep(Duration::from_millis(120));
        assert!(l.take("a").is_ok());
    }
}
