"""Settings the analyses share: which stored verdicts they read, and their statistical options.

A :class:`Selection` says which judgments or comparisons an analysis reads (rubric, dimensions,
raters, campaign); :class:`Options` holds the statistical settings (confidence, alpha, power,
bootstrap rounds and seed, p-value adjustment, cluster-robust errors). Each analysis reads the
fields it uses; one that cannot honour a field that is set (a ranking of several dimensions,
say) raises :class:`~assay.errors.BadInput` naming it rather than ignoring it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from assay.errors import BadInput

if TYPE_CHECKING:
    from assay.stats.ranking import Bootstrap

__all__ = ["Options", "Selection"]


def _tuple(v: Sequence[str] | None) -> tuple[str, ...] | None:
    if v is None:
        return None
    return (v,) if isinstance(v, str) else tuple(v)


@dataclass(frozen=True)
class Selection:
    """Which stored verdicts an analysis reads; every field left at None means all.

    ``rubric``: a rubric id (``name@version``); ``dimensions``: dimension names within it;
    ``raters``: rater ids (``human:alice``, ``llm:judge:gpt``); ``campaign``: a campaign id;
    ``datasets``: dataset names (a partition of the store; read by the A/B test, which runs
    per dataset in ``assay.analysis.sharded``).
    Sequences are kept as tuples, so a selection is hashable and never changes.
    """

    rubric: str | None = None
    dimensions: Sequence[str] | None = None
    raters: Sequence[str] | None = None
    campaign: str | None = None
    datasets: Sequence[str] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dimensions", _tuple(self.dimensions))
        object.__setattr__(self, "raters", _tuple(self.raters))
        object.__setattr__(self, "datasets", _tuple(self.datasets))

    @property
    def dimension(self) -> str | None:
        """The one dimension selected, for analyses of a single dimension (None: none named)."""
        if not self.dimensions:
            return None
        if len(self.dimensions) > 1:
            raise BadInput(f"one dimension is needed here, not {len(self.dimensions)}", param="dimensions")
        return self.dimensions[0]

    def only(self, *names: str, where: str) -> Selection:
        """This selection, after checking that it sets no field but ``names`` (``where`` names the analysis)."""
        for f in fields(self):
            if f.name not in names and getattr(self, f.name) is not None:
                raise BadInput(f"{where} does not select by {f.name}", param=f.name)
        return self


@dataclass(frozen=True)
class Options:
    """Statistical settings shared by the analyses.

    ``confidence``: level of every interval; ``alpha``: significance level of a verdict;
    ``power``: the power at which a minimum detectable effect is given; ``rounds``: bootstrap
    rounds; ``random_state``: the seed of every random draw; ``adjust``: how p-values are
    adjusted across dimensions (``"holm"`` or ``"fdr_bh"``); ``cluster``: cluster-robust
    standard errors when items carry a cluster key.
    """

    confidence: float = 0.95
    alpha: float = 0.05
    power: float = 0.8
    rounds: int = 1000
    random_state: int = 0
    adjust: str = "holm"
    cluster: bool = True

    def bootstrap(self, rounds: int | None = None) -> Bootstrap:
        """The bootstrap settings for :mod:`assay.stats.ranking` (``rounds`` overrides this record's)."""
        from assay.stats.ranking import Bootstrap

        return Bootstrap(rounds=self.rounds if rounds is None else rounds, confidence=self.confidence,
                         random_state=self.random_state)
