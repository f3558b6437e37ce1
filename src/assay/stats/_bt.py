"""Private solvers behind :mod:`assay.stats.ranking`: battle tables and Bradley-Terry fits.

Everything here works in natural (logit) units; :mod:`assay.stats.ranking` converts
to the Elo scale. Nothing here is public API.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, sparse, special
from scipy.sparse.csgraph import connected_components
from scipy.special import expit, log_expit

WINNER_CODES = {"model_b": 0, "tie": 1, "tie (bothbad)": 1, "model_a": 2}


@dataclass(frozen=True)
class EloScale:
    """How logit-scale Bradley-Terry strengths are shown as ratings (public as ``assay.stats.ranking.EloScale``).

    A difference of ``scale`` points means odds of ``base`` to 1; the ratings' mean is
    ``init`` unless ``anchor=(model, rating)`` pins one model. The defaults are Chatbot
    Arena's (400, 10, 1000).
    """

    scale: float = 400
    base: float = 10
    init: float = 1000
    anchor: tuple[str, float] | None = None


@dataclass(frozen=True)
class Bootstrap:
    """Bootstrap settings of a rating fit (public as ``assay.stats.ranking.Bootstrap``).

    ``rounds`` resamples of the battles, percentile intervals at ``confidence``, drawn from
    ``random_state`` (an int seed, a ``numpy.random.Generator`` or None for fresh entropy).
    """

    rounds: int = 1000
    confidence: float = 0.95
    random_state: int | np.random.Generator | None = None


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


def battle_codes(battles: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """Integer model ids for both sides, the outcome code (0 b won, 1 tie, 2 a won) and the model list.

    Models are numbered in order of first appearance, the model_a column before model_b.
    """
    missing = {"model_a", "model_b", "winner"} - set(battles.columns)
    if missing:
        raise ValueError(f"battles lacks column(s) {sorted(missing)}")
    if len(battles) == 0:
        raise ValueError("battles is empty")
    win_codes, win_values = pd.factorize(battles["winner"])
    bad = set(win_values) - set(WINNER_CODES)
    if bad or (win_codes < 0).any():
        raise ValueError(
            f"unknown winner value(s) {sorted(map(str, bad)) or ['missing']}; expected one of {sorted(WINNER_CODES)}"
        )
    code = np.array([WINNER_CODES[v] for v in win_values], dtype=np.int64)[win_codes]
    ca, ua = pd.factorize(battles["model_a"])
    cb, ub = pd.factorize(battles["model_b"])
    if (ca < 0).any() or (cb < 0).any():
        raise ValueError("a battle lacks a model name")
    models = pd.Index(ua).append(pd.Index(ub).difference(pd.Index(ua), sort=False))
    a = ca.astype(np.int64)
    b = models.get_indexer(ub).astype(np.int64)[cb]
    if (a == b).any():
        raise ValueError("a battle has the same model on both sides")
    return a, b, code, list(models)


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
    if m * m * 3 <= 50_000_000:
        count = np.bincount(key, weights=w, minlength=m * m * 3).astype(float)
        uniq = np.flatnonzero(count)
        count = count[uniq]
    else:
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


def _maximise(x: np.ndarray, objective: Callable[[np.ndarray], float],
              newton_step: Callable[[np.ndarray], np.ndarray], *, tol: float, max_iter: int, what: str) -> np.ndarray:
    """Damped Newton ascent from ``x``: the full step unless it lowers ``objective``, else halved
    until it does not (or below 1e-8); stops when a step moves no coordinate by ``tol``."""
    f = objective(x)
    for _ in range(max_iter):
        step = newton_step(x)
        # Backtrack only when a full Newton step fails to improve (far from the optimum).
        lr = 1.0
        while True:
            x_new = x + lr * step
            f_new = objective(x_new)
            if f_new >= f - 1e-12 * abs(f) or lr < 1e-8:
                break
            lr *= 0.5
        x, f = x_new, f_new
        if np.max(np.abs(lr * step)) < tol:
            break
    else:
        warnings.warn(f"{what} Newton solver did not converge", RuntimeWarning, stacklevel=4)
    return x


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

    def newton_step(t: np.ndarray) -> np.ndarray:
        p = expit(t[:, None] - t[None, :])
        grad = row_wins - (n * p).sum(axis=1) - l2 * t
        a = n * p * p.T
        lap = np.diag(a.sum(axis=1) + l2) - a + ones * scale / m
        return linalg.solve(lap, grad, assume_a="pos", check_finite=False)

    t = _maximise(t, objective, newton_step, tol=tol, max_iter=max_iter, what="Bradley-Terry")
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

    def newton_step(beta: np.ndarray) -> np.ndarray:
        p = expit(x @ beta)
        grad = xt @ (w * (y - p)) - l2 * beta
        d = w * p * (1 - p)
        hess = (xt @ sparse.diags(d) @ x).toarray() + np.diag(l2) + fix
        return linalg.solve(hess, grad, assume_a="pos", check_finite=False)

    return _maximise(beta, objective, newton_step, tol=tol, max_iter=max_iter, what="logistic")


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


# --- bootstrap: resampled counts and a batched solver ----------------------------------


@dataclass(frozen=True)
class PairCounts:
    """Battles pooled by unordered pair (i < j): per pair the counts [j won, tie, i won].

    Bradley-Terry's likelihood depends on the battles only through these counts, and a
    multinomial over the unique (model_a, model_b, outcome) rows, pooled this way, is a
    multinomial over these categories (the aggregation property), so resampling them
    gives the same bootstrap distribution with half the categories.
    """

    i: np.ndarray
    j: np.ndarray
    counts: np.ndarray
    n_models: int


def pair_counts(table: BattleTable) -> PairCounts:
    m = table.n_models
    lo, hi = np.minimum(table.a, table.b), np.maximum(table.a, table.b)
    code = np.rint(np.where(table.a == lo, 2 * table.outcome, 2 - 2 * table.outcome)).astype(np.int64)
    pairs, inv = np.unique(lo * m + hi, return_inverse=True)
    counts = np.bincount(inv * 3 + code, weights=table.count, minlength=3 * len(pairs))
    return PairCounts(i=pairs // m, j=pairs % m, counts=counts, n_models=m)


def _search_from(cdf: np.ndarray, j: np.ndarray, u: np.ndarray, last: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The first index i >= j with cdf[i] >= u, for guides j at or before it and cdf[last(pos)] >= u.

    One step forward settles most; the rest (where a guide bucket spans many values) bisect.
    ``cdf`` ends in a sentinel above 1, so a step past the last entry stays in bounds.
    """
    behind = np.flatnonzero(cdf[j] < u)
    j[behind] += 1
    behind = behind[cdf[j[behind]] < u[behind]]
    if len(behind):  # cdf[lo] < u <= cdf[hi]
        lo, ub = j[behind], u[behind]
        hi = np.maximum(last(behind), lo)
        while np.any(hi - lo > 1):
            mid = (lo + hi) // 2
            low = cdf[mid] < ub
            lo, hi = np.where(low, mid, lo), np.where(low, hi, mid)
        j[behind] = hi
    return j


def _guide(cdf: np.ndarray, category: np.ndarray, starts: np.ndarray, ends: np.ndarray, below: np.ndarray,
           scale: np.ndarray, buckets: np.ndarray) -> np.ndarray:
    """Guide tables (Chen & Asau 1974) over concatenated CDFs: bucket g of a category holds the first
    entry j with floor((cdf[j] - below) scale) >= g, so a search for u in bucket floor((u - below) scale)
    starts at or before its answer (the same floating operations on both sides keep it so)."""
    g = np.floor((cdf - below[category]) * scale[category]).astype(np.int64)
    span = np.diff(g, prepend=0)
    span[starts] = g[starts] + 1
    span[ends] += buckets - g[ends]  # buckets past the last entry's (rounding) point to it
    return np.repeat(np.arange(len(cdf), dtype=np.int32 if len(cdf) < 2**31 else np.int64), span)


def poisson_quantile(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """The smallest count x with P(X <= x) >= u for X ~ Poisson(lam): the exact inverse CDF.

    Starts from the continuous inverse (``pdtrik``) and settles by checking the CDF itself.
    """
    x = np.maximum(np.ceil(np.nan_to_num(special.pdtrik(u, lam), nan=0.0)), 0).astype(np.int64)
    for _ in range(64):  # ulp-level disagreements between pdtrik and pdtr: a step or two
        up = special.pdtr(x, lam) < u
        down = (x > 0) & (special.pdtr(np.maximum(x - 1, 0), lam) >= u)
        if not (up.any() or down.any()):
            break
        x = x + up - down
    return x


class PoissonTable:
    """Inverse-CDF tables for drawing Poisson(lam_k) counts with the same means round after round.

    Per category k the CDF over lo_k..hi_k (about 5 SD either side of the mean) and a
    guide table (Chen & Asau 1974) of size_k + 1 buckets over that range: bucket g holds
    the first value whose CDF reaches its lower edge, so the search for u starts at its
    answer or a step before it. A uniform beyond the table's range (about one in a
    million) is inverted exactly by :func:`poisson_quantile`. The draws are the inverse
    CDF of uniform doubles, so exact to their resolution; several times faster than
    numpy's rejection sampler.
    """

    def __init__(self, lam: np.ndarray) -> None:
        self.lam = lam
        lo, hi = self.bounds(lam)
        self.size = hi - lo + 1
        self.off = np.concatenate([[0], np.cumsum(self.size)])
        total = int(self.off[-1])
        starts, ends = self.off[:-1], self.off[1:] - 1
        k = np.repeat(np.arange(len(lam)), self.size)
        x = np.arange(total) - starts[k] + lo[k]
        # log pmf by the recurrence pmf(x) = pmf(x - 1) lam / x from each category's first value
        step = np.log(lam[k]) - np.log(np.maximum(x, 1))
        step[starts] = special.xlogy(lo, lam) - lam - special.gammaln(lo + 1.0)
        logpmf = np.cumsum(step)
        logpmf -= np.concatenate([[0.0], logpmf[ends[:-1]]])[k]
        self.below = np.where(lo > 0, special.pdtr(np.maximum(lo - 1, 0), lam), 0.0)  # P(X < lo)
        cdf = np.cumsum(np.exp(logpmf))
        cdf -= np.concatenate([[0.0], cdf[ends[:-1]]])[k]
        cdf += self.below[k]
        self.cdf = np.append(cdf, 2.0)  # the sentinel _search_from wants
        self.top = cdf[ends]
        self.buckets = 2 * self.size
        self.scale = self.buckets / (self.top - self.below)
        self.guide = _guide(cdf, k, starts, ends, self.below, self.scale, self.buckets)
        self.goff = np.concatenate([[0], np.cumsum(self.buckets + 1)[:-1]])
        self.base = lo - starts

    @staticmethod
    def bounds(lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The table's range: about 5 SD either side of the mean (the rest, ~1e-6, goes to ``ppf``)."""
        sd = np.sqrt(lam)
        return np.maximum(0, np.floor(lam - 5 * sd)).astype(np.int64), np.ceil(lam + 5 * sd + 3).astype(np.int64)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` x categories Poisson counts."""
        # categories x rounds: the lookups of one category stay in its few cache lines
        u = rng.random((len(self.size), size))
        inside = (u > self.below[:, None]) & (u <= self.top[:, None])
        g = ((u - self.below[:, None]) * self.scale[:, None]).astype(np.int64)
        np.clip(g, 0, self.buckets[:, None], out=g)
        g += self.goff[:, None]
        j = self.guide[g].astype(np.int64)
        ends = self.off[1:] - 1
        # (uniforms outside the table search too, harmlessly: their answers are replaced below)
        _search_from(self.cdf, j.reshape(-1), u.reshape(-1), lambda pos: ends[pos // size])
        x = j + self.base[:, None]
        out = np.flatnonzero(~inside)
        if len(out):
            x.reshape(-1)[out] = poisson_quantile(u.reshape(-1)[out], self.lam[out // size])
        return x.T


class MultinomialDraws:
    """Draws from Multinomial(n, p), as independent Poisson(mu p) counts made to total n.

    Poisson counts with total t are Multinomial(t, p) whatever mu is; adding n - t further
    categorical draws, or deleting t - n of the t items chosen uniformly without
    replacement, leaves an exact Multinomial(n, p). With mu = n - sqrt(n) most rounds come
    out short (t < n), and their additions are drawn for all rounds at once; the few long
    ones delete one round at a time. The Poisson counts come from inverse-CDF tables
    (:class:`PoissonTable`) when ``rounds`` draws repay building them, else from numpy's
    sampler.
    """

    def __init__(self, p: np.ndarray, n: int, rounds: int) -> None:
        self.n, self.width = n, len(p)
        self.nz = np.flatnonzero(p > 0)
        q = p[self.nz] / p[self.nz].sum()
        cdf = np.cumsum(q)
        cdf /= cdf[-1]
        k = len(q)
        self.guide = _guide(cdf, np.zeros(k, dtype=np.int64), np.array([0]), np.array([k - 1]), np.zeros(1),
                            np.array([float(k)]), np.array([k]))
        self.cdf = np.append(cdf, 2.0)
        self.lam = max(n - np.sqrt(n), 0.0) * q
        lo, hi = PoissonTable.bounds(self.lam)
        entries = float(np.sum(hi - lo + 1))
        # building a table entry costs about what a Poisson draw by rejection does; 1e8 entries is ~2 GB
        self.table = PoissonTable(self.lam) if rounds * len(q) >= 2 * entries and entries < 1e8 else None

    def __call__(self, rng: np.random.Generator, size: int) -> np.ndarray:
        n, k = self.n, len(self.nz)
        draws = self.table.draw(rng, size) if self.table is not None else rng.poisson(self.lam, size=(size, k))
        draws = np.ascontiguousarray(draws)
        short = n - draws.sum(axis=1)
        rows = np.flatnonzero(short > 0)
        if len(rows):
            u = rng.random(int(short[rows].sum()))
            extra = _search_from(self.cdf, self.guide[(u * k).astype(np.int64)].astype(np.int64), u,
                                 lambda pos: np.full(len(pos), k - 1))
            cell = np.repeat(rows, short[rows]) * k + extra
            draws += np.bincount(cell, minlength=size * k).reshape(size, k)
        for r in np.flatnonzero(short < 0):
            row = draws[r]
            pos = np.sort(rng.choice(n - short[r], size=-short[r], replace=False))
            row -= np.bincount(np.searchsorted(np.cumsum(row), pos, side="right"), minlength=k)
        if k == self.width:
            return draws
        out = np.zeros((size, self.width), dtype=np.int64)
        out[:, self.nz] = draws
        return out


def multinomial_counts(p: np.ndarray, n: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` draws from Multinomial(n, p) (see :class:`MultinomialDraws`)."""
    return MultinomialDraws(p, n, size)(rng, size)


def hessian(wins: np.ndarray, t: np.ndarray, l2: float) -> np.ndarray:
    """Negative Hessian of the log-likelihood at t, plus the all-ones fix when l2 == 0."""
    m = len(t)
    n = wins + wins.T
    p = expit(t[:, None] - t[None, :])
    a = n * p * p.T
    h = np.diag(a.sum(axis=1) + l2) - a
    if l2 == 0:
        h += max(n.sum(), 1.0) / m**2
    return h


def fit_pairs_batch(
    pc: PairCounts,
    counts: np.ndarray,
    x0: np.ndarray,
    h0_inv: np.ndarray,
    *,
    l2: float = 0.0,
    tol: float = 1e-9,
    max_iter: int = 60,
) -> tuple[np.ndarray, np.ndarray]:
    """Bradley-Terry fits for a batch of resampled pair counts (rounds x 3P), mean-zero logits.

    Chord iterations (Newton with the Hessian frozen at the full-data fit, whose
    inverse is ``h0_inv``), all rounds at once. A resample moves the Hessian by a few
    percent, so each iteration gains one to two digits: after a step under ``tol``
    (1e-9 logits) the error is about 3e-11 logits, 5e-9 Elo points. The gradient uses
    sigmoid(t_i - t_j) = u_i / (u_i + u_j) with u = exp(t) on dense rounds x m x m
    arrays, cheaper than gathering pairs. Returns the ratings and a mask of rounds that
    converged (the caller refits the rest with damped Newton).
    """
    b = counts.shape[0]
    m = pc.n_models
    c = counts.reshape(b, -1, 3).astype(float, copy=False)
    n = np.zeros((b, m, m))
    n[:, pc.i, pc.j] = c[:, :, 0] + c[:, :, 1] + c[:, :, 2]
    n += n.transpose(0, 2, 1)
    # each model's wins (ties half), summed over its pairs by one bincount per side
    cell_i = (np.arange(b)[:, None] * m + pc.i[None, :]).ravel()
    cell_j = (np.arange(b)[:, None] * m + pc.j[None, :]).ravel()
    row_wins = (np.bincount(cell_i, (c[:, :, 2] + 0.5 * c[:, :, 1]).ravel(), b * m)
                + np.bincount(cell_j, (c[:, :, 0] + 0.5 * c[:, :, 1]).ravel(), b * m)).reshape(b, m)
    t = np.tile(x0, (b, 1))
    active = np.arange(b)
    converged = np.zeros(b, dtype=bool)
    buf = np.empty((b, m, m))
    for _ in range(max_iter):
        every = len(active) == b  # no copies of n while every round is still iterating
        ta = t if every else t[active]
        work = buf if every else buf[: len(active)]
        u = np.exp(ta - ta.max(axis=1, keepdims=True))
        np.add(u[:, :, None], u[:, None, :], out=work)
        np.divide(n if every else n[active], work, out=work)
        expected = u * work.sum(axis=2)
        step = ((row_wins if every else row_wins[active]) - expected - l2 * ta) @ h0_inv
        t[active] = ta + step
        big = np.max(np.abs(step), axis=1)
        bad = ~np.isfinite(big) | (big > 50)
        converged[active[big < tol]] = True
        t[active[bad]] = np.nan
        active = active[(big >= tol) & ~bad]
        if len(active) == 0:
            break
    t[~converged] = np.nan
    return t - t.mean(axis=1, keepdims=True), converged


def wins_from_pair_counts(pc: PairCounts, counts: np.ndarray) -> np.ndarray:
    """Win matrix (ties half) from one round's pair counts."""
    m = pc.n_models
    c = counts.reshape(-1, 3).astype(float)
    w = np.zeros((m, m))
    w[pc.i, pc.j] = c[:, 2] + 0.5 * c[:, 1]
    w[pc.j, pc.i] = c[:, 0] + 0.5 * c[:, 1]
    return w


def bootstrap_counts(pc: PairCounts, rounds: int, rng: np.random.Generator, *, n_draws: int, batch: int = 50):
    """Yield (first round, counts) batches of resampled pair counts, ``batch`` rounds at a time."""
    draws = MultinomialDraws(pc.counts / pc.counts.sum(), n_draws, rounds)
    for start in range(0, rounds, batch):
        yield start, draws(rng, min(batch, rounds - start))


def bootstrap_fit(
    table: BattleTable,
    rounds: int,
    rng: np.random.Generator,
    *,
    n_draws: int,
    l2: float = 0.0,
    batch: int = 50,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Full-data fit and ``rounds`` bootstrap refits (logit units, mean zero); failed rounds are NaN."""
    pc = pair_counts(table)
    batch = max(1, min(batch, 4_000_000 // table.n_models**2))  # rounds x m x m arrays stay ~32 MB
    w_full = wins_from_pair_counts(pc, pc.counts)
    t_full = fit_matrix(w_full, l2=l2)
    rescale = table.n_battles / n_draws
    h0_inv = np.linalg.inv(hessian(w_full, t_full, l2))
    # When every pair keeps a win and a loss for each side, the resample's "beats" graph
    # contains the full data's pair graph in both directions, so a finite MLE exists.
    connected = l2 > 0 or mle_exists((w_full + w_full.T) > 0)
    out = np.full((rounds, table.n_models), np.nan)
    failed = 0
    for start, counts in bootstrap_counts(pc, rounds, rng, n_draws=n_draws, batch=batch):
        size = len(counts)
        c3 = counts.reshape(size, -1, 3)
        sure = (c3[:, :, 2] + c3[:, :, 1] > 0).all(axis=1) & (c3[:, :, 0] + c3[:, :, 1] > 0).all(axis=1)
        ok = np.ones(size, dtype=bool)
        if l2 == 0:
            for r in np.flatnonzero(~(sure & connected)):
                ok[r] = mle_exists(wins_from_pair_counts(pc, counts[r]))
        good = counts[ok] * rescale
        t, conv = fit_pairs_batch(pc, good, t_full, h0_inv, l2=l2)
        rows = start + np.flatnonzero(ok)
        out[rows] = t
        for r_local in np.flatnonzero(~conv):
            w = wins_from_pair_counts(pc, good[r_local])
            out[rows[r_local]] = fit_matrix(w, l2=l2, x0=t_full, check=False)
        failed += int((~ok).sum())
    return t_full, out, failed
