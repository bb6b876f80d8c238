"""Independent check of `predio compute`, in pandas + numpy (a second engine).

Reads the reports predio exported (`predio export reports --format csv`), applies the deadline
rules with numpy's own business-day calendar (`np.busday_offset`), and prints, per window and
sector, the counts, open backlog, median resolution hours and deadline compliance as JSON.

usage: indices_check.py REPORTS.csv AS_OF_RFC3339 RULES.json
RULES.json: {"default_days": 10, "categories": {"Bache": 15}, "holidays": ["2025-04-17"],
             "windows": {"90d": 90, "all": null}}
"""

import json
import sys

import numpy as np
import pandas as pd

CLOSED = {"resolved", "rejected", "duplicate"}


def main():
    path, as_of, rules_path = sys.argv[1:4]
    rules = json.load(open(rules_path, encoding="utf-8"))
    as_of = pd.Timestamp(as_of)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for c in ("created_at", "closed_at", "deadline_at"):
        df[c] = pd.to_datetime(df[c].replace("", None), utc=True, format="ISO8601")
    holidays = np.array(rules["holidays"], dtype="datetime64[D]")

    df = df[df["created_at"] <= as_of].copy()
    is_closed = df["status"].isin(CLOSED) & (df["closed_at"].isna() | (df["closed_at"] <= as_of))
    df["open"] = ~is_closed
    ok_times = is_closed & df["closed_at"].notna() & (df["closed_at"] >= df["created_at"])
    df["res_h"] = np.where(
        ok_times, (df["closed_at"] - df["created_at"]).dt.total_seconds() / 3600.0, np.nan
    )

    # Deadlines: the source's own, else N business days after the local day of receipt,
    # counted by numpy (a day that is not a business day rolls back to the one before).
    local_created = [
        t.tz_convert(tz).date() for t, tz in zip(df["created_at"], df["source_tz"])
    ]
    days = df["category"].map(lambda c: rules["categories"].get(c, rules["default_days"]))
    due = np.busday_offset(
        np.array(local_created, dtype="datetime64[D]"),
        days.to_numpy(dtype=np.int64),
        roll="backward",
        holidays=holidays,
    )
    answered = is_closed & df["closed_at"].notna()
    local_closed = [
        (t.tz_convert(tz).date() if pd.notna(t) else None)
        for t, tz in zip(df["closed_at"], df["source_tz"])
    ]
    on_time = []
    for i, (a, lc, d, src, closed) in enumerate(
        zip(answered, local_closed, due, df["deadline_at"], df["closed_at"])
    ):
        if not a:
            on_time.append(np.nan)
        elif pd.notna(src):
            on_time.append(float(closed <= src))
        else:
            on_time.append(float(np.datetime64(lc, "D") <= d))
    df["on_time"] = on_time
    df["sector_id"] = df["sector_id"].replace("", "<none>")

    out = {}
    for label, length in rules["windows"].items():
        w = df
        if length is not None:
            w = df[df["created_at"] > as_of - pd.Timedelta(days=length)]
        g = w.groupby("sector_id")
        table = pd.DataFrame(
            {
                "received": g.size(),
                "open": g["open"].sum(),
                "resolution_median_h": g["res_h"].median(),
                "answered": g["on_time"].count(),
                "answered_on_time": g["on_time"].sum(),
            }
        )
        out[label] = {
            sector: {
                k: (None if pd.isna(v) else (float(v) if k == "resolution_median_h" else int(v)))
                for k, v in row.items()
            }
            for sector, row in table.iterrows()
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
