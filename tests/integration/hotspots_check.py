"""Gi* of predio's `hotspots --out` CSV against PySAL esda on the same cells.

The neighbours are built here, independently of predio: the study cells within one step of
each cell (h3-py's grid_disk). esda's G_Local(transform="B", star=True) gives the statistic and
its z-score; scipy's Benjamini-Hochberg gives the q-values. With the catalog's sectors, each
cell's `sector` is checked against the sector whose polygon holds its centre (GEOS, shapely).
Where predio computed permutation p-values (`p_sim`), esda's own (999 conditional
randomizations) must agree within Monte-Carlo error (four standard errors, for 99 % of the
cells), and each cell must be flagged at FDR 5 % on them alike, or not, in 95 % of the cells.
Usage: hotspots_check.py FILE.csv [SECTORS.fgb]
Prints a JSON summary; exits non-zero on any difference.
"""
import json
import sys

import h3
import numpy as np
import pandas as pd
from esda.getisord import G_Local
from libpysal.weights import W
from scipy import stats

ours = pd.read_csv(sys.argv[1], dtype={"cell": str})
cells = list(ours["cell"])
study = set(cells)
neighbors = {c: sorted(d for d in h3.grid_disk(c, 1) if d != c and d in study) for c in cells}
w = W(neighbors, id_order=cells, silence_warnings=True)
y = ours["value"].to_numpy(dtype=float)
g = G_Local(y, w, transform="B", star=True, permutations=0)
two_sided = 2 * g.p_norm
q = stats.false_discovery_control(two_sided, method="bh")

problems = []
def check(name, a, b, tol):
    d = np.abs(np.asarray(a) - np.asarray(b))
    if not (d <= tol).all():
        i = int(d.argmax())
        problems.append(f"{name}: {cells[i]} predio {a[i]!r} esda {b[i]!r}")
    return float(d.max())

summary = {
    "cells": len(cells),
    "neighbours_equal": bool((ours["neighbours"].to_numpy() == [len(neighbors[c]) for c in cells]).all()),
    "max_diff_g": check("G", ours["g"].to_numpy(), g.Gs, 1e-9),
    "max_diff_z": check("z", ours["z"].to_numpy(), g.Zs, 1e-9),
    "max_diff_p": check("p", ours["p"].to_numpy(), two_sided, 1e-6),
    "max_diff_q": check("q", ours["q"].to_numpy(), q, 1e-6),
    "hot": int((ours["class"] == "hot").sum()),
}
if "p_sim" in ours and ours["p_sim"].notna().all():
    perms = 999
    gp = G_Local(y, w, transform="B", star=True, permutations=perms, seed=7)
    ps, pe = ours["p_sim"].to_numpy(), np.asarray(gp.p_sim)
    se = np.sqrt(np.maximum(pe * (1 - pe), 1 / perms) / perms)
    close = np.abs(ps - pe) <= 4 * se + 0.002
    summary["p_sim_within_error"] = float(close.mean())
    if close.mean() < 0.99:
        i = int((~close).argmax())
        problems.append(f"p_sim: {1 - close.mean():.1%} of cells off, e.g. {cells[i]} predio {ps[i]} esda {pe[i]}")
    ours_flag = ours["q_sim"].to_numpy() < 0.05
    esda_flag = stats.false_discovery_control(pe, method="bh") < 0.05
    agree = float((ours_flag == esda_flag).mean())
    summary["flagged"] = [int(ours_flag.sum()), int(esda_flag.sum())]
    summary["flags_agree"] = agree
    if agree < 0.95:
        problems.append(f"flagged at FDR 5 %: predio {ours_flag.sum()}, esda {esda_flag.sum()}, the same in {agree:.1%} of cells")
if len(sys.argv) > 2:
    import pyogrio
    import shapely
    sectors = pyogrio.read_dataframe(sys.argv[2])
    centres = shapely.points([h3.cell_to_latlng(c)[::-1] for c in cells])
    expected = [""] * len(cells)
    for p, s in zip(*shapely.STRtree(sectors.geometry.to_numpy()).query(centres, predicate="within")):
        if not expected[p]:
            expected[p] = sectors["name"].iloc[s]
    got = ours["sector"].fillna("").tolist()
    wrong = [c for c, a, b in zip(cells, got, expected) if a != b]
    if wrong:
        problems.append(f"sector of {len(wrong)} cells differs, e.g. {wrong[:3]}")
    summary["named"] = sum(1 for e in expected if e)
if not summary["neighbours_equal"]:
    problems.append("neighbour counts differ")
print(json.dumps(summary))
if problems:
    sys.exit("\n".join(problems))
