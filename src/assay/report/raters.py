"""Which raters a figure covers, named the same way in the report, `assay agreement` and the demo."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

KIND_ORDER = ("human", "llm", "program")


def agreement_raters(section: Mapping[str, Any]) -> list[str]:
    """The rater ids an agreement section's coefficients cover: the raters of its rater-by-rater matrix
    (those sharing a unit with another), else every rater of its group comparison; [] when it lists none."""
    matrix = section.get("matrix") or {}
    if matrix.get("raters"):
        return list(matrix["raters"])
    groups = section.get("groups") or {}
    return [*groups.get("humans", []), *groups.get("judges", [])]


def describe_raters(ids: Iterable[str], raters: Mapping[str, Any]) -> str:
    """Rater names grouped by kind, humans first: "a, b, c (human); gpt-3.5-turbo (llm)".

    ``raters`` maps an id to its Rater record; an id without one is shown as is.
    """
    by_kind: dict[str, list[str]] = {}
    for rid in ids:
        r = raters.get(rid)
        kind = getattr(r, "kind", None) or "unknown"
        by_kind.setdefault(kind, []).append(getattr(r, "name", None) or rid)
    order = sorted(by_kind, key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER), k))
    return "; ".join(f"{', '.join(sorted(by_kind[k]))} ({k})" for k in order)
