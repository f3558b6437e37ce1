"""`assay generate` (responses from an OpenAI-compatible endpoint) and `assay runs`."""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli._app import (
    base_url_value,
    BackoffOpt, DryRunOpt, ExecutorOpt, G, JsonOpt, NoCacheOpt, PriceInOpt, PriceOutOpt, RayAddressOpt, RetriesOpt,
    RpmOpt, TimeoutOpt, TpmOpt, WorkersOpt, YesOpt, app, console, emit_json, err_console, executor_choice,
    wants_json,
)
from assay.cli._runs import RunGuard
from assay.cli.run_report import FAILED_FIELDS, failed_units, run_line


@app.command()
def generate(
    model: Annotated[str, typer.Option(help="NAME@VERSION; NAME is sent as the API model unless the stored model's params say otherwise.")],
    dataset: Annotated[str, typer.Option(help="Dataset whose items to answer.")],
    base_url: Annotated[str | None, typer.Option(callback=base_url_value, help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1.")] = None,
    samples: Annotated[int, typer.Option(min=1, help="Responses per item.")] = 1,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature.")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Maximum completion tokens.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight at once.")] = 16,
    rpm: RpmOpt = None,
    tpm: TpmOpt = None,
    api_key_env: Annotated[str | None, typer.Option(help="Environment variable holding the API key (default: OPENAI_API_KEY, when set).")] = None,
    no_cache: NoCacheOpt = False,
    price_in: PriceInOpt = None,
    price_out: PriceOutOpt = None,
    timeout: TimeoutOpt = 120.0,
    max_retries: RetriesOpt = 6,
    backoff: BackoffOpt = 1.0,
    stream: Annotated[bool, typer.Option("--stream", help="Stream answers and store each response's time to first token (ttft_ms).")] = False,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    workers: WorkersOpt = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Answer every item of a dataset with a model; resumes when run again, retrying failures.

    The plan (calls, estimated tokens and cost) is printed before the first call.
    """
    from assay import records as R
    from assay.errors import BadInput
    from assay.runs import generate as run_generate
    from assay.session import Endpoint, Session

    where = executor_choice(executor, ray_address, workers)
    store = G.store()
    try:
        R.split_model_id(model)
    except ValueError as e:
        raise BadInput(str(e), field="--model") from None
    stored = store.find("models", model)
    fields: dict[str, Any] = stored.model_dump() if stored is not None else {"id": model}
    overrides = {"base_url": base_url, "api_key_env": api_key_env, "price_input_per_mtok": price_in, "price_output_per_mtok": price_out}
    fields.update({k: v for k, v in overrides.items() if v is not None})
    if not fields.get("base_url"):
        raise BadInput(f"model {model} has no base URL in the store: give --base-url", field="--base-url")
    m = R.Model(**fields)
    endpoint = Endpoint(base_url=base_url, api_key_env=api_key_env, temperature=temperature, max_tokens=max_tokens,
                        rpm=rpm, tpm=tpm, timeout=timeout, max_retries=max_retries, backoff_base=backoff,
                        cache="own-run" if no_cache else "on", price_in=price_in, price_out=price_out, stream=stream)

    with RunGuard(store, yes=yes, dry_run=dry_run, json_out=json_out) as guard:
        bar = guard.bar
        task = bar.add_task(f"generate {model}", total=None, rate="")
        t0 = time.monotonic()
        last = [0.0]

        def on_start(run_id: str, total: int) -> None:
            guard.started(run_id, total)
            bar.update(task, total=total, description=f"generate {model} (run {run_id[:8]})")

        def on_progress(p: Any) -> None:
            now = time.monotonic()
            if now - last[0] < 0.1 and p.completed < p.total:
                return
            last[0] = now
            rate = (p.succeeded + p.failed) / max(now - t0, 1e-9)
            bar.update(
                task, completed=p.completed,
                rate=f"{rate:,.1f}/s  {p.prompt_tokens + p.completion_tokens:,} tok  ${p.cost_usd:.4f}  {p.failed} failed",
            )

        session = Session(store, endpoint, dataclasses.replace(where, concurrency=concurrency, on_progress=on_progress,
                                                               on_start=on_start, on_plan=guard.approve))
        run = run_generate(session, m, dataset, samples=samples)
    _report(store, run, json_out)
    if run.failed:
        raise SystemExit(1)  # not typer.Exit: `main` runs the app with standalone_mode=False


def _report(store: Any, run: Any, json_out: bool, limit: int = 5) -> None:
    failed = failed_units(store, run, limit)
    if wants_json(json_out):
        data = run.model_dump(mode="json")
        data["failed_units"] = failed
        emit_json(data)
        return
    console.print(run_line(run), highlight=False)
    for u in failed:
        err_console.print(f"  failed {u['unit_key']}: {u['error_kind']}: {u['error']}", highlight=False, soft_wrap=True)
    if run.failed:
        more = f" (first {limit} shown; `assay runs --id {run.id}` lists all)" if run.failed > limit else ""
        err_console.print(f"{run.failed} units failed{more}; run the same command again to retry them", highlight=False)


@app.command()
def runs(
    run_id: Annotated[str | None, typer.Option("--id", help="Show one run (a prefix is enough) and its failed units.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only runs of this kind (generate, judge, ...).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List runs with their counts, tokens, cost and errors."""
    from assay.errors import NotFound
    from assay.store.ledger import Ledger

    store = G.store()
    ledger = Ledger(store)
    all_runs = ledger.runs(kind=kind)
    if run_id is not None:
        match = [r for r in all_runs if r.id.startswith(run_id)]
        if len(match) != 1:
            raise NotFound(f"no run {run_id!r}" if not match else f"{len(match)} runs start with {run_id!r}")
        run = match[0]
        failed = ledger.units(run.id, status="failed")
        if wants_json(json_out):
            data = run.model_dump(mode="json")
            data["failed_units"] = [{k: u[k] for k in FAILED_FIELDS} for u in failed]
            emit_json(data)
            return
        console.print(run_line(run), highlight=False)
        for u in failed:
            console.print(f"  {u['unit_key']}: {u['error_kind']}: {u['error']} ({u['attempts']} attempts)", highlight=False, soft_wrap=True)
        return
    if wants_json(json_out):
        emit_json([r.model_dump(mode="json", exclude={"config"}) for r in all_runs])
        return
    t = Table(title="runs", title_justify="left")
    for col in ("run", "kind", "status", "units", "answered", "cached", "failed", "tokens", "cost $", "errors", "started"):
        t.add_column(col, justify="left" if col in ("run", "kind", "status", "errors", "started") else "right")
    for r in all_runs:
        t.add_row(
            r.id[:12], r.kind, r.status, f"{r.total:,}", f"{r.succeeded:,}", f"{r.cached:,}", f"{r.failed:,}",
            f"{r.prompt_tokens + r.completion_tokens:,}", f"{r.cost_usd:.4f}",
            ", ".join(f"{k} {n}" for k, n in sorted(r.errors.items())), r.started_at.strftime("%Y-%m-%d %H:%M"),
        )
    if not all_runs:
        t.add_row("(none)", *[""] * 10)
    console.print(t)
