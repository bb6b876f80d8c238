//! The same parcels through every format GDAL writes that municipalities send: each imports to
//! the same parcels (vertex by vertex) with the same attribute values.

use std::path::Path;

use std::collections::HashMap;

use predio_engine::{read_parcels, ParcelLayer};

use crate::support::{gdal_tool, info, predio_ok, sample_town, version_dir, vertices};

/// Each parcel's attributes by field name (the GDAL-added `fid`, `gml_id` apart), as text,
/// numbers compared as numbers.
fn attributes(layer: &ParcelLayer) -> HashMap<String, Vec<(String, String)>> {
    layer
        .parcels
        .iter()
        .map(|p| {
            let mut values: Vec<(String, String)> = layer
                .fields
                .iter()
                .zip(&p.attributes)
                .filter(|(f, _)| f.name != "fid" && f.name != "gml_id")
                .map(|(f, v)| {
                    let text = v.to_string();
                    let text = text.parse::<f64>().map_or(text, |x| format!("{x:.6}"));
                    (f.name.clone(), text)
                })
                .collect();
            values.sort();
            (p.id.as_str().to_owned(), values)
        })
        .collect()
}

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
        let layer = read_parcels(&version_dir(data.path()).join("parcels.fgb")).expect("parcels");
        (info(data.path())["layers"]["parcels"].clone(), layer)
    };
    let (reference, reference_layer) = reference;
    let reference_attributes = attributes(&reference_layer);
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
        // Parcel by parcel: the same attribute values and the same vertices (GeoJSON's
        // coordinates were reprojected by GDAL, the others by predio: within 1e-7°, ~1 cm).
        let layer = read_parcels(&version_dir(data.path()).join("parcels.fgb")).expect("parcels");
        assert_eq!(
            attributes(&layer),
            reference_attributes,
            "{driver}: attributes"
        );
        let by_id: HashMap<&str, _> = reference_layer
            .parcels
            .iter()
            .map(|p| (p.id.as_str(), &p.geometry))
            .collect();
        for p in &layer.parcels {
            let (a, b) = (vertices(&p.geometry), vertices(by_id[p.id.as_str()]));
            assert_eq!(a.len(), b.len(), "{driver}: parcel {} vertices", p.id);
            for (u, v) in a.iter().zip(&b) {
                assert!(
                    (u.x - v.x).abs() < 1e-7 && (u.y - v.y).abs() < 1e-7,
                    "{driver}: parcel {} at {u:?} vs {v:?}",
                    p.id
                );
            }
        }
    }
}
