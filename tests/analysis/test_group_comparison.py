"""group_comparison on arrays gives what the definitions (consensus, rater_agreement, judge_vs_humans) give.

The definitions work on one rater -> unit -> label mapping at a time; the report computes
the same figures on arrays for millions of labels. Seeded random data on every scale,
with missing labels, ties among the humans, raters with no label and units one rater saw.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from assay.analysis.agreement import _row, consensus, group_comparison, judge_vs_humans, rater_agreement

SCALES = {
    "ordinal": [1.0, 2.0, 3.0, 4.0, 5.0],
    "binary": [0.0, 1.0],
    "categorical": ["cat", "dog", "eel"],
    "continuous": None,
}


def frame(scale: str, seed: int, humans: int, judges: int, units: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    cats = SCALES[scale]
    for k in range(humans + judges):
        rater = f"human:h{k}" if k < humans else f"llm:j{k}"
        for u in range(units):
            if rng.random() < 0.25:
                continue  # not rated
            if scale == "continuous":
                v: object = float(np.round(rng.normal(u % 7, 1.0), 3))
            else:
                v = cats[int(rng.integers(0, len(cats)))] if rng.random() < 0.6 else cats[u % len(cats)]
            if rng.random() < 0.05:
                v = None if scale == "categorical" else math.nan  # a judgment without a value
            rows.append({"unit": f"u{u:03d}", "rater": rater, "rater_kind": "human" if k < humans else "llm",
                         "label" if scale == "categorical" else "value": v})
    if humans:  # a human whose every label is missing
        rows.append({"unit": "u000", "rater": "human:zz-empty", "rater_kind": "human",
                     "label" if scale == "categorical" else "value": None if scale == "categorical" else math.nan})
    return pd.DataFrame(rows)


def reference(df: pd.DataFrame, scale: str, value: str, cats) -> list[dict]:
    labels = {r: dict(zip(g["unit"], g[value])) for r, g in df.groupby("rater")}
    humans = sorted(df.loc[df["rater_kind"] == "human", "rater"].unique())
    judges = sorted(df.loc[df["rater_kind"] != "human", "rater"].unique())
    rows = []
    for h in humans:
        others = [o for o in humans if o != h]
        if others:
            stats = rater_agreement(labels[h], consensus(labels, others, scale), scale=scale, categories=cats)
            rows.append({"rater": h, "kind": "human", "against": "other humans"} | _row(stats))
    if humans:
        for j in judges:
            res = judge_vs_humans(labels, j, humans, scale=scale, categories=cats)
            rows.append({"rater": j, "kind": "llm", "against": "human consensus",
                         "mean_kappa_with_each_human": res["mean_kappa"]} | _row(res["vs_consensus"]))
    return rows


def same(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, float) and isinstance(y, float):
            if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12):
                return False
        elif x != y:
            return False
    return True


@pytest.mark.parametrize("scale", list(SCALES))
@pytest.mark.parametrize("seed", range(6))
def test_the_arrays_give_the_definitions_figures(scale, seed):
    humans, judges, units = [(3, 2, 60), (4, 1, 25), (2, 2, 40), (5, 3, 80), (3, 0, 30), (6, 1, 12)][seed]
    df = frame(scale, seed, humans, judges, units)
    value = "label" if scale == "categorical" else "value"
    got = group_comparison(df, scale, value, SCALES[scale])["rows"]
    want = reference(df, scale, value, SCALES[scale])
    assert len(got) == len(want) > 0
    for g, w in zip(got, want):
        assert same(g, w), (g, w)


def test_no_humans_no_rows():
    df = frame("ordinal", 1, 0, 2, 20)
    assert group_comparison(df, "ordinal", "value", SCALES["ordinal"])["rows"] == []


@pytest.mark.parametrize("levels", [2, 5, 64, 65, 400])
@pytest.mark.parametrize("leave_out", [False, True])
def test_the_lower_median_by_counts_and_by_sorting_is_statistics_median_low(levels, leave_out):
    """A rating scale (<= 64 levels) takes the per-unit counts; finer values the sort: both are median_low."""
    import statistics

    from assay.analysis import _consensus as C

    rng = np.random.default_rng(levels)
    n = 3000
    u = rng.integers(0, 400, n)
    r = rng.integers(0, 9, n)
    keep = np.unique(u * 9 + r, return_index=True)[1]  # one label per (unit, rater)
    u, r = u[keep], r[keep]
    v = rng.integers(0, levels, u.size).astype(float) / 2
    assert (np.unique(v).size <= C._FEW_LEVELS) == (levels <= 64)
    cu, cr, cv = C._median_low(u, r, v, leave_out)
    votes: dict[int, list[tuple[int, float]]] = {}
    for a, b, c in zip(u, r, v):
        votes.setdefault(int(a), []).append((int(b), float(c)))
    want = {}
    for unit, vs in votes.items():
        if not leave_out:
            want[(unit, -1)] = statistics.median_low([x for _, x in vs])
        else:
            for rater, _ in vs:
                others = [x for o, x in vs if o != rater]
                if others:
                    want[(unit, rater)] = statistics.median_low(others)
    got = {(int(a), int(b)): float(c) for a, b, c in zip(cu, cr, cv)}
    assert got == want
