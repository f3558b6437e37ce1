"""The gate's YAML file: a list of conditions, each checked and named; a mistake names its file, line and field.

    conditions:
      - check: non-inferiority        # candidate not worse than baseline on any rubric dimension
        baseline: base@1
        candidate: cand@2
        margin: 0.1
        judge: judge@1                # optional: people's scores on some prompts, the judge's on all (PPI++)
      - check: ifeval                 # IFEval strict prompt-level accuracy
        model: cand@2
        at_least: 0.80
      - check: attack-success         # attack success rate, upper 95% bound
        model: cand@2
        at_most: 0.05
        suite: release-gate           # optional: only that red-team suite's attacks
        each: true                    # optional: every attack's bound separately, not all attacks pooled
      - check: judge-kappa            # judge-human kappa
        judge: judge@1
        rubric: default
        at_least: 0.6

Each check's fields, with their defaults, are in :data:`CHECKS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assay.errors import BadInput


@dataclass(frozen=True)
class Field:
    kind: str
    """text, number, share (0..1), texts (a list of text, or one text), choice."""
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()


CHECKS: dict[str, dict[str, Field]] = {
    "non-inferiority": {
        "baseline": Field("text", True), "candidate": Field("text", True), "margin": Field("number", True),
        "alpha": Field("share", default=0.05), "adjust": Field("choice", default="holm", choices=("holm", "fdr_bh")),
        "rubric": Field("text"), "dimensions": Field("texts"), "raters": Field("texts"),
        "kind": Field("choice", choices=("human", "llm", "program")), "campaign": Field("text"),
        "cluster": Field("bool", default=True), "judge": Field("texts"), "humans": Field("texts"),
    },
    "ifeval": {
        "model": Field("text", True), "at_least": Field("share", True),
        "mode": Field("choice", default="strict", choices=("strict", "loose")),
        "level": Field("choice", default="prompt", choices=("prompt", "instruction")),
        "bound": Field("choice", default="estimate", choices=("estimate", "lower")),
        "confidence": Field("share", default=0.95), "dataset": Field("text"),
    },
    "attack-success": {
        "model": Field("text", True), "at_most": Field("share", True),
        "bound": Field("choice", default="upper", choices=("upper", "estimate")),
        "confidence": Field("share", default=0.95), "per": Field("choice", default="behavior",
                                                                 choices=("behavior", "attempt")),
        "attacks": Field("texts"), "rater": Field("text"),
        "dimension": Field("choice", choices=("jailbroken", "refusal", "injected", "leaked")),
        "suite": Field("text"), "each": Field("bool", default=False),
    },
    "judge-kappa": {
        "judge": Field("text", True), "at_least": Field("number", True), "rubric": Field("text"),
        "dimension": Field("text"), "humans": Field("texts"),
    },
}
COMMON = {"check": Field("choice", True, choices=tuple(CHECKS)), "name": Field("text")}


@dataclass
class Condition:
    """One condition of the gate: which check, its arguments, its name, and where it is written."""

    check: str
    name: str
    args: dict[str, Any]
    line: int
    index: int


@dataclass
class GateConfig:
    file: str
    conditions: list[Condition] = field(default_factory=list)


def _value(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    return loader.construct_object(node, deep=True)


def _check(value: Any, f: Field, fail) -> Any:  # noqa: ANN001 - fail(reason) raises
    if f.kind == "text":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            fail(f"expected text, got {type(value).__name__}")
        return str(value)
    if f.kind == "texts":
        if isinstance(value, str):
            return [value]
        if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            fail("expected a list of names")
        return list(value)
    if f.kind == "bool":
        if not isinstance(value, bool):
            fail(f"expected true or false, got {value!r}")
        return value
    if f.kind == "choice":
        if value not in f.choices:
            fail(f"expected one of {', '.join(f.choices)}, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(f"expected a number, got {value!r}")
    if f.kind == "share" and not 0 <= value <= 1:
        fail(f"expected a number from 0 to 1, got {value}")
    return float(value)


def default_name(check: str, a: dict[str, Any]) -> str:
    if check == "non-inferiority":
        return f"{a['candidate']} not worse than {a['baseline']} by more than {a['margin']:g} on any dimension"
    if check == "ifeval":
        return f"IFEval {a['mode']} ({a['level']} level) of {a['model']} at least {a['at_least']:g}"
    if check == "attack-success":
        bound = f"upper {a['confidence']:.0%} bound" if a["bound"] == "upper" else "estimate"
        whose = f" on suite {a['suite']}" if a.get("suite") else ""
        each = ", each attack" if a.get("each") else ""
        return f"attack success rate of {a['model']}{whose} at most {a['at_most']:g} ({bound}{each})"
    what = f" on {a['rubric']}" + (f" · {a['dimension']}" if a.get("dimension") else "") if a.get("rubric") else ""
    return f"judge-human kappa of {a['judge']}{what} at least {a['at_least']:g}"


def load(path: str | Path) -> GateConfig:
    """Read and check a gate file; BadInput (file, line, field) at the first mistake."""
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise BadInput("no such file", file=name)
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except UnicodeDecodeError as e:
        raise BadInput(f"invalid UTF-8 at offset {e.start}", file=name) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise BadInput(f"invalid YAML: {e.problem or e.context}", file=name,
                       line=mark.line + 1 if mark else None) from None
    loader = yaml.SafeLoader("")

    def fail(node: yaml.Node | None, fieldname: str | None, reason: str):  # noqa: ANN202
        raise BadInput(reason, file=name, line=node.start_mark.line + 1 if node is not None else None, field=fieldname)

    if not isinstance(root, yaml.MappingNode):
        fail(root, None, "expected a mapping with 'conditions:' (a list of checks)")
    top = {_value(k, loader): (k, v) for k, v in root.value}
    for key, (knode, _) in top.items():
        if key != "conditions":
            fail(knode, str(key), "unknown key: the file holds 'conditions:', a list of checks")
    if "conditions" not in top:
        fail(root, "conditions", "missing: a list of checks")
    knode, seq = top["conditions"]
    if not isinstance(seq, yaml.SequenceNode) or not seq.value:
        fail(seq, "conditions", "expected a non-empty list of checks")
    out = GateConfig(file=name)
    for i, node in enumerate(seq.value):
        where = f"conditions[{i}]"
        if not isinstance(node, yaml.MappingNode):
            fail(node, where, "expected a mapping with 'check:' and its fields")
        pairs = {}
        for k, v in node.value:
            key = _value(k, loader)
            if key in pairs:
                fail(k, f"{where}.{key}", "given twice")
            pairs[key] = (k, v)
        if "check" not in pairs:
            fail(node, f"{where}.check", f"missing: one of {', '.join(CHECKS)}")
        check = _check(_value(pairs["check"][1], loader), COMMON["check"],
                       lambda r: fail(pairs["check"][1], f"{where}.check", r))
        spec = {**CHECKS[check], "name": COMMON["name"]}
        args: dict[str, Any] = {}
        for key, (k, v) in pairs.items():
            if key == "check":
                continue
            if key not in spec:
                fail(k, f"{where}.{key}", f"unknown field of a {check} check; its fields: {', '.join(spec)}")
            args[key] = _check(_value(v, loader), spec[key],
                               lambda r, v=v, key=key: fail(v, f"{where}.{key}", r))
        for key, f in spec.items():
            if key not in args:
                if f.required:
                    fail(node, f"{where}.{key}", f"missing: a {check} check needs it")
                args[key] = f.default
        if check == "judge-kappa" and not -1 <= args["at_least"] <= 1:
            fail(pairs["at_least"][1], f"{where}.at_least", f"a kappa lies from -1 to 1, got {args['at_least']}")
        title = args.pop("name") or default_name(check, args)
        out.conditions.append(Condition(check=check, name=title, args=args, line=node.start_mark.line + 1, index=i))
    return out
