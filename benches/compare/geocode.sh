#!/usr/bin/env bash
# Geocoder against its peers on the same points and parcels, in the same run, one core each, on
# two cadastres: Seoul (2,382 simple parcels) and Cambridge (the EPSG:2249 shapefile, 13,115
# parcels, four ROAD parcels of 4,248 to 18,604 vertices whose envelopes cover most of the city).
# Peers: GeoPandas (sjoin predicate="within", then sjoin_nearest within 25 m in the city's metric
# CRS: EPSG:5186 Seoul, EPSG:26986 Cambridge); PostGIS with one worker
# (max_parallel_workers_per_gather = 0), as a PostGIS user would write it (ST_Contains join, then
# the nearest parcel within 25 m on geography), on the parcels as they are and on the parcels cut
# by ST_Subdivide (128 vertices), as a PostGIS user would tune it for big polygons; and SedonaDB
# (pip sedonadb, Rust on DataFusion: its spatial join with a prepared build side, tg's ystripes,
# one partition), the inside join alone. Every assignment is cross-checked: the script fails on
# any `inside` that differs from ST_Contains / sjoin / SedonaDB, and on any `nearest` whose parcel
# differs from PostGIS's without an equal distance (a tie, within 0.5 m).
#
#   benches/compare/geocode.sh [POINTS] [RUNS]   (default 1000000 random points, 5 runs)
#
# Timed twice: whole commands with hyperfine (a warm-up run, medians of RUNS): `predio geocode`
# (read the catalog, geocode, write the version), `psql -f` of the two joins on the subdivided
# parcels (data loaded and indexed beforehand), and geocode_geopandas.py (read both files, both
# joins); and the joins alone (predio's logged geocoding time, psql's \timing, GeoPandas' and
# SedonaDB's steps). PostGIS on the parcels as they are runs PG_RUNS times (default RUNS) under a
# statement timeout of PG_TIMEOUT seconds (default 900): on Cambridge it may not finish, and the
# ratio is then printed as "more than".
#
# Parcels as predio stores them (its parcels.fgb, invalid parcels repaired), so that every engine
# joins the same polygons. Points: uniform in the parcels' bbox, seeded. Needs PostgreSQL +
# PostGIS and the bench venv (GeoPandas, SedonaDB: `make bench-deps`). CADASTRES=seoul or
# CADASTRES=cambridge runs one.
set -euo pipefail
cd "$(dirname "$0")/../.."
POINTS=${1:-1000000}
RUNS=${2:-5}
PG_RUNS=${PG_RUNS:-$RUNS}
PG_TIMEOUT=${PG_TIMEOUT:-900}
CADASTRES=${CADASTRES:-"seoul cambridge"}
PREDIO=${PREDIO:-target/debug/predio}
SHARED=${SHARED:-../shared/data}
VENV=${VENV:-target/bench-venv}
[ -d "$SHARED" ] || { echo "$SHARED not found (../shared/data beside the checkout)"; exit 1; }
[ -x "$VENV/bin/python" ] || { echo "no bench venv at $VENV: run make bench-deps"; exit 1; }
"$VENV/bin/python" -c "import geopandas, sedonadb, geoarrow.pyarrow" 2>/dev/null \
  || { echo "GeoPandas or SedonaDB missing from $VENV: run make bench-deps"; exit 1; }
command -v pg_ctlcluster >/dev/null || { echo "PostgreSQL missing: run make bench-deps"; exit 1; }
[ -x "$PREDIO" ] || cargo build -p predio
# imports run in predio-gdal, beside predio (README, "Command reference")
[ -x "$(dirname "$PREDIO")/predio-gdal" ] || {
  echo "predio-gdal is not beside $PREDIO: build both binaries (cargo build [--release] -p predio)"; exit 1; }
pg_ctlcluster 15 main start 2>/dev/null || true
PSQL="runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1"

# One cadastre: name, parcels file, metric EPSG, time zone.
run_cadastre() {
  local name=$1 src=$2 epsg=$3 tz=$4
  local work
  work=$(realpath -m "target/bench-data/geocode/$name")
  rm -rf "$work" && mkdir -p "$work" && chmod 777 "$work"  # psql runs as postgres
  echo "== $name: $src"

  # predio: import the parcels, then the points as reports; time `predio geocode` on one core.
  "$PREDIO" --data "$work/data" import parcels "$src" >/dev/null 2>&1
  cp "$(ls "$work"/data/versions/*/parcels.fgb | tail -1)" "$work/parcels.fgb"
  "$VENV/bin/python" - "$work/parcels.fgb" "$POINTS" "$work/points.csv" <<'PY'
import random, sys
import pyogrio
info = pyogrio.read_info(sys.argv[1])
w, s, e, n = info["total_bounds"]
rng = random.Random(20261123)
with open(sys.argv[3], "w") as f:
    f.write("id,lat,lon\n")
    for i in range(int(sys.argv[2])):
        f.write(f"{i},{rng.uniform(s, n):.8f},{rng.uniform(w, e):.8f}\n")
PY
  cat > "$work/points.toml" <<EOF
[source]
timezone = "$tz"
[columns]
id = "id"
lat = "lat"
lon = "lon"
[defaults]
status = "open"
created_at = "2025-01-01"
[status]
"open" = "open"
EOF
  "$PREDIO" --data "$work/data" import reports "$work/points.csv" --mapping "$work/points.toml" >/dev/null 2>&1
  : > "$work/predio-seconds.txt"
  for _ in $(seq 0 "$RUNS"); do  # the first, a warm-up, is dropped below
    NO_COLOR=1 RAYON_NUM_THREADS=1 RUST_LOG=predio=info "$PREDIO" --data "$work/data" geocode 2>&1 \
      | sed 's/\x1b\[[0-9;]*m//g' | sed -n 's/.*geocoded.* seconds=\([0-9.e-]*\).*/\1/p' >> "$work/predio-seconds.txt"
  done
  sed -i 1d "$work/predio-seconds.txt"
  "$PREDIO" --data "$work/data" export reports --format csv --out "$work/predio.csv" 2>/dev/null

  # PostGIS: a fresh database in the distribution's cluster; the parcels as they are, and cut
  # by ST_Subdivide.
  $PSQL -c "DROP DATABASE IF EXISTS predio_bench" -c "CREATE DATABASE predio_bench"
  $PSQL -d predio_bench -c "CREATE EXTENSION postgis"
  runuser -u postgres -- ogr2ogr -f PostgreSQL PG:dbname=predio_bench "$work/parcels.fgb" \
    -nln parcels -lco GEOMETRY_NAME=geom -lco FID=fid
  $PSQL -d predio_bench <<SQL
CREATE TABLE pts (id bigint PRIMARY KEY, lat float8, lon float8);
\copy pts FROM '$work/points.csv' CSV HEADER
ALTER TABLE pts ADD COLUMN geom geometry(Point, 4326);
UPDATE pts SET geom = ST_SetSRID(ST_MakePoint(lon, lat), 4326);
CREATE INDEX ON pts USING gist (geom);
CREATE INDEX ON parcels USING gist ((geom::geography));
CREATE TABLE parcels_sub AS SELECT fid, parcel_id, ST_Subdivide(geom, 128) AS geom FROM parcels;
CREATE INDEX ON parcels_sub USING gist (geom);
CREATE INDEX ON parcels_sub USING gist ((geom::geography));
VACUUM ANALYZE pts; VACUUM ANALYZE parcels; VACUUM ANALYZE parcels_sub;
SQL
  # The two joins, one worker, on either table: what pg_run times step by step and hyperfine as
  # a whole. On the cut parcels a point in two pieces of one parcel (on a cut) counts once.
  for table in parcels parcels_sub; do
    cat > "$work/pg_join_$table.sql" <<SQL
SET max_parallel_workers_per_gather = 0;
SET statement_timeout = '${PG_TIMEOUT}s';
DROP TABLE IF EXISTS pg_inside_$table; DROP TABLE IF EXISTS pg_nearest_$table;
CREATE TABLE pg_inside_$table AS
  SELECT DISTINCT p.id, c.parcel_id FROM pts p JOIN $table c ON ST_Contains(c.geom, p.geom);
CREATE TABLE pg_nearest_$table AS
  SELECT p.id, n.parcel_id, n.d FROM pts p
  CROSS JOIN LATERAL (
    SELECT c.parcel_id, ST_Distance(c.geom::geography, p.geom::geography) AS d FROM $table c
    WHERE ST_DWithin(c.geom::geography, p.geom::geography, 25)
    ORDER BY d, c.fid LIMIT 1) n
  WHERE NOT EXISTS (SELECT 1 FROM pg_inside_$table i WHERE i.id = p.id);
SQL
    chmod 644 "$work/pg_join_$table.sql"
  done
  pg_run() { # one timed run of the joins on table $1; prints "inside_ms total_ms", or "timeout"
    local out
    if out=$($PSQL -d predio_bench -c '\timing on' -f "$work/pg_join_$1.sql" 2>/dev/null); then
      echo "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -2 | paste -sd' ' | awk '{print $1, $1 + $2}'
    else
      echo timeout
    fi
  }
  : > "$work/postgis-sub-ms.txt"
  for _ in $(seq 0 "$RUNS"); do pg_run parcels_sub >> "$work/postgis-sub-ms.txt"; done
  sed -i 1d "$work/postgis-sub-ms.txt"  # the warm-up
  : > "$work/postgis-ms.txt"
  for _ in $(seq 1 "$PG_RUNS"); do
    pg_run parcels >> "$work/postgis-ms.txt"
    if grep -q timeout "$work/postgis-ms.txt"; then break; fi
  done

  # Whole commands, one core each, a warm-up run each, medians of RUNS.
  hyperfine --warmup 1 --runs "$RUNS" --export-json "$work/whole.json" \
    -n predio "RAYON_NUM_THREADS=1 $PREDIO --data $work/data geocode 2>/dev/null" \
    -n postgis "$PSQL -d predio_bench -f $work/pg_join_parcels_sub.sql" \
    -n geopandas "$VENV/bin/python benches/compare/geocode_geopandas.py $work $epsg" >&2
  for table in parcels parcels_sub; do
    $PSQL -d predio_bench -c "\copy (SELECT * FROM pg_inside_$table) TO '$work/pg_inside_$table.csv' CSV HEADER" \
      -c "\copy (SELECT * FROM pg_nearest_$table) TO '$work/pg_nearest_$table.csv' CSV HEADER" 2>/dev/null \
      || rm -f "$work/pg_inside_$table.csv" "$work/pg_nearest_$table.csv"
  done

  # GeoPandas and SedonaDB, timing and checking everything in one go.
  "$VENV/bin/python" benches/compare/geocode_check.py "$work" "$RUNS" "$name" "$epsg"
}

for c in $CADASTRES; do
  case $c in
    seoul) run_cadastre seoul "$SHARED/seoul-parcels/parcels.geojson" 5186 Asia/Seoul ;;
    cambridge) run_cadastre cambridge "$SHARED/cambridge-parcels/cambridge_parcels_FY2014_epsg2249.shp" 26986 America/New_York ;;
    *) echo "unknown cadastre $c (seoul, cambridge)"; exit 1 ;;
  esac
done
