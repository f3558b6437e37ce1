"""Synthetic data with planted slices of known effect, for validating ``assay slices``.

Features are independent and uniform over their values; a row's outcome is drawn from
``base + sum of the effects of the planted slices it belongs to`` (a failure probability,
or the mean of a normal score). Because the features are independent, every slice's true
mean is known exactly (:meth:`Planted.true_mean`), so each reported slice can be called a
true or a false discovery by the null hypothesis its test tested: "the slice's mean equals
its complement's" (equivalently, equals the overall mean).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assay.analysis.slices import Feature

__all__ = ["Planted", "PlantedSlice", "planted_data"]


@dataclass(frozen=True)
class PlantedSlice:
    predicates: tuple[tuple[int, int], ...]
    """(feature index, value index) pairs."""
    effect: float


@dataclass(frozen=True)
class Planted:
    """A generated data set and its truth."""

    features: list[Feature]
    y: np.ndarray
    planted: tuple[PlantedSlice, ...]
    levels: tuple[int, ...]
    base: float

    def true_mean(self, predicates: Sequence[tuple[int, int]]) -> float:
        """E[outcome | slice]: features are independent and uniform, so each planted slice's share is a product."""
        fixed = dict(predicates)
        mean = self.base
        for s in self.planted:
            share = 1.0
            for f, v in s.predicates:
                share *= float(fixed[f] == v) if f in fixed else 1.0 / self.levels[f]
            mean += s.effect * share
        return mean

    def is_null(self, predicates: Sequence[tuple[int, int]]) -> bool:
        """Whether the slice's true mean equals its complement's (the tested null hypothesis holds)."""
        return abs(self.true_mean(predicates) - self.true_mean(())) < 1e-12

    def key(self, names: Sequence[Sequence[str]]) -> tuple[tuple[int, int], ...]:
        """A reported slice's predicates ([[feature, value], ...]) as sorted (feature, value) indices."""
        return tuple(sorted((int(f[1:]), self.features[int(f[1:])].labels.index(v)) for f, v in names))


def planted_data(seed: int, *, rows: int = 4000, features: int = 10, levels: int = 4, base: float = 0.1,
                 planted: Sequence[PlantedSlice] | None = None, binary: bool = True, noise: float = 1.0) -> Planted:
    """Rows of ``features`` independent uniform features (``f0``..), with an outcome shaped by ``planted``.

    By default two single predicates and two pairs are planted on f0..f5, the rest are null.
    ``binary``: a failure drawn with probability base + effects; else a normal score with
    that mean and standard deviation ``noise`` (a paired difference, say).
    """
    rng = np.random.default_rng(seed)
    if planted is None:
        planted = (PlantedSlice(((0, 0),), 0.2), PlantedSlice(((1, 1),), 0.15),
                   PlantedSlice(((2, 0), (3, 1)), 0.3), PlantedSlice(((4, 2), (5, 0)), 0.25))
    codes = rng.integers(0, levels, size=(rows, features))
    mean = np.full(rows, base)
    for s in planted:
        inside = np.ones(rows, dtype=bool)
        for f, v in s.predicates:
            inside &= codes[:, f] == v
        mean += s.effect * inside
    if binary:
        if mean.max() > 1 or mean.min() < 0:
            raise ValueError("base + effects must stay in [0, 1] for a failure probability")
        y = (rng.random(rows) < mean).astype(float)
    else:
        y = mean + noise * rng.standard_normal(rows)
    labels = tuple(f"v{j}" for j in range(levels))
    feats = [Feature(f"f{i}", labels, codes=codes[:, i].astype(np.int64)) for i in range(features)]
    return Planted(feats, y, tuple(planted), (levels,) * features, base)
