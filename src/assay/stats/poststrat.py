"""A mean re-weighted to another population's mix of strata: post-stratification, with its interval.

Each eval example belongs to a stratum (a topic cluster); the target population (production
traffic, say) has its own share of each stratum. The post-stratified estimate is

    theta = sum_k t_k * ybar_k / sum_{k covered} t_k

over the strata the eval sample covers (at least one example), i.e. each example weighted by
``t_k / e_k`` (target share over eval share) (Holt and Smith 1979, "Post stratification",
JRSS A 142(1); Little 1993, "Post-stratification: a modeler's perspective", JASA 88(423)).
Strata of the target that the eval sample lacks cannot be re-weighted: their target share
is reported as ``uncovered`` and the estimate is that of the covered part of the target.

Intervals:

- ``"delta"``: the variance of a stratified mean, ``sum_k w_k^2 s_k^2 / n_k`` (Cochran 1977,
  *Sampling Techniques*, 3rd ed., eq. 5.6, without the finite-population correction), plus,
  when the target shares are themselves estimated from ``target_n`` examples, the delta-method
  term of their multinomial sampling, ``sum_k w_k (ybar_k - theta)^2 / target_n``; a normal
  interval. A stratum of one example has no variance of its own: it takes the pooled
  within-stratum variance.
- ``"bootstrap"``: resampling within each stratum (its size kept) and, when ``target_n`` is
  given, the target's stratum counts redrawn from their multinomial; percentile interval
  (Efron and Tibshirani 1993, *An Introduction to the Bootstrap*, section 6.4 and ch. 13;
  Davison and Hinkley 1997, ch. 3, on stratified resampling). Seeded.

>>> r = poststratified_mean([1, 1, 0, 0, 0, 0], ["x", "x", "y", "y", "y", "y"], {"x": 0.5, "y": 0.5},
...                         method="delta")
>>> round(r.estimate, 6), round(r.unweighted, 6)
(0.5, 0.333333)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from assay.stats._intervals import check_confidence

__all__ = ["PostStratified", "poststratified_mean"]


@dataclass(frozen=True)
class PostStratified:
    """A mean on the eval sample's own mix and re-weighted to a target mix, with intervals."""

    estimate: float
    """The post-stratified mean over the covered strata."""
    low: float
    high: float
    unweighted: float
    """The plain mean of the eval sample (its own mix of strata)."""
    unweighted_low: float
    unweighted_high: float
    covered: float
    """Share of the target in strata the eval sample has examples of."""
    uncovered: list[str]
    """Strata of the target with no eval example, largest target share first."""
    strata: list[dict] = field(default_factory=list)
    """Per stratum: n, eval share, target share, mean, weight (target share / eval share)."""
    method: str = "bootstrap"
    confidence: float = 0.95


def poststratified_mean(
    values: Sequence[float],
    strata: Sequence[object],
    target: Mapping[object, float],
    *,
    target_n: int | None = None,
    method: str = "bootstrap",
    confidence: float = 0.95,
    rounds: int = 2000,
    random_state: int = 0,
) -> PostStratified:
    """The mean of ``values`` re-weighted from their own strata mix to ``target``'s shares (or counts).

    ``strata`` gives each value's stratum; ``target`` maps a stratum to its share (or count)
    in the target population. ``target_n``, the number of target examples the shares were
    counted on, adds their sampling error to the interval (None: shares known exactly).
    ValueError when there are no values, or the eval sample covers none of the target.
    """
    check_confidence(confidence)
    if method not in ("bootstrap", "delta"):
        raise ValueError(f"method must be 'bootstrap' or 'delta', not {method!r}")
    y = np.asarray(values, dtype=float)
    labels = np.asarray([str(s) for s in strata], dtype=object)
    if len(y) != len(labels):
        raise ValueError("values and strata must have the same length")
    if not len(y):
        raise ValueError("no values to re-weight")
    if np.isnan(y).any():
        raise ValueError("values must not be NaN")
    tgt = {str(k): float(v) for k, v in target.items() if v > 0}
    total = sum(tgt.values())
    if total <= 0:
        raise ValueError("the target has no stratum with a positive share")
    tgt = {k: v / total for k, v in tgt.items()}
    names = sorted(set(labels.tolist()))
    code = {k: i for i, k in enumerate(names)}
    idx = np.array([code[s] for s in labels])
    n_k = np.bincount(idx, minlength=len(names))
    mean_k = np.bincount(idx, weights=y, minlength=len(names)) / n_k
    covered_names = [k for k in names if tgt.get(k, 0) > 0]
    covered = sum(tgt[k] for k in covered_names)
    if covered <= 0:
        raise ValueError("the eval sample has no example in any stratum of the target")
    w = np.array([tgt.get(k, 0.0) / covered for k in names])
    est = float(w @ mean_k)
    z = stats.norm.ppf(0.5 + confidence / 2)
    # the plain mean's interval: normal, from the sample variance
    se_plain = float(y.std(ddof=1) / np.sqrt(len(y))) if len(y) > 1 else float("nan")
    plain = float(y.mean())
    if method == "delta":
        resid = y - mean_k[idx]
        dof = len(y) - len(names)
        pooled = float((resid ** 2).sum() / dof) if dof > 0 else float("nan")
        var_k = np.array([resid[idx == i].var(ddof=1) if n_k[i] > 1 else pooled for i in range(len(names))])
        var = float((w ** 2 * var_k / n_k).sum())
        if target_n:
            var += float((w * (mean_k - est) ** 2).sum()) / target_n
        se = np.sqrt(var)
        low, high = est - z * se, est + z * se
    else:
        low, high = _bootstrap(y, idx, n_k, names, tgt, target_n, confidence, rounds, random_state)
    uncovered = sorted((k for k in tgt if k not in code), key=lambda k: (-tgt[k], k))
    table = [{"stratum": k, "n": int(n_k[i]), "eval_share": float(n_k[i] / len(y)), "target_share": tgt.get(k, 0.0),
              "mean": float(mean_k[i]),
              "weight": float(tgt.get(k, 0.0) / covered / (n_k[i] / len(y)))} for i, k in enumerate(names)]
    table += [{"stratum": k, "n": 0, "eval_share": 0.0, "target_share": tgt[k], "mean": float("nan"),
               "weight": float("nan")} for k in uncovered]
    return PostStratified(est, float(low), float(high), plain, plain - z * se_plain, plain + z * se_plain,
                          covered, uncovered, table, method, confidence)


def _bootstrap(y: np.ndarray, idx: np.ndarray, n_k: np.ndarray, names: list[str], tgt: dict[str, float],
               target_n: int | None, confidence: float, rounds: int, random_state: int) -> tuple[float, float]:
    """Percentile interval of the post-stratified mean: examples redrawn within their stratum, target counts redrawn."""
    rng = np.random.default_rng(random_state)
    k = len(names)
    means = np.empty((rounds, k))
    order = np.argsort(idx, kind="stable")
    starts = np.concatenate([[0], np.cumsum(n_k)[:-1]])
    ys = y[order]
    for i in range(k):  # each stratum's means over all rounds at once
        draws = rng.integers(0, n_k[i], size=(rounds, n_k[i]))
        means[:, i] = ys[starts[i] + draws].mean(axis=1)
    all_names = sorted(tgt)
    shares = np.array([tgt[s] for s in all_names])
    if target_n:
        counts = rng.multinomial(target_n, shares, size=rounds).astype(float)
    else:
        counts = np.tile(shares, (rounds, 1))
    pos = {s: j for j, s in enumerate(all_names)}
    t = np.column_stack([counts[:, pos[s]] if s in pos else np.zeros(rounds) for s in names])
    cov = t.sum(axis=1)
    est = np.where(cov > 0, (t * means).sum(axis=1) / np.where(cov > 0, cov, 1), np.nan)
    est = est[~np.isnan(est)]
    a = (1 - confidence) / 2
    return float(np.quantile(est, a)), float(np.quantile(est, 1 - a))
