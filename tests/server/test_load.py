"""100 concurrent raters against a two-worker server on PostgreSQL: nothing lost, nothing duplicated."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import httpx
import pytest

from assay import annotate as A
from assay.server import accounts as ACC
from assay.store import Store
from tests.conftest import PG_URL, require_postgres
from tests.server.conftest import DIMS, add_texts, add_users, start_server, stop_server

RATERS, ROUNDS, OVERLAP = 100, 3, 3


@pytest.fixture
def loaded():
    require_postgres()
    import psycopg

    schema = f"assay_test_{uuid.uuid4().hex[:12]}"
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"
    with Store(url) as s:
        from assay.rubrics import get_rubric

        get_rubric(s, "default")
        add_texts(s, "load", [f"prompt {i}" for i in range(150)], {"m@1": [f"answer {i}" for i in range(150)]})
        names = [f"r{i:03d}" for i in range(RATERS)]
        add_users(s, {n: "rater" for n in names})
        camp = A.create_campaign(s, "load", rubric="default@1", units=A.units_from_dataset(s, "load"),
                                 spec=A.CampaignSpec(overlap=OVERLAP))
        # sessions made directly: the load is on rating, not on argon2 at login
        sessions = [ACC.start_session(s, ACC.User(name=n, role="rater", rater_id=f"human:{n}")) for n in names]
    base, proc = start_server(url, workers=2)
    yield base, url, camp.id, sessions
    stop_server(proc)
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def _rater(base: str, cid: str, token: str, csrf: str, k: int, codes: Counter) -> None:
    headers = {"x-csrf-token": csrf, "accept": "application/json"}
    async with httpx.AsyncClient(base_url=base, cookies={"assay_session": token}, headers=headers,
                                 timeout=30) as c:
        r = await c.get(f"/c/{cid}/next")
        assert r.status_code == 200, r.text
        aid = r.json()["assignment"]
        for round_ in range(ROUNDS):
            body = {**{f"dim:{d}": str(1 + (k + round_) % 5) for d in DIMS}, "justification": f"rater {k} says so"}
            first = await c.post(f"/a/{aid}", data=body)
            codes[first.status_code] += 1
            assert first.status_code == 201, (aid, first.text)
            if (k + round_) % 3 == 0:  # a retried request, as after a dropped connection
                again = await c.post(f"/a/{aid}", data=body)
                codes[("retry", again.status_code)] += 1
                assert again.json().get("next") == first.json().get("next"), (again.text, first.text)
            aid = first.json()["next"]  # the submit hands out the next item


def test_hundred_concurrent_raters_lose_and_duplicate_nothing(loaded):
    base, url, cid, sessions = loaded
    codes: Counter = Counter()

    async def main() -> None:
        await asyncio.gather(*[_rater(base, cid, tok, csrf, k, codes) for k, (tok, csrf) in enumerate(sessions)])

    t0 = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - t0
    n = RATERS * ROUNDS
    retries = sum(1 for k in range(RATERS) for r in range(ROUNDS) if (k + r) % 3 == 0)
    assert codes == Counter({201: n, ("retry", 200): retries})
    with Store(url, create=False) as s:
        asgs = [a for a in s.list("assignments", campaign_id=cid) if a.status == "done"]
        assert len(asgs) == n
        assert s.count("assignments", campaign_id=cid, status="pending") == RATERS  # each holds its next item
        per_unit = Counter(a.response_ids[0] for a in asgs)
        assert max(per_unit.values()) <= OVERLAP
        assert len({(a.response_ids[0], a.rater_id) for a in asgs}) == n  # nobody rated a unit twice
        js = s.list("judgments", campaign_id=cid)
        assert len(js) == n * len(DIMS)
        assert len({(j.assignment_id, j.dimension) for j in js}) == n * len(DIMS)
        for j in js:  # each rater's answer is stored under that rater
            assert j.justification == f"rater {int(j.rater_id.split(':r')[1])} says so"
    assert elapsed < 60, f"load took {elapsed:.1f} s"
