"""Planning and deciding with people and a judge: what a labelling budget buys, and non-inferiority for the gate.

Both read the store through :func:`assay.analysis.assisted.assisted_scores` (the judge's
scores on every prompt, people's on some) and use the PPI++ variance of
:mod:`assay.stats.ppi`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from assay.analysis.abtest import _check_adjust
from assay.analysis.assisted import _direction, assisted_scores
from assay.analysis.judge_assisted import JudgeAssist
from assay.analysis.options import Options, Selection
from assay.errors import BadInput
from assay.stats import abtest as AB
from assay.stats import ppi
from assay.store import Store

__all__ = ["Budgets", "assisted_non_inferiority", "ppi_plan"]


@dataclass(frozen=True)
class Budgets:
    """The labelling budgets :func:`ppi_plan` prices: ``sizes`` (numbers of human-labelled prompts)
    out of ``prompts`` in the study (None: the pilot's ``n + N``)."""

    sizes: Sequence[int]
    prompts: int | None = None


def _sides(sides: JudgeAssist, select: Selection) -> tuple[Sequence[str], Sequence[str], Selection]:
    """The judges, the people and the selection (``sides.campaign``, when set, is people's campaign)."""
    if sides.campaign is not None:
        select = replace(select, campaign=sides.campaign)
    return sides.judges or (), sides.humans, select


def ppi_plan(store: Store, model_a: str, model_b: str, *, sides: JudgeAssist, budgets: Budgets,
             select: Selection = Selection(), options: Options = Options(), pair_by: str = "auto") -> dict[str, Any]:
    r"""What precision a budget of human-labelled prompts buys, with the judge on every prompt, from a pilot.

    From the pilot (one dimension: the judge's scores on ``n + N`` prompts, people's on ``n``)
    we estimate :math:`\sigma^2_Y` (variance of the human difference B - A), :math:`\sigma^2_f`
    (of the judge's difference, over all prompts) and their covariance :math:`c` (over the
    labelled prompts). For a budget of ``m`` labelled prompts among ``M`` (``budgets.prompts``,
    default the pilot's ``n + N``), the PPI++ variance with the tuned
    :math:`\lambda^* = c / ((1 + m/(M-m))\,\sigma^2_f)` (clipped to [0, 1]) is

    .. math:: V(m) = \lambda^2\sigma^2_f/(M - m) + (\sigma^2_Y - 2\lambda c + \lambda^2\sigma^2_f)/m

    (the variance behind :func:`assay.stats.ppi.mean` with the pilot's moments in place of the
    study's), against :math:`\sigma^2_Y/m` for people alone. Each row gives the half-width of
    the ``options.confidence`` interval (normal quantile), the minimum detectable effect at
    ``options.power`` and ``options.alpha`` (:math:`(z_{1-\alpha/2} + z_{power})\sqrt V`, Miller
    2024 Sec. 5) and the effective number of human labels. A plan: the pilot's moments are
    estimates, and the planned width is as good as they are. ``sides`` names the judges and
    the people (:class:`~assay.analysis.judge_assisted.JudgeAssist`; its campaign, when set,
    is where people's scores come from).
    """
    from scipy import stats

    judges, humans, select = _sides(sides, select)
    scores, used = assisted_scores(store, model_a, model_b, judges=judges, humans=humans, select=select,
                                   pair_by=pair_by)
    if not scores:
        raise BadInput(f"the judge has no scores of both {model_a} and {model_b} on the same prompts")
    if len(scores) > 1:
        raise BadInput("the plan is for one dimension: give --dimension")
    s = scores[0]
    if s.y_a.size < 3:
        raise BadInput(f"the pilot has {s.y_a.size} prompt(s) with human scores of both models where the judge "
                       f"scored them too; at least 3 are needed to estimate the judge's error")
    y, f = s.y_b - s.y_a, s.yhat_b - s.yhat_a
    f_all = np.concatenate([f, s.u_b - s.u_a])
    var_y, var_f = float(y.var(ddof=1)), float(f_all.var(ddof=1))
    cov = float(np.cov(y, f, ddof=1)[0, 1])
    total = int(budgets.prompts if budgets.prompts is not None else f_all.size)
    z = stats.norm.ppf(1 - (1 - options.confidence) / 2)
    z_mde = stats.norm.ppf(1 - options.alpha / 2) + stats.norm.ppf(options.power)
    rows = []
    for m in budgets.sizes:
        if m < 2:
            raise BadInput(f"a budget of {m} human-labelled prompts is too small: at least 2")
        if m >= total:
            raise BadInput(f"a budget of {m} labels every one of the {total} prompts: nothing is left for the judge "
                           f"(give --prompts for a larger study)")
        lam = 0.0 if var_f == 0 else float(np.clip(cov / ((1 + m / (total - m)) * var_f), 0.0, 1.0))
        v = lam**2 * var_f / (total - m) + (var_y - 2 * lam * cov + lam**2 * var_f) / m
        v_h = var_y / m
        rows.append({"budget": int(m), "lam": lam, "half_width": float(z * np.sqrt(v)),
                     "human_half_width": float(z * np.sqrt(v_h)), "mde": float(z_mde * np.sqrt(v)),
                     "human_mde": float(z_mde * np.sqrt(v_h)), "n_eff": float(m * v_h / v) if v > 0 else float("inf")})
    return {"model_a": model_a, "model_b": model_b, "rubric": s.rubric, "dimension": s.dimension, "pair_by": used,
            "pilot": {"n": int(s.y_a.size), "N": int(s.u_a.size), "var_human": var_y, "var_judge": var_f,
                      "cov": cov, "corr": cov / np.sqrt(var_y * float(f.var(ddof=1)))
                      if var_y > 0 and f.var(ddof=1) > 0 else None},
            "prompts": total, "confidence": options.confidence, "alpha": options.alpha, "power": options.power,
            "table": rows}


def assisted_non_inferiority(store: Store, baseline: str, candidate: str, *, margin: float, sides: JudgeAssist,
                             select: Selection = Selection(), options: Options = Options(),
                             pair_by: str = "auto") -> dict[str, Any]:
    """Is ``candidate`` no worse than ``baseline`` by more than ``margin``, from people's scores on some prompts and the judge's on all?

    The gate's non-inferiority check with a judge: per dimension, the one-sided PPI++ lower
    bound of candidate minus baseline (in the better direction: on a lower-is-better dimension
    scores are negated) at level ``options.alpha``, and the Wald p-value of "the difference is
    at most -margin" (:meth:`assay.stats.ppi.PPIEstimate.p_value`), adjusted across dimensions
    by ``options.adjust``. A dimension is non-inferior when its adjusted p is below alpha. The
    people-only bound and the judge-only difference are given beside it. Dimensions people
    never scored are errors (not shown), as are those with fewer than 2 labelled prompts.
    ``sides`` names the judges and the people, as for :func:`ppi_plan`.
    """
    if baseline == candidate:
        raise BadInput("the baseline and the candidate are the same model")
    _check_adjust(options)
    judges, humans, select = _sides(sides, select)
    scores, used = assisted_scores(store, baseline, candidate, judges=judges, humans=humans, select=select,
                                   pair_by=pair_by)
    sections: list[dict[str, Any]] = []
    tested = []
    for s in scores:
        lower = _direction(store, s.rubric, s.dimension)
        sign = -1.0 if lower else 1.0
        sec: dict[str, Any] = {"rubric": s.rubric, "dimension": s.dimension, "n": int(s.y_a.size),
                               "N": int(s.u_a.size), "lower_is_better": lower}
        try:
            res = ppi.paired_difference(sign * s.y_b, sign * s.y_a, sign * s.yhat_b, sign * s.yhat_a, sign * s.u_b,
                                        sign * s.u_a, alpha=options.alpha, alternative="larger")
        except ValueError as e:
            sec["error"] = (f"{s.y_a.size} prompt(s) with people's scores of both models where the judge scored "
                            f"them too; PPI needs at least 2" if s.y_a.size < 2 else str(e))
            sections.append(sec)
            continue
        sec.update(difference=res.estimate, lower=res.low, se=res.se, lam=res.lam, pvalue=res.p_value(-margin),
                   human_difference=res.classical_estimate, human_lower=res.classical_low,
                   judge_difference=res.naive_estimate, n_eff=float(res.n_eff))
        sections.append(sec)
        tested.append(sec)
    if tested:
        for sec, p in zip(tested, AB.adjust_pvalues([s["pvalue"] for s in tested], method=options.adjust)):
            sec["p_adjusted"] = float(p)
            sec["non_inferior"] = bool(p < options.alpha)
    return {"baseline": baseline, "candidate": candidate, "margin": margin, "alpha": options.alpha,
            "adjust": options.adjust, "pair_by": used, "judges": list(judges), "humans": list(humans),
            "dimensions": sections, "non_inferior": bool(sections) and all(s.get("non_inferior") for s in sections)}
