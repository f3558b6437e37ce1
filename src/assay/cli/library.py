"""`assay library`: the failure library, its discovery from judgments and attacks, and its re-checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli._app import (
    base_url_value,
    DryRunOpt, G, JsonOpt, PriceInOpt, PriceOutOpt, RetriesOpt, TimeoutOpt, YesOpt, app, console, emit_json,
    err_console, wants_json,
)

library_app = typer.Typer(help="The failure library: find recurring failure modes, record, edit and re-check them.",
                          no_args_is_help=True)
app.add_typer(library_app, name="library")

ByOpt = Annotated[str | None, typer.Option("--by", help="Who makes this change (stored as created_by).")]
DetectorOpt = Annotated[str | None, typer.Option(
    help='Detector as JSON or @FILE: {"program": {"name": "regex", "args": {...}}} or '
         '{"rubric": R, "dimension": D, "threshold": X, "rater": "judge@1"}.')]


def _detector(text: str | None) -> dict[str, Any] | None:
    from assay.errors import BadInput

    if text is None:
        return None
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as e:
            raise BadInput(f"cannot read {text[1:]}: {e.strerror}", field="--detector") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise BadInput(f"not JSON ({e.msg} at character {e.pos})", field="--detector") from None
    if not isinstance(data, dict):
        raise BadInput("a detector is a JSON object", field="--detector")
    return data


def _entry_dict(e: Any) -> dict[str, Any]:
    return e.model_dump(mode="json")


def _pct(x: float) -> str:
    return "-" if x != x else f"{x:.0%}"  # NaN when nothing was judged


def _remember(session: Any, model_id: str) -> None:
    """The model answered: keep its base URL and key variable as its defaults (``assay.runs.endpoint``)."""
    from assay.runs import remember_endpoint

    remember_endpoint(session.store, session.model(model_id, prices=False))


@library_app.command("find")
def find(
    rubric: Annotated[str | None, typer.Option(help="Rubric (name or name@version) whose judgments say what failed.")] = None,
    dimension: Annotated[str | None, typer.Option(help="Dimension of --rubric.")] = None,
    below: Annotated[float | None, typer.Option(help="Failing: mean value worse than this (follows the dimension's direction; default: the middle of the scale).")] = None,
    verifiers: Annotated[bool, typer.Option("--verifiers", help="Include responses failed by program verifiers.")] = False,
    redteam: Annotated[bool, typer.Option("--redteam", help="Include red-team attempts judged successful.")] = False,
    model: Annotated[list[str] | None, typer.Option("--model", help="Only responses of this model (repeatable).")] = None,
    min_size: Annotated[int, typer.Option(min=1, help="Smallest cluster reported as a failure mode.")] = 3,
    distance: Annotated[float, typer.Option(help="Cosine distance under which failures are grouped (0..2).")] = 0.6,
    fields: Annotated[str, typer.Option(help="Text embedded per failure, comma-separated: justification, response, prompt (a failure with none of them: its response).")] = "justification",
    examples: Annotated[int, typer.Option(min=1, help="Most central examples kept per failure mode.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the subsample when there are more than --max-failures.")] = 0,
    max_failures: Annotated[int, typer.Option(min=2, help="Cluster at most this many failures (a seeded subsample).")] = 5000,
    facets_with: Annotated[str | None, typer.Option(help="NAME@VERSION of an LLM that first names each failure's kind, free of its topic; the clusters then follow those names (one call per failure, cached).")] = None,
    hypothesise_with: Annotated[str | None, typer.Option(help="NAME@VERSION of an LLM that titles each mode and hypothesises why it happens.")] = None,
    base_url: Annotated[str | None, typer.Option(callback=base_url_value, help="OpenAI-compatible base URL of --facets-with and --hypothesise-with.")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="Environment variable holding that endpoint's API key (default: OPENAI_API_KEY, when set).")] = None,
    save: Annotated[bool, typer.Option("--save", help="Add every failure mode found to the library as a new entry.")] = False,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Tag of the saved entries (repeatable).")] = None,
    by: ByOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Find recurring failure modes: cluster failing responses and describe each cluster."""
    from assay.errors import BadInput
    from assay.library import Clustering, add_candidate, discover, hypothesise, select_failures
    from assay.library.discover import require_embed
    from assay.session import Endpoint, Session

    require_embed()  # before gathering failures or asking an LLM for facets
    store = G.store()
    session = Session(store, Endpoint(base_url=base_url, api_key_env=api_key_env))
    for flag, value in (("--facets-with", facets_with), ("--hypothesise-with", hypothesise_with)):
        if value is not None:
            from assay import records as R

            try:
                R.split_model_id(value)
            except ValueError as e:
                raise BadInput(str(e), field=flag) from None
    failures = select_failures(store, rubric=rubric, dimension=dimension, below=below, verifiers=verifiers,
                               redteam=redteam, models=model)
    facets = None
    if facets_with is not None:
        from assay.library.facets import describe_failures

        facets = describe_failures(session, failures.failures, facets_with)
        if failures.failures:
            _remember(session, facets_with)
        if facets.errors:
            err_console.print(f"{len(facets.errors)} failures kept their own text: {facets_with}'s answer was unreadable",
                          highlight=False)
    found = discover(failures, fields=[f.strip() for f in fields.split(",") if f.strip()],
                     clustering=Clustering(distance_threshold=distance, min_size=min_size, max_failures=max_failures,
                                           random_state=seed),
                     examples=examples, facets=facets)
    if hypothesise_with is not None:
        hypothesise(session, found.candidates, hypothesise_with)
        if found.candidates:
            _remember(session, hypothesise_with)
    saved = [add_candidate(store, c, created_by=by, settings=found.settings, tags=tag or []).entry
             for c in found.candidates] if save else []
    if wants_json(json_out):
        emit_json({"failures": found.n_failures, "judged": failures.judged, "unclustered": len(found.unclustered),
                   "settings": found.settings, "candidates": [c.as_dict() for c in found.candidates],
                   "saved": saved})
        return
    console.print(f"{found.n_failures} failures, {len(found.candidates)} failure modes "
                  f"(min size {min_size}), {len(found.unclustered)} unclustered", highlight=False)
    t = Table(title="candidate failure modes", title_justify="left",
              caption="* specific to one model (80%+ of its failures); lift: the model's rate / the mode's overall rate",
              caption_justify="left")
    for col in ("#", "title", "size", "share", "models (rate, lift)", "terms"):
        t.add_column(col, overflow="fold")
    for n, c in enumerate(found.candidates, 1):
        models = ", ".join(f"{m.model} {_pct(m.rate)} x{m.lift:.1f}" for m in c.models if m.failures)
        t.add_row(str(n), c.title + (" *" if c.specific_to else ""), str(c.size), _pct(c.share), models,
                  ", ".join(c.terms[:5]))
    console.print(t)
    for n, c in enumerate(found.candidates, 1):
        if c.hypothesis:
            console.print(f"[bold]{n}. {c.title}[/bold]: {c.hypothesis}", highlight=False)
        if c.hypothesis_error:
            err_console.print(f"{n}: the hypothesis could not be read: {c.hypothesis_error}", highlight=False)
    if saved:
        console.print(f"saved: {', '.join(saved)}", highlight=False)


@library_app.command("add")
def add(
    title: Annotated[str, typer.Option(help="Short name of the failure mode.")],
    entry: Annotated[str | None, typer.Option(help="Slug (default: from the title).")] = None,
    description: Annotated[str, typer.Option(help="What goes wrong.")] = "",
    hypothesis: Annotated[str, typer.Option(help="Why we think the model fails this way.")] = "",
    category: Annotated[str | None, typer.Option()] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Tag (repeatable).")] = None,
    severity: Annotated[str, typer.Option(help="low, medium, high or critical.")] = "medium",
    example: Annotated[list[str] | None, typer.Option("--example", help="Response id showing the failure (repeatable).")] = None,
    detector: DetectorOpt = None,
    by: ByOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a failure mode to the library by hand."""
    from assay.library import add_entry

    e = add_entry(G.store(), title, entry=entry, description=description, hypothesis=hypothesis, category=category,
                  tags=tag or [], severity=severity, examples=example or [], detector=_detector(detector),
                  created_by=by)
    if wants_json(json_out):
        emit_json(_entry_dict(e))
        return
    console.print(f"added {e.entry} (version {e.version}, {len(e.examples)} examples)", highlight=False)


@library_app.command("edit")
def edit(
    entry: Annotated[str, typer.Argument(help="The entry's slug.")],
    title: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    hypothesis: Annotated[str | None, typer.Option()] = None,
    category: Annotated[str | None, typer.Option()] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Replace the tags (repeatable).")] = None,
    severity: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option(help="open, confirmed, mitigated, regressed or retired.")] = None,
    add_example: Annotated[list[str] | None, typer.Option("--add-example", help="Link another response id (repeatable).")] = None,
    detector: DetectorOpt = None,
    by: ByOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Edit an entry: writes its next version; the earlier ones stay in its history."""
    from assay.errors import BadInput
    from assay.library import edit_entry, get_entry, link_examples

    store = G.store()
    changes = {"title": title, "description": description, "hypothesis": hypothesis, "category": category,
               "tags": tag, "severity": severity, "status": status, "detector": _detector(detector)}
    e = get_entry(store, entry)
    changed = any(v is not None for v in changes.values())
    if not changed and not add_example:
        raise BadInput("nothing to change: give --title, --status, --add-example...", field="ENTRY")
    if add_example:
        e = link_examples(store, entry, add_example, created_by=by)
    if changed:
        e = edit_entry(store, entry, created_by=by, **changes)
    if wants_json(json_out):
        emit_json(_entry_dict(e))
        return
    console.print(f"{e.entry} is now version {e.version} ({e.status})", highlight=False)


@library_app.command("list")
def list_(
    status: Annotated[str | None, typer.Option(help="Only entries with this status.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only entries with this tag.")] = None,
    model: Annotated[str | None, typer.Option(help="Only entries seen in this model.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include retired entries.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """The library: the latest version of each entry."""
    from assay.library import list_entries

    entries = list_entries(G.store(), status=status, tag=tag, model=model, include_retired=all_)
    if wants_json(json_out):
        emit_json([_entry_dict(e) for e in entries])
        return
    t = Table(title=f"failure library ({len(entries)} entries)", title_justify="left")
    for col in ("entry", "v", "status", "severity", "title", "examples", "models", "last check"):
        t.add_column(col, overflow="fold")
    for e in entries:
        last = e.evidence.get("last_check")
        check = f"{last['model']}: {last['failures']}/{last['n']}" if last else "-"
        t.add_row(e.entry, str(e.version), e.status, e.severity, e.title, str(len(e.examples)),
                  ", ".join(e.models), check)
    console.print(t)


@library_app.command("show")
def show(
    entry: Annotated[str, typer.Argument(help="The entry's slug.")],
    version: Annotated[int | None, typer.Option(help="A past version (default: the latest).")] = None,
    examples: Annotated[int, typer.Option(min=0, help="Example responses to print.")] = 3,
    json_out: JsonOpt = False,
) -> None:
    """One entry, its example responses and its history of versions."""
    from assay import records as R
    from assay.library import get_entry, history

    store = G.store()
    e = get_entry(store, entry, version)
    versions = history(store, entry)
    shown = store.by_id(R.Response, e.examples[:examples])
    if wants_json(json_out):
        emit_json({**_entry_dict(e), "history": [_entry_dict(v) for v in versions],
                   "example_texts": {k: r.text for k, r in shown.items()}})
        return
    console.print(f"[bold]{e.title}[/bold]  ({e.entry} v{e.version}, {e.status}, severity {e.severity}, "
                  f"source {e.source})", highlight=False)
    for label, text in (("description", e.description), ("hypothesis", e.hypothesis)):
        if text:
            console.print(f"{label}: {text}", highlight=False)
    console.print(f"models: {', '.join(e.models) or '-'}; tags: {', '.join(e.tags) or '-'}; "
                  f"detector: {json.dumps(e.detector) if e.detector else '-'}", highlight=False)
    last = e.evidence.get("last_check")
    if last:
        console.print(f"last check: {last['model']}: {last['failures']}/{last['n']} failed ({_pct(last['rate'])}, "
                      f"95% CI {_pct(last['wilson95'][0])}-{_pct(last['wilson95'][1])}) -> {last['status']}",
                      highlight=False)
    for rid in e.examples[:examples]:
        r = shown.get(rid)
        if r is not None:
            console.print(f"- {r.model}: {r.text[:200]!r}", highlight=False)
    t = Table(title="history", title_justify="left")
    for col in ("v", "status", "title", "by", "at"):
        t.add_column(col)
    for v in versions:
        t.add_row(str(v.version), v.status, v.title, v.created_by or "-", v.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(t)


@library_app.command("retire")
def retire(
    entry: Annotated[str, typer.Argument(help="The entry's slug.")],
    reason: Annotated[str, typer.Option(help="Why it is retired.")] = "",
    by: ByOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Retire an entry (a new version with status retired)."""
    from assay.library import retire_entry

    e = retire_entry(G.store(), entry, reason=reason, created_by=by)
    if wants_json(json_out):
        emit_json(_entry_dict(e))
        return
    console.print(f"{e.entry} retired (version {e.version})", highlight=False)


@library_app.command("check")
def check(
    model: Annotated[str, typer.Option(help="NAME@VERSION of the model version to re-check.")],
    entry: Annotated[str | None, typer.Argument(help="The entry's slug (or --all).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every entry that is not retired and has a detector.")] = False,
    base_url: Annotated[str | None, typer.Option(callback=base_url_value, help="OpenAI-compatible base URL of --model.")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="Environment variable holding the API key (default: OPENAI_API_KEY, when set).")] = None,
    judge_base_url: Annotated[str | None, typer.Option(callback=base_url_value, help="Base URL of an LLM detector's judge (default: the stored one).")] = None,
    samples: Annotated[int, typer.Option(min=1, help="Answers per example prompt.")] = 1,
    mitigated_below: Annotated[float, typer.Option(help="Failure rate under which the entry counts as mitigated.")] = 0.2,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight at once.")] = 8,
    timeout: TimeoutOpt = 120.0,
    max_retries: RetriesOpt = 6,
    price_in: PriceInOpt = None,
    price_out: PriceOutOpt = None,
    by: ByOpt = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Re-check entries on a new model version: answer their prompts, detect, mark mitigated/regressed/confirmed.

    Every entry's detector is checked, and the plan (calls, estimated tokens and cost) printed, before the first call.
    """
    from assay import records as R
    from assay.cli._runs import RunGuard
    from assay.errors import BadInput
    from assay.library import check_entry, get_entry, list_entries
    from assay.runs import remember_endpoint, store_model
    from assay.session import Endpoint, Execution, Session

    if (entry is None) == (not all_):
        raise BadInput("give one ENTRY or --all", field="ENTRY")
    try:
        R.split_model_id(model)
    except ValueError as e:
        raise BadInput(str(e), field="--model") from None
    store = G.store()
    stored = store.find("models", model)
    fields: dict[str, Any] = stored.model_dump() if stored is not None else {"id": model}
    overrides = {"base_url": base_url, "api_key_env": api_key_env, "price_input_per_mtok": price_in,
                 "price_output_per_mtok": price_out}
    fields.update({k: v for k, v in overrides.items() if v is not None})
    if not fields.get("base_url"):
        raise BadInput(f"model {model} has no base URL in the store: give --base-url", field="--base-url")
    m = R.Model(**fields)
    names = [entry] if entry else [e.entry for e in list_entries(store) if e.detector]
    plan = _check_plan(store, [get_entry(store, n) for n in names], m, samples=samples, judge_base_url=judge_base_url)
    with RunGuard(store, yes=yes, dry_run=dry_run, json_out=json_out, counts_units=False) as guard:
        guard.approve(plan)
        store_model(store, m)  # its endpoint is remembered once answers come back
        # the endpoint's base URL is the LLM detector's judge's; the model keeps its own
        session = Session(store, Endpoint(base_url=judge_base_url, timeout=timeout, max_retries=max_retries),
                          Execution(concurrency=concurrency))
        results = [check_entry(session, n, m, samples=samples, mitigated_below=mitigated_below, created_by=by)
                   for n in names]
    if results:
        remember_endpoint(store, m)
    if wants_json(json_out):
        emit_json([{"entry": r.entry.entry, "version": r.entry.version, "previous_status": r.previous_status,
                    "status": r.entry.status, "check": r.evidence} for r in results])
        return
    t = Table(title=f"re-check on {model}", title_justify="left")
    for col in ("entry", "failed", "rate", "95% CI", "status"):
        t.add_column(col)
    for r in results:
        c = r.evidence
        t.add_row(r.entry.entry, f"{c['failures']}/{c['n']}", _pct(c["rate"]),
                  f"{_pct(c['wilson95'][0])}-{_pct(c['wilson95'][1])}", f"{r.previous_status} -> {r.entry.status}")
    console.print(t)


def _check_plan(store: Any, entries: list[Any], model: Any, *, samples: int, judge_base_url: str | None) -> Any:
    """Refuse a detector that cannot work (before any call), and plan the re-checks of ``entries``.

    The answers are counted as ``generate`` counts them (the cache answers a repeated
    re-check); an LLM detector's calls are a ceiling, one per answer, each prompt its
    template filled with the item and an answer as long as the model's completion ceiling.
    """
    from assay import records as R
    from assay.errors import BadInput, NotFound
    from assay.judges.jobs import member_calls, split_by_inputs
    from assay.judges.registry import from_spec
    from assay.judges.rubric import RubricJudge, RubricPrompt
    from assay.providers import make_provider
    from assay.rubrics import get_rubric
    from assay.runs import Plan, generate_plan
    from assay.runs.plan import CHARS_PER_TOKEN, completion_ceiling
    from assay.session import Endpoint, Session

    judges = Session(store, Endpoint(base_url=judge_base_url))
    plan = Plan()
    for e in entries:
        responses = store.by_id(R.Response, e.examples)
        found = store.by_id(R.Item, {r.item_id for r in responses.values()})
        items = [found[i] for i in sorted(found)]
        det = e.detector or {}
        where = f"entry {e.entry!r}: detector"
        judge = None
        try:
            if "program" in det:
                program = from_spec(det["program"])
                _, lacking, what = split_by_inputs(program, [(it, None) for it in items])
                if lacking:  # the detector runs in process: a response it cannot check would stop the check
                    raise BadInput(f"{program.name} needs {what}, and {lacking} of the {len(items)} example "
                                   "items have none")
            elif det:
                rubric = get_rubric(store, det["rubric"])
                dim = rubric.dimension(det["dimension"])
                client = make_provider(judges.model(det["rater"], base_url=det.get("base_url"), prices=False))
                judge = RubricJudge(client, rubric, RubricPrompt(dimensions=[dim.name]))
        except (BadInput, NotFound, KeyError, ValueError) as err:
            reason = err.reason if isinstance(err, BadInput) else str(err.args[0] if err.args else err)
            raise BadInput(f"{where}: {reason}", field="ENTRY") from None
        plan = plan.merge(generate_plan(store, model, items, dataset=f"library:{e.entry}", samples=samples))
        if judge is not None:
            answer = R.Response(id="planned", item_id="planned", model=model.id,
                                text="x" * (CHARS_PER_TOKEN * completion_ceiling({}, model)))
            plan.at_most = True
            for it in items:  # each call in the form the judge is asked first (structured outputs by default)
                for call in member_calls(judge, (it, answer)):
                    plan.add(call, times=samples)
    return plan
