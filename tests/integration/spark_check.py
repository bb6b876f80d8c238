"""The national analysis of `predio export geoparquet`, by Apache Spark and DuckDB.

Usage: spark_check.py DATASETS

PySpark in local mode reads the reports dataset of every municipality (Hive partitions
municipality=/h3_4=) and computes per municipality and sector: received, open and the median
resolution hours (window `all`), and reads the sector indices dataset beside it. DuckDB reads the
same folder and shows its partition pruning: with one file of another municipality truncated (in
a copy), a query on one municipality still runs, and a query on all fails. Every file's GeoParquet
metadata and row order are checked with pyarrow. Prints JSON.
"""

import json
import os
import shutil
import struct
import sys
import tempfile
import time

import duckdb
import pyarrow.parquet as pq


def check_files(root):
    """Every file: GeoParquet 1.1 metadata with the bbox covering, each point in its box, rows in
    order of their fine H3 cell (reports). Returns the number of files."""
    files = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            if not name.endswith(".parquet"):
                continue
            path = os.path.join(dirpath, name)
            f = pq.ParquetFile(path)
            geo = json.loads(f.metadata.metadata[b"geo"])
            assert geo["version"] == "1.1.0", path
            col = geo["columns"][geo["primary_column"]]
            assert col["encoding"] == "WKB", path
            assert col["covering"]["bbox"]["xmin"] == ["bbox", "xmin"], path
            assert "municipality" not in f.schema_arrow.names, path
            t = f.read()
            if "/reports/" in path:
                assert col["geometry_types"] == ["Point"], path
                cells = [int(c, 16) if c else None for c in t.column("h3").to_pylist()]
                located = [c for c in cells if c is not None]
                assert located == sorted(located), f"{path}: rows not in cell order"
                for wkb, box in zip(t.column("geometry").to_pylist(), t.column("bbox").to_pylist()):
                    if wkb is None:
                        assert box is None, path
                        continue
                    order, kind, x, y = struct.unpack("<BIdd", wkb)
                    assert (order, kind) == (1, 1), path
                    assert box == {"xmin": x, "ymin": y, "xmax": x, "ymax": y}, (path, box)
                    west, south, east, north = col["bbox"]
                    assert west <= x <= east and south <= y <= north, path
            else:
                assert col["geometry_types"] == ["MultiPolygon"], path
            files += 1
    return files


def spark_side(root):
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    started = time.time()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("predio-national")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    reports = spark.read.parquet(os.path.join(root, "reports"))
    per_sector = (
        reports.where(F.col("sector_id").isNotNull())
        .groupBy("municipality", "sector_id")
        .agg(
            F.count(F.lit(1)).alias("received"),
            F.sum(F.when(~F.col("closed"), 1).otherwise(0)).alias("open"),
            F.percentile(F.col("resolution_h"), F.lit(0.5)).alias("median_h"),
        )
        .collect()
    )
    located = reports.where(F.col("h3_4").isNotNull()).count()
    unlocated = reports.where(F.col("h3_4").isNull()).count()
    sectors = (
        spark.read.parquet(os.path.join(root, "indices_sector"))
        .where((F.col("window") == "all") & (F.col("dimension") == "all"))
        .where(F.col("sector_id").isNotNull())
        .select("municipality", "sector_id", "received", "open", "resolution_median_h")
        .collect()
    )
    municipalities = sorted(r[0] for r in reports.select("municipality").distinct().collect())
    spark.stop()
    return {
        "seconds": round(time.time() - started, 1),
        "municipalities": municipalities,
        "located": located,
        "unlocated": unlocated,
        "per_sector": [
            [r["municipality"], r["sector_id"], r["received"], r["open"], r["median_h"]]
            for r in per_sector
        ],
        "sector_indices": [
            [r["municipality"], r["sector_id"], r["received"], r["open"], r["resolution_median_h"]]
            for r in sectors
        ],
    }


def duckdb_side(root, municipalities):
    glob = os.path.join(root, "reports", "*", "*", "*.parquet")
    per = dict(
        duckdb.sql(
            f"SELECT municipality, count(*) FROM read_parquet('{glob}', hive_partitioning=true) "
            "GROUP BY municipality"
        ).fetchall()
    )
    # Pruning: a copy with one file of the last municipality truncated.
    keep, broken = municipalities[0], municipalities[-1]
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "d")
        shutil.copytree(root, copy)
        victim = None
        for dirpath, _, names in os.walk(os.path.join(copy, "reports", f"municipality={broken}")):
            for n in names:
                victim = os.path.join(dirpath, n)
        with open(victim, "r+b") as f:
            f.truncate(100)
        cglob = os.path.join(copy, "reports", "*", "*", "*.parquet")
        one = duckdb.sql(
            f"SELECT count(*) FROM read_parquet('{cglob}', hive_partitioning=true) "
            f"WHERE municipality = '{keep}'"
        ).fetchall()[0][0]
        try:
            duckdb.sql(f"SELECT count(*) FROM read_parquet('{cglob}', hive_partitioning=true)").fetchall()
            all_failed = False
        except duckdb.Error:
            all_failed = True
    return {"per_municipality": per, "pruned_count": one, "pruned_of": keep, "all_failed": all_failed}


def main():
    root = sys.argv[1]
    files = check_files(root)
    spark = spark_side(root)
    out = {"files": files, "spark": spark, "duckdb": duckdb_side(root, spark["municipalities"])}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
