"""GEOS (shapely) and PROJ (pyproj) on the points of the edge-index test.

    edges_check.py PARCELS.fgb POINTS.csv EPSG

Per point (lon,lat rows, no header), in the parcels' file order: the parcels whose interior
holds it, those whose closure holds it, and, for a point in none, every parcel within 25.05 m
with its planar distance in metres in EPSG (a conformal projection of the city). Prints JSON.

The parcels' edges are straight in the catalog's EPSG:4326, as stored: each candidate parcel is
densified there (vertices every 1e-6 degrees, about 10 cm) before it is projected, so that an
edge of 800 m, which a projection would bend by 1.5 cm, is measured as the geocoder sees it.
"""
import json
import sys

import numpy as np
import pyogrio
import pyproj
import shapely

parcels = pyogrio.read_dataframe(sys.argv[1])
geoms = parcels.geometry.to_numpy()
xy = np.loadtxt(sys.argv[2], delimiter=",", ndmin=2)
points = shapely.points(xy)
tree = shapely.STRtree(geoms)
n = len(xy)
within = [[] for _ in range(n)]
touching = [[] for _ in range(n)]
for p, g in zip(*tree.query(points, predicate="within")):
    within[p].append(int(g))
for p, g in zip(*tree.query(points, predicate="intersects")):
    touching[p].append(int(g))
to_metres = pyproj.Transformer.from_crs(4326, int(sys.argv[3]), always_xy=True)
planar = shapely.transform(geoms, lambda c: np.column_stack(to_metres.transform(c[:, 0], c[:, 1])))
outside = np.array([i for i in range(n) if not touching[i]], dtype=np.int64)
px, py = to_metres.transform(xy[outside, 0], xy[outside, 1])
ppoints = shapely.points(np.column_stack([px, py]))
near = [[] for _ in range(n)]
ptree = shapely.STRtree(planar)
pi, gi = ptree.query(ppoints, predicate="dwithin", distance=26)
dense = {}
for g in np.unique(gi):
    fine = shapely.segmentize(geoms[g], 1e-6)
    dense[g] = shapely.transform(fine, lambda c: np.column_stack(to_metres.transform(c[:, 0], c[:, 1])))
d = shapely.distance(ppoints[pi], np.array([dense[g] for g in gi], dtype=object))
keep = d <= 25.05
pi, gi, d = pi[keep], gi[keep], d[keep]
for p, g, dist in zip(pi, gi, d):
    near[int(outside[p])].append([int(g), float(dist)])
json.dump({"within": within, "touching": touching, "near": near}, sys.stdout)
