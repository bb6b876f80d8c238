//! The endpoints behind the viewer's workbench. `/series`: the monthly series `predio compute`
//! stores, checked against the exported reports counted by month here (received, closed, open at
//! each month's end) and against the indices at the as-of time (open, overdue, answered, on
//! time). `/search`: sectors by name, parcels by id and address for those who may see them, H3
//! cells. Bad requests a 4xx.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use crate::api::{key, private_town};
use crate::support::{arg, csv_rows, predio_ok};
use crate::tiles::Server;

const AS_OF: &str = "2025-12-31";

/// A report as the export gives it: created, closed (when closed, with its time) and its keys.
struct Exported {
    created: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    closed: bool,
    sector: String,
    category: String,
}

fn month(t: DateTime<Utc>, zone: Tz) -> String {
    let l = t.with_timezone(&zone);
    format!("{:04}-{:02}", l.year(), l.month())
}

/// The instant a month's point is taken: its last millisecond, or the as-of time for the last.
fn point(label: &str, zone: Tz, as_of: DateTime<Utc>) -> DateTime<Utc> {
    let (y, m): (i32, u32) = (
        label[..4].parse().expect("year"),
        label[5..].parse().expect("month"),
    );
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let next = zone
        .with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .earliest()
        .expect("midnight")
        .with_timezone(&Utc);
    (next - chrono::Duration::milliseconds(1)).min(as_of)
}

#[test]
fn monthly_series_equal_the_reports_counted_by_month_and_the_indices_at_the_as_of_time() {
    let data = private_town();
    let d = data.path();
    let zone: Tz = "America/Costa_Rica".parse().expect("zone");
    // window `all` too: the months add up to it
    predio_ok(d, &["compute", "--as-of", AS_OF, "--windows", "90d,all"]);
    let planner = key(d, "pl", "planner");
    let server = Server::launch(d, &[]);
    let get = |q: &str| -> Value {
        let r = server.get(&format!("/series?{q}"), &[]);
        assert_eq!(r.status, 200, "{q}: {}", String::from_utf8_lossy(&r.body));
        r.json()
    };
    let city = get("level=city");
    let as_of = as_of_of(&city);
    // `--as-of 2025-12-31`: the end of that day, whose month is the last
    let last = month(as_of - chrono::Duration::milliseconds(1), zone);
    assert_eq!(last, AS_OF[..7], "{as_of}");
    let export = export_reports(d);
    let time = |s: &str| (!s.is_empty()).then(|| s.parse::<DateTime<Utc>>().expect("a time"));
    let reports: Vec<Exported> = csv_rows(&export)
        .into_iter()
        .map(|r| Exported {
            created: time(&r["created_at"]).expect("created"),
            closed_at: time(&r["closed_at"]),
            closed: ["resolved", "rejected", "duplicate"].contains(&r["status"].as_str()),
            sector: r["sector_id"].clone(),
            category: r["category"].clone(),
        })
        .filter(|r| r.created <= as_of)
        .collect();
    assert!(reports.len() > 300, "{} reports", reports.len());

    // the sectors' indices at the as-of time, window all
    let indices = d.join("sectors.csv");
    predio_ok(
        d,
        &[
            "export",
            "indices",
            "--level",
            "sector",
            "--window",
            "all",
            "--format",
            "csv",
            "--out",
            arg(&indices),
        ],
    );
    let indices: HashMap<String, HashMap<String, String>> = csv_rows(&indices)
        .into_iter()
        .map(|r| (r["sector_id"].clone(), r))
        .collect();
    let mut sectors: Vec<&String> = indices.keys().filter(|s| !s.is_empty()).collect();
    sectors.sort();
    let category = reports[0].category.clone();
    let mut checked = 0;
    for (sector, filter) in sectors
        .iter()
        .map(|s| (s.as_str(), None))
        .chain([(sectors[0].as_str(), Some(category.as_str()))])
    {
        let q = match filter {
            None => format!("level=sector&id={sector}"),
            Some(c) => format!(
                "level=sector&id={sector}&category={}",
                c.replace(' ', "%20")
            ),
        };
        let series = get(&q);
        let months = series["months"].as_array().expect("months");
        assert!(months.len() >= 12, "{q}: {} months", months.len());
        let mine: Vec<&Exported> = reports
            .iter()
            .filter(|r| r.sector == sector && filter.is_none_or(|c| r.category == c))
            .collect();
        for m in months {
            let label = m["month"].as_str().expect("month");
            let at = point(label, zone, as_of);
            let received = mine
                .iter()
                .filter(|r| month(r.created, zone) == label)
                .count();
            let closed = mine
                .iter()
                .filter(|r| {
                    r.closed
                        && r.closed_at
                            .is_some_and(|c| month(c.max(r.created), zone) == label)
                })
                .count();
            let open = mine
                .iter()
                .filter(|r| r.created <= at && !(r.closed && r.closed_at.is_none_or(|c| c <= at)))
                .count();
            assert_eq!(m["received"], received, "{q} {label} received");
            assert_eq!(m["closed"], closed, "{q} {label} closed");
            assert_eq!(m["open"], open, "{q} {label} open at its end");
            checked += 1;
        }
        if filter.is_none() {
            // the last point is the indices' as-of state; the months add up to window all
            let row = &indices[sector];
            let n = |c: &str| row[c].parse::<f64>().unwrap_or(0.0) as i64;
            let last = months.last().expect("a month");
            assert_eq!(last["open"], n("open"), "{sector} open");
            assert_eq!(last["overdue"], n("overdue"), "{sector} overdue");
            let sum = |f: &str| {
                months
                    .iter()
                    .map(|m| m[f].as_i64().unwrap_or(0))
                    .sum::<i64>()
            };
            assert_eq!(sum("received"), n("received"), "{sector} received");
            assert_eq!(sum("answered"), n("answered"), "{sector} answered");
            assert_eq!(
                sum("answered_on_time"),
                n("answered_on_time"),
                "{sector} on time"
            );
        }
    }
    eprintln!("{checked} sector-months checked against the export");
    // the city's series: every report
    let total: i64 = city["months"]
        .as_array()
        .expect("months")
        .iter()
        .map(|m| m["received"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(total, reports.len() as i64);

    // a parcel's series: behind the parcel layer's key, its months its reports
    let exported = csv_rows(&export);
    let parcel = exported
        .iter()
        .filter(|r| !r["parcel_id"].is_empty())
        .fold(HashMap::<&str, usize>::new(), |mut m, r| {
            *m.entry(r["parcel_id"].as_str()).or_default() += 1;
            m
        })
        .into_iter()
        .max_by_key(|(p, n)| (*n, std::cmp::Reverse(*p)))
        .expect("a parcel with reports")
        .0
        .to_owned();
    let q = format!("/series?level=parcel&id={parcel}");
    assert_eq!(server.get(&q, &[]).status, 401);
    let r = server.get(&q, &[("X-API-Key", planner.as_str())]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let months = r.json()["months"].as_array().expect("months").clone();
    assert_eq!(
        months.len(),
        city["months"].as_array().expect("city").len(),
        "the city's axis"
    );
    let total: i64 = months.iter().filter_map(|m| m["received"].as_i64()).sum();
    let want = reports_of_parcel(&exported, &parcel, as_of);
    assert!(want >= 2, "{want} reports on {parcel}");
    assert_eq!(total, want, "parcel {parcel}'s reports");
    assert_eq!(
        server
            .get(
                "/series?level=parcel&id=NOPE",
                &[("X-API-Key", planner.as_str())]
            )
            .status,
        404
    );
    // bad requests are a clear 4xx
    let unknown = format!("/series?level=sector&id={}&category=Nothing", sectors[0]);
    refused(
        &server,
        &[],
        &[
            (unknown.as_str(), 400),
            ("/series?level=district&id=1", 400),
            ("/series?level=sector", 400),
            ("/series?level=sector&id=NOPE", 404),
            ("/series?level=city&category=a&department=b", 400),
        ],
    );
    let long = format!("/series?level=sector&id={}", "x".repeat(10_000));
    let r = server.get(&long, &[]);
    assert_eq!(r.status, 414, "a 10 kB id: URI too long");
    assert!(r.json()["error"].is_string());
    let id = "x".repeat(300);
    assert_eq!(
        server
            .get(&format!("/series?level=sector&id={id}"), &[])
            .status,
        400
    );
}

/// `/search` on the sample town: a sector by its name typed loosely, a parcel by its finca and
/// by its address (lower case, accents dropped) for a planner and never for the public, an H3
/// cell by its index; bad queries a 4xx.
#[test]
fn search_finds_sectors_parcels_and_cells_for_the_roles_that_see_them() {
    let data = private_town();
    let d = data.path();
    let k = key(d, "planner", "planner");
    let server = Server::launch(d, &[]);
    let find = |q: &str, key: Option<&str>| -> Vec<Value> {
        let headers: Vec<(&str, &str)> = key.map(|k| ("X-API-Key", k)).into_iter().collect();
        let q = q
            .replace('%', "%25")
            .replace(' ', "%20")
            .replace('#', "%23");
        let r = server.get(&format!("/search?q={q}"), &headers);
        assert_eq!(r.status, 200, "{q}: {}", String::from_utf8_lossy(&r.body));
        r.json()["results"].as_array().expect("results").clone()
    };
    let fold = |s: &str| -> String {
        s.to_lowercase()
            .replace(['á', 'à'], "a")
            .replace('é', "e")
            .replace('í', "i")
            .replace('ó', "o")
            .replace('ú', "u")
            .replace('ñ', "n")
    };
    let version = crate::support::version_dir(d);
    let sectors = predio_engine::read_sectors(&version.join("sectors.fgb")).expect("sectors");
    for s in &sectors.sectors {
        // the name's words, lower case without accents, the last one cut short
        let words: Vec<String> = fold(&s.name)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let mut typed = words.clone();
        if let Some(last) = typed.last_mut() {
            let keep = last.chars().count().div_ceil(2).max(1);
            *last = last.chars().take(keep).collect();
        }
        let hits = find(&typed.join(" "), None);
        assert!(
            hits.iter()
                .any(|h| h["kind"] == "sector" && h["id"] == s.id.as_str()),
            "{:?} → {hits:?}",
            s.name
        );
        // the hit's box holds the sector and its centre is inside it
        let h = hits.iter().find(|h| h["id"] == s.id.as_str()).expect("hit");
        let b: Vec<f64> = serde_json::from_value(h["bbox"].clone()).expect("bbox");
        let c: Vec<f64> = serde_json::from_value(h["center"].clone()).expect("center");
        let inside = geo::Contains::contains(&s.geometry, &geo::Point::new(c[0], c[1]));
        assert!(inside && b[0] <= c[0] && c[0] <= b[2] && b[1] <= c[1] && c[1] <= b[3]);
    }
    let parcels = crate::support::current_parcels(d);
    let at = parcels
        .fields
        .iter()
        .position(|f| f.name == "direccion")
        .expect("direccion");
    let mut by_address = 0;
    for p in parcels.parcels.iter().step_by(parcels.parcels.len() / 25) {
        // by its finca (the parcel id), first
        let hits = find(p.id.as_str(), Some(&k));
        assert_eq!(hits[0]["id"], p.id.as_str(), "{}", p.id);
        assert_eq!(hits[0]["kind"], "parcel");
        assert!(
            find(p.id.as_str(), None)
                .iter()
                .all(|h| h["kind"] != "parcel"),
            "a parcel found without a key"
        );
        // by its address, typed loosely
        let predio_engine::Value::String(address) = &p.attributes[at] else {
            continue;
        };
        let first = address.split(" | ").next().expect("an address");
        let hits = find(&fold(first), Some(&k));
        assert!(
            hits.iter().any(|h| h["id"] == p.id.as_str()),
            "{first:?} → {hits:?}"
        );
        by_address += 1;
    }
    assert!(by_address >= 20, "{by_address} parcels searched by address");
    // an H3 cell of a report
    let export = export_reports(d);
    let cell = csv_rows(&export)
        .into_iter()
        .find(|r| !r["h3"].is_empty())
        .expect("a report with a cell")["h3"]
        .clone();
    let hits = find(&cell, None);
    assert_eq!(hits[0]["kind"], "cell");
    assert_eq!(hits[0]["id"], cell.as_str());
    // asking for parcels: refused without a planner's key, a JSON 401
    let r = server.get("/search?q=1&kind=parcel", &[]);
    assert_eq!(r.status, 401);
    assert!(r.json()["error"].is_string());
    let r = server.get("/search?q=1&kind=parcel", &[("X-API-Key", k.as_str())]);
    assert_eq!(r.status, 200);
    assert!(r.json()["results"]
        .as_array()
        .is_some_and(|h| !h.is_empty() && h.iter().all(|x| x["kind"] == "parcel")));
    // bad queries
    refused(
        &server,
        &[],
        &[
            ("/search?q=a&kind=street", 400),
            ("/search", 400),
            ("/search?q=", 400),
            ("/search?q=barrio&limit=0", 400),
            ("/search?q=barrio&limit=x", 400),
        ],
    );
    let long = format!("/search?q={}", "a".repeat(300));
    assert_eq!(server.get(&long, &[]).status, 400);
    let huge = format!("/search?q={}", "a".repeat(10_000));
    let r = server.get(&huge, &[]);
    assert_eq!(r.status, 414, "a 10 kB query");
    // the server is unaffected
    assert_eq!(server.get("/health", &[]).status, 200);
}

/// `/reports.{json,csv,geojson}` (auditor): a sector's open reports are those the export
/// shows open at the as-of time, oldest first; the CSV and GeoJSON downloads hold the same
/// rows; the window and stage filters select what they say; refused without an auditor key.
#[test]
fn the_reports_behind_a_sector_are_its_open_reports_and_the_downloads_hold_them() {
    let data = private_town();
    let d = data.path();
    let auditor = key(d, "aud", "auditor");
    let planner = key(d, "pl", "planner");
    let server = Server::launch(d, &[]);
    let zone: Tz = "America/Costa_Rica".parse().expect("zone");
    let city = server.get("/series?level=city", &[]).json();
    let as_of = as_of_of(&city);
    let export = export_reports(d);
    let rows = csv_rows(&export);
    let time = |s: &str| (!s.is_empty()).then(|| s.parse::<DateTime<Utc>>().expect("a time"));
    let open_at = |r: &HashMap<String, String>| open_at(r, as_of);
    let sector = rows
        .iter()
        .filter(|r| open_at(r) && !r["sector_id"].is_empty())
        .map(|r| r["sector_id"].clone())
        .next()
        .expect("a sector with open reports");
    let get = |q: &str| server.get(q, &[("X-API-Key", auditor.as_str())]);
    let listed = get(&format!("/reports.json?sector_id={sector}&page_size=1000")).json();
    let mut want: Vec<&HashMap<String, String>> = rows
        .iter()
        .filter(|r| r["sector_id"] == sector && open_at(r))
        .collect();
    want.sort_by(|a, b| (&a["created_at"], &a["id"]).cmp(&(&b["created_at"], &b["id"])));
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("rows")
            .iter()
            .map(|r| r["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let want_ids: Vec<String> = want.iter().map(|r| r["id"].clone()).collect();
    assert!(!want_ids.is_empty());
    assert_eq!(listed["total"], want_ids.len());
    let mut got = ids(&listed["reports"]);
    let mut sorted = want_ids.clone();
    sorted.sort();
    got.sort();
    assert_eq!(got, sorted, "the open reports of {sector}");
    // oldest first
    let created: Vec<&str> = listed["reports"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["created_at"].as_str().expect("created"))
        .collect();
    assert!(created.windows(2).all(|w| w[0] <= w[1]), "{created:?}");
    // paged: page 2 of 2-row pages is the third and fourth
    if want_ids.len() >= 4 {
        let p2 = get(&format!(
            "/reports.json?sector_id={sector}&page=2&page_size=2"
        ))
        .json();
        assert_eq!(ids(&p2["reports"]), ids(&listed["reports"])[2..4]);
    }
    // the downloads hold the same rows, in the same order
    let csv = get(&format!("/reports.csv?sector_id={sector}"));
    assert_eq!(csv.status, 200);
    assert!(csv
        .header("content-disposition")
        .is_some_and(|h| h.contains("attachment")));
    let text = String::from_utf8(csv.body.clone()).expect("utf-8");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("id,category,department,sector_id,parcel_id,created_at,age_bd,stage,due_date,past_due_bd"),
        "no other column, and no personal one"
    );
    let csv_ids: Vec<String> = lines
        .map(|l| l.split(',').next().expect("id").to_owned())
        .collect();
    assert_eq!(csv_ids, ids(&listed["reports"]));
    let geo = get(&format!("/reports.geojson?sector_id={sector}")).json();
    let features = geo["features"].as_array().expect("features");
    assert_eq!(features.len(), csv_ids.len());
    let by_id: HashMap<&str, &HashMap<String, String>> =
        rows.iter().map(|r| (r["id"].as_str(), r)).collect();
    for f in features {
        let id = f["properties"]["id"].as_str().expect("id");
        let r = by_id[id];
        if let Some(c) = f["geometry"]["coordinates"].as_array() {
            let lon: f64 = r["lon"].parse().expect("lon");
            assert!((c[0].as_f64().expect("x") - lon).abs() < 1e-9, "{id}");
        }
    }
    // a window: the open reports created in its local days; a stage: those in it
    let local = as_of.with_timezone(&zone).naive_local() - chrono::Days::new(90);
    let start = zone
        .from_local_datetime(&local)
        .earliest()
        .expect("a start")
        .with_timezone(&Utc);
    let in_window = want
        .iter()
        .filter(|r| time(&r["created_at"]).expect("created") > start)
        .count();
    let w = get(&format!(
        "/reports.json?sector_id={sector}&window=90d&page_size=1000"
    ))
    .json();
    assert_eq!(w["total"], in_window);
    let overdue = get("/reports.json?stage=overdue&page_size=1000").json();
    assert!(overdue["reports"]
        .as_array()
        .expect("rows")
        .iter()
        .all(|r| r["stage"] == "overdue" && r["past_due_bd"].is_number()));
    // roles and bad requests
    assert_eq!(server.get("/reports.csv", &[]).status, 401);
    assert_eq!(
        server
            .get("/reports.json", &[("X-API-Key", planner.as_str())])
            .status,
        403
    );
    refused(
        &server,
        &[("X-API-Key", auditor.as_str())],
        &[
            ("/reports.json?stage=late", 400),
            ("/reports.json?page_size=0", 400),
            ("/reports.json?sector_id=a&parcel_id=b", 400),
            ("/reports.json?window=forever", 400),
            ("/reports.json?category=Nothing", 400),
        ],
    );
}

/// `POST /area/stats` (planner): a drawn polygon's numbers are those of the reports whose
/// points shapely finds inside it — received, open, answered, on time — and its monthly series
/// adds up to them; a polygon of 100,000 vertices, a self-intersecting one, one larger than the
/// limit and a point are each a clear 400; the public gets 401.
#[test]
fn an_area_of_ones_own_counts_the_reports_shapely_finds_inside_it() {
    let data = private_town();
    let d = data.path();
    let planner = key(d, "pl", "planner");
    let server = Server::launch(d, &[]);
    let export = export_reports(d);
    let rows = csv_rows(&export);
    let city = server.get("/series?level=city", &[]).json();
    let as_of = as_of_of(&city);
    // a diamond over the middle of the reports' extent
    let pts: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|r| Some((r["lon"].parse().ok()?, r["lat"].parse().ok()?)))
        .collect();
    let (x0, x1) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |a, p| (a.0.min(p.0), a.1.max(p.0)));
    let (y0, y1) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |a, p| (a.0.min(p.1), a.1.max(p.1)));
    let (cx, cy, rx, ry) = (
        (x0 + x1) / 2.0,
        (y0 + y1) / 2.0,
        (x1 - x0) / 2.5,
        (y1 - y0) / 2.5,
    );
    // clockwise, as a user may draw it
    let ring = [
        (cx - rx, cy),
        (cx, cy + ry),
        (cx + rx, cy),
        (cx, cy - ry),
        (cx - rx, cy),
    ];
    let polygon = serde_json::json!({
        "type": "Polygon",
        "coordinates": [ring.iter().map(|(x, y)| [x, y]).collect::<Vec<_>>()],
    });
    let inside = inside_ids(&export, &polygon);
    assert!(inside.len() > 30, "{} reports inside", inside.len());
    let inside: std::collections::HashSet<&str> = inside.iter().map(String::as_str).collect();
    let time = |s: &str| (!s.is_empty()).then(|| s.parse::<DateTime<Utc>>().expect("a time"));
    let mine: Vec<&HashMap<String, String>> = rows
        .iter()
        .filter(|r| inside.contains(r["id"].as_str()))
        .filter(|r| time(&r["created_at"]).is_some_and(|c| c <= as_of))
        .collect();
    let open = mine.iter().filter(|r| open_at(r, as_of)).count();
    let post = |q: &str, body: String, key: Option<&str>| {
        let mut h = vec![("Content-Type", "application/json")];
        if let Some(k) = key {
            h.push(("X-API-Key", k));
        }
        crate::tiles::request_with_body(&server.addr, "POST", q, &h, body.as_bytes())
    };
    let r = post(
        "/area/stats?window=all",
        polygon.to_string(),
        Some(&planner),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let stats = r.json();
    assert_eq!(stats["received"], mine.len(), "{stats}");
    assert_eq!(stats["open"], open, "{stats}");
    let months = stats["months"].as_array().expect("months");
    let sum: i64 = months
        .iter()
        .map(|m| m["received"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(sum, mine.len() as i64, "the months add up");
    assert_eq!(months.last().expect("a month")["open"], open);
    // a window: the reports created in its days
    let w = post(
        "/area/stats?window=90d",
        polygon.to_string(),
        Some(&planner),
    )
    .json();
    assert!(w["received"].as_u64() <= stats["received"].as_u64());
    // refusals
    assert_eq!(post("/area/stats", polygon.to_string(), None).status, 401);
    let many: Vec<[f64; 2]> = (0..100_000)
        .map(|i| {
            let a = i as f64 / 100_000.0 * std::f64::consts::TAU;
            [cx + rx * a.cos(), cy + ry * a.sin()]
        })
        .chain([[cx + rx, cy]])
        .collect();
    let bowtie = [
        [cx - rx, cy - ry],
        [cx + rx, cy + ry],
        [cx + rx, cy - ry],
        [cx - rx, cy + ry],
        [cx - rx, cy - ry],
    ];
    let huge = [
        [-60.0, -30.0],
        [-50.0, -30.0],
        [-50.0, -20.0],
        [-60.0, -20.0],
        [-60.0, -30.0],
    ];
    // 100,000 vertices: over the body's limit, a JSON 413 saying so
    let r = post(
        "/area/stats",
        serde_json::json!({"type": "Polygon", "coordinates": [many]}).to_string(),
        Some(&planner),
    );
    assert_eq!(r.status, 413);
    assert!(r.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("10,000 vertices")));
    // 12,500 vertices fit in the body, not in the area's limit
    let tight: Vec<[f64; 2]> = many.iter().step_by(8).copied().chain([many[0]]).collect();
    for (body, says) in [
        (
            serde_json::json!({"type": "Polygon", "coordinates": [tight]}),
            "vertices",
        ),
        (
            serde_json::json!({"type": "Polygon", "coordinates": [bowtie]}),
            "not a valid polygon",
        ),
        (
            serde_json::json!({"type": "Polygon", "coordinates": [huge]}),
            "km²",
        ),
        (
            serde_json::json!({"type": "Point", "coordinates": [cx, cy]}),
            "Polygon",
        ),
    ] {
        let r = post("/area/stats", body.to_string(), Some(&planner));
        assert_eq!(
            r.status,
            400,
            "{says}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let e = r.json()["error"].as_str().expect("an error").to_owned();
        assert!(e.contains(says), "{e}");
    }
    let r = post("/area/stats", "{not json".into(), Some(&planner));
    assert_eq!(r.status, 400);
    assert_eq!(
        server.get("/health", &[]).status,
        200,
        "the server is unaffected"
    );
}

/// The ids of the exported reports (`export`, CSV) whose points shapely finds inside `polygon`
/// (GeoJSON).
pub(crate) fn inside_ids(export: &std::path::Path, polygon: &Value) -> Vec<String> {
    let script = "import csv, json, sys\nimport shapely\nfrom shapely.geometry import shape\n\
        poly = shape(json.loads(sys.argv[2]))\nids = []\n\
        for r in csv.DictReader(open(sys.argv[1])):\n    \
            if r['lon'] and r['lat'] and poly.contains(shapely.Point(float(r['lon']), float(r['lat']))):\n        \
                ids.append(r['id'])\nprint(json.dumps(ids))\n";
    serde_json::from_value(crate::support::python_json(
        &crate::support::python(),
        &["-c", script, arg(export), &polygon.to_string()],
    ))
    .expect("ids")
}

/// The exported reports of `parcel` created up to `as_of`.
fn reports_of_parcel(rows: &[HashMap<String, String>], parcel: &str, as_of: DateTime<Utc>) -> i64 {
    rows.iter()
        .filter(|r| r["parcel_id"] == parcel)
        .filter(|r| {
            r["created_at"]
                .parse::<DateTime<Utc>>()
                .is_ok_and(|c| c <= as_of)
        })
        .count() as i64
}

/// The as-of time of a `/series` answer.
fn as_of_of(series: &Value) -> DateTime<Utc> {
    series["as_of"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("the as-of time")
}

/// `predio export reports` as CSV into the catalog's folder: the file.
pub(crate) fn export_reports(d: &std::path::Path) -> std::path::PathBuf {
    let export = d.join("r.csv");
    predio_ok(
        d,
        &[
            "export",
            "reports",
            "--format",
            "csv",
            "--out",
            arg(&export),
        ],
    );
    export
}

/// Whether an exported report was open at `as_of`: created by then and not closed by then (a
/// closed one without a closing time is closed from the start, as the indices read it).
fn open_at(r: &HashMap<String, String>, as_of: DateTime<Utc>) -> bool {
    let time = |s: &str| (!s.is_empty()).then(|| s.parse::<DateTime<Utc>>().expect("a time"));
    let created = time(&r["created_at"]).expect("created");
    let closed = ["resolved", "rejected", "duplicate"].contains(&r["status"].as_str())
        && time(&r["closed_at"]).is_none_or(|c| c <= as_of);
    created <= as_of && !closed
}

/// Each request answered with its status and a JSON error.
fn refused(server: &Server, headers: &[(&str, &str)], cases: &[(&str, u16)]) {
    for &(q, status) in cases {
        let r = server.get(q, headers);
        assert_eq!(r.status, status, "{q}");
        assert!(r.json()["error"].is_string(), "{q}");
    }
}
