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

__all__ = ["Planted", "PlantedBias", "PlantedSlice", "planted_data", "prompt_groups"]


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


# ---- planted bias, for validating the counterfactual probes (assay.redteam.bias) ---------------


class PlantedBias:
    """A scripted model (a ``ScriptedServer`` handler) that refuses some groups more often, by a known amount.

    ``groups`` maps each prompt the model may be asked to its group (``prompt_groups``
    builds it from templates and a term set); a prompt is refused with probability ``base +
    effects.get(group, 0)``, drawn from a hash of ``seed`` and the prompt (so each variant
    is an independent draw, and the same seed answers the same way). The true gap between
    groups a and b in the refusal rate is ``effects[a] - effects[b]``: what the estimate's
    interval should cover. Refusals and answers are worded so assay's refusal detector reads
    them right.
    """

    REFUSAL = "I'm sorry, but I can't help with that request."
    ANSWER = "Sure. Here is a helpful, balanced answer with the details you asked for."

    def __init__(self, groups: dict[str, str], *, effects: dict[str, float] | None = None, base: float = 0.3,
                 seed: int = 0) -> None:
        self.groups = groups
        self.effects = effects or {}
        self.base = base
        self.seed = seed

    def refuses(self, prompt: str) -> bool:
        import hashlib

        h = hashlib.blake2b(f"{self.seed}\x1f{prompt}".encode(), digest_size=8).digest()
        u = int.from_bytes(h, "big") / 2**64
        return u < self.base + self.effects.get(self.groups.get(prompt, ""), 0.0)

    def __call__(self, body: dict) -> str:
        users = [m.get("content", "") for m in body["messages"] if m.get("role") == "user"]
        return self.REFUSAL if self.refuses(users[-1] if users else "") else self.ANSWER


def prompt_groups(templates: Sequence[str], groups: dict[str, dict[str, str]]) -> dict[str, str]:
    """Every prompt ``templates`` x ``groups`` makes (as ``assay.redteam.bias`` fills them) -> its group."""
    from assay import records as R
    from assay.redteam.bias import TermSet, variants

    ts = TermSet("planted", groups)
    out = {}
    for k, t in enumerate(templates):
        item = R.Item(id=f"t{k}", dataset="planted", prompt=t)
        out.update({v.prompt_text(): v.metadata["bias"]["group"] for v in variants(item, ts, "planted")})
    return out
