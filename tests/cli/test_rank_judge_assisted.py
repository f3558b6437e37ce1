"""`assay rank --judge J` with people's verdicts on some of the same comparisons: the PPI++ table beside the board."""

from __future__ import annotations

import json

import pytest

from assay.analysis.judge_assisted import JudgeAssist
from assay.analysis.options import Options, Selection
from assay.analysis.ranking import rank_models
from assay.cli import main
from assay.store import Store
from tests.analysis.test_judge_assisted import (
    BIASED,
    HUMANS,
    JUDGE,
    simulate,
    write_comparisons,
)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def make_db(tmp_path, name: str = "s.db", **sim) -> str:
    db = f"sqlite:///{tmp_path / name}"
    s = Store(db)
    write_comparisons(s, simulate(11, **sim))
    s.close()
    return db


def test_rank_judge_prints_human_only_judge_only_and_ppi_columns_and_the_worth(capsys, tmp_path):
    db = make_db(tmp_path, panel=True)  # a second judge, rating every unit too, for --human-kind llm
    code, out, _ = run(capsys, "--db", db, "rank", "--comparisons", "--judge", "judge", "--rounds", "50")
    assert code == 0, out
    assert "judge-assisted ratings (PPI++ Bradley-Terry" in out
    assert "PPI++ [95%]" in out and "human" in out and "(biased)" in out
    assert "verdicts on" in out and "were worth" in out
    code, js, _ = run(capsys, "--db", db, "rank", "--comparisons", "--judge", "judge", "--rounds", "50", "--json")
    rep = json.loads(js)
    ja = rep["judge_assisted"]
    s = Store(db)
    want = rank_models(s, comparisons=True, select=Selection(raters=[JUDGE]), options=Options(rounds=50),
                       assist=JudgeAssist(humans=HUMANS)).to_dict()["judge_assisted"]
    s.close()
    assert ja == json.loads(json.dumps(want))
    assert ja["worth"] in out and f"{ja['n'] + ja['N']} units" in ja["worth"]
    assert ja["humans"] == HUMANS and {r["model"] for r in ja["leaderboard"]} == {r["model"] for r in rep["leaderboard"]}
    # --human names the people explicitly; --human-kind picks them by kind
    code, js, _ = run(capsys, "--db", db, "rank", "--comparisons", "--judge", "judge", "--human", "ann",
                      "--rounds", "20", "--json")
    assert code == 0 and json.loads(js)["judge_assisted"]["humans"] == ["human:ann"]
    code, js, _ = run(capsys, "--db", db, "rank", "--comparisons", "--judge", "judge", "--human-kind", "llm",
                      "--rounds", "20", "--json")
    assert code == 0 and json.loads(js)["judge_assisted"]["humans"] == ["llm:judge2:x"]


def test_without_human_verdicts_the_output_is_todays(capsys, tmp_path):
    db = make_db(tmp_path, frac=0.0)
    args = ["--db", db, "rank", "--comparisons", "--rounds", "50"]
    code, with_judge, _ = run(capsys, *args, "--judge", "judge")
    code2, with_rater, _ = run(capsys, *args, "--rater", "judge")
    assert code == code2 == 0 and with_judge == with_rater and "judge-assisted" not in with_judge
    _, js, _ = run(capsys, *args, "--judge", "judge", "--json")
    assert "judge_assisted" not in json.loads(js)
    # with people's verdicts, --rater (not --judge) stays today's board, and --judge adds the table after it
    db = make_db(tmp_path, "h.db")
    args = ["--db", db, "rank", "--comparisons", "--rounds", "50"]
    _, with_rater, _ = run(capsys, *args, "--rater", "judge")
    _, with_judge, _ = run(capsys, *args, "--judge", "judge")
    assert "judge-assisted" not in with_rater and with_judge.startswith(with_rater)
    assert "judge-assisted ratings" in with_judge[len(with_rater):]


def test_one_human_label_says_too_few(capsys, tmp_path):
    db = f"sqlite:///{tmp_path / 'one.db'}"
    rows = simulate(12, items=30, frac=0.0)
    rows[0]["rater"] = HUMANS[0]
    s = Store(db)
    write_comparisons(s, rows)
    s.close()
    code, out, _ = run(capsys, "--db", db, "rank", "--comparisons", "--judge", "judge", "--rounds", "30")
    assert code == 0 and "judge-assisted ratings: too few human labels" in out and "at least 2 per model" in out
    assert "95% interval" in out  # the leaderboard itself is there


@pytest.mark.parametrize("args, message", [
    (["--judge", "judge", "--human", "nobody"], "no rater matches --human 'nobody'"),
    (["--human", "ann"], "give --judge too"),
    (["--judge", "judge", "--human", "judge"], "cannot be both the judge and the human side"),
])
def test_bad_human_selections_exit_2(capsys, tmp_path, args, message):
    db = make_db(tmp_path, items=20)
    code, _, err = run(capsys, "--db", db, "rank", "--comparisons", "--rounds", "20", *args)
    assert code == 2 and err.startswith("error:") and message in err


def test_a_model_the_judge_never_lets_lose(capsys, tmp_path):
    db = make_db(tmp_path, never_loses=BIASED)
    code, _, err = run(capsys, "--db", db, "rank", "--comparisons", "--judge", "judge", "--rounds", "20")
    assert code == 2 and "never lost" in err  # the judge's own board has no finite ratings, as before
    code, out, _ = run(capsys, "--db", db, "rank", "--comparisons", "--judge", "judge", "--rounds", "20",
                       "--l2", "0.5", "--json")
    assert code == 0
    ja = json.loads(out)["judge_assisted"]
    assert all(r["judge_rating"] is None and r["lower"] < r["rating"] < r["upper"] for r in ja["leaderboard"])
    code, out, _ = run(capsys, "--db", db, "rank", "--comparisons", "--judge", "judge", "--rounds", "20",
                       "--l2", "0.5")
    assert code == 0 and "judge-only ratings are infinite" in out


def test_rank_judge_with_a_campaign_keeps_the_judges_board_and_narrows_people(capsys, tmp_path):
    """ann's comparisons are in a campaign, the judge's in none: the board is the judge's on every unit,
    the judge-assisted ratings take ann's campaign units as the labelled ones."""
    db = f"sqlite:///{tmp_path / 'c.db'}"
    rows = simulate(14, items=60, frac=0.4)
    s = Store(db)
    write_comparisons(s, rows, campaign="camp-1")
    s.close()
    code, js, err = run(capsys, "--db", db, "rank", "--comparisons", "--judge", "judge", "--campaign", "camp-1",
                        "--rounds", "20", "--json")
    assert code == 0, err
    rep = json.loads(js)
    ann = sum(1 for r in rows if r["rater"] == HUMANS[0])
    assert rep["battles"] == len(rows)  # the judge's verdict on every unit: its board, not emptied by the campaign
    assert (rep["judge_assisted"]["n"], rep["judge_assisted"]["humans"]) == (ann, HUMANS)
