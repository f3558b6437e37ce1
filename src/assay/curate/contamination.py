"""Contamination: which texts share a word n-gram with another collection (13-grams, as GPT-3's analysis).

Brown et al. 2020 ("Language Models are Few-Shot Learners", appendix C) call a benchmark
example dirty when any of its 13-grams (words lower-cased, punctuation dropped) occurs in
the training data. We do the same between two datasets, on the words of
``curate.text.words`` and the 64-bit shingle hashes of ``curate.shingles`` (collisions
about 2**-64 per pair). A text shorter than ``ngram`` words is matched whole: it is
contaminated when its words occur as one contiguous run in a text of the other collection
(the ``decontaminate`` curation step treats a short reference text the same way).

>>> flags, shares = overlap(["a b c d e", "x y z w v", "p q", "q r"], ["zz a b c d e yy", "o p q"], ngram=5)
>>> flags.tolist(), shares.round(2).tolist()
([True, False, True, False], [1.0, 0.0, 1.0, 0.0])
>>> overlap(["one two three four"], ["two three", "nine"], ngram=2)[1].round(3).tolist()
[0.333]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assay.curate.shingles import shingle_hashes

__all__ = ["overlap"]


def overlap(texts: Sequence[str], against: Sequence[str], *, ngram: int = 13) -> tuple[np.ndarray, np.ndarray]:
    """Per text of ``texts``: whether any of its word ``ngram``-grams occurs in ``against``, and the share that do.

    A text without words is never contaminated (share 0).
    """
    values, offsets = shingle_hashes(texts, ngram)
    theirs, _ = shingle_hashes(against, ngram)
    hit = np.isin(values, np.unique(theirs))
    counts = np.diff(offsets)
    found = np.add.reduceat(hit.astype(np.int64), offsets[:-1][counts > 0]) if hit.size else np.zeros(0, np.int64)
    n_hit = np.zeros(len(texts), dtype=np.int64)
    n_hit[counts > 0] = found
    share = np.where(counts > 0, n_hit / np.maximum(counts, 1), 0.0)
    flags = n_hit > 0
    n_words = np.diff(shingle_hashes(texts, 1)[1])
    for length in sorted(set(n_words[(n_words > 0) & (n_words < ngram)].tolist())):
        idx = np.flatnonzero(n_words == length)  # short texts: their whole run of words among the other's runs
        whole, _ = shingle_hashes([texts[i] for i in idx], length)
        found_whole = np.isin(whole, shingle_hashes(against, length)[0])
        flags[idx] = found_whole
        share[idx] = found_whole.astype(float)
    return flags, share
