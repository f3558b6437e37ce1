"""What a lead sees of a campaign: progress, rater quality, disagreements, and the export."""

from __future__ import annotations

import json
import math
import warnings
from collections import defaultdict
from typing import Any

import pandas as pd

from assay import records as R
from assay.annotate.campaigns import campaign_dimensions, unit_id
from assay.store import Store
from assay.store import rating as S


_RATE_COLS = ["response_id", "dimension", "rater_id", "value", "label", "assignment_id", "time_spent_s",
              "justification", "created_at"]
_COMPARE_COLS = ["response_ids", "rater_id", "outcome", "winner", "dimension", "assignment_id", "time_spent_s",
                 "justification", "created_at"]
FRAME_COLUMNS = ["unit", "rater", "value", "dimension", "assignment", "time_spent_s", "justification", "response_id",
                 "created_at"]


def ratings_frame(store: Store, camp: R.Campaign) -> pd.DataFrame:
    """Long ratings of a campaign: unit, rater, value, time_spent_s, dimension, assignment, justification.

    Rating: one row per judgment, unit = response|dimension, value = level (or label).
    Compare / rank: one row per comparison, unit = the compared set, value = the canonical
    position of the winner ("#1", "#2", ...) or "tie" / "both_bad". Read as columns (no record
    object per row), in no particular order; ``created_at`` is the stored text on SQLite.
    """
    if camp.kind == "rate":
        t = store.arrow(R.Judgment, _RATE_COLS, campaign_id=camp.id).to_pandas()
        if t.empty:
            return pd.DataFrame(columns=FRAME_COLUMNS)
        value = t["value"] if t["value"].notna().all() else t["value"].astype(object).where(t["value"].notna(),
                                                                                          t["label"])
        unit = t["response_id"].astype(str) + "|" + t["dimension"].astype(str)
        return pd.DataFrame({"unit": unit, "rater": t["rater_id"], "value": value, "dimension": t["dimension"],
                             "assignment": t["assignment_id"], "time_spent_s": t["time_spent_s"],
                             "justification": t["justification"], "response_id": t["response_id"],
                             "created_at": t["created_at"]}, columns=FRAME_COLUMNS)
    t = store.arrow(R.Comparison, _COMPARE_COLS, campaign_id=camp.id).to_pandas()
    if t.empty:
        return pd.DataFrame(columns=FRAME_COLUMNS)
    units, values = [], []
    for ids_text, outcome, winner in zip(t["response_ids"], t["outcome"], t["winner"]):
        ids = sorted(json.loads(ids_text) if isinstance(ids_text, str) else ids_text)
        units.append(unit_id(ids))
        values.append(outcome if outcome != "win" else f"#{ids.index(str(winner)) + 1}")
    return pd.DataFrame({"unit": units, "rater": t["rater_id"], "value": pd.Series(values, dtype=object),
                         "dimension": t["dimension"].fillna("overall").replace("", "overall"),
                         "assignment": t["assignment_id"], "time_spent_s": t["time_spent_s"],
                         "justification": t["justification"], "response_id": None, "created_at": t["created_at"]},
                        columns=FRAME_COLUMNS)


def _gold_series(store: Store, camp: R.Campaign) -> pd.Series:
    out = {}
    for g in S.gold_answers(store, camp.id):
        if camp.kind == "rate":
            out[f"{g['unit_id']}|{g['dimension']}"] = g["label"] if g["value"] is None else g["value"]
        else:
            ids = sorted(next(u["response_ids"] for u in S.units(store, camp.id) if u["unit_id"] == g["unit_id"]))
            out[g["unit_id"]] = g["outcome"] if g["outcome"] != "win" else f"#{ids.index(g['winner']) + 1}"
    return pd.Series(out, dtype=object)


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*a, **kw)
        except ValueError:
            return None


def rater_report(store: Store, camp: R.Campaign, *, df: pd.DataFrame | None = None,
                 progress: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per rater: done, pending, skipped, agreement with the leave-one-out consensus and with gold,
    severity, median time.

    Uses :mod:`assay.stats.raters`; a figure that is undefined (nobody else rated the same
    units, no gold) is None.
    """
    from assay.stats import raters as SR

    prog = (progress or S.campaign_progress(store, camp.id))["raters"]
    df = ratings_frame(store, camp) if df is None else df
    names = sorted(set(prog) | set(df["rater"]))
    out = {r: {"rater": r, **{k: prog.get(r, {}).get(k, 0) for k in ("done", "pending", "skipped", "gold_done")},
               "n": 0, "consensus_accuracy": None, "consensus_kappa": None, "gold_n": 0, "gold_accuracy": None,
               "severity": None, "median_time_s": None} for r in names}
    if df.empty:
        return list(out.values())
    cons = _quiet(SR.rater_vs_consensus, df)
    if cons is not None:
        for r, row in cons.iterrows():
            out[r].update(n=int(row["n"]), consensus_accuracy=_num(row["accuracy"]), consensus_kappa=_num(row["kappa"]))
    gold = _gold_series(store, camp)
    if len(gold):
        g = _quiet(SR.rater_vs_gold, df, gold)
        if g is not None:
            for r, row in g.iterrows():
                out[r].update(gold_n=int(row["n"]), gold_accuracy=_num(row["accuracy"]))
    if camp.kind == "rate" and pd.api.types.is_numeric_dtype(df["value"].dropna().infer_objects()):
        sev = _quiet(SR.severity, df.assign(value=pd.to_numeric(df["value"])))
        if sev is not None:
            for r, row in sev.iterrows():
                out[r]["severity"] = _num(row.get("mean_offset"))
    per_asg = df.dropna(subset=["time_spent_s"]).groupby(["rater", "assignment"])["time_spent_s"].first()
    for r, t in per_asg.groupby(level=0).median().items():
        out[r]["median_time_s"] = float(t)
    return list(out.values())


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def agreement_summary(store: Store, camp: R.Campaign, *, df: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """Per dimension: units rated by two or more raters and Krippendorff's alpha (ordinal for levels)."""
    from assay.stats.agreement import krippendorff_alpha
    from assay.stats.raters import to_matrix

    df = ratings_frame(store, camp) if df is None else df
    out = []
    for dim, g in df.groupby("dimension", sort=True):
        multi = g.groupby("unit")["rater"].transform("count") >= 2
        g = g[multi]
        row: dict[str, Any] = {"dimension": dim, "units": int(g["unit"].nunique()), "raters": int(g["rater"].nunique()),
                               "alpha": None}
        if len(g):
            numeric = pd.api.types.is_numeric_dtype(g["value"].infer_objects())
            m = to_matrix(g.assign(value=pd.to_numeric(g["value"]) if numeric else g["value"]))
            data = m.to_numpy(dtype=float) if numeric else m.to_numpy(dtype=object)
            row["alpha"] = _num(_quiet(krippendorff_alpha, data, level="ordinal" if numeric else "nominal"))
        out.append(row)
    return out


def disagreements(store: Store, camp: R.Campaign, *, limit: int = 50,
                  df: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """Units rated by two or more raters, most disagreement first, with each rater's answer and reason.

    The spread of a unit is the range of its values when all are numbers, else 1 - the modal
    label's share (``edges._spread``); computed for all units at once, answers only for the top ones.
    """
    df = ratings_frame(store, camp) if df is None else df
    if df.empty:
        return []
    multi = df.groupby("unit", sort=False)["rater"].transform("nunique") >= 2
    df = df[multi]
    if df.empty:
        return []
    units = df["unit"]
    if pd.api.types.is_numeric_dtype(df["value"]):
        is_num = pd.Series(True, index=df.index)
    else:
        is_num = df["value"].map(lambda v: isinstance(v, (int, float)))
    num = pd.to_numeric(df["value"].where(is_num), errors="coerce")
    g = num.groupby(units, sort=False)
    spread_num = g.max() - g.min()
    all_num = is_num.groupby(units, sort=False).all()
    sizes = units.value_counts(sort=False)
    modal = df.groupby([units, df["value"].astype(str)], sort=False).size().groupby(level=0).max()
    spread_lab = 1.0 - modal / sizes.reindex(modal.index)
    spread = spread_lab.astype(float)
    spread.loc[all_num[all_num].index] = spread_num.reindex(all_num[all_num].index).astype(float)
    spread = spread[spread > 0]
    if spread.empty:
        return []
    top = sorted(zip((-spread).tolist(), spread.index.tolist()))[:limit]
    rows = df[units.isin([u for _, u in top])]
    by_unit = {u: g for u, g in rows.groupby("unit", sort=False)}
    out = []
    for neg, unit in top:
        g = by_unit[unit]
        values = [v.item() if hasattr(v, "item") else v for v in g["value"]]
        out.append({"unit": unit, "dimension": g["dimension"].iloc[0], "response_id": g["response_id"].iloc[0],
                    "spread": -neg, "answers": [{"rater": r, "value": v, "justification": j}
                                                for r, v, j in zip(g["rater"], values, g["justification"])]})
    return out


def export_rows(store: Store, camp: R.Campaign) -> list[dict[str, Any]]:
    """Every judgment (or comparison) of a campaign as flat rows, with the models unblinded for the lead."""
    rate = camp.kind == "rate"
    judgments = store.list(R.Judgment, campaign_id=camp.id) if rate else []
    comparisons = [] if rate else store.list(R.Comparison, campaign_id=camp.id)
    resp_ids = {j.response_id for j in judgments} | {rid for c in comparisons for rid in c.response_ids}
    model = {r.id: r.model for r in store.by_id(R.Response, resp_ids).values()}
    rows = []
    for r in [*judgments, *comparisons]:
        d = r.model_dump(mode="json")
        if rate:
            d["model"] = model.get(d["response_id"])
        else:
            d["models"] = [model.get(x) for x in d["response_ids"]]
            d["winner_model"] = model.get(d["winner"]) if d.get("winner") else None
        rows.append(d)
    return rows


def recent_skips(store: Store, camp: R.Campaign, *, limit: int = 50) -> list[dict[str, Any]]:
    """The latest skips of a campaign with their reasons: what raters could not judge, and why."""
    return S.skips(store, camp.id, limit=limit)


def progress_by_campaign(store: Store, camps: list[R.Campaign],
                         progress: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Per campaign: units, done, gold done, skipped, the target and the share of it done.
    ``progress``: :func:`assay.store.rating.campaign_progress` by campaign id, when already read."""
    out = []
    for c in camps:
        p = (progress or {}).get(c.id) or S.campaign_progress(store, c.id)
        done = sum(r.get("done", 0) for r in p["raters"].values())
        gold_done = sum(r.get("gold_done", 0) for r in p["raters"].values())
        # a skip frees its slot for another rater, so it counts toward neither done nor the target
        skipped = sum(r.get("skipped", 0) for r in p["raters"].values())
        target = p["units"] * c.overlap if not c.calibration else None
        out.append({"campaign": c, "units": p["units"], "gold_units": p["gold_units"], "done": done,
                    "gold_done": gold_done, "skipped": skipped, "target": target, "raters": len(p["raters"]),
                    "share": (min(1.0, (done - gold_done) / target) if target else None)})
    return out


# ---- the statistics of the dashboard, kept per state of the campaign ---------------------------

QUALITY_KEYS = ("n", "consensus_accuracy", "consensus_kappa", "gold_n", "gold_accuracy", "severity", "median_time_s")
COUNT_KEYS = ("done", "pending", "skipped", "gold_done")
SYNC_JUDGMENTS = 20_000
"""A campaign with at most about this many judgments has its statistics computed during the page
view when they are not kept yet; a bigger one in the background (they read every judgment)."""
REFRESH_AFTER_S = 30.0
"""Kept statistics of a campaign that has moved on are recomputed at most this often."""


def quality(store: Store, camp: R.Campaign, progress: dict[str, Any] | None = None) -> dict[str, Any]:
    """The statistics that read every judgment of a campaign, from one columnar read: per rater
    (:data:`QUALITY_KEYS` of :func:`rater_report`), agreement (:func:`agreement_summary`) and the
    30 largest disagreements; plain JSON values, so they can be kept in the store."""
    df = ratings_frame(store, camp)
    report = rater_report(store, camp, df=df, progress=progress)
    return {"raters": {r["rater"]: {k: r[k] for k in QUALITY_KEYS} for r in report},
            "agreement": agreement_summary(store, camp, df=df), "disagreements": disagreements(store, camp, limit=30,
                                                                                             df=df)}


def done_of(progress: dict[str, Any]) -> int:
    """Done assignments of a campaign, from its progress: what its kept statistics are keyed by."""
    return sum(r.get("done", 0) for r in progress["raters"].values())


def refresh_quality(store: Store, camp: R.Campaign, progress: dict[str, Any] | None = None) -> dict[str, Any]:
    """Compute a campaign's statistics and keep them, keyed by its done assignments before the read."""
    import time

    progress = progress or S.campaign_progress(store, camp.id)
    t = time.perf_counter()
    stats = quality(store, camp, progress)
    S.keep_campaign_stats(store, camp.id, done_of(progress), time.perf_counter() - t, stats)
    return stats


def dashboard_view(store: Store, camp: R.Campaign, *, sync_judgments: int = SYNC_JUDGMENTS,
                   refresh_after_s: float = REFRESH_AFTER_S) -> dict[str, Any]:
    """Everything the lead dashboard shows of a campaign's raters and agreement, without reading its
    judgments: counts from the assignments (an index range), the statistics as kept.

    Keys: progress (a :func:`progress_by_campaign` row), raters (counts and kept quality per rater),
    agreement, disagreements, stats (done, computed_at, seconds of the kept statistics; None),
    fresh (they are of the campaign as it is now) and refresh (they should be recomputed: none are
    kept, or they were computed more than ``refresh_after_s`` ago and the campaign moved on). A
    campaign of at most ``sync_judgments`` judgments whose statistics are not fresh has them computed here.
    """
    prog = S.campaign_progress(store, camp.id)
    done = done_of(prog)
    kept = S.campaign_stats(store, camp.id)
    fresh = kept is not None and kept["done"] == done
    dims = max(1, len(camp.dimensions) or (len(campaign_dimensions(store, camp)) if camp.kind == "rate" else 1))
    if not fresh and done * dims <= sync_judgments:
        refresh_quality(store, camp, prog)
        kept, fresh = S.campaign_stats(store, camp.id), True
    refresh = not fresh and (kept is None or (R.utcnow() - kept["computed_at"]).total_seconds() >= refresh_after_s)
    stats = kept["stats"] if kept else {"raters": {}, "agreement": [], "disagreements": []}
    counts = prog["raters"]
    names = sorted(set(counts) | set(stats["raters"]))
    blank = dict.fromkeys(QUALITY_KEYS)
    blank.update(n=0, gold_n=0)
    raters = [{"rater": r, **{k: counts.get(r, {}).get(k, 0) for k in COUNT_KEYS},
               **(stats["raters"].get(r) or blank)} for r in names]
    meta = {k: kept[k] for k in ("done", "computed_at", "seconds")} if kept else None
    return {"progress": progress_by_campaign(store, [camp], {camp.id: prog})[0], "raters": raters,
            "agreement": stats["agreement"], "disagreements": stats["disagreements"], "stats": meta, "fresh": fresh,
            "refresh": refresh}


_ = defaultdict  # kept for callers extending the report
