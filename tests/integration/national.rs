//! National analysis (`predio export geoparquet`): several municipalities' reports and indices
//! as one Hive-partitioned GeoParquet folder, read by Apache Spark (PySpark, local mode) and
//! DuckDB, which must find predio's own per-sector figures in it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::support::{arg, predio, predio_ok, present, python_json, required, workspace};

/// PySpark, DuckDB and pyarrow (`make spark-deps`): required; Java 17 may be missing outside CI
/// (the test then says so and skips).
fn spark_python() -> Option<PathBuf> {
    if !present(
        Path::new("/usr/bin/java"),
        "Java 17 for Spark: `make spark-deps` installs openjdk-17-jre-headless",
    ) {
        return None;
    }
    Some(required(
        &workspace().join("target/spark-venv/bin/python"),
        "PySpark, DuckDB and pyarrow",
        "make spark-deps",
    ))
}

/// A sample town of `parcels` parcels made with `seed`, imported into `data` and computed as
/// of 2025-12-31 with the windows 90d and all.
fn municipality(root: &Path, data: &Path, seed: u64, parcels: usize) {
    crate::support::imported_town(root, data, seed, parcels);
    compute(data, "2025-12-31");
}

fn compute(data: &Path, as_of: &str) {
    predio_ok(data, &["compute", "--as-of", as_of, "--windows", "90d,all"]);
}

/// predio's own sector indices (window all, all reports) of a catalog, by `export indices`
/// (GeoJSON: numbers as written, to the last bit): sector → (received, open, median
/// resolution hours).
fn sector_indices(data: &Path, dir: &Path) -> HashMap<String, (u64, u64, Option<f64>)> {
    let file = dir.join("sectors.geojson");
    predio_ok(
        data,
        &[
            "export",
            "indices",
            "--level",
            "sector",
            "--format",
            "geojson",
            "--window",
            "all",
            "--out",
            arg(&file),
        ],
    );
    let fc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("GeoJSON");
    fc["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| &f["properties"])
        .filter_map(|p| {
            let n = |c: &str| p[c].as_u64().expect("a count");
            Some((
                p["sector_id"].as_str()?.to_owned(),
                (n("received"), n("open"), p["resolution_median_h"].as_f64()),
            ))
        })
        .collect()
}

/// The reports of each municipality in the reports dataset, counted by DuckDB.
fn counts(python: &Path, out: &Path) -> HashMap<String, u64> {
    let glob = out.join("reports/*/*/*.parquet");
    let script = format!(
        "import duckdb, json; print(json.dumps(dict(duckdb.sql(\"SELECT municipality, count(*) \
         FROM read_parquet('{}', hive_partitioning=true) GROUP BY 1\").fetchall())))",
        glob.display()
    );
    let v = python_json(python, &["-c", &script]);
    serde_json::from_value(v).expect("counts")
}

#[test]
fn spark_and_duckdb_find_predios_sector_figures_in_the_national_geoparquet() {
    let Some(python) = spark_python() else { return };
    let root = tempfile::tempdir().expect("tempdir");
    let catalogs = root.path().join("catalogs");
    let slugs = ["alajuela", "cartago", "heredia"];
    for (seed, slug) in (31..).zip(slugs) {
        municipality(root.path(), &catalogs.join(slug), seed, 2_000);
    }
    // A municipality never imported: reported by name, the others still written.
    std::fs::create_dir_all(catalogs.join("sin-datos")).expect("mkdir");
    let out = root.path().join("national");
    let run = predio(
        root.path(),
        &[
            "export",
            "geoparquet",
            "--catalogs",
            arg(&catalogs),
            "--out",
            arg(&out),
        ],
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    assert!(
        stderr.contains("1 of 4 municipalities not exported: sin-datos"),
        "{stderr}"
    );
    std::fs::remove_dir(catalogs.join("sin-datos")).expect("rmdir");

    let started = std::time::Instant::now();
    let heavy = crate::support::heavy();
    let check = python_json(
        &python,
        &[
            arg(&workspace().join("tests/integration/spark_check.py")),
            arg(&out),
        ],
    );
    eprintln!(
        "spark_check.py: {:.1} s (Spark {} s)",
        started.elapsed().as_secs_f64(),
        check["spark"]["seconds"]
    );
    drop(heavy);
    let spark = &check["spark"];
    assert_eq!(spark["municipalities"], serde_json::json!(slugs));
    assert_eq!(check["files"].as_u64(), Some(4 * 3 * 2), "{check}");

    // Spark's figures from the reports equal predio's, municipality by municipality.
    let mut compared = 0;
    for slug in slugs {
        let want = sector_indices(&catalogs.join(slug), root.path());
        assert!(want.len() >= 4, "{slug}: {want:?}");
        let mut got: HashMap<String, (u64, u64, Option<f64>)> = HashMap::new();
        for row in spark["per_sector"].as_array().expect("rows") {
            if row[0] == slug {
                got.insert(
                    row[1].as_str().expect("sector").to_owned(),
                    (
                        row[2].as_u64().expect("received"),
                        row[3].as_u64().expect("open"),
                        row[4].as_f64(),
                    ),
                );
            }
        }
        assert_eq!(got, want, "{slug}: Spark (left) against predio (right)");
        compared += want.len();
        // The sector indices dataset read by Spark holds the same rows.
        let exported: HashMap<String, (u64, u64, Option<f64>)> = spark["sector_indices"]
            .as_array()
            .expect("rows")
            .iter()
            .filter(|r| r[0] == slug)
            .map(|r| {
                (
                    r[1].as_str().expect("sector").to_owned(),
                    (
                        r[2].as_u64().expect("n"),
                        r[3].as_u64().expect("n"),
                        r[4].as_f64(),
                    ),
                )
            })
            .collect();
        assert_eq!(exported, want, "{slug}: the indices_sector dataset");
    }
    assert!(compared >= 12, "{compared} sectors compared");

    // DuckDB: the same reports per municipality, and partition pruning (a query on one
    // municipality runs with another's file truncated; a query on all fails).
    let duck = &check["duckdb"];
    let located = spark["located"].as_u64().expect("n") + spark["unlocated"].as_u64().expect("n");
    let per: HashMap<String, u64> =
        serde_json::from_value(duck["per_municipality"].clone()).expect("counts");
    assert_eq!(per.values().sum::<u64>(), located, "{duck}");
    assert_eq!(duck["pruned_count"].as_u64(), Some(per[slugs[0]]), "{duck}");
    assert_eq!(duck["all_failed"], true, "{duck}");

    // A municipality exported again (a new as-of) replaces its partitions only.
    let before = counts(&python, &out);
    compute(&catalogs.join(slugs[1]), "2025-06-30");
    predio_ok(
        &catalogs.join(slugs[1]),
        &[
            "export",
            "geoparquet",
            "--municipality",
            slugs[1],
            "--out",
            arg(&out),
        ],
    );
    let after = counts(&python, &out);
    assert!(after[slugs[1]] < before[slugs[1]], "{before:?} {after:?}");
    assert_eq!(after[slugs[0]], before[slugs[0]]);
    assert_eq!(after[slugs[2]], before[slugs[2]]);
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .expect("out")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // One static site per municipality, with the list of them.
    let sites = root.path().join("sites");
    predio_ok(
        root.path(),
        &[
            "publish",
            "--catalogs",
            arg(&catalogs),
            "--out",
            arg(&sites),
            "--maxzoom",
            "13",
        ],
    );
    let listed: serde_json::Value = serde_json::from_slice(
        &std::fs::read(sites.join("municipalities.json")).expect("the list"),
    )
    .expect("json");
    let names: Vec<&str> = listed["municipalities"]
        .as_array()
        .expect("municipalities")
        .iter()
        .filter_map(|m| m["slug"].as_str())
        .collect();
    assert_eq!(names, slugs);
    let index = std::fs::read_to_string(sites.join("index.html")).expect("index");
    for slug in slugs {
        assert!(index.contains(&format!("href=\"{slug}/\"")), "{index}");
        assert!(sites.join(slug).join("tiles/sectors").is_dir(), "{slug}");
        assert!(listed["municipalities"]
            .as_array()
            .expect("list")
            .iter()
            .any(|m| m["slug"] == slug && m["bounds"].as_array().is_some_and(|b| b.len() == 4)));
    }

    // A slug that cannot name a partition is refused before anything is written.
    let bad = predio(
        &catalogs.join(slugs[0]),
        &[
            "export",
            "geoparquet",
            "--municipality",
            "San José",
            "--out",
            arg(&out),
        ],
    );
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("cannot name a municipality"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
