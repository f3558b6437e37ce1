"""Which language a prompt is in, with the lingua detector, and when a text is too short to tell.

lingua (Stahl, https://github.com/pemistahl/lingua-py) scores a text with character 1- to
5-gram models of 75 languages and was built for short texts; its models ship inside the
wheel, so nothing is downloaded. Its confidence values sum to one over the candidate
languages. ``identify`` gives the best language only when the text has at least
``min_chars`` letters and the best confidence reaches ``min_confidence``; otherwise it
says why it cannot tell, and the ``language`` step keeps the item and logs that reason.

The detector of a set of languages is built once per process. With every language
(``languages=None``) the first call loads all models (about 6 s and 1.3 GB on a 2-core
machine); naming the candidates (``languages=[en, fr, de, ...]``) loads only theirs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Identified:
    """The best language of a text (ISO 639-1 code) and its confidence, and why it is not sure enough."""

    language: str | None
    """The best guess; None when the text is too short to guess."""
    confidence: float
    letters: int
    unsure: str | None = None
    """Why the guess is not to be trusted (too few letters, or too low a confidence); None when it is."""


def known_languages() -> list[str]:
    """The ISO 639-1 codes lingua knows."""
    from lingua import Language

    return sorted(lang.iso_code_639_1.name.lower() for lang in Language.all())


def check_codes(codes: Sequence[str], arg: str) -> list[str]:
    """``codes`` lower-cased, each one lingua knows; ValueError naming ``arg`` otherwise."""
    known = set(known_languages())
    out = [c.lower() for c in codes]
    bad = [c for c in out if c not in known]
    if bad:
        raise ValueError(f"{arg}: {', '.join(bad)} {'is not a' if len(bad) == 1 else 'are not'} language code"
                         f"{'' if len(bad) == 1 else 's'} the detector knows (ISO 639-1, e.g. en, fr; known: "
                         f"{', '.join(known_languages())})")
    return out


@functools.lru_cache(maxsize=4)
def _detector(languages: tuple[str, ...] | None) -> Any:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    if languages is None:
        return LanguageDetectorBuilder.from_all_languages().build()
    codes = [IsoCode639_1.from_str(c) for c in languages]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()


def identify(text: str, *, min_chars: int = 10, min_confidence: float = 0.3,
             languages: Sequence[str] | None = None) -> Identified:
    """The language of ``text`` among ``languages`` (None: all lingua knows), or why it cannot be told.

    ``min_chars`` counts letters only (digits, signs and spaces say nothing about the
    language). The confidence is lingua's, from 0 to 1 over the candidate languages.
    """
    letters = sum(ch.isalpha() for ch in text)
    if letters == 0:
        return Identified(None, 0.0, 0, "no letters to tell the language by")
    if letters < min_chars:
        return Identified(None, 0.0, letters, f"{letters} letter{'s' if letters != 1 else ''}, "
                          f"too short to tell the language (min_chars {min_chars})")
    langs = None if languages is None else tuple(sorted(set(languages)))
    values = _detector(langs).compute_language_confidence_values(text)
    if not values:
        return Identified(None, 0.0, letters, "no language model fits the text")
    best = values[0]
    code, p = best.language.iso_code_639_1.name.lower(), round(best.value, 3)
    if p < min_confidence:
        return Identified(code, p, letters, f"language unclear: best guess {code} with confidence {p}, "
                          f"below min_confidence {min_confidence}")
    return Identified(code, p, letters)


__all__ = ["Identified", "check_codes", "identify", "known_languages"]
