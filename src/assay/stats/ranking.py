"""Leaderboards from pairwise battles: online Elo, Bradley-Terry, bootstrap intervals, style control.

A battle table is a pandas DataFrame with columns ``model_a``, ``model_b`` and
``winner`` in {"model_a", "model_b", "tie", "tie (bothbad)"}, Chatbot Arena's
convention (Chiang et al. 2024, "Chatbot Arena: An Open Platform for Evaluating
LLMs by Human Preference", arXiv 2403.04132). Ratings are on the Elo scale: a
difference of ``scale`` points means odds of ``base`` to 1.

Mergeable win/loss/tie tables (per shard, merged exactly) live in :mod:`assay.stats._pairwise`:
:func:`summarise_battles`, :func:`merge_pairwise`, :class:`PairwiseSummary`.

Style and length control live in :mod:`assay.stats._style` and are re-exported here:
:func:`style_features`, :func:`bradley_terry_controlled`,
:func:`length_controlled_win_rate`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assay.stats import _bt
from assay.stats._bt import Bootstrap, EloScale
from assay.stats._pairwise import PairwiseSummary, merge_pairwise, summarise_battles
from assay.stats._style import (
    ControlledRatings,
    bradley_terry_controlled,
    length_controlled_win_rate,
    style_features,
)

__all__ = [
    "Bootstrap",
    "BootstrapRatings",
    "ControlledRatings",
    "EloScale",
    "PairwiseSummary",
    "bootstrap_ratings",
    "bradley_terry",
    "bradley_terry_controlled",
    "elo",
    "length_controlled_win_rate",
    "merge_pairwise",
    "predicted_win_probability",
    "rank_with_ties",
    "style_features",
    "summarise_battles",
    "win_rate_matrix",
]


def elo(battles: pd.DataFrame, *, k: float = 4, scale: float = 400, base: float = 10, init: float = 1000) -> pd.Series:
    """Online Elo ratings, updating after each battle in row order.

    For a battle of A against B with ratings R_A, R_B the expected score of A is
    E_A = 1 / (1 + base ** ((R_B - R_A) / scale)); A scores S_A = 1, 0.5 (either
    tie) or 0, and R_A += k (S_A - E_A), R_B -= k (S_A - E_A) (Elo 1978; Chatbot
    Arena's ``compute_online_elo`` uses k=4, scale=400, base=10, init=1000).

    Returns a Series indexed by model (in order of first appearance).

    >>> b = pd.DataFrame({"model_a": ["x", "x"], "model_b": ["y", "y"], "winner": ["model_a", "tie"]})
    >>> elo(b).round(4).to_dict()   # x: 1000 + 4 (1 - 0.5) = 1002, then 4 (0.5 - 0.505756)
    {'x': 1001.977, 'y': 998.023}
    """
    a, b, code, models = _bt.battle_codes(battles)
    score = code / 2.0
    ratings = [float(init)] * len(models)
    for i, j, s in zip(a.tolist(), b.tolist(), score.tolist()):
        expected = 1.0 / (1.0 + base ** ((ratings[j] - ratings[i]) / scale))
        delta = k * (s - expected)
        ratings[i] += delta
        ratings[j] -= delta
    return pd.Series(ratings, index=pd.Index(models, name="model"), name="elo")


def _to_elo_scale(t: np.ndarray, models: list, elo: EloScale) -> np.ndarray:
    """Logit-unit strengths (mean zero) to Elo points centred on init, or shifted to the anchor."""
    r = t * (elo.scale / math.log(elo.base)) + elo.init
    if elo.anchor is not None:
        model, rating = elo.anchor
        if model not in models:
            raise ValueError(f"anchor model {model!r} is not in the battles")
        r = r + (rating - r[..., [models.index(model)]])
    return r


def bradley_terry(
    battles: pd.DataFrame,
    *,
    elo: EloScale = EloScale(),
    weights: str | None = None,
    l2: float = 0.0,
) -> pd.Series:
    """Bradley-Terry maximum-likelihood ratings on the Elo scale.

    Model (Bradley & Terry 1952; Chatbot Arena, Chiang et al. 2024, Sec. 4):
    P(i beats j) = 1 / (1 + base ** ((R_j - R_i) / scale)), with ``scale``, ``base``,
    ``init`` and ``anchor`` from ``elo`` (:class:`EloScale`). The likelihood is taken
    over the deduplicated (model_a, model_b, outcome) rows weighted by their
    counts; a tie counts as half a win to each side. The ratings' mean is ``init``
    unless ``anchor=(model, rating)`` pins one model. ``weights`` names an optional
    per-battle weight column; ``l2`` adds a ridge penalty (l2/2)|t|^2 on the logit-scale
    strengths t (0 is plain maximum likelihood, which is infinite when some model
    never lost or never won; a ValueError then says so).

    The fit is Newton's method on the models x models win matrix (the Hessian is a
    weighted graph Laplacian), exact to ~1e-10 Elo points.

    >>> b = pd.DataFrame({"model_a": ["x", "x", "x", "y"], "model_b": ["y", "y", "y", "x"],
    ...                   "winner": ["model_a", "model_a", "model_b", "tie"]})
    >>> r = bradley_terry(b)   # x won 2.5 of 4: 10**(d/400) = 2.5/1.5, d = 400 log10(5/3)
    >>> round(float(r["x"] - r["y"]), 6), round(400 * math.log10(5 / 3), 6)
    (88.7395, 88.7395)
    """
    table = _bt.battle_table(battles, weights)
    t = _bt.fit_matrix(_bt.win_matrix(table), l2=l2)
    r = _to_elo_scale(t, table.models, elo)
    return pd.Series(r, index=pd.Index(table.models, name="model"), name="rating")


def predicted_win_probability(ratings: pd.Series, *, scale: float = 400, base: float = 10) -> pd.DataFrame:
    """P(row model beats column model) under Bradley-Terry: 1 / (1 + base ** ((R_col - R_row) / scale))."""
    r = ratings.to_numpy(dtype=float)
    p = 1.0 / (1.0 + base ** ((r[None, :] - r[:, None]) / scale))
    np.fill_diagonal(p, np.nan)
    return pd.DataFrame(p, index=ratings.index, columns=ratings.index)


def win_rate_matrix(battles: pd.DataFrame, *, weights: str | None = None) -> pd.DataFrame:
    """Observed share of battles the row model won against the column model (ties count half).

    Both orders of play are pooled; a pair that never met is NaN.
    """
    return _win_rate(_bt.battle_table(battles, weights))


def _win_rate(table: _bt.BattleTable) -> pd.DataFrame:
    w = _bt.win_matrix(table)
    n = w + w.T
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, w / n, np.nan)
    idx = pd.Index(table.models, name="model")
    return pd.DataFrame(rate, index=idx, columns=idx)


def rank_with_ties(lower: pd.Series, upper: pd.Series) -> pd.Series:
    """Rank 1 + the number of models whose interval lies wholly above this one's.

    Models with overlapping intervals share ranks (Chatbot Arena's "rank (UB)").
    """
    lo = lower.to_numpy(dtype=float)
    up = upper.reindex(lower.index).to_numpy(dtype=float)
    ranks = 1 + (lo[None, :] > up[:, None]).sum(axis=1)
    return pd.Series(ranks, index=lower.index, name="rank")


@dataclass
class BootstrapRatings:
    """Bradley-Terry ratings with bootstrap intervals.

    ``leaderboard`` is indexed by model, sorted by rating, with columns ``rating``
    (fit on all battles), ``lower``/``upper`` (percentile interval over rounds),
    ``rank`` (overlapping intervals tie), ``battles`` (how many the model played).
    ``samples`` holds one row of ratings per bootstrap round.
    """

    leaderboard: pd.DataFrame
    samples: pd.DataFrame
    win_rate: pd.DataFrame
    predicted_win_probability: pd.DataFrame
    confidence: float
    rounds: int
    failed_rounds: int = 0
    coefficients: pd.DataFrame | None = field(default=None)

    @property
    def ratings(self) -> pd.Series:
        """Point ratings, best first."""
        return self.leaderboard["rating"]


def bootstrap_ratings(
    battles: pd.DataFrame,
    *,
    bootstrap: Bootstrap = Bootstrap(),
    elo: EloScale = EloScale(),
    weights: str | None = None,
    l2: float = 0.0,
) -> BootstrapRatings:
    """Bradley-Terry ratings with bootstrap percentile intervals and interval-aware ranks.

    Each round draws a multinomial sample of the unique (model_a, model_b, outcome)
    rows, with probabilities proportional to their counts and as many draws as
    battles (equivalent to resampling battles with replacement; Chatbot Arena's
    ``compute_bootstrap_bt``), and refits Bradley-Terry. Two exact shortcuts make it
    fast: rows are pooled by unordered pair and outcome before drawing (pooling a
    multinomial's cells gives a multinomial, and Bradley-Terry only sees the pooled
    counts), and all rounds are refitted together by Newton iterations with the
    Hessian frozen at the full-data fit (see ``benchmarks/bench_ranking.py``: 1,000
    rounds on 2M battles among 100 models in seconds, equal to a per-round L-BFGS refit
    to 1e-6). A round whose resample has no finite MLE (possible with few battles and
    ``l2=0``) gives NaN ratings and is counted in ``failed_rounds``. With a
    ``weights`` column the rows are drawn in proportion to their summed weight,
    ``len(battles)`` draws per round, rescaled to the total weight.

    ``bootstrap`` gives the rounds, the confidence and the seed (an int or a
    ``numpy.random.Generator``); ``elo`` how strengths are shown as ratings.

    >>> b = pd.DataFrame({"model_a": list("xxyyzz") * 20, "model_b": list("yzxzxy") * 20,
    ...                   "winner": ["model_a", "model_a", "tie", "model_a", "model_b", "model_a"] * 20})
    >>> res = bootstrap_ratings(b, bootstrap=Bootstrap(rounds=200, random_state=0))
    >>> list(res.leaderboard.columns)
    ['rating', 'lower', 'upper', 'rank', 'battles']
    """
    rounds = bootstrap.rounds
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    if not 0 < bootstrap.confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    rng = np.random.default_rng(bootstrap.random_state)
    table = _bt.battle_table(battles, weights)
    models = table.models
    n_draws = int(round(table.n_battles)) if weights is None else len(battles)
    t_full, samples, failed = _bt.bootstrap_fit(table, rounds, rng, n_draws=n_draws, l2=l2)
    if failed:
        warnings.warn(
            f"{failed} of {rounds} bootstrap rounds had no finite Bradley-Terry MLE and were "
            "left out of the intervals; pass l2 > 0 or collect more battles",
            RuntimeWarning,
            stacklevel=2,
        )
    point = _to_elo_scale(t_full, models, elo)
    boot = _to_elo_scale(samples, models, elo)
    return _summarise(table, point, boot, failed, elo=elo, bootstrap=bootstrap)


def _summarise(table: _bt.BattleTable, point: np.ndarray, boot: np.ndarray, failed: int, *, elo: EloScale,
               bootstrap: Bootstrap, coefficients: pd.DataFrame | None = None) -> BootstrapRatings:
    """The leaderboard of point ratings with percentile intervals over the bootstrap ratings ``boot``."""
    models = table.models
    idx = pd.Index(models, name="model")
    alpha = 1 - bootstrap.confidence
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns when every round failed
        lower = np.nanquantile(boot, alpha / 2, axis=0)
        upper = np.nanquantile(boot, 1 - alpha / 2, axis=0)
    played = np.bincount(table.a, table.count, len(models)) + np.bincount(table.b, table.count, len(models))
    board = pd.DataFrame({"rating": point, "lower": lower, "upper": upper}, index=idx)
    board["rank"] = rank_with_ties(board["lower"], board["upper"])
    board["battles"] = played
    board = board.sort_values("rating", ascending=False)
    samples = pd.DataFrame(boot, columns=idx)[board.index]
    ratings = board["rating"]
    return BootstrapRatings(
        leaderboard=board,
        samples=samples,
        win_rate=_win_rate(table).loc[board.index, board.index],
        predicted_win_probability=predicted_win_probability(ratings, scale=elo.scale, base=elo.base),
        confidence=bootstrap.confidence,
        rounds=bootstrap.rounds,
        failed_rounds=failed,
        coefficients=coefficients,
    )
