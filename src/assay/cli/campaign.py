"""`assay campaign`: create, list, export and close human rating campaigns; their edge cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from assay.cli._app import G, JsonOpt, app, console, emit_json, wants_json
from assay.errors import BadInput

campaign_app = typer.Typer(help="Human rating campaigns: create, list, export, close; edge cases.",
                           no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")


def _csv(v: str | None) -> list[str]:
    return [x.strip() for x in (v or "").split(",") if x.strip()]


def _read_units(path: Path) -> list[list[str]]:
    """Units from a file: one response id per line, or JSONL with "response_ids" (or "response_id")."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                d = json.loads(line)
                out.append(list(d["response_ids"]) if "response_ids" in d else [d["response_id"]])
            except (ValueError, KeyError) as e:
                raise BadInput(f"not a unit: {e}", file=str(path), line=n) from None
        else:
            out.append(line.split(","))
    return out


@campaign_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Campaign name (unique).")],
    rubric: Annotated[str, typer.Option(help="Rubric NAME[@VERSION].")] = "default",
    kind: Annotated[str, typer.Option(help="rate, compare (pairs) or rank (3+ responses).")] = "rate",
    dataset: Annotated[str | None, typer.Option(help="Take units from this dataset's responses.")] = None,
    models: Annotated[str | None, typer.Option(help="Only these models (comma-separated name@version).")] = None,
    responses: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                                   help="Units from a file: a response id per line, or JSONL.")] = None,
    dimensions: Annotated[str | None, typer.Option(help="Dimensions to rate (comma-separated; default all).")] = None,
    overlap: Annotated[int, typer.Option(min=1, help="Different raters per unit.")] = 1,
    gold: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="Gold answers (JSONL).")] = None,
    gold_share: Annotated[float, typer.Option(min=0, max=1, help="Share of each rater's work that is gold.")] = 0.0,
    calibration: Annotated[bool, typer.Option("--calibration", help="Everyone rates every unit; gold gets feedback.")] = False,
    not_blind: Annotated[bool, typer.Option("--not-blind", help="Show model names to raters.")] = False,
    min_justification: Annotated[int, typer.Option(min=0, help="Minimum justification length (characters).")] = 0,
    deadline: Annotated[str | None, typer.Option(help="Last day (YYYY-MM-DD or ISO time, UTC).")] = None,
    raters: Annotated[str | None, typer.Option(help="User names allowed to rate (default: every rater).")] = None,
    lead: Annotated[str | None, typer.Option(help="User name of the lead who owns it in the app.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the queue order and of the --select draw.")] = 0,
    select: Annotated[str, typer.Option(help="Which items to label: all (every unit), uniform (--budget items at "
                                             "random) or active (where --judge is least certain, --budget in "
                                             "expectation, weighted back in the analysis).")] = "all",
    budget: Annotated[int | None, typer.Option(help="Items to label with --select uniform or active (an item comes "
                                                    "with all its responses).")] = None,
    judge: Annotated[str | None, typer.Option(help="--select active: the judge whose uncertainty decides (rater id, "
                                                   "name or model).")] = None,
    uniform_mix: Annotated[float, typer.Option(help="--select active: share of the budget spread uniformly, so no "
                                                    "item's probability gets tiny.")] = 0.5,
    json_out: JsonOpt = False,
) -> None:
    """Create a campaign from a dataset's responses or a file of units."""
    from assay import annotate as A
    from assay import records as R
    from assay.analysis.active import SelectSpec, select_units, width_cost
    from assay.cli._boundary import flags_for

    store = G.store()
    if (dataset is None) == (responses is None):
        raise BadInput("give --dataset or --responses (one of them)")
    camp_kind = A.campaign_kind(kind)
    pick = SelectSpec(method=select, budget=budget, judge=judge, uniform_mix=uniform_mix, seed=seed)
    flags = {"select": "--select", "budget": "--budget", "judge": "--judge", "uniform_mix": "--uniform-mix"}
    with flags_for(**flags):
        pick.check()
    if select != "all" and dataset is None:
        raise BadInput("--select uniform or active draws items of a dataset: give --dataset", field="--select")
    design = None
    if dataset is not None:
        units = A.units_from_dataset(store, dataset, kind=camp_kind, models=_csv(models) or None)
        if select != "all":
            from assay.rubrics import get_rubric

            rub = get_rubric(store, rubric)
            with flags_for(**flags):
                units, design = select_units(store, units, pick, kind=camp_kind, rubric=rub.id,
                                             dimensions=_csv(dimensions) or None, dataset=dataset)
    elif responses is not None:
        units = _read_units(responses)
    else:  # checked above: one of them is given
        raise BadInput("give --dataset or --responses (one of them)")
    when = None
    if deadline:
        try:
            when = datetime.fromisoformat(deadline)
        except ValueError:
            raise BadInput(f"deadline {deadline!r} is not a date (YYYY-MM-DD)", field="deadline") from None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    camp = A.create_campaign(store, name, rubric=rubric, units=units,
                             spec=A.CampaignSpec(dimensions=_csv(dimensions) or None, overlap=overlap,
                                                 gold_share=gold_share, calibration=calibration, blind=not not_blind,
                                                 min_justification=min_justification, deadline=when,
                                                 raters=[R.Rater.make_id("human", r) for r in _csv(raters)] or None,
                                                 seed=seed, kind=camp_kind),
                             gold=A.read_gold(gold) if gold else (), created_by=lead, design=design)
    if wants_json(json_out):
        emit_json({**camp.model_dump(mode="json"), "units": len(units)})
        return
    console.print(f"created campaign {camp.name} (id {camp.id}): {len(units)} {kind} units, overlap {overlap}",
                  highlight=False)
    if design is not None:
        sel = design.selection
        how = (f"{sel.selected} of {sel.frame} items drawn at random" if sel.method == "uniform" else
               f"{sel.selected} of {sel.frame} items drawn (expected {sel.budget}) by judge {sel.judge}'s "
               f"uncertainty ({sel.signal}), {sel.uniform_mix:g} uniform; labels are weighted back by "
               f"their inclusion probabilities (if the judge's uncertainty does not track its errors, intervals "
               f"come out {width_cost(list(design.probabilities.values())):.2f} times as wide as from a uniform "
               "sample)")
        console.print(how, highlight=False)


@campaign_app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """List campaigns with their progress."""
    from assay.annotate.dashboard import progress_by_campaign

    store = G.store()
    rows = progress_by_campaign(store, sorted(store.list("campaigns"), key=lambda c: c.created_at))
    if wants_json(json_out):
        emit_json([{**r["campaign"].model_dump(mode="json"), **{k: v for k, v in r.items() if k != "campaign"}}
                   for r in rows])
        return
    t = Table("name", "id", "kind", "rubric", "status", "units", "gold", "overlap", "raters", "done", "progress")
    for r in rows:
        c = r["campaign"]
        t.add_row(c.name, c.id, c.kind, c.rubric, c.status, str(r["units"]), str(r["gold_units"]), str(c.overlap),
                  str(r["raters"]), str(r["done"]), "-" if r["share"] is None else f"{100 * r['share']:.0f}%")
    console.print(t)


@campaign_app.command("export")
def export(name: Annotated[str, typer.Argument(help="Campaign name or id.")],
           fmt: Annotated[str, typer.Option("--format", help="jsonl or csv (the answers); label-studio or argilla "
                                                              "(the units, as a project for that tool).")] = "jsonl",
           output: Annotated[Path | None, typer.Option("--output", "--out", "-o", help="File (default: stdout); a "
                                                       "folder for label-studio and argilla.")] = None,
           no_formula_guard: Annotated[bool, typer.Option(
               "--no-formula-guard", help="CSV: write cells as they are, for programs (by default a cell a "
                                          "spreadsheet would run as a formula gets a leading ').")] = False,
           json_out: JsonOpt = False) -> None:
    """Export a campaign's judgments (or comparisons), with model names unblinded; or its units as a
    Label Studio project or Argilla dataset (`--format label-studio|argilla --out FOLDER`)."""
    import sys

    from assay.annotate import get_campaign
    from assay.annotate.export import export_text
    from assay.cli._tools import TOOLS, export_to_tool

    if fmt in TOOLS:
        export_to_tool(name, fmt, output, json_out=wants_json(json_out))
        return
    if fmt not in ("jsonl", "csv"):
        raise BadInput(f"--format is jsonl, csv, {' or '.join(TOOLS)}")
    camp = get_campaign(G.store(), name)
    # streamed: a campaign of millions of answers is written as it is read
    counts: dict[str, int] = {}
    pieces = export_text(G.store(), camp, fmt, formula_guard=not no_formula_guard, ascii_json=True, counts=counts)
    if output:
        with output.open("w", encoding="utf-8", newline="") as f:
            for piece in pieces:
                f.write(piece)
        rows = counts["rows"]
        if wants_json(json_out):
            emit_json({"rows": rows, "out": str(output)})
        else:
            console.print(f"wrote {rows} rows to {output}")
    else:
        for piece in pieces:
            sys.stdout.write(piece)


@campaign_app.command("close")
def close(name: Annotated[str, typer.Argument(help="Campaign name or id.")]) -> None:
    """Close a campaign: no more assignments or submissions."""
    from assay.annotate import close_campaign

    camp = close_campaign(G.store(), name)
    console.print(f"closed {camp.name}")


@campaign_app.command("edges")
def edges(name: Annotated[str | None, typer.Argument(help="Campaign name or id (default: all).")] = None,
          collect: Annotated[bool, typer.Option("--collect", help="First add flagged and low-agreement items.")] = False,
          json_out: JsonOpt = False) -> None:
    """The open edge-case queue (of one campaign)."""
    from assay import annotate as A

    store = G.store()
    camp = A.get_campaign(store, name) if name else None
    if collect:
        new = A.collect_edge_cases(store, campaign_id=camp.id if camp else None)
        console.print(f"{len(new)} new edge case(s)")
    cases = A.edge_case_queue(store, campaign_id=camp.id if camp else None)
    if wants_json(json_out):
        emit_json([c.model_dump(mode="json") for c in cases])
        return
    t = Table("id", "rubric", "dimension", "source", "unit", "note")
    for c in cases:
        t.add_row(c.id, c.rubric, c.dimension or "", c.source, (c.response_id or c.item_id or "")[:12], c.note)
    console.print(t)


@campaign_app.command("resolve")
def resolve(case_id: str,
            clarification: Annotated[str, typer.Option(help="Text added to the guidelines.")],
            author: Annotated[str | None, typer.Option(help="Who wrote it.")] = None) -> None:
    """Resolve an edge case into a new guideline version (its lead's open campaigns on the rubric move to it)."""
    from assay.annotate import resolve_edge_case

    gv = resolve_edge_case(G.store(), case_id, clarification=clarification, author=author)
    console.print(f"guidelines of {gv.rubric} are now version {gv.version}")
