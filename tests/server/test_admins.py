"""There is always an admin: none demotes themselves on the web, and the last one is never demoted or
disabled, from the web or the CLI, even by two admins demoting each other at once; on both stores."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from assay.errors import BadInput
from assay.server import accounts as ACC
from assay.store import rating as S
from tests.server.conftest import Rater, add_users


def _roles(store) -> dict[str, tuple[str, bool]]:
    return {u["name"]: (u["role"], bool(u["disabled"])) for u in S.list_users(store)}


def test_an_admin_cannot_demote_themselves_and_the_last_admin_stays(server):
    ada = Rater(server.url, "ada")
    try:
        for form in ({"action": "role", "name": "ada", "role": "lead"}, {"action": "role", "name": "ada", "role": "rater"},
                     {"action": "disable", "name": "ada"}):
            r = ada.post("/admin/users", form)
            assert r.status_code == 400 and ("yourself" in r.text or "your own role" in r.text)
        with server.store() as s:
            assert _roles(s)["ada"] == ("admin", False)
        # with a second admin, one may demote the other, but not the one left
        assert ada.post("/admin/users", {"action": "role", "name": "lee", "role": "admin"}).status_code == 303
        lee = Rater(server.url, "lee")
        assert lee.post("/admin/users", {"action": "role", "name": "ada", "role": "lead"}).status_code == 303
        r = lee.post("/admin/users", {"action": "role", "name": "lee", "role": "lead"})
        assert r.status_code == 400 and "your own role" in r.text
        with server.store() as s:
            assert _roles(s)["ada"] == ("lead", False) and _roles(s)["lee"] == ("admin", False)
            ACC.set_role(s, "ada", "admin")  # as it was, for the tests that follow
            ACC.set_role(s, "lee", "lead")
        lee.close()
    finally:
        ada.close()


@pytest.mark.parametrize("action", ["role", "disable"])
def test_two_admins_demoting_each_other_at_once_leave_one(server, action):
    one, two = f"ava-{action}", f"abe-{action}"
    add_users(server.store(), {one: "admin", two: "admin"})
    form = {"role": {"action": "role", "role": "rater"}, "disable": {"action": "disable"}}[action]
    for _ in range(4):
        ava, abe = Rater(server.url, one), Rater(server.url, two)
        with server.store() as s:  # everyone else steps aside: the two are the only admins
            for n, (role, _) in _roles(s).items():
                if role == "admin" and n not in (one, two):
                    S.set_user(s, n, role="lead")
        start = threading.Barrier(2)

        def demote(pair):
            me, other = pair
            start.wait()
            return me.post("/admin/users", {**form, "name": other}).status_code

        with ThreadPoolExecutor(2) as pool:
            codes = sorted(pool.map(demote, [(ava, two), (abe, one)]))
        with server.store() as s:
            admins = [n for n, (role, off) in _roles(s).items() if role == "admin" and not off]
            # the other is refused: the last admin (400), or no longer an admin (403) or signed in (401,
            # disabling ends the sessions) by the time it is read
            assert len(admins) == 1 and codes[0] == 303 and codes[1] in (400, 401, 403), (codes, admins)
            for n in (one, two):
                S.set_user(s, n, role="admin", disabled=False)
    with server.store() as s:
        S.set_user(s, "ada", role="admin")
        for n in (one, two):
            S.set_user(s, n, role="lead")
        ava.close()
        abe.close()


def test_the_library_refuses_to_remove_the_last_admin(store):
    from tests.server.conftest import password_hash

    for name in ("root", "rita"):
        ACC.create_user(store, name, role="admin" if name == "root" else "rater", password_hash=password_hash())
    for change in (lambda: ACC.set_role(store, "root", "lead"), lambda: ACC.set_disabled(store, "root")):
        with pytest.raises(BadInput, match="root is the last admin"):
            change()
    ACC.set_disabled(store, "rita")  # others are not affected
    ACC.set_role(store, "rita", "admin")
    ACC.set_disabled(store, "rita", False)
    ACC.set_role(store, "root", "lead")  # no longer the last
    assert _roles(store) == {"root": ("lead", False), "rita": ("admin", False)}
    # a disabled admin does not count: the enabled one is the last
    ACC.set_role(store, "root", "admin")
    ACC.set_disabled(store, "root")
    with pytest.raises(BadInput, match="rita is the last admin"):
        ACC.set_role(store, "rita", "rater")


def test_the_cli_refuses_to_remove_the_last_admin(store_url, capsys):
    from assay.cli import main
    from assay.store import Store

    with Store(store_url) as s:
        add_users(s, {"root": "admin"})
    for args in (["users", "role", "root", "rater"], ["users", "disable", "root"]):
        assert main(["--db", store_url, *args]) == 2
        err = capsys.readouterr().err
        assert "root is the last admin" in err and "Traceback" not in err
    with Store(store_url, create=False) as s:
        assert _roles(s) == {"root": ("admin", False)}
