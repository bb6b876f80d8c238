//! What a catalog version records: its manifest, layers, files and sources.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::geocoder::MatchCounts;
use crate::import_log::IssueAction;
use crate::indices::{IndicesMeta, Level};
use crate::model::{Bbox, Field, LayerKind};
use crate::segments::SegmentsMeta;

/// Version of the on-disk layout, recorded in every manifest.
pub const CATALOG_FORMAT: u32 = 1;

pub(super) const MANIFEST: &str = "manifest.json";
pub(super) const REPORT: &str = "import-report.csv";
pub(super) const REPORTS: &str = "reports.parquet";
/// The file of personal fields (`--keep-private`): never served, never exported.
pub const PRIVATE_FILE: &str = "private-reporters.parquet";
pub(super) const REPORT_HISTORY: &str = "report_history.parquet";
/// The parcels' ids and areas without their outlines (what the indices read of the cadastre),
/// written beside `parcels.fgb` and named by its layer's [`LayerMeta::keys`].
pub(super) const PARCEL_KEYS: &str = "parcel-keys.parquet";

/// A version number, shown as `v000042`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct VersionId(pub(super) u64);

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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    /// For parcels: the attributes holding their addresses (`--address-field`, or joined by
    /// `import parcel-table`), which locate reports that have an address and no point.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address_fields: Vec<String>,
    /// For parcels: the attribute holding the reference reports may give (`parcel-table
    /// --key`'s column); unset: the parcel id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_field: Option<String>,
}

impl LayerMeta {
    /// Where the parcels' addresses and references are, for [`crate::address::ParcelBook`].
    pub fn address_source(&self) -> crate::address::AddressSource {
        crate::address::AddressSource {
            address_fields: self.address_fields.clone(),
            ref_field: self.ref_field.clone(),
        }
    }
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
    /// Reports by the time zone their source's local times were read in.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub time_zones: BTreeMap<String, usize>,
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
    /// Existing reports updated (same id, another row).
    pub updated: usize,
    /// Existing reports read again unchanged (same id, same row).
    #[serde(default)]
    pub unchanged: usize,
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
    /// The catalog's time zone (IANA name), set with `predio config set timezone`; carried to
    /// every later version. Unset, the zone most reports were recorded in is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// Where the catalog's time zone comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneSource {
    /// Set for the catalog.
    Set,
    /// The zone most reports were recorded in (none was set).
    Reports,
    /// No zone set and no reports: UTC.
    Default,
}

impl Manifest {
    /// The catalog's time zone, and where it comes from: the one set, else the zone most
    /// reports were recorded in (the first by name on a tie), else UTC. Every date given as a
    /// day (`--as-of`, audit periods, Open311 dates) is a local day of it.
    #[must_use]
    pub fn zone(&self) -> (chrono_tz::Tz, ZoneSource) {
        if let Some(z) = self.timezone.as_deref().and_then(|z| z.parse().ok()) {
            return (z, ZoneSource::Set);
        }
        let most = self.reports.as_ref().and_then(|r| {
            r.time_zones
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                .and_then(|(z, _)| z.parse().ok())
        });
        match most {
            Some(z) => (z, ZoneSource::Reports),
            None => (chrono_tz::UTC, ZoneSource::Default),
        }
    }
}

/// The file of a level's saved segments in a catalog version.
pub fn segments_file(level: Level) -> String {
    format!("segments-{}s.parquet", level.as_str())
}
