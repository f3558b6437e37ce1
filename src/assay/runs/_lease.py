"""Units claimed with a lease, so that any number of processes on one store share a run.

A process claims a few units at a time in the run's ledger (``Ledger.claim``): each row
names the process and the end of its lease. It renews its leases while it works and,
on a clean exit (the end, a Ctrl-C, an error), gives back those it did not finish. A
process that dies keeps its units until their lease ends, or less: a process on the same
machine sees that the holder's pid is gone and takes them over at once, after replaying
the answers the dead process had received (``assay.store.journal``) into the cache.

A process ends its part when every unit of the run is finished, by it or by another: it
waits for the units others hold, and takes over those whose holder is gone. A unit
finished (failed too) after this process first read the ledger is not taken again, so a
failure is retried by the next run, not by a neighbour.

    claims = Claims(ledger, run_id, todo, seen, lease=60.0, batch=64)
    async with claims:                      # renews the leases; gives back what is left
        while (unit := await claims.next()) is not None:
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import uuid
from collections import deque
from typing import Any

from assay.errors import BadInput
from assay.runs._task import Unit
from assay.store.journal import replay

LEASE_ENV = "ASSAY_LEASE_SECONDS"
DEFAULT_LEASE = 60.0


def lease_seconds(value: float | None = None) -> float:
    """The lease a process takes on units: ``value``, else ``ASSAY_LEASE_SECONDS``, else 60 seconds."""
    if value is None:
        raw = os.environ.get(LEASE_ENV, "").strip()
        if not raw:
            return DEFAULT_LEASE
        try:
            value = float(raw)
        except ValueError:
            raise BadInput(f"{LEASE_ENV} must be a number of seconds, not {raw!r}") from None
        if not value > 0 or value == float("inf"):
            raise BadInput(f"{LEASE_ENV} must be a positive number of seconds, not {raw!r}")
        return value
    if not value > 0 or value == float("inf"):
        raise ValueError(f"lease_seconds must be a positive number of seconds, not {value!r}")
    return float(value)


def _pid_space() -> str:
    """Names this machine's boot and pid namespace: two processes with the same one can check each other's pid."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        ns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return "-"  # no way to tell: leases end by time only
    return hashlib.sha256(f"{boot}/{ns}".encode()).hexdigest()[:12]


def worker_id() -> str:
    """This process, as it signs its leases: ``host:pid:pid-space:token``."""
    host = socket.gethostname().replace(":", "_")[:100]
    return f"{host}:{os.getpid()}:{_pid_space()}:{uuid.uuid4().hex[:12]}"


def is_gone(worker: str, me: str) -> bool:
    """Whether ``worker`` (a ``worker_id``) is a process of this machine and pid space that no longer runs."""
    try:
        _, pid, space, _ = worker.rsplit(":", 3)
        _, my_pid, my_space, _ = me.rsplit(":", 3)
        pid_n = int(pid)
    except ValueError:
        return False
    if space != my_space or space == "-" or worker == me:
        return False
    if pid == my_pid:
        return False  # another run of this very process: alive
    try:
        os.kill(pid_n, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # killed but not yet reaped by its parent: a zombie works on nothing
        with open(f"/proc/{pid_n}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


class Claims:
    """The units of a run this process works on, claimed ``batch`` at a time with a ``lease`` of that many seconds.

    ``todo`` are the units not done when the run was read; ``seen`` gives each unit's
    ledger attempts then (absent: 0). ``next()`` hands out one claimed unit at a time and
    None once the run has no unit left for anyone; ``take(n)`` up to n at once.
    """

    def __init__(self, ledger: Any, run_id: str, todo: list[Unit], seen: dict[str, int], *, lease: float,
                 batch: int, worker: str | None = None) -> None:
        self.ledger, self.run_id = ledger, run_id
        self.lease = lease
        self.batch = max(1, batch)
        self.worker = worker or worker_id()
        self.seen = {u.key: seen.get(u.key, 0) for u in todo}
        self.units = {u.key: u for u in todo}
        self._fresh: deque[str] = deque(u.key for u in todo)  # not tried yet, in the task's order
        self._held: dict[str, tuple[str | None, float | None]] = {}  # tried, held by another: holder, seconds left
        self._mine: deque[Unit] = deque()
        self._renewer: asyncio.Task | None = None
        # one claim at a time: a refill that callers with no unit in hand all wait for (and wake
        # from together), or one made ahead, before the units in hand run out
        self._refilling: asyncio.Future | None = None
        self._ahead: asyncio.Future | None = None
        self._claiming: set[asyncio.Future] = set()
        self.taken_over = 0  # units claimed from a process that had died or whose lease had ended

    async def __aenter__(self) -> Claims:
        self._renewer = asyncio.ensure_future(self._renew())
        return self

    async def __aexit__(self, *exc: object) -> None:
        for t in (self._renewer, self._ahead, self._refilling):
            if t is not None:
                t.cancel()
                with contextlib.suppress(BaseException):
                    await t
        await asyncio.shield(self._release())

    async def _release(self) -> None:
        if self._claiming:
            await asyncio.wait(list(self._claiming))
        await asyncio.to_thread(self.ledger.release, self.run_id, self.worker)

    async def next(self) -> Unit | None:
        got = await self.take(1)
        return got[0] if got else None

    async def take(self, n: int) -> list[Unit]:
        """Up to ``n`` units claimed for this process; [] when every unit of the run is finished or claimed by it."""
        while not self._mine:
            if self._ahead is not None:
                ahead, self._ahead = self._ahead, None
                await asyncio.shield(ahead)  # its error, if any, is this run's
                continue
            fut = self._refilling
            if fut is None or (fut.done() and fut.result()):  # none yet, or its units are taken: another
                fut = self._refilling = asyncio.ensure_future(self._refill())
            if not await asyncio.shield(fut) and not self._mine:
                return []  # nothing left for anyone
        got = [self._mine.popleft() for _ in range(min(n, len(self._mine)))]
        idle = (self._ahead is None or self._ahead.done()) and (self._refilling is None or self._refilling.done())
        if self._fresh and len(self._mine) < self.batch // 2 and idle:
            if self._ahead is not None:
                self._ahead.result()
            keys = [self._fresh.popleft() for _ in range(min(self.batch, len(self._fresh)))]
            self._ahead = asyncio.ensure_future(self._claim(keys, []))
        return got

    async def _refill(self) -> bool:
        """Claim more units (waiting for others' leases when only theirs are left); False when none are left."""
        while self._fresh or self._held:
            if self._fresh:
                keys = [self._fresh.popleft() for _ in range(min(self.batch, len(self._fresh)))]
                gone: list[str] = []
            else:
                keys, gone = await self._wait_for_held()
                if not keys:
                    continue
            if await self._claim(keys, gone):
                return True
        return False

    async def _claim(self, keys: list[str], gone: list[str]) -> bool:
        """Claim ``keys`` (taking them from the ``gone`` processes); whether any was claimed."""
        if any(k in self._held for k in keys):  # a takeover: the answers a dead holder received go into the cache
            await asyncio.to_thread(replay, self.ledger.store)
        call = asyncio.ensure_future(asyncio.to_thread(
            self.ledger.claim, self.run_id, {k: self.seen[k] for k in keys}, self.worker, self.lease, gone))
        self._claiming.add(call)  # a claim cancelled here still commits in its thread: release waits for it
        call.add_done_callback(self._claiming.discard)
        claimed, others = await asyncio.shield(call)
        for lease in others:
            self._held.pop(lease.unit_key, None)
            if not lease.done:
                self._held[lease.unit_key] = (lease.holder, lease.left)
        for k in claimed:
            if self._held.pop(k, None) is not None:
                self.taken_over += 1
            self._mine.append(self.units[k])
        return bool(claimed)

    async def _wait_for_held(self) -> tuple[list[str], list[str]]:
        """Wait until some unit held by another process may be free; its key (and holders known dead)."""
        alive: dict[str, bool] = {}

        def free(holder: str | None, left: float | None) -> bool:
            if holder is None or left is None or left <= 0:
                return True
            if holder not in alive:
                alive[holder] = not is_gone(holder, self.worker)
            return not alive[holder]

        if not any(free(h, left) for h, left in self._held.values()):
            soonest = min(left for _, left in self._held.values() if left is not None)  # none free: all known
            await asyncio.sleep(min(max(soonest, 0.05), self._poll()))
            alive.clear()
        leases = await asyncio.to_thread(self.ledger.leases, self.run_id, {k: self.seen[k] for k in self._held})
        self._held = {lease.unit_key: (lease.holder, lease.left) for lease in leases if not lease.done}
        keys = sorted(k for k, (h, left) in self._held.items() if free(h, left))
        gone = sorted({h for k in keys if (h := self._held[k][0]) is not None and alive.get(h) is False})
        return keys[: self.batch * 4], gone

    def _poll(self) -> float:
        """How often to look at units others hold: often enough to end soon after they finish."""
        return min(1.0, self.lease / 4)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            with contextlib.suppress(Exception):  # a failed renewal is tried again at the next tick
                await asyncio.to_thread(self.ledger.renew, self.run_id, self.worker, self.lease)
