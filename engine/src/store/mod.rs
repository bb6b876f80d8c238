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

//!
//! [`CatalogStore`] is the seam: commands and the server use it; [`DirCatalog`] (in `dir`) is
//! the embedded implementation, [`Staged`] (in `staged`) a version being written, `manifest`
//! what a version records, `reports` the reports' Parquet tables.

mod dir;
mod manifest;
pub(crate) mod reports;
mod staged;
pub(crate) mod tables;
#[cfg(test)]
mod tests;

pub use dir::{Catalog, DirCatalog};
pub use manifest::*;
pub use staged::Staged;
pub use tables::EncodedRows;

use crate::error::Result;
use crate::import_log::ImportReport;
use crate::indices::{IndicesMeta, Level};
use crate::model::{ParcelKey, ParcelLayer, SectorLayer};
use crate::report::columns::ReportColumns;
use crate::report::{PrivateFields, Report};
use crate::segments::SegmentsMeta;
use crate::table::Table;

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
    /// with [`NewVersion::append`].
    pub indices: Option<IndicesMeta>,
    /// The monthly series computed with the indices ([`crate::indices::series`]), written as
    /// `series.parquet`. New indices without one drop the parent's.
    pub series: Option<Table>,
    /// A segmentation of one level (its table: feature id, `segment`, `description`),
    /// replacing that level's.
    pub segments: Option<(Level, Table, SegmentsMeta)>,
    /// A new time zone for the catalog (IANA name, checked by the caller), replacing the
    /// parent's.
    pub timezone: Option<String>,
    /// Problems found on the way.
    pub report: ImportReport,
}

/// The store behind the catalog. The embedded data directory ([`DirCatalog`]) is one; a
/// PostgreSQL/PostGIS or object-storage store can be another without the importers, the
/// commands or the server changing: they hold a `&dyn CatalogStore`, and it speaks the domain's
/// types (layers, reports, [`Table`]s), never a file path or a data-frame library's type.
pub trait CatalogStore: Send + Sync {
    /// Where the catalog lives, for messages (a directory, a URL).
    fn location(&self) -> String;
    /// Where one file of a version can be read by its owner (e.g. `import-report.csv`), for
    /// messages.
    fn file_location(&self, manifest: &Manifest, file: &str) -> String;
    /// The version `CURRENT` names, without reading its manifest: what a server polls.
    ///
    /// # Errors
    /// An unreadable pointer.
    fn current_version(&self) -> Result<Option<VersionId>>;
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
    fn indices(&self, manifest: &Manifest, level: Level) -> Result<Option<Table>>;
    /// The monthly series computed with the indices, or `None` (no indices, or indices
    /// computed before predio computed series).
    ///
    /// # Errors
    /// I/O or Parquet errors naming the file.
    fn series(&self, manifest: &Manifest) -> Result<Option<Table>>;
    /// The segments of `level` saved with `predio segments --save`, or `None`.
    ///
    /// # Errors
    /// I/O or Parquet errors naming the file.
    fn segments(&self, manifest: &Manifest, level: Level) -> Result<Option<Table>>;
    /// Checks every file of a version against what its manifest recorded (size and checksum).
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`] naming the first file that differs, or an unreadable one.
    fn verify(&self, manifest: &Manifest) -> Result<()>;
    /// Starts a new version on top of the current one: another writer waits until it is
    /// committed or dropped (dropped, nothing of it remains).
    ///
    /// # Errors
    /// The store's I/O errors.
    fn begin(&self) -> Result<Box<dyn NewVersion + '_>>;
    /// Commits `change` on top of the current version and makes it current.
    ///
    /// # Errors
    /// Any I/O error; the current version is then left as it was.
    fn commit(&self, change: Change) -> Result<Manifest> {
        self.begin()?.commit(change)
    }
}

/// A version being written ([`CatalogStore::begin`]): tables streamed in as they are computed,
/// then the rest of a [`Change`] committed with them.
pub trait NewVersion: Send + Sync {
    /// Appends rows to the indices table of `level` ([`NewVersion::encode`] then
    /// [`NewVersion::append_encoded`], on this thread). Rows of different levels may come from
    /// different threads at once; those of one level come in their order.
    ///
    /// # Errors
    /// The store's I/O errors.
    fn append(&self, level: Level, rows: Table) -> Result<()> {
        self.append_encoded(level, self.encode(level, rows)?)
    }
    /// Rows of `level` encoded for its table, to be appended later by
    /// [`NewVersion::append_encoded`]: on any thread, in any order, side by side.
    ///
    /// # Errors
    /// Rows the table cannot hold.
    fn encode(&self, level: Level, rows: Table) -> Result<EncodedRows>;
    /// Appends rows [`NewVersion::encode`]d for the table of `level`, as [`NewVersion::append`]
    /// does: in their order, each in row groups of its own.
    ///
    /// # Errors
    /// Rows of another schema than the table's; the store's I/O errors.
    fn append_encoded(&self, level: Level, rows: EncodedRows) -> Result<()>;
    /// Ends the tables, writes the rest of `change` and makes the version current.
    ///
    /// # Errors
    /// Any I/O error; the current version is then left as it was.
    fn commit(self: Box<Self>, change: Change) -> Result<Manifest>;
}
