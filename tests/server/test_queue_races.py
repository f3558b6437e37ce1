"""A rater's requests racing each other through a real two-worker server, on both stores: a submit,
a skip and two "next" of the same assignment at once leave at most one pending assignment."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from assay import annotate as A
from assay.server import accounts as ACC
from assay.store import Store
from assay.store import tables as T
from tests.server.conftest import add_texts, add_users, rating, rid, start_server, stop_server

ROUNDS = 25


@pytest.fixture(scope="module")
def racing(backend_url):
    with Store(backend_url) as s:
        from assay.rubrics import get_rubric

        get_rubric(s, "default")
        add_texts(s, "race", [f"prompt {i}" for i in range(150)], {"m@1": [f"answer {i}" for i in range(150)]})
        add_users(s, {"rita": "rater", "russ": "rater"})
        cid = A.create_campaign(s, "race", rubric="default@1", units=A.units_from_dataset(s, "race"),
                                spec=A.CampaignSpec(overlap=1)).id
        sessions = {n: ACC.start_session(s, ACC.User(name=n, role="rater", rater_id=rid(n))) for n in ("rita", "russ")}
    url, proc = start_server(backend_url, workers=2)
    yield url, backend_url, cid, sessions
    stop_server(proc)


def _pending(store_url: str, cid: str) -> dict[str, int]:
    a = T.assignments
    with Store(store_url, create=False) as s, s.engine.connect() as c:
        rows = c.execute(select(a.c.rater_id, func.count()).where(a.c.campaign_id == cid, a.c.status == "pending")
                         .group_by(a.c.rater_id)).all()
    return dict(rows)


def test_a_submit_racing_a_skip_and_two_nexts_leaves_one_pending_assignment(racing):
    url, store_url, cid, sessions = racing
    clients = {n: httpx.Client(base_url=url, cookies={"assay_session": tok}, timeout=60,
                               headers={"x-csrf-token": csrf, "accept": "application/json"})
               for n, (tok, csrf) in sessions.items()}
    codes: Counter = Counter()
    worst = 0
    try:
        for _ in range(ROUNDS):
            for name, c in clients.items():
                aid = c.get(f"/c/{cid}/next").json()["assignment"]
                assert aid
                start = threading.Barrier(4)

                def go(what: str, c=c, aid=aid) -> int:
                    start.wait()
                    if what == "submit":
                        return c.post(f"/a/{aid}", data=rating(justification=f"{name} says so")).status_code
                    if what == "skip":
                        return c.post(f"/a/{aid}/skip", data={"reason": "cannot tell"}).status_code
                    return c.get(f"/c/{cid}/next").status_code

                with ThreadPoolExecutor(4) as pool:
                    for code in pool.map(go, ["submit", "skip", "next", "next"]):
                        codes[code] += 1
            worst = max(worst, *_pending(store_url, cid).values())
    finally:
        for c in clients.values():
            c.close()
    assert worst == 1, f"a rater had {worst} pending assignments"
    assert codes[500] == 0, codes
    # nothing half-claimed: every claim has its assignment, and each unit's count matches its claims
    # not skipped (a skip gives the slot back)
    with Store(store_url, create=False) as s, s.engine.connect() as c:
        cl, a, u, k = T.unit_claims, T.assignments, T.campaign_units, T.skips
        claimed = set(c.execute(select(cl.c.assignment_id).where(cl.c.campaign_id == cid)).scalars())
        assigned = set(c.execute(select(a.c.id).where(a.c.campaign_id == cid)).scalars())
        assert claimed == assigned
        skipped = set(c.execute(select(k.c.assignment_id).where(k.c.campaign_id == cid)).scalars())
        held = Counter(unit for unit, aid in c.execute(select(cl.c.unit_id, cl.c.assignment_id)
                                                        .where(cl.c.campaign_id == cid)) if aid not in skipped)
        counts = dict(c.execute(select(u.c.unit_id, u.c.n_claims).where(u.c.campaign_id == cid)).all())
        assert {k: v for k, v in counts.items() if v} == dict(held)
