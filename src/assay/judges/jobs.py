"""Running judges over the store: which responses, which judge, one resumable run, results stored.

These are the library functions behind ``assay judge`` and ``assay verify``:

    session = Session(store, Endpoint(base_url=URL))        # assay.session
    run, rater = judge_rubric(session, ["gpt-4o@2024-08-06"], "default", dataset="qa")
    run, rater = judge_pairwise(session, ["a@1", "b@1"], ["judge@1"])
    run, rater = verify(session, create("ifeval", mode="strict"), dataset="ifeval")

Every LLM call goes through a provider client the session makes (the store's request
cache, the endpoint's limits and retries) and every run through the session's executor
(local asyncio by default, ``Execution(executor="ray")`` for Ray workers), so running
the same command again resumes it and answers finished calls from the cache.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay import records as R
from assay.errors import BadInput, NotFound
from assay.judges.pairwise import PairwisePrompt
from assay.judges.rubric import RubricPrompt
from assay.runs import unit_work

if TYPE_CHECKING:
    from assay.session import Session
    from assay.store import Store


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


def _guideline_version(store: Store, rubric_id: str | None) -> int | None:
    if rubric_id is None:
        return None
    g = store.guideline(rubric_id)
    return g.version if g is not None else None


def _execution(session: Session, concurrency: int) -> dict[str, Any]:
    """How a judge run is executed, as its run's config records it; ``structured="off"`` is left out, so a run
    started when off was the default keeps its id (and resumes) when it is asked for by name."""
    e = session.endpoint
    opts = {"timeout": e.timeout, "max_retries": e.max_retries, "backoff_base": e.backoff_base,
            "structured": e.structured}
    return {"concurrency": concurrency, "rpm": e.rpm, "tpm": e.tpm, "no_cache": e.no_cache, "base_url": e.base_url,
            **{k: v for k, v in opts.items() if (k, v) != ("structured", "off")}}


def member_calls(member: Any, payload: tuple) -> list[Any]:
    """The first calls a judge (rubric or pairwise) makes on one unit's payload (see ``assay.runs.plan``).

    Repair turns after an unreadable answer are not counted: they depend on the answer.
    """
    from assay.session import first_request
    from assay.runs.plan import Call

    client, item = member.client, payload[0]
    if member.kind == "pairwise":
        asked = [first_request(client, member.messages(item, shown)[0], member.params(),
                               member.structured_form(item, shown)) for shown in member.orders(*payload)]
        return [Call.of(client, messages, params=params) for messages, params in asked]
    messages, params = first_request(client, member.messages(*payload)[0], member.params(),
                                     member.structured_form(*payload))
    return [Call.of(client, messages, sample_index=k, params=params) for k in range(member.samples)]


def _run_judges(session: Session, members: Sequence[Any], work: Sequence[Any], make_task: Callable[..., Any], *,
                aggregate: str, concurrency: int) -> tuple[R.Run, R.Rater]:
    """One judge's task, or a panel's over all members; returns the Run and the rater of the result."""
    from assay.judges.panel import Panel, panel_task

    execution = _execution(session, concurrency)
    if len(members) == 1:
        task, raters = make_task(members[0], work, execution=execution), [members[0].rater()]
    else:
        panel = Panel(members, aggregate=aggregate)
        task, raters = panel_task(panel, work, execution=execution), [*(m.rater() for m in members), panel.rater()]
    models = list({m.client.model.id: m.client.model for m in members}.values())
    run = session.run(task, concurrency=2 * concurrency, models=models, records=raters,
                      calls=lambda unit: [c for m in members for c in member_calls(m, unit.payload)])
    return run, raters[-1]


def judge_rubric(session: Session, judges: Sequence[str], rubric: str | R.Rubric, *, dataset: str | None = None,
                 models: Sequence[str] | None = None, prompt: RubricPrompt | None = None,
                 aggregate: str = "majority", response_ids: Collection[str] | None = None) -> tuple[R.Run, R.Rater]:
    """Grade responses on a rubric with one judge model, or a panel of several; returns the Run and the rater.

    The responses are those of ``dataset``'s items by ``models`` (None: all). The session's
    endpoint gives every judge its base URL, key variable, prices, temperature and
    max_tokens, limits (``rpm``/``tpm`` per judge model), retries and ``structured``
    (``auto``, ``on``, ``off``: whether the judges ask for structured outputs, see
    ``OpenAIChat``); its execution ``on_plan(plan)`` sees what the run will spend
    (``assay.runs.plan``) before anything is stored or sent, and an exception it raises
    stops the run there. ``aggregate`` combines a panel's verdicts. ``response_ids``, when
    given, keeps only those responses (``judges.tune`` grades the human-labelled ones).
    """
    from assay.judges._template import Template
    from assay.judges.rubric import RubricJudge, load_rubric_template, rubric_task
    from assay.rubrics import get_rubric

    store, e = session.store, session.endpoint
    how = prompt if prompt is not None else RubricPrompt()
    rub = rubric if isinstance(rubric, R.Rubric) else get_rubric(store, rubric)
    pairs = select_responses(store, dataset=dataset, models=models)
    if response_ids is not None:
        wanted = set(response_ids)
        pairs = [p for p in pairs if p[1].id in wanted]
        if not pairs:
            raise NotFound("none of the responses asked for is in the store")
    tpl = how.template if isinstance(how.template, Template) else load_rubric_template(how.template)
    gv = _guideline_version(store, rub.id)
    members = [
        RubricJudge(session.client(session.model(j), concurrency=8, structured=e.structured), rub,
                    dataclasses.replace(how, template=tpl), temperature=e.temperature, max_tokens=e.max_tokens,
                    guideline_version=gv)
        for j in judges
    ]
    return _run_judges(session, members, pairs, rubric_task, aggregate=aggregate, concurrency=session.concurrency(8))


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


def judge_pairwise(session: Session, models: Sequence[str], judges: Sequence[str], *, dataset: str | None = None,
                   prompt: PairwisePrompt | None = None, rubric: str | None = None, dimension: str | None = None,
                   aggregate: str = "majority") -> tuple[R.Run, R.Rater]:
    """Compare the responses of ``models`` item by item (every pair), with one judge or a panel.

    The session as in ``judge_rubric`` (the judges ask at the endpoint's temperature, else
    0). ``rubric`` and ``dimension`` name what the verdicts are about, when they are about
    one dimension of a rubric.
    """
    from assay.judges.pairwise import PairwiseJudge, load_pairwise_template, pairwise_task

    store, e = session.store, session.endpoint
    how = prompt if prompt is not None else PairwisePrompt()
    work = pairwise_work(store, models, dataset=dataset)
    tpl = load_pairwise_template(how.template)
    gv = _guideline_version(store, rubric)
    members = [
        PairwiseJudge(session.client(session.model(j), concurrency=8, structured=e.structured),
                      dataclasses.replace(how, template=tpl),
                      temperature=e.temperature if e.temperature is not None else 0.0,
                      max_tokens=e.max_tokens, rubric=rubric, dimension=dimension, guideline_version=gv)
        for j in judges
    ]
    return _run_judges(session, members, work, pairwise_task, aggregate=aggregate, concurrency=session.concurrency(8))


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
    table: dict[str, dict[str, Any]] = {m: {"model": m, "wins": 0, "ties": 0, "losses": 0, "both_bad": 0} for m in models}
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
        rate = Fraction(2 * row["wins"] + row["ties"] + row["both_bad"], 2 * n) if n else None
        exact[m] = rate
        row["win_rate"] = float(rate) if rate is not None else None
    rated = [x for x in exact.values() if x is not None]
    for m, row in table.items():
        mine = exact[m]
        row["rank"] = None if mine is None else 1 + sum(x > mine for x in rated)
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
    if name == "refusal":  # the red-team detector reads English cues: not answers to a translated attack
        from assay.redteam.detect import foreign_language

        return ("a prompt sent in English (answers to `translate` attacks are left out: judge them with an LLM "
                "judge)", lambda it: foreign_language(it) is None)
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


def verify(session: Session, judge: Any, *, dataset: str | None = None,
           models: Sequence[str] | None = None) -> tuple[R.Run, R.Rater]:
    """Run a program judge (``assay.judges.create(...)``) on responses; Judgments under its program rater.

    Responses a built-in judge cannot check, their items lacking what it needs (IFEval
    instructions, a reference answer, a pattern for ``regex``), are left out, counted in
    the run's ``config["left_out"]``; with none left, the judge is refused (BadInput on
    ``judge``) before anything is stored. Only the session's execution is used.
    """
    from assay.rubrics import add_rubric
    from assay.runs import Unit, WorkTask, run_id_for, work_spec

    store = session.store
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
    ready = _prepared(store, judge, run_id, pairs)
    task = WorkTask("verify", config, [Unit(r.id, (i, r, ready.get(r.id))) for i, r in pairs],
                    functools.partial(_verify_unit, judge, rater, rubric, run_id), spec=spec, run_id=run_id)
    return session.run(task, concurrency=4, records=[rater], remember=False), rater


def _prepared(store: Store, judge: Any, run_id: str, pairs: Sequence[tuple[R.Item, R.Response]]) -> dict[str, Any]:
    """What a judge computes once for all the run's pending responses, by response id, carried in each unit.

    ``insecure_code`` scans JavaScript with njsscan, a program that takes seconds to start: one
    run for every pending response here (as ``assay redteam scan-code`` does), not one per unit."""
    if judge.name != "insecure_code":
        return {}
    from assay.redteam.insecure import prescan_pending

    return prescan_pending(store, judge, run_id, pairs)


async def _verify_unit(judge: Any, rater: R.Rater, rubric: R.Rubric, run_id: str,
                       payload: tuple[R.Item, R.Response] | tuple[R.Item, R.Response, Any]) -> Any:
    from assay.runs import Outcome

    item, response, ready = (*payload, None)[:3]
    if ready is None:
        verdict = judge(response.text, item)
    else:
        from assay.redteam.code import prescanned

        with prescanned(ready):
            verdict = judge(response.text, item)
    j = verdict_judgment(judge, rater, rubric, response, verdict, run_id)
    return Outcome(j.id, [j])


@unit_work("verify")
def _verify_work(config: dict[str, Any], clients: Any) -> Any:
    """verify's unit work, rebuilt in a worker process."""
    from assay.judges.registry import from_spec
    from assay.runs import WorkTask

    judge = from_spec(config["judge"])
    work = functools.partial(_verify_unit, judge, R.Rater.model_validate(config["rater"]),
                             R.Rubric.model_validate(config["rubric"]), config["run_id"])
    return WorkTask("verify", {}, [], work)


def ifeval_summary(store: Store, rater_id: str, *, run_id: str | None = None) -> dict[str, Any]:
    """Prompt- and instruction-level accuracy of an IFEval rater's Judgments (as in Zhou et al. 2023)."""
    js = list(store.iter(R.Judgment, rater_id=rater_id, run_id=run_id))
    prompts = [j for j in js if j.value is not None]
    values = [j.value for j in js if j.value is not None]
    followed = [i["followed"] for j in prompts for i in j.detail.get("instructions", [])]
    return {
        "prompts": len(prompts),
        "prompt_followed": int(sum(values)),
        "prompt_accuracy": sum(values) / len(prompts) if prompts else None,
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
