"""judge-report on a continuous scale: interval alpha and Spearman, no kappa or confusion over raw numbers."""

from __future__ import annotations

import numpy as np
import pytest

from assay import records as R
from assay.bundled import hanna_rubric
from assay.analysis.judge_trust import judge_report
from assay.rubrics import add_rubric
from assay.stats.agreement import krippendorff_alpha


def test_continuous_scale_judge_against_humans(store):
    rub = hanna_rubric()
    add_rubric(store, rub)
    rng = np.random.default_rng(3)
    truth = rng.uniform(1, 5, 30)
    human = np.round(truth + rng.normal(0, 0.3, 30), 3)
    judge = np.round(truth * 0.5 + 1 + rng.normal(0, 0.3, 30), 3)  # correlated but on a shifted scale
    store.add([R.Dataset(name="d"), R.Model(id="m@1")])
    store.add([R.Item(id=f"i{k}", dataset="d", prompt=f"p{k}") for k in range(30)])
    store.add([R.Response(id=f"r{k}", item_id=f"i{k}", model="m@1", text="t") for k in range(30)])
    store.add([R.Rater(id="human:h", kind="human", name="h"), R.Rater(id="llm:j", kind="llm", name="j", model="m@1")])
    store.add([R.Judgment(id=f"{who}{k}", response_id=f"r{k}", rater_id=rid, rubric=rub.id, dimension="coherence",
                          value=float(v[k])) for who, rid, v in (("h", "human:h", human), ("j", "llm:j", judge))
               for k in range(30)])
    rep = judge_report(store, "llm:j", rubric=rub.id)
    (dim,) = rep["rubric"]
    vs = dim["agreement"]["judge_vs_majority"]
    assert vs["kappa"] is None and "confusion" not in dim["agreement"]
    assert vs["alpha"] == pytest.approx(krippendorff_alpha([judge, human], level="interval"))
    from scipy.stats import spearmanr

    assert vs["spearman"] == pytest.approx(spearmanr(judge, human).statistic)
    assert vs["spearman"] > 0.7 and vs["alpha"] < vs["spearman"]  # rank agreement high, values offset
