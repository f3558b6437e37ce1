"""Ties never become preference pairs: a real 3-model pairwise judge run with planted ties, exported in every format."""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest

from assay.cli import main
from assay.io.preferences import FORMATS
from assay.store import Store
from assay.testing import ScriptedServer
from tests.judges.scripted_judges import nonce_of

MODELS = ("m1@1", "m2@1", "m3@1")
# per item, the judge's verdict on each unordered pair: (winner, strength), "tie", "both_bad" or "flip"
# (a position-biased judge: whatever is shown first wins, so the two orders disagree and the pair ties)
PLAN: dict[int, dict[frozenset, object]] = {
    0: {frozenset({"m1", "m2"}): "tie", frozenset({"m1", "m3"}): ("m1", 1), frozenset({"m2", "m3"}): ("m2", 1)},
    1: {frozenset({"m1", "m2"}): ("m1", 1), frozenset({"m2", "m3"}): ("m2", 1), frozenset({"m1", "m3"}): ("m3", 1)},
    2: {frozenset({"m1", "m2"}): ("m1", 2), frozenset({"m2", "m3"}): ("m2", 1), frozenset({"m1", "m3"}): ("m3", 1)},
    3: {frozenset({"m1", "m3"}): "flip", frozenset({"m1", "m2"}): ("m1", 1), frozenset({"m2", "m3"}): ("m3", 1)},
    4: {frozenset({"m1", "m2"}): "both_bad", frozenset({"m1", "m3"}): ("m1", 1), frozenset({"m2", "m3"}): ("m2", 1)},
    5: {frozenset({"m1", "m2"}): ("m1", 1), frozenset({"m2", "m3"}): ("m2", 1), frozenset({"m1", "m3"}): ("m1", 1)},
}


def _text(item: int, model: str) -> str:
    return f"answer {item} by {model}"


def _prompt(body: dict) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def planted_judge(body: dict) -> str:
    text = _prompt(body)
    n = nonce_of(body)
    a = re.search(rf"<<<ANSWER A {n}>>>\nanswer (\d) by (m\d)", text)
    b = re.search(rf"<<<ANSWER B {n}>>>\nanswer \d by (m\d)", text)
    item, ma, mb = int(a.group(1)), a.group(2), b.group(1)
    plan = PLAN[item][frozenset({ma, mb})]
    if plan == "tie":
        verdict = "A=B"
    elif plan == "both_bad":
        verdict = "BOTH BAD"
    elif plan == "flip":
        verdict = "A>B"
    else:
        winner, strength = plan
        mark = ">>" if strength == 2 else ">"
        verdict = f"A{mark}B" if winner == ma else f"B{mark}A"
    return f"Compared.\nVERDICT {n}: {verdict}"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _answer(value) -> str:
    """The response text of a row's chosen/rejected/completion field in any format."""
    if isinstance(value, list):
        return value[-1]["content"]
    return value.rsplit("\n\nAssistant: ", 1)[-1]


def _judge_verdicts(db: str, rater_id: str) -> dict[tuple[str, str], str]:
    """The judge's own pairwise verdicts by (prompt, unordered texts): winner text, 'tie' or 'both_bad'."""
    store = Store(db)
    try:
        resp = {r.id: r for r in store.iter("responses")}
        items = {i.id: i for i in store.iter("items")}
        out = {}
        for c in store.iter("comparisons", rater_id=rater_id):
            if len(c.response_ids) != 2:
                continue
            a, b = (resp[i].text for i in c.response_ids)
            key = (items[c.item_id].prompt, frozenset({a, b}))
            out[key] = resp[c.winner].text if c.outcome == "win" else c.outcome
        return out
    finally:
        store.close()


def test_a_three_model_judge_run_with_planted_ties_exports_no_tied_pair_in_any_format(capsys, tmp_path, store_url):
    rows = [{"id": str(i), "prompt": f"Q{i}", "response": _text(i, m.split("@")[0]), "model": m}
            for i in PLAN for m in MODELS]
    src = tmp_path / "answers.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, _, err = run(capsys, "--db", store_url, "import", str(src), "--model-field", "model", "--dataset", "qa")
    assert code == 0, err
    with ScriptedServer(handler=planted_judge, models=["judge"]) as srv:
        code, out, err = run(capsys, "--db", store_url, "judge", "--pairwise", *MODELS, "--judge", "judge@1",
                             "--base-url", srv.base_url, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["rankings_stored"] == len(PLAN)
    verdicts = _judge_verdicts(store_url, result["rater"]["id"])
    assert len(verdicts) == 3 * len(PLAN)
    tied = {k for k, v in verdicts.items() if v in ("tie", "both_bad")}
    assert len(tied) == 3  # items 0 (tie), 3 (position flip) and 4 (both bad); 1 is a cycle of wins
    wins = {(p, w, next(iter(pair - {w}))) for (p, pair), w in verdicts.items() if w not in ("tie", "both_bad")}

    # the stored rankings say which responses tie (equal points), and an all-round tie ranks nobody
    store = Store(store_url)
    try:
        rankings = {store.get("items", c.item_id).prompt: c for c in store.iter("comparisons")
                    if len(c.response_ids) == 3}
        text = {r.id: r.text for r in store.iter("responses")}
    finally:
        store.close()
    ties = {p: sorted(sorted(text[i].split()[-1] for i in g) for g in c.detail["ties"]) for p, c in rankings.items()}
    assert ties == {"Q0": [["m1", "m2"]], "Q1": [["m1", "m2", "m3"]], "Q2": [], "Q3": [["m1", "m3"]],
                    "Q4": [["m1", "m2"]], "Q5": []}
    assert rankings["Q1"].outcome == "tie" and rankings["Q1"].ranking is None

    for fmt in FORMATS:
        for extra in ((), ("--exclude-ties",)):
            out_file = tmp_path / f"{fmt}{'-x' if extra else ''}.jsonl"
            code, _, err = run(capsys, "--db", store_url, "export", "preferences", "--format", fmt, "--out",
                               str(out_file), *extra)
            assert code == 0, err
            got = [json.loads(line) for line in out_file.read_text().splitlines()]
            manifest = json.loads(out_file.with_name(out_file.name + ".manifest.json").read_text())
            assert manifest["counts"]["records_dropped"] == {"derived_ranking": len(PLAN)}
            if extra:
                assert manifest["counts"]["pairs_dropped"]["tie_vote"] == 2  # both bad is not a tie vote
            if fmt == "kto":
                # a response is desirable when it won a pair, undesirable when it lost one or was called
                # both bad; a tie says neither, and a response with both labels is left out
                labels: dict[tuple[str, str], set[bool]] = defaultdict(set)
                for (p, pair), v in verdicts.items():
                    if v == "both_bad":
                        for t in pair:
                            labels[(p, t)].add(False)
                    elif v != "tie":
                        labels[(p, v)].add(True)
                        labels[(p, next(iter(pair - {v})))].add(False)
                want = {(p, t, next(iter(s))) for (p, t), s in labels.items() if len(s) == 1}
                assert {(r["prompt"], r["completion"], r["label"]) for r in got} == want, fmt
                continue
            pairs = set()
            for r, prov in zip(got, manifest["provenance"]):
                prompt = r["prompt"] if fmt in ("trl", "reward") else f"Q{_answer(r['chosen']).split()[1]}"
                pairs.add((prompt if isinstance(prompt, str) else prompt[-1]["content"],
                           _answer(r["chosen"]), _answer(r["rejected"])))
                assert prov["agreement"] == 1.0 and prov["raters"] == 1
            # exactly the judge's own wins: no tied pair, and no pair the ranking's order turned round
            assert pairs == wins, fmt
            assert not {(p, frozenset({c, r})) for p, c, r in pairs} & tied
