"""Isotonic regression (the pool-adjacent-violators algorithm) and the isotonic calibration map built on it.

A judge's scores are calibrated to the human scale by the monotone map that fits the human
labels best in least squares: the isotonic regression of the human value on the judge's
score (Zadrozny and Elkan, "Transforming classifier scores into accurate multiclass
probability estimates", KDD 2002, section 3; the same fit with 0/1 outcomes gives calibrated
probabilities, as for a pairwise judge's win probabilities).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def isotonic_regression(y, *, weights=None, increasing: bool = True) -> np.ndarray:
    """The non-decreasing (or non-increasing) sequence closest to ``y`` in weighted least squares.

    The pool-adjacent-violators algorithm (Ayer, Brunk, Ewing, Reid and Silverman, "An empirical
    distribution function for sampling with incomplete information", Ann. Math. Statist. 26(4),
    1955; Barlow, Bartholomew, Bremner and Brunk, *Statistical Inference under Order
    Restrictions*, 1972, ch. 1): scan left to right, merge a block with the one before while their
    weighted means are out of order. Linear time, one stack of blocks.

    >>> isotonic_regression([1, 3, 2, 4, 3.5, 5]).tolist()
    [1.0, 2.5, 2.5, 3.75, 3.75, 5.0]
    >>> isotonic_regression([1, 3, 2], weights=[1, 3, 1]).tolist()
    [1.0, 2.75, 2.75]
    """
    v = np.asarray(y, dtype=float).ravel()
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=float).ravel()
    if w.shape != v.shape:
        raise ValueError(f"weights must have the length of y ({v.size}), got {w.size}")
    if not (np.isfinite(v).all() and np.isfinite(w).all()):
        raise ValueError("y and weights must be finite")
    if (w <= 0).any():
        raise ValueError("weights must be positive")
    if not increasing:
        return -isotonic_regression(-v, weights=w)
    means: list[float] = []
    mass: list[float] = []
    sizes: list[int] = []
    for value, weight in zip(v.tolist(), w.tolist()):
        m, s, n = value, weight, 1
        while means and means[-1] >= m:  # merge equal means too: fewer blocks, same fit
            pm, ps, pn = means.pop(), mass.pop(), sizes.pop()
            m, s, n = (pm * ps + m * s) / (ps + s), ps + s, pn + n
        means.append(m)
        mass.append(s)
        sizes.append(n)
    return np.repeat(np.asarray(means), sizes)


@dataclass(frozen=True)
class IsotonicMap:
    """A fitted monotone map from a judge's score to the human scale.

    ``x`` are the distinct scores seen (sorted), ``y`` the fitted human value at each; between
    them the map is linear, outside them it is clipped to the nearest end (as scikit-learn's
    ``IsotonicRegression(out_of_bounds="clip")``). ``n`` is the number of pairs it was fitted on.
    """

    x: tuple[float, ...]
    y: tuple[float, ...]
    n: int

    def __call__(self, scores) -> np.ndarray:
        s = np.asarray(scores, dtype=float)
        if len(self.x) == 1:
            return np.full(s.shape, self.y[0])
        return np.interp(s, self.x, self.y)

    def to_dict(self) -> dict[str, object]:
        return {"x": list(self.x), "y": list(self.y), "n": self.n}

    @classmethod
    def from_dict(cls, d: dict) -> IsotonicMap:
        return cls(tuple(float(v) for v in d["x"]), tuple(float(v) for v in d["y"]), int(d["n"]))


def fit_isotonic(scores, targets, *, weights=None, increasing: bool = True) -> IsotonicMap:
    """The least-squares monotone map from ``scores`` to ``targets`` (equal scores pooled first).

    Pairs with the same score are pooled into their weighted mean target, as scikit-learn does,
    so the map is a function of the score; then :func:`isotonic_regression` over the sorted
    distinct scores.

    >>> m = fit_isotonic([1, 2, 2, 3, 4], [1.0, 4.0, 2.0, 1.5, 5.0])
    >>> m.y, m([0, 2.5, 3.5, 9]).tolist()
    ((1.0, 2.5, 2.5, 5.0), [1.0, 2.5, 3.75, 5.0])
    """
    x = np.asarray(scores, dtype=float).ravel()
    t = np.asarray(targets, dtype=float).ravel()
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float).ravel()
    if not (x.size == t.size == w.size):
        raise ValueError(f"scores, targets and weights must have one length, got {x.size}, {t.size}, {w.size}")
    if x.size == 0:
        raise ValueError("no (score, target) pairs to fit")
    if not (np.isfinite(x).all() and np.isfinite(t).all()):
        raise ValueError("scores and targets must be finite")
    ux, inverse = np.unique(x, return_inverse=True)
    mass = np.bincount(inverse, weights=w, minlength=ux.size)
    pooled = np.bincount(inverse, weights=w * t, minlength=ux.size) / mass
    fitted = isotonic_regression(pooled, weights=mass, increasing=increasing)
    return IsotonicMap(tuple(ux.tolist()), tuple(fitted.tolist()), int(x.size))
