"""Leaderboards over the store: battles from comparisons or rubric judgments, ranked with intervals.

Battles follow Chatbot Arena's convention (``model_a``, ``model_b``, ``winner`` in
{"model_a", "model_b", "tie", "tie (bothbad)"}) so every function of
:mod:`assay.stats.ranking` applies to them.

- From Comparisons: each current two-way comparison of responses by two different
  models is a battle; ``model_a`` answered the pair's first response (the order the pair
  was first recorded in, see :func:`assay.analysis.frames.comparisons_frame`). Every
  stored comparison counts, also several by one rater on one pair (Arena-Hard, MT-Bench
  and AlpacaEval judges see both orders of a pair: two comparisons, two battles);
  ``one_per_rater`` keeps only each rater's latest comparison of a pair, and the counts
  say how many that dropped. Several comparisons of the same pair either give one
  battle each (``aggregate="separate"``, the default: a pair three raters agree on
  weighs three times one a single rater saw, and the bootstrap resamples verdicts) or
  one battle by plurality (``aggregate="majority"``: the outcome most raters chose; a
  draw between outcomes is a tie). ``strong_weight`` counts a win of strength 2 (A>>B)
  as that many battles, as Arena-Hard does with 3 (Li et al. 2024, "From Crowdsourced
  Data to High-Quality Benchmarks: Arena-Hard and BenchBuilder Pipeline", arXiv
  2406.11939; ``show_result.py`` of arena-hard-auto v0.1); the bootstrap then resamples
  the repeated battles, as Arena-Hard's does.
- From rubric Judgments on one dimension: a response's score is the mean of the chosen
  raters' values on it, a model's score on a prompt the mean over its samples; on each
  prompt every pair of models that answered it is a battle won by the higher score
  (equal scores tie; a ``lower_is_better`` dimension flips it). ``aggregate="separate"``
  instead makes battles per rater. Prompts are matched by item, or, when no item was
  answered by two models (e.g. HANNA, where each story is its own item), by the
  prompt's text within its dataset (``pair_by="auto"``).

Besides the Bradley-Terry leaderboard, judgments also give the direct one: each model's
mean score over prompts with a t interval (cluster-robust when items carry a cluster key).

With a judge and people who judged some of the same units, :func:`rank_models` (``assist``)
also gives judge-assisted ratings: PPI++ Bradley-Terry (Angelopoulos, Duchi, Zrnic 2023,
arXiv:2311.01453), as Boyeau et al. ("AutoEval done right", arXiv:2403.07008, 2024) apply
it to rankings; see :mod:`assay.analysis.judge_assisted`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from assay.analysis.comparison_columns import comparison_codes, first_rows
from assay.analysis.frames import judgment_codes
from assay.analysis.options import Options, Selection
from assay.errors import BadInput
from assay.stats import ranking as RK
from assay.stats.abtest import paired_test
from assay.store import Store

if TYPE_CHECKING:
    from assay.analysis.judge_assisted import JudgeAssist

__all__ = ["Leaderboard", "comparison_battles", "judgment_battles", "add_style_features", "pair_keys",
           "rank_models", "score_leaderboard", "weigh_strong_wins"]

BATTLE_COLUMNS = ["item_id", "model_a", "model_b", "winner", "response_a", "response_b", "rater", "votes",
                  "strength"]
_OUTCOME = {"first": "model_a", "second": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"}


def _models_of(store: Store, response_ids) -> dict[str, str]:  # noqa: ANN001
    ids = sorted(set(response_ids))
    parts = [store.columns("responses", ["id", "model"], id=ids[i:i + 900]) for i in range(0, len(ids), 900)]
    return {} if not parts else dict(pd.concat(parts).to_numpy().tolist())


_WINNERS = ["model_a", "model_b", "tie", "tie (bothbad)"]  # by the label codes of comparison_codes


def comparison_battles(
    store: Store,
    *,
    raters: Sequence[str] | None = None,
    campaign: str | None = None,
    rubric: str | None = None,
    dimension: str | None = None,
    aggregate: str = "separate",
    one_per_rater: bool = False,
) -> pd.DataFrame:
    """Battles from stored two-way comparisons (see the module docstring for the rules).

    Columns: ``item_id``, ``model_a``, ``model_b``, ``winner``, ``response_a``,
    ``response_b``, ``rater`` (``"majority"`` when aggregated), ``votes`` (comparisons
    behind the battle) and ``strength`` (of a win: 1, 2, or NaN when not given; NaN when
    aggregated). Comparisons of two responses by the same model are left out.
    ``attrs["comparisons"]`` counts the comparisons that matched the filters (``stored``),
    those behind the battles (``used``) and those each rule dropped (``dropped``).

    The comparisons are read as columns and coded once (:func:`comparison_codes`), so the
    id columns are categoricals: ten million comparisons take seconds and a few GB.
    """
    if aggregate not in ("separate", "majority"):
        raise BadInput(f"aggregate must be 'separate' or 'majority' for comparisons, not {aggregate!r}")
    df = comparison_codes(store, raters=raters, campaign=campaign, rubric=rubric, dimension=dimension,
                          latest_only=one_per_rater)
    counts = df.attrs["counts"]
    if "latest_only" in counts["dropped"]:
        counts["dropped"]["one_per_rater"] = counts["dropped"].pop("latest_only")
    if df.empty:
        out = pd.DataFrame(columns=BATTLE_COLUMNS)
        out.attrs["comparisons"] = {**counts, "used": 0}
        return out
    responses = df["first"].cat.categories
    model_of = _models_of(store, responses)
    model_codes, models = pd.factorize(pd.Series(responses).map(model_of), use_na_sentinel=True)
    ma, mb = model_codes[df["first"].cat.codes.to_numpy()], model_codes[df["second"].cat.codes.to_numpy()]
    label = df["label"].cat.codes.to_numpy()
    keep = (ma != mb) | (ma < 0)  # a response of unknown model fails later, with a message
    counts["dropped"]["same_model"] = int((~keep).sum())
    counts["used"] = int(keep.sum())
    if not keep.all():
        df, ma, mb, label = df[keep].reset_index(drop=True), ma[keep], mb[keep], label[keep]
    rater = df["rater"]
    used = sorted(rater.cat.categories[np.bincount(rater.cat.codes, minlength=len(rater.cat.categories)) > 0])
    winner = label.astype(np.int64)
    strength = df["strength"].to_numpy(dtype=float)
    strength = np.where(label < 2, strength, np.nan)  # a strength belongs to a win
    votes = np.ones(len(df), dtype=np.int64)
    rows = slice(None)
    if aggregate == "majority":
        # the outcome most raters chose, a draw between outcomes a tie; one row per unit, its first
        unit = pd.factorize(df["unit"].to_numpy())[0]
        n_units = int(unit.max()) + 1
        tally = np.bincount(unit * 4 + winner, minlength=4 * n_units).reshape(n_units, 4)
        top = tally.max(axis=1)
        plurality = np.where((tally == top[:, None]).sum(axis=1) == 1, tally.argmax(axis=1), 2)
        rows = first_rows(unit)
        winner, votes, strength = plurality, tally.sum(axis=1), np.full(n_units, np.nan)
        rater = pd.Categorical(["majority"] * n_units)
    out = pd.DataFrame({
        "item_id": df["item_id"].to_numpy()[rows] if aggregate == "majority" else df["item_id"],
        "model_a": pd.Categorical.from_codes(ma[rows], models),
        "model_b": pd.Categorical.from_codes(mb[rows], models),
        "winner": pd.Categorical.from_codes(winner, _WINNERS),
        "response_a": df["first"].to_numpy()[rows] if aggregate == "majority" else df["first"],
        "response_b": df["second"].to_numpy()[rows] if aggregate == "majority" else df["second"],
        "rater": rater, "votes": votes, "strength": strength,
    })
    out.attrs["raters"] = used
    out.attrs["comparisons"] = counts
    return out


def weigh_strong_wins(battles: pd.DataFrame, strong_weight: int) -> pd.DataFrame:
    """The battles with each win of strength 2 repeated ``strong_weight`` times (Arena-Hard: 3).

    Ties and wins of strength 1 (or none given) count once. Arena-Hard's recipe repeats
    the battle rows, so its bootstrap resamples the repeats; doing the same here makes the
    intervals, not only the ratings, reproduce it.
    """
    if int(strong_weight) != strong_weight or strong_weight < 1:
        raise BadInput(f"strong_weight must be a whole number of at least 1, not {strong_weight}")
    if strong_weight == 1:
        return battles
    reps = np.where(battles["strength"].to_numpy(dtype=float) == 2, int(strong_weight), 1)
    out = battles.loc[battles.index.repeat(reps)].reset_index(drop=True)
    out.attrs = dict(battles.attrs)
    return out


def pair_keys(store: Store, item_ids: Sequence[str], pair_by: str) -> pd.DataFrame:
    """Per item: ``key`` (what the item is matched on) and ``cluster`` (its cluster key, else the key).

    ``pair_by="item"`` matches items by id; ``"prompt"`` by dataset and prompt text (or chat
    messages), so separately stored items that ask the same thing meet.
    """
    if pair_by not in ("item", "prompt"):
        raise BadInput(f"pair_by must be 'auto', 'item' or 'prompt', not {pair_by!r}")
    items = store.frame("items", id=sorted(set(item_ids)))
    if pair_by == "item":
        key = items["id"]
    else:
        text = [p if isinstance(p, str) else json.dumps(m, sort_keys=True)
                for p, m in zip(items["prompt"], items["messages"])]
        key = items["dataset"] + "\x1f" + pd.Series(text, index=items.index)
    has_cluster = items["cluster"].notna()
    cluster = items["cluster"].astype(object).where(has_cluster, key)
    return pd.DataFrame({"item_id": items["id"], "key": key, "cluster": cluster,
                         "has_cluster": has_cluster}).set_index("item_id")


def _resolve_pair_by(scores: pd.DataFrame, pair_by: str) -> str:
    """``auto``: items when some item was answered by two models, else prompt text."""
    if pair_by != "auto":
        return pair_by
    shared = scores.groupby("item_id")["model"].nunique()
    return "item" if (shared > 1).any() else "prompt"


def _direction(store: Store, rubric: str, dimension: str) -> str:
    try:
        return store.rubric(rubric).dimension(dimension).direction
    except KeyError as e:
        raise BadInput(str(e.args[0])) from None


def _judgment_scores(store, *, rubric, dimension, raters, campaign, pair_by, per_rater):  # noqa: ANN001, ANN202
    """One row per prompt key x model (x rater): mean over raters (unless per_rater) then samples."""
    jf = judgment_codes(store, rubric=rubric, dimensions=[dimension], raters=raters, campaign=campaign, items=True)
    jf = jf[jf["value"].notna()]
    if jf.empty:
        raise BadInput(f"no numeric judgments on {rubric} / {dimension} match")
    by = ["unit", "item_id", "model"] + (["rater"] if per_rater else [])
    # grouped on the categoricals' codes; the (far fewer) per-response rows then carry plain strings
    resp = jf.groupby(by, as_index=False, observed=True, sort=True).agg(
        value=("value", "mean"), rep_raters=("rater", "nunique"), cluster=("cluster", "first"))
    resp = resp.astype({c: object for c in by + ["cluster"]})
    pair_by = _resolve_pair_by(resp, pair_by)
    if pair_by == "item":  # an item is its own key; its cluster where it has one (read with the judgments)
        has = resp["cluster"].notna()
        resp = resp.assign(key=resp["item_id"], cluster=resp["cluster"].where(has, resp["item_id"]), has_cluster=has)
    else:
        resp = resp.drop(columns="cluster").join(pair_keys(store, resp["item_id"].unique(), pair_by), on="item_id")
    by = ["key", "model"] + (["rater"] if per_rater else [])
    # the representative response (first by id) carries the text for style features
    resp = resp.sort_values("unit")
    scores = resp.groupby(by, as_index=False).agg(
        value=("value", "mean"), samples=("unit", "nunique"), response=("unit", "first"),
        item_id=("item_id", "first"), cluster=("cluster", "first"), has_cluster=("has_cluster", "first"))
    return scores, pair_by, sorted(map(str, jf["rater"].unique()))


def judgment_battles(
    store: Store,
    *,
    rubric: str,
    dimension: str,
    raters: Sequence[str] | None = None,
    campaign: str | None = None,
    aggregate: str = "mean",
    pair_by: str = "auto",
) -> pd.DataFrame:
    """Battles from rubric judgments on one dimension: per prompt, each pair of models, higher score wins.

    ``aggregate="mean"`` averages raters per response first (one battle per prompt and
    pair); ``"separate"`` makes one battle per rater who scored both. Returns the battle
    columns plus ``score_a``, ``score_b`` and ``key`` (what prompts were matched on: the item
    id, or the dataset and prompt text); ``attrs["pair_by"]`` says how prompts matched.
    """
    if aggregate not in ("mean", "separate"):
        raise BadInput(f"aggregate must be 'mean' or 'separate' for judgments, not {aggregate!r}")
    per_rater = aggregate == "separate"
    scores, used, rater_ids = _judgment_scores(store, rubric=rubric, dimension=dimension, raters=raters,
                                       campaign=campaign, pair_by=pair_by, per_rater=per_rater)
    on = ["key"] + (["rater"] if per_rater else [])
    cols = on + ["model", "value", "response", "item_id"]
    pairs = scores[cols].merge(scores[cols], on=on, suffixes=("_a", "_b"))
    pairs = pairs[pairs["model_a"] < pairs["model_b"]]
    sign = 1.0 if _direction(store, rubric, dimension) == "higher_is_better" else -1.0
    diff = sign * (pairs["value_a"] - pairs["value_b"]).to_numpy()
    out = pd.DataFrame({
        "item_id": pairs["item_id_a"].to_numpy(), "model_a": pairs["model_a"].to_numpy(),
        "model_b": pairs["model_b"].to_numpy(),
        "winner": np.where(diff > 0, "model_a", np.where(diff < 0, "model_b", "tie")),
        "response_a": pairs["response_a"].to_numpy(), "response_b": pairs["response_b"].to_numpy(),
        "rater": pairs["rater"].to_numpy() if per_rater else "mean",
        "votes": 1, "score_a": pairs["value_a"].to_numpy(), "score_b": pairs["value_b"].to_numpy(),
        "key": pairs["key"].to_numpy(),
    })
    out.attrs["pair_by"] = used
    out.attrs["raters"] = rater_ids
    return out


def score_leaderboard(
    store: Store,
    *,
    rubric: str,
    dimension: str,
    raters: Sequence[str] | None = None,
    campaign: str | None = None,
    pair_by: str = "auto",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Each model's mean score over prompts with a t interval and interval-aware ranks.

    A prompt's score is the mean over raters, then samples. The interval is
    cluster-robust (Miller 2024, eq. 4) when the items carry cluster keys. Columns:
    ``score``, ``lower``, ``upper``, ``se``, ``n``, ``rank``; best first (by the
    dimension's direction).
    """
    scores, _, _ = _judgment_scores(store, rubric=rubric, dimension=dimension, raters=raters,
                                    campaign=campaign, pair_by=pair_by, per_rater=False)
    lower_better = _direction(store, rubric, dimension) == "lower_is_better"
    rows = []
    for model, g in scores.groupby("model"):
        x = g["value"].to_numpy(float)
        row = {"model": model, "score": float(x.mean()), "n": len(x), "lower": np.nan, "upper": np.nan,
               "se": np.nan}
        if len(x) >= 2:
            clusters = g["cluster"].to_numpy() if g["has_cluster"].any() else None
            if clusters is not None and len(set(clusters)) < 2:
                clusters = None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                r = paired_test(np.zeros(len(x)), x, clusters=clusters, confidence=confidence)  # one-sample t
            row.update(lower=r.ci_low, upper=r.ci_high, se=r.se)
        rows.append(row)
    board = pd.DataFrame(rows).set_index("model")
    sign = -1.0 if lower_better else 1.0
    board["rank"] = RK.rank_with_ties(sign * board["lower" if not lower_better else "upper"],
                                      sign * board["upper" if not lower_better else "lower"])
    return board.sort_values("score", ascending=lower_better)[["score", "lower", "upper", "se", "n", "rank"]]


def add_style_features(store: Store, battles: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The style covariates of each battle from the responses' texts, and those that vary enough to use.

    Uses :func:`assay.stats.ranking.style_features` on ``response_a`` / ``response_b``
    (for judgment battles, each model's first sample on the prompt stands for it).
    """
    ids = sorted(set(battles["response_a"]) | set(battles["response_b"]))
    text = dict(zip(*store.frame("responses", id=ids)[["id", "text"]].to_numpy().T)) if ids else {}
    feats = RK.style_features(battles["response_a"].astype(object).map(text).fillna("").tolist(),
                              battles["response_b"].astype(object).map(text).fillna("").tolist())
    feats.index = battles.index
    # a covariate that differs in only a handful of battles cannot be estimated (and a bootstrap
    # round that misses them all is singular): keep those that differ in 1% of battles, at least 10
    need = max(10, int(0.01 * len(feats)))
    varying = [c for c in feats.columns if feats[c].std() > 0 and int((feats[c] != 0).sum()) >= need]
    return feats, varying


BASELINE_RATING = 1000.0


def _with_baseline_win_rate(board: pd.DataFrame) -> pd.DataFrame:
    """Each model's predicted win rate against the baseline (anchored at 1000), and its interval.

    P = 1 / (1 + 10 ** ((1000 - R) / 400)) is monotone in R and the baseline sits at 1000
    in every bootstrap round, so the rating interval maps to the win-rate interval.
    """
    def p(r: pd.Series) -> pd.Series:
        return 1.0 / (1.0 + 10.0 ** ((BASELINE_RATING - r) / 400.0))

    return board.assign(win_rate_vs_baseline=p(board["rating"]), win_rate_lower=p(board["lower"]),
                        win_rate_upper=p(board["upper"]))


@dataclass(frozen=True)
class BattleRules:
    """How stored verdicts become battles for :func:`rank_models`.

    ``aggregate``: how several raters' verdicts on one pair are combined (``"separate"``,
    the default for comparisons, keeps each; ``"mean"``, the default for judgments, compares
    the mean scores); ``pair_by``: how two models' answers to one prompt are matched (by
    ``"item"``, by ``"prompt"`` text, or ``"auto"``); ``one_per_rater`` keeps each rater's
    latest comparison per pair; ``strong_weight`` counts a strong win (strength 2) as that
    many battles. The last two apply to comparisons only.
    """

    aggregate: str | None = None
    pair_by: str = "auto"
    one_per_rater: bool = False
    strong_weight: int = 1


@dataclass(frozen=True)
class RatingFit:
    """How :func:`rank_models` fits ratings on the battles.

    ``l2``: ridge penalty of the Bradley-Terry fits (Arena uses 0.5; 0 is plain maximum
    likelihood); ``style_control`` adds ratings controlled for the answers' style, with
    ``style_rounds`` bootstrap rounds (default ``min(rounds, 200)``); ``baseline`` anchors
    that model at 1000 and adds win rates against it.
    """

    l2: float = 0.0
    style_control: bool = False
    style_rounds: int | None = None
    baseline: str | None = None


@dataclass
class Leaderboard:
    """A ranking and everything it was computed from."""

    source: str
    battles: pd.DataFrame
    ratings: RK.BootstrapRatings
    controlled: RK.ControlledRatings | None = None
    scores: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    win_rates: pd.DataFrame | None = None  # comparisons with a baseline: hard, soft and length-controlled
    assisted: dict[str, Any] | None = None  # judge-assisted (PPI++) ratings, see assay.analysis.judge_assisted

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: leaderboard rows, win-rate matrix, controlled ratings, mean scores."""

        def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
            return [{"model": m, **{k: _num(v) for k, v in r.items()}} for m, r in df.to_dict("index").items()]

        def matrix(df: pd.DataFrame) -> dict[str, Any]:
            return {"models": list(df.index), "values": [[_num(v) for v in r] for r in df.to_numpy()]}

        out: dict[str, Any] = {**self.meta, "source": self.source, "battles": len(self.battles),
                               "confidence": self.ratings.confidence, "rounds": self.ratings.rounds,
                               "failed_rounds": self.ratings.failed_rounds,
                               "leaderboard": rows(self.ratings.leaderboard),
                               "win_rate": matrix(self.ratings.win_rate),
                               "predicted_win_probability": matrix(self.ratings.predicted_win_probability)}
        if self.controlled is not None:
            c = self.controlled
            board = c.leaderboard if c.leaderboard is not None else c.ratings.to_frame("rating")
            out["style_control"] = {
                "leaderboard": rows(board),
                "coefficients": [{"covariate": k, "logit": _num(v), "elo": _num(c.coefficients_elo[k])}
                                 for k, v in c.coefficients.items()],
            }
        if self.scores is not None:
            out["mean_scores"] = rows(self.scores)
        if self.win_rates is not None:
            out["win_rates"] = rows(self.win_rates)
        if self.assisted is not None:
            out["judge_assisted"] = self.assisted
        return out


def _num(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if np.isnan(v) else float(v)
    return v


def rank_models(
    store: Store,
    *,
    comparisons: bool = False,
    select: Selection = Selection(),
    options: Options = Options(),
    battles: BattleRules = BattleRules(),
    fit: RatingFit = RatingFit(),
    assist: JudgeAssist | None = None,
) -> Leaderboard:
    """Rank models from comparisons (``comparisons=True``) or from a rubric dimension's judgments.

    ``select`` names the raters, the campaign, and the rubric and (one) dimension; ``options``
    the bootstrap rounds, confidence and seed; ``battles`` how verdicts become battles
    (:class:`BattleRules`); ``fit`` how ratings are fitted (:class:`RatingFit`).

    Comparisons: every stored comparison counts unless ``one_per_rater`` keeps each
    rater's latest one per pair; ``strong_weight`` counts a strong win (strength 2) as that
    many battles (see the module docstring); ``meta["comparisons"]`` counts what was
    stored, used and dropped. ``baseline`` anchors the ratings at 1000 for that model and
    adds each model's predicted win rate against it (with the interval its rating
    interval maps to), Arena-Hard's score; with comparisons it also gives each model's
    direct win rates against the baseline, hard, soft and length-controlled (AlpacaEval's,
    :func:`assay.analysis.winrates.baseline_win_rates`), in ``win_rates``.

    The leaderboard is :func:`assay.stats.ranking.bootstrap_ratings` on the battles
    (Bradley-Terry, percentile intervals, ranks that tie overlapping intervals, win
    rates). ``style_control`` adds :func:`~assay.stats.ranking.bradley_terry_controlled`
    on the responses' style features with ``style_rounds`` bootstrap rounds (default
    ``min(rounds, 200)``: each round is a full logistic refit). ``aggregate`` defaults to
    ``"separate"`` for comparisons and ``"mean"`` for judgments. The style covariates are
    divided by their standard deviation but not centred, so the controlled ratings are for
    equal style (zero difference) and each coefficient is per SD of its covariate.

    ``assist`` (:class:`~assay.analysis.judge_assisted.JudgeAssist`) adds judge-assisted
    ratings: the raters read here (or ``assist.judges``) are the judge, ``assist.humans``
    the people, and PPI++ Bradley-Terry combines the judge's verdicts on every unit with
    the people's on some (:mod:`assay.analysis.judge_assisted`), in ``assisted`` (the
    ``judge_assisted`` key of :meth:`Leaderboard.to_dict`); None when the people have no
    verdict in the selection. The leaderboard itself does not change.
    """
    rubric, dimension, raters, campaign = select.rubric, select.dimension, select.raters, select.campaign
    rounds, confidence = options.rounds, options.confidence
    aggregate, pair_by = battles.aggregate, battles.pair_by
    one_per_rater, strong_weight = battles.one_per_rater, battles.strong_weight
    l2, baseline = fit.l2, fit.baseline
    meta: dict[str, Any] = {}
    scores = None
    if comparisons:
        aggregate = aggregate or "separate"
        if strong_weight != 1 and aggregate != "separate":
            raise BadInput("strong_weight applies to separate battles: a majority battle has no strength")
        table = comparison_battles(store, raters=raters, campaign=campaign, rubric=rubric,
                                   dimension=dimension, aggregate=aggregate, one_per_rater=one_per_rater)
        meta["comparisons"] = table.attrs["comparisons"]
        unweighted = table
        table = weigh_strong_wins(table, strong_weight)
        meta.update(one_per_rater=one_per_rater, strong_weight=strong_weight)
        source = "comparisons"
    else:
        if not rubric or not dimension:
            raise BadInput("rank needs --rubric and --dimension, or --comparisons")
        if one_per_rater or strong_weight != 1:
            raise BadInput("one_per_rater and strong_weight apply to comparisons, not to judgments")
        aggregate = aggregate or "mean"
        table = judgment_battles(store, rubric=rubric, dimension=dimension, raters=raters, campaign=campaign,
                                 aggregate=aggregate, pair_by=pair_by)
        unweighted = table
        meta["pair_by"] = table.attrs.get("pair_by")
        scores = score_leaderboard(store, rubric=rubric, dimension=dimension, raters=raters, campaign=campaign,
                                   pair_by=meta["pair_by"], confidence=confidence)
        source = "judgments"
    if table.empty:
        raise BadInput("no battles: no comparisons (or no prompt answered by two models) match the filters")
    meta.update(rubric=rubric, dimension=dimension, aggregate=aggregate, raters=table.attrs.get("raters", []))
    if baseline is not None and baseline not in set(table["model_a"].unique()) | set(table["model_b"].unique()):
        raise BadInput(f"baseline model {baseline!r} is in no battle")
    try:
        ratings = RK.bootstrap_ratings(table, bootstrap=options.bootstrap(), l2=l2,
                                       elo=RK.EloScale(anchor=(baseline, BASELINE_RATING) if baseline else None))
    except ValueError as e:
        raise BadInput(f"{e} (some model never lost or never won: try --l2 0.5)") from None
    win_rates = None
    if baseline is not None:
        meta["baseline"] = baseline
        ratings.leaderboard = _with_baseline_win_rate(ratings.leaderboard)
        if comparisons:
            from assay.analysis.winrates import baseline_win_rates

            win_rates = baseline_win_rates(store, baseline, raters=raters, campaign=campaign, rubric=rubric,
                                           dimension=dimension, one_per_rater=one_per_rater)
    controlled = None
    if fit.style_control:
        feats, varying = add_style_features(store, table)
        meta["style_covariates"] = varying
        meta["style_covariates_constant"] = [c for c in feats.columns if c not in varying]  # or too rare
        if not varying:
            raise BadInput("style control: no style feature (length, headers, lists, bold) varies across battles")
        # Scale each covariate by its SD but do not centre it (standardize=False): centring would
        # rate models at the mean style difference, not at none, and here model_a is not a random side.
        z = feats[varying] / feats[varying].std(ddof=0)
        try:
            controlled = RK.bradley_terry_controlled(
                table.reset_index(drop=True), z.reset_index(drop=True), standardize=False, l2=l2,
                bootstrap=options.bootstrap(min(rounds, 200) if fit.style_rounds is None else fit.style_rounds))
        except ValueError as e:
            raise BadInput(f"style control: {e} (try --l2 0.5)") from None
    assisted = None
    if assist is not None:
        from assay.analysis.judge_assisted import judge_assisted

        judges = assist.judges or raters or table.attrs.get("raters", [])
        rules = BattleRules(aggregate=aggregate, pair_by=meta.get("pair_by") or pair_by, one_per_rater=one_per_rater)
        # the judges' battles are this board's when they are its raters (and, for comparisons, kept separate)
        same = (assist.judges is None or set(judges) == set(raters or ())) and aggregate != "majority"
        assisted = judge_assisted(store, replace(assist, judges=tuple(judges)), comparisons=comparisons,
                                  select=select, battles=rules, confidence=confidence, baseline=baseline,
                                  judge_battles=unweighted if same else None)
    return Leaderboard(source=source, battles=table, ratings=ratings, controlled=controlled, scores=scores,
                       meta=meta, win_rates=win_rates, assisted=assisted)
