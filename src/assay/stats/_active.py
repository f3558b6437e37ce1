r"""Active statistical inference: the judge on every unit, humans on units drawn with unequal probabilities.

Zrnic and Candès, "Active statistical inference" (ICML 2024, arXiv:2403.03208) let the judge's
uncertainty decide which units people label: unit ``i`` is labelled with probability
:math:`\pi_i`, by an independent draw :math:`\xi_i \sim \mathrm{Bernoulli}(\pi_i)` (Poisson
sampling), and inverse-probability weights keep the estimate unbiased whatever the
:math:`\pi_i` are, so long as none is 0. For a mean over ``N`` units (their section 3, with power
tuning as in their section on it),

.. math:: \hat\theta_\lambda = \frac1N \sum_{i=1}^N \Big(\lambda f_i + (Y_i - \lambda f_i)\,
          \frac{\xi_i}{\pi_i}\Big),

the Horvitz-Thompson form. Its variance is
:math:`\tfrac1N\big(\mathrm{Var}(Y) + E[(Y - \lambda f)^2 (1/\pi - 1)]\big)` (given the unit,
:math:`\xi/\pi` has mean 1 and variance :math:`1/\pi - 1`), so

.. math:: \lambda^* = \frac{E[f\,Y\,(1/\pi - 1)]}{E[f^2\,(1/\pi - 1)]}

(set the derivative in :math:`\lambda` to zero), which is their power-tuned choice.

**Why the default is the Hajek form.** The number of labels a Poisson draw gives is random
(about the budget, give or take its square root), and the Horvitz-Thompson mean of a residual
:math:`Y - \lambda f` whose mean is not 0 inherits that randomness: for a 1-5 rating a judge
scores 1.5 points low, 14% more or fewer labels than planned (one standard deviation at a
budget of 50) moves the estimate by 0.2, more than the PPI++ standard error. Dividing by the
estimated number of units instead of ``N`` (Hajek 1971; Särndal, Swensson and Wretman, *Model
Assisted Survey Sampling*, 1992, section 5.7) removes it:

.. math:: \hat\theta^H_\lambda = \lambda\,\bar f_N + \hat r,\qquad
          \hat r = \frac{\sum_i \xi_i (Y_i - \lambda f_i)/\pi_i}{\sum_i \xi_i/\pi_i}.

This is the formula above with the judge's prediction :math:`\lambda f_i + \hat r` (a shift
learnt from the labels), and with uniform :math:`\pi_i` it is exactly PPI++ (see
:func:`active_mean`). Its linearised variance (Särndal et al., result 5.7.4 for the ratio
mean, the same argument with the judge) is
:math:`\tfrac1N(\mathrm{Var}(Y) + E[(1/\pi - 1)(Y - \mu_Y - \lambda(f - \mu_f))^2])`, minimised by

.. math:: \lambda^* = \frac{E[(1/\pi - 1)(Y - \mu_Y)(f - \mu_f)]}{E[(1/\pi - 1)(f - \mu_f)^2]},

the weighted regression slope of ``Y`` on ``f``. Both are estimated by weighting: the numerator
over the labelled units with weights :math:`(1/\pi_i)(1/\pi_i - 1)`, normalised by
:math:`\sum_i \xi_i/\pi_i`; the denominator over all ``N`` units (``f`` and :math:`\pi` are known
for every unit) with divisor ``N - 1``. Clipped to [0, 1] as PPI++ clips its own; 0 when the
judge's scores do not vary or every unit is certain to be labelled.

**The interval** is the normal one from the empirical variance of the per-unit terms
:math:`z_i = \lambda f_i + \hat r + \xi_i \tilde w_i (Y_i - \lambda f_i - \hat r)`, with
:math:`\tilde w_i = (1/\pi_i) N / \sum_j \xi_j/\pi_j` the weights normalised to sum to ``N`` over
the labelled units: :math:`\widehat{\mathrm{se}}^2 = \sum_i (z_i - \bar z)^2 / N^2`, and
:math:`\bar z = \hat\theta^H_\lambda`. ``small_sample=True`` (the default, as in
:mod:`assay.stats.ppi`) multiplies the labelled residuals by :math:`\sqrt{m/(m - p)}` (``m``
labels, ``p`` = 1 for the estimated shift, 2 when ``lam`` is tuned too) and takes a Student t
quantile with :math:`\nu - p` degrees of freedom, :math:`\nu = (\sum \tilde w_i^2)^2/\sum \tilde w_i^4`
over the labelled units: the Satterthwaite (1946) degrees of freedom of a weighted sum of ``m``
squared residuals of equal variance, ``m`` when the weights are equal. So with uniform
:math:`\pi` and ``lam = 0`` the interval is exactly the Student t interval of the ``m`` labels.
It ignores the degrees of freedom the judge-only part adds (the module's PPI++ interval adds
them by Welch-Satterthwaite), which makes it slightly wider: at most the ratio of the t quantiles
on ``m - 2`` and ``m - 2 + N - 1`` degrees of freedom, 2.6% at ``m = 50`` (t on 48 against normal).

``weighting="horvitz-thompson"`` gives the first form, with :math:`\lambda^*` above, the per-unit
terms :math:`\lambda f_i + \xi_i(Y_i - \lambda f_i)/\pi_i`, and (small sample) only the t
quantile on :math:`\nu - 1` (tuned: :math:`\nu - 2`) degrees of freedom. Measured in
``tests/stats/test_active.py`` (a population of 1,000, an expected 60 labels, 3,000 Poisson
draws): with ``lam`` tuned its estimates have standard deviation 0.147 and a bias of 0.30 of it
(``lam`` estimated from the same weighted sums as the random number of labels moves), against
0.109 and 0.02 for the Hajek form; its human-only estimate 0.424 against 0.136.
"""

from __future__ import annotations

import math

import numpy as np

from assay.stats._ppi import PPIEstimate, z_interval

WEIGHTINGS = ("hajek", "horvitz-thompson")


def check_design(y, yhat, labelled, pi, names: tuple[str, str, str, str]):  # noqa: ANN001, ANN201
    """Arrays of one length ``N``: labels (finite where labelled), judge scores, the labelled mask, pi in (0, 1]."""
    ny, nf, nl, npi = names
    try:
        f = np.asarray(yhat, dtype=float)
        p = np.asarray(pi, dtype=float)
        y = np.asarray(y, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{ny}, {nf} and {npi} must hold numbers: {exc}") from None
    lab = np.asarray(labelled)
    for arr, name in ((y, ny), (f, nf), (lab, nl), (p, npi)):
        if arr.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if lab.dtype != bool:
        if not np.isin(lab, (0, 1)).all():
            raise ValueError(f"{nl} must hold booleans (True: a person labelled the unit)")
        lab = lab.astype(bool)
    lengths = {ny: y.size, nf: f.size, nl: lab.size, npi: p.size}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k} has {v}" for k, v in lengths.items())
        raise ValueError(f"{', '.join(lengths)} must have one entry per unit: {shown}")
    if not np.isfinite(f).all():
        raise ValueError(f"{nf} holds NaN or infinite values")
    if not np.isfinite(p).all() or (p <= 0).any() or (p > 1).any():
        raise ValueError(f"{npi} must lie in (0, 1]: a unit that cannot be drawn cannot be weighted back")
    if not np.isfinite(y[lab]).all():
        raise ValueError(f"{ny} holds NaN or infinite values on labelled units")
    if lab.sum() < 2:
        raise ValueError(f"{nl}: at least 2 labelled units are needed for a variance, got {int(lab.sum())}")
    return np.where(lab, y, 0.0), f, lab, p


def tuned_lam(y: np.ndarray, f: np.ndarray, lab: np.ndarray, pi: np.ndarray, weighting: str) -> float:
    """The plug-in variance-minimising ``lam`` of the module docstring, clipped to [0, 1]."""
    w = 1.0 / pi
    extra = w - 1.0  # the conditional variance of xi / pi
    wl, yl, fl = w[lab], y[lab], f[lab]
    if weighting == "hajek":
        y_bar = np.sum(wl * yl) / np.sum(wl)
        f_bar = f.mean()
        num = np.sum(wl * extra[lab] * (yl - y_bar) * (fl - f_bar)) / np.sum(wl)
        den = np.sum(extra * (f - f_bar) ** 2) / (f.size - 1)
    else:
        num = np.sum(wl * extra[lab] * yl * fl) / f.size
        den = np.sum(extra * f**2) / f.size
    if den <= 0:
        return 0.0
    return float(np.clip(num / den, 0.0, 1.0))


def _fit(y: np.ndarray, f: np.ndarray, lab: np.ndarray, pi: np.ndarray, lam: float, weighting: str,
         small_sample: bool, p_extra: int) -> tuple[float, float, float]:
    """Estimate, standard error and degrees of freedom (inf unless ``small_sample``) for one ``lam``."""
    big_n, m = f.size, int(lab.sum())
    w = 1.0 / pi[lab]
    resid = y[lab] - lam * f[lab]
    if weighting == "hajek":
        w_norm = w * big_n / w.sum()
        shift = float(np.sum(w_norm * resid) / big_n)
        p = 1 + p_extra
        scale = math.sqrt(m / (m - p)) if small_sample and m > p else 1.0
        z = lam * f + shift
        z[lab] += w_norm * (resid - shift) * scale
        est = lam * float(f.mean()) + shift
    else:
        w_norm = w
        z = lam * f
        z[lab] += w * resid
        est = float(z.mean())
    se = float(np.sqrt(np.sum((z - z.mean()) ** 2)) / big_n)
    if not small_sample:
        return est, se, math.inf
    a = w_norm**2
    nu = float(a.sum() ** 2 / np.sum(a**2))
    return est, se, max(nu - 1 - p_extra, 1.0)


def active_estimate(y: np.ndarray, f: np.ndarray, lab: np.ndarray, pi: np.ndarray, lam: float | None,
                    alpha: float, alternative: str, *, weighting: str = "hajek",
                    small_sample: bool = True) -> PPIEstimate:
    """The active estimate and its interval, the human-only IPW figures and the judge-only mean (checked inputs)."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    tuned = lam is None
    if tuned:
        lam = tuned_lam(y, f, lab, pi, weighting)
    est, se, df = _fit(y, f, lab, pi, lam, weighting, small_sample, int(tuned and lam > 0))
    low, high = z_interval(est, se, alpha, alternative, df)
    c_est, c_se, c_df = _fit(y, f, lab, pi, 0.0, weighting, small_sample, 0)
    c_low, c_high = z_interval(c_est, c_se, alpha, alternative, c_df)
    method = "active++" if tuned else {0.0: "active-classical", 1.0: "active"}.get(lam, "active-fixed")
    m = int(lab.sum())
    return PPIEstimate(est, float(low), float(high), se, float(lam), c_est, float(c_low), float(c_high), c_se,
                       float(f.mean()), m, f.size - m, alpha, alternative, method, df)
