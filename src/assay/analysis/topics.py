"""Topic clusters of one or more datasets' prompts, from the bundled sentence-embedding model.

Prompts are embedded with ``library.discover.embed_texts`` (all-MiniLM-L6-v2, offline). At
most ``max_texts`` prompts per dataset are embedded, a seeded sample (embedding costs about
25 ms a prompt on one shared core), plus any prompt the caller must have (the scored ones).
The clusters are fitted on at most ``fit_size`` of those, each dataset contributing an equal
part, so a small eval set is not drowned by a large production sample: average linkage
under a cosine distance threshold (``library.discover.cluster_labels``), or into
``n_topics`` clusters. Clusters of fewer than ``min_size`` fitted prompts are dropped; every
embedded prompt then goes to the nearest remaining centroid, or to no topic (label -1)
when its cosine distance to every centroid exceeds the threshold (with ``n_topics``: always
the nearest). Topics are numbered by size over all datasets (``t1`` the largest); each gets
its distinctive terms by class-based TF-IDF (``library.discover.ctfidf_terms``) and its most
central prompts per dataset as examples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.errors import require_extra

NO_TOPIC = "(no topic)"


@dataclass(frozen=True)
class TopicSettings:
    """How prompts are embedded and clustered into topics; every random draw uses ``random_state``."""

    embedding_model: str = "all-MiniLM-L6-v2"
    distance_threshold: float = 0.6
    """Cosine distance of average linkage under which prompts join one topic (0 to 2)."""
    n_topics: int | None = None
    """A fixed number of topics instead of the distance threshold."""
    min_size: int = 3
    """Smallest topic kept, in fitted prompts."""
    max_texts: int = 2000
    """Prompts embedded per dataset (a seeded sample beyond it)."""
    fit_size: int = 2000
    """Prompts the clustering is fitted on, over all datasets (average linkage needs all distances)."""
    random_state: int = 0


@dataclass
class Topics:
    """Each dataset's embedded prompts (indices into its texts) and their topic labels, and the topics."""

    chosen: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    """Per dataset, one label per chosen prompt: ``t1``, ``t2``... or ``NO_TOPIC``."""
    clusters: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)

    def counts(self, name: str) -> dict[str, int]:
        values, n = np.unique(self.labels[name].astype(str), return_counts=True)
        return {str(v): int(k) for v, k in zip(values, n)}

    def as_dict(self) -> dict[str, Any]:
        return {"clusters": self.clusters, "embedded": {k: int(len(v)) for k, v in self.chosen.items()},
                "of": self.sizes, "settings": self.settings}


def fit_topics(texts: Mapping[str, Sequence[str]], settings: TopicSettings = TopicSettings(), *,
               keep: Mapping[str, Sequence[int]] | None = None, examples: int = 3, terms: int = 6) -> Topics:
    """Topics of the prompts ``texts`` (dataset name -> its prompts); ``keep`` names prompts that must be embedded."""
    from assay.library.discover import cluster_labels, ctfidf_terms, embed_texts, require_embed

    require_embed(settings.embedding_model)
    rng = np.random.default_rng(settings.random_state)
    chosen, vectors = {}, {}
    for name, group in texts.items():
        must = np.unique(np.asarray(list((keep or {}).get(name, ())), dtype=np.int64))
        rest = np.setdiff1d(np.arange(len(group)), must)
        room = max(settings.max_texts - len(must), 0)
        extra = rng.choice(rest, size=min(room, len(rest)), replace=False) if room and len(rest) else []
        chosen[name] = np.sort(np.concatenate([must, np.asarray(extra, dtype=np.int64)])).astype(np.int64)
        vectors[name] = embed_texts([group[i] or "(empty)" for i in chosen[name]], model=settings.embedding_model)
    per = max(settings.fit_size // max(len(texts), 1), 1)
    fit = np.vstack([v[np.sort(rng.choice(len(v), size=min(per, len(v)), replace=False))] for v in vectors.values()])
    if settings.n_topics is not None and len(fit) > settings.n_topics:
        (cluster,) = require_extra("embed", "topic clusters", "sklearn.cluster")
        raw = cluster.AgglomerativeClustering(n_clusters=settings.n_topics, metric="cosine",
                                              linkage="average").fit_predict(fit)
    else:
        raw = cluster_labels(fit, distance_threshold=settings.distance_threshold)
    ids, sizes = np.unique(raw, return_counts=True)
    kept = ids[sizes >= settings.min_size]
    # no topic reaching min_size: every prompt is of no topic
    centroids = np.vstack([fit[raw == k].mean(axis=0) for k in kept]) if len(kept) else np.zeros((0, fit.shape[1]))
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    nearest, sims = {}, {}
    for name, v in vectors.items():
        if not len(kept):
            nearest[name], sims[name] = np.full(len(v), -1), np.zeros(len(v))
            continue
        s = v @ centroids.T
        best = s.argmax(axis=1)
        far = (1 - s.max(axis=1)) > settings.distance_threshold if settings.n_topics is None else np.zeros(len(v), bool)
        nearest[name] = np.where(far, -1, best)
        sims[name] = s[np.arange(len(v)), best]
    total = np.bincount(np.concatenate([n[n >= 0] for n in nearest.values()]), minlength=len(kept))
    order = [int(k) for k in np.argsort(-total, kind="stable") if total[k] > 0]
    name_of = {k: f"t{i + 1}" for i, k in enumerate(order)}
    labels = {n: np.array([name_of.get(int(k), NO_TOPIC) for k in lab], dtype=object) for n, lab in nearest.items()}
    docs = [[texts[n][i] for n in texts for i, k in zip(chosen[n], nearest[n]) if k == c] for c in order]
    rest_docs = [texts[n][i] for n in texts for i, k in zip(chosen[n], nearest[n]) if k < 0]
    words = ctfidf_terms(docs + ([rest_docs] if rest_docs else []), top=terms) if docs else []
    clusters = []
    for c, w in zip(order, words):
        ex = {}
        for n in texts:
            mine = np.flatnonzero(nearest[n] == c)
            top = mine[np.argsort(-sims[n][mine], kind="stable")[:examples]]
            ex[n] = [texts[n][chosen[n][i]][:300] for i in top]
        clusters.append({"topic": name_of[c], "terms": w, "title": " / ".join(w[:3]) or name_of[c],
                         "counts": {n: int((nearest[n] == c).sum()) for n in texts}, "examples": ex})
    if rest_docs:
        clusters.append({"topic": NO_TOPIC, "terms": [], "title": NO_TOPIC, "examples": {n: [] for n in texts},
                         "counts": {n: int((nearest[n] < 0).sum()) for n in texts}})
    for c in clusters:
        c["shares"] = {n: c["counts"][n] / max(len(chosen[n]), 1) for n in texts}
    conf = {"embedding_model": settings.embedding_model, "distance_threshold": settings.distance_threshold,
            "n_topics": settings.n_topics, "min_size": settings.min_size, "max_texts": settings.max_texts,
            "fit_size": settings.fit_size, "fitted_on": int(len(fit)), "random_state": settings.random_state}
    return Topics(chosen, labels, clusters, conf, {n: len(t) for n, t in texts.items()})
