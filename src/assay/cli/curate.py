"""`assay curate`: clean a dataset into a new one, with a log of what each step removed and why."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

if TYPE_CHECKING:
    from rich.console import JustifyMethod

from assay.cli._app import G, JsonOpt, app, console, emit_json, progress, wants_json
from assay.cli._runs import on_interrupt

curate_app = typer.Typer(help="Curate data: deduplicate, filter and scrub a dataset into a new one, logging every removal.",
                         no_args_is_help=True)
app.add_typer(curate_app, name="curate")


@curate_app.command("steps")
def steps_(json_out: JsonOpt = False) -> None:
    """List the curation steps, what each does and the arguments it takes (with defaults)."""
    from assay.curate import describe, registrations

    rows = [describe(r) for r in registrations()]
    if wants_json(json_out):
        emit_json(rows)
        return
    t = Table(title="curation steps", title_justify="left")
    for col in ("step", "what it does", "arguments (defaults)"):
        t.add_column(col, overflow="fold")
    for r in rows:
        args = ", ".join(f"{k}={_show(v)}" for k, v in r["args"].items())
        t.add_row(r["name"], r["description"], args)
    console.print(t)


def _show(v: Any) -> str:
    import json

    return json.dumps(v, ensure_ascii=False)


@curate_app.command("run")
def run_(
    source: Annotated[str, typer.Option("--source", help="Dataset to read.")],
    target: Annotated[str, typer.Option("--target", help="New dataset to write the kept items to.")],
    steps_file: Annotated[Path | None, typer.Option("--steps", help="Pipeline file (YAML or JSON) listing the steps.")] = None,
    step: Annotated[list[str] | None, typer.Option("--step", help="A step, NAME or NAME(key=value, ...); repeatable, "
                                                   "applied after the file's steps, in order.")] = None,
    carry_responses: Annotated[bool, typer.Option("--carry-responses", help="Copy the kept items' responses, "
                                                  "judgments and comparisons to the target.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Apply the steps in order to SOURCE and write TARGET plus the log, as one transaction."""
    from assay.curate import curate, load_pipeline, parse_steps
    from assay.errors import BadInput

    chosen = load_pipeline(steps_file) if steps_file else []
    for k, text in enumerate(step or [], 1):
        try:
            chosen.extend(parse_steps(text))
        except ValueError as e:
            raise BadInput(str(e), field=f"--step {k}") from None
    if not chosen:
        raise BadInput("give the steps with --steps FILE or --step NAME(...)", field="--step")
    nothing = (f"interrupted: nothing was changed ({target} is written in one transaction); "
               "run the same command again to start it over")
    with on_interrupt(lambda: nothing), progress(transient=True) as bar:
        tasks: dict[str, Any] = {}

        def on_progress(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total, rate="")
            bar.update(tasks[label], completed=done)

        summary = curate(G.store(), source, target, chosen, carry_responses=carry_responses, on_progress=on_progress)
    if wants_json(json_out):
        emit_json(summary.as_dict())
        return
    t = Table(title=f"{source} -> {target} ({summary.run_id})", title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("step", "left"), ("removed", "right"), ("modified", "right"), ("left", "right"))
    for col, just in columns:
        t.add_column(col, justify=just)
    left = summary.total
    t.add_row("(source)", "", "", str(left))
    for s in summary.steps:
        left -= s["removed"]
        t.add_row(s["label"], str(s["removed"]), str(s["modified"]), str(left))
    console.print(t)
    if summary.already_done and not any(summary.added.values()):
        console.print(f"already done: run {summary.run_id} wrote {target}; nothing added", highlight=False)
    else:
        added = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in summary.added.items() if n)
        console.print(f"kept {summary.kept} of {summary.total} items; added {added or 'nothing'}", highlight=False)
    console.print(f"see why: assay curate log {summary.run_id}", highlight=False)


@curate_app.command("log")
def log_(
    run: Annotated[str | None, typer.Argument(help="Curation run id (see `assay curate runs`).")] = None,
    target: Annotated[str | None, typer.Option("--target", help="Runs that wrote this dataset.")] = None,
    step: Annotated[str | None, typer.Option("--step", help="Only this step (as the log names it, e.g. near-dup).")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many rows (0: all).", min=0)] = 50,
    json_out: JsonOpt = False,
) -> None:
    """What a curation removed or changed, item by item: the step, the reason and the related item."""
    from assay.errors import BadInput

    if (run is None) == (target is None):
        raise BadInput("give a run id or --target DATASET (one of them)", field="run")
    store = G.store()
    if run is not None and store.find("runs", run) is None:
        raise BadInput(f"no curation run {run!r} (see `assay curate runs`)", field="run")
    if target is not None and store.find("datasets", target) is None:
        raise BadInput(f"no dataset {target!r} in the store", field="--target")
    rows = _in_step_order(store, store.list("curation_log", run_id=run, target=target, step=step))
    if wants_json(json_out):
        emit_json([r.model_dump(mode="json") for r in (rows[:limit] if limit else rows)])
        return
    texts = _prompts(store, {i for r in rows[:limit or None] for i in (r.item_id, r.related_id) if i})
    t = Table(title=f"curation log: {len(rows)} rows" + (f" (first {limit})" if limit and len(rows) > limit else ""),
              title_justify="left")
    for col in ("step", "action", "item", "reason", "related item"):
        t.add_column(col, overflow="fold")
    for r in rows[:limit or None]:
        related = f"{r.related_id[:12]} {texts.get(r.related_id, '')}" if r.related_id else ""
        t.add_row(r.step, r.action, f"{r.item_id[:12]} {texts.get(r.item_id, '')}", r.reason, related)
    console.print(t)


def _in_step_order(store: Any, rows: list[Any]) -> list[Any]:
    """Log rows by run, then by the step's place in its pipeline, then by item."""
    place: dict[tuple[str, str], int] = {}
    for run_id in {r.run_id for r in rows}:
        run = store.find("runs", run_id)
        for k, s in enumerate(run.config.get("counts", {}).get("steps", []) if run else []):
            place[(run_id, s["step"])] = k
    return sorted(rows, key=lambda r: (r.run_id, place.get((r.run_id, r.step), 1 << 30), r.item_id))


def _prompts(store: Any, ids: set[str], width: int = 60) -> dict[str, str]:
    """A short quote of each item's prompt, for reading the log."""
    out = {}
    ids_ = sorted(ids)
    for k in range(0, len(ids_), 900):
        for it in store.iter("items", id=ids_[k:k + 900]):
            text = " ".join(it.prompt_text().split())
            out[it.id] = repr(text if len(text) <= width else text[:width - 1] + "…")
    return out


@curate_app.command("runs")
def runs_(json_out: JsonOpt = False) -> None:
    """The curation runs: source, target, steps, items kept and removed."""
    store = G.store()
    runs = sorted((r for r in store.iter("runs") if r.kind == "curate"), key=lambda r: r.started_at)
    rows = []
    for r in runs:
        counts = r.config.get("counts", {})
        rows.append({"run": r.id, "source": r.config.get("source"), "target": r.config.get("target"),
                     "steps": [s.get("label", s.get("step")) for s in counts.get("steps", [])],
                     "total": r.total, "kept": r.succeeded, "removed": r.total - r.succeeded,
                     "modified": sum(s.get("modified", 0) for s in counts.get("steps", [])),
                     "finished_at": r.finished_at})
    if wants_json(json_out):
        emit_json(rows)
        return
    t = Table(title=f"curation runs ({len(rows)})", title_justify="left")
    for col in ("run", "source", "target", "steps", "kept", "removed", "modified", "finished"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(r["run"], r["source"], r["target"], " + ".join(r["steps"]), str(r["kept"]), str(r["removed"]),
                  str(r["modified"]), f"{r['finished_at']:%Y-%m-%d %H:%M}" if r["finished_at"] else "")
    console.print(t)
