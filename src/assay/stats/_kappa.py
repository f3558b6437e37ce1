"""Kappa-type coefficients: percent agreement, Cohen, Scott, Fleiss, Gwet AC1/AC2."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._intervals import Estimate, normal_interval, t_interval
from ._labels import as_2d, encode, unit_counts

GWET_WEIGHTS = ("identity", "linear", "quadratic", "ordinal", "radical", "ratio", "circular",
                "bipolar")


# --- tables -----------------------------------------------------------------------------


def to_table(data, *, categories: Sequence | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Units x categories counts from raters x units data (NaN/None = not rated).

    Returns ``(table, categories)``; the table is what :func:`fleiss_kappa` takes.

    >>> table, cats = to_table([["a", "b", "a"], ["a", "a", None]])
    >>> table.tolist(), cats.tolist()
    ([[2, 0], [1, 1], [1, 0]], ['a', 'b'])
    """
    arr = as_2d(data, "data (raters x units)")
    coded = encode(arr, categories)
    return unit_counts(coded.codes, coded.n_categories), coded.categories


def _pair(a, b, categories):
    """Codes of the units both raters rated, and the number of categories."""
    a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
    if a.shape != b.shape:
        raise ValueError(f"a and b must rate the same units, got lengths {a.size} and {b.size}")
    numeric = a.dtype.kind in "biuf" and b.dtype.kind in "biuf"
    both_ab = np.vstack([a.astype(float), b.astype(float)]) if numeric else np.vstack(
        [a.astype(object), b.astype(object)])
    coded = encode(both_ab, categories)
    both = (coded.codes >= 0).all(axis=0)
    if not both.any():
        raise ValueError("no unit was rated by both raters")
    return coded.codes[0, both], coded.codes[1, both], coded


def _cohen_disagreement(weights, k: int) -> np.ndarray:
    """Disagreement weights v_ij (0 on the diagonal) from a name, distances or a matrix."""
    i = np.arange(k)
    dist = np.abs(i[:, None] - i[None, :]).astype(float)
    if weights is None:
        return (dist > 0).astype(float)
    if isinstance(weights, str):
        if weights == "linear":
            return dist
        if weights == "quadratic":
            return dist**2
        raise ValueError(f'weights must be None, "linear", "quadratic" or an array, got {weights!r}')
    w = np.asarray(weights, dtype=float)
    if w.ndim == 1:
        if w.size < k:
            raise ValueError(f"weights by distance need at least {k} entries, got {w.size}")
        return w[dist.astype(int)]
    if w.shape != (k, k):
        raise ValueError(f"weights matrix must be {k} x {k}, got {w.shape}")
    return w


# --- two raters -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cohen:
    kappa: float
    p: np.ndarray  # joint proportions
    agree_w: np.ndarray  # agreement weights in [0, 1]
    pe: float
    n: int


def _cohen(a, b, weights, categories) -> _Cohen:
    ca, cb, coded = _pair(a, b, categories)
    k = coded.n_categories
    if k < 2:
        raise ValueError("only one category was used: Cohen's kappa is undefined")
    return cohen_from_table(np.bincount(ca * k + cb, minlength=k * k).reshape(k, k), weights)


def cohen_from_table(table: np.ndarray, weights) -> _Cohen:
    """Cohen's kappa from a K x K table of counts (rows: first rater), K >= 2."""
    table = np.asarray(table, dtype=float)
    k = table.shape[0]
    n = int(table.sum())
    p = table / n
    v = _cohen_disagreement(weights, k)
    chance = np.outer(p.sum(axis=1), p.sum(axis=0))
    denom = float((v * chance).sum())
    if denom <= 0:
        raise ValueError("chance disagreement is zero (each rater used a single category): "
                         "Cohen's kappa is undefined")
    kappa = 1.0 - float((v * p).sum()) / denom
    agree_w = 1.0 - v / v.max()
    return _Cohen(kappa, p, agree_w, float((agree_w * chance).sum()), n)


def cohen_kappa(a, b, *, weights=None, categories: Sequence | None = None) -> float:
    r"""Cohen's kappa between two raters, optionally weighted.

    ``a`` and ``b`` hold the two raters' labels on the same units (NaN/None where one
    did not rate; such units are dropped). ``weights``: ``None`` (unweighted, Cohen
    1960), ``"linear"`` or ``"quadratic"`` (Cohen 1968; Cicchetti & Allison 1971,
    Fleiss & Cohen 1973) on category *positions*, as R irr ``kappa2`` and
    scikit-learn do; a 1-D array of disagreement weights by distance (R irr's numeric
    ``weight``), or a K x K disagreement matrix. ``categories`` fixes the label order
    and set. With disagreement weights :math:`v_{ij}`, joint proportions
    :math:`p_{ij}` and marginals :math:`p_{i\cdot}, p_{\cdot j}`:

    .. math:: \kappa_w = 1 - \frac{\sum v_{ij} p_{ij}}{\sum v_{ij} p_{i\cdot} p_{\cdot j}}

    SAS PROC FREQ documentation, "Agreement Study" example (3 x 3 table, kappa
    0.4842, linear weighted 0.4701):

    >>> table = [[0, 4, 1], [0, 8, 0], [0, 1, 5]]  # rows: rater 1, columns: rater 2
    >>> a = [i for i, row in enumerate(table) for j, c in enumerate(row) for _ in range(c)]
    >>> b = [j for i, row in enumerate(table) for j, c in enumerate(row) for _ in range(c)]
    >>> round(cohen_kappa(a, b), 4), round(cohen_kappa(a, b, weights="linear"), 4)
    (0.4842, 0.4701)
    """
    return _cohen(a, b, weights, categories).kappa


def cohen_kappa_interval(a, b, *, weights=None, categories: Sequence | None = None,
                         confidence: float = 0.95) -> Estimate:
    r"""Cohen's (weighted) kappa with its large-sample standard error and normal interval.

    Fleiss, Cohen & Everitt (1969), "Large sample standard errors of kappa and
    weighted kappa", Psychological Bulletin 72(5), eq. 13 (non-null variance) and
    eq. 9 (``se_null``, variance under chance agreement), as printed by SAS PROC FREQ
    (ASE) and R irr (z). With agreement weights :math:`w_{ij} = 1 - v_{ij}/\max v`,
    :math:`\bar w_{i\cdot} = \sum_j p_{\cdot j} w_{ij}`,
    :math:`\bar w_{\cdot j} = \sum_i p_{i\cdot} w_{ij}`:

    .. math:: \mathrm{Var}(\hat\kappa_w) = \frac{\sum_{ij} p_{ij}[w_{ij} - (\bar w_{i\cdot}
              + \bar w_{\cdot j})(1-\kappa_w)]^2 - [\kappa_w - p_e(1-\kappa_w)]^2}{n(1-p_e)^2}
    """
    return cohen_estimate(_cohen(a, b, weights, categories), confidence)


def cohen_estimate(c: _Cohen, confidence: float) -> Estimate:
    """The interval of :func:`cohen_kappa_interval` from a computed kappa."""
    p, w, pe, kappa, n = c.p, c.agree_w, c.pe, c.kappa, c.n
    pr, pc = p.sum(axis=1), p.sum(axis=0)
    wr, wc = w @ pc, pr @ w  # \bar w_{i.}, \bar w_{.j}
    term = w - (wr[:, None] + wc[None, :]) * (1 - kappa)
    var = ((p * term**2).sum() - (kappa - pe * (1 - kappa)) ** 2) / (n * (1 - pe) ** 2)
    var0 = ((np.outer(pr, pc) * (w - (wr[:, None] + wc[None, :])) ** 2).sum() - pe**2) / (
        n * (1 - pe) ** 2)
    return _capped(normal_interval(kappa, np.sqrt(max(var, 0.0)), confidence,
                                   se_null=np.sqrt(max(var0, 0.0))))


def _capped(est: Estimate) -> Estimate:
    # agreement coefficients never exceed 1; Gwet's irrCAC caps the limit the same way
    return dataclasses.replace(est, high=min(est.high, 1.0))


def scott_pi(a, b, *, categories: Sequence | None = None) -> float:
    r"""Scott's pi between two raters: chance from the pooled label distribution.

    Scott (1955), "Reliability of content analysis: the case of nominal scale coding",
    Public Opinion Quarterly 19(3): :math:`\pi = (p_o - p_e)/(1 - p_e)` with
    :math:`p_e = \sum_k ((p_{k\cdot} + p_{\cdot k})/2)^2`. Units either rater skipped
    are dropped.

    >>> round(scott_pi(["a", "a", "b", "b"], ["a", "b", "b", "b"]), 4)
    0.4667
    """
    ca, cb, coded = _pair(a, b, categories)
    k = coded.n_categories
    n = ca.size
    po = float(np.mean(ca == cb))
    pooled = (np.bincount(ca, minlength=k) + np.bincount(cb, minlength=k)) / (2 * n)
    pe = float((pooled**2).sum())
    if pe >= 1:
        raise ValueError("only one category was used: Scott's pi is undefined")
    return (po - pe) / (1 - pe)


# --- many raters (Gwet's framework, Handbook of Inter-Rater Reliability, 4th ed., ch. 2-3) -


def gwet_weights(kind, values: np.ndarray) -> np.ndarray:
    """Agreement weight matrix w_kl in [0, 1] (Gwet 2014, sec. 3.3) for category values."""
    if not isinstance(kind, str):
        w = np.asarray(kind, dtype=float)
        if w.shape != (len(values), len(values)):
            raise ValueError(f"weights matrix must be {len(values)} x {len(values)}, got {w.shape}")
        return w
    if kind not in GWET_WEIGHTS:
        raise ValueError(f"weights must be one of {GWET_WEIGHTS} or a matrix, got {kind!r}")
    c, k = values[:, None], values[None, :]
    lo, hi = values.min(), values.max()
    span = hi - lo
    if kind == "identity":
        return np.eye(len(values))
    if kind == "linear":
        return 1 - np.abs(c - k) / span
    if kind == "quadratic":
        return 1 - ((c - k) / span) ** 2
    if kind == "radical":
        return 1 - np.sqrt(np.abs(c - k)) / np.sqrt(span)
    if kind == "ordinal":
        pos = np.arange(len(values))
        d = np.abs(pos[:, None] - pos[None, :]) + 1.0
        d = d * (d - 1) / 2
    elif kind == "ratio":
        if np.any(values == 0):
            raise ValueError("ratio weights are undefined with 0 as a category")
        d = ((c - k) / (c + k)) ** 2
    elif kind == "circular":
        d = np.sin(np.pi * (c - k) / (span + 1)) ** 2
    else:  # bipolar
        with np.errstate(invalid="ignore", divide="ignore"):
            d = (c - k) ** 2 / ((c + k - 2 * lo) * (2 * hi - c - k))
        d[np.eye(len(values), dtype=bool)] = 0.0
    return 1 - d / d.max()


def _gwet_core(table: np.ndarray, w: np.ndarray, kind: str, q: int, freq: np.ndarray | None = None):
    """Coefficient, per-unit linearised terms and df for AC ("ac") or Fleiss ("fleiss").

    ``freq`` counts how many units each row of ``table`` stands for (default: one each).
    """
    table = np.asarray(table, dtype=float)
    r = table.sum(axis=1)
    f = np.ones(len(r)) if freq is None else np.asarray(freq, dtype=float)
    # units nobody rated carry no information
    table, r, f = table[r > 0], r[r > 0], f[r > 0]
    n = f.sum()
    two = r >= 2
    n2 = f[two].sum()
    if n2 == 0:
        raise ValueError("no unit was rated by two or more raters: nothing to compare")
    rw = table @ w.T  # r*_ik = sum_l w_kl r_il
    den = np.where(two, r * (r - 1), 1.0)
    pa_i = np.where(two, (table * (rw - 1)).sum(axis=1) / den, 0.0)
    pa = (f @ pa_i) / n2
    pi = f @ (table / r[:, None]) / n
    if kind == "ac":
        tw = w.sum() / (q * (q - 1))
        pe = tw * float((pi * (1 - pi)).sum())
        pe_i = tw * (table @ (1 - pi)) / r
    else:
        pe = float(pi @ w @ pi)
        pe_i = table @ ((w @ pi + w.T @ pi) / 2) / r
    if pe >= 1:
        raise ValueError("only one category was used: chance agreement is 1 and the "
                         "coefficient is undefined")
    coef = (pa - pe) / (1 - pe)
    coef_i = (n / n2) * (pa_i - pe * two) / (1 - pe)
    coef_ix = coef_i - 2 * (1 - coef) * (pe_i - pe) / (1 - pe)
    var = (f @ (coef_ix - coef) ** 2) / (n * (n - 1)) if n > 1 else np.nan
    return float(coef), float(np.sqrt(var)), int(n), float(pa), pe, pi


def _raw_table(data, categories):
    arr = as_2d(data, "data (raters x units)")
    if arr.shape[0] < 2:
        raise ValueError(f"need at least two raters, got {arr.shape[0]}")
    coded = encode(arr, categories)
    if coded.n_categories < 2:
        raise ValueError("only one category on the scale: agreement beyond chance is undefined "
                         "(pass categories= with the full scale if more exist)")
    return unit_counts(coded.codes, coded.n_categories), coded


def percent_agreement(data, *, categories: Sequence | None = None) -> float:
    r"""Share of agreeing rater pairs, averaged over units rated at least twice.

    ``data`` is raters x units with NaN/None for "not rated". Per unit,
    :math:`p_{a,i} = \sum_k r_{ik}(r_{ik}-1) / (r_i(r_i - 1))`, averaged over units
    with :math:`r_i \ge 2` (Fleiss 1971, eq. 2; Gwet 2014, eq. 2.9); for two raters
    this is the share of units they label alike. Unlike the chance-corrected
    coefficients it is defined (1.0) when everybody uses one category.

    >>> round(percent_agreement([[1, 2, 3, 3], [1, 2, 3, 1], [1, 2, None, 2]]), 4)
    0.75
    """
    arr = as_2d(data, "data (raters x units)")
    if arr.shape[0] < 2:
        raise ValueError(f"need at least two raters, got {arr.shape[0]}")
    coded = encode(arr, categories)
    table = unit_counts(coded.codes, coded.n_categories).astype(float)
    r = table.sum(axis=1)
    two = r >= 2
    if not two.any():
        raise ValueError("no unit was rated by two or more raters: nothing to compare")
    t, r = table[two], r[two]
    return float(((t * (t - 1)).sum(axis=1) / (r * (r - 1))).mean())


def fleiss_kappa(table, *, weights=None) -> float:
    r"""Fleiss' kappa from a units x categories table of counts.

    Fleiss (1971), "Measuring nominal scale agreement among many raters",
    Psychological Bulletin 76(5), eqs. 2-6: :math:`\kappa = (\bar P - \bar P_e)/(1 -
    \bar P_e)`, :math:`\bar P_e = \sum_j p_j^2`. Units may have different numbers of
    raters (Gwet 2014, sec. 2.3 generalisation: :math:`\bar P` over units rated at
    least twice, :math:`p_j` the mean of per-unit shares); with equal numbers it is
    Fleiss' original. ``weights`` (a Gwet weight name or matrix on category
    positions 1..K) gives the weighted form.

    Wikipedia worked example (10 subjects, 14 raters, 5 categories):

    >>> table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
    ...          [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
    ...          [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    >>> round(fleiss_kappa(table), 3)
    0.21
    """
    t = _check_table(table)
    w = np.eye(t.shape[1]) if weights is None else gwet_weights(
        weights, np.arange(1, t.shape[1] + 1, dtype=float))
    return _gwet_core(t, w, "fleiss", t.shape[1])[0]


def _check_table(table) -> np.ndarray:
    t = np.asarray(table, dtype=float)
    if t.ndim != 2:
        raise ValueError(f"table must be units x categories, got shape {t.shape}")
    if np.any(t < 0) or not np.array_equal(t, np.round(t)):
        raise ValueError("table must hold non-negative whole counts")
    if t.shape[1] < 2 or np.count_nonzero(t.sum(axis=0)) < 2:
        raise ValueError("only one category was used: Fleiss' kappa is undefined")
    if t.sum(axis=1).max() < 2:
        raise ValueError("fewer than two raters on every unit: nothing to compare")
    return t


def fleiss_kappa_interval(table, *, confidence: float = 0.95) -> Estimate:
    r"""Fleiss' kappa with Gwet's standard error and, for equal raters per unit, the null SE.

    ``se``: Gwet (2014), Handbook, sec. 5.3 / Gwet (2008) linearisation, valid away
    from zero and with unequal raters per unit; the interval uses Student t with
    n - 1 df, as Gwet's irrCAC does. ``se_null``: Fleiss, Nee & Landis (1979),
    Psychological Bulletin 86(5), eq. 12, the variance under chance agreement that R
    irr ``kappam.fleiss`` uses for its z (only when every unit has the same number of
    raters; otherwise None).
    """
    return fleiss_estimate(_check_table(table), None, confidence)


def fleiss_estimate(t: np.ndarray, freq: np.ndarray | None, confidence: float) -> Estimate:
    """The interval of :func:`fleiss_kappa_interval` from a checked table (rows weighted by ``freq``)."""
    k = t.shape[1]
    coef, se, n, _, _, _ = _gwet_core(t, np.eye(k), "fleiss", k, freq)
    r = t.sum(axis=1)
    f = np.ones(len(r)) if freq is None else np.asarray(freq, dtype=float)
    f = f[r > 0]
    r = r[r > 0]
    se0 = None
    if np.all(r == r[0]):
        m = r[0]
        p = f @ t[t.sum(axis=1) > 0] / (n * m)
        pq = p * (1 - p)
        s = pq.sum()
        se0 = np.sqrt(2) / (s * np.sqrt(n * m * (m - 1))) * np.sqrt(s**2 - (pq * (1 - 2 * p)).sum())
    return _capped(t_interval(coef, se, n - 1, confidence, se_null=se0))


def _gwet(data, weights, categories):
    table, coded = _raw_table(data, categories)
    values = coded.values() if coded.numeric else np.arange(1, coded.n_categories + 1, dtype=float)
    w = gwet_weights(weights, values)
    return _gwet_core(table, w, "ac", coded.n_categories)


def gwet_ac1(data, *, categories: Sequence | None = None) -> float:
    r"""Gwet's AC1: agreement corrected by the chance of rating a hard unit at random.

    Gwet (2008), "Computing inter-rater reliability and its variance in the presence
    of high agreement", Br. J. Math. Stat. Psychol. 61, eq. 14; Gwet (2014), Handbook,
    sec. 4.2: :math:`p_e = \frac{1}{q-1}\sum_k \pi_k(1-\pi_k)`. ``data`` is raters x
    units (NaN/None = not rated). ``q`` is the number of categories on the scale:
    the observed ones, or ``categories`` when given.

    Gwet's 4-rater example (= Krippendorff 2011's data, units as columns):

    >>> nan = float("nan")
    >>> data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    ...         [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    ...         [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    ...         [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]
    >>> round(gwet_ac1(data), 5)
    0.77544
    """
    return _gwet(data, "identity", categories)[0]


def gwet_ac2(data, *, weights="quadratic", categories: Sequence | None = None) -> float:
    r"""Gwet's AC2: AC1 with agreement weights for ordinal, interval or ratio scales.

    Gwet (2014), Handbook, sec. 4.3 and 3.3 (weights). ``weights`` is one of
    "identity", "linear", "quadratic", "ordinal", "radical", "ratio", "circular",
    "bipolar" (computed on numeric category values, or positions 1..q for string
    labels) or a q x q agreement matrix; ``p_e = T_w/(q(q-1)) sum_k pi_k(1-pi_k)``
    with ``T_w`` the sum of the weights.

    >>> nan = float("nan")
    >>> data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    ...         [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    ...         [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    ...         [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]
    >>> round(gwet_ac2(data, weights="bipolar"), 5)
    0.90037
    """
    return _gwet(data, weights, categories)[0]


def gwet_ac1_interval(data, *, categories: Sequence | None = None,
                      confidence: float = 0.95) -> Estimate:
    """Gwet's AC1 with its linearised standard error (Gwet 2008, eq. 28; Student t, n-1 df)."""
    coef, se, n, *_ = _gwet(data, "identity", categories)
    return _capped(t_interval(coef, se, n - 1, confidence))


def gwet_ac2_interval(data, *, weights="quadratic", categories: Sequence | None = None,
                      confidence: float = 0.95) -> Estimate:
    """Gwet's AC2 with its linearised standard error (Gwet 2014, sec. 5.4; Student t, n-1 df)."""
    coef, se, n, *_ = _gwet(data, weights, categories)
    return _capped(t_interval(coef, se, n - 1, confidence))
