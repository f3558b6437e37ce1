"""`assay agreement`: inter-rater reliability per dimension, with intervals, humans and judges alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli._app import G, JsonOpt, app, console, emit_json, wants_json, confidence_option


def resolve_raters(store, tokens: list[str] | None, kinds: list[str] | None) -> list[str] | None:  # noqa: ANN001
    """Rater ids from ids, names or id prefixes, optionally only of some kinds; None means all."""
    from assay.errors import BadInput

    if not tokens and not kinds:
        return None
    tokens = [t.strip() for tok in tokens or [] for t in tok.split(",") if t.strip()]
    raters = store.list("raters")
    chosen = [r for r in raters if not kinds or r.kind in kinds]
    if tokens:
        picked = []
        for t in tokens:
            hits = [r for r in chosen if r.id == t or r.name == t or r.id.startswith(t)]
            if not hits:
                raise BadInput(f"no rater matches {t!r}")
            picked += hits
        chosen = list({r.id: r for r in picked}.values())
    return [r.id for r in chosen]


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def print_report(report: dict[str, Any], raters: dict[str, Any] | None = None) -> None:
    """The report as tables; ``raters`` (id to Rater) names the raters each section's figures cover."""
    from assay.report.raters import agreement_raters, describe_raters
    from assay.report.render import ci

    conf = int(round(report["confidence"] * 100))
    for sec in report["sections"]:
        covered = agreement_raters(sec)
        who = f": {describe_raters(covered, raters or {})}" if covered else ""
        title = (f"{sec.get('rubric', 'comparisons')} · {sec['dimension']} ({sec['scale']}): "
                 f"{sec['units']} units rated twice or more of {sec['units_total']}, {sec['ratings']} ratings "
                 f"by {sec['raters']} raters{who}")
        if sec.get("error"):
            console.print(f"[bold]{title}[/bold]\n  {sec['error']}", highlight=False)
            continue
        t = Table(title=title, title_justify="left")
        for col, just in (("coefficient", "left"), ("estimate", "right"), (f"{conf}% interval", "right"),
                          ("SE", "right"), ("method", "left")):
            t.add_column(col, justify=just)
        for c in sec["coefficients"]:
            if c.get("estimate") is None:
                t.add_row(c["coefficient"], "undefined", "", "", c.get("error", ""))
            else:
                t.add_row(c["coefficient"], _fmt(c["estimate"]), ci(c.get("low"), c.get("high")),
                          _fmt(c.get("se")), c["method"] + (f"; {c['note']}" if c.get("note") else ""))
        console.print(t)
        groups = sec.get("groups")
        if groups and groups["rows"]:
            g = Table(title="each rater against the human consensus", title_justify="left")
            for col in ("rater", "kind", "against", "units", "kappa", "alpha", "ρ", "exact", "mean kappa, each human"):
                g.add_column(col, justify="left" if col in ("rater", "kind", "against") else "right")
            for r in groups["rows"]:
                g.add_row(r["rater"], r["kind"], r["against"], str(r["n"]), _fmt(r.get("kappa"), 4),
                          _fmt(r.get("alpha")), _fmt(r.get("spearman")), _fmt(r.get("percent")),
                          _fmt(r.get("mean_kappa_with_each_human"), 4))
            console.print(g)
            if any(r["kind"] != "human" for r in groups["rows"]):  # the definition is of a judge against humans
                console.print(f"  {groups['definition']}", highlight=False)
            if groups.get("human_mean_alpha") is None:
                console.print("  humans vs humans: needs two or more human raters on shared units", highlight=False)
        for row in sec.get("by_guideline", []):
            console.print(f"  guideline v{row['guideline_version']}: alpha {_fmt(row.get('alpha'))} "
                          f"on {row['units']} units {row.get('error', '')}", highlight=False)


@app.command()
def agreement(
    rubric: Annotated[str | None, typer.Option(help="Rubric NAME or NAME@VERSION (default: every rubric judged).")] = None,
    dimension: Annotated[list[str] | None, typer.Option(help="Only these dimensions (repeatable).")] = None,
    raters: Annotated[list[str] | None, typer.Option("--rater", "--raters", help="Only these raters: id, name or id prefix (repeat, or separate with commas).")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="Only raters of these kinds: human, llm, program.")] = None,
    campaign: Annotated[str | None, typer.Option(help="Only judgments made in this campaign (id).")] = None,
    comparisons: Annotated[bool, typer.Option("--comparisons", help="Agreement on pairwise preferences instead.")] = False,
    by_guideline: Annotated[bool, typer.Option("--by-guideline", help="Also alpha per guideline version.")] = False,
    rounds: Annotated[int, typer.Option(help="Bootstrap resamples for the intervals.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed of the bootstrap.")] = 0,
    confidence: confidence_option("Interval confidence level.") = 0.95,
    out: Annotated[Path | None, typer.Option(help="Also write the report as JSON to this file.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Inter-rater reliability per dimension: units, raters and every coefficient with its interval."""
    from assay.analysis.agreement import agreement_report
    from assay.analysis.options import Options, Selection
    from assay.rubrics import get_rubric

    store = G.store()
    rubric_id = get_rubric(store, rubric).id if rubric else None
    select = Selection(rubric=rubric_id, dimensions=dimension, raters=resolve_raters(store, raters, kind),
                       campaign=campaign)
    report = agreement_report(store, select=select, options=Options(rounds=rounds, confidence=confidence,
                                                                    random_state=seed),
                              comparisons=comparisons, by_guideline=by_guideline)
    if out:
        out.write_text(json.dumps(report, indent=2, default=str))
    if wants_json(json_out):
        emit_json(report)
        return
    if not report["sections"]:
        console.print("no judgments match: import or collect some first (see `assay ls`)")
        return
    print_report(report, {r.id: r for r in store.list("raters")})
    if out:
        console.print(f"wrote {out}", highlight=False)
