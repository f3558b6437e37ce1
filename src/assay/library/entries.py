"""The library itself: add, edit (a new version), list, show with history, link examples, retire.

Entries are immutable records: every change writes the next version of the same
``entry`` slug, so the history of a failure mode (who changed what, each re-check's
evidence) stays in the store. Two writers racing for the same version cannot both win:
(entry, version) is unique, and the loser is told to retry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from pydantic import ValidationError

from assay import records as R
from assay.errors import AssayError, BadInput, NotFound

if TYPE_CHECKING:
    from assay.store import Store

_SLUG = re.compile(r"^[a-z0-9][a-z0-9\-]*$")
EDITABLE = ("title", "description", "hypothesis", "category", "tags", "severity", "status", "examples", "models",
            "detector", "evidence")


def slugify(title: str) -> str:
    """A slug from a title: lower case, words joined by '-', at most 60 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].strip("-")
    return slug or "failure-mode"


def check_detector(detector: dict[str, Any] | None) -> dict[str, Any] | None:
    """A detector spec, checked: ``{"program": {name, version, args}}`` (a program judge's spec) or
    ``{"rubric": R, "dimension": D, "threshold": X, "rater": "judge@version"}`` (an LLM judge)."""
    if detector is None:
        return None
    if not isinstance(detector, dict):
        raise BadInput("a detector is a JSON object", field="detector")
    if "program" in detector:
        from assay.judges.registry import from_spec

        spec = detector["program"]
        if not isinstance(spec, dict) or "name" not in spec:
            raise BadInput("'program' must be a program judge spec {name, version, args}", field="detector")
        try:
            judge = from_spec(spec)
        except Exception as e:  # noqa: BLE001 - unknown judge, bad arguments: one line to the user
            raise BadInput(f"cannot build program judge {spec.get('name')!r}: {e}", field="detector") from None
        import inspect

        from assay.judges.registry import get

        takes_threshold = "threshold" in inspect.signature(get(judge.name).factory).parameters
        if takes_threshold and judge.args.get("threshold") is None:
            raise BadInput(f"metric {judge.name!r} needs a threshold to pass or fail a response", field="detector")
        return {"program": judge.spec()}
    missing = [k for k in ("rubric", "dimension", "rater") if not detector.get(k)]
    if missing:
        raise BadInput(f"a rubric detector needs {', '.join(missing)} (or give a 'program' spec)", field="detector")
    try:
        R.split_model_id(str(detector["rater"]))
    except ValueError as e:
        raise BadInput(str(e), field="detector.rater") from None
    threshold = detector.get("threshold")
    if threshold is not None and not isinstance(threshold, (int, float)):
        raise BadInput("threshold must be a number", field="detector.threshold")
    return {k: detector.get(k) for k in ("rubric", "dimension", "threshold", "rater", "base_url") if
            detector.get(k) is not None}


def _bad(e: ValidationError) -> BadInput:
    """A record's validation error as one line naming the field."""
    first = e.errors()[0]
    return BadInput(first["msg"], field=".".join(map(str, first["loc"])) or None)


class EntryConflict(AssayError):
    """Another writer saved a version of the entry first: read it again and redo the change."""


def _write(store: Store, entry: R.LibraryEntry) -> R.LibraryEntry:
    if store.add([entry]) != 1:  # the unique (entry, version) index: two writers raced for one version
        raise EntryConflict(f"entry {entry.entry!r} version {entry.version} was written by someone else meanwhile; "
                         "read it again and retry")
    return entry


def history(store: Store, entry: str) -> list[R.LibraryEntry]:
    """Every version of an entry, oldest first; NotFound if there is none."""
    versions = sorted(store.iter(R.LibraryEntry, entry=entry), key=lambda e: e.version)
    if not versions:
        raise NotFound(f"no library entry {entry!r} (see `assay library list`)")
    return versions


def get_entry(store: Store, entry: str, version: int | None = None) -> R.LibraryEntry:
    """The latest version of an entry (or the one asked for)."""
    versions = history(store, entry)
    if version is None:
        return versions[-1]
    for e in versions:
        if e.version == version:
            return e
    raise NotFound(f"library entry {entry!r} has no version {version} (it has 1..{versions[-1].version})")


def _models_of(store: Store, response_ids: Iterable[str]) -> list[str]:
    ids = list(dict.fromkeys(response_ids))
    found = store.by_id(R.Response, ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise BadInput(f"no response {missing[0]!r} in the store" + (f" (and {len(missing) - 1} more)"
                                                                       if len(missing) > 1 else ""), field="examples")
    return sorted({r.model for r in found.values()})


class EntryFields(TypedDict, total=False):
    """An entry's descriptive fields, as in :class:`assay.records.LibraryEntry`; one left out takes
    the record's default (no description or hypothesis, no category or tags, severity ``medium``,
    status ``open``, source ``manual``, no evidence)."""

    description: str
    hypothesis: str
    category: str | None
    tags: Sequence[str]
    severity: str
    status: str
    source: str
    evidence: dict[str, Any] | None


def add_entry(store: Store, title: str, *, entry: str | None = None, examples: Sequence[str] = (),
              detector: dict[str, Any] | None = None, created_by: str | None = None,
              **fields: Unpack[EntryFields]) -> R.LibraryEntry:
    """A new entry (version 1) titled ``title``, under the slug ``entry`` (default: from the title).

    Its models are those of its ``examples`` (response ids); ``detector`` is checked as in
    :func:`check_detector`; ``fields`` are its descriptive fields (:class:`EntryFields`).
    BadInput if the slug is taken.
    """
    slug = entry or slugify(title)
    if not _SLUG.match(slug) or len(slug) > 120:
        raise BadInput("a slug is lower-case letters, digits and '-' (at most 120)", field="entry")
    if store.count("library", entry=slug):
        raise BadInput(f"entry {slug!r} exists: edit it, or give another --entry", field="entry")
    unknown = set(fields) - set(EntryFields.__annotations__)
    if unknown:
        raise TypeError(f"add_entry() got unexpected keyword argument(s) {sorted(unknown)}")
    examples = list(dict.fromkeys(examples))
    given: dict[str, Any] = dict(fields)
    given["tags"] = list(dict.fromkeys(given.get("tags") or ()))
    given["evidence"] = given.get("evidence") or {}
    try:
        rec = R.LibraryEntry(entry=slug, title=title, examples=examples, models=_models_of(store, examples),
                             detector=check_detector(detector), created_by=created_by, **given)
    except ValidationError as e:
        raise _bad(e) from None
    return _write(store, rec)


def add_candidate(store: Store, candidate: Any, *, entry: str | None = None, detector: dict[str, Any] | None = None,
                  created_by: str | None = None, settings: dict[str, Any] | None = None,
                  tags: Sequence[str] = ()) -> R.LibraryEntry:
    """An entry from a discovered candidate (``discover.Candidate``): its title, hypothesis, members, figures."""
    evidence = {"found": {"size": candidate.size, "share": candidate.share, "terms": candidate.terms,
                          "cohesion": candidate.cohesion, "models": [m.__dict__ for m in candidate.models],
                          "sources": candidate.sources, "hypothesised_by": candidate.hypothesised_by,
                          "settings": settings or {}}}
    source = "redteam" if candidate.sources and all(s.startswith("redteam:") for s in candidate.sources) else "cluster"
    return add_entry(store, candidate.title, entry=entry, description=candidate.description,
                     hypothesis=candidate.hypothesis, category=candidate.category, tags=tags,
                     severity=candidate.severity or "medium", examples=candidate.members, detector=detector,
                     source=source, evidence=evidence, created_by=created_by)


def edit_entry(store: Store, entry: str, *, created_by: str | None = None, expected_version: int | None = None,
               **changes: Any) -> R.LibraryEntry:
    """The next version of an entry with ``changes`` (fields of EDITABLE); unchanged fields carry over.

    ``expected_version``: the version the change was made from (a form, a script that read
    the entry); when the entry has moved on since, EntryConflict and nothing is written, so
    one writer never silently builds on a version it did not see.
    """
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise BadInput(f"cannot edit {sorted(unknown)}; editable: {', '.join(EDITABLE)}", field=sorted(unknown)[0])
    changes = {k: v for k, v in changes.items() if v is not None}
    latest = get_entry(store, entry)
    if expected_version is not None and latest.version != expected_version:
        raise EntryConflict(f"{latest.created_by or 'someone'} saved version {latest.version} of entry {entry!r} after "
                            f"version {expected_version} was read; nothing was saved")
    if "detector" in changes:
        changes["detector"] = check_detector(changes["detector"]) if changes["detector"] else None
    if "examples" in changes:
        changes["examples"] = list(dict.fromkeys(changes["examples"]))
        changes.setdefault("models", _models_of(store, changes["examples"]))
    fields = {**latest.model_dump(exclude={"id", "created_at"}), **changes, "version": latest.version + 1,
              "created_by": created_by}
    try:
        rec = R.LibraryEntry(**fields)
    except ValidationError as e:
        raise _bad(e) from None
    return _write(store, rec)


def link_examples(store: Store, entry: str, response_ids: Sequence[str], *,
                  created_by: str | None = None) -> R.LibraryEntry:
    """A new version with more example responses (their models join the entry's models)."""
    latest = get_entry(store, entry)
    examples = list(dict.fromkeys([*latest.examples, *response_ids]))
    models = sorted(set(latest.models) | set(_models_of(store, response_ids)))
    return edit_entry(store, entry, examples=examples, models=models, created_by=created_by)


def retire_entry(store: Store, entry: str, *, reason: str = "", created_by: str | None = None,
                 expected_version: int | None = None) -> R.LibraryEntry:
    """A new version with status ``retired`` (and the reason in its evidence)."""
    latest = get_entry(store, entry)
    if latest.status == "retired":
        raise BadInput(f"entry {entry!r} is already retired", field="entry")
    return edit_entry(store, entry, status="retired", created_by=created_by, expected_version=expected_version,
                      evidence={**latest.evidence, "retired": {"reason": reason, "was": latest.status}})


def list_entries(store: Store, *, status: str | Sequence[str] | None = None, tag: str | None = None,
                 model: str | None = None, include_retired: bool = False) -> list[R.LibraryEntry]:
    """The latest version of every entry, filtered; retired ones only when asked (or filtered for)."""
    latest: dict[str, R.LibraryEntry] = {}
    for e in store.iter(R.LibraryEntry):
        if e.entry not in latest or e.version > latest[e.entry].version:
            latest[e.entry] = e
    statuses = {status} if isinstance(status, str) else set(status or ())
    out = []
    for e in sorted(latest.values(), key=lambda e: e.entry):
        if statuses and e.status not in statuses:
            continue
        if not statuses and not include_retired and e.status == "retired":
            continue
        if tag is not None and tag not in e.tags:
            continue
        if model is not None and model not in e.models:
            continue
        out.append(e)
    return out
