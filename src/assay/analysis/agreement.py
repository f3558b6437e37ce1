"""Agreement over the store: every coefficient that fits a dimension's scale, with intervals.

Raters may be humans, LLM judges and programs alike. Besides all raters together, the
report compares groups: humans with each other, judges with each other, and each judge
against the human consensus beside each human against the consensus of the others,
which is the fair yardstick for "can this judge replace a rater". Judge-vs-human
agreement has one definition, :func:`judge_vs_humans` (text in :data:`JUDGE_VS_HUMANS`),
shared with ``assay judge-report``.
"""

from __future__ import annotations

import functools
import statistics
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from assay.analysis.frames import comparisons_frame, judgments_frame
from assay.analysis.options import Options, Selection
from assay.stats import agreement as A
from assay.stats import raters as RA
from assay.store import Store

NOMINAL_LABELS = ["first", "second", "tie", "both_bad"]


def _est(name: str, fn: Callable[[], A.Estimate], note: str = "") -> dict[str, Any]:
    """One coefficient as a row; an undefined one carries the reason instead of a number."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            e = fn()
    except ValueError as err:
        return {"coefficient": name, "estimate": None, "error": str(err), "note": note}
    return {"coefficient": name, "estimate": e.estimate, "low": e.low, "high": e.high,
            "se": None if e.se is None or np.isnan(e.se) else e.se, "method": e.method, "note": note}


def _matrix(df: pd.DataFrame, value: str) -> pd.DataFrame:
    """raters x units, NaN where a rater did not rate a unit."""
    return df.pivot(index="rater", columns="unit", values=value)


def alpha_level(scale: str) -> str:
    return {"binary": "nominal", "categorical": "nominal", "nominal": "nominal", "ordinal": "ordinal",
            "continuous": "interval"}[scale]


def coefficients(matrix: pd.DataFrame, scale: str, *, categories: Sequence | None = None, rounds: int = 1000,
                 confidence: float = 0.95, random_state: int = 0) -> list[dict[str, Any]]:
    """Every coefficient suited to the scale, on a raters x units matrix, each with its interval."""
    data = matrix.to_numpy(dtype=object if scale in ("categorical", "nominal") else float)
    kw: dict[str, Any] = {"categories": categories} if categories is not None else {}
    boot = dict(rounds=rounds, confidence=confidence, random_state=random_state)
    level = alpha_level(scale)
    rows = []
    if scale != "continuous":
        rows.append(_est("percent agreement", lambda: A.bootstrap_interval(
            functools.partial(A.percent_agreement, **kw), data, **boot), "share of agreeing rater pairs"))
    rows.append(_est(f"Krippendorff alpha ({level})", lambda: A.krippendorff_alpha_interval(
        data, level=level, **kw, **boot)))
    if scale == "ordinal":
        rows.append(_est("Krippendorff alpha (interval)", lambda: A.krippendorff_alpha_interval(
            data.astype(float), level="interval", **boot)))
    if scale != "continuous":
        rows.append(_est("Fleiss kappa", lambda: A.fleiss_kappa_interval(A.to_table(data, **kw)[0],
                                                                          confidence=confidence),
                         "nominal; Gwet's standard error"))
        if scale == "ordinal":
            rows.append(_est("Gwet AC2 (quadratic)", lambda: A.gwet_ac2_interval(
                data, weights="quadratic", confidence=confidence, **kw)))
        else:
            rows.append(_est("Gwet AC1", lambda: A.gwet_ac1_interval(data, confidence=confidence, **kw)))
    if matrix.shape[0] == 2:
        weights = "quadratic" if scale == "ordinal" else None
        a, b = data[0], data[1]
        both = np.array([x is not None and x == x and y is not None and y == y for x, y in zip(a, b)])
        if scale != "continuous":
            rows.append(_est("Cohen kappa" + (" (quadratic)" if weights else ""), lambda: A.cohen_kappa_interval(
                a[both], b[both], weights=weights, confidence=confidence, **kw)))
    if scale in ("ordinal", "continuous"):
        numeric = data.astype(float).T  # units x raters
        complete = int(np.isfinite(numeric).all(axis=1).sum())
        for form in ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"):
            rows.append(_est(form, lambda form=form: A.icc_interval(numeric, form=form, confidence=confidence,
                                                                    nan_policy="omit"),
                             f"{complete} units rated by every rater"))
    return rows


JUDGE_VS_HUMANS = (
    "judge vs humans: on the units the judge and the humans both labelled, Cohen's kappa of the judge with each "
    "human (and the mean of those), and with the human consensus: the label most humans gave the unit, when one "
    "label is the most common (a draw leaves the unit out); on an ordinal scale the median, the lower of the two "
    "middle values when they differ; on a continuous scale the mean. A rater counts with their latest verdict per "
    "unit; pairs are labelled first/second in the order of the pair's earliest stored comparison."
)
"""The definition :func:`judge_vs_humans` implements, printed by `assay agreement` and `assay judge-report`."""


def consensus(labels: Mapping[str, Mapping[Any, Any]], raters: Sequence[str], scale: str) -> dict[Any, Any]:
    """Per unit, the consensus of ``raters`` (see :data:`JUDGE_VS_HUMANS`); units without one are left out.

    ``labels`` maps rater -> unit -> label. Nominal scales (``nominal`` for pairwise labels,
    ``binary``, ``categorical``): the unique most common label (a plurality, as in
    ``stats.raters.rater_vs_consensus``); ``ordinal``: ``statistics.median_low``, a level of
    the scale so kappa and the confusion table stay defined; ``continuous``: the mean.
    """
    votes: dict[Any, list[Any]] = defaultdict(list)
    for r in raters:
        for unit, v in labels.get(r, {}).items():
            if v is not None and v == v:
                votes[unit].append(v)
    out: dict[Any, Any] = {}
    for unit, vs in votes.items():
        if scale == "continuous":
            out[unit] = statistics.fmean(vs)
        elif scale == "ordinal":
            out[unit] = statistics.median_low(vs)
        else:
            top = Counter(vs).most_common(2)
            if len(top) == 1 or top[0][1] > top[1][1]:
                out[unit] = top[0][0]
    return out


def rater_agreement(x: Mapping[Any, Any], y: Mapping[Any, Any], *, scale: str,
                    categories: Sequence[Any] | None = None) -> dict[str, Any]:
    """Two raters (or a rater and a consensus) on the units both labelled: the one pairwise statistic.

    ``n`` shared units, ``percent`` equal labels, Cohen's ``kappa`` (nominal and ordinal
    scales; Cohen 1960), ``kappa_quadratic`` (ordinal; Cohen 1968), Krippendorff's
    ``alpha`` at the scale's level (Krippendorff 2011) and Spearman's ``spearman``
    (ordinal, continuous), all from :func:`assay.stats.agreement.pair_agreement`. An
    undefined figure is None, with the reason in ``errors``.
    """
    units = [u for u in x if u in y]
    level = alpha_level(scale)
    ordinal = scale == "ordinal"
    r = A.pair_agreement([x[u] for u in units], [y[u] for u in units], level=level,
                         categories=None if level == "interval" else categories,
                         weights="quadratic" if ordinal else None, spearman=scale in ("ordinal", "continuous"))
    out: dict[str, Any] = {"n": r.n, "percent": r.percent, "kappa": r.kappa, "alpha": r.alpha}
    if ordinal:
        out["kappa_quadratic"] = r.weighted_kappa
    if scale in ("ordinal", "continuous"):
        out["spearman"] = r.spearman
    out["errors"] = {("kappa_quadratic" if k == "weighted_kappa" else k): why for k, why in r.errors.items()}
    return out


def judge_vs_humans(labels: Mapping[str, Mapping[Any, Any]], judge: str, humans: Sequence[str], *, scale: str,
                    categories: Sequence[Any] | None = None) -> dict[str, Any]:
    """A judge's agreement with human raters, as defined in :data:`JUDGE_VS_HUMANS`.

    ``labels`` maps rater -> unit -> label (one label per rater and unit). Returns
    ``vs_each`` (per human, :func:`rater_agreement`), ``mean_kappa`` (their mean kappa,
    None when none is defined), ``vs_consensus`` (the judge against :func:`consensus`),
    ``consensus`` (unit -> label), ``no_consensus`` (units the humans labelled without a
    consensus) and the ``definition``. `assay agreement` and `assay judge-report` both
    report this, so they give one kappa for one judge, the same humans and the same units.
    """
    mine = labels.get(judge, {})
    each = {h: rater_agreement(mine, labels.get(h, {}), scale=scale, categories=categories) for h in humans}
    kappas = [s["kappa"] for s in each.values() if s["kappa"] is not None]
    agreed = consensus(labels, humans, scale)
    labelled = {u for h in humans for u in labels.get(h, {})}
    return {"definition": JUDGE_VS_HUMANS, "vs_each": each, "mean_kappa": statistics.fmean(kappas) if kappas else None,
            "vs_consensus": rater_agreement(mine, agreed, scale=scale, categories=categories),
            "consensus": agreed, "no_consensus": len(labelled) - len(agreed)}


def _labels(df: pd.DataFrame, value: str) -> dict[str, dict[Any, Any]]:
    """rater -> unit -> label from a long frame (one row per rater and unit)."""
    return {r: dict(zip(g["unit"], g[value])) for r, g in df.groupby("rater")}


def _row(stats: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in stats.items() if v is not None and k != "errors"}
    if stats.get("errors"):
        out["error"] = "; ".join(f"{k}: {why}" for k, why in stats["errors"].items())
    return out


def group_comparison(df: pd.DataFrame, scale: str, value: str, categories: Sequence | None = None
                     ) -> dict[str, Any]:
    """Each judge against the humans (:func:`judge_vs_humans`), beside each human against the other humans' consensus."""
    humans = df[df["rater_kind"] == "human"]
    judges = df[df["rater_kind"] != "human"]
    human_ids = sorted(humans["rater"].unique())
    labels = _labels(df, value)
    out: dict[str, Any] = {"humans": human_ids, "judges": sorted(judges["rater"].unique()),
                           "definition": JUDGE_VS_HUMANS}
    rows = []
    for h in human_ids:
        others = [o for o in human_ids if o != h]
        if not others:
            continue
        stats = rater_agreement(labels[h], consensus(labels, others, scale), scale=scale, categories=categories)
        rows.append({"rater": h, "kind": "human", "against": "other humans"} | _row(stats))
    if human_ids:
        for j in out["judges"]:
            res = judge_vs_humans(labels, j, human_ids, scale=scale, categories=categories)
            rows.append({"rater": j, "kind": df.loc[df["rater"] == j, "rater_kind"].iloc[0],
                         "against": "human consensus", "mean_kappa_with_each_human": res["mean_kappa"]}
                        | _row(res["vs_consensus"]))
    out["rows"] = rows
    human_alphas = [r["alpha"] for r in rows if r["kind"] == "human" and r.get("alpha") is not None]
    out["human_mean_alpha"] = float(np.mean(human_alphas)) if human_alphas else None
    return out


def _section(df: pd.DataFrame, *, name: str, scale: str, value: str, categories: Sequence | None,
             options: Options, matrix_limit: int = 30) -> dict[str, Any]:
    rated = df.groupby("unit")["rater"].nunique()
    multi = df[df["unit"].isin(rated[rated >= 2].index)]
    section: dict[str, Any] = {
        "dimension": name,
        "scale": scale,
        "units": int((rated >= 2).sum()),
        "units_total": int(len(rated)),
        "raters": int(df["rater"].nunique()),
        "ratings": int(len(df)),
    }
    if multi.empty or multi["rater"].nunique() < 2:
        section["coefficients"] = []
        section["error"] = "no unit was rated by two raters"
        return section
    matrix = _matrix(multi, value)
    section["coefficients"] = coefficients(matrix, scale, categories=categories, rounds=options.rounds,
                                           confidence=options.confidence, random_state=options.random_state)
    kinds = set(df["rater_kind"])
    if "human" in kinds and len(kinds) > 1 or df[df["rater_kind"] == "human"]["rater"].nunique() > 1:
        section["groups"] = group_comparison(df, scale, value, categories)
    if multi["rater"].nunique() <= matrix_limit:
        weights = "quadratic" if scale == "ordinal" else None
        statistic = "percent_agreement" if scale == "continuous" else "cohen_kappa"
        if scale != "continuous":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = RA.agreement_matrix(multi, value=value, statistic=statistic, weights=weights)
            section["matrix"] = {"statistic": statistic + (" (quadratic)" if weights else ""),
                                 "raters": list(m.index), "values": m.to_numpy().tolist()}
    return section


def agreement_report(
    store: Store,
    *,
    select: Selection = Selection(),
    options: Options = Options(),
    comparisons: bool = False,
    by_guideline: bool = False,
) -> dict[str, Any]:
    """Per dimension (or for pairwise comparisons): units, raters, every coefficient with its interval.

    ``select`` says which judgments count (comparisons are selected by raters and campaign
    only); ``options`` gives the bootstrap rounds, the confidence and the seed of the intervals.
    ``by_guideline`` adds each dimension's alpha per guideline version.
    """
    from assay.rubrics import get_rubric

    campaign = select.campaign
    report: dict[str, Any] = {"confidence": options.confidence, "bootstrap_rounds": options.rounds,
                              "random_state": options.random_state, "campaign": campaign, "sections": []}
    if comparisons:
        df = comparisons_frame(store, raters=select.raters, campaign=campaign)
        report["kind"] = "comparisons"
        report["sections"].append(_section(df, name="preference", scale="nominal", value="label",
                                           categories=NOMINAL_LABELS, options=options))
        return report
    df = judgments_frame(store, rubric=select.rubric, dimensions=select.dimensions, raters=select.raters,
                         campaign=campaign)
    report["kind"] = "judgments"
    for rubric_id in sorted(df["rubric"].unique()):
        rub = get_rubric(store, rubric_id)
        sub = df[df["rubric"] == rubric_id]
        for dim in rub.dimensions:
            part = sub[sub["dimension"] == dim.name]
            if part.empty:
                continue
            scale = dim.scale.kind
            value = "label" if scale == "categorical" else "value"
            cats = dim.scale.points()
            sec = _section(part, name=dim.name, scale=scale, value=value, categories=cats, options=options)
            sec["rubric"] = rubric_id
            if by_guideline:
                sec["by_guideline"] = _by_guideline(part, scale, value, cats)
            report["sections"].append(sec)
    return report


def alpha_among(df: pd.DataFrame, scale: str, value: str, cats: Sequence | None) -> dict[str, Any]:
    """Krippendorff's alpha over the units of a long frame that two or more raters rated."""
    rated = df.groupby("unit")["rater"].nunique()
    multi = df[df["unit"].isin(rated[rated >= 2].index)]
    out: dict[str, Any] = {"units": int((rated >= 2).sum()), "raters": int(multi["rater"].nunique())}
    if multi.empty:
        return out | {"alpha": None, "error": "no unit rated by two raters"}
    kw = {"categories": cats} if cats is not None else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out["alpha"] = A.krippendorff_alpha(_matrix(multi, value).to_numpy(
                dtype=object if scale == "categorical" else float), level=alpha_level(scale), **kw)
    except ValueError as err:
        out |= {"alpha": None, "error": str(err)}
    return out


def _by_guideline(df: pd.DataFrame, scale: str, value: str, cats: Sequence | None) -> list[dict[str, Any]]:
    """Krippendorff's alpha among the judgments made under each guideline version."""
    return [{"guideline_version": None if version == -1 else int(version), **alpha_among(part, scale, value, cats)}
            for version, part in df.groupby(df["guideline_version"].fillna(-1))]
