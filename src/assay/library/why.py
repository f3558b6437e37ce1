"""Why does an entry's failure happen? Re-ask the model with controlled changes and measure which fixes it.

For each probe (``assay.library.probes``) the entry's failing prompts are changed (a
probe that writes its change with a model, a paraphrase, first asks the rewriter),
answered through the generation run engine (resumable, cached, rate-limited) and judged
by the entry's own detector. A probe's **fix rate** is the share of its answers that
pass, with an exact interval that counts the prompt, not the answer, as the unit when a
prompt's answers are alike (Clopper-Pearson at Korn and Graubard's effective sample size,
``stats.proportions.clustered_exact_interval``; with one answer per prompt, plain
Clopper-Pearson). The prompts are taken as a sample of the entry's failures. ``resample``
is the control: a change fixes the failure beyond chance only when its interval lies
above the resample's.

The cause table is written into the entry's next version as evidence
(``evidence["probes"]``), beside the entry's LLM-written hypothesis, which it never
replaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from assay import records as R
from assay.errors import BadInput
from assay.library.check import detect
from assay.library.entries import edit_entry, get_entry
from assay.library.probes import Probe
from assay.stats.proportions import clustered_exact_interval

if TYPE_CHECKING:
    from assay.session import Session
    from assay.store import Store

FIRST_SAMPLE = 1000
"""Probe answers use sample indices from here, so the same prompt asked again never meets the cached
answer of an ordinary generation (samples 0, 1, ...): a resample is a new answer."""


@dataclass(frozen=True)
class ProbeSettings:
    """How much each probe asks, and at what confidence its interval is drawn."""

    samples: int = 5
    """Answers per prompt under a control probe, ``resample`` (the same prompt K more times)."""
    probe_samples: int = 1
    """Answers per changed prompt under every other probe."""
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise BadInput("must be at least 1", param="samples")
        if self.probe_samples < 1:
            raise BadInput("must be at least 1", param="probe_samples")
        if not 0 < self.confidence < 1:
            raise BadInput("must lie between 0 and 1", param="confidence")

    def answers(self, probe: Probe) -> int:
        return self.samples if probe.control else self.probe_samples


@dataclass(frozen=True)
class ProbeRequest:
    """How the probes ask: ``params``, the request's parameters (temperature, max_tokens...; a
    None value is left out), and the ``rewriter`` that writes a model-written change (a
    paraphrase; None: the probed model)."""

    params: dict[str, Any] | None = None
    rewriter: R.Model | None = None


@dataclass
class ProbeResult:
    """One probe's measurement over the entry's failing prompts."""

    probe: str
    spec: dict[str, Any]
    tests: str
    fixed_by: str
    prompts: int
    """Failing prompts the probe applies to."""
    n: int
    """Answers judged."""
    passed: int
    rate: float | None
    interval: list[float] | None
    per_item: dict[str, list[int]] = field(default_factory=dict)
    """Item id -> [answers that passed, answers judged]."""
    generation_run: str | None = None
    judge_run: str | None = None
    rewrite_run: str | None = None
    unanswered: int = 0
    """Changed prompts asked whose answer (or verdict) is missing: failed calls, to rerun."""
    control: bool = False
    """A control probe (``resample``): what chance alone fixes."""
    beyond_resample: bool | None = None
    """Whether the fix rate's interval lies wholly above the resample's (None: no resample, or this is it)."""

    @property
    def applies(self) -> bool:
        return self.prompts > 0

    def line(self) -> str:
        """The cause table's line for this probe."""
        if not self.applies:
            return f"{self.probe}: does not apply to any of the failing prompts"
        if self.rate is None or self.interval is None:
            return f"{self.probe}: no answer could be judged"
        pct = f"{self.rate:.0%} [{self.interval[0]:.0%}, {self.interval[1]:.0%}]"
        if self.control:
            some = sum(1 for p, _ in self.per_item.values() if p)
            if len(self.per_item) == 1:
                passed, n = next(iter(self.per_item.values()))
                head = f"passes {passed} of {n} resamples"
            else:
                head = f"passes {self.passed} of {self.n} resamples ({pct}); {some} of {len(self.per_item)} prompts pass at least once"
            return f"{head}: {'unstable' if some else 'stable (fails every time)'}"
        beyond = {True: "; beyond resampling", False: "; not beyond resampling", None: ""}[self.beyond_resample]
        return f"fixed by {self.fixed_by}: {pct}{beyond}"


@dataclass
class WhyResult:
    """What ``probe_entry`` measured, and the entry's version that records it (None when not written)."""

    entry: str
    model: str
    prompts: int
    results: list[ProbeResult]
    measured: str
    """The measured cause in one line (the probe that fixes most, beyond resampling), beside ``hypothesis``."""
    hypothesis: str
    """The entry's hypothesis as written (by an LLM or a person): shown beside the measurement, never replaced."""
    version: R.LibraryEntry | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"entry": self.entry, "model": self.model, "prompts": self.prompts, "measured": self.measured,
                "hypothesis": self.hypothesis, "version": self.version.version if self.version else None,
                "probes": [{**asdict(r), "line": r.line()} for r in self.results]}


@dataclass(frozen=True)
class Target:
    """What is probed: failing prompts, the detector that failed their answers, and a label naming the set."""

    label: str
    """The entry's slug, or ``failures-<digest>`` for a failure set; names the probes' datasets."""
    items: list[R.Item]
    detector: dict[str, Any]
    """As an entry's (``assay.library.entries.check_detector``)."""


def entry_target(store: Store, entry: R.LibraryEntry) -> Target:
    """An entry as a probe target: the prompts of its examples and its detector (checked here)."""
    if not entry.detector:
        raise BadInput(f"entry {entry.entry!r} has no detector: give it one with `assay library edit --detector`",
                       field="detector")
    items = failing_items(store, entry)
    if not items:
        raise BadInput(f"entry {entry.entry!r} has no example responses to take prompts from", field="examples")
    return Target(entry.entry, items, entry.detector)


def failures_target(store: Store, failures: Any, detector: dict[str, Any]) -> Target:
    """A failure set (``assay.library.failures.Failures``) as a probe target, judged by ``detector``."""
    from assay.library.entries import check_detector

    ids = sorted({f.item_id for f in failures.failures})
    if not ids:
        raise BadInput("no failures to probe", param="failures")
    found = store.by_id(R.Item, ids)
    checked = check_detector(detector)
    return Target(f"failures-{R.digest('failures', ids, checked, size=8)}", [found[i] for i in ids if i in found],
                  checked or {})


def failing_items(store: Store, entry: R.LibraryEntry) -> list[R.Item]:
    """The prompts of the entry's example responses, in id order."""
    responses = store.by_id(R.Response, entry.examples)
    items = store.by_id(R.Item, {r.item_id for r in responses.values()})
    return [items[i] for i in sorted(items)]


def probe_dataset(entry: str, probe: Probe, rewriter: str | None) -> str:
    """The dataset a probe's changed prompts are stored in: one per entry, probe configuration and rewriter."""
    key = R.digest("probe", probe.spec(), rewriter if probe.rewrites else None, size=8)
    return f"why:{entry}:{probe.name}:{key}"


def probed_items(items: Sequence[R.Item], probe: Probe, dataset: str,
                 rewritten: dict[str, str] | None = None) -> list[tuple[R.Item, R.Item]]:
    """(original, changed) for each item the probe applies to; the changed item keeps the original's
    reference and metadata, so the detector judges its answer as it judged the original's."""
    out = []
    for item in items:
        msgs = probe.messages(item, (rewritten or {}).get(item.id))
        if msgs is None:
            continue
        changed = R.Item(id=R.Item.make_id(dataset, item.id, None, None), dataset=dataset, external_id=item.id,
                         messages=[R.Message(**m) for m in msgs], reference=item.reference,
                         category=item.category, language=item.language, tags=list(item.tags), cluster=item.cluster,
                         metadata={**item.metadata, "probe": probe.spec(), "probed_item": item.id})
        out.append((item, changed))
    return out


def _task(client: Any, items: list[R.Item], *, dataset: str, samples: int, params: dict[str, Any],
          execution: dict[str, Any] | None = None) -> Any:
    """A generation task answering ``items`` ``samples`` times each, with sample indices from FIRST_SAMPLE."""
    from assay.runs import GenerateTask, Unit

    class ProbeGenerate(GenerateTask):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.first = FIRST_SAMPLE  # set before the parent computes the run id from config()
            super().__init__(*args, **kwargs)

        def config(self) -> dict[str, Any]:
            return {**super().config(), "first_sample": self.first}

        def units(self):  # noqa: ANN202 - the parent's, shifted
            for item in self.items:
                for k in range(self.first, self.first + self.samples):
                    yield Unit(f"{item.id}:{k}", (item, k))

    return ProbeGenerate(client, items, dataset=dataset, samples=samples, params=params, execution=execution)


def _generate(session: Session, model: R.Model, items: list[R.Item], *, dataset: str, samples: int,
              params: dict[str, Any]) -> tuple[R.Run, list[R.Response]]:
    """Answer ``items`` ``samples`` times each through the run engine (sample indices from FIRST_SAMPLE)."""
    store, e = session.store, session.endpoint
    concurrency = session.concurrency(8)
    store.add([R.Dataset(name=dataset, description="changed prompts of a counterfactual probe (assay why)",
                         source="assay.library.why"), *items])
    client = session.client(model, concurrency=8)
    task = _task(client, items, dataset=dataset, samples=samples, params=params,
                 execution={"concurrency": concurrency, "timeout": e.timeout, "max_retries": e.max_retries,
                            "no_cache": e.no_cache})
    run = session.run(task, concurrency=2 * concurrency, models=[model])
    ids = [R.Response.make_id(i.id, model.id, k) for i in items for k in range(FIRST_SAMPLE, FIRST_SAMPLE + samples)]
    found = store.by_id(R.Response, ids)
    return run, [found[r] for r in ids if r in found]


def _rewrite(session: Session, probe: Probe, items: Sequence[R.Item], rewriter: R.Model, entry: str,
             params: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    """The rewriter's change for each item (item id -> text), asked through the run engine like any answer."""
    dataset = probe_dataset(entry, probe, rewriter.id) + ":rewrite"
    asks = []
    for item in items:
        msgs = probe.rewrite_messages(item)
        if msgs is not None:
            asks.append(R.Item(id=R.Item.make_id(dataset, item.id, None, None), dataset=dataset,
                               external_id=item.id, messages=[R.Message(**m) for m in msgs]))
    if not asks:
        return {}, None
    run, responses = _generate(session, rewriter, asks, dataset=dataset, samples=1, params=params)
    by_ask = {a.id: a.external_id for a in asks}
    return {by_ask[r.item_id]: r.text for r in responses if r.text and r.text.strip()}, run.id


def run_probe(session: Session, target: Target, model: R.Model, probe: Probe, settings: ProbeSettings, *,
              request: ProbeRequest = ProbeRequest()) -> ProbeResult:
    """One probe over the target's failing prompts: change, answer, detect, count (asked as ``request`` says)."""
    rewriter = request.rewriter or model
    items = target.items
    params = {k: v for k, v in (request.params or {}).items() if v is not None}
    result = ProbeResult(probe.name, probe.spec(), probe.tests, probe.fixed_by, 0, 0, 0, None, None,
                         control=probe.control)
    rewritten = None
    if probe.rewrites:
        rewritten, result.rewrite_run = _rewrite(session, probe, items, rewriter, target.label, params)
        if len(rewritten) < len(items):
            result.unanswered += len(items) - len(rewritten)  # rewrites that failed: a rerun asks them again
    dataset = probe_dataset(target.label, probe, rewriter.id)
    pairs = probed_items(items, probe, dataset, rewritten)
    result.prompts = len(pairs)
    if not pairs:
        return result
    samples = settings.answers(probe)
    run, responses = _generate(session, model, [c for _, c in pairs], dataset=dataset, samples=samples,
                               params=params)
    result.generation_run = run.id
    original = {c.id: o for o, c in pairs}
    judged = [(original[r.item_id], r) for r in responses]
    verdicts, result.judge_run = detect(session, target.detector, judged, run.id) if judged else ({}, None)
    for item, resp in judged:
        failed = verdicts.get(resp.id)
        if failed is None:
            continue
        counts = result.per_item.setdefault(item.id, [0, 0])
        counts[0] += not failed
        counts[1] += 1
    result.n = sum(n for _, n in result.per_item.values())
    result.passed = sum(p for p, _ in result.per_item.values())
    result.unanswered += len(pairs) * samples - result.n
    if result.n:
        w = clustered_exact_interval([tuple(c) for c in result.per_item.values()], confidence=settings.confidence)
        result.rate, result.interval = round(result.passed / result.n, 6), [round(w.low, 6), round(w.high, 6)]
    return result


def plan_probes(store: Store, target: Target, model: R.Model, probes: Sequence[Probe],
                settings: ProbeSettings = ProbeSettings(), *, request: ProbeRequest = ProbeRequest(),
                no_cache: bool = False) -> tuple[Any, dict[str, int]]:
    """What ``probe_entry`` would ask (nothing is stored or sent), and how many prompts each probe applies to.

    A model-written change is planned as its rewrite calls plus one answer per prompt, the
    answers' prompts estimated by the original prompts (their text is not known yet); an
    LLM detector's judge calls are not in the plan.
    """
    from assay.providers import RequestCache, make_provider
    from assay.runs import Plan, plan_task

    params = {k: v for k, v in (request.params or {}).items() if v is not None}
    rewriter = request.rewriter
    items = target.items
    cache = None if no_cache else RequestCache(store)

    def plan_of(m: R.Model, its: list[R.Item], dataset: str, samples: int) -> Plan:
        task = _task(make_provider(m, cache=cache, no_cache=no_cache), its, dataset=dataset, samples=samples,
                     params=params)
        return plan_task(store, task, task.planned_calls)

    plan, applies = Plan(), {}
    for p in probes:
        dataset = probe_dataset(target.label, p, (rewriter or model).id)
        if p.rewrites:
            asks = [R.Item(id=R.Item.make_id(dataset + ":rewrite", i.id, None, None), dataset=dataset + ":rewrite",
                           external_id=i.id, messages=[R.Message(**m) for m in msgs])
                    for i in items if (msgs := p.rewrite_messages(i)) is not None]
            plan = plan.merge(plan_of(rewriter or model, asks, dataset + ":rewrite", 1))
            changed = [R.Item(id=a.id + ":answer", dataset=dataset, prompt=i.prompt_text())
                       for a, i in zip(asks, items, strict=False)]
        else:
            changed = [c for _, c in probed_items(items, p, dataset)]
        applies[p.label()] = len(changed)
        if changed:
            plan = plan.merge(plan_of(model, changed, dataset, settings.answers(p)))
    return plan, applies


def measured_cause(results: Sequence[ProbeResult]) -> str:
    """The measured cause in one line: the probe fixing most beyond resampling, or why none does."""
    control = next((r for r in results if r.control and r.interval is not None), None)
    others = [r for r in results if not r.control and r.interval is not None]
    for r in others:
        r.beyond_resample = None if control is None else r.interval[0] > control.interval[1]
    winners = [r for r in others if (r.beyond_resample if control is not None else r.interval[0] > 0)]
    if winners:
        best = max(winners, key=lambda r: (r.rate, r.interval[0]))
        return f"fixed by {best.fixed_by} ({best.rate:.0%} [{best.interval[0]:.0%}, {best.interval[1]:.0%}])" + (
            " beyond resampling" if control is not None else "")
    if control is not None and control.passed:
        return f"unstable: passes {control.rate:.0%} of resamples; no change fixes it beyond that"
    return "no probe fixes it" + (" beyond resampling" if control is not None else "")


def probe_target(session: Session, target: Target, model: R.Model, probes: Sequence[Probe], *,
                 settings: ProbeSettings = ProbeSettings(), request: ProbeRequest = ProbeRequest(),
                 hypothesis: str = "") -> WhyResult:
    """Probe ``target``'s failing prompts on ``model`` with each of ``probes`` (nothing is written to the library).

    ``request`` says how the probes ask (:class:`ProbeRequest`). A probe that
    applies to none of the prompts is reported as such; BadInput when none applies.
    """
    if not probes:
        raise BadInput("name at least one probe", param="probes")
    session.store.add([model] + ([request.rewriter] if request.rewriter is not None else []))
    results = [run_probe(session, target, model, p, settings, request=request) for p in probes]
    if not any(r.applies for r in results):
        raise BadInput(f"no probe applies to the {len(target.items)} failing prompts: {results[0].line()}",
                       param="probes")
    return WhyResult(target.label, model.id, len(target.items), results, measured_cause(results), hypothesis)


def probe_failures(session: Session, failures: Any, model: R.Model, probes: Sequence[Probe], *,
                   detector: dict[str, Any], settings: ProbeSettings = ProbeSettings(),
                   request: ProbeRequest = ProbeRequest()) -> WhyResult:
    """Probe a failure set (``assay.library.select_failures``) on ``model``, its answers judged by ``detector``."""
    return probe_target(session, failures_target(session.store, failures, detector), model, probes,
                        settings=settings, request=request)


def probe_entry(session: Session, entry: str, model: R.Model, probes: Sequence[Probe], *,
                settings: ProbeSettings = ProbeSettings(), request: ProbeRequest = ProbeRequest(),
                write: bool = True, created_by: str | None = None) -> WhyResult:
    """Probe ``entry``'s failure on ``model`` with each of ``probes``; write the cause table as its next version.

    ``request`` says how the probes ask (:class:`ProbeRequest`). The entry needs a detector and example responses (their prompts are the failing
    ones); see :func:`probe_target`.
    """
    store = session.store
    latest = get_entry(store, entry)
    out = probe_target(session, entry_target(store, latest), model, probes, settings=settings, request=request,
                       hypothesis=latest.hypothesis)
    if write:
        results, measured = out.results, out.measured
        record = {"model": model.id, "prompts": out.prompts, "measured": measured, "hypothesis": latest.hypothesis,
                  "table": [r.line() for r in results],
                  "probes": [{k: v for k, v in asdict(r).items() if k != "per_item"} for r in results],
                  "settings": {**asdict(settings), "params": request.params or {},
                               "rewriter": (request.rewriter or model).id},
                  "probed_at": R.utcnow().isoformat()}
        history = [*latest.evidence.get("probe_history", []),
                   {"model": model.id, "measured": measured, "probed_at": record["probed_at"]}]
        out.version = edit_entry(store, entry, evidence={**latest.evidence, "probes": record,
                                                          "probe_history": history}, created_by=created_by,
                                 expected_version=latest.version)
    return out
