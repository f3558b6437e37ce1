"""Login limits under attack: concurrent guesses through a real two-worker server, on both stores.

Every request comes from a real loopback address of its own choosing (127.0.0.x), so the server
sees distinct clients without trusting any header. A 401 means a password was checked and was
wrong, a 429 that no password was checked; the store's attempt log counts the checks too.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from assay import records as R
from assay.server import accounts as ACC
from assay.store import tables as T
from tests.server.conftest import PASSWORD, Rater, add_users


def _login_token(base: str) -> tuple[str, str]:
    """A login form's CSRF token and its cookie (one pair serves many posts)."""
    with httpx.Client(base_url=base) as c:
        page = c.get("/login")
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1), c.cookies["assay_login_csrf"]


def _post(base: str, token: tuple[str, str], name: str, password: str, address: str) -> int:
    with httpx.Client(base_url=base, timeout=60, transport=httpx.HTTPTransport(local_address=address),
                      cookies={"assay_login_csrf": token[1]}) as c:
        return c.post("/login", data={"csrf_token": token[0], "name": name, "password": password}).status_code


def _storm(base: str, guesses: list[tuple[str, str, str]]) -> list[int]:
    """Post every (name, password, address) at once; the status of each, in order."""
    token = _login_token(base)
    start = threading.Barrier(len(guesses))

    def one(g: tuple[str, str, str]) -> int:
        start.wait()
        return _post(base, token, *g)

    with ThreadPoolExecutor(len(guesses)) as pool:
        return list(pool.map(one, guesses))


def _checks(server, name: str) -> int:
    """Password checks of a name the store logged."""
    a = T.login_attempts
    with server.store() as s, s.engine.connect() as c:
        return c.execute(select(func.count()).where(a.c.key == f"user:{name}")).scalar_one()


def test_sixty_concurrent_guesses_check_at_most_five_passwords(server):
    add_users(server.store(), {"vic": "rater"})
    # 60 wrong guesses at once from 12 addresses: the name's limit binds, not the addresses'
    codes = _storm(server.url, [("vic", f"guess {i}", f"127.0.0.{2 + i % 12}") for i in range(60)])
    assert Counter(codes) == {401: 5, 429: 55}
    assert _checks(server, "vic") == 5
    # the right password, now, from an address that never failed: refused like the guesses
    late = Rater(server.url, "vic", address="127.0.0.99")
    assert late.login_response.status_code == 429 and "assay_session" not in late.client.cookies


def test_one_address_uses_at_most_three_checks_and_the_owner_elsewhere_still_logs_in(server):
    add_users(server.store(), {"val": "rater"})
    codes = _storm(server.url, [("val", f"guess {i}", "127.0.0.30") for i in range(60)])
    assert Counter(codes) == {401: 3, 429: 57}
    assert _checks(server, "val") == 3
    assert Rater(server.url, "val", address="127.0.0.31").login_response.status_code == 303


def test_a_right_password_among_concurrent_guesses_is_refused_once_the_limit_is_reached(server):
    add_users(server.store(), {"vera": "rater"})
    # 39 wrong guesses, at most 3 from each address (so every refusal is the name's limit) ...
    guesses = [("vera", f"guess {i}", f"127.0.1.{1 + i // 3}") for i in range(39)]
    token = _login_token(server.url)
    answered, codes = threading.Semaphore(0), []

    def guess(g: tuple[str, str, str]) -> int:
        code = _post(server.url, token, *g)
        answered.release()
        return code

    with ThreadPoolExecutor(40) as pool:
        futures = [pool.submit(guess, g) for g in guesses]
        for _ in range(14):  # ... and the right password sent as the 15th answer comes in
            answered.acquire()
        right = pool.submit(_post, server.url, token, "vera", PASSWORD, "127.0.2.1")
        codes = [f.result() for f in futures]
    assert right.result() == 429
    assert Counter(codes) == {401: 5, 429: 34} and _checks(server, "vera") == 5


def test_failures_for_other_names_from_one_address_do_not_lock_out_its_other_users(server):
    # an office behind one NAT: someone there fails 42 times over 14 names ...
    add_users(server.store(), {f"nat{i}": "rater" for i in range(14)})
    codes = _storm(server.url, [(f"nat{i // 3}", f"guess {i}", "127.0.0.40") for i in range(42)])
    assert Counter(codes) == {401: 42}
    # ... and a colleague at the same address logs in
    assert Rater(server.url, "ann", address="127.0.0.40").login_response.status_code == 303


# ---- the limits themselves, with a clock of our own ----------------------------------------------


SMALL = ACC.LoginLimits(per_name=2, per_address_name=2, per_address=3, window=timedelta(seconds=60),
                        longest=timedelta(seconds=240))


def _try(store, name: str, password: str, at: float, address: str = "10.0.0.1") -> str:
    try:
        user = ACC.authenticate(store, name, password, address=address, limits=SMALL,
                                now=T0 + timedelta(seconds=at))
    except ACC.RateLimited:
        return "limited"
    return "ok" if user else "wrong"


T0 = R.utcnow()


def test_a_full_window_doubles_the_next_one_up_to_the_longest(store):
    from tests.server.conftest import password_hash

    ACC.create_user(store, "eve", password_hash=password_hash())
    assert [_try(store, "eve", "nope", t) for t in (0, 1, 2, 59)] == ["wrong", "wrong", "limited", "limited"]
    # the first window (60 s) ended full: the next lasts 120 s, then 240 s, then 240 s (the longest)
    for start, span in ((60, 120), (180, 240), (420, 240)):
        assert [_try(store, "eve", "nope", start + t) for t in (0, 1)] == ["wrong", "wrong"]
        assert _try(store, "eve", PASSWORD, start + span - 1) == "limited"  # the right password too
    # a refused login counted nothing: after the last window, two checks again, and a right
    # password starts the name afresh
    assert _try(store, "eve", PASSWORD, 660) == "ok"
    assert [_try(store, "eve", "nope", 661 + t) for t in (0, 1, 2)] == ["wrong", "wrong", "limited"]
    assert _try(store, "eve", "nope", 721.5) == "wrong"  # the success ended the backoff: 60 s windows again


def test_the_address_ceiling_counts_failures_over_all_names(store):
    from tests.server.conftest import password_hash

    for n in ("a1", "a2", "a3", "a4"):
        ACC.create_user(store, n, password_hash=password_hash())
    assert _try(store, "a1", PASSWORD, 0) == "ok"  # a success does not count against the address
    assert [_try(store, n, "nope", 1) for n in ("a1", "a2", "a3")] == ["wrong"] * 3
    assert _try(store, "a4", PASSWORD, 2) == "limited"  # the ceiling: 3 failures from 10.0.0.1
    assert _try(store, "a4", PASSWORD, 2, address="10.0.0.2") == "ok"  # another address is not affected
    assert _try(store, "a4", PASSWORD, 61) == "ok"  # the ceiling's window is fixed: 60 s later, room again


@pytest.mark.parametrize("address", ["", "10.0.0.9"])
def test_racing_checks_in_threads_each_get_their_own_count(store, address):
    """Many threads, one store: exactly ``per_name`` checks run (the count is taken atomically)."""
    from tests.server.conftest import password_hash

    ACC.create_user(store, "rex", password_hash=password_hash())
    limits = ACC.LoginLimits(per_name=5, per_address_name=5)
    start = threading.Barrier(24)

    def one(i: int) -> str:
        start.wait()
        try:
            return "wrong" if ACC.authenticate(store, "rex", f"nope {i}", address=address, limits=limits) is None \
                else "ok"
        except ACC.RateLimited:
            return "limited"

    with ThreadPoolExecutor(24) as pool:
        got = Counter(pool.map(one, range(24)))
    assert got == {"wrong": 5, "limited": 19}
