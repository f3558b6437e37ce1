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
    profile: Annotated[str | None, typer.Option(help="Add the data profile of this dataset (as `assay profile`).")] = None,
    profile_against: Annotated[str | None, typer.Option(help="With --profile: compare it with this dataset.")] = None,
    profile_topics: Annotated[bool, typer.Option("--profile-topics/--no-profile-topics", help="With --profile: topic clusters (the 'embed' extra).")] = True,
    profile_dimension: Annotated[str | None, typer.Option(help="With --profile and two --model: the second's win rate over the first on this dimension (of --rubric), per topic and on --profile-against's mix.")] = None,
) -> None:
    """Score distributions, agreement, leaderboards, A/B verdicts and judge validation in one report."""
    from assay.errors import BadInput
    from assay.analysis.options import Options, Selection
    from assay.report import Sections, build_report, to_html, to_json, to_markdown

    kind = (fmt or {".md": "md", ".json": "json"}.get(out.suffix.lower(), "html")).lower()
    if kind not in ("html", "md", "json"):
        raise BadInput(f"unknown report format {kind!r}; use html, md or json")
    from assay.report.build import STEPS

    request = None
    if profile_against is not None and profile is None:
        raise BadInput("goes with --profile DATASET", field="--profile-against")
    if profile_dimension is not None and (profile is None or not models or len(models) < 2):
        raise BadInput("goes with --profile DATASET and two --model (A, then B)", field="--profile-dimension")
    if profile is not None:
        from assay.analysis.profile import ProfileSettings
        from assay.analysis.topics import TopicSettings
        from assay.report.profile import ProfileRequest

        if profile_against == profile:
            raise BadInput(f"is the profiled dataset itself ({profile!r}): name another one", field="--profile-against")
        for flag, name in (("--profile", profile), ("--profile-against", profile_against)):
            if name is not None and G.store().find("datasets", name) is None:
                raise BadInput(f"no dataset {name!r} in the store (see `assay ls`)", field=flag)
        from assay.analysis.profile_impact import ScoreSpec

        spec = ScoreSpec(models[0], models[1], profile_dimension, rubric=rubric) if profile_dimension else None
        request = ProfileRequest(profile, profile_against, ProfileSettings(
            topics=TopicSettings(random_state=seed) if profile_topics else None, random_state=seed), spec)

    with progress() as bar:
        task = bar.add_task("report", total=len(STEPS) + (request is not None), rate="")
        started: list[str] = []

        def on_step(name: str) -> None:
            bar.update(task, description=f"report: {name}", completed=len(started))
            started.append(name)

        data = build_report(G.store(), select=Selection(rubric=rubric, campaign=campaign), models=models,
                            options=Options(rounds=rounds, random_state=seed), on_step=on_step,
                            sections=Sections(slices=slices or (), profile=request))
        on_step("writing")
    text = {"html": to_html, "md": to_markdown, "json": to_json}[kind](data)
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out} ({len(text) / 1e6:.1f} MB)", highlight=False)
