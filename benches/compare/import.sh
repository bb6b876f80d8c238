#!/usr/bin/env bash
# Import speed: `predio import parcels` against `ogr2ogr -f FlatGeobuf -nlt PROMOTE_TO_MULTI
# -t_srs EPSG:4326` (multipolygons, as predio stores) on the
# same input, in the same run, timed by hyperfine. predio also validates every geometry, repairs
# the invalid ones, computes geodesic areas, assigns sectors (the town its own; Cambridge its 13
# neighbourhoods, BOUNDARY_CDDNeighborhoods.geojson), writes
# the FlatGeobuf with its index and checksums the files.
#
#   benches/compare/import.sh [PARCELS] [RUNS]      (default 500000 parcels, 5 runs)
#
# One core each side by default: ogr2ogr converts on one thread, so predio runs with
# RAYON_NUM_THREADS=1 and POLARS_MAX_THREADS=1; CORES=all lets predio use every core (ogr2ogr
# still one). Whole commands, a warm-up run, medians of RUNS (hyperfine). After the timing the
# outputs are compared feature by feature (import_check.py): the same features, the same vertex
# count each, apart from the features predio's import log lists as repaired or skipped; the
# script fails on any other difference.
#
# Uses target/debug/predio: the workspace's one profile (opt-level 2 everywhere, see Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")/../.."
PARCELS=${1:-500000}
RUNS=${2:-5}
CORES=${CORES:-1}
PY=${BENCH_PYTHON:-target/bench-venv/bin/python}
PREDIO_ENV="RAYON_NUM_THREADS=1 POLARS_MAX_THREADS=1"
[ "$CORES" = 1 ] || PREDIO_ENV=""
"$PY" -c "import pyogrio, shapely" 2>/dev/null || { echo "the bench venv is missing: run make bench-deps"; exit 1; }
PREDIO=${PREDIO:-target/debug/predio}
WORK=target/bench-data
TOWN=$WORK/town-$PARCELS
mkdir -p "$WORK"
command -v hyperfine >/dev/null || { echo "hyperfine missing: apt-get install hyperfine (make bench does)"; exit 1; }
[ -x "$PREDIO" ] || cargo build -p predio
# imports run in predio-gdal, beside predio (README, "Command reference")
[ -x "$(dirname "$PREDIO")/predio-gdal" ] || {
  echo "predio-gdal is not beside $PREDIO: build both binaries (cargo build [--release] -p predio)"; exit 1; }

[ -f "$TOWN/parcels.shp" ] || "$PREDIO" sample --out "$TOWN" --parcels "$PARCELS" --reports 0 --seed 1
# A catalog with the sectors already in, so each timed import also assigns sectors.
SECTORS_DATA=$WORK/data-sectors-$PARCELS
rm -rf "$SECTORS_DATA"
"$PREDIO" --data "$SECTORS_DATA" import sectors "$TOWN/sectors.shp" --id-field codigo 2>/dev/null

run_case() { # name, input, id field or "", catalog with the sectors, predio args...
  local name=$1 input=$2 id=$3 SECTORS_DATA=$4; shift 4
  local json=$WORK/import-$name.json
  hyperfine --runs "$RUNS" --warmup 1 --export-json "$json" \
    --prepare "rm -rf $WORK/ogr.fgb $WORK/data-run; cp -r $SECTORS_DATA $WORK/data-run" \
    -n ogr2ogr "ogr2ogr -f FlatGeobuf -nlt PROMOTE_TO_MULTI -t_srs EPSG:4326 $WORK/ogr.fgb $input" \
    -n predio "env $PREDIO_ENV $PREDIO --data $WORK/data-run import parcels $input $* 2>/dev/null" >&2
  python3 - "$json" "$name" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
o, p = r["ogr2ogr"]["median"], r["predio"]["median"]
print(f"{sys.argv[2]}: medians of {len(r['predio']['times'])} runs, ogr2ogr {o:.3f} s, "
      f"predio {p:.3f} s, predio/ogr2ogr = {p/o:.2f}x")
PY
  # The outputs of one more run of each (hyperfine's preparation removed them), compared.
  rm -rf "$WORK/ogr.fgb" "$WORK/data-run" && cp -r "$SECTORS_DATA" "$WORK/data-run"
  ogr2ogr -f FlatGeobuf -lco SPATIAL_INDEX=NO -nlt PROMOTE_TO_MULTI -t_srs EPSG:4326 "$WORK/ogr.fgb" "$input"
  "$PREDIO" --data "$WORK/data-run" import parcels "$input" "$@" 2>/dev/null
  "$PY" benches/compare/import_check.py "$WORK/ogr.fgb" "$WORK/data-run/versions/$(cat $WORK/data-run/CURRENT)" $id
}
echo "cores: $CORES for predio, 1 for ogr2ogr"


run_case "town-$PARCELS" "$TOWN/parcels.shp" finca "$SECTORS_DATA" --id-field finca
CAMBRIDGE=../shared/data/cambridge-parcels
if [ -f $CAMBRIDGE/cambridge_parcels_FY2014_epsg2249.shp ]; then
  # Into a catalog with Cambridge's own 13 neighbourhoods as sectors.
  rm -rf "$WORK/data-cambridge-sectors"
  "$PREDIO" --data "$WORK/data-cambridge-sectors" import sectors \
    $CAMBRIDGE/BOUNDARY_CDDNeighborhoods.geojson --id-field N_HOOD --name-field NAME 2>/dev/null
  run_case cambridge $CAMBRIDGE/cambridge_parcels_FY2014_epsg2249.shp "" "$WORK/data-cambridge-sectors"
fi
