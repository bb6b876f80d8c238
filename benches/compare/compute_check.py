"""compute.sh's check: the nine tables of PostgreSQL against predio's indices and DuckDB's,
both ways, five aggregates each. Exits 1 on any difference.

usage: compute_check.py WORK VERSION_DIR H3_RES
"""

import json
import math
import statistics
import sys

import pandas as pd
import pyarrow.parquet as pq

work, version_dir, res = sys.argv[1], sys.argv[2], int(sys.argv[3])
LEVELS = {"parcel_id": ("indices-parcels.parquet", "parcel_id"),
          "sector_id": ("indices-sectors.parquet", "sector_id"),
          "h3": ("indices-h3.parquet", "cell")}
VALUES = ["received", "open", "resolved", "resolution_median_h", "resolution_p90_h"]
DIMS = {3: "all", 1: "category", 2: "department"}


def text(v):
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def number(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) or v == "" else float(v)


def peer(path):
    df = pd.read_csv(path, dtype={"k": str, "category": str, "department": str},
                     keep_default_na=False, na_values=[""])
    rows = {}
    for r in df.itertuples(index=False):
        dim = DIMS[int(r.dims)]
        value = "" if dim == "all" else text(getattr(r, dim))
        rows[(text(r.k), dim, value)] = [number(getattr(r, v)) for v in VALUES]
    return rows


def same(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x is None or y is None:
            if (x is None) != (y is None):
                return False
        elif i >= 3:
            if abs(x - y) * 3600 >= 1:  # medians and p90 within a second
                return False
        elif x != y:
            return False
    return True


bad = 0
tables = {}
for key, (file, column) in LEVELS.items():
    t = pq.read_table(f"{version_dir}/{file}").to_pandas()
    if key == "h3":
        t = t[t["res"] == res]
    tables[key] = (t, column)

for days in (30, 90, 365):
    for key in LEVELS:
        pg = peer(f"{work}/pg-{key}-{days}.csv")
        duck = peer(f"{work}/duckdb-{key}_{days}.csv")
        t, column = tables[key]
        t = t[t["window"] == f"{days}d"]
        mine = {}
        for r in t.itertuples(index=False):
            k = (text(getattr(r, column)), r.dimension, text(r.value))
            mine[k] = [number(getattr(r, v)) for v in VALUES]
        name = f"{key} {days}d"
        before = bad
        for other, rows in (("predio", mine), ("duckdb", duck)):
            missing = [k for k in pg if k not in rows]
            differ = [k for k in pg if k in rows and not same(pg[k], rows[k])]
            extra = [k for k, v in rows.items() if k not in pg and v[0] not in (0, None)]
            if missing or differ or extra:
                bad += 1
                print(f"{name}: {other} against PostgreSQL: {len(missing)} rows missing, "
                      f"{len(differ)} differ, {len(extra)} more; e.g. "
                      f"{(missing or differ or extra)[:3]}")
                for k in (differ or [])[:3]:
                    print("   ", k, "postgresql", pg[k], other, rows[k])
        if bad == before:
            print(f"{name}: {len(pg)} rows of PostgreSQL; predio's and DuckDB's equal, both ways")

res_json = json.load(open(f"{work}/times.json"))["results"]
med = {r["command"]: r["median"] for r in res_json}
runs = {r["command"]: len(r["times"]) for r in res_json}
print(f"medians of {runs['predio']} interleaved rounds after a warm-up, whole commands: "
      + ", ".join(f"{k} {v:.3f} s" for k, v in med.items()))
for peer_name in ("postgresql", "duckdb"):
    print(f"ratio {peer_name}/predio: {med[peer_name] / med['predio']:.2f}x")
sys.exit(1 if bad else 0)
