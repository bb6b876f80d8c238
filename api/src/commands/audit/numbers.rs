//! Numbers as the report writes them: counts with thousands separators, rates as percentages.

use crate::commands::thousands;

/// `12345` → `12 345` (thin spaces, as Spanish and SI style write thousands).
pub(super) fn int(n: u64) -> String {
    thousands(n as usize).replace(',', "\u{2009}")
}

pub(super) fn percent(v: Option<f64>) -> String {
    v.map_or_else(
        || "—".to_owned(),
        |v| format!("{:.1} %", v * 100.0).replace('.', ","),
    )
}
