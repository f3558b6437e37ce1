"""What a run will spend, known before its first call: calls, estimated tokens and, where priced, dollars.

The counts come from the store: units the run's ledger already holds as done are left
out, and so are calls whose request the request cache already answers (looked up by
digest, without reading the answers). The tokens are estimates:

- a prompt's tokens are its characters divided by ``CHARS_PER_TOKEN`` (4, OpenAI's rule
  of thumb for English text with its tokenizers: "one token is about 4 characters");
- a completion's tokens are the call's ``max_tokens`` (the request's, else the model's
  default parameter), else ``DEFAULT_COMPLETION_TOKENS`` (256): a ceiling per call more
  than a forecast, since answers often stop earlier.

The cost is ``(prompt tokens x input price + completion tokens x output price) / 1e6``
per model, the formula the provider client uses for what a call did cost; a model
without a price is listed as such, not counted as free.

    plan = plan_task(store, task, task.planned_calls)
    plan.calls, plan.prompt_tokens, plan.cost_usd, plan.unpriced
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assay import records as R

if TYPE_CHECKING:
    from assay.store import Store

CHARS_PER_TOKEN = 4
DEFAULT_COMPLETION_TOKENS = 256


def prompt_chars(messages: Sequence[dict[str, Any]]) -> int:
    """Characters of a chat request's message contents (text parts of multi-part contents too)."""
    n = 0
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            n += len(content)
        elif isinstance(content, list):
            n += sum(len(str(p.get("text", ""))) for p in content if isinstance(p, dict))
    return n


def completion_ceiling(params: dict[str, Any], model: R.Model) -> int:
    """The completion tokens a call may use: its ``max_tokens``, the model's default, else 256."""
    for source in (params, model.params):
        for key in ("max_tokens", "max_completion_tokens"):
            if source.get(key):
                return int(source[key])
    return DEFAULT_COMPLETION_TOKENS


@dataclass(frozen=True)
class Call:
    """One model call a run will make: to which model, how long its prompt, how long its answer may be."""

    model: R.Model
    prompt_chars: int
    max_tokens: int = DEFAULT_COMPLETION_TOKENS
    digest: str | None = None
    """The request's cache key, when the run answers from the cache (None: it does not)."""

    @classmethod
    def of(cls, client: Any, messages: list[dict[str, Any]], *, sample_index: int = 0,
           params: dict[str, Any] | None = None) -> Call:
        """The call ``client.complete(messages, sample_index=..., **params)`` would make."""
        params = {k: v for k, v in (params or {}).items() if v is not None}
        digest = None
        cache = getattr(client, "cache", None)
        if cache is not None and not getattr(cache, "own_run", False) and hasattr(client, "request_digest"):
            digest = client.request_digest(messages, sample_index=sample_index, **params)
        return cls(client.model, prompt_chars(messages), completion_ceiling(params, client.model), digest)


@dataclass
class ModelUse:
    """What a plan sends to one model."""

    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    price_in: float | None = None
    price_out: float | None = None

    @property
    def cost_usd(self) -> float | None:
        """Estimated dollars; None when the model has no price."""
        if self.price_in is None and self.price_out is None:
            return None
        return (self.prompt_tokens * (self.price_in or 0.0) + self.completion_tokens * (self.price_out or 0.0)) / 1e6


@dataclass
class Plan:
    """The calls one command will make, before it makes any (``merge`` adds up several runs)."""

    units: int = 0
    """Units of the run(s)."""
    done: int = 0
    """Units already finished by an earlier invocation (skipped)."""
    at_most: bool = False
    """The counts are ceilings (an attack that stops early makes fewer calls)."""
    models: dict[str, ModelUse] = field(default_factory=dict)

    def add(self, call: Call, *, cached: bool = False, times: int = 1) -> None:
        use = self.models.get(call.model.id)
        if use is None:
            use = self.models[call.model.id] = ModelUse(
                price_in=call.model.price_input_per_mtok, price_out=call.model.price_output_per_mtok)
        if cached:
            use.cached += times
            return
        use.calls += times
        use.prompt_tokens += times * math.ceil(call.prompt_chars / CHARS_PER_TOKEN)
        use.completion_tokens += times * call.max_tokens

    def merge(self, other: Plan) -> Plan:
        out = Plan(self.units + other.units, self.done + other.done, self.at_most or other.at_most)
        for plan in (self, other):
            for model, u in plan.models.items():
                mine = out.models.setdefault(model, ModelUse(price_in=u.price_in, price_out=u.price_out))
                mine.calls += u.calls
                mine.cached += u.cached
                mine.prompt_tokens += u.prompt_tokens
                mine.completion_tokens += u.completion_tokens
        return out

    @property
    def calls(self) -> int:
        return sum(u.calls for u in self.models.values())

    @property
    def cached(self) -> int:
        return sum(u.cached for u in self.models.values())

    @property
    def prompt_tokens(self) -> int:
        return sum(u.prompt_tokens for u in self.models.values())

    @property
    def completion_tokens(self) -> int:
        return sum(u.completion_tokens for u in self.models.values())

    @property
    def cost_usd(self) -> float | None:
        """Estimated dollars over the priced models; None when no model called has a price."""
        costs = [u.cost_usd for u in self.models.values() if u.calls and u.cost_usd is not None]
        return sum(costs) if costs else None

    @property
    def unpriced(self) -> list[str]:
        """Models this plan calls that have no price."""
        return sorted(m for m, u in self.models.items() if u.calls and u.cost_usd is None)

    def as_dict(self) -> dict[str, Any]:
        return {"units": self.units, "done": self.done, "calls": self.calls, "cached": self.cached,
                "at_most": self.at_most, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "cost_usd": self.cost_usd, "unpriced": self.unpriced,
                "chars_per_token": CHARS_PER_TOKEN,
                "models": {m: {"calls": u.calls, "cached": u.cached, "prompt_tokens": u.prompt_tokens,
                               "completion_tokens": u.completion_tokens, "cost_usd": u.cost_usd}
                           for m, u in sorted(self.models.items())}}


def plan_calls(store: Store, calls: Iterable[Call], *, units: int = 0, done: int = 0, at_most: bool = False,
               times: int = 1) -> Plan:
    """A Plan of these calls (each ``times`` times), those the request cache answers counted apart."""
    from assay.store.ledger import Ledger

    calls = list(calls)
    digests = [c.digest for c in calls if c.digest is not None]
    cached = Ledger(store).cached_digests(digests) if digests else set()
    plan = Plan(units=units, done=done, at_most=at_most)
    for c in calls:
        plan.add(c, cached=c.digest in cached, times=times)
    return plan


def plan_task(store: Store, task: Any, calls_of: Callable[[Any], list[Call]]) -> Plan:
    """The Plan of a run Task: ``calls_of(unit)`` for each unit its ledger does not hold as done."""
    from assay.runs._executor import run_id_for
    from assay.store.ledger import Ledger

    run_id = getattr(task, "run_id", None) or run_id_for(task.kind, task.config())
    units = list(task.units())
    done = Ledger(store).done_keys(run_id)
    todo = [u for u in units if u.key not in done]
    return plan_calls(store, [c for u in todo for c in calls_of(u)], units=len(units), done=len(units) - len(todo))
