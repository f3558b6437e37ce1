"""What a dataset's mix of topics does to a score: the score per topic, and re-weighted to another mix.

The score of a prompt comes from :func:`assay.analysis.abtest.paired_scores` (the A/B test's
pairing: a response's score is the mean of its raters', a prompt's the mean over samples;
only prompts both models were scored on), on one rubric dimension, matched by item. The
measure per prompt is B's win (1 when B scores better, 0.5 a tie, 0 worse; "better"
follows the dimension's direction), the difference B - A, or one model's score. Over
topics it is post-stratified (:func:`assay.stats.poststrat.poststratified_mean`) to the
target dataset's share of each topic, the target shares counted on its embedded prompts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from assay import records as R
from assay.analysis.options import Selection
from assay.errors import BadInput
from assay.stats.poststrat import poststratified_mean

if TYPE_CHECKING:
    from assay.analysis.profile import Prompts
    from assay.analysis.topics import Topics
    from assay.store import Store

MEASURES = ("win-rate", "difference", "score-a", "score-b")


@dataclass(frozen=True)
class ScoreSpec:
    """Which score a profile relates to topics: B against A on one rubric dimension, as ``measure``."""

    model_a: str
    model_b: str
    dimension: str
    rubric: str | None = None
    """NAME or NAME@VERSION; None: the one rubric that has ``dimension`` among the judgments."""
    measure: str = "win-rate"
    """``win-rate`` (B over A, ties half), ``difference`` (B - A), ``score-a`` or ``score-b``."""


@dataclass
class Scored:
    """Per scored prompt of the eval dataset: its index in the dataset's prompts and its measure."""

    spec: ScoreSpec
    dataset: str
    rubric: str
    indices: np.ndarray
    values: np.ndarray
    higher_is_better: bool


def read_scores(store: Store, prompts: Prompts, spec: ScoreSpec) -> Scored:
    """The measure of every prompt of ``prompts`` both models were scored on; BadInput naming the parameter at fault."""
    from assay.analysis.abtest import paired_scores
    from assay.rubrics import get_rubric

    if spec.measure not in MEASURES:
        raise BadInput(f"must be one of {', '.join(MEASURES)}, not {spec.measure!r}", param="measure")
    for param, model in (("model_a", spec.model_a), ("model_b", spec.model_b)):
        if store.find(R.Model, model) is None:
            raise BadInput(f"no model {model!r} in the store (see `assay ls`)", param=param)
    if spec.model_a == spec.model_b:
        raise BadInput("is model A: compare two different models", param="model_b")
    rubric = get_rubric(store, spec.rubric).id if spec.rubric else None
    rows = paired_scores(store, spec.model_a, spec.model_b, pair_by="item",
                         select=Selection(rubric=rubric, dimensions=(spec.dimension,), datasets=(prompts.dataset,)))
    if rows.empty:
        raise BadInput(f"no prompt of {prompts.dataset!r} has scores on {spec.dimension!r} from both "
                       f"{spec.model_a} and {spec.model_b}", param="dimension")
    rubrics = sorted(set(rows["rubric"]))
    if len(rubrics) > 1:
        raise BadInput(f"dimension {spec.dimension!r} is in several rubrics ({', '.join(rubrics)}): name one",
                       param="rubric")
    direction = store.rubric(rubrics[0]).dimension(spec.dimension).direction
    higher = direction != "lower_is_better"
    position = {it.id: i for i, it in enumerate(prompts.items)}
    keep = rows["key"].isin(position.keys()).to_numpy()
    rows = rows[keep]
    a, b = rows["a"].to_numpy(float), rows["b"].to_numpy(float)
    if spec.measure == "win-rate":
        better = b > a if higher else b < a
        values = np.where(a == b, 0.5, better.astype(float))
    elif spec.measure == "difference":
        values = b - a
    else:
        values = a if spec.measure == "score-a" else b
    return Scored(spec, prompts.dataset, rubrics[0], np.array([position[k] for k in rows["key"]], dtype=np.int64), values, higher)


def _mean_ci(y: np.ndarray, z: float, bounded: bool = False) -> tuple[float, float, float]:
    """The mean and its interval: for a win rate Wilson's score interval (ties count half; Wilson 1927), which
    stays inside [0, 1] and is not empty when every prompt went one way; otherwise normal. NaN bounds under two."""
    m, n = float(y.mean()), len(y)
    if n < 2:
        return m, float("nan"), float("nan")
    if bounded:
        centre = (m + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(m * (1 - m) / n + z * z / (4 * n * n))
        return m, float(max(centre - half, 0.0)), float(min(centre + half, 1.0))
    se = float(y.std(ddof=1) / np.sqrt(n))
    return m, m - z * se, m + z * se


def _what(spec: ScoreSpec) -> str:
    return {"win-rate": f"{spec.model_b}'s win rate over {spec.model_a}",
            "difference": f"{spec.model_b} minus {spec.model_a}",
            "score-a": f"{spec.model_a}'s mean score", "score-b": f"{spec.model_b}'s mean score"}[spec.measure]


def score_impact(scored: Scored, topics: Topics | None, *, target: str | None, confidence: float = 0.95,
                 rounds: int = 2000, interval: str = "bootstrap", random_state: int = 0) -> dict[str, Any]:
    """The measure on the eval set's own mix, per topic and, with a ``target`` dataset, re-weighted to its topics."""
    spec = scored.spec
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    bounded = spec.measure == "win-rate"
    est, low, high = _mean_ci(scored.values, z, bounded)
    what = _what(spec)
    out: dict[str, Any] = {"measure": spec.measure, "what": what, "model_a": spec.model_a, "model_b": spec.model_b,
                           "rubric": scored.rubric, "dimension": spec.dimension, "n": int(len(scored.values)),
                           "confidence": confidence, "eval": {"estimate": est, "low": low, "high": high},
                           "per_topic": [], "target": None}
    if topics is None:
        out["line"] = f"{what} on {spec.dimension}: {est:.3f} [{low:.3f}, {high:.3f}] (no topics: not re-weighted)"
        return out
    eval_name = scored.dataset
    where = {int(i): k for k, i in enumerate(topics.chosen[eval_name])}
    strata = np.array([topics.labels[eval_name][where[int(i)]] for i in scored.indices], dtype=object)
    by_topic = {c["topic"]: c for c in topics.clusters}
    for t in sorted(set(strata.tolist()), key=lambda s: (s == "(no topic)", int(s[1:]) if s[1:].isdigit() else 0)):
        m, lo, hi = _mean_ci(scored.values[strata == t], z, bounded)
        out["per_topic"].append({"topic": t, "title": by_topic.get(t, {}).get("title", t), "n": int((strata == t).sum()),
                                 "estimate": m, "low": lo, "high": hi})
    if target is None:
        out["line"] = f"{what} on {spec.dimension}: {est:.3f} [{low:.3f}, {high:.3f}] over {len(out['per_topic'])} topics"
        return out
    counts = topics.counts(target)
    r = poststratified_mean(scored.values, strata, counts, target_n=int(sum(counts.values())), method=interval,
                            confidence=confidence, rounds=rounds, random_state=random_state)
    uncovered = [{"topic": t, "share": r.strata[[s["stratum"] for s in r.strata].index(t)]["target_share"],
                  "title": by_topic.get(t, {}).get("title", t), "terms": by_topic.get(t, {}).get("terms", []),
                  "examples": by_topic.get(t, {}).get("examples", {}).get(target, [])} for t in r.uncovered]
    out["target"] = {"dataset": target, "estimate": r.estimate, "low": r.low, "high": r.high, "method": r.method,
                     "covered": r.covered, "uncovered": uncovered, "strata": r.strata}
    gap = f"; {1 - r.covered:.0%} of {target} is in topics the eval set lacks, left out" if r.uncovered else ""
    out["line"] = (f"on {target}'s mix of topics, {what} on {spec.dimension} is {r.estimate:.3f} "
                   f"[{r.low:.3f}, {r.high:.3f}], not the eval set's {est:.3f} [{low:.3f}, {high:.3f}]{gap}")
    return out
