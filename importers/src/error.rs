use std::path::PathBuf;

/// Errors of the importers. Each names the file (and feature or field) it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The source path does not exist.
    #[error("{path}: no such file")]
    NotFound {
        /// The path given.
        path: String,
    },
    /// A shapefile lacks one of its companion files.
    #[error("{path}: the shapefile's companion file {missing} is missing (a shapefile needs .shp, .shx and .dbf side by side)")]
    MissingCompanion {
        /// The .shp file.
        path: String,
        /// The missing file name.
        missing: String,
    },
    /// GDAL could not open the source.
    #[error("{path}: cannot open as a vector dataset: {message}")]
    Open {
        /// The source.
        path: String,
        /// GDAL's message.
        message: String,
    },
    /// The named layer is not in the source.
    #[error("{path}: no layer {layer:?} (layers: {available})")]
    NoSuchLayer {
        /// The source.
        path: String,
        /// The layer asked for.
        layer: String,
        /// The layers there are.
        available: String,
    },
    /// The layer has no features.
    #[error("{path}: layer {layer:?} is empty (no features)")]
    EmptyLayer {
        /// The source.
        path: String,
        /// The layer.
        layer: String,
    },
    /// The layer holds geometries of the wrong kind (e.g. points given as parcels).
    #[error("{path}: layer {layer:?} has {found} geometries, but {what} must be {kind}")]
    WrongGeometry {
        /// The source.
        path: String,
        /// The layer.
        layer: String,
        /// The geometry type found.
        found: String,
        /// What was being imported (`parcels`, `sectors`, `reports`).
        what: &'static str,
        /// The geometry it needs (`polygons`, `points`).
        kind: &'static str,
    },
    /// A named attribute is not in the layer.
    #[error("{path}: layer {layer:?} has no field {field:?} (fields: {available})")]
    NoSuchField {
        /// The source.
        path: String,
        /// The layer.
        layer: String,
        /// The field asked for.
        field: String,
        /// The fields there are.
        available: String,
    },
    /// Neither the source nor the caller gives a CRS.
    #[error("{path}: the source has no coordinate reference system (e.g. a shapefile without .prj); give its CRS")]
    NoCrs {
        /// The source.
        path: String,
    },
    /// A CRS that GDAL/PROJ does not know, or cannot transform to EPSG:4326.
    #[error("{path}: unknown or unusable CRS {crs:?}: {message}")]
    UnknownCrs {
        /// The source.
        path: String,
        /// The CRS as given.
        crs: String,
        /// GDAL's or PROJ's message.
        message: String,
    },
    /// GDAL failed while reading features (e.g. a truncated .shp).
    #[error("{path}: read error after feature {feature}: {message}")]
    Read {
        /// The source.
        path: String,
        /// Number of features read before the failure.
        feature: u64,
        /// GDAL's message.
        message: String,
    },
    /// Fewer features could be read than the layer declares (a truncated file).
    #[error("{path}: only {read} of the {declared} features the layer declares could be read (truncated or corrupt file)")]
    Truncated {
        /// The source.
        path: String,
        /// Features read.
        read: u64,
        /// Features declared by the layer.
        declared: u64,
    },
    /// Ids repeat within the source.
    #[error("{path}: {count} duplicate ids in field {field:?}, e.g. {examples}; suffix or skip the repeats to import anyway")]
    DuplicateIds {
        /// The source.
        path: String,
        /// The id field.
        field: String,
        /// How many features repeat an earlier id.
        count: usize,
        /// The first few, as `id (features a, b)`.
        examples: String,
    },
    /// No feature survived validation.
    #[error("{path}: none of the {read} features could be imported (see the problems above)")]
    NothingImported {
        /// The source.
        path: String,
        /// Features read.
        read: u64,
    },
    /// A mapping file is unreadable or wrong.
    #[error("{path}: mapping: {message}")]
    Mapping {
        /// The mapping file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Every time of the file is local, without a UTC offset, and the source's time zone was not
    /// given.
    #[error("{path}: {message}")]
    NoTimeZone {
        /// The file.
        path: String,
        /// The first row's problem.
        message: String,
    },
    /// The file is not in the format asked for, or cannot be read as such.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Writing the sample town failed.
    #[error("{path}: {message}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// An error of the engine (catalog, layer files).
    #[error(transparent)]
    Engine(#[from] predio_engine::Error),
}

/// Result with the importers' [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
