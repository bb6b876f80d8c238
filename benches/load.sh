#!/usr/bin/env bash
# Load test of `predio serve`: 128 connections for 60 s of mixed tile and API requests on
# loopback, while a new catalog version lands mid-run. Fails unless every request got a 2xx/3xx
# (no connection error, no 4xx, no 5xx), the resident memory grew under 10 % over the run, and
# the server switched to the new version during it.
#
#   benches/load.sh [DURATION] [CONNECTIONS]   (default 60s 128)
#   benches/load.sh many [DURATION] [CONNECTIONS]   (50 municipalities: benches/load_many.sh)
#
# Data: the sample town (PARCELS, default 20,000) generated, imported and computed into
# target/bench-data/load. Every request carries an auditor key (the API's heaviest role short of
# admin). The list: parcel, sector and heat tiles z13-z16 over the town, TileJSON, style, legends,
# meta, Open311 services and request pages. wrk warms the cache over the list first (15 s), then
# the resident memory is read; 20 s into the run `predio compute --as-of` lands a new version.
# Needs wrk (make bench-deps) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
# `load.sh many ...`: many municipalities in one process (benches/load_many.sh).
if [ "${1:-}" = many ]; then shift; exec benches/load_many.sh "$@"; fi
DURATION=${1:-60s}
CONNS=${2:-128}
PARCELS=${PARCELS:-20000}
PREDIO=${PREDIO:-target/debug/predio}
WORK=$(realpath -m target/bench-data/load)
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk (make bench-deps)"; exit 1; }
[ -x "$PREDIO" ] || cargo build -p predio
mkdir -p "$WORK"

DATA="$WORK/data-$PARCELS"
if [ ! -f "$DATA/CURRENT" ]; then
  rm -rf "$DATA" "$WORK/town"
  "$PREDIO" sample --out "$WORK/town" --parcels "$PARCELS" --seed 42 >/dev/null
  "$PREDIO" --data "$DATA" import sectors "$WORK/town/sectors.shp" --id-field codigo --name-field nombre --population-field poblacion >/dev/null
  "$PREDIO" --data "$DATA" import parcels "$WORK/town/parcels.shp" --id-field finca >/dev/null
  "$PREDIO" --data "$DATA" import reports "$WORK/town/reports.csv" --mapping "$WORK/town/reports-mapping.toml" >/dev/null
  "$PREDIO" --data "$DATA" compute --as-of 2025-12-31 >/dev/null
fi
rm -f "$DATA/keys.toml"
KEY=$("$PREDIO" --data "$DATA" keys add --name load --role auditor 2>/dev/null)

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$PREDIO" --data "$DATA" serve --addr "127.0.0.1:$PORT" --poll-ms 200 > "$WORK/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT"
V0=$(curl -sf "$URL/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')

# The request list: tiles over the town and the API's JSON/XML endpoints.
curl -sf -H "X-API-Key: $KEY" "$URL/meta.json" | python3 -c '
import json, math, sys
m = json.load(sys.stdin)
w, s, e, n = m["bounds"]
def tile(z, lon, lat):
    k = 2 ** z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * k
    return int((lon + 180) / 360 * k), int(y)
paths = []
for z in (13, 14, 15, 16):
    x0, y0 = tile(z, w, n); x1, y1 = tile(z, e, s)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            for layer in ("parcels", "sectors", "heat"):
                if layer == "parcels" and z < 13:
                    continue
                paths.append(f"/tiles/{layer}/{z}/{x}/{y}.mvt")
paths = paths[:1500]
api = ["/meta.json", "/style.json", "/health", "/tiles/parcels.json", "/tiles/sectors.json",
       "/tiles/heat.json", "/legend.json?layer=parcels&field=received",
       "/legend.json?layer=sectors&field=overdue", "/open311/v2/discovery.json",
       "/open311/v2/services.json", "/open311/v2/services.xml",
       "/open311/v2/requests.json?page_size=50", "/open311/v2/requests.xml?page_size=20&status=open"]
# one API request for every ten tiles
out = []
for i, p in enumerate(paths):
    out.append(p)
    if i % 10 == 0:
        out.append(api[(i // 10) % len(api)])
print("\n".join(out))
' > "$WORK/paths.txt"
echo "$(wc -l < "$WORK/paths.txt") paths ($(grep -c '^/tiles/.*mvt' "$WORK/paths.txt") tiles)"

export PATHS="$WORK/paths.txt" KEY

rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
echo "warming 15 s"
wrk -t2 -c"$CONNS" -d15s -s benches/load.lua "$URL" | grep RESULT
RSS0=$(rss)
echo "resident after warm-up: $((RSS0 / 1024)) MiB; version $V0"

( sleep 20; "$PREDIO" --data "$DATA" compute --as-of 2025-12-30 > "$WORK/compute.log" 2>&1; echo "new version committed at $(date +%T)" ) &
COMPUTE=$!
echo "run: $DURATION, $CONNS connections (a new version lands 20 s in)"
wrk -t2 -c"$CONNS" -d"$DURATION" --timeout 10s -s benches/load.lua "$URL" | tee "$WORK/wrk.txt" | grep -E "RESULT|Latency|Requests/sec"
wait $COMPUTE
RSS1=$(rss)
V1=$(curl -sf "$URL/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
grep -E "switched|ERROR" "$WORK/serve.log" | tail -3 || true

python3 - "$WORK/wrk.txt" "$RSS0" "$RSS1" "$V0" "$V1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
r = dict((k, float(v)) for k, v in re.findall(r"(\w+)=([\d.]+)", text.split("RESULT", 1)[1]))
rss0, rss1 = int(sys.argv[2]), int(sys.argv[3])
growth = (rss1 - rss0) / rss0
checks = {
    "no failed request (4xx/5xx)": r["non2xx3xx"] == 0,
    "no 5xx": r["status5xx"] == 0,
    "no connection error or timeout": r["connect"] + r["read"] + r["write"] + r["timeout"] == 0,
    f"memory growth {growth:+.1%} under 10%": growth < 0.10,
    f"new version served ({sys.argv[4]} -> {sys.argv[5]})": sys.argv[4] != sys.argv[5],
}
print(f"{int(r['requests'])} requests, {r['rps']:.0f} req/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms; "
      f"resident {rss0 // 1024} -> {rss1 // 1024} MiB")
for name, ok in checks.items():
    print(("ok   " if ok else "FAIL ") + name)
sys.exit(0 if all(checks.values()) else 1)
PY
