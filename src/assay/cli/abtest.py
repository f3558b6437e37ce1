"""`assay abtest`: is model B truly better than model A? Paired tests per dimension, and power planning.

``assay abtest MODEL_A MODEL_B`` runs ``assay abtest compare MODEL_A MODEL_B`` (any first
word that is not a subcommand goes to ``compare``); ``assay abtest plan`` sizes a study.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from assay.cli._app import G, JsonOpt, app, console, emit_json, wants_json, confidence_option
from assay.cli._assisted import _f, _p, assisted_section, budget_plan, print_assisted
from assay.cli.agreement import resolve_raters
from assay.errors import BadInput


class _DefaultToCompare(TyperGroup):
    """A group whose unknown first word (a model name) means the ``compare`` subcommand."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["compare", *args]
        return super().parse_args(ctx, args)


abtest_app = typer.Typer(cls=_DefaultToCompare, no_args_is_help=True,
                         help="A/B test model B against model A on the same items; plan a study's size.")
app.add_typer(abtest_app, name="abtest")


def print_abtest(rep: dict[str, Any]) -> None:
    conf = int(round(rep["confidence"] * 100))
    a, b = rep["model_a"], rep["model_b"]
    if rep["dimensions"]:
        rubrics = sorted({s["rubric"] for s in rep["dimensions"]})
        t = Table(title=f"B = {b} against A = {a} on {', '.join(rubrics)}: paired {rep['method']} test per "
                        f"dimension, p adjusted by {rep['adjust']}", title_justify="left")
        for col in ("dimension", "n", "A", "B", "B - A", f"{conf}% CI", "p", "p adj"):
            t.add_column(col, justify="left" if col == "dimension" else "right", no_wrap=True)
        several = len({s["rubric"] for s in rep["dimensions"]}) > 1
        for s in rep["dimensions"]:
            name = f"{s['rubric']} · {s['dimension']}" if several else s["dimension"]
            if s.get("error"):
                t.add_row(name, str(s["n"]), "", "", "", "", "", s["error"])
                continue
            t.add_row(name, str(s["n"]), _f(s["mean_a"], 2), _f(s["mean_b"], 2), f"{s['estimate']:+.2f}",
                      f"[{_f(s['ci_low'], 2)}, {_f(s['ci_high'], 2)}]", _p(s["pvalue"]), _p(s.get("p_adjusted")))
        console.print(t)
        for s in rep["dimensions"]:
            if s.get("verdict"):
                clustered = s.get("n_clusters") and s["n_clusters"] < s["n"]
                note = f" (SE clustered: {s['n_clusters']} clusters)" if clustered else ""
                console.print(f"  {s['verdict']}{note}", highlight=False)
    else:
        console.print(f"no rubric dimension has scores for both {a} and {b} on the same prompts", highlight=False)
    for s in rep["preferences"]:
        what = f"{s['rubric']} · {s['dimension']}" if s.get("dimension") else "pairwise preferences"
        if s.get("error"):
            console.print(f"{what}: {s['items']} items, {s['error']}", highlight=False)
            continue
        console.print(f"{what}: {s['items']} items ({s['comparisons']} comparisons by {s['raters']} raters): "
                      f"B wins {s['wins_b']}, A wins {s['wins_a']}, ties {s['ties']}; B's win rate "
                      f"{s['win_rate_b']:.3f} [{s['ci_low']:.3f}, {s['ci_high']:.3f}], sign test p {'< 0.001' if s['pvalue'] < 0.001 else '= ' + format(s['pvalue'], '.3f')}",
                      highlight=False)
        console.print(f"  {s['verdict']}", highlight=False)


@abtest_app.command()
def compare(
    model_a: Annotated[str, typer.Argument(help="Model A (the baseline), name@version.")],
    model_b: Annotated[str, typer.Argument(help="Model B (the candidate), name@version.")],
    rubric: Annotated[str | None, typer.Option(help="Only this rubric (NAME or NAME@VERSION); default every one.")] = None,
    dimension: Annotated[list[str] | None, typer.Option(help="Only these dimensions (repeatable).")] = None,
    judges: Annotated[list[str] | None, typer.Option("--judge", help=(
        "The judge (repeatable: a panel, averaged): the test runs on its verdicts, and where people also "
        "scored some of the same prompts, PPI++ combines both (human-only, judge-only and PPI++ shown)."))] = None,
    raters: Annotated[list[str] | None, typer.Option("--rater", help="Only these raters: id, name or id prefix.")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="Only raters of these kinds: human, llm, program.")] = None,
    humans: Annotated[list[str] | None, typer.Option("--human", help="With --judge: the people whose scores are the "
                                                                     "truth (default: every rater of --human-kind).")] = None,
    human_kind: Annotated[str, typer.Option(help="With --judge: the rater kind that counts as people.")] = "human",
    calibrate: Annotated[bool, typer.Option("--calibrate", help="With --judge: map the judge's scores onto people's "
                                                                "scale (isotonic, cross-fitted over --folds) before "
                                                                "combining (cross-prediction-powered interval).")] = False,
    folds: Annotated[int, typer.Option(min=2, help="With --calibrate: folds of the cross-fitting.")] = 5,
    human_sample: Annotated[int | None, typer.Option(help="With --judge: keep people's scores on this many prompts "
                                                          "(drawn with --seed), to see what a smaller budget gives "
                                                          "beside people's figure on all of them.")] = None,
    campaign: Annotated[str | None, typer.Option(help="Only verdicts from this campaign (id).")] = None,
    method: Annotated[str, typer.Option(help="t, bootstrap, permutation, wilcoxon or sign.")] = "t",
    adjust: Annotated[str, typer.Option(help="Adjust p across dimensions: holm or fdr_bh.")] = "holm",
    alpha: Annotated[float, typer.Option(help="Significance level of the verdicts.")] = 0.05,
    power: Annotated[float, typer.Option(help="Power for the minimum detectable effect.")] = 0.8,
    confidence: confidence_option("Interval confidence level.") = 0.95,
    no_cluster: Annotated[bool, typer.Option("--no-cluster", help="Ignore items' cluster keys (naive SE).")] = False,
    pair_by: Annotated[str, typer.Option(help="Match prompts by item, by prompt text, or auto.")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and permutation tests.")] = 0,
    executor: Annotated[str, typer.Option(help="local (one pass), partitioned (one dataset at a time, merged) "
                                                "or ray (a Ray task per dataset; RAY_ADDRESS or a local Ray).")] = "local",
    workers: Annotated[int, typer.Option(help="CPUs of the local Ray started by --executor ray.")] = 2,
    out: Annotated[Path | None, typer.Option(help="Also write the report as JSON to this file.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Per dimension: B - A with interval, p, adjusted p and a verdict; pairwise preferences with the sign test."""
    from assay.analysis.abtest import ABSettings, compare_models
    from assay.analysis.options import Options, Selection
    from assay.analysis.sharded import EXECUTORS, Sharding, compare_models_sharded
    from assay.rubrics import get_rubric

    store = G.store()
    rubric_id = get_rubric(store, rubric).id if rubric else None
    chosen = resolve_raters(store, (judges or []) + (raters or []) or None, kind)
    if chosen == []:
        raise BadInput("no rater matches the --judge/--rater/--kind selection")
    if executor not in EXECUTORS:
        raise BadInput(f"--executor must be one of {', '.join(EXECUTORS)}, not {executor!r}")
    judge_kinds = {r.kind for r in store.list("raters") if r.id in set(chosen or ())} if judges else set()
    # with a judge (no person among --judge/--rater), a campaign is where people's labels come from: it narrows
    # people's side of the judge-assisted test, not the judge's own table
    table_campaign = None if judge_kinds and "human" not in judge_kinds else campaign
    select = Selection(rubric=rubric_id, dimensions=dimension, raters=chosen, campaign=table_campaign)
    options = Options(adjust=adjust, alpha=alpha, power=power, confidence=confidence, cluster=not no_cluster,
                      random_state=seed)
    if executor == "local":
        rep = compare_models(store, model_a, model_b, select=select, options=options, method=method, pair_by=pair_by)
    else:
        rep = compare_models_sharded(store, model_a, model_b, select=select, options=options,
                                     test=ABSettings(method=method, pair_by=pair_by),
                                     sharding=Sharding(executor=executor, workers=workers))
    if judges:
        assisted = assisted_section(store, model_a, model_b, judges, humans, human_kind,
                                    replace(select, campaign=campaign), options, pair_by, human_sample,
                                    folds if calibrate else None)
        if assisted is not None:
            rep["judge_assisted"] = assisted
    elif humans or human_sample is not None or calibrate:
        raise BadInput("--human, --human-sample and --calibrate go with --judge (the people whose scores correct "
                       "the judge's)")
    if out:
        out.write_text(json.dumps(rep, indent=2, default=str))
    if wants_json(json_out):
        emit_json(rep)
        return
    if rep.get("judge_assisted"):
        print_assisted(rep["judge_assisted"])
        console.print("the judge's verdicts alone (biased by whatever bias the judge has):", highlight=False)
    print_abtest(rep)


def _k(v: str) -> float:
    if v.lower() in ("inf", "infinity", "∞"):
        return math.inf
    try:
        k = float(v)
    except ValueError:
        raise BadInput(f"K must be a number or inf, not {v!r}") from None
    return k


@abtest_app.command("plan")
def plan_cmd(
    mde: Annotated[float, typer.Option(help="Smallest true difference to detect, in score points.")],
    pilot: Annotated[list[str] | None, typer.Argument(
        help="With --from-pilot: MODEL_A MODEL_B, or a RUN id that involves exactly two models.")] = None,
    power: Annotated[float, typer.Option(help="Power (1 - beta).")] = 0.8,
    alpha: Annotated[float, typer.Option(help="Two-sided significance level.")] = 0.05,
    omega2: Annotated[float | None, typer.Option(help="Variance across items of the true per-item difference.")] = None,
    sigma2_a: Annotated[float, typer.Option("--sigma2-a", help="Within-item variance of one sample of A.")] = 0.0,
    sigma2_b: Annotated[float, typer.Option("--sigma2-b", help="Within-item variance of one sample of B.")] = 0.0,
    k_a: Annotated[str | None, typer.Option("--k-a", help="Samples per item of A (a number or inf; default 1, "
                                                          "or the pilot's).")] = None,
    k_b: Annotated[str | None, typer.Option("--k-b", help="Samples per item of B.")] = None,
    from_pilot: Annotated[bool, typer.Option("--from-pilot", help="Estimate the variances from stored scores of "
                                                                  "the models (or run) given as arguments.")] = False,
    rubric: Annotated[str | None, typer.Option(help="Pilot: the rubric.")] = None,
    dimension: Annotated[str | None, typer.Option(help="Pilot: the dimension.")] = None,
    judges: Annotated[list[str] | None, typer.Option("--judge", help="Pilot: only these raters.")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="Pilot: only raters of these kinds.")] = None,
    human_budget: Annotated[list[int] | None, typer.Option("--human-budget", help=(
        "With --judge and a pilot (MODEL_A MODEL_B): the precision this many human-labelled prompts buy with the "
        "judge on every prompt (PPI++); repeatable."))] = None,
    prompts: Annotated[int | None, typer.Option(help="With --human-budget: prompts in the study (default: the "
                                                     "pilot's, those the judge scored).")] = None,
    humans: Annotated[list[str] | None, typer.Option("--human", help="With --human-budget: the people (default: "
                                                                     "every rater of kind human).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """How many items (and samples per item) a paired A/B test needs to detect --mde (Miller 2024).

    With ``--judge J --human-budget N``: what precision N human-labelled prompts buy when the judge
    scores every prompt (PPI++), from a pilot's stored scores; --mde is then only a reference line.
    """
    from assay.analysis.abtest import plan, plan_from_pilot, resolve_run_models
    from assay.analysis.options import Options, Selection

    if human_budget:
        budget_plan(mde, pilot, judges, humans, human_budget, prompts, rubric, dimension, alpha, power, json_out)
        return
    if prompts is not None or humans:
        raise BadInput("--prompts and --human go with --human-budget")
    ka = _k(k_a) if k_a is not None else None
    kb = _k(k_b) if k_b is not None else None
    if from_pilot:
        if not rubric or not dimension:
            raise BadInput("--from-pilot needs --rubric and --dimension")
        store = G.store()
        if pilot and len(pilot) == 2:
            model_a, model_b = pilot
        elif pilot and len(pilot) == 1:
            model_a, model_b = resolve_run_models(store, pilot[0])
        else:
            raise BadInput("--from-pilot needs MODEL_A MODEL_B (or one RUN id) as arguments")
        from assay.rubrics import get_rubric

        select = Selection(rubric=get_rubric(store, rubric).id, dimensions=(dimension,),
                           raters=resolve_raters(store, judges, kind))
        rep = plan_from_pilot(store, model_a, model_b, mde=mde, select=select,
                              options=Options(alpha=alpha, power=power), k=(ka, kb))
    else:
        if pilot:
            raise BadInput(f"unexpected argument(s) {' '.join(pilot)}: did you mean --from-pilot?")
        if omega2 is None:
            raise BadInput("give --omega2 (and optionally --sigma2-a/--sigma2-b), or --from-pilot")
        rep = plan(mde, omega2=omega2, sigma2_a=sigma2_a, sigma2_b=sigma2_b, k_a=ka or 1, k_b=kb or 1,
                   options=Options(alpha=alpha, power=power))
    if wants_json(json_out):
        emit_json({**rep, "k_a": _jk(rep["k_a"]), "k_b": _jk(rep["k_b"]),
                   "table": [{"k": _jk(r["k"]), "n": r["n"]} for r in rep["table"]]})
        return
    if rep.get("pilot"):
        p = rep["pilot"]
        console.print(f"pilot {p['model_a']} vs {p['model_b']} on {p['rubric']} · {p['dimension']}: {p['n']} prompts, "
                      f"K = {p['k_a']:g} / {p['k_b']:g}; omega² = {p['omega2']:.4g}, sigma²_A = {p['sigma2_a']:.4g}, "
                      f"sigma²_B = {p['sigma2_b']:.4g}; the pilot itself detects {p['mde']:.3g}", highlight=False)
        if p["k_a"] == 1 and p["k_b"] == 1:
            console.print("  one sample per prompt: sampling variance is not separable from omega², so the "
                          "table cannot show what more samples would save", highlight=False)
    console.print(f"n = {rep['n']} items to detect {rep['mde']:g} with power {rep['power']:g} at alpha "
                  f"{rep['alpha']:g} (K_A = {_kk(rep['k_a'])}, K_B = {_kk(rep['k_b'])} samples per item)",
                  highlight=False)
    t = Table(title="items needed by samples per item (K_A = K_B = K)", title_justify="left")
    t.add_column("K", justify="right")
    t.add_column("items", justify="right")
    t.add_column("responses per model", justify="right")
    for r in rep["table"]:
        t.add_row(_kk(r["k"]), str(r["n"]), "—" if math.isinf(r["k"]) else str(int(r["n"] * r["k"])))
    console.print(t)


def _kk(k: float) -> str:
    return "∞" if math.isinf(k) else f"{k:g}"


def _jk(k: float) -> float | str:
    return "inf" if math.isinf(k) else k
