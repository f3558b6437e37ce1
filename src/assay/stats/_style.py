"""Style- and length-controlled rankings (re-exported by :mod:`assay.stats.ranking`).

- :func:`style_features`: normalised differences in length and markdown between two responses.
- :func:`bradley_terry_controlled`: Bradley-Terry with covariates (Chatbot Arena style control).
- :func:`length_controlled_win_rate`: AlpacaEval's length-controlled win rate against a baseline.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import expit

from assay.stats import _bt
from assay.stats._bt import Bootstrap, EloScale

_FENCE = re.compile(r"```.*?```", re.DOTALL)
_HEADER = re.compile(r"^#{1,6}[ \t]+\S", re.MULTILINE)
_LIST = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+\S", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")

STYLE_COLUMNS = ("length", "headers", "lists", "bold")


def markdown_counts(text: str, *, tokenizer: Callable[[str], Sequence] | None = None) -> dict[str, int]:
    """Length (tokens; whitespace words by default) and counts of markdown headers, list items, bold spans.

    Fenced code blocks are left out of the markdown counts (their ``#`` lines are code).

    >>> markdown_counts("# Title\\n\\n- one\\n- **two**\\n1. three")
    {'length': 8, 'headers': 1, 'lists': 3, 'bold': 1}
    """
    prose = _FENCE.sub("", text)
    length = len(tokenizer(text)) if tokenizer is not None else len(text.split())
    return {
        "length": length,
        "headers": len(_HEADER.findall(prose)),
        "lists": len(_LIST.findall(prose)),
        "bold": len(_BOLD.findall(prose)),
    }


def style_features(
    responses_a: Sequence[str],
    responses_b: Sequence[str],
    *,
    tokenizer: Callable[[str], Sequence] | None = None,
) -> pd.DataFrame:
    """Style covariates of battles: (a - b) / (a + b + 1) for length, headers, list items and bold.

    The normalised difference follows Chatbot Arena's style control (Li et al. 2024,
    "Does style matter? Disentangling style and substance in Chatbot Arena", lmsys.org
    blog, 2024-08-28), which counts tokens, markdown headers, list items and bold spans
    in each answer. Pass the result as ``covariates`` to :func:`bradley_terry_controlled`.

    >>> style_features(["a b c d", "# H\\ntext"], ["a b", "text"]).round(3).to_dict("list")
    {'length': [0.286, 0.4], 'headers': [0.0, 0.5], 'lists': [0.0, 0.0], 'bold': [0.0, 0.0]}
    """
    if len(responses_a) != len(responses_b):
        raise ValueError("responses_a and responses_b differ in length")
    ca = pd.DataFrame([markdown_counts(t, tokenizer=tokenizer) for t in responses_a], columns=STYLE_COLUMNS)
    cb = pd.DataFrame([markdown_counts(t, tokenizer=tokenizer) for t in responses_b], columns=STYLE_COLUMNS)
    out = (ca - cb) / (ca + cb + 1)
    if isinstance(responses_a, pd.Series):
        out.index = responses_a.index
    return out.astype(float)


@dataclass
class ControlledRatings:
    """Bradley-Terry ratings with covariates held at zero difference, and the covariates' effects.

    ``ratings``: Elo-scale Series (best first). ``coefficients``: logit-scale effect of
    one unit of each covariate (one standard deviation when standardised), and
    ``coefficients_elo`` the same in Elo points. ``leaderboard`` has bootstrap intervals
    when a bootstrap was asked for.
    """

    ratings: pd.Series
    coefficients: pd.Series
    coefficients_elo: pd.Series
    leaderboard: pd.DataFrame | None = None
    coefficient_samples: pd.DataFrame | None = None


def _covariate_matrix(battles: pd.DataFrame, covariates) -> pd.DataFrame:
    if isinstance(covariates, pd.DataFrame):
        if len(covariates) != len(battles):
            raise ValueError("covariates must have one row per battle")
        cov = covariates.reset_index(drop=True)
    else:
        cols = [covariates] if isinstance(covariates, str) else list(covariates)
        missing = set(cols) - set(battles.columns)
        if missing:
            raise ValueError(f"battles lacks covariate column(s) {sorted(missing)}")
        cov = battles[cols].reset_index(drop=True)
    cov = cov.astype(float)
    if not np.all(np.isfinite(cov.to_numpy())):
        raise ValueError("covariates must be finite")
    return cov


def bradley_terry_controlled(
    battles: pd.DataFrame,
    covariates: pd.DataFrame | Sequence[str] | str,
    *,
    standardize: bool = True,
    elo: EloScale = EloScale(),
    weights: str | None = None,
    l2: float = 0.0,
    bootstrap: Bootstrap | None = None,
) -> ControlledRatings:
    """Bradley-Terry with covariates: ratings as if the covariates did not differ.

    Model (Chatbot Arena style control, Li et al. 2024; Bradley-Terry with battle
    covariates): logit P(a beats b) = (R_a - R_b) ln(base)/scale + gamma . z, where
    z holds the battle's covariates (for style: differences between a's and b's
    answers, see :func:`style_features`), divided by their standard deviation when
    ``standardize`` but not centred: a covariate's zero means "no difference between the
    two answers", so the ratings are those at equal style. (Arena also centres; that is
    the same only when sides are assigned at random, and wrong when model_a is fixed by
    an order, as in battles built from a store.) Fit by maximum likelihood over battles (a tie is half a win to each side,
    ``l2`` a ridge penalty on all logit-scale parameters; Arena uses 0.5). The
    ratings are the model terms; ``coefficients`` are gamma.

    ``elo`` shows the strengths as ratings (:class:`~assay.stats.ranking.EloScale`).
    ``bootstrap`` (:class:`~assay.stats.ranking.Bootstrap`) adds a bootstrap over battles
    with percentile intervals and interval-aware ranks; None (or 0 rounds) adds none.

    >>> b = pd.DataFrame({"model_a": ["x"] * 8, "model_b": ["y"] * 8, "len": [1] * 4 + [-1] * 4,
    ...                   "winner": ["model_a"] * 3 + ["model_b"] * 2 + ["model_a"] + ["model_b"] * 2})
    >>> res = bradley_terry_controlled(b, ["len"], standardize=False)
    >>> # x wins 3 of 4 when longer, 1 of 4 when shorter: no skill gap, length is worth ln 3
    >>> round(float(res.ratings["x"] - res.ratings["y"]), 6), round(float(res.coefficients["len"]), 6)
    (0.0, 1.098612)
    """
    a, b, code, models = _bt.battle_codes(battles)
    cov = _covariate_matrix(battles, covariates)
    names = list(cov.columns)
    z = cov.to_numpy()
    if standardize:
        sd = z.std(axis=0)
        if np.any(sd == 0):
            raise ValueError(f"covariate(s) {[n for n, s in zip(names, sd) if s == 0]} do not vary")
        z = z / sd
    w = np.ones(len(battles)) if weights is None else battles[weights].to_numpy(dtype=float)
    y = code / 2.0
    m = len(models)
    x = _bt.pair_design(a, b, m, z)
    pen = np.full(m + z.shape[1], float(l2))
    gauge = None
    if l2 == 0:
        gauge = np.r_[np.full(m, 1 / math.sqrt(m)), np.zeros(z.shape[1])]
        wins = _bt.win_matrix(_bt.BattleTable(models, a, b, y, w, float(w.sum())))
        if not _bt.mle_exists(wins):
            raise _bt.NoFiniteMLE("some group of models never lost (or never won): pass l2 > 0")
    try:
        beta = _bt.fit_logistic(x, y, w, l2=pen, gauge=gauge)
    except np.linalg.LinAlgError:
        raise ValueError(
            "the covariates are collinear (with each other or with the model terms): "
            "drop some of them or pass l2 > 0"
        ) from None

    from assay.stats.ranking import _summarise, _to_elo_scale

    to_elo = elo.scale / math.log(elo.base)
    idx = pd.Index(models, name="model")
    ratings = pd.Series(_to_elo_scale(beta[:m] - beta[:m].mean(), models, elo), index=idx, name="rating")
    coef = pd.Series(beta[m:], index=names, name="coefficient")
    result = ControlledRatings(
        ratings=ratings.sort_values(ascending=False), coefficients=coef, coefficients_elo=coef * to_elo
    )
    rounds = bootstrap.rounds if bootstrap is not None else 0
    if bootstrap is not None and rounds > 0:
        rng = np.random.default_rng(bootstrap.random_state)
        boot = np.full((rounds, m), np.nan)
        coefs = np.full((rounds, len(names)), np.nan)
        failed = 0
        for r in range(rounds):
            draw = rng.multinomial(len(battles), w / w.sum()) * (w.sum() / len(battles))
            if l2 == 0:
                wins = _bt.win_matrix(_bt.BattleTable(models, a, b, y, draw, float(draw.sum())))
                if not _bt.mle_exists(wins):
                    failed += 1
                    continue
            beta_r = _bt.fit_logistic(x, y, draw, l2=pen, gauge=gauge, x0=beta)
            boot[r] = _to_elo_scale(beta_r[:m] - beta_r[:m].mean(), models, elo)
            coefs[r] = beta_r[m:]
        table = _bt.BattleTable(models, a, b, y, w, float(w.sum()))
        coef_samples = pd.DataFrame(coefs, columns=names)
        summary = _summarise(table, ratings.to_numpy(), boot, failed, elo=elo, bootstrap=bootstrap)
        result.leaderboard = summary.leaderboard
        result.coefficient_samples = coef_samples
    return result


def _tanh_std(delta: np.ndarray) -> np.ndarray:
    sd = np.std(delta, ddof=1) if len(delta) > 1 else 0.0
    return np.tanh(delta / sd) if sd > 0 else np.zeros_like(delta)


def length_controlled_win_rate(
    battles: pd.DataFrame,
    baseline: str,
    *,
    length_a: str = "length_a",
    length_b: str = "length_b",
    instruction: str = "instruction",
    difficulty: pd.Series | None = None,
    l2: float = 1.0,
) -> pd.DataFrame:
    """AlpacaEval's length-controlled win rate of each model against ``baseline``.

    Method (Dubois et al. 2024, "Length-Controlled AlpacaEval: A Simple Way to Debias
    Automatic Evaluators", arXiv 2404.04475, Sec. 3): for each model m fit the GLM

        logit P(m beats baseline on instruction x)
            = theta_m + phi_m tanh((len_m - len_base) / sd_m) + psi_m gamma_x

    where sd_m is the standard deviation of model m's length differences and gamma_x
    the instruction's difficulty; the length-controlled win rate is the mean over m's
    battles of sigmoid(theta_m + psi_m gamma_x), the prediction with the length term
    zeroed. Ties count as half a win.

    ``difficulty`` (indexed by instruction id) defaults to an estimate from these
    battles: the negated instruction effect of a joint logistic fit with per-model
    intercepts and length slopes and a ridge penalty of 1 on the instruction effects
    (AlpacaEval instead ships difficulties fit once on many models). Each per-model GLM
    carries a ridge penalty ``l2`` on its three coefficients, where AlpacaEval uses an
    L1 penalty chosen by cross-validation and a pull towards two "gamed" baselines.

    Returns a DataFrame indexed by model with ``battles``, ``win_rate``,
    ``lc_win_rate`` (fractions) and the GLM coefficients ``intercept``,
    ``length_coef``, ``difficulty_coef``.
    """
    need = {length_a, length_b, instruction} - set(battles.columns)
    if need:
        raise ValueError(f"battles lacks column(s) {sorted(need)}")
    a, b, code, models = _bt.battle_codes(battles)
    if baseline not in models:
        raise ValueError(f"baseline {baseline!r} is not in the battles")
    base_id = models.index(baseline)
    la = battles[length_a].to_numpy(dtype=float)
    lb = battles[length_b].to_numpy(dtype=float)
    is_a = a == base_id
    involved = is_a | (b == base_id)
    if not involved.any():
        raise ValueError(f"no battle involves the baseline {baseline!r}")
    other = np.where(is_a, b, a)[involved]
    pref = np.where(is_a, 1 - code / 2.0, code / 2.0)[involved]
    delta = np.where(is_a, lb - la, la - lb)[involved]
    instr = battles[instruction].to_numpy()[involved]
    feat = np.zeros(len(other))
    for mid in np.unique(other):
        sel = other == mid
        feat[sel] = _tanh_std(delta[sel])

    if difficulty is None:
        difficulty = _estimate_difficulty(other, instr, feat, pref)
    gamma = pd.Series(difficulty).reindex(instr).to_numpy(dtype=float)
    if np.isnan(gamma).any():
        raise ValueError("difficulty lacks some instructions in the battles")

    rows = []
    for mid in np.unique(other):
        sel = other == mid
        x = sparse.csr_matrix(np.column_stack([np.ones(sel.sum()), feat[sel], gamma[sel]]))
        beta = _bt.fit_logistic(x, pref[sel], np.ones(sel.sum()), l2=np.full(3, float(l2)))
        lc = expit(beta[0] + beta[2] * gamma[sel]).mean()
        rows.append(
            {
                "model": models[mid],
                "battles": int(sel.sum()),
                "win_rate": float(pref[sel].mean()),
                "lc_win_rate": float(lc),
                "intercept": beta[0],
                "length_coef": beta[1],
                "difficulty_coef": beta[2],
            }
        )
    return pd.DataFrame(rows).set_index("model").sort_values("lc_win_rate", ascending=False)


def _estimate_difficulty(other: np.ndarray, instr: np.ndarray, feat: np.ndarray, pref: np.ndarray) -> pd.Series:
    """Instruction difficulty from a joint ridge logistic fit (higher = the baseline wins more)."""
    inst_codes, inst_names = pd.factorize(instr)
    mids, mcodes = np.unique(other, return_inverse=True)
    nm, ni, r = len(mids), len(inst_names), len(other)
    rows = np.arange(r)
    x = sparse.hstack(
        [
            sparse.csr_matrix((np.ones(r), (rows, mcodes)), shape=(r, nm)),
            sparse.csr_matrix((feat, (rows, mcodes)), shape=(r, nm)),
            sparse.csr_matrix((np.ones(r), (rows, inst_codes)), shape=(r, ni)),
        ],
        format="csr",
    )
    pen = np.r_[np.full(2 * nm, 1e-6), np.ones(ni)]
    beta = _bt.fit_logistic(x, pref, np.ones(r), l2=pen)
    return pd.Series(-beta[2 * nm :], index=inst_names, name="difficulty")
