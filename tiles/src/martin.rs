//! Tile sources that are not ours — MBTiles and PMTiles archives, PostGIS tables and functions —
//! read with martin-core and served through [`TileProvider`] beside the catalog's layers.
//!
//! martin-core is confined to this module: its `Source` trait is async and, from 0.15 on, no
//! longer object-safe, so the change stays here. The sources are opened on the server's tokio
//! runtime; [`TileProvider::tile`] is synchronous and is called from blocking threads (axum's
//! `spawn_blocking`, rayon), where it waits on the runtime's handle.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use martin_core::tiles::mbtiles::MbtSource;
use martin_core::tiles::pmtiles::{PmtCache, PmtCacheInstance, PmtilesSource};
use martin_core::tiles::postgres::{PostgresPool, PostgresSource, PostgresSqlInfo};
use martin_core::tiles::BoxedSource;
use martin_core::CacheZoomRange;
use martin_tile_utils::{Encoding, Format, TileInfo};
use serde_json::Value;
use tokio::runtime::Handle;

use predio_engine::indices::Selection;

use crate::provider::{FieldKind, TileProvider, TileSourceError};
use crate::TileCoord;

/// Where an external layer's tiles come from, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceLocation {
    /// A PMTiles v3 archive.
    Pmtiles(PathBuf),
    /// An MBTiles archive.
    Mbtiles(PathBuf),
    /// A PostGIS table (`schema.table`, geometry column found in `geometry_columns`) or a
    /// function `schema.fn(z, x, y) -> bytea` returning an MVT, in the database at `url`.
    Postgres {
        /// `postgresql://user:password@host:port/db`.
        url: String,
        /// Schema (default `public`).
        schema: String,
        /// Table or function name.
        object: String,
        /// Whether `object` is a function.
        function: bool,
    },
}

/// `NAME=LOCATION`: a layer name and where its tiles come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// Layer name in URLs (`/tiles/{name}/{z}/{x}/{y}.mvt`).
    pub name: String,
    /// Where its tiles are.
    pub location: SourceLocation,
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            SourceLocation::Pmtiles(p) | SourceLocation::Mbtiles(p) => {
                write!(f, "{}={}", self.name, p.display())
            }
            SourceLocation::Postgres {
                schema,
                object,
                function,
                ..
            } => write!(
                f,
                "{}=postgresql (…)#{schema}.{object}{}",
                self.name,
                if *function { "()" } else { "" }
            ),
        }
    }
}

impl std::str::FromStr for SourceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        const FORMS: &str = "NAME=FILE.pmtiles, NAME=FILE.mbtiles, \
             NAME=postgresql://USER:PASSWORD@HOST/DB#SCHEMA.TABLE or …#SCHEMA.FUNCTION()";
        let (name, loc) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?}: give {FORMS}"))?;
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format!(
                "{name:?}: a layer name is letters, digits, '_' and '-'"
            ));
        }
        let location = if loc.starts_with("postgresql://") || loc.starts_with("postgres://") {
            let (url, object) = loc
                .rsplit_once('#')
                .ok_or_else(|| format!("{loc:?}: name the table or function after '#': {FORMS}"))?;
            let (object, function) = match object.strip_suffix("()") {
                Some(f) => (f, true),
                None => (object, false),
            };
            let (schema, object) = object.split_once('.').unwrap_or(("public", object));
            if object.is_empty() || schema.is_empty() {
                return Err(format!("{loc:?}: empty table or schema name"));
            }
            SourceLocation::Postgres {
                url: url.to_owned(),
                schema: schema.to_owned(),
                object: object.to_owned(),
                function,
            }
        } else {
            let path = PathBuf::from(loc);
            match path.extension().and_then(|e| e.to_str()) {
                Some(e) if e.eq_ignore_ascii_case("pmtiles") => SourceLocation::Pmtiles(path),
                Some(e) if e.eq_ignore_ascii_case("mbtiles") => SourceLocation::Mbtiles(path),
                _ => return Err(format!("{loc:?}: give {FORMS}")),
            }
        };
        Ok(Self {
            name: name.to_owned(),
            location,
        })
    }
}

/// Why an external source could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("source {name}: {message}")]
pub struct OpenError {
    /// Layer name.
    pub name: String,
    /// What went wrong.
    pub message: String,
}

/// A layer whose tiles a martin-core source reads: served as they are stored (decompressed; the
/// server compresses again for clients that accept gzip).
pub struct ExternalLayer {
    name: String,
    description: String,
    source: BoxedSource,
    runtime: Handle,
    encoding: Encoding,
    vector_layers: Value,
    fields: Vec<(String, FieldKind, String)>,
    zooms: (u8, u8),
    bounds: Option<[f64; 4]>,
}

impl fmt::Debug for ExternalLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalLayer")
            .field("name", &self.name)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl ExternalLayer {
    /// Opens `spec` on the current tokio runtime (call inside it).
    ///
    /// # Errors
    /// An unreadable archive, an unreachable database, a table without a geometry column, or
    /// tiles that are not MVT.
    pub async fn open(spec: &SourceSpec) -> Result<Self, OpenError> {
        let fail = |message: String| OpenError {
            name: spec.name.clone(),
            message,
        };
        let id = spec.name.clone();
        let zooms = CacheZoomRange::default();
        let (source, description): (BoxedSource, String) = match &spec.location {
            SourceLocation::Mbtiles(path) => (
                Box::new(
                    MbtSource::new(id, path.clone(), zooms)
                        .await
                        .map_err(|e| fail(format!("{}: {e}", path.display())))?,
                ),
                format!("MBTiles {}", path.display()),
            ),
            SourceLocation::Pmtiles(path) => {
                let (store, object) = local_store(path).map_err(fail)?;
                let cache = PmtCacheInstance::new_auto_id(PmtCache::new(16 << 20, None, None));
                (
                    Box::new(
                        PmtilesSource::new(cache, id, store, object, zooms)
                            .await
                            .map_err(|e| fail(format!("{}: {e}", path.display())))?,
                    ),
                    format!("PMTiles {}", path.display()),
                )
            }
            SourceLocation::Postgres {
                url,
                schema,
                object,
                function,
            } => {
                let pool = PostgresPool::new(url, None, None, None, 16)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                let (sql, tilejson) = if *function {
                    postgis_function(schema, object)
                } else {
                    postgis_table(&pool, &spec.name, schema, object)
                        .await
                        .map_err(fail)?
                };
                let info = PostgresSqlInfo::new(sql, false, format!("{schema}.{object}"));
                (
                    Box::new(PostgresSource::new(
                        id,
                        info,
                        tilejson,
                        pool,
                        TileInfo::new(Format::Mvt, Encoding::Uncompressed),
                        zooms,
                    )),
                    format!(
                        "PostGIS {}{schema}.{object}{}",
                        if *function { "function " } else { "table " },
                        if *function { "(z, x, y)" } else { "" }
                    ),
                )
            }
        };
        let info = source.get_tile_info();
        if info.format != Format::Mvt {
            return Err(fail(format!(
                "holds {} tiles; only vector tiles (MVT) are served",
                info.format
            )));
        }
        let tj = source.get_tilejson();
        let vector_layers = tj
            .vector_layers
            .as_ref()
            .and_then(|l| serde_json::to_value(l).ok())
            .unwrap_or(Value::Null);
        let mut fields = Vec::new();
        for l in tj.vector_layers.iter().flatten() {
            for (f, d) in &l.fields {
                let kind = kind_of(d);
                let name = if tj.vector_layers.as_ref().is_some_and(|v| v.len() > 1) {
                    format!("{}.{f}", l.id)
                } else {
                    f.clone()
                };
                fields.push((name, kind, d.clone()));
            }
        }
        let zooms = (
            tj.minzoom.unwrap_or(0),
            tj.maxzoom.unwrap_or(crate::MAX_ZOOM),
        );
        let bounds = tj.bounds.map(|b| [b.left, b.bottom, b.right, b.top]);
        Ok(Self {
            name: spec.name.clone(),
            description: tj.description.clone().unwrap_or(description),
            encoding: info.encoding,
            source,
            runtime: Handle::current(),
            vector_layers,
            fields,
            zooms,
            bounds,
        })
    }

    /// The source's TileJSON `vector_layers` (the MVT layers its tiles hold).
    #[must_use]
    pub fn vector_layers(&self) -> &Value {
        &self.vector_layers
    }
}

/// A field type from a TileJSON field description (martin writes the column type).
fn kind_of(description: &str) -> FieldKind {
    let d = description.to_ascii_lowercase();
    let word = d
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or("");
    match word {
        "count" | "int2" | "int4" | "int8" | "integer" | "smallint" | "bigint" => FieldKind::Count,
        "number" | "numeric" | "float4" | "float8" | "real" | "double" => FieldKind::Number,
        _ => FieldKind::Text,
    }
}

/// The local store and object path of a file, for martin-core's PMTiles reader.
fn local_store(
    path: &Path,
) -> Result<(Box<dyn object_store::ObjectStore>, object_store::path::Path), String> {
    let abs = std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = abs
        .parent()
        .ok_or_else(|| format!("{}: no parent directory", abs.display()))?;
    let file = abs
        .file_name()
        .and_then(|f| f.to_str())
        .ok_or_else(|| format!("{}: the file name is not UTF-8", abs.display()))?;
    let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let object = object_store::path::Path::from_url_path(file)
        .map_err(|e| format!("{}: {e}", abs.display()))?;
    Ok((Box::new(store), object))
}

/// A PostgreSQL identifier, quoted.
fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The tile query of a function `schema.fn(z, x, y) -> bytea`.
fn postgis_function(schema: &str, function: &str) -> (String, tilejson::TileJSON) {
    let sql = format!(
        "SELECT {}.{}($1::integer, $2::integer, $3::integer)",
        ident(schema),
        ident(function)
    );
    (sql, tilejson::tilejson! { tiles: vec![] })
}

/// The tile query of a PostGIS table (its geometry column, every column of a scalar type as
/// an attribute), its TileJSON (extent in WGS84, fields with their types).
async fn postgis_table(
    pool: &PostgresPool,
    layer: &str,
    schema: &str,
    table: &str,
) -> Result<(String, tilejson::TileJSON), String> {
    let conn = pool.get().await.map_err(|e| e.to_string())?;
    let rows = conn
        .query(
            "SELECT f_geometry_column::text, srid FROM geometry_columns \
             WHERE f_table_schema = $1 AND f_table_name = $2",
            &[&schema, &table],
        )
        .await
        .map_err(|e| e.to_string())?;
    let Some(row) = rows.first() else {
        return Err(format!(
            "no geometry column in {schema}.{table} (per geometry_columns); \
             is the table there, with a typed geometry column?"
        ));
    };
    let geom: String = row.get(0);
    let srid: i32 = row.get(1);
    let srid = if srid == 0 { 4326 } else { srid };
    let qualified = format!("{}.{}", ident(schema), ident(table));
    let columns = conn
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            &[&schema, &table],
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut fields = BTreeMap::new();
    let mut select = Vec::new();
    for c in &columns {
        let name: String = c.get(0);
        let ty: String = c.get(1);
        if name == geom {
            continue;
        }
        let kind = match ty.split(['(', ' ']).next().unwrap_or("") {
            "smallint" | "integer" | "bigint" => "Count",
            "real" | "double" | "numeric" => "Number",
            "text" | "character" | "date" | "uuid" | "boolean" => "String",
            _ if ty.starts_with("timestamp") => "String",
            _ => continue,
        };
        let expr = if kind == "String" && ty != "text" && !ty.starts_with("character") {
            format!("{}::text AS {}", ident(&name), ident(&name))
        } else {
            ident(&name)
        };
        select.push(expr);
        fields.insert(name, format!("{kind}: {ty}"));
    }
    let env = "ST_TileEnvelope($1::integer, $2::integer, $3::integer)";
    let cols: String = select.iter().map(|c| format!(", {c}")).collect();
    let g = ident(&geom);
    let sql = format!(
        "SELECT ST_AsMVT(tile, '{layer}', 4096, 'geom') FROM (\
           SELECT ST_AsMVTGeom(ST_Transform(ST_CurveToLine({g}::geometry), 3857), {env}, \
             4096, 64, true) AS geom{cols} \
           FROM {qualified} \
           WHERE {g} && ST_Transform(ST_TileEnvelope($1::integer, $2::integer, $3::integer, \
             margin => (64.0 / 4096)), {srid})\
         ) AS tile"
    );
    let extent = conn
        .query_one(
            &format!(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (\
                   SELECT ST_Transform(ST_SetSRID(ST_Extent({g})::geometry, {srid}), 4326) AS e \
                   FROM {qualified}) x"
            ),
            &[],
        )
        .await
        .map_err(|e| format!("extent of {schema}.{table}: {e}"))?;
    let b: [Option<f64>; 4] = [extent.get(0), extent.get(1), extent.get(2), extent.get(3)];
    let mut tj = tilejson::tilejson! {
        tiles: vec![],
        minzoom: 0,
        maxzoom: crate::MAX_ZOOM,
        vector_layers: vec![tilejson::VectorLayer::new(layer.to_owned(), fields)],
    };
    if let [Some(w), Some(s), Some(e), Some(n)] = b {
        tj.bounds = Some(tilejson::Bounds::new(w, s, e, n));
    }
    Ok((sql, tj))
}

impl TileProvider for ExternalLayer {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn fields(&self) -> Vec<(String, FieldKind, String)> {
        self.fields.clone()
    }

    fn zoom_range(&self) -> (u8, u8) {
        self.zooms
    }

    fn bounds(&self) -> Option<[f64; 4]> {
        self.bounds
    }

    /// Its tiles do not change with the window or dimension: any filter is accepted.
    fn check(&self, _filter: &Selection) -> Result<(), TileSourceError> {
        Ok(())
    }

    fn tile(
        &self,
        tile: TileCoord,
        _filter: &Selection,
    ) -> Result<Option<Vec<u8>>, TileSourceError> {
        let fail = |message: String| TileSourceError::Source {
            layer: self.name.clone(),
            message,
        };
        if tile.z() < self.zooms.0 || tile.z() > self.zooms.1 {
            return Ok(None);
        }
        let xyz = martin_tile_utils::TileCoord::new_unchecked(tile.z(), tile.x(), tile.y());
        let data = self
            .runtime
            .block_on(self.source.get_tile(xyz, None))
            .map_err(|e| fail(format!("tile {tile}: {e}")))?;
        if data.is_empty() {
            return Ok(None);
        }
        let raw = match self.encoding {
            Encoding::Uncompressed | Encoding::Internal => Ok(data),
            Encoding::Gzip => martin_tile_utils::decode_gzip(&data),
            Encoding::Zlib => martin_tile_utils::decode_zlib(&data),
            Encoding::Brotli => martin_tile_utils::decode_brotli(&data),
            Encoding::Zstd => martin_tile_utils::decode_zstd(&data),
        }
        .map_err(|e| fail(format!("tile {tile}: decompressing: {e}")))?;
        Ok((!raw.is_empty()).then_some(raw))
    }

    /// None: the layer is the same across catalog versions (the server keeps it as it is).
    fn fingerprints(&self) -> Vec<(String, u64, [f64; 4])> {
        Vec::new()
    }

    fn tilejson_layers(&self) -> Option<Value> {
        (!self.vector_layers.is_null()).then(|| self.vector_layers.clone())
    }
}

/// Opens every source on `runtime`.
///
/// # Errors
/// The first source that cannot be opened, or a name given twice.
pub fn open_all(
    runtime: &tokio::runtime::Runtime,
    specs: &[SourceSpec],
) -> Result<Vec<Arc<ExternalLayer>>, OpenError> {
    let mut out: Vec<Arc<ExternalLayer>> = Vec::new();
    for s in specs {
        if out.iter().any(|l| l.name == s.name) {
            return Err(OpenError {
                name: s.name.clone(),
                message: "given twice".into(),
            });
        }
        out.push(Arc::new(runtime.block_on(ExternalLayer::open(s))?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_or_say_what_is_expected() {
        let s: SourceSpec = "town=/data/t.pmtiles"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.location,
            SourceLocation::Pmtiles("/data/t.pmtiles".into())
        );
        let s: SourceSpec = "t2=x.MBTiles".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.location, SourceLocation::Mbtiles("x.MBTiles".into()));
        let s: SourceSpec = "pg=postgresql://u:p@localhost:5432/db#parcels"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.location,
            SourceLocation::Postgres {
                url: "postgresql://u:p@localhost:5432/db".into(),
                schema: "public".into(),
                object: "parcels".into(),
                function: false
            }
        );
        assert!(
            !s.to_string().contains("u:p"),
            "the password stays out of logs"
        );
        let s: SourceSpec = "f=postgres://h/db#tiles.parcels_mvt()"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            s.location,
            SourceLocation::Postgres { ref schema, function: true, .. } if schema == "tiles"
        ));
        for bad in [
            "town.pmtiles",
            "a b=x.pmtiles",
            "t=x.geojson",
            "t=postgresql://h/db",
            "t=postgresql://h/db#",
        ] {
            let e = bad.parse::<SourceSpec>().err();
            assert!(e.is_some(), "{bad} was accepted");
        }
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(kind_of("Count: bigint"), FieldKind::Count);
        assert_eq!(kind_of("Number"), FieldKind::Number);
        assert_eq!(kind_of("String: text"), FieldKind::Text);
    }
}
