"""Calibration rounds: picking disagreed items, the round through the annotate API, the report, alpha tracking."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np

from assay import records as R
from assay.analysis.calibration import (RoundItems, calibration_report, create_round, history, most_disagreed,
                                        report_markdown)
from assay.annotate import Answer, next_assignment, submit
from assay.cli import main
from assay.rubrics import get_rubric


def _setup(store, *, spread_before: bool = True):
    """Three humans rate 10 responses on factuality before any calibration; r0..r2 are contested."""
    rub = get_rubric(store, "default")
    store.add([R.Dataset(name="d"), R.Model(id="m@1")])
    store.add([R.Item(id=f"i{k}", dataset="d", prompt=f"question {k}") for k in range(10)])
    store.add([R.Response(id=f"r{k}", item_id=f"i{k}", model="m@1", text=f"answer <b>{k}</b>") for k in range(10)])
    raters = [R.Rater(id=f"human:h{k}", kind="human", name=f"h{k}") for k in range(3)]
    store.add(raters)
    early = R.utcnow() - timedelta(days=2)
    js = []
    for k in range(10):
        for j, r in enumerate(raters):
            v = 3 + (j - 1) * 2 if k < 3 and spread_before else 3 + (j == 2 and k % 2)
            js.append(R.Judgment(id=f"{r.id}-{k}", response_id=f"r{k}", rater_id=r.id, rubric=rub.id,
                                 dimension="factuality", value=float(v), justification=f"j{j}", created_at=early))
    store.add(js)
    return rub, [r.id for r in raters]


def test_most_disagreed_ranks_by_spread(store):
    rub, _ = _setup(store)
    top = most_disagreed(store, rubric=rub.id, n=5)
    assert list(top["unit"][:3]) == ["r0", "r1", "r2"]
    assert top["spread"][0] == np.std([1, 3, 5])


def test_a_round_runs_through_the_queue_and_reports(store):
    rub, raters = _setup(store)
    camp = create_round(store, "cal-1", rubric=rub.id, raters=raters, items=RoundItems(n=3),
                        dimensions=["factuality"])
    assert camp.calibration and camp.overlap == 3
    # every rater gets every item of the round; they now agree more
    for j, rid in enumerate(raters):
        seen = []
        while (asg := next_assignment(store, camp, rid)) is not None:
            seen.append(asg.response_ids[0])
            value = 4 if j < 2 else 3
            submit(store, camp, asg, Answer(values={"factuality": value}, justification=f"rater {j} says {value}"))
        assert sorted(seen) == ["r0", "r1", "r2"]
    rep = calibration_report(store, camp.name)
    assert rep["raters"] == sorted(raters) and len(rep["items"]) == 3
    first = rep["items"][0]["dimensions"][0]
    assert [a["value"] for a in first["answers"]] == [4.0, 4.0, 3.0]
    assert first["answers"][2]["justification"] == "rater 2 says 3"
    (alpha,) = rep["alpha"]
    assert alpha["before"]["units"] == 10 and alpha["within"]["units"] == 3 and alpha["after"]["units"] == 0
    assert alpha["after"]["alpha"] is None
    # after the round the raters rate again, now in agreement: alpha after is measured and higher
    later = R.utcnow() + timedelta(seconds=5)
    store.add([R.Judgment(id=f"after-{rid}-{k}", response_id=f"r{k}", rater_id=rid, rubric=rub.id,
                          dimension="factuality", value=float(2 + k % 3), created_at=later)
               for rid in raters for k in range(3, 10)])
    (alpha,) = calibration_report(store, camp.id)["alpha"]
    assert alpha["after"]["units"] == 7 and alpha["after"]["alpha"] == 1.0 > alpha["before"]["alpha"]
    md = report_markdown(rep)
    assert "answer &lt;b&gt;0&lt;/b&gt;" in md and "<b>" not in md
    assert [h["name"] for h in history(store, "default")] == ["cal-1"]


def test_calibration_cli(capsys, tmp_path):
    from assay.store import Store

    db = str(tmp_path / "c.db")
    store = Store(db)
    rub, raters = _setup(store)
    store.close()
    assert main(["--db", db, "calibration", "pick", "--rubric", "default", "--n", "2", "--json"]) == 0
    assert [r["unit"] for r in json.loads(capsys.readouterr().out)] == ["r0", "r1"]
    args = ["--db", db, "calibration", "create", "round-a", "--rubric", "default", "--n", "2"]
    for r in raters:
        args += ["--rater", r]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["--db", db, "calibration", "report", "round-a", "--out", str(tmp_path / "r.md")]) == 0
    out = capsys.readouterr().out
    assert "calibration round round-a" in out and (tmp_path / "r.md").read_text().startswith("# Calibration round")
