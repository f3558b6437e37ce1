"""Rendering a report: one self-contained HTML file (plotly.js inline), Markdown for a pull request, or JSON."""

from __future__ import annotations

import json
import math
from typing import Any

from assay.report import figures as F


def fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, (int, float)):
        return f"{v:.{digits}f}"
    return str(v)


def fmtp(p: Any) -> str:
    if p is None:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _script_json(obj: Any) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' can close it or start markup."""
    return (json.dumps(obj, default=str, allow_nan=False)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _clean(obj: Any) -> Any:
    """NaN and infinities become None (JSON has no NaN)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(_clean(report), indent=2, default=str)


def to_html(report: dict[str, Any]) -> str:
    """The report as one HTML file that opens without a network."""
    from jinja2 import Environment, PackageLoader, select_autoescape
    from plotly.offline import get_plotlyjs

    report = _clean(report)
    figures: list[tuple[str, str]] = []

    def add(fig: dict[str, Any] | None) -> str | None:
        if fig is None:
            return None
        fid = f"fig{len(figures)}"
        figures.append((fid, _script_json(fig)))
        return fid

    figs: dict[str, Any] = {"scores": [add(F.score_box(s)) for s in report["scores"]]}
    figs["agreement"] = add(F.agreement_forest([s for s in report["agreement"] if not s.get("error")]))
    figs["boards"] = []
    for b in report["leaderboards"]:
        if b.get("data"):
            figs["boards"].append((add(F.leaderboard(b["data"], b["title"])),
                                   add(F.win_rate_heatmap(b["data"], b["title"]))))
        else:
            figs["boards"].append((None, None))
    ab = report.get("abtest") or {}
    figs["abtest"] = add(F.abtest_forest({**ab.get("data", {}), "model_a": ab.get("model_a"),
                                          "model_b": ab.get("model_b")})) if ab.get("data") else None
    judge_rows = F.judge_rows(report.get("judges") or [])
    figs["judge_agreement"] = add(F.judge_agreement(judge_rows))
    figs["judge_biases"] = add(F.judge_biases(judge_rows))

    env = Environment(loader=PackageLoader("assay.report", "templates"), autoescape=select_autoescape(["j2", "html"]))
    template = env.get_template("report.html.j2")
    return template.render(r=report, figs=figs, figures=figures, judge_rows=judge_rows, fmt=fmt, fmtp=fmtp,
                           plotly_js=get_plotlyjs())


def _md(text: Any) -> str:
    """Text from the store inside a Markdown table cell: no markup, no line breaks."""
    return (str(text).replace("\n", " ").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            .replace("`", "'"))


def to_markdown(report: dict[str, Any]) -> str:
    """A summary fit for a pull request: agreement, leaderboards, A/B verdicts, judge validation."""
    r = _clean(report)
    t = r["summary"]["totals"]
    out = [f"## assay report ({r['generated_at']})", "",
           f"{t['items']} items, {t['responses']} responses, {t['judgments']} judgments, "
           f"{t['comparisons']} comparisons; bootstrap {r['bootstrap']['rounds']} rounds, seed {r['bootstrap']['seed']}.",
           ""]
    out += [f"> {_md(n)}" for n in r.get("notes", [])] + ([""] if r.get("notes") else [])
    if r["agreement"]:
        out += ["### Agreement", "", "| dimension | units | raters | Krippendorff alpha | 95% interval |",
                "| --- | --- | --- | --- | --- |"]
        for s in r["agreement"]:
            alpha = next((c for c in s.get("coefficients", []) if c["coefficient"].startswith("Krippendorff")
                          and c.get("estimate") is not None), None)
            cell = f"{alpha['estimate']:.3f} | [{alpha['low']:.3f}, {alpha['high']:.3f}]" if alpha else \
                f"— | {_md(s.get('error', 'undefined'))}"
            out.append(f"| {_md(s['dimension'])} | {s.get('units', '—')} | {s.get('raters', '—')} | {cell} |")
        out.append("")
    for b in r["leaderboards"]:
        out += [f"### Leaderboard: {_md(b['title'])}", ""]
        if b.get("error"):
            out += [f"_{_md(b['error'])}_", ""]
            continue
        out += ["| rank | model | rating | interval |", "| --- | --- | --- | --- |"]
        for row in sorted(b["data"]["leaderboard"], key=lambda x: x["rank"]):
            out.append(f"| {row['rank']} | {_md(row['model'])} | {fmt(row['rating'], 1)} | "
                       f"[{fmt(row['lower'], 1)}, {fmt(row['upper'], 1)}] |")
        out.append("")
    ab = r.get("abtest") or {}
    out += [f"### A/B test: {_md(ab['model_b'])} against {_md(ab['model_a'])}" if ab.get("model_a") else
            "### A/B test", ""]
    if ab.get("error"):
        out += [f"_{_md(ab['error'])}_", ""]
    else:
        for d in ab["data"]["dimensions"] + ab["data"]["preferences"]:
            out.append(f"- {_md(d.get('verdict') or d.get('error', ''))}")
        out.append("")
    if r.get("speed"):
        out += ["### Speed and cost", "", "| model | responses | latency p50 | latency p95 | first token p50 | tokens/s | cost (USD) |",
                "| --- | --- | --- | --- | --- | --- | --- |"]
        for m in r["speed"]:
            out.append(f"| {_md(m['model'])} | {m['timed']} | {fmt(m['latency_p50'], 0)} ms | {fmt(m['latency_p95'], 0)} ms | "
                       f"{fmt(m['ttft_p50'], 0) + ' ms' if m['ttft_p50'] is not None else '—'} | "
                       f"{fmt(m['tokens_per_s'], 1)} | {fmt(m['cost_usd'], 4)} |")
        out.append("")
    rows = F.judge_rows(r.get("judges") or [])
    out += ["### Judge validation", ""]
    if not r.get("has_llm_judges"):
        out += ["No LLM judge has been run on this store: nothing to validate.", ""]
    elif not rows:
        out += ["No LLM judge shares work with human raters: nothing to compare.", ""]
    else:
        out += ["| judge | task | judge vs humans | humans vs humans | flip rate | P(longer) |",
                "| --- | --- | --- | --- | --- | --- |"]
        for j in rows:
            out.append(f"| {_md(j['judge'])} | {_md(j['task'])} | {fmt(j['judge_vs_humans'])} ({j['statistic']}) | "
                       f"{fmt(j['humans_vs_humans'])} | {fmt(j['flip_rate'])} | {fmt(j['p_prefers_longer'])} |")
        out.append("")
    return "\n".join(out)
