"""``assay slices`` over the store: read the outcome, build the features, search, and save findings.

The search itself is :func:`assay.analysis.slices.find_slices`; the table it searches is
built by :mod:`assay.analysis.slice_data`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from assay.analysis.slice_data import Outcome, build_features, outcome_rows, paired_rows
from assay.analysis.slices import SliceResult, SliceSearch, find_slices
from assay.errors import BadInput

if TYPE_CHECKING:
    from assay import records as R
    from assay.store import Store

__all__ = ["StoreSlices", "save_slices", "store_slices"]


@dataclass
class StoreSlices:
    """A search over the store: the result, the rows searched, and what was asked."""

    result: SliceResult
    rows: pd.DataFrame
    outcome: Outcome
    models: list[str] = field(default_factory=list)
    compare: tuple[str, str] | None = None

    def to_dict(self, *, limit: int | None = None) -> dict[str, Any]:
        return {"outcome": self.outcome.describe(paired=self.compare is not None), "models": self.models,
                "compare": list(self.compare) if self.compare else None, **self.result.to_dict(limit=limit)}


def store_slices(store: Store, outcome: Outcome, *, models: Sequence[str] | None = None,
                 compare: tuple[str, str] | None = None, features: Sequence[str] | None = None,
                 metadata: Sequence[str] = (), search: SliceSearch = SliceSearch(),
                 say: Callable[[str], None] = lambda _m: None) -> StoreSlices:
    """The slices of the store's data where ``outcome`` differs from the rest (``compare``: B - A per prompt)."""
    search.check()
    outcome.check()
    if compare is not None:
        if models:
            raise BadInput("--compare names the two models; leave out --model", param="model")
        rows = paired_rows(store, outcome, *compare)
    else:
        rows = outcome_rows(store, outcome, models=models)
    feats, notes = build_features(store, rows, names=features, metadata=metadata, paired=compare is not None,
                                  say=say)
    if not feats:
        raise BadInput("no feature varies over these rows", param="features")
    binary = None if compare is None and not outcome.mean else False
    result = find_slices(feats, rows["y"].to_numpy(float), binary=binary, search=search)
    result.notes += notes
    return StoreSlices(result, rows, outcome, list(models or []), compare)


def _slice_mask(store: Store, found: StoreSlices, predicates: list[list[str]]) -> np.ndarray:
    """The rows of one reported slice, rebuilt from its predicates (for its examples)."""
    names = [f for f, _ in predicates]
    feats, _ = build_features(store, found.rows, names=[n for n in names if not n.startswith("meta:")] or None,
                     metadata=[n[5:] for n in names if n.startswith("meta:")], paired=found.compare is not None)
    by = {f.name: f for f in feats}
    mask = np.ones(len(found.rows), dtype=bool)
    for name, value in predicates:
        f = by[name]
        mask &= f.mask(f.labels.index(value), len(found.rows))
    return mask


def save_slices(store: Store, found: StoreSlices, *, command: str, worse: Callable[[float], bool],
                limit: int = 20, created_by: str | None = None) -> list[R.LibraryEntry]:
    """One failure-library entry per listed slice (``SliceResult.shown``) on the bad side (``worse(diff)``).

    Its evidence: the slice, n, rates, interval, adjusted p, the number of slices tested and the command.

    An entry's slug is ``slice-`` and the slice (with the models); a slug already taken is
    left alone. Examples: up to 20 failing responses of the slice.
    """
    from assay import records as R
    from assay.library.entries import add_entry, slugify

    out = []
    sig = found.result.shown()
    sig = sig[[worse(d) for d in sig["diff"]]].head(limit)
    who = " - ".join(reversed(found.compare)) if found.compare else ", ".join(found.models) or "all models"
    for row in sig.itertuples():
        slug = f"slice-{slugify(row.slice)[:40].strip('-')}-{R.digest(row.slice, who, size=4)}"
        if store.count("library", entry=slug):
            continue
        examples: list[str] = []
        if found.compare is None:
            mask = _slice_mask(store, found, row.predicates)
            bad = found.rows[mask & (found.rows["y"].to_numpy() > 0)] if found.result.binary else found.rows[mask]
            examples = list(dict.fromkeys(bad["response_id"].dropna()))[:20]
        evidence = {"slices": {
            "slice": row.predicates, "outcome": found.outcome.describe(paired=found.compare is not None), "models": found.models,
            "compare": list(found.compare) if found.compare else None, "n": int(row.n), "n_out": int(row.n_out),
            "value_in": float(row.value_in), "in_interval": [float(row.in_low), float(row.in_high)],
            "value_out": float(row.value_out), "difference": float(row.diff),
            "interval": [float(row.ci_low), float(row.ci_high)], "effect": float(row.effect),
            "p": float(row.p), "p_adjusted": float(row.p_adj), "fdr": found.result.search.fdr,
            "tested": found.result.tested, "confidence": found.result.search.confidence, "command": command}}
        what = "failure rate" if found.result.binary else "mean"
        title = (f"{row.slice}: {what} {row.value_in:.3g} against {row.value_out:.3g} elsewhere ({who})")
        out.append(add_entry(store, title, entry=slug, examples=examples, created_by=created_by,
                             description=f"{found.outcome.describe(paired=found.compare is not None)} differs on this slice: {row.diff:+.3g} "
                                         f"[{row.ci_low:.3g}, {row.ci_high:.3g}], adjusted p {row.p_adj:.2g} "
                                         f"over {found.result.tested} slices tested",
                             tags=["slice"], source="slices", evidence=evidence))
    return out
