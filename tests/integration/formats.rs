//! The same parcels through every format GDAL writes that municipalities send: each imports to
//! the same parcels with the same attributes.

use std::path::Path;

use crate::support::{gdal_tool, info, predio_ok, sample_town};

fn convert(src: &Path, dst: &Path, driver: &str) {
    gdal_tool(
        "ogr2ogr",
        &[
            "-f",
            driver,
            dst.to_str().expect("utf-8"),
            src.to_str().expect("utf-8"),
        ],
    );
}

#[test]
fn geopackage_geojson_flatgeobuf_gml_and_zipped_shapefile_import_alike() {
    let town = sample_town();
    let src = town.join("parcels.shp");
    let dir = tempfile::tempdir().expect("tempdir");
    let gpkg = dir.path().join("catastro.gpkg");
    let fgb = dir.path().join("catastro.fgb");
    let gml = dir.path().join("catastro.gml");
    let geojson = dir.path().join("catastro.geojson");
    convert(&src, &gpkg, "GPKG");
    convert(&src, &fgb, "FlatGeobuf");
    convert(&src, &gml, "GML");
    // GeoJSON is WGS 84 by definition (RFC 7946).
    gdal_tool(
        "ogr2ogr",
        &[
            "-f",
            "GeoJSON",
            "-t_srs",
            "EPSG:4326",
            geojson.to_str().expect("utf-8"),
            src.to_str().expect("utf-8"),
        ],
    );
    // A zipped shapefile as municipalities mail them: GDAL writes .shz (a zip of
    // .shp/.shx/.dbf/.prj), renamed .zip. No zip tool needed.
    let shz = dir.path().join("catastro.shz");
    convert(&src, &shz, "ESRI Shapefile");
    let zip = dir.path().join("catastro.zip");
    std::fs::rename(&shz, &zip).expect("rename");

    let reference = {
        let data = tempfile::tempdir().expect("tempdir");
        predio_ok(
            data.path(),
            &[
                "import",
                "parcels",
                src.to_str().expect("utf-8"),
                "--id-field",
                "finca",
            ],
        );
        info(data.path())["layers"]["parcels"].clone()
    };
    let cases = [
        (gpkg, "GPKG"),
        (fgb, "FlatGeobuf"),
        (gml, "GML"),
        (geojson, "GeoJSON"),
        (zip, "ESRI Shapefile"),
    ];
    for (path, driver) in cases {
        let data = tempfile::tempdir().expect("tempdir");
        predio_ok(
            data.path(),
            &[
                "import",
                "parcels",
                path.to_str().expect("utf-8"),
                "--id-field",
                "finca",
            ],
        );
        let meta = &info(data.path())["layers"]["parcels"];
        assert_eq!(meta["source"]["driver"], driver, "{}", path.display());
        assert_eq!(meta["count"], reference["count"], "{driver}");
        assert_eq!(meta["invalid"], 0, "{driver}");
        let area = meta["total_area_m2"].as_f64().expect("area");
        let ref_area = reference["total_area_m2"].as_f64().expect("area");
        assert!(
            ((area - ref_area) / ref_area).abs() < 1e-6,
            "{driver}: {area} vs {ref_area}"
        );
        let names = |m: &serde_json::Value| -> Vec<String> {
            m["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .filter_map(|f| f["name"].as_str().map(str::to_owned))
                .filter(|n| n != "fid" && n != "gml_id")
                .collect()
        };
        assert_eq!(names(meta), names(&reference), "{driver}");
    }
}
