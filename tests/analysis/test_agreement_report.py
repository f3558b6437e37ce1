"""`assay agreement` over the store: published PandaLM kappas, HANNA, groups, guideline versions."""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pytest

from assay import records as R
from assay.analysis.agreement import agreement_report
from assay.analysis.frames import judgments_frame
from assay.analysis.options import Options, Selection
from assay.bundled import load_pandalm
from assay.cli import main
from assay.rubrics import get_rubric


def _coef(section, name):
    return next(c for c in section["coefficients"] if c["coefficient"] == name)


def test_pandalm_human_kappas_reproduce_the_published_values(store):
    load_pandalm(store)
    rep = agreement_report(store, comparisons=True,
                           select=Selection(raters=[f"human:pandalm-annotator{i}" for i in (1, 2, 3)]),
                           options=Options(rounds=50))
    m = np.array(rep["sections"][0]["matrix"]["values"])
    # PandaLM README: pairwise Cohen kappa of the three annotators
    assert m[0, 1] == pytest.approx(0.8520, abs=5e-5)
    assert m[0, 2] == pytest.approx(0.8789, abs=5e-5)
    assert m[1, 2] == pytest.approx(0.8617, abs=5e-5)
    sec = rep["sections"][0]
    assert sec["units"] == 999 and sec["raters"] == 3
    # string labels: every nominal coefficient is defined, with an interval around it
    assert {c["coefficient"] for c in sec["coefficients"]} == {
        "percent agreement", "Krippendorff alpha (nominal)", "Fleiss kappa", "Gwet AC1"}
    assert all(c["low"] <= c["estimate"] <= c["high"] for c in sec["coefficients"])


def test_pandalm_judge_against_humans(capsys, tmp_path):
    db = str(tmp_path / "p.db")
    assert main(["--db", db, "load", "pandalm"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "agreement", "--comparisons", "--rounds", "50", "--json",
                 "--raters", "pandalm-annotator1,pandalm-annotator2", "--rounds", "20"]) == 0
    assert json.loads(capsys.readouterr().out)["sections"][0]["raters"] == 2
    assert main(["--db", db, "agreement", "--comparisons", "--rounds", "50", "--json",
                 "--out", str(tmp_path / "a.json")]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert json.loads((tmp_path / "a.json").read_text()) == rep
    rows = {r["kind"]: r for r in rep["sections"][0]["groups"]["rows"]}
    judge = rows["llm"]
    assert judge["against"] == "human consensus" and judge["n"] > 900
    # GPT-3.5 agrees with the humans far less than the humans agree with each other
    assert judge["kappa"] < rep["sections"][0]["groups"]["human_mean_alpha"] - 0.2
    alpha = _coef(rep["sections"][0], "Krippendorff alpha (nominal)")
    assert alpha["low"] <= alpha["estimate"] <= alpha["high"]


@pytest.mark.slow
def test_hanna_agreement_runs_on_every_criterion(capsys, tmp_path):
    db = str(tmp_path / "h.db")
    assert main(["--db", db, "load", "hanna"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "agreement", "--rubric", "hanna", "--rounds", "50", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert [s["dimension"] for s in rep["sections"]] == ["relevance", "coherence", "empathy", "surprise",
                                                          "engagement", "complexity"]
    for sec in rep["sections"]:
        assert sec["units"] == 1056 and sec["raters"] == 21 and sec["units_total"] == 1056  # 1 human (mean of 3) + 5 LLMs x 4 prompts
        names = {c["coefficient"] for c in sec["coefficients"] if c.get("estimate") is not None}
        assert {"Krippendorff alpha (interval)", "ICC2", "ICC2k"} <= names
        assert len(sec["groups"]["rows"]) == 20
    # an independent oracle: the krippendorff package on the same raters x units matrix
    from assay.store import Store

    store = Store(db)
    df = judgments_frame(store, select=Selection(rubric="hanna@1", dimensions=["coherence"]))
    matrix = df.pivot(index="rater", columns="unit", values="value").to_numpy(float)
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="interval")
    got = _coef(rep["sections"][1], "Krippendorff alpha (interval)")["estimate"]
    assert got == pytest.approx(expected, abs=1e-9)
    assert main(["--db", db, "agreement", "--rubric", "hanna", "--dimension", "surprise", "--rounds", "20"]) == 0
    assert "each rater against the human consensus" in capsys.readouterr().out


def _ordinal_store(store):
    """Four raters (3 humans, 1 judge) on 12 responses, factuality of the default rubric."""
    rub = get_rubric(store, "default")
    ds = R.Dataset(name="d")
    items = [R.Item(id=f"i{k}", dataset="d", prompt=f"p{k}") for k in range(12)]
    model = R.Model(id="m@1")
    resps = [R.Response(id=f"r{k}", item_id=f"i{k}", model="m@1", text="t") for k in range(12)]
    raters = [R.Rater(id=f"human:h{k}", kind="human", name=f"h{k}") for k in range(3)]
    raters.append(R.Rater(id="llm:j", kind="llm", name="j", model="m@1"))
    rng = np.random.default_rng(0)
    truth = rng.integers(1, 6, 12)
    values = {}
    judgments = []
    for r in raters:
        noise = rng.integers(-1, 2, 12) if r.kind == "human" else rng.integers(-2, 3, 12)
        v = np.clip(truth + noise, 1, 5)
        values[r.id] = v
        for k in range(12):
            judgments.append(R.Judgment(id=f"{r.id}-{k}", response_id=f"r{k}", rater_id=r.id, rubric=rub.id,
                                        dimension="factuality", value=float(v[k]), guideline_version=1 + (k >= 6)))
    store.add([ds, *items, model, *resps, *raters, *judgments])
    return rub, values


def test_ordinal_report_matches_the_statistics_module(store):
    from assay.stats import agreement as A

    rub, values = _ordinal_store(store)
    rep = agreement_report(store, select=Selection(rubric=rub.id), options=Options(rounds=200), by_guideline=True)
    (sec,) = rep["sections"]
    data = np.array([values[k] for k in sorted(values)], dtype=float)
    assert sec["units"] == 12 and sec["raters"] == 4
    assert _coef(sec, "Krippendorff alpha (ordinal)")["estimate"] == pytest.approx(
        A.krippendorff_alpha(data, level="ordinal", categories=[1.0, 2.0, 3.0, 4.0, 5.0]))
    assert _coef(sec, "ICC2")["estimate"] == pytest.approx(A.icc(data.T, form="ICC2"))
    assert _coef(sec, "Gwet AC2 (quadratic)")["estimate"] == pytest.approx(
        A.gwet_ac2(data, weights="quadratic", categories=[1.0, 2.0, 3.0, 4.0, 5.0]))
    kinds = [r["kind"] for r in sec["groups"]["rows"]]
    assert kinds == ["human", "human", "human", "llm"]
    assert [g["guideline_version"] for g in sec["by_guideline"]] == [1, 2]
    assert all(g["units"] == 6 for g in sec["by_guideline"])


def test_a_correction_supersedes_the_judgment_it_corrects(store):
    rub, values = _ordinal_store(store)
    old = store.get("judgments", "human:h0-0")
    store.add([R.Judgment(id="fix", response_id="r0", rater_id="human:h0", rubric=rub.id, dimension="factuality",
                          value=5.0 if old.value != 5 else 1.0, supersedes=old.id)])
    df = judgments_frame(store, select=Selection(rubric=rub.id))
    row = df[(df["unit"] == "r0") & (df["rater"] == "human:h0")]
    assert list(row["id"]) == ["fix"] and len(df) == 48


def test_one_rater_only_says_why(store):
    rub, _ = _ordinal_store(store)
    rep = agreement_report(store, select=Selection(rubric=rub.id, raters=["human:h0"]), options=Options(rounds=10))
    assert rep["sections"][0]["error"] == "no unit was rated by two raters"


def test_a_categorical_dimension_gets_its_kappa_matrix(store):
    """Labels (not values) carry a categorical dimension; the rater matrix is Cohen's kappa on them."""
    from sklearn.metrics import cohen_kappa_score

    rub = get_rubric(store, "redteam")
    labels = ["full_compliance", "partial_refusal", "full_refusal"]
    ds, model = R.Dataset(name="d"), R.Model(id="m@1")
    items = [R.Item(id=f"i{k}", dataset="d", prompt=f"p{k}") for k in range(20)]
    resps = [R.Response(id=f"r{k}", item_id=f"i{k}", model="m@1", text="t") for k in range(20)]
    raters = [R.Rater(id=f"human:h{k}", kind="human", name=f"h{k}") for k in range(2)]
    rng = np.random.default_rng(1)
    a = rng.integers(0, 3, 20)
    b = np.where(rng.random(20) < 0.7, a, rng.integers(0, 3, 20))
    judgments = [R.Judgment(id=f"{r.id}-{k}", response_id=f"r{k}", rater_id=r.id, rubric=rub.id, dimension="refusal",
                            label=labels[v[k]]) for r, v in zip(raters, (a, b)) for k in range(20)]
    store.add([ds, *items, model, *resps, *raters, *judgments])
    (sec,) = agreement_report(store, select=Selection(rubric=rub.id, dimensions=["refusal"]),
                               options=Options(rounds=20))["sections"]
    assert sec["units"] == 20 and sec["matrix"]["statistic"] == "cohen_kappa"
    assert sec["matrix"]["values"][0][1] == pytest.approx(cohen_kappa_score(a, b))


def _as_rows(df):
    cols = ["unit", "rater", "rater_kind", "rubric", "dimension", "value", "label", "guideline_version"]
    out = df[cols].astype(object).where(df[cols].notna(), None)
    return sorted(tuple(r) for r in out.itertuples(index=False))


def test_coded_judgments_are_the_rows_judgments_frame_keeps(store):
    """What agreement reads (categoricals) is judgments_frame's rows: corrections applied, each rater's latest kept."""
    from datetime import datetime, timedelta, timezone

    from assay.analysis.frames import judgment_codes

    rub, _ = _ordinal_store(store)
    old = store.get("judgments", "human:h1-3")
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    store.add([R.Item(id="i-é", dataset="d", prompt="p")])
    store.add([R.Response(id=i, item_id="i-é", model="m@1", text="t") for i in ("r-é", "rZ")])
    store.add([
        R.Judgment(id="fix", response_id="r0", rater_id="human:h0", rubric=rub.id, dimension="factuality",
                   value=3.0, supersedes="human:h0-0"),
        # h1 judged r3 again, later, without superseding: the later judgment counts; and an older re-judgment
        R.Judgment(id="again", response_id="r3", rater_id="human:h1", rubric=rub.id, dimension="factuality",
                   value=1.0 if old.value != 1 else 2.0, created_at=later),
        R.Judgment(id="before", response_id="r4", rater_id="human:h1", rubric=rub.id, dimension="factuality",
                   value=4.0, created_at=datetime(2020, 1, 1, tzinfo=timezone.utc)),
        R.Judgment(id="lab", response_id="r5", rater_id="llm:j", rubric=rub.id, dimension="coherence", label="ok"),
        R.Judgment(id="none", response_id="r6", rater_id="llm:j", rubric=rub.id, dimension="coherence"),
        # ids outside ASCII sort as Python sorts them (Arrow sorts UTF-8 bytes)
        R.Judgment(id="é1", response_id="r-é", rater_id="llm:j", rubric=rub.id, dimension="factuality", value=2.0),
        R.Judgment(id="é2", response_id="rZ", rater_id="llm:j", rubric=rub.id, dimension="factuality", value=2.0),
    ])
    coded = judgment_codes(store, rubric=rub.id)
    plain = judgments_frame(store, select=Selection(rubric=rub.id), texts=False)
    assert all(str(coded[c].dtype) == "category" for c in ("unit", "rater", "rater_kind", "rubric", "dimension"))
    assert list(coded["unit"].cat.categories) == sorted(coded["unit"].cat.categories)
    assert _as_rows(coded) == _as_rows(plain)
    mine = coded[(coded["unit"] == "r3") & (coded["rater"] == "human:h1")]
    assert list(mine["value"]) == [store.get("judgments", "again").value]
    assert len(coded) == 52  # 48 + four; the corrected and the older re-judgment drop
    empty = judgment_codes(store, rubric="no-such-rubric")
    assert empty.empty and list(empty.columns) == list(coded.columns)


@pytest.mark.parametrize("labels", [False, True])
@pytest.mark.parametrize("categorical", [False, True])
def test_the_wide_array_is_the_pivot_of_the_units_two_raters_rated(labels, categorical):
    import pandas as pd

    from assay.analysis.agreement import _wide

    rng = np.random.default_rng(7)
    rows = [(f"u{u:03d}", f"r{r}") for u in range(200) for r in range(6) if rng.random() < 0.35]
    df = pd.DataFrame(rows, columns=["unit", "rater"])
    df["value"] = np.where(rng.random(len(df)) < 0.1, np.nan, rng.integers(1, 6, len(df)).astype(float))
    if labels:
        df["value"] = df["value"].map(lambda v: None if v != v else f"L{int(v)}").astype(object)
    if categorical:
        df = df.assign(unit=df["unit"].astype("category"), rater=df["rater"].astype("category"))
        df = df[df["rater"] != "r5"]  # a category no row has any more
    plain = df.astype({"unit": object, "rater": object})
    rated = plain.groupby("unit")["rater"].nunique()
    multi = plain[plain["unit"].isin(rated[rated >= 2].index)]
    expected = multi.pivot(index="rater", columns="unit", values="value")
    wide, raters, units, counts = _wide(df, "value")
    assert list(raters) == list(expected.index) and list(units) == list(expected.columns)
    assert counts == {"units": int((rated >= 2).sum()), "units_total": len(rated),
                      "raters": plain["rater"].nunique(), "multi_raters": multi["rater"].nunique()}
    got = pd.DataFrame(wide, index=expected.index, columns=expected.columns)
    assert got.isna().equals(expected.isna())
    assert (got.where(got.notna(), 0).to_numpy() == expected.where(expected.notna(), 0).to_numpy()).all()


def test_shared_reads_answer_narrower_questions_with_the_same_rows(store):
    """Inside shared_reads, judgment_codes filters its one wide read: the rows a fresh read of each question gives."""
    from assay.analysis.frames import judgment_codes, shared_reads

    rub, _ = _ordinal_store(store)
    store.add([R.Model(id="m@2"), R.Item(id="i-x", dataset="d", prompt="px"),
               R.Response(id="rx", item_id="i-x", model="m@2", text="t")])
    store.add([R.Judgment(id="jx", response_id="rx", rater_id="human:h2", rubric=rub.id, dimension="factuality",
                          value=2.0),
               R.Judgment(id="fix0", response_id="r0", rater_id="human:h0", rubric=rub.id, dimension="factuality",
                          value=4.0, supersedes="human:h0-0")])
    questions = [dict(), dict(rubric=rub.id), dict(dimensions=["factuality"]), dict(raters=["human:h1", "llm:j"]),
                 dict(models=["m@2"], items=True), dict(rubric=rub.id, dimensions=("factuality",), items=True)]
    fresh = [judgment_codes(store, **q) for q in questions]
    reads = []
    with shared_reads():
        wide = judgment_codes(store, items=True)
        original = store.arrow_select
        store.arrow_select = lambda stmt: reads.append(stmt) or original(stmt)  # count the reads made inside
        try:
            served = [judgment_codes(store, **q) for q in questions]
        finally:
            del store.arrow_select
    assert reads == [] and len(wide) == 49
    for q, a, b in zip(questions, fresh, served):
        assert list(a.columns) == list(b.columns), q
        assert _as_rows(a) == _as_rows(b), q
    assert judgment_codes(store, items=True) is not wide  # outside the block every call reads
