#!/usr/bin/env bash
# `predio serve` against martin serving the same parcels from PostGIS, in the same run.
#
#   benches/compare/tiles.sh [DURATION] [CONNECTIONS]   (default 20s 64)
#
# Data: the computed 500,000-parcel town of benches/compare/compute.sh (run it first), or the
# catalog in $CATALOG. The parcels go to PostGIS with the same attributes predio's parcel tiles
# carry (id, sector and the 90d indices, from predio's FlatGeobuf export), a GiST index,
# EPSG:4326 like predio's catalog. Both servers listen on loopback; the tile list is
# every z14-z16 tile of the town's central quarter, shuffled (seeded). Two settings: cold (both
# tile caches off: predio --cache-mib 0, martin --cache-size 0, so every request cuts and
# encodes its tile) and warm (both caches on and warmed with the whole list). In each, ROUNDS
# (default 3) rounds of each server, alternating, each wrk running DURATION with CONNECTIONS
# connections on 2 threads, gzip accepted, cycling the list. Prints requests/s and latency
# percentiles of every round and the ratio of the medians; after the cold rounds, predio's
# latency at half its median cold rate (paced connections).
#
# Needs wrk, PostgreSQL 15 + PostGIS (`make bench-deps`) and martin 1.14 (the newest that builds
# with Rust 1.95), installed into target/martin when missing:
#   cargo install martin@1.14.0 --locked --no-default-features --features postgres,mbtiles,pmtiles
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-20s}
CONNS=${2:-64}
ROUNDS=${ROUNDS:-3}
PREDIO=${PREDIO:-target/debug/predio}
CATALOG=${CATALOG:-target/bench-data/compute/data-500000-1000000}
WORK=$(realpath -m target/bench-data/tiles)
MARTIN=${MARTIN:-target/martin/bin/martin}
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk (make bench-deps)"; exit 1; }
command -v pg_ctlcluster >/dev/null || { echo "PostgreSQL missing: run make bench-deps"; exit 1; }
[ -f "$CATALOG/CURRENT" ] || { echo "$CATALOG: no catalog; run benches/compare/compute.sh first"; exit 1; }
[ -x "$PREDIO" ] || cargo build -p predio
# imports run in predio-gdal, beside predio (README, "Command reference")
[ -x "$(dirname "$PREDIO")/predio-gdal" ] || {
  echo "predio-gdal is not beside $PREDIO: build both binaries (cargo build [--release] -p predio)"; exit 1; }
if [ ! -x "$MARTIN" ]; then
  cargo install martin@1.14.0 --locked --no-default-features --features postgres,mbtiles,pmtiles \
    --root "$(dirname "$(dirname "$MARTIN")")"
fi
mkdir -p "$WORK" && chmod 777 "$WORK"

# The parcels with the attributes of predio's parcel tiles (window 90d, all reports).
"$PREDIO" --data "$CATALOG" export indices --level parcel --format fgb --window 90d \
  --out "$WORK/parcels-90d.fgb" >/dev/null
pg_ctlcluster 15 main start 2>/dev/null || true
PSQL="runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1"
$PSQL -c "DROP DATABASE IF EXISTS predio_tiles" -c "CREATE DATABASE predio_tiles"
$PSQL -d predio_tiles -c "CREATE EXTENSION postgis" -c "ALTER USER postgres PASSWORD 'predio-bench'"
VERSION_DIR="$CATALOG/versions/$(cat "$CATALOG/CURRENT")"
runuser -u postgres -- ogr2ogr -f PostgreSQL PG:dbname=predio_tiles "$WORK/parcels-90d.fgb" \
  -nln imported -lco GEOMETRY_NAME=geom -nlt PROMOTE_TO_MULTI
runuser -u postgres -- ogr2ogr -f PostgreSQL PG:dbname=predio_tiles "$(realpath "$VERSION_DIR")/parcels.fgb" \
  -nln cadastre -select parcel_id,sector_id -nlt NONE
$PSQL -d predio_tiles <<'SQL'
CREATE TABLE parcels AS
  SELECT i.parcel_id, c.sector_id, received, open, overdue, compliance, resolution_median_bd,
         recurrent, trend, density_km2, attention, geom
  FROM imported i JOIN cadastre c USING (parcel_id);
CREATE INDEX ON parcels USING gist (geom);
DROP TABLE imported, cadastre;
VACUUM ANALYZE parcels;
SQL
BBOX=$($PSQL -d predio_tiles -At -c "SELECT concat_ws(' ', ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)) FROM (SELECT ST_Extent(geom) e FROM parcels) x")

# Tiles: z14-z16 over the central quarter of the town.
python3 - "$BBOX" > "$WORK/tiles.txt" <<'PY'
import math, sys
w, s, e, n = map(float, sys.argv[1].split())
cx, cy, dx, dy = (w + e) / 2, (s + n) / 2, (e - w) / 4, (n - s) / 4
def tile(z, lon, lat):
    k = 2 ** z
    y = (1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2
    return int((lon + 180) / 360 * k), int(y * k)
for z in (14, 15, 16):
    x0, y0 = tile(z, cx - dx, cy + dy)
    x1, y1 = tile(z, cx + dx, cy - dy)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            print(f"{z}/{x}/{y}")
PY
python3 -c "import random, sys; t = open(sys.argv[1]).read().split(); random.Random(7).shuffle(t); open(sys.argv[1], 'w').write('\n'.join(t) + '\n')" "$WORK/tiles.txt"
echo "tiles: $(wc -l < "$WORK/tiles.txt") (z14-z16 over the town's central quarter, shuffled)"

cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; PIDS=(); sleep 1; }
PIDS=()
trap cleanup EXIT
start_servers() {  # $1: martin's cache in MB, $2: predio's in MiB (0: no tile cache)
  cleanup
  "$MARTIN" --listen-addresses 127.0.0.1:3001 --cache-size "$1" \
    "postgresql://postgres:predio-bench@127.0.0.1/predio_tiles" > "$WORK/martin.log" 2>&1 &
  PIDS+=($!)
  # The parcel tiles are public here, as martin's are: no key (they need a planner key by default).
  "$PREDIO" --data "$CATALOG" serve --addr 127.0.0.1:3002 --cache-mib "$2" --public-parcels \
    > "$WORK/predio.log" 2>&1 &
  PIDS+=($!)
  for url in http://127.0.0.1:3001/catalog http://127.0.0.1:3002/health; do
    ok=
    for _ in $(seq 1 120); do curl -sf "$url" >/dev/null && { ok=1; break; }; sleep 1; done
    [ -n "$ok" ] || { echo "$url never answered; see $WORK/*.log"; exit 1; }
  done
}

# One lua script per server: cycle through the tile list.
lua() {  # $1 prefix, $2 suffix
  echo "local paths = {}"
  echo "for line in io.lines('$WORK/tiles.txt') do paths[#paths + 1] = '$1' .. line .. '$2' end"
  echo "local i = 0"
  echo "request = function() i = i % #paths + 1; return wrk.format('GET', paths[i]) end"
}
lua /parcels/ "" > "$WORK/martin.lua"
lua /tiles/parcels/ ".mvt?window=90d" > "$WORK/predio.lua"

check() {  # $1 name, $2 port
  # Every tile once, checking it is served (with the caches on, this warms them).
  local bad=0 bytes=0
  while read -r t; do
    local path
    if [ "$1" = martin ]; then path="/parcels/$t"; else path="/tiles/parcels/$t.mvt?window=90d"; fi
    read -r code size < <(curl -s -o /dev/null -w '%{http_code} %{size_download}\n' \
      -H 'Accept-Encoding: gzip' "http://127.0.0.1:$2$path")
    [ "$code" = 200 ] || [ "$code" = 204 ] || bad=$((bad + 1))
    bytes=$((bytes + size))
  done < "$WORK/tiles.txt"
  [ "$bad" = 0 ] || { echo "$1: $bad tiles failed while warming"; exit 1; }
  printf '%-7s every tile served: %.1f MB gzip\n' "$1" "$(echo "$bytes / 1000000" | bc -l)"
}

round() {  # $1 name, $2 port, $3 round
  wrk -t2 -c"$CONNS" -d"$DURATION" --latency -H 'Accept-Encoding: gzip' \
    -s "$WORK/$1.lua" "http://127.0.0.1:$2" > "$WORK/wrk-$1-$3.txt"
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk-$1-$3.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk-$1-$3.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk-$1-$3.txt")
  errors=$(grep -E "Non-2xx|Socket errors" "$WORK/wrk-$1-$3.txt" || true)
  printf '%-7s round %s %10s req/s   p50 %8s   p99 %8s   %s\n' "$1" "$3" "$rps" "$p50" \
    "$p99" "$errors"
  eval "RPS_$1=\"\${RPS_$1:-} $rps\""
}

# ROUNDS rounds of each server, alternating (martin first in odd rounds, predio in even ones):
# on a shared machine whose speed drifts for minutes, a slow spell then falls on both sides.
# The ratio is of the medians of the rounds.
rounds() {  # $1 cold|warm
  RPS_martin="" RPS_predio=""
  check martin 3001
  check predio 3002
  # An unmeasured 5 s at full concurrency each: martin opens its pool of PostgreSQL connections
  # (its first 3 s round at 64 connections ran at 39 req/s, the next at 99).
  local name port
  for name in martin predio; do
    if [ "$name" = martin ]; then port=3001; else port=3002; fi
    wrk -t2 -c"$CONNS" -d5s -H 'Accept-Encoding: gzip' -s "$WORK/$name.lua" \
      "http://127.0.0.1:$port" > /dev/null
  done
  for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then
      round martin 3001 "$r"; round predio 3002 "$r"
    else
      round predio 3002 "$r"; round martin 3001 "$r"
    fi
  done
  read -r MEDIAN_martin MEDIAN_predio < <(python3 -c "
import statistics, sys
print(*(statistics.median(map(float, a.split())) for a in sys.argv[1:]))" "$RPS_martin" "$RPS_predio")
  python3 -c "print(f'$1: medians of $ROUNDS rounds: predio {$MEDIAN_predio:.0f} req/s, martin {$MEDIAN_martin:.0f} req/s: predio / martin = {$MEDIAN_predio / $MEDIAN_martin:.2f}x requests/s')"
}
echo "cold: both tile caches off"
start_servers 0 0
rounds cold
# Cold at half of predio's saturation rate: the latency of an uncached tile when the server is
# not overloaded. Each connection waits a random 0-2x CONNS/RATE seconds before each request
# (wrk's delay()), so about RATE = half the cold requests/s arrive in all; the achieved rate is
# printed beside the percentiles (wrk is closed-loop: a slow answer delays its connection's next
# request, so compare the achieved rate with the asked one).
HALF=$(python3 -c "print($MEDIAN_predio / 2)")
{ lua /tiles/parcels/ ".mvt?window=90d"
  echo "local pause = 2000 * $CONNS / $HALF"
  echo "delay = function() return math.random() * pause end"; } > "$WORK/predio-paced.lua"
wrk -t2 -c"$CONNS" -d"$DURATION" --latency -H 'Accept-Encoding: gzip' \
  -s "$WORK/predio-paced.lua" "http://127.0.0.1:3002" > "$WORK/wrk-predio-paced.txt"
printf 'predio at half its cold rate (%.0f req/s asked): %s req/s   p50 %s   p99 %s\n' "$HALF" \
  "$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk-predio-paced.txt")" \
  "$(awk '$1 == "50%" {print $2}' "$WORK/wrk-predio-paced.txt")" \
  "$(awk '$1 == "99%" {print $2}' "$WORK/wrk-predio-paced.txt")"
echo "warm: both tile caches on, warmed with every tile"
start_servers 1024 1024
rounds warm

# Whole pyramids into MBTiles: `predio export tiles` (parcels layer) against martin-cp from the
# same PostGIS table, both on every core (rayon; --concurrency = cores), z10-z16 as the issue
# asks and z13-z16, where predio's parcel layer starts (martin-cp's z10-z12 tiles hold every
# parcel; predio's are empty there).
cleanup
CORES=$(nproc)
B=$(echo "$BBOX" | tr ' ' ',')
for range in "10 16" "13 16"; do
  set -- $range
  hyperfine --warmup 1 --runs "${ARCHIVE_RUNS:-5}" --export-json "$WORK/archive-z$1-z$2.json" \
    --prepare "rm -f $WORK/predio.mbtiles $WORK/martin.mbtiles" \
    -n "predio export tiles z$1-z$2" \
    "$PREDIO --data $CATALOG export tiles --format mbtiles --layers parcels --minzoom $1 --maxzoom $2 --out $WORK/predio.mbtiles" \
    -n "martin-cp z$1-z$2" \
    "$(dirname "$MARTIN")/martin-cp --output-file $WORK/martin.mbtiles --mbtiles-type flat --concurrency $CORES --bbox=$B --min-zoom $1 --max-zoom $2 --source parcels postgresql://postgres:predio-bench@127.0.0.1/predio_tiles" \
    | grep -E "Time|±|faster" || true
  python3 - "$WORK/archive-z$1-z$2.json" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))["results"]
m = {x["command"]: statistics.median(x["times"]) for x in r}
(p, pt), (c, ct) = list(m.items())
print(f"{p}: {pt:.2f} s median · {c}: {ct:.2f} s median · martin-cp / predio = {ct / pt:.2f}x")
PY
done
