"""The run ledger and request cache in the store (both backends), and migration 0002's schema."""

from __future__ import annotations

from sqlalchemy import inspect

from assay import records as R
from assay.store.ledger import Ledger, UnitRow


def test_fresh_schema_matches_the_tables(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from assay.store import tables as T
    from assay.store.engine import current_revision

    cols = {c["name"] for c in inspect(store.engine).get_columns("run_units")}
    assert {"prompt_tokens", "completion_tokens", "cost_usd", "cached"} <= cols
    assert current_revision(store.engine) >= "0002"
    with store.engine.connect() as c:
        diffs = compare_metadata(MigrationContext.configure(c), T.metadata)
    mine = [d for d in diffs if "run_units" in repr(d) or "request_cache" in repr(d)]
    assert mine == []


def test_write_upsert_totals_and_errors(store):
    led = Ledger(store)
    run = led.open_run(R.Run(id="r1", kind="other", config={"x": 1}, total=4))
    assert run.status == "running"
    led.write("r1", [UnitRow("a", "failed", error_kind="timeout", error="slow"), UnitRow("b", "done", "res-b", prompt_tokens=3, completion_tokens=4, cost_usd=0.5)])
    # a batch may carry one key twice; the last word wins
    led.write("r1", [UnitRow("c", "failed", error_kind="server", error="500"), UnitRow("c", "done", "res-c", cached=True)])
    led.write("r1", [UnitRow("a", "done", "res-a", prompt_tokens=1, completion_tokens=1, cost_usd=0.25), UnitRow("d", "failed", error_kind="timeout", error="slow")])
    units = {u["unit_key"]: u for u in led.units("r1")}
    assert units["a"]["attempts"] == 2 and units["a"]["status"] == "done" and units["a"]["error"] is None
    assert led.done_keys("r1") == {"a", "b", "c"}
    done = led.finish_run("r1", "done")
    assert (done.succeeded, done.failed, done.cached, done.errors) == (3, 1, 1, {"timeout": 1})
    assert (done.prompt_tokens, done.completion_tokens, done.cost_usd) == (4, 5, 0.75)
    assert done.finished_at is not None
    again = led.open_run(R.Run(id="r1", kind="other", config={"x": 1, "execution": {"c": 2}}, total=5))
    assert (again.status, again.total, again.finished_at, again.config["execution"]) == ("running", 5, None, {"c": 2})


def test_cache_rows_are_kept_once_and_read_in_chunks(store):
    led = Ledger(store)
    rows = [{"digest": f"d{i:04d}", "model": "m@1", "request": {"i": i}, "response": {"body": i}} for i in range(1200)]
    led.cache_put_many(rows[:700])
    led.write("none", [], [], rows[600:] + [{**rows[0], "response": {"body": "changed"}}])
    assert led.cache_count() == 1200
    got = led.cache_get_many([r["digest"] for r in rows] + ["missing"])
    assert len(got) == 1200 and got["d0000"] == {"body": 0} and got["d1199"] == {"body": 1199}
