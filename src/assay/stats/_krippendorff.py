"""Krippendorff's alpha from per-unit value counts, with a fast bootstrap over units."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._intervals import Estimate, check_confidence, percentile_estimate
from ._labels import as_2d, encode, unit_counts

LEVELS = ("nominal", "ordinal", "interval", "ratio")
# Above this many distinct values the interval level switches to per-unit moments.
DENSE_MAX = 1024


def _delta(level: str, values: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Squared difference function delta^2(c, k) (Krippendorff 2011, section E)."""
    c, k = values[:, None], values[None, :]
    if level == "nominal":
        return (c != k).astype(float)
    if level == "ordinal":
        # (sum_{g=c..k} n_g - (n_c + n_k)/2)^2 over the ranks of the categories
        cum = np.cumsum(totals)
        lo = np.minimum.outer(np.arange(len(totals)), np.arange(len(totals)))
        hi = np.maximum.outer(np.arange(len(totals)), np.arange(len(totals)))
        between = cum[hi] - cum[lo] + totals[lo]
        return (between - (totals[:, None] + totals[None, :]) / 2) ** 2
    if level == "interval":
        return (c - k) ** 2
    if level == "ratio":
        with np.errstate(invalid="ignore", divide="ignore"):
            d = ((c - k) / (c + k)) ** 2
        return np.nan_to_num(d, nan=0.0)  # 0/0 only where c == k == 0
    raise ValueError(f"level must be one of {LEVELS}, got {level!r}")


def _prepare(data, level: str, categories: Sequence | None):
    """Pairable units' value counts and the delta matrix, or a ValueError saying why not."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    arr = as_2d(data, "data (raters x units)")
    if arr.shape[0] < 2:
        raise ValueError(f"Krippendorff's alpha needs at least two raters, got {arr.shape[0]}")
    fast = _integer_counts(arr) if categories is None and arr.dtype.kind in "fiub" else None
    if fast is not None:
        counts, values, numeric = fast
    else:
        coded = encode(arr, categories)
        if coded.n_categories > DENSE_MAX:
            raise _ManyValues(coded)
        counts, values, numeric = (unit_counts(coded.codes, coded.n_categories).astype(float),
                                   coded.values(), coded.numeric)
    if level in ("interval", "ratio") and not numeric and categories is None:
        raise ValueError(f"{level} level needs numeric labels or an explicit category order")
    if level == "ratio" and not numeric:
        raise ValueError("ratio level needs numeric labels (a ratio scale has a true zero)")
    m = counts.sum(axis=1)
    pairable = m >= 2
    if not pairable.any():
        raise ValueError("no unit was rated by two or more raters: nothing to compare")
    # 1/(m_u - 1) for pairable units and 0 otherwise, instead of copying the pairable rows
    inv = np.divide(1.0, m - 1.0, out=np.zeros_like(m), where=pairable)
    totals = pairable.astype(float) @ counts
    delta = _delta(level, values, totals)
    return counts, inv, totals, delta


class _ManyValues(Exception):
    """Too many distinct values for a dense values x values coincidence matrix."""

    def __init__(self, coded):
        self.coded = coded


def _unit_moments(data, level: str, categories):
    """Per pairable unit (m_u, sum x, sum x^2, observed disagreement d_u) for many-valued data.

    Interval: sum_{i != j} (x_i - x_j)^2 = 2 (m S2 - S1^2), so no K x K matrix is needed.
    """
    if level != "interval":
        raise ValueError(f"{level} level with more than {DENSE_MAX} distinct values is not "
                         "supported (its metric needs a values x values matrix); round the "
                         "ratings or use the interval level")
    arr = as_2d(data, "data (raters x units)")
    coded = encode(arr, categories)
    if not coded.numeric and categories is None:
        raise ValueError("interval level needs numeric labels or an explicit category order")
    x = np.where(coded.codes >= 0, coded.values()[np.maximum(coded.codes, 0)], 0.0)
    m = (coded.codes >= 0).sum(axis=0).astype(float)
    s1, s2 = x.sum(axis=0), (x**2).sum(axis=0)
    keep = m >= 2
    if not keep.any():
        raise ValueError("no unit was rated by two or more raters: nothing to compare")
    m, s1, s2 = m[keep], s1[keep], s2[keep]
    return m, s1, s2, 2 * (m * s2 - s1**2) / (m - 1)


def _alpha_moments(w, m, s1, s2, d) -> float:
    n, t1, t2 = w @ m, w @ s1, w @ s2
    expected = 2 * (n * t2 - t1**2) / (n - 1)
    if expected <= 1e-12 * max(1.0, n * t2):
        raise ValueError("all pairable values are equal: no variation, alpha is undefined")
    return float(1.0 - (w @ d) / expected)


def _integer_counts(arr: np.ndarray):
    """Units x values counts for integer-valued numeric data without sorting, else None."""
    arr = arr.astype(float, copy=False)
    missing = np.isnan(arr)
    if missing.all():
        raise ValueError("no ratings: every value is missing")
    lo, hi = np.nanmin(arr), np.nanmax(arr)
    if not np.isfinite(hi - lo) or hi - lo > 64:
        return None
    span = int(hi - lo) + 1
    offset = arr - lo
    offset[missing] = span  # one extra slot collects the missing values
    idx = offset.astype(np.int64)
    if not np.array_equal(idx, offset):
        return None
    n_units = arr.shape[1]
    idx += (span + 1) * np.arange(n_units, dtype=np.int64)
    counts = np.bincount(idx.ravel(), minlength=n_units * (span + 1)).reshape(n_units, span + 1)
    observed = np.flatnonzero(counts[:, :span].any(axis=0))
    return counts[:, observed].astype(float), lo + observed.astype(float), True


def _alpha_from(observed: float, totals: np.ndarray, delta: np.ndarray) -> float:
    n = totals.sum()
    expected = totals @ delta @ totals / (n - 1)
    if expected <= 0:
        raise ValueError("all pairable values fall in a single category: "
                         "no variation, alpha is undefined")
    return float(1.0 - observed / expected)


def krippendorff_alpha(data, *, level: str = "nominal", categories: Sequence | None = None) -> float:
    r"""Krippendorff's alpha reliability coefficient for any number of raters.

    ``data`` is reliability data, raters x units, with NaN/None where a rater did not
    rate a unit; labels are numbers or strings. ``level`` picks the difference
    function: nominal, ordinal (ranks and frequencies), interval or ratio (numeric
    values). For string labels at ordinal or interval level pass ``categories`` in
    scale order (interval then uses positions 0, 1, ...).

    Following Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability",
    sections A-E: with coincidences :math:`o_{ck} = \sum_u \sum_{i \ne j}
    [v_{ui}=c][v_{uj}=k] / (m_u - 1)` over units with :math:`m_u \ge 2` values,
    marginals :math:`n_c` and :math:`n = \sum_c n_c`,

    .. math:: \alpha = 1 - (n - 1) \frac{\sum_{c,k} o_{ck}\,\delta^2_{ck}}
                                      {\sum_{c,k} n_c n_k\,\delta^2_{ck}}

    The counts are taken per unit with one ``bincount``, so a million ratings take
    tens of milliseconds. Interval data with more than ``DENSE_MAX`` distinct values
    (continuous scores) is computed from per-unit sums instead of a K x K matrix;
    ordinal and ratio levels refuse that many values with a ValueError.

    Published example (Krippendorff 2011, p. 8: 4 observers, 12 units, missing values):

    >>> import numpy as np
    >>> nan = np.nan
    >>> data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    ...         [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    ...         [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    ...         [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]
    >>> [round(krippendorff_alpha(data, level=lv), 3)
    ...  for lv in ("nominal", "ordinal", "interval", "ratio")]
    [0.743, 0.815, 0.849, 0.797]
    """
    try:
        counts, inv, totals, delta = _prepare(data, level, categories)
    except _ManyValues:
        m, s1, s2, d = _unit_moments(data, level, categories)
        return _alpha_moments(np.ones_like(m), m, s1, s2, d)
    scaled = counts * inv[:, None]
    coincidence = scaled.T @ counts
    coincidence[np.diag_indices_from(coincidence)] -= scaled.sum(axis=0)
    return _alpha_from(float((coincidence * delta).sum()), totals, delta)


def _pattern_disagreement(patterns: np.ndarray, pm: np.ndarray, delta: np.ndarray) -> np.ndarray:
    # a unit's observed disagreement: n_u' delta n_u / (m_u - 1), as diag(delta) = 0
    return np.einsum("pc,ck,pk->p", patterns, delta, patterns) / (pm - 1)


def krippendorff_alpha_interval(
    data,
    *,
    level: str = "nominal",
    categories: Sequence | None = None,
    rounds: int = 1000,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = None,
) -> Estimate:
    """Alpha with a percentile bootstrap interval over units, computed by reweighting.

    Resampling units with replacement only changes how often each unit's coincidence
    contribution is counted. Units with the same value counts contribute the same,
    so the resample is drawn as a multinomial over the distinct count patterns and
    each replicate costs O(patterns), not O(ratings). This is the same distribution
    as redrawing units and recomputing alpha from raw data (which
    ``bootstrap_interval(krippendorff_alpha, data)`` does, slowly). Units rated only
    once never pair and are left out before resampling. The observed differences
    per unit use the full-sample ordinal metric; alpha's ordinal metric depends on
    the marginals, which are recomputed per replicate.
    """
    check_confidence(confidence)
    if rounds < 2:
        raise ValueError("rounds must be at least 2")
    estimate = krippendorff_alpha(data, level=level, categories=categories)
    rng = np.random.default_rng(random_state)
    try:
        counts, inv, totals, delta = _prepare(data, level, categories)
    except _ManyValues:
        # many distinct values: every statistic is linear in per-unit moments
        moments = np.column_stack(_unit_moments(data, level, categories))
        boot = np.empty(rounds)
        for b in range(rounds):
            n, t1, t2, obs = moments[rng.integers(0, len(moments), len(moments))].sum(axis=0)
            expected = 2 * (n * t2 - t1**2) / (n - 1)
            boot[b] = 1.0 - obs / expected if expected > 1e-12 * max(1.0, n * t2) else np.nan
        return percentile_estimate(estimate, boot, confidence)
    counts = counts[inv > 0]  # units rated once never pair
    patterns, inverse = np.unique(counts, axis=0, return_inverse=True)
    freq = np.bincount(inverse.ravel(), minlength=len(patterns)).astype(float)
    pm = patterns.sum(axis=1).astype(float)
    n_units = counts.shape[0]
    weights = rng.multinomial(n_units, freq / n_units, size=rounds).astype(float)
    marg = weights @ patterns  # rounds x K pairable-value totals
    fixed = None if level == "ordinal" else _pattern_disagreement(patterns, pm, delta)
    boot = np.empty(rounds)
    for b in range(rounds):
        tot = marg[b]
        if fixed is None:  # the ordinal metric moves with the resampled marginals
            d = _delta(level, np.arange(len(tot), dtype=float), tot)
            per_pattern = _pattern_disagreement(patterns, pm, d)
        else:
            d, per_pattern = delta, fixed
        n = tot.sum()
        expected = tot @ d @ tot / (n - 1)
        boot[b] = 1.0 - (weights[b] @ per_pattern) / expected if expected > 0 else np.nan
    return percentile_estimate(estimate, boot, confidence)
