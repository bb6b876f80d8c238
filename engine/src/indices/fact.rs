//! The fact of one report: its state at the as-of time, its times in hours and business days,
//! its deadline verdict and its stage.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

use crate::report::columns::Times;
use crate::report::Report;

use super::config::IndexConfig;
use super::stage::Stage;

/// What one report contributes, as of a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    /// Closed (with its final status) at the as-of time.
    pub closed: bool,
    /// Hours from creation to acknowledgement.
    pub ack_h: Option<f64>,
    /// Whether it was reopened (`None` when the source has no history for it).
    pub reopened: Option<bool>,
    /// Hours from creation to closing (closed reports; `None` when closed before created).
    pub res_h: Option<f64>,
    /// The same in business days (fraction of the business days' hours).
    pub res_bd: Option<f64>,
    /// Answered within its deadline (closed reports with a closing time).
    pub on_time: Option<bool>,
    /// Stage of an open report.
    pub stage: Option<Stage>,
    /// Business days since the day of receipt (open reports).
    pub age_bd: Option<i64>,
    /// Business days past due (overdue reports).
    pub past_due: Option<i64>,
    /// Local date of its deadline (the end of that day), from the source or the rules.
    pub due: Option<NaiveDate>,
}

/// Time zones by name, parsed once. A catalog's reports are mostly of one zone: the last one
/// asked for is compared first, before a name is hashed.
#[derive(Default)]
pub(super) struct Zones {
    by_name: HashMap<String, Tz>,
    last: Option<(String, Tz)>,
}

impl Zones {
    pub(super) fn get(&mut self, name: &str) -> Tz {
        if let Some((last, tz)) = &self.last {
            if last == name {
                return *tz;
            }
        }
        let tz = match self.by_name.get(name) {
            Some(tz) => *tz,
            None => {
                let tz = name.parse::<Tz>().unwrap_or(Tz::UTC);
                self.by_name.insert(name.to_owned(), tz);
                tz
            }
        };
        self.last = Some((name.to_owned(), tz));
        tz
    }
}

pub(super) fn hours(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 3_600_000.0
}

pub(super) fn local(t: DateTime<Utc>, tz: Tz) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

/// The fact of one report in zone `tz` as of `as_of`; `history_len` is the number of status
/// changes it has (its `history`, which may have been left unread).
pub fn fact(
    r: &Report,
    history_len: usize,
    tz: Tz,
    as_of: DateTime<Utc>,
    cfg: &IndexConfig,
) -> Fact {
    fact_of(&Times::of(r), history_len, tz, as_of, cfg)
}

/// [`fact`] of a report's status, category and times.
pub(crate) fn fact_of(
    r: &Times<'_>,
    history_len: usize,
    tz: Tz,
    as_of: DateTime<Utc>,
    cfg: &IndexConfig,
) -> Fact {
    fact_at(r, history_len, (tz, as_of, local(as_of, tz).date()), cfg)
}

/// [`fact_of`] in zone `tz` as of `as_of`, which is `as_of_day` there (found once for many
/// reports).
pub(crate) fn fact_at(
    r: &Times<'_>,
    history_len: usize,
    (tz, as_of, as_of_day): (Tz, DateTime<Utc>, NaiveDate),
    cfg: &IndexConfig,
) -> Fact {
    let cal = &cfg.calendar;
    let created = local(r.created_at, tz);
    let closed = closed_at(r, as_of);
    let valid_close = r.closed_at.filter(|c| closed && *c >= r.created_at);
    // A history of the source's own: more than "received" and the closing that every import
    // records, an acknowledgement apart from the closing, or a reopening. Without one (Boston's
    // CRM export has only open and close times) there is no time to acknowledge nor reopen rate.
    let has_history = r.acknowledged_at.is_some_and(|a| Some(a) != r.closed_at)
        || r.reopened_at.is_some()
        || history_len > 1 + usize::from(r.closed_at.is_some());
    let ack_h = r
        .acknowledged_at
        .filter(|a| has_history && *a <= as_of && *a >= r.created_at)
        .map(|a| hours(r.created_at, a));
    let reopened = has_history.then(|| r.reopened_at.is_some_and(|t| t <= as_of));
    let rule = cfg.rule(r.category);
    let Verdict { due, on_time, .. } = verdict_of(r, tz, created, closed, cfg);
    let (mut stage, mut age_bd, mut past_due) = (None, None, None);
    if !closed {
        let age = cal.days_between(created.date(), as_of_day);
        age_bd = Some(age);
        if let Some(due) = due {
            let overdue = match r.deadline_at {
                Some(d) => as_of > d,
                None => as_of_day > due,
            };
            stage = Some(if overdue {
                past_due = Some(cal.days_between(due, as_of_day));
                Stage::Overdue
            } else if age >= i64::from(rule.alert_days) {
                Stage::Alert
            } else if age >= i64::from(rule.warning_days) {
                Stage::Warning
            } else {
                Stage::OnTime
            });
        }
    }
    Fact {
        closed,
        ack_h,
        reopened,
        res_h: valid_close.map(|c| hours(r.created_at, c)),
        res_bd: valid_close.map(|c| cal.elapsed(created, local(c, tz))),
        on_time,
        stage,
        age_bd,
        past_due,
        due,
    }
}

/// Whether a report is closed at `as_of`: closed by its status, at or before then (or without a
/// closing time).
pub(crate) fn closed_at(r: &Times<'_>, as_of: DateTime<Utc>) -> bool {
    r.status.is_closed() && r.closed_at.is_none_or(|c| c <= as_of)
}

/// A report's deadline and its verdict, without its times in business days.
pub(crate) struct Verdict {
    /// Closed at the as-of time.
    pub closed: bool,
    /// Local date of its deadline (the end of that day), from the source or the rules.
    pub due: Option<NaiveDate>,
    /// Answered within its deadline (closed reports with a closing time).
    pub on_time: Option<bool>,
}

/// [`Fact::closed`], [`Fact::due`] and [`Fact::on_time`] alone, as [`fact`] finds them.
pub(crate) fn verdict(r: &Times<'_>, tz: Tz, as_of: DateTime<Utc>, cfg: &IndexConfig) -> Verdict {
    verdict_of(r, tz, local(r.created_at, tz), closed_at(r, as_of), cfg)
}

/// [`verdict`] of a report created at local time `created`, `closed` or not.
fn verdict_of(
    r: &Times<'_>,
    tz: Tz,
    created: NaiveDateTime,
    closed: bool,
    cfg: &IndexConfig,
) -> Verdict {
    let rule = cfg.rule(r.category);
    // The source's own deadline wins (Open311 expected_datetime, Boston TARGET_DT); then the
    // category's rule, then the default (unless the rules say there is none).
    let due = match r.deadline_at {
        Some(d) => Some(local(d, tz).date()),
        None if cfg.assesses(r.category) => Some(cfg.calendar.add_days(created.date(), rule.days)),
        None => None,
    };
    // A report closed (seconds) before it was created was still answered: it keeps its
    // verdict, only its times are left out.
    let answered = r.closed_at.filter(|_| closed);
    let on_time = answered.zip(due).map(|(c, due)| match r.deadline_at {
        Some(d) => c <= d,
        None => local(c, tz).date() <= due,
    });
    Verdict {
        closed,
        due,
        on_time,
    }
}
