"""Text measures the IFEval checks share: words, sentences, Treebank-style tokens, language.

They follow the reference scorer (google-research ``instruction_following_eval``):
words are ``\\w+`` runs, sentences are NLTK Punkt English sentences (here from the
pickle-free ``punkt`` package, nothing downloaded), tokens follow the Penn
Treebank conventions of ``nltk.word_tokenize``, languages come from ``langdetect``
seeded with 0 so a verdict never changes between runs.
"""

from __future__ import annotations

import functools
import re

_WORD = re.compile(r"\w+")


def count_words(text: str) -> int:
    """Number of ``\\w+`` runs in ``text`` (what the reference calls words)."""
    return len(_WORD.findall(text))


@functools.lru_cache(maxsize=1)
def _punkt_english():
    import punkt

    return punkt.tokenizer_for("english")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` by the pretrained Punkt English model."""
    return _punkt_english().tokenize(text)


def count_sentences(text: str) -> int:
    return len(split_sentences(text))


# ---- Penn Treebank-style word tokens ---------------------------------------------------
# Only what changes which tokens exist matters to the checks (they count upper-case
# tokens), so the substitutions below keep the Treebank splitting decisions: opening
# and closing quotes, punctuation, brackets, double dashes and clitics.

_OPENING_QUOTES = [
    (re.compile(r"([«“‘„]|[`]+)"), r" \1 "),
    (re.compile(r'^"'), r"``"),
    (re.compile(r"(``)"), r" \1 "),
    (re.compile(r"([ (\[{<])(\"|'{2})"), r"\1 `` "),
    (re.compile(r"(?i)(')(?!re|ve|ll|m|t|s|d|n)(\w)\b"), r"\1 \2"),
]
_PUNCTUATION = [
    (re.compile(r"([^.])(\.)([\]\)}>\"']*)\s*$"), r"\1 \2 \3 "),
    (re.compile(r"([:,])([^\d])"), r" \1 \2"),
    (re.compile(r"([:,])$"), r" \1 "),
    (re.compile(r"\.{2,}"), r" \g<0> "),
    (re.compile(r"[;@#$%&]"), r" \g<0> "),
    (re.compile(r"([^.])(\.)([\]\)}>\"']*)\s*$"), r"\1 \2\3 "),
    (re.compile(r"[?!]"), r" \g<0> "),
    (re.compile(r"([^'])' "), r"\1 ' "),
    (re.compile(r"[*]"), r" \g<0> "),
]
_BRACKETS = re.compile(r"[\]\[(){}<>]")
_DOUBLE_DASH = re.compile(r"--")
_CLOSING_QUOTES = [
    (re.compile(r"([»”’])"), r" \1 "),
    (re.compile(r"''"), " '' "),
    (re.compile(r'"'), " '' "),
    (re.compile(r"([^' ])('[sS]|'[mM]|'[dD]|') "), r"\1 \2 "),
    (re.compile(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), r"\1 \2 "),
]
_SPLIT_WORDS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(can)(not)\b",
        r"\b(d)('ye)\b",
        r"\b(gim)(me)\b",
        r"\b(gon)(na)\b",
        r"\b(got)(ta)\b",
        r"\b(lem)(me)\b",
        r"\b(more)('n)\b",
        r"\b(wan)(na)(?=\s)",
        r" ('t)(is)\b",
        r" ('t)(was)\b",
    )
]


def _treebank_sentence(text: str) -> list[str]:
    for pattern, repl in _OPENING_QUOTES:
        text = pattern.sub(repl, text)
    for pattern, repl in _PUNCTUATION:
        text = pattern.sub(repl, text)
    text = _BRACKETS.sub(r" \g<0> ", text)
    text = _DOUBLE_DASH.sub(" -- ", text)
    text = f" {text} "
    for pattern, repl in _CLOSING_QUOTES:
        text = pattern.sub(repl, text)
    for pattern in _SPLIT_WORDS:
        text = pattern.sub(r" \1 \2 ", text)
    return text.split()


def word_tokens(text: str) -> list[str]:
    """Treebank-style tokens of ``text``, sentence by sentence (as ``nltk.word_tokenize``)."""
    return [tok for sentence in split_sentences(text) for tok in _treebank_sentence(sentence)]


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the language of ``text`` by ``langdetect`` (seed 0), or None if undetectable."""
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0
    try:
        return detect(text)
    except LangDetectException:
        return None
