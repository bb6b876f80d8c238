//! The in-memory tile cache: encoded tiles (plain and gzip) by layer, tile and filter, within a
//! byte budget. When a new catalog version lands, only the tiles whose buffered bounds touch a
//! changed feature are evicted; every other tile stays warm (and keeps its ETag).

use std::hash::Hash;
use std::io::Write;
use std::sync::Arc;

use rstar::primitives::Rectangle;
use rstar::{RTree, AABB};

use crate::coord::TileCoord;
use crate::geom::{self, TileFrame, BUFFER};
use predio_engine::indices::Selection;

use crate::provider::Changed;

/// What a cached tile is found by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    /// Layer name.
    pub layer: String,
    /// The tile.
    pub tile: TileCoord,
    /// The filter of the request.
    pub filter: Selection,
}

/// An encoded tile, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedTile {
    /// The MVT bytes; empty for a tile with no features (HTTP 204).
    pub raw: Vec<u8>,
    /// The same, gzip-compressed (empty when `raw` is).
    pub gzip: Vec<u8>,
    /// A strong ETag derived from the bytes, quoted.
    pub etag: String,
}

impl EncodedTile {
    /// Compresses and tags `raw`.
    ///
    /// The ETag is a 64-bit hash of the bytes (foldhash's quality variant with its fixed
    /// seed, the same in every process of a build) and their length. It was SipHash, `std`'s
    /// `DefaultHasher`: 2 % of a cold tile server's CPU on the town's 0.6 MB z14 tiles, where
    /// foldhash reads 32 bytes a step.
    ///
    /// # Errors
    /// Never in practice (compression into memory).
    pub fn new(raw: Vec<u8>) -> std::io::Result<Self> {
        use std::hash::BuildHasher;
        let gzip = gzip(&raw)?;
        let hash = foldhash::quality::FixedState::default().hash_one(raw.as_slice());
        let etag = format!("\"{hash:016x}-{:x}\"", raw.len());
        Ok(Self { raw, gzip, etag })
    }

    fn weight(&self) -> u32 {
        u32::try_from(self.raw.len() + self.gzip.len() + self.etag.len() + 96).unwrap_or(u32::MAX)
    }
}

/// The largest scratch buffer a thread keeps for [`gzip`].
const SCRATCH_MAX: usize = 1 << 20;

/// `raw` gzip-compressed, or nothing for nothing.
///
/// ISA-L's level 1 (`isal-rs`): on the 100,000-parcel town's z14–z16 tiles it compresses 2.3×
/// faster than zlib-rs at level 1 (flate2's fastest), for a tenth fewer bytes. gzip was a third
/// of the CPU time of an uncached tile. The stream is compressed in one call into a scratch
/// buffer of the thread (up to [`SCRATCH_MAX`]), then copied out at its size (a cached tile
/// holds no slack).
///
/// # Errors
/// Never in practice (compression into memory; ISA-L's refusal falls back to flate2).
pub fn gzip(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    // Room for stored blocks (5 bytes each 64 KiB) and the gzip header and trailer.
    let bound = raw.len() + raw.len() / 64 + 1024;
    let compress = |out: &mut [u8]| {
        isal::compress_into(raw, out, isal::CompressionLevel::One, isal::Codec::Gzip)
            .ok()
            .map(|n| out[..n].to_vec())
    };
    // A thread keeps a scratch buffer for the usual tiles only: a low-zoom tile of megabytes gets
    // one of its own, so no server thread holds megabytes between requests.
    let isal = if bound <= SCRATCH_MAX {
        SCRATCH.with_borrow_mut(|out| {
            if out.len() < bound {
                out.resize(bound, 0);
            }
            compress(out)
        })
    } else {
        compress(&mut vec![0; bound])
    };
    match isal {
        Some(gz) => Ok(gz),
        None => {
            let mut z = flate2::write::GzEncoder::new(
                Vec::with_capacity(raw.len() / 2),
                flate2::Compression::fast(),
            );
            z.write_all(raw)?;
            z.finish()
        }
    }
}

/// The tile cache.
#[derive(Clone)]
pub struct TileCache {
    cache: moka::sync::Cache<TileKey, Arc<EncodedTile>>,
}

impl std::fmt::Debug for TileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileCache")
            .field("entries", &self.cache.entry_count())
            .field("bytes", &self.cache.weighted_size())
            .finish()
    }
}

impl TileCache {
    /// A cache holding at most `budget` bytes of tiles.
    pub fn new(budget: u64) -> Self {
        Self {
            cache: moka::sync::Cache::builder()
                .max_capacity(budget)
                .weigher(|_k: &TileKey, v: &Arc<EncodedTile>| v.weight())
                .support_invalidation_closures()
                .build(),
        }
    }

    /// The cached tile, if any.
    pub fn get(&self, key: &TileKey) -> Option<Arc<EncodedTile>> {
        self.cache.get(key)
    }

    /// Caches a tile.
    pub fn insert(&self, key: TileKey, tile: Arc<EncodedTile>) {
        self.cache.insert(key, tile);
    }

    /// Evicts every tile.
    pub fn clear(&self) {
        self.cache.invalidate_all();
        self.cache.run_pending_tasks();
    }

    /// Tiles and bytes held (after pending evictions are applied).
    pub fn usage(&self) -> (u64, u64) {
        self.cache.run_pending_tasks();
        (self.cache.entry_count(), self.cache.weighted_size())
    }

    /// Evicts the tiles of `layer` that `changed` touches: those whose buffered bounds meet a
    /// changed feature's bounds grown by `reach_m` metres, or all of the layer's.
    pub fn invalidate(&self, layer: &str, changed: &Changed, reach_m: f64) {
        let layer = layer.to_owned();
        let result = match changed {
            Changed::Nothing => return,
            Changed::Everything => self
                .cache
                .invalidate_entries_if(move |k, _| k.layer == layer),
            Changed::Bounds(bounds) => {
                let rects: Vec<Rectangle<[f64; 2]>> = bounds
                    .iter()
                    .map(|b| {
                        let lat = geom::lonlat(geo::Coord {
                            x: b[0],
                            y: (b[1] + b[3]) / 2.0,
                        })
                        .y
                        .to_radians();
                        let g = reach_m / (40_075_016.686 * lat.cos().max(0.01));
                        Rectangle::from_corners([b[0] - g, b[1] - g], [b[2] + g, b[3] + g])
                    })
                    .collect();
                let tree = Arc::new(RTree::bulk_load(rects));
                self.cache.invalidate_entries_if(move |k, _| {
                    if k.layer != layer {
                        return false;
                    }
                    let b = TileFrame::new(k.tile).bounds(BUFFER);
                    let env = AABB::from_corners([b[0], b[1]], [b[2], b[3]]);
                    tree.locate_in_envelope_intersecting(&env).next().is_some()
                })
            }
        };
        if result.is_err() {
            // Only when invalidation closures are not enabled, which `new` always does; fall
            // back to dropping everything rather than serving stale tiles.
            self.cache.invalidate_all();
        }
        self.cache.run_pending_tasks();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(layer: &str, z: u8, x: u32, y: u32) -> TileKey {
        TileKey {
            layer: layer.into(),
            tile: TileCoord::new_checked(z, x, y).expect("tile"),
            filter: Selection::window("90d"),
        }
    }

    #[test]
    fn only_tiles_touching_a_change_are_evicted() {
        let cache = TileCache::new(1 << 20);
        let t = |s: &str| Arc::new(EncodedTile::new(s.as_bytes().to_vec()).expect("gzip"));
        for (x, y) in [(100, 100), (101, 100), (300, 300)] {
            cache.insert(key("parcels", 10, x, y), t("a"));
            cache.insert(key("sectors", 10, x, y), t("b"));
        }
        // A feature inside tile 10/100/100, away from its edges.
        let f = TileFrame::new(TileCoord::new_checked(10, 100, 100).expect("tile"));
        let a = f.from_tile(1000.0, 1000.0);
        let b = f.from_tile(1100.0, 1100.0);
        cache.invalidate("parcels", &Changed::Bounds(vec![[a.x, a.y, b.x, b.y]]), 0.0);
        assert!(cache.get(&key("parcels", 10, 100, 100)).is_none());
        assert!(cache.get(&key("parcels", 10, 101, 100)).is_some());
        assert!(cache.get(&key("parcels", 10, 300, 300)).is_some());
        assert!(cache.get(&key("sectors", 10, 100, 100)).is_some());
        // On the tile's east edge: the neighbour's buffer holds it too.
        let c = f.from_tile(4090.0, 2000.0);
        cache.invalidate("parcels", &Changed::Bounds(vec![[c.x, c.y, c.x, c.y]]), 0.0);
        assert!(cache.get(&key("parcels", 10, 101, 100)).is_none());
        cache.invalidate("sectors", &Changed::Everything, 0.0);
        assert!(cache.get(&key("sectors", 10, 300, 300)).is_none());
        assert!(cache.get(&key("parcels", 10, 300, 300)).is_some());
    }

    #[test]
    fn etags_follow_the_bytes() {
        let a = EncodedTile::new(vec![1, 2, 3]).expect("gzip");
        let b = EncodedTile::new(vec![1, 2, 3]).expect("gzip");
        let c = EncodedTile::new(vec![1, 2, 4]).expect("gzip");
        assert_eq!(a.etag, b.etag);
        assert_ne!(a.etag, c.etag);
        let mut d = flate2::read::GzDecoder::new(a.gzip.as_slice());
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut d, &mut back).expect("gunzip");
        assert_eq!(back, vec![1, 2, 3]);
    }

    #[test]
    fn gzip_streams_read_back_with_flate2_whatever_the_bytes() {
        // Incompressible bytes (ISA-L writes stored blocks), a run, a tile-like mix, and the
        // sizes about a 64 KiB stored block, each read back by another implementation.
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut noise = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        };
        let mixed: Vec<u8> = (0..200_000u32)
            .flat_map(|i| [(i % 7) as u8, (i / 3) as u8, 0, 26, (i * 31 % 251) as u8])
            .collect();
        let inputs = [
            noise(1 << 20),
            noise(65_535),
            noise(65_536),
            noise(1),
            vec![0; 300_000],
            mixed,
        ];
        for raw in &inputs {
            let gz = gzip(raw).expect("gzip");
            assert!(
                gz.len() <= raw.len() + raw.len() / 64 + 1024,
                "{} -> {}",
                raw.len(),
                gz.len()
            );
            let mut back = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut back)
                .expect("gunzip");
            assert!(back == *raw, "{} bytes did not read back", raw.len());
        }
        assert!(gzip(&inputs[4]).expect("gzip").len() < 1_000);
    }
}
