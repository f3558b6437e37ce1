"""Model clients: OpenAI-compatible chat (async), rate limits, retries, request cache, cost.

    from assay.providers import make_provider, RequestCache
    client = make_provider(model, concurrency=32, rpm=600, cache=RequestCache(store))
    c = await client.complete([{"role": "user", "content": "Hi"}], sample_index=0, temperature=0)
    c.text, c.prompt_tokens, c.cost_usd, c.cached, c.logprobs

Per-unit failures raise ProviderError (kind + message, after bounded retries); a wrong
base URL, key or model raises ProviderFatal, which stops a run at once.
"""

from assay.providers._cache import RequestCache
from assay.providers._errors import ProviderError, ProviderFatal
from assay.providers._limits import Limits, TokenBucket
from assay.providers._openai import ClientSettings, Completion, OpenAIChat, request_digest
from assay.providers._registry import make_provider, provider, providers
from assay.providers._sync import run_sync

__all__ = [
    "ClientSettings",
    "Completion",
    "Limits",
    "OpenAIChat",
    "ProviderError",
    "ProviderFatal",
    "RequestCache",
    "TokenBucket",
    "make_provider",
    "provider",
    "providers",
    "request_digest",
    "run_sync",
]
