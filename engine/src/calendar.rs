//! Business days: weekends (Saturday, Sunday) and a holiday calendar, counted on local dates.
//!
//! Legal deadlines are written in business days ("10 días hábiles"): the day a request is
//! received does not count, the clock starts on the next business day, and the request is on
//! time if it is answered by the end of the N-th business day after the day it was received. A
//! request received on a Saturday or a holiday is therefore due on the same day as one received
//! on the previous business day. Durations ("resolution time in business days") count only the
//! hours that fall on business days, on the local wall clock.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Weekday};

/// Seconds in a (wall-clock) day.
const DAY_S: f64 = 86_400.0;

/// A business-day calendar: Monday to Friday, less the holidays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    holidays: BTreeSet<NaiveDate>,
}

/// Weekdays (Monday to Friday) from 0001-01-01 (a Monday, day 1) up to and including `d`.
fn weekdays_upto(d: NaiveDate) -> i64 {
    let n = i64::from(d.num_days_from_ce());
    n.div_euclid(7) * 5 + n.rem_euclid(7).min(5)
}

fn is_weekday(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

impl Calendar {
    /// A calendar with these holidays (dates that fall on a weekend change nothing).
    pub fn new(holidays: impl IntoIterator<Item = NaiveDate>) -> Calendar {
        Calendar {
            holidays: holidays.into_iter().collect(),
        }
    }

    /// The holidays, in order.
    pub fn holidays(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.holidays.iter().copied()
    }

    /// Whether `d` is a business day.
    pub fn is_business_day(&self, d: NaiveDate) -> bool {
        is_weekday(d) && !self.holidays.contains(&d)
    }

    /// Business days `d` with `from < d <= to` (0 when `to <= from`).
    pub fn days_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        if to <= from {
            return 0;
        }
        let weekdays = weekdays_upto(to) - weekdays_upto(from);
        let holidays = self
            .holidays
            .range((
                std::ops::Bound::Excluded(from),
                std::ops::Bound::Included(to),
            ))
            .filter(|d| is_weekday(**d))
            .count();
        weekdays - holidays as i64
    }

    /// The `n`-th business day after `from` (`from` itself when `n` is 0).
    pub fn add_days(&self, from: NaiveDate, n: u32) -> NaiveDate {
        if n == 0 {
            return from;
        }
        // Jump over whole weeks, then step; holidays met on the way push the end further.
        let mut at = from;
        let mut left = i64::from(n);
        while left > 0 {
            let weeks = (left - 1) / 5;
            let mut d = at + chrono::Days::new(7 * weeks as u64);
            let mut counted = weeks * 5;
            while counted < left {
                d = d.succ_opt().unwrap_or(d);
                if is_weekday(d) {
                    counted += 1;
                }
            }
            let skipped = self
                .holidays
                .range((std::ops::Bound::Excluded(at), std::ops::Bound::Included(d)))
                .filter(|h| is_weekday(**h))
                .count() as i64;
            at = d;
            left = skipped;
        }
        at
    }

    /// Business days elapsed between two local wall-clock times, as a fraction: only the part
    /// of the interval that falls on business days counts (0 when `end <= start`).
    pub fn elapsed(&self, start: NaiveDateTime, end: NaiveDateTime) -> f64 {
        if end <= start {
            return 0.0;
        }
        let (d0, d1) = (start.date(), end.date());
        let secs = |a: NaiveDateTime, b: NaiveDateTime| (b - a).num_milliseconds() as f64 / 1e3;
        if d0 == d1 {
            return if self.is_business_day(d0) {
                secs(start, end) / DAY_S
            } else {
                0.0
            };
        }
        let first = if self.is_business_day(d0) {
            secs(
                start,
                d0.and_time(chrono::NaiveTime::MIN) + chrono::Days::new(1),
            ) / DAY_S
        } else {
            0.0
        };
        let last = if self.is_business_day(d1) {
            secs(d1.and_time(chrono::NaiveTime::MIN), end) / DAY_S
        } else {
            0.0
        };
        let whole = self.days_between(d0, d1) - i64::from(self.is_business_day(d1));
        first + whole as f64 + last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("datetime")
    }

    /// The same counts by walking day by day.
    fn walk(c: &Calendar, from: NaiveDate, to: NaiveDate) -> i64 {
        from.iter_days()
            .skip(1)
            .take_while(|x| *x <= to)
            .filter(|x| c.is_business_day(*x))
            .count() as i64
    }

    #[test]
    fn weekends_do_not_count() {
        let c = Calendar::default();
        // 2025-03-07 is a Friday.
        assert_eq!(c.days_between(d("2025-03-07"), d("2025-03-10")), 1);
        assert_eq!(c.days_between(d("2025-03-07"), d("2025-03-09")), 0);
        assert_eq!(c.days_between(d("2025-03-03"), d("2025-03-17")), 10);
        assert_eq!(c.add_days(d("2025-03-07"), 1), d("2025-03-10"));
        assert_eq!(c.add_days(d("2025-03-03"), 10), d("2025-03-17"));
        assert_eq!(c.add_days(d("2025-03-03"), 0), d("2025-03-03"));
    }

    #[test]
    fn holidays_push_deadlines() {
        // Costa Rica 2025: Jueves y Viernes Santo (17–18 April), Juan Santamaría (11 April).
        let c = Calendar::new([d("2025-04-11"), d("2025-04-17"), d("2025-04-18")]);
        // Received Wednesday 9 April: 10 business days skip 11, 17, 18 April and two weekends.
        assert_eq!(c.add_days(d("2025-04-09"), 10), d("2025-04-28"));
        assert_eq!(c.days_between(d("2025-04-09"), d("2025-04-28")), 10);
        assert_eq!(c.days_between(d("2025-04-16"), d("2025-04-21")), 1);
        // A holiday on a Saturday changes nothing.
        let sat = Calendar::new([d("2025-03-08")]);
        assert_eq!(sat.days_between(d("2025-03-07"), d("2025-03-10")), 1);
    }

    #[test]
    fn report_made_on_a_holiday_is_due_with_the_previous_business_day() {
        let c = Calendar::new([d("2025-04-17"), d("2025-04-18")]);
        // Received on Good Friday and on the Wednesday before: the same deadline.
        assert_eq!(c.add_days(d("2025-04-18"), 3), d("2025-04-23"));
        assert_eq!(c.add_days(d("2025-04-16"), 3), d("2025-04-23"));
        // And on the Saturday after.
        assert_eq!(c.add_days(d("2025-04-19"), 3), d("2025-04-23"));
    }

    #[test]
    fn counts_agree_with_a_day_by_day_walk() {
        let c = Calendar::new([
            d("2024-12-25"),
            d("2025-01-01"),
            d("2025-04-17"),
            d("2025-04-18"),
            d("2025-07-25"),
            d("2025-08-02"),
        ]);
        let start = d("2024-12-01");
        for a in 0..60u64 {
            for b in [0u64, 1, 2, 5, 9, 30, 200] {
                let from = start + chrono::Days::new(a * 3);
                let to = from + chrono::Days::new(b);
                assert_eq!(c.days_between(from, to), walk(&c, from, to), "{from}..{to}");
            }
            for n in 0..40u32 {
                let from = start + chrono::Days::new(a * 3);
                let due = c.add_days(from, n);
                assert_eq!(walk(&c, from, due), i64::from(n), "{from} + {n}");
                assert!(
                    n == 0 || c.is_business_day(due),
                    "{due} is not a business day"
                );
            }
        }
    }

    #[test]
    fn elapsed_counts_business_hours_only() {
        let c = Calendar::new([d("2025-04-18")]);
        // Friday 15:00 to Monday 09:00: 9 h on Friday, 9 h on Monday.
        let e = c.elapsed(dt("2025-03-07 15:00"), dt("2025-03-10 09:00"));
        assert!((e - 0.75).abs() < 1e-12, "{e}");
        // Same day.
        let e = c.elapsed(dt("2025-03-10 09:00"), dt("2025-03-10 21:00"));
        assert!((e - 0.5).abs() < 1e-12, "{e}");
        // Made on a holiday (Good Friday) and closed on Monday at 06:00.
        let e = c.elapsed(dt("2025-04-18 10:00"), dt("2025-04-21 06:00"));
        assert!((e - 0.25).abs() < 1e-12, "{e}");
        // Monday 00:00 to the next Monday 00:00: five whole days.
        let e = c.elapsed(dt("2025-03-10 00:00"), dt("2025-03-17 00:00"));
        assert!((e - 5.0).abs() < 1e-12, "{e}");
        assert_eq!(
            c.elapsed(dt("2025-03-10 00:00"), dt("2025-03-09 00:00")),
            0.0
        );
    }
}
