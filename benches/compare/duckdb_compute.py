"""DuckDB, the peer of `predio compute` in compute.sh (core SQL only: works offline).

  duckdb_compute.py load DB REPORTS.csv         the reports into a DuckDB file (not timed)
  duckdb_compute.py run DB AGGREGATES.sql N     the aggregates with N threads (timed)
  duckdb_compute.py dump DB DIR                 each out.* table to DIR/duckdb-<table>.csv
"""

import sys

import duckdb

COLUMNS = {
    "id": "VARCHAR", "source": "VARCHAR", "category": "VARCHAR", "department": "VARCHAR",
    "channel": "VARCHAR", "status": "VARCHAR", "status_label": "VARCHAR",
    "status_type": "VARCHAR", "created_at": "TIMESTAMPTZ", "acknowledged_at": "TIMESTAMPTZ",
    "closed_at": "TIMESTAMPTZ", "reopened_at": "TIMESTAMPTZ", "deadline_at": "TIMESTAMPTZ",
    "source_on_time": "BOOLEAN", "source_tz": "VARCHAR", "source_area": "VARCHAR",
    "lon": "DOUBLE", "lat": "DOUBLE", "location": "VARCHAR", "parcel_id": "VARCHAR",
    "sector_id": "VARCHAR", "match": "VARCHAR", "distance_m": "DOUBLE", "match_score": "DOUBLE",
    "h3": "VARCHAR",
}


def main():
    what, db = sys.argv[1], sys.argv[2]
    con = duckdb.connect(db)
    con.execute("SET TimeZone = 'UTC'")
    if what == "load":
        con.execute(
            "CREATE TABLE reports AS SELECT * FROM read_csv(?, header = true, columns = ?)",
            [sys.argv[3], COLUMNS],
        )
    elif what == "run":
        con.execute(f"SET threads = {int(sys.argv[4])}")
        con.execute(open(sys.argv[3], encoding="utf-8").read())
    elif what == "dump":
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'out'"
        ).fetchall():
            con.execute(f"COPY out.{name} TO '{sys.argv[3]}/duckdb-{name}.csv' (HEADER)")
    con.close()


if __name__ == "__main__":
    main()
