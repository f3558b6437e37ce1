"""Skipping on SQLite and PostgreSQL: the slot goes back to the queue, once, and the counts still add up."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from assay import annotate as A
from assay import records as R
from assay.annotate import dashboard as D
from assay.errors import BadInput
from assay.rubrics import get_rubric
from assay.store import rating as S
from tests.server.conftest import add_texts


def _setup(store, n_items: int = 4) -> list[str]:
    get_rubric(store, "default")
    add_texts(store, "d", [f"prompt {i}" for i in range(n_items)],
              {m: [f"{m} answer {i}" for i in range(n_items)] for m in ("m1@1", "m2@1")})
    raters = [R.Rater(id=f"human:r{i}", kind="human", name=f"r{i}") for i in range(4)]
    store.add(raters)
    return [r.id for r in raters]


def _units(store, n: int | None = None) -> list[list[str]]:
    return A.units_from_dataset(store, "d", models=["m1@1"])[:n]


def _answer(v: int = 4) -> A.Answer:
    return A.Answer(justification="a reason", values={"factuality": v})


def _n_claims(store, cid: str) -> dict[str, int]:
    return {u["unit_id"]: u["n_claims"] for u in S.units(store, cid)}


def test_a_skipped_unit_goes_to_the_next_rater_and_not_back_to_the_skipper(store):
    r1, r2, *_ = _setup(store)
    camp = A.create_campaign(store, "one", rubric="default@1", units=_units(store, 1),
                             spec=A.CampaignSpec(overlap=1, dimensions=["factuality"]))
    asg = A.next_assignment(store, camp, r1)
    assert A.next_assignment(store, camp, r2) is None  # overlap 1: the only unit is taken
    assert A.skip(store, camp, asg, "  I cannot read\nthis language ") is True
    stored = store.get("assignments", asg.id)
    (row,) = S.skips(store, camp.id)
    assert stored.status == "skipped" and stored.submitted_at is None
    assert (row["rater_id"], row["unit_id"], row["reason"]) == (r1, asg.response_ids[0], "I cannot read this language")
    assert abs((R.utcnow() - row["created_at"]).total_seconds()) < 600
    assert _n_claims(store, camp.id) == {asg.response_ids[0]: 0}
    assert S.unit_of_assignment(store, asg.id)["rater_id"] == r1  # the claim stays: not given to r1 again
    assert A.next_assignment(store, camp, r1) is None
    got = A.next_assignment(store, camp, r2)
    assert got is not None and got.response_ids == asg.response_ids and got.rater_id == r2
    assert A.submit(store, camp, got, _answer()).created
    assert _n_claims(store, camp.id) == {asg.response_ids[0]: 1}
    assert D.progress_by_campaign(store, [camp])[0]["share"] == 1.0


def test_skipping_twice_has_one_effect_and_an_answer_after_a_skip_writes_nothing(store):
    r1, r2, *_ = _setup(store)
    camp = A.create_campaign(store, "two", rubric="default@1", units=_units(store, 1),
                             spec=A.CampaignSpec(overlap=2, dimensions=["factuality"]))
    a1, a2 = A.next_assignment(store, camp, r1), A.next_assignment(store, camp, r2)
    assert _n_claims(store, camp.id) == {a1.response_ids[0]: 2}
    assert A.skip(store, camp, a1, "first") is True
    assert A.skip(store, camp, a1, "again, from a stale page") is False
    assert A.skip(store, camp, store.get("assignments", a1.id), "again") is False
    assert _n_claims(store, camp.id) == {a1.response_ids[0]: 1}
    assert [k["reason"] for k in S.skips(store, camp.id)] == ["first"]
    # the stale form of the skipped item is submitted after all: nothing is written
    res = A.submit(store, camp, a1, _answer())
    assert not res.created and res.record_ids == []
    assert store.count("judgments", assignment_id=a1.id) == 0
    assert store.get("assignments", a1.id).status == "skipped"
    # answered first, skipped later: refused, nothing changes
    A.submit(store, camp, a2, _answer())
    with pytest.raises(BadInput, match="answered already"):
        A.skip(store, camp, store.get("assignments", a2.id))
    with pytest.raises(BadInput, match="answered already"):
        A.skip(store, camp, a2)  # a stale copy still saying pending
    assert _n_claims(store, camp.id) == {a1.response_ids[0]: 1}
    assert store.get("assignments", a2.id).status == "done"


def test_gold_in_calibration_must_be_answered(store):
    r1, *_ = _setup(store, n_items=2)
    units = _units(store)
    gold = [A.Gold(response_ids=tuple(units[0]), explanation="because", values={"factuality": 2})]
    camp = A.create_campaign(store, "cal", rubric="default@1", units=units[1:],
                             spec=A.CampaignSpec(calibration=True, dimensions=["factuality"]), gold=gold)
    asg = A.next_assignment(store, camp, r1)
    assert asg.is_gold  # calibration serves gold first
    with pytest.raises(BadInput, match="cannot be skipped"):
        A.skip(store, camp, asg, "too hard")
    assert store.get("assignments", asg.id).status == "pending" and S.skips(store, camp.id) == []
    A.submit(store, camp, asg, _answer(2))
    regular = A.next_assignment(store, camp, r1)
    assert not regular.is_gold and A.skip(store, camp, regular) is True  # other units of a calibration round may
    # gold outside calibration may be skipped too
    other = A.create_campaign(store, "gold share", rubric="default@1", units=units[1:], gold=gold,
                              spec=A.CampaignSpec(gold_share=1.0, dimensions=["factuality"]))
    g = A.next_assignment(store, other, r1)
    assert g.is_gold and A.skip(store, other, g) is True


def test_closed_campaigns_and_long_reasons_are_refused(store):
    r1, *_ = _setup(store, n_items=2)
    camp = A.create_campaign(store, "c", rubric="default@1", units=_units(store),
                             spec=A.CampaignSpec(dimensions=["factuality"]))
    asg = A.next_assignment(store, camp, r1)
    with pytest.raises(BadInput, match="longer than"):
        A.skip(store, camp, asg, "x" * 2001)
    closed = A.close_campaign(store, "c")
    with pytest.raises(BadInput, match="closed"):
        A.skip(store, closed, asg)
    assert store.get("assignments", asg.id).status == "pending"


def test_counts_add_up_with_skips(store):
    raters = _setup(store, n_items=6)
    camp = A.create_campaign(store, "counts", rubric="default@1", units=_units(store),
                             spec=A.CampaignSpec(overlap=2, dimensions=["factuality"]))
    skipped_by: Counter = Counter()
    for i, r in enumerate(raters):
        n = 0
        while (asg := A.next_assignment(store, camp, r)) is not None:
            n += 1
            if i < 2 and n % (i + 2) == 0:  # two raters skip now and then; the other two can fill any slot
                assert A.skip(store, camp, asg, f"skip {n}")
                skipped_by[r] += 1
            else:
                A.submit(store, camp, asg, _answer())
            q = A.queue_status(store, camp, r)
            assert q.pending == 0 and q.done == n - skipped_by[r]
    asgs = store.list("assignments", campaign_id=camp.id)
    by_status = Counter(a.status for a in asgs)
    done_per_unit = Counter(a.response_ids[0] for a in asgs if a.status == "done")
    assert set(done_per_unit.values()) == {2} and len(done_per_unit) == 6  # every slot filled once skips are retaken
    assert by_status == {"done": 12, "skipped": sum(skipped_by.values())}
    assert sum(_n_claims(store, camp.id).values()) == by_status["done"]  # n_claims counts what holds a slot
    prog = D.progress_by_campaign(store, [camp])[0]
    assert (prog["done"], prog["skipped"], prog["target"], prog["share"]) == (12, sum(skipped_by.values()), 12, 1.0)
    rows = {x["rater"]: x for x in D.rater_report(store, camp)}
    assert {r: rows[r]["skipped"] for r in skipped_by} == dict(skipped_by)
    assert sum(x["done"] for x in rows.values()) == 12
    assert Counter(k["rater_id"] for k in S.skips(store, camp.id)) == skipped_by
    for r in raters:
        q = A.queue_status(store, camp, r)
        assert q.available == 0 and q.pending == 0


def test_a_skip_racing_an_answer_lets_exactly_one_win(store):
    raters = _setup(store, n_items=6)
    camp = A.create_campaign(store, "race", rubric="default@1", units=_units(store),
                             spec=A.CampaignSpec(overlap=1, dimensions=["factuality"]))
    for r in raters[:3]:
        asg = A.next_assignment(store, camp, r)
        unit = asg.response_ids[0]
        with ThreadPoolExecutor(2) as pool:
            answer = pool.submit(lambda a=asg: A.submit(store, camp, a, _answer()))
            skip = pool.submit(lambda a=asg: _skip_or_refused(store, camp, a))
            answered, skipped = answer.result().created, skip.result()
        assert answered != skipped, (answered, skipped)
        status = store.get("assignments", asg.id).status
        judged = store.count("judgments", assignment_id=asg.id)
        assert (status, judged, _n_claims(store, camp.id)[unit]) == (
            ("done", 1, 1) if answered else ("skipped", 0, 0))


def _skip_or_refused(store, camp, asg) -> bool:
    try:
        return A.skip(store, camp, asg, "race")
    except BadInput:
        return False
