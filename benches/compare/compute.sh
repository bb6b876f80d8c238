#!/usr/bin/env bash
# `predio compute` against PostgreSQL 15 and DuckDB on the same geocoded reports, same run.
#
#   benches/compare/compute.sh [PARCELS] [REPORTS] [RUNS]   (default 500000 1000000 5)
#
# Environment:
#   CORES=1    (default) one core on each side: predio with RAYON_NUM_THREADS=1 and
#              POLARS_MAX_THREADS=1, PostgreSQL with max_parallel_workers_per_gather = 0 (one
#              process), DuckDB with threads = 1. CORES=all: every core on each side (predio's
#              defaults, PostgreSQL up to that many parallel workers, DuckDB's default).
#   PROFILE=release  (default) predio as shipped: the release profile (fat LTO, built here,
#              18–22 minutes the first time); PROFILE=dev: target/debug/predio, what the tests
#              and `make demo` run (`make bench-check` uses it).
#
# The sample town (PARCELS parcels, REPORTS reports over 2025) is generated and imported once
# into target/bench-data/compute (kept between runs); its reports are exported once and loaded
# into PostgreSQL and into a DuckDB file before any timing.
#
# Timed in interleaved rounds (`interleaved.py`: a warm-up run of each, then RUNS rounds of
# one run of each, the order rotated; medians), so that a slow spell of a shared machine falls
# on every engine alike; each a whole command, a process from start to end:
# - `predio compute`: read the catalog, compute every level (parcel, sector, H3 at 3
#   resolutions), window (30d, 90d, 365d), dimension (all, each category, each department) and
#   every index (27 of them: stages, overdue buckets, business-day times, trends, attention...),
#   write the new version (fsynced);
# - `psql -f aggregates.sql` and `python duckdb_compute.py`: the aggregates both can state in
#   SQL, nine tables (3 windows x parcel, sector, H3 cell at the reports' resolution), each with
#   GROUPING SETS over the dimensions: received, open at the as-of time, resolved, median and p90
#   resolution hours. The peers do a subset of predio's work: the ratios understate predio.
#
# Checked after the timing, and the script fails on any difference: all nine tables, both ways
# (every row of one side in the other), the five aggregates of every key and dimension value,
# predio against PostgreSQL and DuckDB against PostgreSQL (medians within a second).
# Needs PostgreSQL 15 and the bench venv with duckdb (`make bench-deps`).
set -euo pipefail
cd "$(dirname "$0")/../.."
PARCELS=${1:-500000}
REPORTS=${2:-1000000}
RUNS=${3:-5}
CORES=${CORES:-1}
PROFILE=${PROFILE:-release}
HERE=benches/compare
PY=${BENCH_PYTHON:-target/bench-venv/bin/python}
if [ -z "${PREDIO:-}" ]; then
  if [ "$PROFILE" = release ]; then
    cargo build --release -p predio
    PREDIO=target/release/predio
  else
    cargo build -p predio
    PREDIO=target/debug/predio
  fi
fi
WORK=$(realpath -m target/bench-data/compute)
# The end of 2025-12-31 on the catalog's clock: the sample town's reports are recorded in
# America/Costa_Rica (UTC-6, no daylight saving), so its windows' edges are local midnights and
# N local days are N x 24 hours, as the SQL's intervals count them. Both sides get the instant.
AS_OF=2026-01-01T06:00:00Z
command -v pg_ctlcluster >/dev/null || { echo "PostgreSQL missing: run make bench-deps"; exit 1; }
"$PY" -c "import duckdb, pyarrow, pandas" 2>/dev/null || { echo "duckdb missing: run make bench-deps"; exit 1; }
mkdir -p "$WORK" && chmod 777 "$WORK"  # psql runs as postgres
NPROC=$(nproc)
if [ "$CORES" = 1 ]; then
  PREDIO_ENV="RAYON_NUM_THREADS=1 POLARS_MAX_THREADS=1"
  PG_WORKERS=0
  DUCK_THREADS=1
else
  PREDIO_ENV=""
  PG_WORKERS=$NPROC
  DUCK_THREADS=$NPROC
fi

DATA="$WORK/data-$PARCELS-$REPORTS"
# The catalog is made again when an older predio wrote it (the layout is named beside it).
LAYOUT="keys+whole-row-groups"
if [ -f "$DATA/CURRENT" ] && [ "$(cat "$DATA/.bench-layout" 2>/dev/null)" != "$LAYOUT" ]; then
  rm -f "$DATA/CURRENT"
fi
if [ ! -f "$DATA/CURRENT" ]; then
  rm -rf "$DATA" "$WORK/town"
  "$PREDIO" sample --out "$WORK/town" --parcels "$PARCELS" --reports "$REPORTS" --seed 42 >/dev/null
  "$PREDIO" --data "$DATA" import sectors "$WORK/town/sectors.shp" --id-field codigo \
    --name-field nombre --population-field poblacion >/dev/null
  "$PREDIO" --data "$DATA" import parcels "$WORK/town/parcels.shp" --id-field finca >/dev/null
  "$PREDIO" --data "$DATA" import reports "$WORK/town/reports.csv" \
    --mapping "$WORK/town/reports-mapping.toml" >/dev/null
  echo "$LAYOUT" > "$DATA/.bench-layout"
fi
"$PREDIO" --data "$DATA" export reports --format csv --out "$WORK/reports.csv" 2>/dev/null
chmod 644 "$WORK/reports.csv"
# The reports' H3 resolution (the cell column), the one the peers group by.
RES=$("$PY" - "$WORK/reports.csv" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    if r["h3"]:
        print(int(r["h3"], 16) >> 52 & 0xF); break
PY
)

pg_ctlcluster 15 main start 2>/dev/null || true
PSQL="runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1"
$PSQL -c "DROP DATABASE IF EXISTS predio_compute" -c "CREATE DATABASE predio_compute"
$PSQL -d predio_compute <<SQL
CREATE TABLE reports (
  id text PRIMARY KEY, source text, category text, department text, channel text, status text,
  status_label text, status_type text, created_at timestamptz, acknowledged_at timestamptz,
  closed_at timestamptz, reopened_at timestamptz, deadline_at timestamptz, source_on_time boolean,
  source_tz text, source_area text, lon float8, lat float8, location text, parcel_id text,
  sector_id text, match text, distance_m float8, match_score float8, h3 text);
\copy reports FROM '$WORK/reports.csv' CSV HEADER
VACUUM ANALYZE reports;
SQL
rm -f "$WORK/duck.db" "$WORK/duck.db.wal"
"$PY" "$HERE/duckdb_compute.py" load "$WORK/duck.db" "$WORK/reports.csv"

# The shared aggregates: 3 windows x 3 levels, each with GROUPING SETS over the dimensions.
# One SQL text for both peers.
SQLF="$WORK/aggregates.sql"
{
  echo "DROP SCHEMA IF EXISTS out CASCADE; CREATE SCHEMA out;"
  for days in 30 90 365; do
    for key in parcel_id sector_id h3; do
      cat <<SQL
CREATE TABLE out.${key}_${days} AS
WITH r AS (
  SELECT $key AS k, category, department, status,
         NOT (status IN ('resolved', 'rejected', 'duplicate')
              AND (closed_at IS NULL OR closed_at <= TIMESTAMPTZ '$AS_OF')) AS open,
         CASE WHEN status IN ('resolved', 'rejected', 'duplicate')
                   AND closed_at <= TIMESTAMPTZ '$AS_OF' AND closed_at >= created_at
              THEN extract(epoch FROM closed_at - created_at) / 3600 END AS res_h
  FROM reports
  WHERE created_at > TIMESTAMPTZ '$AS_OF' - INTERVAL '$days days'
    AND created_at <= TIMESTAMPTZ '$AS_OF')
SELECT k, category, department, GROUPING(category, department) AS dims,
       count(*) AS received, count(*) FILTER (WHERE open) AS open,
       count(*) FILTER (WHERE NOT open AND status = 'resolved') AS resolved,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY res_h) AS resolution_median_h,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY res_h) AS resolution_p90_h
FROM r GROUP BY GROUPING SETS ((k), (k, category), (k, department));
SQL
    done
  done
} > "$SQLF"
chmod 644 "$SQLF"
PGOPTIONS_SET="PGOPTIONS='-c max_parallel_workers_per_gather=$PG_WORKERS'"

echo "cores: $CORES each side ($NPROC here); predio: $PREDIO; H3 resolution of the peers: $RES"
python3 "$HERE/interleaved.py" "$RUNS" "$WORK/times.json" \
  "predio=env $PREDIO_ENV $PREDIO --data $DATA compute --as-of $AS_OF 2>/dev/null" \
  "postgresql=runuser -u postgres -- env $PGOPTIONS_SET psql -X -q -v ON_ERROR_STOP=1 -d predio_compute -f $SQLF" \
  "duckdb=$PY $HERE/duckdb_compute.py run $WORK/duck.db $SQLF $DUCK_THREADS"

# Every table, both ways.
VERSION_DIR="$DATA/versions/$(cat "$DATA/CURRENT")"
for days in 30 90 365; do
  for key in parcel_id sector_id h3; do
    $PSQL -d predio_compute -c "\copy (SELECT * FROM out.${key}_${days}) TO '$WORK/pg-${key}-${days}.csv' CSV HEADER"
  done
done
"$PY" "$HERE/duckdb_compute.py" dump "$WORK/duck.db" "$WORK"
"$PY" "$HERE/compute_check.py" "$WORK" "$VERSION_DIR" "$RES"
