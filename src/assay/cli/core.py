"""`assay init`, `assay ls` and `assay demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli._app import G, JsonOpt, app, console, emit_json, wants_json


@app.command()
def init(json_out: JsonOpt = False) -> None:
    """Create the store (or migrate it to the newest schema) and register the built-in rubrics."""
    from assay.rubrics import builtin_names, get_rubric
    from assay.store.engine import current_revision

    store = G.store()
    rubrics = [get_rubric(store, name).id for name in builtin_names()]
    info = {"store": store.describe(), "schema": current_revision(store.engine), "rubrics": rubrics}
    if wants_json(json_out):
        emit_json(info)
    else:
        console.print(f"store ready: {info['store']} (schema {info['schema']}); rubrics: {', '.join(rubrics)}",
                      highlight=False)


def store_summary(store) -> dict[str, Any]:  # noqa: ANN001
    """Counts per dataset, model, rubric and rater kind, as `assay ls` shows them."""
    from sqlalchemy import func, select

    from assay.store import tables as T

    with store.engine.connect() as c:
        items = dict(c.execute(select(T.items.c.dataset, func.count()).group_by(T.items.c.dataset)).all())
        resp_by_ds = dict(c.execute(
            select(T.items.c.dataset, func.count()).select_from(T.responses.join(T.items))
            .group_by(T.items.c.dataset)).all())
        resp_by_model = dict(c.execute(select(T.responses.c.model, func.count()).group_by(T.responses.c.model)).all())
        judg_by_rubric = dict(c.execute(select(T.judgments.c.rubric, func.count()).group_by(T.judgments.c.rubric)).all())
        raters = dict(c.execute(select(T.raters.c.kind, func.count()).group_by(T.raters.c.kind)).all())
    datasets = [{"dataset": d.name, "items": items.get(d.name, 0), "responses": resp_by_ds.get(d.name, 0)}
                for d in store.iter("datasets")]
    models = [{"model": m.id, "responses": resp_by_model.get(m.id, 0)} for m in store.iter("models")]
    rubrics = [{"rubric": r.id, "dimensions": len(r.dimensions), "judgments": judg_by_rubric.get(r.id, 0)}
               for r in store.iter("rubrics")]
    return {
        "store": store.describe(),
        "datasets": datasets,
        "models": models,
        "rubrics": rubrics,
        "raters": raters,
        "totals": {k: store.count(k) for k in ("items", "responses", "judgments", "comparisons", "runs")},
    }


def print_summary(summary: dict[str, Any]) -> None:
    console.print(f"[bold]store[/bold] {summary['store']}", highlight=False)
    for key, cols in (("datasets", ("dataset", "items", "responses")), ("models", ("model", "responses")),
                      ("rubrics", ("rubric", "dimensions", "judgments"))):
        t = Table(title=key, title_justify="left")
        for col in cols:
            t.add_column(col, justify="left" if col == cols[0] else "right")
        for row in summary[key]:
            t.add_row(*(f"{row[c]:,}" if isinstance(row[c], int) else str(row[c]) for c in cols))
        if not summary[key]:
            t.add_row(*(["(none)"] + [""] * (len(cols) - 1)))
        console.print(t)
    tot = summary["totals"]
    raters = ", ".join(f"{n} {k}" for k, n in sorted(summary["raters"].items())) or "none"
    console.print(f"judgments {tot['judgments']:,}  comparisons {tot['comparisons']:,}  runs {tot['runs']:,}  "
                  f"raters: {raters}", highlight=False)


@app.command("ls")
def ls(json_out: JsonOpt = False) -> None:
    """What the store holds: counts per dataset, model and rubric."""
    summary = store_summary(G.store())
    if wants_json(json_out):
        emit_json(summary)
    else:
        print_summary(summary)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--dir", help="Folder for the demo's store and report.")] = Path("assay-demo"),
    json_out: JsonOpt = False,
) -> None:
    """The first run: build a fresh store from bundled public data and show what it holds."""

    from assay.bundled import load_pandalm
    from assay.rubrics import builtin_names, get_rubric
    from assay.store import Store

    if G.db is None:
        if out_dir.exists():
            for f in out_dir.glob("assay.db*"):
                f.unlink()
        out_dir.mkdir(parents=True, exist_ok=True)
        store = Store(str(out_dir / "assay.db"))
    else:
        store = G.store()
    for name in builtin_names():
        get_rubric(store, name)
    added = load_pandalm(store)
    summary = store_summary(store)
    if wants_json(json_out):
        emit_json({"added": added, "summary": summary})
        return
    console.print("[bold]assay demo[/bold]: loaded the PandaLM test set (999 instructions, responses of five "
                  "7B models, 3 human verdicts per pair; Apache-2.0, WeOpenML/PandaLM).", highlight=False)
    print_summary(summary)
    db_arg = f"--db {out_dir / 'assay.db'} " if G.db is None else ""
    console.print(f"\nnext: [bold]assay {db_arg}ls[/bold], [bold]assay {db_arg}export comparisons --out c.jsonl[/bold], "
                  "[bold]assay rubric show default[/bold]", highlight=False)


BUNDLED = {
    "pandalm": "PandaLM test set: 999 pairs from five 7B models, 3 human verdicts each and GPT-3.5's (Apache-2.0)",
    "hanna": "HANNA: 1,056 stories x 6 criteria, mean human ratings and 20 LLM raters (MIT; scores only)",
}


@app.command()
def load(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(BUNDLED)}.")],
    json_out: JsonOpt = False,
) -> None:
    """Load a public data set that ships with assay into the store (loading twice adds nothing)."""
    from assay import bundled
    from assay.errors import BadInput

    if name not in BUNDLED:
        raise BadInput(f"no bundled data set {name!r}; choose one of {', '.join(BUNDLED)}")
    added = getattr(bundled, f"load_{name}")(G.store())
    if wants_json(json_out):
        emit_json({"loaded": name, "added": added})
    else:
        console.print(f"loaded {name}: {BUNDLED[name]}; added "
                      + ", ".join(f"{n:,} {k}" for k, n in added.items()), highlight=False)
