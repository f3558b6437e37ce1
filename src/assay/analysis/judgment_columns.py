"""Two models' numeric judgments as integer codes: what the A/B test's paired scores read, millions in seconds.

:func:`scored_judgments` gives the rows of :func:`assay.analysis.frames.judgment_codes` that
carry a value (the same selection and rules: corrections applied, a rater's latest judgment
per response, rubric and dimension count), as NumPy codes, with each response's item and
model and each item's cluster. Its read is narrower: no label or guideline version, the
rubric and the dimension only when the selection leaves more than one possible, and whether
a judgment corrects another as a flag rather than an id. Codes stay the reader's (response
ids are not sorted unless a caller needs their order), and nothing becomes a pandas column.
When a correction or a repeated judgment is present the rules need ids and times: it then
asks ``judgment_codes``, as it does inside :func:`~assay.analysis.frames.shared_reads`
(where the report's wide read answers).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import make_url, select

from assay.analysis import frames
from assay.store import Store
from assay.store import tables as T

__all__ = ["ScoredJudgments", "scored_judgments"]


@dataclass(frozen=True)
class ScoredJudgments:
    """Judgments with a value, one row each, as codes; per response its item and model; per item its cluster.

    Row arrays (``rubric``, ``dimension``, ``unit``, ``rater``: codes; ``value``: floats) index
    the name arrays beside them, rows in the order of those four codes (a response's raters
    together, in id order). ``rubrics``, ``dimensions``, ``items`` and ``clusters`` are
    sorted, as are ``raters`` (the rater ids read), so ordering by code
    is ordering by name. ``unit_ids`` names each response code (in no particular order: see
    :meth:`unit_rank`). ``item_of_unit``, ``model_of_unit`` and ``cluster_of_item`` hold -1
    where there is none.
    """

    rubric: np.ndarray
    dimension: np.ndarray
    unit: np.ndarray
    rater: np.ndarray
    value: np.ndarray
    rubrics: np.ndarray
    dimensions: np.ndarray
    raters: np.ndarray
    unit_ids: pa.Array
    item_of_unit: np.ndarray
    model_of_unit: np.ndarray
    items: np.ndarray
    models: np.ndarray
    cluster_of_item: np.ndarray
    clusters: np.ndarray
    _rank: list = field(default_factory=list, repr=False, compare=False)

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)

    @property
    def n_raters(self) -> int:
        return len(self.raters)

    def unit_rank(self) -> np.ndarray:
        """Each response code's position in id order (sorted once, when first asked)."""
        if not self._rank:
            order = pc.array_sort_indices(self.unit_ids).to_numpy()
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order))
            self._rank.append(rank)
        return self._rank[0]

    def model_code(self, name: str) -> int:
        """The code of model ``name`` (-2 when no response of it was read)."""
        hit = np.flatnonzero(self.models == name)
        return int(hit[0]) if len(hit) else -2

    @classmethod
    def from_frame(cls, jf: pd.DataFrame) -> ScoredJudgments:
        """From :func:`~assay.analysis.frames.judgment_codes`' frame (read with ``items=True``)."""
        def codes(col: str) -> np.ndarray:
            return np.asarray(jf[col].cat.codes, dtype=np.int64)

        def names(col: str) -> np.ndarray:
            return np.asarray(jf[col].cat.categories, dtype=object)

        jf = jf[jf["value"].notna()]
        unit, item, units, items = codes("unit"), codes("item_id"), names("unit"), names("item_id")
        item_of_unit = np.full(len(units), -1, dtype=np.int64)
        item_of_unit[unit] = item
        model_of_unit = np.full(len(units), -1, dtype=np.int64)
        model_of_unit[unit] = codes("model")
        cluster_of_item = np.full(len(items), -1, dtype=np.int64)
        known = item >= 0
        cluster_of_item[item[known]] = codes("cluster")[known]
        cols = ("rubric", "dimension", "unit", "rater")
        rows = _in_order([codes(c) for c in cols], [len(jf[c].cat.categories) for c in cols],
                         jf["value"].to_numpy(float))
        if rows is None:
            raise ValueError("judgment_codes gave a rater's judgment of a response twice")
        out = cls(*rows, names("rubric"), names("dimension"), names("rater"),
                  pa.array(units, pa.string()), item_of_unit, model_of_unit, items, names("model"),
                  cluster_of_item, names("cluster"))
        out._rank.append(np.arange(len(units)))  # the categories are sorted
        return out


def scored_judgments(
    store: Store,
    *,
    models: Sequence[str],
    rubric: str | None = None,
    dimensions: Sequence[str] | None = None,
    raters: Sequence[str] | None = None,
    campaign: str | None = None,
    datasets: Sequence[str] | None = None,
) -> ScoredJudgments:
    """The current judgments of ``models``' responses that carry a value, selected as in ``judgment_codes``."""
    kw = dict(rubric=rubric, dimensions=dimensions, raters=raters, campaign=campaign, models=models,
              datasets=datasets)
    if frames.shared_read_active():  # the report's one wide read answers
        return ScoredJudgments.from_frame(frames.judgment_codes(store, items=True, **kw))
    j = T.judgments
    one_dimension = dimensions is not None and len(dimensions) == 1
    cols = [j.c.response_id.label("unit"), j.c.rater_id.label("rater"), j.c.value,
            j.c.supersedes.is_not(None).label("corrects")]
    if rubric is None:
        cols.append(j.c.rubric)
    if not one_dimension:
        cols.append(j.c.dimension)
    coded = [c.name for c in cols if c.name not in ("value", "corrects")]
    stmt = select(*cols).where(*frames.judgment_filters(store, **kw))
    with ThreadPoolExecutor(max_workers=1) as pool:
        # the responses are read beside the judgments (each read is its own process or connection), except
        # from a store in memory, which another thread would see empty
        responses = (pool.submit(_read_responses, store, models, datasets) if not _in_memory(store)
                     else _done(_read_responses(store, models, datasets)))
        table = store.arrow_select(stmt, dictionary=coded)
        responses = responses.result()
    if table.num_rows and pc.any(pc.cast(table["corrects"], pa.bool_())).as_py():
        return ScoredJudgments.from_frame(frames.judgment_codes(store, items=True, **kw))
    unit, unit_ids = _dictionary(table["unit"])
    rater, raters_read = _sorted_codes(table["rater"])
    rub, rubrics = (_sorted_codes(table["rubric"]) if rubric is None else
                    (np.zeros(table.num_rows, dtype=np.int64), np.array([rubric], dtype=object)))
    dim, dims = (_sorted_codes(table["dimension"]) if not one_dimension else
                 (np.zeros(table.num_rows, dtype=np.int64), np.array([dimensions[0]], dtype=object)))
    value = table["value"].to_numpy(zero_copy_only=False).astype(float, copy=False)
    rows = _in_order([rub, dim, unit, rater], [len(rubrics), len(dims), len(unit_ids), len(raters_read)], value)
    if rows is None:  # a rater judged a response twice on a dimension: the latest counts, by time
        return ScoredJudgments.from_frame(frames.judgment_codes(store, items=True, **kw))
    item_of_unit, model_of_unit, items, model_names, cluster_of_item, clusters = _responses(
        store, responses, unit_ids)
    return ScoredJudgments(*rows, rubrics, dims, raters_read, unit_ids, item_of_unit, model_of_unit, items,
                           model_names, cluster_of_item, clusters)


def _in_order(keys: list[np.ndarray], sizes: list[int], value: np.ndarray) -> list[np.ndarray] | None:
    """The keys and values of the rows with a value, in key order; None when two rows share every key."""
    sizes = [max(n, 1) for n in sizes]
    flat = np.zeros(len(value), dtype=np.int64)
    for key, size in zip(keys, sizes):  # (a key of one value adds nothing: no pass over the rows)
        if size > 1:
            flat *= size
            flat += key
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    if (ordered[1:] == ordered[:-1]).any():
        return None
    has = ~np.isnan(value[order])
    ordered, value = ordered[has], value[order[has]]
    out = []
    for size in reversed(sizes):  # the keys back from the sorted flat key (cheaper than gathering each)
        ordered, key = np.divmod(ordered, size) if size > 1 else (ordered, np.zeros(len(ordered), dtype=np.int64))
        out.append(key)
    return [*reversed(out), value]


def _dictionary(col: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Codes (-1: null) and values of a column, dictionary-encoded as read or here (one dictionary for all chunks)."""
    if pa.types.is_dictionary(col.type) and col.num_chunks > 1:
        col = col.unify_dictionaries()  # (read a batch at a time, each batch its own dictionary)
    array = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    codes = pc.fill_null(array.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, array.dictionary


def _sorted_codes(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Codes in the order of the values (UTF-8 byte order, as Python sorts str) and the sorted values."""
    codes, values = _dictionary(col)
    order = pc.array_sort_indices(values).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    if len(order) and codes.min() >= 0:
        codes = rank[codes]
    elif len(order):
        codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
    return codes, np.asarray(values.take(pa.array(order)).to_pylist(), dtype=object)


def _in_memory(store: Store) -> bool:
    url = make_url(store.url)
    return store.backend == "sqlite" and url.database in (None, "", ":memory:")


def _done(value: object) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def _read_responses(store: Store, models: Sequence[str], datasets: Sequence[str] | None) -> pa.Table:
    """The models' responses (to those datasets' items): id, item_id and model."""
    r = T.responses
    stmt = select(r.c.id, r.c.item_id, r.c.model).where(r.c.model.in_(list(models)))
    if datasets is not None:
        stmt = stmt.where(r.c.item_id.in_(frames._dataset_items(datasets)))
    return store.arrow_select(stmt, dictionary=("item_id", "model"))


def _responses(store: Store, responses: pa.Table, unit_ids: pa.Array) -> tuple[np.ndarray, ...]:
    """Per response code its item and model code; the items (sorted), models, each item's cluster code, clusters."""
    it = T.items
    where = pc.index_in(unit_ids, value_set=responses["id"].combine_chunks())
    found = where.is_valid().to_numpy(zero_copy_only=False)
    at = pc.fill_null(where, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    item, items = _sorted_codes(responses["item_id"])
    model, model_names = _dictionary(responses["model"])
    item_of_unit = np.where(found, item[at], -1) if len(item) else np.full(len(at), -1, dtype=np.int64)
    model_of_unit = np.where(found, model[at], -1) if len(model) else np.full(len(at), -1, dtype=np.int64)
    # clustered items are few or none as a rule: read here (a reader process costs more than the query)
    with store.engine.connect() as c:
        clustered = c.execute(select(it.c.id, it.c.cluster).where(it.c.cluster.is_not(None))).all()
    cluster_of_item = np.full(len(items), -1, dtype=np.int64)
    clusters = np.array([], dtype=object)
    if clustered and len(items):
        ids, names = zip(*clustered)
        where = pc.index_in(pa.array(ids, pa.string()), value_set=pa.array(items, pa.string()))
        hit = where.is_valid()
        if pc.any(hit).as_py():
            code, clusters = _sorted_codes(pa.chunked_array([pa.array(names, pa.string()).filter(hit)]))
            cluster_of_item[where.filter(hit).to_numpy(zero_copy_only=False).astype(np.int64)] = code
    return item_of_unit, model_of_unit, items, np.asarray(model_names.to_pylist(), dtype=object), \
        cluster_of_item, clusters
