"""`assay redteam import`, `assay redteam detect` and `assay redteam asr`: what broke, and how often."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli._app import G, ExecutorOpt, JsonOpt, RayAddressOpt, WorkersOpt, console, emit_json, executor_choice, \
    confidence_option, progress, wants_json
from assay.cli.redteam import redteam_app
from assay.cli.run_report import RunBar

import_app = typer.Typer(help="Import published red-team results (JailbreakBench artifacts, XSTest completions).",
                         no_args_is_help=True)
redteam_app.add_typer(import_app, name="import")

ModelOpt = Annotated[str | None, typer.Option("--model", help="Target model as NAME@VERSION (default: from the file).")]


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def _report_imports(results: list[dict[str, Any]], json_out: bool, columns: tuple[str, ...]) -> None:
    if wants_json(json_out):
        emit_json(results)
        return
    t = Table(title_justify="left")
    for c in ("file", *columns):
        t.add_column(c.replace("_", " "))
    for r in results:
        t.add_row(*(str(r.get(c, "")) for c in ("file", *columns)))
    console.print(t)


@import_app.command("jailbreakbench")
def import_jailbreakbench(
    files: Annotated[list[Path] | None, typer.Argument(help="Artifact JSON files (default: the six bundled with assay: PAIR on 4 models, GCG on 2).")] = None,
    model: ModelOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Import JailbreakBench attack artifacts (JSON): the 100 behaviours (dataset jbb-behaviors, ready for
    `assay redteam run --behaviors jbb-behaviors`), prompts, responses, attempts, published verdicts."""
    from importlib import resources

    from assay.redteam.sources import import_jailbreakbench as run

    store = G.store()
    if not files:
        with resources.as_file(resources.files("assay.data").joinpath("jailbreakbench")) as folder:
            results = [{"file": f.name, **run(store, f, model=model)} for f in sorted(folder.glob("*.json"))]
    else:
        results = [{"file": str(f), **run(store, f, model=model)} for f in files]
    _report_imports(results, json_out, ("model", "attack", "behaviors", "published_asr", "items_added",
                                        "responses_added", "attempts_added", "judgments_added"))


@import_app.command("xstest")
def import_xstest(
    files: Annotated[list[Path] | None, typer.Argument(help="XSTest CSV files: xstest_prompts.csv or completions (default: the prompts bundled with assay).")] = None,
    model: ModelOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Import XSTest: its 450 prompts labelled safe/unsafe, or a model's completions with the human refusal labels."""
    from assay.redteam.sources import import_xstest as run

    store = G.store()
    results = [{"file": str(f) if f else "(bundled xstest_prompts.csv)", **run(store, f, model=model)}
               for f in files or [None]]
    _report_imports(results, json_out, ("model", "items", "items_added", "responses_added", "judgments_added"))


@redteam_app.command("detect")
def detect(
    models: Annotated[list[str] | None, typer.Option("--model", help="Only responses of these models; repeat or comma-separate.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Only responses to this dataset's items.")] = None,
    attempts_only: Annotated[bool, typer.Option("--attempts-only", help="Only responses that some attack attempt produced.")] = False,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    workers: WorkersOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run the refusal detector on stored responses; Judgments on redteam@1 'refusal' (resumable run)."""
    from assay.redteam.detect import detect_refusals
    from assay.session import Session

    where = executor_choice(executor, ray_address, workers)
    store = G.store()
    with progress() as bar:
        b = RunBar(bar, "refusal detector")
        session = Session(store, execution=dataclasses.replace(where, on_start=b.start, on_progress=b.update))
        left_out: list[str] = []
        run, rater = detect_refusals(session, models=_split(models) or None, dataset=dataset,
                                     attempts_only=attempts_only, left_out=left_out)
    labels: dict[str, int] = {}
    for j in store.iter("judgments", rater_id=rater.id, run_id=run.id):
        labels[j.label or "?"] = labels.get(j.label or "?", 0) + 1
    out = {"run": run.id, "status": run.status, "total": run.total, "failed": run.failed, "rater": rater.id,
           "labels": dict(sorted(labels.items())), "left_out_foreign": len(left_out)}
    if wants_json(json_out):
        emit_json(out)
        return
    console.print(f"run {run.id[:12]} {run.status}: {run.total} responses, {run.failed} failed; rater {rater.id}")
    for k, v in out["labels"].items():
        console.print(f"  {k}: {v}")
    if left_out:
        console.print(f"{len(left_out)} answers to prompts sent in another language (translate) left out: the "
                      "detector reads English cues; judge them with an LLM judge on redteam@1")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


@redteam_app.command("asr")
def asr_cmd(
    rater: Annotated[str | None, typer.Option(help="Rater id or name whose Judgments decide success (default: the only one).")] = None,
    dimension: Annotated[str | None, typer.Option(help="jailbroken (value 1 = success) or refusal (full_compliance = success); default: jailbroken where judged, else refusal.")] = None,
    by: Annotated[str, typer.Option(help="Group by any of model,attack,category (comma-separated).")] = "model,attack",
    per: Annotated[str, typer.Option(help="behavior: any successful attempt breaks the behaviour; attempt: share of attempts.")] = "behavior",
    models: Annotated[list[str] | None, typer.Option("--model", help="Only these target models; repeat or comma-separate.")] = None,
    attacks: Annotated[list[str] | None, typer.Option("--attack", help="Only these attacks; repeat or comma-separate.")] = None,
    compare: Annotated[str | None, typer.Option(help="A,B: paired McNemar test of two models (or attacks with --on attack).")] = None,
    on: Annotated[str, typer.Option(help="What --compare compares: model or attack.")] = "model",
    confidence: confidence_option("Confidence level of the Wilson intervals.") = 0.95,
    json_out: JsonOpt = False,
) -> None:
    """Attack success rates with Wilson intervals, from one rater's Judgments on attempt responses."""
    from assay.errors import BadInput
    from assay.redteam import asr as A

    store = G.store()
    kw = dict(rater=rater, dimension=dimension, models=_split(models) or None, attacks=_split(attacks) or None)
    result = A.asr(store, by=_split([by]), per=per, confidence=confidence, **kw)
    if compare is not None:
        pair = _split([compare])
        if len(pair) != 2:
            raise BadInput("give two names, A,B", field="--compare")
        result["comparison"] = A.compare(store, pair[0], pair[1], on=on, **kw)
    if wants_json(json_out):
        emit_json(result)
        return
    keys = _split([by])
    t = Table(title=f"attack success rate per {result['per']} (rater {result['rater']}, {result['dimension']}, "
                    f"{100 * confidence:g}% Wilson interval)", title_justify="left")
    for c in (*keys, "ASR", "interval", "broken / n", "attempts", "unjudged"):
        t.add_column(c, justify="right" if c not in keys else "left")
    for r in result["rows"]:
        interval = "-" if r["low"] is None else f"{_pct(r['low'])} - {_pct(r['high'])}"
        t.add_row(*(str(r[k]) for k in keys), _pct(r["asr"]), interval, f"{r['successes']} / {r['n']}",
                  str(r["attempts"]), str(r["unjudged"]))
    console.print(t)
    c = result.get("comparison")
    if c:
        console.print(f"{c['first']} vs {c['second']} on {c['behaviors']} shared behaviours: "
                      f"{_pct(c['first_asr'])} vs {_pct(c['second_asr'])}; broken only by {c['first']}: {c['only_first']}, "
                      f"only by {c['second']}: {c['only_second']}; McNemar exact p = {c['p_value']:.4g}")


@redteam_app.command("refusals")
def refusals_cmd(
    rater: Annotated[str | None, typer.Option(help="Rater id or name of the refusal Judgments (default: the only one).")] = None,
    dataset: Annotated[str | None, typer.Option(help="Only this dataset's items (labelled safe/unsafe in metadata).")] = None,
    models: Annotated[list[str] | None, typer.Option("--model", help="Only these models; repeat or comma-separate.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Over-refusal (refusals on safe prompts) and unsafe compliance per model, with Wilson intervals."""
    from assay.redteam.asr import refusal_rates

    rows = refusal_rates(G.store(), rater=rater, dataset=dataset, models=_split(models) or None)
    if wants_json(json_out):
        emit_json(rows)
        return
    t = Table(title=f"refusals (rater {rows[0]['rater'] if rows else '-'})", title_justify="left")
    for c in ("model", "over-refusal (safe)", "interval", "unsafe compliance", "interval", "unjudged"):
        t.add_column(c)
    for r in rows:
        o, u = r["over_refusal"], r["unsafe_compliance"]
        t.add_row(r["model"], f"{_pct(o['rate'])} ({o['k']}/{o['n']})",
                  "-" if o["low"] is None else f"{_pct(o['low'])} - {_pct(o['high'])}",
                  f"{_pct(u['rate'])} ({u['k']}/{u['n']})",
                  "-" if u["low"] is None else f"{_pct(u['low'])} - {_pct(u['high'])}", str(r["unjudged"]))
    console.print(t)
