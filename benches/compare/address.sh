#!/usr/bin/env bash
# Address matching against the peer a PostGIS user would write: a pg_trgm similarity join
# (nearest address by trigram distance, GiST index, similarity ≥ 0.5), on the same normalised
# strings, in the same run, one core each. Cadastre: Cambridge's FY2014 parcels and the
# assessor's TaxFY14.csv (joined on ML, address in Location). Reports: the table's addresses,
# half as written and half with noise (a letter of the street changed, the number moved by 2,
# the unit dropped, lower case), cycled to REPORTS; each expects its row's ML.
#
#   benches/compare/address.sh [REPORTS] [RUNS]   (default 100000 reports, 5 runs)
#
# predio: `predio geocode` on one core (RAYON_NUM_THREADS=1) over the reports imported with
# --keep-private (so their addresses are kept and located again), its logged matching time
# (the book's build quoted apart); pg_trgm: \timing of the join, the index built beforehand.
# Prints reports per second, the ratio, and each engine's precision (right among placed) and
# recall (right among all). Needs PostgreSQL (make bench-deps).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPORTS=${1:-100000}
RUNS=${2:-5}
PREDIO=${PREDIO:-target/debug/predio}
SHARED=${SHARED:-../shared/data}
CAMB="$SHARED/cambridge-parcels"
[ -f "$CAMB/TaxFY14.csv" ] || { echo "$CAMB/TaxFY14.csv not found (../shared/data beside the checkout)"; exit 1; }
command -v pg_ctlcluster >/dev/null || { echo "PostgreSQL missing: run make bench-deps"; exit 1; }
[ -x "$PREDIO" ] || cargo build -p predio
# imports run in predio-gdal, beside predio (README, "Command reference")
[ -x "$(dirname "$PREDIO")/predio-gdal" ] || {
  echo "predio-gdal is not beside $PREDIO: build both binaries (cargo build [--release] -p predio)"; exit 1; }
pg_ctlcluster 15 main start 2>/dev/null || true
PSQL="runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1"
work=$(realpath -m target/bench-data/address)
rm -rf "$work" && mkdir -p "$work" && chmod 777 "$work"

"$PREDIO" --data "$work/data" import parcels "$CAMB/cambridge_parcels_FY2014_epsg2249.shp" >/dev/null 2>&1
"$PREDIO" --data "$work/data" import parcel-table "$CAMB/TaxFY14.csv" --key ML --address-field Location 2>&1 | head -1
python3 - "$CAMB/TaxFY14.csv" "$REPORTS" "$work" <<'PY'
import csv, re, sys
table, n, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = [r for r in csv.DictReader(open(table)) if r["Location"].strip() and r["ML"].strip()]
def noisy(i, a):
    a = a.split(" #")[0]
    w = a.split()
    k = i % 4
    if k == 0 and len(w) > 2 and len(w[1]) > 3:
        m = len(w[1]) // 2
        w[1] = w[1][:m] + ("Q" if w[1][m] == "X" else "X") + w[1][m + 1:]
    elif k == 1 and w[0].isdigit():
        w[0] = str(int(w[0]) + 2)
    elif k == 3:
        return " ".join(w).lower()
    return " ".join(w)
def norm(a):  # what both engines compare: upper case, one space, ST/AVE, no unit
    a = re.sub(r"\s+", " ", a.upper().split(" #")[0]).strip()
    return " ".join({"STREET": "ST", "AVENUE": "AVE"}.get(x, x) for x in a.split())
with open(f"{work}/reports.csv", "w", newline="") as f, open(f"{work}/truth.csv", "w", newline="") as t:
    w, tw = csv.writer(f), csv.writer(t)
    w.writerow(["id", "created", "status", "address"])
    tw.writerow(["id", "ml", "address"])
    for i in range(n):
        r = rows[(i // 2) % len(rows)]
        a = r["Location"] if i % 2 == 0 else noisy(i // 2, r["Location"])
        w.writerow([f"A{i}", "2025-03-01", "open", a])
        tw.writerow([f"A{i}", r["ML"], norm(a)])
with open(f"{work}/addresses.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["ml", "address"])
    seen = set()
    for r in rows:
        k = (r["ML"], norm(r["Location"]))
        if k not in seen:
            seen.add(k)
            w.writerow(k)
PY
cat > "$work/mapping.toml" <<'EOF2'
[source]
timezone = "America/New_York"
[columns]
id = "id"
created_at = "created"
status = "status"
address = "address"
[status]
"open" = "open"
EOF2
"$PREDIO" --data "$work/data" import reports "$work/reports.csv" --mapping "$work/mapping.toml" --keep-private >/dev/null 2>&1
: > "$work/predio.txt"
for _ in $(seq 0 "$RUNS"); do
  NO_COLOR=1 RAYON_NUM_THREADS=1 RUST_LOG=predio=info "$PREDIO" --data "$work/data" geocode 2>&1 \
    | sed 's/\x1b\[[0-9;]*m//g' | grep "located by reference or address" \
    | sed -n 's/.*build_seconds=\([0-9.e-]*\).* seconds=\([0-9.e-]*\).*/\1 \2/p' >> "$work/predio.txt"
done
sed -i 1d "$work/predio.txt"   # the warm-up
"$PREDIO" --data "$work/data" export reports --format csv --out "$work/predio-out.csv" >/dev/null 2>&1
ogr2ogr -f CSV "$work/parcels-ml.csv" "$(ls "$work"/data/versions/*/parcels.fgb | tail -1)" -select parcel_id,ML 2>/dev/null

# pg_trgm: the table's normalised addresses, indexed; each report takes the most similar
$PSQL -c "DROP DATABASE IF EXISTS predio_address" -c "CREATE DATABASE predio_address"
PG="$PSQL -d predio_address"
$PG -c "CREATE EXTENSION pg_trgm" \
    -c "CREATE TABLE addr (ml text, a text)" -c "\\copy addr FROM '$work/addresses.csv' CSV HEADER" \
    -c "CREATE TABLE rep (id text, ml text, a text)" -c "\\copy rep FROM '$work/truth.csv' CSV HEADER" \
    -c "CREATE INDEX ON addr USING gist (a gist_trgm_ops)" -c "ANALYZE"
: > "$work/pg.txt"
for _ in $(seq 0 "$RUNS"); do
  $PG -c "SET max_parallel_workers_per_gather = 0" -c "SET pg_trgm.similarity_threshold = 0.5" \
      -c "DROP TABLE IF EXISTS res" -c "\\timing on" \
      -c "CREATE TABLE res AS SELECT r.id, (SELECT a.ml FROM addr a WHERE a.a % r.a ORDER BY a.a <-> r.a LIMIT 1) AS ml FROM rep r" \
    | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1 >> "$work/pg.txt"
done
sed -i 1d "$work/pg.txt"
$PG -c "\\copy res TO '$work/pg-out.csv' CSV HEADER"

python3 - "$work" "$REPORTS" <<'PY'
import csv, statistics, sys
work, n = sys.argv[1], int(sys.argv[2])
truth = {r["id"]: r["ml"] for r in csv.DictReader(open(f"{work}/truth.csv"))}
ml = {r["parcel_id"]: r["ML"] for r in csv.DictReader(open(f"{work}/parcels-ml.csv"))}
def score(pairs):
    placed = right = 0
    for i, got in pairs:
        if got:
            placed += 1
            right += got == truth[i]
    return right / max(placed, 1), right / len(truth)
p = [(r["id"], ml.get(r["parcel_id"], "")) for r in csv.DictReader(open(f"{work}/predio-out.csv"))]
g = [(r["id"], r["ml"]) for r in csv.DictReader(open(f"{work}/pg-out.csv"))]
pt = [tuple(map(float, l.split())) for l in open(f"{work}/predio.txt") if l.strip()]
build = statistics.median(b for b, _ in pt)
ps = statistics.median(s for _, s in pt)
gs = statistics.median(float(l) for l in open(f"{work}/pg.txt") if l.strip()) / 1000
(pp, pr), (gp, gr) = score(p), score(g)
print(f"{n} reports, one core, medians of {len(pt)} runs")
print(f"predio   {ps:8.3f} s  {n / ps:12,.0f} reports/s  precision {pp:.4f}  recall {pr:.4f}  (book build {build * 1000:.1f} ms)")
print(f"pg_trgm  {gs:8.3f} s  {n / gs:12,.0f} reports/s  precision {gp:.4f}  recall {gr:.4f}")
print(f"ratio    {gs / ps:.1f}x")
PY
