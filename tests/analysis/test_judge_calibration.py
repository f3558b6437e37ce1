"""Judge calibration: isotonic maps from a judge's scores to the people's, reliability tables, the report's plot."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from scipy.special import expit, logit

from assay import records as R
from assay.analysis.judge_calibration import CalibrationOptions, judge_calibration
from assay.cli import main
from assay.errors import NotFound
from assay.rubrics import add_rubric, default_rubric
from assay.stats.isotonic import IsotonicMap
from assay.store import Store

RUBRIC = default_rubric()
PEOPLE = [R.Rater(id=f"human:{h}", kind="human", name=h) for h in ("ann", "bo", "cy")]


def judge_rater(name: str = "judge@1") -> R.Rater:
    return R.Rater(id=f"llm:{name}:x", kind="llm", name=name, model="judge@1")


def responses(store: Store, n: int, per_item: int = 2) -> list[R.Response]:
    items = [R.Item(id=f"i{i}", dataset="qa", prompt=f"q{i}") for i in range(n)]
    rs = [R.Response(id=f"r{i}-{k}", item_id=f"i{i}", model=f"m{k}@1", text=f"answer {i} {k}")
          for i in range(n) for k in range(per_item)]
    store.add([R.Dataset(name="qa"), *items, *(R.Model(id=f"m{k}@1", provider="none") for k in range(per_item)), *rs])
    return rs


def scored_store(store: Store, distortion, *, n: int = 150, seed: int = 0, judge: R.Rater | None = None) -> R.Rater:
    """People give each response its true level; the judge's weighted score is ``distortion(level)`` plus noise."""
    rng = np.random.default_rng(seed)
    add_rubric(store, RUBRIC)
    rs = responses(store, n)
    judge = judge or judge_rater()
    truth = {r.id: int(rng.integers(1, 6)) for r in rs}
    js = [R.Judgment(id=f"{h.id}|{r.id}", response_id=r.id, rater_id=h.id, rubric=RUBRIC.id, dimension="factuality",
                     value=float(truth[r.id])) for r in rs for h in PEOPLE[:2]]
    for r in rs:
        w = float(np.clip(distortion(truth[r.id]) + rng.normal(0, 0.1), 1, 5))
        js.append(R.Judgment(id=f"j|{r.id}", response_id=r.id, rater_id=judge.id, rubric=RUBRIC.id,
                             dimension="factuality", value=float(round(w)), detail={"weighted": w}))
    store.add([*PEOPLE, judge, *js])
    return judge


def test_calibration_undoes_a_planted_monotone_distortion(store):
    # a harsh judge: the people's 1..5 squeezed towards 1 (convex), strictly monotone
    judge = scored_store(store, lambda h: 1 + 4 * ((h - 1) / 4) ** 2)
    rep = judge_calibration(store, judge.id, options=CalibrationOptions(weighted=True))
    (sec,) = rep["sections"]
    assert (sec["rubric"], sec["dimension"], sec["score"], sec["n"], sec["items"]) == (
        "default@1", "factuality", "weighted", 300, 150)
    loss = sec["loss"]
    assert loss["metric"] == "rmse" and loss["folds"] == 5
    assert loss["raw"] > 0.5 and loss["calibrated"] < 0.3 * loss["raw"]
    m = sec["map"]
    assert np.all(np.diff(m["y"]) >= 0) and m["n"] == 300
    assert m["y"][0] == pytest.approx(1, abs=0.2) and m["y"][-1] == pytest.approx(5, abs=0.2)
    # reliability: quantile bins of the weighted score, every response counted once, people's mean rising
    rel = sec["reliability"]
    assert sum(r["n"] for r in rel) == 300 and len(rel) <= 10
    assert all(a["human_mean"] <= b["human_mean"] + 0.3 for a, b in zip(rel, rel[1:]))


def test_an_already_calibrated_judge_is_left_about_as_it_was(store):
    judge = scored_store(store, lambda h: float(h))
    (sec,) = judge_calibration(store, judge.id, options=CalibrationOptions(weighted=True))["sections"]
    assert sec["loss"]["raw"] < 0.15 and sec["loss"]["calibrated"] < sec["loss"]["raw"] + 0.05
    # the stored values (rounded) take 5 distinct values: one reliability row each
    (plain,) = judge_calibration(store, judge.id)["sections"]
    assert [r["low"] for r in plain["reliability"]] == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_pairwise_calibrated_win_probabilities_beat_an_overconfident_judge(store):
    rng = np.random.default_rng(1)
    rs = responses(store, 200)
    judge = judge_rater()
    recs: list[R.Record] = [*PEOPLE, judge]
    for i in range(200):
        a, b = sorted([f"r{i}-0", f"r{i}-1"])
        p = float(rng.uniform(0.05, 0.95))
        q = float(expit(3 * logit(p)))  # the judge is sure far too soon
        recs.append(R.Comparison(id=f"j{i}", item_id=f"i{i}", rater_id=judge.id, response_ids=[a, b],
                                 shown_order=[a, b], outcome="win" if q != 0.5 else "tie",
                                 winner=a if q > 0.5 else b, probability=q))
        for h in PEOPLE:
            w = a if rng.random() < p else b
            recs.append(R.Comparison(id=f"{h.id}{i}", item_id=f"i{i}", rater_id=h.id, response_ids=[a, b],
                                     shown_order=[a, b], winner=w))
    store.add(recs)
    rep = judge_calibration(store, judge.id)
    (sec,) = [s for s in rep["sections"] if s["kind"] == "pairwise"]
    assert sec["n"] == 200 and sec["loss"]["metric"] == "brier"
    assert sec["loss"]["calibrated"] < sec["loss"]["raw"] - 0.01
    # where the judge says 95% (or 5%) the people agree about 73% of the time: the map says so
    low, high = IsotonicMap.from_dict(sec["map"])([0.05, 0.95])
    assert 0.1 < low < 0.4 and 0.6 < high < 0.9


def test_errors_say_why(store):
    with pytest.raises(NotFound, match="no rater 'nobody'"):
        judge_calibration(store, "nobody")
    judge = scored_store(store, float, n=4)
    (sec,) = judge_calibration(store, judge.id)["sections"]
    assert "8 responses have both the judge's score and a human label; calibration needs at least 10" in sec["error"]
    with pytest.raises(NotFound, match="no raters of kind 'expert'"):
        judge_calibration(store, judge.id, human_kind="expert")


def test_cli_prints_the_reliability_table_and_writes_the_maps(store, store_url, tmp_path, capsys):
    judge = scored_store(store, lambda h: 1 + 4 * ((h - 1) / 4) ** 2)
    out = tmp_path / "cal.json"
    code = main(["--db", store_url, "judge-calibrate", "--judge", judge.id, "--weighted", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "people's mean" in text and "rmse" in text and "calibrated" in text
    saved = json.loads(out.read_text())
    assert saved["sections"][0]["map"]["n"] == 300
    code = main(["--db", store_url, "judge-calibrate", "--judge", judge.id, "--folds", "1"])
    assert code == 2 and "--folds" in capsys.readouterr().err


def test_report_shows_the_reliability_plot_with_escaped_text(store, store_url, tmp_path, capsys):
    evil = judge_rater("judge<script>window.__xss=1</script>@1")
    scored_store(store, lambda h: 1 + 4 * ((h - 1) / 4) ** 2.5, judge=evil)
    path = tmp_path / "r.html"
    assert main(["--db", store_url, "report", "--out", str(path), "--rounds", "50"]) == 0, capsys.readouterr().err
    html = path.read_text()
    assert "<script>window.__xss" not in html and "Calibration to the people" in html
    specs = [json.loads(s) for s in re.findall(r'<script type="application/json" id="spec-fig\d+">(.*?)</script>',
                                               html, re.S)]
    rel = [s for s in specs if s["layout"]["title"]["text"].startswith("Reliability")]
    assert len(rel) == 1
    title = rel[0]["layout"]["title"]["text"]
    assert "judge&lt;script&gt;window.__xss=1&lt;/script&gt;@1" in title and "<script" not in title
    assert [t["name"] for t in rel[0]["data"]] == ["judge = people", "people's mean per bin", "calibration map (isotonic)"]
