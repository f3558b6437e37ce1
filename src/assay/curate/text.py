"""The text of an item as curation steps see it, normalised, cut into words and shingles."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from assay.records import Item

FIELDS = ("prompt", "reference")
_SPACE = re.compile(r"\s+")


def item_text(item: Item, field: str = "prompt") -> str:
    """The text of ``field``: the prompt (a chat's message contents joined by newlines) or the reference ('' when None)."""
    if field == "reference":
        return item.reference or ""
    if item.prompt is not None:
        return item.prompt
    return "\n".join(m.content for m in item.messages or [])


def check_fields(fields: str | Sequence[str], arg: str = "fields") -> list[str]:
    """``fields`` as a list of known field names; ValueError naming ``arg`` otherwise."""
    out = [fields] if isinstance(fields, str) else list(fields)
    bad = [f for f in out if f not in FIELDS]
    if bad or not out:
        raise ValueError(f"{arg} must name some of {', '.join(FIELDS)}, not {bad or out}")
    return out


def _strip_punctuation(text: str) -> str:
    # Unicode punctuation (P*) and symbols (S*) become spaces, so "a,b" is two words
    return "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)


def normalise(text: str, *, lowercase: bool = True, nfkc: bool = True, punctuation: bool = True) -> str:
    """``text`` with Unicode NFKC applied, case folded, punctuation dropped (unless kept) and
    runs of whitespace made one space.

    >>> normalise("  Ｈello,\\u00a0WORLD!! ", punctuation=False)
    'hello world'
    """
    if nfkc:
        text = unicodedata.normalize("NFKC", text)
    if lowercase:
        text = text.casefold()
    if not punctuation:
        text = _strip_punctuation(text)
    return _SPACE.sub(" ", text).strip()


def words(text: str) -> list[str]:
    """The words of ``text`` after ``normalise`` without punctuation."""
    return normalise(text, punctuation=False).split()


def ngrams(tokens: Sequence[str], n: int) -> set[str]:
    """The distinct word n-grams of ``tokens`` (each as the words joined by a space); a text of
    fewer than ``n`` words gives itself as its one n-gram, an empty one nothing.

    >>> sorted(ngrams("a b c d".split(), 3))
    ['a b c', 'b c d']
    """
    if not tokens:
        return set()
    if len(tokens) < n:
        return {" ".join(tokens)}
    return {" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """|A ∩ B| / |A ∪ B| of two sets (0 when both are empty)."""
    a, b = set(a), set(b)
    union = len(a | b)
    return len(a & b) / union if union else 0.0


_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str | None) -> tuple:
    """A sort key where digit runs compare as numbers: 'q2' before 'q10'."""
    if text is None:
        return ()
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in _DIGITS.split(text) if p)
