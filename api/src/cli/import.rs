//! The arguments of `import` (parcels, sectors, reports) and `geocode`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// Layers that can be imported.
#[derive(Debug, Subcommand)]
pub enum Import {
    /// Import cadastral parcels (polygons) from any vector format GDAL reads.
    ///
    /// Geometries are reprojected to EPSG:4326, checked against OGC validity rules and repaired
    /// with GDAL MakeValid where needed; each parcel is assigned the sector that contains its
    /// interior point. Problems are listed in import-report.csv inside the new version.
    Parcels(ImportParcels),
    /// Import sectors (barrios, districts, secciones) and re-assign the current parcels to them.
    Sectors(ImportSectors),
    /// Import citizen reports and geocode them to parcels and sectors.
    ///
    /// Re-importing a newer export upserts by report id: status changes land, nothing is
    /// duplicated. Rows that cannot be read (bad date, unknown status, coordinates out of range,
    /// duplicate id) are listed with their line in import-report.csv; the rest import. Personal
    /// columns named in the mapping's [private] section are dropped, or with --keep-private kept
    /// apart in a file only the catalog's owner can read; public tables, tiles and exports never
    /// hold them.
    Reports(ImportReports),
    /// Join an assessor's or cadastre's table (CSV, .csv.gz, TSV; no geometry) to the current
    /// parcels by key, into a new version: its columns become typed parcel attributes (exports
    /// and the planner's parcel tiles carry them), its address columns locate reports that have
    /// an address and no coordinates, and its key becomes the reference reports may give.
    ///
    /// Many rows per parcel are allowed (condominium units): the attributes come from the first,
    /// the addresses from all (joined by " | "), and `table_rows` counts them. Keys that match
    /// no parcel and parcels without a row are counted and listed in import-report.csv.
    ParcelTable(ImportParcelTable),
}

/// `predio import parcel-table`.
#[derive(Debug, Args)]
pub struct ImportParcelTable {
    /// The table (CSV with a header; `.csv.gz`; `;`, tab or `|` delimited are recognised).
    pub path: PathBuf,
    /// The table's key column (e.g. ML, finca, número predial).
    #[arg(long, value_name = "COLUMN")]
    pub key: String,
    /// The parcels' attribute the key equals (default: the attribute of the same name, else
    /// the parcel id).
    #[arg(long, value_name = "FIELD")]
    pub parcel_key: Option<String>,
    /// A column holding addresses ("219 MONSIGNOR OBRIEN HWY", "Calle 45 # 12-30"); repeatable.
    #[arg(long = "address-field", value_name = "COLUMN")]
    pub address_fields: Vec<String>,
    /// The other columns to join, comma separated (default: all).
    #[arg(long, value_delimiter = ',', value_name = "COLUMN,...")]
    pub fields: Vec<String>,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Any CSV (or .csv.gz) with a TOML mapping file (--mapping).
    Csv,
    /// Open311 GeoReport v2 service requests, JSON or XML, with the `extensions=true`
    /// attributes and notes[] history. Local times without an offset need --timezone.
    Open311,
    /// FixMyStreet / Por Mi Barrio dashboard CSV export; --updates adds the updates export as
    /// the status history. Its times have no offset: give --timezone.
    Fixmystreet,
    /// A point layer of any format GDAL reads (GeoJSON, Shapefile, GeoPackage...), in any CRS,
    /// with a TOML mapping (--mapping) naming its attributes.
    Vector,
}

/// Geocoding options.
#[derive(Debug, Args)]
pub struct GeocodeArgs {
    /// A report in no parcel goes to the nearest parcel within this distance (metres on the ground).
    #[arg(long, default_value_t = 25.0, value_name = "M")]
    pub tolerance_m: f64,
    /// H3 resolution of each report's cell (0-15).
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u8).range(0..=15))]
    pub h3_res: u8,
    /// A report without coordinates whose number is not known on its street takes the nearest
    /// known number on the same side within this many numbers (`address_near`).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub near_numbers: u32,
    /// Edits (a letter added, dropped, changed or two swapped) allowed between a report's street
    /// name and the cadastre's (`address_fuzzy`); one more for names over 8 letters; 0: none.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub fuzzy_edits: usize,
}

/// `predio import reports`.
#[derive(Debug, Args)]
pub struct ImportReports {
    /// The reports file.
    pub path: String,
    /// Its format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Csv)]
    pub format: ReportFormat,
    /// TOML mapping (csv, vector): columns, time zone, date formats, status vocabulary,
    /// defaults, private columns. See data-samples/mappings/.
    #[arg(long, value_name = "FILE", required_if_eq_any = [("format", "csv"), ("format", "vector")])]
    pub mapping: Option<PathBuf>,
    /// FixMyStreet updates export, read as the reports' status history.
    #[arg(long, value_name = "FILE")]
    pub updates: Option<PathBuf>,
    /// IANA time zone of local times without a UTC offset (overrides the mapping's).
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
    /// Layer of a vector source (default: the first).
    #[arg(long, value_name = "NAME")]
    pub layer: Option<String>,
    /// CRS of a vector source, overriding the file's (required when it has none, such as a
    /// shapefile without .prj).
    #[arg(long, value_name = "EPSG:N")]
    pub srs: Option<String>,
    /// Keep the personal fields (name, e-mail, phone, free text) in a separate private file of
    /// the catalog version, readable by its owner only, instead of dropping them. Public tables,
    /// tiles and exports never contain them.
    #[arg(long)]
    pub keep_private: bool,
    #[command(flatten)]
    pub geocode: GeocodeArgs,
}

/// Options shared by every vector import.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Shapefile, GeoPackage, GeoJSON, TopoJSON, FlatGeobuf, GML, a .zip with a shapefile, or
    /// any GDAL /vsi path.
    pub path: String,
    /// Layer to read (default: the first).
    #[arg(long, value_name = "NAME")]
    pub layer: Option<String>,
    /// CRS of the coordinates, overriding the source's (required when it has none, such as a
    /// shapefile without .prj). EPSG:N, WKT or a PROJ string.
    #[arg(long, value_name = "EPSG:N")]
    pub srs: Option<String>,
    /// Attribute holding the feature's id (default: the 1-based feature number).
    #[arg(long, value_name = "FIELD")]
    pub id_field: Option<String>,
    /// What to do when ids repeat: refuse the import, suffix repeats (~2, ~3) or skip them.
    #[arg(long, value_enum, default_value_t = OnDuplicate::Fail)]
    pub on_duplicate_id: OnDuplicate,
}

/// Policy for repeated ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnDuplicate {
    /// Refuse the import and list the duplicates.
    Fail,
    /// Keep all, renaming repeats id~2, id~3...
    Suffix,
    /// Keep the first of each id and report the others.
    Skip,
}

/// `predio import parcels`.
#[derive(Debug, Args)]
pub struct ImportParcels {
    #[command(flatten)]
    pub source: SourceArgs,
    /// An attribute holding the parcel's address, which locates reports that have an address
    /// and no coordinates (several addresses of one parcel joined by " | "); repeatable.
    #[arg(long = "address-field", value_name = "FIELD")]
    pub address_fields: Vec<String>,
    /// The attribute holding the parcel's reference reports may give (default: the id).
    #[arg(long, value_name = "FIELD")]
    pub ref_field: Option<String>,
}

/// `predio import sectors`.
#[derive(Debug, Args)]
pub struct ImportSectors {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Attribute with the sector's name (default: a field called name, nombre, nom, barrio...).
    #[arg(long, value_name = "FIELD")]
    pub name_field: Option<String>,
    /// Attribute with the number of inhabitants (for rates per 1,000 inhabitants).
    #[arg(long, value_name = "FIELD")]
    pub population_field: Option<String>,
}
