"""Annotation tools, both ways: a campaign's units out to Label Studio or Argilla, their answers back in.

``export_campaign(store, "c", "label-studio", out)`` writes a project the tool can load;
``import_answers(store, file, source="label-studio", campaign="c")`` reads the tool's export
back as the campaign's judgments or comparisons (see :mod:`.common` for how they are checked
and written, :mod:`.label_studio` and :mod:`.argilla` for each format).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.annotate.tools.common import Rejects, Sheet, ToolAnswer, ToolImport, campaign_sheet, write_answers
from assay.errors import BadInput
from assay.io.importer import OnInvalid
from assay.store import Store

FORMATS = ("label-studio", "argilla")

__all__ = ["FORMATS", "Sheet", "ToolAnswer", "ToolImport", "campaign_sheet", "export_campaign", "import_answers",
           "read_annotators"]


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise BadInput(f"unknown annotation tool {fmt!r}: use {' or '.join(FORMATS)}")
    return fmt


def export_campaign(store: Store, campaign: str, fmt: str, out: str | Path) -> dict[str, Any]:
    """Write a campaign's units into folder ``out`` in a tool's format; a summary of the files."""
    from assay.annotate.campaigns import get_campaign

    fmt = _format(fmt)
    sheet = campaign_sheet(store, get_campaign(store, campaign))
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BadInput("must be a folder (the export writes several files)", file=str(out))
    if fmt == "label-studio":
        from assay.annotate.tools.label_studio import export_label_studio

        return export_label_studio(sheet, out)
    from assay.annotate.tools.argilla import export_argilla

    return export_argilla(sheet, out)


def read_annotators(path: str | Path) -> dict[str, str]:
    """A map of a tool's user ids to names: a JSON object ``{id: name}``, or a list of users with
    ``id`` and ``email`` or ``username`` (Label Studio's ``/api/users``, Argilla's users). The
    e-mail comes first: it is how Label Studio's export snapshots name annotators."""
    from assay.io.lined_json import line_of, load

    data = load(path)
    if isinstance(data, dict):
        bad = next((k for k, v in data.items() if not isinstance(v, str) or not v.strip()), None)
        if bad is not None:
            raise BadInput("must be the annotator's name", file=str(path), line=line_of(data, 1), field=bad)
        return {str(k): v.strip() for k, v in data.items()}
    if not isinstance(data, list):
        raise BadInput("expected an object {id: name} or a list of users", file=str(path), line=1)
    out = {}
    for i, u in enumerate(data):
        name = (u.get("email") or u.get("username")) if isinstance(u, dict) else None
        if not isinstance(u, dict) or u.get("id") is None or not isinstance(name, str) or not name.strip():
            raise BadInput("a user is an object with 'id' and 'username' or 'email'", file=str(path),
                           line=line_of(u, 1), field=f"[{i}]")
        out[str(u["id"])] = name.strip()
    return out


def import_answers(store: Store, path: str | Path, *, source: str, campaign: str,
                   annotators: dict[str, str] | None = None, on_invalid: OnInvalid = OnInvalid()) -> ToolImport:
    """Read a tool's export of a campaign's tasks and store its submitted answers, as one transaction.

    Anything refused stops the import with nothing written (a BadInput naming file, line and
    field), unless ``on_invalid.skip``: then refused answers go to ``on_invalid.rejects_path``
    (default ``FILE.rejects.jsonl``) with their reasons and the rest is stored.
    """
    from assay.annotate.campaigns import get_campaign

    source = _format(source)
    path = Path(path)
    if not path.exists():
        raise BadInput("no such file or folder", file=str(path))
    camp = get_campaign(store, campaign)
    sheet = campaign_sheet(store, camp)
    summary = ToolImport(file=str(path), campaign=camp.id, source=source)
    counts: dict[str, int] = {}
    if source == "label-studio":
        from assay.annotate.tools.label_studio import read_label_studio
        from assay.io.lined_json import load

        if path.is_dir():
            raise BadInput("a Label Studio export is one JSON file", file=str(path))
        answers = read_label_studio(load(path), sheet, file=str(path), annotators=annotators, counts=counts)
    else:
        from assay.annotate.tools.argilla import read_argilla

        answers = read_argilla(path, sheet, annotators=annotators, counts=counts)
    rp = on_invalid.rejects_file(path.with_name(path.name + ".rejects.jsonl"))
    rejects = Rejects(rp) if rp is not None else None
    try:
        write_answers(store, camp, answers, summary, rejects=rejects)
    finally:
        if rejects is not None:
            rejects.close()
    summary.tasks, summary.not_submitted = counts.get("tasks", 0), counts.get("not_submitted", 0)
    if rejects is not None and rejects.count:
        summary.rejects_file = str(rejects.path)
    return summary
