#!/usr/bin/env bash
# A/B of two predio builds on the same catalog, in the same run: `predio compute`, `predio
# geocode` and a PMTiles pyramid (z12-z15), each timed by hyperfine in both orders (the command
# run second meets a catalog one version longer and runs some 10 % slower, so a figure is
# compared with the other build's in the same position). The pyramids must hold the same tiles.
#
#   benches/compare/ab.sh OLD_PREDIO NEW_PREDIO [PARCELS] [REPORTS] [RUNS]
#
# e.g. the build of an earlier commit (git worktree add /tmp/old REV; build there with the same
# CARGO_TARGET_DIR and copy target/debug/predio aside) against this one.
set -euo pipefail
old=$(realpath "$1"); new=$(realpath "$2")
parcels=${3:-100000}; reports=${4:-300000}; runs=${5:-7}
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
median() { python3 -c "import json,statistics,sys; d=json.load(open('$1')); print(' '.join(r['command']+'='+format(statistics.median(r['times']),'.3f')+'s' for r in d['results']))"; }
for what in compute geocode tiles; do
  case $what in
    compute) args="$compute" ;;
    geocode) args="--data cat geocode" ;;
    tiles) "$new" $compute >/dev/null 2>&1; args="--data cat export tiles --format pmtiles --minzoom 12 --maxzoom 15 --out" ;;
  esac
  for order in old-first new-first; do
    if [ $order = old-first ]; then a=(old "$old"); b=(new "$new"); else a=(new "$new"); b=(old "$old"); fi
    out_a=""; out_b=""
    [ $what = tiles ] && out_a=" $work/${a[0]}.pmtiles" && out_b=" $work/${b[0]}.pmtiles"
    hyperfine -N --warmup 1 --runs "$runs" --export-json "$what-$order.json" \
      -n "${a[0]}" "${a[1]} $args$out_a" -n "${b[0]}" "${b[1]} $args$out_b" >/dev/null
    echo "$what ($order): $(median "$what-$order.json")"
  done
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
