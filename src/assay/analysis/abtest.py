"""A/B tests over the store: is model B better than model A on the same items?

Scores are paired per prompt, by this rule: a response's score is the mean of the chosen
raters' values on it (each rater counts once per response; pick one rater kind with the
CLI's --kind or --judge, since mixing humans and judges mixes scales of leniency); a
model's score on a prompt is the mean over its K samples. Prompts are matched by item,
or by the prompt's text within its dataset when no item was answered by both models
(``pair_by="auto"``, see :func:`assay.analysis.ranking.pair_keys`). Only prompts both
models were scored on enter the test. When items carry a cluster key (Item.cluster) the
standard error is cluster-robust (Miller 2024, "Adding Error Bars to Evals", eq. 4).

Pairwise preferences between A's and B's responses (stored Comparisons) give one verdict
per prompt: the sign of (raters preferring B) - (raters preferring A), 0 a tie; then the
sign test and B's win rate (ties half) with its interval.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sqlalchemy import select as sa_select

from assay import records as R
from assay.analysis.frames import comparisons_frame
from assay.analysis.judgment_columns import ScoredJudgments, scored_judgments
from assay.analysis.options import Options, Selection
from assay.analysis.ranking import pair_keys
from assay.errors import BadInput, NotFound
from assay.stats import abtest as AB
from assay.store import Store
from assay.store import tables as T

__all__ = ["ABScores", "ABSettings", "DimensionScores", "PreferenceVotes", "compare_models", "compare_report",
           "dimension_scores", "non_inferiority", "pair_votes", "paired_scores", "plan", "plan_from_pilot",
           "preference_report", "preference_test", "preference_votes", "resolve_run_models"]

PLAN_KS = (1, 2, 4, 8, math.inf)


def _pair_by(sj: ScoredJudgments, model_a: str, model_b: str, pair_by: str) -> str:
    if pair_by != "auto":
        return pair_by
    judged = np.zeros(sj.n_units, dtype=bool)
    judged[sj.unit] = True
    item, model = sj.item_of_unit[judged], sj.model_of_unit[judged]
    seen = [np.bincount(item[(model == sj.model_code(m)) & (item >= 0)], minlength=len(sj.items)) > 0
            for m in (model_a, model_b)]
    return "item" if (seen[0] & seen[1]).any() else "prompt"


def _judgments(store: Store, model_a: str, model_b: str, select: Selection) -> ScoredJudgments:
    """The two models' current judgments with a numeric value, as codes (:func:`scored_judgments`)."""
    return scored_judgments(store, models=[model_a, model_b], rubric=select.rubric, dimensions=select.dimensions,
                            raters=select.raters, campaign=select.campaign, datasets=select.datasets)


def _runs(ordered: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts in a sorted array (a bool per position)."""
    start = np.ones(ordered.size, dtype=bool)
    start[1:] = ordered[1:] != ordered[:-1]
    return start


def _response_scores(sj: ScoredJudgments) -> tuple[np.ndarray, np.ndarray]:
    """Per (rubric, dimension, response): the mean of its raters' values; and one row of each, in key order.

    The values add in rater order (the rows come sorted by rubric, dimension, response and
    rater), so the bits do not depend on the order the store returned the rows in (a
    per-dataset read, :mod:`assay.analysis.sharded`, must give the whole store's).
    """
    flat = np.ravel_multi_index([sj.rubric, sj.dimension, sj.unit],
                                [max(n, 1) for n in (len(sj.rubrics), len(sj.dimensions), sj.n_units)])
    start = _runs(flat)
    group = np.cumsum(start) - 1
    score = np.bincount(group, weights=sj.value) / np.bincount(group)
    return score, np.flatnonzero(start)


def paired_scores(
    store: Store,
    model_a: str,
    model_b: str,
    *,
    select: Selection = Selection(),
    pair_by: str = "auto",
    per_sample: bool = False,
) -> pd.DataFrame:
    """Both models' scores per prompt and dimension, by the module's rule, on the ``select``-ed judgments.

    One row per (rubric, dimension, prompt key) with ``a``, ``b`` (means over raters then
    samples), ``k_a``, ``k_b`` (samples), ``cluster`` and ``has_cluster``. With
    ``per_sample=True`` ``a`` and ``b`` are instead lists of per-sample scores (for
    variance components), in the order of the responses' ids. ``attrs["pair_by"]`` says
    how prompts matched. A prompt's cluster is model A's first response's (by id).

    Computed on integer codes (:func:`assay.analysis.judgment_columns.scored_judgments`): a
    response's score is the mean of its raters' values, a prompt's the mean of its responses' scores.
    """
    sj = _judgments(store, model_a, model_b, select)
    cols = ["rubric", "dimension", "key", "a", "b", "k_a", "k_b", "cluster", "has_cluster"]
    if not len(sj.value):
        out = pd.DataFrame(columns=cols)
        out.attrs["pair_by"] = pair_by
        return out
    used = _pair_by(sj, model_a, model_b, pair_by)
    items = sj.items
    if used == "item":  # an item is its own key; its cluster where it has one, else the key
        key_of_item, keys = np.arange(len(items)), items
        has_item = sj.cluster_of_item >= 0
        cluster_name_item = (np.where(has_item, sj.clusters[np.maximum(sj.cluster_of_item, 0)], items)
                             if len(sj.clusters) else items)
    else:
        judged = np.unique(sj.item_of_unit[sj.unit])
        judged = judged[judged >= 0]
        found = pair_keys(store, list(items[judged]), used).reindex(items)
        key_of_item, keys = pd.factorize(found["key"].to_numpy(dtype=object), sort=True)
        keys = np.asarray(keys, dtype=object)
        has_item = found["has_cluster"].fillna(False).to_numpy(dtype=bool)
        cluster_name_item = found["cluster"].to_numpy(dtype=object)
    score, first = _response_scores(sj)
    n_dim, n_keys = max(len(sj.dimensions), 1), max(len(keys), 1)
    r_unit = sj.unit[first]
    r_item = sj.item_of_unit[r_unit]
    r_key = np.where(r_item >= 0, key_of_item[np.maximum(r_item, 0)] if len(items) else -1, -1)
    r_model = sj.model_of_unit[r_unit]
    # (rubric, dimension, prompt key) as one int per response
    r_group = (sj.rubric[first] * n_dim + sj.dimension[first]) * n_keys + r_key
    # a prompt's score per model: the mean over its responses (in the order of their ids)
    sides = {}
    for side, name in (("a", model_a), ("b", model_b)):
        mine = np.flatnonzero((r_model == sj.model_code(name)) & (r_key >= 0))
        mine = mine[np.argsort(r_group[mine], kind="stable")]
        start = _runs(r_group[mine])
        if not start.all():  # some prompt has several samples: they go in the order of the responses' ids
            mine = mine[np.lexsort((sj.unit_rank()[r_unit[mine]], r_group[mine]))]
        g = np.cumsum(start) - 1
        k = np.bincount(g)
        if per_sample and k.size == 0:
            value = np.array([], dtype=object)
        elif per_sample:
            value = np.empty(len(k), dtype=object)
            value[:] = [list(part) for part in np.split(score[mine], np.cumsum(k)[:-1])]
        else:
            value = np.bincount(g, weights=score[mine]) / k
        lead = mine[start]
        sides[side] = (r_group[lead], value, k, r_item[lead])
    common, at_a, at_b = np.intersect1d(sides["a"][0], sides["b"][0], assume_unique=True, return_indices=True)
    rub_dim, key = np.divmod(common, n_keys)
    item = sides["a"][3][at_a]
    out = pd.DataFrame({
        "rubric": sj.rubrics[rub_dim // n_dim] if len(common) else np.array([], dtype=object),
        "dimension": sj.dimensions[rub_dim % n_dim] if len(common) else np.array([], dtype=object),
        "key": keys[key] if len(common) else np.array([], dtype=object),
        "a": sides["a"][1][at_a], "b": sides["b"][1][at_b], "k_a": sides["a"][2][at_a], "k_b": sides["b"][2][at_b],
        "cluster": cluster_name_item[item] if len(common) else np.array([], dtype=object),
        "has_cluster": has_item[item] if len(common) else np.array([], dtype=bool),
    })
    out.attrs["pair_by"] = used
    return out[cols]


def _line(res: AB.PairedTestResult, *, dimension: str, model_a: str, model_b: str, p_adj: float,
          options: Options, lower_is_better: bool) -> str:
    """The verdict; on a lower-is-better dimension the smaller score wins."""
    significant = p_adj < options.alpha and res.estimate != res.null_value
    if not lower_is_better or not significant or res.estimand == "win_rate":
        return AB.verdict(res, dimension=dimension, models=(model_a, model_b), alpha=options.alpha,
                          power=options.power, pvalue=p_adj)
    better = model_b if res.estimate < 0 else model_a
    return (f"{better} is better on {dimension} (lower is better): {res.estimate:+.2f} points "
            f"[{res.ci_low:.2f}, {res.ci_high:.2f}], {AB.format_pvalue(p_adj)}")


def _clusters(rows: pd.DataFrame, use: bool) -> np.ndarray | None:
    if not use or not rows["has_cluster"].any():
        return None
    c = rows["cluster"].astype(str).to_numpy()
    return c if len(set(c)) >= 2 else None


@dataclass(frozen=True)
class DimensionScores:
    """One dimension's paired scores as a mergeable summary (shards of disjoint prompts add with ``+``).

    ``summary`` holds a and b per prompt key (and the prompts' cluster keys when some item has
    one); ``k_a`` and ``k_b`` are the samples per prompt summed over prompts.
    """

    rubric: str
    dimension: str
    summary: AB.PairedSummary
    k_a: float
    k_b: float

    def __add__(self, other: DimensionScores) -> DimensionScores:
        if (self.rubric, self.dimension) != (other.rubric, other.dimension):
            raise ValueError("only the scores of one rubric dimension add up")
        return DimensionScores(self.rubric, self.dimension, self.summary + other.summary,
                               self.k_a + other.k_a, self.k_b + other.k_b)


def dimension_scores(scores: pd.DataFrame) -> list[DimensionScores]:
    """:func:`paired_scores`' rows as one :class:`DimensionScores` per (rubric, dimension), in their order."""
    out = []
    for (rub, dim), rows in scores.groupby(["rubric", "dimension"], sort=False):
        clusters = rows["cluster"] if rows["has_cluster"].any() else None
        out.append(DimensionScores(rub, dim, AB.summarise_paired(rows["key"], rows["a"].to_numpy(float),
                                                                 rows["b"].to_numpy(float), clusters=clusters),
                                   float(rows["k_a"].sum()), float(rows["k_b"].sum())))
    return out


@dataclass(frozen=True)
class ABSettings:
    """How an A/B test of two models is run: as :func:`compare_models`' arguments of the same names.

    ``method``: the paired test (:data:`assay.stats.abtest.METHODS`); ``pair_by``: what a
    prompt is (``"auto"``, ``"item"``, ``"prompt"``); ``preferences``: also sign-test the two
    models' pairwise comparisons.
    """

    method: str = "t"
    pair_by: str = "auto"
    preferences: bool = True


def _check_compare(store: Store, model_a: str, model_b: str, method: str, options: Options) -> None:
    if model_a == model_b:
        raise BadInput("model A and model B are the same")
    if method not in AB.METHODS:
        raise BadInput(f"method must be one of {', '.join(AB.METHODS)}, not {method!r}")
    _check_adjust(options)
    for m in (model_a, model_b):
        if store.find(R.Model, m) is None and not store.count("responses", model=m):
            raise NotFound(f"no model {m!r} in the store (see `assay ls`)")


def compare_models(
    store: Store,
    model_a: str,
    model_b: str,
    *,
    select: Selection = Selection(),
    options: Options = Options(),
    method: str = "t",
    pair_by: str = "auto",
    preferences: bool = True,
) -> dict[str, Any]:
    """B against A on every rubric dimension both were scored on, and on their pairwise preferences.

    ``select`` says which judgments count. Per dimension:
    :func:`assay.stats.abtest.paired_test` (``method``), p-values adjusted across
    dimensions (``options.adjust``: holm or fdr_bh), the minimum detectable effect at this
    n ((z_{1-alpha/2} + z_power) SE, Miller 2024 Sec. 5) and the verdict in words.
    Returns a JSON-ready dict with ``dimensions`` and ``preferences`` lists.
    (:func:`assay.analysis.sharded.compare_models_sharded` gives the same report from
    per-dataset summaries, locally or on Ray workers.)
    """
    _check_compare(store, model_a, model_b, method, options)
    scores = paired_scores(store, model_a, model_b, select=select, pair_by=pair_by)
    votes = (preference_votes(store, model_a, model_b, select=Selection(raters=select.raters, campaign=select.campaign))
             if preferences else [])
    data = ABScores(dimension_scores(scores), votes, scores.attrs.get("pair_by"))
    return compare_report(store, model_a, model_b, data, select=select, options=options, method=method)


@dataclass(frozen=True)
class ABScores:
    """What :func:`compare_report` tests: each dimension's paired scores, the preference votes (both
    possibly merged over shards), and how prompts were paired (reported as is)."""

    dimensions: Sequence[DimensionScores]
    preferences: Sequence[PreferenceVotes]
    pair_by: str | None


def compare_report(
    store: Store,
    model_a: str,
    model_b: str,
    scores: ABScores,
    *,
    select: Selection = Selection(),
    options: Options = Options(),
    method: str = "t",
) -> dict[str, Any]:
    """:func:`compare_models`' report from :class:`ABScores`."""
    dimensions, preferences, pair_by = scores.dimensions, scores.preferences, scores.pair_by
    sections: list[dict[str, Any]] = []
    results = []
    alpha, power, confidence, cluster = options.alpha, options.power, options.confidence, options.cluster
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    for ds in dimensions:
        rub, dim, n = ds.rubric, ds.dimension, ds.summary.n
        sec: dict[str, Any] = {"rubric": rub, "dimension": dim, "n": n, "k_a": ds.k_a / n, "k_b": ds.k_b / n}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                res = ds.summary.test(method=method, clustered=cluster, confidence=confidence,
                                      random_state=options.random_state)
        except ValueError as e:
            sec["error"] = str(e)
            sections.append(sec)
            continue
        try:
            lower = store.rubric(rub).dimension(dim).direction == "lower_is_better"
        except (KeyError, NotFound):
            lower = False
        sec.update(method=res.method, estimand=res.estimand, estimate=res.estimate, se=res.se,
                   naive_se=res.naive_se, ci_low=res.ci_low, ci_high=res.ci_high, pvalue=res.pvalue,
                   mean_a=res.mean_a, mean_b=res.mean_b, effect_size=res.effect_size,
                   n_clusters=res.n_clusters, mde=float(z * res.se), lower_is_better=lower)
        sections.append(sec)
        results.append((sec, res))
    if results:
        adjusted = AB.adjust_pvalues([r.pvalue for _, r in results], method=options.adjust)
        for (sec, res), p in zip(results, adjusted):
            sec["p_adjusted"] = float(p)
            sec["verdict"] = _line(res, dimension=sec["dimension"], model_a=model_a, model_b=model_b,
                                   p_adj=float(p), options=options, lower_is_better=sec["lower_is_better"])
    raters = select.raters
    report: dict[str, Any] = {
        "model_a": model_a, "model_b": model_b, "method": method, "adjust": options.adjust, "alpha": alpha,
        "power": power, "confidence": confidence, "pair_by": pair_by,
        "clustered": bool(cluster), "raters": list(raters) if raters else None, "dimensions": sections,
    }
    report["preferences"] = preference_report(preferences, model_a, model_b, options=options)
    return report


def _check_adjust(options: Options) -> None:
    if options.adjust not in ("holm", "fdr_bh"):
        raise BadInput(f"adjust must be holm or fdr_bh, not {options.adjust!r}")


def non_inferiority(
    store: Store,
    baseline: str,
    candidate: str,
    *,
    margin: float,
    select: Selection = Selection(),
    options: Options = Options(),
    pair_by: str = "auto",
) -> dict[str, Any]:
    """Is ``candidate`` no worse than ``baseline`` by more than ``margin`` on every dimension both were scored on?

    Scores are paired as in :func:`compare_models`; per dimension,
    :func:`assay.stats.noninferiority.non_inferiority_test` (on a lower-is-better dimension
    "worse" is higher), its one-sided p-values adjusted across dimensions (``options.adjust``:
    holm or fdr_bh). A dimension is non-inferior when its adjusted p is below ``options.alpha``; one with
    too few paired prompts has an ``error`` and counts as not shown. ``difference`` and
    ``lower`` (the one-sided lower bound) are candidate minus baseline in the better
    direction. Returns a JSON-ready dict whose ``non_inferior`` is True only when every
    dimension is.
    """
    from assay.stats.noninferiority import non_inferiority_test

    if baseline == candidate:
        raise BadInput("the baseline and the candidate are the same model")
    _check_adjust(options)
    alpha, adjust = options.alpha, options.adjust
    for m in (baseline, candidate):
        if store.find(R.Model, m) is None and not store.count("responses", model=m):
            raise NotFound(f"no model {m!r} in the store (see `assay ls`)")
    scores = paired_scores(store, baseline, candidate, select=select, pair_by=pair_by)
    sections: list[dict[str, Any]] = []
    tested = []
    for (rub, dim), rows in scores.groupby(["rubric", "dimension"], sort=False):
        try:
            lower = store.rubric(rub).dimension(dim).direction == "lower_is_better"
        except (KeyError, NotFound):
            lower = False
        sign = -1.0 if lower else 1.0
        sec: dict[str, Any] = {"rubric": rub, "dimension": dim, "n": len(rows), "lower_is_better": lower}
        try:
            res = non_inferiority_test(sign * rows["a"].to_numpy(float), sign * rows["b"].to_numpy(float),
                                       margin=margin, alpha=alpha, clusters=_clusters(rows, options.cluster))
        except ValueError as e:
            sec["error"] = str(e)
            sections.append(sec)
            continue
        sec.update(mean_baseline=res.mean_a * sign, mean_candidate=res.mean_b * sign, difference=res.estimate,
                   se=res.se, lower=res.lower, statistic=res.statistic, pvalue=res.pvalue, n_clusters=res.n_clusters)
        sections.append(sec)
        tested.append(sec)
    if tested:
        for sec, p in zip(tested, AB.adjust_pvalues([s["pvalue"] for s in tested], method=adjust)):
            sec["p_adjusted"] = float(p)
            sec["non_inferior"] = bool(p < alpha)
    return {"baseline": baseline, "candidate": candidate, "margin": margin, "alpha": alpha, "adjust": adjust,
            "pair_by": scores.attrs.get("pair_by"), "dimensions": sections,
            "non_inferior": bool(sections) and all(s.get("non_inferior") for s in sections)}


@dataclass(frozen=True)
class PreferenceVotes:
    """One (rubric, dimension)'s pairwise preferences of B over A as a mergeable summary.

    ``summary`` holds per item the sign of (raters preferring B) - (raters preferring A) as
    ``b`` (``a`` is 0) with the items' cluster keys; ``comparisons`` counts the comparisons,
    ``raters`` names who made them, ``first`` is the (created_at, id) of the earliest (the
    report lists sections in that order). Shards of disjoint items add with ``+``.
    """

    rubric: str | None
    dimension: str | None
    summary: AB.PairedSummary
    comparisons: int
    raters: frozenset
    first: tuple

    def __add__(self, other: PreferenceVotes) -> PreferenceVotes:
        if (self.rubric, self.dimension) != (other.rubric, other.dimension):
            raise ValueError("only the votes of one rubric dimension add up")
        return PreferenceVotes(self.rubric, self.dimension, self.summary + other.summary,
                               self.comparisons + other.comparisons, self.raters | other.raters,
                               min(self.first, other.first))


def _any_comparison(store: Store, select: Selection) -> bool:
    """Whether some comparison is by the selected raters in the selected campaign (one indexed row at most)."""
    c = T.comparisons
    stmt = sa_select(c.c.id).limit(1)
    if select.raters:  # (as comparisons_frame reads it: no raters named, every rater)
        stmt = stmt.where(c.c.rater_id.in_(list(select.raters)))
    if select.campaign is not None:
        stmt = stmt.where(c.c.campaign_id == select.campaign)
    with store.engine.connect() as conn:
        return conn.execute(stmt).first() is not None


def pair_votes(store: Store, model_a: str, model_b: str, *, raters: Sequence[str] | None = None,
               campaign: str | None = None, datasets: Sequence[str] | None = None) -> pd.DataFrame:
    """The current comparisons of A's response against B's (``comparisons_frame``'s columns), each with
    its ``vote``: +1 B preferred, -1 A preferred, 0 a tie or both bad. Empty when there are none."""
    cf = comparisons_frame(store, raters=raters, campaign=campaign, datasets=datasets)
    if cf.empty:
        return cf.assign(vote=pd.Series(dtype=float))
    ids = sorted(set(cf["first"]) | set(cf["second"]))
    resp = store.columns("responses", ["id", "model"], id=ids)
    model = dict(zip(resp["id"], resp["model"]))
    ma, mb = cf["first"].map(model), cf["second"].map(model)
    cf = cf[((ma == model_a) & (mb == model_b)) | ((ma == model_b) & (mb == model_a))].copy()
    first_is_b = (cf["first"].map(model) == model_b).to_numpy()
    vote = np.select([cf["label"] == "first", cf["label"] == "second"], [1.0, -1.0], 0.0)
    cf["vote"] = np.where(first_is_b, vote, -vote)
    return cf


def preference_votes(store: Store, model_a: str, model_b: str, *, select: Selection = Selection()
                     ) -> list[PreferenceVotes]:
    """Per (rubric, dimension), in order of first comparison, each item's vote (see :class:`PreferenceVotes`).

    ``select`` may name raters, a campaign and datasets.
    """
    select.only("raters", "campaign", "datasets", where="a preference test")
    if not _any_comparison(store, select):  # (an A/B test of scores alone skips reading comparisons)
        return []
    cf = pair_votes(store, model_a, model_b, raters=select.raters, campaign=select.campaign, datasets=select.datasets)
    if cf.empty:
        return []
    keys = pair_keys(store, cf["item_id"].unique(), "item")
    cf = cf.join(keys, on="item_id")
    out = []
    for (rub, dim), g in cf.groupby([cf["rubric"].fillna(""), cf["dimension"].fillna("")], sort=False):
        per_item = g.groupby("item_id").agg(vote=("vote", "sum"), cluster=("cluster", "first"),
                                            has_cluster=("has_cluster", "first"))
        clusters = per_item["cluster"] if per_item["has_cluster"].any() else None
        summary = AB.summarise_paired(per_item.index, np.zeros(len(per_item)), np.sign(per_item["vote"].to_numpy()),
                                      clusters=clusters)
        earliest = g.sort_values(["created_at", "id"]).iloc[0]
        out.append(PreferenceVotes(rub or None, dim or None, summary, len(g), frozenset(g["rater"]),
                                   (earliest["created_at"], earliest["id"])))
    return out


def preference_report(votes: Sequence[PreferenceVotes], model_a: str, model_b: str, *,
                      options: Options = Options()) -> list[dict[str, Any]]:
    """The sign test and B's win rate per (rubric, dimension) from (possibly merged) votes."""
    out = []
    for v in votes:
        sec: dict[str, Any] = {"rubric": v.rubric, "dimension": v.dimension, "items": v.summary.n,
                               "comparisons": v.comparisons, "raters": len(v.raters)}
        try:
            res = v.summary.test(method="sign", clustered=options.cluster, confidence=options.confidence)
        except ValueError as e:
            sec["error"] = str(e)
            out.append(sec)
            continue
        sec.update(wins_a=res.wins_a, wins_b=res.wins_b, ties=res.ties, win_rate_b=res.estimate,
                   ci_low=res.ci_low, ci_high=res.ci_high, se=res.se, pvalue=res.pvalue,
                   verdict=AB.verdict(res, dimension=v.dimension or "the pairwise comparisons",
                                      models=(model_a, model_b), alpha=options.alpha, power=options.power))
        out.append(sec)
    return out


def preference_test(
    store: Store,
    model_a: str,
    model_b: str,
    *,
    select: Selection = Selection(),
    options: Options = Options(),
) -> list[dict[str, Any]]:
    """Sign test and B's win rate on stored comparisons of A's response against B's, per (rubric, dimension).

    ``select`` may name raters and a campaign (comparisons have no rubric of their own to select by).
    """
    select.only("raters", "campaign", where="a preference test")
    return preference_report(preference_votes(store, model_a, model_b, select=select), model_a, model_b,
                             options=options)


def plan(
    mde: float,
    *,
    omega2: float,
    sigma2_a: float = 0.0,
    sigma2_b: float = 0.0,
    k_a: float = 1,
    k_b: float = 1,
    options: Options = Options(),
    ks: Sequence[float] = PLAN_KS,
) -> dict[str, Any]:
    """Items needed to detect ``mde`` (Miller 2024 Sec. 5), and the same for K = 1, 2, 4, 8, inf samples per item.

    ``n`` is :func:`assay.stats.power.sample_size` for the given K at ``options.alpha`` and
    ``options.power``; ``table`` varies K_A = K_B = K, showing how many items extra samples
    save (none when sigma^2 = 0).
    """
    kw = dict(omega2=omega2, sigma2_a=sigma2_a, sigma2_b=sigma2_b, alpha=options.alpha, power=options.power)
    try:
        n = AB.sample_size(mde, k_a=k_a, k_b=k_b, **kw)
        table = [{"k": k, "n": AB.sample_size(mde, k_a=k, k_b=k, **kw)} for k in ks]
    except ValueError as e:
        raise BadInput(str(e)) from None
    return {"mde": mde, **kw, "k_a": k_a, "k_b": k_b, "n": n, "table": table}


def resolve_run_models(store: Store, run_id: str) -> tuple[str, str]:
    """The two models a run generated (or whose responses it judged), alphabetically."""
    if store.find(R.Run, run_id) is None:
        raise NotFound(f"no run {run_id!r} in the store")
    models = set(store.frame("responses", run_id=run_id)["model"])
    if len(models) != 2:
        judged = store.frame("judgments", run_id=run_id)["response_id"]
        if len(judged):
            models = set(store.frame("responses", id=sorted(set(judged)))["model"])
    if len(models) != 2:
        raise BadInput(f"run {run_id} involves {len(models)} models, not 2: name the two models instead")
    a, b = sorted(models)
    return a, b


def plan_from_pilot(
    store: Store,
    model_a: str,
    model_b: str,
    *,
    mde: float,
    select: Selection,
    options: Options = Options(),
    k: tuple[float | None, float | None] = (None, None),
    pair_by: str = "auto",
) -> dict[str, Any]:
    """Plan from a pilot: variance components from stored per-prompt, per-sample scores, then :func:`plan`.

    ``select`` names the rubric and its one dimension (and may name raters and a campaign).
    Each sample's score is the mean of the raters' values on that response;
    :func:`assay.stats.power.estimate_variance_components` separates omega^2 from the
    per-sample variances (with one sample per prompt they cannot be separated and
    sigma^2 is 0). ``k`` is the samples per prompt (K_A, K_B) to plan for; each left at
    None is the pilot's (rounded). Also reports the pilot's own MDE.
    """
    rubric, dimension = select.rubric, select.dimension
    if rubric is None:
        raise BadInput("planning from a pilot needs a rubric", param="rubric")
    if dimension is None:
        raise BadInput("planning from a pilot needs a dimension", param="dimensions")
    k_a, k_b = k
    alpha, power = options.alpha, options.power
    rows = paired_scores(store, model_a, model_b, select=select, pair_by=pair_by, per_sample=True)
    if len(rows) < 2:
        raise BadInput(f"the pilot has {len(rows)} prompt(s) scored for both {model_a} and {model_b} on "
                       f"{rubric} / {dimension}; need at least 2")
    try:
        vc = AB.estimate_variance_components(rows["a"].tolist(), rows["b"].tolist())
    except ValueError as e:
        raise BadInput(str(e)) from None
    ka = k_a if k_a is not None else max(1, round(vc.k_a))
    kb = k_b if k_b is not None else max(1, round(vc.k_b))
    if vc.omega2 == 0 and vc.sigma2_a == 0 and vc.sigma2_b == 0:
        raise BadInput("the pilot shows no variance at all (every prompt the same difference): cannot plan")
    out = plan(mde, **vc.as_kwargs(), k_a=ka, k_b=kb, options=options)
    out["pilot"] = {"model_a": model_a, "model_b": model_b, "rubric": rubric, "dimension": dimension, "n": vc.n,
                    "k_a": vc.k_a, "k_b": vc.k_b, "omega2": vc.omega2, "sigma2_a": vc.sigma2_a,
                    "sigma2_b": vc.sigma2_b, "pair_by": rows.attrs.get("pair_by"),
                    "mde": AB.minimum_detectable_effect(vc.n, **vc.as_kwargs(), k_a=vc.k_a, k_b=vc.k_b,
                                                        alpha=alpha, power=power)}
    return out

