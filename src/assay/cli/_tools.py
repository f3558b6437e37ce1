"""The CLI side of annotation tools: `assay import --from label-studio|argilla` and
`assay campaign export --format label-studio|argilla` (see :mod:`assay.annotate.tools`)."""

from __future__ import annotations

from pathlib import Path

from assay.cli._app import G, console, emit_json, err_console, wants_json
from assay.errors import BadInput

TOOLS = ("label-studio", "argilla")


def import_from_tool(source: str, file: Path, *, campaign: str | None, annotators: Path | None, skip_invalid: bool,
                     rejects: Path | None, json_out: bool) -> None:
    """Import a tool's export of a campaign's tasks as that campaign's answers."""
    from assay.annotate.tools import import_answers, read_annotators
    from assay.io import OnInvalid

    if not campaign:
        raise BadInput(f"--from {source} needs --campaign: the campaign whose tasks were exported")
    names = read_annotators(annotators) if annotators else None
    s = import_answers(G.store(), file, source=source, campaign=campaign, annotators=names,
                       on_invalid=OnInvalid(skip=skip_invalid, rejects_path=rejects))
    if wants_json(json_out):
        emit_json(s.as_dict())
        return
    console.print(f"{file} ({source}) -> campaign {campaign}: {s.tasks} tasks, {s.answers} answers, {s.added} added "
                  f"({s.records_added} records, {s.edge_cases} edge cases) by {len(s.raters)} annotators, "
                  f"{s.duplicates} already stored, {s.not_submitted} not submitted, {s.rejected} rejected",
                  highlight=False)
    if s.rejects_file:
        err_console.print(f"rejected answers and reasons: {s.rejects_file}", highlight=False)


def export_to_tool(campaign: str, fmt: str, out: Path | None, *, json_out: bool = False) -> None:
    from assay.annotate.tools import export_campaign

    if out is None:
        raise BadInput(f"--format {fmt} writes several files: give --out FOLDER")
    done = export_campaign(G.store(), campaign, fmt, out)
    if json_out:
        emit_json({**done, "out": str(out)})
        return
    console.print(f"wrote {done['tasks']} {fmt} tasks (guidelines version {done['guideline_version']}) to {out}: "
                  f"{', '.join(done['files'])}", highlight=False)
