//! One row of the audit table (a sector, a department or the total) read from a sector
//! indices frame: shared by the report and the server's `/audit/sectors`.

use crate::error::Result;
use crate::indices::schema::{
    key, ANSWERED, ANSWERED_ON_TIME, OLDEST_OPEN_BD, OPEN, OVERDUE, RECEIVED,
};
use crate::table::Table;

/// The overdue age buckets of the sector table, in business days past the deadline.
pub use crate::indices::schema::OVERDUE_BUCKETS;

/// One sector (or department) against the deadlines: what `/audit/sectors` serves and what the
/// report prints, read from the sector indices table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// The sector's id (a department's name for a department's row).
    pub id: String,
    /// The sector's name, or the department.
    pub name: String,
    /// Reports received.
    pub received: u64,
    /// Reports answered (closed with a deadline verdict).
    pub answered: u64,
    /// Reports answered by their deadline.
    pub on_time: u64,
    /// Open at the as-of time.
    pub pending: u64,
    /// Open past their deadline.
    pub overdue: u64,
    /// Overdue by [`OVERDUE_BUCKETS`].
    pub overdue_by_age: [u64; 4],
    /// Age of the oldest open report, business days.
    pub oldest_open_bd: Option<f64>,
}

impl Row {
    /// Answered after their deadline.
    pub fn late(&self) -> u64 {
        self.answered.saturating_sub(self.on_time)
    }

    /// Answered on time over answered, as the indices' `compliance`; `None` without answers.
    pub fn compliance(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.on_time as f64 / self.answered as f64)
    }

    /// Adds `o`'s counts (the oldest open report is the older of the two).
    pub fn add(&mut self, o: &Row) {
        self.received += o.received;
        self.answered += o.answered;
        self.on_time += o.on_time;
        self.pending += o.pending;
        self.overdue += o.overdue;
        for (a, b) in self.overdue_by_age.iter_mut().zip(o.overdue_by_age) {
            *a += b;
        }
        self.oldest_open_bd = match (self.oldest_open_bd, o.oldest_open_bd) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// The rows of a selection of the sector table, each with its sector id (`None` for the row
/// of the reports without a sector); `name` holds the dimension's value (a department).
///
/// # Errors
/// [`crate::Error::Indices`] when a column of the sector table is missing.
pub fn rows(table: &Table) -> Result<Vec<(Option<String>, Row)>> {
    let ids = table.texts(key::SECTOR_ID)?;
    let values = table.texts(key::VALUE)?;
    let n = |c: &str| -> Result<Vec<u64>> {
        Ok(table
            .numbers(c)?
            .into_iter()
            .map(|v| v.unwrap_or(0.0) as u64)
            .collect())
    };
    let (received, answered, on_time, open, overdue) = (
        n(RECEIVED)?,
        n(ANSWERED)?,
        n(ANSWERED_ON_TIME)?,
        n(OPEN)?,
        n(OVERDUE)?,
    );
    let buckets = OVERDUE_BUCKETS
        .iter()
        .map(|c| n(c))
        .collect::<Result<Vec<_>>>()?;
    let oldest = table.numbers(OLDEST_OPEN_BD)?;
    Ok((0..table.len())
        .map(|i| {
            (
                ids[i].clone(),
                Row {
                    id: ids[i].clone().unwrap_or_default(),
                    name: values[i].clone().unwrap_or_default(),
                    received: received[i],
                    answered: answered[i],
                    on_time: on_time[i],
                    pending: open[i],
                    overdue: overdue[i],
                    overdue_by_age: [0, 1, 2, 3].map(|b| buckets[b][i]),
                    oldest_open_bd: oldest[i],
                },
            )
        })
        .collect())
}
