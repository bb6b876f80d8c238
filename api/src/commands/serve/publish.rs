//! `predio publish`: the public map as a static site, for any static host or CDN.
//!
//! The site is what `predio serve` answers a caller without a key, written as files: the
//! server's router is built over the catalog with the same options (`--public-parcels`, heat
//! k-anonymity) and asked in-process for the viewer, `meta.json`, the style, the legends, the
//! sector labels and the glyphs, so the privacy rules are the server's own. The tiles are one
//! PMTiles archive per public layer and filter set (each window; with `--filters all` also each
//! category and department), cut by the same layers the server serves, and read by the viewer
//! through the `pmtiles` package's MapLibre protocol (installed from npm by `make web`).
//!
//! The site is written into a staging folder beside `--out`, fsynced, then renamed over it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context as _};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use clap::Parser as _;
use predio_engine::indices::{Dimension, Selection};
use predio_engine::{write_file_atomically, DirCatalog};
use predio_tiles::TileProvider;
use serde_json::{json, Value};
use tower::ServiceExt as _;

use crate::cli::{Cli, Command, PublishArgs, PublishFilters};
use crate::commands::thousands;

/// The host the in-process requests name, stripped from the answers' addresses.
const HOST: &str = "predio.invalid";

/// The glyph ranges published: Latin, Latin-1, Latin Extended-A/B, IPA, and general
/// punctuation (the characters of municipal place names in Spanish and Portuguese).
const GLYPH_RANGES: [u32; 6] = [0, 256, 512, 768, 1024, 8192];

/// `predio publish`: one site for `data`, or one per catalog under `--catalogs` with an index.
#[allow(clippy::print_stdout)] // the summary is this command's output
pub fn run(data: &Path, args: &PublishArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.minzoom <= args.maxzoom,
        "--minzoom {} is above --maxzoom {}",
        args.minzoom,
        args.maxzoom
    );
    let Some(dir) = &args.catalogs else {
        let summary = publish_site(data, args, &args.out)?;
        println!("{summary}");
        return Ok(());
    };
    let mut slugs = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && entry.path().is_dir() {
            anyhow::ensure!(
                predio_engine::valid_slug(&name),
                "{}: {name:?} cannot name a municipality (lower-case letters, digits, '-' and '_')",
                entry.path().display()
            );
            slugs.push(name);
        }
    }
    slugs.sort();
    if slugs.is_empty() {
        bail!("{}: no catalog folders in it", dir.display());
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut listed = Vec::new();
    for slug in &slugs {
        let summary = publish_site(&dir.join(slug), args, &args.out.join(slug))
            .with_context(|| format!("publishing {slug}"))?;
        println!("{slug}: {summary}");
        let meta: Value = serde_json::from_slice(
            &std::fs::read(args.out.join(slug).join("meta.json")).context("meta.json")?,
        )?;
        listed.push(json!({ "slug": slug, "bounds": meta["bounds"], "version": meta["version"] }));
    }
    let index = json!({ "municipalities": listed });
    write_file_atomically(
        &args.out.join("municipalities.json"),
        index.to_string().as_bytes(),
    )?;
    write_file_atomically(&args.out.join("index.html"), index_page(&slugs).as_bytes())?;
    Ok(())
}

/// The page listing the municipalities of a multi-site publish.
fn index_page(slugs: &[String]) -> String {
    let items: String = slugs
        .iter()
        .map(|s| format!("<li><a href=\"{s}/\">{s}</a></li>\n"))
        .collect();
    format!(
        "<!doctype html>\n<html lang=\"es\"><head><meta charset=\"utf-8\"><title>predio</title>\
         </head>\n<body><h1>predio</h1>\n<ul>\n{items}</ul></body></html>\n"
    )
}

/// The site of one catalog at `out`; returns a one-line summary.
fn publish_site(data: &Path, args: &PublishArgs, out: &Path) -> anyhow::Result<String> {
    let name = out
        .file_name()
        .map_or_else(|| "site".into(), |n| n.to_string_lossy().into_owned());
    // Only a site predio published is replaced: never a folder of something else.
    let foreign = out.is_dir()
        && std::fs::read_dir(out)?.next().is_some()
        && !out.join("meta.json").is_file();
    if foreign || out.is_file() {
        bail!(
            "{}: not a site `predio publish` wrote (no meta.json); give a new or empty folder",
            out.display()
        );
    }
    let staging = out.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    let result = write_site(data, args, &staging);
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let old = out.with_file_name(format!(".{name}.{}.old", std::process::id()));
    if out.exists() {
        std::fs::rename(out, &old).with_context(|| format!("moving {}", out.display()))?;
    }
    std::fs::rename(&staging, out).with_context(|| format!("writing {}", out.display()))?;
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    Ok(summary)
}

/// The server's router over `data` as `predio serve` would build it for these options.
fn server(data: &Path, args: &PublishArgs) -> anyhow::Result<(super::Shared, axum::Router)> {
    let data_arg = data.to_string_lossy().into_owned();
    let heat = args.min_heat_reports.to_string();
    let mut argv: Vec<String> = [
        "predio",
        "--data",
        &data_arg,
        "serve",
        "--min-heat-reports",
        &heat,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if args.public_parcels {
        argv.push("--public-parcels".into());
    }
    if !args.parcel_attributes.is_empty() {
        argv.push("--parcel-attributes".into());
        argv.push(args.parcel_attributes.join(","));
    }
    for f in &args.fonts {
        argv.push("--fonts".into());
        argv.push(f.to_string_lossy().into_owned());
    }
    let Command::Serve(serve) = Cli::try_parse_from(argv)?.command else {
        unreachable!("a serve command")
    };
    let keys = super::super::keys::default_file(data);
    let state = super::state(Box::new(DirCatalog::new(data)), keys, &serve, Vec::new())?;
    let app = super::router(std::sync::Arc::clone(&state), super::cors_of(&[])?);
    Ok((state, app))
}

/// `GET path` of the router, as a caller without a key: the status and the body.
async fn get(app: &axum::Router, path: &str) -> anyhow::Result<(StatusCode, Vec<u8>)> {
    let req = Request::get(path)
        .header(header::HOST, HOST)
        .body(Body::empty())?;
    let resp = app.clone().oneshot(req).await?;
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 28).await?;
    Ok((status, body.to_vec()))
}

/// `GET path`, which must answer 200.
async fn get_ok(app: &axum::Router, path: &str) -> anyhow::Result<Vec<u8>> {
    let (status, body) = get(app, path).await?;
    if status != StatusCode::OK {
        bail!(
            "{path}: {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
    }
    Ok(body)
}

/// Writes `bytes` at `rel` under `site`, creating its folders.
fn put(site: &Path, rel: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let path = site.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    write_file_atomically(&path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// The absolute addresses of the in-process server in `v` made relative to the site.
fn relative(v: &mut Value) {
    let prefix = format!("http://{HOST}/");
    match v {
        Value::String(s) => {
            if let Some(rest) = s.strip_prefix(&prefix) {
                *s = rest.to_owned();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(relative),
        Value::Object(o) => o.values_mut().for_each(relative),
        _ => {}
    }
}

/// The filter sets published: each window, with `--filters all` also each category and
/// department of each window.
fn filter_sets(served: &super::state::Served, filters: PublishFilters) -> Vec<Selection> {
    if served.windows.is_empty() {
        // Nothing computed yet (a cadastre without reports): one set, of the layers as they are.
        return vec![Selection::window(served.default_window.clone())];
    }
    let mut out = Vec::new();
    for w in &served.windows {
        let mut dims = vec![Dimension::All];
        if filters == PublishFilters::All {
            dims.extend(
                served
                    .categories
                    .iter()
                    .map(|c| Dimension::Category(Some(c.clone()))),
            );
            dims.extend(
                served
                    .departments
                    .iter()
                    .map(|d| Dimension::Department(Some(d.clone()))),
            );
        }
        out.extend(dims.into_iter().map(|dimension| Selection {
            window: w.clone(),
            dimension,
            res: None,
        }));
    }
    out
}

/// The viewer and its vendored libraries (MapLibre as the server has it, pmtiles from npm).
async fn write_viewer(app: &axum::Router, site: &Path) -> anyhow::Result<()> {
    for (path, file) in [
        ("/", "index.html"),
        ("/app.js", "app.js"),
        ("/app.css", "app.css"),
        ("/messages.json", "messages.json"),
        ("/vendor/maplibre-gl.js", "vendor/maplibre-gl.js"),
        ("/vendor/maplibre-gl.css", "vendor/maplibre-gl.css"),
    ] {
        put(site, file, &get_ok(app, path).await?)?;
    }
    let pmtiles_js = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/web/node_modules/pmtiles/dist/pmtiles.js"
    ));
    let js = std::fs::read(pmtiles_js).with_context(|| {
        format!(
            "{}: the pmtiles package is not installed: run `make web` (npm)",
            pmtiles_js.display()
        )
    })?;
    put(site, "vendor/pmtiles.js", &js)?;
    // as the server answers it: nothing (a browser asks for it)
    put(site, "favicon.ico", &[])
}

/// The public tile layers of `meta` (not the labels' or a base map's), and the index fields of
/// each layer coloured by an index (a legend per field).
fn public_layers(
    meta: &Value,
    served: &super::state::Served,
) -> (Vec<String>, BTreeMap<String, Vec<String>>) {
    let layers = meta["layers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let public = layers
        .iter()
        .filter_map(|l| l["name"].as_str().map(str::to_owned))
        .filter(|n| served.layers.contains_key(n) && n != "basemap")
        .collect();
    let numeric = layers
        .iter()
        .filter(|l| l["name"] != "hotspots")
        .filter_map(|l| {
            let fields = l["fields"]
                .as_array()?
                .iter()
                .filter(|f| f["type"] == "Number" && f["name"] != "res")
                .filter_map(|f| f["name"].as_str().map(str::to_owned))
                .collect();
            Some((l["name"].as_str()?.to_owned(), fields))
        })
        .collect();
    (public, numeric)
}

/// What the files of the site add up to.
#[derive(Default)]
struct Written {
    tiles: u64,
    bytes: u64,
    legends: usize,
}

/// One filter set's archives (one per public layer) and legends, under the key `key`; its
/// entry of `meta.json`'s `static.filters`.
#[allow(clippy::too_many_arguments)]
fn write_set(
    runtime: &tokio::runtime::Runtime,
    app: &axum::Router,
    served: &super::state::Served,
    (public, numeric): (&[String], &BTreeMap<String, Vec<String>>),
    args: &PublishArgs,
    filter: &Selection,
    key: &str,
    site: &Path,
    written: &mut Written,
) -> anyhow::Result<Value> {
    let query = super::filter_query(filter);
    let mut archives = serde_json::Map::new();
    for name in public {
        let layer: &dyn TileProvider = served.layers[name].as_ref();
        if layer.check(filter).is_err() {
            continue;
        }
        let (lo, hi) = layer.zoom_range();
        let zooms = (args.minzoom.max(lo), args.maxzoom.min(hi));
        if zooms.0 > zooms.1 {
            continue;
        }
        let rel = format!("tiles/{name}/{key}.pmtiles");
        let path = site.join(&rel);
        std::fs::create_dir_all(path.parent().expect("a folder"))?;
        let stats = predio_tiles::write_archive(
            &path,
            predio_tiles::ArchiveFormat::Pmtiles,
            &[layer],
            filter,
            zooms,
            &format!("predio {} {name} ({query})", served.manifest.version),
        )
        .with_context(|| format!("writing {}", path.display()))?;
        written.tiles += stats.per_zoom.values().sum::<u64>();
        written.bytes += stats.bytes;
        archives.insert(name.clone(), json!(rel));
    }
    for (layer, fields) in numeric {
        for field in fields {
            let path = format!("/legend.json?layer={layer}&field={field}&{query}");
            let (status, body) = runtime.block_on(get(app, &path))?;
            if status == StatusCode::OK {
                put(site, &format!("legends/{key}/{layer}/{field}.json"), &body)?;
                written.legends += 1;
            }
        }
    }
    let mut set = json!({
        "key": key,
        "window": filter.window,
        "archives": archives,
        "legends": format!("legends/{key}"),
    });
    match &filter.dimension {
        Dimension::Category(Some(c)) => set["category"] = json!(c),
        Dimension::Department(Some(d)) => set["department"] = json!(d),
        _ => {}
    }
    Ok(set)
}

/// The style of the `default` set, its tile sources that set's archives (`pmtiles://`), with
/// the label points and the glyphs it names.
async fn write_style(
    app: &axum::Router,
    query: &str,
    default: &Value,
    public: &[String],
    site: &Path,
) -> anyhow::Result<()> {
    let mut style: Value =
        serde_json::from_slice(&get_ok(app, &format!("/style.json?{query}")).await?)?;
    relative(&mut style);
    if let Some(sources) = style["sources"].as_object_mut() {
        for (name, source) in sources.iter_mut() {
            if let Some(rel) = default["archives"][name].as_str() {
                *source = json!({ "type": "vector", "url": format!("pmtiles://{rel}") });
            } else if public.contains(name) {
                // a layer with no tiles in the default set
                *source = json!({ "type": "vector", "tiles": [] });
            }
        }
    }
    for source in style["sources"].as_object().into_iter().flatten() {
        if let Some(rel) = source.1["data"].as_str() {
            put(site, rel, &get_ok(app, &format!("/{rel}")).await?)?;
        }
    }
    let mut stacks: Vec<String> = style["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["layout"]["text-font"].as_array())
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    stacks.sort();
    stacks.dedup();
    for stack in stacks {
        for start in GLYPH_RANGES {
            let range = format!("{start}-{}", start + 255);
            let path = format!("/fonts/{}/{range}.pbf", stack.replace(' ', "%20"));
            put(
                site,
                &format!("fonts/{stack}/{range}.pbf"),
                &get_ok(app, &path).await?,
            )?;
        }
    }
    put(site, "style.json", style.to_string().as_bytes())
}

fn write_site(data: &Path, args: &PublishArgs, site: &Path) -> anyhow::Result<String> {
    let started = std::time::Instant::now();
    let (state, app) = server(data, args)?;
    let served = state.current.load_full();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(write_viewer(&app, site))?;
    let mut meta: Value = serde_json::from_slice(&runtime.block_on(get_ok(&app, "/meta.json"))?)?;
    let (public, numeric) = public_layers(&meta, &served);
    let sets = filter_sets(&served, args.filters);
    let mut written = Written::default();
    let mut filters = Vec::with_capacity(sets.len());
    for (i, filter) in sets.iter().enumerate() {
        filters.push(write_set(
            &runtime,
            &app,
            &served,
            (&public, &numeric),
            args,
            filter,
            &format!("f{i}"),
            site,
            &mut written,
        )?);
    }
    let default = sets
        .iter()
        .position(|f| f.window == served.default_window && f.dimension == Dimension::All)
        .unwrap_or(0);
    runtime.block_on(write_style(
        &app,
        &super::filter_query(&sets[default]),
        &filters[default],
        &public,
        site,
    ))?;
    meta["static"] = json!({ "filters": filters });
    put(site, "meta.json", meta.to_string().as_bytes())?;
    Ok(format!(
        "{} filter sets × {} layers: {} tiles ({:.1} MB) in {} PMTiles archives, {} legends; \
         version {}, {:.1} s",
        sets.len(),
        public.len(),
        thousands(written.tiles as usize),
        written.bytes as f64 / 1e6,
        filters
            .iter()
            .map(|f| f["archives"].as_object().map_or(0, serde_json::Map::len))
            .sum::<usize>(),
        thousands(written.legends),
        served.manifest.version,
        started.elapsed().as_secs_f64()
    ))
}
