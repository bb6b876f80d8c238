"""Times GeoPandas and SedonaDB on the points and parcels benches/compare/geocode.sh prepared,
then checks predio's assignments against PostGIS's, GeoPandas's and SedonaDB's and prints the
medians and ratios.

usage: geocode_check.py WORK RUNS NAME EPSG

Exits non-zero on any difference:
- inside: predio says inside exactly when ST_Contains (PostGIS on the parcels as they are when
  it finished, and on the subdivided ones), sjoin "within" and SedonaDB's ST_Contains join find
  a parcel, and its parcel is one of those found (overlapping parcels: predio takes the first);
- nearest: for points in no parcel, predio's nearest parcel within 25 m is PostGIS's (nearest
  on geography), or one at the same distance within 0.5 m; predio's distance agrees within
  0.5 m; a point one finds within 25 m and the other not lies within 0.5 m of the limit.
"""

import json
import os
import statistics
import sys
import time

import geopandas as gpd
import pandas as pd
import sedonadb

work, runs, name, epsg = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
med = statistics.median
parcels = gpd.read_file(f"{work}/parcels.fgb")[["parcel_id", "geometry"]]
pts = pd.read_csv(f"{work}/points.csv", dtype={"id": "int64"})
points = gpd.GeoDataFrame(
    pts[["id"]], geometry=gpd.points_from_xy(pts.lon, pts.lat), crs="EPSG:4326"
)

# GeoPandas: sjoin within, then sjoin_nearest in the metric CRS for the rest.
gp_inside_s, gp_total_s = [], []
for run in range(runs + 1):  # the first, a warm-up, is dropped
    t0 = time.perf_counter()
    inside = gpd.sjoin(points, parcels, predicate="within", how="inner")
    t1 = time.perf_counter()
    rest = points[~points.id.isin(inside.id)].to_crs(epsg)
    near = gpd.sjoin_nearest(
        rest, parcels.to_crs(epsg), max_distance=25, distance_col="d", how="inner"
    )
    t2 = time.perf_counter()
    if run:
        gp_inside_s.append(t1 - t0)
        gp_total_s.append(t2 - t0)

# SedonaDB: the inside join alone, one partition, a prepared build side (the parcels).
sd = sedonadb.connect()
sd.sql("SET datafusion.execution.target_partitions = 1").execute()
sd.sql("SET sedona.spatial_join.execution_mode = 'prepare_build'").execute()
sd.create_data_frame(parcels).to_memtable().to_view("parcels")
sd.create_data_frame(points).to_memtable().to_view("pts")
sd_inside_s = []
for run in range(runs + 1):
    t0 = time.perf_counter()
    sd_inside = sd.sql(
        "SELECT p.id, c.parcel_id FROM pts p JOIN parcels c ON ST_Contains(c.geometry, p.geometry)"
    ).to_pandas()
    if run:
        sd_inside_s.append(time.perf_counter() - t0)

predio = pd.read_csv(
    f"{work}/predio.csv", dtype={"id": "int64", "parcel_id": "string"}
).set_index("id")
predio_s = [float(x) for x in open(f"{work}/predio-seconds.txt").read().split()]


def postgis(suffix):
    """PostGIS's runs (ms) and results on `parcels{suffix}`: None when it did not finish."""
    lines = [l.split() for l in open(f"{work}/postgis{suffix.replace('_', '-')}-ms.txt") if l.strip()]
    path = f"{work}/pg_inside_parcels{suffix}.csv"
    if not lines or ["timeout"] in lines or not os.path.exists(path):
        return None
    inside = pd.read_csv(path, dtype={"parcel_id": "string"})
    near = pd.read_csv(f"{work}/pg_nearest_parcels{suffix}.csv", dtype={"parcel_id": "string"})
    return (
        [float(x[0]) / 1000 for x in lines],
        [float(x[1]) / 1000 for x in lines],
        inside,
        near.drop_duplicates("id").set_index("id"),
    )


pg_plain, pg_sub = postgis(""), postgis("_sub")
failures = []
is_inside = predio.match == "inside"
predio_inside = set(predio.index[is_inside])
sets = {
    "GeoPandas": inside.groupby("id").parcel_id.apply(set),
    "SedonaDB": sd_inside.groupby("id").parcel_id.apply(set),
}
for label, pg in [("PostGIS", pg_plain), ("PostGIS subdivided", pg_sub)]:
    if pg:
        sets[label] = pg[2].groupby("id").parcel_id.apply(set)
for label, s in sets.items():
    if set(s.index) != predio_inside:
        failures.append(
            f"inside: predio {len(predio_inside)} points, {label} {len(s)}; differing ids e.g. "
            f"{sorted(set(s.index) ^ predio_inside)[:5]}"
        )
    wrong = [i for i, ps in s.items() if i in predio.index and predio.parcel_id[i] not in ps]
    if wrong:
        failures.append(f"inside: {len(wrong)} points in another parcel than {label}'s, e.g. {wrong[:5]}")

p_near = predio[predio.match == "nearest"]
pg_near = (pg_plain or pg_sub)[3]
for i, r in p_near.iterrows():
    if i not in pg_near.index:
        if r.distance_m < 24.5:
            failures.append(f"nearest: point {i}: predio {r.parcel_id} at {r.distance_m:.2f} m, PostGIS none")
        continue
    q = pg_near.loc[i]
    if abs(q.d - r.distance_m) >= 0.5:
        failures.append(
            f"nearest: point {i}: predio {r.parcel_id} at {r.distance_m:.2f} m, PostGIS {q.parcel_id} at {q.d:.2f} m"
        )
for i in pg_near.index.difference(p_near.index):
    if pg_near.d[i] < 24.5:
        failures.append(f"nearest: point {i}: PostGIS {pg_near.parcel_id[i]} at {pg_near.d[i]:.2f} m, predio {predio.match[i]}")
same = (p_near.parcel_id.reindex(pg_near.index) == pg_near.parcel_id).sum()

n, p = len(points), med(predio_s)
print(f"{name}: {n:,} points x {len(parcels):,} parcels, one core each, medians of {runs} runs")
print(f"  predio geocode (inside + nearest + H3 + sector): {p:.3f} s  ({n / p / 1e6:.2f} M points/s)")
print(f"  SedonaDB prepared ST_Contains join alone: {med(sd_inside_s):.3f} s -> predio's whole geocode is {med(sd_inside_s) / p:.1f}x faster than this step alone")
print(f"  GeoPandas sjoin within alone:   {med(gp_inside_s):.3f} s -> {med(gp_inside_s) / p:.1f}x")
print(f"  GeoPandas within + nearest:     {med(gp_total_s):.3f} s -> predio {med(gp_total_s) / p:.1f}x")
for label, pg, txt in [("PostGIS", pg_plain, "postgis-ms.txt"), ("PostGIS subdivided", pg_sub, "postgis-sub-ms.txt")]:
    if pg:
        print(f"  {label} contains + nearest: {med(pg[1]):.3f} s -> predio {med(pg[1]) / p:.1f}x "
              f"(ST_Contains join alone {med(pg[0]):.3f} s)")
    else:
        timeout = int(os.environ.get("PG_TIMEOUT", "900"))
        print(f"  {label}: did not finish within the statement timeout of {timeout} s -> predio more than {timeout / p:.0f}x")
print(
    f"  agreement: inside {is_inside.sum():,} ("
    + ", ".join(f"{k} {len(v):,}" for k, v in sets.items())
    + f"); nearest {len(p_near):,} (PostGIS {len(pg_near):,}, same parcel {same:,}, the rest ties within 0.5 m)"
)
whole = {r["command"]: r["median"] for r in json.load(open(f"{work}/whole.json"))["results"]}
print(f"  whole commands (hyperfine, a warm-up, medians of {runs}): predio {whole['predio']:.3f} s, "
      f"PostGIS subdivided {whole['postgis']:.3f} s ({whole['postgis'] / whole['predio']:.1f}x), "
      f"GeoPandas {whole['geopandas']:.3f} s ({whole['geopandas'] / whole['predio']:.1f}x)")
if failures:
    print(f"{len(failures)} DIFFERENCES:")
    for f in failures[:20]:
        print("  " + f)
    sys.exit(1)
print("  no difference")
