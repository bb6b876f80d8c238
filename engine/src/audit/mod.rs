//! The accountability report's figures (what `predio audit` and `GET /audit/sectors` show):
//! the period a report covers, and the rows of its tables (a sector, a department or the
//! total) read from a selection of the sector indices.

mod period;
mod rows;

pub use period::{parse_period, Period};
pub use rows::{rows, Row, OVERDUE_BUCKETS};
