//! The period of an accountability report: `2025`, `2025-H1`, `2025-Q3`, `2025-03` or
//! `2025-01-01..2025-06-30`, as whole days.

use chrono::NaiveDate;

use crate::error::{Error, Result};

/// A reporting period: whole UTC days from `first` to `last`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// As written (`2025-H1`).
    pub label: String,
    /// Its first day.
    pub first: NaiveDate,
    /// Its last day.
    pub last: NaiveDate,
}

impl Period {
    /// Days in the period.
    pub fn days(&self) -> u32 {
        u32::try_from((self.last - self.first).num_days() + 1).unwrap_or(0)
    }
}

/// `2025`, `2025-H1`, `2025-Q3`, `2025-03` or `2025-01-01..2025-06-30`.
///
/// # Errors
/// [`Error::Period`] for any other text, or a range that ends before it starts.
pub fn parse_period(s: &str) -> Result<Period> {
    let t = s.trim();
    let bad = || Error::Period {
        given: s.to_owned(),
        problem: "write YYYY, YYYY-H1, YYYY-Q1 to Q4, YYYY-MM or FIRST..LAST (dates)".into(),
    };
    let date = |d: &str| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|_| bad());
    let month_start = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad);
    // the day before the first day of month `m` (13 = next January) of year `y`
    let month_end = |y: i32, m: u32| -> Result<NaiveDate> {
        let next = if m > 12 {
            NaiveDate::from_ymd_opt(y + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(y, m, 1)
        };
        next.and_then(|d| d.pred_opt()).ok_or_else(bad)
    };
    let (first, last) = if let Some((a, b)) = t.split_once("..") {
        (date(a)?, date(b)?)
    } else {
        let (year, part) = t.split_once('-').map_or((t, ""), |(y, p)| (y, p));
        let y: i32 = year.parse().map_err(|_| bad())?;
        if !(1900..=9999).contains(&y) {
            return Err(bad());
        }
        let months = |from: u32, to: u32| -> Result<(NaiveDate, NaiveDate)> {
            Ok((month_start(y, from)?, month_end(y, to + 1)?))
        };
        match part.to_ascii_uppercase().as_str() {
            "" => months(1, 12)?,
            "H1" => months(1, 6)?,
            "H2" => months(7, 12)?,
            "Q1" => months(1, 3)?,
            "Q2" => months(4, 6)?,
            "Q3" => months(7, 9)?,
            "Q4" => months(10, 12)?,
            m => {
                let m: u32 = m.parse().map_err(|_| bad())?;
                if !(1..=12).contains(&m) || part.len() != 2 {
                    return Err(bad());
                }
                months(m, m)?
            }
        }
    };
    if last < first {
        return Err(Error::Period {
            given: s.to_owned(),
            problem: "it ends before it starts".into(),
        });
    }
    Ok(Period {
        label: t.to_owned(),
        first,
        last,
    })
}
