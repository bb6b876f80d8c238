//! Tables as Parquet files of a version: written through a hashing, periodically synced writer
//! (their SHA-256 and size go to the manifest), read back whole; the parcels' keys file.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use polars_parquet::write::CompressionOptions;

use crate::error::{Error, Result};
use crate::format::parquet_write::{
    write_parquet, Options, TableWriter, ROW_GROUP, WHOLE_ROW_GROUP,
};
use crate::model::{ParcelId, ParcelKey};

pub(crate) fn pl_err(path: &Path) -> impl Fn(PolarsError) -> Error + '_ {
    move |e| Error::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Writes `df` to `path` (zstd, with statistics), fsynced. A new file gets `mode` (on Unix).
pub(crate) fn write_frame_with_mode(path: &Path, df: &DataFrame, mode: u32) -> Result<()> {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let file = open.open(path).map_err(Error::io(path))?;
    let options = Options {
        compression: CompressionOptions::Zstd(None),
        statistics: true,
        string_dictionaries: true,
        row_group: WHOLE_ROW_GROUP,
        split_floats: &[],
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, &file);
    write_parquet(&mut out, df, options).map_err(pl_err(path))?;
    std::io::Write::flush(&mut out).map_err(Error::io(path))?;
    drop(out);
    file.sync_all().map_err(Error::io(path))
}

pub(crate) fn write_frame(path: &Path, df: &DataFrame) -> Result<()> {
    write_frame_with_mode(path, df, 0o666)
}

/// A writer that hashes (SHA-256) and counts what it writes, and every [`SYNC_EVERY`] bytes
/// tells its file's [`syncer`].
pub(crate) struct Hashing<W> {
    pub(crate) inner: W,
    pub(crate) hasher: sha2::Sha256,
    pub(crate) bytes: u64,
    pub(crate) unsynced: u64,
    pub(crate) sync: std::sync::mpsc::SyncSender<()>,
}

/// Bytes of a table written between two early syncs.
pub(crate) const SYNC_EVERY: u64 = 32 << 20;

impl<W: std::io::Write> std::io::Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        self.unsynced += n as u64;
        if self.unsynced >= SYNC_EVERY {
            self.unsynced = 0;
            // A sync already asked for covers this too.
            let _ = self.sync.try_send(());
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a table as Parquet (see [`TableFile`]), fsynced, and returns its SHA-256 (hex) and
/// size, hashed as it is written.
///
/// # Errors
/// I/O and encoding errors naming the file.
pub fn write_table(path: &Path, df: &DataFrame) -> Result<(String, u64)> {
    let mut table = TableFile::create(path, df.schema())?;
    table.write(df)?;
    table.finish()
}

/// A table written into a file frame by frame, hashed (SHA-256) as it is written: a table
/// computed in parts need not be held whole before it is stored.
///
/// Snappy, strings PLAIN, durations BYTE_STREAM_SPLIT (see `parquet_write`): the indices are rewritten at every compute and
/// read by every tile; Snappy writes several times faster than zstd for a little more disk
/// (LZ4 wrote the parcel indices in the same time, for a file 8 % smaller). No column
/// statistics: predio reads these tables whole, and they cost a fifth of the writing
/// (`predio export indices` writes the files other tools read).
pub struct TableFile {
    path: PathBuf,
    writer: TableWriter<Hashing<std::io::BufWriter<File>>>,
    syncer: std::thread::JoinHandle<std::io::Result<usize>>,
}

impl std::fmt::Debug for TableFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// How a [`TableFile`] is written (see there).
const TABLE_OPTIONS: Options = Options {
    compression: CompressionOptions::Snappy,
    statistics: false,
    string_dictionaries: false,
    row_group: ROW_GROUP,
    split_floats: &crate::indices::schema::DURATIONS,
};

/// Rows encoded for a [`TableFile`] ([`encode_rows`]): their row groups, ready to be written.
pub struct EncodedRows(crate::format::parquet_write::Encoded);

impl EncodedRows {
    /// The schema of the rows.
    #[must_use]
    pub fn schema(&self) -> &SchemaRef {
        self.0.schema()
    }
}

impl std::fmt::Debug for EncodedRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodedRows").finish_non_exhaustive()
    }
}

/// The rows of `df` encoded as a [`TableFile`] writes them, in row groups of their own, on
/// this thread (and rayon's): frames encoded side by side, then written in their order. The
/// encoding is most of the cost of writing a table; the frame's memory is free again once it
/// is done, and the pages (compressed) wait for their turn instead.
///
/// # Errors
/// A schema Parquet cannot hold; encoding errors (naming no file: none is written yet).
pub fn encode_rows(df: DataFrame) -> Result<EncodedRows> {
    crate::format::parquet_write::encode(df, TABLE_OPTIONS)
        .map(EncodedRows)
        .map_err(|e| Error::Indices {
            message: format!("encoding a table's rows: {e}"),
        })
}

/// A thread that writes a table's file back to disk (`fdatasync`) each time it is told, while
/// the table is still being written: the fsync that ends the file then waits only for its
/// last pages. Ended all at once, the 290 MB of `predio compute`'s tables kept the command
/// waiting some 0.1 s on the disk with nothing left to compute. It ends when told no more
/// (the sender dropped) and gives the number of syncs it did, or the first error it met.
pub(crate) fn syncer(
    file: File,
) -> (
    std::sync::mpsc::SyncSender<()>,
    std::thread::JoinHandle<std::io::Result<usize>>,
) {
    let (tell, told) = std::sync::mpsc::sync_channel::<()>(1);
    let thread = std::thread::spawn(move || {
        let mut syncs = 0;
        while told.recv().is_ok() {
            file.sync_data()?;
            syncs += 1;
        }
        Ok(syncs)
    });
    (tell, thread)
}

impl TableFile {
    /// A new table of `schema` at `path` (replacing a file there).
    ///
    /// # Errors
    /// I/O errors and a schema Parquet cannot hold, naming the file.
    pub fn create(path: &Path, schema: &SchemaRef) -> Result<TableFile> {
        use sha2::Digest;
        let file = File::create(path).map_err(Error::io(path))?;
        let (sync, syncer) = syncer(file.try_clone().map_err(Error::io(path))?);
        let out = Hashing {
            inner: std::io::BufWriter::with_capacity(1 << 20, file),
            hasher: sha2::Sha256::new(),
            bytes: 0,
            unsynced: 0,
            sync,
        };
        let writer = TableWriter::new(out, schema, TABLE_OPTIONS).map_err(pl_err(path))?;
        Ok(TableFile {
            path: path.to_path_buf(),
            writer,
            syncer,
        })
    }

    /// Appends rows [`encode_rows`]d apart, which have the table's schema.
    ///
    /// # Errors
    /// Rows of another schema; I/O errors, naming the file.
    pub fn write_encoded(&mut self, rows: &EncodedRows) -> Result<()> {
        self.writer
            .write_encoded(&rows.0)
            .map_err(pl_err(&self.path))
    }

    /// Appends the rows of `df`, which has the table's schema.
    ///
    /// # Errors
    /// A frame of another schema; encoding and I/O errors, naming the file.
    pub fn write(&mut self, df: &DataFrame) -> Result<()> {
        self.writer.write(df).map_err(pl_err(&self.path))
    }

    /// Ends the file, fsyncs it and returns its SHA-256 (hex) and size.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn finish(self) -> Result<(String, u64)> {
        use sha2::Digest;
        let TableFile {
            path,
            writer,
            syncer,
        } = self;
        let path = &path;
        let (out, _) = writer.finish().map_err(pl_err(path))?;
        let Hashing {
            inner,
            hasher,
            bytes,
            sync,
            ..
        } = out;
        // Told no more, the syncer ends after the sync it may be doing.
        drop(sync);
        syncer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the syncing thread panicked")))
            .map_err(Error::io(path))?;
        let file = inner.into_inner().map_err(|e| Error::Io {
            path: path.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(Error::io(path))?;
        Ok((format!("{:x}", hasher.finalize()), bytes))
    }
}

/// Reads a Parquet table.
///
/// # Errors
/// I/O and decoding errors naming the file.
pub fn read_table(path: &Path) -> Result<DataFrame> {
    let file = File::open(path).map_err(Error::io(path))?;
    ParquetReader::new(file).finish().map_err(pl_err(path))
}

/// Writes parcel keys (`parcel_id`, `area_m2`) to `path` (fsynced); gives the file's SHA-256
/// and size. `predio compute` reads the cadastre from this file: the keys of 500,000 parcels
/// took 0.27 s to decode from the layer file, outlines and all (every feature's flatbuffer
/// verified), beside the reports read.
///
/// # Errors
/// I/O and encoding errors naming the file.
pub fn write_parcel_keys(path: &Path, keys: &[ParcelKey]) -> Result<(String, u64)> {
    let df = DataFrame::new(
        keys.len(),
        vec![
            Column::new(
                "parcel_id".into(),
                keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "area_m2".into(),
                keys.iter().map(|k| k.area_m2).collect::<Vec<_>>(),
            ),
        ],
    )
    .map_err(pl_err(path))?;
    write_table(path, &df)
}

/// Reads a file written by [`write_parcel_keys`].
///
/// # Errors
/// I/O and decoding errors, or a file without its two columns, naming the file.
pub fn read_parcel_keys(path: &Path) -> Result<Vec<ParcelKey>> {
    let df = read_table(path)?;
    let keys = || -> PolarsResult<Vec<ParcelKey>> {
        let ids = df.column("parcel_id")?.str()?;
        let areas = df.column("area_m2")?.f64()?;
        Ok(ids
            .iter()
            .zip(areas.iter())
            .map(|(id, area)| ParcelKey {
                id: ParcelId::new(id.unwrap_or_default()),
                area_m2: area.unwrap_or(f64::NAN),
            })
            .collect())
    };
    keys().map_err(pl_err(path))
}

pub(crate) fn read_frame(path: &Path) -> Result<DataFrame> {
    let file = File::open(path).map_err(Error::io(path))?;
    ParquetReader::new(file).finish().map_err(pl_err(path))
}
