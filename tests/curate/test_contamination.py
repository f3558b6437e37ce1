"""The profile's n-gram contamination equals a plain computation on word n-gram strings."""

from __future__ import annotations

import numpy as np

from assay.curate.contamination import overlap
from assay.curate.text import ngrams, words


def _reference(texts, against, n):
    theirs = set().union(*(ngrams(words(t), n) for t in against if len(words(t)) >= n))
    runs = {k: set().union(*(ngrams(words(t), k) for t in against)) for k in range(1, n)}
    flags, shares = [], []
    for t in texts:
        w = words(t)
        if not w:
            flags.append(False), shares.append(0.0)
        elif len(w) < n:  # matched whole, as a contiguous run of the other's words
            hit = " ".join(w) in {g for g in runs[len(w)]}
            flags.append(hit), shares.append(float(hit))
        else:
            mine = [" ".join(w[i:i + n]) for i in range(len(w) - n + 1)]
            k = sum(g in theirs for g in mine)
            flags.append(k > 0), shares.append(k / len(mine))
    return flags, shares


def test_overlap_equals_plain_string_ngrams():
    rng = np.random.default_rng(5)
    vocab = [f"w{i}" for i in range(12)]
    texts = [" ".join(rng.choice(vocab, size=rng.integers(0, 20))) for _ in range(150)]
    against = [" ".join(rng.choice(vocab, size=rng.integers(1, 40))) for _ in range(60)]
    texts += ["W1, w2! W3", "   "]
    flags, shares = overlap(texts, against, ngram=4)
    ref_flags, ref_shares = _reference(texts, against, 4)
    assert flags.tolist() == ref_flags
    assert np.allclose(shares, ref_shares)
    assert 0 < np.mean(ref_flags) < 1  # the case mixes clean and contaminated texts
