//! `predio serve`: vector tiles checked with an independent decoder (GDAL's MVT driver, and a
//! protobuf reader of this file for the spec's invariants), against the parcels and the indices
//! tables; tile edges, z0 and z22; HTTP semantics; heat k-anonymity; and a new catalog version
//! landing while the server runs, evicting only the tiles it changed.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use geo::{
    Area, BooleanOps, Coord, Distance, HausdorffDistance, Length, LineString, LinesIter,
    MultiPolygon, Polygon, Rect,
};
use polars::prelude::*;

use crate::support::{arg, predio, predio_ok, python, town, version_dir, Postgis};

// ---------------------------------------------------------------------------------------------
// A running server.

pub(crate) struct Server {
    child: Child,
    pub(crate) addr: String,
    /// The server's stderr (its log): read by tests that expect a line in it, printed when a
    /// test fails, and otherwise kept out of `make test`'s output.
    log: tempfile::NamedTempFile,
}

impl Server {
    /// A server whose parcel layer is public (the tile tests read it without a key).
    pub(crate) fn start(data: &Path) -> Self {
        Self::start_with(data, &[])
    }

    /// With more `predio serve` arguments (`--source ...`); parcels public.
    pub(crate) fn start_with(data: &Path, more: &[&str]) -> Self {
        let mut args = vec!["--public-parcels"];
        args.extend_from_slice(more);
        Self::launch(data, &args)
    }

    /// `predio serve` with exactly these arguments (beside the address and poll interval).
    pub(crate) fn launch(data: &Path, more: &[&str]) -> Self {
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_predio"))
            .arg("--data")
            .arg(data)
            .args(["serve", "--addr", "127.0.0.1:0", "--poll-ms", "100"])
            .args(more)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log.reopen().expect("the log file")))
            .spawn()
            .expect("predio serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the address line");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Self { child, addr, log }
    }

    /// What the server has logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Waits (up to 20 s) until the server's log holds `needle`, and returns the log.
    pub(crate) fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "the server never logged {needle:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (up to 20 s) until `path` answers `status` with `headers`.
    pub(crate) fn wait_for_status(&self, path: &str, headers: &[(&str, &str)], status: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.get(path, headers).status;
            if got == status {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{path} still answers {got}, not {status}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        get(&self.addr, path, headers)
    }

    pub(crate) fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        request(&self.addr, method, path, headers)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- the server's log ---\n{}", self.log());
        }
    }
}

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HashMap<String, String>,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&self.body));
        })
    }
}

/// A plain HTTP/1.1 GET (the peer of predio's server here is the protocol itself).
fn get(addr: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    request(addr, "GET", path, headers)
}

/// A plain HTTP/1.1 request without a body.
pub(crate) fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    request_with_body(addr, method, path, headers, &[])
}

/// A plain HTTP/1.1 request with `body`.
pub(crate) fn request_with_body(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += "\r\n";
    s.write_all(req.as_bytes()).expect("send");
    // a server may answer (401, 413) before it reads the body, and close
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("receive");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.get("transfer-encoding").map(String::as_str) == Some("chunked") {
        let mut out = Vec::new();
        let mut rest = body.as_slice();
        loop {
            let end = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("chunk size");
            let n =
                usize::from_str_radix(std::str::from_utf8(&rest[..end]).expect("hex").trim(), 16)
                    .expect("chunk size");
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[end + 2..end + 2 + n]);
            rest = &rest[end + 4 + n..];
        }
        body = out;
    }
    Reply {
        status,
        headers,
        body,
    }
}

// ---------------------------------------------------------------------------------------------
// An MVT reader of our own, for the spec's invariants (MVT 2.1, vector_tile.proto).

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Str(String),
    Float(f32),
    Double(f64),
    Int(i64),
    UInt(u64),
    SInt(i64),
    Bool(bool),
}

impl Val {
    fn num(&self) -> Option<f64> {
        match *self {
            Val::Float(v) => Some(f64::from(v)),
            Val::Double(v) => Some(v),
            Val::Int(v) | Val::SInt(v) => Some(v as f64),
            Val::UInt(v) => Some(v as f64),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct MvtFeature {
    id: Option<u64>,
    tags: Vec<u32>,
    kind: u32,
    geometry: Vec<u32>,
}

#[derive(Debug, Default)]
struct MvtLayer {
    name: String,
    version: u32,
    extent: u32,
    keys: Vec<String>,
    values: Vec<Val>,
    features: Vec<MvtFeature>,
}

struct Pb<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Pb<'a> {
    fn new(b: &'a [u8]) -> Self {
        Self { b, i: 0 }
    }
    fn done(&self) -> bool {
        self.i >= self.b.len()
    }
    fn varint(&mut self) -> u64 {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.b[self.i];
            self.i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return v;
            }
        }
        panic!("varint too long");
    }
    fn bytes(&mut self) -> &'a [u8] {
        let n = self.varint() as usize;
        let s = &self.b[self.i..self.i + n];
        self.i += n;
        s
    }
    fn fixed(&mut self, n: usize) -> &'a [u8] {
        let s = &self.b[self.i..self.i + n];
        self.i += n;
        s
    }
    /// (field, wire type).
    fn key(&mut self) -> (u64, u64) {
        let k = self.varint();
        (k >> 3, k & 7)
    }
    fn skip(&mut self, wire: u64) {
        match wire {
            0 => {
                self.varint();
            }
            1 => {
                self.fixed(8);
            }
            2 => {
                self.bytes();
            }
            5 => {
                self.fixed(4);
            }
            w => panic!("wire type {w}"),
        }
    }
    fn packed(&mut self) -> Vec<u32> {
        let mut p = Pb::new(self.bytes());
        let mut v = Vec::new();
        while !p.done() {
            v.push(p.varint() as u32);
        }
        v
    }
}

fn decode(tile: &[u8]) -> Vec<MvtLayer> {
    let mut layers = Vec::new();
    let mut t = Pb::new(tile);
    while !t.done() {
        let (f, w) = t.key();
        if f != 3 {
            t.skip(w);
            continue;
        }
        let mut l = Pb::new(t.bytes());
        let mut layer = MvtLayer {
            version: 1,
            extent: 4096,
            ..MvtLayer::default()
        };
        while !l.done() {
            match l.key() {
                (15, 0) => layer.version = l.varint() as u32,
                (1, 2) => layer.name = String::from_utf8(l.bytes().to_vec()).expect("utf-8"),
                (5, 0) => layer.extent = l.varint() as u32,
                (3, 2) => layer
                    .keys
                    .push(String::from_utf8(l.bytes().to_vec()).expect("utf-8")),
                (4, 2) => {
                    let mut v = Pb::new(l.bytes());
                    let mut value = None;
                    while !v.done() {
                        value = Some(match v.key() {
                            (1, 2) => {
                                Val::Str(String::from_utf8(v.bytes().to_vec()).expect("utf-8"))
                            }
                            (2, 5) => {
                                Val::Float(f32::from_le_bytes(v.fixed(4).try_into().expect("4")))
                            }
                            (3, 1) => {
                                Val::Double(f64::from_le_bytes(v.fixed(8).try_into().expect("8")))
                            }
                            (4, 0) => Val::Int(v.varint() as i64),
                            (5, 0) => Val::UInt(v.varint()),
                            (6, 0) => {
                                let z = v.varint();
                                Val::SInt((z >> 1) as i64 ^ -((z & 1) as i64))
                            }
                            (7, 0) => Val::Bool(v.varint() != 0),
                            (_, w) => {
                                v.skip(w);
                                continue;
                            }
                        });
                    }
                    layer
                        .values
                        .push(value.expect("a value message holds one value"));
                }
                (2, 2) => {
                    let mut fp = Pb::new(l.bytes());
                    let mut feature = MvtFeature::default();
                    while !fp.done() {
                        match fp.key() {
                            (1, 0) => feature.id = Some(fp.varint()),
                            (2, 2) => feature.tags = fp.packed(),
                            (3, 0) => feature.kind = fp.varint() as u32,
                            (4, 2) => feature.geometry = fp.packed(),
                            (_, w) => fp.skip(w),
                        }
                    }
                    layer.features.push(feature);
                }
                (_, w) => l.skip(w),
            }
        }
        layers.push(layer);
    }
    layers
}

fn zigzag(v: u32) -> i64 {
    i64::from((v >> 1) as i32 ^ -((v & 1) as i32))
}

/// The rings of a polygon feature in tile units, checking the command stream on the way:
/// no zero-length LineTo, every ring MoveTo(1) + LineTo(≥2) + ClosePath, the first ring of each
/// polygon an exterior ring (positive area in y-down tile space, as MVT 2.1 §4.3.4.4 defines
/// it). Returns the rings with their signed areas.
fn rings(f: &MvtFeature, problems: &mut Vec<String>) -> Vec<(Vec<(i64, i64)>, i64)> {
    let g = &f.geometry;
    let (mut i, mut x, mut y) = (0usize, 0i64, 0i64);
    let mut out = Vec::new();
    let mut ring: Vec<(i64, i64)> = Vec::new();
    while i < g.len() {
        let (cmd, count) = (g[i] & 7, g[i] >> 3);
        i += 1;
        match cmd {
            1 | 2 => {
                if cmd == 1 {
                    if count != 1 {
                        problems.push(format!("MoveTo with count {count} in a polygon"));
                    }
                    ring.clear();
                }
                for _ in 0..count {
                    let (dx, dy) = (zigzag(g[i]), zigzag(g[i + 1]));
                    i += 2;
                    if cmd == 2 && dx == 0 && dy == 0 {
                        problems.push("zero-length LineTo delta".into());
                    }
                    x += dx;
                    y += dy;
                    ring.push((x, y));
                }
            }
            7 => {
                if ring.len() < 3 {
                    problems.push(format!("ring of {} vertices", ring.len()));
                }
                let n = ring.len();
                let a2: i64 = (0..n)
                    .map(|k| {
                        let (p, q) = (ring[k], ring[(k + 1) % n]);
                        p.0 * q.1 - q.0 * p.1
                    })
                    .sum();
                if out.is_empty() && a2 <= 0 {
                    problems.push(format!("first ring is not exterior (area {a2})"));
                }
                if a2 == 0 {
                    problems.push("ring of zero area".into());
                }
                out.push((ring.clone(), a2));
            }
            c => problems.push(format!("unknown command {c}")),
        }
    }
    out
}

/// Every invariant the issue names, for every layer and feature of a tile.
fn spec_problems(tile: &[u8]) -> Vec<String> {
    let mut problems = Vec::new();
    for l in decode(tile) {
        if l.version != 2 || l.extent != 4096 || l.name.is_empty() {
            problems.push(format!(
                "layer {} v{} extent {}",
                l.name, l.version, l.extent
            ));
        }
        let mut keys = l.keys.clone();
        keys.sort();
        keys.dedup();
        if keys.len() != l.keys.len() {
            problems.push(format!("{}: duplicate keys", l.name));
        }
        for (a, v) in l.values.iter().enumerate() {
            if l.values[..a].contains(v) {
                problems.push(format!("{}: duplicate value {v:?}", l.name));
            }
        }
        for f in &l.features {
            if f.tags.len() % 2 != 0 {
                problems.push("odd tag count".into());
            }
            for pair in f.tags.chunks(2) {
                if pair[0] as usize >= l.keys.len()
                    || pair.get(1).is_none_or(|v| *v as usize >= l.values.len())
                {
                    problems.push(format!("tag index out of range {pair:?}"));
                }
            }
            if f.kind != 3 {
                problems.push(format!("geometry type {}", f.kind));
            }
            rings(f, &mut problems);
        }
    }
    problems
}

fn props(l: &MvtLayer, f: &MvtFeature) -> HashMap<String, Val> {
    f.tags
        .chunks(2)
        .map(|p| {
            (
                l.keys[p[0] as usize].clone(),
                l.values[p[1] as usize].clone(),
            )
        })
        .collect()
}

/// The attributes of each feature of `layer` in `tile`, read by this module's decoder after
/// checking the tile against the spec.
pub(crate) fn layer_properties(tile: &[u8], layer: &str) -> Vec<HashMap<String, Val>> {
    let problems = spec_problems(tile);
    assert!(problems.is_empty(), "{problems:?}");
    decode(tile)
        .iter()
        .filter(|l| l.name == layer)
        .flat_map(|l| l.features.iter().map(|f| props(l, f)))
        .collect()
}

/// The feature whose text attribute `key` is `value`.
fn feature<'a>(l: &'a MvtLayer, key: &str, value: &str) -> Option<&'a MvtFeature> {
    l.features
        .iter()
        .find(|f| props(l, f).get(key) == Some(&Val::Str(value.to_owned())))
}

// ---------------------------------------------------------------------------------------------
// Geometry helpers: Web Mercator metres.

const R: f64 = 6_378_137.0;
const HALF: f64 = std::f64::consts::PI * R;

fn merc(c: Coord<f64>) -> Coord<f64> {
    Coord {
        x: c.x.to_radians() * R,
        y: (std::f64::consts::FRAC_PI_4 + c.y.to_radians() / 2.0)
            .tan()
            .ln()
            * R,
    }
}

fn merc_mp(g: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    use geo::MapCoords;
    g.map_coords(merc)
}

/// A tile's bounds in Web Mercator metres.
fn tile_rect(z: u8, x: u32, y: u32) -> Rect<f64> {
    let size = 2.0 * HALF / f64::from(1u32 << z);
    let min_x = -HALF + f64::from(x) * size;
    let max_y = HALF - f64::from(y) * size;
    Rect::new(
        Coord {
            x: min_x,
            y: max_y - size,
        },
        Coord {
            x: min_x + size,
            y: max_y,
        },
    )
}

pub(crate) fn tile_of(z: u8, lon: f64, lat: f64) -> (u32, u32) {
    let m = merc(Coord { x: lon, y: lat });
    let size = 2.0 * HALF / f64::from(1u32 << z);
    (((m.x + HALF) / size) as u32, ((HALF - m.y) / size) as u32)
}

/// Tile-unit rings → a Web Mercator multipolygon (exteriors start polygons).
fn to_mp(z: u8, x: u32, y: u32, rings: &[(Vec<(i64, i64)>, i64)]) -> MultiPolygon<f64> {
    let r = tile_rect(z, x, y);
    let s = r.width() / 4096.0;
    let mut polys: Vec<Polygon<f64>> = Vec::new();
    for (ring, area) in rings {
        let ls = LineString::from(
            ring.iter()
                .chain(ring.first())
                .map(|&(px, py)| (r.min().x + px as f64 * s, r.max().y - py as f64 * s))
                .collect::<Vec<_>>(),
        );
        if *area > 0 {
            polys.push(Polygon::new(ls, vec![]));
        } else if let Some(p) = polys.last_mut() {
            p.interiors_push(ls);
        }
    }
    MultiPolygon(polys)
}

/// The features of a tile file as GDAL's MVT driver reads them: id field → geometry (Web
/// Mercator, clipped to the tile by GDAL) and numeric fields.
fn gdal_features(
    tile: &[u8],
    z: u8,
    x: u32,
    y: u32,
    layer: &str,
    id_field: &str,
) -> HashMap<String, (MultiPolygon<f64>, HashMap<String, f64>)> {
    use gdal::vector::LayerAccess;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(format!("{z}/{x}/{y}.pbf"));
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, tile).expect("write tile");
    let ds = gdal::Dataset::open(&path).expect("GDAL opens the tile");
    let mut l = ds.layer_by_name(layer).expect("layer");
    let names: Vec<String> = l.defn().fields().map(|f| f.name()).collect();
    let mut out = HashMap::new();
    for f in l.features() {
        let id = f
            .field_as_string(f.field_index(id_field).expect("id field"))
            .expect("field")
            .expect("id");
        let g: geo::Geometry<f64> = f.geometry().expect("geometry").to_geo().expect("geo");
        let mp = match g {
            geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
            geo::Geometry::MultiPolygon(m) => m,
            other => panic!("{other:?}"),
        };
        let nums = names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let numeric = matches!(
                    f.field(i),
                    Ok(Some(
                        gdal::vector::FieldValue::IntegerValue(_)
                            | gdal::vector::FieldValue::Integer64Value(_)
                            | gdal::vector::FieldValue::RealValue(_)
                    ))
                );
                numeric
                    .then(|| f.field_as_double(i).ok().flatten().map(|v| (n.clone(), v)))
                    .flatten()
            })
            .collect();
        out.insert(id, (mp, nums));
    }
    out
}

fn parcels_of(data: &Path) -> HashMap<String, predio_engine::Parcel> {
    predio_engine::read_parcels(&version_dir(data).join("parcels.fgb"))
        .expect("parcels")
        .parcels
        .into_iter()
        .map(|p| (p.id.as_str().to_owned(), p))
        .collect()
}

/// The numbers of the rows of a stored indices table for a window, all reports (and an H3
/// resolution), by the key column: the Parquet file read and filtered here, row by row,
/// without predio's own selection.
fn table_rows(
    data: &Path,
    file: &str,
    key: &str,
    window: &str,
    res: Option<u8>,
) -> HashMap<String, HashMap<String, f64>> {
    let path = version_dir(data).join(file);
    let df = ParquetReader::new(std::fs::File::open(&path).expect("open"))
        .finish()
        .expect("parquet");
    let text = |name: &str| -> Vec<Option<String>> {
        df.column(name)
            .expect("column")
            .str()
            .expect("text")
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect()
    };
    let (keys, windows, dimensions) = (text(key), text("window"), text("dimension"));
    let resolutions: Option<Vec<Option<f64>>> = res.map(|_| {
        let c = df
            .column("res")
            .expect("res")
            .cast(&DataType::Float64)
            .expect("f64");
        c.f64().expect("f64").iter().collect()
    });
    let mut out: HashMap<String, HashMap<String, f64>> = HashMap::new();
    for c in df.columns() {
        let Ok(v) = c.cast(&DataType::Float64) else {
            continue;
        };
        let Ok(v) = v.f64().cloned() else { continue };
        for (i, k) in keys.iter().enumerate() {
            let wanted = windows[i].as_deref() == Some(window)
                && dimensions[i].as_deref() == Some("all")
                && resolutions
                    .as_ref()
                    .is_none_or(|r| r[i] == res.map(f64::from));
            if let (true, Some(k), Some(x)) = (wanted, k, v.get(i)) {
                out.entry(k.clone())
                    .or_default()
                    .insert(c.name().to_string(), x);
            }
        }
    }
    out
}

/// A cell's hexagon from h3o directly, in lon/lat.
fn hexagon(cell: &str) -> MultiPolygon<f64> {
    let c: h3o::CellIndex = cell.parse().expect("an H3 cell");
    let ring: Vec<(f64, f64)> = c.boundary().iter().map(|ll| (ll.lng(), ll.lat())).collect();
    MultiPolygon(vec![geo::Polygon::new(ring.into(), vec![])])
}

fn computed_town() -> tempfile::TempDir {
    let data = town();
    predio_ok(data.path(), &["compute", "--as-of", "2025-12-31"]);
    data
}

// ---------------------------------------------------------------------------------------------

#[test]
fn parcel_tiles_decode_with_gdal_within_a_pixel_of_the_parcels_with_the_indices() {
    let data = computed_town();
    let d = data.path();
    let server = Server::start(d);
    let parcels = parcels_of(d);
    let rows = table_rows(d, "indices-parcels.parquet", "parcel_id", "90d", None);
    let meta = server.get("/meta.json", &[]).json();
    let [w, s, e, n] = [0, 1, 2, 3].map(|i| meta["bounds"][i].as_f64().expect("bounds"));
    let (cx, cy) = ((w + e) / 2.0, (s + n) / 2.0);
    let mut checked = 0usize;
    for (z, lon, lat) in [
        (14u8, cx, cy),
        (15, cx, cy),
        (16, w + 0.002, s + 0.002),
        (17, cx, cy),
    ] {
        let (x, y) = tile_of(z, lon, lat);
        let r = server.get(&format!("/tiles/parcels/{z}/{x}/{y}.mvt"), &[]);
        assert_eq!(r.status, 200, "z{z}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(
            r.header("content-type"),
            Some("application/vnd.mapbox-vector-tile")
        );
        let problems = spec_problems(&r.body);
        assert!(problems.is_empty(), "z{z}/{x}/{y}: {problems:?}");
        let rect = tile_rect(z, x, y);
        let pixel = rect.width() / 256.0;
        let decoded = gdal_features(&r.body, z, x, y, "parcels", "parcel_id");
        let ours = decode(&r.body);
        let ours_props: HashMap<String, HashMap<String, Val>> = ours[0]
            .features
            .iter()
            .map(|f| {
                let p = props(&ours[0], f);
                let Some(Val::Str(id)) = p.get("parcel_id").cloned() else {
                    panic!("no parcel_id")
                };
                (id, p)
            })
            .collect();
        // GDAL clips to the tile; ours also holds the features in the buffer only.
        assert!(ours_props.len() >= decoded.len());
        assert!(!decoded.is_empty());
        let tile_poly = MultiPolygon(vec![rect.to_polygon()]);
        for (id, (g, nums)) in &decoded {
            let p = &parcels[id];
            let clipped = merc_mp(&p.geometry).intersection(&tile_poly);
            // Every decoded vertex lies within a pixel of the parcel's (clipped) outline...
            let outline: Vec<geo::Line<f64>> = clipped.lines_iter().collect();
            for v in crate::support::vertices(g) {
                let d = outline
                    .iter()
                    .map(|l| geo::Euclidean.distance(&geo::Point::from(v), l))
                    .fold(f64::INFINITY, f64::min);
                assert!(
                    d <= pixel,
                    "z{z} parcel {id}: a vertex {d:.2} m off (pixel {pixel:.2} m)"
                );
            }
            // ...and the parcel keeps its area, to a pixel along its outline.
            let (a, b) = (g.unsigned_area(), clipped.unsigned_area());
            let perimeter: f64 = outline.iter().map(|l| geo::Euclidean.length(l)).sum();
            assert!(
                (a - b).abs() <= 0.5 * perimeter * pixel / 16.0 + 2.0 * pixel * pixel,
                "z{z} parcel {id}: {a:.0} m² in the tile, {b:.0} m² in the catalog"
            );
            let row = &rows[id];
            for f in [
                "received",
                "open",
                "overdue",
                "compliance",
                "attention",
                "density_km2",
            ] {
                match row.get(f) {
                    Some(v) => assert_eq!(nums.get(f), Some(v), "z{z} parcel {id} field {f}"),
                    // Undefined (a rate without reports): no tag (GDAL reads unset as 0).
                    None => assert!(!ours_props[id].contains_key(f), "z{z} {id}: {f} set"),
                }
            }
            checked += 1;
        }
        // Completeness: every parcel with at least 4 px² inside the tile is in it.
        for (id, p) in &parcels {
            let inside = merc_mp(&p.geometry)
                .intersection(&tile_poly)
                .unsigned_area();
            if inside >= 4.0 * pixel * pixel {
                assert!(
                    decoded.contains_key(id),
                    "z{z}: parcel {id} ({inside:.0} m²) missing"
                );
            }
        }
        // Sector ids come along.
        for (id, pr) in &ours_props {
            let want = parcels[id]
                .sector_id
                .as_ref()
                .map(|s| Val::Str(s.as_str().to_owned()));
            assert_eq!(pr.get("sector_id").cloned(), want);
        }
    }
    assert!(checked > 200, "only {checked} parcels checked");
}

#[test]
fn a_parcel_across_four_tiles_is_whole_and_http_follows_the_rules() {
    let data = computed_town();
    let d = data.path();
    let server = Server::start(d);
    let parcels = parcels_of(d);
    // The largest parcel, and a zoom whose tile corner falls inside it.
    let big = parcels
        .values()
        .max_by(|a, b| a.area_m2.total_cmp(&b.area_m2))
        .expect("parcels");
    let m = merc_mp(&big.geometry);
    let c = geo::InteriorPoint::interior_point(&m).expect("interior point");
    let (z, corner) = (16u8..=22)
        .rev()
        .find_map(|z| {
            let size = 2.0 * HALF / f64::from(1u32 << z);
            let k = Coord {
                x: -HALF + ((c.x() + HALF) / size).round() * size,
                y: HALF - ((HALF - c.y()) / size).round() * size,
            };
            geo::Contains::contains(&m, &geo::Point::from(k)).then_some((z, k))
        })
        .expect("a tile corner inside the largest parcel");
    let size = 2.0 * HALF / f64::from(1u32 << z);
    let (x1, y1) = (
        ((corner.x + HALF) / size).round() as u32,
        ((HALF - corner.y) / size).round() as u32,
    );
    let mut total = 0.0;
    for (x, y) in [(x1 - 1, y1 - 1), (x1, y1 - 1), (x1 - 1, y1), (x1, y1)] {
        let r = server.get(&format!("/tiles/parcels/{z}/{x}/{y}.mvt"), &[]);
        assert_eq!(r.status, 200);
        let problems = spec_problems(&r.body);
        assert!(problems.is_empty(), "z{z}/{x}/{y}: {problems:?}");
        let layers = decode(&r.body);
        let f = feature(&layers[0], "parcel_id", big.id.as_str())
            .expect("the parcel is in each of the four tiles");
        let mut problems = Vec::new();
        let part = to_mp(z, x, y, &rings(f, &mut problems));
        // Our own part, cut at the tile (the buffer overlaps the neighbours).
        total += part
            .intersection(&MultiPolygon(vec![tile_rect(z, x, y).to_polygon()]))
            .unsigned_area();
    }
    let block = Rect::new(
        Coord {
            x: corner.x - size,
            y: corner.y - size,
        },
        Coord {
            x: corner.x + size,
            y: corner.y + size,
        },
    );
    let want = m
        .intersection(&MultiPolygon(vec![block.to_polygon()]))
        .unsigned_area();
    assert!(
        (total - want).abs() / want < 0.01,
        "z{z}: the four parts hold {total:.1} m², the parcel has {want:.1} m² there"
    );

    // HTTP: gzip, ETag and 304, 204, 400s and 404 with JSON bodies.
    let (x, y) = (x1, y1);
    let path = format!("/tiles/parcels/{z}/{x}/{y}.mvt");
    let plain = server.get(&path, &[]);
    let gz = server.get(&path, &[("Accept-Encoding", "gzip, deflate")]);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(gz.body.as_slice())
        .read_to_end(&mut unzipped)
        .expect("gunzip");
    assert_eq!(unzipped, plain.body);
    let etag = plain.header("etag").expect("etag").to_owned();
    assert_eq!(gz.header("etag"), Some(etag.as_str()));
    assert!(plain
        .header("cache-control")
        .is_some_and(|c| c.contains("max-age")));
    assert_eq!(server.get(&path, &[("If-None-Match", &etag)]).status, 304);
    assert_eq!(
        server.get("/tiles/parcels/12/0/0.mvt", &[]).status,
        204,
        "below minzoom"
    );
    assert_eq!(
        server.get("/tiles/parcels/20/0/0.mvt", &[]).status,
        204,
        "far away"
    );
    for (bad, status) in [
        ("/tiles/parcels/23/0/0.mvt", 400),
        ("/tiles/parcels/3/8/0.mvt", 400),
        ("/tiles/parcels/3/0/x.mvt", 400),
        ("/tiles/parcels/3/0/0.png", 400),
        ("/tiles/roads/3/0/0.mvt", 404),
        ("/tiles/roads.json", 404),
        ("/tiles/parcels/15/0/0.mvt?window=7d", 400),
        (
            "/tiles/parcels/15/0/0.mvt?category=Bache&department=Alumbrado",
            400,
        ),
        ("/tiles/parcels/15/0/0.mvt?category=Nada", 400),
    ] {
        let r = server.get(bad, &[]);
        assert_eq!(r.status, status, "{bad}");
        assert!(
            r.json()["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{bad}"
        );
    }
    // Filters are part of the cache key: another window gives other attributes.
    let w30 = server.get(&format!("{path}?window=30d"), &[]);
    assert_eq!(w30.status, 200);
    assert_eq!(w30.header("x-cache"), Some("miss"));
    // TileJSON and style.
    let tj = server.get("/tiles/parcels.json?window=30d", &[]).json();
    assert_eq!(tj["tilejson"], "3.0.0");
    assert!(tj["tiles"][0]
        .as_str()
        .is_some_and(|t| t.ends_with("{z}/{x}/{y}.mvt?window=30d")));
    assert_eq!(tj["vector_layers"][0]["id"], "parcels");
    assert_eq!(tj["vector_layers"][0]["field_types"]["received"], "Number");
    let style = server.get("/style.json", &[]).json();
    assert_eq!(style["version"], 8);
    for s in ["parcels", "sectors", "heat"] {
        assert!(style["sources"][s]["url"].is_string(), "{s}");
    }
    assert!(style["metadata"]["predio:legend"]["sectors"]["stops"].is_array());
}

#[test]
fn z0_and_z22_tiles_of_a_large_sector_with_a_hole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // A sector the size of a country (so it shows at z0) with a lake in it.
    let src = d.join("region.geojson");
    std::fs::write(
        &src,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"codigo":"R1"},
        "geometry":{"type":"Polygon","coordinates":[
          [[-86,8],[-82,8],[-82,11.5],[-86,11.5],[-86,8]],
          [[-85,9],[-85,10.5],[-83.5,10.5],[-83.5,9],[-85,9]]]}}]}"#,
    )
    .expect("write");
    let data = d.join("data");
    predio_ok(
        &data,
        &["import", "sectors", arg(&src), "--id-field", "codigo"],
    );
    let server = Server::start(&data);
    let r = server.get("/tiles/sectors/0/0/0.mvt", &[]);
    assert_eq!(r.status, 200);
    assert!(
        spec_problems(&r.body).is_empty(),
        "{:?}",
        spec_problems(&r.body)
    );
    let layers = decode(&r.body);
    assert_eq!(layers[0].features.len(), 1);
    let mut problems = Vec::new();
    let rs = rings(&layers[0].features[0], &mut problems);
    assert_eq!(rs.len(), 2, "exterior and hole");
    assert!(
        rs[0].1 > 0 && rs[1].1 < 0,
        "winding: {:?}",
        rs.iter().map(|r| r.1).collect::<Vec<_>>()
    );
    let want = merc_mp(&MultiPolygon(vec![Polygon::new(
        LineString::from(vec![
            (-86.0, 8.0),
            (-82.0, 8.0),
            (-82.0, 11.5),
            (-86.0, 11.5),
            (-86.0, 8.0),
        ]),
        vec![LineString::from(vec![
            (-85.0, 9.0),
            (-85.0, 10.5),
            (-83.5, 10.5),
            (-83.5, 9.0),
            (-85.0, 9.0),
        ])],
    )]));
    let got = gdal_features(&r.body, 0, 0, 0, "sectors", "sector_id");
    let pixel = tile_rect(0, 0, 0).width() / 256.0;
    let h = got["R1"].0.hausdorff_distance(&want);
    assert!(h <= pixel, "z0: {h:.0} m (pixel {pixel:.0} m)");
    // z22 inside the ring, away from the hole: the sector covers the tile and its buffer.
    let (x, y) = tile_of(22, -85.5, 8.5);
    let r = server.get(&format!("/tiles/sectors/22/{x}/{y}.mvt"), &[]);
    assert_eq!(r.status, 200);
    let layers = decode(&r.body);
    let rs = rings(&layers[0].features[0], &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    let mut ring = rs[0].0.clone();
    ring.sort_unstable();
    assert_eq!(
        ring,
        vec![(-64, -64), (-64, 4160), (4160, -64), (4160, 4160)]
    );
    // z22 in the lake: nothing.
    let (x, y) = tile_of(22, -84.2, 9.7);
    assert_eq!(
        server
            .get(&format!("/tiles/sectors/22/{x}/{y}.mvt"), &[])
            .status,
        204
    );
    // No indices computed: tiles carry ids only, and any window is accepted.
    assert_eq!(
        server
            .get("/tiles/sectors/0/0/0.mvt?window=90d", &[])
            .status,
        200
    );
}

#[test]
fn heat_leaves_out_cells_under_k_and_picks_the_resolution_by_zoom() {
    let data = computed_town();
    let d = data.path();
    let server = Server::start(d);
    let meta = server.get("/meta.json", &[]).json();
    let [w, s, e, n] = [0, 1, 2, 3].map(|i| meta["bounds"][i].as_f64().expect("bounds"));
    for (z, want_res) in [(12u8, 8u8), (13, 9), (14, 10), (16, 10)] {
        let (x, y) = tile_of(z, (w + e) / 2.0, (s + n) / 2.0);
        let r = server.get(&format!("/tiles/heat/{z}/{x}/{y}.mvt?window=365d"), &[]);
        assert_eq!(r.status, 200, "z{z}");
        assert!(spec_problems(&r.body).is_empty());
        let layers = decode(&r.body);
        let mut got: Vec<String> = Vec::new();
        for f in &layers[0].features {
            let p = props(&layers[0], f);
            assert_eq!(
                p.get("res").and_then(Val::num),
                Some(f64::from(want_res)),
                "z{z}"
            );
            let Some(received) = p.get("received").and_then(Val::num) else {
                panic!("received")
            };
            assert!(
                received >= 3.0,
                "z{z}: a cell of {received} reports is shown"
            );
            let Some(Val::Str(cell)) = p.get("cell") else {
                panic!("cell")
            };
            got.push(cell.clone());
        }
        // Every cell of the table with ≥ 3 reports that meets the tile is there (the table
        // filtered here, the hexagons from h3o directly).
        let cells = table_rows(d, "indices-h3.parquet", "cell", "365d", Some(want_res));
        let rect = MultiPolygon(vec![tile_rect(z, x, y).to_polygon()]);
        let mut want = Vec::new();
        for (c, row) in &cells {
            if c.is_empty() || row["received"] < 3.0 {
                continue;
            }
            if merc_mp(&hexagon(c)).intersection(&rect).unsigned_area() > 1.0 {
                want.push(c.clone());
            }
        }
        for c in &want {
            assert!(got.contains(c), "z{z}: cell {c} missing");
        }
        for c in &got {
            if !want.contains(c) {
                let poly = hexagon(c);
                let inside = merc_mp(&poly).intersection(&rect).unsigned_area();
                assert!(inside <= 1.0, "z{z}: cell {c} shown but not expected");
            }
        }
        assert!(!want.is_empty(), "z{z}: no cell to check");
    }
}

#[test]
fn a_new_version_evicts_only_the_tiles_it_changed() {
    let data = computed_town();
    let d = data.path();
    let server = Server::start(d);
    let parcels = parcels_of(d);
    let rows = table_rows(d, "indices-parcels.parquet", "parcel_id", "365d", None);
    let meta = server.get("/meta.json", &[]).json();
    let [w, s, e, n] = [0, 1, 2, 3].map(|i| meta["bounds"][i].as_f64().expect("bounds"));
    // A parcel without reports in the year, in the north-east; a tile in the south-west.
    let quiet = parcels
        .values()
        .filter(|p| rows.get(p.id.as_str()).and_then(|r| r.get("received")) == Some(&0.0))
        .map(|p| {
            (
                p,
                geo::InteriorPoint::interior_point(&p.geometry).expect("point"),
            )
        })
        .filter(|(_, c)| c.x() > (w + e) / 2.0 && c.y() > (s + n) / 2.0)
        .max_by(|a, b| a.0.area_m2.total_cmp(&b.0.area_m2))
        .expect("a parcel with no reports");
    let (p, c) = quiet;
    let z = 17;
    let (ax, ay) = tile_of(z, c.x(), c.y());
    let (bx, by) = tile_of(z, w + 0.001, s + 0.001);
    assert!(ax.abs_diff(bx) > 2 && ay.abs_diff(by) > 2);
    let a = format!("/tiles/parcels/{z}/{ax}/{ay}.mvt?window=30d");
    let b = format!("/tiles/parcels/{z}/{bx}/{by}.mvt?window=30d");
    let h = format!("/tiles/heat/{z}/{ax}/{ay}.mvt?window=30d");
    for path in [&a, &b, &h] {
        assert_eq!(server.get(path, &[]).header("x-cache"), Some("miss"));
        assert_eq!(server.get(path, &[]).header("x-cache"), Some("hit"));
    }
    let b_before = server.get(&b, &[]);
    let version0 = server.get("/health", &[]).json()["version"].clone();

    // One new pothole on the quiet parcel, imported and computed while the server runs.
    let town = crate::support::sample_town();
    let header = std::fs::read_to_string(town.join("reports.csv"))
        .expect("csv")
        .lines()
        .next()
        .expect("header")
        .to_owned();
    let batch = d.join("batch.csv");
    std::fs::write(
        &batch,
        format!(
            "{header}\nNEW-1,2025-12-20 09:00,,,Abierto,Bache,Obras Viales,app,,{:.7},{:.7},,,\n",
            c.y(),
            c.x()
        ),
    )
    .expect("write batch");
    predio_ok(
        d,
        &[
            "import",
            "reports",
            arg(&batch),
            "--mapping",
            arg(&town.join("reports-mapping.toml")),
        ],
    );
    predio_ok(d, &["compute", "--as-of", "2025-12-31"]);
    let want = std::fs::read_to_string(d.join("CURRENT"))
        .expect("CURRENT")
        .trim()
        .to_owned();
    let t = Instant::now();
    while server.get("/health", &[]).json()["version"] != want.as_str() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the server never switched to {want}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_ne!(version0, want.as_str());
    // The far tile is still cached, byte for byte; the changed one is made again.
    let b_after = server.get(&b, &[]);
    assert_eq!(b_after.header("x-cache"), Some("hit"));
    assert_eq!(b_after.header("etag"), b_before.header("etag"));
    // The heat cells holding the new report changed too.
    assert_eq!(server.get(&h, &[]).header("x-cache"), Some("miss"));
    let a_after = server.get(&a, &[]);
    assert_eq!(a_after.header("x-cache"), Some("miss"));
    let layers = decode(&a_after.body);
    let f = feature(&layers[0], "parcel_id", p.id.as_str()).expect("the parcel");
    assert_eq!(props(&layers[0], f).get("received"), Some(&Val::UInt(1)));
}

/// Runs `tests/browser/viewer.mjs` (headless Chromium) on `server`'s viewer, in `mode` if
/// given, saving its screenshot at `shot`; returns the JSON summary it prints.
pub(crate) fn run_viewer(
    server: &Server,
    page: &str,
    shot: &Path,
    mode: Option<&str>,
) -> serde_json::Value {
    run_viewer_at(&format!("http://{}{page}", server.addr), shot, mode)
}

/// [`run_viewer`] on the viewer at `url` (a predio server's, or a published site's).
pub(crate) fn run_viewer_at(url: &str, shot: &Path, mode: Option<&str>) -> serde_json::Value {
    crate::support::browser(&[
        "tests/browser/node_modules/playwright-core",
        "api/web/node_modules/maplibre-gl/dist/maplibre-gl.js",
        "api/web/node_modules/pmtiles/dist/pmtiles.js",
    ]);
    let _heavy = crate::support::heavy();
    let out = Command::new("node")
        .arg(crate::support::workspace().join("tests/browser/viewer.mjs"))
        .arg(url)
        .arg(shot)
        .args(mode)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "the browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON summary")
}

#[test]
fn the_viewer_renders_parcels_sectors_and_heat_in_headless_chromium() {
    let data = computed_town();
    // an auditor opens it: the panel lists the reports behind a sector's numbers
    let auditor = crate::api::key(data.path(), "aud", "auditor");
    let server = Server::start(data.path());
    let shot = data.path().join("viewer.png");
    let summary = run_viewer(&server, &format!("/?key={auditor}"), &shot, None);
    for layer in ["sectors", "heat", "hotspots", "parcels", "parcels30d"] {
        assert!(
            summary[layer].as_u64().is_some_and(|n| n > 0),
            "{layer}: {summary}"
        );
    }
    // Hot spots are drawn by class: only the significant cells, hot or cold.
    let classes = summary["hotspotClasses"].as_array().expect("classes");
    assert!(
        !classes.is_empty() && classes.iter().all(|c| c == "hot" || c == "cold"),
        "{summary}"
    );
    // The popup shows the clicked parcel: its id and its indices for the 30-day window, as
    // `predio export indices` gives them.
    let popup = &summary["popup"];
    let id = popup["parcel_id"].as_str().expect("a parcel_id row");
    assert_eq!(summary["clicked"]["parcel_id"], id, "{summary}");
    let table = data.path().join("parcels-30d.csv");
    predio_ok(
        data.path(),
        &[
            "export",
            "indices",
            "--level",
            "parcel",
            "--format",
            "csv",
            "--out",
            table.to_str().expect("utf-8"),
            "--window",
            "30d",
        ],
    );
    let rows = crate::support::csv_rows(&table);
    let row = rows
        .iter()
        .find(|r| r["parcel_id"] == id)
        .unwrap_or_else(|| panic!("parcel {id} in the 30-day indices"));
    for field in ["received", "open", "overdue"] {
        let shown: f64 = popup[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field} row in the popup: {popup}"))
            .parse()
            .expect("a number");
        let exported: f64 = row[field].parse().expect("a number");
        assert_eq!(shown, exported, "parcel {id}: {field}");
    }
    workbench_agrees(data.path(), &server, &auditor, &summary["search"]);
    // the area drawn in the viewer: its months hold the reports shapely finds inside it
    let area = &summary["area"];
    let ring = &area["ring"];
    let export = crate::workbench::export_reports(data.path());
    let inside = crate::workbench::inside_ids(
        &export,
        &serde_json::json!({"type": "Polygon", "coordinates": [ring]}),
    );
    let months = area["stats"]["months"].as_array().expect("months");
    let received: u64 = months.iter().filter_map(|m| m["received"].as_u64()).sum();
    let as_of: chrono::DateTime<chrono::Utc> = area["stats"]["as_of"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("as of");
    let rows = crate::support::csv_rows(&export);
    let want = rows
        .iter()
        .filter(|r| inside.contains(&r["id"]))
        .filter(|r| {
            r["created_at"]
                .parse::<chrono::DateTime<chrono::Utc>>()
                .is_ok_and(|c| c <= as_of)
        })
        .count() as u64;
    assert!(want > 10, "{want} reports in the drawn area");
    assert_eq!(received, want, "the drawn area's reports");
    // the labels drawn are sector names
    let sectors = predio_engine::read_sectors(&version_dir(data.path()).join("sectors.fgb"))
        .expect("sectors");
    let labels = summary["labels"].as_array().expect("labels");
    assert!(!labels.is_empty());
    for l in labels {
        assert!(
            sectors.sectors.iter().any(|s| l == s.name.as_str()),
            "{l} is not a sector's name"
        );
    }
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}

/// The sector the viewer's search selected: its panel's numbers are the sector's indices for
/// the window shown (`predio export indices`), its chart the `/series` months.
fn workbench_agrees(d: &Path, server: &Server, auditor: &str, search: &serde_json::Value) {
    let id = search["id"].as_str().expect("the selected sector");
    let query = search["query"].as_str().expect("the filter");
    let window = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("window="))
        .expect("a window");
    let table = d.join("sectors-shown.csv");
    predio_ok(
        d,
        &[
            "export",
            "indices",
            "--level",
            "sector",
            "--format",
            "csv",
            "--out",
            arg(&table),
            "--window",
            window,
        ],
    );
    let rows = crate::support::csv_rows(&table);
    let row = rows
        .iter()
        .find(|r| r["sector_id"] == id)
        .unwrap_or_else(|| panic!("sector {id} in the indices"));
    let shown = &search["selection"]["indices"];
    let mut compared = 0;
    for field in [
        "received",
        "open",
        "overdue",
        "compliance",
        "resolution_median_bd",
    ] {
        let (Some(v), Ok(want)) = (shown[field].as_f64(), row[field].parse::<f64>()) else {
            continue;
        };
        assert!(
            (v - want).abs() < 1e-9,
            "sector {id} {field}: panel {v}, indices {want}"
        );
        compared += 1;
    }
    assert!(compared >= 3, "{shown}");
    // its rank among the sectors by the index shown, as the exported indices order them
    let rank = &search["selection"]["rank"];
    let field = rank["field"].as_str().expect("the ranked field");
    let value = |r: &HashMap<String, String>| r[field].parse::<f64>().ok();
    let mine = value(row).expect("the sector's value");
    let others: Vec<f64> = rows
        .iter()
        .filter(|r| !r["sector_id"].is_empty())
        .filter_map(value)
        .collect();
    assert_eq!(rank["of"].as_u64(), Some(others.len() as u64), "{rank}");
    assert_eq!(
        rank["rank"].as_u64(),
        Some(1 + others.iter().filter(|v| **v > mine).count() as u64),
        "{rank}"
    );
    let series = server
        .get(&format!("/series?level=sector&id={id}"), &[])
        .json();
    let (charted, months) = (
        search["months"].as_array().expect("charted months"),
        series["months"].as_array().expect("months"),
    );
    assert_eq!(charted.len(), months.len());
    for (a, b) in charted.iter().zip(months) {
        assert_eq!(a["month"], b["month"]);
        for f in ["received", "open", "overdue", "closed", "answered"] {
            assert_eq!(
                a[f].as_f64(),
                b[f].as_f64(),
                "the chart's {f} of {}",
                a["month"]
            );
        }
    }
    // behind the numbers: the sector's open reports under the filter, as `/reports.json` has
    // them for an auditor; the CSV link downloads the same
    let behind = &search["behind"];
    let listed = server
        .get(
            &format!("/reports.json?sector_id={id}&{query}&page_size=20"),
            &[("X-API-Key", auditor)],
        )
        .json();
    assert_eq!(behind["total"], listed["total"], "{behind}");
    let ids: Vec<&str> = listed["reports"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(behind["ids"], serde_json::json!(ids));
    assert_eq!(
        search["csvRows"].as_u64(),
        listed["total"].as_u64(),
        "the CSV downloaded holds the filter's rows"
    );
    eprintln!(
        "viewer: searched {:?}, selected {id}: {compared} indices as exported, {} months charted",
        search["typed"],
        series["months"].as_array().map_or(0, Vec::len)
    );
}

#[test]
fn tile_archives_hold_the_served_tiles_and_open_in_gdal_and_the_pmtiles_reader() {
    let py = python();
    let data = computed_town();
    let d = data.path();
    let (pm, mb) = (d.join("town.pmtiles"), d.join("town.mbtiles"));
    for (format, out) in [("pmtiles", &pm), ("mbtiles", &mb)] {
        predio_ok(
            d,
            &[
                "export",
                "tiles",
                "--format",
                format,
                "--minzoom",
                "12",
                "--maxzoom",
                "17",
                "--out",
                arg(out),
            ],
        );
    }
    let check = d.join("check");
    let out = Command::new(&py)
        .arg(crate::support::workspace().join("tests/integration/archive_check.py"))
        .args([&pm, &mb, &check])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(check.join("summary.json")).expect("summary"))
            .expect("json");
    let h = &summary["pmtiles"]["header"];
    assert_eq!(
        (h["min_zoom"].as_u64(), h["max_zoom"].as_u64()),
        (Some(12), Some(17))
    );
    assert_eq!(h["tile_type"], "MVT");
    let layers: Vec<&str> = summary["pmtiles"]["metadata"]["vector_layers"]
        .as_array()
        .expect("vector_layers")
        .iter()
        .filter_map(|l| l["id"].as_str())
        .collect();
    assert_eq!(layers, ["sectors", "parcels", "heat"]);
    assert_eq!(
        summary["pmtiles"]["per_zoom"],
        summary["mbtiles"]["per_zoom"]
    );
    assert_eq!(summary["mbtiles"]["metadata"]["format"], "pbf");

    // Every archived tile equals what the server sends for its layers, in the same order; and
    // martin-core reads both archives back: served as --source layers, every tile is the
    // archived one.
    let pm_source = format!("pm={}", arg(&pm));
    let mb_source = format!("mb={}", arg(&mb));
    let server = Server::start_with(d, &["--source", &pm_source, "--source", &mb_source]);
    let mut compared = 0;
    for entry in std::fs::read_dir(&check).expect("dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let Some(zxy) = name
            .strip_prefix("pm-")
            .and_then(|n| n.strip_suffix(".mvt"))
        else {
            continue;
        };
        let path = zxy.replace('-', "/");
        let mut want = Vec::new();
        for layer in ["sectors", "parcels", "heat"] {
            let r = server.get(&format!("/tiles/{layer}/{path}.mvt"), &[]);
            assert!(
                r.status == 200 || r.status == 204,
                "{layer} {zxy}: {}",
                r.status
            );
            want.extend_from_slice(&r.body);
        }
        let pm_tile = std::fs::read(check.join(&name)).expect("pm tile");
        let mb_tile = std::fs::read(check.join(format!("mb-{zxy}.mvt")))
            .expect("the same tile in the MBTiles");
        assert_eq!(
            pm_tile, want,
            "{zxy}: PMTiles tile differs from the served one"
        );
        assert_eq!(
            mb_tile, want,
            "{zxy}: MBTiles tile differs from the served one"
        );
        assert!(spec_problems(&pm_tile).is_empty());
        for layer in ["pm", "mb"] {
            let r = server.get(&format!("/tiles/{layer}/{path}.mvt"), &[]);
            assert_eq!(r.status, 200, "{layer} {zxy}");
            assert_eq!(r.body, want, "{layer} {zxy}: martin-core read another tile");
        }
        compared += 1;
    }
    assert!(compared > 10, "{compared} tiles compared");
    let r = server.get("/tiles/pm/11/0/0.mvt", &[]);
    assert_eq!(r.status, 204, "below the archive's zooms: empty");
    for layer in ["pm", "mb"] {
        let tj = server.get(&format!("/tiles/{layer}.json"), &[]).json();
        let ids: Vec<&str> = tj["vector_layers"]
            .as_array()
            .expect("vector_layers")
            .iter()
            .filter_map(|l| l["id"].as_str())
            .collect();
        assert_eq!(ids, ["sectors", "parcels", "heat"], "{layer}: {tj}");
        assert_eq!(
            (tj["minzoom"].as_u64(), tj["maxzoom"].as_u64()),
            (Some(12), Some(17))
        );
    }
    drop(server);
    // a name the catalog uses, a missing file, a format we do not serve: refused at start
    for (source, says) in [
        (format!("parcels={}", arg(&pm)), "the catalog has a layer"),
        (
            format!("x={}", arg(&d.join("missing.pmtiles"))),
            "missing.pmtiles",
        ),
        ("x=roads.geojson".to_owned(), "NAME=FILE.pmtiles"),
    ] {
        let out = predio(d, &["serve", "--addr", "127.0.0.1:0", "--source", &source]);
        assert!(!out.status.success(), "{source} was served");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{source}: {err}");
    }

    // GDAL's MBTiles driver reads the vector tiles.
    let info = crate::support::gdal_tool(
        "ogrinfo",
        &["-ro", "-so", "-oo", "ZOOM_LEVEL=15", arg(&mb), "parcels"],
    );
    let count: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("Feature Count: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("a feature count");
    assert!(count > 1_000, "GDAL reads {count} parcels at z15");

    // Refusals: nothing written.
    let bad = d.join("bad.pmtiles");
    for args in [
        vec!["--minzoom", "15", "--maxzoom", "12"],
        vec!["--layers", "parcels,roads"],
        vec!["--window", "7d"],
    ] {
        let mut all = vec!["export", "tiles", "--format", "pmtiles", "--out", arg(&bad)];
        all.extend(args.iter().copied());
        let out = predio(d, &all);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("roads") || err.contains("7d") || err.contains("minzoom"),
            "{err}"
        );
        assert!(!bad.exists());
    }
}

#[test]
fn postgis_tables_and_functions_serve_through_the_same_layer_trait() {
    // martin-core warns at start-up that Debian 12's PostGIS (3.3) is older than the 3.5 it
    // recommends (martin-core 0.11 `tiles/postgres/pool.rs`: before 3.5, very long lines could
    // go missing at some zooms; maplibre/martin#1651). Expected here: these layers are parcel
    // polygons, each tile compared with PostGIS's own ST_AsMVT below. The warning goes to the
    // server's log, not the test output.
    let pg = Postgis::start();
    let data = computed_town();
    let d = data.path();
    let fgb = d.join("parcels-90d.fgb");
    predio_ok(
        d,
        &[
            "export",
            "indices",
            "--level",
            "parcel",
            "--format",
            "fgb",
            "--window",
            "90d",
            "--out",
            arg(&fgb),
        ],
    );
    pg.sql("CREATE SCHEMA town");
    crate::support::gdal_tool(
        "ogr2ogr",
        &[
            "-f",
            "PostgreSQL",
            &pg.gdal(),
            arg(&fgb),
            "-nln",
            "town.parcels",
            "-lco",
            "GEOMETRY_NAME=geom",
        ],
    );
    pg.sql(
        "CREATE FUNCTION town.parcels_mvt(z integer, x integer, y integer) RETURNS bytea AS $$ \
           SELECT ST_AsMVT(t, 'parcels', 4096, 'geom') FROM ( \
             SELECT parcel_id, received, ST_AsMVTGeom(ST_Transform(geom, 3857), \
               ST_TileEnvelope(z, x, y), 4096, 64, true) AS geom \
             FROM town.parcels \
             WHERE geom && ST_Transform(ST_TileEnvelope(z, x, y, margin => 64.0 / 4096), 4326)) t \
         $$ LANGUAGE sql STABLE",
    );
    let table = format!("pgt={}#town.parcels", pg.url());
    let function = format!("pgf={}#town.parcels_mvt()", pg.url());
    let server = Server::start_with(d, &["--source", &table, "--source", &function]);

    let tj = server.get("/tiles/pgt.json", &[]).json();
    let layer = &tj["vector_layers"][0];
    assert_eq!(layer["id"], "pgt");
    assert_eq!(layer["fields"]["received"], "Count: bigint", "{tj}");
    assert!(
        layer["fields"]["geom"].is_null(),
        "the geometry is not an attribute"
    );
    let meta = server.get("/meta.json", &[]).json();
    let town: Vec<f64> = serde_json::from_value(meta["bounds"].clone()).expect("bounds");
    let pgb: Vec<f64> = serde_json::from_value(tj["bounds"].clone()).expect("pg bounds");
    for i in 0..4 {
        assert!((town[i] - pgb[i]).abs() < 0.01, "{town:?} vs {pgb:?}");
    }

    // The town's middle at z15 and z16: the table's tile holds our parcels with our numbers.
    let (lon, lat) = ((town[0] + town[2]) / 2.0, (town[1] + town[3]) / 2.0);
    for z in [15u8, 16] {
        let (x, y) = tile_of(z, lon, lat);
        let ours = server.get(&format!("/tiles/parcels/{z}/{x}/{y}.mvt?window=90d"), &[]);
        assert_eq!(ours.status, 200);
        let ours = decode(&ours.body);
        let theirs = server.get(&format!("/tiles/pgt/{z}/{x}/{y}.mvt"), &[]);
        assert_eq!(theirs.status, 200, "pgt {z}/{x}/{y}");
        assert!(
            spec_problems(&theirs.body).is_empty(),
            "{:?}",
            spec_problems(&theirs.body)
        );
        let theirs = decode(&theirs.body);
        assert_eq!(theirs.len(), 1);
        assert_eq!(theirs[0].name, "pgt");
        let received = |l: &MvtLayer| -> HashMap<String, Option<f64>> {
            l.features
                .iter()
                .filter_map(|f| {
                    let p = props(l, f);
                    let Some(Val::Str(id)) = p.get("parcel_id") else {
                        return None;
                    };
                    Some((id.clone(), p.get("received").and_then(Val::num)))
                })
                .collect()
        };
        let (a, b) = (received(&ours[0]), received(&theirs[0]));
        assert!(a.len() > 20, "{} parcels in our z{z} tile", a.len());
        for (id, n) in &a {
            assert_eq!(b.get(id), Some(n), "parcel {id} at z{z}");
        }

        // The function's tile is the function's bytes.
        let f = server.get(&format!("/tiles/pgf/{z}/{x}/{y}.mvt"), &[]);
        assert_eq!(f.status, 200);
        let hex = pg.sql(&format!(
            "SELECT encode(town.parcels_mvt({z}, {x}, {y}), 'hex')"
        ));
        let want: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        assert_eq!(f.body, want, "pgf {z}/{x}/{y}");
    }
    // Far from the town: empty.
    assert_eq!(server.get("/tiles/pgt/16/0/0.mvt", &[]).status, 204);
    drop(server);

    let out = predio(
        d,
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--source",
            &format!("x={}#town.nope", pg.url()),
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no geometry column in town.nope"), "{err}");
}

/// Every feature of `layer` in the tiles of zoom `z` over `bounds`, by `key`, with its tags.
fn features_over(
    server: &Server,
    layer: &str,
    z: u8,
    bounds: [f64; 4],
    query: &str,
) -> HashMap<String, HashMap<String, Val>> {
    let [w, s, e, n] = bounds;
    let (x0, y0) = tile_of(z, w, n);
    let (x1, y1) = tile_of(z, e, s);
    let key = match layer {
        "sectors" => "sector_id",
        "parcels" => "parcel_id",
        _ => "cell",
    };
    let mut out = HashMap::new();
    for x in x0..=x1 {
        for y in y0..=y1 {
            let r = server.get(&format!("/tiles/{layer}/{z}/{x}/{y}.mvt?{query}"), &[]);
            assert!(
                r.status == 200 || r.status == 204,
                "{layer} {z}/{x}/{y}: {}",
                r.status
            );
            if r.status == 204 {
                continue;
            }
            assert!(spec_problems(&r.body).is_empty(), "{layer} {z}/{x}/{y}");
            for l in decode(&r.body) {
                for f in &l.features {
                    let p = props(&l, f);
                    let Some(Val::Str(id)) = p.get(key) else {
                        panic!("{layer}: a feature without {key}")
                    };
                    out.insert(id.clone(), p);
                }
            }
        }
    }
    out
}

#[test]
fn hot_spots_and_saved_segments_reach_the_tiles_and_the_geojson_exports() {
    let data = computed_town();
    let d = data.path();
    let file = |n: &str| d.join(n);
    // the CLI's Gi* at resolution 10, the one z14 draws, as CSV and as GeoJSON
    for out in ["hs.csv", "hs.geojson"] {
        let out = file(out);
        predio_ok(
            d,
            &[
                "hotspots",
                "--res",
                "10",
                "--window",
                "365d",
                "--out",
                arg(&out),
            ],
        );
    }
    let cli: Vec<HashMap<String, String>> = crate::support::csv_rows(&file("hs.csv"));
    // the hexagons drawn are the cells with reports: a cold spot among the study area's empty
    // cells has none
    let significant: HashMap<&str, &HashMap<String, String>> = cli
        .iter()
        .filter(|r| r["class"] != "none" && r["value"].parse::<f64>().is_ok_and(|v| v > 0.0))
        .map(|r| (r["cell"].as_str(), r))
        .collect();
    assert!(!significant.is_empty(), "the town has hot spots at res 10");

    let server = Server::start(d);
    let meta = server.get("/meta.json", &[]).json();
    let bounds = [0, 1, 2, 3].map(|i| meta["bounds"][i].as_f64().expect("bounds"));
    let tj = server.get("/tiles/hotspots.json?window=365d", &[]).json();
    assert_eq!(tj["vector_layers"][0]["id"], "hotspots", "{tj}");
    let tiles = features_over(&server, "hotspots", 14, bounds, "window=365d");
    let mut drawn: Vec<&str> = tiles.keys().map(String::as_str).collect();
    let mut want: Vec<&str> = significant.keys().copied().collect();
    drawn.sort_unstable();
    want.sort_unstable();
    assert_eq!(
        drawn, want,
        "the tiles draw exactly the CLI's hot and cold cells"
    );
    for (cell, p) in &tiles {
        let row = significant[cell.as_str()];
        let z: f64 = row["z"].parse().expect("z");
        // the q-value that decides: the permutation p-values'
        let q: f64 = row["q_sim"].parse().expect("q_sim");
        let got = p.get("z").and_then(Val::num).expect("z tag");
        assert!((got - z).abs() < 1e-9, "{cell}: z {got} against {z}");
        assert!((p.get("q").and_then(Val::num).expect("q") - q).abs() < 1e-9);
        assert!(matches!(p.get("class"), Some(Val::Str(c)) if *c == row["class"]));
        assert_eq!(p.get("res").and_then(Val::num), Some(10.0));
    }
    // an unknown window is refused, as on every layer
    assert_eq!(
        server
            .get("/tiles/hotspots/14/0/0.mvt?window=7d", &[])
            .status,
        400
    );
    // the GeoJSON: one hexagon per cell, its properties those of the CSV
    let gj: serde_json::Value =
        serde_json::from_slice(&std::fs::read(file("hs.geojson")).expect("geojson")).expect("json");
    let features = gj["features"].as_array().expect("features");
    assert_eq!(features.len(), cli.len());
    for f in features {
        let ring = &f["geometry"]["coordinates"][0][0];
        assert!(
            ring.as_array().is_some_and(|r| r.len() == 7),
            "a hexagon: {ring}"
        );
        let cell = f["properties"]["cell"].as_str().expect("cell");
        let row = cli
            .iter()
            .find(|r| r["cell"] == cell)
            .expect("the same cell");
        assert_eq!(f["properties"]["class"], row["class"].as_str());
    }
    let info = crate::support::gdal_tool("ogrinfo", &["-so", "-al", arg(&file("hs.geojson"))]);
    assert!(
        info.contains(&format!("Feature Count: {}", cli.len())),
        "{info}"
    );

    // the plan and the segments as GeoJSON, with their sectors' outlines
    predio_ok(
        d,
        &[
            "plan",
            "--window",
            "365d",
            "--out",
            arg(&file("plan.geojson")),
        ],
    );
    predio_ok(
        d,
        &["plan", "--window", "365d", "--out", arg(&file("plan.csv"))],
    );
    let plan_csv = crate::support::csv_rows(&file("plan.csv"));
    let info = crate::support::gdal_tool("ogrinfo", &["-so", "-al", arg(&file("plan.geojson"))]);
    assert!(
        info.contains(&format!("Feature Count: {}", plan_csv.len())),
        "{info}"
    );
    assert!(
        info.contains("Multi Polygon") && info.contains("reason"),
        "{info}"
    );
    let out = predio(d, &["plan", "--out", arg(&file("plan.txt"))]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(".geojson"));

    // segments saved into the catalog become an attribute of the sector tiles
    let before = meta["version"].as_str().expect("version").to_owned();
    predio_ok(
        d,
        &[
            "segments",
            "--level",
            "sector",
            "--window",
            "365d",
            "--k",
            "2",
            "--save",
            "--out",
            arg(&file("seg.csv")),
        ],
    );
    let segments = crate::support::csv_rows(&file("seg.csv"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.get("/meta.json", &[]).json()["version"] == before.as_str() {
        assert!(
            Instant::now() < deadline,
            "the server never saw the new version"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let sectors = features_over(&server, "sectors", 12, bounds, "window=30d");
    assert_eq!(sectors.len(), segments.len());
    for r in &segments {
        let p = &sectors[&r["sector_id"]];
        assert_eq!(
            p.get("segment").and_then(Val::num),
            Some(r["segment"].parse::<f64>().expect("segment")),
            "{}",
            r["sector_id"]
        );
        assert!(matches!(p.get("segment_desc"), Some(Val::Str(w)) if *w == r["description"]));
    }
    let tj = server.get("/tiles/sectors.json", &[]).json();
    assert!(
        tj["vector_layers"][0]["fields"].get("segment").is_some(),
        "{tj}"
    );
    let info = String::from_utf8_lossy(&predio_ok(d, &["info"]).stdout).into_owned();
    assert!(info.contains("segments  sector: k 2"), "{info}");
    // a new compute drops them: they described the indices it replaces
    predio_ok(d, &["compute", "--as-of", "2025-12-31"]);
    let info = String::from_utf8_lossy(&predio_ok(d, &["info"]).stdout).into_owned();
    assert!(!info.contains("segments "), "{info}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let tj = server.get("/tiles/sectors.json", &[]).json();
        if tj["vector_layers"][0]["fields"].get("segment").is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the segments stayed after a new compute"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A catalog of reports alone (no sectors, no parcels), computed with an `all` window:
/// `meta.json` has its windows, categories and an extent `within` the city; the viewer in
/// Chromium opens on the heat layer over it with its pickers filled; `predio info` counts open
/// reports as the indices do; `plan --window all` ranks H3 cells whose counts are the exported
/// reports' (recomputed with h3o), in its text, JSON and GeoJSON. Returns the export (CSV).
fn reports_only_catalog_serves_and_plans(d: &Path, within: [f64; 4]) -> std::path::PathBuf {
    let server = Server::start(d);
    let meta = server.get("/meta.json", &[]).json();
    // The pickers from the cell table: both windows, the reports' categories.
    let windows: Vec<&str> = meta["windows"]
        .as_array()
        .expect("windows")
        .iter()
        .filter_map(|w| w.as_str())
        .collect();
    assert!(windows.contains(&"all") && windows.len() >= 2, "{meta}");
    assert!(
        meta["categories"].as_array().is_some_and(|c| c.len() > 1),
        "{meta}"
    );
    // The extent: the reports' cells, inside the city.
    let b: Vec<f64> = meta["bounds"]
        .as_array()
        .expect("bounds")
        .iter()
        .map(|v| v.as_f64().expect("a number"))
        .collect();
    assert!(
        b.len() == 4
            && b[0] > within[0]
            && b[2] < within[2]
            && b[1] > within[1]
            && b[3] < within[3],
        "{meta}"
    );
    // The viewer, in Chromium: heat first, over the reports, pickers filled.
    let summary = run_viewer(&server, "/", &d.join("viewer.png"), Some("reports-only"));
    let pickers = &summary["pickers"];
    assert_eq!(
        pickers["view"],
        serde_json::json!(["heat", "hotspots"]),
        "{summary}"
    );
    assert_eq!(pickers["window"], meta["windows"], "{summary}");
    assert_eq!(
        pickers["category"].as_array().map(Vec::len),
        meta["categories"].as_array().map(|c| c.len() + 1),
        "every category and 'all': {summary}"
    );
    drop(server);

    // The plan ranks the H3 cells, and says so; each row's counts are its cell's reports of its
    // category (cells recomputed here with h3o from the exported points).
    let out = predio_ok(d, &["plan", "--window", "all", "--json", "--top", "1000"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("plan --json");
    assert!(rows.len() > 20, "{rows:?}");
    let csv = d.join("reports-export.csv");
    predio_ok(
        d,
        &["export", "reports", "--format", "csv", "--out", arg(&csv)],
    );
    // `predio info` says "open" as the indices count it: not closed (open or in progress)
    let not_closed = crate::support::csv_rows(&csv)
        .iter()
        .filter(|r| ["open", "in_progress"].contains(&r["status"].as_str()))
        .count();
    let info = String::from_utf8_lossy(&predio_ok(d, &["info"]).stdout).into_owned();
    let with_commas = not_closed
        .to_string()
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| std::str::from_utf8(c).expect("digits"))
        .collect::<Vec<_>>()
        .join(",");
    assert!(
        not_closed > 0
            && info.contains(&format!(
                "open (not closed: open or in progress) {with_commas} "
            )),
        "{not_closed}: {info}"
    );
    let mut counts: std::collections::HashMap<(String, String), f64> = Default::default();
    for r in crate::support::csv_rows(&csv) {
        // a system's default point (Boston's city hall) is not where the problem is
        let (Ok(lon), Ok(lat), "located") = (
            r["lon"].parse::<f64>(),
            r["lat"].parse::<f64>(),
            r["location"].as_str(),
        ) else {
            continue;
        };
        let cell = h3o::LatLng::new(lat, lon)
            .expect("lat/lon")
            .to_cell(h3o::Resolution::Nine);
        *counts
            .entry((cell.to_string(), r["category"].clone()))
            .or_default() += 1.0;
    }
    for row in &rows {
        assert_eq!(row["level"], "h3", "{row}");
        let cell = row["cell"].as_str().expect("a cell");
        let category = row["category"].as_str().expect("a category").to_owned();
        assert_eq!(
            row["received"].as_f64(),
            counts.get(&(cell.to_owned(), category)).copied(),
            "{row}"
        );
        assert!(row["action"] != "campaign" || row["chosen_by"] != serde_json::Value::Null);
    }
    let text =
        String::from_utf8_lossy(&predio_ok(d, &["plan", "--window", "all"]).stdout).into_owned();
    assert!(text.contains("places: H3 cells"), "{text}");
    let total: usize = text
        .split(" place x category rows")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the count of rows");
    assert!(total >= rows.len(), "{text}");
    // and the plan as GeoJSON: each cell its hexagon
    let geojson = d.join("plan.geojson");
    predio_ok(d, &["plan", "--window", "all", "--out", arg(&geojson)]);
    let info = crate::support::gdal_tool("ogrinfo", &["-so", "-al", arg(&geojson)]);
    assert!(info.contains(&format!("Feature Count: {total}")), "{info}");
    assert!(info.contains("Polygon") && info.contains("cell"), "{info}");

    csv
}

#[test]
fn a_catalog_of_reports_without_a_cadastre_serves_its_pickers_and_extent() {
    // Montevideo's reclamos alone: no municipios, no parcels.
    let Some(reclamos) =
        crate::support::shared("montevideo-reclamos/reclamos_sur_wfs_sample_epsg32721.geojson")
    else {
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    let mapping =
        crate::support::workspace().join("data-samples/mappings/montevideo-reclamos.toml");
    predio_ok(
        d,
        &[
            "import",
            "reports",
            "--format",
            "vector",
            arg(&reclamos),
            "--mapping",
            arg(&mapping),
        ],
    );
    // As of the end of May 2025, the sample's newest reclamos: both windows hold reports.
    predio_ok(
        d,
        &["compute", "--as-of", "2025-05-31", "--windows", "365d,all"],
    );
    // in the south of Montevideo
    let csv = reports_only_catalog_serves_and_plans(d, [-56.5, -35.0, -55.9, -34.7]);

    // The audit report goes by department, and says so: its total is the reclamos received in
    // 2016 in Montevideo's local days (UTC-3; the dates are days, so local midnights, on the
    // period's edges too), counted here from the export.
    let html = d.join("audit.html");
    let out = predio_ok(d, &["audit", "--period", "2016", "--out", arg(&html)]);
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    let received: usize = summary
        .split(" received")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .map(|n| n.replace(['\u{2009}', ','], ""))
        .and_then(|n| n.parse().ok())
        .expect("the count received");
    let (from, to) = ("2016-01-01T03:00:00Z", "2017-01-01T03:00:00Z");
    let expected = crate::support::csv_rows(&csv)
        .iter()
        .filter(|r| r["created_at"].as_str() >= from && r["created_at"].as_str() < to)
        .count();
    assert!(expected > 100, "{expected}");
    assert_eq!(received, expected, "{summary}");
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(
        page.contains("el informe va por departamento")
            && page.contains("tabla-departamentos")
            && !page.contains("tabla-sectores"),
        "{page}"
    );
}

#[test]
fn boston_311_without_its_neighbourhoods_serves_heat_and_plans_h3_cells() {
    // The city's 2015 CRM export alone, as a city without a sector map would start.
    let Some(gz) = crate::support::shared("boston-311/boston_311_2015.csv.gz") else {
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    let mapping = crate::support::workspace().join("data-samples/mappings/boston-311.toml");
    predio_ok(
        d,
        &["import", "reports", arg(&gz), "--mapping", arg(&mapping)],
    );
    predio_ok(
        d,
        &["compute", "--as-of", "2015-12-31", "--windows", "90d,all"],
    );
    let csv = reports_only_catalog_serves_and_plans(d, [-71.3, 42.2, -70.9, 42.45]);

    // Hot spots name each cell's place by the neighbourhood its cases were filed under (the
    // mapping's `area`): the most frequent one among the cell's located cases, as counted here
    // from the export (ties: the first name).
    let mut areas: HashMap<String, std::collections::BTreeMap<String, usize>> = HashMap::new();
    for r in crate::support::csv_rows(&csv) {
        let (Ok(lon), Ok(lat), "located") = (
            r["lon"].parse::<f64>(),
            r["lat"].parse::<f64>(),
            r["location"].as_str(),
        ) else {
            continue;
        };
        if r["source_area"].is_empty() {
            continue;
        }
        let cell = h3o::LatLng::new(lat, lon)
            .expect("lat/lon")
            .to_cell(h3o::Resolution::Nine);
        *areas
            .entry(cell.to_string())
            .or_default()
            .entry(r["source_area"].clone())
            .or_default() += 1;
    }
    let spots = d.join("spots.csv");
    let out = predio_ok(d, &["hotspots", "--res", "9", "--out", arg(&spots)]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("place: no sector map"), "{text}");
    let (mut named, mut hot) = (0, 0);
    for row in crate::support::csv_rows(&spots) {
        let want = areas.get(&row["cell"]).map(|names| {
            let top = names.values().max().copied().unwrap_or(0);
            names
                .iter()
                .find(|(_, n)| **n == top)
                .map(|(name, _)| name.clone())
                .unwrap_or_default()
        });
        assert_eq!(row["place"], want.unwrap_or_default(), "{row:?}");
        named += usize::from(!row["place"].is_empty());
        hot += usize::from(row["class"] == "hot");
    }
    assert!(named > 500 && hot > 10, "{named} cells named, {hot} hot");
}

/// `serve --basemap FILE.mbtiles`: a vector base map made with GDAL (water and roads over the
/// town) is served as the `basemap` layer, its tiles hold its layers, and the style draws them
/// beneath the catalog's layers. A file that is not an archive stops `serve`, naming it.
#[test]
fn a_basemap_archive_is_served_and_drawn_beneath_the_layers() {
    let data = computed_town();
    let d = data.path();
    let meta = {
        let s = Server::start(d);
        s.get("/meta.json", &[]).json()
    };
    let b: Vec<f64> = serde_json::from_value(meta["bounds"].clone()).expect("bounds");
    let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let water = d.join("water.geojson");
    std::fs::write(
        &water,
        serde_json::json!({"type": "FeatureCollection", "features": [{"type": "Feature",
            "properties": {"kind": "lake"}, "geometry": {"type": "Polygon", "coordinates": [[
                [b[0], b[1]], [cx, b[1]], [cx, cy], [b[0], cy], [b[0], b[1]]]]}}]})
        .to_string(),
    )
    .expect("write");
    let roads = d.join("roads.geojson");
    std::fs::write(
        &roads,
        serde_json::json!({"type": "FeatureCollection", "features": [{"type": "Feature",
            "properties": {"kind": "major_road"}, "geometry": {"type": "LineString",
            "coordinates": [[b[0], cy], [b[2], cy]]}}]})
        .to_string(),
    )
    .expect("write");
    let gpkg = d.join("base.gpkg");
    let mbtiles = d.join("base.mbtiles");
    crate::support::gdal_tool(
        "ogr2ogr",
        &["-f", "GPKG", arg(&gpkg), arg(&water), "-nln", "water"],
    );
    crate::support::gdal_tool(
        "ogr2ogr",
        &[
            "-f",
            "GPKG",
            "-update",
            arg(&gpkg),
            arg(&roads),
            "-nln",
            "roads",
        ],
    );
    crate::support::gdal_tool(
        "ogr2ogr",
        &[
            "-f",
            "MBTiles",
            arg(&mbtiles),
            arg(&gpkg),
            "-dsco",
            "MINZOOM=10",
            "-dsco",
            "MAXZOOM=15",
        ],
    );
    let server = Server::start_with(d, &["--basemap", arg(&mbtiles)]);
    let style = server.get("/style.json", &[]).json();
    assert!(
        style["sources"]["basemap"].is_object(),
        "{}",
        style["sources"]
    );
    let ids: Vec<&str> = style["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .filter_map(|l| l["id"].as_str())
        .collect();
    let at = |id: &str| {
        ids.iter()
            .position(|x| *x == id)
            .unwrap_or_else(|| panic!("{id} in {ids:?}"))
    };
    assert!(at("basemap-water") < at("sectors-fill") && at("basemap-roads") < at("sectors-fill"));
    let (x, y) = tile_of(14, (b[0] + cx) / 2.0, (b[1] + cy) / 2.0);
    // as the viewer asks for it: with the filter of the moment
    let r = server.get(&format!("/tiles/basemap/14/{x}/{y}.mvt?window=90d"), &[]);
    assert_eq!(r.status, 200);
    let body = if r.body.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&r.body[..])
            .read_to_end(&mut out)
            .expect("gunzip");
        out
    } else {
        r.body.clone()
    };
    let names: Vec<String> = decode(&body).into_iter().map(|l| l.name).collect();
    assert!(names.iter().any(|n| n == "water"), "{names:?}");
    // not an archive: serve stops, naming it
    let bad = d.join("nothing.mbtiles");
    std::fs::write(&bad, b"not sqlite").expect("write");
    let out = predio(
        d,
        &["serve", "--addr", "127.0.0.1:0", "--basemap", arg(&bad)],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("nothing.mbtiles"),
        "{err}"
    );
}
