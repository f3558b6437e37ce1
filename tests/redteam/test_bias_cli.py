"""`assay redteam bias ...` and `assay redteam import bbq` in-process, against the scripted server, on both stores."""

from __future__ import annotations

import json

from assay.cli import main
from assay.redteam.bias import bundled_template_items, bundled_terms
from assay.testing import ScriptedServer
from assay.testing.planted import PlantedBias, prompt_groups

from .test_bbq import FILES, answerer


def test_bias_run_results_and_bbq_from_the_cli(store, store_url, capsys, tmp_path):
    db = ["--db", store_url]
    prompts = [t.prompt for t in bundled_template_items()]
    lookup = prompt_groups(prompts, bundled_terms()["age"].groups)
    planted = PlantedBias(lookup, effects={"old": 0.6}, base=0.1, seed=1)
    terms = tmp_path / "t.yaml"
    terms.write_text("tone:\n  calm: {person: a calm person}\n  loud: {person: a loud person}\n")

    def handler(body):
        return answerer(body) if body["model"] in ("mixed", "stereotyped") else planted(body)

    with ScriptedServer(handler=handler) as srv:
        base = ["--base-url", srv.base_url, "--backoff", "0.01", "--max-retries", "1"]
        assert main([*db, "redteam", "bias", "run", "--model", "m@1", "--attribute", "age", "--verifier", "refusal",
                     "--dry-run", *base]) == 0
        assert not srv.chat_requests  # a plan only
        assert main([*db, "redteam", "bias", "run", "--model", "m@1", "--attribute", "age,tone", "--terms", str(terms),
                     "--verifier", "refusal", "--json", *base]) == 0
        out = json.loads(capsys.readouterr().out)
        # tone has no {group} words: the two templates asking about a group are left out for it
        assert [(r["attribute"], r["variants"], r["skipped_templates"]) for r in out] == [("age", 36, 0), ("tone", 20, 2)]
        sent = len(srv.chat_requests)
        assert main([*db, "redteam", "bias", "run", "--model", "m@1", "--attribute", "age,tone", "--terms", str(terms),
                     "--verifier", "refusal", *base]) == 0
        assert len(srv.chat_requests) == sent  # resumed
        assert "next: `assay redteam bias results --model m@1`" in capsys.readouterr().out
        assert main([*db, "redteam", "import", "bbq", *map(str, FILES[:2]), "--json"]) == 0
        assert sum(r["examples"] for r in json.loads(capsys.readouterr().out)) == 80
        assert main([*db, "redteam", "bias", "bbq", "--model", "stereotyped@1", *base]) == 0
    capsys.readouterr()
    assert main([*db, "redteam", "bias", "results", "--model", "m@1", "--attribute", "age", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["attributes"][0]["attribute"] == "age" and res["rater_name"] == "refusal"
    assert main([*db, "redteam", "bias", "results", "--model", "m@1"]) == 0
    text = capsys.readouterr().out
    assert "Holm-adjusted" in text and "tone: 10 templates" in text and "age: 12 templates" in text
    assert main([*db, "redteam", "bias", "bbq-results", "--model", "stereotyped@1", "--rounds", "200", "--json"]) == 0
    rows = {r["category"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["all"]["bias_disambiguated"] == 1.0
    assert main([*db, "redteam", "bias", "bbq-results", "--model", "stereotyped@1", "--rounds", "200"]) == 0
    assert "s_DIS" in capsys.readouterr().out
    # bad input names the flag
    assert main([*db, "redteam", "bias", "results", "--model", "m@1", "--attribute", "planets"]) != 0
    assert "no probes of the attributes planets" in capsys.readouterr().err
    assert main([*db, "redteam", "bias", "run", "--model", "m@1", "--attribute", "planets", *base]) == 2
    assert "--attribute" in capsys.readouterr().err


def test_terms_and_catalogue_list_the_bias_probes(capsys):
    assert main(["redteam", "bias", "terms", "--json"]) == 0
    sets = {s["attribute"] for s in json.loads(capsys.readouterr().out)}
    assert {"gender", "race_ethnicity", "religion", "age", "nationality", "disability"} <= sets
    assert main(["redteam", "attacks", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["counterfactual-bias"]["tests"] == "bias" and rows["bbq"]["tests"] == "bias"
