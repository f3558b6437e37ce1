"""Comparisons read as coded columns give what the row path (comparisons_frame) gives, and so the same ranking."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from assay import records as R
from assay.analysis.comparison_columns import comparison_codes, first_rows
from assay.analysis.frames import comparisons_frame
from assay.analysis.options import Options, Selection
from assay.analysis.ranking import BattleRules, RatingFit, comparison_battles, rank_models
from assay.errors import BadInput
from assay.stats.ranking import Bootstrap, bootstrap_ratings

RATERS = ["human:ann", "human:bob", "human:cy", "llm:judge:x"]
OUTCOME = {"first": "model_a", "second": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"}


def _store_with_comparisons(store, seed: int = 0, n: int = 400) -> None:
    """Random comparisons with every case: both orders of a pair, ties, both bad, strengths, corrections,
    three-way rankings, two samples of one model, timestamps out of id order and equal timestamps."""
    rng = np.random.default_rng(seed)
    recs: list[R.Record] = [R.Dataset(name="d"), *(R.Model(id=f"m{k}@1", provider="none") for k in range(4)),
                            *(R.Rater(id=r, kind=r.split(":")[0], name=r.split(":")[1]) for r in RATERS)]
    responses: dict[str, list[str]] = {}
    for i in range(6):
        item = R.Item(id=R.Item.make_id("d", f"q{i}", None, None), dataset="d", external_id=f"q{i}", prompt=f"q{i}")
        recs.append(item)
        for k in range(4):
            for sample in range(2 if (i == 0 and k == 0) else 1):  # two samples of m0 on q0: same-model pairs
                r = R.Response(id=R.Response.make_id(item.id, f"m{k}@1", sample), item_id=item.id, model=f"m{k}@1",
                               sample_index=sample, text="x" * (k + 1))
                recs.append(r)
                responses.setdefault(item.id, []).append(r.id)
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    made: list[R.Comparison] = []
    for j in range(n):
        item = list(responses)[int(rng.integers(0, 6))]
        k = 3 if rng.random() < 0.05 else 2
        ids = [responses[item][x] for x in rng.choice(len(responses[item]), size=k, replace=False)]
        rater = RATERS[int(rng.integers(0, len(RATERS)))]
        u = rng.random()
        outcome = "win" if u < 0.7 else ("tie" if u < 0.9 else "both_bad")
        winner = ids[int(rng.integers(0, k))] if outcome == "win" else None
        fields = dict(item_id=item, rater_id=rater, response_ids=ids, shown_order=ids[::-1], outcome=outcome,
                      winner=winner, ranking=ids if k == 3 and outcome == "win" else None,
                      strength=[None, 1, 2][int(rng.integers(0, 3))] if outcome == "win" else None,
                      # equal timestamps in pairs, and ids that do not sort by time
                      created_at=t0 + timedelta(seconds=int(rng.integers(0, n // 2))),
                      id=f"c{int(rng.integers(0, 10**9)):09d}-{j}")
        if made and rng.random() < 0.05:  # a correction of an earlier comparison by the same rater on the same pair
            old = made[int(rng.integers(0, len(made)))]
            fields.update(item_id=old.item_id, rater_id=old.rater_id, response_ids=old.response_ids,
                          shown_order=old.shown_order, ranking=old.ranking if fields["ranking"] else None,
                          winner=old.response_ids[0] if outcome == "win" else None, supersedes=old.id,
                          created_at=old.created_at + timedelta(seconds=1))
            if len(old.response_ids) == 3 and outcome == "win":
                fields["ranking"] = old.response_ids
        made.append(R.Comparison(**fields))
    store.add(recs + made)


def row_path_battles(store, *, raters=None, one_per_rater=False, aggregate="separate") -> pd.DataFrame:
    """The battles as the ranking built them from comparisons_frame's rows (before the column path)."""
    df = comparisons_frame(store, raters=raters, latest_only=one_per_rater)
    model = {r.id: r.model for r in store.iter(R.Response)}
    out = pd.DataFrame({
        "item_id": df["item_id"], "unit": df["unit"], "model_a": df["first"].map(model),
        "model_b": df["second"].map(model), "winner": df["label"].map(OUTCOME), "response_a": df["first"],
        "response_b": df["second"], "rater": df["rater"], "votes": 1,
        "strength": pd.to_numeric(df["strength"], errors="coerce").where(df["outcome"] == "win"),
    })
    out = out[out["model_a"] != out["model_b"]]
    if aggregate == "majority":
        votes = out.groupby(["unit", "winner"]).size().unstack(fill_value=0)
        top = votes.max(axis=1)
        winner = votes.idxmax(axis=1).where(votes.eq(top, axis=0).sum(axis=1) == 1, "tie")
        first = out.drop_duplicates("unit").set_index("unit")
        out = first.assign(winner=winner, rater="majority", votes=votes.sum(axis=1), strength=np.nan).reset_index()
    return out.drop(columns="unit").reset_index(drop=True)


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    cols = ["item_id", "model_a", "model_b", "winner", "response_a", "response_b", "rater", "votes", "strength"]
    out = df[cols].astype({c: object for c in cols if c not in ("votes", "strength")})
    return out.astype({"votes": np.int64, "strength": float}).reset_index(drop=True)


@pytest.mark.parametrize("options", [
    {}, {"one_per_rater": True}, {"aggregate": "majority"}, {"raters": ["human:ann", "human:cy"]},
    {"raters": ["llm:judge:x"], "one_per_rater": True},
])
def test_column_battles_are_the_row_path_battles_in_the_same_order(store, options):
    _store_with_comparisons(store)
    want = row_path_battles(store, **options)
    got = comparison_battles(store, **options)
    assert len(want) > 20
    pd.testing.assert_frame_equal(_plain(got), _plain(want))
    stored = comparisons_frame(store, raters=options.get("raters"), latest_only=options.get("one_per_rater", False))
    counts = got.attrs["comparisons"]
    assert counts["stored"] == stored.attrs["counts"]["stored"]
    assert counts["dropped"]["superseded"] == stored.attrs["counts"]["dropped"]["superseded"] > 0
    assert counts["dropped"]["three_or_more_responses"] == stored.attrs["counts"]["dropped"]["three_or_more_responses"] > 0
    assert counts["dropped"]["same_model"] > 0 and counts["used"] == len(stored) - counts["dropped"]["same_model"]


def test_the_ranking_is_the_row_path_ranking(store):
    """Same battles in the same order: the same leaderboard, intervals included, for the same seed."""
    _store_with_comparisons(store, seed=3, n=600)
    want = bootstrap_ratings(row_path_battles(store), bootstrap=Bootstrap(rounds=200, random_state=5), l2=0.1)
    got = rank_models(store, comparisons=True, options=Options(rounds=200, random_state=5),
                      fit=RatingFit(l2=0.1))
    pd.testing.assert_frame_equal(got.ratings.leaderboard, want.leaderboard, check_names=False, atol=1e-9, rtol=0)


def test_codes_name_first_by_the_earliest_comparison_of_any_rater(store):
    """With a rater selected, 'first' still follows the pair's earliest comparison by anyone."""
    _store_with_comparisons(store, seed=1)
    for raters in (["human:bob"], None):
        got = comparison_codes(store, raters=raters, latest_only=False)
        want = comparisons_frame(store, raters=raters, latest_only=False)
        assert list(got["first"].astype(object)) == list(want["first"])
        assert list(got["label"].astype(object)) == list(want["label"])
        assert list(got["rater"].astype(object)) == list(want["rater"])


def test_a_store_in_memory_gives_the_same_battles():
    from assay.store import Store

    with Store("sqlite://") as mem:
        _store_with_comparisons(mem, n=120)
        pd.testing.assert_frame_equal(_plain(comparison_battles(mem)), _plain(row_path_battles(mem)))


def test_no_comparisons_and_unknown_outcomes(store):
    out = comparison_codes(store)
    assert out.empty and out.attrs["counts"]["stored"] == 0
    _store_with_comparisons(store, n=30)
    store.add_rows("comparisons", [{"id": "odd", "item_id": store.list(R.Item)[0].id, "rater_id": RATERS[0],
                                    "response_ids": ["a", "b"], "shown_order": ["a", "b"], "outcome": "a",
                                    "justification": "", "flags": [], "detail": {},
                                    "created_at": datetime.now(timezone.utc)}])
    with pytest.raises(BadInput, match="outcome 'a'"):
        comparison_codes(store)


def test_first_rows_finds_where_each_code_first_appears():
    codes = pd.factorize(np.array([5, 5, 2, 5, 9, 2, 7]))[0]
    assert first_rows(codes).tolist() == [0, 2, 4, 6]
    assert first_rows(np.zeros(0, dtype=np.int64)).tolist() == []


def test_rank_by_majority_reads_the_same_battles(store):
    _store_with_comparisons(store, seed=2)
    lb = rank_models(store, comparisons=True, select=Selection(raters=RATERS[:3]), options=Options(rounds=50),
                     battles=BattleRules(aggregate="majority"))
    want = row_path_battles(store, raters=RATERS[:3], aggregate="majority")
    assert len(lb.battles) == len(want) and (lb.battles["votes"].to_numpy() == want["votes"].to_numpy()).all()
