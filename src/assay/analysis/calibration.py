"""Calibration rounds: pick the items raters disagree on, review them together, and track alpha.

A calibration round is a campaign in calibration mode that every participating rater
rates in full (gold items give immediate feedback in the app). Its report ranks the
items by how much the raters' answers spread, with each answer and justification, for
the calibration meeting; its history shows Krippendorff's alpha among the same raters
before the round, within it, and after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay import records as R
from assay.analysis.agreement import alpha_among
from assay.analysis.frames import judgments_frame
from assay.analysis.options import Selection
from assay.errors import BadInput
from assay.store import Store
from assay.store import rating as S


def _spread(values: pd.Series, scale: str) -> float:
    """Numeric scales: standard deviation; labels: the share of answers that are not the most common."""
    v = values.dropna()
    if len(v) < 2:
        return 0.0
    if scale in ("categorical",):
        return float(1 - v.value_counts().iloc[0] / len(v))
    return float(np.std(v.astype(float), ddof=0))


def _scales(store: Store, rubric: str) -> dict[str, tuple[str, list | None]]:
    from assay.rubrics import get_rubric

    rub = get_rubric(store, rubric)
    return {d.name: (d.scale.kind, d.scale.points()) for d in rub.dimensions}


def most_disagreed(store: Store, *, rubric: str, dimensions: Sequence[str] | None = None, n: int = 20,
                   raters: Sequence[str] | None = None, campaign: str | None = None) -> pd.DataFrame:
    """Responses ranked by the spread of their ratings (summed over dimensions), most disagreed first."""
    df = judgments_frame(store, select=Selection(rubric=rubric, dimensions=dimensions, raters=raters,
                                                 campaign=campaign))
    if df.empty:
        return pd.DataFrame(columns=["unit", "item_id", "raters", "spread"])
    scales = _scales(store, rubric)
    rows = []
    for (unit, dim), part in df.groupby(["unit", "dimension"]):
        scale = scales[dim][0]
        col = "label" if scale == "categorical" else "value"
        rows.append({"unit": unit, "item_id": part["item_id"].iloc[0], "dimension": dim,
                     "raters": part["rater"].nunique(), "spread": _spread(part[col], scale)})
    per = pd.DataFrame(rows)
    per = per[per["raters"] >= 2]
    ranked = (per.groupby(["unit", "item_id"]).agg(raters=("raters", "max"), spread=("spread", "sum"))
              .reset_index().sort_values(["spread", "unit"], ascending=[False, True]))
    return ranked.head(n).reset_index(drop=True)


@dataclass(frozen=True)
class RoundItems:
    """What a calibration round shows: ``units`` (response ids) if given, else the gold items
    of ``gold_file``, else the ``n`` responses with the most disagreement so far."""

    units: Sequence[str] | None = None
    gold_file: str | None = None
    n: int = 20

    def __post_init__(self) -> None:
        if self.units is not None:
            object.__setattr__(self, "units", tuple(self.units))


def create_round(store: Store, name: str, *, rubric: str, raters: Sequence[str], items: RoundItems = RoundItems(),
                 dimensions: Sequence[str] | None = None, created_by: str | None = None,
                 seed: int = 0) -> R.Campaign:
    """A calibration campaign every listed rater rates in full, on the ``items`` chosen (:class:`RoundItems`).

    ``dimensions`` are the ones asked (None: all of the rubric's); ``seed`` shuffles the queue.
    """
    from assay.annotate import CampaignSpec, create_campaign, read_gold

    if len(raters) < 2:
        raise BadInput("a calibration round needs at least two raters")
    gold = read_gold(items.gold_file) if items.gold_file else []
    units: Sequence[str]
    if items.units is not None:
        units = items.units
    elif gold:
        units = []
    else:
        picked = most_disagreed(store, rubric=rubric, dimensions=dimensions, n=items.n)
        if picked.empty:
            raise BadInput(f"no response of rubric {rubric} has been rated by two raters yet: "
                           "give --gold FILE or --unit IDs")
        units = list(picked["unit"])
    return create_campaign(store, name, rubric=rubric, units=[[u] for u in units],
                           spec=CampaignSpec(dimensions=dimensions, overlap=len(raters),
                                             gold_share=1.0 if gold else 0.0, calibration=True, raters=list(raters),
                                             seed=seed),
                           gold=gold, created_by=created_by)


def _alpha(df: pd.DataFrame, scale: str, cats: list | None) -> dict[str, Any]:
    # within a window, a rater's last word counts
    return alpha_among(df.drop_duplicates(["unit", "rater"], keep="last"),
                       scale, "label" if scale == "categorical" else "value", cats)


def calibration_report(store: Store, campaign: str, *, text_limit: int = 600) -> dict[str, Any]:
    """The round's items ranked by spread, each rater's answer and reason; alpha before, within, after."""
    from assay.annotate import get_campaign

    camp = get_campaign(store, campaign)
    scales = _scales(store, camp.rubric)
    inside = judgments_frame(store, select=Selection(rubric=camp.rubric, campaign=camp.id))
    members = sorted(inside["rater"].unique())
    items: list[dict[str, Any]] = []
    if not inside.empty:
        gold = S.response_gold(store, camp.id)
        for unit, part in inside.groupby("unit"):
            resp = store.get(R.Response, unit)
            item = store.get(R.Item, resp.item_id)
            dims = []
            for dim, dpart in part.groupby("dimension"):
                scale = scales[dim][0]
                col = "label" if scale == "categorical" else "value"
                dims.append({
                    "dimension": dim, "spread": _spread(dpart[col], scale), "gold": gold.get((unit, dim)),
                    "answers": [{"rater": r["rater"], "value": r["value"], "label": r["label"],
                                 "justification": r["justification"], "flags": list(r["flags"] or []),
                                 "time_spent_s": r["time_spent_s"]} for _, r in dpart.sort_values("rater").iterrows()],
                })
            dims.sort(key=lambda d: -d["spread"])
            items.append({"unit": unit, "item_id": resp.item_id, "prompt": item.prompt_text()[:text_limit],
                          "response": resp.text[:text_limit], "spread": sum(d["spread"] for d in dims),
                          "dimensions": dims})
        items.sort(key=lambda x: (-x["spread"], x["unit"]))
    return {"campaign": camp.id, "name": camp.name, "rubric": camp.rubric, "raters": members,
            "guideline_version": camp.guideline_version, "items": items,
            "alpha": _before_within_after(store, camp, inside, members, scales)}


def _before_within_after(store: Store, camp: R.Campaign, inside: pd.DataFrame, members: list[str],
                         scales: dict[str, tuple[str, list | None]]) -> list[dict[str, Any]]:
    """Alpha among the round's raters outside the round before it started and after it ended."""
    if not members:
        return []
    everything = judgments_frame(store, select=Selection(rubric=camp.rubric, raters=members), latest_only=False)
    outside = everything[everything["campaign_id"].fillna("") != camp.id]
    start = camp.created_at
    end = inside["created_at"].max()
    out = []
    for dim in sorted(inside["dimension"].unique()):
        scale, cats = scales[dim]
        o = outside[outside["dimension"] == dim]
        out.append({
            "dimension": dim,
            "before": _alpha(o[o["created_at"] < start], scale, cats),
            "within": _alpha(inside[inside["dimension"] == dim], scale, cats),
            "after": _alpha(o[o["created_at"] > end], scale, cats),
        })
    return out


def history(store: Store, rubric: str) -> list[dict[str, Any]]:
    """Every calibration round on a rubric, oldest first, with alpha before, within and after it."""
    from assay.rubrics import get_rubric

    rub_id = get_rubric(store, rubric).id
    rounds = sorted((c for c in store.iter(R.Campaign, rubric=rub_id) if c.calibration),
                    key=lambda c: c.created_at)
    return [{"campaign": c.id, "name": c.name, "created_at": c.created_at,
             "alpha": calibration_report(store, c.id)["alpha"]} for c in rounds]


def report_markdown(report: dict[str, Any]) -> str:
    """The calibration report as Markdown for the meeting's notes (text from raters is quoted, not rendered)."""

    def q(text: Any) -> str:
        return str(text).replace("\n", " ").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")

    lines = [f"# Calibration round {q(report['name'])} ({report['rubric']}, guidelines v{report['guideline_version']})",
             "", f"Raters: {', '.join(q(r) for r in report['raters'])}", "", "## Agreement (Krippendorff's alpha)", "",
             "| dimension | before | within | after |", "| --- | --- | --- | --- |"]
    for a in report["alpha"]:
        cells = [("—" if a[k].get("alpha") is None else f"{a[k]['alpha']:.3f} (n={a[k]['units']})")
                 for k in ("before", "within", "after")]
        lines.append(f"| {a['dimension']} | " + " | ".join(cells) + " |")
    lines += ["", "## Items, most disagreement first", ""]
    for i, it in enumerate(report["items"], 1):
        lines += [f"### {i}. {it['unit'][:12]} (spread {it['spread']:.2f})", "", f"> **Prompt:** {q(it['prompt'])}",
                  ">", f"> **Response:** {q(it['response'])}", ""]
        for d in it["dimensions"]:
            gold = f"; gold {d['gold']['value'] if d['gold']['value'] is not None else d['gold']['label']}" \
                if d.get("gold") else ""
            lines += [f"**{d['dimension']}** (spread {d['spread']:.2f}{gold})", "", "| rater | answer | why |",
                      "| --- | --- | --- |"]
            for a in d["answers"]:
                ans = a["label"] if a["label"] is not None else a["value"]
                lines.append(f"| {q(a['rater'])} | {q(ans)} | {q(a['justification'])} |")
            lines.append("")
    return "\n".join(lines)
