//! Bad input: each fails with a message naming the file and the problem, and the catalog's
//! current version stays exactly as it was.

use std::fs;
use std::path::Path;

use crate::support::{info, predio, predio_ok, sample_town, shared};

/// A catalog with one good version (the sample town's sectors).
fn catalog_with_a_version() -> tempfile::TempDir {
    let data = tempfile::tempdir().expect("tempdir");
    let sectors = sample_town().join("sectors.shp");
    predio_ok(
        data.path(),
        &["import", "sectors", sectors.to_str().expect("utf-8")],
    );
    data
}

/// Runs a failing import and checks the message and that nothing changed.
fn assert_rejected(args: &[&str], expect_in_message: &[&str]) {
    let data = catalog_with_a_version();
    let before = info(data.path());
    let out = predio(data.path(), args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "predio {args:?} should fail; stderr:\n{stderr}"
    );
    for needle in expect_in_message {
        assert!(
            stderr.contains(needle),
            "message lacks {needle:?}:\n{stderr}"
        );
    }
    assert!(
        stderr.lines().filter(|l| l.starts_with("error:")).count() == 1,
        "one clear error line:\n{stderr}"
    );
    let after = info(data.path());
    assert_eq!(before, after, "the current version changed");
    predio_ok(data.path(), &["info", "--verify"]);
    let versions: Vec<_> = fs::read_dir(data.path().join("versions"))
        .expect("versions")
        .collect();
    assert_eq!(versions.len(), 1, "no new or half-written version folder");
}

/// Copies the sample town's parcels shapefile into `dir`, leaving out the given extensions.
fn copy_shapefile(dir: &Path, leave_out: &[&str]) -> String {
    for ext in ["shp", "shx", "dbf", "prj", "cpg"] {
        if !leave_out.contains(&ext) {
            fs::copy(
                sample_town().join(format!("parcels.{ext}")),
                dir.join(format!("parcels.{ext}")),
            )
            .expect("copy");
        }
    }
    dir.join("parcels.shp").to_str().expect("utf-8").to_owned()
}

#[test]
fn missing_shx_or_dbf_is_named() {
    for missing in ["shx", "dbf"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let shp = copy_shapefile(dir.path(), &[missing]);
        assert_rejected(
            &["import", "parcels", &shp],
            &[&shp, &format!("parcels.{missing}"), "missing"],
        );
    }
}

#[test]
fn truncated_shp_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shp = copy_shapefile(dir.path(), &[]);
    let len = fs::metadata(&shp).expect("size").len();
    fs::OpenOptions::new()
        .write(true)
        .open(&shp)
        .and_then(|f| f.set_len(len / 2))
        .expect("truncate");
    assert_rejected(&["import", "parcels", &shp], &[&shp]);
}

#[test]
fn empty_layer_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("empty.geojson");
    fs::write(&path, r#"{"type":"FeatureCollection","features":[]}"#).expect("write");
    let p = path.to_str().expect("utf-8");
    assert_rejected(&["import", "parcels", p], &[p, "empty"]);
}

#[test]
fn points_given_as_parcels_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("points.geojson");
    fs::write(&path, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":1},"geometry":{"type":"Point","coordinates":[-84.1,9.9]}}]}"#).expect("write");
    let p = path.to_str().expect("utf-8");
    assert_rejected(&["import", "parcels", p], &[p, "Point", "polygons"]);
    // The real case: Paraná's parcel points (and no .prj).
    if let Some(parana) = shared("parana-parcel-points/parcels.shp") {
        let p = parana.to_str().expect("utf-8");
        assert_rejected(
            &["import", "parcels", p, "--srs", "EPSG:4326"],
            &[p, "Point"],
        );
    }
}

#[test]
fn unknown_or_missing_crs_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shp = copy_shapefile(dir.path(), &["prj"]);
    assert_rejected(
        &["import", "parcels", &shp],
        &[&shp, "no coordinate reference system", "--srs"],
    );
    assert_rejected(
        &["import", "parcels", &shp, "--srs", "EPSG:999999"],
        &[&shp, "EPSG:999999"],
    );
    fs::write(dir.path().join("parcels.prj"), "this is not a CRS").expect("write");
    assert_rejected(&["import", "parcels", &shp], &[&shp]);
}

#[test]
fn nonexistent_file_is_named() {
    assert_rejected(
        &["import", "parcels", "/nonexistent/catastro.shp"],
        &["/nonexistent/catastro.shp", "no such file"],
    );
}

#[test]
fn duplicate_ids_are_listed_unless_a_policy_is_chosen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dup.geojson");
    let square = |x: f64| {
        format!(
            "[[[{x},0],[{},0],[{},0.001],[{x},0.001],[{x},0]]]",
            x + 0.001,
            x + 0.001
        )
    };
    let features: Vec<String> = [("A-1", 0.0), ("A-2", 0.002), ("A-1", 0.004)]
        .iter()
        .map(|(id, x)| format!(r#"{{"type":"Feature","properties":{{"padron":"{id}"}},"geometry":{{"type":"Polygon","coordinates":{}}}}}"#, square(*x)))
        .collect();
    fs::write(
        &path,
        format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",")
        ),
    )
    .expect("write");
    let p = path.to_str().expect("utf-8");
    assert_rejected(
        &["import", "parcels", p, "--id-field", "padron"],
        &[p, "duplicate", "\"A-1\"", "features 1 and 3"],
    );
    assert_rejected(
        &["import", "parcels", p, "--id-field", "nope"],
        &[p, "no field \"nope\"", "padron"],
    );

    let data = catalog_with_a_version();
    predio_ok(
        data.path(),
        &[
            "import",
            "parcels",
            p,
            "--id-field",
            "padron",
            "--on-duplicate-id",
            "suffix",
        ],
    );
    assert_eq!(info(data.path())["layers"]["parcels"]["count"], 3);
    predio_ok(
        data.path(),
        &[
            "import",
            "parcels",
            p,
            "--id-field",
            "padron",
            "--on-duplicate-id",
            "skip",
        ],
    );
    let meta = &info(data.path())["layers"]["parcels"];
    assert_eq!(
        (meta["count"].as_u64(), meta["skipped"].as_u64()),
        (Some(2), Some(1))
    );
}

/// `import parcel-table`: a table whose keys match no parcel, an address column with no value
/// and Latin-1 text are each one clear error naming the file (and the column or line); the
/// parcels' version stays as it was. Each table is otherwise well formed.
#[test]
fn parcel_tables_that_cannot_join_are_refused_naming_the_problem() {
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    let parcels = sample_town().join("parcels.shp");
    predio_ok(
        d,
        &[
            "import",
            "parcels",
            parcels.to_str().expect("utf-8"),
            "--id-field",
            "finca",
        ],
    );
    let finca = predio_engine::read_parcels(&crate::support::version_dir(d).join("parcels.fgb"))
        .expect("parcels")
        .parcels[0]
        .id
        .to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    // file name, its bytes, the join's arguments, what the error must say
    type Case<'a> = (&'a str, Vec<u8>, &'a [&'a str], &'a [&'a str]);
    let cases: [Case; 3] = [
        (
            "other-keys.csv",
            b"finca,uso\n9-999999-999,comercial\n9-888888-888,residencial\n".to_vec(),
            &["--key", "finca"],
            &["other-keys.csv", "no value of column finca", "9-888888-888"],
        ),
        (
            "empty-addresses.csv",
            format!("finca,direccion_catastral\n{finca},\n{finca},  \n").into_bytes(),
            &["--key", "finca", "--address-field", "direccion_catastral"],
            &[
                "empty-addresses.csv",
                "direccion_catastral",
                "empty in every row",
            ],
        ),
        (
            "latin1.csv",
            // "Calle Peñas 12" and "Rosé" in ISO-8859-1 on the third line
            [
                format!("finca,uso,direccion\n{finca},Residencial,Calle Real 1\n").into_bytes(),
                b"1-000002-000,Comercio,Calle Pe\xf1as 12 Ros\xe9\n".to_vec(),
            ]
            .concat(),
            &["--key", "finca", "--address-field", "direccion"],
            &["latin1.csv", "line 3", "not UTF-8"],
        ),
    ];
    for (name, bytes, args, expect) in cases {
        let path = dir.path().join(name);
        fs::write(&path, bytes).expect("write");
        let before = info(d);
        let mut all = vec!["import", "parcel-table", path.to_str().expect("utf-8")];
        all.extend_from_slice(args);
        let out = predio(d, &all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} accepted:\n{stderr}");
        for needle in expect {
            assert!(
                stderr.contains(needle),
                "{name}: no {needle:?} in:\n{stderr}"
            );
        }
        assert_eq!(before, info(d), "{name}: the current version changed");
    }
    // the same table converted to UTF-8 joins
    let fixed = dir.path().join("utf8.csv");
    fs::write(
        &fixed,
        format!("finca,uso,direccion\n{finca},Residencial,Calle Real 1\n1-000002-000,Comercio,Calle Peñas 12 Rosé\n"),
    )
    .expect("write");
    predio_ok(
        d,
        &[
            "import",
            "parcel-table",
            fixed.to_str().expect("utf-8"),
            "--key",
            "finca",
            "--address-field",
            "direccion",
        ],
    );
}

#[test]
fn commands_on_an_empty_catalog_name_its_directory_and_write_nothing() {
    let data = tempfile::tempdir().expect("tempdir");
    let out_csv = data.path().join("out.csv");
    let out = out_csv.to_str().expect("utf-8");
    for args in [
        &["compute"][..],
        &["geocode"],
        &["export", "reports", "--format", "csv", "--out", out],
        &["plan"],
    ] {
        let run = predio(data.path(), args);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "predio {args:?} should fail");
        let expected = format!(
            "the catalog at {} is empty: import parcels or sectors first",
            data.path().display()
        );
        assert!(stderr.contains(&expected), "predio {args:?}:\n{stderr}");
        assert!(!out_csv.exists(), "predio {args:?} wrote {out}");
        assert!(
            !data.path().join("versions").exists()
                || fs::read_dir(data.path().join("versions"))
                    .expect("versions")
                    .next()
                    .is_none(),
            "predio {args:?} left a version"
        );
    }
}

/// `predio` loads neither GDAL nor PROJ: the commands of other formats run in `predio-gdal`,
/// beside it (every import of these tests goes through it). A `predio` without it refuses
/// them naming it, the catalog as it was, and runs the others.
#[test]
fn predio_loads_no_gdal_and_alone_refuses_an_import_naming_its_helper() {
    use std::process::Command;
    let exe = Path::new(env!("CARGO_BIN_EXE_predio"));
    let libraries = |binary: &Path| {
        let out = Command::new("ldd").arg(binary).output().expect("ldd runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let linked = libraries(exe);
    assert!(
        !linked.contains("libgdal") && !linked.contains("libproj"),
        "predio loads GDAL or PROJ:\n{linked}"
    );
    let helper = libraries(&exe.with_file_name("predio-gdal"));
    assert!(
        helper.contains("libgdal") && helper.contains("libproj"),
        "predio-gdal without GDAL and PROJ:\n{helper}"
    );

    let folder = tempfile::tempdir().expect("tempdir");
    let alone = folder.path().join("predio");
    fs::copy(exe, &alone).expect("predio copied");
    let data = catalog_with_a_version();
    let before = info(data.path());
    let parcels = sample_town().join("parcels.shp");
    let run = |args: &[&str]| {
        Command::new(&alone)
            .arg("--data")
            .arg(data.path())
            .args(args)
            .output()
            .expect("predio runs")
    };
    let out = run(&["import", "parcels", parcels.to_str().expect("utf-8")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an import without predio-gdal");
    assert!(
        stderr.contains("predio-gdal is not beside") && stderr.contains(&*alone.to_string_lossy()),
        "{stderr}"
    );
    assert_eq!(info(data.path()), before, "the catalog changed");
    let out = run(&["info"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
