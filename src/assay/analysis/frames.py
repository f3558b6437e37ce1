"""Judgments and comparisons from the store as long DataFrames, ready for ``assay.stats``.

Superseded records are dropped (a correction replaces what it corrects), and each row
carries what analyses group by: the rater's kind, the response's model and item, the
guideline version, the campaign.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select as sql_select

from assay import records as R
from assay.analysis.options import Selection
from assay.store import Store
from assay.store import tables as T

JUDGMENT_COLUMNS = ["id", "unit", "item_id", "model", "rater", "rater_kind", "rubric", "dimension", "value", "label",
                    "justification", "flags", "time_spent_s", "guideline_version", "campaign_id", "created_at"]


def _current_arrow(table: pa.Table) -> pa.Table:
    """Drop records another record supersedes, in Arrow (no Python object per row)."""
    replaced = pc.unique(table["supersedes"].drop_null())
    if len(replaced) == 0:
        return table
    return table.filter(pc.invert(pc.is_in(table["id"], value_set=replaced)))


def _current(df: pd.DataFrame) -> pd.DataFrame:
    """Drop records another record supersedes."""
    if df.empty or "supersedes" not in df:
        return df
    replaced = set(df["supersedes"].dropna())
    return df[~df["id"].isin(replaced)]


def judgments_frame(
    store: Store,
    *,
    select: Selection = Selection(),
    guideline_version: int | None = None,
    latest_only: bool = True,
    texts: bool = True,
    units: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Current judgments, one row each: ``unit`` is the response judged, ``rater`` the rater id.

    ``select`` keeps the judgments of a rubric, dimensions, raters, campaign and datasets
    (every field it sets). ``units`` keeps the judgments of those responses only (a few hundred at most: they go
    into the query as a list).

    Read as columns (``Store.arrow_select``, one query joining each judgment's response),
    so millions of judgments load in seconds; ``texts=False`` leaves out the
    justifications and flags, which the statistics do not read.

    With ``latest_only`` (the default) a rater who judged the same unit and dimension more
    than once counts with their last judgment; without it every judgment stays (for
    analyses over time, such as before and after a calibration round).

    ``select.datasets`` keeps the judgments of responses to those datasets' items: one partition
    of the store (a response, and every judgment of it and of its corrections, belongs to
    one item, so per-dataset reads split the judgments exactly).
    """
    j, r = T.judgments, T.responses
    cols = [j.c.id, j.c.response_id.label("unit"), r.c.item_id, r.c.model, j.c.rater_id.label("rater"), j.c.rubric,
            j.c.dimension, j.c.value, j.c.label, j.c.time_spent_s, j.c.guideline_version, j.c.campaign_id,
            j.c.created_at, j.c.supersedes]
    if texts:
        cols += [j.c.justification, j.c.flags]
    stmt = sql_select(*cols).select_from(j.outerjoin(r, r.c.id == j.c.response_id))
    if select.datasets is not None:
        stmt = stmt.join(T.items, T.items.c.id == r.c.item_id).where(T.items.c.dataset.in_(list(select.datasets)))
    for col, val in (("rubric", select.rubric), ("campaign_id", select.campaign),
                     ("guideline_version", guideline_version), ("dimension", select.dimensions),
                     ("rater_id", select.raters), ("response_id", units)):
        if val is not None:
            stmt = stmt.where(j.c[col].in_(list(val)) if isinstance(val, (list, tuple)) else j.c[col] == val)
    columns = [c for c in JUDGMENT_COLUMNS if texts or c not in ("justification", "flags")]
    df = _current_arrow(store.arrow_select(stmt)).to_pandas()
    if df.empty:
        return pd.DataFrame(columns=columns)
    if texts:
        df["flags"] = df["flags"].map(lambda v: orjson.loads(v) if isinstance(v, (str, bytes)) else v)
    kinds = {x.id: x.kind for x in store.iter(R.Rater, id=sorted(df["rater"].unique()))}
    df["rater_kind"] = df["rater"].map(kinds)
    df["created_at"] = pd.to_datetime(df["created_at"], utc=True, format="ISO8601")
    df = df.sort_values("created_at", kind="stable")
    if latest_only:
        df = df.drop_duplicates(["unit", "rater", "rubric", "dimension"], keep="last")
    return df[columns].reset_index(drop=True)


CODED_COLUMNS = ["unit", "rater", "rater_kind", "rubric", "dimension", "value", "label", "guideline_version"]


def judgment_codes(
    store: Store,
    *,
    rubric: str | None = None,
    dimensions: Sequence[str] | None = None,
    raters: Sequence[str] | None = None,
    campaign: str | None = None,
    models: Sequence[str] | None = None,
    items: bool = False,
    datasets: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The current judgments the statistics read, with every id column a categorical.

    The same rows as :func:`judgments_frame` (corrections applied, the latest judgment per
    rater, unit, rubric and dimension), but only :data:`CODED_COLUMNS`, and ``unit``,
    ``rater``, ``rater_kind``, ``rubric``, ``dimension`` and ``label`` as pandas categoricals
    whose categories are sorted: the strings are coded once, in Arrow, so ten million
    judgments cost integer operations from here on (``column.cat.codes``), not string
    hashing per step.

    ``models`` keeps the judgments of those models' responses; ``items`` adds the
    response's ``item_id``, ``model`` and the item's ``cluster`` (categoricals too).
    ``datasets`` keeps the judgments of responses to those datasets' items (one partition of
    the store, as in :func:`judgments_frame`).

    The read is lean: judgment columns only (joining every judgment to its response and
    item doubled the database's work at 10M rows; responses and items are read once each
    and mapped onto the units' codes). Ids and times are read only when a correction or
    a repeated judgment needs them, by a second query.

    Inside :func:`shared_reads`, a question a wider read already answered is served from it.
    """
    served = _from_shared(store, rubric=rubric, dimensions=dimensions, raters=raters, campaign=campaign,
                          models=models, items=items, datasets=datasets)
    if served is not None:
        return served
    frame = _judgment_codes(store, rubric=rubric, dimensions=dimensions, raters=raters, campaign=campaign,
                            models=models, items=items, datasets=datasets)
    shared = _SHARED.get()
    if shared is not None and dimensions is None and raters is None and models is None and datasets is None:
        shared.append(((store.url, rubric, campaign, items), frame))
    return frame


_SHARED: ContextVar[list[tuple[tuple, pd.DataFrame]] | None] = ContextVar("assay_shared_reads", default=None)


@contextmanager
def shared_reads() -> Iterator[None]:
    """Within the block, :func:`judgment_codes` reads the store once for questions one read answers.

    `assay report` asks for the same judgments several times (scores, agreement, each
    leaderboard, the A/B test), each a subset of its first read: by rubric, dimension,
    rater or model. A read with no such filter is kept for the block and the narrower
    questions are answered by filtering it, which gives the same rows (the latest-judgment
    rule keys on unit, rater, rubric and dimension, and a model is its units'), so ten
    million judgments are read once, not five times.
    """
    token = _SHARED.set([])
    try:
        yield
    finally:
        _SHARED.reset(token)


def shared_read_active() -> bool:
    """Whether a :func:`shared_reads` block is open (:func:`judgment_codes` then serves from its wide read)."""
    return _SHARED.get() is not None


def _from_shared(store: Store, *, rubric, dimensions, raters, campaign, models, items, datasets  # noqa: ANN001
                 ) -> pd.DataFrame | None:
    shared = _SHARED.get()
    if not shared or datasets is not None:
        return None
    for (url, wide_rubric, wide_campaign, wide_items), frame in shared:
        if url != store.url or wide_campaign != campaign or wide_rubric not in (None, rubric):
            continue
        if not wide_items and (items or models is not None):
            continue
        keep = np.ones(len(frame), dtype=bool)
        for col, val in (("rubric", rubric if wide_rubric is None else None), ("dimension", dimensions),
                         ("rater", raters), ("model", models)):
            if val is not None:
                keep &= frame[col].isin(list(val) if isinstance(val, (list, tuple, set)) else [val]).to_numpy()
        out = frame[keep] if not keep.all() else frame.copy(deep=False)
        return out if items else out[CODED_COLUMNS]
    return None


def _judgment_codes(
    store: Store,
    *,
    rubric: str | None,
    dimensions: Sequence[str] | None,
    raters: Sequence[str] | None,
    campaign: str | None,
    models: Sequence[str] | None,
    items: bool,
    datasets: Sequence[str] | None,
) -> pd.DataFrame:
    j = T.judgments
    where = judgment_filters(store, rubric=rubric, dimensions=dimensions, raters=raters, campaign=campaign,
                             models=models, datasets=datasets)
    lean = sql_select(j.c.response_id.label("unit"), j.c.rater_id.label("rater"), j.c.rubric, j.c.dimension,
                      j.c.value, j.c.label, j.c.guideline_version, j.c.supersedes).where(*where)
    extra = ["item_id", "model", "cluster"] if items else []
    table = store.arrow_select(lean, dictionary=_CODED_READ)
    if table.num_rows == 0:
        return pd.DataFrame({c: pd.Series(dtype="category" if c not in ("value", "guideline_version") else float)
                             for c in CODED_COLUMNS + extra})
    df, flat = _coded_judgments(table)
    if table["supersedes"].null_count < table.num_rows or _repeats(flat):
        table = _current_arrow(store.arrow_select(lean.add_columns(j.c.id, j.c.created_at), dictionary=_CODED_READ))
        df, flat = _coded_judgments(table)
        if _repeats(flat):  # a rater judged a unit twice: their latest counts, as in judgments_frame
            when = pd.to_datetime(table["created_at"].to_pandas(), utc=True, format="ISO8601")
            order = np.argsort(when.to_numpy(), kind="stable")
            _, last = np.unique(flat[order][::-1], return_index=True)
            df = df.iloc[np.sort(order[::-1][last])].reset_index(drop=True)
    kinds = {x.id: x.kind for x in store.iter(R.Rater, id=list(df["rater"].cat.categories))}
    df["rater_kind"] = _per_code(df["rater"], [kinds.get(x) for x in df["rater"].cat.categories])
    if items:
        df = df.assign(**_item_columns(store, df["unit"], models, datasets))
    return df[CODED_COLUMNS + extra]


def judgment_filters(
    store: Store,
    *,
    rubric: str | None = None,
    dimensions: Sequence[str] | None = None,
    raters: Sequence[str] | None = None,
    campaign: str | None = None,
    models: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
) -> list[Any]:
    """The WHERE conditions on ``judgments`` of :func:`judgment_codes`' selection (SQLAlchemy expressions)."""
    j, r = T.judgments, T.responses
    where = [j.c[col].in_(list(val)) if isinstance(val, (list, tuple)) else j.c[col] == val
             for col, val in (("rubric", rubric), ("campaign_id", campaign), ("dimension", dimensions),
                              ("rater_id", raters)) if val is not None]
    if models is not None and not set(store.group_counts("responses", "model")) <= set(models):
        # (a store of these models only needs no filter: the subquery cost the database a third more at 10M)
        where.append(j.c.response_id.in_(sql_select(r.c.id).where(r.c.model.in_(list(models)))))
    if datasets is not None:
        where.append(j.c.response_id.in_(sql_select(r.c.id).where(r.c.item_id.in_(_dataset_items(datasets)))))
    return where


_CODED_READ = ("unit", "rater", "rubric", "dimension", "label")  # dictionary-encoded as they are read


def _coded_judgments(table: pa.Table) -> tuple[pd.DataFrame, np.ndarray]:
    """The read columns as a frame of categoricals, and each row's (unit, rater, rubric, dimension) as one int."""
    cat = {name: _sorted_categorical(table[name]) for name in ("unit", "rater", "rubric", "dimension", "label")}
    df = pd.DataFrame(cat | {"value": table["value"].to_numpy(zero_copy_only=False).astype(float),
                             "guideline_version": table["guideline_version"].to_pandas()})
    key = [np.asarray(df[c].cat.codes, dtype=np.int64) for c in ("unit", "rater", "rubric", "dimension")]
    sizes = [max(len(df[c].cat.categories), 1) for c in ("unit", "rater", "rubric", "dimension")]
    return df, np.ravel_multi_index(key, sizes)


def _repeats(flat: np.ndarray) -> bool:
    ordered = np.sort(flat)  # (numpy 2.4's hashing np.unique took seconds on a million int64s; a sort takes ms)
    return bool((ordered[1:] == ordered[:-1]).any())


def _per_code(column: pd.Series, values: Sequence[Any]) -> pd.Categorical:
    """A categorical with one value per category of ``column`` (None: missing), spread over its rows."""
    codes, names = pd.factorize(pd.Series(list(values), dtype=object), sort=True)
    return _spread(column, pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype=object)))


def _spread(column: pd.Series, per_category: pd.Categorical) -> pd.Categorical:
    """``per_category`` (one value per category of ``column``) as a value per row of ``column``."""
    rows = np.asarray(column.cat.codes)
    codes = np.asarray(per_category.codes)
    return pd.Categorical.from_codes(np.where(rows >= 0, codes[np.maximum(rows, 0)], -1) if len(codes) else rows,
                                     categories=per_category.categories)


def _dataset_items(datasets: Sequence[str]):  # noqa: ANN202 - a SQLAlchemy select
    return sql_select(T.items.c.id).where(T.items.c.dataset.in_(list(datasets)))


def _item_columns(store: Store, unit: pd.Series, models: Sequence[str] | None,
                  datasets: Sequence[str] | None = None) -> dict[str, pd.Categorical]:
    """``item_id``, ``model`` and ``cluster`` per row, from one read of the responses and one of clustered items."""
    r, it = T.responses, T.items
    stmt = sql_select(r.c.id, r.c.item_id, r.c.model)
    if models is not None:
        stmt = stmt.where(r.c.model.in_(list(models)))
    if datasets is not None:
        stmt = stmt.where(r.c.item_id.in_(_dataset_items(datasets)))
    responses = store.arrow_select(stmt)
    at = pd.Index(responses["id"].to_numpy(zero_copy_only=False)).get_indexer(
        np.asarray(unit.cat.categories, dtype=object))
    index = pa.array(at, mask=at < 0, type=pa.int64())
    item_of_unit = responses["item_id"].take(index)
    clustered = store.arrow_select(sql_select(it.c.id, it.c.cluster).where(it.c.cluster.is_not(None)))
    where = pd.Index(clustered["id"].to_numpy(zero_copy_only=False)).get_indexer(
        item_of_unit.to_numpy(zero_copy_only=False))
    cluster_of_unit = clustered["cluster"].take(pa.array(where, mask=where < 0, type=pa.int64()))
    return {name: _spread(unit, _sorted_categorical(pa.chunked_array([per_unit])
                                                    if isinstance(per_unit, pa.Array) else per_unit))
            for name, per_unit in (("item_id", item_of_unit), ("model", responses["model"].take(index)),
                                   ("cluster", cluster_of_unit))}


def _sorted_categorical(column: pa.ChunkedArray) -> pd.Categorical:
    """An Arrow string column as a pandas categorical with sorted categories (nulls are missing)."""
    if pa.types.is_dictionary(column.type) and column.num_chunks > 1:
        column = column.unify_dictionaries()  # (read a batch at a time, each batch its own dictionary)
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    encoded = array if pa.types.is_dictionary(array.type) else pc.dictionary_encode(array)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    codes = np.where(encoded.indices.is_null().to_numpy(zero_copy_only=False), -1, codes).astype(np.int64) \
        if encoded.indices.null_count else codes.astype(np.int64)
    # sorted in Arrow: UTF-8 byte order is code point order, the order Python's sort and pivot give
    order = pc.array_sort_indices(encoded.dictionary).to_numpy()
    labels = encoded.dictionary.take(order).to_numpy(zero_copy_only=False)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    new = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1) if len(order) else codes
    return pd.Categorical.from_codes(new, categories=pd.Index(labels, dtype=object))


COMPARISON_COLUMNS = ["id", "unit", "item_id", "rater", "rater_kind", "label", "first", "second", "outcome",
                      "winner", "strength", "justification", "flags", "rubric", "dimension", "campaign_id",
                      "created_at"]


def _pair_unit(df: pd.DataFrame) -> pd.Series:
    return df["item_id"] + ":" + df["response_ids"].map(lambda ids: ":".join(sorted(ids)))


def _first_orders(store: Store, item_ids: Sequence[str]) -> pd.Series:
    """Per pair unit, the response order of its earliest current two-way comparison by any rater."""
    ids = sorted(item_ids)
    cols = ["id", "item_id", "response_ids", "created_at", "supersedes"]
    parts = [store.columns("comparisons", cols, item_id=ids[i:i + 900]) for i in range(0, len(ids), 900)]
    df = _current(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols))
    df = df[df["response_ids"].map(len) == 2]
    df = df.assign(created_at=pd.to_datetime(df["created_at"], utc=True)).sort_values(["created_at", "id"])
    df["unit"] = _pair_unit(df)
    return df.drop_duplicates("unit").set_index("unit")["response_ids"]


def comparisons_frame(
    store: Store,
    *,
    raters: Sequence[str] | None = None,
    campaign: str | None = None,
    rubric: str | None = None,
    dimension: str | None = None,
    latest_only: bool = True,
    datasets: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Current two-way comparisons, one row each, labelled for agreement.

    ``unit`` is the item with the pair of responses; ``label`` is ``first``, ``second``,
    ``tie`` or ``both_bad``, where ``first`` is the pair's first response as the earliest
    comparison of it recorded them, whatever order each rater saw.
    Comparisons of three or more responses are left out (compare their rankings instead).
    With ``latest_only`` (the default, as agreement needs one label per rater and unit) a
    rater who compared the same pair more than once counts with their last comparison;
    without it every comparison stays (a judge that saw both orders of a pair as two
    comparisons counts twice). ``attrs["counts"]`` says how many comparisons matched the
    filters and how many each rule dropped. ``datasets`` keeps the comparisons of those
    datasets' items (a comparison, its corrections and its pair belong to one item).
    """
    filters = dict(campaign_id=campaign, rubric=rubric, dimension=dimension, rater_id=list(raters) if raters else None)
    if datasets is None:
        df = store.frame("comparisons", **filters)
    else:
        ids = sorted(store.columns("items", ["id"], dataset=list(datasets))["id"])
        parts = [store.frame("comparisons", item_id=ids[i:i + 900], **filters) for i in range(0, len(ids), 900)]
        df = pd.concat(parts, ignore_index=True) if parts else store.frame("comparisons", id=[])
    counts = {"stored": len(df), "dropped": {}}
    current = _current(df)
    counts["dropped"]["superseded"] = len(df) - len(current)
    df = current
    if df.empty:
        out = pd.DataFrame(columns=COMPARISON_COLUMNS)
        out.attrs["counts"] = counts
        return out
    two_way = df["response_ids"].map(len) == 2
    counts["dropped"]["three_or_more_responses"] = int((~two_way).sum())
    df = df[two_way].sort_values(["created_at", "id"]).copy()
    df["unit"] = _pair_unit(df)
    # "first" is the first response in the order the pair was first recorded, the same for every rater
    # and whatever raters are selected (labels relative to an arbitrary order would change kappa's chance term)
    filtered = any(v is not None for v in (raters, campaign, rubric, dimension))
    order = _first_orders(store, df["item_id"].unique()) if filtered else \
        df.drop_duplicates("unit").set_index("unit")["response_ids"]
    canonical = df["unit"].map(order)
    df["first"], df["second"] = canonical.map(lambda p: p[0]), canonical.map(lambda p: p[1])

    def label(row: pd.Series) -> str:
        if row["outcome"] != "win":
            return row["outcome"]
        return "first" if row["winner"] == row["first"] else "second"

    df["label"] = df.apply(label, axis=1) if len(df) else []
    kinds = {r.id: r.kind for r in store.iter(R.Rater, id=sorted(df["rater_id"].unique()))}
    df = df.rename(columns={"rater_id": "rater"})
    df["rater_kind"] = df["rater"].map(kinds)
    df = df.sort_values(["created_at", "id"])
    if latest_only:
        n = len(df)
        df = df.drop_duplicates(["unit", "rater", "rubric", "dimension"], keep="last")
        counts["dropped"]["latest_only"] = n - len(df)
    out = df[COMPARISON_COLUMNS].reset_index(drop=True)
    out.attrs["counts"] = counts
    return out
