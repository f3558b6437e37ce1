"""Named red-team suites: a YAML file of attacks, probes and detectors, run as one command.

    name: release-gate
    description: what the suite is for
    attacks:                 # as `assay redteam run --attack` takes them
      - base64
      - roleplay+prefix
      - manyshot(shots=32)
      - tap(depth=4, max_calls=60)      # named attacks need an attacker and a scorer
    probes: [manyshot-sweep] # registered suite probes (``suite_probe``): manyshot-sweep,
                             # prompt-injection, secret-leakage, counterfactual-bias
    detectors: [refusal]     # refusal, injection, leakage, insecure_code, unsafe_rendering

``load_suite("release-gate")`` reads a suite assay ships (``assay/redteam/suites/``);
any other value is a file path. A mistake names the file, line and field. The gate's
``attack-success`` check takes ``suite: NAME`` to bound the success rate of that suite's
attacks (all together, or ``each: true`` one by one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.errors import BadInput
from assay.plugins import REGISTRY, parse_call, split_calls

SUITES_DIR = Path(__file__).parent / "suites"
DETECTORS = ("refusal", "injection", "leakage", "insecure_code", "unsafe_rendering")
"""Detectors a suite can name: the refusal detector on every attempt, the canary detectors on the
injection and leakage probes' attempts, the insecure-output scanners on every attempt's response."""

def suite_probe(name: str, *, version: str = "1") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn(session, model, behaviors) -> Any`` as a probe a suite can list under ``probes:``.

    The same as ``assay.plugins.register("suite-probe", name)``; an installed package adds its
    own through the ``assay.plugins`` entry points. A probe returning a list of ``AttackResult``
    (as ``run_attacks`` does), or an object with a ``run``, is reported like an attack, and its
    failed calls fail the command."""
    return REGISTRY.register("suite-probe", name, version=version)


def probes() -> dict[str, Callable[..., Any]]:
    """The registered suite probes by name."""
    return {r.name: r.factory for r in REGISTRY.registrations("suite-probe")}


def named_attacks() -> dict[str, type]:
    """Attacks that need an attacker and a scorer, by name, with the dataclass of their settings."""
    from assay.redteam.crescendo import CRESCENDO, CrescendoAttack
    from assay.redteam.tap import TAP, TapAttack

    return {TAP: TapAttack, CRESCENDO: CrescendoAttack}


def parse_named(text: str) -> tuple[str, Any] | None:
    """``("tap", TapAttack(...))`` for ``tap(depth=3)`` and the like; None when ``text`` is a converter chain.

    ValueError (naming the argument) on a bad argument of a named attack.
    """
    parts = split_calls(text)
    named = named_attacks()
    head = parts[0].split("(")[0].strip() if parts else ""
    if head not in named:
        return None
    if len(parts) > 1:
        raise ValueError(f"attack {head} cannot be chained with converters ('+')")
    settings = named[head]
    takes = {f.name: f.default for f in dataclasses.fields(settings) if not f.name.endswith("_params")}

    def known(name: str) -> dict[str, Any]:
        return takes

    name, args = parse_call(parts[0], "attack", known)
    try:
        return name, settings(**args)
    except TypeError as e:
        raise ValueError(f"attack {name}: {e}") from None


@dataclass
class Suite:
    """A suite as read from its file."""

    name: str
    file: str
    description: str = ""
    attacks: list[str] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)
    detectors: list[str] = field(default_factory=list)

    def labels(self) -> list[str]:
        """The attack names its Attempts carry: each chain's label, or the named attack's name."""
        from assay.redteam.converters import parse_chain

        out = []
        for a in self.attacks:
            named = parse_named(a)
            out.append(named[0] if named else parse_chain(a).label())
        return out

    def needs_attacker(self) -> bool:
        return any(parse_named(a) for a in self.attacks)


def suite_names() -> list[str]:
    """The suites assay ships."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def suite_path(ref: str) -> Path:
    """The file of suite ``ref``: a shipped suite's name, else a path; BadInput when neither exists."""
    shipped = SUITES_DIR / f"{ref}.yaml"
    if "/" not in ref and not ref.endswith((".yaml", ".yml")) and shipped.exists():
        return shipped
    path = Path(ref)
    if not path.exists():
        raise BadInput(f"no suite {ref!r}: give a file path or one of {', '.join(suite_names())}", param="suite")
    return path


def load_suite(ref: str) -> Suite:
    """Read and check suite ``ref`` (a shipped name or a file path); BadInput (file, line, field) at the first mistake."""
    import yaml

    from assay.redteam.converters import parse_chain

    path = suite_path(ref)
    name = str(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (UnicodeDecodeError, yaml.YAMLError) as e:
        mark = getattr(e, "problem_mark", None)
        raise BadInput(f"cannot read the suite: {getattr(e, 'problem', None) or e}", file=name,
                       line=mark.line + 1 if mark else None) from None
    if not isinstance(root, yaml.MappingNode):
        raise BadInput("expected a mapping with name:, attacks:, probes:, detectors:", file=name)
    loader = yaml.SafeLoader("")
    nodes = {loader.construct_object(k): v for k, v in root.value}

    def fail(key: str, reason: str, node: Any = None) -> None:
        node = node if node is not None else nodes.get(key, root)
        raise BadInput(reason, file=name, line=node.start_mark.line + 1, field=key)

    for key in nodes:
        if key not in ("name", "description", "attacks", "probes", "detectors"):
            fail(str(key), "unknown key; a suite has name, description, attacks, probes, detectors")
    values: dict[str, Any] = {}
    for key in ("attacks", "probes", "detectors"):
        node = nodes.get(key)
        if node is None:
            values[key] = []
            continue
        if not isinstance(node, yaml.SequenceNode) or not all(isinstance(n, yaml.ScalarNode) for n in node.value):
            fail(key, "expected a list of names")
        values[key] = [str(loader.construct_object(n)) for n in node.value]
        for i, (text, n) in enumerate(zip(values[key], node.value)):
            where = f"{key}[{i}]"
            if key == "attacks":
                try:
                    if parse_named(text) is None:
                        parse_chain(text)
                except ValueError as e:
                    fail(where, str(e), n)
            elif key == "probes" and text not in probes():
                known = sorted(probes())
                fail(where, f"no suite probe {text!r}" + (f"; known: {', '.join(known)}" if known else ""), n)
            elif key == "detectors" and text not in DETECTORS:
                fail(where, f"no detector {text!r}; known: {', '.join(DETECTORS)}", n)
    if not (values["attacks"] or values["probes"]):
        fail("attacks", "a suite needs at least one attack or probe")
    title = nodes.get("name")
    suite = Suite(name=str(loader.construct_object(title)) if title is not None else path.stem, file=name,
                  description=str(loader.construct_object(nodes["description"])) if "description" in nodes else "",
                  **values)
    labels = suite.labels()
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        fail("attacks", f"attack {twice[0]!r} is given twice")
    return suite


@suite_probe("manyshot-sweep")
def manyshot_sweep(session: Any, model: Any, behaviors: str) -> list[Any]:
    """Many-shot at N = 4, 16, 64 and 128 shots: attack success as a function of N (Anil et al. 2024)."""
    from assay.redteam.attacks import run_attacks

    return run_attacks(session, model, behaviors, [f"manyshot(shots={n})" for n in (4, 16, 64, 128)])


@suite_probe("prompt-injection")
def prompt_injection(session: Any, model: Any, behaviors: str) -> list[Any]:
    """Every injection technique in the user's turn and in documents, web pages, emails and tool results."""
    from assay.redteam.injection import run_injection
    from assay.redteam.options import RunOptions

    once = RunOptions(repeats=1)
    return run_injection(session, model, options=once) + run_injection(session, model, indirect=True, options=once)


@suite_probe("secret-leakage")
def secret_leakage(session: Any, model: Any, behaviors: str) -> list[Any]:
    """Every extraction probe against secrets planted in system prompts and documents."""
    from assay.redteam.leakage import run_leakage
    from assay.redteam.options import RunOptions

    return run_leakage(session, model, options=RunOptions(repeats=1))


@suite_probe("counterfactual-bias")
def counterfactual_bias(session: Any, model: Any, behaviors: str) -> list[Any]:
    """assay's counterfactual bias templates, every attribute, answers judged by the refusal detector: does the
    model refuse more often for one group? (`assay redteam bias results` gives the paired estimate.)"""
    from assay.redteam.bias import run_bias
    from assay.redteam.detect import refusal
    from assay.redteam.options import RunOptions

    return run_bias(session, model, options=RunOptions(judge=refusal()))


def run_detectors(session: Any, model: str, detectors: list[str]) -> list[Any]:
    """Run a suite's detectors over ``model``'s attempts, each as its own resumable run; returns the runs."""
    runs = []
    for name in detectors:
        if name == "refusal":
            from assay.redteam.detect import detect_refusals

            runs.append(detect_refusals(session, models=[model], attempts_only=True)[0])
        elif name in ("injection", "leakage"):
            from assay.redteam.injection import detect_canaries

            runs.append(detect_canaries(session, name, models=[model])[0])
        else:
            from assay.redteam.insecure import scan_outputs

            runs.append(scan_outputs(session, "code" if name == "insecure_code" else "rendering", models=[model],
                                     attempts_only=True)[0])
    return runs
