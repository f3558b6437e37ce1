"""Migrations that change data as well as schema, run over a store that has data, on both backends."""

from __future__ import annotations

from sqlalchemy import text

from assay import records as R
from assay.store import Store
from assay.store.engine import make_engine, migrate


def _unit(cid: str, uid: str, gold: bool, n: int) -> dict:
    return {"cid": cid, "uid": uid, "item": "i", "ids": f'["{uid}"]', "gold": gold, "pos": int(uid[1:]), "n": n}


def _add_campaigns(conn, *camps: R.Campaign) -> None:  # noqa: ANN001
    """Campaign rows as the schemas before 0015 hold them (the record has grown a field since)."""
    for c in camps:
        conn.execute(text("INSERT INTO campaigns (id, name, kind, rubric, guideline_version, dimensions, overlap, "
                          "gold_share, calibration, blind, min_justification, status, created_at) VALUES (:id, "
                          ":name, :kind, :rubric, 1, '[]', :overlap, 0, :calibration, true, 0, 'open', :t)"),
                     {"id": c.id, "name": c.name, "kind": c.kind, "rubric": c.rubric, "overlap": c.overlap,
                      "calibration": c.calibration, "t": c.created_at})


def test_0004_marks_units_claimed_up_to_their_overlap_as_full(store_url):
    engine = make_engine(store_url)
    migrate(engine, "0003")
    regular = R.Campaign(id="c1", name="regular", kind="rate", rubric="default@1", guideline_version=1, overlap=2)
    calib = R.Campaign(id="c2", name="calibration", kind="rate", rubric="default@1", guideline_version=1, overlap=1,
                       calibration=True)
    rows = [_unit("c1", "u1", False, 2), _unit("c1", "u2", False, 1), _unit("c1", "u3", True, 5),
            _unit("c1", "u4", False, 3), _unit("c2", "u5", False, 4)]
    with engine.begin() as c:
        _add_campaigns(c, regular, calib)
        c.execute(text("INSERT INTO campaign_units (campaign_id, unit_id, item_id, response_ids, is_gold, position, "
                       "n_claims) VALUES (:cid, :uid, :item, :ids, :gold, :pos, :n)"), rows)
    migrate(engine)
    with engine.connect() as c:
        room = dict(c.execute(text("SELECT unit_id, has_room FROM campaign_units")).all())
    # full: regular units with overlap-many raters; gold and calibration units always have room
    assert {k: bool(v) for k, v in room.items()} == {"u1": False, "u2": True, "u3": True, "u4": False, "u5": True}
    engine.dispose()


def test_0009_keeps_cache_entries_made_before_it_as_entries_without_a_run(store_url, capsys):
    from assay.cli import main
    from assay.store.cache_admin import CacheSelection, cache_stats, prune_cache

    engine = make_engine(store_url)
    migrate(engine, "0008")
    with engine.begin() as c:
        c.execute(text("INSERT INTO request_cache (digest, model, request, response, created_at) "
                       "VALUES ('d1', 'm@1', '{\"q\": 1}', '{\"a\": 2}', '2026-01-02 03:04:05')"))
    migrate(engine)
    s = Store(store_url, engine=engine, create=False)
    with engine.connect() as c:
        assert c.execute(text("SELECT digest, run_id FROM request_cache")).all() == [("d1", None)]
    st = cache_stats(s)
    assert (st.entries, st.payload_bytes, st.runs, st.no_run.entries, st.no_run.bytes) == (1, 16, [], 1, 16)
    assert main(["--db", store_url, "cache", "stats"]) == 0
    assert "1 entry (16 B) has no run: made before the store recorded runs" in capsys.readouterr().out
    assert prune_cache(s, CacheSelection(model="m@1")).entries == 1
    engine.dispose()


def test_0010_keeps_one_pending_assignment_per_rater_and_frees_the_others(store_url):
    from datetime import timedelta

    engine = make_engine(store_url)
    migrate(engine, "0009")
    s = Store(store_url, engine=engine, create=False)
    camp = R.Campaign(id="c1", name="c", kind="rate", rubric="default@1", guideline_version=1, overlap=1)
    raters = [R.Rater(id=f"human:{n}", kind="human", name=n) for n in ("ann", "bob")]
    t0 = R.utcnow()
    # ann got three units at once (the race this migration closes), bob one
    asgs = [R.Assignment(id=f"a{i}", campaign_id="c1", rater_id=r, response_ids=[f"u{i}"], shown_order=[f"u{i}"],
                         created_at=t0 + timedelta(seconds=s_))
            for i, (r, s_) in enumerate([("human:ann", 2), ("human:ann", 0), ("human:ann", 1), ("human:bob", 3)])]
    with engine.begin() as c:
        _add_campaigns(c, camp)
        s.add([*raters, *asgs], conn=c)
        c.execute(text("INSERT INTO campaign_units (campaign_id, unit_id, item_id, response_ids, is_gold, position, "
                       "n_claims, has_room) VALUES (:cid, :uid, :item, :ids, :gold, :pos, :n, false)"),
                  [_unit("c1", f"u{i}", False, 1) for i in range(4)])
        c.execute(text("INSERT INTO unit_claims (campaign_id, unit_id, rater_id, assignment_id, created_at) "
                       "VALUES ('c1', :u, :r, :a, :t)"),
                  [{"u": a.response_ids[0], "r": a.rater_id, "a": a.id, "t": t0} for a in asgs])
        c.execute(text("INSERT INTO edge_cases (id, rubric, source, note, status, created_at) "
                       "VALUES ('e1', 'default@1', 'flag', '?', 'open', :t)"), {"t": t0})
    migrate(engine)
    with engine.connect() as c:
        left = sorted(c.execute(text("SELECT id FROM assignments WHERE status = 'pending'")).scalars())
        claims = sorted(c.execute(text("SELECT assignment_id FROM unit_claims")).scalars())
        units = dict(c.execute(text("SELECT unit_id, n_claims FROM campaign_units")).all())
        room = {k: bool(v) for k, v in c.execute(text("SELECT unit_id, has_room FROM campaign_units")).all()}
    assert left == claims == ["a1", "a3"]  # ann's oldest, and bob's
    assert units == {"u0": 0, "u1": 1, "u2": 0, "u3": 1}
    assert room == {"u0": True, "u1": False, "u2": True, "u3": False}
    assert s.get("edge_cases", "e1").campaign_id is None
    # and now a second pending assignment is refused by the store itself
    extra = R.Assignment(id="a9", campaign_id="c1", rater_id="human:bob", response_ids=["u0"], shown_order=["u0"])
    assert s.add([extra]) == 0
    engine.dispose()


def test_0013_keeps_finished_units_as_units_no_one_holds(store_url):
    from assay.store.ledger import Ledger

    engine = make_engine(store_url)
    migrate(engine, "0012_soft_preferences")
    s = Store(store_url, engine=engine, create=False)
    s.add([R.Run(id="r1", kind="other", total=2)])
    with engine.begin() as c:
        c.execute(text("INSERT INTO run_units (run_id, unit_key, status, attempts, updated_at) VALUES "
                       "('r1', 'a', 'done', 1, '2026-01-02 03:04:05'), ('r1', 'b', 'failed', 2, '2026-01-02 03:04:05')"))
    migrate(engine)
    led = Ledger(s)
    assert [(u["unit_key"], u["claimed_by"], u["lease_until"]) for u in led.units("r1")] == [("a", None, None),
                                                                                             ("b", None, None)]
    assert led.done_keys("r1") == {"a"}
    # the failed unit is free for the next run to claim; the done one is not
    assert led.claim("r1", {"a": 1, "b": 2}, "h:1:-:t", 5.0)[0] == ["b"]
    engine.dispose()


def _indexes(engine, table: str) -> dict[str, list[str]]:
    from sqlalchemy import inspect

    return {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes(table)}


def test_0014_widens_the_campaign_indexes_and_goes_back(store_url):
    """Up: the campaign indexes cover the dashboard's counts and the export's order, and the kept
    statistics have a table; down: the indexes and tables of 0013 again, with the data kept."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from assay.store.engine import MIGRATIONS

    engine = make_engine(store_url)
    migrate(engine, "0013")
    with engine.begin() as c:
        c.execute(text("INSERT INTO datasets (name, description, created_at) VALUES ('d', '', '2026-01-01')"))
        c.execute(text("INSERT INTO items (id, dataset, prompt, tags, metadata) VALUES ('i', 'd', 'q', '[]', '{}')"))
        c.execute(text("INSERT INTO models (id, provider, params) VALUES ('m@1', 'none', '{}')"))
        c.execute(text("INSERT INTO responses (id, item_id, model, sample_index, text, metadata, created_at) "
                       "VALUES ('r1', 'i', 'm@1', 0, 'a', '{}', '2026-01-01')"))
        c.execute(text("INSERT INTO raters (id, kind, name, config) VALUES ('human:a', 'human', 'a', '{}')"))
        c.execute(text("INSERT INTO judgments (id, response_id, rater_id, rubric, dimension, value, justification, "
                       "flags, detail, campaign_id, created_at) VALUES ('j1', 'r1', 'human:a', 'default@1', "
                       "'factuality', 4, '', '[]', '{}', 'c1', '2026-01-01')"))
    migrate(engine)
    assert _indexes(engine, "assignments")["ix_assignments_campaign"] == ["campaign_id", "rater_id", "status",
                                                                          "is_gold"]
    assert _indexes(engine, "judgments")["ix_judgments_campaign"] == ["campaign_id", "id"]
    assert _indexes(engine, "comparisons")["ix_comparisons_campaign"] == ["campaign_id", "id"]
    assert "campaign_stats" in inspect(engine).get_table_names()
    s = Store(store_url, engine=engine, create=False)
    assert [j.id for j in s.iter(R.Judgment, campaign_id="c1")] == ["j1"]

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0013")
    insp = inspect(engine)
    assert "campaign_stats" not in insp.get_table_names()
    assert _indexes(engine, "assignments")["ix_assignments_campaign"] == ["campaign_id"]
    assert _indexes(engine, "judgments")["ix_judgments_campaign"] == ["campaign_id"]
    assert _indexes(engine, "comparisons")["ix_comparisons_campaign"] == ["campaign_id"]
    with engine.connect() as c:
        assert c.execute(text("SELECT id FROM judgments WHERE campaign_id = 'c1'")).scalars().all() == ["j1"]
    migrate(engine)  # and up again
    assert _indexes(engine, "judgments")["ix_judgments_campaign"] == ["campaign_id", "id"]
    engine.dispose()


def test_0015_adds_the_campaign_design_and_goes_back(store_url):
    """Up: campaigns made before read with no selection (every unit), and the frame table exists;
    down: the column and table of 0014 again, the campaigns kept."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from assay.store.engine import MIGRATIONS

    engine = make_engine(store_url)
    migrate(engine, "0014_campaign_dashboard")
    with engine.begin() as c:
        c.execute(text("INSERT INTO campaigns (id, name, kind, rubric, guideline_version, dimensions, overlap, "
                       "gold_share, calibration, blind, min_justification, status, created_at) VALUES ('c1', 'old', "
                       "'rate', 'default@1', 1, '[]', 1, 0, false, true, 0, 'open', '2026-01-01')"))
    migrate(engine)
    s = Store(store_url, engine=engine, create=False)
    assert s.get(R.Campaign, "c1").selection is None
    assert "campaign_frame" in inspect(engine).get_table_names()
    sel = R.CampaignSelection(method="active", budget=2, frame=3, selected=2, judge="llm:j", signal="samples",
                              uniform_mix=0.2)
    s.add([R.Campaign(id="c2", name="new", rubric="default@1", selection=sel)])
    assert s.get(R.Campaign, "c2").selection == sel

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0014_campaign_dashboard")
    insp = inspect(engine)
    assert "campaign_frame" not in insp.get_table_names()
    assert "selection" not in {col["name"] for col in insp.get_columns("campaigns")}
    with engine.connect() as c:
        assert sorted(c.execute(text("SELECT name FROM campaigns")).scalars()) == ["new", "old"]
    engine.dispose()
