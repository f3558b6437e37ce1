"""The report's slices section: what `assay slices` finds, for the searches the report is asked for.

Computed only when asked (``assay report --slices SPEC``): a search reads every response of
the outcome and, for topic clusters, embeds the prompts, which is not cheap on a big store.
Topic clusters are left out unless the spec names the feature.
"""

from __future__ import annotations

import html
import shlex
from typing import TYPE_CHECKING, Any

from assay.errors import BadInput

if TYPE_CHECKING:
    from assay.store import Store

LIMIT = 30  # slices listed per search
_FLAGS = {"per_instruction", "redteam", "mean"}
_VALUES = {"rubric", "dimension", "threshold", "verifier", "model", "compare", "features", "metadata", "max_level",
           "min_size", "fdr", "alpha"}


def parse_spec(text: str) -> dict[str, Any]:
    """``key=value`` words (``shlex``): rubric, dimension, threshold, verifier, model, compare=A,B,
    features=a,b, metadata=k, max_level, min_size, fdr, alpha; and the flags mean, per_instruction, redteam.

    >>> parse_spec("verifier='ifeval(mode=strict)' per_instruction features=instruction min_size=5")["min_size"]
    5
    """
    out: dict[str, Any] = {}
    for word in shlex.split(text):
        key, eq, value = word.partition("=")
        key = key.replace("-", "_")
        if not eq and key in _FLAGS:
            out[key] = True
        elif eq and key in _VALUES:
            out[key] = value
        else:
            raise BadInput(f"cannot read {word!r} in slice spec {text!r}; write key=value with keys "
                           f"{', '.join(sorted(_VALUES))} or the flags {', '.join(sorted(_FLAGS))}", param="slices")
    for key in ("features", "metadata", "compare", "model"):
        if key in out:
            out[key] = [v for v in out[key].split(",") if v]
    for key, kind in (("max_level", int), ("min_size", int), ("threshold", float), ("alpha", float)):
        if key in out:
            try:
                out[key] = kind(out[key])
            except ValueError:
                raise BadInput(f"{key} must be a number in slice spec {text!r}", param="slices") from None
    if "compare" in out and len(out["compare"]) != 2:
        raise BadInput(f"compare=A,B names two models in slice spec {text!r}", param="slices")
    return out


def run_spec(store: Store, text: str) -> Any:
    """The ``StoreSlices`` of one spec."""
    from assay.analysis.slice_data import FEATURES, Outcome
    from assay.analysis.slice_store import store_slices
    from assay.analysis.slices import SliceSearch

    s = parse_spec(text)
    outcome = Outcome(rubric=s.get("rubric"), dimension=s.get("dimension"), threshold=s.get("threshold"),
                      mean=s.get("mean", False), verifier=s.get("verifier"),
                      per_instruction=s.get("per_instruction", False), redteam=s.get("redteam", False))
    search = SliceSearch(**{k: s[k] for k in ("max_level", "min_size", "fdr", "alpha") if k in s})
    paired = "compare" in s
    features = s.get("features") or [f for f in FEATURES if f != "topic"
                                      and not (paired and f in ("response_length", "refusal", "code_block", "list",
                                                                "markdown"))]
    return store_slices(store, outcome, models=s.get("model"), compare=tuple(s["compare"]) if paired else None,
                        features=features, metadata=s.get("metadata") or (), search=search)


def slices_section(store: Store, specs: Any) -> list[dict[str, Any]]:
    """One entry per spec: what was searched and the listed slices (or the error, one line)."""
    out = []
    for text in specs:
        try:
            found = run_spec(store, text)
        except BadInput as e:
            out.append({"spec": text, "error": e.reason})
            continue
        res = found.result
        shown = [{k: v for k, v in row.items() if k != "predicates"} for row in res.to_dict()["slices"]
                 if row["shown"]]
        out.append({"spec": text, "outcome": found.outcome.describe(paired=found.compare is not None), "compare": found.compare,
                    "binary": res.binary, "rows": res.rows, "overall": res.overall, "tested": res.tested,
                    "significant": int(res.slices["significant"].sum()), "fdr": res.search.fdr,
                    "alpha": res.search.alpha, "notes": res.notes, "listed": len(shown), "slices": shown[:LIMIT]})
    return out


def slice_forest(section: dict[str, Any]) -> dict[str, Any] | None:
    """Each listed slice's difference from the rest with its interval (text escaped: Plotly reads some HTML)."""
    rows = section.get("slices") or []
    if not rows:
        return None
    labels = [html.escape(str(r["slice"]), quote=False) for r in rows][::-1]
    diff = [r["diff"] for r in rows][::-1]
    low = [r["ci_low"] for r in rows][::-1]
    high = [r["ci_high"] for r in rows][::-1]
    trace = {"type": "scatter", "mode": "markers", "x": diff, "y": labels, "marker": {"color": "#b5443b"},
             "error_x": {"type": "data", "symmetric": False, "array": [h - d for h, d in zip(high, diff)],
                         "arrayminus": [d - lo for d, lo in zip(diff, low)]},
             "hovertemplate": "%{y}: %{x:.3f}<extra></extra>"}
    what = "failure rate" if section.get("binary") else "mean"
    title = html.escape(f"{section['outcome']}: {what} in the slice minus the rest", quote=False)
    from assay.report.figures import LAYOUT

    return {"data": [trace], "layout": {**LAYOUT, "title": {"text": title}, "height": 120 + 26 * len(rows),
                                        "showlegend": False, "yaxis": {"automargin": True},
                                        "xaxis": {"zeroline": True, "title": {"text": "difference [interval]"}}}}
