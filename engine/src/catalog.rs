//! The catalog: one data directory holding immutable versions and a `CURRENT` pointer.
//!
//! ```text
//! DATA/
//!   CURRENT                 "v000002\n", replaced by atomic rename
//!   .lock                   held (flock) while a version is being committed
//!   versions/
//!     v000001/              manifest.json  sectors.fgb  import-report.csv
//!     v000002/              manifest.json  sectors.fgb (hard link)  parcels.fgb  import-report.csv
//!     .staging-4711-…/      a commit in progress (or left by a crash); never read
//! ```
//!
//! A commit writes every file of the new version into a staging folder, fsyncs them, renames the
//! folder to its version name and only then swaps `CURRENT` (write `CURRENT.tmp`, fsync, rename,
//! fsync the directory). A crash at any point leaves `CURRENT` naming a complete version.
//! Files a change does not touch are carried forward from the parent version by hard link.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use polars::prelude::{polars_err, PolarsResult, SchemaRef};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::geocoder::MatchCounts;
use crate::indices::{IndicesMeta, Level, TableSink};
use crate::model::{Bbox, Field, ParcelKey, ParcelLayer, SectorLayer};
use crate::report::{ImportReport, IssueAction};
use crate::report_columns::ReportColumns;
use crate::reports::{PrivateFields, Report};
use crate::segments::SegmentsMeta;
use crate::{layer_file, report_store, PREDIO_VERSION};

/// Version of the on-disk layout, recorded in every manifest.
pub const CATALOG_FORMAT: u32 = 1;

const MANIFEST: &str = "manifest.json";
const REPORT: &str = "import-report.csv";
const REPORTS: &str = "reports.parquet";
/// The file of personal fields (`--keep-private`): never served, never exported.
pub const PRIVATE_FILE: &str = "private-reporters.parquet";
const REPORT_HISTORY: &str = "report_history.parquet";
/// The parcels' ids and areas without their outlines (what the indices read of the cadastre),
/// written beside `parcels.fgb` and named by its layer's [`LayerMeta::keys`].
const PARCEL_KEYS: &str = "parcel-keys.parquet";

/// A stored layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    /// Cadastral parcels.
    Parcels,
    /// Sectors (barrios, districts) parcels are grouped in.
    Sectors,
    /// Citizen reports (rows of an import report; stored as Parquet, see [`ReportsMeta`]).
    Reports,
}

impl LayerKind {
    /// The layer's name: `parcels`, `sectors`.
    pub fn as_str(self) -> &'static str {
        match self {
            LayerKind::Parcels => "parcels",
            LayerKind::Sectors => "sectors",
            LayerKind::Reports => "reports",
        }
    }

    /// Its file name inside a version folder.
    pub fn file_name(self) -> &'static str {
        match self {
            LayerKind::Parcels => "parcels.fgb",
            LayerKind::Sectors => "sectors.fgb",
            LayerKind::Reports => "reports.parquet",
        }
    }
}

impl fmt::Display for LayerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version number, shown as `v000042`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct VersionId(u64);

impl VersionId {
    /// The version's number.
    pub fn number(self) -> u64 {
        self.0
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{:06}", self.0)
    }
}

impl FromStr for VersionId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.strip_prefix('v')
            .and_then(|n| n.parse().ok())
            .map(VersionId)
            .ok_or_else(|| format!("not a version name: {s:?}"))
    }
}

impl From<VersionId> for String {
    fn from(v: VersionId) -> String {
        v.to_string()
    }
}

impl TryFrom<String> for VersionId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// Where a layer came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// Path (or GDAL /vsi path) as given to the import.
    pub path: String,
    /// Layer name inside the source.
    pub layer: String,
    /// GDAL driver that read it (e.g. `ESRI Shapefile`).
    pub driver: String,
    /// Source CRS as an authority code where one is known (`EPSG:2249`), else its name.
    pub crs: String,
    /// Human-readable name of the source CRS.
    pub crs_name: String,
    /// Whether the CRS was given with `--srs` rather than read from the source.
    pub crs_from_option: bool,
}

/// What a manifest records about one stored layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerMeta {
    /// File name inside the version folder.
    pub file: String,
    /// Where the layer came from.
    pub source: SourceInfo,
    /// Features read from the source.
    pub read: usize,
    /// Features stored.
    pub count: usize,
    /// Features whose geometry was invalid (OGC rules), repaired or not.
    pub invalid: usize,
    /// Invalid geometries repaired with GDAL MakeValid and stored.
    pub repaired: usize,
    /// Features left out (empty, unrepairable or not polygons).
    pub skipped: usize,
    /// For parcels: how many lie in no sector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub without_sector: Option<usize>,
    /// Bounding box of the stored features, EPSG:4326.
    pub bbox: Option<Bbox>,
    /// Sum of geodesic areas, m².
    pub total_area_m2: f64,
    /// Source attribute schema.
    pub fields: Vec<Field>,
    /// The attribute used as id, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_field: Option<String>,
    /// When the layer was imported.
    pub imported_at: DateTime<Utc>,
    /// For parcels: the file of their ids and areas without the outlines, written with them
    /// by the catalog (set on commit). A version without one (written before it existed, or
    /// by an older predio) is read from the layer file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<String>,
}

/// What a manifest records about the stored reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportsMeta {
    /// Reports stored.
    pub count: usize,
    /// Per import: source path, format and how many rows it added, updated or refused.
    pub imports: Vec<ReportImport>,
    /// Geocoding results by match kind.
    pub matches: MatchCounts,
    /// Tolerance of `nearest` matches, m.
    pub tolerance_m: f64,
    /// H3 resolution of the `h3` column.
    pub h3_resolution: u8,
    /// Reports by normalised status.
    pub by_status: BTreeMap<String, usize>,
}

/// One import of reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportImport {
    /// Source path.
    pub path: String,
    /// Format (`csv`, `open311`, ...).
    pub format: String,
    /// Rows read.
    pub read: usize,
    /// New reports.
    pub added: usize,
    /// Existing reports updated (same id).
    pub updated: usize,
    /// Rows refused (listed in the import report).
    pub refused: usize,
    /// When.
    pub imported_at: DateTime<Utc>,
}

/// Size and checksum of one stored file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// SHA-256, hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// `manifest.json`: everything a version holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Layout version ([`CATALOG_FORMAT`]).
    pub format: u32,
    /// This version.
    pub version: VersionId,
    /// The version it was derived from.
    pub parent: Option<VersionId>,
    /// When it was committed.
    pub created_at: DateTime<Utc>,
    /// predio version that wrote it.
    pub predio_version: String,
    /// What produced it (e.g. `import parcels`).
    pub operation: String,
    /// The layers it holds.
    pub layers: BTreeMap<LayerKind, LayerMeta>,
    /// Every file of the version (but the manifest) with its checksum.
    pub files: BTreeMap<String, FileEntry>,
    /// Issues of the operation that produced this version, counted by action.
    pub issues: BTreeMap<IssueAction, usize>,
    /// The reports, when the version has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reports: Option<ReportsMeta>,
    /// The indices (`predio compute`), when the version has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indices: Option<IndicesMeta>,
    /// Segmentations saved with `predio segments --save`, per level. They describe the indices
    /// and go when the indices are recomputed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub segments: BTreeMap<Level, SegmentsMeta>,
}

/// The file of a level's saved segments in a catalog version.
pub fn segments_file(level: Level) -> String {
    format!("segments-{}s.parquet", level.as_str())
}

/// A change to commit as a new version: the layers it replaces and its import report.
#[derive(Debug, Default)]
pub struct Change {
    /// What produces it (e.g. `import parcels`), recorded in the manifest.
    pub operation: String,
    /// New parcels, replacing the parent's.
    pub parcels: Option<(ParcelLayer, LayerMeta)>,
    /// New sectors, replacing the parent's.
    pub sectors: Option<(SectorLayer, LayerMeta)>,
    /// All reports (replacing the parent's: importers merge before committing).
    pub reports: Option<(Vec<Report>, ReportsMeta)>,
    /// All personal fields kept with `--keep-private` (replacing the parent's), stored apart in
    /// [`PRIVATE_FILE`], readable by the owner only.
    pub private: Option<Vec<PrivateFields>>,
    /// New indices (replacing the parent's, and dropping its saved segments, which described
    /// the old ones). Their tables (`indices-*.parquet`) are written into the version before,
    /// with [`Staged::table`] (or an [`IndicesWriter`]).
    pub indices: Option<IndicesMeta>,
    /// A segmentation of one level (its table: feature id, `segment`, `description`),
    /// replacing that level's.
    pub segments: Option<(Level, polars::prelude::DataFrame, SegmentsMeta)>,
    /// Problems found on the way.
    pub report: ImportReport,
}

/// The store behind the catalog. The embedded data directory ([`DirCatalog`]) is one; a
/// PostgreSQL/PostGIS store can be another without the importers or the server changing.
pub trait CatalogStore {
    /// The manifest of the version `CURRENT` names, or `None` for an empty catalog.
    ///
    /// # Errors
    /// An unreadable pointer or manifest.
    fn current(&self) -> Result<Option<Manifest>>;
    /// All committed versions, oldest first.
    ///
    /// # Errors
    /// An unreadable data directory.
    fn versions(&self) -> Result<Vec<VersionId>>;
    /// The parcels of a version, if it has any.
    ///
    /// # Errors
    /// An unreadable layer file.
    fn parcels(&self, manifest: &Manifest) -> Result<Option<ParcelLayer>>;
    /// The ids and areas of a version's parcels (without outlines), if it has any.
    ///
    /// # Errors
    /// An unreadable layer file.
    fn parcel_keys(&self, manifest: &Manifest) -> Result<Option<Vec<ParcelKey>>>;
    /// The sectors of a version, if it has any.
    ///
    /// # Errors
    /// An unreadable layer file.
    fn sectors(&self, manifest: &Manifest) -> Result<Option<SectorLayer>>;
    /// The reports of a version, if it has any.
    ///
    /// # Errors
    /// An unreadable Parquet file.
    fn reports(&self, manifest: &Manifest) -> Result<Option<Vec<Report>>>;
    /// The personal fields kept with `--keep-private` (empty when none were).
    ///
    /// # Errors
    /// An unreadable Parquet file.
    fn private_fields(&self, manifest: &Manifest) -> Result<Vec<PrivateFields>>;

    /// What the indices read of the reports, as columns, with the number of status changes of
    /// each instead of the histories, or `None` when the version has no reports.
    ///
    /// # Errors
    /// I/O or Parquet errors naming the file.
    fn report_columns(&self, manifest: &Manifest) -> Result<Option<ReportColumns>>;

    /// The indices table of `level`, or `None` when the version has no indices.
    ///
    /// # Errors
    /// I/O or Parquet errors naming the file.
    fn indices(
        &self,
        manifest: &Manifest,
        level: Level,
    ) -> Result<Option<polars::prelude::DataFrame>>;
    /// The segments of `level` saved with `predio segments --save`, or `None`.
    ///
    /// # Errors
    /// I/O or Parquet errors naming the file.
    fn segments(
        &self,
        manifest: &Manifest,
        level: Level,
    ) -> Result<Option<polars::prelude::DataFrame>>;
    /// Commits `change` on top of the current version and makes it current.
    ///
    /// # Errors
    /// Any I/O error; the current version is then left as it was.
    fn commit(&self, change: Change) -> Result<Manifest>;
}

/// The embedded catalog: a data directory on local disk.
#[derive(Debug, Clone)]
pub struct DirCatalog {
    root: PathBuf,
}

/// The default catalog type of this build.
pub type Catalog = DirCatalog;

fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(dir))
}

/// Lowercase hexadecimal of a digest.
pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_file(path: &Path) -> Result<FileEntry> {
    let mut file = File::open(path).map_err(Error::io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(Error::io(path))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buf[..n]);
    }
    let sha256 = hex(&hasher.finalize());
    Ok(FileEntry { sha256, bytes })
}

impl DirCatalog {
    /// A catalog rooted at `root` (created on first commit).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn versions_dir(&self) -> PathBuf {
        self.root.join("versions")
    }

    /// The folder of a committed version.
    pub fn version_dir(&self, version: VersionId) -> PathBuf {
        self.versions_dir().join(version.to_string())
    }

    /// Path of a file of a version.
    pub fn file_path(&self, manifest: &Manifest, file: &str) -> PathBuf {
        self.version_dir(manifest.version).join(file)
    }

    /// Re-reads every file of a version and compares it with the manifest's checksums.
    ///
    /// # Errors
    /// [`Error::Checksum`] for the first file that differs, or an I/O error.
    pub fn verify(&self, manifest: &Manifest) -> Result<()> {
        for (name, expected) in &manifest.files {
            let path = self.file_path(manifest, name);
            let actual = sha256_file(&path)?;
            if actual != *expected {
                return Err(Error::Checksum {
                    path,
                    expected: expected.sha256.clone(),
                    actual: actual.sha256,
                });
            }
        }
        Ok(())
    }

    fn read_manifest(&self, version: VersionId) -> Result<Manifest> {
        let path = self.version_dir(version).join(MANIFEST);
        let text = fs::read(&path).map_err(Error::io(&path))?;
        serde_json::from_slice(&text).map_err(|source| Error::Manifest { path, source })
    }

    fn layer_path(&self, manifest: &Manifest, kind: LayerKind) -> Option<PathBuf> {
        manifest
            .layers
            .get(&kind)
            .map(|meta| self.file_path(manifest, &meta.file))
    }

    /// Removes staging folders left by interrupted commits. Called with the lock held.
    fn remove_stale_staging(&self) -> Result<()> {
        let dir = self.versions_dir();
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(".staging-") {
                tracing::warn!(path = %entry.path().display(), "removing an interrupted commit");
                fs::remove_dir_all(entry.path()).map_err(Error::io(entry.path()))?;
            }
        }
        Ok(())
    }

    fn write_staging(
        &self,
        staging: &Path,
        parent: Option<&Manifest>,
        change: &Change,
        mut files: BTreeMap<String, FileEntry>,
    ) -> Result<BTreeMap<String, FileEntry>> {
        if change.indices.is_some() {
            for level in Level::ALL {
                if !files.contains_key(level.file_name()) {
                    let path = staging.join(level.file_name());
                    return Err(Error::Io {
                        path,
                        source: std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "indices committed without their table",
                        ),
                    });
                }
            }
        }
        if let Some((layer, meta)) = &change.parcels {
            let path = staging.join(&meta.file);
            layer_file::write_parcels(&path, layer)?;
            files.insert(meta.file.clone(), sha256_file(&path)?);
            // Read back from the layer file, in its order (the spatial index's, not the
            // layer's), so that the keys are the same whichever file they are read from.
            let keys = layer_file::read_parcel_keys(&path)?;
            let (sha256, bytes) =
                report_store::write_parcel_keys(&staging.join(PARCEL_KEYS), &keys)?;
            files.insert(PARCEL_KEYS.to_owned(), FileEntry { sha256, bytes });
        }
        if let Some((layer, meta)) = &change.sectors {
            let path = staging.join(&meta.file);
            layer_file::write_sectors(&path, layer)?;
            files.insert(meta.file.clone(), sha256_file(&path)?);
        }
        if let Some((reports, _)) = &change.reports {
            report_store::write_reports(staging, reports)?;
            for name in [REPORTS, REPORT_HISTORY] {
                files.insert(name.to_owned(), sha256_file(&staging.join(name))?);
            }
        }
        if let Some(private) = &change.private {
            let path = staging.join(PRIVATE_FILE);
            report_store::write_private(&path, private)?;
            files.insert(PRIVATE_FILE.to_owned(), sha256_file(&path)?);
        }
        if let Some((level, table, _)) = &change.segments {
            let name = segments_file(*level);
            let path = staging.join(&name);
            let (sha256, bytes) = report_store::write_table(&path, table)?;
            files.insert(name, FileEntry { sha256, bytes });
        }
        let report = staging.join(REPORT);
        change.report.write_csv(&report)?;
        files.insert(REPORT.to_owned(), sha256_file(&report)?);
        // Carry forward what the change does not replace. Versions are immutable, so a hard
        // link is as good as a copy and costs nothing.
        if let Some(parent) = parent {
            for (name, entry) in &parent.files {
                let stale_segments = change.indices.is_some() && name.starts_with("segments-");
                if files.contains_key(name) || stale_segments {
                    continue;
                }
                let from = self.file_path(parent, name);
                let to = staging.join(name);
                if fs::hard_link(&from, &to).is_err() {
                    fs::copy(&from, &to).map_err(Error::io(&to))?;
                }
                files.insert(name.clone(), entry.clone());
            }
        }
        Ok(files)
    }
}

impl CatalogStore for DirCatalog {
    fn current(&self) -> Result<Option<Manifest>> {
        let pointer = self.root.join("CURRENT");
        let text = match fs::read_to_string(&pointer) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::Io {
                    path: pointer,
                    source: e,
                })
            }
        };
        let name = text.trim();
        let version: VersionId = name.parse().map_err(|_| Error::DanglingCurrent {
            path: self.root.clone(),
            version: name.to_owned(),
        })?;
        if !self.version_dir(version).is_dir() {
            return Err(Error::DanglingCurrent {
                path: self.root.clone(),
                version: name.to_owned(),
            });
        }
        self.read_manifest(version).map(Some)
    }

    fn versions(&self) -> Result<Vec<VersionId>> {
        let dir = self.versions_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => {
                return Err(Error::Io {
                    path: dir,
                    source: e,
                })
            }
        };
        let mut versions: Vec<VersionId> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        versions.sort();
        Ok(versions)
    }

    fn parcels(&self, manifest: &Manifest) -> Result<Option<ParcelLayer>> {
        self.layer_path(manifest, LayerKind::Parcels)
            .map(|p| layer_file::read_parcels(&p))
            .transpose()
    }

    fn parcel_keys(&self, manifest: &Manifest) -> Result<Option<Vec<ParcelKey>>> {
        let Some(meta) = manifest.layers.get(&LayerKind::Parcels) else {
            return Ok(None);
        };
        match &meta.keys {
            Some(keys) => report_store::read_parcel_keys(&self.file_path(manifest, keys)),
            None => layer_file::read_parcel_keys(&self.file_path(manifest, &meta.file)),
        }
        .map(Some)
    }

    fn sectors(&self, manifest: &Manifest) -> Result<Option<SectorLayer>> {
        self.layer_path(manifest, LayerKind::Sectors)
            .map(|p| layer_file::read_sectors(&p))
            .transpose()
    }

    fn private_fields(&self, manifest: &Manifest) -> Result<Vec<PrivateFields>> {
        if !manifest.files.contains_key(PRIVATE_FILE) {
            return Ok(Vec::new());
        }
        report_store::read_private(&self.file_path(manifest, PRIVATE_FILE))
    }

    fn reports(&self, manifest: &Manifest) -> Result<Option<Vec<Report>>> {
        if manifest.reports.is_none() {
            return Ok(None);
        }
        report_store::read_reports(&self.version_dir(manifest.version)).map(Some)
    }

    fn report_columns(&self, manifest: &Manifest) -> Result<Option<ReportColumns>> {
        if manifest.reports.is_none() {
            return Ok(None);
        }
        report_store::read_report_columns(&self.version_dir(manifest.version)).map(Some)
    }

    fn indices(
        &self,
        manifest: &Manifest,
        level: Level,
    ) -> Result<Option<polars::prelude::DataFrame>> {
        if manifest.indices.is_none() {
            return Ok(None);
        }
        report_store::read_table(&self.file_path(manifest, level.file_name())).map(Some)
    }

    fn segments(
        &self,
        manifest: &Manifest,
        level: Level,
    ) -> Result<Option<polars::prelude::DataFrame>> {
        if !manifest.segments.contains_key(&level) {
            return Ok(None);
        }
        report_store::read_table(&self.file_path(manifest, &segments_file(level))).map(Some)
    }

    #[tracing::instrument(skip_all, fields(operation = %change.operation))]
    fn commit(&self, change: Change) -> Result<Manifest> {
        self.begin()?.commit(change)
    }
}

/// A version being written: the catalog's lock is held and its files go into a staging folder,
/// which becomes the version at [`Staged::commit`] and is removed if it is dropped before.
/// Tables can be written into it as they are computed ([`Staged::table`]).
#[derive(Debug)]
pub struct Staged<'c> {
    catalog: &'c DirCatalog,
    /// Held until the version is committed or dropped.
    _lock: File,
    parent: Option<Manifest>,
    next: VersionId,
    dir: PathBuf,
    files: BTreeMap<String, FileEntry>,
}

impl DirCatalog {
    /// Starts a new version: takes the catalog's lock (another writer waits until this version
    /// is committed or dropped) and makes its staging folder.
    ///
    /// # Errors
    /// I/O errors on the data directory.
    pub fn begin(&self) -> Result<Staged<'_>> {
        let versions_dir = self.versions_dir();
        fs::create_dir_all(&versions_dir).map_err(Error::io(&versions_dir))?;
        let lock_path = self.root.join(".lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(Error::io(&lock_path))?;
        lock.lock().map_err(Error::io(&lock_path))?;
        self.remove_stale_staging()?;
        let parent = self.current()?;
        let next = VersionId(self.versions()?.last().map_or(1, |v| v.0 + 1));
        let dir = versions_dir.join(format!(".staging-{}-{}", std::process::id(), next.0));
        fs::create_dir(&dir).map_err(Error::io(&dir))?;
        Ok(Staged {
            catalog: self,
            _lock: lock,
            parent,
            next,
            dir,
            files: BTreeMap::new(),
        })
    }
}

impl Staged<'_> {
    /// A table file of the new version, written frame by frame; [`Staged::add_all`] it when done.
    ///
    /// # Errors
    /// I/O errors, naming the file.
    pub fn table(&self, name: &str, schema: &SchemaRef) -> Result<report_store::TableFile> {
        report_store::TableFile::create(&self.dir.join(name), schema)
    }

    /// Ends tables written with [`Staged::table`] and records each as the version's file of its
    /// name. They are ended side by side: each writes its last rows and is fsynced while the
    /// others are.
    ///
    /// # Errors
    /// I/O errors, naming the file (the first table's that failed).
    pub fn add_all(&mut self, tables: Vec<(String, report_store::TableFile)>) -> Result<()> {
        // A thread each: an fsync waits on the disk, not on a core.
        let ended: Vec<(String, Result<(String, u64)>)> = std::thread::scope(|s| {
            let ending: Vec<_> = tables
                .into_iter()
                .map(|(name, table)| (name, s.spawn(move || table.finish())))
                .collect();
            ending
                .into_iter()
                .map(|(name, t)| {
                    let ended = t.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                    (name, ended)
                })
                .collect()
        });
        for (name, ended) in ended {
            let (sha256, bytes) = ended?;
            self.files.insert(name, FileEntry { sha256, bytes });
        }
        Ok(())
    }

    /// Writes the rest of `change` and its manifest, and makes the staging folder the new
    /// version and `CURRENT` point to it (each step fsynced).
    ///
    /// # Errors
    /// I/O and encoding errors; indices in `change` without their tables staged.
    pub fn commit(mut self, change: Change) -> Result<Manifest> {
        let catalog = self.catalog;
        let staging = self.dir.clone();
        let parent = self.parent.take();
        let next = self.next;
        let files = catalog.write_staging(
            &staging,
            parent.as_ref(),
            &change,
            std::mem::take(&mut self.files),
        )?;
        let mut layers = parent
            .as_ref()
            .map(|p| p.layers.clone())
            .unwrap_or_default();
        if let Some((_, meta)) = &change.parcels {
            let meta = LayerMeta {
                keys: Some(PARCEL_KEYS.to_owned()),
                ..meta.clone()
            };
            layers.insert(LayerKind::Parcels, meta);
        }
        if let Some((_, meta)) = &change.sectors {
            layers.insert(LayerKind::Sectors, meta.clone());
        }
        let mut issues = BTreeMap::new();
        for issue in &change.report.issues {
            *issues.entry(issue.action).or_insert(0) += 1;
        }
        let mut segments = match (&change.indices, parent.as_ref()) {
            (None, Some(p)) => p.segments.clone(),
            _ => BTreeMap::new(),
        };
        if let Some((level, _, meta)) = change.segments {
            segments.insert(level, meta);
        }
        let manifest = Manifest {
            format: CATALOG_FORMAT,
            version: next,
            parent: parent.as_ref().map(|p| p.version),
            created_at: Utc::now(),
            predio_version: PREDIO_VERSION.to_owned(),
            operation: change.operation,
            layers,
            files,
            issues,
            reports: change
                .reports
                .map(|(_, meta)| meta)
                .or_else(|| parent.as_ref().and_then(|p| p.reports.clone())),
            indices: change
                .indices
                .or_else(|| parent.as_ref().and_then(|p| p.indices.clone())),
            segments,
        };
        let manifest_path = staging.join(MANIFEST);
        let json = serde_json::to_vec_pretty(&manifest).map_err(|source| Error::Manifest {
            path: manifest_path.clone(),
            source,
        })?;
        let mut f = File::create(&manifest_path).map_err(Error::io(&manifest_path))?;
        f.write_all(&json)
            .and_then(|()| f.sync_all())
            .map_err(Error::io(&manifest_path))?;
        fsync_dir(&staging)?;

        let final_dir = catalog.version_dir(next);
        fs::rename(&staging, &final_dir).map_err(Error::io(&final_dir))?;
        fsync_dir(&catalog.versions_dir())?;

        let tmp = catalog.root.join("CURRENT.tmp");
        let mut f = File::create(&tmp).map_err(Error::io(&tmp))?;
        f.write_all(format!("{next}\n").as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(Error::io(&tmp))?;
        let pointer = catalog.root.join("CURRENT");
        fs::rename(&tmp, &pointer).map_err(Error::io(&pointer))?;
        fsync_dir(&catalog.root)?;
        tracing::info!(version = %next, "committed");
        Ok(manifest)
    }
}

/// A [`TableSink`] that writes each indices table into a staged version as its frames come
/// (the frames are not held: a table of millions of rows is never whole in memory).
pub struct IndicesWriter<'s, 'c> {
    staged: &'s Staged<'c>,
    tables: [std::sync::Mutex<Option<report_store::TableFile>>; 4],
}

impl<'s, 'c> IndicesWriter<'s, 'c> {
    /// Writes into `staged`.
    pub fn new(staged: &'s Staged<'c>) -> Self {
        IndicesWriter {
            staged,
            tables: Default::default(),
        }
    }

    /// The tables written, to [`Staged::add_all`] (a level that got no frame has none).
    pub fn into_tables(self) -> Vec<(Level, report_store::TableFile)> {
        Level::ALL
            .into_iter()
            .zip(self.tables)
            .filter_map(|(level, t)| {
                t.into_inner()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .map(|t| (level, t))
            })
            .collect()
    }
}

impl TableSink for IndicesWriter<'_, '_> {
    fn frame(&self, level: Level, frame: polars::prelude::DataFrame) -> PolarsResult<()> {
        let mut table = self.tables[level as usize]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let written = match &mut *table {
            Some(t) => t.write(&frame),
            None => self
                .staged
                .table(level.file_name(), frame.schema())
                .and_then(|mut t| {
                    t.write(&frame)?;
                    *table = Some(t);
                    Ok(())
                }),
        };
        written.map_err(|e| polars_err!(ComputeError: "{e}"))
    }
}

impl Drop for Staged<'_> {
    /// An uncommitted version's files go (a committed one's folder has been renamed).
    fn drop(&mut self) {
        if self.dir.exists() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Parcel, ParcelId, Sector, SectorId};
    use geo::{polygon, MultiPolygon};

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
                segments: Some((Level::Parcel, table.clone(), meta.clone())),
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
        assert_eq!(cat.segments(&v3, Level::Parcel).expect("read"), Some(table));
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
            let mut staged = cat.begin().expect("begin");
            let writer = IndicesWriter::new(&staged);
            for (level, f) in frames {
                writer.frame(*level, f.clone()).expect("frame");
            }
            let mut rows = BTreeMap::new();
            let mut tables = Vec::new();
            for (level, table) in writer.into_tables() {
                rows.insert(level, table.rows());
                tables.push((level.file_name().to_owned(), table));
            }
            staged.add_all(tables).expect("add");
            (staged, rows)
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
            assert!(table.equals(&expected), "{level}: {table}");
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
}
