"""`assay profile` over a store: planted differences are found, topics one dataset lacks are named, and the
score re-weighted to the target's topics equals the hand computation on the topics found."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from assay.analysis.profile import ProfileSettings, compare_datasets, profile_dataset
from assay.analysis.profile_impact import ScoreSpec
from assay.analysis.topics import TopicSettings
from assay.errors import BadInput
from assay.store import Store
from tests.analysis.profile_data import add_dataset, add_scores, prompts

NO_TOPICS = ProfileSettings(topics=None)


@pytest.fixture(scope="module")
def scored_store(tmp_path_factory):
    """eval: cooking and code; prod: those plus finance, with longer prompts; b@1 beats a@1 on cooking mostly."""
    s = Store(f"sqlite:///{tmp_path_factory.mktemp('profile') / 'p.db'}")
    rng = np.random.default_rng(0)
    ev = prompts(rng, {"cooking": 18, "code": 18})
    pr = prompts(rng, {"cooking": 8, "code": 8, "finance": 16}, pad=6)
    items = add_dataset(s, "eval", ev)
    add_dataset(s, "prod", pr)
    add_scores(s, items, {"cooking": 0.9, "code": 0.2}, {it.id: t for it, (t, _) in zip(items, ev)}, rng)
    yield s
    s.close()


def test_features_on_both_backends(store):
    rng = np.random.default_rng(1)
    pairs = prompts(rng, {"cooking": 6, "code": 4})
    pairs += [("code", pairs[0][1]), ("code", "Mail me at jo@example.org about the " + pairs[1][1])]
    add_dataset(store, "d", pairs)
    p = profile_dataset(store, "d", settings=NO_TOPICS)
    assert p["items"] == 12
    assert p["duplication"]["exact"] == 1 and p["duplication"]["near"] >= 1
    assert p["pii"]["items"] == 1 and p["pii"]["kinds"] == {"email": 1}
    assert p["category"]["counts"] == {"cooking": 6, "code": 6}
    assert p["language"]["counts"] == {"en": 12} and p["language"]["stored"] == 12
    assert p["metadata"][0]["key"] == "source" and p["metadata"][0]["items"] == 12
    assert sum(p["length"]["chars"]["histogram"]["counts"]) == 12
    assert p["topics"] == {"skipped": "topics not asked for"}


def test_compare_finds_shifted_lengths_and_categories(scored_store):
    d = compare_datasets(scored_store, "eval", "prod", settings=NO_TOPICS)
    by = {t["feature"]: t for t in d["tests"]}
    assert by["length (whitespace tokens)"]["p_holm"] < 0.001
    assert by["category"]["p_holm"] < 0.001  # finance only in prod
    assert np.isnan(by["language"]["pvalue"])  # one language in both: not tested, not counted by Holm
    assert d["topics"]["skipped"] == "topics not asked for"


def test_same_distribution_is_not_rejected(store):
    rng = np.random.default_rng(8)
    add_dataset(store, "one", prompts(rng, {"cooking": 15, "code": 15}))
    add_dataset(store, "two", prompts(rng, {"cooking": 15, "code": 15}))
    d = compare_datasets(store, "one", "two", settings=NO_TOPICS)
    assert all(t["p_holm"] > 0.05 for t in d["tests"] if t["p_holm"] == t["p_holm"])


def test_embedding_missing_skips_topics_in_one_line(scored_store, monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    d = compare_datasets(scored_store, "eval", "prod", settings=ProfileSettings(topics=TopicSettings()),
                         score=ScoreSpec("a@1", "b@1", "factuality"))
    line = d["topics"]["skipped"]
    assert line.startswith("topics skipped: install the 'embed' extra") and "\n" not in line
    assert "topic" not in {t["feature"] for t in d["tests"]}
    assert d["score"]["target"] is None and "not re-weighted" in d["score"]["line"]


def test_topics_with_the_bundled_model_and_the_reweighted_score(scored_store):
    """The real all-MiniLM-L6-v2: finance topics are prod's only; the score on prod's mix is the hand computation."""
    d = compare_datasets(scored_store, "eval", "prod", settings=ProfileSettings(topics=TopicSettings(random_state=0)),
                         score=ScoreSpec("a@1", "b@1", "factuality"), interval="delta")
    tp = d["topics"]
    lacking = tp["only_in_b"]
    assert lacking, "prod's finance prompts form topics eval lacks"
    finance = {"fund", "mortgage", "tax", "loan", "interest", "capital", "savings", "stock", "gains", "compound"}
    assert all(set(c["terms"]) & finance for c in lacking)
    assert not tp["only_in_a"]
    assert d["tests"][-1]["feature"] == "topic" and d["tests"][-1]["p_holm"] < 0.05
    s = d["score"]
    tg = s["target"]
    # by hand: prod's share of each topic eval covers, times eval's mean win in it
    covered = [x for x in tg["strata"] if x["n"] > 0 and x["target_share"] > 0]
    hand = sum(x["target_share"] * x["mean"] for x in covered) / sum(x["target_share"] for x in covered)
    assert tg["estimate"] == pytest.approx(hand, abs=1e-12)
    assert tg["covered"] == pytest.approx(1 - sum(u["share"] for u in tg["uncovered"]))
    assert {u["topic"] for u in tg["uncovered"]} >= {c["topic"] for c in lacking}
    assert f"on prod's mix of topics, b@1's win rate over a@1" in s["line"]
    assert s["n"] == 36 and sum(r["n"] for r in s["per_topic"]) == 36


@pytest.mark.parametrize("call,param", [
    (lambda s: profile_dataset(s, "nope", settings=NO_TOPICS), "dataset"),
    (lambda s: compare_datasets(s, "eval", "eval", settings=NO_TOPICS), "against"),
    (lambda s: compare_datasets(s, "eval", "nope", settings=NO_TOPICS), "against"),
    (lambda s: profile_dataset(s, "eval", settings=NO_TOPICS, contamination_against="eval"), "contamination_against"),
    (lambda s: profile_dataset(s, "eval", settings=NO_TOPICS, score=ScoreSpec("a@1", "z@9", "factuality")), "model_b"),
    (lambda s: profile_dataset(s, "eval", settings=NO_TOPICS, score=ScoreSpec("a@1", "b@1", "nothing")), "dimension"),
    (lambda s: profile_dataset(s, "eval", settings=NO_TOPICS, score=ScoreSpec("a@1", "b@1", "factuality", measure="x")),
     "measure"),
])
def test_library_errors_name_the_parameter(scored_store, call, param):
    with pytest.raises(BadInput) as e:
        call(scored_store)
    assert e.value.param == param


def test_contamination_counts_shared_13_grams(scored_store):
    d = profile_dataset(scored_store, "eval", settings=NO_TOPICS, contamination_against="prod")
    c = d["contamination"]
    assert c["ngram"] == 13 and c["against"] == "prod"
    assert 0 < c["items"] < d["items"]  # eval and prod share some templates of 13 words or more


def test_no_topic_reaches_min_size():
    from assay.analysis.topics import NO_TOPIC, fit_topics

    t = fit_topics({"x": ["How do I bake bread?", "Explain compound interest."]}, TopicSettings(min_size=3))
    assert t.labels["x"].tolist() == [NO_TOPIC, NO_TOPIC]
    assert [c["topic"] for c in t.clusters] == [NO_TOPIC]


def test_eval_win_rate_interval_is_wilsons(scored_store):
    from assay.stats.proportions import wilson_interval

    d = profile_dataset(scored_store, "eval", settings=NO_TOPICS, score=ScoreSpec("a@1", "b@1", "factuality"))
    e = d["score"]["eval"]
    wins = round(e["estimate"] * d["score"]["n"])  # no ties in the planted scores
    ref = wilson_interval(wins, d["score"]["n"])
    assert (e["low"], e["high"]) == (pytest.approx(ref.low), pytest.approx(ref.high))
