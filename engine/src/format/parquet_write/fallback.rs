//! The writer a table file is written with: the parallel one of this module, or Polars' own
//! `ParquetWriter` (batched), picked by `PREDIO_PARQUET_WRITER` (`parallel`, the default, or
//! `polars`). The two write the same tables (same schema, same rows, read back equal); the
//! files differ in their encodings and size.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use polars::io::parquet::write::BatchedWriter;
use polars::prelude::*;
use polars_parquet::write::{CompressionOptions, StatisticsOptions};

use super::{Options, ParallelWriter};

/// Which writer writes the table files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriterKind {
    /// Every column chunk encoded and compressed in parallel (the default).
    Parallel,
    /// Polars' own `ParquetWriter`, batched.
    Polars,
}

impl WriterKind {
    /// `PREDIO_PARQUET_WRITER=polars` picks Polars' writer; anything else, or nothing, the
    /// parallel one. Read once.
    pub(crate) fn from_env() -> WriterKind {
        static KIND: OnceLock<WriterKind> = OnceLock::new();
        *KIND.get_or_init(|| match std::env::var("PREDIO_PARQUET_WRITER").as_deref() {
            Ok("polars") => {
                tracing::info!("PREDIO_PARQUET_WRITER=polars: tables written by Polars' writer");
                WriterKind::Polars
            }
            _ => WriterKind::Parallel,
        })
    }
}

/// `out`, shared with Polars' batched writer, which never hands its output back.
pub(crate) struct SharedOut<W>(Arc<Mutex<Option<W>>>);

impl<W: Write> Write for SharedOut<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut *self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(out) => out.write(buf),
            None => Err(std::io::Error::other("the table file was ended")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut *self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

/// A Parquet file written frame by frame, by the writer [`WriterKind`] names.
pub(crate) enum TableWriter<W: Write> {
    /// This module's parallel writer.
    Parallel(ParallelWriter<W>),
    /// Polars' own writer.
    Polars {
        writer: BatchedWriter<SharedOut<W>>,
        out: Arc<Mutex<Option<W>>>,
        schema: SchemaRef,
    },
}

fn polars_compression(c: CompressionOptions) -> ParquetCompression {
    match c {
        CompressionOptions::Snappy => ParquetCompression::Snappy,
        CompressionOptions::Zstd(level) => ParquetCompression::Zstd(level),
        CompressionOptions::Gzip(level) => ParquetCompression::Gzip(level),
        CompressionOptions::Brotli(level) => ParquetCompression::Brotli(level),
        CompressionOptions::Lz4 | CompressionOptions::Lz4Raw => ParquetCompression::Lz4Raw,
        CompressionOptions::Uncompressed | CompressionOptions::Lzo => {
            ParquetCompression::Uncompressed
        }
    }
}

impl<W: Write + Send> TableWriter<W> {
    /// A file of `schema` into `out`, by the writer the environment picks.
    ///
    /// # Errors
    /// A schema Parquet cannot hold.
    pub(crate) fn new(out: W, schema: &SchemaRef, options: Options) -> PolarsResult<Self> {
        Self::with(WriterKind::from_env(), out, schema, options)
    }

    /// A file of `schema` into `out`, by the writer `kind`.
    ///
    /// # Errors
    /// A schema Parquet cannot hold.
    pub(crate) fn with(
        kind: WriterKind,
        out: W,
        schema: &SchemaRef,
        options: Options,
    ) -> PolarsResult<Self> {
        match kind {
            WriterKind::Parallel => ParallelWriter::new(out, schema, options).map(Self::Parallel),
            WriterKind::Polars => {
                let shared = Arc::new(Mutex::new(Some(out)));
                let writer = ParquetWriter::new(SharedOut(Arc::clone(&shared)))
                    .with_compression(polars_compression(options.compression))
                    .with_statistics(if options.statistics {
                        StatisticsOptions::default()
                    } else {
                        StatisticsOptions::empty()
                    })
                    .with_row_group_size(Some(options.row_group))
                    .batched(schema)?;
                Ok(Self::Polars {
                    writer,
                    out: shared,
                    schema: schema.clone(),
                })
            }
        }
    }

    /// Appends the rows of `df`, which has the file's schema.
    ///
    /// # Errors
    /// A frame of another schema; encoding and I/O errors.
    pub(crate) fn write(&mut self, df: &DataFrame) -> PolarsResult<()> {
        match self {
            Self::Parallel(w) => w.write(df),
            Self::Polars { writer, schema, .. } => {
                if df.schema() != schema {
                    polars_bail!(SchemaMismatch: "a frame of another schema than the table's: {:?}", df.schema());
                }
                writer.write_batch(df)
            }
        }
    }

    /// Appends rows [`super::encode`]d apart, which have the file's schema.
    ///
    /// # Errors
    /// Rows of another schema, or encoded for the other writer; encoding and I/O errors.
    pub(crate) fn write_encoded(&mut self, rows: &super::Encoded) -> PolarsResult<()> {
        match (self, rows) {
            (Self::Parallel(w), super::Encoded::Groups(schema, groups)) => {
                w.write_encoded(schema, groups)
            }
            (this @ Self::Polars { .. }, super::Encoded::Frame(df)) => this.write(df),
            _ => polars_bail!(ComputeError: "rows encoded for another writer than the table's"),
        }
    }

    /// Ends the file (its footer) and gives back `out` and the file's size.
    ///
    /// # Errors
    /// `out`'s I/O errors.
    pub(crate) fn finish(self) -> PolarsResult<(W, u64)> {
        match self {
            Self::Parallel(w) => w.finish(),
            Self::Polars { writer, out, .. } => {
                let size = writer.finish()?;
                drop(writer);
                let out = out
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                    .ok_or_else(|| polars_err!(ComputeError: "the table file was ended twice"))?;
                Ok((out, size))
            }
        }
    }
}
