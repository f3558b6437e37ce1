"""The vectorised near-dup search: shingle hashes, signatures and LSH bands against slow direct computations."""

from __future__ import annotations

import random
import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.curate import minhash, shingles
from assay.curate.minhash import MinHasher, band_keys, lsh_bands, near_duplicates
from assay.curate.shingles import clean, shingle_hashes
from assay.curate.text import _strip_punctuation, jaccard, ngrams, words

# letters with and without combining marks, compatibility forms (ligatures, full width, superscripts),
# punctuation and symbols, every kind of whitespace, scripts other than Latin, NUL and a lone surrogate
PIECES = ["a", "b", "B", "e\u0301", "\u00e9", "\ufb01", "fi", "\uff21", "A", "\u00b2", "2", "\u00df", "ss", "\u1e9e",
          "\u0130", ",", ".", "!", "\u2014", "+", "$", "\U0001f600", "-", "_", "3.5", " ", "  ", "\t", "\n", "\u00a0",
          "\u2028", "\u3000", "\x1c", "\x85", "\u65e5\u672c", "\u8a9e", "\u0627\u0644\u0639", "\u0440\u0443\u0441",
          "\u0915\u093f", "\x00", "\ud800"]
texts_st = st.lists(st.lists(st.sampled_from(PIECES), max_size=25).map("".join), min_size=1, max_size=30)


def string_shingles(text: str, n: int) -> list[str]:
    """The shingles of ``text`` as ``ngrams`` defines them, in order and with repeats."""
    w = words(text)
    if len(w) < n:
        return [" ".join(w)] if w else []
    return [" ".join(w[i:i + n]) for i in range(len(w) - n + 1)]


def assert_hashes_name_shingles(texts: list[str], n: int) -> None:
    values, offsets = shingle_hashes(texts, n)
    assert offsets[0] == 0 and offsets[-1] == len(values) and len(offsets) == len(texts) + 1
    of_string: dict[str, int] = {}
    of_hash: dict[int, str] = {}
    for k, t in enumerate(texts):
        grams = string_shingles(t, n)
        hashes = values[offsets[k]:offsets[k + 1]].tolist()
        assert len(hashes) == len(grams), t
        for g, h in zip(grams, hashes):  # equal shingles, equal hashes; distinct ones, distinct
            assert of_string.setdefault(g, h) == h and of_hash.setdefault(h, g) == g


@settings(max_examples=150, deadline=None, derandomize=True)
@given(texts_st, st.sampled_from([1, 2, 3, 5]))
def test_shingle_hashes_match_the_string_shingles(texts, n):
    assert_hashes_name_shingles(texts, n)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text())
def test_clean_then_split_gives_the_words(text):
    assert clean(text).split() == words(text)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text())
def test_punctuation_table_strips_what_the_categories_say(text):
    assert _strip_punctuation(text) == "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in text)


def test_unicode_edge_cases():
    n = 3
    values, offsets = shingle_hashes(
        ["", "   \u3000\n", "a b", "A, b!", "cafe\u0301 au lait", "caf\u00e9 AU lait", "\ufb01ne day today",
         "fine day today", "\u65e5\u672c \u8a9e \u6587", "\u65e5\u672c\u3000\u8a9e, \u6587", "a\x00b c d", "ab c d"], n)
    per = [values[offsets[k]:offsets[k + 1]].tolist() for k in range(len(offsets) - 1)]
    assert per[0] == per[1] == []  # empty and only whitespace: no shingles
    assert len(per[2]) == 1 and per[2] == per[3]  # shorter than a shingle: the whole text, punctuation and case aside
    assert per[4] == per[5]  # a combining accent composes (NFKC) and case folds
    assert per[6] == per[7]  # the ligature is two letters (NFKC)
    assert len(per[8]) == 1 and per[8] == per[9]  # ideographic space and comma separate words
    assert per[10] != per[11]  # a NUL is part of a word


def test_a_text_hashes_the_same_wherever_it_lies():
    rng = random.Random(3)
    vocab = ["alpha", "b\u00e9ta", "\u03b3\u03ac\u03bc\u03bc\u03b1", "d", "\u65e5\u672c"]
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 400))) for _ in range(3000)]  # several blocks
    assert sum(len(t.encode()) for t in texts) > 3 * shingles._BLOCK_BYTES
    values, offsets = shingle_hashes(texts, 4)
    for k in range(0, len(texts), 97):
        alone, _ = shingle_hashes([texts[k]], 4)
        assert alone.tolist() == values[offsets[k]:offsets[k + 1]].tolist()
    assert_hashes_name_shingles(texts[:300], 4)


def test_signatures_equal_the_direct_minimum():
    rng = np.random.default_rng(5)
    sizes = [0, 3, 1, 0, 50, minhash._BLOCK + 17, 2, 0, 700, 1]  # empty texts, one longer than a block
    values = rng.integers(0, 2**64, sum(sizes), dtype=np.uint64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    h = MinHasher(32, seed=9)
    sig = h.signatures(values, offsets)
    a, b = h.a.ravel().tolist(), h.b.ravel().tolist()
    for k in range(len(sizes)):
        xs = [v >> 32 for v in values[offsets[k]:offsets[k + 1]].tolist()]
        want = [min(((ai * x + bi) % 2**32 for x in xs), default=2**32 - 1) for ai, bi in zip(a, b)]
        assert sig[:, k].tolist() == want
    assert (h.signatures(values, offsets) == sig).all() and (MinHasher(32, seed=10).signatures(values, offsets) != sig).any()


def test_minhash_estimates_jaccard_like_independent_permutations():
    rng = np.random.default_rng(11)
    h = MinHasher(128, seed=1)
    errors, est = [], []
    for _ in range(1500):  # pairs of sets of 90 at Jaccard 0.8: 100 elements, 80 shared
        u = rng.integers(0, 2**64, 100, dtype=np.uint64)
        sig = h.signatures(np.concatenate([u[:90], u[10:]]), np.array([0, 90, 180]))
        agree = (sig[:, 0] == sig[:, 1]).mean()
        errors.append(agree - 0.8)
        est.append(((sig[:, 0] == sig[:, 1]).reshape(16, 8).all(axis=1).any()))
    sd = np.sqrt(0.8 * 0.2 / 128)
    assert abs(np.mean(errors)) < 4 * sd / np.sqrt(1500)  # unbiased
    assert 0.85 * sd < np.std(errors) < 1.15 * sd  # the binomial spread: functions as good as independent
    p = 1 - (1 - 0.8 ** 8) ** 16  # a candidate in 16 bands of 8 rows
    assert abs(np.mean(est) - p) < 4 * np.sqrt(p * (1 - p) / 1500)


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 1.0])
@pytest.mark.parametrize("num_perm", [16, 64, 128, 256])
def test_lsh_bands_are_datasketchs_optimum(threshold, num_perm):
    from datasketch.lsh import _optimal_param  # the reference for the same integrals

    assert lsh_bands(threshold, num_perm) == _optimal_param(threshold, num_perm, *minhash.LSH_WEIGHTS)
    assert lsh_bands(threshold, num_perm, (0.05, 0.95)) == _optimal_param(threshold, num_perm, 0.05, 0.95)


def test_band_keys_are_equal_exactly_when_a_bands_values_are():
    rng = np.random.default_rng(2)
    sig = rng.integers(0, 2**32, (128, 6), dtype=np.uint64).astype(np.uint32)
    sig[:8, 1] = sig[:8, 0]  # texts 0 and 1 share band 0; 2 and 3 share the last band only
    sig[-8:, 3] = sig[-8:, 2]
    keys = band_keys(sig, 16, 8)
    assert keys.shape == (16, 6)
    assert keys[0, 0] == keys[0, 1] and keys[15, 2] == keys[15, 3]
    assert (keys[1:, 0] != keys[1:, 1]).all() and (keys[:15, 2] != keys[:15, 3]).all()


def test_near_duplicates_keep_the_first_and_report_progress():
    base = "the quick brown fox jumps over the lazy dog near the river bank today".split()
    texts = [" ".join(base[:k] + ["CHANGED"] + base[k + 1:]) for k in range(5, 14)] + ["", "unrelated words only here"]
    texts.insert(0, " ".join(base))
    seen = []
    found = near_duplicates(texts, threshold=0.5, ngram=2, progress=seen.append)
    assert seen[-1] == len(texts)
    sh = [ngrams(words(t), 2) for t in texts]
    for i, j, sim in found:
        assert j < i and j not in {f[0] for f in found} and sim == jaccard(sh[i], sh[j]) >= 0.5
        # the most similar kept earlier text, the earliest on ties
        kept = [k for k in range(i) if k not in {f[0] for f in found if f[0] < i}]
        assert (sim, -j) == max((jaccard(sh[i], sh[k]), -k) for k in kept)
    assert {f[0] for f in found} == set(range(1, 10)) and near_duplicates([], threshold=0.5) == []


def test_a_text_longer_than_the_cached_powers_hashes_alike_and_leaves_no_big_cache():
    big = " ".join(f"x{k % 997}" for k in range(4 * shingles._BLOCK_BYTES // 4))  # past 4 blocks of bytes
    values, offsets = shingle_hashes(["a b c", big, "a b c"], 3)
    assert len(shingles._POWERS.up) <= 4 * shingles._BLOCK_BYTES
    assert values[0] == values[-1] and len(values) == 2 + len(big.split()) - 2
    assert len(set(values[offsets[1]:offsets[2]].tolist())) == len(ngrams(words(big), 3)) == 997
