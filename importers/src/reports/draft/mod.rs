//! `predio mapping draft`: a commented mapping drafted from a file's header and a sample of its
//! rows, for a new city's own export.
//!
//! Each column is scored for each role (`id`, `created_at`, `status`, `category`...) by the
//! words of its name — Spanish, Portuguese and English, with Open311 and FixMyStreet names — and
//! by its content (unique values for an id; dates, with the chrono format that reads them all;
//! latitudes and longitudes in range; few distinct values for a status or a category). A role
//! goes to its best column when no other scores as well; a tie is written as a commented
//! choice. A street address, a parcel reference (finca, padrón, número predial, map-lot) and
//! the city's own area name (barrio, neighborhood) are proposed for reports without
//! coordinates and for naming hot spots. Columns that look personal (names, e-mails, phones, addresses, free text) are
//! proposed as `[private]`. The status values are listed with a proposed normalisation to
//! confirm. Nothing is guessed silently: the time zone, unless given, is left to fill in.

mod content;
mod sample;
mod words;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use crate::error::Result;
use content::{content, content_score, swapped, Content};
use sample::read_error;
pub use sample::{sample_file, Sample};
use words::{name_words, status_of, words, PERSONAL};

/// The roles of a mapping's `[columns]`, in the order they are written.
const ROLES: [&str; 15] = [
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
    "address",
    "parcel_ref",
    "area",
];

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

/// Drafts the mapping of `sample`.
pub fn draft(sample: &Sample) -> Draft {
    let contents: Vec<Content> = (0..sample.headers.len())
        .map(|i| content(sample, i))
        .collect();
    let mut d = Draft::default();
    let taken = choose_columns(sample, &contents, &mut d);
    let column = |role: &str| {
        d.columns
            .get(role)
            .and_then(|c| sample.headers.iter().position(|h| h == c))
    };
    let dates: Vec<usize> = ["created_at", "acknowledged_at", "closed_at", "deadline_at"]
        .iter()
        .filter_map(|r| column(r))
        .collect();
    let status = column("status");
    let address = column("address");
    date_formats(&dates, &contents, &mut d);
    // an address read to locate a report may be a home: it stays private as well
    let mut read = taken;
    if let Some(i) = address {
        read.remove(&i);
    }
    d.private = private_columns(sample, &contents, &read);
    if let Some(i) = status {
        d.statuses = contents[i]
            .distinct
            .iter()
            .take(40)
            .map(|v| (v.clone(), status_of(v)))
            .collect();
    }
    d
}

/// The order roles are chosen in: the on-time verdict before the status (both say "status"),
/// the specific dates after the creation.
const ORDER: [&str; 15] = [
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
    "address",
    "parcel_ref",
    "area",
];

/// How well the column named `name` suits `role` by its name; `None` when it does not.
fn name_score(role: &str, name: &str) -> Option<i32> {
    let ws = name_words(name);
    let role_words = words(role);
    let by_name: i32 = role_words
        .iter()
        .filter(|(w, _)| ws.iter().any(|x| x == w))
        .map(|(_, s)| *s)
        .sum::<i32>()
        // the name is the word itself (`TYPE` over `Property_Type`)
        + i32::from(ws.len() == 1 && role_words.iter().any(|(w, s)| *s > 0 && ws[0] == *w));
    // a date other than the creation needs a word of its own, not "date" or "fecha"
    let specific = role_words
        .iter()
        .any(|(w, weight)| *weight >= 2 && ws.iter().any(|x| x == w));
    let needs_specific = matches!(role, "acknowledged_at" | "closed_at" | "deadline_at");
    (by_name > 0 && (specific || !needs_specific)).then_some(by_name)
}

/// Each role's column, by name and content, in [`ORDER`]; a tie is left undecided. Returns the
/// columns taken.
fn choose_columns(sample: &Sample, contents: &[Content], d: &mut Draft) -> BTreeSet<usize> {
    let rows = sample.rows.len();
    let mut taken: BTreeSet<usize> = BTreeSet::new();
    for role in ORDER {
        if sample.format == "vector" && (role == "lat" || role == "lon") {
            continue; // the geometry gives the point
        }
        let mut scored: Vec<(i32, usize)> = sample
            .headers
            .iter()
            .enumerate()
            .filter(|(i, name)| !name.is_empty() && !taken.contains(i))
            .filter_map(|(i, name)| {
                let by_content = content_score(role, &contents[i], rows)?;
                Some((name_score(role, name)? + by_content, i))
            })
            .collect();
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
    taken
}

/// The formats that read the chosen date columns (`dates`), most specific first; an order of
/// day and month that both readings accept goes to `ambiguous_formats`, undecided.
fn date_formats(dates: &[usize], contents: &[Content], d: &mut Draft) {
    for &i in dates {
        let fs = &contents[i].date_formats;
        if fs.contains(&"iso") {
            continue;
        }
        let Some(f) = fs.first() else { continue };
        if let Some(other) = swapped(f).filter(|o| fs.iter().any(|x| x == o)) {
            let pair = ((*f).to_owned(), other);
            if !d.ambiguous_formats.contains(&pair) {
                d.ambiguous_formats.push(pair);
            }
        } else if !d.datetime_formats.iter().any(|x| x == f) {
            d.datetime_formats.push((*f).to_owned());
        }
    }
}

/// The columns, other than those `taken`, that look personal: by name (names, e-mails,
/// phones, addresses, free-text fields) or by content (long varied text, e-mails, phones).
fn private_columns(sample: &Sample, contents: &[Content], taken: &BTreeSet<usize>) -> Vec<String> {
    let mut private = Vec::new();
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
            private.push(name.clone());
        }
    }
    private
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
            let values: BTreeSet<&str> = sample.values(i).collect();
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
