"""Store.arrow: columns read by the ADBC drivers give what the SQLAlchemy path gives, on both stores."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from assay import records as R
from assay.errors import AssayError
from assay.store import Store
from tests.judges.scripted_judges import store_responses


def _judgments(store: Store) -> None:
    _, responses = store_responses(store, {"m@1": ["a", "b", "c"], "m@2": ["d", "e", "f"]})
    ids = [r.id for rs in responses.values() for r in rs]
    rater = R.Rater(id="human:o'brien", kind="human", name="o'brien")  # a quote in a filter value
    store.add([rater])
    store.add([R.Judgment(id=f"j{k}", response_id=rid, rater_id=rater.id, rubric="default@1",
                          dimension="factuality" if k % 2 else "coherence", value=float(k % 5 + 1) if k != 3 else None,
                          label="x\u00e9" if k == 2 else None, justification="because", created_at=R.utcnow())
               for k, rid in enumerate(sorted(ids))])


def test_arrow_matches_the_row_path(store_url):
    with Store(store_url) as store:
        _judgments(store)
        names = ["id", "response_id", "rater_id", "dimension", "value", "label"]
        for filters in ({}, {"dimension": "factuality"}, {"rater_id": ["human:o'brien"], "dimension": ["coherence"]},
                        {"rater_id": "nobody"}):
            got = store.arrow("judgments", names, **filters).to_pylist()
            want = store.columns("judgments", names, **filters).to_dict("records")
            key = lambda r: r["id"]  # noqa: E731 - arrow's rows come in no particular order
            got, want = sorted(got, key=key), sorted(want, key=key)
            assert [r["id"] for r in got] == [r["id"] for r in want] and len(got) == len(want)
            for g, w in zip(got, want):
                for n in names:
                    if isinstance(w[n], float) and math.isnan(w[n]):
                        assert g[n] is None
                    else:
                        assert g[n] == w[n], (n, g, w)
        assert store.arrow("judgments", ["value"], dimension="nothing").num_rows == 0


def test_arrow_refuses_an_unknown_filter(store):
    with pytest.raises(AssayError, match="cannot be filtered by 'colour'"):
        store.arrow("judgments", ["value"], colour="red")


def test_a_store_in_memory_reads_its_rows_as_columns():
    with Store("sqlite://") as mem:
        _judgments(mem)
        got = mem.arrow("judgments", ["id", "value"], dimension="factuality").to_pylist()
        assert sorted(r["id"] for r in got) == ["j1", "j3", "j5"]
        assert {r["id"]: r["value"] for r in got}["j3"] is None


def test_a_text_column_null_in_its_first_rows_reads_as_text(store_url):
    """The SQLite ADBC driver infers a column's type from its first batch: labels that are NULL for
    the first few thousand judgments and text after (the demo's store) must still read."""
    with Store(store_url) as store:
        _, responses = store_responses(store, {"m@1": ["a"]})
        rid = responses["m@1"][0].id
        rater = R.Rater(id="human:ann", kind="human", name="ann")
        store.add([rater])
        store.add([R.Judgment(id=f"j{k:05d}", response_id=rid, rater_id=rater.id, rubric="default@1",
                              dimension=f"d{k}", value=1.0, label="yes" if k == 2999 else None,
                              justification="", created_at=R.utcnow()) for k in range(3000)])
        labels = store.arrow("judgments", ["id", "label"]).to_pylist()
        assert {r["label"] for r in labels} == {None, "yes"} and len(labels) == 3000
        none = store.arrow("judgments", ["label", "value"], dimension="d0")
        assert str(none.schema.field("label").type) == "string" and none.column("label").to_pylist() == [None]


def test_arrow_select_dictionary_encodes_the_columns_named(store_url):
    """The same values, the named columns as dictionaries (each distinct value once), all-NULL ones too."""
    from sqlalchemy import select

    from assay.store import tables as T

    stores = [Store(store_url), Store("sqlite://")]
    for store in stores:
        with store:
            _judgments(store)
            j = T.judgments
            stmt = select(j.c.id, j.c.rater_id, j.c.dimension, j.c.value, j.c.supersedes)
            plain = store.arrow_select(stmt)
            coded = store.arrow_select(stmt, dictionary=["rater_id", "dimension", "supersedes"])
            for name in ("rater_id", "dimension", "supersedes"):
                assert pa.types.is_dictionary(coded.schema.field(name).type), name
            assert not pa.types.is_dictionary(coded.schema.field("id").type)
            assert len(coded["dimension"].chunk(0).dictionary) == len(set(plain["dimension"].to_pylist()))
            key = lambda r: r["id"]  # noqa: E731
            assert sorted(coded.to_pylist(), key=key) == sorted(plain.to_pylist(), key=key)
