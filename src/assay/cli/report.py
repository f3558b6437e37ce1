"""`assay report`: results as one self-contained HTML file, a Markdown summary, or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assay.cli._app import G, app, console, progress


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file.")] = Path("report.html"),
    fmt: Annotated[str | None, typer.Option("--format", help="html, md or json (default: from --out).")] = None,
    rubric: Annotated[str | None, typer.Option(help="Only this rubric (NAME or NAME@VERSION).")] = None,
    models: Annotated[list[str] | None, typer.Option("--model", help="Only these models; the first two are A/B tested.")] = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign (id).")] = None,
    rounds: Annotated[int, typer.Option(help="Bootstrap resamples for intervals.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    slices: Annotated[list[str] | None, typer.Option(
        "--slices", help="Add a slices section for this search, as key=value words, e.g. "
                         "\"verifier=ifeval(mode=strict) per_instruction features=instruction\" (repeat for more).")] = None,
) -> None:
    """Score distributions, agreement, leaderboards, A/B verdicts and judge validation in one report."""
    from assay.errors import BadInput
    from assay.analysis.options import Options
    from assay.report import build_report, to_html, to_json, to_markdown

    kind = (fmt or {".md": "md", ".json": "json"}.get(out.suffix.lower(), "html")).lower()
    if kind not in ("html", "md", "json"):
        raise BadInput(f"unknown report format {kind!r}; use html, md or json")
    from assay.report.build import STEPS

    with progress() as bar:
        task = bar.add_task("report", total=len(STEPS), rate="")
        started: list[str] = []

        def on_step(name: str) -> None:
            bar.update(task, description=f"report: {name}", completed=len(started))
            started.append(name)

        data = build_report(G.store(), rubric=rubric, models=models, campaign=campaign,
                            options=Options(rounds=rounds, random_state=seed), on_step=on_step,
                            slices=slices or ())
        on_step("writing")
    text = {"html": to_html, "md": to_markdown, "json": to_json}[kind](data)
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out} ({len(text) / 1e6:.1f} MB)", highlight=False)
