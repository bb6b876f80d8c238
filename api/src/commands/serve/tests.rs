//! The router in-process, as axum's `examples/testing` does it: [`router`] over the [`state`] of
//! a small sample town (made, imported and computed through the command line's own code), each
//! request answered by `tower::ServiceExt::oneshot` without a socket. The end-to-end tests of
//! the binary (`tests/integration`) cover the rest.

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use clap::Parser as _;
use serde_json::Value;
use tower::ServiceExt as _;

use super::{cors_of, router, state};
use crate::cli::{Cli, Command};

/// A computed town of 300 parcels, made once for the tests of this module.
fn town() -> &'static std::path::Path {
    static TOWN: OnceLock<tempfile::TempDir> = OnceLock::new();
    TOWN.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let data = dir.path().join("data");
        let run = |args: &[&str]| {
            let mut all = vec!["predio", "--data", data.to_str().expect("utf-8")];
            all.extend_from_slice(args);
            let cli = Cli::try_parse_from(all).expect("the arguments parse");
            // In this process: the unit tests link GDAL.
            crate::commands::run(cli, crate::LINKED).expect("the command succeeds");
        };
        let town = dir.path().join("town");
        let file = |name: &str| town.join(name).to_str().expect("utf-8").to_owned();
        run(&[
            "sample",
            "--out",
            &file(""),
            "--parcels",
            "300",
            "--seed",
            "3",
        ]);
        run(&[
            "import",
            "sectors",
            &file("sectors.shp"),
            "--id-field",
            "codigo",
        ]);
        run(&[
            "import",
            "parcels",
            &file("parcels.shp"),
            "--id-field",
            "finca",
        ]);
        let (reports, mapping) = (file("reports.csv"), file("reports-mapping.toml"));
        run(&["import", "reports", &reports, "--mapping", &mapping]);
        run(&["compute", "--as-of", "2025-12-31"]);
        dir
    })
    .path()
}

/// The router of `predio serve` with `args` over the town.
fn app(args: &[&str]) -> axum::Router {
    let data = town().join("data");
    let mut all = vec!["predio", "--data", data.to_str().expect("utf-8"), "serve"];
    all.extend_from_slice(args);
    let Command::Serve(serve) = Cli::try_parse_from(all).expect("parses").command else {
        unreachable!("a serve command")
    };
    let keys = serve
        .keys
        .clone()
        .unwrap_or_else(|| crate::commands::keys::default_file(&data));
    let catalog = Box::new(predio_engine::DirCatalog::new(&data));
    let state = state(catalog, keys, &serve, Vec::new()).expect("the state loads");
    router(state, cors_of(&[]).expect("CORS"))
}

/// The status and body of `GET path` (with `key`, if any).
async fn get(app: axum::Router, path: &str, key: Option<&str>) -> (StatusCode, Vec<u8>) {
    let mut req = Request::get(path);
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    let resp = app
        .oneshot(req.body(Body::empty()).expect("a request"))
        .await
        .expect("an answer");
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .expect("the body");
    (status, body.to_vec())
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).expect("a JSON body")
}

#[tokio::test]
async fn health_names_the_version_served() {
    let (status, body) = get(app(&[]), "/health", None).await;
    assert_eq!(status, StatusCode::OK);
    let manifest = predio_engine::DirCatalog::new(town().join("data"));
    let current = predio_engine::CatalogStore::current(&manifest)
        .expect("readable")
        .expect("a version");
    assert_eq!(json(&body)["version"], current.version.to_string());
}

#[tokio::test]
async fn unknown_endpoints_and_layers_are_json_404s() {
    for path in [
        "/nothing/here",
        "/tiles/roads/1/0/0.mvt",
        "/tiles/roads.json",
    ] {
        let (status, body) = get(app(&[]), path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(json(&body)["error"].is_string(), "{path}");
    }
}

#[tokio::test]
async fn report_level_and_parcel_endpoints_need_a_key() {
    for path in [
        "/open311/v2/requests.json",
        "/audit/sectors.json",
        "/tiles/parcels/14/0/0.mvt",
    ] {
        let (status, body) = get(app(&[]), path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(json(&body)["error"].is_string(), "{path}");
        let (status, _) = get(app(&[]), path, Some("predio_guessed")).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{path} with an unknown key"
        );
    }
}

#[tokio::test]
async fn a_sector_tile_is_mvt_with_the_sectors_layer() {
    // z12 tile of the town's centre, from the TileJSON bounds
    let (status, body) = get(app(&[]), "/tiles/sectors.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let b = &json(&body)["bounds"];
    let (lon, lat) = (
        (b[0].as_f64().expect("w") + b[2].as_f64().expect("e")) / 2.0,
        (b[1].as_f64().expect("s") + b[3].as_f64().expect("n")) / 2.0,
    );
    let n = f64::from(1 << 12);
    let x = ((lon + 180.0) / 360.0 * n) as u32;
    let lat = lat.to_radians();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n) as u32;
    let req = Request::get(format!("/tiles/sectors/12/{x}/{y}.mvt"))
        .body(Body::empty())
        .expect("a request");
    let resp = app(&[]).oneshot(req).await.expect("an answer");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "application/vnd.mapbox-vector-tile"
    );
    let body = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .expect("the body");
    // an MVT layer (field 3, length-delimited) whose name (field 1) is "sectors"
    assert_eq!(body[0], 0x1a, "a layer first");
    assert!(
        body.windows(9).any(|w| w == b"\x0a\x07sectors"),
        "the layer is named sectors"
    );
}
