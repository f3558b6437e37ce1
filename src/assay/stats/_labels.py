"""Turn rating data (numbers or strings, NaN/None for missing) into integer codes.

Every agreement statistic works on codes ``0..K-1`` with ``-1`` for "not rated",
plus the ordered categories and, for metric levels, one numeric value per category.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Integer-valued data spanning at most this many values is coded without sorting.
_DIRECT_SPAN = 1 << 20


@dataclass(frozen=True)
class Coded:
    """Rating data as integer codes (-1 = missing) with the categories they index."""

    codes: np.ndarray
    categories: np.ndarray
    numeric: bool

    @property
    def n_categories(self) -> int:
        return len(self.categories)

    def values(self) -> np.ndarray:
        """One number per category: the label itself if numeric, else its position."""
        if self.numeric:
            return self.categories.astype(float)
        return np.arange(self.n_categories, dtype=float)


def as_2d(data, name: str = "data") -> np.ndarray:
    """A 2-D array from an array-like or DataFrame, without copying numeric input."""
    arr = data.to_numpy() if isinstance(data, pd.DataFrame) else np.asarray(data)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {arr.shape}")
    return arr


def encode(data, categories: Sequence | None = None) -> Coded:
    """Code an array of labels of any shape; NaN/None/pd.NA mean "not rated".

    With ``categories`` the codes follow that order (and unobserved categories keep
    their place); otherwise numeric labels are sorted numerically and other labels
    sorted if they can be, else kept in order of first appearance.
    """
    arr = data.to_numpy() if isinstance(data, (pd.DataFrame, pd.Series)) else np.asarray(data)
    if categories is not None:
        return _encode_given(arr, categories)
    if arr.dtype.kind in "biuf":
        return _encode_numeric(arr.astype(float, copy=False))
    flat = arr.ravel()
    missing = pd.isna(flat)
    present = flat[~missing]
    if present.size and all(_is_number(x) for x in present):
        out = np.full(flat.shape, np.nan)
        out[~missing] = present.astype(float)
        return _encode_numeric(out.reshape(arr.shape))
    codes, uniques = pd.factorize(flat, use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)
    try:
        order = np.argsort(uniques, kind="stable")
    except TypeError:  # unorderable mixture: keep first appearance
        order = np.arange(len(uniques))
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[order] = np.arange(len(uniques))
    out = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
    return Coded(out.reshape(arr.shape), uniques[order], numeric=False)


def _encode_numeric(arr: np.ndarray) -> Coded:
    mask = ~np.isnan(arr)
    vals = arr[mask]
    codes = np.full(arr.shape, -1, dtype=np.int64)
    if vals.size == 0:
        return Coded(codes, np.array([], dtype=float), numeric=True)
    lo, hi = vals.min(), vals.max()
    if hi - lo <= _DIRECT_SPAN and np.array_equal(vals, np.floor(vals)):
        # Small integer range: a lookup table instead of a sort (the common ordinal case).
        offsets = (vals - lo).astype(np.int64)
        present = np.bincount(offsets, minlength=int(hi - lo) + 1) > 0
        lookup = np.cumsum(present) - 1
        codes[mask] = lookup[offsets]
        cats = lo + np.flatnonzero(present).astype(float)
    else:
        cats, inverse = np.unique(vals, return_inverse=True)
        codes[mask] = inverse
    return Coded(codes, cats, numeric=True)


def _encode_given(arr: np.ndarray, categories: Sequence) -> Coded:
    cats = list(categories)
    if len(set(map(_hashable, cats))) != len(cats):
        raise ValueError("categories contains duplicates")
    flat = arr.ravel()
    missing = pd.isna(flat)
    numeric = all(_is_number(c) for c in cats)
    lookup = {_hashable(c): i for i, c in enumerate(cats)}
    codes = np.full(flat.shape, -1, dtype=np.int64)
    present = flat[~missing]
    # each distinct label looked up once (factorize groups equal labels, 1 and 1.0 alike, as a dict does)
    inverse, uniques = pd.factorize(present)
    try:
        mapped = np.fromiter((lookup[_hashable(x)] for x in uniques), dtype=np.int64, count=len(uniques))
    except KeyError as e:
        raise ValueError(f"label {e.args[0]!r} is not one of the given categories {cats}") from None
    codes[~missing] = mapped[inverse]
    cat_arr = np.asarray(cats, dtype=float) if numeric else np.asarray(cats, dtype=object)
    return Coded(codes.reshape(arr.shape), cat_arr, numeric=numeric)


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _hashable(x):
    # 1, 1.0 and np.float64(1.0) must meet in the same dict slot.
    if isinstance(x, (np.integer, np.floating)):
        x = x.item()
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x


def unit_counts(codes: np.ndarray, n_categories: int) -> np.ndarray:
    """Units x categories counts from raters x units codes (-1 = missing)."""
    n_units = codes.shape[1]
    k1 = n_categories + 1
    shifted = np.where(codes < 0, n_categories, codes)
    flat = (shifted + k1 * np.arange(n_units, dtype=np.int64)).ravel()
    counts = np.bincount(flat, minlength=n_units * k1).reshape(n_units, k1)
    return counts[:, :n_categories]
