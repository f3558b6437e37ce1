"""Intraclass correlations (Shrout & Fleiss 1979; McGraw & Wong 1996)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ._intervals import Estimate, check_confidence
from ._labels import as_2d

ICC_FORMS = ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")


@dataclass(frozen=True)
class _Anova:
    n: int
    k: int
    msr: float  # between targets
    msc: float  # between raters
    mse: float  # residual
    msw: float  # within targets


def _anova(data, nan_policy: str) -> _Anova:
    x = as_2d(data, "data (units x raters)")
    try:
        x = x.astype(float)
    except (TypeError, ValueError):
        raise ValueError("ICC needs numeric ratings") from None
    missing = np.isnan(x).any(axis=1)
    if missing.any():
        if nan_policy == "raise":
            raise ValueError(f"{int(missing.sum())} units lack some rater's rating; ICC needs "
                             "complete data (pass nan_policy='omit' to drop those units)")
        if nan_policy != "omit":
            raise ValueError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
        x = x[~missing]
    n, k = x.shape
    if k < 2:
        raise ValueError(f"ICC needs at least two raters, got {k}")
    if n < 2:
        raise ValueError(f"ICC needs at least two fully rated units, got {n}")
    grand = x.mean()
    ssr = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ssc = n * ((x.mean(axis=0) - grand) ** 2).sum()
    sst = ((x - grand) ** 2).sum()
    sse = sst - ssr - ssc
    if sst <= 0:
        raise ValueError("all ratings are equal: no variance, ICC is undefined")
    return _Anova(n, k, ssr / (n - 1), ssc / (k - 1), sse / ((n - 1) * (k - 1)),
                  (ssc + sse) / (n * (k - 1)))


def _value(a: _Anova, form: str) -> float:
    n, k, msr, msc, mse, msw = a.n, a.k, a.msr, a.msc, a.mse, a.msw
    if form == "ICC1":
        return (msr - msw) / (msr + (k - 1) * msw)
    if form == "ICC2":
        return (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
    if form == "ICC3":
        return (msr - mse) / (msr + (k - 1) * mse)
    if form == "ICC1k":
        return (msr - msw) / msr
    if form == "ICC2k":
        return (msr - mse) / (msr + (msc - mse) / n)
    if form == "ICC3k":
        return (msr - mse) / msr
    raise ValueError(f"form must be one of {ICC_FORMS}, got {form!r}")


def icc(data, *, form: str = "ICC2", nan_policy: str = "raise") -> float:
    r"""Intraclass correlation of numeric ratings; ``data`` is units x raters.

    Shrout & Fleiss (1979), "Intraclass correlations: uses in assessing rater
    reliability", Psychological Bulletin 86(2), Table 1 and eqs. 2-4 and 6 (names of
    McGraw & Wong 1996 in brackets): ICC1 one-way random, single rater; ICC2 two-way
    random, absolute agreement; ICC3 two-way mixed, consistency; the ``k`` forms are
    the reliability of the mean of the k raters. From the two-way ANOVA mean squares
    BMS (targets), JMS (raters), EMS (residual) and WMS (within targets), e.g.
    ICC2 = (BMS - EMS) / (BMS + (k-1) EMS + k (JMS - EMS) / n).

    Units with a missing rating raise unless ``nan_policy="omit"`` drops them.

    Shrout & Fleiss (1979), Table 2 (6 targets x 4 judges), published .17 .29 .71
    .44 .62 .91:

    >>> data = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9],
    ...         [6, 2, 4, 7]]
    >>> [round(icc(data, form=f), 2) for f in ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")]
    [0.17, 0.29, 0.71, 0.44, 0.62, 0.91]
    """
    if form not in ICC_FORMS:
        raise ValueError(f"form must be one of {ICC_FORMS}, got {form!r}")
    return float(_value(_anova(data, nan_policy), form))


def icc_interval(data, *, form: str = "ICC2", confidence: float = 0.95,
                 nan_policy: str = "raise") -> Estimate:
    """ICC with its exact/approximate F-distribution confidence limits.

    Shrout & Fleiss (1979), eqs. 5, 7-8 (ICC1, ICC3 and their k forms, exact) and the
    Satterthwaite approximation for ICC2 / ICC2k (McGraw & Wong 1996, Table 7). The
    source gives limits, not a standard error: ``se`` is NaN and ``method`` is
    ``"analytic-F"``.
    """
    check_confidence(confidence)
    if form not in ICC_FORMS:
        raise ValueError(f"form must be one of {ICC_FORMS}, got {form!r}")
    return icc_estimate(_anova(data, nan_policy), form, confidence)


def icc_estimate(a: _Anova, form: str, confidence: float) -> Estimate:
    """The estimate and F limits of :func:`icc_interval` from the ANOVA mean squares."""
    check_confidence(confidence)
    n, k, msr, msc, mse, msw = a.n, a.k, a.msr, a.msc, a.mse, a.msw
    value = _value(a, form)
    q = 1 - (1 - confidence) / 2
    f_ppf = stats.f.ppf
    if form in ("ICC1", "ICC1k", "ICC3", "ICC3k"):
        one_way = form.startswith("ICC1")
        f_obs = msr / (msw if one_way else mse)
        df2 = n * (k - 1) if one_way else (n - 1) * (k - 1)
        fl = f_obs / f_ppf(q, n - 1, df2)
        fu = f_obs * f_ppf(q, df2, n - 1)
        if form.endswith("k"):
            low, high = 1 - 1 / fl, 1 - 1 / fu
        else:
            low, high = (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)
    else:
        r2 = _value(a, "ICC2")
        fj = msc / mse
        vn = (k - 1) * (n - 1) * (k * r2 * fj + n * (1 + (k - 1) * r2) - k * r2) ** 2
        vd = (n - 1) * k**2 * r2**2 * fj**2 + (n * (1 + (k - 1) * r2) - k * r2) ** 2
        v = vn / vd
        fu_, fl_ = f_ppf(q, n - 1, v), f_ppf(q, v, n - 1)
        low = n * (msr - fu_ * mse) / (fu_ * (k * msc + (k * n - k - n) * mse) + n * msr)
        high = n * (fl_ * msr - mse) / (k * msc + (k * n - k - n) * mse + n * fl_ * msr)
        if form == "ICC2k":
            low, high = low * k / (1 + low * (k - 1)), high * k / (1 + high * (k - 1))
    return Estimate(float(value), float("nan"), float(low), float(high), confidence, "analytic-F")
