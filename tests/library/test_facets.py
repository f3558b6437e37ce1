"""Facets: an LLM names each failure's kind without its topic, and the clusters follow the kind."""

from __future__ import annotations

import json

import pytest
from sklearn.metrics import adjusted_rand_score

from assay.library import Clustering, describe_failures, discover
from assay.library.failures import Failure, Failures
from assay.testing import ScriptedServer
from tests.sessions import session

TOPICS = ["the French tax code", "knitting a scarf", "satellite orbits", "sourdough bread"]
MODES = {  # what reviewers wrote (the topic takes much of it, as in real reasons), and the kind a good model names
    "refusal": (["{t}: it declined, calling the question unsafe.", "Would not talk about {t}; claimed it was risky.",
                 "The reply about {t} was a refusal on safety grounds."], "refuses a harmless request"),
    "arithmetic": (["{t}: the sum it gives is wrong.", "Miscounted the figures about {t}.",
                    "The total it computed for {t} is off by ten."], "makes an arithmetic error"),
    "length": (["{t}: far longer than the two sentences asked.", "Rambled on about {t} well past the limit.",
                "The piece on {t} ignored the word limit."], "ignores the requested length"),
}


def failures() -> tuple[Failures, list[str]]:
    out, truth = [], []
    for m, (reasons, _) in MODES.items():
        for i, t in enumerate(TOPICS):
            for k, why in enumerate(reasons):
                rid = f"{m}-{i}-{k}"
                out.append(Failure(rid, f"i-{rid}", "m@1", f"Tell me about {t}.", f"answer {rid}",
                                   [why.format(t=t)], ["rubric:x@1/q"]))
                truth.append(m)
    return Failures(out, {"m@1": 36}), truth


def labeller(unreadable: str | None = None):  # noqa: ANN201
    def handler(body: dict) -> str:
        user = body["messages"][-1]["content"]
        if unreadable and any(unreadable in m["content"] for m in body["messages"]):  # repair turns too
            return "I would rather not say."
        for reasons, facet in MODES.values():
            if any(max(why.split("{t}"), key=len) in user for why in reasons):
                return json.dumps({"facet": facet})
        return json.dumps({"facet": "something else"})

    return handler


def ari(found, fs: Failures, truth: list[str]) -> float:
    label = {rid: k for k, c in enumerate(found.candidates) for rid in c.members}
    return adjusted_rand_score(truth, [label.get(f.response_id, f"alone-{f.response_id}") for f in fs.failures])


def test_facets_make_clusters_follow_the_failure_not_the_topic(store):
    fs, truth = failures()
    plain = discover(fs, clustering=Clustering(min_size=2))
    with ScriptedServer(handler=labeller()) as srv:
        facets = describe_failures(session(store, base_url=srv.base_url), fs.failures, "labeller@1")
        asked = len(srv.chat_requests)
        again = describe_failures(session(store, base_url=srv.base_url), fs.failures, "labeller@1")
        assert len(srv.chat_requests) == asked == 36  # one call per failure; the second run comes from the cache
    assert again.by_response == facets.by_response and not facets.errors
    found = discover(fs, clustering=Clustering(min_size=2), facets=facets)
    assert ari(found, fs, truth) == pytest.approx(1.0)
    assert ari(plain, fs, truth) < 0.2  # measured -0.07: the reasons alone group by topic (4 groups of 9)
    assert sorted(c.size for c in found.candidates) == [12, 12, 12]
    assert any("arithmetic" in c.terms for c in found.candidates)  # terms come from the facets too
    assert found.settings["facets"] == "labeller@1"


def test_an_unreadable_facet_keeps_the_failures_own_text(store):
    fs, _ = failures()
    with ScriptedServer(handler=labeller(unreadable="sourdough")) as srv:
        facets = describe_failures(session(store, base_url=srv.base_url), fs.failures, "labeller@1",
                                   max_parse_retries=1)
    assert len(facets.errors) == 9 and all("sourdough" in next(f.prompt for f in fs.failures if f.response_id == r)
                                           for r in facets.errors)
    assert all("JSON" in why for why in facets.errors.values())
    found = discover(fs, clustering=Clustering(min_size=2), facets=facets)
    assert sum(c.size for c in found.candidates) + len(found.unclustered) == 36
