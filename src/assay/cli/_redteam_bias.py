"""`assay redteam bias ...` and `assay redteam import bbq`: counterfactual bias probes and BBQ."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli._app import (
    confidence_option,
    BaseUrlOpt, ConcOpt, KeyEnvOpt, MaxTokOpt, TempOpt,
    BackoffOpt, DryRunOpt, ExecutorOpt, G, JsonOpt, NoCacheOpt, PriceInOpt, PriceOutOpt, RayAddressOpt, RetriesOpt,
    RpmOpt, TimeoutOpt, TpmOpt, WorkersOpt, YesOpt, console, emit_json, err_console, executor_choice, wants_json,
)
from assay.cli._boundary import flags_for
from assay.cli._redteam_results import _split, import_app
from assay.cli._runs import RunGuard
from assay.cli.redteam import redteam_app
from assay.cli.run_report import run_line

bias_app = typer.Typer(help="Bias: counterfactual probes (one prompt, the demographic term swapped) and BBQ questions.",
                       no_args_is_help=True)
redteam_app.add_typer(bias_app, name="bias")

ModelOpt = Annotated[str, typer.Option(help="Target model, NAME@VERSION.")]
ConfidenceOpt = confidence_option()
SamplesOpt = Annotated[int, typer.Option(min=1, help="Answers per prompt.")]


def _verifier(text: str | None) -> Any:
    """The program judge ``NAME`` or ``NAME(key=value, ...)`` (refusal: the red-team refusal detector)."""
    if text is None:
        return None
    from assay.errors import AssayError, BadInput
    from assay.judges import registry
    from assay.plugins import parse_call
    from assay.redteam import detect  # noqa: F401 - registers the refusal detector

    try:
        name, args = parse_call(text, "program judge", lambda n: registry.get(n).defaults)
        return registry.create(name, **args)
    except (ValueError, TypeError, AssayError) as e:
        raise BadInput(str(getattr(e, "reason", e)), field="--verifier") from None


@bias_app.command("terms")
def terms_cmd(
    terms: Annotated[Path | None, typer.Option(help="A YAML or JSON file of your own term sets (attribute -> group -> {person, group}).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the term sets the counterfactual probes swap in: assay's, and yours with --terms."""
    from assay.redteam.bias import term_sets

    sets = term_sets(None, terms)
    if wants_json(json_out):
        emit_json([{**s.spec(), "source": s.source} for s in sets])
        return
    t = Table(title="bias term sets ({person} / {group} become these words)", title_justify="left")
    for c in ("attribute", "group", "{person}", "{group}", "source"):
        t.add_column(c)
    for s in sets:
        for g, forms in s.groups.items():
            t.add_row(s.attribute, g, forms.get("person", "-"), forms.get("group", "-"), s.source)
    console.print(t)


@bias_app.command("run")
def run_cmd(
    model: ModelOpt,
    templates: Annotated[str | None, typer.Option(help="Dataset of template items with {person} or {group} (default: assay's, stored as bias-templates).")] = None,
    attribute: Annotated[list[str] | None, typer.Option(help="Attributes to probe; repeat or comma-separate (default: all term sets).")] = None,
    terms: Annotated[Path | None, typer.Option(help="A YAML or JSON file of your own term sets, added to assay's.")] = None,
    verifier: Annotated[str | None, typer.Option(help="Judge the answers with this program verifier, e.g. refusal (or judge them later: `assay judge --dataset`).")] = None,
    samples: SamplesOpt = 1,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N templates.")] = None,
    base_url: BaseUrlOpt = None,
    api_key_env: KeyEnvOpt = None,
    temperature: TempOpt = None,
    max_tokens: MaxTokOpt = None,
    concurrency: ConcOpt = 16,
    rpm: RpmOpt = None,
    tpm: TpmOpt = None,
    timeout: TimeoutOpt = 120.0,
    max_retries: RetriesOpt = 6,
    backoff: BackoffOpt = 1.0,
    no_cache: NoCacheOpt = False,
    price_in: PriceInOpt = None,
    price_out: PriceOutOpt = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    workers: WorkersOpt = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Ask a model every template with each group's term swapped in (one dataset per attribute); resumes when run again.

    Then `assay redteam bias results --model M` gives the paired gaps between groups.
    """
    from assay.cli._redteam_run import _model
    from assay.redteam.bias import make_variants, run_bias, template_items, term_sets, TEMPLATES_DATASET
    from assay.redteam.options import RunOptions
    from assay.runs import Plan, generate_plan, remember_endpoint, store_model
    from assay.session import Endpoint, Session

    where = executor_choice(executor, ray_address, workers)
    judge = _verifier(verifier)
    store = G.store()
    with flags_for(attributes="--attribute", templates="--templates"):
        sets = term_sets(_split(attribute) or None, terms)
    target = _model(store, model, "--model", base_url, api_key_env, (price_in, price_out))
    params = {"temperature": temperature, "max_tokens": max_tokens}
    with RunGuard(store, yes=yes, dry_run=dry_run, json_out=json_out) as guard, \
            flags_for(attributes="--attribute", templates="--templates"):
        rows = template_items(store, templates, limit=limit)
        plan = Plan()
        for ts in sets:
            name, items, _ = make_variants(rows, templates or TEMPLATES_DATASET, ts)
            plan = plan.merge(generate_plan(store, target, items, dataset=name, samples=samples, params=params,
                                            no_cache=no_cache))
        guard.approve(plan)
        bar, bars, t0 = guard.bar, {}, time.monotonic()

        def on_start(label: str, run_id: str, total: int) -> None:
            guard.started(run_id, total)
            bars[label] = bar.add_task(f"{label} (run {run_id[:8]})", total=total, rate="")

        def on_progress(label: str, p: Any) -> None:
            rate = (p.succeeded + p.failed) / max(time.monotonic() - t0, 1e-9)
            bar.update(bars[label], completed=p.completed, rate=f"{rate:,.1f}/s  {p.failed} failed")

        endpoint = Endpoint(temperature=temperature, max_tokens=max_tokens, rpm=rpm, tpm=tpm, timeout=timeout,
                            max_retries=max_retries, backoff_base=backoff, cache="own-run" if no_cache else "on")
        session = Session(store, endpoint, dataclasses.replace(where, concurrency=concurrency))
        store_model(store, target)
        results = run_bias(session, target, templates=templates, attributes=[s.attribute for s in sets], terms=terms,
                           options=RunOptions(samples=samples, judge=judge, limit=limit, on_start=on_start,
                                              on_progress=on_progress))
        if any(r.run.succeeded for r in results):
            remember_endpoint(store, target)
    failed = sum(r.run.failed + (r.judge_run.failed if r.judge_run else 0) for r in results)
    if wants_json(json_out):
        emit_json([{"attribute": r.attribute, "dataset": r.dataset, "templates": r.templates, "variants": r.variants,
                    "skipped_templates": r.skipped, "groups": r.groups, "run": r.run.id, "failed": r.run.failed,
                    "judge_run": r.judge_run.id if r.judge_run else None, "rater": r.rater} for r in results])
    else:
        t = Table(title=f"counterfactual bias probes of {model}", title_justify="left")
        for c in ("attribute", "groups", "templates", "prompts", "failed", "dataset", "judged by"):
            t.add_column(c)
        for r in results:
            t.add_row(r.attribute, str(len(r.groups)), f"{r.templates}" + (f" ({r.skipped} left out)" if r.skipped else ""),
                      str(r.variants), str(r.run.failed), r.dataset, r.rater or "-")
        console.print(t)
        for r in results:
            if r.run.failed:
                err_console.print(run_line(r.run), highlight=False)
        nxt = (f"`assay redteam bias results --model {model}`" if judge is not None else
               "judge the answers (`--verifier refusal`, or `assay judge --dataset DATASET`), then "
               f"`assay redteam bias results --model {model}`")
        console.print(f"next: {nxt}", highlight=False)
    if failed:
        raise SystemExit(1)


def _num(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:+.{digits}f}" if digits else f"{x}"


def _p(x: float | None) -> str:
    from assay.stats.abtest import format_pvalue

    return "-" if x is None else format_pvalue(x)


@bias_app.command("results")
def results_cmd(
    model: ModelOpt,
    rater: Annotated[str | None, typer.Option(help="Rater id or name whose verdicts are the scores (default: the only one).")] = None,
    dimension: Annotated[str | None, typer.Option(help="The rater's dimension (default: its only one).")] = None,
    attribute: Annotated[list[str] | None, typer.Option(help="Only these attributes; repeat or comma-separate.")] = None,
    templates: Annotated[str | None, typer.Option(help="Only probes of this templates dataset.")] = None,
    method: Annotated[str, typer.Option(help="Paired test: t, bootstrap, permutation or wilcoxon.")] = "t",
    top: Annotated[int, typer.Option(min=0, help="Most divergent template pairs shown per attribute.")] = 3,
    confidence: ConfidenceOpt = 0.95,
    json_out: JsonOpt = False,
) -> None:
    """Counterfactual bias: per attribute, the paired gap between every two groups, its interval and Holm-adjusted p."""
    from assay.errors import BadInput
    from assay.redteam.bias import GapOptions, bias_results

    if method not in ("t", "bootstrap", "permutation", "wilcoxon"):
        raise BadInput("must be t, bootstrap, permutation or wilcoxon", field="--method")
    with flags_for(attributes="--attribute", templates="--templates"):
        res = bias_results(G.store(), model, templates=templates, attributes=_split(attribute) or None, rater=rater,
                           dimension=dimension, options=GapOptions(confidence=confidence, method=method, top=top))
    if wants_json(json_out):
        emit_json(res)
        return
    pct = f"{100 * confidence:g}%"
    console.print(f"{model}: {res['judged']} answers judged by {res['rater_name']} on {res['dimension']}"
                  f" ({res['unjudged']} unjudged); gap = mean over templates of score(A) - score(B), {pct} "
                  f"{res['method']} intervals, p-values Holm-adjusted over all {sum(len(a['gaps']) for a in res['attributes'])} gaps",
                  highlight=False)
    for a in res["attributes"]:
        t = Table(title=f"{a['attribute']}: {a['templates']} templates" + ("  [bias found]" if a["flagged"] else ""),
                  title_justify="left")
        for c in ("A", "B", "templates", "mean A", "mean B", "gap A-B", "interval", "p", "p (Holm)", ""):
            t.add_column(c, justify="left" if c in ("A", "B", "") else "right")
        for g in a["gaps"]:
            t.add_row(g["group_a"], g["group_b"], str(g["n"]), _num(g["mean_a"]).lstrip("+"), _num(g["mean_b"]).lstrip("+"),
                      _num(g["estimate"]), "-" if g["low"] is None else f"{_num(g['low'])} .. {_num(g['high'])}",
                      _p(g["p_value"]), _p(g["p_adjusted"]), "*" if g["flagged"] else "")
        console.print(t)
        for d in a["divergent"]:
            console.print(f"  template {d['template']}: {d['a']['group']} {d['a']['score']:.2f} vs "
                          f"{d['b']['group']} {d['b']['score']:.2f}", highlight=False)
            for side in (d["a"], d["b"]):
                console.print(f"    [{side['group']}] {side['prompt']}\n      -> {side['answer']}", highlight=False,
                              markup=False)


@bias_app.command("bbq")
def bbq_cmd(
    model: ModelOpt,
    dataset: Annotated[str, typer.Option(help="The BBQ dataset (`assay redteam import bbq`).")] = "bbq",
    samples: SamplesOpt = 1,
    base_url: BaseUrlOpt = None,
    api_key_env: KeyEnvOpt = None,
    temperature: TempOpt = None,
    max_tokens: MaxTokOpt = None,
    concurrency: ConcOpt = 16,
    rpm: RpmOpt = None,
    tpm: TpmOpt = None,
    timeout: TimeoutOpt = 120.0,
    max_retries: RetriesOpt = 6,
    backoff: BackoffOpt = 1.0,
    no_cache: NoCacheOpt = False,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    workers: WorkersOpt = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Ask a model the BBQ questions and read which option each answer chose (verifier bbq-choice); resumable."""
    from assay.cli._redteam_run import _model
    from assay.errors import NotFound
    from assay import records as R
    from assay.redteam.bbq import run_bbq
    from assay.runs import generate_plan, remember_endpoint, store_model
    from assay.session import Endpoint, Session

    where = executor_choice(executor, ray_address, workers)
    store = G.store()
    target = _model(store, model, "--model", base_url, api_key_env)
    items = store.list(R.Item, dataset=dataset)
    if not items:
        raise NotFound(f"no dataset {dataset!r} with items: import BBQ with `assay redteam import bbq FILES`")
    params = {"temperature": temperature, "max_tokens": max_tokens}
    with RunGuard(store, yes=yes, dry_run=dry_run, json_out=json_out) as guard:
        guard.approve(generate_plan(store, target, items, dataset=dataset, samples=samples, params=params,
                                    no_cache=no_cache))
        endpoint = Endpoint(temperature=temperature, max_tokens=max_tokens, rpm=rpm, tpm=tpm, timeout=timeout,
                            max_retries=max_retries, backoff_base=backoff, cache="own-run" if no_cache else "on")
        session = Session(store, endpoint, dataclasses.replace(where, concurrency=concurrency))
        store_model(store, target)
        gen, judged, rater = run_bbq(session, target, dataset=dataset, samples=samples)
        if gen.succeeded:
            remember_endpoint(store, target)
    out = {"generation": gen.id, "answered": gen.succeeded, "failed": gen.failed, "verify": judged.id,
           "read": judged.succeeded, "rater": rater.id}
    if wants_json(json_out):
        emit_json(out)
    else:
        console.print(f"{gen.succeeded} answered, {gen.failed} failed (run {gen.id[:12]}); choices read by {rater.id}",
                      highlight=False)
        if gen.failed:
            err_console.print(run_line(gen), highlight=False)
        console.print(f"next: `assay redteam bias bbq-results --model {model}`", highlight=False)
    if gen.failed or judged.failed:
        raise SystemExit(1)


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _ci(v: list[float] | None) -> str:
    return "-" if not v else f"{v[0]:.3f} .. {v[1]:.3f}"


@bias_app.command("bbq-results")
def bbq_results_cmd(
    model: ModelOpt,
    dataset: Annotated[str, typer.Option(help="The BBQ dataset.")] = "bbq",
    confidence: ConfidenceOpt = 0.95,
    rounds: Annotated[int, typer.Option(min=100, help="Bootstrap resamples.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """BBQ accuracy and bias scores (s_DIS, s_AMB; Parrish et al. 2022) per category, with bootstrap intervals."""
    from assay.redteam.bbq import bbq_results

    res = bbq_results(G.store(), model, dataset=dataset, confidence=confidence, rounds=rounds, seed=seed)
    if wants_json(json_out):
        emit_json(res)
        return
    t = Table(title=f"BBQ, {model}: {res['read']} answers read ({100 * confidence:g}% intervals, template "
                    f"bootstrap, seed {seed}); bias scores run from -1 (against the stereotype) to 1 (always it)",
              title_justify="left")
    for c in ("category", "answers", "unread", "accuracy (ambiguous)", "interval", "accuracy (disamb.)", "interval",
              "s_AMB", "interval", "s_DIS", "interval"):
        t.add_column(c, justify="left" if c == "category" else "right")
    for r in res["rows"]:
        ci = r["intervals"]
        t.add_row(r["category"], str(r["answers"]), str(r["unparsed"]), _f(r["accuracy_ambiguous"]),
                  _ci(ci["accuracy_ambiguous"]), _f(r["accuracy_disambiguated"]), _ci(ci["accuracy_disambiguated"]),
                  _f(r["bias_ambiguous"]), _ci(ci["bias_ambiguous"]), _f(r["bias_disambiguated"]),
                  _ci(ci["bias_disambiguated"]))
    console.print(t)


@import_app.command("bbq")
def import_bbq_cmd(
    files: Annotated[list[Path], typer.Argument(help="BBQ JSONL files (data/<Category>.jsonl of github.com/nyu-mll/BBQ, CC-BY-4.0).")],
    dataset: Annotated[str, typer.Option(help="Dataset to import into.")] = "bbq",
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N examples of each file.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Import BBQ question sets (Parrish et al. 2022): one item per example, ready for `assay redteam bias bbq`."""
    from assay.redteam.bbq import import_bbq

    store = G.store()
    results = [{"file": str(f), **import_bbq(store, f, dataset=dataset, limit=limit)} for f in files]
    if wants_json(json_out):
        emit_json(results)
        return
    t = Table(title_justify="left")
    for c in ("file", "dataset", "examples", "new items", "categories", "without a bias target"):
        t.add_column(c)
    for r in results:
        t.add_row(r["file"], r["dataset"], str(r["examples"]), str(r["items_added"]), ", ".join(r["categories"]),
                  str(r["without_target"]))
    console.print(t)
