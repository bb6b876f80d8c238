"""Independent check of predio's per-report facts, in pandas + numpy (no code shared with predio).

For every report exported by `predio export reports --format csv`, computes what predio's
per-report table (`predio export indices --level report`) must hold, from the deadline rules
given as plain data and numpy's business-day calendar (`np.busday_offset`, `np.busday_count`):

- closed, due_date (the source's deadline's local day, else the N-th business day after the
  local day of receipt), deadline_from (source | rule), on_time, stage (on_time, warning, alert,
  overdue), age_bd, past_due_bd, resolution_h, resolution_bd (the part of the interval on
  business days, on the local wall clock, in days), ack_h;
- per sector (every report created by the as-of time): the open reports by stage, the overdue
  ones by business days past due (0-5, 6-10, 11-20, over 20), the reports with a history of
  their own and the reopened ones among them.

Each report is read in its own source time zone (`source_tz`); the history's length comes from
the catalog's `report_history.parquet` (the data, not predio's computation).

usage: facts_check.py REPORTS.csv HISTORY.parquet AS_OF_RFC3339 RULES.json
RULES.json: {"default": [10, 6, 8], "categories": {"Bache": [15, null, null]},
             "holidays": ["2025-04-17"]}   (days, warning_days, alert_days; null: 60 % / 80 %)
"""

import json
import math
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

CLOSED = {"resolved", "rejected", "duplicate"}
DAY_S = 86400.0


def rule(rules, category):
    days, warning, alert = rules["categories"].get(category, rules["default"])
    # Rust's f64::round: halves away from zero
    warning = warning if warning is not None else int(math.floor(days * 0.6 + 0.5))
    alert = alert if alert is not None else int(math.floor(days * 0.8 + 0.5))
    return days, warning, alert


def local(t, tz):
    """The local wall-clock time of an instant, without its zone."""
    return t.tz_convert(tz).tz_localize(None)


def main():
    path, history_path, as_of, rules_path = sys.argv[1:5]
    rules = json.load(open(rules_path, encoding="utf-8"))
    holidays = np.array(rules["holidays"], dtype="datetime64[D]")
    as_of = pd.Timestamp(as_of)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for c in ("created_at", "acknowledged_at", "closed_at", "reopened_at", "deadline_at"):
        df[c] = pd.to_datetime(df[c].replace("", None), utc=True, format="ISO8601")
    df = df[df["created_at"] <= as_of].copy()
    history = pq.read_table(history_path).to_pandas()
    changes = history.groupby("report_id").size()

    def busday(d):
        return np.datetime64(d, "D")

    def is_business(d):
        return bool(np.is_busday(busday(d), holidays=holidays))

    def between(a, b):
        """Business days d with a < d <= b (0 when b <= a)."""
        if b <= a:
            return 0
        return int(np.busday_count(busday(a) + 1, busday(b) + 1, holidays=holidays))

    facts = {}
    for r in df.itertuples(index=False):
        tz = r.source_tz
        created = local(r.created_at, tz)
        as_of_day = local(as_of, tz).date()
        has_close = pd.notna(r.closed_at)
        closed = r.status in CLOSED and (not has_close or r.closed_at <= as_of)
        n_changes = int(changes.get(r.id, 0))
        has_history = (
            (pd.notna(r.acknowledged_at) and (not has_close or r.acknowledged_at != r.closed_at))
            or pd.notna(r.reopened_at)
            or n_changes > 1 + int(has_close)
        )
        ack = r.acknowledged_at
        ack_h = (
            (ack - r.created_at).total_seconds() / 3600.0
            if has_history and pd.notna(ack) and ack <= as_of and ack >= r.created_at
            else None
        )
        reopened = (pd.notna(r.reopened_at) and r.reopened_at <= as_of) if has_history else None
        days, warning, alert = rule(rules, r.category or None)
        if pd.notna(r.deadline_at):
            due, deadline_from = local(r.deadline_at, tz).date(), "source"
        else:
            # numpy rolls a day that is not a business day back to the one before, then counts
            due = np.busday_offset(
                busday(created.date()), days, roll="backward", holidays=holidays
            ).astype(object)
            deadline_from = "rule"
        on_time = None
        if closed and has_close:
            if pd.notna(r.deadline_at):
                on_time = bool(r.closed_at <= r.deadline_at)
            else:
                on_time = bool(local(r.closed_at, tz).date() <= due)
        stage = age_bd = past_due = None
        if not closed:
            age_bd = between(created.date(), as_of_day)
            if pd.notna(r.deadline_at):
                overdue = as_of > r.deadline_at
            else:
                overdue = as_of_day > due
            if overdue:
                stage, past_due = "overdue", between(due, as_of_day)
            elif age_bd >= alert:
                stage = "alert"
            elif age_bd >= warning:
                stage = "warning"
            else:
                stage = "on_time"
        res_h = res_bd = None
        if closed and has_close and r.closed_at >= r.created_at:
            res_h = (r.closed_at - r.created_at).total_seconds() / 3600.0
            end = local(r.closed_at, tz)
            d0, d1 = created.date(), end.date()
            if d0 == d1:
                res_bd = (end - created).total_seconds() / DAY_S if is_business(d0) else 0.0
            else:
                first = (
                    (pd.Timestamp(d0) + pd.Timedelta(days=1) - created).total_seconds() / DAY_S
                    if is_business(d0)
                    else 0.0
                )
                last = (end - pd.Timestamp(d1)).total_seconds() / DAY_S if is_business(d1) else 0.0
                # whole business days strictly between
                whole = int(np.busday_count(busday(d0) + 1, busday(d1), holidays=holidays))
                res_bd = first + whole + last
        facts[r.id] = {
            "sector_id": r.sector_id,
            "closed": closed,
            "due_date": str(due),
            "deadline_from": deadline_from,
            "on_time": on_time,
            "stage": stage,
            "age_bd": age_bd,
            "past_due_bd": past_due,
            "resolution_h": res_h,
            "resolution_bd": res_bd,
            "ack_h": ack_h,
            "reopened": reopened,
        }

    sectors = {}
    for f in facts.values():
        s = sectors.setdefault(
            f["sector_id"] or "<none>",
            {
                "open_on_time": 0,
                "open_warning": 0,
                "open_alert": 0,
                "overdue": 0,
                "overdue_0_5": 0,
                "overdue_6_10": 0,
                "overdue_11_20": 0,
                "overdue_over_20": 0,
                "with_history": 0,
                "reopened": 0,
            },
        )
        if f["stage"] is not None:
            s["overdue" if f["stage"] == "overdue" else "open_" + f["stage"]] += 1
        if f["past_due_bd"] is not None:
            p = f["past_due_bd"]
            bucket = "0_5" if p <= 5 else "6_10" if p <= 10 else "11_20" if p <= 20 else "over_20"
            s["overdue_" + bucket] += 1
        if f["reopened"] is not None:
            s["with_history"] += 1
            s["reopened"] += int(f["reopened"])
    json.dump({"reports": facts, "sectors": sectors}, sys.stdout)


if __name__ == "__main__":
    main()
