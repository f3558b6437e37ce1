"""Bundled public data: HANNA's scores land on the right story ids, and textless records say so."""

from __future__ import annotations

import ast
import csv
import io
from importlib import resources

import pytest

from assay.bundled import load_hanna
from assay.store import Store

# HANNA's README at dig-team/hanna-benchmark-asg@282f275, "Samples" table: a story id, its system and
# the index of the prompt it answers (story s of every system answers prompt s % 96).
README_SAMPLES = [(99, "BertGeneration", 3), (519, "GPT-2", 39), (862, "Fusion", 94)]


@pytest.fixture(scope="module")
def hanna_sqlite(tmp_path_factory):
    store = Store(str(tmp_path_factory.mktemp("hanna") / "h.db"))
    load_hanna(store, prompts=(1,))
    yield store
    store.close()


def _responses(store: Store) -> dict[int, object]:
    return {r.metadata["story_id"]: r for r in store.iter("responses")}


@pytest.mark.parametrize(("story", "system", "prompt_index"), README_SAMPLES)
def test_a_story_id_maps_to_its_system_and_prompt(hanna_sqlite, story, system, prompt_index):
    generated = _responses(hanna_sqlite)[story]
    assert generated.metadata["system"] == system and generated.model == f"{system.replace(' ', '-')}@hanna"
    assert hanna_sqlite.get("items", generated.item_id).metadata["prompt_index"] == prompt_index
    human = _responses(hanna_sqlite)[story % 96]  # the same prompt's human-written story
    assert human.model == "Human@hanna" and human.item_id == generated.item_id


def test_every_record_without_its_text_says_so(hanna_sqlite):
    items = hanna_sqlite.list("items", dataset="hanna")
    assert len(items) == 96
    assert all(i.prompt.startswith("[text not bundled]") and i.metadata["text_available"] is False for i in items)
    resp = list(hanna_sqlite.iter("responses"))
    assert len(resp) == 1056
    assert all(r.text.startswith("[text not bundled]") and r.metadata["text_available"] is False for r in resp)


def test_the_human_scores_stay_on_their_story(hanna_sqlite):
    """Story 519's human relevance is the 40th number (prompt 39) of GPT-2's row in the published scores."""
    text = resources.files("assay.data").joinpath("hanna", "hanna_metric_scores_llm.csv").read_text("utf-8")
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["Model"] == "GPT-2")
    resp = _responses(hanna_sqlite)[519]
    (j,) = hanna_sqlite.list("judgments", response_id=resp.id, rater_id="human:hanna-mturk-mean",
                             dimension="relevance")
    assert j.value == pytest.approx(ast.literal_eval(row["Relevance"])[39])


def test_load_hanna_on_postgres(pg_store_url):
    store = Store(pg_store_url)
    load_hanna(store, prompts=(1,))
    (resp,) = [r for r in store.iter("responses", model="GPT-2@hanna") if r.metadata["story_id"] == 519]
    assert store.get("items", resp.item_id).metadata["prompt_index"] == 39
    assert store.count("judgments", rater_id="human:hanna-mturk-mean") == 1056 * 6
    store.close()
