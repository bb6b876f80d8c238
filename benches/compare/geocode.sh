#!/usr/bin/env bash
# Geocoder against its peers on the same points and parcels, in the same run, one core each:
# GeoPandas (sjoin predicate="within", then sjoin_nearest within 25 m in EPSG:5186) and PostGIS
# (ST_Contains join, then the nearest parcel within 25 m on geography; one worker:
# max_parallel_workers_per_gather = 0). Every assignment is cross-checked: the script fails on
# any `inside` that differs from ST_Contains / sjoin, and on any `nearest` whose parcel differs
# from PostGIS's without an equal distance (a tie, within 0.5 m).
#
#   benches/compare/geocode.sh [POINTS] [RUNS]   (default 1000000 random points, 5 runs)
#
# Timed twice, one core each: whole commands with hyperfine (a warm-up run, medians of RUNS):
# `predio geocode` (read the catalog, geocode, write the version), `psql -f` of the two joins
# (data loaded and indexed beforehand), and geocode_geopandas.py (read both files, both joins);
# and the joins alone (predio's logged geocoding time, psql's \timing, GeoPandas' steps).
#
# Parcels: Seoul (../shared/data/seoul-parcels), as predio stores them (its parcels.fgb, the one
# invalid parcel repaired), so all three join the same polygons. Points: uniform in the parcels'
# bbox, seeded. Needs PostgreSQL + PostGIS and a Python venv with GeoPandas (`make bench-deps`).
set -euo pipefail
cd "$(dirname "$0")/../.."
POINTS=${1:-1000000}
RUNS=${2:-5}
PREDIO=${PREDIO:-target/debug/predio}
SEOUL=${SEOUL:-../shared/data/seoul-parcels/parcels.geojson}
VENV=${VENV:-target/bench-venv}
WORK=$(realpath -m target/bench-data/geocode)
[ -f "$SEOUL" ] || { echo "$SEOUL not found (../shared/data beside the checkout)"; exit 1; }
[ -x "$VENV/bin/python" ] || { echo "no GeoPandas venv at $VENV: run make bench-deps"; exit 1; }
command -v pg_ctlcluster >/dev/null || { echo "PostgreSQL missing: run make bench-deps"; exit 1; }
[ -x "$PREDIO" ] || cargo build -p predio
rm -rf "$WORK" && mkdir -p "$WORK" && chmod 777 "$WORK"  # psql runs as postgres

# predio: import the parcels, then the points as reports; time `predio geocode` on one core.
"$PREDIO" --data "$WORK/data" import parcels "$SEOUL" 2>/dev/null
PARCELS_FGB=$(ls "$WORK"/data/versions/*/parcels.fgb | tail -1)
cp "$PARCELS_FGB" "$WORK/parcels.fgb"
"$VENV/bin/python" - "$WORK/parcels.fgb" "$POINTS" "$WORK/points.csv" <<'PY'
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
cat > "$WORK/points.toml" <<'EOF'
[source]
timezone = "Asia/Seoul"
datetime_formats = ["%Y-%m-%d"]
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
"$PREDIO" --data "$WORK/data" import reports "$WORK/points.csv" --mapping "$WORK/points.toml" 2>/dev/null
: > "$WORK/predio-seconds.txt"
for _ in $(seq 0 "$RUNS"); do  # the first, a warm-up, is dropped below
  NO_COLOR=1 RAYON_NUM_THREADS=1 RUST_LOG=predio=info "$PREDIO" --data "$WORK/data" geocode 2>&1 \
    | sed 's/\x1b\[[0-9;]*m//g' | sed -n 's/.*geocoded.* seconds=\([0-9.e-]*\).*/\1/p' >> "$WORK/predio-seconds.txt"
done
sed -i 1d "$WORK/predio-seconds.txt"
"$PREDIO" --data "$WORK/data" export reports --format csv --out "$WORK/predio.csv" 2>/dev/null

# PostGIS: a fresh database in the distribution's cluster.
pg_ctlcluster 15 main start 2>/dev/null || true
PSQL="runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1"
$PSQL -c "DROP DATABASE IF EXISTS predio_bench" -c "CREATE DATABASE predio_bench"
$PSQL -d predio_bench -c "CREATE EXTENSION postgis"
runuser -u postgres -- ogr2ogr -f PostgreSQL PG:dbname=predio_bench "$WORK/parcels.fgb" \
  -nln parcels -lco GEOMETRY_NAME=geom -lco FID=fid
$PSQL -d predio_bench <<SQL
CREATE TABLE pts (id bigint PRIMARY KEY, lat float8, lon float8);
\copy pts FROM '$WORK/points.csv' CSV HEADER
ALTER TABLE pts ADD COLUMN geom geometry(Point, 4326);
UPDATE pts SET geom = ST_SetSRID(ST_MakePoint(lon, lat), 4326);
CREATE INDEX ON pts USING gist (geom);
CREATE INDEX ON parcels USING gist ((geom::geography));
VACUUM ANALYZE pts; VACUUM ANALYZE parcels;
SQL
# The two joins, one worker: what pg_run times step by step and hyperfine as a whole.
cat > "$WORK/pg_join.sql" <<'SQL'
SET max_parallel_workers_per_gather = 0;
DROP TABLE IF EXISTS pg_inside; DROP TABLE IF EXISTS pg_nearest;
CREATE TABLE pg_inside AS
  SELECT p.id, c.parcel_id FROM pts p JOIN parcels c ON ST_Contains(c.geom, p.geom);
CREATE TABLE pg_nearest AS
  SELECT p.id, n.parcel_id, n.d FROM pts p
  CROSS JOIN LATERAL (
    SELECT c.parcel_id, ST_Distance(c.geom::geography, p.geom::geography) AS d FROM parcels c
    WHERE ST_DWithin(c.geom::geography, p.geom::geography, 25)
    ORDER BY d, c.fid LIMIT 1) n
  WHERE NOT EXISTS (SELECT 1 FROM pg_inside i WHERE i.id = p.id);
SQL
chmod 644 "$WORK/pg_join.sql"
pg_run() { # one timed run of the joins; prints "inside_ms total_ms" (the file's last two steps)
  $PSQL -d predio_bench -c '\timing on' -f "$WORK/pg_join.sql" \
    | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -2 | paste -sd' ' | awk '{print $1, $1 + $2}'
}
: > "$WORK/postgis-ms.txt"
for _ in $(seq 0 "$RUNS"); do pg_run >> "$WORK/postgis-ms.txt"; done
sed -i 1d "$WORK/postgis-ms.txt"  # the warm-up

# Whole commands, one core each, a warm-up run each, medians of RUNS.
hyperfine --warmup 1 --runs "$RUNS" --export-json "$WORK/whole.json" \
  -n predio "RAYON_NUM_THREADS=1 $PREDIO --data $WORK/data geocode 2>/dev/null" \
  -n postgis "$PSQL -d predio_bench -f $WORK/pg_join.sql" \
  -n geopandas "$VENV/bin/python benches/compare/geocode_geopandas.py $WORK" >&2
$PSQL -d predio_bench -c "\copy pg_inside TO '$WORK/pg_inside.csv' CSV HEADER" \
  -c "\copy pg_nearest TO '$WORK/pg_nearest.csv' CSV HEADER"

# GeoPandas, timing and checking everything in one go.
"$VENV/bin/python" benches/compare/geocode_check.py "$WORK" "$RUNS"
