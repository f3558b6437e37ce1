"""Private solvers behind :mod:`assay.stats.ranking`: battle tables and Bradley-Terry fits.

Everything here works in natural (logit) units; :mod:`assay.stats.ranking` converts
to the Elo scale. Nothing here is public API.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, sparse
from scipy.sparse.csgraph import connected_components
from scipy.special import expit, log_expit

WINNER_CODES = {"model_b": 0, "tie": 1, "tie (bothbad)": 1, "model_a": 2}


@dataclass(frozen=True)
class BattleTable:
    """Battles deduplicated into unique (model_a, model_b, outcome) rows with counts.

    ``outcome`` is 1.0 (model_a won), 0.5 (tie) or 0.0 (model_b won). Models are
    numbered in order of first appearance (model_a column first, then model_b), and
    rows are sorted by (a, b, outcome code), as Chatbot Arena's ``np.unique`` recipe
    does, so a seeded multinomial draws the same samples in both.
    """

    models: list
    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray
    count: np.ndarray
    n_battles: float

    @property
    def n_models(self) -> int:
        return len(self.models)


def check_battles(battles: pd.DataFrame) -> None:
    """Raise ValueError unless ``battles`` has the three Arena columns and known winners."""
    missing = {"model_a", "model_b", "winner"} - set(battles.columns)
    if missing:
        raise ValueError(f"battles lacks column(s) {sorted(missing)}")
    if len(battles) == 0:
        raise ValueError("battles is empty")
    bad = set(pd.unique(battles["winner"])) - set(WINNER_CODES)
    if bad:
        raise ValueError(
            f"unknown winner value(s) {sorted(map(str, bad))}; expected one of {sorted(WINNER_CODES)}"
        )
    if (battles["model_a"] == battles["model_b"]).any():
        raise ValueError("a battle has the same model on both sides")


def battle_codes(battles: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """Integer model ids for both sides, the outcome code (0, 1, 2) and the model list."""
    check_battles(battles)
    n = len(battles)
    ids, models = pd.factorize(pd.concat([battles["model_a"], battles["model_b"]], ignore_index=True))
    code = battles["winner"].map(WINNER_CODES).to_numpy(dtype=np.int64)
    return ids[:n].astype(np.int64), ids[n:].astype(np.int64), code, list(models)


def battle_table(battles: pd.DataFrame, weights: str | None = None) -> BattleTable:
    """Deduplicate battles into a :class:`BattleTable` (optionally summing a weight column)."""
    a, b, code, models = battle_codes(battles)
    m = len(models)
    key = (a * m + b) * 3 + code
    if weights is None:
        w = None
    else:
        w = battles[weights].to_numpy(dtype=float)
        if np.any(w < 0) or not np.all(np.isfinite(w)):
            raise ValueError(f"weight column {weights!r} must be finite and non-negative")
    uniq, inverse = np.unique(key, return_inverse=True)
    count = np.bincount(inverse, weights=w, minlength=len(uniq)).astype(float)
    keep = count > 0
    uniq, count = uniq[keep], count[keep]
    return BattleTable(
        models=models,
        a=(uniq // 3) // m,
        b=(uniq // 3) % m,
        outcome=(uniq % 3) / 2.0,
        count=count,
        n_battles=float(count.sum()),
    )


def win_matrix(table: BattleTable, count: np.ndarray | None = None) -> np.ndarray:
    """W[i, j]: wins of model i over model j, a tie counting half to each side."""
    m = table.n_models
    c = table.count if count is None else count
    w = np.bincount(table.a * m + table.b, weights=c * table.outcome, minlength=m * m)
    w = w + np.bincount(table.b * m + table.a, weights=c * (1.0 - table.outcome), minlength=m * m)
    return w.reshape(m, m)


def mle_exists(wins: np.ndarray) -> bool:
    """Whether the Bradley-Terry MLE is finite (Zermelo/Ford: the 'beats' graph is strongly connected)."""
    if wins.shape[0] < 2:
        return False
    n_comp, _ = connected_components(sparse.csr_matrix(wins > 0), directed=True, connection="strong")
    return n_comp == 1


class NoFiniteMLE(ValueError):
    """The battles leave some model unbeaten or unbeating, so its rating is infinite."""


def fit_matrix(
    wins: np.ndarray,
    *,
    l2: float = 0.0,
    x0: np.ndarray | None = None,
    tol: float = 1e-12,
    max_iter: int = 100,
    check: bool = True,
) -> np.ndarray:
    """Bradley-Terry MLE from a win matrix by damped Newton steps, in logit units, mean zero.

    Maximises sum_ij W_ij log sigmoid(t_i - t_j) - l2/2 |t|^2. The Hessian is a weighted
    graph Laplacian; adding the all-ones matrix fixes the free shift (the gradient and
    the step both sum to zero), so each step is one small dense solve.
    """
    m = wins.shape[0]
    if check and l2 == 0 and not mle_exists(wins):
        raise NoFiniteMLE(
            "the Bradley-Terry maximum-likelihood ratings are infinite: some group of models "
            "never lost (or never won) against the rest; add battles or pass l2 > 0"
        )
    n = wins + wins.T
    row_wins = wins.sum(axis=1)
    t = np.zeros(m) if x0 is None else np.asarray(x0, dtype=float) - np.mean(x0)
    ones = np.full((m, m), 1.0 / m) if l2 == 0 else 0.0
    scale = max(n.sum(), 1.0)

    def objective(t: np.ndarray) -> float:
        return float(np.sum(wins * log_expit(t[:, None] - t[None, :]))) - 0.5 * l2 * float(t @ t)

    f = objective(t)
    for _ in range(max_iter):
        p = expit(t[:, None] - t[None, :])
        grad = row_wins - (n * p).sum(axis=1) - l2 * t
        a = n * p * p.T
        lap = np.diag(a.sum(axis=1) + l2) - a + ones * scale / m
        step = linalg.solve(lap, grad, assume_a="pos", check_finite=False)
        # Backtrack only when a full Newton step fails to improve (far from the optimum).
        lr = 1.0
        while True:
            t_new = t + lr * step
            f_new = objective(t_new)
            if f_new >= f - 1e-12 * abs(f) or lr < 1e-8:
                break
            lr *= 0.5
        t, f = t_new, f_new
        if np.max(np.abs(lr * step)) < tol:
            break
    else:
        warnings.warn("Bradley-Terry Newton solver did not converge", RuntimeWarning, stacklevel=3)
    return t - t.mean()


def fit_logistic(
    x: sparse.csr_matrix,
    y: np.ndarray,
    w: np.ndarray,
    *,
    l2: np.ndarray,
    gauge: np.ndarray | None = None,
    x0: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> np.ndarray:
    """Weighted logistic regression with soft labels y in [0, 1] by damped Newton steps.

    Maximises sum_r w_r [y_r log p_r + (1 - y_r) log(1 - p_r)] - 1/2 sum_k l2_k beta_k^2
    with p = sigmoid(x beta). ``gauge`` is a unit direction the likelihood cannot see
    (the common shift of unpenalised model ratings); the solution is kept orthogonal to it.
    """
    k = x.shape[1]
    beta = np.zeros(k) if x0 is None else np.array(x0, dtype=float)
    xt = x.T.tocsr()
    fix = 0.0 if gauge is None else np.outer(gauge, gauge) * max(float(w.sum()), 1.0)

    def objective(beta: np.ndarray) -> float:
        eta = x @ beta
        return float(np.sum(w * (y * log_expit(eta) + (1 - y) * log_expit(-eta)))) - 0.5 * float(
            np.sum(l2 * beta * beta)
        )

    f = objective(beta)
    for _ in range(max_iter):
        p = expit(x @ beta)
        grad = xt @ (w * (y - p)) - l2 * beta
        d = w * p * (1 - p)
        hess = (xt @ sparse.diags(d) @ x).toarray() + np.diag(l2) + fix
        step = linalg.solve(hess, grad, assume_a="pos", check_finite=False)
        lr = 1.0
        while True:
            b_new = beta + lr * step
            f_new = objective(b_new)
            if f_new >= f - 1e-12 * abs(f) or lr < 1e-8:
                break
            lr *= 0.5
        beta, f = b_new, f_new
        if np.max(np.abs(lr * step)) < tol:
            break
    else:
        warnings.warn("logistic Newton solver did not converge", RuntimeWarning, stacklevel=3)
    return beta


def pair_design(a: np.ndarray, b: np.ndarray, n_models: int, features: np.ndarray | None = None):
    """Sparse design matrix: +1 in model a's column, -1 in model b's, then dense features."""
    r = len(a)
    rows = np.repeat(np.arange(r), 2)
    cols = np.column_stack([a, b]).ravel()
    vals = np.tile([1.0, -1.0], r)
    x = sparse.csr_matrix((vals, (rows, cols)), shape=(r, n_models))
    if features is not None and features.shape[1]:
        x = sparse.hstack([x, sparse.csr_matrix(features)], format="csr")
    return x
