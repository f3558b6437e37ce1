"""`assay calibration`: pick items raters disagree on, start a round, report it for the meeting, track alpha."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from assay.cli._app import G, JsonOpt, app, console, emit_json, wants_json

cal_app = typer.Typer(help="Calibration rounds: every rater rates the same items, then the team compares answers.",
                      no_args_is_help=True)
app.add_typer(cal_app, name="calibration")


def _alpha_cell(a: dict) -> str:
    return "—" if a.get("alpha") is None else f"{a['alpha']:.3f} ({a['units']})"


@cal_app.command("pick")
def pick(
    rubric: Annotated[str, typer.Option(help="Rubric NAME or NAME@VERSION.")],
    dimension: Annotated[list[str] | None, typer.Option(help="Only these dimensions.")] = None,
    n: Annotated[int, typer.Option(help="How many items.")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """The responses raters have disagreed on most so far."""
    from assay.analysis.calibration import most_disagreed
    from assay.rubrics import get_rubric

    store = G.store()
    df = most_disagreed(store, rubric=get_rubric(store, rubric).id, dimensions=dimension, n=n)
    if wants_json(json_out):
        emit_json(df.to_dict(orient="records"))
        return
    t = Table("response", "item", "raters", "spread")
    for r in df.itertuples():
        t.add_row(r.unit, r.item_id, str(r.raters), f"{r.spread:.2f}")
    console.print(t)


@cal_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Name of the calibration round (a campaign).")],
    rubric: Annotated[str, typer.Option(help="Rubric NAME or NAME@VERSION.")],
    rater: Annotated[list[str], typer.Option(help="A rater taking part (id or name; repeat for each).")],
    n: Annotated[int, typer.Option(help="How many of the most disagreed items to use.")] = 20,
    dimension: Annotated[list[str] | None, typer.Option(help="Only these dimensions.")] = None,
    gold: Annotated[Path | None, typer.Option(help="Use these gold items (with answers and explanations).")] = None,
    unit: Annotated[list[str] | None, typer.Option(help="Use these response ids.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the queue order.")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Start a calibration round every listed rater rates in full (gold items give feedback)."""
    from assay.analysis.calibration import RoundItems, create_round
    from assay.cli.agreement import resolve_raters
    from assay.rubrics import get_rubric

    store = G.store()
    raters = resolve_raters(store, rater, None) or []
    camp = create_round(store, name, rubric=get_rubric(store, rubric).id, raters=raters,
                        items=RoundItems(units=unit, gold_file=str(gold) if gold else None, n=n),
                        dimensions=dimension, seed=seed)
    if wants_json(json_out):
        emit_json(camp.model_dump(mode="json"))
    else:
        console.print(f"calibration round {camp.name} ({camp.id}) created for {len(raters)} raters; "
                      f"they find it in `assay serve`", highlight=False)


@cal_app.command("report")
def report(
    campaign: Annotated[str, typer.Argument(help="The round's campaign name or id.")],
    out: Annotated[Path | None, typer.Option(help="Write the report as Markdown (.md) or JSON (.json).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Items ranked by disagreement with each rater's answer and reason, and alpha before/within/after."""
    from assay.analysis.calibration import calibration_report, report_markdown

    rep = calibration_report(G.store(), campaign)
    if out:
        out.write_text(json.dumps(rep, indent=2, default=str) if out.suffix == ".json" else report_markdown(rep))
    if wants_json(json_out):
        emit_json(rep)
        return
    t = Table("dimension", "alpha before", "within the round", "after", title=f"calibration round {rep['name']}",
              title_justify="left")
    for a in rep["alpha"]:
        t.add_row(a["dimension"], _alpha_cell(a["before"]), _alpha_cell(a["within"]), _alpha_cell(a["after"]))
    console.print(t)
    for i, it in enumerate(rep["items"][:20], 1):
        console.print(f"\n[bold]{i}. response {it['unit'][:12]}[/bold] spread {it['spread']:.2f}", highlight=False)
        console.print(f"  prompt: {it['prompt'][:200]}", highlight=False, markup=False)
        for d in it["dimensions"][:3]:
            answers = "; ".join(f"{a['rater']}: {a['label'] if a['label'] is not None else a['value']} "
                                f"({a['justification'][:80]})" for a in d["answers"])
            console.print(f"  {d['dimension']}: {answers}", highlight=False, markup=False)
    if out:
        console.print(f"\nwrote {out}", highlight=False)


@cal_app.command("history")
def history_(
    rubric: Annotated[str, typer.Option(help="Rubric NAME or NAME@VERSION.")],
    json_out: JsonOpt = False,
) -> None:
    """Every calibration round on a rubric with alpha before, within and after it."""
    from assay.analysis.calibration import history

    rounds = history(G.store(), rubric)
    if wants_json(json_out):
        emit_json(rounds)
        return
    t = Table("round", "started", "dimension", "before", "within", "after")
    for r in rounds:
        for a in r["alpha"]:
            t.add_row(r["name"], f"{r['created_at']:%Y-%m-%d}", a["dimension"], _alpha_cell(a["before"]),
                      _alpha_cell(a["within"]), _alpha_cell(a["after"]))
    console.print(t)
