//! Reports: CSV with a mapping, geocoded to parcels and sectors; bad rows refused by line;
//! re-imports upsert; personal columns never stored.

use std::fs;
use std::io::Read;
use std::path::Path;

use gdal::vector::Geometry as OgrGeometry;
use geozero::{CoordDimensions, ToWkb};
use predio_engine::{read_parcels, read_reports, MatchKind};

use crate::support::{info, predio, predio_ok, sample_town, shared, version_dir};

fn town_catalog() -> tempfile::TempDir {
    let town = sample_town();
    let data = tempfile::tempdir().expect("tempdir");
    let s = town.join("sectors.shp");
    let p = town.join("parcels.shp");
    predio_ok(
        data.path(),
        &[
            "import",
            "sectors",
            s.to_str().expect("utf-8"),
            "--id-field",
            "codigo",
        ],
    );
    predio_ok(
        data.path(),
        &[
            "import",
            "parcels",
            p.to_str().expect("utf-8"),
            "--id-field",
            "finca",
        ],
    );
    data
}

fn import(data: &Path, csv: &Path, mapping: &Path) -> std::process::Output {
    predio(
        data,
        &[
            "import",
            "reports",
            csv.to_str().expect("utf-8"),
            "--mapping",
            mapping.to_str().expect("utf-8"),
        ],
    )
}

#[test]
fn sample_town_reports_geocode_inside_and_nearest_and_keep_personal_data_out() {
    let town = sample_town();
    let data = town_catalog();
    let (csv, mapping) = (town.join("reports.csv"), town.join("reports-mapping.toml"));
    let out = import(data.path(), &csv, &mapping);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta = info(data.path())["reports"].clone();
    assert_eq!(meta["count"], 500);

    // Recount from the CSV itself: unlocated = empty coordinates or the town hall point.
    let mut rows = csv::Reader::from_path(&csv).expect("csv");
    let hall = fs::read_to_string(&mapping).expect("mapping");
    let hall_point = hall
        .lines()
        .find(|l| l.starts_with("default_points"))
        .expect("default point")
        .to_owned();
    let mut unlocated = 0;
    let mut personal = Vec::new();
    for r in rows.records() {
        let r = r.expect("row");
        let at_hall = !r[9].is_empty()
            && hall_point.contains(&format!(
                "[{}, {}]",
                r[9].parse::<f64>().expect("lat"),
                r[10].parse::<f64>().expect("lon")
            ));
        if r[9].is_empty() || at_hall {
            unlocated += 1;
        }
        for col in [12, 13] {
            if !r[col].is_empty() {
                personal.push(r[col].to_owned()); // e-mail, phone
            }
        }
    }
    let m = &meta["matches"];
    assert_eq!(m["unlocated"], unlocated);
    let total: u64 = ["inside", "nearest", "none", "unlocated"]
        .iter()
        .map(|k| m[k].as_u64().expect("count"))
        .sum();
    assert_eq!(total, 500);
    assert!(
        m["nearest"].as_u64() > Some(50),
        "pins on the street find the nearest parcel: {m}"
    );

    // Every `inside` match agrees with GEOS (through GDAL) on the stored parcel.
    let dir = version_dir(data.path());
    let parcels = read_parcels(&dir.join("parcels.fgb")).expect("parcels");
    let by_id: std::collections::HashMap<_, _> = parcels
        .parcels
        .iter()
        .map(|p| (p.id.clone(), &p.geometry))
        .collect();
    let reports = read_reports(&dir).expect("reports");
    for r in reports.iter().filter(|r| r.match_kind == MatchKind::Inside) {
        let g = by_id[r.parcel_id.as_ref().expect("parcel")];
        let wkb = geo::Geometry::MultiPolygon(g.clone())
            .to_wkb(CoordDimensions::xy())
            .expect("wkb");
        let poly = OgrGeometry::from_wkb(&wkb).expect("ogr");
        let mut pt = OgrGeometry::empty(gdal::vector::OGRwkbGeometryType::wkbPoint).expect("point");
        pt.add_point_2d((r.lon.expect("lon"), r.lat.expect("lat")));
        assert!(
            poly.intersects(&pt),
            "report {} is not in parcel {:?} by GEOS",
            r.id,
            r.parcel_id
        );
    }
    let columns = predio_engine::reports_frame(&reports)
        .expect("frame")
        .get_column_names_owned();
    for personal_column in [
        "nombre",
        "correo",
        "telefono",
        "descripcion",
        "description",
        "name",
        "email",
        "phone",
    ] {
        assert!(
            !columns.iter().any(|c| c.as_str() == personal_column),
            "{personal_column} is a column"
        );
    }
    for r in reports
        .iter()
        .filter(|r| r.match_kind == MatchKind::Nearest)
    {
        assert!(r.distance_m.is_some_and(|d| d > 0.0 && d <= 25.0), "{r:?}");
    }

    // Personal data: no column of it, and no e-mail anywhere in the version's files.
    for entry in fs::read_dir(&dir).expect("dir") {
        let mut bytes = Vec::new();
        fs::File::open(entry.expect("entry").path())
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .expect("read");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            personal.iter().all(|p| !text.contains(p.as_str())),
            "an e-mail address or phone was stored"
        );
    }

    // A newer export: one report changes status, nothing is duplicated.
    let text = fs::read_to_string(&csv).expect("csv");
    let line = text.lines().nth(1).expect("first row").to_owned();
    let id = line.split(',').next().expect("id").to_owned();
    let mut fields: Vec<String> = line.split(',').map(str::to_owned).collect();
    fields[4] = "Rechazado".into();
    fields[3] = "2025-12-31 10:00".into();
    let newer = tempfile::NamedTempFile::new().expect("tmp");
    fs::write(
        newer.path(),
        format!(
            "{}\n{}\n",
            text.lines().next().expect("header"),
            fields.join(",")
        ),
    )
    .expect("write");
    predio_ok(
        data.path(),
        &[
            "import",
            "reports",
            newer.path().to_str().expect("utf-8"),
            "--mapping",
            mapping.to_str().expect("utf-8"),
        ],
    );
    let after = info(data.path());
    assert_eq!(after["reports"]["count"], 500);
    assert_eq!(after["reports"]["imports"][1]["updated"], 1);
    let reports = read_reports(&version_dir(data.path())).expect("reports");
    let r = reports.iter().find(|r| r.id == id).expect("still there");
    assert_eq!(
        (r.status.as_str(), r.status_label.as_str()),
        ("rejected", "Rechazado")
    );
}

#[test]
fn bad_rows_are_refused_by_line_and_the_rest_import() {
    let town = sample_town();
    let data = town_catalog();
    let mapping = town.join("reports-mapping.toml");
    let text = fs::read_to_string(town.join("reports.csv")).expect("csv");
    let mut lines: Vec<String> = text.lines().take(21).map(str::to_owned).collect();
    let edit = |line: &str, col: usize, value: &str| {
        let mut f: Vec<String> = line.split(',').map(str::to_owned).collect();
        f[col] = value.to_owned();
        f.join(",")
    };
    lines[3] = edit(&lines[3], 1, "31/02/2025 10:00"); // bad timestamp, line 4
    lines[5] = edit(&lines[5], 4, "Archivado"); // unknown status, line 6
    let swapped = {
        let f: Vec<&str> = lines[7].split(',').collect();
        let (lat, lon) = (f[9].to_owned(), f[10].to_owned());
        edit(&edit(&lines[7], 9, &lon), 10, &lat)
    };
    lines[7] = swapped; // lat/long swapped, line 8
    lines[9] = edit(&lines[9], 0, lines[2].split(',').next().expect("id")); // duplicate id, line 10
    let bad = tempfile::NamedTempFile::new().expect("tmp");
    fs::write(bad.path(), lines.join("\n") + "\n").expect("write");
    let out = import(data.path(), bad.path(), &mapping);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(info(data.path())["reports"]["count"], 16, "{stderr}");
    let report =
        fs::read_to_string(version_dir(data.path()).join("import-report.csv")).expect("report");
    let skipped: Vec<&str> = report.lines().filter(|l| l.contains(",skipped,")).collect();
    assert_eq!(skipped.len(), 4, "{report}");
    for (line, why) in [
        (4, "bad created_at"),
        (6, "unknown status"),
        (8, "swapped"),
        (10, "duplicate id"),
    ] {
        assert!(
            skipped
                .iter()
                .any(|l| l.starts_with(&format!("reports,{line},")) && l.contains(why)),
            "line {line}: {why}\n{report}"
        );
    }

    // A header without a mapped column, an empty file, a missing file: clear errors.
    let wrong = tempfile::NamedTempFile::new().expect("tmp");
    fs::write(wrong.path(), "a,b,c\n1,2,3\n").expect("write");
    let out = import(data.path(), wrong.path(), &mapping);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no field \"id_reporte\""));
    let empty = tempfile::NamedTempFile::new().expect("tmp");
    fs::write(
        empty.path(),
        text.lines().next().expect("header").to_owned() + "\n",
    )
    .expect("write");
    assert!(!import(data.path(), empty.path(), &mapping).status.success());
    assert!(
        !import(data.path(), Path::new("/nonexistent.csv"), &mapping)
            .status
            .success()
    );
}

#[test]
fn boston_311_imports_with_city_hall_points_flagged_and_neighbourhoods_assigned() {
    let (Some(csv), Some(hoods)) = (
        shared("boston-311/boston_311_2015.csv.gz"),
        shared("boston-311/neighborhoods.geojson"),
    ) else {
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    predio_ok(
        data.path(),
        &["import", "sectors", hoods.to_str().expect("utf-8")],
    );
    let mapping = crate::support::workspace().join("data-samples/mappings/boston-311.toml");
    let out = import(data.path(), &csv, &mapping);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta = info(data.path())["reports"].clone();
    assert_eq!(meta["count"], 121_145);
    assert_eq!(meta["by_status"]["resolved"], 101_272);
    assert_eq!(meta["by_status"]["open"], 19_873);

    // Recount the city-hall default point straight from the file.
    let mut gz = flate2::read::MultiGzDecoder::new(fs::File::open(&csv).expect("open"));
    let mut text = String::new();
    gz.read_to_string(&mut text).expect("gunzip");
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let h = rdr.headers().expect("header").clone();
    let (la, lo) = (
        h.iter().position(|c| c == "LATITUDE").expect("lat"),
        h.iter().position(|c| c == "LONGITUDE").expect("lon"),
    );
    let hall = rdr
        .records()
        .map(|r| r.expect("row"))
        .filter(|r| {
            r[la].is_empty()
                || (r[la].parse::<f64>().ok() == Some(42.3594)
                    && r[lo].parse::<f64>().ok() == Some(-71.0587))
        })
        .count();
    assert_eq!(meta["matches"]["unlocated"], hall);

    let reports = read_reports(&version_dir(data.path())).expect("reports");
    let located: Vec<_> = reports
        .iter()
        .filter(|r| r.location == predio_engine::Location::Located)
        .collect();
    let in_sector = located.iter().filter(|r| r.sector_id.is_some()).count();
    assert!(
        in_sector * 100 >= located.len() * 97,
        "{in_sector} of {} located cases in a neighbourhood",
        located.len()
    );
    assert!(reports
        .iter()
        .all(|r| r.location != predio_engine::Location::Located || r.h3.is_some()));
    // The city's own deadline and verdict are kept for the compliance oracle.
    assert!(
        reports
            .iter()
            .filter(|r| r.deadline_at.is_some() && r.source_on_time.is_some())
            .count()
            > 50_000
    );
}
