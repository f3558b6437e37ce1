"""What one source row says, before it meets the store: a prompt, answers, verdicts and scores.

Every reader of labels (the field mapping and each preset) turns a row into a
:class:`Parsed`; :mod:`assay.io.labels._writer` matches its prompt and answers to what the
store holds, by content, and writes the records. Answers are referred to by their index in
``Parsed.answers``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal


class RowError(Exception):
    """A row that cannot be imported: ``field`` (a path into the row) and why."""

    def __init__(self, fieldname: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = fieldname, reason


RaterKind = Literal["human", "llm"]
_RATER_KINDS: dict[str, RaterKind] = {"human": "human", "llm": "llm"}


def rater_kind(value: str) -> RaterKind:
    """``value`` (an option's text) as a rater kind; RowError unless human or llm."""
    try:
        return _RATER_KINDS[value]
    except KeyError:
        raise RowError(None, f"rater kind must be 'human' or 'llm', not {value!r}") from None


@dataclass(frozen=True)
class RaterRef:
    """Who gave a verdict: a human (by name) or an LLM judge (by name, e.g. its model)."""

    name: str
    kind: RaterKind = "human"
    identity: tuple[str, ...] = ()  # what else tells this judge apart (a template, a source)

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise RowError(None, "the rater's name is empty")
        if self.kind not in ("human", "llm"):
            raise RowError(None, f"rater kind must be 'human' or 'llm', not {self.kind!r}")


@dataclass
class Answer:
    """One model's answer: the model (NAME@VERSION), its text, and what else the source says."""

    model: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Verdict:
    """A preference among answers: ``answers`` are indices into ``Parsed.answers``, in the order given.

    ``winner`` and ``ranking`` are indices into ``Parsed.answers`` too; ``shown`` is the order
    the rater saw them (None: as given); ``probability`` is the soft preference for
    ``answers[0]`` over ``answers[1]``.
    """

    answers: list[int]
    rater: RaterRef
    outcome: Literal["win", "tie", "both_bad"]
    winner: int | None = None
    ranking: list[int] | None = None
    strength: int | None = None
    probability: float | None = None
    shown: list[int] | None = None
    justification: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    key: str = ""  # tells apart verdicts of one row on the same answers (e.g. two games)


@dataclass
class Score:
    """A rater's value for one answer on one dimension of a rubric."""

    answer: int
    rater: RaterRef
    rubric: str
    dimension: str
    value: float | None = None
    label: str | None = None
    justification: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Parsed:
    """One row of a label file: the prompt (text or chat messages), the answers and what was said of them."""

    prompt: str | None
    messages: list[dict[str, str]] | None = None
    external_id: str | None = None
    category: str | None = None
    language: str | None = None
    reference: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # parts of the row left out on purpose, with why

    def __post_init__(self) -> None:
        # one user message is a plain prompt: both forms of one question are one item
        if self.messages is not None and len(self.messages) == 1 and self.messages[0]["role"] == "user":
            self.prompt, self.messages = self.messages[0]["content"], None
        if self.messages is not None:
            self.prompt = None
        if not self.prompt and not self.messages:
            raise RowError(None, "the prompt is empty")

    def content_key(self) -> str:
        """What matches this prompt to an item already stored: its text, or its messages as JSON."""
        return content_key(self.prompt, self.messages)


def content_key(prompt: str | None, messages: list[dict[str, str]] | None) -> str:
    """The text of a prompt, or its chat messages as canonical JSON (one user message counts as text)."""
    if messages and len(messages) == 1 and messages[0].get("role") == "user":
        return "t" + messages[0]["content"]
    if messages:
        return "m" + json.dumps([{"role": m["role"], "content": m["content"]} for m in messages],
                                 ensure_ascii=False, sort_keys=True)
    return "t" + (prompt or "")
