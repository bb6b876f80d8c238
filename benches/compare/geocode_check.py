"""Times GeoPandas on the points and parcels benches/compare/geocode.sh prepared, then checks
predio's assignments against PostGIS's and GeoPandas's and prints the medians and ratios.

Exits non-zero on any difference:
- inside: predio says inside exactly when ST_Contains (and sjoin "within") finds a parcel, and
  its parcel is one of those found (overlapping parcels: predio takes the first);
- nearest: for points in no parcel, predio's nearest parcel within 25 m is PostGIS's (nearest
  on geography), or one at the same distance within 0.5 m; predio's distance agrees within
  0.5 m; a point one finds within 25 m and the other not lies within 0.5 m of the limit.
"""

import statistics
import sys
import json
import time

import geopandas as gpd
import pandas as pd

work, runs = sys.argv[1], int(sys.argv[2])
parcels = gpd.read_file(f"{work}/parcels.fgb")[["parcel_id", "geometry"]]
pts = pd.read_csv(f"{work}/points.csv", dtype={"id": "int64"})
points = gpd.GeoDataFrame(
    pts[["id"]], geometry=gpd.points_from_xy(pts.lon, pts.lat), crs="EPSG:4326"
)

gp_inside_s, gp_total_s = [], []
for run in range(runs + 1):  # the first, a warm-up, is dropped
    t0 = time.perf_counter()
    inside = gpd.sjoin(points, parcels, predicate="within", how="inner")
    t1 = time.perf_counter()
    rest = points[~points.id.isin(inside.id)].to_crs(5186)
    near = gpd.sjoin_nearest(
        rest, parcels.to_crs(5186), max_distance=25, distance_col="d", how="inner"
    )
    t2 = time.perf_counter()
    if run:
        gp_inside_s.append(t1 - t0)
        gp_total_s.append(t2 - t0)

predio = pd.read_csv(
    f"{work}/predio.csv", dtype={"id": "int64", "parcel_id": "string"}
).set_index("id")
pg_inside = pd.read_csv(f"{work}/pg_inside.csv", dtype={"parcel_id": "string"})
pg_near = pd.read_csv(f"{work}/pg_nearest.csv", dtype={"parcel_id": "string"}).set_index("id")
predio_s = [float(x) for x in open(f"{work}/predio-seconds.txt").read().split()]
pg = [list(map(float, line.split())) for line in open(f"{work}/postgis-ms.txt") if line.strip()]
pg_inside_s = [x[0] / 1000 for x in pg]
pg_total_s = [x[1] / 1000 for x in pg]

failures = []
pg_sets = pg_inside.groupby("id").parcel_id.apply(set)
gp_sets = inside.groupby("id").parcel_id.apply(set)
is_inside = predio.match == "inside"
if set(pg_sets.index) != set(predio.index[is_inside]):
    failures.append(
        f"inside: predio {is_inside.sum()} points, PostGIS {len(pg_sets)}; differing ids e.g. "
        f"{sorted(set(pg_sets.index) ^ set(predio.index[is_inside]))[:5]}"
    )
if set(gp_sets.index) != set(pg_sets.index):
    failures.append(f"inside: GeoPandas {len(gp_sets)} points, PostGIS {len(pg_sets)}")
wrong = [i for i, s in pg_sets.items() if i in predio.index and predio.parcel_id[i] not in s]
if wrong:
    failures.append(f"inside: {len(wrong)} points in another parcel than PostGIS's, e.g. {wrong[:5]}")

p_near = predio[predio.match == "nearest"]
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
missing = pg_near.index.difference(p_near.index)
for i in missing:
    if pg_near.d[i] < 24.5:
        failures.append(f"nearest: point {i}: PostGIS {pg_near.parcel_id[i]} at {pg_near.d[i]:.2f} m, predio {predio.match[i]}")
same = (p_near.parcel_id.reindex(pg_near.index) == pg_near.parcel_id).sum()

med = statistics.median
n = len(points)
print(f"{n:,} points x {len(parcels):,} Seoul parcels, one core each, medians of {runs} runs")
print(f"  predio geocode (inside + nearest + H3 + sector): {med(predio_s):.3f} s  ({n / med(predio_s):,.0f} points/s)")
print(f"  GeoPandas sjoin within:        {med(gp_inside_s):.3f} s   -> predio is {med(gp_inside_s) / med(predio_s):.1f}x faster than this step alone")
print(f"  GeoPandas within + nearest:    {med(gp_total_s):.3f} s   -> predio {med(gp_total_s) / med(predio_s):.1f}x")
print(f"  PostGIS ST_Contains join:      {med(pg_inside_s):.3f} s   -> predio is {med(pg_inside_s) / med(predio_s):.1f}x faster than this step alone")
print(f"  PostGIS contains + nearest:    {med(pg_total_s):.3f} s   -> predio {med(pg_total_s) / med(predio_s):.1f}x")
print(
    f"  agreement: inside {is_inside.sum():,} (PostGIS {len(pg_sets):,}, GeoPandas {len(gp_sets):,}); "
    f"nearest {len(p_near):,} (PostGIS {len(pg_near):,}, same parcel {same:,}, the rest ties within 0.5 m)"
)
whole = {r["command"]: r["median"] for r in json.load(open(f"{work}/whole.json"))["results"]}
print(f"  whole commands (hyperfine, a warm-up, medians of {runs}): predio {whole['predio']:.3f} s, "
      f"PostGIS {whole['postgis']:.3f} s ({whole['postgis'] / whole['predio']:.1f}x), "
      f"GeoPandas {whole['geopandas']:.3f} s ({whole['geopandas'] / whole['predio']:.1f}x)")
if failures:
    print(f"{len(failures)} DIFFERENCES:")
    for f in failures[:20]:
        print("  " + f)
    sys.exit(1)
print("  no difference")
