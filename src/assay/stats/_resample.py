"""Bootstrap of every agreement coefficient from a summary: resampled pattern multiplicities.

Resampling n units with replacement only changes how many times each unit counts. Units
with the same pattern count alike, so a resample is a multinomial draw of n over the
distinct patterns with probabilities multiplicity / n (the counts of the units' draws,
pooled by pattern), and every coefficient is a function of weighted sums over patterns.
All rounds are computed together as products of a rounds x patterns weight matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from ._icc import ICC_FORMS, _value
from ._intervals import Estimate, check_confidence, percentile_estimate
from ._kappa import _cohen_disagreement, gwet_weights
from ._krippendorff import _delta, _pattern_disagreement
from ._patterns import _positions, unique_rows
from ._summary import AgreementSummary, _anova_rounds, _percent_terms

# Rounds are processed in blocks whose largest intermediate holds about this many floats.
_BLOCK = 1 << 22
# Most resampled multiplicities of per-rater rows held at once (2 GiB of float64).
_LABEL_CELLS = 1 << 28


@dataclass(frozen=True, eq=False)
class SummaryBootstrap:
    """Bootstrap resamples of a summary's units, as weights on its patterns.

    ``weights`` (rounds x P) are the resampled multiplicities of the count patterns;
    the per-rater rows' multiplicities (rounds x Q, for Cohen's kappa and ICC) are
    :meth:`label_weights`. Each coefficient method returns one replicate per round, NaN
    where the coefficient is undefined on that resample (where the raw function raises
    ``ValueError``). Categories stay those of the summary in every round, as when
    ``categories=`` is passed to the raw functions.
    """

    summary: AgreementSummary
    weights: np.ndarray
    _labels_drawn: list = field(default_factory=list, repr=False)
    _rng: np.random.Generator | None = field(default=None, repr=False)

    @classmethod
    def draw(cls, summary: AgreementSummary, *, rounds: int = 1000,
             random_state: int | np.random.Generator | None = None) -> SummaryBootstrap:
        """Draw ``rounds`` resamples of the summary's units with replacement.

        A seeded ``Generator.multinomial`` over the count patterns (the draw
        :func:`krippendorff_alpha_interval` makes when every unit is pairable); the
        per-rater rows are drawn within each pattern from the same generator, the
        first time a coefficient needs them. Both stages together draw units exactly as
        one multinomial over the per-rater rows would. The same seed gives the same
        resamples of the same summary, from one pass or from merged shards.
        """
        if rounds < 2:
            raise ValueError("rounds must be at least 2")
        rng = np.random.default_rng(random_state)
        f = summary.weight
        n = int(f.sum())
        if n == 0:
            raise ValueError("no units to resample")
        return cls(summary, rng.multinomial(n, f / n, size=rounds).astype(float), _rng=rng)

    @classmethod
    def from_weights(cls, summary: AgreementSummary, weights) -> SummaryBootstrap:
        """Resamples given as multiplicities of the summary's per-rater rows (rounds x Q), or of
        its count patterns (rounds x P) when it has no per-rater rows.

        This is how a resample made elsewhere, for instance by drawing unit indices, is
        evaluated: pool each round's unit counts by row first.
        """
        weights = np.asarray(weights, dtype=float)
        if summary.labels is None:
            if weights.ndim != 2 or weights.shape[1] != len(summary.counts):
                raise ValueError(f"weights must be rounds x {len(summary.counts)}")
            return cls(summary, weights)
        if weights.ndim != 2 or weights.shape[1] != len(summary.labels):
            raise ValueError(f"weights must be rounds x {len(summary.labels)}")
        pooled = _pool(weights, _count_pattern_of_labels(summary), len(summary.counts))
        return cls(summary, pooled, [weights])

    def label_weights(self, what: str = "this coefficient") -> np.ndarray:
        """Resampled multiplicities of the summary's per-rater rows (rounds x Q)."""
        s = self.summary
        labels, f = s._need_labels(what)
        if self._labels_drawn:
            return self._labels_drawn[0]
        if self._rng is None:
            raise ValueError(f"{what} needs resamples of the per-rater rows: pass those to from_weights")
        if self.rounds * len(labels) > _LABEL_CELLS:
            raise ValueError(f"{len(labels):,} distinct per-rater rows x {self.rounds} rounds is too "
                             "large to resample; use fewer rounds or the analytic intervals")
        group = _count_pattern_of_labels(s)
        out = np.zeros((self.rounds, len(labels)))
        order = np.argsort(group, kind="stable")
        starts = np.searchsorted(group[order], np.arange(len(s.counts) + 1))
        for p in range(len(s.counts)):
            rows = order[starts[p]:starts[p + 1]]
            if len(rows) == 1:
                out[:, rows[0]] = self.weights[:, p]
            elif len(rows) > 1:
                share = f[rows] / f[rows].sum()
                out[:, rows] = self._rng.multinomial(self.weights[:, p].astype(np.int64), share)
        self._labels_drawn.append(out)
        return out

    @property
    def rounds(self) -> int:
        return self.weights.shape[0]

    def _blocks(self, width: int):
        step = max(1, _BLOCK // max(width, 1))
        for start in range(0, self.rounds, step):
            yield slice(start, min(start + step, self.rounds))

    # --- replicates --------------------------------------------------------------------

    def percent_agreement(self) -> np.ndarray:
        """Replicates of :meth:`AgreementSummary.percent_agreement`."""
        self.summary._two_raters()
        pa, two = _percent_terms(self.summary.counts)
        num, den = self.weights @ pa, self.weights @ two.astype(float)
        return _ratio(num, den)

    def krippendorff_alpha(self, *, level: str = "nominal") -> np.ndarray:
        """Replicates of :meth:`AgreementSummary.krippendorff_alpha`.

        The ordinal metric is recomputed from each resample's marginals, as
        :func:`krippendorff_alpha_interval` does.
        """
        s = self.summary
        s._alpha_patterns(level)  # the same checks as the estimate
        counts = s.counts.astype(float)
        m = counts.sum(axis=1)
        pairable = m >= 2
        patterns, pm, w = counts[pairable], m[pairable], self.weights[:, pairable]
        values = s.values()
        k = patterns.shape[1]
        out = np.empty(self.rounds)
        if level != "ordinal":
            delta = _delta(level, values, np.zeros(k))
            obs = w @ _pattern_disagreement(patterns, pm, delta)
            tot = w @ patterns
            n = tot.sum(axis=1)
            expected = np.einsum("rc,ck,rk->r", tot, delta, tot) / np.where(n > 1, n - 1, np.nan)
            return _alpha_or_nan(obs, expected)
        # ordinal: coincidences per round (rounds x K^2), then each round's own metric
        pair = (patterns[:, :, None] * patterns[:, None, :]).reshape(len(patterns), k * k) / (pm - 1)[:, None]
        pos = np.arange(k)
        lo, hi = np.minimum.outer(pos, pos), np.maximum.outer(pos, pos)
        for blk in self._blocks(k * k):
            tot = w[blk] @ patterns
            coinc = (w[blk] @ pair).reshape(-1, k, k)
            cum = np.cumsum(tot, axis=1)
            between = cum[:, hi] - cum[:, lo] + tot[:, lo]
            delta = (between - (tot[:, :, None] + tot[:, None, :]) / 2) ** 2
            obs = (coinc * delta).sum(axis=(1, 2))
            n = tot.sum(axis=1)
            expected = np.einsum("rc,rck,rk->r", tot, delta, tot) / np.where(n > 1, n - 1, np.nan)
            out[blk] = _alpha_or_nan(obs, expected)
        return out

    def _gwet_family(self, w: np.ndarray, kind: str) -> np.ndarray:
        s = self.summary
        table = s.counts.astype(float)
        r = table.sum(axis=1)
        rated = r > 0
        table, r, wts = table[rated], r[rated], self.weights[:, rated]
        two = r >= 2
        q = table.shape[1]
        rw = table @ w.T
        den = np.where(two, r * (r - 1), 1.0)
        pa_i = np.where(two, (table * (rw - 1)).sum(axis=1) / den, 0.0)
        n, n2 = wts.sum(axis=1), wts @ two.astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            pa = wts @ pa_i / n2
            pi = (wts @ (table / r[:, None])) / n[:, None]
            if kind == "ac":
                pe = w.sum() / (q * (q - 1)) * (pi * (1 - pi)).sum(axis=1)
            else:
                pe = np.einsum("rk,kl,rl->r", pi, w, pi)
            coef = (pa - pe) / (1 - pe)
        bad = (n2 == 0) | ~(pe < 1)
        if kind == "fleiss":  # fleiss_kappa's table checks, on each resample
            used = (wts @ table > 0).sum(axis=1)
            bad |= used < 2
        return np.where(bad, np.nan, coef)

    def gwet_ac1(self) -> np.ndarray:
        """Replicates of :meth:`AgreementSummary.gwet_ac1`."""
        return self.gwet_ac2(weights="identity")

    def gwet_ac2(self, *, weights: Any = "quadratic") -> np.ndarray:
        """Replicates of :meth:`AgreementSummary.gwet_ac2`."""
        self.summary._scale_check()
        return self._gwet_family(self.summary.gwet_weights(weights), "ac")

    def fleiss_kappa(self, *, weights: Any = None) -> np.ndarray:
        """Replicates of :meth:`AgreementSummary.fleiss_kappa`."""
        t = self.summary._fleiss_table()
        k = t.shape[1]
        w = np.eye(k) if weights is None else gwet_weights(weights, np.arange(1, k + 1, dtype=float))
        return self._gwet_family(w, "fleiss")

    def cohen_kappa(self, *, weights: Any = None, raters: Sequence | None = None) -> np.ndarray:
        """Replicates of :meth:`AgreementSummary.cohen_kappa`."""
        s = self.summary
        table, cats = s.cohen_table(raters)  # the same checks as the estimate
        lw = self.label_weights("Cohen's kappa")
        k = len(cats)
        i, j = s.pair_columns(raters)
        ca, cb = s.labels[:, i], s.labels[:, j]
        remap = np.full(s.n_categories, -1, dtype=np.int64)
        remap[_positions(cats, s.categories)] = np.arange(k)
        both = (ca >= 0) & (cb >= 0)
        cell = remap[ca[both]] * k + remap[cb[both]]
        joint = _pool(lw[:, both], cell, k * k).reshape(-1, k, k)
        v = _cohen_disagreement(weights, k)
        n = joint.sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            p = joint / n[:, None, None]
            chance = p.sum(axis=2)[:, :, None] * p.sum(axis=1)[:, None, :]
            denom = (chance * v).sum(axis=(1, 2))
            kappa = 1.0 - (p * v).sum(axis=(1, 2)) / denom
        return np.where((n > 0) & (denom > 0), kappa, np.nan)

    def icc(self, *, form: str = "ICC2") -> np.ndarray:
        """Replicates of :meth:`AgreementSummary.icc` (incomplete units count in no round)."""
        if form not in ICC_FORMS:
            raise ValueError(f"form must be one of {ICC_FORMS}, got {form!r}")
        s = self.summary
        lw = self.label_weights("ICC")
        feats, _ = s.icc_features("omit")
        complete = (s.labels >= 0).all(axis=1)
        sums = lw[:, complete] @ feats  # rounds x (k + 3)
        a, ok = _anova_rounds(sums, s.n_raters)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(ok, _value(a, form), np.nan)

    # --- intervals ---------------------------------------------------------------------

    def interval(self, coefficient: str, *, confidence: float = 0.95, **options: Any) -> Estimate:
        """The summary's ``coefficient`` with a percentile interval from these resamples.

        ``coefficient`` names a method of both classes ("percent_agreement",
        "krippendorff_alpha", "fleiss_kappa", "gwet_ac1", "gwet_ac2", "cohen_kappa",
        "icc"); ``options`` go to both, e.g. ``interval("icc", form="ICC3")``.
        Degenerate resamples are left out with a warning, as by
        :func:`bootstrap_interval`.
        """
        check_confidence(confidence)
        if coefficient not in _COEFFICIENTS:
            raise ValueError(f"coefficient must be one of {_COEFFICIENTS}, got {coefficient!r}")
        point = dict(options)
        if coefficient == "icc":
            point["nan_policy"] = "omit"
        estimate = getattr(self.summary, coefficient)(**point)
        return percentile_estimate(estimate, getattr(self, coefficient)(**options), confidence)


_COEFFICIENTS = ("percent_agreement", "krippendorff_alpha", "fleiss_kappa", "gwet_ac1", "gwet_ac2",
                 "cohen_kappa", "icc")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _alpha_or_nan(obs: np.ndarray, expected: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected > 0, 1.0 - obs / expected, np.nan)


def _pool(weights: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum the columns of ``weights`` (rounds x rows) by ``group`` (rows) into rounds x n_groups."""
    m = sparse.csr_matrix((np.ones(len(group)), (np.arange(len(group)), group)),
                          shape=(len(group), n_groups))
    return np.asarray((m.T @ weights.T).T)


def _count_pattern_of_labels(s: AgreementSummary) -> np.ndarray:
    """For each per-rater row of a summary, the position of its count pattern in ``counts``."""
    assert s.labels is not None
    k = s.n_categories
    counts = np.zeros((len(s.labels), k), dtype=np.int64)
    for j in range(s.labels.shape[1]):
        col = s.labels[:, j]
        hit = col >= 0
        np.add.at(counts, (np.flatnonzero(hit), col[hit]), 1)
    both = np.vstack([s.counts, counts])
    _, _, inverse = unique_rows(both, s.n_raters + 1)
    # positions among the distinct rows of both = positions in s.counts (every row occurs there)
    return inverse[len(s.counts):]
