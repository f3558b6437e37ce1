r"""Judge-assisted leaderboards: PPI++ Bradley-Terry ratings from a judge on every unit and people on some.

An LLM judge can compare every pair of answers; people compare a few, and their verdicts
are the truth a team trusts. Prediction-powered inference fits the ratings to the judge's
verdicts on all units and corrects them with the judge's errors on the units people also
rated, so the interval is valid whatever the judge's bias, and narrower than the human-only
one when the judge is informative. The estimator is PPI++ Bradley-Terry
(:func:`assay.stats.ppi.bradley_terry`: Angelopoulos, Duchi, Zrnic, "PPI++: Efficient
prediction-powered inference", arXiv:2311.01453, 2023, power-tuned by ``lam``), as Boyeau
et al. ("AutoEval done right: using synthetic data for model evaluation", arXiv:2403.07008,
2024, the Bradley-Terry section) apply it to rankings.

**Units.** With comparisons, a unit is an item and an unordered pair of models: its
verdict is the mean over the chosen raters' two-way comparisons of the pair's answers to
that item (1 the alphabetically first model preferred, 0.5 a tie, 0 the other), so a
panel of several judges, or several people, is averaged. With a rubric dimension, a unit
is a prompt (matched as the leaderboard matched it, ``pair_by``) and a pair of models,
and its verdict comes from the battles :func:`~assay.analysis.ranking.judgment_battles`
builds from the two models' scores, on the human side from the people's scores and on the
judge side from the judge's (with ``aggregate="separate"``, the mean of the per-rater
battles). A unit with both verdicts is labelled; one with the judge's only is unlabelled;
one people rated but the judge did not is counted and left out (PPI needs the judge's
verdict on every unit it uses). A campaign narrows people's side only, as in the
judge-assisted A/B test (:mod:`assay.analysis.assisted`): the judge's verdicts are read
whatever their campaign. PPI assumes the labelled units are a uniform random sample of the
judge's units: people should label a random subset.

**Scale.** Coefficients are natural-log odds; ratings are ``400 / ln 10`` times them, on
the Elo scale of the leaderboard, anchored as it is: the baseline at 1000 when there is
one (then the intervals are relative to the baseline, whose own is [1000, 1000], as in
the bootstrap), else the ratings' mean at 1000. Without a baseline each model's interval is
that of its centred rating :math:`c_k = \beta_k - \bar\beta`, whose standard error comes
from PPI++ fits at the tuned ``lam`` in sum-to-zero coding (:func:`centred_se`: the sandwich
covariance is equivariant under a change of coding, so the estimate does not change). The
intervals are normal (Wald) intervals, per model, without multiplicity correction; ranks tie
overlapping intervals as the leaderboard's do.

**Worth.** ``n_eff = n * classical_se**2 / se**2`` per model (the human labels alone that
would give the PPI++ variance, :mod:`assay.stats.ppi`), and over the board
``n * sum(classical_se**2) / sum(se**2)``, the trace ratio that ``lam`` is tuned on; the
judge's verdicts were worth ``n_eff - n`` extra human labels (said in the A/B test's words,
:func:`assay.analysis.assisted.worth_line`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from assay.analysis.options import Selection
from assay.errors import BadInput
from assay.stats import ppi
from assay.stats import ranking as RK
from assay.store import Store

if TYPE_CHECKING:
    from assay.analysis.ranking import BattleRules

__all__ = ["ELO_PER_LOGIT", "JudgeAssist", "assisted_ratings", "centred_se", "comparison_units", "judge_assisted",
           "judgment_units", "unit_arrays"]

ELO_PER_LOGIT = 400 / math.log(10)
"""Elo points per natural-log odds unit (a difference of 400 points is odds of 10 to 1)."""
ANCHOR_RATING = 1000.0
UNIT = ["key", "model_a", "model_b"]
_VERDICT = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}
MIN_LABELS = 2
"""Human-labelled units each model needs before judge-assisted ratings are attempted."""


@dataclass(frozen=True)
class JudgeAssist:
    """Who the people and who the judge are, for judge-assisted ratings (:func:`rank_models`'s ``assist``).

    ``humans``: rater ids whose verdicts are the truth (a unit's human verdict is their mean);
    ``judges``: the judge panel (a unit's judge verdict is their mean), None for the raters
    the leaderboard read. A rater named in both is a judge. ``campaign``: the campaign people's
    verdicts come from (None: the leaderboard's selection's), so a leaderboard of the judge's
    verdicts, which are in no campaign, can be combined with one campaign's people.
    """

    humans: Sequence[str]
    judges: Sequence[str] | None = None
    campaign: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "humans", tuple(self.humans))
        if self.judges is not None:
            object.__setattr__(self, "judges", tuple(self.judges))


def _units(battles: pd.DataFrame, key: str) -> pd.DataFrame:
    """Battles to one row per (key, model_a < model_b): the mean verdict for model_a and the battles behind it."""
    cols = {"key": pd.Series(dtype=object), "model_a": pd.Series(dtype=object),
            "model_b": pd.Series(dtype=object), "verdict": pd.Series(dtype=float), "votes": pd.Series(dtype=int)}
    known = battles["model_a"].notna().to_numpy() & battles["model_b"].notna().to_numpy()
    if not known.any():
        return pd.DataFrame(cols)
    b = battles[known] if not known.all() else battles
    models = sorted(set(map(str, pd.unique(b["model_a"]))) | set(map(str, pd.unique(b["model_b"]))))
    m = len(models)
    a, c = _codes(b["model_a"], models), _codes(b["model_b"], models)
    verdicts = np.array([_VERDICT[str(w)] for w in _categories(b["winner"])])
    v = verdicts[_codes(b["winner"], _categories(b["winner"]))]
    swap = a > c
    lo, hi = np.where(swap, c, a), np.where(swap, a, c)
    v = np.where(swap, 1.0 - v, v)
    key_codes, keys = pd.factorize(b[key], sort=True)
    unit, inverse = np.unique((key_codes.astype(np.int64) * m + lo) * m + hi, return_inverse=True)
    votes = np.bincount(inverse, minlength=len(unit))
    total = np.bincount(inverse, weights=v, minlength=len(unit))
    names = np.asarray(models, dtype=object)
    return pd.DataFrame({"key": np.asarray(keys, dtype=object)[unit // (m * m)], "model_a": names[(unit // m) % m],
                         "model_b": names[unit % m], "verdict": total / votes, "votes": votes})


def _categories(col: pd.Series) -> list:
    return list(col.cat.categories) if isinstance(col.dtype, pd.CategoricalDtype) else sorted(map(str, pd.unique(col)))


def _codes(col: pd.Series, categories: list) -> np.ndarray:
    """Positions of a column's values in ``categories``, from a categorical's codes without a string per row."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        where = {x: i for i, x in enumerate(categories)}
        remap = np.array([where.get(str(x), -1) for x in col.cat.categories], dtype=np.int64)
        return remap[col.cat.codes.to_numpy()]
    return pd.Categorical(col.astype(str), categories=categories).codes.astype(np.int64)


def comparison_units(store: Store, *, raters: Sequence[str], campaign: str | None = None,
                     rubric: str | None = None, dimension: str | None = None,
                     one_per_rater: bool = False) -> pd.DataFrame:
    """The raters' two-way comparisons as units: one row per item and unordered model pair.

    Columns ``key`` (the item id), ``model_a``, ``model_b`` (``model_a < model_b``),
    ``verdict`` (mean over the comparisons of 1 model_a preferred, 0.5 tie, 0 model_b
    preferred; strengths do not count) and ``votes`` (comparisons behind it). Reads
    :func:`~assay.analysis.ranking.comparison_battles` with ``aggregate="separate"``.
    """
    from assay.analysis.ranking import comparison_battles

    b = comparison_battles(store, raters=raters, campaign=campaign, rubric=rubric, dimension=dimension,
                           one_per_rater=one_per_rater)
    return _units(b, "item_id")


def judgment_units(store: Store, *, rubric: str, dimension: str, raters: Sequence[str],
                   campaign: str | None = None, aggregate: str = "mean", pair_by: str = "item") -> pd.DataFrame:
    """The raters' scores on one dimension as units: one row per matched prompt and unordered model pair.

    The verdicts are those of :func:`~assay.analysis.ranking.judgment_battles` (higher score
    wins, equal scores tie, the dimension's direction respected), ``key`` the prompt key;
    with ``aggregate="separate"`` the mean of the per-rater battles. No numeric judgments:
    an empty frame.
    """
    from assay.analysis.ranking import judgment_battles

    try:
        b = judgment_battles(store, rubric=rubric, dimension=dimension, raters=raters, campaign=campaign,
                             aggregate=aggregate, pair_by=pair_by)
    except BadInput:
        b = pd.DataFrame(columns=["key", "model_a", "model_b", "winner"])
    return _units(b, "key")


def unit_arrays(human: pd.DataFrame, judge: pd.DataFrame) -> dict[str, Any]:
    """The arrays :func:`assay.stats.ppi.bradley_terry` takes, from human and judge unit frames.

    ``pairs``, ``y``, ``yhat``: the labelled units (both verdicts); ``pairs_unlabeled``,
    ``yhat_unlabeled``: the judge-only ones; ``models``: every model in the judge's units,
    sorted; ``human_only``: units people rated and the judge did not (not used).
    """
    h = human[UNIT + ["verdict"]].rename(columns={"verdict": "y"})
    merged = judge[UNIT + ["verdict"]].merge(h, on=UNIT, how="left", sort=True)
    has = merged["y"].notna().to_numpy()
    lab, unl = merged[has], merged[~has]
    return {"pairs": lab[["model_a", "model_b"]].to_numpy(dtype=object), "y": lab["y"].to_numpy(dtype=float),
            "yhat": lab["verdict"].to_numpy(dtype=float),
            "pairs_unlabeled": unl[["model_a", "model_b"]].to_numpy(dtype=object),
            "yhat_unlabeled": unl["verdict"].to_numpy(dtype=float),
            "models": sorted(set(judge["model_a"]) | set(judge["model_b"])),
            "human_only": len(human) - int(has.sum())}


def _design(pairs: np.ndarray, models: list[str]) -> np.ndarray:
    """Bradley-Terry rows: +1 in model_a's column, -1 in model_b's, one column per model."""
    x = np.zeros((len(pairs), len(models)))
    rows = np.arange(len(pairs))
    x[rows, pd.Categorical(pairs[:, 0], categories=models).codes] = 1.0
    x[rows, pd.Categorical(pairs[:, 1], categories=models).codes] = -1.0
    return x


def centred_se(args: tuple, models: list[str], lam: float, *,
               judge_finite: bool = True) -> tuple[np.ndarray, np.ndarray]:
    r"""Standard errors (natural-log units) of each model's centred coefficient :math:`\beta_k - \bar\beta`,
    PPI++ at ``lam`` and human-only, from ``args`` = (pairs, y, yhat, pairs_unlabeled, yhat_unlabeled).

    Sum-to-zero (deviation) coding makes the coefficients the centred ones but for the coded-away
    model, so two :func:`assay.stats.ppi.logistic` fits, coding away a different model each time,
    give them all (the covariance is equivariant under the change of coding, and at a fixed
    ``lam`` the fit is the same). That fit also fits the judge alone, which fails when the judge
    lets some model never lose (``judge_finite=False``); then :math:`D_{kj} = \mathrm{Var}(\beta_k -
    \beta_j)` comes from one :func:`~assay.stats.ppi.bradley_terry` fit per reference model, and
    :math:`\mathrm{Var}(c_k) = \frac1m\sum_j D_{kj} - \frac1{2m^2}\sum_{j,l} D_{jl}`.
    """
    pairs, y, yhat, pairs_u, yhat_u = args
    m = len(models)
    if judge_finite:
        x, xu = _design(pairs, models), _design(pairs_u, models)
        se, cse = np.empty(m), np.empty(m)
        for last in (m - 1, 0):
            keep = [k for k in range(m) if k != last]
            z = np.zeros((m, m - 1))
            z[keep, np.arange(m - 1)] = 1.0
            z[last, :] = -1.0
            r = ppi.logistic(x @ z, y, yhat, xu @ z, yhat_u, lam=lam)
            se[keep], cse[keep] = r.se, r.classical_se
        return se, cse
    d, dc = np.zeros((m, m)), np.zeros((m, m))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the judge-only fit's, said once by the caller
        for j, mdl in enumerate(models):  # D[k, j] from the fit with model j as the reference
            r = ppi.bradley_terry(*args, models=models, reference=mdl, lam=lam)
            d[:, j], dc[:, j] = r.se ** 2, r.classical_se ** 2

    def centred(v: np.ndarray) -> np.ndarray:
        v = (v + v.T) / 2
        return np.sqrt(np.clip(v.sum(axis=1) / m - v.sum() / (2 * m * m), 0.0, None))

    return centred(d), centred(dc)


def _per_model(pairs: np.ndarray, models: list[str]) -> np.ndarray:
    """How many of the units (rows of model pairs) each model is in."""
    codes = pd.Categorical(pairs.ravel(), categories=models).codes.astype(np.int64)
    return np.bincount(codes, minlength=len(models))


def assisted_ratings(human: pd.DataFrame, judge: pd.DataFrame, *, confidence: float = 0.95,
                     baseline: str | None = None) -> dict[str, Any]:
    """PPI++ Bradley-Terry ratings with the human-only and judge-only ones beside them, JSON-ready.

    ``human`` and ``judge`` are unit frames (:func:`comparison_units`, :func:`judgment_units`).
    Returns ``units`` (counts), and either ``error`` (too few human labels, no judge-only
    unit, no finite fit: a sentence saying which) or ``leaderboard`` (per model, best
    first: ``rating``, ``lower``, ``upper``, ``se`` of PPI++; ``human_rating``,
    ``human_lower``, ``human_upper``; ``judge_rating``, biased, None when infinite;
    ``labels`` and ``judge_only`` units with the model; ``n_eff``, ``extra_labels``,
    ``rank``), ``lam``, ``n``, ``N``, ``n_eff``, ``extra_labels``, ``worth`` (the sentence)
    and ``notes``. See the module docstring for the scale and the intervals.
    """
    arrays = unit_arrays(human, judge)
    models, n, big_n = arrays["models"], len(arrays["y"]), len(arrays["yhat_unlabeled"])
    out: dict[str, Any] = {"method": "PPI++ Bradley-Terry", "confidence": confidence, "anchor": baseline,
                           "units": {"judge": len(judge), "human": len(human), "labelled": n, "judge_only": big_n,
                                     "human_only": arrays["human_only"]},
                           "n": n, "N": big_n, "notes": []}
    labels = _per_model(arrays["pairs"], models)
    few = [f"{m} has {c}" for m, c in zip(models, labels.tolist()) if c < MIN_LABELS]
    if n == 0:
        out["error"] = (f"people rated {len(human)} units, none of which the judge rated: no judge-assisted "
                        "ratings")
        return out
    if few:
        out["error"] = (f"too few human labels for judge-assisted ratings (at least {MIN_LABELS} per model): "
                        f"{'; '.join(few)} of the {n} units people and the judge both rated")
        return out
    if big_n == 0:
        out["error"] = (f"people rated every one of the judge's {n} units: no judge-only verdicts for PPI++ "
                        "to add (the human-only leaderboard is the one to read)")
        return out
    alpha = 1 - confidence
    ref = baseline if baseline in models else models[0]
    args = (arrays["pairs"], arrays["y"], arrays["yhat"], arrays["pairs_unlabeled"], arrays["yhat_unlabeled"])
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            res = ppi.bradley_terry(*args, models=models, reference=ref, alpha=alpha)
        judge_infinite = any("judge-only Bradley-Terry ratings are infinite" in str(w.message) for w in caught)
        if baseline is None:
            se, cse = centred_se(args, models, res.lam, judge_finite=not judge_infinite)
    except ValueError as e:
        out["error"] = f"no finite judge-assisted fit: {e}"
        return out
    if judge_infinite:
        out["notes"].append("the judge's verdicts alone leave some model unbeaten (or never winning): its "
                            "judge-only ratings are infinite (shown as —); PPI++ corrects that with the human "
                            "labels")
    if baseline is None:
        est, human_est, naive = (v - v.mean() for v in (res.estimate, res.classical_estimate, res.naive_estimate))
        q = norm.ppf(1 - alpha / 2)
        low, high, clow, chigh = est - q * se, est + q * se, human_est - q * cse, human_est + q * cse
    else:
        est, human_est, naive = res.estimate, res.classical_estimate, res.naive_estimate
        se, cse, low, high, clow, chigh = res.se, res.classical_se, res.low, res.high, res.classical_low, \
            res.classical_high
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(se > 0, n * cse**2 / np.where(se > 0, se, 1) ** 2, np.nan)
    total = float(n * np.sum(cse**2) / np.sum(se**2)) if np.sum(se**2) > 0 else math.nan

    def elo(v: np.ndarray) -> np.ndarray:
        return ANCHOR_RATING + ELO_PER_LOGIT * np.asarray(v, dtype=float)

    board = pd.DataFrame({
        "rating": elo(est), "lower": elo(low), "upper": elo(high), "se": ELO_PER_LOGIT * se,
        "human_rating": elo(human_est), "human_lower": elo(clow), "human_upper": elo(chigh),
        "judge_rating": elo(naive), "labels": labels,
        "judge_only": _per_model(arrays["pairs_unlabeled"], models), "n_eff": n_eff, "extra_labels": n_eff - n,
    }, index=pd.Index(models, name="model"))
    board["rank"] = RK.rank_with_ties(board["lower"], board["upper"])
    board = board.sort_values("rating", ascending=False)
    extra = total - n
    out.update(lam=float(res.lam), n_eff=_num(total), extra_labels=_num(extra), reference=ref,
               worth=worth_sentence(n, big_n, total, res.lam),
               leaderboard=[{"model": m, **{k: _num(v) for k, v in r.items()}}
                            for m, r in board.to_dict("index").items()])
    return out


def worth_sentence(n: int, big_n: int, n_eff: float, lam: float) -> str:
    """"the judge's verdicts on n + N units were worth k extra human-labelled units", in the A/B test's words
    (:func:`assay.analysis.assisted.worth_line`)."""
    from assay.analysis.assisted import worth_line

    if not math.isfinite(n_eff):
        n_eff = float(n)
    return worth_line({"n": n, "N": big_n, "n_eff": n_eff, "lam": lam}, units="units",
                      labelled="human-labelled units")


def _num(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(v) else float(v)
    return v


def judge_assisted(store: Store, assist: JudgeAssist, *, comparisons: bool, select: Selection,
                   battles: BattleRules, confidence: float = 0.95, baseline: str | None = None,
                   judge_battles: pd.DataFrame | None = None) -> dict[str, Any] | None:
    """Judge-assisted ratings for a leaderboard (:func:`~assay.analysis.ranking.rank_models`'s ``assist``).

    ``assist.judges`` are the judge panel's rater ids, as the caller resolved them;
    ``select`` the leaderboard's selection (its
    rubric and dimension apply to both sides, its campaign to people's side only, as in the
    judge-assisted A/B test: the judge's verdicts are read whatever their campaign); ``battles`` its
    :class:`~assay.analysis.ranking.BattleRules` with ``aggregate`` and ``pair_by`` resolved;
    ``judge_battles`` the judges' battles when the caller has read them already (comparisons
    kept separate, judgments with ``battles``' rules), else they are read. None when the people in ``assist.humans`` (less the judges) have no verdict in the
    selection: then there is nothing to add.
    """
    judges = list(assist.judges or ())
    humans = [h for h in assist.humans if h not in set(judges)]
    if not humans:
        raise BadInput("the human raters for judge-assisted ratings are all judges: name people who are not",
                       param="humans")
    if comparisons:
        kw = {"rubric": select.rubric, "dimension": select.dimension, "one_per_rater": battles.one_per_rater}
        units, key = partial(comparison_units, store, **kw), "item_id"
    else:
        kw = {"rubric": select.rubric, "dimension": select.dimension, "aggregate": battles.aggregate,
              "pair_by": battles.pair_by}
        units, key = partial(judgment_units, store, **kw), "key"
    human = units(raters=humans, campaign=assist.campaign if assist.campaign is not None else select.campaign)
    if human.empty:
        return None
    reuse = judge_battles is not None and select.campaign is None
    judge = _units(judge_battles, key) if reuse else units(raters=judges, campaign=None)
    out = assisted_ratings(human, judge, confidence=confidence, baseline=baseline)
    return {"humans": humans, "judges": judges, **out}
