"""Agreement over the store: every coefficient that fits a dimension's scale, with intervals.

Raters may be humans, LLM judges and programs alike. Besides all raters together, the
report compares groups: humans with each other, judges with each other, and each judge
against the human consensus beside each human against the consensus of the others,
which is the fair yardstick for "can this judge replace a rater".
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from assay.analysis.frames import comparisons_frame, judgments_frame
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


def _consensus(df: pd.DataFrame, scale: str, value: str) -> pd.Series:
    """Per unit: the mean (continuous, ordinal) or the most common label of the given rows."""
    if scale in ("continuous", "ordinal"):
        return df.groupby("unit")[value].mean()
    counts = df.groupby(["unit", value]).size().reset_index(name="n")
    top = counts.sort_values(["unit", "n"], ascending=[True, False])
    best = top.groupby("unit")["n"].transform("max")
    winners = top[top["n"] == best].groupby("unit")[value].agg(list)
    return winners[winners.map(len) == 1].map(lambda x: x[0])  # ties have no consensus


def _pair_stats(x: pd.Series, y: pd.Series, scale: str, categories: Sequence | None) -> dict[str, Any]:
    """Agreement of one rater with a consensus on their shared units."""
    joined = pd.concat([x.rename("x"), y.rename("y")], axis=1, join="inner").dropna()
    out: dict[str, Any] = {"units": len(joined)}
    if len(joined) < 2:
        return out | {"error": "fewer than two shared units"}
    xs, ys = joined["x"].tolist(), joined["y"].tolist()
    if scale in ("ordinal", "continuous"):
        # a mean consensus is continuous: alpha at the interval level compares it fairly
        r = A.pair_agreement(xs, ys, level="interval", spearman=True)
        out |= {"alpha": r.alpha, "spearman": r.spearman}
        if scale == "ordinal":
            out["exact_agreement"] = float(np.mean(np.round(joined["y"].to_numpy(float)) == joined["x"].to_numpy()))
    else:
        r = A.pair_agreement(xs, ys, level=alpha_level(scale), categories=categories)
        out |= {"alpha": r.alpha, "kappa": r.kappa, "exact_agreement": r.percent}
    if r.errors:
        out["error"] = "; ".join(f"{k}: {why}" for k, why in r.errors.items())
    return {k: v for k, v in out.items() if v is not None}


def group_comparison(df: pd.DataFrame, scale: str, value: str, categories: Sequence | None = None
                     ) -> dict[str, Any]:
    """Each judge against the human consensus, beside each human against the other humans."""
    humans = df[df["rater_kind"] == "human"]
    judges = df[df["rater_kind"] != "human"]
    human_ids = sorted(humans["rater"].unique())
    out: dict[str, Any] = {"humans": human_ids, "judges": sorted(judges["rater"].unique())}
    rows = []
    for h in human_ids:
        others = humans[humans["rater"] != h]
        if others.empty:
            continue
        stats = _pair_stats(humans[humans["rater"] == h].set_index("unit")[value],
                            _consensus(others, scale, value), scale, categories)
        rows.append({"rater": h, "kind": "human", "against": "other humans"} | stats)
    if human_ids:
        consensus = _consensus(humans, scale, value)
        for j in out["judges"]:
            stats = _pair_stats(judges[judges["rater"] == j].set_index("unit")[value], consensus, scale, categories)
            rows.append({"rater": j, "kind": df.loc[df["rater"] == j, "rater_kind"].iloc[0],
                         "against": "all humans"} | stats)
    out["rows"] = rows
    human_alphas = [r["alpha"] for r in rows if r["kind"] == "human" and r.get("alpha") is not None]
    out["human_mean_alpha"] = float(np.mean(human_alphas)) if human_alphas else None
    return out


def _section(df: pd.DataFrame, *, name: str, scale: str, value: str, categories: Sequence | None,
             rounds: int, confidence: float, random_state: int, matrix_limit: int = 30) -> dict[str, Any]:
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
    section["coefficients"] = coefficients(matrix, scale, categories=categories, rounds=rounds,
                                           confidence=confidence, random_state=random_state)
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
    rubric: str | None = None,
    dimensions: Sequence[str] | None = None,
    raters: Sequence[str] | None = None,
    campaign: str | None = None,
    comparisons: bool = False,
    by_guideline: bool = False,
    rounds: int = 1000,
    confidence: float = 0.95,
    random_state: int = 0,
) -> dict[str, Any]:
    """Per dimension (or for pairwise comparisons): units, raters, every coefficient with its interval."""
    from assay.rubrics import get_rubric

    report: dict[str, Any] = {"confidence": confidence, "bootstrap_rounds": rounds, "random_state": random_state,
                              "campaign": campaign, "sections": []}
    if comparisons:
        df = comparisons_frame(store, raters=raters, campaign=campaign)
        report["kind"] = "comparisons"
        report["sections"].append(_section(df, name="preference", scale="nominal", value="label",
                                           categories=NOMINAL_LABELS, rounds=rounds, confidence=confidence,
                                           random_state=random_state))
        return report
    df = judgments_frame(store, rubric=rubric, dimensions=dimensions, raters=raters, campaign=campaign)
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
            sec = _section(part, name=dim.name, scale=scale, value=value, categories=cats, rounds=rounds,
                           confidence=confidence, random_state=random_state)
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
