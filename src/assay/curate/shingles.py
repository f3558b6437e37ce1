"""Word n-gram shingles of many texts at once, as 64-bit hashes: what MinHash needs, without a string per shingle.

The words are those of ``curate.text.words`` (NFKC, case folded, Unicode punctuation and
symbols made spaces, split on whitespace), and a shingle is what ``curate.text.ngrams``
makes of them: every run of ``ngram`` words, or the whole text when it has fewer. Each
text is cleaned by three C-level string calls; then a block of texts is one UTF-8 byte
array, cut into words and hashed with NumPy:

- a word's hash is the polynomial ``sum(byte_j * P**j) mod 2**64`` over its bytes, taken
  from prefix sums of the block (so it does not depend on where the word lies), then mixed
  with the splitmix64 finaliser;
- a shingle's hash is ``sum(word_k * C_k) mod 2**64`` over its words (``C_k`` odd
  constants, one per position), mixed again.

Equal shingles get equal hashes; distinct ones collide with probability about 2**-64. The
hashes feed MinHash only: near-dup confirms every candidate on the shingle strings.

>>> values, offsets = shingle_hashes(["A b, C d!", "a b c  d", "", "a  b"], 3)
>>> offsets.tolist()
[0, 2, 4, 4, 5]
>>> bool((values[0:2] == values[2:4]).all()), bool(values[0] != values[1])
(True, True)
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from collections.abc import Sequence

import numpy as np

from assay.curate.text import punctuation_table

_U64 = np.uint64
_P = _U64(0x9E3779B97F4A7C15)  # the byte polynomial's base (odd, so invertible mod 2**64)
_P_INV = _U64(pow(int(_P), -1, 2**64))
# byte -> part of a word: every byte but the ASCII whitespace str.split() cuts on (bytes of
# non-ASCII characters are >= 0x80; non-ASCII whitespace is made a space before encoding)
_IN_WORD = np.ones(256, dtype=bool)
_IN_WORD[[ord(c) for c in " \t\n\v\f\r\x1c\x1d\x1e\x1f"]] = False
_BLOCK_BYTES = 1 << 20  # texts are cleaned, encoded and cut into words this many bytes at a time


@functools.cache
def _clean_table() -> dict[int, str]:
    """``punctuation_table`` plus non-ASCII whitespace, all to a space: words are then cut at ASCII whitespace only."""
    table = dict(punctuation_table())
    table.update((cp, " ") for cp in range(128, sys.maxunicode + 1) if chr(cp).isspace())
    return table


def clean(text: str) -> str:
    """``text`` as ``curate.text.words`` sees it before splitting (NFKC, case folded, punctuation a space), with every
    whitespace character that is not ASCII made a space.

    >>> clean("Ｈello,\\u2028WORLD—ﬁne").split()
    ['hello', 'world', 'fine']
    """
    return unicodedata.normalize("NFKC", text).casefold().translate(_clean_table())


def _mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, in place on a uint64 array (a bijection that spreads every bit over all)."""
    with np.errstate(over="ignore"):
        x ^= x >> _U64(30)
        x *= _U64(0xBF58476D1CE4E5B9)
        x ^= x >> _U64(27)
        x *= _U64(0x94D049BB133111EB)
        x ^= x >> _U64(31)
    return x


class _Powers:
    """``P**j`` and ``P**-j`` mod 2**64 for j below a length that grows as blocks need."""

    def __init__(self) -> None:
        self.up = self.down = np.ones(0, dtype=_U64)

    def upto(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.up) >= n:
            return self.up[:n], self.down[:n]
        size = 1 << max(n - 1, 1).bit_length()
        with np.errstate(over="ignore"):
            up = np.cumprod(np.full(size, _P, dtype=_U64)) * _P_INV  # P**0, P**1, ...
            down = np.cumprod(np.full(size, _P_INV, dtype=_U64)) * _P
        if size <= 4 * _BLOCK_BYTES:  # a block made long by one huge text does not keep its powers
            self.up, self.down = up, down
        return up[:n], down[:n]


_POWERS = _Powers()


def _word_hashes(cleaned: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The hashes of the words of already ``clean`` texts, in order, and each text's word count."""
    encoded = [t.encode("utf-8", "surrogatepass") for t in cleaned]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    buf = np.frombuffer(b" ".join(encoded), dtype=np.uint8)  # a space between texts: no word spans two
    inside = np.zeros(len(buf) + 2, dtype=np.int8)
    inside[1:-1] = _IN_WORD[buf]
    edges = np.diff(inside)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    up, down = _POWERS.upto(len(buf))
    prefix = np.zeros(len(buf) + 1, dtype=_U64)
    with np.errstate(over="ignore"):
        np.cumsum((buf + _U64(1)) * up, out=prefix[1:])  # + 1: a NUL byte counts
        words = _mix((prefix[ends] - prefix[starts]) * down[starts])
    text_starts = np.cumsum(lengths + 1) - lengths - 1
    counts = np.diff(np.searchsorted(starts, np.append(text_starts, len(buf))))
    return words, counts


@functools.cache
def _position_constants(ngram: int) -> np.ndarray:
    return np.random.default_rng(0x5EED).integers(0, 2**63, ngram + 1, dtype=_U64) * _U64(2) + _U64(1)


def _shingles_of_words(words: np.ndarray, counts: np.ndarray, ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of texts given as word hashes and word counts: the hashes and each text's shingle count."""
    c = _position_constants(ngram)
    ends = np.cumsum(counts)
    room = np.repeat(ends, counts) - np.arange(len(words))  # words from each word to its text's end
    acc = np.zeros(len(words), dtype=_U64)
    with np.errstate(over="ignore"):
        for k in range(min(ngram, len(words))):
            within = room[:len(words) - k] > k
            acc[:len(words) - k] += np.where(within, words[k:] * c[k], _U64(0))
        short = (counts > 0) & (counts < ngram)  # a text shorter than a shingle is its one shingle
        acc[(ends - counts)[short]] += counts[short].astype(_U64) * c[ngram]
    first = np.zeros(len(words), dtype=bool)
    first[(ends - counts)[short]] = True
    keep = (room >= ngram) | first
    return _mix(acc[keep]), np.where(counts >= ngram, counts - ngram + 1, np.minimum(counts, 1))


def shingle_hashes(texts: Sequence[str], ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """The word ``ngram``-gram shingles of ``texts`` as uint64 hashes, text after text: ``values`` and ``offsets``,
    text ``k``'s being ``values[offsets[k]:offsets[k + 1]]`` (repeats included, none for an empty text)."""
    if ngram < 1:
        raise ValueError(f"ngram must be a whole number >= 1, not {ngram!r}")
    values, counts = [], []
    block: list[str] = []
    size = 0
    for k, text in enumerate(texts):
        t = clean(text)
        block.append(t)
        size += len(t) + 1
        if size >= _BLOCK_BYTES or k == len(texts) - 1:
            v, c = _shingles_of_words(*_word_hashes(block), ngram)
            values.append(v)
            counts.append(c)
            block, size = [], 0
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    if counts:
        np.cumsum(np.concatenate(counts), out=offsets[1:])
    return (np.concatenate(values) if values else np.zeros(0, dtype=_U64)), offsets
