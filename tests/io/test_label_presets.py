"""`assay import --from PRESET`: each published label format on a file of that format.

AlpacaEval's annotations and MT-Bench's questions are the published files in shared/validation.
The other files in tests/data/labels hold our own made-up prompts, answers and verdicts, laid
out exactly as the published format lays out its fields (see tests/data/labels/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assay.cli import main
from assay.store import Store
from tests.conftest import VALIDATION, require_path

DATA = Path(__file__).resolve().parents[1] / "data" / "labels"
AE = VALIDATION / "alpaca_eval" / "results"
FILES = {"arena-hard": "arena_hard_model_judgment.jsonl", "mt-bench": "mt_bench_human_judgments.jsonl",
         "chatbot-arena": "chatbot_arena_conversations.jsonl", "hh-rlhf": "hh_rlhf.jsonl",
         "ultrafeedback": "ultrafeedback.jsonl", "helpsteer2": "helpsteer2.jsonl"}
ESSENTIAL = {"alpaca-eval": "instruction", "arena-hard": "games", "mt-bench": "winner",
             "chatbot-arena": "conversation_b", "hh-rlhf": "rejected", "ultrafeedback": "completions",
             "helpsteer2": "response"}
# AlpacaEval's annotation layout, with our own content (the published files are tested below when present)
ALPACA_ROWS = [
    {"instruction": "Name a planet.", "output_1": "Mars.", "generator_1": "ref-model", "dataset": "helpful_base",
     "output_2": "Jupiter, the largest planet.", "generator_2": "my-model", "annotator": "weighted_judge",
     "preference": 1.75, "price_per_example": 0.001, "time_per_example": 0.2},
    {"instruction": "Say hi.", "output_1": "Hi!", "generator_1": "ref-model", "dataset": "koala",
     "output_2": "hello", "generator_2": "my-model", "annotator": "weighted_judge", "preference": 1.0,
     "price_per_example": 0.001, "time_per_example": 0.2},
    {"instruction": "Count to two.", "output_1": "1, 2", "generator_1": "ref-model", "dataset": "koala",
     "output_2": "one two", "generator_2": "my-model", "annotator": "weighted_judge", "preference": None,
     "price_per_example": 0.001, "time_per_example": 0.2},
]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def imported(capsys, db: str, path, preset: str, *extra: str) -> dict:
    code, out, err = run(capsys, "--db", db, "--json", "import", str(path), "--from", preset, *extra)
    assert code == 0, err
    return json.loads(out)


def alpaca_file(tmp_path) -> Path:
    p = tmp_path / "annotations.json"
    p.write_text(json.dumps(ALPACA_ROWS))
    return p


# ---- AlpacaEval: the published annotations give the published win rates -------------------------------


def test_alpaca_eval_2_annotations_give_the_published_soft_and_hard_win_rates(capsys, store_url):
    """AlpacaEval 2.0's row for text_davinci_003 (weighted GPT-4 Turbo judge, baseline gpt4_1106_preview), as
    its leaderboard CSV published it at tatsu-lab/alpaca_eval@69cdc5a: win_rate 1.9621476654673384, standard
    error 0.4346747594217138, 14 wins, 787 losses, 4 draws of 805, discrete_win_rate 1.9875776397515528."""
    path = require_path(AE / "text_davinci_003/weighted_alpaca_eval_gpt4_turbo/annotations.json",
                        "AlpacaEval 2.0 annotations of text_davinci_003")
    s = imported(capsys, store_url, path, "alpaca-eval")
    assert (s["rows"], s["items_added"], s["responses_added"], s["comparisons_added"]) == (805, 805, 1610, 805)
    code, out, err = run(capsys, "--db", store_url, "--json", "rank", "--comparisons", "--baseline",
                         "gpt4_1106_preview@alpaca-eval", "--rounds", "20")
    assert code == 0, err
    (wr,) = json.loads(out)["win_rates"]
    assert wr["model"] == "text_davinci_003@alpaca-eval"
    assert 100 * wr["soft_win_rate"] == pytest.approx(1.9621476654673384, abs=1e-6)
    assert 100 * wr["soft_win_rate_se"] == pytest.approx(0.4346747594217138, abs=1e-6)
    assert 100 * wr["win_rate"] == pytest.approx(1.9875776397515528, abs=1e-6)
    assert (wr["comparisons"], wr["wins"], wr["losses"], wr["ties"]) == (805, 14, 787, 4)
    assert int(wr["avg_length"]) == 307  # the leaderboard's avg_length
    # soft preferences are stored as such: every value strictly between 1 and 2 kept its probability
    rows = json.loads(path.read_text())
    soft = sum(1 < float(r["preference"]) < 2 for r in rows)
    assert wr["with_probability"] == soft and 0 < soft < 805
    with Store(store_url) as st:
        probs = [c.probability for c in st.iter("comparisons") if c.probability is not None]
    want = sorted(2 - float(r["preference"]) for r in rows if 1 < float(r["preference"]) < 2)
    assert sorted(probs) == pytest.approx(want, abs=1e-12)  # P(output_1, the first response) = 2 - preference

    code, out, _ = run(capsys, "--db", store_url, "rank", "--comparisons", "--baseline",
                       "gpt4_1106_preview@alpaca-eval", "--rounds", "20")
    assert "win rates against" in out and "LC: length-controlled" in out and "1.96 ±" in out


def test_alpaca_eval_1_annotations_give_gpt4_its_published_95_2795(capsys, store_url):
    path = require_path(AE / "gpt4/alpaca_eval_gpt4/annotations.json", "AlpacaEval 1 annotations of gpt4")
    imported(capsys, store_url, path, "alpaca-eval")
    code, out, err = run(capsys, "--db", store_url, "--json", "rank", "--comparisons", "--baseline",
                         "text_davinci_003@alpaca-eval", "--rounds", "20")
    assert code == 0, err
    (wr,) = json.loads(out)["win_rates"]
    assert wr["model"] == "gpt4@alpaca-eval" and (wr["wins"], wr["losses"], wr["ties"]) == (761, 32, 12)
    assert 100 * wr["win_rate"] == pytest.approx(95.27950310559004, abs=1e-6)
    assert wr["soft_win_rate"] == wr["win_rate"] and wr["with_probability"] == 0  # AlpacaEval 1's judge is hard


def test_alpaca_eval_layout_soft_hard_and_missing_preferences(capsys, tmp_path):
    """Our own rows in AlpacaEval's annotation layout."""
    db = str(tmp_path / "s.db")
    s = imported(capsys, db, alpaca_file(tmp_path), "alpaca-eval")
    assert (s["comparisons_added"], s["responses_added"], s["skipped"]) == (2, 6, {"no preference": 1})
    with Store(db) as st:
        comps = {st.get("items", c.item_id).prompt: c for c in st.iter("comparisons")}
        resp = {r.id: r for r in st.iter("responses")}
        (rater,) = st.list("raters")
        items = {i.prompt: i for i in st.iter("items")}
    planet = comps["Name a planet."]
    assert planet.probability == 0.25 and resp[planet.winner].model == "my-model@alpaca-eval"
    assert comps["Say hi."].probability is None and resp[comps["Say hi."].winner].text == "Hi!"
    assert rater.kind == "llm" and rater.name == "weighted_judge"
    assert items["Say hi."].category == "koala" and planet.detail["preference"] == 1.75
    s = imported(capsys, db, alpaca_file(tmp_path), "alpaca-eval", "--model-version", "2024-01")
    assert s["models"] == ["my-model@2024-01", "ref-model@2024-01"] and s["items_added"] == 0


# ---- Arena-Hard ---------------------------------------------------------------------------------------


def test_arena_hard_judgments_become_two_games_per_question(capsys, store_url):
    s = imported(capsys, store_url, DATA / FILES["arena-hard"], "arena-hard")
    assert (s["rows"], s["items_added"], s["responses_added"], s["comparisons_added"]) == (6, 3, 9, 11)
    assert s["skipped"] == {"game without a verdict": 1}
    with Store(store_url) as st:
        resp = {r.id: r for r in st.iter("responses")}
        items = {i.id: i for i in st.iter("items")}
        comps = list(st.iter("comparisons"))
        (judge,) = st.list("raters")
    assert judge.kind == "llm" and judge.name == "gpt-4-1106-preview"
    assert {i.external_id for i in items.values()} == {"3f1c0a9e5b7d4c2a8e6f1b0d9c8a7e65",
                                                      "a0b1c2d3e4f5061728394a5b6c7d8e9f",
                                                      "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"}
    for c in comps:  # the baseline first, in the order shown per game
        assert resp[c.response_ids[0]].model == "gpt-4-0314@arena-hard"
        assert c.shown_order == (c.response_ids if c.detail["game"] == 1 else c.response_ids[::-1])
    spider_big = next(c for c in comps if items[c.item_id].prompt.startswith("Write a haiku")
                      and resp[c.response_ids[1]].model == "alpha-chat@arena-hard" and c.detail["game"] == 1)
    # game 1 "B>>A": B is the model, shown second: a strong win of alpha-chat
    assert spider_big.detail["label"] == "B>>A" and spider_big.strength == 2
    assert resp[spider_big.winner].model == "alpha-chat@arena-hard"
    assert "[[B>>A]]" in spider_big.justification
    assert resp[spider_big.response_ids[1]].text.startswith("Rain taps on the tin")


def test_arena_hard_file_gives_the_published_recipe_leaderboard(capsys, tmp_path, store_url):
    """An Arena-Hard v0.1 judgment file (made here from the same simulated verdicts as the recipe test in
    tests/cli/test_rank_both_orders.py), imported with --from arena-hard: `assay rank --strong-weight 3
    --baseline` gives Arena-Hard's Bradley-Terry scores (its show_result recipe) to 1e-6."""
    from tests.cli.test_rank_both_orders import BASE, arena_hard_battles, arena_hard_elo, judgment_file

    judgments = judgment_file()
    tpl = ("<|User Prompt|>\n{q}\n\n<|The Start of Assistant A's Answer|>\n{a}\n<|The End of Assistant A's "
           "Answer|>\n\n<|The Start of Assistant B's Answer|>\n{b}\n<|The End of Assistant B's Answer|>")
    path = tmp_path / "judgments.jsonl"
    with path.open("w") as f:
        for row in judgments:
            q, mine, base = f"question {row['question_id']}", f"{row['model']} answers", "the baseline answers"
            games = [{"user_prompt": tpl.format(q=q, a=base if g == 0 else mine, b=mine if g == 0 else base),
                      "judgment": "...", "score": game["score"]} for g, game in enumerate(row["games"])]
            f.write(json.dumps({"question_id": row["question_id"], "model": row["model"], "judge": "gpt-4-judge",
                                "games": games}) + "\n")
    imported(capsys, store_url, path, "arena-hard", "--baseline", BASE)
    code, out, err = run(capsys, "--db", store_url, "--json", "rank", "--comparisons", "--strong-weight", "3",
                         "--baseline", BASE, "--rounds", "50")
    assert code == 0, err
    rep = json.loads(out)
    battles = arena_hard_battles(judgments)
    want = arena_hard_elo(battles)
    assert rep["battles"] == len(battles)
    board = {r["model"]: r for r in rep["leaderboard"]}
    for model, elo in want.items():
        assert (board[model]["rating"] - 1000) / 400 == pytest.approx((elo - 1000) / 400, abs=1e-6), model
        assert board[model]["win_rate_vs_baseline"] == pytest.approx(1 / (1 + 10 ** ((1000 - elo) / 400)), abs=1e-6)


# ---- MT-Bench -------------------------------------------------------------------------------------------


def test_mt_bench_questions_import_as_chat_messages_and_turn_2_verdicts_attach_to_them(capsys, tmp_path):
    """The published question.jsonl (80 questions, two turns each), then turn-2 verdicts in the
    mt_bench_human_judgments layout written here on three of those questions (answers our own)."""
    questions = require_path(VALIDATION / "mtbench" / "question.jsonl", "MT-Bench questions")
    db = str(tmp_path / "s.db")
    s = imported(capsys, db, questions, "mt-bench")
    assert (s["rows"], s["items_added"]) == (80, 80)
    qs = [json.loads(line) for line in questions.read_text().splitlines()][:3]
    rows = []
    for q in qs:
        conv = {m: [{"content": q["turns"][0], "role": "user"}, {"content": f"{m} turn 1", "role": "assistant"},
                    {"content": q["turns"][1], "role": "user"}, {"content": f"{m} turn 2", "role": "assistant"}]
                for m in ("x", "y")}
        rows.append({"question_id": q["question_id"], "model_a": "x", "model_b": "y", "winner": "model_a",
                     "judge": "expert_1", "conversation_a": conv["x"], "conversation_b": conv["y"], "turn": 2})
    path = tmp_path / "human.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = imported(capsys, db, path, "mt-bench")
    assert (s["items_added"], s["responses_added"], s["comparisons_added"]) == (0, 6, 3)
    with Store(db) as st:
        item = st.get("items", st.list("comparisons")[0].item_id)
        resp = st.list("responses")
    q = next(q for q in qs if q["question_id"] == item.metadata["question_id"])
    assert [m.model_dump() for m in item.messages] == [{"role": "user", "content": t} for t in q["turns"]]
    assert item.category == q["category"]
    assert {r.text for r in resp} == {"x turn 2", "y turn 2"}
    assert all(len(r.metadata["conversation"]) == 4 for r in resp)  # the model's own first turn is kept


def test_mt_bench_human_and_gpt4_judgments_per_turn(capsys, store_url):
    s = imported(capsys, store_url, DATA / FILES["mt-bench"], "mt-bench")
    assert (s["rows"], s["items_added"], s["responses_added"], s["comparisons_added"]) == (5, 4, 8, 5)
    with Store(store_url) as st:
        raters = {r.id: r for r in st.iter("raters")}
        comps = list(st.iter("comparisons"))
        items = {i.id: i for i in st.iter("items")}
    assert sorted((r.kind, r.name) for r in raters.values()) == [("human", "author_2"), ("human", "expert_0"),
                                                                 ("llm", "gpt4_pair")]
    turn1 = [c for c in comps if c.detail["turn"] == 1]
    assert all(items[c.item_id].prompt is not None for c in turn1)  # one user turn: a plain prompt
    turn2 = [c for c in comps if c.detail["turn"] == 2]
    assert all(len(items[c.item_id].messages) == 2 for c in turn2)
    inconsistent = next(c for c in comps if c.detail["label"] == "tie (inconsistent)")
    assert inconsistent.outcome == "tie" and raters[inconsistent.rater_id].kind == "llm"


# ---- Chatbot Arena, HH-RLHF ---------------------------------------------------------------------------


def test_chatbot_arena_battles(capsys, store_url):
    s = imported(capsys, store_url, DATA / FILES["chatbot-arena"], "chatbot-arena")
    assert (s["rows"], s["items_added"], s["responses_added"], s["comparisons_added"], s["raters_added"]) == \
        (4, 3, 8, 4, 3)
    with Store(store_url) as st:
        comps = {c.detail["question_id"]: c for c in st.iter("comparisons")}
        items = {i.id: i for i in st.iter("items")}
        resp = {r.id: r for r in st.iter("responses")}
    both_bad = comps["c8f2e3d4a5b6079889706b5c4d3e2f1a"]
    assert both_bad.outcome == "both_bad" and both_bad.rater_id == "human:arena_user_202"
    assert both_bad.created_at.timestamp() == pytest.approx(1682352021.5)
    multi = comps["d9a3f4e5b6c7180990817c6d5e4f3a2b"]
    assert [m.content for m in items[multi.item_id].messages] == ["Name a fruit.", "Now a vegetable."]
    assert [resp[r].text for r in multi.response_ids] == ["Carrot.", "Leek."]
    assert [m["content"] for m in resp[multi.response_ids[0]].metadata["conversation"]] == [
        "Name a fruit.", "Apple.", "Now a vegetable.", "Carrot."]
    # the same question in two battles is one item
    assert comps["b7e1d2c3f4a5968778695a4b3c2d1e0f"].item_id == comps["e0b4a5f6c7d8291a01928d7e6f5a4b3c"].item_id
    assert items[multi.item_id].language == "English"


def test_hh_rlhf_pairs(capsys, store_url):
    s = imported(capsys, store_url, DATA / FILES["hh-rlhf"], "hh-rlhf")
    assert (s["comparisons_added"], s["responses_added"]) == (2, 4)
    assert s["skipped"] == {"chosen and rejected are the same text": 1}
    with Store(store_url) as st:
        comps = list(st.iter("comparisons"))
        items = {i.id: i for i in st.iter("items")}
        resp = {r.id: r for r in st.iter("responses")}
    multi = next(c for c in comps if items[c.item_id].messages)
    assert [m.role for m in items[multi.item_id].messages] == ["user", "assistant", "user"]
    assert resp[multi.winner].text.startswith("You could call it Archimedes")
    assert all(c.winner == c.response_ids[0] and c.rater_id == "human:hh-rlhf" for c in comps)
    assert {r.model for r in resp.values()} == {"unknown@hh-rlhf"}


# ---- per-attribute ratings ------------------------------------------------------------------------------


def test_ultrafeedback_ratings_are_judgments_on_its_bundled_rubric(capsys, store_url):
    s = imported(capsys, store_url, DATA / FILES["ultrafeedback"], "ultrafeedback")
    assert (s["items_added"], s["responses_added"], s["judgments_added"]) == (2, 4, 19)
    assert s["skipped"] == {"rating N/A": 1}
    with Store(store_url) as st:
        rub = st.rubric("ultrafeedback@1")
        js = list(st.iter("judgments"))
        resp = {r.id: r for r in st.iter("responses")}
        (rater,) = st.list("raters")
    assert [d.name for d in rub.dimensions] == ["instruction_following", "honesty", "truthfulness", "helpfulness",
                                                "overall"]
    assert rater.kind == "llm" and rater.name == "gpt-4"
    soda = {(j.dimension): j for j in js if resp[j.response_id].text.startswith("1. Leavening")}
    assert soda["helpfulness"].value == 4 and soda["overall"].value == 8.5
    assert soda["truthfulness"].justification == "No invented facts.\n\nAccurate throughout."
    assert soda["truthfulness"].detail == {"type": ["0"]}
    assert soda["overall"].justification.startswith("Complete and correct")
    gpt4 = next(r for r in resp.values() if r.text.startswith("1. Leavening"))
    assert gpt4.model == "gpt-4@ultrafeedback" and gpt4.metadata["principle"] == "helpfulness"


def test_helpsteer2_ratings_keep_their_published_0_to_4_values(capsys, store_url):
    s = imported(capsys, store_url, DATA / FILES["helpsteer2"], "helpsteer2")
    assert (s["items_added"], s["responses_added"], s["judgments_added"]) == (2, 4, 20)
    with Store(store_url) as st:
        js = list(st.iter("judgments"))
        items = list(st.iter("items"))
        resp = {r.id: r for r in st.iter("responses")}
    multi = next(i for i in items if i.messages)
    assert [(m.role, m.content) for m in multi.messages] == [
        ("user", "Suggest a name for a bakery."), ("assistant", "How about The Rising Loaf?"),
        ("user", "Something shorter, please.")]
    bars = {j.dimension: j.value for j in js if resp[j.response_id].text == "It measures bars."}
    assert bars == {"helpfulness": 0, "correctness": 0, "coherence": 3, "complexity": 0, "verbosity": 0}
    assert {j.rubric for j in js} == {"helpsteer2@1"}


# ---- bad input, for every preset ---------------------------------------------------------------------


def _file_of(preset: str, tmp_path) -> Path:
    return alpaca_file(tmp_path) if preset == "alpaca-eval" else DATA / FILES[preset]


@pytest.mark.parametrize("preset", ["alpaca-eval", *FILES])
def test_every_preset_refuses_a_file_of_another_format_in_one_line(capsys, tmp_path, preset):
    other = DATA / (FILES["helpsteer2"] if preset != "helpsteer2" else FILES["hh-rlhf"])
    code, out, err = run(capsys, "--db", str(tmp_path / "s.db"), "import", str(other), "--from", preset)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: {other}, line 1: field '") and f"every {preset} row has it" in err


@pytest.mark.parametrize("preset", ["alpaca-eval", *FILES])
def test_skip_invalid_works_for_every_preset(capsys, tmp_path, preset):
    src = _file_of(preset, tmp_path)
    text = src.read_text()
    rows = json.loads(text) if src.suffix == ".json" else [json.loads(x) for x in text.splitlines()]
    broken = dict(rows[0])
    broken.pop(ESSENTIAL[preset])  # a good row without a field its format always has
    path = tmp_path / f"broken{src.suffix}"
    good = rows[:2]
    content = good[:1] + [broken] + good[1:]
    path.write_text(json.dumps(content) if src.suffix == ".json" else "".join(json.dumps(r) + "\n" for r in content))
    code, out, err = run(capsys, "--db", str(tmp_path / "strict.db"), "import", str(path), "--from", preset)
    assert code == 2 and ("line 2" in err or "row 2" in err), err
    s = imported(capsys, str(tmp_path / "lenient.db"), path, preset, "--skip-invalid")
    assert s["rejected"] == 1 and s["rows"] == 3
    rejected = [json.loads(x) for x in Path(s["rejects_file"]).read_text().splitlines()]
    assert len(rejected) == 1 and rejected[0].get("line", rejected[0].get("row_number")) == 2
    assert rejected[0]["row"] == broken
    assert s["comparisons_added"] + s["judgments_added"] + s["items_added"] > 0


def _content(db: str) -> tuple[list, list]:
    """What a store says, by content: (prompt, winner text, outcome) per comparison, (text, dimension, value,
    justification) per judgment."""
    with Store(db) as st:
        items = {i.id: i.prompt or json.dumps([m.model_dump() for m in i.messages]) for i in st.iter("items")}
        text = {r.id: r.text for r in st.iter("responses")}
        comps = sorted((items[c.item_id], text.get(c.winner, ""), c.outcome) for c in st.iter("comparisons"))
        judgments = sorted((text[j.response_id], j.dimension, j.value, j.justification) for j in st.iter("judgments"))
    return comps, judgments


@pytest.mark.parametrize("preset", ["chatbot-arena", "mt-bench", "ultrafeedback", "helpsteer2"])
def test_presets_read_the_parquet_their_datasets_are_published_as(capsys, tmp_path, preset):
    """The same rows as Parquet (nested lists and structs as pyarrow writes them, absent keys as nulls)."""
    import pandas as pd

    rows = [json.loads(x) for x in (DATA / FILES[preset]).read_text().splitlines()]
    pd.DataFrame(rows).to_parquet(tmp_path / "train.parquet")
    a = imported(capsys, str(tmp_path / "a.db"), DATA / FILES[preset], preset)
    b = imported(capsys, str(tmp_path / "b.db"), tmp_path / "train.parquet", preset)
    keys = ("rows", "items_added", "responses_added", "comparisons_added", "judgments_added", "skipped")
    assert [a[k] for k in keys] == [b[k] for k in keys]
    assert _content(str(tmp_path / "a.db")) == _content(str(tmp_path / "b.db"))
