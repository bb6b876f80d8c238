use std::path::PathBuf;

/// Errors of the engine: the catalog and its layer files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder of the catalog could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A FlatGeobuf layer file could not be read or written.
    #[error("{path}: FlatGeobuf: {message}")]
    FlatGeobuf {
        /// The layer file.
        path: PathBuf,
        /// What went wrong, as the flatgeobuf/geozero crates describe it.
        message: String,
    },
    /// A Parquet table could not be read or written.
    #[error("{path}: Parquet: {message}")]
    Parquet {
        /// The table file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The manifest of a version is not valid JSON of the expected shape.
    #[error("{path}: invalid manifest: {source}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// `CURRENT` names a version that is not in the catalog.
    #[error("{path}: CURRENT names version {version:?}, which does not exist")]
    DanglingCurrent {
        /// The data directory.
        path: PathBuf,
        /// The version named by `CURRENT`.
        version: String,
    },
    /// A stored file does not match the checksum its manifest records.
    #[error("{path}: checksum mismatch (manifest {expected}, file {actual})")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// SHA-256 recorded in the manifest.
        expected: String,
        /// SHA-256 of the file as it is now.
        actual: String,
    },
    /// A layer file lacks a column predio writes into every layer it stores.
    #[error("{path}: missing column {column:?}")]
    MissingColumn {
        /// The layer file.
        path: PathBuf,
        /// The column that is missing.
        column: &'static str,
    },
    /// A configuration file (deadlines, holidays) is not valid.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line or key.
        message: String,
    },
    /// The current version has no reports to compute indices from.
    #[error("the catalog at {path} has no reports")]
    NoReports {
        /// The data directory.
        path: PathBuf,
    },
    /// The indices could not be computed.
    #[error("computing the indices: {message}")]
    Indices {
        /// What went wrong.
        message: String,
    },
    /// Something a command reads was not computed in the current version: its indices, a
    /// window, an H3 resolution, a table.
    #[error("not computed: {what}")]
    NotComputed {
        /// What is missing, with what there is instead.
        what: String,
    },
    /// A period of an accountability report that cannot be read.
    #[error("period {given:?}: {problem}")]
    Period {
        /// The period as given.
        given: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The catalog has no version yet (nothing was imported).
    #[error("the catalog at {path} is empty: import parcels or sectors first")]
    Empty {
        /// The data directory.
        path: PathBuf,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

/// Result with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
