"""The request cache as the async client sees it: batched look-ups, buffered writes.

Look-ups made in the same moment go to the store as one ``IN (...)`` query in a worker
thread, so the event loop never waits on SQL. New entries are buffered; a run's writer
takes them (``take``) and commits them with the results of the same batch, and a
client used on its own writes them on ``flush`` / close.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from assay.store.ledger import Ledger

if TYPE_CHECKING:
    from assay.store import Store


class RequestCache:
    """Responses of earlier calls, keyed by the digest of their full request."""

    def __init__(self, store: Store) -> None:
        self.ledger = Ledger(store)
        self._pending: dict[str, dict[str, Any]] = {}
        self._waiting: dict[str, list[asyncio.Future]] = {}
        self._busy = False
        self.hits = 0
        self.misses = 0

    async def get(self, digest: str) -> Any | None:
        """The cached response for ``digest``, or None."""
        row = self._pending.get(digest)
        if row is not None:
            self.hits += 1
            return row["response"]
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
            found = await asyncio.to_thread(self.ledger.cache_get_many, list(batch))
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

    def take(self) -> list[dict[str, Any]]:
        """Hand over the buffered entries (to be written in the caller's transaction)."""
        rows = list(self._pending.values())
        self._pending = {}
        return rows

    async def flush(self) -> None:
        rows = self.take()
        if rows:
            await asyncio.to_thread(self.ledger.cache_put_many, rows)
