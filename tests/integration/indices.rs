//! `predio compute`: indices checked against a second engine (pandas + numpy's business-day
//! calendar), against Boston's own on-time verdicts, and exported to files GDAL and polars read.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use geozero::ToGeo;

use crate::support::{
    csv_rows, info, predio, predio_ok, python, python_json, shared, town, workspace,
};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn rules() -> (PathBuf, PathBuf) {
    let dir = workspace().join("data-samples/rules");
    (
        dir.join("costa-rica.toml"),
        dir.join("feriados-cr-2025.csv"),
    )
}

/// `predio compute` with the Costa Rican deadline rules and 2025 holidays, and `extra`.
fn compute_with_rules(d: &Path, extra: &[&str]) {
    let (deadlines, holidays) = rules();
    let mut args = vec![
        "compute",
        "--deadlines",
        s(&deadlines),
        "--holidays",
        s(&holidays),
    ];
    args.extend_from_slice(extra);
    predio_ok(d, &args);
}

/// The holiday dates of a holidays CSV (the date first), as the second engines get them.
fn holiday_dates(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .expect("holidays")
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next().map(str::to_owned))
        .filter(|l| !l.is_empty())
        .collect()
}

/// `predio export indices --level LEVEL --format FORMAT --out OUT extra...`.
fn export_indices(d: &Path, level: &str, format: &str, out: &str, extra: &[&str]) {
    let mut args = vec![
        "export", "indices", "--level", level, "--format", format, "--out", out,
    ];
    args.extend_from_slice(extra);
    predio_ok(d, &args);
}

/// The catalog computed with the Costa Rican rules as of 2025-12-31 for `windows`, and its
/// reports exported as CSV for a second engine: the folder and the file.
fn computed_and_exported(d: &Path, windows: &str) -> (tempfile::TempDir, PathBuf) {
    compute_with_rules(d, &["--as-of", "2025-12-31", "--windows", windows]);
    let out = tempfile::tempdir().expect("tempdir");
    let reports = out.path().join("reports.csv");
    predio_ok(
        d,
        &["export", "reports", "--format", "csv", "--out", s(&reports)],
    );
    (out, reports)
}

#[test]
fn sector_indices_equal_an_independent_pandas_computation() {
    let python = python();
    let data = town();
    let d = data.path();
    let (deadlines, holidays) = rules();
    let (out, reports) = computed_and_exported(d, "90d,all");

    // The second engine gets the rules as plain data, read here from the same files.
    let holiday_list = holiday_dates(&holidays);
    let toml_text = fs::read_to_string(&deadlines).expect("rules");
    let mut categories = serde_json::Map::new();
    let mut current: Option<String> = None;
    for line in toml_text.lines() {
        if let Some(rest) = line.strip_prefix("[deadlines.categories.\"") {
            current = rest.strip_suffix("\"]").map(str::to_owned);
        } else if let (Some(c), Some(v)) = (&current, line.strip_prefix("days = ")) {
            categories.insert(c.clone(), v.trim().parse::<u32>().expect("days").into());
            current = None;
        }
    }
    assert_eq!(
        categories.len(),
        3,
        "three category rules in {}",
        deadlines.display()
    );
    let rules_json = out.path().join("rules.json");
    fs::write(
        &rules_json,
        serde_json::json!({
            "default_days": 10,
            "categories": categories,
            "holidays": holiday_list,
            "windows": {"90d": 90, "all": null},
        })
        .to_string(),
    )
    .expect("write rules");
    let script = workspace().join("tests/integration/indices_check.py");
    let expected = python_json(
        &python,
        &[
            s(&script),
            s(&reports),
            // `--as-of 2025-12-31`: the end of that day in the catalog's time zone
            info(d)["indices"]["as_of"].as_str().expect("as_of"),
            s(&rules_json),
        ],
    );

    for window in ["90d", "all"] {
        let table = out.path().join(format!("sectors-{window}.csv"));
        export_indices(d, "sector", "csv", s(&table), &["--window", window]);
        let rows = csv_rows(&table);
        let theirs = expected[window].as_object().expect("window");
        let with_reports = rows.iter().filter(|r| r["received"] != "0").count();
        assert_eq!(with_reports, theirs.len(), "{window}: sectors with reports");
        let mut compared = 0;
        for r in &rows {
            let key = if r["sector_id"].is_empty() {
                "<none>"
            } else {
                &r["sector_id"]
            };
            let Some(e) = theirs.get(key) else {
                assert_eq!(
                    r["received"], "0",
                    "{window} {key}: predio has reports pandas has not"
                );
                continue;
            };
            for k in ["received", "open", "answered", "answered_on_time"] {
                assert_eq!(r[k], e[k].to_string(), "{window} sector {key}: {k}");
            }
            let mine: f64 = r["resolution_median_h"].parse().expect("median");
            let theirs = e["resolution_median_h"].as_f64().expect("median");
            assert!(
                (mine - theirs).abs() * 3600.0 < 1.0,
                "{window} sector {key}: median {mine} h vs {theirs} h"
            );
            compared += 1;
        }
        assert!(compared >= 4, "{window}: only {compared} sectors compared");
    }
}

#[test]
fn boston_on_time_equals_the_city_verdict_for_every_closed_case_with_a_target() {
    let (Some(gz), Some(hoods)) = (
        shared("boston-311/boston_311_2015.csv.gz"),
        shared("boston-311/neighborhoods.geojson"),
    ) else {
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    predio_ok(d, &["import", "sectors", s(&hoods)]);
    let mapping = workspace().join("data-samples/mappings/boston-311.toml");
    predio_ok(d, &["import", "reports", s(&gz), "--mapping", s(&mapping)]);
    // Deadlines from the source only (TARGET_DT): no default deadline for the others.
    let rules = d.join("rules.toml");
    fs::write(&rules, "[deadlines]\ndefault_days = 0\n").expect("rules");
    predio_ok(
        d,
        &[
            "compute",
            "--windows",
            "all",
            "--as-of",
            "2016-01-18",
            "--deadlines",
            s(&rules),
        ],
    );
    let out = tempfile::tempdir().expect("tempdir");
    let per_report = out.path().join("reports.csv");
    export_indices(d, "report", "csv", s(&per_report), &[]);
    let mine: HashMap<String, HashMap<String, String>> = csv_rows(&per_report)
        .into_iter()
        .map(|r| (r["id"].clone(), r))
        .collect();
    assert_eq!(mine.len(), 121_145);

    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(fs::File::open(&gz).expect("open"))
        .read_to_string(&mut text)
        .expect("gunzip");
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let h = rdr.headers().expect("header").clone();
    let col = |n: &str| h.iter().position(|c| c == n).expect(n);
    let (id, status, target, verdict) = (
        col("CASE_ENQUIRY_ID"),
        col("CASE_STATUS"),
        col("TARGET_DT"),
        col("OnTime_Status"),
    );
    // Per neighbourhood (predio's assignment): (cases with a verdict, ONTIME by the city),
    // and the closed cases with a target the city gave no verdict.
    let mut city: HashMap<String, (u32, u32)> = HashMap::new();
    let mut unverdicted: HashMap<String, (u32, u32)> = HashMap::new();
    let (mut compared, mut differ) = (0, Vec::new());
    for r in rdr.records() {
        let r = r.expect("row");
        if &r[status] != "Closed" || r[target].is_empty() {
            continue;
        }
        let m = &mine[&r[id]];
        assert_eq!(m["deadline_from"], "source", "{}", &r[id]);
        let predio_on_time = match m["on_time"].as_str() {
            "true" => true,
            "false" => false,
            other => panic!(
                "{}: closed with a target but no verdict ({other:?})",
                &r[id]
            ),
        };
        let sector = m["sector_id"].clone();
        if r[verdict].is_empty() {
            let e = unverdicted.entry(sector).or_default();
            e.0 += 1;
            e.1 += u32::from(predio_on_time);
            continue;
        }
        let on_time = &r[verdict] == "ONTIME";
        compared += 1;
        if predio_on_time != on_time {
            differ.push(r[id].to_owned());
        }
        let e = city.entry(sector).or_default();
        e.0 += 1;
        e.1 += u32::from(on_time);
    }
    assert_eq!(compared, 79_126, "closed cases with a target and a verdict");
    assert!(
        differ.is_empty(),
        "{} verdicts differ: {:?}",
        differ.len(),
        &differ[..differ.len().min(10)]
    );

    // Per neighbourhood, predio's compliance is the city's verdicts plus the 82 closed cases
    // with a target the city left without a verdict (predio judges those by their target).
    let sectors = out.path().join("sectors.csv");
    export_indices(d, "sector", "csv", s(&sectors), &["--window", "all"]);
    let rows = csv_rows(&sectors);
    assert_eq!(
        rows.len(),
        27,
        "26 neighbourhoods and the row of reports without one"
    );
    let unverdicted_total: u32 = unverdicted.values().map(|v| v.0).sum();
    assert_eq!(unverdicted_total, 82);
    for r in &rows {
        let key = r["sector_id"].clone();
        let (n, ok) = city.get(&key).copied().unwrap_or_default();
        let (un, uok) = unverdicted.get(&key).copied().unwrap_or_default();
        assert_eq!(
            r["answered"],
            (n + un).to_string(),
            "sector {key:?} answered"
        );
        assert_eq!(
            r["answered_on_time"],
            (ok + uok).to_string(),
            "sector {key:?} on time"
        );
        if un == 0 && n > 0 {
            let compliance: f64 = r["compliance"].parse().expect("compliance");
            assert!(
                (compliance - f64::from(ok) / f64::from(n)).abs() < 1e-12,
                "{key}"
            );
        }
    }

    // Edge cases: a neighbourhood without reports has a row of zeros; the reports without a
    // neighbourhood are counted in the row without an id; reports closed before they were
    // created are flagged at import and left out of the times.
    let harbor = rows
        .iter()
        .find(|r| r["name"] == "Harbor Islands")
        .expect("Harbor Islands");
    assert_eq!(
        (harbor["received"].as_str(), harbor["open"].as_str()),
        ("0", "0")
    );
    assert_eq!(harbor["resolution_median_h"], "");
    let none = rows
        .iter()
        .find(|r| r["sector_id"].is_empty())
        .expect("row without sector");
    let meta = info(d);
    assert_eq!(
        none["received"],
        meta["indices"]["without_sector"].to_string(),
        "reports without a neighbourhood"
    );
    let received: u64 = rows
        .iter()
        .map(|r| r["received"].parse::<u64>().expect("n"))
        .sum();
    assert_eq!(received, 121_145, "every report counted once");
    let early: Vec<&HashMap<String, String>> = mine
        .values()
        .filter(|m| m["closed"] == "true" && m["resolution_h"].is_empty())
        .collect();
    assert_eq!(
        early.len(),
        meta["indices"]["closed_before_created"]
            .as_u64()
            .expect("n") as usize
    );
    assert!(!early.is_empty());
    let report =
        fs::read_to_string(crate::support::version_dir(d).join("../v000002/import-report.csv"))
            .expect("import report of the reports import");
    for m in early.iter().take(20) {
        assert!(
            report
                .lines()
                .any(|l| l.contains(&m["id"]) && l.contains("closed before it was created")),
            "{} not flagged",
            m["id"]
        );
    }
}

#[test]
fn indices_export_to_files_gdal_and_polars_read_and_print_for_a_sector() {
    let data = town();
    let d = data.path();
    compute_with_rules(d, &["--as-of", "2025-12-31"]);
    let meta = info(d)["indices"].clone();
    assert_eq!(meta["windows"], serde_json::json!(["30d", "90d", "365d"]));
    assert_eq!(meta["category_rules"], 3);
    assert_eq!(meta["holidays"], 11);
    let out = tempfile::tempdir().expect("tempdir");
    let o = out.path();

    // Every parcel has a row for `all`, zeros included, and exports with its outline.
    let parcels_fgb = o.join("parcels.fgb");
    export_indices(d, "parcel", "fgb", s(&parcels_fgb), &["--window", "365d"]);
    let info_txt = crate::support::gdal_tool("ogrinfo", &["-so", "-al", s(&parcels_fgb)]);
    let parcels = info(d)["layers"]["parcels"]["count"]
        .as_u64()
        .expect("count");
    assert!(
        info_txt.contains(&format!("Feature Count: {parcels}")),
        "{info_txt}"
    );
    assert!(info_txt.contains("attention: Real"), "{info_txt}");

    // Sectors as GeoJSON (GDAL) and GeoParquet (polars, WKB + `geo` metadata).
    let sectors_json = o.join("sectors.geojson");
    export_indices(
        d,
        "sector",
        "geojson",
        s(&sectors_json),
        &["--window", "90d", "--category", "Bache"],
    );
    let gj: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&sectors_json).expect("read")).expect("json");
    let features = gj["features"].as_array().expect("features");
    assert!(features.iter().all(|f| f["properties"]["value"] == "Bache"));
    assert!(features
        .iter()
        .any(|f| f["geometry"]["type"] == "MultiPolygon"));
    let gq = o.join("sectors.parquet");
    export_indices(d, "sector", "parquet", s(&gq), &["--window", "90d"]);
    let bytes = fs::read(&gq).expect("read");
    let footer = String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(8192)..]).into_owned();
    assert!(
        footer.contains("\"primary_column\":\"geometry\""),
        "no GeoParquet metadata"
    );
    use polars::prelude::SerReader;
    let df = polars::prelude::ParquetReader::new(fs::File::open(&gq).expect("open"))
        .finish()
        .expect("polars reads it");
    let geoms = df
        .column("geometry")
        .expect("geometry")
        .binary()
        .expect("wkb")
        .clone();
    let names = df.column("name").expect("name").str().expect("str").clone();
    let mut read = 0;
    for (wkb, name) in geoms.iter().zip(names.iter()) {
        let (Some(wkb), Some(_)) = (wkb, name) else {
            continue;
        };
        let g = geozero::wkb::Wkb(wkb.to_vec()).to_geo().expect("valid WKB");
        assert!(matches!(g, geo::Geometry::MultiPolygon(_)));
        read += 1;
    }
    assert!(read >= 4, "{read} sector outlines");

    // H3 cells carry their own area.
    let cells = o.join("cells.csv");
    export_indices(
        d,
        "h3",
        "csv",
        s(&cells),
        &["--res", "9", "--window", "365d"],
    );
    for r in csv_rows(&cells).iter().filter(|r| !r["cell"].is_empty()) {
        let cell: h3o::CellIndex = r["cell"].parse().expect("cell");
        assert_eq!(u8::from(cell.resolution()), 9);
        let area: f64 = r["area_km2"].parse().expect("area");
        assert!((area - cell.area_km2()).abs() < 1e-12);
    }

    // The terminal table names the sector and agrees with the exported row.
    let shown = predio_ok(d, &["indices", "--sector", "barrio amón"]);
    let text = String::from_utf8_lossy(&shown.stdout).into_owned();
    let sectors_csv = o.join("s.csv");
    export_indices(d, "sector", "csv", s(&sectors_csv), &["--window", "365d"]);
    let amon = csv_rows(&sectors_csv)
        .into_iter()
        .find(|r| r["name"] == "Barrio Amón")
        .expect("Barrio Amón");
    let line = text
        .lines()
        .find(|l| l.starts_with("reports received"))
        .expect("line");
    assert!(
        line.trim_end().ends_with(&format!(" {}", amon["received"])),
        "{line}"
    );
    assert!(text.contains("Barrio Amón"), "{text}");
    let missing = predio(d, &["indices", "--sector", "Atlantis"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("Barrio"));
}

#[test]
fn bad_rules_are_refused_by_file_and_line_and_nothing_is_stored() {
    let data = town();
    let d = data.path();
    let before = info(d)["version"].clone();
    let bad = d.join("plazos.csv");
    fs::write(&bad, "category,days\nBache,quince\n").expect("write");
    let out = predio(d, &["compute", "--deadlines", s(&bad)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("plazos.csv") && err.contains("line 2") && err.contains("quince"),
        "{err}"
    );
    let bad = d.join("feriados.toml");
    fs::write(&bad, "holidays = [\"2025-13-01\"]\n").expect("write");
    let out = predio(d, &["compute", "--holidays", s(&bad)]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("feriados.toml") && err.contains("2025-13-01"),
        "{err}"
    );
    let out = predio(d, &["compute", "--windows", "30x"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("30x"));
    let out = predio(
        d,
        &[
            "export",
            "indices",
            "--level",
            "sector",
            "--format",
            "csv",
            "--out",
            s(&d.join("x.csv")),
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("predio compute"));
    assert_eq!(
        info(d)["version"],
        before,
        "a refused compute stores nothing"
    );
}

#[test]
fn hot_spots_equal_esdas_gi_star_on_the_same_cells() {
    let py = python();
    let data = town();
    let d = data.path();
    predio_ok(d, &["compute", "--as-of", "2025-12-31"]);
    let cells = d.join("cells.csv");
    export_indices(
        d,
        "h3",
        "csv",
        s(&cells),
        &["--res", "9", "--window", "365d"],
    );
    let n = csv_rows(&cells).len();
    assert!(n > 20, "{n} cells at res 9");
    let (mut compared, mut zeros) = (0, 0);
    for (res, extra) in [
        ("9", vec![]),
        ("10", vec![]),
        ("9", vec!["--category", "Alumbrado público"]),
        ("9", vec!["--field", "open", "--ring", "1"]),
    ] {
        let out = d.join(format!("hot-{res}-{}.csv", extra.len()));
        let mut args = vec![
            "hotspots",
            "--res",
            res,
            "--window",
            "365d",
            "--out",
            s(&out),
        ];
        args.extend(extra.iter().copied());
        let printed = predio_ok(d, &args);
        let text = String::from_utf8_lossy(&printed.stdout).into_owned();
        assert!(text.contains("hot and"), "{text}");
        let check = Command::new(&py)
            .arg(workspace().join("tests/integration/hotspots_check.py"))
            .arg(&out)
            .arg(crate::support::version_dir(d).join("sectors.fgb"))
            .output()
            .expect("python runs");
        assert!(
            check.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let summary: serde_json::Value =
            serde_json::from_slice(&check.stdout).expect("a JSON summary");
        compared += summary["cells"].as_u64().unwrap_or(0);
        // a fixed study area: cells without reports count, as zeros; esda's permutations agree
        zeros += csv_rows(&out)
            .iter()
            .filter(|r| r["value"].parse::<f64>() == Ok(0.0))
            .count();
        assert!(
            summary["p_sim_within_error"].as_f64() >= Some(0.99),
            "{summary}"
        );
        assert!(
            summary["named"].as_u64() > Some(summary["cells"].as_u64().unwrap_or(0) / 2),
            "{summary}"
        );
    }
    assert!(compared > 100, "{compared} cells compared with esda");
    assert!(zeros > 10, "{zeros} empty cells in the study areas");
    // refusals
    for (args, says) in [
        (vec!["hotspots", "--res", "7"], "--res 7"),
        (vec!["hotspots", "--window", "7d"], "--window 7d"),
        (
            vec!["hotspots", "--category", "Nada"],
            "no such category \"Nada\"",
        ),
        (vec!["hotspots", "--field", "nope"], "--field nope"),
    ] {
        let out = predio(d, &args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn segments_are_deterministic_per_seed_and_described_in_words() {
    let data = town();
    let d = data.path();
    predio_ok(d, &["compute", "--as-of", "2025-12-31"]);
    let run = |extra: &[&str], out: &str| -> (String, String) {
        let path = d.join(out);
        let mut args = vec![
            "segments",
            "--level",
            "parcel",
            "--window",
            "365d",
            "--out",
            s(&path),
        ];
        args.extend_from_slice(extra);
        let printed = String::from_utf8_lossy(&predio_ok(d, &args).stdout).into_owned();
        (printed, fs::read_to_string(&path).expect("segments csv"))
    };
    let (a, rows_a) = run(&[], "a.csv");
    let (b, rows_b) = run(&[], "b.csv");
    assert_eq!((&a, &rows_a), (&b, &rows_b), "same seed, same segments");
    assert!(a.contains("k by silhouette"), "{a}");
    let (c, rows_c) = run(&["--k", "3", "--seed", "7"], "c.csv");
    assert!(c.contains("in 3 segments"), "{c}");
    // every parcel once, segments 0..3, sizes as printed, words from the fields
    let rows = csv_rows(&d.join("c.csv"));
    assert_eq!(rows.len(), rows_c.lines().count() - 1);
    let mut sizes = [0usize; 3];
    for r in &rows {
        sizes[r["segment"].parse::<usize>().expect("segment")] += 1;
    }
    for (i, n) in sizes.iter().enumerate() {
        assert!(c.contains(&format!("segment {i}: {n:>6}")), "{c}");
    }
    assert!(
        sizes[0] >= sizes[1] && sizes[1] >= sizes[2],
        "numbered by size: {sizes:?}"
    );
    assert!(
        c.contains("high ") || c.contains("low ") || c.contains("rising"),
        "the segments say what they stand out on: {c}"
    );
    for (args, says) in [
        (vec!["segments", "--fields", "nope"], "--fields nope"),
        (vec!["segments", "--k-min", "5", "--k-max", "3"], "--k-min"),
        (vec!["segments", "--window", "7d"], "--window 7d"),
    ] {
        let out = predio(d, &args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}"
        );
    }
}

#[test]
fn a_burst_of_lighting_reports_puts_its_sector_at_the_top_of_the_plan() {
    let data = town();
    let d = data.path();
    let lighting = "Alumbrado público";
    predio_ok(d, &["compute", "--as-of", "2025-12-31"]);
    let plan = |d: &Path| -> serde_json::Value {
        let out = predio_ok(d, &["plan", "--json", "--top", "500"]);
        serde_json::from_slice(&out.stdout).expect("plan --json")
    };
    let before = plan(d);
    let rows = before.as_array().expect("actions");
    assert!(rows.len() > 5);
    // the sector whose lighting row ranks lowest
    let target = rows
        .iter()
        .rev()
        .find(|r| r["category"] == lighting)
        .expect("a lighting row");
    let sector = target["sector_id"].as_str().expect("id").to_owned();
    assert_ne!(rows[0]["sector_id"], sector.as_str());
    for r in rows {
        let terms: f64 = ["rise", "hot", "backlog", "recurrence", "rate"]
            .iter()
            .map(|t| r["terms"][*t].as_f64().unwrap_or(0.0))
            .sum();
        assert!(
            (terms - r["score"].as_f64().unwrap_or(-1.0)).abs() < 0.06,
            "{r}"
        );
    }
    // a located point of that sector
    let reports = d.join("reports.csv");
    predio_ok(
        d,
        &["export", "reports", "--format", "csv", "--out", s(&reports)],
    );
    let at = csv_rows(&reports)
        .into_iter()
        .find(|r| r["sector_id"] == sector && r["location"] == "located")
        .expect("a report in the sector");
    // 80 lighting reports there in December, open
    let burst = d.join("burst.csv");
    let mut text = String::from(
        "id_reporte,fecha_creacion,fecha_atencion,fecha_cierre,estado,categoria,departamento,canal,descripcion,latitud,longitud,nombre,correo,telefono,direccion,finca\n",
    );
    for i in 0..80 {
        text += &format!(
            "BURST-{i:03},2025-12-{:02} 19:{:02},,,Abierto,{lighting},Servicios Urbanos,web,,{},{},,,,,\n",
            10 + i % 18,
            i % 60,
            at["lat"],
            at["lon"]
        );
    }
    fs::write(&burst, text).expect("write");
    let town_dir = crate::support::sample_town();
    predio_ok(
        d,
        &[
            "import",
            "reports",
            s(&burst),
            "--mapping",
            s(&town_dir.join("reports-mapping.toml")),
        ],
    );
    predio_ok(d, &["compute", "--as-of", "2025-12-31"]);
    let after = plan(d);
    let top = &after[0];
    assert_eq!(top["sector_id"], sector.as_str(), "{top}");
    assert_eq!(top["category"], lighting);
    assert_eq!(top["action"], "campaign");
    let reason = top["reason"].as_str().unwrap_or_default();
    let prev = target["received"].as_f64().unwrap_or(0.0);
    assert!(
        reason.contains(&format!("received {}", prev + 80.0)),
        "the reason states the burst: {reason} (before: {target})"
    );
    assert!(top["open"].as_f64().unwrap_or(0.0) >= 80.0);
    assert!(
        top["score"].as_f64() > target["score"].as_f64(),
        "{top} vs {target}"
    );
}

#[test]
fn the_analyst_notebook_runs_headless_on_the_exports() {
    let py = python();
    let data = town();
    let d = data.path();
    predio_ok(
        d,
        &["compute", "--as-of", "2025-12-31", "--windows", "90d,all"],
    );
    let dir = d.join("notebook");
    fs::create_dir_all(&dir).expect("dir");
    let f = |n: &str| dir.join(n);
    export_indices(
        d,
        "sector",
        "parquet",
        s(&f("sectors.parquet")),
        &["--window", "all"],
    );
    export_indices(
        d,
        "parcel",
        "parquet",
        s(&f("parcels.parquet")),
        &["--window", "90d"],
    );
    predio_ok(
        d,
        &[
            "export",
            "reports",
            "--format",
            "parquet",
            "--out",
            s(&f("reports.parquet")),
        ],
    );
    predio_ok(d, &["plan", "--out", s(&f("plan.csv"))]);
    let run = "import sys, nbformat\n\
               from nbclient import NotebookClient\n\
               nb = nbformat.read('analyst.ipynb', as_version=4)\n\
               NotebookClient(nb, timeout=600, kernel_name='python3', \
                 resources={'metadata': {'path': '.'}}).execute()\n\
               print('cells', len(nb.cells))";
    let out = Command::new(&py)
        .args(["-c", run])
        .current_dir(workspace().join("notebooks"))
        .env("PREDIO_NOTEBOOK_DATA", &dir)
        .env("PREDIO_AS_OF", "2025-12-31")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "the notebook failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for png in ["parcel_heatmap.png", "plan_top.png"] {
        let n = fs::metadata(f(png)).map(|m| m.len()).unwrap_or(0);
        assert!(n > 10_000, "{png}: {n} bytes");
    }
}

/// Sums of the sector table's rows, by the field names of the report.
fn sums(rows: &[HashMap<String, String>]) -> HashMap<&'static str, u64> {
    let n = |r: &HashMap<String, String>, c: &str| r[c].parse::<f64>().unwrap_or(0.0) as u64;
    let mut out = HashMap::new();
    for r in rows {
        let (answered, on_time) = (n(r, "answered"), n(r, "answered_on_time"));
        for (k, v) in [
            ("received", n(r, "received")),
            ("on_time", on_time),
            ("late", answered - on_time),
            ("pending", n(r, "open")),
            ("overdue", n(r, "overdue")),
        ] {
            *out.entry(k).or_insert(0) += v;
        }
    }
    out
}

#[test]
fn the_accountability_report_equals_the_indices_and_reads_in_headless_chromium() {
    let root = workspace();
    crate::support::browser(&["tests/browser/node_modules/playwright-core"]);
    let data = town();
    let d = data.path();
    // The current indices carry the rules the report uses when it is given none, even when
    // compute was given them relative to another directory.
    let (deadlines, _) = rules();
    let computed = Command::new(env!("CARGO_BIN_EXE_predio"))
        .current_dir(deadlines.parent().expect("the rules' directory"))
        .arg("--data")
        .arg(d)
        .args(["compute", "--deadlines", "costa-rica.toml"])
        .args([
            "--holidays",
            "feriados-cr-2025.csv",
            "--as-of",
            "2025-12-31",
        ])
        .env_remove("RUST_LOG")
        .output()
        .expect("predio runs");
    assert!(computed.status.success(), "{computed:?}");
    let html = d.join("informe.html");
    let printed = predio_ok(
        d,
        &[
            "audit",
            "--period",
            "2025-H1",
            "--out",
            s(&html),
            "--min-answered",
            "5",
            "--worst",
            "2",
        ],
    );
    let printed = String::from_utf8_lossy(&printed.stdout).into_owned();
    assert!(printed.contains("2025-01-01 to 2025-06-30"), "{printed}");
    // named by file, not by where they lie on the server
    let page = std::fs::read_to_string(&html).expect("the report");
    assert!(
        page.contains("(reglas: costa-rica.toml, feriados-cr-2025.csv)"),
        "the report names its rules"
    );

    let shot = d.join("informe.png");
    let _heavy = crate::support::heavy();
    let out = Command::new("node")
        .arg(root.join("tests/browser/report.mjs"))
        .arg(&html)
        .arg(&shot)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "the report failed in Chromium:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON summary");
    assert_eq!(seen["period"], "2025-H1");

    // the same numbers from the indices: one window that is the half year, as of its end
    compute_with_rules(d, &["--as-of", "2025-06-30", "--windows", "181d"]);
    let csv = d.join("sectors.csv");
    export_indices(d, "sector", "csv", s(&csv), &["--window", "181d"]);
    let table = csv_rows(&csv);
    let fields = ["received", "on_time", "late", "pending", "overdue"];
    let shown = |row: &serde_json::Value| -> HashMap<&'static str, u64> {
        fields
            .iter()
            .map(|f| (*f, row[*f].as_u64().unwrap_or(u64::MAX)))
            .collect()
    };
    let (sectors, sector_total): (Vec<&serde_json::Value>, Vec<&serde_json::Value>) = seen
        ["tables"]["tabla-sectores"]
        .as_array()
        .expect("sector table")
        .iter()
        .partition(|r| r["id"] != "total");
    let with_id: Vec<HashMap<String, String>> = table
        .iter()
        .filter(|r| !r["sector_id"].is_empty())
        .cloned()
        .collect();
    assert_eq!(sectors.len(), with_id.len(), "every sector once");
    assert!(sectors.len() >= 4);
    assert_eq!(shown(sector_total[0]), sums(&with_id), "the sectors' total");
    let mut compliance = HashMap::new();
    for row in &sectors {
        let id = row["id"].as_str().expect("id");
        let r = with_id
            .iter()
            .find(|r| r["sector_id"] == id)
            .unwrap_or_else(|| panic!("sector {id} in the indices"));
        assert_eq!(shown(row), sums(std::slice::from_ref(r)), "sector {id}");
        let expected = r["compliance"].parse::<f64>().ok();
        let got = row["compliance"].as_f64();
        assert!(
            match (expected, got) {
                (Some(e), Some(g)) => (e - g).abs() < 1e-12,
                (None, None) => true,
                _ => false,
            },
            "sector {id}: compliance {got:?} against {expected:?}"
        );
        let answered = r["answered"].parse::<f64>().unwrap_or(0.0);
        if answered >= 5.0 {
            compliance.insert(id.to_owned(), got.unwrap_or(1.0));
        }
    }
    // the totals include the reports without a sector
    let total = &seen["tables"]["tabla-departamentos"]
        .as_array()
        .expect("department table")
        .iter()
        .find(|r| r["id"] == "total")
        .expect("a total row")
        .clone();
    assert_eq!(shown(total), sums(&table), "the totals");
    assert!(total["received"].as_u64().unwrap_or(0) > 100);
    // each department: the sum of its sector rows (and its row without a sector)
    let departments = seen["tables"]["tabla-departamentos"]
        .as_array()
        .expect("department table");
    assert!(departments.len() >= 3, "{departments:?}");
    for row in departments.iter().filter(|r| r["id"] != "total") {
        let name = row["id"].as_str().expect("department");
        let path = d.join("department.csv");
        export_indices(
            d,
            "sector",
            "csv",
            s(&path),
            &["--window", "181d", "--department", name],
        );
        assert_eq!(shown(row), sums(&csv_rows(&path)), "department {name}");
    }
    // the worst: the lowest compliance among sectors with at least 5 answered
    let worst: Vec<&str> = seen["tables"]["tabla-peores"]
        .as_array()
        .expect("worst table")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(worst.len(), 2.min(compliance.len()));
    let cut = compliance[worst[worst.len() - 1]];
    for (id, c) in &compliance {
        if !worst.contains(&id.as_str()) {
            assert!(
                *c >= cut,
                "{id} ({c}) is worse than the last of {worst:?} ({cut})"
            );
        }
    }
    for w in worst.windows(2) {
        assert!(compliance[w[0]] <= compliance[w[1]], "{worst:?} in order");
    }
    // the map: one path per sector, each filled with the colour the legend gives its
    // compliance (the legend's ranges read from its text), in more than one class; the worst
    // numbered
    assert_eq!(seen["map"]["paths"].as_u64(), Some(sectors.len() as u64));
    let items = seen["map"]["legend"].as_array().expect("a legend");
    let no_answers = items
        .iter()
        .find(|i| {
            i[1].as_str()
                .is_some_and(|t| t.starts_with("sin respuestas"))
        })
        .and_then(|i| i[0].as_str())
        .expect("a legend item for sectors without answers");
    let legend: Vec<(String, f64, f64)> = items
        .iter()
        .filter(|i| i[0].as_str() != Some(no_answers))
        .map(|item| {
            let colour = item[0].as_str().expect("colour").to_owned();
            let text = item[1].as_str().expect("text");
            let pcts: Vec<f64> = text
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse::<f64>().ok())
                .map(|p| p / 100.0)
                .collect();
            let (lo, hi) = if text.starts_with("menos") {
                (f64::NEG_INFINITY, pcts[0])
            } else if text.ends_with("más") {
                (pcts[0], f64::INFINITY)
            } else {
                (pcts[0], pcts[1])
            };
            (colour, lo, hi)
        })
        .collect();
    assert_eq!(legend.len(), 5, "{legend:?}");
    let mut classes = std::collections::BTreeSet::new();
    for row in &sectors {
        let id = row["id"].as_str().expect("id");
        let fill = seen["map"]["fill_of"][id].as_str().expect("a fill");
        let Some(c) = row["compliance"].as_f64() else {
            assert_eq!(fill, no_answers, "sector {id}: no answers");
            continue;
        };
        let class = legend
            .iter()
            .position(|(_, lo, hi)| c >= *lo && c < *hi)
            .unwrap_or_else(|| panic!("compliance {c} in no class of {legend:?}"));
        assert_eq!(fill, legend[class].0, "sector {id}: compliance {c}");
        classes.insert(class);
    }
    assert!(classes.len() >= 2, "one class only: {classes:?}");
    assert_eq!(seen["map"]["markers"].as_u64(), Some(worst.len() as u64));
    // every sector named on the map; the categories and the months add up to the totals, the
    // last month's pending are the period's
    let names = seen["map"]["names"].as_array().expect("names");
    assert_eq!(names.len(), sectors.len(), "a name per sector");
    let sum = |table: &str, field: &str| -> u64 {
        seen["tables"][table]
            .as_array()
            .unwrap_or_else(|| panic!("{table}"))
            .iter()
            .filter(|r| r["id"] != "total")
            .filter_map(|r| r[field].as_u64())
            .sum()
    };
    let total_received = total["received"].as_u64().expect("received");
    assert_eq!(
        sum("tabla-categorias", "received"),
        total_received,
        "by category"
    );
    assert_eq!(
        sum("tabla-tendencia", "received"),
        total_received,
        "by month"
    );
    assert_eq!(
        sum("tabla-tendencia", "on_time"),
        total["on_time"].as_u64().expect("on time")
    );
    let months = seen["tables"]["tabla-tendencia"]
        .as_array()
        .expect("months");
    assert_eq!(months.len(), 6, "2025-H1: six months");
    assert_eq!(
        months[5]["pending"], total["pending"],
        "pending at the period's end"
    );
    assert!(
        seen["map"]["painted"].as_f64().unwrap_or(0.0) > 0.5,
        "{}",
        seen["map"]
    );
    let png = fs::read(&shot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );

    for (args, says) in [
        (
            vec!["audit", "--period", "2025-H3", "--out", "x.html"],
            "--period",
        ),
        (
            vec![
                "audit",
                "--period",
                "2025-H1",
                "--out",
                "x.html",
                "--deadlines",
                "nope.toml",
            ],
            "nope.toml",
        ),
    ] {
        let out = predio(d, &args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}"
        );
    }
}

/// A sample town (12,000 reports) with its reports split in three, each third read in its own time
/// zone (Costa Rica UTC−6, Montevideo UTC−3, Lisbon with daylight saving), and the Open311 and
/// FixMyStreet fixtures, whose histories carry acknowledgements and reopenings.
fn town_in_three_zones() -> tempfile::TempDir {
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    // More reports than the shared sample town: open ones past due by every bucket's edges.
    let town = d.join("town");
    predio_ok(
        d,
        &[
            "sample",
            "--out",
            s(&town),
            "--parcels",
            "2000",
            "--reports",
            "12000",
            "--seed",
            "11",
        ],
    );
    predio_ok(
        d,
        &[
            "import",
            "sectors",
            s(&town.join("sectors.shp")),
            "--id-field",
            "codigo",
            "--name-field",
            "nombre",
        ],
    );
    predio_ok(
        d,
        &[
            "import",
            "parcels",
            s(&town.join("parcels.shp")),
            "--id-field",
            "finca",
        ],
    );
    let text = fs::read_to_string(town.join("reports.csv")).expect("reports.csv");
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    let rows: Vec<&str> = lines.collect();
    let mapping = town.join("reports-mapping.toml");
    for (i, zone) in ["America/Costa_Rica", "America/Montevideo", "Europe/Lisbon"]
        .iter()
        .enumerate()
    {
        let part = d.join(format!("reports-{i}.csv"));
        let mut body = format!("{header}\n");
        for r in rows.iter().skip(i).step_by(3) {
            body.push_str(r);
            body.push('\n');
        }
        fs::write(&part, body).expect("write a third");
        predio_ok(
            d,
            &[
                "import",
                "reports",
                s(&part),
                "--mapping",
                s(&mapping),
                "--timezone",
                zone,
            ],
        );
    }
    let fixtures = workspace().join("data-samples/fixtures");
    predio_ok(
        d,
        &[
            "import",
            "reports",
            "--format",
            "open311",
            s(&fixtures.join("open311/extensions.json")),
        ],
    );
    predio_ok(
        d,
        &[
            "import",
            "reports",
            "--format",
            "fixmystreet",
            s(&fixtures.join("fixmystreet/reports.csv")),
            "--updates",
            s(&fixtures.join("fixmystreet/updates.csv")),
            "--timezone",
            "Europe/London",
        ],
    );
    data
}

#[test]
fn every_per_report_fact_and_overdue_bucket_equals_an_independent_pandas_computation() {
    let python = python();
    let data = town_in_three_zones();
    let d = data.path();
    let (deadlines, holidays) = rules();
    let (out, reports) = computed_and_exported(d, "all");
    let facts = out.path().join("facts.csv");
    export_indices(d, "report", "csv", s(&facts), &[]);
    let sectors = out.path().join("sectors.csv");
    export_indices(d, "sector", "csv", s(&sectors), &["--window", "all"]);

    // The rules as plain data for the second engine, read here from the same files.
    let holiday_list = holiday_dates(&holidays);
    let rules: toml::Value = fs::read_to_string(&deadlines)
        .expect("rules")
        .parse()
        .expect("toml");
    let d_rules = &rules["deadlines"];
    let num = |t: &toml::Value, k: &str| t.get(k).and_then(toml::Value::as_integer);
    let categories: serde_json::Map<String, serde_json::Value> = d_rules["categories"]
        .as_table()
        .expect("categories")
        .iter()
        .map(|(name, r)| {
            (
                name.clone(),
                serde_json::json!([num(r, "days"), num(r, "warning_days"), num(r, "alert_days")]),
            )
        })
        .collect();
    let rules_json = out.path().join("rules.json");
    fs::write(
        &rules_json,
        serde_json::json!({
            "default": [num(d_rules, "default_days"), num(d_rules, "warning_days"), num(d_rules, "alert_days")],
            "categories": categories,
            "holidays": holiday_list,
        })
        .to_string(),
    )
    .expect("write rules");
    let history = crate::support::version_dir(d).join("report_history.parquet");
    let script = workspace().join("tests/integration/facts_check.py");
    let expected = python_json(
        &python,
        &[
            s(&script),
            s(&reports),
            s(&history),
            // `--as-of 2025-12-31`: the end of that day in the catalog's time zone
            info(d)["indices"]["as_of"].as_str().expect("as_of"),
            s(&rules_json),
        ],
    );
    let theirs = expected["reports"].as_object().expect("reports");

    // Every report, every column of the per-report table.
    let rows = csv_rows(&facts);
    assert_eq!(rows.len(), theirs.len(), "reports in the table");
    let zones: std::collections::BTreeSet<String> = csv_rows(&reports)
        .into_iter()
        .map(|r| r["source_tz"].clone())
        .collect();
    assert!(zones.len() >= 4, "reports of several zones: {zones:?}");
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for r in &rows {
        let id = r["id"].as_str();
        let e = theirs
            .get(id)
            .unwrap_or_else(|| panic!("{id}: in predio's table, not pandas'"));
        for (k, v) in e.as_object().expect("a report") {
            if k == "sector_id" || k == "reopened" {
                continue;
            }
            let mine = r
                .get(k)
                .unwrap_or_else(|| panic!("no column {k} in the report table"));
            let same = match v {
                serde_json::Value::Null => mine.is_empty(),
                serde_json::Value::Bool(b) => mine == &b.to_string(),
                serde_json::Value::String(t) => mine == t,
                serde_json::Value::Number(n) => {
                    let (a, b) = (
                        mine.parse::<f64>().unwrap_or(f64::NAN),
                        n.as_f64().expect("f64"),
                    );
                    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
                }
                other => panic!("{k}: {other}"),
            };
            assert!(
                same,
                "report {id}: {k} is {mine:?} in predio, {v} in pandas"
            );
            if !mine.is_empty() {
                *seen.entry(k.as_str()).or_default() += 1;
            }
        }
    }
    // Each column was compared on values, not only on blanks.
    for k in [
        "due_date",
        "on_time",
        "stage",
        "age_bd",
        "past_due_bd",
        "resolution_h",
        "resolution_bd",
        "ack_h",
    ] {
        assert!(seen.get(k).copied().unwrap_or(0) >= 3, "{k}: {seen:?}");
    }

    // The sector table's stages, overdue buckets and reopenings.
    let by_sector = expected["sectors"].as_object().expect("sectors");
    let mut compared = 0;
    for r in csv_rows(&sectors) {
        let key = if r["sector_id"].is_empty() {
            "<none>".to_owned()
        } else {
            r["sector_id"].clone()
        };
        let Some(e) = by_sector.get(&key) else {
            assert_eq!(r["received"], "0", "sector {key}: reports pandas has not");
            continue;
        };
        for (k, v) in e.as_object().expect("a sector") {
            assert_eq!(r[k.as_str()], v.to_string(), "sector {key}: {k}");
        }
        compared += 1;
    }
    assert_eq!(
        compared,
        by_sector.len(),
        "every sector with reports compared"
    );
    let total = |k: &str| -> u64 {
        by_sector
            .values()
            .map(|s| s[k].as_u64().expect("count"))
            .sum()
    };
    assert!(
        total("reopened") >= 1 && total("overdue_0_5") >= 1,
        "{by_sector:?}"
    );
    // The buckets' edges are met: reports 5 and 6, 10 and 11, 20 and 21 business days past due.
    let past_due: std::collections::BTreeSet<i64> = theirs
        .values()
        .filter_map(|f| f["past_due_bd"].as_i64())
        .collect();
    for edge in [5, 6, 10, 11, 20, 21] {
        assert!(
            past_due.contains(&edge),
            "no report {edge} bd past due: {past_due:?}"
        );
    }
}

/// Four reports around two new years, at local times of `zone`: 23:30 on 31 December 2024,
/// 00:30 on 1 January 2025, 23:30 on 31 December 2025, 00:30 on 1 January 2026.
fn new_year_catalog(zone: &str, set_zone: bool) -> tempfile::TempDir {
    let town = crate::support::sample_town();
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    predio_ok(
        d,
        &[
            "import",
            "sectors",
            s(&town.join("sectors.shp")),
            "--id-field",
            "codigo",
            "--name-field",
            "nombre",
        ],
    );
    // A point of the town: the first sample report's.
    let first = csv_rows(&town.join("reports.csv")).remove(0);
    let (lat, lon) = (&first["latitud"], &first["longitud"]);
    let mut csv = String::from("id,created,lat,lon\n");
    for (id, t) in [
        ("a", "2024-12-31 23:30"),
        ("b", "2025-01-01 00:30"),
        ("c", "2025-12-31 23:30"),
        ("e", "2026-01-01 00:30"),
    ] {
        csv += &format!("{id},{t},{lat},{lon}\n");
    }
    fs::write(d.join("r.csv"), csv).expect("write");
    fs::write(
        d.join("r.toml"),
        format!(
            // ISO 8601 local times: no `datetime_formats` needed.
            "[source]\ntimezone = \"{zone}\"\n\
             [columns]\nid = \"id\"\ncreated_at = \"created\"\nlat = \"lat\"\nlon = \"lon\"\n\
             [defaults]\nstatus = \"open\"\ncategory = \"Bache\"\n[status]\n\"open\" = \"open\"\n"
        ),
    )
    .expect("write");
    predio_ok(
        d,
        &[
            "import",
            "reports",
            s(&d.join("r.csv")),
            "--mapping",
            s(&d.join("r.toml")),
        ],
    );
    if set_zone {
        predio_ok(d, &["config", "set", "timezone", zone]);
    }
    data
}

#[test]
fn days_are_the_catalogs_local_days_in_compute_and_in_the_audit_report() {
    for (zone, set) in [("America/Costa_Rica", true), ("Europe/Lisbon", false)] {
        let data = new_year_catalog(zone, set);
        let d = data.path();
        // Set, or the zone the reports were recorded in.
        assert_eq!(info(d)["time_zone"], zone, "{zone}");
        // 2025 as a 365-day window as of the end of 2025-12-31 local: b and c, not a nor e.
        let out = predio_ok(
            d,
            &["compute", "--as-of", "2025-12-31", "--windows", "365d,all"],
        );
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains(&format!("as of 2025-12-31 24:00 {zone}")),
            "{said}"
        );
        let table = d.join("sectors.csv");
        let received = |window: &str| -> u64 {
            export_indices(d, "sector", "csv", s(&table), &["--window", window]);
            csv_rows(&table)
                .iter()
                .map(|r| r["received"].parse::<u64>().expect("received"))
                .sum()
        };
        assert_eq!(received("365d"), 2, "{zone}: 2025's reports");
        assert_eq!(received("all"), 3, "{zone}: up to the end of 2025");
        // The audit report of 2025: the same two.
        let html = d.join("2025.html");
        let out = predio_ok(d, &["audit", "--period", "2025", "--out", s(&html)]);
        let summary = String::from_utf8_lossy(&out.stdout);
        assert!(summary.contains(": 2 received"), "{zone}: {summary}");
        let page = fs::read_to_string(&html).expect("the report");
        assert!(page.contains(zone), "{zone}: the report names the zone");
    }
    // A zone that does not exist is refused, naming it; nothing is committed.
    let data = new_year_catalog("America/Costa_Rica", false);
    let d = data.path();
    let before = info(d)["version"].clone();
    let out = predio(d, &["config", "set", "timezone", "Mars/Olympus"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"Mars/Olympus\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(info(d)["version"], before);
}

#[test]
fn categories_and_sectors_match_without_case_or_accents_and_unknown_ones_are_listed() {
    let data = town();
    let d = data.path();
    compute_with_rules(d, &["--as-of", "2025-12-31"]);
    let out = tempfile::tempdir().expect("tempdir");
    let export = |file: &str, category: &str| -> Vec<HashMap<String, String>> {
        let path = out.path().join(file);
        export_indices(d, "sector", "csv", s(&path), &["--category", category]);
        csv_rows(&path)
    };
    // As written, in lower case, without accents: the same rows.
    assert_eq!(
        export("a.csv", "Alumbrado público"),
        export("b.csv", "alumbrado publico")
    );
    assert_eq!(export("c.csv", "Bache"), export("d.csv", "BACHE"));
    // An unknown value is refused, listing the known ones.
    let path = out.path().join("x.csv");
    let refused = predio(
        d,
        &[
            "export",
            "indices",
            "--level",
            "sector",
            "--format",
            "csv",
            "--out",
            s(&path),
            "--category",
            "Nope",
        ],
    );
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("no such category \"Nope\"") && err.contains("Bache"),
        "{err}"
    );
    // A sector by a part of its name, without accents; a part that names several is refused.
    let shown = predio_ok(d, &["indices", "--sector", "amon"]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("Barrio Amón"),
        "{}",
        String::from_utf8_lossy(&shown.stdout)
    );
    let several = predio(d, &["indices", "--sector", "barrio"]);
    assert!(!several.status.success());
    assert!(
        String::from_utf8_lossy(&several.stderr).contains("names several sectors"),
        "{}",
        String::from_utf8_lossy(&several.stderr)
    );
}
