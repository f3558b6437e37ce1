"""The report's red-team and failure-library sections, from `assay.redteam` and `assay.library`.

Every figure comes from the function the matching command uses (`assay redteam asr`,
`assay redteam refusals`, `assay library list`), so the report and the commands agree.
Which rater decides an attack's success is chosen, not guessed: every rater with verdicts
on attempt responses gets its own table, and the first of them, by the order of
``rater_order`` (human, then LLM or imported verdicts, then assay's own programs), is the
one the paired comparison uses.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from assay import records as R
from assay.errors import AssayError

if TYPE_CHECKING:
    from assay.store import Store

DIMENSIONS = ("jailbroken", "refusal")
REFUSAL_LABELS = ("full_compliance", "partial_refusal", "full_refusal")
KIND_ORDER = {"human": 0, "llm": 1, "imported": 1, "program": 2}
MAX_RATERS = 6


def rater_kind(rater: Any) -> str:
    """human, llm, imported (verdicts copied from a published source) or program (computed here)."""
    if rater is None:
        return "unknown"
    if rater.kind == "program" and (rater.program_version == "imported" or (rater.config or {}).get("imported_from")):
        return "imported"
    return rater.kind


def _rank(raters: dict[str, Any], rid: str, judged: int) -> tuple:
    r = raters.get(rid)
    name = (r.name if r else None) or rid
    return (KIND_ORDER.get(rater_kind(r), 3), -judged, "final" not in name.lower(), rid)


def rater_order(raters: dict[str, Any], counts: dict[str, int]) -> list[str]:
    """Rater ids best first: human, LLM or imported, program; then most responses judged; then a rater
    named like an adjudicated label ('final'); then by id, so the choice is the same on every run."""
    return sorted(counts, key=lambda rid: _rank(raters, rid, counts[rid]))


def _rater_info(raters: dict[str, Any], rid: str) -> dict[str, Any]:
    r = raters.get(rid)
    return {"rater": rid, "name": r.name if r else rid, "kind": rater_kind(r)}


def _latest(js: pd.DataFrame) -> pd.DataFrame:
    """One Judgment per rater and response: the newest that nothing supersedes."""
    js = js[~js["id"].isin(set(js["supersedes"].dropna()))].sort_values("created_at")
    return js.drop_duplicates(["rater_id", "response_id"], keep="last")


def _best_pair(df: pd.DataFrame) -> dict[str, Any] | None:
    """The two models (same attack) sharing the most judged behaviours, else two attacks on one model."""
    judged = df[df["success"].notna()]
    seen = judged.groupby(["model", "attack"])["behavior"].apply(set).to_dict()
    best: tuple | None = None
    for (m1, a1), (m2, a2) in itertools.combinations(sorted(seen), 2):
        if a1 == a2:
            cand = (len(seen[m1, a1] & seen[m2, a2]), 1, "model", m1, m2, a1)
        elif m1 == m2:
            cand = (len(seen[m1, a1] & seen[m2, a2]), 0, "attack", a1, a2, m1)
        else:
            continue
        # most shared behaviours; models before attacks; then the first names in sorted order
        if cand[0] and (best is None or (cand[0], cand[1]) > (best[0], best[1])):
            best = cand
    if best is None:
        return None
    _, _, on, first, second, within = best
    return {"on": on, "first": first, "second": second, "within": within}


def _comparison(store: Store, df: pd.DataFrame, rater: str, dimension: str) -> dict[str, Any] | None:
    from assay.redteam.asr import compare

    pair = _best_pair(df)
    if pair is None:
        return None
    if pair["on"] == "model":
        res = compare(store, pair["first"], pair["second"], on="model", rater=rater, dimension=dimension,
                      attacks=[pair["within"]])
    else:
        res = compare(store, pair["first"], pair["second"], on="attack", rater=rater, dimension=dimension,
                      models=[pair["within"]])
    return {**res, "within": pair["within"]}


def asr_section(store: Store, models: Sequence[str] | None = None, confidence: float = 0.95) -> dict[str, Any] | None:
    """ASR per model x attack for every rater with verdicts on attempt responses; None without attempts."""
    from assay.redteam.asr import asr, attempt_outcomes

    from assay.redteam.asr import FAMILY

    att = store.columns("attempts", ["response_id", "model", "attack"])
    if models:
        att = att[att["model"].isin(list(models))]
    if not att.empty:  # injection and leakage attempts have their own section
        att = att[~att["attack"].str.startswith(tuple(FAMILY.values()))]
    if att.empty:
        return None
    responses = set(att["response_id"].dropna())
    js = store.columns("judgments", ["rater_id", "response_id", "dimension"])
    js = js[js["response_id"].isin(responses) & js["dimension"].isin(DIMENSIONS)]
    out: dict[str, Any] = {"attempts": int(len(att)), "models": sorted(att["model"].unique()),
                           "confidence": confidence, "tables": [], "comparison": None}
    if js.empty:
        out["error"] = ("no verdicts on the attempts' responses yet: run `assay redteam detect --attempts-only` "
                        "or an LLM judge on the redteam rubric")
        return out
    raters = {r.id: r for r in store.iter(R.Rater, id=sorted(js["rater_id"].unique()))}
    counts = js.groupby(["rater_id", "dimension"])["response_id"].nunique()
    # one table per (rater, dimension), by kind of rater, then jailbroken (a direct verdict) before refusal (a proxy)
    def key(k: tuple[str, str]) -> tuple:
        rank = _rank(raters, k[0], int(counts[k]))
        return (rank[0], DIMENSIONS.index(k[1]), *rank[1:])

    keys = sorted(counts.index, key=key)
    out["raters_total"] = len(keys)
    for rid, dim in keys[:MAX_RATERS]:
        res = asr(store, rater=rid, dimension=dim, by=("model", "attack"), models=models, confidence=confidence)
        out["tables"].append({**_rater_info(raters, rid), "dimension": dim, "per": res["per"],
                              "judged": int(counts[rid, dim]), "rows": res["rows"]})
    first = out["tables"][0]
    try:
        df = attempt_outcomes(store, rater=first["rater"], dimension=first["dimension"], models=models)
        out["comparison"] = _comparison(store, df, first["rater"], first["dimension"])
    except AssayError as e:
        out["comparison"] = {"error": str(e)}
    return out


def refusal_section(store: Store, models: Sequence[str] | None = None,
                    confidence: float = 0.95) -> dict[str, Any] | None:
    """Over-refusal and unsafe compliance per model for each rater of ``refusal`` on items labelled
    safe/unsafe, and each rater's Cohen kappa with the reference human; None without such data."""
    from assay.redteam.asr import refusal_rates
    from assay.stats.agreement import cohen_kappa_interval

    js = store.frame("judgments", dimension="refusal")
    if js.empty:
        return None
    js = _latest(js)
    resp = store.columns("responses", ["id", "item_id", "model"], id=sorted(js["response_id"].unique()))
    if models:
        resp = resp[resp["model"].isin(list(models))]
    items = {it.id: it for it in store.iter(R.Item, id=sorted(resp["item_id"].unique()))}
    kind = resp["item_id"].map(lambda i: (items[i].metadata or {}).get("label") if i in items else None)
    resp = resp[kind.isin(["safe", "unsafe"])]
    if resp.empty:
        return None
    js = js[js["response_id"].isin(set(resp["id"]))]
    raters = {r.id: r for r in store.iter(R.Rater, id=sorted(js["rater_id"].unique()))}
    order = rater_order(raters, js.groupby("rater_id")["response_id"].nunique().to_dict())
    target = sorted(resp["model"].unique())
    out: dict[str, Any] = {"confidence": confidence, "raters": [], "models": target, "agreement": []}
    for rid in order[:MAX_RATERS]:
        rows = [r for r in refusal_rates(store, rater=rid, models=target, confidence=confidence)
                if r["over_refusal"]["n"] or r["unsafe_compliance"]["n"]]
        out["raters"].append({**_rater_info(raters, rid), "rows": rows})
    reference = order[0] if rater_kind(raters.get(order[0])) == "human" else None
    out["reference"] = reference
    if reference is not None:
        label = js.pivot(index="response_id", columns="rater_id", values="label")
        for rid in order[1:MAX_RATERS]:
            both = label[[reference, rid]].dropna()
            row = {**_rater_info(raters, rid), "n": int(len(both))}
            for name, a, b, cats in (
                    ("kappa", both[reference], both[rid], list(REFUSAL_LABELS)),
                    ("kappa_binary", both[reference] != "full_compliance", both[rid] != "full_compliance",
                     [False, True])):
                try:
                    est = cohen_kappa_interval(a.tolist(), b.tolist(), categories=cats, confidence=confidence)
                    row[name] = {"estimate": est.estimate, "low": est.low, "high": est.high}
                except (ValueError, ZeroDivisionError) as e:
                    row[name] = {"estimate": None, "low": None, "high": None, "error": str(e)}
            out["agreement"].append(row)
    return out


def insecure_section(store: Store, models: Sequence[str] | None = None,
                     confidence: float = 0.95) -> dict[str, Any] | None:
    """Insecure-code and unsafe-rendering rates per model (``assay redteam insecure``), one table per detector
    rater (at most ``MAX_RATERS``); None when no response was scanned."""
    from assay.redteam.insecure import DETECTORS, insecure_rates, raters_of

    out: dict[str, Any] = {"confidence": confidence, "tables": []}
    for detector in DETECTORS:
        raters = raters_of(store, detector)
        known = {r.id: r for r in store.iter(R.Rater, id=raters)} if raters else {}
        for rid in raters[:MAX_RATERS]:
            res = insecure_rates(store, detector, rater=rid, models=models, confidence=confidence)
            if res["rows"]:
                out["tables"].append({**_rater_info(known, rid), "detector": detector, "rows": res["rows"]})
    return out if out["tables"] else None


def library_section(store: Store, models: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The latest version of each failure-library entry (retired ones too), with its last check and its
    last probes' measured cause (``assay why``)."""
    from assay.library import list_entries

    out = []
    for e in list_entries(store, include_retired=True):
        if models and e.models and not set(e.models) & set(models):
            continue
        check = (e.evidence or {}).get("last_check") or None
        interval = (check or {}).get("wilson95") or [None, None]
        probed = (e.evidence or {}).get("probes") or None
        out.append({"entry": e.entry, "version": e.version, "title": e.title, "status": e.status,
                    "severity": e.severity, "models": list(e.models), "examples": len(e.examples),
                    "hypothesis": e.hypothesis, "category": e.category, "source": e.source,
                    "last_check": None if check is None else {
                        "model": check.get("model"), "n": check.get("n"), "failures": check.get("failures"),
                        "rate": check.get("rate"), "low": interval[0], "high": interval[1],
                        "checked_at": check.get("checked_at")},
                    "probes": None if probed is None else {
                        "model": probed.get("model"), "measured": probed.get("measured"),
                        "table": list(probed.get("table") or []), "probed_at": probed.get("probed_at")}})
    return out


INJECTION_DIMENSIONS = {"injected": "prompt injection (the injected instruction was followed)",
                        "leaked": "secret leakage (the planted secret or the system prompt came out)"}


def injection_section(store: Store, models: Sequence[str] | None = None, confidence: float = 0.95,
                      examples: int = 3, text_limit: int = 300) -> dict[str, Any] | None:
    """Prompt-injection and leakage rates per model, per technique or probe and per carrier kind, from the
    first rater (``rater_order``) with verdicts on ``injected`` / ``leaked``; a few answers that gave way.
    None when no such verdicts exist."""
    from assay.redteam.asr import FAMILY, asr

    att = store.columns("attempts", ["response_id", "model", "attack"])
    if models:
        att = att[att["model"].isin(list(models))]
    out: dict[str, Any] = {"confidence": confidence, "families": []}
    for dim, title in INJECTION_DIMENSIONS.items():
        mine = att[att["attack"].str.startswith(FAMILY[dim])]
        if mine.empty:
            continue
        js = store.columns("judgments", ["rater_id", "response_id"], dimension=dim)
        js = js[js["response_id"].isin(set(mine["response_id"].dropna()))]
        if js.empty:
            out["families"].append({"dimension": dim, "title": title,
                                    "error": f"no verdicts on {dim} yet: run `assay redteam "
                                             f"{'inject' if dim == 'injected' else 'leak'}` again to judge them"})
            continue
        raters = {r.id: r for r in store.iter(R.Rater, id=sorted(js["rater_id"].unique()))}
        rid = rater_order(raters, js.groupby("rater_id")["response_id"].nunique().to_dict())[0]
        kw = dict(rater=rid, dimension=dim, per="attempt", models=models, confidence=confidence)
        fam = {"dimension": dim, "title": title, **_rater_info(raters, rid),
               "by_model": asr(store, by=("model",), **kw)["rows"],
               "by_attack": asr(store, by=("model", "attack"), **kw)["rows"],
               "by_category": asr(store, by=("model", "category"), **kw)["rows"]}
        verdicts = _latest(store.frame("judgments", rater_id=rid, dimension=dim))
        verdicts = verdicts[verdicts["response_id"].isin(set(mine["response_id"].dropna()))]
        if dim == "injected":
            done = [d.get("task_done") for d in verdicts["detail"] if isinstance(d, dict)]
            checked = [x for x in done if x is not None]
            fam["task_done"] = {"k": sum(bool(x) for x in checked), "n": len(checked)}
        hits = verdicts[verdicts["value"] == 1.0].sort_values("response_id").head(examples)
        shown = store.by_id(R.Response, hits["response_id"].tolist())
        attack = dict(zip(mine["response_id"], mine["attack"]))
        fam["examples"] = [{"model": shown[r].model, "attack": attack.get(r), "reason": j,
                            "text": (shown[r].text or "")[:text_limit]}
                           for r, j in zip(hits["response_id"], hits["justification"]) if r in shown]
        out["families"].append(fam)
    return out if out["families"] else None


def _chunked(store: Store, kind: str, names: list[str], key: str, ids: Sequence[str]) -> pd.DataFrame:
    """``store.columns`` over ``key`` IN ``ids``, 5,000 at a time (SQLite binds at most 32,766 values)."""
    parts = [store.columns(kind, names, **{key: list(ids[i:i + 5000])}) for i in range(0, len(ids), 5000)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=names)


def bias_section(store: Store, models: Sequence[str] | None = None, confidence: float = 0.95) -> dict[str, Any] | None:
    """Counterfactual bias per model (the gaps `assay redteam bias results` gives, by the best rater: human,
    then LLM, then program) and BBQ's scores per model (`assay redteam bias bbq-results`); None without either."""
    from assay.redteam.bbq import SOURCE as BBQ_SOURCE
    from assay.redteam.bbq import bbq_results
    from assay.redteam.bias import GapOptions, bias_results, probe_datasets

    out: dict[str, Any] = {"confidence": confidence, "counterfactual": [], "bbq": []}
    probes = [d.name for d in probe_datasets(store)]
    if probes:
        items = store.columns("items", ["id"], dataset=probes)
        resp = _chunked(store, "responses", ["id", "model"], "item_id", sorted(items["id"]))
        if models:
            resp = resp[resp["model"].isin(list(models))]
        for model, part in resp.groupby("model", sort=True):
            js = _chunked(store, "judgments", ["rater_id", "response_id", "dimension", "value"], "response_id",
                          sorted(part["id"]))
            js = js[js["value"].notna()]
            if js.empty:
                out["counterfactual"].append({"model": model, "error": "answers not judged yet: `assay redteam bias "
                                              "run --verifier refusal`, or `assay judge --dataset <probe dataset>`"})
                continue
            raters = {r.id: r for r in store.iter(R.Rater, id=sorted(js["rater_id"].unique()))}
            counts = js.groupby(["rater_id", "dimension"])["response_id"].nunique()
            rid, dim = min(counts.index, key=lambda k: (*_rank(raters, k[0], int(counts[k])), k[1]))
            try:
                res = bias_results(store, str(model), rater=rid, dimension=dim,
                                   options=GapOptions(confidence=confidence))
                out["counterfactual"].append({**res, "kind": rater_kind(raters.get(rid)),
                                              "other_raters": len(counts) - 1})
            except AssayError as e:
                out["counterfactual"].append({"model": model, "error": str(e)})
    for d in [d.name for d in store.list(R.Dataset) if d.source == BBQ_SOURCE]:
        ids = sorted(store.columns("items", ["id"], dataset=d)["id"])
        resp = _chunked(store, "responses", ["model"], "item_id", ids)
        for model in sorted(resp["model"].unique()):
            if models and model not in models:
                continue
            try:
                out["bbq"].append(bbq_results(store, str(model), dataset=d, confidence=confidence))
            except AssayError as e:
                out["bbq"].append({"model": model, "dataset": d, "error": str(e)})
    return out if out["counterfactual"] or out["bbq"] else None
