"""`assay redteam inject` and `assay redteam leak`: prompt injection and secret leakage against a model."""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli._app import (
    BaseUrlOpt, ConcOpt, KeyEnvOpt, MaxTokOpt, TempOpt,
    BackoffOpt, DryRunOpt, G, JsonOpt, NoCacheOpt, RetriesOpt, RpmOpt, TimeoutOpt, TpmOpt, YesOpt, console, emit_json,
    err_console, wants_json,
)
from assay.cli._redteam_results import _pct, _split
from assay.cli._redteam_run import _model
from assay.cli._runs import RunGuard
from assay.cli.redteam import redteam_app
from assay.cli.run_report import run_line

ModelArg = Annotated[str, typer.Option(help="Target model, NAME@VERSION.")]
RepeatsOpt = Annotated[int, typer.Option(min=1, max=1000, help="Instances of each carrier (each with its own canaries).")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the canaries.")]


def _family(family: str, model: str, cases: Any, run: Any, *, base_url: str | None, api_key_env: str | None,
            endpoint: dict[str, Any], concurrency: int, no_cache: bool, yes: bool, dry_run: bool,
            json_out: bool) -> None:
    """Plan, send, link and judge one family's cases; print the rates. ``cases(store)`` gives (behaviours,
    items by attack); ``run(session, target, on_start, on_progress)`` sends them."""
    from assay.redteam.asr import asr
    from assay.redteam.injection import DIMENSION, detect_canaries
    from assay.runs import Plan, generate_plan, remember_endpoint, store_model
    from assay.session import Endpoint, Execution, Session

    store = G.store()
    target = _model(store, model, "--model", base_url, api_key_env)
    params = {"temperature": endpoint["temperature"], "max_tokens": endpoint["max_tokens"]}
    results: list[Any] = []
    with RunGuard(store, yes=yes, dry_run=dry_run, json_out=json_out) as guard:
        _, by_attack = cases()
        plan = Plan()
        for items in by_attack.values():
            plan = plan.merge(generate_plan(store, target, items, dataset=items[0].dataset, params=params,
                                            no_cache=no_cache))
        guard.approve(plan)
        bars: dict[str, Any] = {}
        t0 = time.monotonic()

        def on_start(label: str, run_id: str, total: int) -> None:
            guard.started(run_id, total)
            bars[label] = guard.bar.add_task(f"{label} (run {run_id[:8]})", total=total, rate="")

        def on_progress(label: str, p: Any) -> None:
            rate = (p.succeeded + p.failed) / max(time.monotonic() - t0, 1e-9)
            guard.bar.update(bars[label], completed=p.completed, rate=f"{rate:,.1f}/s  {p.failed} failed")

        session = Session(store, Endpoint(**endpoint, cache="own-run" if no_cache else "on"),
                          Execution(concurrency=concurrency))
        store_model(store, target)
        results = run(session, target, on_start, on_progress)
        if all(r.run.succeeded for r in results):
            remember_endpoint(store, target)
        detect_run, rater = detect_canaries(Session(store), family, models=[target.id])
    dim = DIMENSION[family]
    rates = asr(store, rater=rater.id, dimension=dim, by=("model", "attack"), per="attempt", models=[target.id],
                attacks=[r.attack for r in results])
    kinds = asr(store, rater=rater.id, dimension=dim, by=("model", "category"), per="attempt", models=[target.id],
                attacks=[r.attack for r in results])
    failed = sum(r.run.failed for r in results)
    if wants_json(json_out):
        emit_json({"family": family, "dimension": dim, "rater": rater.id, "detect_run": detect_run.id,
                   "attacks": [{"attack": r.attack, "dataset": r.dataset, "behaviors": r.behaviors,
                                "attempts": r.attempts, "added": r.added, "failed": r.failed, "run": r.run.id}
                               for r in results],
                   "rates": rates["rows"], "by_category": kinds["rows"]})
    else:
        what = "followed the injected instruction" if family == "injection" else "leaked the secret"
        for res, key in ((rates, "attack"), (kinds, "category")):
            t = Table(title=f"{target.id}: share of prompts where the model {what} (per {key}, 95% Wilson interval)",
                      title_justify="left")
            for c in (key, "rate", "interval", "hits / n", "unjudged"):
                t.add_column(c, justify="left" if c == key else "right")
            for r in res["rows"]:
                t.add_row(str(r[key]), _pct(r["asr"]), "-" if r["low"] is None else f"{_pct(r['low'])} - {_pct(r['high'])}",
                          f"{r['successes']} / {r['n']}", str(r["unjudged"]))
            console.print(t)
        for r in results:
            if r.run.failed:
                err_console.print(run_line(r.run), highlight=False)
        console.print(f"verdicts on injection@1/{dim} by {rater.id}; again with `assay redteam asr --dimension {dim}`",
                      highlight=False)
    if failed:
        raise SystemExit(1)


@redteam_app.command("inject")
def inject_cmd(
    model: ModelArg,
    techniques: Annotated[list[str] | None, typer.Option("--technique", help="Injection techniques (repeat or comma-separate; default: all). `assay redteam attacks` lists them.")] = None,
    indirect: Annotated[bool, typer.Option("--indirect", help="Indirect injection: the instruction hides in a document, web page, email or tool result (default: direct, in the user's turn).")] = False,
    carriers: Annotated[list[str] | None, typer.Option("--carrier", help="Only these benign tasks (repeat or comma-separate).")] = None,
    repeats: RepeatsOpt = 2,
    seed: SeedOpt = 0,
    dataset: Annotated[str | None, typer.Option(help="Name of the behaviours dataset (default: injection-direct or injection-indirect).")] = None,
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
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Prompt injection: benign tasks whose input carries an instruction demanding a canary; the rate at which
    the model obeyed, per technique and carrier kind (resumes when run again)."""
    from assay.errors import BadInput
    from assay.redteam import injection as I
    from assay.redteam.options import RunOptions

    techs = _split(techniques) or list(I.TECHNIQUES)
    chosen = _split(carriers) or list(I.INDIRECT if indirect else I.DIRECT)
    for names, known, param, flag in ((techs, I.TECHNIQUES, "techniques", "--technique"),
                                      (chosen, I.CARRIERS, "carriers", "--carrier")):
        bad = [n for n in names if n not in known]
        if bad:
            raise BadInput(f"unknown {param} {', '.join(bad)}; known: {', '.join(known)}", field=flag)
    base = dataset or ("injection-indirect" if indirect else "injection-direct")
    _family("injection", model, lambda: I.injection_cases(base, techs, chosen, repeats=repeats, seed=seed),
            lambda s, m, a, b: I.run_injection(s, m, techniques=techs, carriers=chosen, dataset=base,
                                               options=RunOptions(repeats=repeats, seed=seed, on_start=a,
                                                                  on_progress=b)),
            base_url=base_url, api_key_env=api_key_env, concurrency=concurrency, no_cache=no_cache, yes=yes,
            dry_run=dry_run, json_out=json_out,
            endpoint=dict(temperature=temperature, max_tokens=max_tokens, rpm=rpm, tpm=tpm, timeout=timeout,
                          max_retries=max_retries, backoff_base=backoff))


@redteam_app.command("leak")
def leak_cmd(
    model: ModelArg,
    probes: Annotated[list[str] | None, typer.Option("--probe", help="Extraction prompts (repeat or comma-separate; default: all).")] = None,
    vaults: Annotated[list[str] | None, typer.Option("--vault", help="Where secrets are kept: system prompts or documents (default: all).")] = None,
    repeats: RepeatsOpt = 2,
    seed: SeedOpt = 0,
    dataset: Annotated[str, typer.Option(help="Name of the behaviours dataset.")] = "leakage",
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
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Secret leakage: canaries planted in system prompts and documents, extraction prompts, and the rate at which
    the secret (or a long verbatim part of the system prompt) came out, per probe and vault kind."""
    from assay.errors import BadInput
    from assay.redteam import leakage as L
    from assay.redteam.options import RunOptions

    chosen = _split(probes) or list(L.PROBES)
    where = _split(vaults) or list(L.VAULTS)
    for names, known, param, flag in ((chosen, L.PROBES, "probes", "--probe"), (where, L.VAULTS, "vaults", "--vault")):
        bad = [n for n in names if n not in known]
        if bad:
            raise BadInput(f"unknown {param} {', '.join(bad)}; known: {', '.join(known)}", field=flag)
    _family("leakage", model, lambda: L.leak_cases(dataset, chosen, where, repeats=repeats, seed=seed),
            lambda s, m, a, b: L.run_leakage(s, m, probes=chosen, vaults=where, dataset=dataset,
                                             options=RunOptions(repeats=repeats, seed=seed, on_start=a,
                                                                on_progress=b)),
            base_url=base_url, api_key_env=api_key_env, concurrency=concurrency, no_cache=no_cache, yes=yes,
            dry_run=dry_run, json_out=json_out,
            endpoint=dict(temperature=temperature, max_tokens=max_tokens, rpm=rpm, tpm=tpm, timeout=timeout,
                          max_retries=max_retries, backoff_base=backoff))
