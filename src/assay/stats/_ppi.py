"""Private machinery behind :mod:`assay.stats.ppi`: input checks, the result records, the
PPI++ mean and the PPI++ logistic M-estimator. Nothing here is public API.

Notation as in PPI++ (Angelopoulos, Duchi, Zrnic 2023, arXiv:2311.01453): ``n`` labelled
units with human labels ``y`` and judge scores ``yhat``, ``N`` further units with judge
scores only (``yhat_unlabeled``), ``r = n / N``, power-tuning parameter ``lam``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from scipy import linalg
from scipy.special import expit, log_expit, stdtr, stdtrit
from scipy.stats import norm

from assay.stats import _bt

ALTERNATIVES = ("two-sided", "larger", "smaller")
_NOT_IDENTIFIED = ("the logistic fit is not identified (singular Hessian): the data leave a coefficient free or "
                   "infinite (for Bradley-Terry: a model not compared, or never beaten, in the verdicts used)")


# --- records ------------------------------------------------------------------------------


def _n_eff(n: int, classical_se, se):  # noqa: ANN001, ANN202 - float or array alike
    """n * classical_se**2 / se**2, inf where only the PPI variance is zero, NaN where both are."""
    c2 = np.asarray(classical_se, dtype=float) ** 2
    s2 = np.asarray(se, dtype=float) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(s2 > 0, n * c2 / np.where(s2 > 0, s2, 1.0), np.where(c2 > 0, np.inf, np.nan))
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class PPIEstimate:
    """A prediction-powered estimate of one number, with the human-only and judge-only figures beside it.

    Nothing in these estimators is random, so a result carries no seed.
    """

    estimate: float
    """The PPI++ (or PPI, or classical, as ``lam`` says) point estimate."""
    low: float
    """Lower confidence limit (``-inf`` for ``alternative="smaller"``)."""
    high: float
    """Upper confidence limit (``inf`` for ``alternative="larger"``)."""
    se: float
    """Estimated standard error of ``estimate``."""
    lam: float
    """Power-tuning parameter used: 0 is human labels only, 1 plain PPI."""
    classical_estimate: float
    """Mean of the human labels alone."""
    classical_low: float
    classical_high: float
    classical_se: float
    """Standard error of the human-only estimate: sample standard deviation over sqrt(n), with the
    Student t interval on ``n - 1`` degrees of freedom; population standard deviation and normal
    interval with ``small_sample=False``, as ppi_py."""
    naive_estimate: float
    """Mean of the judge's scores on every unit, labelled and unlabelled: biased by whatever bias the judge has."""
    n: int
    """Number of labelled units."""
    n_unlabeled: int
    """Number of units with judge scores only."""
    alpha: float
    alternative: str
    method: str
    """"ppi++" (lam tuned), "ppi" (lam = 1), "classical" (lam = 0), "ppi-fixed" (another given lam)
    or "cross-ppi" (cross-fitted predictions)."""
    df: float = math.inf
    """Degrees of freedom of the Student t quantile behind ``low`` and ``high`` (the classical
    interval's are ``n - 1``); ``inf`` for the normal intervals of ``small_sample=False``, ppi_py's."""

    @property
    def interval(self) -> tuple[float, float]:
        return (self.low, self.high)

    @property
    def classical_interval(self) -> tuple[float, float]:
        return (self.classical_low, self.classical_high)

    def p_value(self, null: float = 0.0) -> float:
        """Wald p-value of the hypothesis ``theta = null`` against ``alternative`` ("larger": theta > null).

        The Wald test that the interval inverts (PPI++; ppi_py's ``ppi_mean_pval`` with the same ``lam``),
        with the Student t distribution of ``df`` degrees of freedom when the interval has one.
        """
        z = (self.estimate - null) / max(self.se, 1e-16)
        cdf = norm.cdf if math.isinf(self.df) else partial(stdtr, self.df)
        if self.alternative == "two-sided":
            return float(2 * cdf(-abs(z)))
        return float(cdf(-z) if self.alternative == "larger" else cdf(z))

    @property
    def n_eff(self) -> float:
        """Human labels alone that would give the same variance: ``n * classical_se**2 / se**2``.

        See :mod:`assay.stats.ppi` for the derivation; ``n_eff - n`` is what the judge was worth.
        """
        return _n_eff(self.n, self.classical_se, self.se)


@dataclass(frozen=True)
class PPICoefficients:
    """Prediction-powered estimates of regression (or Bradley-Terry) coefficients, one per column.

    Arrays are aligned with ``names`` (the design's columns, or the models for Bradley-Terry,
    where the reference model's coefficient is fixed at 0 with a zero-width interval).
    """

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    se: np.ndarray
    lam: float
    """One power-tuning parameter for all coefficients, chosen to minimise the trace of the
    asymptotic covariance (PPI++'s default, ppi_py's ``optim_mode="overall"``)."""
    classical_estimate: np.ndarray
    """Fit to the human labels alone."""
    classical_low: np.ndarray
    classical_high: np.ndarray
    classical_se: np.ndarray
    naive_estimate: np.ndarray
    """Fit to the judge's verdicts on every unit, labelled and unlabelled (biased)."""
    n: int
    n_unlabeled: int
    alpha: float
    alternative: str
    method: str
    names: tuple = field(default=())
    """Column (or model) names, when known."""

    @property
    def n_eff(self) -> np.ndarray:
        """Per coefficient: human labels alone that would give the same variance (NaN for the reference)."""
        return _n_eff(self.n, self.classical_se, self.se)


# --- checks -------------------------------------------------------------------------------


def check_alpha(alpha: float) -> float:
    if not isinstance(alpha, (int, float, np.floating)) or not 0 < float(alpha) < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    return float(alpha)


def check_alternative(alternative: str) -> str:
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    return alternative


def check_lam(lam: float | None) -> float | None:
    if lam is None:
        return None
    lam = float(lam)
    if not math.isfinite(lam) or not 0 <= lam <= 1:
        raise ValueError(f"lam must be None (tuned) or a number in [0, 1], got {lam!r}")
    return lam


def vector(x, name: str, *, ndim: int = 1, min_len: int = 1) -> np.ndarray:  # noqa: ANN001 - array-like
    """A finite float array of ``ndim`` dimensions with at least ``min_len`` rows, or a ValueError naming ``name``."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must hold numbers: {exc}") from None
    if arr.ndim != ndim:
        shape = "a 1-D array" if ndim == 1 else f"a {ndim}-D array"
        raise ValueError(f"{name} must be {shape}, got shape {arr.shape}")
    if arr.shape[0] < min_len:
        raise ValueError(f"{name} is empty" if arr.shape[0] == 0 else
                         f"{name} needs at least {min_len} rows, got {arr.shape[0]}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return arr


def same_length(**arrays: np.ndarray) -> int:
    lengths = {k: v.shape[0] for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k} has {v}" for k, v in lengths.items())
        raise ValueError(f"{' and '.join(lengths)} must have the same length: {shown}")
    return next(iter(lengths.values()))


def in_unit_interval(x: np.ndarray, name: str) -> None:
    if (x < 0).any() or (x > 1).any():
        raise ValueError(f"{name} must lie in [0, 1] (1 win, 0.5 tie, 0 loss, or a probability)")


# --- shared formulas ----------------------------------------------------------------------


def z_interval(estimate, se, alpha: float, alternative: str, df: float = math.inf):  # noqa: ANN001, ANN201
    """Normal (Wald) limits, one- or two-sided, as statsmodels' ``_zconfint_generic``, which ppi_py uses;
    with a finite ``df``, the Student t quantile instead of the normal one."""
    estimate, se = np.asarray(estimate, dtype=float), np.asarray(se, dtype=float)
    ppf = norm.ppf if math.isinf(df) else partial(stdtrit, df)
    if alternative == "two-sided":
        q = ppf(1 - alpha / 2)
        return estimate - q * se, estimate + q * se
    q = ppf(1 - alpha)
    if alternative == "larger":
        return estimate - q * se, np.full_like(estimate, np.inf)
    return np.full_like(estimate, -np.inf), estimate + q * se


def tuned_lam(grads: np.ndarray, grads_hat: np.ndarray, grads_hat_unlabeled: np.ndarray,
              inv_hessian: np.ndarray) -> float:
    r"""The plug-in power-tuning parameter of PPI++ (arXiv:2311.01453, power-tuning section), clipped to [0, 1].

    With per-unit gradients :math:`g_i` (human labels) and :math:`\hat g_i` (judge), labelled
    gradients centred, :math:`r = n/N` and :math:`H` the Hessian,

    .. math:: \hat\lambda = \frac{\operatorname{tr}(H^{-1}(\hat C + \hat C^\top)H^{-1})}
              {2(1 + r)\operatorname{tr}(H^{-1}\hat V H^{-1})},\quad
              \hat C = \tfrac1n \sum_i (g_i - \bar g)(\hat g_i - \bar{\hat g})^\top

    where :math:`\hat V` is the sample covariance (divisor ``n + N - 1``) of the judge's
    gradients on all units. For the mean (:math:`H = 1`) this is
    :math:`\widehat{\mathrm{Cov}}(Y, \hat Y) / ((1 + r)\widehat{\mathrm{Var}}(\hat Y))`.
    The estimators are ppi_py 0.2.3's (``_calc_lam_glm`` with ``clip=True``, the only setting its
    public functions use); clipping keeps the estimate between the classical one and PPI.
    A judge whose gradients do not vary carries no information: ``lam`` is then 0.
    """
    n, big_n = grads.shape[0], grads_hat_unlabeled.shape[0]
    gc = grads - grads.mean(axis=0)
    hc = grads_hat - grads_hat.mean(axis=0)
    cross = (gc.T @ hc + hc.T @ gc) / n
    allhat = np.vstack([grads_hat, grads_hat_unlabeled])
    v = np.atleast_2d(np.cov(allhat.T))
    den = 2 * (1 + n / big_n) * float(np.trace(inv_hessian @ v @ inv_hessian))
    if den <= 0:
        return 0.0
    lam = float(np.trace(inv_hessian @ cross @ inv_hessian)) / den
    return float(np.clip(lam, 0.0, 1.0))


# --- the mean -----------------------------------------------------------------------------


def mean_estimate(y: np.ndarray, yhat: np.ndarray, yhat_unlabeled: np.ndarray, lam: float | None,
                  alpha: float, alternative: str, *, method: str | None = None,
                  small_sample: bool = True) -> PPIEstimate:
    r"""PPI++ mean, its interval and the classical and naive figures (see :func:`assay.stats.ppi.mean`).

    ``small_sample=False`` is ppi_py's interval: population variances and the normal quantile.
    ``small_sample=True`` is :func:`small_sample_se` with its Student t quantile.
    """
    n, big_n = y.size, yhat_unlabeled.size
    if n < 2:
        raise ValueError(f"y needs at least 2 labelled units for a variance, got {n}")
    if big_n < 1:
        raise ValueError("yhat_unlabeled is empty")
    tuned = lam is None
    if tuned:
        one = np.ones((1, 1))
        lam = tuned_lam(y[:, None], yhat[:, None], yhat_unlabeled[:, None], one)
    est = lam * yhat_unlabeled.mean() + (y - lam * yhat).mean()
    if small_sample:
        se, df = small_sample_se(y - lam * yhat, lam * yhat_unlabeled, tuned and lam > 0)
        c_se, c_df = y.std(ddof=1) / math.sqrt(n), float(n - 1)
    else:
        se, df = math.sqrt((lam * yhat_unlabeled).var() / big_n + (y - lam * yhat).var() / n), math.inf
        c_se, c_df = y.std() / math.sqrt(n), math.inf
    low, high = z_interval(est, se, alpha, alternative, df)
    c_est = y.mean()
    c_low, c_high = z_interval(c_est, c_se, alpha, alternative, c_df)
    if method is None:
        method = "ppi++" if tuned else {0.0: "classical", 1.0: "ppi"}.get(lam, "ppi-fixed")
    naive = float(np.concatenate([yhat, yhat_unlabeled]).mean())
    return PPIEstimate(float(est), float(low), float(high), se, float(lam), float(c_est), float(c_low),
                       float(c_high), float(c_se), naive, n, big_n, alpha, alternative, method, df)


def small_sample_se(resid: np.ndarray, pred_unlabeled: np.ndarray, lam_tuned: bool) -> tuple[float, float]:
    r"""Standard error and degrees of freedom of the small-sample PPI++ mean interval.

    ``resid`` is :math:`Y_i - \lambda f_i` on the ``n`` labelled units, ``pred_unlabeled``
    :math:`\lambda\tilde f_j` on the ``N`` others. The two parts of the PPI variance are
    estimated with sample variances, divisor ``n - 1`` and ``N - 1``, and the labelled one with
    divisor ``n - 2`` when ``lam`` was tuned on the same labels (and is above 0). For the mean,
    tuned PPI++ is the survey regression estimator :math:`\bar y + b(\bar f_{all} - \bar f_n)`
    (:math:`\lambda = b N/(n + N)`; ``b`` differs only in estimating Var(f) from all units),
    whose residual variance takes ``n - 2`` because the slope is estimated too (Cochran,
    *Sampling Techniques*, 3rd ed. 1977, chapter 7, regression estimators). The quantile is Student t with the Welch-Satterthwaite degrees of freedom of a sum
    of two independent variance estimates (Satterthwaite, Biometrics Bulletin 2, 1946;
    Welch, Biometrika 34, 1947),

    .. math:: \nu = \frac{(a + b)^2}{a^2/\nu_n + b^2/(N - 1)},\quad
              a = s^2_{Y - \lambda f}/n,\ b = s^2_{\lambda\tilde f}/N,\ \nu_n = n - 1 \text{ or } n - 2,

    so with ``lam = 0`` it is the Student t interval of the human labels. :math:`\nu` lies between
    :math:`\nu_n` and :math:`\nu_n + N - 1`, near :math:`\nu_n` when the labelled part dominates
    the variance, as it does when ``N`` is much larger than ``n``.
    """
    n, big_n = resid.size, pred_unlabeled.size
    df_n = n - 2 if lam_tuned and n > 2 else n - 1
    a = float(np.sum((resid - resid.mean()) ** 2)) / df_n / n
    b = float(pred_unlabeled.var(ddof=1)) / big_n if big_n > 1 else 0.0
    if a + b == 0:
        return 0.0, float(df_n)
    df = (a + b) ** 2 / (a**2 / df_n + (b**2 / (big_n - 1) if big_n > 1 else 0.0))
    return math.sqrt(a + b), float(df)


# --- logistic regression (PPI for M-estimators) ------------------------------------------


def _fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, x0: np.ndarray | None = None) -> np.ndarray:
    """Minimise sum_r w_r [log(1 + e^{x_r b}) - y_r x_r b] (soft or rectified labels, signed weights).

    Damped Newton steps through the Bradley-Terry solver's loop (``_bt._maximise``), on dense
    arrays: the designs here have a handful of columns.
    """
    xt = x.T

    def objective(b: np.ndarray) -> float:
        eta = x @ b
        return float(np.sum(w * (y * log_expit(eta) + (1 - y) * log_expit(-eta))))

    def newton_step(b: np.ndarray) -> np.ndarray:
        p = expit(x @ b)
        hess = (xt * (w * p * (1 - p))) @ x
        try:
            return linalg.solve(hess, xt @ (w * (y - p)), assume_a="pos", check_finite=False)
        except linalg.LinAlgError:
            raise ValueError(_NOT_IDENTIFIED) from None

    start = np.zeros(x.shape[1]) if x0 is None else np.asarray(x0, dtype=float)
    return _bt._maximise(start, objective, newton_step, tol=1e-12, max_iter=200, what="PPI++ logistic")


def rectified_fit(x, y, yhat, xu, yhatu, lam: float, x0=None) -> np.ndarray:  # noqa: ANN001
    r"""The PPI++ logistic estimate: the minimiser of the rectified loss (PPI++, :math:`L^{PP}_\lambda`)

    .. math:: \frac{\lambda}{N}\sum_j \ell_\theta(\tilde x_j, \tilde f_j)
              + \frac1n\sum_i \big(\ell_\theta(x_i, y_i) - \lambda\,\ell_\theta(x_i, f_i)\big)

    with the logistic loss :math:`\ell_\theta(x, y) = \log(1 + e^{x\theta}) - y\,x\theta`. It is a
    weighted logistic fit with weights ``lam/N``, ``1/n`` and ``-lam/n``: convex for lam in [0, 1]
    since the last two rows share their covariates (net curvature weight ``(1 - lam)/n``).
    """
    n, big_n = len(y), len(yhatu)
    if lam == 0:
        return _fit(x, y, np.full(n, 1 / n), x0)
    weights = np.concatenate([np.full(n, 1 / n), np.full(n, -lam / n), np.full(big_n, lam / big_n)])
    return _fit(np.vstack([x, x, xu]), np.concatenate([y, yhat, yhatu]), weights, x0)


def logistic_stats(theta, x, y, yhat, xu, yhatu, use_unlabeled: bool):  # noqa: ANN001, ANN201
    r"""Per-unit gradients and the inverse Hessian at ``theta`` (PPI++, the M-estimator's asymptotic covariance).

    Gradients :math:`x(\sigma(x\theta) - y)`; the Hessian :math:`\tfrac1m\sum \sigma'(x\theta)\,xx^\top`
    does not involve labels, so it is averaged over all ``n + N`` units' covariates when the
    judge is used (as ppi_py does), over the ``n`` labelled ones otherwise.
    """
    mu, muu = expit(x @ theta), expit(xu @ theta)
    grads = x * (mu - y)[:, None]
    grads_hat = x * (mu - yhat)[:, None]
    grads_hat_u = xu * (muu - yhatu)[:, None]
    if use_unlabeled:
        hx, hw = np.vstack([x, xu]), np.concatenate([mu * (1 - mu), muu * (1 - muu)])
    else:
        hx, hw = x, mu * (1 - mu)
    hessian = (hx * hw[:, None]).T @ hx / hx.shape[0]
    try:
        inv = linalg.inv(hessian)
    except linalg.LinAlgError:
        inv = None
    if inv is None or not np.isfinite(inv).all() or np.linalg.cond(hessian) > 1e12:
        raise ValueError(_NOT_IDENTIFIED)
    return grads, grads_hat, grads_hat_u, inv


def logistic_estimate(x, y, yhat, xu, yhatu, lam: float | None, alpha: float, alternative: str, *,  # noqa: ANN001
                      names: tuple = (), method: str | None = None, naive: bool = True) -> PPICoefficients:
    r"""PPI++ logistic coefficients and Wald intervals (see :func:`assay.stats.ppi.logistic`)."""
    n, big_n, d = len(y), len(yhatu), x.shape[1]
    if n <= d:
        raise ValueError(f"y needs more labelled units than coefficients ({d}), got {n}")
    tuned = lam is None
    if tuned:
        # ppi_py's order: tune at the PPI (lam = 1) fit, refit, tune again at that fit, refit.
        theta = rectified_fit(x, y, yhat, xu, yhatu, 1.0)
        for _ in range(2):
            lam = tuned_lam(*logistic_stats(theta, x, y, yhat, xu, yhatu, True))
            theta = rectified_fit(x, y, yhat, xu, yhatu, lam, theta)
    else:
        theta = rectified_fit(x, y, yhat, xu, yhatu, lam)
    se = _sandwich_se(theta, x, y, yhat, xu, yhatu, lam)
    low, high = z_interval(theta, se, alpha, alternative)

    c_theta = rectified_fit(x, y, yhat, xu, yhatu, 0.0)
    c_se = _sandwich_se(c_theta, x, y, yhat, xu, yhatu, 0.0)
    c_low, c_high = z_interval(c_theta, c_se, alpha, alternative)
    if naive:
        allx, ally = np.vstack([x, xu]), np.concatenate([yhat, yhatu])
        naive_est = _fit(allx, ally, np.full(len(ally), 1 / len(ally)))
    else:  # the caller found the judge-only fit has no finite solution
        naive_est = np.full(d, np.nan)
    if method is None:
        method = "ppi++" if tuned else {0.0: "classical", 1.0: "ppi"}.get(lam, "ppi-fixed")
    return PPICoefficients(theta, low, high, se, float(lam), c_theta, c_low, c_high, c_se, naive_est, n, big_n,
                           alpha, alternative, method, tuple(names))


def _sandwich_se(theta, x, y, yhat, xu, yhatu, lam: float) -> np.ndarray:  # noqa: ANN001
    r"""Standard errors :math:`\sqrt{\mathrm{diag}(\hat\Sigma)/n}`, the PPI++ M-estimator's asymptotic covariance:

    .. math:: \hat\Sigma = H^{-1}\big(r\,\widehat{\mathrm{Var}}(\lambda\hat g^{u})
              + \widehat{\mathrm{Var}}(g - \lambda\hat g)\big)H^{-1}

    with sample covariances (divisor ``m - 1``), as ppi_py's ``ppi_logistic_ci``.
    """
    n, big_n, d = len(y), len(yhatu), x.shape[1]
    g, gh, ghu, inv = logistic_stats(theta, x, y, yhat, xu, yhatu, lam != 0)
    var_u = np.atleast_2d(np.cov((lam * ghu).T)).reshape(d, d)
    var_l = np.atleast_2d(np.cov((g - lam * gh).T)).reshape(d, d)
    sigma = inv @ (n / big_n * var_u + var_l) @ inv
    return np.sqrt(np.clip(np.diag(sigma), 0.0, None) / n)
