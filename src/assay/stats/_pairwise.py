"""Mergeable win/loss/tie tables of pairwise battles, and the rankings computed from one.

Public names are re-exported by :mod:`assay.stats.ranking`.

Bradley-Terry, its bootstrap and the win rates see battles only through the counts of each
(model_a, model_b, outcome): Chatbot Arena's deduplicated table (``_bt.BattleTable``). Those
counts are sums over battles, so tables of shards add up. One more thing makes a merge give
*the same* numbers as one pass, seeded bootstrap included: the models' numbering, which
fixes the order of the table's rows and so of the multinomial draws. ``battle_table``
numbers models by first appearance, the model_a column before model_b; the summary keeps
the order each column first showed its models in, and those orders merge as the
concatenated columns' would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from assay.stats import _bt
from assay.stats._bt import Bootstrap, EloScale

__all__ = ["PairwiseSummary", "merge_pairwise", "summarise_battles"]


@dataclass(frozen=True, eq=False)
class PairwiseSummary:
    """Battles reduced to win/loss/tie counts per ordered model pair; shards merge with ``+``.

    ``order_a`` and ``order_b`` are the models in the order the model_a and model_b columns
    first showed them; ``table`` is the deduplicated (a, b, outcome) table with counts (or
    summed weights) under the numbering they imply; ``n_rows`` counts battles (rows), for
    the bootstrap's draws when battles are weighted.

    What adds up exactly: the counts (integers), hence every rating, interval and win rate
    computed from them, seeded bootstraps included, equal to those of the concatenated
    battles. Summed weights add up to rounding. Shards may share models and pairs.
    """

    order_a: tuple
    order_b: tuple
    table: _bt.BattleTable
    n_rows: int
    weighted: bool = False

    @property
    def models(self) -> list:
        return self.table.models

    @property
    def n_battles(self) -> float:
        return self.table.n_battles

    def counts(self) -> pd.DataFrame:
        """One row per ordered pair that met: ``model_a``, ``model_b``, ``wins_a``, ``wins_b``, ``ties``."""
        t = self.table
        m = t.n_models
        pair = t.a * m + t.b
        code = np.rint(2 * t.outcome).astype(np.int64)  # 0 b won, 1 tie, 2 a won
        uniq, inv = np.unique(pair, return_inverse=True)
        c = np.zeros((len(uniq), 3))
        np.add.at(c, (inv, code), t.count)
        names = np.asarray(t.models, dtype=object)
        return pd.DataFrame({"model_a": names[uniq // m], "model_b": names[uniq % m],
                             "wins_a": c[:, 2], "wins_b": c[:, 0], "ties": c[:, 1]})

    def win_rate_matrix(self) -> pd.DataFrame:
        """:func:`assay.stats.ranking.win_rate_matrix` of the summarised battles."""
        from assay.stats.ranking import _win_rate

        return _win_rate(self.table)

    def bradley_terry(self, *, elo: EloScale = EloScale(), l2: float = 0.0) -> pd.Series:
        """:func:`assay.stats.ranking.bradley_terry` of the summarised battles."""
        from assay.stats.ranking import _to_elo_scale

        t = _bt.fit_matrix(_bt.win_matrix(self.table), l2=l2)
        r = _to_elo_scale(t, self.models, elo)
        return pd.Series(r, index=pd.Index(self.models, name="model"), name="rating")

    def bootstrap_ratings(self, *, bootstrap: Bootstrap = Bootstrap(), elo: EloScale = EloScale(),
                          l2: float = 0.0):  # noqa: ANN201 - BootstrapRatings
        """:func:`assay.stats.ranking.bootstrap_ratings` of the summarised battles (same seed, same draws)."""
        import warnings

        from assay.stats.ranking import _summarise, _to_elo_scale

        if bootstrap.rounds < 1:
            raise ValueError("rounds must be at least 1")
        if not 0 < bootstrap.confidence < 1:
            raise ValueError("confidence must be between 0 and 1")
        rng = np.random.default_rng(bootstrap.random_state)
        n_draws = self.n_rows if self.weighted else int(round(self.table.n_battles))
        t_full, samples, failed = _bt.bootstrap_fit(self.table, bootstrap.rounds, rng, n_draws=n_draws, l2=l2)
        if failed:
            warnings.warn(f"{failed} of {bootstrap.rounds} bootstrap rounds had no finite Bradley-Terry MLE and "
                          "were left out of the intervals; pass l2 > 0 or collect more battles",
                          RuntimeWarning, stacklevel=2)
        return _summarise(self.table, _to_elo_scale(t_full, self.models, elo),
                          _to_elo_scale(samples, self.models, elo), failed, elo=elo, bootstrap=bootstrap)

    def same_as(self, other: PairwiseSummary) -> bool:
        """Whether both hold the same table under the same numbering (then every figure is equal)."""
        x, y = self.table, other.table
        return (self.order_a == other.order_a and self.order_b == other.order_b and self.n_rows == other.n_rows
                and self.weighted == other.weighted and x.models == y.models and x.n_battles == y.n_battles
                and all(np.array_equal(getattr(x, f), getattr(y, f)) for f in ("a", "b", "outcome", "count")))

    def __add__(self, other: PairwiseSummary) -> PairwiseSummary:
        return merge_pairwise(self, other)

    def __radd__(self, other: object) -> PairwiseSummary:
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented


def summarise_battles(battles: pd.DataFrame, *, weights: str | None = None) -> PairwiseSummary:
    """The :class:`PairwiseSummary` of a battle table (columns model_a, model_b, winner; Chatbot Arena's).

    >>> b = pd.DataFrame({"model_a": ["x", "x", "y"], "model_b": ["y", "y", "x"],
    ...                   "winner": ["model_a", "tie", "model_a"]})
    >>> s = summarise_battles(b.iloc[:2]) + summarise_battles(b.iloc[2:])
    >>> s.counts().to_dict("records")
    [{'model_a': 'x', 'model_b': 'y', 'wins_a': 1.0, 'wins_b': 0.0, 'ties': 1.0}, {'model_a': 'y', 'model_b': 'x', 'wins_a': 1.0, 'wins_b': 0.0, 'ties': 0.0}]
    """
    table = _bt.battle_table(battles, weights)
    return PairwiseSummary(order_a=tuple(pd.unique(battles["model_a"])), order_b=tuple(pd.unique(battles["model_b"])),
                           table=table, n_rows=len(battles), weighted=weights is not None)


def _first_seen(*orders: tuple) -> list:
    return list(dict.fromkeys(m for order in orders for m in order))


def merge_pairwise(*parts: PairwiseSummary) -> PairwiseSummary:
    """The summary of every part's battles together, as if their battle tables were concatenated in order."""
    if not parts:
        raise ValueError("nothing to merge")
    if len({p.weighted for p in parts}) > 1:
        raise ValueError("cannot merge weighted with unweighted battle summaries")
    if len(parts) == 1:
        return parts[0]
    order_a = _first_seen(*(p.order_a for p in parts))
    order_b = _first_seen(*(p.order_b for p in parts))
    seen = set(order_a)
    models = order_a + [x for x in order_b if x not in seen]
    index = {x: i for i, x in enumerate(models)}
    m = len(models)
    keys, counts = [], []
    for p in parts:
        t = p.table
        remap = np.array([index[x] for x in t.models], dtype=np.int64)
        keys.append((remap[t.a] * m + remap[t.b]) * 3 + np.rint(2 * t.outcome).astype(np.int64))
        counts.append(t.count)
    # Sum the counts of equal keys in the order battle_table would (a part at a time, in key order).
    uniq, inv = np.unique(np.concatenate(keys), return_inverse=True)
    count = np.zeros(len(uniq))
    np.add.at(count, inv, np.concatenate(counts))
    keep = count > 0
    uniq, count = uniq[keep], count[keep]
    table = _bt.BattleTable(models=models, a=(uniq // 3) // m, b=(uniq // 3) % m, outcome=(uniq % 3) / 2.0,
                            count=count, n_battles=float(count.sum()))
    return PairwiseSummary(order_a=tuple(order_a), order_b=tuple(order_b), table=table,
                           n_rows=sum(p.n_rows for p in parts), weighted=parts[0].weighted)
