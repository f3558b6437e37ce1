"""Rate limits for one model: requests and tokens per minute (token buckets), and a pause on 429."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """Allow ``per_minute`` units a minute, in bursts of at most ``burst_s`` seconds' worth.

    A request larger than the bucket waits for a full bucket and then leaves it in debt,
    so big requests are not starved and the average rate still holds.
    """

    def __init__(self, per_minute: float, *, burst_s: float = 1.0) -> None:
        if per_minute <= 0:
            raise ValueError("a rate limit must be positive")
        self.rate = per_minute / 60.0
        self.capacity = max(self.rate * burst_s, 1.0)
        self.tokens = self.capacity
        self._t = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self._t) * self.rate)
        self._t = now

    async def acquire(self, n: float = 1.0) -> None:
        async with self._lock:  # first come, first served
            need = min(n, self.capacity)
            while True:
                self._refill()
                if self.tokens >= need:
                    self.tokens -= n
                    return
                await asyncio.sleep((need - self.tokens) / self.rate)

    def settle(self, extra: float) -> None:
        """Charge (or refund, if negative) the difference between estimated and actual use."""
        self._refill()
        self.tokens = min(self.capacity, self.tokens - extra)


class Limits:
    """Everything that gates one model's requests: concurrency, RPM, TPM, and 429 pauses."""

    def __init__(self, *, concurrency: int = 16, rpm: float | None = None, tpm: float | None = None) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self.slots = asyncio.Semaphore(concurrency)
        self.requests = TokenBucket(rpm) if rpm else None
        self.tokens = TokenBucket(tpm) if tpm else None
        self._resume_at = 0.0

    def pause(self, seconds: float) -> None:
        """Hold back every new request of this model for ``seconds`` (a 429 with Retry-After)."""
        self._resume_at = max(self._resume_at, time.monotonic() + seconds)

    async def paused(self) -> None:
        """Wait out a pause (checked again once a slot is held: the pause may be newer)."""
        wait = self._resume_at - time.monotonic()
        while wait > 0:
            await asyncio.sleep(wait)
            wait = self._resume_at - time.monotonic()

    async def admit(self, est_tokens: float) -> None:
        await self.paused()
        if self.requests is not None:
            await self.requests.acquire(1)
        if self.tokens is not None:
            await self.tokens.acquire(est_tokens)


_SHARED: dict[int, tuple[asyncio.AbstractEventLoop, dict[tuple, Limits]]] = {}


def shared_limits(key: tuple, *, concurrency: int, rpm: float | None, tpm: float | None) -> Limits:
    """The Limits of ``key`` (model, base URL) in the running event loop, made on first use.

    Every client of one model in one loop (a judge panel, generation beside judging) shares
    one concurrency limit, one RPM and one TPM budget; the first client's settings win.
    """
    loop = asyncio.get_running_loop()
    for k in [k for k, (lp, _) in _SHARED.items() if lp.is_closed()]:
        del _SHARED[k]
    _, per_loop = _SHARED.setdefault(id(loop), (loop, {}))
    lim = per_loop.get(key)
    if lim is None:
        lim = per_loop[key] = Limits(concurrency=concurrency, rpm=rpm, tpm=tpm)
    return lim
