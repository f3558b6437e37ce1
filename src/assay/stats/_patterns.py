"""Building agreement summaries from reliability data, and merging them.

Labels are coded once; per-unit count vectors and rows of rater codes become int64 keys
(digits in a fixed base), whose distinct values a histogram finds without sorting.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._krippendorff import DENSE_MAX
from ._labels import Coded, _hashable, _is_number, encode, unit_counts
from ._summary import BY_RATER_MAX, AgreementSummary


def _encode_once(arr: np.ndarray, categories: Sequence | None) -> Coded:
    """:func:`encode` with a hash-based path for given categories (no Python loop over labels)."""
    if categories is None:
        fast = _small_integers(arr) if arr.dtype.kind in "fiu" else None
        return fast if fast is not None else encode(arr, None)
    cats = list(categories)
    if len(set(map(_hashable, cats))) != len(cats):
        raise ValueError("categories contains duplicates")
    lookup = {_hashable(c): i for i, c in enumerate(cats)}
    flat = arr.ravel()
    codes, uniques = pd.factorize(flat, use_na_sentinel=True)
    mapped = np.empty(len(uniques), dtype=np.int64)
    for i, u in enumerate(np.asarray(uniques, dtype=object)):
        try:
            mapped[i] = lookup[_hashable(u)]
        except KeyError:
            raise ValueError(f"label {u!r} is not one of the given categories {cats}") from None
    out = np.where(codes >= 0, mapped[np.maximum(codes, 0)] if len(mapped) else -1, -1)
    numeric = all(_is_number(c) for c in cats)
    cat_arr = np.asarray(cats, dtype=float) if numeric else np.asarray(cats, dtype=object)
    return Coded(out.reshape(arr.shape).astype(np.int64), cat_arr, numeric=numeric)


def _fits(base: int, width: int) -> bool:
    """Whether rows of ``width`` digits below ``base`` have distinct int64 keys."""
    return width == 0 or width * np.log2(max(base, 2)) < 62


def _small_integers(arr: np.ndarray) -> Coded | None:
    """:func:`encode` of integer-valued numbers spanning fewer than 255 values, as int16 codes
    in a few passes (no compaction of the present values); None for other data."""
    if arr.size == 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN data: handled below
        lo, hi = np.nanmin(arr), np.nanmax(arr)
    if not np.isfinite(lo) or not np.isfinite(hi) or hi - lo > 254:
        return None
    span = int(hi - lo) + 1
    off = arr.astype(float) - lo
    off[np.isnan(off)] = span  # one extra slot for "not rated"
    if not np.array_equal(off, np.floor(off)):
        return None
    idx = off.astype(np.int16)
    present = np.bincount(idx.ravel(), minlength=span + 1)[:span] > 0
    lookup = np.append(np.cumsum(present) - 1, -1).astype(np.int16)
    return Coded(lookup[idx], lo + np.flatnonzero(present).astype(float), numeric=True)


def unique_keys(key: np.ndarray, base: int, width: int, weight: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows given as int64 keys (digits below ``base``, most significant first):
    the rows in lexicographic order, their summed weights (default: how often each key
    occurs) and each key's position among them."""
    space = base**width
    if space <= max(1 << 22, 4 * len(key)):
        # small key space: a histogram of keys instead of a sort
        present = np.bincount(key, minlength=space) > 0
        keys = np.flatnonzero(present)
        inverse = (np.cumsum(present) - 1)[key]
    else:
        keys, inverse = np.unique(key, return_inverse=True)
    uniq = np.empty((len(keys), width), dtype=np.int64)
    rest = keys.astype(np.int64)
    for j in range(width - 1, -1, -1):
        rest, uniq[:, j] = np.divmod(rest, base)
    inverse = inverse.ravel()
    w = np.bincount(inverse, minlength=len(uniq)) if weight is None else np.bincount(
        inverse, weights=weight, minlength=len(uniq)).round()
    return uniq, w.astype(np.int64), inverse


def unique_rows(rows: np.ndarray, base: int, weight: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows of non-negative integers below ``base`` (lexicographic), their summed weights
    (default: how often each occurs) and each input row's position among them."""
    n, width = rows.shape
    if n == 0:
        return rows.astype(np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if _fits(base, width):
        key = np.zeros(n, dtype=np.int64)
        for j in range(width):
            key *= base
            key += rows[:, j]
        return unique_keys(key, base, width, weight)
    uniq, inverse = np.unique(rows, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    w = np.bincount(inverse, minlength=len(uniq)) if weight is None else np.bincount(
        inverse, weights=weight, minlength=len(uniq)).round()
    return uniq.astype(np.int64), w.astype(np.int64), inverse


def summarise(data, *, categories: Sequence | None = None, raters: Sequence | None = None,
              by_rater: bool | None = None) -> AgreementSummary:
    """Summarise raters x units reliability data (NaN/None = not rated) for every coefficient.

    Labels are coded once (``categories`` fixes their order and set, as for the
    coefficients). ``raters`` names the rows (default: a DataFrame's index, else 0..R-1);
    summaries are merged by these names. ``by_rater`` keeps the per-unit rows of rater
    codes needed by Cohen's kappa and ICC (default: when there are at most
    ``BY_RATER_MAX`` raters). Data with more than ``DENSE_MAX`` distinct labels
    (continuous scores) is refused: its patterns would be the units themselves.

    >>> s = summarise([["a", "b", "a"], ["a", "a", None]])
    >>> s.counts.tolist(), s.weight.tolist(), s.percent_agreement()
    ([[1, 0], [1, 1], [2, 0]], [1, 1, 1], 0.5)
    """
    if isinstance(data, pd.DataFrame):
        names = list(data.index)
        arr = data.to_numpy()
    else:
        arr = np.asarray(data)
        names = list(range(arr.shape[0])) if arr.ndim == 2 else []
    if arr.ndim != 2:
        raise ValueError(f"data (raters x units) must be 2-D, got shape {arr.shape}")
    if raters is not None:
        names = list(raters)
        if len(names) != arr.shape[0]:
            raise ValueError(f"raters names {len(names)} rows, data has {arr.shape[0]}")
    if len(set(names)) != len(names):
        raise ValueError("rater names must be distinct")
    coded = _encode_once(arr, categories)
    return from_codes(coded.codes, coded.categories, numeric=coded.numeric,
                      given=categories is not None, raters=names, by_rater=by_rater)


def from_codes(codes: np.ndarray, categories: np.ndarray, *, numeric: bool, given: bool,
               raters: Sequence, by_rater: bool | None = None) -> AgreementSummary:
    """The summary of raters x units integer codes (-1 = not rated) indexing ``categories``."""
    k = len(categories)
    if k > DENSE_MAX:
        raise ValueError(f"{k} distinct labels: summaries hold category counts, which suits "
                         f"at most {DENSE_MAX} (round continuous scores or use the raw functions)")
    codes = np.asarray(codes)
    n_raters, n_units = codes.shape
    if _fits(n_raters + 1, k):
        # a unit's count pattern as one key: each rating of category c adds (R+1)^(K-1-c)
        digit = np.append((n_raters + 1) ** np.arange(k - 1, -1, -1, dtype=np.int64), 0)
        key = np.zeros(n_units, dtype=np.int64)
        for row in codes:
            key += digit[row]  # code -1 reads the trailing 0
        patterns, weight, _ = unique_keys(key, n_raters + 1, k)
    else:
        patterns, weight, _ = unique_rows(unit_counts(codes.astype(np.int64), k), n_raters + 1)
    labels = label_weight = None
    if by_rater if by_rater is not None else n_raters <= BY_RATER_MAX:
        if _fits(k + 1, n_raters):
            key = np.zeros(n_units, dtype=np.int64)
            for row in codes:
                key *= k + 1
                key += row
                key += 1
            rows, label_weight, _ = unique_keys(key, k + 1, n_raters)
        else:
            rows, label_weight, _ = unique_rows(codes.T.astype(np.int64) + 1, k + 1)
        labels = rows - 1
    return AgreementSummary(np.asarray(categories), bool(numeric), bool(given), tuple(raters),
                            patterns, weight, labels, label_weight)


def _union_categories(a: AgreementSummary, b: AgreementSummary) -> np.ndarray:
    if a.numeric != b.numeric:
        raise ValueError("cannot merge a summary of numeric labels with one of other labels")
    if a.given or b.given:
        if not (a.given and b.given) or list(a.categories) != list(b.categories):
            raise ValueError("summaries made with given categories merge only with the same "
                             "given categories")
        return a.categories
    if a.numeric:
        return np.union1d(a.categories.astype(float), b.categories.astype(float))
    both = list(dict.fromkeys(list(a.categories) + list(b.categories)))
    try:
        return np.asarray(sorted(both), dtype=object)
    except TypeError:
        raise ValueError("the labels cannot be ordered, so merged codes could differ from one "
                         "pass: summarise with categories=") from None


def _positions(sub: np.ndarray, full: np.ndarray) -> np.ndarray:
    index = {_hashable(c): i for i, c in enumerate(full)}
    return np.array([index[_hashable(c)] for c in sub], dtype=np.int64)


def merge_summaries(*summaries: AgreementSummary) -> AgreementSummary:
    """One summary of the units of all: the same tables as one pass over all the units.

    Categories are aligned (the union, in the order the raw functions code them,
    unless they were given, when they must be equal) and raters are matched by name
    (those of the first summary first). The per-rater table is kept only if every
    summary has it.
    """
    if not summaries:
        raise ValueError("nothing to merge")
    out = summaries[0]
    for other in summaries[1:]:
        out = _merge_two(out, other)
    return out


def _merge_two(a: AgreementSummary, b: AgreementSummary) -> AgreementSummary:
    cats = _union_categories(a, b)
    raters = tuple(a.raters) + tuple(r for r in b.raters if r not in a.raters)
    k, n_raters = len(cats), len(raters)
    count_parts, label_parts = [], []
    for s in (a, b):
        cols = _positions(s.categories, cats)
        c = np.zeros((len(s.counts), k), dtype=np.int64)
        c[:, cols] = s.counts
        count_parts.append(c)
        if s.labels is not None:
            remap = np.append(cols, -1)  # code -1 stays -1
            rows = np.full((len(s.labels), n_raters), -1, dtype=np.int64)
            rows[:, [raters.index(r) for r in s.raters]] = remap[s.labels]
            label_parts.append(rows)
    counts, weight, _ = unique_rows(np.vstack(count_parts), n_raters + 1,
                                    np.concatenate([a.weight, b.weight]).astype(float))
    labels = label_weight = None
    if len(label_parts) == 2:
        rows, label_weight, _ = unique_rows(np.vstack(label_parts) + 1, k + 1,
                                            np.concatenate([a.label_weight, b.label_weight]).astype(float))
        labels = rows - 1
    return AgreementSummary(cats, a.numeric, a.given, raters, counts, weight, labels, label_weight)
