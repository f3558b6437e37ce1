"""Re-checking an entry on a new model version: answer its example prompts, apply its detector, record.

The prompts are answered through the generation run engine (``assay.runs``: resumable,
every call cached), the answers judged by the entry's detector (a program judge, run
in process, or an LLM rubric judge through the judge run engine), and the outcome
written as the entry's next version:

- ``mitigated`` when the failure rate falls below ``mitigated_below``;
- ``regressed`` when a mitigated (or regressed) entry fails again;
- ``confirmed`` otherwise.

The evidence holds the model, n, failures, rate and its Wilson score interval, the
generation and judge run ids, and the history of earlier checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assay import records as R
from assay.errors import BadInput
from assay.library.entries import edit_entry, get_entry
from assay.library.failures import default_threshold, worse
from assay.stats.proportions import wilson_interval

if TYPE_CHECKING:
    from assay.session import Session
    from assay.store import Store


@dataclass
class CheckResult:
    """One re-check: the entry's new version and what was measured."""

    entry: R.LibraryEntry
    previous_status: str
    evidence: dict[str, Any]


def _items_of(store: Store, entry: R.LibraryEntry) -> list[R.Item]:
    responses = store.by_id(R.Response, entry.examples)
    items = store.by_id(R.Item, {r.item_id for r in responses.values()})
    return [items[i] for i in sorted(items)]


def _generate(session: Session, model: R.Model, entry: R.LibraryEntry, items: list[R.Item], *,
              samples: int) -> tuple[R.Run, list]:
    from assay.runs import GenerateTask

    store, e = session.store, session.endpoint
    concurrency = session.concurrency(8)
    store.add([model])
    client = session.client(model, concurrency=8)
    # the "dataset" of this generation is the entry's prompts; naming them in it gives each set its own run
    label = f"library:{entry.entry}:{R.digest('items', [i.id for i in items], size=6)}"
    task = GenerateTask(client, items, dataset=label, samples=samples,
                        execution={"concurrency": concurrency, "timeout": e.timeout, "max_retries": e.max_retries,
                                   "no_cache": e.no_cache})
    run = session.run(task, concurrency=2 * concurrency, remember=False)
    ids = [R.Response.make_id(i.id, model.id, k) for i in items for k in range(samples)]
    found = store.by_id(R.Response, ids)
    by_item = {i.id: i for i in items}
    return run, [(by_item[found[r].item_id], found[r]) for r in ids if r in found]


def detect(session: Session, detector: dict[str, Any], pairs: list, run_id: str) -> tuple[dict[str, bool], str | None]:
    """Apply an entry's ``detector`` to (item, response) pairs: whether each response fails, by response id.

    A program detector runs in process (its judgments stamped with ``run_id``); an LLM
    detector runs the rubric judge through the judge run engine and gives that run's id.
    A response the LLM judge left without a value is absent from the verdicts.
    """
    if "program" in detector:
        return _program_verdicts(session.store, detector["program"], pairs, run_id)
    return _llm_verdicts(session, detector, pairs)


def _program_verdicts(store: Store, spec: dict[str, Any], pairs: list, run_id: str) -> tuple[dict[str, bool], None]:
    from assay.judges.jobs import rubric_for, verdict_judgment
    from assay.judges.registry import from_spec
    from assay.rubrics import add_rubric

    judge = from_spec(spec)
    rubric, rater = rubric_for(judge), judge.rater()
    add_rubric(store, rubric)
    store.add([rater])
    failed, judgments = {}, []
    for item, resp in pairs:
        v = judge(resp.text, item)
        if v.passed is None:
            raise BadInput(f"program judge {judge.name!r} gave no pass or fail (a metric needs a threshold)",
                           field="detector")
        failed[resp.id] = not v.passed
        judgments.append(verdict_judgment(judge, rater, rubric, resp, v, run_id))
    store.add(judgments)
    return failed, None


def _llm_verdicts(session: Session, det: dict[str, Any], pairs: list) -> tuple[dict[str, bool], str]:
    from assay.judges.rubric import RubricJudge, RubricPrompt, rubric_task
    from assay.rubrics import get_rubric

    store, e = session.store, session.endpoint
    rub = get_rubric(store, det["rubric"])
    try:
        dim = rub.dimension(det["dimension"])
    except KeyError as e_:
        raise BadInput(str(e_.args[0]), field="detector.dimension") from None
    threshold = det.get("threshold")
    threshold = default_threshold(dim) if threshold is None else float(threshold)
    concurrency = session.concurrency(8)
    model = session.model(det["rater"], base_url=det.get("base_url"), prices=False)
    judge = RubricJudge(session.client(model, concurrency=8), rub, RubricPrompt(dimensions=[dim.name]))
    task = rubric_task(judge, pairs, execution={"concurrency": concurrency, "no_cache": e.no_cache,
                                                "timeout": e.timeout, "max_retries": e.max_retries})
    run = session.run(task, concurrency=2 * concurrency, models=[model], records=[judge.rater()])
    rater = judge.rater().id
    ids = {r.id for _, r in pairs}
    by_resp = {j.response_id: j for j in store.iter(R.Judgment, rater_id=rater, rubric=rub.id, dimension=dim.name)
               if j.response_id in ids}
    failed = {}
    for _, resp in pairs:
        j = by_resp.get(resp.id)
        if j is not None and j.value is not None:
            failed[resp.id] = worse(dim, j.value, threshold)
    return failed, run.id


def check_entry(session: Session, entry: str, model: R.Model, *, samples: int = 1, mitigated_below: float = 0.2,
                created_by: str | None = None) -> CheckResult:
    """Re-check ``entry`` on ``model``: answer the examples' prompts, detect, write the next version.

    The session's endpoint serves the model and an LLM detector's judge (whose base URL is
    the endpoint's, else the stored judge's, else the detector's ``base_url``).
    """
    store = session.store
    latest = get_entry(store, entry)
    if latest.status == "retired":
        raise BadInput(f"entry {entry!r} is retired; edit its status to check it again", field="entry")
    if not latest.detector:
        raise BadInput(f"entry {entry!r} has no detector: give it one with `assay library edit --detector`",
                       field="detector")
    if not 0 <= mitigated_below <= 1:
        raise BadInput("must lie between 0 and 1", param="mitigated_below")
    items = _items_of(store, latest)
    if not items:
        raise BadInput(f"entry {entry!r} has no example responses to take prompts from", field="examples")
    gen, pairs = _generate(session, model, latest, items, samples=samples)
    verdicts, judge_run = detect(session, latest.detector, pairs, gen.id)
    failed = list(verdicts.values())
    n, k = len(failed), sum(failed)
    if n == 0:
        raise BadInput(f"no answer of {model.id} could be judged (generation run {gen.id[:12]}: "
                       f"{gen.failed} failed units); nothing recorded", param="model")
    rate = k / n
    interval = wilson_interval(k, n)
    lo, hi = interval.low, interval.high
    if rate < mitigated_below:
        status = "mitigated"
    elif latest.status in ("mitigated", "regressed"):
        status = "regressed"
    else:
        status = "confirmed"
    check = {"model": model.id, "n": n, "failures": k, "rate": round(rate, 6),
             "wilson95": [round(lo, 6), round(hi, 6)], "mitigated_below": mitigated_below,
             "prompts": len(items), "samples": samples, "unanswered": len(items) * samples - len(pairs),
             "generation_run": gen.id, "judge_run": judge_run, "detector": latest.detector,
             "previous_status": latest.status, "status": status, "checked_at": R.utcnow().isoformat()}
    evidence = {**latest.evidence, "last_check": check,
                "checks": [*latest.evidence.get("checks", []), {k_: check[k_] for k_ in
                                                                ("model", "n", "failures", "rate", "status")}]}
    models = sorted(set(latest.models) | ({model.id} if k else set()))
    new = edit_entry(store, entry, status=status, evidence=evidence, models=models, created_by=created_by)
    return CheckResult(new, latest.status, check)
