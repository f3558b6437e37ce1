"""Small builders of realistic records for tests: one of every kind, linked together."""

from __future__ import annotations

from datetime import datetime, timezone

from assay import records as R
from assay.rubrics import default_rubric


def every_kind() -> list[R.Record]:
    """A store's worth of linked records, at least one of every kind, with nested fields filled."""
    rub = default_rubric()
    ds = R.Dataset(name="qa", description="questions", source="tests")
    i1 = R.Item(id=R.Item.make_id("qa", "1", None, None), dataset="qa", external_id="1", prompt="Capital of France?",
                reference="Paris", category="geo", language="en", tags=["easy", "geo"], cluster="doc-1",
                metadata={"source": "quiz", "n": 3})
    i2 = R.Item(id=R.Item.make_id("qa", "2", None, None), dataset="qa", external_id="2",
                messages=[R.Message(role="system", content="Be brief."), R.Message(role="user", content="2+2? \"é\"")])
    m1, m2 = R.Model(id="alpha@1", base_url="http://x/v1", params={"temperature": 0.2}, price_input_per_mtok=0.5), \
        R.Model(id="beta@2024-01", family="beta")
    resp = [R.Response(id=R.Response.make_id(i.id, m.id, 0), item_id=i.id, model=m.id, text=f"{m.id} says, \"hi\"\n",
                       prompt_tokens=10, completion_tokens=5, latency_ms=12.5, cost_usd=0.001, finish_reason="stop",
                       metadata={"k": [1, 2]}) for i in (i1, i2) for m in (m1, m2)]
    human = R.Rater(id=R.Rater.make_id("human", "ann"), kind="human", name="ann")
    judge = R.Rater(id=R.Rater.make_id("llm", "judge", "abc"), kind="llm", name="judge", model="beta@2024-01",
                    template_digest="abc", config={"t": 0})
    camp = R.Campaign(id="c1", name="first", rubric=rub.id, overlap=2, gold_share=0.1, min_justification=10,
                      deadline=datetime(2027, 1, 1, tzinfo=timezone.utc))
    asg = R.Assignment(id="a1", campaign_id="c1", rater_id=human.id, response_ids=[resp[0].id],
                       shown_order=[resp[0].id])
    judg = [R.Judgment(id=f"j{k}", response_id=r.id, rater_id=rater.id, rubric=rub.id, dimension="factuality",
                       value=float(1 + k % 5), label=None, justification="because, \"quoted\"",
                       flags=["ambiguous"] if k == 0 else [], time_spent_s=3.5, guideline_version=1,
                       campaign_id="c1" if rater is human else None, detail={"weighted": 3.2})
            for k, (r, rater) in enumerate((r, rater) for r in resp for rater in (human, judge))]
    comp = R.Comparison(id="cmp1", item_id=i1.id, rater_id=human.id, response_ids=[resp[0].id, resp[1].id],
                        shown_order=[resp[1].id, resp[0].id], outcome="win", winner=resp[1].id, strength=2,
                        probability=0.25, justification="B is right")
    tie = R.Comparison(id="cmp2", item_id=i2.id, rater_id=judge.id, response_ids=[resp[2].id, resp[3].id],
                       shown_order=[resp[2].id, resp[3].id], outcome="both_bad")
    run = R.Run(id="run1", kind="judge", config={"judge": "beta@2024-01"}, total=4, succeeded=3, failed=1,
                errors={"timeout": 1})
    gl = R.GuidelineVersion(rubric=rub.id, version=1, text=rub.guidelines, note="initial")
    edge = R.EdgeCase(id="e1", rubric=rub.id, dimension="factuality", response_id=resp[0].id, note="unclear")
    return [ds, i1, i2, m1, m2, *resp, rub, gl, human, judge, camp, asg, *judg, comp, tie, run, edge]
