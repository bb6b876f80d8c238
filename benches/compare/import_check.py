"""import.sh's check: predio's stored parcels against ogr2ogr's output of the same file, feature
by feature (joined on the id field, or on the source's feature number when predio numbered
them; OGR.fgb written without a spatial index, in the source's order): the same features and the same vertex count each, apart from those predio's import log
lists (repaired or skipped). Exits 1 on any other difference.

usage: import_check.py OGR.fgb PREDIO_VERSION_DIR [ID_FIELD]
"""

import csv
import sys

import pyogrio
import shapely

ogr_path, version_dir = sys.argv[1], sys.argv[2]
id_field = sys.argv[3] if len(sys.argv) > 3 else None
ogr = pyogrio.read_dataframe(ogr_path, fid_as_index=True, on_invalid="ignore")
mine = pyogrio.read_dataframe(f"{version_dir}/parcels.fgb", on_invalid="ignore")
# The features the log lists as repaired or skipped (a feature may also be flagged, e.g. in no
# sector: that changes nothing of its geometry).
listed = {r["id"]: r["action"] for r in csv.DictReader(open(f"{version_dir}/import-report.csv"))
          if r["layer"] == "parcels" and r["action"] in ("repaired", "skipped")}
# Without an id field predio numbers the features from 1, in the source's order (which
# ogr2ogr keeps when the FlatGeobuf is written without a spatial index).
ogr_ids = ogr[id_field].astype(str) if id_field else (ogr.index + 1).astype(str)
theirs = dict(zip(ogr_ids, shapely.get_num_coordinates(ogr.geometry.values)))
ours = dict(zip(mine["parcel_id"].astype(str), shapely.get_num_coordinates(mine.geometry.values)))
unexplained = []
for k, n in theirs.items():
    if k not in ours:
        if listed.get(k) != "skipped":
            unexplained.append((k, "missing in predio"))
    elif ours[k] != n and listed.get(k) != "repaired":
        unexplained.append((k, f"{ours[k]} vertices in predio, {n} in ogr2ogr"))
unexplained += [(k, "not in ogr2ogr's output") for k in ours if k not in theirs]
print(f"features: ogr2ogr {len(theirs)}, predio {len(ours)} "
      f"({sum(1 for a in listed.values() if a == 'skipped')} skipped and "
      f"{sum(1 for a in listed.values() if a == 'repaired')} repaired, listed in its import log); "
      f"vertices: ogr2ogr {sum(theirs.values())}, predio {sum(ours.values())}; "
      f"{len(unexplained)} unexplained differences {unexplained[:5]}")
sys.exit(1 if unexplained else 0)
