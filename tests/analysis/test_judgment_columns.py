"""scored_judgments (the A/B test's coded read) against judgments_frame's rows, on both stores."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from assay import records as R
from assay.analysis import frames
from assay.analysis.frames import judgments_frame
from assay.analysis.options import Selection
from assay.analysis.judgment_columns import scored_judgments
from assay.rubrics import add_rubric

MODELS = ["a@1", "b@1"]


def _build(store, *, seed: int = 0) -> None:
    """Two rubrics, two dimensions, three raters, models a, b and c; some clustered items, a value-less judgment."""
    rng = np.random.default_rng(seed)
    for name in ("r1", "r2"):
        add_rubric(store, R.Rubric(name=name, version=1, dimensions=[
            R.Dimension(name=d, description=d, scale=R.Scale(kind="continuous", min=-10, max=10)) for d in ("x", "y")]))
    raters = [R.Rater(id=f"llm:j{k}:m", kind="llm", name=f"j{k}") for k in (2, 0, 1)]
    recs: list[R.Record] = [R.Dataset(name="d"), *raters, *(R.Model(id=m) for m in MODELS + ["c@1"])]
    for i in range(12):
        item = R.Item(id=f"it-{i:02d}", dataset="d", prompt=f"q{i}", cluster=f"c{i % 3}" if i % 2 else None)
        recs.append(item)
        for m in MODELS + ["c@1"]:
            for s in range(1 + i % 2):
                resp = R.Response(id=f"r-{m}-{i}-{s}", item_id=item.id, model=m, sample_index=s, text="t")
                recs.append(resp)
                for rub in ("r1@1", "r2@1"):
                    for d in ("x", "y"):
                        for j in raters[: 1 + (i + s) % 3]:
                            value = None if (i, s, d, rub) == (4, 0, "y", "r1@1") else float(rng.integers(-5, 6))
                            recs.append(R.Judgment(response_id=resp.id, rater_id=j.id, rubric=rub, dimension=d,
                                                   value=value, label=None if value is not None else "n/a"))
    store.add(recs)


def _correct_and_repeat(store) -> None:
    """A correction of one judgment, and a later re-judgment (not a correction) of another."""
    jf = judgments_frame(store)
    jf = jf[(jf["model"] == "a@1") & jf["value"].notna()]
    first, second = jf.iloc[0], jf.iloc[5]
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    store.add([
        R.Judgment(id="fix", response_id=first["unit"], rater_id=first["rater"], rubric=first["rubric"],
                   dimension=first["dimension"], value=first["value"] + 1.5, supersedes=first["id"]),
        R.Judgment(id="again", response_id=second["unit"], rater_id=second["rater"], rubric=second["rubric"],
                   dimension=second["dimension"], value=second["value"] - 0.25, created_at=later),
    ])


def _expected(store, *, rubric=None, dimensions=None, raters=None) -> list[tuple]:
    jf = judgments_frame(store, select=Selection(rubric=rubric, dimensions=dimensions, raters=raters), texts=False)
    jf = jf[jf["model"].isin(MODELS) & jf["value"].notna()]
    return sorted(zip(jf["rubric"], jf["dimension"], jf["unit"], jf["rater"], jf["value"].astype(float),
                      jf["item_id"], jf["model"]))


def _got(sj) -> list[tuple]:
    units = np.asarray(sj.unit_ids.to_pylist(), dtype=object)
    item = sj.item_of_unit[sj.unit]
    return sorted(zip(sj.rubrics[sj.rubric], sj.dimensions[sj.dimension], units[sj.unit], sj.raters[sj.rater],
                      sj.value.tolist(), sj.items[item], sj.models[sj.model_of_unit[sj.unit]]))


@pytest.mark.parametrize("selection", [{}, {"rubric": "r1@1"}, {"rubric": "r2@1", "dimensions": ["y"]},
                                       {"raters": ["llm:j0:m", "llm:j2:m"]}])
@pytest.mark.parametrize("edited", [False, True])
def test_scored_judgments_are_judgments_frames_rows_with_a_value(store, selection, edited):
    """The same rows (corrections applied, a rater's latest judgment, value-less ones and a third model left out),
    each response's item and model, each item's cluster; rater codes follow the raters' ids."""
    _build(store)
    if edited:
        _correct_and_repeat(store)
    sj = scored_judgments(store, models=MODELS, **selection)
    assert _got(sj) == _expected(store, **selection)
    assert list(sj.raters) == sorted(sj.raters)
    # rows in (rubric, dimension, response, rater) code order: a response's raters together, by id
    flat = np.ravel_multi_index([sj.rubric, sj.dimension, sj.unit, sj.rater],
                                [len(sj.rubrics), len(sj.dimensions), sj.n_units, sj.n_raters])
    assert np.all(np.diff(flat) > 0)
    # clusters: per item as stored
    items = {i.id: i.cluster for i in store.iter(R.Item)}
    for code, name in enumerate(sj.items):
        c = sj.cluster_of_item[code]
        assert (sj.clusters[c] if c >= 0 else None) == items[name]


def test_a_clean_store_is_read_without_the_general_path_and_an_edited_one_with_it(store, monkeypatch):
    """No correction and no repeated judgment: one narrow read; otherwise judgment_codes applies the rules."""
    _build(store)
    calls = []
    real = frames.judgment_codes
    monkeypatch.setattr(frames, "judgment_codes", lambda *a, **k: calls.append(k) or real(*a, **k))
    scored_judgments(store, models=MODELS)
    assert calls == []
    _correct_and_repeat(store)
    scored_judgments(store, models=MODELS)
    assert len(calls) == 1


def test_unit_rank_orders_responses_by_id(store):
    _build(store)
    sj = scored_judgments(store, models=MODELS)
    ids = sj.unit_ids.to_pylist()
    assert [ids[k] for k in np.argsort(sj.unit_rank())] == sorted(ids)
