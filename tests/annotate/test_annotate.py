"""Campaign library on SQLite and PostgreSQL: overlap under concurrency, order, gold, calibration, edge cases."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from assay import annotate as A
from assay import records as R
from assay.errors import BadInput
from assay.rubrics import get_rubric
from assay.store.rating import app_secret
from tests.server.conftest import DIMS, add_texts

VALUES = {d: 4 for d in DIMS}


def _setup(store, n_items: int = 10):
    get_rubric(store, "default")
    add_texts(store, "d", [f"prompt {i}" for i in range(n_items)],
              {m: [f"{m} answer {i}" for i in range(n_items)] for m in ("m1@1", "m2@1", "m3@1")})
    raters = [R.Rater(id=f"human:r{i}", kind="human", name=f"r{i}") for i in range(6)]
    store.add(raters)
    return [r.id for r in raters]


def _answer(**kw) -> A.Answer:
    return A.Answer(justification="a reason long enough", values=dict(VALUES), **kw)


def test_each_unit_gets_overlap_distinct_raters_under_concurrency(store):
    raters = _setup(store)
    units = A.units_from_dataset(store, "d", models=["m1@1"])
    camp = A.create_campaign(store, "c", rubric="default@1", units=units, spec=A.CampaignSpec(overlap=3))

    def work(rater: str) -> int:
        n = 0
        while (asg := A.next_assignment(store, camp, rater)) is not None:
            assert A.submit(store, camp, asg, _answer()).created
            n += 1
        return n

    with ThreadPoolExecutor(6) as pool:
        done = list(pool.map(work, raters))
    assert sum(done) == 30
    asgs = store.list("assignments", campaign_id=camp.id)
    per_unit = Counter(a.response_ids[0] for a in asgs)
    assert set(per_unit.values()) == {3} and len(per_unit) == 10
    assert len({(a.response_ids[0], a.rater_id) for a in asgs}) == 30
    assert store.count("judgments", campaign_id=camp.id) == 30 * len(DIMS)


def test_shown_order_is_a_recorded_seeded_permutation(store):
    raters = _setup(store, n_items=12)
    units = A.units_from_dataset(store, "d", kind="compare", models=["m1@1", "m2@1"])
    camp = A.create_campaign(store, "pairs", rubric="default@1", units=units,
                             spec=A.CampaignSpec(overlap=2, kind="compare"))
    orders = []
    for r in raters[:2]:
        for _ in range(12):
            asg = A.next_assignment(store, camp, r)
            assert sorted(asg.shown_order) == sorted(asg.response_ids)
            # reproducible by whoever holds the store's secret
            assert asg.shown_order == A.shown_order(camp.id, asg.id, asg.response_ids, key=app_secret(store))
            assert store.get("assignments", asg.id).shown_order == asg.shown_order  # recorded
            orders.append(asg.shown_order == asg.response_ids)
            A.submit(store, camp, asg, A.Answer(justification="x", choice="tie"))
    assert 0 < sum(orders) < len(orders)  # both orders occur


def test_gold_goes_to_everyone_at_the_gold_share(store):
    raters = _setup(store)
    units = A.units_from_dataset(store, "d", models=["m1@1"])
    gold = [A.Gold(response_ids=tuple(u), explanation="known", values={"factuality": 5}) for u in units[:2]]
    camp = A.create_campaign(store, "g", rubric="default@1", units=units[2:],
                             spec=A.CampaignSpec(overlap=1, gold_share=0.5, dimensions=["factuality"]), gold=gold)
    for r in raters[:3]:
        kinds = []
        for _ in range(4):
            asg = A.next_assignment(store, camp, r)
            kinds.append(asg.is_gold)
            res = A.submit(store, camp, asg, A.Answer(justification="why", values={"factuality": 5}))
            assert res.feedback is None  # not a calibration campaign: gold stays hidden
        assert sum(kinds) == 2  # half of what each rater did is gold, every rater got both gold units
    regular = [a for a in store.list("assignments", campaign_id=camp.id) if not a.is_gold]
    assert len({a.response_ids[0] for a in regular}) == len(regular) == 6  # overlap 1 on regular units


def test_calibration_gives_every_unit_to_every_rater_with_feedback(store):
    raters = _setup(store, n_items=3)
    units = A.units_from_dataset(store, "d", models=["m1@1"])
    gold = [A.Gold(response_ids=tuple(units[0]), explanation="because", values={"factuality": 2})]
    camp = A.create_campaign(store, "cal", rubric="default@1", units=units[1:],
                             spec=A.CampaignSpec(calibration=True, dimensions=["factuality"]), gold=gold)
    for r in raters[:4]:
        got = []
        while (asg := A.next_assignment(store, camp, r)) is not None:
            res = A.submit(store, camp, asg, A.Answer(justification="why", values={"factuality": 2}))
            got.append(asg.response_ids[0])
            if asg.is_gold:
                assert res.feedback["all_match"] and res.feedback["explanation"] == "because"
            else:
                assert res.feedback is None
        assert sorted(got) == sorted(u[0] for u in units)


def test_deadline_and_closing(store):
    raters = _setup(store, n_items=3)
    units = A.units_from_dataset(store, "d", models=["m1@1"])
    past = A.create_campaign(store, "late", rubric="default@1", units=units,
                             spec=A.CampaignSpec(deadline=R.utcnow() - timedelta(days=1)))
    assert A.next_assignment(store, past, raters[0]) is None
    camp = A.create_campaign(store, "open", rubric="default@1", units=units)
    asg = A.next_assignment(store, camp, raters[0])
    closed = A.close_campaign(store, "open")
    with pytest.raises(BadInput, match="closed"):
        A.submit(store, closed, asg, _answer())
    assert A.next_assignment(store, closed, raters[1]) is None


def test_campaign_creation_refuses_bad_input(store):
    _setup(store, n_items=3)
    units = A.units_from_dataset(store, "d")
    with pytest.raises(BadInput, match="needs gold answers"):
        A.create_campaign(store, "x", rubric="default@1", units=units, spec=A.CampaignSpec(gold_share=0.2))
    with pytest.raises(BadInput, match="no dimension"):
        A.create_campaign(store, "x", rubric="default@1", units=units, spec=A.CampaignSpec(dimensions=["tone"]))
    with pytest.raises(BadInput, match="same item"):
        A.create_campaign(store, "x", rubric="default@1", units=[[units[0][0], units[3][0]]],
                          spec=A.CampaignSpec(kind="compare"))
    with pytest.raises(BadInput, match="ordinal value"):
        A.create_campaign(store, "x", rubric="default@1", units=units,
                          gold=[A.Gold(response_ids=tuple(units[0]), explanation="", values={"safety": 7})])
    A.create_campaign(store, "x", rubric="default@1", units=units)
    with pytest.raises(BadInput, match="already exists"):
        A.create_campaign(store, "x", rubric="default@1", units=units)


def test_edge_cases_from_flags_and_low_agreement_and_their_resolution(store):
    raters = _setup(store, n_items=2)
    units = A.units_from_dataset(store, "d", models=["m1@1"])
    camp = A.create_campaign(store, "e", rubric="default@1", units=units,
                             spec=A.CampaignSpec(overlap=2, dimensions=["factuality"]))
    other = A.create_campaign(store, "e2", rubric="default@1", units=units, spec=A.CampaignSpec(overlap=1))
    for r, v in ((raters[0], 1), (raters[1], 5)):
        for _ in range(2):
            asg = A.next_assignment(store, camp, r)
            flags = ["unclassifiable"] if (r == raters[0] and asg.response_ids[0] == units[0][0]) else []
            A.submit(store, camp, asg, A.Answer(justification="why", values={"factuality": v}, flags=flags,
                                                flag_note="no level fits" if flags else ""))
    flagged = A.edge_case_queue(store, campaign_id=camp.id)
    assert [c.source for c in flagged] == ["flag"] and flagged[0].response_id == units[0][0]
    new = A.collect_edge_cases(store, campaign_id=camp.id)
    assert sorted(c.response_id for c in new) == sorted(u[0] for u in units)  # 1 vs 5 on both units
    assert {c.source for c in new} == {"low_agreement"} and all(c.dimension == "factuality" for c in new)
    assert A.collect_edge_cases(store, campaign_id=camp.id) == []  # stable ids: nothing twice
    queue = A.edge_case_queue(store, rubric="default@1")
    assert len(queue) == 3

    before = store.guideline("default@1")
    gv = A.resolve_edge_case(store, queue[0].id, clarification="Rate unverifiable claims 3.", author="lead")
    assert gv.version == before.version + 1 and gv.text.startswith(before.text.rstrip())
    assert "Rate unverifiable claims 3." in gv.text and gv.edge_case_id == queue[0].id
    case = store.get("edge_cases", queue[0].id)
    assert case.status == "resolved" and case.guideline_version == gv.version
    assert store.get("campaigns", camp.id).guideline_version == gv.version
    assert store.get("campaigns", other.id).guideline_version == gv.version
    dismissed = A.dismiss_edge_case(store, queue[1].id, reason="duplicate")
    assert dismissed.status == "dismissed" and store.guideline("default@1").version == gv.version
    with pytest.raises(BadInput):
        A.resolve_edge_case(store, queue[1].id, clarification="late")
    # a judgment made now remembers the new version
    asg = A.next_assignment(store, store.get("campaigns", other.id), raters[2])
    A.submit(store, store.get("campaigns", other.id), asg, _answer())
    assert {j.guideline_version for j in store.list("judgments", assignment_id=asg.id)} == {gv.version}


def test_concurrent_resolutions_get_distinct_versions(store):
    _setup(store, n_items=1)
    resp = A.units_from_dataset(store, "d")[0][0]
    cases = [R.EdgeCase(id=f"case{i}", rubric="default@1", response_id=resp, note="?") for i in range(4)]
    store.add(cases)
    with ThreadPoolExecutor(4) as pool:
        versions = list(pool.map(lambda c: A.resolve_edge_case(store, c.id, clarification=f"rule {c.id}").version,
                                 cases))
    assert sorted(versions) == [2, 3, 4, 5]
    final = store.guideline("default@1").text
    assert all(f"rule case{i}" in final for i in range(4))  # each version builds on the one before


def test_dashboard_figures_per_rater(store):
    from assay.annotate import dashboard as D

    raters = _setup(store, n_items=4)
    units = A.units_from_dataset(store, "d", models=["m1@1"])
    gold = [A.Gold(response_ids=tuple(units[0]), explanation="", values={"factuality": 4})]
    camp = A.create_campaign(store, "dash", rubric="default@1", units=units[1:],
                             spec=A.CampaignSpec(overlap=4, gold_share=0.25, dimensions=["factuality"]), gold=gold)
    given = {raters[0]: 4, raters[1]: 4, raters[3]: 4, raters[2]: 2}  # r2 is severe and misses the gold answer
    for r, v in given.items():
        while (asg := A.next_assignment(store, camp, r)) is not None:
            A.submit(store, camp, asg, A.Answer(justification="why", values={"factuality": v}, time_spent_s=10 + v))
    rows = {x["rater"]: x for x in D.rater_report(store, camp)}
    assert rows[raters[0]]["done"] == 4 and rows[raters[0]]["gold_done"] == 1
    assert rows[raters[0]]["consensus_accuracy"] == 1.0 and rows[raters[2]]["consensus_accuracy"] == 0.0
    assert rows[raters[0]]["gold_accuracy"] == 1.0 and rows[raters[2]]["gold_accuracy"] == 0.0
    assert rows[raters[2]]["severity"] == -2.0
    assert rows[raters[0]]["severity"] == pytest.approx(2 / 3)  # 4 - mean(4, 4, 2)
    assert rows[raters[2]]["median_time_s"] == 12.0
    (agree,) = D.agreement_summary(store, camp)
    assert agree["units"] == 4 and agree["raters"] == 4 and agree["alpha"] < 0.5
    top = D.disagreements(store, camp)[0]
    assert top["spread"] == 2.0 and len(top["answers"]) == 4
