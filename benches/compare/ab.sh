#!/usr/bin/env bash
# A/B of two predio builds on the same catalog, in the same run: `predio compute`, `predio
# geocode` and a PMTiles pyramid (z12-z15), the builds taking turns (below). The pyramids must
# hold the same tiles.
#
#   benches/compare/ab.sh OLD_PREDIO NEW_PREDIO [PARCELS] [REPORTS] [RUNS]
#
# e.g. the build of an earlier commit (git worktree add /tmp/old REV; build there with the same
# CARGO_TARGET_DIR and copy target/debug/predio aside) against this one.
set -euo pipefail
old=$(realpath "$1"); new=$(realpath "$2")
parcels=${3:-100000}; reports=${4:-300000}; runs=${5:-12}
here=$(cd "$(dirname "$0")/../.." && pwd)
rules=$here/data-samples/rules
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
"$new" sample --out town --parcels "$parcels" --reports "$reports" --seed 7 >/dev/null
"$new" --data cat import sectors town/sectors.shp --id-field codigo --name-field nombre --population-field poblacion >/dev/null 2>&1
"$new" --data cat import parcels town/parcels.shp --id-field finca >/dev/null 2>&1
"$new" --data cat import reports town/reports.csv --mapping town/reports-mapping.toml >/dev/null 2>&1
compute="--data cat compute --as-of 2025-12-31 --deadlines $rules/costa-rica.toml --holidays $rules/feriados-cr-2025.csv"
"$new" $compute >/dev/null 2>&1
# Interleaved (interleaved.py: a warm-up each, then the builds take turns, old first in odd
# rounds), so that the catalog's growth (each compute and geocode commits a version) and the
# machine's drift fall on both alike; medians of RUNS rounds.
tiles="--data cat export tiles --format pmtiles --minzoom 12 --maxzoom 15 --out $work"
for case in compute geocode tiles; do
  case $case in
    compute) a="$old $compute"; b="$new $compute" ;;
    geocode) a="$old --data cat geocode"; b="$new --data cat geocode" ;;
    tiles) a="$old $tiles/old.pmtiles"; b="$new $tiles/new.pmtiles" ;;
  esac
  python3 "$here/benches/compare/interleaved.py" "$runs" "$work/$case.json" "old=$a" "new=$b" \
    > /dev/null
  python3 - "$work/$case.json" "$case" "$runs" <<'PY'
import json, sys
m = {r["command"]: r["median"] for r in json.load(open(sys.argv[1]))["results"]}
print(f"{sys.argv[2]}: old {m['old']:.3f} s, new {m['new']:.3f} s, new/old {m['new'] / m['old']:.3f} "
      f"(medians of {sys.argv[3]} interleaved rounds)")
PY
done
py=$here/target/check-venv/bin/python; [ -x "$py" ] || py=python3
"$py" - "$work" <<'PY'
import sys
sys.path.insert(0, "")
try:
    from pmtiles.reader import Reader, MmapSource, all_tiles
except ImportError:
    print("tiles: pmtiles (pip) not installed here; archives not compared"); sys.exit(0)
def tiles(p):
    with open(p, "rb") as f:
        return dict(all_tiles(Reader(MmapSource(f)).get_bytes))
a, b = tiles(sys.argv[1] + "/old.pmtiles"), tiles(sys.argv[1] + "/new.pmtiles")
print(f"tiles: {len(a)} and {len(b)}, {'identical' if a == b else 'DIFFERENT'}")
sys.exit(0 if a == b else 1)
PY
