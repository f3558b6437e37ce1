"""`assay why ENTRY`: counterfactual probes of a failure-library entry (assay.library.why)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli._app import (
    DryRunOpt,
    PriceInOpt,
    PriceOutOpt,
    RetriesOpt,
    TimeoutOpt,
    YesOpt,
    G,
    app,
    base_url_value,
    console,
    emit_json,
    err_console,
    wants_json,
)

DEFAULT_PROBES = ("resample", "paraphrase", "explicit", "reference", "system")


@app.command("why")
def why(
    model: Annotated[str, typer.Option(help="NAME@VERSION of the model to probe (usually the one that failed).")],
    entry: Annotated[str | None, typer.Argument(help="The failure-library entry's slug (or a failure set: --rubric).")] = None,
    rubric: Annotated[str | None, typer.Option(help="Instead of ENTRY: the failures of --model on this rubric (NAME@VERSION).")] = None,
    dimension: Annotated[str | None, typer.Option(help="With --rubric: the dimension whose failures are probed.")] = None,
    below: Annotated[float | None, typer.Option(help="With --rubric: the failing threshold (default: the middle of the scale).")] = None,
    judge: Annotated[str | None, typer.Option(help="With --rubric: NAME@VERSION of the LLM judge that judges the probes' answers.")] = None,
    probe: Annotated[list[str] | None, typer.Option(
        "--probe", help="A probe, NAME or NAME(key=value, ...); repeat for several (default: "
                        + ", ".join(DEFAULT_PROBES) + ").")] = None,
    samples: Annotated[int, typer.Option(min=1, help="Answers per prompt under the resample probe.")] = 5,
    probe_samples: Annotated[int, typer.Option(min=1, help="Answers per changed prompt under the other probes.")] = 1,
    rewriter: Annotated[str | None, typer.Option(
        help="NAME@VERSION of the model writing paraphrases (default: --model; same base URL unless stored).")] = None,
    base_url: Annotated[str | None, typer.Option(callback=base_url_value, help="OpenAI-compatible base URL of --model.")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="Environment variable holding the API key (default: OPENAI_API_KEY, when set).")] = None,
    judge_base_url: Annotated[str | None, typer.Option(callback=base_url_value, help="Base URL of an LLM detector's judge (default: the stored one).")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature of the probed answers (default: the model's).")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Completion ceiling of the probed answers.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight at once.")] = 8,
    timeout: TimeoutOpt = 120.0,
    max_retries: RetriesOpt = 6,
    price_in: PriceInOpt = None,
    price_out: PriceOutOpt = None,
    no_write: Annotated[bool, typer.Option("--no-write", help="Measure only: do not write the cause table into the entry.")] = False,
    by: Annotated[str | None, typer.Option(help="Who records the entry's new version.")] = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Why does an entry's failure happen? Re-ask its prompts with controlled changes; measure which fixes it.

    Each probe's fix rate (the share of its answers that pass the entry's detector) gets an exact
    interval that takes the prompt as the unit when its answers are alike; the cause table goes into the entry's next version beside its hypothesis. The plan is
    printed before the first call; a rerun resumes, asking nothing already answered.
    """
    from assay.cli._boundary import flags_for
    from assay.cli._runs import RunGuard
    from assay.cli.run_report import RunBar
    from assay.errors import BadInput
    from assay.library import probes as P
    from assay.library.why import ProbeRequest, ProbeSettings, plan_probes, probe_entry, probe_target
    from assay.runs import remember_endpoint, store_model
    from assay.session import Endpoint, Execution, Session

    store = G.store()
    target, what = _target(store, entry, model, rubric=rubric, dimension=dimension, below=below, judge=judge)
    m = _model(store, model, base_url=base_url, api_key_env=api_key_env, price_in=price_in, price_out=price_out,
               flag="--model")
    rw = _model(store, rewriter, base_url=base_url if not store.find("models", rewriter or "") else None,
                api_key_env=api_key_env, flag="--rewriter") if rewriter else None
    chosen = []
    for text in probe or DEFAULT_PROBES:
        try:
            chosen.append(P.parse(text))
        except ValueError as e:
            raise BadInput(str(e), field="--probe") from None
    with flags_for(samples="--samples", probe_samples="--probe-samples", probes="--probe"):
        settings = ProbeSettings(samples=samples, probe_samples=probe_samples)
    request = ProbeRequest(params={"temperature": temperature, "max_tokens": max_tokens}, rewriter=rw)
    plan, applies = plan_probes(store, target, m, chosen, settings, request=request)
    idle = [name for name, n in applies.items() if n == 0]
    if idle and len(idle) == len(chosen):
        raise BadInput(f"{' and '.join(repr(n) for n in idle)} does not apply to any of the prompts of {what} "
                       "(none has what it needs, e.g. a reference)", field="--probe")
    for name in idle:
        err_console.print(f"probe {name} does not apply to any of the prompts of {what}: skipped", highlight=False)
    chosen = [p for p in chosen if applies[p.label()] > 0]

    with RunGuard(store, yes=yes, dry_run=dry_run, json_out=json_out, counts_units=False) as guard:
        guard.approve(plan)
        store_model(store, m)
        if rw is not None:
            store_model(store, rw)
        bar = RunBar(guard.bar, f"why {entry}", guard)
        session = Session(store, Endpoint(base_url=judge_base_url, timeout=timeout, max_retries=max_retries),
                          Execution(concurrency=concurrency, on_progress=bar.update, on_start=bar.start))
        with flags_for(samples="--samples", probe_samples="--probe-samples", probes="--probe", rewriter="--rewriter"):
            if entry is not None:
                out = probe_entry(session, entry, m, chosen, settings=settings, request=request,
                                  write=not no_write, created_by=by)
            else:
                out = probe_target(session, target, m, chosen, settings=settings, request=request)
    for used in (m, rw):
        if used is not None:
            remember_endpoint(store, used)
    if wants_json(json_out):
        emit_json(out.as_dict())
        return
    _show(out)


def _target(store: Any, entry: str | None, model: str, *, rubric: str | None, dimension: str | None,
            below: float | None, judge: str | None) -> tuple[Any, str]:
    """What is probed: the entry's prompts and detector, or the failures of ``model`` on a rubric dimension."""
    from assay.errors import BadInput, NotFound
    from assay.library import get_entry, rubric_failures
    from assay.library.why import entry_target, failures_target

    if (entry is None) == (rubric is None):
        raise BadInput("give one ENTRY or a failure set (--rubric R --dimension D --judge J)", field="ENTRY")
    if entry is not None:
        if dimension is not None or below is not None or judge is not None:
            raise BadInput("--dimension, --below and --judge go with --rubric (an entry has its own detector)",
                           field="--rubric")
        try:
            return entry_target(store, get_entry(store, entry)), f"entry {entry!r}"
        except NotFound as e:
            raise BadInput(str(e), field="ENTRY") from None
        except BadInput as e:
            raise BadInput(e.reason, field="ENTRY") from None
    if dimension is None:
        raise BadInput("give the dimension whose failures are probed", field="--dimension")
    if judge is None:
        raise BadInput("give the LLM judge (NAME@VERSION) that judges the probes' answers", field="--judge")
    try:
        failures = rubric_failures(store, rubric, dimension, below=below, models=[model])
    except NotFound as e:
        raise BadInput(str(e), field="--rubric") from None
    if not failures.failures:
        raise BadInput(f"{model} has no failures on {rubric} / {dimension}", field="--model")
    detector = {"rubric": rubric, "dimension": dimension, "threshold": below, "rater": judge}
    try:
        target = failures_target(store, failures, detector)
    except BadInput as e:
        raise BadInput(e.reason, field="--judge") from None
    return target, f"the {len(target.items)} failures of {model} on {rubric} / {dimension}"


def _model(store: Any, model_id: str | None, *, base_url: str | None, api_key_env: str | None, flag: str,
           price_in: float | None = None, price_out: float | None = None) -> Any:
    """The stored model with the command's overrides, or a new one; it needs a base URL."""
    from assay import records as R
    from assay.errors import BadInput

    try:
        R.split_model_id(model_id or "")
    except ValueError as e:
        raise BadInput(str(e), field=flag) from None
    stored = store.find("models", model_id)
    fields: dict[str, Any] = stored.model_dump() if stored is not None else {"id": model_id}
    overrides = {"base_url": base_url, "api_key_env": api_key_env, "price_input_per_mtok": price_in,
                 "price_output_per_mtok": price_out}
    fields.update({k: v for k, v in overrides.items() if v is not None})
    if not fields.get("base_url"):
        raise BadInput(f"model {model_id} has no base URL in the store: give --base-url", field="--base-url")
    return R.Model(**fields)


def _show(out: Any) -> None:
    t = Table(title=f"why {out.entry} fails on {out.model} ({out.prompts} failing prompts)", title_justify="left")
    for col in ("probe", "tests", "prompts", "passed", "fix rate", "95% CI", "beyond resampling"):
        t.add_column(col)
    for r in out.results:
        ci = f"{r.interval[0]:.0%}-{r.interval[1]:.0%}" if r.interval else "-"
        beyond = {True: "yes", False: "no", None: "-"}[r.beyond_resample]
        t.add_row(r.probe, r.tests, str(r.prompts), f"{r.passed}/{r.n}",
                  f"{r.rate:.0%}" if r.rate is not None else "-", ci, beyond)
    console.print(t)
    for r in out.results:
        console.print(f"  {r.line()}", highlight=False)
        if r.unanswered:
            console.print(f"  ({r.unanswered} of {r.probe}'s answers are missing: run the same command again)",
                          highlight=False)
    console.print(f"measured: {out.measured}", highlight=False)
    console.print(f"hypothesis (as written): {out.hypothesis or '(none)'}", highlight=False)
    if out.version is not None:
        console.print(f"written into {out.entry} version {out.version.version}", highlight=False)
