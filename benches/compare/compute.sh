#!/usr/bin/env bash
# `predio compute` against PostgreSQL GROUP BY on the same geocoded reports, in the same run.
#
# predio is timed as shipped, built with the release profile (fat LTO, one codegen unit; built
# here and kept up to date: 18–22 minutes the first time), and, in the same run, as the dev
# profile's build that `make demo` and the tests use (when target/debug/predio is there).
#
#   benches/compare/compute.sh [PARCELS] [REPORTS] [RUNS]   (default 500000 1000000 3)
#
# The sample town (PARCELS parcels, REPORTS reports over 2025) is generated and imported once
# into target/bench-data/compute (kept between runs). predio's time is the whole command: read
# the catalog, compute every level (parcel, sector, H3 at 3 resolutions), window (30d, 90d,
# 365d) and dimension (all, category, department) with every index, write the new version.
# PostgreSQL's time is only the shared aggregates, with the data already loaded and analysed:
# per parcel, sector and H3 cell (one resolution), window and dimension (GROUPING SETS):
# received, open at the as-of time, resolved, median and p90 resolution hours. The sector
# counts, backlog and median hours of PostgreSQL must equal predio's (medians within a second),
# or the script fails. PostgreSQL keeps its defaults: `SET work_mem = '1GB'` made these queries
# slower on the bench VM (17.5–18.6 s against 13.6–14.1 s). Needs PostgreSQL 15
# (`make bench-deps`).
set -euo pipefail
cd "$(dirname "$0")/../.."
PARCELS=${1:-500000}
REPORTS=${2:-1000000}
RUNS=${3:-3}
# Each build is brought up to date unless given (PREDIO, PREDIO_DEV).
[ -n "${PREDIO:-}" ] || cargo build --release -p predio
[ -n "${PREDIO_DEV:-}" ] || [ ! -x target/debug/predio ] || cargo build -p predio
PREDIO=${PREDIO:-target/release/predio}
PREDIO_DEV=${PREDIO_DEV:-target/debug/predio}
WORK=$(realpath -m target/bench-data/compute)
AS_OF_DATE=2025-12-31
AS_OF=2026-01-01T00:00:00Z
command -v pg_ctlcluster >/dev/null || { echo "PostgreSQL missing: run make bench-deps"; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine missing: run make bench-deps"; exit 1; }
mkdir -p "$WORK" && chmod 777 "$WORK"  # psql runs as postgres

DATA="$WORK/data-$PARCELS-$REPORTS"
# The catalog is made again when an older predio wrote it: the files this one writes differ
# (parcel-keys.parquet beside the parcels layer; the reports in row groups of a million), and
# predio reads an older catalog as it is, more slowly. The layout is named in a file beside it.
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

pg_ctlcluster 15 main start 2>/dev/null || true
PSQL="runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1"
$PSQL -c "DROP DATABASE IF EXISTS predio_compute" -c "CREATE DATABASE predio_compute"
$PSQL -d predio_compute <<SQL
CREATE TABLE reports (
  id text PRIMARY KEY, source text, category text, department text, channel text, status text,
  status_label text, status_type text, created_at timestamptz, acknowledged_at timestamptz,
  closed_at timestamptz, reopened_at timestamptz, deadline_at timestamptz, source_on_time boolean,
  source_tz text, source_area text, lon float8, lat float8, location text, parcel_id text,
  sector_id text, match text, distance_m float8, h3 text);
\copy reports FROM '$WORK/reports.csv' CSV HEADER
VACUUM ANALYZE reports;
SQL

# The shared aggregates: 3 windows x 3 levels, each with GROUPING SETS over the dimensions.
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
              AND (closed_at IS NULL OR closed_at <= '$AS_OF')) AS open,
         CASE WHEN status IN ('resolved', 'rejected', 'duplicate') AND closed_at <= '$AS_OF'
                   AND closed_at >= created_at
              THEN extract(epoch FROM closed_at - created_at) / 3600 END AS res_h
  FROM reports
  WHERE created_at > timestamptz '$AS_OF' - interval '$days days' AND created_at <= '$AS_OF')
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

# predio prints the time of computing and writing the tables (the catalog read excluded): kept
# from each run to quote beside the whole command's.
rm -f "$WORK"/predio-runs*.txt
DEV_RUN=()
[ -x "$PREDIO_DEV" ] && DEV_RUN=(-n predio-dev "$PREDIO_DEV --data $DATA compute --as-of $AS_OF_DATE 2>> $WORK/predio-runs-dev.txt")
hyperfine --runs "$RUNS" --export-json "$WORK/hyperfine.json" \
  -n predio "$PREDIO --data $DATA compute --as-of $AS_OF_DATE 2>> $WORK/predio-runs.txt" \
  "${DEV_RUN[@]}" \
  -n postgresql "$PSQL -d predio_compute -f $SQLF"

# Cross-check: per sector, window 90d, all reports.
"$PREDIO" --data "$DATA" export indices --level sector --format csv --window 90d \
  --out "$WORK/predio-sectors-90d.csv" 2>/dev/null
$PSQL -d predio_compute -c "\copy (SELECT coalesce(k, ''), received, open, resolution_median_h FROM out.sector_id_90 WHERE dims = 3 ORDER BY 1) TO '$WORK/pg-sectors-90d.csv' CSV"
python3 - "$WORK" <<'PY'
import csv, json, sys
work = sys.argv[1]
mine = {r["sector_id"]: r for r in csv.DictReader(open(f"{work}/predio-sectors-90d.csv"))}
bad = 0
rows = list(csv.reader(open(f"{work}/pg-sectors-90d.csv")))
for k, received, open_, median in rows:
    m = mine.get(k)
    if m is None or m["received"] != received or m["open"] != open_:
        bad += 1; print("differs:", k, received, open_, m and (m["received"], m["open"])); continue
    if median and abs(float(m["resolution_median_h"]) - float(median)) * 3600 >= 1:
        bad += 1; print("median differs:", k, median, m["resolution_median_h"])
zero = sum(1 for k, r in mine.items() if r["received"] == "0")
print(f"cross-check: {len(rows)} sectors with reports equal in both ({zero} more with zero rows in predio)")
res = json.load(open(f"{work}/hyperfine.json"))["results"]
med = {r["command"]: r["median"] for r in res}
import os, re, statistics
pg = med["postgresql"]
for name, runs in [("predio", "predio-runs.txt"), ("predio-dev", "predio-runs-dev.txt")]:
    if name not in med:
        continue
    print(f"median: {name} {med[name]:.3f} s, postgresql {pg:.3f} s, "
          f"ratio postgresql/{name} {pg / med[name]:.2f}x")
    path = f"{work}/{runs}"
    inner = [float(m.group(1)) for m in re.finditer(r" in ([0-9.]+) s ", open(path).read())] if os.path.exists(path) else []
    if inner:
        c = statistics.median(inner)
        print(f"  median of its compute and write (catalog read excluded): {c:.3f} s, "
              f"ratio postgresql/that {pg / c:.2f}x")
sys.exit(1 if bad else 0)
PY
