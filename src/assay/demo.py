"""`assay demo`: the first run, offline, on bundled public data with real human judgments.

It builds a fresh store, runs the IFEval program verifiers on GPT-4's published
responses, measures agreement, ranks models, A/B tests two systems and writes the
report. LLM-judge sections show only real verdicts: those the sources published, and
a judge run here only when an endpoint is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from assay.store import Store

AB_PAIR = ("GPT@hanna", "GPT-2@hanna")  # is the newer GPT-2 truly better than GPT on the human ratings?


def run_demo(store: Store, out_dir: Path, *, base_url: str | None = None, judge: str | None = None,
             rounds: int = 200, say: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Build the demo store and its report; returns what was done and the headline figures."""
    from assay.analysis.abtest import compare_models
    from assay.analysis.agreement import agreement_report
    from assay.analysis.ranking import rank_models
    from assay.bundled import load_hanna, load_pandalm
    from assay.judges import jobs, registry
    from assay.report import build_report, to_html
    from assay.rubrics import builtin_names, get_rubric

    t0 = time.perf_counter()
    out: dict[str, Any] = {"store": store.describe()}
    for name in builtin_names():
        get_rubric(store, name)
    say("loading PandaLM: 999 response pairs, 3 human verdicts each, GPT-3.5's published verdicts")
    out["pandalm"] = load_pandalm(store)
    say("loading HANNA: 96 prompts x 11 story generators, human ratings and 5 LLM raters on 6 criteria")
    out["hanna"] = load_hanna(store, prompts=(1,))
    say("loading IFEval: 541 prompts with verifiable instructions and GPT-4's responses")
    data = resources.files("assay.data").joinpath("ifeval")
    with resources.as_file(data) as folder:
        out["ifeval"] = jobs.load_ifeval(store, folder / "input_data.jsonl", folder / "gpt4_responses.jsonl",
                                         model="gpt-4@2023-11-07")
    say("running the IFEval verifiers (strict and loose)")
    out["verifiers"] = {}
    for mode in ("strict", "loose"):
        run, rater = jobs.verify(store, registry.create("ifeval", mode=mode), dataset="ifeval")
        out["verifiers"][mode] = jobs.ifeval_summary(store, rater.id, run_id=run.id)
    say("measuring agreement")
    humans = [f"human:pandalm-annotator{i}" for i in (1, 2, 3)]
    pand = agreement_report(store, comparisons=True, raters=humans, rounds=rounds)["sections"][0]
    alpha = next(c for c in pand["coefficients"] if c["coefficient"].startswith("Krippendorff"))
    out["agreement"] = {"pandalm_humans_alpha": alpha, "pandalm_human_kappas": pand.get("matrix")}
    say("ranking the PandaLM models from the human verdicts")
    board = rank_models(store, comparisons=True, raters=humans, rounds=rounds)
    out["leaderboard"] = board.to_dict()["leaderboard"]
    say(f"A/B test: {AB_PAIR[1]} against {AB_PAIR[0]} on the HANNA criteria")
    out["abtest"] = compare_models(store, *AB_PAIR, rubric="hanna@1",
                                   raters=["human:hanna-mturk-mean"], preferences=False)
    out["judge_run"] = None
    if base_url and judge:
        say(f"judging GPT-4's 541 IFEval responses on the default rubric with {judge} at {base_url}")
        run, rater = jobs.judge_rubric(store, [judge], "default", base_url=base_url, dataset="ifeval")
        out["judge_run"] = {"rater": rater.id, **run.model_dump(mode="json", exclude={"config"})}
    say("writing the report")
    if out["judge_run"] is None:
        notes = ["No LLM judge was run by this demo (no --base-url was given). The judge sections show only "
                 "verdicts published with the data: GPT-3.5 on PandaLM and five LLMs on HANNA. Run "
                 "`assay demo --base-url URL --judge NAME@VERSION` to judge with a model of yours."]
    else:
        notes = [f"LLM judge run by this demo: {out['judge_run']['rater']} at {base_url} on GPT-4's IFEval "
                 "responses (default rubric; no human ratings exist for them, so it is not validated here)."]
    report = build_report(store, rounds=rounds, ab_models=AB_PAIR, max_judges=4, notes=notes)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    path.write_text(to_html(report), encoding="utf-8")
    out["report"] = str(path)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out
