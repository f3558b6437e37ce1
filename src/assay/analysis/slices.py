"""Slice search: the subsets of the data, and pairs of them, where an outcome differs from the rest.

A slice is a conjunction of at most ``max_level`` predicates ``feature = value`` over a
feature table (one row per unit: a response, an instruction, a prompt's paired
difference). The search walks the lattice level by level, as SliceLine does (Sagadeeva
and Boehm, "SliceLine: Fast, Linear-Algebra-based Slice Finding for ML Model Debugging",
SIGMOD 2021, sec. 3): a level's slices are scored from sufficient statistics in one pass
(``np.bincount`` over the integer codes of two features at once, in place of SliceLine's
sparse matrix products), and a child is only formed from parents that pass the size
bound: a child is no larger than its smaller parent, so a parent below ``min_size`` has
no child worth testing (SliceLine's size pruning, eq. 4; SliceFinder's lattice search,
Chung et al., "Slice Finder: Automated Data Slicing for Model Validation", ICDE 2019,
sec. III-B, prunes the same way by sample size). A child with the same rows as a parent
is the same test and is left out; so is the second value of a two-valued feature with no
missing rows (its slice is the first one's complement).

Each slice is tested against its complement (:mod:`assay.stats.slicetests`: two
proportions for a failure rate, Welch's t for a mean or a paired difference) and the
p-values of EVERY slice tested are adjusted together, Benjamini-Hochberg by default
(Benjamini and Hochberg 1995, *JRSS B* 57:289) or Benjamini-Yekutieli (2001, *Ann.
Stat.* 29:1165, thm. 1.3), which holds under any dependence: overlapping slices (a
slice and its children) give dependent tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from assay.errors import BadInput
from assay.stats.abtest import adjust_pvalues
from assay.stats.slicetests import SliceTest, two_proportions, welch_means, wilson_bounds

__all__ = ["Feature", "SliceResult", "SliceSearch", "find_slices"]


@dataclass(frozen=True, eq=False)
class Feature:
    """One feature of the units: categorical (one value per row, or none) or a set of values per row.

    ``codes`` (categorical): each row's value as an index into ``labels``, -1 for none.
    ``rows`` (a set per row, e.g. tags or IFEval instruction types): for each label the
    sorted indices of the rows that carry it.
    """

    name: str
    labels: tuple[str, ...]
    codes: np.ndarray | None = None
    rows: tuple[np.ndarray, ...] | None = None

    @classmethod
    def categorical(cls, name: str, values: Sequence[Any]) -> Feature:
        """From one value per row (None or NaN: the row has none); labels are the values as text, sorted."""
        text = pd.Series(values, dtype=object).map(lambda v: None if v is None or v != v else str(v))
        codes, labels = pd.factorize(text, sort=True)
        return cls(name, tuple(labels), codes=np.asarray(codes, dtype=np.int64))

    @classmethod
    def multi(cls, name: str, values: Sequence[Sequence[Any] | None]) -> Feature:
        """From a collection of values per row (a row may carry none, one or several)."""
        by: dict[str, list[int]] = {}
        for i, vs in enumerate(values):
            for v in dict.fromkeys(map(str, vs or ())):
                by.setdefault(v, []).append(i)
        labels = tuple(sorted(by))
        return cls(name, labels, rows=tuple(np.asarray(by[v], dtype=np.int64) for v in labels))

    @property
    def is_multi(self) -> bool:
        return self.rows is not None

    def mask(self, value: int, size: int) -> np.ndarray:
        """The rows carrying value number ``value``."""
        if self.codes is not None:
            return self.codes == value
        m = np.zeros(size, dtype=bool)
        m[self.rows[value]] = True  # type: ignore[index]
        return m


@dataclass(frozen=True)
class SliceSearch:
    """How the lattice is searched and tested."""

    max_level: int = 2
    """Predicates per slice: 1 (single) or 2 (pairs)."""
    min_size: int = 20
    """Rows a slice needs to be tested (and, for a level-1 slice, to have children)."""
    fdr: Literal["bh", "by"] = "bh"
    """Benjamini-Hochberg, or Benjamini-Yekutieli (any dependence)."""
    alpha: float = 0.05
    """A slice is reported as significant when its adjusted p-value is below this."""
    confidence: float = 0.95
    """Of the intervals."""

    def check(self) -> None:
        if self.max_level not in (1, 2):
            raise BadInput(f"the lattice goes to level 1 or 2, not {self.max_level}", param="max_level")
        if self.min_size < 1:
            raise BadInput(f"a slice needs at least one row; got {self.min_size}", param="min_size")
        if self.fdr not in ("bh", "by"):
            raise BadInput(f"choose 'bh' or 'by', not {self.fdr!r}", param="fdr")
        if not 0 < self.alpha < 1:
            raise BadInput(f"alpha must lie in (0, 1), got {self.alpha}", param="alpha")


@dataclass
class SliceResult:
    """Every slice tested, sorted by adjusted p-value then effect size, with what was searched."""

    slices: pd.DataFrame
    """One row per tested slice: slice (text), predicates ([[feature, value], ...]), level, n, n_out,
    value_in (rate or mean) with in_low/in_high, value_out, diff with ci_low/ci_high, effect
    (Cohen's h or d), p, p_adj, significant; p_beyond, p_beyond_adj (a pair against the rest of
    each parent, see :func:`_beyond_parents`) and shown (significant, and a single predicate
    or a pair beyond its parents: what the command lists by default)."""
    rows: int
    binary: bool
    overall: float
    search: SliceSearch
    features: list[str]
    tested: int
    notes: list[str] = field(default_factory=list)

    def significant(self) -> pd.DataFrame:
        return self.slices[self.slices["significant"]]

    def shown(self) -> pd.DataFrame:
        """Significant slices, pairs only when they differ beyond both parents."""
        return self.slices[self.slices["shown"]]

    def to_dict(self, *, limit: int | None = None) -> dict[str, Any]:
        frame = self.slices if limit is None else self.slices.head(limit)
        return {"rows": self.rows, "outcome": "failure rate" if self.binary else "mean", "overall": self.overall,
                "tested": self.tested, "significant": int(self.slices["significant"].sum()),
                "shown": int(self.slices["shown"].sum()),
                "features": self.features, "search": {"max_level": self.search.max_level,
                                                      "min_size": self.search.min_size, "fdr": self.search.fdr,
                                                      "alpha": self.search.alpha,
                                                      "confidence": self.search.confidence},
                "notes": self.notes,
                "slices": [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict(orient="records")]}


def _plain(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if v != v else float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


class _Sums:
    """Per slice: its predicates and the count, sum and sum of squares of its rows' (centred) outcome."""

    def __init__(self) -> None:
        self.preds: list[tuple[tuple[int, int], ...]] = []
        self.parts: list[np.ndarray] = []

    def add(self, preds: list[tuple[tuple[int, int], ...]], n: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> None:
        if len(preds):
            self.preds += preds
            self.parts.append(np.stack([n, s1, s2], axis=1))

    def table(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros((0, 3))


def _level1(feat: Feature, y: np.ndarray, y2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = len(feat.labels)
    if feat.codes is not None:
        ok = feat.codes >= 0
        c = feat.codes[ok]
        s1 = np.bincount(c, weights=y[ok], minlength=k)
        return (np.bincount(c, minlength=k).astype(float), s1,
                s1 if y2 is y else np.bincount(c, weights=y2[ok], minlength=k))
    rows = feat.rows or ()
    return (np.array([len(r) for r in rows], float), np.array([y[r].sum() for r in rows]),
            np.array([y2[r].sum() for r in rows]))


def _pairs_cat(f: Feature, g: Feature, cf: np.ndarray, cg: np.ndarray, y: np.ndarray, y2: np.ndarray):
    """All (value of f, value of g) cells at once: one bincount over the combined code."""
    kf, kg = len(f.labels), len(g.labels)
    ok = (cf >= 0) & (cg >= 0)
    flat = cf[ok] * kg + cg[ok]
    size = kf * kg
    s1 = np.bincount(flat, weights=y[ok], minlength=size).reshape(kf, kg)
    return (np.bincount(flat, minlength=size).astype(float).reshape(kf, kg), s1,
            s1 if y2 is y else np.bincount(flat, weights=y2[ok], minlength=size).reshape(kf, kg))


def find_slices(features: Sequence[Feature], y: Sequence[float] | np.ndarray, *, binary: bool | None = None,
                search: SliceSearch = SliceSearch()) -> SliceResult:
    """Test every slice of ``features`` up to ``search.max_level`` predicates against its complement.

    ``y`` is the outcome per row: 1 for a failure and 0 otherwise (``binary``: a failure
    rate, compared by two proportions), or a score or paired difference (compared by means).
    ``binary=None`` decides from the values.
    """
    search.check()
    y = np.asarray(y, dtype=float)
    n_rows = len(y)
    if n_rows == 0:
        raise BadInput("no rows to slice: the outcome has no values", param="outcome")
    if np.isnan(y).any():
        raise BadInput("the outcome has missing values; leave those rows out", param="outcome")
    for f in features:
        size = len(f.codes) if f.codes is not None else None
        if size is not None and size != n_rows:
            raise BadInput(f"feature {f.name!r} has {size} rows, the outcome {n_rows}", param="features")
    if binary is None:
        binary = bool(np.isin(y, (0.0, 1.0)).all())
    centre = 0.0 if binary else float(y.mean())  # sums around the mean keep the variances' digits
    yc = y - centre
    y2 = yc if binary else yc * yc  # 0/1 outcomes are their own squares: one bincount fewer per cell
    total = np.array([n_rows, yc.sum(), y2.sum()])
    sums = _Sums()
    ms = search.min_size
    eligible: list[np.ndarray] = []  # per feature: its values with at least min_size rows (they may have children)
    n1: list[np.ndarray] = []
    level1: list[np.ndarray] = []  # per feature: (values, 3) sums, the parents of level 2
    for i, f in enumerate(features):
        n, s1, s2 = _level1(f, yc, y2)
        level1.append(np.stack([n, s1, s2], axis=1))
        keep = n >= ms
        eligible.append(keep)
        n1.append(n)
        tested = keep & (n < n_rows)
        if f.codes is not None and len(f.labels) == 2 and n.sum() == n_rows:
            tested[1] = False  # the complement of value 0: the same test
        idx = np.flatnonzero(tested)
        sums.add([((i, int(j)),) for j in idx], n[idx], s1[idx], s2[idx])
    if search.max_level >= 2:
        _level2(features, eligible, n1, yc, y2, ms, n_rows, sums)
    table = sums.table()
    out = table.copy()
    out[:, 0] = total[0] - table[:, 0]
    out[:, 1:] = total[1:] - table[:, 1:]
    if binary:
        test = two_proportions(table[:, 1], table[:, 0], out[:, 1], out[:, 0], confidence=search.confidence)
        lo, hi = wilson_bounds(table[:, 1], table[:, 0], _zq(search.confidence))
    else:
        test = welch_means(table[:, 0], table[:, 1], table[:, 2], out[:, 0], out[:, 1], out[:, 2],
                           confidence=search.confidence)
        test = SliceTest(test.value_in + centre, test.value_out + centre, test.diff, test.ci_low, test.ci_high,
                         test.effect, test.pvalue)
        lo, hi = _mean_bounds(table, search.confidence, centre)
    method = "fdr_bh" if search.fdr == "bh" else "fdr_by"
    p_adj = adjust_pvalues(test.pvalue, method=method) if len(table) else np.zeros(0)
    frame = pd.DataFrame({
        "slice": [" AND ".join(f"{features[f].name}={features[f].labels[v]}" for f, v in p) for p in sums.preds],
        "predicates": [[[features[f].name, features[f].labels[v]] for f, v in p] for p in sums.preds],
        "level": [len(p) for p in sums.preds], "n": table[:, 0].astype(np.int64),
        "n_out": out[:, 0].astype(np.int64), "value_in": test.value_in, "in_low": lo, "in_high": hi,
        "value_out": test.value_out, "diff": test.diff, "ci_low": test.ci_low, "ci_high": test.ci_high,
        "effect": test.effect, "p": test.pvalue, "p_adj": p_adj,
    })
    frame["significant"] = frame["p_adj"] < search.alpha
    frame["p_beyond"], frame["p_beyond_adj"] = _beyond_parents(sums.preds, table, level1, binary, search, method)
    frame["shown"] = frame["significant"] & ((frame["level"] == 1) | (frame["p_beyond_adj"] < search.alpha))
    frame = frame.assign(_abs=-frame["effect"].abs()).sort_values(["p_adj", "_abs", "slice"], na_position="last",
                                                                   kind="mergesort")
    frame = frame.drop(columns="_abs").reset_index(drop=True)
    return SliceResult(frame, n_rows, binary, float(y.mean()), search, [f.name for f in features],
                       int(np.isfinite(test.pvalue).sum()))


def _beyond_parents(preds: list[tuple[tuple[int, int], ...]], table: np.ndarray, level1: list[np.ndarray],
                    binary: bool, search: SliceSearch, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Does a pair differ from the rest of each of its parents? An intersection-union test.

    For a pair c of parents P and Q, c is tested against P minus c and against Q minus c
    (the same test as against the complement); its p-value is the larger of the two, which is
    a level-alpha test that c differs within both (Berger 1982, *Technometrics* 24:295, the
    intersection-union principle). These p-values are adjusted over the pairs tested, like the
    main ones. A pair that does not differ within a parent is that parent's effect seen again
    (f0=v0 AND f7=v2 when only f0=v0 matters); level-1 slices have NaN.
    """
    p = np.full(len(preds), np.nan)
    two = np.array([len(x) == 2 for x in preds], dtype=bool)
    if two.any():
        rows = np.flatnonzero(two)
        child = table[rows]
        worst = np.zeros(len(rows))
        for side in (0, 1):
            parent = np.stack([level1[preds[r][side][0]][preds[r][side][1]] for r in rows])
            rest = parent - child
            if binary:
                t = two_proportions(child[:, 1], child[:, 0], rest[:, 1], rest[:, 0], confidence=search.confidence)
            else:
                t = welch_means(child[:, 0], child[:, 1], child[:, 2], rest[:, 0], rest[:, 1], rest[:, 2],
                                confidence=search.confidence)
            worst = np.fmax(worst, t.pvalue) if side else t.pvalue
        p[rows] = worst
    adj = np.full(len(preds), np.nan)
    if two.any():
        adj[two] = adjust_pvalues(p[two], method=method)
    return p, adj


def _zq(confidence: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(0.5 + confidence / 2))


def _mean_bounds(table: np.ndarray, confidence: float, centre: float) -> tuple[np.ndarray, np.ndarray]:
    """The t interval of each slice's own mean (a paired difference's: is the slice itself off zero?)."""
    from scipy import stats

    n, s1, s2 = table[:, 0], table[:, 1], table[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        m = s1 / n
        sd = np.sqrt(np.maximum(s2 - n * m * m, 0) / (n - 1))
        half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n)
    return m + centre - half, m + centre + half


def _level2(features: Sequence[Feature], eligible: list[np.ndarray], n1: list[np.ndarray], yc: np.ndarray,
            y2: np.ndarray, ms: int, n_rows: int, sums: _Sums) -> None:
    """Pairs of predicates on two features (or two values of one set-valued feature), from eligible parents only."""
    pruned = [np.where(f.codes >= 0, np.where(eligible[i][np.maximum(f.codes, 0)], f.codes, -1), -1)
              if f.codes is not None else None for i, f in enumerate(features)]
    data = _Rows(yc, y2, ms, np.zeros(n_rows, dtype=bool))
    for i, f in enumerate(features):
        for j in range(i, len(features)):
            g = features[j]
            if j == i and not f.is_multi:
                continue  # two values of one categorical feature never meet
            if f.codes is not None and g.codes is not None:
                n, s1, s2 = _pairs_cat(f, g, pruned[i], pruned[j], yc, y2)
                cells = [(a, b) for a, b in zip(*np.nonzero(n >= ms))]
                vals = [(n[a, b], s1[a, b], s2[a, b]) for a, b in cells]
            else:
                if f.codes is not None:  # put the set-valued feature first
                    i2, j2, f2, g2 = j, i, g, f
                else:
                    i2, j2, f2, g2 = i, j, f, g
                cells, vals = _pairs_multi(f2, g2, (eligible[i2], eligible[j2]), pruned[j2], data)
                if (i2, j2) != (i, j):
                    cells = [(b, a) for a, b in cells]
            keep = [(a, b, v) for (a, b), v in zip(cells, vals)
                    if v[0] < n1[i][a] and v[0] < n1[j][b] and v[0] < n_rows]  # same rows as a parent: same test
            if keep:
                sums.add([((i, int(a)), (j, int(b))) for a, b, _ in keep],
                         np.array([v[0] for *_, v in keep], float), np.array([v[1] for *_, v in keep]),
                         np.array([v[2] for *_, v in keep]))


@dataclass(frozen=True)
class _Rows:
    """What every pair of features is counted over: the centred outcome, its squares, the size bound, a scratch mask."""

    yc: np.ndarray
    y2: np.ndarray
    min_size: int
    buffer: np.ndarray


def _pairs_multi(f: Feature, g: Feature, eligible: tuple[np.ndarray, np.ndarray], cg: np.ndarray | None,
                 data: _Rows):
    """Cells of a set-valued feature ``f`` with ``g`` (categorical through its codes, or set-valued)."""
    same = f is g
    (ef, eg), yc, y2, ms, buffer = eligible, data.yc, data.y2, data.min_size, data.buffer
    cells, vals = [], []
    for a in np.flatnonzero(ef):
        rows = f.rows[a]  # type: ignore[index]
        if cg is not None:
            c = cg[rows]
            ok = c >= 0
            k = len(g.labels)
            n = np.bincount(c[ok], minlength=k)
            s1 = np.bincount(c[ok], weights=yc[rows][ok], minlength=k)
            s2 = s1 if y2 is yc else np.bincount(c[ok], weights=y2[rows][ok], minlength=k)
            for b in np.flatnonzero(n >= ms):
                cells.append((a, b))
                vals.append((float(n[b]), s1[b], s2[b]))
            continue
        buffer[rows] = True
        for b in np.flatnonzero(eg):
            if same and b <= a:
                continue
            other = g.rows[b]  # type: ignore[index]
            both = other[buffer[other]]
            if len(both) >= ms:
                cells.append((a, b))
                vals.append((float(len(both)), yc[both].sum(), y2[both].sum()))
        buffer[rows] = False
    return cells, vals
