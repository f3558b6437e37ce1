"""Near-duplicate search: MinHash signatures and LSH bands computed with NumPy over all texts at once, exact Jaccard
of the shingle strings to confirm every candidate.

The search runs in two passes. The first is vectorised: shingle hashes (``curate.shingles``),
``num_perm`` MinHash values per text, and one 64-bit key per LSH band. A text that shares no
band key with any other text can be no text's candidate, nor have one, so it is kept
without a look. The second pass walks the remaining texts in order, as an LSH index would:
a text's candidates are the kept earlier texts that share a band key with it, each is
confirmed by the exact Jaccard of the two shingle sets (``curate.text.ngrams``), and the
text is removed as a duplicate of the most similar (the earliest on ties) or kept.

>>> near_duplicates(["a b c d e f g h", "a b c d e f g x", "", "z y x w v u t s"], threshold=0.5, ngram=2)
[(1, 0, 0.75)]
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from assay.curate.shingles import shingle_hashes
from assay.curate.text import ngrams, words

_U64 = np.uint64
_EMPTY = np.iinfo(np.uint32).max  # the signature of a text without shingles (never compared)
_CHUNK = 16_384  # texts hashed at a time: bounds the memory of the first pass
_BLOCK = 8_192  # shingles permuted at a time: a (num_perm x _BLOCK) uint32 buffer stays in cache
# LSH bands are chosen weighing a false candidate 0.02 and a miss 0.98: candidates are confirmed
# exactly, so a false one costs only a Jaccard (microseconds) while a miss leaves a duplicate in
LSH_WEIGHTS = (0.02, 0.98)


@functools.cache
def lsh_bands(threshold: float, num_perm: int, weights: tuple[float, float] = LSH_WEIGHTS) -> tuple[int, int]:
    """The (bands, rows per band) of at most ``num_perm`` values that minimise ``weights[0]`` times the chance of a
    false candidate plus ``weights[1]`` times the chance of a miss, integrated over Jaccard below and above ``threshold``.

    Two texts at Jaccard ``s`` share a band with probability ``1 - (1 - s**rows)**bands``
    (Leskovec, Rajaraman and Ullman, *Mining of Massive Datasets*, 3rd ed., section 3.4.2).
    With ``LSH_WEIGHTS`` a miss weighs 49 times a false candidate: at 0.8 and 128
    permutations this gives 17 bands of 7 rows, and a pair at the threshold is a candidate
    98.2% of the time, at 0.85 99.9% (16 x 8, datasketch's choice for the weights assay used
    before, (0.05, 0.95): 94.7% and 99.4%); a pair at 0.6 is a candidate 38% of the time.

    >>> lsh_bands(0.8, 128)
    (17, 7)
    """
    below = np.linspace(0.0, threshold, 2001)[None, :]
    above = np.linspace(threshold, 1.0, 2001)[None, :]

    def area(y: np.ndarray, x: np.ndarray) -> np.ndarray:  # the trapezoid rule, per row
        return ((y[:, 1:] + y[:, :-1]) * np.diff(x)).sum(axis=1) / 2

    best: tuple[float, int, int] | None = None
    for b in range(1, num_perm + 1):
        r = np.arange(1, num_perm // b + 1)[:, None]
        err = weights[0] * area(1 - (1 - below ** r) ** b, below) + weights[1] * area((1 - above ** r) ** b, above)
        k = int(np.argmin(err))  # the first of equal errors: fewer rows, as a loop over rows would keep
        if best is None or err[k] < best[0]:
            best = (float(err[k]), b, k + 1)
    assert best is not None
    return best[1], best[2]


class MinHasher:
    """``num_perm`` seeded hash functions ``h_i(x) = (a_i * x + b_i) mod 2**32`` (``a_i`` odd) over 32-bit shingle
    hashes, and the texts' signatures: per function, the minimum over each text's shingles.

    On already well-mixed inputs this family gives MinHash's estimate without bias and with
    the binomial spread of ideal permutations (tests/curate/test_minhash.py); it costs two
    uint32 operations per shingle and function, which NumPy runs in SIMD.
    """

    def __init__(self, num_perm: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self.a = (rng.integers(0, 2**32, num_perm, dtype=_U64) | _U64(1)).astype(np.uint32)[:, None]
        self.b = rng.integers(0, 2**32, num_perm, dtype=_U64).astype(np.uint32)[:, None]

    def signatures(self, values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """A (num_perm, texts) uint32 array: column ``k`` the signature of ``values[offsets[k]:offsets[k + 1]]``."""
        n = len(offsets) - 1
        out = np.full((self.num_perm, n), _EMPTY, dtype=np.uint32)
        x = (values >> _U64(32)).astype(np.uint32)
        buf = np.empty((self.num_perm, _BLOCK), dtype=np.uint32)
        lo = 0
        while lo < n:
            # texts lo:hi, about _BLOCK shingles (one text at least, however long)
            hi = max(int(np.searchsorted(offsets, offsets[lo] + _BLOCK, side="right")) - 1, lo + 1)
            hi = min(hi, n)
            s, e = int(offsets[lo]), int(offsets[hi])
            if e > s:
                m = e - s
                h = buf[:, :m] if m <= _BLOCK else np.empty((self.num_perm, m), dtype=np.uint32)
                np.multiply(self.a, x[s:e], out=h)
                np.add(h, self.b, out=h)
                starts = offsets[lo:hi]
                full = np.flatnonzero(offsets[lo + 1:hi + 1] > starts)
                out[:, lo + full] = np.minimum.reduceat(h, starts[full] - s, axis=1)
            lo = hi
        return out


@functools.cache
def _band_constants(rows: int) -> np.ndarray:
    return (np.random.default_rng(0xBA4D).integers(0, 2**63, rows, dtype=_U64) * _U64(2) + _U64(1))[None, :, None]


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """A (bands, texts) uint64 array: each band's ``rows`` signature values hashed to one key."""
    n = signatures.shape[1]
    sig = signatures[:bands * rows].reshape(bands, rows, n).astype(_U64)
    with np.errstate(over="ignore"):
        keys = (sig * _band_constants(rows)).sum(axis=1, dtype=_U64)
        keys ^= keys >> _U64(29)
        keys *= _U64(0xBF58476D1CE4E5B9)
        keys ^= keys >> _U64(32)
    return keys


def _sharing(keys: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Which of the texts ``candidates`` share a key with another of them in some band."""
    found = np.zeros(len(candidates), dtype=bool)
    for band in keys:
        k = band[candidates]
        order = np.argsort(k)
        same = k[order[1:]] == k[order[:-1]]
        found[order[1:][same]] = True
        found[order[:-1][same]] = True
    return candidates[found]


def near_duplicates(texts: Sequence[str], *, threshold: float, ngram: int = 5, num_perm: int = 128, seed: int = 1,
                    progress: Callable[[int], None] | None = None) -> list[tuple[int, int, float]]:
    """The texts to remove as near-duplicates of a kept earlier one: (index, index of the kept text, Jaccard), in order.

    A text is removed when the Jaccard similarity of its word ``ngram``-gram shingle set to
    that of a kept earlier text is at least ``threshold`` and the two share an LSH band;
    the kept text named is the most similar such one, the earliest on ties. Texts without
    words are kept and compared with none. ``progress`` is called with the number of texts
    hashed so far.
    """
    n = len(texts)
    bands, rows = lsh_bands(threshold, num_perm)
    hasher = MinHasher(num_perm, seed)
    keys = np.empty((bands, n), dtype=_U64)
    has_words = np.empty(n, dtype=bool)
    for lo in range(0, n, _CHUNK):
        hi = min(lo + _CHUNK, n)
        values, offsets = shingle_hashes(texts[lo:hi], ngram)
        keys[:, lo:hi] = band_keys(hasher.signatures(values, offsets), bands, rows)
        has_words[lo:hi] = offsets[1:] > offsets[:-1]
        if progress is not None:
            progress(hi)
    found: list[tuple[int, int, float]] = []
    tables: list[dict[int, list[int]]] = [{} for _ in range(bands)]
    kept: dict[int, frozenset[str]] = {}  # shingle sets of the kept texts that may be candidates
    involved = _sharing(keys, np.flatnonzero(has_words))
    involved.sort()
    for i, its_keys in zip(involved.tolist(), keys[:, involved].T.tolist()):
        candidates: set[int] = set()
        for table, key in zip(tables, its_keys):
            hit = table.get(key)
            if hit is not None:
                candidates.update(hit)
        mine = frozenset(ngrams(words(texts[i]), ngram))
        best: tuple[float, int] | None = None
        for c in candidates:
            theirs = kept[c]
            common = len(mine & theirs)
            sim = common / (len(mine) + len(theirs) - common)
            if sim >= threshold and (best is None or (sim, -c) > (best[0], -best[1])):
                best = (sim, c)
        if best is not None:
            found.append((i, best[1], best[0]))
            continue
        kept[i] = mine
        for table, key in zip(tables, its_keys):
            table.setdefault(key, []).append(i)
    return found
