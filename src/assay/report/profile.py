"""The report's data-profile section (`assay report --profile D [--profile-against B]`): tables and Plotly figures.

The data is :func:`assay.analysis.profile.profile_dataset` or ``compare_datasets``, the
figures JSON-ready dicts like the other sections'. Text from the store (dataset names,
categories, topic terms) is HTML-escaped before it goes into a figure, since Plotly renders
a subset of HTML in titles, tick labels and hover text; the page's tables are escaped by Jinja.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assay.report.figures import COLORS, LAYOUT, finite
from assay.report.render import _md  # the hardened cell escaper: no live link or image from store text

if TYPE_CHECKING:
    from assay.analysis.profile import ProfileSettings
    from assay.analysis.profile_impact import ScoreSpec
    from assay.store import Store


@dataclass(frozen=True)
class ProfileRequest:
    """What the report profiles: ``dataset``, compared with ``against`` when given, and ``score`` per topic."""

    dataset: str
    against: str | None = None
    settings: ProfileSettings | None = None
    score: ScoreSpec | None = None


def profile_section(store: Store, request: ProfileRequest) -> dict[str, Any]:
    """The profile of one dataset (``{"profile": ...}``) or two compared (``{"comparison": ...}``)."""
    from assay.analysis.profile import ProfileSettings, compare_datasets, profile_dataset

    settings = request.settings or ProfileSettings()
    if request.against is None:
        return {"profile": profile_dataset(store, request.dataset, settings=settings, score=request.score)}
    return {"comparison": compare_datasets(store, request.dataset, request.against, settings=settings,
                                           score=request.score)}


def _e(text: Any) -> str:
    return html.escape(str(text), quote=False)


def _fig(data: list[dict[str, Any]], title: str, **layout: Any) -> dict[str, Any]:
    return {"data": data, "layout": {**LAYOUT, "title": {"text": title}, **layout}}


def _sides(section: dict[str, Any]) -> list[dict[str, Any]]:
    if "profile" in section:
        return [section["profile"]]
    c = section["comparison"]
    return [c["profile_a"], c["profile_b"]]


def length_histogram(sides: list[dict[str, Any]], unit: str) -> dict[str, Any]:
    """Share of prompts per length bin, one bar trace per dataset (shared bins when compared)."""
    traces = []
    for k, s in enumerate(sides):
        h = s["length"][unit]["histogram"]
        n = max(sum(h["counts"]), 1)
        mids = [(lo + hi) / 2 for lo, hi in zip(h["edges"][:-1], h["edges"][1:])]
        traces.append({"type": "bar", "name": _e(s["dataset"]), "x": mids, "y": [c / n for c in h["counts"]],
                       "marker": {"color": COLORS[k % len(COLORS)]}, "opacity": 0.6})
    what = "characters" if unit == "chars" else "whitespace tokens"
    return _fig(traces, f"Prompt length in {what} (last bin: the longest 1% and beyond)", barmode="overlay",
                xaxis={"title": what}, yaxis={"title": "share of prompts"})


def share_bars(sides: list[dict[str, Any]], counts_of: str, title: str, top: int = 15) -> dict[str, Any] | None:
    """Share of prompts per category of a feature (language, category), one trace per dataset."""
    totals: dict[str, int] = {}
    for s in sides:
        for k, v in s[counts_of]["counts"].items():
            totals[k] = totals.get(k, 0) + v
    cats = sorted(totals, key=lambda k: (-totals[k], k))[:top]
    if not cats:
        return None
    traces = []
    for k, s in enumerate(sides):
        counts = s[counts_of]["counts"]
        n = max(sum(counts.values()), 1)
        traces.append({"type": "bar", "name": _e(s["dataset"]), "x": [_e(c) for c in cats],
                       "y": [counts.get(c, 0) / n for c in cats], "marker": {"color": COLORS[k % len(COLORS)]}})
    return _fig(traces, title, barmode="group", yaxis={"title": "share of prompts"}, xaxis={"automargin": True})


def topic_bars(topics: dict[str, Any], names: list[str], top: int = 25) -> dict[str, Any] | None:
    """Each topic's share per dataset, labelled by its top terms."""
    clusters = (topics or {}).get("clusters") or []
    if not clusters:
        return None
    rows = clusters[:top]
    labels = [_e(f"{c['topic']}: {c['title']}") for c in rows]
    traces = [{"type": "bar", "orientation": "h", "name": _e(n), "y": labels, "x": [c["shares"][n] for c in rows],
               "marker": {"color": COLORS[k % len(COLORS)]}} for k, n in enumerate(names)]
    return _fig(traces, "Topics: share of each dataset's embedded prompts", barmode="group",
                height=max(320, 26 * len(rows) * len(names) + 120), xaxis={"title": "share"},
                yaxis={"automargin": True, "autorange": "reversed"})


def score_forest(score: dict[str, Any]) -> dict[str, Any] | None:
    """The measure per topic and overall (eval mix, target mix) with intervals."""
    rows = [(f"{r['topic']}: {r['title']} (n={r['n']})", r) for r in score.get("per_topic") or []]
    rows.append(("all, eval's mix", score["eval"]))
    if score.get("target"):
        rows.append((f"all, {score['target']['dataset']}'s mix", score["target"]))
    rows = [(label, r) for label, r in rows if finite(r.get("estimate"))]
    if not rows:
        return None
    ok = [finite(r.get("low")) and finite(r.get("high")) for _, r in rows]
    trace = {"type": "scatter", "mode": "markers", "x": [r["estimate"] for _, r in rows],
             "y": [_e(label) for label, _ in rows], "marker": {"size": 9, "color": "#c0392b"},
             "error_x": {"type": "data", "symmetric": False,
                         "array": [r["high"] - r["estimate"] if k else 0 for (_, r), k in zip(rows, ok)],
                         "arrayminus": [r["estimate"] - r["low"] if k else 0 for (_, r), k in zip(rows, ok)]}}
    return _fig([trace], _e(f"{score['what']} on {score['dimension']}, per topic and re-weighted"),
                height=max(300, 30 * len(rows) + 140), yaxis={"automargin": True, "autorange": "reversed"},
                showlegend=False)


def profile_figures(section: dict[str, Any]) -> list[dict[str, Any]]:
    """The section's figures, in the page's order (those that have something to draw)."""
    sides = _sides(section)
    data = section.get("profile") or section.get("comparison")
    figs = [length_histogram(sides, "chars"), length_histogram(sides, "words"),
            share_bars(sides, "language", "Languages"), share_bars(sides, "category", "Categories"),
            topic_bars(data.get("topics"), [s["dataset"] for s in sides])]
    if data.get("score"):
        figs.append(score_forest(data["score"]))
    return [f for f in figs if f is not None]


def profile_markdown(section: Any) -> list[str]:
    """The section in Markdown: per feature the test and divergence, topics one dataset lacks."""
    if not section:
        return []
    if section.get("error"):  # NaN has become None here (render._clean)
        return ["### Data profile", "", f"_{_md(section['error'])}_", ""]
    out = ["### Data profile", ""]
    sides = _sides(section)
    out += ["| | " + " | ".join(_md(s["dataset"]) for s in sides) + " |", "|---" * (len(sides) + 1) + "|"]
    out.append("| items | " + " | ".join(str(s["items"]) for s in sides) + " |")
    out.append("| median length (words) | " + " | ".join(f"{s['length']['words']['p50']:.0f}" for s in sides) + " |")
    out.append("| near or exact duplicates | " + " | ".join(f"{s['duplication']['near_share']:.1%}" for s in sides) + " |")
    out.append("| with personal data | " + " | ".join(f"{s['pii']['share']:.1%}" for s in sides) + " |")
    out.append("")
    c = section.get("comparison")
    if c:
        out += ["| feature | test | divergence | p (Holm) |", "| --- | --- | --- | --- |"]
        for t in c["tests"]:
            p = t["p_holm"]
            shown = "—" if not finite(p) else "< 0.001" if p < 0.001 else f"{p:.3f}"
            div = f"{t['divergence']:.3f}" if finite(t["divergence"]) else "—"
            out.append(f"| {_md(t['feature'])} | {t['test']} | {div} {t['divergence_name']} | {shown} |")
        out.append("")
        for key, has in (("only_in_b", c["b"]), ("only_in_a", c["a"])):
            for t in (c["topics"].get(key) or []):
                out.append(f"- topic {t['topic']} ({_md(', '.join(t['terms']))}) is only in {_md(has)}")
        out.append("")
    return out
