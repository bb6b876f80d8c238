#!/usr/bin/env bash
# Load test of `predio serve --catalogs`: many municipalities in one process under a memory
# budget, 128 connections for 60 s of requests spread over all of them, while a new version of
# one lands mid-run. Fails unless every request got a 2xx (no connection error, no 4xx, no 5xx),
# the resident memory stayed under the budget plus the process's own (its resident memory with
# no catalog loaded, plus 64 MiB for requests in flight), and the new version was served.
# Prints the loads and evictions the budget caused.
#
#   benches/load.sh many [DURATION] [CONNECTIONS]   (default 60s 128; TOWNS=50, BUDGET_MIB=512)
#
# Data: TOWNS sample towns of 2,000 to 20,000 parcels (sizes spread geometrically, seeds 1..N,
# twice as many reports as parcels), each town's shapefiles reprojected by ogr2ogr into one of
# four CRSs before the import (EPSG:5367, 4326, 3857, 32617), imported and computed into
# target/bench-data/many/catalogs/town-NN. The request list: for every town, its z14-z16 tiles
# of sectors and heat over its central square kilometre, its TileJSON, style, legend, meta and
# Open311 services. Requests go to every town, as a platform's do: a few towns draw most of them
# (Zipf's law, s = 1, over the towns in a seeded random order: the most visited draws a fifth,
# the least about 1/220 of that), interleaved so that consecutive requests go to different
# towns. Needs wrk, ogr2ogr and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-60s}
CONNS=${2:-128}
TOWNS=${TOWNS:-50}
BUDGET_MIB=${BUDGET_MIB:-512}
PREDIO=${PREDIO:-target/debug/predio}
WORK=$(realpath -m target/bench-data/many)
ROOT="$WORK/catalogs"
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk (make bench-deps)"; exit 1; }
[ -x "$PREDIO" ] || cargo build -p predio
mkdir -p "$ROOT"

CRSS=(EPSG:5367 EPSG:4326 EPSG:3857 EPSG:32617)
for i in $(seq 1 "$TOWNS"); do
  slug=$(printf "town-%02d" "$i")
  DATA="$ROOT/$slug"
  [ -f "$DATA/CURRENT" ] && continue
  parcels=$(python3 -c "print(int(2000 * 10 ** (($i - 1) / max(1, $TOWNS - 1))))")
  crs=${CRSS[$(( (i - 1) % 4 ))]}
  town="$WORK/towns/$slug"
  rm -rf "$town" "$DATA"
  "$PREDIO" sample --out "$town" --parcels "$parcels" --seed "$i" >/dev/null 2>&1
  for layer in parcels sectors; do
    ogr2ogr -t_srs "$crs" "$town/$layer-$i.shp" "$town/$layer.shp" >/dev/null
  done
  "$PREDIO" --data "$DATA" import sectors "$town/sectors-$i.shp" --id-field codigo --name-field nombre >/dev/null 2>&1
  "$PREDIO" --data "$DATA" import parcels "$town/parcels-$i.shp" --id-field finca >/dev/null 2>&1
  "$PREDIO" --data "$DATA" import reports "$town/reports.csv" --mapping "$town/reports-mapping.toml" >/dev/null 2>&1
  "$PREDIO" --data "$DATA" compute --as-of 2025-12-31 >/dev/null 2>&1
  echo "$slug: $parcels parcels from $crs"
done
rm -f "$ROOT/keys.toml"
KEY=$("$PREDIO" --data "$ROOT" keys add --name load --role auditor 2>/dev/null)

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$PREDIO" serve --catalogs "$ROOT" --memory-mib "$BUDGET_MIB" --addr "127.0.0.1:$PORT" \
  --poll-ms 200 > "$WORK/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
URL="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -sf "$URL/health" >/dev/null && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
RSS_BARE=$(rss)
echo "resident with no municipality loaded: $((RSS_BARE / 1024)) MiB; budget $BUDGET_MIB MiB"

# The request list, from each municipality's bounds in /municipalities.json.
curl -sf "$URL/municipalities.json" | python3 -c '
import json, math, sys
ms = json.load(sys.stdin)["municipalities"]
def tile(z, lon, lat):
    k = 2 ** z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * k
    return int((lon + 180) / 360 * k), int(y)
lists = []
for m in ms:
    w, s, e, n = m["bounds"]
    cx, cy = (w + e) / 2, (s + n) / 2
    d = 0.0045  # about 500 m
    base = m["url"].rstrip("/")
    paths = []
    for z in (14, 15, 16):
        x0, y0 = tile(z, cx - d, cy + d); x1, y1 = tile(z, cx + d, cy - d)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                for layer in ("sectors", "heat"):
                    paths.append(f"{base}/tiles/{layer}/{z}/{x}/{y}.mvt")
    paths += [f"{base}/{p}" for p in ("meta.json", "style.json", "tiles/sectors.json",
              "legend.json?layer=sectors&field=overdue", "open311/v2/services.json")]
    lists.append(paths)
# Zipf weights over the towns in a seeded random order; 20,000 requests drawn in that
# proportion (every town at least once), shuffled
import random
rng = random.Random(7)
order = list(range(len(lists)))
rng.shuffle(order)
weights = [0.0] * len(lists)
for rank, k in enumerate(order):
    weights[k] = 1.0 / (rank + 1)
total = sum(weights)
out = []
for k, paths in enumerate(lists):
    n = max(1, round(20000 * weights[k] / total))
    out += [paths[j % len(paths)] for j in range(n)]
rng.shuffle(out)
print("\n".join(out))
' > "$WORK/paths.txt"
echo "$(wc -l < "$WORK/paths.txt") paths over $TOWNS municipalities"

export PATHS="$WORK/paths.txt" KEY

# The highest resident memory, sampled every 100 ms through the run.
( peak=0; while kill -0 $SERVER 2>/dev/null; do r=$(rss || echo 0); [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" > "$WORK/peak"; sleep 0.1; done ) &
SAMPLER=$!
NEW=town-07
V0=$(curl -sf -H "X-API-Key: $KEY" "$URL/m/$NEW/meta.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
( sleep 20; "$PREDIO" --data "$ROOT/$NEW" compute --as-of 2025-12-30 > "$WORK/compute.log" 2>&1; echo "new version of $NEW committed at $(date +%T)" ) &
COMPUTE=$!
echo "run: $DURATION, $CONNS connections (a new version of $NEW lands 20 s in)"
wrk -t2 -c"$CONNS" -d"$DURATION" --timeout 30s -s benches/load.lua "$URL" | tee "$WORK/wrk.txt" | grep -E "RESULT|Latency|Requests/sec"
wait $COMPUTE
V1=$(curl -sf -H "X-API-Key: $KEY" "$URL/m/$NEW/meta.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
curl -sf "$URL/health" > "$WORK/health.json"
kill $SAMPLER 2>/dev/null || true
PEAK=$(cat "$WORK/peak")

python3 - "$WORK/wrk.txt" "$RSS_BARE" "$PEAK" "$BUDGET_MIB" "$V0" "$V1" "$WORK/health.json" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
r = dict((k, float(v)) for k, v in re.findall(r"(\w+)=([\d.]+)", text.split("RESULT", 1)[1]))
bare, peak, budget = int(sys.argv[2]) // 1024, int(sys.argv[3]) // 1024, int(sys.argv[4])
h = json.load(open(sys.argv[7]))
limit = budget + bare + 64
checks = {
    "no failed request (4xx/5xx)": r["non2xx3xx"] == 0,
    "no 5xx": r["status5xx"] == 0,
    "no connection error or timeout": r["connect"] + r["read"] + r["write"] + r["timeout"] == 0,
    f"peak resident {peak} MiB under budget {budget} + own {bare} + 64 = {limit} MiB": peak < limit,
    f"new version served ({sys.argv[5]} -> {sys.argv[6]})": sys.argv[5] != sys.argv[6],
    "every municipality available": h["unavailable"] == 0,
}
print(f"{int(r['requests'])} requests, {r['rps']:.0f} req/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms; "
      f"{len(h['municipalities'])} municipalities, {h['loaded']} loaded at the end, {h['loads']} loads, "
      f"{h['evictions']} evictions; reckoned {h['memory']['reckoned_mib']} MiB; peak resident {peak} MiB")
for name, ok in checks.items():
    print(("ok   " if ok else "FAIL ") + name)
sys.exit(0 if all(checks.values()) else 1)
PY
