"""assay.stats.agreement against published values and reference implementations."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assay.stats.agreement import (
    GWET_WEIGHTS,
    ICC_FORMS,
    bootstrap_interval,
    cohen_kappa,
    cohen_kappa_interval,
    fleiss_kappa,
    fleiss_kappa_interval,
    gwet_ac1,
    gwet_ac1_interval,
    gwet_ac2_interval,
    icc,
    icc_interval,
    krippendorff_alpha,
    krippendorff_alpha_interval,
    percent_agreement,
    scott_pi,
    to_table,
)

from tests.conftest import BUNDLED, VALIDATION, require_module, require_path

AGREEMENT = VALIDATION / "agreement"
LEVELS = ["nominal", "ordinal", "interval", "ratio"]


@pytest.fixture(scope="module")
def expected():
    """Published values (shared/validation/agreement): a skip here, a failure under CI=true, when missing."""
    return json.loads((require_path(AGREEMENT, "agreement validation data") / "expected_values.json").read_text())


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(AGREEMENT / name)


def _random_reliability(seed: int, raters=4, units=40, levels=5, missing=0.2, agree=0.5):
    """Raters x units ratings 1..levels sharing a latent label, with NaN holes."""
    rng = np.random.default_rng(seed)
    base = rng.integers(1, levels + 1, size=units)
    x = np.where(rng.random((raters, units)) < agree, base,
                 rng.integers(1, levels + 1, size=(raters, units))).astype(float)
    x[rng.random(x.shape) < missing] = np.nan
    return x


# --- published values ----------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_krippendorff_2011_example(expected, level):
    ex = expected["krippendorff_2011_example"]
    data = np.array(ex["reliability_data_rows_are_coders"], dtype=float)
    assert krippendorff_alpha(data, level=level) == pytest.approx(ex["alpha"][level], abs=5e-4)


@pytest.mark.parametrize("level", ["nominal", "interval"])
def test_wikipedia_krippendorff_example(expected, level):
    ex = expected["wikipedia_krippendorff_example"]
    data = np.array(ex["reliability_data_rows_are_coders"], dtype=float)
    assert krippendorff_alpha(data, level=level) == pytest.approx(ex["alpha"][level], abs=1e-6)


def test_fleiss_wikipedia_table(expected):
    table = _csv("fleiss_wikipedia_table.csv").iloc[:, 1:].to_numpy()
    assert fleiss_kappa(table) == pytest.approx(expected["fleiss_wikipedia_table.csv"]["fleiss_kappa"],
                                                abs=5e-4)


def test_fleiss_1971_diagnoses_kappa_and_null_z(expected):
    ex = expected["diagnoses_fleiss1971_sorted.csv"]
    ratings = _csv("diagnoses_fleiss1971_sorted.csv").iloc[:, 1:].to_numpy().T  # raters x units
    table, _ = to_table(ratings)
    assert table.sum(axis=0).tolist() == ex["category_column_sums"]
    assert fleiss_kappa(table) == pytest.approx(ex["fleiss_kappa"], abs=1e-7)
    est = fleiss_kappa_interval(table)
    assert est.estimate == pytest.approx(ex["fleiss_kappa"], abs=1e-7)
    assert est.z == pytest.approx(ex["fleiss_z"], abs=1e-5)


@pytest.mark.parametrize(
    ("key", "cols", "weights"),
    [
        ("kappa2_r1r2_weights_000111", ("rater1", "rater2"), [0, 0, 0, 1, 1, 1]),
        ("kappa2_r1r2_weights_001122", ("rater1", "rater2"), [0, 0, 1, 1, 2, 2]),
        ("kappa2_r2r3_unweighted", ("rater2", "rater3"), None),
        ("kappa2_r2r3_equal", ("rater2", "rater3"), "linear"),
        ("kappa2_r2r3_squared", ("rater2", "rater3"), "quadratic"),
        ("kappa2_r2r3_weights_00112", ("rater2", "rater3"), [0, 0, 1, 1, 2]),
    ],
)
def test_irr_anxiety_weighted_kappas(expected, key, cols, weights):
    ex = expected["anxiety_irr.csv"][key]
    df = _csv("anxiety_irr.csv")
    a, b = df[cols[0]], df[cols[1]]
    assert cohen_kappa(a, b, weights=weights) == pytest.approx(ex["kappa"], abs=1e-7)
    # irr's z uses the variance under chance agreement (Fleiss, Cohen & Everitt 1969)
    assert cohen_kappa_interval(a, b, weights=weights).z == pytest.approx(ex["z"], abs=1e-5)
    assert cohen_kappa_interval(a, b, weights=weights).p_value == pytest.approx(ex["p"], abs=1e-5)


@pytest.mark.parametrize(("key", "weights"), [("unweighted", None),
                                              ("weighted_linear_weights_0_1_2", "linear")])
def test_sas_kappa_table_with_ase(expected, key, weights):
    ex = expected["cohen_sas_table10.csv"][key]
    table = _csv("cohen_sas_table10.csv").iloc[:, 1:].to_numpy()
    k = table.shape[0]
    a = np.repeat(np.arange(k), table.sum(axis=1))
    b = np.concatenate([np.repeat(np.arange(k), row) for row in table])
    est = cohen_kappa_interval(a, b, weights=weights)
    assert est.estimate == pytest.approx(ex["kappa"], abs=5e-5)
    assert est.se == pytest.approx(ex["ase"], abs=5e-5)
    assert est.se_null == pytest.approx(ex["ase_h0"], abs=5e-5)
    assert (est.low, est.high) == pytest.approx(ex["ci95"], abs=5e-5)
    assert est.z == pytest.approx(ex["z"], abs=5e-4)


def test_gwet_raw_4raters(expected):
    ex = expected["gwet_raw_4raters.csv"]
    data = _csv("gwet_raw_4raters.csv").iloc[:, 1:].to_numpy().T  # raters x units
    ac1 = gwet_ac1_interval(data)
    assert ac1.estimate == pytest.approx(ex["unweighted"]["gwet_ac1"], abs=5e-6)
    assert ac1.se == pytest.approx(ex["unweighted"]["ac1_se"], abs=5e-6)
    assert percent_agreement(data) == pytest.approx(ex["unweighted"]["pa"], abs=5e-6)
    fk = fleiss_kappa_interval(to_table(data)[0])
    assert fk.estimate == pytest.approx(ex["unweighted"]["fleiss_kappa"], abs=5e-6)
    assert fk.se == pytest.approx(ex["unweighted"]["fleiss_se"], abs=5e-6)
    assert fk.se_null is None  # unequal raters per unit: Fleiss-Nee-Landis does not apply
    ac2 = gwet_ac2_interval(data, weights="bipolar")
    assert ac2.estimate == pytest.approx(ex["bipolar_weights"]["gwet_ac2"], abs=5e-6)
    assert ac2.se == pytest.approx(ex["bipolar_weights"]["se"], abs=5e-6)
    # same data as Krippendorff (2011); irrCAC prints Krippendorff 0.74342
    assert krippendorff_alpha(data) == pytest.approx(0.74342, abs=5e-6)


def test_shrout_fleiss_1979_table2(expected):
    ex = expected["shrout_fleiss_1979_table2"]
    data = np.array(ex["data_rows_are_targets"], dtype=float)
    for form in ICC_FORMS:
        assert icc(data, form=form) == pytest.approx(ex["icc"][form], abs=5e-5)


def test_anxiety_icc(expected):
    ex = expected["anxiety_irr.csv"]
    data = _csv("anxiety_irr.csv").iloc[:, 1:].to_numpy()
    assert icc(data, form="ICC2") == pytest.approx(ex["icc_twoway_agreement_single"]["value"], abs=5e-4)
    assert icc(data, form="ICC3") == pytest.approx(ex["icc_twoway_consistency_single"]["value"],
                                                   abs=5e-4)


def test_pandalm_annotator_pairwise_kappas():
    path = BUNDLED / "pandalm" / "testset-v1.json"
    rows = json.loads(path.read_text())
    ann = [[r[f"annotator{i}"] for r in rows] for i in (1, 2, 3)]
    got = [cohen_kappa(ann[0], ann[1]), cohen_kappa(ann[0], ann[2]), cohen_kappa(ann[1], ann[2])]
    # the annotators' pairwise kappas as listed for this data in shared/validation/README.md (pandalm row)
    assert got == pytest.approx([0.8520, 0.8789, 0.8617], abs=5e-5)


# --- reference implementations on random data ---------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("level", LEVELS)
def test_alpha_matches_krippendorff_package(seed, level):
    krippendorff = require_module("krippendorff")
    data = _random_reliability(seed, raters=2 + seed % 4, units=30 + 7 * seed)
    ref = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    assert krippendorff_alpha(data, level=level) == pytest.approx(ref, abs=1e-9)


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_matches_krippendorff_package_on_continuous_values(level):
    krippendorff = require_module("krippendorff")
    rng = np.random.default_rng(7)
    data = rng.gamma(2.0, 1.5, size=(3, 25)) + rng.normal(0, 0.3, size=25)
    data = np.abs(data)
    data[rng.random(data.shape) < 0.15] = np.nan
    ref = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    assert krippendorff_alpha(data, level=level) == pytest.approx(ref, abs=1e-9)


def test_alpha_string_labels_follow_given_order():
    krippendorff = require_module("krippendorff")
    order = ["low", "mid", "high", "top"]
    num = _random_reliability(3, levels=4)
    words = np.where(np.isnan(num), None, np.array(order + [None], dtype=object)[
        np.nan_to_num(num, nan=5).astype(int) - 1])
    for level in ["nominal", "ordinal", "interval"]:
        ref = krippendorff.alpha(reliability_data=num, level_of_measurement=level)
        assert krippendorff_alpha(words, level=level, categories=order) == pytest.approx(ref, abs=1e-9)
    # without an order, string labels are nominal only
    with pytest.raises(ValueError, match="explicit category order"):
        krippendorff_alpha(words, level="interval")


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_matches_sklearn_and_statsmodels(seed, weights):
    sklearn_metrics = require_module("sklearn.metrics")
    inter_rater = require_module("statsmodels.stats.inter_rater")
    x = _random_reliability(seed, raters=2, units=60, missing=0.0)
    a, b = x[0].astype(int), x[1].astype(int)
    ref = sklearn_metrics.cohen_kappa_score(a, b, weights=weights)
    assert cohen_kappa(a, b, weights=weights) == pytest.approx(ref, abs=1e-9)
    labels = np.union1d(a, b)
    table = pd.crosstab(pd.Categorical(a, labels), pd.Categorical(b, labels), dropna=False).to_numpy()
    res = inter_rater.cohens_kappa(table, wt=weights)
    est = cohen_kappa_interval(a, b, weights=weights)
    assert est.estimate == pytest.approx(res.kappa, abs=1e-9)
    assert est.se == pytest.approx(res.std_kappa, abs=1e-9)
    assert est.se_null == pytest.approx(res.std_kappa0, abs=1e-9)


def test_cohen_drops_units_either_rater_skipped_and_takes_strings():
    sklearn_metrics = require_module("sklearn.metrics")
    a = ["yes", "no", None, "yes", "no", "no", "yes", np.nan]
    b = ["yes", "no", "no", "no", None, "no", "yes", "yes"]
    keep = [0, 1, 3, 5, 6]
    ref = sklearn_metrics.cohen_kappa_score([a[i] for i in keep], [b[i] for i in keep])
    assert cohen_kappa(a, b) == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_fleiss_matches_statsmodels_and_equals_scott_pi_for_two_raters(seed):
    inter_rater = require_module("statsmodels.stats.inter_rater")
    x = _random_reliability(seed, raters=3 + seed, units=50, missing=0.0)
    table, _ = to_table(x)
    assert fleiss_kappa(table) == pytest.approx(inter_rater.fleiss_kappa(table), abs=1e-9)
    two = x[:2]
    assert scott_pi(two[0], two[1]) == pytest.approx(fleiss_kappa(to_table(two)[0]), abs=1e-12)


# irrCAC 0.4.4's answers on seeded data, computed under pandas 2 by data/make_irrcac_reference.py
# (irrCAC silently gives wrong answers under pandas 3, so it cannot run beside the tests)
IRRCAC = json.loads((Path(__file__).parent / "data" / "irrcac_reference.json").read_text())["cases"]


def _irrcac(test: str, **match) -> list[dict]:
    cases = [c for c in IRRCAC if c["test"] == test and all(c[k] == v for k, v in match.items())]
    assert cases, f"no irrCAC reference for {test} {match}"
    return cases


def _ratings(case: dict) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in case["ratings"]], dtype=float)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("weights", GWET_WEIGHTS)
def test_gwet_matches_irrcac_with_missing_values(seed, weights):
    (case,) = _irrcac("gwet", seed=seed, weights=weights)
    x, ref = _ratings(case), case["irrcac"]
    assert np.array_equal(np.isnan(x), np.isnan(_random_reliability(seed, raters=3 + seed % 3, units=35,
                                                                      missing=0.25)))
    est = gwet_ac2_interval(x, weights=weights)
    assert est.estimate == pytest.approx(ref["coefficient_value"], abs=1e-9)
    assert est.se == pytest.approx(ref["se"], abs=1e-9)
    if weights == "identity":
        assert gwet_ac1(x) == pytest.approx(ref["coefficient_value"], abs=1e-9)
        assert percent_agreement(x) == pytest.approx(ref["pa"], abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_fleiss_matches_irrcac_with_missing_values(seed):
    (case,) = _irrcac("fleiss", seed=seed)
    x, ref = _ratings(case), case["irrcac"]
    est = fleiss_kappa_interval(to_table(x)[0])
    assert est.estimate == pytest.approx(ref["coefficient_value"], abs=1e-9)
    assert est.se == pytest.approx(ref["se"], abs=1e-9)


def test_gwet_q_counts_the_scale_not_only_observed_categories():
    (case,) = _irrcac("gwet_scale")
    x, ref, scale = _ratings(case), case["irrcac"], case["categories"]
    assert gwet_ac1(x, categories=scale) == pytest.approx(ref["coefficient_value"], abs=1e-9)
    assert gwet_ac1(x, categories=scale) != pytest.approx(gwet_ac1(x), abs=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_icc_matches_pingouin(seed):
    pg = require_module("pingouin")
    rng = np.random.default_rng(seed)
    n, k = 15 + seed * 5, 3 + seed % 3
    data = rng.normal(size=(n, 1)) * (1 + seed) + rng.normal(size=(n, k)) + rng.normal(size=k)
    long = pd.DataFrame(data).reset_index().melt(id_vars="index")
    ref = pg.intraclass_corr(long, targets="index", raters="variable", ratings="value")
    names = {"ICC1": "ICC(1,1)", "ICC2": "ICC(A,1)", "ICC3": "ICC(C,1)", "ICC1k": "ICC(1,k)",
             "ICC2k": "ICC(A,k)", "ICC3k": "ICC(C,k)"}  # pingouin 0.5 uses McGraw-Wong names
    for form, row in zip(ICC_FORMS, ref.itertuples()):
        assert row.Type == names[form]
        assert icc(data, form=form) == pytest.approx(row.ICC, abs=1e-9)
        est = icc_interval(data, form=form)
        assert (est.low, est.high) == pytest.approx(tuple(row.CI95), abs=0.005 + 1e-9)  # 2 decimals


# --- degenerate input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "data", "message"),
    [
        (krippendorff_alpha, [[1, 2, 3]], "two raters"),
        (krippendorff_alpha, [[1, np.nan, 3], [np.nan, 2, np.nan]], "two or more raters"),
        (krippendorff_alpha, [[1, 1, 1], [1, 1, np.nan]], "single category"),
        (gwet_ac1, [[1, 2, 3]], "two raters"),
        (gwet_ac1, [["a", "a"], ["a", "a"]], "one category"),
        (gwet_ac1, [[1, np.nan], [np.nan, 2]], "two or more raters"),
        (percent_agreement, [[1, np.nan], [np.nan, 2]], "two or more raters"),
        (fleiss_kappa, [[3, 0], [3, 0]], "one category"),
        (fleiss_kappa, [[1, 0], [0, 1]], "fewer than two raters"),
        (icc, [[1.0], [2.0]], "two raters"),
        (icc, [[1.0, 1.0], [1.0, 1.0]], "no variance"),
        (icc, [[1.0, np.nan], [2.0, 2.0], [3, 3]], "complete data"),
    ],
)
def test_degenerate_input_raises_with_reason(fn, data, message):
    with pytest.raises(ValueError, match=message):
        fn(np.array(data, dtype=object if fn is gwet_ac1 else float)
           if not isinstance(data[0][0], str) else data)


def test_two_rater_degenerate_input():
    with pytest.raises(ValueError, match="one category"):
        cohen_kappa(["a", "a", "a"], ["a", "a", "a"])
    with pytest.raises(ValueError, match="chance disagreement is zero"):
        cohen_kappa(["a", "a", "a"], ["a", "a", "a"], categories=["a", "b"])
    assert cohen_kappa(["a", "a", "b"], ["b", "b", "b"]) == 0.0  # defined: chance explains all
    with pytest.raises(ValueError, match="both raters"):
        cohen_kappa([1, None], [None, 2])
    with pytest.raises(ValueError, match="one category"):
        scott_pi(["x", "x"], ["x", "x"])
    assert percent_agreement([["a", "a"], ["a", "a"]]) == 1.0  # defined without chance correction


def test_icc_omits_incomplete_units_when_asked():
    data = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, np.nan, 6], [10, 5, 6, 9],
                     [6, 2, 4, 7]], dtype=float)
    assert icc(data, nan_policy="omit") == pytest.approx(icc(np.delete(data, 3, axis=0)), abs=1e-12)


# --- intervals ------------------------------------------------------------------------------


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate():
    x = _random_reliability(5, raters=3, units=60, missing=0.1, agree=0.7)
    fn = functools.partial(gwet_ac1)
    one = bootstrap_interval(fn, x, rounds=300, random_state=42)
    two = bootstrap_interval(fn, x, rounds=300, random_state=42)
    other = bootstrap_interval(fn, x, rounds=300, random_state=43)
    assert one == two
    assert one != other
    assert one.low < one.estimate < one.high
    assert one.method == "bootstrap-percentile" and one.rounds == 300
    # the bootstrap SE and Gwet's analytic SE estimate the same quantity
    assert one.se == pytest.approx(gwet_ac1_interval(x).se, rel=0.3)


def test_bootstrap_interval_resamples_paired_arrays_together():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, 200)
    b = np.where(rng.random(200) < 0.7, a, rng.integers(0, 3, 200))
    boot = bootstrap_interval(cohen_kappa, (a, b), rounds=400, random_state=1)
    assert boot.se == pytest.approx(cohen_kappa_interval(a, b).se, rel=0.2)
    with pytest.raises(ValueError, match="same number of units"):
        bootstrap_interval(cohen_kappa, (a, b[:-1]))


def test_bootstrap_interval_over_table_rows_for_fleiss():
    x = _random_reliability(12, raters=5, units=80, missing=0.0, agree=0.6)
    table, _ = to_table(x)
    est = bootstrap_interval(fleiss_kappa, table, unit_axis=0, rounds=400, random_state=3)
    assert est.estimate == fleiss_kappa(table)
    assert est.se == pytest.approx(fleiss_kappa_interval(table).se, rel=0.25)


def test_bootstrap_interval_with_units_on_axis_0_for_icc():
    rng = np.random.default_rng(2)
    data = rng.normal(size=(40, 1)) + rng.normal(size=(40, 3)) * 0.5
    est = bootstrap_interval(icc, data, unit_axis=0, rounds=200, random_state=0)
    assert est.low < icc(data) < est.high


@pytest.mark.parametrize("level", LEVELS)
def test_fast_alpha_bootstrap_matches_naive_unit_bootstrap(level):
    x = _random_reliability(9, raters=4, units=50, missing=0.2, agree=0.6)
    fast = krippendorff_alpha_interval(x, level=level, rounds=2000, random_state=0)
    naive = bootstrap_interval(functools.partial(krippendorff_alpha, level=level), x,
                               rounds=1000, random_state=0)
    assert fast.estimate == naive.estimate == krippendorff_alpha(x, level=level)
    # same resampling distribution, different random streams: compare its moments
    assert fast.se == pytest.approx(naive.se, rel=0.12)
    assert fast.low == pytest.approx(naive.low, abs=0.04)
    assert fast.high == pytest.approx(naive.high, abs=0.04)
    again = krippendorff_alpha_interval(x, level=level, rounds=2000, random_state=0)
    assert again == fast


def test_analytic_intervals_cap_at_one_and_report_method():
    x = np.array([[1, 2, 3, 1, 2, 3, 1, 2], [1, 2, 3, 1, 2, 3, 1, 3]], dtype=float)
    est = gwet_ac1_interval(x)
    assert est.high <= 1.0 and est.method == "analytic-t"
    assert cohen_kappa_interval(x[0], x[1]).method == "analytic-normal"
    with pytest.raises(ValueError, match="confidence"):
        cohen_kappa_interval(x[0], x[1], confidence=1.5)


# --- property test: any small reliability data, including degenerate ones ------------------


def test_alpha_agrees_with_krippendorff_on_arbitrary_small_data():
    krippendorff = require_module("krippendorff")
    hyp = require_module("hypothesis")
    st = require_module("hypothesis.strategies")
    hnp = require_module("hypothesis.extra.numpy")
    import warnings

    cells = st.sampled_from([np.nan, 1.0, 2.0, 3.0, 4.0, 7.0])
    shapes = st.tuples(st.integers(2, 5), st.integers(1, 12))

    @hyp.settings(max_examples=80, deadline=None, derandomize=True)
    @hyp.given(data=hnp.arrays(float, shapes, elements=cells), level=st.sampled_from(LEVELS))
    def check(data, level):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ref = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
            except (ValueError, ZeroDivisionError):
                ref = np.nan
        if not np.isfinite(ref):
            with pytest.raises(ValueError):
                krippendorff_alpha(data, level=level)
        else:
            assert krippendorff_alpha(data, level=level) == pytest.approx(ref, abs=1e-9)

    check()


def test_alpha_many_distinct_values_uses_moments(monkeypatch):
    krippendorff = require_module("krippendorff")
    import assay.stats._krippendorff as kmod

    rng = np.random.default_rng(8)
    data = rng.normal(size=60) + rng.normal(scale=0.8, size=(4, 60))
    data[rng.random(data.shape) < 0.25] = np.nan
    ref = krippendorff.alpha(reliability_data=data, level_of_measurement="interval")
    dense = krippendorff_alpha_interval(data, level="interval", rounds=400, random_state=0)
    monkeypatch.setattr(kmod, "DENSE_MAX", 10)  # force the per-unit moments path
    assert krippendorff_alpha(data, level="interval") == pytest.approx(ref, abs=1e-9)
    moments = krippendorff_alpha_interval(data, level="interval", rounds=400, random_state=0)
    assert moments.estimate == pytest.approx(ref, abs=1e-9)
    assert moments.se == pytest.approx(dense.se, rel=0.2)
    with pytest.raises(ValueError, match="not supported"):
        krippendorff_alpha(data, level="ordinal")


@pytest.mark.parametrize("seed", range(3))
def test_pair_agreement_matches_the_references_and_drops_missing_units(seed):
    sklearn_metrics = require_module("sklearn.metrics")
    from scipy.stats import spearmanr

    from assay.stats.agreement import pair_agreement

    x = _random_reliability(seed, raters=2, units=60, missing=0.2)
    both = ~np.isnan(x).any(axis=0)
    a, b = x[0][both], x[1][both]
    scale = [1.0, 2.0, 3.0, 4.0, 5.0]
    r = pair_agreement(list(x[0]), [None if np.isnan(v) else v for v in x[1]], level="ordinal",
                       categories=scale, weights="quadratic")
    assert r.n == both.sum() and r.errors == {}
    assert r.percent == pytest.approx(np.mean(a == b))
    assert r.kappa == pytest.approx(sklearn_metrics.cohen_kappa_score(a, b, labels=scale))
    assert r.weighted_kappa == pytest.approx(sklearn_metrics.cohen_kappa_score(a, b, labels=scale,
                                                                               weights="quadratic"))
    assert r.alpha == pytest.approx(krippendorff_alpha(x, level="ordinal", categories=scale))
    assert r.spearman == pytest.approx(spearmanr(a, b).statistic)


def test_pair_agreement_says_why_a_figure_is_undefined():
    from assay.stats.agreement import pair_agreement

    one = pair_agreement(["yes"] * 4, ["yes", "yes", "yes", "yes"])
    assert one.percent == 1.0 and one.kappa is None and one.alpha is None and one.spearman is None
    assert set(one.errors) == {"kappa", "alpha"}
    cont = pair_agreement([1.5, 2.0], [1.0, 2.5], level="interval")
    assert cont.kappa is None and "kappa" not in cont.errors and "spearman" in cont.errors
    assert pair_agreement([None], [1]).n == 0
