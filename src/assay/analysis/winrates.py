"""Each model's win rates against a baseline from stored comparisons: hard, soft and length-controlled.

AlpacaEval's leaderboard in the store: every current two-way comparison of a response by
the baseline with one by another model counts once (both orders a judge saw count as two
comparisons; ``one_per_rater`` keeps each rater's latest). A comparison's preference for
the model is its soft preference (``Comparison.probability``, turned towards the model's
response) when it has one, else 1 (won), 1/2 (tie or both bad) or 0 (lost). See
:mod:`assay.stats.winrate` for the three numbers; lengths are the responses' texts in
characters, as AlpacaEval measures them.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from assay.analysis.frames import comparisons_frame
from assay.errors import BadInput
from assay.stats import winrate as W
from assay.store import Store

__all__ = ["WIN_RATE_COLUMNS", "baseline_comparisons", "baseline_win_rates"]

WIN_RATE_COLUMNS = ["comparisons", "wins", "ties", "losses", "with_probability", "win_rate", "win_rate_se",
                    "soft_win_rate", "soft_win_rate_se", "lc_win_rate", "lc_length_coef", "avg_length"]


def _chunks(ids: Sequence[str], size: int = 900):  # noqa: ANN202
    ids = list(ids)
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def baseline_comparisons(store: Store, baseline: str, *, raters: Sequence[str] | None = None,
                         campaign: str | None = None, rubric: str | None = None, dimension: str | None = None,
                         one_per_rater: bool = False) -> pd.DataFrame:
    """One row per comparison of a model with ``baseline``: ``model``, ``hard`` (1, 0.5, 0), ``p`` (the
    preference for the model), ``has_probability``, ``model_length``, ``baseline_length``."""
    df = comparisons_frame(store, raters=raters, campaign=campaign, rubric=rubric, dimension=dimension,
                           latest_only=one_per_rater)
    cols = ["model", "hard", "p", "has_probability", "model_length", "baseline_length", "item_id"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    resp_ids = sorted(set(df["first"]) | set(df["second"]))
    resp = pd.concat([store.columns("responses", ["id", "model", "text"], id=c) for c in _chunks(resp_ids)],
                     ignore_index=True)
    model_of = dict(zip(resp["id"], resp["model"]))
    length_of = dict(zip(resp["id"], resp["text"].str.len()))
    own = pd.concat([store.columns("comparisons", ["id", "response_ids", "probability"], id=c)
                     for c in _chunks(df["id"].tolist())], ignore_index=True).set_index("id")
    df = df.join(own, on="id")
    ma, mb = df["first"].map(model_of), df["second"].map(model_of)
    keep = (ma == baseline) ^ (mb == baseline)
    df, ma, mb = df[keep], ma[keep], mb[keep]
    base_first = ma == baseline
    model_resp = df["second"].where(base_first, df["first"])
    base_resp = df["first"].where(base_first, df["second"])
    won = df["winner"] == model_resp
    hard = np.where(df["outcome"] == "win", won.astype(float), 0.5)
    prob = pd.to_numeric(df["probability"], errors="coerce")
    own_first = df["response_ids"].map(lambda ids: ids[0])
    p_model = prob.where(own_first == model_resp, 1.0 - prob)
    has_p = prob.notna()
    return pd.DataFrame({
        "model": mb.where(base_first, ma).to_numpy(), "hard": hard, "p": p_model.where(has_p, hard).to_numpy(),
        "has_probability": has_p.to_numpy(), "model_length": model_resp.map(length_of).to_numpy(float),
        "baseline_length": base_resp.map(length_of).to_numpy(float), "item_id": df["item_id"].to_numpy()})


def baseline_win_rates(store: Store, baseline: str, **filters) -> pd.DataFrame:  # noqa: ANN003
    """Per model (index): comparisons with the baseline, wins / ties / losses, the hard win rate, the soft
    win rate, each with its standard error, the length-controlled win rate and its length coefficient
    (logit per unit of tanh(length difference / SD)), and the model's mean answer length; rates are
    shares in [0, 1]. ``filters`` are those of :func:`baseline_comparisons`. Best soft win rate first."""
    rows = baseline_comparisons(store, baseline, **filters)
    if rows.empty:
        raise BadInput(f"no comparison of another model with the baseline {baseline!r}")
    out = []
    for model, g in rows.groupby("model", sort=True):
        hard = W.hard_win_rate(g["hard"])
        soft = W.soft_win_rate(g["p"])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                lc = W.length_controlled_win_rate(g["p"], g["model_length"] - g["baseline_length"])
            lc_value, lc_coef = lc.value, lc.length
        except ValueError:
            lc_value = lc_coef = float("nan")
        out.append({"model": model, "comparisons": len(g), "wins": int((g["hard"] == 1).sum()),
                    "ties": int((g["hard"] == 0.5).sum()), "losses": int((g["hard"] == 0).sum()),
                    "with_probability": int(g["has_probability"].sum()), "win_rate": hard.value,
                    "win_rate_se": hard.se, "soft_win_rate": soft.value, "soft_win_rate_se": soft.se,
                    "lc_win_rate": lc_value, "lc_length_coef": lc_coef, "avg_length": float(g["model_length"].mean())})
    board = pd.DataFrame(out).set_index("model")[WIN_RATE_COLUMNS]
    board.attrs["baseline"] = baseline
    return board.sort_values("soft_win_rate", ascending=False)
