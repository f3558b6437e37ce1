"""One definition of judge-vs-human agreement: `assay agreement` and `assay judge-report` give the same kappa."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from assay import records as R
from assay.analysis.agreement import JUDGE_VS_HUMANS
from assay.cli import main
from assay.store import Store

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
JUDGE = "llm:judge:t"
HUMANS = [f"human:h{k}" for k in range(1, 5)]


def build(store: Store, n: int = 60, seed: int = 5) -> dict:
    """Four humans and a judge on n pairs. The judge compared every third pair first, and with the pair the
    other way round, so "first" is the judge's first response there; four humans often split 2-1-1, where
    the most common label is a consensus though no label has a majority of the votes.
    Returns, per pair unit, the canonical first response and every rater's verdict (the winner or 'tie')."""
    rng = np.random.default_rng(seed)
    store.add([R.Dataset(name="d"), R.Model(id="a@1"), R.Model(id="b@1"),
               *[R.Rater(id=h, kind="human", name=h.split(":")[1]) for h in HUMANS],
               R.Rater(id=JUDGE, kind="llm", name="judge", model="judge@1")])
    recs, truth_of = [], {}
    for i in range(n):
        item = R.Item(id=f"i{i}", dataset="d", prompt=f"p{i}")
        ra = R.Response(id=f"a{i}", item_id=item.id, model="a@1", text="x" * (i % 7 + 1))
        rb = R.Response(id=f"b{i}", item_id=item.id, model="b@1", text="y" * (i % 5 + 1))
        recs += [item, ra, rb]
        truth = str(rng.choice(["a", "b", "tie"], p=[0.45, 0.4, 0.15]))
        verdicts = {}
        for k, rater in enumerate([JUDGE, *HUMANS]):
            keep = 0.6 if rater == JUDGE else 0.7
            verdicts[rater] = truth if rng.random() < keep else str(rng.choice(["a", "b", "tie"]))
            judge_first = rater == JUDGE and i % 3 == 0
            ids = [rb.id, ra.id] if judge_first else [ra.id, rb.id]
            win = {"a": ra.id, "b": rb.id}.get(verdicts[rater])
            minute = i * 10 + (0 if judge_first else 9 if rater == JUDGE else k)
            recs.append(R.Comparison(id=f"{rater}-{i}", item_id=item.id, rater_id=rater, response_ids=ids,
                                     shown_order=ids, outcome="win" if win else "tie", winner=win,
                                     created_at=T0 + timedelta(minutes=minute)))
        truth_of[i] = ("b" if i % 3 == 0 else "a", verdicts)
    store.add(recs)
    return truth_of


def expected(truth_of: dict) -> dict:
    """The definition, computed by hand: labels relative to the earliest comparison's order, the humans'
    unique most common label as consensus, sklearn's Cohen kappa."""
    def label(v, first):
        return "tie" if v == "tie" else "first" if v == first else "second"

    judge, cons, each = [], [], {h: ([], []) for h in HUMANS}
    for first, verdicts in truth_of.values():
        j = label(verdicts[JUDGE], first)
        hs = [label(verdicts[h], first) for h in HUMANS]
        for h, x in zip(HUMANS, hs):
            each[h][0].append(j)
            each[h][1].append(x)
        top = Counter(hs).most_common(2)
        if len(top) == 1 or top[0][1] > top[1][1]:
            judge.append(j)
            cons.append(top[0][0])
    return {"n": len(judge), "kappa": cohen_kappa_score(judge, cons),
            "mean": float(np.mean([cohen_kappa_score(a, b) for a, b in each.values()]))}


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_agreement_and_judge_report_give_one_kappa_for_one_judge(capsys, store_url):
    store = Store(store_url)
    try:
        want = expected(build(store))
    finally:
        store.close()
    assert want["n"] < 60  # some pairs have no consensus (2-2 splits)

    code, out, err = run(capsys, "--db", store_url, "agreement", "--comparisons", "--rounds", "20", "--json")
    assert code == 0, err
    groups = json.loads(out)["sections"][0]["groups"]
    (row,) = [r for r in groups["rows"] if r["rater"] == JUDGE]
    code, out, err = run(capsys, "--db", store_url, "judge-report", "--judge", JUDGE, "--json")
    assert code == 0, err
    a = json.loads(out)["pairwise"]["agreement"]
    vs = a["judge_vs_majority"]

    assert row["n"] == vs["n"] == want["n"]
    assert row["kappa"] == pytest.approx(vs["kappa"], abs=1e-12)
    assert vs["kappa"] == pytest.approx(want["kappa"], abs=1e-9)
    assert row["mean_kappa_with_each_human"] == pytest.approx(a["judge_mean_kappa_with_humans"], abs=1e-12)
    assert a["judge_mean_kappa_with_humans"] == pytest.approx(want["mean"], abs=1e-9)
    assert groups["definition"] == a["definition"] == JUDGE_VS_HUMANS

    # selecting the raters changes neither the units' first/second frame nor the figure
    code, out, _ = run(capsys, "--db", store_url, "agreement", "--comparisons", "--rounds", "20", "--json",
                       "--raters", ",".join([JUDGE, *HUMANS]))
    (again,) = [r for r in json.loads(out)["sections"][0]["groups"]["rows"] if r["rater"] == JUDGE]
    assert again["kappa"] == pytest.approx(vs["kappa"], abs=1e-12)

    # and both commands say what the figure is
    _, text_agreement, _ = run(capsys, "--db", store_url, "agreement", "--comparisons", "--rounds", "20")
    _, text_report, _ = run(capsys, "--db", store_url, "judge-report", "--judge", JUDGE)
    for text in (text_agreement, text_report):
        assert " ".join(JUDGE_VS_HUMANS.split()) in " ".join(text.split())
        assert f"{vs['kappa']:.4f}" in text
