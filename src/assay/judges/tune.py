"""Tuning a rubric judge against people: candidate set-ups scored on a training split, checked on a held-out one.

    setups = builtin_candidates(["judge@1"])             # or read_candidates("candidates.yaml")
    result = tune_judge(session, "default", setups, dimension="factuality")
    result.chosen, result.held_out.gain[result.chosen], result.within_noise, result.tuned.id

The responses people labelled on the dimension (their consensus, as ``assay judge-report``
defines it) are split by item, with a seed, into a training and a held-out part; few-shot
exemplars are drawn from a pool set aside inside the training part (so no candidate is scored
on an answer it was shown). Every candidate grades the training and held-out responses through
the run engine (one resumable, cached run each). The set-up with the best training agreement is
chosen; the held-out part, which took no part in the choice, gives every candidate's agreement
with an interval and its gain over the baseline, corrected for the number of candidates
(``assay.stats.selection``). The chosen set-up is stored as a new version of a tuned judge: a
rater whose config holds the set-up and where it came from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from assay import records as R
from assay.errors import BadInput, NotFound
from assay.judges.candidates import SAMPLE_VOTES, Candidate, builtin_candidates, read_candidates

__all__ = ["SAMPLE_VOTES", "Candidate", "People", "TuneOptions", "TuneResult", "builtin_candidates",
           "human_consensus", "read_candidates", "tune_judge", "tuned_setup"]

if TYPE_CHECKING:
    from assay.judges.rubric import Exemplar
    from assay.session import Session
    from assay.stats.selection import HeldOut
    from assay.store import Store


@dataclass(frozen=True)
class People:
    """Whose labels are the truth, on which dimension."""

    dimension: str | None = None
    """The dimension to tune on (None: the rubric's only one)."""
    humans: Sequence[str] | None = None
    """These raters' labels (rater ids); None: every rater of ``human_kind``."""
    human_kind: str = "human"
    """The rater kind whose labels count when ``humans`` is None."""


@dataclass(frozen=True)
class TuneOptions:
    """How the labels are split and the candidates compared."""

    holdout: float = 0.5
    """Share of the labelled items held out (never used to choose)."""
    min_units: int = 10
    """Fewest labelled responses each split must have."""
    metric: str | None = None
    """``accuracy``, ``kappa``, ``kappa_quadratic`` or ``mae`` (None: by the scale, ``stats.selection.default_metric``)."""
    confidence: float = 0.95
    rounds: int = 2000
    """Bootstrap rounds of the held-out intervals."""
    seed: int = 0
    """Seed of the split, the exemplars and the bootstrap."""


@dataclass
class TuneResult:
    """What ``tune_judge`` found."""

    rubric: str
    dimension: str
    humans: list[str]
    baseline: str
    chosen: str
    train: dict[str, float | None]
    """Each candidate's agreement on the training split (what the choice was made on)."""
    held_out: HeldOut
    within_noise: bool
    """True when the chosen set-up's held-out gain over the baseline is not clear of zero (adjusted interval)."""
    warnings: list[str]
    splits: dict[str, int]
    candidates: list[Candidate]
    raters: dict[str, str]
    """Candidate -> the rater id of its verdicts."""
    runs: dict[str, str]
    coverage: dict[str, int] = field(default_factory=dict)
    """Candidate -> labelled responses it gave a verdict on."""
    tuned: R.Rater | None = None

    def to_dict(self) -> dict[str, Any]:
        h = self.held_out
        rows = [{"name": c.name, "setup": c.to_dict(), "rater": self.raters.get(c.name), "run": self.runs.get(c.name),
                 "judged": self.coverage.get(c.name), "train": self.train.get(c.name),
                 "held_out": h.estimate.get(c.name), "held_out_interval": list(h.interval.get(c.name, ())),
                 "gain": h.gain.get(c.name), "gain_interval": list(h.gain_interval.get(c.name, ())),
                 "p_holm": h.p_value.get(c.name)} for c in self.candidates]
        return {"rubric": self.rubric, "dimension": self.dimension, "humans": self.humans, "metric": h.metric,
                "higher_is_better": h.higher_is_better, "baseline": self.baseline, "chosen": self.chosen,
                "within_noise": self.within_noise, "warnings": self.warnings, "splits": self.splits,
                "confidence": h.confidence, "adjusted_confidence": h.adjusted_confidence, "rounds": h.rounds,
                "held_out_items": h.n_clusters, "candidates": rows,
                "tuned": None if self.tuned is None else {"id": self.tuned.id, "name": self.tuned.name}}


# ---- the labels -------------------------------------------------------------------------


def human_consensus(store: Store, rubric: R.Rubric, dimension: str, *, humans: Sequence[str] | None = None,
                    human_kind: str = "human") -> tuple[dict[str, Any], list[str]]:
    """Response id -> the people's consensus value on ``dimension`` (``analysis.agreement.consensus``), and the raters."""
    from assay.analysis.agreement import consensus
    from assay.analysis.frames import judgments_frame
    from assay.analysis.options import Selection

    scale = rubric.dimension(dimension).scale
    jf = judgments_frame(store, select=Selection(rubric=rubric.id, dimensions=[dimension],
                                                 raters=list(humans) if humans else None), texts=False)
    if not humans:
        jf = jf[jf["rater_kind"] == human_kind]
    col = "label" if scale.kind == "categorical" else "value"
    labels: dict[str, dict[Any, Any]] = {}
    for rater, g in jf.groupby("rater"):
        labels[str(rater)] = {u: v for u, v in zip(g["unit"], g[col]) if v is not None and v == v}
    raters = sorted(r for r, v in labels.items() if v)
    if not raters:
        who = f"raters {', '.join(humans)}" if humans else f"raters of kind {human_kind!r}"
        raise NotFound(f"no labels by {who} on {rubric.id} {dimension}: label some responses first "
                       "(a campaign, or `assay import` of human labels)")
    return consensus(labels, raters, scale.kind), raters


def _split(units: dict[str, str], options: TuneOptions) -> tuple[list[str], list[str]]:
    """Training and held-out response ids, split by item (responses to one prompt stay together)."""
    items = sorted(set(units.values()))
    rng = np.random.default_rng(options.seed)
    order = [items[i] for i in rng.permutation(len(items))]
    n_held = int(round(options.holdout * len(items)))
    held = set(order[:n_held])
    train = sorted(u for u, it in units.items() if it not in held)
    test = sorted(u for u, it in units.items() if it in held)
    return train, test


def _exemplar_pool(store: Store, rubric: R.Rubric, dimension: str, train: list[str], truth: dict[str, Any], k: int,
                   seed: int) -> list[Exemplar]:
    """``k`` training responses with their human value, spread over the values people gave (round robin)."""
    from assay.judges.rubric import Exemplar

    if k == 0:
        return []
    rng = np.random.default_rng([seed, 1])
    by_value: dict[str, list[str]] = {}
    for u in [train[i] for i in rng.permutation(len(train))]:
        by_value.setdefault(str(truth[u]), []).append(u)
    picked: list[str] = []
    queues = [by_value[v] for v in sorted(by_value)]
    while len(picked) < k and any(queues):
        for q in queues:
            if q and len(picked) < k:
                picked.append(q.pop(0))
    scale = rubric.dimension(dimension).scale
    responses = store.by_id(R.Response, picked)
    items = store.by_id(R.Item, {r.item_id for r in responses.values()})
    out = []
    for u in picked:
        r = responses[u]
        item = items[r.item_id]
        prompt = item.prompt_text() if item.prompt is not None else "\n\n".join(
            f"[{m.role}] {m.content}" for m in item.messages or [])
        out.append(Exemplar(prompt, r.text, ((dimension, _shown(scale, truth[u])),), source=u))
    return out


def _shown(scale: R.Scale, v: Any) -> str:
    if scale.kind == "binary":
        return scale.true_label if float(v) >= 0.5 else scale.false_label
    if scale.kind == "ordinal":
        return str(int(v))
    return str(v) if scale.kind == "categorical" else f"{float(v):g}"


def _code(scale: R.Scale, v: Any) -> Any:
    """A label as the metrics take it: a category index (levels rounded to the nearest), or the number."""
    if scale.kind == "continuous":
        return float(v)
    points = scale.points() or []
    if scale.kind == "categorical":
        return points.index(v)
    return int(np.argmin([abs(float(v) - p) for p in points]))


def _verdicts(store: Store, rater_id: str, rubric: str, dimension: str, units: set[str], scale: R.Scale,
              vote: str) -> dict[str, Any]:
    out = {}
    for j in store.iter(R.Judgment, rater_id=rater_id, rubric=rubric, dimension=dimension):
        if j.response_id not in units:
            continue
        v = j.label if scale.kind == "categorical" else j.value
        if vote == "mean" and j.detail.get("mean") is not None:
            v = j.detail["mean"]
        if v is not None:
            out[j.response_id] = v
    return out


# ---- tuning -----------------------------------------------------------------------------


def tune_judge(session: Session, rubric: str, candidates: Sequence[Candidate], *, people: People = People(),
               baseline: str | None = None, options: TuneOptions = TuneOptions(), name: str | None = None,
               store_result: bool = True) -> TuneResult:
    """Grade the human-labelled responses with every candidate, choose on training, check on held-out, store the choice.

    ``people`` says whose labels are the truth and on which dimension. ``baseline`` names the candidate gains are measured against (None: the first). ``name``
    names the tuned judge (None: ``tuned-RUBRIC-DIMENSION``); each tuning stores a new version.
    """
    from assay.judges import jobs
    from assay.judges.rubric import RubricPrompt
    from assay.rubrics import get_rubric
    from assay.stats.ranking import Bootstrap
    from assay.stats.selection import METRICS, agreement_scores, compare_to_baseline, default_metric

    store = session.store
    if not candidates:
        raise BadInput("no candidate set-ups to compare", param="candidates")
    names = [c.name for c in candidates]
    if len(set(names)) != len(names):
        raise BadInput("two candidates share a name", param="candidates")
    base = baseline if baseline is not None else names[0]
    if base not in names:
        raise BadInput(f"{base!r} is not a candidate's name", param="baseline")
    if not 0 < options.holdout < 1:
        raise BadInput("must lie strictly between 0 and 1", param="holdout")
    rub = get_rubric(store, rubric)
    dimension = people.dimension
    dims = [d.name for d in rub.dimensions]
    if dimension is None:
        if len(dims) != 1:
            raise BadInput(f"rubric {rub.id} has dimensions {dims}: name the one to tune on", param="dimension")
        dimension = dims[0]
    if dimension not in dims:
        raise BadInput(f"rubric {rub.id} has no dimension {dimension!r} (it has {dims})", param="dimension")
    scale = rub.dimension(dimension).scale
    metric = options.metric or default_metric(scale.kind)
    if metric not in METRICS or (metric == "mae") != (scale.kind == "continuous"):
        allowed = ["mae"] if scale.kind == "continuous" else [m for m in METRICS if m != "mae"]
        raise BadInput(f"on a {scale.kind} scale the metric must be one of {allowed}", param="metric")

    truth, raters = human_consensus(store, rub, dimension, humans=people.humans,
                                    human_kind=people.human_kind)
    item_of = {rid: r.item_id for rid, r in store.by_id(R.Response, truth).items()}
    truth = {u: v for u, v in truth.items() if u in item_of}
    train, test = _split(item_of, options)
    k_max = max(c.few_shot for c in candidates)
    pool = _exemplar_pool(store, rub, dimension, train, truth, k_max, options.seed)
    shown = {e.source for e in pool}
    train = [u for u in train if u not in shown]
    need = options.min_units
    if len(train) < need or len(test) < need:
        raise BadInput(f"too few human labels to split: {len(truth)} labelled responses on {rub.id} {dimension} "
                       f"({len(set(item_of.values()))} items) give {len(train)} to train on"
                       f"{f' after {len(pool)} exemplars' if pool else ''} and {len(test)} to hold out; "
                       f"each needs at least {need}: label more responses", param="labels")

    units = set(train) | set(test)
    raters_of, runs_of, verdicts = {}, {}, {}
    for c in candidates:
        prompt = RubricPrompt(dimensions=[dimension], template=c.template, samples=c.samples, criteria=c.criteria,
                              exemplars=tuple(pool[: c.few_shot]))
        run, rater = jobs.judge_rubric(session, list(c.judges), rub, prompt=prompt, aggregate=c.aggregate,
                                       response_ids=units)
        raters_of[c.name], runs_of[c.name] = rater.id, run.id
        verdicts[c.name] = _verdicts(store, rater.id, rub.id, dimension, units, scale, c.sample_vote)

    warnings: list[str] = []
    common = {u for u in units if all(u in verdicts[c.name] for c in candidates)}
    if len(common) < len(units):
        warnings.append(f"{len(units) - len(common)} of {len(units)} labelled responses lack a verdict from some "
                        "candidate (failed units); every candidate is scored on the responses all of them judged")
    tr = [u for u in train if u in common]
    te = [u for u in test if u in common]
    if not te or not tr:
        raise BadInput("no labelled response was judged by every candidate: see the runs' failed units", param="labels")
    n_cat = len(scale.points() or []) or None
    code = {c.name: {u: _code(scale, v) for u, v in verdicts[c.name].items()} for c in candidates}
    ref_tr = np.asarray([_code(scale, truth[u]) for u in tr])
    train_scores: dict[str, float | None] = {}
    for c in candidates:
        s = float(agreement_scores(np.asarray([code[c.name][u] for u in tr]), ref_tr, np.ones((1, len(tr))),
                                   metric=metric, n_categories=n_cat)[0])
        train_scores[c.name] = s if s == s else None
    sign = -1 if metric == "mae" else 1
    ranked = [n for n in names if train_scores[n] is not None]
    if not ranked:
        raise BadInput(f"{metric} is undefined on the training split for every candidate (one category only?)",
                       param="metric")
    chosen = max(ranked, key=lambda n: (sign * train_scores[n], n == base))  # ties: the baseline, else the first
    held = compare_to_baseline({c.name: [code[c.name][u] for u in te] for c in candidates},
                               [_code(scale, truth[u]) for u in te], [item_of[u] for u in te], baseline=base,
                               metric=metric, n_categories=n_cat,
                               bootstrap=Bootstrap(options.rounds, options.confidence, options.seed))
    lo, hi = held.gain_interval[chosen]
    within = chosen == base or not lo > 0
    if chosen == base:
        warnings.append(f"the baseline {base!r} was best on the training split: no gain to claim")
    elif within:
        warnings.append(f"held-out gain of {chosen!r} over {base!r} is within noise: {held.gain[chosen]:+.3f} "
                        f"[{lo:+.3f}, {hi:+.3f}] at {held.adjusted_confidence:.2%} (Bonferroni over "
                        f"{len(candidates) - 1} candidates), Holm p = {held.p_value[chosen]:.3g}")
    result = TuneResult(rubric=rub.id, dimension=dimension, humans=raters, baseline=base, chosen=chosen,
                        train=train_scores, held_out=held, within_noise=within, warnings=warnings,
                        splits={"train": len(tr), "held_out": len(te), "exemplar_pool": len(pool),
                                "labelled": len(truth)},
                        candidates=list(candidates), raters=raters_of, runs=runs_of,
                        coverage={n: len(v) for n, v in verdicts.items()})
    if store_result:
        best = next(c for c in candidates if c.name == chosen)
        result.tuned = _store_tuned(store, name or f"tuned-{rub.name}-{dimension}", best, pool[: best.few_shot],
                                    result, options)
    return result


def _store_tuned(store: Store, name: str, setup: Candidate, exemplars: Sequence[Exemplar], result: TuneResult,
                 options: TuneOptions) -> R.Rater:
    """The chosen set-up as the next version of the tuned judge ``name``, with where it came from."""
    from assay import __version__
    from assay.judges.rubric import load_rubric_template

    prefix = f"{name}@"
    versions = [int(r.name[len(prefix):]) for r in store.iter(R.Rater)
                if r.kind == "llm" and r.name.startswith(prefix) and r.name[len(prefix):].isdigit() and "tuned" in r.config]
    version = max(versions, default=0) + 1
    tpl = load_rubric_template(setup.template)
    stored_setup = {**setup.to_dict(), "template": tpl.spec(), "exemplars": [e.to_dict() for e in exemplars],
                    "rubric": result.rubric, "dimension": result.dimension}
    provenance = {"assay_version": __version__, "created_at": R.utcnow().isoformat(timespec="seconds"),
                  "options": dataclasses.asdict(options), "report": result.to_dict()}
    tuned = {"version": version, "setup": stored_setup, "rater": result.raters[setup.name], "provenance": provenance}
    rater = R.Rater(id=R.Rater.make_id("llm", f"{name}@{version}", stored_setup), kind="llm", name=f"{name}@{version}",
                    template_digest=tpl.digest, config={"tuned": tuned})  # no model: `--judge MODEL` stays unambiguous
    store.add([rater])
    return rater


def tuned_setup(store: Store, ref: str) -> tuple[Candidate, RubricPromptArgs]:
    """A stored tuned judge (rater id or NAME@VERSION) as its candidate and the prompt pieces to rebuild it."""
    from assay.judges._template import Template
    from assay.judges.rubric import Exemplar

    rater = store.find(R.Rater, ref) or next((r for r in store.iter(R.Rater) if r.kind == "llm" and r.name == ref), None)
    if rater is None or "tuned" not in rater.config:
        raise NotFound(f"no tuned judge {ref!r} (`assay judge-tune` stores them; `assay ls raters` lists raters)")
    s = rater.config["tuned"]["setup"]
    cand = Candidate(name=rater.name, judges=tuple(s["judges"]), criteria=s.get("criteria"),
                     few_shot=int(s["few_shot"]), samples=int(s["samples"]), sample_vote=s["sample_vote"],
                     aggregate=s["aggregate"])
    return cand, RubricPromptArgs(Template.from_spec(s["template"]), tuple(Exemplar.from_dict(e) for e in s["exemplars"]),
                                  s["rubric"], s["dimension"])


@dataclass(frozen=True)
class RubricPromptArgs:
    """The stored pieces of a tuned judge's prompt."""

    template: Any
    exemplars: tuple[Any, ...]
    rubric: str
    dimension: str
