//! The deployment's own endpoints (`/`, `/municipalities.json`, `/health`), the hand-over of
//! `/m/<slug>/...` to the municipality's router, and `predio serve --catalogs`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt as _;

use super::super::error::ApiError;
use super::super::guard::Prefix;
use super::{Deployment, Unavailable};
use crate::cli::ServeArgs;

fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn health(State(d): State<Arc<Deployment>>) -> Response {
    let h = tokio::task::spawn_blocking(move || d.health())
        .await
        .unwrap_or_else(|_| json!({"status": "error"}));
    json_response(StatusCode::OK, &h)
}

async fn municipalities(State(d): State<Arc<Deployment>>) -> Response {
    let list = tokio::task::spawn_blocking(move || d.listing())
        .await
        .unwrap_or_default();
    json_response(StatusCode::OK, &json!({ "municipalities": list }))
}

/// `/`: the municipalities, each a link to its map, with its bounds.
async fn index(State(d): State<Arc<Deployment>>) -> Response {
    let list = tokio::task::spawn_blocking(move || d.listing())
        .await
        .unwrap_or_default();
    let items: String = list
        .iter()
        .map(|m| {
            let slug = m["slug"].as_str().unwrap_or_default();
            let bounds = m["bounds"]
                .as_array()
                .map(|b| {
                    b.iter()
                        .map(|v| format!("{:.4}", v.as_f64().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            format!("<li><a href=\"m/{slug}/\">{slug}</a> <small>{bounds}</small></li>\n")
        })
        .collect();
    let page = format!(
        "<!doctype html>\n<html lang=\"es\"><head><meta charset=\"utf-8\"><title>predio</title>\
         </head>\n<body><h1>predio</h1>\n<ul>\n{items}</ul>\n<p><a href=\"municipalities.json\">\
         municipalities.json</a></p></body></html>\n"
    );
    let mut r = Response::new(Body::from(page));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// `/m/<slug>/...`: the request handed to the municipality's own router, its path without the
/// prefix.
async fn municipality(State(d): State<Arc<Deployment>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let rest = path.strip_prefix("/m/").unwrap_or_default();
    let (slug, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if !path[3 + slug.len()..].starts_with('/') {
        // `/m/slug`: the viewer's relative addresses need the slash
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::PERMANENT_REDIRECT;
        if let Ok(v) = HeaderValue::from_str(&format!("/m/{slug}/")) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return r;
    }
    let slot = match d.slot(slug).await {
        Ok(s) => s,
        Err(Unavailable::Unknown) => {
            return ApiError(StatusCode::NOT_FOUND, format!("no municipality {slug:?}"))
                .into_response()
        }
        Err(Unavailable::Broken) => {
            return json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({ "error": format!("municipality {slug} is unavailable; see /health") }),
            )
        }
    };
    let (mut parts, body) = req.into_parts();
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let Ok(uri) = format!("/{tail}{query}").parse() else {
        return ApiError(StatusCode::BAD_REQUEST, "invalid path".into()).into_response();
    };
    parts.uri = uri;
    // a request of its own for the municipality's router: the outer route's path parameters
    // (an extension) must not reach its extractors; the client's address goes on
    let connected = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .cloned();
    parts.extensions = axum::http::Extensions::new();
    if let Some(c) = connected {
        parts.extensions.insert(c);
    }
    parts.extensions.insert(Prefix(format!("/m/{slug}")));
    match slot
        .app
        .clone()
        .oneshot(Request::from_parts(parts, body))
        .await
    {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// `predio serve --catalogs DIR`.
#[allow(clippy::print_stdout)] // the address line is how scripts find a port-0 server
pub(crate) fn run(root: &Path, args: &ServeArgs) -> anyhow::Result<()> {
    let runtime = super::super::runtime()?;
    crate::malloc::eager_purge();
    let deployment = Deployment::new(root.to_path_buf(), args)?;
    let slugs = deployment.slugs();
    tracing::info!(
        municipalities = slugs.len(),
        budget_mib = args.memory_mib,
        "serving many"
    );
    let app = Router::new()
        .route("/", get(index))
        .route("/health", get(health))
        .route("/municipalities.json", get(municipalities))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/m/{*rest}", axum::routing::any(municipality))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such endpoint".into()) })
        .with_state(Arc::clone(&deployment));
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("listening on {}", args.addr))?;
        let addr = listener.local_addr()?;
        println!(
            "serving http://{addr}/ ({} municipalities under {}); Ctrl-C stops",
            slugs.len(),
            root.display()
        );
        let d = Arc::clone(&deployment);
        let every = Duration::from_millis(args.poll_ms.max(100));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let d = Arc::clone(&d);
                let _ = tokio::task::spawn_blocking(move || d.sweep()).await;
            }
        });
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
    })
}
