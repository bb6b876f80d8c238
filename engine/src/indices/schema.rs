//! The columns of the indices tables: the one place their names are written. The tables
//! (`indices-parcels.parquet`, `-sectors`, `-h3`), the tiles' fields, the exports, the plan, the
//! audit and the server read and write them by these names; the README documents them.

/// The table's key columns: the feature, then where each row belongs.
pub mod key {
    /// A parcel's id (parcel table).
    pub const PARCEL_ID: &str = "parcel_id";
    /// A sector's id (sector table).
    pub const SECTOR_ID: &str = "sector_id";
    /// A sector's name (sector table).
    pub const NAME: &str = "name";
    /// An H3 cell, hexadecimal (cell table).
    pub const CELL: &str = "cell";
    /// The cell's H3 resolution (cell table).
    pub const RES: &str = "res";
    /// The window's label (`90d`, `all`).
    pub const WINDOW: &str = "window";
    /// The dimension: `all`, `category` or `department`.
    pub const DIMENSION: &str = "dimension";
    /// The category or department (empty for `all`).
    pub const VALUE: &str = "value";
}

/// Reports received in the window.
pub const RECEIVED: &str = "received";
/// Not closed at the as-of time.
pub const OPEN: &str = "open";
/// Closed as resolved.
pub const RESOLVED: &str = "resolved";
/// Closed as rejected or duplicate.
pub const REJECTED_DUPLICATE: &str = "rejected_duplicate";
/// Resolved with a closed-not-fixed label.
pub const RESOLVED_NOT_FIXED: &str = "resolved_not_fixed";
/// Closed with a deadline verdict.
pub const ANSWERED: &str = "answered";
/// Answered by their deadline.
pub const ANSWERED_ON_TIME: &str = "answered_on_time";
/// Open, younger than the warning stage.
pub const OPEN_ON_TIME: &str = "open_on_time";
/// Open, at the warning stage.
pub const OPEN_WARNING: &str = "open_warning";
/// Open, at the alert stage.
pub const OPEN_ALERT: &str = "open_alert";
/// Open past the deadline.
pub const OVERDUE: &str = "overdue";
/// Overdue by 0–5 business days.
pub const OVERDUE_0_5: &str = "overdue_0_5";
/// Overdue by 6–10 business days.
pub const OVERDUE_6_10: &str = "overdue_6_10";
/// Overdue by 11–20 business days.
pub const OVERDUE_11_20: &str = "overdue_11_20";
/// Overdue by more than 20 business days.
pub const OVERDUE_OVER_20: &str = "overdue_over_20";
/// Reopened after a closing.
pub const REOPENED: &str = "reopened";
/// With a history of their own (acknowledgement, notes, updates).
pub const WITH_HISTORY: &str = "with_history";
/// Repeats of a category on a parcel within the recurrence interval.
pub const RECURRENT: &str = "recurrent";

/// Median resolution time, hours.
pub const RESOLUTION_MEDIAN_H: &str = "resolution_median_h";
/// 90th percentile of the resolution time, hours.
pub const RESOLUTION_P90_H: &str = "resolution_p90_h";
/// Median resolution time, business days.
pub const RESOLUTION_MEDIAN_BD: &str = "resolution_median_bd";
/// 90th percentile of the resolution time, business days.
pub const RESOLUTION_P90_BD: &str = "resolution_p90_bd";
/// Median time to the acknowledgement, hours.
pub const ACK_MEDIAN_H: &str = "ack_median_h";
/// 90th percentile of the time to the acknowledgement, hours.
pub const ACK_P90_H: &str = "ack_p90_h";

/// Answered on time over answered.
pub const COMPLIANCE: &str = "compliance";
/// Age of the oldest open report, business days.
pub const OLDEST_OPEN_BD: &str = "oldest_open_bd";
/// Reopened over those with a history.
pub const REOPEN_RATE: &str = "reopen_rate";
/// Received in the window of the same length before.
pub const PREV_RECEIVED: &str = "prev_received";
/// Received over the previous window's.
pub const TREND: &str = "trend";
/// The feature's geodesic area, km².
pub const AREA_KM2: &str = "area_km2";
/// Received per km².
pub const DENSITY_KM2: &str = "density_km2";
/// Inhabitants (sector table).
pub const POPULATION: &str = "population";
/// Received per 1,000 inhabitants (sector table).
pub const PER_1000: &str = "per_1000";
/// The attention index, 0–100.
pub const ATTENTION: &str = "attention";

/// The counts of a row, in the tables' order.
pub const COUNTS: [&str; 18] = [
    RECEIVED,
    OPEN,
    RESOLVED,
    REJECTED_DUPLICATE,
    RESOLVED_NOT_FIXED,
    ANSWERED,
    ANSWERED_ON_TIME,
    OPEN_ON_TIME,
    OPEN_WARNING,
    OPEN_ALERT,
    OVERDUE,
    OVERDUE_0_5,
    OVERDUE_6_10,
    OVERDUE_11_20,
    OVERDUE_OVER_20,
    REOPENED,
    WITH_HISTORY,
    RECURRENT,
];

/// The times of a row (order statistics), in the tables' order.
pub const QUANTILES: [&str; 6] = [
    RESOLUTION_MEDIAN_H,
    RESOLUTION_P90_H,
    RESOLUTION_MEDIAN_BD,
    RESOLUTION_P90_BD,
    ACK_MEDIAN_H,
    ACK_P90_H,
];

/// The columns of durations measured to the millisecond (the rows' order statistics of them, and
/// each report's own in the per-report table): near-unique floats, which the tables write
/// BYTE_STREAM_SPLIT (`format::parquet_write`).
pub const DURATIONS: [&str; 9] = {
    let mut all = [""; 9];
    let mut i = 0;
    while i < QUANTILES.len() {
        all[i] = QUANTILES[i];
        i += 1;
    }
    all[6] = REPORT_RESOLUTION_H;
    all[7] = REPORT_RESOLUTION_BD;
    all[8] = REPORT_ACK_H;
    all
};

/// A report's resolution time, hours (per-report table).
pub const REPORT_RESOLUTION_H: &str = "resolution_h";
/// A report's resolution time, business days (per-report table).
pub const REPORT_RESOLUTION_BD: &str = "resolution_bd";
/// A report's time to its acknowledgement, hours (per-report table).
pub const REPORT_ACK_H: &str = "ack_h";

/// The overdue age buckets, in business days past the deadline.
pub const OVERDUE_BUCKETS: [&str; 4] = [OVERDUE_0_5, OVERDUE_6_10, OVERDUE_11_20, OVERDUE_OVER_20];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_durations_are_the_quantiles_and_each_reports_own_times() {
        assert_eq!(DURATIONS[..QUANTILES.len()], QUANTILES);
        assert_eq!(
            DURATIONS[QUANTILES.len()..],
            ["resolution_h", "resolution_bd", "ack_h"]
        );
    }
}
