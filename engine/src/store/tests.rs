//! The catalog's commits, versions and crash safety.

use super::*;
use crate::error::Error;
use crate::format::layer_file;
use crate::model::LayerKind;
use crate::model::{Parcel, ParcelId, Sector, SectorId};
use crate::store::NewVersion;
use crate::table::Table;
use chrono::Utc;
use geo::{polygon, MultiPolygon};
use std::collections::BTreeMap;
use std::fs;

fn meta(kind: LayerKind, count: usize) -> LayerMeta {
    LayerMeta {
        file: kind.file_name().into(),
        source: SourceInfo {
            path: "test".into(),
            layer: "test".into(),
            driver: "memory".into(),
            crs: "EPSG:4326".into(),
            crs_name: "WGS 84".into(),
            crs_from_option: false,
        },
        read: count,
        count,
        invalid: 0,
        repaired: 0,
        skipped: 0,
        without_sector: None,
        bbox: None,
        total_area_m2: 0.0,
        fields: vec![],
        id_field: None,
        address_fields: Vec::new(),
        ref_field: None,
        imported_at: Utc::now(),
        keys: None,
    }
}

fn unit() -> MultiPolygon<f64> {
    MultiPolygon(vec![
        polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 0.0)],
    ])
}

fn parcels(n: usize) -> (ParcelLayer, LayerMeta) {
    let layer = ParcelLayer {
        fields: vec![],
        parcels: (0..n)
            .map(|i| Parcel {
                id: ParcelId::new(i.to_string()),
                sector_id: None,
                area_m2: 1.0,
                geometry: unit(),
                attributes: vec![],
            })
            .collect(),
    };
    (layer, meta(LayerKind::Parcels, n))
}

#[test]
fn parcel_keys_come_from_their_own_file_or_from_the_layer_of_an_older_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cat = DirCatalog::new(dir.path().join("data"));
    let (mut layer, meta) = parcels(5);
    for (i, p) in layer.parcels.iter_mut().enumerate() {
        p.id = ParcelId::new(format!("finca-{}", 5 - i));
        p.area_m2 = 100.0 * i as f64 + 0.25;
        // Scattered: the layer file's spatial index orders them otherwise.
        let (x, y) = ((i * 3 % 5) as f64, (i * 2 % 5) as f64);
        p.geometry = MultiPolygon(vec![
            polygon![(x: x, y: y), (x: x + 0.5, y: y), (x: x + 0.5, y: y + 0.5), (x: x, y: y)],
        ]);
    }
    let v1 = cat
        .commit(Change {
            operation: "import parcels".into(),
            parcels: Some((layer.clone(), meta)),
            ..Default::default()
        })
        .expect("v1");
    let layer_meta = &v1.layers[&LayerKind::Parcels];
    assert_eq!(layer_meta.keys.as_deref(), Some(PARCEL_KEYS));
    assert!(v1.files.contains_key(PARCEL_KEYS));
    cat.verify(&v1).expect("intact");
    // The keys in the layer file's order, each with its area.
    let from_layer = layer_file::read_parcel_keys(&cat.file_path(&v1, "parcels.fgb"));
    let expected = from_layer.expect("layer keys");
    let mut by_id: Vec<(String, f64)> = expected
        .iter()
        .map(|k| (k.id.to_string(), k.area_m2))
        .collect();
    by_id.sort_by(|a, b| a.0.cmp(&b.0));
    let mut given: Vec<(String, f64)> = layer
        .parcels
        .iter()
        .map(|p| (p.id.to_string(), p.area_m2))
        .collect();
    given.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(by_id, given);
    assert_eq!(cat.parcel_keys(&v1).expect("keys"), Some(expected.clone()));
    // A version written before the keys file (or by an older predio, which may carry a
    // stale one forward under the name) reads them from the layer.
    let mut older = v1.clone();
    if let Some(m) = older.layers.get_mut(&LayerKind::Parcels) {
        m.keys = None;
    }
    fs::write(cat.file_path(&v1, PARCEL_KEYS), b"not parquet").expect("spoil");
    assert_eq!(cat.parcel_keys(&older).expect("keys"), Some(expected));
    // The new file is read when named: a damaged one is an error naming it.
    let err = cat.parcel_keys(&v1).expect_err("damaged");
    assert!(err.to_string().contains(PARCEL_KEYS), "{err}");
    // A manifest written before the field reads as one without it.
    let json = serde_json::to_string(&older).expect("json");
    assert!(!json.contains("\"keys\""), "{json}");
    let back: Manifest = serde_json::from_str(&json).expect("parse");
    assert_eq!(back, older);
}

#[test]
fn commits_make_new_versions_and_carry_untouched_layers_forward() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cat = DirCatalog::new(dir.path().join("data"));
    assert_eq!(cat.current().expect("empty"), None);

    let sectors = SectorLayer {
        fields: vec![],
        sectors: vec![Sector {
            id: SectorId::new("s"),
            name: "S".into(),
            population: Some(10.0),
            area_m2: 1.0,
            geometry: unit(),
            attributes: vec![],
        }],
    };
    let v1 = cat
        .commit(Change {
            operation: "import sectors".into(),
            sectors: Some((sectors.clone(), meta(LayerKind::Sectors, 1))),
            ..Default::default()
        })
        .expect("v1");
    let v2 = cat
        .commit(Change {
            operation: "import parcels".into(),
            parcels: Some(parcels(3)),
            ..Default::default()
        })
        .expect("v2");
    assert_eq!(v2.parent, Some(v1.version));
    assert_eq!(cat.current().expect("current"), Some(v2.clone()));
    assert_eq!(cat.sectors(&v2).expect("read"), Some(sectors));
    assert_eq!(
        cat.parcels(&v2).expect("read").map(|l| l.parcels.len()),
        Some(3)
    );
    // v1 is untouched and still readable.
    assert_eq!(cat.parcels(&v1).expect("read"), None);
    cat.verify(&v1).expect("v1 intact");
    cat.verify(&v2).expect("v2 intact");
    assert_eq!(cat.versions().expect("list"), vec![v1.version, v2.version]);
}

#[test]
fn saved_segments_travel_with_later_versions_until_the_indices_change() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().expect("tempdir");
    let cat = DirCatalog::new(dir.path());
    cat.commit(Change {
        operation: "import parcels".into(),
        parcels: Some(parcels(2)),
        ..Default::default()
    })
    .expect("v1");
    let table = df!(
        "parcel_id" => ["0", "1"],
        "segment" => [0u32, 1],
        "description" => ["average", "high open (+1.0 sd)"],
    )
    .expect("frame");
    let meta = SegmentsMeta {
        window: "90d".into(),
        fields: vec!["open".into()],
        seed: 42,
        k: 2,
        silhouette: 0.5,
        sizes: vec![1, 1],
        descriptions: vec!["average".into(), "high open (+1.0 sd)".into()],
        indices_as_of: Utc::now(),
    };
    let v2 = cat
        .commit(Change {
            operation: "segments parcel".into(),
            segments: Some((
                Level::Parcel,
                Table::from_frame(table.clone()),
                meta.clone(),
            )),
            ..Default::default()
        })
        .expect("v2");
    assert_eq!(v2.segments.get(&Level::Parcel), Some(&meta));
    assert_eq!(cat.segments(&v2, Level::Sector).expect("read"), None);
    let v3 = cat
        .commit(Change {
            operation: "import parcels".into(),
            parcels: Some(parcels(2)),
            ..Default::default()
        })
        .expect("v3");
    assert_eq!(v3.segments, v2.segments);
    assert_eq!(
        cat.segments(&v3, Level::Parcel).expect("read"),
        Some(Table::from_frame(table))
    );
    cat.verify(&v3).expect("v3 intact");
}

#[test]
fn interrupted_commit_leaves_previous_version_current_and_is_cleaned_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cat = DirCatalog::new(dir.path());
    let v1 = cat
        .commit(Change {
            operation: "a".into(),
            parcels: Some(parcels(2)),
            ..Default::default()
        })
        .expect("v1");
    // What a SIGKILL in the middle of a commit leaves: a staging folder with partial files.
    let stale = dir.path().join("versions/.staging-1-2");
    fs::create_dir_all(&stale).expect("mkdir");
    fs::write(stale.join("parcels.fgb"), b"partial").expect("write");
    assert_eq!(
        cat.current().expect("current").map(|m| m.version),
        Some(v1.version)
    );
    assert_eq!(cat.versions().expect("list"), vec![v1.version]);
    let v2 = cat
        .commit(Change {
            operation: "b".into(),
            parcels: Some(parcels(5)),
            ..Default::default()
        })
        .expect("v2");
    assert!(!stale.exists());
    assert_eq!(v2.version.number(), 2);
}

fn indices_meta(rows: BTreeMap<Level, usize>) -> IndicesMeta {
    let cfg = crate::indices::IndexConfig::new();
    IndicesMeta {
        as_of: Utc::now(),
        computed_at: Utc::now(),
        windows: vec!["90d".into()],
        h3_resolutions: vec![],
        reports: 0,
        after_as_of: 0,
        closed_before_created: 0,
        without_parcel: 0,
        without_sector: 0,
        without_cell: 0,
        rows,
        default_rule: cfg.default_rule,
        category_rules: 0,
        holidays: 0,
        recurrence_days: cfg.recurrence_days,
        min_reports: cfg.min_reports,
        weights: cfg.weights,
        config: crate::indices::ConfigSource::default(),
        reports_sha256: None,
    }
}

#[test]
fn tables_staged_frame_by_frame_become_the_versions_or_nothing() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().expect("tempdir");
    let cat = DirCatalog::new(dir.path());
    let v1 = cat
        .commit(Change {
            operation: "import parcels".into(),
            parcels: Some(parcels(2)),
            ..Default::default()
        })
        .expect("v1");
    let frame = |ids: &[&str], window: &'static str| {
        df!("id" => ids, "received" => vec![1u32; ids.len()])
            .expect("frame")
            .with_column(Column::new_scalar(
                "window".into(),
                Scalar::new(DataType::String, window.into()),
                ids.len(),
            ))
            .expect("column")
            .clone()
    };
    let stage = |frames: &[(Level, DataFrame)]| {
        let staged = cat.stage().expect("begin");
        let mut rows = BTreeMap::new();
        for (level, f) in frames {
            staged
                .append(*level, Table::from_frame(f.clone()))
                .expect("frame");
            *rows.entry(*level).or_insert(0) += f.height();
        }
        (Box::new(staged), rows)
    };
    let all: Vec<(Level, DataFrame)> = Level::ALL
        .iter()
        .flat_map(|l| [(*l, frame(&["0", "1"], "90d")), (*l, frame(&["1"], "30d"))])
        .collect();
    // Dropped before its commit: nothing is left of it, and the lock is free again.
    let (staged, _) = stage(&all);
    let staging = staged.dir.clone();
    assert!(staging.join(Level::Parcel.file_name()).exists());
    drop(staged);
    assert!(!staging.exists());
    assert_eq!(cat.current().expect("current"), Some(v1.clone()));
    // Indices without all their tables are refused, and leave nothing either.
    let (staged, rows) = stage(&all[..2]);
    let err = staged
        .commit(Change {
            operation: "compute".into(),
            indices: Some(indices_meta(rows)),
            ..Default::default()
        })
        .expect_err("tables missing");
    assert!(err.to_string().contains("indices-sectors.parquet"), "{err}");
    assert_eq!(cat.current().expect("current"), Some(v1.clone()));
    assert_eq!(cat.versions().expect("list"), vec![v1.version]);
    // Committed: each table is its frames in the order they came.
    let (staged, rows) = stage(&all);
    assert_eq!(rows[&Level::H3], 3);
    let v2 = staged
        .commit(Change {
            operation: "compute".into(),
            indices: Some(indices_meta(rows)),
            ..Default::default()
        })
        .expect("v2");
    cat.verify(&v2).expect("v2 intact");
    let mut expected = frame(&["0", "1"], "90d");
    expected
        .vstack_mut_owned(frame(&["1"], "30d"))
        .expect("vstack");
    for level in Level::ALL {
        let table = cat.indices(&v2, level).expect("read").expect("table");
        assert!(table.frame().equals(&expected), "{level}: {table:?}");
    }
    assert_eq!(
        cat.parcels(&v2).expect("read").map(|l| l.parcels.len()),
        Some(2)
    );
}

#[test]
fn tampered_file_fails_verification() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cat = DirCatalog::new(dir.path());
    let v1 = cat
        .commit(Change {
            operation: "a".into(),
            parcels: Some(parcels(2)),
            ..Default::default()
        })
        .expect("v1");
    let path = cat.file_path(&v1, "import-report.csv");
    fs::write(&path, b"changed").expect("write");
    assert!(matches!(cat.verify(&v1), Err(Error::Checksum { .. })));
}

#[test]
fn dangling_pointer_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("CURRENT"), "v000009\n").expect("write");
    let err = DirCatalog::new(dir.path()).current().expect_err("dangling");
    assert!(err.to_string().contains("v000009"), "{err}");
}
