"""`assay redteam run` and `assay redteam attacks`: attack a target model."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli._app import (
    BackoffOpt, ExecutorOpt, G, JsonOpt, NoCacheOpt, RayAddressOpt, RetriesOpt, RpmOpt, TimeoutOpt, TpmOpt,
    WorkersOpt, console, emit_json, err_console, executor_choice, progress, wants_json,
)
from assay.cli.generate import _summary
from assay.cli.redteam import redteam_app


@redteam_app.command("attacks")
def attacks_cmd(json_out: JsonOpt = False) -> None:
    """List the prompt converters, attacks and program scorers, with what each tests."""
    from assay.redteam.attacks import catalog

    rows = catalog()
    if wants_json(json_out):
        emit_json(rows)
        return
    t = Table(title="red-team converters and attacks (chain converters with '+', e.g. roleplay+prefix)",
              title_justify="left")
    for col in ("kind", "name", "what it tests", "arguments (defaults)"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["kind"], r["name"], r["description"], ", ".join(f"{k}={v!r}" for k, v in r["args"].items()))
    console.print(t)


def _model(store: Any, ref: str, field: str, base_url: str | None, api_key_env: str | None) -> Any:
    """The stored model ``ref`` (or a new one), with the given base URL and key variable when it has none."""
    from assay import records as R
    from assay.errors import BadInput

    try:
        R.split_model_id(ref)
    except ValueError as e:
        raise BadInput(str(e), field=field) from None
    stored = store.find("models", ref)
    fields: dict[str, Any] = stored.model_dump() if stored is not None else {"id": ref}
    if base_url and not fields.get("base_url"):
        fields["base_url"] = base_url
    if api_key_env and not fields.get("api_key_env"):
        fields["api_key_env"] = api_key_env
    if not fields.get("base_url"):
        raise BadInput(f"model {ref} has no base URL in the store: give --base-url", field=field)
    return R.Model(**fields)


@redteam_app.command("run")
def run_cmd(
    behaviors: Annotated[str, typer.Option(help="Dataset whose items state the behaviours to elicit.")],
    model: Annotated[str, typer.Option(help="Target model, NAME@VERSION.")],
    attack: Annotated[list[str] | None, typer.Option(
        help="A converter chain, e.g. base64 or 'roleplay+prefix' or 'leetspeak(rate=0.5)'; repeatable "
             "(default: direct, unless --iterative). `assay redteam attacks` lists them.")] = None,
    iterative: Annotated[bool, typer.Option("--iterative", help="Also run the iterative attacker/scorer attack.")] = False,
    attacker: Annotated[str | None, typer.Option(help="--iterative: the attacker model, NAME@VERSION.")] = None,
    scorer: Annotated[str | None, typer.Option(
        help="--iterative: the scorer, a model NAME@VERSION or a program scorer (e.g. no-refusal).")] = None,
    streams: Annotated[int, typer.Option(min=1, help="--iterative: conversations per behaviour.")] = 3,
    turns: Annotated[int, typer.Option(min=1, help="--iterative: rounds per conversation at most.")] = 5,
    threshold: Annotated[float, typer.Option(min=1, max=10, help="--iterative: score (1-10) that ends a stream as a success.")] = 10,
    seed: Annotated[int, typer.Option(help="--iterative: seed of the attacker's requests.")] = 0,
    conversation: Annotated[bool, typer.Option("--conversation", help="--iterative: the multi-turn attack; the target keeps the conversation, so the attacker can escalate over the rounds (attack 'multiturn').")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N behaviours (in id order).")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible base URL for models the store has none for.")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="Environment variable holding the API key.")] = None,
    temperature: Annotated[float | None, typer.Option(help="Target's sampling temperature.")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Target's maximum completion tokens.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight at once.")] = 16,
    rpm: RpmOpt = None,
    tpm: TpmOpt = None,
    timeout: TimeoutOpt = 120.0,
    max_retries: RetriesOpt = 6,
    backoff: BackoffOpt = 1.0,
    no_cache: NoCacheOpt = False,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    workers: WorkersOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Attack a target model with converter chains and/or the iterative attack; resumes when run again."""
    from assay.errors import BadInput
    from assay.redteam.attacks import _chain, run_attacks
    from assay.redteam.iterative import run_iterative

    where = executor_choice(executor, ray_address, workers)
    chains = [_chain(a) for a in attack or ([] if iterative else ["direct"])]  # bad specs fail before any call
    if iterative:
        if attacker is None or scorer is None:
            raise BadInput("the iterative attack needs --attacker and --scorer", field="--attacker" if attacker is None else "--scorer")
    elif attacker or scorer:
        raise BadInput("--attacker and --scorer go with --iterative", field="--iterative")
    if conversation and not iterative:
        raise BadInput("--conversation goes with --iterative", field="--conversation")
    store = G.store()
    target = _model(store, model, "--model", base_url, api_key_env)
    params = {"temperature": temperature, "max_tokens": max_tokens}
    options = dict(concurrency=concurrency, rpm=rpm, tpm=tpm, timeout=timeout, max_retries=max_retries,
                   backoff_base=backoff, no_cache=no_cache)
    results: list[Any] = []
    it = None
    with progress() as bar:
        bars: dict[str, Any] = {}
        t0 = time.monotonic()

        def on_start(label: str, run_id: str, total: int) -> None:
            bars[label] = bar.add_task(f"{label} (run {run_id[:8]})", total=total, rate="")

        def on_progress(label: str, p: Any) -> None:
            rate = (p.succeeded + p.failed) / max(time.monotonic() - t0, 1e-9)
            bar.update(bars[label], completed=p.completed, rate=f"{rate:,.1f}/s  {p.failed} failed")

        if chains:
            results = run_attacks(store, target, behaviors, chains, limit=limit, params=params, on_start=on_start,
                                  on_progress=on_progress, **options, **where)
        if iterative:
            assert attacker is not None and scorer is not None
            it_name = "multiturn" if conversation else "iterative"
            attacker_m = _model(store, attacker, "--attacker", base_url, api_key_env)
            scorer_m: Any = _model(store, scorer, "--scorer", base_url, api_key_env) if "@" in scorer else scorer
            it = run_iterative(store, target, behaviors, attacker=attacker_m, scorer=scorer_m, streams=streams,
                               turns=turns, threshold=threshold, seed=seed, limit=limit, target_params=params,
                               conversation=conversation, **where,
                               on_start=lambda rid, n: on_start(it_name, rid, n),
                               on_progress=lambda p: on_progress(it_name, p), **options)
    failed = sum(r.run.failed for r in results) + (it.run.failed if it else 0)
    _report(results, it, json_out)
    if failed:
        raise SystemExit(1)


def _report(results: list[Any], it: Any, json_out: bool) -> None:
    if wants_json(json_out):
        data: dict[str, Any] = {"attacks": [
            {"attack": r.attack, "dataset": r.dataset, "behaviors": r.behaviors, "attempts": r.attempts,
             "added": r.added, "failed": r.failed, "run": r.run.model_dump(mode="json", exclude={"config"})}
            for r in results]}
        if it is not None:
            data["iterative"] = {"attack": it.attack, "behaviors": it.behaviors, "streams": it.streams, "attempts": it.attempts,
                                 "succeeded_streams": it.succeeded_streams, "best": it.best,
                                 "run": it.run.model_dump(mode="json", exclude={"config"})}
        emit_json(data)
        return
    t = Table(title="red-team run", title_justify="left")
    for col in ("attack", "behaviours", "attempts", "new", "failed", "scorer successes", "run"):
        t.add_column(col, justify="left" if col in ("attack", "run") else "right")
    for r in results:
        t.add_row(r.attack, f"{r.behaviors:,}", f"{r.attempts:,}", f"{r.added:,}", f"{r.failed:,}", "", r.run.id[:12])
    if it is not None:
        t.add_row(it.attack, f"{it.behaviors:,}", f"{it.attempts:,}", "", f"{it.run.failed:,}",
                  f"{it.succeeded_streams}/{it.behaviors * it.streams} streams", it.run.id[:12])
    console.print(t)
    for run in [r.run for r in results] + ([it.run] if it else []):
        if run.failed:
            err_console.print(_summary(run), highlight=False)
    if any(r.run.failed for r in results) or (it and it.run.failed):
        err_console.print("some calls failed (`assay runs --id RUN` lists them); run the same command again to retry",
                          highlight=False)
    console.print("verdicts: `assay redteam detect`, then `assay redteam asr`", highlight=False)
