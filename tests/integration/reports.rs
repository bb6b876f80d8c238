//! Reports: CSV with a mapping, geocoded to parcels and sectors; bad rows refused by line;
//! re-imports upsert; personal columns never stored.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use gdal::vector::Geometry as OgrGeometry;
use geozero::{CoordDimensions, ToGeo, ToWkb};
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
            "--address-field",
            "direccion",
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
    // counter and phone reports without coordinates: the lot's finca or address instead
    let mut by_text: Vec<(String, String, String)> = Vec::new();
    for r in rows.records() {
        let r = r.expect("row");
        let at_hall = !r[9].is_empty()
            && hall_point.contains(&format!(
                "[{}, {}]",
                r[9].parse::<f64>().expect("lat"),
                r[10].parse::<f64>().expect("lon")
            ));
        let (address, finca) = (&r[14], &r[15]);
        if r[9].is_empty() && (!address.is_empty() || !finca.is_empty()) {
            by_text.push((r[0].to_owned(), address.to_owned(), finca.to_owned()));
        } else if r[9].is_empty() || at_hall {
            unlocated += 1;
        }
        for col in [12, 13] {
            if !r[col].is_empty() {
                personal.push(r[col].to_owned()); // e-mail, phone
            }
        }
    }
    let m = &meta["matches"];
    let kinds = ["parcel_ref", "address", "address_near", "address_fuzzy"];
    let placed: u64 = kinds.iter().map(|k| m[k].as_u64().expect("count")).sum();
    assert!(by_text.len() > 10, "{} counter reports", by_text.len());
    assert_eq!(
        m["unlocated"].as_u64(),
        Some(unlocated + by_text.len() as u64 - placed),
        "{m}"
    );
    assert!(
        placed as usize * 10 >= by_text.len() * 9,
        "{placed} of {} placed: {m}",
        by_text.len()
    );
    let total: u64 = ["inside", "nearest", "none", "unlocated"]
        .iter()
        .chain(&kinds)
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
    // each counter report on its lot: the finca's digits, or the address's street (the number
    // may be 2 off: the nearest number on the same side)
    let direccion = parcels
        .fields
        .iter()
        .position(|f| f.name == "direccion")
        .expect("the parcels' addresses");
    let by_parcel: std::collections::HashMap<_, _> =
        parcels.parcels.iter().map(|p| (p.id.clone(), p)).collect();
    let digits = |s: &str| {
        s.chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
            .trim_start_matches('0')
            .to_owned()
    };
    for (id, address, finca) in &by_text {
        let r = reports
            .iter()
            .find(|r| r.id.as_str() == id)
            .expect("the report");
        let Some(p) = r.parcel_id.as_ref().map(|p| by_parcel[p]) else {
            continue;
        };
        assert_eq!(r.location, predio_engine::Location::Derived);
        if !finca.is_empty() {
            assert_eq!(digits(finca), digits(p.id.as_str()), "{id}");
        } else {
            let street = |a: &str| a.split_whitespace().nth(1).map(str::to_owned);
            let theirs = p.attributes[direccion].to_string();
            assert_eq!(
                street(address),
                street(&theirs),
                "{id}: {address} on {theirs}"
            );
        }
    }
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
    let r = reports
        .iter()
        .find(|r| r.id.as_str() == id)
        .expect("still there");
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

    // The counts recounted straight from the file: every case, by CASE_STATUS (the mapping
    // reads Closed as resolved), and at the city-hall default point.
    let mut gz = flate2::read::MultiGzDecoder::new(fs::File::open(&csv).expect("open"));
    let mut text = String::new();
    gz.read_to_string(&mut text).expect("gunzip");
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let h = rdr.headers().expect("header").clone();
    let status = h
        .iter()
        .position(|c| c == "CASE_STATUS")
        .expect("CASE_STATUS");
    let mut by_status: HashMap<String, u64> = HashMap::new();
    let mut cases = 0u64;
    for r in csv::Reader::from_reader(text.as_bytes()).records() {
        *by_status
            .entry(r.expect("row")[status].to_owned())
            .or_default() += 1;
        cases += 1;
    }
    assert_eq!(meta["count"], cases);
    assert_eq!(meta["by_status"]["resolved"], by_status["Closed"]);
    assert_eq!(meta["by_status"]["open"], by_status["Open"]);
    assert_eq!(by_status.len(), 2, "{by_status:?}");
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

/// Random points over Seoul's parcels: every match agrees with GEOS (through GDAL). Inside:
/// GEOS finds the point in predio's parcel, and in no parcel when predio says otherwise.
/// Nearest and none: planar distances in EPSG:5186 (Korea 2000 / Central Belt, metres; PROJ
/// through GDAL) agree with predio's nearest parcel and distance within 0.5 m, and with the
/// 25 m tolerance.
#[test]
fn seoul_random_points_match_geos_inside_nearest_and_none() {
    let Some(src) = shared("seoul-parcels/parcels.geojson") else {
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    predio_ok(d, &["import", "parcels", src.to_str().expect("utf-8")]);
    let parcels = crate::support::current_parcels(d);
    let bbox = parcels.bbox().expect("bbox");

    // 100,000 points from a fixed LCG over the bbox widened by 50 m.
    const N: usize = 100_000;
    let (w, s) = (bbox.west - 0.0006, bbox.south - 0.00045);
    let (dx, dy) = (bbox.east + 0.0006 - w, bbox.north + 0.00045 - s);
    let mut next = crate::support::uniform(0x2545_f491_4f6c_dd1d);
    let csv = d.join("points.csv");
    let mut text = String::from("id,lat,lon\n");
    for i in 0..N {
        let (lon, lat) = (w + next() * dx, s + next() * dy);
        text += &format!("{i},{lat:.8},{lon:.8}\n");
    }
    fs::write(&csv, text).expect("write");
    let mapping = d.join("points.toml");
    fs::write(
        &mapping,
        "[source]\ntimezone = \"Asia/Seoul\"\ndatetime_formats = [\"%Y-%m-%d\"]\n[columns]\nid = \"id\"\nlat = \"lat\"\nlon = \"lon\"\n[defaults]\nstatus = \"open\"\ncreated_at = \"2025-01-01\"\n[status]\n\"open\" = \"open\"\n",
    )
    .expect("write");
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
    assert_eq!(reports.len(), N);

    let to_tm = {
        let mut wgs = gdal::spatial_ref::SpatialRef::from_epsg(4326).expect("4326");
        wgs.set_axis_mapping_strategy(gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder);
        let mut tm = gdal::spatial_ref::SpatialRef::from_epsg(5186).expect("5186");
        tm.set_axis_mapping_strategy(gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder);
        gdal::spatial_ref::CoordTransform::new(&wgs, &tm).expect("transform")
    };
    let ogr = |g: &geo::MultiPolygon<f64>| {
        let wkb = geo::Geometry::MultiPolygon(g.clone())
            .to_wkb(CoordDimensions::xy())
            .expect("wkb");
        OgrGeometry::from_wkb(&wkb).expect("ogr")
    };
    let index: std::collections::HashMap<&str, usize> = parcels
        .parcels
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let planar = |g: &OgrGeometry| -> geo::Geometry<f64> {
        let mut m = g.clone();
        m.transform_inplace(&to_tm).expect("to EPSG:5186");
        geozero::wkb::Wkb(m.wkb().expect("wkb"))
            .to_geo()
            .expect("geo")
    };
    let geoms: Vec<(OgrGeometry, geo::Geometry<f64>, [f64; 4])> = parcels
        .parcels
        .iter()
        .map(|p| {
            let g = ogr(&p.geometry);
            let m = planar(&g);
            let e = g.envelope();
            (g, m, [e.MinX, e.MinY, e.MaxX, e.MaxY])
        })
        .collect();
    let distance = |a: &geo::Geometry<f64>, b: &geo::Geometry<f64>| {
        use geo::{Distance, Euclidean};
        Euclidean.distance(a, b)
    };
    let (mut inside, mut nearest, mut none) = (0, 0, 0);
    // Degrees around a point that surely hold 25 m (+ margin) at 37.5° N.
    let (mx, my) = (0.0004, 0.0003);
    for r in &reports {
        let (lon, lat) = (r.lon.expect("lon"), r.lat.expect("lat"));
        let mut pt = OgrGeometry::empty(gdal::vector::OGRwkbGeometryType::wkbPoint).expect("pt");
        pt.add_point_2d((lon, lat));
        let near: Vec<usize> = geoms
            .iter()
            .enumerate()
            .filter(|(_, (_, _, e))| {
                lon >= e[0] - mx && lon <= e[2] + mx && lat >= e[1] - my && lat <= e[3] + my
            })
            .map(|(i, _)| i)
            .collect();
        let containing: Vec<usize> = near
            .iter()
            .copied()
            .filter(|&i| geoms[i].0.intersects(&pt))
            .collect();
        let mine = r.parcel_id.as_ref().map(|p| index[p.as_str()]);
        match r.match_kind {
            MatchKind::Inside => {
                inside += 1;
                assert!(
                    mine.is_some_and(|i| containing.contains(&i)),
                    "point {} ({lon}, {lat}): predio's parcel is not one GEOS finds it in: {containing:?}",
                    r.id
                );
            }
            kind => {
                assert!(
                    containing.is_empty(),
                    "point {} is in {containing:?} by GEOS but {kind:?}",
                    r.id
                );
                let p = planar(&pt);
                let dist: Vec<(usize, f64)> = near
                    .iter()
                    .map(|&i| (i, distance(&geoms[i].1, &p)))
                    .collect();
                let best = dist.iter().map(|x| x.1).fold(f64::INFINITY, f64::min);
                if kind == MatchKind::Nearest {
                    nearest += 1;
                    let i = mine.expect("a nearest parcel");
                    let d = r.distance_m.expect("distance");
                    let geos_d = distance(&geoms[i].1, &p);
                    assert!(
                        (d - geos_d).abs() < 0.5,
                        "point {}: predio {d} m, GEOS {geos_d} m",
                        r.id
                    );
                    assert!(
                        geos_d - best < 0.5,
                        "point {}: GEOS has a parcel at {best} m, predio's at {geos_d} m",
                        r.id
                    );
                    assert!(best <= 25.5, "point {}: nearest at {best} m", r.id);
                } else {
                    none += 1;
                    assert!(
                        best > 24.5,
                        "point {}: GEOS has a parcel {best} m away",
                        r.id
                    );
                }
            }
        }
    }
    assert_eq!(inside + nearest + none, N);
    assert!(
        inside > 10_000 && nearest > 1_000 && none > 1_000,
        "{inside} {nearest} {none}"
    );
}
