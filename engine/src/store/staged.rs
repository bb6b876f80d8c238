//! A version being written into its staging folder, and the indices tables written into it.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::PathBuf;

use std::sync::{Mutex, PoisonError};

use chrono::Utc;

use super::dir::{fsync_dir, DirCatalog};
use super::manifest::*;
use super::tables::{encode_rows, EncodedRows, TableFile};
use super::{CatalogStore, Change, NewVersion};
use crate::error::{Error, Result};
use crate::indices::Level;
use crate::model::LayerKind;
use crate::table::Table;
use crate::PREDIO_VERSION;

/// A version being written into the data directory: the catalog's lock is held and its files
/// go into a staging folder, which becomes the version at commit and is removed if it is
/// dropped before. The indices tables are written into it as their rows come
/// ([`NewVersion::append`]): a table of millions of rows is never whole in memory.
#[derive(Debug)]
pub struct Staged<'c> {
    pub(super) catalog: &'c DirCatalog,
    /// Held until the version is committed or dropped.
    pub(super) _lock: File,
    pub(super) parent: Option<Manifest>,
    pub(super) next: VersionId,
    pub(super) dir: PathBuf,
    pub(super) files: BTreeMap<String, FileEntry>,
    /// The indices table of each level, open while rows come.
    pub(super) tables: [Mutex<Option<TableFile>>; 4],
}

impl DirCatalog {
    /// Starts a new version: takes the catalog's lock (another writer waits until this version
    /// is committed or dropped) and makes its staging folder.
    ///
    /// # Errors
    /// I/O errors on the data directory.
    pub fn stage(&self) -> Result<Staged<'_>> {
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
            tables: Default::default(),
        })
    }
}

impl Staged<'_> {
    /// Ends the indices tables and records each as the version's file of its name. They are
    /// ended side by side: each writes its last rows and is fsynced while the others are.
    ///
    /// # Errors
    /// I/O errors, naming the file (the first table's that failed).
    fn end_tables(&mut self) -> Result<()> {
        let tables: Vec<(String, TableFile)> = Level::ALL
            .into_iter()
            .zip(std::mem::take(&mut self.tables))
            .filter_map(|(level, t)| {
                let t = t.into_inner().unwrap_or_else(PoisonError::into_inner)?;
                Some((level.file_name().to_owned(), t))
            })
            .collect();
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
    fn write(mut self, change: Change) -> Result<Manifest> {
        self.end_tables()?;
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
            timezone: change
                .timezone
                .or_else(|| parent.as_ref().and_then(|p| p.timezone.clone())),
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

impl NewVersion for Staged<'_> {
    fn encode(&self, _level: Level, rows: Table) -> Result<EncodedRows> {
        encode_rows(rows.frame().clone())
    }

    fn append_encoded(&self, level: Level, rows: EncodedRows) -> Result<()> {
        let mut table = self.tables[level as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match &mut *table {
            Some(t) => t.write_encoded(&rows),
            None => {
                let mut t = TableFile::create(&self.dir.join(level.file_name()), rows.schema())?;
                t.write_encoded(&rows)?;
                *table = Some(t);
                Ok(())
            }
        }
    }

    fn commit(self: Box<Self>, change: Change) -> Result<Manifest> {
        (*self).write(change)
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
