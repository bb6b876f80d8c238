//! The embedded catalog: a data directory on local disk.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::manifest::*;
use super::reports as report_store;
use super::tables;
use super::{CatalogStore, Change, NewVersion};
use crate::error::{Error, Result};
use crate::format::layer_file;
use crate::indices::series::SERIES_FILE;
use crate::indices::Level;
use crate::model::{LayerKind, ParcelKey, ParcelLayer, SectorLayer};
use crate::report::columns::ReportColumns;
use crate::report::{PrivateFields, Report};
use crate::table::Table;

/// The embedded catalog: a data directory on local disk.
#[derive(Debug, Clone)]
pub struct DirCatalog {
    pub(super) root: PathBuf,
}

/// The default catalog type of this build.
pub type Catalog = DirCatalog;

pub(super) fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(dir))
}

pub(super) fn sha256_file(path: &Path) -> Result<FileEntry> {
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
    let sha256 = format!("{:x}", hasher.finalize());
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

    pub(super) fn versions_dir(&self) -> PathBuf {
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

    fn verify_files(&self, manifest: &Manifest) -> Result<()> {
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

    pub(super) fn read_manifest(&self, version: VersionId) -> Result<Manifest> {
        let path = self.version_dir(version).join(MANIFEST);
        let text = fs::read(&path).map_err(Error::io(&path))?;
        serde_json::from_slice(&text).map_err(|source| Error::Manifest { path, source })
    }

    pub(super) fn layer_path(&self, manifest: &Manifest, kind: LayerKind) -> Option<PathBuf> {
        manifest
            .layers
            .get(&kind)
            .map(|meta| self.file_path(manifest, &meta.file))
    }

    /// Removes staging folders left by interrupted commits. Called with the lock held.
    pub(super) fn remove_stale_staging(&self) -> Result<()> {
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

    pub(super) fn write_staging(
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
            let (sha256, bytes) = tables::write_parcel_keys(&staging.join(PARCEL_KEYS), &keys)?;
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
            let (sha256, bytes) = tables::write_table(&path, table.frame())?;
            files.insert(name, FileEntry { sha256, bytes });
        }
        if let Some(table) = &change.series {
            let path = staging.join(SERIES_FILE);
            let (sha256, bytes) = tables::write_table(&path, table.frame())?;
            files.insert(SERIES_FILE.to_owned(), FileEntry { sha256, bytes });
        }
        let report = staging.join(REPORT);
        change.report.write_csv(&report)?;
        files.insert(REPORT.to_owned(), sha256_file(&report)?);
        // Carry forward what the change does not replace. Versions are immutable, so a hard
        // link is as good as a copy and costs nothing.
        if let Some(parent) = parent {
            for (name, entry) in &parent.files {
                let stale = change.indices.is_some()
                    && (name.starts_with("segments-") || name == SERIES_FILE);
                if files.contains_key(name) || stale {
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

impl DirCatalog {
    fn pointer(&self) -> Result<Option<VersionId>> {
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
        Ok(Some(version))
    }
}

impl CatalogStore for DirCatalog {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn file_location(&self, manifest: &Manifest, file: &str) -> String {
        self.file_path(manifest, file).display().to_string()
    }

    fn current_version(&self) -> Result<Option<VersionId>> {
        self.pointer()
    }

    fn current(&self) -> Result<Option<Manifest>> {
        match self.pointer()? {
            Some(version) => self.read_manifest(version).map(Some),
            None => Ok(None),
        }
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
            Some(keys) => tables::read_parcel_keys(&self.file_path(manifest, keys)),
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

    fn indices(&self, manifest: &Manifest, level: Level) -> Result<Option<Table>> {
        if manifest.indices.is_none() {
            return Ok(None);
        }
        tables::read_table(&self.file_path(manifest, level.file_name()))
            .map(|t| Some(Table::from_frame(t)))
    }

    fn series(&self, manifest: &Manifest) -> Result<Option<Table>> {
        if manifest.indices.is_none() || !manifest.files.contains_key(SERIES_FILE) {
            return Ok(None);
        }
        tables::read_table(&self.file_path(manifest, SERIES_FILE))
            .map(|t| Some(Table::from_frame(t)))
    }

    fn segments(&self, manifest: &Manifest, level: Level) -> Result<Option<Table>> {
        if !manifest.segments.contains_key(&level) {
            return Ok(None);
        }
        tables::read_table(&self.file_path(manifest, &segments_file(level)))
            .map(|t| Some(Table::from_frame(t)))
    }

    fn verify(&self, manifest: &Manifest) -> Result<()> {
        self.verify_files(manifest)
    }

    fn begin(&self) -> Result<Box<dyn NewVersion + '_>> {
        Ok(Box::new(self.stage()?))
    }
}
