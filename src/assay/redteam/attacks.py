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
from dataclasses import dataclass, field
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
    """Prompts whose call failed (see the run's ledger; a rerun retries them), rewrites that failed included."""
    run: R.Run | None = None
    rewrite_errors: list[str] = field(default_factory=list)
    """Why a model converter (paraphrase, translate...) could not rewrite a behaviour (a rerun asks again)."""


def prepare_attack(store: Store, behaviors: Sequence[R.Item], chain: Chain, *, dataset: str,
                   prompts: Sequence[str] | None = None) -> list[R.Item]:
    """Store the derived items of ``chain`` over ``behaviors`` (adding nothing already there); returns them.

    ``prompts``: the converted prompts, when made already (a chain that asks a model)."""
    name = derived_dataset(dataset, chain.key())
    config = {"converters": chain.spec()}
    sent = list(prompts) if prompts is not None else [chain(b.prompt_text()) for b in behaviors]
    items = [derived_item(b, name, p, chain.label(), config) for b, p in zip(behaviors, sent)]
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
        prompts = None
        errors: list[str] = []
        sent = targets
        if chain.models:  # paraphrase, translate...: the rewriting model is asked first (cached, seeded)
            from assay.redteam.rewrite import convert_all

            made = convert_all(session, chain, [b.prompt_text() for b in targets], errors=errors)
            sent = [b for b, p in zip(targets, made) if p is not None]
            prompts = [p for p in made if p is not None]
        items = prepare_attack(store, sent, chain, dataset=behaviors, prompts=prompts)
        label = chain.label()
        labelled = {}
        if on_start is not None:
            labelled["on_start"] = lambda rid, n, label=label: on_start(label, rid, n)
        if on_progress is not None:
            labelled["on_progress"] = lambda p, label=label: on_progress(label, p)
        run = generate(session.replace(**labelled), model, derived_dataset(behaviors, chain.key()), params=params)
        total, added = link_attempts(store, model.id, chain, items)
        results.append(AttackResult(label, derived_dataset(behaviors, chain.key()), len(targets), total, added,
                                    len(targets) - total, run, errors))
    return results


TESTS = ("harm", "bias", "insecure output", "injection", "leakage")
"""What a catalogue row can test: the duties of a red-team evaluation."""

SOURCES = {
    "direct": "baseline (JailbreakBench's 'None' attack)",
    "base64": "Wei et al. 2023, Jailbroken: How Does LLM Safety Training Fail? (encodings)",
    "rot13": "Wei et al. 2023 (obfuscation); garak encoding probes",
    "reverse": "PyRIT's string-reversal idea; garak encoding probes",
    "spacing": "PyRIT character-space converter idea",
    "leetspeak": "PyRIT and garak leetspeak converters (idea)",
    "roleplay": "Shen et al. 2024, 'Do Anything Now' (role play and personas)",
    "prefix": "Wei et al. 2023 (prefix injection)",
    "no-refusal": "Wei et al. 2023 (refusal suppression)",
    "split": "Kang et al. 2023, Exploiting Programmatic Behavior of LLMs (payload splitting)",
    "caesar": "Yuan et al. 2024, GPT-4 Is Too Smart To Be Safe (CipherChat)",
    "atbash": "Yuan et al. 2024 (CipherChat); PyRIT Atbash converter idea",
    "morse": "Yuan et al. 2024 (CipherChat, Morse); garak encoding probes",
    "homoglyph": "Unicode TR39 confusables; Boucher et al. 2022, Bad Characters",
    "ascii-art": "Jiang et al. 2024, ArtPrompt: ASCII Art-based Jailbreak Attacks",
    "manyshot": "Anil et al. 2024, Many-shot Jailbreaking (Anthropic)",
    "paraphrase": "Jain et al. 2023, Baseline Defenses (paraphrasing); PyRIT variation converter",
    "translate": "Yong et al. 2023, Low-Resource Languages Jailbreak GPT-4",
    "tone": "PyRIT tone converter idea",
    "iterative": "Chao et al. 2023, PAIR: Jailbreaking Black Box LLMs in Twenty Queries",
    "multiturn": "PAIR (Chao et al. 2023) with the target keeping the conversation",
    "tap": "Mehrotra et al. 2024, Tree of Attacks (TAP)",
    "crescendo": "Russinovich et al. 2024, The Crescendo Multi-Turn LLM Jailbreak Attack",
    "refusal": "assay's own; compared with XSTest's string match (Röttger et al. 2024)",
}
"""Where the idea of each built-in row comes from (no text is copied from any of them)."""


def catalog() -> list[dict[str, Any]]:
    """Every converter, attack, scorer, probe and detector by name: what it is, what it tests
    (one of :data:`TESTS`), where the idea comes from, and the arguments it takes.

    Rows are ``{"kind", "name", "version", "description", "args", "tests", "source"}``; a row
    added without ``tests`` tests harm, one without ``source`` is assay's own idea.
    """
    from assay.plugins import REGISTRY
    from assay.redteam import converters as C
    from assay.redteam.crescendo import CRESCENDO, CRESCENDO_DIGEST, CrescendoAttack
    from assay.redteam.iterative import ITERATIVE, MULTITURN, TEMPLATES_DIGEST
    from assay.redteam.tap import TAP, TAP_DIGEST, TapAttack

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
    rows.append({"kind": "attack", "name": TAP, "version": f"{TEMPLATES_DIGEST}-{TAP_DIGEST}",
                 "description": "Tree of attacks with pruning: the attacker branches every leaf, off-topic prompts are "
                                "pruned before they are sent, the best-graded leaves grow on, within a call budget.",
                 "args": _defaults(TapAttack)})
    rows.append({"kind": "attack", "name": CRESCENDO, "version": f"{TEMPLATES_DIGEST}-{CRESCENDO_DIGEST}",
                 "description": "Multi-turn escalation: starts with harmless questions on the topic and moves closer "
                                "each round; a refused round is taken back and tried another way.",
                 "args": _defaults(CrescendoAttack)})
    rows += [{"kind": "scorer", "name": r.name, "version": r.version, "description": r.description, "args": {}}
             for r in REGISTRY.registrations("attack-scorer")]
    rows += [{"kind": "probe", "name": r.name, "version": r.version, "description": r.description, "args": {}}
             for r in REGISTRY.registrations("suite-probe")]
    import assay.redteam.detect  # noqa: F401 - registers the refusal detector

    refusal = REGISTRY.find("verifier", "refusal")
    if refusal is not None:
        rows.append({"kind": "detector", "name": "refusal", "version": refusal.version,
                     "description": refusal.description, "args": {}})
    from assay.redteam import injection, leakage
    from assay.redteam.bias import catalog_rows as bias_rows

    rows += injection.catalog_rows() + leakage.catalog_rows() + bias_rows()
    rows += _insecure_detectors()
    for r in rows:
        r.setdefault("tests", "harm")
        r.setdefault("source", SOURCES.get(r["name"], "assay") if r["kind"] != "scorer" else "assay")
    return rows


def _defaults(settings: type) -> dict[str, Any]:
    """A settings dataclass's defaults, those a user sets (no per-call parameters)."""
    import dataclasses

    return {f.name: f.default for f in dataclasses.fields(settings) if not f.name.endswith("_params")}


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
