//! Reports from Open311 (JSON, XML), FixMyStreet exports and GDAL point layers; exports; the
//! private file; a 100 MB CSV with broken lines.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use gdal::vector::LayerAccess;
use predio_engine::{read_reports, Location, Report, Status, StatusType};

use crate::support::{
    arg, gdal_tool, info, predio, predio_ok, sample_town, shared, version_dir, workspace,
};

fn fixture(rel: &str) -> String {
    workspace()
        .join("data-samples")
        .join(rel)
        .to_str()
        .expect("utf-8")
        .to_owned()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("rfc 3339")
        .with_timezone(&Utc)
}

/// A field of a GDAL feature as text (`None` when unset or empty: the gdal crate reads an
/// unset field as "").
fn text(f: &gdal::vector::Feature<'_>, name: &str) -> Option<String> {
    let i = f.field_index(name).expect("field exists");
    f.field_as_string(i)
        .expect("readable")
        .filter(|s| !s.is_empty())
}

fn by_id(reports: Vec<Report>) -> HashMap<String, Report> {
    reports.into_iter().map(|r| (r.id.to_string(), r)).collect()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Fails unless `args` fail with a message containing `needle` and leave the catalog as it was.
fn refused(data: &Path, args: &[&str], needle: &str) {
    let before = fs::read_to_string(data.join("CURRENT")).ok();
    let out = predio(data, args);
    let err = stderr(&out);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in\n{err}"
    );
    assert_eq!(
        fs::read_to_string(data.join("CURRENT")).ok(),
        before,
        "{args:?} committed"
    );
}

#[test]
fn open311_extensions_give_history_duplicates_wards_and_keep_private_apart() {
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    let wards = fixture("fixtures/open311/chicago-wards.geojson");
    let requests = fixture("fixtures/open311/extensions.json");
    predio_ok(d, &["import", "sectors", &wards, "--id-field", "ward"]);
    let args = [
        "import",
        "reports",
        "--format",
        "open311",
        &requests,
        "--keep-private",
    ];
    let out = predio_ok(d, &args);
    let err = stderr(&out);
    // 7 requests: 3 good, and one bad row of each kind, named by request number.
    assert!(
        err.contains("read 7 rows") && err.contains("3 new") && err.contains("4 refused"),
        "{err}"
    );
    let dir = version_dir(d);
    let report = fs::read_to_string(dir.join("import-report.csv")).expect("report");
    for (n, why) in [
        (4, "bad created_at"),
        (5, "swapped"),
        (6, "duplicate id"),
        (7, "unknown status \"\"pending review\"\""),
    ] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with(&format!("reports,{n},")) && l.contains(why)),
            "request {n}: {why}\n{report}"
        );
    }

    let r = by_id(read_reports(&dir).expect("reports"));
    let pothole = &r["24-00000001"];
    // Closed, reopened, closed again: the notes give every time, in UTC.
    assert_eq!(pothole.status, Status::Resolved);
    assert_eq!(pothole.created_at, utc("2024-03-04T09:15:00-06:00"));
    assert_eq!(
        pothole.acknowledged_at,
        Some(utc("2024-03-05T11:00:00-06:00"))
    );
    assert_eq!(pothole.reopened_at, Some(utc("2024-03-10T08:00:00-05:00")));
    assert_eq!(pothole.closed_at, Some(utc("2024-03-12T14:00:00-05:00")));
    let labels: Vec<&str> = pothole.history.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "Request opened",
            "Crew assigned",
            "Pothole patched",
            "Reopened: still there",
            "Pothole patched again"
        ]
    );
    assert_eq!(pothole.source_area.as_deref(), Some("25"));
    assert_eq!(pothole.channel.as_deref(), Some("Mobile Device"));
    assert_eq!(pothole.sector_id.as_ref().map(|s| s.as_str()), Some("25"));
    // The duplicate: closed as such, pointing at its parent, closed-not-fixed.
    let dup = &r["24-00000002"];
    assert_eq!(
        (dup.status, dup.status_type),
        (Status::Duplicate, StatusType::ClosedNotFixed)
    );
    assert_eq!(dup.status_label, "Closed");
    assert_eq!(dup.parent_id.as_deref(), Some("24-00000001"));
    // "OPEN" in capitals is open; its deadline is the expected_datetime.
    let light = &r["24-00000003"];
    assert_eq!(light.status, Status::Open);
    assert_eq!(light.deadline_at, Some(utc("2024-03-20T20:00:00-05:00")));
    assert_eq!(light.sector_id.as_ref().map(|s| s.as_str()), Some("6"));

    // Personal data: only in the private file, owner-only; never in public files or exports.
    let private = dir.join(predio_engine::PRIVATE_FILE);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&private)
            .expect("private file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "private file mode {mode:o}");
    }
    let secret = |p: &Path| {
        let b = fs::read(p).expect("read");
        let t = String::from_utf8_lossy(&b);
        t.contains("vecina@example.org")
    };
    assert!(secret(&private), "the e-mail is kept in the private file");
    for f in [
        "reports.parquet",
        "report_history.parquet",
        "import-report.csv",
        "manifest.json",
    ] {
        assert!(!secret(&dir.join(f)), "{f} holds the e-mail");
    }
    let geojson = d.join("out.geojson");
    predio_ok(
        d,
        &[
            "export",
            "reports",
            "--format",
            "geojson",
            "--out",
            geojson.to_str().expect("utf-8"),
        ],
    );
    assert!(!secret(&geojson));
    assert!(!fs::read_to_string(&geojson)
        .expect("geojson")
        .contains("555-0100"));

    // The same export again: nothing duplicated, nothing said to change; the private file stays.
    let out = predio_ok(d, &args);
    assert!(
        stderr(&out).contains("0 new, 0 updated, 3 unchanged"),
        "{}",
        stderr(&out)
    );
    assert_eq!(info(d)["reports"]["count"], 3);
    assert!(secret(&version_dir(d).join(predio_engine::PRIVATE_FILE)));
}

#[test]
fn open311_fixtures_each_import_or_fail_with_a_precise_message() {
    let Some(dir) = shared("open311-fixtures") else {
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    let path = |f: &str| dir.join(f).to_str().expect("utf-8").to_owned();
    let import = |f: &str, extra: &[&str]| {
        let p = path(f);
        let mut args = vec!["import", "reports", "--format", "open311", p.as_str()];
        args.extend_from_slice(extra);
        predio(d, &args)
    };
    // Not service requests: refused as what they are.
    for (f, why) in [
        ("bloomington_services_2012.json", "service list"),
        ("services_example_spec.json", "service list"),
        ("giessen_services.xml", "service list"),
        ("san_francisco_services_2012.xml", "service list"),
        (
            "open311status_endpoints_2018.json",
            "without a service_requests array",
        ),
        (
            "open311status_cities_endpoints.yml",
            "not GeoReport v2 JSON or XML",
        ),
    ] {
        let out = import(f, &[]);
        assert!(!out.status.success(), "{f} imported");
        let err = stderr(&out);
        assert!(err.contains(f) && err.contains(why), "{f}: {err}");
    }
    // San Francisco writes local times without an offset: refused until the zone is given.
    let out = import("san_francisco_requests_2012.xml", &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--timezone"), "{}", stderr(&out));
    assert!(!d.join("CURRENT").exists(), "a failed import committed");

    // Requests: counted independently from the files.
    let xml = fs::read_to_string(dir.join("san_francisco_requests_2012.xml")).expect("xml");
    let sf_requests = xml.matches("<request>").count();
    let sf_zero = xml.matches("<lat>0.0</lat>").count();
    for (f, extra, n) in [
        ("chicago_requests_2014.json", &[][..], 2),
        ("bloomington_requests_2012.json", &[][..], 21),
        ("toronto_requests_many_2018.xml", &[][..], 2),
        ("toronto_request_single_2018.xml", &[][..], 1),
        (
            "san_francisco_requests_2012.xml",
            &["--timezone", "America/Los_Angeles"][..],
            sf_requests,
        ),
    ] {
        let out = import(f, extra);
        let err = stderr(&out);
        assert!(out.status.success(), "{f}: {err}");
        assert!(
            err.contains(&format!("read {n} rows")) && err.contains(" 0 refused"),
            "{f}: {err}"
        );
    }
    let reports = by_id(read_reports(&version_dir(d)).expect("reports"));
    // Toronto's single request is one of the two "many": upserted, not duplicated.
    assert_eq!(reports.len(), 2 + 21 + 2 + sf_requests);
    // SF: "Open" in capitals is open; 0.0, 0.0 is no location, flagged, never placed.
    let sf: Vec<&Report> = reports
        .values()
        .filter(|r| r.source_tz == "America/Los_Angeles")
        .collect();
    assert_eq!(sf.len(), sf_requests);
    // Mixed casing: "Open" and "Closed", counted from the file.
    let sf_closed = xml.matches("<status>Closed</status>").count();
    assert!(sf_closed > 0);
    assert_eq!(
        sf.iter()
            .filter(|r| r.status == Status::Resolved && r.status_label == "Closed")
            .count(),
        sf_closed
    );
    assert_eq!(
        sf.iter()
            .filter(|r| r.status == Status::Open && r.status_label == "Open")
            .count(),
        sf_requests - sf_closed
    );
    assert_eq!(
        sf.iter()
            .filter(|r| r.location == Location::Missing)
            .count(),
        sf_zero
    );
    // Local time in May: Pacific daylight time, UTC-7.
    let text = xml
        .split("<service_request_id>1129792</service_request_id>")
        .nth(1)
        .and_then(|s| s.split("<requested_datetime>").nth(1))
        .and_then(|s| s.split('<').next())
        .expect("request 1129792 in the file");
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").expect("sf time");
    assert_eq!(
        reports["1129792"].created_at,
        (local + Duration::hours(7)).and_utc()
    );
    // Chicago's W3C times with offsets.
    assert_eq!(
        reports["14-01100669"].created_at,
        utc("2014-07-12T10:58:43-05:00")
    );
    // Toronto's expected_datetime is the deadline.
    assert_eq!(
        reports["101005420892"].deadline_at,
        Some(utc("2018-08-03T00:01:00-04:00"))
    );
}

#[test]
fn fixmystreet_export_and_its_updates_give_statuses_history_and_reopenings() {
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    let (reports, updates) = (
        fixture("fixtures/fixmystreet/reports.csv"),
        fixture("fixtures/fixmystreet/updates.csv"),
    );
    let args = [
        "import",
        "reports",
        "--format",
        "fixmystreet",
        &reports,
        "--updates",
        &updates,
    ];
    // Its times have no offset: the zone must be given.
    refused(d, &args, "--timezone");
    let mut with_tz = args.to_vec();
    with_tz.extend(["--timezone", "America/Montevideo"]);
    let out = predio_ok(d, &with_tz);
    let err = stderr(&out);
    assert!(
        err.contains("read 9 rows") && err.contains("7 new") && err.contains("2 refused"),
        "{err}"
    );
    let dir = version_dir(d);
    let report = fs::read_to_string(dir.join("import-report.csv")).expect("report");
    for needle in [
        "reports,9,108,skipped,\"bad created_at",
        "reports,10,109,skipped,\"unknown status",
        "reports,0,999,flagged,updates for a report not in the reports export",
        "reports,8,107,flagged,unlocated",
    ] {
        assert!(report.contains(needle), "{needle}\n{report}");
    }
    let r = by_id(read_reports(&dir).expect("reports"));
    let kind = |id: &str| (r[id].status, r[id].status_type);
    assert_eq!(kind("101"), (Status::Resolved, StatusType::ClosedFixed));
    assert_eq!(kind("102"), (Status::InProgress, StatusType::Open));
    // "Unable to fix": closed, but not fixed.
    assert_eq!(kind("103"), (Status::Resolved, StatusType::ClosedNotFixed));
    assert_eq!(kind("105"), (Status::Rejected, StatusType::ClosedNotFixed));
    assert_eq!(kind("106"), (Status::Duplicate, StatusType::ClosedNotFixed));
    // Montevideo is UTC-3 in March 2024.
    let mvd = |s: &str| utc(&format!("{s}-03:00"));
    assert_eq!(r["101"].created_at, mvd("2024-03-04T09:15:00"));
    assert_eq!(r["101"].acknowledged_at, Some(mvd("2024-03-05T10:00:00")));
    assert_eq!(r["101"].closed_at, Some(mvd("2024-03-08T16:30:00")));
    // 104: fixed, then the citizen reopened it; the comment-only update of 102 changes nothing.
    assert_eq!(kind("104"), (Status::Open, StatusType::Open));
    assert_eq!(r["104"].reopened_at, Some(mvd("2024-03-11T08:00:00")));
    assert_eq!(r["104"].closed_at, None);
    let states: Vec<Status> = r["104"].history.iter().map(|c| c.status).collect();
    assert_eq!(
        states,
        [
            Status::Open,
            Status::InProgress,
            Status::Resolved,
            Status::Open
        ]
    );
    assert_eq!(r["102"].history.len(), 2);
    assert_eq!(r["101"].source_area.as_deref(), Some("Municipio B"));
    assert_eq!(r["107"].location, Location::Missing);
    // Names and free text are dropped without --keep-private.
    for f in fs::read_dir(&dir).expect("dir") {
        let b = fs::read(f.expect("entry").path()).expect("read");
        assert!(!String::from_utf8_lossy(&b).contains("Ana Pérez"));
    }
}

#[test]
fn bad_inputs_of_each_format_fail_clearly_and_change_nothing() {
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    let wards = fixture("fixtures/open311/chicago-wards.geojson");
    predio_ok(d, &["import", "sectors", &wards, "--id-field", "ward"]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        fs::write(&p, text).expect("write");
        p.to_str().expect("utf-8").to_owned()
    };
    let o311 = |p: &str| {
        vec!["import", "reports", "--format", "open311", p]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let run = |args: Vec<String>, needle: &str| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(d, &a, needle);
    };
    run(o311(&write("empty.json", "")), "empty");
    run(o311(&write("empty-array.json", "[]")), "empty");
    run(o311(&write("truncated.xml", "<?xml version=\"1.0\"?><service_requests><request><service_request_id>1</service_request_id>")), "truncated");
    run(
        o311(&write("broken.json", "[{\"service_request_id\": \"1\",")),
        "invalid JSON",
    );
    let one = |fields: &str| {
        format!("[{{\"service_request_id\": \"1\", \"status\": \"open\", {fields}}}]")
    };
    run(
        o311(&write(
            "bad-time.json",
            &one("\"requested_datetime\": \"yesterday\", \"lat\": 41.85, \"long\": -87.66"),
        )),
        "bad created_at",
    );
    run(o311(&write("range.json", &one("\"requested_datetime\": \"2024-01-01T00:00:00Z\", \"lat\": 141.85, \"long\": -87.66"))), "out of range");
    run(o311(&write("swapped.json", &one("\"requested_datetime\": \"2024-01-01T00:00:00Z\", \"lat\": -87.66, \"long\": 41.85"))), "swapped");

    let fms = |p: &str| {
        [
            "import",
            "reports",
            "--format",
            "fixmystreet",
            p,
            "--timezone",
            "UTC",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>()
    };
    run(fms(&write("fms-empty.csv", "")), "empty");
    run(
        fms(&write(
            "fms-wrong.csv",
            "Report ID,Title,Created,Latitude,Longitude\n1,x,2024-01-01T00:00:00,41.85,-87.66\n",
        )),
        "no field \"Status\"",
    );
    run(
        fms(&write(
            "fms-bad.csv",
            "Report ID,Created,Status,Latitude,Longitude\n1,yesterday,confirmed,41.85,-87.66\n",
        )),
        "bad created_at",
    );
    // A repeated id within the file: the first stays, the repeat is refused by line.
    let dup = fms(&write("fms-dup.csv", "Report ID,Created,Status,Latitude,Longitude\n1,2024-01-01T00:00:00,confirmed,41.85,-87.66\n1,2024-01-02T00:00:00,fixed,41.85,-87.66\n"));
    let out = predio_ok(d, &dup.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        stderr(&out).contains("line 3 (1): duplicate id within the file (first at line 2)"),
        "{}",
        stderr(&out)
    );

    // A vector source of polygons, or a mapping naming an attribute the layer lacks.
    let mapping = write(
        "m.toml",
        "[source]\ntimezone = \"UTC\"\ndatetime_formats = [\"%Y-%m-%d\"]\n[columns]\nid = \"ward\"\ncreated_at = \"opened\"\n[defaults]\nstatus = \"open\"\n[status]\n\"open\" = \"open\"\n",
    );
    let vector = |p: &str, m: &str| {
        ["import", "reports", "--format", "vector", p, "--mapping", m]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    run(vector(&wards, &mapping), "must be points");
    let points = write(
        "points.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"ward":"1","when":"2024-01-01"},"geometry":{"type":"Point","coordinates":[-87.66,41.85]}}]}"#,
    );
    run(vector(&points, &mapping), "no field \"opened\"");
    let bad_mapping = write(
        "bad.toml",
        "[source]\ntimezone = \"Mars/Olympus\"\ndatetime_formats = []\n[columns]\n[status]\n",
    );
    run(vector(&points, &bad_mapping), "Mars/Olympus");
    // --format csv and vector need a mapping.
    refused(
        d,
        &["import", "reports", "--format", "vector", &points],
        "--mapping",
    );
}

#[test]
fn montevideo_reclamos_through_gdal_land_in_the_municipio_geos_finds() {
    let (Some(reclamos), Some(municipios)) = (
        shared("montevideo-reclamos/reclamos_sur_wfs_sample_epsg32721.geojson"),
        shared("montevideo-reclamos/municipios_epsg32721.geojson"),
    ) else {
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    let (rp, mp) = (
        reclamos.to_str().expect("utf-8"),
        municipios.to_str().expect("utf-8"),
    );
    predio_ok(d, &["import", "sectors", mp, "--id-field", "municipio"]);
    let mapping = fixture("mappings/montevideo-reclamos.toml");
    let out = predio_ok(
        d,
        &[
            "import",
            "reports",
            "--format",
            "vector",
            rp,
            "--mapping",
            &mapping,
        ],
    );
    assert!(
        stderr(&out).contains("read 1,000 rows") && stderr(&out).contains("1,000 new"),
        "{}",
        stderr(&out)
    );
    let meta = info(d);
    assert_eq!(meta["layers"]["sectors"]["count"], 8);
    assert_eq!(meta["reports"]["matches"]["in_sector"], 1000);
    let reports = by_id(read_reports(&version_dir(d)).expect("reports"));
    assert_eq!(reports.len(), 1000);

    // The peer: GEOS point-in-polygon in the source CRS (EPSG:32721), no reprojection.
    let zones = gdal::Dataset::open(&municipios).expect("municipios");
    let mut zl = zones.layer(0).expect("layer");
    let polys: Vec<(String, gdal::vector::Geometry)> = zl
        .features()
        .map(|f| {
            let name = text(&f, "municipio").expect("name");
            (name, f.geometry().expect("geometry").clone())
        })
        .collect();
    let ds = gdal::Dataset::open(&reclamos).expect("reclamos");
    let mut layer = ds.layer(0).expect("layer");
    let mut checked = 0;
    // Local midnight of each day in Montevideo, by the system's tz database through GNU date
    // (another reader of the zone rules than predio's chrono-tz).
    let days: Vec<String> = layer
        .features()
        .filter_map(|f| text(&f, "FECHA_INGRESO_RECLAMO"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let iso: Vec<String> = days
        .iter()
        .map(|t| {
            NaiveDate::parse_from_str(t, "%d/%m/%Y")
                .expect("date")
                .format("%Y-%m-%d 00:00")
                .to_string()
        })
        .collect();
    let list = data.path().join("days.txt");
    std::fs::write(&list, iso.join("\n") + "\n").expect("write days");
    let out = std::process::Command::new("date")
        .env("TZ", "America/Montevideo")
        .args(["-f", list.to_str().expect("utf-8"), "+%s"])
        .output()
        .expect("date runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let midnight: HashMap<String, i64> = days
        .into_iter()
        .zip(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| l.trim().parse::<i64>().expect("epoch seconds")),
        )
        .collect();
    for f in layer.features() {
        let id = text(&f, "NUMERO_RECLAMO").expect("id");
        let g = f.geometry().expect("point");
        let inside: Vec<&str> = polys
            .iter()
            .filter(|(_, p)| p.contains(g))
            .map(|(n, _)| n.as_str())
            .collect();
        let r = &reports[&id];
        match inside.as_slice() {
            [one] => assert_eq!(
                r.sector_id.as_ref().map(|s| s.as_str()),
                Some(*one),
                "reclamo {id}"
            ),
            [] => assert_eq!(r.sector_id, None, "reclamo {id}"),
            _ => continue,
        }
        // dd/mm/yyyy in Montevideo: local midnight, at the offset of that day.
        let text = text(&f, "FECHA_INGRESO_RECLAMO").expect("date");
        assert_eq!(
            r.created_at.timestamp(),
            midnight[&text],
            "reclamo {id}: {text} -> {}",
            r.created_at
        );
        checked += 1;
    }
    assert!(checked >= 990, "only {checked} checked");
    assert!(reports
        .values()
        .all(|r| r.status == Status::InProgress && r.status_label == "En Proceso"));
}

#[test]
fn parana_points_without_prj_need_srs_then_all_import_where_gdal_reads_them() {
    let Some(places) = shared("parana-parcel-points/places.shp") else {
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    let p = places.to_str().expect("utf-8");
    let mapping = fixture("mappings/parana-places.toml");
    let args = [
        "import",
        "reports",
        "--format",
        "vector",
        p,
        "--mapping",
        &mapping,
    ];
    refused(d, &args, "no coordinate reference system");
    let mut with_srs = args.to_vec();
    with_srs.extend(["--srs", "EPSG:4326"]);
    predio_ok(d, &with_srs);
    let reports = by_id(read_reports(&version_dir(d)).expect("reports"));
    let declared: usize = gdal_tool("ogrinfo", &["-so", "-al", p])
        .lines()
        .find_map(|l| l.strip_prefix("Feature Count: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("feature count");
    assert_eq!(reports.len(), declared);
    let ds = gdal::Dataset::open(&places).expect("places");
    let mut layer = ds.layer(0).expect("layer");
    for (i, f) in layer.features().enumerate() {
        let (x, y, _) = f.geometry().expect("point").get_point(0);
        let r = &reports[&(i + 1).to_string()];
        assert!(
            (r.lon.expect("lon") - x).abs() < 1e-9 && (r.lat.expect("lat") - y).abs() < 1e-9,
            "feature {}",
            i + 1
        );
        let kind = text(&f, "type");
        assert_eq!(r.category, kind.filter(|s| !s.trim().is_empty()));
        assert!(r.h3.is_some());
    }
}

#[test]
fn exports_hold_every_report_and_gdal_reads_them() {
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    let town = sample_town();
    for (what, file, id) in [
        ("sectors", "sectors.shp", "codigo"),
        ("parcels", "parcels.shp", "finca"),
    ] {
        let p = town.join(file);
        predio_ok(
            d,
            &["import", what, p.to_str().expect("utf-8"), "--id-field", id],
        );
    }
    let (csv, mapping) = (town.join("reports.csv"), town.join("reports-mapping.toml"));
    predio_ok(
        d,
        &[
            "import",
            "reports",
            csv.to_str().expect("utf-8"),
            "--mapping",
            mapping.to_str().expect("utf-8"),
        ],
    );
    let reports = read_reports(&version_dir(d)).expect("reports");
    let located = reports.iter().filter(|r| r.lon.is_some()).count();
    let out = tempfile::tempdir().expect("tempdir");
    let export = |format: &str, name: &str| {
        let p = out.path().join(name);
        predio_ok(
            d,
            &[
                "export",
                "reports",
                "--format",
                format,
                "--out",
                p.to_str().expect("utf-8"),
            ],
        );
        p
    };
    let count = |p: &Path| -> usize {
        gdal_tool("ogrinfo", &["-so", "-al", p.to_str().expect("utf-8")])
            .lines()
            .find_map(|l| l.strip_prefix("Feature Count: "))
            .and_then(|n| n.trim().parse().ok())
            .expect("feature count")
    };
    assert_eq!(count(&export("geojson", "r.geojson")), reports.len());
    let fgb = export("fgb", "r.fgb");
    assert_eq!(count(&fgb), located);
    // The FlatGeobuf's points and parcels are the catalog's.
    let ds = gdal::Dataset::open(&fgb).expect("fgb");
    let mut layer = ds.layer(0).expect("layer");
    let by = by_id(reports.clone());
    for f in layer.features() {
        let id = text(&f, "id").expect("id");
        let r = &by[&id];
        let (x, y, _) = f.geometry().expect("point").get_point(0);
        assert!((r.lon.expect("lon") - x).abs() < 1e-12 && (r.lat.expect("lat") - y).abs() < 1e-12);
        assert_eq!(
            text(&f, "parcel_id"),
            r.parcel_id.as_ref().map(|p| p.as_str().to_owned())
        );
        assert_eq!(text(&f, "match").as_deref(), Some(r.match_kind.as_str()));
    }
    let csv_out = export("csv", "r.csv");
    let mut rdr = csv::Reader::from_path(&csv_out).expect("csv");
    let headers = rdr.headers().expect("header").clone();
    let col = |n: &str| headers.iter().position(|h| h == n).expect("column");
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), reports.len());
    for row in &rows {
        let r = &by[&row[col("id")]];
        assert_eq!(
            &row[col("sector_id")],
            r.sector_id.as_ref().map_or("", |s| s.as_str())
        );
        assert_eq!(
            row[col("h3")].to_owned(),
            r.h3.map(|c| c.to_string()).unwrap_or_default()
        );
        assert_eq!(utc(&row[col("created_at")]), r.created_at);
    }
    let parquet = export("parquet", "r.parquet");
    let df = {
        use polars::prelude::SerReader;
        polars::prelude::ParquetReader::new(fs::File::open(&parquet).expect("parquet"))
            .finish()
            .expect("reads")
    };
    assert_eq!(df.height(), reports.len());
    assert!(df.column("h3").is_ok() && df.column("match").is_ok());
    // No temporary file is left beside the exports.
    let names: Vec<String> = fs::read_dir(out.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn a_100_mb_csv_with_two_broken_lines_in_the_middle_imports_the_rest() {
    let town = sample_town();
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    let p = town.join("parcels.shp");
    predio_ok(
        d,
        &[
            "import",
            "parcels",
            p.to_str().expect("utf-8"),
            "--id-field",
            "finca",
        ],
    );
    let text = fs::read_to_string(town.join("reports.csv")).expect("csv");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let rows: Vec<&str> = lines.collect();
    let big = tempfile::NamedTempFile::new().expect("tmp");
    let mut w = std::io::BufWriter::new(fs::File::create(big.path()).expect("create"));
    writeln!(w, "{header}").expect("write");
    let (mut bytes, mut written, mut line) = (0usize, 0usize, 1u64);
    let target = 100 * 1024 * 1024;
    let mut broken = Vec::new();
    while bytes < target {
        for row in &rows {
            line += 1;
            if broken.is_empty() && bytes >= target / 2 {
                // Invalid UTF-8 in the middle of a row, then a row cut short.
                w.write_all(b"X-1,2025-01-01 10:00,,,Abierto,\xff\xfe broken\n")
                    .expect("write");
                broken.push(line);
                line += 1;
                w.write_all(b"X-2,2025-01-01 10\n").expect("write");
                broken.push(line);
                line += 1;
                bytes += 64;
            }
            let (id, rest) = row.split_once(',').expect("id column");
            let out = format!("{id}-{written},{rest}\n");
            bytes += out.len();
            w.write_all(out.as_bytes()).expect("write");
            written += 1;
        }
    }
    w.flush().expect("flush");
    drop(w);
    assert!(fs::metadata(big.path()).expect("meta").len() >= target as u64);
    let mapping = town.join("reports-mapping.toml");
    let out = predio_ok(
        d,
        &[
            "import",
            "reports",
            big.path().to_str().expect("utf-8"),
            "--mapping",
            mapping.to_str().expect("utf-8"),
        ],
    );
    let err = stderr(&out);
    assert!(err.contains("2 refused"), "{err}");
    let meta = info(d);
    assert_eq!(
        meta["reports"]["count"].as_u64(),
        Some(written as u64),
        "{err}"
    );
    let report = fs::read_to_string(version_dir(d).join("import-report.csv")).expect("report");
    let skipped: Vec<&str> = report.lines().filter(|l| l.contains(",skipped,")).collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(
        skipped[0].starts_with(&format!("reports,{},", broken[0]))
            && skipped[0].to_lowercase().contains("utf-8"),
        "{skipped:?}"
    );
    assert!(
        skipped[1].starts_with(&format!("reports,{},", broken[1])) && skipped[1].contains("X-2"),
        "{skipped:?}"
    );
}

/// `predio mapping draft` on Boston 311 (CSV.gz), Montevideo (GeoJSON) and Paraná (a shapefile
/// without .prj): every column the draft and the shipped mapping both name is the same column,
/// every column the shipped mapping keeps private is proposed private, and every status label
/// both list gets the same normalisation. Montevideo's draft, given its time zone, imports as
/// many reclamos as the shipped mapping. An empty file, a binary file and an unknown time zone
/// are refused, naming the file or the zone.
#[test]
fn mapping_drafts_choose_the_shipped_mappings_columns() {
    let cases = [
        ("boston-311/boston_311_2015.csv.gz", "boston-311.toml"),
        (
            "montevideo-reclamos/reclamos_sur_wfs_sample_epsg32721.geojson",
            "montevideo-reclamos.toml",
        ),
        ("parana-parcel-points/places.shp", "parana-places.toml"),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (data, shipped) in cases {
        let Some(file) = shared(data) else {
            return;
        };
        let shipped_path = fixture(&format!("mappings/{shipped}"));
        let draft = draft_agrees(dir.path(), &file, Path::new(&shipped_path));
        if shipped == "boston-311.toml" {
            assert_eq!(draft["columns"]["area"].as_str(), Some("neighborhood"));
        }
    }
    // the sample town's counter reports: their address and finca columns
    let town = crate::support::sample_town();
    let draft = draft_agrees(
        dir.path(),
        &town.join("reports.csv"),
        &town.join("reports-mapping.toml"),
    );
    assert_eq!(draft["columns"]["address"].as_str(), Some("direccion"));
    assert_eq!(draft["columns"]["parcel_ref"].as_str(), Some("finca"));

    // Montevideo's draft, completed with its time zone, imports every reclamo.
    let reclamos = shared("montevideo-reclamos/reclamos_sur_wfs_sample_epsg32721.geojson")
        .expect("checked above");
    let draft = dir.path().join("mvd.toml");
    predio_ok(
        dir.path(),
        &[
            "mapping",
            "draft",
            arg(&reclamos),
            "--timezone",
            "America/Montevideo",
            "--out",
            arg(&draft),
        ],
    );
    let count = |mapping: &Path| -> usize {
        let d = tempfile::tempdir().expect("tempdir");
        predio_ok(
            d.path(),
            &[
                "import",
                "reports",
                "--format",
                "vector",
                arg(&reclamos),
                "--mapping",
                arg(mapping),
            ],
        );
        read_reports(&version_dir(d.path())).expect("reports").len()
    };
    let with_draft = count(&draft);
    assert!(with_draft > 900, "{with_draft}");
    assert_eq!(
        with_draft,
        count(Path::new(&fixture("mappings/montevideo-reclamos.toml")))
    );

    // Refusals.
    let empty = dir.path().join("empty.csv");
    fs::write(&empty, "").expect("write");
    let binary = dir.path().join("export.csv");
    fs::write(&binary, [0u8, 159, 146, 150, 0, 1, 2, 3].repeat(64)).expect("write");
    for (file, says) in [(&empty, "empty"), (&binary, "binary")] {
        let out = predio(dir.path(), &["mapping", "draft", arg(file)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(arg(file)) && err.contains(says),
            "{err}"
        );
    }
    let out = predio(
        dir.path(),
        &[
            "mapping",
            "draft",
            arg(&reclamos),
            "--timezone",
            "America/Atlantis",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("America/Atlantis"),
        "{err}"
    );
}

/// Drafts `file`'s mapping and checks it against the `shipped` one: every column both name is
/// the same, every private column of the shipped one proposed private, every status label
/// both list normalised alike. Returns the draft.
fn draft_agrees(dir: &Path, file: &Path, shipped: &Path) -> toml::Value {
    let data = file.display();
    let out = dir.join("draft.toml");
    predio_ok(dir, &["mapping", "draft", arg(file), "--out", arg(&out)]);
    let draft: toml::Value =
        toml::from_str(&fs::read_to_string(&out).expect("draft")).expect("the draft is TOML");
    let shipped: toml::Value =
        toml::from_str(&fs::read_to_string(shipped).expect("shipped")).expect("shipped TOML");
    let mut compared = 0;
    for (role, column) in shipped["columns"].as_table().expect("[columns]") {
        if let Some(mine) = draft["columns"].get(role) {
            assert_eq!(mine, column, "{data}: [columns] {role}");
            compared += 1;
        }
    }
    assert!(compared >= 1, "{data}: no column in common");
    let private = |m: &toml::Value| -> Vec<String> {
        m.get("private")
            .and_then(|p| p.get("columns"))
            .and_then(|c| c.as_array())
            .map(|c| {
                c.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mine = private(&draft);
    for column in private(&shipped) {
        assert!(
            mine.contains(&column),
            "{data}: {column} not proposed private: {mine:?}"
        );
    }
    if let (Some(a), Some(b)) = (shipped.get("status"), draft.get("status")) {
        for (label, status) in a.as_table().expect("[status]") {
            if let Some(mine) = b.get(label) {
                assert_eq!(mine, status, "{data}: [status] {label}");
            }
        }
    }
    eprintln!("{data}: {compared} columns as shipped");
    draft
}
