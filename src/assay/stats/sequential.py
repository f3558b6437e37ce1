"""Always-valid sequential A/B monitoring: the mixture sequential probability ratio test (mSPRT).

Johari, Koomen, Pekelis & Walsh, "Always Valid Inference: Continuous Monitoring of A/B
Tests", Operations Research 70(3), 2022 (KDD 2017 as "Peeking at A/B Tests"), Sec. 4.
For paired differences d_1, d_2, ... ~ N(theta, sigma^2) and the mixing distribution
theta ~ N(theta_0, tau^2), the mixture likelihood ratio after n pairs is

    Lambda_n = sqrt(sigma^2 / (sigma^2 + n tau^2))
               * exp(n^2 tau^2 (mean_n - theta_0)^2 / (2 sigma^2 (sigma^2 + n tau^2)))

The always-valid p-value is p_n = min(p_{n-1}, 1 / Lambda_n): however often one looks,
P(p_n <= alpha for some n) <= alpha under theta = theta_0. Inverting the test gives the
confidence sequence mean_n +- sqrt(2 sigma^2 (sigma^2 + n tau^2) / (n^2 tau^2)
* log(sqrt((sigma^2 + n tau^2) / sigma^2) / alpha)), intersected over time.

With ``sigma2=None`` the running sample variance is plugged in (Johari et al.'s
large-sample practice); nothing is reported before ``min_n`` pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["SequentialMonitor", "SequentialResult", "msprt"]


@dataclass(frozen=True)
class SequentialResult:
    """The mSPRT path: one row per pair seen (``n``, ``estimate``, ``p_value``, ``lower``, ``upper``).

    ``stopped_at`` is the first n with p_value <= alpha (None if never); ``p_value``,
    ``lower``, ``upper`` are the latest values.
    """

    path: pd.DataFrame
    alpha: float
    stopped_at: int | None

    @property
    def p_value(self) -> float:
        return float(self.path["p_value"].iloc[-1])

    @property
    def lower(self) -> float:
        return float(self.path["lower"].iloc[-1])

    @property
    def upper(self) -> float:
        return float(self.path["upper"].iloc[-1])

    @property
    def rejected(self) -> bool:
        return self.stopped_at is not None


def msprt(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray | None = None,
    *,
    alpha: float = 0.05,
    theta0: float = 0.0,
    sigma2: float | None = None,
    tau2: float | None = None,
    min_n: int = 10,
) -> SequentialResult:
    """Always-valid p-values and confidence sequence for the mean paired difference b - a, in arrival order.

    Pass the differences alone as ``a`` (with ``b=None``) or both score arrays.
    ``tau2`` (the mixing variance) defaults to the variance of the differences, i.e.
    a standard-normal prior on the standardised effect. ``sigma2=None`` plugs in the
    running sample variance. Before ``min_n`` pairs the p-value is 1 and the interval
    unbounded.

    >>> d = [0.5, 1.0, 0.0, 1.5, 1.0, 0.5, 1.0, 2.0, 0.5, 1.0, 1.5, 1.0]
    >>> res = msprt(d, sigma2=0.25, tau2=1.0, min_n=1)
    >>> # n = 5, mean 0.8: Lambda = sqrt(0.25/5.25) exp(25 * 0.64 / (2 * 0.25 * 5.25)) = 96.83
    >>> res.stopped_at, round(float(res.path["p_value"].iloc[4]), 6)
    (5, 0.010327)
    """
    d = np.asarray(a, dtype=float) if b is None else np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if d.ndim != 1 or len(d) == 0:
        raise ValueError("need a one-dimensional, non-empty sequence of pairs")
    if not np.all(np.isfinite(d)):
        raise ValueError("scores must be finite")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be between 0 and 1")
    n = np.arange(1, len(d) + 1, dtype=float)
    mean = np.cumsum(d) / n
    if sigma2 is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (np.cumsum(d * d) - n * mean**2) / (n - 1)
        var[0] = np.nan
        var = np.maximum(var, 0.0)
    else:
        if not sigma2 > 0:
            raise ValueError("sigma2 must be positive")
        var = np.full(len(d), float(sigma2))
    t2 = var if tau2 is None else np.full(len(d), float(tau2))
    with np.errstate(invalid="ignore", divide="ignore"):
        log_lr = 0.5 * np.log(var / (var + n * t2)) + (n**2 * t2 * (mean - theta0) ** 2) / (
            2 * var * (var + n * t2)
        )
        half = np.sqrt(2 * var * (var + n * t2) / (n**2 * t2) * (0.5 * np.log((var + n * t2) / var) - np.log(alpha)))
    usable = (n >= max(min_n, 1)) & np.isfinite(log_lr) & (var > 0)
    p_step = np.where(usable, np.minimum(1.0, np.exp(-np.where(usable, log_lr, 0.0))), 1.0)
    p_value = np.minimum.accumulate(p_step)
    lower = np.maximum.accumulate(np.where(usable, mean - half, -np.inf))
    upper = np.minimum.accumulate(np.where(usable, mean + half, np.inf))
    path = pd.DataFrame({"n": n.astype(int), "estimate": mean, "p_value": p_value, "lower": lower, "upper": upper})
    hit = np.flatnonzero(p_value <= alpha)
    return SequentialResult(path=path, alpha=alpha, stopped_at=int(hit[0] + 1) if len(hit) else None)


class SequentialMonitor:
    """Feed pairs as they arrive and read the always-valid state after each batch.

    >>> mon = SequentialMonitor(sigma2=0.25, tau2=1.0, min_n=1)
    >>> mon.update([0.0, 1.0], [1.0, 1.5]).stopped_at is None
    True
    """

    def __init__(self, *, alpha: float = 0.05, theta0: float = 0.0, sigma2=None, tau2=None, min_n: int = 10):
        self._kw = dict(alpha=alpha, theta0=theta0, sigma2=sigma2, tau2=tau2, min_n=min_n)
        self._d: list[float] = []

    def update(self, a, b=None) -> SequentialResult:
        """Add pairs (or differences when ``b`` is None) and return the path so far."""
        d = np.atleast_1d(np.asarray(a, dtype=float))
        if b is not None:
            d = np.atleast_1d(np.asarray(b, dtype=float)) - d
        self._d.extend(d.tolist())
        return msprt(self._d, **self._kw)
