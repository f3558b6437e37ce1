"""Importing items and responses from files, with a field mapping, in one transaction.

A file either imports whole or not at all. With ``skip_invalid`` the good rows go in
and each rejected row is written, with its reason, to a rejects file. Ids are stable
(from the id field or from the prompt), so importing the same file twice adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay import records as R
from assay.errors import BadInput
from assay.io import guard
from assay.io.readers import Row, read_rows
from assay.store import Store

PROMPT_FIELDS = ("prompt", "messages", "instruction", "question", "input")
RESPONSE_FIELDS = ("response", "output", "completion")
REFERENCE_FIELDS = ("reference", "reference_answer", "target")
ROLES = {"system", "user", "assistant", "tool", "developer"}
_FLUSH = 5000


@dataclass
class FieldMap:
    """Which source field feeds which part of an item or response (dotted paths reach into objects).

    A field left as None is looked for under its usual names (``prompt``, ``messages``,
    ``instruction``...; ``response``, ``output``...). A field named explicitly must be on
    every row.
    """

    prompt: str | None = None
    response: str | None = None
    reference: str | None = None
    id: str | None = None
    model: str | None = None
    model_field: str | None = None
    sample: str | None = None
    category: str = "category"
    language: str = "language"
    tags: str = "tags"
    cluster: str = "cluster"


@dataclass
class ImportSummary:
    file: str
    dataset: str
    rows: int = 0
    items_added: int = 0
    responses_added: int = 0
    records_added: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects_file: str | None = None
    models: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


_MISSING = object()


def _get(row: Row, path: str) -> Any:
    if path in row:
        return row[path]
    if "." not in path:
        return _MISSING
    cur: Any = row
    for part in path.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return _MISSING
    return cur


def _maybe_json(value: Any, fieldname: str) -> Any:
    """CSV cells carry structure as JSON text: decode a cell that looks like a JSON array/object."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return guard.loads(value, path=(fieldname,))
        except json.JSONDecodeError:
            return value
        except guard.Unsafe as e:
            raise _RowError(e.path or fieldname, e.reason) from None
    return value


def _messages(value: Any, fieldname: str) -> list[dict[str, str]]:
    if not value:
        raise _RowError(fieldname, "chat messages must be a non-empty list")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            raise _RowError(f"{fieldname}[{i}]", f"a message must be an object, got {type(m).__name__}")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise _RowError(f"{fieldname}[{i}].role", f"role must be one of {sorted(ROLES)}, got {role!r}")
        if not isinstance(content, str):
            raise _RowError(f"{fieldname}[{i}].content", f"expected text, got {type(content).__name__}")
        out.append({"role": role, "content": content})
    return out


class _RowError(Exception):
    def __init__(self, fieldname: str | None, reason: str) -> None:
        self.field, self.reason = fieldname, reason


def _fits(value: str | None, fieldname: str, width: int) -> str | None:
    """``value``, refused when longer than its store column (PostgreSQL would fail the whole import, SQLite keep it)."""
    if value is not None and len(value) > width:
        raise _RowError(fieldname, f"is {len(value)} characters long; at most {width} fit")
    return value


def _opt_text(row: Row, path: str, *, required: bool = False) -> str | None:
    v = _get(row, path)
    if v is _MISSING or v is None:
        if required:
            raise _RowError(path, "missing")
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise _RowError(path, f"expected text, got {type(v).__name__}")
    return str(v)


class _Mapper:
    """Turns one source row into an item row and, when it has one, a response row."""

    def __init__(self, fm: FieldMap, dataset: str, first: Row) -> None:
        self.fm, self.dataset = fm, dataset
        self.prompt = fm.prompt or next((f for f in PROMPT_FIELDS if _get(first, f) is not _MISSING), None)
        if self.prompt is None:
            raise _RowError("prompt", f"no prompt field: none of {list(PROMPT_FIELDS)} is present; use --prompt-field")
        self.response = fm.response or next((f for f in RESPONSE_FIELDS if _get(first, f) is not _MISSING), None)
        self.reference = fm.reference or next((f for f in REFERENCE_FIELDS if _get(first, f) is not _MISSING), None)
        self.id = fm.id or ("id" if _get(first, "id") is not _MISSING else None)
        self.model_field = fm.model_field or ("model" if fm.model is None and _get(first, "model") is not _MISSING else None)
        if fm.model is not None:
            try:
                R.split_model_id(fm.model)
            except ValueError as e:
                raise BadInput(str(e), param="model") from None
        consumed = {self.prompt, self.response, self.reference, self.id, self.model_field, fm.sample,
                    fm.category, fm.language, fm.tags, fm.cluster}
        self.consumed = {c for c in consumed if c}
        self.samples: dict[tuple[str, str], int] = {}
        self.prompts: dict[str, int] = {}
        self.models_ok: set[str] = set()
        self.now = R.utcnow()  # one import, one creation time

    def __call__(self, row: Row) -> tuple[dict[str, Any], dict[str, Any] | None]:
        fm = self.fm
        raw_prompt = _maybe_json(_get(row, self.prompt), self.prompt)
        if raw_prompt is _MISSING or raw_prompt is None or raw_prompt == "":
            raise _RowError(self.prompt, "missing")
        prompt: str | None = None
        messages = None
        if isinstance(raw_prompt, str):
            prompt = raw_prompt
        elif isinstance(raw_prompt, list):
            messages = _messages(raw_prompt, self.prompt)
        else:
            raise _RowError(self.prompt, f"expected text or a list of chat messages, got {type(raw_prompt).__name__}")
        external_id = _opt_text(row, self.id, required=fm.id is not None) if self.id else None
        item_id = R.Item.make_id(self.dataset, external_id, prompt, messages)
        # within one import, the same id must always carry the same prompt
        key = hash(prompt) if prompt is not None else hash(json.dumps(messages))
        if self.prompts.setdefault(item_id, key) != key:
            raise _RowError(self.id, f"id {external_id!r} is used earlier in this file for a different prompt")
        tags = _maybe_json(_get(row, fm.tags), fm.tags)
        if tags is _MISSING or tags is None:
            tags = []
        elif isinstance(tags, str):
            tags = [tags]
        elif not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
            raise _RowError(fm.tags, "expected a list of strings")
        metadata = {k: v for k, v in row.items() if k not in self.consumed and v is not None}
        item = {
            "id": item_id,
            "dataset": self.dataset,
            "external_id": external_id,
            "prompt": prompt,
            "messages": messages,
            "reference": _opt_text(row, self.reference) if self.reference else None,
            # the widths of store/tables.py's items columns
            "category": _fits(_opt_text(row, fm.category), fm.category, 200),
            "language": _fits(_opt_text(row, fm.language), fm.language, 50),
            "tags": tags,
            "cluster": _fits(_opt_text(row, fm.cluster), fm.cluster, 200),
            "metadata": metadata,
        }
        if self.response is None:
            return item, None
        text = _get(row, self.response)
        if text is _MISSING or text is None:
            raise _RowError(self.response, "missing")
        if isinstance(text, dict) and isinstance(text.get("content"), str):
            text = text["content"]
        if not isinstance(text, str):
            raise _RowError(self.response, f"expected text, got {type(text).__name__}")
        model = fm.model or (_opt_text(row, self.model_field, required=True) if self.model_field else None)
        if model is None:
            raise _RowError("model", "rows have responses but no model: pass --model NAME@VERSION or --model-field")
        if model not in self.models_ok:
            try:
                R.split_model_id(model)
            except ValueError as e:
                raise _RowError(self.model_field or "model", str(e)) from None
            self.models_ok.add(model)
        if fm.sample:
            s = _get(row, fm.sample)
            if isinstance(s, str) and s.isdigit():
                s = int(s)
            if not isinstance(s, int) or isinstance(s, bool) or s < 0:
                raise _RowError(fm.sample, f"sample index must be a non-negative integer, got {s!r}")
            sample = s
        else:
            sample = self.samples.get((item_id, model), 0)
            self.samples[(item_id, model)] = sample + 1
        response = {
            "id": R.Response.make_id(item_id, model, sample),
            "item_id": item_id,
            "model": model,
            "sample_index": sample,
            "text": text,
            "prompt_tokens": None,
            "completion_tokens": None,
            "latency_ms": None,
            "ttft_ms": None,
            "cost_usd": None,
            "finish_reason": None,
            "run_id": None,
            "metadata": {},
            "created_at": self.now,
        }
        return item, response


@dataclass(frozen=True)
class OnInvalid:
    """What an import does with a row it cannot take.

    By default the import stops with a :class:`~assay.errors.BadInput` naming the file, line
    (or row) and field, and writes nothing. With ``skip`` the good rows go in and each refused
    one is written with its reason, one JSON line each, to ``rejects_path`` (default: beside
    the file, its name plus ``.rejects.jsonl``).
    """

    skip: bool = False
    rejects_path: str | Path | None = None

    def rejects_file(self, default: Path) -> Path | None:
        """Where refused rows go (``default`` unless ``rejects_path`` is given); None when not skipping."""
        if not self.skip:
            return None
        return Path(self.rejects_path) if self.rejects_path else default


def rejects_writer(on_invalid: OnInvalid, default: Path) -> _Rejects | None:
    """The writer of refused rows for ``on_invalid`` (None: an invalid row stops the import)."""
    where = on_invalid.rejects_file(default)
    return _Rejects(where) if where is not None else None


class _Rejects:
    """Where ``OnInvalid(skip=True)`` writes rejected rows, one JSON line each: place, field, reason, row.

    The place is ``line`` (text formats) or ``row_number`` (JSON arrays, Parquet, HuggingFace
    datasets), since ``row`` holds the rejected row itself.
    """

    def __init__(self, path: Path | None) -> None:
        self.path, self.count, self.unreadable, self._f = path, 0, 0, None
        self.file: str | None = None  # named on each line when one rejects file serves several inputs

    def on_error(self, err: BadInput) -> None:
        """A row the reader could not parse: record it with its place and reason."""
        where = ("line", err.line) if err.line is not None else ("row", err.row)
        self.unreadable += 1
        self.add(where, err.field, err.reason, None)

    def add(self, where: tuple[str, int | None] | None, fieldname: str | None, reason: str, row: Any) -> None:
        if self._f is None and self.path is not None:
            self._f = open(self.path, "w", encoding="utf-8", errors="backslashreplace")
        self.count += 1
        if self._f is not None:
            place = "row_number" if where and where[0] == "row" else "line"
            rec = {place: where[1] if where else None, "field": fieldname, "reason": reason, "row": row}
            if self.file is not None:
                rec = {"file": self.file, **rec}
            self._f.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")

    def close(self) -> None:
        if self._f is not None:
            self._f.close()


def import_file(
    store: Store,
    path: str | Path,
    *,
    dataset: str | None = None,
    fields: FieldMap | None = None,
    fmt: str | None = None,
    split: str | None = None,
    on_invalid: OnInvalid = OnInvalid(),
    on_progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import items (and responses, when rows carry them) from one file, as one transaction.

    ``on_invalid`` says what a row that cannot be imported does (:class:`OnInvalid`).
    """
    path = Path(path)
    fm = fields or FieldMap()
    dataset = dataset or path.stem.split(".")[0] or "default"
    summary = ImportSummary(file=str(path), dataset=dataset)
    rejects = rejects_writer(on_invalid, path.with_name(path.name + ".rejects.jsonl"))
    rows = read_rows(path, fmt=fmt, split=split, on_error=rejects.on_error if rejects else None)
    mapper: _Mapper | None = None
    items: list[dict[str, Any]] = []
    responses: list[dict[str, Any]] = []
    models: set[str] = set()
    try:
        with store.transaction() as conn:
            store.add_rows("datasets", [{"name": dataset, "description": "", "source": str(path),
                                         "created_at": R.utcnow()}], conn)

            def flush() -> None:
                new_models = sorted({r["model"] for r in responses} - models)
                if new_models:
                    store.add_rows("models", [R.Model(id=m).model_dump() for m in new_models], conn)
                    models.update(new_models)
                summary.items_added += store.add_rows("items", items, conn)
                summary.responses_added += store.add_rows("responses", responses, conn)
                if on_progress:
                    on_progress(summary.rows)
                items.clear()
                responses.clear()

            for where, row in rows:
                summary.rows += 1
                try:
                    if mapper is None:
                        mapper = _Mapper(fm, dataset, row)
                    item, response = mapper(row)
                except _RowError as e:
                    if rejects is None:
                        raise BadInput(e.reason, file=str(path), field=e.field,
                                       **{where[0]: where[1]}) from None
                    rejects.add(where, e.field, e.reason, row)
                    continue
                items.append(item)
                if response is not None:
                    responses.append(response)
                if len(items) >= _FLUSH:
                    flush()
            flush()
    finally:
        if rejects is not None:
            rejects.close()
    summary.models = sorted(models)
    summary.rejected = rejects.count if rejects else 0
    summary.rows += rejects.unreadable if rejects else 0
    summary.rejects_file = str(rejects.path) if rejects and rejects.count else None
    accepted = summary.rows - summary.rejected
    summary.duplicates = accepted - (summary.responses_added if mapper and mapper.response else summary.items_added)
    return summary
