"""`assay slices`: where does the outcome differ from the rest, with effect, interval and FDR-adjusted p."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Column, Table

from assay.cli._app import G, JsonOpt, app, console, emit_json, err_console, wants_json
from assay.cli._boundary import flags_for

FLAGS = {"features": "--feature", "metadata": "--metadata", "max_level": "--max-level", "min_size": "--min-size",
         "fdr": "--fdr", "alpha": "--alpha", "compare": "--compare", "verifier": "--verifier",
         "per_instruction": "--per-instruction", "redteam": "--redteam", "outcome": "--rubric"}


@app.command("slices")
def slices(
    rubric: Annotated[str | None, typer.Option(help="Outcome: this rubric's DIMENSION (NAME or NAME@VERSION).")] = None,
    dimension: Annotated[str | None, typer.Option(help="The rubric dimension.")] = None,
    threshold: Annotated[float | None, typer.Option(
        help="A failure is a mean score worse than this (default: the scale's middle).")] = None,
    mean: Annotated[bool, typer.Option("--mean", help="Slice the mean score, not the failure rate.")] = False,
    verifier: Annotated[str | None, typer.Option(
        help="Outcome: a program verifier's pass/fail: NAME, NAME(k=v) or a rater id.")] = None,
    per_instruction: Annotated[bool, typer.Option(
        "--per-instruction", help="One row per checked instruction of the verifier's verdicts (IFEval).")] = False,
    redteam: Annotated[bool, typer.Option("--redteam", help="Outcome: red-team attacks that worked.")] = False,
    model: Annotated[list[str] | None, typer.Option(help="Only this model's responses (repeat for more).")] = None,
    compare: Annotated[tuple[str, str] | None, typer.Option(
        help="A B: slice B's score minus A's per prompt (a regression between versions).")] = None,
    feature: Annotated[list[str] | None, typer.Option(
        help="Only these features (repeat); default: all that vary. meta:KEY adds an item metadata key.")] = None,
    metadata: Annotated[list[str] | None, typer.Option(help="Add this item metadata key as a feature.")] = None,
    max_level: Annotated[int, typer.Option(help="Predicates per slice: 1, or 2 for pairs.")] = 2,
    min_size: Annotated[int, typer.Option(help="Rows a slice needs to be tested.")] = 20,
    fdr: Annotated[str, typer.Option(help="bh (Benjamini-Hochberg) or by (Benjamini-Yekutieli, any dependence).")] = "bh",
    alpha: Annotated[float, typer.Option(help="Report slices whose adjusted p-value is below this.")] = 0.05,
    limit: Annotated[int, typer.Option(help="Rows shown (and saved with --save).")] = 20,
    show_all: Annotated[bool, typer.Option("--all", help="List every slice tested, significant or not.")] = False,
    save: Annotated[bool, typer.Option("--save", help="Write each significant slice on the bad side into the "
                                                      "failure library, with its evidence.")] = False,
    by: Annotated[str | None, typer.Option("--by", help="Who saves (stored as created_by).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Slices of the data (feature=value, and pairs) where the failure rate or mean differs from the rest."""
    from assay.analysis.slice_data import Outcome
    from assay.analysis.slice_store import save_slices, store_slices
    from assay.analysis.slices import SliceSearch
    from assay.errors import BadInput

    if limit < 1:
        raise BadInput(f"show at least one row, not {limit}", field="--limit")
    if fdr not in ("bh", "by"):
        raise BadInput(f"choose bh or by, not {fdr!r}", field="--fdr")
    outcome = Outcome(rubric=rubric, dimension=dimension, threshold=threshold, mean=mean, verifier=verifier,
                      per_instruction=per_instruction, redteam=redteam)
    search = SliceSearch(max_level=max_level, min_size=min_size, fdr=fdr, alpha=alpha)  # type: ignore[arg-type]
    quiet = wants_json(json_out)
    with flags_for(**FLAGS):
        store = G.store()
        found = store_slices(store, outcome, models=model, compare=compare, features=feature,
                             metadata=metadata or (), search=search,
                             say=(lambda m: None) if quiet else (lambda m: err_console.print(m, highlight=False)))
        saved = []
        if save:
            saved = save_slices(store, found, command="assay " + shlex.join(sys.argv[1:]), limit=limit,
                                worse=_bad_side(store, outcome, found), created_by=by)
    res = found.result
    if quiet:
        emit_json({**found.to_dict(), "saved": [e.entry for e in saved]})
        return
    for note in res.notes:
        err_console.print(note, highlight=False, markup=False)
    rows = res.slices if show_all else res.shown()
    what = "failure rate" if res.binary else ("B - A" if compare else "mean")
    head = (f"{outcome.describe(paired=compare is not None)}" + (f", {compare[1]} - {compare[0]} per prompt" if compare else "")
            + f": {res.rows} rows, overall {res.overall:.3f}; {res.tested} slices tested, "
            f"{int(res.slices['significant'].sum())} with {fdr.upper()}-adjusted p < {alpha:g}, "
            f"{len(res.shown())} listed (pairs only when they differ beyond both parents; --all lists every slice)")
    console.print(head, highlight=False, markup=False)
    if rows.empty:
        return
    t = Table(Column("slice", overflow="fold", ratio=3), "n", f"{what} in [CI]", "rest", "difference [CI]", "h" if res.binary else "d", "p", "p adj")
    for r in rows.head(limit).itertuples():
        t.add_row(escape(r.slice), str(r.n), f"{r.value_in:.3f} [{r.in_low:.3f}, {r.in_high:.3f}]",
                  f"{r.value_out:.3f}", f"{r.diff:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}]", f"{r.effect:+.2f}",
                  f"{r.p:.2g}", f"{r.p_adj:.2g}")
    console.print(t)
    if len(rows) > limit:
        console.print(f"... {len(rows) - limit} more (--limit, --json)", highlight=False)
    if save:
        console.print(f"saved {len(saved)} entries to the failure library: "
                      + (", ".join(e.entry for e in saved) or "none new"), highlight=False, markup=False)


def _bad_side(store, outcome, found):  # noqa: ANN001, ANN202
    """Which differences are worse: a higher failure rate; a lower mean unless lower is better."""
    if found.result.binary:
        return lambda d: d > 0
    from assay.analysis.slice_data import rubric_dimension

    _, dim = rubric_dimension(store, outcome.rubric, outcome.dimension)
    lower = dim.direction == "lower_is_better"
    return (lambda d: d > 0) if lower else (lambda d: d < 0)
