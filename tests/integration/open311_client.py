"""An Open311 client from PyPI (georeport 0.3.1) reads a predio server's public requests.

Usage: open311_client.py BASE_URL AUDITOR_KEY H3_RES START END

Prints JSON: what the client read without a key (services, the requests of a date range and
one request, each in JSON and in XML), the auditor's answer to the same range (read with the
key by `requests`), and for each of the auditor's requests with a point the centre of its H3
cell at H3_RES, computed by the h3 library.
"""
import json
import sys

import h3
import requests
from georeport import GeoReport

base, key, res, start, end = sys.argv[1:6]
root = base.rstrip("/") + "/open311/v2"
out = {}
for fmt in ("json", "xml"):
    client = GeoReport(root, output_format=fmt)
    out[f"services_{fmt}"] = client.get_service_list()
    rows = client.get_service_requests(start_date=start, end_date=end)
    if isinstance(rows, dict):  # xmltodict: one <request> is not a list
        rows = [rows]
    out[f"requests_{fmt}"] = rows
    out[f"one_{fmt}"] = client.get_service_request(rows[-1]["service_request_id"])

audit = requests.get(
    f"{root}/requests.json",
    params={"start_date": start, "end_date": end},
    headers={"X-API-Key": key},
    timeout=60,
)
audit.raise_for_status()
out["auditor"] = audit.json()
out["h3_centres"] = {
    r["service_request_id"]: h3.cell_to_latlng(h3.latlng_to_cell(r["lat"], r["long"], int(res)))
    for r in out["auditor"]
    if "lat" in r
}
print(json.dumps(out))
