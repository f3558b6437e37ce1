"""Win rates against a baseline: hard, soft (probability-weighted) and length-controlled.

These are AlpacaEval's three numbers for a model compared with one baseline on the same
instructions (Li et al. 2023, AlpacaEval; Dubois et al. 2024, "Length-Controlled
AlpacaEval: A Simple Way to Debias Automatic Evaluators", arXiv 2404.04475):

- the **hard** win rate counts each comparison the model wins as 1, a tie as 1/2 and a
  loss as 0 (AlpacaEval's ``discrete_win_rate``);
- the **soft** win rate averages the probability that the model is preferred, as a judge
  that reports one gives it (AlpacaEval 2.0's weighted GPT-4 Turbo judge; its leaderboard's
  ``win_rate``); a comparison with only a hard verdict counts as 1, 1/2 or 0;
- the **length-controlled** win rate answers "what would the preference be if both answers
  were equally long": a logistic model (GLM) of the preference with a length term is fitted
  to the comparisons, and its prediction with the length difference set to zero is averaged
  over the instructions (Dubois et al. 2024, section 3).

Standard errors are those AlpacaEval reports: the sample standard deviation of the
per-comparison values (1, 1/2, 0 or the probability) over the square root of their number.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

__all__ = ["LengthControlled", "WinRate", "hard_win_rate", "length_controlled_win_rate", "soft_win_rate"]


@dataclass(frozen=True)
class WinRate:
    """A win rate (a share in [0, 1]), its standard error and how many comparisons it rests on."""

    value: float
    se: float
    n: int


def _share(x: np.ndarray, what: str) -> WinRate:
    if x.size == 0:
        raise ValueError(f"no comparisons: the {what} win rate is undefined")
    se = float(np.std(x, ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")
    return WinRate(float(x.mean()), se, int(x.size))


def hard_win_rate(outcomes) -> WinRate:  # noqa: ANN001 - array-like
    """The share of comparisons won, a tie counting half: ``outcomes`` are 1 (won), 0.5 (tie), 0 (lost).

    AlpacaEval (Li et al. 2023) reports GPT-4 against text-davinci-003 under its GPT-4 judge
    as 761 wins, 32 losses and 12 draws of 805: (761 + 12/2) / 805 = 95.2795%.

    >>> r = hard_win_rate([1] * 761 + [0] * 32 + [0.5] * 12)
    >>> round(100 * r.value, 4), r.n
    (95.2795, 805)
    """
    x = np.asarray(outcomes, dtype=float).ravel()
    bad = ~np.isin(x, (0.0, 0.5, 1.0))
    if bad.any():
        raise ValueError(f"hard outcomes must be 1 (won), 0.5 (tie) or 0 (lost), got {x[bad][0]!r}")
    return _share(x, "hard")


def soft_win_rate(p) -> WinRate:  # noqa: ANN001 - array-like
    """The mean probability that the model is preferred over the baseline (AlpacaEval 2.0's win rate).

    >>> r = soft_win_rate([0.9, 0.6, 0.1, 0.5])
    >>> round(r.value, 4), round(r.se, 4)
    (0.525, 0.1652)
    """
    x = np.asarray(p, dtype=float).ravel()
    if np.isnan(x).any() or (x < 0).any() or (x > 1).any():
        raise ValueError("probabilities must lie in [0, 1]")
    return _share(x, "soft")


@dataclass(frozen=True)
class LengthControlled:
    """The length-controlled win rate and the fitted GLM behind it.

    ``intercept`` is the model-versus-baseline term (theta_m - theta_b), ``length`` the
    coefficient of tanh(length difference / its standard deviation) (phi_m,b), and
    ``difficulty`` the coefficient of the per-instruction difficulty when one was given
    (psi_m - psi_b); all on the logit scale.
    """

    value: float
    intercept: float
    length: float
    difficulty: float | None
    n: int
    length_sd: float


def _fit(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Maximum-likelihood logistic regression with soft targets ``y`` on columns ``x`` (no penalty)."""

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        nll = -(y * log_expit(z) + (1 - y) * log_expit(-z)).sum()
        return float(nll), x.T @ (expit(z) - y)

    res = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B",
                   options={"maxiter": 1000, "gtol": 1e-10, "ftol": 1e-15})
    return res.x


def length_controlled_win_rate(p, delta_length, *, difficulty=None) -> LengthControlled:  # noqa: ANN001
    """The win rate the model would have if its answers were as long as the baseline's.

    Dubois et al. 2024 (arXiv 2404.04475, section 3) model the probability that the judge
    prefers model m's answer z_m to the baseline's z_b on instruction x as

        logit q = (theta_m - theta_b) + phi_m,b * tanh(delta / sd(delta)) + (psi_m - psi_b) * gamma_x

    where delta = len(z_m) - len(z_b) and gamma_x is the instruction's difficulty. The
    coefficients are fitted by maximum likelihood to the preferences ``p`` (probabilities
    or hard 1 / 0.5 / 0); the length-controlled win rate is the model's prediction with
    delta = 0, averaged over the instructions: mean_x sigmoid(theta_m - theta_b +
    (psi_m - psi_b) gamma_x). ``difficulty`` gives gamma_x per comparison; without it the
    term is left out (AlpacaEval fits gamma_x jointly over its whole leaderboard and ships
    the values, so with one model and its baseline the two agree only approximately).
    ``sd`` is the sample standard deviation of ``delta_length``; when every difference is
    the same the length term is left out and the result is the soft win rate's logistic fit.

    The metric keeps a win rate's properties: a model against itself (p = 0.5) gets 0.5,
    and swapping the roles of model and baseline gives one minus the rate.

    >>> won, longer_by = [1, 1, 0, 1, 0, 0, 1, 1], [300, 400, 200, 100, -500, -200, -300, 50]
    >>> lc = length_controlled_win_rate(won, longer_by)
    >>> round(lc.value, 4), round(lc.length, 4)
    (0.6302, 1.4333)
    >>> round(length_controlled_win_rate([1 - w for w in won], [-d for d in longer_by]).value, 4)
    0.3698
    """
    y = np.asarray(p, dtype=float).ravel()
    d = np.asarray(delta_length, dtype=float).ravel()
    if y.size != d.size:
        raise ValueError(f"p and delta_length must have one value per comparison, got {y.size} and {d.size}")
    if y.size < 2:
        raise ValueError("the length-controlled win rate needs at least two comparisons")
    if np.isnan(y).any() or (y < 0).any() or (y > 1).any():
        raise ValueError("preferences must lie in [0, 1]")
    if np.isnan(d).any():
        raise ValueError("delta_length has missing values")
    sd = float(np.std(d, ddof=1))
    cols = [np.ones_like(y)]
    if sd > 0:
        cols.append(np.tanh(d / sd))
    g = None
    if difficulty is not None:
        g = np.asarray(difficulty, dtype=float).ravel()
        if g.size != y.size or np.isnan(g).any():
            raise ValueError("difficulty must give one number per comparison")
        cols.append(g)
    x = np.column_stack(cols)
    if y.min() == y.max() and y[0] in (0.0, 1.0):
        # every comparison won (or lost): the fit runs off to infinity; its limit is the plain rate
        warnings.warn("every comparison has the same verdict: the length-controlled win rate equals it",
                      RuntimeWarning, stacklevel=2)
        return LengthControlled(float(y[0]), float("inf") if y[0] else float("-inf"), 0.0,
                                0.0 if g is not None else None, int(y.size), sd)
    w = _fit(y, x)
    length = float(w[1]) if sd > 0 else 0.0
    psi = float(w[-1]) if g is not None else None
    z0 = w[0] + (psi * g if g is not None else 0.0)
    value = float(np.mean(expit(z0)))
    return LengthControlled(value, float(w[0]), length, psi, int(y.size), sd)
