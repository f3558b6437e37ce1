"""Judge-assisted A/B tests: a judge's scores on every prompt, people's on some, combined by PPI++.

``assay abtest A B --judge J`` reads the judge's scores of both models (a panel of several
``--judge`` raters is averaged, by :func:`assay.analysis.abtest.paired_scores`' rule) and the
human raters' scores on the same rubric, dimension and prompts. Per dimension, the prompts
people scored for both models are the labelled units (``n``); the prompts only the judge
scored are the unlabelled ones (``N``); prompts people scored but the judge did not are
counted and left out (PPI needs the judge's score on every labelled unit).
:func:`assay.stats.ppi.paired_difference` then gives the PPI++ estimate of B - A and its
interval, the human-only interval of the same ``n`` prompts, the judge-only difference over
all ``n + N`` prompts (biased by whatever bias the judge has), the tuning parameter and the
effective number of human labels the judge was worth (``n_eff - n``; see the ``stats.ppi``
module). PPI assumes the labelled prompts are a uniform random sample of all of them; a
campaign that chose its prompts by the judge's uncertainty (``--select active``) stores its
inclusion probabilities, and then the inverse-probability-weighted estimator of Zrnic and
Candès ("Active statistical inference", ICML 2024) is used instead.

Intervals here treat prompts as independent: unlike the plain A/B test they are not
cluster-robust, and the report says so when items carry cluster keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from assay import records as R
from assay.analysis.abtest import _check_adjust, paired_scores
from assay.analysis.options import Options, Selection
from assay.errors import BadInput, NotFound
from assay.stats import abtest as AB
from assay.stats import ppi
from assay.store import Store

__all__ = ["Assist", "AssistedScores", "JudgeAB", "assisted_preferences", "assisted_report", "assisted_scores",
           "human_raters", "subsample", "worth_line"]

KEYS = ["rubric", "dimension", "key"]


@dataclass(frozen=True)
class AssistedScores:
    """One dimension's scores for PPI: labelled prompts (human and judge), judge-only prompts, and counts."""

    rubric: str
    dimension: str
    y_a: np.ndarray
    """Human scores of A on the labelled prompts (mean over raters, then samples)."""
    y_b: np.ndarray
    yhat_a: np.ndarray
    """The judge's scores of A on the same prompts, in the same order."""
    yhat_b: np.ndarray
    u_a: np.ndarray
    """The judge's scores of A on the prompts no person scored."""
    u_b: np.ndarray
    keys: np.ndarray
    """Prompt keys of the labelled prompts."""
    unlabelled_keys: np.ndarray
    human_only: int
    """Prompts people scored for both models that the judge did not: left out."""
    has_cluster: bool


@dataclass(frozen=True)
class JudgeAB:
    """A judge-assisted A/B test for the report: B against A, the judge's raters, and optionally a budget to simulate."""

    model_a: str
    model_b: str
    judges: tuple[str, ...]
    rubric: str | None = None
    human_sample: int | None = None
    """Keep people's labels on this many prompts (or items), as :class:`Assist`'s ``human_sample``."""


@dataclass(frozen=True, eq=False)
class Assist:
    """How :func:`assisted_report` pairs, weights, subsamples and calibrates (the defaults: none of it).

    ``pair_by``: what a prompt is ("auto", "item", ...; as ``assay abtest``'s ``--pair-by``).
    ``weights`` (prompt key to inclusion probability) switches to the active-sampling estimator.
    ``human_sample`` keeps people's scores on that many labelled prompts per dimension (drawn
    with ``options.random_state``; :func:`subsample`) and adds each dimension's people-only
    figure on all of them as ``all_people``: what a smaller labelling budget would have given.
    With ``preferences``, the two sides' pairwise comparisons of A and B give B's win rate by
    :func:`assisted_preferences`. ``calibrate`` (a number of folds) maps the judge's scores onto
    people's scale first (:func:`calibrated`, cross-fitted) and uses the cross-prediction-powered
    interval (no power tuning: ``lam`` is 1).
    """

    pair_by: str = "auto"
    weights: pd.Series | None = None
    human_sample: int | None = None
    preferences: bool = True
    calibrate: int | None = None


def human_raters(store: Store, refs: Sequence[str] | None, kind: str, judges: Sequence[str]) -> list[str]:
    """The human side: the raters named in ``refs`` (ids, names or id prefixes), else every rater of ``kind``; never a judge."""
    raters = store.list("raters")
    if refs:
        picked: dict[str, R.Rater] = {}
        for ref in refs:
            hits = [r for r in raters if r.id == ref or r.name == ref or r.id.startswith(ref)]
            if not hits:
                raise BadInput(f"no rater matches --human {ref!r}")
            picked.update({r.id: r for r in hits})
        chosen = list(picked)
    else:
        chosen = [r.id for r in raters if r.kind == kind]
    both = sorted(set(chosen) & set(judges))
    if both and refs:
        raise BadInput(f"{', '.join(both)} cannot be both the judge and the human side")
    return [r for r in chosen if r not in set(judges)]


def assisted_scores(store: Store, model_a: str, model_b: str, *, judges: Sequence[str], humans: Sequence[str],
                    select: Selection = Selection(), pair_by: str = "auto") -> tuple[list[AssistedScores], str]:
    """Per (rubric, dimension): the judge's and the humans' paired scores, split into labelled and judge-only prompts.

    ``select.campaign`` narrows people's side only (the campaign their labels came from).
    Returns the list (dimensions the judge scored, in their order) and how prompts were
    matched (the judge's ``pair_by``, used for the humans too, so both sides key prompts alike).
    """
    # a campaign is where people's labels come from: the judge's verdicts are read whatever their campaign
    judge = paired_scores(store, model_a, model_b, select=replace(select, raters=tuple(judges), campaign=None),
                          pair_by=pair_by)
    used = judge.attrs.get("pair_by") or pair_by
    human = (paired_scores(store, model_a, model_b, select=replace(select, raters=tuple(humans)),
                           pair_by=used if used != "auto" else pair_by) if humans else judge.iloc[0:0])
    out = []
    h = human[KEYS + ["a", "b"]]
    for (rub, dim), j in judge.groupby(["rubric", "dimension"], sort=False):
        hd = h[(h["rubric"] == rub) & (h["dimension"] == dim)]
        both = j.merge(hd, on=KEYS, suffixes=("_j", "_h"), how="left", indicator=True)
        lab = both[both["_merge"] == "both"]
        unl = both[both["_merge"] == "left_only"]
        out.append(AssistedScores(
            rub, dim, lab["a_h"].to_numpy(float), lab["b_h"].to_numpy(float), lab["a_j"].to_numpy(float),
            lab["b_j"].to_numpy(float), unl["a_j"].to_numpy(float), unl["b_j"].to_numpy(float),
            lab["key"].to_numpy(dtype=object), unl["key"].to_numpy(dtype=object),
            int(len(hd) - len(lab)), bool(j["has_cluster"].any())))
    return out, used


def _direction(store: Store, rubric: str, dimension: str) -> bool:
    try:
        return store.rubric(rubric).dimension(dimension).direction == "lower_is_better"
    except (KeyError, NotFound):
        return False


def _verdict(sec: dict[str, Any], model_a: str, model_b: str, alpha: float) -> str:
    dim, est, lo, hi = sec["dimension"], sec["estimate"], sec["ci_low"], sec["ci_high"]
    if sec["p_adjusted"] >= alpha or est == 0:
        return (f"no detectable difference on {dim} with people and judge combined: {est:+.2f} points "
                f"[{lo:.2f}, {hi:.2f}]")
    better = (model_b if est > 0 else model_a) if not sec["lower_is_better"] else (model_b if est < 0 else model_a)
    lower = " (lower is better)" if sec["lower_is_better"] else ""
    return (f"{better} is better on {dim}{lower} with people and judge combined: {est:+.2f} points "
            f"[{lo:.2f}, {hi:.2f}], {AB.format_pvalue(sec['p_adjusted'])}")


def worth_line(sec: dict[str, Any], units: str = "prompts", labelled: str = "human-labelled prompts") -> str:
    """"the judge's N verdicts were worth k extra human labels", from a section of :func:`assisted_report`."""
    extra = sec["n_eff"] - sec["n"]
    total = sec["n"] + sec["N"]
    if extra >= 0.5:
        return (f"the judge's verdicts on {total} {units} were worth {extra:,.0f} extra {labelled} "
                f"({sec['n']} labelled count as {sec['n_eff']:,.0f})")
    return (f"the judge's verdicts on {total} {units} were worth no extra human labels here "
            f"(lambda = {sec['lam']:.2f}: the interval rests on the {sec['n']} {labelled})")


def calibrated(s: AssistedScores, folds: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The judge's scores mapped onto people's scale by isotonic regression, cross-fitted over ``folds`` of the labelled prompts.

    Labelled prompts are split into ``folds`` at random (``seed``); the map used for a prompt
    in fold k is fitted on the other folds' (judge score, people's score) pairs, both models'
    answers pooled, so no labelled prompt is scored by a map that saw it. Judge-only prompts get
    one column per fold (each fold's map). These are the inputs of
    :func:`assay.stats.ppi.cross_paired_difference` (Zrnic and Candès, "Cross-prediction-powered
    inference", PNAS 2024): the calibration is tuned on the same labels, so plain PPI would be
    optimistic. Returns ``(yhat_a, yhat_b, u_a, u_b)`` with ``u_*`` of shape N x folds.
    """
    from assay.stats.isotonic import fit_isotonic

    n = s.y_a.size
    if n < 2 * folds:
        raise ValueError(f"calibrating the judge needs at least {2 * folds} prompts with people's scores "
                         f"({folds} folds), got {n}")
    fold = np.random.default_rng(seed).permutation(np.arange(n) % folds)
    ya, yb = np.empty(n), np.empty(n)
    ua, ub = np.empty((s.u_a.size, folds)), np.empty((s.u_b.size, folds))
    for k in range(folds):
        train = fold != k
        m = fit_isotonic(np.concatenate([s.yhat_a[train], s.yhat_b[train]]),
                         np.concatenate([s.y_a[train], s.y_b[train]]))
        ya[~train], yb[~train] = m(s.yhat_a[~train]), m(s.yhat_b[~train])
        ua[:, k], ub[:, k] = m(s.u_a), m(s.u_b)
    return ya, yb, ua, ub


def _section(s: AssistedScores, *, options: Options, lower: bool, weights: pd.Series | None,
             calibrate: int | None = None) -> dict[str, Any]:
    sec: dict[str, Any] = {"kind": "dimension", "rubric": s.rubric, "dimension": s.dimension, "n": int(s.y_a.size),
                           "N": int(s.u_a.size), "human_only_prompts": s.human_only, "lower_is_better": lower,
                           "clusters_ignored": s.has_cluster}
    alpha = 1 - options.confidence
    try:
        if weights is not None:
            if calibrate:
                raise BadInput("--calibrate does not go with an actively sampled campaign yet")
            res = _active(s, weights, alpha)
            sec["sampling"] = "active"
        elif calibrate:
            ya, yb, ua, ub = calibrated(s, calibrate, options.random_state)
            res = ppi.cross_paired_difference(s.y_b, s.y_a, yb, ya, ub, ua, alpha=alpha)
            sec["sampling"] = "uniform"
            sec["calibrated"] = f"isotonic, cross-fitted over {calibrate} folds"
        else:
            res = ppi.paired_difference(s.y_b, s.y_a, s.yhat_b, s.yhat_a, s.u_b, s.u_a, alpha=alpha)
            sec["sampling"] = "uniform"
    except ValueError as e:
        if s.y_a.size == 0:
            sec["error"] = "no prompt has people's scores of both models here: nothing to correct the judge with"
        elif s.y_a.size < 2:
            sec["error"] = (f"{s.y_a.size} prompt(s) with human scores of both models where the judge scored them "
                            f"too; PPI needs at least 2")
        elif s.u_a.size < 1:
            sec["error"] = "every prompt the judge scored has human scores: nothing for the judge to add"
        else:
            sec["error"] = str(e)
        return sec
    sec.update(
        estimate=res.estimate, ci_low=res.low, ci_high=res.high, se=res.se, lam=res.lam, method=res.method,
        df=res.df, pvalue=res.p_value(0.0), human_estimate=res.classical_estimate, human_low=res.classical_low,
        human_high=res.classical_high, human_se=res.classical_se, judge_estimate=res.naive_estimate,
        n_eff=float(res.n_eff), mean_a_human=float(s.y_a.mean()), mean_b_human=float(s.y_b.mean()),
        mean_a_judge=float(np.concatenate([s.yhat_a, s.u_a]).mean()),
        mean_b_judge=float(np.concatenate([s.yhat_b, s.u_b]).mean()))
    if calibrate:  # judge only stays the raw judge's difference; the calibrated judge's mean is beside it
        sec["calibrated_judge_estimate"] = sec["judge_estimate"]
        sec["judge_estimate"] = sec["mean_b_judge"] - sec["mean_a_judge"]
    return sec


def _active(s: AssistedScores, weights: pd.Series, alpha: float) -> ppi.PPIEstimate:
    """The active-inference estimate (Zrnic and Candès 2024) with the campaign's inclusion probabilities."""
    keys = np.concatenate([s.keys, s.unlabelled_keys])
    pi = weights.reindex(keys).to_numpy(float)
    if np.isnan(pi).any():
        missing = keys[np.isnan(pi)][:3]
        raise ValueError(f"the campaign has no inclusion probability for prompt(s) {', '.join(map(str, missing))}")
    n = s.y_a.size
    labelled = np.zeros(keys.size, dtype=bool)
    labelled[:n] = True
    pad = np.zeros(keys.size - n)
    return ppi.active_paired_difference(np.concatenate([s.y_b, pad]), np.concatenate([s.y_a, pad]),
                                        np.concatenate([s.yhat_b, s.u_b]), np.concatenate([s.yhat_a, s.u_a]),
                                        labelled, pi, alpha=alpha)


def _people_reference(d: np.ndarray, confidence: float) -> dict[str, Any]:
    """People's mean of ``d`` on every labelled unit with its Student t interval: the reference beside a subsample."""
    from scipy import stats

    n = d.size
    ref: dict[str, Any] = {"n": int(n), "estimate": float(d.mean()) if n else None}
    if n >= 2:
        half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * d.std(ddof=1) / np.sqrt(n))
        ref.update(low=ref["estimate"] - half, high=ref["estimate"] + half)
    return ref


def _kept(n: int, k: int, seed: int) -> np.ndarray:
    """Which of ``n`` labelled units keep people's labels: ``k`` drawn uniformly with ``seed``."""
    keep = np.zeros(n, dtype=bool)
    keep[np.random.default_rng(seed).choice(n, size=k, replace=False)] = True
    return keep


def subsample(s: AssistedScores, k: int, seed: int, confidence: float = 0.95
              ) -> tuple[AssistedScores, dict[str, Any]]:
    """Keep people's scores on ``k`` of the labelled prompts, drawn uniformly with ``seed``; the rest become judge-only.

    What a budget of ``k`` labels would have given, with the people-only figure on every
    labelled prompt returned beside it as the reference (mean and Student t interval).
    """
    ref = _people_reference(s.y_b - s.y_a, confidence)
    if k >= s.y_a.size:
        return s, ref
    keep = _kept(s.y_a.size, k, seed)
    moved = ~keep
    return replace(s, y_a=s.y_a[keep], y_b=s.y_b[keep], yhat_a=s.yhat_a[keep], yhat_b=s.yhat_b[keep],
                   keys=s.keys[keep], u_a=np.concatenate([s.u_a, s.yhat_a[moved]]),
                   u_b=np.concatenate([s.u_b, s.yhat_b[moved]]),
                   unlabelled_keys=np.concatenate([s.unlabelled_keys, s.keys[moved]])), ref


def assisted_report(store: Store, model_a: str, model_b: str, *, judges: Sequence[str], humans: Sequence[str],
                    select: Selection = Selection(), options: Options = Options(), assist: Assist = Assist()
                    ) -> dict[str, Any]:
    """B - A per dimension from human scores on some prompts and the judge's on all: PPI++ beside human-only and judge-only.

    ``judges`` and ``humans`` are rater ids; ``select`` narrows rubric, dimensions and campaign
    (its ``raters`` is ignored: the two sides are given); ``assist`` (:class:`Assist`) sets the
    pairing, the active-sampling weights, a people's subsample and calibration. p-values (Wald,
    from the PPI++ interval's distribution) are adjusted across dimensions by ``options.adjust``.
    Returns a JSON-ready dict: ``dimensions`` (one section per dimension the judge scored),
    ``preferences`` (B's win rate, when ``assist.preferences``), ``judges``, ``humans``, ``pair_by``.
    """
    pair_by, weights, human_sample, calibrate = assist.pair_by, assist.weights, assist.human_sample, assist.calibrate
    if not judges:
        raise BadInput("the judge-assisted A/B test needs --judge")
    _check_adjust(options)
    if weights is not None:  # inclusion probabilities are per item: prompts are keyed by item
        pair_by = "item"
    scores, used = assisted_scores(store, model_a, model_b, judges=judges, humans=humans, select=select,
                                   pair_by=pair_by)
    if human_sample is not None and human_sample < 2:
        raise BadInput(f"--human-sample must be at least 2, not {human_sample}")
    if human_sample is not None and weights is not None:
        raise BadInput("--human-sample draws uniformly: it does not go with an actively sampled campaign")
    sections = []
    for s in scores:
        ref = None
        if human_sample is not None:
            s, ref = subsample(s, human_sample, options.random_state, options.confidence)
        sec = _section(s, options=options, lower=_direction(store, s.rubric, s.dimension), weights=weights,
                       calibrate=calibrate)
        if ref is not None:
            sec["all_people"] = ref
        sections.append(sec)
    tested = [s for s in sections if "error" not in s]
    if tested:
        for sec, p in zip(tested, AB.adjust_pvalues([s["pvalue"] for s in tested], method=options.adjust)):
            sec["p_adjusted"] = float(p)
            sec["verdict"] = _verdict(sec, model_a, model_b, options.alpha)
            sec["worth"] = worth_line(sec)
    prefs = (assisted_preferences(store, model_a, model_b, judges=judges, humans=humans, campaign=select.campaign,
                                  options=options, human_sample=human_sample) if assist.preferences else [])
    return {"model_a": model_a, "model_b": model_b, "judges": list(judges), "humans": list(humans),
            "preferences": prefs,
            "pair_by": used, "confidence": options.confidence, "adjust": options.adjust, "dimensions": sections,
            "human_sample": human_sample,
            "seed": options.random_state if human_sample is not None or calibrate else None,
            "calibrate": calibrate,
            "labelled": any(s["n"] for s in sections + prefs)}


def _item_verdicts(store: Store, model_a: str, model_b: str, raters: Sequence[str], campaign: str | None
                   ) -> pd.DataFrame:
    """Per (rubric, dimension, item): the raters' verdict on A against B, 1 B preferred, 0.5 tie, 0 A preferred.

    A rater's comparison counts +1 for B, -1 for A, 0 for a tie; an item's verdict is the sign of
    the sum over its comparisons (the majority, as in the sign test of ``assay abtest``).
    """
    from assay.analysis.abtest import pair_votes

    cf = pair_votes(store, model_a, model_b, raters=list(raters), campaign=campaign)
    cols = ["rubric", "dimension", "key", "v"]
    if cf.empty:
        return pd.DataFrame(columns=cols)
    g = pd.DataFrame({"rubric": cf["rubric"].fillna("").to_numpy(), "dimension": cf["dimension"].fillna("").to_numpy(),
                      "key": cf["item_id"].to_numpy(), "vote": cf["vote"].to_numpy()})
    per = g.groupby(["rubric", "dimension", "key"], sort=True)["vote"].sum().reset_index()
    per["v"] = (np.sign(per["vote"].to_numpy()) + 1) / 2
    return per[cols]


def assisted_preferences(store: Store, model_a: str, model_b: str, *, judges: Sequence[str], humans: Sequence[str],
                         campaign: str | None = None, options: Options = Options(),
                         human_sample: int | None = None) -> list[dict[str, Any]]:
    """B's win rate over A from pairwise comparisons: people's verdicts on some items, the judge's on all, PPI++.

    Per (rubric, dimension) of the comparisons: the items people compared (and the judge too)
    are labelled, those only the judge compared unlabelled; :func:`assay.stats.ppi.win_rate`
    gives the PPI++ win rate of B (a tie half) with the people-only and judge-only figures.
    ``human_sample`` keeps people's verdicts on that many items, as in :func:`assisted_report`.
    """
    judge = _item_verdicts(store, model_a, model_b, judges, None)  # the campaign is people's side only
    human = _item_verdicts(store, model_a, model_b, humans, campaign)
    out = []
    alpha = 1 - options.confidence
    for (rub, dim), j in judge.groupby(["rubric", "dimension"], sort=False):
        hd = human[(human["rubric"] == rub) & (human["dimension"] == dim)]
        both = j.merge(hd, on=KEYS, how="left", suffixes=("_j", "_h"), indicator=True)
        lab, unl = both[both["_merge"] == "both"], both[both["_merge"] == "left_only"]
        y, f, fu = lab["v_h"].to_numpy(float), lab["v_j"].to_numpy(float), unl["v_j"].to_numpy(float)
        sec: dict[str, Any] = {"kind": "preference", "rubric": rub or None, "dimension": dim or None,
                               "n": int(y.size), "N": int(fu.size),
                               "human_only_items": int(len(hd) - len(lab))}
        if human_sample is not None and human_sample < y.size:
            sec["all_people"] = _people_reference(y, options.confidence)
            keep = _kept(y.size, human_sample, options.random_state)
            y, fu, f = y[keep], np.concatenate([fu, f[~keep]]), f[keep]
            sec.update(n=int(y.size), N=int(fu.size))
        try:
            res = ppi.win_rate(y, f, fu, alpha=alpha)
        except ValueError as e:
            sec["error"] = (f"{y.size} item(s) compared by people and the judge; PPI needs at least 2"
                            if y.size < 2 else str(e))
            out.append(sec)
            continue
        sec.update(estimate=res.estimate, ci_low=res.low, ci_high=res.high, se=res.se, lam=res.lam,
                   human_estimate=res.classical_estimate, human_low=res.classical_low,
                   human_high=res.classical_high, judge_estimate=res.naive_estimate, n_eff=float(res.n_eff),
                   pvalue=res.p_value(0.5))
        sec["worth"] = worth_line(sec, "items", "items compared by people")
        out.append(sec)
    return out
