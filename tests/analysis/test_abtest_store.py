"""A/B tests over the store on constructed data with known truth: planted effects, A = B, clusters, pilots."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from assay import records as R
from assay.analysis.abtest import compare_models, paired_scores, plan, plan_from_pilot, preference_test
from assay.analysis.options import Options, Selection
from assay.rubrics import add_rubric

A, B = "base@1", "cand@1"
Z80 = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)


def build_ab(store, *, n: int = 80, effects: dict[str, float] | None = None, k: int = 1, raters: int = 1,
             n_clusters: int | None = None, cluster_sd: float = 0.0, noise: float = 1.0, seed: int = 0,
             lower_is_better: tuple[str, ...] = ()) -> pd.DataFrame:
    """Store items answered by A and B (k samples each) and scored by `raters` judges; return every value."""
    effects = effects if effects is not None else {"factuality": 0.5, "creativity": 0.0}
    rng = np.random.default_rng(seed)
    add_rubric(store, R.Rubric(name="ab", version=1, dimensions=[
        R.Dimension(name=d, description=d, scale=R.Scale(kind="continuous", min=-100, max=100),
                    direction="lower_is_better" if d in lower_is_better else "higher_is_better")
        for d in effects]))
    judges = [R.Rater(id=f"llm:judge{j}:x", kind="llm", name=f"judge{j}") for j in range(raters)]
    recs: list[R.Record] = [R.Dataset(name="ab"), *judges, R.Model(id=A, provider="none"),
                            R.Model(id=B, provider="none")]
    shift = rng.normal(0, cluster_sd, n_clusters or 1)
    rows = []
    for i in range(n):
        c = i % n_clusters if n_clusters else None
        item = R.Item(id=R.Item.make_id("ab", str(i), None, None), dataset="ab", external_id=str(i), prompt=f"q{i}",
                      cluster=None if c is None else f"c{c}")
        recs.append(item)
        base = {d: rng.normal(0, 1) for d in effects}
        for model in (A, B):
            for s in range(k):
                resp = R.Response(id=R.Response.make_id(item.id, model, s), item_id=item.id, model=model,
                                  sample_index=s, text=f"{model} on q{i} #{s}")
                recs.append(resp)
                for d, eff in effects.items():
                    true = base[d] + (eff + (shift[c] if c is not None else 0.0) if model == B else 0.0)
                    sample = true + rng.normal(0, noise)
                    for j in judges:
                        v = float(sample + rng.normal(0, 0.1))
                        recs.append(R.Judgment(response_id=resp.id, rater_id=j.id, rubric="ab@1", dimension=d,
                                               value=v))
                        rows.append({"item": str(i), "cluster": c, "model": model, "sample": s, "rater": j.id,
                                     "dimension": d, "value": v})
    store.add(recs)
    return pd.DataFrame(rows)


def expected_pairs(values: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """Mean over raters per sample, then over samples, per item: the documented rule, computed by hand."""
    v = values[values["dimension"] == dimension]
    per_sample = v.groupby(["item", "model", "sample"])["value"].mean()
    per_item = per_sample.groupby(["item", "model"]).mean().unstack("model")
    return per_item.rename(columns={A: "a", B: "b"})


def test_planted_effect_is_found_and_equal_models_get_the_mde(store):
    values = build_ab(store, n=80, effects={"factuality": 0.6, "creativity": 0.0}, k=2, raters=2, seed=4)
    rep = compare_models(store, A, B, select=Selection(rubric="ab@1"))
    secs = {s["dimension"]: s for s in rep["dimensions"]}
    fact, crea = secs["factuality"], secs["creativity"]
    exp = expected_pairs(values, "factuality")
    d = (exp["b"] - exp["a"]).to_numpy()
    assert fact["n"] == 80 and fact["k_a"] == 2 and fact["k_b"] == 2
    assert fact["estimate"] == pytest.approx(d.mean(), abs=1e-9)
    assert fact["se"] == pytest.approx(d.std(ddof=1) / math.sqrt(80), abs=1e-9)
    assert fact["estimate"] > 0 and fact["ci_low"] > 0
    assert fact["p_adjusted"] < 0.05 and fact["verdict"].startswith(f"{B} is better on factuality: +")
    # A = B: no detectable difference, with the MDE at this n computed from the data by hand
    dc = (expected_pairs(values, "creativity")["b"] - expected_pairs(values, "creativity")["a"]).to_numpy()
    mde = Z80 * dc.std(ddof=1) / math.sqrt(80)
    assert crea["ci_low"] < 0 < crea["ci_high"]
    assert crea["mde"] == pytest.approx(mde, rel=1e-9)
    assert crea["verdict"] == (f"no detectable difference on creativity "
                               f"(the minimum detectable effect at this n is {mde:.2f} points)")
    # Holm over two dimensions: the smaller p doubled, the larger at least itself
    ps = sorted([fact["pvalue"], crea["pvalue"]])
    assert min(fact["p_adjusted"], crea["p_adjusted"]) == pytest.approx(min(1.0, 2 * ps[0]))
    assert max(fact["p_adjusted"], crea["p_adjusted"]) >= ps[1]
    # swapping A and B swaps the sign
    rev = {s["dimension"]: s for s in compare_models(store, B, A, select=Selection(rubric="ab@1"))["dimensions"]}
    assert rev["factuality"]["estimate"] == pytest.approx(-fact["estimate"])
    assert rev["factuality"]["verdict"].startswith(f"{B} is better on factuality: -")


@pytest.mark.parametrize("method", ["bootstrap", "permutation", "wilcoxon", "sign"])
def test_every_method_finds_a_planted_effect(store, method):
    build_ab(store, n=60, effects={"factuality": 1.0}, seed=2, noise=0.5)
    sec = compare_models(store, A, B, method=method, preferences=False)["dimensions"][0]
    assert sec["method"] == method and sec["p_adjusted"] < 0.01
    assert sec["ci_low"] > (0.5 if method == "sign" else 0.0)


def test_lower_is_better_dimension_reads_the_right_way(store):
    build_ab(store, n=60, effects={"harm": 1.0}, seed=5, lower_is_better=("harm",))
    sec = compare_models(store, A, B)["dimensions"][0]
    assert sec["estimate"] > 0 and sec["lower_is_better"]
    assert sec["verdict"].startswith(f"{A} is better on harm (lower is better): +")


def test_clustered_items_change_the_standard_error(store):
    values = build_ab(store, n=120, effects={"factuality": 0.2}, n_clusters=12, cluster_sd=0.8, seed=7)
    clustered = compare_models(store, A, B, preferences=False)["dimensions"][0]
    naive = compare_models(store, A, B, preferences=False, options=Options(cluster=False))["dimensions"][0]
    exp = expected_pairs(values, "factuality")
    d = (exp["b"] - exp["a"])
    cl = values.drop_duplicates("item").set_index("item")["cluster"].reindex(d.index)
    resid = (d - d.mean()).groupby(cl).sum().to_numpy()
    g = len(resid)
    cr1 = math.sqrt(g / (g - 1) * np.sum(resid**2)) / len(d)  # Miller 2024 eq. 4 with CR1
    assert clustered["n_clusters"] == 12 and naive["n_clusters"] is None
    assert clustered["se"] == pytest.approx(cr1, rel=1e-9)
    assert naive["se"] == pytest.approx(d.std(ddof=1) / math.sqrt(len(d)), rel=1e-9)
    assert clustered["se"] > 1.5 * naive["se"]  # shared cluster shifts: the naive SE is too small
    assert clustered["naive_se"] == pytest.approx(naive["se"])


def test_pairs_only_items_scored_for_both_and_respect_the_rater_filter(store):
    values = build_ab(store, n=30, effects={"factuality": 0.0}, raters=2, seed=1)
    one = paired_scores(store, A, B, select=Selection(raters=["llm:judge0:x"]))
    exp = expected_pairs(values[values["rater"] == "llm:judge0:x"], "factuality")
    got = one.set_index(one["key"].map({R.Item.make_id("ab", str(i), None, None): str(i) for i in range(30)}))
    assert np.allclose(got.loc[exp.index, "a"], exp["a"]) and np.allclose(got.loc[exp.index, "b"], exp["b"])
    # an item only A answered does not enter
    item = R.Item(id=R.Item.make_id("ab", "solo", None, None), dataset="ab", external_id="solo", prompt="solo")
    resp = R.Response(id=R.Response.make_id(item.id, A, 0), item_id=item.id, model=A, text="x")
    store.add([item, resp, R.Judgment(response_id=resp.id, rater_id="llm:judge0:x", rubric="ab@1",
                                      dimension="factuality", value=3.0)])
    assert len(paired_scores(store, A, B)) == 30


def _comparisons(store, votes: list[list[str]], *, n_clusters: int | None = None) -> None:
    """votes[i]: each rater's verdict on item i: 'a', 'b' or 'tie'."""
    recs: list[R.Record] = [R.Dataset(name="pref"), R.Model(id=A, provider="none"), R.Model(id=B, provider="none")]
    raters = max(len(v) for v in votes)
    recs += [R.Rater(id=f"human:r{j}", kind="human", name=f"r{j}") for j in range(raters)]
    for i, vs in enumerate(votes):
        item = R.Item(id=R.Item.make_id("pref", str(i), None, None), dataset="pref", external_id=str(i),
                      prompt=f"p{i}", cluster=None if n_clusters is None else str(i % n_clusters))
        ra = R.Response(id=R.Response.make_id(item.id, A, 0), item_id=item.id, model=A, text="a")
        rb = R.Response(id=R.Response.make_id(item.id, B, 0), item_id=item.id, model=B, text="b")
        recs += [item, ra, rb]
        order = [ra.id, rb.id] if i % 2 else [rb.id, ra.id]  # A is first on half the items
        for j, v in enumerate(vs):
            kw = {"outcome": "tie"} if v == "tie" else {"winner": ra.id if v == "a" else rb.id}
            recs.append(R.Comparison(item_id=item.id, rater_id=f"human:r{j}", response_ids=order,
                                     shown_order=order, **kw))
    store.add(recs)


def test_preferences_get_the_sign_test_and_a_win_rate(store):
    votes = [["b"]] * 30 + [["a"]] * 12 + [["tie"]] * 6 + [["b", "a", "a"]] * 4 + [["b", "a"]] * 2
    _comparisons(store, votes)
    (sec,) = preference_test(store, A, B)
    # per item: the sign of the vote sum; [b, a, a] is an A win, [b, a] a tie
    wins_b, wins_a, ties = 30, 12 + 4, 6 + 2
    assert (sec["wins_b"], sec["wins_a"], sec["ties"]) == (wins_b, wins_a, ties)
    assert sec["items"] == 54 and sec["comparisons"] == 30 + 12 + 6 + 12 + 4
    assert sec["pvalue"] == pytest.approx(stats.binomtest(wins_b, wins_a + wins_b).pvalue)
    rate = (wins_b + 0.5 * ties) / 54
    assert sec["win_rate_b"] == pytest.approx(rate)
    assert sec["ci_low"] < rate < sec["ci_high"]
    assert stats.binomtest(wins_b, wins_a + wins_b).pvalue > 0.05  # 30 against 16 is not yet significant
    assert sec["verdict"].startswith("no detectable difference on the pairwise comparisons")
    # and through compare_models, beside (no) rubric scores
    rep = compare_models(store, A, B)
    assert rep["dimensions"] == [] and rep["preferences"][0]["wins_b"] == wins_b


def test_plan_reproduces_miller_and_the_k_table():
    p = plan(0.03, omega2=1 / 9, k_a=math.inf, k_b=math.inf)
    assert p["n"] == 969
    q = plan(0.03, omega2=1 / 9, sigma2_a=0.2, sigma2_b=0.2)
    ns = [r["n"] for r in q["table"]]
    z2 = Z80**2
    assert ns == [math.ceil(z2 * (1 / 9 + 0.4 / k) / 0.03**2 - 1e-9) for k in (1, 2, 4, 8)] + [969]
    assert ns == sorted(ns, reverse=True)


def test_plan_from_pilot_estimates_variance_components(store):
    values = build_ab(store, n=50, effects={"factuality": 0.3}, k=4, noise=1.0, seed=9)
    out = plan_from_pilot(store, A, B, mde=0.2, select=Selection(rubric="ab@1", dimensions=["factuality"]))
    v = values[values["dimension"] == "factuality"]
    per = v.pivot_table(index=["item", "sample"], columns="model", values="value")
    var_a = per[A].groupby("item").var(ddof=1).mean()
    var_b = per[B].groupby("item").var(ddof=1).mean()
    d = per[B].groupby("item").mean() - per[A].groupby("item").mean()
    omega2 = max(0.0, d.var(ddof=1) - (var_a / 4 + var_b / 4))
    pil = out["pilot"]
    assert (pil["n"], pil["k_a"], pil["k_b"]) == (50, 4.0, 4.0)
    assert pil["sigma2_a"] == pytest.approx(var_a) and pil["sigma2_b"] == pytest.approx(var_b)
    assert pil["omega2"] == pytest.approx(omega2)
    assert out["k_a"] == 4 and out["n"] == math.ceil(Z80**2 * (omega2 + var_a / 4 + var_b / 4) / 0.04 - 1e-9)
    # the sampling noise is ~1 per sample: more samples per item must save items
    assert out["table"][0]["n"] > out["table"][2]["n"]


def test_a_pilot_run_resolves_to_its_two_models(store):
    from assay.analysis.abtest import resolve_run_models
    from assay.errors import BadInput, NotFound

    build_ab(store, n=10, effects={"factuality": 0.0}, seed=0)
    item = R.Item(id=R.Item.make_id("ab", "run", None, None), dataset="ab", external_id="run", prompt="r")
    recs: list[R.Record] = [item, R.Run(id="gen1", kind="generate"), R.Run(id="gen2", kind="generate")]
    recs += [R.Response(id=R.Response.make_id(item.id, m, 0), item_id=item.id, model=m, text="t", run_id="gen1")
             for m in (B, A)]
    recs.append(R.Response(id=R.Response.make_id(item.id, A, 1), item_id=item.id, model=A, sample_index=1,
                           text="t", run_id="gen2"))
    store.add(recs)
    assert resolve_run_models(store, "gen1") == (A, B)
    with pytest.raises(BadInput, match="1 models"):
        resolve_run_models(store, "gen2")
    with pytest.raises(NotFound):
        resolve_run_models(store, "nope")


def _plain_paired_scores(store, model_a, model_b, pair_by, per_sample):
    """paired_scores' rule on judgments_frame with pandas group-bys: what the coded path must give."""
    from assay.analysis.frames import judgments_frame
    from assay.analysis.ranking import pair_keys

    jf = judgments_frame(store, texts=False)
    jf = jf[jf["model"].isin([model_a, model_b]) & jf["value"].notna()].astype({"value": float})
    resp = jf.groupby(["rubric", "dimension", "unit", "item_id", "model"], as_index=False)["value"].mean()
    resp = resp.join(pair_keys(store, resp["item_id"].unique(), pair_by), on="item_id")
    per = resp.sort_values("unit").groupby(["rubric", "dimension", "key", "model"]).agg(
        value=("value", list if per_sample else "mean"), k=("unit", "nunique"), cluster=("cluster", "first"),
        has_cluster=("has_cluster", "first")).reset_index()
    a = per[per["model"] == model_a].drop(columns="model")
    b = per[per["model"] == model_b].drop(columns=["model", "cluster", "has_cluster"])
    both = a.merge(b, on=["rubric", "dimension", "key"], suffixes=("_a", "_b"))
    both = both.rename(columns={"value_a": "a", "value_b": "b"})
    return both.sort_values(["rubric", "dimension", "key"]).reset_index(drop=True)[
        ["rubric", "dimension", "key", "a", "b", "k_a", "k_b", "cluster", "has_cluster"]]


@pytest.mark.parametrize("per_sample", [False, True])
def test_paired_scores_on_codes_equal_the_plain_group_bys(store, per_sample):
    """Prompt pairing across separately stored items, clusters on some, several samples and raters, a third
    model and a value-less judgment left out: the coded computation gives the plain pandas one."""
    rng = np.random.default_rng(3)
    add_rubric(store, R.Rubric(name="ab", version=1, dimensions=[
        R.Dimension(name=d, description=d, scale=R.Scale(kind="continuous", min=-100, max=100))
        for d in ("x", "y")]))
    judges = [R.Rater(id=f"llm:j{j}:x", kind="llm", name=f"j{j}") for j in range(3)]
    recs: list[R.Record] = [R.Dataset(name="ab"), *judges, *(R.Model(id=m, provider="none") for m in (A, B, "c@1"))]
    for i in range(40):
        for model in (A, B, "c@1"):  # each model's own copy of the prompt (pairing needs the text)
            item = R.Item(id=f"it-{model}-{i}", dataset="ab", prompt=f"prompt {i % 30}",
                          cluster=(f"c{i % 4}" if model == A else None) if i % 3 else None)
            recs.append(item)
            for s in range(1 + i % 3):
                resp = R.Response(id=f"r-{model}-{i}-{s}", item_id=item.id, model=model, sample_index=s, text="t")
                recs.append(resp)
                for d in ("x", "y"):
                    for j in judges[: 1 + (i + s) % 3]:
                        value = None if (i, s, d) == (5, 0, "y") else float(rng.normal())
                        recs.append(R.Judgment(response_id=resp.id, rater_id=j.id, rubric="ab@1", dimension=d,
                                               value=value, label=None if value is not None else "n/a"))
    store.add(recs)
    got = paired_scores(store, A, B, pair_by="prompt", per_sample=per_sample)
    want = _plain_paired_scores(store, A, B, "prompt", per_sample)
    assert got.attrs["pair_by"] == "prompt" and len(got) == 60
    assert list(got.columns) == list(want.columns)
    for col in ("rubric", "dimension", "key", "k_a", "k_b", "cluster", "has_cluster"):
        assert list(got[col]) == list(want[col]), col
    for col in ("a", "b"):
        if per_sample:
            assert all(np.allclose(x, y, rtol=1e-12) for x, y in zip(got[col], want[col]))
        else:
            assert np.allclose(got[col], want[col], rtol=1e-12)
    assert got["has_cluster"].any() and not got["has_cluster"].all()
