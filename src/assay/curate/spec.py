"""Pipeline files: the steps of a curation as YAML or JSON, each error naming the file and line.

A file is a list of steps, or a mapping with a ``steps`` list. A step is written as the
CLI writes it (``"near-dup(threshold=0.8)"``), as ``{name: {args}}``, or as
``{name: ..., args: {...}}``::

    steps:
      - empty
      - length: {unit: words, min: 3}
      - name: near-dup
        args: {threshold: 0.8}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.curate.steps import Step, create, parse_step
from assay.errors import BadInput


def load_pipeline(path: str | Path) -> list[Step]:
    """The steps of a pipeline file; BadInput naming the file, line and field at fault."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise BadInput(f"cannot read the pipeline file ({e.strerror})", file=str(path)) from None
    try:  # JSON is YAML, so one parser gives line numbers for both
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise BadInput(f"not valid YAML or JSON: {getattr(e, 'problem', None) or e}", file=str(path),
                       line=mark.line + 1 if mark else None) from None
    if root is None:
        raise BadInput("the file is empty: list the steps", file=str(path))
    nodes = root
    if isinstance(root, yaml.MappingNode):
        found = [v for k, v in root.value if k.value == "steps"]
        extra = [k.value for k, _ in root.value if k.value != "steps"]
        if extra:
            raise BadInput(f"unknown key(s) {', '.join(extra)}: a pipeline file has only 'steps'", file=str(path),
                           line=root.start_mark.line + 1, field=extra[0])
        if not found:
            raise BadInput("a pipeline file needs a 'steps' list", file=str(path), line=1, field="steps")
        nodes = found[0]
    if not isinstance(nodes, yaml.SequenceNode) or not nodes.value:
        raise BadInput("'steps' must be a non-empty list", file=str(path), line=nodes.start_mark.line + 1,
                       field="steps")
    steps = []
    for k, node in enumerate(nodes.value, 1):
        value = yaml.safe_load(yaml.serialize(node))
        try:
            steps.append(_one(value))
        except (ValueError, TypeError) as e:
            raise BadInput(str(e), file=str(path), line=node.start_mark.line + 1, field=f"steps[{k}]") from None
    return steps


def _one(value: Any) -> Step:
    if isinstance(value, str):
        return parse_step(value)
    if isinstance(value, dict):
        if "name" in value:
            extra = set(value) - {"name", "args"}
            if extra:
                raise ValueError(f"a step has name and args, not {', '.join(sorted(map(str, extra)))}")
            args = value.get("args") or {}
            if not isinstance(args, dict):
                raise ValueError("args must be a mapping of argument names to values")
            return create(str(value["name"]), **args)
        if len(value) == 1:
            (name, args), = value.items()
            if args is not None and not isinstance(args, dict):
                raise ValueError(f"step {name}: its arguments must be a mapping")
            return create(str(name), **(args or {}))
    raise ValueError("a step is NAME, NAME(key=value, ...), {NAME: {args}} or {name: NAME, args: {...}}")
