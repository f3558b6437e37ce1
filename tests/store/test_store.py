"""The store on SQLite and PostgreSQL: schema, migrations, records in and out."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from assay import records as R
from assay.errors import AssayError, NotFound
from assay.store import Store
from assay.store import tables as T
from assay.store.engine import current_revision, head_revision
from tests.factories import every_kind


def test_fresh_store_schema_matches_the_tables(store):
    """The migrations build exactly the schema tables.py declares (no drift)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), T.metadata)
    assert diff == []
    assert current_revision(store.engine) == head_revision()
    names = set(inspect(store.engine).get_table_names())
    assert set(T.TABLES) | {"run_units", "request_cache", "alembic_version"} <= names


def test_reopening_a_store_keeps_its_data(store_url):
    with Store(store_url) as s:
        s.add([R.Dataset(name="d")])
    with Store(store_url) as s:
        assert [d.name for d in s.iter("datasets")] == ["d"]


def test_every_kind_round_trips_through_the_store(store):
    recs = every_kind()
    assert store.add(recs) == len(recs)
    assert store.add(recs) == 0, "adding the same records again adds nothing"
    kind_of = {cls: k for k, cls in R.KINDS.items()}
    for rec in recs:
        kind = kind_of[type(rec)]
        key = (rec.name, rec.version) if kind == "rubrics" else \
            (rec.rubric, rec.version) if kind == "guidelines" else \
            (rec.name,) if kind == "datasets" else (rec.id,)
        assert store.get(kind, *key) == rec


def test_sqlite_store_uses_wal(tmp_path):
    s = Store(str(tmp_path / "a.db"))
    with s.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_default_store_is_assay_db_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ASSAY_DATABASE_URL", raising=False)
    Store().close()
    assert (tmp_path / "assay.db").exists()


def test_database_url_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSAY_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    Store().close()
    assert (tmp_path / "env.db").exists()


def test_transaction_rolls_back_everything(store):
    with pytest.raises(RuntimeError):
        with store.transaction() as conn:
            store.add([R.Dataset(name="d")], conn)
            raise RuntimeError("boom")
    assert store.count("datasets") == 0


def test_missing_records_raise_not_found(store):
    with pytest.raises(NotFound, match="no item 'nope'"):
        store.get("items", "nope")
    with pytest.raises(NotFound, match="no rubric"):
        store.rubric("nope")


def test_filters_counts_and_frames(store):
    store.add(every_kind())
    assert store.count("responses", model="alpha@1") == 2
    assert store.count("judgments", rater_id=["human:ann"]) == 4
    df = store.frame("judgments", dimension="factuality")
    assert len(df) == 8 and str(df["created_at"].dt.tz) == "UTC"
    assert list(df.columns) == [c.name for c in T.judgments.columns]
    assert store.rubric("default").id == "default@1"
    assert store.guideline("default@1").version == 1


def test_immutable_kinds_cannot_be_updated(store):
    from assay.errors import AssayError

    store.add(every_kind())
    with pytest.raises(AssayError, match="immutable"):
        store.update("judgments", "j1", value=5)
    store.update("runs", "run1", status="done")
    assert store.get("runs", "run1").status == "done"


def test_columns_reads_only_the_columns_asked_for(store):
    store.add([R.Dataset(name="d"), R.Model(id="m@1"), R.Model(id="m@2"), R.Item(id="i1", dataset="d", prompt="p"),
               R.Item(id="i2", dataset="d", prompt="q")])
    store.add([R.Response(id="r1", item_id="i1", model="m@1", text="a", latency_ms=12.5),
               R.Response(id="r2", item_id="i2", model="m@2", text="b")])
    df = store.columns("responses", ["model", "latency_ms"])
    assert list(df.columns) == ["model", "latency_ms"] and sorted(df["model"]) == ["m@1", "m@2"]
    one = store.columns("responses", ["id", "latency_ms"], model="m@1")
    assert one.to_dict("records") == [{"id": "r1", "latency_ms": 12.5}]


def test_a_kind_is_named_by_its_record_class_or_its_table(store):
    recs = every_kind()
    store.add(recs)
    judgments = [r for r in recs if isinstance(r, R.Judgment)]
    assert store.get(R.Judgment, "j0") == store.get("judgments", "j0") == judgments[0]
    assert store.find(R.Model, "alpha@1").base_url == "http://x/v1" and store.find(R.Model, "nope@1") is None
    assert store.get(R.Rubric, "default", 1).id == "default@1"
    assert store.list(R.Judgment, rater_id="human:ann") == store.list("judgments", rater_id="human:ann")
    assert all(isinstance(j, R.Judgment) for j in store.iter(R.Judgment, dimension="factuality"))
    assert store.count(R.Response, model="alpha@1") == store.count("responses", model="alpha@1") == 2
    assert list(store.frame(R.Judgment).columns) == list(store.frame("judgments").columns)
    with pytest.raises(NotFound, match="no item 'nope'"):
        store.get(R.Item, "nope")
    with pytest.raises(AssayError, match="Message records are not stored"):
        store.list(R.Message)


def test_records_by_id_are_read_in_chunks_and_leave_out_unknown_ids(store):
    items = [R.Item(id=f"i{k:04d}", dataset="qa", prompt=f"q{k}") for k in range(1203)]
    store.add([R.Dataset(name="qa"), *items])
    wanted = [it.id for it in items[::2]] + ["missing"]
    found = store.by_id(R.Item, wanted)
    assert list(found) == sorted(it.id for it in items[::2])  # more than two chunks, in id order
    assert all(found[it.id] == it for it in items[::2])
    assert store.by_id(R.Item, []) == {}
