"""The A/B test per dataset partition, summaries merged, equals the one-pass A/B test, on both stores.

On PostgreSQL this is the partition-by-dataset path: one query per dataset, merged on the driver.
"""

from __future__ import annotations

import numpy as np
import pytest

from assay import records as R
from assay.analysis.abtest import ABSettings, compare_models
from assay.analysis.options import Options, Selection
from assay.analysis.sharded import Sharding, compare_models_sharded, store_datasets
from assay.errors import BadInput
from assay.rubrics import add_rubric

A, B = "base@1", "cand@1"
METHODS = ("t", "bootstrap", "permutation", "wilcoxon", "sign")


def build_shards(store, *, seed: int = 0, datasets: int = 3, n: int = 24, prompt_only: bool = False) -> None:
    """Datasets of items answered by A and B (1-2 samples), scored by two judges on two dimensions.

    The first dataset's items carry cluster keys (the others do not); with ``prompt_only``
    A and B answer separately stored items that share prompt texts, so pairing is by prompt.
    """
    rng = np.random.default_rng(seed)
    add_rubric(store, R.Rubric(name="ab", version=1, dimensions=[
        R.Dimension(name="quality", description="q", scale=R.Scale(kind="continuous", min=-100, max=100)),
        R.Dimension(name="errors", description="e", scale=R.Scale(kind="ordinal", levels=[
            R.Level(value=v, label=str(v), anchor=f"{v} errors") for v in range(1, 6)]),
                    direction="lower_is_better")]))
    judges = [R.Rater(id=f"llm:judge{j}:x", kind="llm", name=f"judge{j}") for j in range(2)]
    recs: list[R.Record] = [*judges, R.Model(id=A, provider="none"), R.Model(id=B, provider="none")]
    for d in range(datasets):
        name = f"ds{d}"
        recs.append(R.Dataset(name=name))
        for i in range(n - 3 * d):
            def item(tag: str) -> R.Item:
                return R.Item(id=R.Item.make_id(name, f"{tag}{i}", None, None), dataset=name, external_id=f"{tag}{i}",
                              prompt=f"{name} question {i}", cluster=f"c{i % 4}" if d == 0 else None)
            own = {A: item("a"), B: item("b")} if prompt_only else dict.fromkeys((A, B), item(""))
            recs.extend({it.id: it for it in own.values()}.values())
            base = rng.normal(0, 1)
            if not prompt_only:  # the two judges' preferences between the first samples
                pair = [R.Response.make_id(own[A].id, m, 0) for m in ((A, B) if i % 2 else (B, A))]
                for jn, j in enumerate(judges):
                    u = rng.random()
                    kw = {"outcome": "tie"} if u < 0.2 else {"winner": pair[int(u < 0.6)]}
                    where = {"rubric": "ab@1", "dimension": "quality"} if (i + jn) % 3 == 0 else {}
                    recs.append(R.Comparison(item_id=own[A].id, rater_id=j.id, response_ids=pair, shown_order=pair,
                                             **where, **kw))
            for model, it in own.items():
                for s in range(1 + (i + d) % 2):
                    resp = R.Response(id=R.Response.make_id(it.id, model, s), item_id=it.id, model=model,
                                      sample_index=s, text=f"{model} {i} {s}")
                    recs.append(resp)
                    for j in judges:
                        v = base + (0.4 if model == B else 0.0) + rng.normal(0, 1)
                        recs.append(R.Judgment(response_id=resp.id, rater_id=j.id, rubric="ab@1", dimension="quality",
                                               value=float(v)))
                        recs.append(R.Judgment(response_id=resp.id, rater_id=j.id, rubric="ab@1", dimension="errors",
                                               value=float(rng.integers(1, 6))))
    store.add(recs)


def _same(local: dict, sharded: dict) -> None:
    shards = sharded.pop("shards")
    assert shards["by"] == "dataset"
    assert sharded == local  # every figure, exactly (NaN-free reports: plain equality)


@pytest.mark.parametrize("method", METHODS)
def test_per_dataset_equals_one_pass(store, method):
    build_shards(store, seed=1)
    assert store_datasets(store) == ["ds0", "ds1", "ds2"]
    options = Options(random_state=3, cluster=method != "wilcoxon")
    local = compare_models(store, A, B, options=options, method=method)
    sharded = compare_models_sharded(store, A, B, options=options, test=ABSettings(method=method),
                                     sharding=Sharding(executor="partitioned"))
    assert sharded["shards"]["count"] == 3
    _same(local, sharded)
    prefs = {p["dimension"]: p for p in local["preferences"]}
    assert set(prefs) == {None, "quality"} and all("error" not in p for p in prefs.values())
    assert sum(p["comparisons"] for p in prefs.values()) == 2 * (24 + 21 + 18)
    secs = {s["dimension"]: s for s in local["dimensions"]}
    assert secs["quality"]["n"] == 24 + 21 + 18 and "error" not in secs["quality"]
    if method != "wilcoxon":  # ds0's items have 4 clusters; the rest are their own clusters
        assert secs["quality"]["n_clusters"] == 4 + 21 + 18


def test_per_dataset_with_a_selection_and_prompt_pairing(store):
    build_shards(store, seed=2, prompt_only=True)
    select = Selection(rubric="ab@1", dimensions=["quality"], raters=["llm:judge0:x"])
    local = compare_models(store, A, B, select=select, method="bootstrap")
    assert local["pair_by"] == "prompt" and local["dimensions"][0]["n"] == 63
    _same(local, compare_models_sharded(store, A, B, select=select, test=ABSettings(method="bootstrap")))


def test_a_shard_that_pairs_by_prompt_is_redone_when_another_pairs_by_item(store):
    """Auto pairing is decided over the whole store: one dataset with shared items makes it "item" everywhere."""
    build_shards(store, seed=3, datasets=2)
    recs: list[R.Record] = [R.Dataset(name="zz")]
    for i in range(5):  # separately stored items with one prompt: only prompt pairing would match them
        for model in (A, B):
            it = R.Item(id=R.Item.make_id("zz", f"{model}{i}", None, None), dataset="zz", external_id=f"{model}{i}",
                        prompt=f"zz {i}")
            resp = R.Response(id=R.Response.make_id(it.id, model, 0), item_id=it.id, model=model, sample_index=0,
                              text="t")
            recs += [it, resp, R.Judgment(response_id=resp.id, rater_id="llm:judge0:x", rubric="ab@1",
                                          dimension="quality", value=float(i + (model == B)))]
    store.add(recs)
    local = compare_models(store, A, B)
    assert local["pair_by"] == "item"
    _same(local, compare_models_sharded(store, A, B))
    # and the same store paired by prompt on purpose: the zz prompts now count
    by_prompt = compare_models(store, A, B, pair_by="prompt")
    quality = [[s["n"] for s in r["dimensions"] if s["dimension"] == "quality"] for r in (by_prompt, local)]
    assert quality == [[24 + 21 + 5], [24 + 21]]
    _same(by_prompt, compare_models_sharded(store, A, B, test=ABSettings(pair_by="prompt")))


def test_sharded_reads_the_selected_datasets_and_refuses_an_unknown_executor(store):
    build_shards(store, datasets=2, n=4)
    only = compare_models_sharded(store, A, B, select=Selection(datasets=["ds0"]))
    assert only["shards"]["count"] == 1
    assert [s["n"] for s in only["dimensions"] if s["dimension"] == "quality"] == [4]
    with pytest.raises(BadInput, match="executor"):
        compare_models_sharded(store, A, B, sharding=Sharding(executor="spark"))


def test_means_add_in_one_order_whatever_the_read_order(store):
    """Float means over several samples and raters: the sums must not depend on the order a query returns
    rows in (a per-dataset read goes through other indexes than the whole store's), or the last bits differ."""
    rng = np.random.default_rng(11)
    raters = [R.Rater(id=f"human:h{j}", kind="human", name=f"h{j}") for j in range(4)]
    add_rubric(store, R.Rubric(name="ab", version=1, dimensions=[
        R.Dimension(name="quality", description="q", scale=R.Scale(kind="continuous", min=-100, max=100))]))
    recs: list[R.Record] = [*raters, R.Model(id=A, provider="none"), R.Model(id=B, provider="none")]
    judgments = []
    for d in range(3):
        recs.append(R.Dataset(name=f"d{d}"))
        for i in range(15):
            it = R.Item(id=R.Item.make_id(f"d{d}", str(i), None, None), dataset=f"d{d}", external_id=str(i),
                        prompt=f"{d} {i}")
            recs.append(it)
            for model in (A, B):
                for s in range(5):
                    resp = R.Response(id=R.Response.make_id(it.id, model, s), item_id=it.id, model=model,
                                      sample_index=s, text="t")
                    recs.append(resp)
                    judgments += [R.Judgment(response_id=resp.id, rater_id=r.id, rubric="ab@1", dimension="quality",
                                             value=float(rng.normal(0, 1) * 10.0 ** rng.integers(-3, 4)))
                                  for r in raters]
    rng.shuffle(judgments)  # stored in an order unrelated to ids
    store.add(recs)
    store.add(judgments)
    local = compare_models(store, A, B, method="bootstrap")
    _same(local, compare_models_sharded(store, A, B, test=ABSettings(method="bootstrap")))
