"""Rendering a report: one self-contained HTML file (plotly.js inline), Markdown for a pull request, or JSON."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from assay.report import figures as F


def fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, (int, float)):
        return f"{v:.{digits}f}"
    return str(v)


def fmtp(p: Any) -> str:
    if not F.finite(p):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def ci(low: Any, high: Any, digits: int = 3) -> str:
    """An interval as "[low, high]", or "no interval" when either bound is missing (None, NaN)."""
    if not (F.finite(low) and F.finite(high)):
        return F.NO_INTERVAL
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def undefined(c: dict[str, Any]) -> str:
    """Why a coefficient has no value: its own error, else that the estimate is not a number."""
    return "undefined: " + (c.get("error") or "the estimate is not a number")


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

    report = _visible_all(_clean(report))
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
    figs["reliability"] = [
        {"judge": j["judge"], "id": add(F.reliability(sec, (j.get("data") or {}).get("judge", {}).get("name") or j["judge"])),
         "section": sec}
        for j in report.get("judges") or [] if (j.get("calibration") or {}).get("ok")
        for sec in j["calibration"]["data"]["sections"]]
    rt, rf = report.get("redteam") or {}, report.get("refusals") or {}
    figs["asr"] = add(F.asr_forest(rt)) if rt and not rt.get("error") else None
    figs["refusals"] = add(F.refusal_forest(rf)) if rf and not rf.get("error") else None
    from assay.report.slices import slice_forest

    figs["slices"] = [add(slice_forest(sec)) if not sec.get("error") else None for sec in report.get("slices") or []]
    pr = report.get("profile")
    if pr and not pr.get("error"):
        from assay.report.profile import profile_figures

        figs["profile"] = [add(f) for f in profile_figures(pr)]

    env = Environment(loader=PackageLoader("assay.report", "templates"), autoescape=select_autoescape(["j2", "html"]))
    template = env.get_template("report.html.j2")
    return template.render(r=report, figs=figs, figures=figures, judge_rows=judge_rows, fmt=fmt, fmtp=fmtp, ci=ci,
                           undefined=undefined, finite=F.finite, plotly_js=get_plotlyjs())


# control characters a reader cannot see: C0 (but tab and line breaks), DEL, and the bidirectional marks,
# embeddings, overrides and isolates that can make text read in another order than it is stored
_HIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """``text`` with each invisible control character shown as its code point, "[U+202E]"."""
    return _HIDDEN.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def _visible_all(obj: Any) -> Any:
    """Every string in a report, through :func:`visible` (keys too: a model or category name is a key)."""
    if isinstance(obj, str):
        return visible(obj)
    if isinstance(obj, dict):
        return {_visible_all(k): _visible_all(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_visible_all(v) for v in obj]
    return obj


def _md(text: Any) -> str:
    """Text from the store inside a Markdown table cell: no markup, no link or image (an imported category or
    a model's answer may carry an exfiltration link), no line breaks, no invisible control characters."""
    return (visible(str(text)).replace("\n", " ").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            .replace("`", "'").replace("[", "\\[").replace("]", "\\]"))


def _judge_assisted_md(ja: dict[str, Any] | None) -> list[str]:
    """The judge-assisted (PPI++) leaderboard of a leaderboard section, as Markdown lines."""
    if not ja:
        return []
    out = ["Judge-assisted ratings (PPI++ Bradley-Terry):", ""]
    if ja.get("error"):
        return out + [f"_{_md(ja['error'])}_", ""]
    out += ["| rank | model | PPI++ rating | interval | human only | judge only (biased) | n | N |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in sorted(ja["leaderboard"], key=lambda x: x["rank"]):
        out.append(f"| {row['rank']} | {_md(row['model'])} | {fmt(row['rating'], 1)} | "
                   f"{ci(row.get('lower'), row.get('upper'), 1)} | {fmt(row['human_rating'], 1)} "
                   f"{ci(row.get('human_lower'), row.get('human_upper'), 1)} | {fmt(row.get('judge_rating'), 1)} | "
                   f"{row['labels']} | {row['judge_only']} |")
    return out + ["", f"_{_md(ja['worth'])} (lam = {fmt(ja['lam'], 2)})_", ""]


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
            alpha = next((c for c in s.get("coefficients", []) if c["coefficient"].startswith("Krippendorff")), None)
            if alpha and F.finite(alpha.get("estimate")):
                cell = f"{alpha['estimate']:.3f} | {ci(alpha.get('low'), alpha.get('high'))}"
            else:
                cell = f"— | {_md(undefined(alpha) if alpha else s.get('error', 'undefined'))}"
            who = f"{s.get('raters', '—')}" + (f": {_md(s['rater_names'])}" if s.get("rater_names") else "")
            out.append(f"| {_md(s.get('rubric', 'comparisons'))} · {_md(s['dimension'])} | {s.get('units', '—')} | "
                       f"{who} | {cell} |")
        out.append("")
    for b in r["leaderboards"]:
        out += [f"### Leaderboard: {_md(b['title'])}", ""]
        if b.get("error"):
            out += [f"_{_md(b['error'])}_", ""]
            continue
        out += ["| rank | model | rating | interval |", "| --- | --- | --- | --- |"]
        for row in sorted(b["data"]["leaderboard"], key=lambda x: x["rank"]):
            out.append(f"| {row['rank']} | {_md(row['model'])} | {fmt(row['rating'], 1)} | "
                       f"{ci(row.get('lower'), row.get('upper'), 1)} |")
        out.append("")
        out += _judge_assisted_md(b["data"].get("judge_assisted"))
    ab = r.get("abtest") or {}
    out += [f"### A/B test: {_md(ab['model_b'])} against {_md(ab['model_a'])}" if ab.get("model_a") else
            "### A/B test", ""]
    if ab.get("error"):
        out += [f"_{_md(ab['error'])}_", ""]
    else:
        for d in ab["data"]["dimensions"] + ab["data"]["preferences"]:
            out.append(f"- {_md(d.get('verdict') or d.get('error', ''))}")
        out.append("")
    for ja in r.get("judge_assisted") or []:
        out += [f"#### People and judge combined (PPI++): {_md(ja['model_b'])} against {_md(ja['model_a'])}, "
                f"judge {_md(', '.join(ja['judges']))}", ""]
        if ja.get("error"):
            out += [f"_{_md(ja['error'])}_", ""]
            continue
        for d in ja["data"]["dimensions"] + ja["data"]["preferences"]:
            what = d["dimension"] if d["kind"] == "dimension" else "B's win rate" + (
                f" · {d['dimension']}" if d.get("dimension") else "")
            if d.get("error"):
                out.append(f"- {_md(what or '')}: _{_md(d['error'])}_")
                continue
            out.append(f"- {_md(what)}: PPI++ {fmt(d['estimate'])} {ci(d['ci_low'], d['ci_high'])}; people only "
                       f"{fmt(d['human_estimate'])} {ci(d['human_low'], d['human_high'])} (n = {d['n']}); judge only "
                       f"{fmt(d['judge_estimate'])} (biased); {_md(d['worth'])}")
        out.append("")
    if r.get("speed"):
        out += ["### Speed and cost", "", "| model | responses | latency p50 | latency p95 | first token p50 | tokens/s | cost (USD) |",
                "| --- | --- | --- | --- | --- | --- | --- |"]
        for m in r["speed"]:
            out.append(f"| {_md(m['model'])} | {m['timed']} | {fmt(m['latency_p50'], 0)} ms | {fmt(m['latency_p95'], 0)} ms | "
                       f"{fmt(m['ttft_p50'], 0) + ' ms' if m['ttft_p50'] is not None else '—'} | "
                       f"{fmt(m['tokens_per_s'], 1)} | {fmt(m['cost_usd'], 4)} |")
        out.append("")
    out += _redteam_md(r)
    out += _curation_md(r.get("curation"))
    out += _slices_md(r.get("slices"))
    if r.get("profile"):
        from assay.report.profile import profile_markdown

        out += profile_markdown(r["profile"])
    rows = F.judge_rows(r.get("judges") or [])
    failed = [j for j in r.get("judges") or [] if not j.get("ok")]
    out += ["### Judge validation", ""]
    if not r.get("has_llm_judges"):
        out += ["No LLM judge has been run on this store: nothing to validate.", ""]
    elif not rows and not failed:
        out += ["No LLM judge shares work with human raters: nothing to compare.", ""]
    elif rows:
        out += ["| judge | task | judge vs humans | humans vs humans | flip rate | P(longer) |",
                "| --- | --- | --- | --- | --- | --- |"]
        for j in rows:
            out.append(f"| {_md(j['judge'])} | {_md(j['task'])} | {fmt(j['judge_vs_humans'])} ({j['statistic']}) | "
                       f"{fmt(j['humans_vs_humans'])} | {fmt(j['flip_rate'])} | {fmt(j['p_prefers_longer'])} |")
        out.append("")
    if r.get("has_llm_judges"):
        out += [f"- {_md(j['judge'])} could not be compared with the human raters: {_md(j['error'])}" for j in failed]
        out += [""] if failed else []
    return "\n".join(out)


def _ci(rate: Any, low: Any, high: Any) -> str:
    return f"{fmt(rate)} {ci(low, high)}"


def _slices_md(sections: Any) -> list[str]:
    """The slices sections in Markdown: each search's listed slices; nothing when none was asked."""
    out: list[str] = []
    for sec in sections or []:
        out += [f"### Slices: {_md(sec['spec'])}", ""]
        if sec.get("error"):
            out += [f"_{_md(sec['error'])}_", ""]
            continue
        out += [f"{_md(sec['outcome'])}: {sec['rows']} rows, {sec['tested']} slices tested, {sec['significant']} with "
                f"{sec['fdr'].upper()}-adjusted p < {sec['alpha']}, {sec['listed']} listed.", ""]
        if sec["slices"]:
            out += ["| slice | n | in | rest | difference | interval | adjusted p |", "| --- | --- | --- | --- | --- | --- | --- |"]
            out += [f"| {_md(x['slice'])} | {x['n']} | {fmt(x['value_in'])} | {fmt(x['value_out'])} | {fmt(x['diff'])} | "
                    f"{ci(x['ci_low'], x['ci_high'])} | {fmtp(x['p_adj'])} |" for x in sec["slices"]]
            out.append("")
    return out


def _curation_md(cur: Any) -> list[str]:
    """The curation runs in Markdown: per step removed / modified; nothing without runs."""
    if not cur:
        return []
    if isinstance(cur, dict):
        return ["### Curation", "", f"_{_md(cur['error'])}_", ""]
    out = ["### Curation", ""]
    for c in cur:
        out += [f"**{_md(c['source'])} → {_md(c['target'])}** ({c['run']}): kept {c['kept']} of {c['total']}", "",
                "| step | removed | modified |", "| --- | ---: | ---: |"]
        out += [f"| {_md(s['step'])} | {s['removed']} | {s['modified']} |" for s in c["steps"]]
        out.append("")
    return out


def _bias_md(bs: Any) -> list[str]:
    """The red-team section's bias part in Markdown: counterfactual gaps and BBQ scores; nothing without data."""
    if not bs:
        return []
    out = ["#### Bias", ""]
    if bs.get("error"):  # the section could not be computed: say why, as the HTML does
        return out + [f"_{_md(bs['error'])}_", ""]
    for m in bs.get("counterfactual") or []:
        if m.get("error"):
            out += [f"{_md(m['model'])}: _{_md(m['error'])}_", ""]
            continue
        out += [f"**{_md(m['model'])}**, counterfactual probes judged by {_md(m['rater_name'])} ({m['kind']}, "
                f"{_md(m['dimension'])}): gap = mean over templates of score(A) - score(B), "
                f"{100 * bs['confidence']:.0f}% intervals, p Holm-adjusted over every gap.", "",
                "| attribute | A | B | templates | gap A-B | interval | p (Holm) | |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        out += [f"| {_md(a['attribute'])} | {_md(g['group_a'])} | {_md(g['group_b'])} | {g['n']} | {fmt(g['estimate'])} | "
                f"{ci(g['low'], g['high'])} | {fmtp(g['p_adjusted'])} | {'**bias**' if g['flagged'] else ''} |"
                for a in m["attributes"] for g in a["gaps"]]
        out.append("")
    for b in bs.get("bbq") or []:
        if b.get("error"):
            out += [f"{_md(b['model'])} on BBQ: _{_md(b['error'])}_", ""]
            continue
        keys = ("accuracy_ambiguous", "accuracy_disambiguated", "bias_ambiguous", "bias_disambiguated")
        out += [f"**{_md(b['model'])}**, BBQ ({_md(b['dataset'])}, {b['read']} answers read; Parrish et al. 2022):", "",
                "| category | answers | unread | accuracy, ambiguous | accuracy, disambiguated | s_AMB | s_DIS |",
                "| --- | --- | --- | --- | --- | --- | --- |"]
        out += [f"| {_md(x['category'])} | {x['answers']} | {x['unparsed']} | " + " | ".join(
            f"{fmt(x[k])} {ci(*x['intervals'][k]) if x['intervals'][k] else ''}" for k in keys) + " |" for x in b["rows"]]
        out.append("")
    return out


def _md_inert(text: Any) -> str:
    """A model's answer inside a Markdown cell: also no emphasis or parentheses of a link."""
    return "".join("\\" + ch if ch in "()!*_" else ch for ch in _md(text))


def _injection_md(inj: dict[str, Any] | None) -> list[str]:
    """Prompt injection and leakage in Markdown: rates per model, technique or probe, and carrier."""
    if not inj:
        return []
    if inj.get("error"):
        return ["#### Prompt injection and leakage", "", f"_{_md(inj['error'])}_", ""]
    out: list[str] = []
    for f in inj["families"]:
        out += [f"#### {_md(f['title'][:1].upper() + f['title'][1:])}", ""]
        if f.get("error"):
            out += [f"_{_md(f['error'])}_", ""]
            continue
        out += [f"Judged by **{_md(f['name'])}** ({f['kind']}, {f['dimension']}); share of prompts with "
                f"{100 * inj['confidence']:.0f}% Wilson intervals."
                + (f" Benign task done in {f['task_done']['k']} of {f['task_done']['n']} answers."
                   if f.get("task_done", {}).get("n") else ""), ""]
        for key, rows in (("attack", f["by_attack"]), ("category", f["by_category"])):
            out += [f"| model | {key} | n | hits | rate |", "| --- | --- | ---: | ---: | --- |"]
            out += [f"| {_md(x['model'])} | {_md(x[key])} | {x['n']} | {x['successes']} | "
                    f"{_ci(x['asr'], x['low'], x['high'])} |" for x in rows]
            out.append("")
        if f.get("examples"):
            out += ["| model | attack | answer |", "| --- | --- | --- |"]
            out += [f"| {_md(e['model'])} | {_md(e['attack'])} | {_md_inert(e['text'])} |" for e in f["examples"]]
            out.append("")
    return out


def _top(top: list[dict[str, Any]]) -> str:
    return ", ".join(f"{t['id']} ({t['count']})" for t in top)


def _insecure_md(ins: dict[str, Any] | None) -> list[str]:
    """Insecure-code and unsafe-rendering rates per model in Markdown; nothing when no response was scanned."""
    if not ins:
        return []
    out = ["#### Insecure outputs", ""]
    if ins.get("error"):
        return out + [f"_{_md(ins['error'])}_", ""]
    out += [f"Share of responses with a finding, {100 * ins['confidence']:.0f}% Wilson intervals; insecure code is "
            "counted over responses that contain code (bandit on Python, njsscan on JavaScript), unsafe rendering "
            "over all responses.", "",
            "| detector | rater | model | scanned | n | hits | rate | top CWE ids / rules |",
            "| --- | --- | --- | ---: | ---: | ---: | --- | --- |"]
    for t in ins["tables"]:
        out += [f"| {t['detector']} | {_md(t['name'])} | {_md(x['model'])} | {x['scanned']} | {x['n']} | {x['hits']} | "
                f"{_ci(x['rate'], x['low'], x['high'])} | {_md(_top(x['top']))} |"
                for x in t["rows"]]
    return out + [""]


def _redteam_md(r: dict[str, Any]) -> list[str]:
    """The red-team and failure-library sections in Markdown; nothing when the store has no such data."""
    out: list[str] = []
    rt, rf, lib = r.get("redteam"), r.get("refusals"), r.get("library")
    if rt or rf or r.get("injection") or r.get("insecure") or r.get("bias"):  # as the HTML's red-team section
        out += ["### Red team", ""]
    if rt and rt.get("error"):
        out += [f"_{_md(rt['error'])}_", ""]
    elif rt:
        first = rt["tables"][0]
        out += [f"Attack success rate per behaviour with {100 * rt['confidence']:.0f}% Wilson intervals. Raters are "
                "ordered human, then LLM or imported verdicts, then assay's own detectors (then most responses "
                f"judged, then id); the first, **{_md(first['name'])}** ({first['kind']}, {_md(first['dimension'])}), "
                "decides the paired comparison.", ""]
        for t in rt["tables"]:
            out += [f"**{_md(t['name'])}** ({t['kind']}, {_md(t['dimension'])})", "",
                    "| model | attack | behaviours | successes | ASR | unjudged |", "| --- | --- | --- | --- | --- | --- |"]
            out += [f"| {_md(x['model'])} | {_md(x['attack'])} | {x['n']} | {x['successes']} | "
                    f"{_ci(x['asr'], x['low'], x['high'])} | {x['unjudged']} |" for x in t["rows"]]
            out.append("")
        c = rt.get("comparison")
        if c and c.get("error"):
            out += [f"Paired comparison: _{_md(c['error'])}_", ""]
        elif c:
            out += [f"Paired comparison ({c['test']}, {c['behaviors']} shared behaviours, "
                    f"{'attack' if c['on'] == 'model' else 'model'} {_md(c['within'])}): {_md(c['first'])} "
                    f"{fmt(c['first_asr'])} vs {_md(c['second'])} {fmt(c['second_asr'])}, difference "
                    f"{fmt(c['difference'])} ({c['only_first']} vs {c['only_second']} discordant), p {fmtp(c['p_value'])}", ""]
    if rf and rf.get("error"):
        out += [f"_{_md(rf['error'])}_", ""]
    elif rf:
        out += ["Over-refusal (safe prompts refused) and unsafe compliance, per rater:", "",
                "| rater | kind | model | over-refusal | unsafe compliance |", "| --- | --- | --- | --- | --- |"]
        for t in rf["raters"]:
            out += [f"| {_md(t['name'])} | {t['kind']} | {_md(x['model'])} | {x['over_refusal']['k']}/"
                    f"{x['over_refusal']['n']} = {_ci(*(x['over_refusal'][k] for k in ('rate', 'low', 'high')))} | "
                    f"{x['unsafe_compliance']['k']}/{x['unsafe_compliance']['n']} |" for x in t["rows"]]
        out.append("")
        if rf.get("agreement"):
            out += [f"Cohen's kappa with the reference human rater {_md(rf['reference'])}:", "",
                    "| rater | kind | responses | kappa (3 labels) | kappa (refused or not) |", "| --- | --- | --- | --- | --- |"]
            out += [f"| {_md(a['name'])} | {a['kind']} | {a['n']} | "
                    f"{_ci(a['kappa']['estimate'], a['kappa']['low'], a['kappa']['high'])} | "
                    f"{_ci(a['kappa_binary']['estimate'], a['kappa_binary']['low'], a['kappa_binary']['high'])} |"
                    for a in rf["agreement"]]
            out.append("")
    out += _injection_md(r.get("injection"))
    out += _insecure_md(r.get("insecure"))
    out += _bias_md(r.get("bias"))
    if isinstance(lib, dict):
        out += ["### Failure library", "", f"_{_md(lib['error'])}_", ""]
    elif lib:
        out += ["### Failure library", "", "| entry | title | status | severity | models | examples | last check | "
                "measured cause (assay why) |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for e in lib:
            ch = e["last_check"]
            last = f"{_md(ch['model'])}: {ch['failures']}/{ch['n']} = {_ci(ch['rate'], ch['low'], ch['high'])}" if ch else "—"
            pr = e.get("probes")
            why = f"{_md(pr['model'])}: {_md(pr['measured'])}" if pr else "—"
            out.append(f"| {_md(e['entry'])} v{e['version']} | {_md(e['title'])} | {e['status']} | {e['severity']} | "
                       f"{_md(', '.join(e['models']))} | {e['examples']} | {last} | {why} |")
        out.append("")
    return out
