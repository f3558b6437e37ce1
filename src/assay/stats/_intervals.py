"""Interval results and the generic bootstrap over units."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    """A coefficient with its standard error and confidence interval.

    ``method`` names how the interval was made: ``"analytic-normal"`` /
    ``"analytic-t"`` (a published variance formula, normal or Student-t quantiles),
    ``"analytic-F"`` (ICC F-distribution limits, no standard error) or
    ``"bootstrap-percentile"``. ``se_null`` is the standard error under the
    hypothesis of chance agreement where the source gives one; ``z`` and
    ``p_value`` test that hypothesis.
    """

    estimate: float
    se: float
    low: float
    high: float
    confidence: float
    method: str
    se_null: float | None = None
    rounds: int | None = None

    @property
    def z(self) -> float | None:
        """Estimate over its null standard error (None when the source gives none)."""
        return None if not self.se_null else self.estimate / self.se_null

    @property
    def p_value(self) -> float | None:
        """Two-sided normal p-value for "agreement is only chance"."""
        z = self.z
        return None if z is None else float(2 * stats.norm.sf(abs(z)))


def check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")


def normal_interval(estimate: float, se: float, confidence: float, *, se_null=None) -> Estimate:
    check_confidence(confidence)
    q = stats.norm.ppf(0.5 + confidence / 2)
    return Estimate(float(estimate), float(se), float(estimate - q * se), float(estimate + q * se),
                    confidence, "analytic-normal", None if se_null is None else float(se_null))


def t_interval(estimate: float, se: float, df: int, confidence: float, *, se_null=None) -> Estimate:
    check_confidence(confidence)
    q = stats.t.ppf(0.5 + confidence / 2, df)
    return Estimate(float(estimate), float(se), float(estimate - q * se), float(estimate + q * se),
                    confidence, "analytic-t", None if se_null is None else float(se_null))


def percentile_estimate(estimate: float, boot: np.ndarray, confidence: float) -> Estimate:
    """A percentile interval from bootstrap replicates, ignoring NaN (undefined) ones."""
    ok = boot[np.isfinite(boot)]
    failed = boot.size - ok.size
    if ok.size < 2 or failed > boot.size / 2:
        raise ValueError(
            f"{failed} of {boot.size} bootstrap resamples were degenerate "
            "(the coefficient is undefined on them); too few units for a bootstrap interval"
        )
    if failed:
        warnings.warn(f"{failed} of {boot.size} bootstrap resamples were degenerate and were "
                      "left out of the interval", RuntimeWarning, stacklevel=3)
    alpha = 1 - confidence
    low, high = np.quantile(ok, [alpha / 2, 1 - alpha / 2])
    return Estimate(float(estimate), float(ok.std(ddof=1)), float(low), float(high), confidence,
                    "bootstrap-percentile", rounds=int(ok.size))


def bootstrap_interval(
    stat_fn: Callable[..., float],
    data,
    *,
    unit_axis: int = -1,
    rounds: int = 1000,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = None,
) -> Estimate:
    """Percentile bootstrap interval of any coefficient, resampling units with replacement.

    ``data`` is one array (or DataFrame) whose ``unit_axis`` indexes units, or a tuple
    of such arrays resampled together (``bootstrap_interval(cohen_kappa, (a, b))``).
    Bind options with :func:`functools.partial`. Resamples on which the coefficient
    is undefined (``ValueError``, e.g. a single category) are left out with a warning.
    ``se`` is the standard deviation of the replicates (Efron & Tibshirani 1993, ch. 6;
    percentile interval ch. 13).

    >>> import functools, numpy as np
    >>> from assay.stats.agreement import bootstrap_interval, krippendorff_alpha
    >>> data = np.array([[1, 2, 3, 3, 2, 1, 4, 1, 2], [1, 2, 3, 3, 2, 2, 4, 1, 2]])
    >>> est = bootstrap_interval(functools.partial(krippendorff_alpha, level="ordinal"),
    ...                          data, rounds=200, random_state=0)
    >>> est.low <= est.estimate <= est.high
    True
    """
    check_confidence(confidence)
    if rounds < 2:
        raise ValueError("rounds must be at least 2")
    rng = np.random.default_rng(random_state)
    parts = data if isinstance(data, tuple) else (data,)
    arrays = [p.to_numpy() if isinstance(p, (pd.DataFrame, pd.Series)) else np.asarray(p)
              for p in parts]
    n_units = {a.shape[unit_axis] for a in arrays}
    if len(n_units) != 1:
        raise ValueError(f"all arrays must have the same number of units, got {sorted(n_units)}")
    n = n_units.pop()
    estimate = stat_fn(*arrays)
    boot = np.empty(rounds)
    for b in range(rounds):
        idx = rng.integers(0, n, size=n)
        try:
            boot[b] = stat_fn(*(np.take(a, idx, axis=unit_axis) for a in arrays))
        except ValueError:
            boot[b] = np.nan
    return percentile_estimate(estimate, boot, confidence)
