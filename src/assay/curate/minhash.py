"""Near-duplicate search: MinHash LSH (datasketch) for candidates, exact Jaccard of shingles to confirm."""

from __future__ import annotations

from collections.abc import Collection

from assay.curate.text import jaccard


class NearDupIndex:
    """The items kept so far; ``add`` tells whether a new one is a near-duplicate of one of them.

    MinHash signatures share one set of seeded permutations, so a run is reproducible and
    each signature costs one vectorised pass over the shingles' hashes.
    """

    def __init__(self, *, threshold: float, num_perm: int = 128, seed: int = 1) -> None:
        try:
            from datasketch import MinHash, MinHashLSH
        except ImportError as e:  # pragma: no cover - a dependency of assay
            raise ImportError("near-duplicate removal needs datasketch: pip install datasketch") from e
        self.threshold = threshold
        self._MinHash = MinHash
        self._template = MinHash(num_perm=num_perm, seed=seed)
        # Candidates are checked exactly, so a false candidate costs only time while a missed one
        # is a duplicate left in: weigh misses 19 times more when choosing bands (at 0.8 and 128
        # permutations, a pair at the threshold is a candidate 95% of the time, at 0.85 99.4%).
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(0.05, 0.95))
        self._shingles: dict[str, frozenset[str]] = {}
        self._order: dict[str, int] = {}

    def signature(self, shingles: Collection[str]):  # noqa: ANN201 - a datasketch MinHash
        t = self._template
        m = self._MinHash(num_perm=t.num_perm, seed=t.seed, permutations=t.permutations, scheme=t.scheme)
        m.update_batch([s.encode("utf-8") for s in shingles])
        return m

    def add(self, key: str, shingles: Collection[str]) -> tuple[str, float] | None:
        """Keep ``key`` unless it near-duplicates a kept item; then return that item and the similarity."""
        if not shingles:
            return None
        shingles = frozenset(shingles)
        sig = self.signature(shingles)
        best: tuple[float, int, str] | None = None
        for cand in self._lsh.query(sig):
            sim = jaccard(shingles, self._shingles[cand])
            if sim >= self.threshold and (best is None or (sim, -self._order[cand]) > (best[0], -best[1])):
                best = (sim, self._order[cand], cand)
        if best is not None:
            return best[2], best[0]
        self._lsh.insert(key, sig)
        self._shingles[key] = shingles
        self._order[key] = len(self._order)
        return None
