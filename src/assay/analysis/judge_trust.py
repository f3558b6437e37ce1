"""How far a judge can be trusted: its agreement with human raters beside the humans' own, and its biases.

``judge_report(store, judge)`` compares one rater (usually an LLM judge) with the human
raters who judged the same pairs (Comparisons) or the same responses on the same rubric
dimensions (Judgments), and reports:

- the humans' agreement with each other: Cohen's kappa for each pair of humans,
  percent agreement, Krippendorff's alpha; for each human, the mean kappa with the
  other humans (the bar a judge must reach to replace one of them);
- the judge's agreement with each human and with the human consensus (percent
  agreement, Cohen's kappa, for scores Spearman's rho), Krippendorff's alpha with the
  judge added to the humans, and the confusion matrix judge x consensus. Judge-vs-human
  agreement has one definition, ``assay.analysis.agreement.judge_vs_humans``, the one
  ``assay agreement`` reports too (its text is in the report's ``definition``; the keys
  ``judge_vs_majority`` and ``majority_labels`` name that consensus);
- position flips (pairs judged in both orders whose verdicts disagree);
- length bias: P(the judge prefers the longer response) beside the humans' majority on
  the same pairs; for scores, the slope of score on length (per 100 words);
- self-preference when the judge's model and a judged model share a family
  (``records.Model.family``).

Every coefficient comes from ``assay.stats.agreement``; one that is undefined on the
data (a single category, no overlap) is reported as None with the reason.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from itertools import combinations
from typing import TYPE_CHECKING, Any

from assay import records as R
from assay.errors import BadInput, NotFound

if TYPE_CHECKING:
    from assay.store import Store

PAIR_LABELS = ("first", "second", "tie", "both_bad")


def _try(fn: Callable[[], float], notes: list[str], what: str) -> float | None:
    try:
        v = float(fn())
    except ValueError as e:
        notes.append(f"{what}: {e}")
        return None
    if v != v:  # NaN
        notes.append(f"{what}: undefined")
        return None
    return v


def resolve_rater(store: Store, ref: str) -> R.Rater:
    """A rater by id, or by name or judge model when that names exactly one."""
    r = store.find(R.Rater, ref)
    if r is not None:
        return r
    matches = [r for r in store.iter(R.Rater) if ref in (r.name, r.model)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFound(f"no rater {ref!r} (give a rater id, name or judge model; `assay ls raters` lists them)")
    raise BadInput(f"{len(matches)} raters match {ref!r}: give one of the ids {[m.id for m in matches]}", param="judge")


def _scope_items(store: Store, item_ids: set[str]) -> list[str]:
    """Every item of the datasets the judge's items belong to: the humans' agreement is measured on all of them."""
    ids = sorted(item_ids)
    datasets: set[str] = set()
    for i in range(0, len(ids), 500):
        datasets |= {it.dataset for it in store.iter(R.Item, id=ids[i : i + 500])}
    return sorted({r["id"] for d in sorted(datasets) for r in store.rows("items", dataset=d)} | item_ids)


def _words(text: str) -> int:
    return len(text.split())


def _stats(res: dict[str, Any], who: str, notes: list[str]) -> dict[str, Any]:
    """A :func:`~assay.analysis.agreement.rater_agreement` result as the report shows it (undefined figures noted)."""
    notes.extend(f"{k} {who}: {why}" for k, why in res["errors"].items())
    return {k: v for k, v in res.items() if k != "errors"}


def _agreement_block(labels: dict[str, dict[Any, Any]], judge_id: str, humans: list[str], cats: Sequence[Any] | None,
                     notes: list[str], *, scale: str) -> dict[str, Any]:
    """The humans' agreement with each other, and the judge's with them (``analysis.agreement.judge_vs_humans``)."""
    from assay.analysis.agreement import alpha_level, judge_vs_humans, rater_agreement
    from assay.stats.agreement import krippendorff_alpha, percent_agreement

    level = alpha_level(scale)
    kw = {} if level == "interval" else {"categories": cats}
    units = sorted({u for h in humans for u in labels[h]}, key=str)
    matrix = [[labels[h].get(u) for u in units] for h in humans]
    out: dict[str, Any] = {"humans": humans, "units": len(units)}
    hh = {f"{a} ~ {b}": _stats(rater_agreement(labels[a], labels[b], scale=scale, categories=cats), f"{a} vs {b}", notes)
          for a, b in combinations(humans, 2)}
    out["human_pairs"] = hh
    if len(humans) >= 2:
        out["human_percent"] = _try(lambda: percent_agreement(matrix, **kw), notes, "human percent agreement")
        out["human_alpha"] = _try(lambda: krippendorff_alpha(matrix, level=level, **kw), notes, "human alpha")
        loo = {}
        for h in humans:
            ks = [v["kappa"] for k, v in hh.items() if h in k.split(" ~ ") and v["kappa"] is not None]
            loo[h] = statistics.fmean(ks) if ks else None
        out["human_mean_kappa_with_other_humans"] = loo
    res = judge_vs_humans(labels, judge_id, humans, scale=scale, categories=cats)
    out["definition"] = res["definition"]
    out["judge_vs_humans"] = {h: _stats(v, f"judge vs {h}", notes) for h, v in res["vs_each"].items()}
    out["judge_mean_kappa_with_humans"] = res["mean_kappa"]
    covered = sum(u in labels[judge_id] for u in units)
    out["judge_coverage"] = {"units": covered, "of": len(units), "share": covered / len(units) if units else None}
    with_judge = [*matrix, [labels[judge_id].get(u) for u in units]]
    out["alpha_with_judge"] = _try(lambda: krippendorff_alpha(with_judge, level=level, **kw), notes,
                                   "alpha with the judge")
    agreed = res["consensus"]
    out["majority_labels"] = dict(Counter(str(v) for v in agreed.values()))
    out["no_majority"] = res["no_consensus"]
    out["judge_vs_majority"] = _stats(res["vs_consensus"], "judge vs the human consensus", notes)
    if level == "interval":
        return out  # no confusion matrix on a continuous scale
    shown = [c for c in cats or [] if any(c == v for d in (agreed, labels[judge_id]) for v in d.values())]
    conf = {str(a): {str(b): 0 for b in shown} for a in shown}
    for u, v in agreed.items():
        if u in labels[judge_id]:
            conf[str(labels[judge_id][u])][str(v)] += 1
    out["confusion"] = {"rows": "judge", "columns": "human consensus", "counts": conf}
    return out


# ---- pairwise ---------------------------------------------------------------------------


def _latest(records: Sequence[Any]) -> list[Any]:
    superseded = {r.supersedes for r in records if r.supersedes}
    return [r for r in records if r.id not in superseded]


def pairwise_report(store: Store, judge: R.Rater, humans: Sequence[str] | None = None, *,
                    rubric: str | None = None, dimension: str | None = None) -> dict[str, Any] | None:
    from assay.analysis.frames import comparisons_frame

    notes: list[str] = []
    judge_cs = [c for c in _latest(list(store.iter(R.Comparison, rater_id=judge.id, rubric=rubric, dimension=dimension)))
                if len(c.response_ids) == 2]
    if not judge_cs:
        return None
    human_ids = list(humans) if humans else [r.id for r in store.iter(R.Rater) if r.kind == "human"]
    scope = set(_scope_items(store, {c.item_id for c in judge_cs}))
    # the same labels `assay agreement` reads: latest verdict per rater and pair, one first/second frame
    df = comparisons_frame(store, raters=[judge.id, *human_ids], rubric=rubric, dimension=dimension)
    df = df[df["item_id"].isin(scope)]
    labels: dict[str, dict[Any, Any]] = defaultdict(dict)
    for rater, g in df.groupby("rater"):
        labels[rater] = dict(zip(g["unit"], g["label"]))
    frames = dict(zip(df["unit"], zip(df["first"], df["second"])))
    human_ids = [h for h in human_ids if labels.get(h)]
    cats = list(PAIR_LABELS)
    out: dict[str, Any] = {"kind": "pairwise", "judge": judge.id, "pairs": len(judge_cs)}
    majority: dict[Any, Any] = {}
    if human_ids:
        out["agreement"] = _agreement_block(labels, judge.id, human_ids, cats, notes, scale="nominal")
        from assay.analysis.agreement import consensus

        majority = consensus(labels, human_ids, "nominal")
    else:
        notes.append("no human comparisons on the judge's pairs: agreement not computed")
    out["judge_labels"] = dict(Counter(labels[judge.id].values()))
    # position flips
    both = [c for c in judge_cs if len(c.detail.get("orders") or []) == 2]
    flips = sum(1 for c in both if c.detail.get("consistent") is False)
    out["position"] = {"pairs_judged_both_orders": len(both), "flips": flips,
                       "flip_rate": flips / len(both) if both else None}
    if not both:
        notes.append("no pair was judged in both orders: position-flip rate not available")
    else:
        decisive = [o["verdict"] for c in judge_cs for o in c.detail.get("orders") or [] if o.get("verdict") in
                    ("A>>B", "A>B", "B>A", "B>>A")]
        out["position"]["p_shown_first_preferred"] = (
            sum(v.startswith("A>") for v in decisive) / len(decisive) if decisive else None)
    # length bias and self-preference need the responses
    ids = sorted({i for pair in frames.values() for i in pair})
    resp = {}
    for i in range(0, len(ids), 500):
        resp.update({r.id: r for r in store.iter(R.Response, id=ids[i : i + 500])})
    out["length_bias"] = _length_bias(labels, judge.id, majority, frames, resp)
    out["self_preference"] = _self_preference(store, judge, labels, majority, frames, resp, notes)
    out["notes"] = notes
    return out


def _preferred(label: str, frame: tuple[str, str]) -> str | None:
    return frame[0] if label == "first" else frame[1] if label == "second" else None


def _length_bias(labels: dict, judge_id: str, majority: dict, frames: dict, resp: dict) -> dict[str, Any]:
    def share(src: dict) -> tuple[float | None, int]:
        longer = n = 0
        for u, lab in src.items():
            win = _preferred(lab, frames[u]) if lab else None
            if win is None:
                continue
            a, b = frames[u]
            la, lb = _words(resp[a].text), _words(resp[b].text)
            if la == lb:
                continue
            n += 1
            longer += (la > lb) == (win == a)
        return (longer / n if n else None), n

    pj, nj = share(labels[judge_id])
    ph, nh = share({u: v for u, v in majority.items() if u in labels[judge_id]})
    return {"p_judge_prefers_longer": pj, "n_judge": nj, "p_humans_prefer_longer": ph, "n_humans": nh}


def _families(store: Store, names: set[str]) -> dict[str, str | None]:
    out = {}
    for m in names:
        rec = store.find(R.Model, m)
        out[m] = rec.family if rec is not None else None
    return out


def _self_preference(store: Store, judge: R.Rater, labels: dict, majority: dict, frames: dict, resp: dict,
                     notes: list[str]) -> dict[str, Any] | None:
    if judge.model is None:
        notes.append("the judge has no model: self-preference not computed")
        return None
    fam = _families(store, {judge.model} | {r.model for r in resp.values()})
    own = fam.get(judge.model)
    if own is None:
        notes.append(f"the judge's model {judge.model} has no family: self-preference not computed")
        return None
    judge_own = human_own = n = nh = 0
    for u, lab in labels[judge.id].items():
        a, b = frames[u]
        mine = [fam.get(resp[x].model) == own for x in (a, b)]
        if sum(mine) != 1:
            continue
        own_id = a if mine[0] else b
        win = _preferred(lab, frames[u])
        if win is not None:
            n += 1
            judge_own += win == own_id
        hw = _preferred(majority.get(u), frames[u]) if majority.get(u) else None
        if hw is not None:
            nh += 1
            human_own += hw == own_id
    if not n:
        notes.append(f"no pair sets a {own}-family response against another family: self-preference not computed")
        return {"family": own, "pairs": 0}
    return {"family": own, "pairs": n, "p_judge_prefers_own_family": judge_own / n,
            "p_humans_prefer_own_family": human_own / nh if nh else None}


# ---- rubric scores ---------------------------------------------------------------------------


def rubric_report(store: Store, judge: R.Rater, humans: Sequence[str] | None = None, *,
                  rubric: str | None = None, dimension: str | None = None) -> list[dict[str, Any]]:
    from assay.analysis.frames import judgments_frame
    from assay.analysis.options import Selection
    from assay.rubrics import get_rubric

    judge_js = _latest(list(store.iter(R.Judgment, rater_id=judge.id, rubric=rubric, dimension=dimension)))
    by_dim: dict[tuple[str, str], list[R.Judgment]] = defaultdict(list)
    for j in judge_js:
        by_dim[(j.rubric, j.dimension)].append(j)
    human_ids = list(humans) if humans else [r.id for r in store.iter(R.Rater) if r.kind == "human"]
    out = []
    for (rub_id, dim_name), js in sorted(by_dim.items()):
        notes: list[str] = []
        try:
            scale = get_rubric(store, rub_id).dimension(dim_name).scale
        except (NotFound, KeyError):
            scale = None
        resp_ids = sorted({j.response_id for j in js})
        numeric = scale is None or scale.kind != "categorical"
        kind = "continuous" if scale is None else scale.kind
        # the same labels `assay agreement` reads: each rater's latest judgment per response
        jf = judgments_frame(store, select=Selection(rubric=rub_id, dimensions=[dim_name],
                                                     raters=[judge.id, *human_ids]))
        jf = jf[jf["unit"].isin(set(resp_ids))]
        labels: dict[str, dict[Any, Any]] = defaultdict(dict)
        for rater, g in jf.groupby("rater"):
            labels[rater] = {u: v for u, v in zip(g["unit"], g["value" if numeric else "label"])
                             if v is not None and v == v}
        present = [h for h in human_ids if labels.get(h)]
        cats: list[Any] | None = scale.points() if scale is not None else None  # None: continuous
        rep: dict[str, Any] = {"kind": "rubric", "judge": judge.id, "rubric": rub_id, "dimension": dim_name,
                               "responses": len(resp_ids)}
        if present:
            rep["agreement"] = _agreement_block(labels, judge.id, present, cats, notes, scale=kind)
            if numeric:
                rep["agreement"]["judge_vs_human_mean"] = _vs_mean(labels, judge.id, present, notes)
                weighted = {j.response_id: j.detail["weighted"] for j in js if j.detail.get("weighted") is not None}
                if weighted:
                    rep["agreement"]["weighted_vs_human_mean"] = _vs_mean({**labels, "__w__": weighted}, "__w__", present, notes)
        else:
            notes.append(f"no human judgments on {rub_id} {dim_name} for the judge's responses")
        if numeric:
            resp = {}
            for i in range(0, len(resp_ids), 500):
                resp.update({r.id: r for r in store.iter(R.Response, id=resp_ids[i : i + 500])})
            rep["length_bias"] = _score_length(labels, judge.id, present, resp, notes)
            rep["self_preference"] = _score_self_preference(store, judge, labels, present, resp, notes)
        rep["notes"] = notes
        out.append(rep)
    return out


def _human_mean(labels: dict, humans: Sequence[str]) -> dict[Any, float]:
    sums: dict[Any, list[float]] = defaultdict(list)
    for h in humans:
        for u, v in labels[h].items():
            sums[u].append(v)
    return {u: statistics.fmean(v) for u, v in sums.items()}


def _vs_mean(labels: dict, judge_id: str, humans: Sequence[str], notes: list[str]) -> dict[str, Any]:
    from scipy.stats import spearmanr

    mean = _human_mean(labels, humans)
    units = [u for u in labels[judge_id] if u in mean]
    x = [labels[judge_id][u] for u in units]
    y = [mean[u] for u in units]
    rho = _try(lambda: spearmanr(x, y).statistic, notes, "spearman with the human mean") if len(units) > 2 else None
    return {"n": len(units), "spearman": rho}


def _slope(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 2 or len(set(xs)) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def _score_length(labels: dict, judge_id: str, humans: Sequence[str], resp: dict, notes: list[str]) -> dict[str, Any]:
    """Least-squares slope of score on length (per 100 words), for the judge and the human mean."""
    units = [u for u in labels[judge_id] if u in resp]
    lengths = [_words(resp[u].text) / 100 for u in units]
    out = {"n": len(units), "judge_slope_per_100_words": _slope(lengths, [labels[judge_id][u] for u in units])}
    mean = _human_mean(labels, humans) if humans else {}
    hu = [u for u in units if u in mean]
    out["human_slope_per_100_words"] = _slope([_words(resp[u].text) / 100 for u in hu], [mean[u] for u in hu]) if hu else None
    if out["judge_slope_per_100_words"] is None:
        notes.append("all responses have one length: no slope of score on length")
    return out


def _score_self_preference(store: Store, judge: R.Rater, labels: dict, humans: Sequence[str], resp: dict,
                           notes: list[str]) -> dict[str, Any] | None:
    """Mean of (judge score - human mean) on the judge family's responses and on the others."""
    if judge.model is None:
        return None
    fam = _families(store, {judge.model} | {r.model for r in resp.values()})
    own = fam.get(judge.model)
    if own is None:
        notes.append(f"the judge's model {judge.model} has no family: self-preference not computed")
        return None
    mean = _human_mean(labels, humans) if humans else {}
    gaps: dict[bool, list[float]] = {True: [], False: []}
    raw: dict[bool, list[float]] = {True: [], False: []}
    for u, v in labels[judge.id].items():
        mine = fam.get(resp[u].model) == own
        raw[mine].append(v)
        if u in mean:
            gaps[mine].append(v - mean[u])
    g_own = statistics.fmean(gaps[True]) if gaps[True] else None
    g_other = statistics.fmean(gaps[False]) if gaps[False] else None
    return {
        "family": own, "own_family_responses": len(raw[True]), "other_responses": len(raw[False]),
        "judge_mean_own": statistics.fmean(raw[True]) if raw[True] else None,
        "judge_mean_other": statistics.fmean(raw[False]) if raw[False] else None,
        "judge_minus_humans_own": g_own, "judge_minus_humans_other": g_other,
        "self_preference": g_own - g_other if g_own is not None and g_other is not None else None,
    }


def judge_report(store: Store, judge: str, *, humans: Sequence[str] | None = None, rubric: str | None = None,
                 dimension: str | None = None) -> dict[str, Any]:
    """The judge's agreement with humans and its biases, for its comparisons and for its judgments."""
    rater = resolve_rater(store, judge)
    for h in humans or []:
        if store.find(R.Rater, h) is None:
            raise NotFound(f"no rater {h!r}", )
    pair = pairwise_report(store, rater, humans, rubric=rubric, dimension=dimension)
    scores = rubric_report(store, rater, humans, rubric=rubric, dimension=dimension)
    if pair is None and not scores:
        raise NotFound(f"rater {rater.id} has no comparisons or judgments{' on ' + rubric if rubric else ''}")
    return {"judge": rater.model_dump(mode="json"), "pairwise": pair, "rubric": scores}
