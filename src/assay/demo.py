"""`assay demo`: the first run, offline, on bundled public data with real human judgments.

It builds a fresh store, runs the IFEval program verifiers on GPT-4's published
responses, measures agreement, ranks models, A/B tests two systems, imports published
red-team results (JailbreakBench's PAIR and GCG artifacts, XSTest's labelled completions)
and runs the refusal detector on them, and writes the report. LLM-judge sections show only real verdicts: those the sources published, and
a judge run here only when an endpoint is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from assay import records as R
from assay.store import Store

AB_PAIR = ("GPT@hanna", "GPT-2@hanna")  # is the newer GPT-2 truly better than GPT on the human ratings?
# people and a judge combined (PPI++): people's labels kept on a seeded few, the judge's published verdicts on all
PANDALM_JUDGE_AB = ("bloom-7b@pandalm-v1", "llama-7b@pandalm-v1", 40)
HANNA_JUDGE_AB = (*AB_PAIR, 30)
JBB_PAIR = ("gpt-4-0125-preview@jbb", "gpt-3.5-turbo-1106@jbb")  # is GPT-4 harder to jailbreak with PAIR?
XSTEST_MODELS = ("gpt4_streval", "llama2new", "llama2orig", "mistralguard", "mistralinstruct")  # gpt4 + strmatch
XSTEST_HUMANS = "xstest.final_label"


def run_demo(store: Store, out_dir: Path, *, base_url: str | None = None, judge: str | None = None,
             rounds: int = 200, say: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Build the demo store and its report; returns what was done and the headline figures."""
    from assay.analysis.abtest import compare_models
    from assay.analysis.agreement import agreement_report
    from assay.analysis.options import Options, Selection
    from assay.analysis.ranking import rank_models
    from assay.bundled import load_hanna, load_pandalm
    from assay.judges import jobs, registry
    from assay.report import Limits, Sections, build_report, to_html
    from assay.rubrics import builtin_names, get_rubric
    from assay.session import Endpoint, Session

    t0 = time.perf_counter()
    out: dict[str, Any] = {"store": store.describe()}
    for name in builtin_names():
        get_rubric(store, name)
    say("loading PandaLM: 999 response pairs, 3 human verdicts each, GPT-3.5's published verdicts")
    out["pandalm"] = load_pandalm(store)
    say("loading HANNA: 96 prompts x 11 story writers (scores only: the texts are not bundled), "
        "human ratings and 5 LLM raters on 6 criteria")
    out["hanna"] = load_hanna(store, prompts=(1,))
    say("loading IFEval: 541 prompts with verifiable instructions and GPT-4's responses")
    data = resources.files("assay.data").joinpath("ifeval")
    with resources.as_file(data) as folder:
        out["ifeval"] = jobs.load_ifeval(store, folder / "input_data.jsonl", folder / "gpt4_responses.jsonl",
                                         model="gpt-4@2023-11-07")
    say("running the IFEval verifiers (strict and loose)")
    out["verifiers"] = {}
    for mode in ("strict", "loose"):
        run, rater = jobs.verify(Session(store), registry.create("ifeval", mode=mode), dataset="ifeval")
        out["verifiers"][mode] = jobs.ifeval_summary(store, rater.id, run_id=run.id)
    say("measuring agreement")
    humans = [f"human:pandalm-annotator{i}" for i in (1, 2, 3)]
    pand = agreement_report(store, select=Selection(raters=humans), options=Options(rounds=rounds),
                            comparisons=True)["sections"][0]
    alpha = next(c for c in pand["coefficients"] if c["coefficient"].startswith("Krippendorff"))
    out["agreement"] = {"pandalm_humans_alpha": alpha, "pandalm_human_kappas": pand.get("matrix"),
                        **_pandalm_raters(store, humans)}
    say("ranking the PandaLM models from the human verdicts")
    board = rank_models(store, comparisons=True, select=Selection(raters=humans), options=Options(rounds=rounds))
    out["leaderboard"] = board.to_dict()["leaderboard"]
    say(f"A/B test: {AB_PAIR[1]} against {AB_PAIR[0]} on the HANNA criteria")
    out["abtest"] = compare_models(store, *AB_PAIR,
                                   select=Selection(rubric="hanna@1", raters=["human:hanna-mturk-mean"]),
                                   preferences=False)
    say("A/B test with people and a judge combined (PPI++): people's verdicts kept on a few items, the judge's on all")
    out["judge_assisted"] = _judge_assisted(store, rounds)
    out["judge_run"] = None
    if base_url and judge:
        say(f"judging GPT-4's 541 IFEval responses on the default rubric with {judge} at {base_url}")
        run, rater = jobs.judge_rubric(Session(store, Endpoint(base_url=base_url)), [judge], "default",
                                       dataset="ifeval")
        out["judge_run"] = {"rater": rater.id, **run.model_dump(mode="json", exclude={"config"})}
    out["redteam"] = _redteam(store, say)
    say("writing the report")
    if out["judge_run"] is None:
        notes = ["No LLM judge was run by this demo (no --base-url was given). The judge sections show only "
                 "verdicts published with the data: GPT-3.5 on PandaLM and five LLMs on HANNA. Run "
                 "`assay demo --base-url URL --judge NAME@VERSION` to judge with a model of yours."]
    else:
        notes = [f"LLM judge run by this demo: {out['judge_run']['rater']} at {base_url} on GPT-4's IFEval "
                 "responses (default rubric; no human ratings exist for them, so it is not validated here)."]
    report = build_report(store, options=Options(rounds=rounds), limits=Limits(judges=4),
                          sections=Sections(ab_models=AB_PAIR, judge_ab=_judge_ab_specs(store)), notes=notes)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    path.write_text(to_html(report), encoding="utf-8")
    out["report"] = str(path)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _judge_ab_specs(store: Store) -> list:
    """The demo's two judge-assisted A/B tests: PandaLM's pairs with GPT-3.5, HANNA's prompts with ChatGPT."""
    from assay.analysis.assisted import JudgeAB
    from assay.analysis.judge_trust import resolve_rater

    gpt35 = resolve_rater(store, "gpt-3.5-turbo").id
    chatgpt = resolve_rater(store, "ChatGPT/p1").id
    return [JudgeAB(*PANDALM_JUDGE_AB[:2], (gpt35,), human_sample=PANDALM_JUDGE_AB[2]),
            JudgeAB(*HANNA_JUDGE_AB[:2], (chatgpt,), rubric="hanna@1", human_sample=HANNA_JUDGE_AB[2])]


def _judge_assisted(store: Store, rounds: int) -> list[dict[str, Any]]:
    """Run the demo's judge-assisted A/B tests (what the report shows), for the CLI's summary."""
    from assay.analysis.assisted import Assist, assisted_report, human_raters
    from assay.analysis.options import Options, Selection

    out = []
    for spec in _judge_ab_specs(store):
        people = human_raters(store, None, "human", spec.judges)
        out.append(assisted_report(store, spec.model_a, spec.model_b, judges=list(spec.judges), humans=people,
                                   select=Selection(rubric=spec.rubric), options=Options(rounds=rounds),
                                   assist=Assist(human_sample=spec.human_sample)))
    return out


def _pandalm_raters(store: Store, humans: list[str]) -> dict[str, list[str]]:
    """The names of the raters the demo's PandaLM agreement covers, and of those who also judged the pairs
    but are left out of it (GPT-3.5's published verdicts), so each figure says whom it is about."""
    names = {r.id: r.name or r.id for r in store.list(R.Rater)}
    items = set(store.columns("items", ["id"], dataset="pandalm")["id"])
    cmp = store.columns("comparisons", ["rater_id", "item_id"])
    others = sorted(set(cmp.loc[cmp["item_id"].isin(items), "rater_id"]) - set(humans))
    return {"raters": [names.get(h, h) for h in humans], "left_out": [names.get(o, o) for o in others]}


def _redteam(store: Store, say: Callable[[str], None]) -> dict[str, Any]:
    """Import JailbreakBench's PAIR and GCG artifacts and XSTest's completions, run the refusal detector
    on XSTest, and measure ASR, a paired comparison and over-refusal by humans and by the detector."""
    from assay.redteam import compare, detect_refusals, import_jailbreakbench, import_xstest, refusal_rates
    from assay.redteam.asr import asr
    from assay.redteam.sources import imported_rater
    from assay.session import Session
    from assay.stats.agreement import cohen_kappa_interval

    data = resources.files("assay.data")
    say("red team: importing JailbreakBench's PAIR (4 models) and GCG (2 models) attack artifacts")
    with resources.as_file(data.joinpath("jailbreakbench")) as folder:
        imports = [import_jailbreakbench(store, f) for f in sorted(folder.glob("*.json"))]
    say("red team: importing XSTest's completions of 5 models with their human labels")
    with resources.as_file(data.joinpath("xstest")) as folder:
        xs = [import_xstest(store, folder / f"xstest_v2_completions_{m}.csv") for m in XSTEST_MODELS]
    say("red team: running the refusal detector over the 2,250 XSTest responses")
    run, detector = detect_refusals(Session(store), dataset="xstest")
    judge = imported_rater("jailbreakbench.artifact", "jailbroken").id
    rates = asr(store, rater=judge, by=("model", "attack"))["rows"]
    published = {(i["model"], i["attack"]): i["published_asr"] for i in imports}
    humans = imported_rater("xstest", XSTEST_HUMANS.split(".", 1)[1], kind="human").id
    by_human = {r["model"]: r for r in refusal_rates(store, rater=humans, dataset="xstest")}
    by_detector = {r["model"]: r for r in refusal_rates(store, rater=detector.id, dataset="xstest")}
    labels = {}
    for j in store.iter(R.Judgment, dimension="refusal", rater_id=[humans, detector.id]):
        labels.setdefault(j.response_id, {})[j.rater_id] = j.label
    pairs = [(v[humans], v[detector.id]) for v in labels.values() if len(v) == 2]
    kappa = cohen_kappa_interval([a for a, _ in pairs], [b for _, b in pairs],
                                 categories=["full_compliance", "partial_refusal", "full_refusal"])
    refused = cohen_kappa_interval([a != "full_compliance" for a, _ in pairs],
                                   [b != "full_compliance" for _, b in pairs], categories=[False, True])
    return {
        "asr_rater": judge,
        "asr": [{**r, "published": published.get((r["model"], r["attack"]))} for r in rates],
        "compare": compare(store, *JBB_PAIR, on="model", rater=judge, attacks=["PAIR"]),
        "xstest_models": [x["model"] for x in xs],
        "detector": {"rater": detector.id, "run": run.id, "judged": run.succeeded},
        "over_refusal": [{"model": m, "humans": by_human[m]["over_refusal"],
                          "detector": by_detector[m]["over_refusal"],
                          "unsafe_compliance_humans": by_human[m]["unsafe_compliance"]} for m in sorted(by_human)],
        "kappa": {"humans": humans, "detector": detector.id, "n": len(pairs),
                  "three_labels": {"estimate": kappa.estimate, "low": kappa.low, "high": kappa.high},
                  "refused_or_not": {"estimate": refused.estimate, "low": refused.low, "high": refused.high}},
    }
