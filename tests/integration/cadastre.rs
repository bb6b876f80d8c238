//! Importing real cadastres and the sample town, checked against GDAL as the peer.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use gdal::vector::LayerAccess;
use geo::{Contains, Distance, Euclidean, MultiPolygon, Point};
use predio_engine::{ParcelLayer, Value};
use predio_importers::Crs;

use crate::support::{
    current_parcels, gdal_tool, info, predio_ok, python, sample_town, shared, version_dir,
    vertex_hausdorff_m,
};

/// The answer of GDAL's SQLite dialect (SpatiaLite, GEOS) to `sql` on `src`, as ogrinfo prints it.
fn ogr_sql(src: &Path, sql: &str) -> String {
    gdal_tool(
        "ogrinfo",
        &[
            "-ro",
            "-q",
            "-dialect",
            "sqlite",
            "-sql",
            sql,
            src.to_str().expect("utf-8"),
        ],
    )
}

/// Ids the import report lists as repaired or skipped.
fn reported_ids(data: &Path) -> HashSet<String> {
    let mut r =
        csv::Reader::from_path(version_dir(data).join("import-report.csv")).expect("report");
    r.records()
        .map(|rec| rec.expect("csv row"))
        .filter(|rec| &rec[3] == "repaired" || &rec[3] == "skipped")
        .map(|rec| rec[2].to_owned())
        .collect()
}

/// Reprojects `src` with `ogr2ogr -t_srs EPSG:4326` and returns its geometries in source order.
fn ogr2ogr_geometries(src: &Path, extra: &[&str]) -> Vec<Option<MultiPolygon<f64>>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("peer.geojson");
    let mut args = vec!["-f", "GeoJSON", "-t_srs", "EPSG:4326"];
    args.extend_from_slice(extra);
    args.push(out.to_str().expect("utf-8"));
    args.push(src.to_str().expect("utf-8"));
    gdal_tool("ogr2ogr", &args);
    let ds = gdal::Dataset::open(&out).expect("peer output opens");
    let mut layer = ds.layer(0).expect("one layer");
    layer
        .features()
        .map(|f| {
            // `geometry_by_index` checks for a feature without geometry before any GDAL call
            // (`geometry()` hands out a null handle that GDAL then complains about on stderr).
            f.geometry_by_index(0)
                .ok()
                .and_then(|g| g.to_geo().ok())
                .and_then(|g| match g {
                    geo::Geometry::Polygon(p) => Some(MultiPolygon(vec![p])),
                    geo::Geometry::MultiPolygon(mp) => Some(mp),
                    _ => None,
                })
        })
        .collect()
}

/// Compares every `step`-th parcel (ids are feature numbers) with the peer, vertex by vertex.
fn assert_vertices_match(
    ours: &ParcelLayer,
    peer: &[Option<MultiPolygon<f64>>],
    skip: &HashSet<String>,
    step: usize,
    tolerance_m: f64,
) -> usize {
    let by_id: HashMap<&str, &MultiPolygon<f64>> = ours
        .parcels
        .iter()
        .map(|p| (p.id.as_str(), &p.geometry))
        .collect();
    let mut checked = 0;
    for (i, theirs) in peer.iter().enumerate().step_by(step) {
        let id = (i + 1).to_string();
        if skip.contains(&id) {
            continue;
        }
        let (Some(theirs), Some(mine)) = (theirs, by_id.get(id.as_str())) else {
            panic!(
                "feature {id}: stored by predio {}, by ogr2ogr {}",
                by_id.contains_key(id.as_str()),
                theirs.is_some()
            );
        };
        let d = vertex_hausdorff_m(mine, theirs);
        assert!(
            d <= tolerance_m,
            "feature {id}: a vertex lies {d:.3} m from where ogr2ogr puts it"
        );
        checked += 1;
    }
    checked
}

#[test]
fn seoul_parcels_all_handled_invalid_one_repaired_area_matches_gdal() {
    let Some(src) = shared("seoul-parcels/parcels.geojson") else {
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    predio_ok(
        data.path(),
        &["import", "parcels", src.to_str().expect("utf-8")],
    );
    let info = info(data.path());
    let parcels = &info["layers"]["parcels"];
    // The features and the invalid ones counted by GDAL with GEOS (SpatiaLite's ST_IsValid).
    let count_of = |sql: &str| -> u64 {
        let out = ogr_sql(&src, sql);
        out.lines()
            .find_map(|l| l.split("(Integer) =").nth(1))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no count in {out}"))
    };
    assert_eq!(
        parcels["read"],
        count_of("SELECT COUNT(*) AS n FROM parcels")
    );
    assert_eq!(
        parcels["invalid"],
        count_of("SELECT COUNT(*) AS n FROM parcels WHERE NOT ST_IsValid(geometry)")
    );
    let (count, repaired, skipped) = (
        parcels["count"].as_u64(),
        parcels["repaired"].as_u64(),
        parcels["skipped"].as_u64(),
    );
    assert_eq!(
        count.zip(skipped).map(|(c, s)| c + s),
        parcels["read"].as_u64()
    );
    assert_eq!(
        repaired.zip(skipped).map(|(r, s)| r + s),
        Some(1),
        "the invalid parcel is repaired or listed"
    );
    assert_eq!(reported_ids(data.path()).len(), 1);
    // Korean attribute names survive.
    let names: Vec<&str> = parcels["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(
        names.contains(&"고유번호") && names.contains(&"공시지가"),
        "{names:?}"
    );

    // Peer: GDAL's SQLite dialect with SpatiaLite's ellipsoidal ST_Area on the same file.
    let out = ogr_sql(&src, "SELECT SUM(ST_Area(geometry, 1)) AS a FROM parcels");
    let peer: f64 = out
        .lines()
        .find_map(|l| l.split("(Real) =").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no area in {out}"));
    let ours = parcels["total_area_m2"].as_f64().expect("area");
    assert!(
        ((ours - peer) / peer).abs() < 0.001,
        "predio {ours} m² vs GDAL/SpatiaLite {peer} m²"
    );
}

#[test]
fn cambridge_shapefile_in_us_feet_matches_ogr2ogr_and_loc_id_points_land_in_their_parcels() {
    let (Some(shp), Some(hoods)) = (
        shared("cambridge-parcels/cambridge_parcels_FY2014_epsg2249.shp"),
        shared("cambridge-parcels/BOUNDARY_CDDNeighborhoods.geojson"),
    ) else {
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    predio_ok(
        data.path(),
        &[
            "import",
            "sectors",
            hoods.to_str().expect("utf-8"),
            "--name-field",
            "NAME",
            "--id-field",
            "N_HOOD",
        ],
    );
    predio_ok(
        data.path(),
        &["import", "parcels", shp.to_str().expect("utf-8")],
    );
    let info = info(data.path());
    let meta = &info["layers"]["parcels"];
    assert_eq!(meta["read"], 13116);
    assert_eq!(meta["source"]["crs"], "EPSG:2249");
    let (count, skipped) = (
        meta["count"].as_u64().expect("n"),
        meta["skipped"].as_u64().expect("n"),
    );
    assert_eq!(count + skipped, 13116);
    // Only the one two-vertex sliver (feature 1896, no area) cannot be a polygon.
    assert!(skipped <= 1, "skipped {skipped}");
    assert_eq!(info["layers"]["sectors"]["count"], 13);

    let ours = current_parcels(data.path());
    let skip = reported_ids(data.path());
    let peer = ogr2ogr_geometries(&shp, &[]);
    assert_eq!(peer.len(), 13116);
    let checked = assert_vertices_match(&ours, &peer, &skip, 7, 1.0);
    assert!(checked > 1800, "compared {checked} parcels");

    // LOC_ID encodes an interior point in EPSG:2249 feet: reprojected by predio's PROJ
    // pipeline, it must fall inside or within 20 m of its parcel. 13 LOC_IDs are shared by
    // several parcels (roads, condominium pieces): there the point lies in one of them.
    let loc = ours
        .fields
        .iter()
        .position(|f| f.name == "LOC_ID")
        .expect("LOC_ID kept");
    let proj = Crs::from_user_input("EPSG:2249")
        .and_then(|c| c.to_wgs84())
        .expect("EPSG:2249");
    let mut groups: HashMap<&str, Vec<&MultiPolygon<f64>>> = HashMap::new();
    for p in &ours.parcels {
        if let Value::String(id) = &p.attributes[loc] {
            groups.entry(id.as_str()).or_default().push(&p.geometry);
        }
    }
    let (mut tested, mut far) = (0, Vec::new());
    for (id, parcels) in &groups {
        let mut parts = id.split('_').skip(1).map(str::parse::<f64>);
        let (Some(Ok(x)), Some(Ok(y))) = (parts.next(), parts.next()) else {
            continue;
        };
        let (lon, lat): (f64, f64) = proj.convert((x, y)).expect("inside the CRS's domain");
        let point = Point::new(lon, lat);
        tested += parcels.len();
        // Distance in metres: scale degrees locally around the point.
        let k = lat.to_radians().cos();
        let scale = |c: geo::Coord<f64>| geo::Coord {
            x: (c.x - lon) * 111_319.49 * k,
            y: (c.y - lat) * 110_574.0,
        };
        let d = parcels
            .iter()
            .map(|g| {
                if g.contains(&point) {
                    0.0
                } else {
                    Euclidean.distance(
                        &Point::new(0.0, 0.0),
                        &geo::MapCoords::map_coords(*g, scale),
                    )
                }
            })
            .fold(f64::INFINITY, f64::min);
        if d > 20.0 {
            far.push((id.to_string(), d));
        }
    }
    assert!(tested > 13000, "only {tested} LOC_IDs parsed");
    // A few LOC_IDs are far from their parcel in the source itself. GEOS, in the source CRS
    // (feet), names them; predio must find exactly those, at the same distance within 1 m.
    let sql = "SELECT LOC_ID, MIN(ST_Distance(geometry, MakePoint(CAST(substr(LOC_ID,3,6) AS REAL), \
               CAST(substr(LOC_ID,10,7) AS REAL)))) * 0.3048006096 AS d FROM cambridge_parcels_FY2014_epsg2249 \
               WHERE LOC_ID LIKE 'F_%' GROUP BY LOC_ID HAVING d > 20";
    let out = ogr_sql(&shp, sql);
    let ids = out
        .lines()
        .filter_map(|l| l.split("LOC_ID (String) = ").nth(1));
    let dists = out
        .lines()
        .filter_map(|l| l.split("d (Real) = ").nth(1)?.trim().parse::<f64>().ok());
    let mut source_far: Vec<(String, f64)> = ids.map(|s| s.trim().to_owned()).zip(dists).collect();
    source_far.sort_by(|a, b| a.0.cmp(&b.0));
    far.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        far.len(),
        source_far.len(),
        "predio far from parcel: {far:?}; in the source: {source_far:?}"
    );
    for ((id, d), (sid, sd)) in far.iter().zip(&source_far) {
        assert_eq!(id, sid);
        assert!(
            (d - sd).abs() < 1.0,
            "{id}: {d:.2} m after reprojection, {sd:.2} m in EPSG:2249"
        );
    }
    assert!(far.len() <= 3, "{far:?}");

    // Each parcel got the neighbourhood holding its interior point, else the one it overlaps
    // most; GEOS below says how many overlap none.
    let without = meta["without_sector"].as_u64().expect("counted");
    assert!(
        ours.parcels
            .iter()
            .filter(|p| p.sector_id.is_some())
            .count() as u64
            == count - without
    );

    // The assignment checked with GEOS (shapely), in sectors_check.py: a parcel covered by one
    // neighbourhood is in it, a straddling one in one it overlaps, one outside all in none.
    let geos = geos_sector_check(data.path(), &hoods, "N_HOOD");
    assert_eq!(geos["wrong"], serde_json::json!([]), "{geos}");
    let n = |k: &str| geos[k].as_u64().expect("a count");
    assert_eq!(
        n("covered") + n("straddling") + n("outside"),
        count,
        "{geos}"
    );
    assert_eq!(n("outside"), without, "{geos}");
    // Most parcels lie in one neighbourhood; for the straddling ones GEOS's own point on
    // the surface mostly agrees with predio's interior point.
    assert!(n("covered") > 12_000, "{geos}");
    assert!(
        n("straddling_same_point") * 10 >= n("straddling") * 8,
        "{geos}"
    );
}

#[test]
fn cambridge_topojson_imports_completely_with_srs_given() {
    let Some(topo) = shared("cambridge-parcels/ASSESSING_ParcelsFY2014.topojson") else {
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    let path = topo.to_str().expect("utf-8");
    // TopoJSON declares no CRS: predio asks for one rather than guessing.
    let out = crate::support::predio(data.path(), &["import", "parcels", path]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--srs"));
    predio_ok(
        data.path(),
        &["import", "parcels", path, "--srs", "EPSG:4326"],
    );
    let meta = &info(data.path())["layers"]["parcels"];
    assert_eq!(meta["read"], 13116);
    assert_eq!(meta["source"]["driver"], "TopoJSON");
    assert_eq!(
        meta["count"]
            .as_u64()
            .zip(meta["skipped"].as_u64())
            .map(|(c, s)| c + s),
        Some(13116)
    );
    let ours = current_parcels(data.path());
    let peer = ogr2ogr_geometries(&topo, &["-s_srs", "EPSG:4326"]);
    let checked = assert_vertices_match(&ours, &peer, &reported_ids(data.path()), 13, 0.01);
    assert!(checked > 900);
}

#[test]
fn sample_town_in_crtm05_matches_ogr2ogr_and_sectors_are_assigned() {
    let town = sample_town();
    let data = tempfile::tempdir().expect("tempdir");
    let parcels = town.join("parcels.shp");
    let sectors = town.join("sectors.shp");
    predio_ok(
        data.path(),
        &["import", "parcels", parcels.to_str().expect("utf-8")],
    );
    // Sectors after parcels: the parcels are re-assigned in the same new version.
    predio_ok(
        data.path(),
        &[
            "import",
            "sectors",
            sectors.to_str().expect("utf-8"),
            "--id-field",
            "codigo",
            "--name-field",
            "nombre",
            "--population-field",
            "poblacion",
        ],
    );
    let info = info(data.path());
    assert_eq!(info["layers"]["parcels"]["source"]["crs"], "EPSG:5367");
    assert_eq!(info["layers"]["parcels"]["count"], 2000);
    assert_eq!(info["layers"]["parcels"]["without_sector"], 0);
    assert_eq!(info["layers"]["parcels"]["invalid"], 0);
    assert_eq!(info["operation"], "import sectors");

    let ours = current_parcels(data.path());
    let peer = ogr2ogr_geometries(&parcels, &[]);
    assert_eq!(
        assert_vertices_match(&ours, &peer, &HashSet::new(), 1, 1.0),
        2000
    );

    let sectors_read = predio_engine::read_sectors(&version_dir(data.path()).join("sectors.fgb"))
        .expect("sectors");
    assert!(sectors_read
        .sectors
        .iter()
        .all(|s| s.population.is_some_and(|p| p > 0.0)));
    // Every parcel is in its sector, checked with GEOS against the source sectors.
    let geos = geos_sector_check(data.path(), &sectors, "codigo");
    assert_eq!(geos["wrong"], serde_json::json!([]), "{geos}");
    assert_eq!(geos["outside"], 0, "{geos}");
}

/// sectors_check.py (shapely, GEOS) on the current parcels and the source sectors.
fn geos_sector_check(data: &Path, sectors: &Path, id_field: &str) -> serde_json::Value {
    let script = crate::support::workspace().join("tests/integration/sectors_check.py");
    let parcels = version_dir(data).join("parcels.fgb");
    crate::support::python_json(
        &python(),
        &[
            script.to_str().expect("utf-8"),
            parcels.to_str().expect("utf-8"),
            sectors.to_str().expect("utf-8"),
            id_field,
        ],
    )
}
