"""How a model call fails: per unit (recorded, counted) or for the whole run (abort)."""

from __future__ import annotations

from assay.errors import AssayError


class ProviderError(Exception):
    """A call that failed for this request only (after retries, or a 400): stored with its unit.

    ``kind`` is one of: rate_limit, server, timeout, connection, malformed, bad_request,
    content_filter, http_<status>.
    """

    def __init__(self, kind: str, message: str, *, attempts: int = 1) -> None:
        self.kind = kind
        self.message = message
        self.attempts = attempts
        super().__init__(message)

    def __reduce__(self) -> tuple:  # survives pickling (a Ray worker sends it to the driver)
        return _rebuild, (type(self), (self.kind, self.message), {"attempts": self.attempts})


class ProviderFatal(AssayError):
    """A call that no request can succeed after (wrong base URL, key or model): the run stops.

    ``kind`` is one of: unreachable, auth, not_found, no_key.
    """

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)

    def __reduce__(self) -> tuple:
        return _rebuild, (type(self), (self.kind, str(self)), {})


def _rebuild(cls: type, args: tuple, kwargs: dict) -> Exception:
    return cls(*args, **kwargs)
