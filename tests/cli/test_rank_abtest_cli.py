"""`assay rank` and `assay abtest` end to end: PandaLM and HANNA leaderboards, planted effects, plans."""

from __future__ import annotations

import ast
import csv
import io
import json
from importlib import resources

import numpy as np
import pytest
from scipy import stats

from assay.cli import main
from assay.stats.ranking import bradley_terry
from assay.store import Store
from tests.analysis.test_abtest_store import A, B, build_ab
from tests.analysis.test_ranking_store import independent_battles


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_rank_pandalm_human_verdicts(capsys, tmp_path, store_url):
    assert run(capsys, "--db", store_url, "load", "pandalm")[0] == 0
    code, out, _ = run(capsys, "--db", store_url, "rank", "--comparisons", "--kind", "human", "--rounds", "200",
                       "--json", "--out", str(tmp_path / "rank.json"))
    assert code == 0
    rep = json.loads(out)
    assert json.loads((tmp_path / "rank.json").read_text()) == rep
    ref = bradley_terry(independent_battles()).sort_values(ascending=False)
    board = rep["leaderboard"]
    assert [r["model"] for r in board] == list(ref.index)
    for r in board:
        assert r["rating"] == pytest.approx(ref[r["model"]], abs=1e-6)
        assert r["lower"] < r["rating"] < r["upper"]
    assert rep["battles"] == 2997 and len(rep["win_rate"]["values"]) == 5
    # the table names every model with its interval
    code, out, _ = run(capsys, "--db", store_url, "rank", "--comparisons", "--kind", "human", "--rounds", "100")
    assert code == 0 and all(m.split("@")[0] in out for m in ref.index) and "95% interval" in out


def test_rank_style_control_on_pandalm(capsys, tmp_path):
    db = str(tmp_path / "p.db")
    assert run(capsys, "--db", db, "load", "pandalm")[0] == 0
    code, out, _ = run(capsys, "--db", db, "rank", "--comparisons", "--kind", "human", "--style-control",
                       "--rounds", "50", "--json")
    assert code == 0
    sc = json.loads(out)["style_control"]
    assert {c["covariate"] for c in sc["coefficients"]} >= {"length"}
    assert len(sc["leaderboard"]) == 5 and all("lower" in r for r in sc["leaderboard"])
    code, out, _ = run(capsys, "--db", db, "rank", "--comparisons", "--judge", "gpt-3.5-turbo", "--style-control",
                       "--rounds", "30")
    assert code == 0 and "style-controlled ratings" in out and "length" in out


@pytest.fixture(scope="module")
def hanna_db(tmp_path_factory):
    """HANNA loaded once for the module (about 15 s), on SQLite."""
    db = str(tmp_path_factory.mktemp("hanna") / "h.db")
    assert main(["--db", db, "load", "hanna"]) == 0
    return db


def csv_means(criterion: str) -> dict[str, float]:
    """Each system's mean human score straight from the bundled CSV, keyed as assay names the model."""
    text = resources.files("assay.data").joinpath("hanna", "hanna_metric_scores_llm.csv").read_text("utf-8")
    out = {}
    for row in csv.DictReader(io.StringIO(text)):
        model = row["Model"].replace(" ", "-").replace("(", "").replace(")", "") + "@hanna"
        out[model] = float(np.mean(ast.literal_eval(row[criterion])))
    return out


def test_rank_hanna_coherence_puts_the_human_stories_first(capsys, hanna_db):
    code, out, _ = run(capsys, "--db", hanna_db, "rank", "--rubric", "hanna@1", "--dimension", "coherence",
                       "--kind", "human", "--rounds", "200", "--json")
    assert code == 0
    rep = json.loads(out)
    truth = csv_means("Coherence")
    # items are per prompt (or, in older stores, per story matched by prompt text): the same battles either way
    assert len(rep["leaderboard"]) == 11 and rep["pair_by"] in ("item", "prompt")
    assert rep["battles"] == 96 * 55  # every pair of the 11 systems on each of the 96 prompts
    means = {r["model"]: r["score"] for r in rep["mean_scores"]}
    assert means == pytest.approx(truth, abs=1e-9)
    assert rep["leaderboard"][0]["model"] == "Human@hanna" and rep["leaderboard"][0]["rank"] == 1
    ratings = {r["model"]: r["rating"] for r in rep["leaderboard"]}
    models = sorted(truth)
    rho = stats.spearmanr([ratings[m] for m in models], [truth[m] for m in models]).statistic
    assert rho > 0.9
    # with every rater (the human mean and 20 LLM raters averaged per story) Human still tops the board
    code, out, _ = run(capsys, "--db", hanna_db, "rank", "--rubric", "hanna", "--dimension", "coherence",
                       "--rounds", "50")
    assert code == 0
    first_row = next(line for line in out.splitlines() if "@hanna" in line)
    assert "Human@hanna" in first_row and "mean score per model" in out


def test_abtest_on_hanna_human_against_a_system(capsys, hanna_db):
    code, out, _ = run(capsys, "--db", hanna_db, "abtest", "GPT-2@hanna", "Human@hanna", "--kind", "human",
                       "--dimension", "coherence", "--json")
    assert code == 0
    (sec,) = json.loads(out)["dimensions"]
    truth = csv_means("Coherence")
    assert sec["estimate"] == pytest.approx(truth["Human@hanna"] - truth["GPT-2@hanna"], abs=1e-9)
    assert sec["verdict"].startswith("Human@hanna is better on coherence: +")


def test_abtest_finds_a_planted_effect_and_says_no_difference_otherwise(capsys, store_url):
    store = Store(store_url)
    build_ab(store, n=80, effects={"factuality": 0.6, "creativity": 0.0}, seed=4)
    store.close()
    code, out, _ = run(capsys, "--db", store_url, "abtest", A, B, "--json")
    assert code == 0
    secs = {s["dimension"]: s for s in json.loads(out)["dimensions"]}
    assert secs["factuality"]["estimate"] > 0 and secs["factuality"]["ci_low"] > 0
    assert secs["creativity"]["ci_low"] < 0 < secs["creativity"]["ci_high"]
    code, out, _ = run(capsys, "--db", store_url, "abtest", "compare", A, B, "--rubric", "ab", "--adjust", "fdr_bh")
    assert code == 0
    assert f"{B} is better on factuality: +" in out
    assert "no detectable difference on creativity (the minimum detectable effect at this n is" in out
    code, out, _ = run(capsys, "--db", store_url, "abtest", "--method", "sign", A, B, "--json")
    assert code == 0 and json.loads(out)["dimensions"][0]["estimand"] == "win_rate"


def test_abtest_clusters_flag_changes_the_se(capsys, tmp_path):
    db = str(tmp_path / "c.db")
    build_ab(Store(db), n=120, effects={"factuality": 0.2}, n_clusters=12, cluster_sd=0.8, seed=7)
    se = {}
    for flag in ([], ["--no-cluster"]):
        code, out, _ = run(capsys, "--db", db, "abtest", A, B, "--json", *flag)
        assert code == 0
        se[bool(flag)] = json.loads(out)["dimensions"][0]["se"]
    assert se[False] > 1.5 * se[True]


def test_plan_prints_millers_969(capsys):
    code, out, _ = run(capsys, "abtest", "plan", "--mde", "0.03", "--omega2", "0.1111", "--power", "0.8")
    assert code == 0 and "n = 969 items" in out
    code, out, _ = run(capsys, "abtest", "plan", "--mde", "0.03", "--omega2", "0.1111", "--sigma2-a", "0.2",
                       "--sigma2-b", "0.2", "--k-a", "inf", "--k-b", "inf", "--json")
    rep = json.loads(out)
    assert code == 0 and rep["n"] == 969 and rep["k_a"] == "inf"
    assert [r["k"] for r in rep["table"]] == [1, 2, 4, 8, "inf"] and rep["table"][-1]["n"] == 969
    assert rep["table"][0]["n"] > rep["table"][1]["n"]


def test_plan_from_pilot(capsys, tmp_path):
    db = str(tmp_path / "pilot.db")
    build_ab(Store(db), n=40, effects={"factuality": 0.3}, k=3, seed=3)
    code, out, _ = run(capsys, "--db", db, "abtest", "plan", "--mde", "0.25", "--from-pilot", A, B,
                       "--rubric", "ab", "--dimension", "factuality", "--json")
    assert code == 0
    rep = json.loads(out)
    assert rep["pilot"]["n"] == 40 and rep["pilot"]["k_a"] == 3 and rep["k_a"] == 3
    assert rep["pilot"]["sigma2_a"] > 0.5  # the pilot's sampling noise has variance ~1
    code, out, _ = run(capsys, "--db", db, "abtest", "plan", "--mde", "0.25", "--from-pilot", A, B,
                       "--rubric", "ab", "--dimension", "factuality")
    assert code == 0 and f"n = {rep['n']} items" in out and "pilot" in out


@pytest.mark.parametrize("args", [
    ["rank"],
    ["rank", "--rubric", "default"],
    ["rank", "--comparisons", "--rater", "nobody"],
    ["abtest", "plan", "--mde", "0.03"],
    ["abtest", "plan", "--mde", "0.03", "--omega2", "0.1", "extra"],
    ["abtest", "plan", "--mde", "-1", "--omega2", "0.1"],
    ["abtest", "plan", "--mde", "0.1", "--from-pilot", "a@1", "b@1"],
    ["abtest", "x@1", "x@1"],
    ["abtest", "x@1", "y@1", "--method", "z"],
])
def test_bad_input_exits_2(capsys, tmp_path, args):
    code, _, err = run(capsys, "--db", str(tmp_path / "e.db"), *args)
    assert code == 2 and err.startswith("error:")
