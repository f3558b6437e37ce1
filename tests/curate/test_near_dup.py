"""Near-duplicate removal agrees with brute-force Jaccard over every pair."""

from __future__ import annotations

import random

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from assay.curate import create
from assay.curate.text import jaccard, ngrams, words
from tests.curate.helpers import item


def brute_force(texts: list[str], threshold: float, n: int) -> dict[int, int]:
    """Index of each removed text -> index of the kept text it duplicates: every kept text compared."""
    kept: list[int] = []
    sh = [ngrams(words(t), n) for t in texts]
    removed = {}
    for i in range(len(texts)):
        best = max(((jaccard(sh[i], sh[k]), -k) for k in kept if sh[i]), default=None)
        if best is not None and best[0] >= threshold:
            removed[i] = -best[1]
        else:
            kept.append(i)
    return removed


@st.composite
def corpora(draw):
    """Random base texts with edited copies (words replaced, inserted or dropped), shuffled."""
    rng = random.Random(draw(st.integers(0, 10**6)))
    vocab = [f"v{k}" for k in range(draw(st.sampled_from([40, 400, 4000])))]
    texts = []
    for _ in range(draw(st.integers(2, 12))):
        base = [rng.choice(vocab) for _ in range(rng.randint(8, 60))]
        texts.append(base)
        for _ in range(rng.randint(0, 3)):
            copy = list(base)
            for _ in range(rng.randint(0, 4)):
                op, at = rng.random(), rng.randrange(len(copy))
                if op < 0.4:
                    copy[at] = rng.choice(vocab)
                elif op < 0.7:
                    copy.insert(at, rng.choice(vocab))
                elif len(copy) > 2:
                    del copy[at]
            texts.append(copy)
    rng.shuffle(texts)
    return [" ".join(t) for t in texts]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(corpora(), st.sampled_from([0.5, 0.7, 0.8, 0.9]), st.sampled_from([1, 3, 5]))
def test_near_dup_matches_brute_force(texts, threshold, n):
    sh = [ngrams(words(t), n) for t in texts]
    # LSH may miss a pair just above the threshold (by design); 0.15 above it, with 256
    # permutations, the chance of a miss is below 1e-4 per pair
    assume(not any(threshold <= jaccard(sh[i], sh[k]) < threshold + 0.15
                   for i in range(len(texts)) for k in range(i)))
    items = [item("d", str(k), t) for k, t in enumerate(texts)]
    outcomes = create("near-dup", threshold=threshold, ngram=n, num_perm=256).apply(items)
    index = {it.id: k for k, it in enumerate(items)}
    assert {index[o.item_id]: index[o.related_id] for o in outcomes} == brute_force(texts, threshold, n)
    for o in outcomes:
        k, j = index[o.item_id], index[o.related_id]
        assert o.detail["jaccard"] == round(jaccard(sh[k], sh[j]), 6) >= threshold


def test_near_dup_is_deterministic_and_ignores_empty_texts():
    texts = ["a b c d e f g h", "a b c d e f g x", "", "   ", "z y x w v u t s"]
    items = [item("d", str(k), t) for k, t in enumerate(texts)]
    first = create("near-dup", threshold=0.5, ngram=2).apply(items)
    again = create("near-dup", threshold=0.5, ngram=2).apply(items)
    assert first == again and [(o.item_id, o.related_id) for o in first] == [(items[1].id, items[0].id)]
    assert first[0].reason == f"near-duplicate of item {items[0].id}, Jaccard 0.750"
