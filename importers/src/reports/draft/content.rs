//! What a column's sampled values say: how many and how different, whether they read as
//! dates (and in which formats), numbers in a range, free text, e-mails or phones.

use std::collections::BTreeSet;

use super::Sample;

/// What a column's sampled values look like.
#[derive(Debug, Default)]
pub(super) struct Content {
    pub(super) filled: usize,
    /// How many different values (all of them counted).
    pub(super) unique: usize,
    /// The first thousand different values.
    pub(super) distinct: BTreeSet<String>,
    /// The date formats that read every filled value (`iso`: ISO 8601 / RFC 3339, no format
    /// needed).
    pub(super) date_formats: Vec<&'static str>,
    pub(super) numbers: Option<(f64, f64)>,
    pub(super) mean_len: f64,
    pub(super) with_spaces: usize,
    pub(super) with_at: usize,
    /// Values holding a digit.
    pub(super) with_digit: usize,
    pub(super) phone_like: usize,
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
pub(super) fn swapped(format: &str) -> Option<String> {
    (format.contains("%d") && format.contains("%m")).then(|| {
        format
            .replace("%d", "\u{0}")
            .replace("%m", "%d")
            .replace('\u{0}', "%m")
    })
}

pub(super) fn content(sample: &Sample, column: usize) -> Content {
    let mut c = Content::default();
    let values: Vec<&str> = sample.values(column).collect();
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
        c.with_digit += usize::from(digits > 0);
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
pub(super) fn content_score(role: &str, c: &Content, rows: usize) -> Option<i32> {
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
        // "187-197 Main St", "Calle 5 # 10-20": a number and words, varied
        "address" => (c.numbers.is_none()
            && c.with_digit * 10 >= c.filled * 8
            && c.with_spaces * 10 >= c.filled * 8
            && c.unique * 4 >= c.filled
            && c.mean_len < 100.0)
            .then_some(1),
        // "1-234567-000", "127-123": short codes with digits, nearly one per report
        "parcel_ref" => {
            (c.with_digit * 10 >= c.filled * 9 && c.unique * 2 >= c.filled && c.mean_len < 32.0)
                .then_some(1)
        }
        // names of places, not codes
        "area" => (categorical && c.numbers.is_none() && c.mean_len < 60.0).then_some(1),
        _ => None,
    }
}
