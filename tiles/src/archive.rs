//! Tile archives: a whole pyramid of tiles in one file, PMTiles v3 (the `pmtiles` crate's
//! writer) or MBTiles 1.3 (SQLite), for static hosting, martin or GDAL.
//!
//! Each tile holds every requested layer (MVT layers concatenate), gzip-compressed. Tiles are
//! cut in parallel (rayon) in batches and written in order; the file is written beside its
//! destination, fsynced and renamed over it, so a failure never leaves half an archive.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::cache::gzip;
use crate::coord::TileCoord;
use predio_engine::indices::Selection;

use crate::provider::{FieldKind, TileProvider, TileSourceError};

/// Archive formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// PMTiles v3: one file, Hilbert-ordered directories, served by range requests.
    Pmtiles,
    /// MBTiles 1.3: SQLite with `metadata` and `tiles` (TMS rows).
    Mbtiles,
}

/// Why an archive could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// A tile could not be made.
    #[error(transparent)]
    Tile(#[from] TileSourceError),
    /// Writing the file failed.
    #[error("{path}: {message}")]
    Write {
        /// The archive (or its temporary file).
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A tile could not be compressed.
    #[error("compressing a tile: {0}")]
    Compress(#[from] std::io::Error),
    /// Nothing to put in it.
    #[error("no layer to export")]
    NoLayers,
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveStats {
    /// Tiles written (non-empty), per zoom.
    pub per_zoom: BTreeMap<u8, u64>,
    /// Tiles cut that had no feature (not stored).
    pub empty: u64,
    /// Bytes of the archive.
    pub bytes: u64,
}

/// The tiles of zoom `z` that cover `bounds` (`[west, south, east, north]`, degrees).
pub fn tiles_covering(bounds: [f64; 4], z: u8) -> Vec<TileCoord> {
    let [w, s, e, n] = bounds;
    let (Ok(a), Ok(b)) = (
        TileCoord::containing(z, w, n),
        TileCoord::containing(z, e, s),
    ) else {
        return Vec::new();
    };
    let mut v = Vec::with_capacity(((b.x() - a.x() + 1) * (b.y() - a.y() + 1)) as usize);
    for x in a.x()..=b.x() {
        for y in a.y()..=b.y() {
            if let Ok(t) = TileCoord::new_checked(z, x, y) {
                v.push(t);
            }
        }
    }
    v
}

/// TileJSON-style `vector_layers` of providers: id, description, zooms, and for each field
/// `"Number: ..."` / `"String: ..."`.
pub fn vector_layers(layers: &[&dyn TileProvider]) -> serde_json::Value {
    serde_json::Value::Array(
        layers
            .iter()
            .map(|p| {
                let (minzoom, maxzoom) = p.zoom_range();
                let fields: serde_json::Map<String, serde_json::Value> = p
                    .fields()
                    .into_iter()
                    .map(|(n, k, d)| (n, format!("{}: {d}", kind_name(k)).into()))
                    .collect();
                serde_json::json!({
                    "id": p.name(), "description": p.description(),
                    "minzoom": minzoom, "maxzoom": maxzoom, "fields": fields,
                })
            })
            .collect(),
    )
}

/// The TileJSON type name of a field kind.
pub fn kind_name(k: FieldKind) -> &'static str {
    match k {
        FieldKind::Count | FieldKind::Number => "Number",
        FieldKind::Text => "String",
    }
}

/// Union of the layers' bounds.
fn union_bounds(layers: &[&dyn TileProvider]) -> Option<[f64; 4]> {
    layers.iter().filter_map(|l| l.bounds()).reduce(|a, b| {
        [
            a[0].min(b[0]),
            a[1].min(b[1]),
            a[2].max(b[2]),
            a[3].max(b[3]),
        ]
    })
}

/// One tile of every layer, concatenated and gzipped; `None` when all are empty.
fn cut(
    layers: &[&dyn TileProvider],
    t: TileCoord,
    filter: &Selection,
) -> Result<Option<Vec<u8>>, ArchiveError> {
    let mut raw = Vec::new();
    for l in layers {
        if let Some(b) = l.tile(t, filter)? {
            raw.extend_from_slice(&b);
        }
    }
    if raw.is_empty() {
        return Ok(None);
    }
    Ok(Some(gzip(&raw)?))
}

trait Sink {
    fn add(&mut self, t: TileCoord, gzip: &[u8]) -> Result<(), String>;
    fn finish(self: Box<Self>) -> Result<(), String>;
}

struct Pmtiles(pmtiles::PmTilesStreamWriter<BufWriter<File>>);

impl Sink for Pmtiles {
    fn add(&mut self, t: TileCoord, gzip: &[u8]) -> Result<(), String> {
        let c = pmtiles::TileCoord::new(t.z(), t.x(), t.y()).map_err(|e| e.to_string())?;
        self.0.add_tile(c, gzip).map_err(|e| e.to_string())
    }
    fn finish(self: Box<Self>) -> Result<(), String> {
        self.0.finalize().map_err(|e| e.to_string())
    }
}

struct Mbtiles(rusqlite::Connection);

impl Sink for Mbtiles {
    fn add(&mut self, t: TileCoord, gzip: &[u8]) -> Result<(), String> {
        let row = (1u32 << t.z()) - 1 - t.y();
        self.0
            .prepare_cached(
                "INSERT INTO tiles (zoom_level, tile_column, tile_row, tile_data) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| s.execute(rusqlite::params![t.z(), t.x(), row, gzip]))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    fn finish(self: Box<Self>) -> Result<(), String> {
        self.0
            .execute_batch("COMMIT; CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);")
            .map_err(|e| e.to_string())?;
        self.0.close().map_err(|(_, e)| e.to_string())
    }
}

/// Writes the pyramid `minzoom..=maxzoom` of `layers` under `filter` over their bounds to
/// `path`. `description` goes into the archive's metadata.
///
/// # Errors
/// A tile that cannot be made, or the file not written (the destination is then untouched).
pub fn write_archive(
    path: &Path,
    format: ArchiveFormat,
    layers: &[&dyn TileProvider],
    filter: &Selection,
    (minzoom, maxzoom): (u8, u8),
    description: &str,
) -> Result<ArchiveStats, ArchiveError> {
    let bounds = union_bounds(layers).ok_or(ArchiveError::NoLayers)?;
    let name = path
        .file_name()
        .map_or_else(|| "archive".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let werr = |p: &Path| {
        let p = p.to_path_buf();
        move |message: String| ArchiveError::Write {
            path: p.clone(),
            message,
        }
    };
    let center = [(bounds[0] + bounds[2]) / 2.0, (bounds[1] + bounds[3]) / 2.0];
    let center_zoom = minzoom.max(maxzoom.saturating_sub(2));
    let metadata = serde_json::json!({
        "name": name, "description": description, "format": "pbf",
        "vector_layers": vector_layers(layers),
        "filter": { "window": filter.window, "dimension": filter.dimension.pair() },
    });
    let result = (|| -> Result<ArchiveStats, ArchiveError> {
        let _ = std::fs::remove_file(&tmp);
        let mut sink: Box<dyn Sink> = match format {
            ArchiveFormat::Pmtiles => {
                let f = File::create(&tmp).map_err(|e| werr(&tmp)(e.to_string()))?;
                let w = pmtiles::PmTilesWriter::new(pmtiles::TileType::Mvt)
                    .precompressed(pmtiles::Compression::Gzip)
                    .min_zoom(minzoom)
                    .max_zoom(maxzoom)
                    .bounds(bounds[0], bounds[1], bounds[2], bounds[3])
                    .center(center[0], center[1])
                    .center_zoom(center_zoom)
                    .metadata(metadata.to_string())
                    .create(BufWriter::new(f))
                    .map_err(|e| werr(&tmp)(e.to_string()))?;
                Box::new(Pmtiles(w))
            }
            ArchiveFormat::Mbtiles => {
                let c = rusqlite::Connection::open(&tmp).map_err(|e| werr(&tmp)(e.to_string()))?;
                c.execute_batch(
                    "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA page_size = 4096;
                     CREATE TABLE metadata (name TEXT, value TEXT);
                     CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);
                     BEGIN;",
                )
                .map_err(|e| werr(&tmp)(e.to_string()))?;
                let json = serde_json::json!({ "vector_layers": metadata["vector_layers"] });
                for (k, v) in [
                    ("name", name.clone()),
                    ("description", description.to_owned()),
                    ("format", "pbf".into()),
                    ("type", "overlay".into()),
                    ("version", "1.3".into()),
                    ("minzoom", minzoom.to_string()),
                    ("maxzoom", maxzoom.to_string()),
                    (
                        "bounds",
                        format!("{},{},{},{}", bounds[0], bounds[1], bounds[2], bounds[3]),
                    ),
                    (
                        "center",
                        format!("{},{},{center_zoom}", center[0], center[1]),
                    ),
                    ("json", json.to_string()),
                ] {
                    c.execute("INSERT INTO metadata VALUES (?1, ?2)", [k, &v])
                        .map_err(|e| werr(&tmp)(e.to_string()))?;
                }
                Box::new(Mbtiles(c))
            }
        };
        let mut stats = ArchiveStats::default();
        for z in minzoom..=maxzoom {
            let mut tiles = tiles_covering(bounds, z);
            // PMTiles reads best in tile-id (Hilbert) order; MBTiles does not mind.
            tiles.sort_by_key(|t| {
                pmtiles::TileCoord::new(t.z(), t.x(), t.y())
                    .map_or(0, |c| pmtiles::TileId::from(c).value())
            });
            for batch in tiles.chunks(2048) {
                let cut: Vec<Result<Option<Vec<u8>>, ArchiveError>> =
                    batch.par_iter().map(|t| cut(layers, *t, filter)).collect();
                for (t, r) in batch.iter().zip(cut) {
                    match r? {
                        Some(gz) => {
                            sink.add(*t, &gz).map_err(werr(&tmp))?;
                            *stats.per_zoom.entry(z).or_default() += 1;
                        }
                        None => stats.empty += 1,
                    }
                }
            }
        }
        sink.finish().map_err(werr(&tmp))?;
        let f = File::open(&tmp).map_err(|e| werr(&tmp)(e.to_string()))?;
        f.sync_all().map_err(|e| werr(&tmp)(e.to_string()))?;
        stats.bytes = f.metadata().map_err(|e| werr(&tmp)(e.to_string()))?.len();
        std::fs::rename(&tmp, path).map_err(|e| werr(path)(e.to_string()))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(stats)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_a_bbox_at_each_zoom() {
        let b = [-84.11, 9.90, -84.06, 9.95];
        assert_eq!(tiles_covering(b, 0).len(), 1);
        let z15 = tiles_covering(b, 15);
        for t in &z15 {
            let [w, s, e, n] = t.bounds_lonlat();
            assert!(e >= b[0] && w <= b[2] && n >= b[1] && s <= b[3]);
        }
        // Columns 8728–8732 and rows 15473–15478 at z15 (floor((lon + 180) / 360 · 2^15) and
        // floor((1 − asinh(tan φ) / π) / 2 · 2^15), worked out by hand with Python's math):
        // 5 × 6 tiles.
        let (xs, ys): (Vec<u32>, Vec<u32>) = z15.iter().map(|t| (t.x(), t.y())).unzip();
        assert_eq!(z15.len(), 30);
        assert_eq!(
            (xs.iter().min(), xs.iter().max()),
            (Some(&8728), Some(&8732))
        );
        assert_eq!(
            (ys.iter().min(), ys.iter().max()),
            (Some(&15473), Some(&15478))
        );
    }
}
