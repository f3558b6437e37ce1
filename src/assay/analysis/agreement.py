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

from assay.analysis import _consensus as C
from assay.analysis.frames import comparisons_frame, judgment_codes
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


def alpha_level(scale: str) -> str:
    return {"binary": "nominal", "categorical": "nominal", "nominal": "nominal", "ordinal": "ordinal",
            "continuous": "interval"}[scale]


def coefficients(matrix: pd.DataFrame | np.ndarray, scale: str, *, categories: Sequence | None = None,
                 rounds: int = 1000, confidence: float = 0.95, random_state: int = 0) -> list[dict[str, Any]]:
    """Every coefficient suited to the scale, on a raters x units matrix (a frame or an array), each with its interval.

    Labelled scales go through one :func:`assay.stats.agreement.summarise` (labels coded
    once, units reduced to their distinct count patterns), so every coefficient and every
    bootstrap round costs the number of patterns, not of units; continuous scores (a
    pattern per unit) use the coefficients on the raw matrix.
    """
    if scale == "continuous":
        return _continuous(matrix, rounds=rounds, confidence=confidence, random_state=random_state)
    data = np.asarray(matrix, dtype=object if scale in ("categorical", "nominal") else float)
    level = alpha_level(scale)
    two = matrix.shape[0] == 2
    ci = {"confidence": confidence}
    try:
        summary = A.summarise(data, categories=categories, raters=list(range(matrix.shape[0])),
                              by_rater=two or scale == "ordinal")
    except ValueError as err:
        reason = str(err)

        def undefined() -> A.Estimate:
            raise ValueError(reason)

        summary = None
    boot = summary.bootstrap(rounds=rounds, random_state=random_state) if summary is not None else None

    def via(fn: Callable[[], A.Estimate]) -> Callable[[], A.Estimate]:
        return fn if summary is not None else undefined

    rows = [_est("percent agreement", via(lambda: boot.interval("percent_agreement", **ci)),
                 "share of agreeing rater pairs"),
            _est(f"Krippendorff alpha ({level})", via(lambda: boot.interval("krippendorff_alpha", level=level, **ci)))]
    if scale == "ordinal":
        rows.append(_est("Krippendorff alpha (interval)",
                         via(lambda: boot.interval("krippendorff_alpha", level="interval", **ci))))
    rows.append(_est("Fleiss kappa", via(lambda: summary.fleiss_kappa_interval(**ci)), "nominal; Gwet's standard error"))
    if scale == "ordinal":
        rows.append(_est("Gwet AC2 (quadratic)", via(lambda: summary.gwet_ac2_interval(weights="quadratic", **ci))))
    else:
        rows.append(_est("Gwet AC1", via(lambda: summary.gwet_ac1_interval(**ci))))
    if two:
        weights = "quadratic" if scale == "ordinal" else None
        rows.append(_est("Cohen kappa" + (" (quadratic)" if weights else ""),
                         via(lambda: summary.cohen_kappa_interval(weights=weights, **ci))))
    if scale == "ordinal":
        complete = int(np.isfinite(data.astype(float)).all(axis=0).sum())
        for form in A.ICC_FORMS:
            rows.append(_est(form, via(lambda form=form: summary.icc_interval(form=form, nan_policy="omit", **ci)),
                             f"{complete} units rated by every rater"))
    return rows


def _continuous(matrix: pd.DataFrame | np.ndarray, *, rounds: int, confidence: float, random_state: int
                ) -> list[dict[str, Any]]:
    """The coefficients of continuous scores (each unit its own pattern): alpha (interval) and the ICC forms."""
    data = np.asarray(matrix, dtype=float)
    rows = [_est("Krippendorff alpha (interval)", lambda: A.krippendorff_alpha_interval(
        data, level="interval", rounds=rounds, confidence=confidence, random_state=random_state))]
    numeric = data.T  # units x raters
    complete = int(np.isfinite(numeric).all(axis=1).sum())
    for form in A.ICC_FORMS:
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
    return pair_statistics([x[u] for u in units], [y[u] for u in units], scale=scale, categories=categories)


def pair_statistics(xs: Sequence[Any], ys: Sequence[Any], *, scale: str,
                    categories: Sequence[Any] | None = None) -> dict[str, Any]:
    """:func:`rater_agreement` on two label sequences already aligned unit by unit."""
    level = alpha_level(scale)
    ordinal = scale == "ordinal"
    r = A.pair_agreement(xs, ys, level=level, categories=None if level == "interval" else categories,
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


def _row(stats: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in stats.items() if v is not None and k != "errors"}
    if stats.get("errors"):
        out["error"] = "; ".join(f"{k}: {why}" for k, why in stats["errors"].items())
    return out


def group_comparison(df: pd.DataFrame, scale: str, value: str, categories: Sequence | None = None
                     ) -> dict[str, Any]:
    """Each judge against the humans (:func:`judge_vs_humans`), beside each human against the other humans' consensus.

    The same figures as :func:`judge_vs_humans` and :func:`consensus` give, computed on
    arrays (``assay.analysis._consensus``): one pass gives every human's leave-one-out
    consensus, so the cost grows with the number of labels, not labels times raters.
    """
    kinds = _rater_kinds(df)
    human_ids = sorted(r for r, k in kinds.items() if k == "human")
    judge_ids = sorted(r for r, k in kinds.items() if k != "human")
    out: dict[str, Any] = {"humans": human_ids, "judges": judge_ids, "definition": JUDGE_VS_HUMANS}
    long = C.Long.of(df, value)
    code = {name: i for i, name in enumerate(long.raters)}
    humans = np.array([code[h] for h in human_ids if h in code], dtype=np.int64)
    empty = (np.array([], dtype=np.int64), np.array([], dtype=object))

    def stats(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
        xs, ys = C.aligned(*a, *b)
        return pair_statistics(xs, ys, scale=scale, categories=categories)

    @functools.cache  # each rater's labels are picked out of the long arrays once, not once per pair
    def labels_of(rater: str) -> tuple[np.ndarray, np.ndarray]:
        return long.of_rater(code[rater]) if rater in code else empty

    rows = []
    if len(human_ids) > 1:
        cu, cr, cv = C.consensus(long, humans, scale, leave_out=True)
        for h in human_ids:
            mine = cr == code.get(h, -2)
            rows.append({"rater": h, "kind": "human", "against": "other humans"}
                        | _row(stats(labels_of(h), (cu[mine], cv[mine]))))
    if human_ids:
        cu, _, cv = C.consensus(long, humans, scale, leave_out=False)
        for j in judge_ids:
            mine = labels_of(j)
            kappas = [k for h in human_ids if (k := stats(mine, labels_of(h))["kappa"]) is not None]
            rows.append({"rater": j, "kind": kinds[j], "against": "human consensus",
                         "mean_kappa_with_each_human": statistics.fmean(kappas) if kappas else None}
                        | _row(stats(mine, (cu, cv))))
    out["rows"] = rows
    human_alphas = [r["alpha"] for r in rows if r["kind"] == "human" and r.get("alpha") is not None]
    out["human_mean_alpha"] = float(np.mean(human_alphas)) if human_alphas else None
    return out


def _codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column as int64 codes and the sorted names they index (a categorical's own, or factorized)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return np.asarray(column.cat.codes, dtype=np.int64), np.asarray(column.cat.categories, dtype=object)
    codes, names = pd.factorize(column, sort=True)
    return codes.astype(np.int64), np.asarray(names, dtype=object)


def _wide(df: pd.DataFrame, value: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """The raters x units array of the units two or more raters rated (what ``pivot`` gives), from codes.

    Returns the array (NaN where a rater did not rate a unit; float, or object for labels),
    its rater and unit names (sorted, as ``pivot`` orders them) and the counts the section
    reports. One row per (unit, rater) is assumed (the frames keep each rater's latest).
    """
    u, units = _codes(df["unit"])
    r, raters = _codes(df["rater"])
    ok = (u >= 0) & (r >= 0)
    u, r = u[ok], r[ok]
    seen = np.zeros((len(units), len(raters)), dtype=bool) if len(units) * len(raters) <= 50_000_000 else None
    if seen is not None:
        seen[u, r] = True
        per_unit = seen.sum(axis=1)
    else:  # many raters: count distinct (unit, rater) pairs by sorting
        pair = np.sort(u * len(raters) + r)
        first = np.ones(pair.size, dtype=bool)
        first[1:] = pair[1:] != pair[:-1]
        per_unit = np.bincount(pair[first] // len(raters), minlength=len(units))
    multi = per_unit >= 2
    keep = multi[u]
    in_multi = np.bincount(r[keep], minlength=len(raters)) > 0
    counts = {"units": int(multi.sum()), "units_total": int((per_unit > 0).sum()),
              "raters": int((np.bincount(r, minlength=len(raters)) > 0).sum()), "multi_raters": int(in_multi.sum())}
    column = np.cumsum(multi) - 1
    row = np.cumsum(in_multi) - 1
    values = df[value].to_numpy()[ok][keep]
    numeric = values.dtype.kind in "fiub"
    wide = np.full((int(in_multi.sum()), int(multi.sum())), np.nan, dtype=float if numeric else object)
    wide[row[r[keep]], column[u[keep]]] = values
    return wide, raters[in_multi], units[multi], counts


def _section(df: pd.DataFrame, *, name: str, scale: str, value: str, categories: Sequence | None,
             options: Options, matrix_limit: int = 30) -> dict[str, Any]:
    wide, raters, units, counts = _wide(df, value)
    section: dict[str, Any] = {
        "dimension": name,
        "scale": scale,
        "units": counts["units"],
        "units_total": counts["units_total"],
        "raters": counts["raters"],
        "ratings": int(len(df)),
    }
    if counts["units"] == 0 or counts["multi_raters"] < 2:
        section["coefficients"] = []
        section["error"] = "no unit was rated by two raters"
        return section
    section["coefficients"] = coefficients(wide, scale, categories=categories, rounds=options.rounds,
                                           confidence=options.confidence, random_state=options.random_state)
    kind_of = _rater_kinds(df)
    kinds = set(kind_of.values())
    if "human" in kinds and len(kinds) > 1 or sum(k == "human" for k in kind_of.values()) > 1:
        section["groups"] = group_comparison(df, scale, value, categories)
    if len(raters) <= matrix_limit:
        weights = "quadratic" if scale == "ordinal" else None
        statistic = "percent_agreement" if scale == "continuous" else "cohen_kappa"
        if scale != "continuous":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = RA.wide_agreement_matrix(wide, list(raters), statistic=statistic, weights=weights)
            section["matrix"] = {"statistic": statistic + (" (quadratic)" if weights else ""),
                                 "raters": list(m.index), "values": m.to_numpy().tolist()}
    return section


def _rater_kinds(df: pd.DataFrame) -> dict[str, str]:
    """Each rater in the frame and its kind."""
    if isinstance(df["rater"].dtype, pd.CategoricalDtype):
        pairs = df.groupby("rater", observed=True, sort=True)["rater_kind"].first()
        return {str(k): v for k, v in pairs.items()}
    return dict(zip(*df[["rater", "rater_kind"]].drop_duplicates("rater").to_numpy().T))


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
    df = judgment_codes(store, rubric=select.rubric, dimensions=select.dimensions, raters=select.raters,
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
    wide, _, _, counts = _wide(df, value)
    out: dict[str, Any] = {"units": counts["units"], "raters": counts["multi_raters"]}
    if counts["units"] == 0:
        return out | {"alpha": None, "error": "no unit rated by two raters"}
    kw = {"categories": cats} if cats is not None else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out["alpha"] = A.krippendorff_alpha(np.asarray(wide, dtype=object if scale == "categorical" else float),
                                                level=alpha_level(scale), **kw)
    except ValueError as err:
        out |= {"alpha": None, "error": str(err)}
    return out


def _by_guideline(df: pd.DataFrame, scale: str, value: str, cats: Sequence | None) -> list[dict[str, Any]]:
    """Krippendorff's alpha among the judgments made under each guideline version."""
    return [{"guideline_version": None if version == -1 else int(version), **alpha_among(part, scale, value, cats)}
            for version, part in df.groupby(df["guideline_version"].fillna(-1))]
