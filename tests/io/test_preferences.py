"""Preference exports: every format on constructed data with known rows and on PandaLM; filters; manifest;
the files load with `datasets` and carry exactly TRL's documented fields."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from assay import records as R
from assay.errors import BadInput
from assay.io.preferences import FORMATS, PreferenceFilters, build_preferences, export_preferences

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
H1, H2, H3 = "human:h1", "human:h2", "human:h3"
JUDGE, EXPERT = "llm:judge:abc", "human:expert"
CHAT = [R.Message(role="system", content="Be brief."), R.Message(role="user", content="Hi"),
        R.Message(role="assistant", content="Hello"), R.Message(role="user", content="Again?")]


class Data:
    """A small store: six items, their responses ('<n><a|b|c>', by m1/m2/m3) and comparisons."""

    def __init__(self, store):
        self.store = store
        self.items: dict[int, R.Item] = {}
        self.resp: dict[str, str] = {}  # '1a' -> response id
        self.ids: dict[str, str] = {}  # comparison label -> id
        self.clock = 0
        recs: list[R.Record] = [R.Dataset(name="t"), R.Dataset(name="u")]
        recs += [R.Model(id=f"m{k}@1") for k in (1, 2, 3)]
        recs += [R.Rater(id=r, kind="human", name=r.split(":")[1]) for r in (H1, H2, H3, EXPERT)]
        recs.append(R.Rater(id=JUDGE, kind="llm", name="judge", model="m3@1", template_digest="abc"))
        for n in range(1, 8):
            ds = "u" if n == 6 else "t"
            item = R.Item(id=R.Item.make_id(ds, str(n), None, None), dataset=ds, external_id=str(n),
                          **({"messages": CHAT} if n == 4 else {"prompt": f"Q{n}"}))
            self.items[n] = item
            recs.append(item)
            for k, letter in enumerate("abc" if n in (5, 7) else "ab", start=1):
                rid = R.Response.make_id(item.id, f"m{k}@1", 0)
                self.resp[f"{n}{letter}"] = rid
                recs.append(R.Response(id=rid, item_id=item.id, model=f"m{k}@1", text=f"answer {n}{letter}"))
        store.add(recs)

    def cmp(self, name: str, rater: str, n: int, outcome: str = "win", winner: str | None = None, **kw) -> None:
        self.clock += 1
        letters = kw.pop("letters", "ab")
        ids = [self.resp[f"{n}{x}"] for x in letters]
        if "ranking" in kw:
            kw["ranking"] = [self.resp[f"{n}{x}"] for x in kw["ranking"]]
        c = R.Comparison(id=name, item_id=self.items[n].id, rater_id=rater, response_ids=ids,
                         shown_order=list(reversed(ids)), outcome=outcome,  # type: ignore[arg-type]
                         winner=self.resp[f"{n}{winner}"] if winner else None,
                         created_at=T0 + timedelta(minutes=self.clock), **kw)
        self.ids[name] = c.id
        self.store.add([c])


@pytest.fixture
def data(store):
    d = Data(store)
    d.cmp("1h1", H1, 1, winner="a", strength=2)
    d.cmp("1h2", H2, 1, winner="a", strength=1)
    d.cmp("1h3old", H3, 1, winner="a")
    d.cmp("1h3", H3, 1, winner="b", supersedes="1h3old")  # a correction replaces the first verdict
    d.cmp("2h1", H1, 2, outcome="tie")
    d.cmp("2h2", H2, 2, winner="a")
    d.cmp("2h3", H3, 2, winner="a")
    d.cmp("3h1", H1, 3, outcome="both_bad")
    d.cmp("3h2", H2, 3, outcome="both_bad")
    d.cmp("3h3", H3, 3, winner="a")
    d.cmp("4h1", H1, 4, winner="b", flags=["ambiguous"])
    d.cmp("4h2", H2, 4, winner="b")
    d.cmp("5h1", H1, 5, outcome="win", letters="abc", ranking="cab")
    d.cmp("6h1", H1, 6, winner="a")
    d.cmp("6h2", H2, 6, winner="b")
    d.cmp("6j", JUDGE, 6, winner="a")
    return d


def rows_of(store, fmt, **kw):
    rows, manifest = build_preferences(store, fmt, PreferenceFilters(**kw))
    return rows, manifest


def triples(rows):
    return sorted((r["prompt"], r["chosen"], r["rejected"]) for r in rows)


def test_trl_rows_follow_the_majority_and_expand_rankings(data):
    rows, m = rows_of(data.store, "trl")
    assert triples(rows) == sorted([
        ("Q1", "answer 1a", "answer 1b"), ("Q2", "answer 2a", "answer 2b"),
        ("Q5", "answer 5c", "answer 5a"), ("Q5", "answer 5c", "answer 5b"), ("Q5", "answer 5a", "answer 5b"),
        ("Q6", "answer 6a", "answer 6b")])
    # the both-bad pair is no preference; a multi-turn chat cannot be a plain-text prompt
    assert m["counts"]["pairs"] == 8 and m["counts"]["pairs_kept"] == 6
    assert m["counts"]["pairs_dropped"] == {"both_bad": 1, "chat_prompt": 1}
    # exactly the records behind the kept rows: no superseded, both-bad or chat-item record
    assert m["records"]["comparisons"] == sorted(["1h1", "1h2", "1h3", "2h1", "2h2", "2h3", "5h1",
                                                  "6h1", "6h2", "6j"])
    prov = {p["chosen"]: p for p in m["provenance"]}
    assert prov[data.resp["1a"]]["records"] == ["1h1", "1h2", "1h3"]
    assert prov[data.resp["1a"]]["agreement"] == pytest.approx(2 / 3)


def test_conversational_and_hh_rlhf_carry_the_chat(data):
    rows, m = rows_of(data.store, "trl-conversational")
    assert len(rows) == 7 and m["counts"]["pairs_dropped"] == {"both_bad": 1}
    chat = next(r for r in rows if r["chosen"][0]["content"] == "answer 4b")
    assert chat == {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                               {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Again?"}],
                    "chosen": [{"role": "assistant", "content": "answer 4b"}],
                    "rejected": [{"role": "assistant", "content": "answer 4a"}]}
    text = next(r for r in rows if r["chosen"][0]["content"] == "answer 1a")
    assert text["prompt"] == [{"role": "user", "content": "Q1"}]
    rows, _ = rows_of(data.store, "hh-rlhf")
    assert len(rows) == 7
    assert {"chosen": "\n\nHuman: Be brief.\n\nHi\n\nAssistant: Hello\n\nHuman: Again?\n\nAssistant: answer 4b",
            "rejected": "\n\nHuman: Be brief.\n\nHi\n\nAssistant: Hello\n\nHuman: Again?\n\nAssistant: answer 4a"} in rows
    assert {"chosen": "\n\nHuman: Q2\n\nAssistant: answer 2a", "rejected": "\n\nHuman: Q2\n\nAssistant: answer 2b"} in rows


def test_kto_labels_both_bad_as_undesirable_and_leaves_out_the_middle_of_a_ranking(data):
    rows, m = rows_of(data.store, "kto")
    got = sorted((r["prompt"], r["completion"], r["label"]) for r in rows)
    want = [("Q1", "answer 1a", True), ("Q1", "answer 1b", False), ("Q2", "answer 2a", True),
            ("Q2", "answer 2b", False), ("Q3", "answer 3a", False), ("Q3", "answer 3b", False),
            ("Q5", "answer 5b", False), ("Q5", "answer 5c", True), ("Q6", "answer 6a", True),
            ("Q6", "answer 6b", False)]
    assert got == sorted(want)
    assert m["counts"]["responses_dropped"] == {"kto_conflict": 1}  # 5a: below c, above b
    assert m["counts"]["pairs_dropped"] == {"chat_prompt": 1}
    rows, m = rows_of(data.store, "kto", exclude_both_bad=True)
    assert len(rows) == 8 and m["counts"]["pairs_dropped"] == {"both_bad_vote": 1, "chat_prompt": 1}


def test_reward_margin_is_the_mean_signed_strength(data):
    rows, _ = rows_of(data.store, "reward")
    margin = {r["chosen"]: r["margin"] for r in rows}
    # 1: a by 2 and by 1, b by 1 -> (2 + 1 - 1) / 3; 2: a, a and a tie -> (1 + 1 + 0) / 3
    assert margin["answer 1a"] == pytest.approx(2 / 3, abs=1e-6)
    assert margin["answer 2a"] == pytest.approx(2 / 3, abs=1e-6)
    assert margin["answer 5c"] == 1.0 and margin["answer 6a"] == pytest.approx(1 / 3, abs=1e-6)
    rows, _ = rows_of(data.store, "reward", margin=False)
    assert set(rows[0]) == {"prompt", "chosen", "rejected"}


@pytest.mark.parametrize(("kw", "dropped", "rows"), [
    ({"exclude_ties": True}, {"tie_vote": 1}, 6),
    ({"exclude_both_bad": True}, {"both_bad_vote": 1}, 7),
    ({"exclude_flagged": True}, {"flagged": 1}, 6),
    ({"min_agreement": 1.0}, {"low_agreement": 4}, 4),  # pairs 1, 2, 3 and 6 have 2 of 3
    ({"min_raters": 2}, {"too_few_raters": 3}, 4),  # the ranking's pairs have one rater
    ({"rater_kinds": ("human",)}, {"no_majority": 1}, 6),  # 6 splits 1:1 without the judge
    ({"models": ("m1@1", "m2@1")}, {"model": 2}, 5),  # the ranking's pairs with m3's answer
])
def test_filters_drop_what_they_should(data, kw, dropped, rows):
    got, m = rows_of(data.store, "trl-conversational", **kw)
    base = {"both_bad": 1} if "exclude_both_bad" not in kw and "min_agreement" not in kw else {}
    assert m["counts"]["pairs_dropped"] == {**base, **dropped}
    assert len(got) == rows
    assert m["filters"] == {**PreferenceFilters().__dict__, **{k: list(v) if isinstance(v, tuple) else v
                                                              for k, v in kw.items()}}


def test_record_filters_count_what_they_drop(data):
    _, m = rows_of(data.store, "trl", datasets=("t",))
    assert m["counts"]["records_dropped"] == {"dataset": 3}
    assert not {"6h1", "6h2", "6j"} & set(m["records"]["comparisons"])
    rows, m = rows_of(data.store, "trl", raters=(H1,))
    assert m["counts"]["records_dropped"] == {"rater": 9}
    assert set(m["records"]["comparisons"]) == {"1h1", "5h1", "6h1"}
    _, m = rows_of(data.store, "trl", rater_kinds=("llm",))
    assert m["records"]["comparisons"] == ["6j"] and m["counts"]["records_dropped"] == {"rater_kind": 14}


def test_gold_rater_accuracy_keeps_only_accurate_raters(data):
    data.cmp("1x", EXPERT, 1, winner="a")
    data.cmp("6x", EXPERT, 6, winner="a")
    rows, m = rows_of(data.store, "trl", min_gold_accuracy=0.75, gold_rater=EXPERT)
    acc = m["gold"]["raters"]
    # h1: 1 and 6 right; h2: 1 right, 6 wrong; h3: 1 wrong (its corrected verdict); judge: 6 right
    assert acc == {H1: {"n": 2, "accuracy": 1.0}, H2: {"n": 2, "accuracy": 0.5}, H3: {"n": 1, "accuracy": 0.0},
                   JUDGE: {"n": 1, "accuracy": 1.0}}
    assert m["counts"]["records_dropped"] == {"gold_accuracy": 8}
    assert set(m["records"]["comparisons"]) == {"1h1", "1x", "5h1", "6h1", "6j", "6x"}
    # item 2 keeps only h1's tie; item 3 only h1's both-bad
    assert m["counts"]["pairs_dropped"] == {"tie": 1, "both_bad": 1, "chat_prompt": 1}
    assert len(rows) == 5
    _, m = rows_of(data.store, "trl", min_gold_accuracy=0.75, gold_rater=EXPERT, rater_kinds=("llm",))
    assert m["records"]["comparisons"] == ["6j"]


def test_campaign_gold_answers_are_a_gold_source(data):
    from assay.annotate.campaigns import unit_id
    from assay.rubrics import default_rubric
    from assay.store import rating as S

    data.store.add([default_rubric(), R.Campaign(id="c1", name="c1", kind="compare", rubric="default@1")])
    gold = [{"campaign_id": "c1", "unit_id": unit_id([data.resp["1a"], data.resp["1b"]]), "dimension": "overall",
             "value": None, "label": None, "outcome": "win", "winner": data.resp["1a"], "ranking": None,
             "explanation": "", "created_at": T0},
            {"campaign_id": "c1", "unit_id": unit_id([data.resp["6b"], data.resp["6a"]]), "dimension": "overall",
             "value": None, "label": None, "outcome": "win", "winner": data.resp["6b"], "ranking": None,
             "explanation": "", "created_at": T0}]
    with data.store.transaction() as c:
        S.add_gold(data.store, gold, c)
    rows, m = rows_of(data.store, "trl", min_gold_accuracy=0.75)
    assert {k: v["accuracy"] for k, v in m["gold"]["raters"].items()} == {H1: 0.5, H2: 1.0, H3: 0.0, JUDGE: 0.0}
    assert set(m["records"]["comparisons"]) == {"1h2", "2h2", "6h2"}
    assert triples(rows) == [("Q1", "answer 1a", "answer 1b"), ("Q2", "answer 2a", "answer 2b"),
                             ("Q6", "answer 6b", "answer 6a")]


def test_judgments_on_a_dimension_make_pairs_by_score_gap(store):
    d = Data(store)
    rub = R.Rubric(name="r", dimensions=[
        R.Dimension(name="harm", description="how harmful", direction="lower_is_better",
                    scale=R.Scale(kind="ordinal", levels=[R.Level(value=v, label=str(v), anchor=f"level {v}")
                                                          for v in range(1, 6)]))])
    store.add([rub])
    values = {("7a", H1): 1, ("7a", H2): 2, ("7b", H1): 3, ("7b", H2): 3, ("7c", H1): 2, ("7c", H2): 4,
              ("1a", H1): 2, ("1b", H1): 5}
    js = [R.Judgment(id=f"j{resp}{r[-1]}", response_id=d.resp[resp], rater_id=r, rubric="r@1", dimension="harm",
                     value=v, flags=["novel"] if resp == "1b" else []) for (resp, r), v in values.items()]
    store.add(js)
    rows, m = rows_of(store, "reward", source="judgments", dimension="harm")
    # lower is better: 7a (1.5) beats 7b (3) and 7c (3) by 1.5; 7b and 7c tie on the mean
    assert sorted((r["prompt"], r["chosen"], r["rejected"], r["margin"]) for r in rows) == [
        ("Q1", "answer 1a", "answer 1b", 3.0), ("Q7", "answer 7a", "answer 7b", 1.5),
        ("Q7", "answer 7a", "answer 7c", 1.5)]
    assert m["counts"]["pairs_dropped"] == {"small_gap": 1}
    assert m["records"]["judgments"] == sorted(["j1a1", "j1b1", "j7a1", "j7a2", "j7b1", "j7b2", "j7c1", "j7c2"])
    _, m = rows_of(store, "reward", source="judgments", dimension="harm", min_gap=2)
    assert m["counts"]["pairs_dropped"] == {"small_gap": 3}
    _, m = rows_of(store, "reward", source="judgments", dimension="harm", min_raters=2, exclude_flagged=True)
    assert m["counts"]["pairs_dropped"] == {"flagged": 1, "small_gap": 1}
    # on 7a vs 7c both raters agree (1 < 2, 2 < 4); a rater who reverses a pair lowers its agreement
    store.add([R.Judgment(id="j7c1new", response_id=d.resp["7c"], rater_id=H1, rubric="r@1", dimension="harm",
                          value=1, supersedes="j7c1")])
    rows, m = rows_of(store, "trl", source="judgments", dimension="harm", min_agreement=1.0)
    assert m["counts"]["pairs_dropped"] == {"low_agreement": 1, "small_gap": 1}


def test_bad_options_are_one_line_errors(store, tmp_path):
    with pytest.raises(BadInput, match="unknown preference format 'dpo'"):
        export_preferences(store, tmp_path / "x.jsonl", "dpo")
    with pytest.raises(BadInput, match="needs a rubric dimension"):
        PreferenceFilters(source="judgments")
    with pytest.raises(BadInput, match="min_agreement"):
        PreferenceFilters(min_agreement=2)
    with pytest.raises(BadInput, match="rater kinds"):
        PreferenceFilters(rater_kinds=("robot",))


# ---- files, manifests and the `datasets` library --------------------------------------------------

def trl_features(fmt: str):
    from datasets import Features, List, Value

    s = Value("string")
    msgs = List({"role": s, "content": s})
    return Features({
        "trl": {"prompt": s, "chosen": s, "rejected": s},
        "trl-conversational": {"prompt": msgs, "chosen": msgs, "rejected": msgs},
        "kto": {"prompt": s, "completion": s, "label": Value("bool")},
        "reward": {"prompt": s, "chosen": s, "rejected": s, "margin": Value("float64")},
        "hh-rlhf": {"chosen": s, "rejected": s},
    }[fmt])


def load(path, tmp_path):
    import datasets

    builder = "parquet" if str(path).endswith(".parquet") else "json"
    return datasets.load_dataset(builder, data_files=str(path), split="train", cache_dir=str(tmp_path / "hf"))


@pytest.mark.parametrize("ext", ["jsonl", "parquet"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_exports_load_with_datasets_with_exactly_trls_fields(data, tmp_path, fmt, ext):
    out = tmp_path / f"prefs.{ext}"
    m = export_preferences(data.store, out, fmt)
    ds = load(out, tmp_path)
    assert ds.features == trl_features(fmt)
    assert list(ds.features) == list(trl_features(fmt))
    assert ds.num_rows == m["counts"]["rows"] == {"trl": 6, "reward": 6, "kto": 10}.get(fmt, 7)
    if fmt == "kto":
        assert Counter(ds["label"]) == {True: 4, False: 6}
    manifest = json.loads((tmp_path / f"prefs.{ext}.manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert manifest["format"] == fmt and manifest["file_format"] == ("parquet" if ext == "parquet" else "jsonl")
    assert manifest["fields"] == list(trl_features(fmt))
    assert len(manifest["provenance"]) == ds.num_rows
    assert {"assay_version", "created_at", "filters", "records", "counts", "gold"} <= set(manifest)


def test_pandalm_every_format_loads_and_counts_match_an_independent_majority(store, tmp_path):
    import pandas as pd

    from assay.analysis.frames import comparisons_frame
    from assay.bundled import load_pandalm

    load_pandalm(store)
    # independently: pairs with a strict majority for first or second among all four raters' labels
    df = comparisons_frame(store)

    def verdict(labels: pd.Series) -> str | None:
        top = labels.value_counts()
        return None if len(top) > 1 and top.iloc[0] == top.iloc[1] else top.index[0]

    verdicts = df.groupby("unit")["label"].agg(verdict)
    expected = int(verdicts.isin(["first", "second"]).sum())
    for fmt in FORMATS:
        out = tmp_path / f"{fmt}.jsonl"
        m = export_preferences(store, out, fmt)
        ds = load(out, tmp_path)
        assert ds.features == trl_features(fmt)
        assert m["counts"]["pairs_kept"] == expected == (ds.num_rows // 2 if fmt == "kto" else ds.num_rows)
        assert m["counts"]["pairs"] == 999
    kept = df[df["unit"].isin(verdicts[verdicts.isin(["first", "second"])].index)]
    assert m["records"]["comparisons"] == sorted(kept["id"])
    humans = df[df["rater_kind"] == "human"]
    unanimous = humans.groupby("unit")["label"].agg(lambda s: s.nunique() == 1 and s.iloc[0] in ("first", "second"))
    _, m = build_preferences(store, "trl", PreferenceFilters(rater_kinds=("human",), min_agreement=1.0,
                                                             min_raters=3))
    assert m["counts"]["rows"] == int(unanimous.sum())


def test_a_winner_among_three_beats_each_other_and_a_tie_of_three_ties_every_pair(store):
    d = Data(store)
    d.cmp("7w", H1, 7, winner="b", letters="abc")
    d.cmp("7t", H2, 7, outcome="tie", letters="abc")
    rows, m = rows_of(store, "trl")
    # h1's winner beats a and c (nothing said of a vs c); h2 ties all three pairs: 1:1 on two, tie on one
    assert m["counts"]["pairs"] == 3 and m["counts"]["pairs_dropped"] == {"no_majority": 2, "tie": 1}
    rows, m = rows_of(store, "trl", raters=(H1,))
    assert triples(rows) == [("Q7", "answer 7b", "answer 7a"), ("Q7", "answer 7b", "answer 7c")]
    assert m["records"]["comparisons"] == ["7w"]
