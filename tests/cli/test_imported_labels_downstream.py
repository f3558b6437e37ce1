"""Everything assay computes works on imported labels: rank, agreement, judge-report, abtest and preference
exports, after `assay import --from mt-bench` (pairwise) and `--from ultrafeedback` (ratings).

The MT-Bench-layout file is written here: our own questions and answers, with simulated verdicts of
three people and a GPT-4 judge on every pair (seeded).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assay.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "labels"
MODELS = {"strong": 1.2, "middle": 0.0, "weak": -1.2}
HUMANS = ["expert_0", "expert_1", "author_0"]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def mt_bench_file(path: Path, questions: int = 30, seed: int = 4) -> Path:
    """Rows in lmsys/mt_bench_human_judgments' layout: every pair of models on every question's first turn,
    judged by three people and GPT-4 (whose verdicts lean towards the longer answer)."""
    rng = np.random.default_rng(seed)
    names = list(MODELS)
    rows = []
    for q in range(questions):
        answer = {m: f"{m}'s answer to question {q}" + " and more" * int(rng.integers(0, 6)) for m in names}
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                gap = MODELS[a] - MODELS[b]
                for judge in [*HUMANS, "gpt4_pair"]:
                    x = gap + rng.normal(0, 0.8) + (0.3 * (len(answer[a]) - len(answer[b])) / 40
                                                    if judge == "gpt4_pair" else 0.0)
                    winner = "model_a" if x > 0.35 else "model_b" if x < -0.35 else "tie"
                    conv = {m: [{"content": f"Question {q}: tell me something.", "role": "user"},
                                {"content": answer[m], "role": "assistant"},
                                {"content": "And a follow-up?", "role": "user"},
                                {"content": f"{m}'s follow-up", "role": "assistant"}] for m in (a, b)}
                    rows.append({"question_id": 100 + q, "model_a": a, "model_b": b, "winner": winner,
                                 "judge": judge, "conversation_a": conv[a], "conversation_b": conv[b], "turn": 1})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_rank_agreement_judge_report_abtest_and_exports_on_imported_pairwise_labels(capsys, tmp_path, store_url):
    db = ["--db", store_url]
    code, out, err = run(capsys, *db, "import", str(mt_bench_file(tmp_path / "judgments.jsonl")),
                         "--from", "mt-bench")
    assert code == 0 and "360 comparisons" in out, err

    code, out, err = run(capsys, *db, "--json", "rank", "--comparisons", "--kind", "human", "--rounds", "50")
    assert code == 0, err
    board = json.loads(out)["leaderboard"]
    assert [r["model"] for r in board] == ["strong@mt-bench", "middle@mt-bench", "weak@mt-bench"]

    code, out, err = run(capsys, *db, "--json", "rank", "--comparisons", "--baseline", "middle@mt-bench",
                         "--rounds", "20")
    assert code == 0, err
    rates = {r["model"]: r for r in json.loads(out)["win_rates"]}
    assert rates["strong@mt-bench"]["win_rate"] > 0.5 > rates["weak@mt-bench"]["win_rate"]
    assert rates["strong@mt-bench"]["comparisons"] == 30 * 4  # every judge's verdict on the pair counts once

    code, out, err = run(capsys, *db, "--json", "agreement", "--comparisons", "--kind", "human", "--rounds", "50")
    assert code == 0, err
    (section,) = json.loads(out)["sections"]
    assert (section["units"], section["raters"], section["ratings"]) == (90, 3, 270)

    code, out, err = run(capsys, *db, "--json", "judge-report", "--judge", "gpt4_pair")
    assert code == 0, err
    rep = json.loads(out)["pairwise"]
    assert rep["judge"].startswith("llm:gpt4_pair:") and rep["pairs"] == 90
    assert rep["agreement"]["humans"] == sorted(f"human:{h}" for h in HUMANS)
    assert rep["length_bias"]["n_judge"] > 0

    code, out, err = run(capsys, *db, "--json", "abtest", "compare", "weak@mt-bench", "strong@mt-bench",
                         "--kind", "human")
    assert code == 0, err
    (pref,) = json.loads(out)["preferences"]
    assert (pref["items"], pref["comparisons"]) == (30, 90) and pref["win_rate_b"] > 0.5

    for fmt in ("trl", "trl-conversational", "kto", "reward", "hh-rlhf"):
        path = tmp_path / f"prefs.{fmt}.jsonl"
        code, out, err = run(capsys, *db, "--json", "export", "preferences", "--format", fmt, "--out", str(path),
                             "--rater-kind", "human", "--min-raters", "2")
        assert code == 0, err
        rows = [json.loads(x) for x in path.read_text().splitlines()]
        assert rows and json.loads(out)["counts"]["pairs"] == 90, fmt


def test_rank_abtest_and_exports_on_imported_ratings(capsys, tmp_path, store_url):
    db = ["--db", store_url]
    code, out, err = run(capsys, *db, "import", str(DATA / "ultrafeedback.jsonl"), "--from", "ultrafeedback")
    assert code == 0, err
    code, out, err = run(capsys, *db, "--json", "rank", "--rubric", "ultrafeedback", "--dimension", "overall",
                         "--rounds", "20", "--l2", "0.5")
    assert code == 0, err
    scores = {r["model"]: r["score"] for r in json.loads(out)["mean_scores"]}
    assert scores == {"gpt-4@ultrafeedback": pytest.approx(8.75), "alpaca-7b@ultrafeedback": pytest.approx(3.0)}
    code, out, err = run(capsys, *db, "--json", "abtest", "compare", "alpaca-7b@ultrafeedback",
                         "gpt-4@ultrafeedback", "--rubric", "ultrafeedback")
    assert code == 0, err
    assert {d["dimension"] for d in json.loads(out)["dimensions"]} >= {"helpfulness", "overall"}
    path = tmp_path / "prefs.jsonl"
    code, out, err = run(capsys, *db, "--json", "export", "preferences", "--source", "judgments", "--rubric",
                         "ultrafeedback@1", "--dimension", "overall", "--format", "trl", "--out", str(path))
    assert code == 0, err
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["chosen"] in ("1. Leavening in baking. 2. Deodorising a fridge. 3. Scrubbing "
                                                    "stains off pans.", "No. Experiments show goldfish can remember "
                                                    "for months.")
