"""The request cache as the async client sees it: batched look-ups, answers kept before their call ends.

Look-ups made in the same moment go to the store as one ``IN (...)`` query in a worker
thread, so the event loop never waits on SQL. A fresh answer is saved before the call
that got it gives up its slot (``save``). In a run, that is a line in the run's answer
journal (``assay.store.journal``), and the run's writer takes the answer (``take``) into
its next batch; a cache used outside a run commits its answers itself, a few at a time,
before ``save`` returns. So a process killed at any moment has lost only the answers of
calls still in flight. ``put`` keeps an answer to be written with the next batch or on
``flush`` / close.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from assay.store.ledger import Ledger

if TYPE_CHECKING:
    from assay.store import Store
    from assay.store.journal import Journal


class RequestCache:
    """Responses of earlier calls, keyed by the digest of their full request.

    ``own_run`` (what ``--no-cache`` uses): answer only from the entries of the run the
    cache is attached to, so a rerun after a crash repeats no call of its own and nothing
    comes from other runs' calls.
    """

    def __init__(self, store: Store, *, own_run: bool = False) -> None:
        self.ledger = Ledger(store)
        self.own_run = own_run
        self.run_id: str | None = None
        self._pending: dict[str, dict[str, Any]] = {}  # new answers not yet taken by a writer
        self._saving: dict[str, dict[str, Any]] = {}  # taken, not yet committed: still answered from here
        self._durable: dict[str, list[asyncio.Future]] = {}  # callers of save, per digest, until committed
        self._in_run = False  # attached to a run's writer, which commits the new answers
        self._journal: Journal | None = None
        self._committer: asyncio.Future | None = None
        self._waiting: dict[str, list[asyncio.Future]] = {}
        self._busy = False
        self.hits = 0
        self.misses = 0

    def own_run_only(self) -> RequestCache:
        """A cache on the same store that answers only from its own run's entries (see ``own_run``)."""
        return RequestCache(self.ledger.store, own_run=True)

    def attach(self, run_id: str, journal: Journal | None) -> None:
        """Hand new answers to a run's writer, stamped with ``run_id``, each in ``journal`` as it comes."""
        self.run_id = run_id
        self._in_run, self._journal = True, journal

    def detach(self) -> None:
        """The run's writer is done: answers are committed here again."""
        self._in_run, self._journal = False, None

    async def get(self, digest: str) -> Any | None:
        """The cached response for ``digest``, or None."""
        row = self._pending.get(digest) or self._saving.get(digest)
        if row is not None:
            self.hits += 1
            return row["response"]
        if self.own_run and self.run_id is None:
            self.misses += 1
            return None
        fut = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(digest, []).append(fut)
        if not self._busy:
            self._busy = True
            asyncio.get_running_loop().call_soon(self._start)
        found = await fut
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def _start(self) -> None:
        batch, self._waiting = self._waiting, {}
        if not batch:
            self._busy = False
            return
        asyncio.ensure_future(self._lookup(batch))

    async def _lookup(self, batch: dict[str, list[asyncio.Future]]) -> None:
        try:
            found = await asyncio.to_thread(self.ledger.cache_get_many, list(batch),
                                            run_id=self.run_id if self.own_run else None)
        except Exception as e:  # noqa: BLE001 - handed to every waiting caller
            for futs in batch.values():
                for f in futs:
                    if not f.done():
                        f.set_exception(e)
        else:
            for d, futs in batch.items():
                for f in futs:
                    if not f.done():
                        f.set_result(found.get(d))
        finally:
            self._start()  # look-ups that queued meanwhile go as the next batch

    def put(self, digest: str, model: str, request: dict[str, Any], response: Any) -> None:
        """Remember a fresh response (written by the next ``take``/``flush``)."""
        self._pending[digest] = {"digest": digest, "model": model, "request": request, "response": response}

    async def save(self, digest: str, model: str, request: dict[str, Any], response: Any) -> None:
        """Store a fresh response: in the run's journal (committed with its next batch), or committed here."""
        self.put(digest, model, request, response)
        if self._in_run:
            if self._journal is not None:
                self._journal.append({**self._pending[digest], "run_id": self.run_id})
            return
        fut = asyncio.get_running_loop().create_future()
        self._durable.setdefault(digest, []).append(fut)
        if self._committer is None:
            self._committer = asyncio.ensure_future(self._commit())
        await fut

    async def _commit(self) -> None:
        """Commit saved answers, whatever came meanwhile in each next transaction, until none is left."""
        try:
            while self._pending and not self._in_run:
                rows = self.take()
                try:
                    await asyncio.to_thread(self.ledger.cache_put_many, rows, run_id=self.run_id)
                except BaseException as e:  # noqa: BLE001 - handed to the callers of save
                    self.saved(rows, e)
                    if not isinstance(e, Exception):
                        raise
                else:
                    self.saved(rows)
        finally:
            self._committer = None
            if self._in_run and self._pending:  # attached meanwhile: the rest go the run's way
                rows = list(self._pending.values())
                if self._journal is not None:
                    for r in rows:
                        self._journal.append({**r, "run_id": self.run_id})
                for r in rows:
                    for f in self._durable.pop(r["digest"], ()):
                        if not f.done():
                            f.set_result(None)

    def take(self) -> list[dict[str, Any]]:
        """Hand over the new entries (to be written in the caller's transaction; then call ``saved``)."""
        rows = list(self._pending.values())
        self._pending = {}
        for r in rows:
            self._saving[r["digest"]] = r
        return rows

    def saved(self, rows: list[dict[str, Any]], error: BaseException | None = None) -> None:
        """``rows`` (from ``take``) are committed, or failed to be with ``error``: their savers go on."""
        for r in rows:
            d = r["digest"]
            if self._saving.get(d) is r:
                del self._saving[d]
            for f in self._durable.pop(d, ()):
                if f.done():
                    continue
                if error is None:
                    f.set_result(None)
                elif isinstance(error, asyncio.CancelledError):
                    f.cancel()
                else:
                    f.set_exception(error)

    async def discard(self, digest: str) -> None:
        """Take this run's answer to ``digest`` out of the cache again (an unreadable answer: asked afresh next time)."""
        self._pending.pop(digest, None)
        self._saving.pop(digest, None)
        if self._journal is not None:
            self._journal.discard(digest, self.run_id)
        await asyncio.to_thread(self.ledger.cache_discard, digest, self.run_id)

    async def flush(self) -> None:
        rows = self.take()
        if rows:
            try:
                await asyncio.to_thread(self.ledger.cache_put_many, rows, run_id=self.run_id)
            except BaseException as e:
                self.saved(rows, e)
                raise
            self.saved(rows)
        if self._committer is not None:
            await asyncio.wait([self._committer])
