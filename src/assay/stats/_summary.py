"""Mergeable summaries of reliability data, and every agreement coefficient computed from one.

A summary keeps what the coefficients need from raters x units data after the labels
are coded once: the distinct per-unit category-count vectors with how many units have
each, and (optionally) the distinct per-unit rows of rater codes with their multiplicities,
for the figures that need to know who rated what (Cohen's kappa, ICC). Both tables are sums
over units, so summaries of disjoint sets of units add up exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._icc import ICC_FORMS, _Anova, _value, icc_estimate
from ._intervals import Estimate, check_confidence, t_interval
from ._kappa import (
    _capped,
    _gwet_core,
    cohen_estimate,
    cohen_from_table,
    fleiss_estimate,
    gwet_weights,
)
from ._krippendorff import LEVELS, _alpha_from, _delta, _pattern_disagreement
from ._labels import Coded

# A summary keeps per-rater rows by default up to this many raters (the rows grow with it).
BY_RATER_MAX = 16


@dataclass(frozen=True, eq=False)
class AgreementSummary:
    """Reliability data reduced to unit patterns with multiplicities; add two with ``+``.

    ``counts`` (P x K) holds the distinct per-unit category counts in lexicographic
    order and ``weight`` (P) how many units have each; units nobody rated are kept as an
    all-zero row, as a unit-resampling bootstrap of the raw array would count them.
    ``labels`` (Q x R; codes ``0..K-1``, ``-1`` not rated) and ``label_weight`` hold the
    distinct per-unit rows of rater codes, in the order of ``raters``; they are None when
    the summary was made with ``by_rater=False``. ``categories`` are the labels the codes
    index: the ones given to :func:`assay.stats.agreement.summarise` (``given``), else the observed ones in
    the order the raw functions code them in.

    What adds up exactly: both tables (units are disjoint across shards), hence every
    coefficient, standard error and bootstrap interval computed from them. What does not:
    nothing that needs the order of units or the identity of a unit (a unit split over
    two shards counts as two units), and summaries made with different given category
    lists, or with ``by_rater`` on one side only for the per-rater table.
    """

    categories: np.ndarray
    numeric: bool
    given: bool
    raters: tuple
    counts: np.ndarray
    weight: np.ndarray
    labels: np.ndarray | None = None
    label_weight: np.ndarray | None = None

    # --- structure ---------------------------------------------------------------------

    @property
    def n_categories(self) -> int:
        return len(self.categories)

    @property
    def n_raters(self) -> int:
        return len(self.raters)

    @property
    def n_units(self) -> int:
        """Units summarised, counting units nobody rated."""
        return int(self.weight.sum())

    @property
    def complete_units(self) -> int:
        """Units every rater rated (those ICC uses); needs the per-rater rows."""
        labels, f = self._need_labels("counting complete units")
        return int(f[(labels >= 0).all(axis=1)].sum())

    def values(self) -> np.ndarray:
        """One number per category: the label itself if numeric, else its position."""
        return Coded(np.empty(0, dtype=np.int64), self.categories, self.numeric).values()

    def merge(self, other: AgreementSummary) -> AgreementSummary:
        """The summary of both summaries' units (see :func:`merge_summaries`)."""
        from ._patterns import merge_summaries

        return merge_summaries(self, other)

    def __add__(self, other: AgreementSummary) -> AgreementSummary:
        return self.merge(other)

    def __radd__(self, other: Any) -> AgreementSummary:
        if isinstance(other, int) and other == 0:  # sum(shards)
            return self
        return NotImplemented

    def same_as(self, other: AgreementSummary) -> bool:
        """Whether two summaries hold the same tables (then every figure from them is equal)."""
        def eq(a, b) -> bool:
            return (a is None and b is None) or (a is not None and b is not None
                                                 and a.shape == b.shape and np.array_equal(a, b))
        return (self.numeric == other.numeric and self.given == other.given
                and self.raters == other.raters and list(self.categories) == list(other.categories)
                and eq(self.counts, other.counts) and eq(self.weight, other.weight)
                and eq(self.labels, other.labels) and eq(self.label_weight, other.label_weight))

    # --- coefficients ------------------------------------------------------------------

    def _two_raters(self) -> None:
        if self.n_raters < 2:
            raise ValueError(f"need at least two raters, got {self.n_raters}")

    def percent_agreement(self) -> float:
        """:func:`assay.stats.agreement.percent_agreement` of the summarised data."""
        self._two_raters()
        pa, two = _percent_terms(self.counts)
        n2 = self.weight[two].sum()
        if n2 == 0:
            raise ValueError("no unit was rated by two or more raters: nothing to compare")
        return float((self.weight[two] @ pa[two]) / n2)

    def krippendorff_alpha(self, *, level: str = "nominal") -> float:
        """:func:`assay.stats.agreement.krippendorff_alpha` of the summarised data."""
        patterns, f, pm, values = self._alpha_patterns(level)
        totals = f @ patterns
        delta = _delta(level, values, totals)
        return _alpha_from(float(f @ _pattern_disagreement(patterns, pm, delta)), totals, delta)

    def _alpha_patterns(self, level: str):
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        if self.n_raters < 2:
            raise ValueError(f"Krippendorff's alpha needs at least two raters, got {self.n_raters}")
        if level in ("interval", "ratio") and not self.numeric and not self.given:
            raise ValueError(f"{level} level needs numeric labels or an explicit category order")
        if level == "ratio" and not self.numeric:
            raise ValueError("ratio level needs numeric labels (a ratio scale has a true zero)")
        counts = self.counts.astype(float)
        m = counts.sum(axis=1)
        pairable = m >= 2
        if not self.weight[pairable].any():
            raise ValueError("no unit was rated by two or more raters: nothing to compare")
        return counts[pairable], self.weight[pairable].astype(float), m[pairable], self.values()

    def _scale_check(self) -> None:
        self._two_raters()
        if self.n_categories < 2:
            raise ValueError("only one category on the scale: agreement beyond chance is undefined "
                             "(pass categories= with the full scale if more exist)")

    def gwet_weights(self, weights: Any = "identity") -> np.ndarray:
        """Gwet's agreement weights on this summary's categories (values, or positions 1..K)."""
        values = self.values() if self.numeric else np.arange(1, self.n_categories + 1, dtype=float)
        return gwet_weights(weights, values)

    def gwet_ac1(self) -> float:
        """:func:`assay.stats.agreement.gwet_ac1` of the summarised data."""
        return self.gwet_ac2(weights="identity")

    def gwet_ac2(self, *, weights: Any = "quadratic") -> float:
        """:func:`assay.stats.agreement.gwet_ac2` of the summarised data."""
        return self._gwet(weights)[0]

    def _gwet(self, weights: Any):
        self._scale_check()
        return _gwet_core(self.counts, self.gwet_weights(weights), "ac", self.n_categories, self.weight)

    def gwet_ac1_interval(self, *, confidence: float = 0.95) -> Estimate:
        """:func:`assay.stats.agreement.gwet_ac1_interval` of the summarised data."""
        return self.gwet_ac2_interval(weights="identity", confidence=confidence)

    def gwet_ac2_interval(self, *, weights: Any = "quadratic", confidence: float = 0.95) -> Estimate:
        """:func:`assay.stats.agreement.gwet_ac2_interval` of the summarised data."""
        coef, se, n, *_ = self._gwet(weights)
        return _capped(t_interval(coef, se, n - 1, confidence))

    def _fleiss_table(self) -> np.ndarray:
        t = self.counts.astype(float)
        used = (self.weight.astype(float) @ t) > 0
        if t.shape[1] < 2 or np.count_nonzero(used) < 2:
            raise ValueError("only one category was used: Fleiss' kappa is undefined")
        if not self.weight[t.sum(axis=1) >= 2].any():
            raise ValueError("fewer than two raters on every unit: nothing to compare")
        return t

    def fleiss_kappa(self, *, weights: Any = None) -> float:
        """:func:`assay.stats.agreement.fleiss_kappa` of the summary's table (``to_table``)."""
        t = self._fleiss_table()
        k = t.shape[1]
        w = np.eye(k) if weights is None else gwet_weights(weights, np.arange(1, k + 1, dtype=float))
        return _gwet_core(t, w, "fleiss", k, self.weight)[0]

    def fleiss_kappa_interval(self, *, confidence: float = 0.95) -> Estimate:
        """:func:`assay.stats.agreement.fleiss_kappa_interval` of the summary's table."""
        return fleiss_estimate(self._fleiss_table(), self.weight, confidence)

    def _need_labels(self, what: str) -> tuple[np.ndarray, np.ndarray]:
        if self.labels is None or self.label_weight is None:
            raise ValueError(f"{what} needs who rated what: summarise with by_rater=True")
        return self.labels, self.label_weight

    def rater_index(self, rater: Any) -> int:
        try:
            return self.raters.index(rater)
        except ValueError:
            raise ValueError(f"rater {rater!r} is not one of {list(self.raters)}") from None

    def pair_columns(self, raters: Sequence | None) -> tuple[int, int]:
        """Column positions of the two raters Cohen's kappa compares (both, when there are two)."""
        if raters is None:
            if self.n_raters != 2:
                raise ValueError(f"Cohen's kappa compares two raters; this summary has {self.n_raters}: "
                                 "pass raters=(a, b)")
            return 0, 1
        a, b = raters
        return self.rater_index(a), self.rater_index(b)

    def cohen_table(self, raters: Sequence | None = None) -> tuple[np.ndarray, np.ndarray]:
        """K' x K' table of the two raters' labels on units both rated, and its categories.

        Without given categories only those the two raters used (on any unit) are kept,
        as :func:`assay.stats.agreement.cohen_kappa` does on their two label arrays.
        """
        labels, f = self._need_labels("Cohen's kappa")
        i, j = self.pair_columns(raters)
        ca, cb = labels[:, i], labels[:, j]
        keep = _cohen_categories(self, ca, cb, f)
        both = (ca >= 0) & (cb >= 0) & (f > 0)
        if not both.any():
            raise ValueError("no unit was rated by both raters")
        k = len(keep)
        if k < 2:
            raise ValueError("only one category was used: Cohen's kappa is undefined")
        remap = np.full(self.n_categories, -1, dtype=np.int64)
        remap[keep] = np.arange(k)
        code = remap[ca[both]] * k + remap[cb[both]]
        table = np.bincount(code, weights=f[both].astype(float), minlength=k * k).reshape(k, k)
        return table, self.categories[keep]

    def cohen_kappa(self, *, weights: Any = None, raters: Sequence | None = None) -> float:
        """:func:`assay.stats.agreement.cohen_kappa` of two summarised raters."""
        return cohen_from_table(self.cohen_table(raters)[0], weights).kappa

    def cohen_kappa_interval(self, *, weights: Any = None, raters: Sequence | None = None,
                             confidence: float = 0.95) -> Estimate:
        """:func:`assay.stats.agreement.cohen_kappa_interval` of two summarised raters."""
        return cohen_estimate(cohen_from_table(self.cohen_table(raters)[0], weights), confidence)

    def icc_features(self, nan_policy: str = "omit") -> tuple[np.ndarray, np.ndarray]:
        """Per complete row of rater codes: (1, row sum^2, the k values, sum of squares), and weights.

        Values are shifted by the mean category value (the ANOVA sums of squares do not
        change with a shift, and the raw-sum formulas lose less precision this way).
        """
        labels, f = self._need_labels("ICC")
        if not self.numeric:
            raise ValueError("ICC needs numeric ratings")
        if nan_policy not in ("raise", "omit"):
            raise ValueError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
        complete = (labels >= 0).all(axis=1)
        if nan_policy == "raise" and f[~complete].any():
            missing = int(f[~complete].sum())
            raise ValueError(f"{missing} units lack some rater's rating; ICC needs "
                             "complete data (pass nan_policy='omit' to drop those units)")
        values = self.values()
        shift = values.mean() if len(values) else 0.0
        x = values[labels[complete]] - shift
        s = x.sum(axis=1)
        feats = np.column_stack([np.ones(len(x)), s * s, x, (x * x).sum(axis=1)])
        return feats, f[complete].astype(float)

    def _anova(self, nan_policy: str) -> _Anova:
        feats, f = self.icc_features(nan_policy)
        k = self.n_raters
        if k < 2:
            raise ValueError(f"ICC needs at least two raters, got {k}")
        a = _anova_from_sums(f @ feats, k)
        if a is None:
            raise ValueError(f"ICC needs at least two fully rated units, got {int(f.sum())}")
        if a.msr is None:
            raise ValueError("all ratings are equal: no variance, ICC is undefined")
        return a

    def icc(self, *, form: str = "ICC2", nan_policy: str = "raise") -> float:
        """:func:`assay.stats.agreement.icc` of the summarised data (rows of raters' values)."""
        if form not in ICC_FORMS:
            raise ValueError(f"form must be one of {ICC_FORMS}, got {form!r}")
        return float(_value(self._anova(nan_policy), form))

    def icc_interval(self, *, form: str = "ICC2", confidence: float = 0.95,
                     nan_policy: str = "raise") -> Estimate:
        """:func:`assay.stats.agreement.icc_interval` of the summarised data."""
        check_confidence(confidence)
        if form not in ICC_FORMS:
            raise ValueError(f"form must be one of {ICC_FORMS}, got {form!r}")
        return icc_estimate(self._anova(nan_policy), form, confidence)

    # --- bootstrap ---------------------------------------------------------------------

    def bootstrap(self, *, rounds: int = 1000,
                  random_state: int | np.random.Generator | None = None):
        """Resamples of the summarised units (see :class:`assay.stats.agreement.SummaryBootstrap`)."""
        from ._resample import SummaryBootstrap

        return SummaryBootstrap.draw(self, rounds=rounds, random_state=random_state)


def _percent_terms(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pattern: share of agreeing rater pairs (0 where unpairable), and 'rated twice'."""
    t = counts.astype(float)
    r = t.sum(axis=1)
    two = r >= 2
    den = np.where(two, r * (r - 1), 1.0)
    return np.where(two, (t * (t - 1)).sum(axis=1) / den, 0.0), two


def _cohen_categories(s: AgreementSummary, ca: np.ndarray, cb: np.ndarray, f: np.ndarray) -> np.ndarray:
    if s.given:
        return np.arange(s.n_categories)
    used = np.zeros(s.n_categories, dtype=bool)
    for c in (ca, cb):
        hit = (c >= 0) & (f > 0)
        used[c[hit]] = True
    return np.flatnonzero(used)


def _anova_rounds(sums: np.ndarray, k: int) -> tuple[_Anova, np.ndarray]:
    """Mean squares per round from rows of (n, sum S_u^2, column sums, sum x^2), and where
    they are defined (rows with n < 2 or no variance are not)."""
    n, ss_rows, cols, sq = sums[:, 0], sums[:, 1], sums[:, 2:2 + k], sums[:, 2 + k]
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cols.sum(axis=1) ** 2 / (n * k)
        ssr = ss_rows / k - corr
        ssc = (cols * cols).sum(axis=1) / n - corr
        sst = sq - corr
        sse = sst - ssr - ssc
        ok = (n >= 2) & (sst > 1e-12 * np.maximum(1.0, sq))
        a = _Anova(n, k, ssr / (n - 1), ssc / (k - 1), sse / ((n - 1) * (k - 1)),  # type: ignore[arg-type]
                   (ssc + sse) / (n * (k - 1)))
    return a, ok



def _anova_from_sums(sums: np.ndarray, k: int) -> _Anova | None:
    """Two-way ANOVA mean squares from (n, sum S_u^2, column sums, sum x^2); None if n < 2.

    An _Anova whose mean squares are None means no variance (all ratings equal).
    """
    if sums[0] < 2:
        return None
    a, ok = _anova_rounds(sums[None, :], k)
    if not ok[0]:
        return _Anova(int(sums[0]), k, None, None, None, None)  # type: ignore[arg-type]
    # numpy floats, as the raw ANOVA gives: a zero mean square divides to inf, as there, not to ZeroDivisionError
    return _Anova(int(sums[0]), k, a.msr[0], a.msc[0], a.mse[0], a.msw[0])
