r"""Which items people should label: a campaign's sample of a dataset, uniform or driven by the judge's uncertainty.

Active statistical inference (Zrnic and Candès, "Active statistical inference", ICML 2024)
labels item ``i`` with probability :math:`\pi_i`, higher where the judge is less certain, and
weights each label by :math:`1/\pi_i` (:func:`assay.stats.ppi.active_mean`), so the estimate
stays unbiased and its interval valid while the labels go where the judge errs. For a mean the
variance is smallest with :math:`\pi_i \propto \sqrt{E[(Y - f)^2 \mid x_i]}` (their optimal
sampling rule for the mean, under the budget :math:`\sum_i \pi_i = n`); the judge's own spread
on item ``i`` stands in for that root mean squared error:

* **panel disagreement**: the spread of a panel's members' scores (``detail["members"]``);
* **K-sample spread**: the spread of one judge's K verdicts (``detail["samples"]``);
* **logprob confidence**: the standard deviation of the score distribution the judge's token
  probabilities give (``detail["probs"]``), or :math:`\sqrt{p(1-p)}` for a pairwise verdict's
  probability (``Comparison.probability``); both orders of a pairwise verdict disagreeing
  (``detail["consistent"] is False``) count as a spread of 0.5.

Spreads found together add as variances (within a sample, then between samples: the law of
total variance). An item's uncertainty is the root mean square over its responses and
dimensions, so an A/B item whose two answers are both uncertain counts for the difference. An
item the judge gave no signal for gets the mean of the others; when no item has one, every
item gets the same probability (a uniform Poisson draw).

The probabilities (:func:`design_probabilities`) are proportional to the uncertainty, capped at
1 and floored at ``pi_min`` with what the caps free spread over the others, scaled so they sum
to the budget, then mixed with the uniform ``budget / N`` (``uniform_mix``) so that no item's
weight is huge: the smallest probability is at least ``uniform_mix * budget / N``. The default
mix is 0.5: a judge's spread is a coarse proxy of its error (K samples or a two-judge panel
often agree exactly, a spread of 0, where the judge still errs), and with 0.2 such items got
weights five times the uniform one. In ``benchmarks/validate_active.py`` (budget 100, 1,000
repetitions) 0.5 gave intervals as narrow or narrower than 0.2 on every setting, as a multiple of
uniform PPI++'s width: PandaLM 1.13 against 1.67, the simulated judge with its K-sample spread
0.91 against 0.99, with its true error sd 0.86 against 0.87, with an uninformative signal 1.06
against 1.23 (``benchmarks/README.md``, "Active sampling coverage"). :func:`width_cost` says at
creation what the weights cost if the signal turns out to say nothing. Each item is then drawn independently
(:func:`poisson_draw`), seeded; an item comes with all its units (both answers of an A/B).

The campaign keeps how it was drawn (``Campaign.selection``) and every frame item's
probability (the ``campaign_frame`` table, migration 0015; one row per item of the frame, drawn
or not, since tuning ``lam`` needs every item's probability): :func:`inclusion_probabilities`
reads them back for the analysis.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay import records as R
from assay.errors import BadInput, NotFound
from assay.store import Store

METHODS = ("all", "uniform", "active")


@dataclass(frozen=True)
class SelectSpec:
    """Which of a dataset's items a campaign labels.

    ``method``: ``all`` (every unit, the default), ``uniform`` (``budget`` items drawn at
    random without replacement) or ``active`` (each item drawn with its own probability from
    ``judge``'s uncertainty, ``budget`` in expectation); ``uniform_mix`` and ``pi_min`` shape
    the active probabilities (:func:`design_probabilities`); ``seed`` makes the draw
    reproducible.
    """

    method: str = "all"
    budget: int | None = None
    judge: str | None = None
    uniform_mix: float = 0.5
    pi_min: float = 0.0
    seed: int = 0

    def check(self) -> None:
        """One-line errors for settings that cannot go together, before anything is read."""
        if self.method not in METHODS:
            raise BadInput(f"must be one of {', '.join(METHODS)}, not {self.method!r}", param="select")
        if self.method == "all":
            if self.budget is not None:
                raise BadInput("a budget needs a sample: select uniform or active", param="budget")
            if self.judge is not None:
                raise BadInput("the judge's uncertainty is used only to select active", param="judge")
            return
        if self.budget is None:
            raise BadInput(f"selecting {self.method} needs the number of items to label", param="budget")
        if self.budget < 2:
            raise BadInput(f"must be at least 2 (an interval needs two labels), got {self.budget}", param="budget")
        if self.method == "uniform" and self.judge is not None:
            raise BadInput("the judge's uncertainty is used only to select active", param="judge")
        if self.method == "active" and not self.judge:
            raise BadInput("selecting active needs the judge whose uncertainty decides", param="judge")
        if not 0 <= self.uniform_mix <= 1:
            raise BadInput(f"must lie in [0, 1], got {self.uniform_mix}", param="uniform_mix")
        if not 0 <= self.pi_min <= 1:
            raise BadInput(f"must lie in [0, 1], got {self.pi_min}", param="pi_min")


@dataclass(frozen=True)
class Design:
    """A drawn sample: the record of how, every frame item's probability, and the items drawn."""

    selection: R.CampaignSelection
    probabilities: dict[str, float]
    selected: frozenset[str]


# --- the probabilities and the draw (pure) ---------------------------------------------------


def design_probabilities(uncertainty: Sequence[float] | np.ndarray, budget: float, *, uniform_mix: float = 0.5,
                         pi_min: float = 0.0) -> np.ndarray:
    r"""Inclusion probabilities from ``uncertainty``: proportional, in [pi_min, 1], mixed with uniform, sum budget.

    :math:`\pi_i = (1 - \tau)\,\mathrm{clip}(c\,u_i, p_0, 1) + \tau\,n/N` with ``c`` found (by
    bisection) so that the clipped part sums to ``n``: what the cap at 1 takes from the most
    uncertain items goes to the others in proportion to their uncertainty, and the floor
    ``p_0 = pi_min`` is paid for by the rest likewise. ``tau = uniform_mix``. Items with zero
    uncertainty get ``p_0``; if the uncertain items cannot absorb the budget even at 1 each,
    the rest is spread evenly over the certain ones. A ValueError when an item would get
    probability 0 (all of ``uniform_mix``, ``pi_min`` and its uncertainty 0): it could never be
    labelled, and no weighting brings it back.

    >>> design_probabilities([1, 1, 2, 4], 2, uniform_mix=0).round(4).tolist()
    [0.25, 0.25, 0.5, 1.0]
    >>> design_probabilities([1, 1, 2, 4], 2, uniform_mix=0.5).round(4).tolist()
    [0.375, 0.375, 0.5, 0.75]
    """
    u = np.asarray(uncertainty, dtype=float)
    size = u.size
    if u.ndim != 1 or size == 0:
        raise ValueError("uncertainty must be a non-empty 1-D array")
    if not np.isfinite(u).all() or (u < 0).any():
        raise ValueError("uncertainty must be finite and non-negative")
    if not 0 < budget <= size:
        raise ValueError(f"budget must lie in (0, {size}] (the number of items), got {budget}")
    if not 0 <= uniform_mix <= 1 or not 0 <= pi_min <= 1:
        raise ValueError("uniform_mix and pi_min must lie in [0, 1]")
    if pi_min * size > budget:
        raise ValueError(f"pi_min {pi_min} on {size} items asks for more than the budget {budget}")
    active = _scaled(u, float(budget), pi_min)
    pi = (1 - uniform_mix) * active + uniform_mix * budget / size
    if (pi <= 0).any():
        raise ValueError(f"{int((pi <= 0).sum())} items would never be labelled (no uncertainty, no uniform share): "
                         "give uniform_mix or pi_min above 0")
    return np.minimum(pi, 1.0)


def _scaled(u: np.ndarray, budget: float, lo: float) -> np.ndarray:
    """clip(c * u, lo, 1) summing to ``budget``, by bisection on c (the sum rises with c)."""
    if not u.any():
        return np.full(u.size, budget / u.size)
    top = float(np.sum(np.where(u > 0, 1.0, lo)))
    if top <= budget:  # even at 1 each the uncertain items leave budget over: spread it on the rest
        out = np.where(u > 0, 1.0, 0.0)
        if not (u > 0).all():
            out[u == 0] = (budget - float(np.sum(u > 0))) / float(np.sum(u == 0))
        return out
    a, b = 0.0, 1.0
    while np.clip(b * u, lo, 1).sum() < budget:
        b *= 2
    for _ in range(80):  # c to 2**-80 of its bracket
        c = (a + b) / 2
        if np.clip(c * u, lo, 1).sum() < budget:
            a = c
        else:
            b = c
    return np.clip(b * u, lo, 1)


def width_cost(pi: Sequence[float] | np.ndarray) -> float:
    r"""How much wider than uniform sampling the weights make an interval when the uncertainty says nothing.

    With residuals of equal variance everywhere, the labelled part's variance under Poisson
    sampling is proportional to :math:`\sum_i 1/\pi_i` against :math:`N^2/n` for equal
    probabilities (Kish's design effect of unequal weights, *Survey Sampling*, 1965, section
    11.7); the width ratio is its square root, at most ``1 / sqrt(uniform_mix)``.

    >>> round(width_cost([0.5, 0.5, 0.5, 0.5]), 6), round(width_cost([0.25, 0.25, 0.5, 1.0]), 4)
    (1.0, 1.1726)
    """
    p = np.asarray(pi, dtype=float)
    return float(np.sqrt(np.sum(1 / p) * p.sum() / p.size**2))


def poisson_draw(pi: Sequence[float] | np.ndarray, seed: int) -> np.ndarray:
    """Independent Bernoulli(pi_i) draws (Poisson sampling), reproducible from ``seed``: True where drawn."""
    p = np.asarray(pi, dtype=float)
    return np.random.default_rng(seed).random(p.size) < p


# --- the judge's uncertainty, from stored verdicts ---------------------------------------------


def _pvar(values: Iterable[Any]) -> float | None:
    vals = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.pvariance(vals) if len(vals) >= 2 else None


def _dist_var(probs: Mapping[str, float]) -> float | None:
    """Variance of a score distribution {value: probability} (G-Eval's token probabilities)."""
    try:
        pts = [(float(k), float(p)) for k, p in probs.items()]
    except (TypeError, ValueError):
        return None
    mass = sum(p for _, p in pts)
    if not pts or mass <= 0:
        return None
    mean = sum(v * p for v, p in pts) / mass
    return sum(p * (v - mean) ** 2 for v, p in pts) / mass


def judgment_spread(j: R.Judgment) -> tuple[float | None, set[str]]:
    """Variance of a rubric verdict from what it stores, and which signals gave it (None, set() when none)."""
    d, var, signals = j.detail or {}, 0.0, set()
    v = _pvar(d.get("samples") or [])
    if v is not None:
        var, signals = var + v, signals | {"samples"}
    members = d.get("members")
    if isinstance(members, Mapping):
        v = _pvar(m.get("value") for m in members.values() if isinstance(m, Mapping))
        if v is not None:
            var, signals = var + v, signals | {"panel"}
    probs = d.get("probs")
    if isinstance(probs, Sequence) and probs and all(isinstance(p, Mapping) for p in probs):
        within = [x for p in probs if (x := _dist_var(p)) is not None]
        if within:
            var, signals = var + statistics.fmean(within), signals | {"logprobs"}
    return (var, signals) if signals else (None, signals)


def _win(score: Any) -> float | None:
    if not isinstance(score, (int, float)) or isinstance(score, bool):
        return None
    return 1.0 if score > 0 else 0.0 if score < 0 else 0.5


def comparison_spread(c: R.Comparison) -> tuple[float | None, set[str]]:
    """Variance of a pairwise verdict on the 1 / 0.5 / 0 scale, and which signals gave it."""
    d, var, signals = c.detail or {}, 0.0, set()
    if c.probability is not None:
        var, signals = var + c.probability * (1 - c.probability), signals | {"probability"}
    members = d.get("members")
    if isinstance(members, Mapping):
        v = _pvar(_win(m.get("score")) for m in members.values() if isinstance(m, Mapping))
        if v is not None:
            var, signals = var + v, signals | {"panel"}
    if "consistent" in d and d.get("orders"):
        var, signals = var + (0.25 if d["consistent"] is False else 0.0), signals | {"orders"}
    return (var, signals) if signals else (None, signals)


def item_uncertainty(store: Store, judge_id: str, responses: Mapping[str, str], *, rubric: str | None = None,
                     dimensions: Sequence[str] | None = None,
                     pairwise: bool = False) -> tuple[dict[str, float | None], set[str], int]:
    """Per item: the root mean squared spread of the judge's verdicts on its responses (None: no signal).

    ``responses`` maps response id to item id. Rubric verdicts (Judgments) are read, restricted
    to ``rubric`` and ``dimensions`` when given; with ``pairwise``, the judge's Comparisons on
    the items first, its Judgments only if it made none. Returns the uncertainties, the
    signals seen and the number of verdicts read.
    """
    items = sorted(set(responses.values()))
    per_item: dict[str, list[float]] = {}
    seen: dict[str, bool] = {}
    signals: set[str] = set()
    n = 0
    if pairwise:
        for start in range(0, len(items), 500):
            for c in store.iter(R.Comparison, rater_id=judge_id, item_id=items[start:start + 500]):
                if c.supersedes is not None or (rubric and c.rubric not in (None, rubric)):
                    continue
                n += 1
                seen[c.item_id] = True
                var, s = comparison_spread(c)
                if var is not None:
                    per_item.setdefault(c.item_id, []).append(var)
                    signals |= s
    if n == 0:
        ids = sorted(responses)
        dims = set(dimensions or [])
        for start in range(0, len(ids), 500):
            filters: dict[str, Any] = {"rater_id": judge_id, "response_id": ids[start:start + 500]}
            if rubric:
                filters["rubric"] = rubric
            for j in store.iter(R.Judgment, **filters):
                if dims and j.dimension not in dims:
                    continue
                n += 1
                item = responses[j.response_id]
                seen[item] = True
                var, s = judgment_spread(j)
                if var is not None:
                    per_item.setdefault(item, []).append(var)
                    signals |= s
    out: dict[str, float | None] = {i: (math.sqrt(statistics.fmean(per_item[i])) if i in per_item else None)
                                    for i in items}
    return out, signals, n


# --- a campaign's sample ------------------------------------------------------------------------


def _resolve_judge(store: Store, ref: str) -> R.Rater:
    from assay.analysis.judge_trust import resolve_rater

    return resolve_rater(store, ref)


def select_units(store: Store, units: Sequence[Sequence[str]], spec: SelectSpec, *, kind: str = "rate",
                 rubric: str | None = None, dimensions: Sequence[str] | None = None,
                 dataset: str | None = None) -> tuple[list[list[str]], Design | None]:
    """The units of the items ``spec`` draws, with the design to store beside the campaign (None: all units).

    Items are the frame: every item with a unit. ``rubric`` (name@version) and ``dimensions``
    restrict which of the judge's verdicts are read; ``dataset`` only names the data in messages.
    """
    spec.check()
    if spec.method == "all":
        return [list(u) for u in units], None
    ids = sorted({r for u in units for r in u})
    item_of = {rid: r.item_id for rid, r in store.by_id(R.Response, ids).items()}
    missing = [r for r in ids if r not in item_of]
    if missing:
        raise NotFound(f"{len(missing)} response(s) not in the store, e.g. {missing[0]!r}")
    by_item: dict[str, list[list[str]]] = {}
    for u in units:
        by_item.setdefault(item_of[u[0]], []).append(list(u))
    frame = sorted(by_item)
    where = f"dataset {dataset!r}" if dataset else "the units"
    budget = int(spec.budget or 0)
    if budget > len(frame):
        raise BadInput(f"{budget} is more than the {len(frame)} items of {where}", param="budget")
    judge_id, signal = None, None
    if spec.method == "uniform":
        rng = np.random.default_rng(spec.seed)
        drawn = {frame[i] for i in rng.choice(len(frame), budget, replace=False)}
        probs = dict.fromkeys(frame, budget / len(frame))
    else:
        judge = _resolve_judge(store, str(spec.judge))
        judge_id = judge.id
        unc, signals, n = item_uncertainty(store, judge_id, item_of, rubric=rubric, dimensions=dimensions,
                                           pairwise=kind != "rate")
        if n == 0:
            scope = (f" under rubric {rubric}" if rubric else "") + (f", dimensions {list(dimensions)}"
                                                                     if dimensions else "")
            raise BadInput(f"judge {judge_id!r} has no verdicts on {where}{scope}: run it first (assay judge)",
                           param="judge")
        known = [v for v in unc.values() if v is not None]
        fill = statistics.fmean(known) if known else 0.0
        u = np.array([unc[i] if unc[i] is not None else fill for i in frame])
        signal = "+".join(sorted(signals)) if known and u.any() else "none"
        try:
            pi = design_probabilities(u, budget, uniform_mix=spec.uniform_mix, pi_min=spec.pi_min)
        except ValueError as e:
            raise BadInput(str(e), param="uniform_mix") from None
        mask = poisson_draw(pi, spec.seed)
        drawn = {frame[i] for i in np.flatnonzero(mask)}
        probs = {i: float(p) for i, p in zip(frame, pi)}
        if len(drawn) < 2:
            raise BadInput(f"the draw with seed {spec.seed} picked {len(drawn)} item(s) of an expected {budget}; "
                           "an interval needs 2: raise the budget or change the seed", param="budget")
    selection = R.CampaignSelection(method=spec.method, budget=budget, frame=len(frame), selected=len(drawn),
                            seed=spec.seed, judge=judge_id, signal=signal,
                            uniform_mix=spec.uniform_mix if spec.method == "active" else 0.0,
                            pi_min=spec.pi_min if spec.method == "active" else 0.0)
    chosen = [u for i in frame if i in drawn for u in by_item[i]]
    return chosen, Design(selection, probs, frozenset(drawn))


def frame_rows(campaign_id: str, design: Design) -> list[dict[str, Any]]:
    """The ``campaign_frame`` rows of a design: one per frame item."""
    return [{"campaign_id": campaign_id, "item_id": i, "probability": p, "selected": i in design.selected}
            for i, p in sorted(design.probabilities.items())]


def _campaign(store: Store, ref: str) -> R.Campaign:
    """A campaign by id or name (as ``annotate.get_campaign``, which analyses do not import)."""
    camp = store.find(R.Campaign, ref) or next(iter(store.list(R.Campaign, name=ref)), None)
    if camp is None:
        raise NotFound(f"no campaign {ref!r} in the store")
    return camp


def frame(store: Store, campaign_ref: str) -> dict[str, tuple[float, bool]]:
    """Every frame item of a sampled campaign: (inclusion probability, drawn); empty for a campaign of all units."""
    from assay.store import rating as S

    return S.campaign_frame(store, _campaign(store, campaign_ref).id)


def inclusion_probabilities(store: Store, campaign_ref: str) -> dict[str, float] | None:
    """Item id -> probability that the campaign drew the item, for every item of its frame; None unless active.

    None for a campaign of every unit and for a uniform sample (``--select uniform``: a simple
    random sample, for which :func:`assay.stats.ppi.mean` and friends are right as they are).
    For an active campaign the keys are item ids, drawn or not (an item carries all its
    responses, so both answers of an A/B share it); pass, aligned by item,
    ``labelled`` (items with human labels) and these probabilities to
    :func:`assay.stats.ppi.active_paired_difference` or :func:`~assay.stats.ppi.active_mean`,
    over the items of the frame.
    """
    camp = _campaign(store, campaign_ref)
    if camp.selection is None or camp.selection.method != "active":
        return None
    return {item: p for item, (p, _) in frame(store, camp.id).items()}
