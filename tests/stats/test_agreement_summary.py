"""Agreement summaries: every coefficient equals the raw functions, the pattern bootstrap equals a
unit bootstrap on the same draws, and shards merge to the one-pass figures exactly."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from assay.stats.agreement import (
    GWET_WEIGHTS,
    ICC_FORMS,
    LEVELS,
    AgreementSummary,
    Estimate,
    SummaryBootstrap,
    bootstrap_interval,
    cohen_kappa,
    cohen_kappa_interval,
    fleiss_kappa,
    fleiss_kappa_interval,
    gwet_ac1,
    gwet_ac1_interval,
    gwet_ac2,
    gwet_ac2_interval,
    icc,
    icc_interval,
    krippendorff_alpha,
    krippendorff_alpha_interval,
    merge_summaries,
    percent_agreement,
    summarise,
    to_table,
)

from tests.conftest import VALIDATION, require_path

AGREEMENT = VALIDATION / "agreement"
TOL = 1e-12


def _random_reliability(seed: int, raters=4, units=40, levels=5, missing=0.2, agree=0.5):
    """Raters x units ratings 1..levels sharing a latent label, with NaN holes."""
    rng = np.random.default_rng(seed)
    base = rng.integers(1, levels + 1, size=units)
    x = np.where(rng.random((raters, units)) < agree, base,
                 rng.integers(1, levels + 1, size=(raters, units))).astype(float)
    x[rng.random(x.shape) < missing] = np.nan
    return x


def _case(seed: int) -> np.ndarray:
    """Varied shapes: 2-6 raters, 5-150 units, 2-6 levels, 0-45% missing."""
    rng = np.random.default_rng(1000 + seed)
    return _random_reliability(seed, raters=int(rng.integers(2, 7)), units=int(rng.integers(5, 151)),
                               levels=int(rng.integers(2, 7)), missing=float(rng.uniform(0, 0.45)),
                               agree=float(rng.uniform(0, 0.9)))


def _same(summary_fn: Callable[[], object], raw_fn: Callable[[], object]) -> None:
    """Both raise ValueError, or both give the same figure (or Estimate) to TOL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            want = raw_fn()
        except ValueError:
            with pytest.raises(ValueError):
                summary_fn()
            return
        got = summary_fn()
    if isinstance(want, Estimate):
        assert isinstance(got, Estimate)
        for f in dataclasses.fields(Estimate):
            a, b = getattr(got, f.name), getattr(want, f.name)
            if isinstance(b, float):
                assert a == pytest.approx(b, abs=TOL, nan_ok=True), f.name
            else:
                assert a == b, f.name
    else:
        assert got == pytest.approx(want, abs=TOL)


def _all_figures(s: AgreementSummary, x: np.ndarray, categories=None) -> None:
    """Every coefficient and analytic interval of ``s`` against the raw functions on ``x``."""
    kw = {} if categories is None else {"categories": categories}
    _same(s.percent_agreement, lambda: percent_agreement(x, **kw))
    for level in LEVELS:
        _same(functools.partial(s.krippendorff_alpha, level=level),
              lambda level=level: krippendorff_alpha(x, level=level, **kw))
    _same(s.fleiss_kappa, lambda: fleiss_kappa(to_table(x, **kw)[0]))
    _same(s.fleiss_kappa_interval, lambda: fleiss_kappa_interval(to_table(x, **kw)[0]))
    _same(s.gwet_ac1, lambda: gwet_ac1(x, **kw))
    _same(s.gwet_ac1_interval, lambda: gwet_ac1_interval(x, **kw))
    for w in GWET_WEIGHTS:
        _same(functools.partial(s.gwet_ac2, weights=w), lambda w=w: gwet_ac2(x, weights=w, **kw))
        _same(functools.partial(s.gwet_ac2_interval, weights=w),
              lambda w=w: gwet_ac2_interval(x, weights=w, **kw))
    for i, j in itertools.combinations(range(x.shape[0]), 2):
        for w in (None, "linear", "quadratic"):
            pair = (s.raters[i], s.raters[j])
            _same(functools.partial(s.cohen_kappa, weights=w, raters=pair),
                  lambda i=i, j=j, w=w: cohen_kappa(x[i], x[j], weights=w, **kw))
            _same(functools.partial(s.cohen_kappa_interval, weights=w, raters=pair),
                  lambda i=i, j=j, w=w: cohen_kappa_interval(x[i], x[j], weights=w, **kw))
    if s.numeric:
        for form in ICC_FORMS:
            for policy in ("omit", "raise"):
                _same(functools.partial(s.icc, form=form, nan_policy=policy),
                      lambda form=form, policy=policy: icc(x.T.astype(float), form=form, nan_policy=policy))
            _same(functools.partial(s.icc_interval, form=form, nan_policy="omit"),
                  lambda form=form: icc_interval(x.T.astype(float), form=form, nan_policy="omit"))


# --- every coefficient from a summary equals the raw functions ----------------------------


@pytest.mark.parametrize("seed", range(40))
def test_summary_coefficients_equal_raw_functions(seed):
    x = _case(seed)
    _all_figures(summarise(x), x)


@pytest.mark.parametrize("seed", range(8))
def test_summary_with_string_labels_and_given_scale(seed):
    """Object arrays of words with the scale given (as `assay agreement` passes them), unused points too."""
    x = _case(seed)
    scale = ["none", "low", "mid", "high", "top", "max", "extra"]
    words = np.where(np.isnan(x), None, np.array(scale, dtype=object)[np.nan_to_num(x, nan=1).astype(int) - 1])
    s = summarise(words, categories=scale)
    assert s.given and not s.numeric and s.n_categories == len(scale)
    _all_figures(s, words, categories=scale)
    numeric_scale = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    _all_figures(summarise(x, categories=numeric_scale), x, categories=numeric_scale)


def test_summary_of_degenerate_data_raises_like_the_raw_functions():
    cases = [
        np.array([[1.0, 2.0, 3.0]]),  # one rater
        np.array([[1.0, np.nan, 3.0], [np.nan, 2.0, np.nan]]),  # no unit rated twice
        np.array([[1.0, 1.0, 1.0], [1.0, 1.0, np.nan]]),  # one category
        np.array([[np.nan, np.nan], [np.nan, np.nan]]),  # nothing rated
        np.array([[2.0, 2.0], [2.0, 2.0], [2.0, 2.0]]),  # no variance
    ]
    for x in cases:
        s = summarise(x)
        _all_figures(s, x)
    with pytest.raises(ValueError, match="by_rater=True"):
        summarise(_case(0), by_rater=False).cohen_kappa(raters=(0, 1))
    with pytest.raises(ValueError, match="pass raters"):
        summarise(_random_reliability(0, raters=3)).cohen_kappa()


# --- published examples --------------------------------------------------------------------


@pytest.fixture(scope="module")
def expected():
    return json.loads((require_path(AGREEMENT, "agreement validation data") / "expected_values.json").read_text())


def test_published_krippendorff_gwet_example(expected):
    ex = expected["krippendorff_2011_example"]
    data = np.array(ex["reliability_data_rows_are_coders"], dtype=float)
    s = summarise(data)
    for level in LEVELS:
        assert s.krippendorff_alpha(level=level) == pytest.approx(ex["alpha"][level], abs=5e-4)
    gw = expected["gwet_raw_4raters.csv"]
    assert s.gwet_ac1_interval().estimate == pytest.approx(gw["unweighted"]["gwet_ac1"], abs=5e-6)
    assert s.gwet_ac1_interval().se == pytest.approx(gw["unweighted"]["ac1_se"], abs=5e-6)
    assert s.percent_agreement() == pytest.approx(gw["unweighted"]["pa"], abs=5e-6)
    assert s.fleiss_kappa_interval().se == pytest.approx(gw["unweighted"]["fleiss_se"], abs=5e-6)
    assert s.gwet_ac2_interval(weights="bipolar").se == pytest.approx(gw["bipolar_weights"]["se"], abs=5e-6)
    _all_figures(s, data)


def test_published_wikipedia_alpha_and_fleiss_examples(expected):
    ex = expected["wikipedia_krippendorff_example"]
    data = np.array(ex["reliability_data_rows_are_coders"], dtype=float)
    s = summarise(data)
    for level, value in ex["alpha"].items():
        assert s.krippendorff_alpha(level=level) == pytest.approx(value, abs=1e-6)
    _all_figures(s, data)
    table = pd.read_csv(AGREEMENT / "fleiss_wikipedia_table.csv").iloc[:, 1:].to_numpy()
    # the count table as ratings: unit u gets table[u, c] ratings of category c from 14 raters
    ratings = np.array([np.repeat(np.arange(1, 6), row) for row in table], dtype=float).T
    s = summarise(ratings)
    assert s.fleiss_kappa() == pytest.approx(expected["fleiss_wikipedia_table.csv"]["fleiss_kappa"], abs=5e-4)
    assert s.fleiss_kappa() == pytest.approx(fleiss_kappa(table), abs=TOL)


def test_published_fleiss_1971_diagnoses(expected):
    ex = expected["diagnoses_fleiss1971_sorted.csv"]
    ratings = pd.read_csv(AGREEMENT / "diagnoses_fleiss1971_sorted.csv").iloc[:, 1:].to_numpy().T
    s = summarise(ratings)
    assert (s.weight @ s.counts).tolist() == ex["category_column_sums"]
    est = s.fleiss_kappa_interval()
    assert est.estimate == pytest.approx(ex["fleiss_kappa"], abs=1e-7)
    assert est.z == pytest.approx(ex["fleiss_z"], abs=1e-5)
    _same(s.fleiss_kappa_interval, lambda: fleiss_kappa_interval(to_table(ratings)[0]))


def test_published_anxiety_kappas_and_icc(expected):
    ex = expected["anxiety_irr.csv"]
    df = pd.read_csv(AGREEMENT / "anxiety_irr.csv").set_index("subject")
    s = summarise(df.T)  # raters named rater1..3
    assert s.raters == ("rater1", "rater2", "rater3")
    for key, pair, weights in [("kappa2_r1r2_weights_000111", ("rater1", "rater2"), [0, 0, 0, 1, 1, 1]),
                               ("kappa2_r2r3_unweighted", ("rater2", "rater3"), None),
                               ("kappa2_r2r3_squared", ("rater2", "rater3"), "quadratic")]:
        est = s.cohen_kappa_interval(raters=pair, weights=weights)
        assert est.estimate == pytest.approx(ex[key]["kappa"], abs=1e-7)
        assert est.z == pytest.approx(ex[key]["z"], abs=1e-5)
    assert s.complete_units == 20
    assert s.icc(form="ICC2") == pytest.approx(ex["icc_twoway_agreement_single"]["value"], abs=5e-4)
    assert s.icc(form="ICC3") == pytest.approx(ex["icc_twoway_consistency_single"]["value"], abs=5e-4)
    _all_figures(s, df.T.to_numpy(dtype=float))


def test_published_sas_kappa_table_and_shrout_fleiss(expected):
    ex = expected["cohen_sas_table10.csv"]["weighted_linear_weights_0_1_2"]
    table = pd.read_csv(AGREEMENT / "cohen_sas_table10.csv").iloc[:, 1:].to_numpy()
    a = np.repeat(np.arange(3), table.sum(axis=1))
    b = np.concatenate([np.repeat(np.arange(3), row) for row in table])
    est = summarise(np.vstack([a, b])).cohen_kappa_interval(weights="linear")
    assert (est.estimate, est.se, est.se_null) == pytest.approx((ex["kappa"], ex["ase"], ex["ase_h0"]), abs=5e-5)
    sf = expected["shrout_fleiss_1979_table2"]
    data = np.array(sf["data_rows_are_targets"], dtype=float)  # targets x judges
    s = summarise(data.T)
    for form in ICC_FORMS:
        assert s.icc(form=form) == pytest.approx(sf["icc"][form], abs=5e-5)
        _same(functools.partial(s.icc_interval, form=form), lambda form=form: icc_interval(data, form=form))


# --- the bootstrap ----------------------------------------------------------------------------


def _unit_rows(s: AgreementSummary, x: np.ndarray) -> np.ndarray:
    """Each unit's row in the summary's finest table (per-rater rows), found by its codes."""
    index = {tuple(row): i for i, row in enumerate(s.labels)}
    pos = {float(c): i for i, c in enumerate(s.categories)}
    codes = np.array([[-1 if np.isnan(v) else pos[float(v)] for v in col] for col in x.T])
    return np.array([index[tuple(c)] for c in codes])


def _unit_draws(n: int, rounds: int, seed: int) -> list[np.ndarray]:
    """The unit indices bootstrap_interval draws with this seed, round by round."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n, size=n) for _ in range(rounds)]


def _raw(fn: Callable[[], float]) -> float:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    except ValueError:
        return np.nan


@pytest.mark.parametrize("seed", range(6))
def test_pattern_bootstrap_equals_unit_bootstrap_on_the_same_draws(seed):
    """Replicates from pooled weights equal each coefficient recomputed on the resampled raw data."""
    x = _random_reliability(seed, raters=2 + seed % 3, units=12 + 9 * seed, levels=3 + seed % 3,
                            missing=0.15 * (seed % 3), agree=0.6)
    s = summarise(x)
    cats = list(s.categories)
    rows = _unit_rows(s, x)
    draws = _unit_draws(x.shape[1], 40, seed)
    weights = np.array([np.bincount(rows[idx], minlength=len(s.labels)) for idx in draws])
    boot = SummaryBootstrap.from_weights(s, weights)
    checks: dict[str, tuple[np.ndarray, Callable[[np.ndarray], float]]] = {
        "percent": (boot.percent_agreement(), lambda r: percent_agreement(r)),
        "fleiss": (boot.fleiss_kappa(), lambda r: fleiss_kappa(to_table(r, categories=cats)[0])),
        "ac1": (boot.gwet_ac1(), lambda r: gwet_ac1(r, categories=cats)),
        "ac2": (boot.gwet_ac2(weights="quadratic"), lambda r: gwet_ac2(r, weights="quadratic", categories=cats)),
    }
    for level in LEVELS:
        checks[level] = (boot.krippendorff_alpha(level=level),
                         lambda r, level=level: krippendorff_alpha(r, level=level, categories=cats))
    for w in (None, "quadratic"):
        checks[f"cohen {w}"] = (boot.cohen_kappa(weights=w, raters=(0, 1)),
                                lambda r, w=w: cohen_kappa(r[0], r[1], weights=w, categories=cats))
    for form in ICC_FORMS:
        checks[form] = (boot.icc(form=form), lambda r, form=form: icc(r.T, form=form, nan_policy="omit"))
    for name, (got, fn) in checks.items():
        want = np.array([_raw(lambda idx=idx: fn(x[:, idx])) for idx in draws])
        np.testing.assert_allclose(got, want, atol=TOL, rtol=0, equal_nan=True, err_msg=name)
        assert np.isfinite(want).any(), name  # the case tests numbers, not only NaN


def test_pattern_bootstrap_nan_where_raw_raises():
    """A tiny sample: many resamples are degenerate, and exactly those are NaN."""
    x = np.array([[1, 1, 2, 1, 2, 1], [1, 2, 2, 1, np.nan, 1], [2, 1, 2, np.nan, 2, 1]], dtype=float)
    s = summarise(x)
    cats = list(s.categories)
    draws = _unit_draws(6, 300, 0)
    rows = _unit_rows(s, x)
    boot = SummaryBootstrap.from_weights(s, [np.bincount(rows[i], minlength=len(s.labels)) for i in draws])
    for got, fn in [(boot.fleiss_kappa(), lambda r: fleiss_kappa(to_table(r, categories=cats)[0])),
                    (boot.krippendorff_alpha(level="ordinal"), lambda r: krippendorff_alpha(r, level="ordinal")),
                    (boot.icc(form="ICC1"), lambda r: icc(r.T, form="ICC1", nan_policy="omit")),
                    (boot.cohen_kappa(raters=(0, 1)), lambda r: cohen_kappa(r[0], r[1], categories=cats))]:
        want = np.array([_raw(lambda i=i: fn(x[:, i])) for i in draws])
        assert np.isnan(want).any() and np.isfinite(want).any()
        np.testing.assert_allclose(got, want, atol=TOL, rtol=0, equal_nan=True)


def test_same_draws_give_bootstrap_interval_exactly():
    """Fed bootstrap_interval's own unit draws, the summary's interval is bootstrap_interval's."""
    x = _random_reliability(4, raters=3, units=80, missing=0.2, agree=0.6)
    s = summarise(x)
    rows = _unit_rows(s, x)
    draws = _unit_draws(x.shape[1], 300, 11)
    boot = SummaryBootstrap.from_weights(s, [np.bincount(rows[i], minlength=len(s.labels)) for i in draws])
    _same(lambda: boot.interval("percent_agreement"),
          lambda: bootstrap_interval(percent_agreement, x, rounds=300, random_state=11))
    _same(lambda: boot.interval("icc", form="ICC2"),
          lambda: bootstrap_interval(functools.partial(icc, form="ICC2", nan_policy="omit"), x.T,
                                     unit_axis=0, rounds=300, random_state=11))


@pytest.mark.parametrize("by_rater", [True, False])
@pytest.mark.parametrize("level", LEVELS)
def test_bootstrap_equals_krippendorff_alpha_interval(level, by_rater):
    """With every unit pairable, the draw is alpha's own: the same interval."""
    x = _random_reliability(9, raters=4, units=120, missing=0.2, agree=0.6)
    x = x[:, (~np.isnan(x)).sum(axis=0) >= 2]
    s = summarise(x, by_rater=by_rater)
    got = s.bootstrap(rounds=500, random_state=3).interval("krippendorff_alpha", level=level)
    _same(lambda: got, lambda: krippendorff_alpha_interval(x, level=level, rounds=500, random_state=3))


def test_multinomial_draw_matches_unit_resampling_in_distribution():
    """Seeded: the pattern draw and unit draws give the same bootstrap spread for every coefficient."""
    x = _random_reliability(21, raters=3, units=150, missing=0.1, agree=0.6)
    s = summarise(x)
    rows = _unit_rows(s, x)
    units = SummaryBootstrap.from_weights(
        s, [np.bincount(rows[i], minlength=len(s.labels)) for i in _unit_draws(150, 2000, 5)])
    patterns = s.bootstrap(rounds=2000, random_state=6)
    assert patterns.weights.sum(axis=1).tolist() == [150] * 2000
    for name, kw in [("percent_agreement", {}), ("krippendorff_alpha", {"level": "ordinal"}),
                     ("fleiss_kappa", {}), ("gwet_ac1", {}), ("cohen_kappa", {"raters": (0, 1)}),
                     ("icc", {"form": "ICC2"})]:
        a, b = units.interval(name, **kw), patterns.interval(name, **kw)
        assert a.se == pytest.approx(b.se, rel=0.1), name
        assert a.low == pytest.approx(b.low, abs=0.25 * a.se * 4), name


def test_bootstrap_is_seeded():
    s = summarise(_case(3))
    a = s.bootstrap(rounds=100, random_state=1)
    assert np.array_equal(a.weights, s.bootstrap(rounds=100, random_state=1).weights)
    assert not np.array_equal(a.weights, s.bootstrap(rounds=100, random_state=2).weights)
    with pytest.raises(ValueError, match="coefficient must be"):
        a.interval("scott_pi")


# --- shards merge exactly ----------------------------------------------------------------------


def _every_result(s: AgreementSummary, seed: int) -> list:
    """Every figure and every bootstrap interval (seeded) of a summary, None where undefined."""
    out: list = []

    def put(fn):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = fn()
            # exact comparison with NaN (ICC intervals have no standard error) equal to itself
            out.append(repr(dataclasses.astuple(got)) if isinstance(got, Estimate) else got)
        except ValueError as e:
            out.append(("undefined", str(e)))

    boot = s.bootstrap(rounds=200, random_state=seed)
    pair = s.raters[:2]
    for name, kw in [("percent_agreement", {}), ("fleiss_kappa", {}), ("gwet_ac1", {}),
                     ("gwet_ac2", {"weights": "quadratic"}), ("cohen_kappa", {"raters": pair}),
                     ("cohen_kappa", {"raters": pair, "weights": "quadratic"})]:
        put(lambda: getattr(s, name)(**kw))
        put(lambda: boot.interval(name, **kw))
    for level in LEVELS:
        put(lambda: s.krippendorff_alpha(level=level))
        put(lambda: boot.interval("krippendorff_alpha", level=level))
    for form in ICC_FORMS:
        put(lambda: s.icc_interval(form=form, nan_policy="omit"))
        put(lambda: boot.interval("icc", form=form))
    put(s.fleiss_kappa_interval)
    put(s.gwet_ac1_interval)
    put(lambda: s.cohen_kappa_interval(raters=pair))
    assert sum(isinstance(v, tuple) for v in out) < len(out) / 2  # mostly figures, not errors
    return out


@pytest.mark.parametrize("n_shards", [2, 3, 7])
@pytest.mark.parametrize("seed", range(4))
def test_shards_merge_to_the_one_pass_results_exactly(seed, n_shards):
    x = _random_reliability(seed, raters=3 + seed % 3, units=90 + 30 * seed, missing=0.25, agree=0.6)
    # shards by sorted first label, so shards see different subsets of the categories
    order = np.argsort(np.nan_to_num(x[0], nan=0), kind="stable")
    shards = [summarise(x[:, part]) for part in np.array_split(order, n_shards)]
    one = summarise(x)
    merged = sum(shards)
    assert merged.same_as(one) and merge_summaries(*shards).same_as(one)
    assert merged.n_units == x.shape[1]
    assert _every_result(merged, seed) == _every_result(one, seed)  # exactly, not approximately


def test_shards_with_words_given_scale_and_a_missing_rater():
    scale = ["bad", "poor", "fair", "good", "great"]
    x = _random_reliability(5, raters=4, units=200, missing=0.2, agree=0.7)
    words = pd.DataFrame(np.where(np.isnan(x), None, np.array(scale, dtype=object)[
        np.nan_to_num(x, nan=1).astype(int) - 1]), index=["ann", "bob", "cy", "dee"])
    one = summarise(words, categories=scale)
    first = summarise(words.iloc[:, :120], categories=scale)
    # the second shard's table has no row for "dee" (as a pivot of the shard's judgments would)
    second = summarise(words.iloc[:3, 120:], categories=scale)
    merged = first + second
    assert merged.raters == one.raters == ("ann", "bob", "cy", "dee")
    # "dee" did not rate units 120..199 in the merged data, so compare with that one pass
    blanked = words.copy()
    blanked.iloc[3, 120:] = None
    assert merged.same_as(summarise(blanked, categories=scale))
    assert _every_result(merged, 0) == _every_result(summarise(blanked, categories=scale), 0)


def test_merge_refuses_what_cannot_align():
    x = _case(2)
    with pytest.raises(ValueError, match="same given categories"):
        summarise(x, categories=[1, 2, 3, 4, 5, 6]) + summarise(x, categories=[1, 2, 3, 4, 5, 6, 7])
    with pytest.raises(ValueError, match="numeric"):
        summarise(x) + summarise(np.where(np.isnan(x), None, x.astype(str)))
    without = summarise(x) + summarise(x, by_rater=False)
    assert without.labels is None and without.n_units == 2 * x.shape[1]
    with pytest.raises(ValueError, match="by_rater=True"):
        without.icc()


def test_raters_are_matched_by_name_whatever_their_order():
    x = _random_reliability(8, raters=3, units=100, missing=0.2, agree=0.6)
    frame = pd.DataFrame(x, index=["a", "b", "c"])
    one = summarise(frame)
    first = summarise(frame.iloc[:, :50])
    second = summarise(frame.iloc[::-1, 50:])  # rows c, b, a
    assert second.raters == ("c", "b", "a")
    merged = first + second
    assert merged.same_as(one)
    assert _every_result(merged, 1) == _every_result(one, 1)


def test_summary_from_codes_is_the_summary_of_the_labels():
    from assay.stats._labels import encode

    from assay.stats.agreement import summary_from_codes

    x = _case(5)
    coded = encode(x)
    s = summary_from_codes(coded.codes, coded.categories, numeric=True, given=False,
                           raters=list(range(x.shape[0])))
    assert s.same_as(summarise(x))


def test_icc_with_a_zero_mean_square_behaves_as_the_raw_function():
    """Ratings exactly additive (unit + rater effects): the residual mean square is 0, and the
    F limits divide by it. The summary path must give what the raw ANOVA gives (numpy's inf
    and nan), not a ZeroDivisionError (found by the report tests after wiring)."""
    import warnings

    from assay.stats import agreement as A

    units = np.array([1.0, 2.0, 4.0, 5.0, 3.0])
    data = np.stack([units, units + 1.0, units + 2.0])  # raters x units
    s = A.summarise(data, categories=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], by_rater=True)
    for form in A.ICC_FORMS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = A.icc_interval(data.T, form=form, nan_policy="omit")
            got = s.icc_interval(form=form, nan_policy="omit")
        for x, y in ((got.estimate, raw.estimate), (got.low, raw.low), (got.high, raw.high)):
            assert (np.isnan(x) and np.isnan(y)) or x == pytest.approx(y, abs=1e-12), (form, got, raw)
