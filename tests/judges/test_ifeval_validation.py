"""IFEval against the reference scorer's published results on GPT-4's responses (Zhou et al. 2023)."""

from __future__ import annotations

import pytest

from assay.judges import ifeval

# the inputs and GPT-4's 2023 responses are bundled; the reference scorer's own outputs are not
from tests.conftest import BUNDLED, VALIDATION, require_path

INPUTS = BUNDLED / "ifeval" / "input_data.jsonl"
RESPONSES_2023 = BUNDLED / "ifeval" / "gpt4_responses.jsonl"  # input_response_data_gpt4_20231107_145030.jsonl
REFERENCE = VALIDATION / "ifeval" / "thirdparty_podtech_5bdf377"
RECONSTRUCTED = VALIDATION / "ifeval" / "google_7afefd4_reconstructed"

# The reference scorer replaced a "letter" outside a-z by a random letter drawn afresh at
# each run, so its verdicts on these two are coin flips; upstream later dropped that rule
# and now counts the character as given, as assay does. Both responses do contain the
# character often enough: 4 x '#' (at least 4 asked), 10 x '!' (at least 6 asked).
RANDOM_IN_REFERENCE = {(1122, "keywords:letter_frequency"), (1129, "keywords:letter_frequency")}


@pytest.fixture(scope="module")
def paper_run():
    """All 541 prompts scored strict and loose, each against the prompt GPT-4 was given.

    Key 2785: GPT-4 was asked (2023 response file) for "at least one placeholder"; input_data
    now asks for 3. The paper scored what GPT-4 was asked, so we do too.
    """
    rows = ifeval.read_jsonl(INPUTS)
    asked = {r["prompt"]: r["response"] for r in ifeval.read_jsonl(RESPONSES_2023)}
    for row in rows:
        if row["key"] == 2785:
            assert row["prompt"] not in asked
            row["prompt"] = next(p for p in asked if p.startswith(row["prompt"][:150]) and "at least one placeholder" in p)
            assert row["instruction_id_list"][1] == "detectable_content:number_placeholders"
            row["kwargs"] = [row["kwargs"][0], {"num_placeholders": 1}]
    return ifeval.evaluate(rows, asked)


@pytest.mark.parametrize("mode", ["strict", "loose"])
def test_every_verdict_matches_the_reference(paper_run, mode):
    reference = require_path(REFERENCE, "IFEval reference scorer results")
    expected = {r["prompt"]: r for r in ifeval.read_jsonl(reference / f"eval_results_{mode}.jsonl")}
    assert len(expected) == 540
    compared, differences = 0, set()
    for result in paper_run.results:
        if result.key == 2785:
            continue  # not in the reference's results
        ref = expected[result.prompt]
        assert ref["instruction_id_list"] == result.instruction_id_list
        assert ref["response"] == result.response
        assert len(ref["follow_instruction_list"]) == len(getattr(result, mode))
        for instruction_id, ours, theirs in zip(result.instruction_id_list, getattr(result, mode), ref["follow_instruction_list"]):
            compared += 1
            if ours != theirs:
                differences.add((result.key, instruction_id, ours, theirs))
    assert compared == 832
    explained = {(k, i, True, False) for k, i in RANDOM_IN_REFERENCE}
    assert differences <= explained, sorted(differences - explained)
    if mode == "loose":
        assert differences == set()  # the reference's draws happened to pass both in loose mode


def test_the_two_random_reference_verdicts_are_true_by_count(paper_run):
    by_key = {r.key: r for r in paper_run.results}
    for key, char, needed in ((1122, "#", 4), (1129, "!", 6)):
        result = by_key[key]
        index = result.instruction_id_list.index("keywords:letter_frequency")
        assert result.response.count(char) >= needed
        assert result.strict[index] and result.loose[index]


def test_paper_figures_for_gpt4(paper_run):
    """Paper, Table 3 (GPT-4 strict): prompt level 76.89% = 416/541, instruction level 83.57% = 697/834."""
    report = paper_run
    assert len(report.results) == 541 and not report.missing
    key_2785 = next(r for r in report.results if r.key == 2785)
    assert key_2785.strict == [True, True]  # both followed, as in the paper

    # Count the two coin-flip instructions as the reference's run drew them (not followed).
    prompt_ok = instruction_ok = instructions = 0
    for r in report.results:
        strict = [ok and (r.key, i) not in RANDOM_IN_REFERENCE for i, ok in zip(r.instruction_id_list, r.strict)]
        prompt_ok += all(strict)
        instruction_ok += sum(strict)
        instructions += len(strict)
    assert (prompt_ok, len(report.results)) == (416, 541)
    assert round(100 * prompt_ok / 541, 2) == 76.89
    assert (instruction_ok, instructions) == (697, 834)
    assert round(100 * instruction_ok / 834, 2) == 83.57

    # As assay scores them (each character counted), both of those prompts pass too.
    assert (report.prompt_strict.followed, report.instruction_strict.followed) == (416 + 2, 697 + 2)


def _rows(*keys):
    return [r for r in ifeval.read_jsonl(INPUTS) if r["key"] in keys]


def test_the_2023_response_file_lacks_todays_key_2785():
    rows = _rows(1000, 2785)
    with pytest.raises(ValueError, match="2785"):
        ifeval.evaluate(rows, RESPONSES_2023)
    report = ifeval.evaluate(rows, RESPONSES_2023, skip_missing=True)
    assert report.missing == [2785] and [r.key for r in report.results] == [1000]


def test_with_todays_input_data_key_2785_misses_its_three_placeholders():
    fixed = require_path(RECONSTRUCTED, "IFEval responses reconstructed for today's input data") / (
        "input_response_data_gpt4_20231107_145030.jsonl")
    (result,) = ifeval.evaluate(_rows(2785), fixed).results
    assert result.instruction_id_list[1] == "detectable_content:number_placeholders"
    assert result.strict == [True, False]  # the response has a single placeholder, [address]


def test_report_covers_all_25_types(paper_run):
    per_type = paper_run.by_instruction()
    assert set(per_type) == set(ifeval.INSTRUCTION_IDS) and len(per_type) == 25
    assert sum(a["strict"].total for a in per_type.values()) == 834
    assert sum(a["strict"].followed for a in per_type.values()) == paper_run.instruction_strict.followed
    groups = paper_run.by_instruction(level="group")
    assert len(groups) == 9
    assert sum(a["loose"].followed for a in groups.values()) == paper_run.instruction_loose.followed
    text = paper_run.to_text()
    assert "prompt-level strict       418/541" in text and "startend:quotation" in text
