"""Combine several raters' labels into one per unit: majority, mean, median, Dawid-Skene.

``data`` is raters x units, as in :mod:`assay.stats.agreement` (a 2-D array, or a
DataFrame with raters as index and units as columns; ``assay.stats.raters.to_matrix``
builds one from long ratings), NaN/None where a rater did not rate a unit. With a
DataFrame the results are indexed by its units (and raters); with an array they are
plain arrays. Units nobody rated get a missing label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from ._labels import as_2d, encode, unit_counts

TIES = ("random", "first", "missing")


def _labels_out(codes: np.ndarray, categories: np.ndarray, numeric: bool, units):
    if numeric:
        out = np.where(codes >= 0, categories.astype(float)[np.maximum(codes, 0)], np.nan)
    else:
        out = np.array([categories[c] if c >= 0 else None for c in codes], dtype=object)
    return out if units is None else pd.Series(out, index=units, name="label")


def _units(data):
    return data.columns if isinstance(data, pd.DataFrame) else None


def majority_vote(data, *, ties: str = "random", categories: Sequence | None = None,
                  random_state: int | np.random.Generator | None = None):
    """The most frequent label per unit.

    ``ties``: ``"random"`` picks among the tied labels with ``random_state`` (seeded,
    reproducible), ``"first"`` takes the first in category order, ``"missing"`` leaves
    the unit unlabelled.

    >>> majority_vote([["a", "b", "b"], ["a", "b", None], ["c", "a", None]]).tolist()
    ['a', 'b', 'b']
    """
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    coded = encode(as_2d(data, "data (raters x units)"), categories)
    counts = unit_counts(coded.codes, coded.n_categories)
    if coded.n_categories == 0:
        raise ValueError("no ratings: every value is missing")
    top = counts.max(axis=1, keepdims=True)
    is_top = (counts == top) & (top > 0)
    if ties == "random":
        rng = np.random.default_rng(random_state)
        label = np.argmax(is_top * (1.0 + rng.random(counts.shape)), axis=1)
    else:
        label = np.argmax(is_top, axis=1)
        if ties == "missing":
            label[is_top.sum(axis=1) > 1] = -1
    label[top[:, 0] == 0] = -1
    return _labels_out(label, coded.categories, coded.numeric, _units(data))


def _numeric(data) -> np.ndarray:
    arr = as_2d(data, "data (raters x units)")
    try:
        return np.asarray(pd.DataFrame(arr).apply(pd.to_numeric, errors="raise"), dtype=float)
    except (ValueError, TypeError):
        raise ValueError("mean needs numeric ratings; for ordinal string labels use "
                         "median_rating(data, categories=...)") from None


def mean_rating(data):
    """Mean rating per unit over the raters who rated it (NaN if nobody did)."""
    x = _numeric(data)
    n = np.isfinite(x).sum(axis=0)
    out = np.divide(np.nansum(x, axis=0), n, out=np.full(x.shape[1], np.nan), where=n > 0)
    units = _units(data)
    return out if units is None else pd.Series(out, index=units, name="mean")


def median_rating(data, *, categories: Sequence | None = None):
    """Median rating per unit.

    Numeric labels give the usual median (the mean of the two middle values for an
    even count). With ``categories`` (an ordered scale, e.g. string labels) the result
    is a label: the lower median, so it is always a point of the scale.
    """
    units = _units(data)
    if categories is None:
        x = _numeric(data)
        out = np.full(x.shape[1], np.nan)
        rated = np.isfinite(x).any(axis=0)
        out[rated] = np.nanmedian(x[:, rated], axis=0)
        return out if units is None else pd.Series(out, index=units, name="median")
    coded = encode(as_2d(data, "data (raters x units)"), categories)
    counts = unit_counts(coded.codes, coded.n_categories)
    m = counts.sum(axis=1)
    cum = np.cumsum(counts, axis=1)
    # lower median: first category whose cumulative count reaches ceil(m / 2)
    label = np.argmax(cum >= np.ceil(m / 2)[:, None], axis=1)
    label[m == 0] = -1
    return _labels_out(label, coded.categories, coded.numeric, units)


@dataclass(frozen=True)
class DawidSkeneResult:
    """What Dawid-Skene estimated: true-label posteriors and each rater's confusion.

    ``labels`` is the most probable label per unit; ``posteriors`` units x categories;
    ``class_priors`` the estimated share of each true label; ``confusion`` raters x
    true x given, each row a distribution; ``reliability`` each rater's estimated
    accuracy, sum_k prior_k * confusion[r, k, k].
    """

    labels: np.ndarray | pd.Series
    posteriors: np.ndarray | pd.DataFrame
    categories: np.ndarray
    class_priors: np.ndarray
    confusion: np.ndarray
    reliability: np.ndarray | pd.Series
    log_likelihood: float
    n_iter: int
    converged: bool


def dawid_skene(
    data,
    *,
    categories: Sequence | None = None,
    max_iter: int = 200,
    tol: float = 1e-8,
    smoothing: float = 0.01,
    init: str = "majority",
    random_state: int | np.random.Generator | None = None,
) -> DawidSkeneResult:
    r"""Estimate true labels and per-rater confusion matrices by EM.

    Dawid & Skene (1979), "Maximum likelihood estimation of observer error-rates using
    the EM algorithm", JRSS C 28(1), sec. 2-3: rater r gives label l to a unit whose
    true label is k with probability :math:`\theta^{(r)}_{kl}`; EM alternates the
    posteriors :math:`T_{uk} \propto \pi_k \prod_{r} \theta^{(r)}_{k, y_{ru}}` and the
    maximum-likelihood :math:`\pi, \theta` given them. ``smoothing`` adds a small
    pseudo-count to every confusion cell so a rater who never used a label is not
    ruled out. ``init="majority"`` starts from the vote shares (deterministic;
    anchors label identities); ``"random"`` starts from random posteriors drawn with
    ``random_state``.
    """
    arr = as_2d(data, "data (raters x units)")
    if init not in ("majority", "random"):
        raise ValueError(f"init must be 'majority' or 'random', got {init!r}")
    if arr.shape[0] < 2:
        raise ValueError(f"Dawid-Skene needs at least two raters, got {arr.shape[0]}")
    coded = encode(arr, categories)
    k = coded.n_categories
    if k < 2:
        raise ValueError("only one category: there is nothing to estimate")
    r_idx, u_idx = np.nonzero(coded.codes >= 0)
    given = coded.codes[r_idx, u_idx]
    n_raters, n_units = coded.codes.shape
    counts = unit_counts(coded.codes, k).astype(float)
    if not (counts.sum(axis=1) >= 2).any():
        raise ValueError("no unit was rated by two or more raters: rater errors are not "
                         "identifiable")
    if init == "majority":
        post = counts + 1e-9
    else:
        post = np.random.default_rng(random_state).dirichlet(np.ones(k), size=n_units)
    post /= post.sum(axis=1, keepdims=True)

    ll_old, converged, it = -np.inf, False, 0
    cell = r_idx * k + given  # (rater, given label) of each observation
    for it in range(1, max_iter + 1):
        # M-step: class priors and confusion counts weighted by the posteriors
        priors = post.mean(axis=0)
        conf = np.stack([np.bincount(cell, weights=post[u_idx, t], minlength=n_raters * k)
                         for t in range(k)], axis=1).reshape(n_raters, k, k)  # [rater, given, true]
        conf = conf.transpose(0, 2, 1) + smoothing  # [rater, true, given]
        conf /= conf.sum(axis=2, keepdims=True)
        # E-step: log posterior = log prior + sum of the log probabilities of the given labels
        log_conf = np.log(conf)
        log_post = np.tile(np.log(priors), (n_units, 1))
        for t in range(k):
            log_post[:, t] += np.bincount(u_idx, weights=log_conf[r_idx, t, given],
                                          minlength=n_units)
        norm = logsumexp(log_post, axis=1, keepdims=True)
        post = np.exp(log_post - norm)
        ll = float(norm.sum())
        if abs(ll - ll_old) <= tol * max(1.0, abs(ll)):
            converged = True
            break
        ll_old = ll

    label = np.argmax(post, axis=1)
    label[counts.sum(axis=1) == 0] = -1
    reliability = np.einsum("k,rkk->r", priors, conf)
    units = _units(data)
    raters = data.index if isinstance(data, pd.DataFrame) else None
    return DawidSkeneResult(
        labels=_labels_out(label, coded.categories, coded.numeric, units),
        posteriors=post if units is None else pd.DataFrame(post, index=units,
                                                           columns=list(coded.categories)),
        categories=coded.categories,
        class_priors=priors,
        confusion=conf,
        reliability=reliability if raters is None else pd.Series(reliability, index=raters,
                                                                 name="reliability"),
        log_likelihood=ll,
        n_iter=it,
        converged=converged,
    )
