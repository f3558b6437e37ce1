"""Power planning for paired A/B evals (Miller 2024, "Adding Error Bars to Evals", arXiv 2411.00640).

Model B is compared with model A on the same n items (questions); each item's answer
is sampled K_A times from A and K_B times from B and the per-item scores averaged.
With omega^2 the variance across items of the true per-item difference in expected
score, and sigma_A^2, sigma_B^2 the average within-item (sampling) variance of one
answer's score, the mean difference has variance

    Var = (omega^2 + sigma_A^2 / K_A + sigma_B^2 / K_B) / n          (Miller Sec. 5)

and a two-sided z-test at level alpha detects a true difference delta with power
1 - beta when n >= (z_{1-alpha/2} + z_{1-beta})^2 (omega^2 + sigma_A^2/K_A + sigma_B^2/K_B) / delta^2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["VarianceComponents", "estimate_variance_components", "minimum_detectable_effect", "sample_size"]


def _item_variance(omega2: float, sigma2_a: float, sigma2_b: float, k_a: float, k_b: float) -> float:
    for name, v in (("omega2", omega2), ("sigma2_a", sigma2_a), ("sigma2_b", sigma2_b)):
        if v < 0 or not math.isfinite(v):
            raise ValueError(f"{name} must be finite and non-negative")
    for name, k in (("k_a", k_a), ("k_b", k_b)):
        if not k >= 1:
            raise ValueError(f"{name} must be at least 1 (math.inf for the limit)")
    var = omega2 + sigma2_a / k_a + sigma2_b / k_b
    if var == 0:
        raise ValueError("the per-item variance is zero: every item would show the same difference")
    return var


def _z_sum(alpha: float, power: float) -> float:
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power must be between 0 and 1")
    return stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)


def sample_size(
    mde: float,
    *,
    omega2: float,
    sigma2_a: float = 0.0,
    sigma2_b: float = 0.0,
    k_a: float = 1,
    k_b: float = 1,
    alpha: float = 0.05,
    power: float = 0.8,
) -> int:
    """Items needed for a paired two-sided test to detect a difference of ``mde``.

    n = ceil((z_{1-alpha/2} + z_{power})^2 (omega2 + sigma2_a/k_a + sigma2_b/k_b) / mde^2)
    (Miller 2024, Sec. 5; K may be ``math.inf``, i.e. the per-item expected score).

    Miller's worked example: omega^2 = 1/9, delta = 0.03, alpha = 0.05, power 0.8, K = inf:

    >>> sample_size(0.03, omega2=1/9, k_a=math.inf, k_b=math.inf)
    969
    """
    if not mde > 0:
        raise ValueError("mde must be positive")
    var = _item_variance(omega2, sigma2_a, sigma2_b, k_a, k_b)
    n = _z_sum(alpha, power) ** 2 * var / mde**2
    return int(math.ceil(n - 1e-9))


def minimum_detectable_effect(
    n: float,
    *,
    omega2: float,
    sigma2_a: float = 0.0,
    sigma2_b: float = 0.0,
    k_a: float = 1,
    k_b: float = 1,
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """Smallest true difference a paired two-sided test on ``n`` items detects with the given power.

    MDE = (z_{1-alpha/2} + z_{power}) sqrt((omega2 + sigma2_a/k_a + sigma2_b/k_b) / n),
    the inverse of :func:`sample_size` (Miller 2024, Sec. 5).

    >>> round(minimum_detectable_effect(969, omega2=1/9, k_a=math.inf, k_b=math.inf), 5)
    0.03
    """
    if not n > 0:
        raise ValueError("n must be positive")
    var = _item_variance(omega2, sigma2_a, sigma2_b, k_a, k_b)
    return float(_z_sum(alpha, power) * math.sqrt(var / n))


@dataclass(frozen=True)
class VarianceComponents:
    """Variance components of a paired pilot, ready for :func:`sample_size`.

    ``omega2``: variance across items of the true per-item difference; ``sigma2_a``,
    ``sigma2_b``: mean within-item variance of one sampled answer's score; ``k_a``,
    ``k_b``: samples per item in the pilot (mean over items); ``n``: items.
    """

    omega2: float
    sigma2_a: float
    sigma2_b: float
    k_a: float
    k_b: float
    n: int

    def as_kwargs(self) -> dict:
        """omega2 and sigma2 values to pass on (choose k_a, k_b for the planned study)."""
        return {"omega2": self.omega2, "sigma2_a": self.sigma2_a, "sigma2_b": self.sigma2_b}


def _as_matrix(scores) -> np.ndarray:
    if isinstance(scores, np.ndarray) and scores.ndim == 2:
        return scores.astype(float)
    rows = [np.atleast_1d(np.asarray(r, dtype=float)) for r in scores]
    width = max(len(r) for r in rows)
    out = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def estimate_variance_components(
    scores_a: Sequence[Sequence[float]] | np.ndarray, scores_b: Sequence[Sequence[float]] | np.ndarray
) -> VarianceComponents:
    """Estimate omega^2 and sigma^2 from pilot scores, one row per item and one column per sample.

    Rows may be ragged (or NaN-padded). sigma_X^2 is the mean over items of the
    unbiased within-item variance of X's samples (items with one sample add nothing);
    omega^2 is the method-of-moments estimate (Miller 2024, Sec. 5)
    Var_i(mean_B,i - mean_A,i) - mean_i(sigma_A,i^2 / K_A,i + sigma_B,i^2 / K_B,i),
    floored at 0. With one sample per item sigma^2 cannot be separated and is 0, so
    omega^2 then includes the sampling variance (plan with K = 1).

    >>> vc = estimate_variance_components([[1, 0], [1, 1], [0, 0]], [[1, 1], [1, 1], [0, 1]])
    >>> round(vc.sigma2_a, 4), round(vc.sigma2_b, 4), vc.k_a
    (0.1667, 0.1667, 2.0)
    """
    a, b = _as_matrix(scores_a), _as_matrix(scores_b)
    if len(a) != len(b):
        raise ValueError("scores_a and scores_b must have one row per item, the same items")
    ka, kb = np.sum(~np.isnan(a), axis=1), np.sum(~np.isnan(b), axis=1)
    if (ka == 0).any() or (kb == 0).any():
        raise ValueError("every item needs at least one score from each model")
    n = len(a)
    if n < 2:
        raise ValueError("need at least two items")
    diff = np.nanmean(b, axis=1) - np.nanmean(a, axis=1)

    def within(x: np.ndarray, k: np.ndarray) -> np.ndarray:
        v = np.zeros(len(x))
        many = k > 1
        if many.any():
            v[many] = np.nanvar(x[many], axis=1, ddof=1)
        return v

    va, vb = within(a, ka), within(b, kb)
    sigma2_a = float(va[ka > 1].mean()) if (ka > 1).any() else 0.0
    sigma2_b = float(vb[kb > 1].mean()) if (kb > 1).any() else 0.0
    omega2 = float(np.var(diff, ddof=1) - np.mean(va / ka + vb / kb))
    return VarianceComponents(
        omega2=max(omega2, 0.0),
        sigma2_a=sigma2_a,
        sigma2_b=sigma2_b,
        k_a=float(ka.mean()),
        k_b=float(kb.mean()),
        n=n,
    )
