"""Reads predio's tile archives with independent readers: protomaps' `pmtiles` (the reference
PMTiles implementation) and Python's sqlite3 for MBTiles.

    archive_check.py ARCHIVE.pmtiles ARCHIVE.mbtiles OUTDIR

Writes OUTDIR/summary.json (headers, metadata, tile counts per zoom) and, for every tile of the
PMTiles archive, OUTDIR/pm-z-x-y.mvt and OUTDIR/mb-z-x-y.mvt with the gunzipped bytes of both.
"""
import gzip
import json
import sqlite3
import sys
from pathlib import Path

from pmtiles.reader import MmapSource, Reader, all_tiles

pm_path, mb_path, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
summary = {"pmtiles": {}, "mbtiles": {}}

with open(pm_path, "rb") as f:
    reader = Reader(MmapSource(f))
    header = reader.header()
    summary["pmtiles"]["header"] = {
        k: (v.name if hasattr(v, "name") else v) for k, v in header.items()
    }
    summary["pmtiles"]["metadata"] = reader.metadata()
    per_zoom = {}
    for (z, x, y), data in all_tiles(MmapSource(f)):
        per_zoom[z] = per_zoom.get(z, 0) + 1
        (out / f"pm-{z}-{x}-{y}.mvt").write_bytes(gzip.decompress(data))
    summary["pmtiles"]["per_zoom"] = per_zoom

db = sqlite3.connect(mb_path)
summary["mbtiles"]["metadata"] = dict(db.execute("SELECT name, value FROM metadata"))
per_zoom = {}
for z, x, row, data in db.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles"):
    y = (1 << z) - 1 - row
    per_zoom[z] = per_zoom.get(z, 0) + 1
    (out / f"mb-{z}-{x}-{y}.mvt").write_bytes(gzip.decompress(data))
summary["mbtiles"]["per_zoom"] = per_zoom
(out / "summary.json").write_text(json.dumps(summary, default=str))
