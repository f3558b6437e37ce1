"""Rubrics from YAML: loading, validation with the bad key named, and the built-in ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from assay.errors import BadInput
from assay.records import Rubric

BUILTIN_DIR = Path(__file__).parent


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def _line_of(node: yaml.Node | None, loc: tuple) -> int | None:
    """The 1-based YAML line of the deepest node along a pydantic error location."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == str(part)), None)
            if nxt is None:
                # a missing key: point at the mapping that lacks it
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        else:
            return line
        node = nxt
        line = node.start_mark.line + 1
    return line


def _normalise(data: Any) -> Any:
    """Accept ``levels`` written as a mapping {value: anchor} or {value: {label, anchor}}."""
    if not isinstance(data, dict):
        return data
    for dim in data.get("dimensions") or []:
        scale = dim.get("scale") if isinstance(dim, dict) else None
        if isinstance(scale, dict) and isinstance(scale.get("levels"), dict):
            levels = []
            for value, spec in scale["levels"].items():
                spec = {"anchor": spec} if isinstance(spec, str) else dict(spec or {})
                spec.setdefault("label", str(value))
                levels.append({"value": value, **spec})
            scale["levels"] = levels
    return data


def _loc_name(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_rubric(text: str, *, source: str = "<rubric>") -> Rubric:
    """Parse and validate a rubric from YAML text; BadInput names the key, its line and why."""
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise BadInput(f"not valid YAML: {getattr(e, 'problem', e)}", file=source,
                       line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise BadInput("a rubric must be a YAML mapping with name, version and dimensions", file=source)
    try:
        return Rubric.model_validate(_normalise(data))
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(p for p in err["loc"] if p not in ("function-after",))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        raise BadInput(msg, file=source, line=_line_of(node, loc), field=_loc_name(loc) or None) from None


def load_rubric(path_or_name: str | Path) -> Rubric:
    """A rubric from a YAML file, or a built-in rubric by name (``default``)."""
    p = Path(path_or_name)
    if not p.exists() and str(path_or_name) in builtin_names():
        p = BUILTIN_DIR / f"{path_or_name}.yaml"
    if not p.exists():
        raise BadInput(f"no such rubric file (built-in rubrics: {', '.join(builtin_names())})", file=str(path_or_name))
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise BadInput(f"not valid UTF-8 at byte {e.start}", file=str(p)) from None
    return parse_rubric(text, source=str(p))


def default_rubric() -> Rubric:
    return load_rubric("default")


__all__ = ["builtin_names", "default_rubric", "load_rubric", "parse_rubric"]


def get_rubric(store, ref: str) -> Rubric:  # noqa: ANN001 - a Store; imported lazily
    """A rubric from the store by ``name`` or ``name@version``; a built-in one is stored on first use."""
    from assay.errors import NotFound

    try:
        return store.rubric(ref)
    except NotFound:
        name, _, version = ref.partition("@")
        if name not in builtin_names():
            raise
        rub = load_rubric(name)
        if version and int(version) != rub.version:
            raise
        add_rubric(store, rub)
        return rub


def add_rubric(store, rubric: Rubric) -> bool:  # noqa: ANN001
    """Store a rubric and its guidelines as guideline version 1; False if already stored as is.

    A different rubric under an existing name@version is refused: bump the version.
    """
    from assay.errors import BadInput
    from assay.records import GuidelineVersion

    existing = store.find(Rubric, rubric.name, rubric.version)
    if existing is not None:
        if existing != rubric:
            raise BadInput(f"rubric {rubric.id} is already stored with different content: raise 'version' to add it")
        return False
    with store.transaction() as conn:
        store.add([rubric], conn)
        store.add([GuidelineVersion(rubric=rubric.id, version=1, text=rubric.guidelines, note="initial guidelines")],
                  conn)
    return True


__all__ += ["add_rubric", "get_rubric"]
