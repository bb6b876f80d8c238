#!/usr/bin/env bash
# The viewer workbench's endpoints under load: `/series` and `/search` with wrk (64
# connections, DURATION), p50/p99 against the issue's 20 ms; and `POST /area/stats` on a
# polygon covering a quarter of the town (its south-west quarter), timed one request at a time,
# the first (which reads the reports' facts) apart from the median of the next ten, against
# 200 ms.
#
#   benches/workbench.sh [DURATION] [CONNECTIONS]   (default 20s 64)
#
# Data: CATALOG (a computed data directory), else the sample town of PARCELS (default 500,000)
# and REPORTS (default 1,000,000) generated, imported and computed into target/bench-data.
# PREDIO: the binary (default the release build if there is one). Needs wrk (make bench-deps).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-20s}
CONNS=${2:-64}
PARCELS=${PARCELS:-500000}
REPORTS=${REPORTS:-1000000}
if [ -z "${PREDIO:-}" ]; then
  PREDIO=target/release/predio
  [ -x "$PREDIO" ] || PREDIO=target/debug/predio
fi
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk (make bench-deps)"; exit 1; }
WORK=$(realpath -m target/bench-data/workbench)
mkdir -p "$WORK"
DATA=${CATALOG:-$WORK/data-$PARCELS-$REPORTS}
if [ ! -f "$DATA/CURRENT" ]; then
  rm -rf "$DATA" "$WORK/town"
  "$PREDIO" sample --out "$WORK/town" --parcels "$PARCELS" --reports "$REPORTS" --seed 42 >/dev/null
  "$PREDIO" --data "$DATA" import sectors "$WORK/town/sectors.shp" --id-field codigo --name-field nombre >/dev/null
  "$PREDIO" --data "$DATA" import parcels "$WORK/town/parcels.shp" --id-field finca --address-field direccion >/dev/null
  "$PREDIO" --data "$DATA" import reports "$WORK/town/reports.csv" --mapping "$WORK/town/reports-mapping.toml" >/dev/null
  "$PREDIO" --data "$DATA" compute --as-of 2025-12-31 >/dev/null
fi
KEYS="$WORK/keys.toml"
rm -f "$KEYS"
KEY=$("$PREDIO" --data "$DATA" keys add --file "$KEYS" --name bench --role auditor 2>/dev/null)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$PREDIO" --data "$DATA" serve --addr "127.0.0.1:$PORT" --keys "$KEYS" > "$WORK/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT"
echo "binary $PREDIO; catalog $DATA"

# the requests: every sector's series (all, and by the first categories), the city's, and
# searches typed as a user types them (sector names' beginnings, parcel numbers, streets)
curl -sf -H "X-API-Key: $KEY" "$URL/meta.json" > "$WORK/meta.json"
curl -sf "$URL/labels/sectors.geojson" > "$WORK/labels.json"
python3 - "$WORK" <<'PY' > "$WORK/paths.txt"
import json, sys, urllib.parse as u
w = sys.argv[1]
meta = json.load(open(f"{w}/meta.json"))
labels = json.load(open(f"{w}/labels.json"))["features"]
out = ["/series?level=city"]
for f in labels:
    sid = u.quote(f["properties"]["sector_id"])
    out.append(f"/series?level=sector&id={sid}")
    for c in meta["categories"][:3]:
        out.append(f"/series?level=sector&id={sid}&category={u.quote(c)}")
    name = f["properties"]["name"]
    for n in (3, 6, len(name)):
        out.append("/search?q=" + u.quote(name[:n].lower()))
for q in ("calle", "avenida 1", "1-0", "10", "barrio", "san"):
    out.append("/search?q=" + u.quote(q))
print("\n".join(out))
PY
echo "$(wc -l < "$WORK/paths.txt") paths"
cat > "$WORK/load.lua" <<LUA
local paths = {}
for line in io.lines("$WORK/paths.txt") do paths[#paths + 1] = line end
function init(args) i = math.random(#paths); bad = 0 end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["X-API-Key"] = "$KEY" })
end
function response(status) if status >= 400 then bad = bad + 1 end end
function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d p50_ms=%.2f p99_ms=%.2f rps=%.0f errors=%d\n",
    summary.requests, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6),
    summary.errors.connect + summary.errors.read + summary.errors.timeout + summary.errors.status))
end
LUA
# first use of each (the series table, the search index) outside the measure
for p in $(head -c 100000 "$WORK/paths.txt" | sort -u | head -200); do curl -sf -o /dev/null -H "X-API-Key: $KEY" "$URL$p"; done
wrk -t2 -c"$CONNS" -d"$DURATION" -s "$WORK/load.lua" "$URL" | grep RESULT | tee "$WORK/wrk.txt"

# /area/stats: the south-west quarter of the town
python3 - "$WORK/meta.json" > "$WORK/area.json" <<'PY'
import json, sys
w, s, e, n = json.load(open(sys.argv[1]))["bounds"]
mx, my = (w + e) / 2, (s + n) / 2
print(json.dumps({"type": "Polygon", "coordinates": [[[w, s], [mx, s], [mx, my], [w, my], [w, s]]]}))
PY
times=()
for i in $(seq 11); do
  t=$(curl -sf -o "$WORK/area-out.json" -w '%{time_total}' -X POST -H "X-API-Key: $KEY" \
      -H 'Content-Type: application/json' --data-binary @"$WORK/area.json" "$URL/area/stats?window=all")
  times+=("$t")
done
python3 - "$WORK/wrk.txt" "$WORK/area-out.json" "${times[@]}" <<'PY'
import json, re, statistics, sys
r = dict((k, float(v)) for k, v in re.findall(r"(\w+)=([\d.]+)", open(sys.argv[1]).read()))
area = json.load(open(sys.argv[2]))
t = [float(x) * 1000 for x in sys.argv[3:]]
warm = statistics.median(t[1:])
print(f"/series + /search: {int(r['requests'])} requests, {r['rps']:.0f} req/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, errors {int(r['errors'])}")
print(f"/area/stats (a quarter of the town, {area['received']} reports): first {t[0]:.0f} ms, then median {warm:.1f} ms")
checks = {"p99 of /series and /search < 20 ms": r["p99_ms"] < 20, "no error": r["errors"] == 0,
          "/area/stats median < 200 ms": warm < 200}
for name, ok in checks.items():
    print(("ok   " if ok else "FAIL ") + name)
sys.exit(0 if all(checks.values()) else 1)
PY
