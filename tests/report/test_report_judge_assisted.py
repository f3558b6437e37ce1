"""`assay report`: the judge-assisted (PPI++) table beside a leaderboard whose people and LLM judges share units."""

from __future__ import annotations

import json

from assay.analysis.judge_assisted import JudgeAssist
from assay.analysis.options import Options
from assay.analysis.ranking import rank_models
from assay.cli import main
from assay.store import Store
from tests.analysis.test_judge_assisted import (
    HUMANS,
    JUDGE,
    simulate,
    write_comparisons,
    write_scores,
)

EVIL = '<script>window.__xss=1</script><b onclick="x()">'


def _report(db: str, tmp_path, fmt: str) -> str:
    out = tmp_path / f"r.{fmt}"
    assert main(["--db", db, "report", "--out", str(out), "--rounds", "30"]) == 0
    return out.read_text()


def test_comparisons_board_shows_the_judge_assisted_table_escaped(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'r.db'}"
    s = Store(db)
    write_comparisons(s, simulate(21, items=100), names={"m3@1": f"m3{EVIL}@1"})
    s.close()
    data = json.loads(_report(db, tmp_path, "json"))
    board = next(b for b in data["leaderboards"] if b["title"] == "pairwise preferences (all raters)")
    ja = board["data"]["judge_assisted"]
    s = Store(db)
    want = rank_models(s, comparisons=True, options=Options(rounds=30),
                       assist=JudgeAssist(humans=HUMANS, judges=[JUDGE])).to_dict()["judge_assisted"]
    s.close()
    assert ja == json.loads(json.dumps(want)) and ja["judges"] == [JUDGE] and ja["humans"] == HUMANS
    assert len(ja["leaderboard"]) == 4 and ja["n"] > 0 and ja["N"] > 0
    # the people-only board has none (its raters are the people)
    human_board = next(b for b in data["leaderboards"] if b["title"] == "pairwise preferences (human raters)")
    assert "judge_assisted" not in human_board["data"]
    html = _report(db, tmp_path, "html")
    assert "Judge-assisted ratings (PPI++ Bradley-Terry)" in html and ja["worth"].replace("'", "&#39;") in html
    assert "<script>window.__xss" not in html and 'onclick="x()"' not in html
    assert "m3&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    md = _report(db, tmp_path, "md")
    assert "Judge-assisted ratings (PPI++ Bradley-Terry):" in md and "<script>" not in md
    assert "| PPI++ rating | interval | human only | judge only (biased) |" in md


def test_no_judge_assisted_table_without_shared_units(tmp_path, capsys):
    rows = simulate(22, items=40)
    db = f"sqlite:///{tmp_path / 'r.db'}"
    s = Store(db)
    write_comparisons(s, [r | {"rater": None} for r in rows])  # no people at all
    s.close()
    data = json.loads(_report(db, tmp_path, "json"))
    assert all("judge_assisted" not in (b.get("data") or {}) for b in data["leaderboards"])
    assert "Judge-assisted" not in _report(db, tmp_path, "html")


def test_a_dimension_board_shows_judge_assisted_ratings_from_scores(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'r.db'}"
    s = Store(db)
    write_scores(s, 23)
    s.close()
    data = json.loads(_report(db, tmp_path, "json"))
    board = next(b for b in data["leaderboards"] if b["title"] == "tiny@1 · quality")
    ja = board["data"]["judge_assisted"]
    assert ja["humans"] == ["human:ann"] and ja["judges"] == [JUDGE] and len(ja["leaderboard"]) == 4
    assert ja["units"]["labelled"] == ja["n"] > 0 and ja["N"] > 0
