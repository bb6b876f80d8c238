//! `predio mapping draft`: a commented mapping drafted from a file's header and a sample of its
//! rows, for a new city's own export.
//!
//! Each column is scored for each role (`id`, `created_at`, `status`, `category`...) by the
//! words of its name — Spanish, Portuguese and English, with Open311 and FixMyStreet names — and
//! by its content (unique values for an id; dates, with the chrono format that reads them all;
//! latitudes and longitudes in range; few distinct values for a status or a category). A role
//! goes to its best column when no other scores as well; a tie is written as a commented
//! choice. Columns that look personal (names, e-mails, phones, addresses, free text) are
//! proposed as `[private]`. The status values are listed with a proposed normalisation to
//! confirm. Nothing is guessed silently: the time zone, unless given, is left to fill in.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
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
        &mut std::io::Read::take(super::open_text(path)?, 64 * 1024),
        &mut head,
    )
    .map_err(|e| read_error(&shown, e.to_string()))?;
    if head.iter().all(u8::is_ascii_whitespace) {
        return Err(read_error(&shown, "the file is empty: no header".into()));
    }
    if head.contains(&0) || std::str::from_utf8(&head[..head.len().min(4096)]).is_err() {
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
        .from_reader(super::open_text(path)?);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| read_error(&shown, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    for record in reader.records().take(max_rows) {
        let record = record.map_err(|e| read_error(&shown, e.to_string()))?;
        rows.push(record.iter().map(|v| v.trim().to_owned()).collect());
    }
    Ok(Sample {
        headers,
        rows,
        format: "csv",
        delimiter: (delimiter != ',').then_some(delimiter),
    })
}

fn read_error(path: &str, message: String) -> Error {
    Error::Format {
        path: path.to_owned(),
        message,
    }
}

/// The roles of a mapping's `[columns]`, in the order they are written.
const ROLES: [&str; 12] = [
    "id",
    "created_at",
    "acknowledged_at",
    "closed_at",
    "deadline_at",
    "on_time",
    "status",
    "category",
    "department",
    "channel",
    "lat",
    "lon",
];

/// Words of a column's name that speak for a role, with their weight.
fn words(role: &str) -> &'static [(&'static str, i32)] {
    match role {
        "id" => &[
            ("id", 2),
            ("numero", 3),
            ("nro", 3),
            ("number", 2),
            ("enquiry", 3),
            ("request", 2),
            ("reclamo", 2),
            ("ticket", 3),
            ("case", 1),
            ("protocolo", 4),
            ("solicitud", 2),
            ("radicado", 4),
        ],
        "created_at" => &[
            ("open", 3),
            ("opened", 3),
            ("created", 4),
            ("creation", 3),
            ("creacion", 3),
            ("ingreso", 4),
            ("requested", 3),
            ("abertura", 4),
            ("alta", 2),
            ("entrada", 2),
            ("submitted", 2),
            ("reported", 3),
            ("recepcion", 3),
            ("fecha", 1),
            ("data", 1),
            ("date", 1),
            ("dt", 1),
            ("datetime", 1),
        ],
        "acknowledged_at" => &[("acknowledged", 4), ("ack", 3), ("asignacion", 3)],
        "closed_at" => &[
            ("closed", 4),
            ("close", 4),
            ("cierre", 4),
            ("cerrado", 3),
            ("resolved", 3),
            ("resolucion", 3),
            ("fechamento", 4),
            ("finalizacion", 3),
            ("completed", 2),
            ("fecha", 1),
            ("date", 1),
            ("dt", 1),
        ],
        "deadline_at" => &[
            ("target", 4),
            ("due", 4),
            ("deadline", 4),
            ("expected", 3),
            ("vencimiento", 4),
            ("limite", 3),
            ("prazo", 4),
            ("plazo", 4),
            ("dt", 1),
        ],
        "on_time" => &[("ontime", 6)],
        "status" => &[
            ("status", 3),
            ("estado", 3),
            ("state", 2),
            ("situacion", 3),
            ("situacao", 3),
            ("desc", 1),
            ("codigo", -1),
            ("code", -1),
        ],
        "category" => &[
            ("type", 3),
            ("tipo", 3),
            ("category", 4),
            ("categoria", 4),
            ("tipoproblema", 4),
            ("problema", 3),
            ("service", 2),
            ("servico", 2),
            ("motivo", 3),
            ("asunto", 2),
            ("assunto", 2),
            ("subject", 2),
            ("reason", 2),
            ("title", 1),
            ("desc", 1),
            ("codigo", -1),
            ("code", -1),
        ],
        "department" => &[
            ("department", 4),
            ("dept", 4),
            ("departamento", 4),
            ("area", 3),
            ("agency", 3),
            ("secretaria", 3),
            ("orgao", 3),
            ("dependencia", 3),
            ("responsible", 2),
            ("queue", 1),
            ("desc", 1),
            ("codigo", -1),
            ("code", -1),
        ],
        "channel" => &[
            ("source", 3),
            ("channel", 4),
            ("canal", 4),
            ("origen", 3),
            ("origem", 3),
            ("medio", 2),
        ],
        "lat" => &[("latitude", 5), ("latitud", 5), ("lat", 4), ("y", 1)],
        "lon" => &[
            ("longitude", 5),
            ("longitud", 5),
            ("lon", 4),
            ("lng", 4),
            ("long", 3),
            ("x", 1),
        ],
        _ => &[],
    }
}

/// Words of a column's name that say it is personal or free text.
const PERSONAL: [&str; 27] = [
    "name",
    "nombre",
    "nome",
    "email",
    "correo",
    "mail",
    "phone",
    "telefono",
    "telefone",
    "celular",
    "direccion",
    "endereco",
    "address",
    "location",
    "street",
    "calle",
    "obs",
    "observacion",
    "observaciones",
    "description",
    "descripcion",
    "descricao",
    "comment",
    "comentario",
    "detalle",
    "closure",
    "title",
];

/// The lower-case, accent-free words of a column name: split at non-letters and at lower→upper
/// case changes (`OnTime_Status` → `on`, `time`, `status`; also `ontime`, the joined pair).
fn name_words(name: &str) -> Vec<String> {
    let folded: String = name
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'Á' | 'Â' | 'Ã' => 'a',
            'é' | 'ê' | 'É' | 'Ê' => 'e',
            'í' | 'Í' => 'i',
            'ó' | 'ô' | 'õ' | 'Ó' | 'Ô' | 'Õ' => 'o',
            'ú' | 'Ú' | 'ü' => 'u',
            'ç' | 'Ç' => 'c',
            'ñ' | 'Ñ' => 'n',
            c => c,
        })
        .collect();
    let mut out: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in folded.chars() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_lowercase();
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    let pairs: Vec<String> = out
        .windows(2)
        .map(|w| format!("{}{}", w[0], w[1]))
        .collect();
    out.extend(pairs);
    out
}

/// What a column's sampled values look like.
#[derive(Debug, Default)]
struct Content {
    filled: usize,
    /// How many different values (all of them counted).
    unique: usize,
    /// The first thousand different values.
    distinct: BTreeSet<String>,
    /// The date formats that read every filled value (`iso`: ISO 8601 / RFC 3339, no format
    /// needed).
    date_formats: Vec<&'static str>,
    numbers: Option<(f64, f64)>,
    mean_len: f64,
    with_spaces: usize,
    with_at: usize,
    phone_like: usize,
}

/// Date and time shapes tried, most specific first.
const DATE_FORMATS: [&str; 14] = [
    "iso",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%d-%m-%Y %H:%M:%S",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%Y/%m/%d",
    "%d-%m-%Y",
    "%d.%m.%Y",
];

fn reads_as(format: &str, v: &str) -> bool {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    if format == "iso" {
        return DateTime::parse_from_rfc3339(v).is_ok()
            || NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
            || NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S").is_ok()
            || NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok();
    }
    if format.contains("%H") || format.contains("%I") {
        NaiveDateTime::parse_from_str(v, format).is_ok()
    } else {
        NaiveDate::parse_from_str(v, format).is_ok()
    }
}

/// The same format with day and month swapped, if it has both.
fn swapped(format: &str) -> Option<String> {
    (format.contains("%d") && format.contains("%m")).then(|| {
        format
            .replace("%d", "\u{0}")
            .replace("%m", "%d")
            .replace('\u{0}', "%m")
    })
}

fn content(sample: &Sample, column: usize) -> Content {
    let mut c = Content::default();
    let values: Vec<&str> = sample
        .rows
        .iter()
        .filter_map(|r| r.get(column).map(String::as_str))
        .filter(|v| !v.is_empty())
        .collect();
    c.filled = values.len();
    if values.is_empty() {
        return c;
    }
    c.unique = values
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .len();
    let mut total_len = 0usize;
    let mut numbers: Option<(f64, f64)> = Some((f64::INFINITY, f64::NEG_INFINITY));
    for v in &values {
        if c.distinct.len() <= 1000 {
            c.distinct.insert((*v).to_owned());
        }
        total_len += v.chars().count();
        c.with_spaces += usize::from(v.trim().contains(' '));
        c.with_at += usize::from(v.contains('@') && v.contains('.'));
        let digits = v.chars().filter(char::is_ascii_digit).count();
        // digits with a phone's separators (bare digits are ids and codes)
        c.phone_like += usize::from(
            (7..=15).contains(&digits)
                && v.chars().any(|ch| " +-()".contains(ch))
                && v.chars()
                    .all(|ch| ch.is_ascii_digit() || " +-().".contains(ch)),
        );
        numbers = match (numbers, v.parse::<f64>()) {
            (Some((lo, hi)), Ok(x)) if x.is_finite() => Some((lo.min(x), hi.max(x))),
            _ => None,
        };
    }
    c.mean_len = total_len as f64 / values.len() as f64;
    c.numbers = numbers;
    c.date_formats = DATE_FORMATS
        .iter()
        .copied()
        .filter(|f| values.iter().all(|v| reads_as(f, v)))
        .collect();
    c
}

/// How well column `content` suits `role` by its values; `None` when it cannot hold it.
fn content_score(role: &str, c: &Content, rows: usize) -> Option<i32> {
    if c.filled == 0 {
        return None;
    }
    let few = c.unique <= 40 && c.unique * 4 <= c.filled.max(4);
    let categorical = c.unique <= 1000 && c.unique * 2 <= c.filled.max(2);
    match role {
        "id" => (c.unique == c.filled && c.filled * 2 >= rows && c.mean_len < 40.0).then_some(2),
        "created_at" | "acknowledged_at" | "closed_at" | "deadline_at" => {
            (!c.date_formats.is_empty() && c.numbers.is_none()).then_some(2)
        }
        "on_time" => (c.unique <= 4).then_some(1),
        "status" => few.then_some(1),
        "category" | "department" | "channel" => (categorical && c.mean_len < 80.0).then_some(1),
        "lat" => c
            .numbers
            .filter(|(lo, hi)| *lo >= -90.0 && *hi <= 90.0 && hi > lo)
            .map(|_| 1),
        "lon" => c
            .numbers
            .filter(|(lo, hi)| *lo >= -180.0 && *hi <= 180.0 && hi > lo)
            .map(|_| 1),
        _ => None,
    }
}

/// What the draft decided: each role's column (or the tied candidates), the private columns,
/// the dates' formats.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Draft {
    /// Role → the column chosen.
    pub columns: BTreeMap<String, String>,
    /// Role → equally good candidates, left as a commented choice.
    pub undecided: BTreeMap<String, Vec<String>>,
    /// Columns proposed as private.
    pub private: Vec<String>,
    /// chrono formats of the date columns chosen (none needed for ISO 8601).
    pub datetime_formats: Vec<String>,
    /// Formats whose day/month order the sample cannot tell: (month first, day first).
    pub ambiguous_formats: Vec<(String, String)>,
    /// The status column's values with a proposed normalisation.
    pub statuses: Vec<(String, &'static str)>,
}

/// The proposed normalisation of a status label, by its words.
fn status_of(label: &str) -> &'static str {
    let w = name_words(label).join(" ");
    let has = |k: &[&str]| k.iter().any(|k| w.contains(k));
    if has(&["duplic"]) {
        "duplicate"
    } else if has(&[
        "reject",
        "rechaz",
        "anulad",
        "invalid",
        "improced",
        "cancel",
        "indeferid",
    ]) {
        "rejected"
    } else if has(&[
        "closed", "cerrad", "fechad", "resuel", "resolv", "complet", "finaliz", "conclu",
        "atendid", "solucion",
    ]) {
        "resolved"
    } else if has(&[
        "proceso",
        "progress",
        "andamento",
        "curso",
        "asignad",
        "assigned",
        "ejecuc",
        "tramite",
        "working",
        "acknowledged",
    ]) {
        "in_progress"
    } else {
        "open"
    }
}

/// Drafts the mapping of `sample`.
pub fn draft(sample: &Sample) -> Draft {
    let rows = sample.rows.len();
    let contents: Vec<Content> = (0..sample.headers.len())
        .map(|i| content(sample, i))
        .collect();
    let mut d = Draft::default();
    let mut taken: BTreeSet<usize> = BTreeSet::new();
    // the on-time verdict before the status (both say "status")
    let order = [
        "on_time",
        "id",
        "lat",
        "lon",
        "created_at",
        "closed_at",
        "deadline_at",
        "acknowledged_at",
        "status",
        "category",
        "department",
        "channel",
    ];
    for role in order {
        if sample.format == "vector" && (role == "lat" || role == "lon") {
            continue; // the geometry gives the point
        }
        let mut scored: Vec<(i32, usize)> = Vec::new();
        for (i, name) in sample.headers.iter().enumerate() {
            if name.is_empty() || taken.contains(&i) {
                continue;
            }
            let ws = name_words(name);
            let by_name: i32 = words(role)
                .iter()
                .filter(|(w, _)| ws.iter().any(|x| x == w))
                .map(|(_, s)| *s)
                .sum::<i32>()
                // the name is the word itself (`TYPE` over `Property_Type`)
                + i32::from(ws.len() == 1 && words(role).iter().any(|(w, s)| *s > 0 && ws[0] == *w));
            // a date other than the creation needs a word of its own, not "date" or "fecha"
            let specific = words(role)
                .iter()
                .any(|(w, weight)| *weight >= 2 && ws.iter().any(|x| x == w));
            let needs_specific = matches!(role, "acknowledged_at" | "closed_at" | "deadline_at");
            if by_name <= 0 || (needs_specific && !specific) {
                continue;
            }
            if let Some(by_content) = content_score(role, &contents[i], rows) {
                scored.push((by_name + by_content, i));
            }
        }
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        match scored.as_slice() {
            [] => {}
            [(best, i), rest @ ..] if rest.first().is_none_or(|(s, _)| s < best) => {
                d.columns
                    .insert(role.to_owned(), sample.headers[*i].clone());
                taken.insert(*i);
            }
            [(best, _), ..] => {
                let tied = scored
                    .iter()
                    .filter(|(s, _)| s == best)
                    .map(|(_, i)| sample.headers[*i].clone())
                    .collect();
                d.undecided.insert(role.to_owned(), tied);
            }
        }
    }
    // the dates' formats: those that read every chosen date column, most specific first
    let mut formats: Vec<String> = Vec::new();
    for role in ["created_at", "acknowledged_at", "closed_at", "deadline_at"] {
        let Some(i) = d
            .columns
            .get(role)
            .and_then(|c| sample.headers.iter().position(|h| h == c))
        else {
            continue;
        };
        let fs = &contents[i].date_formats;
        if fs.contains(&"iso") {
            continue;
        }
        let Some(f) = fs.first() else { continue };
        // a day/month order that both readings accept is not decided here
        if let Some(other) = swapped(f).filter(|o| fs.iter().any(|x| x == o)) {
            let pair = ((*f).to_owned(), other);
            if !d.ambiguous_formats.contains(&pair) {
                d.ambiguous_formats.push(pair);
            }
        } else if !formats.iter().any(|x| x == f) {
            formats.push((*f).to_owned());
        }
    }
    d.datetime_formats = formats;
    for (i, name) in sample.headers.iter().enumerate() {
        if name.is_empty() || taken.contains(&i) {
            continue;
        }
        let ws = name_words(name);
        let c = &contents[i];
        let free_text = c.filled > 0
            && c.mean_len > 25.0
            && c.with_spaces * 2 > c.filled
            && c.unique * 4 > c.filled;
        let personal_values =
            c.filled > 0 && (c.with_at * 2 > c.filled || c.phone_like * 2 > c.filled);
        if PERSONAL.iter().any(|p| ws.iter().any(|w| w == p)) || free_text || personal_values {
            d.private.push(name.clone());
        }
    }
    if let Some(i) = d
        .columns
        .get("status")
        .and_then(|c| sample.headers.iter().position(|h| h == c))
    {
        d.statuses = contents[i]
            .distinct
            .iter()
            .take(40)
            .map(|v| (v.clone(), status_of(v)))
            .collect();
    }
    d
}

/// The draft as a commented TOML mapping for `file`, with `timezone` when known.
pub fn render(d: &Draft, sample: &Sample, file: &str, timezone: Option<&str>) -> String {
    let q = |s: &str| format!("{s:?}");
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Draft mapping for {file}, by `predio mapping draft` from its header and {} rows.\n\
         # Check every line; what it could not decide is left commented, to complete.\n\
         # Import with: predio import reports {}{file} --mapping THIS_FILE\n",
        sample.rows.len(),
        if sample.format == "vector" {
            "--format vector "
        } else {
            ""
        }
    );
    t.push_str("[source]\n");
    match timezone {
        Some(z) => {
            let _ = writeln!(t, "timezone = {}", q(z));
        }
        None => t.push_str(
            "# REQUIRED: the IANA time zone of the file's local times (the city's), e.g.\n\
             # timezone = \"America/Costa_Rica\"\n",
        ),
    }
    if !d.datetime_formats.is_empty() {
        let list: Vec<String> = d.datetime_formats.iter().map(|f| q(f)).collect();
        let _ = writeln!(
            t,
            "# read every sampled date of the columns below (ISO 8601 needs no format)\n\
             datetime_formats = [{}]",
            list.join(", ")
        );
    }
    for (month_first, day_first) in &d.ambiguous_formats {
        let _ = writeln!(
            t,
            "# the sampled dates read both ways: month first or day first? Keep one:\n\
             # datetime_formats = [{}]\n# datetime_formats = [{}]",
            q(month_first),
            q(day_first)
        );
    }
    if let Some(c) = sample.delimiter {
        let _ = writeln!(t, "delimiter = {}", q(&c.to_string()));
    }
    t.push_str("\n[columns]\n");
    for role in ROLES {
        if let Some(c) = d.columns.get(role) {
            let _ = writeln!(t, "{role} = {}", q(c));
        } else if let Some(tied) = d.undecided.get(role) {
            let _ = writeln!(t, "# {role}: one of these, equally likely:");
            for c in tied {
                let _ = writeln!(t, "# {role} = {}", q(c));
            }
        } else if sample.format == "vector" && (role == "lat" || role == "lon") {
            let _ = writeln!(t, "# {role}: from the layer's geometry");
        } else {
            let _ = writeln!(t, "# {role} = \"\"  # no column recognised");
        }
    }
    t.push_str("\n# The status values seen, with a proposed normalisation to confirm\n# (open | in_progress | resolved | rejected | duplicate; `resolved:closed_not_fixed` where a\n# label means closed without a fix).\n[status]\n");
    if d.statuses.is_empty() {
        t.push_str("# no status column recognised: give one above, or [defaults] status\n");
    }
    for (label, status) in &d.statuses {
        let _ = writeln!(t, "{} = {}", q(label), q(status));
    }
    if d.columns.contains_key("on_time") {
        t.push_str("\n# The on-time verdict's labels (true: on time)\n[on_time]\n");
        if let Some(i) = d
            .columns
            .get("on_time")
            .and_then(|c| sample.headers.iter().position(|h| h == c))
        {
            let values: BTreeSet<&str> = sample
                .rows
                .iter()
                .filter_map(|r| r.get(i).map(String::as_str))
                .filter(|v| !v.is_empty())
                .collect();
            for v in values {
                let late = name_words(v).iter().any(|w| {
                    ["overdue", "late", "vencido", "atrasado", "fuera"].contains(&w.as_str())
                });
                let _ = writeln!(t, "{} = {}", q(v), !late);
            }
        }
    }
    t.push_str(
        "\n# Columns that look personal (names, e-mails, phones, addresses, free text): never read\n\
         # into the public tables. Keep those that are.\n[private]\n",
    );
    let list: Vec<String> = d.private.iter().map(|c| q(c)).collect();
    let _ = writeln!(t, "columns = [{}]", list.join(", "));
    t
}

/// Reads `path`'s header and a sample of rows and drafts its mapping: the TOML text.
///
/// # Errors
/// What [`sample_file`] refuses.
pub fn draft_mapping(path: &Path, timezone: Option<&str>, max_rows: usize) -> Result<String> {
    let sample = sample_file(path, max_rows)?;
    if sample.headers.iter().all(String::is_empty) {
        return Err(read_error(
            &path.display().to_string(),
            "no column names in the header".into(),
        ));
    }
    let d = draft(&sample);
    Ok(render(&d, &sample, &path.display().to_string(), timezone))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_of_names_split_at_case_and_separators() {
        assert_eq!(
            name_words("OnTime_Status"),
            ["on", "time", "status", "ontime", "timestatus"]
        );
        assert_eq!(
            name_words("FECHA_INGRESO"),
            ["fecha", "ingreso", "fechaingreso"]
        );
        assert_eq!(name_words("Dirección"), ["direccion"]);
    }

    #[test]
    fn statuses_are_proposed_by_their_words() {
        for (label, status) in [
            ("Abierto", "open"),
            ("En Proceso", "in_progress"),
            ("Closed", "resolved"),
            ("Cerrado", "resolved"),
            ("Rechazado", "rejected"),
            ("Duplicado", "duplicate"),
            ("Em andamento", "in_progress"),
        ] {
            assert_eq!(status_of(label), status, "{label}");
        }
    }

    #[test]
    fn day_month_order_is_read_from_the_values() {
        let sample = Sample {
            headers: vec!["id".into(), "fecha_creacion".into()],
            rows: vec![
                vec!["1".into(), "23/05/2012".into()],
                vec!["2".into(), "01/06/2012".into()],
            ],
            format: "csv",
            delimiter: None,
        };
        let d = draft(&sample);
        assert_eq!(
            d.columns.get("created_at").map(String::as_str),
            Some("fecha_creacion")
        );
        assert_eq!(d.datetime_formats, ["%d/%m/%Y"]);
    }
}
