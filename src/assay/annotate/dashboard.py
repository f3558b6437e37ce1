"""What a lead sees of a campaign: progress, rater quality, disagreements, and the export."""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from typing import Any

import pandas as pd

from assay import records as R
from assay.annotate.campaigns import unit_id
from assay.store import Store
from assay.store import rating as S


def ratings_frame(store: Store, camp: R.Campaign) -> pd.DataFrame:
    """Long ratings of a campaign: unit, rater, value, time_spent_s, dimension, assignment, justification.

    Rating: one row per judgment, unit = response|dimension, value = level (or label).
    Compare / rank: one row per comparison, unit = the compared set, value = the canonical
    position of the winner ("first", "second", ...) or "tie" / "both_bad".
    """
    rows = []
    if camp.kind == "rate":
        for j in store.iter(R.Judgment, campaign_id=camp.id):
            rows.append({"unit": f"{j.response_id}|{j.dimension}", "rater": j.rater_id,
                         "value": j.value if j.value is not None else j.label,
                         "dimension": j.dimension, "assignment": j.assignment_id,
                         "time_spent_s": j.time_spent_s, "justification": j.justification,
                         "response_id": j.response_id, "created_at": j.created_at})
    else:
        for c in store.iter(R.Comparison, campaign_id=camp.id):
            ids = sorted(c.response_ids)
            v: str = c.outcome if c.outcome != "win" else f"#{ids.index(str(c.winner)) + 1}"
            rows.append({"unit": unit_id(ids), "rater": c.rater_id, "value": v,
                         "dimension": c.dimension or "overall", "assignment": c.assignment_id,
                         "time_spent_s": c.time_spent_s, "justification": c.justification,
                         "response_id": None, "created_at": c.created_at})
    cols = ["unit", "rater", "value", "dimension", "assignment", "time_spent_s", "justification", "response_id",
            "created_at"]
    return pd.DataFrame(rows, columns=cols)


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


def rater_report(store: Store, camp: R.Campaign) -> list[dict[str, Any]]:
    """Per rater: done, pending, skipped, agreement with the leave-one-out consensus and with gold,
    severity, median time.

    Uses :mod:`assay.stats.raters`; a figure that is undefined (nobody else rated the same
    units, no gold) is None.
    """
    from assay.stats import raters as SR

    prog = S.campaign_progress(store, camp.id)["raters"]
    df = ratings_frame(store, camp)
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


def agreement_summary(store: Store, camp: R.Campaign) -> list[dict[str, Any]]:
    """Per dimension: units rated by two or more raters and Krippendorff's alpha (ordinal for levels)."""
    from assay.stats.agreement import krippendorff_alpha
    from assay.stats.raters import to_matrix

    df = ratings_frame(store, camp)
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


def disagreements(store: Store, camp: R.Campaign, *, limit: int = 50) -> list[dict[str, Any]]:
    """Units rated by two or more raters, most disagreement first, with each rater's answer and reason."""
    from assay.annotate.edges import _spread

    df = ratings_frame(store, camp)
    out = []
    for unit, g in df.groupby("unit", sort=False):
        if g["rater"].nunique() < 2:
            continue
        values = [v.item() if hasattr(v, "item") else v for v in g["value"]]
        s = _spread(values)
        if s <= 0:
            continue
        out.append({"unit": unit, "dimension": g["dimension"].iloc[0], "response_id": g["response_id"].iloc[0],
                    "spread": s, "answers": [{"rater": r, "value": v, "justification": j}
                                             for r, v, j in zip(g["rater"], values, g["justification"])]})
    out.sort(key=lambda d: (-d["spread"], d["unit"]))
    return out[:limit]


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


def progress_by_campaign(store: Store, camps: list[R.Campaign]) -> list[dict[str, Any]]:
    out = []
    for c in camps:
        p = S.campaign_progress(store, c.id)
        done = sum(r.get("done", 0) for r in p["raters"].values())
        gold_done = sum(r.get("gold_done", 0) for r in p["raters"].values())
        # a skip frees its slot for another rater, so it counts toward neither done nor the target
        skipped = sum(r.get("skipped", 0) for r in p["raters"].values())
        target = p["units"] * c.overlap if not c.calibration else None
        out.append({"campaign": c, "units": p["units"], "gold_units": p["gold_units"], "done": done,
                    "gold_done": gold_done, "skipped": skipped, "target": target, "raters": len(p["raters"]),
                    "share": (min(1.0, (done - gold_done) / target) if target else None)})
    return out


_ = defaultdict  # kept for callers extending the report
