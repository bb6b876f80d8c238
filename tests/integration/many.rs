//! `predio serve --catalogs DIR`: many municipalities in one process, each at `/m/<slug>/`,
//! with keys scoped to municipalities, a memory budget, catalogs added, removed, given a new
//! version or broken while the others keep serving.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{arg, predio_ok, version_dir};
use crate::tiles::Server;

/// A computed sample town of 2,000 parcels made with `seed` at `data`.
fn municipality(root: &Path, data: &Path, seed: u64) {
    crate::support::imported_town(root, data, seed, 2_000);
    predio_ok(data, &["compute", "--as-of", "2025-12-31"]);
}

/// A key of `role` for the municipalities `catalogs`, in the deployment's key file.
fn key(root: &Path, name: &str, role: &str, catalogs: &[&str]) -> String {
    let mut args = vec!["keys", "add", "--name", name, "--role", role];
    for c in catalogs {
        args.extend(["--catalog", c]);
    }
    let out = predio_ok(root, &args);
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// A z14 tile over the middle of the municipality's bounds.
fn middle_tile(server: &Server, slug: &str) -> String {
    let meta = server.get(&format!("/m/{slug}/meta.json"), &[]).json();
    let b: Vec<f64> = serde_json::from_value(meta["bounds"].clone()).expect("bounds");
    let (lon, lat) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let n = f64::from(1u32 << 14);
    let x = ((lon + 180.0) / 360.0 * n).floor();
    let y = ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n).floor();
    format!("14/{x}/{y}")
}

/// Polls `path` until its JSON satisfies `done` (up to 20 s).
fn wait_json(
    server: &Server,
    path: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = server.get(path, &[]);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{path}: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn one_process_serves_many_municipalities_with_scoped_keys_a_budget_and_broken_catalogs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("municipios");
    municipality(dir.path(), &root.join("alajuela"), 41);
    municipality(dir.path(), &root.join("cartago"), 42);
    let auditor_a = key(&root, "aud-alajuela", "auditor", &["alajuela"]);
    let planner_c = key(&root, "plan-cartago", "planner", &["cartago"]);
    // a role of its own in each: auditor in cartago, planner in alajuela
    let mixed = key(&root, "mixed", "auditor", &["cartago", "alajuela:planner"]);
    let server = Server::launch(&root, &["--catalogs", arg(&root)]);

    // `/` and `/municipalities.json` list them with their bounds.
    let index = String::from_utf8(server.get("/", &[]).body).expect("html");
    assert!(
        index.contains("href=\"m/alajuela/\"") && index.contains("href=\"m/cartago/\""),
        "{index}"
    );
    let list = server.get("/municipalities.json", &[]).json();
    let ms = list["municipalities"].as_array().expect("list");
    assert_eq!(ms.len(), 2);
    assert!(
        ms.iter()
            .all(|m| m["bounds"].as_array().is_some_and(|b| b.len() == 4)),
        "{list}"
    );

    // Each municipality's endpoints under its prefix, addresses included.
    let tj = server.get("/m/alajuela/tiles/sectors.json", &[]).json();
    let tiles = tj["tiles"][0]
        .as_str()
        .unwrap_or_else(|| panic!("no tile URL: {tj}"));
    assert!(
        tiles.contains("/m/alajuela/tiles/sectors/{z}/{x}/{y}"),
        "{tiles}"
    );
    assert_eq!(server.get("/m/alajuela", &[]).status, 308);
    assert_eq!(server.get("/m/alajuela/", &[]).status, 200);
    assert_eq!(server.get("/m/nowhere/meta.json", &[]).status, 404);

    // Scoped keys: each key holds in its municipality; in the other it gets 403.
    let ta = middle_tile(&server, "alajuela");
    let tc = middle_tile(&server, "cartago");
    let requests = "open311/v2/requests.json?start_date=2000-01-01&end_date=2100-01-01";
    for (key, slug, path, want) in [
        (&auditor_a, "alajuela", requests.to_owned(), 200),
        (&auditor_a, "cartago", requests.to_owned(), 403),
        (&auditor_a, "alajuela", "audit/sectors.csv".to_owned(), 200),
        (&auditor_a, "cartago", "audit/sectors.csv".to_owned(), 403),
        (
            &auditor_a,
            "cartago",
            format!("tiles/parcels/{tc}.mvt"),
            403,
        ),
        (
            &planner_c,
            "cartago",
            format!("tiles/parcels/{tc}.mvt"),
            200,
        ),
        (
            &planner_c,
            "alajuela",
            format!("tiles/parcels/{ta}.mvt"),
            403,
        ),
        (&planner_c, "alajuela", requests.to_owned(), 403),
        (
            &planner_c,
            "alajuela",
            format!("tiles/sectors/{ta}.mvt"),
            200,
        ),
        (&mixed, "cartago", requests.to_owned(), 200),
        (&mixed, "alajuela", requests.to_owned(), 403),
        (&mixed, "alajuela", format!("tiles/parcels/{ta}.mvt"), 200),
    ] {
        let r = server.get(&format!("/m/{slug}/{path}"), &[("X-API-Key", key.as_str())]);
        assert_eq!(
            r.status,
            want,
            "{slug}/{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    assert_eq!(
        server.get(&format!("/m/cartago/{requests}"), &[]).status,
        401
    );

    // The viewer under its prefix, with the auditor's key of that municipality: every layer,
    // the search, the panel and the reports behind a sector's numbers.
    let shot = dir.path().join("viewer.png");
    let summary = crate::tiles::run_viewer(
        &server,
        &format!("/m/alajuela/?key={auditor_a}"),
        &shot,
        None,
    );
    for layer in ["sectors", "heat", "parcels"] {
        assert!(
            summary[layer].as_u64().is_some_and(|n| n > 0),
            "{layer}: {summary}"
        );
    }

    // A catalog added while serving is served; a broken one answers 503 and is named in
    // /health while the others keep serving.
    let copy = |from: &str, to: &str| {
        let ok = Command::new("cp")
            .args(["-r", arg(&root.join(from)), arg(&root.join(to))])
            .status()
            .expect("cp");
        assert!(ok.success());
    };
    copy("cartago", "heredia");
    assert_eq!(server.get("/m/heredia/meta.json", &[]).status, 200);
    copy("alajuela", "rota");
    let fgb = version_dir(&root.join("rota")).join("parcels.fgb");
    let len = std::fs::metadata(&fgb).expect("parcels").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&fgb)
        .and_then(|f| f.set_len(len / 2))
        .expect("truncated");
    let r = server.get("/m/rota/meta.json", &[]);
    assert_eq!(r.status, 503);
    let body = r.json();
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("rota")),
        "{body}"
    );
    assert!(
        !body.to_string().contains("parcels.fgb"),
        "a 5xx never shows internals: {body}"
    );
    let health = server.get("/health", &[]).json();
    assert_eq!(health["status"], "degraded", "{health}");
    let rota = health["municipalities"]
        .as_array()
        .expect("list")
        .iter()
        .find(|m| m["slug"] == "rota")
        .cloned()
        .expect("rota listed");
    assert_eq!(rota["status"], "unavailable", "{health}");
    assert_eq!(
        server
            .get(&format!("/m/alajuela/tiles/sectors/{ta}.mvt"), &[])
            .status,
        200
    );

    // A folder removed is unloaded; a new version is picked up.
    std::fs::remove_dir_all(root.join("heredia")).expect("rm");
    std::fs::remove_dir_all(root.join("rota")).expect("rm");
    wait_json(&server, "/health", |h| {
        h["municipalities"].as_array().is_some_and(|l| l.len() == 2) && h["status"] == "ok"
    });
    assert_eq!(server.get("/m/heredia/meta.json", &[]).status, 404);
    // Two replicas over the same folder (shared storage) both switch to a new version.
    let replica = Server::launch(&root, &["--catalogs", arg(&root)]);
    let before = server.get("/m/cartago/meta.json", &[]).json()["version"].clone();
    assert_eq!(
        replica.get("/m/cartago/meta.json", &[]).json()["version"],
        before
    );
    predio_ok(&root.join("cartago"), &["compute", "--as-of", "2025-06-30"]);
    let after = wait_json(&server, "/m/cartago/meta.json", |m| m["version"] != before);
    wait_json(&replica, "/m/cartago/meta.json", |m| {
        m["version"] == after["version"]
    });
    drop(replica);
    drop(server);

    // Under a budget that holds one municipality at a time, each request for the other unloads
    // the least recently used; every answer is still right.
    let server = Server::launch(&root, &["--catalogs", arg(&root), "--memory-mib", "1"]);
    for slug in ["alajuela", "cartago", "alajuela", "cartago"] {
        let r = server.get(&format!("/m/{slug}/meta.json"), &[]);
        assert_eq!(r.status, 200, "{slug}");
    }
    let health = server.get("/health", &[]).json();
    assert_eq!(health["loaded"], 1, "{health}");
    assert_eq!(health["loads"], 4, "{health}");
    assert_eq!(health["evictions"], 3, "{health}");
}
