"""Each curation step on crafted data, through the pipeline on both stores: exact removals and reasons."""

from __future__ import annotations

import pytest

from assay.curate import create, curate, parse_step
from assay.errors import BadInput
from tests.curate.helpers import add_dataset, ext_of, log_by_ext

EN = "What is the capital city of France and why is it famous?"
FR = "Bonjour, comment allez-vous aujourd hui ? Je vais très bien, merci beaucoup."
DE = "Das ist ein langer deutscher Satz über das Wetter von heute."


def test_empty_length_language_and_filter(store):
    add_dataset(store, "d", [
        EN,                                                    # 1 kept
        "   \n\t",                                             # 2 empty
        {"messages": [{"role": "user", "content": " "}]},      # 3 empty chat
        "Too short?",                                          # 4 fewer than 3 words (also kept by language: short)
        FR,                                                    # 5 French
        {"prompt": DE, "category": "math"},                    # 6 German
        {"prompt": EN + " Tell me more.", "category": "math", "tags": ["x"]},  # 7 kept by all but filter(drop math)
        {"prompt": "Please answer: " + EN, "tags": ["secret", "y"]},           # 8 dropped by tag
    ])
    s = curate(store, "d", "d2", ["empty", "length(unit=words, min=3)", "language(keep=[en, de])",
                                  "filter(field=tags, values=[secret], mode=drop)",
                                  "filter(field=category, values=[math], mode=drop)"])
    log = log_by_ext(store, s.run_id, "d")
    assert log == {
        "2": ("empty", "removed", "empty prompt", None),
        "3": ("empty", "removed", "empty prompt", None),
        "4": ("length", "removed", "prompt has 2 words, fewer than the minimum 3", None),
        "5": ("language", "removed", "language fr (confidence 0.992), not one of en, de", None),
        "6": ("filter#2", "removed", 'category "math" is one of the dropped values', None),
        "7": ("filter#2", "removed", 'category "math" is one of the dropped values', None),
        "8": ("filter", "removed", 'tags ["secret", "y"] is one of the dropped values', None),
    }
    assert s.kept == 1 and [x["removed"] for x in s.steps] == [2, 1, 1, 1, 2]
    kept = store.list("items", dataset="d2")
    assert [i.prompt for i in kept] == [EN] and kept[0].metadata["source_item_id"] != kept[0].id


def test_language_keeps_short_english_and_texts_too_short_to_tell_with_a_reason(store):
    add_dataset(store, "d", [
        "I want to get better at networking at work",  # 1 English (langdetect: Afrikaans, p=1.0)
        "Gift",                                         # 2 German? English? Swedish? too short: kept, logged
        "Ok!!",                                         # 3 too short: kept, logged
        "12345 + 678 = ?",                              # 4 no letters: kept, logged
        "Ik wil beter worden in netwerken op mijn werk",  # 5 Dutch: removed
        "Tom is important.",                            # 6 English, unclear to lingua (best guess fr): kept, logged
    ])
    s = curate(store, "d", "d2", ["language"])
    log = log_by_ext(store, s.run_id, "d")
    assert {k: v[1] for k, v in log.items()} == {"2": "kept", "3": "kept", "4": "kept", "5": "removed", "6": "kept"}
    assert log["2"][2] == "kept: 4 letters, too short to tell the language (min_chars 10)"
    assert log["4"][2] == "kept: no letters to tell the language by"
    assert log["5"][2].startswith("language nl (confidence ") and log["5"][2].endswith("), not one of en")
    assert log["6"][2].startswith("kept: language unclear: best guess ") and "below min_confidence 0.3" in log["6"][2]
    assert s.kept == 5 and s.steps[0]["removed"] == 1 and s.steps[0]["noted"] == 4
    assert "I want to get better at networking at work" in [i.prompt for i in store.iter("items", dataset="d2")]
    # a lower bar on letters and confidence judges them all: "Gift" is then some language, not English
    s2 = curate(store, "d", "d3", ["language(min_chars=1, min_confidence=0)"])
    assert {k: v[1] for k, v in log_by_ext(store, s2.run_id, "d").items()} == {
        "2": "removed", "3": "removed", "4": "kept", "5": "removed", "6": "removed"}


def test_language_among_named_languages_and_bad_codes():
    from assay.curate.language import identify

    # among fewer candidates lingua is surer: over all 75 languages this is Finnish at 0.115
    everywhere = identify("What is my mentee's marital status?")
    assert everywhere.language != "en" and everywhere.unsure is not None
    among = identify("What is my mentee's marital status?", languages=["en", "fr", "de"])
    assert among.language == "en" and among.confidence > 0.5 and among.unsure is None
    with pytest.raises(ValueError, match="keep: xx is not a language code the detector knows"):
        parse_step("language(keep=[en, xx])")
    with pytest.raises(ValueError, match="keep: de must be among languages too"):
        parse_step("language(keep=[en, de], languages=[en, fr])")


def test_filter_keep_by_metadata_and_length_bounds_on_reference(store):
    add_dataset(store, "d", [
        {"prompt": "a", "reference": "four words right here", "metadata": {"src": "web"}},
        {"prompt": "b", "reference": "one", "metadata": {"src": "web"}},
        {"prompt": "c", "reference": "x" * 30, "metadata": {"src": "books"}},
        {"prompt": "d", "metadata": {}},
    ])
    s = curate(store, "d", "d2", ["filter(field=metadata.src, values=web)",
                                  "length(field=reference, min=4, max=25)"])
    assert log_by_ext(store, s.run_id, "d") == {
        "2": ("length", "removed", "reference has 3 chars, fewer than the minimum 4", None),
        "3": ("filter", "removed", 'metadata.src "books" is not one of the kept values', None),
        "4": ("filter", "removed", "no metadata.src", None),
    }
    assert s.kept == 1
    s = curate(store, "d", "d3", ["length(field=reference, max=20)"])
    assert log_by_ext(store, s.run_id, "d") == {
        "1": ("length", "removed", "reference has 21 chars, more than the maximum 20", None),
        "3": ("length", "removed", "reference has 30 chars, more than the maximum 20", None),
    }


def test_exact_dup_normalises_and_keeps_the_first_by_external_id(store):
    add_dataset(store, "d", [
        "Hello,   world!",           # 1 kept
        "hello world",               # 2 punctuation, case and spaces: dup of 1
        "ＨＥＬＬＯ, world!",          # 3 NFKC + case: dup of 1
        "Hello, world!\n",           # 4 whitespace: dup of 1
        "Goodbye, world!",           # 5 kept
        "goodbye, WORLD!",           # 6 dup of 5
    ] + [f"filler {k}" for k in range(4)])  # ids 7..10: ordering '10' after '9', not after '1'
    s = curate(store, "d", "d2", ["exact-dup"])
    log = log_by_ext(store, s.run_id, "d")
    assert {k: v[3] for k, v in log.items()} == {"2": "1", "3": "1", "4": "1", "6": "5"}
    assert log["3"][2].startswith("exact duplicate of item ") and "(external id 1), which is kept" in log["3"][2]
    assert "NFKC" in log["3"][2] and "punctuation ignored" in log["3"][2]
    s2 = curate(store, "d", "d3", ["exact-dup(punctuation=true)"])
    assert {k: v[3] for k, v in log_by_ext(store, s2.run_id, "d").items()} == {"3": "1", "4": "1", "6": "5"}
    s3 = curate(store, "d", "d4", ["exact-dup(lowercase=false, nfkc=false, punctuation=true)"])
    assert {k: v[3] for k, v in log_by_ext(store, s3.run_id, "d").items()} == {"4": "1"}


def test_exact_dup_by_default_ignores_case_and_punctuation_but_not_operators(store):
    add_dataset(store, "d", [
        "What is the capital of France?",              # 1 kept
        "WHAT IS THE CAPITAL OF FRANCE?!!",             # 2 duplicate of 1
        "  What is the capital of   “France”  ",        # 3 duplicate of 1
        "What is 2*3?", "What is 2+3?", "What is 2/3?",  # 4-6 kept: operators differ
        "What is 3.5?", "What is 35?",                  # 7-8 kept: a decimal point is not punctuation
    ])
    s = curate(store, "d", "d2", ["exact-dup"])
    rows = {r.item_id: r for r in store.iter("curation_log", run_id=s.run_id)}
    log = log_by_ext(store, s.run_id, "d")
    assert {k: v[3] for k, v in log.items()} == {"2": "1", "3": "1"} and s.kept == 6
    first = next(i for i in store.iter("items", dataset="d") if i.external_id == "1")
    assert all(r.related_id == first.id and r.detail["kept"] == first.id and r.detail["kept_external_id"] == "1"
               for r in rows.values())
    # the opt-out compares the exact text: nothing here is a byte-for-byte copy
    exact = curate(store, "d", "d3", ["exact-dup(normalize=false)"])
    assert exact.kept == 8 and store.count("curation_log", run_id=exact.run_id) == 0
    add_dataset(store, "e", ["Same text.", "Same text.", "same text."])
    exact = curate(store, "e", "e2", ["exact-dup(normalize=false)"])
    assert {k: v[3] for k, v in log_by_ext(store, exact.run_id, "e").items()} == {"2": "1"}
    assert "(exact text)" in next(iter(store.iter("curation_log", run_id=exact.run_id))).reason


def test_near_dup_finds_planted_one_word_edits_without_false_positives(store):
    import random

    rng = random.Random(7)
    vocab = [f"w{k}" for k in range(20000)]
    base = [" ".join(rng.choice(vocab) for _ in range(80)) for _ in range(150)]
    planted = {}
    texts = list(base)
    for k in rng.sample(range(150), 30):
        words = base[k].split()
        words[rng.randrange(80)] = "edited"
        planted[len(texts) + 1] = k + 1  # external id of the copy -> of the original
        texts.append(" ".join(words))
    add_dataset(store, "d", texts)
    s = curate(store, "d", "d2", ["near-dup"])
    log = log_by_ext(store, s.run_id, "d")
    assert {int(k): int(v[3]) for k, v in log.items()} == planted
    sims = [r.detail["jaccard"] for r in store.iter("curation_log", run_id=s.run_id)]
    assert all(0.8 <= j < 1 for j in sims)
    assert all(v[2].startswith("near-duplicate of item ") for v in log.values())
    assert s.kept == 150


def test_decontaminate_against_a_reference_dataset(store):
    bench = "the quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat by the door"
    add_dataset(store, "bench", [{"prompt": "Q?", "reference": bench}, "Name three primes."])
    words = bench.split()
    add_dataset(store, "train", [
        "Copy: " + " ".join(words[2:15]).upper() + "!",      # 1: one 13-gram (case and punctuation ignored)
        "Copy: " + " ".join(words[2:14]),                    # 2: 12 words only: kept
        bench,                                               # 3: all 8 of the reference's 13-grams
        "Please, name three primes!",                        # 4: a reference shorter than 13 words, matched whole
        "Name three prime numbers.",                         # 5: kept
    ])
    s = curate(store, "train", "clean", ["decontaminate(datasets=[bench])"])
    bench_ids = {i.external_id: i.id for i in store.iter("items", dataset="bench")}
    rows = {ext_of(store, "train")[r.item_id]: r for r in store.iter("curation_log", run_id=s.run_id)}
    assert sorted(rows) == ["1", "3", "4"]
    assert rows["1"].related_id == bench_ids["1"] and rows["1"].detail["overlapping_ngrams"] == 1
    assert rows["3"].detail["overlapping_ngrams"] == len(words) - 13 + 1 == 8
    assert rows["4"].related_id == bench_ids["2"]
    assert rows["1"].reason == f"shares 1 13-gram with reference dataset bench (most with item {bench_ids['1']}: 1)"
    with pytest.raises(BadInput, match="no dataset 'nope'"):
        curate(store, "train", "x", ["decontaminate(datasets=[nope])"])


@pytest.mark.parametrize("spec, message", [
    ("length", "give min, max or both"),
    ("length(min=5, max=2)", "min 5 is more than max 2"),
    ("near-dup(threshold=0)", r"threshold must lie in \(0, 1\]"),
    ("pii(mode=hide)", "mode must be mask or drop"),
    ("pii(kinds=[ssn])", "kinds must be some of"),
    ("filter(field=colour, values=[x])", "field must be one of"),
    ("empty(fields=[title])", "fields must name some of"),
    ("decontaminate", "datasets must be a non-empty list"),
    ("exact-dup(speed=2)", "takes no argument speed"),
    ("Near-dup", "cannot read curation step"),
])
def test_bad_steps_are_refused_with_the_argument_at_fault(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_step(spec)


def test_specs_round_trip_and_label_shows_changed_arguments():
    s = parse_step('near-dup(threshold=0.9, field="reference")')
    assert s.label() == 'near-dup(threshold=0.9, field="reference")'
    assert parse_step(s.label()).spec() == s.spec() == create("near-dup", threshold=0.9, field="reference").spec()
