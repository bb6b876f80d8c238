//! Reports from any CSV, read through a small TOML mapping: which column holds what, the time
//! zone and formats of its local times, the status vocabulary, the system's default point, and
//! which columns are personal (never read into the public tables).
//!
//! ```toml
//! [source]
//! timezone = "America/Costa_Rica"
//! datetime_formats = ["%Y-%m-%d %H:%M"]
//! [columns]
//! id = "id_reporte"
//! created_at = "fecha_creacion"
//! status = "estado"
//! lat = "latitud"
//! lon = "longitud"
//! [status]
//! "Abierto" = "open"
//! "Cerrado sin solución" = "resolved:closed_not_fixed"
//! [private]
//! columns = ["nombre", "correo"]
//! ```

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::{
    next_record, open_text, parse_status, parse_tz, Coords, Normalizer, Raw, ReadOptions,
    ReportRows, Times, Vocabulary,
};
use crate::error::{Error, Result};

/// A CSV mapping file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvMapping {
    /// How to read times and the file.
    pub source: SourceSection,
    /// Which column holds what.
    pub columns: Columns,
    /// The source's status labels → `open|in_progress|resolved|rejected|duplicate`, optionally
    /// `:open|closed_fixed|closed_not_fixed`. Matched ignoring case and surrounding spaces.
    pub status: HashMap<String, String>,
    /// On-time verdict labels → true/false (Boston `OnTime_Status`: `ONTIME`, `OVERDUE`).
    #[serde(default)]
    pub on_time: HashMap<String, bool>,
    /// Personal columns: never read.
    #[serde(default)]
    pub private: PrivateSection,
    /// Points that mean "no location" (a system's default, e.g. city hall).
    #[serde(default)]
    pub location: LocationSection,
    /// Values for fields the source lacks or leaves empty (`status = "open"`,
    /// `created_at = "2022-06-03"`, `category = "..."`).
    #[serde(default)]
    pub defaults: HashMap<String, String>,
}

/// `[source]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    /// IANA time zone of the local times (`America/New_York`).
    pub timezone: String,
    /// chrono formats tried in order (`%m/%d/%Y %I:%M:%S %p`); a bare date is midnight. Not
    /// needed for ISO 8601 / RFC 3339 times (with or without an offset) and ISO dates.
    #[serde(default)]
    pub datetime_formats: Vec<String>,
    /// Field delimiter (default `,`).
    #[serde(default)]
    pub delimiter: Option<char>,
}

/// `[columns]`: column names in the CSV header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    /// Report id (a vector layer without one: the feature number).
    pub id: Option<String>,
    /// Creation time (or `[defaults] created_at`).
    pub created_at: Option<String>,
    /// Status label (or `[defaults] status`).
    pub status: Option<String>,
    /// Latitude (WGS 84). Required for CSV; a vector layer's geometry gives the point.
    pub lat: Option<String>,
    /// Longitude (WGS 84). Required for CSV.
    pub lon: Option<String>,
    /// First acknowledgement.
    pub acknowledged_at: Option<String>,
    /// Closing time.
    pub closed_at: Option<String>,
    /// The source's deadline.
    pub deadline_at: Option<String>,
    /// The source's on-time verdict.
    pub on_time: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Department / agency.
    pub department: Option<String>,
    /// Channel.
    pub channel: Option<String>,
    /// The source's own area of the report (district, neighbourhood, ward, barrio): kept as
    /// `source_area`; names the places of a city that has no sector map yet.
    pub area: Option<String>,
    /// The address (street and number) of a report without coordinates: located against the
    /// cadastre's addresses. Kept only with `--keep-private` (it can be a home).
    pub address: Option<String>,
    /// The parcel's own reference (finca, número predial, padrón, map-lot) of a report without
    /// coordinates. Kept only with `--keep-private`.
    pub parcel_ref: Option<String>,
}

/// Where the optional columns are (positions in a header or a layer's fields).
pub(crate) struct Optional {
    pub ack: Option<usize>,
    pub closed: Option<usize>,
    pub deadline: Option<usize>,
    pub on_time: Option<usize>,
    pub category: Option<usize>,
    pub department: Option<usize>,
    pub channel: Option<usize>,
    pub area: Option<usize>,
    pub address: Option<usize>,
    pub parcel_ref: Option<usize>,
}

impl Columns {
    /// The optional columns, each name resolved by `col` (an unknown name is its error).
    pub(crate) fn optional(
        &self,
        col: &dyn Fn(&Option<String>) -> Result<Option<usize>>,
    ) -> Result<Optional> {
        Ok(Optional {
            ack: col(&self.acknowledged_at)?,
            closed: col(&self.closed_at)?,
            deadline: col(&self.deadline_at)?,
            on_time: col(&self.on_time)?,
            category: col(&self.category)?,
            department: col(&self.department)?,
            channel: col(&self.channel)?,
            area: col(&self.area)?,
            address: col(&self.address)?,
            parcel_ref: col(&self.parcel_ref)?,
        })
    }
}

/// `[private]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateSection {
    /// Columns with personal data or free text.
    #[serde(default)]
    pub columns: Vec<String>,
}

/// `[location]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationSection {
    /// `[lat, lon]` pairs meaning "unknown location".
    #[serde(default)]
    pub default_points: Vec<[f64; 2]>,
    /// A report that gives its parcel's reference is placed by it, its coordinates ignored
    /// (where the clerk's finca is surer than a pin dropped on a map).
    #[serde(default)]
    pub prefer_parcel_ref: bool,
}

impl CsvMapping {
    /// Reads a mapping file.
    ///
    /// # Errors
    /// An unreadable file, invalid TOML, an unknown key, an unknown time zone or status.
    pub fn from_file(path: &Path) -> Result<CsvMapping> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Mapping {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let mapping: CsvMapping = toml::from_str(&text).map_err(|e| Error::Mapping {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        mapping.check().map_err(|message| Error::Mapping {
            path: path.display().to_string(),
            message,
        })?;
        Ok(mapping)
    }

    fn check(&self) -> std::result::Result<(), String> {
        parse_tz(&self.source.timezone)?;
        for v in self.status.values() {
            parse_status(v)?;
        }
        for k in self.defaults.keys() {
            if !DEFAULTABLE.contains(&k.as_str()) {
                return Err(format!(
                    "[defaults] {k:?}: only {} can have a default",
                    DEFAULTABLE.join(", ")
                ));
            }
        }
        for (field, column) in [
            ("created_at", &self.columns.created_at),
            ("status", &self.columns.status),
        ] {
            if column.is_none() && !self.defaults.contains_key(field) {
                return Err(format!(
                    "[columns] {field} is missing (or give [defaults] {field})"
                ));
            }
        }
        Ok(())
    }

    /// The normaliser for this mapping.
    pub(crate) fn normalizer(
        &self,
        source: &'static str,
        options: ReadOptions,
    ) -> std::result::Result<Normalizer, String> {
        let tz_name = options
            .timezone
            .clone()
            .unwrap_or_else(|| self.source.timezone.clone());
        let tz = parse_tz(&tz_name)?;
        let mut n = Normalizer::new(
            source,
            Times {
                tz: Some(tz),
                formats: self.source.datetime_formats.clone(),
            },
            tz_name,
            Vocabulary::from_pairs(self.status.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            options,
        );
        n.verdicts = self
            .on_time
            .iter()
            .map(|(k, v)| (k.trim().to_lowercase(), *v))
            .collect();
        n.default_points.clone_from(&self.location.default_points);
        n.prefer_parcel_ref = self.location.prefer_parcel_ref;
        let c = &self.columns;
        for (field, column) in [
            ("id", &c.id),
            ("created_at", &c.created_at),
            ("status", &c.status),
            ("lat", &c.lat),
            ("lon", &c.lon),
            ("acknowledged_at", &c.acknowledged_at),
            ("closed_at", &c.closed_at),
            ("deadline_at", &c.deadline_at),
        ] {
            if let Some(column) = column {
                n.names.insert(field, format!("column {column}"));
            }
        }
        Ok(n)
    }

    /// The default for a field, if the mapping gives one.
    pub(crate) fn default(&self, field: &str) -> Option<&str> {
        self.defaults.get(field).map(String::as_str)
    }
}

/// Fields `[defaults]` may fill.
const DEFAULTABLE: [&str; 5] = ["status", "created_at", "category", "department", "channel"];

/// The latitude and longitude columns, required unless the reports are located by address or
/// reference alone (neither mapped, `address` or `parcel_ref` mapped).
fn coordinate_columns(
    c: &Columns,
    need: &dyn Fn(&Option<String>, &str) -> Result<usize>,
) -> Result<(Option<usize>, Option<usize>)> {
    if c.lat.is_none() && c.lon.is_none() && (c.address.is_some() || c.parcel_ref.is_some()) {
        return Ok((None, None));
    }
    let what = |w: &str| format!("{w} (or address / parcel_ref without coordinates)");
    Ok((
        Some(need(&c.lat, &what("lat"))?),
        Some(need(&c.lon, &what("lon"))?),
    ))
}

/// Reads reports from a CSV file (optionally gzipped: `.gz`) with `mapping`.
///
/// # Errors
/// An unreadable file, or a header lacking a mapped column. Bad rows do not fail the import:
/// they are listed in the import report with their line number.
pub fn read_csv_reports(
    path: &Path,
    mapping: &CsvMapping,
    options: ReadOptions,
) -> Result<ReportRows> {
    let shown = path.display().to_string();
    let input = open_text(path)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(mapping.source.delimiter.unwrap_or(',') as u8)
        .flexible(true)
        .from_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| Error::Read {
            path: shown.clone(),
            feature: 0,
            message: e.to_string(),
        })?
        .clone();
    if headers.iter().all(|h| h.trim().is_empty()) {
        return Err(Error::EmptyLayer {
            path: shown,
            layer: "CSV".into(),
        });
    }
    let col = |name: &str| -> Result<usize> {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| Error::NoSuchField {
                path: shown.clone(),
                layer: "CSV header".into(),
                field: name.to_owned(),
                available: headers.iter().collect::<Vec<_>>().join(", "),
            })
    };
    let opt = |name: &Option<String>| name.as_deref().map(col).transpose();
    let c = &mapping.columns;
    let need = |name: &Option<String>, what: &str| -> Result<usize> {
        col(name.as_deref().ok_or_else(|| Error::Mapping {
            path: shown.clone(),
            message: format!("[columns] {what} is required for CSV"),
        })?)
    };
    let (id, (lat, lon)) = (need(&c.id, "id")?, coordinate_columns(c, &need)?);
    let (created, status) = (opt(&c.created_at)?, opt(&c.status)?);
    let o = c.optional(&opt)?;
    let private: Vec<(usize, &str)> = if options.keep_private {
        mapping
            .private
            .columns
            .iter()
            .filter_map(|name| Some((col(name).ok()?, name.as_str())))
            .collect()
    } else {
        Vec::new()
    };
    let mut n = mapping
        .normalizer("csv", options)
        .map_err(|message| Error::Mapping {
            path: shown.clone(),
            message,
        })?;

    let mut record = csv::StringRecord::new();
    while let Some(row) = next_record(&mut reader, &mut record) {
        n.out.read += 1;
        let line = match row {
            Ok(line) => line,
            Err((line, problem)) => {
                n.refuse(line, None, problem);
                continue;
            }
        };
        let field = |i: usize| record.get(i).map(str::trim).filter(|s| !s.is_empty());
        let or_default =
            |i: Option<usize>, name: &str| i.and_then(field).or_else(|| mapping.default(name));
        n.push(Raw {
            line,
            id: field(id),
            created_at: or_default(created, "created_at"),
            acknowledged_at: o.ack.and_then(field),
            closed_at: o.closed.and_then(field),
            deadline_at: o.deadline.and_then(field),
            status: or_default(status, "status"),
            on_time: o.on_time.and_then(field),
            category: or_default(o.category, "category"),
            department: or_default(o.department, "department"),
            channel: or_default(o.channel, "channel"),
            area: o.area.and_then(field),
            address: o.address.and_then(field),
            parcel_ref: o.parcel_ref.and_then(field),
            coords: Some(Coords::Text(lat.and_then(field), lon.and_then(field))),
            history: Vec::new(),
            private: private
                .iter()
                .filter_map(|&(i, name)| Some((name, field(i)?)))
                .collect(),
            ..Default::default()
        });
    }
    if n.out.read == 0 {
        return Err(Error::EmptyLayer {
            path: shown,
            layer: "CSV".into(),
        });
    }
    Ok(n.out)
}
