"""The human consensus of :data:`assay.analysis.agreement.JUDGE_VS_HUMANS`, on arrays, for millions of labels.

:func:`assay.analysis.agreement.consensus` defines the consensus on one rater -> unit ->
label mapping at a time; this module computes the same labels for every unit at once,
and the leave-one-out consensus (each human against the *other* humans) for every human
in one pass, so `assay agreement` costs a few sorts per dimension instead of a Python loop
over units per rater.

- ordinal: the lower median (``statistics.median_low``): after sorting a unit's labels, the
  one at position ``(c - 1) // 2``; leaving out one label at position ``p``, the others'
  lower median is at ``m = (c - 2) // 2``, shifted past ``p`` (``m + (m >= p)``);
- nominal scales: the unique most common label (none on a tie), from each unit's category
  counts, less the rater's own vote when it is left out;
- continuous: the mean, ``(sum - own) / (c - 1)`` when one label is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Long:
    """One label per (unit, rater), as codes: ``unit`` and ``rater`` index ``units`` and ``raters``."""

    unit: np.ndarray  # int64
    rater: np.ndarray  # int64
    value: np.ndarray  # float (ordinal, continuous) or object labels (nominal scales)
    units: np.ndarray
    raters: np.ndarray

    @classmethod
    def of(cls, df: pd.DataFrame, value: str) -> Long:
        """From a long frame (columns ``unit``, ``rater`` and ``value``), labels missing left out."""
        keep = ~pd.isna(df[value]).to_numpy()
        part = df.loc[keep]
        u, units = pd.factorize(part["unit"], sort=True)
        r, raters = pd.factorize(part["rater"], sort=True)
        return cls(u.astype(np.int64), r.astype(np.int64), part[value].to_numpy(), np.asarray(units),
                   np.asarray(raters))

    def of_rater(self, rater: int) -> tuple[np.ndarray, np.ndarray]:
        """The units ``rater`` labelled (sorted) and their labels."""
        mine = self.rater == rater
        u, v = self.unit[mine], self.value[mine]
        order = np.argsort(u, kind="stable")
        return u[order], v[order]


def consensus(long: Long, voters: np.ndarray, scale: str, *, leave_out: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The consensus of the raters in ``voters`` (codes), per unit or, with ``leave_out``, per vote without it.

    Returns ``(unit, rater, label)`` arrays: without ``leave_out``, one row per unit with a
    consensus (``rater`` is -1); with it, one row per vote of a voter whose unit has a
    consensus among the *other* voters. Units without a consensus are left out.
    """
    mask = np.isin(long.rater, voters)
    u, r, v = long.unit[mask], long.rater[mask], long.value[mask]
    if scale == "continuous":
        return _mean(u, r, v.astype(float), leave_out)
    if scale == "ordinal":
        return _median_low(u, r, v.astype(float), leave_out)
    return _plurality(u, r, v, leave_out)


def _groups(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For unit codes sorted ascending: each row's group start and group size, the distinct units and their starts."""
    units, first, count = np.unique(u, return_index=True, return_counts=True)
    idx = np.searchsorted(units, u)
    return first[idx], count[idx], units, first


def _mean(u: np.ndarray, r: np.ndarray, v: np.ndarray, leave_out: bool):
    order = np.argsort(u, kind="stable")
    u, r, v = u[order], r[order], v[order]
    start, count, units, first = _groups(u)
    sums = np.add.reduceat(v, first) if v.size else v
    total = sums[np.searchsorted(units, u)] if v.size else v
    if not leave_out:
        return units, np.full(units.size, -1), sums / count[first]
    ok = count > 1
    return u[ok], r[ok], (total[ok] - v[ok]) / (count[ok] - 1)


def _median_low(u: np.ndarray, r: np.ndarray, v: np.ndarray, leave_out: bool):
    levels, code = np.unique(v, return_inverse=True)
    if v.size and levels.size <= _FEW_LEVELS:  # a rating scale: count each unit's labels per level
        return _median_low_counted(u, r, code, levels, leave_out)
    order = np.lexsort((v, u))  # by unit, then label
    u, r, v = u[order], r[order], v[order]
    start, count, units, first = _groups(u)
    if not leave_out:
        c = count[first]
        return units, np.full(units.size, -1), v[first + (c - 1) // 2]
    ok = count > 1
    pos = np.arange(u.size) - start
    m = (count - 2) // 2
    at = start + m + (m >= pos)
    return u[ok], r[ok], v[np.where(ok, at, 0)][ok]


_FEW_LEVELS = 64


def _level_counts(u: np.ndarray, code: np.ndarray, k: int) -> np.ndarray:
    """units x levels: how many labels of each level each unit has (rows for unit codes 0..max)."""
    n_units = int(u.max()) + 1
    return np.bincount(u * k + code, minlength=n_units * k).reshape(n_units, k).astype(np.int32)


def _median_low_counted(u: np.ndarray, r: np.ndarray, code: np.ndarray, levels: np.ndarray, leave_out: bool):
    """:func:`_median_low` from per-unit level counts: the lower median is the first level whose running count
    passes position ``(c - 1) // 2`` of the unit's ``c`` labels (``c - 1`` of them, the voter's own left out)."""
    counts = _level_counts(u, code, levels.size)
    if not leave_out:
        units = np.flatnonzero(counts.sum(axis=1))
        part = counts[units]
        m = (part.sum(axis=1) - 1) // 2
        at = (np.cumsum(part, axis=1, dtype=np.int32) <= m[:, None]).sum(axis=1)
        return units, np.full(units.size, -1), levels[at]
    others = counts[u]
    others[np.arange(u.size), code] -= 1
    c = others.sum(axis=1)
    ok = c > 0
    others, c = others[ok], c[ok]
    at = (np.cumsum(others, axis=1, dtype=np.int32) <= ((c - 1) // 2)[:, None]).sum(axis=1)
    return u[ok], r[ok], levels[at]


def _plurality(u: np.ndarray, r: np.ndarray, v: np.ndarray, leave_out: bool):
    codes, labels = pd.factorize(v)
    k = len(labels)
    counts = _level_counts(u, codes, max(k, 1)) if u.size else np.zeros((0, max(k, 1)), dtype=np.int32)
    labels = np.asarray(labels, dtype=object)
    if not leave_out:
        units = np.flatnonzero(counts.sum(axis=1))
        top, unique = _top(counts[units])
        return units[unique], np.full(int(unique.sum()), -1), labels[top[unique]]
    others = counts[u]
    others[np.arange(u.size), codes] -= 1
    top, unique = _top(others)
    ok = unique & (others.sum(axis=1) > 0)
    return u[ok], r[ok], labels[top[ok]]


def _top(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the column of the largest count and whether no other column ties it (rows of zeros: False)."""
    top = np.argmax(counts, axis=1)
    best = counts[np.arange(counts.shape[0]), top]
    unique = (best > 0) & ((counts == best[:, None]).sum(axis=1) == 1)
    return top, unique


def aligned(u_a: np.ndarray, v_a: np.ndarray, u_b: np.ndarray, v_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The labels of two raters on the units both labelled (each input sorted by unit, one label per unit)."""
    _, ia, ib = np.intersect1d(u_a, u_b, assume_unique=True, return_indices=True)
    return v_a[ia], v_b[ib]
