"""Claiming the next unit as a submission is stored (one SQL statement on PostgreSQL, store/rating_pg.py)
gives the same assignments, ids, orders and gold mix as claiming it on its own."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from assay import annotate as A
from assay.annotate.queue import assignment_id, shown_order
from assay.store.rating import app_secret
from tests.annotate.test_annotate import _answer, _setup


def _work(store, camp, rater: str, limit: int = 100) -> list:
    """A rater's whole session the way the app runs it: each submission claims the next unit."""
    got = []
    asg = A.next_assignment(store, camp, rater)
    while asg is not None and len(got) < limit:
        got.append(asg)
        res = A.submit(store, camp, asg, _answer(), claim_next=True)
        assert res.created
        asg = res.next or A.next_assignment(store, camp, rater)
    return got


def test_claimed_ids_and_orders_follow_the_python_recipe(store):
    raters = _setup(store, n_items=8)
    units = A.units_from_dataset(store, "d", kind="compare", models=["m1@1", "m2@1", "m3@1"])
    camp = A.create_campaign(store, "p", rubric="default@1", units=units,
                             spec=A.CampaignSpec(overlap=2, kind="compare"))
    seen = []
    for r in raters[:2]:
        asg = A.next_assignment(store, camp, r)
        while asg is not None:
            assert asg.id == assignment_id(camp.id, A.unit_id(asg.response_ids), r, key=app_secret(store))
            assert asg.shown_order == shown_order(camp.id, asg.id, asg.response_ids, key=app_secret(store))
            assert store.get("assignments", asg.id).shown_order == asg.shown_order
            seen.append(tuple(asg.shown_order))
            res = A.submit(store, camp, asg, A.Answer(justification="x", choice="tie"), claim_next=True)
            asg = res.next or A.next_assignment(store, camp, r)
    assert len(seen) == 2 * len(units)
    # three responses shown in more than one order: the order is a shuffle, not the stored order
    assert len({tuple(sorted(o)) for o in seen}) < len(set(seen))


def test_gold_share_holds_when_each_submission_claims_the_next_unit(store):
    raters = _setup(store, n_items=12)
    units = A.units_from_dataset(store, "d", models=["m1@1", "m2@1"])
    gold = [A.Gold(response_ids=tuple(u), explanation="known", values={"factuality": 4}) for u in units[:4]]
    camp = A.create_campaign(store, "g", rubric="default@1", units=units[4:],
                             spec=A.CampaignSpec(overlap=2, gold_share=0.25), gold=gold)
    for r in raters[:2]:
        got = _work(store, camp, r, limit=16)
        assert len(got) == 16
        for n in range(1, 17):  # gold is served as it falls short of a quarter of the work so far
            assert sum(a.is_gold for a in got[:n]) == -(-n // 4)
    regular = [a for a in store.list("assignments", campaign_id=camp.id) if not a.is_gold]
    per_unit = {}
    for a in regular:
        per_unit.setdefault(a.response_ids[0], set()).add(a.rater_id)
    assert all(len(v) <= 2 for v in per_unit.values())


def test_concurrent_sessions_fill_every_slot_once(store):
    raters = _setup(store, n_items=12)
    units = A.units_from_dataset(store, "d", models=["m1@1", "m2@1"])
    camp = A.create_campaign(store, "c", rubric="default@1", units=units, spec=A.CampaignSpec(overlap=3))
    with ThreadPoolExecutor(6) as pool:
        sessions = list(pool.map(lambda r: _work(store, camp, r), raters))
    pairs = [(a.response_ids[0], a.rater_id) for s in sessions for a in s]
    assert len(pairs) == len(set(pairs)) == 3 * len(units)  # every unit to 3 raters, no rater twice
    assert store.count("assignments", campaign_id=camp.id, status="done") == len(pairs)
    assert store.count("judgments", campaign_id=camp.id) == len(pairs) * len(_answer().values)
    assert store.count("assignments", campaign_id=camp.id, status="pending") == 0


def test_open_units_are_counted_up_to_the_shown_limit(store):
    raters = _setup(store, n_items=60)
    units = A.units_from_dataset(store, "d", models=["m1@1", "m2@1"])  # 120 units
    camp = A.create_campaign(store, "q", rubric="default@1", units=units, spec=A.CampaignSpec(overlap=1))
    first = A.queue_status(store, camp, raters[0])
    assert (first.available, first.more, first.open) == (A.AVAILABLE_SHOWN, True, f"{A.AVAILABLE_SHOWN}+")
    _work(store, camp, raters[1], limit=30)  # another rater did 30 units and holds a 31st (overlap 1)
    asg = A.next_assignment(store, camp, raters[0])
    st = A.queue_status(store, camp, raters[0])
    assert (st.pending, st.available, st.more, st.open) == (1, 88, False, "89")
    A.submit(store, camp, asg, _answer())
    assert A.queue_status(store, camp, raters[0]).done == 1
    if store.backend == "postgresql":  # the page's single query counts the same
        import asyncio

        from assay.store.rating_pg import AsyncPG

        async def page() -> dict:
            pg = AsyncPG(store.url, size=1)
            await pg.open()
            try:
                nxt = A.next_assignment(store, camp, raters[0])
                return await pg.page(camp, nxt, None, is_open=True, limit=A.AVAILABLE_SHOWN + 1)
            finally:
                await pg.close()

        data = asyncio.run(page())
        got = A.queue_status_of(data, data["available"])
        assert got == A.queue_status(store, camp, raters[0])
        assert (got.done, got.pending, got.available) == (1, 1, 87)


def test_the_servers_asyncio_path_reads_writes_once_and_claims(pg_store_url):
    """What `assay serve` runs per submission on PostgreSQL (AsyncPG.read, then record_and_claim),
    checked against the store: session and assignment in one read, records written once, the
    next unit claimed, a repeat writing nothing."""
    import asyncio

    from assay.server import accounts as ACC
    from assay.store import Store
    from assay.store.rating_pg import AsyncPG, split_read

    store = Store(pg_store_url)
    _setup(store, n_items=4)
    units = A.units_from_dataset(store, "d", models=["m1@1"])
    camp = A.create_campaign(store, "s", rubric="default@1", units=units, spec=A.CampaignSpec(overlap=1))
    user = ACC.create_user(store, "ann", "a long password", role="rater")
    token, csrf = ACC.start_session(store, user)
    asg = A.next_assignment(store, camp, user.rater_id)

    async def go():
        pg = AsyncPG(store.url, size=2)
        await pg.open()
        try:
            row = await pg.read(ACC.token_hash(token), asg.id)
            session, got, got_camp, item = split_read(row)
            assert ACC.user_of_session(row) == ACC.User(name="ann", role="rater", rater_id=user.rater_id,
                                                        csrf_token=csrf)
            assert (got, got_camp.id, item) == (asg, camp.id, store.get("responses", asg.response_ids[0]).item_id)
            records = A.build_records(store, camp, got, _answer(), item_id=item)
            key = app_secret(store)
            first = await pg.record_and_claim(camp, got, records, kind="rate", claim=True, key=key)
            again = await pg.record_and_claim(camp, got, records, kind="rate", claim=True, key=key)
            other = await pg.read(ACC.token_hash(token), "no-such-assignment")
            return first, again, other
        finally:
            await pg.close()

    (created, nxt), (created_again, nxt_again), other = asyncio.run(go())
    assert created and not created_again and nxt_again is None
    assert nxt.id == assignment_id(camp.id, nxt.response_ids[0], user.rater_id, key=app_secret(store)) != asg.id
    assert store.get("assignments", nxt.id).status == "pending"
    assert store.get("assignments", asg.id).status == "done"
    assert store.count("judgments", assignment_id=asg.id) == len(_answer().values)
    assert split_read(other)[1] is None  # a valid session, an unknown assignment
    store.close()


def test_racing_requests_of_one_rater_get_one_pending_assignment(store):
    """Twelve "next" at once, then a submission claiming the next unit racing a skip and more
    "next": each time every request gets the rater's one pending assignment (or none), never a
    second one (the index ux_assignments_one_pending, on both backends)."""
    import threading

    raters = _setup(store, n_items=40)
    camp = A.create_campaign(store, "race", rubric="default@1", units=A.units_from_dataset(store, "d"),
                             spec=A.CampaignSpec(overlap=1))
    r = raters[0]

    def pending() -> list:
        return [a.id for a in store.list("assignments", campaign_id=camp.id, rater_id=r, status="pending")]

    def together(*calls):
        start = threading.Barrier(len(calls))

        def run(f):
            start.wait()
            return f()

        with ThreadPoolExecutor(len(calls)) as pool:
            return list(pool.map(run, calls))

    got = together(*[lambda: A.next_assignment(store, camp, r)] * 12)
    assert len({a.id for a in got}) == 1 and pending() == [got[0].id]
    for _ in range(6):
        asg = A.next_assignment(store, camp, r)

        def skip(asg=asg):
            try:
                return A.skip(store, camp, asg, "cannot tell")
            except Exception as e:  # noqa: BLE001 - the submission won: "answered already"
                return e

        together(lambda: A.submit(store, camp, asg, _answer(), claim_next=True), skip,
                 *[lambda: A.next_assignment(store, camp, r)] * 4)
        assert len(pending()) <= 1
