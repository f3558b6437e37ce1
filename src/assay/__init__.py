"""assay: a workbench for evaluating LLM responses.

Judges (LLM and program), human rating, agreement, rankings, A/B tests and
preference-data exports over one store. Heavy modules load on first use, so
``import assay`` stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Store", "__version__", "open_store"]


def open_store(url: str | None = None):  # noqa: ANN201
    """Open (and create or migrate) the store at ``url``, ``ASSAY_DATABASE_URL`` or ``./assay.db``."""
    from assay.store import Store

    return Store(url)


def __getattr__(name: str):  # noqa: ANN202
    if name == "Store":
        from assay.store import Store

        return Store
    raise AttributeError(name)
