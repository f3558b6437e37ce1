"""Migration 0012_soft_preferences on a store that has comparisons, on both backends."""

from __future__ import annotations

from sqlalchemy import text

from assay import records as R
from assay.store import Store
from assay.store.engine import make_engine, migrate


def test_comparisons_stored_before_it_read_back_without_a_probability(store_url):
    engine = make_engine(store_url)
    migrate(engine, "0011")
    with engine.begin() as c:
        c.execute(text("INSERT INTO datasets (name, description, created_at) VALUES ('d', '', '2026-01-01')"))
        c.execute(text("INSERT INTO items (id, dataset, prompt, tags, metadata) VALUES ('i', 'd', 'q', '[]', '{}')"))
        c.execute(text("INSERT INTO models (id, provider, params) VALUES ('m@1', 'none', '{}')"))
        for rid in ("r1", "r2"):
            c.execute(text("INSERT INTO responses (id, item_id, model, sample_index, text, metadata, created_at) "
                           "VALUES (:r, 'i', 'm@1', :k, 'a', '{}', '2026-01-01')"), {"r": rid, "k": int(rid[1])})
        c.execute(text("INSERT INTO raters (id, kind, name, config) VALUES ('human:a', 'human', 'a', '{}')"))
        c.execute(text("INSERT INTO comparisons (id, item_id, rater_id, response_ids, shown_order, outcome, winner, "
                       "justification, flags, detail, created_at) VALUES ('c1', 'i', 'human:a', '[\"r1\", \"r2\"]', "
                       "'[\"r1\", \"r2\"]', 'win', 'r2', '', '[]', '{}', '2026-01-01')"))
    migrate(engine)
    s = Store(store_url, engine=engine, create=False)
    old = s.get("comparisons", "c1")
    assert old.probability is None and old.winner == "r2"
    soft = R.Comparison(id="c2", item_id="i", rater_id="human:a", response_ids=["r1", "r2"],
                        shown_order=["r2", "r1"], outcome="win", winner="r2", probability=0.125)
    s.add([soft])
    assert s.get("comparisons", "c2").probability == 0.125
    engine.dispose()
