"""Bundled public data: HANNA's prompts and human-written stories land on the right story ids."""

from __future__ import annotations

import ast
import csv
import io
from importlib import resources

import pytest

from assay.bundled import hanna_texts, load_hanna
from assay.store import Store

# HANNA's README at dig-team/hanna-benchmark-asg@282f275, "Samples" table: a story id, its system,
# the prompt it answers and the human-written story of that prompt (each quoted from its start).
README_SAMPLES = [
    (99, "BertGeneration", "Write a story about an elderly wizard and his young female apprentice.",
     "His body was failing. He had taken care of it very well, but 205 years were a long time. Not a drop of "
     "alcohol all those long and lonely tavern nights, not a crumb of tobacco for the old pipe."),
    (519, "GPT-2", "You are a immortal during the zombie apocalypse, During the apocalypse the zombies ignore you "
     "and you try to live a normal life during the outbreak.",
     # the README prints "the CDC joked"; the published story has "the [ CDC joked", so the quote stops before
     "50 years is a long time, enough time to go crazy and return sane. I remember before it happened, the"),
    (862, "Fusion", "When a new president is elected, they are given a special security briefing. In reality, this "
     "is an old tradition where various directors, military officers and current ministers present fake evidence "
     "and compete to see who can convince the president of the most ridiculous things.",
     "“Mr President I want you to know I am telling you this in full confidence .” Said the head of the Secret "
     "Service. The President looked at him. “Yes go ahead .”"),
]


def test_the_bundled_texts_are_96_prompts_with_their_human_stories():
    texts = hanna_texts()
    assert [int(t["prompt_index"]) for t in texts] == list(range(96))
    assert len({t["prompt"] for t in texts}) == 96 and all(len(t["human_story"]) > 500 for t in texts)


@pytest.fixture(scope="module")
def hanna_sqlite(tmp_path_factory):
    store = Store(str(tmp_path_factory.mktemp("hanna") / "h.db"))
    load_hanna(store, prompts=(1,))
    yield store
    store.close()


def _responses(store: Store) -> dict[int, object]:
    return {r.metadata["story_id"]: r for r in store.iter("responses")}


@pytest.mark.parametrize(("story", "system", "prompt", "human"), README_SAMPLES)
def test_a_story_id_maps_to_its_prompt_and_human_story(hanna_sqlite, story, system, prompt, human):
    resp = _responses(hanna_sqlite)
    generated = resp[story]
    assert generated.metadata["system"] == system and generated.model == f"{system.replace(' ', '-')}@hanna"
    assert hanna_sqlite.get("items", generated.item_id).prompt == prompt
    written = resp[story % 96]  # the same prompt's human-written story, HANNA story id story % 96
    assert written.model == "Human@hanna" and written.item_id == generated.item_id
    assert written.text.startswith(human) and written.metadata["text_available"] is True
    # the text the generator wrote is not bundled, and its response says so rather than pretend
    assert generated.text.startswith("[text not bundled]") and generated.metadata["text_available"] is False


def test_every_prompt_is_real_and_every_human_story_is_there(hanna_sqlite):
    items = hanna_sqlite.list("items", dataset="hanna")
    assert len(items) == 96 and not any("not bundled" in i.prompt for i in items)
    resp = list(hanna_sqlite.iter("responses"))
    with_text = [r for r in resp if r.metadata["text_available"]]
    assert len(resp) == 1056 and {r.model for r in with_text} == {"Human@hanna"} and len(with_text) == 96
    assert all(r.text == hanna_texts()[r.metadata["story_id"]]["human_story"] for r in with_text)


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
    (written,) = [r for r in store.iter("responses", model="Human@hanna") if r.metadata["story_id"] == 3]
    assert written.text.startswith(README_SAMPLES[0][3])
    assert store.get("items", written.item_id).prompt == README_SAMPLES[0][2]
    store.close()
