"""GeoPandas as a whole command, the peer geocode.sh times with hyperfine: read the parcels and
the points, `sjoin(predicate="within")`, then `sjoin_nearest` within 25 m (EPSG:5186) for the
rest, in the city's metric CRS. One core (shapely and pyogrio do not thread).

usage: geocode_geopandas.py WORK EPSG
"""

import sys

import geopandas as gpd
import pandas as pd

work, epsg = sys.argv[1], int(sys.argv[2])
parcels = gpd.read_file(f"{work}/parcels.fgb")[["parcel_id", "geometry"]]
pts = pd.read_csv(f"{work}/points.csv", dtype={"id": "int64"})
points = gpd.GeoDataFrame(pts[["id"]], geometry=gpd.points_from_xy(pts.lon, pts.lat), crs="EPSG:4326")
inside = gpd.sjoin(points, parcels, predicate="within", how="inner")
rest = points[~points.id.isin(inside.id)].to_crs(epsg)
near = gpd.sjoin_nearest(rest, parcels.to_crs(epsg), max_distance=25, distance_col="d", how="inner")
print(len(inside), len(near))
