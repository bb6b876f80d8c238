//! The HTTP API beyond tiles: Open311 GeoReport v2 read by a client written against the
//! specification, the role matrix of every endpoint, a privacy scan of everything public, and
//! malformed requests (4xx with a JSON body, never a 5xx).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{arg, csv_rows, predio, predio_ok, sample_town, town};
use crate::tiles::{tile_of, Server};

/// Makes a key with `role` in the catalog's key file and returns it.
pub(crate) fn key(data: &Path, name: &str, role: &str) -> String {
    let out = predio_ok(data, &["keys", "add", "--name", name, "--role", role]);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The exported reports (CSV) by id: what Open311 must tell about each.
fn exported(data: &Path) -> HashMap<String, HashMap<String, String>> {
    let out = data.join("reports.csv");
    predio_ok(
        data,
        &["export", "reports", "--format", "csv", "--out", arg(&out)],
    );
    csv_rows(&out)
        .into_iter()
        .map(|row| (row["id"].clone(), row))
        .collect()
}

/// An Open311 XML document as JSON (`[{field: text}]`), read by Python's own XML parser.
fn xml_rows(xml: &[u8]) -> Vec<HashMap<String, String>> {
    let script = "import sys, json, xml.etree.ElementTree as ET\n\
                  root = ET.fromstring(sys.stdin.buffer.read())\n\
                  print(json.dumps([{c.tag: (c.text or '') for c in item} for item in root]))";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), xml).expect("write");
    let out = child.wait_with_output().expect("python3");
    assert!(out.status.success(), "the XML does not parse");
    serde_json::from_slice(&out.stdout).expect("json")
}

fn metres(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let a = ((p2 - p1) / 2.0).sin().powi(2)
        + p1.cos() * p2.cos() * ((lon2 - lon1).to_radians() / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * a.sqrt().asin()
}

#[test]
fn an_open311_client_reads_requests_services_and_discovery_in_json_and_xml() {
    let data = town();
    let d = data.path();
    let want = exported(d);
    let k = key(d, "ana", "auditor");
    let server = Server::launch(d, &[]);
    let h = [("X-API-Key", k.as_str())];

    // discovery and services (public)
    let disc = server.get("/open311/v2/discovery.json", &[]).json();
    let ep = &disc["endpoints"][0];
    assert_eq!(ep["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert!(ep["url"]
        .as_str()
        .is_some_and(|u| u.ends_with("/open311/v2")));
    assert!(ep["formats"].as_array().is_some_and(|f| f.len() == 2));
    let x = server.get("/open311/v2/discovery.xml", &[]);
    assert!(String::from_utf8_lossy(&x.body)
        .contains("<specification>http://wiki.open311.org/GeoReport_v2</specification>"));
    let services = server.get("/open311/v2/services.json", &[]).json();
    let services = services.as_array().expect("array");
    let categories: HashSet<&str> = want.values().map(|r| r["category"].as_str()).collect();
    assert_eq!(services.len(), categories.len());
    let mut code_of = HashMap::new();
    for s in services {
        for f in ["service_code", "service_name", "type", "group"] {
            assert!(s[f].is_string(), "{f} in {s}");
        }
        assert_eq!(s["metadata"], false);
        assert!(categories.contains(s["service_name"].as_str().unwrap_or_default()));
        code_of.insert(
            s["service_name"].as_str().unwrap_or_default().to_owned(),
            s["service_code"].as_str().unwrap_or_default().to_owned(),
        );
    }
    let sx = xml_rows(&server.get("/open311/v2/services.xml", &[]).body);
    assert_eq!(sx.len(), services.len());
    assert_eq!(
        sx[0]["service_code"],
        services[0]["service_code"].as_str().unwrap_or_default()
    );

    // every request, page by page, over all time: each as exported
    let mut seen = HashMap::new();
    for page in 1.. {
        let r = server.get(
            &format!("/open311/v2/requests.json?start_date=2000-01-01T00:00:00Z&end_date=2100-01-01T00:00:00Z&page_size=400&page={page}"),
            &h,
        );
        assert_eq!(r.status, 200);
        let rows = r.json();
        let rows = rows.as_array().expect("array").clone();
        if rows.is_empty() {
            break;
        }
        assert!(rows.len() <= 400);
        for row in rows {
            seen.insert(
                row["service_request_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                row,
            );
        }
    }
    assert_eq!(seen.len(), want.len(), "every report once");
    for (id, row) in &seen {
        let w = &want[id];
        let closed = matches!(w["status"].as_str(), "resolved" | "rejected" | "duplicate");
        assert_eq!(
            row["status"],
            if closed { "closed" } else { "open" },
            "{id}"
        );
        assert_eq!(row["requested_datetime"], w["created_at"].as_str(), "{id}");
        assert_eq!(row["service_name"], w["category"].as_str());
        assert_eq!(row["service_code"], code_of[&w["category"]].as_str());
        assert_eq!(row["agency_responsible"], w["department"].as_str());
        assert_eq!(
            row["parcel_id"].as_str().unwrap_or(""),
            w["parcel_id"],
            "{id}"
        );
        assert_eq!(
            row["sector_id"].as_str().unwrap_or(""),
            w["sector_id"],
            "{id}"
        );
        assert_eq!(row["match"], w["match"].as_str());
        if w["location"] == "located" {
            let lat: f64 = w["lat"].parse().expect("lat");
            assert!(
                (row["lat"].as_f64().unwrap_or(0.0) - lat).abs() < 1e-9,
                "{id}"
            );
        } else {
            assert!(
                row["lat"].is_null(),
                "{id}: a {} has no position",
                w["location"]
            );
        }
        for private in ["description", "address", "status_notes"] {
            assert!(row[private].is_null(), "{id} has {private}");
        }
    }

    // the default window: the 90 days up to the newest report, newest first
    let rows = server.get("/open311/v2/requests.json", &h).json();
    let rows = rows.as_array().expect("array");
    let times: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["requested_datetime"].as_str())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let newest = want
        .values()
        .map(|r| r["created_at"].as_str())
        .max()
        .unwrap_or_default();
    assert_eq!(times.first().copied(), Some(newest));
    let start =
        chrono::DateTime::parse_from_rfc3339(newest).expect("t") - chrono::Duration::days(90);
    let in_window = want
        .values()
        .filter(|r| {
            chrono::DateTime::parse_from_rfc3339(&r["created_at"]).is_ok_and(|t| t >= start)
        })
        .count();
    assert_eq!(rows.len(), in_window.min(1000));

    // filters: status, service_code, lat/long/radius, ids
    let all = "start_date=2000-01-01&end_date=2100-01-01&page_size=1000";
    let open = server
        .get(&format!("/open311/v2/requests.json?{all}&status=open"), &h)
        .json();
    let open_want = want
        .values()
        .filter(|r| matches!(r["status"].as_str(), "open" | "in_progress"))
        .count();
    assert_eq!(open.as_array().map(Vec::len), Some(open_want.min(1000)));
    assert!(open
        .as_array()
        .into_iter()
        .flatten()
        .all(|r| r["status"] == "open"));
    let (cat, code) = code_of.iter().next().expect("a service");
    let by_code = server
        .get(
            &format!("/open311/v2/requests.json?{all}&service_code={code}"),
            &h,
        )
        .json();
    let n = want.values().filter(|r| &r["category"] == cat).count();
    assert_eq!(by_code.as_array().map(Vec::len), Some(n.min(1000)));
    let (lat, lon, radius) = (9.9145, -84.0985, 300.0);
    let near = server
        .get(
            &format!("/open311/v2/requests.json?{all}&lat={lat}&long={lon}&radius={radius}"),
            &h,
        )
        .json();
    let near_want = want
        .values()
        .filter(|r| r["location"] == "located")
        .filter(|r| {
            metres(
                lat,
                lon,
                r["lat"].parse().unwrap_or(0.0),
                r["lon"].parse().unwrap_or(0.0),
            ) <= radius
        })
        .count();
    assert!(near_want > 5, "{near_want} reports near the test point");
    assert_eq!(near.as_array().map(Vec::len), Some(near_want));
    let ids: Vec<&String> = want.keys().take(3).collect();
    let q = ids.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
    let by_id = server.get(&format!("/open311/v2/requests.json?service_request_id={q}&status=open&start_date=2099-01-01"), &h).json();
    assert_eq!(
        by_id.as_array().map(Vec::len),
        Some(3),
        "ids win over the other filters"
    );

    // one request, JSON and XML agree
    let id = ids[0];
    let one = server
        .get(&format!("/open311/v2/requests/{id}.json"), &h)
        .json();
    assert_eq!(one.as_array().map(Vec::len), Some(1));
    assert_eq!(one[0], seen[id.as_str()]);
    let xml = xml_rows(
        &server
            .get(&format!("/open311/v2/requests/{id}.xml"), &h)
            .body,
    );
    assert_eq!(xml.len(), 1);
    for (k, v) in one[0].as_object().expect("object") {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        assert_eq!(xml[0].get(k), Some(&text), "{k}");
    }

    // Open311 errors
    for (path, code) in [
        ("/open311/v2/requests.json?start_date=yesterday", 400),
        ("/open311/v2/requests.json?status=pending", 400),
        ("/open311/v2/requests.json?page_size=5000", 400),
        ("/open311/v2/requests.json?lat=9.9", 400),
        ("/open311/v2/requests.json?lat=9.9&long=-84&radius=-5", 400),
        (
            "/open311/v2/requests.json?start_date=2025-06-01&end_date=2025-01-01",
            400,
        ),
        ("/open311/v2/requests/R-none.json", 404),
    ] {
        let r = server.get(path, &h);
        assert_eq!(r.status, code, "{path}");
        let e = r.json();
        assert_eq!(e[0]["code"], code, "{path}: {e}");
        assert!(e[0]["description"].is_string());
    }
    let r = server.get("/open311/v2/requests.xml?status=pending", &h);
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("<errors><error><code>400</code>"));
    assert_eq!(server.get("/open311/v2/requests.csv", &h).status, 404);
}

#[test]
fn every_endpoint_answers_each_role_as_the_table_says() {
    let data = town();
    let d = data.path();
    predio_ok(d, &["compute", "--as-of", "2025-12-31"]);
    let keys: Vec<(String, String)> = ["planner", "auditor", "admin"]
        .iter()
        .map(|r| ((*r).to_owned(), key(d, &format!("k-{r}"), r)))
        .collect();
    let server = Server::launch(d, &[]);
    let meta = server.get("/meta.json", &[]).json();
    let b: Vec<f64> = serde_json::from_value(meta["bounds"].clone()).expect("bounds");
    let (x, y) = tile_of(15, (b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let rank = |r: &str| {
        ["public", "planner", "auditor", "admin"]
            .iter()
            .position(|x| *x == r)
    };
    let endpoints: Vec<(&str, String, &str)> = vec![
        ("GET", "/".into(), "public"),
        ("GET", "/app.js".into(), "public"),
        ("GET", "/health".into(), "public"),
        ("GET", "/meta.json".into(), "public"),
        ("GET", "/style.json".into(), "public"),
        ("GET", "/legend.json?layer=sectors".into(), "public"),
        ("GET", "/legend.json?layer=parcels".into(), "planner"),
        ("GET", "/tiles/sectors.json".into(), "public"),
        ("GET", "/tiles/heat.json".into(), "public"),
        ("GET", "/tiles/parcels.json".into(), "planner"),
        ("GET", format!("/tiles/sectors/15/{x}/{y}.mvt"), "public"),
        ("GET", format!("/tiles/heat/15/{x}/{y}.mvt"), "public"),
        ("GET", format!("/tiles/parcels/15/{x}/{y}.mvt"), "planner"),
        ("GET", "/open311/v2/discovery.json".into(), "public"),
        ("GET", "/open311/v2/services.xml".into(), "public"),
        ("GET", "/open311/v2/requests.json".into(), "auditor"),
        (
            "GET",
            "/open311/v2/requests/R-0000001.xml".into(),
            "auditor",
        ),
        ("GET", "/audit/sectors.json".into(), "auditor"),
        ("GET", "/audit/sectors.csv?window=90d".into(), "auditor"),
        ("GET", "/plan?top=3".into(), "planner"),
        ("GET", "/metrics".into(), "admin"),
        ("POST", "/admin/reload".into(), "admin"),
        ("POST", "/admin/cache/clear".into(), "admin"),
    ];
    for (method, path, needs) in &endpoints {
        let need = rank(needs).expect("role");
        let r = server.request(method, path, &[]);
        if need == 0 {
            assert!(r.status < 300, "public {method} {path}: {}", r.status);
        } else {
            assert_eq!(r.status, 401, "no key {method} {path}");
            assert!(r.json()["error"].is_string());
        }
        let r = server.request(method, path, &[("X-API-Key", "predio_guessed")]);
        assert_eq!(r.status, 401, "a wrong key {method} {path}");
        for (role, k) in &keys {
            let r = server.request(method, path, &[("Authorization", &format!("Bearer {k}"))]);
            if rank(role) >= Some(need) {
                assert!(r.status < 300, "{role} {method} {path}: {}", r.status);
            } else {
                assert_eq!(r.status, 403, "{role} {method} {path}");
                assert!(r.json()["error"]
                    .as_str()
                    .is_some_and(|e| e.contains(needs)));
            }
        }
    }
    // the style and the pickers show a caller only what it may see
    let style = server.get("/style.json", &[]).json();
    assert!(style["sources"]["parcels"].is_null() && style["sources"]["sectors"].is_object());
    let names = |m: &Value| -> Vec<String> {
        m["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["name"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(!names(&meta).contains(&"parcels".to_owned()));
    let planner = [("X-API-Key", keys[0].1.as_str())];
    assert!(server.get("/style.json", &planner).json()["sources"]["parcels"].is_object());
    assert!(names(&server.get("/meta.json", &planner).json()).contains(&"parcels".to_owned()));
    // Open311's api_key parameter is a key too
    let r = server.get(
        &format!("/open311/v2/requests.json?api_key={}", keys[1].1),
        &[],
    );
    assert_eq!(r.status, 200);

    // a key added while the server runs is honoured, one removed is refused
    let late = key(d, "late", "auditor");
    server.wait_for_status("/open311/v2/requests.json", &[("X-API-Key", &late)], 200);
    predio_ok(d, &["keys", "remove", "late"]);
    server.wait_for_status("/open311/v2/requests.json", &[("X-API-Key", &late)], 401);
    let listed = String::from_utf8_lossy(&predio_ok(d, &["keys", "list"]).stdout).into_owned();
    assert!(
        listed.contains("k-admin") && !listed.contains(&keys[2].1),
        "{listed}"
    );

    // metrics count what was served
    let admin = [("X-API-Key", keys[2].1.as_str())];
    let m = String::from_utf8_lossy(&server.get("/metrics", &admin).body).into_owned();
    let count = |needle: &str| -> f64 {
        m.lines()
            .find(|l| l.starts_with(needle))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    assert!(
        count("predio_http_requests_total{route=\"open311\",status=\"401\"}") >= 3.0,
        "{m}"
    );
    assert!(count("predio_http_refused_total{reason=\"unknown_key\"}") >= endpoints.len() as f64);
    assert!(count("predio_http_request_duration_seconds_count{route=\"tiles\"}") >= 1.0);
    assert!(m.contains("# TYPE predio_tile_cache_bytes gauge"));
}

/// The sample town imported with its reports' personal fields kept apart (so they are in the
/// catalog and could leak), computed for 2025.
pub(crate) fn private_town() -> tempfile::TempDir {
    let town_dir = sample_town();
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    for args in [
        vec![
            "import",
            "sectors",
            arg(&town_dir.join("sectors.shp")),
            "--id-field",
            "codigo",
            "--name-field",
            "nombre",
        ],
        vec![
            "import",
            "parcels",
            arg(&town_dir.join("parcels.shp")),
            "--id-field",
            "finca",
            "--address-field",
            "direccion",
        ],
        vec![
            "import",
            "reports",
            arg(&town_dir.join("reports.csv")),
            "--mapping",
            arg(&town_dir.join("reports-mapping.toml")),
            "--keep-private",
        ],
        vec!["compute", "--as-of", "2025-12-31"],
    ] {
        predio_ok(d, &args);
    }
    let private = std::fs::read_dir(d.join("versions"))
        .expect("versions")
        .flatten()
        .any(|v| {
            std::fs::read_dir(v.path())
                .into_iter()
                .flatten()
                .flatten()
                .any(|f| f.file_name().to_string_lossy().contains("private"))
        });
    assert!(
        private,
        "the personal fields are in the catalog (kept apart)"
    );
    data
}

/// What the public must never read of the sample town's reports: names, e-mails, phones, free
/// text, the addresses as written and the points as the source wrote them (7 decimals: centimetres); and the reports' ids.
pub(crate) fn town_secrets() -> (HashSet<String>, Vec<String>) {
    let mut secrets: HashSet<String> = HashSet::new();
    let mut ids = Vec::new();
    for rec in csv_rows(&sample_town().join("reports.csv")) {
        // the address a counter report was given as written (a home, often): located, never shown
        for c in ["nombre", "correo", "telefono", "descripcion", "direccion"] {
            let v = rec[c].trim();
            if v.chars().count() >= 6 {
                secrets.insert(v.to_owned());
            }
        }
        ids.push(rec["id_reporte"].clone());
        for c in ["latitud", "longitud"] {
            let v = &rec[c];
            if v.split_once('.').is_some_and(|(_, frac)| frac.len() >= 6) {
                secrets.insert(v.clone());
            }
        }
    }
    assert!(secrets.len() > 1000, "{} values to look for", secrets.len());
    (secrets, ids)
}

#[test]
fn no_public_response_holds_personal_data_or_a_report() {
    let data = private_town();
    let d = data.path();
    let (mut secrets, ids) = town_secrets();
    secrets.extend(ids.iter().filter(|i| !i.is_empty()).cloned());

    // everything a public caller can reach, with parcels configured public (the most open)
    let server = Server::launch(d, &["--public-parcels"]);
    let meta = server.get("/meta.json", &[]).json();
    let mut paths: Vec<String> = [
        "/",
        "/app.js",
        "/app.css",
        "/health",
        "/meta.json",
        "/style.json",
        "/open311/v2/discovery.json",
        "/open311/v2/discovery.xml",
        "/open311/v2/services.json",
        "/open311/v2/services.xml",
        "/series?level=city",
        "/messages.json",
        "/labels/sectors.geojson",
        "/search?q=a",
        "/search?q=calle",
        "/search?q=1",
        "/search?q=barrio&limit=50",
    ]
    .map(str::to_owned)
    .to_vec();
    let windows: Vec<String> = serde_json::from_value(meta["windows"].clone()).expect("windows");
    let categories: Vec<String> = serde_json::from_value(meta["categories"].clone()).expect("cats");
    for layer in meta["layers"].as_array().expect("layers") {
        let name = layer["name"].as_str().expect("name");
        paths.push(format!("/tiles/{name}.json"));
        for f in layer["fields"].as_array().expect("fields") {
            if f["type"] == "Number" {
                paths.push(format!(
                    "/legend.json?layer={name}&field={}",
                    f["name"].as_str().unwrap_or("")
                ));
            }
        }
    }
    let b: Vec<f64> = serde_json::from_value(meta["bounds"].clone()).expect("bounds");
    let mut tiles = 0;
    for z in [10u8, 12, 13, 14, 15, 16, 17] {
        let (x0, y0) = tile_of(z, b[0], b[3]);
        let (x1, y1) = tile_of(z, b[2], b[1]);
        for x in x0..=x1 {
            for y in y0..=y1 {
                for layer in ["sectors", "parcels", "heat"] {
                    paths.push(format!("/tiles/{layer}/{z}/{x}/{y}.mvt"));
                    tiles += 1;
                }
                if z == 14 {
                    for w in &windows {
                        for c in categories.iter().take(4) {
                            for layer in ["parcels", "heat"] {
                                let c = c.replace(' ', "%20");
                                paths.push(format!(
                                    "/tiles/{layer}/{z}/{x}/{y}.mvt?window={w}&category={c}"
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(tiles > 100, "{tiles} tiles");
    let sectors = predio_engine::read_sectors(&crate::support::version_dir(d).join("sectors.fgb"))
        .expect("sectors");
    for s in &sectors.sectors {
        paths.push(format!("/series?level=sector&id={}", s.id));
    }
    let mut bytes = 0usize;
    for p in &paths {
        let r = server.get(p, &[]);
        assert!(r.status < 300, "{p}: {}", r.status);
        bytes += r.body.len();
        let text = String::from_utf8_lossy(&r.body);
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{p} holds {s:?}");
        }
    }
    assert!(bytes > 1_000_000, "{bytes} bytes scanned");
    // and report-level data is not public
    assert_eq!(server.get("/open311/v2/requests.json", &[]).status, 401);
    assert_eq!(
        server
            .get(&format!("/open311/v2/requests/{}.json", ids[0]), &[])
            .status,
        401
    );
    drop(server);

    // auditors see reports, never their personal fields
    let k = key(d, "aud", "auditor");
    let server = Server::launch(d, &[]);
    let r = server.get(
        "/open311/v2/requests.json?start_date=2000-01-01&end_date=2100-01-01&page_size=1000",
        &[("X-API-Key", &k)],
    );
    let text = String::from_utf8_lossy(&r.body);
    // the scan finds what is there: the auditor's answer holds report ids and points
    assert!(secrets.iter().filter(|s| text.contains(s.as_str())).count() > 100);
    let personal_only: Vec<&String> = secrets
        .iter()
        .filter(|s| !ids.contains(s) && !s.starts_with(['-', '9']))
        .collect();
    // the downloads behind the numbers and a drawn area's numbers: no personal field either
    let mut answers = Vec::new();
    for p in [
        "/reports.csv",
        "/reports.geojson",
        "/reports.json?page_size=1000",
    ] {
        let r = server.get(p, &[("X-API-Key", &k)]);
        assert_eq!(r.status, 200, "{p}");
        answers.push((p.to_owned(), String::from_utf8_lossy(&r.body).into_owned()));
    }
    let polygon = serde_json::json!({"type": "Polygon", "coordinates": [[
        [b[0], b[1]], [b[2], b[1]], [b[2], b[3]], [b[0], b[3]], [b[0], b[1]]]]});
    let r = crate::tiles::request_with_body(
        &server.addr,
        "POST",
        "/area/stats",
        &[("X-API-Key", &k)],
        polygon.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200);
    answers.push((
        "/area/stats".into(),
        String::from_utf8_lossy(&r.body).into_owned(),
    ));
    assert!(answers.iter().map(|(_, t)| t.len()).sum::<usize>() > 10_000);
    for s in personal_only {
        assert!(!text.contains(s.as_str()), "Open311 holds {s:?}");
        for (p, t) in &answers {
            assert!(!t.contains(s.as_str()), "{p} holds {s:?}");
        }
    }
}

#[test]
fn malformed_requests_get_a_4xx_with_a_json_error_never_a_5xx() {
    let data = town();
    let d = data.path();
    predio_ok(d, &["compute", "--as-of", "2025-12-31"]);
    let server = Server::launch(d, &["--public-parcels", "--rate-limit", "1000"]);
    let long = "a".repeat(10_000);
    let cases: Vec<(String, u16)> = vec![
        ("/tiles/parcels/23/0/0.mvt".into(), 400),
        ("/tiles/parcels/3/8/0.mvt".into(), 400),
        ("/tiles/parcels/x/0/0.mvt".into(), 400),
        ("/tiles/parcels/-1/0/0.mvt".into(), 400),
        ("/tiles/parcels/1/0/0.png".into(), 400),
        ("/tiles/parcels/%FF/0/0.mvt".into(), 400),
        ("/tiles/roads/1/0/0.mvt".into(), 404),
        ("/tiles/roads.json".into(), 404),
        ("/tiles/parcels/1/0/0.mvt?window=7d".into(), 400),
        ("/tiles/parcels/1/0/0.mvt?category=Nope".into(), 400),
        (
            "/tiles/parcels/1/0/0.mvt?category=a&department=b".into(),
            400,
        ),
        (format!("/tiles/parcels/1/0/0.mvt?window={long}"), 414),
        ("/legend.json?layer=parcels&field=parcel_id".into(), 400),
        ("/nothing/here".into(), 404),
        ("/open311/v2/nothing.json".into(), 404),
        ("/vendor/evil.js".into(), 404),
    ];
    for (path, code) in &cases {
        let r = server.get(path, &[]);
        assert_eq!(r.status, *code, "{}", &path[..path.len().min(80)]);
        let body = r.json();
        assert!(
            body["error"].is_string() || body[0]["description"].is_string(),
            "{path}: {body}"
        );
    }
    let big = "x".repeat(20_000);
    let r = server.get("/health", &[("X-Padding", &big)]);
    assert_eq!(r.status, 431);
    assert!(r.json()["error"].is_string());
    // a POST to a read endpoint, a GET to a write one
    assert_eq!(server.request("POST", "/style.json", &[]).status, 405);
    assert_eq!(
        server
            .request("DELETE", "/tiles/sectors/1/0/0.mvt", &[])
            .status,
        405
    );
    // the server still answers
    assert_eq!(server.get("/health", &[]).status, 200);
    drop(server);

    // the rate limit: a burst of 4 s worth, then 429 with Retry-After
    let server = Server::launch(d, &["--rate-limit", "5"]);
    let codes: Vec<u16> = (0..25).map(|_| server.get("/health", &[]).status).collect();
    assert!(codes[..20].iter().all(|c| *c == 200), "{codes:?}");
    let r = server.get("/health", &[]);
    assert_eq!(r.status, 429, "{codes:?}");
    assert!(r.header("retry-after").is_some());
    assert!(r.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("rate")));
    // a bad key file: the running server keeps the keys it had and says so in its log; a new
    // server does not start, saying where
    std::fs::write(d.join("keys.toml"), "[[key]]\nname = \"x\"\n").expect("write");
    server.wait_for_log("API keys not re-read (the old ones stay)");
    let out = predio(d, &["serve", "--addr", "127.0.0.1:0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("keys.toml"));
}

#[test]
fn the_audit_table_by_sector_equals_the_sector_indices() {
    let data = town();
    let d = data.path();
    predio_ok(d, &["compute", "--as-of", "2025-12-31"]);
    let k = key(d, "auditor", "auditor");
    let server = Server::launch(d, &[]);
    let h = [("X-API-Key", k.as_str())];
    for (query, extra) in [
        ("window=90d", vec!["--window", "90d"]),
        (
            "window=365d&department=Obras%20Viales&as_of=2025-12-31",
            vec!["--window", "365d", "--department", "Obras Viales"],
        ),
    ] {
        let out = d.join("sectors.csv");
        let mut args = vec![
            "export",
            "indices",
            "--level",
            "sector",
            "--format",
            "csv",
            "--out",
            arg(&out),
        ];
        args.extend(extra.iter().copied());
        predio_ok(d, &args);
        let want: HashMap<String, HashMap<String, String>> = csv_rows(&out)
            .into_iter()
            .map(|m| (m["sector_id"].clone(), m))
            .filter(|(id, _)| !id.is_empty())
            .collect();
        let audit = server.get(&format!("/audit/sectors.json?{query}"), &h);
        assert_eq!(audit.status, 200, "{query}");
        let audit = audit.json();
        assert_eq!(audit["as_of"], "2025-12-31");
        let rows = audit["sectors"].as_array().expect("sectors");
        assert_eq!(
            rows.len(),
            want.len(),
            "{query}: every sector, zeros included"
        );
        let num = |s: &str| s.parse::<f64>().unwrap_or(0.0);
        let mut pending = 0.0;
        for r in rows {
            let id = r["sector_id"].as_str().expect("id");
            let w = &want[id];
            for c in [
                "received",
                "answered",
                "answered_on_time",
                "open",
                "overdue",
                "overdue_0_5",
                "overdue_6_10",
                "overdue_11_20",
                "overdue_over_20",
            ] {
                assert_eq!(r[c].as_f64(), Some(num(&w[c])), "{query} {id} {c}");
            }
            assert_eq!(
                r["answered_late"].as_f64(),
                Some(num(&w["answered"]) - num(&w["answered_on_time"]))
            );
            match w["compliance"].as_str() {
                "" => assert!(r["compliance"].is_null()),
                c => assert!((r["compliance"].as_f64().unwrap_or(-1.0) - num(c)).abs() < 1e-12),
            }
            pending += num(&w["open"]);
        }
        assert!(pending > 0.0, "{query}: some reports are pending");
        // the CSV says the same
        let text = String::from_utf8(server.get(&format!("/audit/sectors.csv?{query}"), &h).body)
            .expect("utf-8");
        let mut lines = text.lines();
        let cols: Vec<&str> = lines.next().expect("header").split(',').collect();
        let open = cols.iter().position(|c| *c == "open").expect("open");
        let csv_pending: f64 = lines.map(|l| l.split(',').nth(open).map_or(0.0, num)).sum();
        assert_eq!(csv_pending, pending);
    }
    for (query, says) in [
        ("as_of=2025-06-30", "compute --as-of 2025-06-30"),
        ("as_of=June", "YYYY-MM-DD"),
        ("window=7d", "computed windows"),
        ("category=Nada", "no sector rows"),
    ] {
        let r = server.get(&format!("/audit/sectors.json?{query}"), &h);
        assert_eq!(r.status, 400, "{query}");
        assert!(
            r.json()["error"].as_str().is_some_and(|e| e.contains(says)),
            "{query}"
        );
    }
}

/// A 5xx never carries the server's internal text (paths, file names, library messages): the
/// body says "internal error" with a request id, and the cause is in the server's log. Forced
/// by removing a table of the served version under the running server.
#[test]
fn an_internal_error_answers_a_request_id_and_never_its_cause() {
    let data = town();
    let d = data.path();
    predio_ok(d, &["compute", "--as-of", "2025-12-31"]);
    let auditor = key(d, "ana", "auditor");
    let server = Server::launch(d, &[]);
    let h = [("X-API-Key", auditor.as_str())];
    let version = crate::support::version_dir(d);
    for file in ["reports.parquet", "indices-sectors.parquet"] {
        std::fs::remove_file(version.join(file)).expect("remove a table under the server");
    }
    let internals = [
        "parquet",
        "versions",
        "No such file",
        "os error",
        d.to_str().expect("utf-8 path"),
    ];
    for path in ["/audit/sectors.json", "/open311/v2/requests.json"] {
        let r = server.get(path, &h);
        assert_eq!(
            r.status,
            500,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let text = String::from_utf8_lossy(&r.body).into_owned();
        for internal in internals {
            assert!(
                !text.contains(internal),
                "{path} leaks {internal:?}: {text}"
            );
        }
        let body = r.json();
        let said = body["error"]
            .as_str()
            .or(body[0]["description"].as_str())
            .unwrap_or_else(|| panic!("{path}: no error text: {body}"));
        assert!(said.starts_with("internal error"), "{path}: {said}");
        let id = body["request_id"].as_str().map_or_else(
            || {
                said.rsplit(' ')
                    .next()
                    .unwrap_or("")
                    .trim_end_matches(')')
                    .to_owned()
            },
            str::to_owned,
        );
        assert_eq!(id.len(), 16, "{path}: no request id in {body}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{path}: {id}");
    }
    // the cause is in the server's log, under the request id the client was given
    let log = server.wait_for_log("internal error");
    assert!(log.contains("reports.parquet"), "{log}");
    // the server still answers
    assert_eq!(server.get("/health", &[]).status, 200);
}

#[test]
fn a_georeport_client_reads_public_requests_without_a_key_and_no_personal_data() {
    use geo::Contains;
    let python = crate::support::python();
    let data = private_town();
    let d = data.path();
    let k = key(d, "aud", "auditor");
    let (secrets, _) = town_secrets();
    let parcels: HashMap<String, geo::MultiPolygon<f64>> = crate::support::current_parcels(d)
        .parcels
        .into_iter()
        .map(|p| (p.id.as_str().to_owned(), p.geometry))
        .collect();
    let (start, end) = ("2025-01-01", "2025-12-31");
    let script = crate::support::workspace().join("tests/integration/open311_client.py");
    let read = |server: &Server, res: &str| {
        crate::support::python_json(
            &python,
            &[
                arg(&script),
                &format!("http://{}", server.addr),
                &k,
                res,
                start,
                end,
            ],
        )
    };
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string())
    };
    let float = |v: &Value| {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .expect("a number")
    };

    // closed by default: the same client gets 401
    let server = Server::launch(d, &[]);
    assert_eq!(server.get("/open311/v2/requests.json", &[]).status, 401);
    drop(server);

    // --public-requests, points on the parcels
    let server = Server::launch(d, &["--public-requests"]);
    let got = read(&server, "9");
    let auditor = got["auditor"].as_array().expect("auditor rows");
    let public = got["requests_json"].as_array().expect("public rows");
    assert!(public.len() > 100, "{} requests", public.len());
    assert_eq!(
        public.len(),
        auditor.len(),
        "the same requests as the auditor's"
    );
    let (mut on_parcel, mut on_cell, mut moved) = (0, 0, 0);
    for (p, a) in public.iter().zip(auditor) {
        assert_eq!(p["service_request_id"], a["service_request_id"]);
        for same in ["status", "service_code", "requested_datetime", "sector_id"] {
            assert_eq!(p[same], a[same], "{same}");
        }
        for hidden in ["parcel_id", "distance_m", "match", "description", "address"] {
            assert!(p.get(hidden).is_none(), "a public request holds {hidden}");
        }
        let Some(lat) = p.get("lat").map(float) else {
            assert!(a.get("lat").is_none() && a["parcel_id"].is_null());
            continue;
        };
        let lon = float(&p["long"]);
        if let Some(parcel) = a["parcel_id"].as_str() {
            let g = &parcels[parcel];
            assert!(
                g.contains(&geo::Point::new(lon, lat)),
                "{lat},{lon} is not inside parcel {parcel}"
            );
            on_parcel += 1;
        } else {
            let c = &got["h3_centres"][text(&p["service_request_id"])];
            assert!((lat - float(&c[0])).abs() < 1e-6 && (lon - float(&c[1])).abs() < 1e-6);
            on_cell += 1;
        }
        if a["location"] == "located"
            && a.get("lat")
                .is_some_and(|t| metres(lat, lon, float(t), float(&a["long"])) > 1.0)
        {
            moved += 1;
        }
    }
    assert!(on_parcel > 100, "{on_parcel} placed on their parcels");
    let own_point = auditor
        .iter()
        .filter(|a| a["location"] == "located")
        .count();
    assert!(moved * 10 > own_point * 9, "{moved} of {own_point} moved");
    eprintln!("{on_parcel} requests on their parcel, {on_cell} on an H3 cell, {moved} moved");
    // XML says the same; one request is the list's
    let xml = got["requests_xml"].as_array().expect("xml rows");
    assert_eq!(xml.len(), public.len());
    for (x, j) in xml.iter().zip(public) {
        assert_eq!(
            text(&x["service_request_id"]),
            text(&j["service_request_id"])
        );
        if let Some(lat) = j.get("lat") {
            assert!((float(&x["lat"]) - float(lat)).abs() < 1e-9);
        }
    }
    assert_eq!(&got["one_json"], public.last().expect("a request"));
    assert_eq!(
        got["one_xml"]["service_request_id"],
        xml.last().expect("a row")["service_request_id"]
    );
    let codes: HashSet<String> = got["services_xml"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| text(&s["service_code"]))
        .collect();
    assert!(
        codes.len() > 3
            && got["services_json"]
                .as_array()
                .is_some_and(|s| s.len() == codes.len())
    );
    // a public caller may not look requests up by parcel; the auditor's view is unchanged
    let any_parcel = auditor
        .iter()
        .find_map(|a| a["parcel_id"].as_str())
        .expect("a parcel");
    let by_parcel = format!("/open311/v2/requests.json?parcel_id={any_parcel}");
    assert_eq!(server.get(&by_parcel, &[]).status, 403);
    assert_eq!(server.get(&by_parcel, &[("X-API-Key", &k)]).status, 200);
    assert!(auditor.iter().all(|a| a.get("match").is_some()));
    let disc = server.get("/open311/v2/discovery.json", &[]).json();
    assert!(text(&disc["public_requests"]).contains("interior point of the report's parcel"));

    // the privacy scan over every public answer the client read
    let range = format!("start_date={start}&end_date={end}");
    let one = text(&public[0]["service_request_id"]);
    let mut bytes = 0;
    for p in [
        format!("/open311/v2/requests.json?{range}"),
        format!("/open311/v2/requests.xml?{range}"),
        format!("/open311/v2/requests.json?{range}&page=2&page_size=50"),
        format!("/open311/v2/requests/{one}.json"),
        format!("/open311/v2/requests/{one}.xml"),
        "/open311/v2/discovery.xml".to_owned(),
    ] {
        let r = server.get(&p, &[]);
        assert_eq!(r.status, 200, "{p}");
        bytes += r.body.len();
        let body = String::from_utf8_lossy(&r.body);
        for s in &secrets {
            assert!(!body.contains(s.as_str()), "{p} holds {s:?}");
        }
    }
    assert!(bytes > 100_000, "{bytes} bytes scanned");
    drop(server);

    // --public-location h3:8: every point is its cell's centre, as the h3 library computes it
    let server = Server::launch(d, &["--public-requests", "--public-location", "h3:8"]);
    let got = read(&server, "8");
    let mut centred = 0;
    for p in got["requests_json"].as_array().expect("rows") {
        if let Some(lat) = p.get("lat").map(float) {
            let c = &got["h3_centres"][text(&p["service_request_id"])];
            assert!((lat - float(&c[0])).abs() < 1e-6);
            assert!((float(&p["long"]) - float(&c[1])).abs() < 1e-6);
            centred += 1;
        }
    }
    assert!(centred > 100, "{centred} requests");
    let disc = server.get("/open311/v2/discovery.json", &[]).json();
    assert!(text(&disc["public_requests"]).contains("H3 cell at resolution 8"));
    let bad = predio(
        d,
        &["serve", "--public-requests", "--public-location", "h3:16"],
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("0 to 15"));
}
