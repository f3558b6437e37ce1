"""The text of an item as curation steps see it, normalised, cut into words and shingles."""

from __future__ import annotations

import functools
import re
import sys
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


@functools.cache
def punctuation_table() -> dict[int, str]:
    """A ``str.translate`` table making every Unicode punctuation mark (P*) and symbol (S*) a space."""
    return {cp: " " for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp))[0] in "PS"}


def _strip_punctuation(text: str) -> str:
    # Unicode punctuation (P*) and symbols (S*) become spaces, so "a,b" is two words; one C-level
    # pass (a table built once, ~0.3 s) where a category look-up per character took most of near-dup's time
    return text.translate(punctuation_table())


# kept by ``drop_punctuation``: they often carry meaning (operators, paths, handles, names)
_KEPT_MARKS = frozenset("-*/%#@&_\\")


def drop_punctuation(text: str) -> str:
    """``text`` with its punctuation marks made spaces, for comparing prompts that differ only in them.

    A punctuation mark is a character of Unicode category P* (``. , ; : ! ? ' " ( ) [ ] { }``,
    quotes, dashes other than ``-``...). Kept are marks between two digits (``3.5``,
    ``1,000``, ``10:30``) and ``- * / % # @ & _ \\``, which are often operators or parts of
    names; symbols (category S*: ``+ = < > $ ^ ~``...) are kept too. So "What is 2*3?" and
    "What is 2+3?" stay apart while "WHAT IS FRANCE?!!" and "what is France?" do not.

    >>> drop_punctuation("“Hello,” she said... 3.5 * 2 = 7?!")
    ' Hello   she said    3.5 * 2 = 7  '
    """
    out = []
    for i, ch in enumerate(text):
        if unicodedata.category(ch)[0] == "P" and ch not in _KEPT_MARKS and not (
                0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()):
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


_AROUND_SIGN = re.compile(r"\s*([^\w\s])\s*")


def dup_key(text: str, *, lowercase: bool = True, nfkc: bool = True, punctuation: bool = False) -> str:
    """What ``exact-dup`` compares: ``text`` after NFKC, case folding, ``drop_punctuation`` (unless
    ``punctuation`` is kept), then whitespace: none next to a remaining sign (``2 + 2`` is
    ``2+2``), runs of it made one space, none at the ends.

    >>> dup_key("WHAT IS the capital of  FRANCE?!!") == dup_key("What is the capital of France?")
    True
    >>> dup_key("what is 2 + 2 ?"), dup_key("What is 2*3?")
    ('what is 2+2', 'what is 2*3')
    """
    if nfkc:
        text = unicodedata.normalize("NFKC", text)
    if lowercase:
        text = text.casefold()
    if not punctuation:
        text = drop_punctuation(text)
    return _SPACE.sub(" ", _AROUND_SIGN.sub(r"\1", text)).strip()


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
