//! The stage of an open report against its deadline, and the buckets of days past due.

/// Stage of an open report against its deadline (stored as its code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Younger than the warning threshold.
    OnTime = 1,
    /// At or past the warning threshold.
    Warning = 2,
    /// At or past the alert threshold, deadline not yet passed.
    Alert = 3,
    /// Past its deadline.
    Overdue = 4,
}

/// Business days past due of an overdue report: 0–5, 6–10, 11–20, more than 20 (codes 1–4).
pub(super) fn past_due_bucket(days: i64) -> u8 {
    match days {
        ..=5 => 1,
        6..=10 => 2,
        11..=20 => 3,
        _ => 4,
    }
}

impl Stage {
    /// Every stage, in the order of their codes (1–4).
    pub const ALL: [Stage; 4] = [Stage::OnTime, Stage::Warning, Stage::Alert, Stage::Overdue];

    /// `on_time`, `warning`, `alert`, `overdue`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::OnTime => "on_time",
            Stage::Warning => "warning",
            Stage::Alert => "alert",
            Stage::Overdue => "overdue",
        }
    }
}
