//! The header and a sample of the rows of a report export, as text: CSV (plain or gzip, its
//! delimiter sniffed from the header) or any point layer GDAL reads.

use std::path::Path;

use crate::error::{Error, Result};
use crate::progress::NoProgress;
use crate::vector::{read, Expect, VectorSource};

/// A file's header and a sample of its rows, as text.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Column names, in order.
    pub headers: Vec<String>,
    /// Rows, each a value per column ("" for none).
    pub rows: Vec<Vec<String>>,
    /// `csv` or `vector` (a GDAL layer: its geometry gives the point).
    pub format: &'static str,
    /// The CSV delimiter, when not a comma.
    pub delimiter: Option<char>,
}

impl Sample {
    /// The non-empty values of `column`, row by row.
    pub fn values(&self, column: usize) -> impl Iterator<Item = &str> {
        self.rows
            .iter()
            .filter_map(move |r| r.get(column).map(String::as_str))
            .filter(|v| !v.is_empty())
    }
}

/// Reads the header and up to `max_rows` rows of `path`: CSV (`.csv`, `.csv.gz`, `.txt`), else
/// any point layer GDAL reads.
///
/// # Errors
/// A file that does not exist, is empty, or is binary and not a layer GDAL reads; a CSV
/// without a header.
pub fn sample_file(path: &Path, max_rows: usize) -> Result<Sample> {
    let shown = path.display().to_string();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let is_csv = [".csv", ".csv.gz", ".txt", ".tsv"]
        .iter()
        .any(|e| name.ends_with(e));
    if !is_csv {
        // Only the attributes are drafted: a layer without a CRS (a shapefile without .prj) is
        // read as it is, its coordinates left alone.
        let plain = VectorSource::new(&shown);
        let layer = match read(&plain, Expect::Points("reports"), &NoProgress) {
            Err(Error::NoCrs { .. }) => read(
                &VectorSource {
                    srs: Some("EPSG:4326".into()),
                    ..plain
                },
                Expect::Points("reports"),
                &NoProgress,
            )?,
            Err(Error::Open { message, .. }) => {
                return Err(read_error(
                    &shown,
                    format!(
                        "neither a CSV (.csv, .csv.gz) nor a layer GDAL reads ({})",
                        if message.trim().is_empty() {
                            "GDAL does not recognise it".to_owned()
                        } else {
                            message
                        }
                    ),
                ))
            }
            other => other?,
        };
        return Ok(Sample {
            headers: layer.fields.iter().map(|f| f.name.clone()).collect(),
            rows: layer
                .features
                .iter()
                .take(max_rows)
                .map(|f| {
                    f.attributes
                        .iter()
                        .map(|v| match v {
                            predio_engine::Value::Null => String::new(),
                            v => v.to_string(),
                        })
                        .collect()
                })
                .collect(),
            format: "vector",
            delimiter: None,
        });
    }
    let mut head = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(super::super::open_text(path)?, 64 * 1024),
        &mut head,
    )
    .map_err(|e| read_error(&shown, e.to_string()))?;
    if head.iter().all(u8::is_ascii_whitespace) {
        return Err(read_error(&shown, "the file is empty: no header".into()));
    }
    if head.contains(&0) {
        return Err(read_error(
            &shown,
            "binary content: not a CSV text file (give a .csv, .csv.gz or a layer GDAL reads)"
                .into(),
        ));
    }
    let first_line = String::from_utf8_lossy(&head);
    let first_line = first_line.lines().next().unwrap_or_default();
    let delimiter = [',', ';', '\t', '|']
        .into_iter()
        .max_by_key(|d| first_line.matches(*d).count())
        .unwrap_or(',');
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter as u8)
        .flexible(true)
        .from_reader(super::super::open_text(path)?);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(&shown, &e))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    for record in reader.records().take(max_rows) {
        let record = record.map_err(|e| csv_error(&shown, &e))?;
        rows.push(record.iter().map(|v| v.trim().to_owned()).collect());
    }
    Ok(Sample {
        headers,
        rows,
        format: "csv",
        delimiter: (delimiter != ',').then_some(delimiter),
    })
}

/// A CSV reading error; text that is not UTF-8 says so with its line and how to convert it.
fn csv_error(shown: &str, e: &::csv::Error) -> Error {
    match e.kind() {
        ::csv::ErrorKind::Utf8 { pos, .. } => read_error(
            shown,
            format!(
                "line {}: not UTF-8 text (Latin-1 or Windows-1252 accents?); convert it first, \
                 e.g. iconv -f WINDOWS-1252 -t UTF-8 {shown} > utf8.csv",
                pos.as_ref().map_or(1, ::csv::Position::line)
            ),
        ),
        _ => read_error(shown, e.to_string()),
    }
}

pub(super) fn read_error(path: &str, message: String) -> Error {
    Error::Format {
        path: path.to_owned(),
        message,
    }
}
