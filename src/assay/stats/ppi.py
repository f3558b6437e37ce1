r"""Prediction-powered inference: a judge's verdicts on every unit, human labels on a random subset.

Human labels are unbiased but few; an LLM judge scores every unit but may be biased.
Prediction-powered inference (PPI: Angelopoulos, Bates, Fannjiang, Jordan, Zrnic,
"Prediction-powered inference", Science 382, 2023) corrects the judge's mean on all units
with its error measured on the labelled ones, and PPI++ (Angelopoulos, Duchi, Zrnic,
"PPI++: Efficient prediction-powered inference", arXiv:2311.01453, 2023) weights the judge
by a tuning parameter ``lam`` chosen from the data, so the interval is valid whatever the
judge's quality and, asymptotically, never wider than the human-only one. For a mean, with
``n`` labelled units and ``N`` judge-only units,

.. math:: \hat\theta_\lambda = \bar Y_n + \lambda\,(\bar{\tilde f}_N - \bar f_n),\qquad
          \widehat{\mathrm{se}}^2 = \lambda^2\,\hat\sigma^2_{\tilde f}/N + \hat\sigma^2_{Y - \lambda f}/n

(PPI++, the prediction-powered loss :math:`L^{PP}_\lambda` applied to the mean; ``lam = 1`` is
the PPI mean estimator of the Science paper; ``lam = 0`` the classical mean). The interval is the normal one,
:math:`\hat\theta \pm z_{1-\alpha/2}\,\widehat{\mathrm{se}}`. Regression coefficients (and so
Bradley-Terry ratings) are M-estimators: PPI++ minimises the same rectified loss and gives a
sandwich covariance (:func:`logistic`). Boyeau et al., "AutoEval done right: using synthetic
data for model evaluation" (arXiv:2403.07008, 2024) apply both to model evaluation, including
Bradley-Terry rankings from pairwise preferences.

The functions mirror ``ppi_py`` (the authors' package, ``pip install ppi-python``) so that
users can move between them: ``mean`` is ``ppi_mean_ci``, ``logistic`` is
``ppi_logistic_ci``, ``cross_mean`` / ``cross_logistic`` are ``crossppi_mean_ci`` /
``crossppi_logistic_ci``, with the same arguments in the same order (``alpha`` is the error
level, ``alternative`` one of "two-sided", "larger", "smaller"), and agree with ppi_py 0.2.3
to 1e-6 (tests/stats/test_ppi.py; for the means, with ``small_sample=False``). Where ppi_py returns only limits, these return a
:class:`PPIEstimate` (or :class:`PPICoefficients`): the estimate and interval, the ``lam``
used, the classical (human-only) estimate and interval, the naive judge-only estimate, and
``n_eff``. Nothing here is random (no bootstrap, no sampling), so nothing takes a seed;
the random choice of which units people label is the caller's, and must be uniform (PPI
assumes the labelled units are a simple random sample of all units).

**Small labelled sets.** ppi_py's intervals, and the papers', are normal (Wald) intervals
with population variances (divisor ``n``): valid as ``n`` grows, short of the level asked
with few labels, as the classical z interval is. The mean, paired difference and win rate
here (and their cross-fitted forms) take ``small_sample=True`` by default: sample variances,
the labelled part's with divisor ``n - 2`` when ``lam`` is tuned (one more parameter
estimated, as in the survey regression estimator, Cochran 1977, chapter 7), and a Student t
quantile with Welch-Satterthwaite degrees of freedom (``_ppi.small_sample_se``). With
``lam = 0`` this is the Student t interval, exact for normal scores; as ``n`` grows it becomes
ppi_py's interval (with ``lam`` tuned and ``N`` large, 4.7% wider at n = 50, 2.3% at 100, 0.6%
at 400). Against the human-only t interval a useless judge costs at most the degree of
freedom spent on ``lam``: 1.1% of width at n = 50, 0.5% at 100.

It is the default because the validation of #17 asks for 94% coverage from n = 50, which
the normal interval missed: with a biased simulated judge (slope 0.7, bias 0.8, N = 1,000,
4,000 repetitions) the normal PPI++ interval covered 87.8% at n = 10, 91.6% at 20, 93.9% at
50 and 93.7% at 100, the small-sample one 95.0%, 94.5%, 95.0% and 94.2%
(``benchmarks/bench_ppi.py``); on PandaLM's and HANNA's published judges it adds 0.5 to 1.5
points at n = 50 (``benchmarks/validate_ppi.py``, tables in ``benchmarks/README.md``, "PPI++
coverage"). No small-sample interval mends a rare binary outcome: with about five events
among the labels (a 10% rate, n = 50) PPI++ and human-only intervals alike cover about 90%.
``small_sample=False`` gives ppi_py's interval exactly. Coefficients (:func:`logistic`,
:func:`bradley_terry`) keep the papers' normal sandwich interval.

**Where ppi_py 0.2.3 differs.** Its tuned ``ppi_mean_ci`` drops ``alternative`` (a one-sided
request gets a two-sided interval); ``ppi_mean_pval`` tunes ``lam`` without clipping it;
``ppi_logistic_pointestimate`` with ``lam=None`` stops one tuning step before the centre of
``ppi_logistic_ci``. Here one-sided intervals are one-sided, ``lam`` is always clipped to
[0, 1], and the estimate is the interval's centre.

**Active sampling.** When the labelled units were drawn with unequal probabilities, chosen
from the judge's uncertainty (``assay campaign create --select active``; Zrnic and Candès,
"Active statistical inference", ICML 2024), :func:`active_mean` and
:func:`active_paired_difference` weight each label by one over its probability; with equal
probabilities they give PPI++'s estimate exactly. The derivation of their ``lam`` and interval is
in :mod:`assay.stats._active`.

**Effective number of human labels.** A human-only mean from ``m`` labels has variance
:math:`\sigma_Y^2/m`. Setting it equal to the PPI++ variance :math:`V` gives
:math:`m = \sigma_Y^2 / V`; with the plug-in estimates, ``n_eff = n * classical_se**2 / se**2``,
so ``n_eff - n`` is how many extra human labels the judge's ``N`` verdicts were worth. For
coefficients the same ratio is taken per coefficient, from the classical sandwich variance.
This is the "effective sample size" that Boyeau et al. (2024, Fig. 1) report; the
derivation above is ours. It is an estimate (a ratio of two estimated variances), not a
guarantee, and like the intervals it is asymptotic.

**How the command line uses this** (:mod:`assay.analysis.assisted`): ``assay abtest A B --rubric R --judge J``
takes every prompt both models answered, the people's scores of both on the prompts they rated
and the judge's scores of both on all of them, and calls :func:`paired_difference` (and
:func:`win_rate` on pairwise comparisons); it shows ``classical_interval`` (people only),
``naive_estimate`` (marked biased), the PPI++ interval and ``n_eff - n`` ("the judge's
verdicts were worth k extra human labels"). The report, the gate's non-inferiority check and
``assay abtest plan --judge J --human-budget N`` use the same module. ``assay rank --judge J``
calls :func:`bradley_terry` on the units (an item and a pair of models) people and the judge
both rated, beside the judge's alone (:mod:`assay.analysis.judge_assisted`). When the judge set-up
was chosen or tuned on the same human labels (``assay judge-tune``), the ``cross_`` variants
take each fold's predictions (Zrnic and Candès, "Cross-prediction-powered inference", PNAS 2024).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from assay.stats import _bt
from assay.stats._active import active_estimate, check_design
from assay.stats._ppi import (
    PPICoefficients,
    PPIEstimate,
    check_alpha,
    check_alternative,
    check_lam,
    in_unit_interval,
    logistic_estimate,
    mean_estimate,
    same_length,
    vector,
)

__all__ = [
    "PPICoefficients",
    "PPIEstimate",
    "active_mean",
    "active_paired_difference",
    "bradley_terry",
    "cross_bradley_terry",
    "cross_logistic",
    "cross_mean",
    "cross_paired_difference",
    "cross_win_rate",
    "logistic",
    "mean",
    "paired_difference",
    "win_rate",
]


def _options(alpha: float, lam: float | None, alternative: str) -> tuple[float, float | None, str]:
    return check_alpha(alpha), check_lam(lam), check_alternative(alternative)


def mean(y, yhat, yhat_unlabeled, *, alpha: float = 0.05, lam: float | None = None,  # noqa: ANN001
         alternative: str = "two-sided", small_sample: bool = True) -> PPIEstimate:
    r"""PPI++ estimate and interval of the mean of a score, from human labels on some units and a judge on all.

    ``y`` and ``yhat`` are the human and judge scores of the ``n`` labelled units, in the same
    order; ``yhat_unlabeled`` the judge's scores of the ``N`` other units. ``lam=None`` tunes
    ``lam`` from the data (PPI++, power-tuning section:
    :math:`\hat\lambda = \widehat{\mathrm{Cov}}(Y, f) / ((1 + n/N)\,\widehat{\mathrm{Var}}(f))`,
    the covariance over the labelled units with divisor ``n``, the variance over all ``n + N``
    judge scores with divisor ``n + N - 1``, clipped to [0, 1] as ppi_py does); ``lam=1`` is
    plain PPI (Angelopoulos et al. 2023), ``lam=0`` the classical interval from ``y`` alone.
    ``small_sample=True`` (the default) gives sample variances and a Student t quantile (see
    the module's "Small labelled sets"); ``small_sample=False`` ppi_py's interval, with
    population standard deviations (divisor ``n``) and the normal quantile.

    >>> y = [1, 0, 1, 1, 0, 1, 1, 0]
    >>> yhat = [1, 0, 1, 1, 1, 1, 1, 0]
    >>> r = mean(y, yhat, [1, 1, 0, 1, 1, 0, 1, 1, 1, 0] * 10, lam=1)
    >>> # 0.7 (judge on unlabelled) + 5/8 - 6/8 (its error on labelled); naive (6 + 70) / 108
    >>> round(r.estimate, 4), round(r.naive_estimate, 4), r.method
    (0.575, 0.7037, 'ppi')
    >>> r.classical_estimate == 5 / 8
    True
    """
    alpha, lam, alternative = _options(alpha, lam, alternative)
    y, yhat = vector(y, "y", min_len=2), vector(yhat, "yhat", min_len=2)
    yhat_unlabeled = vector(yhat_unlabeled, "yhat_unlabeled")
    same_length(y=y, yhat=yhat)
    return mean_estimate(y, yhat, yhat_unlabeled, lam, alpha, alternative, small_sample=small_sample)


def paired_difference(y_a, y_b, yhat_a, yhat_b, yhat_a_unlabeled, yhat_b_unlabeled, *,  # noqa: ANN001
                      alpha: float = 0.05, lam: float | None = None,
                      alternative: str = "two-sided", small_sample: bool = True) -> PPIEstimate:
    r"""The A/B test: PPI++ estimate and interval of mean score of A minus mean score of B on the same units.

    ``y_a``, ``y_b``: human scores of both models' answers on the ``n`` labelled units;
    ``yhat_a``, ``yhat_b``: the judge's scores of the same answers; ``yhat_a_unlabeled``,
    ``yhat_b_unlabeled``: the judge's scores of both models on the ``N`` other units. All
    arrays of a set are aligned by unit. ``alternative="larger"`` gives the lower bound for
    "A is better".

    This is :func:`mean` of the per-unit difference :math:`D = Y_A - Y_B` with judge
    prediction :math:`\hat D = f_A - f_B`: the difference of means is the M-estimator with
    gradient :math:`\theta - D` (PPI++'s mean example), so PPI++ applies unchanged. We pair by unit rather
    than taking two separate PPI means because (1) the two means are correlated through the
    units (a hard prompt lowers both), and two separate intervals ignore that covariance;
    (2) the judge's per-unit bias shared by both answers (a lenient day, a prompt it
    over-rates) cancels in :math:`\hat D`, so the judge predicts the difference better than
    it predicts either score; (3) one ``lam`` tuned for :math:`D` minimises the variance of the
    difference, whereas two ``lam`` each tuned for one model's mean need not. It requires
    human labels for both models on the same units, which a paired campaign gives.

    >>> r = paired_difference([3, 4, 5, 2], [2, 4, 3, 2], [3, 4, 4, 2], [2, 3, 3, 2],
    ...                       [4, 3, 5, 2, 4], [3, 3, 4, 2, 2], lam=1)
    >>> # differences: human [1, 0, 2, 0], judge [1, 1, 1, 0], judge unlabelled [1, 0, 1, 0, 2]
    >>> round(r.estimate, 4), round(r.classical_estimate, 4)   # 0.8 + 0.75 - 0.75
    (0.8, 0.75)
    """
    alpha, lam, alternative = _options(alpha, lam, alternative)
    arrays = {"y_a": y_a, "y_b": y_b, "yhat_a": yhat_a, "yhat_b": yhat_b}
    v = {k: vector(x, k, min_len=2) for k, x in arrays.items()}
    same_length(**v)
    ua, ub = vector(yhat_a_unlabeled, "yhat_a_unlabeled"), vector(yhat_b_unlabeled, "yhat_b_unlabeled")
    same_length(yhat_a_unlabeled=ua, yhat_b_unlabeled=ub)
    return mean_estimate(v["y_a"] - v["y_b"], v["yhat_a"] - v["yhat_b"], ua - ub, lam, alpha, alternative,
                         small_sample=small_sample)


def win_rate(y, yhat, yhat_unlabeled, *, alpha: float = 0.05, lam: float | None = None,  # noqa: ANN001
             alternative: str = "two-sided", small_sample: bool = True) -> PPIEstimate:
    """PPI++ estimate and interval of a win rate against a baseline (a tie counting half).

    Each unit is one comparison of the model with the baseline: ``y`` the human verdicts
    (1 won, 0.5 tie, 0 lost, or the share of raters preferring the model), ``yhat`` the
    judge's verdicts on the same units (the same values, or its probability that the model
    is preferred, as a soft judge gives), ``yhat_unlabeled`` the judge's verdicts on the
    others. A win rate is the mean of these outcomes (AlpacaEval's hard and soft win rates,
    :mod:`assay.stats.winrate`), so this is :func:`mean` with the values checked to lie in
    [0, 1]; Boyeau et al. (2024, Fig. 1) estimate Chatbot Arena win rates this way.

    >>> r = win_rate([1, 0, 0.5, 1], [1, 0, 1, 1], [1, 0.5, 1, 0, 1], lam=1)
    >>> round(r.estimate, 4), r.n, r.n_unlabeled   # 3.5/5 + 2.5/4 - 3/4
    (0.575, 4, 5)
    """
    alpha, lam, alternative = _options(alpha, lam, alternative)
    y, yhat = vector(y, "y", min_len=2), vector(yhat, "yhat", min_len=2)
    yhat_unlabeled = vector(yhat_unlabeled, "yhat_unlabeled")
    same_length(y=y, yhat=yhat)
    for arr, name in ((y, "y"), (yhat, "yhat"), (yhat_unlabeled, "yhat_unlabeled")):
        in_unit_interval(arr, name)
    return mean_estimate(y, yhat, yhat_unlabeled, lam, alpha, alternative, small_sample=small_sample)


def logistic(x, y, yhat, x_unlabeled, yhat_unlabeled, *, alpha: float = 0.05,  # noqa: ANN001
             lam: float | None = None, alternative: str = "two-sided") -> PPICoefficients:
    r"""PPI++ logistic-regression coefficients and intervals (ppi_py's ``ppi_logistic_ci``).

    ``x`` (n x d) and ``x_unlabeled`` (N x d) are covariates (no intercept is added);
    ``y`` the human outcomes in [0, 1], ``yhat`` and ``yhat_unlabeled`` the judge's (0/1 or
    probabilities). The estimate minimises PPI++'s rectified loss :math:`L^{PP}_\lambda`,

    .. math:: \frac{\lambda}{N}\sum_j \ell_\theta(\tilde x_j, \tilde f_j)
              + \frac1n\sum_i \big(\ell_\theta(x_i, y_i) - \lambda\,\ell_\theta(x_i, f_i)\big),

    :math:`\ell_\theta(x, y) = \log(1 + e^{x^\top\theta}) - y\,x^\top\theta`, solved by damped
    Newton steps (``assay.stats._bt``). The covariance is PPI++'s sandwich
    :math:`H^{-1}(\tfrac nN \widehat{\mathrm{Var}}(\lambda\hat g^u) + \widehat{\mathrm{Var}}(g -
    \lambda \hat g))H^{-1}/n` with per-unit gradients :math:`g = x(\sigma(x^\top\theta) - y)`
    (:math:`\hat g` with the judge's outcome) and :math:`H` the mean of
    :math:`\sigma'(x^\top\theta)\,xx^\top` over all ``n + N`` units (labelled only when
    ``lam = 0``). ``lam=None`` tunes one ``lam`` minimising the trace of that covariance (PPI++
    power-tuning section), computed, as ppi_py does, at the PPI fit, then once more at the
    refitted estimate; the final estimate uses the second value. That is the centre of
    ``ppi_logistic_ci``'s interval; ppi_py's ``ppi_logistic_pointestimate`` with ``lam=None``
    stops after the first value, so it can differ from that centre (by 0.01 on 3 coefficients,
    n = 100, N = 2,000 in our checks).
    """
    alpha, lam, alternative = _options(alpha, lam, alternative)
    x, xu = vector(x, "x", ndim=2, min_len=2), vector(x_unlabeled, "x_unlabeled", ndim=2, min_len=2)
    y, yhat = vector(y, "y"), vector(yhat, "yhat")
    yhatu = vector(yhat_unlabeled, "yhat_unlabeled")
    same_length(x=x, y=y, yhat=yhat)
    same_length(x_unlabeled=xu, yhat_unlabeled=yhatu)
    if x.shape[1] != xu.shape[1]:
        raise ValueError(f"x and x_unlabeled must have the same columns, got {x.shape[1]} and {xu.shape[1]}")
    for arr, name in ((y, "y"), (yhat, "yhat"), (yhatu, "yhat_unlabeled")):
        in_unit_interval(arr, name)
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise ValueError("x (the labelled units' covariates) is rank deficient: a coefficient is not identified")
    return logistic_estimate(x, y, yhat, xu, yhatu, lam, alpha, alternative)


def _pair_array(pairs, name: str) -> np.ndarray:  # noqa: ANN001
    """An n x 2 object array of (model_a, model_b) from pairs, an n x 2 array or a two-column DataFrame."""
    arr = np.asarray(pairs, dtype=object) if len(pairs) else np.empty((0, 2), dtype=object)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must be a sequence of (model_a, model_b) pairs, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    return arr


def _bt_design(arr: np.ndarray, name: str, index: dict, reference):  # noqa: ANN001, ANN202
    """Rows +1 for the first model, -1 for the second, without the reference model's column; and the model indices."""
    try:
        a = np.array([index[m] for m in arr[:, 0]])
        b = np.array([index[m] for m in arr[:, 1]])
    except KeyError as exc:
        raise ValueError(f"{name} names model {exc.args[0]!r}, which is not in models") from None
    if (a == b).any():
        raise ValueError(f"{name} has a comparison of a model with itself")
    m = len(index)
    x = np.zeros((len(a), m))
    x[np.arange(len(a)), a] = 1.0
    x[np.arange(len(a)), b] = -1.0
    return np.delete(x, index[reference], axis=1), a, b


def _bt_inputs(pairs, y, yhat, pairs_unlabeled, yhat_unlabeled: np.ndarray, models, reference):  # noqa: ANN001, ANN202
    """Designs, checked labels and the model order; ``yhat_unlabeled`` is already an array (N or N x K)."""
    pairs, pairs_unlabeled = _pair_array(pairs, "pairs"), _pair_array(pairs_unlabeled, "pairs_unlabeled")
    if models is None:  # in order of first appearance
        models = list(dict.fromkeys(np.concatenate([pairs, pairs_unlabeled]).ravel().tolist()))
    models = list(models)
    if len(set(models)) != len(models):
        raise ValueError("models has duplicate names")
    if len(models) < 2:
        raise ValueError(f"models needs at least two models, got {models!r}")
    reference = models[0] if reference is None else reference
    if reference not in models:
        raise ValueError(f"reference {reference!r} is not one of the models")
    index = {mdl: i for i, mdl in enumerate(models)}
    x, a_idx, b_idx = _bt_design(pairs, "pairs", index, reference)
    xu, ua, ub = _bt_design(pairs_unlabeled, "pairs_unlabeled", index, reference)
    y, yhat = vector(y, "y"), vector(yhat, "yhat")
    same_length(pairs=x, y=y, yhat=yhat)
    same_length(pairs_unlabeled=xu, yhat_unlabeled=yhat_unlabeled)
    for arr, name in ((y, "y"), (yhat, "yhat"), (yhat_unlabeled, "yhat_unlabeled")):
        in_unit_interval(arr, name)
    # The human-only (classical) fit needs finite ratings: every model must beat and lose within the labels.
    wins = np.zeros((len(models), len(models)))
    np.add.at(wins, (a_idx, b_idx), y)
    np.add.at(wins, (b_idx, a_idx), 1 - y)
    if not _bt.mle_exists(wins):
        raise ValueError("y: the human-labelled comparisons leave some group of models unbeaten (or never "
                         "winning) against the rest, so human-only Bradley-Terry ratings are infinite; "
                         "label more comparisons")
    # The judge-only (naive) fit needs the same of the judge's verdicts on all units.
    fu = yhat_unlabeled if yhat_unlabeled.ndim == 1 else yhat_unlabeled.mean(axis=1)
    judge = np.zeros_like(wins)
    np.add.at(judge, (np.r_[a_idx, ua], np.r_[b_idx, ub]), np.r_[yhat, fu])
    np.add.at(judge, (np.r_[b_idx, ub], np.r_[a_idx, ua]), 1 - np.r_[yhat, fu])
    naive = _bt.mle_exists(judge)
    if not naive:
        warnings.warn("the judge's verdicts leave some group of models unbeaten (or never winning): the "
                      "judge-only Bradley-Terry ratings are infinite, naive_estimate is NaN", RuntimeWarning,
                      stacklevel=3)
    return x, y, yhat, xu, models, reference, index, naive


def _with_reference(res: PPICoefficients, models: list, ref_col: int) -> PPICoefficients:
    """Insert the reference model's fixed coefficient 0 (interval [0, 0], se 0)."""
    def put(a: np.ndarray) -> np.ndarray:
        return np.insert(np.asarray(a, dtype=float), ref_col, 0.0)

    return PPICoefficients(put(res.estimate), put(res.low), put(res.high), put(res.se), res.lam,
                           put(res.classical_estimate), put(res.classical_low), put(res.classical_high),
                           put(res.classical_se), put(res.naive_estimate), res.n, res.n_unlabeled, res.alpha,
                           res.alternative, res.method, tuple(models))


def bradley_terry(pairs, y, yhat, pairs_unlabeled, yhat_unlabeled, *,  # noqa: ANN001
                  models: Sequence | None = None, reference=None, alpha: float = 0.05,  # noqa: ANN001
                  lam: float | None = None, alternative: str = "two-sided") -> PPICoefficients:
    r"""PPI++ Bradley-Terry coefficients (natural-log odds units) from human and judge pairwise verdicts.

    ``pairs`` lists the labelled comparisons as ``(model_a, model_b)``; ``y`` the human
    verdicts (1 model_a preferred, 0.5 tie, 0 model_b preferred), ``yhat`` the judge's on the
    same comparisons (or its probability that model_a is preferred); ``pairs_unlabeled`` and
    ``yhat_unlabeled`` the comparisons only the judge saw. Bradley-Terry says
    :math:`P(a \succ b) = \sigma(\beta_a - \beta_b)`, a logistic regression on a design row with
    +1 in a's column and -1 in b's (Boyeau et al. 2024, the Bradley-Terry section), which is
    fitted by :func:`logistic`. ``reference`` (default: the first of ``models``, else the first
    model seen) is fixed at 0; ties count as half a win each way, the Chatbot Arena convention.
    Arrays in the result follow ``models`` (``result.names``). Multiply by ``400 / ln 10`` for
    the Elo-like scale of :mod:`assay.stats.ranking`. Intervals are per coefficient, with no
    correction for multiplicity. When the judge's verdicts alone have no finite Bradley-Terry
    fit (a model it never lets lose), ``naive_estimate`` is NaN, with a warning.

    In each round of six human verdicts below, a wins 3 of its 4 comparisons, b 2 and c 1:
    the human-only ratings are 0, -d, -2d with sigmoid(d) + sigmoid(2d) = 3/2, d = 0.7563.

    >>> pairs = [("a", "b"), ("b", "c"), ("c", "a"), ("a", "c"), ("b", "a"), ("c", "b")] * 5
    >>> y = [1, 1, 0, 1, 1, 1] * 5
    >>> yhat = [1, 1, 0, 1, 0, 0] * 5
    >>> pu = [("a", "b"), ("b", "c"), ("a", "c")] * 20
    >>> r = bradley_terry(pairs, y, yhat, pu, [0.9, 0.6, 0.8] * 20)
    >>> r.names, r.classical_estimate.round(4).tolist()
    (('a', 'b', 'c'), [0.0, -0.7563, -1.5126])
    >>> r.lam, r.method   # this judge's errors are not worth using: PPI++ falls back to the humans
    (0.0, 'ppi++')
    """
    alpha, lam, alternative = _options(alpha, lam, alternative)
    yu = vector(yhat_unlabeled, "yhat_unlabeled")
    x, y, yhat, xu, models, reference, index, naive = _bt_inputs(pairs, y, yhat, pairs_unlabeled, yu, models,
                                                                 reference)
    res = logistic_estimate(x, y, yhat, xu, yu, lam, alpha, alternative, naive=naive)
    return _with_reference(res, models, index[reference])


# --- active inference: humans on units drawn with unequal probabilities -------------------


def active_mean(y, yhat, labelled, pi, *, alpha: float = 0.05, lam: float | None = None,  # noqa: ANN001
                alternative: str = "two-sided", small_sample: bool = True,
                weighting: str = "hajek") -> PPIEstimate:
    r"""Active-inference estimate and interval of a mean, when unit i was labelled with probability ``pi[i]``.

    Zrnic and Candès, "Active statistical inference" (ICML 2024): every argument has one
    entry per unit of the population (``N`` of them, labelled or not). ``yhat``: the judge's
    scores; ``labelled``: booleans, True where a person labelled the unit, drawn independently
    with probabilities ``pi`` (Poisson sampling, as ``assay campaign create --select active``
    draws); ``y``: the human labels, read only where ``labelled`` (NaN elsewhere is fine). The
    estimate is :math:`\lambda\bar f_N + \hat r`, the judge's mean plus the inverse-probability
    weighted (Hajek) mean of the residual :math:`Y - \lambda f` over the labelled units;
    ``weighting="horvitz-thompson"`` gives Zrnic and Candès's form
    :math:`\frac1N\sum_i(\lambda f_i + (Y_i - \lambda f_i)\xi_i/\pi_i)`. ``lam=None`` tunes
    ``lam`` to minimise the variance (the derivation and the interval are in
    :mod:`assay.stats._active`), clipped to [0, 1].

    The result is a :class:`PPIEstimate`: ``classical_*`` is the human-only inverse-probability
    estimate, the same weighting with ``lam = 0`` (Hajek: :math:`\sum \xi Y/\pi / \sum \xi/\pi`);
    ``naive_estimate`` the judge's mean over all units; ``n`` the labels used, ``n_unlabeled``
    the other units, ``n_eff = n * classical_se**2 / se**2`` as for PPI++.

    With every ``pi`` equal (a uniform draw) the Hajek estimate is PPI++'s: writing
    :math:`m` for the labels and :math:`\bar f_u` for the judge's mean on the others,
    :math:`\lambda\bar f_N + \bar Y_m - \lambda\bar f_m = \bar Y_m + \lambda(1 - m/N)(\bar f_u - \bar f_m)`,
    which is :func:`mean` with ``lam`` times ``1 - m/N``; the tuned ``lam`` is then the labelled
    covariance of ``y`` and ``yhat`` over the variance of ``yhat`` on all units, PPI++'s tuned
    value divided by ``1 - m/N``, so tuned and tuned agree too (unless clipping bites). The
    inverse-probability weights are what let unequal ``pi`` keep this unbiased.

    >>> y = [4, 2, None, None, 5, None]   # labels on units 0, 1 and 4
    >>> f = [3, 3, 4, 2, 4, 3]
    >>> lab = [True, True, False, False, True, False]
    >>> pi = [0.5, 0.25, 0.5, 0.25, 1.0, 0.5]
    >>> r = active_mean([float("nan") if v is None else v for v in y], f, lab, pi, lam=1)
    >>> # weights 2, 4, 1 on residuals 1, -1, 1: shift -1/7; judge's mean 19/6
    >>> round(r.estimate, 6), round(19 / 6 - 1 / 7, 6), round(r.classical_estimate, 6)   # (8 + 8 + 5) / 7
    (3.02381, 3.02381, 3.0)
    """
    alpha, lam, alternative = _options(alpha, lam, alternative)
    y, f, lab, p = check_design(y, yhat, labelled, pi, ("y", "yhat", "labelled", "pi"))
    return active_estimate(y, f, lab, p, lam, alpha, alternative, weighting=weighting, small_sample=small_sample)


def active_paired_difference(y_a, y_b, yhat_a, yhat_b, labelled, pi, *, alpha: float = 0.05,  # noqa: ANN001
                             lam: float | None = None, alternative: str = "two-sided",
                             small_sample: bool = True, weighting: str = "hajek") -> PPIEstimate:
    """The A/B test under active sampling: mean score of A minus mean score of B over all units.

    One entry per unit (an item both models answered): ``y_a``, ``y_b`` the human scores of
    both answers (read where ``labelled``), ``yhat_a``, ``yhat_b`` the judge's, ``labelled`` and
    ``pi`` as in :func:`active_mean`. A unit is labelled with both answers (``assay campaign
    create --select active`` selects an item with all its responses), so this is
    :func:`active_mean` of the per-unit difference with the judge's difference as its
    prediction, for the reasons :func:`paired_difference` gives.

    >>> r = active_paired_difference([3, 4, 0, 2], [2, 4, 0, 2], [3, 4, 4, 2], [2, 3, 3, 2],
    ...                              [True, True, False, True], [0.5, 0.5, 0.5, 1.0], lam=0)
    >>> # human differences 1, 0 (weight 2 each) and 0 (weight 1): 2 / 5
    >>> round(r.estimate, 6), r.n, r.n_unlabeled
    (0.4, 3, 1)
    """
    alpha, lam, alternative = _options(alpha, lam, alternative)
    names = ("y_a", "yhat_a", "labelled", "pi")
    ya, fa, lab, p = check_design(y_a, yhat_a, labelled, pi, names)
    yb, fb, _, _ = check_design(y_b, yhat_b, labelled, pi, ("y_b", "yhat_b", "labelled", "pi"))
    return active_estimate(ya - yb, fa - fb, lab, p, lam, alpha, alternative, weighting=weighting,
                           small_sample=small_sample)


# --- cross-fitted variants ---------------------------------------------------------------


def _folds(yhat_unlabeled, name: str) -> np.ndarray:  # noqa: ANN001
    arr = vector(yhat_unlabeled, name, ndim=2)
    if arr.shape[1] < 1:
        raise ValueError(f"{name} needs one column per fold, got none")
    return arr


def cross_mean(y, yhat, yhat_unlabeled, *, alpha: float = 0.05,  # noqa: ANN001
               alternative: str = "two-sided", small_sample: bool = True) -> PPIEstimate:
    r"""Cross-prediction-powered mean (ppi_py's ``crossppi_mean_ci``), for a judge tuned on the same labels.

    Zrnic and Candès, "Cross-prediction-powered inference" (PNAS 121, 2024): the labelled
    units are split into K folds and the judge is tuned K times, each time without one fold.
    ``yhat[i]`` is the score of the judge tuned without unit i's fold; ``yhat_unlabeled`` is
    N x K, column k the scores of the judge tuned without fold k. The estimate is
    :math:`\frac1N\sum_j \frac1K\sum_k f^{(k)}(\tilde X_j) + \frac1n\sum_i (Y_i - f^{(k_i)}(X_i))`
    with variance :math:`\hat\sigma^2_{\bar f}/N + \hat\sigma^2_{Y - f}/n`: PPI with ``lam = 1`` on
    the fold-averaged predictions. There is no power tuning, as in the paper. With
    ``small_sample=False`` the variances are population variances and the interval normal, as
    ppi_py's (which takes no bootstrap data by default); by default, sample variances and a
    Student t quantile (the module's "Small labelled sets"; ``lam`` is given, so ``n - 1``).
    """
    alpha, _, alternative = _options(alpha, None, alternative)
    y, yhat = vector(y, "y", min_len=2), vector(yhat, "yhat", min_len=2)
    same_length(y=y, yhat=yhat)
    yu = _folds(yhat_unlabeled, "yhat_unlabeled")
    return mean_estimate(y, yhat, yu.mean(axis=1), 1.0, alpha, alternative, method="cross-ppi",
                         small_sample=small_sample)


def cross_paired_difference(y_a, y_b, yhat_a, yhat_b, yhat_a_unlabeled, yhat_b_unlabeled, *,  # noqa: ANN001
                            alpha: float = 0.05, alternative: str = "two-sided",
                            small_sample: bool = True) -> PPIEstimate:
    """:func:`paired_difference` with cross-fitted judge scores (``*_unlabeled`` are N x K), see :func:`cross_mean`."""
    alpha, _, alternative = _options(alpha, None, alternative)
    v = {k: vector(x, k, min_len=2) for k, x in
         {"y_a": y_a, "y_b": y_b, "yhat_a": yhat_a, "yhat_b": yhat_b}.items()}
    same_length(**v)
    ua, ub = _folds(yhat_a_unlabeled, "yhat_a_unlabeled"), _folds(yhat_b_unlabeled, "yhat_b_unlabeled")
    if ua.shape != ub.shape:
        raise ValueError(f"yhat_a_unlabeled and yhat_b_unlabeled must have the same shape, got {ua.shape} "
                         f"and {ub.shape}")
    return cross_mean(v["y_a"] - v["y_b"], v["yhat_a"] - v["yhat_b"], ua - ub, alpha=alpha,
                      alternative=alternative, small_sample=small_sample)


def cross_win_rate(y, yhat, yhat_unlabeled, *, alpha: float = 0.05,  # noqa: ANN001
                   alternative: str = "two-sided", small_sample: bool = True) -> PPIEstimate:
    """:func:`win_rate` with cross-fitted judge verdicts (``yhat_unlabeled`` is N x K), see :func:`cross_mean`."""
    y, yhat, yu = vector(y, "y", min_len=2), vector(yhat, "yhat", min_len=2), _folds(yhat_unlabeled,
                                                                                     "yhat_unlabeled")
    for arr, name in ((y, "y"), (yhat, "yhat"), (yu, "yhat_unlabeled")):
        in_unit_interval(arr, name)
    return cross_mean(y, yhat, yu, alpha=alpha, alternative=alternative, small_sample=small_sample)


def cross_logistic(x, y, yhat, x_unlabeled, yhat_unlabeled, *, alpha: float = 0.05,  # noqa: ANN001
                   alternative: str = "two-sided") -> PPICoefficients:
    """Cross-prediction-powered logistic regression (ppi_py's ``crossppi_logistic_ci``).

    ``yhat_unlabeled`` is N x K, one column per fold (see :func:`cross_mean`); the estimate
    and its covariance are those of :func:`logistic` with ``lam = 1`` on the fold-averaged
    predictions (Zrnic and Candès 2024, the M-estimation section; ppi_py's code does the same).
    """
    yu = _folds(yhat_unlabeled, "yhat_unlabeled")
    res = logistic(x, y, yhat, x_unlabeled, yu.mean(axis=1), alpha=alpha, lam=1.0, alternative=alternative)
    return replace(res, method="cross-ppi")


def cross_bradley_terry(pairs, y, yhat, pairs_unlabeled, yhat_unlabeled, *,  # noqa: ANN001
                        models: Sequence | None = None, reference=None, alpha: float = 0.05,  # noqa: ANN001
                        alternative: str = "two-sided") -> PPICoefficients:
    """:func:`bradley_terry` with cross-fitted judge verdicts (``yhat_unlabeled`` is N x K).

    See :func:`cross_logistic`: PPI with ``lam = 1`` on the fold-averaged verdicts.
    """
    alpha, _, alternative = _options(alpha, None, alternative)
    yu = _folds(yhat_unlabeled, "yhat_unlabeled")
    x, y, yhat, xu, models, reference, index, naive = _bt_inputs(pairs, y, yhat, pairs_unlabeled, yu, models,
                                                                 reference)
    res = logistic_estimate(x, y, yhat, xu, yu.mean(axis=1), 1.0, alpha, alternative, naive=naive,
                            method="cross-ppi")
    return _with_reference(res, models, index[reference])


