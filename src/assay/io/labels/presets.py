"""Presets: published label formats, each read by one registered reader (``assay import --from NAME``).

A preset is a :class:`Preset` subclass registered with :func:`preset`; it knows its
format's fields, its label encoding, who the raters are and which dataset name its
items go to by default. Options that vary by use (the model version added to bare model
names, a fixed model or rater, Arena-Hard's baseline) come in :class:`PresetOptions`;
a preset refuses options it does not take.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from assay.errors import BadInput
from assay.io.importer import ROLES, _get, _MISSING
from assay.io.labels._parsed import RowError
from assay.io.labels._writer import RowReader
from assay.io.readers import Row
from assay.plugins import REGISTRY


@dataclass(frozen=True)
class PresetOptions:
    """What a user may set on a preset; None means the preset's default."""

    model_version: str | None = None  # added to model names written without @VERSION (default: the preset's name)
    model: str | None = None  # the one model of every answer, where the format does not say (hh-rlhf, helpsteer2)
    rater: str | None = None  # who gave the labels, where the format does not say
    rater_kind: str | None = None
    baseline: str | None = None  # arena-hard: the baseline model (default gpt-4-0314, as in v0.1)


def preset(name: str):  # noqa: ANN201 - a class decorator
    """Register a :class:`Preset` subclass under ``name`` (plug-in kind ``label-preset``)."""

    def register(cls: type[Preset]) -> type[Preset]:
        cls.name = name
        cls.source = name
        return REGISTRY.register("label-preset", name)(cls)

    return register


class Preset(RowReader):
    """A reader of one published format."""

    name: ClassVar[str] = ""
    dataset: ClassVar[str] = ""  # where items go unless --dataset says otherwise
    takes: ClassVar[frozenset[str]] = frozenset({"model_version"})

    def __init__(self, options: PresetOptions) -> None:
        given = {f.name for f in fields(options) if getattr(options, f.name) is not None}
        extra = sorted(given - self.takes)
        if extra:
            flags = ", ".join("--" + x.replace("_", "-") for x in extra)
            raise BadInput(f"{flags} does not apply to --from {self.name}")
        if options.rater_kind is not None and options.rater_kind not in ("human", "llm"):
            raise BadInput(f"--rater-kind must be human or llm, not {options.rater_kind!r}")
        self.options = options
        self.version = options.model_version or self.name

    def model(self, name: Any, fieldname: str) -> str:
        from assay.io.labels.mapped import model_id

        return model_id(name, self.version, fieldname)


def reader_for(name: str, options: PresetOptions) -> Preset:
    """The preset registered as ``name``, made with ``options``."""
    found = REGISTRY.find("label-preset", name)
    if found is None:
        raise BadInput(f"unknown --from {name!r}: presets are {', '.join(names())}{REGISTRY.failure_note()}")
    return found.factory(options)


def names() -> list[str]:
    return REGISTRY.names("label-preset")


# ---- helpers the presets share ------------------------------------------------------


def field(row: Row, name: str, *, required: bool = True) -> Any:
    v = _get(row, name)
    if v is _MISSING or v is None:
        if required:
            raise RowError(name, "missing")
        return None
    return v


def text(row: Row, name: str, *, required: bool = True) -> str | None:
    v = field(row, name, required=required)
    if v is None:
        return None
    if not isinstance(v, str):
        raise RowError(name, f"expected text, got {type(v).__name__}")
    return v


def conversation(value: Any, fieldname: str) -> list[dict[str, str]]:
    """A chat as a list of {role, content} messages, checked."""
    if not isinstance(value, list) or not value:
        raise RowError(fieldname, "expected a non-empty list of chat messages")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            raise RowError(f"{fieldname}[{i}]", f"a message must be an object, got {type(m).__name__}")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise RowError(f"{fieldname}[{i}].role", f"role must be one of {sorted(ROLES)}, got {m.get('role')!r}")
        if not isinstance(content, str):
            raise RowError(f"{fieldname}[{i}].content", f"expected text, got {type(content).__name__}")
        out.append({"role": role, "content": content})
    return out


def up_to_turn(conv: list[dict[str, str]], turn: int, fieldname: str) -> tuple[list[dict[str, str]], str, int]:
    """The user turns up to assistant turn ``turn`` (1-based), that answer, and its index in ``conv``."""
    seen = 0
    for i, m in enumerate(conv):
        if m["role"] == "assistant":
            seen += 1
            if seen == turn:
                users = [x for x in conv[:i] if x["role"] in ("user", "system")]
                if not any(x["role"] == "user" for x in users):
                    raise RowError(fieldname, f"no user message before answer {turn}")
                return users, m["content"], i
    raise RowError(fieldname, f"the conversation has {seen} answer(s), not the turn {turn} asked for")


_SPLIT_HH = re.compile(r"\n\n(Human|Assistant): ")


def hh_transcript(value: Any, fieldname: str) -> list[dict[str, str]]:
    """An HH-RLHF transcript (``\\n\\nHuman: ...\\n\\nAssistant: ...``) as chat messages."""
    if not isinstance(value, str):
        raise RowError(fieldname, f"expected a transcript, got {type(value).__name__}")
    parts = _SPLIT_HH.split(value)
    if len(parts) < 3 or parts[0].strip():
        raise RowError(fieldname, "not an HH-RLHF transcript: it must start with '\\n\\nHuman: ' turns")
    return [{"role": "user" if who == "Human" else "assistant", "content": said}
            for who, said in zip(parts[1::2], parts[2::2])]


__all__ = ["Preset", "PresetOptions", "names", "preset", "reader_for"]
