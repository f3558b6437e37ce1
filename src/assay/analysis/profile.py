"""The distribution of a dataset's prompts, and two datasets compared feature by feature.

:func:`profile_dataset` describes one dataset: length in characters and in whitespace tokens
(quantiles, histogram), language (the stored ``Item.language``, else ``curate.language``'s
lingua on a seeded sample), category and metadata keys, topic clusters
(:mod:`assay.analysis.topics`; skipped with one line when the ``embed`` extra is missing),
duplication (exact, as the ``exact-dup`` curation step compares; near, as ``near-dup``),
personal data (``curate.pii``) and contamination against another dataset
(``curate.contamination``: GPT-3's 13-gram overlap).

:func:`compare_datasets` puts two side by side with one test per feature
(:mod:`assay.stats.distribution`: chi-square or G for categories, Kolmogorov-Smirnov for
lengths, Jensen-Shannon divergence over topics fitted on the union), p-values adjusted
across features by Holm (1979), and the topics one dataset has and the other lacks. With a
:class:`~assay.analysis.profile_impact.ScoreSpec` it adds the score per topic and re-weighted
to the other dataset's mix (:mod:`assay.analysis.profile_impact`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from assay import records as R
from assay.analysis.options import Options
from assay.analysis.topics import NO_TOPIC, TopicSettings, Topics, fit_topics
from assay.errors import BadInput, MissingExtra
from assay.stats import distribution as D
from assay.stats.abtest import adjust_pvalues

if TYPE_CHECKING:
    from assay.analysis.profile_impact import ScoreSpec
    from assay.store import Store

__all__ = ["ProfileSettings", "compare_datasets", "contamination", "load_prompts", "profile_dataset"]

UNSURE = "(unsure)"
NONE = "(none)"


@dataclass(frozen=True)
class ProfileSettings:
    """What a profile computes and how; ``random_state`` seeds every sample."""

    topics: TopicSettings | None = TopicSettings()
    """How topics are found; None: no topics."""
    language_sample: int = 2000
    """Prompts without a stored language whose language is detected (a seeded sample beyond it)."""
    languages: Sequence[str] | None = None
    """Candidate languages of the detector (ISO 639-1); None: all lingua knows (slower)."""
    near_threshold: float = 0.8
    """Word 5-gram Jaccard similarity from which a prompt is a near-duplicate (``near-dup``'s default)."""
    ngram: int = 13
    """Word n-gram of the contamination overlap (13: Brown et al. 2020, appendix C)."""
    bins: int = 30
    test: str = "chi2"
    """``chi2`` (Pearson) or ``g`` (likelihood ratio) for categorical features."""
    random_state: int = 0


@dataclass
class Prompts:
    """One dataset's items in the curation steps' order, and their prompt texts."""

    dataset: str
    items: list[R.Item]
    texts: list[str]


def load_prompts(store: Store, dataset: str, *, param: str = "dataset") -> Prompts:
    """The items of ``dataset``; BadInput naming ``param`` when it does not exist or is empty."""
    from assay.curate.pipeline import order_items
    from assay.curate.text import item_text

    if store.find(R.Dataset, dataset) is None:
        raise BadInput(f"no dataset {dataset!r} in the store (see `assay ls`)", param=param)
    items = order_items(store.iter(R.Item, dataset=dataset))
    if not items:
        raise BadInput(f"dataset {dataset!r} has no items", param=param)
    return Prompts(dataset, items, [item_text(it) for it in items])


def _languages(p: Prompts, settings: ProfileSettings, rng: np.random.Generator) -> dict[str, Any]:
    from assay.curate.language import check_codes, identify

    stored = {i: it.language.lower() for i, it in enumerate(p.items) if it.language}
    rest = np.array([i for i in range(len(p.items)) if i not in stored], dtype=np.int64)
    among = check_codes(list(settings.languages), "languages") if settings.languages else None
    sample = np.sort(rng.choice(rest, size=min(settings.language_sample, len(rest)), replace=False)) if len(rest) else rest
    labels = dict(stored)
    for i in sample.tolist():
        found = identify(p.texts[i], languages=among)
        labels[i] = found.language if found.unsure is None and found.language else UNSURE
    return {"labels": labels, "stored": len(stored), "detected": int(len(sample)), "not_looked_at": int(len(rest) - len(sample))}


def _features(p: Prompts, settings: ProfileSettings) -> dict[str, Any]:
    """Per prompt: lengths, category, language (where looked at), personal data, duplicate flags."""
    from assay.curate.minhash import near_duplicates
    from assay.curate.pii import scrub
    from assay.curate.text import dup_key

    rng = np.random.default_rng(settings.random_state)
    seen: set[str] = set()
    exact = np.zeros(len(p.texts), dtype=bool)
    for i, t in enumerate(p.texts):
        k = dup_key(t)
        exact[i] = k in seen
        seen.add(k)
    near = np.zeros(len(p.texts), dtype=bool)
    for i, _, _ in near_duplicates(p.texts, threshold=settings.near_threshold):
        near[i] = True
    pii = [scrub(t)[1] for t in p.texts]
    return {"chars": np.array([len(t) for t in p.texts]), "words": np.array([len(t.split()) for t in p.texts]),
            "category": [it.category or NONE for it in p.items], "language": _languages(p, settings, rng),
            "pii": pii, "exact": exact, "near": near | exact}


def _histogram(values: np.ndarray, edges: np.ndarray) -> dict[str, Any]:
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def _edges(values: Sequence[np.ndarray], bins: int) -> np.ndarray:
    """Shared bin edges from 0 to the 99th percentile of all values (longer ones fall in the last bin)."""
    v = np.concatenate(values)
    top = max(float(np.quantile(v, 0.99)), 1.0)
    return np.linspace(0.0, top, bins + 1)


def _metadata(items: Sequence[R.Item], top: int = 5) -> list[dict[str, Any]]:
    keys: Counter = Counter()
    values: dict[str, Counter] = {}
    for it in items:
        for k, v in (it.metadata or {}).items():
            keys[k] += 1
            if isinstance(v, (str, int, float, bool)) or v is None:
                values.setdefault(k, Counter())[str(v)] += 1
    return [{"key": k, "items": n, "share": n / len(items), "distinct": len(values.get(k, ())),
             "top": [[v, c] for v, c in values.get(k, Counter()).most_common(top)]}
            for k, n in sorted(keys.items(), key=lambda kv: (-kv[1], kv[0]))]


def _describe(p: Prompts, f: dict[str, Any], edges: dict[str, np.ndarray]) -> dict[str, Any]:
    n = len(p.texts)
    lang = f["language"]
    pii_kinds: Counter = Counter(k for c in f["pii"] for k in c)
    with_pii = sum(1 for c in f["pii"] if c)
    return {
        "dataset": p.dataset, "items": n,
        "length": {u: {**D.quantiles(f[u]), "max": int(f[u].max()), "histogram": _histogram(f[u], edges[u])}
                   for u in ("chars", "words")},
        "language": {"counts": dict(Counter(lang["labels"].values()).most_common()), "stored": lang["stored"],
                     "detected": lang["detected"], "not_looked_at": lang["not_looked_at"]},
        "category": {"counts": dict(Counter(f["category"]).most_common())},
        "metadata": _metadata(p.items),
        "duplication": {"exact": int(f["exact"].sum()), "exact_share": float(f["exact"].mean()),
                        "near": int(f["near"].sum()), "near_share": float(f["near"].mean())},
        "pii": {"items": with_pii, "share": with_pii / n, "kinds": dict(pii_kinds.most_common())},
    }


def contamination(p: Prompts, other: Prompts, ngram: int) -> dict[str, Any]:
    from assay.curate.contamination import overlap

    flags, shares = overlap(p.texts, other.texts, ngram=ngram)
    idx = np.flatnonzero(flags)
    return {"against": other.dataset, "ngram": ngram, "items": int(flags.sum()), "share": float(flags.mean()),
            "mean_overlap": float(shares.mean()),
            "examples": [{"item": p.items[i].id, "prompt": p.texts[i][:200], "overlap": float(shares[i])}
                         for i in idx[np.argsort(-shares[idx], kind="stable")][:5]]}


def _topics(groups: dict[str, Prompts], settings: ProfileSettings,
            keep: dict[str, Sequence[int]] | None = None) -> tuple[Topics | None, str | None]:
    """The topics, or why there are none (the extra is missing, or topics were not asked for)."""
    if settings.topics is None:
        return None, "topics not asked for"
    try:
        return fit_topics({k: g.texts for k, g in groups.items()}, settings.topics, keep=keep), None
    except MissingExtra as e:
        return None, f"topics skipped: {e}"


def profile_dataset(store: Store, dataset: str, *, settings: ProfileSettings = ProfileSettings(),
                    contamination_against: str | None = None, score: ScoreSpec | None = None,
                    confidence: float = 0.95) -> dict[str, Any]:
    """One dataset's profile as JSON-ready data (see the module's docstring); ``score`` adds the score per topic."""
    p = load_prompts(store, dataset)
    if contamination_against == dataset:
        raise BadInput(f"is the dataset itself ({dataset!r}): name another one", param="contamination_against")
    other = load_prompts(store, contamination_against, param="contamination_against") if contamination_against else None
    scored = None
    if score is not None:
        from assay.analysis.profile_impact import read_scores

        scored = read_scores(store, p, score)
    f = _features(p, settings)
    out = _describe(p, f, {u: _edges([f[u]], settings.bins) for u in ("chars", "words")})
    out["contamination"] = contamination(p, other, settings.ngram) if other else None
    topics, why = _topics({dataset: p}, settings, keep={dataset: scored.indices} if scored is not None else None)
    out["topics"] = topics.as_dict() if topics else {"skipped": why}
    out["score"] = None
    if scored is not None:
        from assay.analysis.profile_impact import score_impact

        out["score"] = score_impact(scored, topics, target=None, confidence=confidence)
    return out


def _categorical_features(fa: dict[str, Any], fb: dict[str, Any], pa: Prompts, pb: Prompts,
                          max_keys: int = 10, max_values: int = 20) -> dict[str, tuple[list[str], list[str]]]:
    """Each categorical feature as the two samples' labels."""
    out = {
        "language": ([str(v) for v in fa["language"]["labels"].values()],
                     [str(v) for v in fb["language"]["labels"].values()]),
        "category": (fa["category"], fb["category"]),
        "has personal data": (["yes" if c else "no" for c in fa["pii"]], ["yes" if c else "no" for c in fb["pii"]]),
        "exact duplicate": (["yes" if x else "no" for x in fa["exact"]], ["yes" if x else "no" for x in fb["exact"]]),
    }
    keys: Counter = Counter(k for it in [*pa.items, *pb.items] for k in (it.metadata or {}))
    for key, _ in keys.most_common(max_keys):
        la = [str((it.metadata or {}).get(key, NONE)) for it in pa.items]
        lb = [str((it.metadata or {}).get(key, NONE)) for it in pb.items]
        if len(set(la) | set(lb)) <= max_values:
            out[f"metadata.{key}"] = (la, lb)
    return out


def compare_datasets(store: Store, a: str, b: str, *, settings: ProfileSettings = ProfileSettings(),
                     score: ScoreSpec | None = None, options: Options = Options(rounds=2000),
                     interval: str = "bootstrap", contamination_against: str | None = None) -> dict[str, Any]:
    """``a`` against ``b``: both profiles, one test per feature (Holm-adjusted), topics one lacks, and the score.

    ``score`` (models, rubric dimension, measure) adds the score of ``a``'s prompts per topic
    and re-weighted to ``b``'s mix of topics (``interval``: ``bootstrap`` or ``delta``, at
    ``options.confidence``, ``options.rounds`` resamples seeded by ``options.random_state``); ``contamination_against`` the n-gram overlap of ``a``'s
    prompts with that dataset's.
    """
    if a == b:
        raise BadInput(f"is the dataset itself ({a!r}): compare it with another one", param="against")
    pa, pb = load_prompts(store, a), load_prompts(store, b, param="against")
    if contamination_against == a:
        raise BadInput(f"is the dataset itself ({a!r}): name another one", param="contamination_against")
    other = (pb if contamination_against == b else
             load_prompts(store, contamination_against, param="contamination_against") if contamination_against else None)
    scored = None
    if score is not None:
        from assay.analysis.profile_impact import read_scores

        scored = read_scores(store, pa, score)
    fa, fb = _features(pa, settings), _features(pb, replace(settings, random_state=settings.random_state + 1))
    edges = {u: _edges([fa[u], fb[u]], settings.bins) for u in ("chars", "words")}
    tests: list[dict[str, Any]] = []
    for u, name in (("chars", "length (characters)"), ("words", "length (whitespace tokens)")):
        t = D.numeric_test(fa[u], fb[u])
        tests.append({"feature": name, "kind": "numeric", "test": "Kolmogorov-Smirnov", "statistic": t.statistic,
                      "dof": None, "pvalue": t.pvalue, "divergence": t.statistic, "divergence_name": "KS D",
                      "n_a": t.n_a, "n_b": t.n_b, "note": None})
    for name, (la, lb) in _categorical_features(fa, fb, pa, pb).items():
        if not la or not lb:
            continue
        tests.append(_categorical_row(name, la, lb, settings.test))
    topics, why = _topics({a: pa, b: pb}, settings, keep={a: scored.indices} if scored is not None else None)
    topic_part: dict[str, Any] = {"skipped": why}
    if topics is not None:
        row = _categorical_row("topic", topics.labels[a].tolist(), topics.labels[b].tolist(), settings.test)
        tests.append(row)
        topic_part = {**topics.as_dict(), "jsd": row["divergence"],
                      "only_in_a": [c for c in topics.clusters if c["counts"][b] == 0 and c["topic"] != NO_TOPIC],
                      "only_in_b": [c for c in topics.clusters if c["counts"][a] == 0 and c["topic"] != NO_TOPIC]}
    adjusted = adjust_pvalues([t["pvalue"] for t in tests], method="holm")
    for t, p in zip(tests, adjusted):
        t["p_holm"] = float(p)
    out = {"a": a, "b": b, "profile_a": _describe(pa, fa, edges), "profile_b": _describe(pb, fb, edges),
           "tests": tests, "adjust": "holm", "topics": topic_part, "score": None,
           "contamination": contamination(pa, other, settings.ngram) if other else None}
    if score is not None and scored is not None:
        from assay.analysis.profile_impact import score_impact

        out["score"] = score_impact(scored, topics, target=b, confidence=options.confidence, rounds=options.rounds,
                                    interval=interval, random_state=options.random_state)
    return out


def _categorical_row(name: str, la: Sequence[str], lb: Sequence[str], method: str) -> dict[str, Any]:
    t = D.categorical_test(la, lb, method=method)
    return {"feature": name, "kind": "categorical", "test": "chi-square" if method == "chi2" else "G",
            "statistic": t.statistic, "dof": t.dof, "pvalue": t.pvalue, "divergence": t.jsd,
            "divergence_name": "JSD (bits)", "n_a": int(sum(t.counts_a)), "n_b": int(sum(t.counts_b)),
            "note": t.note, "categories": t.categories, "counts_a": t.counts_a, "counts_b": t.counts_b}
