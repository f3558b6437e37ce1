"""Judge panels: several judge models on the same work, their verdicts kept and aggregated.

A panel is a rater of its own (kind ``llm``, name ``panel(...)``) whose verdicts are
aggregated from its members' by ``majority`` or ``mean``; each member's Judgment or
Comparison is stored too, under the member's own rater, and listed in the panel
record's ``detail["members"]``.
"""

from __future__ import annotations

import asyncio
import functools
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal, TypeVar

from assay import records as R
from assay.session import Usage
from assay.judges.pairwise import PairwiseJudge, signed
from assay.judges.rubric import RubricJudge
from assay.runs import Unit, WorkTask, unit_work, work_spec

AGGREGATES = ("majority", "mean")


def majority_value(values: Sequence[float]) -> float:
    """The most common value; when several are equally common, the lower median of all values."""
    counts = Counter(values).most_common()
    top = [v for v, n in counts if n == counts[0][1]]
    return top[0] if len(top) == 1 else statistics.median_low(values)


def aggregate_scores(values: Sequence[float], how: str) -> float:
    if how == "mean":
        return statistics.fmean(values)
    return majority_value(values)


Side = Literal["first", "second", "tie", "both_bad"]
J = TypeVar("J", RubricJudge, PairwiseJudge)


def aggregate_signed(scores: Sequence[float | None], how: str) -> tuple[Side, Literal[1, 2] | None, float]:
    """Outcome ('first', 'second', 'tie', 'both_bad'), strength and mean score of member verdicts on one pair.

    ``majority``: the side more than half the members chose, else a tie. ``mean``: the
    sign of the mean signed score (both-bad counted as 0), strength 2 from |mean| >= 1.5.
    """
    sides: list[Side] = ["both_bad" if s is None else "first" if s > 0 else "second" if s < 0 else "tie" for s in scores]
    numeric = [0.0 if s is None else s for s in scores]
    mean = statistics.fmean(numeric)
    if how == "majority":
        side, n = Counter(sides).most_common(1)[0]
        if 2 * n <= len(sides):
            return "tie", None, mean
        if side in ("first", "second"):
            chosen = [abs(s) for s, d in zip(numeric, sides) if d == side]
            return side, 2 if statistics.median_low(chosen) >= 2 else 1, mean
        return side, None, mean
    if all(s == "both_bad" for s in sides):
        return "both_bad", None, mean
    if mean == 0:
        return "tie", None, mean
    return ("first" if mean > 0 else "second"), (2 if abs(mean) >= 1.5 else 1), mean


class Panel:
    """Several rubric judges, or several pairwise judges, acting as one rater."""

    def __init__(self, members: Sequence[RubricJudge | PairwiseJudge], *, aggregate: str = "majority") -> None:
        if len(members) < 2:
            raise ValueError("a panel needs at least two judges")
        if aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}")
        kinds = {type(m) for m in members}
        if len(kinds) != 1:
            raise ValueError("a panel's judges must all be rubric judges or all pairwise judges")
        ids = [m.rater().id for m in members]
        if len(set(ids)) != len(ids):
            raise ValueError("a panel's judges must differ (the same judge twice)")
        self.members = list(members)
        self.aggregate = aggregate
        self.kind = members[0].kind

    def rater(self) -> R.Rater:
        members = [m.rater() for m in self.members]
        digests = {m.template_digest for m in members}
        name = "panel(" + "+".join(m.model_id for m in self.members) + ")"
        config = {"kind": f"panel-{self.kind}", "members": [m.id for m in members], "aggregate": self.aggregate}
        return R.Rater(id=R.Rater.make_id("llm", name, config), kind="llm", name=name,
                       template_digest=digests.pop() if len(digests) == 1 else None, config=config)

    def config(self) -> dict[str, Any]:
        return {"judge": self.rater().id, "aggregate": self.aggregate, "members": [m.config() for m in self.members]}

    def request_digests(self, *payload: Any) -> list[str]:
        return [d for m in self.members for d in m.request_digests(*payload)]

    def spec(self) -> dict[str, Any]:
        """The panel as plain data: ``from_spec`` rebuilds it (and its members) elsewhere."""
        return {"aggregate": self.aggregate, "members": [m.spec() for m in self.members]}

    def _judges(self, kind: type[J]) -> list[J]:
        """The members, all of type ``kind`` (a TypeError if this panel holds the other kind)."""
        judges = [m for m in self.members if isinstance(m, kind)]
        if len(judges) != len(self.members):
            raise TypeError(f"this panel's judges are not {kind.__name__}s")
        return judges

    @classmethod
    def from_spec(cls, spec: dict[str, Any], kind: str, clients: Any) -> Panel:
        judge = RubricJudge if kind == "judge" else PairwiseJudge
        return cls([judge.from_spec(m, clients) for m in spec["members"]], aggregate=spec["aggregate"])

    async def grade(self, item: R.Item, response: R.Response, *, run_id: str | None = None,
                    usage: Usage | None = None) -> list[R.Judgment]:
        """Members' Judgments, then the panel's (one per dimension), all to be stored."""
        usage = usage if usage is not None else Usage()
        judges = self._judges(RubricJudge)
        per_member = await asyncio.gather(*[m.grade(item, response, run_id=run_id, usage=usage) for m in judges])
        rater = self.rater()
        first = judges[0]
        out = [j for js in per_member for j in js]
        for d_i, dim in enumerate(first.dimensions):
            js = [member[d_i] for member in per_member]
            detail: dict[str, Any] = {"members": {j.rater_id: {"judgment": j.id, "value": j.value, "label": j.label} for j in js}}
            if dim.scale.kind == "categorical":
                labels = [j.label for j in js]
                label, value = Counter(labels).most_common(1)[0][0], None
            else:
                values = [j.value for j in js if j.value is not None]
                if len(values) != len(js):
                    raise ValueError(f"{dim.name}: a member's judgment on a {dim.scale.kind} scale has no value")
                value = aggregate_scores(values, self.aggregate)
                label = next((j.label for j in js if j.value == value), None)
                detail.update(mean=statistics.fmean(values), sd=statistics.pstdev(values))
                ws = [w for j in js if (w := j.detail.get("weighted")) is not None]
                if len(ws) == len(js):
                    detail["weighted"] = statistics.fmean(ws)
            out.append(R.Judgment(
                id=R.digest("judgment", rater.id, response.id, first.rubric.id, dim.name),
                response_id=response.id, rater_id=rater.id, rubric=first.rubric.id, dimension=dim.name,
                value=value, label=label, guideline_version=first.guideline_version, run_id=run_id,
                justification=f"{self.aggregate} of {len(js)} judges: " + ", ".join(
                    f"{m.model_id} {j.label if j.value is None else f'{j.value:g}'}" for m, j in zip(self.members, js)),
                detail=detail,
            ))
        return out

    async def compare(self, item: R.Item, first: R.Response, second: R.Response, *,
                      run_id: str | None = None, usage: Usage | None = None) -> list[R.Comparison]:
        """Members' Comparisons, then the panel's, all to be stored (the panel's last)."""
        usage = usage if usage is not None else Usage()
        judges = self._judges(PairwiseJudge)
        cs: list[R.Comparison] = list(await asyncio.gather(
            *[m.compare(item, first, second, run_id=run_id, usage=usage) for m in judges]))
        side, strength, mean = aggregate_signed([signed(c) for c in cs], self.aggregate)
        rater = self.rater()
        ids = [first.id, second.id]
        outcome: Literal["win", "tie", "both_bad"] = "win" if side == "first" or side == "second" else side
        lead = judges[0]
        panel = R.Comparison(
            id=R.digest("comparison", rater.id, item.id, ids, lead.rubric, lead.dimension),
            item_id=item.id, rater_id=rater.id, response_ids=ids, shown_order=ids, outcome=outcome,
            winner=first.id if side == "first" else second.id if side == "second" else None,
            strength=strength, rubric=lead.rubric, dimension=lead.dimension, run_id=run_id,
            guideline_version=lead.guideline_version,
            justification=f"{self.aggregate} of {len(cs)} judges: " + ", ".join(
                f"{m.model_id} {c.outcome}{'' if c.winner is None else ' ' + ('first' if c.winner == first.id else 'second')}"
                for m, c in zip(self.members, cs)),
            detail={"members": {c.rater_id: {"comparison": c.id, "score": signed(c),
                                             "consistent": c.detail.get("consistent")} for c in cs},
                    "mean": mean},
        )
        return [*cs, panel]


def panel_task(panel: Panel, payloads: Sequence[tuple], *, execution: dict[str, Any] | None = None) -> WorkTask:
    """A runs.Task for a panel: rubric payloads (item, response), pairwise ones (item, first, second)."""
    from assay.runs import run_id_for

    kind = "judge" if panel.kind == "judge" else "pairwise"
    keys = [p[1].id if kind == "judge" else f"{p[1].id}:{p[2].id}" for p in payloads]
    config = {**panel.config(), "units": R.digest("units", sorted(keys)), "execution": execution or {}}
    run_id = run_id_for(kind, config)
    clients = list({id(m.client): m.client for m in panel.members}.values())
    spec = work_spec("judge.panel", {"panel": panel.spec(), "kind": kind, "run_id": run_id})
    task = WorkTask(kind, config, [Unit(k, p) for k, p in zip(keys, payloads)],
                     functools.partial(_panel_unit, panel, kind, run_id), clients=clients, spec=spec,
                     digests=lambda p: panel.request_digests(*p), run_id=run_id)
    return task


async def _panel_unit(panel: Panel, kind: str, run_id: str, payload: tuple) -> Any:
    usage = Usage()
    if kind == "judge":
        recs = await panel.grade(payload[0], payload[1], run_id=run_id, usage=usage)
    else:
        recs = await panel.compare(*payload, run_id=run_id, usage=usage)
    return usage.outcome(recs[-1].id, recs)


@unit_work("judge.panel")
def _panel_work(config: dict[str, Any], clients: Any) -> WorkTask:
    """panel_task's unit work, rebuilt in a worker process."""
    panel = Panel.from_spec(config["panel"], config["kind"], clients)
    work = functools.partial(_panel_unit, panel, config["kind"], config["run_id"])
    return WorkTask(config["kind"], {}, [], work, clients=[m.client for m in panel.members])
