"""Running judges over the store: which responses, which judge, one resumable run, results stored.

These are the library functions behind ``assay judge`` and ``assay verify``:

    run = judge_rubric(store, ["gpt-4o@2024-08-06"], "default", base_url=URL, dataset="qa")
    run = judge_pairwise(store, ["a@1", "b@1"], ["judge@1"], base_url=URL)
    run = verify(store, create("ifeval", mode="strict"), dataset="ifeval")

Every LLM call goes through a provider client with the store's request cache and every
run through an executor (local asyncio by default, ``executor="ray"`` for Ray workers),
so running the same command again resumes it and answers finished calls from the cache.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay import records as R
from assay.errors import BadInput, NotFound
from assay.runs._remote import unit_work

if TYPE_CHECKING:
    from assay.store import Store


def judge_model(store: Store, model_id: str, *, base_url: str | None = None, api_key_env: str | None = None,
                price_in: float | None = None, price_out: float | None = None) -> R.Model:
    """The judge's Model: the stored one (with overrides) or a new one.

    It is stored when its run starts, its base URL and key variable only once the run
    has answers (``assay.runs.endpoint``).
    """
    try:
        R.split_model_id(model_id)
    except ValueError as e:
        raise BadInput(str(e), param="judge") from None
    stored = store.find("models", model_id)
    fields: dict[str, Any] = stored.model_dump() if stored is not None else {"id": model_id}
    overrides = {"base_url": base_url, "api_key_env": api_key_env, "price_input_per_mtok": price_in,
                 "price_output_per_mtok": price_out}
    fields.update({k: v for k, v in overrides.items() if v is not None})
    if not fields.get("base_url"):
        raise BadInput(f"judge {model_id} has no base URL in the store: give --base-url", param="base_url")
    return R.Model(**fields)


def _items(store: Store, ids: set[str]) -> dict[str, R.Item]:
    out: dict[str, R.Item] = {}
    ids_list = sorted(ids)
    for i in range(0, len(ids_list), 500):
        out.update({it.id: it for it in store.iter("items", id=ids_list[i : i + 500])})
    return out


def select_responses(store: Store, *, dataset: str | None = None, models: Sequence[str] | None = None,
                     sample_index: int | None = None) -> list[tuple[R.Item, R.Response]]:
    """(item, response) pairs to judge: of a dataset's items, by some models, in store order."""
    if dataset is not None:
        items = {it.id: it for it in store.iter("items", dataset=dataset)}
        if not items:
            raise NotFound(f"no dataset {dataset!r} with items in the store")
    responses = list(store.iter("responses", model=list(models) if models else None, sample_index=sample_index))
    if dataset is not None:
        responses = [r for r in responses if r.item_id in items]
    else:
        items = _items(store, {r.item_id for r in responses})
    if not responses:
        where = f" of dataset {dataset!r}" if dataset else ""
        by = f" by {', '.join(models)}" if models else ""
        raise NotFound(f"no responses{where}{by} in the store")
    return [(items[r.item_id], r) for r in responses]


def _client(model: R.Model, store: Store, *, concurrency: int, no_cache: bool, **options: Any) -> Any:
    from assay.providers import RequestCache, make_provider

    return make_provider(model, cache=RequestCache(store), no_cache=no_cache, concurrency=concurrency, **options)


def _guideline_version(store: Store, rubric_id: str | None) -> int | None:
    if rubric_id is None:
        return None
    g = store.guideline(rubric_id)
    return g.version if g is not None else None


def _execute(store: Store, task: Any, raters: Sequence[R.Rater], *, concurrency: int, on_progress: Any, on_start: Any,
             executor: str = "local", executor_options: dict[str, Any] | None = None) -> R.Run:
    from assay.runs import make_executor
    from assay.runs.endpoint import remember_endpoint, store_model

    models = list({c.model.id: c.model for c in getattr(task, "clients", ())}.values())
    for m in models:
        store_model(store, m)
    store.add(raters)
    if on_start is not None:
        on_start(task.run_id, len(task.units()))
    runner = make_executor(executor, store, concurrency=concurrency, on_progress=on_progress, **(executor_options or {}))
    run = runner.run(task)
    if run.succeeded:
        for m in models:
            remember_endpoint(store, m)
    return run


def _execution(opts: dict[str, Any], **settings: Any) -> dict[str, Any]:
    """How a judge run is executed, as its run id records it; ``structured="off"`` is left out, so a run
    started when off was the default keeps its id (and resumes) when it is asked for by name."""
    return {**settings, **{k: v for k, v in opts.items() if (k, v) != ("structured", "off")}}


def member_calls(member: Any, payload: tuple) -> list[Any]:
    """The first calls a judge (rubric or pairwise) makes on one unit's payload (see ``assay.runs.plan``).

    Repair turns after an unreadable answer are not counted: they depend on the answer.
    """
    from assay.judges._llm import first_request
    from assay.runs.plan import Call

    client, item = member.client, payload[0]
    if member.kind == "pairwise":
        asked = [first_request(client, member.messages(item, shown)[0], member.params(),
                               member.structured_form(item, shown)) for shown in member.orders(*payload)]
        return [Call.of(client, messages, params=params) for messages, params in asked]
    messages, params = first_request(client, member.messages(*payload)[0], member.params(),
                                     member.structured_form(*payload))
    return [Call.of(client, messages, sample_index=k, params=params) for k in range(member.samples)]


def _run_judges(store: Store, members: Sequence[Any], work: Sequence[Any], make_task: Callable[..., Any], *,
                aggregate: str, execution: dict[str, Any], concurrency: int, on_progress: Any,
                on_start: Any, on_plan: Any, executor: str,
                executor_options: dict[str, Any] | None) -> tuple[R.Run, R.Rater]:
    """One judge's task, or a panel's over all members; returns the Run and the rater of the result."""
    from assay.judges.panel import Panel, panel_task
    from assay.runs.plan import plan_task

    if len(members) == 1:
        task, raters = make_task(members[0], work, execution=execution), [members[0].rater()]
    else:
        panel = Panel(members, aggregate=aggregate)
        task, raters = panel_task(panel, work, execution=execution), [*(m.rater() for m in members), panel.rater()]
    if on_plan is not None:
        on_plan(plan_task(store, task, lambda unit: [c for m in members for c in member_calls(m, unit.payload)]))
    run = _execute(store, task, raters, concurrency=2 * concurrency, on_progress=on_progress, on_start=on_start,
                   executor=executor, executor_options=executor_options)
    return run, raters[-1]


def judge_rubric(
    store: Store,
    judges: Sequence[str],
    rubric: str | R.Rubric,
    *,
    base_url: str | None = None,
    api_key_env: str | None = None,
    dimensions: Sequence[str] | None = None,
    dataset: str | None = None,
    models: Sequence[str] | None = None,
    samples: int = 1,
    temperature: float | None = None,
    max_tokens: int | None = None,
    logprobs: bool = True,
    template: str | Path | None = None,
    aggregate: str = "majority",
    concurrency: int = 8,
    rpm: float | None = None,
    tpm: float | None = None,
    timeout: float = 120.0,
    max_retries: int = 6,
    backoff_base: float = 1.0,
    no_cache: bool = False,
    price_in: float | None = None,
    price_out: float | None = None,
    on_progress: Callable[[Any], None] | None = None,
    on_start: Callable[[str, int], None] | None = None,
    on_plan: Callable[[Any], None] | None = None,
    executor: str = "local",
    executor_options: dict[str, Any] | None = None,
    structured: str = "auto",
) -> tuple[R.Run, R.Rater]:
    """Grade responses on a rubric with one judge model, or a panel of several; returns the Run and the rater.

    ``structured`` (``auto``, ``on``, ``off``) says whether the judges ask for structured outputs (see
    ``OpenAIChat``). ``rpm``/``tpm`` limit each judge model's requests and tokens per minute; ``price_in``/
    ``price_out`` (USD per million tokens) price every judge. ``on_plan(plan)`` sees what the
    run will spend (``assay.runs.plan``) before anything is stored or sent; an exception it
    raises stops the run there.
    """
    from assay.judges.rubric import RubricJudge, load_rubric_template, rubric_task
    from assay.rubrics import get_rubric

    rub = rubric if isinstance(rubric, R.Rubric) else get_rubric(store, rubric)
    pairs = select_responses(store, dataset=dataset, models=models)
    tpl = load_rubric_template(template)
    gv = _guideline_version(store, rub.id)
    opts = dict(timeout=timeout, max_retries=max_retries, backoff_base=backoff_base,
                structured=structured)  # the client's setting; see OpenAIChat
    endpoint = dict(base_url=base_url, api_key_env=api_key_env, price_in=price_in, price_out=price_out)
    members = [
        RubricJudge(_client(judge_model(store, j, **endpoint), store, concurrency=concurrency, no_cache=no_cache,
                            rpm=rpm, tpm=tpm, **opts),
                    rub, dimensions=dimensions, template=tpl, samples=samples, temperature=temperature,
                    max_tokens=max_tokens, logprobs=logprobs, guideline_version=gv)
        for j in judges
    ]
    execution = _execution(opts, concurrency=concurrency, rpm=rpm, tpm=tpm, no_cache=no_cache, base_url=base_url)
    return _run_judges(store, members, pairs, rubric_task, aggregate=aggregate, execution=execution,
                       concurrency=concurrency, on_progress=on_progress, on_start=on_start, on_plan=on_plan,
                       executor=executor, executor_options=executor_options)


def pairwise_work(store: Store, models: Sequence[str], *, dataset: str | None = None,
                  sample_index: int = 0) -> list[tuple[R.Item, R.Response, R.Response]]:
    """(item, a, b) for every item answered by at least two of ``models``, every pair of them in the given order."""
    if len(models) < 2:
        raise BadInput("pairwise judging needs at least two models", param="models")
    if len(set(models)) != len(models):
        raise BadInput("the models to compare must differ", param="models")
    pairs = select_responses(store, dataset=dataset, models=models, sample_index=sample_index)
    by_item: dict[str, dict[str, R.Response]] = defaultdict(dict)
    items: dict[str, R.Item] = {}
    for item, r in pairs:
        by_item[item.id][r.model] = r
        items[item.id] = item
    work = []
    for item_id, got in by_item.items():
        present = [got[m] for m in models if m in got]
        work += [(items[item_id], a, b) for a, b in combinations(present, 2)]
    if not work:
        raise NotFound(f"no item has responses from two of {', '.join(models)}")
    return work


def judge_pairwise(
    store: Store,
    models: Sequence[str],
    judges: Sequence[str],
    *,
    base_url: str | None = None,
    api_key_env: str | None = None,
    dataset: str | None = None,
    both_orders: bool = True,
    use_reference: bool = True,
    criteria: str | None = None,
    temperature: float = 0.0,
    max_tokens: int | None = None,
    template: str | Path | None = None,
    rubric: str | None = None,
    dimension: str | None = None,
    aggregate: str = "majority",
    concurrency: int = 8,
    rpm: float | None = None,
    tpm: float | None = None,
    timeout: float = 120.0,
    max_retries: int = 6,
    backoff_base: float = 1.0,
    no_cache: bool = False,
    price_in: float | None = None,
    price_out: float | None = None,
    on_progress: Callable[[Any], None] | None = None,
    on_start: Callable[[str, int], None] | None = None,
    on_plan: Callable[[Any], None] | None = None,
    executor: str = "local",
    executor_options: dict[str, Any] | None = None,
    structured: str = "auto",
) -> tuple[R.Run, R.Rater]:
    """Compare the responses of ``models`` item by item (every pair), with one judge or a panel.

    ``structured``, ``rpm``, ``tpm``, ``price_in``, ``price_out`` and ``on_plan`` as in ``judge_rubric``.
    """
    from assay.judges.pairwise import PairwiseJudge, load_pairwise_template, pairwise_task

    work = pairwise_work(store, models, dataset=dataset)
    tpl = load_pairwise_template(template)
    gv = _guideline_version(store, rubric)
    opts = dict(timeout=timeout, max_retries=max_retries, backoff_base=backoff_base,
                structured=structured)  # the client's setting; see OpenAIChat
    endpoint = dict(base_url=base_url, api_key_env=api_key_env, price_in=price_in, price_out=price_out)
    members = [
        PairwiseJudge(_client(judge_model(store, j, **endpoint), store, concurrency=concurrency, no_cache=no_cache,
                              rpm=rpm, tpm=tpm, **opts),
                      template=tpl, both_orders=both_orders, use_reference=use_reference, criteria=criteria,
                      temperature=temperature, max_tokens=max_tokens, rubric=rubric, dimension=dimension,
                      guideline_version=gv)
        for j in judges
    ]
    execution = _execution(opts, concurrency=concurrency, rpm=rpm, tpm=tpm, no_cache=no_cache, base_url=base_url)
    return _run_judges(store, members, work, pairwise_task, aggregate=aggregate, execution=execution,
                       concurrency=concurrency, on_progress=on_progress, on_start=on_start, on_plan=on_plan,
                       executor=executor, executor_options=executor_options)


def run_units(store: Store, run_id: str) -> set[str]:
    """Keys of a run's finished units (response ids for grading, ``first:second`` for pairs)."""
    from assay.store.ledger import Ledger

    return {u["unit_key"] for u in Ledger(store).units(run_id, status="done")}


def _pair_comparisons(store: Store, rater_id: str, units: set[str] | None) -> list[R.Comparison]:
    comps = [c for c in store.iter("comparisons", rater_id=rater_id) if len(c.response_ids) == 2]
    return comps if units is None else [c for c in comps if ":".join(c.response_ids) in units]


def win_rates(store: Store, rater_id: str, models: Sequence[str], *, units: set[str] | None = None) -> list[dict[str, Any]]:
    """Per model: wins, ties, losses, win rate (ties and both bad count half) and rank, over a
    rater's pairwise comparisons (of ``units`` only).

    ``rank`` is 1 + the number of models with a strictly higher win rate, compared exactly
    (as fractions): equal win rates share a rank, and their order in the list means nothing.
    """
    from fractions import Fraction

    comps = _pair_comparisons(store, rater_id, units)
    model_of = {}
    ids = sorted({i for c in comps for i in c.response_ids})
    for i in range(0, len(ids), 500):
        model_of.update({r.id: r.model for r in store.iter("responses", id=ids[i : i + 500])})
    table = {m: {"model": m, "wins": 0, "ties": 0, "losses": 0, "both_bad": 0} for m in models}
    for c in comps:
        a, b = (model_of.get(i) for i in c.response_ids)
        if a not in table or b not in table:
            continue
        if c.outcome == "win":
            w, l = (a, b) if c.winner == c.response_ids[0] else (b, a)
            table[w]["wins"] += 1
            table[l]["losses"] += 1
        else:
            key = "ties" if c.outcome == "tie" else "both_bad"
            table[a][key] += 1
            table[b][key] += 1
    exact: dict[str, Fraction | None] = {}
    for m, row in table.items():
        n = row["wins"] + row["ties"] + row["losses"] + row["both_bad"]
        exact[m] = Fraction(2 * row["wins"] + row["ties"] + row["both_bad"], 2 * n) if n else None
        row["win_rate"] = float(exact[m]) if n else None
    rated = [x for x in exact.values() if x is not None]
    for m, row in table.items():
        row["rank"] = None if exact[m] is None else 1 + sum(x > exact[m] for x in rated)  # type: ignore[operator]
    return sorted(table.values(), key=lambda r: (r["rank"] is None, r["rank"] or 0, r["model"]))


def store_rankings(store: Store, rater_id: str, models: Sequence[str], *, units: set[str] | None = None,
                   run_id: str | None = None) -> int:
    """For N > 2 models: store per item an N-way Comparison ranking the responses through their pairs.

    Responses with equal points tie (``pairwise.tie_groups``): the groups of two or more are
    kept in ``detail["ties"]``, and when every response ties the record is an N-way tie
    without a ranking. A derived ranking repeats its pairs, so preference exports and
    leaderboards read the pairs, not it (``detail["method"] == "pairs"``).
    """
    from assay.judges.pairwise import rank_through_pairs, tie_groups

    if len(models) < 3:
        return 0
    comps = _pair_comparisons(store, rater_id, units)
    by_item: dict[str, list[R.Comparison]] = defaultdict(list)
    for c in comps:
        by_item[c.item_id].append(c)
    records = []
    for item_id, cs in by_item.items():
        ids = list(dict.fromkeys(i for c in cs for i in c.response_ids))
        if len(ids) < 3:
            continue
        ranked = rank_through_pairs(cs, ids)
        groups = tie_groups(ranked)
        all_tie = len(groups) == 1
        records.append(R.Comparison(
            id=R.digest("ranking", rater_id, item_id, sorted(ids)), item_id=item_id, rater_id=rater_id,
            response_ids=sorted(ids), shown_order=sorted(ids), outcome="tie" if all_tie else "win",
            ranking=None if all_tie else [i for i, _ in ranked], run_id=run_id,
            justification="ranked through pairwise comparisons (1 per win, 0.5 per tie, 0.01 x strength; "
                          "equal points tie)",
            detail={"method": "pairs", "points": {i: p for i, p in ranked},
                    "ties": [g for g in groups if len(g) > 1], "from": sorted(c.id for c in cs)},
        ))
    return store.add(records)


# ---- program verifiers -------------------------------------------------------------------

# One dimension per built-in program judge: verifiers pass (1) or fail (0); metrics keep their score.
_METRIC_RANGES = {"token_f1": (0.0, 1.0), "rouge_l": (0.0, 1.0), "bleu": (0.0, 100.0), "chrf": (0.0, 100.0),
                  "embedding_cosine": (-1.0, 1.0)}
_BINARY = ("ifeval", "ifeval.instruction", "json_valid", "json_schema", "regex", "length", "exact_match")


def _dimension_name(judge_name: str) -> str:
    return judge_name.replace(".", "-").lower()


def verifiers_rubric() -> R.Rubric:
    """The built-in rubric ``verifiers@1`` that program judges' Judgments refer to.

    One dimension per built-in program judge (``ifeval.instruction`` as
    ``ifeval-instruction``): binary for the verifiers and exact match (1 = passed), continuous
    over the metric's range for the other reference metrics (the score itself; a
    threshold's pass or fail goes to ``detail["passed"]``).
    """
    dims = [R.Dimension(name=_dimension_name(n), description=f"passes the program check '{n}'",
                        scale=R.Scale(kind="binary", true_label="pass", false_label="fail")) for n in _BINARY]
    dims += [R.Dimension(name=n, description=f"reference metric '{n}'", scale=R.Scale(kind="continuous", min=lo, max=hi))
             for n, (lo, hi) in _METRIC_RANGES.items()]
    return R.Rubric(name="verifiers", version=1, description="Program verifiers and reference metrics (built in).",
                    guidelines="Computed by programs; see each rater's name, version and arguments.", dimensions=dims)


def _plugin_rubric(judge: Any) -> R.Rubric:
    name = _dimension_name(judge.name)
    scale = R.Scale(kind="binary", true_label="pass", false_label="fail") if judge.kind == "verifier" else \
        R.Scale(kind="continuous", min=-1e12, max=1e12)
    return R.Rubric(name=f"verifier.{name}", version=1, description=f"Program judge '{judge.name}'.",
                    dimensions=[R.Dimension(name=name, description=f"program judge '{judge.name}'", scale=scale)])


def rubric_for(judge: Any) -> R.Rubric:
    return verifiers_rubric() if judge.name in _BINARY or judge.name in _METRIC_RANGES else _plugin_rubric(judge)


def verdict_judgment(judge: Any, rater: R.Rater, rubric: R.Rubric, response: R.Response, verdict: Any,
                     run_id: str | None) -> R.Judgment:
    dim = rubric.dimensions[0] if len(rubric.dimensions) == 1 else rubric.dimension(_dimension_name(judge.name))
    if dim.scale.kind == "binary":
        value = None if verdict.passed is None else float(verdict.passed)
        label = None if value is None else (dim.scale.true_label if value else dim.scale.false_label)
    else:
        value, label = verdict.score, None
    return R.Judgment(
        id=R.digest("judgment", rater.id, response.id, rubric.id, dim.name), response_id=response.id,
        rater_id=rater.id, rubric=rubric.id, dimension=dim.name, value=value, label=label,
        justification=verdict.reason, run_id=run_id,
        detail={**verdict.details, "passed": verdict.passed, "score": verdict.score},
    )


def _item_needs(judge: Any) -> tuple[str, Callable[[R.Item], bool]] | None:
    """What every item must carry for a built-in program judge to check a response to it (None: nothing)."""
    name, args = judge.name, judge.args

    def meta(key: str) -> Callable[[R.Item], bool]:
        return lambda it: it.metadata.get(key) is not None

    if name == "ifeval":
        return ("IFEval instructions (metadata 'instruction_id_list'; `assay import-ifeval` imports them)",
                meta("instruction_id_list"))
    if name == "regex" and args.get("pattern") is None:
        return "a pattern: the argument 'pattern', else the item's metadata 'regex'", meta("regex")
    if name == "json_schema" and args.get("schema") is None:
        return "a JSON Schema: the argument 'schema', else the item's metadata 'json_schema'", meta("json_schema")
    if name == "exact_match" or name in _METRIC_RANGES:
        return "a reference answer", lambda it: bool(it.metadata.get("references") or it.reference)
    return None


def split_by_inputs(judge: Any, pairs: Sequence[tuple[R.Item, R.Response]]
                    ) -> tuple[list[tuple[R.Item, R.Response]], int, str | None]:
    """The (item, response) pairs a program judge can check, how many it cannot, and what those items lack.

    A unit it cannot check would only be stored as failed, and running it again cannot
    help: such responses are left out, and when none is left the judge is refused
    (BadInput on ``judge``).
    """
    need = _item_needs(judge)
    if need is None:
        return list(pairs), 0, None
    what, has = need
    usable = [p for p in pairs if has(p[0])]
    if not usable:
        items = list({i.id: i for i, _ in pairs})
        raise BadInput(f"{judge.name} needs {what}, and none of the {len(items):,} items of these responses has it "
                       f"(first: {items[0]}); choose responses to items that have it", field="judge")
    return usable, len(pairs) - len(usable), what


def verify(store: Store, judge: Any, *, dataset: str | None = None, models: Sequence[str] | None = None,
           on_progress: Callable[[Any], None] | None = None,
           on_start: Callable[[str, int], None] | None = None, executor: str = "local",
           executor_options: dict[str, Any] | None = None) -> tuple[R.Run, R.Rater]:
    """Run a program judge (``assay.judges.create(...)``) on responses; Judgments under its program rater.

    Responses a built-in judge cannot check, their items lacking what it needs (IFEval
    instructions, a reference answer, a pattern for ``regex``), are left out, counted in
    the run's ``config["left_out"]``; with none left, the judge is refused (BadInput on
    ``judge``) before anything is stored.
    """
    from assay.judges._llm import JudgeTask
    from assay.rubrics import add_rubric
    from assay.runs import Unit, make_executor, run_id_for
    from assay.runs._remote import work_spec

    pairs, left_out, lacking = split_by_inputs(judge, select_responses(store, dataset=dataset, models=models))
    rubric = rubric_for(judge)
    add_rubric(store, rubric)
    rater = judge.rater()
    config = {"judge": rater.id, "spec": judge.spec(), "rubric": rubric.id,
              "responses": R.digest("responses", sorted(r.id for _, r in pairs))}
    if left_out:
        config["left_out"] = {"responses": left_out, "items_lack": lacking}
    run_id = run_id_for("verify", config)
    spec = work_spec("verify", {"judge": judge.spec(), "rubric": rubric.model_dump(mode="json"),
                                "rater": rater.model_dump(mode="json"), "run_id": run_id})
    task = JudgeTask("verify", config, [Unit(r.id, (i, r)) for i, r in pairs],
                     functools.partial(_verify_unit, judge, rater, rubric, run_id), spec=spec)
    store.add([rater])
    if on_start is not None:
        on_start(run_id, len(pairs))
    runner = make_executor(executor, store, concurrency=4, on_progress=on_progress, **(executor_options or {}))
    return runner.run(task), rater


async def _verify_unit(judge: Any, rater: R.Rater, rubric: R.Rubric, run_id: str,
                       payload: tuple[R.Item, R.Response]) -> Any:
    from assay.runs import Outcome

    item, response = payload
    j = verdict_judgment(judge, rater, rubric, response, judge(response.text, item), run_id)
    return Outcome(j.id, [j])


@unit_work("verify")
def _verify_work(config: dict[str, Any], clients: Any) -> Any:
    """verify's unit work, rebuilt in a worker process."""
    from assay.judges._llm import JudgeTask
    from assay.judges.registry import from_spec

    judge = from_spec(config["judge"])
    work = functools.partial(_verify_unit, judge, R.Rater.model_validate(config["rater"]),
                             R.Rubric.model_validate(config["rubric"]), config["run_id"])
    return JudgeTask("verify", {}, [], work)


def ifeval_summary(store: Store, rater_id: str, *, run_id: str | None = None) -> dict[str, Any]:
    """Prompt- and instruction-level accuracy of an IFEval rater's Judgments (as in Zhou et al. 2023)."""
    js = list(store.iter("judgments", rater_id=rater_id, run_id=run_id))
    prompts = [j for j in js if j.value is not None]
    followed = [i["followed"] for j in prompts for i in j.detail.get("instructions", [])]
    return {
        "prompts": len(prompts),
        "prompt_followed": int(sum(j.value for j in prompts)),  # type: ignore[misc]
        "prompt_accuracy": sum(j.value for j in prompts) / len(prompts) if prompts else None,  # type: ignore[misc]
        "instructions": len(followed),
        "instruction_followed": int(sum(followed)),
        "instruction_accuracy": sum(followed) / len(followed) if followed else None,
    }


def load_ifeval(store: Store, input_path: str | Path, responses_path: str | Path | None = None, *,
                dataset: str = "ifeval", model: str | None = None) -> dict[str, Any]:
    """Import IFEval's ``input_data.jsonl`` as items (metadata: instruction_id_list, kwargs, key) and,
    optionally, a response file (rows with ``prompt`` and ``response``, matched by prompt text) as
    ``model``'s responses. Returns counts, with the keys of prompts that had no response."""
    from assay.judges.ifeval import read_jsonl

    rows = read_jsonl(input_path)
    items = []
    for n, row in enumerate(rows, start=1):
        for key in ("key", "prompt", "instruction_id_list", "kwargs"):
            if key not in row:
                raise BadInput(f"missing field {key!r}", file=str(input_path), line=n)
        items.append(R.Item(id=R.Item.make_id(dataset, str(row["key"]), None, None), dataset=dataset,
                            external_id=str(row["key"]), prompt=row["prompt"],
                            metadata={"key": row["key"], "instruction_id_list": row["instruction_id_list"],
                                      "kwargs": row["kwargs"]}))
    records: list[R.Record] = [R.Dataset(name=dataset, source=str(input_path)), *items]
    missing: list[Any] = []
    if responses_path is not None:
        if model is None:
            raise BadInput("give the model that wrote the responses as NAME@VERSION", param="model")
        try:
            R.split_model_id(model)
        except ValueError as e:
            raise BadInput(str(e), param="model") from None
        answers = {}
        for n, r in enumerate(read_jsonl(responses_path), start=1):
            if "prompt" not in r or "response" not in r:
                raise BadInput("a response row needs 'prompt' and 'response'", file=str(responses_path), line=n)
            answers[r["prompt"]] = r["response"]
        records.append(R.Model(id=model, provider="none"))
        for item in items:
            text = answers.get(item.prompt)
            if text is None:
                missing.append(item.metadata["key"])
                continue
            records.append(R.Response(id=R.Response.make_id(item.id, model, 0), item_id=item.id, model=model, text=text))
    before = {k: store.count(k) for k in ("items", "responses")}
    with store.transaction() as conn:
        store.add(records, conn)
    return {**{f"{k}_added": store.count(k) - v for k, v in before.items()}, "missing_responses": missing}
