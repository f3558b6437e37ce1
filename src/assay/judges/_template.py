"""Prompt templates of the LLM judges: files users can override, with a digest that names them.

A template is a text file of sections, each opened by a line ``@@ system`` or ``@@ user``
(lines before the first section starting with ``#`` are comments and are not sent).
Placeholders are written ``{{name}}`` and filled in one pass, so text inside a response
that looks like a placeholder stays as it is. Responses and prompts are not pasted raw:
their placeholders expand to a block fenced by delimiters carrying a per-call nonce
(see ``fence``), which the text under test cannot know in advance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from assay import records as R
from assay.errors import BadInput

_SECTION = re.compile(r"^@@[ \t]*(system|user)[ \t]*$", re.MULTILINE)
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


@dataclass(frozen=True)
class Template:
    """A parsed judge template: its chat sections, the placeholders it uses, its source and digest."""

    name: str
    text: str
    sections: tuple[tuple[str, str], ...]
    source: str

    @property
    def digest(self) -> str:
        """The template's identity as part of a rater: a digest of its exact text."""
        return R.digest("judge-template", self.text, size=8)

    @property
    def placeholders(self) -> set[str]:
        return {m.group(1) for _, body in self.sections for m in _PLACEHOLDER.finditer(body)}

    def spec(self) -> dict[str, Any]:
        """The template as plain data (``Template.from_spec`` rebuilds it in another process)."""
        return {"name": self.name, "text": self.text, "sections": [list(s) for s in self.sections], "source": self.source}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Template:
        return cls(spec["name"], spec["text"], tuple((role, body) for role, body in spec["sections"]), spec["source"])

    def render(self, values: dict[str, str]) -> list[dict[str, str]]:
        """The chat messages with every placeholder filled (in one pass: values are not re-scanned)."""
        return [{"role": role, "content": _PLACEHOLDER.sub(lambda m: values[m.group(1)], body)} for role, body in self.sections]


def parse_template(text: str, *, source: str, kind: str, required: set[str], known: set[str]) -> Template:
    """Parse template text; BadInput names the file and line of a missing section or unknown placeholder."""
    parts = _SECTION.split(text)
    head, rest = parts[0], parts[1:]
    for n, line in enumerate(head.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            raise BadInput("text before the first '@@ system' or '@@ user' line must be a '#' comment", file=source, line=n)
    sections = tuple((rest[i], rest[i + 1].strip("\n")) for i in range(0, len(rest), 2))
    if not any(role == "user" for role, _ in sections):
        raise BadInput("a judge template needs an '@@ user' section", file=source)
    for m in _PLACEHOLDER.finditer(text):
        if m.group(1) not in known:
            line = text.count("\n", 0, m.start()) + 1
            raise BadInput(f"unknown placeholder {{{{{m.group(1)}}}}}; a {kind} template may use {sorted(known)}", file=source, line=line)
    tpl = Template(kind, text, sections, source)
    missing = required - tpl.placeholders
    if missing:
        raise BadInput(f"a {kind} template must use {sorted('{{' + p + '}}' for p in missing)}", file=source)
    return tpl


def load_template(path: str | Path | None, *, kind: str, required: set[str], known: set[str]) -> Template:
    """The template at ``path``, or the shipped default ``templates/{kind}.txt`` when None."""
    if path is None:
        text = resources.files("assay.judges").joinpath("templates", f"{kind}.txt").read_text(encoding="utf-8")
        return parse_template(text, source=f"<built-in {kind} template>", kind=kind, required=required, known=known)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput("no such template file", file=str(p)) from None
    except UnicodeDecodeError as e:
        raise BadInput(f"not valid UTF-8 at byte {e.start}", file=str(p)) from None
    return parse_template(text, source=str(p), kind=kind, required=required, known=known)


def make_nonce(*parts: object, avoid: tuple[str, ...] = ()) -> str:
    """A delimiter nonce derived from the call's content (so requests stay cacheable).

    A text cannot contain a digest of itself, so text under test cannot close its own
    fence; should a nonce occur in ``avoid`` anyway, the next one is taken.
    """
    for attempt in range(100):
        nonce = R.digest("judge-nonce", attempt, *parts, size=5)
        if not any(nonce in text for text in avoid):
            return nonce
    raise RuntimeError("no nonce absent from the texts")  # 100 collisions of 40-bit digests: not expected


def fence(label: str, text: str, nonce: str) -> str:
    """``text`` between an opening and a closing delimiter that both carry the nonce."""
    return f"<<<{label} {nonce}>>>\n{text}\n<<<END {label} {nonce}>>>"
