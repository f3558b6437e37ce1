"""Each IFEval instruction type on small hand-written responses, edge cases included."""

from __future__ import annotations

import pytest

from assay.judges import ifeval
from assay.judges.ifeval import _text


def ok(instruction_id: str, response: str, mode: str = "strict", **kwargs) -> bool:
    (result,) = ifeval.check("prompt", response, [instruction_id], [kwargs], mode=mode)
    return result


def test_there_are_the_25_types_of_the_paper():
    assert len(ifeval.INSTRUCTION_IDS) == 25
    groups = {i.split(":")[0] for i in ifeval.INSTRUCTION_IDS}
    assert groups == {
        "keywords", "language", "length_constraints", "detectable_content", "detectable_format",
        "combination", "startend", "change_case", "punctuation",
    }


# ---- keywords --------------------------------------------------------------------------


def test_keywords_existence():
    assert ok("keywords:existence", "The Cat sat on the MAT.", keywords=["cat", "mat"])
    assert not ok("keywords:existence", "The cat sat.", keywords=["cat", "mat"])
    assert ok("keywords:existence", "Many cats.", keywords=["cat"])  # a substring is enough
    assert ok("keywords:existence", "I code in C++ daily", keywords=["C++"])  # not a valid regex: literal


@pytest.mark.parametrize(
    ("text", "relation", "frequency", "expected"),
    [
        ("dog Dog DOG", "at least", 3, True),
        ("dog Dog DOG", "at least", 4, False),
        ("dog Dog DOG", "less than", 3, False),
        ("dog Dog DOG", "less than", 4, True),
        ("no canines", "less than", 1, True),
    ],
)
def test_keywords_frequency(text, relation, frequency, expected):
    assert ok("keywords:frequency", text, keyword=" dog ", frequency=frequency, relation=relation) is expected


def test_keywords_frequency_rejects_an_unknown_relation():
    with pytest.raises(ValueError, match="relation"):
        ok("keywords:frequency", "dog", keyword="dog", frequency=1, relation="at most")


def test_forbidden_words_are_whole_words_case_insensitive():
    assert ok("keywords:forbidden_words", "A catalog of concatenations.", forbidden_words=["cat"])
    assert not ok("keywords:forbidden_words", "Look, a Cat.", forbidden_words=["dog", "cat"])


def test_letter_frequency_counts_any_single_character_ignoring_case():
    assert ok("keywords:letter_frequency", "Aardvark", letter="a", let_frequency=3, let_relation="at least")
    assert not ok("keywords:letter_frequency", "Aardvark", letter="A", let_frequency=3, let_relation="less than")
    assert ok("keywords:letter_frequency", "#one #two", letter="#", let_frequency=2, let_relation="at least")
    with pytest.raises(ValueError, match="single character"):
        ok("keywords:letter_frequency", "abc", letter="ab", let_frequency=1, let_relation="at least")


# ---- language and case -----------------------------------------------------------------

FRENCH = "Bonjour à tous, je suis très heureux de vous présenter notre nouvelle maison au bord de la mer."
ENGLISH = "Hello everyone, I am very happy to show you our new house by the sea, which we bought last year."


def test_response_language():
    assert ok("language:response_language", FRENCH, language="fr")
    assert not ok("language:response_language", ENGLISH, language="fr")
    # langdetect finds no language in digits and punctuation: counted as followed, as in the reference
    assert _text.detect_language("12345 !!! 678") is None
    assert ok("language:response_language", "12345 !!! 678", language="fr")


def test_language_detection_is_deterministic():
    text = "Ciao, come stai? Tutto bene, grazie."
    assert len({_text.detect_language(text) for _ in range(5)}) == 1


def test_english_capital_and_lowercase():
    assert ok("change_case:english_capital", ENGLISH.upper())
    assert not ok("change_case:english_capital", ENGLISH.upper() + " ok")
    assert not ok("change_case:english_capital", FRENCH.upper())  # capitals, but not English
    assert ok("change_case:english_lowercase", ENGLISH.lower())
    assert not ok("change_case:english_lowercase", ENGLISH)
    assert not ok("change_case:english_lowercase", FRENCH.lower())


def test_capital_words_follow_treebank_tokenisation():
    # tokens: I LOVE NYC and DO N'T care . -> upper-case: I, LOVE, NYC, DO, N'T
    text = "I LOVE NYC and DON'T care."
    assert _text.word_tokens(text) == ["I", "LOVE", "NYC", "and", "DO", "N'T", "care", "."]
    assert ok("change_case:capital_word_frequency", text, capital_frequency=5, capital_relation="at least")
    assert not ok("change_case:capital_word_frequency", text, capital_frequency=6, capital_relation="at least")
    assert ok("change_case:capital_word_frequency", text, capital_frequency=6, capital_relation="less than")


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("AT&T, inc.", ["AT", "&", "T", ",", "inc", "."]),
        ('He said "GO" (now)!', ["He", "said", "``", "GO", "''", "(", "now", ")", "!"]),
        ("well-known -- cannot", ["well-known", "--", "can", "not"]),
        ("First one. SECOND ONE.", ["First", "one", ".", "SECOND", "ONE", "."]),
    ],
)
def test_treebank_tokens(text, tokens):
    assert _text.word_tokens(text) == tokens


# ---- length ----------------------------------------------------------------------------


def test_number_sentences_uses_punkt():
    text = "Dr. Smith arrived at 5 p.m. on Monday. He sat down! Why?"
    assert _text.count_sentences(text) == 3
    assert ok("length_constraints:number_sentences", text, num_sentences=3, relation="at least")
    assert not ok("length_constraints:number_sentences", text, num_sentences=3, relation="less than")


def test_number_words_counts_word_character_runs():
    assert _text.count_words("don't stop-me now") == 5  # don, t, stop, me, now
    assert ok("length_constraints:number_words", "don't stop-me now", num_words=5, relation="at least")
    assert ok("length_constraints:number_words", "one two", num_words=3, relation="less than")


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("First.\n***\nSecond.\n***\nThird.", 3, True),
        ("First.\n***\nSecond.\n***\nThird.", 2, False),
        ("***\nFirst.\n***\nSecond.\n***", 2, True),  # dividers at both ends do not make paragraphs
        ("First.\n***\n***\nSecond.", 2, False),  # an empty paragraph in between fails
        ("No divider at all.", 1, True),
    ],
)
def test_number_paragraphs(text, n, expected):
    assert ok("length_constraints:number_paragraphs", text, num_paragraphs=n) is expected


def test_nth_paragraph_first_word():
    text = "Hello there.\n\n\"Wow,\" said he.\n\nThe end."
    kw = {"num_paragraphs": 3, "nth_paragraph": 2}
    assert ok("length_constraints:nth_paragraph_first_word", text, first_word="wow", **kw)
    assert ok("length_constraints:nth_paragraph_first_word", text, first_word="WOW", **kw)
    assert not ok("length_constraints:nth_paragraph_first_word", text, first_word="said", **kw)
    assert not ok("length_constraints:nth_paragraph_first_word", text, first_word="wow", num_paragraphs=2, nth_paragraph=2)
    assert not ok("length_constraints:nth_paragraph_first_word", text, first_word="the", num_paragraphs=3, nth_paragraph=4)
    with pytest.raises(ValueError, match="from 1"):
        ok("length_constraints:nth_paragraph_first_word", text, first_word="x", num_paragraphs=3, nth_paragraph=0)


# ---- content ---------------------------------------------------------------------------


def test_number_placeholders():
    text = "Dear [name], we will meet at [address] on [date]."
    assert ok("detectable_content:number_placeholders", text, num_placeholders=3)
    assert not ok("detectable_content:number_placeholders", text, num_placeholders=4)


@pytest.mark.parametrize(
    ("text", "marker", "expected"),
    [
        ("Thanks.\n\nP.S. See you soon.", "P.S.", True),
        ("Thanks.\n\np. s. see you", "P.S.", True),
        ("Thanks.\n\nPS see you", "P.S.", False),
        ("Thanks.\nP.S. one\nP.P.S two", "P.P.S", True),
        ("Thanks.\nP.S. only one", "P.P.S", False),
        ("Thanks.\nNote: bring snacks", "Note:", True),
    ],
)
def test_postscript(text, marker, expected):
    assert ok("detectable_content:postscript", text, postscript_marker=marker) is expected


# ---- format ----------------------------------------------------------------------------


def test_number_bullet_lists():
    text = "Intro\n* one\n  * two\n- three\n**Bold line**"
    assert ok("detectable_format:number_bullet_lists", text, num_bullets=3)
    assert not ok("detectable_format:number_bullet_lists", text, num_bullets=4)


def test_constrained_response_is_case_sensitive():
    assert ok("detectable_format:constrained_response", "Well... My answer is maybe.")
    assert not ok("detectable_format:constrained_response", "My answer is Yes.")


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("*one* and *two*", 2, True),
        ("*one* and *two*", 3, False),
        ("**bold** counts", 1, True),
        ("* * is empty, so is **  **", 1, False),
        ("*not closed\non this line*", 1, False),
    ],
)
def test_number_highlighted_sections(text, n, expected):
    assert ok("detectable_format:number_highlighted_sections", text, num_highlights=n) is expected


def test_multiple_sections():
    text = "SECTION 1\nfirst\nSECTION 2\nsecond"
    assert ok("detectable_format:multiple_sections", text, section_spliter="SECTION", num_sections=2)
    assert not ok("detectable_format:multiple_sections", text, section_spliter="SECTION", num_sections=3)
    assert not ok("detectable_format:multiple_sections", text, section_spliter="Section", num_sections=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('```json\n{"a": 1}\n```', True),
        ('  [1, 2]  ', True),
        ("{'a': 1}", False),
        ('Here it is: {"a": 1}', False),
    ],
)
def test_json_format(text, expected):
    assert ok("detectable_format:json_format", text) is expected


def test_title():
    assert ok("detectable_format:title", "<<Poem of Joy>>\nLines.")
    assert not ok("detectable_format:title", "<<   >> nothing inside")
    assert not ok("detectable_format:title", "<<broken\ntitle>>")


# ---- combination, start and end, punctuation -------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Answer one.\n******\nAnswer two.", True),
        ("Same.\n******\nSame.", False),
        ("One\n******\nTwo\n******\nThree", False),
        ("One\n******\n******\nTwo", False),
        ("******\nOne\n******\nTwo\n******", True),
    ],
)
def test_two_responses(text, expected):
    assert ok("combination:two_responses", text) is expected


def test_repeat_prompt():
    request = "Write a poem about the sea."
    assert ok("combination:repeat_prompt", "  write a POEM about the sea.\nWaves...", prompt_to_repeat=request)
    assert not ok("combination:repeat_prompt", "Sure! Write a poem about the sea.", prompt_to_repeat=request)


def test_end_checker():
    assert ok("startend:end_checker", 'Done. "Any other questions?"\n', end_phrase="Any other questions?")
    assert not ok("startend:end_checker", "Any other questions? Bye.", end_phrase="Any other questions?")


def test_quotation_and_no_comma():
    assert ok("startend:quotation", '  "Wrapped."  ')
    assert not ok("startend:quotation", '"')
    assert not ok("startend:quotation", '"Half wrapped')
    assert ok("punctuation:no_comma", "No commas here")
    assert not ok("punctuation:no_comma", "One, two")


# ---- strict, loose and the arguments ---------------------------------------------------


def test_loose_variants():
    variants = ifeval.loose_variants("*a*\nb\nc*")
    assert variants == ["*a*\nb\nc*", "b\nc*", "*a*\nb", "b", "a\nb\nc", "b\nc", "a\nb", "b"]


def test_loose_forgives_a_preamble_line_and_markdown():
    text = "Sure, here it is:\nno commas at all"
    assert not ok("punctuation:no_comma", text)
    assert ok("punctuation:no_comma", text, mode="loose")
    assert not ok("startend:quotation", '**"Quoted"**')
    assert ok("startend:quotation", '**"Quoted"**', mode="loose")


def test_a_blank_response_follows_nothing():
    for mode in ("strict", "loose"):
        assert ifeval.check("p", "  \n ", ["punctuation:no_comma", "startend:end_checker"], [{}, {"end_phrase": ""}], mode=mode) == [False, False]


def test_arguments_are_checked():
    ids = ["punctuation:no_comma", "keywords:existence"]
    # None values (as in the HuggingFace copy of the data) are ignored
    assert ifeval.check("p", "cat", ids, [{"keywords": None}, {"keywords": ["cat"], "num_words": None}]) == [True, True]
    assert ifeval.check("p", "cat", ["punctuation:no_comma"], None) == [True]
    with pytest.raises(ValueError, match="needs"):
        ifeval.check("p", "cat", ids, [{}, {}])
    with pytest.raises(ValueError, match="not"):
        ifeval.check("p", "cat", ids, [{"bogus": 1}, {"keywords": ["cat"]}])
    with pytest.raises(ValueError, match="unknown IFEval instruction"):
        ifeval.check("p", "cat", ["keywords:nope"], [{}])
    with pytest.raises(ValueError, match="kwargs"):
        ifeval.check("p", "cat", ids, [{}])
    with pytest.raises(ValueError, match="mode"):
        ifeval.check("p", "cat", ids[:1], [{}], mode="lenient")


def test_evaluate_reads_responses_from_rows():
    rows = [
        {"key": 1, "prompt": "a", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}], "response": "x, y"},
        {"key": 2, "prompt": "b", "instruction_id_list": ["punctuation:no_comma", "startend:quotation"], "kwargs": [{}, {}],
         "response": 'Here:\n"x y"'},
    ]
    report = ifeval.evaluate(rows)
    assert [r.strict for r in report.results] == [[False], [True, False]]
    assert [r.loose for r in report.results] == [[False], [True, True]]
    assert (report.prompt_strict.followed, report.prompt_loose.followed) == (0, 1)
    assert (report.instruction_strict.followed, report.instruction_loose.followed) == (1, 2)
    assert report.instruction_strict.total == 3
