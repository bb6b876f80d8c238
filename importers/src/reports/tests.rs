//! The normaliser's unit tests: statuses, times, histories.
use super::*;

fn times(tz: Option<Tz>, f: &str) -> Times {
    Times {
        tz,
        formats: vec![f.to_owned()],
    }
}

#[test]
fn us_dates_with_am_pm_in_new_york_become_utc() {
    let t = times(Some(chrono_tz::America::New_York), "%m/%d/%Y %I:%M:%S %p");
    let x = t.parse("01/05/2015 12:40:41 PM").expect("parses");
    assert_eq!(x.to_rfc3339(), "2015-01-05T17:40:41+00:00");
    // Summer time: UTC-4.
    let x = t.parse("07/05/2015 12:00:00 AM").expect("parses");
    assert_eq!(x.to_rfc3339(), "2015-07-05T04:00:00+00:00");
    // An ISO date is that local day's midnight, without a format for it.
    let x = t.parse("2015-07-05").expect("an ISO date");
    assert_eq!(x.to_rfc3339(), "2015-07-05T04:00:00+00:00");
    assert!(t.parse("05.07.2015").is_err());
    // A W3C time with its offset needs no zone.
    let x = t.parse("2014-07-12T10:58:43-05:00").expect("parses");
    assert_eq!(x.to_rfc3339(), "2014-07-12T15:58:43+00:00");
}

#[test]
fn a_local_time_without_a_zone_is_refused_with_the_remedy() {
    let t = times(None, "%Y-%m-%d %H:%M:%S%.f");
    let e = t.parse("2012-05-22 17:14:32.637").expect_err("no zone");
    assert!(e.contains(NO_TIME_ZONE), "{e}");
    let t = times(
        Some(chrono_tz::America::Los_Angeles),
        "%Y-%m-%d %H:%M:%S%.f",
    );
    let x = t.parse("2012-05-22 17:14:32.637").expect("parses");
    assert_eq!(x.to_rfc3339(), "2012-05-23T00:14:32.637+00:00");
}

#[test]
fn iso_times_and_dates_need_no_format_list() {
    let t = Times {
        tz: Some(chrono_tz::America::Costa_Rica),
        formats: vec![],
    };
    for (text, utc) in [
        ("2025-03-01T10:00:00Z", "2025-03-01T10:00:00+00:00"),
        ("2025-03-01T10:00:00-06:00", "2025-03-01T16:00:00+00:00"),
        ("2025-03-01T10:00:00+0100", "2025-03-01T09:00:00+00:00"),
        ("2025-03-01T10:00:00.250", "2025-03-01T16:00:00.250+00:00"),
        ("2025-03-01 10:00:00", "2025-03-01T16:00:00+00:00"),
        ("2025-03-01T10:00", "2025-03-01T16:00:00+00:00"),
        ("2025-03-01 10:00", "2025-03-01T16:00:00+00:00"),
        ("2025-03-01", "2025-03-01T06:00:00+00:00"),
    ] {
        let x = t.parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(x.to_rfc3339(), utc, "{text}");
    }
    // A local time without the source's zone is refused, saying so.
    let no_zone = Times {
        tz: None,
        formats: vec![],
    };
    let e = no_zone.parse("2025-03-01 10:00").expect_err("no zone");
    assert!(e.contains(NO_TIME_ZONE), "{e}");
    assert!(no_zone.parse("2025-03-01T10:00:00Z").is_ok());
}

#[test]
fn status_values_carry_their_type() {
    assert_eq!(
        parse_status("resolved:closed_not_fixed"),
        Ok((Status::Resolved, StatusType::ClosedNotFixed))
    );
    assert_eq!(
        parse_status("rejected"),
        Ok((Status::Rejected, StatusType::ClosedNotFixed))
    );
    assert!(parse_status("fixed").is_err());
}

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, h, 0, 0)
        .single()
        .expect("valid")
}

#[test]
fn history_gives_acknowledged_reopened_and_closed_times() {
    let change = |h, status, label: &str| StatusChange {
        at: at(h),
        status,
        label: label.into(),
    };
    let mut r = Report {
        status_type: StatusType::ClosedFixed,
        // Out of order on purpose.
        history: vec![
            change(9, Status::Resolved, "fixed"),
            change(3, Status::InProgress, "investigating"),
            change(5, Status::Resolved, "fixed"),
            change(7, Status::Open, "confirmed"),
        ],
        ..Report::new("1", "test", Status::Resolved, "fixed", at(1))
    };
    complete_history(&mut r);
    assert_eq!(r.acknowledged_at, Some(at(3)));
    assert_eq!(r.reopened_at, Some(at(7)));
    assert_eq!(r.closed_at, Some(at(9)));
    let labels: Vec<&str> = r.history.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(
        labels,
        ["received", "investigating", "fixed", "confirmed", "fixed"]
    );
}
