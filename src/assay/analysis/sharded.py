"""Analyses run per partition of the store, their summaries merged: in this process or on Ray workers.

The A/B test is the analysis built this way. A shard is one dataset: one query reads the
judgments of responses to that dataset's items (``Selection.datasets``), and the shard's
work ends in one :class:`~assay.analysis.abtest.DimensionScores` per rubric dimension (a
mergeable :class:`~assay.stats.abtest.PairedSummary` of its prompts). The driver adds them
up and builds the report with the same code as :func:`~assay.analysis.abtest.compare_models`,
so the report is the one-pass report, figure for figure (seeded bootstrap and permutation
tests included: the merged prompts are in the one pass's key order).

Datasets are the natural shards: a response, every judgment of it and every prompt key
(an item id, or a prompt's text *within its dataset*) belong to one dataset, so no prompt
is split between shards. On PostgreSQL each shard's query reads one dataset's rows (and,
were judgments partitioned by dataset, one partition: see docs/ARCHITECTURE.md).

Executors: ``"partitioned"`` runs the shards one after another in this process (memory of
one dataset at a time); ``"ray"`` sends each shard to a Ray task that opens the store by
its URL (SQLite file or PostgreSQL; workers on other machines need a URL they can reach).
Ray joins the cluster named by ``RAY_ADDRESS`` if set, else starts a local one with
``workers`` CPUs, shut down again at the end.

The report's pairwise-preference sign tests are sharded the same way: each shard sends
the per-item votes of its comparisons (:class:`~assay.analysis.abtest.PreferenceVotes`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from assay.analysis.abtest import (
    ABScores,
    ABSettings,
    DimensionScores,
    PreferenceVotes,
    _check_compare,
    compare_report,
    dimension_scores,
    paired_scores,
    preference_votes,
)
from assay.analysis.options import Options, Selection
from assay.errors import BadInput
from assay.store import Store

__all__ = ["EXECUTORS", "ShardScores", "Sharding", "abtest_shard", "compare_models_sharded", "store_datasets"]

EXECUTORS = ("local", "partitioned", "ray")


@dataclass(frozen=True)
class Sharding:
    """How a sharded analysis runs its shards.

    ``executor``: ``"partitioned"`` (shards in turn, in this process) or ``"ray"`` (a Ray task
    per dataset); ``workers``: the CPUs of the local Ray started when ``RAY_ADDRESS`` is not set.
    """

    executor: str = "partitioned"
    workers: int = 2


@dataclass(frozen=True)
class ShardScores:
    """What one shard sends back: its dataset, how its prompts were paired, its dimensions' scores.

    ``pair_by`` is ``"auto"`` only when the shard had no judgment of either model;
    ``preferences`` holds the votes of its comparisons of A against B (when asked for).
    """

    dataset: str
    pair_by: str
    dimensions: list[DimensionScores]
    preferences: list[PreferenceVotes]


def store_datasets(store: Store) -> list[str]:
    """The names of the datasets that hold items, sorted: the shards of a per-dataset analysis."""
    return sorted(d for d, n in store.group_counts("items", "dataset").items() if n)


def abtest_shard(url: str, model_a: str, model_b: str, select: Selection, pair_by: str, dataset: str,
                 preferences: bool = True) -> ShardScores:
    """One dataset's paired scores and preference votes (a Ray task, or a step of the partitioned loop).

    Opens its own store from ``url``.
    """
    store = Store(url, create=False)
    try:
        scores = paired_scores(store, model_a, model_b, select=dataclasses.replace(select, datasets=(dataset,)),
                               pair_by=pair_by)
        votes = preference_votes(store, model_a, model_b, select=Selection(
            raters=select.raters, campaign=select.campaign, datasets=(dataset,))) if preferences else []
        return ShardScores(dataset, scores.attrs.get("pair_by", pair_by), dimension_scores(scores), votes)
    finally:
        store.close()


def _run_local(tasks: list[tuple]) -> list[ShardScores]:
    return [abtest_shard(*t) for t in tasks]


def _run_ray(tasks: list[tuple], workers: int) -> list[ShardScores]:
    try:
        import ray
    except ImportError:
        raise BadInput("--executor ray needs Ray: pip install 'assay[ray]'") from None
    started = False
    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):
            ray.init(log_to_driver=False, logging_level="ERROR")
        else:
            # "local": a Ray of our own, not a cluster an earlier `ray start` left behind
            ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False,
                     logging_level="ERROR", object_store_memory=256 * 2**20)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=2)(abtest_shard)
        return ray.get([remote.remote(*t) for t in tasks])
    finally:
        if started:
            ray.shutdown()


def _runner(executor: str, workers: int) -> Callable[[list[tuple]], list[ShardScores]]:
    if executor == "partitioned":
        return _run_local
    if executor == "ray":
        return lambda tasks: _run_ray(tasks, workers)
    raise BadInput(f"executor must be one of {', '.join(EXECUTORS)}, not {executor!r}")


def merge_shards(results: Sequence[ShardScores]) -> list[DimensionScores]:
    """Each rubric dimension's scores over every shard, in (rubric, dimension) order as the one pass gives them."""
    merged: dict[tuple[str, str], DimensionScores] = {}
    for r in results:
        for d in r.dimensions:
            key = (d.rubric, d.dimension)
            merged[key] = merged[key] + d if key in merged else d
    return [merged[k] for k in sorted(merged)]


def merge_votes(results: Sequence[ShardScores]) -> list[PreferenceVotes]:
    """Each (rubric, dimension)'s preference votes over every shard, in order of first comparison."""
    merged: dict[tuple, PreferenceVotes] = {}
    for r in results:
        for v in r.preferences:
            key = (v.rubric, v.dimension)
            merged[key] = merged[key] + v if key in merged else v
    return sorted(merged.values(), key=lambda v: v.first)


def compare_models_sharded(
    store: Store,
    model_a: str,
    model_b: str,
    *,
    select: Selection = Selection(),
    options: Options = Options(),
    test: ABSettings = ABSettings(),
    sharding: Sharding = Sharding(),
) -> dict[str, Any]:
    """:func:`~assay.analysis.abtest.compare_models`' report, computed one dataset at a time and merged.

    ``test`` holds compare_models' ``method``, ``pair_by`` and ``preferences``; ``sharding``
    how the shards run (:class:`Sharding`). ``select.datasets`` limits the shards (default:
    every dataset with items; the report then covers only those). With ``pair_by="auto"`` each
    shard decides as the one pass would on its own rows; prompts are matched by item as soon
    as one shard's are, and shards that chose otherwise are redone.
    """
    method, pair_by, preferences = test.method, test.pair_by, test.preferences
    _check_compare(store, model_a, model_b, method, options)
    run = _runner(sharding.executor, sharding.workers)
    shards = list(select.datasets) if select.datasets is not None else store_datasets(store)
    select = dataclasses.replace(select, datasets=None)  # each shard reads its own dataset

    def tasks(names: Sequence[str], how: str) -> list[tuple]:
        return [(store.url, model_a, model_b, select, how, name, preferences) for name in names]

    results = run(tasks(shards, pair_by)) if shards else []
    used = pair_by
    if pair_by == "auto":
        chosen = {r.pair_by for r in results} - {"auto"}
        used = "item" if "item" in chosen else ("prompt" if chosen else "auto")
        redo = [r.dataset for r in results if r.pair_by not in (used, "auto")]
        if redo:
            again = {r.dataset: r for r in run(tasks(redo, used))}
            results = [again.get(r.dataset, r) for r in results]
    report = compare_report(store, model_a, model_b, ABScores(merge_shards(results), merge_votes(results), used),
                            select=select, options=options, method=method)
    report["shards"] = {"by": "dataset", "executor": sharding.executor, "count": len(shards)}
    return report
