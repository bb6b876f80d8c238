"""Independent check of predio's sector assignment, with GEOS (shapely), on a real cadastre.

predio puts a parcel in the sector that holds a point inside the parcel. Here, with GEOS:
- a parcel covered by one sector (wholly inside it) must be in that sector;
- a parcel that straddles sectors must be in one of those it overlaps (by area), and is
  counted apart with whether predio's sector holds GEOS's own `PointOnSurface`;
- a parcel that meets no sector must have none.

usage: sectors_check.py PARCELS.fgb SECTORS_SOURCE ID_FIELD
Prints JSON: {"covered": n, "straddling": n, "straddling_same_point": n, "outside": n,
              "wrong": [[parcel_id, predio's sector, what GEOS says], ...]}
"""

import json
import sys

import geopandas as gpd
import shapely

parcels_path, sectors_path, id_field = sys.argv[1:4]
parcels = gpd.read_file(parcels_path)
sectors = gpd.read_file(sectors_path).to_crs(parcels.crs)
sectors = sectors[[id_field, "geometry"]].rename(columns={id_field: "sid"})
sectors["sid"] = sectors["sid"].astype(str)
sector_geom = dict(zip(sectors["sid"], sectors.geometry))
tree = shapely.STRtree(sectors.geometry.values)

out = {"covered": 0, "straddling": 0, "straddling_same_point": 0, "outside": 0, "wrong": []}
for pid, given, geom in zip(parcels["parcel_id"], parcels["sector_id"], parcels.geometry):
    given = given if isinstance(given, str) and given else None
    hits = [sectors["sid"].iloc[i] for i in tree.query(geom, predicate="intersects")]
    overlapping = [s for s in hits if sector_geom[s].intersection(geom).area > 0]
    covering = [s for s in overlapping if sector_geom[s].covers(geom)]
    if not overlapping:
        out["outside"] += 1
        if given is not None:
            out["wrong"].append([pid, given, "in no sector"])
    elif covering:
        out["covered"] += 1
        if given not in covering:
            out["wrong"].append([pid, given, "covered by " + "|".join(covering)])
    else:
        out["straddling"] += 1
        if given not in overlapping:
            out["wrong"].append([pid, given, "overlaps " + "|".join(overlapping)])
        elif sector_geom[given].contains(geom.point_on_surface()):
            out["straddling_same_point"] += 1
json.dump(out, sys.stdout)
