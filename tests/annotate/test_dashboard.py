"""The lead dashboard's figures on SQLite and PostgreSQL: counts, kept statistics, and the same
numbers as a direct computation from the stored records."""

from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict

import numpy as np
import pytest

from assay import annotate as A
from assay import records as R
from assay.annotate import dashboard as D
from assay.rubrics import get_rubric
from assay.stats.agreement import krippendorff_alpha
from assay.store import rating as S
from tests.server.conftest import add_texts

DIMS = ["factuality", "coherence"]


def _campaign(store, *, seed: int = 3):
    """A rating campaign with six raters of different severity, gold, skips and a pending assignment."""
    get_rubric(store, "default")
    add_texts(store, "d", [f"prompt {i}" for i in range(12)],
              {m: [f"{m} answer {i}" for i in range(12)] for m in ("m1@1", "m2@1")})
    raters = [f"human:r{i}" for i in range(6)]
    store.add([R.Rater(id=r, kind="human", name=r[6:]) for r in raters])
    units = A.units_from_dataset(store, "d")
    gold = [A.Gold(response_ids=tuple(units[0]), explanation="", values={"factuality": 4, "coherence": 3})]
    camp = A.create_campaign(store, "dash", rubric="default@1", units=units[1:], gold=gold,
                             spec=A.CampaignSpec(overlap=3, gold_share=0.1, dimensions=DIMS, seed=seed))
    rng = random.Random(seed)
    quality = {u[0]: rng.randint(1, 5) for u in units}
    for k, r in enumerate(raters):
        for n in range(9 if k else 4):  # r0 stops early and keeps one pending
            asg = A.next_assignment(store, camp, r)
            if asg is None:
                break
            if n == 2 and k % 2:
                A.skip(store, camp, asg, reason="cannot tell")
                continue
            v = {d: min(5, max(1, quality[asg.response_ids[0]] + (k % 3) - 1 + rng.choice([-1, 0, 0, 1])))
                 for d in DIMS}
            A.submit(store, camp, asg, A.Answer(justification=f"reason {k}", values=v, time_spent_s=5 + k + n))
    assert A.next_assignment(store, camp, raters[0]) is not None  # pending
    return camp


def _reference(store, camp):
    """The figures computed directly from records and assignments, without the dashboard's code."""
    judgments = store.list(R.Judgment, campaign_id=camp.id)
    by_unit: dict[str, list[R.Judgment]] = defaultdict(list)
    for j in judgments:
        by_unit[f"{j.response_id}|{j.dimension}"].append(j)
    asgs = store.list(R.Assignment, campaign_id=camp.id)
    counts = Counter((a.rater_id, a.status) for a in asgs)
    gold_done = Counter(a.rater_id for a in asgs if a.is_gold and a.status == "done")
    gold = {(g["unit_id"], g["dimension"]): g["value"] for g in S.gold_answers(store, camp.id)}
    out = {}
    for r in sorted({a.rater_id for a in asgs}):
        mine = [j for j in judgments if j.rater_id == r]
        hits, n, offsets = 0, 0, []
        for j in mine:
            others = [o.value for o in by_unit[f"{j.response_id}|{j.dimension}"] if o.rater_id != r]
            if not others:
                continue
            offsets.append(j.value - statistics.mean(others))
            top = Counter(others).most_common()
            if len(top) > 1 and top[0][1] == top[1][1]:
                continue  # the others tie: no consensus
            n += 1
            hits += j.value == top[0][0]
        on_gold = [(j.value, gold[(j.response_id, j.dimension)]) for j in mine if (j.response_id, j.dimension) in gold]
        times = {j.assignment_id: j.time_spent_s for j in mine}
        out[r] = {"done": counts.get((r, "done"), 0), "pending": counts.get((r, "pending"), 0),
                  "skipped": counts.get((r, "skipped"), 0), "gold_done": gold_done[r], "n": n,
                  "consensus_accuracy": hits / n if n else None, "gold_n": len(on_gold),
                  "gold_accuracy": sum(a == b for a, b in on_gold) / len(on_gold) if on_gold else None,
                  "severity": statistics.mean(offsets) if offsets else None,
                  "median_time_s": statistics.median(times.values()) if times else None}
    spreads = sorted(((-(max(v) - min(v)), u) for u, js in by_unit.items()
                      if len({j.rater_id for j in js}) >= 2 and (v := [j.value for j in js]) and max(v) > min(v)))
    alphas = {}
    for d in DIMS:
        multi = {u: js for u, js in by_unit.items() if u.endswith("|" + d) and len(js) >= 2}
        rs = sorted({j.rater_id for js in multi.values() for j in js})
        m = np.full((len(rs), len(multi)), np.nan)
        for col, js in enumerate(multi.values()):
            for j in js:
                m[rs.index(j.rater_id), col] = j.value
        alphas[d] = (len(multi), len(rs), krippendorff_alpha(m, level="ordinal"))
    return out, spreads, alphas


def test_dashboard_figures_match_a_direct_computation(store):
    camp = _campaign(store)
    want, spreads, alphas = _reference(store, camp)
    view = D.dashboard_view(store, camp)
    assert view["fresh"] and not view["refresh"]
    got = {r["rater"]: r for r in view["raters"]}
    assert set(got) == set(want)
    for r, w in want.items():
        for k, v in w.items():
            assert got[r][k] == (pytest.approx(v) if v is not None else None), (r, k)
    assert sum(w["skipped"] for w in want.values()) > 0 and any(w["pending"] for w in want.values())
    assert any(w["gold_accuracy"] is not None for w in want.values())
    p = view["progress"]
    assert (p["done"], p["skipped"]) == (sum(w["done"] for w in want.values()), sum(w["skipped"] for w in want.values()))
    assert [(a["dimension"], a["units"], a["raters"]) for a in view["agreement"]] == [
        (d, alphas[d][0], alphas[d][1]) for d in sorted(DIMS)]
    for a in view["agreement"]:
        assert a["alpha"] == pytest.approx(alphas[a["dimension"]][2])
    assert [(-d["spread"], d["unit"]) for d in view["disagreements"]] == spreads[:30]
    top = view["disagreements"][0]
    unit_rows = [j for j in store.list(R.Judgment, campaign_id=camp.id) if f"{j.response_id}|{j.dimension}" == top["unit"]]
    assert sorted((a["rater"], a["value"], a["justification"]) for a in top["answers"]) == sorted(
        (j.rater_id, j.value, j.justification) for j in unit_rows)


def test_kept_statistics_are_shown_until_recomputed(store):
    """Past the size computed during a view, the dashboard shows the statistics as kept, says they
    are stale and asks for a refresh; the counts are always current."""
    camp = _campaign(store)
    first = D.dashboard_view(store, camp, sync_judgments=0)
    assert first["stats"] is None and not first["fresh"] and first["refresh"]
    assert first["agreement"] == [] and all(r["n"] == 0 for r in first["raters"])
    D.refresh_quality(store, camp)
    kept = D.dashboard_view(store, camp, sync_judgments=0)
    assert kept["fresh"] and not kept["refresh"] and kept["stats"]["done"] == kept["progress"]["done"]
    assert kept["agreement"] == D.dashboard_view(store, camp)["agreement"]
    # one more answer: the counts move, the kept statistics stay until recomputed (not again at once)
    r = "human:r5"
    asg = A.next_assignment(store, camp, r)
    A.submit(store, camp, asg, A.Answer(justification="late", values={d: 1 for d in DIMS}, time_spent_s=1))
    later = D.dashboard_view(store, camp, sync_judgments=0, refresh_after_s=3600)
    assert not later["fresh"] and not later["refresh"]  # computed less than an hour ago: not yet
    assert D.dashboard_view(store, camp, sync_judgments=0, refresh_after_s=0)["refresh"]
    assert later["progress"]["done"] == kept["progress"]["done"] + 1
    assert {x["rater"]: x["done"] for x in later["raters"]}[r] == {x["rater"]: x["done"] for x in kept["raters"]}[r] + 1
    assert later["stats"] == kept["stats"] and later["agreement"] == kept["agreement"]
    # a small campaign has them recomputed during the view
    now = D.dashboard_view(store, camp)
    assert now["fresh"] and now["stats"]["done"] == later["progress"]["done"]


def test_ratings_frame_holds_what_the_records_say(store):
    camp = _campaign(store)
    df = D.ratings_frame(store, camp)
    recs = store.list(R.Judgment, campaign_id=camp.id)
    assert len(df) == len(recs)
    assert sorted(zip(df["unit"], df["rater"], df["value"], df["assignment"], df["time_spent_s"])) == sorted(
        (f"{j.response_id}|{j.dimension}", j.rater_id, j.value, j.assignment_id, j.time_spent_s) for j in recs)
