"""Plotly figures of a report's sections, as JSON-ready dicts (rendered by plotly.js in the page)."""

from __future__ import annotations

import math
from typing import Any

NO_INTERVAL = "no interval"

LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 60}, "height": 380,
          "font": {"family": "system-ui, sans-serif", "size": 12}}


def _fig(data: list[dict[str, Any]], title: str, **layout: Any) -> dict[str, Any]:
    return {"data": data, "layout": {**LAYOUT, "title": {"text": title}, **layout}}


def finite(x: Any) -> bool:
    """A number that can be drawn (not None, NaN or infinite)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _points(labels: list[str], est: list[float], low: list[Any], high: list[Any], *, color: str,
            name: str | None = None, size: int = 9) -> dict[str, Any]:
    """Estimates as dots with whiskers; a point without an interval is drawn open and labelled "no interval"."""
    ok = [finite(lo) and finite(hi) for lo, hi in zip(low, high)]
    trace = {"type": "scatter", "mode": "markers+text", "orientation": "h", "x": est, "y": labels,
             "marker": {"size": size, "color": color, "symbol": ["circle" if k else "circle-open" for k in ok]},
             "text": ["" if k else NO_INTERVAL for k in ok], "textposition": "middle right",
             "textfont": {"color": "#5b6575", "size": 11},
             "error_x": {"type": "data", "symmetric": False,
                         "array": [hi - e if k else 0 for e, hi, k in zip(est, high, ok)],
                         "arrayminus": [e - lo if k else 0 for e, lo, k in zip(est, low, ok)]},
             "customdata": [f"[{lo:.3f}, {hi:.3f}]" if k else NO_INTERVAL for lo, hi, k in zip(low, high, ok)],
             "hovertemplate": "%{y}: %{x:.3f} %{customdata}<extra></extra>"}
    if name is not None:
        trace["name"] = name
    return trace


def score_box(section: dict[str, Any]) -> dict[str, Any]:
    """Score distribution per model on one dimension (quartiles computed in Python, not raw points)."""
    ms = section["models"]
    trace = {"type": "box", "name": "scores", "x": [m["model"] for m in ms], "q1": [m["q1"] for m in ms],
             "median": [m["median"] for m in ms], "q3": [m["q3"] for m in ms],
             "lowerfence": [m["lower"] for m in ms], "upperfence": [m["upper"] for m in ms],
             "mean": [m["mean"] for m in ms], "boxmean": True, "marker": {"color": "#3b6ea8"}}
    return _fig([trace], f"{section['dimension']} ({section['rubric']}): scores by model",
                yaxis={"title": "score"}, showlegend=False)


def agreement_forest(sections: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Every defined coefficient with its interval, one row per dimension x coefficient; one without an
    interval (an ICC of a perfectly agreeing panel, say) is drawn as an open dot marked "no interval"."""
    ys, xs, lo, hi = [], [], [], []
    for sec in sections:
        for c in sec.get("coefficients") or []:
            if not finite(c.get("estimate")):
                continue  # undefined: the table beside the figure gives the reason
            ys.append(f"{sec.get('rubric', 'comparisons')} · {sec['dimension']} · {c['coefficient']}")
            xs.append(c["estimate"])
            lo.append(c.get("low"))
            hi.append(c.get("high"))
    if not xs:
        return None
    left = min([-0.1, *(v - 0.1 for v in xs), *(v - 0.1 for v in lo if finite(v))])
    return _fig([_points(ys, xs, lo, hi, color="#2d7d46", size=8)], "Agreement coefficients with intervals",
                height=max(300, 24 * len(ys) + 120), xaxis={"title": "coefficient", "range": [left, 1.15]},
                yaxis={"automargin": True, "autorange": "reversed"}, showlegend=False)


def leaderboard(board: dict[str, Any], title: str) -> dict[str, Any] | None:
    """Ratings with their intervals, best first; None when no model has a rating."""
    rows = sorted((r for r in board.get("leaderboard") or [] if finite(r.get("rating"))), key=lambda r: -r["rating"])
    if not rows:
        return None
    trace = _points([r["model"] for r in rows], [r["rating"] for r in rows], [r.get("lower") for r in rows],
                    [r.get("upper") for r in rows], color="#8a3ba8", size=10)
    trace["hovertemplate"] = "%{y}: %{x:.1f} %{customdata}<extra></extra>"
    trace["customdata"] = [f"[{r['lower']:.1f}, {r['upper']:.1f}]" if finite(r.get("lower")) and finite(r.get("upper"))
                           else NO_INTERVAL for r in rows]
    return _fig([trace], f"Leaderboard: {title}", xaxis={"title": "rating (Elo scale)"},
                yaxis={"automargin": True, "autorange": "reversed"}, height=max(280, 36 * len(rows) + 120),
                showlegend=False)


def win_rate_heatmap(board: dict[str, Any], title: str) -> dict[str, Any] | None:
    """Win rate of each model over each other; None with fewer than two models."""
    wr = board.get("win_rate") or {}
    if len(wr.get("models") or []) < 2:
        return None
    trace = {"type": "heatmap", "z": wr["values"], "x": wr["models"], "y": wr["models"], "zmin": 0, "zmax": 1,
             "colorscale": "RdBu", "colorbar": {"title": "win rate"},
             "hovertemplate": "%{y} beats %{x}: %{z:.2f}<extra></extra>"}
    n = len(wr["models"])
    return _fig([trace], f"Win rate of row over column: {title}", height=max(320, 40 * n + 160),
                xaxis={"automargin": True}, yaxis={"automargin": True, "autorange": "reversed"})


def abtest_forest(ab: dict[str, Any]) -> dict[str, Any] | None:
    """B minus A per dimension with its interval; a difference without one is drawn open, "no interval"."""
    rows = [d for d in ab.get("dimensions", []) if finite(d.get("estimate"))]
    if not rows:
        return None
    trace = _points([d["dimension"] for d in rows], [d["estimate"] for d in rows], [d.get("ci_low") for d in rows],
                    [d.get("ci_high") for d in rows], color="#c0392b", size=10)
    return _fig([trace], f"{ab['model_b']} minus {ab['model_a']}, per dimension", xaxis={"title": "difference",
                "zeroline": True, "zerolinecolor": "#888"}, yaxis={"automargin": True},
                height=max(260, 40 * len(rows) + 120), showlegend=False)


def _human_mean(agr: dict[str, Any], key: str) -> float | None:
    vals = [p.get(key) for p in (agr.get("human_pairs") or {}).values() if p.get(key) is not None]
    return sum(vals) / len(vals) if vals else None


def judge_rows(judges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per judge and task: its agreement with the human majority beside the humans' own."""
    rows = []
    for j in judges:
        if not j.get("ok"):
            continue
        d = j["data"]
        parts = ([("pairwise", d["pairwise"])] if d.get("pairwise") else []) + \
            [(f"{r.get('rubric')} · {r.get('dimension')}", r) for r in d.get("rubric") or []]
        for task, part in parts:
            agr = part.get("agreement") or {}
            vs = agr.get("judge_vs_majority") or {}
            key = "kappa" if part.get("kind") == "pairwise" or vs.get("alpha") is None else "alpha"
            if part.get("kind") != "pairwise" and vs.get("alpha") is None:
                key = "spearman"
            rows.append({"judge": d["judge"]["name"], "task": task, "statistic": key, "n": vs.get("n"),
                         "judge_vs_humans": vs.get(key), "humans_vs_humans": _human_mean(agr, key),
                         "flip_rate": (part.get("position") or {}).get("flip_rate"),
                         "p_prefers_longer": (part.get("length_bias") or {}).get("p_judge_prefers_longer"),
                         "notes": part.get("notes") or []})
    return rows


def judge_agreement(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Judge vs human agreement beside human vs human, per judge and task."""
    rows = [r for r in rows if finite(r["judge_vs_humans"])]
    if not rows:
        return None
    names = [f"{r['judge']} · {r['task']} ({r['statistic']})" for r in rows]
    traces = [{"type": "bar", "name": "judge vs human majority", "x": names,
               "y": [r["judge_vs_humans"] for r in rows], "marker": {"color": "#c07a2b"}},
              {"type": "bar", "name": "humans vs humans (mean over pairs)", "x": names,
               "y": [r["humans_vs_humans"] for r in rows], "marker": {"color": "#3b6ea8"}}]
    low = min(0.0, *(r["judge_vs_humans"] for r in rows)) - 0.05
    return _fig(traces, "Judge agreement with humans, beside the humans' agreement with each other",
                barmode="group", yaxis={"title": "agreement", "range": [low, 1]}, xaxis={"automargin": True})


def judge_biases(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Position-flip rate and preference for the longer response, per judge (pairwise tasks)."""
    rows = [r for r in rows if r["flip_rate"] is not None or r["p_prefers_longer"] is not None]
    if not rows:
        return None
    names = [f"{r['judge']} · {r['task']}" for r in rows]
    traces = [{"type": "bar", "name": "position-flip rate", "x": names, "y": [r["flip_rate"] for r in rows],
               "marker": {"color": "#8a3ba8"}},
              {"type": "bar", "name": "P(prefers the longer response)", "x": names,
               "y": [r["p_prefers_longer"] for r in rows], "marker": {"color": "#2d7d46"}}]
    return _fig(traces, "Judge biases", barmode="group", yaxis={"range": [0, 1]}, xaxis={"automargin": True})


COLORS = ["#c0392b", "#3b6ea8", "#2d7d46", "#8a3ba8", "#c07a2b", "#5b6575"]


def _rate_trace(name: str, labels: list[str], rows: list[dict[str, Any]], color: str) -> dict[str, Any]:
    """Rates with their intervals as dots and whiskers, one dot per label (grouped beside other traces)."""
    return _points(labels, [r["rate"] for r in rows], [r.get("low") for r in rows], [r.get("high") for r in rows],
                   color=color, name=name)


def asr_forest(section: dict[str, Any]) -> dict[str, Any] | None:
    """Attack success rate per model x attack with Wilson intervals, one trace per rater."""
    traces, n = [], set()
    for k, t in enumerate(section.get("tables") or []):
        rows = [r for r in t["rows"] if finite(r.get("asr"))]
        labels = [f"{r['model']} · {r['attack']}" for r in rows]
        n |= set(labels)
        traces.append(_rate_trace(f"{t['name']} ({t['dimension']})", labels,
                                  [{"rate": r["asr"], "low": r["low"], "high": r["high"]} for r in rows],
                                  COLORS[k % len(COLORS)]))
    if not n:
        return None
    return _fig(traces, "Attack success rate per model and attack (Wilson intervals)", scattermode="group",
                xaxis={"title": "attack success rate", "range": [-0.02, 1.02]},
                yaxis={"automargin": True, "autorange": "reversed"}, height=max(300, 44 * len(n) + 140))


def refusal_forest(section: dict[str, Any]) -> dict[str, Any] | None:
    """Over-refusal on safe prompts per model, one trace per rater (humans and detectors side by side)."""
    traces, n = [], set()
    for k, t in enumerate(section.get("raters") or []):
        rows = [r for r in t["rows"] if finite(r["over_refusal"].get("rate"))]
        n |= {r["model"] for r in rows}
        traces.append(_rate_trace(f"{t['name']} ({t['kind']})", [r["model"] for r in rows],
                                  [r["over_refusal"] for r in rows], COLORS[k % len(COLORS)]))
    if not n:
        return None
    return _fig(traces, "Over-refusal: share of safe prompts refused (Wilson intervals)", scattermode="group",
                xaxis={"title": "over-refusal rate", "range": [-0.02, 1.02]},
                yaxis={"automargin": True, "autorange": "reversed"}, height=max(300, 50 * len(n) + 140))


def _plain(text: Any) -> str:
    """Text from the store as Plotly shows it literally: its own markup (<b>, <a href>) is escaped."""
    import html

    return html.escape(str(text), quote=False)


def reliability(section: dict[str, Any], judge: str) -> dict[str, Any] | None:
    """A judge's reliability diagram on one dimension (or its pairs): the people's mean per bin of the judge's
    score, the isotonic map fitted to them, and the diagonal a judge on the people's scale would follow."""
    rows = section.get("reliability") or []
    m = section.get("map") or {}
    if not rows or not m.get("x"):
        return None
    what = "pairs" if section.get("kind") == "pairwise" else f"{section.get('rubric')} · {section.get('dimension')}"
    lo = min([*m["x"], *m["y"], *(r["human_mean"] for r in rows)])
    hi = max([*m["x"], *m["y"], *(r["human_mean"] for r in rows)])
    size = [8 + 14 * (r["n"] / max(x["n"] for x in rows)) ** 0.5 for r in rows]
    traces = [
        {"type": "scatter", "mode": "lines", "name": "judge = people", "x": [lo, hi], "y": [lo, hi],
         "line": {"color": "#999", "dash": "dot"}, "hoverinfo": "skip"},
        {"type": "scatter", "mode": "markers", "name": "people's mean per bin", "x": [r["judge_mean"] for r in rows],
         "y": [r["human_mean"] for r in rows], "marker": {"size": size, "color": "#3b6ea8"},
         "customdata": [r["n"] for r in rows],
         "hovertemplate": "judge %{x:.3f}: people %{y:.3f} (n=%{customdata})<extra></extra>"},
        {"type": "scatter", "mode": "lines", "name": "calibration map (isotonic)", "x": m["x"], "y": m["y"],
         "line": {"color": "#c0392b", "shape": "linear"}},
    ]
    err = section.get("loss") or {}
    sub = (f"{err.get('metric')} {err['raw']:.3f} raw, {err['calibrated']:.3f} calibrated"
           if finite(err.get("raw")) and finite(err.get("calibrated")) else "")
    return _fig(traces, f"Reliability: {_plain(judge)} · {_plain(what)}<br><sup>{sub}</sup>",
                xaxis={"title": "judge's score" if section.get("kind") != "pairwise"
                       else "judge's preference for the first response"},
                yaxis={"title": "people's mean" if section.get("kind") != "pairwise"
                       else "share of people preferring the first"},
                height=400)
