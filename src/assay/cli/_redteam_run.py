"""`assay redteam run` and `assay redteam attacks`: attack a target model."""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli._app import (
    base_url_value,
    BackoffOpt, DryRunOpt, ExecutorOpt, G, JsonOpt, NoCacheOpt, PriceInOpt, PriceOutOpt, RayAddressOpt, RetriesOpt,
    RpmOpt, TimeoutOpt, TpmOpt, WorkersOpt, YesOpt, console, emit_json, err_console, executor_choice, wants_json,
)
from assay.cli._runs import RunGuard
from assay.cli.redteam import redteam_app
from assay.cli.run_report import run_line


@redteam_app.command("attacks")
def attacks_cmd(json_out: JsonOpt = False) -> None:
    """List the converters, attacks, scorers, probes and detectors: what each does, what it tests
    (harm, bias, insecure output, injection, leakage) and where the idea comes from; and the suites."""
    from assay.redteam.attacks import catalog
    from assay.redteam.suites import load_suite, suite_names

    rows = catalog()
    suites = [load_suite(n) for n in suite_names()]
    if wants_json(json_out):
        emit_json(rows)
        return
    t = Table(title="red-team converters and attacks (chain converters with '+', e.g. roleplay+prefix)",
              title_justify="left")
    for col in ("kind", "name", "tests", "what it does", "source of the idea", "arguments (defaults)"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["kind"], r["name"], r["tests"], r["description"], r["source"],
                  ", ".join(f"{k}={v!r}" for k, v in r["args"].items()))
    console.print(t)
    for suite in suites:
        console.print(f"suite [bold]{suite.name}[/bold] (`--suite {suite.name}`): {suite.description} "
                      f"Attacks: {', '.join(suite.attacks)}.", highlight=False)


def _model(store: Any, ref: str, field: str, base_url: str | None, api_key_env: str | None,
           prices: tuple[float | None, float | None] = (None, None)) -> Any:
    """The stored model ``ref`` (or a new one), with the given base URL and key variable when it has none
    (and the given prices, when given)."""
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
    for key, price in zip(("price_input_per_mtok", "price_output_per_mtok"), prices):
        if price is not None:
            fields[key] = price
    return R.Model(**fields)


def _attacks_plan(store: Any, target: Any, behaviors: str, chains: list[Any], *, limit: int | None,
                  params: dict[str, Any], no_cache: bool) -> Any:
    """What the converter attacks will send: their prompts made here as ``run_attacks`` makes them, not stored."""
    from assay import records as R
    from assay.redteam.attacks import derived_dataset, derived_item, load_behaviors
    from assay.runs import Call, Plan, generate_plan
    from assay.runs.plan import plan_calls

    plan = Plan()
    targets = load_behaviors(store, behaviors, limit=limit)
    for chain in chains:
        name = derived_dataset(behaviors, chain.key())
        config = {"converters": chain.spec()}
        if chain.models:
            # a rewriting model's prompts are not known before it answers: the plan sizes them as the request,
            # and counts each rewrite call
            items = [derived_item(b, name, b.prompt_text(), chain.label(), config) for b in targets]
            rewrites = [(r, b) for s in chain.steps for r in s.rewrites for b in targets]
            plan = plan.merge(plan_calls(store, [Call(store.find("models", r.model) or R.Model(id=r.model),
                                                      len(b.prompt_text()) + 400, 4 * len(b.prompt_text()) // 3 + 64)
                                                 for r, b in rewrites]))
        else:
            items = [derived_item(b, name, chain(b.prompt_text()), chain.label(), config) for b in targets]
        plan = plan.merge(generate_plan(store, target, items, dataset=name, params=params, no_cache=no_cache))
    return plan


def _iterative_plan(store: Any, models: dict[str, Any], behaviors: str, *, options: dict[str, Any],
                    settings: dict[str, Any]) -> Any:
    """A ceiling of what the iterative attack will send: every stream running all its turns.

    Streams its ledger holds as done are left out. Per round: the attacker's request (its
    instructions, the goal and up to ``memory`` earlier rounds, each an attacker reply and a
    target answer as long as their completion ceilings at ~4 characters a token), the
    target's (one attacker message; in a conversation, every earlier message and answer too)
    and, for a model scorer, the scorer's (its instructions, the goal and one answer).
    """
    from assay.errors import BadInput
    from assay.providers import RequestCache, make_provider
    from assay.redteam.attacks import load_behaviors
    from assay.redteam.iterative import (
        ATTACKER_FEEDBACK, ATTACKER_SYSTEM, SCORER_SYSTEM, IterativeAttack, IterativeTask, program_scorers,
    )
    from assay.runs import Call, plan_task
    from assay.runs.plan import CHARS_PER_TOKEN, completion_ceiling

    if isinstance(models["scorer"], str) and models["scorer"] not in program_scorers():
        raise BadInput(f"no program scorer {models['scorer']!r}; give a model NAME@VERSION or one of "
                       f"{', '.join(program_scorers())}", field="--scorer")
    cache = None if options["no_cache"] else RequestCache(store)
    clients = {k: make_provider(m, cache=cache, no_cache=options["no_cache"]) if not isinstance(m, str) else m
               for k, m in models.items()}
    targets = load_behaviors(store, behaviors, limit=settings["limit"])
    attack = IterativeAttack(streams=settings["streams"], turns=settings["turns"], threshold=settings["threshold"],
                             seed=settings["seed"], target_params=settings["params"],
                             conversation=settings["conversation"])
    task = IterativeTask(store, clients["target"], clients["attacker"], clients["scorer"], targets,
                         dataset=behaviors, attack=attack)
    att = CHARS_PER_TOKEN * completion_ceiling(task.attacker_params, models["attacker"])
    said = CHARS_PER_TOKEN * completion_ceiling(task.gen.params, models["target"])

    def calls(unit: Any) -> list[Any]:
        goal = len(unit.payload[0].prompt_text())
        out = []
        for turn in range(task.turns):
            remembered = min(turn, task.memory)
            out.append(Call(models["attacker"], len(ATTACKER_SYSTEM) + goal + remembered * (
                len(ATTACKER_FEEDBACK) + 2 * att + said), completion_ceiling(task.attacker_params, models["attacker"])))
            out.append(Call(models["target"], att * (turn + 1) + said * turn if task.conversation else att,
                            completion_ceiling(task.gen.params, models["target"])))
            if not isinstance(models["scorer"], str):
                out.append(Call(models["scorer"], len(SCORER_SYSTEM) + goal + said,
                                completion_ceiling({}, models["scorer"])))
        return out

    plan = plan_task(store, task, calls)
    plan.at_most = True
    return plan


def _named_plan(store: Any, models: dict[str, Any], behaviors: str, named: list[tuple[str, Any]], *,
                options: dict[str, Any], limit: int | None, params: dict[str, Any]) -> Any:
    """A ceiling of what the named attacks will send: TAP its whole call budget per behaviour (each call sized as
    the attacker's request with its full memory); Crescendo every stream all its turns, as the multi-turn attack."""
    import dataclasses as dc

    from assay.providers import RequestCache, make_provider
    from assay.redteam.attacks import load_behaviors
    from assay.redteam.crescendo import CrescendoTask
    from assay.redteam.iterative import ATTACKER_FEEDBACK, ATTACKER_SYSTEM, SCORER_SYSTEM
    from assay.redteam.tap import TapTask
    from assay.runs import Call, Plan, plan_task
    from assay.runs.plan import CHARS_PER_TOKEN, completion_ceiling

    cache = None if options["no_cache"] else RequestCache(store)
    clients = {k: make_provider(m, cache=cache, no_cache=options["no_cache"]) if not isinstance(m, str) else m
               for k, m in models.items()}
    targets = load_behaviors(store, behaviors, limit=limit)
    plan = Plan()
    for name, how in named:
        how = dc.replace(how, target_params=params)
        make = TapTask if name == "tap" else CrescendoTask
        task = make(store, clients["target"], clients["attacker"], clients["scorer"], targets, dataset=behaviors,
                    attack=how)
        att = CHARS_PER_TOKEN * completion_ceiling(task.attacker_params, models["attacker"])
        said = CHARS_PER_TOKEN * completion_ceiling(task.gen.params, models["target"])

        def calls(unit: Any, task: Any = task, how: Any = how, att: int = att, said: int = said,
                  name: str = name) -> list[Any]:
            goal = len(unit.payload[0].prompt_text())
            size = len(ATTACKER_SYSTEM) + goal + task.memory * (len(ATTACKER_FEEDBACK) + 2 * att + said)
            ceiling = completion_ceiling(task.attacker_params, models["attacker"])
            if name == "tap":  # the whole budget
                return [Call(models["attacker"], size, ceiling)] * how.max_calls
            per_turn = [Call(models["attacker"], size, ceiling),
                        Call(models["target"], (att + said) * how.turns, completion_ceiling(task.gen.params,
                                                                                           models["target"]))]
            if not isinstance(models["scorer"], str):
                per_turn.append(Call(models["scorer"], len(SCORER_SYSTEM) + goal + said,
                                     completion_ceiling({}, models["scorer"])))
            return per_turn * how.turns
        plan = plan.merge(plan_task(store, task, calls))
    plan.at_most = True
    return plan


def _run_named(session: Any, target: Any, behaviors: str, named: list[tuple[str, Any]], helpers: dict[str, Any], *,
               limit: int | None, params: dict[str, Any]) -> list[Any]:
    import dataclasses as dc

    from assay.redteam.crescendo import run_crescendo
    from assay.redteam.tap import run_tap

    out = []
    for name, how in named:
        run = run_tap if name == "tap" else run_crescendo
        out.append(run(session, target, behaviors, attacker=helpers["attacker"], scorer=helpers["scorer"],
                       attack=dc.replace(how, target_params=params), limit=limit))
    return out


@redteam_app.command("run")
def run_cmd(
    behaviors: Annotated[str, typer.Option(help="Dataset whose items state the behaviours to elicit.")],
    model: Annotated[str, typer.Option(help="Target model, NAME@VERSION.")],
    attack: Annotated[list[str] | None, typer.Option(
        help="A converter chain, e.g. base64 or 'roleplay+prefix' or 'leetspeak(rate=0.5)', or a named attack "
             "with an attacker and a scorer: 'tap(depth=4, max_calls=60)', 'crescendo(turns=8)'; repeatable "
             "(default: direct, unless --iterative or --suite). `assay redteam attacks` lists them.")] = None,
    suite: Annotated[str | None, typer.Option(
        help="A named suite (e.g. release-gate; `assay redteam attacks` lists them) or a suite YAML file: its "
             "attacks, probes and detectors, added to any --attack.")] = None,
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
    base_url: Annotated[str | None, typer.Option(callback=base_url_value, help="OpenAI-compatible base URL for models the store has none for.")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="Environment variable holding the API key (default: OPENAI_API_KEY, when set).")] = None,
    temperature: Annotated[float | None, typer.Option(help="Target's sampling temperature.")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Target's maximum completion tokens.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight at once.")] = 16,
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
    """Attack a target model with converter chains and/or the iterative attack; resumes when run again.

    The plan (calls, estimated tokens and cost; a ceiling for the iterative attack) is printed before the first call.
    """
    from assay.errors import BadInput
    from assay.redteam.attacks import as_chain, run_attacks
    from assay.redteam.iterative import IterativeAttack, run_iterative
    from assay.runs import remember_endpoint, store_model
    from assay.session import Endpoint, Session

    from assay.redteam.suites import load_suite, parse_named

    where = executor_choice(executor, ray_address, workers)
    chosen = load_suite(suite) if suite else None
    specs = list(attack or []) + (chosen.attacks if chosen else [])
    if not specs and not iterative and not (chosen and chosen.probes):
        specs = ["direct"]
    named: list[tuple[str, Any]] = []
    chains = []
    for text in specs:  # bad specs fail before any call
        try:
            found = parse_named(text)
        except ValueError as e:
            raise BadInput(str(e), field="--attack") from None
        if found is not None:
            named.append(found)
        else:
            chains.append(as_chain(text))
    needs = "the iterative attack" if iterative else (f"attack {named[0][0]}" if named else None)
    if needs:
        if attacker is None or scorer is None:
            raise BadInput(f"{needs} needs --attacker and --scorer", field="--attacker" if attacker is None else "--scorer")
    elif attacker or scorer:
        raise BadInput("--attacker and --scorer go with --iterative or a named attack (tap, crescendo)",
                       field="--iterative")
    if conversation and not iterative:
        raise BadInput("--conversation goes with --iterative", field="--conversation")
    store = G.store()
    prices = (price_in, price_out)
    target = _model(store, model, "--model", base_url, api_key_env, prices)
    params = {"temperature": temperature, "max_tokens": max_tokens}
    for ref in dict.fromkeys(m for c in chains for m in c.models):  # rewriting models (paraphrase, translate...)
        store.add([_model(store, ref, "--attack", base_url, api_key_env, prices)])
    options = dict(concurrency=concurrency, rpm=rpm, tpm=tpm, timeout=timeout, max_retries=max_retries,
                   backoff_base=backoff, no_cache=no_cache)
    helpers: dict[str, Any] = {}
    if needs:
        assert attacker is not None and scorer is not None
        helpers["attacker"] = _model(store, attacker, "--attacker", base_url, api_key_env, prices)
        helpers["scorer"] = _model(store, scorer, "--scorer", base_url, api_key_env, prices) if "@" in scorer else scorer
    results: list[Any] = []
    it = None
    others: list[Any] = []
    probe_runs: list[tuple[str, Any]] = []
    with RunGuard(store, yes=yes, dry_run=dry_run, json_out=json_out) as guard:
        plan = _attacks_plan(store, target, behaviors, chains, limit=limit, params=params, no_cache=no_cache)
        if iterative:
            plan = plan.merge(_iterative_plan(
                store, {"target": target, **helpers}, behaviors, options=options,
                settings={"limit": limit, "streams": streams, "turns": turns, "threshold": threshold, "seed": seed,
                          "params": params, "conversation": conversation}))
        if named:
            plan = plan.merge(_named_plan(store, {"target": target, **helpers}, behaviors, named, options=options,
                                          limit=limit, params=params))
        guard.approve(plan)
        bar = guard.bar
        bars: dict[str, Any] = {}
        t0 = time.monotonic()

        def on_start(label: str, run_id: str, total: int) -> None:
            guard.started(run_id, total)
            bars[label] = bar.add_task(f"{label} (run {run_id[:8]})", total=total, rate="")

        def on_progress(label: str, p: Any) -> None:
            rate = (p.succeeded + p.failed) / max(time.monotonic() - t0, 1e-9)
            bar.update(bars[label], completed=p.completed, rate=f"{rate:,.1f}/s  {p.failed} failed")

        endpoint = Endpoint(temperature=temperature, max_tokens=max_tokens, rpm=rpm, tpm=tpm, timeout=timeout,
                            max_retries=max_retries, backoff_base=backoff, cache="own-run" if no_cache else "on")
        session = Session(store, endpoint, dataclasses.replace(where, concurrency=concurrency))
        if chains:
            results = run_attacks(session, target, behaviors, chains, limit=limit, on_start=on_start,
                                  on_progress=on_progress)
        if iterative:
            it_name = "multiturn" if conversation else "iterative"
            called = [target, *(m for m in helpers.values() if not isinstance(m, str))]
            for m in called:  # endpoints are remembered only once the attack has answers
                store_model(store, m)
            it = run_iterative(session.replace(on_start=lambda rid, n: on_start(it_name, rid, n),
                                               on_progress=lambda p: on_progress(it_name, p)),
                               target, behaviors, attacker=helpers["attacker"], scorer=helpers["scorer"],
                               attack=IterativeAttack(streams=streams, turns=turns, threshold=threshold, seed=seed,
                                                      conversation=conversation), limit=limit)
            if it.run.succeeded:
                for m in called:
                    remember_endpoint(store, m)
        if named:
            called = [target, *(m for m in helpers.values() if not isinstance(m, str))]
            for m in called:
                store_model(store, m)
            for name, how in named:
                one = _run_named(session.replace(on_start=lambda rid, n, name=name: on_start(name, rid, n),
                                                 on_progress=lambda p, name=name: on_progress(name, p)),
                                 target, behaviors, [(name, how)], helpers, limit=limit, params=params)
                others += one
            if all(o.run.succeeded for o in others):
                for m in called:
                    remember_endpoint(store, m)
        if chosen is not None:
            from assay.redteam.suites import probes

            for name in chosen.probes:
                done = probes()[name](session, target, behaviors)
                for d in done if isinstance(done, list) else [done]:
                    if all(hasattr(d, a) for a in ("attack", "dataset", "attempts", "failed", "run")):
                        results.append(d)  # attack results (manyshot-sweep, injection...): reported as attacks
                    else:  # any other probe: its runs (a bias run and its judging run, say)
                        probe_runs += [(name, r) for r in (getattr(d, "run", None), getattr(d, "judge_run", None))
                                       if r is not None]
            from assay.redteam.suites import run_detectors

            for name in chosen.detectors:
                run_detectors(session.replace(on_start=lambda rid, n, name=name: on_start(f"{name} detector", rid, n),
                                              on_progress=lambda p, name=name: on_progress(f"{name} detector", p)),
                              target.id, [name])
    named_runs = [o for o in others if hasattr(o, "run")]
    failed = (sum(r.failed for r in results) + (it.run.failed if it else 0) + sum(o.run.failed for o in named_runs)
              + sum(r.failed for _, r in probe_runs))
    _report(results, it, json_out, named_runs, probe_runs)
    if failed:
        raise SystemExit(1)


def _named_row(o: Any) -> dict[str, Any]:
    succeeded = getattr(o, "succeeded", None)
    if succeeded is None:
        succeeded = o.succeeded_streams
    return {"attack": o.attack, "behaviors": o.behaviors, "attempts": o.attempts, "succeeded": succeeded,
            "best": o.best, "run": o.run.model_dump(mode="json", exclude={"config"})}


def _report(results: list[Any], it: Any, json_out: bool, named: list[Any] | None = None,
            probe_runs: list[tuple[str, Any]] | None = None) -> None:
    named, probe_runs = named or [], probe_runs or []
    if wants_json(json_out):
        data: dict[str, Any] = {"attacks": [
            {"attack": r.attack, "dataset": r.dataset, "behaviors": r.behaviors, "attempts": r.attempts,
             "added": r.added, "failed": r.failed, "rewrite_errors": getattr(r, "rewrite_errors", []),
             "run": r.run.model_dump(mode="json", exclude={"config"})}
            for r in results]}
        if it is not None:
            data["iterative"] = {"attack": it.attack, "behaviors": it.behaviors, "streams": it.streams, "attempts": it.attempts,
                                 "succeeded_streams": it.succeeded_streams, "best": it.best,
                                 "run": it.run.model_dump(mode="json", exclude={"config"})}
        if named:
            data["named"] = [_named_row(o) for o in named]
        if probe_runs:
            data["probes"] = [{"probe": n, "run": r.model_dump(mode="json", exclude={"config"})} for n, r in probe_runs]
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
    for o in named:
        row = _named_row(o)
        unit = "behaviours" if o.attack == "tap" else "streams"
        total = o.behaviors if o.attack == "tap" else o.behaviors * o.streams
        t.add_row(o.attack, f"{o.behaviors:,}", f"{o.attempts:,}", "", f"{o.run.failed:,}",
                  f"{row['succeeded']}/{total} {unit}", o.run.id[:12])
    for name, run in probe_runs:
        t.add_row(f"{name} ({run.kind})", "", f"{run.succeeded:,}", "", f"{run.failed:,}", "", run.id[:12])
    console.print(t)
    for r in results:
        for e in getattr(r, "rewrite_errors", []):
            err_console.print(e, highlight=False)
    for run in [r.run for r in results] + ([it.run] if it else []) + [o.run for o in named] + [r for _, r in probe_runs]:
        if run.failed:
            err_console.print(run_line(run), highlight=False)
    if (any(r.failed for r in results) or (it and it.run.failed) or any(o.run.failed for o in named)
            or any(r.failed for _, r in probe_runs)):
        err_console.print("some calls failed (`assay runs --id RUN` lists them); run the same command again to retry",
                          highlight=False)
    console.print("verdicts: `assay redteam detect`, then `assay redteam asr`", highlight=False)
