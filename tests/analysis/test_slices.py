"""The slice search on feature tables: exact against a brute-force reference, planted slices found, FDR kept."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from assay.analysis.slices import Feature, SliceSearch, find_slices
from assay.errors import BadInput
from assay.testing.planted import planted_data


def _brute(features, y, min_size):
    """Every slice of one or two predicates with at least min_size rows, by masks."""
    n = len(y)
    preds = [(f, v) for f in features for v in range(len(f.labels))]
    out = {}
    for k in (1, 2):
        for combo in itertools.combinations(preds, k):
            if k == 2 and combo[0][0] is combo[1][0] and not combo[0][0].is_multi:
                continue
            mask = np.ones(n, dtype=bool)
            for f, v in combo:
                mask &= f.mask(v, n)
            if mask.sum() >= min_size and mask.sum() < n:
                out[" AND ".join(f"{f.name}={f.labels[v]}" for f, v in combo)] = mask
    return out


def test_pairs_match_masks_and_scipy():
    rng = np.random.default_rng(3)
    n = 600
    cat = Feature.categorical("c", rng.choice(["a", "b", "c", None], n))
    other = Feature.categorical("d", rng.choice(["x", "y", "z"], n))
    tags = Feature.multi("t", [list(rng.choice(["p", "q", "r"], rng.integers(0, 3), replace=False)) for _ in range(n)])
    y = rng.normal(size=n)
    res = find_slices([cat, other, tags], y, search=SliceSearch(min_size=15))
    brute = _brute([cat, other, tags], y, 15)
    got = res.slices.set_index("slice")
    # every brute-force slice is tested unless it has the rows of a parent (the same test)
    assert set(got.index) <= set(brute)
    for name, mask in brute.items():
        if name not in got.index:
            parts = name.split(" AND ")
            assert len(parts) == 2 and any(brute[p].sum() == mask.sum() for p in parts if p in brute)
            continue
        row = got.loc[name]
        assert row["n"] == mask.sum()
        ref = stats.ttest_ind(y[mask], y[~mask], equal_var=False)
        assert row["value_in"] == pytest.approx(y[mask].mean(), abs=1e-9)
        assert row["p"] == pytest.approx(ref.pvalue, rel=1e-6)


def test_failure_rates_and_two_sided_z():
    rng = np.random.default_rng(5)
    f = Feature.categorical("f", rng.choice(["a", "b", "c"], 900))
    y = (rng.random(900) < np.where(f.codes == 0, 0.5, 0.2)).astype(float)
    res = find_slices([f], y, search=SliceSearch(max_level=1))
    a = res.slices.set_index("slice").loc["f=a"]
    m = f.codes == 0
    k1, n1, k2, n2 = y[m].sum(), m.sum(), y[~m].sum(), (~m).sum()
    pooled = (k1 + k2) / (n1 + n2)
    z = (k1 / n1 - k2 / n2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    assert a["p"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
    assert a["significant"] and a["ci_low"] < a["diff"] < a["ci_high"] and a["diff"] > 0.2


def test_two_valued_feature_is_tested_once():
    f = Feature.categorical("b", ["yes", "no"] * 50)
    res = find_slices([f], np.arange(100) % 3 == 0, search=SliceSearch(max_level=1))
    assert res.tested == 1  # "b=no" is the complement of "b=yes": the same test


@pytest.mark.parametrize("binary", [True, False])
def test_planted_slices_found_and_fdr_kept(binary):
    """A few seeded runs of benchmarks/validate_slices.py's design (200 runs are in benchmarks/README.md)."""
    from assay.testing.planted import PlantedSlice

    planted = None if binary else (PlantedSlice(((0, 0),), 0.4), PlantedSlice(((1, 1),), 0.3),
                                   PlantedSlice(((2, 0), (3, 1)), 0.6), PlantedSlice(((4, 2), (5, 0)), 0.5))
    recall, fdp = [], []
    for seed in range(8):
        d = planted_data(seed, binary=binary, planted=planted, base=0.1 if binary else 0.0)
        sig = find_slices(d.features, d.y, binary=binary).significant()
        keys = [d.key(p) for p in sig["predicates"]]
        truth = {tuple(sorted(s.predicates)) for s in d.planted}
        recall.append(len(truth & set(keys)) / len(truth))
        fdp.append(sum(d.is_null(k) for k in keys) / max(len(keys), 1))
    assert np.mean(recall) >= 0.9
    # nominal 0.05; with 8 runs the mean false discovery proportion is noisy, so twice the level
    assert np.mean(fdp) <= 0.10


def test_nothing_planted_rarely_reports():
    """With no effect anywhere every report is false: BH keeps P(any report) near alpha."""
    runs = [len(find_slices((d := planted_data(s, planted=())).features, d.y).significant()) for s in range(10)]
    assert sum(r > 0 for r in runs) <= 3  # expected at most 0.5 of 10; 3 or more has probability < 0.02


def test_pairs_beyond_parents_keep_planted_pairs():
    d = planted_data(11)
    res = find_slices(d.features, d.y)
    shown = set(res.shown()["slice"])
    assert {"f2=v0 AND f3=v1", "f4=v2 AND f5=v0", "f0=v0", "f1=v1"} <= shown
    sig = res.significant()
    echoes = sig[(sig["level"] == 2) & sig["slice"].str.startswith("f0=v0 AND f7")]
    assert not set(echoes["slice"]) & shown  # f0=v0's effect seen again through a null feature


@pytest.mark.parametrize("kwargs, param", [({"min_size": 0}, "min_size"), ({"max_level": 3}, "max_level"),
                                           ({"fdr": "holm"}, "fdr")])
def test_search_settings_refused(kwargs, param):
    with pytest.raises(BadInput) as e:
        find_slices([Feature.categorical("f", ["a", "b"])], [0, 1], search=SliceSearch(**kwargs))
    assert e.value.param == param
