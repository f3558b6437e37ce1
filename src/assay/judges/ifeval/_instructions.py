"""The 25 verifiable instruction types of IFEval, each a function of the response text.

Semantics follow the reference scorer of Zhou et al. (2023, arXiv 2311.07911),
google-research ``instruction_following_eval``, so results agree with it verdict
for verdict; where that scorer is surprising (keywords are regular expressions,
a postscript marker may appear anywhere) the surprise is kept and noted.
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass
from typing import Callable

from assay.judges.ifeval import _text

RELATIONS = ("less than", "at least")


@dataclass(frozen=True)
class InstructionType:
    """One instruction type: its id (``group:name``), its check and the kwargs the check takes."""

    id: str
    check: Callable[..., bool]
    params: tuple[str, ...]
    description: str

    @property
    def group(self) -> str:
        return self.id.split(":", 1)[0]


def _type(instruction_id: str, fn: Callable[..., bool]) -> InstructionType:
    params = tuple(p for p in inspect.signature(fn).parameters if p != "response")
    return InstructionType(instruction_id, fn, params, (fn.__doc__ or "").strip().splitlines()[0])


def _compare(count: int, relation: str, threshold: int) -> bool:
    if relation == "less than":
        return count < threshold
    if relation == "at least":
        return count >= threshold
    raise ValueError(f"relation must be one of {RELATIONS}, got {relation!r}")


def _pattern(template: str, word: str, *, flags: int = 0) -> re.Pattern[str]:
    # The reference pastes keywords into regular expressions unescaped; a keyword that
    # is not a valid pattern (say "C++") is taken literally instead of crashing the run.
    try:
        return re.compile(template.format(word), flags)
    except re.error:
        return re.compile(template.format(re.escape(word)), flags)


# ---- keywords --------------------------------------------------------------------------


def keywords_existence(response: str, keywords: list[str]) -> bool:
    """Every keyword occurs (case-insensitive)."""
    return all(_pattern("{}", k, flags=re.IGNORECASE).search(response) for k in keywords)


def keywords_frequency(response: str, keyword: str, frequency: int, relation: str) -> bool:
    """The keyword occurs less than / at least ``frequency`` times (case-insensitive)."""
    count = len(_pattern("{}", keyword.strip(), flags=re.IGNORECASE).findall(response))
    return _compare(count, relation, frequency)


def keywords_forbidden_words(response: str, forbidden_words: list[str]) -> bool:
    """None of the words occurs as a whole word (case-insensitive)."""
    return not any(_pattern(r"\b{}\b", w, flags=re.IGNORECASE).search(response) for w in forbidden_words)


def keywords_letter_frequency(response: str, letter: str, let_frequency: int, let_relation: str) -> bool:
    """One character occurs less than / at least ``let_frequency`` times (case-insensitive)."""
    letter = letter.strip().lower()
    if len(letter) != 1:
        raise ValueError(f"letter must be a single character, got {letter!r}")
    return _compare(response.lower().count(letter), let_relation, let_frequency)


# ---- language and case -----------------------------------------------------------------


def response_language(response: str, language: str) -> bool:
    """The whole response is in ``language`` (ISO 639-1) by langdetect; undetectable text passes."""
    detected = _text.detect_language(response)
    return detected is None or detected == language


def english_capital(response: str) -> bool:
    """The response is English and all upper case."""
    if not response.isupper():
        return False
    detected = _text.detect_language(response)
    return detected is None or detected == "en"


def english_lowercase(response: str) -> bool:
    """The response is English and all lower case."""
    if not response.islower():
        return False
    detected = _text.detect_language(response)
    return detected is None or detected == "en"


def capital_word_frequency(response: str, capital_frequency: int, capital_relation: str) -> bool:
    """Upper-case tokens (Treebank tokenisation) occur less than / at least ``capital_frequency`` times."""
    count = sum(1 for tok in _text.word_tokens(response) if tok.isupper())
    return _compare(count, capital_relation, capital_frequency)


# ---- length ----------------------------------------------------------------------------


def number_sentences(response: str, num_sentences: int, relation: str) -> bool:
    """Punkt English sentences number less than / at least ``num_sentences``."""
    return _compare(_text.count_sentences(response), relation, num_sentences)


def number_words(response: str, num_words: int, relation: str) -> bool:
    """Words (``\\w+`` runs) number less than / at least ``num_words``."""
    return _compare(_text.count_words(response), relation, num_words)


def number_paragraphs(response: str, num_paragraphs: int) -> bool:
    """Exactly ``num_paragraphs`` paragraphs separated by ``***``, none of them empty."""
    parts = re.split(r"\s?\*\*\*\s?", response)
    count = len(parts)
    for i, part in enumerate(parts):
        if not part.strip():
            if 0 < i < len(parts) - 1:
                return False  # an empty paragraph between two dividers
            count -= 1
    return count == num_paragraphs


def nth_paragraph_first_word(response: str, num_paragraphs: int, nth_paragraph: int, first_word: str) -> bool:
    """Exactly ``num_paragraphs`` paragraphs (split on a blank line) and paragraph n starts with ``first_word``."""
    if nth_paragraph < 1:
        raise ValueError(f"nth_paragraph counts from 1, got {nth_paragraph}")
    parts = response.split("\n\n")
    count = sum(1 for p in parts if p.strip())
    # As in the reference, the n-th paragraph is indexed among all parts, empty ones included.
    if nth_paragraph > count:
        return False
    paragraph = parts[nth_paragraph - 1].strip()
    if not paragraph:
        return False
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    m = re.match(r"[^.,?!'\"]*", word)
    assert m is not None, "a pattern that can match nothing always matches"
    head = m.group(0).lower()
    return count == num_paragraphs and head == first_word.lower()


# ---- content ---------------------------------------------------------------------------


def number_placeholders(response: str, num_placeholders: int) -> bool:
    """At least ``num_placeholders`` placeholders in square brackets, like ``[address]``."""
    return len(re.findall(r"\[.*?\]", response)) >= num_placeholders


def postscript(response: str, postscript_marker: str) -> bool:
    """A postscript marker (``P.S.``, ``P.P.S`` or another) occurs; case-insensitive, anywhere in the text."""
    marker = postscript_marker.strip()
    if marker == "P.P.S":
        found = re.search(r"p\.\s?p\.\s?s", response.lower())
    elif marker == "P.S.":
        found = re.search(r"p\.\s?s\.", response.lower())
    else:
        found = _pattern("{}", marker.lower()).search(response.lower())
    return found is not None


# ---- format ----------------------------------------------------------------------------


def number_bullet_lists(response: str, num_bullets: int) -> bool:
    """Exactly ``num_bullets`` markdown bullet lines (``* item`` or ``- item``)."""
    stars = re.findall(r"^\s*\*[^*].*$", response, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", response, flags=re.MULTILINE)
    return len(stars) + len(dashes) == num_bullets


_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def constrained_response(response: str) -> bool:
    """The response contains one of "My answer is yes./no./maybe."."""
    text = response.strip()
    return any(option in text for option in _OPTIONS)


def number_highlighted_sections(response: str, num_highlights: int) -> bool:
    """At least ``num_highlights`` non-empty markdown highlights ``*like this*`` (``**bold**`` counts too)."""
    single = [h for h in re.findall(r"\*[^\n*]*\*", response) if h.strip("*").strip()]
    double = [h for h in re.findall(r"\*\*[^\n*]*\*\*", response) if h[2:-2].strip()]
    return len(single) + len(double) >= num_highlights


def multiple_sections(response: str, section_spliter: str, num_sections: int) -> bool:
    """At least ``num_sections`` sections headed ``<spliter> N`` (e.g. "SECTION 1")."""
    splitter = _pattern(r"\s?{}\s?\d+\s?", section_spliter.strip())
    return len(splitter.split(response)) - 1 >= num_sections


def json_format(response: str) -> bool:
    """The whole response is JSON, optionally inside a markdown code fence."""
    text = response.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        text = text.removeprefix(fence)
    text = text.removesuffix("```").strip()
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def title(response: str) -> bool:
    """A non-empty title in double angular brackets, like ``<<poem of joy>>``."""
    return any(t.lstrip("<").rstrip(">").strip() for t in re.findall(r"<<[^\n]+>>", response))


# ---- combination, start and end, punctuation -------------------------------------------


def two_responses(response: str) -> bool:
    """Two different responses separated by ``******`` and nothing else."""
    parts = response.split("******")
    answers = []
    for i, part in enumerate(parts):
        if part.strip():
            answers.append(part)
        elif 0 < i < len(parts) - 1:
            return False
    return len(answers) == 2 and answers[0].strip() != answers[1].strip()


def repeat_prompt(response: str, prompt_to_repeat: str) -> bool:
    """The response starts with the request repeated word for word (case-insensitive)."""
    return response.strip().lower().startswith(prompt_to_repeat.strip().lower())


def end_checker(response: str, end_phrase: str) -> bool:
    """The response ends with ``end_phrase`` (case-insensitive, outer quotes ignored)."""
    return response.strip().strip('"').lower().endswith(end_phrase.strip().lower())


def quotation(response: str) -> bool:
    """The whole response is wrapped in double quotation marks."""
    text = response.strip()
    return len(text) > 1 and text[0] == '"' and text[-1] == '"'


def no_comma(response: str) -> bool:
    """No comma anywhere."""
    return "," not in response


INSTRUCTIONS: dict[str, InstructionType] = {t.id: t for t in (
    _type("keywords:existence", keywords_existence),
    _type("keywords:frequency", keywords_frequency),
    _type("keywords:forbidden_words", keywords_forbidden_words),
    _type("keywords:letter_frequency", keywords_letter_frequency),
    _type("language:response_language", response_language),
    _type("change_case:english_capital", english_capital),
    _type("change_case:english_lowercase", english_lowercase),
    _type("change_case:capital_word_frequency", capital_word_frequency),
    _type("length_constraints:number_sentences", number_sentences),
    _type("length_constraints:number_words", number_words),
    _type("length_constraints:number_paragraphs", number_paragraphs),
    _type("length_constraints:nth_paragraph_first_word", nth_paragraph_first_word),
    _type("detectable_content:number_placeholders", number_placeholders),
    _type("detectable_content:postscript", postscript),
    _type("detectable_format:number_bullet_lists", number_bullet_lists),
    _type("detectable_format:constrained_response", constrained_response),
    _type("detectable_format:number_highlighted_sections", number_highlighted_sections),
    _type("detectable_format:multiple_sections", multiple_sections),
    _type("detectable_format:json_format", json_format),
    _type("detectable_format:title", title),
    _type("combination:two_responses", two_responses),
    _type("combination:repeat_prompt", repeat_prompt),
    _type("startend:end_checker", end_checker),
    _type("startend:quotation", quotation),
    _type("punctuation:no_comma", no_comma),
)}
"""The instruction types by id, in the reference's order."""
