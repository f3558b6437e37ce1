"""Two-way comparisons read as columns and coded once: millions of them in seconds.

:func:`comparison_codes` follows :func:`assay.analysis.frames.comparisons_frame`'s rules
(superseded comparisons dropped, three-way ones left out, ``first`` is the pair's first
response as its earliest comparison recorded them and the label is relative to it,
``latest_only``) for the analyses that need no texts, such as the ranking's battles. It
reads the few columns it needs through ``Store.arrow_select`` (ADBC: no object per row),
parses each distinct ``response_ids`` text once, and codes ids as integers, so there is
no Python step per comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select

from assay.errors import BadInput
from assay.store import Store
from assay.store import tables as T

__all__ = ["LABELS", "comparison_codes", "first_rows"]

LABELS = ("first", "second", "tie", "both_bad")
# read dictionary-encoded: repeated over millions of rows, each value is read once
_CODED = ("item_id", "rater_id", "response_ids", "outcome", "winner", "created_at", "supersedes", "rubric",
          "dimension")
_IN_LIST_MAX = 20_000  # items the order read names in its IN list; past that it reads every comparison
# the usual text of a two-id list ('["a","b"]' or '["a", "b"]'); others (escapes, more ids) go to orjson
_TWO_IDS = r'^\[\s*"(?P<a>[^"\\]*)"\s*,\s*"(?P<b>[^"\\]*)"\s*\]$'


def _codes(col: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Integer codes (-1 for null) and the distinct values, from a dictionary column or by encoding."""
    if isinstance(col, pa.ChunkedArray):
        col = col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    if isinstance(col.type, pa.BaseExtensionType):  # PostgreSQL's json: arrow.json over text
        col = col.storage
    if pa.types.is_nested(col.type):  # a store in memory gives JSON as lists: back to text
        col = pa.array([None if x is None else orjson.dumps(x).decode() for x in col.to_pylist()], pa.string())
    enc = col if pa.types.is_dictionary(col.type) else pc.dictionary_encode(col)
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, enc.dictionary


def _order(tab: pa.Table) -> np.ndarray | None:
    """Row order by (created_at, id), or None when the rows already come in it (append-only stores)."""
    if tab.num_rows < 2:
        return None
    codes, stamps = _codes(tab["created_at"])
    if not pa.types.is_timestamp(stamps.type):
        stamps = pc.cast(stamps, pa.timestamp("us"))  # SQLite's text, ISO 8601
    t = stamps.cast(pa.int64()).to_numpy(zero_copy_only=False)[codes]
    ids = tab["id"].combine_chunks()
    later = t[1:] > t[:-1]
    if np.all(later | (t[1:] == t[:-1])):
        tied = np.flatnonzero(~later)
        if not len(tied) or pc.all(pc.greater(ids.take(pa.array(tied + 1)), ids.take(pa.array(tied)))).as_py():
            return None
    keys = pa.table({"t": pa.array(t), "id": ids})
    return pc.sort_indices(keys, [("t", "ascending"), ("id", "ascending")]).to_numpy()


def _current(tab: pa.Table) -> pa.Table:
    """Drop comparisons another one (in the table) supersedes."""
    codes, values = _codes(tab["supersedes"])
    replaced = values.take(pa.array(np.unique(codes[codes >= 0])))
    if not len(replaced):
        return tab
    return tab.filter(pc.invert(pc.is_in(tab["id"], value_set=replaced)))


def _split_pairs(texts: pa.Array) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """Per distinct ``response_ids`` text: whether it names two responses, and the two ids (null if not)."""
    m = pc.extract_regex(texts, _TWO_IDS)
    a, b = pc.struct_field(m, "a"), pc.struct_field(m, "b")
    odd = np.flatnonzero(m.is_null().to_numpy(zero_copy_only=False))
    if len(odd):  # escaped characters, or not two ids: parse those texts
        a, b = a.to_pylist(), b.to_pylist()
        for i in odd.tolist():
            text = texts[i].as_py()
            ids = orjson.loads(text) if text is not None else []
            a[i], b[i] = (ids[0], ids[1]) if len(ids) == 2 else (None, None)
        a, b = pa.array(a, pa.string()), pa.array(b, pa.string())
    return ~a.is_null().to_numpy(zero_copy_only=False), a, b


@dataclass
class _Coded:
    """Current two-way comparisons in (created_at, id) order, their ids as codes."""

    tab: pa.Table
    items: pa.Array  # distinct item ids
    item: np.ndarray
    responses: pa.Array  # distinct response ids, sorted
    a: np.ndarray  # response_ids[0] and [1], as codes into responses
    b: np.ndarray
    unit: np.ndarray  # per (item, unordered pair), numbered by first appearance
    dropped: dict


def _coded(tab: pa.Table) -> _Coded:
    n = tab.num_rows
    tab = _current(tab)
    dropped = {"superseded": n - tab.num_rows}
    text_codes, texts = _codes(tab["response_ids"])
    two, a_ids, b_ids = _split_pairs(texts)
    keep = two[text_codes]
    dropped["three_or_more_responses"] = int((~keep).sum())
    if not keep.all():
        tab, text_codes = tab.filter(pa.array(keep)), text_codes[keep]
    order = _order(tab)
    if order is not None:
        tab, text_codes = tab.take(pa.array(order)), text_codes[order]
    # response codes in sorted id order, so min/max of two codes is the pair in sorted order
    both = pa.concat_arrays([a_ids, b_ids])
    responses = pc.unique(pc.drop_null(both))
    responses = responses.take(pc.sort_indices(responses))
    rc = pc.fill_null(pc.index_in(both, value_set=responses), -1).to_numpy(zero_copy_only=False).astype(np.int64)
    ta, tb = rc[: len(texts)], rc[len(texts):]
    a, b = ta[text_codes], tb[text_codes]
    # the unordered pair of each distinct text, then one pass over the rows for (item, pair)
    pair = pd.factorize(np.minimum(ta, tb) * len(responses) + np.maximum(ta, tb))[0].astype(np.int64)
    item, items = _codes(tab["item_id"])
    unit = pd.factorize(item * (int(pair.max(initial=0)) + 1) + pair[text_codes])[0].astype(np.int64)
    return _Coded(tab=tab, items=items, item=item, responses=responses, a=a, b=b, unit=unit, dropped=dropped)


def first_rows(codes: np.ndarray) -> np.ndarray:
    """Where each code first appears, for codes numbered by first appearance (``pd.factorize``'s)."""
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    seen = np.maximum.accumulate(codes)
    return np.flatnonzero(np.concatenate([[True], codes[1:] > seen[:-1]]))


def _first_of_units(d: _Coded) -> pd.DataFrame:
    """Per unit: item, lower and higher response id, and the one its earliest comparison put first."""
    starts = first_rows(d.unit)
    a, b = d.a[starts], d.b[starts]
    ids = d.responses.to_numpy(zero_copy_only=False)
    return pd.DataFrame({"item": d.items.to_numpy(zero_copy_only=False)[d.item[starts]],
                         "lo": ids[np.minimum(a, b)], "hi": ids[np.maximum(a, b)], "first": ids[a]})


def _orders_of(store: Store, items: pa.Array) -> pd.DataFrame:
    """:func:`_first_of_units` over every current two-way comparison of these items (any rater)."""
    c = T.comparisons
    stmt = select(c.c.id, c.c.item_id, c.c.response_ids, c.c.created_at, c.c.supersedes)
    if len(items) <= _IN_LIST_MAX:
        stmt = stmt.where(c.c.item_id.in_(items.to_pylist()))
    tab = store.arrow_select(stmt, dictionary=_CODED)
    if len(items) > _IN_LIST_MAX:
        codes, values = _codes(tab["item_id"])
        wanted = np.append(pc.is_in(values, value_set=items).to_numpy(zero_copy_only=False), False)
        tab = tab.filter(pa.array(wanted[codes]))
    return _first_of_units(_coded(tab))


def comparison_codes(
    store: Store,
    *,
    raters: Sequence[str] | None = None,
    campaign: str | None = None,
    rubric: str | None = None,
    dimension: str | None = None,
    latest_only: bool = True,
) -> pd.DataFrame:
    """Current two-way comparisons, one row each, as coded columns (no texts).

    Columns: ``unit`` (an integer per item and unordered pair of responses), ``item_id``,
    ``rater``, ``first``, ``second`` (categoricals), ``label`` (categorical over
    :data:`LABELS`) and ``strength`` (float, NaN when not given). Rows in ``created_at``
    then ``id`` order, with the rules and ``attrs["counts"]`` of
    :func:`~assay.analysis.frames.comparisons_frame`.
    """
    c = T.comparisons
    filters = {"campaign_id": campaign, "rubric": rubric, "dimension": dimension,
               "rater_id": list(raters) if raters else None}
    cols = [c.c.id, c.c.item_id, c.c.rater_id, c.c.response_ids, c.c.outcome, c.c.winner, c.c.strength,
            c.c.created_at, c.c.supersedes] + ([c.c.rubric, c.c.dimension] if latest_only else [])
    stmt = select(*cols)
    for name, val in filters.items():
        if val is not None:
            stmt = stmt.where(c.c[name].in_(val) if isinstance(val, list) else c.c[name] == val)
    tab = store.arrow_select(stmt, dictionary=_CODED)
    counts: dict = {"stored": tab.num_rows}
    d = _coded(tab)
    counts["dropped"] = dict(d.dropped)
    tab = d.tab
    if tab.num_rows == 0:
        out = pd.DataFrame({k: pd.Series(dtype=object) for k in
                            ("unit", "item_id", "rater", "first", "second", "label", "strength")})
        if latest_only:
            counts["dropped"]["latest_only"] = 0
        out.attrs["counts"] = counts
        return out

    lo, hi = np.minimum(d.a, d.b), np.maximum(d.a, d.b)
    if any(v is not None for v in filters.values()):
        # "first" as the earliest comparison of the pair by anyone recorded it, whoever is selected
        orders = _orders_of(store, d.items)
        ids = d.responses
        firsts = _first_of_units(d)[["item", "lo", "hi"]].merge(orders, how="left", on=["item", "lo", "hi"])
        first = pc.index_in(pa.array(firsts["first"].to_numpy()), value_set=ids).to_numpy(zero_copy_only=False)
        first = first.astype(np.int64)[d.unit]
    else:
        first = d.a[first_rows(d.unit)][d.unit]
    second = np.where(first == lo, hi, lo)

    codes, winners = _codes(tab["winner"])
    winner = np.append(pc.fill_null(pc.index_in(winners, value_set=d.responses), -1).to_numpy(zero_copy_only=False),
                       -1)[codes]  # a null winner (code -1) is no response
    label = np.where(winner == first, 0, 1).astype(np.int8)
    outcome, outcomes = _codes(tab["outcome"])
    for code, name in enumerate(outcomes.to_pylist()):
        if name in ("tie", "both_bad"):
            label[outcome == code] = LABELS.index(name)
        elif name != "win":
            raise BadInput(f"a stored comparison has outcome {name!r}, not one of win, tie, both_bad")
    rater, raters_seen = _codes(tab["rater_id"])
    strength = pc.cast(tab["strength"], pa.float64()).to_numpy(zero_copy_only=False)  # nulls become NaN
    out = pd.DataFrame({
        "unit": d.unit,
        "item_id": pd.Categorical.from_codes(d.item, d.items.to_numpy(zero_copy_only=False)),
        "rater": pd.Categorical.from_codes(rater, raters_seen.to_numpy(zero_copy_only=False)),
        "first": pd.Categorical.from_codes(first, d.responses.to_numpy(zero_copy_only=False)),
        "second": pd.Categorical.from_codes(second, d.responses.to_numpy(zero_copy_only=False)),
        "label": pd.Categorical.from_codes(label, LABELS),
        "strength": strength,
    })
    if latest_only:
        key = pd.DataFrame({"u": d.unit, "r": rater, "b": _codes(tab["rubric"])[0], "d": _codes(tab["dimension"])[0]})
        keep = ~key.duplicated(keep="last").to_numpy()
        counts["dropped"]["latest_only"] = int((~keep).sum())
        out = out[keep].reset_index(drop=True)
    out.attrs["counts"] = counts
    return out
