"""Blocking entry points to async provider code, usable whether or not an event loop is running."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """The result of the coroutine ``make()``: ``asyncio.run`` here, or in a worker thread when a loop runs.

    ``asyncio.run`` refuses inside a running loop (a notebook, an async web handler, an agent
    framework), so there the coroutine gets its own loop in a fresh thread; the caller blocks
    until it ends, as it would outside a loop. ``make`` is called in the thread that runs it,
    so no coroutine is created on one loop and awaited on another.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="assay-sync") as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
