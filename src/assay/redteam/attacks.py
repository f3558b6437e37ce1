"""Attacks on a target model: behaviours turned into prompts, sent, and linked as Attempts.

Single-shot attacks (``run_attacks``) pass each behaviour through chains of converters
(``assay.redteam.converters``). The prompts of one chain are the Items of a derived
dataset ``"<behaviours>~<chain>"``; the target answers them through the ordinary
generation run (``assay.runs.generate``: resumable, cached, rate-limited, local or Ray),
and every answered prompt gets an Attempt linking behaviour, attack, item and response.

The iterative attack, where an attacker model writes the prompts, is in
``assay.redteam.iterative``.

Attempts are written once their response exists: a failed call is a failed unit of the
run (kind and message in its ledger, counted in the Run) and is retried by a rerun.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assay import records as R
from assay.errors import BadInput, NotFound
from assay.redteam.converters import Chain, parse_chain

if TYPE_CHECKING:
    from assay.session import Session
    from assay.store import Store

# ---- behaviours and derived items -------------------------------------------------------------


def load_behaviors(store: Store, dataset: str, *, limit: int | None = None) -> list[R.Item]:
    """The behaviour items of ``dataset`` (the first ``limit`` in id order); NotFound when there are none."""
    if limit is not None and limit < 1:
        raise BadInput("must be at least 1", param="limit")
    items = store.list(R.Item, dataset=dataset)
    if not items:
        if store.find(R.Dataset, dataset) is None:
            raise NotFound(f"no dataset {dataset!r} in the store (import the behaviours with `assay import`)")
        raise NotFound(f"dataset {dataset!r} has no items")
    return items[:limit] if limit is not None else items


def derived_dataset(behaviors: str, attack_key: str) -> str:
    return f"{behaviors}~{attack_key}"


def derived_item(behavior: R.Item, dataset: str, prompt: str, attack: str, attack_config: dict[str, Any],
                 *, messages: list[dict[str, str]] | None = None) -> R.Item:
    """The exact prompt an attack sends for ``behavior``, as an item of the derived ``dataset``.

    Its id depends on the behaviour and the prompt, so the same prompt is one item and a
    changed converter makes a new one. ``messages``: a multi-turn attack's whole
    conversation, ending with ``prompt`` (the item is then a chat).
    """
    external = f"{behavior.id}:{R.digest(messages if messages else prompt, size=6)}"
    return R.Item(
        id=R.Item.make_id(dataset, external, None, None),
        dataset=dataset,
        external_id=external,
        prompt=None if messages else prompt,
        messages=[R.Message(**m) for m in messages] if messages else None,
        category=behavior.category,
        language=behavior.language,
        tags=list(behavior.tags),
        cluster=behavior.id,  # prompts of one behaviour are not independent
        metadata={"behavior_id": behavior.id, "behavior_dataset": behavior.dataset, "goal": behavior.prompt_text(),
                  "attack": attack, "attack_config": attack_config},
    )


def as_chain(attack: str | Chain) -> Chain:
    """``attack`` as a converter Chain: parsed from its text (BadInput on ``attacks`` when it does not parse)."""
    if isinstance(attack, Chain):
        return attack
    try:
        return parse_chain(attack)
    except ValueError as e:
        raise BadInput(str(e), param="attacks") from None


# ---- single-shot attacks ----------------------------------------------------------------------------


@dataclass
class AttackResult:
    """What one single-shot attack (one converter chain) did."""

    attack: str
    dataset: str
    behaviors: int
    attempts: int = 0
    """Attempts of this attack on the target for these behaviours (all invocations)."""
    added: int = 0
    """Attempts this invocation added."""
    failed: int = 0
    """Prompts whose call failed (see the run's ledger; a rerun retries them)."""
    run: R.Run | None = None


def prepare_attack(store: Store, behaviors: Sequence[R.Item], chain: Chain, *, dataset: str) -> list[R.Item]:
    """Store the derived items of ``chain`` over ``behaviors`` (adding nothing already there); returns them."""
    name = derived_dataset(dataset, chain.key())
    config = {"converters": chain.spec()}
    items = [derived_item(b, name, chain(b.prompt_text()), chain.label(), config) for b in behaviors]
    store.add([R.Dataset(name=name, description=f"prompts of attack {chain.label()} on the behaviours of {dataset}",
                         source=f"redteam:{dataset}"), *items])
    return items


def link_attempts(store: Store, model: str, chain: Chain, items: Sequence[R.Item]) -> tuple[int, int]:
    """Attempts for the derived items ``model`` has answered; returns (attempts there, attempts added)."""
    config = {"converters": chain.spec()}
    by_id = {i.id: i for i in items}
    answered = store.list(R.Response, model=model, item_id=list(by_id), sample_index=0) if by_id else []
    attempts = [
        R.Attempt(
            id=R.Attempt.make_id(by_id[r.item_id].metadata["behavior_id"], model, chain.label(), config),
            behavior_id=by_id[r.item_id].metadata["behavior_id"], model=model, attack=chain.label(),
            attack_config=config, item_id=r.item_id, response_id=r.id, run_id=r.run_id,
        )
        for r in answered
    ]
    return len(attempts), store.add(attempts)


def run_attacks(
    session: Session,
    model: R.Model,
    behaviors: str,
    attacks: Iterable[str | Chain] = ("direct",),
    *,
    limit: int | None = None,
    params: dict[str, Any] | None = None,
    on_start: Callable[[str, str, int], None] | None = None,
    on_progress: Callable[[str, Any], None] | None = None,
) -> list[AttackResult]:
    """Send every behaviour of ``behaviors`` through each attack (a converter chain) to ``model``.

    Idempotent and resumable: derived items and attempts already stored are kept; each
    attack's generation run (``assay.runs.generate`` with the session) resumes where it
    stopped. ``on_start(attack, run_id, total)`` and ``on_progress(attack, progress)``
    follow each attack's run, in place of the session's callbacks when given.
    """
    from assay.runs.generate import generate

    chains = [as_chain(a) for a in attacks]
    seen: dict[str, str] = {}
    for c in chains:
        if c.key() in seen:
            raise BadInput(f"attack {c.label()!r} is given twice", param="attacks")
        seen[c.key()] = c.label()
    store = session.store
    targets = load_behaviors(store, behaviors, limit=limit)
    results = []
    for chain in chains:
        items = prepare_attack(store, targets, chain, dataset=behaviors)
        label = chain.label()
        labelled = {}
        if on_start is not None:
            labelled["on_start"] = lambda rid, n, label=label: on_start(label, rid, n)
        if on_progress is not None:
            labelled["on_progress"] = lambda p, label=label: on_progress(label, p)
        run = generate(session.replace(**labelled), model, derived_dataset(behaviors, chain.key()), params=params)
        total, added = link_attempts(store, model.id, chain, items)
        results.append(AttackResult(label, derived_dataset(behaviors, chain.key()), len(targets), total, added,
                                    len(items) - total, run))
    return results


def catalog() -> list[dict[str, Any]]:
    """Every converter and attack by name, with what it tests and the arguments it takes."""
    from assay.redteam import converters as C
    from assay.plugins import REGISTRY
    from assay.redteam.iterative import ITERATIVE, MULTITURN, TEMPLATES_DIGEST

    rows: list[dict[str, Any]] = [
        {"kind": "converter", "name": r.name, "version": r.version, "description": r.description,
         "args": {k: v for k, v in C.arguments(r.name).items()}}
        for r in C.registrations()
    ]
    rows.append({"kind": "attack", "name": ITERATIVE, "version": TEMPLATES_DIGEST,
                 "description": "An attacker model writes the prompt, reads the target's answer and a 1-10 grade, "
                                "and refines it: n streams x up to k turns, each stopped at the success threshold.",
                 "args": {"streams": 3, "turns": 5, "threshold": 10, "seed": 0, "memory": 4}})
    rows.append({"kind": "attack", "name": MULTITURN, "version": TEMPLATES_DIGEST,
                 "description": "The iterative attack in one conversation (--iterative --conversation): the target "
                                "keeps every earlier message and answer, so the attacker can escalate step by step.",
                 "args": {"streams": 3, "turns": 5, "threshold": 10, "seed": 0, "memory": 4}})
    rows += [{"kind": "scorer", "name": r.name, "version": r.version, "description": r.description, "args": {}}
             for r in REGISTRY.registrations("attack-scorer")]
    from assay.redteam import injection, leakage
    from assay.redteam.bias import catalog_rows as bias_rows

    rows += injection.catalog_rows() + leakage.catalog_rows() + bias_rows()
    rows += _insecure_detectors()
    return rows


def _insecure_detectors() -> list[dict[str, Any]]:
    """The insecure-output detectors (``assay redteam scan-code`` / ``scan-rendering``) as catalogue rows."""
    from assay.redteam import code, rendering

    return [
        {"kind": "detector", "name": "insecure_code", "version": code.VERSION, "tests": "insecure output",
         "description": "Code in responses (fenced or not) scanned by bandit for Python and njsscan for "
                        "JavaScript/TypeScript, each finding a Judgment "
                        "with its CWE id, rule and line: `assay redteam scan-code`.",
         "source": "bandit (PyCQA), njsscan (OpenSecurity, semgrep rules); the idea of scanning generated code as in CyberSecEval's insecure-code tests",
         "args": {"min_severity": "low", "skip": list(code.DEFAULT_SKIP), "unfenced": True}},
        {"kind": "detector", "name": "unsafe_rendering", "version": rendering.VERSION, "tests": "insecure output",
         "description": "Markdown images or links carrying data to other hosts, data:/javascript: URLs, script, "
                        "event handlers and raw HTML in responses: `assay redteam scan-rendering`.",
         "source": "the output kinds garak's XSS / markdown-exfiltration probes look for; our own rules",
         "args": {"allow_hosts": None, "min_payload": 16}},
    ]
