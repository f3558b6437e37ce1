"""The settings one command's model work shares: which endpoint and how to call it, and how to execute."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from assay.runs import Plan, RunProgress


@dataclass(frozen=True)
class Endpoint:
    """Where model calls go and how each is made: address, key, request parameters, limits, retries, cache.

    Every field has the default the jobs had before they took a session; ``None`` for a
    model parameter means "the job's own default" (a pairwise judge asks at temperature 0).
    The same endpoint serves every model a command calls (target, judges, attacker), each
    model keeping its stored base URL and key variable where the endpoint gives none.
    """

    base_url: str | None = None
    """The OpenAI-compatible server's URL; None: each model's stored one."""
    api_key_env: str | None = None
    """The environment variable the API key is read from; None: the model's, else ``OPENAI_API_KEY``."""
    temperature: float | None = None
    max_tokens: int | None = None
    rpm: float | None = None
    """Requests per minute allowed to each model (None: no limit)."""
    tpm: float | None = None
    """Tokens per minute allowed to each model (None: no limit)."""
    timeout: float = 120.0
    """Seconds one HTTP request may take."""
    max_retries: int = 6
    backoff_base: float = 1.0
    """First wait, in seconds, before retrying a failed request (doubling each time, with jitter)."""
    cache: Literal["on", "own-run"] = "on"
    """``on``: answers of earlier runs are reused; ``own-run``: only the run's own (``--no-cache``)."""
    price_in: float | None = None
    """USD per million prompt tokens, overriding the model's stored price."""
    price_out: float | None = None
    """USD per million completion tokens, overriding the model's stored price."""
    structured: str = "auto"
    """Whether judges ask for structured outputs: ``auto``, ``on`` or ``off`` (see ``OpenAIChat``)."""
    stream: bool = False
    """Ask for streamed answers (generation stores time to first token); not part of a run's identity."""

    @property
    def no_cache(self) -> bool:
        """Whether answers of other runs are left unread (``cache == "own-run"``)."""
        return self.cache == "own-run"

    def limits(self) -> dict[str, Any]:
        """The client settings every job passes to its provider: rate limits, timeout, retries."""
        return {"rpm": self.rpm, "tpm": self.tpm, "timeout": self.timeout, "max_retries": self.max_retries,
                "backoff_base": self.backoff_base}


@dataclass(frozen=True)
class Execution:
    """How a command's runs execute: which executor, how many calls at once, and who hears about progress."""

    executor: str = "local"
    """``local`` (asyncio, one process) or ``ray`` (``pip install 'assay[ray]'``)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """The executor's own options: ``num_workers``, ``address``, ``chunk_size`` (Ray), ``lease_seconds``."""
    concurrency: int | None = None
    """Model calls in flight per model; None: the job's default (16 for generation, 8 for judging...)."""
    on_progress: Callable[[RunProgress], None] | None = None
    """Called after every finished unit with the run's counters."""
    on_start: Callable[[str, int], None] | None = None
    """Called with the run id and its number of units once the run is about to start."""
    on_plan: Callable[[Plan], None] | None = None
    """Sees what a run will spend (``assay.runs.plan``) before anything is stored or sent; raising stops it."""
