//! `predio export geoparquet`: a municipality's geocoded reports and its indices as GeoParquet
//! 1.1 datasets for engines that read a whole country at once (Apache Spark with or without
//! Sedona, SedonaDB, DuckDB, BigQuery).
//!
//! Each dataset is a folder of files partitioned Hive-style by municipality and by the H3
//! cell of resolution 4 (about 1,770 km²) around each row's point:
//! `OUT/reports/municipality=san-jose/h3_4=846d36dffffffff/part-0.parquet`. A query on one
//! municipality or region opens only its files; inside a file the rows are in order of their
//! fine H3 cell, so a row group's statistics (and the `bbox` covering column) narrow a spatial
//! filter further. Rows without a point (a report never located) go to the partition
//! `h3_4=__HIVE_DEFAULT_PARTITION__`, which Spark and DuckDB read as null.
//!
//! The files carry GeoParquet 1.1's `geo` metadata: WKB geometry in longitude/latitude
//! (OGC:CRS84, the default), its types and bounding box, and the `bbox` covering column
//! (a struct of `xmin`, `ymin`, `xmax`, `ymax`). The partition columns live only in the paths,
//! as Hive's convention has it (Spark refuses a column that is in both).
//!
//! A municipality's partitions are written into a staging folder beside them, fsynced, then
//! renamed into place dataset by dataset: a reader sees its old partition or its new one.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use geo::{BoundingRect, MultiPolygon};
use h3o::{LatLng, Resolution};
use polars::prelude::*;

use crate::error::{Error, Result};
use crate::indices::{self, Level};
use crate::report::Report;
use crate::sector_index::interior_point;
use crate::store::{CatalogStore, Manifest};
use crate::table::Table;

/// The resolution of the H3 cells the datasets are partitioned by.
pub const PARTITION_RES: Resolution = Resolution::Four;

/// The name Hive (and Spark, and DuckDB) give the partition of a null value.
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// The datasets written, each a folder of `OUT`.
pub const DATASETS: [&str; 4] = ["reports", "indices_sector", "indices_parcel", "indices_h3"];

/// What was written of one dataset for one municipality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The dataset (one of [`DATASETS`]).
    pub dataset: &'static str,
    /// Rows written.
    pub rows: usize,
    /// Files (partitions) written.
    pub files: usize,
}

/// Whether `slug` can name a municipality's partition: lower-case ASCII letters, digits, `-`
/// and `_`, starting with a letter or digit (it becomes part of paths and of URLs).
#[must_use]
pub fn valid_slug(slug: &str) -> bool {
    let mut chars = slug.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && slug.len() <= 64
}

/// Writes the current version of `catalog` (computed) as the municipality `slug`'s partitions
/// of every dataset under `out`, replacing the partitions it had there.
///
/// # Errors
/// A catalog without computed indices, an invalid slug, or I/O and encoding errors naming
/// the file; on error the partitions already under `out` are unchanged.
pub fn export_geoparquet(
    catalog: &dyn CatalogStore,
    slug: &str,
    out: &Path,
) -> Result<Vec<Written>> {
    if !valid_slug(slug) {
        return Err(Error::Config {
            path: out.to_path_buf(),
            message: format!(
                "municipality {slug:?}: use lower-case letters, digits, '-' and '_' (at most 64)"
            ),
        });
    }
    let manifest = catalog.current()?.ok_or_else(|| Error::Empty {
        path: catalog.location().into(),
    })?;
    if manifest.indices.is_none() {
        return Err(Error::NotComputed {
            what: format!(
                "the indices of {}: run `predio compute`",
                catalog.location()
            ),
        });
    }
    std::fs::create_dir_all(out).map_err(Error::io(out))?;
    let staging = out.join(format!(".staging-{slug}"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(Error::io(&staging))?;
    }
    let written = write_all(catalog, &manifest, slug, &staging);
    let written = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    for dataset in DATASETS {
        let part = format!("municipality={slug}");
        let staged = staging.join(dataset).join(&part);
        let target_dir = out.join(dataset);
        std::fs::create_dir_all(&target_dir).map_err(Error::io(&target_dir))?;
        let target = target_dir.join(&part);
        let old = staging.join(format!("old-{dataset}"));
        if target.exists() {
            std::fs::rename(&target, &old).map_err(Error::io(&target))?;
        }
        if staged.exists() {
            std::fs::rename(&staged, &target).map_err(Error::io(&target))?;
        }
        sync_dir(&target_dir)?;
    }
    std::fs::remove_dir_all(&staging).map_err(Error::io(&staging))?;
    Ok(written)
}

fn write_all(
    catalog: &dyn CatalogStore,
    manifest: &Manifest,
    slug: &str,
    staging: &Path,
) -> Result<Vec<Written>> {
    let mut written = Vec::with_capacity(DATASETS.len());
    let folder = |dataset: &str| staging.join(dataset).join(format!("municipality={slug}"));
    let reports = catalog.reports(manifest)?.unwrap_or_default();
    let facts = catalog
        .indices(manifest, Level::Report)?
        .ok_or_else(|| Error::NotComputed {
            what: format!("the per-report table of {}", catalog.location()),
        })?;
    written.push(write_reports(&reports, &facts, &folder("reports"))?);
    drop(reports);
    let sectors = catalog.sectors(manifest)?.unwrap_or_default();
    let outlines: HashMap<&str, &MultiPolygon<f64>> = sectors
        .sectors
        .iter()
        .map(|s| (s.id.as_str(), &s.geometry))
        .collect();
    written.push(write_indices(
        catalog,
        manifest,
        Level::Sector,
        &outlines,
        &folder("indices_sector"),
    )?);
    drop(outlines);
    let parcels = catalog.parcels(manifest)?.unwrap_or_default();
    let outlines: HashMap<&str, &MultiPolygon<f64>> = parcels
        .parcels
        .iter()
        .map(|p| (p.id.as_str(), &p.geometry))
        .collect();
    written.push(write_indices(
        catalog,
        manifest,
        Level::Parcel,
        &outlines,
        &folder("indices_parcel"),
    )?);
    written.push(write_indices(
        catalog,
        manifest,
        Level::H3,
        &HashMap::new(),
        &folder("indices_h3"),
    )?);
    Ok(written)
}

/// A row's place: its partition cell (resolution 4) and its fine cell (the order in a file),
/// or none.
#[derive(Debug, Clone, Copy)]
struct Place {
    partition: Option<u64>,
    order: u64,
}

impl Place {
    const NOWHERE: Place = Place {
        partition: None,
        order: u64::MAX,
    };

    fn of_cell(cell: h3o::CellIndex) -> Place {
        let partition = if cell.resolution() >= PARTITION_RES {
            cell.parent(PARTITION_RES)
        } else {
            cell.center_child(PARTITION_RES)
        };
        Place {
            partition: partition.map(u64::from),
            order: u64::from(cell),
        }
    }

    fn of_point(lon: f64, lat: f64) -> Place {
        LatLng::new(lat, lon)
            .map(|ll| Place::of_cell(ll.to_cell(Resolution::Twelve)))
            .unwrap_or(Place::NOWHERE)
    }
}

/// The rows of each partition, each in order of its fine cell (ties in table order).
fn partitions(places: &[Place]) -> BTreeMap<Option<u64>, Vec<IdxSize>> {
    let mut out: BTreeMap<Option<u64>, Vec<IdxSize>> = BTreeMap::new();
    for (i, p) in places.iter().enumerate() {
        out.entry(p.partition).or_default().push(i as IdxSize);
    }
    for rows in out.values_mut() {
        rows.sort_by_key(|&i| places[i as usize].order);
    }
    out
}

fn partition_name(cell: Option<u64>) -> String {
    match cell.and_then(|c| h3o::CellIndex::try_from(c).ok()) {
        Some(c) => format!("h3_4={c}"),
        None => format!("h3_4={NULL_PARTITION}"),
    }
}

/// One geometry of a file: its WKB and its box `[xmin, ymin, xmax, ymax]`.
type Shape = (Vec<u8>, [f64; 4]);

/// The shape of an outline (`key` names it in an error).
fn outline_shape(g: &MultiPolygon<f64>, key: &str, folder: &Path) -> Result<Option<Shape>> {
    let wkb = indices::export::wkb(g).map_err(|e| Error::Parquet {
        path: folder.to_path_buf(),
        message: format!("WKB of {key}: {e}"),
    })?;
    Ok(g.bounding_rect()
        .map(|r| (wkb, [r.min().x, r.min().y, r.max().x, r.max().y])))
}

/// WKB (ISO, little-endian) of a point: byte order 1, type 1, x, y (OGC 06-103r4 §8.2).
fn point_wkb(x: f64, y: f64) -> Vec<u8> {
    let mut b = Vec::with_capacity(21);
    b.push(1);
    b.extend(1u32.to_le_bytes());
    b.extend(x.to_le_bytes());
    b.extend(y.to_le_bytes());
    b
}

/// The reports counted by the version's indices (created up to its as-of time): the per-report
/// table (deadline, verdict, stage, times) with each report's channel, closing time, point,
/// cell and match.
fn write_reports(reports: &[Report], facts: &Table, folder: &Path) -> Result<Written> {
    let by_id: HashMap<&str, &Report> = reports.iter().map(|r| (r.id.as_str(), r)).collect();
    let df = facts.frame();
    let pl = pl(folder);
    let ids: Vec<Option<&Report>> = df
        .column("id")
        .and_then(|c| {
            c.str()
                .map(|s| s.iter().map(|id| by_id.get(id?).copied()).collect())
        })
        .map_err(&pl)?;
    let text = |name: &str, f: &dyn Fn(&Report) -> Option<String>| {
        Series::new(
            name.into(),
            ids.iter().map(|r| r.and_then(f)).collect::<Vec<_>>(),
        )
        .into_column()
    };
    let number = |name: &str, f: &dyn Fn(&Report) -> Option<f64>| {
        Series::new(
            name.into(),
            ids.iter().map(|r| r.and_then(f)).collect::<Vec<_>>(),
        )
        .into_column()
    };
    let closed_at = Series::new(
        "closed_at".into(),
        ids.iter()
            .map(|r| r.and_then(|r| r.closed_at).map(|t| t.timestamp_millis()))
            .collect::<Vec<_>>(),
    )
    .cast(&DataType::Datetime(
        TimeUnit::Milliseconds,
        Some(TimeZone::UTC),
    ))
    .map_err(&pl)?;
    let mut df = df.clone();
    for column in [
        text("channel", &|r| r.channel.clone()),
        closed_at.into_column(),
        text("h3", &|r| r.h3.map(|c| c.to_string())),
        text("match", &|r| Some(r.match_kind.as_str().to_owned())),
        number("distance_m", &|r| r.distance_m),
    ] {
        df.with_column(column).map_err(&pl)?;
    }
    let points: Vec<Option<(f64, f64)>> = ids
        .iter()
        .map(|r| r.and_then(|r| Some((r.lon?, r.lat?))))
        .collect();
    let places: Vec<Place> = ids
        .iter()
        .zip(&points)
        .map(|(r, p)| match (r.and_then(|r| r.h3), p) {
            (Some(cell), _) => Place::of_cell(cell.cell()),
            (None, Some((lon, lat))) => Place::of_point(*lon, *lat),
            (None, None) => Place::NOWHERE,
        })
        .collect();
    let shapes: Vec<Option<Shape>> = points
        .iter()
        .map(|p| p.map(|(x, y)| (point_wkb(x, y), [x, y, x, y])))
        .collect();
    let shapes: Vec<Option<&Shape>> = shapes.iter().map(Option::as_ref).collect();
    write_dataset(&df, &places, &shapes, "Point", folder, "reports")
}

/// One level's whole indices table (every window, dimension and resolution), each row with
/// its feature's outline.
fn write_indices(
    catalog: &dyn CatalogStore,
    manifest: &Manifest,
    level: Level,
    outlines: &HashMap<&str, &MultiPolygon<f64>>,
    folder: &Path,
) -> Result<Written> {
    let dataset = match level {
        Level::Sector => "indices_sector",
        Level::Parcel => "indices_parcel",
        _ => "indices_h3",
    };
    let Some(table) = catalog.indices(manifest, level)? else {
        return Ok(Written {
            dataset,
            rows: 0,
            files: 0,
        });
    };
    let df = table.frame();
    let key = match level {
        Level::Sector => indices::schema::key::SECTOR_ID,
        Level::Parcel => indices::schema::key::PARCEL_ID,
        _ => indices::schema::key::CELL,
    };
    let keys: Vec<Option<String>> = df
        .column(key)
        .and_then(|c| {
            c.str()
                .map(|s| s.iter().map(|k| k.map(str::to_owned)).collect())
        })
        .map_err(pl(folder))?;
    // Each feature once: its outline's WKB and box, and its place.
    let mut features: HashMap<&str, (Option<Shape>, Place)> = HashMap::new();
    for k in keys.iter().flatten() {
        if features.contains_key(k.as_str()) {
            continue;
        }
        let feature = match level {
            Level::H3 => match (
                k.parse::<h3o::CellIndex>(),
                indices::export::cell_polygon(k),
            ) {
                (Ok(cell), Some(g)) => (outline_shape(&g, k, folder)?, Place::of_cell(cell)),
                _ => (None, Place::NOWHERE),
            },
            _ => match outlines.get(k.as_str()) {
                Some(g) => (
                    outline_shape(g, k, folder)?,
                    interior_point(g).map_or(Place::NOWHERE, |p| Place::of_point(p.x(), p.y())),
                ),
                None => (None, Place::NOWHERE),
            },
        };
        features.insert(k.as_str(), feature);
    }
    // each row's feature, by reference (a parcel's outline is in every row of it)
    let (shapes, places): (Vec<Option<&Shape>>, Vec<Place>) = keys
        .iter()
        .map(|k| {
            k.as_deref()
                .and_then(|k| features.get(k))
                .map_or((None, Place::NOWHERE), |(s, p)| (s.as_ref(), *p))
        })
        .unzip();
    write_dataset(df, &places, &shapes, "MultiPolygon", folder, dataset)
}

/// Writes `df` with its `shapes` as one file per partition of `places` under `folder`.
fn write_dataset(
    df: &DataFrame,
    places: &[Place],
    shapes: &[Option<&Shape>],
    geometry_type: &str,
    folder: &Path,
    dataset: &'static str,
) -> Result<Written> {
    let parts = partitions(places);
    let mut rows = 0;
    for (cell, idx) in &parts {
        let dir = folder.join(partition_name(*cell));
        std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        let path = dir.join("part-0.parquet");
        let pl = pl(&path);
        let take = IdxCa::from_vec(PlSmallStr::EMPTY, idx.clone());
        let mut part = df.take(&take).map_err(&pl)?;
        let shapes: Vec<Option<&Shape>> = idx.iter().map(|&i| shapes[i as usize]).collect();
        let geometry = BinaryChunked::from_iter_options(
            "geometry".into(),
            shapes.iter().map(|s| s.map(|(wkb, _)| wkb.as_slice())),
        );
        part.with_column(geometry.into_series().into_column())
            .map_err(&pl)?;
        let corner = |name: &str, i: usize| {
            Series::new(
                name.into(),
                shapes
                    .iter()
                    .map(|s| s.map(|(_, b)| b[i]))
                    .collect::<Vec<_>>(),
            )
        };
        let corners = [
            corner("xmin", 0),
            corner("ymin", 1),
            corner("xmax", 2),
            corner("ymax", 3),
        ];
        // A row without a geometry has no box (null, not a box of nulls).
        let present = polars_arrow::bitmap::Bitmap::from_iter(shapes.iter().map(|s| s.is_some()));
        let bbox = StructChunked::from_series("bbox".into(), idx.len(), corners.iter())
            .map_err(&pl)?
            .rechunk()
            .into_owned()
            .with_outer_validity(Some(present));
        part.with_column(bbox.into_series().into_column())
            .map_err(&pl)?;
        let extent =
            shapes
                .iter()
                .copied()
                .flatten()
                .fold(None, |acc: Option<[f64; 4]>, (_, b)| {
                    Some(match acc {
                        None => *b,
                        Some(a) => [
                            a[0].min(b[0]),
                            a[1].min(b[1]),
                            a[2].max(b[2]),
                            a[3].max(b[3]),
                        ],
                    })
                });
        write_file(&mut part, &geo_metadata(geometry_type, extent), &path)?;
        rows += idx.len();
    }
    for dir in std::iter::once(folder.to_path_buf()).chain(
        parts
            .keys()
            .map(|c| folder.join(partition_name(*c)))
            .collect::<Vec<PathBuf>>(),
    ) {
        sync_dir(&dir)?;
    }
    Ok(Written {
        dataset,
        rows,
        files: parts.len(),
    })
}

/// GeoParquet 1.1's `geo` metadata of a file whose geometries are of `geometry_type` and lie
/// in `extent`.
fn geo_metadata(geometry_type: &str, extent: Option<[f64; 4]>) -> serde_json::Value {
    let mut geometry = serde_json::json!({
        "encoding": "WKB",
        "geometry_types": [geometry_type],
        "covering": {"bbox": {
            "xmin": ["bbox", "xmin"],
            "ymin": ["bbox", "ymin"],
            "xmax": ["bbox", "xmax"],
            "ymax": ["bbox", "ymax"],
        }},
    });
    if let Some(b) = extent {
        geometry["bbox"] = serde_json::json!(b);
    }
    // No "crs": GeoParquet then means OGC:CRS84 (longitude, latitude on WGS 84).
    serde_json::json!({
        "version": "1.1.0",
        "primary_column": "geometry",
        "columns": {"geometry": geometry},
    })
}

fn write_file(df: &mut DataFrame, geo: &serde_json::Value, path: &Path) -> Result<()> {
    let file = File::create(path).map_err(Error::io(path))?;
    ParquetWriter::new(&file)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::full())
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(vec![(
            "geo".to_owned(),
            geo.to_string(),
        )])))
        .finish(df)
        .map_err(pl(path))?;
    file.sync_all().map_err(Error::io(path))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(dir))
}

fn pl(path: &Path) -> impl Fn(PolarsError) -> Error + '_ {
    move |e| Error::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_is_iso_wkb_as_the_specification_lays_it_out() {
        let mut want = vec![1u8];
        want.extend(1u32.to_le_bytes());
        want.extend((-84.08f64).to_le_bytes());
        want.extend(9.93f64.to_le_bytes());
        assert_eq!(point_wkb(-84.08, 9.93), want);
    }

    #[test]
    fn rows_go_to_their_resolution_4_cell_in_order_of_their_fine_cell() {
        let a = Place::of_point(-84.08, 9.93);
        let b = Place::of_point(-84.0801, 9.9301);
        let far = Place::of_point(-56.16, -34.9);
        let parts = partitions(&[far, b, Place::NOWHERE, a]);
        assert_eq!(parts.len(), 3, "{parts:?}");
        assert_eq!(parts[&None], vec![2]);
        let near = &parts[&a.partition];
        let mut want = [(a.order, 3), (b.order, 1)];
        want.sort();
        assert_eq!(near, &want.iter().map(|w| w.1).collect::<Vec<IdxSize>>());
        let cell = h3o::CellIndex::try_from(a.partition.expect("a cell")).expect("valid");
        assert_eq!(cell.resolution(), PARTITION_RES);
        assert!(partition_name(a.partition).starts_with("h3_4=84"));
        assert_eq!(partition_name(None), "h3_4=__HIVE_DEFAULT_PARTITION__");
    }

    #[test]
    fn slugs_are_safe_in_paths_and_urls() {
        for ok in ["san-jose", "montevideo", "a1", "x_y"] {
            assert!(valid_slug(ok), "{ok}");
        }
        for bad in ["", "San-Jose", "../x", "a/b", "-x", "é", "a b"] {
            assert!(!valid_slug(bad), "{bad}");
        }
    }
}
