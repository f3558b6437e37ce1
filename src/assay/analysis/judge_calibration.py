"""Calibrating a judge to people: the monotone map from its scores to the human scale, and how well it fits.

``judge_calibration(store, judge)`` pairs the judge's verdicts with the human raters' on the
same units and, per rubric dimension (numeric scales) and for its pairwise verdicts, fits the
isotonic regression of the people's value on the judge's score (``assay.stats.isotonic``;
Zadrozny and Elkan, KDD 2002):

- rubric dimensions: the judge's score (its value, or its probability-weighted score) to the
  mean of the people's values on the response;
- pairwise verdicts: the judge's preference for the pair's first response (its soft
  probability when stored; else 1 / 0 / 0.5 for first / second / tie or both bad, a
  "slightly better" verdict halfway to 0.5) to the share of people preferring it (a tie
  counts half): a calibrated win probability.

Each section gives the map, a reliability table (judge score bins: the judge's mean, the
people's mean, the calibrated mean) and the error to the people before and after calibration
(root mean squared error for scores, Brier score for preferences: squared errors, which the
least-squares map minimises), the calibrated one cross-fitted over folds of items so the map is
never scored on the units it was fitted on.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from assay import records as R
from assay.errors import BadInput, NotFound

if TYPE_CHECKING:
    from assay.store import Store

DEFINITION = ("isotonic regression (pool-adjacent-violators) of the people's value on the judge's score: the "
              "mean human value per response for rubric scores, the share of people preferring the first response "
              "for pairs (ties half); errors of the calibrated scores are cross-fitted over folds of items")


@dataclass(frozen=True)
class CalibrationOptions:
    """How a judge is calibrated."""

    weighted: bool = False
    """Rubric scores: calibrate the probability-weighted score (logprobs) instead of the value."""
    folds: int = 5
    """Folds of items for the cross-fitted error of the calibrated scores."""
    bins: int = 10
    """Reliability bins (quantiles of the judge's score) when it takes more distinct values than this."""
    min_pairs: int = 10
    """Fewest (judge, people) pairs a section needs."""
    seed: int = 0
    """Seed of the folds."""


def _human_raters(store: Store, humans: Sequence[str] | None, kind: str) -> list[str]:
    if humans:
        for h in humans:
            if store.find(R.Rater, h) is None:
                raise NotFound(f"no rater {h!r}")
        return list(humans)
    return [r.id for r in store.iter(R.Rater) if r.kind == kind]


def _section(x: np.ndarray, y: np.ndarray, items: np.ndarray, *, metric: str, options: CalibrationOptions
             ) -> dict[str, Any]:
    from assay.stats.isotonic import fit_isotonic

    fitted = fit_isotonic(x, y)
    uniq = np.unique(items)
    rng = np.random.default_rng(options.seed)
    fold_of_item = dict(zip(uniq[rng.permutation(uniq.size)], np.arange(uniq.size) % max(2, options.folds)))
    fold = np.array([fold_of_item[i] for i in items])
    oof = np.full(x.size, np.nan)
    for f in np.unique(fold):
        test = fold == f
        if (~test).any():
            oof[test] = fit_isotonic(x[~test], y[~test])(x[test])

    def err(pred: np.ndarray) -> float:
        mse = float(np.mean((pred - y) ** 2))
        return mse ** 0.5 if metric == "rmse" else mse

    distinct = np.unique(x)
    if distinct.size <= options.bins:
        bin_of = np.searchsorted(distinct, x)
        edges = [(float(v), float(v)) for v in distinct]
    else:
        qs = np.unique(np.quantile(x, np.linspace(0, 1, options.bins + 1)))
        bin_of = np.clip(np.searchsorted(qs, x, side="right") - 1, 0, qs.size - 2)
        edges = [(float(qs[i]), float(qs[i + 1])) for i in range(qs.size - 1)]
    rows = []
    for b, (lo, hi) in enumerate(edges):
        m = bin_of == b
        if m.any():
            rows.append({"low": lo, "high": hi, "n": int(m.sum()), "judge_mean": float(x[m].mean()),
                         "human_mean": float(y[m].mean()), "calibrated_mean": float(oof[m].mean())})
    return {"n": int(x.size), "items": int(uniq.size), "map": fitted.to_dict(), "reliability": rows,
            "loss": {"metric": metric, "raw": err(x), "calibrated": err(oof), "folds": int(np.unique(fold).size)}}


def _rubric_sections(store: Store, judge: R.Rater, humans: list[str], rubric: str | None, dimension: str | None,
                     options: CalibrationOptions) -> list[dict[str, Any]]:
    from assay.analysis.frames import judgments_frame
    from assay.analysis.options import Selection
    from assay.rubrics import get_rubric

    mine = [j for j in store.iter(R.Judgment, rater_id=judge.id, rubric=rubric, dimension=dimension)
            if j.value is not None]
    by_dim: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for j in sorted(mine, key=lambda j: j.created_at):  # the latest verdict per response counts
        score = j.detail.get("weighted") if options.weighted else j.value
        if score is not None:
            by_dim[(j.rubric, j.dimension)][j.response_id] = float(score)
    out = []
    for (rub_id, dim), scores in sorted(by_dim.items()):
        try:
            scale = get_rubric(store, rub_id).dimension(dim).scale
        except (NotFound, KeyError):
            continue
        sec: dict[str, Any] = {"kind": "rubric", "rubric": rub_id, "dimension": dim, "scale": scale.kind,
                               "score": "weighted" if options.weighted else "value"}
        if scale.kind == "categorical":
            out.append({**sec, "error": "a categorical scale has no order to calibrate on"})
            continue
        jf = (judgments_frame(store, select=Selection(rubric=rub_id, dimensions=[dim], raters=humans), texts=False)
              if humans else None)
        values: dict[str, list[float]] = defaultdict(list)
        item_of: dict[str, str] = {}
        if jf is not None:
            for u, it, v in zip(jf["unit"], jf["item_id"], jf["value"]):
                if u in scores and v is not None and v == v:
                    values[u].append(float(v))
                    item_of[u] = it
        units = sorted(values)
        if len(units) < options.min_pairs:
            out.append({**sec, "n": len(units), "error": f"{len(units)} responses have both the judge's score and a "
                        f"human label; calibration needs at least {options.min_pairs}"})
            continue
        x = np.array([scores[u] for u in units])
        y = np.array([statistics.fmean(values[u]) for u in units])
        out.append({**sec, **_section(x, y, np.array([item_of[u] for u in units]), metric="rmse", options=options)})
    return out


def _preference(c: R.Comparison, first: str) -> float:
    """The judge's preference for ``first``, in [0, 1]."""
    if c.probability is not None:
        return c.probability if c.response_ids[0] == first else 1 - c.probability
    if c.outcome != "win":
        return 0.5
    sure = 0.25 if c.strength == 1 else 0.5
    return 0.5 + sure if c.winner == first else 0.5 - sure


def _pairwise_section(store: Store, judge: R.Rater, humans: list[str], options: CalibrationOptions
                      ) -> dict[str, Any] | None:
    from assay.analysis.frames import comparisons_frame

    mine = [c for c in store.iter(R.Comparison, rater_id=judge.id) if len(c.response_ids) == 2]
    if not mine:
        return None
    df = comparisons_frame(store, raters=[judge.id, *humans])
    sec: dict[str, Any] = {"kind": "pairwise", "score": "preference for the first response"}
    firsts = dict(zip(df["unit"], df["first"]))
    items = dict(zip(df["unit"], df["item_id"]))
    latest: dict[str, R.Comparison] = {}
    for c in sorted(mine, key=lambda c: c.created_at):
        latest[f"{c.item_id}:{':'.join(sorted(c.response_ids))}"] = c
    votes: dict[str, list[float]] = defaultdict(list)
    share = {"first": 1.0, "second": 0.0, "tie": 0.5, "both_bad": 0.5}
    hum = df[df["rater"].isin(set(humans))]
    for u, lab in zip(hum["unit"], hum["label"]):
        if u in latest:
            votes[u].append(share[lab])
    units = sorted(votes)
    if len(units) < options.min_pairs:
        return {**sec, "n": len(units), "error": f"{len(units)} pairs have both the judge's verdict and a human "
                f"one; calibration needs at least {options.min_pairs}"}
    x = np.array([_preference(latest[u], firsts[u]) for u in units])
    y = np.array([statistics.fmean(votes[u]) for u in units])
    return {**sec, **_section(x, y, np.array([items[u] for u in units]), metric="brier", options=options)}


def judge_calibration(store: Store, judge: str, *, humans: Sequence[str] | None = None, human_kind: str = "human",
                      rubric: str | None = None, dimension: str | None = None,
                      options: CalibrationOptions = CalibrationOptions()) -> dict[str, Any]:
    """The judge's calibration to the people, per rubric dimension and for its pairwise verdicts."""
    from assay.analysis.judge_trust import resolve_rater
    from assay.rubrics import get_rubric

    if options.folds < 2:
        raise BadInput("must be at least 2", param="folds")
    rater = resolve_rater(store, judge)
    rubric_id = get_rubric(store, rubric).id if rubric else None
    people = _human_raters(store, humans, human_kind)
    if not people:
        raise NotFound(f"no raters of kind {human_kind!r} in the store: calibration needs human labels")
    sections = _rubric_sections(store, rater, people, rubric_id, dimension, options)
    pair = _pairwise_section(store, rater, people, options) if rubric is None and dimension is None else None
    if pair is not None:
        sections.append(pair)
    if not sections:
        raise NotFound(f"rater {rater.id} has no numeric judgments or pairwise comparisons"
                       f"{' on ' + rubric_id if rubric_id else ''}{' ' + dimension if dimension else ''}")
    return {"judge": {"id": rater.id, "name": rater.name}, "humans": people, "definition": DEFINITION,
            "sections": sections}
