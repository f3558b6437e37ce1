"""Discovery recovers planted failure modes from a real store, with the real embedding model."""

from __future__ import annotations

import pytest
from sklearn.metrics import adjusted_rand_score

from assay.library import Clustering, ctfidf_terms, discover, select_failures
from tests.library.planted import planted


def _ari(found, modes) -> float:
    truth = {r: m for m, ids in modes.items() for r in ids}
    label = {r: k for k, c in enumerate(found.candidates) for r in c.members}
    label.update({r: f"noise{n}" for n, r in enumerate(found.unclustered)})  # each stray point its own cluster
    ids = sorted(truth)
    return adjusted_rand_score([truth[i] for i in ids], [str(label[i]) for i in ids])


def test_planted_modes_are_recovered_with_their_model(store):
    modes = planted(store)
    failures = select_failures(store, rubric="helpful", dimension="quality")
    assert sorted(f.response_id for f in failures.failures) == sorted(modes["refusal"] + modes["arithmetic"])
    assert failures.judged == {"alpha@1": 20, "beta@1": 20}

    found = discover(failures, clustering=Clustering(min_size=3))
    assert _ari(found, modes) >= 0.95  # measured: 1.0 at the default distance 0.6
    assert len(found.candidates) == 2 and not found.unclustered
    by_model = {c.specific_to: c for c in found.candidates}
    refusal, arithmetic = by_model["alpha@1"], by_model["beta@1"]
    assert set(refusal.members) == set(modes["refusal"]) and set(arithmetic.members) == set(modes["arithmetic"])
    # the mode is specific to one model: its rate there is 10/20, twice its rate over both models; 0 in the other
    shares = {m.model: m for m in refusal.models}
    assert (shares["alpha@1"].failures, shares["alpha@1"].judged, shares["alpha@1"].rate) == (10, 20, 0.5)
    assert shares["alpha@1"].lift == pytest.approx(2.0) and shares["beta@1"].rate == 0
    assert refusal.share == pytest.approx(0.5)
    assert {"refuses", "harmless"} <= set(refusal.terms) and "arithmetic" in arithmetic.terms
    assert refusal.title == " / ".join(refusal.terms[:3]) and refusal.hypothesised_by is None
    assert len(refusal.examples) == 5 and refusal.examples[0].response_id == refusal.members[0]
    assert 0.5 < refusal.cohesion <= 1


def test_a_tight_threshold_splits_and_min_size_leaves_strays_out(store):
    modes = planted(store)
    failures = select_failures(store, rubric="helpful", dimension="quality")
    tight = discover(failures, clustering=Clustering(min_size=3, distance_threshold=0.3))
    assert sum(c.size for c in tight.candidates) + len(tight.unclustered) == 20
    assert len(tight.unclustered) > 0 and _ari(tight, modes) < 0.9  # the figure is honest: it can fail
    assert all(c.size >= 3 for c in tight.candidates)


def test_discovery_is_deterministic_and_the_subsample_follows_the_seed(store):
    planted(store)
    failures = select_failures(store, rubric="helpful", dimension="quality")
    a = discover(failures, clustering=Clustering(random_state=1))
    b = discover(failures, clustering=Clustering(random_state=1))
    assert [c.as_dict() for c in a.candidates] == [c.as_dict() for c in b.candidates]
    s1 = discover(failures, clustering=Clustering(max_failures=12, random_state=7, min_size=1))
    s2 = discover(failures, clustering=Clustering(max_failures=12, random_state=7, min_size=1))
    s3 = discover(failures, clustering=Clustering(max_failures=12, random_state=8, min_size=1))
    members = lambda d: sorted(m for c in d.candidates for m in c.members)  # noqa: E731
    assert s1.n_failures == 12 and members(s1) == members(s2)
    assert members(s1) != members(s3)


def test_fields_choose_the_text(store):
    planted(store)
    failures = select_failures(store, rubric="helpful", dimension="quality")
    f = next(x for x in failures.failures if x.model == "beta@1")
    assert f.text(["response"]) == f.response
    assert f.text(["prompt", "justification"]).startswith("What is")
    from assay.errors import BadInput

    with pytest.raises(BadInput, match="unknown text field"):
        discover(failures, fields=["nonsense"])


def test_ctfidf_favours_the_words_of_one_class():
    terms = ctfidf_terms([["the cat sat on the mat", "a cat and a mat"], ["dogs bark at night", "the dog barks"],
                          ["the cat and the dog"]], top=3)
    # "mat" occurs only in the first class, "cat" also in the third: mat weighs more
    assert terms == [["mat", "cat", "sat"], ["bark", "barks", "dogs"], ["cat dog"]]


def test_no_failures_no_candidates(store):
    planted(store)
    failures = select_failures(store, rubric="helpful", dimension="quality", below=1)  # nothing is below 1
    assert len(failures) == 0
    found = discover(failures)
    assert found.candidates == [] and found.n_failures == 0


def test_a_mode_is_not_specific_to_the_only_model_looked_at():
    from assay.library.discover import Candidate, ModelShare

    one = Candidate(key="k", size=5, share=1.0, members=[], examples=[], terms=[], cohesion=1.0, title="t",
                    models=[ModelShare("m@1", 5, 10, 0.5, 1.0)])
    two = Candidate(key="k", size=5, share=1.0, members=[], examples=[], terms=[], cohesion=1.0, title="t",
                    models=[ModelShare("m@1", 5, 10, 0.5, 2.0), ModelShare("m@2", 0, 10, 0.0, 0.0)])
    assert one.specific_to is None and two.specific_to == "m@1"
