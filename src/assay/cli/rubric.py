"""`assay rubric`: show, validate, add and list rubrics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from assay.cli._app import G, JsonOpt, app, console, emit_json, wants_json

rubric_app = typer.Typer(help="Show, validate, add and list rubrics.", no_args_is_help=True)
app.add_typer(rubric_app, name="rubric")


def _load(ref: str):  # noqa: ANN202
    from assay.rubrics import builtin_names, get_rubric, load_rubric

    if Path(ref).exists():
        return load_rubric(ref)
    if ref.partition("@")[0] in builtin_names() and not _store_exists():
        return load_rubric(ref.partition("@")[0])  # showing a built-in rubric need not create a store
    return get_rubric(G.store(), ref)


def _store_exists() -> bool:
    from assay.store.engine import resolve_url

    url = resolve_url(G.db)
    return not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).exists()


@rubric_app.command("show")
def show(ref: Annotated[str, typer.Argument(help="A rubric file, or NAME[@VERSION] of a stored or built-in rubric.")],
         json_out: JsonOpt = False) -> None:
    """Show a rubric's dimensions, scales and level anchors."""
    rub = _load(ref)
    if wants_json(json_out):
        emit_json(rub.model_dump(mode="json"))
        return
    console.print(f"[bold]{rub.id}[/bold]  {rub.description}", highlight=False)
    for dim in rub.dimensions:
        t = Table(title=f"{dim.name} ({dim.scale.kind}, {dim.direction.replace('_', ' ')})", title_justify="left",
                  caption=dim.description, caption_justify="left", show_lines=True)
        if dim.scale.kind == "ordinal":
            t.add_column("level", justify="right")
            t.add_column("label")
            t.add_column("anchor")
            for lv in dim.scale.levels:
                t.add_row(str(lv.value), lv.label, lv.anchor)
        elif dim.scale.kind == "categorical":
            t.add_column("label")
            t.add_column("description")
            for c in dim.scale.categories:
                t.add_row(c.name, c.description)
        elif dim.scale.kind == "binary":
            t.add_column("value")
            t.add_row(f"1 = {dim.scale.true_label}, 0 = {dim.scale.false_label}")
        else:
            t.add_column("range")
            t.add_row(f"[{dim.scale.min}, {dim.scale.max}]")
        console.print(t)
    if rub.guidelines:
        console.print("[bold]Guidelines[/bold]")
        console.print(rub.guidelines, highlight=False, markup=False)


@rubric_app.command("validate")
def validate(path: Annotated[Path, typer.Argument(help="Rubric YAML file.")], json_out: JsonOpt = False) -> None:
    """Check a rubric file; exits 2 naming the bad key, its line and why."""
    from assay.rubrics import load_rubric

    rub = load_rubric(path)
    if wants_json(json_out):
        emit_json({"valid": True, "rubric": rub.id, "dimensions": [d.name for d in rub.dimensions]})
    else:
        console.print(f"{path}: valid rubric {rub.id} with {len(rub.dimensions)} dimensions", highlight=False)


@rubric_app.command("add")
def add(path: Annotated[Path, typer.Argument(help="Rubric YAML file.")], json_out: JsonOpt = False) -> None:
    """Validate a rubric file and store it (its guidelines become guideline version 1)."""
    from assay.rubrics import add_rubric, load_rubric

    rub = load_rubric(path)
    added = add_rubric(G.store(), rub)
    if wants_json(json_out):
        emit_json({"rubric": rub.id, "added": added})
    else:
        console.print(f"{'added' if added else 'already stored:'} rubric {rub.id}", highlight=False)


@rubric_app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """List stored and built-in rubrics."""
    from assay.rubrics import builtin_names

    stored = [r.id for r in G.store().iter("rubrics")]
    if wants_json(json_out):
        emit_json({"stored": stored, "builtin": builtin_names()})
        return
    for r in stored:
        console.print(r)
    console.print(f"built-in: {', '.join(builtin_names())}")
