"""Unit leases in the run ledger (both stores): claims, renewal, take-over of a dead or silent holder.

A holder "on another machine" is a worker id whose pid space is not this one's: its
units can only be taken over when its lease ends. Holders on this machine are checked
by pid, so a killed one's units are taken at once.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import pytest

from assay import records as R
from assay.cli import main
from assay.errors import BadInput
from assay.runs import LocalExecutor, Outcome, Unit
from assay.runs._lease import is_gone, lease_seconds, worker_id
from assay.store.ledger import Ledger, UnitRow
from assay.testing import ScriptedServer

from .conftest import make_dataset

ELSEWHERE = "other-host:4242:0123456789ab:feedfacecafe"  # a process of another machine


class Counted:
    """A task of ``n`` units that records which units it ran (each takes ``pause`` seconds)."""

    kind = "other"

    def __init__(self, n: int, pause: float = 0.0, name: str = "counted") -> None:
        self.n, self.pause, self.name = n, pause, name
        self.ran: list[str] = []

    def config(self) -> dict:
        return {"task": self.name, "n": self.n}

    def units(self) -> list[Unit]:
        return [Unit(f"u{i:03d}") for i in range(self.n)]

    async def run(self, unit: Unit) -> Outcome:
        self.ran.append(unit.key)
        await asyncio.sleep(self.pause)
        return Outcome(result_id=unit.key)


def opened(store, task: Counted) -> str:
    """Open the task's run as the executor will (same id), so another holder can claim its units first."""
    from assay.runs import run_id_for

    run_id = run_id_for(task.kind, task.config())
    Ledger(store).open_run(R.Run(id=run_id, kind=task.kind, config=task.config(), total=task.n))
    return run_id


def test_claims_are_exclusive_until_the_lease_ends_and_renewal_keeps_them(store):
    led = Ledger(store)
    led.open_run(R.Run(id="r1", kind="other", total=4))
    a, b = worker_id(), ELSEWHERE
    seen = {"k1": 0, "k2": 0, "k3": 0}
    got, held = led.claim("r1", seen, a, 0.6)
    assert got == ["k1", "k2", "k3"] and held == []
    got, held = led.claim("r1", {"k2": 0, "k4": 0}, b, 5.0)
    assert got == ["k4"] and [(h.unit_key, h.holder, h.done) for h in held] == [("k2", a, False)]
    assert 0 < held[0].left <= 0.6
    led.write("r1", [UnitRow("k1", "done", "res")])  # finished: no lease, and never claimable again
    time.sleep(0.3)
    assert led.renew("r1", a, 0.6) == 2  # k2 and k3 still held
    time.sleep(0.4)  # 0.7 s after the claim, 0.4 s after the renewal
    assert led.claim("r1", {"k1": 1, "k2": 0}, b, 5.0)[0] == []
    time.sleep(0.4)  # the renewed lease has ended
    got, held = led.claim("r1", {"k1": 1, "k2": 0, "k3": 0}, b, 5.0)
    assert got == ["k2", "k3"] and [(h.unit_key, h.done) for h in held] == [("k1", True)]
    rows = {u["unit_key"]: u for u in led.units("r1")}
    assert rows["k1"]["lease_until"] is None and rows["k1"]["claimed_by"] == a
    assert rows["k2"]["claimed_by"] == b and rows["k2"]["status"] == "running" and rows["k2"]["attempts"] == 0


def test_a_unit_finished_since_it_was_seen_is_not_claimed_and_done_is_never_undone(store):
    led = Ledger(store)
    led.open_run(R.Run(id="r1", kind="other", total=2))
    led.write("r1", [UnitRow("k1", "failed", error_kind="timeout", error="slow")])
    # seen before that failure (attempts 0): another process failed it meanwhile, not this one's to retry
    assert led.claim("r1", {"k1": 0}, ELSEWHERE, 5.0)[0] == []
    # seen after it (a new run retries failures): claimable, and the failure stays recorded until redone
    assert led.claim("r1", {"k1": 1}, ELSEWHERE, 5.0)[0] == ["k1"]
    assert led.units("r1")[0]["status"] == "failed"
    led.write("r1", [UnitRow("k2", "done", "res")])
    led.write("r1", [UnitRow("k2", "failed", error_kind="timeout", error="late")])  # a holder whose lease ended
    k2 = led.units("r1", status="done")
    assert [u["unit_key"] for u in k2] == ["k2"] and k2[0]["error"] is None


def test_release_gives_back_unfinished_units(store):
    led = Ledger(store)
    led.open_run(R.Run(id="r1", kind="other", total=3))
    led.write("r1", [UnitRow("k3", "failed", error_kind="timeout", error="slow")])
    me = worker_id()
    assert led.claim("r1", {"k1": 0, "k2": 0, "k3": 1}, me, 60.0)[0] == ["k1", "k2", "k3"]
    led.write("r1", [UnitRow("k1", "done", "res")])
    led.release("r1", me)
    rows = {u["unit_key"]: u for u in led.units("r1")}
    assert set(rows) == {"k1", "k3"}  # k2 was never finished: as if never claimed
    assert rows["k3"]["status"] == "failed" and rows["k3"]["lease_until"] is None
    assert led.claim("r1", {"k2": 0, "k3": 1}, ELSEWHERE, 5.0)[0] == ["k2", "k3"]


def test_units_held_on_another_machine_are_taken_over_when_the_lease_ends(store):
    task = Counted(40)
    run_id = opened(store, task)
    held = {f"u{i:03d}": 0 for i in range(0, 40, 4)}
    assert len(Ledger(store).claim(run_id, held, ELSEWHERE, 1.0)[0]) == 10
    ex = LocalExecutor(store, concurrency=4, lease_seconds=5.0)
    t0 = time.monotonic()
    run = ex.run(task)
    assert time.monotonic() - t0 >= 0.9  # waited for the other machine's lease to end
    assert sorted(task.ran) == [f"u{i:03d}" for i in range(40)]  # each unit once
    assert ex.claims.taken_over == 10
    assert (run.status, run.succeeded) == ("done", 40)


def test_a_renewed_lease_is_waited_for_and_its_units_are_not_run_here(store):
    task = Counted(20)
    run_id = opened(store, task)
    led = Ledger(store)
    theirs = {f"u{i:03d}": 0 for i in range(5)}
    assert len(led.claim(run_id, theirs, ELSEWHERE, 0.5)[0]) == 5

    async def other_machine() -> None:
        for _ in range(8):  # renews its 0.5 s lease for 1.6 s, then finishes its units
            await asyncio.sleep(0.2)
            await asyncio.to_thread(led.renew, run_id, ELSEWHERE, 0.5)
        await asyncio.to_thread(led.write, run_id, [UnitRow(k, "done", k) for k in theirs])

    async def both() -> R.Run:
        ex = LocalExecutor(store, concurrency=4, lease_seconds=5.0)
        run, _ = await asyncio.gather(ex.arun(task), other_machine())
        return run

    t0 = time.monotonic()
    run = asyncio.run(both())
    assert time.monotonic() - t0 >= 1.6  # this process ended only once every unit was finished
    assert sorted(task.ran) == [f"u{i:03d}" for i in range(5, 20)]
    assert (run.status, run.succeeded) == ("done", 20)


def test_a_dead_holder_on_this_machine_is_seen_at_once():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    time.sleep(0.5)  # exited, not yet reaped: a zombie
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    me = worker_id()
    space = me.split(":")[2]
    try:
        assert is_gone(f"h:{dead.pid}:{space}:t", me)
        assert is_gone(f"h:{zombie.pid}:{space}:t", me)
        assert not is_gone(f"h:{alive.pid}:{space}:t", me)
        assert not is_gone(f"h:{os.getpid()}:{space}:other", me)  # this process: alive
        assert not is_gone(f"h:{dead.pid}:0123456789ab:t", me)  # another machine: its pid says nothing here
        assert not is_gone("not a worker id", me)
    finally:
        alive.kill()
        alive.wait()
        zombie.wait()


def test_lease_seconds_from_the_environment(monkeypatch):
    monkeypatch.delenv("ASSAY_LEASE_SECONDS", raising=False)
    assert lease_seconds() == 60.0 and lease_seconds(2) == 2.0
    monkeypatch.setenv("ASSAY_LEASE_SECONDS", "2.5")
    assert lease_seconds() == 2.5
    for bad in ("abc", "0", "-3", "nan", "inf"):
        monkeypatch.setenv("ASSAY_LEASE_SECONDS", bad)
        with pytest.raises(BadInput, match="ASSAY_LEASE_SECONDS must be a"):
            lease_seconds()
    with pytest.raises(ValueError, match="lease_seconds must be a positive"):
        lease_seconds(0)


def test_a_bad_lease_setting_is_one_line_at_the_cli(store, store_url, monkeypatch, capsys):
    make_dataset(store, "qa", 3)
    monkeypatch.setenv("ASSAY_LEASE_SECONDS", "soon")
    with ScriptedServer(models=["m"]) as srv:
        code = main(["--db", store_url, "generate", "--model", "m@1", "--dataset", "qa", "--base-url", srv.base_url])
        assert srv.chat_requests == []
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip() and not line.startswith("plan:")]
    assert code == 2 and err == ["error: ASSAY_LEASE_SECONDS must be a number of seconds, not 'soon'"]
