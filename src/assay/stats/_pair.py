"""How two raters agree with each other: the figures every "judge vs human" table shows."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._kappa import cohen_kappa
from ._krippendorff import krippendorff_alpha


@dataclass(frozen=True)
class PairAgreement:
    """Agreement of two raters on the units both rated.

    ``percent`` is the share of those units with the same value; ``kappa`` Cohen's kappa and
    ``weighted_kappa`` its weighted form (categorical levels only); ``alpha`` Krippendorff's
    alpha at the level asked; ``spearman`` the rank correlation. A figure that is undefined
    on these data (one category only, too few units) is None, and ``errors`` says why.
    """

    n: int
    percent: float | None = None
    kappa: float | None = None
    weighted_kappa: float | None = None
    alpha: float | None = None
    spearman: float | None = None
    errors: dict[str, str] = field(default_factory=dict)


def _labels_array(v: Sequence[Any]) -> np.ndarray:
    """One rater's labels as a 1-D array: float where every label is a number (missing as NaN), else objects."""
    arr = np.asarray(v) if isinstance(v, np.ndarray) else np.asarray(list(v), dtype=object)
    arr = arr.ravel()
    if arr.dtype == object and pd.api.types.infer_dtype(arr, skipna=True) in ("integer", "floating",
                                                                              "mixed-integer-float", "empty"):
        arr = arr.astype(float)  # None becomes NaN
    return arr


def pair_agreement(x: Sequence[Any], y: Sequence[Any], *, level: str = "nominal",
                   categories: Sequence[Any] | None = None, weights: str | None = None,
                   spearman: bool | None = None) -> PairAgreement:
    """Percent agreement, Cohen's kappa (Cohen 1960; weighted: Cohen 1968), Krippendorff's alpha
    (Krippendorff 2011) and Spearman's rho for two raters over the same units.

    Units where either value is missing are left out. ``level`` is Krippendorff's (nominal,
    ordinal, interval, ratio); kappa is computed for nominal and ordinal data only, with
    ``weights`` ("linear", "quadratic") for a weighted kappa as well. ``spearman`` defaults
    to on for ordinal, interval and ratio data. Each figure is computed on its own, so one
    undefined figure does not hide the others.

    >>> r = pair_agreement([1, 2, 3, 3], [1, 2, 3, 2], level="ordinal")
    >>> r.n, r.percent, round(r.kappa, 4)
    (4, 0.75, 0.6364)
    """
    xa, ya = _labels_array(x), _labels_array(y)
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must label the same units, got lengths {xa.size} and {ya.size}")
    keep = ~(pd.isna(xa) | pd.isna(ya))
    out: dict[str, Any] = {"n": int(keep.sum())}
    errors: dict[str, str] = {}
    if not out["n"]:
        return PairAgreement(n=0, errors={"all": "the two raters share no units"})
    xs, ys = xa[keep], ya[keep]
    out["percent"] = float(np.mean(xs == ys))
    cats = {"categories": categories} if categories is not None else {}

    def attempt(name: str, fn) -> None:  # noqa: ANN001
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                v = float(fn())
        except ValueError as e:
            errors[name] = str(e)
            return
        if v != v:
            errors[name] = "undefined on these data"
        else:
            out[name] = v

    if level in ("nominal", "ordinal"):
        attempt("kappa", lambda: cohen_kappa(xs, ys, **cats))
        if weights:
            attempt("weighted_kappa", lambda: cohen_kappa(xs, ys, weights=weights, **cats))
    attempt("alpha", lambda: krippendorff_alpha([xs, ys], level=level, **cats))
    if spearman if spearman is not None else level != "nominal":
        if out["n"] > 2:
            from scipy.stats import spearmanr

            attempt("spearman", lambda: spearmanr(xs, ys).statistic)
        else:
            errors["spearman"] = "needs more than two shared units"
    return PairAgreement(**out, errors=errors)
